//! Conversions between the SDKs' models and the engine's own documents: Commerce orders and invoices
//! become [`SourceDocument`]s, [`PostingPlan`]s become SYSPRO ARSTIN items, GENTJL journals, SORTOI
//! sales orders and ARSSCS customer records.
//!
//! Amounts are taken exactly as Commerce reports them. Which of a configurable or bundle product's
//! parent and child lines carries the money is Commerce's own line role
//! ([`Order::line_role`](adobe_commerce_client::models::Order::line_role)); lines that do not carry
//! money keep their place in the document with zero amounts, so the mapper counts each product once.

use adobe_commerce_client::models::{
    CreditMemo, CreditMemoState, Invoice, Order, OrderAddress, OrderItem,
};
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{Value, json};
use syspro_client::bo;
use time::OffsetDateTime;

use crate::config::ConnectionConfig;
use crate::plan::{
    Address, CreditMemoDetails, DocumentKind, FreightCharge, GlJournal, NewCustomer, PostingPlan,
    SourceCustomer, SourceDocument, SourceLine,
};
use crate::state::Payload;

/// Why a Commerce document cannot be turned into a [`SourceDocument`]; the record halts with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    /// A field the engine needs is absent from Commerce's answer.
    #[error("Commerce {kind} {id}: field `{field}` is missing")]
    MissingField {
        /// `order`, `invoice` or `credit memo`.
        kind: &'static str,
        /// Entity id or increment id, as far as known.
        id: String,
        /// The JSON field.
        field: &'static str,
    },
    /// The document belongs to a store view the connection does not list.
    #[error(
        "Commerce {kind} {id} belongs to store_id {store_id}, which is not in connection.commerce.stores"
    )]
    UnknownStore {
        /// `order` or `invoice`.
        kind: &'static str,
        /// Entity id.
        id: String,
        /// The store id.
        store_id: u64,
    },
    /// The document was cancelled in Commerce, so there is nothing to post.
    #[error("Commerce {kind} {id} is cancelled; nothing is posted for it")]
    Cancelled {
        /// `credit memo`.
        kind: &'static str,
        /// Entity id.
        id: String,
    },
    /// The stored payload does not have the shape the engine wrote.
    #[error("stored payload is not a Commerce {kind}: {message}")]
    Payload {
        /// What was expected.
        kind: &'static str,
        /// The decode error.
        message: String,
    },
}

fn missing(kind: &'static str, id: impl ToString, field: &'static str) -> ConversionError {
    ConversionError::MissingField {
        kind,
        id: id.to_string(),
        field,
    }
}

fn amount(value: Option<Decimal>) -> Decimal {
    value.unwrap_or(Decimal::ZERO)
}

fn store_code(
    connection: &ConnectionConfig,
    kind: &'static str,
    id: &str,
    store_id: u64,
) -> Result<(u32, String), ConversionError> {
    let unknown = || ConversionError::UnknownStore {
        kind,
        id: id.to_owned(),
        store_id,
    };
    let small = u32::try_from(store_id).map_err(|_| unknown())?;
    connection
        .store_code(small)
        .map(|code| (small, code.to_owned()))
        .ok_or_else(unknown)
}

fn address(a: &OrderAddress) -> Address {
    Address {
        company: a.company.clone().filter(|c| !c.trim().is_empty()),
        street: a.street.clone(),
        city: a.city.clone().unwrap_or_default(),
        region: a.region.clone(),
        postcode: a.postcode.clone().unwrap_or_default(),
        country_id: a.country_id.clone().unwrap_or_default(),
        telephone: a.telephone.clone().filter(|t| !t.trim().is_empty()),
    }
}

