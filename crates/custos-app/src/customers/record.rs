//! The whole customer in plaintext: as submitted (`Draft`, every value as text) and after
//! validation (`Record`, identifiers and closed lists typed), the form every write works
//! on; and the value lists it is checked against. Never stored as is (see `stored`).

use custos_core::ident::{IdNumber, Mobile, Uscc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::input::{ContactInput, CustomerPatch, NewCustomer};
use super::values::{CustomerStatus, Scale};

/// Allowed values of `scale` (企业规模): `(key, 中文, English)`.
pub const SCALES: &[(&str, &str, &str)] = Scale::TERMS;

/// Statuses a customer can be given by create or update; archive, retire and merge are
/// operations of their own.
pub const EDITABLE_STATUSES: &[CustomerStatus] = CustomerStatus::EDITABLE;

/// Statuses of customers that still count for duplicate checks (all but merged ones).
pub(crate) const LIVE_STATUSES: &[CustomerStatus] = CustomerStatus::LIVE;

/// Fields whose change needs a reason (catalog: major fields).
pub const MAJOR_FIELDS: &[&str] = &["name", "uscc", "id_number", "customer_type"];

/// Personal-data fields of a customer (address only for individuals).
pub const PII_FIELDS: &[&str] = &["id_number", "phone", "mobile", "email", "address"];

pub(super) const MAX_CONTACTS: usize = 50;
pub(super) const MAX_TAGS: usize = 50;
/// Most former names (曾用名) of a customer.
pub(super) const MAX_FORMER_NAMES: usize = 20;

/// A contact in plaintext (in memory only).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct Contact {
    pub(super) id: i64,
    pub(super) name: String,
    pub(super) title: Option<String>,
    pub(super) mobile: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) email: Option<String>,
    pub(super) is_primary: bool,
}

