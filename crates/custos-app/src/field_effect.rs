//! The field catalog as an administrator manages it: the catalog with the customer
//! types its required-ness refers to, and what a custom field's new definition would mean
//! for the customers already stored — how many would now miss a required value or hold a
//! value the definition refuses — counted before the change is saved, reading only.

use crate::fields::Fields;
use serde::Serialize;
use serde_json::Value;

use crate::actor::Actor;
use crate::customers::{load_customer_types, CustomerType};
use crate::error::{AppError, AppResult};
use crate::fields::{
    builtin_fields, custom_value, definition_errors, load_definitions, FieldDefinition, FieldType,
};

/// Most customers counted per question (a count at the cap reads "at least").
pub const EFFECT_CAP: i64 = 100_000;
/// Most distinct stored values checked against the new definition.
pub const EFFECT_VALUES: i64 = 1_000;
/// Most refused values named as examples.
const EXAMPLES: usize = 5;

/// The catalog for its administrators: built-in then custom fields, and the customer
/// types (for the labels of `required_for`).
#[derive(Debug, Clone, Serialize)]
pub struct FieldCatalog {
    pub fields: Vec<FieldDefinition>,
    pub customer_types: Vec<CustomerType>,
}

/// What saving a definition would do to existing live customers (pending, active,
/// dormant).
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct FieldEffect {
    /// The field exists already (a change), or not (a new field).
    pub exists: bool,
    /// Customers of a type the field becomes required for that have no value, per type.
    pub missing_required: Vec<(String, i64)>,
    /// Customers holding a value the new definition refuses (for a multi-select, each
    /// refused value of a customer counts once).
    pub refused_values: i64,
    /// A few refused values, most held first, with the first reason.
    pub examples: Vec<(String, String)>,
    /// Distinct stored values checked; `values_capped` when more were not checked.
    pub values_checked: usize,
    pub values_capped: bool,
    /// Some count reached [`EFFECT_CAP`] and means "at least".
    pub capped: bool,
}

impl FieldEffect {
    /// Customers that would break the new definition (an upper bound when a customer
    /// both misses one thing and holds another).
    pub fn total(&self) -> i64 {
        self.refused_values + self.missing_required.iter().map(|(_, n)| n).sum::<i64>()
    }
}

/// The stored text of a value (as the equality index keeps it) back as the JSON value
/// the definition `def` checks.
fn stored_value(def: &FieldDefinition, text: &str) -> Value {
    match def.field_type {
        FieldType::Number => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(text.to_string())),
        FieldType::Boolean => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        FieldType::MultiSelect | FieldType::TextList => {
            Value::Array(vec![Value::String(text.to_string())])
        }
        _ => Value::String(text.to_string()),
    }
}

