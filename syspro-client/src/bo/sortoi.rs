//! SORTOI: import sales orders (Transaction/Post), for sites that fulfil from SYSPRO.

use std::collections::HashSet;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::Date;

use super::output::{FieldError, Messages, StatusOfItems};
use super::xml::{
    XmlOut, check_date, check_len, check_money, check_opt_len, check_opt_money, check_scale, parse,
    require_text,
};
use super::{CUSTOMER_MAX_LEN, IgnoreWarnings, ccyy_mm_dd};
use crate::client::SysproClient;
use crate::error::Error;

/// Business object name sent as `BusinessObject`.
pub const SORTOI: &str = "SORTOI";

const CUSTOMER_PO_MAX_LEN: usize = 30;
const SHIP_ADDRESS_MAX_LEN: usize = 40;
const SHIP_ADDRESS_LINES: usize = 5;
const SHIP_POSTAL_CODE_MAX_LEN: usize = 15;
const EMAIL_MAX_LEN: usize = 255;
const SHIPPING_INSTRS_MAX_LEN: usize = 50;
const SALES_ORDER_MAX_LEN: usize = 20;
const WAREHOUSE_MAX_LEN: usize = 10;
const STOCK_TAX_CODE_MAX_LEN: usize = 3;
/// `OrderQty` is `12.6`: six decimals.
const QUANTITY_SCALE: u32 = 6;
/// `Price` is `10.5`: five decimals.
const PRICE_SCALE: u32 = 5;

/// `Process`: SORTOI's only dry-run switch (it has no `ValidateOnly`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SalesOrderProcess {
    /// `Validate`: check only; the output ends with `<ValidationStatus>`.
    #[serde(alias = "validate")]
    Validate,
    /// `Import`: validate and import only if there are no errors.
    #[default]
    #[serde(alias = "import")]
    Import,
}

/// `AllocationAction`: what to do when stock is short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllocationAction {
    /// `F`: allocate only if the full quantity is available (SYSPRO's default).
    #[serde(rename = "F")]
    FullOnly,
    /// `B`: back-order the whole line.
    #[serde(rename = "B")]
    BackOrder,
    /// `A`: allocate what is available and back-order the rest.
    #[serde(rename = "A")]
    AvailableThenBackOrder,
}

impl AllocationAction {
    fn code(self) -> &'static str {
        match self {
            Self::FullOnly => "F",
            Self::BackOrder => "B",
            Self::AvailableThenBackOrder => "A",
        }
    }
}

/// `AllowDuplicateOrderNumbers`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DuplicateOrderNumbers {
    /// `N`: a customer PO number already on file for the customer rejects the order. This is
    /// what makes re-sending an order safe.
    #[default]
    #[serde(rename = "N")]
    Reject,
    /// `Y`: allowed when SYSPRO's own setup allows duplicates.
    #[serde(rename = "Y")]
    Allow,
    /// `A`: bypasses every duplicate check, including SYSPRO's setup option.
    #[serde(rename = "A")]
    Always,
}

/// `CheckForCustomerPoNumbers`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerPoCheck {
    /// `Y`: a customer PO number is mandatory.
    #[default]
    #[serde(rename = "Y")]
    Mandatory,
    /// `N`: optional.
    #[serde(rename = "N")]
    Optional,
    /// `C`: as set on the customer.
    #[serde(rename = "C")]
    PerCustomer,
}

/// SORTOI parameters (`<SalesOrders><Parameters>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SalesOrderImportParameters {
    /// `Process`.
    pub process: SalesOrderProcess,
    /// `IgnoreWarnings` (`N`, `Y`, `W`). Defaults to `W`: warnings such as a back-ordered line
    /// come back as warnings without stopping the order.
    pub ignore_warnings: IgnoreWarnings,
    /// `AllocationAction`; SYSPRO's default when `None`.
    pub allocation_action: Option<AllocationAction>,
    /// `AlwaysUsePriceEntered`.
    pub always_use_price_entered: Option<bool>,
    /// `AllowZeroPrice`.
    pub allow_zero_price: Option<bool>,
    /// `AcceptOrdersIfNoCredit`.
    pub accept_orders_if_no_credit: Option<bool>,
    /// `AllowDuplicateOrderNumbers`.
    pub allow_duplicate_order_numbers: DuplicateOrderNumbers,
    /// `CheckForCustomerPoNumbers`.
    pub check_for_customer_po_numbers: CustomerPoCheck,
    /// `AllowManualOrderNumberToBeUsed`: lets [`SalesOrder::sales_order`] choose the number.
    pub allow_manual_order_number: Option<bool>,
}

