//! What the rule designer and the rule list need beyond the stored rules: the starting
//! templates (the examples of seed 001), checking a rule that is being composed with a
//! preview of the codes it would issue (consuming nothing), and the overview of every
//! rule with how full its sequence scopes are.

use crate::codes::Codes;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use custos_core::code_rule::{self, CodeInput, DateFormat, RegionLevel, Reset, Segment};
use custos_core::{FieldError, Violation};

use super::preview::{capacity_of, next_codes, Capacity, Preview, SampleCustomer};
use super::rules::{rule_view, validate_rule, CodeRuleView, NewCodeRule};
use super::{issue_date, AppliesTo};
use crate::actor::Actor;
use crate::error::AppResult;

/// A rule to start the designer from.
#[derive(Debug, Clone)]
pub struct RuleTemplate {
    /// Stable name in URLs (`/rules/new?template=by-type`).
    pub id: &'static str,
    pub title_zh: &'static str,
    pub title_en: &'static str,
    pub rule: NewCodeRule,
}

fn type_map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn for_types(types: &[&str]) -> AppliesTo {
    AppliesTo {
        customer_types: types.iter().map(|s| s.to_string()).collect(),
        region_prefixes: Vec::new(),
    }
}

/// The examples of seed 001 (and seed 000 §二(一)), as docs/code-rules.md shows them.
pub fn code_rule_templates() -> Vec<RuleTemplate> {
    let by_type = type_map(&[("enterprise", "C"), ("individual", "P")]);
    vec![
        RuleTemplate {
            id: "by-type",
            title_zh: "类型字母 + 4 位流水号（C0001 / P0001）",
            title_en: "Type letter + 4-digit sequence (C0001 / P0001)",
            rule: NewCodeRule {
                key: "customer-by-type".into(),
                name: "按客户类型编码".into(),
                applies_to: for_types(&["enterprise", "individual"]),
                segments: vec![
                    Segment::Attribute {
                        field: "customer_type".into(),
                        map: by_type,
                    },
                    Segment::Sequence {
                        width: 4,
                        start: 1,
                        reset: Reset::Never,
                    },
                ],
            },
        },
        RuleTemplate {
            id: "retail-wholesale-daily",
            title_zh: "R/W + 年月日 + 每日流水号（R202310010001）",
            title_en: "R/W + yyyyMMdd + daily sequence (R202310010001)",
            rule: NewCodeRule {
                key: "retail-wholesale-daily".into(),
                name: "零售/批发按日编码".into(),
                applies_to: for_types(&["retail", "wholesale"]),
                segments: vec![
                    Segment::Attribute {
                        field: "customer_type".into(),
                        map: type_map(&[("retail", "R"), ("wholesale", "W")]),
                    },
                    Segment::Date {
                        format: DateFormat::YyyyMmDd,
                    },
                    Segment::Sequence {
                        width: 4,
                        start: 1,
                        reset: Reset::Daily,
                    },
                ],
            },
        },
        RuleTemplate {
            id: "type-province-serial",
            title_zh: "类型码 + 省份码 + 流水号（0111000001）",
            title_en: "Type code + province + sequence (0111000001)",
            rule: NewCodeRule {
                key: "type-region-serial".into(),
                name: "类型 + 省份 + 流水号".into(),
                applies_to: for_types(&["enterprise", "individual"]),
                segments: vec![
                    Segment::Attribute {
                        field: "customer_type".into(),
                        map: type_map(&[("enterprise", "01"), ("individual", "02")]),
                    },
                    Segment::Region {
                        level: RegionLevel::Province,
                    },
                    Segment::Sequence {
                        width: 6,
                        start: 1,
                        reset: Reset::Never,
                    },
                ],
            },
        },
    ]
}

/// A rule being composed, checked: every problem the engine and the rule checks find,
/// and — when the segments are sound — the next codes for the sample customer.
#[derive(Debug, Clone, Serialize)]
pub struct RuleCheck {
    pub errors: Vec<FieldError>,
    pub preview: Option<Preview>,
}

/// A rule in the overview: its versions and how full its sequence scopes are.
#[derive(Debug, Clone, Serialize)]
pub struct RuleOverview {
    pub rule: CodeRuleView,
    pub capacity: Capacity,
    /// Scopes in use, all of them (the capacity lists only the fullest few).
    pub scope_count: usize,
}

/// Scopes the overview shows per rule, fullest first (a daily rule has one per day).
const OVERVIEW_SCOPES: usize = 5;

