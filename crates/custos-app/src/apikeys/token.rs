//! The API key token: `custos_<prefix>_<secret>`. The prefix (8 characters) is public —
//! it is listed, logged and finds the key's row; the secret (43 characters, about 256
//! random bits) is shown once. Only the SHA-256 of the whole token is stored: a random
//! token of that strength needs no salt or slow hash, and a fast hash keeps every request
//! cheap.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const TOKEN_START: &str = "custos_";
const PREFIX_LEN: usize = 8;
const SECRET_LEN: usize = 43;
const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const PREFIX_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A new token and its parts.
pub(crate) struct NewToken {
    pub token: String,
    pub prefix: String,
    pub hash: String,
}

/// `n` characters drawn uniformly from `alphabet` (bytes that would bias the draw are
/// thrown away).
fn random_text(alphabet: &[u8], n: usize) -> String {
    let limit = 256 - 256 % alphabet.len();
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        rand::rngs::OsRng.fill_bytes(&mut buf);
        for b in buf {
            if (b as usize) < limit && out.len() < n {
                out.push(alphabet[b as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

pub(crate) fn new_token() -> NewToken {
    let prefix = random_text(PREFIX_ALPHABET, PREFIX_LEN);
    let secret = random_text(ALPHABET, SECRET_LEN);
    let token = format!("{TOKEN_START}{prefix}_{secret}");
    let hash = token_hash(&token);
    NewToken {
        token,
        prefix,
        hash,
    }
}

pub(crate) fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a bearer token is meant as an API key (rather than a login session's).
pub fn looks_like_api_key(token: &str) -> bool {
    token.starts_with(TOKEN_START)
}

/// The prefix of a well-formed token; `None` for anything else.
pub(crate) fn prefix_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_START)?;
    let (prefix, secret) = rest.split_once('_')?;
    let ok = prefix.len() == PREFIX_LEN
        && prefix.bytes().all(|b| PREFIX_ALPHABET.contains(&b))
        && secret.len() == SECRET_LEN
        && secret.bytes().all(|b| ALPHABET.contains(&b));
    ok.then_some(prefix)
}

/// Compare the hash of a presented token with the stored one in constant time.
pub(crate) fn hash_matches(token: &str, stored: &str) -> bool {
    token_hash(token).as_bytes().ct_eq(stored.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_back_and_only_match_their_hash() {
        let t = new_token();
        assert_eq!(prefix_of(&t.token), Some(t.prefix.as_str()));
        assert!(looks_like_api_key(&t.token));
        assert!(hash_matches(&t.token, &t.hash));
        let other = new_token();
        assert_ne!(t.token, other.token);
        assert!(!hash_matches(&other.token, &t.hash));
        // Anything malformed has no prefix.
        for bad in [
            "",
            "custos_",
            "custos_abcdefgh",
            "custos_abcdefgh_short",
            "custos_ABCDEFGH_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "cst_abcdefgh_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "custos_abcdefgh_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-",
        ] {
            assert_eq!(prefix_of(bad), None, "{bad}");
        }
    }
}
