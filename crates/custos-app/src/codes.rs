//! Code rules (编码规则) and code issuing: versioned rules, applicability, drawing a code
//! inside the customer's transaction, manual codes, capacity, validation of codes.
//!
//! One file per responsibility: `rules` administers the versioned rules, `preview`
//! shows what a rule would issue and how full it is, `issuing` draws a code for a new
//! customer, `registry` records issued codes, `validation` checks a given code. This
//! file keeps what several of them share: applicability, stored rule text, the issue date,
//! the drawn code.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use custos_core::code_rule::{self, Segment};
use custos_store::{CodeRuleRow, Tx};

use crate::error::{AppError, AppResult};

mod designer;
mod issuing;
pub(crate) mod preview;
mod registry;
mod resolve;
mod rules;
mod validation;

pub use designer::{code_rule_templates, rule_as_new, RuleCheck, RuleOverview, RuleTemplate};
pub use issuing::CapacityWarning;
pub(crate) use issuing::{draw_code, PublishedRule};
pub use preview::{Capacity, Preview, SampleCustomer, ScopeCapacity};
pub(crate) use registry::{code_row, code_taken, register_code};
pub use resolve::ResolvedCode;
pub(crate) use rules::publish_code_rule_in;
pub use rules::{CodeRuleVersion, CodeRuleView, NewCodeRule};
pub use validation::{CodeMatch, CodeRegistryInfo, CodeValidation};

/// The code drawn for a new customer.
#[derive(Debug, Clone)]
pub struct DrawnCode {
    pub code: String,
    pub rule_key: String,
    pub rule_version: i64,
    pub scope: Option<String>,
    pub seq: Option<i64>,
    pub manual: bool,
}

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
    fn matches(&self, customer_type: &str, region: Option<&str>) -> bool {
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
    fn overlaps(&self, other: &AppliesTo) -> bool {
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

fn applies_of(r: &CodeRuleRow) -> AppliesTo {
    serde_json::from_str(&r.applies_to).unwrap_or_default()
}

/// The issue date in the configured time zone.
pub(crate) fn issue_date(tz: chrono_tz::Tz) -> NaiveDate {
    chrono::Utc::now().with_timezone(&tz).date_naive()
}

/// Every version of a rule, or 404 when the key names no rule.
async fn existing_versions(tx: &mut Tx, key: &str) -> AppResult<Vec<CodeRuleRow>> {
    let versions = tx.code_rule_versions(key).await?;
    if versions.is_empty() {
        return Err(rule_not_found(key));
    }
    Ok(versions)
}

fn rule_not_found(key: &str) -> AppError {
    AppError::not_found("code_rule", key)
}

fn random_text(width: u8) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; code_rule::crockford_bytes_needed(width)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    code_rule::crockford_from_bytes(width, &bytes)
}

/// The use cases of code rules, their preview, issuing, validation and resolving; `App::codes` gives it out.
pub struct Codes<'a> {
    pub(crate) app: &'a crate::App,
}
