//! The `sales_order` target: a Commerce invoice or order as one SORTOI sales order.
//!
//! # What is sent
//!
//! * The header: the customer (found exactly as for AR invoices, guests on the store's cash
//!   customer), `CustomerPoNumber` = the document's number from `invoice.number_template` (SORTOI
//!   allows 30 characters), the document's UTC date, the store's branch, the buyer's email, the
//!   buyer's name for guest orders, and the ship-to address.
//! * One stock line per priced item, by the same rule as the AR mapping ([`super::money_lines`]:
//!   a configurable product's parent, a dynamic bundle's children, a fixed bundle's parent), at
//!   Commerce's row total net of the row discount: the line's unit price is that amount divided by
//!   the quantity, at SORTOI's five decimals, and must give the amount back to the cent. An item
//!   whose whole family carries no amount at all (a free gift) is a line at price zero, so it is
//!   shipped too.
//! * The shipping charge net of its discount, as a freight line or a miscellaneous charge line.
//!
//! # What is not sent
//!
//! Tax: SORTOI has no field for tax amounts; SYSPRO computes the order's tax from its own tax
//! codes. The plan keeps Commerce's tax and the rounding difference beside the order value, and the
//! checks on totals are those of the AR mapping: header tax and discount against the lines, and the
//! grand total against value plus tax within `rounding_tolerance`.
//!
//! # Field widths
//!
//! Nothing is cut: a value longer than its SORTOI field is a mapping error naming the field, since
//! a cut street or postcode would ship to the wrong place. The address is laid out as company,
//! street lines, "city, region" (city and region on lines of their own when together they are too
//! long), country; more than five lines is an error too.

use rust_decimal::{Decimal, RoundingStrategy};
use syspro_client::bo::SalesOrder as Sortoi;

use super::customer::customer_action;
use super::default::{Keys, checked_store, customer_code, non_negative, template_error};
use super::{MappingContext, MappingError, money_lines};
use crate::config::{FreightHandling, INVOICE_NUMBER_PLACEHOLDERS, MappingConfig};
use crate::plan::{
    Address, ArInvoiceItem, ArTransactionType, FreightCharge, PostingPlan, SalesOrderLinePlan,
    SalesOrderPlan, ShipTo, SourceDocument, SourceLine, SourceRef, to_cents,
};

/// SORTOI's `Price` is `10.5`.
const PRICE_SCALE: u32 = 5;
/// SORTOI's `OrderQty` is `12.6`.
const QUANTITY_SCALE: u32 = 6;
/// `CustomerName` is not given a width by the documents; 50 is the width of SYSPRO's customer name
/// (inferred), so a longer name is refused rather than cut by SYSPRO.
const CUSTOMER_NAME_MAX_LEN: usize = 50;

