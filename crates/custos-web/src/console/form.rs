//! A posted console form: the fields as sent (never a rejection for an unexpected or
//! missing field: the use case names what is wrong), and the CSRF check every changing
//! request passes.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::session::{same_secret, Viewer, CSRF_HEADER};
use crate::AppState;

pub(crate) struct Posted {
    pub fields: Vec<(String, String)>,
    header_csrf: Option<String>,
}

impl FromRequest<AppState> for Posted {
    type Rejection = Response;
    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let header_csrf = req
            .headers()
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // The body limit of every request applies (413 beyond it).
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|e| (StatusCode::PAYLOAD_TOO_LARGE, e.body_text()).into_response())?;
        let fields = form_urlencoded::parse(&body).into_owned().collect();
        Ok(Posted {
            fields,
            header_csrf,
        })
    }
}

impl Posted {
    /// The first value of `name`, trimmed of nothing (the use case normalises).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name` (a multi-select, checkboxes sharing a name), in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether the request carries the viewer's CSRF token (form field `csrf` or the
    /// `X-CSRF-Token` header htmx sends).
    pub fn csrf_ok(&self, viewer: &Viewer) -> bool {
        let given = self
            .get("csrf")
            .or(self.header_csrf.as_deref())
            .unwrap_or("");
        same_secret(given, &viewer.csrf)
    }
}
