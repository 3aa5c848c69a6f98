//! The stored form of a service record (服务记录) and its insert, shared by service records
//! opened by hand and those a complaint opens, so neither file needs the other.

use custos_store::{ActivityRow, CustomerRow, Tx};
use serde::{Deserialize, Serialize};

use super::kind;
use super::records::{insert_record, Body, Placement};
use crate::actor::Actor;
use crate::error::AppResult;
use crate::pii::PiiKey;

/// The fields of a service record.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ServiceRecord {
    pub served_at: String,
    pub product: Option<String>,
    pub model: Option<String>,
    pub problem: String,
    pub resolution: Option<String>,
    pub complaint_id: Option<i64>,
}

impl Body for ServiceRecord {
    fn texts(&mut self) -> Vec<&mut String> {
        [Some(&mut self.problem), self.resolution.as_mut()]
            .into_iter()
            .flatten()
            .collect()
    }
}

/// Store a service record (opened by hand or by a complaint) with its audit entry.
pub(crate) async fn insert_service(
    key: &PiiKey,
    tx: &mut Tx,
    actor: &Actor,
    customer: &CustomerRow,
    at: i64,
    service: &ServiceRecord,
) -> AppResult<ActivityRow> {
    let placement = Placement {
        occurred_at: at,
        linked_id: service.complaint_id,
        ..Default::default()
    };
    insert_record(key, tx, actor, customer, kind::SERVICE, placement, service).await
}
