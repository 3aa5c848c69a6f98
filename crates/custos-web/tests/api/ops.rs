//! Health, readiness, metrics, the OpenAPI document, the docs page, and the generic
//! problem+json answers for requests that match nothing.

#![allow(clippy::unwrap_used)]

use reqwest::Method;
use serde_json::Value;

use crate::backend_test;
use crate::helpers::*;

async fn get_anon(t: &TestApp, path: &str) -> reqwest::Response {
    t.req(Method::GET, path, None)
        .send()
        .await
        .expect("request")
}

fn content_type(r: &reqwest::Response) -> String {
    r.headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

backend_test!(health_and_readiness, |t| {
    let r = get_anon(&t, "/healthz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ok");
    let r = get_anon(&t, "/readyz").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ready");
});

backend_test!(metrics_count_requests, |t| {
    get_anon(&t, "/healthz").await;
    let r = get_anon(&t, "/metrics").await;
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/plain"));
    let text = r.text().await.unwrap();
    assert!(
        text.contains("# TYPE custos_http_requests_total counter"),
        "{text}"
    );
    let line = text
        .lines()
        .find(|l| l.starts_with("custos_http_requests_total{") && l.contains("status=\"200\""))
        .unwrap_or_else(|| panic!("no 200 sample in {text}"));
    assert!(line.contains("method=\"GET\""), "{line}");
    assert!(text.contains("custos_http_request_duration_seconds_bucket"));
});

backend_test!(openapi_document_lists_the_api, |t| {
    let r = get_anon(&t, "/api/v1/openapi.json").await;
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("application/json"));
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/api/v1/auth/login",
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/audit",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["paths"]["/api/v1/auth/login"]["post"].is_object());
    assert!(doc["paths"]["/api/v1/users"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/users"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // The served document is the one the code generates.
    assert_eq!(doc, serde_json::to_value(custos_web::openapi()).unwrap());
});

backend_test!(docs_page_and_its_assets, |t| {
    let r = get_anon(&t, "/docs").await;
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/html"));
    let html = r.text().await.unwrap();
    assert!(html.contains("/docs/swagger-ui-bundle.js"));
    // The start-up script is a file (no inline script: see the page's CSP).
    assert!(html.contains("/docs/docs.js"));
    let r = get_anon(&t, "/docs/docs.js").await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("/api/v1/openapi.json"));

    let r = get_anon(&t, "/docs/swagger-ui-bundle.js").await;
    assert_eq!(r.status(), 200);
    assert!(
        content_type(&r).contains("javascript"),
        "{}",
        content_type(&r)
    );
    assert!(r.bytes().await.unwrap().len() > 100_000);
    let r = get_anon(&t, "/docs/swagger-ui.css").await;
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/css"));

    let r = t.client.get(format!("{}/", t.base)).send().await.unwrap();
    assert_eq!(
        r.url().path(),
        "/login",
        "root leads to the console's login page"
    );
});

backend_test!(unknown_routes_and_bad_ids_are_404_problems, |t| {
    let p = problem(get_anon(&t, "/api/v1/nothing-here").await, 404).await;
    assert_eq!(p["status"], 404);
    assert!(p["request_id"].is_string());
    let p = problem(get_anon(&t, "/no/such/page").await, 404).await;
    assert_eq!(p["code"], "route.not_found");

    let admin = t.admin_token().await;
    for path in [
        "/api/v1/users/abc",
        "/api/v1/users/1.5",
        "/api/v1/users/99999999999999999999",
    ] {
        let p = problem(t.get(path, &admin).await, 404).await;
        assert_eq!(p["code"], "user.not_found", "{path}");
    }
    let p = problem(t.get("/api/v1/departments/x", &admin).await, 404).await;
    assert_eq!(p["code"], "department.not_found");

    // Wrong method on a known route: still problem+json.
    let r = t
        .req(Method::DELETE, "/api/v1/users", Some(&admin))
        .send()
        .await
        .unwrap();
    let p = problem(r, 405).await;
    assert_eq!(p["status"], 405);
});

backend_test!(request_id_is_echoed, |t| {
    let r = t
        .req(Method::GET, "/healthz", None)
        .header("x-request-id", "trace-me-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-123");

    let r = t
        .req(Method::GET, "/api/v1/me", None)
        .header("x-request-id", "trace-me-456")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "trace-me-456");
    let p = problem(r, 401).await;
    assert_eq!(p["request_id"], "trace-me-456");

    // Without one, the server makes one up, different each time.
    let a = get_anon(&t, "/healthz").await;
    let b = get_anon(&t, "/healthz").await;
    let a = a.headers()["x-request-id"].to_str().unwrap().to_string();
    let b = b.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(!a.is_empty());
    assert_ne!(a, b);
});
