//! Finding customers and what surrounds them through the HTTP API: search filters, sort and
//! cursor, the field catalog with custom fields, links to other systems' ids.

use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::*;
use crate::helpers::*;
backend_test!(search_filters_sort_and_cursor, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let specs = [
        (
            "enterprise",
            "北京华为技术有限公司",
            "110108",
            "I65",
            "A",
            vec!["重点"],
        ),
        (
            "enterprise",
            "华为技术有限责任公司（上海）",
            "310115",
            "I65",
            "B",
            vec![],
        ),
        (
            "enterprise",
            "北京京东世纪贸易有限公司",
            "110115",
            "F51",
            "A",
            vec!["重点", "零售"],
        ),
        (
            "enterprise",
            "深圳市腾讯计算机系统有限公司",
            "440305",
            "I64",
            "A",
            vec![],
        ),
        (
            "enterprise",
            "杭州阿里巴巴网络有限公司",
            "330106",
            "I64",
            "C",
            vec!["零售"],
        ),
        ("individual", "孙八", "110101", "", "", vec![]),
    ];
    for (ty, name, region, ind, level, tags) in &specs {
        let mut body =
            json!({"customer_type": ty, "name": name, "region_code": region, "tags": tags});
        if !ind.is_empty() {
            body["industry"] = json!(ind);
            body["level"] = json!(level);
        }
        if *ty == "individual" {
            body["mobile"] = json!("13512345678");
        }
        create(&t, &admin, body).await;
    }
    let codes = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let q = |path: String| {
        let t = &t;
        let admin = admin.clone();
        async move {
            let r = t.get(&path, &admin).await;
            assert_eq!(r.status(), 200, "{path}");
            r.json::<Value>().await.expect("json")
        }
    };
    assert_eq!(
        codes(&q("/api/v1/customers?region=11&type=enterprise".into()).await),
        ["C000001", "C000003"]
    );
    assert_eq!(
        codes(&q("/api/v1/customers?region=110000".into()).await).len(),
        3
    );
    assert_eq!(
        codes(&q("/api/v1/customers?region=4403".into()).await),
        ["C000004"]
    );
    assert_eq!(
        codes(&q("/api/v1/customers?type=individual".into()).await),
        ["P000001"]
    );
    assert_eq!(
        codes(&q("/api/v1/customers?tag=%E9%87%8D%E7%82%B9".into()).await),
        ["C000001", "C000003"]
    );
    assert_eq!(
        codes(&q("/api/v1/customers?industry=I64&level=A".into()).await),
        ["C000004"]
    );
    assert_eq!(
        codes(&q("/api/v1/customers?industry=I".into()).await).len(),
        4
    );
    assert_eq!(
        codes(&q("/api/v1/customers?industry=64".into()).await).len(),
        2
    );
    assert_eq!(
        codes(&q("/api/v1/customers?code=C00000".into()).await).len(),
        5
    );
    assert_eq!(
        codes(&q("/api/v1/customers?status=active&total=true".into()).await).len(),
        6
    );
    // Name contains (via bigram candidates) and a one-character query.
    assert_eq!(
        codes(&q(format!("/api/v1/customers?name={}", "华为技术")).await),
        ["C000001", "C000002"]
    );
    assert_eq!(
        codes(&q(format!("/api/v1/customers?name={}", "京")).await),
        ["C000001", "C000003"]
    );
    // Fuzzy: a similar name, legal form and region ignored.
    let f = q(format!(
        "/api/v1/customers?name={}&fuzzy=true",
        "华为技术股份有限公司"
    ))
    .await;
    let fc = codes(&f);
    assert!(
        fc.contains(&"C000001".to_string()) && fc.contains(&"C000002".to_string()),
        "{f}"
    );
    assert!(!fc.contains(&"C000004".to_string()), "{f}");
    assert!(f["items"][0]["score"].as_f64().unwrap_or(0.0) >= 0.5);
    // Sort and cursor pages.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/customers?sort=-code&limit=2&cursor={c}"),
            None => "/api/v1/customers?sort=-code&limit=2&total=true".into(),
        };
        let page = q(path).await;
        if cursor.is_none() {
            assert_eq!(page["total"], 6);
        }
        seen.extend(codes(&page));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["P000001", "C000005", "C000004", "C000003", "C000002", "C000001"]
    );
    // Created range.
    let future = "2999-01-01T00:00:00Z";
    assert_eq!(
        codes(&q(format!("/api/v1/customers?created_from={future}")).await).len(),
        0
    );
    // Bad parameters are 422 problems naming the parameter.
    for (path, field) in [
        ("/api/v1/customers?sort=colour", "sort"),
        ("/api/v1/customers?region=北京", "region"),
        ("/api/v1/customers?limit=0", "limit"),
        // The largest i64 once overflowed `limit + 1` and dropped the connection.
        ("/api/v1/customers?limit=9223372036854775807", "limit"),
        ("/api/v1/customers?cursor=garbage", "cursor"),
        ("/api/v1/customers?created_from=yesterday", "created_from"),
        ("/api/v1/customers?mobile=123", "mobile"),
    ] {
        let p = problem(t.get(path, &admin).await, 422).await;
        assert!(fields_of(&p).iter().any(|(f, _)| f == field), "{path}: {p}");
    }
    // Statistics.
    let s = q("/api/v1/stats/customers".into()).await;
    assert_eq!(s["total"], 6);
    let count = |list: &str, key: &str| -> i64 {
        s[list]
            .as_array()
            .and_then(|a| a.iter().find(|b| b["key"] == key))
            .and_then(|b| b["count"].as_i64())
            .unwrap_or(0)
    };
    assert_eq!(count("by_type", "enterprise"), 5);
    assert_eq!(count("by_province", "110000"), 3);
    assert_eq!(count("by_city", "440300"), 1);
    assert_eq!(count("by_industry", "64"), 2);
    assert_eq!(count("by_level", "A"), 3);
    assert_eq!(count("by_status", "active"), 6);
    let month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m")
        .to_string();
    assert_eq!(count("new_per_month", &month), 6);
    let beijing = s["by_province"]
        .as_array()
        .and_then(|a| a.iter().find(|b| b["key"] == "110000"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(beijing["label"], "北京市");
});

