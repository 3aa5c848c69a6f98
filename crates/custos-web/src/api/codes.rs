use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use custos_app::codes::{
    Capacity, CodeRuleView, CodeValidation, NewCodeRule, Preview, SampleCustomer,
};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// Create a draft code rule (or the next draft version of an existing key).
#[utoipa::path(post, path = "/api/v1/code-rules", tag = "code-rules", security(("bearer" = [])),
    request_body = NewCodeRule,
    responses((status = 201, body = CodeRuleView), (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_code_rule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(input): JsonInput<NewCodeRule>,
) -> Result<(StatusCode, Json<CodeRuleView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.codes().create_code_rule(&actor, input).await?),
    ))
}

/// All code rules with their versions.
#[utoipa::path(get, path = "/api/v1/code-rules", tag = "code-rules", security(("bearer" = [])),
    responses((status = 200, body = Vec<CodeRuleView>)))]
pub async fn list_code_rules(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<CodeRuleView>>, ApiError> {
    Ok(Json(s.app.codes().list_code_rules(&actor).await?))
}

#[utoipa::path(get, path = "/api/v1/code-rules/{key}", tag = "code-rules", security(("bearer" = [])),
    params(("key" = String, Path)),
    responses((status = 200, body = CodeRuleView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_code_rule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(key): Path<String>,
) -> Result<Json<CodeRuleView>, ApiError> {
    Ok(Json(s.app.codes().get_code_rule(&actor, &key).await?))
}

/// Publish the rule's draft; the previous published version is disabled.
#[utoipa::path(post, path = "/api/v1/code-rules/{key}/publish", tag = "code-rules", security(("bearer" = [])),
    params(("key" = String, Path)),
    responses((status = 200, body = CodeRuleView), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn publish_code_rule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(key): Path<String>,
) -> Result<Json<CodeRuleView>, ApiError> {
    Ok(Json(s.app.codes().publish_code_rule(&actor, &key).await?))
}

/// Stop issuing from the rule; its codes stay valid.
#[utoipa::path(post, path = "/api/v1/code-rules/{key}/disable", tag = "code-rules", security(("bearer" = [])),
    params(("key" = String, Path)),
    responses((status = 200, body = CodeRuleView), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn disable_code_rule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(key): Path<String>,
) -> Result<Json<CodeRuleView>, ApiError> {
    Ok(Json(s.app.codes().disable_code_rule(&actor, &key).await?))
}

/// The next codes for a sample customer, consuming nothing.
#[utoipa::path(post, path = "/api/v1/code-rules/{key}/preview", tag = "code-rules", security(("bearer" = [])),
    params(("key" = String, Path)), request_body = SampleCustomer,
    responses((status = 200, body = Preview), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn preview_code_rule(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(key): Path<String>,
    JsonInput(sample): JsonInput<SampleCustomer>,
) -> Result<Json<Preview>, ApiError> {
    Ok(Json(
        s.app
            .codes()
            .preview_code_rule(&actor, &key, sample)
            .await?,
    ))
}

/// Used / remaining codes per sequence scope; warns at 80 %.
#[utoipa::path(get, path = "/api/v1/code-rules/{key}/capacity", tag = "code-rules", security(("bearer" = [])),
    params(("key" = String, Path)),
    responses((status = 200, body = Capacity), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn code_rule_capacity(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(key): Path<String>,
) -> Result<Json<Capacity>, ApiError> {
    Ok(Json(s.app.codes().code_rule_capacity(&actor, &key).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateCode {
    pub code: String,
}

/// Check a code: shape, rule and version, decoded segments, check character, and (with
/// `code.status`) whether and how it is issued.
#[utoipa::path(post, path = "/api/v1/codes/validate", tag = "codes", security(("bearer" = [])),
    request_body = ValidateCode,
    responses((status = 200, body = CodeValidation), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn validate_code(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(req): ApiJson<ValidateCode>,
) -> Result<Json<CodeValidation>, ApiError> {
    Ok(Json(s.app.codes().validate_code(&actor, &req.code).await?))
}
