//! The field catalog (数据标准): every built-in field described, plus fields administrators
//! add. Custom values are validated against their definition like built-ins and indexed
//! for equality search.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use custos_core::normalize::{normalize_multiline_text, normalize_text};
use custos_core::text_guard::Lines;
use custos_core::{FieldError, Violation};
use custos_store::customer_master::FieldDefinitionRow;
use custos_store::{now_us, Tx};

use crate::actor::Actor;
use crate::audit::{append, record};
use crate::error::{AppError, AppResult};
use crate::to_json;

/// Value types of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Date,
    SingleSelect,
    MultiSelect,
    Boolean,
    /// A list of texts (built-ins such as tags).
    TextList,
    /// Contact persons (built-in).
    Contacts,
}

/// One field of the catalog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldDefinition {
    /// `snake_case`; custom keys are used as `custom.<key>` on customers.
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub max_length: Option<usize>,
    /// A text of several lines (remarks, addresses): tab and line breaks (LF; CRLF becomes
    /// LF) are kept. Every other text refuses them. No text holds control characters or
    /// invisible format characters (docs/customers.md).
    #[serde(default)]
    pub multiline: bool,
    /// Regular expression the whole (normalised) text must match.
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub allowed_values: Vec<String>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    /// Customer types for which the field is required.
    #[serde(default)]
    pub required_for: Vec<String>,
    /// Personal data (encrypted, masked).
    #[serde(default)]
    pub pii: bool,
    /// A change needs a reason.
    #[serde(default)]
    pub major: bool,
    #[serde(default)]
    pub help_zh: Option<String>,
    #[serde(default)]
    pub help_en: Option<String>,
    /// Built into custos (read-only).
    #[serde(default)]
    pub builtin: bool,
}

#[allow(clippy::too_many_arguments)]
fn b(
    key: &str,
    zh: &str,
    en: &str,
    t: FieldType,
    max_length: Option<usize>,
    required_for: &[&str],
    pii: bool,
    help: (&str, &str),
) -> FieldDefinition {
    FieldDefinition {
        key: key.into(),
        label_zh: zh.into(),
        label_en: en.into(),
        field_type: t,
        max_length,
        multiline: false,
        pattern: None,
        allowed_values: Vec::new(),
        min: None,
        max: None,
        required_for: required_for.iter().map(|s| s.to_string()).collect(),
        pii,
        major: crate::customers::record::MAJOR_FIELDS.contains(&key),
        help_zh: Some(help.0.into()),
        help_en: Some(help.1.into()),
        builtin: true,
    }
}

/// The Chinese and English labels of a built-in field of the catalog.
pub(crate) fn builtin_labels(key: &str) -> Option<&'static (String, String)> {
    static LABELS: std::sync::OnceLock<std::collections::HashMap<String, (String, String)>> =
        std::sync::OnceLock::new();
    LABELS
        .get_or_init(|| {
            builtin_fields()
                .into_iter()
                .map(|f| (f.key, (f.label_zh, f.label_en)))
                .collect()
        })
        .get(key)
}

/// The most characters the built-in field `key` may hold, as the catalog declares it
/// (customer validation reads its text limits here, so they are written once).
pub(crate) fn builtin_max_length(key: &str) -> Option<usize> {
    static MAX: std::sync::OnceLock<std::collections::HashMap<String, usize>> =
        std::sync::OnceLock::new();
    MAX.get_or_init(|| {
        builtin_fields()
            .into_iter()
            .filter_map(|f| Some((f.key, f.max_length?)))
            .collect()
    })
    .get(key)
    .copied()
}

