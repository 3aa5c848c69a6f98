//! `X-Custos-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>`,
//! and the new secrets it is made with.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Prefix of a signing secret (tells it apart from other tokens in a config file).
const SECRET_PREFIX: &str = "whsec_";

/// A new signing secret: 32 random bytes, hex.
pub(crate) fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", hex::encode(bytes))
}

fn mac(secret: &str, t: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The signature header's value for `body` sent at `t` (Unix seconds).
pub fn signature_header(secret: &str, t: i64, body: &[u8]) -> String {
    let sig = mac(secret, t, body).finalize().into_bytes();
    format!("t={t},v1={}", hex::encode(sig))
}

/// What a receiver does: whether `header` signs `body` with `secret`, at a time no more
/// than `tolerance_secs` away from `now` (Unix seconds). Compared in constant time.
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some(("v1", v)) => sigs.extend(hex::decode(v).ok()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    if (now - t).abs() > tolerance_secs {
        return false;
    }
    sigs.iter()
        .any(|s| mac(secret, t, body).verify_slice(s).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_and_expire() {
        let secret = new_secret();
        assert_eq!(secret.len(), SECRET_PREFIX.len() + 64);
        assert_ne!(secret, new_secret());
        let body = br#"{"seq":1}"#;
        let h = signature_header(&secret, 1_700_000_000, body);
        assert!(h.starts_with("t=1700000000,v1="));
        assert!(verify_signature(&secret, &h, body, 1_700_000_100, 300));
        assert!(!verify_signature(&secret, &h, body, 1_700_000_301, 300));
        assert!(!verify_signature(
            &secret,
            &h,
            br#"{"seq":2}"#,
            1_700_000_000,
            300
        ));
        assert!(!verify_signature(
            "whsec_other",
            &h,
            body,
            1_700_000_000,
            300
        ));
        assert!(!verify_signature(
            &secret,
            "v1=00",
            body,
            1_700_000_000,
            300
        ));
        // The same value Python's hmac module computes (docs/integration.md).
        assert_eq!(
            signature_header("whsec_test", 1_700_000_000, body),
            "t=1700000000,v1=926c3c48823e4dc937cdb0992313bcbbc472579d779ab54f0d4e09e4049838aa"
        );
    }
}
