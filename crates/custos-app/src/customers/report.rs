//! What a duplicate check tells its caller: the report, its candidates and their
//! evidence, as data. Deciding what goes into it (scope, masking) is `disclosure.rs`;
//! finding and scoring candidates is `duplicates.rs`. The types sit below both, and below
//! the crate's error type, which carries a report when a creation is refused as a
//! duplicate.

use serde::{Deserialize, Serialize};

/// The one thing told about definite matches outside the caller's scope.
pub const OUTSIDE_SCOPE_ZH: &str = "范围外存在疑似重复客户，请联系档案管理员";
pub const OUTSIDE_SCOPE_EN: &str =
    "a matching customer exists outside your data scope; ask a data steward";

/// One field's contribution to a duplicate score.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct EvidenceView {
    /// `uscc`, `id_number`, `phone`, `email`, `name`, `branch`, `legal_form`, `region`,
    /// `birth_date`, `address`, `industry`, `customer_type`.
    pub field: String,
    /// `same`, `similar`, `different`, `missing`, or `withheld`: personal data the caller
    /// may not read is compared for equality only, and anything but `same` reads
    /// `withheld`.
    pub kind: String,
    pub detail_zh: String,
    pub detail_en: String,
    /// Log2 likelihood ratio this field added.
    pub weight: f64,
}

/// An existing customer inside the caller's data scope that may be the same as the
/// checked record (customers outside it are never listed, see
/// [`DuplicateReport::outside_scope_match`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DuplicateCandidate {
    pub code: String,
    pub name: String,
    pub customer_type: String,
    pub status: String,
    /// Probability in [0, 1] that it is the same customer.
    pub score: f64,
    /// `definite` or `possible`; `family_member` in `possible_family_members`.
    pub verdict: String,
    /// Per-field evidence, strongest first.
    pub evidence: Vec<EvidenceView>,
}

/// The result of a duplicate check, as the caller may see it (docs/duplicates.md, "What
/// the check tells whom").
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct DuplicateReport {
    /// `definite` (a creation is blocked), `possible` (a warning) or `none`.
    pub verdict: String,
    pub definite_threshold: f64,
    pub possible_threshold: f64,
    /// Candidates inside the caller's data scope, best first.
    pub candidates: Vec<DuplicateCandidate>,
    /// A customer outside the caller's data scope is a definite match. Nothing else is
    /// told about it — not its code, score or evidence, nor how many there are — and
    /// weaker matches outside the scope are not told at all.
    #[serde(default)]
    pub outside_scope_match: bool,
    /// 范围外存在疑似重复客户，请联系档案管理员 (with `outside_scope_match` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_scope_message_zh: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outside_scope_message_en: Option<String>,
    /// Personal data (ID number, phones, e-mail, an individual's address) was compared
    /// for equality only: the caller may not read it.
    #[serde(default)]
    pub pii_withheld: bool,
    /// People inside the caller's data scope who share a phone or an address with the
    /// checked person but whose names (or valid ID numbers) are another person's: possible
    /// family members (同住/家庭成员), never merge proposals. The evidence says why
    /// (field `household`); weaker than any candidate, they never change `verdict`.
    #[serde(default)]
    pub possible_family_members: Vec<DuplicateCandidate>,
}

impl DuplicateReport {
    pub fn is_definite(&self) -> bool {
        self.verdict == "definite"
    }

    /// The codes of the definite candidates, and the out-of-scope notice when flagged
    /// (for messages).
    pub(crate) fn definite_codes(&self) -> (String, String) {
        let codes: Vec<&str> = self
            .candidates
            .iter()
            .filter(|c| c.verdict == "definite")
            .map(|c| c.code.as_str())
            .collect();
        let with = |outside: &str, sep: &str| {
            let mut all = codes.clone();
            if self.outside_scope_match {
                all.push(outside);
            }
            all.join(sep)
        };
        (with(OUTSIDE_SCOPE_ZH, "、"), with(OUTSIDE_SCOPE_EN, ", "))
    }

    /// `[{code, score}]` of the candidates, for audit entries (no personal data).
    pub(crate) fn summary(&self) -> serde_json::Value {
        serde_json::Value::Array(
            self.candidates
                .iter()
                .map(|c| serde_json::json!({ "code": c.code, "score": c.score, "verdict": c.verdict }))
                .collect(),
        )
    }
}
