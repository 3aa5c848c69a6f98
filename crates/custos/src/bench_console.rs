//! `custos bench console`: server time of the use cases behind the console's busiest pages
//! — the dashboard (工作台) for a viewer of scope `all` and one of scope `own`, the
//! filtered customer list's first page, a customer's detail, the duplicate review
//! queue's first page and one group side by side, and the rule designer's preview — on N
//! bulk-loaded customers, called in-process as the page handlers call them.

use crate::output::outln;

use custos_app::codes::{code_rule_templates, SampleCustomer};
use custos_app::customers::review::GroupQuery;
use custos_app::search::CustomerQuery;
use custos_app::{Backend, Scope};

use crate::bench_common::{backend_name, fresh_app, machine, timed, BenchDb};
use crate::bench_lookup::{bulk_load, create_reader, percentiles, sample_customers};

/// Sizes of `custos bench console`.
pub struct ConsoleRun {
    pub customers: u64,
    /// Timed calls of the list and the detail.
    pub queries: usize,
    /// Timed dashboards per viewer.
    pub dashboards: usize,
}

pub async fn console(
    backend: Backend,
    pg_url: Option<&str>,
    run: ConsoleRun,
) -> Result<(), String> {
    let ConsoleRun {
        customers,
        queries,
        dashboards,
    } = run;
    outln!(
        "custos bench console — {} — backend {:?}",
        machine(),
        backend
    );
    outln!(
        "command: custos bench console --backend {} --customers {customers} --queries {queries} --dashboards {dashboards}",
        backend_name(backend)
    );
    let BenchDb { app, admin, _dir } = fresh_app(backend, pg_url).await?;
    let codes = bulk_load(&app, &admin, customers).await?;
    create_reader(&app, &admin).await?;
    let reader = app
        .auth()
        .actor_for_username("reader", admin.ctx.clone())
        .await
        .map_err(|e| e.to_string())?;
    // The bulk loader makes the administrator the owner of every customer, so the same
    // user with every permission narrowed to `own` is the worst case of an own-scope
    // viewer: all rows are theirs and the scope condition filters none out.
    let mut own = admin.clone();
    for scope in own.permissions.values_mut() {
        *scope = Scope::Own;
    }
    let today = chrono::Utc::now().date_naive();
    let samples = sample_customers(customers, queries, today);

    // On PostgreSQL the first dashboard of a scope counts its customers and later ones
    // within `stats_cache_ttl` reuse the counts, as a running server does; SQLite reads
    // its tallies every time, so both lines measure the same work there.
    let ms = timed!(1, _i, app.reports().dashboard(&admin));
    outln!("dashboard, scope all, counting    {}", percentiles(ms));
    let ms = timed!(dashboards, _i, app.reports().dashboard(&admin));
    outln!("dashboard, scope all, counts kept {}", percentiles(ms));
    let ms = timed!(1, _i, app.reports().dashboard(&own));
    outln!("dashboard, scope own, counting    {}", percentiles(ms));
    let ms = timed!(dashboards, _i, app.reports().dashboard(&own));
    outln!("dashboard, scope own, counts kept {}", percentiles(ms));
    let ms = timed!(samples.len(), i, {
        let s = &samples[i];
        let region = s.region_code.clone().unwrap_or_default();
        let q = CustomerQuery {
            customer_type: Some(s.customer_type.clone()),
            region: Some(region[..4.min(region.len())].to_string()),
            status: Some("active".into()),
            limit: Some(50),
            ..Default::default()
        };
        app.customers().search_customers(&reader, q)
    });
    outln!("list first page (50)   {}", percentiles(ms));
    let ms = timed!(queries, i, {
        let code = &codes[(i * 1_000_003 + 17) % codes.len()];
        app.customers().get_customer(&reader, code)
    });
    outln!("customer detail        {}", percentiles(ms));
    let groups = app.demo().bench_queue_groups(&codes).await?;
    let ms = timed!(
        queries,
        _i,
        app.customers()
            .duplicate_queue(&admin, GroupQuery::default())
    );
    outln!(
        "review queue first page ({} groups) {}",
        groups.len(),
        percentiles(ms)
    );
    let ms = timed!(queries, i, {
        let id = groups[(i * 7919 + 3) % groups.len()];
        app.customers().duplicate_review(&admin, id, None)
    });
    outln!("review group side by side {}", percentiles(ms));
    // The rule designer's check and preview of a rule composed over the key the codes
    // were issued from: its real counters and the registry are read, nothing is consumed.
    let mut rule = code_rule_templates()
        .into_iter()
        .next()
        .ok_or("no rule template")?
        .rule;
    rule.key = "enterprise".into();
    let sample = SampleCustomer {
        customer_type: "enterprise".into(),
        region_code: Some("110105".into()),
        ..Default::default()
    };
    let ms = timed!(
        queries,
        _i,
        app.codes()
            .check_code_rule(&admin, rule.clone(), sample.clone())
    );
    outln!("rule designer preview  {}", percentiles(ms));
    let _ = app.db.drop_schema().await;
    app.db.close().await;
    Ok(())
}
