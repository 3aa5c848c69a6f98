//! HTTPS: the server answers over TLS with HSTS, a slow client's handshake does not hold up
//! others, and a reload swaps the certificate for new connections.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

use custos_app::{App, AppConfig, Backend};
use custos_store::testing::TestDb;
use custos_web::tls::Tls;

/// A self-signed certificate for localhost, written as PEM files; returns its DER form.
fn write_cert(dir: &Path) -> CertificateDer<'static> {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
    std::fs::write(dir.join("cert.pem"), ck.cert.pem()).expect("write cert");
    std::fs::write(dir.join("key.pem"), ck.signing_key.serialize_pem()).expect("write key");
    ck.cert.der().clone()
}

fn connector(trusted: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(trusted.clone()).expect("root");
    #[allow(deprecated)]
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

/// GET `path` over TLS trusting only `trusted`; the raw response, or the handshake error.
async fn get(
    addr: std::net::SocketAddr,
    trusted: &CertificateDer<'static>,
    path: &str,
) -> Result<String, String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector(trusted)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    Ok(String::from_utf8_lossy(&out).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_with_hsts_and_reload() {
    let db = TestDb::new(Backend::Sqlite)
        .await
        .expect("db")
        .expect("sqlite");
    let app = App::from_db(db.db.clone(), AppConfig::default());
    let dir = tempfile::tempdir().expect("dir");
    let first = write_cert(dir.path());
    let tls = Arc::new(
        Tls::load(&dir.path().join("cert.pem"), &dir.path().join("key.pem")).expect("load"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(custos_web::serve_tls(
        app,
        custos_web::WebConfig::default(),
        listener,
        Arc::clone(&tls),
        async {
            let _ = stopped.await;
        },
    ));

    // A client that opens a connection and never speaks does not block the next one.
    let _silent = TcpStream::connect(addr).await.expect("connect");
    let resp = tokio::time::timeout(Duration::from_secs(10), get(addr, &first, "/healthz"))
        .await
        .expect("not held up by the silent client")
        .expect("handshake");
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{resp}"
    );

    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(addr).await.expect("connect");
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));

    // A renewed certificate is served after a reload; a bad file keeps the loaded one.
    let second = write_cert(dir.path());
    tls.reload().expect("reload");
    assert!(
        get(addr, &first, "/healthz").await.is_err(),
        "the old certificate is gone"
    );
    assert!(get(addr, &second, "/healthz")
        .await
        .expect("new cert")
        .starts_with("HTTP/1.1 200"));
    std::fs::write(dir.path().join("cert.pem"), "not a certificate").expect("write");
    let err = tls.reload().expect_err("a broken file is refused");
    assert!(err.to_string().contains("cert.pem"), "{err}");
    assert!(get(addr, &second, "/healthz")
        .await
        .expect("still served")
        .starts_with("HTTP/1.1 200"));

    let _ = stop.send(());
    let _ = server.await;
    db.cleanup().await;
}
