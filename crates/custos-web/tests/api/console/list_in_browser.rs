//! The customer list in a real browser: filter by name, the region cascader loading a
//! province's cities, opening a customer, exporting the list and downloading the file.

use serde_json::json;

use crate::browser::Browser;
use crate::customers::{create, seed_rules};
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn filter_cascade_open_and_export_in_the_browser() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let Some(b) = Browser::start("customer_list", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    for body in [
        json!({"customer_type": "enterprise", "name": "上海甲贸易有限公司", "region_code": "310101", "industry": "51", "level": "A"}),
        json!({"customer_type": "enterprise", "name": "北京乙科技有限公司", "region_code": "110108", "industry": "65"}),
        json!({"customer_type": "enterprise", "name": "深圳丙电子有限公司", "region_code": "440305", "industry": "39", "mobile": "13800138000"}),
        json!({"customer_type": "enterprise", "name": "广州丁物流有限公司", "region_code": "440106", "industry": "54"}),
        json!({"customer_type": "individual", "name": "张三", "mobile": "13987654321", "region_code": "330106"}),
        json!({"customer_type": "individual", "name": "李四", "mobile": "13612345678", "region_code": "320102"}),
    ] {
        create(&t, &admin, body).await;
    }
    b.login("admin", ADMIN_PASSWORD).await;
    b.goto("/customers").await;
    b.wait_for("#customer-table").await;
    b.document("customers").await;

    // Filter by name: the row is there, and the address carries only what was chosen.
    b.fill("#name", "甲贸易").await;
    b.click("#search").await;
    b.expect_text_containing("#customer-table", "上海甲贸易有限公司", "filtered row")
        .await;
    let path = b.path().await;
    b.check(
        path.contains("name=") && !path.contains("code=") && !path.contains("region="),
        "empty fields stay out of the address",
    )
    .await;
    let rows = b.text("#customer-table tbody").await;
    b.check(!rows.contains("北京乙科技"), "other rows filtered out")
        .await;

    // The cascader: choosing a province loads its cities.
    b.wait_for("#region-province")
        .await
        .select_by_value("440000")
        .await
        .expect("select province");
    b.expect_text_containing("#region-city", "深圳市", "cities of Guangdong")
        .await;
    b.wait_for("#region-city")
        .await
        .select_by_value("440300")
        .await
        .expect("select city");
    b.expect_text_containing("#region-county", "南山区", "districts of Shenzhen")
        .await;
    b.fill("#name", "").await;
    b.click("#search").await;
    b.expect_text_containing("#customer-table", "深圳丙电子有限公司", "Shenzhen only")
        .await;
    let path = b.path().await;
    b.check(path.contains("region=440300"), "one region value: the city")
        .await;
    b.check(
        !b.text("#customer-table tbody").await.contains("广州丁物流"),
        "Guangzhou filtered out",
    )
    .await;

    // Export this list: progress, then the download link.
    b.click("#export").await;
    b.wait_for("#export-download").await;
    b.goto("/exports").await;
    b.wait_for("#export-table").await;
    b.document("exports").await;

    // Open a customer from the list.
    b.goto("/customers?type=enterprise").await;
    b.click("#customer-table tbody tr:first-child a").await;
    for _ in 0..50 {
        if b.path().await != "/customers?type=enterprise" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let path = b.path().await;
    b.check(
        path.starts_with("/customers/C"),
        "the row opens the customer",
    )
    .await;
    b.close().await;
    t.stop().await;
}
