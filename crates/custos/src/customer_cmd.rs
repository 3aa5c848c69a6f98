//! `custos customer get|search` and `custos demo --customers N`.

use crate::output::outln;
use std::io::IsTerminal;
use std::time::Instant;

use clap::{Args, Subcommand};
use comfy_table::Table;
use indicatif::{ProgressBar, ProgressStyle};

use custos_app::customers::CustomerView;
use custos_app::search::CustomerQuery;
use custos_app::{Actor, App};

use crate::{print_json, Failure};

#[derive(Subcommand)]
pub enum CustomerCommand {
    /// Show one customer (personal data masked unless you may read it; such reads are audited).
    Get {
        /// The customer's code (a merged or changed code leads to the current one).
        code: String,
        /// RFC 3339 time: the record as it was then.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Search customers within your data scope.
    Search(Box<SearchArgs>),
}

#[derive(Args)]
pub struct SearchArgs {
    /// Code prefix.
    #[arg(long)]
    code: Option<String>,
    /// Name contains (or, with --fuzzy, is similar to).
    #[arg(long)]
    name: Option<String>,
    /// Match --name by similarity (pinyin, look-alike characters) instead of substring.
    #[arg(long)]
    fuzzy: bool,
    /// Customer type.
    #[arg(long = "type")]
    customer_type: Option<String>,
    /// Region code prefix (11 = Beijing).
    #[arg(long)]
    region: Option<String>,
    /// Industry code (GB/T 4754 letter or digits).
    #[arg(long)]
    industry: Option<String>,
    /// Status: active, retired, archived, merged.
    #[arg(long)]
    status: Option<String>,
    /// Customer level (as configured, e.g. A, B, C).
    #[arg(long)]
    level: Option<String>,
    /// Owner's user id.
    #[arg(long)]
    owner: Option<i64>,
    /// Department id (and its sub-departments).
    #[arg(long)]
    department: Option<i64>,
    /// Has this tag.
    #[arg(long)]
    tag: Option<String>,
    /// Exact mobile (customer or contact).
    #[arg(long)]
    mobile: Option<String>,
    /// Exact ID number.
    #[arg(long)]
    id_number: Option<String>,
    /// id, code, name, created_at, updated_at; prefix - for descending.
    #[arg(long)]
    sort: Option<String>,
    /// Customers per page (at most 200).
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// Cursor printed by the previous page.
    #[arg(long)]
    cursor: Option<String>,
    /// Also count all matches.
    #[arg(long)]
    total: bool,
}

#[derive(Args)]
pub struct DemoArgs {
    /// How many synthetic customers to add.
    #[arg(long, default_value_t = 1000)]
    pub customers: u64,
    /// Random seed (same seed, same customers).
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Synthetic business records (follow-ups, complaints, contracts, orders …) to add,
    /// spread over every active customer.
    #[arg(long, default_value_t = 0)]
    pub activities: u64,
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

pub async fn run_customer(
    app: &App,
    actor: &Actor,
    cmd: &CustomerCommand,
    json: bool,
) -> Result<(), Failure> {
    match cmd {
        CustomerCommand::Get { code, as_of } => get(app, actor, code, as_of.as_deref(), json).await,
        CustomerCommand::Search(a) => search(app, actor, a, json).await,
    }
}

/// `custos customer get`: one customer as JSON or as tables of its fields and contacts.
async fn get(
    app: &App,
    actor: &Actor,
    code: &str,
    as_of: Option<&str>,
    json: bool,
) -> Result<(), Failure> {
    let as_of = match as_of {
        Some(t) => Some(
            chrono::DateTime::parse_from_rfc3339(t)
                .map_err(|e| Failure(format!("--as-of {t}: not an RFC 3339 time ({e})")))?
                .timestamp_micros(),
        ),
        None => None,
    };
    let v = app.get_customer_as_of(actor, code, as_of).await?;
    if json {
        print_json(&v);
    } else {
        print_customer(&v);
    }
    Ok(())
}

/// The tables of `custos customer get`: its fields (empty ones left out), then its
/// contacts; a note on stderr when personal data is masked.
fn print_customer(v: &CustomerView) {
    let mut t = Table::new();
    t.set_header(["字段 field", "值 value"]);
    for (k, val) in field_rows(v) {
        if !val.trim().is_empty() {
            t.add_row([k.to_string(), val]);
        }
    }
    outln!("{t}");
    if !v.contacts.is_empty() {
        let mut c = Table::new();
        c.set_header([
            "联系人 contact",
            "title",
            "mobile",
            "phone",
            "email",
            "primary",
        ]);
        for x in &v.contacts {
            c.add_row([
                x.name.clone(),
                opt(&x.title),
                opt(&x.mobile),
                opt(&x.phone),
                opt(&x.email),
                if x.is_primary {
                    "✓".into()
                } else {
                    String::new()
                },
            ]);
        }
        outln!("{c}");
    }
    if v.pii_masked {
        eprintln!("(personal data masked: you lack customer.pii.read)");
    }
}

/// The fields of a customer as (label, text) rows, in the order they are shown.
fn field_rows(v: &CustomerView) -> Vec<(&'static str, String)> {
    let region = [v.province.clone(), v.city.clone(), v.district.clone()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    vec![
        ("code", v.code.clone()),
        ("customer_type", v.customer_type.clone()),
        ("name", v.name.clone()),
        ("short_name", opt(&v.short_name)),
        ("status", v.status.clone()),
        ("uscc", opt(&v.uscc)),
        ("id_number", opt(&v.id_number)),
        ("legal_representative", opt(&v.legal_representative)),
        ("established_on", opt(&v.established_on)),
        (
            "registered_capital",
            v.registered_capital
                .map(|c| c.to_string())
                .unwrap_or_default(),
        ),
        (
            "industry",
            format!("{} {}", opt(&v.industry), opt(&v.industry_name)),
        ),
        ("scale", opt(&v.scale)),
        ("level", opt(&v.level)),
        ("source", opt(&v.source)),
        ("region", format!("{} {region}", opt(&v.region_code))),
        ("address", opt(&v.address)),
        ("postal_code", opt(&v.postal_code)),
        ("phone", opt(&v.phone)),
        ("mobile", opt(&v.mobile)),
        ("email", opt(&v.email)),
        ("website", opt(&v.website)),
        (
            "owner / department",
            format!(
                "{} / {}",
                v.owner_id.map(|o| o.to_string()).unwrap_or_default(),
                v.department_id.map(|o| o.to_string()).unwrap_or_default()
            ),
        ),
        ("tags", v.tags.join(", ")),
        ("credit_rating", opt(&v.credit_rating)),
        ("remarks", opt(&v.remarks)),
        ("version", v.version.to_string()),
        ("created_at", v.created_at.clone()),
        ("updated_at", v.updated_at.clone()),
    ]
}

/// `custos customer search`: a page of customers as JSON or a table, then the total
/// and the cursor of the next page.
async fn search(app: &App, actor: &Actor, a: &SearchArgs, json: bool) -> Result<(), Failure> {
    let q = CustomerQuery {
        code: a.code.clone(),
        name: a.name.clone(),
        fuzzy: Some(a.fuzzy),
        customer_type: a.customer_type.clone(),
        region: a.region.clone(),
        industry: a.industry.clone(),
        status: a.status.clone(),
        level: a.level.clone(),
        owner: a.owner,
        department: a.department,
        tag: a.tag.clone(),
        mobile: a.mobile.clone(),
        id_number: a.id_number.clone(),
        sort: a.sort.clone(),
        limit: Some(a.limit),
        cursor: a.cursor.clone(),
        total: Some(a.total),
        ..Default::default()
    };
    let page = app.search_customers(actor, q).await?;
    if json {
        print_json(&page);
        return Ok(());
    }
    let mut t = Table::new();
    let mut header = vec![
        "code", "type", "name", "status", "region", "industry", "level", "owner", "updated",
    ];
    if a.fuzzy {
        header.push("score");
    }
    t.set_header(header);
    for c in &page.items {
        let mut row = vec![
            c.code.clone(),
            c.customer_type.clone(),
            c.name.clone(),
            c.status.clone(),
            format!(
                "{} {}{}",
                opt(&c.region_code),
                opt(&c.province),
                opt(&c.city)
            ),
            opt(&c.industry),
            opt(&c.level),
            c.owner_id.map(|o| o.to_string()).unwrap_or_default(),
            c.updated_at.chars().take(19).collect(),
        ];
        if a.fuzzy {
            row.push(c.score.map(|s| format!("{s:.2}")).unwrap_or_default());
        }
        t.add_row(row);
    }
    outln!("{t}");
    if let Some(total) = page.total {
        outln!("total: {total}");
    }
    if let Some(c) = page.next_cursor {
        outln!("next page: --cursor {c}");
    }
    Ok(())
}

/// A fresh database has no admin yet: create it as `serve` would.
pub async fn ensure_admin(app: &App) -> Result<(), Failure> {
    let password = crate::config::secret_env("CUSTOS_ADMIN_PASSWORD")?;
    if let Some(generated) = app.ensure_admin(password).await? {
        eprintln!("==> created user 'admin' with password: {generated}");
        eprintln!("==> store it now; it will not be shown again");
    }
    Ok(())
}

pub async fn run_demo(
    app: &App,
    actor: &Actor,
    args: &DemoArgs,
    json: bool,
) -> Result<(), Failure> {
    let started = Instant::now();
    let bar = if std::io::stderr().is_terminal() && !json {
        let b = ProgressBar::new(args.customers);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} customers ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let n = app
        .add_demo_customers(actor, args.customers, args.seed, &[], |done| {
            bar.set_position(done);
        })
        .await?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let records = match args.activities {
        0 => 0,
        total => {
            app.add_demo_activities(actor, total, args.seed, |done| {
                if !json && done % 1_000_000 == 0 {
                    eprintln!("  {done} business records");
                }
            })
            .await?
        }
    };
    let record_secs = started.elapsed().as_secs_f64();
    if json {
        print_json(&serde_json::json!({
            "customers": n, "seconds": secs,
            "activities": records, "activity_seconds": record_secs,
        }));
    } else {
        outln!(
            "added {n} synthetic customers in {secs:.1} s ({:.0}/s)",
            n as f64 / secs.max(1e-9)
        );
        if records > 0 {
            outln!("added {records} synthetic business records in {record_secs:.1} s");
        }
    }
    Ok(())
}