impl Default for SalesOrderImportParameters {
    fn default() -> Self {
        Self {
            process: SalesOrderProcess::Import,
            ignore_warnings: IgnoreWarnings::AsWarnings,
            allocation_action: None,
            always_use_price_entered: None,
            allow_zero_price: None,
            accept_orders_if_no_credit: None,
            allow_duplicate_order_numbers: DuplicateOrderNumbers::Reject,
            check_for_customer_po_numbers: CustomerPoCheck::Mandatory,
            allow_manual_order_number: None,
        }
    }
}

/// A stocked line (`<StockLine>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StockLine {
    /// `CustomerPoLine`, 1 to 9999, unique in the order.
    pub customer_po_line: u16,
    /// `StockCode`.
    pub stock_code: String,
    /// `StockDescription`.
    #[serde(default)]
    pub description: Option<String>,
    /// `Warehouse`.
    #[serde(default)]
    pub warehouse: Option<String>,
    /// `OrderQty`, more than zero, up to six decimals.
    pub quantity: Decimal,
    /// `OrderUom` (mandatory).
    pub unit_of_measure: String,
    /// `Price`, up to five decimals.
    #[serde(default)]
    pub price: Option<Decimal>,
    /// `PriceUom` (mandatory with a price).
    #[serde(default)]
    pub price_unit_of_measure: Option<String>,
    /// `LineDiscPercent1`.
    #[serde(default)]
    pub discount_percent: Option<Decimal>,
    /// `StockTaxCode`: only honoured when SYSPRO's SO setup allows tax code changes.
    #[serde(default)]
    pub tax_code: Option<String>,
}

/// A freight charge (`<FreightLine>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreightLine {
    /// `CustomerPoLine`.
    pub customer_po_line: u16,
    /// `FreightValue`.
    pub value: Decimal,
    /// `FreightCost`.
    #[serde(default)]
    pub cost: Option<Decimal>,
}

/// A miscellaneous charge (`<MiscChargeLine>`). Child names follow SYSPRO's `Misc*` naming (inferred).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiscChargeLine {
    /// `CustomerPoLine`.
    pub customer_po_line: u16,
    /// `MiscChargeValue`.
    pub value: Decimal,
    /// `MiscChargeCost`.
    #[serde(default)]
    pub cost: Option<Decimal>,
    /// `MiscProductClass`.
    #[serde(default)]
    pub product_class: Option<String>,
    /// `MiscDescription`.
    #[serde(default)]
    pub description: Option<String>,
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SalesOrderLine {
    /// A stocked item.
    Stock(StockLine),
    /// Freight.
    Freight(FreightLine),
    /// A miscellaneous charge (e.g. a handling fee).
    Misc(MiscChargeLine),
}

impl SalesOrderLine {
    fn customer_po_line(&self) -> u16 {
        match self {
            Self::Stock(l) => l.customer_po_line,
            Self::Freight(l) => l.customer_po_line,
            Self::Misc(l) => l.customer_po_line,
        }
    }

    fn validate(&self, field: &dyn Fn(&str) -> String) -> Result<(), Error> {
        let po_line = self.customer_po_line();
        if !(1..=9999).contains(&po_line) {
            return Err(Error::InvalidInput {
                field: field("customer_po_line"),
                expected: format!("a line number from 1 to 9999 (got {po_line})"),
            });
        }
        match self {
            Self::Stock(line) => {
                require_text(&field("stock_code"), &line.stock_code, usize::MAX)?;
                check_opt_len(
                    &field("warehouse"),
                    line.warehouse.as_deref(),
                    WAREHOUSE_MAX_LEN,
                )?;
                if line.quantity <= Decimal::ZERO {
                    return Err(Error::InvalidInput {
                        field: field("quantity"),
                        expected: "a quantity above zero".into(),
                    });
                }
                check_scale(&field("quantity"), line.quantity, QUANTITY_SCALE)?;
                require_text(&field("unit_of_measure"), &line.unit_of_measure, usize::MAX)?;
                if let Some(price) = line.price {
                    if price.is_sign_negative() {
                        return Err(Error::InvalidInput {
                            field: field("price"),
                            expected: "a price of zero or more".into(),
                        });
                    }
                    check_scale(&field("price"), price, PRICE_SCALE)?;
                    match &line.price_unit_of_measure {
                        Some(uom) => {
                            require_text(&field("price_unit_of_measure"), uom, usize::MAX)?
                        }
                        None => {
                            return Err(Error::InvalidInput {
                                field: field("price_unit_of_measure"),
                                expected: "a price unit of measure when a price is given".into(),
                            });
                        }
                    }
                }
                if let Some(discount) = line.discount_percent {
                    check_scale(&field("discount_percent"), discount, 2)?;
                }
                check_opt_len(
                    &field("tax_code"),
                    line.tax_code.as_deref(),
                    STOCK_TAX_CODE_MAX_LEN,
                )?;
            }
            Self::Freight(line) => {
                check_money(&field("value"), line.value)?;
                check_opt_money(&field("cost"), line.cost)?;
            }
            Self::Misc(line) => {
                check_money(&field("value"), line.value)?;
                check_opt_money(&field("cost"), line.cost)?;
            }
        }
        Ok(())
    }

