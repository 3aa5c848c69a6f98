//! The ordered event log and the change feed through the HTTP API: every writer emits its
//! event with the change, nothing for refused changes, gap-free commit order under
//! concurrent writers, data scope, bad parameters, retention (410) and long-polling.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::applications::{direct_customer, id, new_customer, ok, org, submit};
use crate::backend_test;
use crate::customers::{seed_rules, uscc};
use crate::helpers::{body, problem, TestApp, USER_PASSWORD};

/// Every event after `after` as `token` sees it, following `next` until the end.
async fn feed(t: &TestApp, token: &str, after: i64) -> (Vec<Value>, i64) {
    let mut all = Vec::new();
    let mut after = after;
    loop {
        let page = body(
            t.get(&format!("/api/v1/events?after={after}&limit=7"), token)
                .await,
            200,
        )
        .await;
        let events = page["events"].as_array().cloned().unwrap_or_default();
        let next = page["next"].as_i64().expect("next");
        all.extend(events.iter().cloned());
        if next == after {
            return (all, next);
        }
        after = next;
    }
}

fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().filter_map(|e| e["seq"].as_i64()).collect()
}

backend_test!(every_writer_emits_its_event, |t| {
    let o = org(&t).await;
    let a = direct_customer(&t, &o.admin, "事件甲有限公司").await;
    let b = direct_customer(&t, &o.admin, "事件乙有限公司").await;
    let c = direct_customer(&t, &o.admin, "事件丙有限公司").await;
    let (start, mark) = feed(&t, &o.admin, 0).await;
    assert_eq!(
        types(&start),
        ["customer.created", "code.issued"].repeat(3),
        "{start:?}"
    );
    assert_eq!(seqs(&start), (1..=6).collect::<Vec<_>>());
    assert_eq!(start[0]["customer_code"], a.as_str());
    assert_eq!(start[0]["actor_name"], "admin");
    assert!(start[0]["id"].as_str().is_some_and(|i| i.len() == 36));

    // Update: the names of the changed fields, never their values.
    let r = t
        .patch(
            &format!("/api/v1/customers/{a}"),
            &o.admin,
            json!({"version": 1, "remarks": "备注秘密值", "phone": "010-88886666"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Merge b into a, then undo it.
    let m = body(
        t.post(
            "/api/v1/merges",
            Some(&o.admin),
            json!({"survivor": a, "merged": [b], "reason": "同一客户"}),
        )
        .await,
        201,
    )
    .await;
    let merge_id = m["merge_id"].as_i64().expect("merge id");
    body(
        t.post(
            &format!("/api/v1/merges/{merge_id}/undo"),
            Some(&o.admin),
            json!({"reason": "合并有误"}),
        )
        .await,
        200,
    )
    .await;
    // Split c into a new part.
    let part = new_customer("事件丙分公司");
    body(
        t.post(
            &format!("/api/v1/customers/{c}/split"),
            Some(&o.admin),
            json!({"reason": "业务拆分", "parts": [{"customer": part}]}),
        )
        .await,
        201,
    )
    .await;
    let (events, _) = feed(&t, &o.admin, mark).await;
    assert_eq!(
        types(&events),
        [
            "customer.updated",
            "customer.merged",
            "customer.unmerged",
            "customer.created",
            "code.issued",
            "customer.split",
        ],
        "{events:?}"
    );
    assert_eq!(seqs(&events), (7..=12).collect::<Vec<_>>());
    let mut fields: Vec<String> = events[0]["payload"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f.as_str().map(String::from))
        .collect();
    fields.sort();
    assert_eq!(fields, ["phone", "remarks"]);
    let text = serde_json::to_string(&events).expect("json");
    assert!(
        !text.contains("备注秘密值") && !text.contains("88886666"),
        "{text}"
    );
    assert_eq!(events[1]["customer_code"], a.as_str());
    assert_eq!(events[1]["payload"]["merged"], json!([b]));
    assert_eq!(events[2]["payload"]["restored"], json!([b]));
    assert_eq!(events[5]["customer_code"], c.as_str());
    let mark = events.last().and_then(|e| e["seq"].as_i64()).expect("seq");

    // Applications: submitted, decided, and the change they apply.
    let retire = submit(&t, &o.clerk, "retire", json!({"code": a})).await;
    ok(&t, &o.steward, id(&retire), "approve", json!({})).await;
    ok(&t, &o.admin, id(&retire), "approve", json!({})).await;
    let recode = submit(&t, &o.clerk, "change_code", json!({"code": c})).await;
    ok(&t, &o.steward, id(&recode), "approve", json!({})).await;
    let done = ok(&t, &o.admin, id(&recode), "approve", json!({})).await;
    let new_c = done["code"].as_str().expect("new code").to_string();
    let archive = submit(&t, &o.clerk, "archive", json!({"code": b})).await;
    ok(&t, &o.steward, id(&archive), "approve", json!({})).await;
    let back = submit(&t, &o.clerk, "reactivate", json!({"code": b})).await;
    ok(&t, &o.steward, id(&back), "approve", json!({})).await;
    let refused = submit(&t, &o.clerk, "archive", json!({"code": b})).await;
    ok(
        &t,
        &o.steward,
        id(&refused),
        "reject",
        json!({"reason": "不归档"}),
    )
    .await;
    let (events, _) = feed(&t, &o.admin, mark).await;
    assert_eq!(
        types(&events),
        [
            "application.submitted",
            "customer.retired",
            "application.decided",
            "application.submitted",
            "customer.code_changed",
            "code.issued",
            "application.decided",
            "application.submitted",
            "customer.archived",
            "application.decided",
            "application.submitted",
            "customer.reactivated",
            "application.decided",
            "application.submitted",
            "application.decided",
        ],
        "{events:?}"
    );
    assert_eq!(events[2]["payload"]["state"], "approved");
    assert_eq!(events[4]["customer_code"], new_c.as_str());
    assert_eq!(events[4]["payload"]["old_code"], c.as_str());
    assert_eq!(events[14]["payload"]["state"], "rejected");

    // A duplicate scan announces each new group (about several customers: no code).
    let mut twin = new_customer("事件孪生有限公司");
    twin["uscc"] = json!(uscc("MA04EA001"));
    let first = body(
        t.post("/api/v1/customers", Some(&o.admin), twin.clone())
            .await,
        201,
    )
    .await;
    assert!(first["code"].is_string());
    twin["override_duplicates"] = json!(true);
    twin["reason"] = json!("确认为不同主体");
    body(t.post("/api/v1/customers", Some(&o.admin), twin).await, 201).await;
    let last = events.last().and_then(|e| e["seq"].as_i64()).expect("seq");
    body(
        t.post("/api/v1/duplicates/scan", Some(&o.admin), json!({}))
            .await,
        200,
    )
    .await;
    let (events, _) = feed(&t, &o.admin, last).await;
    assert_eq!(
        types(&events),
        [
            "customer.created",
            "code.issued",
            "customer.created",
            "code.issued",
            "duplicates.found"
        ],
        "{events:?}"
    );
    assert_eq!(events[4]["customer_code"], Value::Null);
    assert_eq!(
        events[4]["payload"]["members"].as_array().map(Vec::len),
        Some(2)
    );
});

backend_test!(refused_changes_leave_no_event, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mut first = new_customer("无事件有限公司");
    first["uscc"] = json!(uscc("MA04EA002"));
    body(
        t.post("/api/v1/customers", Some(&admin), first.clone())
            .await,
        201,
    )
    .await;
    // Refused by validation, by the duplicate check, and by a stale version.
    let bad = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": ""}),
        )
        .await;
    assert_eq!(bad.status(), 422);
    let dup = t.post("/api/v1/customers", Some(&admin), first).await;
    assert_eq!(dup.status(), 409);
    let (events, next) = feed(&t, &admin, 0).await;
    let code = events[0]["customer_code"]
        .as_str()
        .expect("code")
        .to_string();
    let stale = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 7, "remarks": "x"}),
        )
        .await;
    assert_eq!(stale.status(), 409);
    let (events, next2) = feed(&t, &admin, 0).await;
    assert_eq!(types(&events), ["customer.created", "code.issued"]);
    assert_eq!((next, next2), (2, 2));
    // The next change gets the next number: nothing was taken by the refusals.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 1, "remarks": "y"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (events, _) = feed(&t, &admin, 2).await;
    assert_eq!(seqs(&events), [3]);
});

