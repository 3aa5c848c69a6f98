//! Validation of a given code: which rule versions it fits, its check character, and
//! (for callers allowed to see it) its registry entry.

use crate::codes::Codes;
use serde::Serialize;

use custos_core::code_rule::{self, Decoded};
use custos_core::Violation;

use super::{issue_date, segments_of};
use crate::actor::Actor;
use crate::auth::format_time;
use crate::error::{AppError, AppResult};

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

/// A code as given by a caller: one line, trimmed, upper case, 1–64 characters.
pub(crate) fn parse_code(code: &str) -> AppResult<String> {
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
    Ok(code)
}

impl Codes<'_> {
    /// Is this a well-formed code, which rule made it, is its check character right, and
    /// (for callers with `code.status`) is it issued and what is its status.
    pub async fn validate_code(&self, actor: &Actor, code: &str) -> AppResult<CodeValidation> {
        actor.require("code.validate")?;
        let code = parse_code(code)?;
        let today = issue_date(self.app.config.code_timezone);
        let mut tx = self.app.db.begin_read().await?;
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
