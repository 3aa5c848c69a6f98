//! Synthetic Chinese customers for trials and benchmarks (`custos demo --customers N`,
//! `custos serve --demo`): valid USCCs and ID numbers, real GB/T 2260 county codes and
//! GB/T 4754 divisions, plausible company names with legal forms, mobiles and contacts.
//! They go through the real `create_customer` use case, so codes, history, indexes and the
//! audit chain are exactly what production data would produce.

use crate::demo::Demo;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use custos_core::code_rule::Segment;
use custos_core::ident::{IdNumber, Uscc};
use custos_core::industry;
use custos_core::region::{self, RegionLevel};

use crate::codes::{issue_date, AppliesTo, NewCodeRule};
use crate::customers::{ContactInput, NewCustomer};
use crate::{Actor, AppResult};

/// Characters trade names (字号) are made of; a brand is two of them, so there are a few
/// thousand brands and, with the city and trade, tens of millions of company names.
const BRAND_CHARS: &[char] = &[
    '恒', '瑞', '华', '信', '金', '桥', '东', '方', '新', '奥', '鼎', '盛', '宏', '达', '丰', '泰',
    '安', '康', '通', '源', '中', '天', '海', '联', '创', '智', '博', '远', '润', '德', '嘉', '和',
    '隆', '兴', '昌', '荣', '汇', '诚', '永', '祥', '福', '佳', '明', '辉', '锦', '凯', '宇', '星',
    '光', '正', '合', '力', '腾', '飞', '晨', '阳', '峰', '林', '鑫', '悦', '川', '航', '众', '启',
];
const TRADES: &[(&str, &str)] = &[
    ("科技", "65"),
    ("信息技术", "65"),
    ("软件", "65"),
    ("电子", "39"),
    ("机械制造", "34"),
    ("食品", "14"),
    ("贸易", "51"),
    ("商贸", "52"),
    ("物流", "60"),
    ("建筑工程", "48"),
    ("医药", "27"),
    ("新材料", "30"),
    ("化工", "26"),
    ("纺织", "17"),
    ("餐饮管理", "62"),
    ("咨询", "72"),
    ("广告", "72"),
    ("环保科技", "77"),
    ("汽车服务", "81"),
    ("农业发展", "01"),
];
const LEGAL_FORMS: &[&str] = &[
    "有限公司",
    "有限公司",
    "有限公司",
    "有限责任公司",
    "股份有限公司",
    "集团有限公司",
];
const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
];
const GIVEN: &[&str] = &[
    "伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明",
    "超", "秀英", "华", "建国", "志强", "海燕", "晓东", "春梅", "子涵", "浩然", "欣怡", "宇轩",
];
const TITLES: &[&str] = &[
    "总经理",
    "采购经理",
    "财务总监",
    "行政主管",
    "销售经理",
    "法务",
];
const LEVELS: &[&str] = &["A", "B", "B", "C", "C", "C"];
const SOURCES: &[&str] = &["展会", "官网", "转介绍", "电话营销", "招投标", "老客户"];
const TAGS: &[&str] = &["重点", "新客户", "战略", "零售", "政府", "外资", "高潜力"];
const USCC_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const MOBILE_PREFIXES: &[&str] = &[
    "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155",
    "158", "159", "166", "177", "180", "181", "186", "187", "188", "189", "199",
];

/// Real county-level regions, collected once.
fn counties() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    for p in region::provinces() {
        for c in region::children(p.code) {
            if c.level == RegionLevel::County {
                out.push((c.code, p.name));
            }
            for d in region::children(c.code) {
                if d.level == RegionLevel::County {
                    out.push((d.code, p.name));
                }
            }
        }
    }
    out
}

fn person_name(rng: &mut StdRng) -> String {
    format!(
        "{}{}",
        SURNAMES.choose(rng).unwrap_or(&"王"),
        GIVEN.choose(rng).unwrap_or(&"伟")
    )
}

fn mobile(rng: &mut StdRng) -> String {
    format!(
        "{}{:08}",
        MOBILE_PREFIXES.choose(rng).unwrap_or(&"138"),
        rng.gen_range(0..100_000_000u32)
    )
}

