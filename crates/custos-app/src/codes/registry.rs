//! The code registry: every issued code is recorded once and never issued again.

use custos_core::Violation;
use custos_store::{now_us, CodeRow, StoreError, Tx};

use super::DrawnCode;
use crate::actor::Actor;
use crate::error::{AppError, AppResult};

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
