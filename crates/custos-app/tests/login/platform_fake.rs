//! A fake of DingTalk, WeCom and Feishu for the tests: each platform's login page (which
//! approves at once and redirects back with a code), token and user endpoints, on one
//! local server. Codes are spent by their first use; client credentials and Feishu's PKCE
//! are checked. Knobs make the token step fail the ways a platform does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const DING_APP_KEY: &str = "dingappkey-test";
pub const DING_CORP: &str = "ding-corp-test";
pub const WECOM_CORP: &str = "ww-corp-test";
pub const WECOM_AGENT: &str = "1000002";
pub const FEISHU_APP_ID: &str = "cli_test";
pub const FEISHU_TENANT: &str = "tenant-test";
pub const SECRET: &str = "platform-secret-for-tests";

/// How the next token step fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Failure {
    #[default]
    None,
    /// The platform's own error code (DingTalk: HTTP 400 with `code`; WeCom: errcode;
    /// Feishu: `code` ≠ 0).
    ErrCode,
    Http500,
    Garbled,
    Oversized,
}

#[derive(Default)]
struct Inner {
    /// What the platforms say about whoever "logs in" next.
    user: Value,
    failure: Failure,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Value>,
    app_tokens: Vec<String>,
    counter: u64,
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    user: Value,
}

#[derive(Clone)]
pub struct Fake {
    inner: Arc<Mutex<Inner>>,
    pub base: String,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Fake {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl Fake {
    pub async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Mutex::new(Inner::default()));
        let app = Router::new()
            .route("/oauth2/auth", get(ding_login))
            .route("/v1.0/oauth2/userAccessToken", post(ding_token))
            .route("/v1.0/contact/users/me", get(ding_me))
            .route("/wwlogin/sso/login", get(wecom_login))
            .route("/cgi-bin/gettoken", get(wecom_token))
            .route("/cgi-bin/auth/getuserinfo", get(wecom_userinfo))
            .route("/cgi-bin/user/get", get(wecom_user))
            .route("/open-apis/authen/v1/authorize", get(feishu_login))
            .route("/open-apis/authen/v2/oauth/token", post(feishu_token))
            .route("/open-apis/authen/v1/user_info", get(feishu_user))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Fake {
            inner,
            base,
            task: Arc::new(task),
        }
    }

    /// Who logs in next: per platform, the parts of its answers that describe the person
    /// (`corpId` and `me` for DingTalk; `getuserinfo` and `user` for WeCom; `data` for
    /// Feishu).
    pub fn set_user(&self, user: Value) {
        self.inner.lock().expect("lock").user = user;
    }

    pub fn fail(&self, failure: Failure) {
        self.inner.lock().expect("lock").failure = failure;
    }

    /// How many WeCom application tokens were handed out.
    pub fn app_tokens_issued(&self) -> usize {
        self.inner.lock().expect("lock").app_tokens.len()
    }
}

type Shared = State<Arc<Mutex<Inner>>>;
type Params = Query<HashMap<String, String>>;

fn param(q: &HashMap<String, String>, k: &str) -> String {
    q.get(k).cloned().unwrap_or_default()
}

/// Approve at once: a fresh code for the current user, back to `redirect_uri`.
fn approve(s: &Shared, q: &HashMap<String, String>, code_key: &str) -> Response {
    let mut inner = s.0.lock().expect("lock");
    inner.counter += 1;
    let code = format!("code-{}", inner.counter);
    let grant = Grant {
        redirect_uri: param(q, "redirect_uri"),
        challenge: param(q, "code_challenge"),
        user: inner.user.clone(),
    };
    inner.codes.insert(code.clone(), grant);
    let mut to = reqwest::Url::parse(&param(q, "redirect_uri")).expect("redirect uri");
    to.query_pairs_mut()
        .append_pair(code_key, &code)
        .append_pair("state", &param(q, "state"));
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

fn bad(text: &str) -> Response {
    (StatusCode::BAD_REQUEST, text.to_string()).into_response()
}

/// The failure set for the token step, or `None` to go on.
fn failed(inner: &Inner, own_error: impl FnOnce() -> Response) -> Option<Response> {
    Some(match inner.failure {
        Failure::None => return None,
        Failure::ErrCode => own_error(),
        Failure::Http500 => {
            (StatusCode::INTERNAL_SERVER_ERROR, "<html>busy</html>").into_response()
        }
        Failure::Garbled => (StatusCode::OK, "{\"accessToken\": ").into_response(),
        Failure::Oversized => {
            let big = "x".repeat(300 * 1024);
            Json(json!({ "padding": big })).into_response()
        }
    })
}

fn new_token(inner: &mut Inner, prefix: &str, user: Value) -> String {
    inner.counter += 1;
    let token = format!("{prefix}-{}", inner.counter);
    inner.tokens.insert(token.clone(), user);
    token
}

// DingTalk.

async fn ding_login(s: Shared, Query(q): Params) -> Response {
    if param(&q, "client_id") != DING_APP_KEY
        || param(&q, "response_type") != "code"
        || param(&q, "scope") != "openid corpid"
        || param(&q, "prompt") != "consent"
    {
        return bad("bad login request");
    }
    approve(&s, &q, "authCode")
}

async fn ding_token(State(s): Shared, Json(b): Json<Value>) -> Response {
    let mut inner = s.lock().expect("lock");
    let error = || {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": "invalidAuthCode", "message": "授权码无效"})),
        )
            .into_response()
    };
    if let Some(r) = failed(&inner, error) {
        return r;
    }
    let get = |k: &str| {
        b.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let Some(grant) = inner.codes.remove(&get("code")) else {
        return error();
    };
    if get("clientId") != DING_APP_KEY
        || get("clientSecret") != SECRET
        || get("grantType") != "authorization_code"
    {
        return error();
    }
    let corp = grant.user.get("corpId").cloned().unwrap_or(Value::Null);
    let token = new_token(&mut inner, "ding", grant.user);
    Json(json!({"accessToken": token, "refreshToken": "r", "expireIn": 7200, "corpId": corp}))
        .into_response()
}

async fn ding_me(State(s): Shared, headers: HeaderMap) -> Response {
    let token = headers
        .get("x-acs-dingtalk-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match s.lock().expect("lock").tokens.get(token) {
        Some(user) => Json(user["me"].clone()).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": "InvalidAuthentication"})),
        )
            .into_response(),
    }
}

