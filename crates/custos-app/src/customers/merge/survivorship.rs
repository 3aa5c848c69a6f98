//! Survivorship of a merge: which value of every field the survivor keeps, and how names,
//! tags, custom values and contacts of the participants are united.

use std::collections::BTreeMap;

use crate::customers::{Contact, Record};

/// Take `field` of `from` into `to`.
fn take_field(to: &mut Record, from: &Record, field: &str) {
    macro_rules! take {
        ($($f:ident),*) => {
            match field {
                $( stringify!($f) => to.$f = from.$f.clone(), )*
                _ => {}
            }
        };
    }
    match field {
        "customer_type" => to.customer_type = from.customer_type.clone(),
        "name" => to.name = from.name.clone(),
        "owner_id" => to.owner_id = from.owner_id,
        "department_id" => to.department_id = from.department_id,
        _ => with_optional_fields!(take),
    }
}

/// Fill the survivor's empty optional fields from `other`.
fn fill_empty(to: &mut Record, other: &Record) {
    macro_rules! fill {
        ($($f:ident),*) => { $( if to.$f.is_none() { to.$f = other.$f.clone(); } )* };
    }
    with_optional_fields!(fill);
}

/// The merged record: survivorship by choice, then survivor first, then merged in order.
pub(super) fn survive(
    survivor: &Record,
    others: &[(String, Record)],
    survivor_code: &str,
    choices: &BTreeMap<String, String>,
) -> Record {
    let mut out = survivor.clone();
    for (_, other) in others {
        fill_empty(&mut out, other);
    }
    for (field, code) in choices {
        if code == survivor_code {
            take_field(&mut out, survivor, field);
        } else if let Some((_, r)) = others.iter().find(|(c, _)| c == code) {
            take_field(&mut out, r, field);
        }
    }
    // Names of every participant that are not the final name become former names.
    let mut former: Vec<String> = out.former_names.clone();
    let add_name = |n: &str, former: &mut Vec<String>| {
        if !n.is_empty() && n != out.name && !former.iter().any(|f| f == n) {
            former.push(n.to_string());
        }
    };
    add_name(&survivor.name, &mut former);
    for (_, r) in others {
        add_name(&r.name, &mut former);
        for f in &r.former_names {
            add_name(f, &mut former);
        }
    }
    out.former_names = former;
    for (_, r) in others {
        for t in &r.tags {
            if !out.tags.contains(t) {
                out.tags.push(t.clone());
            }
        }
        for (k, v) in &r.custom {
            out.custom.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    // Contacts: all of them, new ids after the survivor's, the same person once.
    let mut next_id = out.contacts.iter().map(|c| c.id).max().unwrap_or(0) + 1;
    let has_primary = out.contacts.iter().any(|c| c.is_primary);
    for (_, r) in others {
        for c in &r.contacts {
            let same = out.contacts.iter().any(|k| {
                k.name == c.name && k.mobile == c.mobile && k.phone == c.phone && k.email == c.email
            });
            if !same {
                out.contacts.push(Contact {
                    id: next_id,
                    is_primary: c.is_primary && !has_primary,
                    ..c.clone()
                });
                next_id += 1;
            }
        }
    }
    out
}
