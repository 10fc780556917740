//! Customer records: the SYSPRO customer of a Commerce customer is found (or created), kept in
//! step with later changes (ARSSCS Setup/Update), and its code is written back to Commerce when
//! the mapping asks for it.
//!
//! # What the record knows
//!
//! Once a customer record has a SYSPRO customer, the code is kept in the record's keys
//! ([`SysproKeys::customer`]) and in a `decided` audit entry that starts with [`IN_STEP`]. That
//! entry's document holds the code, how it was found, and a hash of the customer fields SYSPRO
//! holds as far as the connector knows (the fields `customers.update.fields` names, as they were
//! sent or, for a customer matched as it was, as Commerce had them then). A later version of the
//! customer uses that code first (after the explicit tables), never a new email look-up, so a
//! changed email updates the same SYSPRO customer instead of creating another.
//!
//! # When an update is sent
//!
//! The fields to keep in step are rendered from the new version and hashed the same way; an
//! ARSSCS update is sent only when the hash differs from the one in the latest in-step entry. A
//! version that changes nothing SYSPRO is kept in step with (a date of birth, a group, the code
//! written back) therefore sends nothing. A customer matched for the first time is not updated:
//! what Commerce holds then becomes the reference, and later changes are sent.
//!
//! # Write-back without a loop
//!
//! Writing the code to a Commerce attribute changes the customer's `updated_at`, so the next poll
//! reads it again. The customer's fingerprint leaves `updated_at` and the custom attributes out of
//! its content hash (see `Fetched::into_parts`), and a customer already in SYSPRO whose content
//! hash did not change is not taken in again (`state::logic::plan_intake`). Should it be
//! processed anyway, the hash of its fields is unchanged (nothing is sent to SYSPRO) and Commerce
//! already holds the code (nothing is written).

use adobe_commerce_client::models::{Customer, CustomerAddress};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use syspro_client::bo;

use super::posting::Planned;
use super::writes::Pending;
use super::{CycleSummary, Engine, EngineError, convert, error_chain};
use crate::audit::{AuditKind, AuditQuery};
use crate::config::{CUSTOMER_CODE_PLACEHOLDERS, CustomerField};
use crate::plan::{Address, NewCustomer};
use crate::state::{Record, RecordKey, RecordState, StoreError, SysproKeys, Target, Transition};

/// The start of the audit entry that records which SYSPRO customer a customer record is in step
/// with.
pub(crate) const IN_STEP: &str = "in step with SYSPRO customer";

/// Longest SYSPRO address line and postal code; longer Commerce values are cut to fit.
const ADDRESS_LINE_MAX: usize = 40;
const POSTAL_CODE_MAX: usize = 15;

/// How the SYSPRO customer of a Commerce customer was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    /// `customers.by_id` or `customers.by_email`.
    Table,
    /// The code Commerce holds in the write-back attribute.
    CommerceAttribute,
    /// A SYSPRO customer with the same email.
    Email,
    /// Created by the connector.
    Created,
}

impl Source {
    const fn as_str(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::CommerceAttribute => "commerce_attribute",
            Self::Email => "email",
            Self::Created => "created",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Table,
            Self::CommerceAttribute,
            Self::Email,
            Self::Created,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    const fn described(self) -> &'static str {
        match self {
            Self::Table => "the customers table",
            Self::CommerceAttribute => "the code held in Commerce",
            Self::Email => "email",
            Self::Created => "creation",
        }
    }
}

/// The latest in-step entry of a customer record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct InStep {
    code: String,
    source: Source,
    fields_hash: String,
}

impl InStep {
    fn document(&self, fields: &bo::CustomerRecord) -> Value {
        json!({
            "customer": self.code,
            "found_by": self.source.as_str(),
            "fields_hash": self.fields_hash,
            "fields": fields,
        })
    }

    fn from_document(document: &Value) -> Option<Self> {
        Some(Self {
            code: document.get("customer")?.as_str()?.to_owned(),
            source: Source::parse(document.get("found_by")?.as_str()?)?,
            fields_hash: document.get("fields_hash")?.as_str()?.to_owned(),
        })
    }
}

/// The SYSPRO customer found for a record in this pass.
struct Found {
    code: String,
    source: Source,
    /// The ARSSCS record sent to create it, when it was created now.
    created: Option<bo::CustomerRecord>,
}

/// What a step that may fail did.
enum Step<T> {
    Done(T),
    /// The record was halted or left in `received` for the next pass; nothing more to do now.
    Stopped,
}

/// The ARSSCS update record of `customer`: its code and the `fields` kept in step, rendered the
/// way a created customer is (so a customer created and then left alone never differs).
pub(crate) fn kept_fields(
    customer: &Customer,
    code: &str,
    fields: &[CustomerField],
) -> bo::CustomerRecord {
    let full = convert::customer_record(&NewCustomer {
        code: code.to_owned(),
        name: full_name(customer),
        email: customer.email.clone().unwrap_or_default(),
        branch: String::new(),
        terms_code: None,
        customer_class: None,
        currency: String::new(),
        salesperson: None,
        area: None,
        sold_to: default_billing(customer).map(address_of),
        ship_to: default_shipping(customer).map(address_of),
    });
    project(&full, fields)
}

