//! Personal data at rest (invariant 6): AES-256-GCM encryption of each value with a fresh
//! 96-bit nonce, a keyed blind index (HMAC-SHA256) for exact lookups, and masking for
//! callers without `customer.pii.read`.
//!
//! A 32-byte master key yields independent keys by HMAC derivation: encryption, blind
//! index, the duplicate check's match hashes, sealed files, the audit chain and its
//! checkpoints, and a check value stored in `settings` so that a wrong or lost key stops
//! the start-up with a clear message instead of producing garbage. Ciphertexts carry the
//! key id.
//!
//! Several master keys may be known at once, a key ring ([`PiiKey`], file form in
//! [`ring_file`]): the active key encrypts new values and computes new index entries;
//! every key of the ring decrypts, and lookups compute their blind index and match hashes
//! under every key, so a customer not yet re-keyed after a rotation is still found (see
//! `keyring.rs`). Which key is active is recorded in the database, so every server on it
//! agrees.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::error::{AppError, AppResult};

mod master;
pub(crate) mod ring_file;

pub use master::MasterKey;
use master::{AuditOnly, PREFIX};
use ring_file::RingText;

/// The settings key holding the check value of the active key (its id first).
pub const CHECK_SETTING: &str = "pii_key_check";

/// The ring at one moment: its keys, which one is active, and retired audit keys.
struct Ring {
    keys: Vec<Arc<MasterKey>>,
    active: usize,
    retired: Vec<AuditOnly>,
}

impl Ring {
    fn of(text: RingText, active_id: Option<&str>) -> Ring {
        let keys: Vec<Arc<MasterKey>> = text.keys.into_iter().map(Arc::new).collect();
        let active = active_id
            .and_then(|id| keys.iter().position(|k| k.key_id() == id))
            .unwrap_or(0);
        Ring {
            keys,
            active,
            retired: text.retired,
        }
    }

    fn text(&self) -> RingText {
        RingText {
            keys: self.keys.iter().map(|k| (**k).clone()).collect(),
            retired: self.retired.clone(),
        }
    }
}

/// The PII key ring. Cheap to clone; clones share the ring, so a change of the active
/// key ([`PiiKey::activate`]) or a reload of the file is seen by every holder.
#[derive(Clone)]
pub struct PiiKey {
    ring: Arc<RwLock<Arc<Ring>>>,
    /// The file the ring was read from, which rotation and retirement rewrite.
    file: Option<PathBuf>,
}

impl std::fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PiiKey(active {}, ring {:?})", self.key_id(), self.ids())
    }
}

impl PiiKey {
    fn from_text(text: RingText, file: Option<PathBuf>) -> PiiKey {
        PiiKey {
            ring: Arc::new(RwLock::new(Arc::new(Ring::of(text, None)))),
            file,
        }
    }

