//! ARSSCS: AR customer setup (Setup/Add, Setup/Update, Setup/Delete).
//!
//! No upsert: Add rejects an existing key, Update and Delete a missing one. Output is lower case
//! (`<setuparcustomer><item><key><customer>`), errors nest under the lower-cased field.

use std::collections::{BTreeMap, HashSet};

use rust_decimal::Decimal;

use super::super::enet::CallInput;
use super::super::state::{Customer, State};
use super::super::xml::{Node, XmlOut};
use super::{FieldError, codes, flag, money_field, read_doc, read_params};

const ROOT: &str = "SetupArCustomer";
const MAX_CODE_LEN: usize = 15;

/// Which setup method was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    Add,
    Update,
    Delete,
}

const TYPED_FIELDS: &[&str] = &[
    "Key",
    "Name",
    "ShortName",
    "Email",
    "Branch",
    "TermsCode",
    "Currency",
    "CreditLimit",
    "Telephone",
    "Contact",
    "Salesperson",
    "CustomerOnHold",
];

enum Change {
    Upsert(Box<Customer>),
    Delete(String),
}

pub(super) fn setup(st: &mut State, input: &CallInput, action: Action) -> Result<Vec<u8>, String> {
    let params = read_params(&input.parameters, ROOT)?;
    let doc = read_doc(&input.xml_in, ROOT, "XmlIn")?;
    let validate_only = flag(&params, "ValidateOnly", 'N') == 'Y';
    let entire_document = flag(&params, "ApplyIfEntireDocumentValid", 'Y') == 'Y';

    let mut results: Vec<(String, Vec<FieldError>, Option<Change>)> = Vec::new();
    let mut seen = HashSet::new();
    for item in doc.children_named("Item") {
        let code = item
            .child("Key")
            .map(|k| k.field("Customer").to_owned())
            .unwrap_or_default();
        let mut errors = Vec::new();
        let existing = st.ledger.customers.get(&code).cloned();
        if code.is_empty() {
            errors.push(FieldError::new(
                "Customer",
                "",
                codes::REQUIRED,
                "Customer code is required".to_owned(),
            ));
        } else if code.chars().count() > MAX_CODE_LEN {
            errors.push(FieldError::new(
                "Customer",
                &code,
                codes::TOO_LONG,
                format!("Customer code '{code}' is longer than {MAX_CODE_LEN} characters"),
            ));
        } else if action == Action::Add && (existing.is_some() || seen.contains(&code)) {
            errors.push(FieldError::new(
                "Customer",
                &code,
                codes::CUSTOMER_EXISTS,
                format!("Customer '{code}' already exists"),
            ));
        } else if action != Action::Add && existing.is_none() {
            errors.push(FieldError::new(
                "Customer",
                &code,
                codes::CUSTOMER_NOT_FOUND,
                format!("Customer '{code}' not found"),
            ));
        }
        seen.insert(code.clone());
        let change = match action {
            Action::Delete => {
                if errors.is_empty() && st.ledger.invoices.keys().any(|(c, _, _)| *c == code) {
                    errors.push(FieldError::new(
                        "Customer",
                        &code,
                        codes::CUSTOMER_HAS_TRANSACTIONS,
                        format!("Customer '{code}' has transactions and cannot be deleted"),
                    ));
                }
                errors.is_empty().then(|| Change::Delete(code.clone()))
            }
            Action::Add | Action::Update => {
                let base = existing.unwrap_or_else(|| new_customer(&code));
                let customer = apply_fields(st, item, base, action, &mut errors);
                errors
                    .is_empty()
                    .then(|| Change::Upsert(Box::new(customer)))
            }
        };
        results.push((code, errors, change));
    }

    let invalid = results.iter().filter(|(_, e, _)| !e.is_empty()).count();
    let read = results.len();
    let apply = !validate_only && (!entire_document || invalid == 0);
    let mut out = XmlOut::with_plain_root("setuparcustomer");
    for (code, errors, change) in results {
        out.open("item").open("key");
        match errors.iter().find(|e| e.field == "Customer") {
            Some(e) => e.write_as(&mut out, "customer"),
            None => {
                out.leaf("customer", &code);
            }
        }
        out.close();
        for e in errors.iter().filter(|e| e.field != "Customer") {
            e.write_as(&mut out, &e.field.to_lowercase());
        }
        out.close();
        if apply {
            match change {
                Some(Change::Upsert(customer)) => {
                    st.ledger
                        .customers
                        .insert(customer.customer.clone(), *customer);
                }
                Some(Change::Delete(code)) => {
                    st.ledger.customers.remove(&code);
                }
                None => {}
            }
        }
    }
    out.open("StatusOfItems")
        .leaf("RecordsRead", &read.to_string())
        .leaf("RecordsInvalid", &invalid.to_string())
        .close();
    Ok(out.finish())
}

