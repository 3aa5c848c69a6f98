//! A real browser for console tests: Debian's Chromium, headless, driven through
//! chromedriver (WebDriver) against the test server.
//!
//! Without chromedriver the browser tests are skipped with a message, except under CI
//! (`CI` set), where a missing browser fails them: CI installs `chromium` and
//! `chromium-driver`. A failing step leaves a screenshot in
//! `target/browser-screenshots/`; `CUSTOS_DOC_SCREENSHOTS=1` also writes the pages the
//! tests visit to `docs/console/` for the documentation.

// Not every test uses every step.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

pub struct Browser {
    pub client: Client,
    pub base: String,
    name: String,
    driver: Child,
}

fn driver_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CUSTOS_CHROMEDRIVER") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn browser_binary() -> Option<String> {
    std::env::var("CUSTOS_CHROMIUM").ok().or_else(|| {
        [
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
            "/usr/bin/google-chrome",
        ]
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| p.to_string())
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn screenshot_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots")
}

impl Browser {
    /// A browser at 1280×900 (or `width`), or `None` (skipped) when none is installed
    /// outside CI.
    pub async fn start(name: &str, base: &str, width: u32) -> Option<Browser> {
        let (Some(driver), Some(chromium)) = (driver_path(), browser_binary()) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "browser tests need chromium and chromedriver (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped {name}: chromium/chromedriver not installed");
            return None;
        };
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", format!("--window-size={width},900"),
                         "--lang=zh-CN", "--no-first-run"]
            }
        });
        let caps = caps.as_object().cloned().expect("capabilities");
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    return Some(Browser {
                        client,
                        base: base.to_string(),
                        name: name.to_string(),
                        driver: child,
                    });
                }
                Err(e) => last = Some(e.to_string()),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start: {last:?}");
    }

    pub async fn goto(&self, path: &str) {
        let url = format!("{}{path}", self.base);
        self.client.goto(&url).await.expect("goto");
    }

    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.expect("url");
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// Wait (up to 10 s) until the address (path and query) contains `part`: a search
    /// form's answer may still be on its way when the old page's elements are found.
    pub async fn expect_path_containing(&self, part: &str, what: &str) {
        for _ in 0..100 {
            if self.path().await.contains(part) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.fail(&format!("{what}: the address does not contain {part:?}"))
            .await
    }

    /// Wait (up to 10 s) for an element to exist.
    pub async fn wait_for(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(e) => e,
            Err(e) => self.fail(&format!("waiting for {css}: {e}")).await,
        }
    }

    /// The text of an element (waiting for it; a page replaced meanwhile is read again).
    pub async fn text(&self, css: &str) -> String {
        for _ in 0..50 {
            if let Ok(text) = self.wait_for(css).await.text().await {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.fail(&format!("reading {css}")).await
    }

    /// Wait (up to 10 s) until the element's text is `expected`; fail with a screenshot
    /// otherwise. Pages load after clicks, so a check reads until the page has come.
    pub async fn expect_text(&self, css: &str, expected: &str, what: &str) {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = e.text().await {
                    if text.trim() == expected {
                        return;
                    }
                    last = text;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.fail(&format!(
            "{what}: {css} reads {last:?}, expected {expected:?}"
        ))
        .await
    }

    /// Wait (up to 10 s) until the element's text contains `part`.
    pub async fn expect_text_containing(&self, css: &str, part: &str, what: &str) {
        let mut last = String::new();
        for _ in 0..100 {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if let Ok(text) = e.text().await {
                    if text.contains(part) {
                        return;
                    }
                    last = text;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.fail(&format!(
            "{what}: {css} reads {last:?}, expected to contain {part:?}"
        ))
        .await
    }

    /// Replace an input's value by typing `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.wait_for(css).await;
        e.clear().await.expect("clear");
        e.send_keys(text).await.expect("type");
    }

    /// Set an input's value directly (date and time inputs, whose typing depends on the
    /// browser's locale).
    pub async fn set_value(&self, css: &str, value: &str) {
        self.wait_for(css).await;
        self.client
            .execute(
                "document.querySelector(arguments[0]).value = arguments[1];",
                vec![css.into(), value.into()],
            )
            .await
            .expect("set value");
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.expect("click");
    }

    /// Log in through the login page.
    pub async fn login(&self, username: &str, password: &str) {
        self.goto("/login").await;
        self.fill("#username", username).await;
        self.fill("#password", password).await;
        self.click("#login-submit").await;
        self.wait_for("#logout").await;
    }

    /// Assert `cond`, keeping a screenshot when it does not hold.
    pub async fn check(&self, cond: bool, what: &str) {
        if !cond {
            self.fail(what).await;
        }
    }

    /// Keep a screenshot of the page and fail the test.
    pub async fn fail(&self, what: &str) -> ! {
        let dir = screenshot_dir();
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join(format!("{}.png", self.name));
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(&file, png);
        }
        let source = self.client.source().await.unwrap_or_default();
        panic!(
            "{}: {what} (at {}; screenshot {})\n{}",
            self.name,
            self.path().await,
            file.display(),
            source.chars().take(4000).collect::<String>()
        );
    }

    /// With `CUSTOS_DOC_SCREENSHOTS=1`, keep the page as `docs/console/<file>.png`.
    pub async fn document(&self, file: &str) {
        if std::env::var_os("CUSTOS_DOC_SCREENSHOTS").is_none() {
            return;
        }
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
        let _ = std::fs::create_dir_all(&dir);
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(dir.join(format!("{file}.png")), png);
        }
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
