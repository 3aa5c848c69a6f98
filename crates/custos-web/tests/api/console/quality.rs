//! 质量 (`/quality`) over HTTP on both databases: KPIs, dimensions and the worklist of the
//! viewer's scope, assignment from the page, the report as an XLSX download, and no page
//! without `quality.read`.

use serde_json::json;

use super::pages::Visitor;
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

backend_test!(quality_page_assigns_and_downloads, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    t.create_user(
        &admin,
        "q_boss",
        None,
        json!([{"role": "steward", "scope": "all"}]),
    )
    .await;
    let clerk = t
        .create_user(
            &admin,
            "q_clerk2",
            None,
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    let c = body(
        t.post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "页面质量有限公司",
                   "region_code": "310104", "mobile": "13812349999"}),
        )
        .await,
        201,
    )
    .await;
    let code = c["code"].as_str().unwrap().to_string();

    let mut v = Visitor::new(&t);
    v.login("q_boss", USER_PASSWORD).await;
    let r = v.get("/quality").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"quality-average\">86.1<"), "average");
    assert!(html.contains("data-kpi=\"required_completeness\""));
    assert!(html.contains(&format!("value=\"{code}\"")), "worklist row");
    assert!(!html.contains("13812349999"), "no values on the page");

    // The customer page's overview shows the score and the failing rules' labels.
    let r = v.get(&format!("/customers/{code}?tab=overview")).await;
    let page = r.text().await.unwrap();
    assert!(
        page.contains("id=\"ov-quality-score\">86.1<"),
        "score on the customer page"
    );
    assert!(
        page.contains("建议项“统一社会信用代码”已填写"),
        "failing rule label"
    );

    let csrf = Visitor::hidden(&html, "csrf");
    let r = v
        .post(
            "/quality/assign",
            &[
                ("csrf", &csrf),
                ("code", &code),
                ("assignee_id", &clerk.to_string()),
            ],
        )
        .await;
    assert!(
        r.status().is_redirection() || r.status() == 200,
        "{}",
        r.status()
    );
    let w = body(
        t.get(
            &format!("/api/v1/quality/worklist?assignee_id={clerk}"),
            &admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(w["items"][0]["code"], json!(code));
    let r = v
        .post(
            "/quality/assign",
            &[("csrf", &csrf), ("code", &code), ("assignee_id", "x")],
        )
        .await;
    assert_eq!(r.status(), 422);

    let r = v.post("/quality/export.xlsx", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let file = r.bytes().await.unwrap().to_vec();
    assert!(file.starts_with(b"PK\x03\x04"));
    let audit = body(
        t.get("/api/v1/audit?action=quality.export", &admin).await,
        200,
    )
    .await;
    assert!(audit.to_string().contains("quality.export"), "{audit}");

    let mut c2 = Visitor::new(&t);
    c2.login("q_clerk2", USER_PASSWORD).await;
    assert_eq!(c2.get("/quality").await.status(), 403);
});