fn customer_of(order: &Order) -> SourceCustomer {
    let name = [
        order.customer_firstname.as_deref(),
        order.customer_lastname.as_deref(),
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(" ");
    let billing = order.billing_address.as_ref();
    let name = if name.is_empty() {
        billing
            .map(|b| {
                [b.firstname.as_deref(), b.lastname.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default()
    } else {
        name
    };
    let is_guest = order.is_guest();
    SourceCustomer {
        id: if is_guest {
            None
        } else {
            order.customer_id.map(|id| id.get())
        },
        email: order
            .customer_email
            .clone()
            .or_else(|| billing.and_then(|b| b.email.clone()))
            .unwrap_or_default(),
        name,
        is_guest,
        billing_address: billing.map(address),
        shipping_address: order.shipping_address().map(address),
    }
}

/// The order line's amounts when it carries money, zeros otherwise.
fn order_line(order: &Order, item: &OrderItem) -> Option<SourceLine> {
    let item_id = item.item_id?.get();
    let priced = order.line_role(item).carries_money();
    let pick = |value: Option<Decimal>| {
        if priced {
            amount(value).abs()
        } else {
            Decimal::ZERO
        }
    };
    Some(SourceLine {
        item_id,
        parent_item_id: item.parent_item_id.map(|p| p.get()),
        product_type: item
            .product_type
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default(),
        sku: item.sku.clone().unwrap_or_default(),
        name: item.name.clone().unwrap_or_default(),
        qty: amount(item.qty_ordered),
        row_total: pick(item.row_total),
        row_tax: pick(item.tax_amount),
        row_discount: pick(item.discount_amount),
        category_ids: Vec::new(),
        attribute_set_id: None,
    })
}

/// A Commerce order as the engine's document.
///
/// # Errors
/// [`ConversionError`] when an identifying field is missing or the store is not the connection's.
pub fn order_document(
    connection: &ConnectionConfig,
    order: &Order,
) -> Result<SourceDocument, ConversionError> {
    let entity_id = order
        .entity_id
        .ok_or_else(|| missing("order", "?", "entity_id"))?
        .get();
    let id = entity_id.to_string();
    let increment_id = order
        .increment_id
        .clone()
        .ok_or_else(|| missing("order", &id, "increment_id"))?;
    let store = order
        .store_id
        .ok_or_else(|| missing("order", &id, "store_id"))?;
    let (store_id, store_code) = store_code(connection, "order", &id, store.get())?;
    let currency = order
        .order_currency_code
        .clone()
        .ok_or_else(|| missing("order", &id, "order_currency_code"))?;
    let created_at = order
        .created_at
        .ok_or_else(|| missing("order", &id, "created_at"))?;
    let updated_at = order.updated_at.unwrap_or(created_at);
    let grand_total = order
        .grand_total
        .ok_or_else(|| missing("order", &id, "grand_total"))?;
    Ok(SourceDocument {
        kind: DocumentKind::Order,
        entity_id,
        order_increment_id: increment_id.clone(),
        increment_id,
        store_id,
        store_code,
        currency,
        created_at,
        updated_at,
        customer: customer_of(order),
        lines: order
            .items
            .iter()
            .filter_map(|item| order_line(order, item))
            .collect(),
        shipping_amount: amount(order.shipping_amount),
        shipping_tax: amount(order.shipping_tax_amount),
        shipping_discount: amount(order.shipping_discount_amount).abs(),
        discount_total: amount(order.discount_amount).abs(),
        tax_total: amount(order.tax_amount),
        grand_total,
    })
}

/// The fields an invoice or credit memo line shares.
struct BilledLine<'a> {
    order_item_id: Option<adobe_commerce_client::models::OrderItemId>,
    sku: Option<&'a str>,
    name: Option<&'a str>,
    qty: Option<Decimal>,
    row_total: Option<Decimal>,
    tax_amount: Option<Decimal>,
    discount_amount: Option<Decimal>,
}

/// The source lines of an invoice or credit memo, and the discount they carry. Lines of order
/// items that carry no money (the children of a priced parent) keep their quantity at zero value.
fn billed_lines<'a>(
    order: &Order,
    billed: impl Iterator<Item = BilledLine<'a>>,
) -> (Vec<SourceLine>, Decimal) {
    let mut lines = Vec::new();
    let mut line_discounts = Decimal::ZERO;
    for line in billed {
        let Some(order_item_id) = line.order_item_id else {
            continue;
        };
        let order_item = order.item(order_item_id);
        let priced = order
            .role_of(order_item_id)
            .is_none_or(|role| role.carries_money());
        let pick = |value: Option<Decimal>| {
            if priced {
                amount(value).abs()
            } else {
                Decimal::ZERO
            }
        };
        line_discounts += pick(line.discount_amount);
        lines.push(SourceLine {
            item_id: order_item_id.get(),
            parent_item_id: order_item.and_then(|i| i.parent_item_id).map(|p| p.get()),
            product_type: order_item
                .and_then(|i| i.product_type.as_ref())
                .map(|t| t.as_str().to_owned())
                .unwrap_or_default(),
            sku: line
                .sku
                .map(str::to_owned)
                .or_else(|| order_item.and_then(|i| i.sku.clone()))
                .unwrap_or_default(),
            name: line.name.unwrap_or_default().to_owned(),
            qty: amount(line.qty),
            row_total: pick(line.row_total),
            row_tax: pick(line.tax_amount),
            row_discount: pick(line.discount_amount),
            category_ids: Vec::new(),
            attribute_set_id: None,
        });
    }
    (lines, line_discounts)
}

/// The part of a document's discount total the lines do not carry: the shipping discount, never
/// more than the order's own.
fn shipping_discount(order: &Order, discount_total: Decimal, lines: Decimal) -> Decimal {
    (discount_total - lines)
        .max(Decimal::ZERO)
        .min(amount(order.shipping_discount_amount).abs())
}

/// A Commerce invoice as the engine's document; its order supplies the customer, the store context
/// and the parent/child structure of the lines.
///
/// # Errors
/// [`ConversionError`] when an identifying field is missing or the store is not the connection's.
pub fn invoice_document(
    connection: &ConnectionConfig,
    invoice: &Invoice,
    order: &Order,
) -> Result<SourceDocument, ConversionError> {
    let entity_id = invoice
        .entity_id
        .ok_or_else(|| missing("invoice", "?", "entity_id"))?
        .get();
    let id = entity_id.to_string();
    let increment_id = invoice
        .increment_id
        .clone()
        .ok_or_else(|| missing("invoice", &id, "increment_id"))?;
    let order_increment_id = order
        .increment_id
        .clone()
        .ok_or_else(|| missing("order", &id, "increment_id"))?;
    let store = invoice
        .store_id
        .or(order.store_id)
        .ok_or_else(|| missing("invoice", &id, "store_id"))?;
    let (store_id, store_code) = store_code(connection, "invoice", &id, store.get())?;
    let currency = invoice
        .order_currency_code
        .clone()
        .or_else(|| order.order_currency_code.clone())
        .ok_or_else(|| missing("invoice", &id, "order_currency_code"))?;
    let created_at = invoice
        .created_at
        .ok_or_else(|| missing("invoice", &id, "created_at"))?;
    let updated_at = invoice.updated_at.unwrap_or(created_at);
    let grand_total = invoice
        .grand_total
        .ok_or_else(|| missing("invoice", &id, "grand_total"))?;

    let (lines, line_discounts) = billed_lines(
        order,
        invoice.items.iter().map(|l| BilledLine {
            order_item_id: l.order_item_id,
            sku: l.sku.as_deref(),
            name: l.name.as_deref(),
            qty: l.qty,
            row_total: l.row_total,
            tax_amount: l.tax_amount,
            discount_amount: l.discount_amount,
        }),
    );
    // Invoices report one discount total; what the lines do not carry is the shipping discount,
    // never more than the order's own shipping discount.
    let discount_total = amount(invoice.discount_amount).abs();
    let shipping_discount = shipping_discount(order, discount_total, line_discounts);
    Ok(SourceDocument {
        kind: DocumentKind::Invoice,
        entity_id,
        increment_id,
        order_increment_id,
        store_id,
        store_code,
        currency,
        created_at,
        updated_at,
        customer: customer_of(order),
        lines,
        shipping_amount: amount(invoice.shipping_amount),
        shipping_tax: amount(invoice.shipping_tax_amount),
        shipping_discount,
        discount_total,
        tax_total: amount(invoice.tax_amount),
        grand_total,
    })
}

/// A Commerce credit memo as the engine's document (the refunded amounts, as magnitudes) and what
/// only a credit memo has; its order supplies the customer, the store context and the parent/child
/// structure of the lines, its invoice (when it names one) the number it credits.
///
/// # Errors
/// [`ConversionError`] when an identifying field is missing, the store is not the connection's or
/// the memo was cancelled in Commerce.
pub fn credit_memo_document(
    connection: &ConnectionConfig,
    memo: &CreditMemo,
    order: &Order,
    invoice: Option<&Invoice>,
) -> Result<(SourceDocument, CreditMemoDetails), ConversionError> {
    const KIND: &str = "credit memo";
    let entity_id = memo
        .entity_id
        .ok_or_else(|| missing(KIND, "?", "entity_id"))?
        .get();
    let id = entity_id.to_string();
    if memo.state == Some(CreditMemoState::Canceled) {
        return Err(ConversionError::Cancelled {
            kind: KIND,
            id: id.clone(),
        });
    }
    let increment_id = memo
        .increment_id
        .clone()
        .ok_or_else(|| missing(KIND, &id, "increment_id"))?;
    let order_increment_id = order
        .increment_id
        .clone()
        .ok_or_else(|| missing("order", &id, "increment_id"))?;
    let store = memo
        .store_id
        .or(order.store_id)
        .ok_or_else(|| missing(KIND, &id, "store_id"))?;
    let (store_id, store_code) = store_code(connection, KIND, &id, store.get())?;
    let currency = memo
        .order_currency_code
        .clone()
        .or_else(|| order.order_currency_code.clone())
        .ok_or_else(|| missing(KIND, &id, "order_currency_code"))?;
    let created_at = memo
        .created_at
        .ok_or_else(|| missing(KIND, &id, "created_at"))?;
    let updated_at = memo.updated_at.unwrap_or(created_at);
    let grand_total = memo
        .grand_total
        .ok_or_else(|| missing(KIND, &id, "grand_total"))?;

    let (lines, line_discounts) = billed_lines(
        order,
        memo.items.iter().map(|l| BilledLine {
            order_item_id: l.order_item_id,
            sku: l.sku.as_deref(),
            name: l.name.as_deref(),
            qty: l.qty,
            row_total: l.row_total,
            tax_amount: l.tax_amount,
            discount_amount: l.discount_amount,
        }),
    );
    // As on invoices, what the lines do not carry of the discount is the shipping discount.
    let discount_total = amount(memo.discount_amount).abs();
    let shipping_discount = shipping_discount(order, discount_total, line_discounts);
    // The refund adds `adjustment_positive` and keeps `adjustment_negative`; the net `adjustment`
    // is used only when neither part is reported.
    let adjustment = if memo.adjustment_positive.is_some() || memo.adjustment_negative.is_some() {
        amount(memo.adjustment_positive).abs() - amount(memo.adjustment_negative).abs()
    } else {
        amount(memo.adjustment)
    };
    let document = SourceDocument {
        kind: DocumentKind::CreditMemo,
        entity_id,
        increment_id,
        order_increment_id,
        store_id,
        store_code,
        currency,
        created_at,
        updated_at,
        customer: customer_of(order),
        lines,
        shipping_amount: amount(memo.shipping_amount),
        shipping_tax: amount(memo.shipping_tax_amount),
        shipping_discount,
        discount_total,
        tax_total: amount(memo.tax_amount),
        grand_total,
    };
    let details = CreditMemoDetails {
        adjustment,
        invoice_increment_id: invoice.and_then(|i| i.increment_id.clone()),
    };
    Ok((document, details))
}

/// The payload kept for a credit memo record: the memo, its order and the invoice it refunds
/// (`null` when it names none), so a replay from the stored payload has the whole context.
pub fn credit_memo_payload(memo: &CreditMemo, order: &Order, invoice: Option<&Invoice>) -> Value {
    json!({ "credit_memo": memo, "order": order, "invoice": invoice })
}

/// The memo, order and invoice stored in a credit memo record's payload.
///
/// # Errors
/// [`ConversionError::Payload`] when the payload does not hold the memo and its order.
pub fn credit_memo_from_payload(
    payload: &Value,
) -> Result<(CreditMemo, Order, Option<Invoice>), ConversionError> {
    let decode = |name: &str| -> Result<&Value, ConversionError> {
        payload.get(name).ok_or_else(|| ConversionError::Payload {
            kind: "credit memo",
            message: format!("field `{name}` is missing"),
        })
    };
    let error = |e: serde_json::Error| ConversionError::Payload {
        kind: "credit memo",
        message: e.to_string(),
    };
    let memo = CreditMemo::deserialize(decode("credit_memo")?).map_err(error)?;
    let order = Order::deserialize(decode("order")?).map_err(error)?;
    let invoice = match payload.get("invoice") {
        None | Some(Value::Null) => None,
        Some(v) => Some(Invoice::deserialize(v).map_err(error)?),
    };
    Ok((memo, order, invoice))
}

/// The payload kept for an order record: the order as Commerce sent it (re-encoded losslessly).
pub fn order_payload(order: &Order) -> Value {
    serde_json::to_value(order).unwrap_or(Value::Null)
}

/// The payload kept for an invoice record: the invoice and the order it belongs to, so a replay
/// from the stored payload has the whole context.
pub fn invoice_payload(invoice: &Invoice, order: &Order) -> Value {
    serde_json::to_value(InvoiceRecord { invoice, order }).unwrap_or(Value::Null)
}

/// The shape of an invoice record's payload ([`invoice_payload`]).
#[derive(serde::Serialize)]
pub(crate) struct InvoiceRecord<'a> {
    pub(crate) invoice: &'a Invoice,
    pub(crate) order: &'a Order,
}

/// The order stored in an order record's payload (read straight from the stored text when the
/// payload has not been parsed yet).
///
/// # Errors
/// [`ConversionError::Payload`] when the payload is not an order.
pub fn order_from_payload(payload: &Payload) -> Result<Order, ConversionError> {
    payload.parse().map_err(|message| ConversionError::Payload {
        kind: "order",
        message,
    })
}

/// The invoice and order stored in an invoice record's payload.
///
/// # Errors
/// [`ConversionError::Payload`] when the payload does not hold both.
pub fn invoice_from_payload(payload: &Payload) -> Result<(Invoice, Order), ConversionError> {
    #[derive(Deserialize)]
    struct Stored {
        invoice: Invoice,
        order: Order,
    }
    let stored: Stored = payload
        .parse()
        .map_err(|message| ConversionError::Payload {
            kind: "invoice",
            message,
        })?;
    Ok((stored.invoice, stored.order))
}

/// The ARSTIN item of a plan whose customer is known.
///
/// # Errors
/// `None` when the plan's customer is still to be matched by email (the engine resolves it first),
/// and for a sales-order plan, which posts no AR invoice.
pub fn ar_invoice_item(plan: &PostingPlan) -> Option<bo::ArInvoiceItem> {
    if plan.sales_order.is_some() {
        return None;
    }
    let ar = &plan.ar_invoice;
    let customer = ar.customer.clone()?;
    let mut item = bo::ArInvoiceItem::invoice(
        customer,
        ar.invoice.clone(),
        ar.invoice_date,
        ar.invoice_value,
        ar.product_class.clone(),
    );
    item.transaction_type = match ar.transaction_type {
        crate::plan::ArTransactionType::Invoice => bo::ArTransactionType::Invoice,
        crate::plan::ArTransactionType::CreditNote => bo::ArTransactionType::CreditNote,
        crate::plan::ArTransactionType::DebitNote => bo::ArTransactionType::DebitNote,
    };
    item.reference = Some(ar.reference.clone());
    item.tax_value = Some(ar.tax_value);
    item.branch = Some(ar.branch.clone());
    item.invoice_terms = ar.invoice_terms.clone();
    Some(item)
}

/// The SORTOI order of a sales-order plan whose customer is known: exactly the plan's header,
/// lines and freight, nothing added or cut.
///
/// # Errors
/// `None` for a plan without a sales order, or whose customer is still to be matched by email.
pub fn sales_order(plan: &PostingPlan) -> Option<bo::SalesOrder> {
    let so = plan.sales_order.as_ref()?;
    let customer = so.customer.clone()?;
    let mut lines: Vec<bo::SalesOrderLine> = so
        .lines
        .iter()
        .map(|line| {
            bo::SalesOrderLine::Stock(bo::StockLine {
                customer_po_line: line.customer_po_line,
                stock_code: line.stock_code.clone(),
                description: Some(line.description.clone()).filter(|d| !d.trim().is_empty()),
                warehouse: line.warehouse.clone(),
                quantity: line.quantity,
                unit_of_measure: line.unit_of_measure.clone(),
                price: Some(line.price),
                price_unit_of_measure: Some(line.unit_of_measure.clone()),
                discount_percent: None,
                tax_code: None,
            })
        })
        .collect();
    match &so.freight {
        Some(FreightCharge::Freight {
            customer_po_line,
            value,
        }) => lines.push(bo::SalesOrderLine::Freight(bo::FreightLine {
            customer_po_line: *customer_po_line,
            value: *value,
            cost: None,
        })),
        Some(FreightCharge::MiscCharge {
            customer_po_line,
            value,
            product_class,
            description,
        }) => lines.push(bo::SalesOrderLine::Misc(bo::MiscChargeLine {
            customer_po_line: *customer_po_line,
            value: *value,
            cost: None,
            product_class: Some(product_class.clone()),
            description: Some(description.clone()),
        })),
        None => {}
    }
    let mut order = bo::SalesOrder::new(so.customer_po_number.clone(), customer, lines);
    order.order_date = Some(so.order_date);
    order.customer_name.clone_from(&so.customer_name);
    if let Some(ship_to) = &so.ship_to {
        order.ship_address.clone_from(&ship_to.lines);
        order.ship_postal_code.clone_from(&ship_to.postal_code);
    }
    order.email.clone_from(&so.email);
    order.branch = Some(so.branch.clone());
    Some(order)
}

/// The SORTOI parameters every sales order is imported with: duplicates of a customer PO number
/// refused (what makes re-sending safe), the connector's prices used as given (they already hold
/// Commerce's discounts), zero prices allowed (free items), warnings returned as warnings.
pub fn sales_order_parameters() -> bo::SalesOrderImportParameters {
    bo::SalesOrderImportParameters {
        always_use_price_entered: Some(true),
        allow_zero_price: Some(true),
        allow_duplicate_order_numbers: bo::DuplicateOrderNumbers::Reject,
        check_for_customer_po_numbers: bo::CustomerPoCheck::Mandatory,
        ..bo::SalesOrderImportParameters::default()
    }
}

/// The GENTJL journal of a plan: posted in the GL period of its date (year and month).
pub fn gl_journal(journal: &GlJournal) -> bo::GlJournal {
    let date = journal.journal_date;
    let year = u16::try_from(date.year()).unwrap_or(1900);
    let lines = journal
        .lines
        .iter()
        .map(|line| bo::GlJournalLine {
            ledger_code: line.ledger_code.clone(),
            amount: line.amount,
            reference: None,
            comment: Some(line.comment.clone()),
        })
        .collect();
    let mut out = bo::GlJournal::new(date, year, u8::from(date.month()), lines);
    out.reference = Some(journal.reference.clone());
    out.notation = Some(journal.notation.clone());
    out
}

fn syspro_address(a: &Address) -> bo::Address {
    let mut lines: Vec<String> = a.company.iter().chain(a.street.iter()).cloned().collect();
    lines.push(a.city.clone());
    if let Some(region) = &a.region {
        lines.push(region.clone());
    }
    lines.push(a.country_id.clone());
    lines.retain(|l| !l.trim().is_empty());
    lines.truncate(5);
    bo::Address {
        lines,
        postal_code: Some(a.postcode.clone()).filter(|p| !p.trim().is_empty()),
    }
}

/// The ARSSCS record of a customer to create.
pub fn customer_record(new: &NewCustomer) -> bo::CustomerRecord {
    let mut record = bo::CustomerRecord::new(new.code.clone());
    let name = if new.name.trim().is_empty() {
        new.email.clone()
    } else {
        new.name.clone()
    };
    record.short_name = Some(name.chars().take(20).collect());
    record.name = Some(name.chars().take(50).collect());
    record.email = Some(new.email.clone()).filter(|e| !e.is_empty());
    record.branch = Some(new.branch.clone());
    record.terms_code = new.terms_code.clone();
    record.customer_class = new.customer_class.clone();
    record.currency = Some(new.currency.clone());
    record.salesperson = new.salesperson.clone();
    record.area = new.area.clone();
    record.sold_to = new.sold_to.as_ref().map(syspro_address);
    record.ship_to = new.ship_to.as_ref().map(syspro_address);
    // The first telephone of the billing, then the shipping address.
    record.telephone = [&new.sold_to, &new.ship_to]
        .into_iter()
        .flatten()
        .find_map(|a| {
            a.telephone
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
        });
    record
}

/// `updated_at` of a Commerce document, required for change tracking.
pub(crate) fn updated_at_of(
    kind: &'static str,
    id: u64,
    updated_at: Option<OffsetDateTime>,
    created_at: Option<OffsetDateTime>,
) -> Result<OffsetDateTime, ConversionError> {
    updated_at
        .or(created_at)
        .ok_or_else(|| missing(kind, id, "updated_at"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::mapping::money_lines;

    fn connection() -> ConnectionConfig {
        Config::from_toml_str(
            include_str!("../../examples/ml-connector.example.toml"),
            "example",
        )
        .expect("example configuration")
        .connections
        .remove(0)
    }

    fn dec(text: &str) -> Decimal {
        text.parse().expect("decimal")
    }

    fn order() -> Order {
        serde_json::from_value(json!({
            "entity_id": 7, "increment_id": "000000007", "store_id": 1,
            "order_currency_code": "USD",
            "created_at": "2026-03-01 10:00:00", "updated_at": "2026-03-01 10:05:00",
            "customer_id": 42, "customer_is_guest": 0, "customer_email": "ann@example.com",
            "customer_firstname": "Ann", "customer_lastname": "Lee",
            "grand_total": 119.99, "tax_amount": 8.25, "shipping_amount": 5,
            "shipping_tax_amount": 0.41, "shipping_discount_amount": 0, "discount_amount": -10,
            "items": [
                {"item_id": 1, "product_type": "configurable", "sku": "TS-RED-M", "qty_ordered": 1,
                 "price": 50, "row_total": 50, "tax_amount": 4.13, "discount_amount": 5},
                {"item_id": 2, "parent_item_id": 1, "product_type": "simple", "sku": "TS-RED-M",
                 "qty_ordered": 1, "price": 0, "row_total": 0},
                {"item_id": 3, "product_type": "bundle", "sku": "KIT", "qty_ordered": 1,
                 "price": 66.65, "row_total": 66.65, "tax_amount": 3.71, "discount_amount": 5},
                {"item_id": 4, "parent_item_id": 3, "product_type": "simple", "sku": "KIT-A",
                 "qty_ordered": 1, "price": 40, "row_total": 40, "tax_amount": 2.0, "discount_amount": 3},
                {"item_id": 5, "parent_item_id": 3, "product_type": "simple", "sku": "KIT-B",
                 "qty_ordered": 1, "price": 26.65, "row_total": 26.65, "tax_amount": 1.71, "discount_amount": 2}
            ]
        }))
        .expect("order JSON")
    }

    #[test]
    fn order_amounts_are_exact_and_each_product_counts_once() {
        let doc = order_document(&connection(), &order()).expect("converts");
        assert_eq!(doc.store_code, "default");
        assert_eq!(doc.grand_total, dec("119.99"));
        assert_eq!(doc.discount_total, dec("10"), "discounts are magnitudes");
        assert_eq!(doc.customer.id, Some(42));
        assert_eq!(doc.customer.name, "Ann Lee");
        // The dynamic bundle repeats its kit total on the parent line; Commerce's line role puts
        // the money on the children, so the parent keeps its place with zero amounts.
        let kit = doc.lines.iter().find(|l| l.item_id == 3).unwrap();
        assert!(!kit.carries_money());
        let ids: Vec<u64> = money_lines(&doc)
            .unwrap()
            .iter()
            .map(|l| l.item_id)
            .collect();
        assert_eq!(ids, [1, 4, 5]);
        let revenue: Decimal = doc.lines.iter().map(|l| l.row_total).sum();
        assert_eq!(revenue, dec("116.65"));
    }

    /// The engine stores orders and invoices as text rendered straight from the typed documents:
    /// it must be the text (and so the fingerprint) their values gave, or every document stored
    /// before would read as a new version.
    #[test]
    fn rendered_payloads_are_the_text_of_their_values() {
        use crate::state::{Fingerprint, Payload};
        let order = order();
        let invoice: Invoice = serde_json::from_str(include_str!(
            "../../../adobe-commerce-client/tests/fixtures/resources/invoice.json"
        ))
        .expect("an invoice");
        let at = time::macros::datetime!(2026-03-01 10:00 UTC);
        for (rendered, value) in [
            (Payload::rendered(&order), order_payload(&order)),
            (
                Payload::rendered(&InvoiceRecord {
                    invoice: &invoice,
                    order: &order,
                }),
                json!({ "invoice": invoice, "order": order }),
            ),
        ] {
            assert_eq!(rendered.json_text(), serde_json::to_string(&value).unwrap());
            assert_eq!(
                Fingerprint::of_rendered("1", at, rendered.json_text()),
                Fingerprint::of_document("1", at, &value)
            );
        }
    }

    /// The content hashes of the fixtures as releases before the text was rendered straight from
    /// the typed documents stored them. A change in how a field is written (a decimal, a
    /// timestamp) changes every order's hash, and every stored order would read as a new version.
    #[test]
    fn fingerprints_are_those_earlier_releases_stored() {
        use crate::state::{Fingerprint, Payload};
        let at = time::macros::datetime!(2026-03-01 10:00 UTC);
        let fixture = |name: &str| {
            std::fs::read_to_string(format!(
                "{}/../adobe-commerce-client/tests/fixtures/resources/{name}",
                env!("CARGO_MANIFEST_DIR")
            ))
            .expect("fixture")
        };
        let hash =
            |payload: Payload| Fingerprint::of_rendered("1", at, payload.json_text()).content_hash;
        let mut hashes = Vec::new();
        for name in [
            "order_configurable_bundle.json",
            "order_guest.json",
            "order_nulls.json",
        ] {
            let order: Order = serde_json::from_str(&fixture(name)).expect("an order");
            hashes.push(hash(Payload::rendered(&order)));
        }
        let invoice: Invoice = serde_json::from_str(&fixture("invoice.json")).expect("an invoice");
        let order: Order =
            serde_json::from_str(&fixture("order_configurable_bundle.json")).expect("an order");
        hashes.push(hash(Payload::rendered(&InvoiceRecord {
            invoice: &invoice,
            order: &order,
        })));
        // What the fingerprints of invoices and credit memos cover: the document alone.
        hashes.push(hash(Payload::rendered(&invoice)));
        let memo: adobe_commerce_client::models::CreditMemo =
            serde_json::from_str(&fixture("credit_memo.json")).expect("a credit memo");
        hashes.push(hash(Payload::rendered(&memo)));
        assert_eq!(
            hashes,
            [
                "7ca60db4493246c59d54f643c357796efd8bf5697a9974729604f19d96bb1b7d",
                "7e3f7b5a253a121cc0c6a67094a77d4600cc9c472ee6dd086b87a90c69f14ae1",
                "ac420f3f231192bd6d97a9738c72f4f5ce75a14fef285d26184797998219d84b",
                "7fb06b9546e2b131f26aacc5b2de34419480d74a2da088400b9997f375ea47d5",
                "0600715edfc4de1a085bdde8a91aee9c5fd5dc749f2456347ab65dfd2a3a01dd",
                "414ceaf63e706d78bdc809f5a740b986144978cc6c1ca08859c6d640c91f19c4",
            ]
        );
    }

    #[test]
    fn payloads_round_trip_and_foreign_stores_are_refused() {
        let order = order();
        let back = order_from_payload(&order_payload(&order).into()).expect("round trip");
        assert_eq!(
            order_document(&connection(), &back).unwrap(),
            order_document(&connection(), &order).unwrap()
        );
        let mut elsewhere = order;
        elsewhere.store_id = Some(adobe_commerce_client::models::StoreId(99));
        assert!(matches!(
            order_document(&connection(), &elsewhere),
            Err(ConversionError::UnknownStore { store_id: 99, .. })
        ));
    }
}
