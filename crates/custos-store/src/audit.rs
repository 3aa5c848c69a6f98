//! The audit log (操作日志): append-only and hash-chained. Each entry's hash covers a
//! canonical encoding of its own fields plus the previous entry's hash, so editing,
//! deleting or reordering any entry breaks every later link. The hash is an HMAC under
//! the audit key (see `audit_chain`), so the chain cannot be recomputed without it.

use std::sync::OnceLock;

use crate::audit_chain::{keyed_hash, Anchor, ChainWalk};
use crate::audit_entry::{record_canonical, AuditEntry, AuditRecord, ChainReport};
use crate::sql_text::placeholders_for;
use crate::{on_tx, Backend, StoreError, StoreResult, Tx};

/// Where a new entry goes: its number, the hash it follows, its own hash and the key.
pub(crate) struct ChainPlace {
    pub(crate) seq: i64,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
    pub(crate) key_id: String,
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub actor_id: Option<i64>,
    /// Only entries by users of these departments (a caller whose audit scope is a
    /// department subtree); an empty list matches nothing.
    pub actor_departments: Option<Vec<i64>>,
    pub action: Option<String>,
    /// Matches actions starting with this text (e.g. `user.`).
    pub action_prefix: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from_us: Option<i64>,
    pub to_us: Option<i64>,
    /// Entries with `seq` below this (cursor; newest first).
    pub before_seq: Option<i64>,
    pub limit: i64,
}

pub(crate) const AUDIT_COLS: &str = "seq, at, actor_id, actor_name, source, action, target_type, \
    target_id, before_json, after_json, reason, request_id, ip, prev_hash, hash, key_id, api_key";

