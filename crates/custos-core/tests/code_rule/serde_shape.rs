//! The stored (serde) shape of rules.

#![allow(clippy::unwrap_used)]

use super::*;

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
