//! Issuing: the one published rule that applies to a new customer, and the code drawn
//! from it (or a manual code checked against it) inside the customer's transaction.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;

use custos_core::code_rule::{self, CodeInput, CodePlan, Segment};
use custos_core::Violation;
use custos_store::{CodeRuleRow, Tx};

use super::published::PublishedRule;
use super::registry::code_taken;
use super::{issue_date, random_text, DrawnCode};
use crate::customers::Lookups;
use crate::error::{AppError, AppResult};

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

/// When a sequence scope warns that its codes run out (编码容量预警, `[codes]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapacityWarning {
    /// Warn when fewer than this percent of a scope's codes remain (default 10; 0: never).
    pub percent: u8,
    /// When set, warn when fewer than this many codes remain instead.
    pub remaining: Option<u64>,
}

impl Default for CapacityWarning {
    fn default() -> Self {
        CapacityWarning {
            percent: 10,
            remaining: None,
        }
    }
}

impl CapacityWarning {
    /// The count of remaining codes below which a scope of `capacity` codes warns.
    pub fn threshold(&self, capacity: u64) -> u64 {
        match self.remaining {
            Some(r) => r.min(capacity),
            None => capacity.saturating_mul(u64::from(self.percent.min(100))) / 100,
        }
    }

    /// Whether drawing number `n` (of `start..=max`) is the draw that leaves fewer codes
    /// than the threshold. Numbers are drawn one by one without gaps (a number whose code
    /// is taken is drawn too), so exactly one draw crosses per scope: the check costs no
    /// query, only arithmetic on the number just drawn.
    pub fn crossed_at(&self, n: u64, start: u64, max: u64) -> Option<u64> {
        if n < start || n > max {
            return None;
        }
        let threshold = self.threshold(max - start + 1);
        let left = max - n;
        (threshold > 0 && left + 1 == threshold).then_some(left)
    }
}

/// Tell the holders of `rule.manage` that a scope of `rule` crossed its threshold.
async fn warn_capacity(
    tx: &mut Tx,
    rule: &str,
    scope: &str,
    left: u64,
    capacity: u64,
) -> AppResult<()> {
    crate::notify::notify_holders(
        tx,
        "rule.manage",
        crate::channels::STORED_CODE_CAPACITY,
        &format!("编码规则 {rule} 容量预警：流水依据 {scope} 剩余 {left} 个编码"),
        &format!(
            "编码规则 {rule} 的流水依据 {scope} 共 {capacity} 个编码，现仅剩 {left} 个。\
             请尽快发布更宽的规则版本，用尽后将无法为该范围的新客户发放编码。"
        ),
    )
    .await?;
    Ok(())
}

/// Most sequence codes looked up ahead in one query.
const LOOK_AHEAD: usize = 64;

/// Draw a code for a customer inside `tx`: the customer insert and the registry entry
/// must follow in the same transaction. With `manual`, check the given code instead.
pub(crate) async fn draw_code(
    tx: &mut Tx,
    lookups: &mut Lookups,
    config: &crate::AppConfig,
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
    let date = issue_date(config.code_timezone);
    let warning = config.code_capacity_warning;
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
            if let Some(left) = warning.crossed_at(n as u64, start, max) {
                warn_capacity(tx, &rule.key, scope, left, max - start + 1).await?;
            }
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

#[cfg(test)]
mod tests {
    use super::CapacityWarning;

    #[test]
    fn one_draw_crosses_the_threshold() {
        let w = CapacityWarning::default();
        // 1..=100: 10 % is 10 codes; drawing 91 leaves 9.
        let crossing: Vec<u64> = (1..=101)
            .filter(|n| w.crossed_at(*n, 1, 100).is_some())
            .collect();
        assert_eq!(crossing, vec![91]);
        assert_eq!(w.crossed_at(91, 1, 100), Some(9));
        let w = CapacityWarning {
            percent: 10,
            remaining: Some(3),
        };
        let crossing: Vec<u64> = (0..=9)
            .filter(|n| w.crossed_at(*n, 0, 9).is_some())
            .collect();
        assert_eq!(crossing, vec![7]);
        // Too small a scope for the percentage: never.
        let w = CapacityWarning::default();
        assert!((1..=9).all(|n| w.crossed_at(n, 1, 9).is_none()));
        let off = CapacityWarning {
            percent: 0,
            remaining: None,
        };
        assert!((1..=100).all(|n| off.crossed_at(n, 1, 100).is_none()));
    }
}
