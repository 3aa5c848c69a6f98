//! Customer master data: validation, normalisation, PII at rest and masking, updates with
//! history and as_of, contacts, data scope (search, field catalog, xrefs: `customer_search.rs`).

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_test;
use crate::helpers::{problem, TestApp, ADMIN_PASSWORD, USER_PASSWORD};
use custos_core::ident::{IdNumber, Uscc};

/// Publish one rule for enterprises (`C` + 6 digits) and one for individuals (`P`…).
pub async fn seed_rules(t: &TestApp, admin: &str) {
    for (key, name, ty, prefix) in [
        ("ent", "企业", "enterprise", "C"),
        ("ind", "个人", "individual", "P"),
    ] {
        let r = t
            .post(
                "/api/v1/code-rules",
                Some(admin),
                json!({"key": key, "name": name, "applies_to": {"customer_types": [ty]},
                       "segments": [{"kind": "constant", "value": prefix}, {"kind": "sequence", "width": 6}]}),
            )
            .await;
        assert_eq!(
            r.status(),
            201,
            "create rule {key}: {}",
            r.text().await.unwrap_or_default()
        );
        let r = t
            .post(
                &format!("/api/v1/code-rules/{key}/publish"),
                Some(admin),
                json!({}),
            )
            .await;
        assert_eq!(r.status(), 200, "publish rule {key}");
    }
}

pub(crate) fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

pub(crate) fn uscc(org: &str) -> String {
    Uscc::with_check(&format!("91110108{org}"))
        .expect("valid uscc")
        .as_str()
        .to_string()
}

pub(crate) fn id_number(first17: &str) -> String {
    IdNumber::with_check(first17, today())
        .expect("valid id")
        .as_str()
        .to_string()
}

pub async fn create(t: &TestApp, token: &str, body: Value) -> Value {
    let r = t.post("/api/v1/customers", Some(token), body.clone()).await;
    let status = r.status();
    let v: Value = r.json().await.expect("json");
    assert_eq!(status, 201, "create {body}: {v}");
    v
}

