//! One error type for every handler. It carries the app error to the `observe`
//! middleware, which knows the request's language and id and renders RFC 9457
//! problem+json.

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use custos_app::AppError;
use custos_core::violation::Lang;

#[derive(Debug)]
pub struct ApiError(pub AppError);

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError(e)
    }
}

/// Marker put in the response for the middleware to render.
#[derive(Clone)]
pub(crate) struct PendingProblem(pub Arc<AppError>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = status.into_response();
        resp.extensions_mut()
            .insert(PendingProblem(Arc::new(self.0)));
        resp
    }
}

/// RFC 9457 problem details with custos' extensions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// URI reference identifying the problem type.
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `auth.invalid_credentials`.
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Every failing field, for validation errors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<ProblemField>,
    /// Existing customers the record looks like, for `customer.duplicate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<custos_app::customers::duplicates::DuplicateReport>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub code: String,
    pub message: String,
}

pub(crate) fn problem(err: &AppError, lang: Lang, request_id: Option<String>) -> Problem {
    let fields = match err {
        AppError::Validation(fs) => fs
            .iter()
            .map(|f| ProblemField {
                field: f.field.clone(),
                code: f.violation.code.clone(),
                message: f.violation.message(lang).to_string(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let code = err.code();
    Problem {
        type_: format!("urn:custos:problem:{code}"),
        title: err.title(lang),
        status: err.status(),
        detail: err.detail(lang),
        code,
        request_id,
        fields,
        duplicates: match err {
            AppError::Duplicate { report, .. } => Some((**report).clone()),
            _ => None,
        },
    }
}
