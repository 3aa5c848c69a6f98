//! The five dimensions of quality and how a rule key names one: what the rules and the
//! `[quality]` configuration both speak of, below either.

use serde::{Deserialize, Serialize};

/// The five dimensions of seed 002 §三(一).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// 完整性
    Completeness,
    /// 有效性
    Validity,
    /// 一致性
    Consistency,
    /// 及时性
    Timeliness,
    /// 唯一性
    Uniqueness,
}

impl Dimension {
    pub const ALL: [Dimension; 5] = [
        Dimension::Completeness,
        Dimension::Validity,
        Dimension::Consistency,
        Dimension::Timeliness,
        Dimension::Uniqueness,
    ];

    pub fn key(self) -> &'static str {
        match self {
            Dimension::Completeness => "completeness",
            Dimension::Validity => "validity",
            Dimension::Consistency => "consistency",
            Dimension::Timeliness => "timeliness",
            Dimension::Uniqueness => "uniqueness",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Dimension::Completeness => "完整性",
            Dimension::Validity => "有效性",
            Dimension::Consistency => "一致性",
            Dimension::Timeliness => "及时性",
            Dimension::Uniqueness => "唯一性",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Dimension::Completeness => "Completeness",
            Dimension::Validity => "Validity",
            Dimension::Consistency => "Consistency",
            Dimension::Timeliness => "Timeliness",
            Dimension::Uniqueness => "Uniqueness",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }

    pub fn of_rule(key: &str) -> Option<Dimension> {
        let first = key.split('.').next()?;
        Dimension::ALL.into_iter().find(|d| d.key() == first)
    }
}

/// Does the rule `key` fall under `selector` (the key itself, or a prefix ending at a dot:
/// `completeness.required` covers `completeness.required.uscc`)?
pub fn rule_matches(selector: &str, key: &str) -> bool {
    key == selector
        || key
            .strip_prefix(selector)
            .is_some_and(|rest| rest.starts_with('.'))
}