pub(crate) fn fields_of(p: &Value) -> Vec<(String, String)> {
    p["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["field"].as_str().unwrap_or("").to_string(),
                        f["code"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn has(p: &Value, field: &str, code: &str) -> bool {
    fields_of(p).iter().any(|(f, c)| f == field && c == code)
}

pub(crate) async fn delete(t: &TestApp, path: &str, token: &str) -> reqwest::Response {
    t.req(Method::DELETE, path, Some(token))
        .send()
        .await
        .expect("request")
}

pub(crate) async fn put(t: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    t.req(Method::PUT, path, Some(token))
        .json(&body)
        .send()
        .await
        .expect("request")
}

backend_test!(create_full_record_normalised, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let code_uscc = uscc("MA01ABCD1");
    let v = create(
        &t,
        &admin,
        json!({
            "customer_type": "enterprise",
            "name": "  北京星辰科技有限责任公司（海淀）  ",
            "short_name": "星辰科技",
            "former_names": ["北京星辰网络有限公司"],
            "uscc": code_uscc.to_lowercase(),
            "legal_representative": "张三",
            "established_on": "2015/06/01",
            "registered_capital": 1000.5,
            "industry": "I65",
            "scale": "Medium",
            "level": "A",
            "source": "展会",
            "region_code": "１１０１０８",
            "address": "北京市海淀区中关村大街1号",
            "postal_code": "100080",
            "phone": "(010) 6255-1234",
            "mobile": "+86 １３８-１２３４-５６７８",
            "email": "Info@XingChen.example.com",
            "website": "www.xingchen.example.com",
            "tags": ["重点", "重点", "科技"],
            "credit_rating": "AA",
            "remarks": "测试客户",
            "contacts": [
                {"name": "李四", "title": "采购经理", "mobile": "13900001111", "is_primary": true},
                {"name": "王五", "email": "wangwu@example.com"}
            ]
        }),
    )
    .await;
    assert_eq!(v["code"], "C000001");
    // Trimmed, but kept as typed: full-width brackets stay (issue 34).
    assert_eq!(v["name"], "北京星辰科技有限责任公司（海淀）");
    assert_eq!(v["uscc"], code_uscc.as_str());
    assert_eq!(v["region_code"], "110108");
    assert_eq!(v["province"], "北京市");
    assert_eq!(v["district"], "海淀区");
    assert_eq!(v["established_on"], "2015-06-01");
    assert_eq!(v["scale"], "medium");
    assert_eq!(v["status"], "active");
    assert_eq!(v["mobile"], "13812345678");
    assert_eq!(v["tags"], json!(["重点", "科技"]));
    assert_eq!(v["contacts"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["contacts"][0]["is_primary"], true);
    assert_eq!(v["version"], 1);
    // Admin holds customer.pii.read: clear values.
    assert_eq!(v["pii_masked"], false);
    let got: Value = t
        .get("/api/v1/customers/c000001", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(got["name"], v["name"]);
    assert_eq!(got["contacts"][1]["email"], "wangwu@example.com");
    assert_eq!(got["industry"], "65");
    assert!(got["industry_name"].is_string());
});

backend_test!(create_reports_every_failing_field, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mut bad_uscc = uscc("MA01ABCD1");
    let last = bad_uscc.pop().expect("char");
    bad_uscc.push(if last == '0' { '1' } else { '0' });
    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({
                "customer_type": "enterprise",
                "name": "某某有限公司",
                "short_name": "长".repeat(101),
                "uscc": bad_uscc,
                "region_code": "999999",
                "mobile": "12345678901",
                "email": "not-an-email@",
                "postal_code": "12345",
                "scale": "huge",
                "established_on": "2999-01-01",
                "industry": "Q99",
                "contacts": [
                    {"name": "甲", "is_primary": true},
                    {"name": "乙", "is_primary": true, "mobile": "1380000"},
                    {"mobile": "13800001111"}
                ]
            }),
        )
        .await;
    let p = problem(r, 422).await;
    for (field, code) in [
        ("short_name", "length.max"),
        ("uscc", "uscc.check_char"),
        ("region_code", "region.unknown"),
        ("mobile", "mobile.format"),
        ("scale", "value.not_allowed"),
        ("established_on", "date.future"),
        ("contacts", "contacts.primary"),
        ("contacts[2].name", "required"),
    ] {
        assert!(has(&p, field, code), "{field}/{code} missing in {p}");
    }
    for field in ["email", "postal_code", "industry", "contacts[1].mobile"] {
        assert!(
            fields_of(&p).iter().any(|(f, _)| f == field),
            "{field} missing in {p}"
        );
    }
    // The offending value is named in the message.
    let msg = p["fields"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["field"] == "region_code"))
        .map(|f| f["message"].to_string())
        .unwrap_or_default();
    assert!(msg.contains("999999"), "{msg}");
    // Nothing was written: the next valid customer gets the first code.
    let v = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "正常公司"}),
    )
    .await;
    assert_eq!(v["code"], "C000001");

    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "alien", "name": " "}),
        )
        .await;
    let p = problem(r, 422).await;
    assert!(has(&p, "customer_type", "customer_type.unknown"), "{p}");
    assert!(has(&p, "name", "required"), "{p}");

    // Individuals: a real birth date, and an ID number or a mobile.
    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "individual", "name": "赵六", "id_number": "110105194913320021"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert!(
        fields_of(&p)
            .iter()
            .any(|(f, c)| f == "id_number" && c.starts_with("id_number.")),
        "{p}"
    );
    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "individual", "name": "赵六"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert!(has(&p, "id_number", "required.id_number_or_mobile"), "{p}");
    // English on request.
    let r = t
        .req(Method::POST, "/api/v1/customers", Some(&admin))
        .header("accept-language", "en")
        .json(&json!({"customer_type": "individual", "name": "赵六"}))
        .send()
        .await
        .expect("request");
    let p = problem(r, 422).await;
    assert!(
        p.to_string().contains("an individual customer needs"),
        "{p}"
    );
    // Unknown JSON field.
    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "x公司", "colour": "red"}),
        )
        .await;
    problem(r, 422).await;
});

