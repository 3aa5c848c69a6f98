//! Contracts (合同): number (unique per customer), dates, amount in fen, currency,
//! status draft → signed → terminated | expired (a draft may also be terminated).
//! Signing a customer's first contract moves its cooperation status by the configured
//! rule ([`super::CooperationRule`]) through the customer change path, so the move is in
//! the customer's history and audit like any change.

use crate::activities::Activities;
use chrono::{NaiveDate, TimeZone};
use custos_core::Violation;
use custos_store::{ActivityRow, CustomerRow, Tx};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{yuan_text, Form, KEY_TEXT, LONG_TEXT};
use super::records::{
    decode, insert_record, update_record, Body, Page, PageQuery, Placement, RecordMeta, Shower,
};
use super::{check_writable, kind, locate, Located};
use crate::actor::Actor;
use crate::error::{AppError, AppResult};
use crate::input::Input;
use crate::text_input::refuse_in;

pub const CONTRACT_STATUSES: &[&str] = &["draft", "signed", "terminated", "expired"];
/// Statuses of a contract that was signed.
const SIGNED: &[&str] = &["signed", "terminated", "expired"];

/// A contract to add.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContract {
    /// Contract number, unique among the customer's contracts.
    pub number: String,
    /// `YYYY-MM-DD`; required for a signed contract.
    #[serde(default)]
    pub signed_on: Option<String>,
    /// Amount in yuan: a number or a decimal text with at most two decimals.
    #[schema(value_type = String, example = "128000.00")]
    pub amount: Value,
    /// ISO 4217 (default CNY).
    #[serde(default)]
    pub currency: Option<String>,
    /// Products and services.
    #[serde(default)]
    pub products: Option<String>,
    #[serde(default)]
    pub first_payment_on: Option<String>,
    #[serde(default)]
    pub service_expires_on: Option<String>,
    /// `draft` (default) or `signed`.
    #[serde(default)]
    pub status: Option<String>,
}

/// The fields of a contract.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contract {
    pub number: String,
    pub signed_on: Option<String>,
    /// In yuan, two decimals.
    pub amount: String,
    pub amount_fen: i64,
    pub currency: String,
    pub products: Option<String>,
    pub first_payment_on: Option<String>,
    pub service_expires_on: Option<String>,
    pub status: String,
}

impl Body for Contract {
    fn texts(&mut self) -> Vec<&mut String> {
        self.products.as_mut().into_iter().collect()
    }
}

/// A change of a contract's status.
#[derive(Debug, Clone, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContractPatch {
    /// draft → signed | terminated; signed → terminated | expired.
    pub status: String,
    /// `YYYY-MM-DD`, when signing a contract that has no date yet.
    #[serde(default)]
    pub signed_on: Option<String>,
}

/// A contract as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ContractView {
    #[serde(flatten)]
    pub meta: RecordMeta,
    #[serde(flatten)]
    pub contract: Contract,
}

pub(crate) fn contract_view(meta: RecordMeta, contract: Contract) -> ContractView {
    ContractView { meta, contract }
}

impl Activities<'_> {
    /// Add a contract (`activity.write`); a signed first contract moves the customer's
    /// cooperation status.
    pub async fn add_contract(
        &self,
        actor: &Actor,
        code: &str,
        input: impl Into<Input<NewContract>>,
    ) -> AppResult<Located<ContractView>> {
        let mut tx = self.app.db.begin().await?;
        let customer = match locate(&mut tx, actor, "activity.write", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let input = input.into().get()?;
        refuse_in("", &input)?;
        check_writable(&customer)?;
        let contract = checked_contract(&input)?;
        tx.lock_audit_head().await?;
        check_number_free(&mut tx, customer.id, &contract.number).await?;
        let placement = Placement {
            occurred_at: self.day_start(contract.signed_on.as_deref()),
            status: Some(contract.status.clone()),
            ref_key: Some(contract.number.clone()),
            amount_fen: Some(contract.amount_fen),
            ..Default::default()
        };
        let row = insert_record(
            &self.app.config.pii_key,
            &mut tx,
            actor,
            &customer,
            kind::CONTRACT,
            placement,
            &contract,
        )
        .await?;
        if contract.status == "signed" {
            self.on_signed(&mut tx, actor, &customer, &row, &contract)
                .await?;
        }
        tx.set_activity_due(row.id, contract.service_expires_on.as_deref())
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
        Ok(Located::Here(contract_view(meta, body)))
    }

    /// Change a contract's status (`activity.write`).
    pub async fn update_contract(
        &self,
        actor: &Actor,
        code: &str,
        id: i64,
        patch: impl Into<Input<ContractPatch>>,
    ) -> AppResult<Located<ContractView>> {
        let mut tx = self.app.db.begin().await?;
        let customer = match locate(&mut tx, actor, "activity.write", code).await? {
            Located::Here(c) => c,
            Located::Moved { survivor } => return Ok(Located::Moved { survivor }),
        };
        let mut row = tx
            .activity(customer.id, kind::CONTRACT, id)
            .await?
            .ok_or_else(|| AppError::not_found("contract", id))?;
        let patch = patch.into().get()?;
        refuse_in("", &patch)?;
        let (_, before) = decode::<Contract>(&self.app.config.pii_key, &row)?;
        let after = changed_contract(&before, &patch)?;
        if after.status == "signed" {
            check_writable(&customer)?;
        }
        tx.lock_audit_head().await?;
        row.status = Some(after.status.clone());
        if after.signed_on != before.signed_on {
            // A contract takes its place in the lists by its signing date.
            row.occurred_at = self.day_start(after.signed_on.as_deref());
        }
        update_record(
            &self.app.config.pii_key,
            &mut tx,
            actor,
            &customer,
            &mut row,
            &before,
            &after,
        )
        .await?;
        if after.status == "signed" {
            self.on_signed(&mut tx, actor, &customer, &row, &after)
                .await?;
        }
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
        Ok(Located::Here(contract_view(meta, body)))
    }

    /// A customer's contracts, newest first (`activity.read`).
    pub async fn list_contracts(
        &self,
        actor: &Actor,
        code: &str,
        q: &PageQuery,
    ) -> AppResult<Located<Page<ContractView>>> {
        self.list_records(
            actor,
            "activity.read",
            code,
            &[kind::CONTRACT],
            q,
            contract_view,
        )
        .await
    }

    /// A contract was just signed: when it is the customer's first, its cooperation
    /// status moves by the configured rule.
    async fn on_signed(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        customer: &CustomerRow,
        row: &ActivityRow,
        contract: &Contract,
    ) -> AppResult<()> {
        let others = tx
            .count_activities_in_status(customer.id, kind::CONTRACT, SIGNED, row.id)
            .await?;
        if others > 0 {
            return Ok(());
        }
        let rule = &self.app.config.activities.cooperation;
        let reason = format!("签订首份合同 {}", contract.number);
        self.app
            .customers()
            .move_cooperation_status_in(tx, actor, customer, "contract_signed", reason, |level| {
                rule.next(level)
            })
            .await?;
        Ok(())
    }

    /// The start of a day in the business time zone (absent: now), in microseconds.
    pub(crate) fn day_start(&self, date: Option<&str>) -> i64 {
        date.and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|t| {
                self.app
                    .config
                    .code_timezone
                    .from_local_datetime(&t)
                    .earliest()
            })
            .map_or_else(custos_store::now_us, |t| t.timestamp_micros())
    }
}

