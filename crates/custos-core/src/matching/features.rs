//! A [`MatchRecord`] prepared once into the features the comparison and the blocking use:
//! canonical identifiers, a name key (and its pinyin) for every name, one region code.

use chrono::NaiveDate;
use pinyin::ToPinyin;
use serde::Serialize;

use super::MatchRecord;
use crate::ident::{Email, IdNumber, Mobile, Phone, Uscc};
use crate::normalize::{name_key, normalize_text, to_simplified};
use crate::region;

/// Organisation or person; decides which m/u values apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PartyKind {
    Organization,
    Individual,
    Unknown,
}

impl PartyKind {
    /// Kind named by a customer type, if the type says it.
    pub fn from_customer_type(customer_type: &str) -> PartyKind {
        let t = customer_type.trim().to_lowercase();
        match t.as_str() {
            "individual" | "person" | "personal" | "private" | "p" | "个人" | "自然人"
            | "个人客户" => PartyKind::Individual,
            "enterprise" | "organization" | "organisation" | "company" | "org" | "c" | "企业"
            | "单位" | "公司" | "企业客户" | "组织" => PartyKind::Organization,
            _ => PartyKind::Unknown,
        }
    }
}

/// Where a name came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NameSource {
    Name,
    ShortName,
    FormerName,
}

/// One name ready for comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreparedName {
    pub source: NameSource,
    /// [`name_key`] of the name; for Latin-script names the lower-case words sorted and
    /// joined by one space, so that `Smith John` and `john smith` agree.
    pub key: Box<str>,
    /// Toneless pinyin of the key (`huaweijishu`); non-Chinese characters kept as they are.
    pub pinyin: Box<str>,
    /// Latin-script names only (empty otherwise): the letters and digits in the order
    /// entered, without spaces, so that a space typed inside a word (`soph ie`) or lost
    /// between two words (`sophienicolle`) does not change the comparison.
    pub compact: Box<str>,
    pub legal_form: Option<Box<str>>,
    pub branch: bool,
}

/// An identifier in canonical form, and whether it passed its check (a valid one that
/// differs is strong evidence of two parties; an unchecked one may hold a typo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PreparedIdent {
    pub value: Box<str>,
    pub valid: bool,
}

/// Comparable features of one record. Built by [`prepare`]; small, so a million fit in memory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prepared {
    pub kind: PartyKind,
    /// The name first, then the short name, then former names; empty keys dropped.
    pub names: Vec<PreparedName>,
    pub uscc: Option<PreparedIdent>,
    pub id_number: Option<PreparedIdent>,
    pub birth_date: Option<NaiveDate>,
    /// Canonical phone numbers (mobile `13800138000`, landline `010-12345678`), deduplicated.
    pub phones: Vec<Box<str>>,
    pub email: Option<Box<str>>,
    /// Most specific GB/T 2260 code known from the region fields, the name's region prefix
    /// or the USCC, in that order of trust.
    pub region: Option<&'static str>,
    /// Address without its leading region, simplified, letters and digits only.
    pub address: Box<str>,
    pub industry: Box<str>,
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{20000}'..='\u{2FA1F}')
}

/// Pinyin of a key, syllables run together; characters without pinyin kept.
pub(crate) fn pinyin_of(key: &str) -> String {
    let mut out = String::with_capacity(key.len() * 2);
    for c in key.chars() {
        match c.to_pinyin() {
            Some(p) => out.push_str(p.plain()),
            None => out.push(c),
        }
    }
    out
}

fn prepare_name(raw: &str, source: NameSource) -> Option<(PreparedName, Option<&'static str>)> {
    let text = normalize_text(raw);
    if text.is_empty() {
        return None;
    }
    let has_cjk = text.chars().any(is_cjk);
    let nk = name_key(&text);
    let mut compact = String::new();
    let key = if has_cjk {
        nk.key
    } else {
        // Latin script: words in order-independent form (surname/given name swaps).
        let lower = text.to_lowercase();
        let mut words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        if nk.legal_form.is_some() {
            // Keep the legal form out of the key, as for Chinese names.
            let stripped: String = nk.key.clone();
            if !stripped.is_empty() {
                words.retain(|w| stripped.contains(w));
            }
        }
        compact = words.concat();
        words.sort_unstable();
        words.join(" ")
    };
    if key.is_empty() {
        return None;
    }
    let region = nk
        .region
        .as_deref()
        .and_then(region::lookup)
        .map(|r| r.code);
    let pinyin = if has_cjk {
        pinyin_of(&key)
    } else {
        key.clone()
    };
    Some((
        PreparedName {
            source,
            key: key.into_boxed_str(),
            pinyin: pinyin.into_boxed_str(),
            compact: compact.into_boxed_str(),
            legal_form: nk.legal_form.map(String::into_boxed_str),
            branch: nk.branch,
        },
        region,
    ))
}

