//! The business records of a customer through the use cases, on SQLite and (when
//! CUSTOS_TEST_PG_URL is set) PostgreSQL: each kind recorded and read back, permissions,
//! data scope, audit, masking, the triggers (complaint → service record, first signed
//! contract → cooperation status), order idempotency and totals, credit history, and
//! merges carrying the records (unmerges bringing them back).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use custos_app::activities::{
    ContractPatch, InteractionPatch, Located, NewContract, NewCredit, NewFollowup, NewInteraction,
    NewOrder, NewServiceRecord, PageQuery,
};
use custos_app::customers::NewCustomer;
use custos_app::merge::MergeRequest;
use custos_app::{Actor, AppError, AuditFilter};
use serde_json::json;

#[path = "support/app.rs"]
#[macro_use]
mod app;
use app::*;

/// A user holding `role` with `scope`, as an actor.
async fn customer(t: &T, name: &str, level: Option<&str>) -> String {
    t.app
        .customers()
        .create_customer(
            &t.admin,
            NewCustomer {
                customer_type: "enterprise".into(),
                name: name.into(),
                level: level.map(str::to_string),
                ..Default::default()
            },
        )
        .await
        .expect("create customer")
        .code
}

fn here<T>(l: Located<T>) -> T {
    match l {
        Located::Here(v) => v,
        Located::Moved { survivor } => panic!("moved to {survivor}"),
    }
}

fn all() -> PageQuery {
    PageQuery::default()
}

fn followup(content: &str) -> NewFollowup {
    NewFollowup {
        channel: "call".into(),
        content: content.into(),
        result: Some("需求确认".into()),
        next_plan: Some("寄送方案".into()),
        next_date: Some("2030-01-10".into()),
        ..Default::default()
    }
}

fn order(doc: &str, date: &str, amount: serde_json::Value) -> NewOrder {
    NewOrder {
        source_system: "erp".into(),
        document_number: doc.into(),
        date: date.into(),
        amount,
        ..Default::default()
    }
}

async fn audit_of(t: &T, action: &str) -> Vec<custos_app::audit::AuditView> {
    t.app
        .audit()
        .list_audit(
            &t.admin,
            AuditFilter {
                action: Some(action.into()),
                limit: 50,
                ..Default::default()
            },
        )
        .await
        .unwrap()
}

fn status(e: &AppError) -> u16 {
    e.status()
}

both!(followup_recorded_read_back_audited_and_masked, |t| {
    let code = customer(&t, "北京跟进科技有限公司", None).await;
    let v = here(
        t.app
            .activities()
            .add_followup(&t.admin, &code, followup("客户请回电 13812345678 再谈"))
            .await
            .unwrap(),
    );
    assert_eq!(v.followup.channel, "call");
    assert_eq!(v.meta.customer_code, code);

    // The admin may read personal data: content in clear, and that read is audited.
    let page = here(
        t.app
            .activities()
            .list_followups(&t.admin, &code, &all())
            .await
            .unwrap(),
    );
    assert_eq!(page.items.len(), 1);
    assert_eq!(
        page.items[0].followup.content,
        "客户请回电 13812345678 再谈"
    );
    assert!(!page.items[0].meta.text_masked);
    assert!(!audit_of(&t, "customer.pii_read").await.is_empty());

    // A query user without customer.pii.read sees the phone number masked.
    let query = user(&t, "query_all", "query", "all").await;
    let page = here(
        t.app
            .activities()
            .list_followups(&query, &code, &all())
            .await
            .unwrap(),
    );
    assert_eq!(
        page.items[0].followup.content,
        "客户请回电 138****5678 再谈"
    );
    assert!(page.items[0].meta.text_masked);

    // The write is audited, without the phone number in clear.
    let entries = audit_of(&t, "activity.followup_create").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].target_id, code);
    let after = entries[0].after.as_ref().unwrap().to_string();
    assert!(
        after.contains("138****5678") && !after.contains("13812345678"),
        "{after}"
    );

    // Bounded and checked input: every failing field named.
    let bad = NewFollowup {
        channel: "fax".into(),
        content: "x".repeat(2001),
        result: Some("随便".into()),
        next_date: Some("2030-02-30".into()),
        ..Default::default()
    };
    match t.app.activities().add_followup(&t.admin, &code, bad).await {
        Err(AppError::Validation(f)) => {
            let fields: Vec<&str> = f.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["channel", "content", "result", "next_date"]);
        }
        other => panic!("{other:?}"),
    }
    let control = followup("响铃\u{7}");
    let e = t
        .app
        .activities()
        .add_followup(&t.admin, &code, control)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 422);
});

