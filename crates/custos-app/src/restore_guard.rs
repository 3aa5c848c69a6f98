//! A code is issued at most once, also across a restore of an older backup (DESIGN.md
//! invariant 1).
//!
//! A backup is a picture of the past: its sequence counters stand where they stood then,
//! and its registry lacks every code issued since — codes that may already be printed on
//! contracts and stored in ERP. Restored as it is, it would hand those codes out again.
//!
//! So before the restored database replaces the live one, the restore reads the live
//! database (when it is there, readable, and the same installation: its audit log starts
//! with the backup's first entry) and carries over
//! - every sequence counter, raised to at least its live value, and
//! - every registry entry the backup lacks, with status `lost_in_restore`: issued before
//!   the restore, its customer record lost with it, never to be issued again. These
//!   entries also explain the numbers missing from a gapless sequence.
//!
//! When there is no such live database (disaster recovery: the disk is gone), nobody can
//! tell which codes were issued after the backup. The restored database then puts code
//! issuing on hold: every creation fails with `code.issue_on_hold` until an administrator
//! runs `custos code resume-after-restore`, naming the last codes known from ERP
//! (`--confirm-last FILE`), skipping numbers (`--skip N`) or accepting the state as it is
//! (`--accept`); that decision is audited.

use std::path::Path;

use serde::{Deserialize, Serialize};

use custos_core::Violation;
use custos_store::{now_us, CodeRow, Db, DbOptions, StoreError, Tx};

use crate::actor::{Context, Source};
use crate::audit::{append, record_ctx};
use crate::auth::format_time;
use crate::error::{AppError, AppResult};
use crate::to_json;

/// Setting that holds code issuing (JSON of [`IssueHold`]); absent when codes may be issued.
pub const HOLD_SETTING: &str = "codes.issue_hold";
/// Registry status of a code issued before a restore whose customer the restore lost.
pub const LOST_IN_RESTORE: &str = "lost_in_restore";
/// Registry entries read from the live database per query.
const PAGE: i64 = 2000;
/// Most codes `resume-after-restore --confirm-last` takes.
pub const MAX_CONFIRMED_CODES: usize = 100_000;
/// Largest `--skip`.
pub const MAX_SKIP: i64 = 100_000_000;

/// Why and since when code issuing is on hold.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IssueHold {
    /// When the hold was set (RFC 3339).
    pub since: String,
    /// `live_missing`, `live_unreadable`, `live_unrelated` or `live_on_hold`.
    pub reason: String,
    /// What was found, for the operator.
    pub detail: String,
    /// Creation time of the restored backup.
    pub backup_created_at: String,
}

/// What the restore found where it restored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LiveDatabase {
    /// Read, and its counters and codes carried into the restored database.
    Carried,
    /// There was no database to replace.
    Missing,
    /// A database was there but could not be read.
    Unreadable,
    /// A database of another installation (its audit log starts differently).
    Unrelated,
}

/// What a restore did to keep codes unique.
#[derive(Debug, Clone, Serialize)]
pub struct CodeCarry {
    pub live: LiveDatabase,
    /// Sequence counters raised to their live value (or created).
    pub sequences_raised: u64,
    /// Live registry entries the backup lacked, recorded as `lost_in_restore`.
    pub codes_lost: u64,
    /// Set when code issuing is on hold in the restored database.
    pub hold: Option<IssueHold>,
}

/// Which side of a carry failed: the live database only makes the restore hold issuing,
/// the restored one fails the restore.
enum Side {
    Live(StoreError),
    Restored(AppError),
}

fn restored<E: Into<AppError>>(e: E) -> Side {
    Side::Restored(e.into())
}

/// Carry sequences and registry from the live database in `data_dir` (if any) into the
/// staged database in `staged_dir`, or put issuing on hold there; audited in the staged
/// database. Called by the restore before the staged file replaces the live one.
pub(crate) async fn carry_codes(
    data_dir: &Path,
    staged_dir: &Path,
    backup_created_at: &str,
    audit_keys: Option<custos_store::AuditKeys>,
) -> AppResult<CodeCarry> {
    let staged = Db::open(&DbOptions::sqlite(staged_dir)).await?;
    // The restore's own audit entry is keyed like the chain it joins; with no key known
    // (a plain backup restored with --force) it cannot join the chain and is left out.
    let keyed = audit_keys.is_some();
    if let Some(keys) = audit_keys {
        staged.set_audit_keys(keys);
    }
    let result = carry_into(&staged, data_dir, backup_created_at, keyed).await;
    if result.is_ok() {
        // Only the database file is moved into place: nothing may stay in its WAL.
        staged
            .execute_raw("PRAGMA wal_checkpoint(TRUNCATE)")
            .await?;
    }
    staged.close().await;
    result
}

