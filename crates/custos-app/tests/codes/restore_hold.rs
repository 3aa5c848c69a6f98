//! Issuing after a restore: on hold until the administrator confirms the last codes known
//! elsewhere, and the maintenance lock that PostgreSQL server processes share.

use super::*;

// After a restore that could not read the database it replaced (or a pg_restore), codes
// issued since the backup are unknown: issuing waits for the administrator, who names
// the last codes known elsewhere (ERP); their counters move past them.
both!(issuing_on_hold_until_the_last_codes_are_confirmed, |t| {
    use custos_app::restore_guard::{HOLD_SETTING, LOST_IN_RESTORE};
    use custos_app::resume_issuing::ResumeIssuing;
    publish(
        &t,
        "kk",
        &["enterprise"],
        json!([{"kind":"constant","value":"K"}, {"kind":"sequence","width":5}]),
    )
    .await;
    assert_eq!(create(&t, "enterprise", "甲公司").await, "K00001");
    let mut tx = t.app.db.begin().await.unwrap();
    let hold = json!({"since": "2026-01-01T00:00:00Z", "reason": "live_missing",
                      "detail": "test", "backup_created_at": "2026-01-01T00:00:00Z"});
    tx.put_setting(HOLD_SETTING, &hold.to_string())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let e = t
        .app
        .customers()
        .create_customer(&t.admin, customer("enterprise", "乙公司"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), "code.issue_on_hold");
    assert_eq!(e.status(), 409);

    let report = t
        .app
        .backups()
        .resume_code_issuing(
            &t.admin,
            ResumeIssuing {
                issued_codes: vec!["K00007".into(), " k00005 ".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(report.lifted.is_some());
    assert_eq!(report.codes_recorded, 2);
    assert_eq!(report.raised.len(), 1);
    assert_eq!((report.raised[0].from, report.raised[0].to), (Some(2), 8));
    let v = t
        .app
        .codes()
        .validate_code(&t.admin, "K00007")
        .await
        .unwrap();
    assert_eq!(v.registry.unwrap().status, LOST_IN_RESTORE);
    assert_eq!(create(&t, "enterprise", "乙公司").await, "K00008");
    let entries = audit_of(&t, "code.resume_after_restore", 5).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].after.as_ref().unwrap()["codes_recorded"], 2);
    // --skip without a hold (e.g. right after pg_restore) moves every counter on.
    let report = t
        .app
        .backups()
        .resume_code_issuing(
            &t.admin,
            ResumeIssuing {
                skip: Some(10),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(report.lifted.is_none());
    assert_eq!(create(&t, "enterprise", "丙公司").await, "K00019");
});

/// On PostgreSQL every custos process holds a shared advisory lock of its schema;
/// maintenance takes the exclusive one and is refused while any process runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_processes_share_the_lock_and_maintenance_excludes_them() {
    use custos_app::data_lock::{lock_for_use, lock_pg_exclusive};
    let Some(a) = TestDb::new(Backend::Postgres).await.expect("test db") else {
        eprintln!("postgres half skipped: CUSTOS_TEST_PG_URL is not set");
        return;
    };
    let b = TestDb::new(Backend::Postgres)
        .await
        .expect("test db")
        .expect("configured");
    let s1 = lock_for_use(&a.db, &a.options).await.unwrap();
    let s2 = lock_for_use(&a.db, &a.options).await.unwrap();
    let e = lock_pg_exclusive(&a.db).await.err().unwrap();
    assert_eq!(e.code(), "database.in_use");
    // Another schema (installation) is not affected.
    lock_pg_exclusive(&b.db).await.unwrap().release().await;
    s1.release().await;
    assert!(lock_pg_exclusive(&a.db).await.is_err());
    s2.release().await;
    let x = lock_pg_exclusive(&a.db).await.unwrap();
    let e = lock_for_use(&a.db, &a.options).await.err().unwrap();
    assert_eq!(e.code(), "database.maintenance");
    x.release().await;
    lock_for_use(&a.db, &a.options)
        .await
        .unwrap()
        .release()
        .await;
    a.cleanup().await;
    b.cleanup().await;
}
