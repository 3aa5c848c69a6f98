//! 申请与审批 over HTTP on both databases: the inbox shows only one's own tasks and a
//! badge counts them, decisions need the CSRF token and a rejection its reason, /inbox is
//! for approvers, an application's page shows the change as old → new, and the new
//! application form keeps values and shows errors beside the inputs.

use serde_json::json;

use super::pages::{location, Visitor};
use crate::applications::{id, new_customer, org, submit};
use crate::backend_test;
use crate::helpers::*;

async fn page(v: &mut Visitor, path: &str, status: u16) -> String {
    let r = v.get(path).await;
    assert_eq!(r.status(), status, "{path}");
    r.text().await.unwrap()
}

backend_test!(inbox_shows_only_own_tasks_with_a_badge, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("待办展示科技有限公司")).await;
    let aid = id(&a);

    let mut manager = Visitor::new(&t);
    manager.login("manager", USER_PASSWORD).await;
    let html = page(&mut manager, "/inbox", 200).await;
    assert!(html.contains(&format!("id=\"task-{aid}\"")), "{html}");
    assert!(html.contains("待办展示科技有限公司"), "names the customer");
    assert!(html.contains("新增客户"), "kind as a business term");
    assert!(
        html.contains("<span class=\"badge\" id=\"pending-badge\">1</span>"),
        "badge"
    );

    // Another approver (spare) has no task on it: an empty inbox, no badge.
    let mut spare = Visitor::new(&t);
    spare.login("spare", USER_PASSWORD).await;
    let html = page(&mut spare, "/inbox", 200).await;
    assert!(!html.contains(&format!("task-{aid}")), "{html}");
    assert!(html.contains("id=\"inbox-empty\""));
    assert!(!html.contains("pending-badge"));

    // A clerk does not approve: the 403 page, and no 待办 in the navigation.
    let mut clerk = Visitor::new(&t);
    clerk.login("clerk", USER_PASSWORD).await;
    let html = page(&mut clerk, "/inbox", 403).await;
    assert!(html.contains("error-message"));
    assert!(!html.contains("href=\"/inbox\""));
    // The clerk's own list shows it with its state as a business term.
    let html = page(&mut clerk, "/applications", 200).await;
    assert!(html.contains(&format!("/applications/{aid}")), "{html}");
    assert!(html.contains("已提交"));
    let html = page(&mut clerk, "/applications?state=approved", 200).await;
    assert!(!html.contains(&format!("/applications/{aid}\"")));
});

