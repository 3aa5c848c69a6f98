//! Customer statistics as the dashboard and the statistics page show them: tables of
//! figures in business terms, each figure a link to the customer list filtered to the
//! customers it counts (by the query parameters of `GET /api/v1/customers`), and the
//! same figures as ECharts options.

use custos_app::clock::Waited;
use serde_json::{json, Map, Value};

use custos_app::dashboard::{MonthCount, StatsView};
use custos_app::search::StatBucket;
use custos_app::terms::{term, term_or_code, Terms};
use custos_core::violation::Lang;

use super::i18n::t;

/// One figure: what it counts, the code beside the name, how many, and the list of them.
pub(crate) struct Figure {
    pub label: String,
    pub code: Option<String>,
    pub count: i64,
    /// The customer list filtered to these customers; `None` when the list has no
    /// filter for the group (customers without a level, say).
    pub href: Option<String>,
}

/// A group of figures (by type, by province …) with its chart.
pub(crate) struct FigureGroup {
    /// Element id and catalog key suffix: `type`, `status`, `province` ….
    pub id: &'static str,
    pub title: String,
    pub figures: Vec<Figure>,
    /// ECharts option (JSON) for `data-option`; empty for a group shown as a table only.
    pub option_json: String,
}

/// The customer list filtered by `params` (names and values of `GET /api/v1/customers`).
pub(crate) fn list_href(params: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    format!("/customers?{}", q.finish())
}

/// Chart kinds the groups use.
#[derive(Clone, Copy)]
enum Chart {
    Pie,
    Bar,
    None,
}

/// Tooltips render on the canvas (`richText`): ECharts' HTML tooltips carry style
/// attributes the console's Content-Security-Policy refuses. No animation: figures are
/// read, not watched.
fn option(chart: Chart, figures: &[Figure]) -> String {
    let links: Map<String, Value> = figures
        .iter()
        .filter_map(|f| f.href.as_ref().map(|h| (f.label.clone(), json!(h))))
        .collect();
    let option = match chart {
        Chart::None => return String::new(),
        Chart::Pie => json!({
            "animation": false,
            "tooltip": {"trigger": "item", "renderMode": "richText"},
            "series": [{
                "type": "pie", "radius": ["35%", "65%"],
                "data": figures.iter().map(|f| json!({"name": f.label, "value": f.count})).collect::<Vec<_>>(),
            }],
            "custosLinks": links,
        }),
        Chart::Bar => json!({
            "animation": false,
            "tooltip": {"trigger": "axis", "renderMode": "richText"},
            "grid": {"left": 8, "right": 16, "top": 16, "bottom": 8, "containLabel": true},
            "xAxis": {"type": "category", "axisLabel": {"rotate": 40, "interval": 0},
                      "data": figures.iter().map(|f| f.label.clone()).collect::<Vec<_>>()},
            "yAxis": {"type": "value", "minInterval": 1},
            "series": [{"type": "bar", "itemStyle": {"color": "#0b5cad"},
                        "data": figures.iter().map(|f| f.count).collect::<Vec<_>>()}],
            "custosLinks": links,
        }),
    };
    option.to_string()
}

fn group(
    lang: Lang,
    id: &'static str,
    chart: Chart,
    buckets: &[StatBucket],
    label: &dyn Fn(&StatBucket) -> String,
    href: &dyn Fn(&str) -> Option<String>,
) -> FigureGroup {
    let figures: Vec<Figure> = buckets
        .iter()
        .map(|b| Figure {
            label: label(b),
            code: b.key.clone(),
            count: b.count,
            href: b.key.as_deref().and_then(href),
        })
        .collect();
    FigureGroup {
        id,
        title: t(lang, &format!("figures.by_{id}")).to_string(),
        option_json: option(chart, &figures),
        figures,
    }
}

/// A bucket's name, its code when it has none, 未填 for customers without a value.
fn named(lang: Lang, b: &StatBucket) -> String {
    match (&b.label, &b.key) {
        (Some(l), _) => l.clone(),
        (None, Some(k)) => k.clone(),
        (None, None) => t(lang, "figures.blank").to_string(),
    }
}

/// The local month bounds as list filters.
fn month_figures(lang: Lang, months: &[MonthCount]) -> FigureGroup {
    let figures: Vec<Figure> = months
        .iter()
        .map(|m| Figure {
            label: m.month.clone(),
            code: None,
            count: m.count,
            href: Some(list_href(&[
                ("created_from", &m.created_from),
                ("created_to", &m.created_to),
            ])),
        })
        .collect();
    FigureGroup {
        id: "month",
        title: t(lang, "figures.by_month").to_string(),
        option_json: option(Chart::Bar, &figures),
        figures,
    }
}

/// The groups of figures, in the order the pages show them; `detail` adds the groups only
/// the statistics page shows (city, division, department, every month).
pub(crate) fn figure_groups(lang: Lang, view: &StatsView, detail: bool) -> Vec<FigureGroup> {
    let s = &view.stats;
    let type_label = |b: &StatBucket| match b.key.as_deref() {
        Some(k) => term(Terms::CustomerType, k, lang)
            .map(str::to_string)
            .unwrap_or_else(|| named(lang, b)),
        None => named(lang, b),
    };
    let status_label = |b: &StatBucket| match b.key.as_deref() {
        Some(k) => term_or_code(Terms::CustomerStatus, k, lang),
        None => named(lang, b),
    };
    let with_code = |b: &StatBucket| match (&b.label, &b.key) {
        (Some(l), Some(_)) => l.clone(),
        _ => named(lang, b),
    };
    let plain = |b: &StatBucket| named(lang, b);
    let mut groups = vec![
        group(lang, "type", Chart::Pie, &s.by_type, &type_label, &|k| {
            Some(list_href(&[("type", k)]))
        }),
        group(
            lang,
            "status",
            Chart::Pie,
            &s.by_status,
            &status_label,
            &|k| Some(list_href(&[("status", k)])),
        ),
        group(lang, "level", Chart::Pie, &s.by_level, &plain, &|k| {
            Some(list_href(&[("level", k)]))
        }),
        month_figures(lang, &view.months),
        group(
            lang,
            "province",
            Chart::Bar,
            &s.by_province,
            &with_code,
            &|k| k.get(..2).map(|p| list_href(&[("region", p)])),
        ),
        group(
            lang,
            "section",
            Chart::Bar,
            &view.by_section,
            &with_code,
            &|k| Some(list_href(&[("industry", k)])),
        ),
    ];
    if detail {
        groups.push(group(
            lang,
            "city",
            Chart::None,
            &s.by_city,
            &with_code,
            &|k| k.get(..4).map(|p| list_href(&[("region", p)])),
        ));
        groups.push(group(
            lang,
            "industry",
            Chart::None,
            &s.by_industry,
            &with_code,
            &|k| Some(list_href(&[("industry", k)])),
        ));
        groups.push(group(
            lang,
            "department",
            Chart::None,
            &s.by_department,
            &with_code,
            &|k| Some(list_href(&[("department", k)])),
        ));
    }
    groups
}

/// How long something has waited, in words: 3 天, 5 小时, 12 分钟.
pub(crate) fn waited_words(lang: Lang, w: Waited) -> String {
    let (n, unit) = match w {
        Waited::Days(n) => (n, "figures.days"),
        Waited::Hours(n) => (n, "figures.hours"),
        Waited::Minutes(n) => (n, "figures.minutes"),
    };
    format!("{n} {}", t(lang, unit))
}
