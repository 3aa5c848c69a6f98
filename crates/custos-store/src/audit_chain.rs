//! The audit chain's keys and its verification.
//!
//! Entries written since the chain was keyed carry `key_id` and a hash that is an
//! HMAC-SHA256 under that audit key, so someone who can write the database but does not
//! hold the key cannot recompute a valid chain after editing or removing entries. Entries
//! written by earlier versions (`key_id` NULL) are hashed with plain SHA-256; they may
//! only form the start of the chain, and the first keyed entry must then be the seal
//! written when the key was first applied ([`SEAL_ACTION`]): its authenticated content
//! names how many unkeyed entries there were and a digest of them, which freezes them.
//!
//! Checkpoints kept outside the database ([`Anchor`]) name an entry and its hash at some
//! moment; verification checks each against the chain, which is what detects a tail
//! removed with the head rewound to match.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit_entry::{AuditEntry, Canonical, ChainReport, GENESIS_HASH};

type HmacSha256 = Hmac<Sha256>;

/// The action of the entry that seals the unkeyed start of an older chain.
pub const SEAL_ACTION: &str = "audit.chain_keyed";

/// A key of the audit chain. Never stored in the database; custos-app derives it.
#[derive(Clone)]
pub struct AuditKey {
    id: String,
    mac: [u8; 32],
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AuditKey({})", self.id)
    }
}

impl AuditKey {
    pub fn new(id: impl Into<String>, mac: [u8; 32]) -> AuditKey {
        AuditKey { id: id.into(), mac }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    /// HMAC-SHA256 of `bytes` under this key, in hex.
    pub fn mac_hex(&self, bytes: &[u8]) -> String {
        // HMAC accepts keys of any length: this cannot fail.
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.mac).unwrap_or_else(|_| unreachable!());
        mac.update(bytes);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `mac_hex` is the MAC of `bytes` (compared in constant time).
    pub fn verify_hex(&self, bytes: &[u8], mac_hex: &str) -> bool {
        let Ok(given) = hex::decode(mac_hex) else {
            return false;
        };
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.mac).unwrap_or_else(|_| unreachable!());
        mac.update(bytes);
        mac.verify_slice(&given).is_ok()
    }
}

/// The keys a database handle uses: the first writes new entries; every one verifies
/// (older keys stay here after a key change so that older entries still verify).
#[derive(Clone, Debug)]
pub struct AuditKeys {
    keys: Vec<AuditKey>,
}

impl AuditKeys {
    pub fn new(current: AuditKey) -> AuditKeys {
        AuditKeys {
            keys: vec![current],
        }
    }

    /// Also verify with `older`.
    pub fn with_older(mut self, older: AuditKey) -> AuditKeys {
        if self.find(older.id()).is_none() {
            self.keys.push(older);
        }
        self
    }

    pub fn current(&self) -> &AuditKey {
        &self.keys[0]
    }

    pub fn find(&self, id: &str) -> Option<&AuditKey> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// Where the keys of a database handle live; set once the application knows them.
pub(crate) type AuditKeySlot = Arc<std::sync::RwLock<Option<Arc<AuditKeys>>>>;

/// The legacy (unkeyed) hash of an entry's canonical form.
pub(crate) fn legacy_hash(c: &Canonical<'_>) -> String {
    hex::encode(Sha256::digest(canonical_bytes(c)))
}

/// The keyed hash of an entry's canonical form (which names the key).
pub(crate) fn keyed_hash(key: &AuditKey, c: &Canonical<'_>) -> String {
    key.mac_hex(&canonical_bytes(c))
}

fn canonical_bytes(c: &Canonical<'_>) -> Vec<u8> {
    // Serialising plain strings and integers cannot fail.
    serde_json::to_vec(c).unwrap_or_default()
}

/// What the seal entry records about the unkeyed entries before it (its `after`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacySeal {
    /// How many unkeyed entries there are (all before the seal).
    pub legacy_entries: i64,
    /// The chain head when the seal was written; the seal is entry `legacy_head_seq + 1`.
    pub legacy_head_seq: i64,
    pub legacy_head_hash: String,
    /// SHA-256 over the unkeyed entries as stored (see [`LegacyScan`]).
    pub legacy_digest: String,
    /// The first problem of the unkeyed part, when it was already broken.
    pub legacy_broken_at: Option<i64>,
    pub legacy_break: Option<String>,
}

