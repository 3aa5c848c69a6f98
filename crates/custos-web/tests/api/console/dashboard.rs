//! 工作台 and 统计 over HTTP on both databases: figures within the viewer's data scope,
//! each linking to the customer list it counts; no figures without `stats.read`; the
//! statistics as an XLSX download.

use serde_json::json;

use super::pages::Visitor;
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

/// An enterprise customer, owned by `owner` (the administrator when `None`).
async fn customer(
    t: &TestApp,
    admin: &str,
    name: &str,
    owner: Option<i64>,
    region: &str,
    industry: &str,
) {
    let mut c = json!({"customer_type": "enterprise", "name": name,
                       "region_code": region, "industry": industry});
    if let Some(o) = owner {
        c["owner_id"] = json!(o);
    }
    body(t.post("/api/v1/customers", Some(admin), c).await, 201).await;
}

/// The number a figure link shows: `<a href="{href}" data-figure="{group}">N</a>`.
fn figure(html: &str, href: &str, group: &str) -> Option<i64> {
    let marker = format!(
        "href=\"{}\" data-figure=\"{group}\">",
        href.replace('&', "&#38;")
    );
    html.split(&marker)
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .and_then(|n| n.trim().parse().ok())
}

backend_test!(dashboard_figures_stay_in_scope_and_link_to_the_list, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let clerk = t
        .create_user(
            &admin,
            "clerk_own",
            None,
            json!([{"role": "clerk", "scope": "own"}, {"role": "executive", "scope": "own"}]),
        )
        .await;
    customer(
        &t,
        &admin,
        "北京一号科技有限公司",
        Some(clerk),
        "110105",
        "65",
    )
    .await;
    customer(
        &t,
        &admin,
        "北京二号制造有限公司",
        Some(clerk),
        "110108",
        "13",
    )
    .await;
    customer(&t, &admin, "上海三号贸易有限公司", None, "310104", "51").await;

    let mut v = Visitor::new(&t);
    v.login("clerk_own", USER_PASSWORD).await;
    let r = v.get("/").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    // Only the clerk's own two customers are counted.
    assert_eq!(figure(&html, "/customers", "total"), Some(2), "{html}");
    assert_eq!(figure(&html, "/customers?type=enterprise", "type"), Some(2));
    assert_eq!(figure(&html, "/customers?status=active", "status"), Some(2));
    assert_eq!(figure(&html, "/customers?region=11", "province"), Some(2));
    assert_eq!(figure(&html, "/customers?region=31", "province"), None);
    assert_eq!(figure(&html, "/customers?industry=I", "section"), Some(1));
    assert_eq!(figure(&html, "/customers?industry=C", "section"), Some(1));
    assert!(!html.contains("上海三号"), "another owner's customer shown");
    // Business terms and region names, not codes.
    assert!(
        html.contains("企业客户") && html.contains("北京市"),
        "{html}"
    );
    // This month's new customers link to the list by creation time.
    let month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .format("%Y-%m")
        .to_string();
    assert!(html.contains(&month));
    let month_link =
        format!("/customers?created_from={month}-01T00%3A00%3A00%2B08%3A00&#38;created_to=");
    assert!(html.contains(&month_link), "{month_link}");
    // The recent customers are the clerk's own.
    assert!(html.contains("北京一号科技有限公司") && html.contains("id=\"recent\""));
    // Charts load ECharts on this page only.
    assert!(html.contains("data-chart") && html.contains("echarts.min.js"));

    let mut a = Visitor::new(&t);
    a.login("admin", ADMIN_PASSWORD).await;
    let html = a.get("/").await.text().await.unwrap();
    assert_eq!(figure(&html, "/customers", "total"), Some(3));
    assert_eq!(figure(&html, "/customers?region=31", "province"), Some(1));
    assert!(html.contains("id=\"tasks\""), "an approver sees the tasks");
});

backend_test!(no_figures_without_stats_read, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    t.create_user(
        &admin,
        "looker",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let mut v = Visitor::new(&t);
    v.login("looker", USER_PASSWORD).await;
    let r = v.get("/").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(!html.contains("data-chart") && !html.contains("figures-total"));
    assert!(!html.contains("echarts.min.js") && !html.contains("href=\"/stats\""));
    assert!(html.contains("id=\"recent\""));
    assert!(!html.contains("id=\"tasks\""), "not an approver");
    let r = v.get("/stats").await;
    assert_eq!(r.status(), 403);
    let csrf = v.csrf().await;
    let r = v.post("/stats/export.xlsx", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 403);
});

