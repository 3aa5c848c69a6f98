//! 质量 in a real browser: the trend chart draws (a canvas in `[data-chart]`) under the
//! console's Content-Security-Policy without a violation, beside the KPIs and worklist.

use serde_json::json;

use crate::browser::Browser;
use crate::customers::seed_rules;
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn quality_page_draws_its_trend() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    body(
        t.post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "浏览器质量有限公司",
                   "region_code": "310104", "mobile": "13812348888"}),
        )
        .await,
        201,
    )
    .await;
    // One snapshot, so the trend has a point.
    t.app
        .quality()
        .take_quality_snapshot(custos_app::Source::Cli)
        .await
        .expect("snapshot");
    let Some(b) = Browser::start("quality_page", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.goto("/quality").await;
    b.wait_for("#quality-trend [data-chart] canvas").await;
    b.expect_text("#main h1", "数据质量", "quality page").await;
    b.expect_text("#quality-average", "86.1", "average score")
        .await;
    b.expect_text_containing("#quality-worklist", "浏览器质量有限公司", "worklist")
        .await;
    let n = b
        .client
        .execute("return window.custosCspViolations;", vec![])
        .await
        .ok()
        .and_then(|v| v.as_i64())
        .unwrap_or(-1);
    b.check(n == 0, &format!("quality page CSP violations: {n}"))
        .await;
    b.document("quality").await;
    b.close().await;
    t.stop().await;
}
