//! Mapping, customer resolution, batched posting, per-item outcomes and reconciliation.
//!
//! The order of writes is what makes posting safe: a record is moved to `posting` (durably) before
//! its ARSTIN item is sent, the documents sent and SYSPRO's answers are appended to the audit trail
//! as they happen, and an item whose answer is lost is looked up in SYSPRO (by customer and the
//! deterministic invoice number) before anything is sent again. GL journals are looked up in the
//! ledger by their reference before they are sent (see `journal_check`), so a lost GENTJL answer
//! never leads to a second journal.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use syspro_client::bo::{self, ArInvoicePosting, GlJournalPosting};
use time::OffsetDateTime;
use tokio::sync::watch;

use super::convert::{self, ConversionError};
use super::journal_check::JournalLookup;
use super::pipeline::Progress;
use super::writes::{Outgoing, Pending, sent_of};
use super::{Engine, EngineError, EngineEvent, error_chain};
use crate::audit::{AuditEntry, AuditKind, AuditQuery};
use crate::config::RevenueSelector;
use crate::mapping::{MappingContext, ReferenceData};
use crate::plan::{CustomerAction, NewCustomer, PostingPlan, SourceDocument};
use crate::state::{
    EntityKind, Record, RecordFilter, RecordKey, RecordState, StoreError, SysproKeys, Target,
    Transition,
};

/// What planning a record gave.
pub(crate) enum Planned {
    /// A plan with a known customer code.
    Ready(Box<PostingPlan>),
    /// The record must wait for a person.
    Halt(String),
    /// A transient failure; try again later.
    Transient(String),
}

/// What SYSPRO did with one item of a document.
#[derive(Debug, Clone)]
enum Delivery {
    Accepted(Value),
    Rejected(String, Value),
    /// Nothing was done; the same item may be sent again.
    Transient(String),
    /// The item may or may not have been applied.
    Unknown(String),
    /// Not sent (see [`Engine::send_fenced`]), with why. The record stays in `posting` for
    /// reconciliation; nothing more of its batch goes to SYSPRO.
    NotSent(String),
}

/// A journal whose AR invoice SYSPRO holds, waiting to be sent.
pub(crate) struct JournalToSend {
    pub(crate) record: Record,
    pub(crate) plan: PostingPlan,
    /// The invoice was created by the ARSTIN call just made, so SYSPRO cannot hold the journal
    /// yet and the ledger need not be asked.
    pub(crate) fresh: bool,
}

/// Where a record's GL journal stands according to the audit trail of its current attempt.
enum JournalState {
    NotSent,
    SentUnanswered,
    Accepted,
}

const JOURNAL_SENT: &str = "GENTJL journal";
const JOURNAL_ACCEPTED: &str = "GENTJL accepted journal";

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

fn is_too_large(error: &syspro_client::Error) -> bool {
    match error {
        syspro_client::Error::Status { status, .. } => matches!(status, 413 | 414),
        syspro_client::Error::Rejected { message, .. } => {
            let m = message.to_lowercase();
            m.contains("too large") || m.contains("too long") || m.contains("maximum size")
        }
        _ => false,
    }
}

