//! Standard fields (标准字段): catalog fields most companies want beside the built-in ones
//! — invoicing details (开票信息), an organisation's registered and office addresses, a
//! credit limit, intent (意向程度) and product needs (产品需求) — offered as custom fields
//! an administrator adds in one step and may then edit or leave out like any other. Each
//! is validated, kept in history, searchable as `custom.<key>`, imported and exported as
//! the catalog says. Custom fields are not encrypted, so none of them is meant for
//! personal data: a person's address stays in the built-in `address` field.

use crate::fields::Fields;
use serde::Serialize;

use crate::error::AppResult;
use crate::fields::{FieldDefinition, FieldType};
use crate::Actor;

/// Keys added by [`App::add_standard_fields`], and those already defined.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StandardFieldsAdded {
    pub added: Vec<String>,
    pub already_defined: Vec<String>,
}

struct Spec {
    key: &'static str,
    zh: &'static str,
    en: &'static str,
    field_type: FieldType,
    max_length: Option<usize>,
    pattern: Option<&'static str>,
    values: &'static [&'static str],
    range: Option<(f64, f64)>,
    multiline: bool,
    pii: bool,
    help: (&'static str, &'static str),
}

const fn text(key: &'static str, zh: &'static str, en: &'static str, len: usize) -> Spec {
    Spec {
        key,
        zh,
        en,
        field_type: FieldType::Text,
        max_length: Some(len),
        pattern: None,
        values: &[],
        range: None,
        multiline: false,
        pii: false,
        help: ("", ""),
    }
}

/// The standard fields, in the order the form shows them.
fn specs() -> Vec<Spec> {
    vec![
        Spec {
            field_type: FieldType::SingleSelect,
            max_length: None,
            values: &["高", "中", "低"],
            help: ("客户的合作意向", "how likely the customer is to buy"),
            ..text("intent", "意向程度", "Intent", 0)
        },
        Spec {
            field_type: FieldType::MultiSelect,
            max_length: None,
            values: &[
                "硬件设备",
                "软件产品",
                "云服务",
                "实施服务",
                "运维服务",
                "培训咨询",
            ],
            help: (
                "可多选；选项在字段目录中按贵司产品修改",
                "several allowed; edit the options in the field catalog",
            ),
            ..text("product_needs", "产品需求", "Product needs", 0)
        },
        Spec {
            field_type: FieldType::Number,
            max_length: None,
            range: Some((0.0, 100_000_000_000.0)),
            help: ("元，0 – 1000 亿", "CNY, 0 – 100 billion"),
            ..text("credit_limit", "信用额度（元）", "Credit limit (CNY)", 0)
        },
        Spec {
            help: ("与营业执照上的名称一致", "as on the business licence"),
            ..text("invoice_title", "开票抬头", "Invoice title", 200)
        },
        Spec {
            pattern: Some("[0-9A-Z]{15,20}"),
            help: (
                "统一社会信用代码或 15–20 位税号，大写字母与数字",
                "USCC or a 15–20 character tax number, capitals and digits",
            ),
            ..text("invoice_tax_number", "纳税人识别号", "Taxpayer number", 20)
        },
        text("invoice_bank", "开户银行", "Bank", 100),
        Spec {
            pattern: Some("[0-9]{6,32}"),
            help: ("6–32 位数字", "6–32 digits"),
            ..text("invoice_account", "银行账号", "Bank account", 32)
        },
        text(
            "invoice_address_phone",
            "开票地址及电话",
            "Invoice address and phone",
            300,
        ),
        Spec {
            multiline: true,
            help: ("企业客户的注册地址", "an organisation's registered address"),
            ..text("registered_address", "注册地址", "Registered address", 300)
        },
        Spec {
            multiline: true,
            help: ("企业客户的办公地址", "an organisation's office address"),
            ..text("office_address", "办公地址", "Office address", 300)
        },
    ]
}

/// The standard fields as catalog definitions.
pub fn standard_fields() -> Vec<FieldDefinition> {
    specs()
        .into_iter()
        .map(|s| FieldDefinition {
            key: s.key.into(),
            label_zh: s.zh.into(),
            label_en: s.en.into(),
            field_type: s.field_type,
            max_length: s.max_length,
            multiline: s.multiline,
            pattern: s.pattern.map(Into::into),
            allowed_values: s.values.iter().map(|v| v.to_string()).collect(),
            min: s.range.map(|r| r.0),
            max: s.range.map(|r| r.1),
            required_for: Vec::new(),
            pii: s.pii,
            major: false,
            help_zh: Some(s.help.0.to_string()).filter(|h| !h.is_empty()),
            help_en: Some(s.help.1.to_string()).filter(|h| !h.is_empty()),
            builtin: false,
        })
        .collect()
}

impl Fields<'_> {
    /// Add every standard field the catalog does not define yet (`field.manage`); each
    /// addition is audited as `field.put`. A key already in use is left as it is.
    pub async fn add_standard_fields(&self, actor: &Actor) -> AppResult<StandardFieldsAdded> {
        actor.require("field.manage")?;
        let defined: Vec<String> = self
            .field_catalog(actor)
            .await?
            .fields
            .into_iter()
            .map(|f| f.key)
            .collect();
        let mut out = StandardFieldsAdded {
            added: Vec::new(),
            already_defined: Vec::new(),
        };
        for def in standard_fields() {
            if defined.contains(&def.key) {
                out.already_defined.push(def.key);
                continue;
            }
            let key = def.key.clone();
            self.add_field(actor, def).await?;
            out.added.push(key);
        }
        Ok(out)
    }
}