/// A walk over the unkeyed start of a chain: whether it holds, and a digest of it.
#[derive(Clone)]
pub struct LegacyScan {
    pub entries: i64,
    /// The first problem met, if any: (entry, reason).
    pub broken: Option<(i64, String)>,
    pub last_seq: i64,
    pub last_hash: String,
    /// A keyed entry was reached: the unkeyed part ends before it.
    pub keyed_found: bool,
    digest: Sha256,
}

impl Default for LegacyScan {
    fn default() -> Self {
        LegacyScan {
            entries: 0,
            broken: None,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            keyed_found: false,
            digest: Sha256::new(),
        }
    }
}

impl LegacyScan {
    /// Take the next unkeyed entry. A problem is noted, not fatal: a broken old chain is
    /// kept as it is and sealed.
    pub(crate) fn take(&mut self, e: &AuditEntry) {
        if self.broken.is_none() {
            let expected = self.last_seq + 1;
            if e.seq != expected {
                self.broken = Some((
                    expected,
                    format!("entry {expected} is missing (next is {})", e.seq),
                ));
            } else if e.prev_hash != self.last_hash {
                self.broken = Some((
                    e.seq,
                    "prev_hash does not match the previous entry".to_string(),
                ));
            } else if legacy_hash(&e.canonical()) != e.hash {
                self.broken = Some((
                    e.seq,
                    "content does not match its hash (edited)".to_string(),
                ));
            }
        }
        self.digest.update(e.seq.to_be_bytes());
        self.digest.update(canonical_bytes(&e.canonical()));
        self.digest.update(e.hash.as_bytes());
        self.digest.update(b"\n");
        self.entries += 1;
        self.last_seq = e.seq;
        self.last_hash = e.hash.clone();
    }

    pub fn digest_hex(&self) -> String {
        hex::encode(self.digest.clone().finalize())
    }

    /// What a seal written now, with the chain head at `head`, records.
    pub fn seal(&self, head: &(i64, String)) -> LegacySeal {
        LegacySeal {
            legacy_entries: self.entries,
            legacy_head_seq: head.0,
            legacy_head_hash: head.1.clone(),
            legacy_digest: self.digest_hex(),
            legacy_broken_at: self.broken.as_ref().map(|b| b.0),
            legacy_break: self.broken.as_ref().map(|b| b.1.clone()),
        }
    }
}

/// A checkpoint kept outside the database: entry `seq` had `hash` when it was written.
#[derive(Debug, Clone)]
pub struct Anchor {
    pub seq: i64,
    pub hash: String,
    /// How to name it in a report (e.g. the file, line and time).
    pub label: String,
}

type Problem = (i64, String);

/// A walk over the whole chain in order, entry by entry.
pub(crate) struct ChainWalk<'a> {
    keys: Option<&'a AuditKeys>,
    /// Sorted by sequence number; `next_anchor` is the first not yet passed.
    anchors: Vec<&'a Anchor>,
    next_anchor: usize,
    legacy: LegacyScan,
    keyed: bool,
    count: i64,
    last_seq: i64,
    last_hash: String,
}

