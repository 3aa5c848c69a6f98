#![allow(clippy::unwrap_used)]

//! Export jobs (`POST /api/v1/exports`, `/api/v1/exports/jobs`, `/api/v1/exports/{id}`,
//! `/api/v1/exports/{id}/file`) and the streamed direct export (`GET /api/v1/exports`).

use std::path::PathBuf;

use reqwest::Method;
use serde_json::{json, Value};

use custos_store::exports::ExportJobRow;
use custos_store::now_us;

use crate::backend_test;
use crate::customers::{create, seed_rules};
use crate::helpers::{body, problem, problem_fields, TestApp, USER_PASSWORD};

/// Departments A and B, their users, and four customers: two owned in A, two in B, one
/// individual with a mobile in each.
struct World {
    admin: String,
    /// steward, department scope, A: `export`, reads A, unmasked PII.
    steward_a: String,
    /// executive, department scope, A: `export`, reads A, masked PII.
    exec_a: String,
    /// executive, all data: `export`, reads everything, masked PII.
    exec_all: String,
    exec_all2: String,
    /// clerk: no `export`.
    clerk: String,
}

async fn world(t: &TestApp) -> World {
    let admin = t.admin_token().await;
    seed_rules(t, &admin).await;
    let a = t.create_department(&admin, "华东", None).await;
    let b = t.create_department(&admin, "华北", None).await;
    let steward_a_id = t
        .create_user(
            &admin,
            "steward_a",
            Some(a),
            json!([{"role": "steward", "scope": "department"}]),
        )
        .await;
    t.create_user(
        &admin,
        "exec_a",
        Some(a),
        json!([{"role": "executive", "scope": "department"}]),
    )
    .await;
    let owner_b = t
        .create_user(
            &admin,
            "owner_b",
            Some(b),
            json!([{"role": "query", "scope": "own"}]),
        )
        .await;
    for name in ["exec_all", "exec_all2"] {
        t.create_user(
            &admin,
            name,
            Some(b),
            json!([{"role": "executive", "scope": "all"}]),
        )
        .await;
    }
    t.create_user(
        &admin,
        "clerk",
        Some(a),
        json!([{"role": "clerk", "scope": "all"}]),
    )
    .await;
    for (body, owner) in [
        (
            json!({"customer_type": "individual", "name": "张三", "mobile": "13987654321"}),
            steward_a_id,
        ),
        (
            json!({"customer_type": "enterprise", "name": "上海甲贸易有限公司", "region_code": "310101"}),
            steward_a_id,
        ),
        (
            json!({"customer_type": "individual", "name": "李四", "mobile": "13612345678"}),
            owner_b,
        ),
        (
            json!({"customer_type": "enterprise", "name": "北京乙科技有限公司", "region_code": "110108"}),
            owner_b,
        ),
    ] {
        let mut body = body;
        body["owner_id"] = json!(owner);
        create(t, &admin, body).await;
    }
    World {
        admin,
        steward_a: t.login("steward_a", USER_PASSWORD).await,
        exec_a: t.login("exec_a", USER_PASSWORD).await,
        exec_all: t.login("exec_all", USER_PASSWORD).await,
        exec_all2: t.login("exec_all2", USER_PASSWORD).await,
        clerk: t.login("clerk", USER_PASSWORD).await,
    }
}

/// Submit a job; returns it (asserting 202 and its `Location`).
async fn submit(t: &TestApp, token: &str, req: Value) -> Value {
    let r = t.post("/api/v1/exports", Some(token), req).await;
    let location = r
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let job = body(r, 202).await;
    assert_eq!(location, format!("/api/v1/exports/{}", job["id"]));
    assert!(
        matches!(job["status"].as_str(), Some("queued" | "running" | "done")),
        "{job}"
    );
    job
}

