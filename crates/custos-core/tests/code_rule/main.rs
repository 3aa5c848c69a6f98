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

mod decode;
mod plan;
mod properties;
mod seeds;
mod serde_shape;
mod validation;

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
