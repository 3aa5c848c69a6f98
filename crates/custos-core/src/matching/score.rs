//! Pairwise comparison: a Fellegi–Sunter score with the evidence per field.
//!
//! Each field comparison falls into one level; a level has `m` = P(level | same party) and
//! `u` = P(level | different parties that share a blocking key) and contributes
//! `log2(m/u)` bits. A field missing on either side contributes nothing. The score is the
//! posterior `1 / (1 + 2^-(PRIOR + Σ bits))`.
//!
//! The m/u values are set by hand from what the identifiers guarantee, not fitted to a
//! benchmark: two *valid* but different USCCs (or id numbers) almost never belong to one
//! party (a legal entity has exactly one), so they weigh −11 bits; an exact organisation
//! name key is rare among strangers (u = 1e-5) but a person's name is not (u = 5e-4); a
//! region prefix is part of a Chinese company's registered name, so different provinces
//! weigh heavily against; a branch (分公司) is its own legal entity, so branch vs parent
//! weighs −10. A person's name, or a brand-only short name, is shared by many strangers
//! (u = 5e-3): with only a name and a district in common two records stay "possible".

use std::fmt;

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::features::{city_of, NameSource, PartyKind, Prepared, PreparedIdent, PreparedName};

/// Prior log2-odds that a candidate pair is a duplicate (about 1 in 256 candidates).
const PRIOR: f64 = -8.0;

/// How a field compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Same,
    Similar,
    Different,
    Missing,
    /// Compared for equality only (see [`EqualityOnly`]) and not equal, or missing on
    /// the other side: which of these is not said.
    Withheld,
}

/// Fields a comparison may only test for equality: the personal data of a customer
/// whose values the caller may not read. For such a field two values are `same` or not,
/// and "not" weighs the same whatever the values — one digit off or nothing alike — so
/// neither the score nor the evidence can be used to guess a value digit by digit.
/// The weights of the two levels are those of a two-level comparison: `same` keeps its
/// m and u, "not same" has m = 1 − m(same) and u ≈ 1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EqualityOnly {
    /// The ID number, and the birth date taken from it.
    pub id_number: bool,
    /// Phones and mobiles, the customer's and its contacts'.
    pub phones: bool,
    pub email: bool,
    /// The address, unless both parties are organisations (whose addresses are public).
    pub address: bool,
}

impl EqualityOnly {
    /// Every field compared in full.
    pub const NONE: EqualityOnly = EqualityOnly {
        id_number: false,
        phones: false,
        email: false,
        address: false,
    };

    /// Whether any field is restricted.
    pub fn any(self) -> bool {
        self != EqualityOnly::NONE
    }
}

/// One field's contribution to a score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Field key: `uscc`, `id_number`, `phone`, `email`, `name`, `branch`, `legal_form`,
    /// `region`, `birth_date`, `address`, `industry`, `customer_type`.
    pub field: &'static str,
    pub kind: EvidenceKind,
    /// Explanation in Chinese, e.g. `名称规范化后相似度 0.94`.
    pub detail_zh: String,
    /// Explanation in English, e.g. `0.94 after normalising`.
    pub detail_en: String,
    /// Log2 likelihood ratio this field added to the score (0 when missing).
    pub weight: f64,
}

impl fmt::Display for Evidence {
    /// `uscc: same`, `name: 0.94 after normalising`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.detail_en)
    }
}

/// Score in [0, 1] and the evidence behind it, strongest first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MatchResult {
    pub score: f64,
    pub evidence: Vec<Evidence>,
}

impl MatchResult {
    /// The evidence for one field, if any.
    pub fn field(&self, field: &str) -> Option<&Evidence> {
        self.evidence.iter().find(|e| e.field == field)
    }
}

fn bits(m: f64, u: f64) -> f64 {
    (m / u).log2()
}

/// Collects evidence when explaining; does nothing when only scoring.
struct Tally<'a> {
    total: f64,
    evidence: Option<&'a mut Vec<Evidence>>,
    only_equal: EqualityOnly,
}

