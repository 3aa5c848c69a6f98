//! OpenID Connect single sign-on: the Authorization Code flow with PKCE (S256).
//!
//! [`Auth::oidc_begin`] keeps a fresh state, nonce and PKCE verifier server-side (the state
//! by its hash, for ten minutes, usable once) and returns the provider's authorisation
//! URL. [`Auth::oidc_finish`] takes the state back (a second use finds nothing), exchanges
//! the code with the verifier, verifies the ID token — signature by the provider's JWKS
//! (RSA, RSA-PSS or ECDSA; never HMAC or `none`), issuer, audience, expiry, nonce — and
//! logs the identity in like any external login (see the parent module).
//!
//! Providers that are OAuth 2.0 but not OpenID Connect (no ID token) may be configured
//! with `id_token = false`: the identity then comes from the userinfo endpoint, read with
//! the access token over TLS. Claims may be named by a dotted path (`data.user.id`).

use crate::auth::Auth;

use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngCore;
use serde_json::Value;

use custos_core::Violation;
use custos_store::{now_us, OidcRequestRow};

use super::platforms;
pub use super::provider::{code_challenge, OidcProvider};
use super::provider::{sha256_hex, Endpoints, Fault, ProviderKind, Why, MAX_ANSWER};
use super::{provision, ExternalIdentity};
use crate::actor::Context;
use crate::audit::{append, record_ctx};
use crate::auth::{LoginResult, SessionKind};
use crate::error::{AppError, AppResult};

/// How long an authorisation request may wait for its callback.
const REQUEST_TTL: Duration = Duration::from_secs(600);
/// Sign-on requests kept at once (started, not finished, not expired), across providers.
pub const MAX_REQUESTS_IN_FLIGHT: i64 = 10_000;
/// How long discovery documents and key sets are reused.
const METADATA_TTL: Duration = Duration::from_secs(600);
/// Clock difference tolerated on `exp`, `nbf`, `iat`.
const LEEWAY_SECONDS: u64 = 60;

/// A started sign-on.
#[derive(Debug, Clone)]
pub struct OidcStart {
    /// The provider's authorisation URL with this sign-on's parameters.
    pub url: String,
    /// The state: the caller keeps it with the browser and checks it on the callback.
    pub state: String,
}

