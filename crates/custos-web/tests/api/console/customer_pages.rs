//! The customer pages over HTTP on both databases: personal data revealed only with the
//! permission and a reason (audited), the record as of a time, an edit that lost a race,
//! errors beside their fields, out of scope = missing, CSRF on every change.

use serde_json::{json, Value};

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

const MOBILE: &str = "13912345678";

/// A signed-in visitor for a new user with `roles`.
async fn visitor_for(t: &TestApp, admin: &str, username: &str, roles: Value) -> Visitor {
    t.create_user(admin, username, None, roles).await;
    let mut v = Visitor::new(t);
    v.login(username, USER_PASSWORD).await;
    v
}

async fn admin_visitor(t: &TestApp) -> Visitor {
    let mut v = Visitor::new(t);
    v.login("admin", ADMIN_PASSWORD).await;
    v
}

/// An individual customer with a mobile, created through the API; its code.
async fn individual(t: &TestApp, admin: &str, name: &str) -> String {
    let r = t
        .post(
            "/api/v1/customers",
            Some(admin),
            json!({"customer_type": "individual", "name": name, "mobile": MOBILE}),
        )
        .await;
    let c = body(r, 201).await;
    c["code"].as_str().unwrap().to_string()
}

backend_test!(
    pii_is_revealed_with_permission_and_reason_and_audited,
    |t| {
        let admin = t.admin_token().await;
        seed_rules(&t, &admin).await;
        let code = individual(&t, &admin, "钱七").await;
        let page = format!("/customers/{code}");
        let reveal = format!("/customers/{code}/pii");

        // A steward sees the record masked, with the button that asks for a reason.
        let mut steward = visitor_for(
            &t,
            &admin,
            "steward1",
            json!([{"role": "steward", "scope": "all"}]),
        )
        .await;
        let html = steward.get(&page).await.text().await.unwrap();
        assert!(html.contains(&code) && html.contains("钱七"), "{html}");
        assert!(!html.contains(MOBILE), "masked by default");
        assert!(html.contains("139****5678"), "{html}");
        assert!(html.contains("id=\"reveal-reason\""));
        let csrf = steward.csrf().await;

        // Without a reason: refused beside the reason, nothing shown or audited.
        let r = steward
            .post(&reveal, &[("csrf", &csrf), ("reason", " ")])
            .await;
        assert_eq!(r.status(), 422);
        let html = r.text().await.unwrap();
        assert!(
            html.contains("reveal-error") && !html.contains(MOBILE),
            "{html}"
        );
        // Without the CSRF token: refused.
        let r = steward.post(&reveal, &[("reason", "核实来电")]).await;
        assert_eq!(r.status(), 403);

        // A query user has no button, and is refused when posting anyway.
        let mut query = visitor_for(
            &t,
            &admin,
            "query1",
            json!([{"role": "query", "scope": "all"}]),
        )
        .await;
        let html = query.get(&page).await.text().await.unwrap();
        assert!(html.contains("139****5678") && !html.contains("reveal-reason"));
        let qcsrf = query.csrf().await;
        let r = query
            .post(&reveal, &[("csrf", &qcsrf), ("reason", "好奇")])
            .await;
        assert_eq!(r.status(), 403);
        assert!(!r.text().await.unwrap().contains(MOBILE));

        let audited =
            |v: Value| -> Vec<Value> { v["items"].as_array().cloned().unwrap_or_default() };
        let before = audited(
            body(
                t.get("/api/v1/audit?action=customer.pii_read", &admin)
                    .await,
                200,
            )
            .await,
        );
        assert!(
            !before
                .iter()
                .any(|e| e["actor"] == "steward1" || e["actor"] == "query1"),
            "masked reads and refusals are not reveals: {before:?}"
        );

        // With a reason: the values in full, the read audited with its reason.
        let r = steward
            .post(&reveal, &[("csrf", &csrf), ("reason", "核实客户来电")])
            .await;
        assert_eq!(r.status(), 200);
        let html = r.text().await.unwrap();
        assert!(html.contains(MOBILE), "{html}");
        let after = audited(
            body(
                t.get("/api/v1/audit?action=customer.pii_read", &admin)
                    .await,
                200,
            )
            .await,
        );
        let entry = after
            .iter()
            .find(|e| e["actor"] == "steward1")
            .expect("the reveal is audited");
        assert_eq!(entry["target_id"], code.as_str());
        assert_eq!(entry["reason"], "核实客户来电");
        assert_eq!(entry["source"], "console");
    }
);

