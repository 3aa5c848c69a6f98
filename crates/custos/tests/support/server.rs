//! `custos serve` as a child process for the tests that run whole servers: started on a
//! free port, its address read from its log, killed (SIGKILL) when dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

pub const ADMIN_PASSWORD: &str = "Quokka-Saffron-Lattice-19";

pub struct Server {
    child: Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start a server on the data directory `dir`, on PostgreSQL when `database_url` is
/// given, with the configuration file `config` when given.
pub fn start(dir: &Path, database_url: Option<&str>, config: Option<&Path>) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custos"));
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(dir)
        .env("CUSTOS_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("CUSTOS_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    if let Some(url) = database_url {
        cmd.args(["--database-url", url]);
    }
    if let Some(config) = config {
        cmd.arg("--config").arg(config);
    }
    let mut child = cmd.spawn().expect("start custos serve");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let addr = rest.split_whitespace().next().unwrap_or("").to_string();
                let _ = tx.send(addr);
            }
        }
    });
    let addr = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("server did not report its address");
    Server {
        child,
        base: format!("http://{addr}"),
    }
}

/// The admin's bearer token.
pub async fn login(c: &reqwest::Client, base: &str) -> String {
    let r: Value = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("login request")
        .json()
        .await
        .expect("login answer");
    r["token"].as_str().expect("token").to_string()
}
