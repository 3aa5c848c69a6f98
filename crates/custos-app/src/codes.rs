//! Code rules (编码规则) and code issuing: versioned rules, applicability, drawing a code
//! inside the customer's transaction, manual codes, capacity, validation of codes.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use custos_core::code_rule::{self, CodeInput, CodePlan, Decoded, Segment};
use custos_core::{FieldError, Violation};
use custos_store::{now_us, CodeRow, CodeRuleRow, StoreError, Tx};

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::customers::Lookups;
use crate::error::{AppError, AppResult};
use crate::{to_json, App};

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

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCodeRule {
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub applies_to: AppliesTo,
    /// Ordered segments; see docs/code-rules.md.
    #[schema(value_type = Vec<Object>)]
    pub segments: Vec<Segment>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeRuleVersion {
    pub version: i64,
    pub name: String,
    pub status: String,
    pub applies_to: AppliesTo,
    #[schema(value_type = Vec<Object>)]
    pub segments: Vec<Segment>,
    pub created_by: Option<i64>,
    pub created_at: String,
    pub published_by: Option<i64>,
    pub published_at: Option<String>,
    pub disabled_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeRuleView {
    pub key: String,
    /// The name of the newest version.
    pub name: String,
    /// The version new customers get codes from, if any.
    pub published_version: Option<i64>,
    pub versions: Vec<CodeRuleVersion>,
}

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

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeMatch {
    pub rule_key: String,
    pub rule_version: i64,
    pub rule_status: String,
    #[schema(value_type = Object)]
    pub decoded: Decoded,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeRegistryInfo {
    pub status: String,
    pub redirect_to: Option<String>,
    pub rule_key: Option<String>,
    pub rule_version: Option<i64>,
    pub manual: bool,
    pub issued_at: String,
    /// For status `lost_in_restore`: which restore lost the code's customer (other
    /// statuses' reasons are free text of applications and are not shown here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CodeValidation {
    pub code: String,
    /// Fits at least one rule version in shape.
    pub well_formed: bool,
    /// The check character is right (for the best match; `None` when the rule has none).
    pub check_valid: Option<bool>,
    pub matches: Vec<CodeMatch>,
    /// Present for callers allowed to see issue status (`code.status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<CodeRegistryInfo>,
    /// Why it fits no rule, per rule version tried.
    pub errors: Vec<String>,
}

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

fn rule_version_view(r: &CodeRuleRow) -> CodeRuleVersion {
    CodeRuleVersion {
        version: r.version,
        name: r.name.clone(),
        status: r.status.clone(),
        applies_to: serde_json::from_str(&r.applies_to).unwrap_or_default(),
        segments: serde_json::from_str(&r.segments).unwrap_or_default(),
        created_by: r.created_by,
        created_at: format_time(r.created_at),
        published_by: r.published_by,
        published_at: r.published_at.map(format_time),
        disabled_at: r.disabled_at.map(format_time),
    }
}

fn rule_view(key: &str, rows: &[CodeRuleRow]) -> CodeRuleView {
    CodeRuleView {
        key: key.to_string(),
        name: rows.last().map(|r| r.name.clone()).unwrap_or_default(),
        published_version: rows
            .iter()
            .find(|r| r.status == "published")
            .map(|r| r.version),
        versions: rows.iter().map(rule_version_view).collect(),
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

fn key_ok(key: &str) -> bool {
    (2..=40).contains(&key.len())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
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

fn type_key_ok(t: &str) -> bool {
    (1..=32).contains(&t.len())
        && t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Check a rule definition and report every problem.
fn validate_rule(input: &NewCodeRule) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if !key_ok(&input.key) {
        errors.push(
            Violation::new(
                "code_rule.key_format",
                format!(
                    "规则标识“{}”不合规：需 2–40 位小写字母、数字、- 或 _",
                    input.key
                ),
                format!(
                    "rule key '{}' is invalid: use 2–40 lower-case letters, digits, - or _",
                    input.key
                ),
            )
            .on("key"),
        );
    }
    let n = input.name.trim().chars().count();
    if n == 0 || n > 100 {
        errors.push(
            Violation::new(
                "code_rule.name",
                "规则名称不能为空且不超过 100 个字符",
                "the rule name must be 1–100 characters",
            )
            .on("name"),
        );
    }
    for (i, t) in input.applies_to.customer_types.iter().enumerate() {
        if !type_key_ok(t) {
            errors.push(
                Violation::new(
                    "code_rule.customer_type",
                    format!("客户类型“{t}”不合规"),
                    format!("customer type '{t}' is invalid"),
                )
                .on(format!("applies_to.customer_types[{i}]")),
            );
        }
    }
    for (i, p) in input.applies_to.region_prefixes.iter().enumerate() {
        let ok = (1..=6).contains(&p.len()) && p.chars().all(|c| c.is_ascii_digit());
        if !ok {
            errors.push(
                Violation::new(
                    "code_rule.region_prefix",
                    format!("地区前缀“{p}”不合规：应为 1–6 位数字"),
                    format!("region prefix '{p}' is invalid: use 1–6 digits"),
                )
                .on(format!("applies_to.region_prefixes[{i}]")),
            );
        }
    }
    if let Err(es) = code_rule::validate_segments(&input.segments) {
        errors.extend(es);
    }
    errors
}

impl App {
    /// Create a draft rule, or the next draft version of an existing rule.
    pub async fn create_code_rule(
        &self,
        actor: &Actor,
        input: impl Into<crate::input::Input<NewCodeRule>>,
    ) -> AppResult<CodeRuleView> {
        actor.require("rule.manage")?;
        let input = input.into().get()?;
        // Rule files and API bodies alike: no control or invisible character gets stored.
        crate::text_input::refuse_single_line([
            ("key", Some(input.key.as_str())),
            ("name", Some(input.name.as_str())),
        ])?;
        crate::text_input::refuse_in("applies_to", &input.applies_to)?;
        crate::text_input::refuse_in("segments", &input.segments)?;
        let errors = validate_rule(&input);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut tx = self.db.begin().await?;
        let versions = tx.code_rule_versions(&input.key).await?;
        if versions.iter().any(|v| v.status == "draft") {
            return Err(AppError::Conflict(Violation::new(
                "code_rule.draft_exists",
                format!("规则“{}”已有未发布的草稿版本，请先发布", input.key),
                format!(
                    "rule '{}' already has an unpublished draft; publish it first",
                    input.key
                ),
            )));
        }
        let version = versions.last().map(|v| v.version + 1).unwrap_or(1);
        let now = now_us();
        let row = CodeRuleRow {
            id: 0,
            key: input.key.clone(),
            version,
            name: input.name.trim().to_string(),
            applies_to: to_json(&input.applies_to).unwrap_or_default(),
            segments: to_json(&input.segments).unwrap_or_default(),
            status: "draft".into(),
            created_by: Some(actor.user_id),
            created_at: now,
            published_by: None,
            published_at: None,
            disabled_at: None,
        };
        match tx.insert_code_rule(&row).await {
            Ok(_) => {}
            Err(StoreError::Conflict { .. }) => return Err(concurrent_rule_change(&input.key)),
            Err(e) => return Err(e.into()),
        }
        let mut r = record(
            actor,
            "code_rule.create",
            "code_rule",
            &format!("{}@{version}", input.key),
        );
        r.after = to_json(&rule_version_view(&row));
        append(&mut tx, r).await?;
        let rows = tx.code_rule_versions(&input.key).await?;
        tx.commit().await?;
        Ok(rule_view(&input.key, &rows))
    }

    /// Publish the draft of a rule: it becomes the version new codes come from; the
    /// previously published version is disabled (its codes stay valid).
    pub async fn publish_code_rule(&self, actor: &Actor, key: &str) -> AppResult<CodeRuleView> {
        actor.require("rule.publish")?;
        let mut tx = self.db.begin().await?;
        let view = publish_code_rule_in(&mut tx, actor, key).await?;
        tx.commit().await?;
        Ok(view)
    }

    /// Stop issuing codes from a rule (its codes stay valid).
    pub async fn disable_code_rule(&self, actor: &Actor, key: &str) -> AppResult<CodeRuleView> {
        actor.require("rule.publish")?;
        let mut tx = self.db.begin().await?;
        let versions = existing_versions(&mut tx, key).await?;
        let Some(published) = versions.iter().find(|v| v.status == "published").cloned() else {
            return Err(AppError::Rejected(Violation::new(
                "code_rule.not_published",
                format!("规则“{key}”没有已发布的版本"),
                format!("rule '{key}' has no published version"),
            )));
        };
        tx.set_code_rule_status(
            published.id,
            "published",
            "disabled",
            Some(actor.user_id),
            now_us(),
        )
        .await
        .map_err(|_| concurrent_rule_change(key))?;
        let mut r = record(
            actor,
            "code_rule.disable",
            "code_rule",
            &format!("{key}@{}", published.version),
        );
        r.before = to_json(&serde_json::json!({"status": "published"}));
        r.after = to_json(&serde_json::json!({"status": "disabled"}));
        append(&mut tx, r).await?;
        let rows = tx.code_rule_versions(key).await?;
        tx.commit().await?;
        Ok(rule_view(key, &rows))
    }

    pub async fn list_code_rules(&self, actor: &Actor) -> AppResult<Vec<CodeRuleView>> {
        actor.require("rule.read")?;
        let mut tx = self.db.begin_read().await?;
        let rows = tx.all_code_rules().await?;
        tx.rollback().await?;
        let mut by_key: BTreeMap<String, Vec<CodeRuleRow>> = BTreeMap::new();
        for r in rows {
            by_key.entry(r.key.clone()).or_default().push(r);
        }
        Ok(by_key.iter().map(|(k, v)| rule_view(k, v)).collect())
    }

    pub async fn get_code_rule(&self, actor: &Actor, key: &str) -> AppResult<CodeRuleView> {
        actor.require("rule.read")?;
        let mut tx = self.db.begin_read().await?;
        let rows = existing_versions(&mut tx, key).await?;
        tx.rollback().await?;
        Ok(rule_view(key, &rows))
    }

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
            None => issue_date(self.config.code_timezone),
        };
        let count = sample.count.unwrap_or(5).clamp(1, 20);
        let mut tx = self.db.begin_read().await?;
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
        let mut tx = self.db.begin_read().await?;
        let versions = existing_versions(&mut tx, key).await?;
        let current = versions
            .iter()
            .find(|r| r.status == "published")
            .or_else(|| versions.last())
            .cloned()
            .ok_or_else(|| rule_not_found(key))?;
        let segments = segments_of(&current)?;
        let per_scope = sequence_capacity(&segments);
        let usage = tx.scope_usage(key).await?;
        tx.rollback().await?;
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

    /// Is this a well-formed code, which rule made it, is its check character right, and
    /// (for callers with `code.status`) is it issued and what is its status.
    pub async fn validate_code(&self, actor: &Actor, code: &str) -> AppResult<CodeValidation> {
        actor.require("code.validate")?;
        crate::text_input::refuse_single_line([("code", Some(code))])?;
        let code = code.trim().to_ascii_uppercase();
        if code.is_empty() || code.len() > 64 {
            return Err(AppError::validation(
                "code",
                Violation::new(
                    "code.length",
                    "编码不能为空且不超过 64 个字符",
                    "the code must be 1–64 characters",
                ),
            ));
        }
        let today = issue_date(self.config.code_timezone);
        let mut tx = self.db.begin_read().await?;
        let rules = tx.all_code_rules().await?;
        let registry = if actor.can("code.status") {
            tx.code(&code).await?
        } else {
            None
        };
        let show_status = actor.can("code.status");
        tx.rollback().await?;
        let mut matches = Vec::new();
        let mut errors = Vec::new();
        for r in rules.iter().filter(|r| r.status != "draft") {
            let Ok(segments) = segments_of(r) else {
                continue;
            };
            match code_rule::decode(&segments, &code, today) {
                Ok(decoded) => matches.push(CodeMatch {
                    rule_key: r.key.clone(),
                    rule_version: r.version,
                    rule_status: r.status.clone(),
                    decoded,
                }),
                Err(v) => errors.push(format!("{}@{}: {}", r.key, r.version, v.zh)),
            }
        }
        // The rule that issued it comes first; then versions whose check character holds.
        if let Some(reg) = &registry {
            matches.sort_by_key(|m| {
                !(Some(&m.rule_key) == reg.rule_key.as_ref()
                    && Some(m.rule_version) == reg.rule_version)
            });
        } else {
            matches.sort_by_key(|m| m.decoded.check_valid == Some(false));
        }
        Ok(CodeValidation {
            well_formed: !matches.is_empty(),
            check_valid: matches.first().and_then(|m| m.decoded.check_valid),
            issued: show_status.then_some(registry.is_some()),
            registry: registry.map(|r| CodeRegistryInfo {
                reason: r
                    .reason
                    .filter(|_| r.status == crate::restore_guard::LOST_IN_RESTORE),
                status: r.status,
                redirect_to: r.redirect_to,
                rule_key: r.rule_key,
                rule_version: r.rule_version,
                manual: r.manual,
                issued_at: format_time(r.issued_at),
            }),
            code,
            matches,
            errors,
        })
    }
}

fn concurrent_rule_change(key: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "code_rule.concurrent",
        format!("规则“{key}”刚被其他操作修改，请刷新后重试"),
        format!("rule '{key}' was just changed by another operation; reload and retry"),
    ))
}

/// Codes one sequence scope can hold under this rule.
fn sequence_capacity(segments: &[Segment]) -> Option<i64> {
    segments.iter().find_map(|s| match s {
        Segment::Sequence { width, start, .. } => {
            let max = 10i64.checked_pow(u32::from(*width))? - 1;
            Some(max - *start as i64 + 1)
        }
        _ => None,
    })
}

fn random_text(width: u8) -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; code_rule::crockford_bytes_needed(width)];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    code_rule::crockford_from_bytes(width, &bytes)
}

/// A published rule as a creation uses it: read and parsed once per transaction.
pub(crate) struct PublishedRule {
    row: CodeRuleRow,
    applies: AppliesTo,
    /// The segments, or why the stored text could not be read.
    segments: Result<Arc<Vec<Segment>>, String>,
}

impl PublishedRule {
    pub(crate) fn new(row: CodeRuleRow) -> PublishedRule {
        PublishedRule {
            applies: applies_of(&row),
            segments: segments_of(&row).map(Arc::new).map_err(|e| match e {
                AppError::Internal(m) => m,
                other => other.to_string(),
            }),
            row,
        }
    }
}

/// The one published rule that applies, with its segments.
pub(crate) async fn applicable_rule(
    tx: &mut Tx,
    lookups: &mut Lookups,
    customer_type: &str,
    region: Option<&str>,
) -> AppResult<(CodeRuleRow, Arc<Vec<Segment>>)> {
    let rules = lookups.published_rules(tx).await?;
    let found: Vec<&PublishedRule> = rules
        .iter()
        .filter(|r| r.applies.matches(customer_type, region))
        .collect();
    match found.as_slice() {
        [one] => Ok((
            one.row.clone(),
            one.segments.clone().map_err(AppError::Internal)?,
        )),
        [] => Err(AppError::Rejected(Violation::new(
            "code_rule.none_applicable",
            format!(
                "没有适用于客户类型“{customer_type}”、地区“{}”的已发布编码规则，请先发布规则",
                region.unwrap_or("-")
            ),
            format!(
                "no published code rule applies to customer type '{customer_type}' in region '{}'; publish one first",
                region.unwrap_or("-")
            ),
        ))),
        _ => Err(AppError::Rejected(Violation::new(
            "code_rule.ambiguous",
            format!(
                "有多条已发布编码规则适用于该客户：{}",
                found.iter().map(|r| r.row.key.as_str()).collect::<Vec<_>>().join("、")
            ),
            format!(
                "several published code rules apply to this customer: {}",
                found.iter().map(|r| r.row.key.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ))),
    }
}

/// Most sequence codes looked up ahead in one query.
const LOOK_AHEAD: usize = 64;

/// Draw a code for a customer inside `tx`: the customer insert and the registry entry
/// must follow in the same transaction. With `manual`, check the given code instead.
pub(crate) async fn draw_code(
    tx: &mut Tx,
    lookups: &mut Lookups,
    tz: chrono_tz::Tz,
    attributes: &BTreeMap<String, String>,
    customer_type: &str,
    region: Option<&str>,
    manual: Option<&str>,
) -> AppResult<DrawnCode> {
    // Lock order: audit head, then sequence rows (see batch.rs).
    tx.lock_audit_head().await?;
    // After a restore that could not tell which codes were issued since the backup,
    // nothing is issued until an administrator says so. Read once per transaction: the
    // hold is only lifted in a transaction that also holds the audit head.
    if !lookups.issuing_checked {
        crate::restore_guard::ensure_issuing(tx).await?;
        lookups.issuing_checked = true;
    }
    let (rule, segments) = applicable_rule(tx, lookups, customer_type, region).await?;
    let date = issue_date(tz);
    if let Some(code) = manual {
        return check_manual_code(tx, &rule, &segments, code, date).await;
    }
    let input = CodeInput {
        attributes,
        region_code: region,
        issue_date: date,
    };
    let plan: CodePlan = code_rule::plan(&segments, &input).map_err(|v| rule_input_error(&v))?;
    if let (Some(scope), Some(start)) = (plan.sequence_scope(), plan.sequence_start()) {
        let max = plan.sequence_max().unwrap_or(0);
        // Manually assigned codes may already hold some numbers: skip them.
        loop {
            let n = tx.draw_sequence(&rule.key, scope, start as i64).await?;
            if n as u64 > max {
                return Err(AppError::Rejected(Violation::new(
                    "code_rule.exhausted",
                    format!("编码规则“{}”的流水依据“{scope}”已用尽（最大 {max}），请新建规则版本扩容", rule.key),
                    format!("code rule '{}' has no codes left in scope '{scope}' (max {max}); publish a wider version", rule.key),
                )));
            }
            let code = plan
                .render(Some(n as u64), None)
                .map_err(AppError::Rejected)?;
            // A transaction that draws many codes of one scope (a batch, an import chunk)
            // checks the next ones in the same query, looking further ahead the more it
            // has drawn there, so a lone creation, or one scope among many, pays nothing
            // for it.
            let drawn = lookups
                .codes_drawn
                .entry((rule.key.clone(), scope.to_string()))
                .or_insert(0);
            let look = (*drawn).min(LOOK_AHEAD) as u64;
            *drawn += 1;
            let free = tx.take_known_free(&code) || {
                let ahead: Vec<String> = (1..=look)
                    .map(|k| n as u64 + k)
                    .take_while(|m| *m <= max)
                    .filter_map(|m| plan.render(Some(m), None).ok())
                    .collect();
                !tx.code_exists_ahead(&code, &ahead).await?
            };
            if free {
                return Ok(DrawnCode {
                    code,
                    rule_key: rule.key.clone(),
                    rule_version: rule.version,
                    scope: Some(scope.to_string()),
                    seq: Some(n),
                    manual: false,
                });
            }
        }
    }
    let width = plan.random_width().unwrap_or(8);
    for _ in 0..16 {
        let code = plan
            .render(None, Some(&random_text(width)))
            .map_err(AppError::Rejected)?;
        if !tx.code_exists(&code).await? {
            return Ok(DrawnCode {
                code,
                rule_key: rule.key.clone(),
                rule_version: rule.version,
                scope: None,
                seq: None,
                manual: false,
            });
        }
    }
    Err(AppError::Rejected(Violation::new(
        "code_rule.random_exhausted",
        format!("编码规则“{}”的随机码空间已接近用尽，请加宽随机段", rule.key),
        format!(
            "code rule '{}' keeps colliding; widen its random segment",
            rule.key
        ),
    )))
}

fn rule_input_error(v: &Violation) -> AppError {
    let field = if v.code.starts_with("rule.region") {
        "region_code"
    } else if v.code.starts_with("rule.attribute") {
        "customer_type"
    } else {
        "code"
    };
    AppError::Validation(vec![v.clone().on(field)])
}

async fn check_manual_code(
    tx: &mut Tx,
    rule: &CodeRuleRow,
    segments: &[Segment],
    code: &str,
    date: NaiveDate,
) -> AppResult<DrawnCode> {
    let code = code.trim().to_ascii_uppercase();
    let decoded = code_rule::decode(segments, &code, date).map_err(|v| {
        AppError::validation(
            "code",
            Violation::new(
                "code.shape",
                format!("手动编码“{code}”不符合规则“{}”：{}", rule.key, v.zh),
                format!(
                    "manual code '{code}' does not fit rule '{}': {}",
                    rule.key, v.en
                ),
            ),
        )
    })?;
    if decoded.check_valid == Some(false) {
        return Err(AppError::validation(
            "code",
            Violation::new(
                "code.check_char",
                format!("手动编码“{code}”的校验位错误"),
                format!("manual code '{code}' has a wrong check character"),
            ),
        ));
    }
    if tx.code_exists(&code).await? {
        return Err(code_taken(&code));
    }
    Ok(DrawnCode {
        code,
        rule_key: rule.key.clone(),
        rule_version: rule.version,
        scope: decoded.sequence_scope,
        seq: decoded.sequence.map(|s| s as i64),
        manual: true,
    })
}

pub(crate) fn code_taken(code: &str) -> AppError {
    AppError::Conflict(Violation::new(
        "code.taken",
        format!("编码“{code}”已被发放过（含已废止、已合并的编码），不能再次使用"),
        format!("code '{code}' has been issued before (retired and merged codes included) and cannot be reused"),
    ))
}

/// Record an issued code in the registry.
/// The registry entry of a drawn code.
pub(crate) fn code_row(
    drawn: &DrawnCode,
    customer_id: Option<i64>,
    status: &str,
    actor: &Actor,
    reason: Option<String>,
) -> CodeRow {
    CodeRow {
        code: drawn.code.clone(),
        customer_id,
        rule_key: Some(drawn.rule_key.clone()),
        rule_version: Some(drawn.rule_version),
        scope: drawn.scope.clone(),
        seq: drawn.seq,
        manual: drawn.manual,
        status: status.to_string(),
        redirect_to: None,
        issued_at: now_us(),
        issued_by: Some(actor.user_id),
        reason,
    }
}

pub(crate) async fn register_code(
    tx: &mut Tx,
    drawn: &DrawnCode,
    customer_id: i64,
    status: &str,
    actor: &Actor,
    reason: Option<String>,
) -> AppResult<()> {
    let row = code_row(drawn, Some(customer_id), status, actor, reason);
    match tx.insert_code(&row).await {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict { .. }) => Err(code_taken(&drawn.code)),
        Err(e) => Err(e.into()),
    }
}

/// Publish the draft of a rule inside `tx` (the caller decided authorisation: the direct
/// call above, or an approved `publish_rule` application).
pub(crate) async fn publish_code_rule_in(
    tx: &mut Tx,
    actor: &Actor,
    key: &str,
) -> AppResult<CodeRuleView> {
    let versions = existing_versions(tx, key).await?;
    let Some(draft) = versions.iter().find(|v| v.status == "draft").cloned() else {
        return Err(AppError::Rejected(Violation::new(
            "code_rule.no_draft",
            format!("规则“{key}”没有待发布的草稿版本"),
            format!("rule '{key}' has no draft version to publish"),
        )));
    };
    let applies = applies_of(&draft);
    for other in tx.published_code_rules().await? {
        if other.key != key && applies_of(&other).overlaps(&applies) {
            return Err(AppError::Conflict(Violation::new(
                "code_rule.overlap",
                format!(
                    "规则“{key}”的适用范围与已发布的规则“{}”重叠：同一客户只能适用一条规则",
                    other.key
                ),
                format!(
                    "rule '{key}' overlaps the published rule '{}': exactly one rule must apply to a customer",
                    other.key
                ),
            )));
        }
    }
    let now = now_us();
    for old in versions.iter().filter(|v| v.status == "published") {
        tx.set_code_rule_status(old.id, "published", "disabled", Some(actor.user_id), now)
            .await
            .map_err(|_| concurrent_rule_change(key))?;
    }
    tx.set_code_rule_status(draft.id, "draft", "published", Some(actor.user_id), now)
        .await
        .map_err(|_| concurrent_rule_change(key))?;
    let mut r = record(
        actor,
        "code_rule.publish",
        "code_rule",
        &format!("{key}@{}", draft.version),
    );
    r.after =
        to_json(&serde_json::json!({"key": key, "version": draft.version, "status": "published"}));
    append(tx, r).await?;
    let rows = tx.code_rule_versions(key).await?;
    Ok(rule_view(key, &rows))
}
