//! Turning a Commerce document into a [`PostingPlan`].
//!
//! [`Mapper`] is the pluggable step; [`DefaultMapper`] implements the design's posting model: an
//! ARSTIN invoice on the clearing product class for Commerce's grand total, and a GENTJL journal that
//! moves that amount from the clearing account to revenue (per mapped GL account), freight, discount,
//! tax and, for the last cents, rounding. A mapping error halts the record with a reason a person can
//! act on; nothing is posted for it.

mod accounts;
mod customer;
mod default;
mod lines;
mod sales_order;

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use crate::config::PostingTarget;
use crate::plan::{CreditMemoDetails, PostingPlan, SourceDocument};

pub use accounts::{RevenueMatch, resolve_revenue_account};
pub use default::DefaultMapper;
pub use lines::money_lines;

/// Turns one Commerce document into a posting plan. Implementations must be pure (same document,
/// context and configuration, same plan): replay and reconciliation depend on it.
pub trait Mapper: Send + Sync {
    /// Plans the postings of `doc`.
    ///
    /// # Errors
    /// A [`MappingError`] naming what is missing or inconsistent; the record halts with it.
    fn plan(
        &self,
        doc: &SourceDocument,
        ctx: &MappingContext<'_>,
    ) -> Result<PostingPlan, MappingError>;

    /// Plans the credit note of a credit memo: `doc` holds the refunded amounts as magnitudes and
    /// `memo` what only a credit memo has. The plan's AR item has transaction type `C` and its
    /// journal reverses the one an invoice of the same amounts would get.
    ///
    /// The default refuses, so a custom mapper written for invoices never posts refunds by
    /// accident.
    ///
    /// # Errors
    /// A [`MappingError`]; [`MappingError::UnsupportedDocument`] from the default.
    fn plan_credit_memo(
        &self,
        doc: &SourceDocument,
        memo: &CreditMemoDetails,
        ctx: &MappingContext<'_>,
    ) -> Result<PostingPlan, MappingError> {
        let _ = (memo, ctx);
        Err(MappingError::UnsupportedDocument {
            kind: doc.kind.as_str(),
        })
    }
}

/// What the engine knows from SYSPRO when it maps a document.
#[derive(Debug, Clone, Copy)]
pub struct MappingContext<'a> {
    /// The document customer's SYSPRO code, when already resolved (found by email, created, or
    /// written back to Commerce). Guests ignore it.
    pub customer_code: Option<&'a str>,
    /// Codes that exist in SYSPRO.
    pub reference: &'a ReferenceData,
}

/// Codes validated against SYSPRO (GENQGL, COMFND or OData), cached by the engine. A mapping that
/// names a code missing here is a mapping error, never silently used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReferenceData {
    /// GL account codes.
    pub gl_accounts: BTreeSet<String>,
    /// AR product classes.
    pub product_classes: BTreeSet<String>,
    /// AR branches.
    pub branches: BTreeSet<String>,
}