/// A whole customer: the fields every form has, the status as `$status` and the optional
/// text fields given (each an `Option` of its type).
macro_rules! customer_struct {
    ($(#[$meta:meta])* $name:ident, $status:ty, $($(#[$doc:meta])* $f:ident : $t:ty),*) => {
        $(#[$meta])*
        pub(crate) struct $name {
            /// A key of the configured customer types (see [`Record::is_individual`]).
            pub(super) customer_type: String,
            pub(super) name: String,
            pub(super) former_names: Vec<String>,
            pub(super) registered_capital: Option<f64>,
            pub(super) owner_id: Option<i64>,
            pub(super) department_id: Option<i64>,
            pub(super) status: $status,
            pub(super) tags: Vec<String>,
            pub(super) contacts: Vec<Contact>,
            pub(super) custom: Map<String, Value>,
            $($(#[$doc])* pub(super) $f: Option<$t>,)*
        }
    };
}

/// `Draft` and `Record`, and the conversions between them and from the input, each with
/// the optional text fields of `optional_text_fields!` beside the fields of their own.
macro_rules! customer_records {
    ([] $($(#[$doc:meta])* $f:ident : $t:ty),*) => {
        customer_struct!(
            /// The whole customer as submitted, every value as text: what validation
            /// works on.
            #[derive(Debug, Clone, Default, PartialEq)]
            Draft, String, $($(#[$doc])* $f: String),*
        );

        customer_struct!(
            /// The whole customer after validation: identifiers parsed (read back from
            /// storage, one that no longer passes is kept as text, see [`Ident`]), status
            /// and scale from their lists, every text normalised. Never stored as is.
            /// Serialises as the API spells it.
            #[derive(Debug, Clone, Default, PartialEq, Serialize)]
            Record, CustomerStatus, $($(#[$doc])* $f: $t),*
        );

        impl Record {
            /// The record as text again: what a change, a merge or a split starts from
            /// before it is validated anew.
            pub(super) fn draft(&self) -> Draft {
                Draft {
                    customer_type: self.customer_type.clone(),
                    name: self.name.clone(),
                    former_names: self.former_names.clone(),
                    registered_capital: self.registered_capital,
                    owner_id: self.owner_id,
                    department_id: self.department_id,
                    status: self.status.as_str().to_string(),
                    tags: self.tags.clone(),
                    contacts: self.contacts.clone(),
                    custom: self.custom.clone(),
                    $($f: self.$f.text().map(str::to_string),)*
                }
            }
        }

        impl From<&NewCustomer> for Draft {
            fn from(n: &NewCustomer) -> Draft {
                Draft {
                    customer_type: n.customer_type.clone(),
                    name: n.name.clone(),
                    former_names: n.former_names.clone(),
                    registered_capital: n.registered_capital,
                    owner_id: n.owner_id,
                    department_id: n.department_id,
                    status: n.status.clone().unwrap_or_default(),
                    tags: n.tags.clone(),
                    contacts: n.contacts.iter().map(|c| contact_record(c, 0)).collect(),
                    custom: n.custom.clone(),
                    $($f: n.$f.clone(),)*
                }
            }
        }
    };
}

optional_text_fields!(customer_records []);

/// An identifier of a record: the core type validation gives, or a stored value that does
/// not pass (old or imported data, written behind the use cases' back), kept as it is so
/// that reading, merging and the quality rules (which report it) still see it. Compared,
/// shown and serialised as its text.
#[derive(Debug, Clone)]
pub(crate) enum Ident<T> {
    Valid(T),
    Unchecked(String),
}

impl<T: AsRef<str>> AsRef<str> for Ident<T> {
    fn as_ref(&self) -> &str {
        match self {
            Ident::Valid(v) => v.as_ref(),
            Ident::Unchecked(s) => s,
        }
    }
}

impl<T: AsRef<str>> PartialEq for Ident<T> {
    fn eq(&self, other: &Self) -> bool {
        self.as_ref() == other.as_ref()
    }
}

impl<T: AsRef<str>> Serialize for Ident<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_ref())
    }
}

impl<T> Ident<T> {
    /// The stored text `stored` as its type when it parses, else as it is.
    pub(super) fn stored<E>(stored: String, parse: impl Fn(&str) -> Result<T, E>) -> Ident<T> {
        match parse(&stored) {
            Ok(v) => Ident::Valid(v),
            Err(_) => Ident::Unchecked(stored),
        }
    }
}

/// The text of an optional value, typed or not (the field macros read every optional
/// field through it).
pub(super) trait OptionalText {
    fn text(&self) -> Option<&str>;
}

impl<T: AsRef<str>> OptionalText for Option<T> {
    fn text(&self) -> Option<&str> {
        self.as_ref().map(AsRef::as_ref)
    }
}

/// Is a customer of type `customer_type` a person (个人客户)? Personal data rules (the
/// address sealed and masked, an ID number or mobile required) follow from it.
pub(crate) fn is_individual_type(customer_type: &str) -> bool {
    customer_type == "individual"
}

/// Is a customer of type `customer_type` an enterprise (企业客户), which has no ID number?
pub(crate) fn is_enterprise_type(customer_type: &str) -> bool {
    customer_type == "enterprise"
}

impl Record {
    /// Is the customer a person (see [`is_individual_type`])?
    pub(crate) fn is_individual(&self) -> bool {
        is_individual_type(&self.customer_type)
    }
}

pub(super) fn contact_record(c: &ContactInput, id: i64) -> Contact {
    Contact {
        id,
        name: c.name.clone().unwrap_or_default(),
        title: c.title.clone(),
        mobile: c.mobile.clone(),
        phone: c.phone.clone(),
        email: c.email.clone(),
        is_primary: c.is_primary.unwrap_or(false),
    }
}

/// A rename keeps the old name as a former name (曾用名), which the duplicate check
/// compares too — unless the patch gives the former names itself, the name only changes
/// in its spelling (width, brackets, spaces), the old name is listed already or the list
/// is full.
fn keep_former_name(rec: &mut Draft, new_name: &str, former_names_given: bool) {
    use custos_core::normalize::normalize_text;
    let old = normalize_text(&rec.name);
    if former_names_given || old.is_empty() || old == normalize_text(new_name) {
        return;
    }
    let listed = rec.former_names.iter().any(|f| normalize_text(f) == old);
    if !listed && rec.former_names.len() < MAX_FORMER_NAMES {
        rec.former_names.push(rec.name.clone());
    }
}

pub(super) fn apply_patch(rec: &mut Draft, p: &CustomerPatch) {
    macro_rules! set {
        ($($f:ident),*) => { $( if let Some(v) = &p.$f { rec.$f = v.clone(); } )* };
    }
    with_optional_fields!(set);
    set!(former_names, tags);
    if let Some(n) = &p.name {
        keep_former_name(rec, n, p.former_names.is_some());
        rec.name = n.clone();
    }
    if let Some(s) = &p.status {
        rec.status = s.clone();
    }
    if let Some(o) = p.owner_id {
        if rec.owner_id != Some(o) && p.department_id.is_none() {
            // A new owner brings their department unless one is given.
            rec.department_id = None;
        }
        rec.owner_id = Some(o);
    }
    if let Some(d) = p.department_id {
        rec.department_id = d;
    }
    if let Some(cs) = &p.contacts {
        rec.contacts = cs.iter().map(|c| contact_record(c, 0)).collect();
    }
    if let Some(custom) = &p.custom {
        for (k, v) in custom {
            if v.is_null() {
                rec.custom.remove(k);
            } else {
                rec.custom.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stored identifier that no longer passes is kept as it is, and compares, shows
    /// and serialises as its text like a valid one.
    #[test]
    fn stored_identifiers_keep_what_does_not_parse() {
        let valid = Ident::stored("13800138000".to_string(), Mobile::parse);
        assert!(matches!(valid, Ident::Valid(_)));
        let broken = Ident::stored("1380013800X".to_string(), Mobile::parse);
        assert!(matches!(&broken, Ident::Unchecked(s) if s == "1380013800X"));
        assert_eq!(Some(broken).text(), Some("1380013800X"));
        assert_eq!(valid, Ident::Unchecked("13800138000".to_string()));
        assert_eq!(
            serde_json::to_value(&valid).ok(),
            Some(serde_json::json!("13800138000"))
        );
    }
}
