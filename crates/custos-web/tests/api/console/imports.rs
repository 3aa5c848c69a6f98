//! `/imports` (导入) over HTTP on both databases: the upload step with the template, the
//! kept upload's mapping step (a column mapped by its drop-down, a value map), a dry run
//! reporting the rejected row beside its field, the run of the same kept file leading to
//! its report and the rejected rows as XLSX in the viewer's language; a query-role user
//! is refused.

use serde_json::json;

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

/// `公司全称` is no known header (mapped by its drop-down); `个人` is no customer type
/// (mapped to 个人客户 by a value map); the last row has no type (rejected).
const FILE: &str =
    "客户类型,公司全称,身份证号\n个人,王小明,11010519491231002X\n,李四,110101199003070035\n";

/// Post the upload form (multipart) with the viewer's cookies and CSRF token.
async fn post_file(v: &mut Visitor, csrf: &str) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("csrf", csrf.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(FILE.as_bytes().to_vec()).file_name("客户.csv"),
        );
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

/// Post the mapping form.
async fn post_choices(
    v: &mut Visitor,
    path: &str,
    fields: Vec<(&'static str, String)>,
) -> reqwest::Response {
    let f: Vec<(&str, &str)> = fields.iter().map(|(k, x)| (*k, x.as_str())).collect();
    v.post(path, &f).await
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
    let r = post_file(&mut v, "wrong").await;
    assert_eq!(r.status(), 403);

    // The upload is kept and the mapping step follows.
    let r = post_file(&mut v, &csrf).await;
    assert_eq!(r.status(), 303);
    let mapping = location(&r);
    assert!(mapping.starts_with("/imports/upload/"), "{mapping}");
    let html = v.get(&mapping).await.text().await.unwrap();
    assert!(html.contains("id=\"mapping-table\""), "{html}");
    assert!(html.contains("id=\"detected-encoding\">utf-8"), "{html}");
    assert!(
        html.contains("<option value=\"customer_type\" selected>"),
        "recognised column preselected"
    );
    assert!(
        html.contains("name=\"source.0.0\" value=\"个人\""),
        "{html}"
    );
    // An unknown token is no page.
    assert_eq!(v.get("/imports/upload/0123").await.status(), 404);

    let choices = |dry: bool, name_column: bool| {
        let mut f = vec![
            ("csrf", csrf.clone()),
            ("column.0", "customer_type".to_string()),
            ("column.2", "id_number".to_string()),
            ("source.0.0", "个人".to_string()),
            ("value.0.0", "个人客户".to_string()),
            ("policy", "skip".to_string()),
            ("sample_rate", "1".to_string()),
        ];
        if name_column {
            f.push(("column.1", "name".to_string()));
        }
        if dry {
            f.push(("dry_run", "true".to_string()));
        }
        f
    };
    // Without a name column the mapping is refused beside the form, choices kept.
    let r = post_choices(&mut v, &mapping, choices(true, false)).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"mapping-errors\""), "{html}");
    assert!(html.contains("客户名称"), "{html}");

    let r = post_choices(&mut v, &mapping, choices(true, true)).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"rejected-table\""), "{html}");
    assert!(html.contains("class=\"cell-error\""), "failing cell marked");
    assert!(html.contains("客户类型为必填项"), "reason in Chinese");
    assert!(
        html.contains("data-total=\"imports.rejected\">1<"),
        "the value map made the first row valid: {html}"
    );
    assert!(
        html.contains("id=\"mapping-form\""),
        "the form stays for the run"
    );
    assert!(
        html.contains("id=\"sample_rate\" value=\"1\""),
        "the chosen sample share is kept for the run"
    );

    // The run imports the same kept file, which its job then owns.
    let r = post_choices(&mut v, &mapping, choices(false, true)).await;
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
    assert!(html.contains("data-total=\"imports.created\">1<"), "{html}");
    let html = v.get("/imports").await.text().await.unwrap();
    assert!(html.contains("客户.csv"));
    // The kept upload went with its job.
    assert_eq!(v.get(&mapping).await.status(), 404);
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

