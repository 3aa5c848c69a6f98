//! The error every use case returns, with a stable machine code and bilingual text.

use custos_core::violation::Lang;
use custos_core::{FieldError, Violation};
use custos_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// One or more fields are invalid; all of them are listed.
    #[error("validation failed: {0:?}")]
    Validation(Vec<FieldError>),
    /// Not logged in, bad credentials, expired token, locked or disabled account.
    #[error("unauthenticated: {}", .0.code)]
    Unauthenticated(Violation),
    /// Logged in but lacking the permission.
    #[error("forbidden: {permission}")]
    Forbidden { permission: String },
    /// Logged in, but a rule other than a missing permission refuses this caller (HTTP
    /// 403 with the rule's own code), e.g. an approver who no longer qualifies for a step.
    #[error("denied: {}", .0.code)]
    Denied(Violation),
    /// Missing — or outside the caller's data scope, which must look the same.
    #[error("not found: {what} {key}")]
    NotFound { what: &'static str, key: String },
    /// The request conflicts with the current state (taken name, concurrent change…).
    #[error("conflict: {}", .0.code)]
    Conflict(Violation),
    /// The request is understood but the operation is refused by a rule (HTTP 422).
    #[error("rejected: {}", .0.code)]
    Rejected(Violation),
    /// The record looks like an existing customer (HTTP 409, candidates attached).
    #[error("duplicate: {}", .violation.code)]
    Duplicate {
        violation: Violation,
        report: Box<crate::customers::report::DuplicateReport>,
    },
    /// What was asked for existed but is gone for good (an expired export file, HTTP 410).
    #[error("gone: {}", .0.code)]
    Gone(Violation),
    /// Too many requests of this kind by this caller (HTTP 429 with `Retry-After`): the
    /// duplicate check's rate limit, failed logins of one (address, username) pair.
    #[error("rate limited: {}", .violation.code)]
    TooManyRequests {
        violation: Violation,
        /// Seconds until the next request is allowed (at least 1).
        retry_after: u64,
    },
    /// The request body is larger than the endpoint accepts (HTTP 413).
    #[error("too large: {}", .0.code)]
    TooLarge(Violation),
    /// A service the request depends on cannot be reached now (a login provider; HTTP 503).
    #[error("unavailable: {}", .0.code)]
    Unavailable(Violation),
    #[error("internal error: {0}")]
    Internal(String),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn validation(field: &str, v: Violation) -> AppError {
        AppError::Validation(vec![v.on(field)])
    }

    pub fn not_found(what: &'static str, key: impl ToString) -> AppError {
        AppError::NotFound {
            what,
            key: key.to_string(),
        }
    }

    /// Too many requests: the caller may try again in `wait_us` microseconds, which
    /// `Retry-After` says in whole seconds, rounded up, at least 1.
    pub(crate) fn too_many_requests(violation: Violation, wait_us: i64) -> AppError {
        let wait_us = u64::try_from(wait_us).unwrap_or(0);
        AppError::TooManyRequests {
            violation,
            retry_after: wait_us.div_ceil(1_000_000).max(1),
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> String {
        match self {
            AppError::Validation(_) => "validation.failed".into(),
            AppError::Unauthenticated(v)
            | AppError::Conflict(v)
            | AppError::Rejected(v)
            | AppError::Denied(v)
            | AppError::Gone(v)
            | AppError::TooLarge(v)
            | AppError::Unavailable(v) => v.code.clone(),
            AppError::Duplicate { violation, .. } | AppError::TooManyRequests { violation, .. } => {
                violation.code.clone()
            }
            AppError::Forbidden { .. } => "auth.forbidden".into(),
            AppError::NotFound { what, .. } => format!("{what}.not_found"),
            AppError::Internal(_) => "internal".into(),
        }
    }

    /// HTTP status this error maps to.
    pub fn status(&self) -> u16 {
        match self {
            AppError::Validation(_) | AppError::Rejected(_) => 422,
            AppError::Unauthenticated(_) => 401,
            AppError::Forbidden { .. } | AppError::Denied(_) => 403,
            AppError::NotFound { .. } => 404,
            AppError::Conflict(_) | AppError::Duplicate { .. } => 409,
            AppError::Gone(_) => 410,
            AppError::TooManyRequests { .. } => 429,
            AppError::TooLarge(_) => 413,
            AppError::Unavailable(_) => 503,
            AppError::Internal(_) => 500,
        }
    }

    pub fn title(&self, lang: Lang) -> String {
        let (zh, en) = match self {
            AppError::Validation(_) => ("输入数据校验未通过", "Validation failed"),
            AppError::Unauthenticated(_) => ("身份验证失败", "Authentication failed"),
            AppError::Forbidden { .. } | AppError::Denied(_) => ("没有权限", "Forbidden"),
            AppError::NotFound { .. } => ("未找到", "Not found"),
            AppError::Conflict(_) => ("与当前状态冲突", "Conflict"),
            AppError::Rejected(_) => ("操作被规则拒绝", "Operation refused"),
            AppError::Duplicate { .. } => ("疑似重复客户", "Possible duplicate customer"),
            AppError::Gone(_) => ("已不存在", "Gone"),
            AppError::TooManyRequests { .. } => ("请求过于频繁", "Too many requests"),
            AppError::TooLarge(_) => ("请求体过大", "Payload too large"),
            AppError::Unavailable(_) => ("服务暂不可用", "Service unavailable"),
            AppError::Internal(_) => ("服务器内部错误", "Internal server error"),
        };
        match lang {
            Lang::Zh => zh.into(),
            Lang::En => en.into(),
        }
    }

    /// Human detail; internal errors never show their cause to users.
    pub fn detail(&self, lang: Lang) -> String {
        match self {
            AppError::Validation(fields) => match lang {
                Lang::Zh => format!("有 {} 个字段未通过校验", fields.len()),
                Lang::En => format!("{} field(s) failed validation", fields.len()),
            },
            AppError::Unauthenticated(v)
            | AppError::Conflict(v)
            | AppError::Rejected(v)
            | AppError::Denied(v)
            | AppError::Gone(v)
            | AppError::TooLarge(v)
            | AppError::Unavailable(v) => v.message(lang).to_string(),
            AppError::Duplicate { violation, .. } | AppError::TooManyRequests { violation, .. } => {
                violation.message(lang).to_string()
            }
            AppError::Forbidden { permission } => match lang {
                Lang::Zh => format!("当前用户没有“{permission}”权限"),
                Lang::En => format!("you lack the permission '{permission}'"),
            },
            AppError::NotFound { what, key } => match lang {
                Lang::Zh => format!("{}“{key}”不存在或不在您的数据范围内", what_zh(what)),
                Lang::En => format!("{what} '{key}' does not exist or is outside your data scope"),
            },
            AppError::Internal(_) => match lang {
                Lang::Zh => "服务器内部错误，请凭请求编号联系管理员".into(),
                Lang::En => "internal error; quote the request id to your administrator".into(),
            },
        }
    }
}

fn what_zh(what: &str) -> &'static str {
    match what {
        "user" => "用户",
        "department" => "部门",
        "role" => "角色",
        "customer" => "客户",
        "code_rule" => "编码规则",
        "code" => "编码",
        "application" => "申请单",
        "import_job" => "导入任务",
        "export_job" => "导出任务",
        "interaction" => "互动记录",
        "contract" => "合同",
        "xref" => "外部系统编号",
        "source_queue" => "来源待确认记录",
        "webhook" => "Webhook 订阅",
        _ => "对象",
    }
}

/// A file that cannot be read or written as its format says: the same violation (HTTP
/// 422), or an internal error.
impl From<custos_files::FilesError> for AppError {
    fn from(e: custos_files::FilesError) -> Self {
        match e {
            custos_files::FilesError::Invalid { field, violation } => {
                AppError::validation(field, violation)
            }
            custos_files::FilesError::Rejected(v) => AppError::Rejected(v),
            custos_files::FilesError::Internal(msg) => AppError::Internal(msg),
        }
    }
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Busy => AppError::Conflict(Violation::new(
                "conflict.concurrent",
                "数据正被其他操作修改，请重试",
                "the data is being changed by another operation; retry",
            )),
            other => AppError::Internal(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry_after(wait_us: i64) -> u64 {
        match AppError::too_many_requests(Violation::new("t", "t", "t"), wait_us) {
            AppError::TooManyRequests { retry_after, .. } => retry_after,
            _ => 0,
        }
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_at_least_one() {
        assert_eq!(retry_after(1_500_000), 2);
        assert_eq!(retry_after(2_000_000), 2);
        assert_eq!(retry_after(1), 1);
        assert_eq!(retry_after(0), 1);
        assert_eq!(retry_after(-5), 1);
    }
}
