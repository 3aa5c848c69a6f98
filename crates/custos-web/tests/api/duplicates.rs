//! Duplicate check on entry, the review queue, merge → unmerge, split; each on SQLite and
//! PostgreSQL.

use custos_core::ident::{IdNumber, Uscc};
use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::{body, problem, TestApp, USER_PASSWORD};

fn uscc(org: &str) -> String {
    Uscc::with_check(&format!("91110108{org}"))
        .expect("valid uscc")
        .as_str()
        .to_string()
}

fn id_number(first17: &str) -> String {
    IdNumber::with_check(first17, chrono::Utc::now().date_naive())
        .expect("valid id")
        .as_str()
        .to_string()
}

async fn create(t: &TestApp, token: &str, body_json: Value) -> Value {
    let r = t
        .post("/api/v1/customers", Some(token), body_json.clone())
        .await;
    body(r, 201).await
}

async fn check(t: &TestApp, token: &str, draft: Value) -> Value {
    body(
        t.post("/api/v1/duplicates/check", Some(token), draft).await,
        200,
    )
    .await
}

fn first(report: &Value) -> &Value {
    &report["candidates"][0]
}

fn evidence<'a>(c: &'a Value, field: &str) -> Option<&'a Value> {
    c["evidence"]
        .as_array()?
        .iter()
        .find(|e| e["field"] == field)
}

/// A GET that does not follow redirects.
async fn get_raw(t: &TestApp, path: &str, token: &str) -> reqwest::Response {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}{}", t.base, path))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

backend_test!(each_evidence_type_finds_the_existing_customer, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let org = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "北京星辰科技有限公司", "uscc": uscc("MA01ABCD1"),
               "region_code": "110108", "phone": "010-62551234", "email": "info@xingchen.example.com"}),
    )
    .await;
    let person = create(
        &t,
        &admin,
        json!({"customer_type": "individual", "name": "李明", "id_number": id_number("11010819800101123"),
               "mobile": "13812345678", "region_code": "110108"}),
    )
    .await;

    // Same USCC under another name.
    let r = check(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "星辰网络", "uscc": uscc("MA01ABCD1")}),
    )
    .await;
    assert_eq!(r["verdict"], "definite", "{r}");
    assert_eq!(first(&r)["code"], org["code"]);
    assert_eq!(
        evidence(first(&r), "uscc").expect("uscc evidence")["kind"],
        "same"
    );

    // Same ID number (blind index behind the scenes), typed with a lower-case x or spaces.
    let r = check(&t, &admin, json!({"customer_type": "individual", "name": "李明", "id_number": id_number("11010819800101123")})).await;
    assert_eq!(r["verdict"], "definite", "{r}");
    assert_eq!(first(&r)["code"], person["code"]);
    assert_eq!(
        evidence(first(&r), "id_number").expect("id evidence")["kind"],
        "same"
    );

    // Same mobile in another format, same name.
    let r = check(
        &t,
        &admin,
        json!({"customer_type": "individual", "name": "李明", "mobile": "+86 138-1234-5678"}),
    )
    .await;
    assert_eq!(first(&r)["code"], person["code"], "{r}");
    assert_eq!(
        evidence(first(&r), "phone").expect("phone evidence")["kind"],
        "same"
    );

    // Same e-mail, upper case.
    let r = check(&t, &admin, json!({"customer_type": "enterprise", "name": "星辰科技", "email": "INFO@xingchen.example.com"})).await;
    assert_eq!(first(&r)["code"], org["code"], "{r}");
    assert_eq!(
        evidence(first(&r), "email").expect("email evidence")["kind"],
        "same"
    );

    // Name only: traditional characters, full-width brackets and another legal-form suffix.
    let r = check(&t, &admin, json!({"customer_type": "enterprise", "name": "（北京）星辰科技有限責任公司", "region_code": "110108"})).await;
    assert_ne!(r["verdict"], "none", "{r}");
    assert_eq!(first(&r)["code"], org["code"]);
    assert!(evidence(first(&r), "name").is_some());

    // Nothing to compare.
    let p = problem(
        t.post(
            "/api/v1/duplicates/check",
            Some(&admin),
            json!({"customer_type": "enterprise"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["code"], "duplicate.nothing_to_compare");
});

backend_test!(hard_negatives_score_low, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "北京华为技术有限公司", "uscc": uscc("MA01HW001"), "region_code": "110108"}),
    )
    .await;
    // Same brand, another city, another USCC.
    let other = Uscc::with_check("91310115MA01HW002")
        .expect("uscc")
        .as_str()
        .to_string();
    let r = check(&t, &admin, json!({"customer_type": "enterprise", "name": "上海华为技术有限公司", "uscc": other, "region_code": "310115"})).await;
    assert_eq!(r["verdict"], "none", "{r}");
    // Same brand, another province, no USCC at all: a warning at most, never a block.
    let r = check(&t, &admin, json!({"customer_type": "enterprise", "name": "华为技术有限公司（上海）", "region_code": "310115"})).await;
    assert_ne!(r["verdict"], "definite", "{r}");

    // Numbered shops of one chain are different customers, not typos of each other.
    create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "杭州华信便利3号店有限公司", "region_code": "330106"}),
    )
    .await;
    let r = check(&t, &admin, json!({"customer_type": "enterprise", "name": "杭州华信便利4号店有限公司", "region_code": "330106"})).await;
    assert_ne!(r["verdict"], "definite", "{r}");

    // Two people called 王伟 in one district with different ID numbers and phones.
    create(
        &t,
        &admin,
        json!({"customer_type": "individual", "name": "王伟", "id_number": id_number("11010819850505001"),
               "mobile": "13900000001", "region_code": "110108"}),
    )
    .await;
    let r = check(
        &t,
        &admin,
        json!({"customer_type": "individual", "name": "王伟", "id_number": id_number("11010819900909002"),
               "mobile": "13900000002", "region_code": "110108"}),
    )
    .await;
    assert_eq!(r["verdict"], "none", "{r}");
    // …and creating the second one goes through without any warning.
    let v = create(
        &t,
        &admin,
        json!({"customer_type": "individual", "name": "王伟", "id_number": id_number("11010819900909002"),
               "mobile": "13900000002", "region_code": "110108"}),
    )
    .await;
    assert!(v.get("possible_duplicates").is_none(), "{v}");
});

