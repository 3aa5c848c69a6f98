use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use custos_app::customers::{CustomerType, CustomerView, NewCustomer};

use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, Auth};
use crate::AppState;

/// Create a customer and issue its code in one transaction.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])),
    request_body = NewCustomer,
    responses((status = 201, body = CustomerView), (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(input): ApiJson<NewCustomer>,
) -> Result<(StatusCode, Json<CustomerView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.create_customer(&actor, input).await?),
    ))
}

/// One customer by code (404 when outside the caller's data scope).
#[utoipa::path(get, path = "/api/v1/customers/{code}", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = CustomerView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(s.app.get_customer(&actor, &code).await?))
}

/// Configured customer types.
#[utoipa::path(get, path = "/api/v1/customer-types", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = Vec<CustomerType>)))]
pub async fn list_customer_types(
    State(s): State<AppState>,
    Auth(_actor): Auth,
) -> Result<Json<Vec<CustomerType>>, ApiError> {
    Ok(Json(s.app.customer_types().await?))
}

/// Replace the customer types (`field.manage`).
#[utoipa::path(put, path = "/api/v1/customer-types", tag = "customers", security(("bearer" = [])),
    request_body = Vec<CustomerType>,
    responses((status = 200, body = Vec<CustomerType>), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_customer_types(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiJson(types): ApiJson<Vec<CustomerType>>,
) -> Result<Json<Vec<CustomerType>>, ApiError> {
    Ok(Json(s.app.set_customer_types(&actor, types).await?))
}
