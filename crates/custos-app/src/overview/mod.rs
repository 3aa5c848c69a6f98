//! The 360° view of a customer (客户360视图): everything that happened to it in one
//! timeline.

pub mod timeline;

pub use timeline::{TimelineEvent, TimelinePage, TimelineQuery};
