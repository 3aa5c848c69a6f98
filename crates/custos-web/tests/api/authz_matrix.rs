//! The authorisation matrix: every operation of the OpenAPI document (generated from the
//! router, so it lists every route) × every built-in role × a target inside and outside the
//! caller's data scope. An operation without an entry in [`MATRIX`] fails the test, so a new
//! endpoint cannot land without its expected access being written down here.
//!
//! What is asserted for each request:
//! - never a 5xx, and never a 401 for a valid token;
//! - a role without the operation's permission gets 403 (or a 422 that only names the body's
//!   shape, which tells nothing about any record);
//! - a role with it does not get 403, and on a customer outside its scope gets 404;
//! - no body shown to a role without `customer.pii.read` holds a seeded customer's unmasked
//!   ID number or mobile, and no body holds the name of a customer outside the caller's scope.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::{create, seed_rules};
use crate::helpers::{TestApp, USER_PASSWORD};
use custos_core::ident::IdNumber;

use crate::authz_table::{empty, Need, MATRIX};
use Need::{Either, Perm, Public, Signed};

/// The built-in roles and the permissions each holds (from the app's own table).
fn role_permissions() -> BTreeMap<&'static str, BTreeSet<&'static str>> {
    custos_app::actor::builtin_roles()
        .into_iter()
        .map(|(key, _, perms)| (key, perms.into_iter().collect()))
        .collect()
}

/// A seeded individual customer: code, name and the plaintext PII that must not leak.
struct Seeded {
    code: String,
    name: String,
    pii: Vec<String>,
}

async fn seed_customer(t: &TestApp, admin: &str, n: usize, owner: Option<i64>) -> Seeded {
    let today = chrono::Utc::now().date_naive();
    let id = IdNumber::with_check(&format!("11010519800101{:03}", 100 + n), today)
        .expect("id number")
        .as_str()
        .to_string();
    let mobile = format!("139{:08}", 12_345_670 + n);
    let name = format!(
        "矩阵客户{}号",
        ["甲", "乙", "丙", "丁", "戊", "己", "庚", "辛"][n % 8]
    );
    let v = create(
        t,
        admin,
        json!({"customer_type": "individual", "name": name, "id_number": id,
               "mobile": mobile, "owner_id": owner}),
    )
    .await;
    Seeded {
        code: v["code"].as_str().expect("code").to_string(),
        name,
        pii: vec![id, mobile],
    }
}

/// Fill a path template's parameters; `{code}` with the given customer code.
fn fill(path: &str, code: &str) -> String {
    path.replace("{code}", code)
        .replace("{id}", "999999")
        .replace("{key_id}", "999999")
        .replace("{key}", "ind")
        .replace("{system}", "erp")
        .replace("{source_id}", "ERP-1")
}

/// Shape-only problems (the body did not deserialise): they say nothing about any record.
fn shape_only(body: &Value) -> bool {
    let fields = body["fields"].as_array().cloned().unwrap_or_default();
    !fields.is_empty()
        && fields.iter().all(|f| {
            let code = f["code"].as_str().unwrap_or("");
            code == "required" || code.starts_with("json.") || code.starts_with("request.")
        })
}

struct Call<'a> {
    role: &'a str,
    method: &'a str,
    template: &'a str,
    path: String,
    status: u16,
    body: String,
}

async fn call(
    t: &TestApp,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, String) {
    let m = Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = t.req(m.clone(), path, token);
    if m != Method::GET && m != Method::DELETE {
        req = req.json(&body.unwrap_or_else(empty));
    }
    let r = req.send().await.expect("request");
    let status = r.status().as_u16();
    (status, r.text().await.unwrap_or_default())
}

/// What one role may see: its permissions, whether its scope is `all`, whether it reads PII.
struct Seer<'a> {
    held: &'a BTreeSet<&'static str>,
    scope_all: bool,
    pii_ok: bool,
}

fn problems(
    c: &Call,
    need: Need,
    seer: &Seer,
    in_scope: bool,
    out: &Seeded,
    all: &[Seeded],
) -> Vec<String> {
    let (held, in_scope_all, pii_ok) = (seer.held, seer.scope_all, seer.pii_ok);
    let mut bad = Vec::new();
    let what = format!(
        "{} {} {} as {} → {}",
        c.method, c.template, c.path, c.role, c.status
    );
    if c.status >= 500 {
        bad.push(format!("{what}: server error {}", c.body));
    }
    let allowed = match need {
        Public | Signed => true,
        Perm(p) => held.contains(p),
        Either(p, q) => held.contains(p) || held.contains(q),
    };
    if c.status == 401 && !matches!(need, Public) {
        bad.push(format!("{what}: a valid token was refused"));
    }
    if !allowed {
        let body: Value = serde_json::from_str(&c.body).unwrap_or(Value::Null);
        // A decision on an application the caller has no task in is "not found" to it.
        let hidden = c.status == 404 && c.template.starts_with("/api/v1/applications/{id}/");
        if c.status != 403 && !hidden && !(c.status == 422 && shape_only(&body)) {
            bad.push(format!(
                "{what}: expected 403 without the permission; body {}",
                c.body
            ));
        }
    } else if c.status == 403 && !c.template.contains("/applications/") {
        bad.push(format!(
            "{what}: refused although the role holds the permission; body {}",
            c.body
        ));
    }
    if allowed && !in_scope && c.template.contains("{code}") && c.status != 404 {
        bad.push(format!("{what}: a customer outside the scope must be 404"));
    }
    if !pii_ok {
        for s in all {
            for secret in &s.pii {
                if c.body.contains(secret.as_str()) {
                    bad.push(format!("{what}: body shows unmasked PII of {}", s.code));
                }
            }
        }
    }
    if !in_scope_all && c.body.contains(out.name.as_str()) {
        bad.push(format!("{what}: body names the customer outside the scope"));
    }
    bad
}