/// `full` reduced to its code and the `fields` kept in step.
fn project(full: &bo::CustomerRecord, fields: &[CustomerField]) -> bo::CustomerRecord {
    let mut out = bo::CustomerRecord::new(full.customer.clone());
    for field in fields {
        match field {
            CustomerField::Name => {
                out.name.clone_from(&full.name);
                out.short_name.clone_from(&full.short_name);
            }
            CustomerField::Email => out.email.clone_from(&full.email),
            CustomerField::Telephone => out.telephone.clone_from(&full.telephone),
            CustomerField::SoldTo => out.sold_to.clone_from(&full.sold_to),
            CustomerField::ShipTo => out.ship_to.clone_from(&full.ship_to),
        }
    }
    out
}

/// Lower-case hex SHA-256 of the record's JSON (its field order is fixed by the type).
pub(crate) fn fields_hash(record: &bo::CustomerRecord) -> String {
    let text = serde_json::to_string(record).unwrap_or_default();
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn full_name(customer: &Customer) -> String {
    [customer.firstname.as_deref(), customer.lastname.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn default_billing(customer: &Customer) -> Option<&CustomerAddress> {
    customer.default_billing_address()
}

fn default_shipping(customer: &Customer) -> Option<&CustomerAddress> {
    customer
        .addresses
        .iter()
        .find(|a| a.default_shipping == Some(true))
        .or_else(|| {
            let id = customer
                .default_shipping
                .as_deref()?
                .trim()
                .parse::<u64>()
                .ok()?;
            customer
                .addresses
                .iter()
                .find(|a| a.id.map(|i| i.get()) == Some(id))
        })
}

fn cut(text: &str, max: usize) -> String {
    text.trim().chars().take(max).collect()
}

/// A Commerce address-book entry as an address of the plan, each part cut to SYSPRO's widths.
fn address_of(a: &CustomerAddress) -> Address {
    let region = a.region.as_ref().and_then(|r| {
        r.region
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .or(r.region_code.as_deref())
    });
    Address {
        company: a
            .company
            .as_deref()
            .map(|c| cut(c, ADDRESS_LINE_MAX))
            .filter(|c| !c.is_empty()),
        street: a
            .street
            .iter()
            .map(|l| cut(l, ADDRESS_LINE_MAX))
            .filter(|l| !l.is_empty())
            .collect(),
        city: cut(a.city.as_deref().unwrap_or_default(), ADDRESS_LINE_MAX),
        region: region
            .map(|r| cut(r, ADDRESS_LINE_MAX))
            .filter(|r| !r.is_empty()),
        postcode: cut(a.postcode.as_deref().unwrap_or_default(), POSTAL_CODE_MAX),
        country_id: cut(
            a.country_id.as_deref().unwrap_or_default(),
            ADDRESS_LINE_MAX,
        ),
        telephone: a
            .telephone
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
    }
}

/// A custom attribute's value as a code: text (or a number) with spaces trimmed, `None` if empty.
fn attribute_code_value(customer: &Customer, attribute: &str) -> Option<String> {
    let value = customer.custom_attribute(attribute)?;
    let text = match value {
        Value::String(s) => s.trim().to_owned(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then_some(text)
}

impl Engine {
    /// Matches (or, when the mapping allows, creates) the SYSPRO customer of a Commerce customer,
    /// sends later changes of a customer already in SYSPRO (ARSSCS Setup/Update), writes the code
    /// back to Commerce when configured, and moves the record to `posted` with the code in its
    /// keys. See the module documentation.
    ///
    /// The record's audit entries and moves are staged in `pending`, for the caller to write a
    /// page of records at a time with [`Engine::settle_customers`]. Whatever is staged is written
    /// before the record is halted and before anything is sent to SYSPRO or Commerce, so no call
    /// goes out ahead of the trail that leads to it.
    pub(crate) async fn process_customer(
        &self,
        record: &Record,
        pending: &mut Pending,
        summary: &mut CycleSummary,
    ) -> Result<(), EngineError> {
        let customer: Customer = match record.payload.parse() {
            Ok(c) => c,
            Err(e) => {
                self.settle_customers(pending, summary).await?;
                self.halt(
                    record,
                    format!("stored payload is not a Commerce customer: {e}"),
                    summary,
                )
                .await?;
                return Ok(());
            }
        };
        // A record never changed since it was first stored has no trail to look through.
        let in_step = if record.version <= 1 {
            None
        } else {
            match self.in_step(&record.key).await? {
                Some(step) => Some(step),
                None => self.posted_before_in_step(record).await?,
            }
        };
        let found = match self
            .resolve_customer(record, &customer, in_step.as_ref(), pending, summary)
            .await?
        {
            Step::Done(found) => found,
            Step::Stopped => return Ok(()),
        };
        let email = customer.email.clone().unwrap_or_default();
        self.remember_customer(&email, &found.code);

        let held = match self
            .keep_in_step(
                record,
                &customer,
                &found,
                in_step.as_ref(),
                pending,
                summary,
            )
            .await?
        {
            Step::Done(held) => held,
            Step::Stopped => return Ok(()),
        };
        if let Step::Stopped = self
            .write_back(record, &customer, &found.code, pending, summary)
            .await?
        {
            return Ok(());
        }
        let message = format!(
            "SYSPRO customer {} (by {}){}",
            found.code,
            found.source.described(),
            held
        );
        self.stage_customer_posted(record, &found.code, &message, pending);
        Ok(())
    }

    /// The latest in-step entry of a record, newest first through its whole trail.
    async fn in_step(&self, key: &RecordKey) -> Result<Option<InStep>, StoreError> {
        let mut query = AuditQuery {
            kind: Some(AuditKind::Decided),
            limit: 100,
            ..AuditQuery::for_record(key.clone())
        };
        loop {
            let page = self.inner.audit.query(&query).await?;
            let found = page.entries.iter().find_map(|entry| {
                if entry.message.starts_with(IN_STEP) {
                    entry.document.as_ref().and_then(InStep::from_document)
                } else {
                    None
                }
            });
            if found.is_some() {
                return Ok(found);
            }
            match page.next_before {
                Some(before) => query.before = Some(before),
                None => return Ok(None),
            }
        }
    }

    /// For a record posted before in-step entries were kept: the code its last move to `posted`
    /// names (`SYSPRO customer CODE (by HOW)`) and the hash of the fields of the version posted
    /// then (from the `read` entry before that move), so an upgrade neither loses the customer's
    /// code nor sends an update for a version that changed nothing.
    async fn posted_before_in_step(&self, record: &Record) -> Result<Option<InStep>, StoreError> {
        const POSTED: &str = "-> posted: SYSPRO customer ";
        let mut query = AuditQuery {
            kind: Some(AuditKind::Transition),
            limit: 100,
            ..AuditQuery::for_record(record.key.clone())
        };
        let (posted_at, code, source) = loop {
            let page = self.inner.audit.query(&query).await?;
            let found = page.entries.iter().find_map(|entry| {
                let rest = &entry.message[entry.message.find(POSTED)? + POSTED.len()..];
                let (code, how) = rest.split_once(" (by ")?;
                let source = if how.starts_with("the customers table") {
                    Source::Table
                } else if how.starts_with("creation") {
                    Source::Created
                } else if how.starts_with("the code held in Commerce") {
                    Source::CommerceAttribute
                } else {
                    Source::Email
                };
                Some((entry.id, code.trim().to_owned(), source))
            });
            if let Some(found) = found {
                break found;
            }
            match page.next_before {
                Some(before) => query.before = Some(before),
                None => return Ok(None),
            }
        };
        if code.is_empty() {
            return Ok(None);
        }
        let read = self
            .inner
            .audit
            .query(&AuditQuery {
                kind: Some(AuditKind::Read),
                before: Some(posted_at),
                limit: 1,
                ..AuditQuery::for_record(record.key.clone())
            })
            .await?;
        let fields = &self.inner.connection.mapping.customers.update.fields;
        // Without the payload posted then, the hash matches nothing and the fields are sent.
        let fields_hash = read
            .entries
            .first()
            .and_then(|entry| entry.document.clone())
            .and_then(|document| serde_json::from_value::<Customer>(document).ok())
            .map(|posted| fields_hash(&kept_fields(&posted, &code, fields)))
            .unwrap_or_default();
        Ok(Some(InStep {
            code,
            source,
            fields_hash,
        }))
    }

    /// Finds the SYSPRO customer: the explicit tables, then the code the record already knows,
    /// then the code Commerce holds in the write-back attribute (checked in SYSPRO), then a
    /// SYSPRO customer with the same email, then creation.
    /// The code `customers.by_id` or `customers.by_email` gives the customer, if any.
    pub(crate) fn table_code(&self, customer: &Customer) -> Option<String> {
        let mapping = &self.inner.connection.mapping.customers;
        let email = customer.email.as_deref().unwrap_or_default();
        customer
            .id
            .and_then(|id| mapping.by_id.get(&id.get().to_string()).cloned())
            .or_else(|| {
                mapping
                    .by_email
                    .iter()
                    .find(|(known, _)| !email.is_empty() && known.eq_ignore_ascii_case(email))
                    .map(|(_, code)| code.clone())
            })
    }

    /// The write-back attribute and the SYSPRO code the customer holds in it, if any.
    pub(crate) fn customer_code_in_commerce(&self, customer: &Customer) -> Option<(&str, String)> {
        let attribute = self
            .inner
            .connection
            .mapping
            .customers
            .write_back
            .attribute
            .as_deref()?;
        attribute_code_value(customer, attribute).map(|code| (attribute, code))
    }

    async fn resolve_customer(
        &self,
        record: &Record,
        customer: &Customer,
        in_step: Option<&InStep>,
        pending: &mut Pending,
        summary: &mut CycleSummary,
    ) -> Result<Step<Found>, EngineError> {
        let mapping = &self.inner.connection.mapping.customers;
        let id = customer.id.map(|i| i.get());
        let email = customer.email.clone().unwrap_or_default();
        let found = |code: String, source: Source| {
            Ok(Step::Done(Found {
                code,
                source,
                created: None,
            }))
        };
        if let Some(code) = self.table_code(customer) {
            return found(code, Source::Table);
        }
        if let Some(code) = record.syspro.customer.clone() {
            let source = in_step
                .filter(|s| s.code == code)
                .map_or(Source::Email, |s| s.source);
            return found(code, source);
        }
        if let Some(step) = in_step {
            return found(step.code.clone(), step.source);
        }
        if let Some((attribute, code)) = self.customer_code_in_commerce(customer) {
            let query = bo::ComFind::new("ArCustomer")
                .columns(["Customer"])
                .filter(bo::Where::eq("Customer", code.as_str()))
                .return_rows(1);
            let answer = self.on_session(|s| s.find(&query)).await;
            return match self.syspro_call("COMFND", answer) {
                Ok(result)
                    if result
                        .rows
                        .iter()
                        .any(|r| r.get("Customer").is_some_and(|c| c.trim() == code)) =>
                {
                    found(code, Source::CommerceAttribute)
                }
                Ok(_) => {
                    self.settle_customers(pending, summary).await?;
                    self.halt(
                        record,
                        format!(
                            "Commerce customer {} holds {code:?} in {attribute} (mapping.customers.write_back.attribute), but SYSPRO has no customer {code}: correct the attribute in Commerce or add the customer in SYSPRO",
                            id.map_or_else(|| "?".to_owned(), |i| i.to_string())
                        ),
                        summary,
                    )
                    .await?;
                    Ok(Step::Stopped)
                }
                Err(e) => {
                    tracing::warn!(record = %record.key, error = %error_chain(&e), "customer match postponed");
                    Ok(Step::Stopped)
                }
            };
        }
        let created = (mapping.match_by_email && !email.is_empty())
            .then(|| {
                self.inner
                    .created_customers
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .remove(&email.trim().to_lowercase())
            })
            .flatten();
        if let Some(new) = created {
            return Ok(Step::Done(Found {
                code: new.code.clone(),
                source: Source::Created,
                created: Some(convert::customer_record(&new)),
            }));
        }
        if mapping.match_by_email && !email.is_empty() {
            if let Some(code) = self.cached_customer(&email) {
                return found(code, Source::Email);
            }
            let rows = if self.take_absent_email(&email) {
                Ok(Vec::new())
            } else {
                let rows = self.on_session(|s| s.find_customers_by_email(&email)).await;
                self.syspro_call("COMFND", rows)
            };
            match rows {
                Ok(rows) => {
                    if let Some(row) = rows.into_iter().next() {
                        return found(row.customer, Source::Email);
                    }
                }
                Err(e) => {
                    tracing::warn!(record = %record.key, error = %error_chain(&e), "customer match postponed");
                    return Ok(Step::Stopped);
                }
            }
        }
        // Everything below halts the record or creates a customer.
        self.settle_customers(pending, summary).await?;
        if mapping.create.enabled {
            let new = match self.new_customer_of(customer) {
                Ok(new) => new,
                Err(reason) => {
                    self.halt(record, reason, summary).await?;
                    return Ok(Step::Stopped);
                }
            };
            return match self
                .create_customer(&record.key, &new, &mut summary.customers_created)
                .await?
            {
                Ok(code) => Ok(Step::Done(Found {
                    code,
                    source: Source::Created,
                    created: Some(convert::customer_record(&new)),
                })),
                Err(Planned::Halt(reason)) => {
                    self.halt(record, reason, summary).await?;
                    Ok(Step::Stopped)
                }
                Err(_) => Ok(Step::Stopped),
            };
        }
        let why = if mapping.create.enabled {
            "no email to match or create with"
        } else {
            "not in customers.by_id or customers.by_email, no SYSPRO customer has this email, and customers.create.enabled is false"
        };
        self.halt(
            record,
            format!(
                "no SYSPRO customer for Commerce customer {} <{email}>: {why}",
                id.map_or_else(|| "?".to_owned(), |i| i.to_string())
            ),
            summary,
        )
        .await?;
        Ok(Step::Stopped)
    }

    /// Why changes of this customer are not sent to SYSPRO, if they are not.
    fn update_refused(&self, found: &Found) -> Option<String> {
        let mapping = &self.inner.connection.mapping;
        if !mapping.customers.update_enabled() {
            return Some(if mapping.customers.update.enabled.is_some() {
                "customers.update.enabled is false".to_owned()
            } else {
                "customers.update.enabled is not set and customers.create.enabled is false"
                    .to_owned()
            });
        }
        if let Some((store, _)) = mapping
            .stores
            .iter()
            .find(|(_, s)| s.cash_customer.as_deref() == Some(found.code.as_str()))
        {
            return Some(format!(
                "it is the cash customer of store {store:?}; cash customers are never updated"
            ));
        }
        if found.source == Source::Table && !mapping.customers.update.table_mapped {
            return Some(
                "it was found through customers.by_id or customers.by_email and customers.update.table_mapped is false".to_owned(),
            );
        }
        None
    }

    /// Sends the fields kept in step when they changed since SYSPRO last had them, and records
    /// what SYSPRO holds now. Returns a note for the posted message.
    async fn keep_in_step(
        &self,
        record: &Record,
        customer: &Customer,
        found: &Found,
        in_step: Option<&InStep>,
        pending: &mut Pending,
        summary: &mut CycleSummary,
    ) -> Result<Step<&'static str>, EngineError> {
        let fields = &self.inner.connection.mapping.customers.update.fields;
        let desired = kept_fields(customer, &found.code, fields);
        let desired_hash = fields_hash(&desired);
        let known = in_step.filter(|s| s.code == found.code);
        // What SYSPRO holds, as far as the connector knows.
        let held = match (&found.created, known) {
            (Some(added), _) => Some(fields_hash(&project(added, fields))),
            (None, Some(step)) => Some(step.fields_hash.clone()),
            (None, None) => None,
        };
        let key = &record.key;
        let code = &found.code;
        let (now_held, note) = match held {
            None => {
                self.stage_audit(
                    pending,
                    key,
                    AuditKind::Decided,
                    format!(
                        "SYSPRO customer {code} found by {}: not updated when first found; later changes in Commerce are kept in step",
                        found.source.described()
                    ),
                    None,
                );
                (desired_hash, "")
            }
            Some(held) if held == desired_hash => {
                if known.is_some() {
                    self.stage_audit(
                        pending,
                        key,
                        AuditKind::Decided,
                        format!(
                            "no ARSSCS update: the fields kept in step are unchanged since SYSPRO customer {code} last had them"
                        ),
                        None,
                    );
                }
                (held, "")
            }
            Some(held) => match self.update_refused(found) {
                Some(reason) => {
                    self.stage_audit(
                        pending,
                        key,
                        AuditKind::Decided,
                        format!(
                            "the fields kept in step differ from what SYSPRO customer {code} has; not updated: {reason}"
                        ),
                        None,
                    );
                    (held, "")
                }
                None => {
                    self.settle_customers(pending, summary).await?;
                    match self.send_update(record, &desired, summary).await? {
                        Step::Done(()) => (desired_hash, "; updated in SYSPRO"),
                        Step::Stopped => {
                            // An update sent after a creation failed: SYSPRO holds the created
                            // fields, which the next pass compares against.
                            if found.created.is_some() {
                                self.stage_in_step(pending, key, found, held, &desired);
                            }
                            return Ok(Step::Stopped);
                        }
                    }
                }
            },
        };
        let changed = known.is_none_or(|s| s.fields_hash != now_held || s.source != found.source);
        if changed {
            self.stage_in_step(pending, key, found, now_held, &desired);
        }
        Ok(Step::Done(note))
    }

    fn stage_in_step(
        &self,
        pending: &mut Pending,
        key: &RecordKey,
        found: &Found,
        fields_hash: String,
        fields: &bo::CustomerRecord,
    ) {
        let step = InStep {
            code: found.code.clone(),
            source: found.source,
            fields_hash,
        };
        self.stage_audit(
            pending,
            key,
            AuditKind::Decided,
            format!(
                "{IN_STEP} {} (found by {}, fields {})",
                step.code,
                found.source.described(),
                &step.fields_hash[..12.min(step.fields_hash.len())]
            ),
            Some(step.document(fields)),
        );
    }

    /// Sends one ARSSCS update. A rejection halts the record with SYSPRO's message; a transient
    /// failure (or a lost answer: an update sets the same values again, so it is simply sent again)
    /// leaves the record in `received` for the next pass.
    async fn send_update(
        &self,
        record: &Record,
        desired: &bo::CustomerRecord,
        summary: &mut CycleSummary,
    ) -> Result<Step<()>, EngineError> {
        let code = &desired.customer;
        let names: Vec<&str> = self
            .inner
            .connection
            .mapping
            .customers
            .update
            .fields
            .iter()
            .map(|f| f.as_str())
            .collect();
        self.audit(
            &record.key,
            AuditKind::Sent,
            format!("ARSSCS update customer {code} ({})", names.join(", ")),
            serde_json::to_value(desired).ok(),
        )
        .await?;
        let answer = self.on_session(|s| s.update_customer(desired)).await;
        let result = match self.syspro_call("ARSSCS", answer) {
            Ok(result) => result,
            Err(e) => {
                let text = error_chain(&e);
                let transient = matches!(&e, EngineError::Syspro { source, .. } if super::worth_retrying(source) || source.is_outcome_unknown());
                self.audit(
                    &record.key,
                    AuditKind::Answered,
                    format!("ARSSCS update of customer {code} failed: {text}"),
                    None,
                )
                .await?;
                if transient {
                    summary.errors.push((
                        record.key.kind,
                        format!("customer {code} not updated yet ({text}); sent again next cycle"),
                    ));
                } else {
                    self.halt(
                        record,
                        format!("SYSPRO customer {code} could not be updated: {text}"),
                        summary,
                    )
                    .await?;
                }
                return Ok(Step::Stopped);
            }
        };
        let answer_doc = serde_json::to_value(&result).ok();
        let errors = result
            .errors()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        if result.is_success() {
            self.audit(
                &record.key,
                AuditKind::Answered,
                format!("ARSSCS updated customer {code}"),
                answer_doc,
            )
            .await?;
            Ok(Step::Done(()))
        } else if errors.is_empty() {
            self.audit(
                &record.key,
                AuditKind::Answered,
                format!(
                    "ARSSCS answered without confirming customer {code}; sent again next cycle"
                ),
                answer_doc,
            )
            .await?;
            summary.errors.push((
                record.key.kind,
                format!("SYSPRO did not confirm the update of customer {code}"),
            ));
            Ok(Step::Stopped)
        } else {
            self.audit(
                &record.key,
                AuditKind::Answered,
                format!("ARSSCS refused the update of customer {code}: {errors}"),
                answer_doc,
            )
            .await?;
            self.halt(
                record,
                format!("SYSPRO refused to update customer {code}: {errors}"),
                summary,
            )
            .await?;
            Ok(Step::Stopped)
        }
    }

    /// Writes the code to the configured Commerce attribute unless Commerce already holds it.
    async fn write_back(
        &self,
        record: &Record,
        customer: &Customer,
        code: &str,
        pending: &mut Pending,
        summary: &mut CycleSummary,
    ) -> Result<Step<()>, EngineError> {
        let Some(attribute) = &self.inner.connection.mapping.customers.write_back.attribute else {
            return Ok(Step::Done(()));
        };
        let Some(id) = customer.id else {
            return Ok(Step::Done(()));
        };
        let held = attribute_code_value(customer, attribute);
        if held.as_deref() == Some(code) {
            self.stage_audit(
                pending,
                &record.key,
                AuditKind::Decided,
                format!(
                    "write-back skipped: Commerce customer {id} already holds {attribute} = {code}"
                ),
                None,
            );
            return Ok(Step::Done(()));
        }
        self.settle_customers(pending, summary).await?;
        self.audit(
            &record.key,
            AuditKind::Sent,
            format!("Commerce write-back: customer {id} {attribute} = {code}"),
            Some(json!({
                "customer_id": id.get(),
                "attribute_code": attribute,
                "value": code,
                "previous": held,
            })),
        )
        .await?;
        let answer = self
            .inner
            .commerce
            .customers()
            .update_custom_attribute(id, attribute.clone(), code)
            .send()
            .await;
        match self.commerce_call("customers.update", answer) {
            Ok(saved) => {
                let stored = attribute_code_value(&saved, attribute);
                let document = json!({
                    "customer_id": id.get(),
                    "attribute_code": attribute,
                    "value": stored,
                    "updated_at": saved.updated_at.map(|t| t.to_string()),
                });
                if stored.as_deref() == Some(code) {
                    self.audit(
                        &record.key,
                        AuditKind::Answered,
                        format!("Commerce saved {attribute} = {code} on customer {id}"),
                        Some(document),
                    )
                    .await?;
                    Ok(Step::Done(()))
                } else {
                    self.audit(
                        &record.key,
                        AuditKind::Answered,
                        format!("Commerce did not keep {attribute} on customer {id}"),
                        Some(document),
                    )
                    .await?;
                    self.halt(
                        record,
                        format!(
                            "Commerce did not keep the customer attribute {attribute} (mapping.customers.write_back.attribute): is it defined for customers in Commerce?"
                        ),
                        summary,
                    )
                    .await?;
                    Ok(Step::Stopped)
                }
            }
            Err(e) => {
                let text = error_chain(&e);
                let transient =
                    matches!(&e, EngineError::Commerce { source, .. } if source.is_retryable());
                self.audit(
                    &record.key,
                    AuditKind::Answered,
                    format!("Commerce write-back of {attribute} on customer {id} failed: {text}"),
                    None,
                )
                .await?;
                if transient {
                    summary.errors.push((
                        record.key.kind,
                        format!("write-back of customer {id} postponed: {text}"),
                    ));
                } else {
                    self.halt(
                        record,
                        format!("Commerce refused the write-back of {attribute} = {code}: {text}"),
                        summary,
                    )
                    .await?;
                }
                Ok(Step::Stopped)
            }
        }
    }

    /// Stages the moves of a customer record `received -> mapped -> posting -> posted`, with the
    /// SYSPRO code in its keys. The first move expects the version that was processed, so a newer
    /// version stored meanwhile stays in `received` and is processed on the next pass (the store
    /// refuses the first move and, with it, the two after it).
    fn stage_customer_posted(
        &self,
        record: &Record,
        code: &str,
        message: &str,
        pending: &mut Pending,
    ) {
        let keys = SysproKeys {
            customer: Some(code.to_owned()),
            ..SysproKeys::default()
        };
        let message = self.inner.redactor.redact_text(message);
        let moves = [
            (
                record.state,
                Target::Mapped {
                    syspro: keys.clone(),
                },
            ),
            (RecordState::Mapped, Target::Posting),
            (RecordState::Posting, Target::Posted { syspro: keys }),
        ];
        for (index, (from, to)) in moves.into_iter().enumerate() {
            let transition = Transition::new(record.key.clone(), from, to, message.clone());
            self.stage_transition(
                pending,
                if index == 0 {
                    transition.expecting_version(record.version)
                } else {
                    transition
                },
            );
        }
    }

    /// Writes the customer records' staged audit entries and moves, and counts the records that
    /// reached `posted`. A refused move is not an error here: the record changed while it was
    /// processed, and its newer version is processed on the next pass.
    ///
    /// # Errors
    /// A storage failure.
    pub(crate) async fn settle_customers(
        &self,
        pending: &mut Pending,
        summary: &mut CycleSummary,
    ) -> Result<(), StoreError> {
        let mut refused: Option<RecordKey> = None;
        for outcome in self.write_pending(pending).await? {
            match outcome.result {
                Ok(()) if outcome.to == RecordState::Posted => summary.posted += 1,
                Ok(()) => {}
                Err(e) => {
                    if refused.as_ref() != Some(&outcome.key) {
                        tracing::info!(record = %outcome.key, error = %e, "customer record changed while it was processed; the newer version is processed next");
                        refused = Some(outcome.key);
                    }
                }
            }
        }
        Ok(())
    }

    /// The SYSPRO customer to create for a Commerce customer, from `customers.create`.
    pub(crate) fn new_customer_of(&self, customer: &Customer) -> Result<NewCustomer, String> {
        let connection = &self.inner.connection;
        let create = &connection.mapping.customers.create;
        let id = customer
            .id
            .map(|i| i.get())
            .ok_or("the customer has no id")?;
        let store_id = customer
            .store_id
            .and_then(|s| u32::try_from(s.get()).ok())
            .ok_or("the customer has no store_id")?;
        let store_code = connection
            .store_code(store_id)
            .ok_or_else(|| format!("store_id {store_id} is not in connection.commerce.stores"))?
            .to_owned();
        let store = connection.mapping.stores.get(&store_code).ok_or_else(|| {
            format!("store {store_code:?} has no settings: add mapping.stores.{store_code}")
        })?;
        let code = create
            .code_template
            .render(CUSTOMER_CODE_PLACEHOLDERS, |name| match name {
                "customer_id" => Some(id.to_string().into()),
                "store_code" => Some(store_code.clone().into()),
                "store_id" => Some(store_id.to_string().into()),
                _ => None,
            })
            .map_err(|e| format!("mapping.customers.create.code_template: {e}"))?;
        if code.chars().count() > create.code_max_length {
            return Err(format!(
                "customer code {code:?} is longer than mapping.customers.create.code_max_length ({})",
                create.code_max_length
            ));
        }
        Ok(NewCustomer {
            code,
            name: full_name(customer),
            email: customer.email.clone().unwrap_or_default(),
            branch: create
                .branch
                .clone()
                .unwrap_or_else(|| store.branch.clone()),
            terms_code: create.terms_code.clone(),
            customer_class: create.customer_class.clone(),
            currency: create
                .currency
                .clone()
                .or_else(|| connection.mapping.currencies.first().cloned())
                .unwrap_or_default(),
            salesperson: create.salesperson.clone(),
            area: create.area.clone(),
            sold_to: default_billing(customer).map(address_of),
            ship_to: default_shipping(customer).map(address_of),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ConfigError};

    fn customer(patch: Value) -> Customer {
        let mut base = json!({
            "id": 42, "store_id": 1, "website_id": 1, "group_id": 1,
            "email": "ann@example.com", "firstname": "Ann", "lastname": "Lee",
            "created_at": "2026-03-01 10:00:00", "updated_at": "2026-03-01 10:00:00",
            "default_billing": "7", "default_shipping": "8",
            "addresses": [
                {"id": 7, "customer_id": 42, "street": ["1 Main St"], "city": "Springfield",
                 "region": {"region_code": "IL", "region": "Illinois", "region_id": 23},
                 "postcode": "62701", "country_id": "US", "telephone": "555-0100",
                 "default_billing": true},
                {"id": 8, "customer_id": 42, "street": ["9 Dock Rd"], "city": "Shelbyville",
                 "postcode": "62565", "country_id": "US", "telephone": "555-0199",
                 "default_shipping": true}
            ],
            "custom_attributes": []
        });
        if let (Some(base), Some(patch)) = (base.as_object_mut(), patch.as_object()) {
            for (k, v) in patch {
                base.insert(k.clone(), v.clone());
            }
        }
        serde_json::from_value(base).expect("customer JSON")
    }

    fn hash(c: &Customer, fields: &[CustomerField]) -> String {
        fields_hash(&kept_fields(c, "WEB000042", fields))
    }

    #[test]
    fn fields_outside_the_kept_ones_do_not_change_the_hash() {
        let all = CustomerField::ALL;
        let base = hash(&customer(json!({})), &all);
        for patch in [
            json!({"dob": "1980-01-02"}),
            json!({"group_id": 4, "gender": 2}),
            json!({"updated_at": "2026-04-01 00:00:00"}),
            json!({"custom_attributes": [{"attribute_code": "erp_customer_code", "value": "WEB000042"}]}),
        ] {
            assert_eq!(hash(&customer(patch.clone()), &all), base, "{patch}");
        }
    }

    #[test]
    fn each_kept_field_changes_the_hash() {
        let all = CustomerField::ALL;
        let base = hash(&customer(json!({})), &all);
        let mut moved = customer(json!({}));
        moved.addresses[0].street = vec!["2 Main St".to_owned()];
        let mut phone = customer(json!({}));
        phone.addresses[0].telephone = Some("555-0111".to_owned());
        let mut shipping = customer(json!({}));
        shipping.addresses[1].postcode = Some("62566".to_owned());
        for (what, changed) in [
            ("name", customer(json!({"lastname": "Li"}))),
            ("email", customer(json!({"email": "ann.lee@example.com"}))),
            ("sold_to", moved),
            ("telephone", phone),
            ("ship_to", shipping),
        ] {
            assert_ne!(hash(&changed, &all), base, "{what}");
        }
    }

    #[test]
    fn only_the_configured_fields_count() {
        let name_only = [CustomerField::Name];
        let base = customer(json!({}));
        let moved = customer(json!({"email": "other@example.com"}));
        assert_eq!(hash(&moved, &name_only), hash(&base, &name_only));
        let record = kept_fields(&moved, "WEB000042", &name_only);
        assert_eq!(record.name.as_deref(), Some("Ann Lee"));
        assert_eq!(record.short_name.as_deref(), Some("Ann Lee"));
        assert!(record.email.is_none() && record.sold_to.is_none() && record.telephone.is_none());
        // Another SYSPRO code is another customer to keep in step.
        assert_ne!(
            fields_hash(&kept_fields(&base, "OTHER1", &name_only)),
            hash(&base, &name_only)
        );
    }

    #[test]
    fn kept_fields_come_from_the_default_addresses() {
        let record = kept_fields(&customer(json!({})), "WEB000042", &CustomerField::ALL);
        assert_eq!(record.email.as_deref(), Some("ann@example.com"));
        assert_eq!(record.telephone.as_deref(), Some("555-0100"));
        let sold = record.sold_to.expect("sold-to address");
        assert_eq!(sold.lines, ["1 Main St", "Springfield", "Illinois", "US"]);
        assert_eq!(sold.postal_code.as_deref(), Some("62701"));
        let ship = record.ship_to.expect("ship-to address");
        assert_eq!(ship.lines, ["9 Dock Rd", "Shelbyville", "US"]);
    }

    #[test]
    fn long_address_parts_are_cut_to_syspro_widths() {
        let mut c = customer(json!({}));
        c.addresses[0].street = vec!["x".repeat(60)];
        c.addresses[0].postcode = Some("1".repeat(20));
        let sold = kept_fields(&c, "WEB000042", &CustomerField::ALL)
            .sold_to
            .expect("sold-to address");
        assert_eq!(sold.lines[0].chars().count(), ADDRESS_LINE_MAX);
        assert_eq!(
            sold.postal_code.map(|p| p.chars().count()),
            Some(POSTAL_CODE_MAX)
        );
    }

    #[test]
    fn a_created_customer_matches_its_kept_fields() {
        let c = customer(json!({}));
        let added = convert::customer_record(&NewCustomer {
            code: "WEB000042".to_owned(),
            name: full_name(&c),
            email: "ann@example.com".to_owned(),
            branch: "WB".to_owned(),
            terms_code: Some("00".to_owned()),
            customer_class: None,
            currency: "USD".to_owned(),
            salesperson: None,
            area: None,
            sold_to: default_billing(&c).map(address_of),
            ship_to: default_shipping(&c).map(address_of),
        });
        // The add carries the telephone too, so no update follows a creation.
        assert_eq!(added.telephone.as_deref(), Some("555-0100"));
        assert_eq!(
            fields_hash(&project(&added, &CustomerField::ALL)),
            hash(&c, &CustomerField::ALL)
        );
        let without_phone = [CustomerField::Name, CustomerField::Email];
        assert_eq!(
            fields_hash(&project(&added, &without_phone)),
            hash(&c, &without_phone)
        );
    }

    #[test]
    fn in_step_documents_round_trip() {
        let step = InStep {
            code: "WEB000042".to_owned(),
            source: Source::CommerceAttribute,
            fields_hash: "ab".repeat(32),
        };
        let fields = kept_fields(&customer(json!({})), "WEB000042", &CustomerField::ALL);
        assert_eq!(InStep::from_document(&step.document(&fields)), Some(step));
        assert_eq!(InStep::from_document(&json!({"customer": "X"})), None);
    }

    #[test]
    fn a_written_attribute_reads_as_a_code() {
        let c = customer(json!({"custom_attributes": [
            {"attribute_code": "erp_customer_code", "value": " WEB000042 "},
            {"attribute_code": "erp_sync_note", "value": ""}
        ]}));
        assert_eq!(
            attribute_code_value(&c, "erp_customer_code").as_deref(),
            Some("WEB000042")
        );
        assert_eq!(attribute_code_value(&c, "erp_sync_note"), None);
        assert_eq!(attribute_code_value(&c, "missing"), None);
    }

    const EXAMPLE: &str = include_str!("../../examples/ml-connector.example.toml");
    const ALL_FIELDS: &str =
        "fields = [\"name\", \"email\", \"telephone\", \"sold_to\", \"ship_to\"]";

    fn problems_of(text: &str) -> Vec<String> {
        match Config::from_toml_str(text, "example") {
            Err(ConfigError::Invalid { problems, .. }) => {
                problems.iter().map(ToString::to_string).collect()
            }
            other => panic!("expected problems, got {other:?}"),
        }
    }

    #[test]
    fn update_follows_creation_unless_set() {
        let config = Config::from_toml_str(EXAMPLE, "example").expect("example configuration");
        let customers = &config.connections[0].mapping.customers;
        assert!(customers.create.enabled && customers.update.enabled == Some(true));
        assert_eq!(customers.update.fields, CustomerField::ALL);
        assert_eq!(customers.write_back.attribute, None);
        let mut customers = customers.clone();
        customers.update.enabled = None;
        assert!(customers.update_enabled());
        customers.create.enabled = false;
        assert!(!customers.update_enabled());
    }

    #[test]
    fn bad_update_and_write_back_settings_name_their_key() {
        let text = EXAMPLE
            .replace(ALL_FIELDS, "fields = [\"name\", \"name\"]")
            .replace(
                "# attribute = \"erp_customer_code\"",
                "attribute = \"ERP code\"",
            );
        let found = problems_of(&text);
        assert!(
            found
                .iter()
                .any(|p| p.contains("customers.update.fields") && p.contains("twice")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("customers.write_back.attribute") && p.contains("ERP code")),
            "{found:?}"
        );
        let found = problems_of(&EXAMPLE.replace(ALL_FIELDS, "fields = []"));
        assert!(
            found
                .iter()
                .any(|p| p.contains("customers.update.fields") && p.contains("at least one")),
            "{found:?}"
        );
        let off = EXAMPLE.replace(ALL_FIELDS, "fields = []").replace(
            "enabled = true                              # default: the value",
            "enabled = false                             # default: the value",
        );
        assert!(Config::from_toml_str(&off, "example").is_ok());
    }
}
