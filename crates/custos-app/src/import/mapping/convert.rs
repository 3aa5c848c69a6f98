//! From a row's cells to the customer it describes: cells over the size limit, cells
//! without a header, text fields with their labels turned into keys, numbers, the
//! contact and the custom fields.

use std::borrow::Cow;

use serde_json::{Map, Value};

use custos_core::normalize::to_half_width;
use custos_core::{region, FieldError, Violation};

use super::ColumnMap;
use crate::customers::{ContactInput, CustomerStatus, NewCustomer, SCALES};
use crate::fields::FieldType;
use crate::import::source::{self, header_key, MAX_CELL_CHARS};

impl ColumnMap {
    /// The customer a row describes, and the problems found converting it (other
    /// problems are found by the create use case).
    pub fn to_input(&self, cells: &[String]) -> (NewCustomer, Vec<FieldError>) {
        let mut errors = Vec::new();
        let cells = self.cells_within_limit(cells, &mut errors);
        let cells = &cells[..];
        self.check_cells_without_header(cells, &mut errors);
        let mut n = self.text_fields(cells);
        self.number_fields(cells, &mut n, &mut errors);
        if let Some(contact) = self.contact(cells) {
            n.contacts.push(contact);
        }
        n.custom = self.custom_values(cells);
        (n, errors)
    }

