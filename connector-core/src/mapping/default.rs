//! The design's posting model: "AR invoice + GL journal", and "AR only" (the sales-order target is
//! planned in `sales_order`).
//!
//! # How the money is split
//!
//! * The ARSTIN invoice carries Commerce's `grand_total` exactly, on the clearing product class.
//! * The journal debits the clearing account with the same value (net of tax when SYSPRO books the
//!   tax itself, `accounts.tax_posting = "syspro"`), then for each money-carrying line
//!   ([`super::money_lines`]) credits its revenue account with the row total and, with a discount
//!   account mapped, debits that account with the row discount (without one, revenue is credited net
//!   of the discount); the shipping charge goes to freight the same way; row and shipping tax are
//!   credited to the tax account. Commerce's own row tax and discount amounts are used as given,
//!   never recomputed from rates.
//! * Whatever separates the grand total from the sum of those parts (per-row versus total-based tax
//!   rounding, discount rounding) is booked to the rounding account, explicitly, and only when it is
//!   not zero. A difference above `rounding_tolerance` is an error: it means an amount is missing.
//! * The header's tax and discount totals are checked against the sums of the line and shipping
//!   figures with the same tolerance, which catches a discount or tax that sits on no line.
//!
//! Journal entries are aggregated per account and purpose, so a document with many lines on one
//! account makes one entry; [`crate::plan::PostingPlan::allocations`] keeps the per-line detail.

use std::borrow::Cow;
use std::collections::BTreeMap;

use rust_decimal::Decimal;

use super::customer::customer_action;
use super::{Mapper, MappingContext, MappingError, money_lines, resolve_revenue_account};
use crate::config::{
    ConnectionConfig, INVOICE_NUMBER_PLACEHOLDERS, JOURNAL_REFERENCE_PLACEHOLDERS, MappingConfig,
    NOTATION_PLACEHOLDERS, PostingTarget, StoreMapping, TaxPosting,
};
use crate::plan::{
    AccountPurpose, Allocation, AmountSource, ArInvoiceItem, ArTransactionType, CreditMemoDetails,
    GlJournal, JournalLine, PostingPlan, SourceDocument, SourceRef, to_cents,
};

/// The mapper that implements the configured mapping for the `ar_invoice_gl_journal`, `ar_only` and
/// `sales_order` targets.
#[derive(Debug, Clone)]
pub struct DefaultMapper {
    mapping: MappingConfig,
    target: PostingTarget,
}

impl DefaultMapper {
    /// A mapper for a mapping and posting target.
    pub fn new(mapping: MappingConfig, target: PostingTarget) -> Self {
        Self { mapping, target }
    }

    /// A mapper for a configured connection.
    pub fn for_connection(connection: &ConnectionConfig) -> Self {
        Self::new(connection.mapping.clone(), connection.target)
    }

    /// The mapping it applies.
    pub fn mapping(&self) -> &MappingConfig {
        &self.mapping
    }
}

/// Names of a document used by templates.
pub(super) struct Keys<'a> {
    pub(super) doc: &'a SourceDocument,
    pub(super) store: &'a StoreMapping,
    pub(super) invoice: Option<&'a str>,
}

impl<'a> Keys<'a> {
    pub(super) fn value(&self, name: &str) -> Option<Cow<'a, str>> {
        let doc = self.doc;
        Some(match name {
            "store_prefix" => Cow::Borrowed(self.store.invoice_prefix.as_str()),
            "store_code" => Cow::Borrowed(doc.store_code.as_str()),
            "store_id" => Cow::Owned(doc.store_id.to_string()),
            "increment_id" => Cow::Borrowed(doc.increment_id.as_str()),
            "order_increment_id" => Cow::Borrowed(doc.order_increment_id.as_str()),
            "entity_id" => Cow::Owned(doc.entity_id.to_string()),
            "kind" => Cow::Borrowed(doc.kind.as_str()),
            "invoice" => Cow::Borrowed(self.invoice?),
            _ => return None,
        })
    }
}

/// The store mapping of `doc`, once its store is mapped, its currency allowed and the store's
/// branch known to SYSPRO.
pub(super) fn checked_store<'m>(
    m: &'m MappingConfig,
    doc: &SourceDocument,
    ctx: &MappingContext<'_>,
) -> Result<&'m StoreMapping, MappingError> {
    let store = m
        .stores
        .get(&doc.store_code)
        .ok_or_else(|| MappingError::UnknownStore {
            store: doc.store_code.clone(),
        })?;
    if !m.currencies.iter().any(|c| c == &doc.currency) {
        return Err(MappingError::CurrencyNotAllowed {
            currency: doc.currency.clone(),
            allowed: m.currencies.join(", "),
        });
    }
    if !ctx.reference.branches.contains(&store.branch) {
        return Err(MappingError::BranchNotInSyspro {
            branch: store.branch.clone(),
            store: doc.store_code.clone(),
        });
    }
    Ok(store)
}

