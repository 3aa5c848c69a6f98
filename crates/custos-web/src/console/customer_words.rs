//! The words of the customer pages (detail, form, duplicate hints) and what they share:
//! duplicate candidates as rows to read, times in the configured zone.

use custos_app::duplicates::DuplicateReport;
use custos_app::terms::{term_or_code, Terms};
use custos_core::violation::Lang;

use super::i18n::Entry;

pub(crate) const CUSTOMER_WORDS: &[Entry] = &[
    ("cust.detail_title", "客户详情", "Customer"),
    ("cust.edit_title", "编辑客户", "Edit customer"),
    ("cust.code", "客户编码", "Code"),
    ("cust.tab.basic", "基本信息", "Details"),
    ("cust.tab.contacts", "联系人", "Contacts"),
    ("cust.tab.history", "变更记录", "History"),
    ("cust.tab.codes", "编码", "Code"),
    ("cust.tab.xrefs", "外部系统", "Other systems"),
    ("cust.tab.duplicates", "重复嫌疑", "Suspected duplicates"),
    ("cust.tab.timeline", "时间线", "Timeline"),
    ("cust.tab.overview", "概览", "Overview"),
    ("cust.ov_records", "交易与服务", "Business"),
    ("cust.ov_credit", "信用", "Credit"),
    ("cust.ov_contacts", "主联系人", "Primary contacts"),
    ("cust.ov_lineage", "合并与拆分记录", "Merges and splits"),
    ("cust.ov_none", "暂无", "None yet"),
    ("cust.timeline_all", "全部", "All"),
    ("cust.timeline_filter", "只看", "Show"),
    ("cust.timeline_empty", "没有符合条件的记录。", "Nothing of this kind."),
    ("cust.timeline_older", "更早的记录", "Older events"),
    ("cust.timeline_what", "事项", "What"),
    ("cust.timeline_detail", "内容", "Details"),
    ("cust.tabs", "客户信息分区", "Sections"),
    ("cust.actions", "操作", "Actions"),
    ("cust.edit", "编辑", "Edit"),
    ("cust.split", "拆分", "Split"),
    ("split.title", "拆分客户", "Split customer"),
    (
        "split.help",
        "一条记录混入了另一家客户的信息时，在这里把它拆出来：填写新客户的信息（按编码规则取得新编码），勾选随之转走的联系人，并选择原客户保留还是废止。需要拆成更多客户时，再拆一次。误合并的客户请在原客户“编码”页的合并记录中撤销合并。",
        "When a record mixes in another customer, split it out here: fill in the new customer (it gets a new code from the rules), tick the contacts that move to it and choose whether the original stays or is retired. To split into more customers, split again. A wrong merge is undone from the merge record on the survivor's Code tab.",
    ),
    (
        "split.applies",
        "你没有直接拆分的权限：提交后成为拆分申请，审批通过后生效。",
        "You may not split directly: the split becomes an application and takes effect once approved.",
    ),
    ("split.part", "拆出的新客户", "The new customer"),
    ("split.contacts", "转走的联系人", "Contacts that move"),
    ("split.contacts_help", "勾选属于新客户的联系人", "Tick the contacts that belong to the new customer"),
    ("split.no_contacts", "原客户没有联系人。", "The original has no contacts."),
    ("split.original", "原客户", "The original"),
    ("split.keep", "保留原客户及其编码", "keeps its code"),
    ("split.retire", "拆分后废止原客户", "is retired after the split"),
    ("split.submit", "拆分", "Split"),
    ("split.apply", "提交拆分申请", "Apply for the split"),
    ("cust.apply", "申请", "Apply:"),
    ("cust.created", "客户已创建，编码为", "Customer created with code"),
    ("cust.saved", "已保存。", "Saved."),
    ("cust.pii_heading", "个人信息与联系人", "Personal data and contacts"),
    ("cust.masked", "个人信息已脱敏", "Personal data masked"),
    ("cust.merged_into", "已合并至", "Merged into"),
    (
        "cust.merged_from",
        "以下客户已合并到本客户，其编码转到这里：",
        "This customer took in, and its code now leads here:",
    ),
    ("cust.merges", "合并记录", "Merges"),
    ("cust.merge_survivor", "保留的客户", "Surviving customer"),
    ("cust.merge_merged", "被合并的客户", "Merged customers"),
    ("cust.merge_undo", "撤销合并", "Undo merge"),
    ("cust.merge_undone", "已撤销", "Undone"),
    ("cust.owner", "负责人", "Owner"),
    ("cust.department", "所属部门", "Department"),
    ("cust.created_at", "创建时间", "Created"),
    ("cust.updated_at", "更新时间", "Updated"),
    ("cust.version", "版本", "Version"),
    ("cust.region", "所在地区", "Region"),
    ("cust.none", "无", "None"),
    ("cust.reveal", "查看", "Show"),
    ("cust.reveal_title", "查看完整个人信息", "Show personal data in full"),
    (
        "cust.reveal_help",
        "查看将记入操作日志，请说明原因（如：核实客户来电）。",
        "The read is kept in the audit log; say why (e.g. verifying a caller).",
    ),
    ("cust.reveal_reason", "查看原因", "Reason"),
    ("cust.revealed", "以下为完整个人信息，已记入操作日志。", "Shown in full; the read is in the audit log."),
    ("cust.contact_name", "姓名", "Name"),
    ("cust.contact_title", "职务", "Title"),
    ("cust.contact_primary", "主联系人", "Primary"),
    ("cust.no_contacts", "暂无联系人。", "No contacts."),
    ("cust.as_of", "查看某日的记录", "The record as of"),
    ("cust.as_of_date", "日期时间", "Date and time"),
    ("cust.as_of_show", "查看", "Show"),
    ("cust.as_of_heading", "当时的记录：", "The record as of"),
    ("cust.as_of_none", "当时客户尚未建立。", "The customer did not exist yet then."),
    ("cust.as_of_bad", "日期格式应为 YYYY-MM-DD 或 YYYY-MM-DDTHH:MM[:SS]。", "The date must be YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]."),
    ("cust.history_at", "时间", "Time"),
    ("cust.history_actor", "操作人", "By"),
    ("cust.history_action", "操作", "Action"),
    ("cust.history_reason", "原因", "Reason"),
    ("cust.history_changes", "变更内容", "Changes"),
    ("cust.no_history", "暂无变更记录。", "No history."),
    ("cust.code_rule", "编码规则", "Code rule"),
    ("cust.code_manual", "人工指定", "Assigned by hand"),
    ("cust.code_issued", "发放时间", "Issued"),
    ("cust.code_changes", "编码变更", "Code changes"),
    ("cust.code_old", "原编码", "Old code"),
    ("cust.code_new", "新编码", "New code"),
    ("cust.lineage", "合并与拆分", "Merges and splits"),
    ("cust.lineage_from", "来源", "From"),
    ("cust.lineage_to", "去向", "To"),
    ("cust.lineage_merge", "合并", "Merge"),
    ("cust.lineage_split", "拆分", "Split"),
    ("cust.no_lineage", "没有合并、拆分或编码变更。", "No merges, splits or code changes."),
    ("cust.xref_system", "外部系统", "System"),
    ("cust.xref_id", "外部编号", "Id there"),
    ("cust.no_xrefs", "暂无外部系统映射。", "No ids in other systems."),
    ("cust.dup_score", "相似度", "Score"),
    ("cust.dup_verdict", "判定", "Verdict"),
    ("cust.dup_evidence", "依据", "Evidence"),
    ("cust.dup_definite", "确定重复", "Definite"),
    ("cust.dup_possible", "疑似重复", "Possible"),
    ("cust.no_duplicates", "未发现重复嫌疑。", "No suspected duplicates."),
    (
        "cust.pii_withheld",
        "个人信息仅比较是否相同，不显示内容。",
        "Personal data was compared for equality only.",
    ),
    ("cust.hints_title", "可能重复的已有客户：", "Existing customers this may duplicate:"),
    ("cust.form_new_help", "标红星号的为当前客户类型的必填项。", "Fields marked with a red asterisk are required for the chosen type."),
    ("cust.pii_keep", "留空表示不修改", "leave empty to keep"),
    ("cust.reason", "修改原因", "Reason for the change"),
    ("cust.reason_help", "修改以下重要字段时必填：", "Required when changing:"),
    ("cust.override", "确认不是同一客户，仍然保存（须填写原因）", "Not the same customer: save anyway (give a reason)"),
    ("cust.blocked", "与以下已有客户疑似重复：", "This looks like these existing customers:"),
    ("cust.conflict", "您编辑期间该客户已被他人修改。以下为最新值；您填写的内容已保留，再次保存将覆盖。", "Someone changed this customer while you were editing. The newer values are below; yours are kept, and saving again overwrites."),
    ("cust.conflict_field", "字段", "Field"),
    ("cust.conflict_newer", "最新值", "Newer value"),
    ("cust.province", "省", "Province"),
    ("cust.city", "市", "City"),
    ("cust.county", "区县", "County"),
    ("cust.choose", "请选择", "Choose"),
    ("cust.list_help", "多个值用逗号分隔", "separate several values with commas"),
    ("cust.create", "创建客户", "Create customer"),
    ("cust.family_title", "可能的家庭成员（同住）", "Possible family members (same household)"),
    (
        "cust.family_help",
        "与这条记录共用电话或住址、但姓名（或身份证号）属于另一个人的客户：不是重复，不能合并。",
        "Customers sharing a phone or an address with this record whose name (or ID number) is another person's: not duplicates, never merged.",
    ),
    ("cust.family_reason", "依据", "Why"),
    ("cust.save", "保存修改", "Save changes"),
];

