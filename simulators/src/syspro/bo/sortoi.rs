//! SORTOI: sales order import (Transaction/Post).
//!
//! `Process=Validate` returns every order with its errors and a final `<ValidationStatus>`;
//! `Process=Import` imports only when no order has an error. A clean import answers with
//! `<StatusOfItems>` alone (no `<Order>` block, hence no order number), as SYSPRO 8 does; an
//! import with warnings returns `<Order>` blocks; a rejected order has an empty `<SalesOrder/>`.

use rust_decimal::Decimal;

use super::super::enet::CallInput;
use super::super::state::{SalesOrder, SalesOrderLine, State};
use super::super::xml::{Node, XmlOut, counter};
use super::{FieldError, codes, date_field, parse_number, read_doc, read_params};

const ROOT: &str = "SalesOrders";

struct Checked {
    po_number: String,
    action: String,
    header_errors: Vec<FieldError>,
    line_errors: Vec<(String, FieldError)>,
    warnings: Vec<String>,
    order: Option<SalesOrder>,
}

fn param(params: &Option<Node>, name: &str, default: &str) -> String {
    params
        .as_ref()
        .and_then(|p| p.text_of(name))
        .filter(|t| !t.is_empty())
        .unwrap_or(default)
        .to_ascii_uppercase()
}

fn too_long(errors: &mut Vec<FieldError>, node: &Node, field: &str, max: usize) {
    let value = node.field(field);
    if value.chars().count() > max {
        errors.push(FieldError::new(
            field,
            value,
            codes::TOO_LONG,
            format!("{field} is longer than {max} characters"),
        ));
    }
}