fn sample_date(sample: &SampleCustomer, tz: chrono_tz::Tz) -> Result<NaiveDate, FieldError> {
    match sample.date.as_deref().filter(|d| !d.trim().is_empty()) {
        Some(d) => NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| {
            Violation::new(
                "date.format",
                format!("日期“{d}”格式错误，应为 YYYY-MM-DD"),
                format!("date '{d}' is invalid: use YYYY-MM-DD"),
            )
            .on("date")
        }),
        None => Ok(issue_date(tz)),
    }
}

impl Codes<'_> {
    /// Check a rule as composed in the designer and preview the next codes a sample
    /// customer would get. Nothing is stored and no counter moves; the counters read are
    /// those of the rule's key, so an edit of an existing rule previews its real next codes.
    pub async fn check_code_rule(
        &self,
        actor: &Actor,
        rule: NewCodeRule,
        sample: SampleCustomer,
    ) -> AppResult<RuleCheck> {
        actor.require("rule.manage")?;
        let mut errors = validate_rule(&rule);
        let date = match sample_date(&sample, self.app.config.code_timezone) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let segments_sound = code_rule::validate_segments(&rule.segments).is_ok();
        let (Some(date), true) = (date, segments_sound) else {
            return Ok(RuleCheck {
                errors,
                preview: None,
            });
        };
        let mut attributes = sample.attributes.clone();
        attributes.insert("customer_type".into(), sample.customer_type.clone());
        let region = sample.region_code.as_deref().filter(|r| !r.is_empty());
        let input = CodeInput {
            attributes: &attributes,
            region_code: region,
            issue_date: date,
        };
        let plan = match code_rule::plan(&rule.segments, &input) {
            Ok(p) => p,
            Err(v) => {
                errors.push(v.on("sample"));
                return Ok(RuleCheck {
                    errors,
                    preview: None,
                });
            }
        };
        let count = sample.count.unwrap_or(5).clamp(1, 20);
        let mut tx = self.app.db.begin_read().await?;
        let codes = next_codes(&mut tx, &rule.key, &plan, count).await?;
        let version = tx
            .code_rule_versions(&rule.key)
            .await?
            .last()
            .map_or(1, |v| v.version + 1);
        tx.rollback().await?;
        Ok(RuleCheck {
            errors,
            preview: Some(Preview {
                key: rule.key.clone(),
                version,
                codes,
                scope: plan.sequence_scope().map(str::to_string),
                examples_only: plan.random_width().is_some(),
            }),
        })
    }

    /// Every rule with its versions and its fullest sequence scopes (used / remaining,
    /// warning at 80 %).
    pub async fn code_rule_overview(&self, actor: &Actor) -> AppResult<Vec<RuleOverview>> {
        actor.require("rule.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let rows = tx.all_code_rules().await?;
        let mut by_key: BTreeMap<String, Vec<custos_store::CodeRuleRow>> = BTreeMap::new();
        for r in rows {
            by_key.entry(r.key.clone()).or_default().push(r);
        }
        let mut out = Vec::with_capacity(by_key.len());
        for (key, versions) in &by_key {
            let mut capacity = capacity_of(&mut tx, key, versions).await?;
            let scope_count = capacity.scopes.len();
            capacity
                .scopes
                .sort_by(|a, b| b.used.cmp(&a.used).then(a.scope.cmp(&b.scope)));
            capacity.scopes.truncate(OVERVIEW_SCOPES);
            out.push(RuleOverview {
                rule: rule_view(key, versions),
                capacity,
                scope_count,
            });
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// Whether `actor` should be led to publish a first rule: they may publish rules and
    /// no rule is published, so no customer can get a code yet.
    pub async fn needs_first_code_rule(&self, actor: &Actor) -> AppResult<bool> {
        if !actor.can("rule.publish") {
            return Ok(false);
        }
        let mut tx = self.app.db.begin_read().await?;
        let published = tx.published_code_rules().await?;
        tx.rollback().await?;
        Ok(published.is_empty())
    }
}

/// A stored version as the designer's starting point (`/rules/{key}/edit`).
pub fn rule_as_new(view: &CodeRuleView) -> Option<NewCodeRule> {
    let newest = view.versions.last()?;
    Some(NewCodeRule {
        key: view.key.clone(),
        name: newest.name.clone(),
        applies_to: newest.applies_to.clone(),
        segments: newest.segments.clone(),
    })
}