    fn write(&self, out: &mut XmlOut) {
        let po_line = format!("{:04}", self.customer_po_line());
        match self {
            Self::Stock(line) => {
                out.open("StockLine");
                out.text("CustomerPoLine", &po_line);
                out.text("LineActionType", "A");
                out.text("StockCode", &line.stock_code);
                out.opt_text("StockDescription", line.description.as_deref());
                out.opt_text("Warehouse", line.warehouse.as_deref());
                out.decimal("OrderQty", line.quantity);
                out.text("OrderUom", &line.unit_of_measure);
                if let Some(price) = line.price {
                    out.text("Price", &format_price(price));
                }
                out.opt_text("PriceUom", line.price_unit_of_measure.as_deref());
                out.opt_decimal("LineDiscPercent1", line.discount_percent);
                out.opt_text("StockTaxCode", line.tax_code.as_deref());
                out.close("StockLine");
            }
            Self::Freight(line) => {
                out.open("FreightLine");
                out.text("CustomerPoLine", &po_line);
                out.text("LineActionType", "A");
                out.money("FreightValue", line.value);
                out.opt_money("FreightCost", line.cost);
                out.close("FreightLine");
            }
            Self::Misc(line) => {
                out.open("MiscChargeLine");
                out.text("CustomerPoLine", &po_line);
                out.text("LineActionType", "A");
                out.money("MiscChargeValue", line.value);
                out.opt_money("MiscChargeCost", line.cost);
                out.opt_text("MiscProductClass", line.product_class.as_deref());
                out.opt_text("MiscDescription", line.description.as_deref());
                out.close("MiscChargeLine");
            }
        }
    }
}

/// Prices carry at least two decimals (`12.99`, `12.50`) and keep up to five when given.
fn format_price(price: Decimal) -> String {
    let mut price = price.normalize();
    if price.scale() < 2 {
        price.rescale(2);
    }
    price.to_string()
}

/// One order to add (`<Orders>`: `<OrderHeader>` plus `<OrderDetails>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesOrder {
    /// `CustomerPoNumber` (≤ 30): put the shop's order number here; with
    /// [`DuplicateOrderNumbers::Reject`] SYSPRO refuses a second import of the same order.
    pub customer_po_number: String,
    /// `Customer`.
    pub customer: String,
    /// `OrderDate`.
    #[serde(default, with = "ccyy_mm_dd::option")]
    pub order_date: Option<Date>,
    /// `SalesOrder` (≤ 20): only with `allow_manual_order_number`.
    #[serde(default)]
    pub sales_order: Option<String>,
    /// `CustomerName`.
    #[serde(default)]
    pub customer_name: Option<String>,
    /// `ShipAddress1..5` (≤ 40 each).
    #[serde(default)]
    pub ship_address: Vec<String>,
    /// `ShipPostalCode` (≤ 15).
    #[serde(default)]
    pub ship_postal_code: Option<String>,
    /// `Email` (≤ 255).
    #[serde(default)]
    pub email: Option<String>,
    /// `ShippingInstrs` (≤ 50).
    #[serde(default)]
    pub shipping_instructions: Option<String>,
    /// `Warehouse` (≤ 10).
    #[serde(default)]
    pub warehouse: Option<String>,
    /// `Salesperson`.
    #[serde(default)]
    pub salesperson: Option<String>,
    /// `Branch`.
    #[serde(default)]
    pub branch: Option<String>,
    /// `RequestedShipDate`.
    #[serde(default, with = "ccyy_mm_dd::option")]
    pub requested_ship_date: Option<Date>,
    /// The lines, written in `CustomerPoLine` order.
    pub lines: Vec<SalesOrderLine>,
}

