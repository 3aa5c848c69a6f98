//! `custos serve`: the HTTP(S) server with the notification and audit-checkpoint
//! workers beside it, until Ctrl-C or SIGTERM.

use std::process::ExitCode;

use crate::args::Cli;
use crate::{config, open, Failure};

pub(crate) async fn serve(
    cli: &Cli,
    listen: Option<String>,
    demo: bool,
) -> Result<ExitCode, Failure> {
    let started = std::time::Instant::now();
    let (app, settings, lock) = open(cli, listen).await?;
    if let Some(hold) = app.backups().issue_hold().await? {
        tracing::warn!(
            "code issuing is on hold since the restore of a backup of {} ({}): creations fail until an administrator runs custos code resume-after-restore (see docs/backup.md)",
            hold.backup_created_at,
            hold.reason
        );
    }
    let admin_password = config::secret_env("CUSTOS_ADMIN_PASSWORD")?;
    if let Some(generated) = app.auth().ensure_admin(admin_password).await? {
        // Shown once: it is not stored anywhere in plaintext.
        eprintln!("==> created user 'admin' with password: {generated}");
        eprintln!("==> store it now; it will not be shown again");
    }
    if demo {
        let n = app.demo().seed_demo().await?;
        if n > 0 {
            eprintln!("==> demo data added: {n} users");
        }
        eprintln!(
            "==> demo users (password {}):",
            custos_app::demo::DEMO_PASSWORD
        );
        for (name, what) in custos_app::demo::DEMO_USERS {
            eprintln!("      {name:<14} {what}");
        }
    }
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .map_err(|e| Failure(format!("cannot listen on {}: {e}", settings.listen)))?;
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_else(|_| settings.listen.clone());
    let backend = match app.db.backend() {
        custos_app::Backend::Sqlite => format!(
            "SQLite {}",
            app.db
                .sqlite_path()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        ),
        custos_app::Backend::Postgres => "PostgreSQL".to_string(),
    };
    let shutdown = shutdown_signal();
    let tls = match &settings.tls {
        Some((cert, key)) => Some(std::sync::Arc::new(
            custos_web::tls::Tls::load(cert, key)
                .map_err(|e| Failure(format!("cannot load the TLS certificate: {e}")))?,
        )),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        "custos listening on {scheme}://{addr} ({backend}); API docs at {scheme}://{addr}/docs; ready in {} ms",
        started.elapsed().as_millis()
    );
    // Said plainly for the person who just started it, whatever the log level.
    eprintln!("==> console: {scheme}://{addr}/  (API docs: {scheme}://{addr}/docs)");
    // Group notification channels post through the shared outbound client.
    let outbound = app
        .outbound_client()
        .map_err(|e| Failure(format!("cannot set up outbound HTTP: {e}")))?;
    let worker = tokio::spawn(app.clone().run_notification_worker(
        settings.smtp.clone(),
        outbound,
        settings.reminder_after,
    ));
    let checkpoints = tokio::spawn(
        app.clone()
            .run_audit_checkpoints(settings.audit_checkpoint_due),
    );
    let keys = tokio::spawn(app.clone().run_pii_key_worker());
    // Looks every ten minutes whether the day's life-cycle job is due.
    let lifecycle = tokio::spawn(
        app.clone()
            .run_lifecycle_worker(std::time::Duration::from_secs(600)),
    );
    let snapshots = tokio::spawn(app.clone().run_quality_snapshots());
    let webhooks = tokio::spawn(app.clone().run_webhook_worker());
    let key_reloader = tokio::spawn(reload_keys_on_hangup(app.clone()));
    let nats_relay = settings.nats.as_ref().map(crate::nats::relay);
    let nats = match (&settings.nats, &nats_relay) {
        (Some(s), Some(relay)) => Some(tokio::spawn(app.clone().run_event_relay(
            relay.clone(),
            Box::new(crate::nats::NatsSink::new(s.clone())),
        ))),
        _ => None,
    };
    let served = match tls {
        Some(tls) => {
            let reloader = tokio::spawn(reload_tls_on_hangup(std::sync::Arc::clone(&tls)));
            let served =
                custos_web::serve_tls(app.clone(), settings.web.clone(), listener, tls, shutdown)
                    .await;
            reloader.abort();
            served
        }
        None => custos_web::serve_with(app.clone(), settings.web.clone(), listener, shutdown).await,
    };
    worker.abort();
    checkpoints.abort();
    keys.abort();
    lifecycle.abort();
    snapshots.abort();
    webhooks.abort();
    key_reloader.abort();
    if let (Some(task), Some(relay)) = (nats, &nats_relay) {
        task.abort();
        // Hand the relay over at once to another server on the same database.
        if let Err(e) = app.events().release_event_relay(relay).await {
            tracing::warn!(error = %e, "could not release the NATS relay");
        }
    }
    served.map_err(|e| Failure(format!("server error: {e}")))?;
    lock.release().await;
    app.db.close().await;
    tracing::info!("custos stopped");
    Ok(ExitCode::SUCCESS)
}

/// Reload the certificate and key on every SIGHUP (a renewed certificate needs no restart);
/// a failed reload keeps the loaded one and says why.
async fn reload_tls_on_hangup(tls: std::sync::Arc<custos_web::tls::Tls>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match tls.reload() {
                Ok(()) => tracing::info!("TLS certificate reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "TLS reload failed; the loaded certificate stays")
                }
            }
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await;
}

/// Read the PII key file again on every SIGHUP (a key staged or retired elsewhere and
/// copied here); a file that cannot be read keeps the loaded ring and says why.
async fn reload_keys_on_hangup(app: custos_app::App) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match app.keyring().reload_pii_keys() {
                Ok(ids) => tracing::info!(ring = ?ids, "PII key file reloaded"),
                Err(e) => {
                    tracing::error!(error = %e, "PII key file reload failed; the loaded ring stays")
                }
            }
        }
    }
    #[cfg(not(unix))]
    std::future::pending::<()>().await;
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called, not when
/// the future is first polled: a SIGTERM that arrives right after "listening" is logged
/// must shut down gracefully, not kill the process.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let (mut term, mut int) = {
        use tokio::signal::unix::{signal, SignalKind};
        (
            signal(SignalKind::terminate()).ok(),
            signal(SignalKind::interrupt()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            async fn recv(s: Option<&mut tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = recv(term.as_mut()) => {},
                _ = recv(int.as_mut()) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}