fn checked_contract(input: &NewContract) -> AppResult<Contract> {
    let mut f = Form::default();
    let number = f.required_text("number", Some(&input.number), KEY_TEXT, false);
    let signed_on = f.date("signed_on", input.signed_on.as_deref());
    let amount_fen = f.amount("amount", Some(&input.amount));
    if amount_fen.is_none() && f.errors.iter().all(|e| e.field != "amount") {
        f.required("amount");
    }
    let currency = f.currency("currency", input.currency.as_deref());
    let products = f.text("products", input.products.as_deref(), LONG_TEXT, true);
    let first_payment_on = f.date("first_payment_on", input.first_payment_on.as_deref());
    let service_expires_on = f.date("service_expires_on", input.service_expires_on.as_deref());
    let status = f
        .one_of("status", input.status.as_deref(), &["draft", "signed"])
        .unwrap_or_else(|| "draft".into());
    if status == "signed" && signed_on.is_none() {
        f.required("signed_on");
    }
    if let (Some(s), Some(e)) = (signed_on, service_expires_on) {
        if e < s {
            f.errors.push(
                Violation::new(
                    "contract.expiry_before_signing",
                    "服务到期日不能早于签订日期",
                    "the service expiry date must not be before the signing date",
                )
                .on("service_expires_on"),
            );
        }
    }
    f.finish()?;
    let amount_fen = amount_fen.unwrap_or_default();
    Ok(Contract {
        number,
        signed_on: signed_on.map(|d| d.to_string()),
        amount: yuan_text(amount_fen),
        amount_fen,
        currency,
        products,
        first_payment_on: first_payment_on.map(|d| d.to_string()),
        service_expires_on: service_expires_on.map(|d| d.to_string()),
        status,
    })
}

/// The contract after `patch`, or why the status may not change so.
fn changed_contract(before: &Contract, patch: &ContractPatch) -> AppResult<Contract> {
    let mut f = Form::default();
    let next = f.one_of("status", Some(&patch.status), CONTRACT_STATUSES);
    if patch.status.trim().is_empty() {
        f.required("status");
    }
    let signed_on = f.date("signed_on", patch.signed_on.as_deref());
    f.finish()?;
    let next = next.unwrap_or_default();
    let allowed = match before.status.as_str() {
        "draft" => &["signed", "terminated"][..],
        "signed" => &["terminated", "expired"][..],
        _ => &[][..],
    };
    if !allowed.contains(&next.as_str()) {
        return Err(AppError::validation(
            "status",
            Violation::new(
                "contract.status_transition",
                format!("合同状态不能从 {} 改为 {next}", before.status),
                format!("a contract cannot go from {} to {next}", before.status),
            ),
        ));
    }
    let mut after = before.clone();
    after.status = next;
    if after.status == "signed" {
        after.signed_on = signed_on.map(|d| d.to_string()).or(after.signed_on);
        if after.signed_on.is_none() {
            return Err(AppError::validation(
                "signed_on",
                Violation::new(
                    "required",
                    "签订合同须填写签订日期 signed_on",
                    "signing a contract needs its date signed_on",
                ),
            ));
        }
    }
    Ok(after)
}

/// A customer's contract numbers are unique.
async fn check_number_free(tx: &mut Tx, customer_id: i64, number: &str) -> AppResult<()> {
    let n = tx
        .count_activities_with_ref(customer_id, kind::CONTRACT, number, 0)
        .await?;
    if n == 0 {
        return Ok(());
    }
    Err(AppError::Conflict(Violation::new(
        "contract.number_taken",
        format!("该客户已有编号为“{number}”的合同"),
        format!("this customer already has a contract numbered '{number}'"),
    )))
}