/// A provider's name as a path segment: 1–32 of `a-z 0-9 _ -`.
pub fn valid_provider_name(name: &str) -> bool {
    (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn refused(code: &str, zh: &str, en: &str) -> AppError {
    AppError::Unauthenticated(Violation::new(code, zh, en))
}

fn state_invalid() -> AppError {
    refused(
        "auth.oidc_state_invalid",
        "单点登录请求无效、已使用或已过期，请重新登录",
        "the sign-on request is unknown, used or expired; sign in again",
    )
}

fn login_refused() -> AppError {
    refused(
        "auth.oidc_refused",
        "单点登录未通过，请联系管理员",
        "single sign-on was refused; contact your administrator",
    )
}

/// A claim by dotted path (`data.user.id`); a number is taken as its text.
fn claim(claims: &Value, path: &str) -> Option<String> {
    let mut v = claims;
    for part in path.split('.') {
        v = v.get(part)?;
    }
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The groups claim: an array of strings, or one string.
fn claim_list(claims: &Value, path: &str) -> Vec<String> {
    let mut v = claims;
    for part in path.split('.') {
        match v.get(part) {
            Some(next) => v = next,
            None => return Vec::new(),
        }
    }
    match v {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_str().map(str::to_string))
            .take(1000)
            .collect(),
        Value::String(s) => vec![s.clone()],
        _ => Vec::new(),
    }
}

impl Auth<'_> {
    fn oidc_provider(&self, name: &str) -> AppResult<&OidcProvider> {
        self.app
            .config
            .oidc
            .iter()
            .find(|p| p.name == name)
            .ok_or_else(|| AppError::not_found("oidc_provider", name))
    }

    /// Start a sign-on with provider `name`: the URL to send the browser to, and the
    /// state, which the caller also binds to the browser (a cookie) so that a callback
    /// started in another browser cannot sign this one in (login CSRF).
    pub async fn oidc_begin(&self, name: &str) -> AppResult<OidcStart> {
        let provider = self.oidc_provider(name)?;
        let endpoints = if provider.kind == ProviderKind::Oidc {
            Some(self.oidc_endpoints(provider).await.map_err(|why| {
                tracing::warn!(provider = %provider.name, error = %why, "OIDC discovery failed");
                super::provider_unavailable(&provider.label)
            })?)
        } else {
            None
        };
        let (state, nonce, verifier) = (random_token(), random_token(), random_token());
        let now = now_us();
        let mut tx = self.app.db.begin().await?;
        tx.prune_oidc_requests(now, 100).await?;
        // Starting a sign-on needs no account, so what it stores is bounded: past this many
        // requests in flight (each lives 10 minutes) new ones wait.
        if tx.count_oidc_requests(MAX_REQUESTS_IN_FLIGHT).await? >= MAX_REQUESTS_IN_FLIGHT {
            tx.rollback().await?;
            return Err(AppError::too_many_requests(
                custos_core::Violation::new(
                    "auth.sso_busy",
                    "进行中的单点登录过多，请稍后再试",
                    "too many sign-ons are in flight; try again shortly",
                ),
                60_000_000,
            ));
        }
        tx.insert_oidc_request(&OidcRequestRow {
            state_hash: sha256_hex(&state),
            provider: provider.name.clone(),
            nonce: nonce.clone(),
            code_verifier: verifier.clone(),
            created_at: now,
            expires_at: now + REQUEST_TTL.as_micros() as i64,
        })
        .await?;
        tx.commit().await?;
        let Some(endpoints) = endpoints else {
            let url = platforms::authorization_url(provider, &state, &verifier)
                .map_err(|e| AppError::Internal(format!("authorization URL: {e}")))?;
            return Ok(OidcStart { url, state });
        };
        let mut url = reqwest::Url::parse(&endpoints.authorization)
            .map_err(|e| AppError::Internal(format!("authorization endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &provider.client_id)
            .append_pair("redirect_uri", &provider.redirect_uri)
            .append_pair("scope", &provider.scopes.join(" "))
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &code_challenge(&verifier))
            .append_pair("code_challenge_method", "S256");
        Ok(OidcStart {
            url: url.to_string(),
            state,
        })
    }

    /// Finish a sign-on: the callback's `code` and `state`. Opens a session of `kind`.
    pub async fn oidc_finish(
        &self,
        name: &str,
        code: &str,
        state: &str,
        ctx: &Context,
        kind: SessionKind,
    ) -> AppResult<LoginResult> {
        let provider = self.oidc_provider(name)?;
        crate::text_input::refuse_single_line([("code", Some(code)), ("state", Some(state))])?;
        if code.is_empty() || code.len() > 4096 || state.is_empty() || state.len() > 256 {
            return Err(state_invalid());
        }
        // Taken in its own transaction: whatever happens next, the state is spent.
        let mut tx = self.app.db.begin().await?;
        let request = tx.take_oidc_request(&sha256_hex(state)).await?;
        tx.commit().await?;
        let request = match request {
            Some(r) if r.provider == provider.name && r.expires_at > now_us() => r,
            _ => {
                self.audit_sso_failure(provider, "unknown, used or expired state", ctx)
                    .await?;
                return Err(state_invalid());
            }
        };
        let identity = match provider.kind {
            ProviderKind::Oidc => self.oidc_identity(provider, code, &request).await,
            _ => platforms::identity(self.app, provider, code, &request.code_verifier).await,
        };
        let identity = match identity {
            Ok(identity) => identity,
            Err(Fault::Unavailable(why)) => {
                tracing::warn!(provider = %provider.name, error = %why, "OIDC provider unreachable");
                if provider.kind != ProviderKind::Oidc {
                    self.audit_sso_failure(provider, &format!("unreachable: {why}"), ctx)
                        .await?;
                }
                return Err(super::provider_unavailable(&provider.label));
            }
            Err(Fault::Platform(why)) => {
                tracing::warn!(provider = %provider.name, error = %why, "sign-on platform error");
                self.audit_sso_failure(provider, &why, ctx).await?;
                return Err(platforms::platform_error(&provider.label));
            }
            Err(Fault::Refused(why)) => {
                tracing::info!(provider = %provider.name, error = %why, "OIDC login refused");
                self.audit_sso_failure(provider, &why, ctx).await?;
                return Err(login_refused());
            }
        };
        let mut tx = self.app.db.begin().await?;
        match provision(&mut tx, &identity, &provider.mappings, ctx).await? {
            Ok(user) => {
                self.start_session(tx, user, kind, ctx, &provider.provider_key())
                    .await
            }
            Err(why) => {
                let mut r = record_ctx(
                    None,
                    &identity.username,
                    ctx,
                    "auth.login_failed",
                    "user",
                    &identity.username,
                );
                r.reason = Some(format!("{why} ({})", provider.provider_key()));
                append(&mut tx, r).await?;
                tx.commit().await?;
                Err(login_refused())
            }
        }
    }

    async fn audit_sso_failure(
        &self,
        provider: &OidcProvider,
        why: &str,
        ctx: &Context,
    ) -> AppResult<()> {
        let mut tx = self.app.db.begin().await?;
        let mut r = record_ctx(
            None,
            "-",
            ctx,
            "auth.login_failed",
            "oidc_provider",
            &provider.name,
        );
        let why: String = why.chars().take(300).collect();
        r.reason = Some(format!("{why} ({})", provider.provider_key()));
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Exchange the code and verify what comes back.
    async fn oidc_identity(
        &self,
        provider: &OidcProvider,
        code: &str,
        request: &OidcRequestRow,
    ) -> Result<ExternalIdentity, Fault> {
        let endpoints = self
            .oidc_endpoints(provider)
            .await
            .map_err(Fault::Unavailable)?;
        let client = self
            .app
            .outbound_client()
            .map_err(|e| Fault::Unavailable(e.to_string()))?;
        let token_url = parse_url(&endpoints.token).map_err(Fault::Unavailable)?;
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", provider.redirect_uri.as_str()),
            ("client_id", provider.client_id.as_str()),
            ("code_verifier", request.code_verifier.as_str()),
        ];
        if let Some(secret) = &provider.client_secret {
            form.push(("client_secret", secret.as_str()));
        }
        let (status, body) = client
            .post_form_limited(&token_url, &form, MAX_ANSWER)
            .await
            .map_err(|e| Fault::Unavailable(format!("token endpoint: {e}")))?;
        let answer: Value = serde_json::from_slice(&body)
            .map_err(|_| Fault::Refused(format!("token endpoint answered {status}, not JSON")))?;
        if !(200..300).contains(&status) {
            let error = answer.get("error").and_then(Value::as_str).unwrap_or("?");
            return Err(Fault::Refused(format!(
                "token endpoint answered {status} ({error})"
            )));
        }
        let mut claims = if provider.id_token {
            let id_token = answer
                .get("id_token")
                .and_then(Value::as_str)
                .ok_or_else(|| Fault::Refused("no id_token in the token answer".into()))?;
            let claims = self.verify_id_token(provider, &endpoints, id_token).await?;
            if claims.get("nonce").and_then(Value::as_str) != Some(request.nonce.as_str()) {
                return Err(Fault::Refused("the ID token's nonce does not match".into()));
            }
            claims
        } else {
            Value::Object(Default::default())
        };
        let missing = |path: &str| claim(&claims, path).is_none();
        let wants_userinfo = !provider.id_token
            || missing(&provider.username_claim)
            || claim_list(&claims, &provider.groups_claim).is_empty();
        if let (true, Some(userinfo)) = (wants_userinfo, &endpoints.userinfo) {
            let access = answer
                .get("access_token")
                .and_then(Value::as_str)
                .ok_or_else(|| Fault::Refused("no access_token in the token answer".into()))?;
            let info = self.userinfo(userinfo, access).await?;
            // The ID token's subject is the identity: a userinfo of another is refused
            // (OpenID Connect Core §5.3.2).
            if provider.id_token && claim(&info, "sub") != claim(&claims, "sub") {
                return Err(Fault::Refused("userinfo is about another subject".into()));
            }
            merge_missing(&mut claims, info);
        }
        let subject = claim(&claims, &provider.subject_claim)
            .filter(|s| !s.is_empty() && s.len() <= 255)
            .ok_or_else(|| Fault::Refused("no subject claim".into()))?;
        let username = claim(&claims, &provider.username_claim)
            .ok_or_else(|| Fault::Refused("no username claim".into()))?;
        Ok(ExternalIdentity {
            provider: provider.provider_key(),
            subject,
            username,
            display_name: claim(&claims, &provider.display_name_claim),
            email: claim(&claims, &provider.email_claim),
            groups: claim_list(&claims, &provider.groups_claim),
        })
    }

    async fn userinfo(&self, url: &str, access_token: &str) -> Result<Value, Fault> {
        let client = self
            .app
            .outbound_client()
            .map_err(|e| Fault::Unavailable(e.to_string()))?;
        let url = parse_url(url).map_err(Fault::Unavailable)?;
        let (status, body) = client
            .get_limited(&url, Some(access_token), MAX_ANSWER)
            .await
            .map_err(|e| Fault::Unavailable(format!("userinfo: {e}")))?;
        if !(200..300).contains(&status) {
            return Err(Fault::Refused(format!("userinfo answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|_| Fault::Refused("userinfo is not JSON".into()))
    }

    /// Check an ID token's signature (by the provider's keys), issuer, audience, expiry;
    /// its claims.
    async fn verify_id_token(
        &self,
        provider: &OidcProvider,
        endpoints: &Endpoints,
        token: &str,
    ) -> Result<Value, Fault> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|e| Fault::Refused(format!("ID token header: {e}")))?;
        // Asymmetric algorithms only: an HMAC "signature" keyed by a public key, or none,
        // proves nothing.
        if !matches!(
            header.alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
                | Algorithm::ES256
                | Algorithm::ES384
        ) {
            return Err(Fault::Refused(format!(
                "ID token algorithm {:?} not accepted",
                header.alg
            )));
        }
        let issuer = endpoints
            .issuer
            .clone()
            .ok_or_else(|| Fault::Unavailable("no issuer configured or discovered".into()))?;
        let jwks_uri = endpoints
            .jwks
            .clone()
            .ok_or_else(|| Fault::Unavailable("no jwks_uri configured or discovered".into()))?;
        let mut keys = self.oidc_keys(provider, &jwks_uri, false).await?;
        let pick = |keys: &JwkSet| match &header.kid {
            Some(kid) => keys.find(kid).cloned(),
            None if keys.keys.len() == 1 => keys.keys.first().cloned(),
            None => None,
        };
        let jwk = match pick(&keys) {
            Some(k) => k,
            None => {
                // Keys rotate: look once more before refusing.
                keys = self.oidc_keys(provider, &jwks_uri, true).await?;
                pick(&keys).ok_or_else(|| Fault::Refused("no key for the ID token".into()))?
            }
        };
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|e| Fault::Refused(format!("unusable key: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[provider.client_id.as_str()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map(|d| d.claims)
            .map_err(|e| Fault::Refused(format!("ID token: {e}")))
    }

    async fn oidc_keys(
        &self,
        provider: &OidcProvider,
        uri: &str,
        refresh: bool,
    ) -> Result<JwkSet, Fault> {
        if !refresh {
            if let Ok(cache) = provider.cache.lock() {
                if let Some((at, keys)) = &cache.keys {
                    if at.elapsed() < METADATA_TTL {
                        return Ok(keys.clone());
                    }
                }
            }
        }
        let keys: JwkSet = serde_json::from_slice(&self.fetch_json(uri).await?)
            .map_err(|e| Fault::Unavailable(format!("JWKS: {e}")))?;
        if let Ok(mut cache) = provider.cache.lock() {
            cache.keys = Some((Instant::now(), keys.clone()));
        }
        Ok(keys)
    }

    async fn fetch_json(&self, uri: &str) -> Result<Vec<u8>, Fault> {
        let client = self
            .app
            .outbound_client()
            .map_err(|e| Fault::Unavailable(e.to_string()))?;
        let url = parse_url(uri).map_err(Fault::Unavailable)?;
        let (status, body) = client
            .get_limited(&url, None, MAX_ANSWER)
            .await
            .map_err(|e| Fault::Unavailable(format!("{uri}: {e}")))?;
        if !(200..300).contains(&status) {
            return Err(Fault::Unavailable(format!("{uri} answered {status}")));
        }
        Ok(body)
    }

    /// The provider's endpoints: as configured, the rest from its discovery document.
    async fn oidc_endpoints(&self, provider: &OidcProvider) -> Result<Endpoints, Why> {
        let configured = |discovered: Option<&Value>| -> Result<Endpoints, Why> {
            let pick = |given: &Option<String>, key: &str| {
                given.clone().or_else(|| {
                    discovered
                        .and_then(|d| d.get(key))
                        .and_then(Value::as_str)
                        .map(str::to_string)
                })
            };
            Ok(Endpoints {
                issuer: provider.issuer.clone(),
                authorization: pick(&provider.authorization_endpoint, "authorization_endpoint")
                    .ok_or("no authorization endpoint")?,
                token: pick(&provider.token_endpoint, "token_endpoint")
                    .ok_or("no token endpoint")?,
                userinfo: pick(&provider.userinfo_endpoint, "userinfo_endpoint"),
                jwks: pick(&provider.jwks_uri, "jwks_uri"),
            })
        };
        let needs_discovery = provider.authorization_endpoint.is_none()
            || provider.token_endpoint.is_none()
            || (provider.id_token && provider.jwks_uri.is_none());
        let Some(issuer) = provider.issuer.as_ref().filter(|_| needs_discovery) else {
            return configured(None);
        };
        if let Ok(cache) = provider.cache.lock() {
            if let Some((at, e)) = &cache.endpoints {
                if at.elapsed() < METADATA_TTL {
                    return Ok(e.clone());
                }
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let body = self.fetch_json(&url).await.map_err(|f| f.why())?;
        let doc: Value =
            serde_json::from_slice(&body).map_err(|e| format!("discovery document: {e}"))?;
        // The document must be the issuer's own (OpenID Connect Discovery §4.3).
        if doc.get("issuer").and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err("the discovery document names another issuer".into());
        }
        let endpoints = configured(Some(&doc))?;
        if let Ok(mut cache) = provider.cache.lock() {
            cache.endpoints = Some((Instant::now(), endpoints.clone()));
        }
        Ok(endpoints)
    }
}

/// Add the claims of `extra` that `claims` lacks.
fn merge_missing(claims: &mut Value, extra: Value) {
    if let (Value::Object(into), Value::Object(from)) = (claims, extra) {
        for (k, v) in from {
            into.entry(k).or_insert(v);
        }
    }
}

fn parse_url(url: &str) -> Result<reqwest::Url, Why> {
    reqwest::Url::parse(url).map_err(|e| format!("{url}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_rfc_7636s_example() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn claims_are_found_by_dotted_path() {
        let v: Value = serde_json::json!({"data": {"user": {"id": 42, "name": "张三"}},
            "groups": ["a", "b"], "role": "x"});
        assert_eq!(claim(&v, "data.user.id").as_deref(), Some("42"));
        assert_eq!(claim(&v, "data.user.name").as_deref(), Some("张三"));
        assert_eq!(claim(&v, "data.nope"), None);
        assert_eq!(claim_list(&v, "groups"), ["a", "b"]);
        assert_eq!(claim_list(&v, "role"), ["x"]);
    }

    #[test]
    fn provider_names_are_path_safe() {
        assert!(valid_provider_name("keycloak"));
        assert!(valid_provider_name("dingtalk-2"));
        assert!(!valid_provider_name("Key Cloak"));
        assert!(!valid_provider_name(""));
        assert!(!valid_provider_name("../x"));
    }
}
