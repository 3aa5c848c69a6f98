//! `/admin/system` (系统): version, database and its size, the last backup and how to
//! take one, the mail relay with a test message, and the licences of the front-end
//! packages compiled into the binary (`scripts/vendor-assets.sh` records them).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use custos_app::system::SystemOverview;
use custos_app::AppError;

use super::admin_words::{human_bytes, FormErrors, SubNav};
use super::form::Posted;
use super::i18n::t;
use super::page::{csrf_refused, render, Chrome, PageError};
use super::session::Viewer;
use crate::AppState;
use custos_app::clock::local_minutes;

/// `package version licence` lines, as the vendoring script writes them.
const VERSIONS: &str = include_str!("../../assets/vendor/VERSIONS");

/// The licence texts shipped beside each vendored package, by npm package name.
const LICENCE_TEXTS: &[(&str, &str)] = &[
    (
        "swagger-ui-dist",
        include_str!("../../assets/vendor/swagger-ui/LICENSE"),
    ),
    ("htmx.org", include_str!("../../assets/vendor/htmx/LICENSE")),
    (
        "echarts",
        concat!(
            include_str!("../../assets/vendor/echarts/LICENSE"),
            "\n",
            include_str!("../../assets/vendor/echarts/NOTICE")
        ),
    ),
];

pub(crate) struct Package {
    pub name: String,
    pub version: String,
    pub licence: String,
    pub text: &'static str,
}

fn packages() -> Vec<Package> {
    VERSIONS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?.to_string();
            let version = parts.next()?.to_string();
            let licence = parts.collect::<Vec<_>>().join(" ");
            let text = LICENCE_TEXTS
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| *t)
                .unwrap_or("");
            Some(Package {
                name,
                version,
                licence,
                text,
            })
        })
        .collect()
}

#[derive(Template)]
#[template(path = "console/admin/system.html")]
struct SystemPage {
    chrome: Chrome,
    subnav: SubNav,
    o: SystemOverview,
    size: String,
    last_backup_at: String,
    packages: Vec<Package>,
    notice: Option<String>,
    errors: FormErrors,
    to: String,
}

fn chrome(viewer: &Viewer) -> Chrome {
    Chrome::new(viewer, "/admin/users", "admin.system")
}

async fn system_page(
    state: &AppState,
    viewer: &Viewer,
    status: StatusCode,
    notice: Option<String>,
    errors: FormErrors,
    to: String,
) -> Response {
    let o = match state.app.system().system_overview(&viewer.actor).await {
        Ok(o) => o,
        Err(e) => return PageError::new(chrome(viewer), e).into_response(),
    };
    let tz = state.app.config.code_timezone;
    let page = SystemPage {
        chrome: chrome(viewer),
        subnav: SubNav::new(viewer, "/admin/system"),
        size: human_bytes(o.database_bytes),
        last_backup_at: o
            .last_backup
            .as_ref()
            .map(|b| local_minutes(&b.at, tz))
            .unwrap_or_default(),
        o,
        packages: packages(),
        notice,
        errors,
        to,
    };
    render(status, &page)
}

/// `GET /admin/system`.
pub(crate) async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Response {
    let notice = raw
        .as_deref()
        .filter(|q| q.contains("sent=1"))
        .map(|_| t(viewer.lang, "system.test_sent").to_string());
    system_page(
        &state,
        &viewer,
        StatusCode::OK,
        notice,
        FormErrors::default(),
        String::new(),
    )
    .await
}

/// `POST /admin/system/test-mail`: `to`; the relay's refusal comes back on the page.
pub(crate) async fn test_mail(
    State(state): State<AppState>,
    viewer: Viewer,
    posted: Posted,
) -> Response {
    if !posted.csrf_ok(&viewer) {
        return csrf_refused(chrome(&viewer));
    }
    let to = posted.get("to").unwrap_or("").to_string();
    match state.app.system().send_test_mail(&viewer.actor, &to).await {
        Ok(()) => Redirect::to("/admin/system?sent=1").into_response(),
        Err(AppError::Validation(f)) => {
            let errors = FormErrors::from_fields(&f, viewer.lang);
            system_page(
                &state,
                &viewer,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                errors,
                to,
            )
            .await
        }
        Err(e @ AppError::Rejected(_)) => {
            let errors = FormErrors::general(e.detail(viewer.lang));
            system_page(
                &state,
                &viewer,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
                errors,
                to,
            )
            .await
        }
        Err(e) => PageError::new(chrome(&viewer), e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_vendored_package_has_its_licence_text() {
        let ps = packages();
        assert!(ps.len() >= 3, "{}", ps.len());
        for p in ps {
            assert!(!p.licence.is_empty(), "{}", p.name);
            assert!(p.text.len() > 100, "no licence text for {}", p.name);
        }
    }
}
