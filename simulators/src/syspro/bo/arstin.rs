//! ARSTIN: AR invoice, credit note and debit note posting (Transaction/Post).
//!
//! Each `<Item>` is checked against the ledger; with `ValidateOnly=Y` nothing changes; with
//! `ApplyIfEntireDocumentValid=Y` (the default) one bad item blocks the whole document, with `N`
//! the good items post and the bad ones come back with their errors.

use std::collections::HashSet;

use rust_decimal::Decimal;

use super::super::enet::CallInput;
use super::super::state::{Invoice, State};
use super::super::xml::{XmlOut, counter};
use super::{
    FieldError, codes, date_field, flag, money_field, posting_period, read_doc, read_params,
};

const ROOT: &str = "PostArInvoices";
const MAX_INVOICE_LEN: usize = 20;

struct Checked {
    customer: String,
    invoice: String,
    generate: bool,
    document_type: char,
    transaction_type: String,
    errors: Vec<FieldError>,
    record: Option<Invoice>,
    post_to_existing: bool,
}

pub(super) fn post(st: &mut State, input: &CallInput) -> Result<Vec<u8>, String> {
    let params = read_params(&input.parameters, ROOT)?;
    let doc = read_doc(&input.xml_in, ROOT, "XmlIn")?;
    let validate_only = flag(&params, "ValidateOnly", 'N') == 'Y';
    let entire_document = flag(&params, "ApplyIfEntireDocumentValid", 'Y') == 'Y';
    let (trn_year, trn_month) =
        posting_period(st.company_date, flag(&params, "PostingPeriod", 'C'));

    let mut seen: HashSet<(String, String, char)> = HashSet::new();
    let mut checked = Vec::new();
    for item in doc.children_named("Item") {
        let mut errors = Vec::new();
        let transaction_type = item.field("TransactionType").to_uppercase();
        let document_type = match transaction_type.as_str() {
            "I" => 'I',
            "C" => 'C',
            "D" => 'D',
            _ => {
                errors.push(FieldError::new(
                    "TransactionType",
                    &transaction_type,
                    codes::INVALID_VALUE,
                    format!("Transaction type '{transaction_type}' is invalid; expected I, C or D"),
                ));
                'I'
            }
        };
        let customer_code = item.field("Customer").to_owned();
        let customer = st.ledger.customers.get(&customer_code).cloned();
        if customer_code.is_empty() {
            errors.push(FieldError::new(
                "Customer",
                "",
                codes::REQUIRED,
                "Customer is required".to_owned(),
            ));
        } else if customer.is_none() {
            errors.push(FieldError::new(
                "Customer",
                &customer_code,
                codes::CUSTOMER_NOT_FOUND,
                format!("Customer '{customer_code}' not found"),
            ));
        }
        let generate = item
            .field("GenerateInvoiceNumber")
            .eq_ignore_ascii_case("Y");
        let post_to_existing = document_type != 'I'
            && item
                .field("PostToExistingInvoice")
                .eq_ignore_ascii_case("Y");
        let invoice = if generate {
            String::new()
        } else {
            item.field("Invoice").to_owned()
        };
        if !generate {
            if invoice.is_empty() {
                errors.push(FieldError::new(
                    "Invoice",
                    "",
                    codes::REQUIRED,
                    "Invoice number is required when GenerateInvoiceNumber is not Y".to_owned(),
                ));
            } else if invoice.chars().count() > MAX_INVOICE_LEN {
                errors.push(FieldError::new(
                    "Invoice",
                    &invoice,
                    codes::TOO_LONG,
                    format!("Invoice '{invoice}' is longer than {MAX_INVOICE_LEN} characters"),
                ));
            } else {
                let key = (customer_code.clone(), invoice.clone(), document_type);
                if st.ledger.invoices.contains_key(&key) || seen.contains(&key) {
                    errors.push(FieldError::new(
                        "Invoice",
                        &invoice,
                        codes::INVOICE_EXISTS,
                        format!(
                            "Invoice '{invoice}' already exists for customer '{customer_code}'"
                        ),
                    ));
                } else if post_to_existing
                    && !st.ledger.invoices.contains_key(&(
                        customer_code.clone(),
                        invoice.clone(),
                        'I',
                    ))
                {
                    errors.push(FieldError::new(
                        "Invoice",
                        &invoice,
                        codes::INVOICE_NOT_FOUND,
                        format!("Invoice '{invoice}' not found for customer '{customer_code}'"),
                    ));
                }
                seen.insert(key);
            }
        }
        let invoice_date = date_field(item, "InvoiceDate", st.company_date)
            .map_err(|e| errors.push(e))
            .ok();
        let value = match item.text_of("InvoiceValue") {
            None | Some("") => {
                errors.push(FieldError::new(
                    "InvoiceValue",
                    "",
                    codes::REQUIRED,
                    "Invoice value is required".to_owned(),
                ));
                None
            }
            Some(_) => match money_field(item, "InvoiceValue") {
                Ok(Some(v)) if v < Decimal::ZERO => {
                    errors.push(FieldError::new(
                        "InvoiceValue",
                        item.field("InvoiceValue"),
                        codes::NEGATIVE,
                        "Invoice value may not be negative".to_owned(),
                    ));
                    None
                }
                Ok(v) => v,
                Err(e) => {
                    errors.push(e);
                    None
                }
            },
        };
        let tax = match money_field(item, "TaxValue") {
            Ok(Some(v)) if v < Decimal::ZERO => {
                errors.push(FieldError::new(
                    "TaxValue",
                    item.field("TaxValue"),
                    codes::NEGATIVE,
                    "Tax value may not be negative".to_owned(),
                ));
                Decimal::ZERO
            }
            Ok(v) => v.unwrap_or(Decimal::ZERO),
            Err(e) => {
                errors.push(e);
                Decimal::ZERO
            }
        };
        let product_class = item.field("ProductClass").to_owned();
        if product_class.is_empty() {
            errors.push(FieldError::new(
                "ProductClass",
                "",
                codes::REQUIRED,
                "Product class is required".to_owned(),
            ));
        } else if !st.ledger.product_classes.contains_key(&product_class) {
            errors.push(FieldError::new(
                "ProductClass",
                &product_class,
                codes::PRODUCT_CLASS_NOT_FOUND,
                format!("Product class '{product_class}' not found"),
            ));
        }
        let branch = match item.text_of("Branch") {
            Some(b) if !b.is_empty() => {
                if !st.ledger.branches.contains_key(b) {
                    errors.push(FieldError::new(
                        "Branch",
                        b,
                        codes::BRANCH_NOT_FOUND,
                        format!("Branch '{b}' not found"),
                    ));
                }
                b.to_owned()
            }
            _ => customer
                .as_ref()
                .map(|c| c.branch.clone())
                .unwrap_or_default(),
        };
        let terms_code = match item.text_of("InvoiceTerms") {
            Some(t) if !t.is_empty() => {
                if !st.ledger.terms.contains_key(t) {
                    errors.push(FieldError::new(
                        "InvoiceTerms",
                        t,
                        codes::TERMS_NOT_FOUND,
                        format!("Invoice terms '{t}' not found"),
                    ));
                }
                t.to_owned()
            }
            _ => customer
                .as_ref()
                .map(|c| c.terms_code.clone())
                .unwrap_or_default(),
        };
        let record = match (errors.is_empty(), invoice_date, value, &customer) {
            (true, Some(date), Some(value), Some(customer)) => {
                let due_days = st.ledger.terms.get(&terms_code).map_or(0, |t| t.due_days);
                let sign = if document_type == 'C' {
                    Decimal::NEGATIVE_ONE
                } else {
                    Decimal::ONE
                };
                Some(Invoice {
                    customer: customer_code.clone(),
                    invoice: invoice.clone(),
                    document_type,
                    invoice_date: date,
                    due_date: date + time::Duration::days(due_days),
                    reference: item.field("Reference").to_owned(),
                    invoice_value: value * sign,
                    tax_value: tax * sign,
                    balance: value * sign,
                    product_class: product_class.clone(),
                    branch: branch.clone(),
                    terms_code: terms_code.clone(),
                    currency: customer.currency.clone(),
                    trn_year,
                    trn_month,
                    customer_po_number: String::new(),
                    sales_order: String::new(),
                    posting_sequence: 0,
                })
            }
            _ => None,
        };
        checked.push(Checked {
            customer: customer_code,
            invoice,
            generate,
            document_type,
            transaction_type,
            errors,
            record,
            post_to_existing,
        });
    }

    let invalid = checked.iter().filter(|c| !c.errors.is_empty()).count();
    let valid = checked.len() - invalid;
    let apply = !validate_only && (!entire_document || invalid == 0);
    let mut processed = 0;
    if apply {
        for c in checked.iter_mut() {
            let Some(mut record) = c.record.take() else {
                continue;
            };
            if c.generate {
                st.ledger.next_invoice_number += 1;
                c.invoice = st.ledger.next_invoice_number.to_string();
                record.invoice = c.invoice.clone();
            }
            record.posting_sequence = st.ledger.next_sequence();
            if c.post_to_existing
                && let Some(original) =
                    st.ledger
                        .invoices
                        .get_mut(&(c.customer.clone(), c.invoice.clone(), 'I'))
            {
                original.balance += record.invoice_value;
                record.balance = Decimal::ZERO;
            }
            st.ledger.invoices.insert(
                (
                    record.customer.clone(),
                    record.invoice.clone(),
                    record.document_type,
                ),
                record,
            );
            processed += 1;
        }
    }

    let mut out = XmlOut::with_plain_root("postarinvoices");
    for (n, c) in checked.iter().enumerate() {
        out.open("Item");
        match c.errors.iter().find(|e| e.field == "Customer") {
            Some(e) => e.write(&mut out),
            None => {
                out.leaf("Customer", &c.customer);
            }
        }
        match c.errors.iter().find(|e| e.field == "Invoice") {
            Some(e) => e.write(&mut out),
            None => {
                out.leaf("Invoice", &c.invoice);
            }
        }
        out.leaf("DocumentType", &c.document_type.to_string())
            .leaf("TransactionType", &c.transaction_type)
            .leaf("ItemNumber", &counter(n + 1));
        for e in c
            .errors
            .iter()
            .filter(|e| e.field != "Customer" && e.field != "Invoice")
        {
            e.write(&mut out);
        }
        out.close();
    }
    out.open("StatusOfItems")
        .leaf("ItemsValidated", &counter(valid))
        .leaf("InvalidItems", &counter(invalid))
        .leaf("ItemsProcessed", &counter(processed))
        .close();
    Ok(out.finish())
}
