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
    /// 查看一个客户 (get)：个人信息脱敏 (masking)，有权限时显示明文并记入操作日志。
    Get {
        /// 客户编码 (code)；被合并或变更的编码会转到现在的编码。
        code: String,
        /// RFC 3339 时间：显示客户在那一刻的样子 (as of)。
        #[arg(long)]
        as_of: Option<String>,
    },
    /// 查询客户 (search)，限于本人的数据范围 (data scope)。
    Search(Box<SearchArgs>),
}

#[derive(Args)]
pub struct SearchArgs {
    /// 客户编码前缀 (code prefix)。
    #[arg(long)]
    code: Option<String>,
    /// 名称包含该文字（加 --fuzzy 时为名称相似）。
    #[arg(long)]
    name: Option<String>,
    /// 按相似度 (fuzzy) 匹配 --name（拼音、形近字），而不是包含。
    #[arg(long)]
    fuzzy: bool,
    /// 客户类型 (customer type)。
    #[arg(long = "type")]
    customer_type: Option<String>,
    /// 行政区划代码前缀 (region code prefix)，11 为北京。
    #[arg(long)]
    region: Option<String>,
    /// 行业代码 (industry，GB/T 4754 的门类字母或大类数字)。
    #[arg(long)]
    industry: Option<String>,
    /// 状态 (status)：active、retired、archived、merged。
    #[arg(long)]
    status: Option<String>,
    /// 客户等级 (level)，按配置，如 A、B、C。
    #[arg(long)]
    level: Option<String>,
    /// 负责人 (owner) 的用户编号。
    #[arg(long)]
    owner: Option<i64>,
    /// 部门编号 (department id)，含下级部门。
    #[arg(long)]
    department: Option<i64>,
    /// 带有此标签 (tag)。
    #[arg(long)]
    tag: Option<String>,
    /// 手机号精确查找 (mobile)，客户本人或联系人的。
    #[arg(long)]
    mobile: Option<String>,
    /// 身份证号精确查找 (ID number)。
    #[arg(long)]
    id_number: Option<String>,
    /// 排序 (sort)：id、code、name、created_at、updated_at；前加 - 为降序。
    #[arg(long)]
    sort: Option<String>,
    /// 每页客户数 (limit)，最多 200。
    #[arg(long, default_value_t = 20)]
    limit: i64,
    /// 上一页输出的游标 (cursor)。
    #[arg(long)]
    cursor: Option<String>,
    /// 同时统计全部匹配的数量 (total)。
    #[arg(long)]
    total: bool,
}

#[derive(Args)]
pub struct DemoArgs {
    /// 加入多少个合成客户。
    #[arg(long, default_value_t = 1000)]
    pub customers: u64,
    /// 随机种子 (seed)：种子相同，客户相同。
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// 加入多少条合成的业务记录（跟进记录 follow-up、投诉 complaint、合同 contract、交易 order…），
    /// 分布在全部正常状态的客户上。
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
    let v = app
        .customers()
        .get_customer_as_of(actor, code, as_of)
        .await?;
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
    let page = app.customers().search_customers(actor, q).await?;
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
    if let Some(generated) = app.auth().ensure_admin(password).await? {
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
        .demo()
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
            app.activities()
                .add_demo_activities(actor, total, args.seed, |done| {
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
