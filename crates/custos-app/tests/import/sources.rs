//! Upserts by source key (how CRM/ERP push customers in by their own ids), the steward's
//! queue of what the duplicate check left open, and resolving old codes — on SQLite and
//! PostgreSQL.

use std::collections::BTreeMap;

use custos_app::customers::NewCustomer;
use custos_app::merge::MergeRequest;
use custos_app::sources::{
    BatchItem, OnDefinite, OnPossible, QueueDecision, SourceBatch, SourcePolicy, UpsertOutcome,
};

use super::*;

/// `erp` follows the default policy (link a definite match, queue a possible one), `crm`
/// queues every match, `oa` creates on a possible match.
async fn setup_sources(backend: Backend) -> Option<T> {
    let mut cfg = AppConfig::default();
    cfg.sources.systems.insert(
        "crm".into(),
        SourcePolicy {
            definite: OnDefinite::Queue,
            possible: OnPossible::Queue,
        },
    );
    cfg.sources.systems.insert(
        "oa".into(),
        SourcePolicy {
            definite: OnDefinite::Link,
            possible: OnPossible::Create,
        },
    );
    setup_with(backend, cfg).await
}

macro_rules! both_sources {
    ($name:ident, |$t:ident| $body:block) => {
        both!($name, setup_sources, |$t| $body);
    };
}

fn company(name: &str, uscc: Option<&str>) -> NewCustomer {
    NewCustomer {
        customer_type: "enterprise".into(),
        name: name.into(),
        uscc: uscc.map(str::to_string),
        region_code: Some("330106".into()),
        ..Default::default()
    }
}

const USCC_A: &str = "91330106MA2H0QW30T";
const USCC_B: &str = "91110108MA01KXKM4F";

async fn count_customers(t: &T) -> i64 {
    let q = CustomerQuery {
        total: Some(true),
        ..Default::default()
    };
    t.app
        .customers()
        .search_customers(&t.admin, q)
        .await
        .unwrap()
        .total
        .unwrap()
}

both_sources!(create_update_unchanged, |t| {
    let first = t
        .app
        .sources()
        .upsert_from_source(
            &t.admin,
            "ERP",
            " K-001 ",
            company("杭州青松贸易有限公司", Some(USCC_A)),
        )
        .await
        .unwrap();
    assert_eq!(first.outcome, UpsertOutcome::Created);
    assert_eq!(
        (first.system.as_str(), first.source_id.as_str()),
        ("erp", "K-001")
    );
    let code = first.code.clone().unwrap();
    assert_eq!(
        t.app
            .sources()
            .lookup_xref(&t.admin, "erp", "K-001")
            .await
            .unwrap()
            .code,
        code
    );

    // The same values again: nothing written.
    let again = t
        .app
        .sources()
        .upsert_from_source(
            &t.admin,
            "erp",
            "K-001",
            company("杭州青松贸易有限公司", Some(USCC_A)),
        )
        .await
        .unwrap();
    assert_eq!(again.outcome, UpsertOutcome::Unchanged);
    assert_eq!(again.code.as_deref(), Some(code.as_str()));
    assert_eq!(again.version, first.version);

    // A changed phone updates; fields left out stay.
    let mut changed = company("杭州青松贸易有限公司", None);
    changed.phone = Some("0571-88886666".into());
    let updated = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "erp", "K-001", changed)
        .await
        .unwrap();
    assert_eq!(updated.outcome, UpsertOutcome::Updated);
    assert_eq!(updated.version, first.version.map(|v| v + 1));
    let view = t
        .app
        .customers()
        .get_customer(&t.admin, &code)
        .await
        .unwrap();
    assert_eq!(view.uscc.as_deref(), Some(USCC_A));
    assert_eq!(count_customers(&t).await, 1);

    // A major change without a reason is refused like any update, and writes nothing.
    let renamed = company("杭州青松控股有限公司", None);
    let e = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "erp", "K-001", renamed)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 422, "{e:?}");
    let view = t
        .app
        .customers()
        .get_customer(&t.admin, &code)
        .await
        .unwrap();
    assert_eq!(view.name, "杭州青松贸易有限公司");
});

both_sources!(bad_keys_and_bodies_are_refused_by_field, |t| {
    for (system, id, field) in [("E RP", "1", "system"), ("erp", "", "source_id")] {
        let e = t
            .app
            .sources()
            .upsert_from_source(&t.admin, system, id, company("某某有限公司", None))
            .await
            .unwrap_err();
        match e {
            AppError::Validation(f) => assert_eq!(f[0].field, field),
            other => panic!("{other:?}"),
        }
    }
    let e = t
        .app
        .sources()
        .upsert_from_source(
            &t.admin,
            "erp",
            "K-9",
            company("某某有限公司", Some("91330106MA2H0QW30X")),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Validation(ref f) if f.iter().any(|f| f.field == "uscc")));
    assert!(t
        .app
        .sources()
        .lookup_xref(&t.admin, "erp", "K-9")
        .await
        .is_err());
    assert_eq!(count_customers(&t).await, 0);
});

