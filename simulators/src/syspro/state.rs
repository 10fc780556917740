//! The fake company's books (customers, AR invoices, GL journals, sales orders, reference data),
//! operator sessions, fault settings and counters, all behind one `std::sync::Mutex` that is never
//! held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use rust_decimal::Decimal;
use time::Date;
use tokio::time::Instant;

use super::{SeedCustomer, SysproFaults};

/// A small deterministic generator (SplitMix64): session ids, generated names and fault rates
/// repeat exactly under one seed.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `rate` (clamped to 0..=1), using integer arithmetic on a million
    /// buckets so the outcome never depends on float rounding of the generator.
    pub fn chance(&mut self, rate: f64) -> bool {
        if rate <= 0.0 {
            return false;
        }
        let threshold = (rate.min(1.0) * 1_000_000.0) as u64;
        self.below(1_000_000) < threshold
    }
}

/// An AR customer (SYSPRO table `ArCustomer`).
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub customer: String,
    pub name: String,
    pub short_name: String,
    pub email: String,
    pub branch: String,
    pub terms_code: String,
    pub currency: String,
    pub credit_limit: Decimal,
    pub telephone: String,
    pub contact: String,
    pub salesperson: String,
    pub customer_on_hold: bool,
    /// Any other setup fields sent through ARSSCS, kept verbatim.
    pub other_fields: BTreeMap<String, String>,
}

/// An AR document (SYSPRO table `ArInvoice`): invoice, credit note or debit note.
#[derive(Debug, Clone)]
pub(crate) struct Invoice {
    pub customer: String,
    pub invoice: String,
    /// `I` invoice, `C` credit note, `D` debit note.
    pub document_type: char,
    pub invoice_date: Date,
    pub due_date: Date,
    pub reference: String,
    /// Signed: credit notes are stored negative, as SYSPRO negates them.
    pub invoice_value: Decimal,
    pub tax_value: Decimal,
    pub balance: Decimal,
    pub product_class: String,
    pub branch: String,
    pub terms_code: String,
    pub currency: String,
    pub trn_year: i32,
    pub trn_month: u8,
    pub customer_po_number: String,
    pub sales_order: String,
    /// Order in which the ledger received the document.
    pub posting_sequence: u64,
}

/// One line of a GL journal.
#[derive(Debug, Clone)]
pub(crate) struct JournalLine {
    pub entry_number: u32,
    pub ledger_code: String,
    /// Positive is a debit, negative a credit.
    pub entry_amount: Decimal,
    pub reference: String,
    pub comment: String,
}

/// A posted (or saved) GL journal.
#[derive(Debug, Clone)]
pub(crate) struct Journal {
    pub gl_year: i32,
    pub gl_period: u8,
    pub gl_journal: u32,
    pub journal_type: String,
    pub journal_date: Date,
    pub journal_reference: String,
    pub notation: String,
    pub source_code: String,
    pub status: char,
    pub lines: Vec<JournalLine>,
    pub posting_sequence: u64,
}

/// A GL account (SYSPRO table `GenMaster`).
#[derive(Debug, Clone)]
pub(crate) struct GlAccount {
    pub gl_code: String,
    pub description: String,
    /// `A` asset, `L` liability, `C` capital, `R` revenue, `E` expense, `S` statistical.
    pub account_type: char,
    pub gl_group: String,
}

/// An AR product class and the sales account SYSPRO's AR-to-GL integration books it to.
#[derive(Debug, Clone)]
pub(crate) struct ProductClass {
    pub product_class: String,
    pub description: String,
    pub sales_gl_code: String,
}

/// An AR branch and its receivables control account.
#[derive(Debug, Clone)]
pub(crate) struct Branch {
    pub branch: String,
    pub description: String,
    pub ar_control_gl_code: String,
}

/// Invoice terms.
#[derive(Debug, Clone)]
pub(crate) struct Terms {
    pub terms_code: String,
    pub description: String,
    pub due_days: i64,
}

/// One stocked line of an imported sales order.
#[derive(Debug, Clone)]
pub(crate) struct SalesOrderLine {
    pub customer_po_line: u32,
    pub stock_code: String,
    pub warehouse: String,
    pub order_qty: Decimal,
    pub order_uom: String,
    pub price: Decimal,
}

