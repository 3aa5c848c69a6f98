//! Loading a large benchmark database fast: synthetic customers validated and stored
//! with every row the read paths use (customer row, code registry, blind index, tags,
//! name grams, duplicate-check keys) in large transactions, but without history or audit
//! entries and without drawing codes from a rule. Only for `custos bench lookup`, whose
//! report says so; real data always goes through `create_customer(s)`.

use crate::customers::Customers;
use custos_store::{now_us, CodeRow};

use super::create::month_of;
use super::indexes::indexes_of;
use super::record::Draft;
use super::stored::fresh_row;
use super::validation::validate;
use crate::actor::Actor;
use crate::codes::issue_date;
use crate::demo_data::DemoCustomers;
use crate::error::{AppError, AppResult};

impl Customers<'_> {
    /// Store `n` synthetic customers (codes `X000000001`…) for a benchmark; returns the
    /// codes in order. Requires `system.backup` (an administrator's permission), since
    /// it writes without audit entries.
    pub async fn bench_bulk_load(
        &self,
        actor: &Actor,
        n: u64,
        seed: u64,
        mut progress: impl FnMut(u64),
    ) -> AppResult<Vec<String>> {
        actor.require("system.backup")?;
        let today = issue_date(self.app.config.code_timezone);
        let key = &self.app.config.pii_key.pinned();
        let mut gen = DemoCustomers::new(seed, today);
        let mut codes = Vec::with_capacity(n as usize);
        let mut done = 0u64;
        while done < n {
            let size = 2000.min(n - done);
            let mut tx = self.app.db.begin().await?;
            let reference = self.reference(&mut tx).await?;
            for _ in 0..size {
                done += 1;
                let mut raw = Draft::from(&gen.next_customer());
                raw.owner_id = Some(actor.user_id);
                let rec = validate(raw, today, &reference).map_err(AppError::Validation)?;
                let now = now_us();
                let code = format!("X{done:09}");
                let row = fresh_row(&code, &rec, key, actor.user_id, now);
                let id = tx
                    .insert_customer(&row, &month_of(now, self.app.config.code_timezone))
                    .await?;
                tx.insert_code(&CodeRow {
                    code: code.clone(),
                    customer_id: Some(id),
                    rule_key: None,
                    rule_version: None,
                    scope: None,
                    seq: None,
                    manual: true,
                    status: "active".into(),
                    redirect_to: None,
                    issued_at: now,
                    issued_by: Some(actor.user_id),
                    reason: Some("benchmark bulk load".into()),
                })
                .await?;
                tx.replace_customer_indexes(id, &indexes_of(&rec, key), true)
                    .await?;
                codes.push(code);
            }
            tx.commit().await?;
            progress(done);
        }
        self.app.db.after_bulk_write(n).await;
        Ok(codes)
    }
}
