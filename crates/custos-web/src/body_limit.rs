//! Request bodies over their limit are refused with 413 and problem+json, whether the
//! size is declared up front (`Content-Length`) or found while reading: a JSON body
//! past [`MAX_JSON_BODY`], an upload past `imports::MAX_UPLOAD_BYTES`.

use axum::http::{header, HeaderMap, StatusCode};

use custos_app::AppError;
use custos_core::Violation;

use crate::error::ApiError;

/// Largest JSON request body (axum's default, stated here so the error can name it).
pub(crate) const MAX_JSON_BODY: usize = 2 * 1024 * 1024;

/// The answer to a body over `limit` bytes.
pub(crate) fn too_large(limit: usize) -> ApiError {
    let (amount, unit) = if limit >= 1 << 20 {
        (limit >> 20, "MiB")
    } else {
        (limit >> 10, "KiB")
    };
    ApiError(AppError::TooLarge(Violation::new(
        "request.too_large",
        format!("请求体过大：最多 {amount} {unit}"),
        format!("the request body is too large: at most {amount} {unit}"),
    )))
}

/// Did reading the body stop at its limit? (axum reports the limit as a 413 rejection.)
pub(crate) fn over_limit(status: StatusCode) -> bool {
    status == StatusCode::PAYLOAD_TOO_LARGE
}

/// Does the request declare (`Content-Length`) a body over `limit`? Checked before
/// anything is read, so an oversized upload is refused at once instead of after the
/// limit's worth of bytes has been received.
pub(crate) fn declared_over(headers: &HeaderMap, limit: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > limit as u64)
}
