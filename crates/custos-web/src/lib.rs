//! The HTTP face of custos: REST API under `/api/v1`, OpenAPI document, API docs page,
//! health and metrics. Handlers parse, call one use case in `custos-app`, and render;
//! no business rule lives here.

mod api;
mod body_limit;
mod console;
mod error;
mod extract;
mod guard;
mod input;
mod metrics_access;
mod observe;
mod security_headers;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::response::IntoResponse;
use axum::Router;
use tokio::net::TcpListener;

pub use custos_app::App;
pub use error::ApiError;
pub use metrics_access::{MetricsAccess, WebConfig};

/// State shared by handlers.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub metrics: Arc<observe::Metrics>,
    pub openapi_json: Arc<String>,
    pub web: Arc<WebConfig>,
}

/// The OpenAPI document generated from the handlers' annotations.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api::router_and_doc().1
}

/// Build the full router for an app with the default web settings.
pub fn router(app: App) -> Router {
    router_with(app, WebConfig::default())
}

/// Build the full router for an app.
pub fn router_with(app: App, web: WebConfig) -> Router {
    let (api_router, doc) = api::router_and_doc();
    let openapi_json = doc.to_pretty_json().unwrap_or_else(|_| "{}".to_string());
    let state = AppState {
        app,
        metrics: Arc::new(observe::Metrics::new()),
        openapi_json: Arc::new(openapi_json),
        web: Arc::new(web),
    };
    api_router
        .merge(api::ops_router())
        .merge(console::router())
        .fallback(unknown_path)
        // A defect that panics in a handler answers one 500 problem (rendered and logged
        // by `observe`) instead of dropping the client's connection.
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                error::ApiError(custos_app::AppError::Internal("handler panicked".into()))
                    .into_response()
            },
        ))
        // Inside `observe` (which renders its refusals), after routing (which names the
        // path parameters).
        .layer(axum::middleware::from_fn(guard::refuse_hostile_uri))
        .layer(axum::extract::DefaultBodyLimit::max(
            body_limit::MAX_JSON_BODY,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            observe::observe,
        ))
        // Outermost, so problems rendered by `observe` carry the headers too.
        .layer(axum::middleware::from_fn(
            security_headers::security_headers,
        ))
        .with_state(state)
}

/// An unknown path: the console's 404 page for a browser, problem+json for the rest.
async fn unknown_path(
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    if console::wants_page(uri.path(), &headers) {
        return console::not_found_page(&headers);
    }
    api::not_found().await.into_response()
}

/// Serve plain HTTP with the default web settings until `shutdown` resolves.
pub async fn serve(
    app: App,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(app, WebConfig::default(), listener, shutdown).await
}

/// Serve plain HTTP with these web settings until `shutdown` resolves, then finish
/// in-flight requests.
pub async fn serve_with(
    app: App,
    web: WebConfig,
    listener: TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run(app, web, listener, None, shutdown).await
}

/// Serve HTTPS with `tls` (which may be reloaded while serving); responses carry HSTS.
pub async fn serve_tls(
    app: App,
    web: WebConfig,
    listener: TcpListener,
    tls: Arc<tls::Tls>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    run(app, web, listener, Some(tls), shutdown).await
}

async fn run(
    app: App,
    web: WebConfig,
    listener: TcpListener,
    tls: Option<Arc<tls::Tls>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Jobs left behind by a stopped server are failed, expired files deleted; then the
    // same sweep runs every minute while the server does.
    if let Err(e) = app.exports().sweep_export_jobs().await {
        tracing::warn!(error = %e, "export sweep at start failed");
    }
    let sweeper = tokio::spawn(app.clone().run_export_sweeper());
    let web = WebConfig {
        secure_cookies: web.secure_cookies || tls.is_some(),
        ..web
    };
    let router = router_with(app, web);
    let served = match tls {
        None => {
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
        Some(tls) => {
            use axum::serve::ListenerExt;
            let router = router.layer(axum::middleware::map_response(strict_transport));
            let listener = tls::TlsListener::new(listener, tls)?.tap_io(|_| {});
            axum::serve(
                listener,
                router.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
    };
    sweeper.abort();
    served
}

/// Browsers that reached custos over HTTPS keep to HTTPS for a year.
async fn strict_transport(mut resp: axum::response::Response) -> axum::response::Response {
    resp.headers_mut().insert(
        axum::http::header::STRICT_TRANSPORT_SECURITY,
        axum::http::HeaderValue::from_static("max-age=31536000"),
    );
    resp
}
