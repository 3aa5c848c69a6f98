#[tokio::test]
async fn probe_hash_time() {
    let t = std::time::Instant::now();
    for _ in 0..3 {
        custos_app::auth::hash_password("password-123456".into()).await.unwrap();
    }
    eprintln!("PROBE 3 hashes: {:?}", t.elapsed());
}