    /// The row's cells, with those over [`MAX_CELL_CHARS`] emptied and reported (the
    /// cells as they are when none is).
    fn cells_within_limit<'c>(
        &self,
        cells: &'c [String],
        errors: &mut Vec<FieldError>,
    ) -> Cow<'c, [String]> {
        if !cells.iter().any(|c| c.chars().count() > MAX_CELL_CHARS) {
            return Cow::Borrowed(cells);
        }
        let mut trimmed: Vec<String> = Vec::new();
        for (i, c) in cells.iter().enumerate() {
            if c.chars().count() > MAX_CELL_CHARS {
                let h = self
                    .headers
                    .get(i)
                    .cloned()
                    .unwrap_or_else(|| format!("#{}", i + 1));
                let field = self
                    .targets
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or_else(|| h.clone());
                errors.push(
                    Violation::new(
                        "import.cell_too_long",
                        format!("列“{h}”的内容超过 {MAX_CELL_CHARS} 个字符"),
                        format!("column '{h}' has more than {MAX_CELL_CHARS} characters"),
                    )
                    .on(&field),
                );
                trimmed.push(String::new());
            } else {
                trimmed.push(c.clone());
            }
        }
        Cow::Owned(trimmed)
    }

    /// A value right of the last header belongs to no column: in a CSV file the usual
    /// cause is an unquoted comma that shifted the row's cells, so the row is refused
    /// rather than imported with values under the wrong headers.
    fn check_cells_without_header(&self, cells: &[String], errors: &mut Vec<FieldError>) {
        if let Some((i, extra)) = cells
            .iter()
            .enumerate()
            .skip(self.headers.len())
            .find(|(_, c)| !c.trim().is_empty())
        {
            let shown: String = extra.trim().chars().take(24).collect();
            errors.push(
                Violation::new(
                    "import.cell_without_header",
                    format!(
                        "第 {} 列没有表头，却有内容“{shown}”：该行各列可能错位（例如值中有未加引号的逗号），请补上表头或移走该内容",
                        i + 1
                    ),
                    format!(
                        "column {} has no header but holds '{shown}': the row's cells may be shifted (an unquoted comma in a value?); add a header or move the value",
                        i + 1
                    ),
                )
                .on("row"),
            );
        }
    }

    /// The row's text fields (lists split, labels turned into keys).
    fn text_fields(&self, cells: &[String]) -> NewCustomer {
        let v = |t: &str| self.value(cells, t);
        NewCustomer {
            customer_type: v("customer_type")
                .map(|s| self.customer_type_key(&s))
                .unwrap_or_default(),
            name: v("name").unwrap_or_default(),
            short_name: v("short_name"),
            former_names: v("former_names")
                .map(|s| split_list(&s))
                .unwrap_or_default(),
            uscc: v("uscc"),
            id_number: v("id_number"),
            legal_representative: v("legal_representative"),
            established_on: v("established_on").map(|s| date_text(&s)),
            industry: v("industry"),
            scale: v("scale").map(|s| label_key(&s, SCALES)),
            level: v("level"),
            source: v("source"),
            region_code: v("region_code").map(|s| region_code_of(&s)),
            address: v("address"),
            postal_code: v("postal_code"),
            phone: v("phone"),
            mobile: v("mobile"),
            email: v("email"),
            website: v("website"),
            status: v("status").map(|s| status_key(&s)),
            tags: v("tags").map(|s| split_list(&s)).unwrap_or_default(),
            credit_rating: v("credit_rating"),
            remarks: v("remarks"),
            code: v("code"),
            ..Default::default()
        }
    }

    /// The row's numbers (registered capital, owner and department ids); a cell that is
    /// not a number is reported.
    fn number_fields(&self, cells: &[String], n: &mut NewCustomer, errors: &mut Vec<FieldError>) {
        let v = |t: &str| self.value(cells, t);
        if let Some(s) = v("registered_capital") {
            let t = to_half_width(&s)
                .replace([',', '，', ' '], "")
                .trim_end_matches("万元")
                .trim_end_matches('万')
                .to_string();
            match t.parse::<f64>() {
                Ok(f) if f.is_finite() => n.registered_capital = Some(f),
                _ => errors.push(not_number("registered_capital", &s)),
            }
        }
        for (field, slot) in [("owner_id", &mut n.owner_id)] {
            if let Some(s) = v(field) {
                match s.parse::<i64>() {
                    Ok(i) => *slot = Some(i),
                    Err(_) => errors.push(not_number(field, &s)),
                }
            }
        }
        if let Some(s) = v("department_id") {
            match s.parse::<i64>() {
                Ok(i) => n.department_id = Some(i),
                Err(_) => errors.push(not_number("department_id", &s)),
            }
        }
    }

    /// The row's contact (the primary one), when it has any contact cell.
    fn contact(&self, cells: &[String]) -> Option<ContactInput> {
        let v = |t: &str| self.value(cells, t);
        let contact = ContactInput {
            name: v("contact.name"),
            title: v("contact.title"),
            mobile: v("contact.mobile"),
            phone: v("contact.phone"),
            email: v("contact.email"),
            is_primary: None,
        };
        let any = contact.name.is_some()
            || contact.title.is_some()
            || contact.mobile.is_some()
            || contact.phone.is_some()
            || contact.email.is_some();
        any.then_some(ContactInput {
            is_primary: Some(true),
            ..contact
        })
    }

    /// The row's custom fields, typed by their definitions.
    fn custom_values(&self, cells: &[String]) -> Map<String, Value> {
        let mut custom = Map::new();
        for d in &self.custom {
            let t = format!("custom.{}", d.key);
            if let Some(s) = self.value(cells, &t) {
                custom.insert(d.key.clone(), custom_value(d.field_type, s));
            }
        }
        custom
    }

    fn customer_type_key(&self, s: &str) -> String {
        let k = header_key(s);
        for t in &self.types {
            if header_key(&t.key) == k
                || header_key(&t.label_zh) == k
                || header_key(&t.label_en) == k
            {
                return t.key.clone();
            }
        }
        match k.as_str() {
            "企业" | "公司" | "单位" | "法人" => "enterprise".into(),
            "个人" | "自然人" => "individual".into(),
            _ => s.to_string(),
        }
    }
}