/// Poll a job until it is no longer queued or running.
async fn wait_job(t: &TestApp, token: &str, id: i64) -> Value {
    for _ in 0..800 {
        let v = body(t.get(&format!("/api/v1/exports/{id}"), token).await, 200).await;
        if !matches!(v["status"].as_str(), Some("queued" | "running")) {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("export job {id} did not finish");
}

/// Submit, wait for `done`, download; returns the job and the file's bytes.
async fn export_job(t: &TestApp, token: &str, req: Value) -> (Value, Vec<u8>) {
    let job = submit(t, token, req).await;
    let id = job["id"].as_i64().unwrap();
    let job = wait_job(t, token, id).await;
    assert_eq!(job["status"], "done", "{job}");
    let r = t.get(&format!("/api/v1/exports/{id}/file"), token).await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let bytes = r.bytes().await.unwrap().to_vec();
    assert_eq!(
        h["content-disposition"].to_str().unwrap(),
        format!(
            "attachment; filename=\"customers-{id}.{}\"",
            job["format"].as_str().unwrap()
        )
    );
    assert_eq!(
        h["content-length"].to_str().unwrap(),
        bytes.len().to_string()
    );
    assert_eq!(job["byte_size"], bytes.len() as i64);
    assert_eq!(h["x-content-sha256"].to_str().unwrap(), job["sha256"]);
    assert_eq!(job["rows_done"], job["total_rows"]);
    (job, bytes)
}

async fn direct(t: &TestApp, token: &str, query: &str) -> Vec<u8> {
    let r = t.get(&format!("/api/v1/exports?{query}"), token).await;
    assert_eq!(r.status(), 200, "GET /api/v1/exports?{query}");
    r.bytes().await.unwrap().to_vec()
}

fn lines(bytes: &[u8]) -> Vec<String> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Put a job row straight into the database (states a running server passes through
/// too quickly to catch).
async fn insert_job(t: &TestApp, row: ExportJobRow) -> i64 {
    let mut tx = t.app.db.begin().await.unwrap();
    let id = tx.insert_export_job(&row).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn admin_id(t: &TestApp, token: &str) -> i64 {
    body(t.get("/api/v1/me", token).await, 200).await["id"]
        .as_i64()
        .unwrap()
}

fn job_row(status: &str, requested_by: i64) -> ExportJobRow {
    let now = now_us();
    ExportJobRow {
        status: status.into(),
        requested_by,
        requested_by_name: "admin".into(),
        format: "csv".into(),
        filter: "{}".into(),
        file_name: "customers.csv".into(),
        created_at: now,
        heartbeat_at: now,
        expires_at: now + 3_600_000_000,
        ..Default::default()
    }
}

backend_test!(job_file_equals_the_direct_export, |t| {
    let w = world(&t).await;
    for (req, query) in [
        (json!({}), "format=csv"),
        (
            json!({"format": "csv", "gbk": true, "filter": {"type": "individual"}}),
            "gbk=true&type=individual",
        ),
        (
            json!({"format": "jsonl", "filter": {"region": "31", "sort": "-name"}}),
            "format=jsonl&region=31&sort=-name",
        ),
        (
            json!({"format": "jsonl", "filter": {"name": "有限公司"}}),
            "format=jsonl&name=有限公司",
        ),
    ] {
        let (job, file) = export_job(&t, &w.admin, req.clone()).await;
        let same = direct(&t, &w.admin, query).await;
        assert_eq!(file, same, "{req} vs {query}");
        assert_eq!(job["requested_by_name"], "admin");
        assert_eq!(job["pii_revealed"], true);
        if let Some(f) = req.get("filter") {
            for (k, v) in f.as_object().unwrap() {
                assert_eq!(&job["filter"][k], v, "{job}");
            }
        }
    }
    let (job, file) = export_job(&t, &w.admin, json!({"format": "csv"})).await;
    assert_eq!(job["total_rows"], 4);
    assert_eq!(lines(&file).len(), 5, "header and four customers");
    let (job, file) = export_job(&t, &w.admin, json!({"format": "xlsx"})).await;
    assert!(file.starts_with(b"PK"));
    assert_eq!(job["total_rows"], 4);
    let r = t
        .get(&format!("/api/v1/exports/{}/file", job["id"]), &w.admin)
        .await;
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    // GBK: the content type says so, and the text decodes.
    let (job, file) = export_job(&t, &w.admin, json!({"gbk": true})).await;
    let r = t
        .get(&format!("/api/v1/exports/{}/file", job["id"]), &w.admin)
        .await;
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=gb18030"
    );
    let (text, _, bad) = encoding_rs::GB18030.decode(&file);
    assert!(!bad && text.contains("上海甲贸易有限公司"), "{text}");
    // The export's audit entry names the job.
    let id = job["id"].as_i64().unwrap();
    let audit = body(
        t.get("/api/v1/audit?action=customer.export&limit=50", &w.admin)
            .await,
        200,
    )
    .await;
    let entry = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["after"]["job"] == id)
        .unwrap_or_else(|| panic!("no audit entry for job {id}: {audit}"));
    assert_eq!(entry["after"]["rows"], 4);
    assert_eq!(entry["after"]["gbk"], true);
    // The list shows the jobs, newest first, in pages.
    let page = body(t.get("/api/v1/exports/jobs?limit=2", &w.admin).await, 200).await;
    assert_eq!(page["items"][0]["id"], id);
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let next = body(
        t.get(
            &format!("/api/v1/exports/jobs?limit=2&cursor={cursor}"),
            &w.admin,
        )
        .await,
        200,
    )
    .await;
    assert!(next["items"][0]["id"].as_i64().unwrap() < page["items"][1]["id"].as_i64().unwrap());
});

backend_test!(job_follows_scope_and_masking, |t| {
    let w = world(&t).await;
    // The steward of A: A's customers only, personal data unmasked.
    let (job, file) = export_job(&t, &w.steward_a, json!({"format": "jsonl"})).await;
    assert_eq!(job["pii_revealed"], true);
    assert_eq!(file, direct(&t, &w.steward_a, "format=jsonl").await);
    let rows: Vec<Value> = lines(&file)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["上海甲贸易有限公司", "张三"]);
    let zhang = rows.iter().find(|r| r["name"] == "张三").unwrap();
    assert_eq!(zhang["mobile"], "13987654321");
    // An executive of A: the same customers, masked.
    let (job, file) = export_job(&t, &w.exec_a, json!({"format": "jsonl"})).await;
    assert_eq!(job["pii_revealed"], false);
    assert_eq!(file, direct(&t, &w.exec_a, "format=jsonl").await);
    let text = String::from_utf8(file).unwrap();
    assert_eq!(text.lines().count(), 2);
    assert!(
        text.contains("139****4321") && !text.contains("13987654321"),
        "{text}"
    );
    assert!(!text.contains("李四"), "{text}");
    // An executive over all data: everything, masked.
    let (_, file) = export_job(&t, &w.exec_all, json!({"format": "csv"})).await;
    let text = String::from_utf8(file).unwrap();
    assert_eq!(text.lines().count(), 5);
    assert!(
        text.contains("136****5678") && !text.contains("13612345678"),
        "{text}"
    );
    // A filter narrows within the scope, never beyond it.
    let (job, _) = export_job(&t, &w.steward_a, json!({"filter": {"name": "李四"}})).await;
    assert_eq!(job["total_rows"], 0);
});

backend_test!(jobs_are_private, |t| {
    let w = world(&t).await;
    let (job, _) = export_job(&t, &w.steward_a, json!({})).await;
    let id = job["id"].as_i64().unwrap();
    // Another user of the same department: as if the job did not exist.
    for path in [
        format!("/api/v1/exports/{id}"),
        format!("/api/v1/exports/{id}/file"),
    ] {
        let p = problem(t.get(&path, &w.exec_a).await, 404).await;
        assert_eq!(p["code"], "export_job.not_found");
    }
    problem(
        t.delete(&format!("/api/v1/exports/{id}"), &w.exec_a).await,
        404,
    )
    .await;
    let mine = body(t.get("/api/v1/exports/jobs", &w.exec_a).await, 200).await;
    assert_eq!(mine["items"], json!([]));
    // Reading everything is not enough for a file with unmasked personal data.
    problem(
        t.get(&format!("/api/v1/exports/{id}"), &w.exec_all).await,
        404,
    )
    .await;
    // An administrator sees and may download it.
    body(t.get(&format!("/api/v1/exports/{id}"), &w.admin).await, 200).await;
    let all = body(t.get("/api/v1/exports/jobs", &w.admin).await, 200).await;
    assert!(all["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|j| j["id"] == id));
    assert_eq!(
        t.get(&format!("/api/v1/exports/{id}/file"), &w.admin)
            .await
            .status(),
        200
    );
    // A masked export of one all-data executive is visible to another.
    let (masked, _) = export_job(&t, &w.exec_all2, json!({})).await;
    let mid = masked["id"].as_i64().unwrap();
    body(
        t.get(&format!("/api/v1/exports/{mid}"), &w.exec_all).await,
        200,
    )
    .await;
    let listed = body(t.get("/api/v1/exports/jobs", &w.exec_all).await, 200).await;
    let ids: Vec<i64> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [mid]);
    // Without `export`: 403, whatever the job.
    let p = problem(
        t.post("/api/v1/exports", Some(&w.clerk), json!({})).await,
        403,
    )
    .await;
    assert_eq!(p["code"], "auth.forbidden");
    problem(
        t.get(&format!("/api/v1/exports/{mid}"), &w.clerk).await,
        403,
    )
    .await;
    problem(t.get("/api/v1/exports/jobs", &w.clerk).await, 403).await;
    let r = t
        .req(Method::POST, "/api/v1/exports", None)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
});

backend_test!(
    file_before_done_is_409_and_after_delete_or_expiry_410,
    |t| {
        let admin = t.admin_token().await;
        let me = admin_id(&t, &admin).await;
        // Not finished yet.
        for status in ["queued", "running"] {
            let id = insert_job(&t, job_row(status, me)).await;
            let p = problem(
                t.get(&format!("/api/v1/exports/{id}/file"), &admin).await,
                409,
            )
            .await;
            assert_eq!(p["code"], "export.not_ready", "{p}");
            assert!(p["detail"].as_str().unwrap().contains(status), "{p}");
        }
        let failed = insert_job(
            &t,
            ExportJobRow {
                error: Some("磁盘已满 / disk full".into()),
                ..job_row("failed", me)
            },
        )
        .await;
        let p = problem(
            t.get(&format!("/api/v1/exports/{failed}/file"), &admin)
                .await,
            409,
        )
        .await;
        assert_eq!(p["code"], "export.failed");
        assert!(p["detail"].as_str().unwrap().contains("磁盘已满"), "{p}");

        // A real job, deleted: its file goes, the download answers 410.
        let job = submit(&t, &admin, json!({"format": "jsonl"})).await;
        let id = job["id"].as_i64().unwrap();
        assert_eq!(wait_job(&t, &admin, id).await["status"], "done");
        let files = |dir: &std::path::Path| -> Vec<PathBuf> {
            std::fs::read_dir(dir)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default()
        };
        assert_eq!(files(t.exports_dir.path()).len(), 1);
        let gone = body(
            t.delete(&format!("/api/v1/exports/{id}"), &admin).await,
            200,
        )
        .await;
        assert_eq!(gone["status"], "expired");
        assert!(files(t.exports_dir.path()).is_empty());
        let p = problem(
            t.get(&format!("/api/v1/exports/{id}/file"), &admin).await,
            410,
        )
        .await;
        assert_eq!(p["code"], "export.expired");
        assert_eq!(
            body(t.get(&format!("/api/v1/exports/{id}"), &admin).await, 200).await["status"],
            "expired"
        );
        body(
            t.delete(&format!("/api/v1/exports/{id}"), &admin).await,
            200,
        )
        .await;
        // English on request.
        let r = t
            .req(
                Method::GET,
                &format!("/api/v1/exports/{id}/file"),
                Some(&admin),
            )
            .header("accept-language", "en")
            .send()
            .await
            .unwrap();
        let p = problem(r, 410).await;
        assert!(p["detail"].as_str().unwrap().contains("has expired"), "{p}");

        // A finished job past its expiry: listing expires it and deletes the file.
        let path = t.exports_dir.path().join("old.csv");
        std::fs::write(&path, "客户编码\r\n").unwrap();
        let old = insert_job(
            &t,
            ExportJobRow {
                file_path: Some(path.to_string_lossy().into_owned()),
                expires_at: now_us() - 1,
                ..job_row("done", me)
            },
        )
        .await;
        let list = body(t.get("/api/v1/exports/jobs", &admin).await, 200).await;
        let listed = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["id"] == old)
            .unwrap()
            .clone();
        assert_eq!(listed["status"], "expired");
        assert!(!path.exists());
        problem(
            t.get(&format!("/api/v1/exports/{old}/file"), &admin).await,
            410,
        )
        .await;
        // …and so does asking for its file directly.
        std::fs::write(&path, "客户编码\r\n").unwrap();
        let old2 = insert_job(
            &t,
            ExportJobRow {
                file_path: Some(path.to_string_lossy().into_owned()),
                expires_at: now_us() - 1,
                ..job_row("done", me)
            },
        )
        .await;
        problem(
            t.get(&format!("/api/v1/exports/{old2}/file"), &admin).await,
            410,
        )
        .await;
        assert!(!path.exists());
    }
);

backend_test!(server_start_fails_jobs_whose_server_stopped, |t| {
    let admin = t.admin_token().await;
    let me = admin_id(&t, &admin).await;
    let hour_ago = now_us() - 3_600_000_000;
    let part = t.exports_dir.path().join("7-abc.csv.part");
    std::fs::write(&part, "客户编码\r\n").unwrap();
    let stale_running = insert_job(
        &t,
        ExportJobRow {
            started_at: Some(hour_ago),
            heartbeat_at: hour_ago,
            file_path: Some(
                t.exports_dir
                    .path()
                    .join("7-abc.csv")
                    .to_string_lossy()
                    .into_owned(),
            ),
            ..job_row("running", me)
        },
    )
    .await;
    let stale_queued = insert_job(
        &t,
        ExportJobRow {
            heartbeat_at: hour_ago,
            ..job_row("queued", me)
        },
    )
    .await;
    // Running on another server that is alive: left alone.
    let alive = insert_job(&t, job_row("running", me)).await;
    assert_eq!(
        body(
            t.get(&format!("/api/v1/exports/{stale_running}"), &admin)
                .await,
            200
        )
        .await["status"],
        "running"
    );

    // Start a second server on the same database.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(custos_web::serve(t.app.clone(), listener, async {
        let _ = stopped.await;
    }));
    let r = t
        .client
        .get(format!("http://{addr}/api/v1/exports/{stale_running}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let v = body(r, 200).await;
    assert_eq!(v["status"], "failed");
    assert!(
        v["error"].as_str().unwrap().contains("server stopped"),
        "{v}"
    );
    assert!(!part.exists(), "the partial file is removed");
    let _ = stop.send(());
    let _ = server.await;
    for (id, status) in [(stale_queued, "failed"), (alive, "running")] {
        assert_eq!(
            body(t.get(&format!("/api/v1/exports/{id}"), &admin).await, 200).await["status"],
            status
        );
    }
    let p = problem(
        t.get(&format!("/api/v1/exports/{stale_queued}/file"), &admin)
            .await,
        409,
    )
    .await;
    assert_eq!(p["code"], "export.failed");
});

