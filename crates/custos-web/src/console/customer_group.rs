//! The 集团 tab of a customer's page: its group from the root down (the use case
//! `Overview::customer_group`), indented by level, with order totals and roll-ups for a
//! reader allowed to see them; and the form that sets or clears the customer's parent
//! (`Overview::set_parent`), its error shown beside the input with the value kept.

use custos_app::hierarchy::GroupView;
use custos_app::terms::{term_or_code, Terms};

use custos_core::violation::Lang;

use super::session::encode_component;

/// One member as the tab lists it.
pub(crate) struct GroupRow {
    pub code: String,
    pub code_path: String,
    pub name: String,
    /// Indent in levels below the root.
    pub depth: usize,
    pub relation: String,
    pub status: String,
    pub own: String,
    pub rollup: String,
    pub current: bool,
}

/// The tab.
pub(crate) struct GroupPart {
    pub rows: Vec<GroupRow>,
    pub hidden: usize,
    pub truncated: bool,
    pub with_totals: bool,
    /// The parent form: shown to a writer; its value and error.
    pub form: bool,
    pub parent_code: String,
    pub relation: String,
    pub error: Option<String>,
}

fn relation_word(relation: Option<&str>, lang: Lang) -> String {
    match (relation, lang) {
        (Some("subsidiary"), Lang::Zh) => "子公司".into(),
        (Some("subsidiary"), Lang::En) => "Subsidiary".into(),
        (Some("branch"), Lang::Zh) => "分支机构".into(),
        (Some("branch"), Lang::En) => "Branch".into(),
        (Some(other), _) => other.into(),
        (None, Lang::Zh) => "集团".into(),
        (None, Lang::En) => "Group".into(),
    }
}

pub(crate) fn group_part(g: GroupView, form: bool, lang: Lang) -> GroupPart {
    let with_totals = g.members.iter().any(|m| m.rollup.is_some());
    let me = g.members.iter().find(|m| m.code == g.customer_code);
    let parent_code = me.and_then(|m| m.parent_code.clone()).unwrap_or_default();
    let relation = me
        .and_then(|m| m.relation.clone())
        .unwrap_or_else(|| "subsidiary".into());
    let alone = g.members.len() <= 1 && g.hidden_members == 0;
    GroupPart {
        rows: match alone {
            true => Vec::new(),
            false => g
                .members
                .iter()
                .map(|m| GroupRow {
                    code: m.code.clone(),
                    code_path: encode_component(&m.code),
                    name: m.name.clone(),
                    depth: m.depth,
                    relation: relation_word(m.relation.as_deref(), lang),
                    status: term_or_code(Terms::CustomerStatus, &m.status, lang),
                    own: m
                        .orders
                        .as_ref()
                        .map(|o| o.lifetime_amount.clone())
                        .unwrap_or_default(),
                    rollup: m
                        .rollup
                        .as_ref()
                        .map(|o| o.lifetime_amount.clone())
                        .unwrap_or_default(),
                    current: m.code == g.customer_code,
                })
                .collect(),
        },
        hidden: g.hidden_members,
        truncated: g.truncated,
        with_totals,
        form,
        parent_code,
        relation,
        error: None,
    }
}