both!(permissions_and_scope_decide_every_kind, |t| {
    let code = customer(&t, "上海范围贸易有限公司", None).await;
    let query = user(&t, "query_all", "query", "all").await;
    let clerk_own = user(&t, "clerk_own", "clerk", "own").await;
    let clerk_all = user(&t, "clerk_all", "clerk", "all").await;

    // A role lacking the permission: 403, whatever the body.
    let e = t
        .app
        .activities()
        .add_followup(&query, &code, followup("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Forbidden { .. }), "{e:?}");
    let e = t
        .app
        .activities()
        .credit_history(&clerk_all, &code, &all())
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Forbidden { .. }), "{e:?}");
    let credit = NewCredit {
        rating: "A".into(),
        rated_on: "2026-01-01".into(),
        ..Default::default()
    };
    let e = t
        .app
        .activities()
        .add_credit(&clerk_all, &code, credit)
        .await
        .unwrap_err();
    assert_eq!(status(&e), 403);

    // Outside the data scope: the same 404 as an unknown customer and as the customer
    // endpoint itself.
    let out = t
        .app
        .activities()
        .list_followups(&clerk_own, &code, &all())
        .await
        .unwrap_err();
    let customer_out = t
        .app
        .customers()
        .get_customer(&clerk_own, &code)
        .await
        .unwrap_err();
    let unknown = t
        .app
        .activities()
        .list_followups(&clerk_own, "C9999999", &all())
        .await
        .unwrap_err();
    assert_eq!(status(&out), 404);
    assert_eq!(out.code(), customer_out.code());
    assert_eq!(out.code(), unknown.code());
    let lang = custos_core::violation::Lang::Zh;
    assert_eq!(out.detail(lang), customer_out.detail(lang));
    let e = t
        .app
        .activities()
        .add_order(&clerk_own, &code, order("SO-9", "2026-01-01", json!(1)))
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);
    let e = t
        .app
        .activities()
        .list_activities(&clerk_own, &code, &all())
        .await
        .unwrap_err();
    assert_eq!(status(&e), 404);

    // Inside the scope and holding the permission: allowed.
    here(
        t.app
            .activities()
            .add_followup(&clerk_all, &code, followup("已联系"))
            .await
            .unwrap(),
    );
    let page = here(
        t.app
            .activities()
            .list_followups(&query, &code, &all())
            .await
            .unwrap(),
    );
    assert_eq!(page.items.len(), 1);
    let exec = user(&t, "exec_all", "executive", "all").await;
    here(
        t.app
            .activities()
            .credit_history(&exec, &code, &all())
            .await
            .unwrap(),
    );
});

