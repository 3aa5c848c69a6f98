#![allow(clippy::unwrap_used)]

//! `/api/v1/imports` (multipart upload → job), its reports and template, and
//! `/api/v1/exports`, with the fixture files of `tests/fixtures/import/`.

use reqwest::multipart::{Form, Part};
use reqwest::Method;
use serde_json::Value;

use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::{body, problem, problem_fields, TestApp};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/import")
            .join(name),
    )
    .expect("fixture")
}

fn form(name: &str, extra: &[(&str, &str)]) -> Form {
    let mut f = Form::new().part(
        "file",
        Part::bytes(fixture(name)).file_name(name.to_string()),
    );
    for (k, v) in extra {
        f = f.text(k.to_string(), v.to_string());
    }
    f
}

async fn upload(t: &TestApp, token: &str, f: Form) -> reqwest::Response {
    t.req(Method::POST, "/api/v1/imports", Some(token))
        .multipart(f)
        .send()
        .await
        .expect("upload")
}

async fn wait_done(t: &TestApp, token: &str, id: i64) -> Value {
    for _ in 0..400 {
        let v = body(t.get(&format!("/api/v1/imports/{id}"), token).await, 200).await;
        if v["status"] != "running" {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("import {id} did not finish");
}

backend_test!(upload_runs_a_job_with_reports, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let r = body(
        upload(&t, &admin, form("customers_gbk.csv", &[])).await,
        202,
    )
    .await;
    assert_eq!(r["encoding"], "gb18030");
    let id = r["job_id"].as_i64().expect("job id");
    let done = wait_done(&t, &admin, id).await;
    assert_eq!(done["status"], "done", "{done}");
    assert_eq!(done["created"], 10);
    // Imported customers announce themselves like any other creation.
    let events = |after: i64| {
        let (t, admin) = (&t, &admin);
        async move {
            let page = body(
                t.get(&format!("/api/v1/events?after={after}&limit=1000"), admin)
                    .await,
                200,
            )
            .await;
            page["events"].as_array().cloned().unwrap_or_default()
        }
    };
    let first = events(0).await;
    assert_eq!(first.len(), 20);
    assert!(
        first
            .iter()
            .step_by(2)
            .all(|e| e["type"] == "customer.created"),
        "{first:?}"
    );

    let r = body(
        upload(&t, &admin, form("bad_rows.csv", &[("sample_rate", "1")])).await,
        202,
    )
    .await;
    let id = r["job_id"].as_i64().unwrap();
    let done = wait_done(&t, &admin, id).await;
    assert_eq!(
        (done["created"].as_i64(), done["rejected"].as_i64()),
        (Some(1), Some(10))
    );
    // Rejected rows (rolled back to their savepoint) leave no event.
    let second = events(20).await;
    let kinds: Vec<&str> = second.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["customer.created", "code.issued"]);
    let rej = t
        .get(&format!("/api/v1/imports/{id}/rejected"), &admin)
        .await;
    assert_eq!(rej.status(), 200);
    let text = rej.text().await.unwrap();
    assert!(text.lines().next().unwrap().contains("错误:"), "{text}");
    assert_eq!(text.lines().count(), 11);
    let x = t
        .get(&format!("/api/v1/imports/{id}/sample?format=xlsx"), &admin)
        .await;
    assert_eq!(x.status(), 200);
    assert!(x.bytes().await.unwrap().starts_with(b"PK"));
    problem(
        t.get(&format!("/api/v1/imports/{id}/sample?format=pdf"), &admin)
            .await,
        422,
    )
    .await;
    problem(t.get("/api/v1/imports/999999", &admin).await, 404).await;

    let tpl = t.get("/api/v1/imports/template", &admin).await;
    assert_eq!(tpl.status(), 200);
    assert!(tpl.bytes().await.unwrap().starts_with(b"PK"));
});

backend_test!(dry_run_answers_the_report_and_writes_nothing, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let r = body(
        upload(&t, &admin, form("bad_rows.csv", &[("dry_run", "true")])).await,
        200,
    )
    .await;
    assert_eq!(r["job_id"], Value::Null);
    assert_eq!(
        (r["created"].as_i64(), r["rejected"].as_i64()),
        (Some(1), Some(10))
    );
    let list = body(t.get("/api/v1/customers?total=true", &admin).await, 200).await;
    assert_eq!(list["total"], 0);
});