/// A duplicate candidate as a page shows it: business terms, the evidence in words.
pub(crate) struct DuplicateRow {
    pub code: String,
    /// The code as a path segment.
    pub path: String,
    pub name: String,
    pub customer_type: String,
    pub status: String,
    pub score: String,
    pub definite: bool,
    pub evidence: Vec<String>,
}

/// The candidates of a report, exactly as the use case gave them.
pub(crate) fn duplicate_rows(report: &DuplicateReport, lang: Lang) -> Vec<DuplicateRow> {
    rows_of(&report.candidates, lang, &[])
}

/// The possible family members of a report (同住): people sharing a phone or a flat with
/// the checked person, never merge proposals; the reason is the `household` evidence.
pub(crate) fn family_rows(report: &DuplicateReport, lang: Lang) -> Vec<DuplicateRow> {
    rows_of(&report.possible_family_members, lang, &["household"])
}

/// Rows of candidates, with the evidence that matched (and that of `fields`, whatever
/// its kind).
fn rows_of(
    candidates: &[custos_app::duplicates::DuplicateCandidate],
    lang: Lang,
    fields: &[&str],
) -> Vec<DuplicateRow> {
    candidates
        .iter()
        .map(|c| DuplicateRow {
            code: c.code.clone(),
            path: super::session::encode_component(&c.code),
            name: c.name.clone(),
            customer_type: term_or_code(Terms::CustomerType, &c.customer_type, lang),
            status: term_or_code(Terms::CustomerStatus, &c.status, lang),
            score: format!("{:.0}%", c.score * 100.0),
            definite: c.verdict == "definite",
            evidence: c
                .evidence
                .iter()
                .filter(|e| {
                    matches!(e.kind.as_str(), "same" | "similar" | "withheld")
                        || fields.contains(&e.field.as_str())
                })
                .map(|e| match lang {
                    Lang::Zh => e.detail_zh.clone(),
                    Lang::En => e.detail_en.clone(),
                })
                .collect(),
        })
        .collect()
}

