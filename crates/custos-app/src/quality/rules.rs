//! The quality rules (数据质量规则) in five dimensions and the score they give one customer.
//! Pure: the facts of a customer in, its assessment out; no database, no values out.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Months, NaiveDate, Utc};
use custos_core::ident::{Email, IdNumber, Mobile, Phone, PostalCode, Uscc};
use serde::Serialize;

use super::config::QualityConfig;
use super::dimensions::Dimension;
use crate::customers::record::{is_enterprise_type, is_individual_type};

/// A rule as the API describes it: no values, only what it checks.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RuleInfo {
    /// e.g. `completeness.required.uscc`.
    pub key: String,
    pub dimension: Dimension,
    /// The field the rule checks (`contacts` for contact persons).
    pub field: String,
    pub label_zh: String,
    pub label_en: String,
    pub weight: f64,
}

/// A contact person's reachability data.
#[derive(Debug, Clone, Default)]
pub struct ContactFacts {
    pub mobile: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub is_primary: bool,
}

/// What the rules look at of one customer (in memory only: holds plaintext PII).
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub customer_type: String,
    pub name: String,
    /// Built-in single-value fields that hold a non-empty value, by key.
    pub values: BTreeMap<&'static str, String>,
    pub contacts: Vec<ContactFacts>,
    /// Keys of custom fields that hold a value.
    pub custom: BTreeSet<String>,
    /// Last change (microseconds).
    pub updated_at: i64,
    /// Member of an open duplicate group.
    pub in_open_duplicate_group: bool,
}

impl Facts {
    fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }

    /// Does the field hold a value? `contacts`: has a contact person; `custom.<key>`: a
    /// custom field.
    fn present(&self, key: &str) -> bool {
        match key {
            "name" => !self.name.trim().is_empty(),
            "customer_type" => !self.customer_type.is_empty(),
            "contacts" => !self.contacts.is_empty(),
            "primary_contact" => self.contacts.iter().any(|c| c.is_primary),
            k => match k.strip_prefix("custom.") {
                Some(c) => self.custom.contains(c),
                None => self.get(k).is_some(),
            },
        }
    }

    fn reachable(&self) -> bool {
        self.get("phone").is_some()
            || self.get("mobile").is_some()
            || self
                .contacts
                .iter()
                .any(|c| c.mobile.is_some() || c.phone.is_some())
    }
}

/// What the evaluation needs besides the customer: the configuration, the custom fields
/// required per type (from the field catalog), and the clock.
pub struct Context<'a> {
    pub config: &'a QualityConfig,
    /// (custom field key, Chinese label, English label, required for these types).
    pub required_custom: &'a [(String, String, String, Vec<String>)],
    pub today: NaiveDate,
    pub now: i64,
}

/// The outcome for one customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub score: f64,
    /// Sub-scores in the order of [`Dimension::ALL`].
    pub dimensions: [f64; 5],
    /// Failing rule keys, sorted.
    pub failing: Vec<String>,
}

/// One rule applied: its key, dimension, field, labels and whether it passed.
struct Outcome {
    info: RuleInfo,
    passed: bool,
}

/// Built-in fields of the catalog's labels, or the key itself.
fn labels(field: &str) -> (String, String) {
    match field {
        "contacts" => ("联系人".into(), "contact persons".into()),
        "primary_contact" => ("主要联系人".into(), "primary contact".into()),
        f => crate::fields::builtin_labels(f)
            .cloned()
            .unwrap_or_else(|| (f.to_string(), f.to_string())),
    }
}

/// The rule key part of a recommended item: `id_number|mobile` → `id_number_or_mobile`.
fn item_key(item: &str) -> String {
    item.split('|').collect::<Vec<_>>().join("_or_")
}

/// Whether a stored value passes its validator (given today, for ID numbers).
type Check = fn(&str, NaiveDate) -> bool;

struct Rules<'a> {
    ctx: &'a Context<'a>,
    out: Vec<Outcome>,
}

