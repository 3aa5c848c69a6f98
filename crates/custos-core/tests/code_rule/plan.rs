//! Plan and render errors.

#![allow(clippy::unwrap_used)]

use super::*;

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
