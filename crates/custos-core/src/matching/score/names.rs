//! Name comparison: levels of name similarity and their weights.

use super::evidence::{bits, EvidenceKind, Tally};
use super::person::{compare_person, is_person_name, pinyin_with_tones, split_name, PersonMatch};
use crate::matching::features::{NameSource, PartyKind, Prepared, PreparedName};

/// Levels of name similarity, weakest first. The `Person…` levels compare Chinese
/// personal names by family and given name (see [`super::person`]).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(super) enum NameLevel {
    Other,
    PersonGivenDiffers,
    SharedWord,
    Weak,
    PersonGivenOneOff,
    PersonFamilyVariant,
    Fair,
    Contained,
    Close,
    PersonGivenToneless,
    Homophone,
    PersonGivenSound,
    Exact,
}

impl NameLevel {
    /// The names are those of two different people (another given name, or nothing alike).
    fn two_people(self) -> bool {
        matches!(
            self,
            NameLevel::Other | NameLevel::PersonGivenDiffers | NameLevel::PersonGivenOneOff
        )
    }
}

/// How distinctive the compared names are: an organisation's full name is rare among
/// strangers, a brand-only short name (华为, 正泰) or a person's name is not.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum NameClass {
    FullOrganisation,
    ShortOrPerson,
}

/// (m, u) of a name level.
pub(super) fn name_mu(level: NameLevel, class: NameClass) -> (f64, f64) {
    let full = class == NameClass::FullOrganisation;
    match (level, full) {
        (NameLevel::Exact, true) => (0.85, 1e-5),
        (NameLevel::Exact, false) => (0.85, 5e-3),
        (NameLevel::Homophone, true) => (0.04, 1e-4),
        (NameLevel::Homophone, false) => (0.05, 1e-2),
        (NameLevel::Close, true) => (0.05, 2e-4),
        (NameLevel::Close, false) => (0.05, 5e-3),
        (NameLevel::Contained, true) => (0.04, 1e-3),
        (NameLevel::Contained, false) => (0.03, 5e-3),
        (NameLevel::Fair, true) => (0.03, 2e-3),
        (NameLevel::Fair, false) => (0.04, 1e-2),
        (NameLevel::Weak, _) => (0.015, 0.02),
        // Chinese personal names. A given name read alike (with its tone) or written alike
        // is a common slip of one person's name and rare between strangers who share a
        // blocking key; read alike only without tone, less so. Another given name under
        // one family name is a relative far more often than a slip: a sibling's name
        // one character apart says nothing either way, a different one strongly against.
        (NameLevel::PersonGivenSound, _) => (0.05, 5e-4),
        // A pinyin input method ignores tones, so a toneless homophone is nearly as
        // common a slip as one with the tone.
        (NameLevel::PersonGivenToneless, _) => (0.04, 1e-3),
        (NameLevel::PersonFamilyVariant, _) => (0.02, 5e-3),
        (NameLevel::PersonGivenOneOff, _) => (0.03, 0.05),
        (NameLevel::PersonGivenDiffers, _) => (0.003, 0.3),
        // A person known by another given name (nickname, an English name next to the
        // legal one, a dropped middle name) keeps the family name; strangers who share a
        // blocking key mostly share a word too, so this is weak evidence against, not the
        // near-certain "nothing in common" below. An organisation's words are generic
        // (trading, holdings): no better than Other.
        (NameLevel::SharedWord, false) => (0.05, 0.3),
        (NameLevel::SharedWord, true) => (0.01, 0.97),
        (NameLevel::Other, _) => (0.01, 0.97),
    }
}

/// A name that says no more than a brand: a short name, or an organisation name with no
/// legal form of at most 4 characters.
pub(super) fn brand_only(n: &PreparedName) -> bool {
    n.source == NameSource::ShortName
        || (n.legal_form.is_none() && !n.branch && n.key.chars().count() <= 4)
}

/// The runs of digits in a name key (`华信3号店` → `["3"]`).
pub(super) fn number_runs(key: &str) -> Vec<&str> {
    key.split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
        .collect()
}

