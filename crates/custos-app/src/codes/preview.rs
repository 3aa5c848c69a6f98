//! What a rule would issue: the next codes for a sample customer, and how full each
//! sequence scope is.

use crate::codes::Codes;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use custos_core::code_rule::{self, CodeInput, Segment};
use custos_core::Violation;

use super::{existing_versions, issue_date, random_text, rule_not_found, segments_of};
use crate::actor::Actor;
use crate::error::{AppError, AppResult};

/// A sample customer for previews: the fields a rule may read.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct SampleCustomer {
    pub customer_type: String,
    #[serde(default)]
    pub region_code: Option<String>,
    /// Other attribute fields a rule maps (e.g. `level`).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// Issue date to preview (default today in the rule time zone), `YYYY-MM-DD`.
    #[serde(default)]
    pub date: Option<String>,
    /// How many codes (1–20, default 5).
    #[serde(default)]
    pub count: Option<usize>,
    /// Preview a specific version (e.g. a draft) instead of the published one.
    #[serde(default)]
    pub version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    pub key: String,
    pub version: i64,
    pub codes: Vec<String>,
    /// The sequence scope (流水依据) the codes are counted in.
    pub scope: Option<String>,
    /// True for random rules: the codes shown are examples, not the next ones.
    pub examples_only: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScopeCapacity {
    pub scope: String,
    pub used: i64,
    pub remaining: i64,
    pub capacity: i64,
    pub percent_used: f64,
    /// At or above 80 % used.
    pub warning: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Capacity {
    pub key: String,
    pub version: Option<i64>,
    /// Codes per scope the rule can hold; `None` for random rules (practically unbounded).
    pub capacity_per_scope: Option<i64>,
    pub scopes: Vec<ScopeCapacity>,
    pub warnings: Vec<String>,
}

impl Codes<'_> {
    /// The next codes a sample customer would get, consuming nothing.
    pub async fn preview_code_rule(
        &self,
        actor: &Actor,
        key: &str,
        sample: impl Into<crate::input::Input<SampleCustomer>>,
    ) -> AppResult<Preview> {
        actor.require("rule.read")?;
        let sample = sample.into().get()?;
        let date = match &sample.date {
            Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
                AppError::validation(
                    "date",
                    Violation::new(
                        "date.format",
                        format!("日期“{d}”格式错误，应为 YYYY-MM-DD"),
                        format!("date '{d}' is invalid: use YYYY-MM-DD"),
                    ),
                )
            })?,
            None => issue_date(self.app.config.code_timezone),
        };
        let count = sample.count.unwrap_or(5).clamp(1, 20);
        let mut tx = self.app.db.begin_read().await?;
        let versions = tx.code_rule_versions(key).await?;
        let rule = match sample.version {
            Some(v) => versions.iter().find(|r| r.version == v),
            None => versions
                .iter()
                .find(|r| r.status == "published")
                .or_else(|| versions.iter().rev().find(|r| r.status == "draft")),
        }
        .cloned()
        .ok_or_else(|| rule_not_found(key))?;
        let segments = segments_of(&rule)?;
        let mut attributes = sample.attributes.clone();
        attributes.insert("customer_type".into(), sample.customer_type.clone());
        let input = CodeInput {
            attributes: &attributes,
            region_code: sample.region_code.as_deref(),
            issue_date: date,
        };
        let plan =
            code_rule::plan(&segments, &input).map_err(|v| AppError::validation("sample", v))?;
        let codes = next_codes(&mut tx, key, &plan, count).await?;
        tx.rollback().await?;
        Ok(Preview {
            key: key.to_string(),
            version: rule.version,
            codes,
            scope: plan.sequence_scope().map(str::to_string),
            examples_only: plan.random_width().is_some(),
        })
    }

    /// Used / remaining codes per sequence scope of a rule.
    pub async fn code_rule_capacity(&self, actor: &Actor, key: &str) -> AppResult<Capacity> {
        actor.require("rule.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let versions = existing_versions(&mut tx, key).await?;
        let capacity = capacity_of(&mut tx, key, &versions).await?;
        tx.rollback().await?;
        Ok(capacity)
    }
}

/// How full each sequence scope of rule `key` (with its `versions`) is, under the
/// published version (else the newest).
pub(crate) async fn capacity_of(
    tx: &mut custos_store::Tx,
    key: &str,
    versions: &[custos_store::CodeRuleRow],
) -> AppResult<Capacity> {
    let current = versions
        .iter()
        .find(|r| r.status == "published")
        .or_else(|| versions.last())
        .cloned()
        .ok_or_else(|| rule_not_found(key))?;
    let segments = segments_of(&current)?;
    let per_scope = sequence_capacity(&segments);
    let usage = tx.scope_usage(key).await?;
    let mut scopes = Vec::new();
    let mut warnings = Vec::new();
    if let Some(cap) = per_scope {
        for u in usage {
            let remaining = (cap - u.used).max(0);
            let percent = if cap > 0 {
                u.used as f64 * 100.0 / cap as f64
            } else {
                100.0
            };
            let warning = percent >= 80.0;
            if warning {
                warnings.push(format!(
                    "流水依据“{}”已用 {:.1}%（{}/{}），请规划扩容 / scope '{}' is {:.1}% used",
                    u.scope, percent, u.used, cap, u.scope, percent
                ));
            }
            scopes.push(ScopeCapacity {
                scope: u.scope,
                used: u.used,
                remaining,
                capacity: cap,
                percent_used: (percent * 100.0).round() / 100.0,
                warning,
            });
        }
    }
    Ok(Capacity {
        key: key.to_string(),
        version: Some(current.version),
        capacity_per_scope: per_scope,
        scopes,
        warnings,
    })
}

/// The next `count` codes `plan` would issue under the counters of rule `key`, skipping
/// codes already in the registry; consumes nothing (random rules: examples).
pub(super) async fn next_codes(
    tx: &mut custos_store::Tx,
    key: &str,
    plan: &code_rule::CodePlan,
    count: usize,
) -> AppResult<Vec<String>> {
    let mut codes = Vec::new();
    if let (Some(scope), Some(start)) = (plan.sequence_scope(), plan.sequence_start()) {
        let mut n = tx.peek_sequence(key, scope).await?.unwrap_or(start as i64);
        let max = plan.sequence_max().unwrap_or(0) as i64;
        while codes.len() < count && n <= max {
            let code = plan
                .render(Some(n as u64), None)
                .map_err(AppError::Rejected)?;
            if !tx.code_exists(&code).await? {
                codes.push(code);
            }
            n += 1;
        }
    } else if let Some(w) = plan.random_width() {
        for _ in 0..count {
            let text = random_text(w);
            codes.push(plan.render(None, Some(&text)).map_err(AppError::Rejected)?);
        }
    }
    Ok(codes)
}

/// Codes one sequence scope can hold under this rule.
pub(super) fn sequence_capacity(segments: &[Segment]) -> Option<i64> {
    segments.iter().find_map(|s| match s {
        Segment::Sequence { width, start, .. } => {
            let max = 10i64.checked_pow(u32::from(*width))? - 1;
            Some(max - *start as i64 + 1)
        }
        _ => None,
    })
}
