//! From a file's columns to customer fields: Chinese and English headers recognised by
//! default, a mapping file (TOML) for anything else, value maps and constant defaults.

mod convert;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use custos_core::normalize::to_half_width;
use custos_core::Violation;

use super::source::{bad_file, header_key};
use crate::customers::CustomerType;
use crate::error::AppResult;
use crate::fields::FieldDefinition;

pub use super::columns::{BUILTIN_COLUMNS, REASON_PREFIX, ROW_COLUMN, WHOLE_ROW};

/// Most entries of a mapping file (columns, defaults and value maps together).
pub const MAX_MAPPING_ENTRIES: usize = 10_000;

/// A mapping file (`mapping.toml`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MappingSpec {
    /// Header → target (`name`, `contact.mobile`, `custom.<key>`, `ignore`…).
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Target → (source value → stored value), e.g. `level = { 潜在客户 = "新客户" }`.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// Target → constant used when the row has no value.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// System whose ids are in the `source_id` column (update policy, cross-references).
    #[serde(default)]
    pub source_system: Option<String>,
}

impl MappingSpec {
    pub fn parse(text: &str) -> AppResult<MappingSpec> {
        let spec: MappingSpec = toml::from_str(text).map_err(|e| {
            crate::error::AppError::validation(
                "mapping",
                Violation::new(
                    "import.mapping_invalid",
                    format!("映射文件格式错误：{e}"),
                    format!("the mapping file is invalid: {e}"),
                ),
            )
        })?;
        spec.checked()
    }

    /// The mapping if within the limits and its texts are acceptable (a mapping built
    /// from a form is checked as a parsed one).
    pub fn checked(self) -> AppResult<MappingSpec> {
        let spec = self;
        // Limits before work: every header is compared with the mapped ones, every cell
        // looked up in the value maps.
        let entries = spec.columns.len()
            + spec.defaults.len()
            + spec.values.values().map(BTreeMap::len).sum::<usize>();
        if entries > MAX_MAPPING_ENTRIES {
            return Err(mapping_error(
                format!("映射文件最多 {MAX_MAPPING_ENTRIES} 项（当前 {entries} 项）"),
                format!(
                    "the mapping file holds at most {MAX_MAPPING_ENTRIES} entries (has {entries})"
                ),
            ));
        }
        // TOML escapes (`\u0000`) decode to anything: its texts are checked like a request's.
        crate::text_input::refuse_in("mapping", &spec)?;
        Ok(spec)
    }
}

/// How one column is used.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ColumnUse {
    pub header: String,
    /// The target field, or none for an unknown column.
    pub field: Option<String>,
}

/// Columns of a file resolved to targets.
#[derive(Debug, Clone)]
pub struct ColumnMap {
    pub headers: Vec<String>,
    pub targets: Vec<Option<String>>,
    pub spec: MappingSpec,
    types: Vec<CustomerType>,
    custom: Vec<FieldDefinition>,
}

fn known_target(t: &str, custom: &[FieldDefinition]) -> bool {
    t == "ignore"
        || BUILTIN_COLUMNS.iter().any(|(k, _)| *k == t)
        || t.strip_prefix("custom.")
            .is_some_and(|k| custom.iter().any(|d| d.key == k))
}

/// Target of a header by default (built-in aliases, custom fields' keys and labels).
fn default_target(h: &str, custom: &[FieldDefinition]) -> Option<String> {
    let k = header_key(h);
    if k.is_empty() {
        return None;
    }
    if k.starts_with(&header_key(REASON_PREFIX)) || k == header_key(ROW_COLUMN) {
        return Some("ignore".into());
    }
    for (t, aliases) in BUILTIN_COLUMNS {
        if aliases.iter().any(|a| header_key(a) == k) {
            return Some(t.to_string());
        }
    }
    custom
        .iter()
        .find(|d| {
            header_key(&d.key) == k
                || header_key(&d.label_zh) == k
                || header_key(&d.label_en) == k
                || header_key(&format!("custom.{}", d.key)) == k
        })
        .map(|d| format!("custom.{}", d.key))
}

/// The target a header gets without a mapping (what the mapping step preselects).
pub fn auto_target(h: &str, custom: &[FieldDefinition]) -> Option<String> {
    default_target(h, custom)
}

/// Whether a header names something (used to find the header row).
pub fn is_known_header(h: &str, spec: &MappingSpec, custom: &[FieldDefinition]) -> bool {
    spec.columns.keys().any(|c| header_key(c) == h) || default_target(h, custom).is_some()
}

fn mapping_error(zh: String, en: String) -> crate::error::AppError {
    crate::error::AppError::validation("mapping", Violation::new("import.mapping_invalid", zh, en))
}