impl Tally<'_> {
    fn add(
        &mut self,
        field: &'static str,
        kind: EvidenceKind,
        weight: f64,
        detail: impl FnOnce() -> (String, String),
    ) {
        self.total += weight;
        if let Some(ev) = self.evidence.as_deref_mut() {
            let (detail_zh, detail_en) = detail();
            ev.push(Evidence {
                field,
                kind,
                detail_zh,
                detail_en,
                weight,
            });
        }
    }

    fn missing(&mut self, field: &'static str, label_zh: &'static str) {
        self.add(field, EvidenceKind::Missing, 0.0, || {
            (
                format!("{label_zh}：至少一方缺失"),
                "missing on one side".into(),
            )
        });
    }

    /// A field compared for equality only that is not `same` (see [`EqualityOnly`]):
    /// `weight` is that of "not same" when both sides have a value, else nothing.
    fn withheld(&mut self, field: &'static str, label_zh: &'static str, weight: f64) {
        self.add(field, EvidenceKind::Withheld, weight, || {
            (
                format!("{label_zh}：仅比对是否相同（无权查看个人信息）"),
                "compared for equality only (no permission to read personal data)".into(),
            )
        });
    }
}

/// Score of a pair without building evidence (the fast path for batch dedupe).
pub fn match_score(a: &Prepared, b: &Prepared) -> f64 {
    let mut t = Tally {
        total: 0.0,
        evidence: None,
        only_equal: EqualityOnly::NONE,
    };
    evaluate(a, b, &mut t);
    posterior(t.total)
}

/// Score of a pair with the evidence per field, strongest (by absolute weight) first.
pub fn compare(a: &Prepared, b: &Prepared) -> MatchResult {
    compare_with(a, b, EqualityOnly::NONE)
}

/// [`compare`] with the fields of `only_equal` compared for equality only.
pub fn compare_with(a: &Prepared, b: &Prepared, only_equal: EqualityOnly) -> MatchResult {
    let mut evidence = Vec::new();
    let mut t = Tally {
        total: 0.0,
        evidence: Some(&mut evidence),
        only_equal,
    };
    evaluate(a, b, &mut t);
    let score = posterior(t.total);
    evidence.sort_by(|x, y| y.weight.abs().total_cmp(&x.weight.abs()));
    MatchResult { score, evidence }
}

fn posterior(total_bits: f64) -> f64 {
    let s = 1.0 / (1.0 + (-(PRIOR + total_bits)).exp2());
    s.clamp(0.0, 1.0)
}

/// Whether `a` becomes `b` with at most one insertion, deletion, substitution or
/// transposition of adjacent characters.
fn within_one_edit(a: &str, b: &str) -> bool {
    // Phones, ids and e-mails are ASCII: compare bytes without collecting characters.
    if a.is_ascii() && b.is_ascii() {
        return one_edit_apart(a.as_bytes(), b.as_bytes());
    }
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    one_edit_apart(&a, &b)
}

/// Equal, or one substitution, insertion, deletion or swap of neighbours apart.
fn one_edit_apart<T: PartialEq>(a: &[T], b: &[T]) -> bool {
    let (la, lb) = (a.len(), b.len());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if prefix == la && prefix == lb {
        return true;
    }
    let (ra, rb) = (&a[prefix..], &b[prefix..]);
    match la.cmp(&lb) {
        std::cmp::Ordering::Equal => {
            ra[1..] == rb[1..]
                || (ra.len() >= 2 && ra[0] == rb[1] && ra[1] == rb[0] && ra[2..] == rb[2..])
        }
        std::cmp::Ordering::Less => ra == &rb[1..],
        std::cmp::Ordering::Greater => &ra[1..] == rb,
    }
}

/// Largest weight the name and address comparisons can add (exact full organisation name,
/// exact address): used to stop early when a pair cannot reach a threshold.
fn max_name_and_address_bits() -> f64 {
    let (m, u) = name_mu(NameLevel::Exact, NameClass::FullOrganisation);
    bits(m, u) + bits(0.6, 1e-3)
}

/// Score of a pair if it reaches `threshold`, else `None` — the same score as
/// [`match_score`], but pairs that cannot reach the threshold skip the string comparisons.
pub fn match_score_at_least(a: &Prepared, b: &Prepared, threshold: f64) -> Option<f64> {
    ScoreCut::new(threshold).score(a, b)
}

