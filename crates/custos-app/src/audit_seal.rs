//! The one-time pass that brings an audit chain of an earlier version under the key.
//!
//! Entries written before the chain was keyed keep their plain SHA-256 hashes: the log
//! is append-only, so they are not rewritten. Instead the pass verifies them as they
//! are, in bounded batches, and appends one keyed entry (the seal, `audit.chain_keyed`)
//! whose authenticated content names how many there are, the head they end at and a
//! digest of them. From then on verification accepts unkeyed entries only before that
//! seal and only exactly as sealed, so rewriting them needs the key as much as rewriting
//! a keyed entry does. If the old chain was already broken it is kept as it is, the
//! break is logged as an error and recorded in the seal, and the keyed chain starts
//! there. The pass records itself in the setting [`DONE`].

use crate::audit::Audit;
use custos_store::{LegacyScan, SEAL_ACTION};

use crate::AppResult;

/// The setting recording that the chain was keyed (JSON: when, and the seal's entry).
pub const DONE: &str = "audit_chain_keyed";

/// Unkeyed entries read per transaction.
const BATCH: i64 = 5000;

impl Audit<'_> {
    /// Seal the unkeyed start of the audit chain under the key, once (run at start-up).
    /// Returns the seal's entry number when one was written.
    pub async fn seal_unkeyed_audit_chain(&self) -> AppResult<Option<i64>> {
        let mut tx = self.app.db.begin_read().await?;
        let done = tx.setting(DONE).await?.is_some();
        tx.rollback().await?;
        if done {
            return Ok(None);
        }
        // Read the unkeyed entries outside the write transaction, a batch at a time.
        let mut scan = LegacyScan::default();
        loop {
            let mut tx = self.app.db.begin_read().await?;
            let more = tx.scan_legacy_audit(&mut scan, BATCH).await?;
            tx.rollback().await?;
            if !more {
                break;
            }
        }
        if scan.entries > 0 && !scan.keyed_found && self.has_audit_checkpoints() {
            // Checkpoints exist only where the chain was keyed before: unkeyed entries
            // without a seal there mean the log was rewritten. Leave it for verify.
            tracing::error!(
                entries = scan.entries,
                "the audit log holds unkeyed entries although audit checkpoints exist: \
                 the log was rewritten without the key; not sealing it (run `custos audit verify`)"
            );
            return Ok(None);
        }
        let mut tx = self.app.db.begin().await?;
        tx.lock_audit_head().await?;
        if tx.setting(DONE).await?.is_some() {
            // Another server sealed it meanwhile.
            tx.rollback().await?;
            return Ok(None);
        }
        // Entries an older server appended since the scan, under the head lock now.
        while tx.scan_legacy_audit(&mut scan, BATCH).await? {}
        let seal_seq = if scan.entries > 0 && !scan.keyed_found {
            let head = tx.audit_head().await?;
            let seal = scan.seal(&head);
            let mut r = crate::audit::record_ctx(
                None,
                "system",
                &crate::Context::new(crate::Source::System),
                SEAL_ACTION,
                "audit_log",
                &format!("1-{}", head.0),
            );
            r.after = crate::to_json(&seal);
            r.reason = Some(match &scan.broken {
                None => format!(
                    "{} entries of an unkeyed chain verified and sealed",
                    scan.entries
                ),
                Some((seq, why)) => format!(
                    "the unkeyed chain was already broken at entry {seq} ({why}); kept as it is"
                ),
            });
            Some(crate::audit::append(&mut tx, r).await?)
        } else {
            None
        };
        let note = serde_json::json!({ "at": crate::auth::format_time(custos_store::now_us()), "seal": seal_seq });
        tx.put_setting(DONE, &note.to_string()).await?;
        tx.commit().await?;
        match (&scan.broken, seal_seq) {
            (Some((seq, why)), Some(at)) => tracing::error!(
                broken_at = seq,
                seal = at,
                "THE AUDIT CHAIN WRITTEN BEFORE THE KEY WAS BROKEN at entry {seq}: {why}. \
                 It is kept as it is and sealed by entry {at}; the keyed chain starts there"
            ),
            (None, Some(at)) => tracing::info!(
                entries = scan.entries,
                seal = at,
                "audit chain keyed: earlier entries verified and sealed"
            ),
            _ => {}
        }
        if seal_seq.is_some() {
            self.checkpoint_after("the audit chain was keyed").await;
        }
        Ok(seal_seq)
    }
}
