//! Web hardening (issue 28, defect 12): client request ids, security headers, `/metrics`
//! access, 413 for bodies over their limit, the audit log's paging, permission before
//! body validation, and deleting a running export job.

#![allow(clippy::unwrap_used)]

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use custos_app::{Backend, Context, Source};

use crate::backend_test;
use crate::helpers::*;

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// Every audit entry (newest first).
async fn audit_entries(t: &TestApp, admin: &str) -> Vec<Value> {
    let page = body(t.get("/api/v1/audit?limit=1000", admin).await, 200).await;
    page["items"].as_array().unwrap().clone()
}

backend_test!(client_request_id_is_kept_only_when_safe, |t| {
    let admin = t.admin_token().await;
    let create = |name: &'static str, id: String| {
        t.req(Method::POST, "/api/v1/departments", Some(&admin))
            .header("x-request-id", id)
            .json(&json!({"name": name}))
    };
    // A safe id is kept as given, in the answer and in the audit log.
    let safe = "req-42:A.b_c";
    let r = create("一部", safe.into()).send().await.unwrap();
    assert_eq!(header(&r, "x-request-id"), safe);
    body(r, 201).await;
    // Markup, quotes, spaces, a 65-character id: replaced by a generated one.
    let hostile = [
        "<script>alert(1)</script>".to_string(),
        "x' OR '1'='1".to_string(),
        "a b".to_string(),
        "a".repeat(65),
        "订单-1".to_string(),
    ];
    let mut used = Vec::new();
    for (i, given) in hostile.iter().enumerate() {
        let name: &'static str = ["二部", "三部", "四部", "五部", "六部"][i];
        let mut req = t
            .req(Method::POST, "/api/v1/departments", Some(&admin))
            .json(&json!({"name": name}));
        req = match reqwest::header::HeaderValue::from_bytes(given.as_bytes()) {
            Ok(v) => req.header("x-request-id", v),
            Err(_) => panic!("test id {given:?} is not a header value"),
        };
        let r = req.send().await.unwrap();
        let echoed = header(&r, "x-request-id");
        assert_ne!(&echoed, given);
        assert!(
            !echoed.is_empty()
                && echoed.len() <= 64
                && echoed
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c)),
            "{echoed}"
        );
        body(r, 201).await;
        used.push(echoed);
    }
    // A problem body names the id actually used.
    let r = t
        .req(Method::GET, "/api/v1/me", None)
        .header("x-request-id", "<b>x</b>")
        .send()
        .await
        .unwrap();
    let echoed = header(&r, "x-request-id");
    let p = problem(r, 401).await;
    assert_eq!(p["request_id"], echoed);
    assert_ne!(echoed, "<b>x</b>");

    let entries = audit_entries(&t, &admin).await;
    let ids: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == "department.create")
        .map(|e| e["request_id"].as_str().unwrap_or(""))
        .collect();
    assert!(ids.contains(&safe), "{ids:?}");
    for (given, echoed) in hostile.iter().zip(&used) {
        assert!(ids.contains(&echoed.as_str()), "{echoed} not in {ids:?}");
        assert!(!ids.contains(&given.as_str()), "{given} stored verbatim");
    }
});

fn assert_security_headers(r: &reqwest::Response, what: &str) {
    assert_eq!(header(r, "x-content-type-options"), "nosniff", "{what}");
    assert_eq!(header(r, "referrer-policy"), "no-referrer", "{what}");
    assert_eq!(header(r, "x-frame-options"), "DENY", "{what}");
    let csp = header(r, "content-security-policy");
    assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
}

fn assert_api_headers(r: &reqwest::Response, what: &str) {
    assert_security_headers(r, what);
    assert!(
        header(r, "content-security-policy").starts_with("default-src 'none'"),
        "{what}"
    );
    assert_eq!(header(r, "cache-control"), "no-store", "{what}");
}