impl ColumnMap {
    pub fn new(
        headers: Vec<String>,
        spec: MappingSpec,
        types: Vec<CustomerType>,
        custom: Vec<FieldDefinition>,
    ) -> AppResult<ColumnMap> {
        for t in spec
            .columns
            .values()
            .chain(spec.values.keys())
            .chain(spec.defaults.keys())
        {
            if !known_target(t, &custom) {
                return Err(mapping_error(
                    format!("映射文件中的目标字段“{t}”不存在"),
                    format!("target field '{t}' in the mapping file does not exist"),
                ));
            }
        }
        let mut targets = Vec::with_capacity(headers.len());
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        // Header keys of the mapped columns, computed once (first in key order wins, as a
        // search through the map would find).
        let mut by_key: std::collections::HashMap<String, &String> =
            std::collections::HashMap::with_capacity(spec.columns.len());
        for (c, t) in &spec.columns {
            by_key.entry(header_key(c)).or_insert(t);
        }
        for (i, h) in headers.iter().enumerate() {
            // A merged header cell is spread over the columns it covers: the copies
            // name no field of their own.
            if i > 0 && !h.is_empty() && headers[i - 1] == *h {
                targets.push(Some("ignore".to_string()));
                continue;
            }
            let by_spec = by_key.get(&header_key(h)).map(|t| (*t).clone());
            let t = by_spec.or_else(|| default_target(h, &custom));
            if let Some(t) = &t {
                if t != "ignore" {
                    if let Some(other) = seen.insert(t.clone(), h.clone()) {
                        return Err(bad_file(
                            "import.column_duplicate",
                            format!("列“{other}”和“{h}”都对应字段 {t}，请在映射文件中指定其一"),
                            format!(
                                "columns '{other}' and '{h}' both map to field {t}; choose one in the mapping file"
                            ),
                        ));
                    }
                }
            }
            targets.push(t);
        }
        let map = ColumnMap {
            headers,
            targets,
            spec,
            types,
            custom,
        };
        if !map.has_target("name") && !map.spec.defaults.contains_key("name") {
            return Err(bad_file(
                "import.column_missing",
                "缺少必需列：客户名称（name）；若表头不同，请用映射文件指定",
                "required column missing: name (客户名称); map it in a mapping file if the header differs",
            ));
        }
        Ok(map)
    }

    pub fn has_target(&self, t: &str) -> bool {
        self.targets.iter().any(|x| x.as_deref() == Some(t))
    }

    /// Column index of a target.
    pub fn column_of(&self, t: &str) -> Option<usize> {
        self.targets.iter().position(|x| x.as_deref() == Some(t))
    }

    pub fn uses(&self) -> Vec<ColumnUse> {
        self.headers
            .iter()
            .zip(&self.targets)
            .map(|(h, t)| ColumnUse {
                header: h.clone(),
                field: t.clone(),
            })
            .collect()
    }

    /// Headers no mapping recognises (reported, their cells not imported).
    pub fn unknown(&self) -> Vec<String> {
        self.headers
            .iter()
            .zip(&self.targets)
            .filter(|(h, t)| t.is_none() && !h.trim().is_empty())
            .map(|(h, _)| h.clone())
            .collect()
    }

    /// Header of the column a failing field came from (`contacts[0].mobile` → 联系人手机);
    /// for a field no column maps, its Chinese label in the catalog (`customer_type` →
    /// 客户类型), else the field itself.
    pub fn header_of_field(&self, field: &str) -> String {
        if field == "row" {
            return WHOLE_ROW.to_string();
        }
        let target = if let Some(rest) = field.strip_prefix("contacts[") {
            rest.split_once("].")
                .map(|(_, f)| format!("contact.{f}"))
                .unwrap_or_else(|| "contact.name".into())
        } else if let Some(k) = field.strip_prefix("custom.") {
            format!("custom.{k}")
        } else {
            field.split('[').next().unwrap_or(field).to_string()
        };
        self.column_of(&target)
            .and_then(|i| self.headers.get(i).cloned())
            .or_else(|| crate::fields::builtin_labels(&target).map(|(zh, _)| zh.clone()))
            .unwrap_or_else(|| field.to_string())
    }

    /// Whether a row is the import template's help row (see `columns::template_help`):
    /// people filling in the template often keep it, and it is no customer. Every filled
    /// cell of a mapped column holds the template's help text for that column, and at
    /// least two do.
    pub fn is_template_help_row(&self, cells: &[String]) -> bool {
        let mut matched = 0;
        for (cell, target) in cells.iter().zip(&self.targets) {
            let cell = cell.trim();
            let Some(t) = target.as_deref().filter(|t| *t != "ignore") else {
                continue;
            };
            if cell.is_empty() {
                continue;
            }
            match super::columns::template_help(t, &self.custom) {
                Some(h) if h == cell => matched += 1,
                _ => return false,
            }
        }
        matched >= 2
    }

    /// Value of a target in a row: the cell after the value map, else the default.
    pub fn value(&self, cells: &[String], target: &str) -> Option<String> {
        let raw = self
            .column_of(target)
            .and_then(|i| cells.get(i))
            .map(|c| c.trim())
            .filter(|c| !c.is_empty());
        match raw {
            Some(v) => {
                let mapped = self
                    .spec
                    .values
                    .get(target)
                    .and_then(|m| m.get(v).or_else(|| m.get(&to_half_width(v))))
                    .cloned();
                Some(mapped.unwrap_or_else(|| v.to_string()))
            }
            None => self.spec.defaults.get(target).cloned(),
        }
    }
}

/// Serialise the cells of a row for the reports.
pub fn cells_json(cells: &[String]) -> String {
    serde_json::to_string(cells).unwrap_or_else(|_| "[]".into())
}
