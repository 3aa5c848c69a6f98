//! 来源待确认 over HTTP on both databases: the list filters by system and state, an
//! entry shows the values as sent (personal data masked) beside its candidates, the
//! decision refuses odd input beside its fields and decides once; people without
//! `duplicate.manage` get no entry in the navigation and 403, a steward with a narrower
//! scope does not see the entry at all.

use reqwest::Method;
use serde_json::{json, Value};

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::customers::seed_rules;
use crate::helpers::*;

const MOBILE: &str = "13812345678";

fn firm() -> Value {
    json!({"customer_type": "enterprise", "name": "杭州青松贸易有限公司",
           "uscc": "91330106MA2H0QW30T", "region_code": "330106", "mobile": MOBILE})
}

async fn put(t: &TestApp, token: &str, path: &str, status: u16) -> Value {
    let r = t
        .req(Method::PUT, path, Some(token))
        .json(&firm())
        .send()
        .await
        .expect("answer");
    body(r, status).await
}

/// The customer, and two queued entries of the same firm: one from `crm`, one from `oa`.
pub(super) async fn queue_two(t: &TestApp, admin: &str) -> (String, i64, i64) {
    seed_rules(t, admin).await;
    let created = put(t, admin, "/api/v1/sources/erp/customers/K-1", 201).await;
    let code = created["code"].as_str().expect("code").to_string();
    put(t, admin, "/api/v1/sources/crm/customers/C-1", 200).await;
    let crm = put(t, admin, "/api/v1/sources/crm/customers/C-2", 202).await;
    put(t, admin, "/api/v1/sources/oa/customers/O-1", 200).await;
    let oa = put(t, admin, "/api/v1/sources/oa/customers/O-2", 202).await;
    (
        code,
        crm["queue_id"].as_i64().expect("queued"),
        oa["queue_id"].as_i64().expect("queued"),
    )
}