backend_test!(pii_is_encrypted_masked_and_audited, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let idn = id_number("11010519491231002");
    let v = create(
        &t,
        &admin,
        json!({"customer_type": "individual", "name": "钱七", "id_number": idn,
               "mobile": "13987654321", "email": "qianqi@example.com",
               "address": "北京市朝阳区建国路88号3单元"}),
    )
    .await;
    let code = v["code"].as_str().expect("code").to_string();
    assert_eq!(v["id_number"], idn.as_str());

    // A query user sees masked values and leaves no PII-read entry.
    t.create_user(
        &admin,
        "reader",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let reader = t.login("reader", USER_PASSWORD).await;
    let m: Value = t
        .get(&format!("/api/v1/customers/{code}"), &reader)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(m["pii_masked"], true);
    assert_eq!(m["mobile"], "139****4321");
    assert_eq!(m["id_number"], format!("110105********{}", &idn[14..]));
    assert_eq!(m["email"], "q***@example.com");
    assert!(
        !m["address"].as_str().unwrap_or("").contains("建国路"),
        "{m}"
    );

    // Admin reads clear values; each such read is audited.
    let before: Value = t
        .get("/api/v1/audit?action=customer.pii_read", &admin)
        .await
        .json()
        .await
        .expect("json");
    let n_before = before["items"].as_array().map(Vec::len).unwrap_or(0);
    let c: Value = t
        .get(&format!("/api/v1/customers/{code}"), &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(c["mobile"], "13987654321");
    assert_eq!(c["address"], "北京市朝阳区建国路88号3单元");
    let after: Value = t
        .get("/api/v1/audit?action=customer.pii_read", &admin)
        .await
        .json()
        .await
        .expect("json");
    let items = after["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), n_before + 1);
    assert_eq!(items[0]["target_id"], code.as_str());
    assert_eq!(items[0]["actor"], "admin");
    assert!(!items.iter().any(|e| e["actor"] == "reader"));

    // Exact lookup through the blind index.
    let page: Value = t
        .get("/api/v1/customers?mobile=139-8765-4321", &reader)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["items"][0]["code"], code.as_str());
    let page: Value = t
        .get(&format!("/api/v1/customers?id_number={idn}"), &reader)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    let page: Value = t
        .get("/api/v1/customers?email=QIANQI@example.com", &reader)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));

    // Change the mobile: history and audit show masked values only.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 1, "mobile": "13611112222"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let h = t
        .get(&format!("/api/v1/customers/{code}/history"), &admin)
        .await
        .text()
        .await
        .expect("text");
    let audit = t
        .get("/api/v1/audit?limit=1000", &admin)
        .await
        .text()
        .await
        .expect("text");
    for plain in [
        idn.as_str(),
        "13987654321",
        "13611112222",
        "qianqi@example.com",
        "建国路88号",
    ] {
        assert!(!h.contains(plain), "history leaks {plain}");
        assert!(!audit.contains(plain), "audit leaks {plain}");
    }
    assert!(
        h.contains("139****4321") && h.contains("136****2222"),
        "{h}"
    );

    // Not on disk in plaintext either (SQLite: the file after a checkpoint).
    if let Some(path) = t.app.db.sqlite_path().map(|p| p.to_path_buf()) {
        t.app
            .db
            .execute_raw("PRAGMA wal_checkpoint(TRUNCATE)")
            .await
            .expect("checkpoint");
        let mut bytes = std::fs::read(&path).expect("db file");
        if let Ok(wal) = std::fs::read(path.with_extension("db-wal")) {
            bytes.extend(wal);
        }
        let contains = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(contains("钱七"), "sanity: the name is stored");
        for plain in [
            idn.as_str(),
            "13987654321",
            "13611112222",
            "qianqi@example.com",
            "建国路88号",
        ] {
            assert!(!contains(plain), "database file contains {plain}");
        }
    }
});

