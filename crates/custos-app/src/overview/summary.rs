//! A customer's overview (概览): the record, its primary contacts and lineage, and —
//! each only for a reader allowed to see it — the totals of its orders, its open
//! complaints, its next planned follow-up and its current credit rating.

use crate::overview::Overview;
use serde::Serialize;

use crate::activities::{CreditView, Located, OrderTotals, PageQuery};
use crate::actor::Actor;
use crate::customers::merge::LineageEdge;
use crate::customers::{in_scope, scoped_customer, ContactView, CustomerView, Disclosure};
use crate::error::{AppError, AppResult};

/// What a reader with `activity.read` over the customer sees of its business records.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecordsSummary {
    pub orders: OrderTotals,
    /// Complaints open or in progress.
    pub open_complaints: i64,
    /// The earliest next date (`YYYY-MM-DD`) planned by a follow-up, today or later.
    pub next_followup: Option<String>,
}

/// The overview of one customer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CustomerOverview {
    /// Personal data masked.
    pub customer: CustomerView,
    pub primary_contacts: Vec<ContactView>,
    /// Merge and split edges touching the customer.
    pub lineage: Vec<LineageEdge>,
    /// With `activity.read` over the customer; otherwise absent.
    pub records: Option<RecordsSummary>,
    /// The current credit rating, with `credit.read` over the customer; otherwise absent.
    pub credit: Option<CreditView>,
    /// The life-cycle stage (客户状态); its transitions are at `/lifecycle`.
    pub lifecycle: Option<crate::lifecycle::LifecycleView>,
    /// Its data-quality score and failing rules, with `quality.read` over the customer.
    pub quality: Option<crate::quality::CustomerQuality>,
}

impl Overview<'_> {
    /// The overview of `code` (`customer.read` within the reader's scope; the parts about
    /// business records and credit only with their permissions over the customer).
    pub async fn customer_overview(
        &self,
        actor: &Actor,
        code: &str,
    ) -> AppResult<CustomerOverview> {
        let customer = self
            .app
            .customers()
            .read_customer(actor, code, None, Disclosure::Masked)
            .await?;
        let lineage = self.app.customers().lineage(actor, &customer.code).await?;
        let lifecycle = self
            .app
            .lifecycle()
            .lifecycle_brief(actor, &customer.code)
            .await?;
        let records = self.records_summary(actor, &customer.code).await?;
        let credit = match actor.can("credit.read") {
            true => {
                let q = PageQuery {
                    limit: Some("1".into()),
                    cursor: None,
                };
                match self
                    .app
                    .activities()
                    .credit_history(actor, &customer.code, &q)
                    .await
                {
                    Ok(Located::Here(h)) => h.current,
                    Ok(Located::Moved { .. }) | Err(AppError::NotFound { .. }) => None,
                    Err(e) => return Err(e),
                }
            }
            false => None,
        };
        let quality = match self
            .app
            .quality()
            .customer_quality(actor, &customer.code)
            .await
        {
            Ok(q) => Some(q),
            Err(AppError::Forbidden { .. } | AppError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        Ok(CustomerOverview {
            quality,
            primary_contacts: customer
                .contacts
                .iter()
                .filter(|c| c.is_primary)
                .cloned()
                .collect(),
            customer,
            lineage,
            records,
            credit,
            lifecycle,
        })
    }

    async fn records_summary(
        &self,
        actor: &Actor,
        code: &str,
    ) -> AppResult<Option<RecordsSummary>> {
        let (Some(scope), Some(read)) = (
            actor.permissions.get("activity.read").copied(),
            actor.permissions.get("customer.read").copied(),
        ) else {
            return Ok(None);
        };
        let mut tx = self.app.db.begin_read().await?;
        let row = scoped_customer(&mut tx, actor, read, code).await?;
        if !in_scope(&mut tx, actor, scope, &row).await? {
            tx.rollback().await?;
            return Ok(None);
        }
        let today = chrono::Utc::now()
            .with_timezone(&self.app.config.code_timezone)
            .date_naive()
            .to_string();
        let summary = RecordsSummary {
            orders: tx.order_totals(row.id).await?.into(),
            open_complaints: tx
                .count_activities_in_status(row.id, "interaction", &["open", "in_progress"], 0)
                .await?,
            next_followup: tx.next_followup_date(row.id, &today).await?,
        };
        tx.rollback().await?;
        Ok(Some(summary))
    }
}
