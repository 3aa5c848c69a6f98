//! The synthetic records of the demo and the benchmarks are records like any other: every
//! kind reads back through its use case, the free texts are encrypted at rest, and the
//! order totals counted after the bulk load match the orders.

use super::*;

both!(synthetic_records_read_back_and_total_up, |t| {
    let a = customer(&t, "北京甲合成科技有限公司", None).await;
    let b = customer(&t, "上海乙合成贸易有限公司", None).await;
    let written = t
        .app
        .activities()
        .add_synthetic_activities(
            &t.admin,
            &[a.clone(), b.clone()],
            400,
            Some((&a, 100)),
            7,
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(written, 500);

    // Every record of `a` reads back through the list of all records, page by page.
    let mut seen = 0;
    let mut q = PageQuery {
        limit: Some("200".into()),
        cursor: None,
    };
    loop {
        let page = here(
            t.app
                .activities()
                .list_activities(&t.admin, &a, &q)
                .await
                .unwrap(),
        );
        seen += page.items.len();
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    // Credit ratings are not generated; every other kind is listed.
    assert_eq!(seen, 300);

    // Totals equal the sum of the orders as listed.
    let orders = here(
        t.app
            .activities()
            .list_orders(&t.admin, &b, &all())
            .await
            .unwrap(),
    );
    let (mut fen, mut count) = (0_i64, 0_i64);
    let mut q = all();
    q.limit = Some("200".into());
    loop {
        let page = here(
            t.app
                .activities()
                .list_orders(&t.admin, &b, &q)
                .await
                .unwrap(),
        );
        for o in page.items.iter().filter(|o| o.order.kind == "order") {
            fen += o.order.amount_fen;
            count += 1;
        }
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert!(count > 0);
    assert_eq!(orders.totals.order_count, count);
    assert_eq!(orders.totals.lifetime_amount_fen, fen);

    // The timeline and the overview read them too.
    let overview = t
        .app
        .overview()
        .customer_overview(&t.admin, &a)
        .await
        .unwrap();
    assert!(overview.records.is_some());
    let timeline = t
        .app
        .overview()
        .customer_timeline(&t.admin, &a, Default::default())
        .await
        .unwrap();
    assert_eq!(timeline.items.len(), 50);

    // Free texts are sealed in the database.
    let mut tx = t.app.db.begin_read().await.unwrap();
    let row = tx.customer_by_code(&a).await.unwrap().unwrap();
    let rows = tx
        .customer_activities(row.id, &["followup"], None, 5)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert!(r.body.contains("\"content\":\"pii1:"), "{}", r.body);
    }
});