both!(
    complaint_opens_a_service_record_and_only_moves_forward,
    |t| {
        let code = customer(&t, "广州投诉电器有限公司", None).await;
        let visit = here(
            t.app
                .activities()
                .add_interaction(
                    &t.admin,
                    &code,
                    NewInteraction {
                        kind: "visit".into(),
                        content: "上门拜访".into(),
                        ..Default::default()
                    },
                )
                .await
                .unwrap(),
        );
        assert_eq!(visit.interaction.status, None);
        assert_eq!(visit.interaction.service_record_id, None);

        let c = here(
            t.app
                .activities()
                .add_interaction(
                    &t.admin,
                    &code,
                    NewInteraction {
                        kind: "complaint".into(),
                        content: "空调不制冷".into(),
                        product: Some("空调".into()),
                        model: Some("KFR-35".into()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap(),
        );
        assert_eq!(c.interaction.status.as_deref(), Some("open"));
        assert_eq!(c.interaction.handler_id, Some(t.admin.user_id));
        let sid = c
            .interaction
            .service_record_id
            .expect("service record opened");
        let services = here(
            t.app
                .activities()
                .list_service_records(&t.admin, &code, &all())
                .await
                .unwrap(),
        );
        assert_eq!(services.items.len(), 1);
        assert_eq!(services.items[0].meta.id, sid);
        assert_eq!(services.items[0].service.complaint_id, Some(c.meta.id));
        assert_eq!(services.items[0].service.problem, "空调不制冷");
        assert_eq!(services.items[0].service.model.as_deref(), Some("KFR-35"));
        assert_eq!(
            audit_of(&t, "activity.service_record_create").await.len(),
            1
        );

        let patch = |status: Option<&str>, satisfaction: Option<i64>| InteractionPatch {
            status: status.map(str::to_string),
            satisfaction,
            ..Default::default()
        };
        // Satisfaction only once resolved; a status never goes back.
        let e = t
            .app
            .activities()
            .update_interaction(
                &t.admin,
                &code,
                c.meta.id,
                patch(Some("in_progress"), Some(4)),
            )
            .await
            .unwrap_err();
        assert_eq!(status(&e), 422);
        here(
            t.app
                .activities()
                .update_interaction(&t.admin, &code, c.meta.id, patch(Some("in_progress"), None))
                .await
                .unwrap(),
        );
        let done = here(
            t.app
                .activities()
                .update_interaction(
                    &t.admin,
                    &code,
                    c.meta.id,
                    InteractionPatch {
                        status: Some("resolved".into()),
                        resolution: Some("更换压缩机".into()),
                        satisfaction: Some(5),
                        ..Default::default()
                    },
                )
                .await
                .unwrap(),
        );
        assert_eq!(done.interaction.satisfaction, Some(5));
        match t
            .app
            .activities()
            .update_interaction(&t.admin, &code, c.meta.id, patch(Some("in_progress"), None))
            .await
        {
            Err(AppError::Validation(f)) => {
                assert_eq!(f[0].violation.code, "complaint.status_backward")
            }
            other => panic!("{other:?}"),
        }
        let e = t
            .app
            .activities()
            .update_interaction(&t.admin, &code, visit.meta.id, patch(Some("closed"), None))
            .await
            .unwrap_err();
        assert_eq!(e.code(), "interaction.not_complaint");
        let e = t
            .app
            .activities()
            .update_interaction(&t.admin, &code, 999_999, patch(Some("closed"), None))
            .await
            .unwrap_err();
        assert_eq!(status(&e), 404);
        assert_eq!(audit_of(&t, "activity.interaction_update").await.len(), 3);

        // A service record by hand may name the complaint, but only one of this customer's.
        let s = NewServiceRecord {
            problem: "回访".into(),
            complaint_id: Some(visit.meta.id),
            ..Default::default()
        };
        let e = t
            .app
            .activities()
            .add_service_record(&t.admin, &code, s)
            .await
            .unwrap_err();
        assert_eq!(status(&e), 422);
    }
);

both!(
    first_signed_contract_moves_cooperation_status_in_history,
    |t| {
        let code = customer(&t, "深圳合同软件有限公司", Some("潜在客户")).await;
        let draft = here(
            t.app
                .activities()
                .add_contract(
                    &t.admin,
                    &code,
                    NewContract {
                        number: "HT-2026-001".into(),
                        amount: json!("128000.5"),
                        products: Some("软件许可".into()),
                        ..Default::default()
                    },
                )
                .await
                .unwrap(),
        );
        assert_eq!(draft.contract.amount, "128000.50");
        assert_eq!(draft.contract.amount_fen, 12_800_050);
        assert_eq!(draft.contract.currency, "CNY");
        assert_eq!(draft.contract.status, "draft");
        let level = |v: custos_app::customers::CustomerView| v.level;
        assert_eq!(
            level(
                t.app
                    .customers()
                    .get_customer(&t.admin, &code)
                    .await
                    .unwrap()
            )
            .as_deref(),
            Some("潜在客户")
        );

        // The same number again on this customer: conflict.
        let again = NewContract {
            number: "HT-2026-001".into(),
            amount: json!(1),
            ..Default::default()
        };
        assert_eq!(
            status(
                &t.app
                    .activities()
                    .add_contract(&t.admin, &code, again)
                    .await
                    .unwrap_err()
            ),
            409
        );
        // Signing needs its date; a signed contract cannot go back to draft.
        let sign = |d: Option<&str>| ContractPatch {
            status: "signed".into(),
            signed_on: d.map(str::to_string),
        };
        assert_eq!(
            status(
                &t.app
                    .activities()
                    .update_contract(&t.admin, &code, draft.meta.id, sign(None))
                    .await
                    .unwrap_err()
            ),
            422
        );
        let signed = here(
            t.app
                .activities()
                .update_contract(&t.admin, &code, draft.meta.id, sign(Some("2026-03-01")))
                .await
                .unwrap(),
        );
        assert_eq!(signed.contract.status, "signed");
        let back = ContractPatch {
            status: "draft".into(),
            signed_on: None,
        };
        let e = t
            .app
            .activities()
            .update_contract(&t.admin, &code, draft.meta.id, back)
            .await
            .unwrap_err();
        assert_eq!(status(&e), 422);

        let v = t
            .app
            .customers()
            .get_customer(&t.admin, &code)
            .await
            .unwrap();
        assert_eq!(v.level.as_deref(), Some("成交客户"));
        let history = t
            .app
            .customers()
            .customer_history(&t.admin, &code)
            .await
            .unwrap();
        let moved: Vec<_> = history
            .iter()
            .filter(|h| h.action == "contract_signed")
            .collect();
        assert_eq!(moved.len(), 1, "{history:?}");
        assert!(moved[0].changes.iter().any(|c| c.field == "level"));
        assert_eq!(audit_of(&t, "customer.contract_signed").await.len(), 1);

        // A second signed contract changes nothing more.
        let second = NewContract {
            number: "HT-2026-002".into(),
            amount: json!(5000),
            status: Some("signed".into()),
            signed_on: Some("2026-04-01".into()),
            ..Default::default()
        };
        here(
            t.app
                .activities()
                .add_contract(&t.admin, &code, second)
                .await
                .unwrap(),
        );
        let history = t
            .app
            .customers()
            .customer_history(&t.admin, &code)
            .await
            .unwrap();
        assert_eq!(
            history
                .iter()
                .filter(|h| h.action == "contract_signed")
                .count(),
            1
        );
        let page = here(
            t.app
                .activities()
                .list_contracts(&t.admin, &code, &all())
                .await
                .unwrap(),
        );
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.items[0].contract.number, "HT-2026-002");
    }
);

both!(orders_are_idempotent_and_keep_totals, |t| {
    let code = customer(&t, "杭州订单食品有限公司", None).await;
    let first = here(
        t.app
            .activities()
            .add_order(&t.admin, &code, order("SO-1", "2026-01-05", json!(100.5)))
            .await
            .unwrap(),
    );
    assert!(first.created);
    assert_eq!(first.order.order.amount_fen, 10_050);
    let repeat = here(
        t.app
            .activities()
            .add_order(
                &t.admin,
                &code,
                order("SO-1", "2026-01-05", json!("100.50")),
            )
            .await
            .unwrap(),
    );
    assert!(!repeat.created);
    assert_eq!(repeat.order.meta.id, first.order.meta.id);
    let e = t
        .app
        .activities()
        .add_order(&t.admin, &code, order("SO-1", "2026-01-05", json!(99)))
        .await
        .unwrap_err();
    assert_eq!(status(&e), 409);
    assert_eq!(e.code(), "order.document_conflict");
    // The same number from another system is another document.
    let mut other = order("SO-1", "2026-02-01", json!(1));
    other.source_system = "pos".into();
    assert!(
        here(
            t.app
                .activities()
                .add_order(&t.admin, &code, other)
                .await
                .unwrap()
        )
        .created
    );
    // A payment is recorded but is not an order in the totals.
    let mut pay = order("PAY-1", "2026-03-01", json!(50));
    pay.kind = Some("payment".into());
    here(
        t.app
            .activities()
            .add_order(&t.admin, &code, pay)
            .await
            .unwrap(),
    );
    for bad in [json!(-1), json!("1.234"), json!("abc"), json!(1e20)] {
        let e = t
            .app
            .activities()
            .add_order(&t.admin, &code, order("SO-X", "2026-01-05", bad.clone()))
            .await
            .unwrap_err();
        assert_eq!(status(&e), 422, "{bad}");
    }

    let page = here(
        t.app
            .activities()
            .list_orders(&t.admin, &code, &all())
            .await
            .unwrap(),
    );
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.totals.order_count, 2);
    assert_eq!(page.totals.lifetime_amount_fen, 10_150);
    assert_eq!(page.totals.lifetime_amount, "101.50");
    assert_eq!(page.totals.last_order_on.as_deref(), Some("2026-02-01"));
    assert_eq!(audit_of(&t, "activity.order_create").await.len(), 2);
    assert_eq!(audit_of(&t, "activity.payment_create").await.len(), 1);
});

both!(credit_history_is_newest_first_and_current_is_latest, |t| {
    let code = customer(&t, "成都信用建材有限公司", None).await;
    for (rating, on) in [
        ("B", "2025-01-01"),
        ("A", "2026-01-01"),
        ("BB", "2025-06-01"),
    ] {
        let c = NewCredit {
            rating: rating.into(),
            rated_on: on.into(),
            source: Some("财务部".into()),
            limit: Some(json!("500000")),
            overdue_amount: Some(json!(0)),
            overdue_days: Some(0),
            defaulted: Some(false),
        };
        here(
            t.app
                .activities()
                .add_credit(&t.admin, &code, c)
                .await
                .unwrap(),
        );
    }
    let h = here(
        t.app
            .activities()
            .credit_history(&t.admin, &code, &all())
            .await
            .unwrap(),
    );
    let ratings: Vec<&str> = h.history.iter().map(|c| c.credit.rating.as_str()).collect();
    assert_eq!(ratings, ["A", "BB", "B"]);
    assert_eq!(h.current.unwrap().credit.rating, "A");
    assert_eq!(audit_of(&t, "activity.credit_create").await.len(), 3);
    let bad = NewCredit {
        rating: "C".into(),
        rated_on: "2026-13-01".into(),
        overdue_days: Some(-3),
        ..Default::default()
    };
    match t.app.activities().add_credit(&t.admin, &code, bad).await {
        Err(AppError::Validation(f)) => {
            let fields: Vec<&str> = f.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["rated_on", "overdue_days"]);
        }
        other => panic!("{other:?}"),
    }
});

