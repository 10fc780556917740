//! The SYSPRO customer of a document, in the design's order: guest to the store's cash customer;
//! otherwise a code the engine already resolved, the explicit table (by id, then by email), a SYSPRO
//! customer with the same email, and finally creation when enabled.

use std::borrow::Cow;

use super::{MappingContext, MappingError};
use crate::config::{CUSTOMER_CODE_PLACEHOLDERS, MappingConfig, StoreMapping};
use crate::plan::{CustomerAction, CustomerMatch, NewCustomer, SourceDocument};

pub(super) fn customer_action(
    mapping: &MappingConfig,
    store: &StoreMapping,
    doc: &SourceDocument,
    ctx: &MappingContext<'_>,
) -> Result<CustomerAction, MappingError> {
    let c = &doc.customer;
    if c.is_guest {
        return match &store.cash_customer {
            Some(code) => Ok(CustomerAction::Cash { code: code.clone() }),
            None => Err(MappingError::NoCashCustomer {
                kind: doc.kind.as_str(),
                increment_id: doc.increment_id.clone(),
                store: doc.store_code.clone(),
            }),
        };
    }
    if let Some(code) = ctx.customer_code {
        return Ok(CustomerAction::Existing {
            code: code.to_owned(),
            matched_by: CustomerMatch::Resolved,
        });
    }
    let table = &mapping.customers;
    if let Some(code) = c.id.and_then(|id| table.by_id.get(&id.to_string())) {
        return Ok(CustomerAction::Existing {
            code: code.clone(),
            matched_by: CustomerMatch::TableById,
        });
    }
    let email = c.email.trim();
    if !email.is_empty()
        && let Some((_, code)) = table
            .by_email
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(email))
    {
        return Ok(CustomerAction::Existing {
            code: code.clone(),
            matched_by: CustomerMatch::TableByEmail,
        });
    }

    let create = &table.create;
    let new_customer = match (create.enabled, c.id) {
        (true, Some(id)) => Some(new_customer(mapping, store, doc, id)?),
        _ => None,
    };
    if table.match_by_email && !email.is_empty() {
        return Ok(CustomerAction::MatchByEmail {
            email: email.to_owned(),
            otherwise_create: new_customer,
        });
    }
    if let Some(new_customer) = new_customer {
        return Ok(CustomerAction::Create(new_customer));
    }

    let mut tried = vec!["not in customers.by_id or customers.by_email".to_owned()];
    if !table.match_by_email {
        tried.push("customers.match_by_email is off".to_owned());
    } else {
        tried.push("the document has no email to match".to_owned());
    }
    if !create.enabled {
        tried.push("customers.create.enabled is false".to_owned());
    } else {
        tried.push("the document has no Commerce customer id to build a code from".to_owned());
    }
    Err(MappingError::MissingCustomer {
        customer: describe(doc),
        reason: tried.join("; "),
    })
}

fn describe(doc: &SourceDocument) -> String {
    let c = &doc.customer;
    match c.id {
        Some(id) => format!("{id} <{}>", c.email),
        None => format!("without id <{}>", c.email),
    }
}

fn new_customer(
    mapping: &MappingConfig,
    store: &StoreMapping,
    doc: &SourceDocument,
    customer_id: u64,
) -> Result<NewCustomer, MappingError> {
    let create = &mapping.customers.create;
    let template = &create.code_template;
    let code = template
        .render(CUSTOMER_CODE_PLACEHOLDERS, |name| match name {
            "customer_id" => Some(Cow::Owned(customer_id.to_string())),
            "store_code" => Some(Cow::Borrowed(doc.store_code.as_str())),
            "store_id" => Some(Cow::Owned(doc.store_id.to_string())),
            _ => None,
        })
        .map_err(|e| MappingError::Template {
            setting: "mapping.customers.create.code_template",
            message: e.to_string(),
        })?;
    let length = code.chars().count();
    if length > create.code_max_length {
        return Err(MappingError::CustomerCodeTooLong {
            template: template.as_str().to_owned(),
            code,
            length,
            max: create.code_max_length,
        });
    }
    let c = &doc.customer;
    Ok(NewCustomer {
        code,
        name: c.name.clone(),
        email: c.email.trim().to_owned(),
        branch: create
            .branch
            .clone()
            .unwrap_or_else(|| store.branch.clone()),
        terms_code: create.terms_code.clone(),
        customer_class: create.customer_class.clone(),
        currency: create
            .currency
            .clone()
            .unwrap_or_else(|| doc.currency.clone()),
        salesperson: create.salesperson.clone(),
        area: create.area.clone(),
        sold_to: c.billing_address.clone(),
        ship_to: c.shipping_address.clone(),
    })
}