/// Why a document could not be planned. Each variant names the field or line at fault and what would
/// fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MappingError {
    /// No SYSPRO customer can be determined for a registered Commerce customer.
    #[error("no SYSPRO customer for Commerce customer {customer}: {reason}")]
    MissingCustomer {
        /// Commerce id and email.
        customer: String,
        /// What was tried.
        reason: String,
    },
    /// A guest document in a store without `cash_customer`.
    #[error(
        "guest {kind} {increment_id} in store {store:?} has no SYSPRO customer: set mapping.stores.{store}.cash_customer"
    )]
    NoCashCustomer {
        /// `invoice` or `order`.
        kind: &'static str,
        /// Commerce increment id.
        increment_id: String,
        /// Store code.
        store: String,
    },
    /// The document's store has no `mapping.stores` entry.
    #[error("store {store:?} has no settings: add mapping.stores.{store}")]
    UnknownStore {
        /// Store code.
        store: String,
    },
    /// The document's currency is not one the connection posts.
    #[error("currency {currency:?} is not allowed for this connection (allowed: {allowed})")]
    CurrencyNotAllowed {
        /// The document's currency.
        currency: String,
        /// The configured currencies.
        allowed: String,
    },
    /// No revenue rule and no store default matched a money-carrying line.
    #[error(
        "no GL account for SKU {sku:?} (line {item_id}, {name:?}, store {store:?}): add a revenue rule or mapping.stores.{store}.revenue_account"
    )]
    NoRevenueAccount {
        /// SKU of the line.
        sku: String,
        /// Commerce item id.
        item_id: u64,
        /// Product name.
        name: String,
        /// Store code.
        store: String,
    },
    /// A mapped GL account does not exist in SYSPRO.
    #[error("GL account {account:?} ({purpose}) does not exist in SYSPRO")]
    GlAccountNotInSyspro {
        /// The account code.
        account: String,
        /// What it was used for, e.g. "revenue for SKU \"ABC\"" or "freight".
        purpose: String,
    },
    /// A mapped product class does not exist in SYSPRO.
    #[error("product class {product_class:?} ({purpose}) does not exist in SYSPRO")]
    ProductClassNotInSyspro {
        /// The product class.
        product_class: String,
        /// Which setting names it.
        purpose: String,
    },
    /// A mapped branch does not exist in SYSPRO.
    #[error("branch {branch:?} (mapping.stores.{store}.branch) does not exist in SYSPRO")]
    BranchNotInSyspro {
        /// The branch.
        branch: String,
        /// Store code.
        store: String,
    },
    /// The rendered invoice number is longer than SYSPRO's invoice field.
    #[error(
        "invoice number {number:?} from template {template:?} is {length} characters; SYSPRO allows {max} (mapping.invoice.max_length): shorten the template or the store prefix"
    )]
    InvoiceNumberTooLong {
        /// The template.
        template: String,
        /// The rendered number.
        number: String,
        /// Its length.
        length: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The rendered code of a customer to create is longer than SYSPRO's customer field.
    #[error(
        "customer code {code:?} from template {template:?} is {length} characters; SYSPRO allows {max} (mapping.customers.create.code_max_length)"
    )]
    CustomerCodeTooLong {
        /// The template.
        template: String,
        /// The rendered code.
        code: String,
        /// Its length.
        length: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A template could not be rendered for this document.
    #[error("{setting}: {message}")]
    Template {
        /// The setting, e.g. `mapping.invoice.number_template`.
        setting: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A parent line and its children both carry money, so counting either could be wrong.
    #[error(
        "line {parent_item_id} (SKU {sku:?}) and its child lines both carry amounts; Commerce puts a configurable or bundle product's money on one of them, so this document is not understood"
    )]
    ParentAndChildrenPriced {
        /// The parent line's item id.
        parent_item_id: u64,
        /// The parent line's SKU.
        sku: String,
    },
    /// The parent/child structure of the lines is not a tree (duplicate item ids or a cycle).
    #[error("line {item_id} cannot be placed: {reason}")]
    MalformedLines {
        /// The line's item id.
        item_id: u64,
        /// What is wrong.
        reason: String,
    },
    /// A header total disagrees with the sum of its line amounts by more than the tolerance: an
    /// amount would be lost or counted twice.
    #[error(
        "the document's {total} total {header} differs from the sum of its lines ({lines}) by more than {tolerance}"
    )]
    TotalsDisagree {
        /// `tax` or `discount`.
        total: &'static str,
        /// The header figure.
        header: Decimal,
        /// The sum of the line and shipping figures.
        lines: Decimal,
        /// The configured tolerance.
        tolerance: Decimal,
    },
    /// The grand total and the sum of the mapped parts differ by more than the tolerance.
    #[error(
        "grand total {grand_total} differs from the sum of the mapped parts ({parts}) by {difference}, more than the rounding tolerance {tolerance}"
    )]
    RoundingOverTolerance {
        /// Commerce's grand total.
        grand_total: Decimal,
        /// Revenue, freight and tax net of discounts.
        parts: Decimal,
        /// `grand_total - parts`.
        difference: Decimal,
        /// The configured tolerance.
        tolerance: Decimal,
    },
    /// ARSTIN invoice values are never negative.
    #[error("grand total {grand_total} is negative; an AR invoice value cannot be")]
    NegativeInvoiceValue {
        /// Commerce's grand total.
        grand_total: Decimal,
    },
    /// A line amount is negative where Commerce reports magnitudes.
    #[error("{field} of {line} is negative ({amount}); amounts must be magnitudes")]
    NegativeAmount {
        /// Which amount.
        field: &'static str,
        /// Which line (`line 12` or `shipping`).
        line: String,
        /// The amount.
        amount: Decimal,
    },
    /// The mapper does not produce plans for this target.
    #[error("this mapper does not support target {target:?}; use a Mapper that implements it")]
    UnsupportedTarget {
        /// The configured target.
        target: PostingTarget,
    },
    /// The mapper does not plan this kind of document.
    #[error("this mapper does not plan {kind} documents; use a Mapper that implements them")]
    UnsupportedDocument {
        /// `credit memo`, ...
        kind: &'static str,
    },
    /// A credit memo has an adjustment refund or fee and no account is mapped for it.
    #[error(
        "credit memo {increment_id} has an adjustment of {adjustment} and no GL account for it: set mapping.credit_memos.adjustment_account"
    )]
    NoAdjustmentAccount {
        /// Commerce increment id of the memo.
        increment_id: String,
        /// The adjustment (positive: refunded, negative: fee kept).
        adjustment: Decimal,
    },
    /// The rendered customer PO number of a sales order is longer than SORTOI's field.
    #[error(
        "customer PO number {number:?} from template {template:?} is {length} characters; SORTOI's CustomerPoNumber allows {max} (mapping.invoice.number_template): shorten the template or the store prefix"
    )]
    CustomerPoNumberTooLong {
        /// The template.
        template: String,
        /// The rendered number.
        number: String,
        /// Its length.
        length: usize,
        /// SORTOI's limit.
        max: usize,
    },
    /// A line's SKU has no SYSPRO stock code.
    #[error(
        "no SYSPRO stock code for SKU {sku:?} (line {item_id}, {name:?}): add it to mapping.sales_orders.stock_codes or its prefix to mapping.sales_orders.stock_code_prefixes"
    )]
    NoStockCode {
        /// SKU of the line.
        sku: String,
        /// Commerce item id.
        item_id: u64,
        /// Product name.
        name: String,
    },
    /// A line's quantity cannot be ordered (zero, negative, or more than six decimals).
    #[error(
        "line {item_id} (SKU {sku:?}) has quantity {quantity}; SORTOI's OrderQty needs a quantity above zero with at most six decimals"
    )]
    InvalidQuantity {
        /// Commerce item id.
        item_id: u64,
        /// SKU.
        sku: String,
        /// The quantity.
        quantity: Decimal,
    },
    /// No unit price of at most five decimals (SORTOI's `Price`) times the quantity gives the
    /// line's value to the cent.
    #[error(
        "line {item_id} (SKU {sku:?}): {value} for quantity {quantity} cannot be written as a unit price of at most five decimals that gives the same amount to the cent"
    )]
    PriceNotExact {
        /// Commerce item id.
        item_id: u64,
        /// SKU.
        sku: String,
        /// The quantity.
        quantity: Decimal,
        /// The row total net of its discount.
        value: Decimal,
    },
    /// A value does not fit a SORTOI field and cutting it would change its meaning.
    #[error(
        "{what} {value:?} is {length} characters; SORTOI's {field} allows {max}: shorten it in Commerce, then replay"
    )]
    SalesOrderFieldTooLong {
        /// The SORTOI field, e.g. `ShipAddress2`.
        field: String,
        /// What the value is, e.g. `shipping address street line 1`.
        what: String,
        /// The value.
        value: String,
        /// Its length in characters.
        length: usize,
        /// SORTOI's limit.
        max: usize,
    },
    /// The shipping address needs more lines than SORTOI's five ship-to address lines.
    #[error(
        "the shipping address needs {needed} lines ({lines}); SORTOI has {max} ShipAddress lines: shorten it in Commerce, then replay"
    )]
    ShipAddressTooLong {
        /// The lines needed.
        needed: usize,
        /// Those lines, joined with ` | `.
        lines: String,
        /// SORTOI's number of lines.
        max: usize,
    },
    /// The document has no item to order (a sales order needs at least one stock line).
    #[error("the document has no item lines, so there is nothing to order")]
    EmptySalesOrder,
    /// More lines than SORTOI numbers (`CustomerPoLine` 1 to 9999).
    #[error("the document has {lines} order lines; SORTOI numbers at most {max}")]
    TooManyOrderLines {
        /// Lines needed (stock lines plus freight).
        lines: usize,
        /// SORTOI's limit.
        max: usize,
    },
    /// The journal does not balance: a defect in the mapper, caught before anything is sent.
    #[error("internal error: the journal does not balance (debits {debits}, credits {credits})")]
    Unbalanced {
        /// Sum of debits.
        debits: Decimal,
        /// Sum of credits.
        credits: Decimal,
    },
}