/// [`match_score_at_least`] with the fields of `only_equal` compared for equality only
/// (the score [`compare_with`] gives).
pub fn match_score_at_least_with(
    a: &Prepared,
    b: &Prepared,
    threshold: f64,
    only_equal: EqualityOnly,
) -> Option<f64> {
    ScoreCut::new(threshold).score_with(a, b, only_equal)
}

/// [`match_score_at_least`] for one threshold and many pairs: the bits a pair needs and
/// the most the string comparisons can add are computed once, not per pair.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ScoreCut {
    threshold: f64,
    needed: f64,
    max_string_bits: f64,
}

impl ScoreCut {
    pub(crate) fn new(threshold: f64) -> ScoreCut {
        ScoreCut {
            threshold,
            needed: logit2(threshold) - PRIOR,
            max_string_bits: max_name_and_address_bits(),
        }
    }

    /// The score of the pair if it reaches the threshold.
    pub(crate) fn score(&self, a: &Prepared, b: &Prepared) -> Option<f64> {
        self.score_with(a, b, EqualityOnly::NONE)
    }

    /// [`ScoreCut::score`] with the fields of `only_equal` compared for equality only.
    fn score_with(&self, a: &Prepared, b: &Prepared, only_equal: EqualityOnly) -> Option<f64> {
        let mut t = Tally {
            total: 0.0,
            evidence: None,
            only_equal,
        };
        evaluate_cheap(a, b, &mut t);
        if t.total + self.max_string_bits < self.needed {
            return None;
        }
        evaluate_strings(a, b, &mut t);
        let score = posterior(t.total);
        (score >= self.threshold).then_some(score)
    }
}

/// log2(p / (1 - p)), clamped for p at 0 or 1.
fn logit2(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    (p / (1.0 - p)).log2()
}

fn evaluate(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
    evaluate_cheap(a, b, t);
    evaluate_strings(a, b, t);
}

/// Comparisons without string similarity: identifiers, region, dates, legal form.
fn evaluate_cheap(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
    let kind = pair_kind(a, b);
    if let (PartyKind::Organization, PartyKind::Individual)
    | (PartyKind::Individual, PartyKind::Organization) = (a.kind, b.kind)
    {
        t.add(
            "customer_type",
            EvidenceKind::Different,
            bits(0.004, 1.0),
            || {
                (
                    "一方为单位、一方为个人".into(),
                    "organisation vs individual".into(),
                )
            },
        );
    }
    compare_ident(
        "uscc",
        "统一社会信用代码",
        a.uscc.as_ref(),
        b.uscc.as_ref(),
        t,
    );
    if t.only_equal.id_number {
        equal_ident("id_number", "证件号码", &a.id_number, &b.id_number, t);
    } else {
        compare_ident(
            "id_number",
            "证件号码",
            a.id_number.as_ref(),
            b.id_number.as_ref(),
            t,
        );
    }
    compare_phones(a, b, t);
    compare_email(a, b, t);
    if kind == PartyKind::Organization {
        compare_branch_and_form(a, b, t);
    }
    compare_region(a, b, kind, t);
    let both_ids_valid = a.id_number.as_ref().is_some_and(|i| i.valid)
        && b.id_number.as_ref().is_some_and(|i| i.valid);
    // With two valid id numbers the birth dates come from them: counted already. A
    // birth date read from an ID number is part of it: not compared when it may not be.
    if !both_ids_valid && !t.only_equal.id_number {
        compare_birth(a, b, t);
    }
    compare_industry(a, b, t);
}

/// Name and address similarity: the expensive part.
fn evaluate_strings(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
    compare_names(a, b, pair_kind(a, b), t);
    compare_address(a, b, pair_kind(a, b), t);
}

fn pair_kind(a: &Prepared, b: &Prepared) -> PartyKind {
    match (a.kind, b.kind) {
        (PartyKind::Organization, _) | (_, PartyKind::Organization) => PartyKind::Organization,
        (PartyKind::Individual, _) | (_, PartyKind::Individual) => PartyKind::Individual,
        _ => PartyKind::Unknown,
    }
}

