//! The keyed audit chain and its checkpoints against someone who can write the database
//! (and the checkpoint file) but does not hold the key (issue 28, defect 8).

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use custos_app::audit::CheckpointOutcome;
use custos_app::{App, AppConfig, Backend, ChainReport};
use custos_store::AuditEntry;

use crate::backend_test;
use crate::helpers::*;

/// The fields an entry's hash covers, in the order the code serialises them: what an
/// attacker reads from the source to recompute hashes with plain SHA-256.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at: i64,
    actor_id: Option<i64>,
    actor_name: &'a str,
    source: &'a str,
    action: &'a str,
    target_type: &'a str,
    target_id: &'a str,
    before: Option<&'a str>,
    after: Option<&'a str>,
    reason: Option<&'a str>,
    request_id: Option<&'a str>,
    ip: Option<&'a str>,
    prev_hash: &'a str,
}

fn sha256_of(e: &AuditEntry, prev_hash: &str) -> String {
    let c = Canonical {
        seq: e.seq,
        at: e.at,
        actor_id: e.actor_id,
        actor_name: &e.actor_name,
        source: &e.source,
        action: &e.action,
        target_type: &e.target_type,
        target_id: &e.target_id,
        before: e.before_json.as_deref(),
        after: e.after_json.as_deref(),
        reason: e.reason.as_deref(),
        request_id: e.request_id.as_deref(),
        ip: e.ip.as_deref(),
        prev_hash,
    };
    hex::encode(Sha256::digest(serde_json::to_vec(&c).unwrap()))
}

async fn entries(t: &TestApp) -> Vec<AuditEntry> {
    let mut tx = t.app.db.begin_read().await.unwrap();
    let all = tx.audit_batch(0, 100_000).await.unwrap();
    tx.rollback().await.unwrap();
    all
}

/// SQL that removes the append-only guards, as an attacker with database access would.
fn drop_guards(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => {
            "DROP TRIGGER IF EXISTS audit_log_no_update; \
                            DROP TRIGGER IF EXISTS audit_log_no_delete;"
        }
        Backend::Postgres => "DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log;",
    }
}

async fn raw(t: &TestApp, sql: &str) -> u64 {
    t.app.db.execute_raw(sql).await.unwrap()
}

/// Recompute with plain SHA-256 the hash of every entry from `from` on and the head, as
/// an attacker without the key would after editing. `unkey`: also clear `key_id`, so
/// the entries look like those of a version before the key.
async fn rehash_with_sha256(t: &TestApp, from: i64, unkey: bool) {
    raw(t, drop_guards(t.app.db.backend())).await;
    let all = entries(t).await;
    let mut prev = all
        .iter()
        .find(|e| e.seq == from - 1)
        .map(|e| e.hash.clone())
        .unwrap_or_else(|| custos_store::GENESIS_HASH.to_string());
    let mut sql = String::new();
    for e in all.iter().filter(|e| e.seq >= from) {
        let hash = sha256_of(e, &prev);
        let unkeyed = if unkey { ", key_id = NULL" } else { "" };
        sql.push_str(&format!(
            "UPDATE audit_log SET prev_hash = '{prev}', hash = '{hash}'{unkeyed} \
             WHERE seq = {};",
            e.seq
        ));
        prev = hash;
    }
    let last = all.last().unwrap().seq;
    sql.push_str(&format!(
        "UPDATE audit_head SET seq = {last}, hash = '{prev}' WHERE id = 1;"
    ));
    raw(t, &sql).await;
}

/// Delete every entry after `keep` and point the head at entry `keep`.
async fn truncate_and_rewind(t: &TestApp, keep: i64) {
    raw(t, drop_guards(t.app.db.backend())).await;
    let hash = entries(t)
        .await
        .into_iter()
        .find(|e| e.seq == keep)
        .unwrap()
        .hash;
    raw(
        t,
        &format!(
            "DELETE FROM audit_log WHERE seq > {keep}; \
             UPDATE audit_head SET seq = {keep}, hash = '{hash}' WHERE id = 1;"
        ),
    )
    .await;
}

async fn make_history(t: &TestApp, tag: &str) {
    let admin = t.admin_token().await;
    t.create_user(&admin, &format!("carl{tag}"), None, serde_json::json!([]))
        .await;
    t.create_department(&admin, &format!("Ops{tag}"), None)
        .await;
}

/// The test's application with a checkpoint file (same database and key).
fn with_checkpoints(t: &TestApp, dir: &Path) -> (App, PathBuf) {
    let file = dir.join("audit-checkpoints.log");
    let app = App::from_db(
        t.app.db.clone(),
        AppConfig {
            pii_key: t.app.config.pii_key.clone(),
            audit_checkpoints: Some(file.clone()),
            ..AppConfig::default()
        },
    );
    (app, file)
}

async fn checkpoint(app: &App) -> custos_app::audit_anchor::Checkpoint {
    match app.audit().write_audit_checkpoint().await.unwrap() {
        CheckpointOutcome::Written { checkpoint, .. } => checkpoint,
        other => panic!("no checkpoint: {other:?}"),
    }
}

