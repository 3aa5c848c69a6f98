use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

use custos_app::customers::{
    ContactInput, ContactPatch, CustomerPatch, CustomerType, CustomerView, HistoryEntry,
    NewCustomer,
};
use custos_app::fields::FieldDefinition;
use custos_app::search::{CustomerPage, CustomerQuery, CustomerStats};
use custos_app::xref::{XrefInput, XrefView};

use super::{bad_query, parse_id};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::input::JsonInput;
use crate::AppState;

/// Create a customer and issue its code in one transaction.
#[utoipa::path(post, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])),
    request_body = NewCustomer,
    responses((status = 201, body = CustomerView), (status = 422, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn create_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(input): JsonInput<NewCustomer>,
) -> Result<(StatusCode, Json<CustomerView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.customers().create_customer(&actor, input).await?),
    ))
}

/// Search customers within the caller's data scope: filters, sort, cursor pages, total.
/// Custom fields match by equality as `custom.<key>=value`.
#[utoipa::path(get, path = "/api/v1/customers", tag = "customers", security(("bearer" = [])),
    params(CustomerQuery),
    responses((status = 200, body = CustomerPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_customers(
    State(s): State<AppState>,
    Auth(actor): Auth,
    ApiQuery(mut q): ApiQuery<CustomerQuery>,
    ApiQuery(pairs): ApiQuery<Vec<(String, String)>>,
) -> Result<Json<CustomerPage>, ApiError> {
    q.custom = custom_filters(&pairs);
    Ok(Json(s.app.customers().search_customers(&actor, q).await?))
}

/// The custom-field filters of a customer query string (`custom.<key>=value`), which
/// `CustomerQuery` itself does not read: for the list and the direct export alike.
pub(crate) fn custom_filters(pairs: &[(String, String)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("custom.")
                .map(|k| (k.to_string(), v.clone()))
        })
        .collect()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AsOfQuery {
    /// RFC 3339 time: the record as it was then.
    pub as_of: Option<String>,
}

/// One customer by code (404 when outside the caller's data scope). Personal data is
/// masked unless the caller holds `customer.pii.read` (and then the read is audited).
#[utoipa::path(get, path = "/api/v1/customers/{code}", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path), AsOfQuery),
    responses((status = 200, body = CustomerView),
              (status = 308, description = "merged code: `Location` is the survivor", body = CustomerView),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiQuery(q): ApiQuery<AsOfQuery>,
) -> Result<axum::response::Response, ApiError> {
    let as_of = match q.as_of.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map(|t| t.timestamp_micros())
                .map_err(|_| {
                    bad_query(
                        "as_of",
                        t,
                        "应为 RFC 3339 时间",
                        "expected an RFC 3339 time",
                    )
                })?,
        ),
        None => None,
    };
    let view = s
        .app
        .customers()
        .get_customer_as_of(&actor, &code, as_of)
        .await?;
    // A merged code answers with a permanent redirect to its survivor (the merged record
    // itself stays readable with `as_of`).
    if let (Some(survivor), None) = (&view.merged_into, as_of) {
        let location = format!("/api/v1/customers/{}", urlencoding_path(survivor));
        return Ok((
            StatusCode::PERMANENT_REDIRECT,
            [(axum::http::header::LOCATION, location)],
            Json(view),
        )
            .into_response());
    }
    Ok(Json(view).into_response())
}

/// Percent-encode a code for a URL path (codes are usually plain ASCII already).
pub(crate) fn urlencoding_path(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Change a customer. `version` must be the one read (409 otherwise); a `reason` is
/// required when name, uscc, id_number or customer_type change.
#[utoipa::path(patch, path = "/api/v1/customers/{code}", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = CustomerPatch,
    responses((status = 200, body = CustomerView), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_customer(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiJson(patch): ApiJson<CustomerPatch>,
) -> Result<Json<CustomerView>, ApiError> {
    Ok(Json(
        s.app
            .customers()
            .update_customer(&actor, &code, patch)
            .await?,
    ))
}

/// The change history (变更记录) of a customer, oldest first; personal data masked.
#[utoipa::path(get, path = "/api/v1/customers/{code}/history", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = Vec<HistoryEntry>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_history(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    Ok(Json(
        s.app.customers().customer_history(&actor, &code).await?,
    ))
}

/// Add a contact person; `is_primary` moves the primary flag to it.
#[utoipa::path(post, path = "/api/v1/customers/{code}/contacts", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path)), request_body = ContactInput,
    responses((status = 201, body = CustomerView), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add_contact(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
    ApiJson(input): ApiJson<ContactInput>,
) -> Result<(StatusCode, Json<CustomerView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.customers().add_contact(&actor, &code, input).await?),
    ))
}