fn brand(rng: &mut StdRng) -> String {
    let first = *BRAND_CHARS.choose(rng).unwrap_or(&'华');
    let mut second = first;
    while second == first {
        second = *BRAND_CHARS.choose(rng).unwrap_or(&'信');
    }
    format!("{first}{second}")
}

/// A generator of synthetic customers; deterministic for a seed.
pub struct DemoCustomers {
    rng: StdRng,
    regions: Vec<(&'static str, &'static str)>,
    today: chrono::NaiveDate,
    /// City + brand + trade of every company generated, hashed (8 bytes each instead of
    /// a string: a million-customer demo kept some 70 MB of names): two companies may not
    /// share a name in one city (企业名称登记), and such a pair would rightly be refused
    /// as a duplicate. Two names of one hash (about one chance in 10^8 at a million)
    /// only make the generator draw again.
    company_names: std::collections::HashSet<u64>,
}

impl DemoCustomers {
    pub fn new(seed: u64, today: chrono::NaiveDate) -> Self {
        DemoCustomers {
            rng: StdRng::seed_from_u64(seed),
            regions: counties(),
            today,
            company_names: Default::default(),
        }
    }

    /// The next customer: about four enterprises to one individual.
    pub fn next_customer(&mut self) -> NewCustomer {
        let rng = &mut self.rng;
        let (region_code, province) = *self.regions.choose(rng).unwrap_or(&("110101", "北京市"));
        let city_name = region::names(region_code)
            .and_then(|n| n.city)
            .unwrap_or(province)
            .trim_end_matches(['市', '省'])
            .to_string();
        let tags: Vec<String> = if rng.gen_bool(0.3) {
            vec![TAGS.choose(rng).unwrap_or(&"重点").to_string()]
        } else {
            Vec::new()
        };
        if rng.gen_bool(0.2) {
            let birth = chrono::NaiveDate::from_ymd_opt(
                rng.gen_range(1950..2004),
                rng.gen_range(1..=12),
                rng.gen_range(1..=28),
            )
            .unwrap_or(self.today);
            let first17 = format!(
                "{region_code}{}{:03}",
                birth.format("%Y%m%d"),
                rng.gen_range(0..1000)
            );
            let id_number = IdNumber::with_check(&first17, self.today)
                .map(|i| i.as_str().to_string())
                .ok();
            return NewCustomer {
                customer_type: "individual".into(),
                name: person_name(rng),
                id_number,
                mobile: Some(mobile(rng)),
                region_code: Some(region_code.to_string()),
                address: Some(format!(
                    "{province}{city_name}幸福路{}号",
                    rng.gen_range(1..500)
                )),
                level: Some(LEVELS.choose(rng).unwrap_or(&"C").to_string()),
                source: Some(SOURCES.choose(rng).unwrap_or(&"官网").to_string()),
                tags,
                ..Default::default()
            };
        }
        let (mut trade, mut division, mut brand);
        loop {
            (trade, division) = *TRADES.choose(rng).unwrap_or(&("科技", "65"));
            brand = self::brand(rng);
            let mut h = std::hash::DefaultHasher::new();
            std::hash::Hash::hash(&format!("{city_name}{brand}{trade}"), &mut h);
            if self.company_names.insert(std::hash::Hasher::finish(&h)) {
                break;
            }
        }
        let name = format!(
            "{city_name}{brand}{trade}{}",
            LEGAL_FORMS.choose(rng).unwrap_or(&"有限公司")
        );
        let org: String = (0..9)
            .map(|_| char::from(*USCC_CHARS.choose(rng).unwrap_or(&b'0')))
            .collect();
        let uscc = Uscc::with_check(&format!("91{region_code}{org}"))
            .map(|u| u.as_str().to_string())
            .ok();
        let established = chrono::NaiveDate::from_ymd_opt(
            rng.gen_range(1990..2025),
            rng.gen_range(1..=12),
            rng.gen_range(1..=28),
        )
        .filter(|d| *d <= self.today)
        .map(|d| d.format("%Y-%m-%d").to_string());
        let contact = ContactInput {
            name: Some(person_name(rng)),
            title: Some(TITLES.choose(rng).unwrap_or(&"总经理").to_string()),
            mobile: Some(mobile(rng)),
            is_primary: Some(true),
            ..Default::default()
        };
        NewCustomer {
            customer_type: "enterprise".into(),
            short_name: Some(format!("{brand}{trade}")),
            name,
            uscc,
            legal_representative: Some(person_name(rng)),
            established_on: established,
            registered_capital: Some(rng.gen_range(10..100_000) as f64),
            industry: industry::lookup(division).map(|i| i.code.to_string()),
            scale: Some(
                ["micro", "small", "medium", "large"]
                    .choose(rng)
                    .unwrap_or(&"small")
                    .to_string(),
            ),
            level: Some(LEVELS.choose(rng).unwrap_or(&"C").to_string()),
            source: Some(SOURCES.choose(rng).unwrap_or(&"官网").to_string()),
            region_code: Some(region_code.to_string()),
            address: Some(format!(
                "{province}{city_name}建设路{}号",
                rng.gen_range(1..999)
            )),
            phone: None,
            mobile: Some(mobile(rng)),
            tags,
            contacts: vec![contact],
            ..Default::default()
        }
    }
}