    fn now(&self) -> Arc<Ring> {
        self.ring.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn set(&self, ring: Ring) {
        *self.ring.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(ring);
    }

    /// The active key.
    pub fn active(&self) -> Arc<MasterKey> {
        let r = self.now();
        r.keys[r.active].clone()
    }

    /// A ring of one key.
    pub fn from_master(master: &[u8; 32]) -> PiiKey {
        PiiKey::from_keys(vec![MasterKey::from_master(master)])
    }

    /// A ring of these keys (the first active); `keys` must not be empty.
    pub fn from_keys(keys: Vec<MasterKey>) -> PiiKey {
        PiiKey::from_text(
            RingText {
                keys,
                retired: Vec::new(),
            },
            None,
        )
    }

    /// A fresh random key (tests; never used silently for a real database).
    pub fn random() -> PiiKey {
        PiiKey::from_keys(vec![MasterKey::random()])
    }

    /// Parse a ring given as text (`CUSTOS_PII_KEY`): one or several base64 keys.
    pub fn from_base64(text: &str) -> Result<PiiKey, String> {
        Ok(PiiKey::from_text(
            ring_file::parse(text, "the PII key")?,
            None,
        ))
    }

    /// Read the key file, creating it (mode 0600, one random key) when absent.
    pub fn load_or_create_file(path: &Path) -> Result<PiiKey, String> {
        if let Some(key) = PiiKey::load_file(path)? {
            return Ok(key);
        }
        if let Some(dir) = path.parent() {
            custos_store::private_files::create_dir_all(dir)
                .map_err(|e| format!("cannot create the directory of {}: {e}", path.display()))?;
        }
        let text = RingText {
            keys: vec![MasterKey::random()],
            retired: Vec::new(),
        };
        custos_store::private_files::write_new(path, ring_file::render(&text).as_bytes())
            .map_err(|e| format!("cannot create the PII key file {}: {e}", path.display()))?;
        Ok(PiiKey::from_text(text, Some(path.to_path_buf())))
    }

    /// Read an existing key file; `None` when there is none.
    pub fn load_file(path: &Path) -> Result<Option<PiiKey>, String> {
        if !path.exists() {
            return Ok(None);
        }
        let text = read_ring(path)?;
        Ok(Some(PiiKey::from_text(text, Some(path.to_path_buf()))))
    }

    /// This ring, to be rewritten to `path` by rotation and retirement.
    pub fn with_file(mut self, path: &Path) -> PiiKey {
        self.file = Some(path.to_path_buf());
        self
    }

    /// The file the ring is kept in, if it was read from one.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Read the file again (keys added or retired by another process), keeping the active
    /// key; a file without the active key is refused and the loaded ring stays.
    pub fn reload(&self) -> Result<(), String> {
        self.reload_for(None)
    }

    /// [`PiiKey::reload`], also accepting a file that holds `next` (the key the database
    /// now names active) instead of the loaded active key.
    pub fn reload_for(&self, next: Option<&str>) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let text = read_ring(path)?;
        let active = self.key_id();
        let Some(keep) = [Some(active.as_str()), next]
            .into_iter()
            .flatten()
            .find(|id| text.keys.iter().any(|k| k.key_id() == *id))
        else {
            return Err(format!(
                "{} no longer holds the active PII key {active}; the loaded key ring stays",
                path.display()
            ));
        };
        let keep = keep.to_string();
        self.set(Ring::of(text, Some(&keep)));
        Ok(())
    }

    /// Write the ring to a new file (mode 0600); fails if the file exists.
    pub(crate) fn write_new_file(&self, path: &Path) -> std::io::Result<()> {
        let text = ring_file::render(&self.now().text());
        custos_store::private_files::write_new(path, text.as_bytes())
    }

    /// Add a new random key to the ring and its file (first line); not yet active.
    pub(crate) fn add_new_key(&self) -> Result<Arc<MasterKey>, String> {
        let path = self.writable_file()?;
        self.reload()?;
        let now = self.now();
        let mut text = now.text();
        let key = MasterKey::random();
        text.keys.insert(0, key.clone());
        ring_file::replace(path, &ring_file::render(&text))
            .map_err(|e| format!("cannot write the PII key file {}: {e}", path.display()))?;
        let active = now.keys[now.active].key_id().to_string();
        self.set(Ring::of(text, Some(&active)));
        Ok(Arc::new(key))
    }

    /// Remove a key from the ring and its file, keeping only its audit keys.
    pub(crate) fn retire_key(&self, id: &str) -> Result<(), String> {
        let path = self.writable_file()?;
        self.reload()?;
        let now = self.now();
        let mut text = now.text();
        let Some(pos) = text.keys.iter().position(|k| k.key_id() == id) else {
            return Err(format!("key {id} is not in the key ring"));
        };
        let gone = text.keys.remove(pos);
        if !text
            .retired
            .iter()
            .any(|r| r.chain.id() == gone.audit_key().id())
        {
            text.retired.push(gone.audit_only());
        }
        ring_file::replace(path, &ring_file::render(&text))
            .map_err(|e| format!("cannot write the PII key file {}: {e}", path.display()))?;
        let active = now.keys[now.active].key_id().to_string();
        self.set(Ring::of(text, Some(&active)));
        Ok(())
    }