both!(all_records_in_one_list_newest_first_in_pages, |t| {
    let code = customer(&t, "武汉列表机械有限公司", None).await;
    let mut f = followup("最早的跟进");
    f.followed_at = Some("2026-01-01T09:00:00+08:00".into());
    here(
        t.app
            .activities()
            .add_followup(&t.admin, &code, f)
            .await
            .unwrap(),
    );
    here(
        t.app
            .activities()
            .add_order(&t.admin, &code, order("SO-L", "2026-02-01", json!(5)))
            .await
            .unwrap(),
    );
    let c = NewContract {
        number: "HT-L".into(),
        amount: json!(9),
        status: Some("signed".into()),
        signed_on: Some("2026-03-01".into()),
        ..Default::default()
    };
    here(
        t.app
            .activities()
            .add_contract(&t.admin, &code, c)
            .await
            .unwrap(),
    );
    let credit = NewCredit {
        rating: "A".into(),
        rated_on: "2026-04-01".into(),
        ..Default::default()
    };
    here(
        t.app
            .activities()
            .add_credit(&t.admin, &code, credit)
            .await
            .unwrap(),
    );

    let q = PageQuery {
        limit: Some("2".into()),
        cursor: None,
    };
    let first = here(
        t.app
            .activities()
            .list_activities(&t.admin, &code, &q)
            .await
            .unwrap(),
    );
    let kinds: Vec<&str> = first.items.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["contract", "order"], "credit is not in the list");
    let q = PageQuery {
        limit: Some("2".into()),
        cursor: first.next_cursor.clone(),
    };
    let second = here(
        t.app
            .activities()
            .list_activities(&t.admin, &code, &q)
            .await
            .unwrap(),
    );
    let kinds: Vec<&str> = second.items.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["followup"]);
    assert_eq!(second.next_cursor, None);
    assert_eq!(second.items[0].record["content"], "最早的跟进");
    for (limit, cursor) in [
        (Some("0"), None),
        (Some("201"), None),
        (None, Some("abc")),
        (None, Some("999999")),
    ] {
        let q = PageQuery {
            limit: limit.map(str::to_string),
            cursor: cursor.map(str::to_string),
        };
        let e = t
            .app
            .activities()
            .list_activities(&t.admin, &code, &q)
            .await
            .unwrap_err();
        assert_eq!(status(&e), 422, "{limit:?} {cursor:?}");
    }
});

