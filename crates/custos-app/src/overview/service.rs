//! The service handle of this capability: `App` gives it out and every use case of the
//! capability is a method on it. It lives alone here so the capability's files can all
//! name it without importing one another.

/// The use cases of a customer's overview, timeline and group hierarchy; `App::overview` gives it out.
pub struct Overview<'a> {
    pub(crate) app: &'a crate::App,
}
