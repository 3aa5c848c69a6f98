//! `custos bench events`: what the event log costs a customer creation, and how fast the
//! change feed reads.
//!
//! 1. Creations through the real use case (`Customers::create_customer`, one transaction each,
//!    two events each: `customer.created` and `code.issued`), one after another.
//! 2. The event log's own share of a commit: one-row write transactions without and with
//!    two events each (`Demo::bench_event_commit_cost`), the difference per commit.
//! 3. Feed reads: the log filled with N events, then read from the start in pages of
//!    1,000 through `Events::read_events`, by a caller who sees everything and by one whose
//!    data scope (own customers) is checked per event.

use std::time::Instant;

use custos_app::customers::NewCustomer;
use custos_app::events::{EventQuery, MAX_LIMIT};
use custos_app::{Actor, App, Backend, Scope};

use crate::bench_common::{backend_name, fresh_app, machine, timed, BenchDb};
use crate::output::outln;

pub async fn events(
    backend: Backend,
    pg_url: Option<&str>,
    customers: usize,
    events: usize,
) -> Result<(), String> {
    outln!(
        "custos bench events — {} — backend {:?}",
        machine(),
        backend
    );
    outln!(
        "command: custos bench events --backend {} --customers {customers} --events {events}",
        backend_name(backend)
    );
    let BenchDb { app, admin, _dir } = fresh_app(backend, pg_url).await?;
    app.demo()
        .ensure_default_code_rules(&admin)
        .await
        .map_err(|e| e.to_string())?;

    let ms = timed!(
        customers,
        i,
        app.customers().create_customer(
            &admin,
            NewCustomer {
                customer_type: "enterprise".into(),
                name: format!("事件基准客户{i:07}有限公司"),
                region_code: Some("310104".into()),
                ..Default::default()
            },
        )
    );
    let total: f64 = ms.iter().sum();
    let mut sorted = ms.clone();
    sorted.sort_by(f64::total_cmp);
    let p99 = sorted
        .get((sorted.len() * 99 / 100).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or(0.0);
    outln!(
        "create_customer (2 events each): {customers} in {:.1} s = {:.0}/s, mean {:.2} ms, p99 {p99:.2} ms",
        total / 1000.0,
        customers as f64 / (total / 1000.0).max(1e-9),
        total / customers.max(1) as f64
    );
    let (without, with) = app.demo().bench_event_commit_cost(customers, 2).await?;
    let per = |s: f64| s * 1000.0 / customers.max(1) as f64;
    let added = per(with) - per(without);
    outln!(
        "one-row commit: {:.3} ms without events, {:.3} ms with 2 events: +{added:.3} ms per commit \
         ({:.1} % of a creation's mean)",
        per(without),
        per(with),
        100.0 * added / (total / customers.max(1) as f64).max(1e-9)
    );

    app.demo()
        .bench_fill_events(events, Some(admin.user_id), None)
        .await?;
    let mut scoped = admin.clone();
    scoped.permissions.insert("events.read".into(), Scope::Own);
    for (label, actor) in [("scope all", &admin), ("scope own", &scoped)] {
        let (read, secs) = read_feed(&app, actor).await?;
        outln!(
            "feed read ({label}): {read} events in {secs:.2} s = {:.0} events/s",
            read as f64 / secs.max(1e-9)
        );
    }
    Ok(())
}

/// Read the whole feed from the start in pages of the largest size; (events, seconds).
async fn read_feed(app: &App, actor: &Actor) -> Result<(usize, f64), String> {
    let t = Instant::now();
    let (mut after, mut read) = (0, 0);
    loop {
        let page = app
            .events()
            .read_events(
                actor,
                EventQuery {
                    after,
                    limit: Some(MAX_LIMIT),
                    ..EventQuery::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        read += page.events.len();
        if page.next == after {
            return Ok((read, t.elapsed().as_secs_f64()));
        }
        after = page.next;
    }
}