/// The built-in fields as the catalog describes them.
pub fn builtin_fields() -> Vec<FieldDefinition> {
    use FieldType::*;
    let mut v = vec![
        b("customer_type", "客户类型", "Customer type", SingleSelect, None, &["enterprise", "individual"], false,
          ("企业客户、个人客户或管理员配置的类型", "enterprise, individual or a configured type")),
        b("name", "客户名称", "Name", Text, Some(200), &["enterprise", "individual"], false,
          ("保留录入原文；另存匹配键（简体、去法律形式）用于查询与查重", "kept as typed; a matching key (simplified, legal form removed) is stored for search and duplicate check")),
        b("short_name", "简称", "Short name", Text, Some(100), &[], false, ("", "")),
        b("former_names", "曾用名", "Former names", TextList, Some(200), &[], false, ("最多 20 个", "up to 20")),
        b("uscc", "统一社会信用代码", "Unified social credit code", Text, Some(18), &[], false,
          ("18 位，GB 32100-2015 字符集与校验位，登记管理机关行政区划码须存在", "18 characters, GB 32100-2015 alphabet and check character, known region")),
        b("id_number", "身份证号码", "ID number", Text, Some(18), &[], true,
          ("18 位，ISO 7064 MOD 11-2 校验位，出生日期有效；15 位旧号自动升级。个人客户须填身份证号或手机号", "18 characters, MOD 11-2 check digit, real birth date; 15-digit legacy numbers are upgraded. Individuals need an ID number or a mobile")),
        b("legal_representative", "法定代表人", "Legal representative", Text, Some(50), &[], false, ("", "")),
        b("established_on", "成立日期", "Established on", Date, None, &[], false, ("YYYY-MM-DD，不晚于今天", "YYYY-MM-DD, not in the future")),
        b("registered_capital", "注册资本（万元）", "Registered capital (10k CNY)", Number, None, &[], false, ("0 – 10000000000", "0 – 1e10")),
        b("industry", "行业", "Industry", SingleSelect, None, &[], false, ("GB/T 4754 门类字母或大类代码", "GB/T 4754 section letter or division code")),
        b("scale", "企业规模", "Scale", SingleSelect, None, &[], false, ("micro/small/medium/large", "micro/small/medium/large")),
        b("level", "客户等级", "Level", Text, Some(32), &[], false, ("", "")),
        b("source", "客户来源", "Source", Text, Some(64), &[], false, ("", "")),
        b("region_code", "行政区划代码", "Region code", Text, Some(6), &[], false, ("GB/T 2260 六位代码；省市区名称由此派生", "GB/T 2260 6-digit code; province/city/district names are derived")),
        b("address", "地址", "Address", Text, Some(300), &[], true, ("个人客户的地址按个人信息加密与脱敏", "encrypted and masked for individuals")),
        b("postal_code", "邮政编码", "Postal code", Text, Some(6), &[], false, ("6 位数字", "6 digits")),
        b("phone", "电话", "Phone", Text, Some(32), &[], true, ("手机、带区号固话或 400/800 号码", "mobile, landline with area code, or 400/800")),
        b("mobile", "手机", "Mobile", Text, Some(11), &[], true, ("1[3-9] 开头 11 位，可带 +86", "11 digits starting 13–19, +86 allowed")),
        b("email", "电子邮箱", "E-mail", Text, Some(254), &[], true, ("", "")),
        b("website", "网址", "Website", Text, Some(300), &[], false, ("", "")),
        b("owner_id", "负责人", "Owner", Number, None, &[], false, ("用户编号，默认为创建人", "user id, defaults to the creator")),
        b("department_id", "所属部门", "Department", Number, None, &[], false, ("默认为负责人所在部门", "defaults to the owner's department")),
        b("status", "状态", "Status", SingleSelect, None, &[], false, ("pending/active/dormant", "pending/active/dormant")),
        b("tags", "标签", "Tags", TextList, Some(32), &[], false, ("最多 50 个", "up to 50")),
        b("credit_rating", "信用等级", "Credit rating", Text, Some(16), &[], false, ("", "")),
        b("remarks", "备注", "Remarks", Text, Some(2000), &[], false, ("", "")),
        b("contacts", "联系人", "Contacts", Contacts, None, &[], true,
          ("姓名、职务、手机、电话、邮箱、是否主联系人（至多一个）", "name, title, mobile, phone, e-mail, is_primary (at most one)")),
    ];
    for f in &mut v {
        match f.key.as_str() {
            "scale" => {
                f.allowed_values = crate::customers::record::SCALES
                    .iter()
                    .map(|s| s.0.to_string())
                    .collect()
            }
            "status" => {
                f.allowed_values = crate::customers::record::EDITABLE_STATUSES
                    .iter()
                    .map(|s| s.to_string())
                    .collect()
            }
            "customer_type" => f.required_for = vec!["*".into()],
            "name" => f.required_for = vec!["*".into()],
            "registered_capital" => {
                f.min = Some(0.0);
                f.max = Some(1.0e10);
            }
            "postal_code" => f.pattern = Some("[0-9]{6}".into()),
            "address" | "remarks" => f.multiline = true,
            "mobile" => f.pattern = Some("1[3-9][0-9]{9}".into()),
            _ => {}
        }
        if f.help_zh.as_deref() == Some("") {
            f.help_zh = None;
            f.help_en = None;
        }
    }
    v
}

