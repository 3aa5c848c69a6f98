//! What the console's split page needs: the customer being split (masked) with its
//! contacts, the field catalog for the new part, and a split that becomes an
//! application when the reader may not split directly.

use crate::customers::Customers;
use serde::Serialize;
use serde_json::json;

use super::merge::{SplitRequest, SplitResult};
use super::reference::CustomerType;
use super::views::CustomerView;
use super::Disclosure;
use crate::actor::Actor;
use crate::applications::{ApplicationView, NewApplication};
use crate::error::{AppError, AppResult};
use crate::fields::FieldDefinition;
use crate::App;

/// The split page of one customer.
#[derive(Debug, Clone, Serialize)]
pub struct SplitSheet {
    /// The customer being split, personal data masked.
    pub original: CustomerView,
    /// The catalog the new part's inputs are built from.
    pub fields: Vec<FieldDefinition>,
    pub customer_types: Vec<CustomerType>,
    /// The reader splits directly (`customer.merge` and `customer.create`); otherwise a
    /// split is applied for.
    pub may_split: bool,
}

/// What a split from the console did.
#[derive(Debug)]
pub enum SplitOutcome {
    Split(Box<SplitResult>),
    /// The reader may not split directly: the split waits for approval.
    Applied(Box<ApplicationView>),
}

impl App {
    /// Whether `actor` splits directly; `None` when it may neither split nor apply.
    pub(crate) fn split_mode(actor: &Actor) -> Option<bool> {
        if actor.can("customer.merge") && actor.can("customer.create") {
            Some(true)
        } else if actor.can("application.submit") {
            Some(false)
        } else {
            None
        }
    }
}

impl Customers<'_> {
    /// The split page of `code`: refused (403) to a reader who may neither split nor
    /// apply for a split, and (404) for a customer outside the reader's scope.
    pub async fn split_sheet(&self, actor: &Actor, code: &str) -> AppResult<SplitSheet> {
        let Some(may_split) = App::split_mode(actor) else {
            return Err(AppError::Forbidden {
                permission: "customer.merge".into(),
            });
        };
        let original = self
            .read_customer(actor, code, None, Disclosure::Masked)
            .await?;
        Ok(SplitSheet {
            original,
            fields: self.app.fields().list_fields(actor).await?,
            customer_types: self.customer_types().await?,
            may_split,
        })
    }

    /// Split `code` as the split page asks: directly with `customer.merge` and
    /// `customer.create`, else as a split application waiting for approval (checked
    /// now as the approval would apply it).
    pub async fn split_or_apply(
        &self,
        actor: &Actor,
        code: &str,
        req: SplitRequest,
    ) -> AppResult<SplitOutcome> {
        let Some(may_split) = App::split_mode(actor) else {
            return Err(AppError::Forbidden {
                permission: "customer.merge".into(),
            });
        };
        if may_split {
            let done = self.split_customer(actor, code, req).await?;
            return Ok(SplitOutcome::Split(Box::new(done)));
        }
        let payload = json!({
            "code": code.trim().to_ascii_uppercase(),
            "parts": req.parts,
            "original": req.original,
            "reason": req.reason,
        });
        let app = self
            .app
            .applications()
            .submit_application(
                actor,
                NewApplication {
                    kind: "split".into(),
                    payload,
                    reason: req.reason.clone(),
                    draft: false,
                },
            )
            .await?;
        Ok(SplitOutcome::Applied(Box::new(app)))
    }
}
