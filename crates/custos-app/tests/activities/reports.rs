//! The customer reports against figures computed by hand on a small fixed data set (in
//! 2015–2016, long before any test runs, so the stages records set today stay out of the
//! months asked for): new and lost customers per month and the repeat-purchase rate,
//! for every customer and within an `own` scope.
//!
//! | customer | type | owner | records |
//! | --- | --- | --- | --- |
//! | A | enterprise | admin | orders 2015-01-10, 2015-03-05 |
//! | B | enterprise | admin | order 2015-01-20 |
//! | C | individual | admin | contract signed 2015-02-14, orders 2015-04-02, 2015-04-20 |
//! | D | enterprise | exec_own | orders 2015-03-01, 2015-05-01 |
//! | E | enterprise | admin | a follow-up today |
//! | P | enterprise | admin | a payment 2015-02-10 (not an order) |
//!
//! Daily runs on 2015-06-30, 2016-01-25, 2016-04-10 and 2016-05-15: B is lost on
//! 2016-01-25, A and P on 2016-04-10, C and D on 2016-05-15.

use chrono::NaiveDate;
use custos_app::customers::NewCustomer;
use custos_app::lifecycle::run_daily_at;
use custos_app::reports::MonthsQuery;

use super::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn make(t: &T, ty: &str, name: &str, owner: Option<i64>) -> String {
    t.app
        .customers()
        .create_customer(
            &t.admin,
            NewCustomer {
                customer_type: ty.into(),
                name: name.into(),
                mobile: (ty == "individual").then(|| "13800138000".to_string()),
                owner_id: owner,
                ..Default::default()
            },
        )
        .await
        .expect("create customer")
        .code
}

async fn orders(t: &T, code: &str, dates: &[&str]) {
    for d in dates {
        let doc = format!("{code}-{d}");
        here(
            t.app
                .activities()
                .add_order(&t.admin, code, order(&doc, d, json!(100)))
                .await
                .unwrap(),
        );
    }
}

fn range(from: &str, to: &str) -> MonthsQuery {
    MonthsQuery {
        from: Some(from.into()),
        to: Some(to.into()),
    }
}

/// (month, value) of the months with a value other than zero.
fn nonzero(v: impl Iterator<Item = (String, i64)>) -> Vec<(String, i64)> {
    v.filter(|(_, n)| *n != 0).collect()
}

fn pairs(v: &[(&str, i64)]) -> Vec<(String, i64)> {
    v.iter().map(|(m, n)| (m.to_string(), *n)).collect()
}

