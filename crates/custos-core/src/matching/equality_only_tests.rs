//! Equality-only comparison of personal data (see [`EqualityOnly`]): what a caller who
//! may not read the values can learn from a score must not depend on how close a wrong
//! value is.

use chrono::NaiveDate;

use super::{
    compare, compare_with, match_score_at_least_with, prepare, EqualityOnly, EvidenceKind,
    MatchRecord,
};
use crate::ident::IdNumber;

/// Compared for equality only, a value one character off answers exactly like one
/// with nothing in common: same score, same evidence, no `similar`.
#[test]
fn equality_only_hides_how_close_a_wrong_value_is() {
    let today = NaiveDate::from_ymd_opt(2024, 6, 1).unwrap_or_default();
    let id = |first17: &str| {
        IdNumber::with_check(first17, today)
            .map(|i| i.as_str().to_string())
            .unwrap_or_default()
    };
    let rec = |id_number: String, mobile: &str, email: &str, address: &str| MatchRecord {
        customer_type: "individual".into(),
        name: "李明".into(),
        id_number,
        phones: vec![mobile.into()],
        email: email.into(),
        address: address.into(),
        region_code: "110108".into(),
        ..MatchRecord::default()
    };
    let stored_id = id("11010819800101123");
    let mut near_id = stored_id.clone();
    near_id.replace_range(16..17, if &stored_id[16..17] == "4" { "5" } else { "4" });
    let stored = prepare(
        &rec(
            stored_id.clone(),
            "13812345678",
            "liming@example.com",
            "中关村大街27号",
        ),
        today,
    );
    let near = prepare(
        &rec(
            near_id,
            "13812345670",
            "liming@example.con",
            "中关村大街28号",
        ),
        today,
    );
    let far = prepare(
        &rec(
            id("31011519900909002"),
            "13998765432",
            "x@other.org",
            "世纪大道100号",
        ),
        today,
    );
    let only = EqualityOnly {
        id_number: true,
        phones: true,
        email: true,
        address: true,
    };
    assert!(only.any() && !EqualityOnly::NONE.any());
    let n = compare_with(&near, &stored, only);
    let f = compare_with(&far, &stored, only);
    assert_eq!(n, f);
    for field in ["id_number", "phone", "email", "address"] {
        assert_eq!(
            n.field(field).map(|e| e.kind),
            Some(EvidenceKind::Withheld),
            "{field}"
        );
    }
    assert!(n.field("birth_date").is_none());
    assert!(!format!("{n:?}").contains("1381"));
    // In full, the near values are told apart from the far ones.
    assert!(compare(&near, &stored).score > compare(&far, &stored).score);
    assert_eq!(
        compare(&near, &stored).field("phone").map(|e| e.kind),
        Some(EvidenceKind::Similar)
    );
    // Equality still counts, without repeating the value.
    let same = prepare(
        &rec(
            stored_id,
            "13812345678",
            "liming@example.com",
            "中关村大街27号",
        ),
        today,
    );
    let s = compare_with(&same, &stored, only);
    assert!(s.score > n.score);
    assert_eq!(s.field("phone").map(|e| e.kind), Some(EvidenceKind::Same));
    assert!(!format!("{s:?}").contains("13812345678"));
    // The fast score agrees with the explained one.
    for x in [&near, &far, &same] {
        let explained = compare_with(x, &stored, only).score;
        assert_eq!(
            match_score_at_least_with(x, &stored, 0.0, only),
            Some(explained)
        );
    }
    // Two organisations' addresses are not personal data: compared in full.
    let org = |address: &str| MatchRecord {
        customer_type: "enterprise".into(),
        name: "北京星辰科技有限公司".into(),
        address: address.into(),
        ..MatchRecord::default()
    };
    let a = prepare(&org("中关村大街27号院3号楼"), today);
    let b = prepare(&org("中关村大街27号院4号楼"), today);
    assert_eq!(
        compare_with(&a, &b, only).field("address").map(|e| e.kind),
        Some(EvidenceKind::Similar)
    );
}