backend_test!(decisions_need_csrf_and_a_rejection_its_reason, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("驳回理由测试有限公司")).await;
    let aid = id(&a);
    let mut m = Visitor::new(&t);
    m.login("manager", USER_PASSWORD).await;
    let decide = format!("/applications/{aid}/decide");

    // Without the session's CSRF token: refused, nothing decided.
    let r = m
        .post(&decide, &[("decision", "approve"), ("from", "inbox")])
        .await;
    assert_eq!(r.status(), 403);
    let r = m
        .post(&decide, &[("decision", "approve"), ("csrf", "forged")])
        .await;
    assert_eq!(r.status(), 403);
    let inbox = body(t.get("/api/v1/inbox", &o.manager).await, 200).await;
    assert_eq!(inbox["counts"]["pending"], 1);

    let csrf = m.csrf().await;
    // A rejection without a reason, from the inbox: the list again with the error
    // beside the task (htmx swaps a 200).
    let r = m
        .post(
            &decide,
            &[("decision", "reject"), ("from", "inbox"), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(html.contains(&format!("comment-error-{aid}")), "{html}");
    assert!(html.starts_with("<div id=\"inbox-list\">"), "a fragment");
    // From the application's page: 422 with the error beside the comment.
    let r = m
        .post(
            &decide,
            &[("decision", "reject"), ("comment", "  "), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"comment-error\""), "{html}");
    let a1 = body(
        t.get(&format!("/api/v1/applications/{aid}"), &o.clerk)
            .await,
        200,
    )
    .await;
    assert_eq!(a1["state"], "submitted");

    // With a reason the rejection closes it; the inbox is empty again.
    let r = m
        .post(
            &decide,
            &[
                ("decision", "reject"),
                ("from", "inbox"),
                ("comment", "资料不全"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.unwrap();
    assert!(
        html.contains("inbox-empty") && html.contains("inbox-notice"),
        "{html}"
    );
    let html = page(&mut m, &format!("/applications/{aid}"), 200).await;
    assert!(
        html.contains("已驳回") && html.contains("资料不全"),
        "{html}"
    );
    // A decision on a closed application is said, not a crash.
    let r = m
        .post(&decide, &[("decision", "approve"), ("csrf", &csrf)])
        .await;
    assert!(r.status().is_client_error(), "{}", r.status());
});

backend_test!(a_change_reads_as_old_to_new, |t| {
    let o = org(&t).await;
    let c = body(
        t.post(
            "/api/v1/customers",
            Some(&o.admin),
            new_customer("旧名称贸易有限公司"),
        )
        .await,
        201,
    )
    .await;
    let code = c["code"].as_str().unwrap().to_string();
    let mut clerk = Visitor::new(&t);
    clerk.login("clerk", USER_PASSWORD).await;
    let path = format!("/applications/new?kind=change&customer={code}");
    let html = page(&mut clerk, &path, 200).await;
    assert!(html.contains("value=\"旧名称贸易有限公司\""), "prefilled");
    let csrf = Visitor::hidden(&html, "csrf");
    let version = Visitor::hidden(&html, "version");
    let r = clerk
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("version", &version),
                ("name", "新名称贸易有限公司"),
                ("orig.name", "旧名称贸易有限公司"),
                ("customer_type", "enterprise"),
                ("orig.customer_type", "enterprise"),
                ("reason", "工商变更"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303, "{}", r.text().await.unwrap_or_default());
    let to = location(&r);
    assert!(to.starts_with("/applications/"), "{to}");
    let html = page(&mut clerk, &to, 200).await;
    assert!(
        html.contains("<del>旧名称贸易有限公司</del> → <ins>新名称贸易有限公司</ins>"),
        "{html}"
    );
    // Only the changed field is asked for.
    assert!(!html.contains("<th scope=\"row\">客户类型</th>"), "{html}");
    assert!(html.contains("id=\"withdraw\""));
    // The approver sees the same diff, with the decision form.
    let aid = to.trim_start_matches("/applications/");
    let a = body(
        t.get(&format!("/api/v1/applications/{aid}"), &o.admin)
            .await,
        200,
    )
    .await;
    let approver = a["tasks"][0]["username"].as_str().unwrap().to_string();
    let mut m = Visitor::new(&t);
    m.login(&approver, USER_PASSWORD).await;
    let html = page(&mut m, &to, 200).await;
    assert!(
        html.contains("<ins>新名称贸易有限公司</ins>") && html.contains("id=\"approve\""),
        "{approver}: {}",
        a["tasks"]
    );
    assert!(!html.contains("id=\"withdraw\""));
    // Withdrawn by the clerk: closed.
    let csrf = clerk.csrf().await;
    let r = clerk
        .post(&format!("{to}/withdraw"), &[("csrf", &csrf)])
        .await;
    assert_eq!(r.status(), 303);
    let html = page(&mut clerk, &to, 200).await;
    assert!(html.contains("已撤回") && !html.contains("id=\"withdraw\""));
    // Someone else's application is the missing page.
    t.create_user(
        &o.admin,
        "outsider",
        None,
        json!([{"role": "clerk", "scope": "own"}]),
    )
    .await;
    let mut other = Visitor::new(&t);
    other.login("outsider", USER_PASSWORD).await;
    page(&mut other, &to, 404).await;
    page(&mut other, "/applications/999999", 404).await;
    page(&mut other, "/applications/abc", 404).await;
});

backend_test!(new_customer_form_keeps_values_and_shows_errors, |t| {
    let o = org(&t).await;
    let _ = &o;
    let mut clerk = Visitor::new(&t);
    clerk.login("clerk", USER_PASSWORD).await;
    let html = page(&mut clerk, "/applications/new?kind=create", 200).await;
    // The region is the customer form's cascader.
    assert!(html.contains("name=\"region_code\"") && html.contains("id=\"region-province\""));
    assert!(
        html.contains("<label for=\"f-name\" class=\"required\""),
        "{html}"
    );
    let csrf = Visitor::hidden(&html, "csrf");
    let r = clerk
        .post(
            "/applications/new?kind=create",
            &[
                ("csrf", &csrf),
                ("customer_type", "enterprise"),
                ("name", "错误代码测试有限公司"),
                ("uscc", "123"),
                ("region_code", "110108"),
            ],
        )
        .await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.unwrap();
    assert!(html.contains("id=\"f-uscc-error\""), "{html}");
    assert!(
        html.contains("value=\"错误代码测试有限公司\""),
        "value kept"
    );
    assert!(
        html.contains("<option value=\"110108\" selected>")
            && html.contains("id=\"f-region_code\" value=\"110108\""),
        "region kept"
    );
    // Without the token: refused.
    let r = clerk
        .post(
            "/applications/new?kind=create",
            &[("customer_type", "enterprise"), ("name", "X")],
        )
        .await;
    assert_eq!(r.status(), 403);
    // A kind the console does not start, and a customer out of reach: 404 pages.
    page(&mut clerk, "/applications/new?kind=merge", 404).await;
    page(
        &mut clerk,
        "/applications/new?kind=retire&customer=C999999",
        404,
    )
    .await;
    // A query-only user may not apply.
    let admin = t.admin_token().await;
    t.create_user(
        &admin,
        "reader",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let mut reader = Visitor::new(&t);
    reader.login("reader", USER_PASSWORD).await;
    page(&mut reader, "/applications/new?kind=create", 403).await;
});

/// The number beside 待办 in the navigation of a page (0 when no badge is shown).
fn badge(html: &str) -> i64 {
    html.split("id=\"pending-badge\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .map_or(0, |n| n.parse().unwrap())
}

/// The badge counts exactly what the inbox lists, for tasks of a department manager, of a
/// role (every steward holds one) and delegated tasks, as they move.
async fn badge_matches_inbox(t: &TestApp, who: &str, token: &str, expected: i64) {
    let mut v = Visitor::new(t);
    v.login(who, USER_PASSWORD).await;
    let html = page(&mut v, "/inbox", 200).await;
    let listed = html.matches("id=\"task-").count() as i64;
    let api = body(t.get("/api/v1/inbox", token).await, 200).await;
    let api_len = api["pending"].as_array().unwrap().len() as i64;
    assert_eq!(
        (badge(&html), listed, api_len),
        (expected, expected, expected),
        "{who}: badge, inbox rows, API inbox"
    );
}

backend_test!(badge_counts_what_the_inbox_lists, |t| {
    let o = org(&t).await;
    let a1 = submit(&t, &o.clerk, "create", new_customer("徽标一号有限公司")).await;
    let a2 = submit(&t, &o.clerk, "create", new_customer("徽标二号有限公司")).await;
    badge_matches_inbox(&t, "manager", &o.manager, 2).await;
    badge_matches_inbox(&t, "steward", &o.steward, 0).await;
    badge_matches_inbox(&t, "spare", &o.spare, 0).await;

    // A delegated task moves from the manager's count to the delegate's.
    let r = t
        .post(
            &format!("/api/v1/applications/{}/delegate", id(&a2)),
            Some(&o.manager),
            json!({"to_user": o.spare_id}),
        )
        .await;
    assert_eq!(r.status(), 200);
    badge_matches_inbox(&t, "manager", &o.manager, 1).await;
    badge_matches_inbox(&t, "spare", &o.spare, 1).await;

    // Approved by the manager, the first reaches the stewards' role step: each holds it.
    let r = t
        .post(
            &format!("/api/v1/applications/{}/approve", id(&a1)),
            Some(&o.manager),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    badge_matches_inbox(&t, "manager", &o.manager, 0).await;
    badge_matches_inbox(&t, "steward", &o.steward, 1).await;
    badge_matches_inbox(&t, "steward2", &o.steward2, 1).await;

    // One steward's approval ends the step for both (any mode).
    let r = t
        .post(
            &format!("/api/v1/applications/{}/approve", id(&a1)),
            Some(&o.steward),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    badge_matches_inbox(&t, "steward", &o.steward, 0).await;
    badge_matches_inbox(&t, "steward2", &o.steward2, 0).await;
});

async fn state_of(t: &TestApp, token: &str, aid: i64) -> String {
    let a = body(
        t.get(&format!("/api/v1/applications/{aid}"), token).await,
        200,
    )
    .await;
    a["state"].as_str().unwrap().to_string()
}

backend_test!(
    applicant_resubmits_a_returned_application_and_submits_a_draft,
    |t| {
        let o = org(&t).await;
        let a = submit(&t, &o.clerk, "create", new_customer("退回重交有限公司")).await;
        let aid = id(&a);
        let r = t
            .post(
                &format!("/api/v1/applications/{aid}/return"),
                Some(&o.manager),
                json!({"comment": "请补充"}),
            )
            .await;
        assert_eq!(r.status(), 200);

        let mut clerk = Visitor::new(&t);
        clerk.login("clerk", USER_PASSWORD).await;
        let path = format!("/applications/{aid}");
        let html = page(&mut clerk, &path, 200).await;
        assert!(
            html.contains("id=\"resubmit-form\"") && html.contains("重新提交"),
            "{html}"
        );
        // The approver holds no task now and is not the applicant: no resubmit form.
        let mut manager = Visitor::new(&t);
        manager.login("manager", USER_PASSWORD).await;
        assert!(!page(&mut manager, &path, 200)
            .await
            .contains("resubmit-form"));

        let resubmit = format!("/applications/{aid}/resubmit");
        let r = clerk.post(&resubmit, &[("reason", "已补充")]).await;
        assert_eq!(r.status(), 403, "no CSRF token");
        assert_eq!(state_of(&t, &o.clerk, aid).await, "returned");
        // Someone else's application cannot be resubmitted by them.
        let csrf_m = manager.csrf().await;
        let r = manager
            .post(&resubmit, &[("csrf", &csrf_m), ("reason", "x")])
            .await;
        assert!(r.status().is_client_error(), "{}", r.status());
        assert_eq!(state_of(&t, &o.clerk, aid).await, "returned");

        let csrf = clerk.csrf().await;
        let r = clerk
            .post(&resubmit, &[("csrf", &csrf), ("reason", "已补充")])
            .await;
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), path);
        assert_eq!(state_of(&t, &o.clerk, aid).await, "submitted");
        let html = page(&mut clerk, &path, 200).await;
        assert!(!html.contains("resubmit-form"));
        // Resubmitting what is no longer returned is refused beside the form's place.
        let r = clerk.post(&resubmit, &[("csrf", &csrf)]).await;
        assert_eq!(r.status(), 409);

        // A draft is submitted from its page.
        let r = t
        .post(
            "/api/v1/applications",
            Some(&o.clerk),
            json!({"kind": "create", "payload": new_customer("草稿提交有限公司"), "draft": true}),
        )
        .await;
        let draft = id(&body(r, 201).await);
        let html = page(&mut clerk, &format!("/applications/{draft}"), 200).await;
        assert!(html.contains("提交草稿"), "{html}");
        let r = clerk
            .post(
                &format!("/applications/{draft}/resubmit"),
                &[("csrf", &csrf)],
            )
            .await;
        assert_eq!(r.status(), 303);
        assert_eq!(state_of(&t, &o.clerk, draft).await, "submitted");
    }
);

backend_test!(an_approver_delegates_to_someone_who_may_decide, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("转办页面有限公司")).await;
    let aid = id(&a);
    let path = format!("/applications/{aid}");
    let mut manager = Visitor::new(&t);
    manager.login("manager", USER_PASSWORD).await;
    let html = page(&mut manager, &path, 200).await;
    // The spare approver may take it; the applicant and the manager are not offered.
    assert!(html.contains("id=\"delegate-form\""), "{html}");
    assert!(
        html.contains(&format!("<option value=\"{}\">", o.spare_id)),
        "{html}"
    );
    assert!(!html.contains(&format!("<option value=\"{}\">", o.clerk_id)));
    assert!(!html.contains(&format!("<option value=\"{}\">", o.manager_id)));
    // The clerk holds no task: no delegation.
    let mut clerk = Visitor::new(&t);
    clerk.login("clerk", USER_PASSWORD).await;
    assert!(!page(&mut clerk, &path, 200).await.contains("delegate-form"));

    let delegate = format!("/applications/{aid}/delegate");
    let spare = o.spare_id.to_string();
    let r = manager.post(&delegate, &[("to_user", &spare)]).await;
    assert_eq!(r.status(), 403, "no CSRF token");
    let csrf = manager.csrf().await;
    // Not a user id, or the applicant: refused beside the select, nothing handed over.
    let r = manager
        .post(&delegate, &[("csrf", &csrf), ("to_user", "abc")])
        .await;
    assert_eq!(r.status(), 422);
    assert!(r.text().await.unwrap().contains("id=\"delegate-error\""));
    let clerk_id = o.clerk_id.to_string();
    let r = manager
        .post(&delegate, &[("csrf", &csrf), ("to_user", &clerk_id)])
        .await;
    assert_eq!(r.status(), 422);
    let inbox = body(t.get("/api/v1/inbox", &o.spare).await, 200).await;
    assert_eq!(inbox["counts"]["pending"], 0);

    let r = manager
        .post(
            &delegate,
            &[("csrf", &csrf), ("to_user", &spare), ("comment", "出差")],
        )
        .await;
    assert_eq!(r.status(), 303);
    let inbox = body(t.get("/api/v1/inbox", &o.spare).await, 200).await;
    assert_eq!(inbox["counts"]["pending"], 1);
    assert_eq!(inbox["pending"][0]["delegated_from"], o.manager_id);
    let html = page(&mut manager, &path, 200).await;
    assert!(
        !html.contains("delegate-form") && html.contains("出差"),
        "{html}"
    );
});
