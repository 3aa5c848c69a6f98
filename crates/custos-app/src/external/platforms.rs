//! Direct sign-on with 钉钉 (DingTalk), 企业微信 (WeCom) and 飞书 (Feishu): an `[[oidc]]`
//! entry of that `kind`. The browser part (state, its cookie, the cap of sign-ons in flight,
//! provisioning, the audit) is the OpenID Connect flow's; what differs is the URL the
//! browser is sent to and how the callback's code becomes an identity, which is here.
//!
//! * DingTalk: `POST /v1.0/oauth2/userAccessToken` (JSON) gives a user token and the
//!   organisation the user chose; `GET /v1.0/contact/users/me` with that token gives the
//!   person. Subject: `unionId`.
//! * WeCom: the application's token (`/cgi-bin/gettoken`, kept until shortly before it
//!   expires), then `/cgi-bin/auth/getuserinfo` (a member's `userid`; an `openid` is a
//!   non-member) and `/cgi-bin/user/get` (name, departments). Subject: `userid`.
//! * Feishu: `POST /open-apis/authen/v2/oauth/token` (JSON, with the PKCE verifier), then
//!   `GET /open-apis/authen/v1/user_info`. Subject: `union_id` — stable for a person across
//!   the apps of one company, where `user_id` can be edited by its administrators.
//!
//! Every member of the configured organisation holds the group [`MEMBER_GROUP`] (what
//! `default_role` maps); a WeCom member also holds its department ids.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use custos_core::Violation;

use super::provider::{code_challenge, sha256_hex, Fault, OidcProvider, Why, MAX_ANSWER};
pub use super::provider::{Platform, ProviderKind};
use super::ExternalIdentity;
use crate::error::AppError;
use crate::org::check_username;
use crate::outbound::{Outbound, OutboundError};
use crate::App;

/// The group every signed-in member of the platform's organisation holds.
pub const MEMBER_GROUP: &str = "*";
/// WeCom: the application's token is invalid or has expired (fetch a new one).
const WECOM_TOKEN_INVALID: [i64; 2] = [40014, 42001];
/// WeCom: the application may not read the member's details (contacts permission).
const WECOM_NO_PRIVILEGE: i64 = 60011;

/// The error shown when a platform answered with an error (not the person's fault, and
/// nothing to do but try again or ask the administrator, who finds why in the audit log).
pub(super) fn platform_error(label: &str) -> AppError {
    AppError::Unauthenticated(Violation::new(
        "auth.sso_platform_error",
        format!("{label} 返回了错误，登录未完成；请重试，如仍失败请联系管理员"),
        format!(
            "{label} answered with an error and the sign-on did not complete; try again, \
             and contact your administrator if it keeps failing"
        ),
    ))
}