backend_test!(bad_uploads_get_4xx_naming_field_and_rule, |t| {
    let admin = t.admin_token().await;
    for (file, extra, field, code) in [
        ("empty.csv", vec![], "file", "import.file_empty"),
        ("binary.csv", vec![], "file", "import.encoding_invalid"),
        (
            "no_name_column.csv",
            vec![],
            "file",
            "import.column_missing",
        ),
        ("truncated.xlsx", vec![], "file", "import.xlsx_malformed"),
        (
            "customers.xlsx",
            vec![("sheet", "nope")],
            "file",
            "import.sheet_unknown",
        ),
        (
            "customers_gbk.csv",
            vec![("delimiter", "colon")],
            "delimiter",
            "import.delimiter_unknown",
        ),
        (
            "customers_gbk.csv",
            vec![("policy", "overwrite")],
            "policy",
            "import.policy_unknown",
        ),
        (
            "customers_gbk.csv",
            vec![("sample_rate", "x")],
            "sample_rate",
            "request.form",
        ),
        (
            "customers_gbk.csv",
            vec![("mapping", "[columns")],
            "mapping",
            "import.mapping_invalid",
        ),
        (
            "customers_gbk.csv",
            vec![("colour", "red")],
            "colour",
            "request.form",
        ),
    ] {
        let p = problem(upload(&t, &admin, form(file, &extra)).await, 422).await;
        assert_eq!(problem_fields(&p), vec![field.to_string()], "{file}: {p}");
        assert_eq!(p["fields"][0]["code"], code, "{file}: {p}");
    }
    // Two files in one form.
    let twice = form("customers_gbk.csv", &[]).part(
        "file",
        Part::bytes(fixture("customers_gbk.csv")).file_name("again.csv"),
    );
    let p = problem(upload(&t, &admin, twice).await, 422).await;
    assert_eq!(problem_fields(&p), vec!["file".to_string()], "{p}");
    // Refused uploads leave no file behind (on SQLite the directory is this test's own).
    if t.app.db.sqlite_path().is_some() {
        let left: Vec<_> = std::fs::read_dir(t.app.imports().import_upload_dir())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // In English on request.
    let r = t
        .req(Method::POST, "/api/v1/imports", Some(&admin))
        .header("accept-language", "en")
        .multipart(form("binary.csv", &[]))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    assert!(
        p["fields"][0]["message"].as_str().unwrap().contains("NUL"),
        "{p}"
    );
    // No file part; not multipart at all; no token.
    let p = problem(
        upload(&t, &admin, Form::new().text("policy", "skip")).await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), vec!["file".to_string()]);
    let r = t
        .post("/api/v1/imports", Some(&admin), serde_json::json!({}))
        .await;
    problem(r, 422).await;
    let r = t
        .req(Method::POST, "/api/v1/imports", None)
        .multipart(form("customers_gbk.csv", &[]))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
});

backend_test!(export_follows_search_filters_and_formats, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let r = body(
        upload(&t, &admin, form("customers_gbk.csv", &[])).await,
        202,
    )
    .await;
    wait_done(&t, &admin, r["job_id"].as_i64().unwrap()).await;
    let csv = t.get("/api/v1/exports?type=individual", &admin).await;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("\u{feff}客户编码,"), "{text}");
    assert_eq!(text.lines().count(), 3);
    let gbk = t.get("/api/v1/exports?gbk=true", &admin).await;
    assert_eq!(
        gbk.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=gb18030"
    );
    let bytes = gbk.bytes().await.unwrap();
    let (text, _, bad) = encoding_rs::GB18030.decode(&bytes);
    assert!(!bad);
    assert_eq!(text.lines().count(), 11);
    let jl = t
        .get("/api/v1/exports?format=jsonl&region=11", &admin)
        .await;
    assert_eq!(jl.text().await.unwrap().lines().count(), 8);
    let x = t.get("/api/v1/exports?format=xlsx", &admin).await;
    assert!(x.bytes().await.unwrap().starts_with(b"PK"));
    problem(t.get("/api/v1/exports?format=pdf", &admin).await, 422).await;
    problem(t.get("/api/v1/exports?region=abc", &admin).await, 422).await;
    problem(t.get("/api/v1/exports?colour=red", &admin).await, 422).await;
});