fn compare_ident(
    field: &'static str,
    label_zh: &'static str,
    a: Option<&PreparedIdent>,
    b: Option<&PreparedIdent>,
    t: &mut Tally<'_>,
) {
    let (Some(a), Some(b)) = (a, b) else {
        if a.is_some() || b.is_some() {
            t.missing(field, label_zh);
        }
        return;
    };
    if a.value == b.value {
        let u = if a.valid { 1e-7 } else { 1e-6 };
        t.add(field, EvidenceKind::Same, bits(0.97, u), || {
            (format!("{label_zh}相同"), "same".into())
        });
    } else if a.valid && b.valid {
        t.add(field, EvidenceKind::Different, bits(0.0005, 1.0), || {
            (
                format!("{label_zh}不同（均为有效号码）"),
                "different (both valid)".into(),
            )
        });
    } else if within_one_edit(&a.value, &b.value) {
        t.add(field, EvidenceKind::Similar, bits(0.03, 1e-4), || {
            (
                format!("{label_zh}仅差一位（可能录入错误）"),
                "one character apart (typo?)".into(),
            )
        });
    } else {
        // Two unchecked identifiers (no check character: passport, social security or
        // membership numbers) that differ say less: a typo beyond one character goes
        // unnoticed and such documents are reissued. One valid against one unchecked keeps
        // the stronger weight: the valid one is right, the other is likely another's.
        let m = if !a.valid && !b.valid { 0.1 } else { 0.03 };
        t.add(field, EvidenceKind::Different, bits(m, 1.0), || {
            (format!("{label_zh}不同"), "different".into())
        });
    }
}

/// An identifier compared for equality only (see [`EqualityOnly`]).
fn equal_ident(
    field: &'static str,
    label_zh: &'static str,
    a: &Option<PreparedIdent>,
    b: &Option<PreparedIdent>,
    t: &mut Tally<'_>,
) {
    match (a, b) {
        (None, None) => {}
        (Some(x), Some(y)) if x.value == y.value => {
            let u = if x.valid { 1e-7 } else { 1e-6 };
            t.add(field, EvidenceKind::Same, bits(0.97, u), || {
                (format!("{label_zh}相同"), "same".into())
            });
        }
        (Some(_), Some(_)) => t.withheld(field, label_zh, bits(0.03, 1.0)),
        _ => t.withheld(field, label_zh, 0.0),
    }
}

fn is_mobile(p: &str) -> bool {
    p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit())
}

fn compare_phones(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
    let only_equal = t.only_equal.phones;
    match (a.phones.is_empty(), b.phones.is_empty()) {
        (true, true) => return,
        (true, false) | (false, true) => {
            if only_equal {
                // Missing is not told apart from different.
                t.withheld("phone", "电话", 0.0);
            } else {
                t.missing("phone", "电话");
            }
            return;
        }
        (false, false) => {}
    }
    if let Some(shared) = a.phones.iter().find(|p| b.phones.contains(p)) {
        let u = if is_mobile(shared) { 1e-5 } else { 1e-4 };
        t.add("phone", EvidenceKind::Same, bits(0.7, u), || {
            if only_equal {
                ("电话相同".into(), "same".into())
            } else {
                (format!("电话相同（{shared}）"), format!("same ({shared})"))
            }
        });
        return;
    }
    if only_equal {
        t.withheld("phone", "电话", bits(0.3, 1.0));
        return;
    }
    let near = a.phones.iter().any(|p| {
        b.phones
            .iter()
            .any(|q| p.len() == q.len() && within_one_edit(p, q))
    });
    if near {
        t.add("phone", EvidenceKind::Similar, bits(0.05, 1e-4), || {
            ("电话仅差一位".into(), "one digit apart".into())
        });
    } else {
        t.add("phone", EvidenceKind::Different, bits(0.25, 1.0), || {
            ("电话不同".into(), "different".into())
        });
    }
}

