//! A console visitor over plain HTTP: keeps cookies, never follows redirects, so tests
//! see each answer as it is.

use std::collections::BTreeMap;

use reqwest::{header, redirect, Client, Response};

use crate::helpers::TestApp;

pub struct Visitor {
    pub base: String,
    client: Client,
    pub cookies: BTreeMap<String, String>,
}

impl Visitor {
    pub fn new(t: &TestApp) -> Visitor {
        Visitor {
            base: t.base.clone(),
            client: Client::builder()
                .redirect(redirect::Policy::none())
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep_cookies(&mut self, r: &Response) {
        for v in r.headers().get_all(header::SET_COOKIE) {
            let text = v.to_str().unwrap_or("");
            let pair = text.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() || text.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
    }

    pub async fn get(&mut self, path: &str) -> Response {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT, "text/html")
            .send()
            .await
            .expect("get");
        self.keep_cookies(&r);
        r
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Response {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .header(header::ACCEPT, "text/html")
            .form(form)
            .send()
            .await
            .expect("post");
        self.keep_cookies(&r);
        r
    }

    /// The value of a hidden input `name` in a page.
    pub fn hidden(html: &str, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        html.split(&marker)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or("")
            .to_string()
    }

    /// Sign in through the login form; panics unless it succeeds.
    pub async fn login(&mut self, username: &str, password: &str) {
        let page = self.get("/login").await.text().await.expect("page");
        let csrf = Visitor::hidden(&page, "csrf");
        let r = self
            .post(
                "/login",
                &[
                    ("username", username),
                    ("password", password),
                    ("csrf", &csrf),
                    ("next", "/"),
                ],
            )
            .await;
        assert_eq!(r.status(), 303, "login of {username}");
        assert!(self.cookies.contains_key("custos_session"));
    }

    /// The CSRF token of the signed-in session, read off a page.
    pub async fn csrf(&mut self) -> String {
        let page = self.get("/account").await.text().await.expect("page");
        Visitor::hidden(&page, "csrf")
    }

    pub fn session_token(&self) -> String {
        self.cookies
            .get("custos_session")
            .cloned()
            .unwrap_or_default()
    }
}

pub fn location(r: &Response) -> String {
    r.headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}
