//! The engine's own view of a Commerce document ([`SourceDocument`]) and of what will be posted to
//! SYSPRO for it ([`PostingPlan`]).
//!
//! Both are plain data, independent of the SDKs: the engine converts Commerce invoices and orders into
//! a `SourceDocument`, a [`crate::mapping::Mapper`] turns it into a `PostingPlan`, and the engine renders
//! the plan as ARSTIN, GENTJL and ARSSCS documents. Money is [`Decimal`] at two decimal places.
//!
//! # Signs
//!
//! * In a `SourceDocument` every amount is a non-negative magnitude, including discounts (Commerce
//!   reports an order's `discount_amount` as a negative number; the engine stores its absolute value).
//! * In a [`GlJournal`] and in [`Allocation`]s a positive amount is a debit and a negative amount a
//!   credit, which is also how GENTJL's `EntryAmount` is read.

use rust_decimal::{Decimal, RoundingStrategy};
use time::{Date, OffsetDateTime};

/// Rounds an amount to cents (half away from zero), the precision SYSPRO posts at.
pub fn to_cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Which Commerce entity a document came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// A Commerce invoice.
    Invoice,
    /// A Commerce order.
    Order,
    /// A Commerce credit memo (refund), posted as a credit note.
    CreditMemo,
}

impl DocumentKind {
    /// `"invoice"`, `"order"` or `"credit memo"`, as used in templates and audit entries.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invoice => "invoice",
            Self::Order => "order",
            Self::CreditMemo => "credit memo",
        }
    }
}

/// What a credit memo adds to its [`SourceDocument`] (whose amounts are the refunded magnitudes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreditMemoDetails {
    /// Commerce's `adjustment_positive` minus `adjustment_negative`: an extra amount refunded
    /// (positive) or a fee kept (negative), part of the memo's grand total but of no line.
    pub adjustment: Decimal,
    /// The increment id of the Commerce invoice refunded, when the memo names one; the SYSPRO
    /// number of that invoice is derived from it with `mapping.invoice.number_template`.
    pub invoice_increment_id: Option<String>,
}

/// A Commerce invoice or order, normalised by the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceDocument {
    /// Invoice or order.
    pub kind: DocumentKind,
    /// Commerce `entity_id`.
    pub entity_id: u64,
    /// Commerce `increment_id` of this document (kept as text: leading zeros and prefixes matter).
    pub increment_id: String,
    /// The increment id of the order (equal to `increment_id` for an order).
    pub order_increment_id: String,
    /// Commerce `store_id`.
    pub store_id: u32,
    /// The store view code of `store_id` (from the connection's `commerce.stores`).
    pub store_code: String,
    /// The document currency (`order_currency_code`); all amounts below are in it.
    pub currency: String,
    /// `created_at`, UTC; its date becomes the SYSPRO invoice and journal date.
    pub created_at: OffsetDateTime,
    /// `updated_at`, UTC.
    pub updated_at: OffsetDateTime,
    /// Who bought.
    pub customer: SourceCustomer,
    /// The item lines, parents and children as Commerce reports them.
    pub lines: Vec<SourceLine>,
    /// Shipping charged, before its discount and without tax.
    pub shipping_amount: Decimal,
    /// Tax on shipping.
    pub shipping_tax: Decimal,
    /// Discount on shipping (magnitude).
    pub shipping_discount: Decimal,
    /// The document's total discount (magnitude of Commerce's `discount_amount`), checked against the
    /// sum of the line and shipping discounts.
    pub discount_total: Decimal,
    /// The document's total tax (`tax_amount`), checked against the sum of line and shipping tax.
    pub tax_total: Decimal,
    /// `grand_total`: what the customer owes, and the AR invoice value.
    pub grand_total: Decimal,
}

/// The buyer of a document.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceCustomer {
    /// Commerce customer id (absent for guests).
    pub id: Option<u64>,
    /// Email on the document.
    pub email: String,
    /// Full name.
    pub name: String,
    /// Guest checkout (`customer_is_guest`).
    pub is_guest: bool,
    /// Billing address.
    pub billing_address: Option<Address>,
    /// Shipping address (absent for virtual orders).
    pub shipping_address: Option<Address>,
}

/// A postal address as Commerce reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Address {
    /// Company.
    pub company: Option<String>,
    /// Street lines.
    pub street: Vec<String>,
    /// City.
    pub city: String,
    /// Region or state.
    pub region: Option<String>,
    /// Postal code (may be empty on some stores).
    pub postcode: String,
    /// ISO country code.
    pub country_id: String,
    /// Telephone (may be empty).
    pub telephone: Option<String>,
}

