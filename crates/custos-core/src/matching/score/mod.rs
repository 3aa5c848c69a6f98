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

mod attributes;
mod evidence;
mod idents;
mod names;
mod person;
mod text_distance;

use super::features::{PartyKind, Prepared};
use super::{Thresholds, Verdict};
use attributes::{
    compare_address, compare_birth, compare_branch_and_form, compare_industry, compare_region,
};
use evidence::{bits, Tally};
pub use evidence::{EqualityOnly, Evidence, EvidenceKind, MatchResult};
use idents::{compare_email, compare_ident, compare_phones, equal_ident};
use names::{compare_names, name_mu, NameClass, NameLevel};

/// Prior log2-odds that a candidate pair is a duplicate (about 1 in 256 candidates).
const PRIOR: f64 = -8.0;

/// Two people who share a phone or an exact address: the pairs among which [`compare`]
/// may find a household although the score stays low. Cheap: no string similarity.
pub fn may_be_household(a: &Prepared, b: &Prepared) -> bool {
    pair_kind(a, b) == PartyKind::Individual
        && (a.phones.iter().any(|p| b.phones.contains(p))
            || (!a.address.is_empty() && a.address == b.address))
}

/// The verdict on a new record (`new`, being entered or imported) against an existing
/// one, from their comparison `result`. The score is symmetric; this is not: an
/// organisation name alike only in sound (华维 / 华为) is not "definite" when the new
/// record carries a valid USCC and the existing one none — a company registered under
/// its own code is as likely as a slip — but "possible", with the reason added to the
/// evidence. A batch over existing records has no new side and keeps the score's verdict.
pub fn verdict_for_new(
    new: &Prepared,
    existing: &Prepared,
    result: &mut MatchResult,
    thresholds: &Thresholds,
) -> Verdict {
    let verdict = thresholds.verdict(result.score);
    let own_code = new.uscc.as_ref().is_some_and(|u| u.valid) && existing.uscc.is_none();
    if verdict != Verdict::Definite || !result.sound_only_name || !own_code {
        return verdict;
    }
    result.evidence.push(Evidence {
        field: "name",
        kind: EvidenceKind::Similar,
        detail_zh: "名称仅读音相同，且新记录有有效统一社会信用代码而已有客户没有：可能是另一家企业，不作确定重复"
            .into(),
        detail_en: "names alike only in sound, and only the new record has a valid USCC: possibly another company, not a definite duplicate"
            .into(),
        weight: 0.0,
    });
    Verdict::Possible
}

/// Score of a pair without building evidence (the fast path for batch dedupe).
pub fn match_score(a: &Prepared, b: &Prepared) -> f64 {
    let mut t = Tally::new(None, EqualityOnly::NONE);
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
    let mut t = Tally::new(Some(&mut evidence), only_equal);
    evaluate(a, b, &mut t);
    let score = posterior(t.total);
    let (household, sound_only_name) = (t.household, t.sound_only_name);
    evidence.sort_by(|x, y| y.weight.abs().total_cmp(&x.weight.abs()));
    MatchResult {
        score,
        evidence,
        household,
        sound_only_name,
    }
}

fn posterior(total_bits: f64) -> f64 {
    let s = 1.0 / (1.0 + (-(PRIOR + total_bits)).exp2());
    s.clamp(0.0, 1.0)
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
        let mut t = Tally::new(None, only_equal);
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
    compare_phones(a, b, kind, t);
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
    let kind = pair_kind(a, b);
    compare_names(a, b, kind, t);
    compare_address(a, b, kind, t);
    if kind == PartyKind::Individual {
        settle_household(a, b, t);
    }
}

/// Two people sharing a phone or an address whose names (another given name, another
/// family) or valid ID numbers say they are two: members of one household (同住/家庭成员).
/// What they share explains why they share it, not that they are one person, so the
/// bits it added are taken back and the pair is marked a household.
fn settle_household(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
    let ids_differ = match (&a.id_number, &b.id_number) {
        (Some(x), Some(y)) => x.valid && y.valid && x.value != y.value,
        _ => false,
    };
    if !(t.names_disagree || ids_differ) || t.contact_bits <= 0.0 {
        return;
    }
    t.total -= t.contact_bits;
    t.contact_bits = 0.0;
    t.household = true;
    if let Some(ev) = t.evidence.as_deref_mut() {
        for e in ev.iter_mut() {
            if matches!(e.field, "phone" | "address") && e.weight > 0.0 {
                e.weight = 0.0;
            }
        }
    }
    t.add("household", EvidenceKind::Different, 0.0, || {
        if ids_differ {
            (
                "可能为家庭成员：共用电话或地址，但证件号码不同（均为有效号码）".into(),
                "possible family member: a shared phone or address, but different valid ID numbers"
                    .into(),
            )
        } else {
            (
                "可能为家庭成员：共用电话或地址，但姓名不是同一人的写法".into(),
                "possible family member: a shared phone or address, but names of two people".into(),
            )
        }
    });
}

fn pair_kind(a: &Prepared, b: &Prepared) -> PartyKind {
    match (a.kind, b.kind) {
        (PartyKind::Organization, _) | (_, PartyKind::Organization) => PartyKind::Organization,
        (PartyKind::Individual, _) | (_, PartyKind::Individual) => PartyKind::Individual,
        _ => PartyKind::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::attributes::{dates_one_edit_apart, yyyymmdd};
    use super::names::number_runs;
    use super::text_distance::{bigram_dice, within_one_edit};
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