backend_test!(bad_export_requests_name_the_field, |t| {
    let admin = t.admin_token().await;
    let cases = [
        (json!({"format": "pdf"}), "format", "export.format"),
        (json!({"gbk": "yes"}), "gbk", "json.type"),
        (
            json!({"format": "xlsx", "gbk": true}),
            "gbk",
            "export.gbk_csv_only",
        ),
        (
            json!({"format": "jsonl", "gbk": true}),
            "gbk",
            "export.gbk_csv_only",
        ),
        (
            json!({"filter": {"colour": "red"}}),
            "filter.colour",
            "json.unknown_field",
        ),
        (
            json!({"filter": {"limit": 5}}),
            "filter.limit",
            "json.unknown_field",
        ),
        (
            json!({"filter": {"region": "abc"}}),
            "filter.region",
            "query.invalid",
        ),
        (
            json!({"filter": {"created_from": "yesterday"}}),
            "filter.created_from",
            "query.invalid",
        ),
        (
            json!({"filter": {"sort": "colour"}}),
            "filter.sort",
            "query.invalid",
        ),
        (
            json!({"filter": {"owner": "x"}}),
            "filter.owner",
            "json.type",
        ),
        (
            json!({"filter": {"custom": {"k": 1}}}),
            "filter.custom.k",
            "json.type",
        ),
        (json!({"filter": "region=11"}), "filter", "json.type"),
        (json!({"formats": "csv"}), "formats", "json.unknown_field"),
    ];
    for (req, field, code) in cases {
        let p = problem(
            t.post("/api/v1/exports", Some(&admin), req.clone()).await,
            422,
        )
        .await;
        assert_eq!(problem_fields(&p), [field], "{req}: {p}");
        assert_eq!(p["fields"][0]["code"], code, "{req}: {p}");
    }
    // Not JSON at all.
    let r = t
        .req(Method::POST, "/api/v1/exports", Some(&admin))
        .header("content-type", "application/json")
        .body("{format:")
        .send()
        .await
        .unwrap();
    problem(r, 422).await;
    // English on request.
    let r = t
        .req(Method::POST, "/api/v1/exports", Some(&admin))
        .header("accept-language", "en")
        .json(&json!({"format": "xlsx", "gbk": true}))
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    assert!(
        p.to_string().contains("GBK applies to CSV exports only"),
        "{p}"
    );
    // Nothing was queued.
    let list = body(t.get("/api/v1/exports/jobs", &admin).await, 200).await;
    assert_eq!(list["items"], json!([]));
    // Job ids that are not numbers name nothing.
    for r in [
        t.get("/api/v1/exports/abc", &admin).await,
        t.get("/api/v1/exports/abc/file", &admin).await,
        t.delete("/api/v1/exports/abc", &admin).await,
        t.get("/api/v1/exports/99999", &admin).await,
    ] {
        let p = problem(r, 404).await;
        assert_eq!(p["code"], "export_job.not_found");
    }
    // List paging and the direct export's query string.
    for (path, field) in [
        ("/api/v1/exports/jobs?limit=0", "limit"),
        ("/api/v1/exports/jobs?limit=x", "limit"),
        ("/api/v1/exports/jobs?cursor=zz", "cursor"),
        ("/api/v1/exports/jobs?colour=red", "colour"),
        ("/api/v1/exports?gbk=maybe", "gbk"),
        ("/api/v1/exports?format=xlsx&gbk=true", "gbk"),
        ("/api/v1/exports?format=pdf", "format"),
        ("/api/v1/exports?owner=me", "owner"),
        ("/api/v1/exports?colour=red", "colour"),
        ("/api/v1/exports?region=abc", "region"),
        // The list's paging and ranking do not apply to an export of every match.
        ("/api/v1/exports?limit=5", "limit"),
        ("/api/v1/exports?fuzzy=true", "fuzzy"),
    ] {
        let p = problem(t.get(path, &admin).await, 422).await;
        assert_eq!(problem_fields(&p), [field], "{path}: {p}");
    }
});

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The one finished file in the exports directory (`.part` files are not finished).
fn job_file(t: &TestApp) -> PathBuf {
    let files: Vec<PathBuf> = std::fs::read_dir(t.exports_dir.path())
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

const ID_NUMBER: &str = "11010519491231002X";
const MOBILE: &str = "13812345678";

/// An individual with an ID number and a mobile ([`ID_NUMBER`], [`MOBILE`]).
async fn create_with_pii(t: &TestApp, admin: &str) {
    create(
        t,
        admin,
        json!({"customer_type": "individual", "name": "王小明",
               "id_number": ID_NUMBER, "mobile": MOBILE}),
    )
    .await;
}

backend_test!(job_files_hold_no_plaintext_personal_data, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    create_with_pii(&t, &admin).await;
    for format in ["csv", "jsonl", "xlsx"] {
        // The administrator holds `customer.pii.read`: the file has the clear values.
        let (job, file) = export_job(&t, &admin, json!({"format": format})).await;
        assert_eq!(job["pii_revealed"], true);
        let id = job["id"].as_i64().unwrap();
        // What the user gets is the plaintext the job recorded.
        assert_eq!(job["byte_size"], file.len() as i64, "{format}");
        assert_eq!(job["sha256"], sha256_hex(&file), "{format}");
        // The same bytes as the direct export (XLSX too: its writer is deterministic).
        assert_eq!(file, direct(&t, &admin, &format!("format={format}")).await);
        if format == "xlsx" {
            assert!(file.starts_with(b"PK"), "{format}");
        } else {
            assert!(
                contains(&file, ID_NUMBER.as_bytes()) && contains(&file, MOBILE.as_bytes()),
                "{format}: {}",
                String::from_utf8_lossy(&file)
            );
        }
        // At rest, the file is sealed: neither value, nor the download, is on disk.
        let path = job_file(&t);
        let on_disk = std::fs::read(&path).unwrap();
        assert!(custos_app::sealed::is_sealed(&path).unwrap(), "{format}");
        assert!(!contains(&on_disk, ID_NUMBER.as_bytes()), "{format}");
        assert!(!contains(&on_disk, MOBILE.as_bytes()), "{format}");
        assert!(!contains(&on_disk, &file[..file.len().min(64)]), "{format}");
        body(
            t.delete(&format!("/api/v1/exports/{id}"), &admin).await,
            200,
        )
        .await;
    }
});

