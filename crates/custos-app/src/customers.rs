//! The customer master (客户主数据): creating a customer issues its code in the same
//! transaction; every change is validated as a whole, kept in the history with a snapshot
//! (so the record can be rebuilt `as_of` any time), and audited. Personal data is
//! encrypted at rest and masked in responses unless the caller may read it.
//!
//! One file per responsibility: `input` (what callers submit), `record` (the plaintext
//! record, as submitted and as validated, typed), `values` (status and scale: the closed
//! lists), `reference` (customer types and the field catalog), `checks` and `text_rules`
//! (single values), `validation` (the whole record), `stored` (the stored form, personal
//! data sealed), `masking`, `history`, `indexes`, `scope` (data scope), `views` (reading)
//! and the use cases `create`, `change` and `bulk`; beside them the duplicate check, its disclosure, the review queue and merges. No two
//! of these files import each other; the paths callers use are re-exported here.

/// The record's optional text fields (the ones whose characters are checked), the one
/// list of them: each with its type in a validated `Record` (a `Draft` holds each as
/// text). Calls `$m!` with `[$args]` and then `name: Type` for every field; `Draft`,
/// `Record` and their conversions are generated from it (see `record`), and so is
/// `with_optional_text_fields!`.
macro_rules! optional_text_fields {
    ($m:ident [$($args:tt)*]) => {
        $m! {
            [$($args)*]
            short_name: String,
            uscc: Ident<Uscc>,
            id_number: Ident<IdNumber>,
            legal_representative: String,
            established_on: String,
            industry: String,
            scale: Ident<Scale>,
            level: String,
            source: String,
            /// GB/T 2260 code, checked against the region catalogue.
            region_code: String,
            address: String,
            postal_code: String,
            phone: String,
            mobile: Ident<Mobile>,
            email: String,
            website: String,
            credit_rating: String,
            remarks: String
        }
    };
}

/// Calls `$m!` with the names of the record's optional text fields (see
/// `optional_text_fields!`), then any names given after `$m`.
macro_rules! with_optional_text_fields {
    ($m:ident $(, $more:ident)*) => {
        optional_text_fields!(call_with_field_names [$m $(, $more)*])
    };
}

/// `$m!` called with the names of `optional_text_fields!`'s list (its types dropped) and
/// then `$more`.
macro_rules! call_with_field_names {
    ([$m:ident $(, $more:ident)*] $($(#[$doc:meta])* $f:ident : $t:ty),*) => {
        $m!($($f),* $(, $more)*)
    };
}

/// Calls `$m!` with the names of the record's optional single-value fields (the ones a
/// patch, a merge or an import fills one by one): the text fields and the registered
/// capital, so the list is written once.
macro_rules! with_optional_fields {
    ($m:ident) => {
        with_optional_text_fields!($m, registered_capital)
    };
}

mod archive;
mod bulk;
mod change;
mod checks;
mod create;
mod disclosure;
pub mod duplicates;
mod history;
mod indexes;
mod input;
mod lookups;
mod masking;
pub mod merge;
mod quality_facts;
pub(crate) mod record;
mod reference;
pub mod report;
pub mod review;
pub mod review_sheet;
mod scope;
mod service;
pub mod split_sheet;
mod stored;
mod text_rules;
mod validation;
mod values;
mod views;
pub use service::Customers;

pub use create::FaultHook;
pub use history::{FieldChange, HistoryEntry};
pub use indexes::name_grams;
pub use input::{ContactInput, ContactPatch, CustomerPatch, NewCustomer};
pub use record::{EDITABLE_STATUSES, MAJOR_FIELDS, PII_FIELDS, SCALES};
pub use reference::{CustomerType, DEFAULT_CUSTOMER_TYPES};
pub use values::{CustomerStatus, Scale};
pub use views::{ContactView, CustomerView};

pub(crate) use archive::{archive_hidden_from, check_archive_readable};
pub(crate) use create::Checked;
pub(crate) use history::{history_entry, snapshot_of};
pub(crate) use indexes::{blind_text, stored_indexes};
pub(crate) use lookups::Lookups;
pub(crate) use masking::{has_pii, list_mobile, mask_free_text};
pub(crate) use quality_facts::quality_facts;
pub(crate) use record::{is_individual_type, Record};
pub(crate) use reference::{load_customer_types, ReferenceSeen};
pub(crate) use scope::{in_scope, owner_in_scope, scope_filter, scoped_customer};
pub(crate) use stored::record_of;
pub(crate) use views::{view, view_of, Disclosure};

// What the merge of customers uses from its siblings.
use checks::text;
use history::{diff, row_from_snapshot};
use indexes::indexes_of;
use record::{Contact, OptionalText};
use stored::with_record;
use validation::validate;