pub(super) fn template_error(
    setting: &'static str,
) -> impl Fn(crate::config::TemplateError) -> MappingError {
    move |e| MappingError::Template {
        setting,
        message: e.to_string(),
    }
}

pub(super) fn non_negative(
    field: &'static str,
    line: &str,
    amount: Decimal,
) -> Result<Decimal, MappingError> {
    let amount = to_cents(amount);
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(MappingError::NegativeAmount {
            field,
            line: line.to_owned(),
            amount,
        });
    }
    Ok(amount)
}

impl Mapper for DefaultMapper {
    fn plan(
        &self,
        doc: &SourceDocument,
        ctx: &MappingContext<'_>,
    ) -> Result<PostingPlan, MappingError> {
        self.plan_document(doc, None, ctx)
    }

    fn plan_credit_memo(
        &self,
        doc: &SourceDocument,
        memo: &CreditMemoDetails,
        ctx: &MappingContext<'_>,
    ) -> Result<PostingPlan, MappingError> {
        self.plan_document(doc, Some(memo), ctx)
    }
}

impl DefaultMapper {
    /// Plans an invoice or order (`memo` absent) or a credit memo. A credit memo is planned like an
    /// invoice of the refunded amounts, plus its adjustment, then every journal entry and
    /// allocation is reversed: the credit note takes back from the clearing account what the
    /// invoice put there, so the journal debits revenue, freight and tax and credits clearing.
    fn plan_document(
        &self,
        doc: &SourceDocument,
        memo: Option<&CreditMemoDetails>,
        ctx: &MappingContext<'_>,
    ) -> Result<PostingPlan, MappingError> {
        let m = &self.mapping;
        let with_journal = match (self.target, memo) {
            (PostingTarget::ArInvoiceGlJournal, _) => true,
            (PostingTarget::ArOnly, _) => false,
            (PostingTarget::SalesOrder, None) => {
                return super::sales_order::plan_sales_order(m, doc, ctx);
            }
            (PostingTarget::SalesOrder, Some(_)) => {
                return Err(MappingError::UnsupportedDocument {
                    kind: doc.kind.as_str(),
                });
            }
        };
        let store = checked_store(m, doc, ctx)?;
        let (product_class, class_setting) = if with_journal {
            (
                &m.clearing_product_class,
                "mapping.clearing_product_class".to_owned(),
            )
        } else {
            match &store.product_class {
                Some(class) => (
                    class,
                    format!("mapping.stores.{}.product_class", doc.store_code),
                ),
                None => (
                    &m.clearing_product_class,
                    "mapping.clearing_product_class".to_owned(),
                ),
            }
        };
        if !ctx.reference.product_classes.contains(product_class) {
            return Err(MappingError::ProductClassNotInSyspro {
                product_class: product_class.clone(),
                purpose: class_setting,
            });
        }

        let customer = customer_action(m, store, doc, ctx)?;

        // Deterministic SYSPRO keys.
        let mut keys = Keys {
            doc,
            store,
            invoice: None,
        };
        let numbering = &m.invoice;
        let (number_template, number_setting) = match memo {
            Some(_) => (
                &m.credit_memos.number_template,
                "mapping.credit_memos.number_template",
            ),
            None => (
                &numbering.number_template,
                "mapping.invoice.number_template",
            ),
        };
        let invoice = number_template
            .render(INVOICE_NUMBER_PLACEHOLDERS, |n| keys.value(n))
            .map_err(template_error(number_setting))?;
        let length = invoice.chars().count();
        if length > numbering.max_length || invoice.trim().is_empty() {
            return Err(MappingError::InvoiceNumberTooLong {
                template: number_template.as_str().to_owned(),
                number: invoice,
                length,
                max: numbering.max_length,
            });
        }
        // The SYSPRO number of the invoice a credit memo refunds: the invoice template applied to
        // the invoice's increment id, in the same store.
        let credited_invoice = match memo.and_then(|d| d.invoice_increment_id.as_deref()) {
            Some(invoice_increment_id) => {
                let original = Keys {
                    doc,
                    store,
                    invoice: None,
                };
                Some(
                    numbering
                        .number_template
                        .render(INVOICE_NUMBER_PLACEHOLDERS, |n| match n {
                            "increment_id" => Some(Cow::Borrowed(invoice_increment_id)),
                            other => original.value(other),
                        })
                        .map_err(template_error("mapping.invoice.number_template"))?,
                )
            }
            None => None,
        };

        // The money.
        let tolerance = m.rounding_tolerance;
        let grand_total = to_cents(doc.grand_total);
        if grand_total.is_sign_negative() && !grand_total.is_zero() {
            return Err(MappingError::NegativeInvoiceValue { grand_total });
        }
        let mut parts = Vec::new();
        for line in money_lines(doc)? {
            let at = format!("line {}", line.item_id);
            let row_total = non_negative("row_total", &at, line.row_total)?;
            let row_discount = non_negative("row_discount", &at, line.row_discount)?;
            let row_tax = non_negative("row_tax", &at, line.row_tax)?;
            let account = if with_journal && !(row_total.is_zero() && row_discount.is_zero()) {
                let found = resolve_revenue_account(m, &doc.store_code, line).ok_or_else(|| {
                    MappingError::NoRevenueAccount {
                        sku: line.sku.clone(),
                        item_id: line.item_id,
                        name: line.name.clone(),
                        store: doc.store_code.clone(),
                    }
                })?;
                Some(found.account.to_owned())
            } else {
                None
            };
            parts.push(Part {
                source: AmountSource::Line {
                    item_id: line.item_id,
                    sku: line.sku.clone(),
                },
                purpose: AccountPurpose::Revenue,
                account,
                gross: row_total,
                discount: row_discount,
                tax: row_tax,
            });
        }
        parts.push(Part {
            source: AmountSource::Shipping,
            purpose: AccountPurpose::Freight,
            account: Some(m.accounts.freight.clone()),
            gross: non_negative("shipping_amount", "shipping", doc.shipping_amount)?,
            discount: non_negative("shipping_discount", "shipping", doc.shipping_discount)?,
            tax: non_negative("shipping_tax", "shipping", doc.shipping_tax)?,
        });

        if let Some(adjustment) = memo.map(|d| to_cents(d.adjustment))
            && !adjustment.is_zero()
        {
            let account = if with_journal {
                Some(m.credit_memos.adjustment_account.clone().ok_or(
                    MappingError::NoAdjustmentAccount {
                        increment_id: doc.increment_id.clone(),
                        adjustment,
                    },
                )?)
            } else {
                None
            };
            parts.push(Part {
                source: AmountSource::Document,
                purpose: AccountPurpose::Adjustment,
                account,
                gross: adjustment,
                discount: Decimal::ZERO,
                tax: Decimal::ZERO,
            });
        }

        let line_tax: Decimal = parts.iter().map(|p| p.tax).sum();
        let line_discount: Decimal = parts.iter().map(|p| p.discount).sum();
        for (total, header, lines) in [
            ("tax", to_cents(doc.tax_total), line_tax),
            (
                "discount",
                to_cents(doc.discount_total.abs()),
                line_discount,
            ),
        ] {
            if (header - lines).abs() > tolerance {
                return Err(MappingError::TotalsDisagree {
                    total,
                    header,
                    lines,
                    tolerance,
                });
            }
        }
        let parts_total: Decimal = parts.iter().map(|p| p.gross - p.discount + p.tax).sum();
        let difference = grand_total - parts_total;
        if difference.abs() > tolerance {
            return Err(MappingError::RoundingOverTolerance {
                grand_total,
                parts: parts_total,
                difference,
                tolerance,
            });
        }

        let tax_value = line_tax;
        let ar_invoice = ArInvoiceItem {
            transaction_type: match memo {
                Some(_) => ArTransactionType::CreditNote,
                None => ArTransactionType::Invoice,
            },
            customer: customer_code(&customer),
            invoice: invoice.clone(),
            invoice_date: doc.created_at.date(),
            reference: credited_invoice.unwrap_or_else(|| doc.increment_id.clone()),
            invoice_value: grand_total,
            tax_value,
            product_class: product_class.clone(),
            branch: store.branch.clone(),
            invoice_terms: store.invoice_terms.clone(),
            currency: doc.currency.clone(),
        };
        let source = SourceRef {
            kind: doc.kind,
            entity_id: doc.entity_id,
            increment_id: doc.increment_id.clone(),
            store_code: doc.store_code.clone(),
        };
        if !with_journal {
            return Ok(PostingPlan {
                source,
                customer,
                ar_invoice,
                journal: None,
                allocations: Vec::new(),
                rounding: Decimal::ZERO,
                sales_order: None,
            });
        }

        let mut allocations = allocate(m, &parts, grand_total, tax_value, difference);
        let sign = if memo.is_some() {
            Decimal::NEGATIVE_ONE
        } else {
            Decimal::ONE
        };
        for a in &mut allocations {
            a.amount *= sign;
        }
        for a in &allocations {
            if !ctx.reference.gl_accounts.contains(&a.account) {
                return Err(MappingError::GlAccountNotInSyspro {
                    account: a.account.clone(),
                    purpose: describe_allocation(a),
                });
            }
        }
        let lines = journal_lines(&allocations, &invoice);
        let debits: Decimal = lines.iter().map(|l| l.amount.max(Decimal::ZERO)).sum();
        let credits: Decimal = lines.iter().map(|l| (-l.amount).max(Decimal::ZERO)).sum();
        if debits != credits {
            return Err(MappingError::Unbalanced { debits, credits });
        }

        keys.invoice = Some(&invoice);
        let reference = numbering
            .journal_reference_template
            .render(JOURNAL_REFERENCE_PLACEHOLDERS, |n| keys.value(n))
            .map_err(template_error("mapping.invoice.journal_reference_template"))?;
        let notation = numbering
            .notation_template
            .render(NOTATION_PLACEHOLDERS, |n| keys.value(n))
            .map_err(template_error("mapping.invoice.notation_template"))?;
        let journal = (!lines.is_empty()).then(|| GlJournal {
            journal_date: doc.created_at.date(),
            reference,
            notation,
            lines,
        });
        Ok(PostingPlan {
            source,
            customer,
            ar_invoice,
            journal,
            allocations,
            rounding: -difference * sign,
            sales_order: None,
        })
    }
}