backend_test!(a_damaged_job_file_is_410_not_garbage, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    create_with_pii(&t, &admin).await;
    let (job, good) = export_job(&t, &admin, json!({"format": "csv"})).await;
    let id = job["id"].as_i64().unwrap();
    let path = job_file(&t);
    let sealed = std::fs::read(&path).unwrap();
    // One byte changed in the ciphertext, the file cut short, the header altered.
    let mut flipped = sealed.clone();
    let last = flipped.len() - 20;
    flipped[last] ^= 0x40;
    let mut header = sealed.clone();
    header[20] ^= 1;
    for damaged in [flipped, sealed[..sealed.len() - 5].to_vec(), header] {
        std::fs::write(&path, &damaged).unwrap();
        let p = problem(
            t.get(&format!("/api/v1/exports/{id}/file"), &admin).await,
            410,
        )
        .await;
        assert_eq!(p["code"], "export.file_damaged", "{p}");
        assert!(
            p["detail"].as_str().unwrap().contains(&format!("#{id}")),
            "{p}"
        );
    }
    // Put back, it downloads again.
    std::fs::write(&path, &sealed).unwrap();
    let r = t.get(&format!("/api/v1/exports/{id}/file"), &admin).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().to_vec(), good);
});

backend_test!(
    a_plaintext_file_of_an_earlier_version_still_downloads,
    |t| {
        let admin = t.admin_token().await;
        let me = admin_id(&t, &admin).await;
        let path = t.exports_dir.path().join("9-old.csv");
        let text = format!("\u{feff}客户编码,身份证号\r\nC0001,{ID_NUMBER}\r\n");
        std::fs::write(&path, &text).unwrap();
        let id = insert_job(
            &t,
            ExportJobRow {
                file_path: Some(path.to_string_lossy().into_owned()),
                byte_size: Some(text.len() as i64),
                sha256: Some(sha256_hex(text.as_bytes())),
                ..job_row("done", me)
            },
        )
        .await;
        let r = t.get(&format!("/api/v1/exports/{id}/file"), &admin).await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.headers()["content-length"].to_str().unwrap(),
            text.len().to_string()
        );
        assert_eq!(
            r.headers()["x-content-sha256"].to_str().unwrap(),
            sha256_hex(text.as_bytes())
        );
        assert_eq!(r.bytes().await.unwrap().to_vec(), text.as_bytes());
    }
);

