//! 查重审核 over HTTP on both databases: the queue's filters live in the URL, a merge keeps
//! the value chosen per field and can be undone from the survivor's page, a dismissal is
//! remembered, a query-role user gets 403 and a steward outside the members' scope 404.

use serde_json::{json, Value};

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

fn uscc(org: &str) -> String {
    custos_core::ident::Uscc::with_check(&format!("91320106{org}"))
        .expect("valid uscc")
        .as_str()
        .to_string()
}

async fn create(t: &TestApp, token: &str, name: &str, u: Option<String>) -> String {
    let mut v = json!({"customer_type": "enterprise", "name": name, "region_code": "320106",
                       "override_duplicates": true, "reason": "历史数据"});
    if let Some(u) = u {
        v["uscc"] = json!(u);
    }
    let c = body(t.post("/api/v1/customers", Some(token), v).await, 201).await;
    c["code"].as_str().unwrap_or_default().to_string()
}

/// Two queued groups: `a`/`b` (one registration number, names one word apart) and
/// `c`/`d` (the same name in simplified and traditional characters).
struct Queue {
    admin: String,
    a: String,
    b: String,
    c: String,
    ab: i64,
    cd: i64,
}

async fn queue(t: &TestApp) -> Queue {
    let admin = t.admin_token().await;
    seed_rules(t, &admin).await;
    let u = uscc("MA05JL001");
    let a = create(t, &admin, "南京金陵电子有限公司", Some(u.clone())).await;
    let b = create(t, &admin, "南京金陵电子有限责任公司", Some(u)).await;
    let c = create(t, &admin, "苏州园林设计院有限公司", None).await;
    create(t, &admin, "蘇州園林設計院有限公司", None).await;
    let s = body(
        t.post("/api/v1/duplicates/scan", Some(&admin), json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(s["new_groups"], 2, "{s}");
    let page = body(t.get("/api/v1/duplicates/groups", &admin).await, 200).await;
    let id_with = |code: &str| {
        page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|g| g["members"].to_string().contains(code))
            .and_then(|g| g["id"].as_i64())
            .unwrap_or(0)
    };
    Queue {
        ab: id_with(&a),
        cd: id_with(&c),
        admin,
        a,
        b,
        c,
    }
}

async fn page(v: &mut Visitor, path: &str, status: u16) -> String {
    let r = v.get(path).await;
    assert_eq!(r.status(), status, "{path}");
    r.text().await.unwrap()
}

async fn steward(t: &TestApp) -> Visitor {
    let mut v = Visitor::new(t);
    v.login("admin", ADMIN_PASSWORD).await;
    v
}

backend_test!(queue_filters_live_in_the_url, |t| {
    let q = queue(&t).await;
    let mut v = steward(&t).await;
    let html = page(&mut v, "/duplicates", 200).await;
    assert!(html.contains("href=\"/duplicates\""), "nav entry");
    assert!(html.contains(&format!("id=\"group-{}\"", q.ab)), "{html}");
    assert!(html.contains(&format!("id=\"group-{}\"", q.cd)));
    assert!(
        html.contains("id=\"dup-counts\""),
        "counts for a reader of all"
    );
    assert!(html.contains("待处理 <strong>2</strong>"), "{html}");
    assert!(html.contains("企业客户"), "types as business terms");

    let html = page(&mut v, "/duplicates?source=import", 200).await;
    assert!(html.contains("id=\"dup-empty\""), "no import groups");
    let html = page(
        &mut v,
        "/duplicates?source=scan&customer_type=enterprise",
        200,
    )
    .await;
    assert!(html.contains(&format!("id=\"group-{}\"", q.ab)));
    let html = page(&mut v, "/duplicates?customer_type=individual", 200).await;
    assert!(html.contains("id=\"dup-empty\""));

    // The score bands split the queue: each group in exactly one, by its score.
    let api = body(t.get("/api/v1/duplicates/groups", &q.admin).await, 200).await;
    for g in api["items"].as_array().unwrap() {
        let score = g["score"].as_f64().unwrap();
        let id = g["id"].as_i64().unwrap();
        let mut hits = Vec::new();
        for band in ["definite", "possible", "weak"] {
            let html = page(&mut v, &format!("/duplicates?band={band}"), 200).await;
            if html.contains(&format!("id=\"group-{id}\"")) {
                hits.push(band);
            }
        }
        assert_eq!(hits.len(), 1, "group {id} ({score}) in {hits:?}");
        assert_eq!(hits[0] == "definite", score >= 0.9, "{score} {hits:?}");
    }

    // A refused filter: a 4xx page naming the parameter.
    let html = page(&mut v, "/duplicates?band=bogus", 422).await;
    assert!(html.contains("band"), "{html}");
    let html = page(&mut v, "/duplicates?status=bogus", 422).await;
    assert!(html.contains("status"), "{html}");
    // One per page: the next page follows the cursor and keeps the filter.
    let api = body(
        t.get("/api/v1/duplicates/groups?limit=1", &q.admin).await,
        200,
    )
    .await;
    assert!(api["next_cursor"].is_string(), "{api}");
});

backend_test!(merge_keeps_the_chosen_value_and_can_be_undone, |t| {
    let q = queue(&t).await;
    let mut v = steward(&t).await;
    let path = format!("/duplicates/{}", q.ab);
    let html = page(&mut v, &format!("{path}?survivor={}", q.a), 200).await;
    assert!(html.contains("id=\"side-by-side\""), "{html}");
    assert!(html.contains("class=\"differs\""), "the names differ");
    assert!(html.contains("id=\"row-name\""));
    // The default keeps the survivor's name.
    assert!(
        html.contains(&format!(
            "name=\"fields.name\" value=\"{}\" id=\"pick-name-{}\" checked",
            q.a, q.a
        )),
        "{html}"
    );
    let default_name = Visitor::hidden(&html, "default.name");
    assert_eq!(default_name, q.a);
    let csrf = Visitor::hidden(&html, "csrf");

    // Without a reason: the page again, the choice kept, the error beside the reason.
    let merge = format!("{path}/merge");
    let form = |reason: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("survivor", q.a.clone()),
            ("fields.name", q.b.clone()),
            ("default.name", q.a.clone()),
            ("fields.uscc", q.a.clone()),
            ("default.uscc", q.a.clone()),
            ("reason", reason.to_string()),
        ]
    };
    let f = form("");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = v.post(&merge, &f).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"error-reason\""), "{html}");
    assert!(
        html.contains(&format!("id=\"pick-name-{}\" checked", q.b)),
        "the choice is kept: {html}"
    );

    let f = form("同一家单位");
    let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = v.post(&merge, &f).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/customers/{}?tab=codes", q.a));
    let a = body(
        t.get(&format!("/api/v1/customers/{}", q.a), &q.admin).await,
        200,
    )
    .await;
    assert_eq!(
        a["name"], "南京金陵电子有限责任公司",
        "b's name chosen: {a}"
    );
    // The merged code leads to the survivor.
    let r = v.get(&format!("/customers/{}", q.b)).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        location(&r),
        format!("/customers/{}?merged_from={}", q.a, q.b)
    );
    let html = page(&mut v, &path, 200).await;
    assert!(html.contains("id=\"group-decided\""), "{html}");

    // Undo from the survivor's 编码 tab.
    let html = page(&mut v, &format!("/customers/{}?tab=codes", q.a), 200).await;
    assert!(html.contains("id=\"merges\""), "{html}");
    let merge_id = html
        .split("id=\"undo-form-")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let undo = format!("/customers/{}/merges/{merge_id}/undo", q.a);
    let r = v.post(&undo, &[("reason", "误合并")]).await;
    assert_eq!(r.status(), 403, "without the CSRF token");
    let r = v
        .post(&undo, &[("csrf", csrf.as_str()), ("reason", "误合并")])
        .await;
    assert_eq!(r.status(), 303);
    let a = body(
        t.get(&format!("/api/v1/customers/{}", q.a), &q.admin).await,
        200,
    )
    .await;
    assert_eq!(a["name"], "南京金陵电子有限公司", "{a}");
    let html = page(&mut v, &format!("/customers/{}", q.b), 200).await;
    assert!(html.contains("南京金陵电子有限责任公司"));
});