pub(super) fn customer_code(action: &crate::plan::CustomerAction) -> Option<String> {
    use crate::plan::CustomerAction as A;
    match action {
        A::Existing { code, .. } | A::Cash { code } => Some(code.clone()),
        A::Create(new) => Some(new.code.clone()),
        A::MatchByEmail { .. } => None,
    }
}

/// One money-carrying part of the document before it is split onto accounts.
struct Part {
    source: AmountSource,
    purpose: AccountPurpose,
    /// `None` only for a line without revenue (tax only) or for the AR-only target.
    account: Option<String>,
    gross: Decimal,
    discount: Decimal,
    tax: Decimal,
}

/// Splits the parts onto accounts; the result sums to zero by construction.
fn allocate(
    m: &MappingConfig,
    parts: &[Part],
    grand_total: Decimal,
    tax_value: Decimal,
    difference: Decimal,
) -> Vec<Allocation> {
    let acc = &m.accounts;
    let tax_in_journal = acc.tax_posting == TaxPosting::Journal;
    let mut out = Vec::new();
    let mut push = |source: &AmountSource, purpose, account: &str, amount: Decimal| {
        if !amount.is_zero() {
            out.push(Allocation {
                source: source.clone(),
                purpose,
                account: account.to_owned(),
                amount,
            });
        }
    };
    let clearing = if tax_in_journal {
        grand_total
    } else {
        grand_total - tax_value
    };
    push(
        &AmountSource::Document,
        AccountPurpose::Clearing,
        &acc.clearing,
        clearing,
    );
    for part in parts {
        if let Some(account) = &part.account {
            match &acc.discount {
                Some(discount_account) => {
                    push(&part.source, part.purpose, account, -part.gross);
                    push(
                        &part.source,
                        AccountPurpose::Discount,
                        discount_account,
                        part.discount,
                    );
                }
                None => push(
                    &part.source,
                    part.purpose,
                    account,
                    part.discount - part.gross,
                ),
            }
        }
        if tax_in_journal && let Some(tax_account) = &acc.tax {
            push(&part.source, AccountPurpose::Tax, tax_account, -part.tax);
        }
    }
    push(
        &AmountSource::Document,
        AccountPurpose::Rounding,
        &acc.rounding,
        -difference,
    );
    out
}