fn new_customer(code: &str) -> Customer {
    Customer {
        customer: code.to_owned(),
        name: String::new(),
        short_name: String::new(),
        email: String::new(),
        branch: "WB".to_owned(),
        terms_code: "00".to_owned(),
        currency: "USD".to_owned(),
        credit_limit: Decimal::ZERO,
        telephone: String::new(),
        contact: String::new(),
        salesperson: String::new(),
        customer_on_hold: false,
        other_fields: BTreeMap::new(),
    }
}

fn apply_fields(
    st: &State,
    item: &Node,
    mut c: Customer,
    action: Action,
    errors: &mut Vec<FieldError>,
) -> Customer {
    if let Some(name) = item.text_of("Name") {
        c.name = name.to_owned();
    }
    if c.name.is_empty() && (action == Action::Add || item.child("Name").is_some()) {
        errors.push(FieldError::new(
            "Name",
            "",
            codes::REQUIRED,
            "Customer name is required".to_owned(),
        ));
    }
    if let Some(v) = item.text_of("ShortName") {
        c.short_name = v.to_owned();
    } else if action == Action::Add {
        c.short_name = c.name.chars().take(20).collect::<String>().to_uppercase();
    }
    if let Some(v) = item.text_of("Email") {
        if v.chars().count() > 255 {
            errors.push(FieldError::new(
                "Email",
                v,
                codes::TOO_LONG,
                "Email is longer than 255 characters".to_owned(),
            ));
        }
        c.email = v.to_owned();
    }
    if let Some(v) = item.text_of("Branch").filter(|v| !v.is_empty()) {
        if !st.ledger.branches.contains_key(v) {
            errors.push(FieldError::new(
                "Branch",
                v,
                codes::BRANCH_NOT_FOUND,
                format!("Branch '{v}' not found"),
            ));
        }
        c.branch = v.to_owned();
    }
    if let Some(v) = item.text_of("TermsCode").filter(|v| !v.is_empty()) {
        if !st.ledger.terms.contains_key(v) {
            errors.push(FieldError::new(
                "TermsCode",
                v,
                codes::TERMS_NOT_FOUND,
                format!("Terms code '{v}' not found"),
            ));
        }
        c.terms_code = v.to_owned();
    }
    if let Some(v) = item.text_of("Currency").filter(|v| !v.is_empty()) {
        c.currency = v.to_owned();
    }
    match money_field(item, "CreditLimit") {
        Ok(Some(v)) => c.credit_limit = v,
        Ok(None) => {}
        Err(e) => errors.push(e),
    }
    if let Some(v) = item.text_of("Telephone") {
        c.telephone = v.to_owned();
    }
    if let Some(v) = item.text_of("Contact") {
        c.contact = v.to_owned();
    }
    if let Some(v) = item.text_of("Salesperson") {
        c.salesperson = v.to_owned();
    }
    if let Some(v) = item.text_of("CustomerOnHold") {
        c.customer_on_hold = v.eq_ignore_ascii_case("Y");
    }
    for child in &item.children {
        if !TYPED_FIELDS.contains(&child.name.as_str()) {
            c.other_fields
                .insert(child.name.clone(), child.text.trim().to_owned());
        }
    }
    c
}
