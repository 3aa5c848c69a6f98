//! `/customers` (客户列表) and `/exports` over HTTP on both databases: the filter in the URL,
//! keyset pages, data scope and masking from the use case, refused filters beside their
//! field, and "导出此列表" through to the downloaded file.

use serde_json::{json, Value};

use super::pages::{location, Visitor};
use crate::backend_test;
use crate::customers::{create, seed_rules};
use crate::helpers::*;

/// Three customers of the admin's: two enterprises in Shanghai and Beijing, one individual
/// with a mobile. Returns their codes in that order.
async fn three_customers(t: &TestApp, admin: &str) -> (String, String, String) {
    seed_rules(t, admin).await;
    let code = |v: Value| v["code"].as_str().unwrap().to_string();
    let sh = create(
        t,
        admin,
        json!({"customer_type": "enterprise", "name": "上海甲贸易有限公司", "region_code": "310101", "industry": "51"}),
    )
    .await;
    let bj = create(
        t,
        admin,
        json!({"customer_type": "enterprise", "name": "北京乙科技有限公司", "region_code": "110108"}),
    )
    .await;
    let person = create(
        t,
        admin,
        json!({"customer_type": "individual", "name": "张三", "mobile": "13987654321"}),
    )
    .await;
    (code(sh), code(bj), code(person))
}

async fn page(v: &mut Visitor, path: &str, status: u16) -> String {
    let r = v.get(path).await;
    assert_eq!(r.status(), status, "{path}");
    r.text().await.unwrap()
}