/// A sales order created by SORTOI (SYSPRO table `SorMaster`).
#[derive(Debug, Clone)]
pub(crate) struct SalesOrder {
    pub sales_order: String,
    pub customer: String,
    pub customer_name: String,
    pub customer_po_number: String,
    pub order_date: Date,
    pub order_status: String,
    pub branch: String,
    pub email: String,
    /// `ShipAddress1..5` as sent (empty lines left out).
    pub ship_address: Vec<String>,
    pub ship_postal_code: String,
    pub freight_value: Decimal,
    /// `MiscChargeLine` values, with their product class.
    pub misc_charges: Vec<(String, Decimal)>,
    pub lines: Vec<SalesOrderLine>,
}

/// The company's books.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    pub customers: BTreeMap<String, Customer>,
    /// Keyed by (customer, invoice, document type), SYSPRO's `ArInvoice` key.
    pub invoices: BTreeMap<(String, String, char), Invoice>,
    pub journals: BTreeMap<(i32, u8, u32), Journal>,
    pub gl_accounts: BTreeMap<String, GlAccount>,
    pub product_classes: BTreeMap<String, ProductClass>,
    pub branches: BTreeMap<String, Branch>,
    pub terms: BTreeMap<String, Terms>,
    pub sales_orders: BTreeMap<String, SalesOrder>,
    pub next_invoice_number: u64,
    pub next_sales_order: u64,
    pub posting_sequence: u64,
}

impl Ledger {
    pub fn next_sequence(&mut self) -> u64 {
        self.posting_sequence += 1;
        self.posting_sequence
    }

    /// Next journal number in a GL year and period (numbers restart each period).
    pub fn next_journal_number(&self, year: i32, period: u8) -> u32 {
        self.journals
            .range((year, period, 0)..=(year, period, u32::MAX))
            .next_back()
            .map_or(1, |((_, _, n), _)| n + 1)
    }
}

/// An operator's e.net session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub operator: String,
    pub last_used: Instant,
    pub calls: u64,
    pub busy: Duration,
}

/// Busy-time and call totals per operator, over all of the operator's sessions.
#[derive(Debug, Clone, Default)]
pub(crate) struct OperatorTotals {
    pub logons: u64,
    pub evictions: u64,
    pub calls: u64,
    pub busy: Duration,
    /// Busy time of the operator's current session (zero when none is open).
    pub session_busy: Duration,
}

/// Everything mutable.
#[derive(Debug)]
pub(crate) struct State {
    pub ledger: Ledger,
    pub faults: SysproFaults,
    pub rng: SplitMix,
    /// Session id (trimmed) to session.
    pub sessions: HashMap<String, Session>,
    /// Operator code (upper case) to its one session id.
    pub operator_sessions: HashMap<String, String>,
    pub operator_totals: BTreeMap<String, OperatorTotals>,
    pub endpoint_calls: BTreeMap<String, u64>,
    pub business_object_calls: BTreeMap<String, u64>,
    pub authenticated_calls: u64,
    pub company_date: Date,
}

impl State {
    pub fn count_endpoint(&mut self, endpoint: &str) {
        *self.endpoint_calls.entry(endpoint.to_owned()).or_default() += 1;
    }

    pub fn count_business_object(&mut self, endpoint: &str, business_object: &str) {
        *self
            .business_object_calls
            .entry(format!("{endpoint} {business_object}"))
            .or_default() += 1;
    }

    /// Adds simulated service time to the session and its operator.
    pub fn add_busy(&mut self, operator: &str, session_id: Option<&str>, busy: Duration) {
        if let Some(id) = session_id
            && let Some(session) = self.sessions.get_mut(id)
        {
            session.busy += busy;
        }
        let totals = self.operator_totals.entry(operator.to_owned()).or_default();
        totals.busy += busy;
        if session_id.is_some() {
            totals.session_busy += busy;
        }
    }

    /// Removes an operator's session (logoff, eviction, expiry, injected invalidation).
    pub fn end_session(&mut self, session_id: &str) {
        if let Some(session) = self.sessions.remove(session_id) {
            if self
                .operator_sessions
                .get(&session.operator)
                .map(String::as_str)
                == Some(session_id)
            {
                self.operator_sessions.remove(&session.operator);
            }
            if let Some(totals) = self.operator_totals.get_mut(&session.operator) {
                totals.session_busy = Duration::ZERO;
            }
        }
    }
}