impl SalesOrder {
    /// Longest `CustomerPoNumber` SORTOI accepts.
    pub const CUSTOMER_PO_NUMBER_MAX_LEN: usize = CUSTOMER_PO_MAX_LEN;
    /// Longest `ShipAddress1..5` line.
    pub const SHIP_ADDRESS_MAX_LEN: usize = SHIP_ADDRESS_MAX_LEN;
    /// Number of `ShipAddress` lines.
    pub const SHIP_ADDRESS_LINES: usize = SHIP_ADDRESS_LINES;
    /// Longest `ShipPostalCode`.
    pub const SHIP_POSTAL_CODE_MAX_LEN: usize = SHIP_POSTAL_CODE_MAX_LEN;
    /// Longest `Email`.
    pub const EMAIL_MAX_LEN: usize = EMAIL_MAX_LEN;
    /// Longest `Warehouse`.
    pub const WAREHOUSE_MAX_LEN: usize = WAREHOUSE_MAX_LEN;
    /// Highest `CustomerPoLine`.
    pub const MAX_LINES: u16 = 9999;

    /// An order with only the mandatory header fields.
    pub fn new(
        customer_po_number: impl Into<String>,
        customer: impl Into<String>,
        lines: Vec<SalesOrderLine>,
    ) -> Self {
        Self {
            customer_po_number: customer_po_number.into(),
            customer: customer.into(),
            order_date: None,
            sales_order: None,
            customer_name: None,
            ship_address: Vec::new(),
            ship_postal_code: None,
            email: None,
            shipping_instructions: None,
            warehouse: None,
            salesperson: None,
            branch: None,
            requested_ship_date: None,
            lines,
        }
    }

    fn validate(&self, index: usize) -> Result<(), Error> {
        let field = |name: &str| format!("orders[{index}].{name}");
        require_text(
            &field("customer_po_number"),
            &self.customer_po_number,
            CUSTOMER_PO_MAX_LEN,
        )?;
        require_text(&field("customer"), &self.customer, CUSTOMER_MAX_LEN)?;
        if let Some(date) = self.order_date {
            check_date(&field("order_date"), date)?;
        }
        if let Some(date) = self.requested_ship_date {
            check_date(&field("requested_ship_date"), date)?;
        }
        if let Some(number) = &self.sales_order {
            require_text(&field("sales_order"), number, SALES_ORDER_MAX_LEN)?;
        }
        if self.ship_address.len() > SHIP_ADDRESS_LINES {
            return Err(Error::InvalidInput {
                field: field("ship_address"),
                expected: format!("at most {SHIP_ADDRESS_LINES} lines"),
            });
        }
        for (n, line) in self.ship_address.iter().enumerate() {
            check_len(
                &field(&format!("ship_address[{n}]")),
                line,
                SHIP_ADDRESS_MAX_LEN,
            )?;
        }
        check_opt_len(
            &field("ship_postal_code"),
            self.ship_postal_code.as_deref(),
            SHIP_POSTAL_CODE_MAX_LEN,
        )?;
        check_opt_len(&field("email"), self.email.as_deref(), EMAIL_MAX_LEN)?;
        check_opt_len(
            &field("shipping_instructions"),
            self.shipping_instructions.as_deref(),
            SHIPPING_INSTRS_MAX_LEN,
        )?;
        check_opt_len(
            &field("warehouse"),
            self.warehouse.as_deref(),
            WAREHOUSE_MAX_LEN,
        )?;
        if self.lines.is_empty() {
            return Err(Error::InvalidInput {
                field: field("lines"),
                expected: "at least one line".into(),
            });
        }
        let mut seen = HashSet::new();
        for (n, line) in self.lines.iter().enumerate() {
            let line_field = |name: &str| format!("orders[{index}].lines[{n}].{name}");
            line.validate(&line_field)?;
            if !seen.insert(line.customer_po_line()) {
                return Err(Error::InvalidInput {
                    field: line_field("customer_po_line"),
                    expected: format!(
                        "a line number not used twice in the order ({})",
                        line.customer_po_line()
                    ),
                });
            }
        }
        Ok(())
    }

    fn write(&self, out: &mut XmlOut) {
        out.open("Orders");
        out.open("OrderHeader");
        out.text("CustomerPoNumber", &self.customer_po_number);
        out.text("OrderActionType", "A");
        out.text("Customer", &self.customer);
        out.opt_date("OrderDate", self.order_date);
        out.opt_text("ShippingInstrs", self.shipping_instructions.as_deref());
        out.opt_text("CustomerName", self.customer_name.as_deref());
        for (n, line) in self.ship_address.iter().enumerate() {
            out.text(&format!("ShipAddress{}", n + 1), line);
        }
        out.opt_text("ShipPostalCode", self.ship_postal_code.as_deref());
        out.opt_text("Email", self.email.as_deref());
        out.opt_text("Warehouse", self.warehouse.as_deref());
        out.opt_text("SalesOrder", self.sales_order.as_deref());
        out.opt_text("Salesperson", self.salesperson.as_deref());
        out.opt_text("Branch", self.branch.as_deref());
        out.opt_date("RequestedShipDate", self.requested_ship_date);
        out.close("OrderHeader");
        out.open("OrderDetails");
        let mut lines: Vec<&SalesOrderLine> = self.lines.iter().collect();
        lines.sort_by_key(|l| l.customer_po_line());
        for line in lines {
            line.write(out);
        }
        out.close("OrderDetails");
        out.close("Orders");
    }
}

