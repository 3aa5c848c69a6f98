//! A small OpenID Connect provider for the tests: discovery, JWKS, an authorisation
//! endpoint that approves at once, a token endpoint that checks PKCE and spends each code
//! once, and userinfo. ID tokens are signed with a fixed test RSA key (`kid` test-a);
//! knobs make it misbehave the ways a forged or stale token would.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "custos-test";
pub const CLIENT_SECRET: &str = "client-secret-for-tests";

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

#[derive(Default)]
struct Inner {
    issuer: String,
    /// The claims of whoever "logs in" next.
    user: Value,
    tweaks: Tweaks,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Value>,
    counter: u64,
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    nonce: String,
    user: Value,
}

#[derive(Clone)]
pub struct Provider {
    inner: Arc<Mutex<Inner>>,
    pub issuer: String,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl Provider {
    pub async fn start() -> Provider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Mutex::new(Inner {
            issuer: issuer.clone(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(inner.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Provider {
            inner,
            issuer,
            task: Arc::new(task),
        }
    }

    /// Who logs in next.
    pub fn set_user(&self, claims: Value) {
        self.inner.lock().expect("lock").user = claims;
    }

    pub fn set_tweaks(&self, tweaks: Tweaks) {
        self.inner.lock().expect("lock").tweaks = tweaks;
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

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

async fn authorize(State(s): Shared, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code"
        || get("client_id") != CLIENT_ID
        || get("code_challenge_method") != "S256"
        || get("code_challenge").is_empty()
    {
        return (StatusCode::BAD_REQUEST, "bad authorisation request").into_response();
    }
    let mut inner = s.lock().expect("lock");
    inner.counter += 1;
    let code = format!("code-{}", inner.counter);
    let grant = Grant {
        redirect_uri: get("redirect_uri"),
        challenge: get("code_challenge"),
        nonce: get("nonce"),
        user: inner.user.clone(),
    };
    inner.codes.insert(code.clone(), grant);
    let mut to = reqwest::Url::parse(&get("redirect_uri")).expect("redirect uri");
    to.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

fn invalid_grant() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": "invalid_grant"})),
    )
        .into_response()
}

async fn token(State(s): Shared, Form(f): Form<HashMap<String, String>>) -> Response {
    let get = |k: &str| f.get(k).cloned().unwrap_or_default();
    let mut inner = s.lock().expect("lock");
    // A code is spent by its first use, good or bad.
    let Some(grant) = inner.codes.remove(&get("code")) else {
        return invalid_grant();
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(get("code_verifier").as_bytes()));
    if get("grant_type") != "authorization_code"
        || get("client_id") != CLIENT_ID
        || get("client_secret") != CLIENT_SECRET
        || get("redirect_uri") != grant.redirect_uri
        || challenge != grant.challenge
    {
        return invalid_grant();
    }
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
    inner.counter += 1;
    let access = format!("access-{}", inner.counter);
    inner.tokens.insert(access.clone(), grant.user);
    Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

async fn userinfo(State(s): Shared, headers: axum::http::HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    match s.lock().expect("lock").tokens.get(token) {
        Some(user) => Json(user.clone()).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}
