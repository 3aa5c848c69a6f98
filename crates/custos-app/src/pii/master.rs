//! One master key and the keys derived from it.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use custos_store::AuditKey;

use crate::error::{AppError, AppResult};

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every encrypted value: `pii1:<key id>:<base64(nonce ‖ ciphertext)>`.
pub(super) const PREFIX: &str = "pii1";

/// The audit keys of a retired master key.
#[derive(Clone)]
pub(crate) struct AuditOnly {
    pub(crate) chain: AuditKey,
    pub(crate) checkpoints: AuditKey,
    pub(crate) chain_raw: [u8; 32],
    pub(crate) checkpoints_raw: [u8; 32],
}

const CHAIN_LABEL: &str = "custos/audit/chain/hmac-sha256/v1";
const CHECKPOINT_LABEL: &str = "custos/audit/checkpoint/hmac-sha256/v1";

fn derive(master: &[u8; 32], label: &str) -> [u8; 32] {
    // HMAC accepts keys of any length: this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).unwrap_or_else(|_| unreachable!());
    mac.update(label.as_bytes());
    mac.finalize().into_bytes().into()
}

/// An audit key derived from `master` under `label`; its id names the master key.
pub(super) fn audit_key(master: &[u8; 32], label: &str) -> custos_store::AuditKey {
    let id = derive(master, "custos/audit/key-id/v1");
    custos_store::AuditKey::new(hex::encode(&id[..4]), derive(master, label))
}

/// The keys derived from one PII master key (one entry of the key ring).
#[derive(Clone)]
pub struct MasterKey {
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

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.key_id)
    }
}

/// Sealed files are read and written with the PII key's file key.
impl AsRef<custos_files::sealed::FileKey> for MasterKey {
    fn as_ref(&self) -> &custos_files::sealed::FileKey {
        &self.files
    }
}

impl MasterKey {
    pub fn from_master(master: &[u8; 32]) -> MasterKey {
        let id = derive(master, "custos/pii/key-id/v1");
        let check = derive(master, "custos/pii/check/v1");
        let key_id = hex::encode(&id[..4]);
        let files = custos_files::sealed::FileKey::new(
            key_id.clone(),
            derive(master, "custos/pii/files/aes-256-gcm/v1"),
        );
        MasterKey {
            master: *master,
            check: format!("{key_id}:{}", hex::encode(check)),
            key_id,
            enc: derive(master, "custos/pii/aes-256-gcm/v1"),
            index: derive(master, "custos/pii/blind-index/v1"),
            files,
            audit: audit_key(master, CHAIN_LABEL),
            checkpoints: audit_key(master, CHECKPOINT_LABEL),
        }
    }

    /// The key of the audit chain's HMAC. Derived from the master key with its own
    /// label, so operators keep one secret and a backup that carries the master key
    /// carries it too; knowing it reveals nothing of the other derived keys.
    pub fn audit_key(&self) -> &custos_store::AuditKey {
        &self.audit
    }

    /// The key that signs audit checkpoints (same id as [`MasterKey::audit_key`]).
    pub fn checkpoint_key(&self) -> &custos_store::AuditKey {
        &self.checkpoints
    }

    /// A fresh random key.
    pub fn random() -> MasterKey {
        let mut master = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut master);
        MasterKey::from_master(&master)
    }

    /// The base64 form, one line of the key ring file.
    pub(crate) fn to_base64(&self) -> String {
        STANDARD.encode(self.master)
    }

    /// The derived audit keys alone (chain, checkpoints): what a retired key leaves
    /// behind so that old audit entries and checkpoints still verify.
    pub(crate) fn audit_only(&self) -> AuditOnly {
        AuditOnly {
            chain: self.audit.clone(),
            checkpoints: self.checkpoints.clone(),
            chain_raw: derive(&self.master, CHAIN_LABEL),
            checkpoints_raw: derive(&self.master, CHECKPOINT_LABEL),
        }
    }

    /// Parse base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<MasterKey, String> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| format!("the PII key is not valid base64: {e}"))?;
        let master: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            format!(
                "the PII key must be 32 bytes (base64 of 32 random bytes), got {}",
                bytes.len()
            )
        })?;
        Ok(MasterKey::from_master(&master))
    }

    /// The key of sealed files (uploads, exports).
    pub fn file_key(&self) -> &custos_files::sealed::FileKey {
        &self.files
    }

    /// The master key, for an encrypted backup to carry.
    pub fn master(&self) -> &[u8; 32] {
        &self.master
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

    /// Decrypt a value made by [`MasterKey::encrypt`].
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