/// One item line of a document.
///
/// Configurable and bundle products appear as a parent line plus child lines; see
/// [`crate::mapping::money_lines`] for which of them carries the money.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLine {
    /// Commerce item id (the order item id, also for invoice lines).
    pub item_id: u64,
    /// The parent line's item id, for children of configurable and bundle products.
    pub parent_item_id: Option<u64>,
    /// `product_type`: `simple`, `configurable`, `bundle`, `virtual`, ... (open set).
    pub product_type: String,
    /// SKU.
    pub sku: String,
    /// Product name.
    pub name: String,
    /// Quantity.
    pub qty: Decimal,
    /// `row_total`: price times quantity, before discount, without tax.
    pub row_total: Decimal,
    /// `tax_amount` of the row, as Commerce computed it.
    pub row_tax: Decimal,
    /// `discount_amount` of the row (magnitude), as Commerce computed it.
    pub row_discount: Decimal,
    /// Category ids of the product (filled by the engine from the catalogue).
    pub category_ids: Vec<u64>,
    /// Attribute set id of the product (filled by the engine from the catalogue).
    pub attribute_set_id: Option<u64>,
}

impl SourceLine {
    /// Whether any amount of the line is non-zero.
    pub fn carries_money(&self) -> bool {
        !(self.row_total.is_zero() && self.row_tax.is_zero() && self.row_discount.is_zero())
    }
}

/// Everything the engine will post for one Commerce document, decided before anything is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct PostingPlan {
    /// The document this plan is for.
    pub source: SourceRef,
    /// How the SYSPRO customer is found or created.
    pub customer: CustomerAction,
    /// The ARSTIN item.
    pub ar_invoice: ArInvoiceItem,
    /// The GENTJL journal; absent for the AR-only target and when nothing needs moving (a
    /// zero-value document).
    pub journal: Option<GlJournal>,
    /// Where each Commerce amount went, one entry per amount and account: the audit trail of the
    /// journal, which aggregates them per account.
    pub allocations: Vec<Allocation>,
    /// The amount booked to the rounding account (signed like journal lines; zero when none). For
    /// a sales order: Commerce's grand total less the order value and Commerce's tax, which no line
    /// carries (see [`SalesOrderPlan`]).
    pub rounding: Decimal,
    /// The SORTOI sales order, for the `sales_order` target. When present it is what is posted,
    /// instead of the AR invoice and journal: `ar_invoice` then only summarises the document
    /// (customer, the customer PO number as its key, date, grand total and tax) for code that reads
    /// any plan, `journal` is absent, and [`crate::engine::convert::ar_invoice_item`] gives no
    /// ARSTIN item.
    pub sales_order: Option<SalesOrderPlan>,
}

impl PostingPlan {
    /// The SYSPRO customer code, when already known (absent only for [`CustomerAction::MatchByEmail`]).
    pub fn customer_code(&self) -> Option<&str> {
        self.ar_invoice.customer.as_deref()
    }
}

/// One SORTOI sales order, decided before anything is sent.
///
/// # Value
///
/// SORTOI takes no tax amounts: SYSPRO computes the order's tax from its own tax codes. The order
/// therefore carries the document's value without tax ([`SalesOrderPlan::value`]: the stock lines at
/// Commerce's row totals net of their discounts, plus the shipping charge net of its discount), and
/// the plan keeps Commerce's tax beside it, so that
/// `value + commerce_tax + PostingPlan::rounding == grand_total` holds to the cent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesOrderPlan {
    /// `CustomerPoNumber` (at most 30 characters): the document's deterministic number from
    /// `mapping.invoice.number_template`. With duplicates refused, SYSPRO holds at most one order
    /// per customer and number, which is what makes re-sending safe.
    pub customer_po_number: String,
    /// `Customer`; `None` only while the customer is still to be matched by email.
    pub customer: Option<String>,
    /// `OrderDate`: the UTC date of the Commerce document.
    pub order_date: Date,
    /// `CustomerName`: the buyer's name, sent for guest orders, which all share the store's cash
    /// customer.
    pub customer_name: Option<String>,
    /// `ShipAddress1..5` and `ShipPostalCode`; `None` for a document without a shipping address
    /// (SYSPRO then uses the customer's own).
    pub ship_to: Option<ShipTo>,
    /// `Email`.
    pub email: Option<String>,
    /// `Branch`: the store's branch.
    pub branch: String,
    /// Currency of the amounts (the customer's currency in SYSPRO must match).
    pub currency: String,
    /// The stock lines, numbered from 1 in document order.
    pub lines: Vec<SalesOrderLinePlan>,
    /// The shipping charge, when there is one.
    pub freight: Option<FreightCharge>,
    /// Commerce's tax on the lines and shipping, which SYSPRO recomputes with its own tax codes.
    pub commerce_tax: Decimal,
}

