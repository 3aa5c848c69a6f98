//! Personal data at rest (invariant 6): AES-256-GCM encryption of each value with a fresh
//! 96-bit nonce, a keyed blind index (HMAC-SHA256) for exact lookups, and masking for
//! callers without `customer.pii.read`.
//!
//! One 32-byte master key (`CUSTOS_PII_KEY`, `CUSTOS_PII_KEY_FILE`, or `pii.key` in the
//! data directory) yields three independent keys by HMAC derivation: encryption, blind
//! index, and a check value stored in `settings` so that a wrong or lost key stops the
//! start-up with a clear message instead of producing garbage. Ciphertexts carry the key
//! id, so a later rotation can tell old values from new ones.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::error::{AppError, AppResult};

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every encrypted value: `pii1:<key id>:<base64(nonce ‖ ciphertext)>`.
const PREFIX: &str = "pii1";

/// The settings key holding the key check value.
pub const CHECK_SETTING: &str = "pii_key_check";

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).unwrap_or_else(|_| unreachable!());
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// An audit key derived from `master` under `label`; its id names the master key.
fn audit_key(master: &[u8; 32], label: &str) -> custos_store::AuditKey {
    let id = derive(master, "custos/audit/key-id/v1");
    custos_store::AuditKey::new(hex::encode(&id[..4]), derive(master, label))
}

/// The keys derived from the PII master key.
#[derive(Clone)]
pub struct PiiKey {
    /// Kept so that an encrypted backup can carry the key (see `custos_files::backup_format`).
    master: [u8; 32],
    key_id: String,
    enc: [u8; 32],
    index: [u8; 32],
    /// Seals files kept outside the database (see `custos_files::sealed`); its id is
    /// this key's.
    files: custos_files::sealed::FileKey,
    /// Keys the audit chain and signs its checkpoints (see `audit_anchor.rs`).
    audit: custos_store::AuditKey,
    checkpoints: custos_store::AuditKey,
    check: String,
}

impl std::fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PiiKey({})", self.key_id)
    }
}

/// Sealed files are read and written with the PII key's file key.
impl AsRef<custos_files::sealed::FileKey> for PiiKey {
    fn as_ref(&self) -> &custos_files::sealed::FileKey {
        &self.files
    }
}

impl PiiKey {
    pub fn from_master(master: &[u8; 32]) -> PiiKey {
        let id = derive(master, "custos/pii/key-id/v1");
        let check = derive(master, "custos/pii/check/v1");
        let key_id = hex::encode(&id[..4]);
        let files = custos_files::sealed::FileKey::new(
            key_id.clone(),
            derive(master, "custos/pii/files/aes-256-gcm/v1"),
        );
        PiiKey {
            master: *master,
            check: format!("{key_id}:{}", hex::encode(check)),
            key_id,
            enc: derive(master, "custos/pii/aes-256-gcm/v1"),
            index: derive(master, "custos/pii/blind-index/v1"),
            files,
            audit: audit_key(master, "custos/audit/chain/hmac-sha256/v1"),
            checkpoints: audit_key(master, "custos/audit/checkpoint/hmac-sha256/v1"),
        }
    }

    /// The key of the audit chain's HMAC. Derived from the master key with its own
    /// label, so operators keep one secret and a backup that carries the master key
    /// carries it too; knowing it reveals nothing of the other derived keys.
    pub fn audit_key(&self) -> &custos_store::AuditKey {
        &self.audit
    }

    /// The key that signs audit checkpoints (same id as [`PiiKey::audit_key`]).
    pub fn checkpoint_key(&self) -> &custos_store::AuditKey {
        &self.checkpoints
    }