both_sources!(definite_match_is_linked_under_the_default_policy, |t| {
    let existing = t
        .app
        .customers()
        .create_customer(&t.admin, company("杭州青松贸易有限公司", Some(USCC_A)))
        .await
        .unwrap();
    let r = t
        .app
        .sources()
        .upsert_from_source(
            &t.admin,
            "erp",
            "K-7",
            company("杭州青松贸易有限公司", Some(USCC_A)),
        )
        .await
        .unwrap();
    assert_eq!(r.outcome, UpsertOutcome::Linked);
    assert_eq!(r.code.as_deref(), Some(existing.code.as_str()));
    assert_eq!(count_customers(&t).await, 1);
    // Next time the source id finds it.
    let r = t
        .app
        .sources()
        .upsert_from_source(
            &t.admin,
            "erp",
            "K-7",
            company("杭州青松贸易有限公司", Some(USCC_A)),
        )
        .await
        .unwrap();
    assert_eq!(r.outcome, UpsertOutcome::Unchanged);
    // Another id of the same system is not linked to a customer that has one: queued.
    let r = t
        .app
        .sources()
        .upsert_from_source(
            &t.admin,
            "erp",
            "K-8",
            company("杭州青松贸易有限公司", Some(USCC_A)),
        )
        .await
        .unwrap();
    assert_eq!(r.outcome, UpsertOutcome::Queued);
    assert_eq!(count_customers(&t).await, 1);
});

both_sources!(queue_answers_the_same_and_the_steward_decides, |t| {
    let existing = t
        .app
        .customers()
        .create_customer(&t.admin, company("杭州青松贸易有限公司", Some(USCC_A)))
        .await
        .unwrap();
    let body = company("杭州青松贸易有限公司", Some(USCC_A));
    let q = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "crm", "C-1", body.clone())
        .await
        .unwrap();
    assert_eq!(q.outcome, UpsertOutcome::Queued);
    let id = q.queue_id.unwrap();
    let again = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "crm", "C-1", body.clone())
        .await
        .unwrap();
    assert_eq!(
        (again.outcome, again.queue_id),
        (UpsertOutcome::Queued, Some(id))
    );

    let pending = t
        .app
        .sources()
        .list_source_queue(&t.admin, None, None, None)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].name, "杭州青松贸易有限公司");
    let entry = t
        .app
        .sources()
        .source_queue_entry(&t.admin, id)
        .await
        .unwrap();
    let report = entry.duplicates.unwrap();
    assert_eq!(report.candidates[0].code, existing.code);

    // A user without duplicate.manage sees nothing of the queue.
    let clerk = clerk(&t, "queue_clerk").await;
    assert_eq!(
        t.app
            .sources()
            .list_source_queue(&clerk, None, None, None)
            .await
            .unwrap_err()
            .status(),
        403
    );

    let linked = t
        .app
        .sources()
        .decide_source_queue(
            &t.admin,
            id,
            QueueDecision::Link {
                code: existing.code.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(linked.state, "linked");
    assert_eq!(linked.code.as_deref(), Some(existing.code.as_str()));
    let e = t
        .app
        .sources()
        .decide_source_queue(
            &t.admin,
            id,
            QueueDecision::Reject {
                reason: "晚了".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), "source.decided");
    let r = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "crm", "C-1", body)
        .await
        .unwrap();
    assert_eq!(r.outcome, UpsertOutcome::Unchanged);
    assert_eq!(r.code.as_deref(), Some(existing.code.as_str()));

    // Rejected: the same values answer `rejected`; changed values are placed anew.
    let other = company("杭州青松贸易有限公司", Some(USCC_A));
    let q = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "crm", "C-2", other.clone())
        .await
        .unwrap();
    let id2 = q.queue_id.unwrap();
    let e = t
        .app
        .sources()
        .decide_source_queue(&t.admin, id2, QueueDecision::Reject { reason: " ".into() })
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Validation(ref f) if f[0].field == "reason"));
    t.app
        .sources()
        .decide_source_queue(
            &t.admin,
            id2,
            QueueDecision::Reject {
                reason: "同一客户的重复推送".into(),
            },
        )
        .await
        .unwrap();
    let r = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "crm", "C-2", other)
        .await
        .unwrap();
    assert_eq!(
        (r.outcome, r.queue_id),
        (UpsertOutcome::Rejected, Some(id2))
    );
    let fresh = company("宁波远帆物流有限公司", Some(USCC_B));
    let r = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "crm", "C-2", fresh)
        .await
        .unwrap();
    assert_eq!(r.outcome, UpsertOutcome::Created);

    // Create despite the match: a new customer with the source id, the reason kept.
    let q = t
        .app
        .sources()
        .upsert_from_source(
            &t.admin,
            "crm",
            "C-3",
            company("杭州青松贸易有限公司", Some(USCC_A)),
        )
        .await
        .unwrap();
    let made = t
        .app
        .sources()
        .decide_source_queue(
            &t.admin,
            q.queue_id.unwrap(),
            QueueDecision::Create {
                reason: "分公司另立户头".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(made.state, "created");
    let code = made.code.unwrap();
    assert_ne!(code, existing.code);
    assert_eq!(
        t.app
            .sources()
            .lookup_xref(&t.admin, "crm", "C-3")
            .await
            .unwrap()
            .code,
        code
    );
    let decided = t
        .app
        .sources()
        .list_source_queue(&t.admin, Some("created"), None, None)
        .await
        .unwrap();
    assert_eq!(decided.len(), 1);
});