// A name a spreadsheet would run as a formula is exported to CSV — direct, GBK, job —
// behind a quote; JSON Lines keeps it as stored, and so does the customer.
backend_test!(csv_exports_guard_formula_cells, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let name = "=cmd|' /C calc'!A0";
    let c = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": name, "address": "@SUM(1+1)"}),
    )
    .await;
    let guarded = ",'=cmd|' /C calc'!A0,";
    let utf8 = String::from_utf8(direct(&t, &admin, "format=csv").await).unwrap();
    assert!(
        utf8.contains(guarded) && utf8.contains(",'@SUM(1+1),"),
        "{utf8}"
    );
    let gbk = direct(&t, &admin, "format=csv&gbk=true").await;
    let gbk = encoding_rs::GB18030.decode(&gbk).0.into_owned();
    assert!(gbk.contains(guarded), "{gbk}");
    let (_, job) = export_job(&t, &admin, json!({"format": "csv"})).await;
    let job = String::from_utf8(job).unwrap();
    assert!(job.contains(guarded), "{job}");
    let jsonl = String::from_utf8(direct(&t, &admin, "format=jsonl").await).unwrap();
    assert!(jsonl.contains(r#""name":"=cmd|' /C calc'!A0""#), "{jsonl}");
    let code = c["code"].as_str().unwrap();
    let stored = body(
        t.get(&format!("/api/v1/customers/{code}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(stored["name"], name);
});
