//! The web layer's guard against control and invisible characters: every string of every
//! request — JSON strings and object keys, query parameters, path parameters, form text
//! fields — is checked before any handler runs, so nothing with a NUL reaches the database
//! (PostgreSQL refuses it with an error) whichever use case it is for, login included.
//! The answer is 422 naming the field. The rules are `custos_core::text_guard`'s; the use
//! cases apply the per-field ones (tab and line breaks only in multi-line fields).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use custos_app::AppError;
use custos_core::text_guard::{self, display_safe, find_refused, refused_violation, Lines};
use custos_core::FieldError;

use crate::error::ApiError;

fn refused(errors: Vec<FieldError>) -> Result<(), ApiError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError(AppError::Validation(errors)))
    }
}

/// Check a JSON body's strings and keys, each named by its path (`name`,
/// `contacts[0].mobile`). A body that is not JSON is left to the parser to report.
pub(crate) fn check_json_body(bytes: &[u8], root: &str) -> Result<(), ApiError> {
    // Most bodies hold no escape and no refused character in their raw text: then no
    // string in them can hold one, and the body is not parsed twice.
    let has_escape = bytes.windows(2).any(|w| w == b"\\u");
    if !has_escape {
        let clean = match std::str::from_utf8(bytes) {
            Ok(text) => find_refused(text, Lines::Multi).is_none(),
            Err(_) => true, // not UTF-8: the parser refuses it
        };
        if clean {
            return Ok(());
        }
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return Ok(());
    };
    let mut errors = Vec::new();
    text_guard::check_json(root, &value, &mut errors);
    refused(errors)
}

/// Check a text form field (multipart), named by its form name.
pub(crate) fn check_form_text(name: &str, text: &str) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Some(r) = find_refused(text, Lines::Multi) {
        errors.push(refused_violation(&r).on(display_safe(name)));
    }
    refused(errors)
}

/// The names of a route template's segments: `{code}` → `code`, fixed ones → `None`.
fn param_names(template: &str) -> Vec<Option<&str>> {
    template
        .split('/')
        .map(|seg| {
            seg.strip_prefix('{')
                .and_then(|s| s.strip_suffix('}'))
                .map(|s| s.trim_start_matches('*'))
        })
        .collect()
}

/// Errors for the request's path segments and query parameters (single-line values).
fn uri_errors(req: &Request) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let uri = req.uri();
    let path = uri.path();
    // Percent-encoded bytes only decode to something refused when the path has a `%`,
    // or a raw one only when it is not plain ASCII.
    if path.contains('%') || !path.is_ascii() {
        let names = req
            .extensions()
            .get::<MatchedPath>()
            .map(|m| param_names(m.as_str()))
            .unwrap_or_default();
        for (i, seg) in path.split('/').enumerate() {
            let decoded = percent_encoding::percent_decode_str(seg).decode_utf8_lossy();
            if let Some(r) = find_refused(&decoded, Lines::Single) {
                let field = names.get(i).copied().flatten().unwrap_or("path");
                errors.push(refused_violation(&r).on(field));
            }
        }
    }
    if let Some(query) = uri.query() {
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            if let Some(r) = find_refused(&k, Lines::Single) {
                errors.push(refused_violation(&r).on(display_safe(&k)));
            } else if let Some(r) = find_refused(&v, Lines::Single) {
                errors.push(refused_violation(&r).on(k.into_owned()));
            }
            if errors.len() >= text_guard::MAX_JSON_REFUSALS {
                break;
            }
        }
    }
    errors
}

/// Middleware: refuse a request whose path or query holds a refused character, before
/// its handler (and its extractors) run.
pub(crate) async fn refuse_hostile_uri(req: Request, next: Next) -> Response {
    let errors = uri_errors(&req);
    if errors.is_empty() {
        next.run(req).await
    } else {
        ApiError(AppError::Validation(errors)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_parameters_are_named() {
        assert_eq!(
            param_names("/api/v1/customers/{code}/contacts/{id}"),
            [None, None, None, None, Some("code"), None, Some("id")]
        );
    }

    #[test]
    fn bodies_without_escapes_are_checked_raw() {
        assert!(check_json_body("{\"name\":\"华为\"}".as_bytes(), "").is_ok());
        assert!(check_json_body(b"{\"name\":\"a\\u0000\"}", "").is_err());
        assert!(check_json_body(b"{\"name\":\"a\\u4e2d\"}", "").is_ok());
        assert!(check_json_body("{\"name\":\"a\u{202E}\"}".as_bytes(), "").is_err());
        assert!(check_json_body(b"not json \\u0000", "").is_ok());
    }
}
