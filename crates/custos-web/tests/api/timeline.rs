//! A customer's timeline on both databases: changes and applications newest first, pages
//! that neither repeat nor skip an event, the kind filter, refusals naming the parameter,
//! no personal data in an event, 404 outside the scope, and the console's 时间线 tab.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::applications::submit;
use crate::backend_test;
use crate::console::pages::Visitor;
use crate::customers::seed_rules;
use crate::helpers::*;

async fn timeline(t: &TestApp, token: &str, code: &str, query: &str) -> Value {
    body(
        t.get(&format!("/api/v1/customers/{code}/timeline{query}"), token)
            .await,
        200,
    )
    .await
}

backend_test!(timeline_pages_filters_and_hides_personal_data, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let c = body(
        t.post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "常州龙城精密机械有限公司",
                   "region_code": "320402"}),
        )
        .await,
        201,
    )
    .await;
    let code = c["code"].as_str().unwrap_or_default().to_string();
    for (v, change) in [
        (1, json!({"mobile": "13905191234"})),
        (2, json!({"remarks": "重点客户"})),
        (3, json!({"short_name": "龙城精机"})),
    ] {
        let mut patch = change;
        patch["version"] = json!(v);
        let r = t
            .patch(&format!("/api/v1/customers/{code}"), &admin, patch)
            .await;
        assert_eq!(r.status(), 200);
    }
    t.create_user(
        &admin,
        "clerk_t",
        None,
        json!([{"role": "clerk", "scope": "all"}]),
    )
    .await;
    let clerk = t.login("clerk_t", USER_PASSWORD).await;
    let a = submit(
        &t,
        &clerk,
        "change",
        json!({"code": code, "changes": {"version": 4, "remarks": "申请修改"}}),
    )
    .await;

    let all = timeline(&t, &admin, &code, "").await;
    let items = all["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 5, "{all}");
    assert_eq!(items[0]["kind"], "application", "newest first: {all}");
    assert_eq!(items[0]["id"], a["id"]);
    assert_eq!(items[4]["action"], "create");
    assert!(all["next_cursor"].is_null());
    assert!(
        !all.to_string().contains("13905191234"),
        "no personal data: {all}"
    );
    assert!(items[3]["fields"].to_string().contains("mobile"), "{all}");

    // Two at a time: every event once, in the same order.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    for _ in 0..5 {
        let q = match cursor.is_empty() {
            true => "?limit=2".to_string(),
            false => format!("?limit=2&cursor={cursor}"),
        };
        let page = timeline(&t, &admin, &code, &q).await;
        for e in page["items"].as_array().into_iter().flatten() {
            seen.push(format!("{}-{}", e["kind"], e["id"]));
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    let expected: Vec<String> = items
        .iter()
        .map(|e| format!("{}-{}", e["kind"], e["id"]))
        .collect();
    assert_eq!(seen, expected);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 5);

    let changes = timeline(&t, &admin, &code, "?kind=change").await;
    assert_eq!(changes["items"].as_array().map(Vec::len), Some(4));
    let apps = timeline(&t, &admin, &code, "?kind=application").await;
    assert_eq!(apps["items"].as_array().map(Vec::len), Some(1));

    for (q, field) in [
        ("?kind=orders", "kind"),
        ("?cursor=abc", "cursor"),
        ("?cursor=1-7-1", "cursor"),
        ("?limit=0", "limit"),
        ("?limit=201", "limit"),
    ] {
        let p = problem(
            t.get(&format!("/api/v1/customers/{code}/timeline{q}"), &admin)
                .await,
            422,
        )
        .await;
        assert!(problem_fields(&p).contains(&field.to_string()), "{q}: {p}");
    }

    // Outside the scope, and unknown: the same 404.
    t.create_user(
        &admin,
        "own_t",
        None,
        json!([{"role": "query", "scope": "own"}]),
    )
    .await;
    let own = t.login("own_t", USER_PASSWORD).await;
    let r = t
        .get(&format!("/api/v1/customers/{code}/timeline"), &own)
        .await;
    assert_eq!(r.status(), 404);
    let r = t.get("/api/v1/customers/C999999/timeline", &admin).await;
    assert_eq!(r.status(), 404);

    // A business record joins the stream, without its free text; a reader without
    // activity.read sees the rest, and is refused the kind by name.
    let r = t
        .post(
            &format!("/api/v1/customers/{code}/followups"),
            Some(&admin),
            json!({"channel": "call", "content": "回电 13812345678 确认需求", "result": "需求确认"}),
        )
        .await;
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let all = timeline(&t, &admin, &code, "").await;
    assert_eq!(all["items"][0]["kind"], "activity", "{all}");
    assert_eq!(all["items"][0]["action"], "followup");
    assert!(!all.to_string().contains("13812345678"), "{all}");
    assert!(!all.to_string().contains("回电"), "no free text: {all}");
    let r = t
        .post(
            "/api/v1/roles",
            Some(&admin),
            json!({"key": "reader_t", "name": "只读客户", "permissions": ["customer.read"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    t.create_user(
        &admin,
        "reader_t",
        None,
        json!([{"role": "reader_t", "scope": "all"}]),
    )
    .await;
    let reader = t.login("reader_t", USER_PASSWORD).await;
    let seen = timeline(&t, &reader, &code, "").await;
    assert_eq!(seen["items"].as_array().map(Vec::len), Some(5), "{seen}");
    assert!(!seen.to_string().contains("\"activity\""), "{seen}");
    let r = t
        .get(
            &format!("/api/v1/customers/{code}/timeline?kind=activity"),
            &reader,
        )
        .await;
    assert_eq!(r.status(), 403);

    // The console's tab: business terms, field labels, the application linked.
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let html = v
        .get(&format!("/customers/{code}?tab=timeline"))
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(html.contains("id=\"timeline\""), "{html}");
    assert!(html.contains("手机") && html.contains("信息变更"), "{html}");
    assert!(html.contains(&format!("href=\"/applications/{}\"", a["id"])));
    assert!(!html.contains("13905191234"));
    assert!(html.contains("跟进记录"), "{html}");
    let r = v
        .get(&format!("/customers/{code}?tab=timeline&cursor=zzz"))
        .await;
    assert_eq!(r.status(), 422);
});

backend_test!(overview_shows_each_part_only_to_who_may_see_it, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let c = body(
        t.post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "南通江海纺织有限公司",
                   "region_code": "320211",
                   "contacts": [{"name": "钱国栋", "mobile": "13962812345", "is_primary": true},
                                {"name": "孙丽", "mobile": "13962854321"}]}),
        )
        .await,
        201,
    )
    .await;
    let code = c["code"].as_str().unwrap_or_default().to_string();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2))
        .date_naive()
        .to_string();
    let posts = [
        (
            "followups",
            json!({"channel": "visit", "content": "拜访", "result": "需求确认",
                             "next_plan": "送样", "next_date": tomorrow}),
        ),
        (
            "followups",
            json!({"channel": "call", "content": "电话", "result": "方案提交",
                             "next_date": "2020-01-01"}),
        ),
        (
            "interactions",
            json!({"kind": "complaint", "content": "交货延迟"}),
        ),
        (
            "orders",
            json!({"source_system": "ERP", "document_number": "SO-1", "date": "2026-11-02",
                          "amount": "1200.50"}),
        ),
        (
            "credit",
            json!({"rating": "A", "rated_on": "2026-11-30", "limit": "500000"}),
        ),
    ];
    for (path, b) in posts {
        let r = t
            .post(&format!("/api/v1/customers/{code}/{path}"), Some(&admin), b)
            .await;
        assert!(
            r.status().is_success(),
            "{path}: {}",
            r.text().await.unwrap_or_default()
        );
    }
    let o = body(
        t.get(&format!("/api/v1/customers/{code}/overview"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(o["customer"]["code"], code.as_str());
    assert_eq!(
        o["primary_contacts"].as_array().map(Vec::len),
        Some(1),
        "{o}"
    );
    assert_eq!(o["primary_contacts"][0]["name"], "钱国栋");
    assert!(!o.to_string().contains("13962812345"), "masked: {o}");
    assert_eq!(o["records"]["open_complaints"], 1, "{o}");
    assert_eq!(
        o["records"]["next_followup"],
        tomorrow.as_str(),
        "past plans left out"
    );
    assert_eq!(o["records"]["orders"]["order_count"], 1);
    assert_eq!(o["records"]["orders"]["lifetime_amount_fen"], 120050);
    assert!(o["credit"].to_string().contains("\"A\""), "{o}");
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let html = v
        .get(&format!("/customers/{code}?tab=overview"))
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(html.contains("id=\"ov-complaints\">1<"), "{html}");
    assert!(
        html.contains(&format!("id=\"ov-next\">{tomorrow}<")),
        "{html}"
    );
    assert!(html.contains("id=\"ov-rating\">A"), "{html}");
    assert!(
        html.contains("钱国栋") && !html.contains("13962812345"),
        "{html}"
    );

    // Only customer.read: the record, none of the rest.
    let r = t
        .post(
            "/api/v1/roles",
            Some(&admin),
            json!({"key": "reader_o", "name": "只读客户", "permissions": ["customer.read"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    t.create_user(
        &admin,
        "reader_o",
        None,
        json!([{"role": "reader_o", "scope": "all"}]),
    )
    .await;
    let reader = t.login("reader_o", USER_PASSWORD).await;
    let o = body(
        t.get(&format!("/api/v1/customers/{code}/overview"), &reader)
            .await,
        200,
    )
    .await;
    assert!(o["records"].is_null() && o["credit"].is_null(), "{o}");
    let mut rv = Visitor::new(&t);
    rv.login("reader_o", USER_PASSWORD).await;
    let html = rv
        .get(&format!("/customers/{code}?tab=overview"))
        .await
        .text()
        .await
        .unwrap_or_default();
    assert!(html.contains("id=\"overview\""), "{html}");
    assert!(!html.contains("ov-records-heading") && !html.contains("ov-credit-heading"));
    // Outside the scope: 404 like the record.
    t.create_user(
        &admin,
        "own_o",
        None,
        json!([{"role": "query", "scope": "own"}]),
    )
    .await;
    let own = t.login("own_o", USER_PASSWORD).await;
    let r = t
        .get(&format!("/api/v1/customers/{code}/overview"), &own)
        .await;
    assert_eq!(r.status(), 404);
});