backend_test!(concurrent_writers_get_gapless_commit_order, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mut tasks = Vec::new();
    for w in 0..8 {
        let base = t.base.clone();
        let client = t.client.clone();
        let token = admin.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                let r = client
                    .post(format!("{base}/api/v1/customers"))
                    .bearer_auth(&token)
                    .json(&new_customer(&format!("并发事件{w}号{i}有限公司")))
                    .send()
                    .await
                    .expect("send");
                assert_eq!(r.status(), 201);
            }
        }));
    }
    for task in tasks {
        task.await.expect("writer");
    }
    let (events, next) = feed(&t, &admin, 0).await;
    assert_eq!(events.len(), 400);
    assert_eq!(next, 400);
    assert_eq!(seqs(&events), (1..=400).collect::<Vec<_>>());
    let created: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "customer.created")
        .filter_map(|e| e["customer_code"].as_str())
        .collect();
    assert_eq!(created.len(), 200);
    // Each creation's two events are adjacent, and codes (drawn in commit order under
    // the audit head's lock) rise with the sequence.
    for pair in events.chunks(2) {
        assert_eq!(pair[0]["type"], "customer.created");
        assert_eq!(pair[1]["type"], "code.issued");
        assert_eq!(pair[0]["customer_code"], pair[1]["customer_code"]);
    }
    let mut sorted = created.clone();
    sorted.sort();
    assert_eq!(created, sorted);
});