    fn writable_file(&self) -> Result<&Path, String> {
        self.file.as_deref().ok_or_else(|| {
            "密钥环来自环境变量 CUSTOS_PII_KEY，无法写入；请改用密钥文件 (pii.key 或 \
             CUSTOS_PII_KEY_FILE) / the key ring comes from CUSTOS_PII_KEY and cannot be \
             written: keep it in a key file (pii.key or CUSTOS_PII_KEY_FILE)"
                .to_string()
        })
    }

    /// Make the ring's key `id` the active one; false when the ring lacks it.
    pub fn activate(&self, id: &str) -> bool {
        let now = self.now();
        let Some(pos) = now.keys.iter().position(|k| k.key_id() == id) else {
            return false;
        };
        if pos != now.active {
            self.set(Ring {
                keys: now.keys.clone(),
                active: pos,
                retired: now.retired.clone(),
            });
        }
        true
    }

    /// A ring whose active key stays as it is now, whatever happens to this one: a write
    /// encrypts and indexes a record under one key.
    pub fn pinned(&self) -> PiiKey {
        PiiKey {
            ring: Arc::new(RwLock::new(self.now())),
            file: self.file.clone(),
        }
    }

    /// Ids of the ring's keys, the active one first.
    pub fn ids(&self) -> Vec<String> {
        let r = self.now();
        let active = r.keys[r.active].key_id();
        let mut ids = vec![active.to_string()];
        ids.extend(
            r.keys
                .iter()
                .filter(|k| k.key_id() != active)
                .map(|k| k.key_id().to_string()),
        );
        ids
    }

    /// The ring's key with this id.
    pub fn key(&self, id: &str) -> Option<Arc<MasterKey>> {
        self.now().keys.iter().find(|k| k.key_id() == id).cloned()
    }

    /// The ring's key whose check value is `check`.
    pub fn key_with_check(&self, check: &str) -> Option<Arc<MasterKey>> {
        self.now()
            .keys
            .iter()
            .find(|k| k.check_value() == check)
            .cloned()
    }

    /// Id of the active key.
    pub fn key_id(&self) -> String {
        self.active().key_id().to_string()
    }

    /// Check value of the active key (see [`CHECK_SETTING`]).
    pub fn check_value(&self) -> String {
        self.active().check_value().to_string()
    }

    /// The audit chain key of the active key.
    pub fn audit_key(&self) -> custos_store::AuditKey {
        self.active().audit_key().clone()
    }

    /// The checkpoint key of the active key.
    pub fn checkpoint_key(&self) -> custos_store::AuditKey {
        self.active().checkpoint_key().clone()
    }

    /// Audit chain keys: the active key's writes, every other (and retired) one verifies.
    pub fn audit_keys(&self) -> custos_store::AuditKeys {
        self.keys_of(|k| k.audit_key().clone(), |r| r.chain.clone())
    }

    /// Checkpoint keys, as [`PiiKey::audit_keys`].
    pub fn checkpoint_keys(&self) -> custos_store::AuditKeys {
        self.keys_of(|k| k.checkpoint_key().clone(), |r| r.checkpoints.clone())
    }

    fn keys_of(
        &self,
        of: impl Fn(&MasterKey) -> custos_store::AuditKey,
        retired: impl Fn(&AuditOnly) -> custos_store::AuditKey,
    ) -> custos_store::AuditKeys {
        let r = self.now();
        let mut keys = custos_store::AuditKeys::new(of(&r.keys[r.active]));
        for k in &r.keys {
            keys = keys.with_older(of(k));
        }
        for k in &r.retired {
            keys = keys.with_older(retired(k));
        }
        keys
    }

    /// The active key's file key (writing sealed files).
    pub fn file_key(&self) -> custos_files::sealed::FileKey {
        self.active().file_key().clone()
    }

