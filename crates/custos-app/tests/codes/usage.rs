//! The code-usage report against figures worked out by hand: codes moved to chosen
//! months (one just after a month's start in the business time zone, which is still the
//! previous month in UTC), one code outside the range, one retired.

use chrono::{Datelike, TimeZone};
use custos_app::reports::MonthsQuery;

use super::*;

/// `(year, month)` `back` months before the current one in Shanghai.
fn month_back(back: i32) -> (i32, u32) {
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let index = today.year() * 12 + today.month() as i32 - 1 - back;
    (index.div_euclid(12), index.rem_euclid(12) as u32 + 1)
}

fn at_us((y, m): (i32, u32), day: u32, hour: u32, minute: u32) -> i64 {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, day, hour, minute, 0)
        .unwrap()
        .timestamp_micros()
}

async fn move_code(t: &T, code: &str, issued_at: i64) {
    let sql = format!("UPDATE code_registry SET issued_at = {issued_at} WHERE code = '{code}'");
    assert_eq!(t.app.db.execute_raw(&sql).await.unwrap(), 1);
}

both!(code_usage_per_rule_and_month, |t| {
    publish(
        &t,
        "ent",
        &["enterprise"],
        json!([{"kind":"constant","value":"C"},{"kind":"sequence","width":4}]),
    )
    .await;
    publish(
        &t,
        "ind",
        &["individual"],
        json!([{"kind":"constant","value":"P"},{"kind":"sequence","width":3}]),
    )
    .await;
    for name in ["甲公司", "乙公司", "丙公司"] {
        create(&t, "enterprise", name).await;
    }
    for name in ["张三", "李四"] {
        create(&t, "individual", name).await;
    }
    move_code(&t, "C0001", at_us(month_back(11), 15, 12, 0)).await;
    // 00:30 on the 1st in Shanghai is the previous day in UTC: still this month here.
    move_code(&t, "C0002", at_us(month_back(8), 1, 0, 30)).await;
    move_code(&t, "P001", at_us(month_back(12), 20, 9, 0)).await;
    let retire = "UPDATE code_registry SET status = 'retired' WHERE code = 'P001'";
    t.app.db.execute_raw(retire).await.unwrap();

    let r = t
        .app
        .reports()
        .code_usage_report(&t.admin, &MonthsQuery::default())
        .await
        .unwrap();
    assert_eq!(r.months.len(), 12);
    let (y, m) = month_back(11);
    assert_eq!(r.months[0], format!("{y:04}-{m:02}"));
    let keys: Vec<&str> = r.rules.iter().map(|u| u.rule_key.as_str()).collect();
    assert_eq!(keys, ["ent", "ind"]);

    let ent = &r.rules[0];
    assert_eq!(ent.name, "规则 ent");
    let per_month: Vec<i64> = ent.months.iter().map(|m| m.issued).collect();
    assert_eq!(per_month, [1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!((ent.issued_in_period, ent.total), (3, 3));
    assert_eq!(ent.by_status.len(), 1);
    assert_eq!(
        (ent.by_status[0].status.as_str(), ent.by_status[0].count),
        ("active", 3)
    );
    assert_eq!(ent.capacity_per_scope, Some(9999));
    let fullest = ent.fullest_scope.as_ref().unwrap();
    assert_eq!((fullest.used, fullest.remaining), (3, 9996));

    let ind = &r.rules[1];
    let per_month: Vec<i64> = ind.months.iter().map(|m| m.issued).collect();
    assert_eq!(per_month, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    assert_eq!((ind.issued_in_period, ind.total), (1, 2));
    let statuses: Vec<(&str, i64)> = ind
        .by_status
        .iter()
        .map(|s| (s.status.as_str(), s.count))
        .collect();
    assert_eq!(statuses, [("active", 1), ("retired", 1)]);
    assert_eq!(ind.capacity_per_scope, Some(999));
    assert_eq!(ind.fullest_scope.as_ref().unwrap().remaining, 997);

    // A range asked for: only the older month, and the rule that issued nothing in it.
    let q = MonthsQuery {
        from: Some(r.months[0].clone()),
        to: Some(r.months[0].clone()),
    };
    let one = t
        .app
        .reports()
        .code_usage_report(&t.admin, &q)
        .await
        .unwrap();
    assert_eq!(one.rules[0].issued_in_period, 1);
    assert_eq!(one.rules[1].issued_in_period, 0);

    // Bad months are named; without stats.read the report is refused.
    let bad = MonthsQuery {
        from: Some("2026-13".into()),
        to: None,
    };
    let e = t
        .app
        .reports()
        .code_usage_report(&t.admin, &bad)
        .await
        .unwrap_err();
    assert_eq!(e.status(), 422);
    let clerk = t
        .app
        .org()
        .create_user(
            &t.admin,
            custos_app::org::NewUser {
                username: "clerk1".into(),
                password: "Otter-Basalt-Meridian-42".into(),
                display_name: None,
                department_id: None,
                email: None,
                roles: vec![custos_app::org::RoleAssignment {
                    role: "clerk".into(),
                    scope: "all".into(),
                    expires_at: None,
                }],
            },
        )
        .await
        .unwrap();
    let clerk = t
        .app
        .auth()
        .actor_for_username(&clerk.username, Context::new(Source::System))
        .await
        .unwrap();
    let e = t
        .app
        .reports()
        .code_usage_report(&clerk, &MonthsQuery::default())
        .await
        .unwrap_err();
    assert_eq!(e.status(), 403);
});
