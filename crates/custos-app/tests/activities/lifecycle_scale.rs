//! The daily life-cycle job and the two reports at scale, on SQLite (ignored by default:
//! it loads its own data). Customers, stage rows with their facts, order totals, orders
//! per month and lost transitions are written straight into the tables by SQL (the
//! use-case loader takes a quarter of an hour per million customers), then timed through
//! the use cases:
//!
//! ```sh
//! CUSTOS_SCALE_CUSTOMERS=1000000 cargo test -p custos-app --test activities \
//!     lifecycle_scale -- --ignored --nocapture
//! ```

use std::time::Instant;

use chrono::{Datelike, Months};
use custos_app::lifecycle::run_daily_at;
use custos_app::reports::MonthsQuery;
use custos_app::Scope;

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "loads N customers; run by hand (see the module's comment)"]
async fn lifecycle_scale() {
    let n: i64 = std::env::var("CUSTOS_SCALE_CUSTOMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t = setup(Backend::Sqlite).await.unwrap();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let start = today.checked_sub_months(Months::new(36)).unwrap();
    let admin = t.admin.user_id;
    let loaded = Instant::now();
    let sql = [
        // The statistics tallies are filled once afterwards, not row by row.
        "DROP TRIGGER customers_tally_insert".to_string(),
        format!(
            "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) \
             INSERT INTO customers (id, code, customer_type, name, name_key, status, owner_id, \
             department_id, data, created_at, updated_at, created_month) \
             SELECT 1000000 + i, 'L' || i, CASE WHEN i % 3 = 0 THEN 'individual' \
             ELSE 'enterprise' END, 'n' || i, 'n' || i, 'active', \
             CASE WHEN i % 100 = 0 THEN -{admin} ELSE {admin} END, i % 20 + 1, '{{}}', 0, 0, \
             substr(date('{start}', '+' || (i % 1095) || ' days'), 1, 7) FROM s"
        ),
        "INSERT INTO customer_tallies (owner_id, department_id, grp, key, n) \
         SELECT -1, -1, 'month', created_month, COUNT(*) FROM customers GROUP BY created_month"
            .to_string(),
        // Three in four customers have dealt, their first deal spread over three years;
        // their last record is up to 18 months back; 0–3 orders.
        format!(
            "INSERT INTO customer_lifecycle (customer_id, stage, since, rule, cause, \
             activity_id, first_deal_on, first_order_on, last_activity_on, order_count, \
             updated_at, owner_id, department_id, customer_type) \
             SELECT id, 'prospect', '{start}', 'no_deal', 'daily', NULL, \
             CASE WHEN id % 4 <> 0 THEN date('{start}', '+' || (id % 1095) || ' days') END, \
             CASE WHEN id % 4 <> 0 THEN date('{start}', '+' || (id % 1095) || ' days') END, \
             date('{today}', '-' || (id % 540) || ' days'), id % 4, 0, owner_id, department_id, \
             customer_type FROM customers"
        ),
        "INSERT INTO customer_order_totals (customer_id, total_fen, order_count, last_order_on) \
         SELECT customer_id, order_count * 10000, order_count, last_activity_on \
         FROM customer_lifecycle WHERE order_count > 0"
            .to_string(),
        "INSERT INTO customer_order_months (customer_id, month, order_count) \
         SELECT customer_id, substr(first_order_on, 1, 7), 1 FROM customer_lifecycle \
         WHERE order_count > 0 AND first_order_on IS NOT NULL"
            .to_string(),
        "INSERT INTO customer_order_months (customer_id, month, order_count) \
         SELECT customer_id, substr(last_activity_on, 1, 7), order_count - 1 \
         FROM customer_lifecycle WHERE order_count > 1 \
         AND substr(last_activity_on, 1, 7) > substr(first_order_on, 1, 7)"
            .to_string(),
        "INSERT INTO customer_lifecycle_transitions (customer_id, from_stage, to_stage, \
         on_date, at, rule, cause, activity_id) SELECT customer_id, 'dormant', 'lost', \
         date(last_activity_on, '+12 months'), 0, 'inactive_lost', 'daily', NULL \
         FROM customer_lifecycle WHERE customer_id % 5 = 0"
            .to_string(),
        "ANALYZE".to_string(),
    ];
    for s in &sql {
        t.db.db.execute_raw(s).await.unwrap();
    }
    println!(
        "loaded {n} customers with stage rows, totals, order months and lost transitions in {:.1} s",
        loaded.elapsed().as_secs_f64()
    );

    for label in ["first run (most stages change)", "second run, next day"] {
        let on = if label.starts_with("first") {
            today
        } else {
            today.succ_opt().unwrap()
        };
        let run = run_daily_at(&t.app, on).await.unwrap();
        println!(
            "daily job, {label}: {} customers, entered {:?}, {} ms",
            run.evaluated, run.entered, run.millis
        );
    }

    let mut own = t.admin.clone();
    for scope in own.permissions.values_mut() {
        *scope = Scope::Own;
    }
    let q = MonthsQuery::default();
    let wide = MonthsQuery {
        from: Some(format!("{:04}-{:02}", start.year(), start.month())),
        to: None,
    };
    for (who, actor) in [("scope all", &t.admin), ("scope own (99%)", &own)] {
        for (span, q) in [("12 months", &q), ("37 months", &wide)] {
            let mut ms = Vec::new();
            for _ in 0..5 {
                let at = Instant::now();
                let f = t.app.reports().customer_flow(actor, q).await.unwrap();
                ms.push(at.elapsed().as_secs_f64() * 1000.0);
                assert!(f.new_customers > 0);
            }
            println!("customer-flow, {who}, {span}: {}", spread(&mut ms));
            let mut ms = Vec::new();
            for _ in 0..5 {
                let at = Instant::now();
                let r = t.app.reports().repeat_purchase(actor, q).await.unwrap();
                ms.push(at.elapsed().as_secs_f64() * 1000.0);
                assert!(r.buyers > 0);
            }
            println!("repeat-purchase, {who}, {span}: {}", spread(&mut ms));
        }
    }
    t.db.cleanup().await;
}

/// Median and maximum of `ms`.
fn spread(ms: &mut [f64]) -> String {
    ms.sort_by(|a, b| a.total_cmp(b));
    format!(
        "median {:.0} ms, max {:.0} ms",
        ms[ms.len() / 2],
        ms[ms.len() - 1]
    )
}
