//! A fake of the sign-on servers for the tests, on one local server: an OpenID Connect
//! provider (discovery, JWKS, an authorisation endpoint, a token endpoint, userinfo; ID
//! tokens signed with a fixed test RSA key, `kid` test-a) beside DingTalk, WeCom and
//! Feishu (each platform's login page, token and user endpoints). Every login page
//! approves at once and redirects back with a code, spent by its first use; client
//! credentials and PKCE are checked. Knobs make an ID token look forged or stale, and a
//! platform's token step fail the ways a platform does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The OpenID Connect client.
pub const CLIENT_ID: &str = "custos-test";
pub const CLIENT_SECRET: &str = "client-secret-for-tests";

pub const DING_APP_KEY: &str = "dingappkey-test";
pub const DING_CORP: &str = "ding-corp-test";
pub const WECOM_CORP: &str = "ww-corp-test";
pub const WECOM_AGENT: &str = "1000002";
pub const FEISHU_APP_ID: &str = "cli_test";
pub const FEISHU_TENANT: &str = "tenant-test";
/// The platforms' application secret.
pub const SECRET: &str = "platform-secret-for-tests";

const KEY_A: &[u8] = include_bytes!("oidc-test-key-a.der");
const KEY_B: &[u8] = include_bytes!("oidc-test-key-b.der");
const JWKS: &str = include_str!("oidc-test-keys.json");

/// How the next ID token is made.
#[derive(Debug, Clone, Default)]
pub struct Tweaks {
    /// Sign with another key while claiming the published key's `kid`.
    pub foreign_key: bool,
    pub audience: Option<String>,
    /// Seconds added to `exp` (negative: already expired).
    pub exp_offset: Option<i64>,
    pub nonce: Option<String>,
}

/// How a platform's next token step fails.
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
    /// The OIDC issuer: the server's own address.
    issuer: String,
    /// What the provider says about whoever "logs in" next: the OIDC claims, or per
    /// platform the parts of its answers that describe the person.
    user: Value,
    tweaks: Tweaks,
    failure: Failure,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Value>,
    app_tokens: Vec<String>,
    counter: u64,
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    /// The OIDC request's nonce (empty for the platforms).
    nonce: String,
    user: Value,
}

#[derive(Clone)]
pub struct SsoFake {
    inner: Arc<Mutex<Inner>>,
    /// The server's address: the OIDC issuer and the platforms' login and API base.
    pub base: String,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for SsoFake {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl SsoFake {
    pub async fn start() -> SsoFake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Mutex::new(Inner {
            issuer: base.clone(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
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
        SsoFake {
            inner,
            base,
            task: Arc::new(task),
        }
    }

    /// Who logs in next: the OIDC claims; per platform, the parts of its answers that
    /// describe the person (`corpId` and `me` for DingTalk; `getuserinfo` and `user` for
    /// WeCom; `data` for Feishu).
    pub fn set_user(&self, user: Value) {
        self.inner.lock().expect("lock").user = user;
    }

    /// How the next ID tokens are made.
    pub fn set_tweaks(&self, tweaks: Tweaks) {
        self.inner.lock().expect("lock").tweaks = tweaks;
    }

    /// How the platforms' next token steps fail.
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
        nonce: param(q, "nonce"),
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

/// The grant of an OAuth code exchange (OIDC, Feishu) whose parameters `get` reads: its
/// code spent by this first use, good or bad; `None` unless the code was issued and the
/// client, its secret, the redirect and the PKCE verifier match.
fn exchange(
    inner: &mut Inner,
    get: impl Fn(&str) -> String,
    client_id: &str,
    secret: &str,
) -> Option<Grant> {
    let grant = inner.codes.remove(&get("code"))?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
    let ok = get("grant_type") == "authorization_code"
        && get("client_id") == client_id
        && get("client_secret") == secret
        && get("redirect_uri") == grant.redirect_uri
        && challenge == grant.challenge;
    ok.then_some(grant)
}

fn new_token(inner: &mut Inner, prefix: &str, user: Value) -> String {
    inner.counter += 1;
    let token = format!("{prefix}-{}", inner.counter);
    inner.tokens.insert(token.clone(), user);
    token
}

/// The user of the bearer token in `Authorization`.
fn bearer_user(s: &Shared, headers: &HeaderMap) -> Option<Value> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    s.0.lock().expect("lock").tokens.get(token).cloned()
}

// OpenID Connect.

async fn discovery(State(s): Shared) -> Json<Value> {
    let issuer = s.lock().expect("lock").issuer.clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks() -> Json<Value> {
    let keys: Value = serde_json::from_str(JWKS).expect("jwks fixture");
    Json(json!({ "keys": [keys["a"].clone()] }))
}

async fn authorize(s: Shared, Query(q): Params) -> Response {
    if param(&q, "response_type") != "code"
        || param(&q, "client_id") != CLIENT_ID
        || param(&q, "code_challenge_method") != "S256"
        || param(&q, "code_challenge").is_empty()
    {
        return bad("bad authorisation request");
    }
    approve(&s, &q, "code")
}

fn invalid_grant() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant"})),
    )
        .into_response()
}

async fn token(State(s): Shared, Form(f): Form<HashMap<String, String>>) -> Response {
    let mut inner = s.lock().expect("lock");
    let Some(grant) = exchange(&mut inner, |k| param(&f, k), CLIENT_ID, CLIENT_SECRET) else {
        return invalid_grant();
    };
    let now = chrono::Utc::now().timestamp();
    let t = inner.tweaks.clone();
    let mut claims = grant.user.clone();
    let extra = json!({
        "iss": inner.issuer,
        "aud": t.audience.clone().unwrap_or_else(|| CLIENT_ID.to_string()),
        "iat": now,
        "exp": now + t.exp_offset.unwrap_or(300),
        "nonce": t.nonce.clone().unwrap_or(grant.nonce),
    });
    if let (Value::Object(c), Value::Object(e)) = (&mut claims, extra) {
        c.extend(e);
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-a".into());
    let key = EncodingKey::from_rsa_der(if t.foreign_key { KEY_B } else { KEY_A });
    let id_token = jsonwebtoken::encode(&header, &claims, &key).expect("sign");
    let access = new_token(&mut inner, "access", grant.user);
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

async fn userinfo(s: Shared, headers: HeaderMap) -> Response {
    match bearer_user(&s, &headers) {
        Some(user) => Json(user).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

// The platforms.

/// The failure set for a platform's token step, or `None` to go on.
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

/// A text field of a JSON body (empty when absent).
fn field(b: &Value, k: &str) -> String {
    b.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
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
    let Some(grant) = inner.codes.remove(&field(&b, "code")) else {
        return error();
    };
    if field(&b, "clientId") != DING_APP_KEY
        || field(&b, "clientSecret") != SECRET
        || field(&b, "grantType") != "authorization_code"
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
    let Some(grant) = exchange(&mut inner, |k| field(&b, k), FEISHU_APP_ID, SECRET) else {
        return invalid();
    };
    let token = new_token(&mut inner, "u", grant.user);
    Json(json!({"code": 0, "access_token": token, "expires_in": 7200, "token_type": "Bearer"}))
        .into_response()
}

async fn feishu_user(s: Shared, headers: HeaderMap) -> Response {
    match bearer_user(&s, &headers) {
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