both!(reports_match_hand_computed_figures, |t| {
    let exec = user(&t, "exec_own_reports", "executive", "own").await;
    let a = make(&t, "enterprise", "报表甲科技有限公司", None).await;
    let b = make(&t, "enterprise", "报表乙贸易有限公司", None).await;
    let c = make(&t, "individual", "王报表", None).await;
    let d = make(&t, "enterprise", "报表丁物流有限公司", Some(exec.user_id)).await;
    let e = make(&t, "enterprise", "报表戊咨询有限公司", None).await;
    let p = make(&t, "enterprise", "报表回款有限公司", None).await;
    orders(&t, &a, &["2015-01-10", "2015-03-05"]).await;
    orders(&t, &b, &["2015-01-20"]).await;
    here(
        t.app
            .activities()
            .add_contract(
                &t.admin,
                &c,
                NewContract {
                    number: "HT-2015".into(),
                    amount: json!(500),
                    status: Some("signed".into()),
                    signed_on: Some("2015-02-14".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap(),
    );
    orders(&t, &c, &["2015-04-02", "2015-04-20"]).await;
    orders(&t, &d, &["2015-03-01", "2015-05-01"]).await;
    here(
        t.app
            .activities()
            .add_followup(&t.admin, &e, followup("今天联系"))
            .await
            .unwrap(),
    );
    let mut pay = order("PAY-1", "2015-02-10", json!(30));
    pay.kind = Some("payment".into());
    here(
        t.app
            .activities()
            .add_order(&t.admin, &p, pay)
            .await
            .unwrap(),
    );
    for on in ["2015-06-30", "2016-01-25", "2016-04-10", "2016-05-15"] {
        run_daily_at(&t.app, day(on)).await.unwrap();
    }

    let flow = t
        .app
        .reports()
        .customer_flow(&t.admin, &range("2015-01", "2016-06"))
        .await
        .unwrap();
    assert_eq!(flow.months.len(), 18);
    assert_eq!(
        nonzero(
            flow.months
                .iter()
                .map(|m| (m.month.clone(), m.new_customers))
        ),
        pairs(&[("2015-01", 2), ("2015-02", 1), ("2015-03", 1)])
    );
    assert_eq!(
        nonzero(flow.months.iter().map(|m| (m.month.clone(), m.lost))),
        pairs(&[("2016-01", 1), ("2016-04", 2), ("2016-05", 2)])
    );
    assert_eq!((flow.new_customers, flow.lost, flow.created), (4, 5, 0));

    // This month: six customers created; the old records made five of them lost today.
    let flow_now = t
        .app
        .reports()
        .customer_flow(&t.admin, &MonthsQuery::default())
        .await
        .unwrap();
    assert_eq!(flow_now.months.len(), 12);
    let now = flow_now.months.last().unwrap();
    assert_eq!((now.created, now.lost, now.new_customers), (6, 5, 0));

    let rp = t
        .app
        .reports()
        .repeat_purchase(&t.admin, &range("2015-01", "2015-06"))
        .await
        .unwrap();
    assert_eq!((rp.buyers, rp.repeat_buyers, rp.rate), (4, 3, Some(0.75)));
    let types: Vec<(Option<&str>, i64, i64, Option<f64>)> = rp
        .by_type
        .iter()
        .map(|b| (b.key.as_deref(), b.buyers, b.repeat_buyers, b.rate))
        .collect();
    assert_eq!(
        types,
        vec![
            (Some("enterprise"), 3, 2, Some(0.6667)),
            (Some("individual"), 1, 1, Some(1.0)),
        ]
    );
    assert_eq!(rp.by_type[0].label.as_deref(), Some("企业客户"));
    assert_eq!(rp.by_department.iter().map(|b| b.buyers).sum::<i64>(), 4);
    let months: Vec<(&str, i64, i64, Option<f64>)> = rp
        .months
        .iter()
        .map(|m| (m.month.as_str(), m.buyers, m.returning, m.rate))
        .collect();
    assert_eq!(
        months,
        vec![
            ("2015-01", 2, 0, Some(0.0)),
            ("2015-02", 0, 0, None),
            ("2015-03", 2, 1, Some(0.5)),
            ("2015-04", 1, 0, Some(0.0)),
            ("2015-05", 1, 1, Some(1.0)),
            ("2015-06", 0, 0, None),
        ]
    );

    // Within an `own` scope only D counts.
    let flow = t
        .app
        .reports()
        .customer_flow(&exec, &range("2015-01", "2016-06"))
        .await
        .unwrap();
    assert_eq!((flow.new_customers, flow.lost, flow.created), (1, 1, 0));
    assert_eq!(
        nonzero(flow.months.iter().map(|m| (m.month.clone(), m.lost))),
        pairs(&[("2016-05", 1)])
    );
    let rp = t
        .app
        .reports()
        .repeat_purchase(&exec, &range("2015-01", "2015-06"))
        .await
        .unwrap();
    assert_eq!((rp.buyers, rp.repeat_buyers), (1, 1));
    assert_eq!(
        nonzero(rp.months.iter().map(|m| (m.month.clone(), m.returning))),
        pairs(&[("2015-05", 1)])
    );

    // A customer handed to the executive counts in their scope from then on.
    let version = t
        .app
        .customers()
        .get_customer(&t.admin, &a)
        .await
        .unwrap()
        .version;
    let patch: custos_app::customers::CustomerPatch =
        serde_json::from_value(json!({"version": version, "owner_id": exec.user_id})).unwrap();
    t.app
        .customers()
        .update_customer(&t.admin, &a, patch)
        .await
        .unwrap();
    let rp = t
        .app
        .reports()
        .repeat_purchase(&exec, &range("2015-01", "2015-06"))
        .await
        .unwrap();
    assert_eq!((rp.buyers, rp.repeat_buyers), (2, 2));
    let flow = t
        .app
        .reports()
        .customer_flow(&exec, &range("2015-01", "2016-06"))
        .await
        .unwrap();
    assert_eq!((flow.new_customers, flow.lost), (2, 2));

    // Permission and bad months.
    let query = user(&t, "query_reports", "query", "all").await;
    let err = t
        .app
        .reports()
        .customer_flow(&query, &MonthsQuery::default())
        .await
        .unwrap_err();
    assert_eq!(status(&err), 403);
    let err = t
        .app
        .reports()
        .repeat_purchase(&t.admin, &range("2016-02", "2015-01"))
        .await
        .unwrap_err();
    assert_eq!(status(&err), 422);
});
