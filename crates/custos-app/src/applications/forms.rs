//! What a person needs to fill in an application: the field catalog and customer types
//! for a new customer, the customer's current record for a request about it, the roles
//! one may ask for. Read with the applicant's permissions and data scope.

use crate::actor::Actor;
use crate::applications::Applications;
use crate::customers::{CustomerType, CustomerView};
use crate::error::{AppError, AppResult};
use crate::fields::{builtin_fields, load_definitions, FieldDefinition};
use crate::flows::unknown_kind;

use super::kinds::Kind;

/// A role one may ask for: its key and its name.
#[derive(Debug, Clone)]
pub struct RoleChoice {
    pub key: String,
    pub name: String,
}

/// Everything the form of one kind of application shows.
#[derive(Debug, Clone)]
pub struct ApplicationForm {
    pub kind: Kind,
    /// The field catalog, built-ins then custom fields (new customer, change).
    pub fields: Vec<FieldDefinition>,
    pub customer_types: Vec<CustomerType>,
    /// The customer the request is about, as the applicant may see it.
    pub customer: Option<CustomerView>,
    /// Roles (permission grant).
    pub roles: Vec<RoleChoice>,
}

impl Kind {
    /// Whether an application of this kind is about one existing customer.
    pub fn is_about_customer(self) -> bool {
        matches!(
            self,
            Kind::Change
                | Kind::ChangeCode
                | Kind::Retire
                | Kind::Reactivate
                | Kind::Archive
                | Kind::Retrieve
        )
    }
}

impl Applications<'_> {
    /// The form of an application of `kind` (`application.submit`); `customer` names the
    /// customer it is about, which must be inside the applicant's read scope (else 404,
    /// as for a missing one).
    pub async fn application_form(
        &self,
        actor: &Actor,
        kind: &str,
        customer: Option<&str>,
    ) -> AppResult<ApplicationForm> {
        actor.require("application.submit")?;
        let Some(k) = Kind::parse(kind) else {
            return Err(AppError::Validation(vec![unknown_kind("kind", kind)]));
        };
        let code = customer.map(str::trim).filter(|c| !c.is_empty());
        let customer = match (k.is_about_customer(), code) {
            // An archived customer is not readable before the retrieval is approved.
            (true, Some(_)) if k == Kind::Retrieve => None,
            (true, Some(code)) => Some(self.app.customers().get_customer(actor, code).await?),
            _ => None,
        };
        let (fields, customer_types) = if matches!(k, Kind::Create | Kind::Change) {
            let mut tx = self.app.db.begin_read().await?;
            let custom = load_definitions(&mut tx).await?;
            let types = crate::customers::load_customer_types(&mut tx).await?;
            tx.rollback().await?;
            let mut all = builtin_fields();
            all.extend(custom);
            (all, types)
        } else {
            (Vec::new(), Vec::new())
        };
        let roles = if k == Kind::GrantPermission {
            self.app
                .org()
                .list_roles(actor)
                .await?
                .into_iter()
                .map(|r| RoleChoice {
                    key: r.key,
                    name: r.name,
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(ApplicationForm {
            kind: k,
            fields,
            customer_types,
            customer,
            roles,
        })
    }
}