/// A whole SORTOI call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SalesOrderImport {
    /// Import parameters.
    #[serde(default)]
    pub parameters: SalesOrderImportParameters,
    /// The orders.
    pub orders: Vec<SalesOrder>,
}

impl SalesOrderImport {
    /// An import of the given orders with default parameters (`Process=Import`, duplicates
    /// rejected, customer PO number mandatory).
    pub fn new(orders: Vec<SalesOrder>) -> Self {
        Self {
            parameters: SalesOrderImportParameters::default(),
            orders,
        }
    }

    /// Checks the documented field limits and line numbering.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first offending field.
    pub fn validate(&self) -> Result<(), Error> {
        if self.orders.is_empty() {
            return Err(Error::InvalidInput {
                field: "orders".into(),
                expected: "at least one order".into(),
            });
        }
        let mut numbers = HashSet::new();
        for (index, order) in self.orders.iter().enumerate() {
            order.validate(index)?;
            if !numbers.insert((order.customer.trim(), order.customer_po_number.trim())) {
                return Err(Error::InvalidInput {
                    field: format!("orders[{index}].customer_po_number"),
                    expected: "a customer PO number not repeated in the batch".into(),
                });
            }
            if order.sales_order.is_some()
                && self.parameters.allow_manual_order_number != Some(true)
            {
                return Err(Error::InvalidInput {
                    field: format!("orders[{index}].sales_order"),
                    expected: "no order number unless allow_manual_order_number is set".into(),
                });
            }
        }
        Ok(())
    }

    /// The `XmlParameters` document.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if a value cannot be written.
    pub fn parameters_xml(&self) -> Result<String, Error> {
        let p = &self.parameters;
        let mut out = XmlOut::new();
        out.open_root("SalesOrders", "SORTOI.XSD");
        out.open("Parameters");
        out.text(
            "Process",
            match p.process {
                SalesOrderProcess::Validate => "Validate",
                SalesOrderProcess::Import => "Import",
            },
        );
        out.text("IgnoreWarnings", p.ignore_warnings.code());
        if let Some(action) = p.allocation_action {
            out.text("AllocationAction", action.code());
        }
        out.opt_flag("AlwaysUsePriceEntered", p.always_use_price_entered);
        out.opt_flag("AllowZeroPrice", p.allow_zero_price);
        out.opt_flag("AcceptOrdersIfNoCredit", p.accept_orders_if_no_credit);
        out.text(
            "AllowDuplicateOrderNumbers",
            match p.allow_duplicate_order_numbers {
                DuplicateOrderNumbers::Reject => "N",
                DuplicateOrderNumbers::Allow => "Y",
                DuplicateOrderNumbers::Always => "A",
            },
        );
        out.text(
            "CheckForCustomerPoNumbers",
            match p.check_for_customer_po_numbers {
                CustomerPoCheck::Mandatory => "Y",
                CustomerPoCheck::Optional => "N",
                CustomerPoCheck::PerCustomer => "C",
            },
        );
        out.opt_flag(
            "AllowManualOrderNumberToBeUsed",
            p.allow_manual_order_number,
        );
        out.close("Parameters");
        out.close("SalesOrders");
        out.finish()
    }

    /// The `XmlIn` document, after [`SalesOrderImport::validate`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first invalid field.
    pub fn document_xml(&self) -> Result<String, Error> {
        self.validate()?;
        let mut out = XmlOut::new();
        out.open_root("SalesOrders", "SORTOIDOC.XSD");
        for order in &self.orders {
            order.write(&mut out);
        }
        out.close("SalesOrders");
        out.finish()
    }
}

/// `<ValidationStatus><Status>` of a `Process=Validate` run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ValidationStatus {
    /// `Successful`.
    Successful,
    /// `Failed`.
    Failed,
    /// Any other text SYSPRO may write.
    Unknown(String),
}

/// What SYSPRO reported for one order (`<Order>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SalesOrderResult {
    /// `CustomerPoNumber`.
    pub customer_po_number: Option<String>,
    /// `SalesOrder`: empty when the order was rejected.
    pub sales_order: Option<String>,
    /// `OrderActionType`.
    pub order_action_type: Option<String>,
    /// `BackOrderComment`.
    pub back_order_comment: Option<String>,
    /// Errors and warnings reported inside this order.
    pub messages: Messages,
}