/// How many lines a field may hold, from the catalog: built-in `key`s by their
/// definition, `custom.<key>` by the administrator's; unknown fields are single-line.
pub(crate) fn lines_of(key: &str, custom: &[FieldDefinition]) -> Lines {
    static MULTILINE: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    let multiline = match key.strip_prefix("custom.") {
        Some(k) => custom.iter().any(|d| d.key == k && d.multiline),
        None => MULTILINE
            .get_or_init(|| {
                builtin_fields()
                    .into_iter()
                    .filter(|f| f.multiline)
                    .map(|f| f.key)
                    .collect()
            })
            .iter()
            .any(|k| k == key),
    };
    if multiline {
        Lines::Multi
    } else {
        Lines::Single
    }
}

pub(crate) async fn load_definitions(tx: &mut Tx) -> AppResult<Vec<FieldDefinition>> {
    let rows = tx.field_definitions().await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let d: FieldDefinition = serde_json::from_str(&r.definition).map_err(|e| {
            AppError::Internal(format!("field definition {} unreadable: {e}", r.key))
        })?;
        out.push(d);
    }
    Ok(out)
}

/// Most custom values one customer may be given (more than the catalog defines is an
/// error anyway; the bound keeps the work of reporting them small).
pub(crate) const MAX_CUSTOM_VALUES: usize = 200;

/// Most allowed values of a select field (each value given is compared with them).
const MAX_ALLOWED_VALUES: usize = 500;

/// Most items of one custom list value (a multi-select).
pub(crate) const MAX_CUSTOM_LIST: usize = 100;

fn custom_error(key: &str, code: &str, zh: String, en: String) -> FieldError {
    Violation::new(code, zh, en).on(format!("custom.{key}"))
}

fn full_match(pattern: &str, text: &str) -> bool {
    regex::Regex::new(&format!("^(?:{pattern})$"))
        .map(|r| r.is_match(text))
        .unwrap_or(false)
}

