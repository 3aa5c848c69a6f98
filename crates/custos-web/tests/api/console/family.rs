//! Possible family members (issue 34) in the console on both databases: the duplicate
//! hints while typing, the refused form and the customer's 重复嫌疑 tab show people of
//! one household apart from merge proposals, with the reason, and no merge action.

use serde_json::{json, Value};

use super::pages::Visitor;
use crate::backend_test;
use crate::customers::{create, seed_rules};
use crate::helpers::*;

const MOBILE: &str = "13912345678";
const FLAT: &str = "北京市朝阳区望京西园三区312号楼2单元1101室";

fn resident(name: &str) -> Value {
    json!({"customer_type": "individual", "name": name, "mobile": MOBILE,
           "region_code": "110105", "address": FLAT})
}

/// The part of a page from the family table on.
fn family_part(html: &str) -> &str {
    html.split("id=\"family-members\"").nth(1).unwrap_or("")
}

backend_test!(family_members_show_apart_from_duplicates, |t| {
    let admin = t.admin_token().await;
    seed_rules(&t, &admin).await;
    let father = create(&t, &admin, resident("王嘉天")).await;
    let father_code = father["code"].as_str().expect("code").to_string();
    let mut v = Visitor::new(&t);
    v.login("admin", ADMIN_PASSWORD).await;
    let csrf = v.csrf().await;

    // Typing the daughter's record: a family member, not a duplicate.
    let r = v
        .post(
            "/customers/new/duplicates",
            &[
                ("csrf", &csrf),
                ("customer_type", "individual"),
                ("name", "王慧"),
                ("mobile", MOBILE),
                ("address", FLAT),
                ("region_code", "110105"),
            ],
        )
        .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("fragment");
    assert!(html.contains("可能的家庭成员（同住）"), "{html}");
    assert!(
        family_part(&html).contains(&format!(">{father_code}</a>")),
        "{html}"
    );
    assert!(
        !html.contains("class=\"list duplicates\""),
        "no merge proposal"
    );
    assert!(!family_part(&html).contains("merge"), "no merge action");

    // The daughter's own page lists her father in the 重复嫌疑 tab, apart.
    let daughter = create(&t, &admin, resident("王慧")).await;
    let code = daughter["code"].as_str().expect("code");
    let page = v
        .get(&format!("/customers/{code}?tab=duplicates"))
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("id=\"no-duplicates\""), "{page}");
    assert!(
        family_part(&page).contains(&format!(">{father_code}</a>")),
        "{page}"
    );

    // A clerk applying for a new customer gets the same hints.
    t.create_user(
        &admin,
        "clerk1",
        None,
        json!([{"role": "clerk", "scope": "all"}]),
    )
    .await;
    let mut clerk = Visitor::new(&t);
    clerk.login("clerk1", USER_PASSWORD).await;
    // Without personal data the reason is told, the phone and flat are not.
    let csrf = clerk.csrf().await;
    let html = clerk
        .post(
            "/customers/new/duplicates",
            &[
                ("csrf", &csrf),
                ("customer_type", "individual"),
                ("name", "王小明"),
                ("mobile", MOBILE),
                ("address", FLAT),
            ],
        )
        .await
        .text()
        .await
        .expect("fragment");
    let told = family_part(&html);
    assert!(told.contains(&format!(">{father_code}</a>")), "{html}");
    assert!(
        !told.contains("1391234") && !told.contains("望京"),
        "{told}"
    );
    let form = clerk
        .get("/applications/new?kind=create")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        form.contains("hx-post=\"/customers/new/duplicates\""),
        "hints on the application form"
    );
});
