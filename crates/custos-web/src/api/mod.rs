//! Routes. Every `/api/v1` handler carries a `#[utoipa::path]` annotation and is mounted
//! through `routes!`, so the OpenAPI document cannot drift from the router.

mod params;
pub(crate) use params::{bad_query, not_found, parse_id};
mod activities;
mod applications;
mod audit;
mod auth;
mod codes;
mod customers;
mod duplicates;
mod error_doc;
mod events;
pub(crate) mod exports;
mod hierarchy;
pub(crate) mod imports;
mod lifecycle;
mod notification_channels;
mod ops;
mod org;
mod overview;
mod quality;
mod reports;
mod service_accounts;
mod sources;
mod webhooks;

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub(crate) use ops::ops_router;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "custos API",
        description = "客户主数据与编码管理系统 — customer master data and customer codes. \
            Errors are RFC 9457 problem+json with a stable `code`; send `Accept-Language: en` for English.",
        version = env!("CARGO_PKG_VERSION")
    ),
    modifiers(&BearerAuth),
    components(schemas(crate::error::Problem, crate::error::ProblemField))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub(crate) fn router_and_doc() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (router, mut doc) = api_routes();
    error_doc::document_errors(&mut doc);
    exports::document_direct_export(&mut doc);
    (router, doc)
}

fn api_routes() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    later_routes(earlier_routes()).split_for_parts()
}

/// The first half of the API's routes, in the order the document lists them (one
/// function for all would be too long to read).
fn earlier_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(org::me))
        .routes(routes!(org::list_users, org::create_user))
        .routes(routes!(org::get_user, org::update_user))
        .routes(routes!(org::unlock_user))
        .routes(routes!(org::list_departments, org::create_department))
        .routes(routes!(org::get_department, org::update_department))
        .routes(routes!(org::list_roles, org::create_role))
        .routes(routes!(org::update_role))
        .routes(routes!(
            service_accounts::list_service_accounts,
            service_accounts::create_service_account
        ))
        .routes(routes!(service_accounts::get_service_account))
        .routes(routes!(service_accounts::disable_service_account))
        .routes(routes!(service_accounts::enable_service_account))
        .routes(routes!(
            service_accounts::list_api_keys,
            service_accounts::create_api_key
        ))
        .routes(routes!(service_accounts::revoke_api_key))
        .routes(routes!(
            notification_channels::list_channels,
            notification_channels::create_channel
        ))
        .routes(routes!(
            notification_channels::get_channel,
            notification_channels::update_channel,
            notification_channels::remove_channel
        ))
        .routes(routes!(notification_channels::list_deliveries))
        .routes(routes!(notification_channels::test_channel))
        .routes(routes!(audit::list_audit))
        .routes(routes!(events::list_events))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::webhook_deliveries))
        .routes(routes!(webhooks::replay_webhook))
        .routes(routes!(webhooks::ping_webhook))
        .routes(routes!(codes::list_code_rules, codes::create_code_rule))
        .routes(routes!(codes::get_code_rule))
        .routes(routes!(codes::publish_code_rule))
        .routes(routes!(codes::disable_code_rule))
        .routes(routes!(codes::preview_code_rule))
        .routes(routes!(codes::code_rule_capacity))
        .routes(routes!(codes::validate_code))
        .routes(routes!(
            customers::list_customers,
            customers::create_customer
        ))
        .routes(routes!(customers::get_customer, customers::update_customer))
        .routes(routes!(customers::customer_history))
        .routes(routes!(overview::customer_timeline))
        .routes(routes!(overview::customer_overview))
        .routes(routes!(customers::add_contact))
        .routes(routes!(
            customers::update_contact,
            customers::delete_contact
        ))
        .routes(routes!(customers::list_xrefs))
        .routes(routes!(customers::put_xref, customers::delete_xref))
        .routes(routes!(customers::lookup_xref))
        .routes(routes!(sources::upsert_source_customer))
        .routes(routes!(sources::upsert_source_batch))
        .routes(routes!(sources::list_source_queue))
        .routes(routes!(sources::source_queue_entry))
        .routes(routes!(sources::decide_source_queue))
        .routes(routes!(sources::resolve_code))
        .routes(routes!(
            activities::list_followups,
            activities::add_followup
        ))
}