backend_test!(statistics_page_and_its_xlsx, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    t.create_user(
        &admin,
        "boss",
        None,
        json!([{"role": "executive", "scope": "all"}]),
    )
    .await;
    customer(&t, &admin, "深圳四号软件有限公司", None, "440305", "65").await;
    // Two orders today: one new customer this month, one buyer of two orders.
    let list = body(t.get("/api/v1/customers", &admin).await, 200).await;
    let code = list["items"][0]["code"].as_str().unwrap().to_string();
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .to_string();
    for doc in ["SO-1", "SO-2"] {
        let order = json!({"source_system": "erp", "document_number": doc,
                           "date": today, "amount": 10});
        let path = format!("/api/v1/customers/{code}/orders");
        body(t.post(&path, Some(&admin), order).await, 201).await;
    }
    // A follow-up planned for today: after the daily job, a reminder for the owner
    // (the administrator) on the dashboard and at /api/v1/reminders.
    let path = format!("/api/v1/customers/{code}/followups");
    let f = json!({"channel": "call", "content": "回访", "next_date": today});
    body(t.post(&path, Some(&admin), f).await, 201).await;
    let day = chrono::NaiveDate::parse_from_str(&today, "%Y-%m-%d").unwrap();
    let run = custos_app::lifecycle::run_daily_at(&t.app, day)
        .await
        .unwrap();
    assert_eq!(run.reminders, 1);
    let mine = body(t.get("/api/v1/reminders", &admin).await, 200).await;
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{mine}");
    assert_eq!(mine[0]["customer_code"], code.as_str());
    let mut a = Visitor::new(&t);
    a.login("admin", ADMIN_PASSWORD).await;
    let html = a.get("/").await.text().await.unwrap();
    assert!(html.contains("id=\"reminders\"") && html.contains("今日提醒"));
    assert!(html.contains(&format!("<a href=\"/customers/{code}\">{code}</a>")));

    let mut v = Visitor::new(&t);
    v.login("boss", USER_PASSWORD).await;
    let r = v.get("/stats").await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"report-flow\"") && html.contains("id=\"report-repeat\""));
    assert!(
        html.contains("<span id=\"report-rate\">100.0%（1/1）</span>"),
        "{html}"
    );
    let month = &today[..7];
    let row = format!("<tr><td>{month}</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">0</td></tr>");
    assert!(html.contains(&row), "{row}");
    assert_eq!(figure(&html, "/customers", "total"), Some(1));
    assert_eq!(figure(&html, "/customers?region=4403", "city"), Some(1));
    assert_eq!(figure(&html, "/customers?industry=65", "industry"), Some(1));
    assert!(html.contains("导出 XLSX") && html.contains("data-chart"));

    let r = v.post("/stats/export.xlsx", &[("csrf", "wrong")]).await;
    assert_eq!(r.status(), 403);
    let csrf = Visitor::hidden(&html, "csrf");
    let r = v.post("/stats/export.xlsx", &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let file = r.bytes().await.unwrap().to_vec();
    assert!(file.starts_with(b"PK\x03\x04"));
    let has = |needle: &[u8]| file.windows(needle.len()).any(|w| w == needle);
    assert!(has(b"xl/workbook.xml") && has(b"xl/worksheets/sheet1.xml"));
    assert!(has(b"[Content_Types].xml"));
    // The download is audited.
    let audit = body(
        t.get("/api/v1/audit?action=stats.export", &admin).await,
        200,
    )
    .await;
    assert!(audit.to_string().contains("stats.export"), "{audit}");
});

/// The page weight budget: a page without charts carries at most 100 KB of compressed
/// script and style; ECharts comes only with chart pages.
#[tokio::test]
async fn assets_go_out_gzipped_within_the_page_budget() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let mut sizes = Vec::new();
    for name in ["console.css", "console.js", "htmx.min.js", "echarts.min.js"] {
        let r = t
            .client
            .get(format!("{}/assets/{name}", t.base))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{name}");
        assert_eq!(r.headers()["content-encoding"], "gzip", "{name}");
        sizes.push(r.bytes().await.unwrap().len());
    }
    let without_charts: usize = sizes[..3].iter().sum();
    assert!(without_charts <= 100_000, "{without_charts} bytes");
    // Plain for clients that do not ask for gzip.
    let r = t
        .client
        .get(format!("{}/assets/console.js", t.base))
        .send()
        .await
        .unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    t.stop().await;
}
