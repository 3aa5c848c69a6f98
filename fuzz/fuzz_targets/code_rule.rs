//! Code rules and the code decoder. The input is a rule (TOML or JSON, as `custos rule add`
//! reads it) and a code, split at the first line `---`. Nothing may panic: validating,
//! planning and rendering for a sample customer, or decoding the given and the rendered code.
#![no_main]

use std::collections::BTreeMap;

use chrono::NaiveDate;
use custos_app::codes::NewCodeRule;
use custos_core::code_rule::{decode, plan, validate_segments, CodeInput, Segment};
use libfuzzer_sys::fuzz_target;

fn sample_attributes(segments: &[Segment]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for seg in segments {
        if let Segment::Attribute { field, map } = seg {
            if let Some(k) = map.keys().next() {
                out.entry(field.clone()).or_insert_with(|| k.clone());
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (rule_text, code) = text.split_once("\n---\n").unwrap_or((text, ""));
    let rule: NewCodeRule = match serde_json::from_str(rule_text) {
        Ok(r) => r,
        Err(_) => match toml::from_str(rule_text) {
            Ok(r) => r,
            Err(_) => return,
        },
    };
    let today = NaiveDate::from_ymd_opt(2026, 12, 6).expect("date");
    let _ = decode(&rule.segments, code.trim(), today);
    if validate_segments(&rule.segments).is_err() {
        return;
    }
    let attributes = sample_attributes(&rule.segments);
    let input = CodeInput {
        attributes: &attributes,
        region_code: Some("110105"),
        issue_date: today,
    };
    let Ok(p) = plan(&rule.segments, &input) else {
        return;
    };
    if p.random_width().is_some() {
        return;
    }
    let Some(start) = p.sequence_start() else {
        return;
    };
    let seq = start.saturating_add(code.len() as u64 % 7);
    if p.sequence_max().is_some_and(|max| seq > max) {
        return;
    }
    let Ok(rendered) = p.render(Some(seq), None) else {
        return;
    };
    let _ = decode(&rule.segments, &rendered, today);
});
