//! Audit checkpoints (anchors): signed lines in an append-only file outside the
//! database, each naming an entry of the audit chain and its hash at a moment.
//!
//! The chain's HMAC stops someone without the key from rewriting entries, but not from
//! cutting the tail and rewinding the head to the new last entry: what remains is a
//! valid chain. A checkpoint written earlier names an entry (or hash) that is then gone,
//! and `custos audit verify` reports it. A line is
//! `{"v":1,"seq":…,"hash":"…","at":"…","key_id":"…","mac":"…"}`; the MAC (HMAC-SHA256
//! under a key derived from the master key, see `PiiKey::checkpoint_key`) covers the
//! other fields, so a forged or altered line fails.
//!
//! Writers take an exclusive `flock` on the file, append one line and fsync before
//! releasing it, so several servers (or a server and the CLI) sharing the file never
//! interleave lines; whether a periodic checkpoint is due is decided under the same lock
//! from the file's last line, so servers sharing a file do not each write one.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use custos_store::{Anchor, AuditKey, AuditKeys};

/// Default file name of the checkpoint file in the data directory.
pub const CHECKPOINT_FILE: &str = "audit-checkpoints.log";

/// One checkpoint line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub v: u32,
    pub seq: i64,
    pub hash: String,
    /// RFC 3339, UTC, microseconds.
    pub at: String,
    pub key_id: String,
    pub mac: String,
}

impl Checkpoint {
    fn signed_bytes(seq: i64, hash: &str, at: &str, key_id: &str) -> Vec<u8> {
        format!("custos-audit-checkpoint/1\n{seq}\n{hash}\n{at}\n{key_id}").into_bytes()
    }

    /// A checkpoint of entry `seq` with `hash`, now, signed with `key`.
    pub fn new(key: &AuditKey, seq: i64, hash: &str) -> Checkpoint {
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
        let mac = key.mac_hex(&Self::signed_bytes(seq, hash, &at, key.id()));
        Checkpoint {
            v: 1,
            seq,
            hash: hash.to_string(),
            at,
            key_id: key.id().to_string(),
            mac,
        }
    }

    /// Whether the MAC holds under `key` (which must have the line's key id).
    /// Authentic under the key of `keys` it names.
    fn authentic_in(&self, keys: &AuditKeys) -> bool {
        keys.find(&self.key_id).is_some_and(|k| self.authentic(k))
    }

    fn authentic(&self, key: &AuditKey) -> bool {
        self.v == 1
            && key.id() == self.key_id
            && key.verify_hex(
                &Self::signed_bytes(self.seq, &self.hash, &self.at, &self.key_id),
                &self.mac,
            )
    }

    fn time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(&self.at)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }
}

/// A checkpoint file that cannot be trusted: the line and what is wrong with it. The
/// `seq` is the entry the line claims (0 when unreadable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadCheckpoint {
    pub seq: i64,
    pub reason: String,
}

/// The checkpoints in `path`, each authenticated with the key of `keys` it names (older
/// keys stay after a key rotation); none when the file does not exist. The first bad line
/// is an error.
pub fn read_checkpoints(
    path: &Path,
    keys: &AuditKeys,
) -> std::io::Result<Result<Vec<(usize, Checkpoint)>, BadCheckpoint>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Ok(Vec::new())),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line = line?;
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let where_ = format!("checkpoint file {} line {n}", path.display());
        let cp: Checkpoint = match serde_json::from_str(&line) {
            Ok(cp) => cp,
            Err(e) => {
                return Ok(Err(BadCheckpoint {
                    seq: 0,
                    reason: format!("{where_} is unreadable: {e}"),
                }))
            }
        };
        if keys.find(&cp.key_id).is_none() {
            return Ok(Err(BadCheckpoint {
                seq: cp.seq,
                reason: format!(
                    "{where_} is signed with audit key {}, which is not configured",
                    cp.key_id
                ),
            }));
        }
        if !cp.authentic_in(keys) {
            return Ok(Err(BadCheckpoint {
                seq: cp.seq,
                reason: format!("{where_} has a wrong MAC (forged or altered)"),
            }));
        }
        out.push((n, cp));
    }
    Ok(Ok(out))
}

/// The checkpoints as anchors for the chain's verification.
pub fn anchors(path: &Path, checkpoints: &[(usize, Checkpoint)]) -> Vec<Anchor> {
    checkpoints
        .iter()
        .map(|(n, cp)| Anchor {
            seq: cp.seq,
            hash: cp.hash.clone(),
            label: format!("the checkpoint of {} ({} line {n})", cp.at, path.display()),
        })
        .collect()
}

/// When a periodic checkpoint is due.
#[derive(Debug, Clone, Copy)]
pub struct Due {
    /// At least this long since the last checkpoint (and some entry added since).
    pub interval: std::time::Duration,
    /// Or at least this many entries added since the last checkpoint.
    pub entries: i64,
}

impl Due {
    /// Whether a checkpoint of entry `head_seq` is due after `last`.
    pub fn is_due(&self, last: Option<&Checkpoint>, head_seq: i64) -> bool {
        let Some(prev) = last else {
            return head_seq > 0;
        };
        let behind = head_seq - prev.seq;
        let old = prev.time().is_none_or(|t| {
            chrono::Utc::now()
                .signed_duration_since(t)
                .to_std()
                .unwrap_or_default()
                >= self.interval
        });
        behind > 0 && (old || behind >= self.entries)
    }
}

/// The last checkpoint in `path`, authenticated with `key`; `None` when there is none.
pub fn last_checkpoint_in(path: &Path, keys: &AuditKeys) -> Result<Option<Checkpoint>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    last_checkpoint(&file, keys)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?
        .map_err(|bad| format!("{}: {}", path.display(), bad.reason))
}