impl Tx {
    /// Append an entry in this transaction. Taking the head row serialises appenders, so
    /// the chain has no forks even with several server processes on one PostgreSQL.
    pub async fn append_audit(&mut self, r: &AuditRecord) -> StoreResult<i64> {
        let ChainPlace {
            seq,
            prev_hash,
            hash,
            key_id,
        } = self.advance_audit_head(r).await?;
        // The entry and the head's new hash in one round trip.
        static SQL: OnceLock<[String; 2]> = OnceLock::new();
        let [sqlite, postgres] = SQL.get_or_init(|| {
            let values = placeholders_for(AUDIT_COLS);
            let insert = format!("INSERT INTO audit_log ({AUDIT_COLS}) VALUES ({values})");
            [
                format!("{insert}; UPDATE audit_head SET seq = $1, hash = $15 WHERE id = 1"),
                format!(
                    "WITH a AS ({insert}) UPDATE audit_head SET seq = $1, hash = $15 WHERE id = 1"
                ),
            ]
        });
        let sql = match self.backend() {
            Backend::Sqlite => sqlite,
            Backend::Postgres => postgres,
        };
        on_tx!(self, |c| sqlx::query(sql)
            .bind(seq)
            .bind(r.at)
            .bind(r.actor_id)
            .bind(&r.actor_name)
            .bind(&r.source)
            .bind(&r.action)
            .bind(&r.target_type)
            .bind(&r.target_id)
            .bind(&r.before)
            .bind(&r.after)
            .bind(&r.reason)
            .bind(&r.request_id)
            .bind(&r.ip)
            .bind(&prev_hash)
            .bind(&hash)
            .bind(&key_id)
            .bind(&r.api_key)
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        self.audit_head_written(seq, hash);
        Ok(seq)
    }

    /// Take the next place in the chain for `r`: its sequence number, the previous hash,
    /// its own hash (keyed) and the key's id. The caller must write the entry and set the
    /// head to `(seq, hash)` in one statement, then call [`Tx::audit_head_written`];
    /// until then nothing has changed, so a write that fails leaves the chain as it was.
    pub(crate) async fn advance_audit_head(&mut self, r: &AuditRecord) -> StoreResult<ChainPlace> {
        // A handle without the key must not write entries nobody can verify.
        let keys = self.audit_keys.clone().ok_or_else(|| {
            StoreError::Other("the audit key is not set: no audit entry can be written".into())
        })?;
        let key = keys.current();
        let (last, prev_hash) = self.held_audit_head().await?;
        let seq = last + 1;
        let hash = keyed_hash(key, &record_canonical(r, seq, &prev_hash, key.id()));
        Ok(ChainPlace {
            seq,
            prev_hash,
            hash,
            key_id: key.id().to_string(),
        })
    }

    /// The chain's head, read once per transaction (locked until it ends on PostgreSQL)
    /// and then kept in the transaction's cache.
    async fn held_audit_head(&mut self) -> StoreResult<(i64, String)> {
        if let Some(head) = &self.cache.audit_head {
            return Ok(head.clone());
        }
        let sql = match self.backend() {
            Backend::Sqlite => "SELECT seq, hash FROM audit_head WHERE id = 1",
            Backend::Postgres => "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE",
        };
        let head: (i64, String) = on_tx!(self, |c| sqlx::query_as(sql).fetch_one(c).await)?;
        self.cache.audit_head = Some(head.clone());
        Ok(head)
    }

    /// The entry `seq` with `hash` was written and the head set to it.
    pub(crate) fn audit_head_written(&mut self, seq: i64, hash: String) {
        self.cache.audit_head = Some((seq, hash));
    }

    /// Entries matching a filter, newest first.
    pub async fn audit_entries(&mut self, f: &AuditFilter) -> StoreResult<Vec<AuditEntry>> {
        let mut sql = format!("SELECT {AUDIT_COLS} FROM audit_log WHERE 1=1");
        let mut n = 0;
        let mut next = |col: &str| {
            n += 1;
            format!(" AND {col} ${n}")
        };
        let mut binds: Vec<Bind> = Vec::new();
        if let Some(v) = f.actor_id {
            sql.push_str(&next("actor_id ="));
            binds.push(Bind::I(v));
        }
        if let Some(depts) = &f.actor_departments {
            // Ids are integers, so they are written into the statement rather than bound.
            let list = depts
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(",");
            if list.is_empty() {
                sql.push_str(" AND 1=0");
            } else {
                sql.push_str(&format!(
                    " AND actor_id IN (SELECT id FROM users WHERE department_id IN ({list}))"
                ));
            }
        }
        if let Some(v) = &f.action {
            sql.push_str(&next("action ="));
            binds.push(Bind::S(v.clone()));
        }
        if let Some(v) = &f.action_prefix {
            sql.push_str(&next("action LIKE"));
            // SQLite has no default LIKE escape character; PostgreSQL's is backslash.
            sql.push_str(" ESCAPE '\\'");
            binds.push(Bind::S(format!("{}%", escape_like(v))));
        }
        if let Some(v) = &f.target_type {
            sql.push_str(&next("target_type ="));
            binds.push(Bind::S(v.clone()));
        }
        if let Some(v) = &f.target_id {
            sql.push_str(&next("target_id ="));
            binds.push(Bind::S(v.clone()));
        }
        if let Some(v) = f.from_us {
            sql.push_str(&next("at >="));
            binds.push(Bind::I(v));
        }
        if let Some(v) = f.to_us {
            sql.push_str(&next("at <"));
            binds.push(Bind::I(v));
        }
        if let Some(v) = f.before_seq {
            sql.push_str(&next("seq <"));
            binds.push(Bind::I(v));
        }
        sql.push_str(&format!(
            " ORDER BY seq DESC LIMIT {}",
            f.limit.clamp(1, 1000)
        ));
        Ok(on_tx!(self, |c| {
            let mut q = sqlx::query_as::<_, AuditEntry>(&sql);
            for b in &binds {
                q = match b {
                    Bind::I(i) => q.bind(*i),
                    Bind::S(s) => q.bind(s.clone()),
                };
            }
            q.fetch_all(c).await
        })?)
    }

    /// Entries in chain order from `after_seq`, a batch at a time (for verification).
    pub async fn audit_batch(
        &mut self,
        after_seq: i64,
        limit: i64,
    ) -> StoreResult<Vec<AuditEntry>> {
        let sql =
            format!("SELECT {AUDIT_COLS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2");
        Ok(on_tx!(self, |c| sqlx::query_as::<_, AuditEntry>(&sql)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(c)
            .await)?)
    }

    pub async fn audit_head(&mut self) -> StoreResult<(i64, String)> {
        Ok(on_tx!(self, |c| sqlx::query_as::<_, (i64, String)>(
            "SELECT seq, hash FROM audit_head WHERE id = 1"
        )
        .fetch_one(c)
        .await)?)
    }

    /// Walk the whole chain: every entry's hash must match its fields (keyed entries
    /// under the audit key), link to the one before, numbers must be consecutive, and
    /// the head must point at the last entry.
    pub async fn verify_audit_chain(&mut self) -> StoreResult<ChainReport> {
        self.verify_audit_chain_against(&[]).await
    }

    /// [`Tx::verify_audit_chain`], also checking each checkpoint kept outside the
    /// database: the entry it names must exist and have the hash it names.
    pub async fn verify_audit_chain_against(
        &mut self,
        anchors: &[Anchor],
    ) -> StoreResult<ChainReport> {
        let keys = self.audit_keys.clone();
        let walk = ChainWalk::new(keys.as_deref(), anchors);
        self.walk_audit_chain(walk, 0).await
    }

    /// Feed the entries after `after` to `walk`, a batch at a time, then the head.
    async fn walk_audit_chain(
        &mut self,
        mut walk: ChainWalk<'_>,
        mut after: i64,
    ) -> StoreResult<ChainReport> {
        loop {
            let batch = self.audit_batch(after, 5000).await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = last.seq;
            for e in &batch {
                if let Err((seq, reason)) = walk.step(e) {
                    return Ok(ChainReport::Broken { seq, reason });
                }
            }
        }
        let head = self.audit_head().await?;
        Ok(walk.finish(head))
    }

    /// Verify only the entries after `from` (an entry and hash known good, e.g. from the
    /// last checkpoint), which must still be there, and the head after them. Cheap when
    /// `from` is recent: what a periodic checkpoint checks before it anchors the head.
    pub async fn verify_audit_since(
        &mut self,
        from: Option<(i64, String)>,
    ) -> StoreResult<ChainReport> {
        let Some((seq, hash)) = from.filter(|f| f.0 > 0) else {
            return self.verify_audit_chain().await;
        };
        let same = self.audit_batch(seq - 1, 1).await?;
        if !same.first().is_some_and(|e| e.seq == seq && e.hash == hash) {
            return Ok(ChainReport::Broken {
                seq,
                reason: "the entry of the last checkpoint is missing or rewritten".into(),
            });
        }
        let keys = self.audit_keys.clone();
        let walk = ChainWalk::resume(keys.as_deref(), seq, hash);
        self.walk_audit_chain(walk, seq).await
    }

    /// Whether any entry is keyed with a key other than `key_id` (any key, for `None`):
    /// such a log cannot be verified without that key.
    pub async fn audit_keyed_with_other(&mut self, key_id: Option<&str>) -> StoreResult<bool> {
        let found: Option<i64> = on_tx!(self, |c| sqlx::query_scalar(
            "SELECT seq FROM audit_log WHERE key_id IS NOT NULL AND key_id <> $1 LIMIT 1"
        )
        .bind(key_id.unwrap_or(""))
        .fetch_optional(c)
        .await)?;
        Ok(found.is_some())
    }

    /// Continue `scan` over the unkeyed entries at the start of the chain, one batch of
    /// at most `limit`; `false` once it reached a keyed entry or the end.
    pub async fn scan_legacy_audit(
        &mut self,
        scan: &mut crate::audit_chain::LegacyScan,
        limit: i64,
    ) -> StoreResult<bool> {
        if scan.keyed_found {
            return Ok(false);
        }
        let batch = self.audit_batch(scan.last_seq, limit).await?;
        for e in &batch {
            if e.key_id.is_some() {
                scan.keyed_found = true;
                return Ok(false);
            }
            scan.take(e);
        }
        Ok(batch.len() as i64 == limit)
    }
}

enum Bind {
    I(i64),
    S(String),
}

fn escape_like(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Tx {
    /// Take the audit chain's head lock now (PostgreSQL), so a transaction that will also
    /// lock sequence rows always locks in the same order: head first. Once the transaction
    /// holds the head this does nothing, so callers need not track whether they took it.
    pub async fn lock_audit_head(&mut self) -> StoreResult<()> {
        if self.backend() == Backend::Postgres {
            self.held_audit_head().await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated list is the text the statement had when numbered by hand.
    #[test]
    fn audit_insert_has_one_parameter_per_column() {
        assert_eq!(
            placeholders_for(AUDIT_COLS),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17"
        );
    }
}
