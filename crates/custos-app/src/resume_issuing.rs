//! Letting code issuing resume after a restore put it on hold (`custos code
//! resume-after-restore`): the administrator names the last codes known from ERP, skips
//! numbers, or accepts the state as it is; the decision is audited. The hold itself and
//! the carrying over of codes during a restore are in `restore_guard`.

use serde::Serialize;

use custos_core::code_rule;
use custos_core::Violation;
use custos_store::{now_us, CodeRow, Tx};

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::backup::Backups;
use crate::codes::{issue_date, segments_of};
use crate::error::{AppError, AppResult};
use crate::restore_guard::*;
use crate::to_json;

/// How an administrator lets code issuing resume after a restore.
#[derive(Debug, Clone, Default)]
pub struct ResumeIssuing {
    /// Codes known to have been issued (e.g. the last ones in ERP): their counters are
    /// raised past them and they are recorded as `lost_in_restore` when missing.
    pub issued_codes: Vec<String>,
    /// Raise every existing sequence counter by this many numbers.
    pub skip: Option<i64>,
    /// Resume without changes: the operator accepts that nothing was issued since the backup.
    pub accept: bool,
}

/// One counter `resume-after-restore` moved.
#[derive(Debug, Clone, Serialize)]
pub struct RaisedSequence {
    pub rule_key: String,
    pub scope: String,
    pub from: Option<i64>,
    pub to: i64,
}

/// What `resume-after-restore` did.
#[derive(Debug, Clone, Serialize)]
pub struct ResumeReport {
    /// The hold that was lifted (none when issuing was not on hold).
    pub lifted: Option<IssueHold>,
    pub raised: Vec<RaisedSequence>,
    /// Confirmed codes the registry lacked, now recorded as `lost_in_restore`.
    pub codes_recorded: u64,
}

fn resume_error(code: &str, zh: String, en: String) -> AppError {
    AppError::Rejected(Violation::new(code, zh, en))
}