backend_test!(update_history_and_as_of, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let v = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "甲公司", "level": "B"}),
    )
    .await;
    let code = v["code"].as_str().expect("code").to_string();
    let created_at = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;

    // A major field needs a reason.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 1, "name": "乙公司"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert!(has(&p, "reason", "reason.required"), "{p}");
    // A minor field does not.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 1, "level": "A", "remarks": "升级"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v2: Value = r.json().await.expect("json");
    assert_eq!(v2["version"], 2);
    let between = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    // Stale version.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 1, "level": "C"}),
        )
        .await;
    let p = problem(r, 409).await;
    assert_eq!(p["code"], "customer.version_stale");
    // Invalid values in a patch are reported like on create.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 2, "region_code": "12", "email": "x"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert!(
        has(&p, "region_code", "region.format") && fields_of(&p).iter().any(|(f, _)| f == "email"),
        "{p}"
    );
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": 2, "name": "乙公司", "reason": "工商变更", "remarks": null}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v3: Value = r.json().await.expect("json");
    assert_eq!(v3["name"], "乙公司");
    assert_eq!(v3["remarks"], Value::Null);
    assert_eq!(v3["version"], 3);

    let h: Value = t
        .get(&format!("/api/v1/customers/{code}/history"), &admin)
        .await
        .json()
        .await
        .expect("json");
    let h = h.as_array().cloned().unwrap_or_default();
    assert_eq!(h.len(), 3, "{h:?}");
    assert_eq!(h[0]["action"], "create");
    let name_change_of = |entry: &Value| {
        entry["changes"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["field"] == "name"))
            .cloned()
            .expect("a change of the name")
    };
    // A creation's changes are not stored but derived from its snapshot: every field
    // the record was created with.
    assert_eq!(name_change_of(&h[0])["new"], "甲公司");
    assert_eq!(h[1]["actor"], "admin");
    let name_change = name_change_of(&h[2]);
    assert_eq!(name_change["old"], "甲公司");
    assert_eq!(name_change["new"], "乙公司");
    assert_eq!(h[2]["reason"], "工商变更");

    let at = |t: chrono::DateTime<chrono::Utc>| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            .replace('+', "%2B")
    };
    let old: Value = t
        .get(
            &format!("/api/v1/customers/{code}?as_of={}", at(created_at)),
            &admin,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(old["name"], "甲公司");
    assert_eq!(old["level"], "B");
    assert_eq!(old["version"], 1);
    let mid: Value = t
        .get(
            &format!("/api/v1/customers/{code}?as_of={}", at(between)),
            &admin,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(mid["name"], "甲公司");
    assert_eq!(mid["level"], "A");
    assert_eq!(mid["remarks"], "升级");
    let r = t
        .get(
            &format!("/api/v1/customers/{code}?as_of=2000-01-01T00:00:00%2B08:00"),
            &admin,
        )
        .await;
    problem(r, 404).await;
    let r = t
        .get(&format!("/api/v1/customers/{code}?as_of=yesterday"), &admin)
        .await;
    problem(r, 422).await;
});