impl SalesOrderPlan {
    /// The order's value without tax: the line values plus the freight.
    pub fn value(&self) -> Decimal {
        self.lines.iter().map(|l| l.value).sum::<Decimal>()
            + self
                .freight
                .as_ref()
                .map_or(Decimal::ZERO, FreightCharge::value)
    }
}

/// A sales order's ship-to address, within SORTOI's field widths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShipTo {
    /// `ShipAddress1..5`, each at most 40 characters.
    pub lines: Vec<String>,
    /// `ShipPostalCode`, at most 15 characters.
    pub postal_code: Option<String>,
}

/// One SORTOI stock line: one priced Commerce item (or one free item).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SalesOrderLinePlan {
    /// `CustomerPoLine`, from 1.
    pub customer_po_line: u16,
    /// The Commerce item id.
    pub item_id: u64,
    /// The Commerce SKU.
    pub sku: String,
    /// `StockCode`.
    pub stock_code: String,
    /// `StockDescription`: the product name.
    pub description: String,
    /// `Warehouse`, when mapped.
    pub warehouse: Option<String>,
    /// `OrderQty`.
    pub quantity: Decimal,
    /// `OrderUom` and `PriceUom`.
    pub unit_of_measure: String,
    /// `Price`: the unit price net of the row's discount, at most five decimals, such that
    /// `quantity × price` rounded to cents is [`SalesOrderLinePlan::value`].
    pub price: Decimal,
    /// Commerce's row total net of its discount.
    pub value: Decimal,
    /// Commerce's row discount (already taken off the price).
    pub discount: Decimal,
}

/// The shipping charge of a sales order, net of the shipping discount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreightCharge {
    /// A `FreightLine`.
    Freight {
        /// `CustomerPoLine`.
        customer_po_line: u16,
        /// `FreightValue`.
        value: Decimal,
    },
    /// A `MiscChargeLine`.
    MiscCharge {
        /// `CustomerPoLine`.
        customer_po_line: u16,
        /// `MiscChargeValue`.
        value: Decimal,
        /// `MiscProductClass`.
        product_class: String,
        /// `MiscDescription`.
        description: String,
    },
}

impl FreightCharge {
    /// The charge.
    pub fn value(&self) -> Decimal {
        match self {
            Self::Freight { value, .. } | Self::MiscCharge { value, .. } => *value,
        }
    }
}

/// Identifies the Commerce document of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRef {
    /// Invoice or order.
    pub kind: DocumentKind,
    /// Commerce entity id.
    pub entity_id: u64,
    /// Commerce increment id.
    pub increment_id: String,
    /// Store view code.
    pub store_code: String,
}

/// How the SYSPRO customer of a document is obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CustomerAction {
    /// The customer is known.
    Existing {
        /// SYSPRO customer code.
        code: String,
        /// How it was found.
        matched_by: CustomerMatch,
    },
    /// A guest document, posted to the store's cash customer.
    Cash {
        /// SYSPRO customer code of the cash customer.
        code: String,
    },
    /// Look for a SYSPRO customer with this email. When found, map again with
    /// [`crate::mapping::MappingContext::customer_code`] set; when not, create `otherwise_create` or,
    /// when that is absent, halt the record as a missing customer.
    MatchByEmail {
        /// Email to look for.
        email: String,
        /// The customer to create when no SYSPRO customer has the email.
        otherwise_create: Option<NewCustomer>,
    },
    /// Create this customer (ARSSCS Setup/Add), then post.
    Create(NewCustomer),
}

/// How an existing SYSPRO customer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerMatch {
    /// The engine already knew it (an earlier email match, creation or write-back).
    Resolved,
    /// `customers.by_id`.
    TableById,
    /// `customers.by_email`.
    TableByEmail,
}

/// A SYSPRO customer to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCustomer {
    /// The code from `customers.create.code_template`.
    pub code: String,
    /// Name.
    pub name: String,
    /// Email.
    pub email: String,
    /// Branch.
    pub branch: String,
    /// Terms code.
    pub terms_code: Option<String>,
    /// Customer class.
    pub customer_class: Option<String>,
    /// Currency.
    pub currency: String,
    /// Salesperson.
    pub salesperson: Option<String>,
    /// Geographic area.
    pub area: Option<String>,
    /// Sold-to address (the billing address).
    pub sold_to: Option<Address>,
    /// Ship-to address.
    pub ship_to: Option<Address>,
}