impl Backups<'_> {
    /// Whether code issuing is on hold, and why.
    pub async fn issue_hold(&self) -> AppResult<Option<IssueHold>> {
        let mut tx = self.app.db.begin_read().await?;
        let hold = current_hold(&mut tx).await?;
        tx.rollback().await?;
        Ok(hold)
    }

    /// Let code issuing resume after a restore (`system.backup`): raise counters past the
    /// confirmed codes and/or by `skip`, record confirmed codes the registry lacks, lift
    /// the hold; one audited transaction.
    pub async fn resume_code_issuing(
        &self,
        actor: &Actor,
        input: ResumeIssuing,
    ) -> AppResult<ResumeReport> {
        actor.require("system.backup")?;
        if input.issued_codes.is_empty() && input.skip.is_none() && !input.accept {
            return Err(resume_error(
                "code.resume_how",
                "请用 --confirm-last 文件、--skip 数量或 --accept 说明如何恢复发放".into(),
                "say how to resume: --confirm-last FILE, --skip N or --accept".into(),
            ));
        }
        if input.issued_codes.len() > MAX_CONFIRMED_CODES {
            return Err(resume_error(
                "code.resume_too_many",
                format!("确认的编码最多 {MAX_CONFIRMED_CODES} 个"),
                format!("at most {MAX_CONFIRMED_CODES} confirmed codes"),
            ));
        }
        if let Some(n) = input.skip {
            if !(1..=MAX_SKIP).contains(&n) {
                return Err(AppError::validation(
                    "skip",
                    Violation::new(
                        "code.resume_skip",
                        format!("跳过的号数须在 1 到 {MAX_SKIP} 之间"),
                        format!("skip must be between 1 and {MAX_SKIP}"),
                    ),
                ));
            }
        }
        let mut tx = self.app.db.begin().await?;
        // Lock order of code writers: audit head first (see codes::draw_code).
        tx.lock_audit_head().await?;
        let lifted = current_hold(&mut tx).await?;
        if lifted.is_none() && input.issued_codes.is_empty() && input.skip.is_none() {
            return Err(AppError::Conflict(Violation::new(
                "code.not_on_hold",
                "客户编码发放没有暂停，无需确认",
                "code issuing is not on hold: nothing to accept",
            )));
        }
        let before: std::collections::HashMap<(String, String), i64> = tx
            .all_sequences()
            .await?
            .into_iter()
            .map(|s| ((s.rule_key, s.scope), s.next_value))
            .collect();
        let mut targets = std::collections::BTreeMap::new();
        if let Some(n) = input.skip {
            for ((rule, scope), next) in &before {
                targets.insert((rule.clone(), scope.clone()), next.saturating_add(n));
            }
        }
        let recorded = self
            .record_confirmed(&mut tx, actor, &input.issued_codes, &mut targets)
            .await?;
        let mut raised = Vec::new();
        for ((rule_key, scope), to) in targets {
            if tx.raise_sequence(&rule_key, &scope, to).await? {
                let from = before.get(&(rule_key.clone(), scope.clone())).copied();
                raised.push(RaisedSequence {
                    rule_key,
                    scope,
                    from,
                    to,
                });
            }
        }
        tx.delete_setting(HOLD_SETTING).await?;
        let report = ResumeReport {
            lifted,
            raised,
            codes_recorded: recorded,
        };
        let mut r = record(actor, "code.resume_after_restore", "database", "main");
        r.before = report.lifted.as_ref().and_then(to_json);
        r.after = to_json(&serde_json::json!({
            "confirmed_codes": input.issued_codes.len(),
            "skip": input.skip,
            "accept": input.accept,
            "codes_recorded": report.codes_recorded,
            "raised": &report.raised,
        }));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(report)
    }

    /// Decode each confirmed code against the rule versions, note how far its counter
    /// must go in `targets`, and record it as lost when the registry lacks it.
    async fn record_confirmed(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        codes: &[String],
        targets: &mut std::collections::BTreeMap<(String, String), i64>,
    ) -> AppResult<u64> {
        if codes.is_empty() {
            return Ok(0);
        }
        let today = issue_date(self.app.config.code_timezone);
        let mut rules = Vec::new();
        for r in tx.all_code_rules().await? {
            if r.status != "draft" {
                let segments = segments_of(&r)?;
                rules.push((r, segments));
            }
        }
        let now = now_us();
        let mut recorded = 0;
        for (i, raw) in codes.iter().enumerate() {
            let code = raw.trim().to_ascii_uppercase();
            // Newest rule versions first: the likeliest to have issued a recent code.
            let found = rules.iter().rev().find_map(|(r, segs)| {
                code_rule::decode(segs, &code, today)
                    .ok()
                    .filter(|d| d.check_valid != Some(false))
                    .map(|d| (r, d))
            });
            let Some((rule, decoded)) = found else {
                return Err(AppError::validation(
                    "confirm_last",
                    Violation::new(
                        "code.resume_unknown_code",
                        format!("第 {} 个编码“{code}”不符合任何编码规则（或校验位错误）", i + 1),
                        format!(
                            "code {} ('{code}') fits no code rule (or its check character is wrong)",
                            i + 1
                        ),
                    ),
                ));
            };
            if let (Some(scope), Some(seq)) = (&decoded.sequence_scope, decoded.sequence) {
                let next = seq as i64 + 1;
                let t = targets
                    .entry((rule.key.clone(), scope.clone()))
                    .or_insert(next);
                *t = (*t).max(next);
            }
            let row = CodeRow {
                code: code.clone(),
                customer_id: None,
                rule_key: Some(rule.key.clone()),
                rule_version: Some(rule.version),
                scope: decoded.sequence_scope.clone(),
                seq: decoded.sequence.map(|s| s as i64),
                manual: false,
                status: LOST_IN_RESTORE.into(),
                redirect_to: None,
                issued_at: now,
                issued_by: Some(actor.user_id),
                reason: Some(
                    "恢复备份后由管理员确认为已发放 / confirmed as issued by an administrator after a restore"
                        .into(),
                ),
            };
            if tx.insert_code_if_absent(&row).await? {
                recorded += 1;
            }
        }
        Ok(recorded)
    }
}