backend_test!(contacts_subresources, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let v = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "丙公司",
        "contacts": [{"name": "甲", "is_primary": true}]}),
    )
    .await;
    let code = v["code"].as_str().expect("code").to_string();
    let r = t
        .post(
            &format!("/api/v1/customers/{code}/contacts"),
            Some(&admin),
            json!({"name": "乙", "mobile": "13700001234", "is_primary": true}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let v: Value = r.json().await.expect("json");
    let cs = v["contacts"].as_array().cloned().unwrap_or_default();
    assert_eq!(cs.len(), 2);
    assert_eq!(cs[0]["is_primary"], false);
    assert_eq!(cs[1]["is_primary"], true);
    let id = cs[1]["id"].as_i64().expect("id");
    let r = t
        .post(
            &format!("/api/v1/customers/{code}/contacts"),
            Some(&admin),
            json!({"name": "丙", "mobile": "123"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert!(has(&p, "contacts[2].mobile", "mobile.format"), "{p}");
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}/contacts/{id}"),
            &admin,
            json!({"title": "总经理", "email": "yi@example.com"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["contacts"][1]["title"], "总经理");
    // Contact mobiles are in the blind index too.
    let page: Value = t
        .get("/api/v1/customers?mobile=13700001234", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["items"][0]["code"], code.as_str());
    let r = delete(
        &t,
        &format!("/api/v1/customers/{code}/contacts/{id}"),
        &admin,
    )
    .await;
    assert_eq!(r.status(), 200);
    let page: Value = t
        .get("/api/v1/customers?mobile=13700001234", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0));
    let r = delete(
        &t,
        &format!("/api/v1/customers/{code}/contacts/{id}"),
        &admin,
    )
    .await;
    problem(r, 404).await;
    let h: Value = t
        .get(&format!("/api/v1/customers/{code}/history"), &admin)
        .await
        .json()
        .await
        .expect("json");
    let actions: Vec<&str> = h
        .as_array()
        .map(|a| a.iter().filter_map(|e| e["action"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        actions,
        ["create", "contact.add", "contact.update", "contact.delete"]
    );
});

backend_test!(data_scope_own_department_all, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let a = t.create_department(&admin, "华东", None).await;
    let a1 = t.create_department(&admin, "上海", Some(a)).await;
    let b = t.create_department(&admin, "华北", None).await;
    let own = t
        .create_user(
            &admin,
            "own_user",
            Some(a),
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    let _dept = t.create_user(&admin, "dept_user", Some(a), json!([{"role": "clerk", "scope": "department"}, {"role": "executive", "scope": "department"}])).await;
    let sub = t
        .create_user(
            &admin,
            "sub_user",
            Some(a1),
            json!([{"role": "query", "scope": "own"}]),
        )
        .await;
    let other = t
        .create_user(
            &admin,
            "other_user",
            Some(b),
            json!([{"role": "query", "scope": "own"}]),
        )
        .await;
    let _all = t
        .create_user(
            &admin,
            "all_user",
            Some(b),
            json!([{"role": "query", "scope": "all"}]),
        )
        .await;
    let c1 = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "一号公司", "owner_id": own}),
    )
    .await;
    let c2 = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "二号公司", "owner_id": sub}),
    )
    .await;
    let c3 = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "三号公司", "owner_id": other}),
    )
    .await;
    assert_eq!(c2["department_id"], a1);
    let (c1, c2, c3) = (
        c1["code"].as_str().unwrap_or(""),
        c2["code"].as_str().unwrap_or(""),
        c3["code"].as_str().unwrap_or(""),
    );

    let own_t = t.login("own_user", USER_PASSWORD).await;
    let dept_t = t.login("dept_user", USER_PASSWORD).await;
    let all_t = t.login("all_user", USER_PASSWORD).await;
    for (token, visible, hidden) in [
        (&own_t, vec![c1], vec![c2, c3]),
        (&dept_t, vec![c1, c2], vec![c3]),
        (&all_t, vec![c1, c2, c3], vec![]),
    ] {
        for c in &visible {
            assert_eq!(
                t.get(&format!("/api/v1/customers/{c}"), token)
                    .await
                    .status(),
                200
            );
        }
        for c in &hidden {
            let p = problem(t.get(&format!("/api/v1/customers/{c}"), token).await, 404).await;
            assert_eq!(p["code"], "customer.not_found");
            problem(
                t.get(&format!("/api/v1/customers/{c}/history"), token)
                    .await,
                404,
            )
            .await;
        }
        let page: Value = t
            .get("/api/v1/customers?total=true", token)
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(page["total"], visible.len() as i64, "{page}");
    }
    // Updates obey the scope of customer.update too.
    let r = t
        .patch(
            &format!("/api/v1/customers/{c2}"),
            &own_t,
            json!({"version": 1, "level": "A"}),
        )
        .await;
    problem(r, 404).await;
    let r = t
        .patch(
            &format!("/api/v1/customers/{c1}"),
            &own_t,
            json!({"version": 1, "level": "A"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    // Handing a customer to someone outside one's scope is refused.
    let r = t
        .patch(
            &format!("/api/v1/customers/{c1}"),
            &own_t,
            json!({"version": 2, "owner_id": other}),
        )
        .await;
    let p = problem(r, 422).await;
    assert!(has(&p, "owner_id", "owner.out_of_scope"), "{p}");
    // Statistics respect the scope.
    let s: Value = t
        .get("/api/v1/stats/customers", &dept_t)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(s["total"], 2, "{s}");
    problem(t.get("/api/v1/stats/customers", &own_t).await, 403).await;
});

/// A database opened with another PII key refuses to start with a clear message.
#[tokio::test]
async fn wrong_pii_key_is_a_startup_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = custos_app::DbOptions::sqlite(dir.path());
    let first = custos_app::AppConfig::default();
    let app = custos_app::App::open(&opts, first.clone())
        .await
        .expect("open");
    // With no customers yet a new key is simply adopted; with encrypted data it is not.
    app.auth()
        .ensure_admin(Some(ADMIN_PASSWORD.into()))
        .await
        .expect("admin");
    let admin = app
        .auth()
        .actor_for_username("admin", custos_app::Context::new(custos_app::Source::Cli))
        .await
        .expect("actor");
    app.demo()
        .add_demo_customers(&admin, 3, 1, &[], |_| {})
        .await
        .expect("customers");
    app.db.close().await;
    let again = custos_app::App::open(&opts, first)
        .await
        .expect("same key opens");
    again.db.close().await;
    let err = custos_app::App::open(&opts, custos_app::AppConfig::default())
        .await
        .err()
        .expect("a different key must fail");
    let msg = err.to_string();
    assert!(msg.contains("PII key"), "{msg}");
}

