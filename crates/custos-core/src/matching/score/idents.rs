//! Identifier and contact comparisons: USCC, id number, phones, e-mail.

use super::evidence::{bits, EvidenceKind, Tally};
use super::text_distance::within_one_edit;
use crate::matching::features::{PartyKind, Prepared, PreparedIdent};

pub(super) fn compare_ident(
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
pub(super) fn equal_ident(
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

pub(super) fn is_mobile(p: &str) -> bool {
    p.len() == 11 && p.starts_with('1') && p.bytes().all(|b| b.is_ascii_digit())
}

pub(super) fn compare_phones(a: &Prepared, b: &Prepared, kind: PartyKind, t: &mut Tally<'_>) {
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
        // A household shares its landline and often one mobile: among people who share a
        // blocking key, a shared phone is far more common than among organisations.
        let u = match (kind == PartyKind::Individual, is_mobile(shared)) {
            (false, true) => 1e-5,
            (false, false) => 1e-4,
            (true, true) => 2e-3,
            (true, false) => 1e-2,
        };
        t.add_contact("phone", EvidenceKind::Same, bits(0.7, u), || {
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

pub(super) fn compare_email(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
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
