//! The customer list as a person reads it (the console's 客户列表): the search of
//! `search.rs` with what a page shows beside each row — the owner's and department's
//! names, the mobile (always masked: a list never reveals personal data) — and the
//! choices of its filter form (customer types, departments, owners, custom fields), all
//! within the caller's data scope.

use crate::customers::Customers;
use std::collections::HashMap;

use custos_core::FieldError;
use custos_store::customer_master::{CustomerFilter, ScopeFilter};

use crate::actor::{Actor, Scope};
use crate::customers::{list_mobile, load_customer_types, record_of, CustomerType};
use crate::error::{AppError, AppResult};
use crate::fields::FieldDefinition;
use crate::search::{CustomerQuery, CustomerSummary};

/// Owners offered by the filter form at most (beyond that the owner is typed as an id).
const OWNER_CHOICES: i64 = 500;

/// One row of the list.
#[derive(Debug, Clone)]
pub struct ListedCustomer {
    pub summary: CustomerSummary,
    /// The customer's mobile, else its primary contact's, masked.
    pub mobile_masked: Option<String>,
    pub owner_name: Option<String>,
    pub department_name: Option<String>,
}

/// What the filter form offers.
#[derive(Debug, Clone, Default)]
pub struct ListChoices {
    pub customer_types: Vec<CustomerType>,
    /// `(id, name)` of every department.
    pub departments: Vec<(i64, String)>,
    /// `(id, name)` of the users whose customers the caller may see (for scope `all`,
    /// the first [`OWNER_CHOICES`]).
    pub owners: Vec<(i64, String)>,
    /// Custom fields a list can filter by (personal ones are left out).
    pub custom_fields: Vec<FieldDefinition>,
}

/// The list, or the reasons its filter was refused, with the form's choices.
#[derive(Debug, Clone, Default)]
pub struct CustomerList {
    pub rows: Vec<ListedCustomer>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// All matches, when asked for.
    pub total: Option<i64>,
    /// Why the filter was refused (each naming its parameter); no rows then.
    pub errors: Vec<FieldError>,
    pub choices: ListChoices,
}

