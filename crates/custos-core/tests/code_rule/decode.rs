//! Decoding codes back into their parts.

#![allow(clippy::unwrap_used)]

use super::*;

fn decode_err(rule: &[Segment], code: &str) -> Violation {
    decode(rule, code, day(2024, 1, 1)).unwrap_err()
}

#[test]
fn decode_shape_errors() {
    let case1 = seed001_case1();
    let e = decode_err(&case1, "C00001");
    assert_eq!(e.code, "code.length");
    assert!(e.en.contains("5 characters"), "{}", e.en);
    assert_eq!(decode_err(&case1, "").code, "code.length");

    let e = decode_err(&case1, "X0001");
    assert_eq!(e.code, "code.attribute");
    assert!(
        e.en.contains("position 1") && e.en.contains("segments[0]"),
        "{}",
        e.en
    );

    let e = decode_err(&case1, "C00A1");
    assert_eq!(e.code, "code.digits");
    assert!(
        e.en.contains("position 4") && e.en.contains("'A'"),
        "{}",
        e.en
    );

    let e = decode_err(&case1, "C0000");
    assert_eq!(e.code, "code.sequence.below_start");

    let e = decode_err(&case1, "C00 1");
    assert_eq!(e.code, "code.charset");
    assert!(e.en.contains("position 4"), "{}", e.en);
    assert_eq!(decode_err(&case1, "客0001").code, "code.charset");

    let constant =
        segs(json!([{"kind": "constant", "value": "CU"}, {"kind": "sequence", "width": 3}]));
    let e = decode_err(&constant, "CX001");
    assert_eq!(e.code, "code.constant");
    assert!(e.en.contains("'CU'") && e.en.contains("'CX'"), "{}", e.en);

    let region = seed000();
    assert_eq!(decode_err(&region, "01A1000001").code, "code.digits");
}

#[test]
fn decode_impossible_dates() {
    let case2 = seed001_case2();
    for code in ["R202313010001", "R202302300001", "R20231000000A"] {
        let e = decode_err(&case2, code);
        assert!(
            e.code == "code.date" || e.code == "code.digits",
            "{code}: {e:?}"
        );
    }
    let e = decode_err(&case2, "R202313010001");
    assert_eq!(e.code, "code.date");
    assert!(
        e.en.contains("20231301") && e.en.contains("yyyyMMdd"),
        "{}",
        e.en
    );
    let monthly = segs(json!([
        {"kind": "date", "format": "yyyyMM"},
        {"kind": "sequence", "width": 3, "reset": "monthly"}
    ]));
    assert_eq!(decode_err(&monthly, "202300001").code, "code.date");
    let d = decode(&monthly, "202312001", day(2024, 1, 1)).unwrap();
    assert_eq!(d.parts[0].meaning.as_deref(), Some("2023-12"));
    assert_eq!(d.sequence_scope.as_deref(), Some("202312|M202312"));
}

#[test]
fn decode_random_alphabet() {
    let rule = segs(json!([{"kind": "constant", "value": "K"}, {"kind": "random", "width": 4}]));
    let e = decode_err(&rule, "KAB1O");
    assert_eq!(e.code, "code.random");
    assert!(
        e.en.contains("'O'") && e.en.contains("position 5"),
        "{}",
        e.en
    );
    // Lower case is upper-cased first.
    assert_eq!(
        decode(&rule, "kab1z", day(2024, 1, 1))
            .unwrap()
            .random
            .as_deref(),
        Some("AB1Z")
    );
}

#[test]
fn decode_check_character_outcomes() {
    let rule = with_check(seed000(), CheckAlgorithm::Mod11_2);
    let d = day(2024, 1, 1);
    let good = CheckAlgorithm::Mod11_2.compute("0111000001").unwrap();
    let wrong = if good == '0' { '1' } else { '0' };
    assert_eq!(
        decode(&rule, &format!("0111000001{good}"), d)
            .unwrap()
            .check_valid,
        Some(true)
    );
    assert_eq!(
        decode(&rule, &format!("0111000001{wrong}"), d)
            .unwrap()
            .check_valid,
        Some(false)
    );
    // A character the algorithm can never produce is a shape error.
    let e = decode(&rule, "0111000001Y", d).unwrap_err();
    assert_eq!(e.code, "code.check.charset");
    assert!(e.en.contains("position 11"), "{}", e.en);
}