/// ARSTIN `TransactionType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArTransactionType {
    /// `I`: invoice.
    Invoice,
    /// `C`: credit note.
    CreditNote,
    /// `D`: debit note.
    DebitNote,
}

impl ArTransactionType {
    /// SYSPRO's one-letter code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Invoice => "I",
            Self::CreditNote => "C",
            Self::DebitNote => "D",
        }
    }
}

/// One ARSTIN item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArInvoiceItem {
    /// Transaction type (`I` for Commerce invoices and orders, `C` for credit memos).
    pub transaction_type: ArTransactionType,
    /// SYSPRO customer code; `None` only while the customer is still to be matched by email.
    pub customer: Option<String>,
    /// `Invoice`: deterministic from the document, which makes posting idempotent.
    pub invoice: String,
    /// `InvoiceDate`: the UTC date of the Commerce document.
    pub invoice_date: Date,
    /// `Reference`: the Commerce increment id; for a credit note, the SYSPRO number of the invoice
    /// it credits when known.
    pub reference: String,
    /// `InvoiceValue`: Commerce's grand total, exactly (a magnitude; SYSPRO negates credit notes).
    pub invoice_value: Decimal,
    /// `TaxValue`: the tax included in the invoice value.
    pub tax_value: Decimal,
    /// `ProductClass`.
    pub product_class: String,
    /// `Branch`.
    pub branch: String,
    /// `InvoiceTerms`, when the store sets one.
    pub invoice_terms: Option<String>,
    /// Currency of the amounts (the customer's currency in SYSPRO must match).
    pub currency: String,
}

/// One GENTJL journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlJournal {
    /// `JournalDate`: the UTC date of the Commerce document.
    pub journal_date: Date,
    /// `JournalReference`: deterministic, by default the invoice number.
    pub reference: String,
    /// `Notation`.
    pub notation: String,
    /// Entries; they sum to zero.
    pub lines: Vec<JournalLine>,
}

impl GlJournal {
    /// Sum of the debits (positive amounts).
    pub fn total_debits(&self) -> Decimal {
        self.lines.iter().map(|l| l.amount.max(Decimal::ZERO)).sum()
    }

    /// Sum of the credits, as a positive number.
    pub fn total_credits(&self) -> Decimal {
        self.lines
            .iter()
            .map(|l| (-l.amount).max(Decimal::ZERO))
            .sum()
    }

    /// Whether debits equal credits.
    pub fn is_balanced(&self) -> bool {
        self.lines
            .iter()
            .map(|l| l.amount)
            .sum::<Decimal>()
            .is_zero()
    }
}

/// One journal entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalLine {
    /// `LedgerCode`.
    pub ledger_code: String,
    /// `EntryAmount`: positive = debit, negative = credit.
    pub amount: Decimal,
    /// What the entry is for.
    pub purpose: AccountPurpose,
    /// `Comment`.
    pub comment: String,
}

/// Why an account appears in a journal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountPurpose {
    /// The clearing account, debited with what the AR invoice put there.
    Clearing,
    /// Product revenue.
    Revenue,
    /// Freight revenue.
    Freight,
    /// Discounts given.
    Discount,
    /// Tax collected.
    Tax,
    /// A credit memo's adjustment refund or adjustment fee.
    Adjustment,
    /// Rounding difference.
    Rounding,
}

impl AccountPurpose {
    /// Lower-case word for messages and comments.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Clearing => "clearing",
            Self::Revenue => "revenue",
            Self::Freight => "freight",
            Self::Discount => "discount",
            Self::Tax => "tax",
            Self::Adjustment => "adjustment",
            Self::Rounding => "rounding",
        }
    }
}

/// Where one Commerce amount was booked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    /// The Commerce amount's origin.
    pub source: AmountSource,
    /// The kind of amount.
    pub purpose: AccountPurpose,
    /// The GL account.
    pub account: String,
    /// Signed like journal lines: positive = debit.
    pub amount: Decimal,
}

/// The origin of an allocated amount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AmountSource {
    /// An item line.
    Line {
        /// Commerce item id.
        item_id: u64,
        /// SKU.
        sku: String,
    },
    /// The shipping charge.
    Shipping,
    /// The document as a whole (the clearing and rounding entries).
    Document,
}