backend_test!(demo_seed_adds_scoped_customers, |t| {
    let admin = t.admin_token().await;
    t.app.demo().seed_demo().await.expect("seed demo");
    let page: Value = t
        .get("/api/v1/customers?total=true&limit=5", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["total"], 200, "{page}");
    let code = page["items"][0]["code"].as_str().expect("code").to_string();
    let c: Value = t
        .get(&format!("/api/v1/customers/{code}"), &admin)
        .await
        .json()
        .await
        .expect("json");
    if let Some(u) = c["uscc"].as_str() {
        assert!(Uscc::parse(u).is_ok(), "{u}");
    }
    assert!(c["province"].is_string(), "{c}");
    // Each demo customer has a few years of business records, and the standard fields
    // are in the catalog.
    let records: Value = t
        .get(&format!("/api/v1/customers/{code}/activities"), &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        records["items"].as_array().map(Vec::len),
        Some(10),
        "{records}"
    );
    let fields: Value = t
        .get("/api/v1/fields", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert!(fields.to_string().contains("invoice_tax_number"));
    // An own-scope clerk sees only their share.
    let clerk = t.login("clerk_east", custos_app::demo::DEMO_PASSWORD).await;
    let mine: Value = t
        .get("/api/v1/customers?total=true", &clerk)
        .await
        .json()
        .await
        .expect("json");
    let n = mine["total"].as_i64().unwrap_or(0);
    assert!(n > 0 && n < 200, "{mine}");
    // The audit chain still verifies after the batch inserts.
    let report = t.app.audit().verify_audit().await.expect("verify");
    assert!(
        matches!(report, custos_app::ChainReport::Ok { .. }),
        "{report:?}"
    );
});
