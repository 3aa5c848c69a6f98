//! 管理 and 审计 in a real browser: an administrator grants a role with an expiry from
//! 角色与授权, sees it listed as temporary, then verifies the audit chain from 操作日志.

use serde_json::json;

use crate::browser::Browser;
use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn administrator_grants_a_role_with_an_expiry_and_verifies_the_chain() {
    let t = spawn(custos_app::Backend::Sqlite).await.expect("sqlite");
    let admin = t.admin_token().await;
    let sales = t.create_department(&admin, "销售中心", None).await;
    t.create_department(&admin, "华东区", Some(sales)).await;
    let id = t
        .create_user(
            &admin,
            "liqi",
            Some(sales),
            json!([{"role": "query", "scope": "department"}]),
        )
        .await;
    let Some(b) = Browser::start("admin_grants_and_verifies", &t.base, 1280).await else {
        t.stop().await;
        return;
    };
    b.login("admin", ADMIN_PASSWORD).await;
    b.click("nav a[href=\"/admin/users\"]").await;
    b.wait_for(&format!("#user-{id}")).await;
    b.document("admin-users").await;
    b.click("a[href=\"/admin/departments\"]").await;
    b.wait_for("#department-tree").await;
    b.document("admin-departments").await;
    b.click("a[href=\"/admin/roles\"]").await;
    b.fill("#user_id", &id.to_string()).await;
    b.wait_for("#role")
        .await
        .select_by_value("executive")
        .await
        .expect("role");
    b.wait_for("#scope")
        .await
        .select_by_value("department")
        .await
        .expect("scope");
    b.set_value("#expires_at", "2099-06-30T18:00").await;
    b.click("#grant-submit").await;
    b.wait_for("#notice").await;
    b.expect_text_containing(
        &format!("tr.grant[data-user=\"{id}\"] .tag.warn"),
        "临时",
        "the grant is temporary",
    )
    .await;
    b.expect_text_containing("#grant-table", "2099-06-30 18:00", "expiry in local time")
        .await;
    b.document("admin-roles").await;

    // The user's page shows the role with its expiry.
    b.goto(&format!("/admin/users/{id}")).await;
    b.expect_text_containing("#user-roles", "高级管理人员", "role held")
        .await;

    // 审计: the grant is logged, the chain verifies.
    b.click("nav a[href=\"/audit\"]").await;
    b.fill("#action", "user.grant").await;
    b.click("#search-audit").await;
    b.expect_path_containing("action=user.grant", "filter in the URL")
        .await;
    b.wait_for("#audit-table").await;
    b.document("audit").await;
    b.click("#verify-chain").await;
    b.expect_text("#chain-ok", "哈希链完整", "the chain verifies")
        .await;
    b.document("audit-verify").await;

    b.goto("/admin/system").await;
    b.wait_for("#licences").await;
    b.document("admin-system").await;
    b.close().await;
    t.stop().await;
}
