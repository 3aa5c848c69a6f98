//! Validation of a whole customer record: every field checked and normalised, all failures
//! collected; and the owner and department checked against the database.

use crate::customers::Customers;
use chrono::NaiveDate;

use custos_core::ident::{Email, IdNumber, Mobile, Phone, PostalCode, Uscc, Website};
use custos_core::normalize::normalize_text;
use custos_core::{industry, region, FieldError, Violation};
use custos_store::Tx;

use super::checks::{
    check_len, one_of, parse_date, parsed, parsed_as, required, required_builtin, text, text_list,
    typed_text, typed_text_list,
};
use super::lookups::Lookups;
use super::record::{is_enterprise_type, is_individual_type, Contact, Draft, Ident, Record};
use super::reference::Reference;
use super::text_rules;
use super::values::{CustomerStatus, Scale};
use crate::error::AppResult;

/// Validate and normalise a whole record into its typed form; all failures are collected.
pub(super) fn validate(
    rec: Draft,
    today: NaiveDate,
    reference: &Reference,
) -> Result<Record, Vec<FieldError>> {
    // Limits before work (a list of 60,000 tags is refused unread), then the characters
    // of every text, before any of them is normalised.
    let limits = text_rules::list_limits(&rec);
    if !limits.is_empty() {
        return Err(limits);
    }
    let refused = text_rules::refused_fields(&rec, &reference.custom);
    let mut errors = Vec::new();
    let e = &mut errors;
    // Each step fills its fields of `out`; the steps run in the order errors are reported.
    let mut out = Record {
        customer_type: customer_type(&rec.customer_type, reference, e),
        owner_id: rec.owner_id,
        department_id: rec.department_id,
        ..Record::default()
    };
    names_and_registration(&rec, today, &mut out, e);
    classification(&rec, &mut out, e);
    address_and_channels(&rec, &mut out, e);
    individual_identified(&out, e);
    standing(&rec, &mut out, e);
    out.contacts = contacts(&rec.contacts, e);
    out.custom =
        crate::fields::validate_custom(&reference.custom, &out.customer_type, &rec.custom, e);

    if !refused.is_empty() {
        return Err(text_rules::refused_first(refused, errors));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(out)
}

/// The most characters the built-in text `field` may hold: the field catalog's
/// `max_length` (every text checked here has one, see the test below). Contacts are one
/// catalog field; the limits of their parts are written in [`contact`].
fn max_len(field: &str) -> usize {
    crate::fields::builtin_max_length(field).unwrap_or(usize::MAX)
}

/// The customer type, normalised: required, and one of the configured types.
fn customer_type(raw: &str, reference: &Reference, e: &mut Vec<FieldError>) -> String {
    let customer_type = normalize_text(raw).to_lowercase();
    if customer_type.is_empty() {
        required_builtin("customer_type", e);
    } else if !reference.types.iter().any(|t| t.key == customer_type) {
        let keys: Vec<&str> = reference.types.iter().map(|t| t.key.as_str()).collect();
        e.push(
            Violation::new(
                "customer_type.unknown",
                format!("客户类型“{customer_type}”不存在，可选：{}", keys.join("、")),
                format!(
                    "customer type '{customer_type}' does not exist; choose one of {}",
                    keys.join(", ")
                ),
            )
            .on("customer_type"),
        );
    }
    customer_type
}

/// Names and registration data: name (required), short and former names, USCC, ID number
/// (none for enterprises), legal representative, founding date and registered capital.
fn names_and_registration(
    rec: &Draft,
    today: NaiveDate,
    out: &mut Record,
    e: &mut Vec<FieldError>,
) {
    // Names keep what was typed (（上海）stays full-width); matching normalises its own keys.
    out.name = custos_core::normalize::tidy_text(&rec.name);
    if out.name.is_empty() {
        required_builtin("name", e);
    } else {
        check_len("name", &out.name, max_len("name"), e);
    }
    out.short_name = typed_text(
        "short_name",
        rec.short_name.as_deref(),
        max_len("short_name"),
        e,
    );
    out.former_names = typed_text_list(
        "former_names",
        &rec.former_names,
        max_len("former_names"),
        e,
    );
    out.uscc = parsed_as("uscc", rec.uscc.as_deref(), Uscc::parse, e).map(Ident::Valid);
    out.id_number = parsed_as(
        "id_number",
        rec.id_number.as_deref(),
        |s| IdNumber::parse(s, today),
        e,
    )
    .map(Ident::Valid);
    if out.id_number.is_some() && is_enterprise_type(&out.customer_type) {
        e.push(
            Violation::new(
                "id_number.not_applicable",
                "企业客户不填写身份证号码（请填写统一社会信用代码）",
                "enterprise customers have no ID number (use the unified social credit code)",
            )
            .on("id_number"),
        );
    }
    out.legal_representative = typed_text(
        "legal_representative",
        rec.legal_representative.as_deref(),
        max_len("legal_representative"),
        e,
    );
    out.established_on = parse_date("established_on", rec.established_on.as_deref(), today, e);
    out.registered_capital = registered_capital(rec.registered_capital, e);
}

/// The registered capital (10k CNY) if it is a number from 0 to 1e10.
fn registered_capital(capital: Option<f64>, e: &mut Vec<FieldError>) -> Option<f64> {
    match capital {
        Some(c) if !c.is_finite() || !(0.0..=1.0e10).contains(&c) => {
            e.push(
                Violation::new(
                    "number.range",
                    format!("注册资本（万元）应在 0 到 10000000000 之间（{c}）"),
                    format!("registered capital (10k CNY) must be between 0 and 1e10 ({c})"),
                )
                .on("registered_capital"),
            );
            None
        }
        other => other,
    }
}

/// Classification: industry, scale, level, source and region.
fn classification(rec: &Draft, out: &mut Record, e: &mut Vec<FieldError>) {
    out.industry = parsed(
        "industry",
        rec.industry.as_deref(),
        industry::validate_industry,
        Clone::clone,
        e,
    );
    let scale_keys: Vec<&str> = Scale::ALL.iter().map(|s| s.as_str()).collect();
    // The list names every key, so what it lets through parses.
    out.scale = one_of("scale", rec.scale.as_deref(), &scale_keys, e)
        .and_then(|s| s.parse().ok())
        .map(Ident::Valid);
    out.level = text("level", rec.level.as_deref(), max_len("level"), e);
    out.source = text("source", rec.source.as_deref(), max_len("source"), e);
    out.region_code = parsed(
        "region_code",
        rec.region_code.as_deref(),
        region::validate_region_code,
        Clone::clone,
        e,
    );
}

/// Where the customer is reached: address, postal code, phone, mobile, e-mail, website.
fn address_and_channels(rec: &Draft, out: &mut Record, e: &mut Vec<FieldError>) {
    out.address =
        text_rules::multiline_text("address", rec.address.as_deref(), max_len("address"), e);
    out.postal_code = parsed(
        "postal_code",
        rec.postal_code.as_deref(),
        PostalCode::parse,
        |p| p.as_str().to_string(),
        e,
    );
    out.phone = parsed(
        "phone",
        rec.phone.as_deref(),
        Phone::parse,
        |p| p.as_str().to_string(),
        e,
    );
    out.mobile = parsed_as("mobile", rec.mobile.as_deref(), Mobile::parse, e).map(Ident::Valid);
    out.email = parsed(
        "email",
        rec.email.as_deref(),
        Email::parse,
        |m| m.as_str().to_string(),
        e,
    );
    out.website = parsed(
        "website",
        rec.website.as_deref(),
        Website::parse,
        |w| w.as_str().to_string(),
        e,
    );
}

/// An individual needs an ID number or a mobile number (unless one of them was given and
/// is already reported as wrong).
fn individual_identified(out: &Record, e: &mut Vec<FieldError>) {
    if is_individual_type(&out.customer_type)
        && out.id_number.is_none()
        && out.mobile.is_none()
        && !e
            .iter()
            .any(|f| f.field == "id_number" || f.field == "mobile")
    {
        e.push(
            Violation::new(
                "required.id_number_or_mobile",
                "个人客户须填写身份证号码或手机号码",
                "an individual customer needs an ID number or a mobile number",
            )
            .on("id_number"),
        );
    }
}

/// Status (active by default), tags, credit rating and remarks.
fn standing(rec: &Draft, out: &mut Record, e: &mut Vec<FieldError>) {
    out.status = if rec.status.trim().is_empty() {
        CustomerStatus::Active
    } else {
        let editable: Vec<&str> = CustomerStatus::EDITABLE
            .iter()
            .map(|s| s.as_str())
            .collect();
        // A refused status is reported; the record is not used then.
        one_of("status", Some(&rec.status), &editable, e)
            .and_then(|s| s.parse().ok())
            .unwrap_or_default()
    };
    out.tags = text_list("tags", &rec.tags, max_len("tags"), e);
    out.credit_rating = text(
        "credit_rating",
        rec.credit_rating.as_deref(),
        max_len("credit_rating"),
        e,
    );
    out.remarks =
        text_rules::multiline_text("remarks", rec.remarks.as_deref(), max_len("remarks"), e);
}

/// The contacts, each checked and given an id if it has none; at most one primary.
fn contacts(given: &[Contact], e: &mut Vec<FieldError>) -> Vec<Contact> {
    let mut contacts = Vec::new();
    let mut next_id = given.iter().map(|c| c.id).max().unwrap_or(0) + 1;
    for (i, c) in given.iter().enumerate() {
        let id = if c.id > 0 {
            c.id
        } else {
            next_id += 1;
            next_id - 1
        };
        contacts.push(contact(i, c, id, e));
    }
    let primaries = contacts.iter().filter(|c| c.is_primary).count();
    if primaries > 1 {
        e.push(
            Violation::new(
                "contacts.primary",
                format!("只能有一个主联系人（当前 {primaries} 个）"),
                format!("at most one primary contact (has {primaries})"),
            )
            .on("contacts"),
        );
    }
    contacts
}

/// Contact `i` checked and normalised, with the id `id`.
fn contact(i: usize, c: &Contact, id: i64, e: &mut Vec<FieldError>) -> Contact {
    let f = |n: &str| format!("contacts[{i}].{n}");
    let name = custos_core::normalize::tidy_text(&c.name);
    if name.is_empty() {
        let n = i + 1;
        required(
            &f("name"),
            &format!("第 {n} 位联系人的姓名"),
            &format!("Name of contact {n}"),
            e,
        );
    } else {
        check_len(&f("name"), &name, 50, e);
    }
    Contact {
        id,
        name,
        title: typed_text(&f("title"), c.title.as_deref(), 50, e),
        mobile: parsed(
            &f("mobile"),
            c.mobile.as_deref(),
            Mobile::parse,
            |m| m.as_str().to_string(),
            e,
        ),
        phone: parsed(
            &f("phone"),
            c.phone.as_deref(),
            Phone::parse,
            |p| p.as_str().to_string(),
            e,
        ),
        email: parsed(
            &f("email"),
            c.email.as_deref(),
            Email::parse,
            |m| m.as_str().to_string(),
            e,
        ),
        is_primary: c.is_primary,
    }
}

impl Customers<'_> {
    /// Owner and department must exist; the department defaults to the owner's.
    pub(super) async fn resolve_owner(
        &self,
        tx: &mut Tx,
        lookups: &mut Lookups,
        owner_id: Option<i64>,
        department_id: &mut Option<i64>,
    ) -> AppResult<Vec<FieldError>> {
        let mut errors = Vec::new();
        let Some(owner_id) = owner_id else {
            return Ok(errors);
        };
        match lookups.user(tx, owner_id).await? {
            None => errors.push(
                Violation::new(
                    "user.unknown",
                    format!("负责人 {owner_id} 不存在"),
                    format!("owner {owner_id} does not exist"),
                )
                .on("owner_id"),
            ),
            Some(owner) => {
                if department_id.is_none() {
                    *department_id = owner.department_id;
                }
            }
        }
        if let Some(d) = *department_id {
            if !lookups.department_exists(tx, d).await? {
                errors.push(
                    Violation::new(
                        "department.unknown",
                        format!("部门 {d} 不存在"),
                        format!("department {d} does not exist"),
                    )
                    .on("department_id"),
                );
            }
        }
        Ok(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::max_len;

    /// The text limits validation reads from the catalog are the ones it always applied.
    #[test]
    fn text_limits_come_from_the_catalog() {
        for (field, max) in [
            ("name", 200),
            ("short_name", 100),
            ("former_names", 200),
            ("legal_representative", 50),
            ("level", 32),
            ("source", 64),
            ("address", 300),
            ("tags", 32),
            ("credit_rating", 16),
            ("remarks", 2000),
        ] {
            assert_eq!(max_len(field), max, "{field}");
        }
    }
}