async fn carry_into(
    staged: &Db,
    data_dir: &Path,
    backup_created_at: &str,
    keyed: bool,
) -> AppResult<CodeCarry> {
    let live_file = data_dir.join(custos_store::db_file_name());
    let mut tx = staged.begin().await?;
    let (live, detail, carried) = if !live_file.exists() {
        (LiveDatabase::Missing, "no database to replace".into(), None)
    } else {
        match Db::open(&DbOptions::sqlite(data_dir)).await {
            Err(e) => (LiveDatabase::Unreadable, e.to_string(), None),
            Ok(db) => {
                let outcome = carry_from(&db, &mut tx, backup_created_at).await;
                db.close().await;
                match outcome {
                    Ok(Some(c)) => (LiveDatabase::Carried, String::new(), Some(c)),
                    Ok(None) => (
                        LiveDatabase::Unrelated,
                        "its audit log does not start with the backup's first entry".into(),
                        None,
                    ),
                    Err(Side::Restored(e)) => return Err(e),
                    Err(Side::Live(e)) => {
                        // Half a carry is no carry: start over and hold issuing instead.
                        tx.rollback().await?;
                        tx = staged.begin().await?;
                        (LiveDatabase::Unreadable, e.to_string(), None)
                    }
                }
            }
        }
    };
    let (sequences_raised, codes_lost, live_hold) = carried.unwrap_or((0, 0, None));
    let hold = match (live, live_hold) {
        (LiveDatabase::Carried, None) => None,
        (LiveDatabase::Carried, Some(h)) => Some(IssueHold {
            reason: "live_on_hold".into(),
            detail: format!("the replaced database was on hold itself: {}", h.detail),
            ..new_hold("", "", backup_created_at)
        }),
        (other, _) => {
            let reason = match other {
                LiveDatabase::Missing => "live_missing",
                LiveDatabase::Unreadable => "live_unreadable",
                _ => "live_unrelated",
            };
            Some(new_hold(reason, &detail, backup_created_at))
        }
    };
    match &hold {
        Some(h) => {
            let text = serde_json::to_string(h).map_err(|e| AppError::Internal(e.to_string()))?;
            tx.put_setting(HOLD_SETTING, &text).await?;
        }
        // The live database vouched for everything issued since: a hold the backup
        // itself carried was lifted there.
        None => tx.delete_setting(HOLD_SETTING).await?,
    }
    let report = CodeCarry {
        live,
        sequences_raised,
        codes_lost,
        hold,
    };
    let mut r = record_ctx(
        None,
        "restore",
        &Context::new(Source::Cli),
        "system.restore",
        "database",
        "main",
    );
    r.after = to_json(&serde_json::json!({
        "backup_created_at": backup_created_at,
        "codes": &report,
    }));
    if keyed {
        append(&mut tx, r).await?;
    }
    tx.commit().await?;
    Ok(report)
}

fn new_hold(reason: &str, detail: &str, backup_created_at: &str) -> IssueHold {
    IssueHold {
        since: format_time(now_us()),
        reason: reason.into(),
        detail: detail.into(),
        backup_created_at: backup_created_at.into(),
    }
}

/// Copy counters and missing registry entries from `live` into `tx`. `Ok(None)` when
/// `live` is not the same installation as the restored database.
async fn carry_from(
    live: &Db,
    tx: &mut Tx,
    backup_created_at: &str,
) -> Result<Option<(u64, u64, Option<IssueHold>)>, Side> {
    let mut ltx = live.begin_read().await.map_err(Side::Live)?;
    let live_first = ltx.audit_batch(0, 1).await.map_err(Side::Live)?;
    let ours = tx.audit_batch(0, 1).await.map_err(restored)?;
    let same = matches!((live_first.first(), ours.first()), (Some(a), Some(b)) if a.hash == b.hash);
    if !same {
        return Ok(None);
    }
    let mut raised = 0;
    for s in ltx.all_sequences().await.map_err(Side::Live)? {
        if tx
            .raise_sequence(&s.rule_key, &s.scope, s.next_value)
            .await
            .map_err(restored)?
        {
            raised += 1;
        }
    }
    let lost_at = format_time(now_us());
    let mut lost = 0;
    let mut after = String::new();
    loop {
        let page = ltx.codes_after(&after, PAGE).await.map_err(Side::Live)?;
        let Some(last) = page.last() else { break };
        after = last.code.clone();
        for row in page {
            let entry = lost_entry(row, backup_created_at, &lost_at);
            if tx.insert_code_if_absent(&entry).await.map_err(restored)? {
                lost += 1;
            }
        }
    }
    let hold = ltx
        .setting(HOLD_SETTING)
        .await
        .map_err(Side::Live)?
        .and_then(|t| serde_json::from_str::<IssueHold>(&t).ok());
    let _ = ltx.rollback().await;
    Ok(Some((raised, lost, hold)))
}