/// The second half of the API's routes, after [`earlier_routes`].
fn later_routes(r: OpenApiRouter<AppState>) -> OpenApiRouter<AppState> {
    r.routes(routes!(
        activities::list_interactions,
        activities::add_interaction
    ))
    .routes(routes!(activities::update_interaction))
    .routes(routes!(
        activities::list_service_records,
        activities::add_service_record
    ))
    .routes(routes!(
        activities::list_contracts,
        activities::add_contract
    ))
    .routes(routes!(activities::update_contract))
    .routes(routes!(activities::list_orders, activities::add_order))
    .routes(routes!(activities::credit_history, activities::add_credit))
    .routes(routes!(activities::list_activities))
    .routes(routes!(lifecycle::customer_lifecycle))
    .routes(routes!(lifecycle::my_reminders))
    .routes(routes!(lifecycle::customer_flow))
    .routes(routes!(lifecycle::repeat_purchase))
    .routes(routes!(customers::customer_stats))
    .routes(routes!(reports::code_usage))
    .routes(routes!(hierarchy::set_parent))
    .routes(routes!(hierarchy::customer_group))
    .routes(routes!(customers::list_fields, customers::put_field))
    .routes(routes!(customers::add_standard_fields))
    .routes(routes!(
        customers::list_customer_types,
        customers::set_customer_types
    ))
    .routes(routes!(
        applications::list_applications,
        applications::submit_application
    ))
    .routes(routes!(applications::get_application))
    .routes(routes!(applications::approve_application))
    .routes(routes!(applications::reject_application))
    .routes(routes!(applications::return_application))
    .routes(routes!(applications::resubmit_application))
    .routes(routes!(applications::submit_draft))
    .routes(routes!(applications::withdraw_application))
    .routes(routes!(applications::delegate_application))
    .routes(routes!(applications::inbox))
    .routes(routes!(applications::list_notifications))
    .routes(routes!(applications::read_notification))
    .routes(routes!(applications::list_flows, applications::create_flow))
    .routes(routes!(applications::disable_flow))
    .routes(routes!(applications::retrieve_archived))
    .routes(routes!(duplicates::check_duplicates))
    .routes(routes!(duplicates::scan_duplicates))
    .routes(routes!(duplicates::list_groups))
    .routes(routes!(duplicates::get_group))
    .routes(routes!(duplicates::merge_group))
    .routes(routes!(duplicates::dismiss_group))
    .routes(routes!(duplicates::create_merge))
    .routes(routes!(duplicates::undo_merge))
    .routes(routes!(duplicates::customer_merges))
    .routes(routes!(duplicates::customer_lineage))
    .routes(routes!(duplicates::split_customer))
    .routes(routes!(imports::import_template))
    .routes(with_upload_limit(routes!(imports::create_import)))
    .routes(routes!(imports::get_import))
    .routes(routes!(imports::resume_import))
    .routes(routes!(imports::import_rejected))
    .routes(routes!(imports::import_sample))
    .routes(routes!(exports::export_customers, exports::submit_export))
    .routes(routes!(exports::list_export_jobs))
    .routes(routes!(exports::get_export_job, exports::delete_export_job))
    .routes(routes!(exports::download_export))
    .routes(routes!(quality::customer_quality))
    .routes(routes!(quality::quality_summary))
    .routes(routes!(quality::quality_trend))
    .routes(routes!(quality::quality_worklist))
    .routes(routes!(quality::assign_worklist))
    .routes(routes!(quality::recompute_quality))
}

/// Uploads may be larger than the default body limit (import files).
fn with_upload_limit(
    r: utoipa_axum::router::UtoipaMethodRouter<AppState>,
) -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    let (schemas, paths, method_router) = r;
    (
        schemas,
        paths,
        method_router.layer(axum::extract::DefaultBodyLimit::max(
            imports::MAX_UPLOAD_BYTES,
        )),
    )
}