/// Upload `FILE`, map it and run it with every created row sampled; the job's path once
/// its report is there.
async fn import_to_report(v: &mut Visitor, csrf: &str) -> String {
    let r = post_file(v, csrf).await;
    assert_eq!(r.status(), 303);
    let mapping = location(&r);
    let f = vec![
        ("csrf", csrf.to_string()),
        ("column.0", "customer_type".to_string()),
        ("column.1", "name".to_string()),
        ("column.2", "id_number".to_string()),
        ("source.0.0", "个人".to_string()),
        ("value.0.0", "个人客户".to_string()),
        ("policy", "skip".to_string()),
        ("sample_rate", "1".to_string()),
    ];
    let r = post_choices(v, &mapping, f).await;
    assert_eq!(r.status(), 303);
    let job = location(&r);
    for _ in 0..100 {
        let html = v.get(&job).await.text().await.unwrap();
        if html.contains("data-status=\"done\"") {
            return job;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{job} did not end");
}

backend_test!(a_steward_marks_sampled_rows_checked, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let csrf = v.csrf().await;
    let job = import_to_report(&mut v, &csrf).await;
    let html = v.get(&job).await.text().await.unwrap();
    assert!(
        html.contains("data-checked=\"0\" data-sample-size=\"1\">0 / 1<"),
        "{html}"
    );
    // The created row (data row 1) is the sample; its mark is a form.
    assert!(html.contains("id=\"check-1\""), "{html}");
    let check = format!("{job}/sample/1/check");

    let r = v.post(&check, &[("csrf", "wrong")]).await;
    assert_eq!(r.status(), 403);
    let r = v.post(&check, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("{job}#sample-1"));
    let html = v.get(&job).await.text().await.unwrap();
    assert!(html.contains(">1 / 1<"), "{html}");
    assert!(html.contains("data-checked-by=\"admin\""), "{html}");
    assert!(!html.contains("id=\"check-1\""), "no form once checked");
    // Marking again keeps the first mark and is audited once.
    let r = v.post(&check, &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    assert!(v.get(&job).await.text().await.unwrap().contains(">1 / 1<"));
    let audit = body(
        t.get("/api/v1/audit?action=import.sample_checked", &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");

    // The rejected row (data row 2) is no sample; nor are rows or jobs that do not exist.
    for path in [
        format!("{job}/sample/2/check"),
        format!("{job}/sample/x/check"),
        "/imports/999999/sample/1/check".to_string(),
    ] {
        let r = v.post(&path, &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), 404, "{path}");
    }

    // A clerk imports too, but the administrator's job is out of their scope; a query
    // user may not import at all.
    let dept = t.create_department(&admin, "华东", None).await;
    t.create_user(
        &admin,
        "clerk_east",
        Some(dept),
        json!([{"role": "clerk", "scope": "department"}]),
    )
    .await;
    let mut c = Visitor::new(&t);
    c.login("clerk_east", USER_PASSWORD).await;
    let c_csrf = c.csrf().await;
    let r = c.post(&check, &[("csrf", &c_csrf)]).await;
    assert_eq!(r.status(), 404);
    t.create_user(
        &admin,
        "query_all",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let mut q = Visitor::new(&t);
    q.login("query_all", USER_PASSWORD).await;
    let q_csrf = q.csrf().await;
    let r = q.post(&check, &[("csrf", &q_csrf)]).await;
    assert_eq!(r.status(), 403);
});

backend_test!(a_mapping_saved_by_name_is_picked_on_a_later_upload, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let csrf = v.csrf().await;
    let r = post_file(&mut v, &csrf).await;
    let mapping = location(&r);
    let html = v.get(&mapping).await.text().await.unwrap();
    assert!(
        !html.contains("id=\"saved-mapping-form\""),
        "nothing saved yet"
    );
    let choices = |name: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("column.0", "customer_type".to_string()),
            ("column.1", "name".to_string()),
            ("column.2", "id_number".to_string()),
            ("source.0.0", "个人".to_string()),
            ("value.0.0", "个人客户".to_string()),
            ("mapping_name", name.to_string()),
            ("save_mapping", "true".to_string()),
        ]
    };
    // A name is needed; the refusal names the field.
    let r = post_choices(&mut v, &mapping, choices(" ")).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("data-field=\"mapping_name\""), "{html}");
    let r = post_choices(&mut v, &mapping, choices("旧CRM客户表")).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"mapping-saved\""), "{html}");

    // A later upload offers it; picking it fills the drop-downs and value maps.
    let r = post_file(&mut v, &csrf).await;
    let later = location(&r);
    let html = v.get(&later).await.text().await.unwrap();
    assert!(
        html.contains("<option value=\"旧CRM客户表\">旧CRM客户表</option>"),
        "{html}"
    );
    let before = v.get(&later).await.text().await.unwrap();
    assert!(
        !before.contains("<option value=\"name\" selected>"),
        "公司全称 is not recognised"
    );
    let html = v
        .get(&format!("{later}?mapping_name=旧CRM客户表"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<option value=\"name\" selected>"), "{html}");
    assert!(
        html.contains("<option value=\"个人客户\" selected>"),
        "{html}"
    );
    assert_eq!(
        v.get(&format!("{later}?mapping_name=无此映射"))
            .await
            .status(),
        404
    );
    let audit = body(
        t.get("/api/v1/audit?action=import.mapping_saved", &admin)
            .await,
        200,
    )
    .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");

    // Saved mappings are each user's own.
    t.create_user(
        &admin,
        "clerk_all",
        None,
        json!([{"role": "clerk", "scope": "all"}]),
    )
    .await;
    let mut c = Visitor::new(&t);
    c.login("clerk_all", USER_PASSWORD).await;
    let c_csrf = c.csrf().await;
    let r = post_file(&mut c, &c_csrf).await;
    let theirs = location(&r);
    let html = c.get(&theirs).await.text().await.unwrap();
    assert!(!html.contains("id=\"saved-mapping-form\""), "{html}");
    assert_eq!(
        c.get(&format!("{theirs}?mapping_name=旧CRM客户表"))
            .await
            .status(),
        404
    );
});
