//! The backup file format: a one-line magic (`CUSTOS-BACKUP <format>`), a one-line JSON
//! header and the payload. The payload is a consistent SQLite snapshot (taken by the use
//! case); the header holds its size and SHA-256 and the check value of the PII key the
//! snapshot's personal data is encrypted with (never the key itself).
//!
//! With a passphrase (format 2) the payload is encrypted: a key is derived with argon2id
//! (salt and parameters in the header) and the stream is cut into chunks sealed with
//! AES-256-GCM. Chunk 0 holds the PII master key, so the backup is enough to read the
//! data back; the snapshot follows in chunks of `chunk_size` bytes. Each chunk's nonce is
//! the random base nonce with the chunk index folded in, and its index and a last-chunk
//! flag are authenticated with it, so chunks cannot be reordered, dropped or appended.
//! Size and SHA-256 then cover the ciphertext: corruption is told apart from a wrong
//! passphrase.
//!
//! [`package`] writes a file, [`unpack`] checks one (magic, checksum, decryption) and
//! extracts its snapshot; what the snapshot holds, and whether a restore may replace the
//! database, is the use case's (`custos_app::backup`). Format 1 files (plain, no key
//! check value in the header) are still read.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;

use aes_gcm::aead::KeyInit;
use aes_gcm::Aes256Gcm;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use custos_core::Violation;

use crate::error::{FilesError, FilesResult};
use crate::sealed::{ChunkCipher, Digesting, NONCE_LEN, TAG_LEN};

pub const MAGIC: &str = "CUSTOS-BACKUP";
pub const FORMAT: u32 = 2;
/// Plaintext bytes per encrypted chunk: memory use of backup and restore is a few of these.
pub const CHUNK_SIZE: u32 = 1 << 20;
const SALT_LEN: usize = 16;
pub const ALG: &str = "aes-256-gcm";
pub const KDF: &str = "argon2id";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackupHeader {
    pub format: u32,
    pub created_at: String,
    pub app_version: String,
    /// Bytes of the payload as stored (the ciphertext when encrypted).
    pub size: u64,
    /// SHA-256 of the payload as stored.
    pub sha256: String,
    /// Check value of the PII key the data is encrypted with (`PiiKey::check_value`):
    /// tells whether a key fits without revealing it. Absent in format 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pii_key_check: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
}

impl BackupHeader {
    /// Id of the backup's PII key (the part of the check value before `:`).
    pub fn pii_key_id(&self) -> Option<&str> {
        self.pii_key_check
            .as_deref()
            .and_then(|c| c.split(':').next())
    }
}