backend_test!(feed_respects_data_scope, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let east = t.create_department(&admin, "华东", None).await;
    let west = t.create_department(&admin, "华西", None).await;
    let steward = json!([{"role": "steward", "scope": "department"}]);
    let e_id = t.create_user(&admin, "east", Some(east), steward).await;
    let own = json!([{"role": "steward", "scope": "own"}]);
    let o_id = t.create_user(&admin, "owner", Some(west), own).await;
    let q = json!([{"role": "query", "scope": "all"}]);
    t.create_user(&admin, "reader", Some(east), q).await;
    let mut codes = Vec::new();
    for (name, owner, dept) in [
        ("东区一有限公司", e_id, east),
        ("西区一有限公司", o_id, west),
        ("东区二有限公司", e_id, east),
    ] {
        let mut c = new_customer(name);
        c["owner_id"] = json!(owner);
        c["department_id"] = json!(dept);
        let v = body(t.post("/api/v1/customers", Some(&admin), c).await, 201).await;
        codes.push(v["code"].as_str().expect("code").to_string());
    }
    // Events about no single customer: a duplicate group (of two customers nobody but
    // the administrator sees).
    let mut twin = new_customer("范围外孪生有限公司");
    twin["uscc"] = json!(uscc("MA04EA003"));
    body(
        t.post("/api/v1/customers", Some(&admin), twin.clone())
            .await,
        201,
    )
    .await;
    twin["override_duplicates"] = json!(true);
    twin["reason"] = json!("确认为不同主体");
    body(t.post("/api/v1/customers", Some(&admin), twin).await, 201).await;
    body(
        t.post("/api/v1/duplicates/scan", Some(&admin), json!({}))
            .await,
        200,
    )
    .await;
    let (all, all_next) = feed(&t, &admin, 0).await;
    let east_token = t.login("east", USER_PASSWORD).await;
    let (seen, next) = feed(&t, &east_token, 0).await;
    assert_eq!(next, all_next, "the cursor moves past what is hidden");
    let seen_codes: Vec<&str> = seen
        .iter()
        .map(|e| e["customer_code"].as_str().expect("customer events only"))
        .collect();
    assert_eq!(
        seen_codes,
        [&codes[0], &codes[0], &codes[2], &codes[2]].map(String::as_str)
    );
    let owner_token = t.login("owner", USER_PASSWORD).await;
    let (seen, next) = feed(&t, &owner_token, 0).await;
    assert_eq!(next, all_next);
    assert_eq!(types(&seen), ["customer.created", "code.issued"]);
    assert!(seen.iter().all(|e| e["customer_code"] == codes[1].as_str()));
    assert_eq!(all.len(), 11, "{all:?}");
    assert_eq!(all[10]["type"], "duplicates.found");
    assert!(all[10]["customer_code"].is_null());
    // A page of only hidden events is empty but still moves the cursor.
    let page = body(
        t.get("/api/v1/events?after=2&limit=2", &east_token).await,
        200,
    )
    .await;
    assert_eq!(page["events"], json!([]));
    assert_eq!(page["next"], 4);
    let reader = t.login("reader", USER_PASSWORD).await;
    let p = problem(t.get("/api/v1/events", &reader).await, 403).await;
    assert_eq!(p["code"], "auth.forbidden");
});