backend_test!(dismissal_is_remembered, |t| {
    let q = queue(&t).await;
    let mut v = steward(&t).await;
    let path = format!("/duplicates/{}", q.cd);
    let html = page(&mut v, &path, 200).await;
    let csrf = Visitor::hidden(&html, "csrf");
    let dismiss = format!("{path}/dismiss");
    let r = v.post(&dismiss, &[("reason", "两家不同单位")]).await;
    assert_eq!(r.status(), 403, "without the CSRF token");
    let r = v
        .post(
            &dismiss,
            &[("csrf", csrf.as_str()), ("reason", "两家不同单位")],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), path);
    let html = page(&mut v, &path, 200).await;
    assert!(html.contains("不是重复"), "{html}");
    assert!(
        !html.contains("id=\"merge\""),
        "no merge on a decided group"
    );
    let html = page(&mut v, "/duplicates?status=dismissed", 200).await;
    assert!(html.contains(&format!("id=\"group-{}\"", q.cd)));
    let html = page(&mut v, "/duplicates", 200).await;
    assert!(!html.contains(&format!("id=\"group-{}\"", q.cd)));
    // A new scan does not propose the pair again.
    let s = body(
        t.post("/api/v1/duplicates/scan", Some(&q.admin), json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(s["new_groups"], 0, "{s}");
    // Deciding again: the use case's conflict, as a page.
    let r = v
        .post(&dismiss, &[("csrf", csrf.as_str()), ("reason", "再次")])
        .await;
    assert_eq!(r.status(), 409);
});

backend_test!(query_users_get_403_and_other_scopes_404, |t| {
    let q = queue(&t).await;
    t.create_user(
        &q.admin,
        "query1",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let mut query = Visitor::new(&t);
    query.login("query1", USER_PASSWORD).await;
    let html = page(&mut query, "/duplicates", 403).await;
    assert!(!html.contains("href=\"/duplicates\""), "no nav entry");
    page(&mut query, &format!("/duplicates/{}", q.ab), 403).await;
    let csrf = query.csrf().await;
    let r = query
        .post(
            &format!("/duplicates/{}/dismiss", q.ab),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(r.status(), 403);

    // A steward whose scope holds none of the members: the group is not found.
    let r = t
        .post(
            "/api/v1/roles",
            Some(&q.admin),
            json!({"key": "reviewer", "name": "查重",
                   "permissions": ["customer.read", "duplicate.manage", "application.submit"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    for (name, scope) in [("own1", "own"), ("all1", "all")] {
        t.create_user(
            &q.admin,
            name,
            None,
            json!([{"role": "reviewer", "scope": scope}]),
        )
        .await;
    }
    let mut own = Visitor::new(&t);
    own.login("own1", USER_PASSWORD).await;
    let html = page(&mut own, "/duplicates", 200).await;
    assert!(!html.contains(&format!("group-{}", q.ab)), "{html}");
    assert!(!html.contains("dup-counts"), "no counts beyond the scope");
    page(&mut own, &format!("/duplicates/{}", q.ab), 404).await;
    page(&mut own, &format!("/customers/{}", q.a), 404).await;
    page(&mut own, "/duplicates/999999", 404).await;

    // A steward without customer.merge applies for the merge instead.
    let mut all = Visitor::new(&t);
    all.login("all1", USER_PASSWORD).await;
    let html = page(&mut all, &format!("/duplicates/{}", q.ab), 200).await;
    assert!(html.contains("id=\"merge-needs-approval\""), "{html}");
    let csrf = Visitor::hidden(&html, "csrf");
    let r = all
        .post(
            &format!("/duplicates/{}/merge", q.ab),
            &[
                ("csrf", csrf.as_str()),
                ("survivor", q.a.as_str()),
                ("reason", "申请合并"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert!(
        location(&r).starts_with("/applications/"),
        "{}",
        location(&r)
    );
    let apps: Value = body(t.get("/api/v1/applications", &q.admin).await, 200).await;
    assert!(apps.to_string().contains("merge"), "{apps}");
    let group = format!("/api/v1/duplicates/groups/{}", q.ab);
    assert_eq!(
        body(t.get(&group, &q.admin).await, 200).await["status"],
        "open"
    );
    // Approved (the default merge flow has two steps), the merge decides the group it
    // was applied for.
    let id = location(&r)
        .trim_start_matches("/applications/")
        .to_string();
    for _ in 0..2 {
        let ok = t
            .post(
                &format!("/api/v1/applications/{id}/approve"),
                Some(&q.admin),
                json!({"comment": "同意"}),
            )
            .await;
        assert_eq!(ok.status(), 200, "{}", ok.text().await.unwrap_or_default());
    }
    let a = body(
        t.get(&format!("/api/v1/applications/{id}"), &q.admin).await,
        200,
    )
    .await;
    assert_eq!(a["state"], "approved", "{a}");
    let g = body(t.get(&group, &q.admin).await, 200).await;
    assert_eq!(g["status"], "merged", "{g}");
    let _ = &q.c;
});
