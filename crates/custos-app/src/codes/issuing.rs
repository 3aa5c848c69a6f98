//! Issuing: the one published rule that applies to a new customer, and the code drawn
//! from it (or a manual code checked against it) inside the customer's transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use custos_core::code_rule::{self, CodeInput, CodePlan, Segment};
use custos_core::Violation;
use custos_store::{CodeRuleRow, Tx};

use super::registry::code_taken;
use super::{applies_of, issue_date, random_text, segments_of, AppliesTo, DrawnCode};
use crate::customers::Lookups;
use crate::error::{AppError, AppResult};

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
