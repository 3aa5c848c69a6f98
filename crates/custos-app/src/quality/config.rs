//! What the quality rules are configured with (`[quality]` in the server's TOML): the
//! recommended fields per customer type, when a record is stale, the weights, and the KPI
//! targets. Defaults when absent.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::dimensions::{rule_matches, Dimension};

/// A KPI (质量指标): the share of assessed customers failing none of `rules`, against a
/// target percentage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct KpiTarget {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    /// Rule keys or prefixes ending at a dot (`completeness.required` covers
    /// `completeness.required.uscc`).
    pub rules: Vec<String>,
    /// Percent (0–100) the share must reach.
    pub target: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QualityConfig {
    /// Recommended fields per customer type; an item `a|b` is met by either field;
    /// `contacts` means a contact person, `primary_contact` one marked primary,
    /// `custom.<key>` a custom field. Types not listed use `*` if present.
    pub recommended: BTreeMap<String, Vec<String>>,
    /// A customer not updated or confirmed in this many months fails timeliness.
    pub stale_months: u32,
    /// Weight of each dimension in the overall score, by dimension key.
    pub dimension_weights: BTreeMap<String, f64>,
    /// Weight of a rule by key or prefix (the longest matching one wins); otherwise 3 for
    /// required fields and 1 for every other rule.
    pub rule_weights: BTreeMap<String, f64>,
    pub kpis: Vec<KpiTarget>,
}

impl Default for QualityConfig {
    fn default() -> Self {
        let list = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut recommended = BTreeMap::new();
        recommended.insert(
            "enterprise".to_string(),
            list(&[
                "uscc",
                "legal_representative",
                "industry",
                "region_code",
                "address",
                "phone",
                "primary_contact",
            ]),
        );
        recommended.insert(
            "individual".to_string(),
            list(&["id_number|mobile", "address"]),
        );
        let dimension_weights = [
            ("completeness", 30.0),
            ("validity", 25.0),
            ("consistency", 15.0),
            ("timeliness", 15.0),
            ("uniqueness", 15.0),
        ]
        .into_iter()
        .map(|(k, w)| (k.to_string(), w))
        .collect();
        let kpi = |key: &str, zh: &str, en: &str, rules: &[&str], target: f64| KpiTarget {
            key: key.into(),
            label_zh: zh.into(),
            label_en: en.into(),
            rules: list(rules),
            target,
        };
        QualityConfig {
            recommended,
            stale_months: 12,
            dimension_weights,
            rule_weights: BTreeMap::new(),
            kpis: vec![
                kpi(
                    "contact_validity",
                    "联系方式有效率",
                    "Valid contact data",
                    &[
                        "validity.mobile",
                        "validity.phone",
                        "validity.email",
                        "validity.contacts",
                    ],
                    95.0,
                ),
                kpi(
                    "required_completeness",
                    "必填项完整率",
                    "Required fields complete",
                    &["completeness.required"],
                    98.0,
                ),
                kpi(
                    "identifier_validity",
                    "证件号码有效率",
                    "Valid identifiers",
                    &["validity.uscc", "validity.id_number"],
                    99.0,
                ),
                kpi(
                    "timeliness",
                    "及时更新率",
                    "Updated in time",
                    &["timeliness"],
                    90.0,
                ),
                kpi(
                    "uniqueness",
                    "唯一率",
                    "Not a suspected duplicate",
                    &["uniqueness"],
                    99.0,
                ),
            ],
        }
    }
}

impl QualityConfig {
    /// The recommended items of a customer type.
    pub fn recommended_for(&self, customer_type: &str) -> &[String] {
        self.recommended
            .get(customer_type)
            .or_else(|| self.recommended.get("*"))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The weight of rule `key`.
    pub fn weight_of(&self, key: &str) -> f64 {
        let configured = self
            .rule_weights
            .iter()
            .filter(|(sel, _)| rule_matches(sel, key))
            .max_by_key(|(sel, _)| sel.len())
            .map(|(_, w)| *w);
        configured.unwrap_or(if key.starts_with("completeness.required.") {
            3.0
        } else {
            1.0
        })
    }

    /// Dimension weights in the order of [`Dimension::ALL`] (a missing one weighs 0).
    pub fn dimension_weights(&self) -> [f64; 5] {
        Dimension::ALL.map(|d| self.dimension_weights.get(d.key()).copied().unwrap_or(0.0))
    }

    /// Problems with a configuration (checked when the server starts), one text each.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !(1..=120).contains(&self.stale_months) {
            out.push("stale_months 须在 1–120 之间 / must be 1–120".to_string());
        }
        for (k, w) in &self.dimension_weights {
            if !Dimension::ALL.iter().any(|d| d.key() == k) {
                out.push(format!(
                    "dimension_weights: 未知维度 / unknown dimension '{k}'"
                ));
            }
            if !(0.0..=1000.0).contains(w) {
                out.push(format!(
                    "dimension_weights.{k} 须在 0–1000 / must be 0–1000"
                ));
            }
        }
        if self.dimension_weights().iter().sum::<f64>() <= 0.0 {
            out.push("dimension_weights 之和须大于 0 / must add up to more than 0".into());
        }
        for (k, w) in &self.rule_weights {
            if Dimension::of_rule(k).is_none() || !(0.0..=1000.0).contains(w) {
                out.push(format!(
                    "rule_weights.{k}: 须以维度开头且权重在 0–1000 / must start with a dimension, weight 0–1000"
                ));
            }
        }
        let too_long = |v: &str| v.trim().is_empty() || v.chars().count() > 64;
        for (t, items) in &self.recommended {
            if items.len() > 50 || items.iter().any(|i| too_long(i)) || too_long(t) {
                out.push(format!(
                    "recommended.{t}: 最多 50 项、每项 1–64 个字符 / at most 50 items of 1–64 characters"
                ));
            }
        }
        if self.kpis.len() > 20 {
            out.push("kpis 最多 20 项 / at most 20 KPIs".into());
        }
        for k in &self.kpis {
            if too_long(&k.key)
                || too_long(&k.label_zh)
                || k.rules.is_empty()
                || k.rules.len() > 50
                || !(0.0..=100.0).contains(&k.target)
            {
                out.push(format!(
                    "kpis.{}: 须有标识、名称、1–50 条规则，目标 0–100 / needs key, labels, 1–50 rules and a target 0–100",
                    k.key
                ));
            }
        }
        out
    }
}