/// How an encrypted payload was sealed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Encryption {
    /// `aes-256-gcm`.
    pub alg: String,
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// Base nonce (base64); chunk `i` uses it with `i` xor-ed into its last 8 bytes.
    pub nonce: String,
    /// `argon2id`.
    pub kdf: String,
    /// KDF salt (base64).
    pub salt: String,
    pub params: KdfParams,
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for KdfParams {
    /// 64 MiB, 3 passes, 1 lane: a fraction of a second per attempt on a server.
    fn default() -> Self {
        KdfParams {
            m_cost: 64 * 1024,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

impl KdfParams {
    /// A header is read before anything is authenticated: bound what it may ask for.
    fn is_reasonable(&self) -> bool {
        (8..=1 << 20).contains(&self.m_cost)
            && (1..=16).contains(&self.t_cost)
            && (1..=16).contains(&self.p_cost)
    }
}

/// Reading or writing `path` failed while doing `what` (named in Chinese, as the messages
/// of the use case are).
pub fn io_err(what: &str, path: &Path, e: std::io::Error) -> FilesError {
    FilesError::Rejected(Violation::new(
        "backup.io",
        format!("{what}失败（{}）：{e}", path.display()),
        format!("{what} failed ({}): {e}", path.display()),
    ))
}

/// The backup file (or what it holds) is not a valid backup.
pub fn bad_file(zh: String, en: String) -> FilesError {
    FilesError::Rejected(Violation::new("backup.invalid", zh, en))
}

fn wrong_passphrase() -> FilesError {
    FilesError::Rejected(Violation::new(
        "backup.passphrase",
        "备份口令不正确（或备份文件头被改动）",
        "wrong passphrase for this backup (or its header was altered)",
    ))
}

fn checksum_mismatch(header: &BackupHeader, digest: &str, size: u64) -> FilesError {
    bad_file(
        format!(
            "备份文件已损坏：校验和不符（应为 {}，{} 字节；实为 {digest}，{size} 字节）",
            header.sha256, header.size
        ),
        format!(
            "the backup file is corrupted: checksum mismatch (expected {}, {} bytes; got {digest}, {size} bytes)",
            header.sha256, header.size
        ),
    )
}

/// Everything needed to encrypt or decrypt a payload.
pub struct Sealing {
    chunks: ChunkCipher,
    chunk_size: u32,
    header: Encryption,
}

/// Domain label in each chunk's associated data.
const CHUNK_DOMAIN: &[u8; 15] = b"custos-backup/2";

impl Sealing {
    /// Fresh salt and base nonce; the key derived from the passphrase.
    pub fn new(pass: &str, params: KdfParams, chunk_size: u32) -> FilesResult<Sealing> {
        let mut salt = [0u8; SALT_LEN];
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut salt);
        rand::thread_rng().fill_bytes(&mut nonce);
        let header = Encryption {
            alg: ALG.into(),
            chunk_size,
            nonce: STANDARD.encode(nonce),
            kdf: KDF.into(),
            salt: STANDARD.encode(salt),
            params,
        };
        let cipher = derive_cipher(pass, &salt, params)
            .map_err(|e| FilesError::Internal(format!("backup key derivation: {e}")))?;
        Ok(Sealing {
            chunks: ChunkCipher::new(cipher, nonce, CHUNK_DOMAIN),
            chunk_size,
            header,
        })
    }

    /// Rebuild from a header; `None` when the header is not one this version can use.
    pub fn from_header(pass: &str, enc: &Encryption) -> Option<Sealing> {
        if enc.alg != ALG || enc.kdf != KDF || !enc.params.is_reasonable() {
            return None;
        }
        if !(4096..=16 << 20).contains(&enc.chunk_size) {
            return None;
        }
        let nonce: [u8; NONCE_LEN] = STANDARD.decode(&enc.nonce).ok()?.try_into().ok()?;
        let salt = STANDARD.decode(&enc.salt).ok()?;
        if !(8..=64).contains(&salt.len()) {
            return None;
        }
        let cipher = derive_cipher(pass, &salt, enc.params).ok()?;
        Some(Sealing {
            chunks: ChunkCipher::new(cipher, nonce, CHUNK_DOMAIN),
            chunk_size: enc.chunk_size,
            header: enc.clone(),
        })
    }

    fn seal(&self, index: u64, last: bool, plain: &[u8]) -> std::io::Result<Vec<u8>> {
        self.chunks.seal(index, last, plain)
    }

    fn open(&self, index: u64, last: bool, sealed: &[u8]) -> Option<Vec<u8>> {
        self.chunks.open(index, last, sealed)
    }
}

fn derive_cipher(pass: &str, salt: &[u8], params: KdfParams) -> Result<Aes256Gcm, argon2::Error> {
    let params = argon2::Params::new(params.m_cost, params.t_cost, params.p_cost, Some(32))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = [0u8; 32];
    argon.hash_password_into(pass.as_bytes(), salt, &mut key)?;
    Ok(Aes256Gcm::new((&key).into()))
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Write the sealed payload: the PII key as chunk 0, then the snapshot. Sealing is
/// deterministic for a given key and nonce, which lets [`package`] run it twice (once to
/// learn size and checksum for the header, once to write) without a second copy on disk.
fn seal_stream(
    sealing: &Sealing,
    master: &[u8; 32],
    snapshot: &Path,
    out: &mut impl Write,
) -> std::io::Result<()> {
    out.write_all(&sealing.seal(0, false, master)?)?;
    let mut input = BufReader::new(std::fs::File::open(snapshot)?);
    let mut buf = vec![0u8; sealing.chunk_size as usize];
    let mut index = 1u64;
    loop {
        let n = read_full(&mut input, &mut buf)?;
        let last = n < buf.len() || input.fill_buf()?.is_empty();
        out.write_all(&sealing.seal(index, last, &buf[..n])?)?;
        if last {
            return Ok(());
        }
        index += 1;
    }
}

/// Write the backup of the snapshot at `snapshot` to `dest` (beside it first, then
/// renamed into place): plain, or sealed with `sealing` and carrying `master`, the PII
/// master key whose check value is `key_check`. Returns the header written.
pub fn package(
    snapshot: &Path,
    dest: &Path,
    master: &[u8; 32],
    key_check: &str,
    sealing: Option<&Sealing>,
) -> FilesResult<BackupHeader> {
    let (size, sha256) = match sealing {
        None => hash_file(snapshot)?,
        Some(s) => {
            let mut sink = Digesting::new(std::io::sink());
            seal_stream(s, master, snapshot, &mut sink)
                .map_err(|e| io_err("读取快照", snapshot, e))?;
            let (_, size, sha256) = sink.finish();
            (size, sha256)
        }
    };
    let header = BackupHeader {
        format: FORMAT,
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        // custos-files shares the workspace's version with the application.
        app_version: env!("CARGO_PKG_VERSION").to_string(),
        size,
        sha256,
        pii_key_check: Some(key_check.to_string()),
        encryption: sealing.map(|s| s.header.clone()),
    };
    let tmp = dest.with_extension("partial");
    let written = (|| -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(crate::private_files::create(&tmp)?);
        let line = serde_json::to_string(&header).map_err(std::io::Error::other)?;
        write!(out, "{MAGIC} {FORMAT}\n{line}\n")?;
        match sealing {
            None => {
                let mut input = std::fs::File::open(snapshot)?;
                std::io::copy(&mut input, &mut out)?;
            }
            Some(s) => seal_stream(s, master, snapshot, &mut out)?,
        }
        out.into_inner().map_err(|e| e.into_error())?.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(io_err("写入备份文件", &tmp, e));
    }
    std::fs::rename(&tmp, dest).map_err(|e| io_err("写入备份文件", dest, e))?;
    Ok(header)
}

/// Size and SHA-256 (hex) of the file at `path`.
pub fn hash_file(path: &Path) -> FilesResult<(u64, String)> {
    let mut f = std::fs::File::open(path).map_err(|e| io_err("读取文件", path, e))?;
    let mut sink = Digesting::new(std::io::sink());
    std::io::copy(&mut f, &mut sink).map_err(|e| io_err("读取文件", path, e))?;
    let (_, size, sha256) = sink.finish();
    Ok((size, sha256))
}

/// Check a backup file and extract its snapshot into `out`. Returns the header and, for
/// an encrypted backup, the PII master key it carries.
pub fn unpack(
    file: &Path,
    out: &Path,
    passphrase: Option<&str>,
) -> FilesResult<(BackupHeader, Option<[u8; 32]>)> {
    let f = std::fs::File::open(file).map_err(|e| io_err("读取备份文件", file, e))?;
    let mut reader = BufReader::new(f);
    let mut magic = String::new();
    let foreign = || {
        bad_file(
            format!("{} 不是 custos 备份文件", file.display()),
            format!("{} is not a custos backup file", file.display()),
        )
    };
    // A foreign binary file may have no newline for a long way: cap the line length.
    (&mut reader)
        .take(64)
        .read_line(&mut magic)
        .map_err(|_| foreign())?;
    let format = match magic.trim_end().strip_prefix(MAGIC).map(str::trim_start) {
        Some("1") => 1,
        Some("2") => 2,
        Some(other) if other.parse::<u32>().is_ok() => {
            return Err(bad_file(
                format!("备份文件格式 {other} 需要更新版本的 custos"),
                format!("backup format {other} needs a newer custos"),
            ))
        }
        _ => return Err(foreign()),
    };
    let mut line = String::new();
    (&mut reader)
        .take(4096)
        .read_line(&mut line)
        .map_err(|_| foreign())?;
    let header: BackupHeader = serde_json::from_str(line.trim_end()).map_err(|_| foreign())?;
    if header.format != format || (format == 1 && header.encryption.is_some()) {
        return Err(foreign());
    }
    let mut out_file = std::io::BufWriter::new(
        crate::private_files::create(out).map_err(|e| io_err("写入临时文件", out, e))?,
    );
    let mut tee = HashingCopy {
        inner: &mut reader,
        hasher: Sha256::new(),
        size: 0,
    };
    let mut carried_key = None;
    match &header.encryption {
        None => {
            std::io::copy(&mut tee, &mut out_file).map_err(|e| io_err("读取备份文件", file, e))?;
        }
        Some(enc) => {
            let Some(pass) = passphrase else {
                return Err(FilesError::Rejected(Violation::new(
                    "backup.passphrase",
                    "这份备份已加密，请提供口令（--passphrase-env 或 --passphrase-file）",
                    "this backup is encrypted: give its passphrase (--passphrase-env or --passphrase-file)",
                )));
            };
            let sealing = Sealing::from_header(pass, enc).ok_or_else(|| {
                bad_file(
                    "备份文件头中的加密参数无效或不受支持".into(),
                    "the backup header's encryption parameters are invalid or unsupported".into(),
                )
            })?;
            match open_stream(&sealing, &mut tee, &mut out_file) {
                Ok(key) => carried_key = Some(key),
                Err(OpenError::Io(e)) => return Err(io_err("读取备份文件", file, e)),
                Err(OpenError::Chunk(index)) => {
                    // Finish the checksum first: a damaged file is reported as such,
                    // not as a wrong passphrase.
                    std::io::copy(&mut tee, &mut std::io::sink())
                        .map_err(|e| io_err("读取备份文件", file, e))?;
                    let digest = hex::encode(tee.hasher.clone().finalize());
                    if tee.size != header.size || digest != header.sha256 {
                        return Err(checksum_mismatch(&header, &digest, tee.size));
                    }
                    if index == 0 {
                        return Err(wrong_passphrase());
                    }
                    return Err(bad_file(
                        format!("备份文件已被改动或截断：第 {index} 块未通过认证"),
                        format!("the backup file was altered or truncated: chunk {index} failed authentication"),
                    ));
                }
            }
        }
    }
    let digest = hex::encode(tee.hasher.finalize());
    if tee.size != header.size || digest != header.sha256 {
        return Err(checksum_mismatch(&header, &digest, tee.size));
    }
    out_file
        .into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err("写入临时文件", out, e))?;
    Ok((header, carried_key))
}

enum OpenError {
    Io(std::io::Error),
    /// This chunk did not authenticate (wrong key, altered, missing or misplaced data).
    Chunk(u64),
}

impl From<std::io::Error> for OpenError {
    fn from(e: std::io::Error) -> Self {
        OpenError::Io(e)
    }
}

/// Decrypt a sealed payload into `out`; returns the PII master key of chunk 0.
fn open_stream<R: BufRead>(
    sealing: &Sealing,
    input: &mut HashingCopy<'_, R>,
    out: &mut impl Write,
) -> Result<[u8; 32], OpenError> {
    let mut first = [0u8; 32 + TAG_LEN];
    let n = read_full(input, &mut first)?;
    let master: [u8; 32] = sealing
        .open(0, false, &first[..n])
        .and_then(|k| k.try_into().ok())
        .ok_or(OpenError::Chunk(0))?;
    let mut buf = vec![0u8; sealing.chunk_size as usize + TAG_LEN];
    let mut index = 1u64;
    loop {
        let n = read_full(input, &mut buf)?;
        let last = n < buf.len() || input.inner.fill_buf()?.is_empty();
        let plain = sealing
            .open(index, last, &buf[..n])
            .ok_or(OpenError::Chunk(index))?;
        out.write_all(&plain)?;
        if last {
            return Ok(master);
        }
        index += 1;
    }
}

struct HashingCopy<'a, R> {
    inner: &'a mut R,
    hasher: Sha256,
    size: u64,
}

impl<R: Read> Read for HashingCopy<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
}