fn messages_text(messages: &bo::Messages) -> String {
    messages
        .errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn classify(error: &syspro_client::Error) -> Delivery {
    let text = error.to_string();
    if error.is_outcome_unknown() {
        Delivery::Unknown(text)
    } else if super::worth_retrying(error) {
        Delivery::Transient(text)
    } else {
        Delivery::Rejected(text, Value::Null)
    }
}

/// How the audit trail and the cycle's errors name a document left unsent, with the reason after
/// it: the connection's lease was lost, or what was to be sent could not be stored first (see
/// [`Engine::send_fenced`]).
pub(crate) const NOT_SENT: &str = "not sent, left in posting for reconciliation";

/// How the audit trail begins the `sent` entry of an AR invoice, a GL journal and a sales order.
const DOCUMENT_SENT: [&str; 3] = ["ARSTIN invoice ", JOURNAL_SENT, "SORTOI sales order "];

/// How the audit trail begins a document's unknown outcome (its answer was lost).
const OUTCOME_UNKNOWN: &str = "outcome of ";

/// Documents read from the store per mapping page.
const DOCUMENT_PAGE: usize = 200;
/// Customer records per page.
const CUSTOMER_PAGE: usize = 200;

impl Engine {
    pub(crate) fn source_document(
        &self,
        record: &Record,
    ) -> Result<SourceDocument, ConversionError> {
        let connection = &self.inner.connection;
        match record.key.kind {
            EntityKind::Invoice => {
                let (invoice, order) = convert::invoice_from_payload(&record.payload)?;
                convert::invoice_document(connection, &invoice, &order)
            }
            EntityKind::CreditMemo => {
                let (memo, order, invoice) = convert::credit_memo_from_payload(&record.payload)?;
                convert::credit_memo_document(connection, &memo, &order, invoice.as_ref())
                    .map(|(doc, _)| doc)
            }
            _ => {
                let order = convert::order_from_payload(&record.payload)?;
                convert::order_document(connection, &order)
            }
        }
    }

    /// Fills category ids and attribute sets from the catalogue when revenue rules need them.
    async fn enrich(&self, doc: &mut SourceDocument) -> Result<(), String> {
        let needs_catalogue = self.inner.connection.mapping.revenue.iter().any(|rule| {
            rule.selectors().iter().any(|s| {
                matches!(
                    s,
                    RevenueSelector::Category(_) | RevenueSelector::AttributeSet(_)
                )
            })
        });
        if !needs_catalogue {
            return Ok(());
        }
        let mut seen: HashMap<String, (Vec<u64>, Option<u64>)> = HashMap::new();
        for line in &mut doc.lines {
            if line.sku.is_empty() {
                continue;
            }
            if !seen.contains_key(&line.sku) {
                let product = self.inner.commerce.products().get(&line.sku).send().await;
                let product = self
                    .commerce_call("products.get", product)
                    .map_err(|e| error_chain(&e))?;
                let mut categories: Vec<u64> = product
                    .custom_attribute("category_ids")
                    .and_then(Value::as_array)
                    .map(|ids| {
                        ids.iter()
                            .filter_map(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(links) = product
                    .extension_attributes
                    .as_ref()
                    .and_then(|e| e.get("category_links"))
                    .and_then(Value::as_array)
                {
                    categories.extend(links.iter().filter_map(|l| {
                        let id = l.get("category_id")?;
                        id.as_u64().or_else(|| id.as_str()?.parse().ok())
                    }));
                }
                let set = product.attribute_set_id.and_then(|s| u64::try_from(s).ok());
                seen.insert(line.sku.clone(), (categories, set));
            }
            if let Some((categories, set)) = seen.get(&line.sku) {
                line.category_ids.clone_from(categories);
                line.attribute_set_id = *set;
            }
        }
        Ok(())
    }

    /// Plans a document record: converts, maps, and resolves the SYSPRO customer (matching by
    /// email in SYSPRO and creating it when the mapping allows).
    pub(crate) async fn plan_record(
        &self,
        record: &Record,
        reference: &ReferenceData,
        customers_created: &mut usize,
    ) -> Result<Planned, StoreError> {
        self.plan_source(
            record,
            self.source_document(record),
            reference,
            customers_created,
        )
        .await
    }

    /// Plans a claimed record: takes the plan the mapping stage made from the payload the record
    /// holds, or plans it again when none was kept.
    pub(crate) async fn plan_claimed(
        &self,
        record: &Record,
        reference: &ReferenceData,
        customers_created: &mut usize,
    ) -> Result<Planned, StoreError> {
        if let Some(plan) = self.inner.plans.take(record) {
            return Ok(Planned::Ready(plan));
        }
        self.plan_record(record, reference, customers_created).await
    }

    /// [`Engine::plan_record`] with the record's source document already read.
    async fn plan_source(
        &self,
        record: &Record,
        source: Result<SourceDocument, ConversionError>,
        reference: &ReferenceData,
        customers_created: &mut usize,
    ) -> Result<Planned, StoreError> {
        let mut doc = match source {
            Ok(doc) => doc,
            Err(e) => return Ok(Planned::Halt(e.to_string())),
        };
        if let Err(e) = self.enrich(&mut doc).await {
            return Ok(Planned::Transient(e));
        }
        let mapper = &self.inner.mapper;
        let memo = self.credit_memo_details(record);
        let plan_with = |code: Option<&str>| {
            let ctx = MappingContext {
                customer_code: code,
                reference,
            };
            match &memo {
                Some(details) => mapper.plan_credit_memo(&doc, details, &ctx),
                None => mapper.plan(&doc, &ctx),
            }
        };
        // Planned first without a known code, so the explicit customer table keeps precedence
        // over a code learnt by email.
        let mut plan = match plan_with(None) {
            Ok(plan) => plan,
            Err(e) => return Ok(Planned::Halt(e.to_string())),
        };
        if let CustomerAction::Cash { code } = &plan.customer
            && let Some(store) = self.missing_cash_customer(code)
        {
            return Ok(Planned::Halt(format!(
                "cash customer {code:?} (mapping.stores.{store}.cash_customer) does not exist in SYSPRO"
            )));
        }
        if matches!(plan.customer, CustomerAction::MatchByEmail { .. })
            && let Some(code) = self.cached_customer(&doc.customer.email)
        {
            plan = match plan_with(Some(&code)) {
                Ok(plan) => plan,
                Err(e) => return Ok(Planned::Halt(e.to_string())),
            };
        }
        let new_customer = match &plan.customer {
            CustomerAction::Existing { .. } | CustomerAction::Cash { .. } => {
                return Ok(Planned::Ready(Box::new(plan)));
            }
            CustomerAction::Create(new) => {
                // Created earlier (possibly by a batched ARSSCS document): not sent again.
                if self.cached_customer(&new.email).as_deref() == Some(new.code.as_str()) {
                    return Ok(match plan_with(Some(&new.code)) {
                        Ok(plan) => Planned::Ready(Box::new(plan)),
                        Err(e) => Planned::Halt(e.to_string()),
                    });
                }
                Some(new.clone())
            }
            CustomerAction::MatchByEmail {
                email,
                otherwise_create,
            } => {
                // A batched look-up that found nobody answers for this record once.
                let found = if self.take_absent_email(email) {
                    Ok(Vec::new())
                } else {
                    let found = self.on_session(|s| s.find_customers_by_email(email)).await;
                    self.syspro_call("COMFND", found)
                };
                match found {
                    Ok(rows) => match rows.first() {
                        Some(row) => {
                            self.remember_customer(email, &row.customer);
                            self.audit(
                                &record.key,
                                AuditKind::Decided,
                                format!("matched SYSPRO customer {} by email", row.customer),
                                None,
                            )
                            .await?;
                            return Ok(match plan_with(Some(&row.customer)) {
                                Ok(plan) => Planned::Ready(Box::new(plan)),
                                Err(e) => Planned::Halt(e.to_string()),
                            });
                        }
                        None => match otherwise_create {
                            Some(new) => Some(new.clone()),
                            None => {
                                return Ok(Planned::Halt(format!(
                                    "no SYSPRO customer for Commerce customer {} <{email}>: not in customers.by_id or customers.by_email, no SYSPRO customer has this email, and customers.create.enabled is false",
                                    doc.customer.id.map_or_else(
                                        || "without id".to_owned(),
                                        |id| id.to_string()
                                    )
                                )));
                            }
                        },
                    },
                    Err(e) => return Ok(self.planned_from_error(&e)),
                }
            }
        };
        let Some(new) = new_customer else {
            return Ok(Planned::Halt(
                "no SYSPRO customer could be determined".to_owned(),
            ));
        };
        match self
            .create_customer(&record.key, &new, customers_created)
            .await?
        {
            Ok(code) => Ok(match plan_with(Some(&code)) {
                Ok(plan) => Planned::Ready(Box::new(plan)),
                Err(e) => Planned::Halt(e.to_string()),
            }),
            Err(planned) => Ok(planned),
        }
    }

    fn planned_from_error(&self, error: &EngineError) -> Planned {
        match error {
            EngineError::Syspro { source, .. } if super::worth_retrying(source) => {
                Planned::Transient(error_chain(error))
            }
            _ => Planned::Halt(error_chain(error)),
        }
    }

    /// Creates a SYSPRO customer (ARSSCS Setup/Add); an existing code counts as created.
    pub(super) async fn create_customer(
        &self,
        key: &crate::state::RecordKey,
        new: &NewCustomer,
        customers_created: &mut usize,
    ) -> Result<Result<String, Planned>, StoreError> {
        let record = convert::customer_record(new);
        self.audit(
            key,
            AuditKind::Sent,
            format!("ARSSCS add customer {}", new.code),
            serde_json::to_value(&record).ok(),
        )
        .await?;
        let answer = self.on_session(|s| s.add_customer(&record)).await;
        let result = match self.syspro_call("ARSSCS", answer) {
            Ok(result) => result,
            Err(e) => {
                // A lost answer is settled by looking for the email before anything else is sent.
                if let EngineError::Syspro { source, .. } = &e
                    && source.is_outcome_unknown()
                {
                    let found = self
                        .on_session(|s| s.find_customers_by_email(&new.email))
                        .await;
                    if let Ok(rows) = self.syspro_call("COMFND", found)
                        && let Some(row) = rows.into_iter().find(|r| r.customer == new.code)
                    {
                        self.remember_customer(&new.email, &row.customer);
                        return Ok(Ok(row.customer));
                    }
                    return Ok(Err(Planned::Transient(error_chain(&e))));
                }
                return Ok(Err(self.planned_from_error(&e)));
            }
        };
        let answer_doc = serde_json::to_value(&result).ok();
        let errors = result
            .errors()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if result.is_success() || errors.to_lowercase().contains("already exists") {
            self.audit(
                key,
                AuditKind::Answered,
                format!("ARSSCS: customer {} is in SYSPRO", new.code),
                answer_doc,
            )
            .await?;
            if result.is_success() {
                *customers_created += 1;
                self.emit(EngineEvent::CustomerCreated {
                    code: new.code.clone(),
                });
            }
            self.remember_customer(&new.email, &new.code);
            Ok(Ok(new.code.clone()))
        } else {
            self.audit(
                key,
                AuditKind::Answered,
                format!("ARSSCS refused customer {}: {errors}", new.code),
                answer_doc,
            )
            .await?;
            Ok(Err(Planned::Halt(format!(
                "SYSPRO refused to create customer {}: {errors}",
                new.code
            ))))
        }
    }

    /// The rendered plan for the audit trail: exactly the documents that will be sent.
    fn rendered(plan: &PostingPlan) -> Value {
        if let Some(sales_order) = Self::rendered_sales_order(plan) {
            return json!({
                "customer": format!("{:?}", plan.customer),
                "sales_order": sales_order,
            });
        }
        json!({
            "customer": format!("{:?}", plan.customer),
            "ar_invoice": convert::ar_invoice_item(plan),
            "gl_journal": plan.journal.as_ref().map(convert::gl_journal),
            "allocations": plan.allocations.iter().map(|a| json!({
                "source": format!("{:?}", a.source),
                "purpose": a.purpose.as_str(),
                "account": a.account,
                "amount": a.amount.to_string(),
            })).collect::<Vec<_>>(),
            "rounding": plan.rounding.to_string(),
        })
    }

    fn keys_of(plan: &PostingPlan) -> SysproKeys {
        if plan.sales_order.is_some() {
            // No AR invoice or journal is posted; the sales order's number is in the audit trail.
            return SysproKeys {
                invoice: None,
                journal: None,
                customer: plan.ar_invoice.customer.clone(),
            };
        }
        SysproKeys {
            invoice: Some(plan.ar_invoice.invoice.clone()),
            journal: plan.journal.as_ref().map(|j| j.reference.clone()),
            customer: plan.ar_invoice.customer.clone(),
        }
    }

    /// Maps every record in `received`: documents become `mapped` or `halted`; customers are
    /// matched or created in SYSPRO. Returns how many documents became `mapped`.
    ///
    /// Customer records are worked on after the documents, a page at a time, and only when
    /// `with_customers` (once reading is over); documents mapped earlier are meanwhile posted.
    ///
    /// In a pipelined cycle, `pipeline` hears of every batch of documents made durable in `mapped`, as
    /// it happens, so the poster can start on them while the pass goes on; and the pass waits
    /// while enough mapped documents wait for the poster.
    pub(crate) async fn map_received(
        &self,
        reference: &ReferenceData,
        summary: &mut super::CycleSummary,
        pipeline: Option<&Progress>,
        with_customers: bool,
    ) -> Result<usize, EngineError> {
        let mut mapped = 0;
        // Documents whose mapping was postponed (a look-up failed) wait for the next pass.
        let mut postponed = HashSet::new();
        loop {
            let mut found = false;
            for kind in self.posting_kinds() {
                // From the start each round: keys are text, so a document read later may sort
                // before one mapped already.
                let mut after = None;
                while let Some(mut page) =
                    self.received_page(kind, &mut after, DOCUMENT_PAGE).await?
                {
                    page.retain(|record| !postponed.contains(&record.key));
                    if page.is_empty() {
                        continue;
                    }
                    found = true;
                    mapped += self
                        .map_documents(page, reference, summary, pipeline, &mut postponed)
                        .await?;
                }
            }
            if !found {
                break;
            }
        }
        // Customer records come after the documents: a customer created for a document is then
        // noted as created before its own record looks for it.
        if with_customers && self.streams().contains(&EntityKind::Customer) {
            self.map_customers(reference, summary).await?;
        }
        Ok(mapped)
    }

    /// Matches or creates the SYSPRO customer of every customer record in `received`, a page at a
    /// time: a page's look-ups and creations are batched, and its outcomes written together.
    async fn map_customers(
        &self,
        reference: &ReferenceData,
        summary: &mut super::CycleSummary,
    ) -> Result<(), EngineError> {
        let mut after = None;
        while let Some(page) = self
            .received_page(EntityKind::Customer, &mut after, CUSTOMER_PAGE)
            .await?
        {
            summary.customers_created += self.prepare_customers(&page, &[], reference).await?;
            let mut pending = Pending::default();
            for record in page {
                // A closing engine works on no further customer: the rest stay `received`.
                if self.closing() {
                    break;
                }
                self.process_customer(&record, &mut pending, summary)
                    .await?;
            }
            self.settle_customers(&mut pending, summary).await?;
        }
        Ok(())
    }

    /// The next page of `kind` records in `received` after `after`, which moves on past it; `None`
    /// when there are no more, or once the engine is closing (what is left is mapped at the
    /// connection's next start).
    async fn received_page(
        &self,
        kind: EntityKind,
        after: &mut Option<RecordKey>,
        limit: usize,
    ) -> Result<Option<Vec<Record>>, EngineError> {
        if self.closing() {
            return Ok(None);
        }
        let page = self
            .inner
            .store
            .list(&RecordFilter {
                connection: Some(self.inner.name.clone()),
                state: Some(RecordState::Received),
                kind: Some(kind),
                after: after.clone(),
                limit,
            })
            .await?;
        let Some(last) = page.last() else {
            return Ok(None);
        };
        *after = Some(last.key.clone());
        Ok(Some(page))
    }

    /// Maps a page of documents. Outcomes are written a batch at a time, so the poster gets full
    /// batches early and a page costs a few transactions rather than two per document.
    async fn map_documents(
        &self,
        page: Vec<Record>,
        reference: &ReferenceData,
        summary: &mut super::CycleSummary,
        pipeline: Option<&Progress>,
        postponed: &mut HashSet<RecordKey>,
    ) -> Result<usize, EngineError> {
        // Each document is read from its payload once, for the customer look-ups and the plan.
        if self.closing() {
            return Ok(0);
        }
        let sources: Vec<_> = page.iter().map(|r| self.source_document(r)).collect();
        summary.customers_created += self.prepare_customers(&page, &sources, reference).await?;
        let flush_every = self.batch_size();
        let mut mapped = 0;
        let mut pending = Pending::default();
        let mut staged = 0;
        // Halts staged since the last flush, reported once their moves are written.
        let mut halts = Vec::new();
        for (record, source) in page.into_iter().zip(sources) {
            // A closing engine plans no more: what is left stays `received` for the next start.
            if self.closing() {
                break;
            }
            // A page's plans are CPU work without a wait: other tasks (the poster's answers
            // among them) get their turn between records.
            tokio::task::yield_now().await;
            match self
                .plan_source(&record, source, reference, &mut summary.customers_created)
                .await?
            {
                Planned::Ready(plan) => {
                    self.stage_audit(
                        &mut pending,
                        &record.key,
                        AuditKind::Rendered,
                        if plan.sales_order.is_some() {
                            format!("plan rendered: sales order {}", plan.ar_invoice.invoice)
                        } else {
                            format!("plan rendered: AR invoice {}", plan.ar_invoice.invoice)
                        },
                        Some(Self::rendered(&plan)),
                    );
                    self.stage_decided(
                        &mut pending,
                        &record,
                        Target::Mapped {
                            syspro: Self::keys_of(&plan),
                        },
                        "mapped",
                    );
                    self.inner.plans.keep(&record, plan);
                    staged += 1;
                }
                Planned::Halt(reason) => {
                    self.inner.plans.forget(&record.key);
                    self.stage_decided(
                        &mut pending,
                        &record,
                        Target::Halted {
                            reason: reason.clone(),
                        },
                        "halted",
                    );
                    halts.push((record.key, reason));
                }
                Planned::Transient(reason) => {
                    self.inner.plans.forget(&record.key);
                    tracing::warn!(
                        connection = %self.inner.name,
                        record = %record.key,
                        reason,
                        "mapping postponed"
                    );
                    postponed.insert(record.key.clone());
                }
            }
            if staged >= flush_every {
                staged -= self.flush_mapped(&mut pending, &mut halts, summary).await?;
                if let Some(pipeline) = pipeline {
                    pipeline.note_mapped(staged);
                    pipeline.wait_for_room().await;
                }
                mapped += staged;
                staged = 0;
            }
        }
        staged -= self.flush_mapped(&mut pending, &mut halts, summary).await?;
        if let Some(pipeline) = pipeline
            && staged > 0
        {
            pipeline.note_mapped(staged);
        }
        Ok(mapped + staged)
    }

    /// Stages the move a mapping pass decided for `record`. It expects the version the decision
    /// was made on: a newer version stored meanwhile refuses it (see [`Engine::flush_mapped`]).
    fn stage_decided(&self, pending: &mut Pending, record: &Record, to: Target, message: &str) {
        self.stage_transition(
            pending,
            Transition::new(record.key.clone(), record.state, to, message)
                .expecting_version(record.version),
        );
    }

    /// Writes what a mapping pass staged, as [`Engine::flush`] does, except for a move to
    /// `mapped` or `halted` refused because the record took a newer version while it was planned:
    /// that is no failure. The decision on the older version is set aside (the audit trail says
    /// so, after its "plan rendered" entry when there is one) and the record, still `received`, is
    /// planned again from its newer version in the same pass. The halts in `halts` whose moves
    /// were written go to the summary. Returns how many moves to `mapped` were refused.
    async fn flush_mapped(
        &self,
        pending: &mut Pending,
        halts: &mut Vec<(RecordKey, String)>,
        summary: &mut super::CycleSummary,
    ) -> Result<usize, StoreError> {
        let mut set_aside = Pending::default();
        let mut refused = HashSet::new();
        let mut refused_mapped = 0;
        let mut failure = None;
        for outcome in self.write_pending(pending).await? {
            match outcome.result {
                Ok(()) => {}
                Err(StoreError::VersionConflict {
                    expected, actual, ..
                }) if matches!(outcome.to, RecordState::Mapped | RecordState::Halted) => {
                    self.inner.plans.forget(&outcome.key);
                    let what = if outcome.to == RecordState::Mapped {
                        refused_mapped += 1;
                        "plan set aside: it was made from"
                    } else {
                        "halt set aside: it was decided on"
                    };
                    self.stage_audit(
                        &mut set_aside,
                        &outcome.key,
                        AuditKind::Decided,
                        format!(
                            "{what} version {expected} of the record; version {actual} was \
                             stored meanwhile and is planned again"
                        ),
                        None,
                    );
                    refused.insert(outcome.key);
                }
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        // Written whatever else failed, so no "plan rendered" entry is left unexplained.
        self.flush(&mut set_aside).await?;
        if let Some(e) = failure {
            return Err(e);
        }
        summary.halted.extend(
            std::mem::take(halts)
                .into_iter()
                .filter(|(key, _)| !refused.contains(key)),
        );
        Ok(refused_mapped)
    }

    pub(super) async fn halt(
        &self,
        record: &Record,
        reason: String,
        summary: &mut super::CycleSummary,
    ) -> Result<(), StoreError> {
        let mut pending = Pending::default();
        self.stage_halt(&mut pending, record, reason, summary);
        self.flush(&mut pending).await
    }

    /// Stages the move of `record` to `halted`, waiting for a fix and a replay.
    pub(crate) fn stage_halt(
        &self,
        pending: &mut Pending,
        record: &Record,
        reason: String,
        summary: &mut super::CycleSummary,
    ) {
        self.stage_move(
            pending,
            record,
            Target::Halted {
                reason: reason.clone(),
            },
            "halted",
            None,
        );
        summary.halted.push((record.key.clone(), reason));
    }

    /// `retry_wait` with capped, jittered exponential backoff, or `dead` when attempts ran out.
    pub(crate) async fn retry_later(
        &self,
        record: &Record,
        reason: String,
        summary: &mut super::CycleSummary,
    ) -> Result<(), StoreError> {
        let mut pending = Pending::default();
        self.stage_retry(&mut pending, record, reason, summary);
        self.flush(&mut pending).await
    }

    /// Stages what [`Engine::retry_later`] writes.
    pub(crate) fn stage_retry(
        &self,
        pending: &mut Pending,
        record: &Record,
        reason: String,
        summary: &mut super::CycleSummary,
    ) {
        let options = &self.inner.options;
        if record.attempts >= self.inner.connection.max_attempts {
            self.stage_move(
                pending,
                record,
                Target::Dead {
                    reason: format!("{reason} (after {} attempts)", record.attempts),
                },
                "attempts exhausted",
                None,
            );
            summary.dead += 1;
            return;
        }
        let exponent = record.attempts.saturating_sub(1).min(20);
        let ceiling = options
            .retry_initial
            .checked_mul(1u32 << exponent)
            .unwrap_or(options.retry_max)
            .min(options.retry_max);
        // Jitter between half and all of the ceiling, derived from the record and attempt so that
        // records failing together do not come back together.
        let digest = Sha256::digest(format!("{}#{}", record.key, record.attempts).as_bytes());
        let fraction = 0.5 + f64::from(digest[0]) / 510.0;
        let delay = ceiling.mul_f64(fraction);
        let next = self.inner.clock.now()
            + time::Duration::try_from(delay).unwrap_or(time::Duration::ZERO);
        self.stage_move(
            pending,
            record,
            Target::RetryWait {
                next_attempt_at: next,
                reason,
            },
            "transient failure, will retry",
            None,
        );
        summary.retried += 1;
    }

    pub(crate) async fn mark_posted(
        &self,
        record: &Record,
        plan: &PostingPlan,
        message: &str,
        summary: &mut super::CycleSummary,
    ) -> Result<(), StoreError> {
        let mut pending = Pending::default();
        self.stage_posted(&mut pending, record, plan, message, summary);
        self.flush(&mut pending).await
    }

    /// Stages the move of `record` to `posted` with the SYSPRO keys of `plan`.
    pub(crate) fn stage_posted(
        &self,
        pending: &mut Pending,
        record: &Record,
        plan: &PostingPlan,
        message: &str,
        summary: &mut super::CycleSummary,
    ) {
        self.stage_move(
            pending,
            record,
            Target::Posted {
                syspro: Self::keys_of(plan),
            },
            message,
            None,
        );
        summary.posted += 1;
    }

    /// Claims and posts due records batch by batch until none is due (or a shutdown is asked for).
    pub(crate) async fn post_due(
        &self,
        reference: &ReferenceData,
        summary: &mut super::CycleSummary,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<(), EngineError> {
        let batch_size = self.batch_size();
        loop {
            if self.closing() {
                summary.interrupted = true;
                return Ok(());
            }
            if stop.is_some_and(|stop| *stop.borrow()) {
                summary.interrupted = true;
                return Ok(());
            }
            // Under a lease, a claim is made only while the lease is still this worker's.
            self.renew_if_under_lease().await?;
            let batch = self.claim(batch_size).await?;
            if batch.is_empty() {
                return Ok(());
            }
            self.post_batch(batch, reference, summary).await?;
        }
    }

    /// Posts one claimed batch: one ARSTIN document, then one GENTJL document with the journals of
    /// the accepted invoices.
    ///
    /// Store writes are gathered and made durable at three points: before the invoices are sent
    /// (what is sent), before the journals are sent (the invoices' answers and the moves they
    /// decide, and what is sent), and at the end (the journals' answers and the final moves).
    pub(crate) async fn post_batch(
        &self,
        records: Vec<Record>,
        reference: &ReferenceData,
        summary: &mut super::CycleSummary,
    ) -> Result<(), EngineError> {
        if self.posts_sales_orders() {
            return self
                .post_sales_order_batch(records, reference, summary)
                .await;
        }
        let mut pending = Pending::default();
        let mut ready: Vec<(Record, PostingPlan, bo::ArInvoiceItem)> = Vec::new();
        for record in records {
            match self
                .plan_claimed(&record, reference, &mut summary.customers_created)
                .await?
            {
                Planned::Ready(plan) => match convert::ar_invoice_item(&plan) {
                    Some(item) => ready.push((record, *plan, item)),
                    None => self.stage_halt(
                        &mut pending,
                        &record,
                        "the plan has no SYSPRO customer".to_owned(),
                        summary,
                    ),
                },
                Planned::Halt(reason) => self.stage_halt(&mut pending, &record, reason, summary),
                Planned::Transient(reason) => {
                    self.stage_retry(&mut pending, &record, reason, summary);
                }
            }
        }
        for (record, _, item) in &ready {
            self.stage_audit(
                &mut pending,
                &record.key,
                AuditKind::Sent,
                format!(
                    "ARSTIN invoice {} (batch of {})",
                    item.invoice.as_deref().unwrap_or(""),
                    ready.len()
                ),
                serde_json::to_value(item).ok(),
            );
        }
        if ready.is_empty() {
            self.flush(&mut pending).await?;
            return Ok(());
        }
        let items: Vec<bo::ArInvoiceItem> = ready.iter().map(|(_, _, item)| item.clone()).collect();
        // What is about to be sent is made durable just before it is sent (see `send_fenced`).
        let deliveries = self
            .post_invoices(&items, Outgoing::First(&mut pending))
            .await?;

        // Every answer is staged before any move, so the flush writes the answers first and a
        // crash in between leaves a readable trail.
        let mut settled: Vec<(Record, PostingPlan, Delivery, bool)> =
            Vec::with_capacity(ready.len());
        for ((record, plan, item), delivery) in ready.into_iter().zip(deliveries) {
            let invoice = plan.ar_invoice.invoice.clone();
            // Created by this very call: SYSPRO did not hold the invoice a moment ago, so no
            // earlier attempt can have reached its journal.
            let fresh = matches!(delivery, Delivery::Accepted(_));
            let delivery = match delivery {
                Delivery::Rejected(message, answer)
                    if message.to_lowercase().contains("already exists") =>
                {
                    // Posted by an earlier attempt whose answer was lost: confirm, never repost.
                    match self.invoice_exists(&item).await {
                        Ok(true) => Delivery::Accepted(answer),
                        Ok(false) => Delivery::Rejected(message, answer),
                        Err(lookup) => Delivery::Unknown(format!("{message}; {lookup}")),
                    }
                }
                Delivery::Unknown(message) => match self.invoice_exists(&item).await {
                    Ok(found) => {
                        self.emit(EngineEvent::Reconciled {
                            key: record.key.clone(),
                            invoice_found: found,
                        });
                        if found {
                            Delivery::Accepted(Value::Null)
                        } else {
                            // Not yet, perhaps: SYSPRO may still be applying it. The record stays
                            // in `posting`, looked up again once it can no longer be.
                            Delivery::Unknown(format!(
                                "the answer was lost ({message}) and SYSPRO holds no invoice {invoice} yet"
                            ))
                        }
                    }
                    Err(lookup) => Delivery::Unknown(format!("{message}; {lookup}")),
                },
                other => other,
            };
            let (kind, message, answer) = match &delivery {
                Delivery::Accepted(answer) => (
                    AuditKind::Answered,
                    format!("ARSTIN accepted invoice {invoice}"),
                    Some(answer.clone()),
                ),
                Delivery::Rejected(message, answer) => (
                    AuditKind::Answered,
                    format!("ARSTIN rejected invoice {invoice}: {message}"),
                    Some(answer.clone()),
                ),
                Delivery::Transient(message) => (
                    AuditKind::Answered,
                    format!("ARSTIN did not take invoice {invoice}: {message}"),
                    None,
                ),
                // Neither the answer nor a look-up says what happened: the record stays in
                // `posting` and is reconciled at the start of the next cycle.
                Delivery::Unknown(message) => (
                    AuditKind::Decided,
                    format!(
                        "outcome of AR invoice {invoice} unknown ({message}); left for reconciliation"
                    ),
                    None,
                ),
                Delivery::NotSent(message) => (
                    AuditKind::Decided,
                    format!("AR invoice {invoice} {NOT_SENT}: {message}"),
                    None,
                ),
            };
            self.stage_audit(&mut pending, &record.key, kind, message, answer);
            settled.push((record, plan, delivery, fresh));
        }

        let mut journals: Vec<JournalToSend> = Vec::new();
        for (record, plan, delivery, fresh) in settled {
            let invoice = &plan.ar_invoice.invoice;
            match delivery {
                Delivery::Accepted(_) if plan.journal.is_some() => journals.push(JournalToSend {
                    record,
                    plan,
                    fresh,
                }),
                Delivery::Accepted(_) => {
                    self.stage_posted(&mut pending, &record, &plan, "AR invoice posted", summary);
                }
                Delivery::Rejected(message, _) => self.stage_halt(
                    &mut pending,
                    &record,
                    format!("SYSPRO rejected AR invoice {invoice}: {message}"),
                    summary,
                ),
                Delivery::Transient(message) => {
                    self.stage_retry(&mut pending, &record, message, summary);
                }
                Delivery::Unknown(message) => summary.errors.push((
                    record.key.kind,
                    format!(
                        "AR invoice {invoice}: outcome unknown ({message}); left for reconciliation"
                    ),
                )),
                Delivery::NotSent(message) => summary.errors.push((
                    record.key.kind,
                    format!("AR invoice {invoice} {NOT_SENT}: {message}"),
                )),
            }
        }
        self.post_journal_batch(journals, summary, pending).await
    }

    /// Whether SYSPRO holds the invoice of `item`; the error text when the look-up failed.
    async fn invoice_exists(&self, item: &bo::ArInvoiceItem) -> Result<bool, String> {
        let invoice = item.invoice.as_deref().unwrap_or_default();
        let document_type = match item.transaction_type {
            bo::ArTransactionType::Invoice => "I",
            bo::ArTransactionType::CreditNote => "C",
            bo::ArTransactionType::DebitNote => "D",
        };
        // Only the key columns are asked for: they are all the answer needs, and they are the
        // table's primary key on every release, whereas value columns such as `CurrencyValue` are
        // inferred names (see `syspro_client::bo::ComFind::ar_invoice`).
        let query = bo::ComFind::new("ArInvoice")
            .columns(["Customer", "Invoice", "DocumentType"])
            .filter(bo::Where::eq("Customer", item.customer.as_str()).and(
                "Invoice",
                bo::Condition::Eq,
                invoice,
            ))
            .return_rows(10);
        let found = self.on_session(|s| s.find(&query)).await;
        self.syspro_call("COMFND", found)
            .map(|result| {
                result.rows.iter().any(|row| {
                    row.get("Invoice").is_some_and(|i| i.trim() == invoice)
                        && row
                            .get("DocumentType")
                            .is_none_or(|t| t.trim().is_empty() || t.trim() == document_type)
                })
            })
            .map_err(|e| format!("looking up invoice {invoice} failed: {}", error_chain(&e)))
    }

    /// Sends the journals of invoices SYSPRO holds, and writes what `pending` already holds with
    /// them.
    async fn post_journal_batch(
        &self,
        journals: Vec<JournalToSend>,
        summary: &mut super::CycleSummary,
        mut pending: Pending,
    ) -> Result<(), EngineError> {
        // Never send a journal SYSPRO already holds (see `journal_check`).
        let journals = self
            .drop_journals_in_ledger(journals, summary, &mut pending)
            .await?;
        let documents: Vec<bo::GlJournal> = journals
            .iter()
            .filter_map(|(_, plan)| plan.journal.as_ref().map(convert::gl_journal))
            .collect();
        for ((record, _), journal) in journals.iter().zip(&documents) {
            self.stage_audit(
                &mut pending,
                &record.key,
                AuditKind::Sent,
                format!(
                    "{JOURNAL_SENT} {} (batch of {})",
                    journal.reference.as_deref().unwrap_or(""),
                    documents.len()
                ),
                serde_json::to_value(journal).ok(),
            );
        }
        if journals.is_empty() {
            self.flush(&mut pending).await?;
            return Ok(());
        }
        let deliveries = self
            .post_journals(&documents, Outgoing::First(&mut pending))
            .await?;
        let mut outcomes: Vec<(Record, PostingPlan, Delivery)> = Vec::with_capacity(journals.len());
        for ((record, plan), delivery) in journals.into_iter().zip(deliveries) {
            // A lost answer is settled by asking the ledger, never by sending again blindly.
            let delivery = match delivery {
                Delivery::Unknown(message) => {
                    let reference = plan.journal.as_ref().map_or("", |j| j.reference.as_str());
                    match self.journal_in_ledger(reference).await {
                        JournalLookup::Found => Delivery::Accepted(Value::Null),
                        // Not yet, perhaps: SYSPRO may still be applying it. The record stays in
                        // `posting`, looked up again once it can no longer be.
                        JournalLookup::Absent => Delivery::Unknown(format!(
                            "the answer was lost ({message}) and SYSPRO holds no journal {reference} yet"
                        )),
                        JournalLookup::Failed(lookup) => {
                            Delivery::Unknown(format!("{message}; {lookup}"))
                        }
                    }
                }
                other => other,
            };
            outcomes.push((record, plan, delivery));
        }
        // Every answer is staged before any move: the flush writes the answers first, so a crash
        // in between leaves each record's journal visibly accepted (or not) for the
        // reconciliation at the next start.
        for (record, plan, delivery) in &outcomes {
            let reference = plan
                .journal
                .as_ref()
                .map(|j| j.reference.as_str())
                .unwrap_or("");
            let (kind, message, answer) = match delivery {
                Delivery::Accepted(answer) => (
                    AuditKind::Answered,
                    format!("{JOURNAL_ACCEPTED} {reference}"),
                    Some(answer.clone()),
                ),
                Delivery::Rejected(message, answer) => (
                    AuditKind::Answered,
                    format!("GENTJL rejected journal {reference}: {message}"),
                    Some(answer.clone()),
                ),
                Delivery::Transient(message) => (
                    AuditKind::Answered,
                    format!("GENTJL did not take journal {reference}: {message}"),
                    None,
                ),
                Delivery::Unknown(message) => (
                    AuditKind::Decided,
                    format!("outcome of GL journal {reference} unknown: {message}"),
                    None,
                ),
                Delivery::NotSent(message) => (
                    AuditKind::Decided,
                    format!("GL journal {reference} {NOT_SENT}: {message}"),
                    None,
                ),
            };
            self.stage_audit(&mut pending, &record.key, kind, message, answer);
        }
        for (record, plan, delivery) in outcomes {
            let reference = plan
                .journal
                .as_ref()
                .map(|j| j.reference.clone())
                .unwrap_or_default();
            let invoice = &plan.ar_invoice.invoice;
            match delivery {
                Delivery::Accepted(_) => self.stage_posted(
                    &mut pending,
                    &record,
                    &plan,
                    "AR invoice and GL journal posted",
                    summary,
                ),
                Delivery::Rejected(message, _) => self.stage_halt(
                    &mut pending,
                    &record,
                    format!(
                        "AR invoice {invoice} is posted, but SYSPRO rejected GL journal {reference}: {message} (a replay recognises the invoice and posts only the journal)"
                    ),
                    summary,
                ),
                Delivery::Transient(message) => {
                    self.stage_retry(&mut pending, &record, message, summary);
                }
                // Neither the answer nor the ledger says what happened: the record stays in
                // `posting` and the next cycle's reconciliation looks the journal up again.
                Delivery::Unknown(message) => {
                    summary.errors.push((
                        record.key.kind,
                        format!(
                            "GL journal {reference} of AR invoice {invoice}: outcome unknown ({message}); left for reconciliation"
                        ),
                    ));
                }
                Delivery::NotSent(message) => summary.errors.push((
                    record.key.kind,
                    format!("GL journal {reference} of AR invoice {invoice} {NOT_SENT}: {message}"),
                )),
            }
        }
        self.flush(&mut pending).await?;
        Ok(())
    }

    /// Posts AR invoices with `ApplyIfEntireDocumentValid=N`, splitting a document SYSPRO refuses
    /// as too large. One delivery per item, in order. `outgoing` is written before the send (see
    /// [`Engine::send_fenced`]).
    fn post_invoices<'a>(
        &'a self,
        items: &'a [bo::ArInvoiceItem],
        outgoing: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, StoreError>> {
        Box::pin(async move {
            let mut posting = ArInvoicePosting::new(items.to_vec());
            posting.parameters.apply_if_entire_document_valid = false;
            let sent = outgoing.sent();
            let answer = match self
                .send_fenced(outgoing, || self.inner.syspro.post_ar_invoices(&posting))
                .await?
            {
                Ok(answer) => answer,
                Err(reason) => return Ok(vec![Delivery::NotSent(reason); items.len()]),
            };
            match answer {
                Err(e) if is_too_large(&e) && items.len() > 1 => {
                    self.syspro_call::<()>("ARSTIN", Err(e)).ok();
                    self.emit(EngineEvent::BatchSplit {
                        business_object: "ARSTIN",
                        items: items.len(),
                    });
                    let at = items.len() / 2;
                    let (left, right) = items.split_at(at);
                    let sent_left = sent_of(&sent, items.len(), 0..at);
                    let sent_right = sent_of(&sent, items.len(), at..items.len());
                    let mut out = self.post_invoices(left, Outgoing::Part(&sent_left)).await?;
                    out.extend(
                        self.post_invoices(right, Outgoing::Part(&sent_right))
                            .await?,
                    );
                    Ok(out)
                }
                Err(e) => {
                    let delivery = classify(&e);
                    self.syspro_call::<()>("ARSTIN", Err(e)).ok();
                    Ok(vec![delivery; items.len()])
                }
                Ok(result) => {
                    self.syspro_call::<()>("ARSTIN", Ok(())).ok();
                    Ok(items
                        .iter()
                        .enumerate()
                        .map(|(index, item)| {
                            let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
                            let found = result.item(number).or_else(|| {
                                result
                                    .items
                                    .iter()
                                    .find(|r| r.invoice.is_some() && r.invoice == item.invoice)
                            });
                            match found {
                                Some(r) => {
                                    let answer = serde_json::to_value(r).unwrap_or(Value::Null);
                                    if r.is_success() {
                                        Delivery::Accepted(answer)
                                    } else if r.messages.errors.is_empty() {
                                        // No error yet no document number: not a success.
                                        Delivery::Unknown(
                                            "SYSPRO returned no invoice number".to_owned(),
                                        )
                                    } else {
                                        Delivery::Rejected(messages_text(&r.messages), answer)
                                    }
                                }
                                None if !result.messages.errors.is_empty() => Delivery::Rejected(
                                    messages_text(&result.messages),
                                    serde_json::to_value(&result).unwrap_or(Value::Null),
                                ),
                                None => Delivery::Unknown(
                                    "SYSPRO's answer has no result for this item".to_owned(),
                                ),
                            }
                        })
                        .collect())
                }
            }
        })
    }

    /// Posts GL journals with `ApplyIfEntireDocumentValid=N`, splitting a document SYSPRO refuses
    /// as too large. One delivery per journal, in order. `outgoing` is written before the send
    /// (see [`Engine::send_fenced`]).
    fn post_journals<'a>(
        &'a self,
        journals: &'a [bo::GlJournal],
        outgoing: Outgoing<'a>,
    ) -> BoxFuture<'a, Result<Vec<Delivery>, StoreError>> {
        Box::pin(async move {
            let mut posting = GlJournalPosting::new(journals.to_vec());
            posting.parameters.apply_if_entire_document_valid = false;
            let sent = outgoing.sent();
            let answer = match self
                .send_fenced(outgoing, || self.inner.syspro.post_gl_journal(&posting))
                .await?
            {
                Ok(answer) => answer,
                Err(reason) => return Ok(vec![Delivery::NotSent(reason); journals.len()]),
            };
            match answer {
                Err(e) if is_too_large(&e) && journals.len() > 1 => {
                    self.syspro_call::<()>("GENTJL", Err(e)).ok();
                    self.emit(EngineEvent::BatchSplit {
                        business_object: "GENTJL",
                        items: journals.len(),
                    });
                    let at = journals.len() / 2;
                    let (left, right) = journals.split_at(at);
                    let sent_left = sent_of(&sent, journals.len(), 0..at);
                    let sent_right = sent_of(&sent, journals.len(), at..journals.len());
                    let mut out = self.post_journals(left, Outgoing::Part(&sent_left)).await?;
                    out.extend(
                        self.post_journals(right, Outgoing::Part(&sent_right))
                            .await?,
                    );
                    Ok(out)
                }
                Err(e) => {
                    let delivery = classify(&e);
                    self.syspro_call::<()>("GENTJL", Err(e)).ok();
                    Ok(vec![delivery; journals.len()])
                }
                Ok(result) => {
                    self.syspro_call::<()>("GENTJL", Ok(())).ok();
                    Ok((0..journals.len())
                        .map(|index| match result.journals.get(index) {
                            Some(j) => {
                                let answer = serde_json::to_value(j).unwrap_or(Value::Null);
                                if j.is_success() {
                                    Delivery::Accepted(answer)
                                } else if j.messages.errors.is_empty() {
                                    Delivery::Unknown(
                                        "SYSPRO returned no journal number".to_owned(),
                                    )
                                } else {
                                    Delivery::Rejected(messages_text(&j.messages), answer)
                                }
                            }
                            None if !result.messages.errors.is_empty() => Delivery::Rejected(
                                messages_text(&result.messages),
                                serde_json::to_value(&result).unwrap_or(Value::Null),
                            ),
                            None => Delivery::Unknown(
                                "SYSPRO's answer has no result for this journal".to_owned(),
                            ),
                        })
                        .collect())
                }
            }
        })
    }

    /// The latest 200 audit entries of `record`, newest first: enough to reach back to its last
    /// claim.
    async fn latest_entries(&self, record: &Record) -> Result<Vec<AuditEntry>, StoreError> {
        let page = self
            .inner
            .audit
            .query(&AuditQuery {
                limit: 200,
                ..AuditQuery::for_record(record.key.clone())
            })
            .await?;
        Ok(page.entries)
    }

    /// Where the journal of a record in `posting` stands, from the audit entries of its current
    /// attempt.
    async fn journal_state(&self, record: &Record) -> Result<JournalState, StoreError> {
        for entry in self.latest_entries(record).await? {
            match entry.kind {
                AuditKind::Answered if entry.message.starts_with(JOURNAL_ACCEPTED) => {
                    return Ok(JournalState::Accepted);
                }
                AuditKind::Sent if entry.message.starts_with(JOURNAL_SENT) => {
                    return Ok(JournalState::SentUnanswered);
                }
                AuditKind::Transition if entry.message.contains("claimed for posting") => {
                    return Ok(JournalState::NotSent);
                }
                _ => {}
            }
        }
        Ok(JournalState::NotSent)
    }

    /// When the document last sent for `record` went to SYSPRO, if no answer came back for it: the
    /// record's process died during the call, or the answer was lost (then the time its loss was
    /// recorded, which also covers a document sent later as part of a split batch). SYSPRO may
    /// still be applying such a document for as long as a call may last, and a look-up in the
    /// meantime would not find it. `None` when its last document was answered, was not sent after
    /// all (see [`Engine::send_fenced`]), or none was sent since the record was last claimed.
    pub(crate) async fn sent_unanswered_at(
        &self,
        record: &Record,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        for entry in self.latest_entries(record).await? {
            match entry.kind {
                // A document's, not a customer's (ARSSCS), which is only ever sent before it.
                AuditKind::Sent
                    if DOCUMENT_SENT
                        .iter()
                        .any(|sent| entry.message.starts_with(sent)) =>
                {
                    return Ok(Some(entry.at));
                }
                AuditKind::Decided if entry.message.starts_with(OUTCOME_UNKNOWN) => {
                    return Ok(Some(entry.at));
                }
                AuditKind::Answered => return Ok(None),
                AuditKind::Decided if entry.message.contains(NOT_SENT) => return Ok(None),
                AuditKind::Transition if entry.message.contains("claimed for posting") => {
                    return Ok(None);
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Whether `record`, left in `posting`, is to be reconciled at `now`, and if so whether its
    /// last document went without an answer (see [`Engine::sent_unanswered_at`]). `None` while
    /// such a document may still be in SYSPRO's hands: until twice the SYSPRO call timeout has
    /// passed (a call, and a second one after a new logon); `record` then stays in `posting` and
    /// is looked up at a later cycle. Reconciling moves or sends the record, so under a lease it
    /// goes on only while the lease is still this unit's (the error otherwise).
    pub(crate) async fn to_reconcile(
        &self,
        record: &Record,
        now: OffsetDateTime,
    ) -> Result<Option<bool>, EngineError> {
        let sent_at = self.sent_unanswered_at(record).await?;
        if let Some(sent_at) = sent_at
            && now - sent_at < self.inner.syspro.config().call_timeout() * 2
        {
            tracing::info!(
                connection = %self.inner.name,
                record = %record.key,
                sent_at = %sent_at,
                "left in posting unanswered: SYSPRO may still be applying what was sent; looked up once twice the call timeout has passed"
            );
            return Ok(None);
        }
        self.renew_if_under_lease().await?;
        Ok(Some(sent_at.is_some()))
    }

    /// Makes `record`, left in `posting` and not in SYSPRO, due for posting again: at once when
    /// its process stopped before the document went, or after the retry backoff (and up to the
    /// connection's attempts) when it went and its answer was lost: SYSPRO may be failing.
    pub(crate) async fn repost_after_reconciling(
        &self,
        record: &Record,
        unanswered: bool,
        reason: String,
        summary: &mut super::CycleSummary,
    ) -> Result<(), StoreError> {
        if unanswered {
            let mut pending = Pending::default();
            self.stage_retry(&mut pending, record, reason, summary);
            return self.flush(&mut pending).await;
        }
        self.move_record(
            record,
            Target::RetryWait {
                next_attempt_at: self.inner.clock.now(),
                reason,
            },
            "reconciled",
            None,
        )
        .await
    }

    /// Looks up every record left in `posting` in SYSPRO before anything is sent again: an invoice
    /// SYSPRO holds is not posted again (its journal is posted if it never was); an invoice SYSPRO
    /// does not hold is made due for posting at once.
    pub(crate) async fn reconcile_stale(
        &self,
        reference: &ReferenceData,
        summary: &mut super::CycleSummary,
    ) -> Result<(), EngineError> {
        if self.posts_sales_orders() {
            return self.reconcile_stale_sales_orders(reference, summary).await;
        }
        let now = self.inner.clock.now();
        let stale = self
            .inner
            .store
            .stale_posting(&self.inner.name, now)
            .await?;
        for record in stale {
            let Some(unanswered) = self.to_reconcile(&record, now).await? else {
                continue;
            };
            summary.reconciled += 1;
            let plan = match self
                .plan_record(&record, reference, &mut summary.customers_created)
                .await?
            {
                Planned::Ready(plan) => *plan,
                Planned::Halt(reason) => {
                    self.halt(
                        &record,
                        format!("could not reconcile an interrupted posting: {reason}"),
                        summary,
                    )
                    .await?;
                    continue;
                }
                Planned::Transient(_) => continue,
            };
            let Some(item) = convert::ar_invoice_item(&plan) else {
                continue;
            };
            let found = match self.invoice_exists(&item).await {
                Ok(found) => found,
                Err(lookup) => {
                    self.audit(
                        &record.key,
                        AuditKind::Decided,
                        format!("reconciliation postponed: {lookup}"),
                        None,
                    )
                    .await?;
                    summary.errors.push((record.key.kind, lookup));
                    continue;
                }
            };
            self.emit(EngineEvent::Reconciled {
                key: record.key.clone(),
                invoice_found: found,
            });
            let invoice = &plan.ar_invoice.invoice;
            if !found {
                self.audit(
                    &record.key,
                    AuditKind::Decided,
                    format!("reconciled: SYSPRO does not hold invoice {invoice}; posting it again"),
                    None,
                )
                .await?;
                self.repost_after_reconciling(
                    &record,
                    unanswered,
                    format!("interrupted posting; SYSPRO does not hold invoice {invoice}"),
                    summary,
                )
                .await?;
                continue;
            }
            self.audit(
                &record.key,
                AuditKind::Decided,
                format!("reconciled: SYSPRO holds invoice {invoice}; not sent again"),
                None,
            )
            .await?;
            if plan.journal.is_none() {
                self.mark_posted(&record, &plan, "reconciled: AR invoice found", summary)
                    .await?;
                continue;
            }
            match self.journal_state(&record).await? {
                JournalState::Accepted => {
                    self.mark_posted(
                        &record,
                        &plan,
                        "reconciled: invoice and journal posted",
                        summary,
                    )
                    .await?;
                }
                // Sent or not, the journal batch asks SYSPRO's ledger first and sends only a
                // journal it does not hold.
                JournalState::SentUnanswered | JournalState::NotSent => {
                    let journal = JournalToSend {
                        record,
                        plan,
                        fresh: false,
                    };
                    self.post_journal_batch(vec![journal], summary, Pending::default())
                        .await?;
                }
            }
        }
        Ok(())
    }
}