impl Fields<'_> {
    /// The field catalog with the customer types (`field.manage`: the catalog's
    /// administrators' page, not a reader's).
    pub async fn field_catalog(&self, actor: &Actor) -> AppResult<FieldCatalog> {
        actor.require("field.manage")?;
        let mut tx = self.app.db.begin_read().await?;
        let custom = load_definitions(&mut tx).await?;
        let customer_types = load_customer_types(&mut tx).await?;
        tx.rollback().await?;
        let mut fields = builtin_fields();
        fields.extend(custom);
        Ok(FieldCatalog {
            fields,
            customer_types,
        })
    }

    /// What saving the custom field `def` would mean for existing customers
    /// (`field.manage`); the definition is checked as saving checks it. Counts cover every
    /// customer: the permission is the catalog's administrators', whose rules bind all.
    pub async fn field_effect(
        &self,
        actor: &Actor,
        def: impl Into<crate::input::Input<FieldDefinition>>,
    ) -> AppResult<FieldEffect> {
        actor.require("field.manage")?;
        let mut def = def.into().get()?;
        crate::text_input::refuse_in("", &def)?;
        def.key = def.key.trim().to_string();
        let errors = definition_errors(&def);
        if !errors.is_empty() {
            return Err(AppError::Validation(errors));
        }
        let mut tx = self.app.db.begin_read().await?;
        let exists = load_definitions(&mut tx)
            .await?
            .iter()
            .any(|d| d.key == def.key);
        let mut effect = FieldEffect {
            exists,
            ..FieldEffect::default()
        };
        let types = load_customer_types(&mut tx).await?;
        let required: Vec<Option<&str>> = if def.required_for.iter().any(|t| t == "*") {
            vec![None]
        } else {
            types
                .iter()
                .filter(|t| def.required_for.contains(&t.key))
                .map(|t| Some(t.key.as_str()))
                .collect()
        };
        for t in required {
            let n = tx
                .count_customers_without_field(&def.key, t, EFFECT_CAP)
                .await?;
            effect.capped |= n >= EFFECT_CAP;
            if n > 0 {
                effect
                    .missing_required
                    .push((t.unwrap_or("*").to_string(), n));
            }
        }
        let values = tx
            .custom_field_value_counts(&def.key, EFFECT_VALUES + 1)
            .await?;
        tx.rollback().await?;
        effect.values_capped = values.len() as i64 > EFFECT_VALUES;
        for (text, n) in values.iter().take(EFFECT_VALUES as usize) {
            let mut refused = Vec::new();
            custom_value(&def, &def.key, &stored_value(&def, text), &mut refused);
            effect.values_checked += 1;
            if let Some(why) = refused.first() {
                effect.refused_values += n;
                effect.capped |= *n >= EFFECT_CAP;
                if effect.examples.len() < EXAMPLES {
                    effect
                        .examples
                        .push((text.clone(), why.violation.zh.clone()));
                }
            }
        }
        Ok(effect)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::test_support::app_with_admin;
    use serde_json::json;

    fn def(v: Value) -> FieldDefinition {
        serde_json::from_value(v).unwrap()
    }

    #[tokio::test]
    async fn counts_customers_a_stricter_definition_would_refuse() {
        let (app, admin, _dir) = app_with_admin().await;
        let grade = json!({"key": "grade", "label_zh": "档次", "label_en": "Grade",
                           "type": "text", "max_length": 10});
        app.fields()
            .put_field(&admin, def(grade.clone()))
            .await
            .unwrap();
        for (name, g) in [("甲公司", "AAAA"), ("乙公司", "AAAA"), ("丙公司", "B")] {
            let c: crate::customers::NewCustomer = serde_json::from_value(json!({
                "customer_type": "enterprise", "name": name, "custom": {"grade": g}
            }))
            .unwrap();
            app.customers().create_customer(&admin, c).await.unwrap();
        }
        let c: crate::customers::NewCustomer =
            serde_json::from_value(json!({"customer_type": "enterprise", "name": "丁公司"}))
                .unwrap();
        app.customers().create_customer(&admin, c).await.unwrap();

        // At most 3 characters, required for enterprises: two hold "AAAA", one has none.
        let mut stricter = grade.clone();
        stricter["max_length"] = json!(3);
        stricter["required_for"] = json!(["enterprise"]);
        let e = app
            .fields()
            .field_effect(&admin, def(stricter))
            .await
            .unwrap();
        assert!(e.exists);
        assert_eq!(e.refused_values, 2);
        assert_eq!(e.examples.len(), 1);
        assert_eq!(e.examples[0].0, "AAAA");
        assert_eq!(e.missing_required, vec![("enterprise".to_string(), 1)]);
        assert_eq!(e.total(), 3);
        // The same definition as stored breaks nothing; nothing was written.
        let same = app.fields().field_effect(&admin, def(grade)).await.unwrap();
        assert_eq!(same.total(), 0);
        // A bad pattern is the saving's own error.
        let bad = json!({"key": "grade", "label_zh": "档次", "label_en": "Grade",
                         "type": "text", "pattern": "("});
        assert!(matches!(
            app.fields().field_effect(&admin, def(bad)).await,
            Err(AppError::Validation(_))
        ));
    }
}
