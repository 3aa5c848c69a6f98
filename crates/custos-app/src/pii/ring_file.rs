//! The key ring as text: the key file (`pii.key`, `CUSTOS_PII_KEY_FILE`) and
//! `CUSTOS_PII_KEY`.
//!
//! One entry a line; blank lines and lines starting with `#` are ignored:
//!
//! - `<base64 of 32 bytes>`: a master key. The first is the one a new database starts
//!   with; which key encrypts new values is decided by the database (`pii_key_check` in
//!   `settings`), so that every server on one database agrees.
//! - `retired <audit key id> <base64 chain key> <base64 checkpoint key>`: what is left of
//!   a retired master key: its derived audit keys only, so that audit entries and
//!   checkpoints it keyed still verify, without the power to decrypt anything.
//!
//! A file of one base64 line (the form before rotation existed) is a ring of one key.
//! In `CUSTOS_PII_KEY` keys may also be separated by commas or spaces.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::master::{AuditOnly, MasterKey};
use custos_store::AuditKey;

/// The entries of a ring, in file order.
#[derive(Clone, Default)]
pub(crate) struct RingText {
    pub(crate) keys: Vec<MasterKey>,
    pub(crate) retired: Vec<AuditOnly>,
}

fn key32(text: &str, what: &str) -> Result<[u8; 32], String> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| format!("{what} is not valid base64: {e}"))?;
    bytes.as_slice().try_into().map_err(|_| {
        format!(
            "{what} must be 32 bytes (base64 of 32 random bytes), got {}",
            bytes.len()
        )
    })
}

/// Parse a ring; `source` names it in errors. At least one master key is required.
pub(crate) fn parse(text: &str, source: &str) -> Result<RingText, String> {
    let mut ring = RingText::default();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = |e: String| format!("{e} ({source}, line {})", n + 1);
        let words: Vec<&str> = line
            .split([' ', '\t', ','])
            .filter(|w| !w.is_empty())
            .collect();
        if words[0] == "retired" {
            let [_, id, chain, cps] = words[..] else {
                return Err(at(
                    "a retired entry is `retired <id> <chain key> <checkpoint key>`".into(),
                ));
            };
            let chain_raw = key32(chain, "the retired audit key").map_err(at)?;
            let checkpoints_raw = key32(cps, "the retired checkpoint key").map_err(at)?;
            ring.retired.push(AuditOnly {
                chain: AuditKey::new(id, chain_raw),
                checkpoints: AuditKey::new(id, checkpoints_raw),
                chain_raw,
                checkpoints_raw,
            });
            continue;
        }
        for w in words {
            let master = key32(w, "the PII key").map_err(at)?;
            let key = MasterKey::from_master(&master);
            if !ring.keys.iter().any(|k| k.key_id() == key.key_id()) {
                ring.keys.push(key);
            }
        }
    }
    if ring.keys.is_empty() {
        return Err(format!("{source} holds no PII key"));
    }
    Ok(ring)
}

/// The file text of a ring.
pub(crate) fn render(ring: &RingText) -> String {
    let mut out = String::from(
        "# custos PII key ring: one master key a line (base64 of 32 bytes); the database\n\
         # decides which one encrypts (custos key status). Keep this file secret.\n",
    );
    for k in &ring.keys {
        out.push_str(&k.to_base64());
        out.push('\n');
    }
    for r in &ring.retired {
        out.push_str(&format!(
            "retired {} {} {}\n",
            r.chain.id(),
            STANDARD.encode(r.chain_raw),
            STANDARD.encode(r.checkpoints_raw)
        ));
    }
    out
}

/// Replace `path` with `text` atomically (a new file, mode 0600, renamed over it).
pub(crate) fn replace(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("new");
    match std::fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    custos_store::private_files::write_new(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn one_line_file_is_a_ring_of_one() {
        let k = MasterKey::random();
        let ring = parse(&format!("{}\n", k.to_base64()), "test").unwrap();
        assert_eq!(ring.keys.len(), 1);
        assert_eq!(ring.keys[0].key_id(), k.key_id());
    }

    #[test]
    fn keys_retired_entries_and_comments_round_trip() {
        let (a, b, c) = (
            MasterKey::random(),
            MasterKey::random(),
            MasterKey::random(),
        );
        let ring = RingText {
            keys: vec![b.clone(), a.clone()],
            retired: vec![c.audit_only()],
        };
        let text = render(&ring);
        let back = parse(&text, "test").unwrap();
        let ids: Vec<&str> = back.keys.iter().map(|k| k.key_id()).collect();
        assert_eq!(ids, vec![b.key_id(), a.key_id()]);
        assert_eq!(back.retired.len(), 1);
        let msg = b"entry";
        assert!(back.retired[0]
            .chain
            .verify_hex(msg, &c.audit_key().mac_hex(msg)));
        assert_eq!(back.retired[0].chain.id(), c.audit_key().id());
        // The retired entry cannot decrypt: it holds no master key.
        assert!(!text.contains(&c.to_base64()));
    }

    #[test]
    fn env_form_with_commas_and_errors_name_the_line() {
        let (a, b) = (MasterKey::random(), MasterKey::random());
        let ring = parse(&format!("{}, {}", a.to_base64(), b.to_base64()), "env").unwrap();
        assert_eq!(ring.keys.len(), 2);
        let e = parse("# c\n\nc2hvcnQ=\n", "pii.key").err().unwrap();
        assert!(e.contains("line 3") && e.contains("32 bytes"), "{e}");
        assert!(parse("# nothing\n", "pii.key").is_err());
    }
}
