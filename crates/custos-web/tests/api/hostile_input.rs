#![allow(clippy::unwrap_used)]

//! Hostile text: control and invisible characters are refused with 422 naming the field,
//! wherever they come (JSON bodies and keys, query strings, path segments, import cells),
//! never a 500 (PostgreSQL refuses a NUL) and never stored; and request lists are bounded
//! before any work is done on them.

use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::{create, seed_rules};
use crate::helpers::{body, problem, problem_fields, TestApp};

/// The (field, code) pairs of a validation problem.
fn fields(p: &Value) -> Vec<(String, String)> {
    p["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Texts no single-line field may hold, with the code each is refused by.
const HOSTILE: &[(&str, &str)] = &[
    ("甲\u{0}公司", "text.control_char"),
    ("甲公司\u{7}", "text.control_char"),
    ("\u{1b}[31m甲公司", "text.control_char"),
    ("甲公司\u{202E}司公", "text.invisible_char"),
];

async fn customer_count(t: &TestApp, token: &str) -> i64 {
    let v = body(t.get("/api/v1/customers?total=true", token).await, 200).await;
    v["total"].as_i64().unwrap()
}

backend_test!(nul_in_login_username_is_422_naming_it, |t| {
    let r = t
        .post(
            "/api/v1/auth/login",
            None,
            json!({"username": "ad\u{0}min", "password": "whatever-password"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(
        fields(&p),
        [("username".to_string(), "text.control_char".to_string())]
    );
    assert!(p["fields"][0]["message"]
        .as_str()
        .unwrap()
        .contains("U+0000"));
    // English on request; the raw character is never echoed.
    let r = t
        .req(Method::POST, "/api/v1/auth/login", None)
        .header("accept-language", "en")
        .json(&json!({"username": "admin", "password": "x\u{0}y"}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    assert_eq!(problem_fields(&p), ["password"]);
    let msg = p["fields"][0]["message"].as_str().unwrap();
    assert!(msg.contains("control character U+0000"), "{msg}");
    // The account is not locked or otherwise touched: admin still logs in.
    t.admin_token().await;
});

backend_test!(control_characters_in_customer_fields_are_refused, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let c = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "正常有限公司"}),
    )
    .await;
    let code = c["code"].as_str().unwrap().to_string();
    let version = c["version"].as_i64().unwrap();
    for (text, rule) in HOSTILE {
        let r = t
            .post(
                "/api/v1/customers",
                Some(&admin),
                json!({"customer_type": "enterprise", "name": text}),
            )
            .await;
        let p = problem(r, 422).await;
        assert_eq!(
            fields(&p),
            [("name".to_string(), rule.to_string())],
            "create {text:?}"
        );
        let r = t
            .patch(
                &format!("/api/v1/customers/{code}"),
                &admin,
                json!({"version": version, "name": text, "reason": "改名"}),
            )
            .await;
        let p = problem(r, 422).await;
        assert_eq!(
            fields(&p),
            [("name".to_string(), rule.to_string())],
            "patch {text:?}"
        );
    }
    // Nested fields and object keys are named by their path.
    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "乙有限公司",
                   "contacts": [{"name": "张三"}, {"name": "李\u{7}四"}],
                   "custom": {"k\u{0}": "v"}}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(problem_fields(&p), ["contacts[1].name", "custom.kU+0000"]);
    // Nothing was written.
    assert_eq!(customer_count(&t, &admin).await, 1);
    let v = body(
        t.get(&format!("/api/v1/customers/{code}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(
        (v["name"].as_str(), v["version"].as_i64()),
        (Some("正常有限公司"), Some(version))
    );
});

backend_test!(tab_and_newline_only_in_multi_line_fields, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let c = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "多行有限公司",
               "remarks": "第一行\r\n第二行\t有制表符\n\n\n第三段",
               "address": "北京市海淀区\n某某路 1 号"}),
    )
    .await;
    assert_eq!(c["remarks"], "第一行\n第二行 有制表符\n\n第三段");
    assert_eq!(c["address"], "北京市海淀区\n某某路 1 号");
    for (name, field) in [("甲\t公司", "name"), ("甲\n公司", "name")] {
        let r = t
            .post(
                "/api/v1/customers",
                Some(&admin),
                json!({"customer_type": "enterprise", "name": name}),
            )
            .await;
        let p = problem(r, 422).await;
        assert_eq!(
            fields(&p),
            [(field.to_string(), "text.line_break".to_string())]
        );
    }
    // A lone CR is a control character even where line breaks are allowed.
    let r = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "丙有限公司", "remarks": "覆盖\r前文"}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(
        fields(&p),
        [("remarks".to_string(), "text.control_char".to_string())]
    );
});

backend_test!(control_characters_in_query_and_path_are_4xx, |t| {
    let admin = t.admin_token().await;
    for (path, field) in [
        ("/api/v1/customers?name=%E7%94%B2%00", "name"),
        ("/api/v1/customers?name=%E2%80%AE", "name"),
        ("/api/v1/customers?custom.k=%07", "custom.k"),
        ("/api/v1/audit?action=%00", "action"),
        ("/api/v1/applications?state=%1B", "state"),
        ("/api/v1/customers/C%00001", "code"),
        ("/api/v1/code-rules/r%00", "key"),
        ("/api/v1/users/1%00", "id"),
    ] {
        let p = problem(t.get(path, &admin).await, 422).await;
        assert_eq!(problem_fields(&p), [field], "{path}");
    }
    // An unmatched route with a NUL is still a clean 4xx.
    let r = t.get("/api/v1/no-such%00route", &admin).await;
    assert!(r.status().is_client_error(), "{}", r.status());
    // Unauthenticated requests are refused the same way, before anything is looked up.
    let r = t
        .req(Method::GET, "/api/v1/customers/C%00", None)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error(), "{}", r.status());
});