/// Chart of accounts of the fake company: (code, description, type, group).
pub(crate) const CHART: &[(&str, &str, char, &str)] = &[
    ("00-1010", "Bank - current account", 'A', "CASH"),
    ("00-1200", "Accounts receivable control", 'A', "DEBTORS"),
    ("00-1400", "Inventory", 'A', "STOCK"),
    ("00-2100", "Accounts payable control", 'L', "CREDITORS"),
    ("00-2200", "Sales tax payable", 'L', "TAX"),
    ("00-3000", "Retained earnings", 'C', "EQUITY"),
    ("00-4010", "Revenue - web store", 'R', "SALES"),
    ("00-4020", "Revenue - B2B", 'R', "SALES"),
    ("00-4030", "Revenue - marketplace", 'R', "SALES"),
    ("00-4100", "Freight revenue", 'R', "SALES"),
    ("00-4200", "Discounts allowed", 'R', "SALES"),
    ("00-4999", "E-commerce clearing", 'R', "CLEARING"),
    ("00-5000", "Cost of sales", 'E', "COS"),
    ("00-6100", "Bank and card charges", 'E', "OVERHEADS"),
    ("00-9999", "Rounding differences", 'E', "OVERHEADS"),
];

/// Product classes: (code, description, sales account).
pub(crate) const PRODUCT_CLASSES: &[(&str, &str, &str)] = &[
    ("ECOM", "E-commerce clearing", "00-4999"),
    ("WEB", "Web store sales", "00-4010"),
    ("B2B", "B2B sales", "00-4020"),
    ("MKT", "Marketplace sales", "00-4030"),
    ("FRT", "Freight", "00-4100"),
];

/// Branches: (code, description, AR control account).
pub(crate) const BRANCHES: &[(&str, &str, &str)] = &[
    ("WB", "Web store", "00-1200"),
    ("MK", "Marketplace", "00-1200"),
    ("B2", "B2B trade", "00-1200"),
];

/// Terms: (code, description, days until due).
pub(crate) const TERMS: &[(&str, &str, i64)] = &[
    ("00", "Cash on order", 0),
    ("07", "7 days", 7),
    ("30", "30 days net", 30),
    ("60", "60 days net", 60),
];

/// Fixed customers present under every seed: (code, name, email, branch, terms).
pub(crate) const FIXED_CUSTOMERS: &[(&str, &str, &str, &str, &str)] = &[
    ("WEBCASH", "Web Store Cash Sales", "", "WB", "00"),
    ("MKTCASH", "Marketplace Cash Sales", "", "MK", "00"),
    ("B2BCASH", "B2B Cash Sales", "", "B2", "00"),
    (
        "MUELLER",
        "M\u{fc}ller G\u{e4}rten GmbH",
        "einkauf@mueller-gaerten.example",
        "B2",
        "30",
    ),
    (
        "CAFEZOE",
        "Caf\u{e9} Zo\u{eb} Ltd",
        "accounts@cafezoe.example",
        "B2",
        "30",
    ),
];

const FIRST_NAMES: &[&str] = &[
    "Amelia", "Bongani", "Chloe", "Dmitri", "Elif", "Farah", "Gustav", "Hana", "Ivan", "Jana",
    "Kofi", "Lucia", "Mateo", "Nadia", "Oskar", "Priya", "Quinn", "Rosa", "Sipho", "Tomas",
];
const LAST_NAMES: &[&str] = &[
    "Adams", "Botha", "Chen", "Dlamini", "Evans", "Fischer", "Garcia", "Hughes", "Ivanova",
    "Jensen", "Khumalo", "Lopez", "Moreau", "Naidoo", "Okafor", "Petrov", "Rossi", "Smith",
];

/// Number of generated (seed-dependent) named customers, codes `C00001`...
pub(crate) const GENERATED_CUSTOMERS: usize = 20;

fn customer(code: &str, name: &str, email: &str, branch: &str, terms: &str) -> Customer {
    let short: String = name.chars().take(20).collect();
    Customer {
        customer: code.to_owned(),
        name: name.to_owned(),
        short_name: short.to_uppercase(),
        email: email.to_owned(),
        branch: branch.to_owned(),
        terms_code: terms.to_owned(),
        currency: "USD".to_owned(),
        credit_limit: Decimal::new(500_000, 2),
        telephone: String::new(),
        contact: String::new(),
        salesperson: String::new(),
        customer_on_hold: false,
        other_fields: BTreeMap::new(),
    }
}

