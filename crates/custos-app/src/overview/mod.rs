//! The 360° view of a customer (客户360视图): its overview, and everything that happened
//! to it in one timeline.

mod service;
pub mod summary;
pub mod timeline;
pub use service::Overview;

pub use summary::{CustomerOverview, RecordsSummary};
pub use timeline::{TimelineEvent, TimelinePage, TimelineQuery};
