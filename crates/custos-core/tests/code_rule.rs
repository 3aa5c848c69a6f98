//! Code-rule engine: the seed examples, every error class, serde shape, and properties.

// A failing unwrap is a failing test, which is what we want here.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use chrono::NaiveDate;
use custos_core::check::CheckAlgorithm;
use custos_core::code_rule::{
    crockford_bytes_needed, crockford_from_bytes, decode, plan, validate_segments, CodeInput,
    CodePlan, DateFormat, Decoded, RegionLevel, Reset, Segment, CROCKFORD_ALPHABET,
};
use custos_core::Violation;
use proptest::prelude::*;
use serde_json::json;

// ---------------------------------------------------------------- helpers

fn segs(v: serde_json::Value) -> Vec<Segment> {
    serde_json::from_value(v).expect("valid segment JSON")
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn plan_for(
    segments: &[Segment],
    a: &BTreeMap<String, String>,
    region: Option<&str>,
    date: NaiveDate,
) -> Result<CodePlan, Violation> {
    plan(
        segments,
        &CodeInput {
            attributes: a,
            region_code: region,
            issue_date: date,
        },
    )
}

/// Plan and render with the first sequence number of the scope.
fn first_code(
    segments: &[Segment],
    a: &[(&str, &str)],
    region: Option<&str>,
    date: NaiveDate,
) -> (String, String) {
    let p = plan_for(segments, &attrs(a), region, date).unwrap();
    let code = p.render(p.sequence_start(), None).unwrap();
    (code, p.sequence_scope().unwrap().to_string())
}

/// `(field, code)` pairs of a failed validation.
fn errors(segments: &[Segment]) -> Vec<(String, String)> {
    validate_segments(segments)
        .unwrap_err()
        .into_iter()
        .map(|e| (e.field, e.violation.code))
        .collect()
}

fn has_error(segments: &[Segment], field: &str, code: &str) -> bool {
    let errs = errors(segments);
    let found = errs.iter().any(|(f, c)| f == field && c == code);
    assert!(found, "expected {code} on {field}, got {errs:?}");
    found
}

fn meanings(d: &Decoded) -> Vec<(&str, &str, Option<&str>)> {
    d.parts
        .iter()
        .map(|p| (p.kind, p.text.as_str(), p.meaning.as_deref()))
        .collect()
}

fn seed001_case1() -> Vec<Segment> {
    segs(json!([
        {"kind": "attribute", "field": "customer_type", "map": {"enterprise": "C", "individual": "P"}},
        {"kind": "sequence", "width": 4}
    ]))
}

fn seed001_case2() -> Vec<Segment> {
    segs(json!([
        {"kind": "attribute", "field": "customer_type", "map": {"retail": "R", "wholesale": "W"}},
        {"kind": "date", "format": "yyyyMMdd"},
        {"kind": "sequence", "width": 4, "reset": "daily"}
    ]))
}

fn seed000() -> Vec<Segment> {
    segs(json!([
        {"kind": "attribute", "field": "customer_type", "map": {"enterprise": "01", "individual": "02"}},
        {"kind": "region", "level": "province"},
        {"kind": "sequence", "width": 6}
    ]))
}

fn with_check(mut s: Vec<Segment>, algorithm: CheckAlgorithm) -> Vec<Segment> {
    s.push(Segment::Check { algorithm });
    s
}

// ---------------------------------------------------------------- seed examples

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

// ---------------------------------------------------------------- validation

#[test]
fn valid_rules_pass() {
    for rule in [seed000(), seed001_case1(), seed001_case2()] {
        assert_eq!(validate_segments(&rule), Ok(()));
    }
    let ok = segs(json!([
        {"kind": "constant", "value": "CU-"},
        {"kind": "date", "format": "yy"},
        {"kind": "sequence", "width": 5, "start": 0, "reset": "yearly"},
        {"kind": "constant", "value": "-X"}
    ]));
    assert_eq!(validate_segments(&ok), Ok(()));
    // Sequence then check; constants around it; random before mod37-2.
    let ok = segs(json!([
        {"kind": "constant", "value": "K"},
        {"kind": "random", "width": 8},
        {"kind": "constant", "value": "Z"},
        {"kind": "check", "algorithm": "mod37-2"}
    ]));
    assert_eq!(validate_segments(&ok), Ok(()));
}

#[test]
fn rule_needs_segments() {
    assert_eq!(
        errors(&[]),
        vec![("segments".into(), "rule.segments.empty".into())]
    );
}

#[test]
fn rule_needs_exactly_one_variable_segment() {
    let none = segs(json!([{"kind": "constant", "value": "C"}]));
    assert!(has_error(&none, "segments", "rule.segments.no_variable"));
    let two = segs(json!([
        {"kind": "sequence", "width": 4},
        {"kind": "random", "width": 4}
    ]));
    assert!(has_error(
        &two,
        "segments[1]",
        "rule.segments.multiple_variable"
    ));
    let two_seq = segs(json!([
        {"kind": "sequence", "width": 4},
        {"kind": "constant", "value": "A"},
        {"kind": "sequence", "width": 4}
    ]));
    assert!(has_error(
        &two_seq,
        "segments[2]",
        "rule.segments.multiple_variable"
    ));
}

#[test]
fn check_must_be_single_and_last() {
    let not_last = segs(json!([
        {"kind": "sequence", "width": 4},
        {"kind": "check", "algorithm": "luhn"},
        {"kind": "constant", "value": "1"}
    ]));
    assert!(has_error(&not_last, "segments[1]", "rule.check.not_last"));
    let two = segs(json!([
        {"kind": "sequence", "width": 4},
        {"kind": "check", "algorithm": "luhn"},
        {"kind": "check", "algorithm": "luhn"}
    ]));
    assert!(has_error(&two, "segments[2]", "rule.check.multiple"));
}

#[test]
fn constant_texts_are_upper_case_code_chars() {
    let empty = segs(json!([{"kind": "constant", "value": ""}, {"kind": "sequence", "width": 4}]));
    assert!(has_error(
        &empty,
        "segments[0].value",
        "rule.constant.empty"
    ));
    let lower = segs(json!([{"kind": "constant", "value": "c"}, {"kind": "sequence", "width": 4}]));
    assert!(has_error(
        &lower,
        "segments[0].value",
        "rule.constant.charset"
    ));
    let e = validate_segments(&lower).unwrap_err().remove(0).violation;
    assert!(
        e.en.contains("upper-case") && e.en.contains("'c'"),
        "{}",
        e.en
    );
    assert!(e.zh.contains("大写"), "{}", e.zh);
    let space =
        segs(json!([{"kind": "constant", "value": "A B"}, {"kind": "sequence", "width": 4}]));
    assert!(has_error(
        &space,
        "segments[0].value",
        "rule.constant.charset"
    ));
    let chinese =
        segs(json!([{"kind": "constant", "value": "客"}, {"kind": "sequence", "width": 4}]));
    assert!(has_error(
        &chinese,
        "segments[0].value",
        "rule.constant.charset"
    ));
}

#[test]
fn attribute_segment_problems() {
    let rule = segs(json!([
        {"kind": "attribute", "field": " ", "map": {}},
        {"kind": "attribute", "field": "t", "map": {"a": "", "b": "x", "": "K", "c": "Q", "d": "Q"}},
        {"kind": "sequence", "width": 4}
    ]));
    assert!(has_error(
        &rule,
        "segments[0].field",
        "rule.attribute.field_empty"
    ));
    assert!(has_error(
        &rule,
        "segments[0].map",
        "rule.attribute.map_empty"
    ));
    assert!(has_error(
        &rule,
        "segments[1].map.a",
        "rule.attribute.value.empty"
    ));
    assert!(has_error(
        &rule,
        "segments[1].map.b",
        "rule.attribute.value.charset"
    ));
    assert!(has_error(
        &rule,
        "segments[1].map",
        "rule.attribute.key_empty"
    ));
    assert!(has_error(
        &rule,
        "segments[1].map.d",
        "rule.attribute.duplicate_value"
    ));
}

#[test]
fn sequence_width_and_start() {
    for w in [0, 13] {
        let rule = segs(json!([{"kind": "sequence", "width": w}]));
        assert!(has_error(&rule, "segments[0].width", "rule.sequence.width"));
    }
    let rule = segs(json!([{"kind": "sequence", "width": 4, "start": 10000}]));
    assert!(has_error(&rule, "segments[0].start", "rule.sequence.start"));
    let rule = segs(json!([{"kind": "sequence", "width": 4, "start": 9999}]));
    assert_eq!(validate_segments(&rule), Ok(()));
    let rule = segs(json!([{"kind": "sequence", "width": 12, "start": 0}]));
    assert_eq!(validate_segments(&rule), Ok(()));
    // A width that does not fit u8 is a parse error, not a panic.
    assert!(
        serde_json::from_value::<Vec<Segment>>(json!([{"kind": "sequence", "width": 300}]))
            .is_err()
    );
}

#[test]
fn random_width() {
    for w in [0, 3, 17] {
        let rule = segs(json!([{"kind": "random", "width": w}]));
        assert!(has_error(&rule, "segments[0].width", "rule.random.width"));
    }
    for w in [4, 16] {
        let rule = segs(json!([{"kind": "random", "width": w}]));
        assert_eq!(validate_segments(&rule), Ok(()));
    }
}

#[test]
fn check_alphabet_must_cover_what_comes_before() {
    let luhn_after_letter = segs(json!([
        {"kind": "constant", "value": "C"},
        {"kind": "sequence", "width": 4},
        {"kind": "check", "algorithm": "luhn"}
    ]));
    assert!(has_error(
        &luhn_after_letter,
        "segments[2].algorithm",
        "rule.check.alphabet"
    ));
    let e = validate_segments(&luhn_after_letter)
        .unwrap_err()
        .remove(0)
        .violation;
    assert!(
        e.en.contains("'C'") && e.en.contains("segments[0]"),
        "{}",
        e.en
    );

    let luhn_after_random = segs(json!([
        {"kind": "random", "width": 6},
        {"kind": "check", "algorithm": "luhn"}
    ]));
    assert!(has_error(
        &luhn_after_random,
        "segments[1].algorithm",
        "rule.check.alphabet"
    ));

    let mod11_after_attribute = segs(json!([
        {"kind": "attribute", "field": "t", "map": {"a": "1", "b": "B"}},
        {"kind": "sequence", "width": 4},
        {"kind": "check", "algorithm": "mod11-2"}
    ]));
    assert!(has_error(
        &mod11_after_attribute,
        "segments[2].algorithm",
        "rule.check.alphabet"
    ));

    let mod37_after_dash = segs(json!([
        {"kind": "constant", "value": "C-"},
        {"kind": "sequence", "width": 4},
        {"kind": "check", "algorithm": "mod37-2"}
    ]));
    assert!(has_error(
        &mod37_after_dash,
        "segments[2].algorithm",
        "rule.check.alphabet"
    ));

    let digits_only = segs(json!([
        {"kind": "constant", "value": "9"},
        {"kind": "region", "level": "county"},
        {"kind": "date", "format": "yyyyMMdd"},
        {"kind": "sequence", "width": 4},
        {"kind": "check", "algorithm": "mod11-2"}
    ]));
    assert_eq!(validate_segments(&digits_only), Ok(()));
}

#[test]
fn code_length_limit() {
    let rule = segs(json!([
        {"kind": "constant", "value": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
        {"kind": "sequence", "width": 12},
        {"kind": "date", "format": "yyyy"}
    ]));
    assert!(has_error(&rule, "segments", "rule.length"));
    // Exactly 40 is fine.
    let rule = segs(json!([
        {"kind": "constant", "value": "ABCDEFGHIJKLMNOPQRSTUVWX"},
        {"kind": "sequence", "width": 12},
        {"kind": "date", "format": "yyyy"}
    ]));
    assert_eq!(validate_segments(&rule), Ok(()));
    // The longest attribute text counts.
    let rule = segs(json!([
        {"kind": "attribute", "field": "t", "map": {"a": "A", "b": "BBBBBBBBBBBBBBBBBBBBBBBBBBBBB"}},
        {"kind": "sequence", "width": 12}
    ]));
    assert!(has_error(&rule, "segments", "rule.length"));
}

#[test]
fn reset_needs_a_fine_enough_date_in_the_code() {
    let no_date = segs(json!([
        {"kind": "constant", "value": "C"},
        {"kind": "sequence", "width": 4, "reset": "daily"}
    ]));
    assert!(has_error(
        &no_date,
        "segments[1].reset",
        "rule.sequence.reset_without_date"
    ));
    let coarse = segs(json!([
        {"kind": "date", "format": "yyyy"},
        {"kind": "sequence", "width": 4, "reset": "monthly"}
    ]));
    assert!(has_error(
        &coarse,
        "segments[1].reset",
        "rule.sequence.reset_without_date"
    ));
    for (format, reset) in [
        ("yyyyMM", "monthly"),
        ("yyyyMMdd", "monthly"),
        ("yy", "yearly"),
        ("yyyy", "yearly"),
        ("yyyyMMdd", "daily"),
    ] {
        // The date may also come after the sequence.
        let rule = segs(json!([
            {"kind": "sequence", "width": 4, "reset": reset},
            {"kind": "date", "format": format}
        ]));
        assert_eq!(validate_segments(&rule), Ok(()), "{format} {reset}");
    }
}

#[test]
fn variable_length_texts_only_on_one_side() {
    // "1"+"23"+"34" and "12"+"33"+"4" would be the same code from two scopes.
    let rule = segs(json!([
        {"kind": "attribute", "field": "a", "map": {"x": "1", "y": "12"}},
        {"kind": "sequence", "width": 2},
        {"kind": "attribute", "field": "b", "map": {"x": "34", "y": "4"}}
    ]));
    assert!(has_error(
        &rule,
        "segments[2].map",
        "rule.attribute.ambiguous_length"
    ));
    let one_side = segs(json!([
        {"kind": "attribute", "field": "a", "map": {"x": "1", "y": "12"}},
        {"kind": "sequence", "width": 2},
        {"kind": "attribute", "field": "b", "map": {"x": "34", "y": "44"}}
    ]));
    assert_eq!(validate_segments(&one_side), Ok(()));
}

#[test]
fn all_problems_are_reported_at_once() {
    let rule = segs(json!([
        {"kind": "check", "algorithm": "luhn"},
        {"kind": "constant", "value": "a"},
        {"kind": "sequence", "width": 0},
        {"kind": "random", "width": 2}
    ]));
    let errs = errors(&rule);
    for (field, code) in [
        ("segments[0]", "rule.check.not_last"),
        ("segments[1].value", "rule.constant.charset"),
        ("segments[2].width", "rule.sequence.width"),
        ("segments[3]", "rule.segments.multiple_variable"),
        ("segments[3].width", "rule.random.width"),
    ] {
        assert!(
            errs.iter().any(|(f, c)| f == field && c == code),
            "{code} on {field} missing from {errs:?}"
        );
    }
}

// ---------------------------------------------------------------- plan / render errors

#[test]
fn plan_rejects_invalid_rules_with_the_field_path() {
    let rule = segs(json!([{"kind": "sequence", "width": 0}]));
    let e = plan_for(&rule, &attrs(&[]), None, day(2024, 1, 1)).unwrap_err();
    assert_eq!(e.code, "rule.sequence.width");
    assert!(e.en.contains("segments[0].width"), "{}", e.en);
}

#[test]
fn plan_attribute_errors() {
    let rule = seed001_case1();
    let d = day(2024, 1, 1);
    let e = plan_for(&rule, &attrs(&[]), None, d).unwrap_err();
    assert_eq!(e.code, "rule.attribute.missing");
    assert!(e.en.contains("customer_type"), "{}", e.en);

    let e = plan_for(&rule, &attrs(&[("customer_type", "partner")]), None, d).unwrap_err();
    assert_eq!(e.code, "rule.attribute.unmapped");
    assert!(
        e.en.contains("customer_type") && e.en.contains("partner"),
        "{}",
        e.en
    );
    assert!(
        e.zh.contains("customer_type") && e.zh.contains("partner"),
        "{}",
        e.zh
    );
}

#[test]
fn plan_region_errors() {
    let rule = seed000();
    let a = attrs(&[("customer_type", "enterprise")]);
    let d = day(2024, 1, 1);
    assert_eq!(
        plan_for(&rule, &a, None, d).unwrap_err().code,
        "rule.region.missing"
    );
    for bad in ["11010", "1101051", "11010X", "", "１１０１０５"] {
        let e = plan_for(&rule, &a, Some(bad), d).unwrap_err();
        assert_eq!(e.code, "rule.region.malformed", "{bad}");
    }
    // Without a region segment the region code is not needed.
    assert!(plan_for(&seed001_case1(), &a, None, d).is_ok());
}

#[test]
fn plan_date_out_of_range() {
    let rule = seed001_case2();
    let a = attrs(&[("customer_type", "retail")]);
    let far = NaiveDate::from_ymd_opt(10000, 1, 1).unwrap();
    assert_eq!(
        plan_for(&rule, &a, None, far).unwrap_err().code,
        "rule.date.out_of_range"
    );
}

#[test]
fn render_never_wraps_around() {
    let rule = segs(json!([
        {"kind": "constant", "value": "C"},
        {"kind": "sequence", "width": 2, "start": 10}
    ]));
    let p = plan_for(&rule, &attrs(&[]), None, day(2024, 1, 1)).unwrap();
    assert_eq!(p.capacity(), Some(90));
    assert_eq!(p.render(Some(10), None).unwrap(), "C10");
    assert_eq!(p.render(Some(99), None).unwrap(), "C99");
    for n in [100, 9, 0, u64::MAX] {
        let e = p.render(Some(n), None).unwrap_err();
        assert_eq!(e.code, "rule.sequence.exhausted", "{n}");
        assert!(e.en.contains(&n.to_string()), "{}", e.en);
    }
}

#[test]
fn render_argument_mismatch() {
    let seq = plan_for(
        &seed001_case1(),
        &attrs(&[("customer_type", "enterprise")]),
        None,
        day(2024, 1, 1),
    )
    .unwrap();
    assert_eq!(
        seq.render(None, None).unwrap_err().code,
        "rule.render.arguments"
    );
    assert_eq!(
        seq.render(Some(1), Some("ABCD")).unwrap_err().code,
        "rule.render.arguments"
    );

    let rule = segs(json!([{"kind": "constant", "value": "K"}, {"kind": "random", "width": 6}]));
    let rnd = plan_for(&rule, &attrs(&[]), None, day(2024, 1, 1)).unwrap();
    assert_eq!(rnd.sequence_scope(), None);
    assert_eq!(rnd.capacity(), None);
    assert_eq!(rnd.random_width(), Some(6));
    assert_eq!(
        rnd.render(Some(1), None).unwrap_err().code,
        "rule.render.arguments"
    );
    assert_eq!(rnd.render(None, Some("ABCDEF")).unwrap(), "KABCDEF");
    for bad in ["ABCDE", "ABCDEFG", "ABCDEI", "abcdef", "ABCDE*"] {
        assert_eq!(
            rnd.render(None, Some(bad)).unwrap_err().code,
            "rule.random.text",
            "{bad}"
        );
    }
}

#[test]
fn random_rule_with_bytes_and_check() {
    let rule = segs(json!([
        {"kind": "constant", "value": "K"},
        {"kind": "random", "width": 16},
        {"kind": "check", "algorithm": "mod37-2"}
    ]));
    let p = plan_for(&rule, &attrs(&[]), None, day(2024, 1, 1)).unwrap();
    let bytes = [0x5Au8, 0x13, 0xFF, 0x00, 0x80, 0x7E, 0x42, 0x99, 0xC3, 0x01];
    assert_eq!(crockford_bytes_needed(16), bytes.len());
    let text = crockford_from_bytes(16, &bytes);
    let code = p.render(None, Some(&text)).unwrap();
    assert_eq!(code.len(), 18);
    let d = decode(&rule, &code, day(2024, 1, 1)).unwrap();
    assert_eq!(d.random.as_deref(), Some(text.as_str()));
    assert_eq!(d.check_valid, Some(true));
    assert_eq!(d.sequence_scope, None);
}

#[test]
fn crockford_bits() {
    // 00001000 10000110 -> 00001 00010 00011 -> "123"
    assert_eq!(crockford_from_bytes(3, &[0x08, 0x86]), "123");
    assert_eq!(crockford_from_bytes(16, &[0xFF; 10]), "Z".repeat(16));
    assert_eq!(crockford_from_bytes(16, &[0; 10]), "0".repeat(16));
    assert_eq!(crockford_bytes_needed(4), 3);
    assert_eq!(crockford_bytes_needed(8), 5);
    // Too few bytes give a short text, which render rejects rather than padding silently.
    assert_eq!(crockford_from_bytes(16, &[0xFF; 2]).len(), 3);
    // Extra bytes are ignored.
    assert_eq!(crockford_from_bytes(4, &[0xFF; 32]), "ZZZZ");
}

// ---------------------------------------------------------------- decode errors

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

// ---------------------------------------------------------------- serde

#[test]
fn serde_examples_parse() {
    let examples = [
        (
            json!({"kind": "constant", "value": "C"}),
            Segment::Constant { value: "C".into() },
        ),
        (
            json!({"kind": "attribute", "field": "customer_type", "map": {"enterprise": "C", "individual": "P"}}),
            Segment::Attribute {
                field: "customer_type".into(),
                map: attrs(&[("enterprise", "C"), ("individual", "P")]),
            },
        ),
        (
            json!({"kind": "region", "level": "province"}),
            Segment::Region {
                level: RegionLevel::Province,
            },
        ),
        (
            json!({"kind": "region", "level": "city"}),
            Segment::Region {
                level: RegionLevel::City,
            },
        ),
        (
            json!({"kind": "region", "level": "county"}),
            Segment::Region {
                level: RegionLevel::County,
            },
        ),
        (
            json!({"kind": "date", "format": "yyyy"}),
            Segment::Date {
                format: DateFormat::Yyyy,
            },
        ),
        (
            json!({"kind": "date", "format": "yy"}),
            Segment::Date {
                format: DateFormat::Yy,
            },
        ),
        (
            json!({"kind": "date", "format": "yyyyMM"}),
            Segment::Date {
                format: DateFormat::YyyyMm,
            },
        ),
        (
            json!({"kind": "date", "format": "yyyyMMdd"}),
            Segment::Date {
                format: DateFormat::YyyyMmDd,
            },
        ),
        (
            json!({"kind": "sequence", "width": 4}),
            Segment::Sequence {
                width: 4,
                start: 1,
                reset: Reset::Never,
            },
        ),
        (
            json!({"kind": "sequence", "width": 6, "start": 0, "reset": "monthly"}),
            Segment::Sequence {
                width: 6,
                start: 0,
                reset: Reset::Monthly,
            },
        ),
        (
            json!({"kind": "check", "algorithm": "mod11-2"}),
            Segment::Check {
                algorithm: CheckAlgorithm::Mod11_2,
            },
        ),
        (
            json!({"kind": "check", "algorithm": "mod37-2"}),
            Segment::Check {
                algorithm: CheckAlgorithm::Mod37_2,
            },
        ),
        (
            json!({"kind": "check", "algorithm": "luhn"}),
            Segment::Check {
                algorithm: CheckAlgorithm::Luhn,
            },
        ),
        (
            json!({"kind": "random", "width": 8}),
            Segment::Random { width: 8 },
        ),
    ];
    for (value, expected) in examples {
        let parsed: Segment = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(parsed, expected, "{value}");
        // And back: the serialised form parses to the same segment.
        let again: Segment =
            serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(again, expected);
        assert_eq!(
            serde_json::to_value(&parsed).unwrap()["kind"],
            value["kind"]
        );
    }
}

#[test]
fn serde_rejects_unknown_kinds_and_fields() {
    for bad in [
        json!({"kind": "uuid"}),
        json!({"value": "C"}),
        json!({"kind": "constant", "value": "C", "extra": 1}),
        json!({"kind": "sequence", "width": 4, "step": 2}),
        json!({"kind": "sequence", "width": 4, "reset": "weekly"}),
        json!({"kind": "date", "format": "YYYY"}),
        json!({"kind": "date", "format": "yyyymmdd"}),
        json!({"kind": "region", "level": "town"}),
        json!({"kind": "check", "algorithm": "mod97-10"}),
        json!({"kind": "constant"}),
        json!({"kind": "Constant", "value": "C"}),
    ] {
        assert!(
            serde_json::from_value::<Segment>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn decoded_serialises() {
    let d = decode(&seed001_case1(), "C0001", day(2024, 1, 1)).unwrap();
    let v = serde_json::to_value(&d).unwrap();
    assert_eq!(
        v["parts"][0],
        json!({"kind": "attribute", "text": "C", "meaning": "enterprise"})
    );
    assert_eq!(v["sequence"], json!(1));
}

// ---------------------------------------------------------------- properties

#[derive(Debug, Clone, Copy)]
enum Charset {
    Digits,
    Alnum,
    AlnumDash,
}

impl Charset {
    fn regex(self, len: &str) -> proptest::string::RegexGeneratorStrategy<String> {
        let class = match self {
            Charset::Digits => "[0-9]",
            Charset::Alnum => "[0-9A-Z]",
            Charset::AlnumDash => "[0-9A-Z-]",
        };
        proptest::string::string_regex(&format!("{class}{{{len}}}")).unwrap()
    }
}

/// A non-variable segment; attribute fields are filled in later.
fn fixed_segment(cs: Charset, equal_lengths: bool) -> BoxedStrategy<Segment> {
    let texts = if equal_lengths {
        (1usize..=3)
            .prop_flat_map(move |n| prop::collection::btree_set(cs.regex(&n.to_string()), 1..=4))
            .boxed()
    } else {
        prop::collection::btree_set(cs.regex("1,3"), 1..=4).boxed()
    };
    prop_oneof![
        cs.regex("1,4")
            .prop_map(|value| Segment::Constant { value }),
        texts.prop_map(|set| Segment::Attribute {
            field: String::new(),
            map: set
                .into_iter()
                .enumerate()
                .map(|(i, t)| (format!("v{i}"), t))
                .collect(),
        }),
        prop_oneof![
            Just(RegionLevel::Province),
            Just(RegionLevel::City),
            Just(RegionLevel::County)
        ]
        .prop_map(|level| Segment::Region { level }),
        prop_oneof![
            Just(DateFormat::Yyyy),
            Just(DateFormat::Yy),
            Just(DateFormat::YyyyMm),
            Just(DateFormat::YyyyMmDd)
        ]
        .prop_map(|format| Segment::Date { format }),
    ]
    .boxed()
}

#[derive(Debug, Clone)]
enum VariableSpec {
    Sequence {
        width: u8,
        start_pick: u8,
        start_raw: u64,
        reset: u8,
    },
    Random {
        width: u8,
    },
}

/// Valid rules: charset-consistent texts, one variable segment, variable-length attribute
/// texts only before it, a reset only with a fine enough date, an optional compatible check.
fn rule_strategy(force_check: bool) -> impl Strategy<Value = Vec<Segment>> {
    let charset = prop_oneof![
        Just(Charset::Digits),
        Just(Charset::Alnum),
        Just(Charset::AlnumDash)
    ];
    charset
        .prop_flat_map(move |cs| {
            (
                prop::collection::vec(fixed_segment(cs, false), 0..=3),
                prop_oneof![
                    (1u8..=12, 0u8..3, any::<u64>(), 0u8..4).prop_map(
                        |(width, start_pick, start_raw, reset)| {
                            VariableSpec::Sequence {
                                width,
                                start_pick,
                                start_raw,
                                reset,
                            }
                        }
                    ),
                    (4u8..=16).prop_map(|width| VariableSpec::Random { width }),
                ],
                prop::collection::vec(fixed_segment(cs, true), 0..=2),
                any::<bool>(),
                0usize..3,
            )
        })
        .prop_map(move |(prefix, var, suffix, want_check, alg_pick)| {
            build_rule(prefix, var, suffix, force_check || want_check, alg_pick)
        })
        .prop_filter("code length", |rule| {
            let max: usize = rule
                .iter()
                .map(|s| match s {
                    Segment::Constant { value } => value.len(),
                    Segment::Attribute { map, .. } => {
                        map.values().map(String::len).max().unwrap_or(0)
                    }
                    Segment::Region { level } => level.width(),
                    Segment::Date { format } => format.width(),
                    Segment::Sequence { width, .. } | Segment::Random { width } => {
                        usize::from(*width)
                    }
                    Segment::Check { .. } => 1,
                })
                .sum();
            max <= 40
        })
        .prop_filter("check wanted", move |rule| {
            !force_check
                || matches!(
                    rule.last(),
                    Some(Segment::Check {
                        algorithm: CheckAlgorithm::Mod11_2 | CheckAlgorithm::Mod37_2
                    })
                )
        })
}

fn build_rule(
    prefix: Vec<Segment>,
    var: VariableSpec,
    suffix: Vec<Segment>,
    want_check: bool,
    alg_pick: usize,
) -> Vec<Segment> {
    let mut rule = prefix;
    let dates: Vec<DateFormat> = rule
        .iter()
        .chain(suffix.iter())
        .filter_map(|s| match s {
            Segment::Date { format } => Some(*format),
            _ => None,
        })
        .collect();
    rule.push(match var {
        VariableSpec::Sequence {
            width,
            start_pick,
            start_raw,
            reset,
        } => {
            let start = match start_pick {
                0 => 0,
                1 => 1,
                _ => start_raw % 10u64.pow(u32::from(width)),
            };
            let wanted =
                [Reset::Never, Reset::Yearly, Reset::Monthly, Reset::Daily][usize::from(reset)];
            let ok = match wanted {
                Reset::Never => true,
                Reset::Yearly => !dates.is_empty(),
                Reset::Monthly => dates
                    .iter()
                    .any(|f| matches!(f, DateFormat::YyyyMm | DateFormat::YyyyMmDd)),
                Reset::Daily => dates.contains(&DateFormat::YyyyMmDd),
            };
            Segment::Sequence {
                width,
                start,
                reset: if ok { wanted } else { Reset::Never },
            }
        }
        VariableSpec::Random { width } => Segment::Random { width },
    });
    rule.extend(suffix);
    for (i, seg) in rule.iter_mut().enumerate() {
        if let Segment::Attribute { field, .. } = seg {
            *field = format!("f{i}");
        }
    }
    if want_check {
        let texts_ok = |ok: &dyn Fn(char) -> bool| {
            rule.iter().all(|s| match s {
                Segment::Constant { value } => value.chars().all(ok),
                Segment::Attribute { map, .. } => map.values().all(|t| t.chars().all(ok)),
                // Random text can contain any Crockford letter.
                Segment::Random { .. } => ok('Z'),
                _ => true,
            })
        };
        let algorithm = if texts_ok(&|c| c.is_ascii_digit()) {
            Some(
                [
                    CheckAlgorithm::Mod11_2,
                    CheckAlgorithm::Mod37_2,
                    CheckAlgorithm::Luhn,
                ][alg_pick],
            )
        } else if texts_ok(&|c| c != '-') {
            Some(CheckAlgorithm::Mod37_2)
        } else {
            None
        };
        if let Some(algorithm) = algorithm {
            rule.push(Segment::Check { algorithm });
        }
    }
    rule
}

#[derive(Debug, Clone)]
struct InputSpec {
    picks: Vec<usize>,
    region: String,
    year: i32,
    ordinal: u32,
    seq_raw: u64,
    random_bytes: Vec<u8>,
}

fn input_strategy() -> impl Strategy<Value = InputSpec> {
    (
        prop::collection::vec(0usize..4, 8),
        "[0-9]{6}",
        1900i32..2150,
        1u32..=365,
        any::<u64>(),
        prop::collection::vec(any::<u8>(), 10),
    )
        .prop_map(
            |(picks, region, year, ordinal, seq_raw, random_bytes)| InputSpec {
                picks,
                region,
                year,
                ordinal,
                seq_raw,
                random_bytes,
            },
        )
}

struct Issued {
    code: String,
    attributes: BTreeMap<String, String>,
    date: NaiveDate,
    plan: CodePlan,
    seq: Option<u64>,
    random: Option<String>,
}

fn issue(rule: &[Segment], input: &InputSpec) -> Issued {
    let mut attributes = BTreeMap::new();
    for (i, seg) in rule.iter().enumerate() {
        if let Segment::Attribute { field, map } = seg {
            let keys: Vec<&String> = map.keys().collect();
            let key = keys[input.picks[i % input.picks.len()] % keys.len()];
            attributes.insert(field.clone(), key.clone());
        }
    }
    let date = NaiveDate::from_yo_opt(input.year, input.ordinal).unwrap();
    let plan = plan(
        rule,
        &CodeInput {
            attributes: &attributes,
            region_code: Some(&input.region),
            issue_date: date,
        },
    )
    .unwrap();
    let (seq, random) = match (plan.sequence_start(), plan.capacity(), plan.random_width()) {
        (Some(start), Some(cap), _) => (Some(start + input.seq_raw % cap), None),
        (_, _, Some(w)) => (None, Some(crockford_from_bytes(w, &input.random_bytes))),
        _ => unreachable!(),
    };
    let code = plan.render(seq, random.as_deref()).unwrap();
    Issued {
        code,
        attributes,
        date,
        plan,
        seq,
        random,
    }
}

/// No text of any attribute map is a prefix of another text of the same map.
fn prefix_free(rule: &[Segment]) -> bool {
    rule.iter().all(|s| match s {
        Segment::Attribute { map, .. } => map
            .values()
            .all(|a| map.values().all(|b| a == b || !b.starts_with(a.as_str()))),
        _ => true,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn render_then_decode_round_trips(rule in rule_strategy(false), input in input_strategy()) {
        prop_assert_eq!(validate_segments(&rule), Ok(()));
        let issued = issue(&rule, &input);
        let decoded = decode(&rule, &issued.code, issued.date).unwrap();

        let has_check = matches!(rule.last(), Some(Segment::Check { .. }));
        prop_assert_eq!(decoded.check_valid, has_check.then_some(true));
        prop_assert_eq!(decoded.parts.len(), rule.len());
        let joined: String = decoded.parts.iter().map(|p| p.text.as_str()).collect();
        prop_assert_eq!(&joined, &issued.code);
        prop_assert_eq!(decoded.sequence, issued.seq);
        prop_assert_eq!(&decoded.random, &issued.random);
        prop_assert_eq!(decoded.sequence_scope.as_deref(), issued.plan.sequence_scope());

        // With prefix-free maps the parse is unique, so every meaning comes back exactly.
        if prefix_free(&rule) {
            for (seg, part) in rule.iter().zip(&decoded.parts) {
                prop_assert_eq!(part.kind, seg.kind());
                let expected = match seg {
                    Segment::Attribute { field, .. } => Some(issued.attributes[field].clone()),
                    Segment::Region { level } => {
                        Some(format!("{:0<6}", &input.region[..level.width()]))
                    }
                    Segment::Date { format } => Some(match format {
                        DateFormat::Yyyy | DateFormat::Yy => issued.date.format("%Y").to_string(),
                        DateFormat::YyyyMm => issued.date.format("%Y-%m").to_string(),
                        DateFormat::YyyyMmDd => issued.date.format("%Y-%m-%d").to_string(),
                    }),
                    Segment::Sequence { .. } => issued.seq.map(|n| n.to_string()),
                    _ => None,
                };
                prop_assert_eq!(&part.meaning, &expected, "{:?}", seg);
            }
        }
    }

    #[test]
    fn single_change_never_passes_the_check(
        rule in rule_strategy(true),
        input in input_strategy(),
        pos in any::<prop::sample::Index>(),
        pick in 0usize..38,
    ) {
        let issued = issue(&rule, &input);
        let chars: Vec<char> = issued.code.chars().collect();
        let i = pos.index(chars.len());
        let alphabet: Vec<char> = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*-"
            .chars()
            .filter(|&c| c != chars[i])
            .collect();
        let mut changed = chars.clone();
        changed[i] = alphabet[pick % alphabet.len()];
        let changed: String = changed.into_iter().collect();
        if let Ok(d) = decode(&rule, &changed, issued.date) {
            prop_assert_ne!(d.check_valid, Some(true), "{} -> {}", issued.code, changed);
        }
    }

    #[test]
    fn crockford_text_is_always_renderable(width in 4u8..=16, bytes in prop::collection::vec(any::<u8>(), 10)) {
        let text = crockford_from_bytes(width, &bytes);
        prop_assert_eq!(text.len(), usize::from(width));
        prop_assert!(text.chars().all(|c| CROCKFORD_ALPHABET.contains(c)));
    }
}