/// A user holding one built-in role with `scope`, as an actor.
async fn clerk(t: &T, name: &str) -> Actor {
    user(t, name, "clerk", "own").await
}

async fn steward(t: &T, name: &str, scope: &str) -> Actor {
    user(t, name, "steward", scope).await
}

both_sources!(scope_and_permission, |t| {
    let linked = t
        .app
        .sources()
        .upsert_from_source(
            &t.admin,
            "erp",
            "K-1",
            company("杭州青松贸易有限公司", Some(USCC_A)),
        )
        .await
        .unwrap();
    // A steward with scope `own` does not reach the admin's customer by its source id,
    // and the source id is never created a second time.
    let own = steward(&t, "own_steward", "own").await;
    let e = t
        .app
        .sources()
        .upsert_from_source(
            &own,
            "erp",
            "K-1",
            company("杭州青松贸易有限公司", Some(USCC_A)),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), 404);
    assert_eq!(count_customers(&t).await, 1);
    // Its definite match lies outside its scope: not linked, queued (nothing told).
    let r = t
        .app
        .sources()
        .upsert_from_source(
            &own,
            "erp",
            "K-2",
            company("杭州青松贸易有限公司", Some(USCC_A)),
        )
        .await
        .unwrap();
    assert_eq!(r.outcome, UpsertOutcome::Queued);
    assert!(r.code.is_none() && r.possible_duplicates.is_empty());
    // The queue entry belongs to the steward's own scope; the admin sees it too.
    assert_eq!(
        t.app
            .sources()
            .list_source_queue(&own, None, None, None)
            .await
            .unwrap()
            .len(),
        1
    );
    let entry = t
        .app
        .sources()
        .source_queue_entry(&own, r.queue_id.unwrap())
        .await
        .unwrap();
    let report = entry.duplicates.unwrap();
    assert!(report.candidates.is_empty() && report.outside_scope_match);
    // Linking to a customer outside its scope is "not found".
    let e = t
        .app
        .sources()
        .decide_source_queue(
            &own,
            r.queue_id.unwrap(),
            QueueDecision::Link {
                code: linked.code.clone().unwrap(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), 404);
    // Without xref.manage nothing happens at all.
    let clerk = clerk(&t, "src_clerk").await;
    let e = t
        .app
        .sources()
        .upsert_from_source(&clerk, "erp", "K-3", company("宁波远帆物流有限公司", None))
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403);
});

both_sources!(merged_customer_is_updated_through_its_survivor, |t| {
    let a = t
        .app
        .customers()
        .create_customer(&t.admin, company("杭州青松贸易有限公司", Some(USCC_A)))
        .await
        .unwrap();
    let b = t
        .app
        .sources()
        .upsert_from_source(
            &t.admin,
            "erp",
            "K-5",
            company("宁波远帆物流有限公司", None),
        )
        .await
        .unwrap();
    let b_code = b.code.unwrap();
    t.app
        .customers()
        .merge_customers(
            &t.admin,
            MergeRequest {
                survivor: a.code.clone(),
                merged: vec![b_code.clone()],
                fields: BTreeMap::new(),
                reason: Some("同一客户".into()),
            },
        )
        .await
        .unwrap();
    let mut body = company("杭州青松贸易有限公司", None);
    body.phone = Some("0571-86660000".into());
    let r = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "erp", "K-5", body)
        .await
        .unwrap();
    assert_eq!(r.outcome, UpsertOutcome::Updated);
    assert_eq!(r.code.as_deref(), Some(a.code.as_str()));

    // The old code resolves to the survivor; today's code to itself.
    let old = t
        .app
        .codes()
        .resolve_code(&t.admin, &b_code.to_lowercase())
        .await
        .unwrap();
    assert_eq!(old.current_code, a.code);
    assert!(old.merged && !old.code_changed);
    assert_eq!(old.code_status, "merged");
    let same = t.app.codes().resolve_code(&t.admin, &a.code).await.unwrap();
    assert_eq!(same.current_code, a.code);
    assert!(!same.merged);
    assert_eq!(
        t.app
            .codes()
            .resolve_code(&t.admin, "NOPE-1")
            .await
            .unwrap_err()
            .status(),
        404
    );
    // Out of scope answers like unknown.
    let own = steward(&t, "resolve_steward", "own").await;
    assert_eq!(
        t.app
            .codes()
            .resolve_code(&own, &b_code)
            .await
            .unwrap_err()
            .status(),
        404
    );
    assert_eq!(
        t.app
            .codes()
            .resolve_code(&t.admin, "A\u{7}B")
            .await
            .unwrap_err()
            .status(),
        422
    );
});