/// Letters and digits only (upper-cased), for identifiers that failed their own parser.
fn alnum_upper(s: &str) -> String {
    crate::normalize::to_half_width(s)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

fn prepare_ident(value: String, valid: bool) -> Option<PreparedIdent> {
    (!value.is_empty()).then(|| PreparedIdent {
        value: value.into_boxed_str(),
        valid,
    })
}

/// Canonical phone: the parsers' form, else the digits when there are at least 7.
fn canonical_phone(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    if let Ok(m) = Mobile::parse(raw) {
        return Some(m.as_str().to_string());
    }
    if let Ok(p) = Phone::parse(raw) {
        return Some(p.as_str().to_string());
    }
    let digits: String = crate::normalize::to_half_width(raw)
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    (digits.len() >= 7).then_some(digits)
}

const MUNICIPALITIES: [&str; 4] = ["11", "12", "31", "50"];

/// Comparable city: the 4-digit prefix, with the municipalities' province and 市辖区
/// levels folded into one. Bytes, not a String: it is computed for every scored pair.
pub(crate) fn city_of(code: &str) -> Option<[u8; 4]> {
    let (p, c) = (code.get(..2)?.as_bytes(), code.get(2..4)?.as_bytes());
    if MUNICIPALITIES.iter().any(|m| m.as_bytes() == p) {
        return Some([p[0], p[1], b'0', b'1']);
    }
    (c != b"00").then(|| [p[0], p[1], c[0], c[1]])
}

/// Region code named by the province/city/district fields (most specific that resolves).
fn region_from_fields(r: &MatchRecord) -> Option<&'static str> {
    if let Some(reg) = region::lookup(r.region_code.trim()) {
        return Some(reg.code);
    }
    let clean = |s: &str| to_simplified(&normalize_text(s));
    let province = region::region_named(&clean(&r.province));
    let city = region::region_named(&clean(&r.city));
    let mut best = city.or(province);
    let district = clean(&r.district);
    if !district.is_empty() {
        if let Some(parent) = best {
            // A district name is only unique within its city (朝阳区 is in Beijing and Changchun).
            let mut parents = vec![parent.code];
            if parent.level == region::RegionLevel::Province {
                parents.extend(region::children(parent.code).iter().map(|c| c.code));
            }
            let found = parents.iter().flat_map(|p| region::children(p)).find(|c| {
                c.level == region::RegionLevel::County
                    && (c.name == district
                        || c.name.trim_end_matches(['区', '县', '市', '旗']) == district)
            });
            if let Some(d) = found {
                best = Some(d);
            }
        }
    }
    best.map(|r| r.code)
}

/// Keep the more specific of two codes when they agree; otherwise the trusted one.
fn refine(trusted: Option<&'static str>, other: Option<&'static str>) -> Option<&'static str> {
    match (trusted, other) {
        (None, o) => o,
        (Some(t), None) => Some(t),
        (Some(t), Some(o)) => {
            let t_trim = t.trim_end_matches("00");
            let agrees = o.starts_with(t_trim) && o.len() == 6;
            let more_specific = o.trim_end_matches("00").len() > t_trim.len();
            if agrees && more_specific {
                Some(o)
            } else {
                Some(t)
            }
        }
    }
}

