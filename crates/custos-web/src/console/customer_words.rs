//! The words of the customer pages (detail, form, duplicate hints) and what they share:
//! duplicate candidates as rows to read, times in the configured zone.

use custos_app::duplicates::DuplicateReport;
use custos_app::terms::{term_or_code, Terms};
use custos_core::violation::Lang;

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
