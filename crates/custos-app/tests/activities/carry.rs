//! Business records follow their customer: a merge carries them to the survivor, an
//! unmerge brings them back, a split leaves them with the original unless a part names
//! them.

use super::*;

both!(
    merge_carries_records_to_the_survivor_and_unmerge_brings_them_back,
    |t| {
        let a = customer(&t, "南京合并甲贸易有限公司", None).await;
        let b = customer(&t, "南京合并乙物流有限公司", None).await;
        here(
            t.app
                .activities()
                .add_followup(&t.admin, &a, followup("甲的跟进"))
                .await
                .unwrap(),
        );
        here(
            t.app
                .activities()
                .add_followup(&t.admin, &b, followup("乙的跟进"))
                .await
                .unwrap(),
        );
        here(
            t.app
                .activities()
                .add_order(&t.admin, &a, order("SO-A", "2026-01-01", json!(10)))
                .await
                .unwrap(),
        );
        here(
            t.app
                .activities()
                .add_order(&t.admin, &b, order("SO-B", "2026-02-01", json!(20)))
                .await
                .unwrap(),
        );

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
        let page = here(
            t.app
                .activities()
                .list_followups(&t.admin, &a, &all())
                .await
                .unwrap(),
        );
        assert_eq!(page.items.len(), 2);
        let moved = page
            .items
            .iter()
            .find(|f| f.followup.content == "乙的跟进")
            .unwrap();
        assert_eq!(moved.meta.recorded_on.as_deref(), Some(b.as_str()));
        assert_eq!(moved.meta.customer_code, a);
        let orders = here(
            t.app
                .activities()
                .list_orders(&t.admin, &a, &all())
                .await
                .unwrap(),
        );
        assert_eq!(orders.totals.order_count, 2);
        assert_eq!(orders.totals.lifetime_amount_fen, 3000);
        // The merged code points at the survivor.
        match t
            .app
            .activities()
            .list_followups(&t.admin, &b, &all())
            .await
            .unwrap()
        {
            Located::Moved { survivor } => assert_eq!(survivor, a),
            Located::Here(_) => panic!("a merged code must redirect"),
        }
        match t
            .app
            .activities()
            .add_followup(&t.admin, &b, followup("写到已合并的编码"))
            .await
            .unwrap()
        {
            Located::Moved { survivor } => assert_eq!(survivor, a),
            Located::Here(_) => panic!("a merged code must redirect"),
        }

        t.app
            .customers()
            .unmerge(&t.admin, m.merge_id, Some("误合并".into()))
            .await
            .unwrap();
        let pa = here(
            t.app
                .activities()
                .list_followups(&t.admin, &a, &all())
                .await
                .unwrap(),
        );
        let pb = here(
            t.app
                .activities()
                .list_followups(&t.admin, &b, &all())
                .await
                .unwrap(),
        );
        assert_eq!(pa.items.len(), 1);
        assert_eq!(pa.items[0].followup.content, "甲的跟进");
        assert_eq!(pb.items.len(), 1);
        assert_eq!(pb.items[0].followup.content, "乙的跟进");
        assert_eq!(pb.items[0].meta.recorded_on, None);
        let oa = here(
            t.app
                .activities()
                .list_orders(&t.admin, &a, &all())
                .await
                .unwrap(),
        );
        let ob = here(
            t.app
                .activities()
                .list_orders(&t.admin, &b, &all())
                .await
                .unwrap(),
        );
        assert_eq!(
            (oa.totals.order_count, oa.totals.lifetime_amount_fen),
            (1, 1000)
        );
        assert_eq!(
            (ob.totals.order_count, ob.totals.lifetime_amount_fen),
            (1, 2000)
        );
    }
);

