//! The examples of the seed documents.

#![allow(clippy::unwrap_used)]

use super::*;

#[test]
fn seed001_case1_type_prefix_and_sequence() {
    let rule = seed001_case1();
    let d = day(2024, 5, 6);
    let (c, c_scope) = first_code(&rule, &[("customer_type", "enterprise")], None, d);
    let (p, p_scope) = first_code(&rule, &[("customer_type", "individual")], None, d);
    assert_eq!(c, "C0001");
    assert_eq!(p, "P0001");
    // Enterprises and individuals count separately.
    assert_eq!(c_scope, "C|");
    assert_eq!(p_scope, "P|");

    let plan = plan_for(&rule, &attrs(&[("customer_type", "enterprise")]), None, d).unwrap();
    assert_eq!(plan.render(Some(2), None).unwrap(), "C0002");
    assert_eq!(plan.sequence_start(), Some(1));
    assert_eq!(plan.sequence_max(), Some(9999));
    assert_eq!(plan.capacity(), Some(9999));
    assert_eq!(plan.random_width(), None);

    let decoded = decode(&rule, "C0001", d).unwrap();
    assert_eq!(
        meanings(&decoded),
        vec![
            ("attribute", "C", Some("enterprise")),
            ("sequence", "0001", Some("1")),
        ]
    );
    assert_eq!(decoded.sequence, Some(1));
    assert_eq!(decoded.sequence_scope.as_deref(), Some("C|"));
    assert_eq!(decoded.check_valid, None);
    assert_eq!(decoded.random, None);
}

#[test]
fn seed001_case1_with_mod37_2() {
    let rule = with_check(seed001_case1(), CheckAlgorithm::Mod37_2);
    let d = day(2024, 5, 6);
    let (c, _) = first_code(&rule, &[("customer_type", "enterprise")], None, d);
    assert_eq!(c, "C0001M");
    let decoded = decode(&rule, &c, d).unwrap();
    assert_eq!(decoded.check_valid, Some(true));
    assert_eq!(decoded.parts.last().unwrap().kind, "check");
    assert_eq!(decoded.parts.last().unwrap().text, "M");
    // Well-formed, wrong check character: not an error.
    assert_eq!(decode(&rule, "C0001N", d).unwrap().check_valid, Some(false));
    // Lower case is accepted.
    assert_eq!(decode(&rule, "c0001m", d).unwrap().check_valid, Some(true));
    let (p, _) = first_code(&rule, &[("customer_type", "individual")], None, d);
    assert_eq!(p, "P0001D");
    assert_eq!(decode(&rule, &p, d).unwrap().check_valid, Some(true));
}

#[test]
fn seed001_case2_date_and_daily_reset() {
    let rule = seed001_case2();
    let oct1 = day(2023, 10, 1);
    let (r, r_scope) = first_code(&rule, &[("customer_type", "retail")], None, oct1);
    let (w, w_scope) = first_code(&rule, &[("customer_type", "wholesale")], None, oct1);
    assert_eq!(r, "R202310010001");
    assert_eq!(w, "W202310010001");
    assert_eq!(r_scope, "R20231001|D20231001");
    assert_eq!(w_scope, "W20231001|D20231001");
    assert_ne!(r_scope, w_scope);

    // The next day is a new scope, so the counter restarts.
    let (r2, r2_scope) = first_code(
        &rule,
        &[("customer_type", "retail")],
        None,
        day(2023, 10, 2),
    );
    assert_eq!(r2, "R202310020001");
    assert_eq!(r2_scope, "R20231002|D20231002");
    assert_ne!(r_scope, r2_scope);

    // The bucket comes from the code's own date, not from the date passed to decode.
    let decoded = decode(&rule, "R202310010001", day(2030, 1, 1)).unwrap();
    assert_eq!(
        meanings(&decoded),
        vec![
            ("attribute", "R", Some("retail")),
            ("date", "20231001", Some("2023-10-01")),
            ("sequence", "0001", Some("1")),
        ]
    );
    assert_eq!(
        decoded.sequence_scope.as_deref(),
        Some("R20231001|D20231001")
    );
}

#[test]
fn seed001_case2_with_mod37_2() {
    let rule = with_check(seed001_case2(), CheckAlgorithm::Mod37_2);
    let oct1 = day(2023, 10, 1);
    let (r, _) = first_code(&rule, &[("customer_type", "retail")], None, oct1);
    let (w, _) = first_code(&rule, &[("customer_type", "wholesale")], None, oct1);
    // `*` is a legitimate MOD 37-2 check character.
    assert_eq!(r, "R202310010001*");
    assert_eq!(w, "W202310010001Z");
    for code in [&r, &w] {
        let decoded = decode(&rule, code, oct1).unwrap();
        assert_eq!(decoded.check_valid, Some(true), "{code}");
        assert_eq!(decoded.sequence, Some(1));
    }
}

#[test]
fn seed000_type_region_sequence() {
    let rule = seed000();
    let d = day(2025, 3, 1);
    let (e, e_scope) = first_code(&rule, &[("customer_type", "enterprise")], Some("110105"), d);
    let (i, i_scope) = first_code(&rule, &[("customer_type", "individual")], Some("310115"), d);
    assert_eq!(e, "0111000001");
    assert_eq!(i, "0231000001");
    assert_eq!(e_scope, "0111|");
    assert_eq!(i_scope, "0231|");

    // Same type, other province: its own counter.
    let (_, sh_scope) = first_code(&rule, &[("customer_type", "enterprise")], Some("310115"), d);
    assert_eq!(sh_scope, "0131|");

    let decoded = decode(&rule, "0111000001", d).unwrap();
    assert_eq!(
        meanings(&decoded),
        vec![
            ("attribute", "01", Some("enterprise")),
            ("region", "11", Some("110000")),
            ("sequence", "000001", Some("1")),
        ]
    );
}

#[test]
fn seed000_with_check_characters() {
    let d = day(2025, 3, 1);
    // Expected values computed by hand from each algorithm's definition.
    for (alg, expected) in [
        (CheckAlgorithm::Mod11_2, "01110000015"),
        (CheckAlgorithm::Luhn, "01110000013"),
        (CheckAlgorithm::Mod37_2, "0111000001S"),
    ] {
        let rule = with_check(seed000(), alg);
        let (code, scope) =
            first_code(&rule, &[("customer_type", "enterprise")], Some("110105"), d);
        assert_eq!(code, expected);
        // The check character is not part of the scope.
        assert_eq!(scope, "0111|");
        assert!(alg.verify(&code));
        let decoded = decode(&rule, &code, d).unwrap();
        assert_eq!(decoded.check_valid, Some(true));
        assert_eq!(decoded.sequence, Some(1));
        assert_eq!(decoded.parts[1].meaning.as_deref(), Some("110000"));
    }
    let rule = with_check(seed000(), CheckAlgorithm::Mod11_2);
    let (i, _) = first_code(&rule, &[("customer_type", "individual")], Some("310115"), d);
    assert_eq!(i, "02310000014");
}
