//! `custos healthcheck`: asks a running server's `/readyz` and exits 0 when it is ready.
//! For container health checks and scripts, where curl may not be installed.

use std::process::ExitCode;
use std::time::Duration;

use crate::{config, Failure};

/// Arguments of `custos healthcheck`.
#[derive(clap::Args, Debug)]
pub(crate) struct HealthcheckArgs {
    /// 检查的地址 (URL to ask); default `/readyz` of the configured listen address on
    /// loopback (CUSTOS_LISTEN, `listen` in the configuration), https when `[tls]` is set.
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// 超时秒数 (seconds to wait for the answer).
    #[arg(long, default_value_t = 5)]
    pub(crate) timeout: u64,
}

/// `custos healthcheck`; without `--url` it asks this machine's own server, found from the
/// global options passed in.
pub(crate) async fn run(
    config_path: Option<&std::path::Path>,
    data_dir: Option<std::path::PathBuf>,
    database_url: Option<String>,
    args: &HealthcheckArgs,
) -> Result<ExitCode, Failure> {
    // The default address is this machine's own server: its certificate names the
    // public host, not the loopback address, so it is not checked (doctor checks it).
    let (url, own) = match &args.url {
        Some(u) => (u.clone(), false),
        None => {
            let location = config::locate(config_path, data_dir, database_url)?;
            let scheme = if config::tls_files(&location)?.is_some() {
                "https"
            } else {
                "http"
            };
            let listen = config::listen_of(&location);
            (format!("{scheme}://{}/readyz", loopback(&listen)), true)
        }
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout.clamp(1, 300)))
        .danger_accept_invalid_certs(own)
        .build()
        .map_err(|e| Failure(format!("cannot set up HTTP: {e}")))?;
    match client.get(&url).send().await {
        Ok(r) if r.status().is_success() => {
            eprintln!("ready: {url} {}", r.status());
            Ok(ExitCode::SUCCESS)
        }
        Ok(r) => {
            eprintln!("custos: not ready: {url} answered {}", r.status());
            Ok(ExitCode::FAILURE)
        }
        Err(e) => {
            eprintln!("custos: not ready: {url}: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A listen address with a wildcard host turned into the loopback one.
fn loopback(listen: &str) -> String {
    if let Some(port) = listen.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = listen.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        listen.to_string()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wildcard_hosts_become_loopback() {
        assert_eq!(super::loopback("0.0.0.0:8080"), "127.0.0.1:8080");
        assert_eq!(super::loopback("[::]:80"), "[::1]:80");
        assert_eq!(super::loopback("10.1.2.3:8080"), "10.1.2.3:8080");
    }
}