backend_test!(definite_duplicate_blocks_creation_until_overridden, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let original = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "杭州云帆信息技术有限公司", "uscc": uscc("MA02YF001"), "region_code": "330106"}),
    )
    .await;
    let again = json!({"customer_type": "enterprise", "name": "杭州云帆信息技术有限公司", "uscc": uscc("MA02YF001"), "region_code": "330106"});
    let p = problem(
        t.post("/api/v1/customers", Some(&admin), again.clone())
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "customer.duplicate");
    assert_eq!(p["duplicates"]["candidates"][0]["code"], original["code"]);
    assert!(p["detail"]
        .as_str()
        .unwrap_or("")
        .contains(original["code"].as_str().unwrap_or("?")));

    // English on request.
    let r = t
        .req(Method::POST, "/api/v1/customers", Some(&admin))
        .header("Accept-Language", "en")
        .json(&again)
        .send()
        .await
        .expect("request");
    let p = problem(r, 409).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap_or("")
            .contains("looks like an existing customer"),
        "{p}"
    );

    // Override without a reason: refused, nothing written.
    let mut over = again.clone();
    over["override_duplicates"] = json!(true);
    let p = problem(
        t.post("/api/v1/customers", Some(&admin), over.clone())
            .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["field"], "reason");

    // A user who may create but not manage duplicates cannot override.
    let r = t
        .post(
            "/api/v1/roles",
            Some(&admin),
            json!({"key": "creator", "name": "录入", "permissions": ["customer.read", "customer.create"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    t.create_user(
        &admin,
        "creator1",
        None,
        json!([{"role": "creator", "scope": "all"}]),
    )
    .await;
    let creator = t.login("creator1", USER_PASSWORD).await;
    let mut over_with_reason = over.clone();
    over_with_reason["reason"] = json!("分支机构单独核算");
    problem(
        t.post(
            "/api/v1/customers",
            Some(&creator),
            over_with_reason.clone(),
        )
        .await,
        403,
    )
    .await;

    // The steward's override goes through and is audited with the candidates.
    let v = create(&t, &admin, over_with_reason).await;
    assert_eq!(v["possible_duplicates"][0]["code"], original["code"]);
    let audit = body(
        t.get("/api/v1/audit?action=customer.create", &admin).await,
        200,
    )
    .await;
    let entry = audit["items"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["target_id"] == v["code"]))
        .cloned()
        .expect("audit entry");
    let after: Value = match &entry["after"] {
        Value::String(s) => serde_json::from_str(s).expect("json"),
        other => other.clone(),
    };
    assert_eq!(after["duplicates_overridden"], true, "{entry}");
    assert_eq!(entry["reason"], "分支机构单独核算");

    // An update that makes a definite duplicate is refused too.
    let third = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "宁波海港物流有限公司", "region_code": "330203"}),
    )
    .await;
    let p = problem(
        t.patch(
            &format!("/api/v1/customers/{}", third["code"].as_str().unwrap_or("")),
            &admin,
            json!({"version": third["version"], "uscc": uscc("MA02YF001"), "name": "杭州云帆信息技术有限公司", "reason": "更正"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "customer.duplicate");
});

backend_test!(out_of_scope_duplicates_are_reported_without_data, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "广州南方重工机械有限公司", "uscc": uscc("MA03NF001"), "region_code": "440106"}),
    )
    .await;
    t.create_user(
        &admin,
        "sales1",
        None,
        json!([{"role": "steward", "scope": "own"}]),
    )
    .await;
    let sales = t.login("sales1", USER_PASSWORD).await;
    let r = check(
        &t,
        &sales,
        json!({"customer_type": "enterprise", "name": "南方重工", "uscc": uscc("MA03NF001")}),
    )
    .await;
    assert_eq!(r["verdict"], "definite", "{r}");
    assert_eq!(r["candidates"], json!([]), "{r}");
    assert_eq!(r["outside_scope_match"], true, "{r}");
    // Creating it is still blocked: one customer, one code.
    let p = problem(
        t.post(
            "/api/v1/customers",
            Some(&sales),
            json!({"customer_type": "enterprise", "name": "南方重工", "uscc": uscc("MA03NF001")}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "customer.duplicate");
    assert_eq!(p["duplicates"]["candidates"], json!([]), "{p}");
    assert_eq!(p["duplicates"]["outside_scope_match"], true, "{p}");
    assert!(
        p["detail"]
            .as_str()
            .is_some_and(|d| d.contains("范围外存在疑似重复客户")),
        "{p}"
    );
});

