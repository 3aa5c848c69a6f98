//! The region cascader (地区), one for the customer list's filter and the customer forms:
//! a select for the provinces, then for the chosen province's cities, then for the chosen
//! city's counties. Each level's first option stands for the whole of the level above,
//! so the last select always holds the most specific choice. Choosing swaps the cascader
//! for the next one (htmx, `GET /customers/regions`).

use askama::Template;
use axum::extract::RawQuery;
use axum::http::StatusCode;
use axum::response::Response;

use custos_core::region;
use custos_core::violation::Lang;

use super::choices::Choice;
use super::i18n::t;
use super::list_query::ListQuery;
use super::page::render;
use super::session::Viewer;

/// Where the cascader stands: a list filter (`region`, a prefix) or a form's
/// `region_code` input.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RegionUse {
    Filter,
    Form,
}

/// One select of the cascader.
pub(crate) struct RegionLevel {
    pub id: &'static str,
    pub label_key: &'static str,
    pub options: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "console/customers/region.html")]
pub(crate) struct RegionCascade {
    pub lang: Lang,
    pub levels: Vec<RegionLevel>,
    /// In a form: the value of its `region_code` input — the deepest choice, or a code
    /// typed that is not in the table (kept for its error to show).
    pub form_code: Option<String>,
}

impl RegionCascade {
    pub fn t<'a>(&self, key: &'a str) -> &'a str {
        t(self.lang, key)
    }

    /// The address the selects ask for the next cascader.
    pub fn source(&self) -> &'static str {
        match self.form_code {
            Some(_) => "/customers/regions?for=form",
            None => "/customers/regions",
        }
    }

    /// The cascader as HTML, to put into a page.
    pub fn html(&self) -> String {
        self.render().unwrap_or_default()
    }
}

fn choice(value: &str, label: &str, current: Option<&str>) -> Choice {
    Choice {
        selected: current == Some(value),
        label: label.to_string(),
        value: value.to_string(),
    }
}

/// The cascader for a chosen region (`44`, `4403`, `440305` or a 6-digit code such as
/// `440300`).
pub(crate) fn region_cascade(lang: Lang, chosen: Option<&str>, used: RegionUse) -> RegionCascade {
    let typed = chosen.unwrap_or("").trim();
    // Only a prefix of digits is a choice (byte slices below stay on char boundaries).
    let chosen = Some(typed)
        .filter(|c| c.len() <= 6 && c.bytes().all(|b| b.is_ascii_digit()))
        .unwrap_or("");
    let pad = |p: &str| format!("{p:0<6}");
    let province = (chosen.len() >= 2).then(|| pad(&chosen[..2]));
    let city = (chosen.len() >= 4)
        .then(|| pad(&chosen[..4]))
        .filter(|c| !c.ends_with("0000"));
    let county = (chosen.len() >= 6)
        .then(|| chosen[..6].to_string())
        .filter(|c| !c.ends_with("00"));
    let whole = match used {
        RegionUse::Filter => t(lang, "list.any"),
        RegionUse::Form => t(lang, "cust.choose"),
    };
    let mut levels = vec![RegionLevel {
        id: "region-province",
        label_key: "list.region_province",
        options: std::iter::once(choice("", whole, None))
            .chain(
                region::provinces()
                    .into_iter()
                    .map(|r| choice(r.code, r.name, province.as_deref())),
            )
            .collect(),
    }];
    let mut below = |parent: &Option<String>, id, label_key, current: &Option<String>| {
        let Some(p) = parent.as_deref().filter(|p| region::exists(p)) else {
            return false;
        };
        let children = region::children(p);
        if children.is_empty() {
            return false;
        }
        levels.push(RegionLevel {
            id,
            label_key,
            options: std::iter::once(choice(p, whole, None))
                .chain(
                    children
                        .into_iter()
                        .map(|r| choice(r.code, r.name, current.as_deref())),
                )
                .collect(),
        });
        true
    };
    if below(&province, "region-city", "list.region_city", &city) {
        below(&city, "region-county", "list.region_county", &county);
    }
    // A level whose chosen child is missing selects its "whole" option.
    for l in &mut levels {
        if !l.options.iter().any(|o| o.selected) {
            if let Some(first) = l.options.first_mut() {
                first.selected = true;
            }
        }
    }
    let form_code = (used == RegionUse::Form).then(|| {
        let deepest = levels
            .iter()
            .rev()
            .flat_map(|l| l.options.iter().filter(|o| o.selected))
            .map(|o| o.value.clone())
            .find(|v| !v.is_empty())
            .unwrap_or_default();
        match region::exists(typed) || typed.is_empty() {
            true => deepest,
            false => typed.to_string(),
        }
    });
    RegionCascade {
        lang,
        levels,
        form_code,
    }
}

/// `GET /customers/regions?region=…[&for=form]`: the cascader for a choice (htmx swaps it
/// in). The list's filter and the customer forms use it alike.
pub(crate) async fn regions(viewer: Viewer, RawQuery(raw): RawQuery) -> Response {
    let q = ListQuery::parse(raw.as_deref());
    let used = match q.get("for") {
        Some("form") => RegionUse::Form,
        _ => RegionUse::Filter,
    };
    render(
        StatusCode::OK,
        &region_cascade(viewer.lang, q.get("region"), used),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(c: &RegionCascade) -> Vec<String> {
        c.levels
            .iter()
            .flat_map(|l| l.options.iter().filter(|o| o.selected))
            .map(|o| o.value.clone())
            .collect()
    }

    #[test]
    fn a_form_keeps_the_deepest_choice_or_the_code_typed() {
        let c = region_cascade(Lang::Zh, Some("440305"), RegionUse::Form);
        assert_eq!(chosen(&c), ["440000", "440300", "440305"]);
        assert_eq!(c.form_code.as_deref(), Some("440305"));
        let c = region_cascade(Lang::Zh, Some("440300"), RegionUse::Form);
        assert_eq!(c.form_code.as_deref(), Some("440300"));
        assert_eq!(c.levels.len(), 3);
        let c = region_cascade(Lang::Zh, Some("999999"), RegionUse::Form);
        assert_eq!(c.form_code.as_deref(), Some("999999"));
        let c = region_cascade(Lang::Zh, None, RegionUse::Form);
        assert_eq!(c.form_code.as_deref(), Some(""));
        let c = region_cascade(Lang::Zh, Some("广东"), RegionUse::Filter);
        assert_eq!(c.levels.len(), 1);
        assert!(c.form_code.is_none());
    }
}
