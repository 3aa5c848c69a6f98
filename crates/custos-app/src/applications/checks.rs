//! Input checks and refusals shared by the application paths: payload and time parsing,
//! reasons and comments, and the errors that several paths give alike.

use serde_json::Value;

use custos_core::{FieldError, Violation};
use custos_store::{ApplicationRow, CustomerRow};

use crate::customers::CustomerStatus;
use crate::error::{AppError, AppResult};
use crate::flows::kind_zh;

fn payload_error(kind: &str, e: &serde_json::Error) -> AppError {
    let msg = e.to_string();
    AppError::Validation(vec![Violation::new(
        "application.payload_invalid",
        format!("“{}”申请的内容格式不正确：{msg}", kind_zh(kind)),
        format!("the payload of a '{kind}' application is malformed: {msg}"),
    )
    .on("payload")])
}

pub(super) fn parse_payload<T: serde::de::DeserializeOwned>(kind: &str, v: &Value) -> AppResult<T> {
    serde_json::from_value(v.clone()).map_err(|e| payload_error(kind, &e))
}

pub(crate) fn closed_states() -> &'static [&'static str] {
    &["approved", "rejected", "withdrawn", "failed"]
}

pub(super) fn application_closed(a: &ApplicationRow) -> AppError {
    AppError::Conflict(Violation::new(
        "application.closed",
        format!("申请单 #{} 已结束（{}），不能再处理", a.id, a.state),
        format!(
            "application #{} is closed ({}) and cannot be acted on",
            a.id, a.state
        ),
    ))
}

pub(super) fn not_in_review(a: &ApplicationRow) -> AppError {
    if closed_states().contains(&a.state.as_str()) {
        return application_closed(a);
    }
    AppError::Conflict(Violation::new(
        "application.not_in_review",
        format!("申请单 #{} 当前状态为 {}，不在审批中", a.id, a.state),
        format!("application #{} is {}, not under review", a.id, a.state),
    ))
}

/// A task that another approver decided between reading and writing.
pub(super) fn decided_by_someone_else(id: i64) -> AppError {
    AppError::Conflict(Violation::new(
        "application.already_decided",
        format!("申请单 #{id} 的当前步骤已由他人处理"),
        format!("the current step of application #{id} was decided by someone else"),
    ))
}

pub(super) fn not_approver(id: i64) -> AppError {
    AppError::Forbidden {
        permission: format!("application.approve（申请单 #{id} 当前步骤的审批人 / an approver of the current step of #{id}）"),
    }
}

pub(super) fn version_stale(code: &str, read: i64, now: i64) -> AppError {
    AppError::Conflict(Violation::new(
        "customer.version_stale",
        format!(
            "客户“{code}”在申请提交后已被修改（申请时版本 {read}，当前版本 {now}），不能按原申请执行；请退回申请人重新提交"
        ),
        format!(
            "customer '{code}' changed after the application was submitted (version {read}, now {now}); return the application for resubmission"
        ),
    ))
}

/// A customer whose status does not allow the application; `from` are the statuses
/// that would.
pub(super) fn status_refused(row: &CustomerRow, from: &[CustomerStatus]) -> AppError {
    let from = CustomerStatus::keys(from);
    AppError::validation(
        "payload.code",
        Violation::new(
            "customer.status_transition",
            format!(
                "客户“{}”状态为 {}，不能执行此申请（须为 {}）",
                row.code,
                row.status,
                from.join("、")
            ),
            format!(
                "customer '{}' is {}; this application needs one of {}",
                row.code,
                row.status,
                from.join(", ")
            ),
        ),
    )
}

/// Move the field errors on `from` to `to`; other errors pass unchanged.
pub(super) fn rename_field(e: AppError, from: &str, to: String) -> AppError {
    match e {
        AppError::Validation(f) => AppError::Validation(
            f.into_iter()
                .map(|x| FieldError {
                    field: if x.field == from { to.clone() } else { x.field },
                    violation: x.violation,
                })
                .collect(),
        ),
        other => other,
    }
}

pub(super) fn parse_time(field: &str, s: &str) -> AppResult<i64> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.timestamp_micros());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    Err(AppError::validation(
        field,
        Violation::new(
            "time.invalid",
            format!("时间“{s}”无效，须为 RFC 3339（如 2026-01-31T08:00:00Z）或 YYYY-MM-DD"),
            format!(
                "time '{s}' is invalid; use RFC 3339 (e.g. 2026-01-31T08:00:00Z) or YYYY-MM-DD"
            ),
        ),
    ))
}

pub(super) use crate::text_input::clean_text;