/// A custom field's value from its cell: numbers, yes/no, lists and dates typed, the
/// text as it is otherwise (and when it does not read as its type).
fn custom_value(field_type: FieldType, s: String) -> Value {
    match field_type {
        FieldType::Number => match to_half_width(&s).replace(',', "").parse::<f64>() {
            Ok(f) => serde_json::Number::from_f64(f)
                .map(Value::Number)
                .unwrap_or(Value::String(s)),
            Err(_) => Value::String(s),
        },
        FieldType::Boolean => match s.to_lowercase().as_str() {
            "是" | "true" | "yes" | "y" | "1" => Value::Bool(true),
            "否" | "false" | "no" | "n" | "0" => Value::Bool(false),
            _ => Value::String(s),
        },
        FieldType::MultiSelect | FieldType::TextList => {
            Value::Array(split_list(&s).into_iter().map(Value::String).collect())
        }
        FieldType::Date => Value::String(date_text(&s)),
        _ => Value::String(s),
    }
}

fn not_number(field: &str, s: &str) -> FieldError {
    Violation::new(
        "number.format",
        format!("字段“{field}”应为数字（{s}）"),
        format!("field '{field}' must be a number ({s})"),
    )
    .on(field)
}

fn split_list(s: &str) -> Vec<String> {
    s.split([';', '；', ',', '，', '、', '|'])
        .map(str::trim)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
        .collect()
}

fn label_key(s: &str, table: &[(&str, &str, &str)]) -> String {
    let k = header_key(s);
    table
        .iter()
        .find(|(key, zh, en)| header_key(key) == k || header_key(zh) == k || header_key(en) == k)
        .map(|(key, _, _)| key.to_string())
        .unwrap_or_else(|| s.to_string())
}

fn status_key(s: &str) -> String {
    match header_key(s).as_str() {
        "待审核" | "待定" | "待审" | "pending" => CustomerStatus::Pending.as_str().into(),
        "正常" | "活跃" | "有效" | "启用" | "active" => {
            CustomerStatus::Active.as_str().into()
        }
        "休眠" | "沉睡" | "不活跃" | "dormant" => CustomerStatus::Dormant.as_str().into(),
        _ => s.to_string(),
    }
}

/// Dates as people type them: Excel serial numbers, `2020年1月5日`, `20200105`, `2020/1/5`.
fn date_text(s: &str) -> String {
    let t = to_half_width(s.trim());
    if let Ok(f) = t.parse::<f64>() {
        if (1.0..100_000.0).contains(&f) && !(t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()))
        {
            if let Some(d) = source::excel_serial_date(f.floor()) {
                return d;
            }
        }
    }
    if t.len() == 8 && t.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{}-{}-{}", &t[..4], &t[4..6], &t[6..]);
    }
    let t = t
        .replace(['年', '月'], "-")
        .replace('日', "")
        .replace(['/', '.'], "-");
    // `2020-01-05 00:00:00` from a date-time cell.
    t.split_whitespace().next().unwrap_or("").to_string()
}

/// A region as a 6-digit code or a name (`广东省深圳市南山区` → 440305).
fn region_code_of(s: &str) -> String {
    let t = to_half_width(s.trim());
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t;
    }
    let mut code: Option<&'static str> = None;
    let mut rest: &str = &t;
    loop {
        let (found, r) = match code {
            None => {
                let (f, r) = region::strip_region_prefix(rest);
                (f.map(|x| x.code), r)
            }
            Some(parent) => {
                // Municipalities have a 市辖区 level between the city and its districts.
                let mut candidates = region::children(parent);
                let grand: Vec<_> = candidates
                    .iter()
                    .flat_map(|c| region::children(c.code))
                    .collect();
                candidates.extend(grand);
                let child = candidates.into_iter().find(|c| rest.starts_with(c.name));
                match child {
                    Some(c) => (Some(c.code), &rest[c.name.len()..]),
                    None => (None, rest),
                }
            }
        };
        match found {
            Some(c) if Some(c) != code => {
                code = Some(c);
                rest = r;
                if rest.is_empty() {
                    break;
                }
            }
            _ => break,
        }
    }
    code.map(str::to_string).unwrap_or_else(|| s.to_string())
}