    /// The file key a sealed file was written with, when the ring holds it (else the
    /// active one, whose reader then names both keys).
    pub fn file_key_for(&self, path: &Path) -> std::io::Result<custos_files::sealed::FileKey> {
        let id = custos_files::sealed::sealed_key_id(path)?;
        Ok(id
            .and_then(|id| self.key(&id))
            .map(|k| k.file_key().clone())
            .unwrap_or_else(|| self.file_key()))
    }

    /// The active master key, for an encrypted backup to carry.
    pub(crate) fn master(&self) -> [u8; 32] {
        *self.active().master()
    }

    /// Encrypt one value under the active key.
    pub fn encrypt(&self, plain: &str) -> String {
        self.active().encrypt(plain)
    }

    /// Whether `stored` has the form [`PiiKey::encrypt`] gives (under any key).
    fn is_encrypted(stored: &str) -> bool {
        stored
            .strip_prefix(PREFIX)
            .is_some_and(|rest| rest.starts_with(':'))
    }

    /// `text` encrypted, unless it already is (a column that held plaintext once).
    pub fn encrypt_plain(&self, text: &str) -> String {
        match Self::is_encrypted(text) {
            true => text.to_string(),
            false => self.encrypt(text),
        }
    }

    /// `stored` decrypted if it is encrypted, else as it is (a column that held plaintext
    /// once).
    pub fn decrypt_if_encrypted(&self, stored: &str) -> AppResult<String> {
        match Self::is_encrypted(stored) {
            true => self.decrypt(stored),
            false => Ok(stored.to_string()),
        }
    }

    /// Decrypt a value made by [`PiiKey::encrypt`] under any key of the ring.
    pub fn decrypt(&self, stored: &str) -> AppResult<String> {
        let kid = stored
            .strip_prefix("pii1:")
            .and_then(|rest| rest.split(':').next());
        match kid.and_then(|id| self.key(id)) {
            Some(k) => k.decrypt(stored),
            None if kid.is_some() => Err(AppError::Internal(format!(
                "stored personal data unreadable: encrypted with key {}, which is not in \
                 the key ring ({})",
                kid.unwrap_or("?"),
                self.ids().join(", ")
            ))),
            None => self.active().decrypt(stored),
        }
    }

    /// Blind index of a canonical value under the active key (what a write stores).
    pub fn blind(&self, kind: &str, value: &str) -> String {
        self.active().blind(kind, value)
    }

    /// Blind index of a canonical value under every key of the ring (what a lookup
    /// matches: rows not yet re-keyed carry an older key's).
    pub fn blinds(&self, kind: &str, value: &str) -> Vec<String> {
        self.now()
            .keys
            .iter()
            .map(|k| k.blind(kind, value))
            .collect()
    }

    /// Keyed 64-bit hash of a duplicate-check blocking key under the active key.
    pub fn match_hash(&self, blocking_key: &str) -> i64 {
        self.active().match_hash(blocking_key)
    }

    /// [`PiiKey::match_hash`] under every key of the ring but the active one.
    pub fn older_match_hashes(&self, blocking_key: &str) -> Vec<i64> {
        let r = self.now();
        r.keys
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != r.active)
            .map(|(_, k)| k.match_hash(blocking_key))
            .collect()
    }

    /// `text` with every encrypted value under another key than the active one
    /// encrypted again under the active key (values may sit inside JSON, escaped or
    /// not); `None` when there is none.
    pub fn rekey_text(&self, text: &str) -> AppResult<Option<String>> {
        let active = self.active();
        let marker = "pii1:";
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        let mut changed = false;
        while let Some(at) = rest.find(marker) {
            out.push_str(&rest[..at]);
            let token_len = rest[at..]
                .char_indices()
                .skip(marker.len())
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | ':')))
                .map(|(i, _)| i)
                .unwrap_or(rest.len() - at);
            let token = &rest[at..at + token_len];
            let kid = token[marker.len()..].split(':').next().unwrap_or("");
            if kid == active.key_id() || token.matches(':').count() != 2 {
                out.push_str(token);
            } else {
                out.push_str(&active.encrypt(&self.decrypt(token)?));
                changed = true;
            }
            rest = &rest[at + token_len..];
        }
        out.push_str(rest);
        Ok(changed.then_some(out))
    }
}