backend_test!(every_operation_by_every_role, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;

    // Every operation of the document has an entry, and every entry is an operation.
    let doc = serde_json::to_value(custos_web::openapi()).expect("openapi");
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in ["get", "post", "put", "patch", "delete"] {
            if item.get(m).is_some() {
                ops.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = ops.difference(&listed).collect();
    assert!(
        missing.is_empty(),
        "operations without a matrix entry: {missing:?}"
    );
    let stale: Vec<_> = listed.difference(&ops).collect();
    assert!(
        stale.is_empty(),
        "matrix entries for no operation: {stale:?}"
    );

    // One user per built-in role in department A with scope `own`, each owning one customer;
    // one more customer in department B owned by nobody in A.
    let dept_a = t.create_department(&admin, "矩阵甲部", None).await;
    let dept_b = t.create_department(&admin, "矩阵乙部", None).await;
    let owner_b = t
        .create_user(
            &admin,
            "matrix_owner_b",
            Some(dept_b),
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    let roles = role_permissions();
    let mut seeded = Vec::new();
    let mut users = Vec::new();
    for (i, role) in roles.keys().enumerate() {
        let name = format!("matrix_{role}");
        let scope = if *role == "admin" { "all" } else { "own" };
        let id = t
            .create_user(
                &admin,
                &name,
                Some(dept_a),
                json!([{"role": role, "scope": scope}]),
            )
            .await;
        seeded.push(seed_customer(&t, &admin, i, Some(id)).await);
        users.push((role.to_string(), name));
    }
    let outside = seed_customer(&t, &admin, 7, Some(owner_b)).await;
    seeded.push(Seeded {
        code: outside.code.clone(),
        name: outside.name.clone(),
        pii: outside.pii.clone(),
    });

    let mut bad = Vec::new();
    let mut calls = 0usize;
    for (i, (role, user)) in users.iter().enumerate() {
        let held = &roles[role.as_str()];
        let seer = Seer {
            held,
            scope_all: role == "admin",
            pii_ok: held.contains("customer.pii.read"),
        };
        let token = t.login(user, USER_PASSWORD).await;
        let mine = &seeded[i];
        for (method, template, need, body) in MATRIX {
            let targets: Vec<(&str, bool)> = if template.contains("{code}") {
                vec![
                    (mine.code.as_str(), true),
                    (outside.code.as_str(), *role == "admin"),
                ]
            } else {
                vec![(mine.code.as_str(), true)]
            };
            for (code, in_scope) in targets {
                let path = fill(template, code);
                // Logging out ends the token: use one of its own.
                let own_token;
                let tok = if *template == "/api/v1/auth/logout" {
                    own_token = t.login(user, USER_PASSWORD).await;
                    Some(own_token.as_str())
                } else if matches!(need, Public) {
                    None
                } else {
                    Some(token.as_str())
                };
                let payload = if *template == "/api/v1/auth/login" {
                    Some(json!({"username": user, "password": "not-the-password-at-all"}))
                } else {
                    body.map(|f| f())
                };
                let (status, text) = call(&t, tok, method, &path, payload).await;
                calls += 1;
                let c = Call {
                    role,
                    method,
                    template,
                    path,
                    status,
                    body: text,
                };
                bad.extend(problems(&c, *need, &seer, in_scope, &outside, &seeded));
            }
        }
    }
    // Without a token every operation but login is 401.
    for (method, template, need, body) in MATRIX {
        if matches!(need, Public) {
            continue;
        }
        let (status, _) = call(
            &t,
            None,
            method,
            &fill(template, &outside.code),
            body.map(|f| f()),
        )
        .await;
        calls += 1;
        if status != 401 {
            bad.push(format!(
                "{method} {template} without a token → {status}, expected 401"
            ));
        }
    }
    assert!(calls > 600, "the matrix ran {calls} requests");
    assert!(
        bad.is_empty(),
        "{} problems:\n{}",
        bad.len(),
        bad.join("\n")
    );
});
