//! Reading quality: one customer's score, the summary (averages, pass rates, KPIs,
//! per-rule counts, a breakdown) and the worklist 待完善 — all within the caller's
//! `quality.read` scope, naming rules and fields but never values.

use crate::quality::Quality;
use custos_store::customer_master::ScopeFilter;
use custos_store::quality::{QualityAverages, WorklistFilter};
use custos_store::Tx;
use serde::{Deserialize, Serialize};

use super::dimensions::{rule_matches, Dimension};
use super::rules::{applicable_rules, assess, Context, RuleInfo};
use crate::actor::Actor;
use crate::auth::format_time;
use crate::codes::issue_date;
use crate::customers::{quality_facts, record_of, scoped_customer};
use crate::error::AppResult;
use crate::paging::{invalid, page_limit};

/// A dimension's figure: a customer's sub-score, or over many customers the average
/// sub-score and the share passing every rule of it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DimensionFigure {
    pub dimension: Dimension,
    pub label_zh: String,
    pub label_en: String,
    pub score: f64,
    /// Percent of customers passing every rule of the dimension (aggregates only).
    pub pass_rate: Option<f64>,
}

/// The quality of one customer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerQuality {
    pub code: String,
    /// False for merged, retired and archived customers: they are not scored.
    pub assessed: bool,
    pub score: Option<f64>,
    pub dimensions: Vec<DimensionFigure>,
    /// The rules it fails (rule and field only, never a value).
    pub failing: Vec<RuleInfo>,
    /// When the stored score was computed; absent when computed for this answer (no
    /// recompute has run since the customer was last written by an older version).
    pub computed_at: Option<String>,
    pub assignee_id: Option<i64>,
}

/// A KPI against its target.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KpiFigure {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    pub target: f64,
    /// Percent of assessed customers failing none of the KPI's rules.
    pub value: f64,
    pub passed: bool,
}

/// Customers failing one rule.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleFigure {
    pub key: String,
    pub dimension: Dimension,
    pub failing: i64,
    /// Percent of assessed customers not failing it.
    pub pass_rate: f64,
}

/// Averages of one group of a breakdown (owner, department or customer type).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupFigure {
    /// Owner or department id, or customer type key; absent for customers without one.
    pub key: Option<String>,
    pub customers: i64,
    pub average_score: f64,
    pub dimensions: Vec<DimensionFigure>,
}

/// The quality of the customers in the caller's scope.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QualitySummary {
    pub customers: i64,
    pub average_score: f64,
    pub dimensions: Vec<DimensionFigure>,
    pub kpis: Vec<KpiFigure>,
    /// Every rule some customer fails, by key.
    pub rules: Vec<RuleFigure>,
    /// `owner`, `department` or `customer_type` when a breakdown was asked for.
    pub by: Option<String>,
    pub groups: Vec<GroupFigure>,
}

/// Filters of the worklist, as the query string gives them.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WorklistQuery {
    /// completeness | validity | consistency | timeliness | uniqueness
    pub dimension: Option<String>,
    /// A rule key or a prefix of one ending at a dot.
    pub rule: Option<String>,
    pub owner_id: Option<String>,
    pub department_id: Option<String>,
    pub customer_type: Option<String>,
    pub assignee_id: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// A customer to mend.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorklistItem {
    pub code: String,
    pub name: String,
    pub customer_type: String,
    pub owner_id: Option<i64>,
    pub department_id: Option<i64>,
    pub score: f64,
    /// Failing rule keys.
    pub failing: Vec<String>,
    pub assignee_id: Option<i64>,
    pub assigned_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorklistPage {
    pub items: Vec<WorklistItem>,
    pub next_cursor: Option<String>,
}

use crate::customers::scope_filter;

fn percent(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        100.0
    } else {
        (1000.0 * part as f64 / whole as f64).round() / 10.0
    }
}

pub(super) fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(super) fn dimension_figures(a: &QualityAverages) -> Vec<DimensionFigure> {
    let figures = [
        (a.completeness, a.completeness_pass),
        (a.validity, a.validity_pass),
        (a.consistency, a.consistency_pass),
        (a.timeliness, a.timeliness_pass),
        (a.uniqueness, a.uniqueness_pass),
    ];
    Dimension::ALL
        .into_iter()
        .zip(figures)
        .map(|(d, (avg, pass))| DimensionFigure {
            dimension: d,
            label_zh: d.label_zh().into(),
            label_en: d.label_en().into(),
            score: if a.customers == 0 { 100.0 } else { round1(avg) },
            pass_rate: Some(percent(pass, a.customers)),
        })
        .collect()
}

fn parse_id(field: &str, raw: &Option<String>) -> AppResult<Option<i64>> {
    match raw.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| invalid(field, v, "应为正整数", "must be a positive integer")),
    }
}