// WeCom.

async fn wecom_login(s: Shared, Query(q): Params) -> Response {
    if param(&q, "login_type") != "CorpApp"
        || param(&q, "appid") != WECOM_CORP
        || param(&q, "agentid") != WECOM_AGENT
    {
        return bad("bad login request");
    }
    approve(&s, &q, "code")
}

async fn wecom_token(State(s): Shared, Query(q): Params) -> Response {
    let mut inner = s.lock().expect("lock");
    let error = || Json(json!({"errcode": 40001, "errmsg": "invalid credential"})).into_response();
    if let Some(r) = failed(&inner, error) {
        return r;
    }
    if param(&q, "corpid") != WECOM_CORP || param(&q, "corpsecret") != SECRET {
        return error();
    }
    inner.counter += 1;
    let token = format!("wecom-app-{}", inner.counter);
    inner.app_tokens.push(token.clone());
    Json(json!({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200}))
        .into_response()
}

fn wecom_app_token_ok(inner: &Inner, q: &HashMap<String, String>) -> bool {
    inner.app_tokens.contains(&param(q, "access_token"))
}

async fn wecom_userinfo(State(s): Shared, Query(q): Params) -> Response {
    let mut inner = s.lock().expect("lock");
    if !wecom_app_token_ok(&inner, &q) {
        return Json(json!({"errcode": 40014, "errmsg": "invalid access_token"})).into_response();
    }
    let Some(grant) = inner.codes.remove(&param(&q, "code")) else {
        return Json(json!({"errcode": 40029, "errmsg": "invalid code"})).into_response();
    };
    let mut answer = grant.user["getuserinfo"].clone();
    if let Value::Object(a) = &mut answer {
        a.insert("errcode".into(), json!(0));
    }
    // Remember who, for user/get.
    let userid = answer["userid"].as_str().unwrap_or_default().to_string();
    inner.tokens.insert(format!("user:{userid}"), grant.user);
    Json(answer).into_response()
}

async fn wecom_user(State(s): Shared, Query(q): Params) -> Response {
    let inner = s.lock().expect("lock");
    if !wecom_app_token_ok(&inner, &q) {
        return Json(json!({"errcode": 40014, "errmsg": "invalid access_token"})).into_response();
    }
    match inner.tokens.get(&format!("user:{}", param(&q, "userid"))) {
        Some(user) => Json(user["user"].clone()).into_response(),
        None => Json(json!({"errcode": 60111, "errmsg": "userid not found"})).into_response(),
    }
}

// Feishu.

async fn feishu_login(s: Shared, Query(q): Params) -> Response {
    if param(&q, "client_id") != FEISHU_APP_ID
        || param(&q, "code_challenge_method") != "S256"
        || param(&q, "code_challenge").is_empty()
    {
        return bad("bad login request");
    }
    approve(&s, &q, "code")
}

async fn feishu_token(State(s): Shared, Json(b): Json<Value>) -> Response {
    let mut inner = s.lock().expect("lock");
    let error = || Json(json!({"code": 20050, "msg": "internal error"})).into_response();
    if let Some(r) = failed(&inner, error) {
        return r;
    }
    let invalid = || {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"code": 20003, "error": "invalid_grant"})),
        )
            .into_response()
    };
    let get = |k: &str| {
        b.get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let Some(grant) = inner.codes.remove(&get("code")) else {
        return invalid();
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
    if get("grant_type") != "authorization_code"
        || get("client_id") != FEISHU_APP_ID
        || get("client_secret") != SECRET
        || get("redirect_uri") != grant.redirect_uri
        || challenge != grant.challenge
    {
        return invalid();
    }
    let token = new_token(&mut inner, "u", grant.user);
    Json(json!({"code": 0, "access_token": token, "expires_in": 7200, "token_type": "Bearer"}))
        .into_response()
}

async fn feishu_user(State(s): Shared, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match s.lock().expect("lock").tokens.get(token) {
        Some(user) => {
            Json(json!({"code": 0, "msg": "success", "data": user["data"]})).into_response()
        }
        None => (
            StatusCode::UNAUTHORIZED,
            Json(json!({"code": 20005, "msg": "invalid access token"})),
        )
            .into_response(),
    }
}
