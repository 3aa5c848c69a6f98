//! Answers for path and query parameters that name nothing or do not parse, shared by
//! every API module.

use custos_app::AppError;
use custos_core::Violation;

use crate::error::ApiError;

pub(crate) async fn not_found() -> ApiError {
    ApiError(AppError::NotFound {
        what: "route",
        key: String::new(),
    })
}

/// 404 for a path parameter that cannot name anything (e.g. a non-numeric id).
pub(crate) fn bad_id(what: &'static str, raw: &str) -> ApiError {
    ApiError(AppError::NotFound {
        what,
        key: raw.to_string(),
    })
}

pub(crate) fn parse_id(what: &'static str, raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| bad_id(what, raw))
}

/// A query-string value that does not parse.
pub(crate) fn bad_query(
    field: &str,
    value: &str,
    expected_zh: &str,
    expected_en: &str,
) -> ApiError {
    ApiError(AppError::Validation(vec![Violation::new(
        "query.invalid",
        format!("查询参数 {field}=“{value}”无效：{expected_zh}"),
        format!("query parameter {field}='{value}' is invalid: {expected_en}"),
    )
    .on(field)]))
}