backend_test!(history_shows_the_record_as_of_a_time, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let code = individual(&t, &admin, "孙八").await;
    let tz = chrono_tz::Asia::Shanghai;
    let created = chrono::Utc::now().with_timezone(&tz);
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 1, "name": "孙八改", "reason": "更正姓名"}),
        )
        .await;
    body(r, 200).await;

    let mut v = admin_visitor(&t).await;
    let html = v
        .get(&format!("/customers/{code}?tab=history"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("更正姓名") && html.contains("孙八改"),
        "{html}"
    );

    let then = created.format("%Y-%m-%dT%H:%M:%S").to_string();
    let html = v
        .get(&format!("/customers/{code}?tab=history&as_of={then}"))
        .await
        .text()
        .await
        .unwrap();
    let record = html
        .split("id=\"as-of-record\"")
        .nth(1)
        .expect("as-of record");
    let record = record.split("</dl>").next().unwrap();
    assert!(
        record.contains("孙八") && !record.contains("孙八改"),
        "{record}"
    );

    let html = v
        .get(&format!("/customers/{code}?tab=history&as_of=2001-01-01"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("id=\"as-of-none\""), "not created yet then");
    let r = v
        .get(&format!("/customers/{code}?tab=history&as_of=yesterday"))
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("as-of-error"));
});