/// Change a contact person.
#[utoipa::path(patch, path = "/api/v1/customers/{code}/contacts/{id}", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path), ("id" = i64, Path)), request_body = ContactPatch,
    responses((status = 200, body = CustomerView), (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_contact(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((code, id)): Path<(String, String)>,
    ApiJson(patch): ApiJson<ContactPatch>,
) -> Result<Json<CustomerView>, ApiError> {
    let id = parse_id("contact", &id)?;
    Ok(Json(
        s.app
            .customers()
            .update_contact(&actor, &code, id, patch)
            .await?,
    ))
}

/// Remove a contact person.
#[utoipa::path(delete, path = "/api/v1/customers/{code}/contacts/{id}", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path), ("id" = i64, Path)),
    responses((status = 200, body = CustomerView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_contact(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((code, id)): Path<(String, String)>,
) -> Result<Json<CustomerView>, ApiError> {
    let id = parse_id("contact", &id)?;
    Ok(Json(
        s.app.customers().delete_contact(&actor, &code, id).await?,
    ))
}

/// Customer statistics (统计报表) within the caller's `stats.read` scope.
#[utoipa::path(get, path = "/api/v1/stats/customers", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = CustomerStats), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn customer_stats(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<CustomerStats>, ApiError> {
    Ok(Json(s.app.customers().customer_stats(&actor).await?))
}

/// The field catalog (数据标准): built-in and custom fields.
#[utoipa::path(get, path = "/api/v1/fields", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = Vec<FieldDefinition>)))]
pub async fn list_fields(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<Vec<FieldDefinition>>, ApiError> {
    Ok(Json(s.app.fields().list_fields(&actor).await?))
}

/// Add the standard fields (标准字段: invoicing details, addresses by purpose, credit
/// limit, intent, product needs) the catalog does not define yet (`field.manage`).
#[utoipa::path(post, path = "/api/v1/fields/standard", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = custos_app::standard_fields::StandardFieldsAdded),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn add_standard_fields(
    State(s): State<AppState>,
    Auth(actor): Auth,
) -> Result<Json<custos_app::standard_fields::StandardFieldsAdded>, ApiError> {
    Ok(Json(s.app.fields().add_standard_fields(&actor).await?))
}

/// Add or replace a custom field (`field.manage`).
#[utoipa::path(post, path = "/api/v1/fields", tag = "customers", security(("bearer" = [])),
    request_body = FieldDefinition,
    responses((status = 201, body = FieldDefinition), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put_field(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(def): JsonInput<FieldDefinition>,
) -> Result<(StatusCode, Json<FieldDefinition>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(s.app.fields().put_field(&actor, def).await?),
    ))
}

/// A customer's ids in other systems.
#[utoipa::path(get, path = "/api/v1/customers/{code}/xrefs", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = Vec<XrefView>), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list_xrefs(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path(code): Path<String>,
) -> Result<Json<Vec<XrefView>>, ApiError> {
    Ok(Json(s.app.sources().list_xrefs(&actor, &code).await?))
}

/// Link a customer to its id in an external system (unique per system).
#[utoipa::path(put, path = "/api/v1/customers/{code}/xrefs/{system}", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path), ("system" = String, Path)), request_body = XrefInput,
    responses((status = 200, body = XrefView), (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn put_xref(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((code, system)): Path<(String, String)>,
    JsonInput(input): JsonInput<XrefInput>,
) -> Result<Json<XrefView>, ApiError> {
    Ok(Json(
        s.app
            .sources()
            .put_xref(&actor, &code, &system, input)
            .await?,
    ))
}

/// Remove a customer's id in an external system.
#[utoipa::path(delete, path = "/api/v1/customers/{code}/xrefs/{system}", tag = "customers", security(("bearer" = [])),
    params(("code" = String, Path), ("system" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_xref(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((code, system)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.app.sources().delete_xref(&actor, &code, &system).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The customer code for an external system's id.
#[utoipa::path(get, path = "/api/v1/xrefs/{system}/{source_id}", tag = "customers", security(("bearer" = [])),
    params(("system" = String, Path), ("source_id" = String, Path)),
    responses((status = 200, body = XrefView), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn lookup_xref(
    State(s): State<AppState>,
    Auth(actor): Auth,
    Path((system, source_id)): Path<(String, String)>,
) -> Result<Json<XrefView>, ApiError> {
    Ok(Json(
        s.app
            .sources()
            .lookup_xref(&actor, &system, &source_id)
            .await?,
    ))
}

/// Configured customer types.
#[utoipa::path(get, path = "/api/v1/customer-types", tag = "customers", security(("bearer" = [])),
    responses((status = 200, body = Vec<CustomerType>)))]
pub async fn list_customer_types(
    State(s): State<AppState>,
    Auth(_actor): Auth,
) -> Result<Json<Vec<CustomerType>>, ApiError> {
    Ok(Json(s.app.customers().customer_types().await?))
}

/// Replace the customer types (`field.manage`).
#[utoipa::path(put, path = "/api/v1/customer-types", tag = "customers", security(("bearer" = [])),
    request_body = Vec<CustomerType>,
    responses((status = 200, body = Vec<CustomerType>), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_customer_types(
    State(s): State<AppState>,
    Auth(actor): Auth,
    JsonInput(types): JsonInput<Vec<CustomerType>>,
) -> Result<Json<Vec<CustomerType>>, ApiError> {
    Ok(Json(
        s.app.customers().set_customer_types(&actor, types).await?,
    ))
}