fn broken(report: ChainReport) -> (i64, String) {
    match report {
        ChainReport::Broken { seq, reason } => (seq, reason),
        other => panic!("tampering not detected: {other:?}"),
    }
}

backend_test!(untouched_keyed_chain_and_checkpoints_verify, |t| {
    let dir = tempfile::tempdir().unwrap();
    let (app, file) = with_checkpoints(&t, dir.path());
    make_history(&t, "a").await;
    let all = entries(&t).await;
    assert!(all.len() >= 4);
    // Every entry is keyed with the audit key derived from the PII key.
    let kid = t.app.config.pii_key.audit_key().id().to_string();
    assert!(all
        .iter()
        .all(|e| e.key_id.as_deref() == Some(kid.as_str())));
    let first = checkpoint(&app).await;
    assert_eq!(first.seq, all.last().unwrap().seq);
    make_history(&t, "b").await;
    checkpoint(&app).await;
    match app.audit().verify_audit().await.unwrap() {
        ChainReport::Ok {
            entries,
            checkpoints,
            unsealed,
            ..
        } => {
            assert_eq!(checkpoints, 2);
            assert_eq!(unsealed, 0);
            assert!(entries > first.seq);
        }
        other => panic!("{other:?}"),
    }
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
});

backend_test!(edited_and_rehashed_entry_fails_without_the_key, |t| {
    make_history(&t, "a").await;
    raw(&t, drop_guards(t.app.db.backend())).await;
    raw(
        &t,
        "UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 3",
    )
    .await;
    rehash_with_sha256(&t, 3, false).await;
    let (seq, reason) = broken(t.app.audit().verify_audit().await.unwrap());
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("keyed hash"), "{reason}");
});

backend_test!(rehashed_entries_passed_off_as_unkeyed_fail, |t| {
    make_history(&t, "a").await;
    raw(&t, drop_guards(t.app.db.backend())).await;
    raw(
        &t,
        "UPDATE audit_log SET reason = 'nothing happened' WHERE seq = 3",
    )
    .await;
    // From entry 3 on, as if written by a version before the key.
    rehash_with_sha256(&t, 3, true).await;
    let (seq, reason) = broken(t.app.audit().verify_audit().await.unwrap());
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("not keyed"), "{reason}");
    // The whole log passed off as unkeyed: refused as well (no seal covers it).
    rehash_with_sha256(&t, 1, true).await;
    let (seq, reason) = broken(t.app.audit().verify_audit().await.unwrap());
    assert_eq!(seq, 1, "{reason}");
    assert!(reason.contains("not keyed"), "{reason}");
});

backend_test!(truncated_and_rewound_chain_fails_on_checkpoint, |t| {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = with_checkpoints(&t, dir.path());
    make_history(&t, "a").await;
    let cp = checkpoint(&app).await;
    make_history(&t, "b").await;
    let keep = cp.seq - 2;
    truncate_and_rewind(&t, keep).await;
    // What remains is a valid keyed chain: only the checkpoint shows the loss.
    assert!(matches!(
        t.app.audit().verify_audit().await.unwrap(),
        ChainReport::Ok { .. }
    ));
    let (seq, reason) = broken(app.audit().verify_audit().await.unwrap());
    assert_eq!(seq, cp.seq, "{reason}");
    assert!(
        reason.contains("checkpoint") && reason.contains(&format!("ends at {keep}")),
        "{reason}"
    );
    // A periodic or manual checkpoint refuses to anchor the rewound head.
    match app.audit().write_audit_checkpoint().await.unwrap() {
        CheckpointOutcome::Broken { seq, .. } => assert_eq!(seq, cp.seq),
        other => panic!("{other:?}"),
    }

    // Regrown past the checkpoint with other entries: its hash no longer matches.
    make_history(&t, "c").await;
    make_history(&t, "d").await;
    let (seq, reason) = broken(app.audit().verify_audit().await.unwrap());
    assert_eq!(seq, cp.seq, "{reason}");
    assert!(reason.contains("does not match the checkpoint"), "{reason}");
});