backend_test!(steward_filters_reviews_and_decides_source_entries, |t| {
    let admin = t.admin_token().await;
    let (code, crm, oa) = queue_two(&t, &admin).await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let csrf = v.csrf().await;

    let home = v.get("/").await.text().await.expect("page");
    assert!(home.contains("href=\"/sources\""), "来源待确认 in the nav");
    let all = v.get("/sources").await.text().await.expect("page");
    assert!(all.contains(&format!("id=\"entry-{crm}\"")), "{all}");
    assert!(all.contains(&format!("id=\"entry-{oa}\"")));
    let only = v
        .get("/sources?system=crm")
        .await
        .text()
        .await
        .expect("page");
    assert!(only.contains(&format!("id=\"entry-{crm}\"")));
    assert!(
        !only.contains(&format!("id=\"entry-{oa}\"")),
        "system filter"
    );
    // Paging goes on after the last entry shown, and offers the first page back.
    let later = v
        .get(&format!("/sources?after={crm}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(!later.contains(&format!("id=\"entry-{crm}\"")), "{later}");
    assert!(later.contains(&format!("id=\"entry-{oa}\"")));
    assert!(later.contains("id=\"src-first\""));
    let none = v
        .get("/sources?state=rejected")
        .await
        .text()
        .await
        .expect("page");
    assert!(none.contains("id=\"src-empty\""), "nothing rejected yet");
    for bad in [
        "/sources?system=%3Cscript%3E",
        "/sources?state=maybe",
        "/sources?after=x",
    ] {
        let r = v.get(bad).await;
        assert_eq!(r.status(), 422, "{bad}");
        let html = r.text().await.expect("page");
        assert!(html.contains("id=\"filter-errors\""), "{bad}: {html}");
        assert!(!html.contains("<script>"), "{bad} escaped");
    }

    // The entry: values as sent, the mobile masked; the customer as the candidate.
    let page = v
        .get(&format!("/sources/{crm}"))
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("91330106MA2H0QW30T"), "uscc as sent: {page}");
    // The values as sent are not a customer yet: masked for everyone (the candidates'
    // evidence follows the reader's permissions, as the API's answer does).
    let incoming = page
        .split("id=\"incoming\"")
        .nth(1)
        .and_then(|r| r.split("</table>").next())
        .unwrap_or("");
    assert!(incoming.contains("杭州青松贸易有限公司"), "{incoming}");
    assert!(!incoming.contains(MOBILE), "personal data stays masked");
    assert!(incoming.contains("138****5678"), "masked mobile shown");
    assert!(
        page.contains(&format!(">{code}</a>")),
        "the candidate: {page}"
    );
    assert!(page.contains("id=\"decision-form\""));
    assert!(
        page.contains(&format!("value=\"{code}\"")),
        "top candidate filled in"
    );

    // Odd decisions come back beside their fields, nothing decided.
    let path = format!("/sources/{crm}/decide");
    for (form, marker) in [
        (
            vec![("action", "reject"), ("reason", "")],
            "id=\"reason-error\"",
        ),
        (
            vec![("action", "reject"), ("reason", "重复\u{0007}推送")],
            "id=\"reason-error\"",
        ),
        (
            vec![("action", "link"), ("code", "NOPE-1")],
            "id=\"code-error\"",
        ),
        (
            vec![("action", "link"), ("code", "' OR 1=1 --")],
            "id=\"code-error\"",
        ),
        (vec![("action", "drop table")], "id=\"action-error\""),
        (
            vec![("action", "create"), ("reason", " ")],
            "id=\"reason-error\"",
        ),
    ] {
        let mut f = form.clone();
        f.push(("csrf", &csrf));
        let r = v.post(&path, &f).await;
        assert_eq!(r.status(), 422, "{form:?}");
        let html = r.text().await.expect("page");
        assert!(html.contains(marker), "{form:?}: {html}");
    }
    let r = v
        .post(&path, &[("action", "reject"), ("reason", "x")])
        .await;
    assert_eq!(r.status(), 403, "no CSRF token");
    let api = body(
        t.get(&format!("/api/v1/sources/queue/{crm}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(api["state"], "pending", "{api}");

    // Link to the candidate; a second decision is refused.
    let r = v
        .post(
            &path,
            &[("csrf", &csrf), ("action", "link"), ("code", &code)],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/sources/{crm}?decided=1"));
    let done = v
        .get(&format!("/sources/{crm}?decided=1"))
        .await
        .text()
        .await
        .expect("page");
    assert!(done.contains("id=\"notice\""));
    assert!(done.contains("已关联"), "{done}");
    assert!(!done.contains("id=\"decision-form\""), "decided once");
    let again = v
        .post(
            &path,
            &[
                ("csrf", &csrf),
                ("action", "reject"),
                ("reason", "再来一次"),
            ],
        )
        .await;
    assert_eq!(again.status(), 409);
    assert!(again
        .text()
        .await
        .expect("page")
        .contains("id=\"decision-errors\""));
    let xrefs = body(
        t.get(&format!("/api/v1/customers/{code}/xrefs"), &admin)
            .await,
        200,
    )
    .await;
    assert!(xrefs.to_string().contains("C-2"), "linked: {xrefs}");

    // Reject the other one with a reason; it is listed as rejected.
    let r = v
        .post(
            &format!("/sources/{oa}/decide"),
            &[
                ("csrf", &csrf),
                ("action", "reject"),
                ("reason", "测试推送"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let rejected = v
        .get("/sources?state=rejected&system=oa")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        rejected.contains(&format!("id=\"entry-{oa}\"")),
        "{rejected}"
    );
    let r = v.get("/sources/999999").await;
    assert_eq!(r.status(), 404);
});

backend_test!(source_pages_need_duplicate_manage_and_the_scope, |t| {
    let admin = t.admin_token().await;
    let (_, crm, _) = queue_two(&t, &admin).await;
    let dept = t.create_department(&admin, "外地", None).await;
    t.create_user(
        &admin,
        "clerk1",
        Some(dept),
        json!([{"role": "clerk", "scope": "all"}]),
    )
    .await;
    t.create_user(
        &admin,
        "steward_own",
        Some(dept),
        json!([{"role": "steward", "scope": "own"}]),
    )
    .await;

    let mut clerk = Visitor::new(&t);
    clerk.login("clerk1", USER_PASSWORD).await;
    let csrf = clerk.csrf().await;
    let home = clerk.get("/").await.text().await.expect("page");
    assert!(!home.contains("href=\"/sources\""), "no 来源待确认 entry");
    for path in ["/sources", &format!("/sources/{crm}")] {
        assert_eq!(clerk.get(path).await.status(), 403, "GET {path}");
    }
    let r = clerk
        .post(
            &format!("/sources/{crm}/decide"),
            &[("csrf", &csrf), ("action", "reject"), ("reason", "不要")],
        )
        .await;
    assert_eq!(r.status(), 403);

    // A steward whose scope is their own customers sees neither the entry nor its page.
    let mut own = Visitor::new(&t);
    own.login("steward_own", USER_PASSWORD).await;
    let csrf = own.csrf().await;
    let list = own.get("/sources").await.text().await.expect("page");
    assert!(list.contains("href=\"/sources\""), "the nav entry is there");
    assert!(!list.contains(&format!("id=\"entry-{crm}\"")), "{list}");
    assert_eq!(own.get(&format!("/sources/{crm}")).await.status(), 404);
    let r = own
        .post(
            &format!("/sources/{crm}/decide"),
            &[("csrf", &csrf), ("action", "reject"), ("reason", "越权")],
        )
        .await;
    assert_eq!(r.status(), 404);
    let api = body(
        t.get(&format!("/api/v1/sources/queue/{crm}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(api["state"], "pending", "{api}");
});
