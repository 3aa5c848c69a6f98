//! 查重审核 in a real browser: a steward opens a group from the queue, keeps one
//! customer but takes the other's name, merges, sees the survivor with that name and the
//! merged code leading to it, then undoes the merge from the survivor's 编码 tab.

use serde_json::json;

use crate::browser::Browser;
use crate::customers::seed_rules;
use crate::helpers::*;

const KEPT: &str = "杭州西湖茶叶有限公司";
const TAKEN: &str = "杭州西湖茶叶有限责任公司";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merge_a_group_choosing_a_field_then_undo() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let uscc = custos_core::ident::Uscc::with_check("91330106MA27XH001")
        .expect("valid uscc")
        .as_str()
        .to_string();
    let mut codes = Vec::new();
    for name in [KEPT, TAKEN] {
        let r = t
            .post(
                "/api/v1/customers",
                Some(&admin),
                json!({"customer_type": "enterprise", "name": name, "uscc": uscc,
                       "region_code": "330106", "override_duplicates": true,
                       "reason": "历史数据"}),
            )
            .await;
        codes.push(body(r, 201).await["code"].as_str().unwrap().to_string());
    }
    let (kept, taken) = (codes[0].clone(), codes[1].clone());
    let s = t
        .post("/api/v1/duplicates/scan", Some(&admin), json!({}))
        .await;
    assert_eq!(body(s, 200).await["new_groups"], 1);

    let Some(b) = Browser::start("duplicates_in_browser", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.goto("/duplicates").await;
    b.wait_for("#dup-table").await;
    b.expect_text_containing("#dup-table", &kept, "the group lists its members")
        .await;
    b.document("duplicates").await;
    b.click("#dup-table a[id^=\"open-\"]").await;
    b.wait_for("#side-by-side").await;
    b.document("duplicate-group").await;
    b.expect_text_containing("#survivor-mark", "保留", "the oldest stays by default")
        .await;
    b.check(
        b.text(&format!("#head-{kept}")).await.contains("保留"),
        "the first customer is the survivor",
    )
    .await;
    // Take the other customer's name; keep everything else by default.
    b.click(&format!("#pick-name-{taken}")).await;
    b.fill("#merge-reason", "同一家单位").await;
    b.click("#merge").await;
    b.wait_for("#merges").await;
    b.expect_text_containing("h1", TAKEN, "the survivor has the chosen name")
        .await;
    b.expect_text_containing("h1", &kept, "under the survivor's code")
        .await;

    // The merged code leads to the survivor.
    b.goto(&format!("/customers/{taken}")).await;
    b.wait_for("#merged-from").await;
    b.expect_text_containing("#merged-from", &taken, "says where it came from")
        .await;
    b.expect_text_containing("h1", &kept, "the survivor's page")
        .await;

    // Undo from the survivor's 编码 tab.
    b.goto(&format!("/customers/{kept}?tab=codes")).await;
    b.fill("#merges input[name=\"reason\"]", "误合并").await;
    b.document("merge-undo").await;
    b.click("#merges button[id^=\"undo-\"]").await;
    b.wait_for("#merges").await;
    b.expect_text_containing("#merges", "已撤销", "the merge is undone")
        .await;
    b.expect_text_containing("h1", KEPT, "the survivor's own name is back")
        .await;
    b.close().await;
    t.stop().await;
}