both!(the_same_order_sent_at_once_is_recorded_once, |t| {
    let code = customer(&t, "重庆并发订单有限公司", None).await;
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let (app, admin, code) = (t.app.clone(), t.admin.clone(), code.clone());
        tasks.push(tokio::spawn(async move {
            app.activities()
                .add_order(&admin, &code, order("SO-RACE", "2026-06-01", json!(42)))
                .await
        }));
    }
    let mut created = 0;
    let mut ids = Vec::new();
    for task in tasks {
        let r = here(task.await.unwrap().unwrap());
        created += usize::from(r.created);
        ids.push(r.order.meta.id);
    }
    assert_eq!(created, 1);
    ids.dedup();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let page = here(
        t.app
            .activities()
            .list_orders(&t.admin, &code, &all())
            .await
            .unwrap(),
    );
    assert_eq!(page.totals.order_count, 1);
});

/// One record of every kind added to `code` by `actor`: the status of each answer, in
/// the order follow-up, interaction, service record, contract, order, credit.
async fn add_every_kind(t: &T, actor: &Actor, code: &str, n: usize) -> Vec<Result<(), AppError>> {
    let app = &t.app;
    let interaction = NewInteraction {
        kind: "complaint".into(),
        content: format!("投诉 {n}"),
        ..Default::default()
    };
    let service = NewServiceRecord {
        problem: format!("服务 {n}"),
        ..Default::default()
    };
    let contract = NewContract {
        number: format!("HT-{n}"),
        amount: json!(n),
        ..Default::default()
    };
    let credit = NewCredit {
        rating: "A".into(),
        rated_on: "2026-01-01".into(),
        ..Default::default()
    };
    vec![
        app.activities()
            .add_followup(actor, code, followup(&format!("跟进 {n}")))
            .await
            .map(drop),
        app.activities()
            .add_interaction(actor, code, interaction)
            .await
            .map(drop),
        app.activities()
            .add_service_record(actor, code, service)
            .await
            .map(drop),
        app.activities()
            .add_contract(actor, code, contract)
            .await
            .map(drop),
        app.activities()
            .add_order(
                actor,
                code,
                order(&format!("SO-K{n}"), "2026-01-01", json!(n)),
            )
            .await
            .map(drop),
        app.activities()
            .add_credit(actor, code, credit)
            .await
            .map(drop),
    ]
}