fn read_ring(path: &Path) -> Result<RingText, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the PII key file {}: {e}", path.display()))?;
    ring_file::parse(&text, &format!("file {}", path.display()))
}

/// `13812345678` → `138****5678`.
pub fn mask_mobile(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() == 11 {
        format!(
            "{}****{}",
            chars[..3].iter().collect::<String>(),
            chars[7..].iter().collect::<String>()
        )
    } else {
        mask_middle(s, 3, 4)
    }
}

/// `110101199001011234` → `110101********1234`.
pub fn mask_id_number(s: &str) -> String {
    mask_middle(s, 6, 4)
}

/// `zhang@example.com` → `z***@example.com`.
pub fn mask_email(s: &str) -> String {
    match s.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => mask_middle(s, 1, 0),
    }
}

/// Mobiles as [`mask_mobile`]; `010-12345678-123` → `010-****5678`.
pub fn mask_phone(s: &str) -> String {
    let mut parts = s.split('-');
    match (parts.next(), parts.next()) {
        (Some(area), Some(local)) if area.starts_with('0') => {
            format!("{area}-{}", mask_middle(local, 0, 4))
        }
        _ if s.len() == 11 && s.starts_with('1') => mask_mobile(s),
        _ => mask_middle(s, 3, 4),
    }
}

/// An address shows its first few characters (the region part) only.
pub fn mask_address(s: &str) -> String {
    let n = s.chars().count();
    let keep = (n / 3).min(6);
    format!("{}****", s.chars().take(keep).collect::<String>())
}