/// The restored registry's entry for a code only the live database knew. Its customer
/// and user ids are dropped: they name rows of the live database, not of this one.
fn lost_entry(row: CodeRow, backup_created_at: &str, lost_at: &str) -> CodeRow {
    let reason = format!(
        "恢复 {backup_created_at} 的备份时丢失（{lost_at}；原状态 {}） / \
         issued after the backup of {backup_created_at}, lost when it was restored ({lost_at}; status then {})",
        row.status, row.status
    );
    CodeRow {
        customer_id: None,
        status: LOST_IN_RESTORE.into(),
        redirect_to: None,
        issued_by: None,
        reason: Some(reason),
        ..row
    }
}

/// The hold, if code issuing is on hold in the database of `tx`.
pub(crate) async fn current_hold(tx: &mut Tx) -> AppResult<Option<IssueHold>> {
    Ok(tx.setting(HOLD_SETTING).await?.map(|text| {
        serde_json::from_str(&text).unwrap_or_else(|_| IssueHold {
            since: String::new(),
            reason: "unknown".into(),
            detail: text,
            backup_created_at: String::new(),
        })
    }))
}

/// Refuse to issue a code while issuing is on hold (every creation and code change draws
/// its code through here).
pub(crate) async fn ensure_issuing(tx: &mut Tx) -> AppResult<()> {
    match current_hold(tx).await? {
        None => Ok(()),
        Some(h) => Err(AppError::Conflict(Violation::new(
            "code.issue_on_hold",
            format!(
                "恢复备份（{}）后客户编码发放已暂停：无法确认备份之后发放过哪些编码。\
                 请管理员核对 ERP 等系统中最后发放的编码，运行 custos code resume-after-restore 后再试",
                h.backup_created_at
            ),
            format!(
                "code issuing is on hold since a backup ({}) was restored: the codes issued after it are unknown. \
                 An administrator must check the last codes issued (e.g. in ERP) and run custos code resume-after-restore",
                h.backup_created_at
            ),
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;
    use crate::actor::Actor;
    use crate::backup::{restore_backup, RestoreOptions};
    use crate::customers::NewCustomer;
    use crate::pii::PiiKey;
    use crate::resume_issuing::ResumeIssuing;
    use crate::App;

    /// An app on the SQLite database of `dir` with an admin and the default rules.
    async fn open_app(dir: &Path, key: &PiiKey) -> (App, Actor) {
        let (app, admin) = crate::test_support::app_in_dir(dir, key).await;
        app.demo().ensure_default_code_rules(&admin).await.unwrap();
        (app, admin)
    }

    async fn create(app: &App, admin: &Actor, name: &str) -> AppResult<String> {
        let c = NewCustomer {
            customer_type: "enterprise".into(),
            name: name.into(),
            ..Default::default()
        };
        Ok(app.customers().create_customer(admin, c).await?.code)
    }

    /// Create `names` and return their codes.
    async fn create_all(app: &App, admin: &Actor, names: &[&str]) -> Vec<String> {
        let mut codes = Vec::new();
        for n in names {
            codes.push(create(app, admin, n).await.unwrap());
        }
        codes
    }

    async fn backup_of(app: &App, admin: &Actor, dir: &Path) -> PathBuf {
        let file = dir.join("custos.backup");
        app.demo().backup(admin, &file, None).await.unwrap();
        file
    }

    fn forced() -> RestoreOptions {
        RestoreOptions {
            force: true,
            ..Default::default()
        }
    }

    async fn clerk_of(app: &App, admin: &Actor) -> Actor {
        let user = crate::org::NewUser {
            username: "clerk1".into(),
            password: "clerk-password-1".into(),
            display_name: None,
            department_id: None,
            email: None,
            roles: vec![crate::org::RoleAssignment {
                role: "clerk".into(),
                scope: "all".into(),
                expires_at: None,
            }],
        };
        app.org().create_user(admin, user).await.unwrap();
        app.auth()
            .actor_for_username("clerk1", Context::new(Source::Cli))
            .await
            .unwrap()
    }

    async fn registry_status(app: &App, admin: &Actor, code: &str) -> (String, Option<String>) {
        let v = app.codes().validate_code(admin, code).await.unwrap();
        let r = v.registry.unwrap();
        (r.status, r.reason)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restoring_an_older_backup_never_issues_a_code_again() {
        let work = tempfile::tempdir().unwrap();
        let live = work.path().join("live");
        let key = PiiKey::random();
        let (app, admin) = open_app(&live, &key).await;
        let mut issued = create_all(&app, &admin, &["甲公司", "乙公司", "丙公司"]).await;
        let file = backup_of(&app, &admin, work.path()).await;
        let after_backup = create_all(&app, &admin, &["丁公司", "戊公司"]).await;
        issued.extend(after_backup.iter().cloned());
        app.db.close().await;

        // The key is given as a deployment gives it (CUSTOS_PII_KEY), so the restore's
        // audit entry joins the keyed chain.
        let opts = RestoreOptions {
            env_key: Some(key.clone()),
            ..forced()
        };
        let report = restore_backup(&file, &live, opts).await.unwrap();
        assert_eq!(report.codes.live, LiveDatabase::Carried);
        assert_eq!(report.codes.codes_lost, 2);
        assert!(report.codes.sequences_raised >= 1);
        assert!(report.codes.hold.is_none());

        let (app, admin) = open_app(&live, &key).await;
        // The customers created after the backup are gone, their codes are not.
        for code in &after_backup {
            assert!(app.customers().get_customer(&admin, code).await.is_err());
            let (status, reason) = registry_status(&app, &admin, code).await;
            assert_eq!(status, LOST_IN_RESTORE);
            assert!(reason.unwrap().contains("lost when it was restored"));
        }
        let next = create(&app, &admin, "己公司").await.unwrap();
        assert!(
            !issued.contains(&next),
            "{next} was issued before: {issued:?}"
        );
        // The gapless sequence stays gapless: the lost codes fill the numbers before it.
        let mut tx = app.db.begin_read().await.unwrap();
        let scope = tx.code(&next).await.unwrap().unwrap().scope.unwrap();
        let seqs = tx.scope_sequences("enterprise", &scope).await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(seqs, (1..=6).collect::<Vec<i64>>());
        // The restore is in the audit log, and the chain holds.
        let log = app
            .audit()
            .list_audit(
                &admin,
                crate::AuditFilter {
                    action: Some("system.restore".into()),
                    limit: 5,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].after.as_ref().unwrap()["codes"]["codes_lost"], 2);
        assert!(matches!(
            app.audit().verify_audit().await.unwrap(),
            custos_store::ChainReport::Ok { .. }
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restore_refuses_while_the_directory_is_in_use_and_blocks_starts() {
        let work = tempfile::tempdir().unwrap();
        let live = work.path().join("live");
        let key = PiiKey::random();
        let (app, admin) = open_app(&live, &key).await;
        create_all(&app, &admin, &["甲公司"]).await;
        let file = backup_of(&app, &admin, work.path()).await;
        create_all(&app, &admin, &["乙公司"]).await;
        // A server (or any command) holds the shared lock while it runs.
        let in_use = crate::data_lock::lock_dir_shared(&live).unwrap();
        let e = restore_backup(&file, &live, forced()).await.unwrap_err();
        assert_eq!(e.code(), "restore.in_use");
        assert_eq!(e.status(), 409);
        // Nothing changed: both customers are still there, no staging left behind.
        let page = app
            .customers()
            .search_customers(&admin, crate::search::CustomerQuery::default())
            .await
            .unwrap();
        assert_eq!(page.items.len(), 2);
        let leftovers: Vec<_> = std::fs::read_dir(&live)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(".custos-restore-")
            })
            .collect();
        assert!(leftovers.is_empty());
        drop(in_use);

        // While a restore holds the directory, nothing can start on it.
        let restoring = crate::data_lock::lock_dir_exclusive(&live).unwrap();
        let e = crate::data_lock::lock_dir_shared(&live).err().unwrap();
        assert_eq!(e.code(), "data_dir.restoring");
        drop(restoring);
        app.db.close().await;
        restore_backup(&file, &live, forced()).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restore_without_the_live_database_holds_issuing_until_confirmed() {
        let work = tempfile::tempdir().unwrap();
        let key = PiiKey::random();
        let (app, admin) = open_app(&work.path().join("lost"), &key).await;
        let before = create_all(&app, &admin, &["甲公司", "乙公司"]).await;
        let file = backup_of(&app, &admin, work.path()).await;
        let since: BTreeSet<String> = create_all(&app, &admin, &["丙公司", "丁公司", "戊公司"])
            .await
            .into_iter()
            .collect();
        app.db.close().await;
        // The disk with the live database is gone: restore on a new machine.
        let fresh = work.path().join("fresh");
        std::fs::create_dir_all(&fresh).unwrap();
        key.write_new_file(&fresh.join(crate::backup::PII_KEY_FILE))
            .unwrap();
        let report = restore_backup(&file, &fresh, RestoreOptions::default())
            .await
            .unwrap();
        assert_eq!(report.codes.live, LiveDatabase::Missing);
        assert_eq!(report.codes.hold.as_ref().unwrap().reason, "live_missing");

        let (app, admin) = open_app(&fresh, &key).await;
        let e = create(&app, &admin, "己公司").await.unwrap_err();
        assert_eq!(e.code(), "code.issue_on_hold");
        assert_eq!(e.status(), 409);
        assert!(app.backups().issue_hold().await.unwrap().is_some());
        // Nothing to accept without saying how.
        let e = app
            .backups()
            .resume_code_issuing(&admin, ResumeIssuing::default())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "code.resume_how");
        // A clerk may not lift it.
        let clerk = clerk_of(&app, &admin).await;
        let e = app
            .backups()
            .resume_code_issuing(
                &clerk,
                ResumeIssuing {
                    accept: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "auth.forbidden");
        // A code that fits no rule is refused by position, nothing changes.
        let e = app
            .backups()
            .resume_code_issuing(
                &admin,
                ResumeIssuing {
                    issued_codes: vec!["not-a-code".into()],
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "validation.failed");
        assert!(app.backups().issue_hold().await.unwrap().is_some());

        // The operator names the last code ERP knows.
        let last = since.iter().max().unwrap().clone();
        let resumed = app
            .backups()
            .resume_code_issuing(
                &admin,
                ResumeIssuing {
                    issued_codes: vec![last.to_lowercase()],
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(resumed.lifted.unwrap().reason, "live_missing");
        assert_eq!(resumed.codes_recorded, 1);
        assert_eq!(resumed.raised.len(), 1);
        assert_eq!(
            registry_status(&app, &admin, &last).await.0,
            LOST_IN_RESTORE
        );
        let next = create(&app, &admin, "己公司").await.unwrap();
        assert!(!before.contains(&next) && !since.contains(&next), "{next}");
        assert!(next > last, "{next} <= {last}");
        // Accepting again: not on hold any more.
        let e = app
            .backups()
            .resume_code_issuing(
                &admin,
                ResumeIssuing {
                    accept: true,
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(e.code(), "code.not_on_hold");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn restore_over_another_installation_holds_issuing() {
        let work = tempfile::tempdir().unwrap();
        let key = PiiKey::random();
        let (a, admin_a) = open_app(&work.path().join("a"), &key).await;
        create_all(&a, &admin_a, &["甲公司"]).await;
        let file = backup_of(&a, &admin_a, work.path()).await;
        a.db.close().await;
        let other = work.path().join("b");
        let (b, admin_b) = open_app(&other, &key).await;
        let theirs = create_all(&b, &admin_b, &["乙公司"]).await;
        b.db.close().await;

        let report = restore_backup(&file, &other, forced()).await.unwrap();
        assert_eq!(report.codes.live, LiveDatabase::Unrelated);
        assert_eq!(report.codes.codes_lost, 0);
        assert_eq!(report.codes.hold.unwrap().reason, "live_unrelated");
        let (b, admin_b) = open_app(&other, &key).await;
        // Its codes meant nothing for this installation: not carried.
        let v = b.codes().validate_code(&admin_b, &theirs[0]).await.unwrap();
        assert!(v.registry.is_none() || v.registry.unwrap().status != LOST_IN_RESTORE);
        // --skip moves every counter on.
        let resumed = b
            .backups()
            .resume_code_issuing(
                &admin_b,
                ResumeIssuing {
                    skip: Some(100),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(resumed.raised.len(), 1);
        assert_eq!(resumed.raised[0].from, Some(2));
        assert_eq!(resumed.raised[0].to, 102);
        let next = create(&b, &admin_b, "丙公司").await.unwrap();
        assert_eq!(next, "C00000102");
    }
}