backend_test!(field_catalog_and_custom_fields, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let fields: Value = t
        .get("/api/v1/fields", &admin)
        .await
        .json()
        .await
        .expect("json");
    let find = |k: &str| {
        fields
            .as_array()
            .and_then(|a| a.iter().find(|f| f["key"] == k))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(find("id_number")["pii"], true);
    assert_eq!(find("uscc")["pii"], false);
    assert_eq!(find("name")["major"], true);
    assert_eq!(
        find("scale")["allowed_values"],
        json!(["micro", "small", "medium", "large"])
    );
    assert!(find("mobile")["label_zh"].is_string());

    let r = t.post("/api/v1/fields", Some(&admin), json!({"key": "channel", "label_zh": "渠道", "label_en": "Channel",
        "type": "single_select", "allowed_values": ["直销", "代理"], "required_for": ["enterprise"]})).await;
    assert_eq!(r.status(), 201);
    let r = t
        .post(
            "/api/v1/fields",
            Some(&admin),
            json!({"key": "erp_no", "label_zh": "ERP号", "label_en": "ERP no",
        "type": "text", "pattern": "[A-Z]{2}[0-9]{4}", "max_length": 6}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = t
        .post(
            "/api/v1/fields",
            Some(&admin),
            json!({"key": "name", "label_zh": "x", "label_en": "x", "type": "text"}),
        )
        .await;
    problem(r, 422).await;
    let r = t
        .post(
            "/api/v1/fields",
            Some(&admin),
            json!({"key": "Bad Key", "label_zh": "", "label_en": "x", "type": "single_select"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert!(fields_of(&p).len() >= 3, "{p}");

    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "丁公司",
        "custom": {"erp_no": "ab12", "unknown": 1}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert!(has(&p, "custom.erp_no", "pattern.mismatch"), "{p}");
    assert!(has(&p, "custom.unknown", "field.unknown"), "{p}");
    assert!(has(&p, "custom.channel", "required"), "{p}");
    let v = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "丁公司",
        "custom": {"erp_no": "AB1234", "channel": "代理"}}),
    )
    .await;
    assert_eq!(v["custom"]["channel"], "代理");
    create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "戊公司", "custom": {"channel": "直销"}}),
    )
    .await;
    let page: Value = t
        .get(
            "/api/v1/customers?custom.channel=%E4%BB%A3%E7%90%86",
            &admin,
        )
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["items"][0]["code"], v["code"]);
    // Non-admins cannot define fields.
    t.create_user(
        &admin,
        "qq_user",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let q = t.login("qq_user", USER_PASSWORD).await;
    let r = t
        .post(
            "/api/v1/fields",
            Some(&q),
            json!({"key": "x", "label_zh": "x", "label_en": "x", "type": "text"}),
        )
        .await;
    problem(r, 403).await;
});

backend_test!(xrefs_link_lookup_unique, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let a = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "己公司"}),
    )
    .await;
    let b = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "庚公司"}),
    )
    .await;
    let (a, b) = (
        a["code"].as_str().unwrap_or(""),
        b["code"].as_str().unwrap_or(""),
    );
    let r = put(
        &t,
        &format!("/api/v1/customers/{a}/xrefs/crm"),
        &admin,
        json!({"source_id": "CRM-001"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let v: Value = t
        .get("/api/v1/xrefs/crm/CRM-001", &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(v["code"], a);
    let r = put(
        &t,
        &format!("/api/v1/customers/{b}/xrefs/crm"),
        &admin,
        json!({"source_id": "CRM-001"}),
    )
    .await;
    let p = problem(r, 409).await;
    assert_eq!(p["code"], "xref.taken");
    // Same id in another system is fine; relinking replaces.
    assert_eq!(
        put(
            &t,
            &format!("/api/v1/customers/{b}/xrefs/erp"),
            &admin,
            json!({"source_id": "CRM-001"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        put(
            &t,
            &format!("/api/v1/customers/{a}/xrefs/crm"),
            &admin,
            json!({"source_id": "CRM-002"})
        )
        .await
        .status(),
        200
    );
    problem(t.get("/api/v1/xrefs/crm/CRM-001", &admin).await, 404).await;
    let list: Value = t
        .get(&format!("/api/v1/customers/{a}/xrefs"), &admin)
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    let r = put(
        &t,
        &format!("/api/v1/customers/{a}/xrefs/Bad%20System"),
        &admin,
        json!({"source_id": "x"}),
    )
    .await;
    problem(r, 422).await;
    assert_eq!(
        delete(&t, &format!("/api/v1/customers/{a}/xrefs/crm"), &admin)
            .await
            .status(),
        204
    );
    problem(t.get("/api/v1/xrefs/crm/CRM-002", &admin).await, 404).await;
    problem(
        delete(&t, &format!("/api/v1/customers/{a}/xrefs/crm"), &admin).await,
        404,
    )
    .await;
});