/// Append a checkpoint of entry `head.0` with hash `head.1` to `path` under an exclusive
/// lock, fsynced; with `due`, only when it is due after the file's last checkpoint
/// (decided under the lock, so servers sharing the file write one between them).
/// Returns the checkpoint written, if any.
pub fn append_checkpoint(
    path: &Path,
    keys: &AuditKeys,
    head: (i64, &str),
    due: Option<Due>,
) -> Result<Option<Checkpoint>, String> {
    let io = |what: &str, e: std::io::Error| {
        format!("cannot {what} the checkpoint file {}: {e}", path.display())
    };
    let created = !path.exists();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| io("create the directory of", e))?;
    }
    let file = open_append(path).map_err(|e| io("open", e))?;
    let _lock = Flock::exclusive(&file).map_err(|e| io("lock", e))?;
    if let Some(due) = due {
        let last = last_checkpoint(&file, keys)
            .map_err(|e| io("read", e))?
            .map_err(|bad| format!("{}: {}", path.display(), bad.reason))?;
        if !due.is_due(last.as_ref(), head.0) {
            return Ok(None);
        }
    }
    let cp = Checkpoint::new(keys.current(), head.0, head.1);
    let mut line = serde_json::to_string(&cp).map_err(|e| e.to_string())?;
    line.push('\n');
    // One write of one short line to a file opened for appending, under the lock.
    (&file)
        .write_all(line.as_bytes())
        .map_err(|e| io("write", e))?;
    file.sync_all().map_err(|e| io("sync", e))?;
    if created {
        sync_dir(path);
    }
    Ok(Some(cp))
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut o = OpenOptions::new();
    o.create(true).append(true).read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

/// The file's last checkpoint, authenticated (reads only the tail).
fn last_checkpoint(
    mut file: &File,
    keys: &AuditKeys,
) -> std::io::Result<Result<Option<Checkpoint>, BadCheckpoint>> {
    let len = file.seek(SeekFrom::End(0))?;
    let from = len.saturating_sub(4096);
    file.seek(SeekFrom::Start(from))?;
    let mut tail = String::new();
    std::io::Read::read_to_string(&mut file, &mut tail)?;
    let Some(line) = tail.lines().rev().find(|l| !l.trim().is_empty()) else {
        return Ok(Ok(None));
    };
    let bad = |reason: String| BadCheckpoint { seq: 0, reason };
    let cp: Checkpoint = match serde_json::from_str(line) {
        Ok(cp) => cp,
        Err(e) => return Ok(Err(bad(format!("the last checkpoint is unreadable: {e}")))),
    };
    if !cp.authentic_in(keys) {
        return Ok(Err(bad(format!(
            "the last checkpoint (entry {}) fails its MAC: forged, altered, or signed with \
             another key",
            cp.seq
        ))));
    }
    Ok(Ok(Some(cp)))
}

/// Make a new file's directory entry durable (best effort: not every platform allows
/// opening a directory).
fn sync_dir(path: &Path) {
    let dir: PathBuf = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// An exclusive advisory lock on an open file, released on drop.
struct Flock<'a>(&'a File);

impl<'a> Flock<'a> {
    fn exclusive(file: &'a File) -> std::io::Result<Flock<'a>> {
        #[cfg(unix)]
        rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive)?;
        Ok(Flock(file))
    }
}

impl Drop for Flock<'_> {
    fn drop(&mut self) {
        #[cfg(unix)]
        let _ = rustix::fs::flock(self.0, rustix::fs::FlockOperation::Unlock);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn key() -> AuditKeys {
        crate::pii::PiiKey::random().checkpoint_keys()
    }

    #[test]
    fn concurrent_writers_append_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.log");
        let key = key();
        std::thread::scope(|s| {
            for t in 0..8 {
                let (path, key) = (&path, &key);
                s.spawn(move || {
                    for i in 0..25 {
                        let seq = t * 100 + i + 1;
                        append_checkpoint(path, key, (seq, &format!("{seq:064x}")), None)
                            .unwrap()
                            .unwrap();
                    }
                });
            }
        });
        let all = read_checkpoints(&path, &key).unwrap().unwrap();
        assert_eq!(all.len(), 200);
        let mut seqs: Vec<i64> = all.iter().map(|(_, cp)| cp.seq).collect();
        seqs.sort_unstable();
        seqs.dedup();
        assert_eq!(seqs.len(), 200);
    }

    #[test]
    fn periodic_checkpoints_are_written_only_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cp.log");
        let key = key();
        let due = Due {
            interval: std::time::Duration::from_secs(3600),
            entries: 10,
        };
        let hash = "ab".repeat(32);
        let write = |seq| append_checkpoint(&path, &key, (seq, &hash), Some(due)).unwrap();
        assert!(write(5).is_some(), "the first is due");
        assert!(write(5).is_none(), "nothing new");
        assert!(write(14).is_none(), "9 entries within the hour");
        assert!(write(15).is_some(), "10 entries");
        let hourly = Due {
            interval: std::time::Duration::ZERO,
            entries: 1000,
        };
        assert!(append_checkpoint(&path, &key, (16, &hash), Some(hourly))
            .unwrap()
            .is_some());
        assert_eq!(read_checkpoints(&path, &key).unwrap().unwrap().len(), 3);
        // Another key's file is not trusted.
        let other = super::tests::key();
        let bad = read_checkpoints(&path, &other).unwrap().unwrap_err();
        assert!(bad.reason.contains("not configured"), "{}", bad.reason);
        assert!(last_checkpoint_in(&path, &other).is_err());
    }
}
