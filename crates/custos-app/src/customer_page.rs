//! What a customer's page (客户详情) and its form (新增 / 编辑) show, each in one call:
//! the customer as its reader may see it (personal data masked; shown in clear only by
//! [`Customers::reveal_customer_pii`], with a reason), one section of the page, the owner's and
//! department's names, and what the reader may do from there. Every part comes from the
//! same reads as the API's, with their permission, data-scope and masking rules.

use crate::customers::Customers;
use serde::Serialize;

use crate::actor::Actor;
use crate::customer_assign::Assignment;
use crate::customers::duplicates::DuplicateReport;
use crate::customers::merge::{LineageEdge, MergeInfo};
use crate::customers::{CustomerType, CustomerView, Disclosure, HistoryEntry};
use crate::error::{AppError, AppResult};
use crate::fields::FieldDefinition;
use crate::xref::XrefView;
use crate::App;

/// The sections (tabs) of a customer's page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Basic,
    Contacts,
    History,
    Codes,
    Xrefs,
    Duplicates,
    /// Everything that happened, newest first (read apart: `Overview::customer_timeline`).
    Timeline,
    /// Totals, open complaints, next follow-up, credit (read apart:
    /// `Overview::customer_overview`).
    Overview,
    /// The customer's group (read apart: `Overview::customer_group`).
    Group,
}

impl Section {
    pub const ALL: [Section; 9] = [
        Section::Overview,
        Section::Basic,
        Section::Contacts,
        Section::Group,
        Section::Timeline,
        Section::History,
        Section::Codes,
        Section::Xrefs,
        Section::Duplicates,
    ];

    /// The name in a page address (`?tab=`).
    pub fn name(self) -> &'static str {
        match self {
            Section::Basic => "basic",
            Section::Contacts => "contacts",
            Section::History => "history",
            Section::Codes => "codes",
            Section::Xrefs => "xrefs",
            Section::Duplicates => "duplicates",
            Section::Timeline => "timeline",
            Section::Overview => "overview",
            Section::Group => "group",
        }
    }

    pub fn parse(s: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// The registry entry of a customer's current code: the rule that made it.
#[derive(Debug, Clone, Serialize)]
pub struct CodeOrigin {
    pub rule_key: Option<String>,
    pub rule_version: Option<i64>,
    /// Assigned by hand rather than drawn from a rule.
    pub manual: bool,
    pub issued_at: String,
}

/// One change of a customer's code, from its history.
#[derive(Debug, Clone, Serialize)]
pub struct CodeChange {
    pub at: String,
    pub old: String,
    pub new: String,
    pub reason: Option<String>,
}

/// What the reader may do from a customer's page.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CustomerActions {
    /// Change the record directly (`customer.update`, an editable status).
    pub edit: bool,
    /// Ask to see personal data in full (`customer.pii.read`).
    pub reveal_pii: bool,
    /// Kinds of application the reader may start about this customer.
    pub apply: Vec<&'static str>,
    /// Split the customer (directly, or by application).
    pub split: bool,
}

/// One section of a customer's page, with the customer itself.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerPage {
    pub customer: CustomerView,
    pub owner_name: Option<String>,
    pub department_name: Option<String>,
    pub actions: CustomerActions,
    /// The field catalog (labels), for the sections that show the record's fields.
    pub fields: Vec<FieldDefinition>,
    /// History: every entry, oldest first (personal data masked).
    pub history: Vec<HistoryEntry>,
    /// History with a date: the record as it was then (personal data masked).
    pub as_of: Option<CustomerView>,
    pub code_origin: Option<CodeOrigin>,
    pub code_changes: Vec<CodeChange>,
    pub lineage: Vec<LineageEdge>,
    pub merges: Vec<MergeInfo>,
    pub xrefs: Vec<XrefView>,
    pub duplicates: Option<DuplicateReport>,
}

/// What the new-customer and edit forms are built from.
#[derive(Debug, Clone, Serialize)]
pub struct CustomerForm {
    /// The field catalog: built-in fields, then custom ones.
    pub fields: Vec<FieldDefinition>,
    pub customer_types: Vec<CustomerType>,
    /// The customer being edited (personal data masked).
    pub customer: Option<CustomerView>,
    /// The reader may create customers directly (`customer.create`); without it a new
    /// customer is applied for.
    pub may_create: bool,
    pub may_apply: bool,
    /// The owners and departments the writer may choose, and whether contacts are
    /// entered with the record (none when the writer may not write directly).
    pub assignment: Assignment,
}