/// Parsed SORTOI output.
///
/// A clean import may come back with **no `<Order>` block at all**, only the counters: the order
/// was created but its number is not in the answer. Look it up by customer PO number (COMFND on
/// `SorMaster`) when it is needed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SalesOrderImportResult {
    /// One entry per `<Order>`.
    pub orders: Vec<SalesOrderResult>,
    /// `StatusOfItems/ItemsProcessed`.
    pub items_processed: Option<u64>,
    /// `StatusOfItems/ItemsRejectedWithWarnings`.
    pub items_rejected_with_warnings: Option<u64>,
    /// `StatusOfItems/ItemsProcessedWithWarnings`.
    pub items_processed_with_warnings: Option<u64>,
    /// Present for `Process=Validate` runs.
    pub validation_status: Option<ValidationStatus>,
    /// Every counter under `StatusOfItems`.
    pub status: StatusOfItems,
    /// Errors and warnings outside any `<Order>` (a validate run returns the whole document
    /// with errors at the end of the section they concern).
    pub messages: Messages,
}

impl SalesOrderImportResult {
    /// Parses a SORTOI output.
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when the output is not XML or a counter cannot be read.
    pub fn parse(xml: &str) -> Result<Self, Error> {
        let root = parse(SORTOI, xml)?;
        let orders = root
            .children_named("Order")
            .map(|order| SalesOrderResult {
                customer_po_number: order.child_string("CustomerPoNumber"),
                sales_order: order.child_string("SalesOrder"),
                order_action_type: order.child_string("OrderActionType"),
                back_order_comment: order.child_string("BackOrderComment"),
                messages: Messages::collect(order),
            })
            .collect();
        let validation_status = root
            .descendants()
            .into_iter()
            .find(|(_, node)| node.is("ValidationStatus"))
            .and_then(|(_, node)| node.child_text("Status"))
            .map(|status| match status {
                s if s.eq_ignore_ascii_case("Successful") => ValidationStatus::Successful,
                s if s.eq_ignore_ascii_case("Failed") => ValidationStatus::Failed,
                other => ValidationStatus::Unknown(other.to_owned()),
            });
        let status = StatusOfItems::read(SORTOI, &root)?;
        Ok(Self {
            orders,
            items_processed: status.get("ItemsProcessed"),
            items_rejected_with_warnings: status.get("ItemsRejectedWithWarnings"),
            items_processed_with_warnings: status.get("ItemsProcessedWithWarnings"),
            validation_status,
            status,
            messages: Messages::collect_outside(&root, &["Order"]),
        })
    }

    /// Every error in the output.
    pub fn errors(&self) -> impl Iterator<Item = &FieldError> {
        self.orders
            .iter()
            .flat_map(|o| o.messages.errors.iter())
            .chain(self.messages.errors.iter())
    }

    /// Every warning in the output.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.orders
            .iter()
            .flat_map(|o| o.messages.warnings.iter())
            .chain(self.messages.warnings.iter())
            .map(String::as_str)
    }

    /// The sales order numbers SYSPRO returned (none after a clean import without `<Order>`).
    pub fn sales_orders(&self) -> impl Iterator<Item = &str> {
        self.orders.iter().filter_map(|o| o.sales_order.as_deref())
    }

    /// Whether SYSPRO accepted everything: no errors, no rejection counted, a validation verdict
    /// that is not `Failed`, and for an import either a sales order number on every `<Order>`
    /// or (the clean case) no `<Order>` but at least one item processed.
    pub fn is_success(&self) -> bool {
        if self.errors().next().is_some() || self.items_rejected_with_warnings.unwrap_or(0) > 0 {
            return false;
        }
        match &self.validation_status {
            Some(ValidationStatus::Successful) => true,
            Some(_) => false,
            None if self.orders.is_empty() => self.items_processed.unwrap_or(0) > 0,
            None => self.orders.iter().all(|o| o.sales_order.is_some()),
        }
    }
}