/// A rule selector from the query: a dimension key, then dot-separated lower-case parts.
fn parse_rule(field: &str, raw: &str) -> AppResult<String> {
    let v = raw.trim();
    let ok = v.len() <= 100
        && Dimension::of_rule(v).is_some()
        && v.split('.').all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        });
    if ok {
        Ok(v.to_string())
    } else {
        Err(invalid(
            field,
            raw,
            "应为质量维度或规则标识（如 completeness.required）",
            "must be a dimension or rule key (e.g. completeness.required)",
        ))
    }
}

impl Quality<'_> {
    /// The quality of `code` (`quality.read` within its scope; elsewhere the same 404 as
    /// a missing customer).
    pub async fn customer_quality(&self, actor: &Actor, code: &str) -> AppResult<CustomerQuality> {
        let scope = actor.require("quality.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let row = scoped_customer(&mut tx, actor, scope, code).await?;
        let stored = tx.customer_quality(row.id).await?;
        let assigned = tx.quality_assignee(row.id).await?;
        if !super::keep::assessed(&row.status) {
            tx.rollback().await?;
            return Ok(CustomerQuality {
                code: row.code,
                assessed: false,
                score: None,
                dimensions: Vec::new(),
                failing: Vec::new(),
                computed_at: None,
                assignee_id: None,
            });
        }
        let grouped = !tx.in_open_duplicate_groups(&[row.id]).await?.is_empty();
        let required = self.required_custom(&mut tx).await?;
        tx.rollback().await?;
        let rec = record_of(&row, &self.app.config.pii_key.pinned())?;
        let ctx = Context {
            config: &self.app.config.quality,
            required_custom: &required,
            today: issue_date(self.app.config.code_timezone),
            now: custos_store::now_us(),
        };
        let facts = quality_facts(&rec, row.updated_at, grouped);
        let live = applicable_rules(&facts, &ctx);
        let (score, dims, failing, computed_at) = match stored {
            Some(q) => {
                let keys: Vec<String> = serde_json::from_str(&q.failing).unwrap_or_default();
                let dims = [
                    q.completeness,
                    q.validity,
                    q.consistency,
                    q.timeliness,
                    q.uniqueness,
                ];
                (q.score, dims, keys, Some(format_time(q.computed_at)))
            }
            None => {
                let a = assess(&facts, &ctx);
                (a.score, a.dimensions, a.failing, None)
            }
        };
        let failing = failing
            .into_iter()
            .map(|k| {
                live.iter()
                    .find(|(r, _)| r.key == k)
                    .map(|(r, _)| r.clone())
                    .unwrap_or_else(|| RuleInfo {
                        dimension: Dimension::of_rule(&k).unwrap_or(Dimension::Completeness),
                        field: String::new(),
                        label_zh: k.clone(),
                        label_en: k.clone(),
                        weight: self.app.config.quality.weight_of(&k),
                        key: k,
                    })
            })
            .collect();
        Ok(CustomerQuality {
            code: row.code,
            assessed: true,
            score: Some(score),
            dimensions: Dimension::ALL
                .into_iter()
                .zip(dims)
                .map(|(d, s)| DimensionFigure {
                    dimension: d,
                    label_zh: d.label_zh().into(),
                    label_en: d.label_en().into(),
                    score: s,
                    pass_rate: None,
                })
                .collect(),
            failing,
            computed_at,
            assignee_id: assigned,
        })
    }

    /// Averages, pass rates, KPIs and per-rule counts over the assessed customers in the
    /// caller's `quality.read` scope; `by` (`owner`, `department`, `customer_type`) adds
    /// a breakdown.
    pub async fn quality_summary(
        &self,
        actor: &Actor,
        by: Option<&str>,
    ) -> AppResult<QualitySummary> {
        let scope = actor.require("quality.read")?;
        let column = match by.map(str::trim).filter(|b| !b.is_empty()) {
            None => None,
            Some("owner") => Some("owner_id"),
            Some("department") => Some("department_id"),
            Some("customer_type") => Some("customer_type"),
            Some(other) => {
                return Err(invalid(
                    "by",
                    other,
                    "应为 owner、department 或 customer_type",
                    "must be owner, department or customer_type",
                ))
            }
        };
        let mut tx = self.app.db.begin_read().await?;
        let filter = scope_filter(&mut tx, actor, scope).await?;
        let (total, counts, kpis) = self.quality_figures(&mut tx, &filter).await?;
        let groups = match column {
            Some(c) => tx.quality_averages(&filter, Some(c)).await?,
            None => Vec::new(),
        };
        tx.rollback().await?;
        Ok(QualitySummary {
            customers: total.customers,
            average_score: if total.customers == 0 {
                100.0
            } else {
                round1(total.score)
            },
            dimensions: dimension_figures(&total),
            kpis,
            rules: counts
                .into_iter()
                .map(|(key, failing)| RuleFigure {
                    dimension: Dimension::of_rule(&key).unwrap_or(Dimension::Completeness),
                    pass_rate: percent(total.customers - failing, total.customers),
                    key,
                    failing,
                })
                .collect(),
            by: column.map(|_| by.unwrap_or_default().trim().to_string()),
            groups: groups
                .iter()
                .map(|g| GroupFigure {
                    key: g.key.clone(),
                    customers: g.customers,
                    average_score: round1(g.score),
                    dimensions: dimension_figures(g),
                })
                .collect(),
        })
    }

    /// The averages, per-rule counts and KPIs over the assessed customers of `filter`.
    pub(super) async fn quality_figures(
        &self,
        tx: &mut Tx,
        filter: &ScopeFilter,
    ) -> AppResult<(QualityAverages, Vec<(String, i64)>, Vec<KpiFigure>)> {
        let total = tx
            .quality_averages(filter, None)
            .await?
            .into_iter()
            .next()
            .unwrap_or_default();
        let counts = tx.quality_rule_counts(filter).await?;
        let mut kpis = Vec::new();
        for k in &self.app.config.quality.kpis {
            let keys: Vec<String> = counts
                .iter()
                .filter(|(key, _)| k.rules.iter().any(|sel| rule_matches(sel, key)))
                .map(|(key, _)| key.clone())
                .collect();
            let failing = tx.quality_failing_any(filter, &keys).await?;
            let value = percent(total.customers - failing, total.customers);
            kpis.push(KpiFigure {
                key: k.key.clone(),
                label_zh: k.label_zh.clone(),
                label_en: k.label_en.clone(),
                target: k.target,
                value,
                passed: value >= k.target,
            });
        }
        Ok((total, counts, kpis))
    }

    /// A page of customers failing rules (lowest score first) within the caller's
    /// `quality.read` scope.
    pub async fn quality_worklist(
        &self,
        actor: &Actor,
        q: &WorklistQuery,
    ) -> AppResult<WorklistPage> {
        let scope = actor.require("quality.read")?;
        let limit = page_limit(q.limit.as_deref(), 50, 200)?;
        let dimension = match q
            .dimension
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            Some(d) => match Dimension::ALL.into_iter().find(|x| x.key() == d) {
                Some(x) => Some(x),
                None => {
                    return Err(invalid(
                        "dimension",
                        d,
                        "应为 completeness、validity、consistency、timeliness 或 uniqueness",
                        "must be completeness, validity, consistency, timeliness or uniqueness",
                    ))
                }
            },
            None => None,
        };
        let rule = match q.rule.as_deref().filter(|r| !r.trim().is_empty()) {
            Some(r) => Some(parse_rule("rule", r)?),
            None => dimension.map(|d| d.key().to_string()),
        };
        let after = match q.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                invalid(
                    "cursor",
                    c,
                    "不是本列表返回的游标",
                    "not a cursor of this list",
                )
            })?),
        };
        let customer_type = q
            .customer_type
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if customer_type.as_ref().is_some_and(|t| t.len() > 32) {
            return Err(invalid(
                "customer_type",
                &customer_type.unwrap_or_default(),
                "过长",
                "too long",
            ));
        }
        let mut tx = self.app.db.begin_read().await?;
        let filter = WorklistFilter {
            scope: scope_filter(&mut tx, actor, scope).await?,
            rule,
            owner_id: parse_id("owner_id", &q.owner_id)?,
            department_id: parse_id("department_id", &q.department_id)?,
            customer_type,
            assignee_id: parse_id("assignee_id", &q.assignee_id)?,
            after,
            limit: limit + 1,
        };
        let mut rows = tx.quality_worklist(&filter).await?;
        tx.rollback().await?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = match (more, rows.last()) {
            (true, Some(r)) => Some(format!("{}_{}", r.score, r.customer_id)),
            _ => None,
        };
        Ok(WorklistPage {
            items: rows
                .into_iter()
                .map(|r| WorklistItem {
                    failing: serde_json::from_str(&r.failing).unwrap_or_default(),
                    code: r.code,
                    name: r.name,
                    customer_type: r.customer_type,
                    owner_id: r.owner_id,
                    department_id: r.department_id,
                    score: r.score,
                    assignee_id: r.assignee_id,
                    assigned_at: r.assigned_at.map(format_time),
                })
                .collect(),
            next_cursor,
        })
    }
}

fn decode_cursor(c: &str) -> Option<(f64, i64)> {
    let (s, id) = c.split_once('_')?;
    let score: f64 = s.parse().ok()?;
    let id: i64 = id.parse().ok()?;
    (score.is_finite() && (0.0..=100.0).contains(&score) && id > 0).then_some((score, id))
}
