//! The SQLite tallies behind the statistics stay equal to a count of the customers through
//! every kind of writer: creation, edits that move a customer between groups, owner and
//! department changes, retirement and merges.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use custos_store::customer_master::{GroupCount, ScopeFilter, StatGroup};
use serde_json::json;

use crate::customers::merge::MergeRequest;
use crate::customers::{CustomerPatch, NewCustomer};
use crate::org::NewDepartment;
use crate::test_support::app_with_admin;
use crate::{Actor, App};

const GROUPS: [StatGroup; 8] = [
    StatGroup::Type,
    StatGroup::Province,
    StatGroup::City,
    StatGroup::Industry,
    StatGroup::Status,
    StatGroup::Level,
    StatGroup::Department,
    StatGroup::Month,
];

fn sorted(mut v: Vec<GroupCount>) -> Vec<(Option<String>, i64)> {
    v.sort_by(|a, b| a.key.cmp(&b.key));
    v.into_iter().map(|g| (g.key, g.count)).collect()
}

async fn assert_tallies_match(app: &App, scopes: &[ScopeFilter], when: &str) {
    let mut tx = app.db.begin_read().await.unwrap();
    for scope in scopes {
        for g in GROUPS {
            let kept = tx.customer_group_counts(scope, g).await.unwrap();
            let counted = tx.counted_group_counts(scope, g).await.unwrap();
            assert_eq!(
                sorted(kept),
                sorted(counted),
                "{when}: {g:?} in scope {scope:?}"
            );
        }
    }
    tx.rollback().await.unwrap();
}

async fn patch(app: &App, admin: &Actor, code: &str, body: serde_json::Value) {
    let version = app
        .customers()
        .get_customer(admin, code)
        .await
        .unwrap()
        .version;
    let mut body = body;
    body["version"] = json!(version);
    let p: CustomerPatch = serde_json::from_value(body).unwrap();
    app.customers()
        .update_customer(admin, code, p)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tallies_equal_a_count_after_every_kind_of_change() {
    let (app, admin, _dir) = app_with_admin().await;
    let mut deps = Vec::new();
    for name in ["华东销售部", "华北销售部"] {
        let d = NewDepartment {
            name: name.into(),
            parent_id: None,
            manager_id: None,
        };
        deps.push(app.org().create_department(&admin, d).await.unwrap().id);
    }
    let regions = ["110105", "310115", "440305", "320506", "510107"];
    let levels = [None, Some("small"), Some("medium"), Some("large")];
    let industries = [None, Some("I"), Some("C"), Some("F")];
    let mut input = Vec::new();
    for i in 0..40usize {
        let mut v = json!({
            "customer_type": "enterprise",
            "name": format!("统计测试{i}号贸易有限公司"),
            "region_code": regions[i % regions.len()],
        });
        if let Some(l) = levels[i % levels.len()] {
            v["level"] = json!(l);
        }
        if let Some(ind) = industries[(i / 2) % industries.len()] {
            v["industry"] = json!(ind);
        }
        if i % 3 != 0 {
            v["owner_id"] = json!(admin.user_id);
        }
        if i % 4 != 0 {
            v["department_id"] = json!(deps[i % 2]);
        }
        input.push(serde_json::from_value::<NewCustomer>(v).unwrap());
    }
    let created = app
        .customers()
        .create_customers(&admin, input)
        .await
        .unwrap();
    let codes: Vec<String> = created;
    let scopes = [
        ScopeFilter::All,
        ScopeFilter::Own(admin.user_id),
        ScopeFilter::Departments(admin.user_id, vec![deps[0]]),
        ScopeFilter::Departments(admin.user_id + 99, deps.clone()),
    ];
    assert_tallies_match(&app, &scopes, "after creation").await;

    // Edits that move customers between groups, clear values and change hands.
    patch(
        &app,
        &admin,
        &codes[0],
        json!({"region_code": "120101", "level": "large"}),
    )
    .await;
    patch(
        &app,
        &admin,
        &codes[1],
        json!({"region_code": null, "industry": null}),
    )
    .await;
    patch(
        &app,
        &admin,
        &codes[2],
        json!({"owner_id": null, "department_id": deps[1]}),
    )
    .await;
    patch(&app, &admin, &codes[3], json!({"department_id": null})).await;
    assert_tallies_match(&app, &scopes, "after edits").await;

    // A merge changes the merged customers' status; the survivor may take values.
    let req: MergeRequest = serde_json::from_value(json!({
        "survivor": codes[4],
        "merged": [codes[5], codes[6]],
        "fields": {"region_code": codes[5]},
        "reason": "同一家公司录入三次",
    }))
    .unwrap();
    app.customers().merge_customers(&admin, req).await.unwrap();
    assert_tallies_match(&app, &scopes, "after a merge").await;

    let mut tx = app.db.begin_read().await.unwrap();
    let total: i64 = tx
        .customer_group_counts(&ScopeFilter::All, StatGroup::Type)
        .await
        .unwrap()
        .iter()
        .map(|g| g.count)
        .sum();
    tx.rollback().await.unwrap();
    assert_eq!(total, 40, "every customer row is counted once");
}
