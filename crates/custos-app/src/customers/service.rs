//! The service handle of this capability: `App` gives it out and every use case of the
//! capability is a method on it. It lives alone here so the capability's files can all
//! name it without importing one another.

/// The use cases of customer records: creation, change, views, search, duplicates and their review, merge and split, lookups, bulk loads; `App::customers` gives it out.
pub struct Customers<'a> {
    pub(crate) app: &'a crate::App,
}
