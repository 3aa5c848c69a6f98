//! The rule designer's form: the posted fields (named by the API's JSON keys,
//! `segments[2].width`) read into segments kept as typed, the add / remove / reorder
//! operations, and the rule body (`NewCodeRule`) they make. Values that are not of their
//! field's type are reported beside the field; everything else is the engine's to judge.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use custos_app::codes::{AppliesTo, NewCodeRule, SampleCustomer};
use custos_core::code_rule::Segment;
use custos_core::violation::FieldError;
use custos_core::Violation;

use super::form::Posted;

/// Segments a rule may have in the designer (a code is at most 40 characters anyway).
pub(crate) const MAX_SEGMENTS: usize = 24;

/// The kinds of segment the engine supports, in the order the designer offers them.
pub(crate) const KINDS: &[&str] = &[
    "constant",
    "attribute",
    "region",
    "date",
    "sequence",
    "check",
    "random",
];

/// The fields of each kind and their values for a new segment.
pub(crate) fn kind_fields(kind: &str) -> &'static [(&'static str, &'static str)] {
    match kind {
        "constant" => &[("value", "C")],
        "attribute" => &[
            ("field", "customer_type"),
            ("map", "enterprise=C\nindividual=P"),
        ],
        "region" => &[("level", "province")],
        "date" => &[("format", "yyyyMMdd")],
        "sequence" => &[("width", "4"), ("start", "1"), ("reset", "never")],
        "check" => &[("algorithm", "mod37-2")],
        "random" => &[("width", "8")],
        _ => &[],
    }
}

const NUMBER_FIELDS: &[&str] = &["width", "start"];

/// One segment as the form holds it: its kind and the text of each of its fields.
#[derive(Debug, Clone)]
pub(crate) struct SegmentForm {
    pub kind: String,
    pub fields: BTreeMap<&'static str, String>,
}

impl SegmentForm {
    /// A new segment of `kind` with the designer's starting values.
    pub fn new(kind: &str) -> SegmentForm {
        let fields = kind_fields(kind)
            .iter()
            .map(|(k, v)| (*k, v.to_string()))
            .collect();
        SegmentForm {
            kind: kind.to_string(),
            fields,
        }
    }

    /// A stored segment as form text (a map as `value=text` lines).
    pub fn of(segment: &Segment) -> SegmentForm {
        let mut form = SegmentForm::new(segment.kind());
        if let Ok(Value::Object(obj)) = serde_json::to_value(segment) {
            for (name, _) in kind_fields(segment.kind()) {
                let text = match obj.get(*name) {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Object(map)) => map
                        .iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join("\n"),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                form.fields.insert(name, text);
            }
        }
        form
    }

    /// The segment's JSON body, or what is wrong with the text typed.
    fn to_json(&self, index: usize) -> Result<Value, Vec<FieldError>> {
        let mut obj = Map::new();
        let mut errors = Vec::new();
        obj.insert("kind".into(), Value::String(self.kind.clone()));
        for (name, text) in &self.fields {
            let path = format!("segments[{index}].{name}");
            let text = text.trim();
            let value = if NUMBER_FIELDS.contains(name) {
                match text.parse::<u64>() {
                    Ok(n) => Value::from(n),
                    Err(_) => {
                        errors.push(
                            Violation::new(
                                "field.number",
                                format!("应为非负整数（{text}）"),
                                format!("expected a whole number ({text})"),
                            )
                            .on(path),
                        );
                        continue;
                    }
                }
            } else if *name == "map" {
                match map_of(text) {
                    Ok(m) => Value::Object(m),
                    Err(v) => {
                        errors.push(v.on(path));
                        continue;
                    }
                }
            } else {
                Value::String(text.to_string())
            };
            obj.insert(name.to_string(), value);
        }
        match errors.is_empty() {
            true => Ok(Value::Object(obj)),
            false => Err(errors),
        }
    }
}