backend_test!(an_edit_that_lost_a_race_shows_the_newer_values, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let code = individual(&t, &admin, "周九").await;
    let mut v = admin_visitor(&t).await;
    let form = v
        .get(&format!("/customers/{code}/edit"))
        .await
        .text()
        .await
        .unwrap();
    let csrf = Visitor::hidden(&form, "csrf");
    let version = Visitor::hidden(&form, "version");
    assert_eq!(version, "1");
    // The form never carries personal data in clear.
    assert!(!form.contains(MOBILE));

    // Someone else changes the customer meanwhile.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 1, "remarks": "他人的备注"}),
        )
        .await;
    body(r, 200).await;

    let r = v
        .post(
            &format!("/customers/{code}/edit"),
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("customer_type", "individual"),
                ("name", "周九"),
                ("remarks", "我的备注"),
            ],
        )
        .await;
    assert_eq!(r.status(), 409);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"conflict\""), "{html}");
    assert!(html.contains("他人的备注"), "newer value shown");
    assert!(html.contains("我的备注"), "typed value kept");
    assert_eq!(Visitor::hidden(&html, "version"), "2");

    // Saving again, knowingly, over the newer version.
    let r = v
        .post(
            &format!("/customers/{code}/edit"),
            &[
                ("csrf", &csrf),
                ("version", "2"),
                ("customer_type", "individual"),
                ("name", "周九"),
                ("remarks", "我的备注"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(c["remarks"], "我的备注");
    assert_eq!(c["mobile"], MOBILE, "personal data left empty stays");

    // A major field changed without a reason: the error beside the reason.
    let r = v
        .post(
            &format!("/customers/{code}/edit"),
            &[
                ("csrf", &csrf),
                ("version", "3"),
                ("customer_type", "individual"),
                ("name", "周九新"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"f-reason-error\""), "{html}");
});

backend_test!(form_errors_beside_fields_and_values_kept, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mut v = admin_visitor(&t).await;
    let form = v.get("/customers/new").await.text().await.unwrap();
    let csrf = Visitor::hidden(&form, "csrf");
    assert!(form.contains("name=\"customer_type\"") && form.contains("企业客户"));
    let r = v
        .post(
            "/customers/new",
            &[
                ("csrf", &csrf),
                ("customer_type", "enterprise"),
                ("name", "华东精密机械有限公司"),
                ("uscc", "91110108MA01ABCD1"),
                ("postal_code", "12"),
                ("registered_capital", "很多"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"f-registered_capital-error\""), "{html}");
    assert!(html.contains("华东精密机械有限公司"), "values kept");

    let r = v
        .post(
            "/customers/new",
            &[
                ("csrf", &csrf),
                ("customer_type", "enterprise"),
                ("name", "华东精密机械有限公司"),
                ("uscc", "91110108MA01ABCD1"),
                ("postal_code", "12"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"f-uscc-error\""), "{html}");
    assert!(
        html.contains("id=\"f-postal_code-error\""),
        "all errors at once"
    );
    assert!(
        html.contains("value=\"华东精密机械有限公司\""),
        "values kept"
    );

    let r = v
        .post(
            "/customers/new",
            &[
                ("csrf", &csrf),
                ("customer_type", "enterprise"),
                ("name", "华东精密机械有限公司"),
                ("region_code", "310115"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let to = location(&r);
    assert!(
        to.starts_with("/customers/C") && to.ends_with("?created=1"),
        "{to}"
    );
    let html = v.get(&to).await.text().await.unwrap();
    assert!(
        html.contains("id=\"created\"") && html.contains("浦东新区"),
        "{html}"
    );
});

backend_test!(out_of_scope_reads_as_missing, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let code = individual(&t, &admin, "吴十").await;
    let mut own = visitor_for(
        &t,
        &admin,
        "own1",
        json!([{"role": "query", "scope": "own"}]),
    )
    .await;
    let hidden = own.get(&format!("/customers/{code}")).await;
    assert_eq!(hidden.status(), 404);
    let hidden = hidden.text().await.unwrap();
    let missing = own.get("/customers/C9999999").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(hidden, missing.text().await.unwrap(), "identical pages");
    for tab in ["history", "codes", "xrefs", "duplicates"] {
        let r = own.get(&format!("/customers/{code}?tab={tab}")).await;
        assert_eq!(r.status(), 404, "{tab}");
    }
    assert_eq!(
        own.get(&format!("/customers/{code}/edit")).await.status(),
        403
    );
    // A query user may neither create nor apply.
    assert_eq!(own.get("/customers/new").await.status(), 403);
    // A clerk applies for a new customer instead.
    let mut clerk = visitor_for(
        &t,
        &admin,
        "clerk1",
        json!([{"role": "clerk", "scope": "own"}]),
    )
    .await;
    let r = clerk.get("/customers/new").await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/applications/new?kind=create");
});

backend_test!(every_customer_post_checks_csrf, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let code = individual(&t, &admin, "郑一").await;
    let mut v = admin_visitor(&t).await;
    let fields = [
        ("customer_type", "individual"),
        ("name", "郑一"),
        ("version", "1"),
        ("reason", "r"),
    ];
    for path in [
        "/customers/new".to_string(),
        "/customers/new/duplicates".to_string(),
        format!("/customers/{code}/edit"),
        format!("/customers/{code}/pii"),
    ] {
        let r = v.post(&path, &fields).await;
        assert_eq!(r.status(), 403, "{path}");
        let mut bad = fields.to_vec();
        bad.push(("csrf", "0000"));
        let r = v.post(&path, &bad).await;
        assert_eq!(r.status(), 403, "{path} with a wrong token");
    }
    let c = body(
        t.get(&format!("/api/v1/customers/{code}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(c["version"], 1, "nothing changed");
    let list = body(t.get("/api/v1/customers", &admin).await, 200).await;
    assert_eq!(
        list["items"].as_array().map(Vec::len),
        Some(1),
        "nothing created: {list}"
    );
});

backend_test!(duplicate_hints_name_the_candidates, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "杭州西湖茶叶有限公司", "region_code": "330106"}),
        )
        .await;
    let first = body(r, 201).await["code"].as_str().unwrap().to_string();
    let mut v = admin_visitor(&t).await;
    let csrf = v.csrf().await;
    let r = v
        .post(
            "/customers/new/duplicates",
            &[
                ("csrf", &csrf),
                ("customer_type", "enterprise"),
                ("name", "杭州西湖茶叶有限公司"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&first), "{html}");
    // Too little typed: no check.
    let r = v
        .post(
            "/customers/new/duplicates",
            &[("csrf", &csrf), ("name", "杭")],
        )
        .await;
    assert_eq!(r.status(), 200);
    assert!(!r.text().await.unwrap().contains(&first));
    // The region cascader (the list's, in its form use) answers with the counties of a
    // city, the city as the form's region_code.
    let r = v.get("/customers/regions?for=form&region=330100").await;
    let html = r.text().await.unwrap();
    assert!(
        html.contains("西湖区")
            && html.contains("name=\"region_code\" id=\"f-region_code\" value=\"330100\""),
        "{html}"
    );
    // In the list it is a filter: no region_code input.
    let html = v
        .get("/customers/regions?region=330100")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("西湖区") && !html.contains("region_code"),
        "{html}"
    );
});

backend_test!(
    tabs_show_codes_xrefs_and_suspected_duplicates_in_scope,
    |t| {
        let admin = t.admin_token().await;
        seed_rules(&t, &admin).await;
        let clerk = t
            .create_user(
                &admin,
                "clerk2",
                None,
                json!([{"role": "clerk", "scope": "own"}]),
            )
            .await;
        let create = |name: &'static str, owner: Option<i64>| {
            let t = &t;
            let admin = admin.clone();
            async move {
                let r = t
                    .post(
                        "/api/v1/customers",
                        Some(&admin),
                        json!({"customer_type": "enterprise", "name": name, "region_code": "330203",
                           "owner_id": owner, "override_duplicates": true, "reason": "测试"}),
                    )
                    .await;
                body(r, 201).await["code"].as_str().unwrap().to_string()
            }
        };
        let mine = create("宁波海曙纺织有限公司", Some(clerk)).await;
        let other = create("宁波海曙纺织股份有限公司", None).await;
        let r = t
            .req(
                reqwest::Method::PUT,
                &format!("/api/v1/customers/{mine}/xrefs/erp"),
                Some(&admin),
            )
            .json(&json!({"source_id": "ERP-0042"}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());

        let mut reader = visitor_for(
            &t,
            &admin,
            "reader2",
            json!([{"role": "query", "scope": "all"}]),
        )
        .await;
        let html = reader
            .get(&format!("/customers/{mine}?tab=duplicates"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains(&other),
            "a candidate in scope is listed: {html}"
        );
        let html = reader
            .get(&format!("/customers/{mine}?tab=codes"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("ent v1"),
            "the rule that issued the code: {html}"
        );
        let html = reader
            .get(&format!("/customers/{mine}?tab=xrefs"))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("ERP-0042"), "{html}");
        // No application links for a role that may not apply, no edit button.
        assert!(!html.contains("/applications/new?kind=") && !html.contains("id=\"edit\""));

        // The owner (scope own) sees the page with its actions, but not the candidate
        // outside the scope.
        let mut owner = Visitor::new(&t);
        owner.login("clerk2", USER_PASSWORD).await;
        let html = owner
            .get(&format!("/customers/{mine}?tab=duplicates"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            !html.contains(&other),
            "out-of-scope candidate hidden: {html}"
        );
        assert!(
            html.contains(&format!(
                "/applications/new?kind=retire&#38;customer={mine}"
            )) || html.contains(&format!("/applications/new?kind=retire&customer={mine}")),
            "{html}"
        );
        assert!(html.contains("id=\"edit\""));
    }
);