impl SysproClient {
    /// Imports (or with [`SalesOrderProcess::Validate`], validates) sales orders with SORTOI.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent; [`Error::Output`] when SYSPRO's answer
    /// cannot be read; any session or transport error of [`SysproClient::transaction_post`].
    pub async fn import_sales_orders(
        &self,
        import: &SalesOrderImport,
    ) -> Result<SalesOrderImportResult, Error> {
        let document = import.document_xml()?;
        let parameters = import.parameters_xml()?;
        let output = self
            .transaction_post(SORTOI, &parameters, &document)
            .await?;
        SalesOrderImportResult::parse(&output)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bo::test_support::{dec, fixture};
    use time::macros::date;

    fn sample() -> SalesOrderImport {
        let mut order = SalesOrder::new(
            "#100000123",
            "WEBS01",
            vec![
                SalesOrderLine::Freight(FreightLine {
                    customer_po_line: 3,
                    value: dec("5"),
                    cost: None,
                }),
                SalesOrderLine::Stock(StockLine {
                    customer_po_line: 1,
                    stock_code: "A100".into(),
                    description: None,
                    warehouse: Some("FG".into()),
                    quantity: dec("2"),
                    unit_of_measure: "EA".into(),
                    price: Some(dec("12.99")),
                    price_unit_of_measure: Some("EA".into()),
                    discount_percent: None,
                    tax_code: None,
                }),
                SalesOrderLine::Misc(MiscChargeLine {
                    customer_po_line: 2,
                    value: dec("1.50"),
                    cost: None,
                    product_class: Some("_OTH".into()),
                    description: Some("Gift wrap".into()),
                }),
            ],
        );
        order.order_date = Some(date!(2026 - 04 - 13));
        order.ship_address = vec!["1 Main St".into(), "Springfield".into()];
        order.ship_postal_code = Some("12345".into());
        order.email = Some("a@example.com".into());
        SalesOrderImport::new(vec![order])
    }

    #[test]
    fn parameters_xml_is_exact() {
        let mut import = sample();
        import.parameters.process = SalesOrderProcess::Validate;
        import.parameters.allocation_action = Some(AllocationAction::AvailableThenBackOrder);
        assert_eq!(
            import.parameters_xml().unwrap(),
            "<SalesOrders xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"SORTOI.XSD\"><Parameters>\
             <Process>Validate</Process><IgnoreWarnings>W</IgnoreWarnings>\
             <AllocationAction>A</AllocationAction>\
             <AllowDuplicateOrderNumbers>N</AllowDuplicateOrderNumbers>\
             <CheckForCustomerPoNumbers>Y</CheckForCustomerPoNumbers>\
             </Parameters></SalesOrders>"
        );
    }

    #[test]
    fn document_xml_is_exact_with_lines_in_po_line_order() {
        assert_eq!(
            sample().document_xml().unwrap(),
            "<SalesOrders xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"SORTOIDOC.XSD\"><Orders><OrderHeader>\
             <CustomerPoNumber>#100000123</CustomerPoNumber><OrderActionType>A</OrderActionType>\
             <Customer>WEBS01</Customer><OrderDate>2026-04-13</OrderDate>\
             <ShipAddress1>1 Main St</ShipAddress1><ShipAddress2>Springfield</ShipAddress2>\
             <ShipPostalCode>12345</ShipPostalCode><Email>a@example.com</Email>\
             </OrderHeader><OrderDetails>\
             <StockLine><CustomerPoLine>0001</CustomerPoLine><LineActionType>A</LineActionType>\
             <StockCode>A100</StockCode><Warehouse>FG</Warehouse><OrderQty>2</OrderQty>\
             <OrderUom>EA</OrderUom><Price>12.99</Price><PriceUom>EA</PriceUom></StockLine>\
             <MiscChargeLine><CustomerPoLine>0002</CustomerPoLine>\
             <LineActionType>A</LineActionType><MiscChargeValue>1.50</MiscChargeValue>\
             <MiscProductClass>_OTH</MiscProductClass><MiscDescription>Gift wrap</MiscDescription>\
             </MiscChargeLine>\
             <FreightLine><CustomerPoLine>0003</CustomerPoLine><LineActionType>A</LineActionType>\
             <FreightValue>5.00</FreightValue></FreightLine>\
             </OrderDetails></Orders></SalesOrders>"
        );
    }

    #[test]
    fn prices_keep_at_least_two_decimals() {
        assert_eq!(format_price(dec("12")), "12.00");
        assert_eq!(format_price(dec("12.5")), "12.50");
        assert_eq!(format_price(dec("12.12345")), "12.12345");
        assert_eq!(format_price(dec("12.10000")), "12.10");
    }

    fn invalid(import: &SalesOrderImport) -> String {
        match import.document_xml() {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn documented_field_limits_are_enforced() {
        let mut i = sample();
        i.orders[0].customer_po_number = "P".repeat(31);
        assert_eq!(invalid(&i), "orders[0].customer_po_number");

        let mut i = sample();
        i.orders[0].ship_address[1] = "A".repeat(41);
        assert_eq!(invalid(&i), "orders[0].ship_address[1]");

        let mut i = sample();
        i.orders[0].ship_postal_code = Some("1".repeat(16));
        assert_eq!(invalid(&i), "orders[0].ship_postal_code");

        let mut i = sample();
        i.orders[0].shipping_instructions = Some("S".repeat(51));
        assert_eq!(invalid(&i), "orders[0].shipping_instructions");

        let mut i = sample();
        i.orders[0].email = Some("e".repeat(256));
        assert_eq!(invalid(&i), "orders[0].email");

        let mut i = sample();
        i.orders[0].sales_order = Some("000123".into());
        assert_eq!(invalid(&i), "orders[0].sales_order");
        i.parameters.allow_manual_order_number = Some(true);
        assert!(i.document_xml().is_ok());

        let mut i = sample();
        if let SalesOrderLine::Stock(line) = &mut i.orders[0].lines[1] {
            line.price_unit_of_measure = None;
        }
        assert_eq!(invalid(&i), "orders[0].lines[1].price_unit_of_measure");

        let mut i = sample();
        if let SalesOrderLine::Stock(line) = &mut i.orders[0].lines[1] {
            line.quantity = dec("0");
        }
        assert_eq!(invalid(&i), "orders[0].lines[1].quantity");

        let mut i = sample();
        if let SalesOrderLine::Stock(line) = &mut i.orders[0].lines[1] {
            line.tax_code = Some("ABCD".into());
        }
        assert_eq!(invalid(&i), "orders[0].lines[1].tax_code");

        let mut i = sample();
        if let SalesOrderLine::Freight(line) = &mut i.orders[0].lines[0] {
            line.customer_po_line = 1;
        }
        assert_eq!(invalid(&i), "orders[0].lines[1].customer_po_line");

        let mut i = sample();
        if let SalesOrderLine::Freight(line) = &mut i.orders[0].lines[0] {
            line.customer_po_line = 10000;
        }
        assert_eq!(invalid(&i), "orders[0].lines[0].customer_po_line");

        let mut i = sample();
        i.orders.push(i.orders[0].clone());
        assert_eq!(invalid(&i), "orders[1].customer_po_number");
    }

    #[test]
    fn parses_import_with_order_and_warnings() {
        let result = SalesOrderImportResult::parse(&fixture("sortoi_warnings.xml")).unwrap();
        assert_eq!(result.orders.len(), 1);
        let order = &result.orders[0];
        assert_eq!(order.customer_po_number.as_deref(), Some("#100000123"));
        assert_eq!(order.sales_order.as_deref(), Some("015574"));
        assert_eq!(
            order.messages.warnings,
            vec!["Line 0001 for stock code 'A100' was placed on back order".to_owned()]
        );
        assert_eq!(result.items_processed, Some(1));
        assert_eq!(result.items_processed_with_warnings, Some(1));
        assert_eq!(result.items_rejected_with_warnings, Some(0));
        assert_eq!(result.warnings().count(), 1);
        assert!(result.is_success());
    }

    #[test]
    fn parses_clean_import_without_order_block() {
        let result = SalesOrderImportResult::parse(&fixture("sortoi_clean.xml")).unwrap();
        assert!(result.orders.is_empty());
        assert_eq!(result.items_processed, Some(1));
        assert_eq!(result.sales_orders().count(), 0);
        assert!(result.is_success());
    }

    #[test]
    fn rejected_order_with_empty_sales_order_is_a_failure() {
        let result = SalesOrderImportResult::parse(&fixture("sortoi_rejected.xml")).unwrap();
        assert_eq!(result.orders.len(), 1);
        assert_eq!(result.orders[0].sales_order, None);
        assert!(!result.is_success());
        assert!(result.errors().next().is_some());
    }

    #[test]
    fn parses_validate_verdict() {
        let ok = SalesOrderImportResult::parse(
            "<SalesOrders><Orders><OrderHeader><Customer>X</Customer></OrderHeader></Orders>\
             <ValidationStatus><Status>Successful</Status></ValidationStatus></SalesOrders>",
        )
        .unwrap();
        assert_eq!(ok.validation_status, Some(ValidationStatus::Successful));
        assert!(ok.is_success());
        let failed = SalesOrderImportResult::parse(
            "<SalesOrders><Orders><OrderDetails><StockLine><StockCode><Value>ZZ</Value>\
             <ErrorDescription>Stock code not found</ErrorDescription></StockCode></StockLine>\
             </OrderDetails></Orders>\
             <ValidationStatus><Status>Failed</Status></ValidationStatus></SalesOrders>",
        )
        .unwrap();
        assert_eq!(failed.validation_status, Some(ValidationStatus::Failed));
        assert_eq!(failed.messages.errors[0].field, "StockCode");
        assert!(!failed.is_success());
    }
}