/// What a history entry's action was, in words (an action not listed reads as itself).
pub(crate) fn history_action(action: &str, lang: Lang) -> String {
    const ACTIONS: &[(&str, &str, &str)] = &[
        ("create", "新建", "Created"),
        ("update", "修改", "Changed"),
        ("change_code", "编码变更", "Code changed"),
        ("retire", "废止", "Retired"),
        ("archive", "归档", "Archived"),
        ("reactivate", "恢复启用", "Reactivated"),
        ("merge", "合并", "Merged"),
        ("split", "拆分", "Split"),
        ("contact.add", "新增联系人", "Contact added"),
        ("contact.update", "修改联系人", "Contact changed"),
        ("contact.delete", "删除联系人", "Contact removed"),
    ];
    ACTIONS
        .iter()
        .find(|(a, _, _)| *a == action)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => zh.to_string(),
            Lang::En => en.to_string(),
        })
        .unwrap_or_else(|| action.to_string())
}

/// A contact in one line: name, title, mobile (or phone) as the record shows them
/// (masked unless revealed), and whether it is the primary one.
pub(crate) fn contact_line(c: &custos_app::customers::ContactView, lang: Lang) -> String {
    let mut parts = vec![c.name.clone()];
    parts.extend(c.title.clone());
    parts.extend(c.mobile.clone().or(c.phone.clone()));
    if c.is_primary {
        parts.push(match lang {
            Lang::Zh => "主联系人".into(),
            Lang::En => "primary".into(),
        });
    }
    parts.join(" · ")
}
