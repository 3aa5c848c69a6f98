//! What one caller may learn from a duplicate comparison (DESIGN.md invariant 8): every
//! answer carrying candidates, scores or evidence — the duplicate check, creations and
//! updates, applications, imports, the review queue — asks this one [`Lens`].
//!
//! - A candidate outside the caller's data scope is never shown; a `definite` one sets a
//!   single flag ([`super::report::OUTSIDE_SCOPE_ZH`]), anything weaker nothing at all.
//! - Personal data (the fields masked for callers without `customer.pii.read`, see
//!   [`PII_FIELDS`]) is compared for equality only unless the caller may read it *and*
//!   the candidate is in its scope: a value one digit off then scores and reads exactly
//!   like any other wrong value, so the answer cannot be used to guess a masked number.

use custos_core::matching::{
    compare_with, match_score_at_least_with, EqualityOnly, Evidence, MatchResult, Prepared,
};
use custos_store::{CustomerRow, Tx};

use super::record::PII_FIELDS;
use super::scope::in_scope;
use crate::actor::{Actor, Scope};
use crate::error::AppResult;

use super::report::EvidenceView;

/// The fields the matcher may only test for equality when personal data may not be
/// read: the personal-data fields of the catalog, named as the matcher names them.
pub(crate) fn pii_equality_only() -> EqualityOnly {
    let pii = |f: &str| PII_FIELDS.contains(&f);
    EqualityOnly {
        id_number: pii("id_number"),
        phones: pii("mobile") || pii("phone"),
        email: pii("email"),
        // Masked for individuals only, as the matcher compares it (see `EqualityOnly`).
        address: pii("address"),
    }
}

/// A caller's view of duplicate candidates, decided once per request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lens {
    /// Read scope (`customer.read`); `None`: no customer is shown.
    scope: Option<Scope>,
    /// `customer.pii.read`.
    reveal: bool,
}

impl Lens {
    pub(crate) fn of(actor: &Actor) -> Lens {
        Lens {
            scope: actor.require("customer.read").ok(),
            reveal: actor.can("customer.pii.read"),
        }
    }

    /// Whether personal data is compared for equality only for this caller, whatever
    /// the candidate.
    pub(crate) fn withholds_pii(self) -> bool {
        !self.reveal || self.scope.is_none()
    }

    /// Whether the caller may see `row` as a candidate.
    pub(crate) async fn sees(
        self,
        tx: &mut Tx,
        actor: &Actor,
        row: &CustomerRow,
    ) -> AppResult<bool> {
        match self.scope {
            Some(scope) => in_scope(tx, actor, scope, row).await,
            None => Ok(false),
        }
    }

    /// The fields compared for equality only against a candidate the caller sees
    /// (`visible`) or not.
    pub(crate) fn only_equal(self, visible: bool) -> EqualityOnly {
        if visible && self.reveal {
            EqualityOnly::NONE
        } else {
            pii_equality_only()
        }
    }

    /// Score and evidence of `a` against `b` as the caller may learn them.
    pub(crate) fn compare(self, visible: bool, a: &Prepared, b: &Prepared) -> MatchResult {
        compare_with(a, b, self.only_equal(visible))
    }

    /// Whether `b` may reach `threshold` against `a` under either comparison the caller
    /// could get, before it is known whether `b` is in scope (a cheap filter: a pair
    /// that passes is then scored by [`Lens::compare`]). Taking only the full comparison
    /// here would let the graded values decide whether an out-of-scope match is flagged.
    pub(crate) fn may_reach(self, a: &Prepared, b: &Prepared, threshold: f64) -> bool {
        let restricted = pii_equality_only();
        if self.withholds_pii() {
            return match_score_at_least_with(a, b, threshold, restricted).is_some();
        }
        match_score_at_least_with(a, b, threshold, EqualityOnly::NONE).is_some()
            || (self.scope != Some(Scope::All)
                && match_score_at_least_with(a, b, threshold, restricted).is_some())
    }
}

/// Evidence as the API shows it.
pub(crate) fn evidence_views(evidence: Vec<Evidence>) -> Vec<EvidenceView> {
    evidence
        .into_iter()
        .map(|e| EvidenceView {
            field: e.field.to_string(),
            kind: serde_json::to_value(e.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            detail_zh: e.detail_zh,
            detail_en: e.detail_en,
            weight: (e.weight * 100.0).round() / 100.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The matcher's restricted fields are exactly the catalog's personal-data fields.
    #[test]
    fn restricted_fields_follow_the_catalog() {
        let only = pii_equality_only();
        assert!(only.id_number && only.phones && only.email && only.address);
        let catalog: Vec<String> = crate::fields::builtin_fields()
            .into_iter()
            .filter(|f| f.pii)
            .map(|f| f.key)
            .collect();
        // A contact's personal data is its mobile, phone and e-mail: the matcher
        // compares contacts' phones with the customer's (restricted as `phones`).
        for f in catalog.iter().filter(|f| *f != "contacts") {
            assert!(PII_FIELDS.contains(&f.as_str()), "{f} is personal data");
        }
        assert_eq!(catalog.len(), PII_FIELDS.len() + 1, "{catalog:?}");
    }
}