fn mask_middle(s: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len().max(1));
    }
    let mut out: String = chars[..head].iter().collect();
    out.push_str(&"*".repeat(chars.len() - head - tail));
    out.extend(&chars[chars.len() - tail..]);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn round_trip_and_fresh_nonce() {
        let k = PiiKey::random();
        let a = k.encrypt("110101199003074258");
        let b = k.encrypt("110101199003074258");
        assert_ne!(a, b);
        assert!(!a.contains("110101"));
        assert_eq!(k.decrypt(&a).ok().as_deref(), Some("110101199003074258"));
        let other = PiiKey::random();
        assert!(other.decrypt(&a).is_err());
    }

    #[test]
    fn blind_index_is_keyed_and_stable() {
        let k = PiiKey::from_master(&[7u8; 32]);
        assert_eq!(
            k.blind("mobile", "13812345678"),
            k.blind("mobile", "13812345678")
        );
        assert_ne!(
            k.blind("mobile", "13812345678"),
            k.blind("phone", "13812345678")
        );
        let k2 = PiiKey::from_master(&[8u8; 32]);
        assert_ne!(
            k.blind("mobile", "13812345678"),
            k2.blind("mobile", "13812345678")
        );
    }

    #[test]
    fn ring_decrypts_under_every_key_and_writes_under_the_active_one() {
        let (a, b) = (MasterKey::random(), MasterKey::random());
        let old = PiiKey::from_keys(vec![a.clone()]);
        let under_a = old.encrypt("13812345678");
        let ring = PiiKey::from_keys(vec![a.clone(), b.clone()]);
        let pinned = ring.pinned();
        assert!(ring.activate(b.key_id()));
        assert!(!ring.activate("00000000"));
        assert_eq!(ring.key_id(), b.key_id());
        // A pinned ring keeps the key it had; clones share the change.
        assert_eq!(pinned.key_id(), a.key_id());
        assert!(ring
            .encrypt("x")
            .starts_with(&format!("pii1:{}:", b.key_id())));
        assert_eq!(ring.decrypt(&under_a).ok().as_deref(), Some("13812345678"));
        // Lookups compute under both keys, writes under the active one only.
        assert_eq!(ring.blinds("mobile", "1").len(), 2);
        assert!(ring.blinds("mobile", "1").contains(&a.blind("mobile", "1")));
        assert_eq!(ring.blind("mobile", "1"), b.blind("mobile", "1"));
        assert_eq!(ring.older_match_hashes("u:1"), vec![a.match_hash("u:1")]);
        // The audit keys of both verify; the active one writes.
        assert_eq!(ring.audit_keys().current().id(), b.audit_key().id());
        assert!(ring.audit_keys().find(a.audit_key().id()).is_some());
        // A key the ring lacks is named in the error.
        let stranger = PiiKey::random().encrypt("x");
        let e = ring.decrypt(&stranger).err().map(|e| e.to_string());
        assert!(e.is_some_and(|e| e.contains("not in the key ring")));
    }

    #[test]
    fn rekey_text_moves_values_inside_json_and_skips_current_ones() {
        let (a, b) = (MasterKey::random(), MasterKey::random());
        let ring = PiiKey::from_keys(vec![a.clone(), b.clone()]);
        let inner = serde_json::json!({"id_number": a.encrypt("110101199003074258"),
            "mobile": b.encrypt("13812345678"), "name": "pii1 is not a value"})
        .to_string();
        // A snapshot holding the record as a JSON string inside JSON (escaped quotes).
        let outer = serde_json::json!({ "data": inner }).to_string();
        ring.activate(b.key_id());
        let moved = ring.rekey_text(&outer).unwrap().unwrap();
        assert!(!moved.contains(&format!("pii1:{}:", a.key_id())));
        let back: serde_json::Value = serde_json::from_str(&moved).unwrap();
        let inner: serde_json::Value =
            serde_json::from_str(back["data"].as_str().unwrap()).unwrap();
        let id = inner["id_number"].as_str().unwrap();
        assert_eq!(b.decrypt(id).ok().as_deref(), Some("110101199003074258"));
        assert_eq!(inner["name"], "pii1 is not a value");
        assert!(ring.rekey_text(&moved).unwrap().is_none());
        assert!(ring.rekey_text("no values").unwrap().is_none());
    }

    #[test]
    fn rotation_and_retirement_rewrite_the_key_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("pii.key");
        let ring = PiiKey::load_or_create_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let first = ring.key_id();
        let added = ring.add_new_key().unwrap_or_else(|e| panic!("{e}"));
        // Added first in the file, but not active until the database says so.
        assert_eq!(ring.key_id(), first);
        let again = PiiKey::load_file(&path)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!());
        assert_eq!(again.ids(), vec![added.key_id().to_string(), first.clone()]);
        ring.activate(added.key_id());
        let audit_of_first = ring.key(&first).map(|k| k.audit_key().clone());
        ring.retire_key(&first).unwrap_or_else(|e| panic!("{e}"));
        let after = PiiKey::load_file(&path)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!());
        assert_eq!(after.ids(), vec![added.key_id().to_string()]);
        let kept = audit_of_first.unwrap_or_else(|| panic!());
        assert!(after.audit_keys().find(kept.id()).is_some());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
        // A ring from the environment cannot be rewritten.
        let env = PiiKey::random();
        assert!(env.add_new_key().is_err());
    }

    #[test]
    fn masks() {
        assert_eq!(mask_mobile("13812345678"), "138****5678");
        assert_eq!(mask_id_number("110101199001011234"), "110101********1234");
        assert_eq!(mask_email("zhang@example.com"), "z***@example.com");
        assert_eq!(mask_phone("010-12345678"), "010-****5678");
        assert_eq!(mask_phone("0571-8765432-123"), "0571-***5432");
        assert_eq!(mask_address("北京市朝阳区建国路88号"), "北京市朝****");
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("pii.key");
        let a = PiiKey::load_or_create_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let b = PiiKey::load_or_create_file(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.check_value(), b.check_value());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path)
                .map(|m| m.permissions().mode() & 0o777)
                .unwrap_or(0);
            assert_eq!(mode, 0o600);
        }
        assert!(PiiKey::from_base64("c2hvcnQ=").is_err());
    }
}