// An upload holds personal data: it is kept sealed while its job runs and deleted when
// the job ends, so after the job no file in the upload directory holds the cells; the
// reports (which need the file's headers) still download.
backend_test!(uploads_leave_no_personal_data_on_disk, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let text = "客户类型,客户名称,身份证号,手机\n\
        个人客户,王小明,11010519491231002X,13912345678\n\
        ,李四,110101199003070035,13800138000\n";
    let f = Form::new().part(
        "file",
        Part::bytes(text.as_bytes().to_vec()).file_name("名单.csv"),
    );
    let r = body(upload(&t, &admin, f).await, 202).await;
    let id = r["job_id"].as_i64().unwrap();
    let done = wait_done(&t, &admin, id).await;
    assert_eq!(
        (done["created"].as_i64(), done["rejected"].as_i64()),
        (Some(1), Some(1))
    );
    let dir = t.app.imports().import_upload_dir();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        for plain in ["110101199003070035", "13800138000"] {
            assert!(
                !bytes.windows(plain.len()).any(|w| w == plain.as_bytes()),
                "{} holds {plain}",
                entry.path().display()
            );
        }
    }
    for format in ["csv", "xlsx"] {
        let rej = t
            .get(
                &format!("/api/v1/imports/{id}/rejected?format={format}"),
                &admin,
            )
            .await;
        assert_eq!(rej.status(), 200);
        let bytes = rej.bytes().await.unwrap();
        if format == "csv" {
            let text = String::from_utf8(bytes.to_vec()).unwrap();
            assert!(
                text.contains("李四,110101199003070035,13800138000"),
                "{text}"
            );
            assert!(text.lines().next().unwrap().contains("客户类型,客户名称"));
        } else {
            assert!(bytes.starts_with(b"PK"));
        }
    }
});

#[path = "../../../custos-app/tests/support/xlsx_bomb.rs"]
mod xlsx_bomb;

fn file_form(name: &str, bytes: Vec<u8>) -> Form {
    Form::new().part("file", Part::bytes(bytes).file_name(name.to_string()))
}

// With the default bounds, XLSX files whose one string unpacks to 50 MiB (shared) or
// 1 GiB (inline) are refused at once with a 422 naming the part, the cell and the bound,
// in Chinese or, on request, English.
backend_test!(xlsx_bombs_get_422_at_once, |t| {
    let admin = t.admin_token().await;
    let mib = "A".repeat(1 << 20);
    let started = std::time::Instant::now();
    let shared = xlsx_bomb::shared_string_bomb(&mib, 50);
    let p = problem(
        upload(&t, &admin, file_form("shared.xlsx", shared)).await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), vec!["file".to_string()], "{p}");
    assert_eq!(p["fields"][0]["code"], "import.xlsx_cell_too_large", "{p}");
    let msg = p["fields"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("xl/sharedStrings.xml")
            && msg.contains("第 1 个共享字符串")
            && msg.contains("1 MiB"),
        "{msg}"
    );
    let inline = xlsx_bomb::inline_string_bomb(&mib, 1024);
    let r = t
        .req(Method::POST, "/api/v1/imports", Some(&admin))
        .header("accept-language", "en")
        .multipart(file_form("inline.xlsx", inline))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    let msg = p["fields"][0]["message"].as_str().unwrap();
    assert!(
        msg.contains("cell B2 in part xl/worksheets/sheet1.xml") && msg.contains("1 MiB"),
        "{msg}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "slow"
    );
});

// A CSV quote never closed: within the first rows the upload is refused (422); later,
// the job fails naming the line the quote opened on, after the rows before it.
backend_test!(unclosed_csv_quotes_name_their_line, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let rows: String = (1..=12)
        .map(|i| format!("企业客户,上海第{i}测试有限公司,上海市徐汇区\n"))
        .collect();
    let open = "企业客户,\"上海恒星物流有限公司,上海市徐汇区\n企业客户,之后,上海市徐汇区\n";
    let early = format!("客户类型,客户名称,地区\n{open}");
    let p = problem(
        upload(&t, &admin, file_form("early.csv", early.into_bytes())).await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["code"], "import.csv_unclosed_quote", "{p}");
    assert!(
        p["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("第 2 行的引号"),
        "{p}"
    );

    let late = format!("客户类型,客户名称,地区\n{rows}{open}");
    let r = body(
        upload(&t, &admin, file_form("late.csv", late.into_bytes())).await,
        202,
    )
    .await;
    let done = wait_done(&t, &admin, r["job_id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["error"].as_str().unwrap().contains("line 14"),
        "{done}"
    );
    assert_eq!(done["read"], 12, "{done}");
});
