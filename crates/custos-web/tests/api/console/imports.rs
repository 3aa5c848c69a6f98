//! `/imports` (导入) over HTTP on both databases: the upload step with the template, a
//! dry run reporting the rejected row beside its field, a real run leading to its report
//! and the rejected rows as XLSX in the viewer's language; a query-role user is refused.

use serde_json::json;

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

const FILE: &str =
    "客户类型,客户名称,身份证号\n个人客户,王小明,11010519491231002X\n,李四,110101199003070035\n";

/// Post the upload form (multipart) with the viewer's cookies and CSRF token.
async fn post_file(v: &mut Visitor, csrf: &str, dry_run: bool) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(FILE.as_bytes().to_vec()).file_name("客户.csv"),
        )
        .text("policy", "skip");
    if dry_run {
        form = form.text("dry_run", "true");
    }
    let cookies = v
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/imports/new", v.base))
        .header(reqwest::header::COOKIE, cookies)
        .header(reqwest::header::ACCEPT, "text/html")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

backend_test!(import_wizard_dry_run_run_and_report, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let r = v.get("/imports/new").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("href=\"/imports/template\""));
    let r = v.get("/imports/template").await;
    assert_eq!(r.status(), 200);
    let csrf = v.csrf().await;

    // Without the token the file is refused before it is read.
    let r = post_file(&mut v, "wrong", true).await;
    assert_eq!(r.status(), 403);

    let r = post_file(&mut v, &csrf, true).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"rejected-table\""), "{html}");
    assert!(html.contains("class=\"cell-error\""), "failing cell marked");
    assert!(html.contains("客户类型为必填项"), "reason in Chinese");
    assert!(html.contains("id=\"detected-encoding\">utf-8"), "{html}");

    let r = post_file(&mut v, &csrf, false).await;
    assert_eq!(r.status(), 303);
    let job = location(&r);
    assert!(job.starts_with("/imports/"), "{job}");
    let mut html = String::new();
    for _ in 0..100 {
        let r = v.get(&job).await;
        assert_eq!(r.status(), 200);
        html = r.text().await.unwrap();
        if html.contains("data-status=\"done\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(html.contains("data-status=\"done\""), "{html}");
    assert!(html.contains("id=\"download-rejected\""));
    let r = v.get(&format!("{job}/rejected.xlsx")).await;
    assert_eq!(r.status(), 200);
    let bytes = r.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "an XLSX");
    let html = v.get("/imports").await.text().await.unwrap();
    assert!(html.contains("客户.csv"));
});

backend_test!(a_query_user_is_refused_every_import_page, |t| {
    let admin = t.admin_token().await;
    t.create_user(
        &admin,
        "query_all",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let mut q = Visitor::new(&t);
    q.login("query_all", USER_PASSWORD).await;
    for path in [
        "/imports",
        "/imports/new",
        "/imports/template",
        "/imports/1",
    ] {
        let r = q.get(path).await;
        assert_eq!(r.status(), 403, "{path}");
    }
    let html = q.get("/").await.text().await.unwrap();
    assert!(!html.contains("href=\"/imports\""), "no nav entry");
});