backend_test!(security_headers_on_api_login_and_docs, |t| {
    // The login answer carries a token.
    let r = t
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "admin", "password": ADMIN_PASSWORD}),
        )
        .await;
    assert_api_headers(&r, "login");
    let admin = body(r, 200).await["token"].as_str().unwrap().to_string();
    let r = t.get("/api/v1/me", &admin).await;
    assert_api_headers(&r, "me");
    body(r, 200).await;
    // Problems too, and the OpenAPI document.
    let r = t.req(Method::GET, "/api/v1/me", None).send().await.unwrap();
    assert_api_headers(&r, "401");
    let r = t.get("/api/v1/nothing", &admin).await;
    assert_api_headers(&r, "404");
    let r = t.get("/api/v1/openapi.json", &admin).await;
    assert_api_headers(&r, "openapi");
    let r = t.req(Method::GET, "/healthz", None).send().await.unwrap();
    assert_security_headers(&r, "healthz");

    // The docs page: framed by no one, scripts only from this origin, none inline.
    let r = t.req(Method::GET, "/docs", None).send().await.unwrap();
    assert_security_headers(&r, "docs");
    let csp = header(&r, "content-security-policy");
    let directive = |name: &str| -> String {
        csp.split(';')
            .map(str::trim)
            .find(|d| d.starts_with(&format!("{name} ")))
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(directive("script-src"), "script-src 'self'", "{csp}");
    assert_eq!(directive("connect-src"), "connect-src 'self'", "{csp}");
    assert_eq!(directive("default-src"), "default-src 'none'", "{csp}");
    let html = r.text().await.unwrap();
    // Every script and stylesheet is a file of this server, which serves it.
    let mut assets = Vec::new();
    for tag in html.split('<').skip(1) {
        if tag.starts_with("script") {
            let src = tag
                .split("src=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .unwrap_or_else(|| panic!("inline script in the docs page: <{tag}"));
            let body = tag.split_once('>').map(|(_, b)| b).unwrap_or("");
            assert!(body.trim().is_empty(), "script with a body: <{tag}");
            assets.push(src.to_string());
        } else if tag.starts_with("link") {
            let href = tag.split("href=\"").nth(1).unwrap().split('"').next();
            assets.push(href.unwrap().to_string());
        } else {
            assert!(!tag.contains(" on"), "inline handler: <{tag}");
            assert!(!tag.starts_with("style"), "inline style element: <{tag}");
        }
    }
    assert!(assets.len() >= 3, "{assets:?}");
    for a in &assets {
        assert!(a.starts_with('/') && !a.starts_with("//"), "{a}");
        let r = t.req(Method::GET, a, None).send().await.unwrap();
        assert_eq!(r.status(), 200, "{a}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{a}");
    }
    let start = t
        .req(Method::GET, "/docs/docs.js", None)
        .send()
        .await
        .unwrap();
    let start = start.text().await.unwrap();
    assert!(start.contains("/api/v1/openapi.json"), "{start}");
});

/// `/metrics` with allowed networks that exclude this test's loopback peer.
fn restricted_metrics(token: Option<&str>) -> custos_web::WebConfig {
    custos_web::WebConfig {
        secure_cookies: false,
        metrics: custos_web::MetricsAccess {
            allow: vec![custos_web::MetricsAccess::parse_allowed("10.0.0.0/8").unwrap()],
            token: token.map(str::to_string),
        },
    }
}

