//! 工作台 and 统计 in a real browser: the charts draw (a canvas in each `[data-chart]`)
//! under the console's Content-Security-Policy without a violation.

use serde_json::json;

use crate::browser::Browser;
use crate::customers::seed_rules;
use crate::helpers::*;

async fn violations(b: &Browser) -> i64 {
    b.client
        .execute("return window.custosCspViolations;", vec![])
        .await
        .ok()
        .and_then(|v| v.as_i64())
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_and_statistics_draw_their_charts() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let seeds = [
        ("北京星河科技有限公司", "110105", "65"),
        ("北京远山食品有限公司", "110108", "13"),
        ("上海蓝海贸易有限公司", "310104", "51"),
        ("广州南方物流有限公司", "440106", "54"),
        ("深圳前海软件有限公司", "440305", "65"),
        ("杭州西湖茶业有限公司", "330106", "01"),
    ];
    for (name, region, industry) in seeds {
        body(
            t.post(
                "/api/v1/customers",
                Some(&admin),
                json!({"customer_type": "enterprise", "name": name,
                       "region_code": region, "industry": industry}),
            )
            .await,
            201,
        )
        .await;
    }
    let Some(b) = Browser::start("dashboard_charts", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.goto("/").await;
    b.wait_for("[data-chart] canvas").await;
    b.expect_text("#main h1", "工作台", "dashboard").await;
    b.expect_text_containing("#recent", "北京星河科技有限公司", "recent customers")
        .await;
    let n = violations(&b).await;
    b.check(n == 0, &format!("dashboard CSP violations: {n}"))
        .await;
    b.document("dashboard").await;

    b.goto("/stats").await;
    b.wait_for("#figures-province [data-chart] canvas").await;
    b.expect_text("#stats-export", "导出 XLSX", "export button")
        .await;
    let n = violations(&b).await;
    b.check(n == 0, &format!("statistics CSP violations: {n}"))
        .await;
    b.document("stats").await;
    b.close().await;
    t.stop().await;
}
