//! The customer life cycle (客户状态): every stage reached, by records (today) and by the
//! daily job (on a day the test names), transitions with their causes, reactivation, a
//! merge changing the survivor's stage and its undoing, the data scope, and reminders
//! made once.

use chrono::{Days, Months, NaiveDate};
use custos_app::lifecycle::{run_daily_at, LifecycleView};

use super::*;

fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

fn months_later(n: u32) -> NaiveDate {
    today().checked_add_months(Months::new(n)).unwrap()
}

async fn life(t: &T, code: &str) -> LifecycleView {
    here(
        t.app
            .lifecycle()
            .customer_lifecycle(&t.admin, code)
            .await
            .unwrap(),
    )
}

/// (from, to, rule, cause) of the transitions, oldest first.
fn steps(v: &LifecycleView) -> Vec<(String, String, String, String)> {
    let mut s: Vec<_> = v
        .transitions
        .iter()
        .map(|t| {
            (
                t.from.clone().unwrap_or_default(),
                t.to.clone(),
                t.rule.clone(),
                t.cause.clone(),
            )
        })
        .collect();
    s.reverse();
    s
}

fn st(from: &str, to: &str, rule: &str, cause: &str) -> (String, String, String, String) {
    (from.into(), to.into(), rule.into(), cause.into())
}