impl Customers<'_> {
    /// A customer's page: the customer (masked) and the `section` asked for; `as_of`
    /// (microseconds) rebuilds the record as it was then for the history section.
    pub async fn customer_page(
        &self,
        actor: &Actor,
        code: &str,
        section: Section,
        as_of: Option<i64>,
    ) -> AppResult<CustomerPage> {
        let customer = self
            .read_customer(actor, code, None, Disclosure::Masked)
            .await?;
        let code = customer.code.clone();
        let (owner_name, department_name) = self.owner_names(&customer).await?;
        let mut page = CustomerPage {
            actions: actions_for(actor, &customer),
            customer,
            fields: Vec::new(),
            owner_name,
            department_name,
            history: Vec::new(),
            as_of: None,
            code_origin: None,
            code_changes: Vec::new(),
            lineage: Vec::new(),
            merges: Vec::new(),
            xrefs: Vec::new(),
            duplicates: None,
        };
        match section {
            Section::Basic => page.fields = self.app.fields().list_fields(actor).await?,
            Section::Contacts => {}
            Section::Timeline => page.fields = self.app.fields().list_fields(actor).await?,
            Section::Overview | Section::Group => {}
            Section::History => {
                page.fields = self.app.fields().list_fields(actor).await?;
                page.history = self.customer_history(actor, &code).await?;
                if as_of.is_some() {
                    // The customer is in scope (read above): missing then = not yet created.
                    page.as_of = match self
                        .read_customer(actor, &code, as_of, Disclosure::Masked)
                        .await
                    {
                        Ok(v) => Some(v),
                        Err(AppError::NotFound { .. }) => None,
                        Err(e) => return Err(e),
                    };
                }
            }
            Section::Codes => {
                page.code_origin = self.code_origin(&code).await?;
                page.code_changes = self
                    .customer_history(actor, &code)
                    .await?
                    .into_iter()
                    .filter(|h| h.action == "change_code")
                    .flat_map(|h| code_changes(&h))
                    .collect();
                page.lineage = self.lineage(actor, &code).await?;
                page.merges = self.merges_of(actor, &code).await?;
            }
            Section::Xrefs => page.xrefs = self.app.sources().list_xrefs(actor, &code).await?,
            Section::Duplicates => {
                page.duplicates = Some(self.suspected_duplicates(actor, &code).await?)
            }
        }
        Ok(page)
    }

    /// What the new-customer form (`code` none) or a customer's edit form is built from.
    pub async fn customer_form(
        &self,
        actor: &Actor,
        code: Option<&str>,
    ) -> AppResult<CustomerForm> {
        let may_create = actor.can("customer.create");
        let may_apply = actor.can("application.submit");
        let customer = match code {
            Some(code) => {
                actor.require("customer.update")?;
                Some(
                    self.read_customer(actor, code, None, Disclosure::Masked)
                        .await?,
                )
            }
            None if !may_create && !may_apply => {
                return Err(AppError::Forbidden {
                    permission: "customer.create".into(),
                })
            }
            None => None,
        };
        let assignment = match code {
            Some(_) => self.assignment(actor, "customer.update").await?,
            None => self.assignment(actor, "customer.create").await?,
        };
        Ok(CustomerForm {
            assignment,
            fields: self.app.fields().list_fields(actor).await?,
            customer_types: self.customer_types().await?,
            customer,
            may_create,
            may_apply,
        })
    }

    /// The names of a customer's owner and department (the customer is already read).
    async fn owner_names(&self, c: &CustomerView) -> AppResult<(Option<String>, Option<String>)> {
        let mut tx = self.app.db.begin_read().await?;
        let owner = match c.owner_id {
            Some(id) => tx.user(id).await?.map(|u| u.display_name),
            None => None,
        };
        let department = match c.department_id {
            Some(id) => tx.department(id).await?.map(|d| d.name),
            None => None,
        };
        tx.rollback().await?;
        Ok((owner, department))
    }

    /// The registry entry of a customer's current code (the customer is already read).
    async fn code_origin(&self, code: &str) -> AppResult<Option<CodeOrigin>> {
        let mut tx = self.app.db.begin_read().await?;
        let row = tx.code(code).await?;
        tx.rollback().await?;
        Ok(row.map(|r| CodeOrigin {
            rule_key: r.rule_key,
            rule_version: r.rule_version,
            manual: r.manual,
            issued_at: crate::clock::format_time(r.issued_at),
        }))
    }
}

fn actions_for(actor: &Actor, c: &CustomerView) -> CustomerActions {
    let editable = crate::customers::CustomerStatus::editable(&c.status);
    CustomerActions {
        edit: editable && actor.can("customer.update"),
        reveal_pii: actor.can("customer.pii.read"),
        apply: match actor.can("application.submit") {
            true => crate::applications::kinds_for_customer(&c.status),
            false => Vec::new(),
        },
        split: editable && App::split_mode(actor).is_some(),
    }
}

fn code_changes(h: &HistoryEntry) -> Vec<CodeChange> {
    h.changes
        .iter()
        .filter(|c| c.field == "code")
        .map(|c| CodeChange {
            at: h.at.clone(),
            old: c.old.as_str().unwrap_or_default().to_string(),
            new: c.new.as_str().unwrap_or_default().to_string(),
            reason: h.reason.clone(),
        })
        .collect()
}