both!(
    every_kind_needs_its_permission_and_the_customer_in_scope,
    |t| {
        let code = customer(&t, "长沙每类记录有限公司", None).await;
        let query = user(&t, "query_all", "query", "all").await;
        let clerk_own = user(&t, "clerk_own", "clerk", "own").await;
        let clerk_all = user(&t, "clerk_all", "clerk", "all").await;
        let statuses = |rs: Vec<Result<(), AppError>>| -> Vec<u16> {
            rs.iter()
                .map(|r| r.as_ref().err().map_or(200, AppError::status))
                .collect()
        };
        // query: no activity.write, no credit.write.
        assert_eq!(
            statuses(add_every_kind(&t, &query, &code, 1).await),
            [403; 6]
        );
        // clerk over its own customers only: the ones it may write are 404 here.
        assert_eq!(
            statuses(add_every_kind(&t, &clerk_own, &code, 2).await),
            [404, 404, 404, 404, 404, 403]
        );
        // clerk over everything: all but credit.
        assert_eq!(
            statuses(add_every_kind(&t, &clerk_all, &code, 3).await),
            [200, 200, 200, 200, 200, 403]
        );
        assert_eq!(
            statuses(add_every_kind(&t, &t.admin, &code, 4).await),
            [200; 6]
        );
        for action in ["followup", "interaction", "contract", "order", "credit"] {
            let n = audit_of(&t, &format!("activity.{action}_create"))
                .await
                .len();
            assert_eq!(n, if action == "credit" { 1 } else { 2 }, "{action}");
        }
        // Two complaints opened two service records beside the two added by hand.
        assert_eq!(
            audit_of(&t, "activity.service_record_create").await.len(),
            4
        );
        let reads: Vec<u16> = vec![
            t.app
                .activities()
                .list_followups(&clerk_own, &code, &all())
                .await
                .err()
                .map_or(200, |e| e.status()),
            t.app
                .activities()
                .list_interactions(&clerk_own, &code, &all())
                .await
                .err()
                .map_or(200, |e| e.status()),
            t.app
                .activities()
                .list_service_records(&clerk_own, &code, &all())
                .await
                .err()
                .map_or(200, |e| e.status()),
            t.app
                .activities()
                .list_contracts(&clerk_own, &code, &all())
                .await
                .err()
                .map_or(200, |e| e.status()),
            t.app
                .activities()
                .list_orders(&clerk_own, &code, &all())
                .await
                .err()
                .map_or(200, |e| e.status()),
            t.app
                .activities()
                .credit_history(&query, &code, &all())
                .await
                .err()
                .map_or(200, |e| e.status()),
        ];
        assert_eq!(reads, [404, 404, 404, 404, 404, 403]);
    }
);

#[path = "activities/carry.rs"]
mod carry;
#[path = "activities/hierarchy.rs"]
mod hierarchy;
#[path = "activities/lifecycle.rs"]
mod lifecycle;
#[path = "activities/lifecycle_scale.rs"]
mod lifecycle_scale;
#[path = "activities/reports.rs"]
mod reports;
#[path = "activities/synthetic.rs"]
mod synthetic;
