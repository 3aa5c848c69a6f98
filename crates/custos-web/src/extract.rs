//! Extractors: the acting user from a bearer token, JSON bodies whose errors name the
//! field, and the request context.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::HeaderMap;
use custos_app::ipnet::IpNet;
use serde::de::DeserializeOwned;

use custos_app::{Actor, AppError, Context, Source};
use custos_core::Violation;

use crate::error::ApiError;
use crate::observe::RequestId;
use crate::AppState;

/// The authenticated caller.
pub struct Auth(pub Actor);

/// The raw bearer token (for logout).
pub struct Bearer(pub String);

fn missing_token() -> ApiError {
    ApiError(AppError::Unauthenticated(Violation::new(
        "auth.required",
        "需要登录：请在 Authorization 头中提供 Bearer 令牌",
        "authentication required: send a Bearer token in the Authorization header",
    )))
}

pub(crate) fn context(parts: &Parts, state: &AppState) -> Context {
    let request_id = parts.extensions.get::<RequestId>().map(|r| r.0.clone());
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = peer.map(|peer| {
        client_address(peer, &parts.headers, &state.app.config.trusted_proxies).to_string()
    });
    Context {
        source: Source::Api,
        request_id,
        ip,
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy; then the
/// `X-Forwarded-For` list is read from its right end (the address the last proxy saw),
/// skipping trusted proxies, and the first address that is not one is the client. Every
/// address left of it was written by the client itself and may be forged, so it is never
/// believed. A missing or unreadable header leaves the peer.
fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(text) = value.to_str() else {
            return client;
        };
        for hop in text.rsplit(',') {
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) if is_trusted(&ip) => client = ip,
                Ok(ip) => return ip,
                Err(_) => return client,
            }
        }
    }
    client
}

impl FromRequestParts<AppState> for Bearer {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .ok_or_else(missing_token)?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(missing_token)?;
        Ok(Bearer(token.to_string()))
    }
}

/// The `X-API-Key` header, when the request has one.
fn api_key_header(parts: &Parts) -> Option<Result<String, ApiError>> {
    let value = parts.headers.get("x-api-key")?;
    Some(
        value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .ok_or_else(missing_token),
    )
}

/// A caller of the API: a login session's bearer token, or a service account's API key
/// (`X-API-Key: custos_…` or `Authorization: Bearer custos_…`). Whether the key is good
/// and whom it acts as are decided in `custos-app`. Console pages never take this
/// extractor, so keys do not work there.
impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ctx = context(parts, state);
        if let Some(key) = api_key_header(parts) {
            let actor = state
                .app
                .api_keys()
                .authenticate_api_key(&key?, ctx)
                .await?;
            return Ok(Auth(actor));
        }
        let Bearer(token) = Bearer::from_request_parts(parts, state).await?;
        let actor = if custos_app::apikeys::looks_like_api_key(&token) {
            state
                .app
                .api_keys()
                .authenticate_api_key(&token, ctx)
                .await?
        } else {
            state.app.auth().authenticate(&token, ctx).await?
        };
        Ok(Auth(actor))
    }
}

/// Request context without authentication (login).
pub struct Ctx(pub Context);

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Ctx(context(parts, state)))
    }
}

/// A JSON body. Syntax and type errors become 4xx problem+json naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let ct_ok = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.starts_with("application/json") || v.contains("+json"))
            .unwrap_or(false);
        if !ct_ok {
            return Err(ApiError(AppError::Validation(vec![Violation::new(
                "request.content_type",
                "请求体须为 JSON（Content-Type: application/json）",
                "the request body must be JSON (Content-Type: application/json)",
            )
            .on("body")])));
        }
        if crate::body_limit::declared_over(req.headers(), crate::body_limit::MAX_JSON_BODY) {
            return Err(crate::body_limit::too_large(
                crate::body_limit::MAX_JSON_BODY,
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if crate::body_limit::over_limit(e.status()) {
                    return crate::body_limit::too_large(crate::body_limit::MAX_JSON_BODY);
                }
                ApiError(AppError::Validation(vec![Violation::new(
                    "request.body",
                    format!("无法读取请求体：{e}"),
                    format!("cannot read the request body: {e}"),
                )
                .on("body")]))
            })?;
        crate::guard::check_json_body(&bytes, "")?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Deserialize, reporting the path of the offending field.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let msg = inner.to_string();
        // A missing field is reported at the parent path; name the field itself. An
        // unknown field's path already ends with its key.
        let field = quoted_name(&msg)
            .map(|name| {
                if path == "." || path.is_empty() {
                    name
                } else if msg.starts_with("unknown field") {
                    path.clone()
                } else {
                    format!("{path}.{name}")
                }
            })
            .unwrap_or_else(|| if path == "." { "body".into() } else { path });
        let (code, zh) = if inner.is_syntax() || inner.is_eof() {
            ("json.syntax", format!("JSON 格式错误：{msg}"))
        } else if msg.starts_with("missing field") {
            ("required", format!("缺少必填字段“{field}”"))
        } else if msg.starts_with("unknown field") {
            ("json.unknown_field", format!("不认识的字段“{field}”"))
        } else {
            (
                "json.type",
                format!("字段“{field}”的类型或取值不正确：{msg}"),
            )
        };
        ApiError(AppError::Validation(vec![
            Violation::new(code, zh, msg).on(field)
        ]))
    })
}

/// The name in backquotes of "missing field `x`" / "unknown field `x`, expected …".
fn quoted_name(msg: &str) -> Option<String> {
    if !(msg.starts_with("missing field") || msg.starts_with("unknown field")) {
        return None;
    }
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

/// A query string. A value of the wrong type or out of range is a 422 naming the
/// parameter, for every list alike (axum's own rejection would be a bare 400).
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e) => Err(query_rejection(&e.body_text())),
        }
    }
}

/// serde_urlencoded says `Failed to deserialize query string: limit: invalid digit …`:
/// the parameter is named before the second colon when there is one.
pub(crate) fn query_rejection(text: &str) -> ApiError {
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(text);
    let field = detail
        .split_once(": ")
        .map(|(name, _)| name)
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        })
        .unwrap_or("query");
    ApiError(AppError::Validation(vec![Violation::new(
        "query.invalid",
        format!("查询参数无效：{detail}"),
        format!("invalid query parameter: {detail}"),
    )
    .on(field)]))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let forged = headers(&["1.1.1.1, 2.2.2.2"]);
        // An untrusted peer: the header is ignored.
        assert_eq!(
            client_address(ip("8.8.8.8"), &forged, &trusted),
            ip("8.8.8.8")
        );
        // A trusted peer: the right-most address that is not a trusted proxy.
        assert_eq!(
            client_address(ip("10.0.0.5"), &forged, &trusted),
            ip("2.2.2.2")
        );
        let chain = headers(&["6.6.6.6, 3.3.3.3", "10.1.1.1"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &chain, &trusted),
            ip("3.3.3.3")
        );
        // No header or garbage: the proxy itself (or the last trusted hop).
        assert_eq!(
            client_address(ip("10.0.0.5"), &headers(&[]), &trusted),
            ip("10.0.0.5")
        );
        let bad = headers(&["nonsense, 10.2.2.2"]);
        assert_eq!(
            client_address(ip("10.0.0.5"), &bad, &trusted),
            ip("10.2.2.2")
        );
        // Nothing trusted by default.
        assert_eq!(client_address(ip("10.0.0.5"), &forged, &[]), ip("10.0.0.5"));
    }
}
