//! Service records (服务记录): what was serviced (product, model), the problem and its
//! resolution, and the complaint that opened it, if any.

use crate::activities::Activities;
use custos_store::Tx;
use serde::{Deserialize, Serialize};

use super::fields::{Form, LONG_TEXT, SHORT_TEXT};
use super::records::{Page, PageQuery, RecordMeta, Shower};
use super::service_record::{insert_service, ServiceRecord};
use super::{check_writable, kind, locate, Located};
use crate::actor::Actor;
use crate::clock::format_time;
use crate::error::{AppError, AppResult};
use crate::input::Input;
use crate::pii::PiiKey;
use crate::text_input::refuse_in;

/// A service record to add.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewServiceRecord {
    /// When (RFC 3339 or `YYYY-MM-DD`); absent: now.
    #[serde(default)]
    pub served_at: Option<String>,
    #[serde(default)]
    pub product: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    /// The problem, at most 2,000 characters.
    pub problem: String,
    #[serde(default)]
    pub resolution: Option<String>,
    /// The complaint (an interaction of this customer) it answers.
    #[serde(default)]
    pub complaint_id: Option<i64>,
}

/// A service record as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ServiceRecordView {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub service: ServiceRecord,
}

pub(crate) fn service_view(meta: RecordMeta, service: ServiceRecord) -> ServiceRecordView {
    ServiceRecordView { meta, service }
}

impl Activities<'_> {
    /// Add a service record to a customer (`activity.write`).
    pub async fn add_service_record(
        &self,
        actor: &Actor,
        code: &str,
        input: impl Into<Input<NewServiceRecord>>,
    ) -> AppResult<Located<ServiceRecordView>> {
        let mut tx = self.app.db.begin().await?;
        let customer = match locate(&mut tx, actor, "activity.write", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let input = input.into().get()?;
        refuse_in("", &input)?;
        check_writable(&customer)?;
        let mut f = Form::default();
        let now = custos_store::now_us();
        let tz = self.app.config.code_timezone;
        let at = f.past_time("served_at", input.served_at.as_deref(), tz, now);
        let service = ServiceRecord {
            served_at: format_time(at),
            product: f.text("product", input.product.as_deref(), SHORT_TEXT, false),
            model: f.text("model", input.model.as_deref(), SHORT_TEXT, false),
            problem: f.required_text("problem", Some(&input.problem), LONG_TEXT, true),
            resolution: f.text("resolution", input.resolution.as_deref(), LONG_TEXT, true),
            complaint_id: input.complaint_id,
        };
        f.finish()?;
        if let Some(id) = input.complaint_id {
            check_complaint(&self.app.config.pii_key, &mut tx, customer.id, id).await?;
        }
        tx.lock_audit_head().await?;
        let row = insert_service(
            &self.app.config.pii_key,
            &mut tx,
            actor,
            &customer,
            at,
            &service,
        )
        .await?;
        self.app
            .lifecycle()
            .settle_lifecycle(
                &mut tx,
                actor,
                customer.id,
                crate::lifecycle::Cause::record(row.id),
            )
            .await?;
        let mut shower = Shower::new(&self.app.config.pii_key, actor, customer);
        let (meta, body) = shower.show(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(Located::Here(service_view(meta, body)))
    }

    /// A customer's service records, newest first (`activity.read`).
    pub async fn list_service_records(
        &self,
        actor: &Actor,
        code: &str,
        q: &PageQuery,
    ) -> AppResult<Located<Page<ServiceRecordView>>> {
        self.list_records(
            actor,
            "activity.read",
            code,
            &[kind::SERVICE],
            q,
            service_view,
        )
        .await
    }
}

/// `id` must be a complaint of this customer.
async fn check_complaint(key: &PiiKey, tx: &mut Tx, customer_id: i64, id: i64) -> AppResult<()> {
    let row = tx.activity(customer_id, kind::INTERACTION, id).await?;
    let is_complaint = row
        .as_ref()
        .and_then(|r| super::records::decode::<super::interactions::Interaction>(key, r).ok())
        .is_some_and(|(_, i)| i.kind == "complaint");
    if is_complaint {
        return Ok(());
    }
    Err(AppError::validation(
        "complaint_id",
        custos_core::Violation::new(
            "service.complaint_unknown",
            format!("该客户没有编号为 {id} 的投诉"),
            format!("this customer has no complaint {id}"),
        ),
    ))
}