fn compare_email(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
    let only_equal = t.only_equal.email;
    match (&a.email, &b.email) {
        (Some(x), Some(y)) if x == y => t.add("email", EvidenceKind::Same, bits(0.7, 1e-6), || {
            ("电子邮箱相同".into(), "same".into())
        }),
        (Some(_), Some(_)) if only_equal => t.withheld("email", "电子邮箱", bits(0.3, 1.0)),
        (Some(_), Some(_)) => t.add("email", EvidenceKind::Different, bits(0.2, 1.0), || {
            ("电子邮箱不同".into(), "different".into())
        }),
        (None, None) => {}
        _ if only_equal => t.withheld("email", "电子邮箱", 0.0),
        _ => t.missing("email", "电子邮箱"),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum NameLevel {
    Other,
    SharedWord,
    Weak,
    Fair,
    Contained,
    Close,
    Homophone,
    Exact,
}

/// How distinctive the compared names are: an organisation's full name is rare among
/// strangers, a brand-only short name (华为, 正泰) or a person's name is not.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NameClass {
    FullOrganisation,
    ShortOrPerson,
}

/// (m, u) of a name level.
fn name_mu(level: NameLevel, class: NameClass) -> (f64, f64) {
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
fn brand_only(n: &PreparedName) -> bool {
    n.source == NameSource::ShortName
        || (n.legal_form.is_none() && !n.branch && n.key.chars().count() <= 4)
}

/// The runs of digits in a name key (`华信3号店` → `["3"]`).
fn number_runs(key: &str) -> Vec<&str> {
    key.split(|c: char| !c.is_ascii_digit())
        .filter(|r| !r.is_empty())
        .collect()
}

fn name_level(x: &PreparedName, y: &PreparedName) -> (NameLevel, f64) {
    if x.key == y.key {
        return (NameLevel::Exact, 1.0);
    }
    let sim = strsim::jaro_winkler(&x.key, &y.key);
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
fn shares_word(a: &str, b: &str) -> bool {
    a.split(' ')
        .filter(|w| w.chars().count() >= 2)
        .any(|w| b.split(' ').any(|v| v == w))
}

/// The shorter key (at least 2 characters) is inside the longer one: 华为 / 华为技术.
fn contains_other(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.chars().count() >= 2 && long.contains(short)
}

fn source_zh(s: NameSource) -> &'static str {
    match s {
        NameSource::Name => "名称",
        NameSource::ShortName => "简称",
        NameSource::FormerName => "曾用名",
    }
}

fn source_en(s: NameSource) -> &'static str {
    match s {
        NameSource::Name => "name",
        NameSource::ShortName => "short name",
        NameSource::FormerName => "former name",
    }
}

fn compare_names(a: &Prepared, b: &Prepared, kind: PartyKind, t: &mut Tally<'_>) {
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
                let (level, sim) = name_level(x, y);
                consider(level, sim, x, y);
            }
        }
    }
    let Some((level, sim, weight, x, y)) = best else {
        return;
    };
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

fn compare_branch_and_form(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
    let (Some(x), Some(y)) = (a.names.first(), b.names.first()) else {
        return;
    };
    // Only names as entered: a short name never says 分公司.
    if x.source != NameSource::Name || y.source != NameSource::Name {
        return;
    }
    if x.branch != y.branch {
        t.add("branch", EvidenceKind::Different, bits(0.001, 1.0), || {
            (
                "一方为分支机构（分公司）、一方不是".into(),
                "branch vs parent".into(),
            )
        });
    } else if x.branch && y.branch && x.key != y.key {
        t.add("branch", EvidenceKind::Different, bits(0.02, 1.0), || {
            ("不同的分支机构".into(), "different branches".into())
        });
    }
    match (&x.legal_form, &y.legal_form) {
        (Some(f), Some(g)) if f == g => {
            t.add("legal_form", EvidenceKind::Same, bits(0.9, 0.6), || {
                (format!("组织形式相同（{f}）"), format!("same ({f})"))
            })
        }
        (Some(f), Some(g)) => t.add(
            "legal_form",
            EvidenceKind::Different,
            bits(0.05, 0.4),
            || {
                (
                    format!("组织形式不同（{f} / {g}）"),
                    format!("different ({f} / {g})"),
                )
            },
        ),
        _ => {}
    }
}

