//! Blocking keys: two records are compared only if they share a key. Every duplicate
//! variant the comparison accepts must share at least one key with its original:
//!
//! | key | catches |
//! | --- | --- |
//! | `u:` USCC, `i:` id number, `p:` phone, `e:` e-mail | any name change, if an identifier survives |
//! | `n:` name key (also of short and former names) | suffix forms, region prefixes, 繁体, full width, brackets, word order |
//! | `y:` pinyin of the name key | homophone typos (华为 / 华伟) |
//! | `d:` name key with one character deleted (keys of 4+ characters) | any one-character typo, insertion or deletion |
//! | `h:` first two characters of the name key | short names (华为 / 华为技术), later typos; a sorted neighbourhood when the block is large |
//! | `w:` each word of a Latin-script name | a missing given name or surname |
//! | `b:` birth date | people whose name and identifiers all differ |
//!
//! Keys are deterministic, at most [`MAX_BLOCKING_KEYS`] per record, identifiers first.
//! Frequent keys (a shared switchboard, the prefix 中国) are the retriever's concern: it caps
//! the candidates per key (sorted neighbourhood in batch, newest-N online).

use super::features::{PartyKind, Prepared};

/// Most keys one record gets.
pub const MAX_BLOCKING_KEYS: usize = 24;

/// Characters of a key before deletion keys stop (a typo further right is still caught by `h:`).
const DELETION_SPAN: usize = 10;

/// Blocking keys of a prepared record, deduplicated, in a stable order.
pub fn blocking_keys(p: &Prepared) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(MAX_BLOCKING_KEYS);
    let push = |keys: &mut Vec<String>, k: String| {
        if keys.len() < MAX_BLOCKING_KEYS && !keys.contains(&k) {
            keys.push(k);
        }
    };
    if let Some(u) = &p.uscc {
        push(&mut keys, format!("u:{}", u.value));
    }
    if let Some(i) = &p.id_number {
        push(&mut keys, format!("i:{}", i.value));
    }
    for phone in p.phones.iter().take(3) {
        push(&mut keys, format!("p:{phone}"));
    }
    if let Some(e) = &p.email {
        push(&mut keys, format!("e:{e}"));
    }
    for name in p.names.iter().take(4) {
        push(&mut keys, format!("n:{}", name.key));
        if name.pinyin != name.key {
            push(&mut keys, format!("y:{}", name.pinyin));
        }
    }
    if let Some(b) = p.birth_date {
        push(&mut keys, format!("b:{}", b.format("%Y%m%d")));
    }
    for name in p.names.iter().take(2) {
        let chars: Vec<char> = name.key.chars().collect();
        if chars.len() >= 2 {
            push(&mut keys, format!("h:{}{}", chars[0], chars[1]));
        }
        let latin = name.pinyin == name.key;
        if latin && p.kind != PartyKind::Organization {
            if let Some(words) = latin_words(&name.key) {
                for w in words {
                    push(&mut keys, format!("w:{w}"));
                }
            }
        }
    }
    // Deletion keys last: they are many, and the cap should cut them, not identifiers.
    for name in p.names.iter().take(2) {
        let chars: Vec<char> = name.key.chars().collect();
        if chars.len() < 4 {
            continue;
        }
        for skip in 0..chars.len().min(DELETION_SPAN) {
            let k: String = chars
                .iter()
                .enumerate()
                .filter(|&(i, _)| i != skip)
                .map(|(_, c)| c)
                .collect();
            push(&mut keys, format!("d:{k}"));
        }
    }
    keys
}

/// Words of 3+ characters of a Latin key (its words were joined by single spaces).
fn latin_words(key: &str) -> Option<Vec<&str>> {
    let words: Vec<&str> = key.split(' ').filter(|w| w.chars().count() >= 3).collect();
    (!words.is_empty()).then_some(words)
}
