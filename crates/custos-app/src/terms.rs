//! Business terms for the codes custos stores: what a person reads instead of
//! `enterprise`, `small` or `in_review` — on console pages, in exports and reports. Machine
//! formats (the API, JSONL, `--json`) keep the codes. Customer types an administrator adds
//! carry their own names (`customer_types`); regions and industries have their catalogues
//! in `custos-core`.

use custos_core::violation::Lang;

/// `(code, 中文, English)`.
type Term = (&'static str, &'static str, &'static str);

const CUSTOMER_TYPES: &[Term] = &[
    ("enterprise", "企业客户", "Enterprise"),
    ("individual", "个人客户", "Individual"),
];

const APPLICATION_KINDS: &[Term] = &[
    ("create", "新增客户", "New customer"),
    ("change", "信息变更", "Change"),
    ("change_code", "编码变更", "Code change"),
    ("retire", "废止", "Retire"),
    ("reactivate", "恢复启用", "Reactivate"),
    ("merge", "合并", "Merge"),
    ("split", "拆分", "Split"),
    ("archive", "归档", "Archive"),
    ("retrieve", "调阅", "Retrieve"),
    ("grant_permission", "权限申请", "Permission grant"),
    ("publish_rule", "发布编码规则", "Publish code rule"),
];

const APPLICATION_STATES: &[Term] = &[
    ("draft", "草稿", "Draft"),
    ("submitted", "已提交", "Submitted"),
    ("in_review", "审批中", "In review"),
    ("returned", "已退回", "Returned"),
    ("approved", "已通过", "Approved"),
    ("rejected", "已驳回", "Rejected"),
    ("withdrawn", "已撤回", "Withdrawn"),
    ("failed", "执行失败", "Failed"),
];

const DECISIONS: &[Term] = &[
    ("approve", "同意", "Approve"),
    ("reject", "驳回", "Reject"),
    ("return", "退回修改", "Return"),
    ("delegate", "转交", "Delegate"),
];

const SCOPES: &[Term] = &[
    ("own", "本人", "Own"),
    ("department", "本部门", "Department"),
    ("all", "全部", "All"),
];

const ACTIVITY_KINDS: &[Term] = &[
    ("followup", "跟进记录", "Follow-up"),
    ("interaction", "互动", "Interaction"),
    ("service_record", "服务记录", "Service record"),
    ("contract", "合同", "Contract"),
    ("order", "订单", "Order"),
    ("payment", "回款", "Payment"),
    ("credit", "信用评级", "Credit rating"),
];

/// States of complaints (open → closed) and of contracts (draft → expired).
const ACTIVITY_STATES: &[Term] = &[
    ("open", "待处理", "Open"),
    ("in_progress", "处理中", "In progress"),
    ("resolved", "已解决", "Resolved"),
    ("closed", "已关闭", "Closed"),
    ("draft", "草稿", "Draft"),
    ("signed", "已签订", "Signed"),
    ("terminated", "已终止", "Terminated"),
    ("expired", "已到期", "Expired"),
];

/// Life-cycle stages (客户状态) derived from a customer's records.
const LIFECYCLE_STAGES: &[Term] = &[
    ("prospect", "潜在客户", "Prospect"),
    ("new", "新客户", "New"),
    ("repeat", "老客户", "Repeat"),
    ("dormant", "休眠客户", "Dormant"),
    ("lost", "流失客户", "Lost"),
];

/// Which list of codes a term comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Terms {
    CustomerType,
    CustomerStatus,
    Scale,
    ApplicationKind,
    ApplicationState,
    Decision,
    Scope,
    /// Kinds of business records (`followup`, `contract` …).
    ActivityKind,
    /// States of complaints and contracts.
    ActivityState,
    /// Life-cycle stages.
    LifecycleStage,
}

fn table(terms: Terms) -> &'static [Term] {
    match terms {
        Terms::CustomerType => CUSTOMER_TYPES,
        Terms::CustomerStatus => crate::customers::CustomerStatus::TERMS,
        Terms::Scale => crate::customers::Scale::TERMS,
        Terms::ApplicationKind => APPLICATION_KINDS,
        Terms::ApplicationState => APPLICATION_STATES,
        Terms::Decision => DECISIONS,
        Terms::Scope => SCOPES,
        Terms::ActivityKind => ACTIVITY_KINDS,
        Terms::ActivityState => ACTIVITY_STATES,
        Terms::LifecycleStage => LIFECYCLE_STAGES,
    }
}

/// The business term for `code`, or `None` for a code the list does not know (a
/// configured customer type, say: its name is in the database).
pub fn term(terms: Terms, code: &str, lang: Lang) -> Option<&'static str> {
    table(terms)
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, zh, en)| match lang {
            Lang::Zh => *zh,
            Lang::En => *en,
        })
}

/// The business term for `code`, or the code itself.
pub fn term_or_code(terms: Terms, code: &str, lang: Lang) -> String {
    term(terms, code, lang).unwrap_or(code).to_string()
}

/// Every `(code, term)` of a list, in its order (select lists).
pub fn choices(terms: Terms, lang: Lang) -> Vec<(&'static str, &'static str)> {
    table(terms)
        .iter()
        .map(|(c, zh, en)| {
            (
                *c,
                match lang {
                    Lang::Zh => *zh,
                    Lang::En => *en,
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_read_as_business_terms() {
        assert_eq!(
            term(Terms::CustomerType, "enterprise", Lang::Zh),
            Some("企业客户")
        );
        assert_eq!(term(Terms::Scale, "small", Lang::Zh), Some("小型"));
        assert_eq!(
            term(Terms::CustomerStatus, "active", Lang::Zh),
            Some("正常")
        );
        assert_eq!(
            term_or_code(Terms::CustomerType, "dealer", Lang::Zh),
            "dealer"
        );
    }

    /// Every status a customer can hold and every application kind has a term.
    #[test]
    fn the_lists_cover_what_custos_stores() {
        for s in crate::customers::CustomerStatus::ALL {
            assert!(
                term(Terms::CustomerStatus, s.as_str(), Lang::Zh).is_some(),
                "{s}"
            );
        }
        for k in crate::applications::kind_names() {
            assert!(term(Terms::ApplicationKind, k, Lang::Zh).is_some(), "{k}");
        }
        for k in crate::activities::timeline::LISTED_KINDS {
            assert!(term(Terms::ActivityKind, k, Lang::Zh).is_some(), "{k}");
        }
        for s in crate::applications::checks::closed_states() {
            assert!(term(Terms::ApplicationState, s, Lang::Zh).is_some(), "{s}");
        }
    }
}