backend_test!(forged_checkpoint_line_fails_its_mac, |t| {
    let dir = tempfile::tempdir().unwrap();
    let (app, file) = with_checkpoints(&t, dir.path());
    make_history(&t, "a").await;
    let cp = checkpoint(&app).await;
    let genuine = std::fs::read_to_string(&file).unwrap();

    // A line naming an entry the attacker chose, with a MAC it cannot compute.
    let mut forged = cp.clone();
    forged.seq = cp.seq - 1;
    forged.hash = entries(&t).await[(cp.seq - 2) as usize].hash.clone();
    std::fs::write(
        &file,
        format!("{genuine}{}\n", serde_json::to_string(&forged).unwrap()),
    )
    .unwrap();
    let (seq, reason) = broken(app.audit().verify_audit().await.unwrap());
    assert_eq!(seq, cp.seq - 1, "{reason}");
    assert!(
        reason.contains("line 2") && reason.contains("MAC"),
        "{reason}"
    );
    // A new checkpoint is refused while the last line is forged.
    assert!(matches!(
        app.audit().write_audit_checkpoint().await.unwrap(),
        CheckpointOutcome::Broken { .. }
    ));

    // An unreadable line is reported too.
    std::fs::write(&file, format!("{genuine}not a checkpoint\n")).unwrap();
    let (_, reason) = broken(app.audit().verify_audit().await.unwrap());
    assert!(reason.contains("unreadable"), "{reason}");

    // Restored: verifies again.
    std::fs::write(&file, &genuine).unwrap();
    assert!(matches!(
        app.audit().verify_audit().await.unwrap(),
        ChainReport::Ok { checkpoints: 1, .. }
    ));
});

backend_test!(unkeyed_chain_of_an_earlier_version_is_sealed, |t| {
    make_history(&t, "a").await;
    // The log as a version before the key wrote it.
    rehash_with_sha256(&t, 1, true).await;
    let legacy = entries(&t).await;
    assert!(legacy.iter().all(|e| e.key_id.is_none()));
    let n = legacy.len() as i64;

    let dir = tempfile::tempdir().unwrap();
    let (app, file) = with_checkpoints(&t, dir.path());
    let seal = app.audit().seal_unkeyed_audit_chain().await.unwrap();
    assert_eq!(seal, Some(n + 1));
    // Once only.
    assert_eq!(app.audit().seal_unkeyed_audit_chain().await.unwrap(), None);
    let all = entries(&t).await;
    let sealed = &all[n as usize];
    assert_eq!(sealed.action, "audit.chain_keyed");
    assert!(sealed.key_id.is_some());
    // The old entries are untouched.
    let stored = |e: &AuditEntry| (e.seq, e.hash.clone(), e.prev_hash.clone(), e.key_id.clone());
    assert_eq!(
        all[..n as usize].iter().map(stored).collect::<Vec<_>>(),
        legacy.iter().map(stored).collect::<Vec<_>>()
    );
    // Sealing anchored the chain at once.
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 1);
    make_history(&t, "b").await;
    match app.audit().verify_audit().await.unwrap() {
        ChainReport::Ok {
            entries, unsealed, ..
        } => {
            assert_eq!(unsealed, 0);
            assert!(entries > n + 1);
        }
        other => panic!("{other:?}"),
    }

    // Rewriting a sealed old entry (and rehashing the old part) breaks the seal.
    raw(&t, "UPDATE audit_log SET reason = 'edited' WHERE seq = 2").await;
    let mut sql = String::new();
    let mut prev = custos_store::GENESIS_HASH.to_string();
    for e in entries(&t).await.iter().take(n as usize) {
        let hash = sha256_of(e, &prev);
        sql.push_str(&format!(
            "UPDATE audit_log SET prev_hash = '{prev}', hash = '{hash}' WHERE seq = {};",
            e.seq
        ));
        prev = hash;
    }
    raw(&t, &sql).await;
    let (seq, reason) = broken(t.app.audit().verify_audit().await.unwrap());
    assert_eq!(seq, n + 1, "{reason}");
    assert!(reason.contains("sealed"), "{reason}");
});

backend_test!(
    broken_unkeyed_chain_is_kept_and_sealed_with_its_break,
    |t| {
        make_history(&t, "a").await;
        rehash_with_sha256(&t, 1, true).await;
        // The old chain was already broken: an edit nobody rehashed.
        raw(
            &t,
            "UPDATE audit_log SET reason = 'edited long ago' WHERE seq = 2",
        )
        .await;
        let (seq, _) = broken(t.app.audit().verify_audit().await.unwrap());
        assert_eq!(seq, 2);
        let n = entries(&t).await.len() as i64;

        let seal = t.app.audit().seal_unkeyed_audit_chain().await.unwrap();
        assert_eq!(seal, Some(n + 1));
        let all = entries(&t).await;
        let after: serde_json::Value =
            serde_json::from_str(all[n as usize].after_json.as_deref().unwrap()).unwrap();
        assert_eq!(after["legacy_broken_at"], 2);
        assert_eq!(after["legacy_entries"], n);
        assert!(all[n as usize]
            .reason
            .as_deref()
            .unwrap()
            .contains("broken at entry 2"));
        // The keyed chain starts at the seal: it verifies, the old part as sealed.
        make_history(&t, "b").await;
        assert!(matches!(
            t.app.audit().verify_audit().await.unwrap(),
            ChainReport::Ok { unsealed: 0, .. }
        ));
        // Any further change to the old part is detected.
        raw(
            &t,
            "UPDATE audit_log SET reason = 'and again' WHERE seq = 1",
        )
        .await;
        let (_, reason) = broken(t.app.audit().verify_audit().await.unwrap());
        assert!(reason.contains("sealed"), "{reason}");
    }
);
