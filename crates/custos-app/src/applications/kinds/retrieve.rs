//! `retrieve` (调阅): time-limited reading of an archived customer, and the reads it
//! opens. Archived customers are otherwise hidden from everyone but archive managers.

use crate::applications::Applications;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use custos_core::Violation;
use custos_store::{now_us, Tx};

use super::{Approval, Effect, Pending, Prepared, Submission};
use crate::actor::Actor;
use crate::applications::checks::{parse_payload, parse_time};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::customers::CustomerStatus;
use crate::error::{AppError, AppResult};
use crate::{to_json, App};

/// Longest a retrieval (调阅) may last.
const MAX_RETRIEVAL_DAYS: i64 = 90;
const DEFAULT_RETRIEVAL_DAYS: i64 = 7;
const DAY_US: i64 = 86_400_000_000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetrievePayload {
    code: String,
    /// RFC 3339; default 7 days after approval, at most 90 days.
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    days: Option<i64>,
}

pub(super) struct Retrieve;

impl Effect for Retrieve {
    fn prepare<'a>(
        &'a self,
        app: &'a App,
        tx: &'a mut Tx,
        s: Submission<'a>,
    ) -> Pending<'a, Prepared> {
        Box::pin(prepare(app, tx, s))
    }

    fn apply<'a>(&'a self, _app: &'a App, tx: &'a mut Tx, e: Approval<'a>) -> Pending<'a, Value> {
        Box::pin(apply(tx, e))
    }
}

async fn prepare(app: &App, tx: &mut Tx, s: Submission<'_>) -> AppResult<Prepared> {
    let mut p = Prepared::new(s.payload.clone());
    let mut c: RetrievePayload = parse_payload(s.kind, s.payload)?;
    let row = app
        .applications()
        .customer_for(tx, s.actor, &c.code)
        .await?;
    if !CustomerStatus::Archived.is(&row.status) {
        return Err(AppError::validation(
            "payload.code",
            Violation::new(
                "customer.not_archived",
                format!("客户“{}”未归档（状态 {}），无需调阅", row.code, row.status),
                format!(
                    "customer '{}' is not archived ({}); no retrieval needed",
                    row.code, row.status
                ),
            ),
        ));
    }
    retrieval_duration(&c)?;
    c.code = row.code.clone();
    p.about(&row);
    p.payload = serde_json::to_value(&c).unwrap_or_default();
    Ok(p)
}

async fn apply(tx: &mut Tx, e: Approval<'_>) -> AppResult<Value> {
    let (a, by) = (e.a, e.by);
    let c: RetrievePayload = parse_payload(e.kind(), e.payload)?;
    let row = tx
        .customer_by_code(&c.code)
        .await?
        .ok_or_else(|| AppError::not_found("customer", &c.code))?;
    if !CustomerStatus::Archived.is(&row.status) {
        return Err(AppError::Conflict(Violation::new(
            "customer.not_archived",
            format!("客户“{}”已不再是归档状态（{}）", row.code, row.status),
            format!(
                "customer '{}' is no longer archived ({})",
                row.code, row.status
            ),
        )));
    }
    let now = now_us();
    let expires = now + retrieval_duration(&c)?;
    tx.insert_retrieval(row.id, a.applicant_id, a.id, expires, now)
        .await?;
    let mut r = record(by, "customer.retrieval_grant", "customer", &row.code);
    r.after = to_json(
        &json!({"user_id": a.applicant_id, "expires_at": format_time(expires), "application": a.id}),
    );
    append(tx, r).await?;
    Ok(json!({"code": row.code, "expires_at": format_time(expires)}))
}

fn retrieval_duration(c: &RetrievePayload) -> AppResult<i64> {
    let max = MAX_RETRIEVAL_DAYS * DAY_US;
    let d = match (&c.expires_at, c.days) {
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "payload.days",
                Violation::new(
                    "retrieve.both",
                    "expires_at 与 days 只能给一个",
                    "give expires_at or days, not both",
                ),
            ))
        }
        (Some(t), None) => parse_time("payload.expires_at", t)? - now_us(),
        (None, Some(d)) => d.saturating_mul(DAY_US),
        (None, None) => DEFAULT_RETRIEVAL_DAYS * DAY_US,
    };
    if d <= 0 || d > max {
        return Err(AppError::validation(
            if c.days.is_some() {
                "payload.days"
            } else {
                "payload.expires_at"
            },
            Violation::new(
                "retrieve.duration",
                format!("调阅期限须在现在之后且不超过 {MAX_RETRIEVAL_DAYS} 天"),
                format!(
                    "a retrieval must end in the future and last at most {MAX_RETRIEVAL_DAYS} days"
                ),
            ),
        ));
    }
    Ok(d)
}

impl Applications<'_> {
    /// Read an archived customer under an approved, unexpired retrieval (调阅); every
    /// read is audited.
    pub async fn retrieve_archived_customer(
        &self,
        actor: &Actor,
        code: &str,
    ) -> AppResult<crate::customers::CustomerView> {
        let code = code.trim().to_ascii_uppercase();
        let mut tx = self.app.db.begin().await?;
        let row = tx
            .customer_by_code(&code)
            .await?
            .ok_or_else(|| AppError::not_found("customer", &code))?;
        if !CustomerStatus::Archived.is(&row.status) {
            return Err(AppError::not_found("archived customer", &code));
        }
        let Some(until) = tx.open_retrieval(row.id, actor.user_id, now_us()).await? else {
            return Err(AppError::Forbidden {
                permission: format!(
                    "retrieve {code}（需经批准的调阅申请 / an approved retrieve application）"
                ),
            });
        };
        let rec = crate::customers::record_of(&row, &self.app.config.pii_key)?;
        let reveal = actor.can("customer.pii.read");
        let mut r = record(actor, "customer.retrieve", "customer", &code);
        r.after = to_json(
            &json!({"until": format_time(until), "pii": reveal && crate::customers::has_pii(&rec)}),
        );
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(crate::customers::view(&row, &rec, reveal))
    }
}