/// The level of two Chinese personal names, if both are such names.
fn person_level(x: &PreparedName, y: &PreparedName) -> Option<NameLevel> {
    if !is_person_name(&x.key) || !is_person_name(&y.key) {
        return None;
    }
    Some(match compare_person(&x.key, &y.key) {
        PersonMatch::GivenSound => NameLevel::PersonGivenSound,
        PersonMatch::GivenToneless => NameLevel::PersonGivenToneless,
        PersonMatch::FamilyVariant => NameLevel::PersonFamilyVariant,
        PersonMatch::GivenOneOff => NameLevel::PersonGivenOneOff,
        PersonMatch::GivenDiffers => NameLevel::PersonGivenDiffers,
        PersonMatch::Unrelated => NameLevel::Other,
    })
}

pub(super) fn name_level(x: &PreparedName, y: &PreparedName, kind: PartyKind) -> (NameLevel, f64) {
    if x.key == y.key {
        return (NameLevel::Exact, 1.0);
    }
    let sim = strsim::jaro_winkler(&x.key, &y.key);
    if kind == PartyKind::Individual {
        if let Some(level) = person_level(x, y) {
            return (level, sim);
        }
    }
    // Numbers in a name are deliberate (3号店 / 4号店, 一厂 written 1厂): names that
    // differ in them are different parties, not a typo of one another.
    let (nx, ny) = (number_runs(&x.key), number_runs(&y.key));
    if !nx.is_empty() && !ny.is_empty() && nx != ny {
        return (NameLevel::Weak, sim);
    }
    if x.pinyin == y.pinyin && x.pinyin.len() >= 4 {
        return (NameLevel::Homophone, sim);
    }
    // Latin-script names: a space typed inside a word or lost between two (`soph ie
    // nicolle`) leaves the letters in the order entered unchanged; the sorted word key
    // would put the broken word elsewhere and look unrelated.
    let latin = !x.compact.is_empty() && !y.compact.is_empty();
    if latin && x.compact == y.compact {
        return (NameLevel::Exact, 1.0);
    }
    let sim = if latin {
        sim.max(strsim::jaro_winkler(&x.compact, &y.compact))
    } else {
        sim
    };
    let level = if sim >= 0.94 {
        NameLevel::Close
    } else if contains_other(&x.key, &y.key) {
        NameLevel::Contained
    } else if sim >= 0.88 {
        NameLevel::Fair
    } else if sim >= 0.8 {
        NameLevel::Weak
    } else if latin && shares_word(&x.key, &y.key) {
        NameLevel::SharedWord
    } else {
        NameLevel::Other
    };
    (level, sim)
}

/// Two Latin-script keys (words joined by single spaces) have a word of 2+ letters in
/// common: the family name kept with another given name (`Robert Smith` / `Bob Smith`).
pub(super) fn shares_word(a: &str, b: &str) -> bool {
    a.split(' ')
        .filter(|w| w.chars().count() >= 2)
        .any(|w| b.split(' ').any(|v| v == w))
}

/// The shorter key (at least 2 characters) is inside the longer one: 华为 / 华为技术.
pub(super) fn contains_other(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.chars().count() >= 2 && long.contains(short)
}

pub(super) fn source_zh(s: NameSource) -> &'static str {
    match s {
        NameSource::Name => "名称",
        NameSource::ShortName => "简称",
        NameSource::FormerName => "曾用名",
    }
}

pub(super) fn source_en(s: NameSource) -> &'static str {
    match s {
        NameSource::Name => "name",
        NameSource::ShortName => "short name",
        NameSource::FormerName => "former name",
    }
}