/// Builds the seeded books.
pub(crate) fn seed_ledger(
    rng: &mut SplitMix,
    extra_customers: &[SeedCustomer],
    history_invoices: usize,
    company_date: Date,
) -> Ledger {
    let mut ledger = Ledger {
        next_invoice_number: 100_000,
        next_sales_order: 15_000,
        ..Ledger::default()
    };
    for (code, description, account_type, group) in CHART {
        ledger.gl_accounts.insert(
            (*code).to_owned(),
            GlAccount {
                gl_code: (*code).to_owned(),
                description: (*description).to_owned(),
                account_type: *account_type,
                gl_group: (*group).to_owned(),
            },
        );
    }
    for (code, description, gl) in PRODUCT_CLASSES {
        ledger.product_classes.insert(
            (*code).to_owned(),
            ProductClass {
                product_class: (*code).to_owned(),
                description: (*description).to_owned(),
                sales_gl_code: (*gl).to_owned(),
            },
        );
    }
    for (code, description, gl) in BRANCHES {
        ledger.branches.insert(
            (*code).to_owned(),
            Branch {
                branch: (*code).to_owned(),
                description: (*description).to_owned(),
                ar_control_gl_code: (*gl).to_owned(),
            },
        );
    }
    for (code, description, days) in TERMS {
        ledger.terms.insert(
            (*code).to_owned(),
            Terms {
                terms_code: (*code).to_owned(),
                description: (*description).to_owned(),
                due_days: *days,
            },
        );
    }
    for (code, name, email, branch, terms) in FIXED_CUSTOMERS {
        ledger.customers.insert(
            (*code).to_owned(),
            customer(code, name, email, branch, terms),
        );
    }
    for n in 1..=GENERATED_CUSTOMERS {
        let first = FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize];
        let last = LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize];
        let code = format!("C{n:05}");
        let email = format!(
            "{}.{}{}@example.com",
            first.to_lowercase(),
            last.to_lowercase(),
            n
        );
        let (branch, terms) = if rng.below(4) == 0 {
            ("B2", "30")
        } else {
            ("WB", "00")
        };
        ledger.customers.insert(
            code.clone(),
            customer(&code, &format!("{first} {last}"), &email, branch, terms),
        );
    }
    for extra in extra_customers {
        ledger.customers.insert(
            extra.code.clone(),
            customer(&extra.code, &extra.name, &extra.email, "WB", "00"),
        );
    }
    let codes: Vec<String> = ledger
        .customers
        .keys()
        .filter(|c| c.starts_with('C'))
        .cloned()
        .collect();
    for n in 0..history_invoices {
        let code = &codes[n % codes.len()];
        let days_back = rng.below(365) as i64;
        let date = company_date - time::Duration::days(days_back);
        let cents = 500 + rng.below(250_000) as i64;
        let value = Decimal::new(cents, 2);
        let tax = (value * Decimal::new(15, 2) / Decimal::new(115, 2)).round_dp(2);
        let cust = &ledger.customers[code];
        let terms = ledger.terms.get(&cust.terms_code).map_or(0, |t| t.due_days);
        let invoice = Invoice {
            customer: code.clone(),
            invoice: format!("H{:07}", n + 1),
            document_type: 'I',
            invoice_date: date,
            due_date: date + time::Duration::days(terms),
            reference: format!("HIST-{}", n + 1),
            invoice_value: value,
            tax_value: tax,
            balance: if rng.below(3) == 0 {
                Decimal::ZERO
            } else {
                value
            },
            product_class: "WEB".to_owned(),
            branch: cust.branch.clone(),
            terms_code: cust.terms_code.clone(),
            currency: cust.currency.clone(),
            trn_year: date.year(),
            trn_month: date.month() as u8,
            customer_po_number: String::new(),
            sales_order: String::new(),
            posting_sequence: 0,
        };
        ledger.posting_sequence += 1;
        let invoice = Invoice {
            posting_sequence: ledger.posting_sequence,
            ..invoice
        };
        ledger
            .invoices
            .insert((code.clone(), invoice.invoice.clone(), 'I'), invoice);
    }
    ledger
}