both_sources!(
    concurrent_upserts_of_one_new_source_id_make_one_customer,
    |t| {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let app = t.app.clone();
            let admin = t.admin.clone();
            tasks.push(tokio::spawn(async move {
                let mut body = company("温州同舟机械有限公司", None);
                if i % 2 == 1 {
                    body.phone = Some("0577-88001234".into());
                }
                app.sources()
                    .upsert_from_source(&admin, "erp", "RACE-1", body)
                    .await
            }));
        }
        let mut codes = std::collections::BTreeSet::new();
        let mut created = 0;
        for task in tasks {
            let r = task.await.unwrap().unwrap();
            created += usize::from(r.outcome == UpsertOutcome::Created);
            codes.insert(r.code.unwrap());
        }
        assert_eq!(created, 1);
        assert_eq!(codes.len(), 1);
        assert_eq!(count_customers(&t).await, 1);
    }
);

both_sources!(batch_applies_each_item_alone, |t| {
    let items = vec![
        BatchItem {
            source_id: "B-1".into(),
            customer: company("杭州青松贸易有限公司", Some(USCC_A)),
        },
        BatchItem {
            source_id: "B-2".into(),
            customer: company("坏数据有限公司", Some("91330106MA2H0QW30X")),
        },
        BatchItem {
            source_id: "B-3".into(),
            customer: company("宁波远帆物流有限公司", Some(USCC_B)),
        },
    ];
    let out = t
        .app
        .sources()
        .upsert_batch_from_source(&t.admin, "erp", SourceBatch { items })
        .await
        .unwrap();
    assert_eq!(out.len(), 3);
    assert_eq!(
        out[0].result.as_ref().unwrap().outcome,
        UpsertOutcome::Created
    );
    let err = out[1].error.as_ref().unwrap();
    assert_eq!(err.status, 422);
    assert!(err.fields.iter().any(|f| f.field == "uscc"));
    assert!(out[1].result.is_none());
    assert_eq!(out[2].index, 2);
    assert_eq!(
        out[2].result.as_ref().unwrap().outcome,
        UpsertOutcome::Created
    );
    assert_eq!(count_customers(&t).await, 2);
    assert!(t
        .app
        .sources()
        .lookup_xref(&t.admin, "erp", "B-2")
        .await
        .is_err());

    let too_many = (0..1001)
        .map(|i| BatchItem {
            source_id: format!("X-{i}"),
            customer: company("某某有限公司", None),
        })
        .collect();
    let e = t
        .app
        .sources()
        .upsert_batch_from_source(&t.admin, "erp", SourceBatch { items: too_many })
        .await
        .unwrap_err();
    assert!(matches!(e, AppError::Validation(ref f) if f[0].field == "items"));
    assert_eq!(count_customers(&t).await, 2);
});

both_sources!(possible_match_is_queued_or_created_by_policy, |t| {
    let mut existing = company("杭州青松贸易有限公司", None);
    existing.phone = Some("0571-88886666".into());
    t.app
        .customers()
        .create_customer(&t.admin, existing)
        .await
        .unwrap();
    // Another business at the same phone: a possible match, not a definite one.
    let mut draft = company("杭州青松科技有限公司", None);
    draft.phone = Some("0571-88886666".into());
    let report = t
        .app
        .customers()
        .check_duplicates(&t.admin, draft.clone())
        .await
        .unwrap();
    assert_eq!(report.verdict, "possible", "{report:?}");
    // erp: the default policy sends a possible match to a steward.
    let r = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "erp", "P-1", draft.clone())
        .await
        .unwrap();
    assert_eq!(r.outcome, UpsertOutcome::Queued);
    // oa: created, with the candidates in the answer.
    let r = t
        .app
        .sources()
        .upsert_from_source(&t.admin, "oa", "P-1", draft)
        .await
        .unwrap();
    assert_eq!(r.outcome, UpsertOutcome::Created);
    assert_eq!(r.possible_duplicates.len(), 1);
    assert_eq!(count_customers(&t).await, 2);
});
