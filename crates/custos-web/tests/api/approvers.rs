//! Who may decide an approval task: delegation only to someone who may decide the step,
//! the rule checked again at decision time, and open tasks moved (or flagged for an
//! administrator) in the same transaction as the role, user or department change.

use serde_json::{json, Value};

use crate::applications::{act, id, new_customer, ok, org, submit};
use crate::backend_test;
use crate::helpers::{body, problem, problem_fields, TestApp, USER_PASSWORD};

/// A custom role `reviewer` that may approve, and a flow that gives every `create`
/// application to it in one step named 复核.
async fn reviewer_flow(t: &TestApp, admin: &str) {
    body(
        t.post(
            "/api/v1/roles",
            Some(admin),
            json!({"key": "reviewer", "name": "复核人",
                   "permissions": ["application.approve", "customer.read"]}),
        )
        .await,
        201,
    )
    .await;
    body(
        t.post(
            "/api/v1/flows",
            Some(admin),
            json!({"key": "review", "kind": "create", "name": "复核流程",
                   "steps": [{"name": "复核", "approvers": {"type": "role", "role": "reviewer"}}]}),
        )
        .await,
        201,
    )
    .await;
}

async fn set_roles(t: &TestApp, admin: &str, user: i64, roles: Value) {
    let r = t
        .patch(
            &format!("/api/v1/users/{user}"),
            admin,
            json!({ "roles": roles }),
        )
        .await;
    body(r, 200).await;
}

async fn application(t: &TestApp, token: &str, id: i64) -> Value {
    body(
        t.get(&format!("/api/v1/applications/{id}"), token).await,
        200,
    )
    .await
}

/// (user id, decision) of every task, in order.
fn tasks(a: &Value) -> Vec<(i64, Option<String>)> {
    a["tasks"]
        .as_array()
        .expect("tasks")
        .iter()
        .map(|t| {
            (
                t["user_id"].as_i64().expect("user_id"),
                t["decision"].as_str().map(str::to_string),
            )
        })
        .collect()
}

fn last_event(a: &Value) -> &Value {
    a["trail"].as_array().and_then(|t| t.last()).expect("trail")
}