backend_test!(bad_parameters_and_pruned_positions, |t| {
    let admin = t.admin_token().await;
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("wait=31", "wait"),
        ("wait=-1", "wait"),
        ("after=-1", "after"),
        ("after=x", "after"),
        ("types=customer.nope", "types"),
        ("since=3", "since"),
    ] {
        let p = problem(t.get(&format!("/api/v1/events?{query}"), &admin).await, 422).await;
        assert_eq!(p["fields"][0]["field"], field, "{query}: {p}");
    }
    // Empty database: an empty page, not an error, even far ahead.
    let page = body(t.get("/api/v1/events?after=50", &admin).await, 200).await;
    assert_eq!(page, json!({"events": [], "next": 50}));
    seed_rules(&t, &admin).await;
    for i in 0..3 {
        body(
            t.post(
                "/api/v1/customers",
                Some(&admin),
                new_customer(&format!("保留期{i}有限公司")),
            )
            .await,
            201,
        )
        .await;
    }
    let pruned = t
        .app
        .events()
        .prune_events_before(custos_store::now_us() + 1)
        .await
        .expect("prune");
    assert_eq!(pruned, 6);
    let p = problem(t.get("/api/v1/events?after=0", &admin).await, 410).await;
    assert_eq!(p["code"], "events.pruned");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains('7')), "{p}");
    let page = body(t.get("/api/v1/events?after=6", &admin).await, 200).await;
    assert_eq!(page, json!({"events": [], "next": 6}));
    body(
        t.post(
            "/api/v1/customers",
            Some(&admin),
            new_customer("保留期后有限公司"),
        )
        .await,
        201,
    )
    .await;
    let (events, _) = feed(&t, &admin, 6).await;
    assert_eq!(seqs(&events), [7, 8]);
});

backend_test!(long_poll_answers_when_an_event_commits, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    // Nothing arrives: the wait runs out, then an empty page.
    let started = Instant::now();
    let page = body(t.get("/api/v1/events?wait=1", &admin).await, 200).await;
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert_eq!(page["events"], json!([]));
    // A creation during the wait ends it at once.
    let (base, client, token) = (t.base.clone(), t.client.clone(), admin.clone());
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let r = client
            .get(format!("{base}/api/v1/events?after=0&wait=20"))
            .bearer_auth(&token)
            .send()
            .await
            .expect("send");
        let v: Value = r.json().await.expect("json");
        (v, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(600)).await;
    body(
        t.post(
            "/api/v1/customers",
            Some(&admin),
            new_customer("长轮询有限公司"),
        )
        .await,
        201,
    )
    .await;
    let (page, took) = waiting.await.expect("poll");
    assert_eq!(page["events"][0]["type"], "customer.created", "{page}");
    assert!(took < Duration::from_secs(5), "{took:?}");
});
