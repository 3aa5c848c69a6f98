//! The customer master (客户主数据): creating a customer issues its code in the same
//! transaction; reading follows merged codes to their survivor.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use custos_core::normalize::{name_key, normalize_text};
use custos_core::{ident, industry, region, FieldError, Violation};
use custos_store::{now_us, CustomerRow, StoreError, Tx};

use crate::actor::{Actor, Scope};
use crate::audit::{append, record};
use crate::auth::format_time;
use crate::codes::{code_taken, draw_code, register_code};
use crate::error::{AppError, AppResult};
use crate::{to_json, App};

/// Customer types when an administrator has configured none.
pub const DEFAULT_CUSTOMER_TYPES: &[(&str, &str, &str)] = &[
    ("enterprise", "企业客户", "Enterprise"),
    ("individual", "个人客户", "Individual"),
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct CustomerType {
    pub key: String,
    pub label_zh: String,
    pub label_en: String,
}

/// A new customer as submitted.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    pub customer_type: String,
    pub name: String,
    #[serde(default)]
    pub short_name: Option<String>,
    #[serde(default)]
    pub uscc: Option<String>,
    #[serde(default)]
    pub region_code: Option<String>,
    #[serde(default)]
    pub industry: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub remarks: Option<String>,
    /// Owner (负责人) user id; defaults to the creator.
    #[serde(default)]
    pub owner_id: Option<i64>,
    /// A code assigned by hand (`code.assign`); must fit the applicable rule and be unused.
    #[serde(default)]
    pub code: Option<String>,
    /// Why (kept in the audit log and the code registry).
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerView {
    pub id: i64,
    pub code: String,
    pub customer_type: String,
    pub name: String,
    pub status: String,
    pub uscc: Option<String>,
    pub region_code: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub district: Option<String>,
    pub industry: Option<String>,
    pub level: Option<String>,
    pub owner_id: Option<i64>,
    pub department_id: Option<i64>,
    /// The other fields.
    #[schema(value_type = Object)]
    pub fields: serde_json::Map<String, serde_json::Value>,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

fn view(c: &CustomerRow) -> CustomerView {
    let names = c.region_code.as_deref().and_then(region::names);
    CustomerView {
        id: c.id,
        code: c.code.clone(),
        customer_type: c.customer_type.clone(),
        name: c.name.clone(),
        status: c.status.clone(),
        uscc: c.uscc.clone(),
        region_code: c.region_code.clone(),
        province: names.as_ref().map(|n| n.province.to_string()),
        city: names.as_ref().and_then(|n| n.city.map(str::to_string)),
        district: names.as_ref().and_then(|n| n.district.map(str::to_string)),
        industry: c.industry.clone(),
        level: c.level.clone(),
        owner_id: c.owner_id,
        department_id: c.department_id,
        fields: serde_json::from_str(&c.data).unwrap_or_default(),
        created_at: format_time(c.created_at),
        updated_at: format_time(c.updated_at),
        version: c.row_version,
    }
}

fn required(field: &str, errors: &mut Vec<FieldError>) {
    errors.push(
        Violation::new(
            "required",
            format!("字段“{field}”为必填项"),
            format!("field '{field}' is required"),
        )
        .on(field),
    );
}

fn text_field(
    field: &str,
    value: &Option<String>,
    max: usize,
    errors: &mut Vec<FieldError>,
) -> Option<String> {
    let v = normalize_text(value.as_deref()?);
    if v.is_empty() {
        return None;
    }
    let n = v.chars().count();
    if n > max {
        errors.push(
            Violation::new(
                "length.max",
                format!("字段“{field}”不能超过 {max} 个字符（当前 {n} 个）"),
                format!("field '{field}' must not exceed {max} characters (has {n})"),
            )
            .on(field),
        );
    }
    Some(v)
}

/// Fault injection for tests of rollback behaviour: called after the code is drawn, an
/// error return aborts the creation.
pub type FaultHook = std::sync::Arc<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

impl App {
    /// Configured customer types (settings key `customer_types`).
    pub async fn customer_types(&self) -> AppResult<Vec<CustomerType>> {
        let mut tx = self.db.begin_read().await?;
        let types = load_customer_types(&mut tx).await?;
        tx.rollback().await?;
        Ok(types)
    }

    /// Replace the list of customer types (`field.manage`).
    pub async fn set_customer_types(
        &self,
        actor: &Actor,
        types: Vec<CustomerType>,
    ) -> AppResult<Vec<CustomerType>> {
        actor.require("field.manage")?;
        let mut errors = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for (i, t) in types.iter().enumerate() {
            let ok = (1..=32).contains(&t.key.len())
                && t.key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok || !seen.insert(t.key.clone()) {
                errors.push(
                    Violation::new(
                        "customer_type.key",
                        format!("客户类型标识“{}”不合规或重复", t.key),
                        format!("customer type key '{}' is invalid or repeated", t.key),
                    )
                    .on(format!("[{i}].key")),
                );
            }
            if t.label_zh.trim().is_empty() {
                errors.push(
                    Violation::new(
                        "required",
                        "中文名称为必填项",
                        "the Chinese label is required",
                    )
                    .on(format!("[{i}].label_zh")),
                );
            }
        }
        if types.is_empty() {
            errors.push(
                Violation::new(
                    "required",
                    "至少需要一个客户类型",
                    "at least one customer type is needed",
                )
                .on("[]"),
            );
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut tx = self.db.begin().await?;
        let before = load_customer_types(&mut tx).await?;
        tx.put_setting("customer_types", &to_json(&types).unwrap_or_default())
            .await?;
        let mut r = record(
            actor,
            "settings.customer_types",
            "settings",
            "customer_types",
        );
        r.before = to_json(&before);
        r.after = to_json(&types);
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(types)
    }

    /// Create a customer and issue its code in one transaction (`customer.create`).
    pub async fn create_customer(
        &self,
        actor: &Actor,
        input: NewCustomer,
    ) -> AppResult<CustomerView> {
        actor.require("customer.create")?;
        if input.code.is_some() {
            actor.require("code.assign")?;
        }
        let mut errors = Vec::new();
        let name = normalize_text(&input.name);
        if name.is_empty() {
            required("name", &mut errors);
        } else if name.chars().count() > 200 {
            errors.push(
                Violation::new(
                    "length.max",
                    "客户名称不能超过 200 个字符",
                    "the name must not exceed 200 characters",
                )
                .on("name"),
            );
        }
        let uscc = match input
            .uscc
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => match ident::Uscc::parse(s) {
                Ok(u) => Some(u.as_str().to_string()),
                Err(v) => {
                    errors.push(v.on("uscc"));
                    None
                }
            },
            None => None,
        };
        let region_code = match input
            .region_code
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => match region::validate_region_code(s) {
                Ok(r) => Some(r),
                Err(v) => {
                    errors.push(v.on("region_code"));
                    None
                }
            },
            None => None,
        };
        let industry = match input
            .industry
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(s) => match industry::validate_industry(s) {
                Ok(i) => Some(i),
                Err(v) => {
                    errors.push(v.on("industry"));
                    None
                }
            },
            None => None,
        };
        let short_name = text_field("short_name", &input.short_name, 100, &mut errors);
        let level = text_field("level", &input.level, 32, &mut errors);
        let address = text_field("address", &input.address, 300, &mut errors);
        let remarks = text_field("remarks", &input.remarks, 2000, &mut errors);
        let reason = text_field("reason", &input.reason, 500, &mut errors);

        let mut tx = self.db.begin().await?;
        let types = load_customer_types(&mut tx).await?;
        if !types.iter().any(|t| t.key == input.customer_type) {
            errors.push(
                Violation::new(
                    "customer_type.unknown",
                    format!(
                        "客户类型“{}”不存在，可选：{}",
                        input.customer_type,
                        types
                            .iter()
                            .map(|t| t.key.as_str())
                            .collect::<Vec<_>>()
                            .join("、")
                    ),
                    format!(
                        "customer type '{}' does not exist; choose one of {}",
                        input.customer_type,
                        types
                            .iter()
                            .map(|t| t.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
                .on("customer_type"),
            );
        }
        let owner_id = input.owner_id.unwrap_or(actor.user_id);
        let owner = tx.user(owner_id).await?;
        if owner.is_none() {
            errors.push(
                Violation::new(
                    "user.unknown",
                    format!("负责人 {owner_id} 不存在"),
                    format!("owner {owner_id} does not exist"),
                )
                .on("owner_id"),
            );
        }
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let department_id = owner.and_then(|o| o.department_id);
        // The creator must be able to see what they create.
        let scope = actor.require("customer.create")?;
        check_owner_in_scope(&mut tx, actor, scope, owner_id, department_id).await?;

        let mut attributes = BTreeMap::new();
        attributes.insert("customer_type".to_string(), input.customer_type.clone());
        if let Some(l) = &level {
            attributes.insert("level".to_string(), l.clone());
        }
        if let Some(i) = &industry {
            attributes.insert("industry".to_string(), i.clone());
        }
        let drawn = draw_code(
            &mut tx,
            self.config.code_timezone,
            &attributes,
            &input.customer_type,
            region_code.as_deref(),
            input.code.as_deref(),
        )
        .await?;
        if let Some(hook) = &self.config.fault_after_code_draw {
            hook.0(&drawn.code).map_err(AppError::Internal)?;
        }
        let mut data = serde_json::Map::new();
        for (k, v) in [
            ("short_name", &short_name),
            ("address", &address),
            ("remarks", &remarks),
        ] {
            if let Some(v) = v {
                data.insert(k.to_string(), serde_json::Value::String(v.clone()));
            }
        }
        let now = now_us();
        let key = name_key(&name);
        let mut row = CustomerRow {
            id: 0,
            code: drawn.code.clone(),
            customer_type: input.customer_type.clone(),
            name: name.clone(),
            name_key: key.key,
            status: "active".into(),
            uscc,
            region_code,
            industry,
            level,
            owner_id: Some(owner_id),
            department_id,
            data: serde_json::Value::Object(data).to_string(),
            created_by: Some(actor.user_id),
            created_at: now,
            updated_at: now,
            row_version: 1,
        };
        row.id = match tx.insert_customer(&row).await {
            Ok(id) => id,
            Err(StoreError::Conflict { .. }) => return Err(code_taken(&drawn.code)),
            Err(e) => return Err(e.into()),
        };
        register_code(&mut tx, &drawn, row.id, "active", actor, reason.clone()).await?;
        let v = view(&row);
        let mut r = record(actor, "customer.create", "customer", &v.code);
        r.after = to_json(&serde_json::json!({
            "code": v.code, "rule": format!("{}@{}", drawn.rule_key, drawn.rule_version),
            "manual_code": drawn.manual, "customer_type": v.customer_type, "name": v.name,
            "uscc": v.uscc, "region_code": v.region_code, "industry": v.industry,
            "owner_id": v.owner_id,
        }));
        r.reason = reason;
        append(&mut tx, r).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// Read a customer by code within the caller's data scope (out of scope = 404).
    pub async fn get_customer(&self, actor: &Actor, code: &str) -> AppResult<CustomerView> {
        let scope = actor.require("customer.read")?;
        let code = code.trim().to_ascii_uppercase();
        let mut tx = self.db.begin_read().await?;
        let row = tx
            .customer_by_code(&code)
            .await?
            .ok_or_else(|| AppError::not_found("customer", &code))?;
        if !in_scope(&mut tx, actor, scope, &row).await? {
            return Err(AppError::not_found("customer", &code));
        }
        tx.rollback().await?;
        Ok(view(&row))
    }
}

pub(crate) async fn load_customer_types(tx: &mut Tx) -> AppResult<Vec<CustomerType>> {
    if let Some(json) = tx.setting("customer_types").await? {
        if let Ok(types) = serde_json::from_str::<Vec<CustomerType>>(&json) {
            return Ok(types);
        }
    }
    Ok(DEFAULT_CUSTOMER_TYPES
        .iter()
        .map(|(k, zh, en)| CustomerType {
            key: k.to_string(),
            label_zh: zh.to_string(),
            label_en: en.to_string(),
        })
        .collect())
}

/// Is a customer inside the caller's data scope?
pub(crate) async fn in_scope(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
    row: &CustomerRow,
) -> AppResult<bool> {
    Ok(match scope {
        Scope::All => true,
        Scope::Own => row.owner_id == Some(actor.user_id),
        Scope::Department => {
            row.owner_id == Some(actor.user_id)
                || match (actor.department_id, row.department_id) {
                    (Some(mine), Some(theirs)) => {
                        tx.department_subtree(mine).await?.contains(&theirs)
                    }
                    _ => false,
                }
        }
    })
}

async fn check_owner_in_scope(
    tx: &mut Tx,
    actor: &Actor,
    scope: Scope,
    owner_id: i64,
    owner_department: Option<i64>,
) -> AppResult<()> {
    let ok = match scope {
        Scope::All => true,
        Scope::Own => owner_id == actor.user_id,
        Scope::Department => {
            owner_id == actor.user_id
                || match (actor.department_id, owner_department) {
                    (Some(mine), Some(theirs)) => {
                        tx.department_subtree(mine).await?.contains(&theirs)
                    }
                    _ => false,
                }
        }
    };
    if ok {
        Ok(())
    } else {
        Err(AppError::validation(
            "owner_id",
            Violation::new(
                "owner.out_of_scope",
                format!("负责人 {owner_id} 不在您的数据范围内"),
                format!("owner {owner_id} is outside your data scope"),
            ),
        ))
    }
}
