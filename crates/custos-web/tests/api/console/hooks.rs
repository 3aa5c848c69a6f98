//! Webhook 订阅 and 通知渠道 in the console over HTTP on both databases, against a local
//! receiver: an administrator creates a webhook (its secret on that answer only, never
//! in a list), sends a test event, filters the delivery log, pauses, rotates, replays
//! and removes it; creates a DingTalk channel (its URL masked everywhere), tests it,
//! pauses and resumes it (the state on its page and in the list), changes and removes it; odd input comes back beside its field. Without
//! `webhooks.manage` / `notifications.manage` over everyone there is no menu entry and
//! every page and form is a 403; with only one of them, the 管理 entry leads to it.

use serde_json::json;

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::helpers::*;
use crate::notification_channels::Receiver;

/// The text of the element with `id` (up to its first tag).
fn text_of(html: &str, id: &str) -> String {
    html.split(&format!("id=\"{id}\""))
        .nth(1)
        .and_then(|rest| rest.split('>').nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap_or("")
        .to_string()
}

/// The id in the first link to `/{prefix}/{id}` of a page.
fn first_id(html: &str, prefix: &str) -> String {
    html.split(&format!("href=\"{prefix}/"))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or("")
        .to_string()
}

backend_test!(admin_manages_a_webhook_in_the_console, |t| {
    let rx = Receiver::start((200, "{}")).await;
    let url = format!("{}/hook", rx.base);
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let csrf = v.csrf().await;
    let page = v.get("/admin/users").await.text().await.expect("page");
    assert!(page.contains("href=\"/admin/webhooks\""), "sub-nav entry");
    assert!(page.contains("href=\"/admin/channels\""), "sub-nav entry");
    let page = v.get("/admin/webhooks").await.text().await.expect("page");
    assert!(page.contains("id=\"hooks-empty\""));
    assert!(page.contains("<option value=\"customer.created\""));

    // Refusals name the field and keep what was typed.
    for (name, address, ty, owner, marker) in [
        ("", url.as_str(), "", "", "id=\"name-error\""),
        ("erp", "ftp://erp.example.com", "", "", "id=\"url-error\""),
        (
            "erp",
            "https://u:p@erp.example.com",
            "",
            "",
            "id=\"url-error\"",
        ),
        (
            "erp",
            url.as_str(),
            "customer.exploded",
            "",
            "id=\"event_types-error\"",
        ),
        ("erp", url.as_str(), "", "nobody", "id=\"owner-error\""),
        ("erp\u{7}", url.as_str(), "", "", "id=\"name-error\""),
    ] {
        let r = v
            .post(
                "/admin/webhooks",
                &[
                    ("csrf", &csrf),
                    ("name", name),
                    ("url", address),
                    ("event_types", ty),
                    ("owner", owner),
                ],
            )
            .await;
        assert_eq!(r.status(), 422, "{name} {address} {ty} {owner}");
        let html = r.text().await.expect("page");
        assert!(html.contains(marker), "{marker}: {html}");
    }
    let r = v.post("/admin/webhooks", &[("name", "erp")]).await;
    assert_eq!(r.status(), 403, "no CSRF token");

    // Created: the secret on this answer only.
    let r = v
        .post(
            "/admin/webhooks",
            &[
                ("csrf", &csrf),
                ("name", "erp-hook"),
                ("url", &url),
                ("event_types", "customer.created"),
                ("event_types", "customer.updated"),
            ],
        )
        .await;
    assert_eq!(r.status(), 201);
    let html = r.text().await.expect("page");
    let secret = text_of(&html, "new-secret");
    assert!(secret.len() >= 16, "{html}");
    let list = v.get("/admin/webhooks").await.text().await.expect("page");
    assert!(list.contains("erp-hook") && list.contains(&url), "{list}");
    assert!(list.contains("customer.created, customer.updated"));
    assert!(!list.contains(&secret), "the secret is never listed");
    let id = first_id(&list, "/admin/webhooks");
    let base = format!("/admin/webhooks/{id}");
    let page = v.get(&base).await.text().await.expect("page");
    assert!(page.contains("id=\"log-empty\"") && !page.contains(&secret));

    // A test event reaches the receiver and shows in the log.
    let r = v.post(&format!("{base}/test"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("page");
    assert!(text_of(&html, "notice").contains("HTTP 200"), "{html}");
    assert_eq!(rx.hits().len(), 1);
    assert_eq!(rx.hits()[0].body["type"], "webhook.ping");
    let html = v
        .get(&format!("{base}?outcome=ping"))
        .await
        .text()
        .await
        .expect("page");
    assert!(html.contains("data-outcome=\"ping\""), "{html}");
    let html = v
        .get(&format!("{base}?outcome=dead"))
        .await
        .text()
        .await
        .expect("page");
    assert!(html.contains("id=\"log-empty\""));
    assert_eq!(
        v.get(&format!("{base}?outcome=exploded")).await.status(),
        422
    );

    // A change: another address and every type; odd input beside its field.
    let other = format!("{}/hook2", rx.base);
    let r = v
        .post(
            &base,
            &[
                ("csrf", &csrf),
                ("name", "erp-hook"),
                ("url", "ftp://x"),
                ("owner", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.expect("page");
    assert!(html.contains("id=\"url-error\"") && html.contains("value=\"ftp://x\""));
    let r = v
        .post(
            &base,
            &[
                ("csrf", &csrf),
                ("name", "erp-hook"),
                ("url", &other),
                ("owner", ""),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = v.get(&location(&r)).await.text().await.expect("page");
    assert_eq!(text_of(&html, "hook-url"), other);
    assert_eq!(text_of(&html, "hook-types"), "全部类型");

    // Pause and resume.
    let r = v.post(&format!("{base}/pause"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let html = v.get(&location(&r)).await.text().await.expect("page");
    assert!(html.contains("id=\"resume-hook\""));
    let r = v.post(&format!("{base}/resume"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);

    // Rotation shows the new secret once.
    let r = v.post(&format!("{base}/rotate"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 201);
    let rotated = text_of(&r.text().await.expect("page"), "new-secret");
    assert!(rotated.len() >= 16 && rotated != secret);

    // Replay: a seq, or the field's error.
    let r = v
        .post(
            &format!("{base}/replay"),
            &[("csrf", &csrf), ("from", "abc")],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.expect("page");
    assert!(html.contains("id=\"from-error\"") && html.contains("value=\"abc\""));
    let r = v
        .post(&format!("{base}/replay"), &[("csrf", &csrf), ("from", "1")])
        .await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.expect("page").contains("id=\"notice\""));

    let r = v.post(&format!("{base}/explode"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 404);
    let r = v.post(&format!("{base}/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let html = v.get(&location(&r)).await.text().await.expect("page");
    assert!(html.contains("id=\"hooks-empty\"") && html.contains("id=\"notice\""));
    assert_eq!(v.get(&base).await.status(), 404);
});

backend_test!(admin_manages_a_channel_in_the_console, |t| {
    let rx = Receiver::start((200, r#"{"errcode":0,"errmsg":"ok"}"#)).await;
    let admin = t.admin_token().await;
    let dept = t.create_department(&admin, "华东销售部", None).await;
    let dept_s = dept.to_string();
    let robot = format!("{}/robot/send?access_token=tok-secret-1", rx.base);
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let csrf = v.csrf().await;
    let page = v.get("/admin/channels").await.text().await.expect("page");
    assert!(page.contains("id=\"channels-empty\""));
    assert!(
        page.contains("id=\"kind-duplicates_found\""),
        "new kinds offered"
    );
    assert!(page.contains("id=\"kind-code_capacity\""));

    let no_token = format!("{}/robot/send", rx.base);
    for (provider, address, kind, marker) in [
        (
            "slack",
            robot.as_str(),
            "task_pending",
            "id=\"provider-error\"",
        ),
        (
            "dingtalk",
            no_token.as_str(),
            "task_pending",
            "id=\"url-error\"",
        ),
        ("dingtalk", robot.as_str(), "", "id=\"kinds-error\""),
        ("dingtalk", robot.as_str(), "nonsense", "id=\"kinds-error\""),
    ] {
        let r = v
            .post(
                "/admin/channels",
                &[
                    ("csrf", &csrf),
                    ("name", "华东审批群"),
                    ("provider", provider),
                    ("url", address),
                    ("kinds", kind),
                ],
            )
            .await;
        assert_eq!(r.status(), 422, "{provider} {address} {kind}");
        let html = r.text().await.expect("page");
        assert!(html.contains(marker), "{marker}: {html}");
        assert!(html.contains("value=\"华东审批群\""), "typed name kept");
        assert!(!html.contains("tok-secret-1"), "the URL is never echoed");
    }
    let r = v
        .post(
            "/admin/channels",
            &[
                ("csrf", &csrf),
                ("name", "华东审批群"),
                ("provider", "dingtalk"),
                ("url", &robot),
                ("secret", "SEC0123456789abcdef"),
                ("kinds", "task_pending"),
                ("kinds", "duplicates_found"),
                ("departments", &dept_s),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let at = location(&r);
    let base = at.split('?').next().unwrap_or("").to_string();
    let html = v.get(&at).await.text().await.expect("page");
    assert!(html.contains("id=\"notice\""));
    assert_eq!(text_of(&html, "channel-url"), format!("{}/…", rx.base));
    assert!(!html.contains("tok-secret-1") && !html.contains("SEC0123456789"));
    assert!(text_of(&html, "channel-kinds").contains("重复客户待处理"));
    assert_eq!(text_of(&html, "channel-departments"), "华东销售部");
    let list = v.get("/admin/channels").await.text().await.expect("page");
    assert!(list.contains("华东审批群") && !list.contains("tok-secret-1"));

    // The test message goes out signed, and its outcome is shown.
    let r = v.post(&format!("{base}/test"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("page");
    assert!(text_of(&html, "notice").contains("HTTP 200"), "{html}");
    let hit = rx.hits().pop().expect("posted");
    assert!(hit.query().iter().any(|(k, _)| k == "sign"), "{hit:?}");

    // Paused and resumed by its button; the state shows on its page and in the list.
    let cid = base.rsplit('/').next().unwrap_or("").to_string();
    assert_eq!(text_of(&html, "channel-status"), "推送中");
    assert!(html.contains("id=\"pause-channel\""));
    let r = v.post(&format!("{base}/pause"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let html = v.get(&location(&r)).await.text().await.expect("page");
    assert_eq!(text_of(&html, "channel-status"), "已暂停");
    assert!(text_of(&html, "notice").contains("已暂停"));
    assert!(html.contains("id=\"resume-channel\"") && !html.contains("id=\"pause-channel\""));
    let list = v.get("/admin/channels").await.text().await.expect("page");
    assert!(
        list.split(&format!("id=\"channel-status-{cid}\""))
            .nth(1)
            .is_some_and(|rest| rest.split("</td>").next().unwrap_or("").contains("已暂停")),
        "{list}"
    );
    let r = v.post(&format!("{base}/resume"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let html = v.get(&location(&r)).await.text().await.expect("page");
    assert_eq!(text_of(&html, "channel-status"), "推送中");
    let list = v.get("/admin/channels").await.text().await.expect("page");
    assert!(
        list.split(&format!("id=\"channel-status-{cid}\""))
            .nth(1)
            .is_some_and(|rest| rest.split("</td>").next().unwrap_or("").contains("推送中")),
        "{list}"
    );

    // A change keeps the URL and secret left empty.
    let r = v
        .post(
            &base,
            &[
                ("csrf", &csrf),
                ("name", "华东群"),
                ("url", ""),
                ("secret", ""),
                ("kinds", "code_capacity"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let html = v.get(&location(&r)).await.text().await.expect("page");
    assert!(html.contains("华东群"));
    assert_eq!(text_of(&html, "channel-secret"), "已设置");
    assert_eq!(text_of(&html, "channel-departments"), "全部部门");
    assert!(text_of(&html, "channel-kinds").contains("编码容量预警"));
    let r = v
        .post(&base, &[("csrf", &csrf), ("name", "华东群"), ("kinds", "")])
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.expect("page").contains("id=\"kinds-error\""));

    let r = v.post(&format!("{base}/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(r.status(), 303);
    let html = v.get(&location(&r)).await.text().await.expect("page");
    assert!(html.contains("id=\"channels-empty\""));
});

backend_test!(
    hook_and_channel_pages_need_their_permission_over_everyone,
    |t| {
        let admin = t.admin_token().await;
        let dept = t.create_department(&admin, "销售部", None).await;
        body(
        t.post(
            "/api/v1/roles",
            Some(&admin),
            json!({"key": "integrator", "name": "集成管理员", "permissions": ["webhooks.manage"]}),
        )
        .await,
        201,
    )
    .await;
        t.create_user(
            &admin,
            "dept_admin",
            Some(dept),
            json!([{"role": "admin", "scope": "department"}]),
        )
        .await;
        t.create_user(
            &admin,
            "query1",
            Some(dept),
            json!([{"role": "query", "scope": "all"}]),
        )
        .await;
        t.create_user(
            &admin,
            "integrator1",
            Some(dept),
            json!([{"role": "integrator", "scope": "all"}]),
        )
        .await;
        for user in ["dept_admin", "query1", "integrator1"] {
            let mut v = Visitor::new(&t);
            v.login(user, USER_PASSWORD).await;
            let csrf = v.csrf().await;
            let home = v.get("/").await.text().await.expect("page");
            assert!(
                !home.contains("href=\"/admin/channels\""),
                "{user}: no entry"
            );
            let mut refused = vec![
                "/admin/channels".to_string(),
                "/admin/channels/1".to_string(),
            ];
            if user == "integrator1" {
                // 管理 leads to the one administration page the user may open.
                assert!(home.contains("href=\"/admin/webhooks\""), "{home}");
                let page = v.get("/admin/webhooks").await;
                assert_eq!(page.status(), 200);
                let page = page.text().await.expect("page");
                assert!(!page.contains("href=\"/admin/users\""), "{page}");
            } else {
                assert!(
                    !home.contains("href=\"/admin/webhooks\""),
                    "{user}: no entry"
                );
                refused.push("/admin/webhooks".to_string());
                refused.push("/admin/webhooks/1".to_string());
            }
            for path in &refused {
                assert_eq!(v.get(path).await.status(), 403, "{user} GET {path}");
            }
            let mut posts = vec![
                "/admin/channels",
                "/admin/channels/1",
                "/admin/channels/1/test",
                "/admin/channels/1/pause",
                "/admin/channels/1/resume",
                "/admin/channels/1/remove",
            ];
            if user != "integrator1" {
                posts.extend([
                    "/admin/webhooks",
                    "/admin/webhooks/1",
                    "/admin/webhooks/1/test",
                    "/admin/webhooks/1/replay",
                ]);
            }
            for path in posts {
                let r = v
                    .post(path, &[("csrf", &csrf), ("name", "sneaky"), ("from", "x")])
                    .await;
                assert_eq!(r.status(), 403, "{user} POST {path}");
            }
        }
        let hooks = body(t.get("/api/v1/webhooks", &admin).await, 200).await;
        assert_eq!(hooks.as_array().map(Vec::len), Some(0), "{hooks}");
        let channels = body(t.get("/api/v1/notification-channels", &admin).await, 200).await;
        assert_eq!(channels.as_array().map(Vec::len), Some(0), "{channels}");
    }
);