async fn metrics_need_an_allowed_peer_or_the_token(backend: Backend) {
    let token = "metrics-token-0123456789";
    let Some(t) = spawn_web(backend, restricted_metrics(Some(token))).await else {
        eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    let anon = t.req(Method::GET, "/metrics", None).send().await.unwrap();
    let p = problem(anon, 404).await;
    assert_eq!(p["code"], "route.not_found");
    // A forwarded-for header is not the peer.
    let r = t
        .req(Method::GET, "/metrics", None)
        .header("x-forwarded-for", "10.1.2.3")
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    for wrong in ["metrics-token-0123456788", "", token.trim_end_matches('9')] {
        let r = t.req(Method::GET, "/metrics", Some(wrong)).send().await;
        problem(r.unwrap(), 404).await;
    }
    // A user's own session token is not the metrics token.
    let admin = t.admin_token().await;
    problem(t.get("/metrics", &admin).await, 404).await;
    let r = t.get("/metrics", token).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains("custos_http_requests_total"), "{text}");
    t.stop().await;

    // Without a token configured, no bearer value opens it.
    let Some(t) = spawn_web(backend, restricted_metrics(None)).await else {
        return;
    };
    problem(t.get("/metrics", "anything-at-all-here").await, 404).await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_restricted_sqlite() {
    metrics_need_an_allowed_peer_or_the_token(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metrics_restricted_postgres() {
    metrics_need_an_allowed_peer_or_the_token(Backend::Postgres).await;
}

/// Send a request by hand: `head` (ending in a blank line) with `Expect: 100-continue`
/// semantics — the body is sent only if the server asks for it (100 Continue). Returns
/// the status of the final answer and its body.
async fn expect_continue(t: &TestApp, head: String, body: Option<&[u8]>) -> (u16, String) {
    let addr = t.base.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut sent_body = false;
    loop {
        let n = tokio::time::timeout(Duration::from_secs(30), s.read(&mut chunk))
            .await
            .expect("an answer within 30 s")
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if text.starts_with("HTTP/1.1 100") && text.contains("\r\n\r\n") {
            match body {
                Some(b) if !sent_body => {
                    sent_body = true;
                    let _ = s.write_all(b).await;
                    buf.clear();
                    continue;
                }
                _ => return (100, String::new()),
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    (status, body.to_string())
}

backend_test!(bodies_over_the_limit_are_413, |t| {
    let admin = t.admin_token().await;
    let host = t.base.trim_start_matches("http://").to_string();
    // A JSON body declared over 2 MiB: refused before it is read.
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(3 << 20));
    let head = format!(
        "POST /api/v1/departments HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\
         Connection: close\r\n\r\n",
        big.len()
    );
    let (status, text) = expect_continue(&t, head, Some(big.as_bytes())).await;
    assert_eq!(status, 413, "{text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["code"], "request.too_large");
    assert_eq!(p["status"], 413);
    assert!(p["detail"].as_str().unwrap().contains("2 MiB"), "{p}");

    // The same sent in chunks, without a declared length: refused when reading it
    // reaches the limit.
    let mut chunked = Vec::new();
    for piece in big.as_bytes().chunks(256 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = format!(
        "POST /api/v1/departments HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nAccept-Language: en\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n"
    );
    let (status, text) = expect_continue(&t, head, Some(&chunked)).await;
    assert_eq!(status, 413, "{text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["code"], "request.too_large");
    assert!(p["detail"].as_str().unwrap().contains("too large"), "{p}");

    // An upload declared over 512 MiB: refused at once, nothing received.
    let head = format!(
        "POST /api/v1/imports HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        600u64 << 20
    );
    let (status, text) = expect_continue(&t, head, None).await;
    assert_eq!(status, 413, "{text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["code"], "request.too_large");
    assert!(p["detail"].as_str().unwrap().contains("512 MiB"), "{p}");
    // Under the limit, a body still gets its ordinary answer.
    let r = t
        .post("/api/v1/departments", Some(&admin), json!({"name": "一部"}))
        .await;
    body(r, 201).await;
});

backend_test!(audit_paging_is_checked_like_every_list, |t| {
    let admin = t.admin_token().await;
    for (query, field) in [
        ("limit=-5", "limit"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=abc", "cursor"),
        ("cursor=-5", "cursor"),
        ("before=abc", "before"),
        ("before=0", "before"),
        ("actor_id=me", "actor_id"),
        ("colour=red", "colour"),
    ] {
        let p = problem(t.get(&format!("/api/v1/audit?{query}"), &admin).await, 422).await;
        assert_eq!(problem_fields(&p), [field], "{query}: {p}");
        assert_eq!(p["fields"][0]["code"], "query.invalid", "{query}");
    }
    // The same rules as the export job list.
    for (query, field) in [("limit=-5", "limit"), ("cursor=-5", "cursor")] {
        let p = problem(
            t.get(&format!("/api/v1/exports/jobs?{query}"), &admin)
                .await,
            422,
        )
        .await;
        assert_eq!(problem_fields(&p), [field], "{query}");
    }
    // Pages by `cursor`, as the other lists do.
    for i in 0..3 {
        t.create_department(&admin, &format!("部门{i}"), None).await;
    }
    let first = body(t.get("/api/v1/audit?limit=2", &admin).await, 200).await;
    let cursor = first["next_cursor"].as_i64().unwrap();
    let next = body(
        t.get(&format!("/api/v1/audit?limit=2&cursor={cursor}"), &admin)
            .await,
        200,
    )
    .await;
    let seq = next["items"][0]["seq"].as_i64().unwrap();
    assert!(seq < cursor, "{seq} {cursor}");
    // Permission first: without `audit.read`, a bad parameter is still 403.
    t.create_user(
        &admin,
        "clerk1",
        None,
        json!([{"role": "clerk", "scope": "own"}]),
    )
    .await;
    let clerk = t.login("clerk1", USER_PASSWORD).await;
    let p = problem(t.get("/api/v1/audit?limit=-5", &clerk).await, 403).await;
    assert_eq!(p["code"], "auth.forbidden");
});

backend_test!(permission_is_checked_before_the_body, |t| {
    let admin = t.admin_token().await;
    t.create_user(&admin, "nobody", None, json!([])).await;
    let nobody = t.login("nobody", USER_PASSWORD).await;
    let bad_bodies = [
        json!({"not": "an array"}),
        json!([{"key": "BAD KEY!", "label_zh": ""}]),
        json!("text"),
        json!([]),
    ];
    for b in &bad_bodies {
        let r = t
            .req(Method::PUT, "/api/v1/customer-types", Some(&nobody))
            .json(b)
            .send()
            .await
            .unwrap();
        let p = problem(r, 403).await;
        assert_eq!(p["code"], "auth.forbidden", "{b}");
    }
    // Not even JSON.
    let r = t
        .req(Method::PUT, "/api/v1/customer-types", Some(&nobody))
        .header("content-type", "text/plain")
        .body("{{{")
        .send()
        .await
        .unwrap();
    problem(r, 403).await;
    // The other configuration endpoints alike.
    for (method, path) in [
        (Method::POST, "/api/v1/users"),
        (Method::POST, "/api/v1/departments"),
        (Method::PATCH, "/api/v1/departments/1"),
        (Method::POST, "/api/v1/roles"),
        (Method::PATCH, "/api/v1/roles/clerk"),
        (Method::POST, "/api/v1/code-rules"),
        (Method::POST, "/api/v1/fields"),
        (Method::POST, "/api/v1/flows"),
        (Method::POST, "/api/v1/exports"),
        (Method::POST, "/api/v1/customers"),
        (Method::POST, "/api/v1/duplicates/groups/1/dismiss"),
    ] {
        for b in [json!({"unknown_field": 1}), json!([1, 2])] {
            let r = t
                .req(method.clone(), path, Some(&nobody))
                .json(&b)
                .send()
                .await
                .unwrap();
            let p = problem(r, 403).await;
            assert_eq!(p["code"], "auth.forbidden", "{method} {path} {b}");
        }
    }
    // With the permission, the same body is a 422 naming what is wrong.
    let r = t
        .req(Method::PUT, "/api/v1/customer-types", Some(&admin))
        .json(&json!({"not": "an array"}))
        .send()
        .await
        .unwrap();
    problem(r, 422).await;
});

backend_test!(deleting_a_running_export_cancels_it_for_good, |t| {
    let admin = t.admin_token().await;
    crate::customers::seed_rules(&t, &admin).await;
    for i in 0..20 {
        crate::customers::create(
            &t,
            &admin,
            json!({"customer_type": "enterprise", "name": format!("导出测试{i}有限公司")}),
        )
        .await;
    }
    let actor = t
        .app
        .auth()
        .authenticate(&admin, Context::new(Source::Api))
        .await
        .unwrap();
    let mut cancelled = 0;
    // Deleted while queued, while running, and as it finishes.
    for delay_ms in [0u64, 0, 1, 2, 3, 5, 8, 12, 20, 40] {
        let (job, queued) = t
            .app
            .exports()
            .submit_export(&actor, custos_app::export::job::ExportRequest::default())
            .await
            .unwrap();
        let app = t.app.clone();
        let runner_actor = actor.clone();
        let run =
            tokio::spawn(async move { app.exports().run_export_job(&runner_actor, queued).await });
        if delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }
        let deleted = body(
            t.delete(&format!("/api/v1/exports/{}", job.id), &admin)
                .await,
            200,
        )
        .await;
        // The run ends without an error: the deletion is not a failure to report.
        let outcome = run.await.unwrap();
        assert!(outcome.is_ok(), "delay {delay_ms}: {outcome:?}");
        let after = body(
            t.get(&format!("/api/v1/exports/{}", job.id), &admin).await,
            200,
        )
        .await;
        let status = after["status"].as_str().unwrap().to_string();
        assert_eq!(deleted["status"], after["status"], "delay {delay_ms}");
        match status.as_str() {
            "cancelled" => cancelled += 1,
            // It had finished before the deletion: its file is deleted.
            "expired" => {}
            other => panic!("delay {delay_ms}: {other}"),
        }
        let p = problem(
            t.get(&format!("/api/v1/exports/{}/file", job.id), &admin)
                .await,
            410,
        )
        .await;
        assert_eq!(p["code"], "export.expired");
        let left: Vec<_> = std::fs::read_dir(t.exports_dir.path())
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "delay {delay_ms}: {left:?}");
        // Deleting again changes nothing.
        let again = body(
            t.delete(&format!("/api/v1/exports/{}", job.id), &admin)
                .await,
            200,
        )
        .await;
        assert_eq!(again["status"], status);
    }
    assert!(cancelled >= 2, "{cancelled} jobs were cancelled");
});