/// Plans the sales order of an invoice or order.
pub(super) fn plan_sales_order(
    m: &MappingConfig,
    doc: &SourceDocument,
    ctx: &MappingContext<'_>,
) -> Result<PostingPlan, MappingError> {
    let store = checked_store(m, doc, ctx)?;
    let customer = customer_action(m, store, doc, ctx)?;

    let keys = Keys {
        doc,
        store,
        invoice: None,
    };
    let template = &m.invoice.number_template;
    let po_number = template
        .render(INVOICE_NUMBER_PLACEHOLDERS, |n| keys.value(n))
        .map_err(template_error("mapping.invoice.number_template"))?;
    let length = po_number.chars().count();
    if length > Sortoi::CUSTOMER_PO_NUMBER_MAX_LEN || po_number.trim().is_empty() {
        return Err(MappingError::CustomerPoNumberTooLong {
            template: template.as_str().to_owned(),
            number: po_number,
            length,
            max: Sortoi::CUSTOMER_PO_NUMBER_MAX_LEN,
        });
    }

    let so = &m.sales_orders;
    let warehouse = store.warehouse.clone().or_else(|| so.warehouse.clone());
    let mut lines = Vec::new();
    let mut line_tax = Decimal::ZERO;
    let mut line_discount = Decimal::ZERO;
    for line in order_lines(doc)? {
        let at = format!("line {}", line.item_id);
        let row_total = non_negative("row_total", &at, line.row_total)?;
        let discount = non_negative("row_discount", &at, line.row_discount)?;
        line_tax += non_negative("row_tax", &at, line.row_tax)?;
        line_discount += discount;
        let value = non_negative("row_total less row_discount", &at, row_total - discount)?;
        let stock_code = so
            .stock_code(&line.sku)
            .filter(|_| !line.sku.trim().is_empty())
            .ok_or_else(|| MappingError::NoStockCode {
                sku: line.sku.clone(),
                item_id: line.item_id,
                name: line.name.clone(),
            })?;
        let quantity = line.qty.normalize();
        if quantity <= Decimal::ZERO || quantity.scale() > QUANTITY_SCALE {
            return Err(MappingError::InvalidQuantity {
                item_id: line.item_id,
                sku: line.sku.clone(),
                quantity: line.qty,
            });
        }
        let price = unit_price(value, quantity).ok_or_else(|| MappingError::PriceNotExact {
            item_id: line.item_id,
            sku: line.sku.clone(),
            quantity,
            value,
        })?;
        lines.push(SalesOrderLinePlan {
            customer_po_line: 0,
            item_id: line.item_id,
            sku: line.sku.clone(),
            stock_code,
            description: line.name.clone(),
            warehouse: warehouse.clone(),
            quantity,
            unit_of_measure: so.unit_of_measure.clone(),
            price,
            value,
            discount,
        });
    }
    if lines.is_empty() {
        return Err(MappingError::EmptySalesOrder);
    }
    let shipping = non_negative("shipping_amount", "shipping", doc.shipping_amount)?;
    let shipping_discount = non_negative("shipping_discount", "shipping", doc.shipping_discount)?;
    let shipping_tax = non_negative("shipping_tax", "shipping", doc.shipping_tax)?;
    let freight_value = non_negative(
        "shipping_amount less shipping_discount",
        "shipping",
        shipping - shipping_discount,
    )?;
    let needed = lines.len() + usize::from(!freight_value.is_zero());
    if needed > usize::from(Sortoi::MAX_LINES) {
        return Err(MappingError::TooManyOrderLines {
            lines: needed,
            max: usize::from(Sortoi::MAX_LINES),
        });
    }
    let mut number: u16 = 0;
    let mut next_number = || {
        number += 1;
        number
    };
    for line in &mut lines {
        line.customer_po_line = next_number();
    }
    let freight = (!freight_value.is_zero()).then(|| match so.freight {
        FreightHandling::FreightLine => FreightCharge::Freight {
            customer_po_line: next_number(),
            value: freight_value,
        },
        FreightHandling::MiscCharge => FreightCharge::MiscCharge {
            customer_po_line: next_number(),
            value: freight_value,
            product_class: so.freight_product_class.clone().unwrap_or_default(),
            description: "Shipping".to_owned(),
        },
    });

    // The checks on totals, as for AR invoices.
    let tolerance = m.rounding_tolerance;
    let tax = line_tax + shipping_tax;
    let discount = line_discount + shipping_discount;
    for (total, header, parts) in [
        ("tax", to_cents(doc.tax_total), tax),
        ("discount", to_cents(doc.discount_total.abs()), discount),
    ] {
        if (header - parts).abs() > tolerance {
            return Err(MappingError::TotalsDisagree {
                total,
                header,
                lines: parts,
                tolerance,
            });
        }
    }
    let grand_total = to_cents(doc.grand_total);
    if grand_total.is_sign_negative() && !grand_total.is_zero() {
        return Err(MappingError::NegativeInvoiceValue { grand_total });
    }
    let value: Decimal = lines.iter().map(|l| l.value).sum::<Decimal>() + freight_value;
    let difference = grand_total - (value + tax);
    if difference.abs() > tolerance {
        return Err(MappingError::RoundingOverTolerance {
            grand_total,
            parts: value + tax,
            difference,
            tolerance,
        });
    }

    let c = &doc.customer;
    let customer_name = if c.is_guest {
        let name = c.name.trim();
        check_width(
            "CustomerName",
            "the buyer's name",
            name,
            CUSTOMER_NAME_MAX_LEN,
        )?;
        (!name.is_empty()).then(|| name.to_owned())
    } else {
        None
    };
    let email = c.email.trim();
    check_width("Email", "the buyer's email", email, Sortoi::EMAIL_MAX_LEN)?;
    let ship_to = c.shipping_address.as_ref().map(ship_to).transpose()?;
    let code = customer_code(&customer);
    let sales_order = SalesOrderPlan {
        customer_po_number: po_number.clone(),
        customer: code.clone(),
        order_date: doc.created_at.date(),
        customer_name,
        ship_to,
        email: (!email.is_empty()).then(|| email.to_owned()),
        branch: store.branch.clone(),
        currency: doc.currency.clone(),
        lines,
        freight,
        commerce_tax: tax,
    };
    let ar_invoice = ArInvoiceItem {
        transaction_type: ArTransactionType::Invoice,
        customer: code,
        invoice: po_number,
        invoice_date: doc.created_at.date(),
        reference: doc.increment_id.clone(),
        invoice_value: grand_total,
        tax_value: tax,
        product_class: store
            .product_class
            .clone()
            .unwrap_or_else(|| m.clearing_product_class.clone()),
        branch: store.branch.clone(),
        invoice_terms: store.invoice_terms.clone(),
        currency: doc.currency.clone(),
    };
    Ok(PostingPlan {
        source: SourceRef {
            kind: doc.kind,
            entity_id: doc.entity_id,
            increment_id: doc.increment_id.clone(),
            store_code: doc.store_code.clone(),
        },
        customer,
        ar_invoice,
        journal: None,
        allocations: Vec::new(),
        rounding: difference,
        sales_order: Some(sales_order),
    })
}