pub(super) fn post(st: &mut State, input: &CallInput) -> Result<Vec<u8>, String> {
    let params = read_params(&input.parameters, ROOT)?;
    let doc = read_doc(&input.xml_in, ROOT, "XmlIn")?;
    let process = param(&params, "Process", "IMPORT");
    let validate = match process.as_str() {
        "VALIDATE" => true,
        "IMPORT" => false,
        other => {
            return Err(format!(
                "Process '{other}' is invalid; expected Validate or Import"
            ));
        }
    };
    let allow_duplicates = param(&params, "AllowDuplicateOrderNumbers", "N");
    let check_po = param(&params, "CheckForCustomerPoNumbers", "Y");

    let mut checked = Vec::new();
    let mut next_number = st.ledger.next_sales_order;
    let mut pos_in_document: Vec<(String, String)> = Vec::new();
    for orders in doc.children_named("Orders") {
        let header = orders.child("OrderHeader").cloned().unwrap_or_default();
        let mut header_errors = Vec::new();
        let mut warnings = Vec::new();
        let po_number = header.field("CustomerPoNumber").to_owned();
        let action = header
            .text_of("OrderActionType")
            .filter(|a| !a.is_empty())
            .unwrap_or("A")
            .to_ascii_uppercase();
        if action != "A" {
            header_errors.push(FieldError::new(
                "OrderActionType",
                &action,
                codes::ACTION_NOT_SUPPORTED,
                format!("Order action type '{action}' is not available; only A (add) is"),
            ));
        }
        let customer_code = header.field("Customer").to_owned();
        let customer = st.ledger.customers.get(&customer_code).cloned();
        if customer.is_none() {
            header_errors.push(FieldError::new(
                "Customer",
                &customer_code,
                codes::CUSTOMER_NOT_FOUND,
                format!("Customer '{customer_code}' not found"),
            ));
        }
        if po_number.is_empty() && check_po == "Y" {
            header_errors.push(FieldError::new(
                "CustomerPoNumber",
                "",
                codes::REQUIRED,
                "Customer purchase order number is required".to_owned(),
            ));
        }
        too_long(&mut header_errors, &header, "CustomerPoNumber", 30);
        for n in 1..=5 {
            too_long(&mut header_errors, &header, &format!("ShipAddress{n}"), 40);
        }
        too_long(&mut header_errors, &header, "ShipPostalCode", 15);
        too_long(&mut header_errors, &header, "Email", 255);
        too_long(&mut header_errors, &header, "ShippingInstrs", 50);
        if !po_number.is_empty() {
            let exists = st
                .ledger
                .sales_orders
                .values()
                .any(|o| o.customer == customer_code && o.customer_po_number == po_number)
                || pos_in_document.contains(&(customer_code.clone(), po_number.clone()));
            if exists {
                let text = format!(
                    "Customer purchase order number '{po_number}' already exists for customer '{customer_code}'"
                );
                if allow_duplicates == "Y" || allow_duplicates == "A" {
                    warnings.push(text);
                } else {
                    header_errors.push(FieldError::new(
                        "CustomerPoNumber",
                        &po_number,
                        codes::PO_NUMBER_EXISTS,
                        text,
                    ));
                }
            }
            pos_in_document.push((customer_code.clone(), po_number.clone()));
        }
        let order_date = date_field(&header, "OrderDate", st.company_date)
            .map_err(|e| header_errors.push(e))
            .unwrap_or(st.company_date);

        let mut line_errors = Vec::new();
        let mut lines = Vec::new();
        let details = orders.child("OrderDetails").cloned().unwrap_or_default();
        for (n, line) in details.children_named("StockLine").enumerate() {
            let po_line = line
                .text_of("CustomerPoLine")
                .filter(|l| !l.is_empty())
                .map_or_else(|| (n + 1).to_string(), str::to_owned);
            let mut push = |e: FieldError| line_errors.push((po_line.clone(), e));
            let stock_code = line.field("StockCode");
            if stock_code.is_empty() {
                push(FieldError::new(
                    "StockCode",
                    "",
                    codes::REQUIRED,
                    "Stock code is required".to_owned(),
                ));
            }
            let qty_text = line.field("OrderQty");
            let qty = parse_number(qty_text, 12, 6).filter(|q| *q > Decimal::ZERO);
            if qty.is_none() {
                push(FieldError::new(
                    "OrderQty",
                    qty_text,
                    codes::NOT_NUMERIC,
                    format!("Order quantity '{qty_text}' must be a positive number"),
                ));
            }
            if line.field("OrderUom").is_empty() {
                push(FieldError::new(
                    "OrderUom",
                    "",
                    codes::REQUIRED,
                    "Order unit of measure is required".to_owned(),
                ));
            }
            let price_text = line.field("Price");
            let price = if price_text.is_empty() {
                Some(Decimal::ZERO)
            } else {
                if line.field("PriceUom").is_empty() {
                    push(FieldError::new(
                        "PriceUom",
                        "",
                        codes::REQUIRED,
                        "Price unit of measure is required when a price is given".to_owned(),
                    ));
                }
                parse_number(price_text, 10, 5)
            };
            if price.is_none() {
                push(FieldError::new(
                    "Price",
                    price_text,
                    codes::NOT_NUMERIC,
                    format!("Price '{price_text}' is not numeric"),
                ));
            }
            lines.push(SalesOrderLine {
                customer_po_line: po_line.parse().unwrap_or(n as u32 + 1),
                stock_code: stock_code.to_owned(),
                warehouse: line.field("Warehouse").to_owned(),
                order_qty: qty.unwrap_or_default(),
                order_uom: line.field("OrderUom").to_owned(),
                price: price.unwrap_or_default(),
            });
        }
        if lines.is_empty() {
            header_errors.push(FieldError::new(
                "OrderDetails",
                "",
                codes::REQUIRED,
                "Order has no stock lines".to_owned(),
            ));
        }
        let freight = details
            .children_named("FreightLine")
            .filter_map(|f| parse_number(f.field("FreightValue"), 12, 2))
            .sum::<Decimal>();
        let misc_charges: Vec<(String, Decimal)> = details
            .children_named("MiscChargeLine")
            .filter_map(|m| {
                parse_number(m.field("MiscChargeValue"), 12, 2)
                    .map(|v| (m.field("MiscProductClass").to_owned(), v))
            })
            .collect();
        let ship_address: Vec<String> = (1..=5)
            .map(|n| header.field(&format!("ShipAddress{n}")).to_owned())
            .filter(|l| !l.is_empty())
            .collect();
        let order = match (
            &customer,
            header_errors.is_empty() && line_errors.is_empty(),
        ) {
            (Some(c), true) => {
                next_number += 1;
                Some(SalesOrder {
                    sales_order: format!("{next_number:06}"),
                    customer: customer_code.clone(),
                    customer_name: header
                        .text_of("CustomerName")
                        .filter(|n| !n.is_empty())
                        .unwrap_or(&c.name)
                        .to_owned(),
                    customer_po_number: po_number.clone(),
                    order_date,
                    order_status: "1".to_owned(),
                    branch: c.branch.clone(),
                    email: header.field("Email").to_owned(),
                    ship_address,
                    ship_postal_code: header.field("ShipPostalCode").to_owned(),
                    freight_value: freight,
                    misc_charges,
                    lines,
                })
            }
            _ => None,
        };
        checked.push(Checked {
            po_number,
            action,
            header_errors,
            line_errors,
            warnings,
            order,
        });
    }

    let failed = checked
        .iter()
        .any(|c| !c.header_errors.is_empty() || !c.line_errors.is_empty());
    let import = !validate && !failed;
    let mut out = XmlOut::with_root("SalesOrders");
    let mut processed = 0;
    let mut with_warnings = 0;
    for c in checked.iter_mut() {
        let ok = c.order.is_some();
        let show = validate || !import || !c.warnings.is_empty();
        if show {
            out.open("Order").leaf("CustomerPoNumber", &c.po_number);
            let number = match (&c.order, import) {
                (Some(o), true) => o.sales_order.clone(),
                _ => String::new(),
            };
            out.leaf("SalesOrder", &number)
                .leaf("OrderActionType", &c.action);
            for e in &c.header_errors {
                e.write(&mut out);
            }
            for (line, e) in &c.line_errors {
                out.open("StockLine").leaf("CustomerPoLine", line);
                e.write(&mut out);
                out.close();
            }
            if !c.warnings.is_empty() {
                out.open("WarningMessages");
                for w in &c.warnings {
                    out.leaf("WarningDescription", w);
                }
                out.close();
            }
            out.close();
        }
        if import && ok {
            processed += 1;
            if !c.warnings.is_empty() {
                with_warnings += 1;
            }
            if let Some(order) = c.order.take() {
                st.ledger.next_sales_order = st
                    .ledger
                    .next_sales_order
                    .max(order.sales_order.parse::<u64>().unwrap_or(0));
                st.ledger
                    .sales_orders
                    .insert(order.sales_order.clone(), order);
            }
        }
    }
    out.open("StatusOfItems")
        .leaf("ItemsProcessed", &counter(processed))
        .leaf("ItemsRejectedWithWarnings", &counter(0))
        .leaf("ItemsProcessedWithWarnings", &counter(with_warnings))
        .close();
    if validate {
        out.open("ValidationStatus")
            .leaf("Status", if failed { "Failed" } else { "Successful" })
            .close();
    }
    Ok(out.finish())
}