/// `enterprise=C` lines (or `,` / `;` separated) as the attribute map.
fn map_of(text: &str) -> Result<Map<String, Value>, Violation> {
    let mut map = Map::new();
    for part in text
        .split(['\n', ',', ';', '，', '；'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((k, v)) = part.split_once(['=', ':', '：']) else {
            return Err(Violation::new(
                "code_rule.form.map",
                format!("“{part}”应写作“取值=编码”，如 enterprise=C"),
                format!("'{part}' should read value=text, e.g. enterprise=C"),
            ));
        };
        map.insert(k.trim().to_string(), Value::String(v.trim().to_string()));
    }
    Ok(map)
}

/// The designer's whole form as typed.
#[derive(Debug, Clone, Default)]
pub(crate) struct RuleForm {
    pub key: String,
    pub name: String,
    pub customer_types: String,
    pub region_prefixes: String,
    pub segments: Vec<SegmentForm>,
    /// Editing an existing rule: the key is fixed.
    pub editing: bool,
    pub sample_type: String,
    pub sample_region: String,
    pub sample_date: String,
    pub sample_attributes: String,
    /// The kind 添加段 adds, as last chosen.
    pub add_kind: String,
}

fn split_list(text: &str) -> Vec<String> {
    text.split([',', '，', '、', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `segments[3].width` → (3, "width").
fn segment_field(name: &str) -> Option<(usize, &str)> {
    let rest = name.strip_prefix("segments[")?;
    let (index, field) = rest.split_once("].")?;
    Some((index.parse().ok()?, field))
}

impl RuleForm {
    /// A form showing `rule` (a template or the newest version of a rule).
    pub fn of(rule: &NewCodeRule, editing: bool) -> RuleForm {
        RuleForm {
            key: rule.key.clone(),
            name: rule.name.clone(),
            customer_types: rule.applies_to.customer_types.join(", "),
            region_prefixes: rule.applies_to.region_prefixes.join(", "),
            segments: rule.segments.iter().map(SegmentForm::of).collect(),
            editing,
            sample_type: rule
                .applies_to
                .customer_types
                .first()
                .cloned()
                .unwrap_or_else(|| "enterprise".into()),
            sample_region: "110105".into(),
            sample_date: String::new(),
            sample_attributes: String::new(),
            add_kind: String::new(),
        }
    }

    /// The form as posted. A segment's field that was not on the page (its kind was
    /// just changed) starts from the designer's value for a new segment.
    pub fn posted(p: &Posted) -> RuleForm {
        let value_of = |name: &str| p.get(name).unwrap_or("").to_string();
        let mut kinds: BTreeMap<usize, String> = BTreeMap::new();
        let mut values: BTreeMap<(usize, String), String> = BTreeMap::new();
        for (name, value) in &p.fields {
            let Some((i, field)) = segment_field(name) else {
                continue;
            };
            if i >= MAX_SEGMENTS {
                continue;
            }
            match field {
                "kind" => {
                    kinds.insert(i, value.clone());
                }
                f => {
                    values.insert((i, f.to_string()), value.clone());
                }
            }
        }
        let segments = kinds
            .iter()
            .map(|(i, kind)| {
                let mut seg = SegmentForm::new(kind);
                for (name, _) in kind_fields(kind) {
                    if let Some(v) = values.get(&(*i, name.to_string())) {
                        seg.fields.insert(name, v.clone());
                    }
                }
                seg
            })
            .collect();
        RuleForm {
            key: value_of("key"),
            name: value_of("name"),
            customer_types: value_of("applies_to.customer_types"),
            region_prefixes: value_of("applies_to.region_prefixes"),
            segments,
            editing: p.get("editing") == Some("1"),
            sample_type: value_of("customer_type"),
            sample_region: value_of("region_code"),
            sample_date: value_of("date"),
            sample_attributes: value_of("attributes"),
            add_kind: value_of("add_kind"),
        }
    }

    /// Apply the designer operation `op`: `add` (the kind chosen in `add_kind`),
    /// `remove:2`, `up:2`, `down:2`; anything else changes nothing.
    pub fn apply(&mut self, op: &str, add_kind: &str) {
        let (verb, index) = match op.split_once(':') {
            Some((v, i)) => (v, i.parse::<usize>().ok()),
            None => (op, None),
        };
        let n = self.segments.len();
        match (verb, index) {
            ("add", _) if KINDS.contains(&add_kind) && n < MAX_SEGMENTS => {
                // A check character stays last.
                let at = match self.segments.last() {
                    Some(s) if s.kind == "check" && add_kind != "check" => n - 1,
                    _ => n,
                };
                self.segments.insert(at, SegmentForm::new(add_kind));
            }
            ("remove", Some(i)) if i < n => {
                self.segments.remove(i);
            }
            ("up", Some(i)) if i > 0 && i < n => self.segments.swap(i, i - 1),
            ("down", Some(i)) if i + 1 < n => self.segments.swap(i, i + 1),
            _ => {}
        }
    }

    /// The rule body and the sample the form describes, with the errors of values not
    /// of their field's type. With such errors the segments are incomplete (`None`).
    pub fn rule(&self) -> (NewCodeRule, SampleCustomer, Option<Vec<FieldError>>) {
        let mut errors = Vec::new();
        let mut segments = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            match seg.to_json(i).map(serde_json::from_value::<Segment>) {
                Ok(Ok(s)) => segments.push(s),
                Ok(Err(e)) => errors.push(
                    Violation::new(
                        "code_rule.form.segment",
                        format!("第 {} 段的设置无效：{e}", i + 1),
                        format!("segment {} is invalid: {e}", i + 1),
                    )
                    .on(format!("segments[{i}]")),
                ),
                Err(es) => errors.extend(es),
            }
        }
        let rule = NewCodeRule {
            key: self.key.trim().to_string(),
            name: self.name.clone(),
            applies_to: AppliesTo {
                customer_types: split_list(&self.customer_types),
                region_prefixes: split_list(&self.region_prefixes),
            },
            segments,
        };
        let mut attributes = BTreeMap::new();
        let mut sample_errors = Vec::new();
        match map_of(&self.sample_attributes) {
            Ok(m) => {
                for (k, v) in m {
                    attributes.insert(k, v.as_str().unwrap_or_default().to_string());
                }
            }
            Err(v) => sample_errors.push(v.on("attributes")),
        }
        let sample = SampleCustomer {
            customer_type: self.sample_type.trim().to_string(),
            region_code: Some(self.sample_region.trim().to_string()).filter(|r| !r.is_empty()),
            attributes,
            date: Some(self.sample_date.trim().to_string()).filter(|d| !d.is_empty()),
            count: Some(5),
            version: None,
        };
        errors.extend(sample_errors);
        let errors = (!errors.is_empty()).then_some(errors);
        (rule, sample, errors)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn segments_round_trip_through_the_form() {
        let seg: Segment = serde_json::from_value(serde_json::json!(
            {"kind":"attribute","field":"customer_type","map":{"enterprise":"C","individual":"P"}}
        ))
        .unwrap();
        let form = SegmentForm::of(&seg);
        assert_eq!(form.fields["map"], "enterprise=C\nindividual=P");
        let back: Segment = serde_json::from_value(form.to_json(0).unwrap()).unwrap();
        assert_eq!(back, seg);
    }

    #[test]
    fn a_width_that_is_not_a_number_is_named() {
        let mut seg = SegmentForm::new("sequence");
        seg.fields.insert("width", "four".into());
        let errors = seg.to_json(2).unwrap_err();
        assert_eq!(errors[0].field, "segments[2].width");
    }

    #[test]
    fn operations_keep_the_check_last_and_stay_in_bounds() {
        let mut form = RuleForm::default();
        form.apply("add", "sequence");
        form.apply("add", "check");
        form.apply("add", "constant");
        let kinds: Vec<&str> = form.segments.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["sequence", "constant", "check"]);
        form.apply("up", "1");
        form.apply("down", "9");
        form.apply("remove", "7");
        form.apply("remove:2", "");
        let kinds: Vec<&str> = form.segments.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["sequence", "constant"]);
        form.apply("up:1", "");
        form.apply("add", "nonsense");
        let kinds: Vec<&str> = form.segments.iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds, ["constant", "sequence"]);
    }
}