async fn merge(t: &TestApp, token: &str, req: Value) -> reqwest::Response {
    t.post("/api/v1/merges", Some(token), req).await
}

/// The parts of a customer view that a merge → unmerge must restore.
fn essence(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(o) = v.as_object_mut() {
        for k in ["version", "updated_at", "possible_duplicates"] {
            o.remove(k);
        }
    }
    v
}

backend_test!(merge_then_unmerge_restores_everything, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let a = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "成都天府软件有限公司", "region_code": "510107",
               "phone": "028-85551234", "tags": ["软件"], "website": "https://a.tianfu.example.com",
               "contacts": [{"name": "赵一", "mobile": "13700000001", "is_primary": true}]}),
    )
    .await;
    let b = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "成都天府软件股份有限公司", "region_code": "510107",
               "uscc": uscc("MA04TF001"), "email": "tf@example.com", "tags": ["重点"], "override_duplicates": true,
               "website": "https://b.tianfu.example.com",
               "reason": "录入时未确认",
               "contacts": [{"name": "钱二", "mobile": "13700000002"}]}),
    )
    .await;
    let (ca, cb) = (
        a["code"].as_str().unwrap_or(""),
        b["code"].as_str().unwrap_or(""),
    );
    let before_a = body(t.get(&format!("/api/v1/customers/{ca}"), &admin).await, 200).await;
    let before_b = body(t.get(&format!("/api/v1/customers/{cb}"), &admin).await, 200).await;

    // Bad requests first: nothing is written.
    let p = problem(
        merge(
            &t,
            &admin,
            json!({"survivor": ca, "merged": [ca], "reason": "x"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["code"], "merged.repeated");
    let p = problem(
        merge(&t, &admin, json!({"survivor": ca, "merged": []})).await,
        422,
    )
    .await;
    let codes: Vec<&str> = p["fields"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["code"].as_str()).collect())
        .unwrap_or_default();
    assert!(
        codes.contains(&"reason.required") && codes.contains(&"merged.required"),
        "{p}"
    );
    let p = problem(
        merge(
            &t,
            &admin,
            json!({"survivor": ca, "merged": [cb], "reason": "x", "fields": {"code": cb}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["code"], "merge.field_unknown");
    let p = problem(
        merge(
            &t,
            &admin,
            json!({"survivor": ca, "merged": [cb], "reason": "x", "fields": {"name": "C999999"}}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["code"], "merge.field_source");
    problem(
        merge(
            &t,
            &admin,
            json!({"survivor": ca, "merged": ["C999999"], "reason": "x"}),
        )
        .await,
        404,
    )
    .await;

    // Merge B into A, taking B's name and website.
    let m = body(
        merge(
            &t,
            &admin,
            json!({"survivor": ca, "merged": [cb], "reason": "同一客户重复录入",
                                 "fields": {"name": cb, "website": cb}}),
        )
        .await,
        201,
    )
    .await;
    let s = &m["survivor"];
    assert_eq!(s["name"], "成都天府软件股份有限公司");
    assert_eq!(
        s["website"], "https://b.tianfu.example.com",
        "a chosen optional field"
    );
    assert_eq!(
        s["uscc"], b["uscc"],
        "empty field filled from the merged customer"
    );
    assert_eq!(s["phone"], a["phone"]);
    assert!(s["former_names"]
        .as_array()
        .is_some_and(|f| f.iter().any(|n| n == "成都天府软件有限公司")));
    assert_eq!(s["tags"].as_array().map(Vec::len), Some(2));
    assert_eq!(s["contacts"].as_array().map(Vec::len), Some(2));

    // B's code redirects to A; the registry keeps B's code as merged.
    let r = get_raw(&t, &format!("/api/v1/customers/{cb}"), &admin).await;
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers().get("location").and_then(|v| v.to_str().ok()),
        Some(format!("/api/v1/customers/{ca}").as_str())
    );
    let followed = body(t.get(&format!("/api/v1/customers/{cb}"), &admin).await, 200).await;
    assert_eq!(followed["code"], ca);
    let valid = body(
        t.post("/api/v1/codes/validate", Some(&admin), json!({"code": cb}))
            .await,
        200,
    )
    .await;
    assert!(valid.to_string().contains("merged"), "{valid}");
    let lineage = body(
        t.get(&format!("/api/v1/customers/{ca}/lineage"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(lineage[0]["kind"], "merge");
    assert_eq!(lineage[0]["from"], cb);
    assert_eq!(lineage[0]["to"], ca);
    // B is no longer a duplicate candidate, A carries its identifiers.
    let r = check(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "天府软件", "uscc": uscc("MA04TF001")}),
    )
    .await;
    assert_eq!(r["candidates"].as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(first(&r)["code"], ca);
    // Merging a merged customer again is refused.
    let p = problem(
        merge(
            &t,
            &admin,
            json!({"survivor": ca, "merged": [cb], "reason": "x"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["code"], "customer.not_mergeable");

    // Undo: both exactly as before.
    let id = m["merge_id"].as_i64().unwrap_or(0);
    problem(
        t.post(
            &format!("/api/v1/merges/{id}/undo"),
            Some(&admin),
            json!({}),
        )
        .await,
        422,
    )
    .await;
    let restored = body(
        t.post(
            &format!("/api/v1/merges/{id}/undo"),
            Some(&admin),
            json!({"reason": "合并有误"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(restored.as_array().map(Vec::len), Some(2));
    let after_a = body(t.get(&format!("/api/v1/customers/{ca}"), &admin).await, 200).await;
    let after_b = body(t.get(&format!("/api/v1/customers/{cb}"), &admin).await, 200).await;
    assert_eq!(essence(&after_a), essence(&before_a));
    assert_eq!(essence(&after_b), essence(&before_b));
    let lineage = body(
        t.get(&format!("/api/v1/customers/{ca}/lineage"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(lineage, json!([]));
    let p = problem(
        t.post(
            &format!("/api/v1/merges/{id}/undo"),
            Some(&admin),
            json!({"reason": "again"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "merge.already_undone");
    let merges = body(
        t.get(&format!("/api/v1/customers/{cb}/merges"), &admin)
            .await,
        200,
    )
    .await;
    assert!(merges[0]["undone_at"].is_string(), "{merges}");
});

backend_test!(unmerge_refused_after_a_later_change, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let a = create(&t, &admin, json!({"customer_type": "enterprise", "name": "西安秦川机床有限公司", "region_code": "610113"})).await;
    let b = create(&t, &admin, json!({"customer_type": "enterprise", "name": "西安秦川数控有限公司", "region_code": "610113"})).await;
    let (ca, cb) = (
        a["code"].as_str().unwrap_or(""),
        b["code"].as_str().unwrap_or(""),
    );
    let m = body(
        merge(
            &t,
            &admin,
            json!({"survivor": ca, "merged": [cb], "reason": "同一集团"}),
        )
        .await,
        201,
    )
    .await;
    let s = &m["survivor"];
    body(
        t.patch(
            &format!("/api/v1/customers/{ca}"),
            &admin,
            json!({"version": s["version"], "remarks": "合并后补充"}),
        )
        .await,
        200,
    )
    .await;
    let id = m["merge_id"].as_i64().unwrap_or(0);
    let p = problem(
        t.post(
            &format!("/api/v1/merges/{id}/undo"),
            Some(&admin),
            json!({"reason": "撤销"}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "merge.changed_since");
    assert!(p["detail"].as_str().unwrap_or("").contains(ca), "{p}");
});

backend_test!(concurrent_overlapping_merges_one_wins, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mut codes = Vec::new();
    for name in [
        "重庆山城火锅连锁有限公司",
        "重庆山城餐饮管理有限公司",
        "重庆山城食品有限公司",
    ] {
        let v = create(
            &t,
            &admin,
            json!({"customer_type": "enterprise", "name": name, "region_code": "500103"}),
        )
        .await;
        codes.push(v["code"].as_str().unwrap_or("").to_string());
    }
    for round in 0..3 {
        let reqs = [
            json!({"survivor": codes[0], "merged": [codes[1]], "reason": format!("r{round}a")}),
            json!({"survivor": codes[2], "merged": [codes[1]], "reason": format!("r{round}b")}),
        ];
        let mut handles = Vec::new();
        for req in reqs {
            let (base, token) = (t.base.clone(), admin.clone());
            handles.push(tokio::spawn(async move {
                let r = reqwest::Client::new()
                    .post(format!("{base}/api/v1/merges"))
                    .bearer_auth(token)
                    .json(&req)
                    .send()
                    .await
                    .expect("request");
                let status = r.status().as_u16();
                (status, r.json::<Value>().await.unwrap_or(Value::Null))
            }));
        }
        let mut ok = Vec::new();
        for h in handles {
            let (status, v) = h.await.expect("task");
            if status == 201 {
                ok.push(v);
            } else {
                assert!(
                    status == 409 || status == 422,
                    "loser fails cleanly: {status} {v}"
                );
            }
        }
        assert_eq!(ok.len(), 1, "exactly one merge wins");
        // The middle customer points at exactly one survivor; undo for the next round.
        let winner = ok[0]["survivor"]["code"].as_str().unwrap_or("").to_string();
        let r = get_raw(&t, &format!("/api/v1/customers/{}", codes[1]), &admin).await;
        assert_eq!(r.status(), 308);
        assert_eq!(
            r.headers().get("location").and_then(|v| v.to_str().ok()),
            Some(format!("/api/v1/customers/{winner}").as_str())
        );
        let id = ok[0]["merge_id"].as_i64().unwrap_or(0);
        body(
            t.post(
                &format!("/api/v1/merges/{id}/undo"),
                Some(&admin),
                json!({"reason": "下一轮"}),
            )
            .await,
            200,
        )
        .await;
    }
});

backend_test!(split_makes_new_codes_and_keeps_lineage, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let a = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "武汉长江贸易有限公司", "region_code": "420102",
               "contacts": [{"name": "孙三", "mobile": "13600000003", "is_primary": true},
                            {"name": "周四", "mobile": "13600000004"}]}),
    )
    .await;
    let ca = a["code"].as_str().unwrap_or("").to_string();
    let contacts = a["contacts"].as_array().cloned().unwrap_or_default();
    let zhou = contacts
        .iter()
        .find(|c| c["name"] == "周四")
        .map(|c| c["id"].clone())
        .unwrap_or(Value::Null);

    // Bad input: unknown contact, contact twice, bad `original`, no reason — all at once.
    let p = problem(
        t.post(
            &format!("/api/v1/customers/{ca}/split"),
            Some(&admin),
            json!({"original": "destroy", "parts": [
                {"customer": {"customer_type": "enterprise", "name": "武汉长江物流有限公司", "region_code": "420102"}, "contacts": [999, zhou]},
                {"customer": {"customer_type": "enterprise", "name": "武汉长江仓储有限公司", "region_code": "420102"}, "contacts": [zhou]}]}),
        )
        .await,
        422,
    )
    .await;
    let codes: Vec<&str> = p["fields"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["code"].as_str()).collect())
        .unwrap_or_default();
    for c in [
        "reason.required",
        "split.original_invalid",
        "split.contact_unknown",
        "split.contact_twice",
    ] {
        assert!(codes.contains(&c), "{c} in {p}");
    }
    // An invalid part names its index.
    let p = problem(
        t.post(
            &format!("/api/v1/customers/{ca}/split"),
            Some(&admin),
            json!({"reason": "业务拆分", "parts": [{"customer": {"customer_type": "enterprise", "name": ""}}]}),
        )
        .await,
        422,
    )
    .await;
    assert!(
        p["fields"][0]["field"]
            .as_str()
            .unwrap_or("")
            .starts_with("parts[0].customer."),
        "{p}"
    );
    let still = body(t.get(&format!("/api/v1/customers/{ca}"), &admin).await, 200).await;
    assert_eq!(still["version"], a["version"], "nothing half-written");

    let r = body(
        t.post(
            &format!("/api/v1/customers/{ca}/split"),
            Some(&admin),
            json!({"reason": "业务拆分", "original": "retire", "parts": [
                {"customer": {"customer_type": "enterprise", "name": "武汉长江物流有限公司", "region_code": "420102"}, "contacts": [zhou]}]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(r["original"]["status"], "retired");
    assert_eq!(r["original"]["contacts"].as_array().map(Vec::len), Some(1));
    let part = &r["parts"][0];
    let cp = part["code"].as_str().unwrap_or("");
    assert_ne!(cp, ca);
    assert_eq!(part["contacts"][0]["name"], "周四");
    let lineage = body(
        t.get(&format!("/api/v1/customers/{cp}/lineage"), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(lineage[0]["kind"], "split");
    assert_eq!(lineage[0]["from"], ca.as_str());
    assert_eq!(lineage[0]["to"], cp);
    // A retired customer cannot be split again.
    let p = problem(
        t.post(
            &format!("/api/v1/customers/{ca}/split"),
            Some(&admin),
            json!({"reason": "再拆", "parts": [{"customer": {"customer_type": "enterprise", "name": "武汉长江码头有限公司"}}]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["code"], "customer.not_mergeable");
});

backend_test!(review_queue_scan_dismiss_and_merge, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mk = |name: &'static str, u: Option<String>| {
        let mut v = json!({"customer_type": "enterprise", "name": name, "region_code": "320106",
                           "override_duplicates": true, "reason": "历史数据"});
        if let Some(u) = u {
            v["uscc"] = json!(u);
        }
        v
    };
    let a = create(
        &t,
        &admin,
        mk("南京金陵电子有限公司", Some(uscc("MA05JL001"))),
    )
    .await;
    let b = create(
        &t,
        &admin,
        mk("南京金陵电子有限责任公司", Some(uscc("MA05JL001"))),
    )
    .await;
    let c = create(&t, &admin, mk("苏州园林设计院有限公司", None)).await;
    let d = create(&t, &admin, mk("蘇州園林設計院有限公司", None)).await;
    create(&t, &admin, mk("无锡太湖纺织有限公司", None)).await;

    let p = problem(
        t.post(
            "/api/v1/duplicates/scan",
            Some(&admin),
            json!({"threshold": 2}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["field"], "threshold");
    let s = body(
        t.post("/api/v1/duplicates/scan", Some(&admin), json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(s["customers"], 5, "{s}");
    assert_eq!(s["groups"], 2, "{s}");
    assert_eq!(s["new_groups"], 2);
    // Scanning again queues nothing new.
    let s = body(
        t.post("/api/v1/duplicates/scan", Some(&admin), json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(s["new_groups"], 0, "{s}");

    let page = body(t.get("/api/v1/duplicates/groups", &admin).await, 200).await;
    let groups = page["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(groups.len(), 2, "{page}");
    let has = |g: &Value, code: &Value| {
        g["members"]
            .as_array()
            .is_some_and(|m| m.iter().any(|x| x["code"] == *code))
    };
    let g_ab = groups
        .iter()
        .find(|g| has(g, &a["code"]))
        .cloned()
        .expect("group a/b");
    let g_cd = groups
        .iter()
        .find(|g| has(g, &c["code"]))
        .cloned()
        .expect("group c/d");
    assert!(has(&g_ab, &b["code"]) && has(&g_cd, &d["code"]));
    let one = body(
        t.get(&format!("/api/v1/duplicates/groups/{}", g_ab["id"]), &admin)
            .await,
        200,
    )
    .await;
    assert!(
        one["pairs"][0]["evidence"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{one}"
    );
    problem(
        t.get("/api/v1/duplicates/groups?status=bogus", &admin)
            .await,
        422,
    )
    .await;
    problem(t.get("/api/v1/duplicates/groups/abc", &admin).await, 404).await;

    // Dismiss c/d: never proposed again.
    let dismissed = body(
        t.post(
            &format!("/api/v1/duplicates/groups/{}/dismiss", g_cd["id"]),
            Some(&admin),
            json!({"reason": "两家不同单位"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(dismissed["status"], "dismissed");
    let p = problem(
        t.post(
            &format!("/api/v1/duplicates/groups/{}/dismiss", g_cd["id"]),
            Some(&admin),
            json!({}),
        )
        .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "duplicate_group.closed");

    // Confirm a/b with b surviving.
    let p = problem(
        t.post(
            &format!("/api/v1/duplicates/groups/{}/merge", g_ab["id"]),
            Some(&admin),
            json!({"survivor": c["code"], "reason": "x"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["code"], "survivor.not_member");
    let m = body(
        t.post(
            &format!("/api/v1/duplicates/groups/{}/merge", g_ab["id"]),
            Some(&admin),
            json!({"survivor": b["code"], "reason": "确认重复"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(m["survivor"]["code"], b["code"]);
    let g = body(
        t.get(&format!("/api/v1/duplicates/groups/{}", g_ab["id"]), &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(g["status"], "merged");
    assert_eq!(g["merge_id"], m["merge_id"]);

    let s = body(
        t.post("/api/v1/duplicates/scan", Some(&admin), json!({}))
            .await,
        200,
    )
    .await;
    assert_eq!(s["customers"], 4, "merged customers leave the scan: {s}");
    assert_eq!(s["groups"], 0, "dismissed pair not proposed again: {s}");
    let open = body(t.get("/api/v1/duplicates/groups", &admin).await, 200).await;
    assert_eq!(open["items"], json!([]));

    // Only stewards see the queue.
    t.create_user(
        &admin,
        "viewer1",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let viewer = t.login("viewer1", USER_PASSWORD).await;
    problem(t.get("/api/v1/duplicates/groups", &viewer).await, 403).await;
});
