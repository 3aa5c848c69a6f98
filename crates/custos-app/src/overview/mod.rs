//! The 360° view of a customer (客户360视图): its overview, and everything that happened
//! to it in one timeline.

pub mod summary;
pub mod timeline;

pub use summary::{CustomerOverview, RecordsSummary};
pub use timeline::{TimelineEvent, TimelinePage, TimelineQuery};

/// The use cases of a customer's overview, timeline and group hierarchy; `App::overview` gives it out.
pub struct Overview<'a> {
    pub(crate) app: &'a crate::App,
}
