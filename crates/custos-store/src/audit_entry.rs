//! Audit entries as recorded and as stored, the canonical form their hash covers, and the
//! result of verifying the chain: the types both the log (`audit`) and the chain's keys
//! and verification (`audit_chain`) work with.

use serde::Serialize;

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
    /// The API key the actor used (`<id>:<prefix>`), when it used one.
    pub api_key: Option<String>,
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
    /// The audit key whose HMAC `hash` is; `None`: plain SHA-256 (earlier versions).
    pub key_id: Option<String>,
    /// The API key the actor used (`<id>:<prefix>`), when it used one.
    pub api_key: Option<String>,
}

/// The fields the hash covers, in a fixed order (serde keeps struct order).
#[derive(Serialize)]
pub(crate) struct Canonical<'a> {
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
    /// Absent from unkeyed entries, whose encoding predates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    key_id: Option<&'a str>,
    /// Absent unless the entry was made with an API key, so entries without one (every
    /// entry written before keys existed) keep the encoding their hash was made over.
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
}

/// The canonical form of `r` as entry `seq` after `prev_hash`, keyed by `key_id`.
pub(crate) fn record_canonical<'a>(
    r: &'a AuditRecord,
    seq: i64,
    prev_hash: &'a str,
    key_id: &'a str,
) -> Canonical<'a> {
    Canonical {
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
        key_id: Some(key_id),
        api_key: r.api_key.as_deref(),
    }
}

impl AuditEntry {
    /// The fields this entry's hash covers, as stored.
    pub(crate) fn canonical(&self) -> Canonical<'_> {
        Canonical {
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
            key_id: self.key_id.as_deref(),
            api_key: self.api_key.as_deref(),
        }
    }
}

/// Result of walking the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    Ok {
        entries: i64,
        head_hash: String,
        /// Entries written before the chain was keyed and not sealed yet (an older
        /// database that this version has not opened for writing).
        unsealed: i64,
        /// Checkpoints checked against the chain.
        checkpoints: usize,
    },
    Broken {
        seq: i64,
        reason: String,
    },
}
