//! Every class of rule-validation error.

#![allow(clippy::unwrap_used)]

use super::*;

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