fn describe_allocation(a: &Allocation) -> String {
    match &a.source {
        AmountSource::Line { item_id, sku } => {
            format!("{} for SKU {sku:?}, line {item_id}", a.purpose.as_str())
        }
        AmountSource::Shipping => format!("{} of shipping", a.purpose.as_str()),
        AmountSource::Document if a.purpose == AccountPurpose::Adjustment => {
            "mapping.credit_memos.adjustment_account".to_owned()
        }
        AmountSource::Document => format!("mapping.accounts.{}", a.purpose.as_str()),
    }
}

/// Aggregates allocations per (purpose, account), in a stable order: clearing, revenue by account,
/// freight, discount, tax, rounding. Entries that net to zero are left out.
fn journal_lines(allocations: &[Allocation], invoice: &str) -> Vec<JournalLine> {
    let mut sums: BTreeMap<(AccountPurpose, &str), Decimal> = BTreeMap::new();
    for a in allocations {
        *sums.entry((a.purpose, a.account.as_str())).or_default() += a.amount;
    }
    sums.into_iter()
        .filter(|(_, amount)| !amount.is_zero())
        .map(|((purpose, account), amount)| JournalLine {
            ledger_code: account.to_owned(),
            amount,
            purpose,
            comment: format!("{} {invoice}", purpose.as_str()),
        })
        .collect()
}
