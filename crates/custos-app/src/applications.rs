//! Applications (申请单): a request that passes an approval flow before it takes effect.
//!
//! Submission validates the payload completely — for kinds with an effect on data by
//! running the effect in a savepoint that is rolled back — so an invalid request is
//! refused at once with its field errors. The effect itself is applied in the transaction
//! that records the last approval: state change, effect, trail and audit commit together
//! or not at all. Decisions lock the application row (PostgreSQL `FOR UPDATE`; SQLite
//! writers are exclusive) and a task is decided only while it is still pending, so two
//! approvers acting at once on one step yield exactly one decision; the other gets 409.
//!
//! The files, lowest first: `views` (request and response shapes), `checks` (parsing
//! and shared refusals), `records` (trail, notifications, sealed payload), `kinds` (each
//! kind's rules: submission check and effect), `deciders` (who may decide a step),
//! `steps` (moving through the flow), then the use cases: `submit` (applicant),
//! `decisions` (approvers), `queries` (reading), `notifications`; for pages: `forms`
//! (what a form needs), `review` (a request beside the current record), `queue` (待办).

pub(crate) mod checks;
mod deciders;
mod decisions;
mod flow_preview;
mod forms;
mod kinds;
mod notifications;
mod queries;
mod queue;
mod records;
mod review;
mod service;
mod steps;
mod submit;
mod views;
pub use service::Applications;

pub(crate) use deciders::{managers_above, recheck_open_tasks};
pub use flow_preview::{
    FlowEditor, FlowPreview, FlowSample, StepPreview, UserChoice, EDITOR_USERS,
};
pub use forms::{ApplicationForm, RoleChoice};
pub use kinds::{kind_names, kinds_for_customer, Kind};
pub use queue::{ApprovalQueue, QueueItem, QUEUE_LIMIT};
pub use review::{ApplicationReview, RequestedChange};
pub(crate) use views::mask_payload;
pub use views::{
    ApplicationQuery, ApplicationSummary, ApplicationView, EventView, Inbox, InboxCounts,
    InboxItem, NeedsAdmin, NewApplication, NotificationView, TaskView, STATES,
};