backend_test!(delegation_needs_a_delegate_who_may_decide, |t| {
    let o = org(&t).await;
    let exec_id = t
        .create_user(
            &o.admin,
            "exec",
            None,
            json!([{"role": "executive", "scope": "all"}]),
        )
        .await;
    let exec = t.login("exec", USER_PASSWORD).await;
    let a = submit(&t, &o.clerk, "create", new_customer("转交资格有限公司")).await;
    let p = problem(
        act(
            &t,
            &o.manager,
            id(&a),
            "delegate",
            json!({"to_user": exec_id}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(problem_fields(&p), vec!["to_user"]);
    assert_eq!(
        p["fields"][0]["code"],
        "application.approve_permission_missing"
    );
    // Nothing moved: the manager keeps the task, the executive has none and cannot decide.
    let still = application(&t, &o.clerk, id(&a)).await;
    assert_eq!(tasks(&still), vec![(o.manager_id, None)]);
    let r = act(&t, &exec, id(&a), "approve", json!({})).await;
    assert_eq!(r.status(), 404, "the executive cannot even see it");
    let inbox = body(t.get("/api/v1/inbox", &exec).await, 200).await;
    assert_eq!(inbox["counts"]["pending"], 0);

    // A delegate holding application.approve takes the manager's step.
    ok(
        &t,
        &o.manager,
        id(&a),
        "delegate",
        json!({"to_user": o.spare_id}),
    )
    .await;
    let r = ok(&t, &o.spare, id(&a), "approve", json!({})).await;
    assert_eq!(r["current_step"], 1);
    // On a role step the delegate must hold the role too: `spare` is no steward.
    let p = problem(
        act(
            &t,
            &o.steward,
            id(&a),
            "delegate",
            json!({"to_user": o.spare_id}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["fields"][0]["field"], "to_user");
    assert_eq!(p["fields"][0]["code"], "application.step_role_missing");
    let done = ok(&t, &o.steward, id(&a), "approve", json!({})).await;
    assert_eq!(done["state"], "approved");
});

backend_test!(removed_role_refuses_the_decision_and_moves_the_task, |t| {
    let o = org(&t).await;
    reviewer_flow(&t, &o.admin).await;
    let r1 = t
        .create_user(
            &o.admin,
            "reviewer1",
            None,
            json!([{"role": "reviewer", "scope": "all"}]),
        )
        .await;
    let r2 = t.create_user(&o.admin, "reviewer2", None, json!([])).await;
    let r1_token = t.login("reviewer1", USER_PASSWORD).await;
    let r2_token = t.login("reviewer2", USER_PASSWORD).await;
    let a = submit(&t, &o.clerk, "create", new_customer("复核转派有限公司")).await;
    assert_eq!(tasks(&a), vec![(r1, None)]);
    // A second reviewer changes nothing while r1 still qualifies.
    set_roles(
        &t,
        &o.admin,
        r2,
        json!([{"role": "reviewer", "scope": "all"}]),
    )
    .await;
    assert_eq!(
        tasks(&application(&t, &o.clerk, id(&a)).await),
        vec![(r1, None)]
    );

    set_roles(&t, &o.admin, r1, json!([])).await;
    for (action, b) in [
        ("approve", json!({})),
        ("reject", json!({"reason": "不同意"})),
        ("return", json!({})),
    ] {
        let p = problem(act(&t, &r1_token, id(&a), action, b).await, 403).await;
        assert_eq!(p["code"], "application.task_reassigned", "{action}");
    }
    let moved = application(&t, &o.clerk, id(&a)).await;
    assert_eq!(moved["state"], "submitted");
    assert_eq!(
        tasks(&moved),
        vec![(r1, Some("reassigned".into())), (r2, None)]
    );
    let e = last_event(&moved);
    assert_eq!(e["action"], "reassign");
    assert_eq!(e["detail"]["removed"][0]["user_id"], r1);
    // The reviewer role was r1's only source of application.approve.
    assert_eq!(
        e["detail"]["removed"][0]["code"],
        "application.approve_permission_missing"
    );
    assert_eq!(e["detail"]["assigned"], json!([r2]));
    let audit = body(
        t.get(
            &format!(
                "/api/v1/audit?action=application.reassign&target_id={}",
                id(&a)
            ),
            &o.admin,
        )
        .await,
        200,
    )
    .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1));
    let inbox = body(t.get("/api/v1/inbox", &r2_token).await, 200).await;
    assert_eq!(inbox["pending"][0]["application"]["id"], id(&a));
    let done = ok(&t, &r2_token, id(&a), "approve", json!({})).await;
    assert_eq!(done["state"], "approved");
});

backend_test!(lapsed_role_is_refused_at_decision_time, |t| {
    let o = org(&t).await;
    reviewer_flow(&t, &o.admin).await;
    // The reviewer grant lapses without anyone changing roles: only the check at
    // decision time stops it.
    let until = (chrono::Utc::now() + chrono::Duration::seconds(3)).to_rfc3339();
    let r1 = t
        .create_user(
            &o.admin,
            "reviewer1",
            None,
            json!([{"role": "approver", "scope": "all"},
                   {"role": "reviewer", "scope": "all", "expires_at": until}]),
        )
        .await;
    let r1_token = t.login("reviewer1", USER_PASSWORD).await;
    let a = submit(&t, &o.clerk, "create", new_customer("过期授权有限公司")).await;
    assert_eq!(tasks(&a), vec![(r1, None)]);
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let p = problem(act(&t, &r1_token, id(&a), "approve", json!({})).await, 403).await;
    assert_eq!(p["code"], "application.step_role_missing");
    assert!(
        p["detail"].as_str().unwrap_or("").contains("reviewer"),
        "{p}"
    );
    // Nothing was written.
    let still = application(&t, &o.clerk, id(&a)).await;
    assert_eq!(still["state"], "submitted");
    assert_eq!(still["version"], a["version"]);
    assert_eq!(tasks(&still), vec![(r1, None)]);
});

backend_test!(
    nobody_left_flags_the_application_for_an_administrator,
    |t| {
        let o = org(&t).await;
        reviewer_flow(&t, &o.admin).await;
        let r1 = t
            .create_user(
                &o.admin,
                "reviewer1",
                None,
                json!([{"role": "reviewer", "scope": "all"}]),
            )
            .await;
        let r2 = t.create_user(&o.admin, "reviewer2", None, json!([])).await;
        // The only administrator applies, so no fallback approver is left either.
        let a = submit(&t, &o.admin, "create", new_customer("无人审批有限公司")).await;
        assert!(a["needs_admin"].is_null());
        set_roles(&t, &o.admin, r1, json!([])).await;

        let flagged = application(&t, &o.admin, id(&a)).await;
        assert_eq!(tasks(&flagged), vec![(r1, Some("reassigned".into()))]);
        assert_eq!(
            flagged["needs_admin"]["code"],
            "application.no_qualified_approver"
        );
        assert_eq!(flagged["needs_admin"]["step"], 0);
        assert!(
            flagged["needs_admin"]["reason"]
                .as_str()
                .unwrap_or("")
                .contains("复核"),
            "{}",
            flagged["needs_admin"]
        );
        let inbox = body(t.get("/api/v1/inbox", &o.admin).await, 200).await;
        assert_eq!(inbox["counts"]["needs_admin"], 1);
        assert_eq!(inbox["needs_admin"][0]["id"], id(&a));
        assert_eq!(
            inbox["needs_admin"][0]["needs_admin"]["code"],
            "application.no_qualified_approver"
        );
        let list = body(
            t.get("/api/v1/applications?needs_admin=true", &o.admin)
                .await,
            200,
        )
        .await;
        let ids: Vec<i64> = list
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|x| x["id"].as_i64())
            .collect();
        assert_eq!(ids, vec![id(&a)]);
        // Non-administrators see no such list in their inbox.
        let inbox = body(t.get("/api/v1/inbox", &o.steward).await, 200).await;
        assert_eq!(inbox["counts"]["needs_admin"], 0);
        // The administrator may only name someone who qualifies.
        let p = problem(
            act(
                &t,
                &o.admin,
                id(&a),
                "delegate",
                json!({"to_user": o.spare_id}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(p["fields"][0]["code"], "application.step_role_missing");

        // Giving the role to someone hands them the step and clears the flag.
        set_roles(
            &t,
            &o.admin,
            r2,
            json!([{"role": "reviewer", "scope": "all"}]),
        )
        .await;
        let fixed = application(&t, &o.admin, id(&a)).await;
        assert!(fixed["needs_admin"].is_null(), "{}", fixed["needs_admin"]);
        assert_eq!(
            tasks(&fixed),
            vec![(r1, Some("reassigned".into())), (r2, None)]
        );
        let inbox = body(t.get("/api/v1/inbox", &o.admin).await, 200).await;
        assert_eq!(inbox["counts"]["needs_admin"], 0);
        let r2_token = t.login("reviewer2", USER_PASSWORD).await;
        let done = ok(&t, &r2_token, id(&a), "approve", json!({})).await;
        assert_eq!(done["state"], "approved");
    }
);

backend_test!(disabling_an_approver_reassigns_their_open_tasks, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("停用转派有限公司")).await;
    let b = submit(&t, &o.clerk, "create", new_customer("停用转派二有限公司")).await;
    assert_eq!(tasks(&a), vec![(o.manager_id, None)]);
    let r = t
        .patch(
            &format!("/api/v1/users/{}", o.manager_id),
            &o.admin,
            json!({"disabled": true}),
        )
        .await;
    body(r, 200).await;
    // No other manager up the department tree: the administrators take both steps.
    for x in [&a, &b] {
        let moved = application(&t, &o.clerk, id(x)).await;
        assert_eq!(
            tasks(&moved),
            vec![(o.manager_id, Some("reassigned".into())), (1, None)]
        );
        assert_eq!(
            last_event(&moved)["detail"]["removed"][0]["code"],
            "user.disabled"
        );
    }
    let inbox = body(t.get("/api/v1/inbox", &o.admin).await, 200).await;
    assert_eq!(inbox["counts"]["pending"], 2);
    let r = ok(&t, &o.admin, id(&a), "approve", json!({})).await;
    assert_eq!(r["current_step"], 1);
});

backend_test!(
    editing_a_roles_permissions_reassigns_its_holders_tasks,
    |t| {
        let o = org(&t).await;
        reviewer_flow(&t, &o.admin).await;
        let r1 = t
            .create_user(
                &o.admin,
                "reviewer1",
                None,
                json!([{"role": "reviewer", "scope": "all"}]),
            )
            .await;
        let r1_token = t.login("reviewer1", USER_PASSWORD).await;
        let a = submit(&t, &o.clerk, "create", new_customer("角色改权有限公司")).await;
        assert_eq!(tasks(&a), vec![(r1, None)]);
        let r = t
            .patch(
                "/api/v1/roles/reviewer",
                &o.admin,
                json!({"permissions": ["customer.read"]}),
            )
            .await;
        body(r, 200).await;
        let p = problem(act(&t, &r1_token, id(&a), "approve", json!({})).await, 403).await;
        assert_eq!(p["code"], "application.task_reassigned");
        let moved = application(&t, &o.clerk, id(&a)).await;
        assert_eq!(
            last_event(&moved)["detail"]["removed"][0]["code"],
            "application.approve_permission_missing"
        );
        assert_eq!(
            tasks(&moved),
            vec![(r1, Some("reassigned".into())), (1, None)]
        );
        let done = ok(&t, &o.admin, id(&a), "approve", json!({})).await;
        assert_eq!(done["state"], "approved");
    }
);

backend_test!(a_new_department_manager_takes_the_step, |t| {
    let o = org(&t).await;
    let a = submit(&t, &o.clerk, "create", new_customer("换负责人有限公司")).await;
    let dept = a["department_id"].as_i64().expect("department");
    let r = t
        .patch(
            &format!("/api/v1/departments/{dept}"),
            &o.admin,
            json!({"manager_id": o.spare_id}),
        )
        .await;
    body(r, 200).await;
    let p = problem(act(&t, &o.manager, id(&a), "approve", json!({})).await, 403).await;
    assert_eq!(p["code"], "application.task_reassigned");
    let moved = application(&t, &o.clerk, id(&a)).await;
    assert_eq!(
        tasks(&moved),
        vec![
            (o.manager_id, Some("reassigned".into())),
            (o.spare_id, None)
        ]
    );
    let r = ok(&t, &o.spare, id(&a), "approve", json!({})).await;
    assert_eq!(r["current_step"], 1);
});