impl<'a> ChainWalk<'a> {
    pub(crate) fn new(keys: Option<&'a AuditKeys>, anchors: &'a [Anchor]) -> ChainWalk<'a> {
        let mut sorted: Vec<&Anchor> = anchors.iter().collect();
        sorted.sort_by_key(|a| a.seq);
        ChainWalk {
            keys,
            anchors: sorted,
            next_anchor: 0,
            legacy: LegacyScan::default(),
            keyed: false,
            count: 0,
            last_seq: 0,
            last_hash: GENESIS_HASH.to_string(),
        }
    }

    /// A walk that continues after entry `seq` with `hash`, known good and keyed.
    pub(crate) fn resume(keys: Option<&'a AuditKeys>, seq: i64, hash: String) -> ChainWalk<'a> {
        ChainWalk {
            keyed: true,
            last_seq: seq,
            last_hash: hash,
            ..ChainWalk::new(keys, &[])
        }
    }

    pub(crate) fn step(&mut self, e: &AuditEntry) -> Result<(), Problem> {
        match e.key_id.as_deref() {
            None if self.keyed => {
                return Err((
                    e.seq,
                    "entry is not keyed: written or rewritten without the audit key".into(),
                ))
            }
            None => self.legacy.take(e),
            Some(kid) => self.step_keyed(e, kid)?,
        }
        self.count += 1;
        self.last_seq = e.seq;
        self.last_hash = e.hash.clone();
        self.check_anchors(e)
    }

    fn step_keyed(&mut self, e: &AuditEntry, kid: &str) -> Result<(), Problem> {
        // Without keys (a restore that does not know the backup's key) only the
        // structure is checked; every handle of the application has them.
        let key = match self.keys {
            None => None,
            Some(keys) => Some(keys.find(kid).ok_or_else(|| {
                (
                    e.seq,
                    format!("entry is keyed with audit key {kid}, which is not configured"),
                )
            })?),
        };
        let first_after_legacy = !self.keyed && self.legacy.entries > 0;
        if !first_after_legacy {
            let expected = self.last_seq + 1;
            if e.seq != expected {
                return Err((
                    expected,
                    format!("entry {expected} is missing (next is {})", e.seq),
                ));
            }
            if e.prev_hash != self.last_hash {
                return Err((e.seq, "prev_hash does not match the previous entry".into()));
            }
        }
        if key.is_some_and(|key| keyed_hash(key, &e.canonical()) != e.hash) {
            return Err((
                e.seq,
                "content does not match its keyed hash (edited, or rehashed without the key)"
                    .into(),
            ));
        }
        if first_after_legacy {
            self.check_seal(e)?;
        }
        self.keyed = true;
        Ok(())
    }

    /// The first keyed entry after unkeyed ones must be the seal, and the unkeyed entries
    /// must be exactly those it sealed.
    fn check_seal(&self, e: &AuditEntry) -> Result<(), Problem> {
        let n = self.legacy.entries;
        let seal: Option<LegacySeal> = (e.action == SEAL_ACTION)
            .then_some(e.after_json.as_deref())
            .flatten()
            .and_then(|t| serde_json::from_str(t).ok());
        let Some(seal) = seal else {
            return Err((
                e.seq,
                format!("keyed entries follow {n} unkeyed ones without a seal entry"),
            ));
        };
        let changed = format!(
            "the {n} entries written before the audit key differ from what entry {} sealed \
             (edited, added or removed since)",
            e.seq
        );
        if seal.legacy_entries != n
            || seal.legacy_digest != self.legacy.digest_hex()
            || e.seq != seal.legacy_head_seq + 1
            || e.prev_hash != seal.legacy_head_hash
        {
            let at = self.legacy.broken.as_ref().map(|b| b.0).unwrap_or(e.seq);
            return Err((at, changed));
        }
        if let (None, Some((at, why))) = (seal.legacy_broken_at, &self.legacy.broken) {
            return Err((*at, format!("{why}; {changed}")));
        }
        Ok(())
    }

    fn check_anchors(&mut self, e: &AuditEntry) -> Result<(), Problem> {
        while let Some(a) = self.anchors.get(self.next_anchor) {
            if a.seq > e.seq {
                break;
            }
            if a.seq < e.seq {
                return Err((
                    a.seq,
                    format!("{} names entry {}, which is missing", a.label, a.seq),
                ));
            }
            if a.hash != e.hash {
                return Err((
                    e.seq,
                    format!(
                        "entry does not match {} (rewritten since the checkpoint)",
                        a.label
                    ),
                ));
            }
            self.next_anchor += 1;
        }
        Ok(())
    }

    /// The walk is over; `head` is the stored head.
    pub(crate) fn finish(self, head: (i64, String)) -> ChainReport {
        let (head_seq, head_hash) = head;
        if !self.keyed {
            if let Some((seq, reason)) = self.legacy.broken.clone() {
                return ChainReport::Broken { seq, reason };
            }
        }
        if head_seq != self.last_seq || head_hash != self.last_hash {
            return ChainReport::Broken {
                seq: head_seq,
                reason: format!(
                    "chain head says entry {head_seq} but the log ends at {} (entries removed)",
                    self.last_seq
                ),
            };
        }
        if let Some(a) = self.anchors.get(self.next_anchor) {
            return ChainReport::Broken {
                seq: a.seq,
                reason: format!(
                    "{} names entry {}, but the log ends at {} (entries removed)",
                    a.label, a.seq, self.last_seq
                ),
            };
        }
        ChainReport::Ok {
            entries: self.count,
            head_hash,
            unsealed: if self.keyed { 0 } else { self.legacy.entries },
            checkpoints: self.anchors.len(),
        }
    }
}
