//! Comparisons of the other attributes: branch and legal form, region, birth date, address,
//! industry.

use chrono::{Datelike, NaiveDate};

use super::evidence::{bits, EvidenceKind, Tally};
use super::text_distance::{bigram_dice, one_edit_apart, within_one_edit};
use crate::matching::features::{city_of, NameSource, PartyKind, Prepared};

pub(super) fn compare_branch_and_form(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
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

pub(super) fn compare_region(a: &Prepared, b: &Prepared, kind: PartyKind, t: &mut Tally<'_>) {
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

pub(super) fn compare_birth(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
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
pub(super) fn yyyymmdd(d: NaiveDate) -> Option<[u8; 8]> {
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
pub(super) fn dates_one_edit_apart(x: NaiveDate, y: NaiveDate) -> bool {
    match (yyyymmdd(x), yyyymmdd(y)) {
        (Some(a), Some(b)) => one_edit_apart(&a, &b),
        _ => within_one_edit(
            &x.format("%Y%m%d").to_string(),
            &y.format("%Y%m%d").to_string(),
        ),
    }
}

pub(super) fn compare_address(a: &Prepared, b: &Prepared, kind: PartyKind, t: &mut Tally<'_>) {
    let organisations = a.kind == PartyKind::Organization && b.kind == PartyKind::Organization;
    let only_equal = t.only_equal.address && !organisations;
    if a.address.is_empty() || b.address.is_empty() {
        if only_equal && !(a.address.is_empty() && b.address.is_empty()) {
            t.withheld("address", "地址", 0.0);
        }
        return;
    }
    // Members of a household share a flat, but a household is told apart by its names
    // (see `settle_household`, which takes these bits back): for the people left, a
    // same address weighs as it does for organisations. Febrl's people need no less.
    let person = kind == PartyKind::Individual;
    if a.address == b.address {
        t.add_contact("address", EvidenceKind::Same, bits(0.6, 1e-3), || {
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
    let (ev_kind, m, u) = if sim >= 0.85 {
        (
            EvidenceKind::Similar,
            0.25,
            if person { 0.03 } else { 0.01 },
        )
    } else if sim >= 0.6 {
        (EvidenceKind::Similar, 0.1, 0.05)
    } else if person {
        // People move more than registered companies do (as for the region): a
        // different address is weaker evidence against a person.
        (EvidenceKind::Different, 0.15, 0.94)
    } else {
        (EvidenceKind::Different, 0.05, 0.94)
    };
    let detail = || {
        (
            format!("地址相似度 {sim:.2}（字符二元组）"),
            format!("{sim:.2} character-bigram overlap"),
        )
    };
    if sim >= 0.85 {
        t.add_contact("address", ev_kind, bits(m, u), detail);
    } else {
        t.add("address", ev_kind, bits(m, u), detail);
    }
}

pub(super) fn compare_industry(a: &Prepared, b: &Prepared, t: &mut Tally<'_>) {
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
