//! The 时间线 tab of a customer's page: the customer's timeline (the use case
//! `Overview::customer_timeline`), filtered by kind and paged by its cursor in the address;
//! and the 概览 tab: the overview (`Overview::customer_overview`) as pairs to read.

use custos_app::fields::FieldDefinition;
use custos_app::overview::timeline::TIMELINE_KINDS;
use custos_app::overview::{CustomerOverview, TimelinePage};
use custos_app::terms::{term, term_or_code, Terms};
use custos_core::violation::Lang;

use super::customer_words::{contact_line, history_action};
use super::session::encode_component;

/// One event as the tab shows it.
pub(crate) struct TimelineRow {
    pub at: String,
    pub kind: String,
    /// What happened, in business terms.
    pub what: String,
    /// The fields changed (labels), the application's state.
    pub detail: String,
    pub actor: String,
    pub reason: String,
    /// An application's page.
    pub href: Option<String>,
}

/// The tab: its rows, the filter shown and the link to the older events.
pub(crate) struct TimelinePart {
    pub rows: Vec<TimelineRow>,
    /// `(kind, label, selected)`.
    pub kinds: Vec<(&'static str, &'static str, bool)>,
    /// No filter: every kind shown.
    pub all: bool,
    pub older: Option<String>,
}

fn kind_label(kind: &str, lang: Lang) -> &'static str {
    match (kind, lang) {
        ("change", Lang::Zh) => "资料变更",
        ("change", Lang::En) => "Record changes",
        ("application", Lang::Zh) => "申请",
        ("application", Lang::En) => "Applications",
        ("activity", Lang::Zh) => "业务记录",
        ("activity", Lang::En) => "Business records",
        ("lifecycle", Lang::Zh) => "客户状态",
        ("lifecycle", Lang::En) => "Life cycle",
        _ => "",
    }
}

/// A life-cycle stage in words.
fn stage_words(stage: &str, lang: Lang) -> String {
    term(Terms::LifecycleStage, stage, lang)
        .unwrap_or("—")
        .to_string()
}

pub(crate) fn timeline_part(
    page: TimelinePage,
    fields: &[FieldDefinition],
    code: &str,
    kind: Option<&str>,
    lang: Lang,
    tz: chrono_tz::Tz,
) -> TimelinePart {
    let rows = page
        .items
        .into_iter()
        .map(|e| {
            let (what, detail, href) = match e.kind.as_str() {
                "application" => (
                    term_or_code(Terms::ApplicationKind, &e.action, lang),
                    e.state
                        .as_deref()
                        .map(|s| term_or_code(Terms::ApplicationState, s, lang))
                        .unwrap_or_default(),
                    Some(format!("/applications/{}", e.id)),
                ),
                "activity" => {
                    let state = e.state.as_deref().unwrap_or_default();
                    (
                        term_or_code(Terms::ActivityKind, &e.action, lang),
                        term_or_code(Terms::ActivityState, state, lang),
                        None,
                    )
                }
                "lifecycle" => (
                    kind_label("lifecycle", lang).to_string(),
                    format!(
                        "{} → {}",
                        stage_words(e.state.as_deref().unwrap_or("prospect"), lang),
                        stage_words(&e.action, lang)
                    ),
                    None,
                ),
                _ => (
                    history_action(&e.action, lang),
                    e.fields
                        .iter()
                        .map(|f| label(fields, f, lang))
                        .collect::<Vec<_>>()
                        .join("、"),
                    None,
                ),
            };
            TimelineRow {
                at: custos_app::clock::local_minutes(&e.at, tz),
                kind: e.kind,
                what,
                detail,
                actor: e.actor.unwrap_or_default(),
                reason: e.reason.unwrap_or_default(),
                href,
            }
        })
        .collect();
    let filter = kind.map(str::trim).filter(|k| !k.is_empty());
    let older = page.next_cursor.map(|c| {
        let mut href = format!("/customers/{}?tab=timeline", encode_component(code));
        if let Some(k) = filter {
            href.push_str(&format!("&kind={}", encode_component(k)));
        }
        href.push_str(&format!("&cursor={}", encode_component(&c)));
        href
    });
    TimelinePart {
        all: filter.is_none(),
        rows,
        kinds: TIMELINE_KINDS
            .iter()
            .map(|k| (*k, kind_label(k, lang), filter == Some(*k)))
            .collect(),
        older,
    }
}