fn rule(key: &str, name: &str, customer_type: &str, prefix: &str) -> AppResult<NewCodeRule> {
    let segments: Vec<Segment> = serde_json::from_value(serde_json::json!([
        {"kind": "constant", "value": prefix},
        {"kind": "sequence", "width": 8}
    ]))
    .map_err(|e| crate::AppError::Internal(format!("default rule: {e}")))?;
    Ok(NewCodeRule {
        key: key.into(),
        name: name.into(),
        applies_to: AppliesTo {
            customer_types: vec![customer_type.into()],
            region_prefixes: Vec::new(),
        },
        segments,
    })
}

impl Demo<'_> {
    /// Publish default code rules (`C`/`P` + 8 digits) when no rule is published yet.
    pub async fn ensure_default_code_rules(&self, actor: &Actor) -> AppResult<bool> {
        let rules = self.app.codes().list_code_rules(actor).await?;
        if rules.iter().any(|r| r.published_version.is_some()) {
            return Ok(false);
        }
        for (key, name, ty, prefix) in [
            ("enterprise", "企业客户编码", "enterprise", "C"),
            ("individual", "个人客户编码", "individual", "P"),
        ] {
            if !rules.iter().any(|r| r.key == key) {
                self.app
                    .codes()
                    .create_code_rule(actor, rule(key, name, ty, prefix)?)
                    .await?;
            }
            self.app.codes().publish_code_rule(actor, key).await?;
        }
        Ok(true)
    }

    /// Create `n` synthetic customers through the real use case, owned in turn by
    /// `owners` (the actor when empty); `progress` gets the number created after each
    /// batch.
    pub async fn add_demo_customers(
        &self,
        actor: &Actor,
        n: u64,
        seed: u64,
        owners: &[i64],
        mut progress: impl FnMut(u64),
    ) -> AppResult<u64> {
        self.ensure_default_code_rules(actor).await?;
        self.app.customers().settle_reference().await?;
        // Batches of customers per transaction. The next batch is generated and checked
        // (validation, matching features: see `customers::Checked`) on a blocking thread
        // while one is written, so the two cores share the load. Large batches, because
        // every commit writes each page it changed to the write-ahead log and the
        // checkpoint copies it again: a creation adds lookup entries in random places of
        // large B-trees, so at 300,000 customers a batch of 500 wrote about 130 KiB per
        // customer, one of 10,000 a tenth of that (see docs/benchmarks.md). At a million
        // customers a batch of 10,000 still dirtied most leaf pages of the match-key,
        // name-bigram and blind-index trees (about 1 GB written per batch, half of it the
        // checkpoint's copy), so the cost per customer kept falling with the batch: 30,000
        // made a million 15 % faster (means of two runs each), for about 300 MiB more at the
        // peak.
        const BATCH: u64 = 30_000;
        let owners = owners.to_vec();
        // Draws `count` customers; `from` counts those drawn before (for owner rotation).
        let next_batch = |mut gen: DemoCustomers, from: u64, count: u64| {
            let (app, actor, owners) = (self.app.clone(), actor.clone(), owners.clone());
            tokio::task::spawn_blocking(move || {
                let batch: Vec<_> = (from..from + count)
                    .map(|i| {
                        let mut c = gen.next_customer();
                        if !owners.is_empty() {
                            c.owner_id = Some(owners[(i as usize) % owners.len()]);
                        }
                        let checked = app.customers().check_new(&actor, &c);
                        (c, checked)
                    })
                    .collect();
                (gen, batch)
            })
        };
        let mut gen = Some(DemoCustomers::new(
            seed,
            issue_date(self.app.config.code_timezone),
        ));
        let mut pending = None;
        let (mut drawn, mut done) = (0, 0);
        while done < n {
            let (g, batch) = match pending.take() {
                Some(p) => p,
                None => match gen.take() {
                    Some(g) => next_batch(g, drawn, BATCH.min(n - done)),
                    None => break,
                },
            }
            .await
            .map_err(|e| crate::AppError::Internal(format!("demo generator: {e}")))?;
            let size = batch.len() as u64;
            drawn += size;
            // Draw the next batch while this one is written, as if all of it is created.
            if done + size < n {
                pending = Some(next_batch(g, drawn, BATCH.min(n - done - size)));
            } else {
                gen = Some(g);
            }
            // Random names, phones and birth dates make a near-twin of an earlier
            // customer now and then (one in the first 770,000 of the default seed); the
            // duplicate check rightly refuses it, and the next one drawn replaces it.
            let (codes, refused) = self
                .app
                .customers()
                .create_checked_leaving_out(actor, batch, true)
                .await?;
            if let Some(e) = refused.filter(|_| codes.is_empty()) {
                // Nothing but duplicates: the database already holds this seed's customers.
                return Err(e);
            }
            done += codes.len() as u64;
            tracing::debug!(created = done, "demo: batch committed");
            progress(done);
        }
        // Every customer drawn was either created or left out.
        if drawn > done {
            tracing::info!(
                left_out = drawn - done,
                "demo: generated customers refused as duplicates of earlier ones were replaced"
            );
        }
        self.app.db.after_bulk_write(n).await;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_customers_are_valid() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let mut g = DemoCustomers::new(7, today);
        for _ in 0..500 {
            let c = g.next_customer();
            assert!(!c.name.is_empty());
            let region = c.region_code.as_deref().unwrap_or("");
            assert!(region::exists(region), "{region}");
            if let Some(u) = &c.uscc {
                assert!(Uscc::parse(u).is_ok(), "{u}");
            }
            if let Some(i) = &c.id_number {
                assert!(IdNumber::parse(i, today).is_ok(), "{i}");
            }
            if c.customer_type == "enterprise" {
                assert!(c.uscc.is_some());
            }
        }
    }

    #[test]
    fn company_names_do_not_repeat_in_a_city() {
        let today = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let mut g = DemoCustomers::new(1, today);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50_000 {
            let c = g.next_customer();
            if c.customer_type == "enterprise" {
                // The name key drops the legal form; with the region it must be new.
                let key = (
                    c.region_code.clone(),
                    custos_core::normalize::name_key(&c.name).key,
                );
                assert!(seen.insert(key), "repeated: {}", c.name);
            }
        }
    }
    /// A generated customer the duplicate check refuses is left out and replaced, so the
    /// run still creates as many as asked; a run of nothing but duplicates fails.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn refused_demo_customers_are_replaced() -> Result<(), Box<dyn std::error::Error>> {
        let (app, admin, _dir) = crate::test_support::app_with_admin().await;
        // The third customer seed 11 draws is in the database already.
        let mut gen = DemoCustomers::new(11, issue_date(app.config.code_timezone));
        let twin = (0..3).map(|_| gen.next_customer()).last().ok_or("none")?;
        app.customers().create_customers(&admin, vec![twin]).await?;
        let mut seen = Vec::new();
        let made = app
            .demo()
            .add_demo_customers(&admin, 20, 11, &[], |d| seen.push(d))
            .await?;
        assert_eq!((made, seen.last().copied()), (20, Some(20)));
        let mut tx = app.db.begin_read().await?;
        let stored = tx.count_customers().await?;
        tx.rollback().await?;
        assert_eq!(stored, 21, "the twin was left out and one more drawn");
        let again = app
            .demo()
            .add_demo_customers(&admin, 20, 11, &[], |_| {})
            .await;
        assert!(
            matches!(again, Err(crate::AppError::Duplicate { .. })),
            "{again:?}"
        );
        Ok(())
    }
}
