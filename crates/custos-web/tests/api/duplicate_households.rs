//! Matching that respects real data (issue 34): names kept as typed, households reported
//! as possible family members instead of merge proposals, a homophone company with its own
//! USCC a warning rather than a block. Each on SQLite and PostgreSQL.

use serde_json::{json, Value};

use crate::backend_test;
use crate::customers::{create, seed_rules};
use crate::duplicate_disclosure::check;
use crate::helpers::{body, USER_PASSWORD};

const MOBILE: &str = "13912345678";
const FLAT: &str = "北京市朝阳区望京西园三区312号楼2单元1101室";

fn resident(name: &str, mobile: &str) -> Value {
    json!({"customer_type": "individual", "name": name, "mobile": mobile,
           "region_code": "110105", "address": FLAT})
}

fn codes(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|c| c["code"].as_str().unwrap_or("").to_string())
        .collect()
}

backend_test!(legal_names_and_texts_keep_what_was_typed, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let name = "中国建设银行股份有限公司（上海）分行";
    let remarks = "开票抬头以营业执照为准，勿改括号（全角）";
    let address = "上海市浦东新区银城中路２００号（中银大厦）";
    let created = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": name, "short_name": "建行（上海）",
               "former_names": ["中国建设银行（上海）分行"], "region_code": "310115",
               "address": address, "remarks": remarks}),
    )
    .await;
    assert_eq!(created["name"], name, "{created}");
    let code = created["code"].as_str().unwrap_or_default();
    let read = body(
        t.get(&format!("/api/v1/customers/{code}"), &admin).await,
        200,
    )
    .await;
    assert_eq!(read["name"], name, "{read}");
    assert_eq!(read["short_name"], "建行（上海）", "{read}");
    assert_eq!(
        read["former_names"][0], "中国建设银行（上海）分行",
        "{read}"
    );
    assert_eq!(read["remarks"], remarks, "{read}");
    assert_eq!(read["address"], address, "{read}");

    // The duplicate check still finds it typed with ASCII brackets and half-width digits.
    let r = check(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "中国建设银行股份有限公司(上海)分行",
               "region_code": "310115"}),
    )
    .await;
    assert_ne!(r["verdict"], "none", "{r}");
    assert_eq!(r["candidates"][0]["code"], code, "{r}");

    // Control characters are still refused.
    let bad = t
        .post(
            "/api/v1/customers",
            Some(&admin),
            json!({"customer_type": "enterprise", "name": "坏名称\u{0007}有限公司"}),
        )
        .await;
    assert_eq!(bad.status().as_u16(), 422);
});

backend_test!(a_household_member_is_a_possible_family_member, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let father = create(&t, &admin, resident("王嘉天", MOBILE)).await;

    // Another given name at the same flat with the same mobile: no merge proposal.
    let r = check(&t, &admin, resident("王慧", MOBILE)).await;
    assert_eq!(r["verdict"], "none", "{r}");
    assert!(codes(&r["candidates"]).is_empty(), "{r}");
    assert_eq!(
        codes(&r["possible_family_members"]),
        vec![father["code"].as_str().unwrap_or("")]
    );
    let member = &r["possible_family_members"][0];
    assert_eq!(member["verdict"], "family_member", "{member}");
    assert!(
        member["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["field"] == "household" && e["kind"] == "different"),
        "{member}"
    );
    // Creating the family member goes through without a warning.
    let daughter = create(&t, &admin, resident("王慧", MOBILE)).await;
    assert!(
        daughter["possible_duplicates"]
            .as_array()
            .is_none_or(|d| d.is_empty()),
        "{daughter}"
    );

    // The same person typed with a homophone given name and a new mobile is a duplicate.
    let r = check(&t, &admin, resident("王嘉添", "13700001111")).await;
    assert_ne!(r["verdict"], "none", "{r}");
    assert_eq!(r["candidates"][0]["code"], father["code"], "{r}");

    // A query user without personal data sees the family member, but no phone or flat.
    t.create_user(
        &admin,
        "query1",
        None,
        json!([{"role": "query", "scope": "all"}]),
    )
    .await;
    let query = t.login("query1", USER_PASSWORD).await;
    let r = check(&t, &query, resident("王小明", MOBILE)).await;
    let told = r["possible_family_members"].to_string();
    assert!(!codes(&r["possible_family_members"]).is_empty(), "{r}");
    assert!(
        !told.contains("1391234") && !told.contains("望京"),
        "{told}"
    );
});

backend_test!(
    a_homophone_company_with_its_own_uscc_is_only_possible,
    |t| {
        let admin = t.admin_token().await;
        seed_rules(&t, &admin).await;
        let old = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "北京华为科技有限公司", "region_code": "110108"}),
    )
    .await;
        let uscc = custos_core::ident::Uscc::with_check("91110108MA01HWK01")
            .expect("uscc")
            .as_str()
            .to_string();
        let draft = json!({"customer_type": "enterprise", "name": "北京华维科技有限公司",
                       "uscc": uscc, "region_code": "110108"});
        let r = check(&t, &admin, draft.clone()).await;
        assert_eq!(r["verdict"], "possible", "{r}");
        assert_eq!(r["candidates"][0]["code"], old["code"], "{r}");
        let reason = r["candidates"][0]["evidence"].to_string();
        assert!(reason.contains("仅读音相同"), "{reason}");
        // The clerk is warned, not blocked.
        create(&t, &admin, draft).await;
    }
);

backend_test!(a_rename_keeps_the_old_legal_name_for_matching, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let created = create(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "杭州启明星电子有限公司", "region_code": "330106"}),
    )
    .await;
    let code = created["code"].as_str().unwrap_or_default();
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": created["version"], "name": "远航智能科技（杭州）有限公司", "reason": "工商变更"}),
        )
        .await;
    let renamed = body(r, 200).await;
    assert_eq!(
        renamed["former_names"],
        json!(["杭州启明星电子有限公司"]),
        "{renamed}"
    );
    // A clerk who types the old name finds the renamed customer.
    let r = check(
        &t,
        &admin,
        json!({"customer_type": "enterprise", "name": "杭州启明星电子有限公司", "region_code": "330106"}),
    )
    .await;
    assert_eq!(r["candidates"][0]["code"], code, "{r}");
    let via = r["candidates"][0]["evidence"].to_string();
    assert!(via.contains("曾用名"), "{via}");
    // A spelling change (full-width brackets) is no rename.
    let r = t
        .patch(
            &format!("/api/v1/customers/{code}"),
            &admin,
            json!({"version": renamed["version"], "name": "远航智能科技(杭州)有限公司", "reason": "更正"}),
        )
        .await;
    let again = body(r, 200).await;
    assert_eq!(again["name"], "远航智能科技(杭州)有限公司", "{again}");
    assert_eq!(
        again["former_names"],
        json!(["杭州启明星电子有限公司"]),
        "{again}"
    );
});