both!(
    split_leaves_records_on_the_original_unless_a_part_names_them,
    |t| {
        let code = customer(&t, "西安拆分集团有限公司", None).await;
        let other = customer(&t, "西安无关商贸有限公司", None).await;
        let stays = here(
            t.app
                .activities()
                .add_followup(&t.admin, &code, followup("留在原客户"))
                .await
                .unwrap(),
        );
        let goes = here(
            t.app
                .activities()
                .add_order(&t.admin, &code, order("SO-S", "2026-01-02", json!(7)))
                .await
                .unwrap(),
        );
        let foreign = here(
            t.app
                .activities()
                .add_followup(&t.admin, &other, followup("别人的"))
                .await
                .unwrap(),
        );
        let part = |activities: Vec<i64>| custos_app::merge::SplitPart {
            customer: NewCustomer {
                customer_type: "enterprise".into(),
                name: "西安拆分子公司有限公司".into(),
                ..Default::default()
            },
            contacts: vec![],
            activities,
        };
        let req = |activities| custos_app::merge::SplitRequest {
            parts: vec![part(activities)],
            original: None,
            reason: Some("分立".into()),
        };
        match t
            .app
            .customers()
            .split_customer(&t.admin, &code, req(vec![foreign.meta.id]))
            .await
        {
            Err(AppError::Validation(f)) => {
                assert_eq!(f[0].field, "parts[0].activities");
                assert_eq!(f[0].violation.code, "split.activity_unknown");
            }
            other => panic!("{other:?}"),
        }
        let r = t
            .app
            .customers()
            .split_customer(&t.admin, &code, req(vec![goes.order.meta.id]))
            .await
            .unwrap();
        let new_code = r.parts[0].code.clone();
        let left = here(
            t.app
                .activities()
                .list_activities(&t.admin, &code, &all())
                .await
                .unwrap(),
        );
        let ids: Vec<i64> = left.items.iter().map(|i| i.id).collect();
        assert_eq!(ids, [stays.meta.id]);
        let moved = here(
            t.app
                .activities()
                .list_orders(&t.admin, &new_code, &all())
                .await
                .unwrap(),
        );
        assert_eq!(moved.items.len(), 1);
        assert_eq!(moved.items[0].meta.recorded_on, None);
        assert_eq!(moved.totals.lifetime_amount_fen, 700);
        let orig = here(
            t.app
                .activities()
                .list_orders(&t.admin, &code, &all())
                .await
                .unwrap(),
        );
        assert_eq!(orig.totals.order_count, 0);
    }
);

both!(merge_carries_every_kind_and_unmerge_returns_them, |t| {
    let a = customer(&t, "合肥每类甲有限公司", None).await;
    let b = customer(&t, "合肥每类乙有限公司", None).await;
    assert!(add_every_kind(&t, &t.admin, &b, 1)
        .await
        .iter()
        .all(Result::is_ok));
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
    let on_a = here(
        t.app
            .activities()
            .list_activities(&t.admin, &a, &all())
            .await
            .unwrap(),
    );
    let mut kinds: Vec<&str> = on_a.items.iter().map(|i| i.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [
            "contract",
            "followup",
            "interaction",
            "order",
            "service_record",
            "service_record"
        ]
    );
    assert!(on_a
        .items
        .iter()
        .all(|i| i.record["recorded_on"] == b.as_str()));
    assert_eq!(
        here(
            t.app
                .activities()
                .credit_history(&t.admin, &a, &all())
                .await
                .unwrap()
        )
        .history
        .len(),
        1
    );

    t.app
        .customers()
        .unmerge(&t.admin, m.merge_id, Some("误合并".into()))
        .await
        .unwrap();
    assert!(here(
        t.app
            .activities()
            .list_activities(&t.admin, &a, &all())
            .await
            .unwrap()
    )
    .items
    .is_empty());
    assert!(here(
        t.app
            .activities()
            .credit_history(&t.admin, &a, &all())
            .await
            .unwrap()
    )
    .current
    .is_none());
    assert_eq!(
        here(
            t.app
                .activities()
                .list_activities(&t.admin, &b, &all())
                .await
                .unwrap()
        )
        .items
        .len(),
        6
    );
    assert_eq!(
        here(
            t.app
                .activities()
                .credit_history(&t.admin, &b, &all())
                .await
                .unwrap()
        )
        .history
        .len(),
        1
    );
});
