//! Code usage per rule and month (编码使用统计): how many codes each rule issued in each
//! month, how many of all it ever issued are in use, retired, merged away or changed, and
//! how much room its sequence has left — so an administrator sees a rule filling up
//! before it runs out.

use crate::reports::Reports;
use std::collections::BTreeMap;

use serde::Serialize;

use super::months::{MonthRange, MonthsQuery};
use crate::codes::preview::capacity_of;
use crate::codes::{issue_date, ScopeCapacity};
use crate::error::AppResult;
use crate::Actor;

/// Registry statuses in the order the report lists them.
const STATUSES: &[&str] = &["active", "retired", "merged", "changed"];

/// Codes issued in one month.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MonthIssued {
    /// `YYYY-MM`.
    pub month: String,
    pub issued: i64,
}

/// Codes of a rule in one registry status.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusTotal {
    /// `active`, `retired`, `merged`, `changed` (or another status the registry holds).
    pub status: String,
    pub count: i64,
}

/// One rule's usage; codes assigned by hand outside any rule are one line with an empty
/// `rule_key`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleUsage {
    pub rule_key: String,
    pub name: String,
    /// One entry per month of the report, oldest first.
    pub months: Vec<MonthIssued>,
    /// Codes issued in the report's months.
    pub issued_in_period: i64,
    /// Every code the rule ever issued.
    pub total: i64,
    pub by_status: Vec<StatusTotal>,
    /// Codes one sequence scope can hold (absent: the rule has no sequence).
    pub capacity_per_scope: Option<i64>,
    /// Sequence scopes (a year, a region …) that have issued codes.
    pub scopes_in_use: i64,
    /// The scope with the least room left.
    pub fullest_scope: Option<ScopeCapacity>,
}

/// The code-usage report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeUsageReport {
    /// `YYYY-MM` of each month, oldest first.
    pub months: Vec<String>,
    pub rules: Vec<RuleUsage>,
}

impl Reports<'_> {
    /// Codes issued per rule and month, by status, and the room left (`stats.read`).
    /// Codes are not customer data and a rule is shared by every department, so the
    /// figures are the whole registry's, like a rule's capacity under `rule.read`.
    pub async fn code_usage_report(
        &self,
        actor: &Actor,
        q: &MonthsQuery,
    ) -> AppResult<CodeUsageReport> {
        actor.require("stats.read")?;
        let tz = self.app.config.code_timezone;
        let range = MonthRange::parse(q, issue_date(tz))?;
        let labels = range.labels();
        let mut tx = self.app.db.begin_read().await?;
        let issued = tx.codes_issued_per_period(&range.bounds_us(tz)).await?;
        let statuses = tx.code_status_counts().await?;
        let rules = tx.all_code_rules().await?;
        // The newest version names a rule.
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for r in &rules {
            names.insert(r.key.clone(), r.name.clone());
        }
        let mut usage: BTreeMap<String, RuleUsage> = BTreeMap::new();
        for p in &issued {
            let u = line(&mut usage, &names, &labels, &p.rule_key);
            if let Some(m) = u.months.get_mut(p.period as usize) {
                m.issued += p.issued;
                u.issued_in_period += p.issued;
            }
        }
        for s in &statuses {
            let u = line(&mut usage, &names, &labels, &s.rule_key);
            u.total += s.count;
            u.by_status.push(StatusTotal {
                status: s.status.clone(),
                count: s.count,
            });
        }
        // Rules that issued nothing yet are shown too: their room is all there.
        for key in names.keys() {
            line(&mut usage, &names, &labels, &Some(key.clone()));
        }
        for u in usage.values_mut() {
            u.by_status.sort_by_key(|s| {
                STATUSES
                    .iter()
                    .position(|k| *k == s.status)
                    .unwrap_or(STATUSES.len())
            });
            if u.rule_key.is_empty() {
                continue;
            }
            let versions: Vec<_> = rules
                .iter()
                .filter(|r| r.key == u.rule_key)
                .cloned()
                .collect();
            if versions.is_empty() {
                continue;
            }
            let cap = capacity_of(&mut tx, &u.rule_key, &versions).await?;
            u.capacity_per_scope = cap.capacity_per_scope;
            u.scopes_in_use = cap.scopes.len() as i64;
            u.fullest_scope = cap.scopes.into_iter().min_by_key(|s| s.remaining);
        }
        tx.rollback().await?;
        Ok(CodeUsageReport {
            months: labels,
            rules: usage.into_values().collect(),
        })
    }
}

/// The line of rule `key` (`None`: codes assigned by hand), added empty when missing.
fn line<'a>(
    usage: &'a mut BTreeMap<String, RuleUsage>,
    names: &BTreeMap<String, String>,
    labels: &[String],
    key: &Option<String>,
) -> &'a mut RuleUsage {
    let key = key.clone().unwrap_or_default();
    usage.entry(key.clone()).or_insert_with(|| RuleUsage {
        name: match key.is_empty() {
            true => "手工分配".to_string(),
            false => names.get(&key).cloned().unwrap_or_else(|| key.clone()),
        },
        rule_key: key,
        months: labels
            .iter()
            .map(|m| MonthIssued {
                month: m.clone(),
                issued: 0,
            })
            .collect(),
        issued_in_period: 0,
        total: 0,
        by_status: Vec::new(),
        capacity_per_scope: None,
        scopes_in_use: 0,
        fullest_scope: None,
    })
}