impl Customers<'_> {
    /// A page of the customer list (`customer.read`, the caller's data scope): the
    /// search of [`Customers::search_customers`] with names beside ids and masked mobiles, and
    /// the choices of the filter form. A refused filter is not an error here but the
    /// list's `errors`, so the form can show them beside the fields.
    pub async fn customer_list(&self, actor: &Actor, q: CustomerQuery) -> AppResult<CustomerList> {
        let scope = actor.require("customer.read")?;
        let choices = self.list_choices(actor, scope).await?;
        let page = match self.search_customers(actor, q).await {
            Ok(page) => page,
            Err(AppError::Validation(errors)) => {
                return Ok(CustomerList {
                    errors,
                    choices,
                    ..Default::default()
                })
            }
            Err(e) => return Err(e),
        };
        let ids: Vec<i64> = page.items.iter().map(|s| s.id).collect();
        let mut owner_ids: Vec<i64> = page.items.iter().filter_map(|s| s.owner_id).collect();
        owner_ids.sort_unstable();
        owner_ids.dedup();
        let mut tx = self.app.db.begin_read().await?;
        // The rows were found in scope by the search just above; read their stored form.
        let rows = match ids.is_empty() {
            true => Vec::new(),
            false => {
                tx.search_customers(&CustomerFilter {
                    scope: ScopeFilter::All,
                    ids: Some(ids.clone()),
                    limit: ids.len() as i64 + 1,
                    ..Default::default()
                })
                .await?
            }
        };
        let owners: HashMap<i64, String> = tx
            .user_display_names(&owner_ids)
            .await?
            .into_iter()
            .collect();
        tx.rollback().await?;
        let mut mobiles = HashMap::with_capacity(rows.len());
        for row in &rows {
            mobiles.insert(
                row.id,
                list_mobile(&record_of(row, &self.app.config.pii_key)?),
            );
        }
        let departments: HashMap<i64, &String> =
            choices.departments.iter().map(|(id, n)| (*id, n)).collect();
        let rows = page
            .items
            .into_iter()
            .map(|summary| ListedCustomer {
                mobile_masked: mobiles.remove(&summary.id).flatten(),
                owner_name: summary.owner_id.and_then(|o| owners.get(&o).cloned()),
                department_name: summary
                    .department_id
                    .and_then(|d| departments.get(&d).map(|n| n.to_string())),
                summary,
            })
            .collect();
        Ok(CustomerList {
            rows,
            next_cursor: page.next_cursor,
            total: page.total,
            errors: Vec::new(),
            choices,
        })
    }

    async fn list_choices(&self, actor: &Actor, scope: Scope) -> AppResult<ListChoices> {
        let mut tx = self.app.db.begin_read().await?;
        let customer_types = load_customer_types(&mut tx).await?;
        let departments: Vec<(i64, String)> = tx
            .departments()
            .await?
            .into_iter()
            .map(|d| (d.id, d.name))
            .collect();
        let visible = match (scope, actor.department_id) {
            (Scope::All, _) => None,
            (Scope::Department, Some(d)) => Some(tx.department_subtree(d).await?),
            (_, _) => Some(Vec::new()),
        };
        // A scoped caller also owns customers themself; `all` lists everyone (the store
        // reads a lone user as "just this user").
        let also_self = visible.as_ref().map(|_| actor.user_id);
        let owners = tx
            .users(visible.as_deref(), also_self, 0, OWNER_CHOICES)
            .await?
            .into_iter()
            .map(|u| (u.id, u.display_name))
            .collect();
        let custom_fields = crate::fields::load_definitions(&mut tx)
            .await?
            .into_iter()
            .filter(|f| !f.pii)
            .collect();
        tx.rollback().await?;
        Ok(ListChoices {
            customer_types,
            departments,
            owners,
            custom_fields,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::customers::NewCustomer;
    use crate::test_support::app_with_admin;

    fn input(name: &str, owner: Option<i64>, mobile: Option<&str>) -> NewCustomer {
        let ty = match mobile {
            Some(_) => "individual",
            None => "enterprise",
        };
        serde_json::from_value(serde_json::json!({
            "customer_type": ty, "name": name, "owner_id": owner, "mobile": mobile,
        }))
        .unwrap()
    }

    /// Names beside ids, a masked mobile whoever looks, the scope of the viewer, and a
    /// refused filter returned as the list's errors with the form's choices.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_list_page_names_masks_and_keeps_to_the_scope() {
        let (app, admin, _dir) = app_with_admin().await;
        app.customers()
            .create_customers(
                &admin,
                vec![
                    input("王五", Some(admin.user_id), Some("13812345678")),
                    input("赵六商贸有限公司", None, None),
                ],
            )
            .await
            .unwrap();
        let list = app
            .customers()
            .customer_list(&admin, CustomerQuery::default())
            .await
            .unwrap();
        assert_eq!(list.rows.len(), 2);
        let wang = list.rows.iter().find(|r| r.summary.name == "王五").unwrap();
        assert_eq!(wang.mobile_masked.as_deref(), Some("138****5678"));
        assert_eq!(
            wang.owner_name.as_deref(),
            Some(admin.display_name.as_str())
        );
        assert!(list
            .choices
            .owners
            .iter()
            .any(|(id, _)| *id == admin.user_id));
        assert!(list
            .choices
            .customer_types
            .iter()
            .any(|t| t.key == "enterprise"));

        // Scope `own`: only what the viewer owns (nothing here), the owner choice is them.
        let mut own = admin.clone();
        own.user_id = admin.user_id + 1000;
        own.permissions = [("customer.read".to_string(), Scope::Own)].into();
        let list = app
            .customers()
            .customer_list(&own, CustomerQuery::default())
            .await
            .unwrap();
        assert!(list.rows.is_empty());
        assert!(list.choices.owners.iter().all(|(id, _)| *id == own.user_id));

        let bad = CustomerQuery {
            region: Some("abc".into()),
            ..Default::default()
        };
        let list = app.customers().customer_list(&admin, bad).await.unwrap();
        assert!(list.rows.is_empty());
        assert_eq!(list.errors[0].field, "region");
        assert!(!list.choices.customer_types.is_empty());

        // Without `customer.read`, nothing.
        own.permissions.clear();
        assert!(matches!(
            app.customers()
                .customer_list(&own, CustomerQuery::default())
                .await,
            Err(AppError::Forbidden { .. })
        ));
    }
}
