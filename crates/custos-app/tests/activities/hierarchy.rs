//! Group structure: parents set and refused, the group view from its root with order
//! totals rolled up (hand-computed), members outside the reader's scope counted but not
//! shown nor summed, and merges: a link to a merged customer hangs on its survivor, and
//! an unmerge puts it back with nothing rewritten.

use custos_app::hierarchy::{GroupView, SetParent};

use super::*;

fn parent(code: &str, relation: &str) -> SetParent {
    SetParent {
        parent_code: Some(code.into()),
        relation: Some(relation.into()),
    }
}

async fn set(t: &T, child: &str, p: &str, relation: &str) {
    t.app
        .overview()
        .set_parent(&t.admin, child, parent(p, relation))
        .await
        .unwrap();
}

async fn refused(t: &T, child: &str, input: SetParent) -> (String, String) {
    match t.app.overview().set_parent(&t.admin, child, input).await {
        Err(AppError::Validation(f)) => (f[0].field.clone(), f[0].violation.code.clone()),
        other => panic!("{other:?}"),
    }
}

fn codes(g: &GroupView) -> Vec<(String, usize, Option<String>)> {
    g.members
        .iter()
        .map(|m| (m.code.clone(), m.depth, m.parent_code.clone()))
        .collect()
}

fn rollup_fen(g: &GroupView, code: &str) -> i64 {
    let m = g.members.iter().find(|m| m.code == code).unwrap();
    m.rollup.as_ref().unwrap().lifetime_amount_fen
}

both!(groups_roll_up_respect_scope_and_follow_merges, |t| {
    let g = customer(&t, "华东控股集团有限公司", None).await;
    let s1 = customer(&t, "苏州精工机械制造有限公司", None).await;
    let b1 = customer(&t, "苏州精工机械制造有限公司无锡分公司", None).await;
    let clerk = user(&t, "own_reader", "query", "own").await;
    let s2 = t
        .app
        .customers()
        .create_customer(
            &t.admin,
            NewCustomer {
                customer_type: "enterprise".into(),
                name: "杭州云帆物流有限公司".into(),
                owner_id: Some(clerk.user_id),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .code;
    set(&t, &s1, &g, "subsidiary").await;
    set(&t, &b1, &s1, "branch").await;
    set(&t, &s2, &g, "subsidiary").await;
    for (code, doc, yuan) in [
        (&g, "G1", 100),
        (&s1, "S1", 20),
        (&b1, "B1", 3),
        (&s2, "S2", 4),
    ] {
        here(
            t.app
                .activities()
                .add_order(&t.admin, code, order(doc, "2026-03-01", json!(yuan)))
                .await
                .unwrap(),
        );
    }

    // The whole group from any member, depth first, with roll-ups worked out by hand.
    let view = t
        .app
        .overview()
        .customer_group(&t.admin, &b1)
        .await
        .unwrap();
    assert_eq!(view.root_code.as_deref(), Some(g.as_str()));
    assert_eq!(
        codes(&view),
        [
            (g.clone(), 0, None),
            (s1.clone(), 1, Some(g.clone())),
            (b1.clone(), 2, Some(s1.clone())),
            (s2.clone(), 1, Some(g.clone())),
        ]
    );
    assert_eq!(view.members[2].relation.as_deref(), Some("branch"));
    assert_eq!(rollup_fen(&view, &g), 12_700);
    assert_eq!(rollup_fen(&view, &s1), 2_300);
    assert_eq!(rollup_fen(&view, &b1), 300);
    assert_eq!(view.hidden_members, 0);

    // Refusals, each naming its field and rule.
    assert_eq!(
        refused(&t, &s1, parent(&b1, "subsidiary")).await,
        ("parent_code".into(), "hierarchy.cycle".into())
    );
    assert_eq!(
        refused(&t, &g, parent(&g, "subsidiary")).await,
        ("parent_code".into(), "hierarchy.cycle".into())
    );
    assert_eq!(
        refused(&t, &s2, parent("Z9999999", "subsidiary")).await,
        ("parent_code".into(), "hierarchy.parent_unknown".into())
    );
    assert_eq!(
        refused(&t, &s2, parent(&g, "affiliate")).await,
        ("relation".into(), "hierarchy.relation".into())
    );
    let person = t
        .app
        .customers()
        .create_customer(
            &t.admin,
            NewCustomer {
                customer_type: "individual".into(),
                name: "王建国".into(),
                mobile: Some("13912345670".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .code;
    assert_eq!(
        refused(&t, &person, parent(&g, "subsidiary")).await,
        ("code".into(), "hierarchy.individual".into())
    );

    // A reader who owns only s2 sees s2 alone: the rest counted, not shown nor summed.
    let mine = t.app.overview().customer_group(&clerk, &s2).await.unwrap();
    assert_eq!(mine.root_code, None);
    assert_eq!(codes(&mine), [(s2.clone(), 1, None)]);
    assert_eq!(mine.hidden_members, 3);
    assert_eq!(rollup_fen(&mine, &s2), 400);
    // Out of scope is not found, as everywhere.
    let e = t
        .app
        .overview()
        .customer_group(&clerk, &g)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 404);
    // Changing a group needs customer.update.
    let e = t
        .app
        .overview()
        .set_parent(&clerk, &s2, SetParent::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403);

    // A merge: d2's child hangs on the survivor; the unmerge puts it back.
    let d2 = customer(&t, "华东控股集团（上海）有限公司", None).await;
    let c = customer(&t, "上海申达电子元件有限公司", None).await;
    set(&t, &c, &d2, "subsidiary").await;
    let m = t
        .app
        .customers()
        .merge_customers(
            &t.admin,
            MergeRequest {
                survivor: g.clone(),
                merged: vec![d2.clone()],
                reason: Some("同一集团".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let merged = t.app.overview().customer_group(&t.admin, &c).await.unwrap();
    assert_eq!(merged.root_code.as_deref(), Some(g.as_str()));
    assert!(codes(&merged).contains(&(c.clone(), 1, Some(g.clone()))));
    assert_eq!(merged.members.len(), 5);
    t.app
        .customers()
        .unmerge(&t.admin, m.merge_id, Some("误合并".into()))
        .await
        .unwrap();
    let back = t.app.overview().customer_group(&t.admin, &c).await.unwrap();
    assert_eq!(back.root_code.as_deref(), Some(d2.as_str()));
    assert_eq!(
        codes(&back),
        [(d2.clone(), 0, None), (c.clone(), 1, Some(d2.clone()))]
    );

    // Clearing a parent takes the customer out; every change is audited.
    let cleared = t
        .app
        .overview()
        .set_parent(&t.admin, &s2, SetParent::default())
        .await
        .unwrap();
    assert_eq!(cleared.parent_code, None);
    let alone = t
        .app
        .overview()
        .customer_group(&t.admin, &s2)
        .await
        .unwrap();
    assert_eq!(codes(&alone), [(s2.clone(), 0, None)]);
    let entries = audit_of(&t, "customer.parent_set").await;
    assert_eq!(entries.len(), 5);
    assert_eq!(entries[0].target_id, s2);
});