backend_test!(org_and_rule_texts_with_nul_are_422, |t| {
    let admin = t.admin_token().await;
    for (path, body_, field) in [
        (
            "/api/v1/users",
            json!({"username": "u\u{0}", "password": "Velvet-Orbit-Canyon-77"}),
            "username",
        ),
        (
            "/api/v1/users",
            json!({"username": "user1", "password": "Velvet-Orbit-Canyon-77",
                   "roles": [{"role": "clerk\u{0}"}]}),
            "roles[0].role",
        ),
        (
            "/api/v1/departments",
            json!({"name": "销售\u{0}部"}),
            "name",
        ),
        (
            "/api/v1/roles",
            json!({"key": "r1", "name": "角色\u{202E}", "permissions": []}),
            "name",
        ),
        (
            "/api/v1/code-rules",
            json!({"key": "k", "name": "规则",
                   "segments": [{"kind": "constant", "value": "C\u{0}"}]}),
            "segments[0].value",
        ),
    ] {
        let p = problem(t.post(path, Some(&admin), body_).await, 422).await;
        assert_eq!(problem_fields(&p), [field], "{path}");
    }
});

backend_test!(
    import_row_with_control_character_is_rejected_naming_column,
    |t| {
        let admin = t.admin_token().await;
        seed_rules(&t, &admin).await;
        let csv = "客户类型,客户名称,备注\n\
               企业客户,好的有限公司,\"两行\n备注\"\n\
               企业客户,坏\u{7}的有限公司,\n\
               企业客户,另一家有限公司,备\u{202E}注\n";
        // (A NUL byte makes the whole CSV file binary: refused as a file, tested elsewhere.)
        let form = Form::new().part(
            "file",
            Part::bytes(csv.as_bytes().to_vec()).file_name("hostile.csv"),
        );
        let r = t
            .req(Method::POST, "/api/v1/imports", Some(&admin))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let id = body(r, 202).await["job_id"].as_i64().unwrap();
        let mut done = Value::Null;
        for _ in 0..400 {
            done = body(t.get(&format!("/api/v1/imports/{id}"), &admin).await, 200).await;
            if done["status"] != "running" {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        assert_eq!(done["status"], "done", "{done}");
        assert_eq!(
            (done["created"].as_i64(), done["rejected"].as_i64()),
            (Some(1), Some(2)),
            "{done}"
        );
        let rejected = t
            .get(&format!("/api/v1/imports/{id}/rejected"), &admin)
            .await;
        assert_eq!(rejected.status(), 200);
        let text = rejected.text().await.unwrap();
        let mut report = csv::Reader::from_reader(text.trim_start_matches('\u{FEFF}').as_bytes());
        let headers = report.headers().unwrap().clone();
        let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
        let rows: Vec<csv::StringRecord> = report.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2, "{text}");
        // Each error sits in the column of the cell that holds the character.
        let (name_err, remark_err) = (column("错误:客户名称"), column("错误:备注"));
        assert!(rows[0][name_err].contains("U+0007"), "{text}");
        assert!(rows[0][remark_err].is_empty(), "{text}");
        assert!(rows[1][remark_err].contains("U+202E"), "{text}");
        assert!(rows[1][name_err].is_empty(), "{text}");
        // The two-line remark was kept with its line break.
        let found = body(
            t.get("/api/v1/customers?name=%E5%A5%BD%E7%9A%84", &admin)
                .await,
            200,
        )
        .await;
        let code = found["items"][0]["code"].as_str().unwrap().to_string();
        let c = body(
            t.get(&format!("/api/v1/customers/{code}"), &admin).await,
            200,
        )
        .await;
        assert_eq!(c["remarks"], "两行\n备注");
        // A form text field is checked too.
        let form = Form::new()
            .part(
                "file",
                Part::bytes(csv.as_bytes().to_vec()).file_name("hostile.csv"),
            )
            .text("sheet", "S\u{0}");
        let r = t
            .req(Method::POST, "/api/v1/imports", Some(&admin))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let p = problem(r, 422).await;
        assert_eq!(problem_fields(&p), ["sheet"]);
    }
);

backend_test!(sixty_thousand_tags_are_refused_by_count, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let c = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "标签有限公司"}),
    )
    .await;
    let code = c["code"].as_str().unwrap();
    let tags: Vec<String> = (0..60_000).map(|i| format!("t{i}")).collect();
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": c["version"], "tags": tags, "former_names": tags}),
        )
        .await;
    let p = problem(r, 422).await;
    assert_eq!(
        fields(&p),
        [
            ("tags".to_string(), "list.too_long".to_string()),
            ("former_names".to_string(), "list.too_long".to_string())
        ]
    );
    assert!(p["fields"][0]["message"].as_str().unwrap().contains("50"));
    // Repeats within the limit are removed, first occurrence kept.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": c["version"], "tags": ["b", "a", "b", "Ｃ", "C"]}),
        )
        .await;
    let v = body(r, 200).await;
    assert_eq!(v["tags"], json!(["b", "a", "C"]));
});