/// The `href` of the element with this id.
fn href_of(html: &str, id: &str) -> Option<String> {
    let at = html.find(&format!("id=\"{id}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..];
    let rest = tag.split("href=\"").nth(1)?;
    Some(
        rest.split('"')
            .next()?
            .replace("&#38;", "&")
            .replace("&amp;", "&"),
    )
}

backend_test!(list_filters_live_in_the_url_and_narrow, |t| {
    let admin = t.admin_token().await;
    let (sh, bj, person) = three_customers(&t, &admin).await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;

    let all = page(&mut v, "/customers", 200).await;
    for code in [&sh, &bj, &person] {
        assert!(
            all.contains(&format!("href=\"/customers/{code}\"")),
            "{code} listed"
        );
    }
    // Business terms, region names beside codes, masked mobile (a list never reveals).
    assert!(all.contains("企业客户") && all.contains("个人客户") && all.contains("正常"));
    assert!(all.contains("上海市") && all.contains("（310101）"));
    assert!(all.contains("139****4321") && !all.contains("13987654321"));

    // Name contains: the value stays in the form, the list narrows.
    let html = page(&mut v, "/customers?name=%E7%94%B2", 200).await;
    assert!(html.contains(&sh) && !html.contains(&bj) && !html.contains(&person));
    assert!(html.contains("value=\"甲\""), "typed name kept");

    // The cascader's three selects: the most specific value counts; empty fields are
    // ignored as a plain form sends them.
    let html = page(
        &mut v,
        "/customers?name=&code=&region=110000&region=110100&region=110108&type=",
        200,
    )
    .await;
    assert!(html.contains(&bj) && !html.contains(&sh), "Beijing only");
    assert!(
        html.contains("<option value=\"110108\" selected>"),
        "county chosen"
    );

    // Type, industry section (its divisions too), similar names.
    let html = page(&mut v, "/customers?type=individual", 200).await;
    assert!(html.contains(&person) && !html.contains(&sh));
    let html = page(&mut v, "/customers?industry=F", 200).await;
    assert!(html.contains(&sh) && !html.contains(&bj));
    let html = page(
        &mut v,
        "/customers?name=%E4%B8%8A%E6%B5%B7%E7%94%B2%E8%B4%B8%E6%98%93&fuzzy=true",
        200,
    )
    .await;
    assert!(html.contains(&sh) && html.contains("id=\"export-fuzzy\""));

    // Dates are days in the business time zone; an empty result says so.
    let html = page(&mut v, "/customers?created_to=2000-01-01", 200).await;
    assert!(html.contains("id=\"list-empty\"") && html.contains("没有符合条件的客户"));
    let html = page(&mut v, "/customers?created_from=2000-01-01&total=true", 200).await;
    assert!(html.contains("id=\"total-count\"") && html.contains("3</p>"));

    // The region cascader loads a province's cities.
    let html = page(&mut v, "/customers/regions?region=%E5%B9%BF", 200).await;
    assert!(html.contains("id=\"region-province\"") && !html.contains("id=\"region-city\""));
    let html = page(&mut v, "/customers/regions?region=440000", 200).await;
    assert!(html.contains("id=\"region-city\"") && html.contains("深圳市"));
    assert!(!html.contains("id=\"region-county\""));

    // Columns are remembered for the viewer.
    let csrf = Visitor::hidden(&all, "csrf");
    let r = v
        .post(
            "/customers/list/columns",
            &[
                ("csrf", csrf.as_str()),
                ("query", "type=enterprise"),
                ("column", "name"),
                ("column", "uscc"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/customers?type=enterprise");
    let html = page(&mut v, "/customers?type=enterprise", 200).await;
    assert!(html.contains("统一社会信用代码") && !html.contains("<th scope=\"col\">手机</th>"));
    let r = v
        .post(
            "/customers/list/columns",
            &[("csrf", "wrong"), ("column", "name")],
        )
        .await;
    assert_eq!(r.status(), 403);
});

backend_test!(list_pages_by_cursor, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let c = create(
            &t,
            &admin,
            json!({"customer_type": "enterprise", "name": format!("翻页测试{i}号有限公司")}),
        )
        .await;
        codes.push(c["code"].as_str().unwrap().to_string());
    }
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let mut path = "/customers?limit=2&sort=code".to_string();
    let mut seen = Vec::new();
    for round in 0..3 {
        let html = page(&mut v, &path, 200).await;
        let shown: Vec<&String> = codes
            .iter()
            .filter(|c| html.contains(&format!("data-code=\"{c}\"")))
            .collect();
        assert_eq!(shown.len(), if round < 2 { 2 } else { 1 }, "page {round}");
        seen.extend(shown.into_iter().cloned());
        match href_of(&html, "next-page") {
            Some(next) => {
                assert!(
                    next.contains("cursor=") && next.contains("limit=2"),
                    "{next}"
                );
                assert!(round < 2);
                path = next;
            }
            None => assert_eq!(round, 2, "the last page has no next link"),
        }
        if round > 0 {
            assert!(
                href_of(&html, "first-page").is_some(),
                "round {round}: {html}"
            );
        }
    }
    assert_eq!(seen, codes, "every customer once, in code order");
    // A cursor that was never issued is a refused filter, not a server error.
    let html = page(&mut v, "/customers?cursor=bm9wZQ", 422).await;
    assert!(html.contains("id=\"err-cursor\""));
});

backend_test!(list_follows_scope_and_masking, |t| {
    let admin = t.admin_token().await;
    let (sh, bj, person) = three_customers(&t, &admin).await;
    let clerk = t
        .create_user(
            &admin,
            "clerk_own",
            None,
            json!([{"role": "clerk", "scope": "own"}]),
        )
        .await;
    t.create_user(
        &admin,
        "query_all",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    // The clerk owns the individual only.
    let r = t.get(&format!("/api/v1/customers/{person}"), &admin).await;
    let version = body(r, 200).await["version"].clone();
    let r = t
        .patch(
            &format!("/api/v1/customers/{person}"),
            &admin,
            json!({"version": version, "owner_id": clerk}),
        )
        .await;
    assert_eq!(r.status(), 200);

    let mut v = Visitor::new(&t);
    v.login("clerk_own", USER_PASSWORD).await;
    let html = page(&mut v, "/customers", 200).await;
    assert!(html.contains(&person) && !html.contains(&sh) && !html.contains(&bj));
    assert!(html.contains("clerk_own") || html.contains(&format!("（{clerk}）")));
    // A filter cannot reach beyond the scope.
    let html = page(&mut v, &format!("/customers?code={sh}"), 200).await;
    assert!(html.contains("id=\"list-empty\""));
    // No export permission: no export button, and /exports is refused.
    assert!(!html.contains("id=\"export-form\""));
    let r = v.get("/exports").await;
    assert_eq!(r.status(), 403);

    let mut q = Visitor::new(&t);
    q.login("query_all", USER_PASSWORD).await;
    let html = page(&mut q, "/customers?type=individual", 200).await;
    assert!(html.contains("139****4321") && !html.contains("13987654321"));
});

backend_test!(bad_filters_are_named_beside_their_field, |t| {
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    for (query, field) in [
        ("region=abc", "region"),
        ("region=%E5%B9%BF%E4%B8%9C", "region"),
        ("owner=abc", "owner"),
        ("created_from=yesterday", "created_from"),
        ("sort=colour", "sort"),
        ("industry=ZZ", "industry"),
        ("limit=999", "limit"),
        ("fuzzy=true", "fuzzy"),
    ] {
        let html = page(&mut v, &format!("/customers?{query}"), 422).await;
        assert!(
            html.contains(&format!("id=\"err-{field}\"")),
            "{query}: {html}"
        );
        assert!(html.contains("id=\"filter-errors\""), "{query}");
        assert!(!html.contains("id=\"customer-table\""), "{query}: no rows");
    }
    // The typed value stays in the form.
    let html = page(&mut v, "/customers?name=%E7%94%B2&owner=abc", 422).await;
    assert!(html.contains("value=\"甲\""));
});

backend_test!(export_from_the_list_holds_only_the_filtered_rows, |t| {
    let admin = t.admin_token().await;
    let (sh, bj, _) = three_customers(&t, &admin).await;
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let html = page(&mut v, "/customers?region=310000", 200).await;
    assert!(html.contains("id=\"export-form\""));
    let csrf = Visitor::hidden(&html, "csrf");
    let query = Visitor::hidden(&html, "query");
    assert_eq!(query, "region=310000");
    let r = v
        .post(
            "/customers/list/export",
            &[
                ("csrf", csrf.as_str()),
                ("query", query.as_str()),
                ("format", "csv"),
            ],
        )
        .await;
    assert_eq!(r.status(), 303);
    let job = location(&r);
    assert!(job.starts_with("/exports/"), "{job}");
    let html = page(&mut v, &job, 200).await;
    assert!(html.contains("id=\"export-progress\""));
    let mut done = String::new();
    for _ in 0..100 {
        let part = page(&mut v, &format!("{job}/progress"), 200).await;
        if part.contains("data-status=\"done\"") {
            done = part;
            break;
        }
        assert!(
            part.contains("hx-trigger"),
            "a running job is polled: {part}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(
        done.contains("id=\"export-download\""),
        "job finished: {done}"
    );
    assert!(!done.contains("hx-trigger"), "a finished job is not polled");
    let r = v.get(&format!("{job}/file")).await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(text.contains(&sh) && !text.contains(&bj), "{text}");

    // The jobs page lists it; deleting needs the CSRF token, then the file is gone.
    let html = page(&mut v, "/exports", 200).await;
    let id = job.trim_start_matches("/exports/");
    assert!(html.contains(&format!("id=\"job-{id}\"")) && html.contains("已完成"));
    let r = v.post(&format!("{job}/delete"), &[("csrf", "nope")]).await;
    assert_eq!(r.status(), 403);
    let r = v
        .post(&format!("{job}/delete"), &[("csrf", csrf.as_str())])
        .await;
    assert_eq!(r.status(), 303);
    let r = v.get(&format!("{job}/file")).await;
    assert_eq!(r.status(), 410);
    // Another viewer's job, and a job that never was, are the same 404 page.
    t.create_user(
        &admin,
        "exec",
        None,
        json!([{"role": "executive", "scope": "own"}]),
    )
    .await;
    let mut other = Visitor::new(&t);
    other.login("exec", USER_PASSWORD).await;
    let a = other.get(&job).await;
    assert_eq!(a.status(), 404);
    let b = other.get("/exports/999999").await;
    assert_eq!(b.status(), 404);
    let r = other.get("/exports/abc/progress").await;
    assert_eq!(r.status(), 404);
});
