//! A stored code rule read back: what it applies to, its segments, its versions. Issuing,
//! preview, validation and the rule administration all read rules so.

use serde::{Deserialize, Serialize};

use custos_core::code_rule::Segment;
use custos_store::{CodeRuleRow, Tx};

use crate::error::{AppError, AppResult};

/// Which customers a rule is for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppliesTo {
    /// Customer types this rule codes (empty = every type).
    #[serde(default)]
    pub customer_types: Vec<String>,
    /// Region code prefixes, e.g. `["11", "31"]` (empty = every region).
    #[serde(default)]
    pub region_prefixes: Vec<String>,
}

impl AppliesTo {
    pub(super) fn matches(&self, customer_type: &str, region: Option<&str>) -> bool {
        let type_ok = self.customer_types.is_empty()
            || self.customer_types.iter().any(|t| t == customer_type);
        let region_ok = self.region_prefixes.is_empty()
            || region.is_some_and(|r| {
                self.region_prefixes
                    .iter()
                    .any(|p| r.starts_with(p.as_str()))
            });
        type_ok && region_ok
    }

    /// Could one customer match both conditions?
    pub(super) fn overlaps(&self, other: &AppliesTo) -> bool {
        let types = self.customer_types.is_empty()
            || other.customer_types.is_empty()
            || self
                .customer_types
                .iter()
                .any(|t| other.customer_types.contains(t));
        let regions = self.region_prefixes.is_empty()
            || other.region_prefixes.is_empty()
            || self.region_prefixes.iter().any(|a| {
                other
                    .region_prefixes
                    .iter()
                    .any(|b| a.starts_with(b.as_str()) || b.starts_with(a.as_str()))
            });
        types && regions
    }
}

pub(crate) fn segments_of(r: &CodeRuleRow) -> AppResult<Vec<Segment>> {
    serde_json::from_str(&r.segments).map_err(|e| {
        AppError::Internal(format!(
            "stored rule {} v{} unreadable: {e}",
            r.key, r.version
        ))
    })
}

pub(super) fn applies_of(r: &CodeRuleRow) -> AppliesTo {
    serde_json::from_str(&r.applies_to).unwrap_or_default()
}

/// Every version of a rule, or 404 when the key names no rule.
pub(super) async fn existing_versions(tx: &mut Tx, key: &str) -> AppResult<Vec<CodeRuleRow>> {
    let versions = tx.code_rule_versions(key).await?;
    if versions.is_empty() {
        return Err(rule_not_found(key));
    }
    Ok(versions)
}

pub(super) fn rule_not_found(key: &str) -> AppError {
    AppError::not_found("code_rule", key)
}
