//! The console (管理控制台): pages for people, in Chinese by default, over the same use
//! cases as the API. A page handler has the shape of an API handler — extract, call one
//! use case, render a template — so permissions, data scope, masking, validation and audit
//! are decided in `custos-app`; a template only shows what it is given.

mod account;
mod admin_nav;
mod admin_org;
mod admin_system;
mod admin_users;
mod admin_words;
mod application_form;
mod applications;
mod assets;
mod audit_pages;
mod channels;
mod choices;
mod customer_assign;
mod customer_detail;
mod customer_fields;
mod customer_form;
mod customer_group;
mod customer_list;
mod customer_split;
mod customer_timeline;
mod customer_words;
mod dashboard;
mod duplicates;
mod exports;
mod fields;
mod figures;
mod flow_form;
mod flows;
mod form;
mod i18n;
mod import_mapping;
mod imports;
mod inbox;
mod list_query;
mod login;
mod page;
mod quality;
mod region_cascade;
mod report_figures;
mod rule_designer;
mod rule_form;
mod rules;
mod service_accounts;
pub(crate) mod session;
mod sources;
mod sso;
mod stats;
mod webhooks;
mod words;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::AppState;

/// Routes of the console. Paths are stable, to be bookmarked and shared.
pub(crate) fn router() -> Router<AppState> {
    later_routes(earlier_routes())
}

/// The first half of the console's routes (one function for all would be too long to
/// read).
fn earlier_routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/language", post(login::language))
        .route("/auth/oidc/{name}", get(sso::begin))
        .route("/auth/oidc/{name}/callback", get(sso::callback))
        .route("/", get(dashboard::page))
        .route("/quality", get(quality::page))
        .route("/quality/assign", post(quality::assign))
        .route("/quality/export.xlsx", post(quality::export_xlsx))
        .route("/stats", get(stats::page))
        .route("/stats/export.xlsx", post(stats::export_xlsx))
        .route("/account", get(account::page))
        .route("/account/language", post(account::language))
        .route("/account/password", post(account::password))
        // Scripts and styles go out gzipped to clients that accept it (the pages' weight
        // budget is for compressed bytes); pages themselves are small and uncompressed.
        .route(
            "/assets/{name}",
            get(assets::serve).layer(tower_http::compression::CompressionLayer::new()),
        )
        .route("/customers", get(customer_list::page))
        .route("/customers/regions", get(region_cascade::regions))
        .route("/customers/list/columns", post(customer_list::columns))
        .route("/customers/list/export", post(customer_list::export))
        .route("/exports", get(exports::list))
        .route("/exports/{id}", get(exports::job))
        .route("/exports/{id}/progress", get(exports::progress))
        .route("/exports/{id}/file", get(exports::download))
        .route("/exports/{id}/delete", post(exports::delete))
        .route(
            "/customers/new",
            get(customer_form::new_form).post(customer_form::create),
        )
        .route("/customers/new/duplicates", post(customer_form::hints))
        .route("/customers/{code}", get(customer_detail::page))
        .route("/customers/{code}/pii", post(customer_detail::reveal))
        .route(
            "/customers/{code}/parent",
            post(customer_detail::set_parent),
        )
        .route(
            "/customers/{code}/split",
            get(customer_split::form).post(customer_split::submit),
        )
        .route(
            "/customers/{code}/edit",
            get(customer_form::edit_form).post(customer_form::update),
        )
        .route("/applications", get(applications::list))
        .route(
            "/applications/new",
            get(application_form::form).post(application_form::submit),
        )
        .route("/applications/{id}", get(applications::detail))
        .route("/applications/{id}/withdraw", post(applications::withdraw))
        .route("/applications/{id}/decide", post(applications::decide))
        .route("/applications/{id}/resubmit", post(applications::resubmit))
        .route("/applications/{id}/delegate", post(applications::delegate))
        .route("/inbox", get(inbox::page))
        .route("/imports", get(imports::list))
        .route("/imports/template", get(imports::template))
        .route(
            "/imports/new",
            get(imports::new_form).post(imports::upload).layer(
                axum::extract::DefaultBodyLimit::max(crate::api::imports::MAX_UPLOAD_BYTES),
            ),
        )
        .route(
            "/imports/upload/{token}",
            get(import_mapping::mapping_form).post(import_mapping::mapping_post),
        )
        .route("/imports/{id}", get(imports::job))
        .route("/imports/{id}/progress", get(imports::progress))
        .route("/imports/{id}/rejected.xlsx", get(imports::rejected_xlsx))
        .route("/imports/{id}/sample.xlsx", get(imports::sample_xlsx))
        .route("/imports/{id}/resume", post(imports::resume))
        .route(
            "/imports/{id}/sample/{row}/check",
            post(imports::check_sample),
        )
        .route("/flows", get(flows::list))
        .route("/flows/new", get(flows::new_form).post(flows::create))
        .route("/flows/{key}", get(flows::edit_form).post(flows::update))
        .route("/flows/{key}/disable", post(flows::disable))
        .route("/fields", get(fields::list))
        .route("/fields/new", get(fields::new_form).post(fields::create))
        .route("/fields/standard", post(fields::add_standard))
}