    /// A fresh random key (tests; never used silently for a real database).
    pub fn random() -> PiiKey {
        let mut master = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut master);
        PiiKey::from_master(&master)
    }

    /// Parse base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<PiiKey, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| format!("the PII key is not valid base64: {e}"))?;
        let master: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "the PII key must be 32 bytes (base64 of 32 random bytes), got {}",
                bytes.len()
            )
        })?;
        Ok(PiiKey::from_master(&master))
    }

    /// Read the key file, creating it (mode 0600, 32 random bytes in base64) when absent.
    pub fn load_or_create_file(path: &Path) -> Result<PiiKey, String> {
        if let Some(key) = PiiKey::load_file(path)? {
            return Ok(key);
        }
        if let Some(dir) = path.parent() {
            custos_store::private_files::create_dir_all(dir)
                .map_err(|e| format!("cannot create the directory of {}: {e}", path.display()))?;
        }
        let mut master = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut master);
        let text = format!("{}\n", STANDARD.encode(master));
        write_private(path, text.as_bytes())
            .map_err(|e| format!("cannot create the PII key file {}: {e}", path.display()))?;
        Ok(PiiKey::from_master(&master))
    }

    /// The key of sealed files (uploads, exports).
    pub fn file_key(&self) -> &custos_files::sealed::FileKey {
        &self.files
    }

    /// The master key, for an encrypted backup to carry.
    pub(crate) fn master(&self) -> &[u8; 32] {
        &self.master
    }

    /// Write the key to a new file (mode 0600) in the format [`PiiKey::load_or_create_file`]
    /// reads; fails if the file exists.
    pub(crate) fn write_new_file(&self, path: &Path) -> std::io::Result<()> {
        write_private(
            path,
            format!("{}\n", STANDARD.encode(self.master)).as_bytes(),
        )
    }

    /// Read an existing key file; `None` when there is none.
    pub fn load_file(path: &Path) -> Result<Option<PiiKey>, String> {
        if !path.exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read the PII key file {}: {e}", path.display()))?;
        PiiKey::from_base64(&text)
            .map(Some)
            .map_err(|e| format!("{e} (file {})", path.display()))
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The value stored in `settings` to recognise this key later (reveals nothing of it).
    pub fn check_value(&self) -> &str {
        &self.check
    }

    /// Encrypt one value.
    pub fn encrypt(&self, plain: &str) -> String {
        let cipher = Aes256Gcm::new((&self.enc).into());
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        // Encryption of an in-memory buffer with a valid key does not fail.
        let ct = cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .unwrap_or_default();
        let mut blob = nonce.to_vec();
        blob.extend_from_slice(&ct);
        format!("{PREFIX}:{}:{}", self.key_id, STANDARD.encode(blob))
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

    /// Decrypt a value made by [`PiiKey::encrypt`].
    pub fn decrypt(&self, stored: &str) -> AppResult<String> {
        let bad = |why: &str| AppError::Internal(format!("stored personal data unreadable: {why}"));
        let mut parts = stored.splitn(3, ':');
        let (Some(PREFIX), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("not an encrypted value"));
        };
        if kid != self.key_id {
            return Err(bad(&format!(
                "encrypted with key {kid}, the configured key is {}",
                self.key_id
            )));
        }
        let blob = STANDARD.decode(body).map_err(|_| bad("bad base64"))?;
        if blob.len() < 12 + 16 {
            return Err(bad("too short"));
        }
        let cipher = Aes256Gcm::new((&self.enc).into());
        let plain = cipher
            .decrypt(Nonce::from_slice(&blob[..12]), &blob[12..])
            .map_err(|_| bad("authentication failed"))?;
        String::from_utf8(plain).map_err(|_| bad("not UTF-8"))
    }

    /// Blind index of a canonical value: HMAC-SHA256 over the kind and the value.
    pub fn blind(&self, kind: &str, value: &str) -> String {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.index).unwrap_or_else(|_| unreachable!());
        mac.update(kind.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Keyed 64-bit hash of a duplicate-check blocking key (`u:…`, `n:…`): the
    /// database can look candidates up by it without holding identifiers in clear.
    pub fn match_hash(&self, blocking_key: &str) -> i64 {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.index).unwrap_or_else(|_| unreachable!());
        mac.update(b"match");
        mac.update(&[0]);
        mac.update(blocking_key.as_bytes());
        let out = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        i64::from_le_bytes(first)
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    custos_store::private_files::write_new(path, bytes)
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
