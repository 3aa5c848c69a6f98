use std::net::SocketAddr;

use custos_app::{App, AppConfig, Backend};
use custos_store::testing::TestDb;
use reqwest::{Client, Method, RequestBuilder, Response};
use serde_json::Value;
use tokio::sync::oneshot;

/// The first administrator's password (it must pass the password policy).
pub const ADMIN_PASSWORD: &str = "Quokka-Saffron-Lattice-19";

/// A running server on a fresh database.
pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub app: App,
    db: Option<TestDb>,
    /// Files of export jobs (kept apart per test: PostgreSQL schemas reuse job ids).
    pub exports_dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<()>>,
}

/// Start custos on `backend`; `None` when PostgreSQL is asked for but not configured.
pub async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_configured(backend, |_| {}, custos_web::WebConfig::default()).await
}

/// Start custos on `backend` with a configuration changed by `configure`.
pub async fn spawn_with(
    backend: Backend,
    configure: impl FnOnce(&mut AppConfig),
) -> Option<TestApp> {
    spawn_configured(backend, configure, custos_web::WebConfig::default()).await
}

/// [`spawn`] with these web settings.
pub async fn spawn_web(backend: Backend, web: custos_web::WebConfig) -> Option<TestApp> {
    spawn_configured(backend, |_| {}, web).await
}

async fn spawn_configured(
    backend: Backend,
    configure: impl FnOnce(&mut AppConfig),
    web: custos_web::WebConfig,
) -> Option<TestApp> {
    let db = TestDb::new(backend).await.expect("open test database")?;
    let exports_dir = tempfile::tempdir().expect("exports dir");
    let mut config = AppConfig {
        exports_dir: Some(exports_dir.path().to_path_buf()),
        ..AppConfig::default()
    };
    configure(&mut config);
    let app = App::from_db(db.db.clone(), config);
    app.org().ensure_builtin_roles().await.expect("roles");
    app.auth()
        .ensure_admin(Some(ADMIN_PASSWORD.into()))
        .await
        .expect("admin");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let (tx, rx) = oneshot::channel::<()>();
    let server_app = app.clone();
    let server = tokio::spawn(async move {
        let _ = custos_web::serve_with(server_app, web, listener, async {
            let _ = rx.await;
        })
        .await;
    });
    Some(TestApp {
        base: format!("http://{addr}"),
        client: Client::new(),
        app,
        db: Some(db),
        exports_dir,
        stop: Some(tx),
        server: Some(server),
    })
}

impl TestApp {
    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let mut r = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.req(Method::GET, path, Some(token))
            .send()
            .await
            .expect("request")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.req(Method::POST, path, token)
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.req(Method::DELETE, path, Some(token))
            .send()
            .await
            .expect("request")
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.req(Method::PATCH, path, Some(token))
            .json(&body)
            .send()
            .await
            .expect("request")
    }

    /// Log in and return the token; panics unless it succeeds.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let r = self
            .post(
                "/api/v1/auth/login",
                None,
                serde_json::json!({"username": username, "password": password}),
            )
            .await;
        assert_eq!(r.status(), 200, "login of {username} failed");
        let v: Value = r.json().await.expect("json");
        v["token"].as_str().expect("token").to_string()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Create a user through the API as admin; returns its id.
    pub async fn create_user(
        &self,
        admin: &str,
        username: &str,
        department_id: Option<i64>,
        roles: Value,
    ) -> i64 {
        let r = self
            .post(
                "/api/v1/users",
                Some(admin),
                serde_json::json!({"username": username, "password": USER_PASSWORD,
                    "department_id": department_id, "roles": roles}),
            )
            .await;
        assert_eq!(r.status(), 201, "create user {username}");
        let v: Value = r.json().await.expect("json");
        v["id"].as_i64().expect("id")
    }

    pub async fn create_department(&self, admin: &str, name: &str, parent: Option<i64>) -> i64 {
        let r = self
            .post(
                "/api/v1/departments",
                Some(admin),
                serde_json::json!({"name": name, "parent_id": parent}),
            )
            .await;
        assert_eq!(r.status(), 201, "create department {name}");
        let v: Value = r.json().await.expect("json");
        v["id"].as_i64().expect("id")
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.server.take() {
            let _ = h.await;
        }
        if let Some(db) = self.db.take() {
            db.cleanup().await;
        }
    }
}

/// Assert a problem+json response and return its body.
pub async fn problem(r: Response, status: u16) -> Value {
    assert_eq!(r.status(), status, "status");
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert_eq!(ct, "application/problem+json");
    r.json().await.expect("problem json")
}

/// Define a test that runs on SQLite and, when configured, on PostgreSQL; with
/// `config = |c| …` the server's `AppConfig` is changed first.
#[macro_export]
macro_rules! backend_test {
    ($name:ident, config = $configure:expr, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $app = $crate::helpers::spawn_with(custos_app::Backend::Sqlite, $configure)
                    .await
                    .expect("sqlite test database");
                $body
                $app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some($app) =
                    $crate::helpers::spawn_with(custos_app::Backend::Postgres, $configure).await
                else {
                    eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
                    return;
                };
                $body
                $app.stop().await;
            }
        }
    };
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                let $app = $crate::helpers::spawn(custos_app::Backend::Sqlite)
                    .await
                    .expect("sqlite test database");
                $body
                $app.stop().await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                let Some($app) = $crate::helpers::spawn(custos_app::Backend::Postgres).await else {
                    eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
                    return;
                };
                $body
                $app.stop().await;
            }
        }
    };
}

/// The password `TestApp::create_user` gives every user.
pub const USER_PASSWORD: &str = "Velvet-Orbit-Canyon-77";

/// Read a JSON body after asserting the status.
pub async fn body(r: Response, status: u16) -> Value {
    let got = r.status().as_u16();
    let text = r.text().await.expect("body");
    assert_eq!(got, status, "status; body: {text}");
    serde_json::from_str(&text).expect("json body")
}

/// The `field` names of a validation problem, in order.
pub fn problem_fields(p: &Value) -> Vec<String> {
    p["fields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["field"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}