/// The second half of the console's routes, after [`earlier_routes`].
fn later_routes(r: Router<AppState>) -> Router<AppState> {
    r.route(
        "/fields/{key}/edit",
        get(fields::edit_form).post(fields::update),
    )
    .route("/duplicates", get(duplicates::queue))
    .route("/duplicates/{id}", get(duplicates::group))
    .route("/duplicates/{id}/merge", post(duplicates::merge))
    .route("/duplicates/{id}/dismiss", post(duplicates::dismiss))
    .route("/sources", get(sources::list))
    .route("/sources/{id}", get(sources::entry))
    .route("/sources/{id}/decide", post(sources::decide))
    .route(
        "/customers/{code}/merges/{id}/undo",
        post(customer_detail::undo_merge),
    )
    .route("/admin/users", get(admin_users::list))
    .route(
        "/admin/users/new",
        get(admin_users::new_form).post(admin_users::create),
    )
    .route("/admin/users/{id}", get(admin_users::detail))
    .route("/admin/users/{id}/{action}", post(admin_users::act))
    .route("/admin/departments", get(admin_org::departments))
    .route("/admin/departments/new", post(admin_org::create_department))
    .route(
        "/admin/departments/{id}",
        post(admin_org::update_department),
    )
    .route("/admin/roles", get(admin_org::roles))
    .route("/admin/roles/grant", post(admin_org::grant))
    .route("/admin/roles/revoke", post(admin_org::revoke))
    .route("/admin/roles/{key}", post(admin_org::save_role))
    .route(
        "/admin/service-accounts",
        get(service_accounts::list).post(service_accounts::create),
    )
    .route(
        "/admin/service-accounts/{id}",
        get(service_accounts::detail),
    )
    .route(
        "/admin/service-accounts/{id}/keys",
        post(service_accounts::create_key),
    )
    .route(
        "/admin/service-accounts/{id}/keys/{key}/revoke",
        post(service_accounts::revoke_key),
    )
    .route(
        "/admin/service-accounts/{id}/{action}",
        post(service_accounts::set_disabled),
    )
    .route(
        "/admin/webhooks",
        get(webhooks::list).post(webhooks::create),
    )
    .route(
        "/admin/webhooks/{id}",
        get(webhooks::detail).post(webhooks::update),
    )
    .route("/admin/webhooks/{id}/{action}", post(webhooks::act))
    .route(
        "/admin/channels",
        get(channels::list).post(channels::create),
    )
    .route(
        "/admin/channels/{id}",
        get(channels::detail).post(channels::update),
    )
    .route("/admin/channels/{id}/{action}", post(channels::act))
    .route("/admin/system", get(admin_system::page))
    .route("/admin/system/test-mail", post(admin_system::test_mail))
    .route("/audit", get(audit_pages::list))
    .route("/audit/verify", post(audit_pages::verify))
    .route("/audit/{seq}", get(audit_pages::entry))
    .route("/rules", get(rules::list))
    .route("/rules/new", get(rule_designer::new_form))
    .route("/rules/designer", post(rule_designer::submit))
    .route("/rules/{key}", get(rules::detail))
    .route("/rules/{key}/edit", get(rule_designer::edit_form))
    .route("/rules/{key}/publish", post(rules::publish))
    .route("/rules/{key}/replace", post(rules::replace))
    .route("/rules/{key}/disable", post(rules::disable))
    .route("/rules/{key}/delete-draft", post(rules::delete_draft))
    .route("/rules/{key}/apply-publish", post(rules::apply_publish))
}

/// Whether a request for an unknown path comes from a browser page rather than an API
/// client (which gets problem+json).
pub(crate) fn wants_page(path: &str, headers: &HeaderMap) -> bool {
    !path.starts_with("/api/")
        && headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}

/// The console's 404 page for an unknown path.
pub(crate) fn not_found_page(headers: &HeaderMap) -> Response {
    let lang = session::anonymous_lang(headers);
    let chrome = page::Chrome::anonymous(lang, "error.title");
    let err = custos_app::AppError::not_found("page", "");
    let mut r = page::PageError::new(chrome, err).into_response();
    *r.status_mut() = StatusCode::NOT_FOUND;
    r
}