/// The lines that become stock lines, in document order: the money lines, plus each top-level item
/// whose family carries no amount at all.
fn order_lines(doc: &SourceDocument) -> Result<Vec<&SourceLine>, MappingError> {
    let priced: Vec<u64> = money_lines(doc)?.iter().map(|l| l.item_id).collect();
    let parent_of = |line: &SourceLine| {
        line.parent_item_id
            .filter(|p| *p != line.item_id)
            .and_then(|p| doc.lines.iter().find(|l| l.item_id == p))
    };
    // Every line that is, or is an ancestor of, a priced line belongs to a priced family.
    let mut in_priced_family: Vec<u64> = Vec::new();
    for line in doc.lines.iter().filter(|l| priced.contains(&l.item_id)) {
        let mut at = Some(line);
        // `money_lines` has refused cycles, so the walk ends; the bound is a second guard.
        for _ in 0..=doc.lines.len() {
            let Some(current) = at else { break };
            in_priced_family.push(current.item_id);
            at = parent_of(current);
        }
    }
    Ok(doc
        .lines
        .iter()
        .filter(|l| {
            priced.contains(&l.item_id)
                || (parent_of(l).is_none() && !in_priced_family.contains(&l.item_id))
        })
        .collect())
}

/// The unit price (at most five decimals) that gives `value` for `quantity` to the cent, as SYSPRO
/// extends a line (quantity times price, rounded to cents; inferred).
fn unit_price(value: Decimal, quantity: Decimal) -> Option<Decimal> {
    let price = value
        .checked_div(quantity)?
        .round_dp_with_strategy(PRICE_SCALE, RoundingStrategy::MidpointAwayFromZero)
        .normalize();
    (to_cents(price.checked_mul(quantity)?) == value).then_some(price)
}

fn check_width(field: &str, what: &str, value: &str, max: usize) -> Result<(), MappingError> {
    let length = value.chars().count();
    if length > max {
        return Err(MappingError::SalesOrderFieldTooLong {
            field: field.to_owned(),
            what: what.to_owned(),
            value: value.to_owned(),
            length,
            max,
        });
    }
    Ok(())
}

/// The ship-to lines of an address; see the module documentation for the layout.
fn ship_to(address: &Address) -> Result<ShipTo, MappingError> {
    let mut parts: Vec<(String, String)> = Vec::new();
    let mut push = |what: String, text: &str| {
        let text = text.trim();
        if !text.is_empty() {
            parts.push((what, text.to_owned()));
        }
    };
    if let Some(company) = &address.company {
        push("shipping address company".to_owned(), company);
    }
    for (n, street) in address.street.iter().enumerate() {
        push(
            format!("shipping address street line {}", n + 1),
            street.as_str(),
        );
    }
    let city = address.city.trim();
    let region = address.region.as_deref().map(str::trim).unwrap_or_default();
    let locality = [city, region]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    if locality.chars().count() <= Sortoi::SHIP_ADDRESS_MAX_LEN {
        push("shipping address city and region".to_owned(), &locality);
    } else {
        push("shipping address city".to_owned(), city);
        push("shipping address region".to_owned(), region);
    }
    push(
        "shipping address country".to_owned(),
        address.country_id.as_str(),
    );
    if parts.len() > Sortoi::SHIP_ADDRESS_LINES {
        return Err(MappingError::ShipAddressTooLong {
            needed: parts.len(),
            lines: parts
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
            max: Sortoi::SHIP_ADDRESS_LINES,
        });
    }
    for (n, (what, text)) in parts.iter().enumerate() {
        check_width(
            &format!("ShipAddress{}", n + 1),
            what,
            text,
            Sortoi::SHIP_ADDRESS_MAX_LEN,
        )?;
    }
    let postcode = address.postcode.trim();
    check_width(
        "ShipPostalCode",
        "the shipping postcode",
        postcode,
        Sortoi::SHIP_POSTAL_CODE_MAX_LEN,
    )?;
    Ok(ShipTo {
        lines: parts.into_iter().map(|(_, t)| t).collect(),
        postal_code: (!postcode.is_empty()).then(|| postcode.to_owned()),
    })
}
