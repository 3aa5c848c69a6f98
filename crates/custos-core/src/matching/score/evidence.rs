//! What a comparison yields per field, and the tally that adds the weights up.

use std::fmt;

use serde::Serialize;

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
    /// `region`, `birth_date`, `address`, `industry`, `customer_type`, `household`.
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
    /// Two people of one household (a shared phone or address, names or valid ID numbers
    /// of two people): a possible family member, never a merge proposal.
    pub household: bool,
    /// Two organisations whose names are alike only in sound (华维 / 华为).
    pub sound_only_name: bool,
}

impl MatchResult {
    /// The evidence for one field, if any.
    pub fn field(&self, field: &str) -> Option<&Evidence> {
        self.evidence.iter().find(|e| e.field == field)
    }
}

pub(super) fn bits(m: f64, u: f64) -> f64 {
    (m / u).log2()
}

/// Collects evidence when explaining; does nothing when only scoring.
pub(super) struct Tally<'a> {
    pub(super) total: f64,
    pub(super) evidence: Option<&'a mut Vec<Evidence>>,
    pub(super) only_equal: EqualityOnly,
    /// Bits added by a shared phone or address: for two people whose names or ID numbers
    /// say they are two, these are household evidence and are taken back.
    pub(super) contact_bits: f64,
    /// The names compared say two different people (another given name, or nothing alike).
    pub(super) names_disagree: bool,
    /// Two people sharing a phone or an address: a household, not one person.
    pub(super) household: bool,
    /// Two organisations whose best names are alike only in sound.
    pub(super) sound_only_name: bool,
}

impl<'a> Tally<'a> {
    pub(super) fn new(evidence: Option<&'a mut Vec<Evidence>>, only_equal: EqualityOnly) -> Self {
        Tally {
            total: 0.0,
            evidence,
            only_equal,
            contact_bits: 0.0,
            names_disagree: false,
            household: false,
            sound_only_name: false,
        }
    }

    /// [`Tally::add`] for a shared phone or address (see [`Tally::contact_bits`]).
    pub(super) fn add_contact(
        &mut self,
        field: &'static str,
        kind: EvidenceKind,
        weight: f64,
        detail: impl FnOnce() -> (String, String),
    ) {
        self.contact_bits += weight;
        self.add(field, kind, weight, detail);
    }

    pub(super) fn add(
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

    pub(super) fn missing(&mut self, field: &'static str, label_zh: &'static str) {
        self.add(field, EvidenceKind::Missing, 0.0, || {
            (
                format!("{label_zh}：至少一方缺失"),
                "missing on one side".into(),
            )
        });
    }

    /// A field compared for equality only that is not `same` (see [`EqualityOnly`]):
    /// `weight` is that of "not same" when both sides have a value, else nothing.
    pub(super) fn withheld(&mut self, field: &'static str, label_zh: &'static str, weight: f64) {
        self.add(field, EvidenceKind::Withheld, weight, || {
            (
                format!("{label_zh}：仅比对是否相同（无权查看个人信息）"),
                "compared for equality only (no permission to read personal data)".into(),
            )
        });
    }
}
