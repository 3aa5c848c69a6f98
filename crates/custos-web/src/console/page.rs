//! What every console page shares: the frame (`Chrome`: language, navigation, the
//! viewer, the CSRF token), rendering a template into a response, and error pages.

use askama::Template;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use custos_app::{Actor, AppError};
use custos_core::violation::Lang;

use super::i18n::{html_lang, t};
use super::session::Viewer;

/// One entry of the navigation bar.
pub(crate) struct NavItem {
    pub href: &'static str,
    pub key: &'static str,
    pub active: bool,
    /// A count shown beside the entry (tasks waiting in 待办).
    pub badge: Option<i64>,
}

/// The frame of a page; every page template has it as `chrome`.
pub(crate) struct Chrome {
    pub lang: Lang,
    pub title: String,
    pub user: Option<String>,
    pub csrf: String,
    pub nav: Vec<NavItem>,
    /// Pages with charts load ECharts; the others do not carry it.
    pub charts: bool,
}

/// Navigation entries and the permission each needs (`None`: everyone signed in).
const NAV: &[(&str, &str, Option<&str>)] = &[
    ("/", "nav.dashboard", None),
    ("/customers", "nav.customers", Some("customer.read")),
    (
        "/customers/new",
        "nav.new_customer",
        Some("application.submit"),
    ),
    (
        "/applications",
        "nav.applications",
        Some("application.submit"),
    ),
    ("/inbox", "nav.inbox", Some("application.approve")),
    // The steward's work, then the readers', then configuration.
    ("/duplicates", "nav.duplicates", Some("duplicate.manage")),
    ("/sources", "nav.sources", Some("duplicate.manage")),
    ("/imports", "nav.imports", Some("import")),
    ("/exports", "nav.exports", Some("export")),
    ("/stats", "nav.stats", Some("stats.read")),
    ("/quality", "nav.quality", Some("quality.read")),
    ("/rules", "nav.rules", Some("rule.read")),
    ("/flows", "nav.flows", Some("role.manage")),
    ("/fields", "nav.fields", Some("field.manage")),
    ("/admin/users", "nav.admin", Some("user.read")),
    ("/audit", "nav.audit", Some("audit.read")),
];

fn nav_for(actor: &Actor, current: &str, pending: Option<i64>) -> Vec<NavItem> {
    // 管理 leads to the first administration page the viewer may open (webhooks or
    // channels alone are enough to see it).
    let admin = super::admin_nav::first_admin_page(actor);
    NAV.iter()
        .filter_map(|(href, key, p)| match *key {
            "nav.admin" => admin.map(|a| (a, *key)),
            _ => p
                .is_none_or(|p| actor.permissions.contains_key(p))
                .then_some((*href, *key)),
        })
        .map(|(href, key)| NavItem {
            href,
            key,
            active: href == current || (key == "nav.admin" && current.starts_with("/admin")),
            badge: match href {
                "/inbox" => pending.filter(|n| *n > 0),
                _ => None,
            },
        })
        .collect()
}

impl Chrome {
    /// The frame for a signed-in viewer on the page at `path` (marks the active entry),
    /// titled by the catalog word `title_key`.
    pub fn new(viewer: &Viewer, path: &str, title_key: &str) -> Chrome {
        Chrome {
            lang: viewer.lang,
            title: t(viewer.lang, title_key).to_string(),
            user: Some(viewer.actor.display_name.clone()),
            csrf: viewer.csrf.clone(),
            nav: nav_for(&viewer.actor, path, viewer.pending),
            charts: false,
        }
    }

    /// The frame of a page for someone not signed in (login).
    pub fn anonymous(lang: Lang, title_key: &str) -> Chrome {
        Chrome {
            lang,
            title: t(lang, title_key).to_string(),
            user: None,
            csrf: String::new(),
            nav: Vec::new(),
            charts: false,
        }
    }

    /// The frame of a page with charts: it loads ECharts.
    pub fn with_charts(mut self) -> Chrome {
        self.charts = true;
        self
    }

    /// Words from the catalog in the page's language.
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        t(self.lang, key)
    }

    /// The version put in asset URLs.
    pub fn asset_version(&self) -> &'static str {
        super::assets::version()
    }

    pub fn html_lang(&self) -> &'static str {
        html_lang(self.lang)
    }

    /// The language the switch offers.
    pub fn other_lang(&self) -> &'static str {
        match self.lang {
            Lang::Zh => "en",
            Lang::En => "zh",
        }
    }
}

/// The page a form with a missing or wrong CSRF token gets (403).
pub(crate) fn csrf_refused(chrome: Chrome) -> Response {
    let message = t(chrome.lang, "error.csrf").to_string();
    let page = ErrorPage {
        chrome: &chrome,
        status: 403,
        message,
    };
    render(StatusCode::FORBIDDEN, &page)
}

/// Render a page template; a template that fails to render is an internal error page.
pub(crate) fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut r = (status, Html(html)).into_response();
            // Pages carry personal data: never kept by a browser or proxy cache.
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => {
            tracing::error!(error = %e, "console template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage<'a> {
    chrome: &'a Chrome,
    status: u16,
    message: String,
}

/// A use case's refusal as a page: out of scope and missing are one 404 page (the page
/// never says which), a missing permission 403, the rest with the message of the use case.
pub(crate) struct PageError {
    pub chrome: Chrome,
    pub error: AppError,
}

impl PageError {
    pub fn new(chrome: Chrome, error: AppError) -> PageError {
        PageError { chrome, error }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let lang = self.chrome.lang;
        let message = match (&self.error, status) {
            (AppError::Internal(msg), _) => {
                tracing::error!(error = %msg, "internal error on a console page");
                t(lang, "error.title").to_string()
            }
            (_, StatusCode::NOT_FOUND) => t(lang, "error.not_found").to_string(),
            (_, StatusCode::FORBIDDEN) => t(lang, "error.forbidden").to_string(),
            (e, _) => e.detail(lang),
        };
        let page = ErrorPage {
            chrome: &self.chrome,
            status: status.as_u16(),
            message,
        };
        render(status, &page)
    }
}

/// A workbook made by a use case, sent as a download named `file` and never cached (it
/// holds figures of the reader's scope).
pub(crate) fn xlsx_download(bytes: Vec<u8>, file: &'static str) -> Response {
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
