//! The customer list's filter as it travels in the URL: the query string of
//! `GET /api/v1/customers` (same parameter names), cleaned of what a plain HTML form adds
//! — empty fields, and the region cascader's one value per level (the most specific
//! counts) — so a bookmarked or shared list reads like the API call.

use axum::http::Uri;

use custos_app::search::CustomerQuery;
use custos_app::AppError;

use crate::extract::query_rejection;

/// The list's query parameters, cleaned, in the order first given.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListQuery {
    pub pairs: Vec<(String, String)>,
}

/// How specific a region prefix is: its length without trailing zero pairs.
fn region_depth(code: &str) -> usize {
    let mut p = code;
    while p.len() > 2 && p.ends_with("00") {
        p = &p[..p.len() - 2];
    }
    p.len()
}

impl ListQuery {
    /// Read a raw query string. Empty values are dropped; a repeated parameter keeps its
    /// last value, except `region`, which keeps the most specific.
    pub fn parse(raw: Option<&str>) -> ListQuery {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let v = v.trim();
            if v.is_empty() {
                continue;
            }
            match pairs.iter_mut().find(|(pk, _)| *pk == k) {
                Some((_, pv)) if k == "region" => {
                    if region_depth(v) >= region_depth(pv) {
                        *pv = v.to_string();
                    }
                }
                Some((_, pv)) => *pv = v.to_string(),
                None => pairs.push((k.into_owned(), v.to_string())),
            }
        }
        ListQuery { pairs }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_on(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | "on"))
    }

    /// The query string without the parameters in `drop` (`cursor` for the first page).
    pub fn encoded_without(&self, drop: &[&str]) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            if !drop.contains(&k.as_str()) {
                s.append_pair(k, v);
            }
        }
        s.finish()
    }

    /// The query with one parameter set (or removed when `value` is `None`).
    pub fn with(&self, key: &str, value: Option<&str>) -> ListQuery {
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != key)
            .cloned()
            .collect();
        if let Some(v) = value {
            pairs.push((key.to_string(), v.to_string()));
        }
        ListQuery { pairs }
    }

    /// The search the API would run for this query string: a value of the wrong kind
    /// (`owner=abc`) is refused naming its parameter, as the API does.
    pub fn customer_query(&self) -> Result<CustomerQuery, AppError> {
        let uri: Uri = format!("/customers?{}", self.encoded_without(&[]))
            .parse()
            .map_err(|_| AppError::Internal("list query does not form a URI".into()))?;
        let mut q = axum::extract::Query::<CustomerQuery>::try_from_uri(&uri)
            .map(|q| q.0)
            .map_err(|e| query_rejection(&e.body_text()).0)?;
        q.custom = self
            .pairs
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("custom.")
                    .map(|k| (k.to_string(), v.clone()))
            })
            .collect();
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_go_and_the_deepest_region_stays() {
        let q = ListQuery::parse(Some(
            "name=%E5%8D%8E&code=&region=440000&region=440300&region=440300&type=enterprise",
        ));
        assert_eq!(q.get("name"), Some("华"));
        assert_eq!(q.get("code"), None);
        assert_eq!(q.get("region"), Some("440300"));
        assert_eq!(
            q.encoded_without(&[]),
            "name=%E5%8D%8E&region=440300&type=enterprise"
        );
    }

    #[test]
    fn a_city_then_all_of_its_counties_keeps_the_city() {
        let q = ListQuery::parse(Some("region=440000&region=440300&region=440300"));
        assert_eq!(q.get("region"), Some("440300"));
        let q = ListQuery::parse(Some("region=440000&region=440000"));
        assert_eq!(q.get("region"), Some("440000"));
    }

    #[test]
    fn wrong_kinds_name_their_parameter() {
        let q = ListQuery::parse(Some("owner=abc"));
        match q.customer_query() {
            Err(AppError::Validation(f)) => assert_eq!(f[0].field, "owner"),
            other => panic!("expected a validation error, got {other:?}"),
        }
        let q = ListQuery::parse(Some("custom.channel=web&limit=20"));
        let cq = q.customer_query().expect("query");
        assert_eq!(cq.custom, vec![("channel".to_string(), "web".to_string())]);
        assert_eq!(cq.limit, Some(20));
    }
}
