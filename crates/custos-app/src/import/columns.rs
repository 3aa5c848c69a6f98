//! The columns an import knows: the built-in targets with their headers, the columns of a
//! rejected-rows report, and the template's help row. Mapping reads them and the reports
//! write them, so they sit below both.

use crate::fields::FieldDefinition;

/// Built-in targets with the headers recognised for each (first = template header).
pub const BUILTIN_COLUMNS: &[(&str, &[&str])] = &[
    (
        "customer_type",
        &["客户类型", "类型", "customer_type", "type"],
    ),
    (
        "name",
        &[
            "客户名称",
            "名称",
            "公司名称",
            "企业名称",
            "客户名",
            "单位名称",
            "姓名",
            "name",
            "customer_name",
        ],
    ),
    ("short_name", &["客户简称", "简称", "short_name"]),
    ("former_names", &["曾用名", "former_names", "former_name"]),
    (
        "uscc",
        &[
            "统一社会信用代码",
            "社会信用代码",
            "信用代码",
            "uscc",
            "credit_code",
        ],
    ),
    (
        "id_number",
        &[
            "身份证号",
            "身份证号码",
            "身份证",
            "证件号码",
            "id_number",
            "id_card",
        ],
    ),
    (
        "legal_representative",
        &["法定代表人", "法人代表", "法人", "legal_representative"],
    ),
    (
        "established_on",
        &["成立日期", "成立时间", "注册日期", "established_on"],
    ),
    (
        "registered_capital",
        &[
            "注册资本(万元)",
            "注册资本",
            "注册资金",
            "registered_capital",
        ],
    ),
    ("industry", &["所属行业", "行业", "行业代码", "industry"]),
    ("scale", &["企业规模", "规模", "scale"]),
    ("level", &["客户等级", "客户级别", "等级", "level"]),
    ("source", &["客户来源", "来源", "source"]),
    (
        "region_code",
        &[
            "地区",
            "所在地区",
            "行政区划代码",
            "行政区划",
            "地区代码",
            "region",
            "region_code",
        ],
    ),
    (
        "address",
        &["地址", "详细地址", "注册地址", "联系地址", "address"],
    ),
    ("postal_code", &["邮政编码", "邮编", "postal_code", "zip"]),
    (
        "phone",
        &["联系电话", "电话", "固定电话", "座机", "phone", "tel"],
    ),
    ("mobile", &["手机", "手机号", "手机号码", "mobile"]),
    (
        "email",
        &["电子邮箱", "邮箱", "电子邮件", "email", "e-mail"],
    ),
    ("website", &["网址", "网站", "官网", "website"]),
    ("owner_id", &["负责人id", "负责人编号", "owner_id"]),
    ("department_id", &["部门id", "部门编号", "department_id"]),
    ("status", &["客户状态", "状态", "status"]),
    ("tags", &["标签", "tags"]),
    ("credit_rating", &["信用等级", "信用评级", "credit_rating"]),
    ("remarks", &["备注", "remarks", "remark", "note"]),
    ("contact.name", &["联系人", "联系人姓名", "contact_name"]),
    ("contact.title", &["联系人职务", "职务", "contact_title"]),
    ("contact.mobile", &["联系人手机", "contact_mobile"]),
    ("contact.phone", &["联系人电话", "contact_phone"]),
    ("contact.email", &["联系人邮箱", "contact_email"]),
    ("code", &["客户编码", "编码", "code"]),
    (
        "source_id",
        &[
            "原系统编号",
            "来源系统编号",
            "原编号",
            "外部编号",
            "source_id",
            "external_id",
        ],
    ),
    ("source_system", &["来源系统", "原系统", "source_system"]),
];

/// Prefix of the reason columns of a rejected-rows report; ignored on re-import.
pub const REASON_PREFIX: &str = "错误:";
/// First column of a rejected-rows report; ignored on re-import.
pub const ROW_COLUMN: &str = "原行号";
/// Column name in reports for failures of a row as a whole (field `row`): a cell without
/// a header, a permission or database refusal.
pub const WHOLE_ROW: &str = "整行";

/// Help texts of the template's second row, by target; other built-in columns show
/// their key, custom fields their English label.
const TEMPLATE_HELP: &[(&str, &str)] = &[
    ("customer_type", "必填；企业客户/个人客户"),
    ("name", "必填；企业全称或个人姓名"),
    ("uscc", "企业必填其一：18 位统一社会信用代码"),
    ("id_number", "个人：18 位身份证号"),
    ("established_on", "YYYY-MM-DD"),
    ("registered_capital", "数字，单位万元"),
    ("industry", "GB/T 4754 门类字母或大类代码"),
    (
        "region_code",
        "6 位行政区划代码或名称，如 440305 / 广东省深圳市南山区",
    ),
    ("mobile", "11 位手机号"),
    ("tags", "多个用 ；分隔"),
    ("code", "留空自动编码"),
];

/// Built-in columns the template leaves out (set by the system or by other means).
pub(super) const TEMPLATE_LEFT_OUT: &[&str] = &[
    "owner_id",
    "department_id",
    "source_id",
    "source_system",
    "code",
];

pub(super) fn builtin_help(target: &str) -> &str {
    TEMPLATE_HELP
        .iter()
        .find(|(t, _)| *t == target)
        .map(|(_, h)| *h)
        .unwrap_or(target)
}

/// What the template writes in its help row under a column mapped to `target`; `None`
/// for a column the template does not have.
pub(super) fn template_help<'a>(target: &'a str, custom: &'a [FieldDefinition]) -> Option<&'a str> {
    if let Some(k) = target.strip_prefix("custom.") {
        return custom
            .iter()
            .find(|d| d.key == k)
            .map(|d| d.label_en.as_str());
    }
    let builtin = BUILTIN_COLUMNS.iter().any(|(t, _)| *t == target);
    (builtin && !TEMPLATE_LEFT_OUT.contains(&target)).then(|| builtin_help(target))
}