impl Rules<'_> {
    fn add(&mut self, key: String, field: &str, zh: String, en: String, passed: bool) {
        let dimension = Dimension::of_rule(&key).unwrap_or(Dimension::Completeness);
        let weight = self.ctx.config.weight_of(&key);
        self.out.push(Outcome {
            info: RuleInfo {
                key,
                dimension,
                field: field.to_string(),
                label_zh: zh,
                label_en: en,
                weight,
            },
            passed,
        });
    }

    fn completeness(&mut self, f: &Facts) {
        for field in ["name", "customer_type"] {
            let (zh, en) = labels(field);
            self.add(
                format!("completeness.required.{field}"),
                field,
                format!("必填项“{zh}”已填写"),
                format!("required field '{en}' is filled in"),
                f.present(field),
            );
        }
        if is_individual_type(&f.customer_type) {
            self.add(
                "completeness.required.id_number_or_mobile".into(),
                "id_number",
                "个人客户已填写身份证号码或手机号码".into(),
                "an individual has an ID number or a mobile number".into(),
                f.present("id_number") || f.present("mobile"),
            );
        }
        for (key, zh, en, types) in self.ctx.required_custom {
            if types.iter().any(|t| t == "*" || *t == f.customer_type) {
                let field = format!("custom.{key}");
                self.add(
                    format!("completeness.required.{field}"),
                    &field,
                    format!("必填项“{zh}”已填写"),
                    format!("required field '{en}' is filled in"),
                    f.present(&field),
                );
            }
        }
        for item in self.ctx.config.recommended_for(&f.customer_type) {
            let alternatives: Vec<&str> = item.split('|').collect();
            let first = alternatives.first().copied().unwrap_or_default();
            let names: Vec<(String, String)> = alternatives.iter().map(|a| labels(a)).collect();
            let zh = names.iter().map(|n| n.0.as_str()).collect::<Vec<_>>();
            let en = names.iter().map(|n| n.1.as_str()).collect::<Vec<_>>();
            self.add(
                format!("completeness.recommended.{}", item_key(item)),
                first,
                format!("建议项“{}”已填写", zh.join("”或“")),
                format!("recommended field '{}' is filled in", en.join("' or '")),
                alternatives.iter().any(|a| f.present(a)),
            );
        }
    }

    fn validity(&mut self, f: &Facts) {
        let today = self.ctx.today;
        let checks: [(&str, Check); 7] = [
            ("uscc", |v, _| Uscc::parse(v).is_ok()),
            ("id_number", |v, d| IdNumber::parse(v, d).is_ok()),
            ("mobile", |v, _| Mobile::parse(v).is_ok()),
            ("phone", |v, _| Phone::parse(v).is_ok()),
            ("email", |v, _| Email::parse(v).is_ok()),
            ("postal_code", |v, _| PostalCode::parse(v).is_ok()),
            ("region_code", |v, _| custos_core::region::exists(v)),
        ];
        for (field, ok) in checks {
            if let Some(v) = f.get(field) {
                let (zh, en) = labels(field);
                self.add(
                    format!("validity.{field}"),
                    field,
                    format!("“{zh}”格式与校验位有效"),
                    format!("'{en}' has a valid format and check character"),
                    ok(v, today),
                );
            }
        }
        if let Some(v) = f.get("industry") {
            self.add(
                "validity.industry".into(),
                "industry",
                "行业代码存在于 GB/T 4754".into(),
                "the industry code exists in GB/T 4754".into(),
                custos_core::industry::lookup(v).is_some(),
            );
        }
        if f.contacts
            .iter()
            .any(|c| c.mobile.is_some() || c.phone.is_some() || c.email.is_some())
        {
            let valid = f.contacts.iter().all(|c| {
                c.mobile.as_deref().is_none_or(|m| Mobile::parse(m).is_ok())
                    && c.phone.as_deref().is_none_or(|p| Phone::parse(p).is_ok())
                    && c.email.as_deref().is_none_or(|e| Email::parse(e).is_ok())
            });
            self.add(
                "validity.contacts".into(),
                "contacts",
                "联系人的手机、电话、邮箱格式有效".into(),
                "contact persons' mobile, phone and e-mail are well formed".into(),
                valid,
            );
        }
    }

    fn consistency(&mut self, f: &Facts) {
        let region = f.get("region_code").filter(|r| r.len() == 6);
        let enterprise = is_enterprise_type(&f.customer_type);
        if let (Some(uscc), Some(region)) =
            (f.get("uscc").and_then(|u| Uscc::parse(u).ok()), region)
        {
            self.add(
                "consistency.uscc_region".into(),
                "region_code",
                "统一社会信用代码的登记机关所在省与所在地区一致".into(),
                "the USCC's registration province matches the region".into(),
                uscc.region_code().get(..2) == region.get(..2),
            );
        }
        let id = f
            .get("id_number")
            .and_then(|v| IdNumber::parse(v, self.ctx.today).ok());
        if let (Some(id), Some(region), false) = (&id, region, enterprise) {
            self.add(
                "consistency.id_number_region".into(),
                "region_code",
                "身份证号码的发证地所在省与所在地区一致".into(),
                "the ID number's issuing province matches the region".into(),
                id.region_code().get(..2) == region.get(..2),
            );
        }
        if f.present("uscc") || f.present("id_number") {
            let fits = if enterprise {
                f.present("uscc") || !f.present("id_number")
            } else if is_individual_type(&f.customer_type) {
                !f.present("uscc")
            } else {
                true
            };
            self.add(
                "consistency.identity_type".into(),
                "customer_type",
                "证件类型与客户类型一致（企业用统一社会信用代码，个人用身份证）".into(),
                "the identifier fits the customer type (USCC for enterprises, ID for individuals)"
                    .into(),
                fits,
            );
        }
        if enterprise {
            self.add(
                "consistency.enterprise_reachable".into(),
                "contacts",
                "企业客户本身或其联系人留有电话或手机".into(),
                "the enterprise or one of its contacts has a phone or mobile".into(),
                f.reachable(),
            );
        }
        if !f.contacts.is_empty() {
            self.add(
                "consistency.primary_contact".into(),
                "contacts",
                "有联系人时恰有一位主要联系人".into(),
                "with contact persons, exactly one is primary".into(),
                f.contacts.iter().filter(|c| c.is_primary).count() == 1,
            );
        }
    }

    fn timeliness(&mut self, f: &Facts) {
        let months = self.ctx.config.stale_months;
        let fresh = stale_cutoff(self.ctx.now, months).is_none_or(|cut| f.updated_at >= cut);
        self.add(
            "timeliness.updated".into(),
            "updated_at",
            format!("{months} 个月内有过更新或确认"),
            format!("updated or confirmed within {months} months"),
            fresh,
        );
    }

    fn uniqueness(&mut self, f: &Facts) {
        self.add(
            "uniqueness.no_open_duplicate".into(),
            "code",
            "不在待处理的疑似重复组中".into(),
            "not in an open group of probable duplicates".into(),
            !f.in_open_duplicate_group,
        );
    }
}