fn url(base: &str, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url, Why> {
    let mut url = reqwest::Url::parse(&format!("{}{path}", base.trim_end_matches('/')))
        .map_err(|e| format!("{base}: {e}"))?;
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

/// The browser's way to the platform's login page for this sign-on.
pub(super) fn authorization_url(
    p: &OidcProvider,
    state: &str,
    verifier: &str,
) -> Result<String, Why> {
    let base = &p.platform.login_base;
    let redirect = p.redirect_uri.as_str();
    let url = match p.kind {
        ProviderKind::DingTalk => {
            let mut q = vec![
                ("redirect_uri", redirect),
                ("response_type", "code"),
                ("client_id", p.client_id.as_str()),
                ("scope", "openid corpid"),
                ("state", state),
                ("prompt", "consent"),
            ];
            // Preselects the organisation; whose it is is checked again on the token.
            if let Some(corp) = &p.platform.corp_id {
                q.push(("corpId", corp.as_str()));
            }
            url(base, "/oauth2/auth", &q)?
        }
        ProviderKind::WeCom => url(
            base,
            "/wwlogin/sso/login",
            &[
                ("login_type", "CorpApp"),
                ("appid", p.platform.corp_id.as_deref().unwrap_or_default()),
                (
                    "agentid",
                    p.platform.agent_id.as_deref().unwrap_or_default(),
                ),
                ("redirect_uri", redirect),
                ("state", state),
            ],
        )?,
        ProviderKind::Feishu => url(
            base,
            "/open-apis/authen/v1/authorize",
            &[
                ("client_id", p.client_id.as_str()),
                ("redirect_uri", redirect),
                ("state", state),
                ("code_challenge", &code_challenge(verifier)),
                ("code_challenge_method", "S256"),
            ],
        )?,
        ProviderKind::Oidc => return Err("not a platform provider".into()),
    };
    Ok(url.to_string())
}

/// Who the callback's `code` says signed in.
pub(super) async fn identity(
    app: &App,
    p: &OidcProvider,
    code: &str,
    verifier: &str,
) -> Result<ExternalIdentity, Fault> {
    let client = app
        .outbound_client()
        .map_err(|e| Fault::Unavailable(e.to_string()))?;
    let secret = p
        .client_secret
        .as_deref()
        .ok_or_else(|| Fault::Platform("no application secret configured".into()))?;
    let api = Api {
        client: &client,
        base: &p.platform.api_base,
    };
    match p.kind {
        ProviderKind::DingTalk => dingtalk(&api, p, secret, code).await,
        ProviderKind::WeCom => wecom(&api, p, secret, code).await,
        ProviderKind::Feishu => feishu(&api, p, secret, code, verifier).await,
        ProviderKind::Oidc => Err(Fault::Refused("not a platform provider".into())),
    }
}

async fn dingtalk(
    api: &Api<'_>,
    p: &OidcProvider,
    secret: &str,
    code: &str,
) -> Result<ExternalIdentity, Fault> {
    let body = json!({
        "clientId": p.client_id, "clientSecret": secret, "code": code,
        "grantType": "authorization_code",
    });
    let token = api
        .post("userAccessToken", "/v1.0/oauth2/userAccessToken", &body)
        .await?;
    let access = text(&token, "accessToken")
        .ok_or_else(|| Fault::Platform("userAccessToken: no accessToken".into()))?;
    if let Some(want) = &p.platform.corp_id {
        let got = text(&token, "corpId");
        if got.as_deref() != Some(want.as_str()) {
            return Err(Fault::Refused(format!(
                "signed in for organisation {}, not the configured one",
                got.as_deref().unwrap_or("(none)")
            )));
        }
    }
    let me = api
        .get(
            "users/me",
            "/v1.0/contact/users/me",
            &[],
            &[("x-acs-dingtalk-access-token", access.as_str())],
        )
        .await?;
    let subject = subject(&me, "unionId", "users/me")?;
    Ok(ExternalIdentity {
        provider: p.provider_key(),
        username: username_for(p.kind, None, &subject),
        display_name: text(&me, "nick"),
        email: text(&me, "email"),
        groups: vec![MEMBER_GROUP.into()],
        subject,
    })
}

async fn wecom(
    api: &Api<'_>,
    p: &OidcProvider,
    secret: &str,
    code: &str,
) -> Result<ExternalIdentity, Fault> {
    let mut token = wecom_token(api, p, secret, false).await?;
    let ask = |token: String| async move {
        api.get(
            "getuserinfo",
            "/cgi-bin/auth/getuserinfo",
            &[("access_token", token.as_str()), ("code", code)],
            &[],
        )
        .await
    };
    let mut info = ask(token.clone()).await?;
    if errcode(&info).is_some_and(|c| WECOM_TOKEN_INVALID.contains(&c)) {
        token = wecom_token(api, p, secret, true).await?;
        info = ask(token.clone()).await?;
    }
    wecom_ok("getuserinfo", &info)?;
    let Some(userid) = text(&info, "userid") else {
        return Err(if info.get("openid").is_some() {
            Fault::Refused("not a member of the WeCom corp (openid)".into())
        } else {
            Fault::Platform("getuserinfo: no userid".into())
        });
    };
    // `CorpId/userid` is a member of a linked corp, not of this one.
    if userid.contains('/') {
        return Err(Fault::Refused("a member of a linked corp".into()));
    }
    let userid = subject(&json!({ "userid": userid }), "userid", "getuserinfo")?;
    let user = api
        .get(
            "user/get",
            "/cgi-bin/user/get",
            &[
                ("access_token", token.as_str()),
                ("userid", userid.as_str()),
            ],
            &[],
        )
        .await?;
    let mut groups = vec![MEMBER_GROUP.to_string()];
    let (mut display_name, mut email) = (None, None);
    match errcode(&user) {
        // Without the contacts permission: the userid is all there is.
        Some(WECOM_NO_PRIVILEGE) => {}
        _ => {
            wecom_ok("user/get", &user)?;
            display_name = text(&user, "name");
            email = text(&user, "email").or_else(|| text(&user, "biz_mail"));
            if let Some(Value::Array(ids)) = user.get("department") {
                groups.extend(ids.iter().take(1000).filter_map(|d| match d {
                    Value::Number(n) => Some(n.to_string()),
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                }));
            }
        }
    }
    Ok(ExternalIdentity {
        provider: p.provider_key(),
        username: username_for(p.kind, Some(&userid), &userid),
        display_name: display_name.or_else(|| Some(userid.clone())),
        email,
        groups,
        subject: userid,
    })
}

/// WeCom's application token: the kept one while it is good, else a fresh one.
async fn wecom_token(
    api: &Api<'_>,
    p: &OidcProvider,
    secret: &str,
    fresh: bool,
) -> Result<String, Fault> {
    if !fresh {
        if let Ok(cache) = p.cache.lock() {
            if let Some((until, token)) = &cache.app_token {
                if Instant::now() < *until {
                    return Ok(token.clone());
                }
            }
        }
    }
    let corp = p.platform.corp_id.as_deref().unwrap_or_default();
    let answer = api
        .get(
            "gettoken",
            "/cgi-bin/gettoken",
            &[("corpid", corp), ("corpsecret", secret)],
            &[],
        )
        .await?;
    wecom_ok("gettoken", &answer)?;
    let token = text(&answer, "access_token")
        .ok_or_else(|| Fault::Platform("gettoken: no access_token".into()))?;
    // Kept until five minutes before it expires (WeCom's tokens live two hours).
    let lives = answer
        .get("expires_in")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let keep = lives.saturating_sub(300).max(lives / 2);
    if let Ok(mut cache) = p.cache.lock() {
        cache.app_token = Some((Instant::now() + Duration::from_secs(keep), token.clone()));
    }
    Ok(token)
}

fn errcode(v: &Value) -> Option<i64> {
    v.get("errcode").and_then(Value::as_i64)
}

fn wecom_ok(step: &str, v: &Value) -> Result<(), Fault> {
    match errcode(v) {
        Some(0) => Ok(()),
        Some(c) => Err(Fault::Platform(format!("{step}: errcode {c}"))),
        None => Err(Fault::Platform(format!("{step}: no errcode"))),
    }
}

async fn feishu(
    api: &Api<'_>,
    p: &OidcProvider,
    secret: &str,
    code: &str,
    verifier: &str,
) -> Result<ExternalIdentity, Fault> {
    let body = json!({
        "grant_type": "authorization_code", "client_id": p.client_id,
        "client_secret": secret, "code": code, "redirect_uri": p.redirect_uri,
        "code_verifier": verifier,
    });
    let token = api
        .post("oauth/token", "/open-apis/authen/v2/oauth/token", &body)
        .await?;
    feishu_ok("oauth/token", &token)?;
    let access = text(&token, "access_token")
        .ok_or_else(|| Fault::Platform("oauth/token: no access_token".into()))?;
    let bearer = format!("Bearer {access}");
    let info = api
        .get(
            "user_info",
            "/open-apis/authen/v1/user_info",
            &[],
            &[("authorization", bearer.as_str())],
        )
        .await?;
    feishu_ok("user_info", &info)?;
    let data = info.get("data").cloned().unwrap_or(Value::Null);
    if let Some(want) = &p.platform.tenant_key {
        let got = text(&data, "tenant_key");
        if got.as_deref() != Some(want.as_str()) {
            return Err(Fault::Refused(format!(
                "a user of tenant {}, not the configured one",
                got.as_deref().unwrap_or("(none)")
            )));
        }
    }
    let subject = subject(&data, "union_id", "user_info")?;
    let user_id = text(&data, "user_id");
    Ok(ExternalIdentity {
        provider: p.provider_key(),
        username: username_for(p.kind, user_id.as_deref(), &subject),
        display_name: text(&data, "name"),
        email: text(&data, "email").or_else(|| text(&data, "enterprise_email")),
        groups: vec![MEMBER_GROUP.into()],
        subject,
    })
}

fn feishu_ok(step: &str, v: &Value) -> Result<(), Fault> {
    match v.get("code").and_then(Value::as_i64) {
        Some(0) => Ok(()),
        Some(c) => Err(Fault::Platform(format!("{step}: code {c}"))),
        None => Err(Fault::Platform(format!("{step}: no code"))),
    }
}

/// A string field (a number is taken as its text).
fn text(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn subject(v: &Value, key: &str, step: &str) -> Result<String, Fault> {
    text(v, key)
        .filter(|s| s.len() <= 255 && !s.chars().any(char::is_control))
        .ok_or_else(|| Fault::Platform(format!("{step}: no usable {key}")))
}

/// The custos username: the platform's id of the person within the company when it is a
/// valid username (WeCom `userid`, Feishu `user_id`), else one made from the subject,
/// which is stable and cannot be another person's.
fn username_for(kind: ProviderKind, preferred: Option<&str>, subject: &str) -> String {
    match preferred.filter(|u| check_username(u).is_ok()) {
        Some(u) => u.to_string(),
        None => format!("{}-{}", kind.as_str(), &sha256_hex(subject)[..12]),
    }
}

/// One platform's API, through the outbound client (its timeouts, its CA, no redirects,
/// answers bounded to [`MAX_ANSWER`]).
struct Api<'a> {
    client: &'a Outbound,
    base: &'a str,
}

impl Api<'_> {
    async fn get(
        &self,
        step: &str,
        path: &str,
        query: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<Value, Fault> {
        let url = url(self.base, path, query).map_err(Fault::Unavailable)?;
        let answer = self
            .client
            .get_limited_with(&url, headers, MAX_ANSWER)
            .await;
        read(step, &url, answer)
    }

    async fn post(&self, step: &str, path: &str, body: &Value) -> Result<Value, Fault> {
        let url = url(self.base, path, &[]).map_err(Fault::Unavailable)?;
        let answer = self.client.post_json_limited(&url, body, MAX_ANSWER).await;
        read(step, &url, answer)
    }
}

/// The answer as JSON; why not, without the URL's query (which may carry a token or the
/// application's secret).
fn read(
    step: &str,
    url: &reqwest::Url,
    answer: Result<(u16, Vec<u8>), OutboundError>,
) -> Result<Value, Fault> {
    let redact = |message: String| {
        let mut bare = url.clone();
        bare.set_query(None);
        message.replace(url.as_str(), bare.as_str())
    };
    let (status, body) = match answer {
        Ok(a) => a,
        Err(OutboundError::Timeout) => return Err(Fault::Unavailable(format!("{step}: timeout"))),
        Err(OutboundError::Connect(m)) => {
            return Err(Fault::Unavailable(format!("{step}: {}", redact(m))))
        }
        Err(OutboundError::Failed(m)) => {
            return Err(Fault::Platform(format!("{step}: {}", redact(m))))
        }
    };
    let value: Value = serde_json::from_slice(&body)
        .map_err(|_| Fault::Platform(format!("{step}: HTTP {status}, not JSON")))?;
    if !(200..300).contains(&status) {
        // The platform's own code says what went wrong (never its message, which may
        // echo what was sent).
        let code = ["code", "errcode", "error"]
            .iter()
            .find_map(|k| text(&value, k))
            .map(|c| format!(" ({})", c.chars().take(64).collect::<String>()))
            .unwrap_or_default();
        return Err(Fault::Platform(format!("{step}: HTTP {status}{code}")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn usernames_are_the_platforms_id_or_made_from_the_subject() {
        assert_eq!(
            username_for(ProviderKind::WeCom, Some("ZhangSan"), "ZhangSan"),
            "ZhangSan"
        );
        let made = username_for(ProviderKind::Feishu, Some("张三"), "on_abc");
        assert!(made.starts_with("feishu-") && made.len() == 19, "{made}");
        assert!(check_username(&made).is_ok());
        assert_eq!(made, username_for(ProviderKind::Feishu, None, "on_abc"));
    }

    #[test]
    fn kinds_read_back() {
        for k in ["oidc", "dingtalk", "wecom", "feishu"] {
            assert_eq!(ProviderKind::parse(k).map(ProviderKind::as_str), Some(k));
        }
        assert_eq!(ProviderKind::parse("lark"), None);
    }

    #[test]
    fn a_secret_in_the_query_never_reaches_the_message() {
        let url =
            reqwest::Url::parse("http://127.0.0.1:1/cgi-bin/gettoken?corpsecret=s3cr3t").unwrap();
        let err = OutboundError::Failed(format!("error sending request for url ({url})"));
        let why = match read("gettoken", &url, Err(err)) {
            Err(f) => match f {
                Fault::Platform(w) | Fault::Refused(w) | Fault::Unavailable(w) => w,
            },
            Ok(_) => String::new(),
        };
        assert!(
            why.contains("/cgi-bin/gettoken") && !why.contains("s3cr3t"),
            "{why}"
        );
    }
}
