//! The audit log (操作日志): append-only and hash-chained. Each entry's hash covers a
//! canonical encoding of its own fields plus the previous entry's hash, so editing,
//! deleting or reordering any entry breaks every later link.

use std::sync::OnceLock;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{on_tx, Backend, StoreResult, Tx};

pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What a use case records; the store adds sequence number and hashes.
#[derive(Debug, Clone, Default)]
pub struct AuditRecord {
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    /// `api`, `cli`, `console`, `import`, `system`.
    pub source: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    /// JSON text of the state before / after (never plaintext PII).
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
}

/// A stored entry.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub actor_name: String,
    pub source: String,
    pub action: String,
    pub target_type: String,
    pub target_id: String,
    pub before_json: Option<String>,
    pub after_json: Option<String>,
    pub reason: Option<String>,
    pub request_id: Option<String>,
    pub ip: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields the hash covers, in a fixed order (serde keeps struct order).
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

/// The hash of `r` as entry `seq` after an entry hashed `prev_hash`.
pub(crate) fn chain_hash(r: &AuditRecord, seq: i64, prev_hash: &str) -> String {
    entry_hash(&Canonical {
        seq,
        at: r.at,
        actor_id: r.actor_id,
        actor_name: &r.actor_name,
        source: &r.source,
        action: &r.action,
        target_type: &r.target_type,
        target_id: &r.target_id,
        before: r.before.as_deref(),
        after: r.after.as_deref(),
        reason: r.reason.as_deref(),
        request_id: r.request_id.as_deref(),
        ip: r.ip.as_deref(),
        prev_hash,
    })
}

fn entry_hash(c: &Canonical<'_>) -> String {
    // Serialising plain strings and integers cannot fail.
    let bytes = serde_json::to_vec(c).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

impl AuditEntry {
    /// Recompute this entry's hash from its fields.
    pub fn computed_hash(&self) -> String {
        entry_hash(&Canonical {
            seq: self.seq,
            at: self.at,
            actor_id: self.actor_id,
            actor_name: &self.actor_name,
            source: &self.source,
            action: &self.action,
            target_type: &self.target_type,
            target_id: &self.target_id,
            before: self.before_json.as_deref(),
            after: self.after_json.as_deref(),
            reason: self.reason.as_deref(),
            request_id: self.request_id.as_deref(),
            ip: self.ip.as_deref(),
            prev_hash: &self.prev_hash,
        })
    }
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

/// Result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    Ok { entries: i64, head_hash: String },
    Broken { seq: i64, reason: String },
}

pub(crate) const AUDIT_COLS: &str = "seq, at, actor_id, actor_name, source, action, target_type, \
    target_id, before_json, after_json, reason, request_id, ip, prev_hash, hash";

impl Tx {
    /// Append an entry in this transaction. Taking the head row serialises appenders, so
    /// the chain has no forks even with several server processes on one PostgreSQL.
    pub async fn append_audit(&mut self, r: &AuditRecord) -> StoreResult<i64> {
        let (seq, prev_hash, hash) = self.advance_audit_head(r).await?;
        // The entry and the head's new hash in one round trip.
        static SQL: OnceLock<[String; 2]> = OnceLock::new();
        let [sqlite, postgres] = SQL.get_or_init(|| {
            let insert = format!(
                "INSERT INTO audit_log ({AUDIT_COLS}) VALUES \
                 ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
            );
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
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
        self.audit_head_written(seq, hash);
        Ok(seq)
    }

    /// Take the next place in the chain for `r`: its sequence number, the previous hash
    /// and its own hash. The caller must write the entry and set the head to
    /// `(seq, hash)` in one statement, then call [`Tx::audit_head_written`]; until then
    /// nothing has changed, so a write that fails leaves the chain as it was.
    pub(crate) async fn advance_audit_head(
        &mut self,
        r: &AuditRecord,
    ) -> StoreResult<(i64, String, String)> {
        let (last, prev_hash) = self.held_audit_head().await?;
        let seq = last + 1;
        let hash = chain_hash(r, seq, &prev_hash);
        Ok((seq, prev_hash, hash))
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

    /// Walk the whole chain: every entry's hash must match its fields, link to the one
    /// before, numbers must be consecutive, and the head must point at the last entry.
    pub async fn verify_audit_chain(&mut self) -> StoreResult<ChainReport> {
        let mut prev_hash = GENESIS_HASH.to_string();
        let mut expected_seq = 1;
        loop {
            let batch = self.audit_batch(expected_seq - 1, 5000).await?;
            if batch.is_empty() {
                break;
            }
            for e in batch {
                if e.seq != expected_seq {
                    return Ok(ChainReport::Broken {
                        seq: expected_seq,
                        reason: format!("entry {expected_seq} is missing (next is {})", e.seq),
                    });
                }
                if e.prev_hash != prev_hash {
                    return Ok(ChainReport::Broken {
                        seq: e.seq,
                        reason: "prev_hash does not match the previous entry".to_string(),
                    });
                }
                if e.computed_hash() != e.hash {
                    return Ok(ChainReport::Broken {
                        seq: e.seq,
                        reason: "content does not match its hash (edited)".to_string(),
                    });
                }
                prev_hash = e.hash;
                expected_seq += 1;
            }
        }
        let (head_seq, head_hash) = self.audit_head().await?;
        if head_seq != expected_seq - 1 || head_hash != prev_hash {
            return Ok(ChainReport::Broken {
                seq: head_seq,
                reason: format!(
                    "chain head says entry {head_seq} but the log ends at {} (entries removed)",
                    expected_seq - 1
                ),
            });
        }
        Ok(ChainReport::Ok {
            entries: expected_seq - 1,
            head_hash,
        })
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