/// Prepare a record for comparison and blocking. `today` bounds valid birth dates of id numbers.
pub fn prepare(record: &MatchRecord, today: NaiveDate) -> Prepared {
    let mut names = Vec::with_capacity(2 + record.former_names.len());
    let mut name_region = None;
    let sources = std::iter::once((record.name.as_str(), NameSource::Name))
        .chain(std::iter::once((
            record.short_name.as_str(),
            NameSource::ShortName,
        )))
        .chain(
            record
                .former_names
                .iter()
                .map(|n| (n.as_str(), NameSource::FormerName)),
        );
    for (raw, source) in sources {
        if let Some((name, region)) = prepare_name(raw, source) {
            if source == NameSource::Name {
                name_region = region;
            }
            if !names.iter().any(|n: &PreparedName| n.key == name.key) {
                names.push(name);
            }
        }
        if names.len() >= 6 {
            break;
        }
    }

    // Empty fields are common (a third of the rows lack an identifier): skip the parsers,
    // whose errors format messages; an empty field gives None either way.
    let uscc = if record.uscc.is_empty() {
        None
    } else {
        match Uscc::parse(&record.uscc) {
            Ok(u) => prepare_ident(u.as_str().to_string(), true),
            Err(_) => prepare_ident(alnum_upper(&record.uscc), false),
        }
    };
    let uscc_region = match &uscc {
        Some(PreparedIdent { value, valid: true }) => {
            value.get(2..8).and_then(region::lookup).map(|r| r.code)
        }
        _ => None,
    };
    let (id_number, id_birth) = if record.id_number.is_empty() {
        (None, None)
    } else {
        match IdNumber::parse(&record.id_number, today) {
            Ok(id) => (
                prepare_ident(id.as_str().to_string(), true),
                Some(id.birth_date()),
            ),
            Err(_) => (prepare_ident(alnum_upper(&record.id_number), false), None),
        }
    };

    let mut phones: Vec<Box<str>> = Vec::new();
    for raw in &record.phones {
        for part in raw.split([';', '；', ',', '，', '/', '、']) {
            if let Some(p) = canonical_phone(part) {
                if !phones.iter().any(|q| **q == *p) && phones.len() < 4 {
                    phones.push(p.into_boxed_str());
                }
            }
        }
    }
    let email = if record.email.is_empty() {
        None
    } else {
        match Email::parse(&record.email) {
            Ok(e) => Some(e.as_str().to_lowercase().into_boxed_str()),
            Err(_) => {
                let e = normalize_text(&record.email).to_lowercase();
                (!e.is_empty()).then(|| e.into_boxed_str())
            }
        }
    };

    let region = refine(refine(region_from_fields(record), name_region), uscc_region);

    let address = {
        let text = to_simplified(&normalize_text(&record.address)).to_lowercase();
        let (_, rest) = region::strip_region_prefix(&text);
        let mut cleaned = String::with_capacity(rest.len());
        cleaned.extend(rest.chars().filter(|c| c.is_alphanumeric()));
        cleaned.into_boxed_str()
    };
    let industry: Box<str> = normalize_text(&record.industry).to_lowercase().into();

    let mut kind = PartyKind::from_customer_type(&record.customer_type);
    if kind == PartyKind::Unknown {
        kind = if uscc.is_some() || names.iter().any(|n| n.legal_form.is_some() || n.branch) {
            PartyKind::Organization
        } else if id_number.is_some() {
            PartyKind::Individual
        } else {
            PartyKind::Unknown
        };
    }

    Prepared {
        kind,
        names,
        uscc,
        id_number,
        birth_date: id_birth.or(record.birth_date),
        phones,
        email,
        region,
        address,
        industry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default()
    }

    #[test]
    fn pinyin_of_key() {
        assert_eq!(pinyin_of("华为技术"), "huaweijishu");
        assert_eq!(pinyin_of("abc科技"), "abckeji");
    }

    #[test]
    fn latin_names_are_order_independent() {
        let a = prepare_name("John  SMITH", NameSource::Name).map(|n| n.0.key);
        let b = prepare_name("smith john", NameSource::Name).map(|n| n.0.key);
        assert_eq!(a, b);
    }

    #[test]
    fn region_from_all_sources() {
        let r = MatchRecord {
            name: "北京市华为技术有限公司".into(),
            ..Default::default()
        };
        assert_eq!(prepare(&r, today()).region, Some("110000"));
        let r = MatchRecord {
            name: "华为技术有限公司".into(),
            province: "广东".into(),
            city: "深圳市".into(),
            district: "南山区".into(),
            ..Default::default()
        };
        assert_eq!(prepare(&r, today()).region, Some("440305"));
        assert_eq!(city_of("110105"), Some(*b"1101"));
        assert_eq!(city_of("110000"), Some(*b"1101"));
        assert_eq!(city_of("440000"), None);
        assert_eq!(city_of("440305"), Some(*b"4403"));
    }

    #[test]
    fn phones_canonical_and_deduplicated() {
        let r = MatchRecord {
            phones: vec![
                "+86 138-0013-8000".into(),
                "13800138000; 010 1234 5678".into(),
            ],
            ..Default::default()
        };
        let p = prepare(&r, today());
        let phones: Vec<&str> = p.phones.iter().map(|s| &**s).collect();
        assert_eq!(phones, ["13800138000", "010-12345678"]);
    }
}