fn compare_region(a: &Prepared, b: &Prepared, kind: PartyKind, t: &mut Tally<'_>) {
    let (Some(x), Some(y)) = (a.region, b.region) else {
        if a.region.is_some() || b.region.is_some() {
            t.missing("region", "地区");
        }
        return;
    };
    // People move more than registered companies do.
    let person = kind == PartyKind::Individual;
    let county = |c: &str| c.len() == 6 && !c.ends_with("00");
    // Same-place agreement says less about people (many live in one district) than about
    // companies; a different place says less against them too (people move).
    let (same_county, same_city) = if person {
        ((0.8, 0.2), (0.9, 0.4))
    } else {
        ((0.8, 0.05), (0.9, 0.2))
    };
    if x == y && county(x) {
        t.add(
            "region",
            EvidenceKind::Same,
            bits(same_county.0, same_county.1),
            || ("同一区县".into(), "same district".into()),
        );
        return;
    }
    let (cx, cy) = (city_of(x), city_of(y));
    match (&cx, &cy) {
        (Some(p), Some(q)) if p == q => t.add(
            "region",
            EvidenceKind::Same,
            bits(same_city.0, same_city.1),
            || ("同一城市".into(), "same city".into()),
        ),
        _ if x[..2] != y[..2] => {
            // Same brand, different province is usually a separate company (北京华为 /
            // 上海华为): with only the name in common such a pair must stay "possible".
            let m = if person { 0.05 } else { 0.001 };
            t.add("region", EvidenceKind::Different, bits(m, 0.75), || {
                ("省份不同".into(), "different province".into())
            })
        }
        (Some(_), Some(_)) => {
            let m = if person { 0.05 } else { 0.01 };
            t.add("region", EvidenceKind::Different, bits(m, 0.2), || {
                ("同省不同城市".into(), "different city".into())
            })
        }
        _ => t.add("region", EvidenceKind::Same, bits(0.9, 0.5), || {
            ("同一省份".into(), "same province".into())
        }),
    }
}

fn compare_birth(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
    let (Some(x), Some(y)) = (a.birth_date, b.birth_date) else {
        return;
    };
    if x == y {
        t.add("birth_date", EvidenceKind::Same, bits(0.95, 5e-5), || {
            ("出生日期相同".into(), "same".into())
        });
        return;
    }
    // Day and month swapped (dd/mm against mm/dd entry) is as common a slip as a typo.
    let swapped = x.year() == y.year() && x.month() == y.day() && x.day() == y.month();
    if swapped || dates_one_edit_apart(x, y) {
        t.add(
            "birth_date",
            EvidenceKind::Similar,
            bits(0.04, 1e-3),
            || {
                if swapped {
                    ("出生日期日月颠倒".into(), "day and month swapped".into())
                } else {
                    ("出生日期仅差一位".into(), "one digit apart".into())
                }
            },
        );
    } else {
        t.add(
            "birth_date",
            EvidenceKind::Different,
            bits(0.01, 1.0),
            || ("出生日期不同".into(), "different".into()),
        );
    }
}