/// The 概览 tab: `(label, value, id)` pairs of each part the reader may see.
pub(crate) struct OverviewPart {
    pub records: Option<Vec<(&'static str, String, &'static str)>>,
    pub credit: Option<Vec<(&'static str, String, &'static str)>>,
    /// Score and failing rules (labels, never values), with `quality.read`.
    pub quality: Option<Vec<(&'static str, String, &'static str)>>,
    pub contacts: Vec<String>,
    pub lineage: usize,
    /// The life-cycle stage in one line (客户状态).
    pub stage: Option<String>,
}

pub(crate) fn overview_part(o: CustomerOverview, lang: Lang) -> OverviewPart {
    let zh = matches!(lang, Lang::Zh);
    let pick = |a: &'static str, b: &'static str| if zh { a } else { b };
    let none = || pick("无", "none").to_string();
    OverviewPart {
        records: o.records.map(|r| {
            vec![
                (
                    pick("累计订单金额（元）", "Orders, total (CNY)"),
                    r.orders.lifetime_amount,
                    "ov-amount",
                ),
                (
                    pick("订单数", "Orders"),
                    r.orders.order_count.to_string(),
                    "ov-orders",
                ),
                (
                    pick("最近订单日期", "Last order"),
                    r.orders.last_order_on.unwrap_or_else(none),
                    "ov-last-order",
                ),
                (
                    pick("未结投诉", "Open complaints"),
                    r.open_complaints.to_string(),
                    "ov-complaints",
                ),
                (
                    pick("下次跟进", "Next follow-up"),
                    r.next_followup.unwrap_or_else(none),
                    "ov-next",
                ),
            ]
        }),
        credit: o.credit.map(|c| {
            let c = c.credit;
            vec![
                (
                    pick("信用评级", "Rating"),
                    format!("{}（{}）", c.rating, c.rated_on),
                    "ov-rating",
                ),
                (
                    pick("信用额度（元）", "Limit (CNY)"),
                    c.limit.unwrap_or_else(none),
                    "ov-limit",
                ),
                (
                    pick("逾期金额（元）", "Overdue (CNY)"),
                    c.overdue_amount,
                    "ov-overdue",
                ),
                (
                    pick("逾期天数", "Days overdue"),
                    c.overdue_days.to_string(),
                    "ov-overdue-days",
                ),
                (
                    pick("违约", "Defaulted"),
                    pick(
                        if c.defaulted { "是" } else { "否" },
                        if c.defaulted { "yes" } else { "no" },
                    )
                    .to_string(),
                    "ov-default",
                ),
            ]
        }),
        quality: o.quality.filter(|q| q.assessed).map(|q| {
            let failing: Vec<&str> = q
                .failing
                .iter()
                .map(|r| {
                    if zh {
                        r.label_zh.as_str()
                    } else {
                        r.label_en.as_str()
                    }
                })
                .collect();
            vec![
                (
                    pick("数据质量得分", "Quality score"),
                    q.score.map(|s| s.to_string()).unwrap_or_else(none),
                    "ov-quality-score",
                ),
                (
                    pick("未通过的规则", "Failing rules"),
                    if failing.is_empty() {
                        none()
                    } else {
                        failing.join(pick("；", "; "))
                    },
                    "ov-quality-failing",
                ),
            ]
        }),
        contacts: o
            .primary_contacts
            .iter()
            .map(|c| contact_line(c, lang))
            .collect(),
        lineage: o.lineage.len(),
        stage: o.lifecycle.map(|l| {
            let since = l.since.map(|d| match zh {
                true => format!("（自 {d}）"),
                false => format!(" (since {d})"),
            });
            format!(
                "{}{}{}",
                pick("客户状态：", "Life cycle: "),
                stage_words(&l.stage, lang),
                since.unwrap_or_default()
            )
        }),
    }
}

/// A field's label from the catalog (its key when the catalog has none).
pub(crate) fn label(fields: &[FieldDefinition], key: &str, lang: Lang) -> String {
    fields
        .iter()
        .find(|f| f.key == key)
        .map(|f| match lang {
            Lang::Zh => f.label_zh.clone(),
            Lang::En => f.label_en.clone(),
        })
        .unwrap_or_else(|| key.to_string())
}