/// The moment `months` months before `now` (microseconds); records changed before it
/// are stale.
pub fn stale_cutoff(now: i64, months: u32) -> Option<i64> {
    let at = DateTime::<Utc>::from_timestamp_micros(now)?;
    Some(
        at.checked_sub_months(Months::new(months))?
            .timestamp_micros(),
    )
}

/// Every rule that applies to `f`, passed or not.
fn outcomes(f: &Facts, ctx: &Context<'_>) -> Vec<Outcome> {
    let mut r = Rules {
        ctx,
        out: Vec::new(),
    };
    r.completeness(f);
    r.validity(f);
    r.consistency(f);
    r.timeliness(f);
    r.uniqueness(f);
    r.out
}

/// The rules that apply to `f` (for describing a score).
pub fn applicable_rules(f: &Facts, ctx: &Context<'_>) -> Vec<(RuleInfo, bool)> {
    outcomes(f, ctx)
        .into_iter()
        .map(|o| (o.info, o.passed))
        .collect()
}

/// Score `f`: per dimension, 100 × the weight of passed rules over the weight of the
/// rules that apply (100 when none applies); overall, the dimension scores weighted by
/// the configured dimension weights. Rounded to one decimal.
pub fn assess(f: &Facts, ctx: &Context<'_>) -> Assessment {
    let mut total = [0.0f64; 5];
    let mut passed = [0.0f64; 5];
    let mut failing = Vec::new();
    for o in outcomes(f, ctx) {
        let i = o.info.dimension.index();
        total[i] += o.info.weight;
        if o.passed {
            passed[i] += o.info.weight;
        } else {
            failing.push(o.info.key);
        }
    }
    let mut dimensions = [100.0; 5];
    for i in 0..5 {
        if total[i] > 0.0 {
            dimensions[i] = round1(100.0 * passed[i] / total[i]);
        }
    }
    let weights = ctx.config.dimension_weights();
    let sum: f64 = weights.iter().sum();
    let score = if sum > 0.0 {
        round1(
            dimensions
                .iter()
                .zip(weights.iter())
                .map(|(d, w)| d * w)
                .sum::<f64>()
                / sum,
        )
    } else {
        100.0
    };
    failing.sort();
    Assessment {
        score,
        dimensions,
        failing,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::dimensions::rule_matches;
    use super::*;

    fn ctx_parts() -> (QualityConfig, NaiveDate, i64) {
        let today = NaiveDate::from_ymd_opt(2026, 12, 6).unwrap();
        let now = today
            .and_hms_opt(12, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        (QualityConfig::default(), today, now)
    }

    fn person(values: &[(&'static str, &str)], now: i64) -> Facts {
        Facts {
            customer_type: "individual".into(),
            name: "张三".into(),
            values: values.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            updated_at: now,
            ..Default::default()
        }
    }

    #[test]
    fn an_id_number_issued_in_another_province_is_inconsistent() {
        let (config, today, now) = ctx_parts();
        let ctx = Context {
            config: &config,
            required_custom: &[],
            today,
            now,
        };
        let id = IdNumber::with_check("11010519800101123", today).unwrap();
        // Issued in Beijing (11), living in Shanghai (31).
        let f = person(
            &[
                ("id_number", id.as_str()),
                ("region_code", "310104"),
                ("address", "上海市"),
            ],
            now,
        );
        let a = assess(&f, &ctx);
        assert_eq!(a.failing, vec!["consistency.id_number_region"]);
        // Consistency: the identity fits the type, the region does not: 1 of 2 → 50;
        // the rest 100: 100 − 0.15 × 50 = 92.5.
        assert_eq!(a.dimensions, [100.0, 100.0, 50.0, 100.0, 100.0]);
        assert_eq!(a.score, 92.5);
        let moved = person(
            &[
                ("id_number", id.as_str()),
                ("region_code", "110105"),
                ("address", "北京市"),
            ],
            now,
        );
        assert!(assess(&moved, &ctx).failing.is_empty());
    }

    #[test]
    fn identity_contacts_and_validity_of_stored_values() {
        let (config, today, now) = ctx_parts();
        let ctx = Context {
            config: &config,
            required_custom: &[],
            today,
            now,
        };
        let uscc = Uscc::with_check("91310104MA0000001").unwrap();
        let mut f = person(
            &[
                ("uscc", uscc.as_str()),
                ("mobile", "1380013800"),
                ("address", "上海"),
            ],
            now,
        );
        f.contacts = vec![
            ContactFacts {
                phone: Some("not a phone".into()),
                ..Default::default()
            },
            ContactFacts::default(),
        ];
        let a = assess(&f, &ctx);
        assert_eq!(
            a.failing,
            vec![
                "consistency.identity_type",
                "consistency.primary_contact",
                "validity.contacts",
                "validity.mobile",
            ]
        );
    }

    #[test]
    fn stale_after_the_configured_months_and_selectors() {
        let (config, today, now) = ctx_parts();
        let ctx = Context {
            config: &config,
            required_custom: &[],
            today,
            now,
        };
        let cut = stale_cutoff(now, 12).unwrap();
        let mut f = person(&[("mobile", "13800138000"), ("address", "上海")], cut);
        assert!(assess(&f, &ctx).failing.is_empty());
        f.updated_at = cut - 1;
        assert_eq!(assess(&f, &ctx).failing, vec!["timeliness.updated"]);
        assert!(rule_matches(
            "completeness.required",
            "completeness.required.uscc"
        ));
        assert!(!rule_matches(
            "completeness.req",
            "completeness.required.uscc"
        ));
        assert!(rule_matches("timeliness", "timeliness.updated"));
    }
}