/// `YYYYMMDD` of a date with a year in 0..=9999 (what `%Y%m%d` gives), without allocating.
fn yyyymmdd(d: NaiveDate) -> Option<[u8; 8]> {
    let year = u32::try_from(d.year()).ok().filter(|&y| y <= 9999)?;
    let mut out = [0u8; 8];
    let digits = |mut n: u32, out: &mut [u8]| {
        for slot in out.iter_mut().rev() {
            *slot = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    digits(year, &mut out[0..4]);
    digits(d.month(), &mut out[4..6]);
    digits(d.day(), &mut out[6..8]);
    Some(out)
}

/// The two dates written `%Y%m%d` are at most one edit apart.
fn dates_one_edit_apart(x: NaiveDate, y: NaiveDate) -> bool {
    match (yyyymmdd(x), yyyymmdd(y)) {
        (Some(a), Some(b)) => one_edit_apart(&a, &b),
        _ => within_one_edit(
            &x.format("%Y%m%d").to_string(),
            &y.format("%Y%m%d").to_string(),
        ),
    }
}

fn compare_address(a: &Prepared, b: &Prepared, kind: PartyKind, t: &mut Tally<'_>) {
    let organisations = a.kind == PartyKind::Organization && b.kind == PartyKind::Organization;
    let only_equal = t.only_equal.address && !organisations;
    if a.address.is_empty() || b.address.is_empty() {
        if only_equal && !(a.address.is_empty() && b.address.is_empty()) {
            t.withheld("address", "地址", 0.0);
        }
        return;
    }
    if a.address == b.address {
        t.add("address", EvidenceKind::Same, bits(0.6, 1e-3), || {
            ("地址规范化后相同".into(), "same after normalising".into())
        });
        return;
    }
    if only_equal {
        t.withheld("address", "地址", bits(0.4, 1.0));
        return;
    }
    // Character-bigram overlap, not Jaro-Winkler: addresses share long prefixes (the
    // district) that would make different streets look alike.
    let sim = bigram_dice(&a.address, &b.address);
    let (kind, m, u) = if sim >= 0.85 {
        (EvidenceKind::Similar, 0.25, 0.01)
    } else if sim >= 0.6 {
        (EvidenceKind::Similar, 0.1, 0.05)
    } else if kind == PartyKind::Individual {
        // People move more than registered companies do (as for the region): a
        // different address is weaker evidence against a person.
        (EvidenceKind::Different, 0.15, 0.94)
    } else {
        (EvidenceKind::Different, 0.05, 0.94)
    };
    t.add("address", kind, bits(m, u), || {
        (
            format!("地址相似度 {sim:.2}（字符二元组）"),
            format!("{sim:.2} character-bigram overlap"),
        )
    });
}

/// Sørensen–Dice coefficient of the character bigrams of two strings.
fn bigram_dice(a: &str, b: &str) -> f64 {
    fn grams(s: &str) -> Vec<u64> {
        let mut out: Vec<u64> = Vec::with_capacity(s.len());
        let mut prev: Option<char> = None;
        for c in s.chars() {
            if let Some(p) = prev {
                out.push(((p as u64) << 32) | c as u64);
            }
            prev = Some(c);
        }
        out.sort_unstable();
        out
    }
    let (x, y) = (grams(a), grams(b));
    if x.is_empty() || y.is_empty() {
        return if a == b { 1.0 } else { 0.0 };
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
        }
    }
    2.0 * shared as f64 / (x.len() + y.len()) as f64
}

fn compare_industry(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
    if a.industry.is_empty() || b.industry.is_empty() {
        return;
    }
    if a.industry == b.industry {
        t.add("industry", EvidenceKind::Same, bits(0.7, 0.2), || {
            ("行业相同".into(), "same".into())
        });
    } else {
        t.add("industry", EvidenceKind::Different, bits(0.3, 0.8), || {
            ("行业不同".into(), "different".into())
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_edit() {
        assert_eq!(number_runs("华信3号店12"), vec!["3", "12"]);
        assert!(number_runs("华信科技").is_empty());
        assert!(within_one_edit("1234567", "1234567"));
        assert!(within_one_edit("1234567", "1234667"));
        assert!(within_one_edit("1234567", "1243567"));
        assert!(within_one_edit("1234567", "123456"));
        assert!(within_one_edit("234567", "1234567"));
        assert!(!within_one_edit("1234567", "1243576"));
        assert!(!within_one_edit("12345", "1234567"));
        // Characters, not bytes, outside ASCII: one Chinese character is one edit.
        assert!(within_one_edit("青年路16号", "青年街16号"));
        assert!(within_one_edit("青年路16号", "年青路16号"));
        assert!(!within_one_edit("青年路16号", "和平街16号"));
        assert!(within_one_edit("路1", "路"));
    }

    #[test]
    fn dates_as_digits() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default();
        for x in [d(1980, 1, 2), d(7, 12, 31), d(2024, 2, 29)] {
            assert_eq!(
                yyyymmdd(x).map(|b| String::from_utf8_lossy(&b).into_owned()),
                Some(x.format("%Y%m%d").to_string())
            );
        }
        assert_eq!(yyyymmdd(d(-5, 1, 1)), None);
        assert!(dates_one_edit_apart(d(1980, 1, 2), d(1980, 1, 3)));
        assert!(!dates_one_edit_apart(d(1980, 1, 2), d(1981, 1, 3)));
    }

    #[test]
    fn dice() {
        assert!((bigram_dice("abcd", "abcd") - 1.0).abs() < 1e-12);
        assert!(bigram_dice("青山湖区青年路16号", "青山湖区和平路701号") < 0.6);
        assert_eq!(bigram_dice("ab", "cd"), 0.0);
    }

    #[test]
    fn posterior_is_monotone_and_bounded() {
        assert!(posterior(-100.0) >= 0.0);
        assert!(posterior(100.0) <= 1.0);
        assert!(posterior(1.0) < posterior(2.0));
        assert!((posterior(-PRIOR) - 0.5).abs() < 1e-12);
    }
}