both!(every_stage_with_causes_and_reactivation, |t| {
    let code = customer(&t, "杭州生命周期科技有限公司", None).await;
    let v = life(&t, &code).await;
    assert_eq!((v.stage.as_str(), v.since.as_deref()), ("prospect", None));
    assert!(v.transitions.is_empty());

    // A follow-up alone: still a prospect, now with a row and no transition.
    here(
        t.app
            .activities()
            .add_followup(&t.admin, &code, followup("初次拜访"))
            .await
            .unwrap(),
    );
    let v = life(&t, &code).await;
    assert_eq!(v.stage, "prospect");
    assert_eq!(v.last_activity_on, Some(today().to_string()));
    assert!(v.transitions.is_empty());

    // The first order makes a new customer, the order being the cause.
    let day = today().to_string();
    let o1 = here(
        t.app
            .activities()
            .add_order(&t.admin, &code, order("LC-1", &day, json!(100)))
            .await
            .unwrap(),
    );
    let v = life(&t, &code).await;
    assert_eq!(v.stage, "new");
    assert_eq!(v.stage_label, "新客户");
    assert_eq!(v.since.as_deref(), Some(day.as_str()));
    assert_eq!(v.activity_id, Some(o1.order.meta.id));
    assert_eq!(v.first_deal_on.as_deref(), Some(day.as_str()));

    // A second order: repeat purchase.
    here(
        t.app
            .activities()
            .add_order(&t.admin, &code, order("LC-2", &day, json!(50)))
            .await
            .unwrap(),
    );
    assert_eq!(life(&t, &code).await.stage, "repeat");

    // Time alone: dormant after six months without records, lost after twelve.
    let run = run_daily_at(&t.app, months_later(7)).await.unwrap();
    assert_eq!(run.entered.get("dormant"), Some(&1));
    let v = life(&t, &code).await;
    assert_eq!(v.stage, "dormant");
    assert_eq!(v.since, Some(months_later(7).to_string()));
    // Running the same day again changes nothing.
    let again = run_daily_at(&t.app, months_later(7)).await.unwrap();
    assert!(again.entered.is_empty(), "{again:?}");
    run_daily_at(&t.app, months_later(13)).await.unwrap();
    assert_eq!(life(&t, &code).await.stage, "lost");

    // New activity brings it back, the follow-up being the cause.
    let f = here(
        t.app
            .activities()
            .add_followup(&t.admin, &code, followup("回访"))
            .await
            .unwrap(),
    );
    let v = life(&t, &code).await;
    assert_eq!(v.stage, "repeat");
    assert_eq!(v.cause.as_deref(), Some("record"));
    assert_eq!(v.activity_id, Some(f.meta.id));
    assert_eq!(
        steps(&v),
        vec![
            st("prospect", "new", "first_deal", "record"),
            st("new", "repeat", "repeat_orders", "record"),
            st("repeat", "dormant", "inactive_dormant", "daily"),
            st("dormant", "lost", "inactive_lost", "daily"),
            st("lost", "repeat", "repeat_orders", "record"),
        ]
    );
    assert_eq!(v.transitions[0].activity_id, Some(f.meta.id));
    // The timeline shows the changes as `lifecycle` events, the overview the stage.
    let tl = t
        .app
        .overview()
        .customer_timeline(
            &t.admin,
            &code,
            custos_app::overview::timeline::TimelineQuery {
                kind: Some("lifecycle".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let shown: Vec<&str> = tl.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(shown, ["repeat", "lost", "dormant", "repeat", "new"]);
    assert_eq!(tl.items[1].summary, "客户状态：休眠客户 → 流失客户");
    let o = t
        .app
        .overview()
        .customer_overview(&t.admin, &code)
        .await
        .unwrap();
    assert_eq!(o.lifecycle.map(|l| l.stage).as_deref(), Some("repeat"));
    // Each change by a record is audited with the customer.
    let audited = audit_of(&t, "customer.lifecycle").await;
    assert_eq!(audited.len(), 3);
    assert!(audited.iter().all(|e| e.target_id == code));
    assert!(!audit_of(&t, "lifecycle.daily").await.is_empty());
    // Every change is an event of the log too (for CRM and BI), by the system.
    let feed = t
        .app
        .events()
        .read_events(
            &t.admin,
            custos_app::events::EventQuery {
                types: vec!["customer.stage_changed".into()],
                limit: Some(100),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let moves: Vec<(String, String, String)> = feed
        .events
        .iter()
        .map(|e| {
            assert_eq!(e.customer_code.as_deref(), Some(code.as_str()));
            assert_eq!((e.actor_id, e.actor_name.as_str()), (None, "system"));
            (
                e.payload["from"].as_str().unwrap_or_default().to_string(),
                e.payload["to"].as_str().unwrap_or_default().to_string(),
                e.payload["cause"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = steps(&v)
        .into_iter()
        .map(|(from, to, _, cause)| (from, to, cause))
        .collect();
    assert_eq!(moves, want);
});

both!(old_orders_and_signed_contracts, |t| {
    // An order dated thirteen months back: lost at once (nothing since), then a
    // follow-up today makes it an old customer (first deal over twelve months ago).
    let code = customer(&t, "苏州老客户贸易有限公司", None).await;
    let old = today()
        .checked_sub_months(Months::new(13))
        .unwrap()
        .to_string();
    here(
        t.app
            .activities()
            .add_order(&t.admin, &code, order("OLD-1", &old, json!(10)))
            .await
            .unwrap(),
    );
    assert_eq!(life(&t, &code).await.stage, "lost");
    here(
        t.app
            .activities()
            .add_followup(&t.admin, &code, followup("重新联系"))
            .await
            .unwrap(),
    );
    let v = life(&t, &code).await;
    assert_eq!((v.stage.as_str(), v.rule.as_str()), ("repeat", "deal_aged"));

    // A signed contract is a first deal; a draft is not.
    let c = customer(&t, "无锡合同签订有限公司", None).await;
    let draft = here(
        t.app
            .activities()
            .add_contract(
                &t.admin,
                &c,
                NewContract {
                    number: "HT-1".into(),
                    amount: json!(1000),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
    );
    assert_eq!(life(&t, &c).await.stage, "prospect");
    here(
        t.app
            .activities()
            .update_contract(
                &t.admin,
                &c,
                draft.meta.id,
                ContractPatch {
                    status: "signed".into(),
                    signed_on: Some(today().to_string()),
                },
            )
            .await
            .unwrap(),
    );
    let v = life(&t, &c).await;
    assert_eq!((v.stage.as_str(), v.rule.as_str()), ("new", "first_deal"));
    assert_eq!(v.activity_id, Some(draft.meta.id));
    // A day short of twelve months without records: dormant, not yet lost.
    here(
        t.app
            .activities()
            .add_followup(&t.admin, &c, followup("续约"))
            .await
            .unwrap(),
    );
    run_daily_at(
        &t.app,
        months_later(12).checked_sub_days(Days::new(1)).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(life(&t, &c).await.stage, "dormant");
});

both!(merge_changes_the_survivor_and_unmerge_restores, |t| {
    let a = customer(&t, "合肥存续方科技有限公司", None).await;
    let b = customer(&t, "合肥被合并方科技有限公司", None).await;
    let day = today().to_string();
    here(
        t.app
            .activities()
            .add_order(&t.admin, &a, order("MA-1", &day, json!(1)))
            .await
            .unwrap(),
    );
    here(
        t.app
            .activities()
            .add_order(&t.admin, &b, order("MB-1", &day, json!(1)))
            .await
            .unwrap(),
    );
    assert_eq!(life(&t, &a).await.stage, "new");
    let m = t
        .app
        .customers()
        .merge_customers(
            &t.admin,
            MergeRequest {
                survivor: a.clone(),
                merged: vec![b.clone()],
                reason: Some("同一客户".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let v = life(&t, &a).await;
    assert_eq!((v.stage.as_str(), v.order_count), ("repeat", 2));
    assert_eq!(v.transitions[0].cause, "merge");
    assert!(matches!(
        t.app
            .lifecycle()
            .customer_lifecycle(&t.admin, &b)
            .await
            .unwrap(),
        Located::Moved { .. }
    ));
    t.app
        .customers()
        .unmerge(&t.admin, m.merge_id, Some("误合并".into()))
        .await
        .unwrap();
    let v = life(&t, &a).await;
    assert_eq!((v.stage.as_str(), v.order_count), ("new", 1));
    assert_eq!(v.transitions[0].cause, "unmerge");
    let v = life(&t, &b).await;
    assert_eq!(v.stage, "new");
    assert_eq!(
        steps(&v),
        vec![
            st("prospect", "new", "first_deal", "record"),
            st("new", "prospect", "no_deal", "merge"),
            st("prospect", "new", "first_deal", "unmerge"),
        ]
    );
});

both!(lifecycle_in_scope_only, |t| {
    let code = customer(&t, "厦门范围外科技有限公司", None).await;
    let own = user(&t, "clerk_own_life", "clerk", "own").await;
    let e = t
        .app
        .lifecycle()
        .customer_lifecycle(&own, &code)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);
    let e = t
        .app
        .lifecycle()
        .customer_lifecycle(&own, "C999999")
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);
    let all_reader = user(&t, "query_all_life", "query", "all").await;
    assert!(t
        .app
        .lifecycle()
        .customer_lifecycle(&all_reader, &code)
        .await
        .is_ok());
});

both!(reminders_made_once, |t| {
    let code = customer(&t, "青岛提醒科技有限公司", None).await;
    let mut f = followup("约定回访");
    f.next_date = Some(today().to_string());
    here(
        t.app
            .activities()
            .add_followup(&t.admin, &code, f)
            .await
            .unwrap(),
    );
    let expires = today().checked_add_days(Days::new(30)).unwrap().to_string();
    here(
        t.app
            .activities()
            .add_contract(
                &t.admin,
                &code,
                NewContract {
                    number: "HT-R".into(),
                    amount: json!(1),
                    status: Some("signed".into()),
                    signed_on: Some(today().to_string()),
                    service_expires_on: Some(expires.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
    );
    // Not yet made: nothing to see.
    assert!(t
        .app
        .lifecycle()
        .my_reminders(&t.admin)
        .await
        .unwrap()
        .is_empty());
    let run = run_daily_at(&t.app, today()).await.unwrap();
    assert_eq!(run.reminders, 2);
    let again = run_daily_at(&t.app, today()).await.unwrap();
    assert_eq!(again.reminders, 0);
    assert_eq!(audit_of(&t, "reminder.create").await.len(), 2);
    let mine = t.app.lifecycle().my_reminders(&t.admin).await.unwrap();
    let mut kinds: Vec<(&str, &str)> = mine
        .iter()
        .map(|r| (r.kind.as_str(), r.item_on.as_str()))
        .collect();
    kinds.sort();
    let day = today().to_string();
    assert_eq!(
        kinds,
        vec![("contract", expires.as_str()), ("followup", day.as_str())]
    );
    assert!(mine.iter().all(|r| r.customer_code == code && !r.overdue));
    // Someone else sees none of them.
    let other = user(&t, "query_all_rem", "query", "all").await;
    assert!(t
        .app
        .lifecycle()
        .my_reminders(&other)
        .await
        .unwrap()
        .is_empty());
});