pub(super) fn compare_names(a: &Prepared, b: &Prepared, kind: PartyKind, t: &mut Tally<'_>) {
    if a.names.is_empty() || b.names.is_empty() {
        if !a.names.is_empty() || !b.names.is_empty() {
            t.missing("name", "名称");
        }
        return;
    }
    // The best pair of names (name, short name, former names on either side): highest
    // level, then similarity, then the weight of that evidence (a full organisation name
    // says more than a brand-only one). The order of `a` and `b` must not matter, so ties
    // are broken by the weight, not by which pair came first.
    let class_of = |x: &PreparedName, y: &PreparedName| {
        if kind == PartyKind::Individual || brand_only(x) || brand_only(y) {
            NameClass::ShortOrPerson
        } else {
            NameClass::FullOrganisation
        }
    };
    let mut best: Option<(NameLevel, f64, f64, &PreparedName, &PreparedName)> = None;
    let mut consider = |level: NameLevel, sim: f64, x, y| {
        let (m, u) = name_mu(level, class_of(x, y));
        let weight = bits(m, u);
        let better = match best {
            None => true,
            Some((l, s, w, _, _)) => (level, sim, weight) > (l, s, w),
        };
        if better {
            best = Some((level, sim, weight, x, y));
        }
    };
    // An exact key anywhere wins; look for one before any similarity computation.
    let mut exact = false;
    for x in &a.names {
        for y in b.names.iter().filter(|y| y.key == x.key) {
            consider(NameLevel::Exact, 1.0, x, y);
            exact = true;
        }
    }
    if !exact {
        for x in &a.names {
            for y in &b.names {
                let (level, sim) = name_level(x, y, kind);
                consider(level, sim, x, y);
            }
        }
    }
    let Some((level, sim, weight, x, y)) = best else {
        return;
    };
    // Only Chinese personal names are read as family and given name; other names that
    // compare as "other" (张伟 / Zhang Wei, a Latin name typed badly) say nothing of two people.
    let both_chinese = is_person_name(&x.key) && is_person_name(&y.key);
    t.names_disagree = kind == PartyKind::Individual && level.two_people() && both_chinese;
    // Organisation names alike only in sound (华维 / 华为): a slip of one name, or two
    // companies; which one, only a new record's own USCC can say (see
    // `verdict_for_new`).
    t.sound_only_name = kind == PartyKind::Organization && level == NameLevel::Homophone;
    let kind_ev = match level {
        NameLevel::Exact => EvidenceKind::Same,
        NameLevel::Other => EvidenceKind::Different,
        _ => EvidenceKind::Similar,
    };
    t.add("name", kind_ev, weight, || {
        let via = if x.source == NameSource::Name && y.source == NameSource::Name {
            (String::new(), String::new())
        } else {
            (
                format!(
                    "（{}「{}」对{}「{}」）",
                    source_zh(x.source),
                    x.key,
                    source_zh(y.source),
                    y.key
                ),
                format!(
                    " ({} {} vs {} {})",
                    source_en(x.source),
                    x.key,
                    source_en(y.source),
                    y.key
                ),
            )
        };
        match level {
            NameLevel::Exact => (
                format!("名称规范化后相同{}", via.0),
                format!("same after normalising{}", via.1),
            ),
            NameLevel::Homophone => (
                format!(
                    "名称读音相同（拼音 {}，相似度 {sim:.2}）{}",
                    x.pinyin, via.0
                ),
                format!("same pinyin {} (similarity {sim:.2}){}", x.pinyin, via.1),
            ),
            NameLevel::PersonGivenSound | NameLevel::PersonGivenToneless => {
                let tone = level == NameLevel::PersonGivenSound;
                let (zh, en) = if tone {
                    (
                        "名字读音（含声调）相同或字形相近",
                        "given name read alike (tone included) or written alike",
                    )
                } else {
                    (
                        "名字读音相同（声调不同）",
                        "given name read alike but for the tone",
                    )
                };
                (
                    format!(
                        "同姓，{zh}（{} / {}）{}",
                        pinyin_with_tones(&x.key),
                        pinyin_with_tones(&y.key),
                        via.0
                    ),
                    format!(
                        "same family name, {en} ({} / {}){}",
                        pinyin_with_tones(&x.key),
                        pinyin_with_tones(&y.key),
                        via.1
                    ),
                )
            }
            NameLevel::PersonFamilyVariant => (
                format!("名字相同，姓不同{}", via.0),
                format!("same given name, another family name{}", via.1),
            ),
            NameLevel::PersonGivenOneOff | NameLevel::PersonGivenDiffers => (
                format!("同姓（{}），名字不同{}", split_name(&x.key).0, via.0),
                format!(
                    "same family name ({}), another given name{}",
                    split_name(&x.key).0,
                    via.1
                ),
            ),
            NameLevel::SharedWord => (
                format!("名称仅有一个词相同（相似度 {sim:.2}）{}", via.0),
                format!("one word in common ({sim:.2}){}", via.1),
            ),
            NameLevel::Contained => (
                format!("一个名称包含另一个（相似度 {sim:.2}）{}", via.0),
                format!("one name contains the other ({sim:.2}){}", via.1),
            ),
            _ => (
                format!("名称规范化后相似度 {sim:.2}{}", via.0),
                format!("{sim:.2} after normalising{}", via.1),
            ),
        }
    });
}