#[test]
fn decode_backtracks_over_attribute_texts() {
    // enterprise -> "C", partner -> "CP", then a constant "P".
    let rule = segs(json!([
        {"kind": "attribute", "field": "customer_type", "map": {"enterprise": "C", "partner": "CP"}},
        {"kind": "constant", "value": "P"},
        {"kind": "sequence", "width": 4}
    ]));
    let d = day(2024, 1, 1);
    let (e_code, e_scope) = first_code(&rule, &[("customer_type", "enterprise")], None, d);
    let (p_code, p_scope) = first_code(&rule, &[("customer_type", "partner")], None, d);
    assert_eq!(e_code, "CP0001");
    assert_eq!(p_code, "CPP0001");
    assert_ne!(e_scope, p_scope);
    // Longest-first tries "CP" and then the constant fails: it must back off to "C".
    let e = decode(&rule, "CP0001", d).unwrap();
    assert_eq!(e.parts[0].meaning.as_deref(), Some("enterprise"));
    assert_eq!(e.sequence_scope.as_deref(), Some("CP|"));
    let p = decode(&rule, "CPP0001", d).unwrap();
    assert_eq!(p.parts[0].meaning.as_deref(), Some("partner"));
    // Nothing matches: the error points at the furthest position reached.
    // "C"+"P" got further (into the sequence) than "CP" (stuck at the constant).
    let err = decode(&rule, "CPX0001", d).unwrap_err();
    assert_eq!(err.code, "code.digits");
    assert!(
        err.en.contains("position 3") && err.en.contains("'X'"),
        "{}",
        err.en
    );
}

#[test]
fn decode_too_short_and_trailing_with_variable_lengths() {
    let rule = segs(json!([
        {"kind": "attribute", "field": "t", "map": {"a": "A", "b": "BBB"}},
        {"kind": "sequence", "width": 2}
    ]));
    // 3 characters is a possible length ("A"+2 digits) but "BB" fits no text.
    let e = decode_err(&rule, "BB1");
    assert_eq!(e.code, "code.attribute");
    // "BBB" then only one digit left.
    let e = decode_err(&rule, "BBB1");
    assert_eq!(e.code, "code.too_short");
    // "A" + "12" then an extra char.
    let e = decode_err(&rule, "A123");
    assert_eq!(e.code, "code.trailing");
    assert!(e.en.contains("position 4"), "{}", e.en);
}

#[test]
fn decode_is_fast_on_highly_ambiguous_rules() {
    // 18 attributes that each read "A" or "AA": exponentially many partial parses.
    let mut rule: Vec<Segment> = (0..18)
        .map(|i| Segment::Attribute {
            field: format!("f{i}"),
            map: attrs(&[("one", "A"), ("two", "AA")]),
        })
        .collect();
    rule.push(Segment::Sequence {
        width: 1,
        start: 1,
        reset: Reset::Never,
    });
    assert_eq!(validate_segments(&rule), Ok(()));
    let started = std::time::Instant::now();
    // 27 A's and a digit that is not allowed: every split of the A's gets tried.
    let e = decode(&rule, &format!("{}0", "A".repeat(27)), day(2024, 1, 1)).unwrap_err();
    assert_eq!(e.code, "code.sequence.below_start");
    assert!(started.elapsed().as_secs() < 2);
}

#[test]
fn decode_yy_dates_use_the_nearest_century() {
    let rule = segs(json!([
        {"kind": "date", "format": "yy"},
        {"kind": "sequence", "width": 3, "reset": "yearly"}
    ]));
    let d = decode(&rule, "99001", day(2024, 6, 1)).unwrap();
    assert_eq!(d.parts[0].meaning.as_deref(), Some("1999"));
    assert_eq!(d.sequence_scope.as_deref(), Some("99|Y1999"));
    let d = decode(&rule, "24001", day(2024, 6, 1)).unwrap();
    assert_eq!(d.parts[0].meaning.as_deref(), Some("2024"));
    assert_eq!(d.sequence_scope.as_deref(), Some("24|Y2024"));
}

#[test]
fn decode_scope_matches_plan_for_every_reset() {
    let d = day(2026, 11, 23);
    for (reset, bucket) in [
        ("never", ""),
        ("yearly", "Y2026"),
        ("monthly", "M202611"),
        ("daily", "D20261123"),
    ] {
        let rule = segs(json!([
            {"kind": "constant", "value": "C"},
            {"kind": "sequence", "width": 4, "reset": reset},
            {"kind": "date", "format": "yyyyMMdd"}
        ]));
        let p = plan_for(&rule, &attrs(&[]), None, d).unwrap();
        assert_eq!(p.sequence_scope(), Some(format!("C|{bucket}").as_str()));
        let code = p.render(Some(7), None).unwrap();
        assert_eq!(code, "C000720261123");
        let decoded = decode(&rule, &code, day(2000, 1, 1)).unwrap();
        assert_eq!(
            decoded.sequence_scope.as_deref(),
            p.sequence_scope(),
            "{reset}"
        );
    }
}

#[test]
fn decode_rejects_invalid_rules() {
    let rule = segs(json!([{"kind": "constant", "value": "C"}]));
    assert_eq!(decode_err(&rule, "C").code, "rule.segments.no_variable");
}
