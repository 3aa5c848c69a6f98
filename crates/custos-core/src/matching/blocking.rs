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
//! | `a:` a person's first name character and dwelling address | one person entered twice at one flat, however common the name (household members share it too; the comparison tells them apart) |
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
    struct Strings(Vec<String>);
    impl KeySink for Strings {
        fn push(&mut self, parts: &[&str]) {
            let k = parts.concat();
            if self.0.len() < MAX_BLOCKING_KEYS && !self.0.contains(&k) {
                self.0.push(k);
            }
        }
    }
    let mut keys = Strings(Vec::with_capacity(MAX_BLOCKING_KEYS));
    emit_keys(p, &mut keys);
    keys.0
}

/// Hashes of [`blocking_keys`] (the same keys, deduplicated and capped the same way, in the
/// same order), appended to `out`, without building the keys as strings: batch clustering
/// needs only the hashes, for about 15 keys per record. `hash` gets each key in parts that
/// concatenate to the key.
pub(crate) fn blocking_key_hashes(
    p: &Prepared,
    hash: &impl Fn(&[&str]) -> u64,
    out: &mut Vec<u64>,
) {
    struct Hashes<'a, H> {
        hash: &'a H,
        out: &'a mut Vec<u64>,
        start: usize,
    }
    impl<H: Fn(&[&str]) -> u64> KeySink for Hashes<'_, H> {
        fn push(&mut self, parts: &[&str]) {
            let h = (self.hash)(parts);
            let mine = &self.out[self.start..];
            if mine.len() < MAX_BLOCKING_KEYS && !mine.contains(&h) {
                self.out.push(h);
            }
        }
    }
    let start = out.len();
    emit_keys(p, &mut Hashes { hash, out, start });
}

/// Receives each blocking key as parts to concatenate (`["n:", "华为技术"]`).
trait KeySink {
    fn push(&mut self, parts: &[&str]);
}

/// Every blocking key of `p` in order, duplicates included (the sink drops them and caps).
fn emit_keys(p: &Prepared, keys: &mut impl KeySink) {
    if let Some(u) = &p.uscc {
        keys.push(&["u:", &u.value]);
    }
    if let Some(i) = &p.id_number {
        keys.push(&["i:", &i.value]);
    }
    for phone in p.phones.iter().take(3) {
        keys.push(&["p:", phone]);
    }
    if let Some(e) = &p.email {
        keys.push(&["e:", e]);
    }
    for name in p.names.iter().take(4) {
        keys.push(&["n:", &name.key]);
        if name.pinyin != name.key {
            keys.push(&["y:", &name.pinyin]);
        }
    }
    if let Some(b) = p.birth_date {
        keys.push(&["b:", &b.format("%Y%m%d").to_string()]);
    }
    if let Some(family) = household_key_part(p) {
        keys.push(&["a:", family, &p.address]);
    }
    for name in p.names.iter().take(2) {
        // The first two characters (byte end of the second one).
        if let Some((second, c)) = name.key.char_indices().nth(1) {
            keys.push(&["h:", &name.key[..second + c.len_utf8()]]);
        }
        let latin = name.pinyin == name.key;
        if latin && p.kind != PartyKind::Organization {
            if let Some(words) = latin_words(&name.key) {
                for w in words {
                    keys.push(&["w:", w]);
                }
            }
        }
    }
    // Deletion keys last: they are many, and the cap should cut them, not identifiers.
    for name in p.names.iter().take(2) {
        let key: &str = &name.key;
        if key.chars().count() < 4 {
            continue;
        }
        for (at, c) in key.char_indices().take(DELETION_SPAN) {
            keys.push(&["d:", &key[..at], &key[at + c.len_utf8()..]]);
        }
    }
}

/// Shortest address (letters and digits, region left out) that names a dwelling rather
/// than a town: "建设路7号" has 5 characters; shorter texts are districts or streets.
const MIN_DWELLING_ADDRESS: usize = 5;

/// The first character of a person's name key, when the record also has an address
/// specific enough to name one dwelling (it holds a number): the `a:` key. Two records of
/// one person at one flat share it however common the name is (张伟 has thousands of
/// namesakes, so its `n:` block is compared as a sorted neighbourhood and can miss them);
/// the family members at that flat share it too, and the comparison's household rule
/// tells them apart. Organisations get none: one office building holds many companies.
fn household_key_part(p: &Prepared) -> Option<&str> {
    if p.kind != PartyKind::Individual {
        return None;
    }
    let address = &*p.address;
    if address.chars().count() < MIN_DWELLING_ADDRESS
        || !address.chars().any(|c| c.is_ascii_digit())
    {
        return None;
    }
    let name = p.names.first()?;
    let (_, first) = name.key.char_indices().next()?;
    let end = first.len_utf8();
    Some(&name.key[..end])
}

/// Words of 3+ characters of a Latin key (its words were joined by single spaces).
fn latin_words(key: &str) -> Option<Vec<&str>> {
    let words: Vec<&str> = key.split(' ').filter(|w| w.chars().count() >= 3).collect();
    (!words.is_empty()).then_some(words)
}