/// Validate custom values against their definitions; returns the normalised values.
pub(crate) fn validate_custom(
    defs: &[FieldDefinition],
    customer_type: &str,
    values: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Map<String, Value> {
    let mut out = Map::new();
    // Limits before work: every value is looked up, normalised and maybe reported.
    if too_many_values(defs, values, errors) {
        return out;
    }
    for (key, value) in values {
        let Some(def) = defs.iter().find(|d| &d.key == key) else {
            errors.push(custom_error(
                key,
                "field.unknown",
                format!("自定义字段“{key}”未在字段目录中定义"),
                format!("custom field '{key}' is not defined in the field catalog"),
            ));
            continue;
        };
        if value.is_null() {
            continue;
        }
        if let Some(v) = custom_value(def, key, value, errors) {
            out.insert(key.clone(), v);
        }
    }
    required_missing(defs, customer_type, &out, errors);
    out
}

/// More custom values than may be given (the catalog's size, at least
/// [`MAX_CUSTOM_VALUES`]): reported, and nothing else is worth checking.
fn too_many_values(
    defs: &[FieldDefinition],
    values: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> bool {
    let max_values = MAX_CUSTOM_VALUES.max(defs.len());
    if values.len() <= max_values {
        return false;
    }
    errors.push(
        Violation::new(
            "list.too_long",
            format!(
                "自定义字段值最多 {max_values} 个（当前 {} 个）",
                values.len()
            ),
            format!("at most {max_values} custom values (has {})", values.len()),
        )
        .on("custom"),
    );
    true
}

/// The custom value `key` is not of the type its definition says.
fn type_error(key: &str, value: &Value, expected_zh: &str, expected_en: &str) -> FieldError {
    custom_error(
        key,
        "field.type",
        format!("自定义字段“{key}”应为{expected_zh}（{value}）"),
        format!("custom field '{key}' must be {expected_en} ({value})"),
    )
}

/// One custom value (not null) checked against its definition `def` and normalised;
/// `None` when it fails (the failure reported).
pub(crate) fn custom_value(
    def: &FieldDefinition,
    key: &str,
    value: &Value,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    match def.field_type {
        FieldType::Text | FieldType::SingleSelect => match value.as_str() {
            Some(s) => custom_text(def, key, s, errors).map(Value::String),
            None => {
                errors.push(type_error(key, value, "文本", "a text"));
                None
            }
        },
        FieldType::Number => custom_number(def, key, value, errors),
        FieldType::Date => match value
            .as_str()
            .map(normalize_text)
            .and_then(|s| chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d").ok())
        {
            Some(d) => Some(Value::String(d.format("%Y-%m-%d").to_string())),
            None => {
                errors.push(type_error(
                    key,
                    value,
                    "日期 YYYY-MM-DD",
                    "a date YYYY-MM-DD",
                ));
                None
            }
        },
        FieldType::Boolean => match value.as_bool() {
            Some(_) => Some(value.clone()),
            None => {
                errors.push(type_error(key, value, "true 或 false", "true or false"));
                None
            }
        },
        FieldType::MultiSelect | FieldType::TextList => custom_list(def, key, value, errors),
        FieldType::Contacts => None,
    }
}

/// A custom text normalised (line by line if multi-line) and checked against the
/// definition's length, pattern and allowed values.
fn custom_text(
    def: &FieldDefinition,
    key: &str,
    s: &str,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let t = if def.multiline {
        normalize_multiline_text(s)
    } else {
        normalize_text(s)
    };
    if let Some(max) = def.max_length {
        let n = t.chars().count();
        if n > max {
            errors.push(custom_error(
                key,
                "length.max",
                format!("自定义字段“{key}”不能超过 {max} 个字符（当前 {n} 个）"),
                format!("custom field '{key}' must not exceed {max} characters (has {n})"),
            ));
            return None;
        }
    }
    if let Some(p) = &def.pattern {
        if !full_match(p, &t) {
            errors.push(custom_error(
                key,
                "pattern.mismatch",
                format!("自定义字段“{key}”的值“{t}”不符合格式 {p}"),
                format!("custom field '{key}' value '{t}' does not match {p}"),
            ));
            return None;
        }
    }
    if !def.allowed_values.is_empty() && !def.allowed_values.contains(&t) {
        errors.push(custom_error(
            key,
            "value.not_allowed",
            format!(
                "自定义字段“{key}”的取值“{t}”不在允许范围内：{}",
                def.allowed_values.join("、")
            ),
            format!(
                "custom field '{key}' value '{t}' is not allowed; choose one of {}",
                def.allowed_values.join(", ")
            ),
        ));
        return None;
    }
    Some(t)
}

/// A custom number inside the definition's range.
fn custom_number(
    def: &FieldDefinition,
    key: &str,
    value: &Value,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let Some(n) = value.as_f64() else {
        errors.push(type_error(key, value, "数字", "a number"));
        return None;
    };
    let lo = def.min.unwrap_or(f64::MIN);
    let hi = def.max.unwrap_or(f64::MAX);
    if n < lo || n > hi {
        errors.push(custom_error(
            key,
            "number.range",
            format!("自定义字段“{key}”的值 {n} 超出范围 [{lo}, {hi}]"),
            format!("custom field '{key}' value {n} is outside [{lo}, {hi}]"),
        ));
        None
    } else {
        Some(value.clone())
    }
}

/// A custom list of texts: at most [`MAX_CUSTOM_LIST`] items, each checked like a text.
fn custom_list(
    def: &FieldDefinition,
    key: &str,
    value: &Value,
    errors: &mut Vec<FieldError>,
) -> Option<Value> {
    let Some(items) = value.as_array() else {
        errors.push(type_error(key, value, "文本列表", "a list of texts"));
        return None;
    };
    if items.len() > MAX_CUSTOM_LIST {
        errors.push(custom_error(
            key,
            "list.too_long",
            format!(
                "自定义字段“{key}”最多 {MAX_CUSTOM_LIST} 项（当前 {} 项）",
                items.len()
            ),
            format!(
                "custom field '{key}' holds at most {MAX_CUSTOM_LIST} items (has {})",
                items.len()
            ),
        ));
        return None;
    }
    let mut list = Vec::new();
    let mut ok = true;
    for item in items {
        match item.as_str().and_then(|s| custom_text(def, key, s, errors)) {
            Some(t) => list.push(Value::String(t)),
            None => ok = false,
        }
    }
    if ok {
        Some(Value::Array(list))
    } else {
        if !items.iter().all(Value::is_string) {
            errors.push(type_error(key, value, "文本列表", "a list of texts"));
        }
        None
    }
}

/// Every field required for `customer_type` that has no value (and no error already).
fn required_missing(
    defs: &[FieldDefinition],
    customer_type: &str,
    out: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) {
    for def in defs {
        let needed = def
            .required_for
            .iter()
            .any(|t| t == customer_type || t == "*");
        if needed
            && !out.contains_key(&def.key)
            && !errors
                .iter()
                .any(|e| e.field == format!("custom.{}", def.key))
        {
            errors.push(custom_error(
                &def.key,
                "required",
                format!("自定义字段“{}”为必填项（{}）", def.label_zh, def.key),
                format!("custom field '{}' is required ({})", def.label_en, def.key),
            ));
        }
    }
}

/// (key, value) pairs for equality search of custom values.
pub(crate) fn index_values(custom: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in custom {
        match v {
            Value::Array(items) => {
                for i in items {
                    if let Some(s) = scalar_text(i) {
                        out.push((k.clone(), s));
                    }
                }
            }
            other => {
                if let Some(s) = scalar_text(other) {
                    out.push((k.clone(), s));
                }
            }
        }
    }
    out
}

/// The text a scalar value is searched by.
pub fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The use cases of the field catalog: built-in and custom fields; `App::fields` gives it out.
pub struct Fields<'a> {
    pub(crate) app: &'a crate::App,
}

impl Fields<'_> {
    /// The field catalog: built-ins then custom fields (`customer.read`).
    pub async fn list_fields(&self, actor: &Actor) -> AppResult<Vec<FieldDefinition>> {
        actor.require("customer.read")?;
        let mut tx = self.app.db.begin_read().await?;
        let custom = load_definitions(&mut tx).await?;
        tx.rollback().await?;
        let mut all = builtin_fields();
        all.extend(custom);
        Ok(all)
    }

    /// Add or replace a custom field (`field.manage`).
    pub async fn put_field(
        &self,
        actor: &Actor,
        def: impl Into<crate::input::Input<FieldDefinition>>,
    ) -> AppResult<FieldDefinition> {
        self.save_field(actor, def.into(), false).await
    }

    /// Add a new custom field (`field.manage`); a key already defined is refused, so a
    /// form meant for a new field never replaces one.
    pub async fn add_field(
        &self,
        actor: &Actor,
        def: impl Into<crate::input::Input<FieldDefinition>>,
    ) -> AppResult<FieldDefinition> {
        self.save_field(actor, def.into(), true).await
    }

    async fn save_field(
        &self,
        actor: &Actor,
        def: crate::input::Input<FieldDefinition>,
        new_only: bool,
    ) -> AppResult<FieldDefinition> {
        actor.require("field.manage")?;
        let mut def = def.get()?;
        crate::text_input::refuse_in("", &def)?;
        def.key = def.key.trim().to_string();
        let errors = definition_errors(&def);
        def.builtin = false;
        def.major = false;
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut tx = self.app.db.begin().await?;
        let before = load_definitions(&mut tx)
            .await?
            .into_iter()
            .find(|d| d.key == def.key);
        if new_only && before.is_some() {
            tx.rollback().await?;
            return Err(AppError::Validation(vec![Violation::new(
                "field.exists",
                format!("字段“{}”已存在，请修改该字段或换一个标识", def.key),
                format!(
                    "field '{}' exists already; change it or choose another key",
                    def.key
                ),
            )
            .on("key")]));
        }
        let now = now_us();
        tx.upsert_field_definition(&FieldDefinitionRow {
            key: def.key.clone(),
            definition: serde_json::to_string(&def).unwrap_or_default(),
            created_at: now,
            updated_at: now,
        })
        .await?;
        let mut r = record(actor, "field.put", "field", &def.key);
        r.before = before.as_ref().and_then(to_json);
        r.after = to_json(&def);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(def)
    }
}

/// What is wrong with the key of a custom field: not snake_case (≤40), or a built-in's.
fn key_errors(key: &str, errors: &mut Vec<FieldError>) {
    let key_ok = (1..=40).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !key_ok {
        errors.push(
            Violation::new(
                "field.key",
                format!("字段标识“{key}”须为小写字母开头的 snake_case（≤40）"),
                format!("field key '{key}' must be snake_case starting with a letter (≤40)"),
            )
            .on("key"),
        );
    }
    if builtin_fields().iter().any(|b| b.key == key) {
        errors.push(
            Violation::new(
                "field.builtin",
                format!("“{key}”是内置字段，不能重新定义"),
                format!("'{key}' is a built-in field and cannot be redefined"),
            )
            .on("key"),
        );
    }
}

/// Every error of a custom field definition (its key trimmed): key, labels, type,
/// allowed values, multi-line, pattern and personal data.
pub(crate) fn definition_errors(def: &FieldDefinition) -> Vec<FieldError> {
    let mut errors = Vec::new();
    key_errors(&def.key, &mut errors);
    if def.label_zh.trim().is_empty() {
        errors.push(
            Violation::new("required", "中文名称为必填项", "label_zh is required").on("label_zh"),
        );
    }
    if def.label_en.trim().is_empty() {
        errors.push(
            Violation::new("required", "英文名称为必填项", "label_en is required").on("label_en"),
        );
    }
    if matches!(def.field_type, FieldType::Contacts | FieldType::TextList) {
        errors.push(
            Violation::new(
                "field.type",
                "自定义字段类型须为 text、number、date、single_select、multi_select 或 boolean",
                "custom field type must be text, number, date, single_select, multi_select or boolean",
            )
            .on("type"),
        );
    }
    if matches!(
        def.field_type,
        FieldType::SingleSelect | FieldType::MultiSelect
    ) && def.allowed_values.is_empty()
    {
        errors.push(
            Violation::new(
                "field.allowed_values",
                "选择类字段须列出可选值",
                "select fields need allowed_values",
            )
            .on("allowed_values"),
        );
    }
    if def.allowed_values.len() > MAX_ALLOWED_VALUES {
        errors.push(
            Violation::new(
                "list.too_long",
                format!(
                    "可选值最多 {MAX_ALLOWED_VALUES} 个（当前 {} 个）",
                    def.allowed_values.len()
                ),
                format!(
                    "at most {MAX_ALLOWED_VALUES} allowed values (has {})",
                    def.allowed_values.len()
                ),
            )
            .on("allowed_values"),
        );
    }
    if def.multiline && def.field_type != FieldType::Text {
        errors.push(
            Violation::new(
                "field.multiline",
                "只有文本字段可以是多行文本",
                "only text fields can be multi-line",
            )
            .on("multiline"),
        );
    }
    if let Some(p) = &def.pattern {
        if regex::Regex::new(p).is_err() {
            errors.push(
                Violation::new(
                    "field.pattern",
                    format!("格式“{p}”不是有效的正则表达式"),
                    format!("pattern '{p}' is not a valid regular expression"),
                )
                .on("pattern"),
            );
        }
    }
    if def.pii {
        errors.push(
            Violation::new(
                "field.pii_unsupported",
                "自定义字段暂不支持个人信息（加密存储）；请勿在自定义字段中保存个人信息",
                "custom fields cannot hold personal data yet (no encryption for them)",
            )
            .on("pii"),
        );
    }
    errors
}
