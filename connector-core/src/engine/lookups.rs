//! Customer resolution for many records at once, so that SYSPRO calls per document stay low: the
//! customers a page of records needs are matched by email with one COMFND query per chunk of
//! emails, and the customers still missing are added with one ARSSCS document.
//!
//! Nothing here decides a record's fate. It only fills the engine's customer cache (and notes the
//! emails SYSPRO does not hold); planning then finds the codes there. Whatever a batched call
//! leaves unsettled (a failed query, an item SYSPRO refused, an answer that was lost) is left to
//! the per-record path of [`Engine::plan_record`], which reports it on the record.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::PoisonError;

use adobe_commerce_client::models::Customer;
use syspro_client::LargeDocumentTransport;
use syspro_client::bo::{self, CustomerSetup};
use syspro_client::config::DEFAULT_URL_LENGTH_THRESHOLD;

use super::convert::ConversionError;
use super::writes::Pending;
use super::{Engine, EngineEvent, convert};
use crate::audit::AuditKind;
use crate::mapping::{MappingContext, ReferenceData};
use crate::plan::{CustomerAction, NewCustomer, SourceDocument};
use crate::state::{EntityKind, Record, RecordKey, StoreError};

/// Emails per COMFND query at most; fewer when their expressions would make the URL too long
/// (queries have no large-document transport).
const EMAILS_PER_QUERY: usize = 60;
/// Rows asked for per query: room for several SYSPRO customers per email.
const ROWS_PER_QUERY: u32 = 200;
/// Customers per ARSSCS document at most; fewer when their XML would make the URL too long.
const CUSTOMERS_PER_SETUP: usize = 50;
/// Notes of created customers kept for their Commerce customer records at most.
const CREATED_NOTES: usize = 10_000;
/// Bytes of a Setup/Add or Query URL besides its document: address, session, parameters.
const URL_OVERHEAD: usize = 1024;

impl Engine {
    /// Matches and creates, in batches, the SYSPRO customers that `records` need; the codes land in
    /// the customer cache. Returns how many customers SYSPRO created.
    ///
    /// `documents` holds the source document of each record, in the same order, as
    /// [`Engine::source_document`] gives it (empty when the records are customer records).
    pub(crate) async fn prepare_customers(
        &self,
        records: &[Record],
        documents: &[Result<SourceDocument, ConversionError>],
        reference: &ReferenceData,
    ) -> Result<usize, StoreError> {
        let mapping = &self.inner.connection.mapping;
        // Email (lower case) -> the customer to create when SYSPRO has none, and who needs it.
        let mut to_match: BTreeMap<String, (Option<NewCustomer>, RecordKey)> = BTreeMap::new();
        let mut to_create: Vec<(NewCustomer, RecordKey)> = Vec::new();
        for (index, record) in records.iter().enumerate() {
            match record.key.kind {
                EntityKind::Customer => {
                    // A record that already has a code, a trail or a table entry is resolved on
                    // its own (see `Engine::resolve_customer`).
                    if record.syspro.customer.is_some() || record.version > 1 {
                        continue;
                    }
                    let Ok(customer) = record.payload.parse::<Customer>() else {
                        continue;
                    };
                    let email = customer
                        .email
                        .as_deref()
                        .map(|e| e.trim().to_lowercase())
                        .unwrap_or_default();
                    if !mapping.customers.match_by_email
                        || email.is_empty()
                        || self.cached_customer(&email).is_some()
                        || self.table_code(&customer).is_some()
                        || self.customer_code_in_commerce(&customer).is_some()
                    {
                        continue;
                    }
                    // Created in the batch when SYSPRO has none, as the record's own pass would.
                    let create = if mapping.customers.create.enabled {
                        self.new_customer_of(&customer).ok()
                    } else {
                        None
                    };
                    to_match
                        .entry(email)
                        .or_insert_with(|| (create, record.key.clone()));
                }
                EntityKind::Invoice | EntityKind::Order => {
                    let Some(Ok(doc)) = documents.get(index) else {
                        continue;
                    };
                    let context = MappingContext {
                        customer_code: None,
                        reference,
                    };
                    let Ok(plan) = self.inner.mapper.plan(doc, &context) else {
                        continue;
                    };
                    match plan.customer {
                        CustomerAction::MatchByEmail {
                            email,
                            otherwise_create,
                        } if self.cached_customer(&email).is_none() => {
                            to_match
                                .entry(email.trim().to_lowercase())
                                .or_insert_with(|| (otherwise_create, record.key.clone()));
                        }
                        CustomerAction::Create(new)
                            if self.cached_customer(&new.email).as_deref() != Some(&new.code) =>
                        {
                            to_create.push((new, record.key.clone()));
                        }
                        _ => {}
                    }
                }
                EntityKind::CreditMemo => {}
            }
        }
        if !to_match.is_empty() {
            let emails: Vec<&str> = to_match.keys().map(String::as_str).collect();
            let absent = self.match_by_email(&emails).await;
            for email in absent {
                if let Some((Some(new), key)) = to_match.remove(&email) {
                    to_create.push((new, key));
                }
            }
        }
        if to_create.is_empty() {
            return Ok(0);
        }
        let mut seen = HashSet::new();
        to_create.retain(|(new, _)| seen.insert(new.code.clone()));
        let mut created = 0;
        for chunk in setup_chunks(&to_create, self.get_url_limit()) {
            created += self.create_customers(chunk).await?;
        }
        Ok(created)
    }

    /// Looks `emails` (lower case) up in SYSPRO, remembering the code found for each. Returns the
    /// emails SYSPRO certainly holds no customer for (and notes them, so planning does not ask
    /// again); an email whose query failed is in neither.
    ///
    /// The queries are sent together: they queue on the SYSPRO session behind at most the call
    /// in flight, instead of each waiting its turn behind the poster's next call.
    async fn match_by_email(&self, emails: &[&str]) -> Vec<String> {
        let chunks = email_chunks(emails, self.get_url_limit());
        let answers = futures::future::join_all(chunks.iter().map(|chunk| async move {
            let query = email_query(chunk);
            let found = self.on_session(|s| s.find(&query)).await;
            self.syspro_call("COMFND", found)
        }))
        .await;
        let mut absent = Vec::new();
        for (chunk, answer) in chunks.iter().zip(answers) {
            let Ok(result) = answer else {
                continue;
            };
            // Rows come ordered by code: the first per email is the one a single look-up picks.
            let mut codes: HashMap<String, String> = HashMap::new();
            for row in &result.rows {
                if let (Some(code), Some(email)) = (row.get("Customer"), row.get("Email")) {
                    let code = code.trim();
                    if !code.is_empty() {
                        codes
                            .entry(email.trim().to_lowercase())
                            .or_insert_with(|| code.to_owned());
                    }
                }
            }
            // A full answer may have been cut short: only then is "not found" not certain.
            let complete = result.rows.len() < ROWS_PER_QUERY as usize;
            for email in *chunk {
                match codes.get(*email) {
                    Some(code) => self.remember_customer(email, code),
                    None if complete => absent.push((*email).to_owned()),
                    None => {}
                }
            }
        }
        self.inner
            .absent_emails
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend(absent.iter().cloned());
        absent
    }

    /// Adds `customers` with one ARSSCS document that applies the valid ones. Returns how many
    /// SYSPRO created; a customer it already holds counts as there, one it refused is left to the
    /// per-record path (which halts its record with SYSPRO's message).
    async fn create_customers(
        &self,
        customers: &[(NewCustomer, RecordKey)],
    ) -> Result<usize, StoreError> {
        let records: Vec<bo::CustomerRecord> = customers
            .iter()
            .map(|(new, _)| convert::customer_record(new))
            .collect();
        let mut pending = Pending::default();
        for ((new, key), record) in customers.iter().zip(&records) {
            self.stage_audit(
                &mut pending,
                key,
                AuditKind::Sent,
                format!(
                    "ARSSCS add customer {} (batch of {})",
                    new.code,
                    customers.len()
                ),
                serde_json::to_value(record).ok(),
            );
        }
        // What is about to be sent is durable before it is sent.
        self.flush(&mut pending).await?;
        let mut setup = CustomerSetup::new(records);
        setup.parameters.apply_if_entire_document_valid = false;
        let answer = self.on_session(|s| s.add_customers(&setup)).await;
        // A failed or lost answer settles nothing here: each record then asks on its own, and a
        // lost answer is checked by email there before anything is sent again.
        let Ok(result) = self.syspro_call("ARSSCS", answer) else {
            return Ok(0);
        };
        let mut created = 0;
        for (index, (new, key)) in customers.iter().enumerate() {
            let item = result.customers.get(index).filter(|item| {
                item.customer
                    .as_deref()
                    .is_none_or(|c| c.trim().eq_ignore_ascii_case(&new.code))
            });
            let Some(item) = item else { continue };
            let errors = item
                .messages
                .errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ");
            let success = item.is_success();
            if !success && !errors.to_lowercase().contains("already exists") {
                continue;
            }
            self.stage_audit(
                &mut pending,
                key,
                AuditKind::Answered,
                format!("ARSSCS: customer {} is in SYSPRO", new.code),
                serde_json::to_value(item).ok(),
            );
            if success {
                created += 1;
                self.emit(EngineEvent::CustomerCreated {
                    code: new.code.clone(),
                });
                let mut notes = self
                    .inner
                    .created_customers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                // Notes of customers whose records never come (another store's) are dropped
                // now and then; such a record then reads as found by email.
                if notes.len() >= CREATED_NOTES {
                    notes.clear();
                }
                notes.insert(new.email.trim().to_lowercase(), new.clone());
            }
            self.remember_customer(&new.email, &new.code);
        }
        self.flush(&mut pending).await?;
        Ok(created)
    }

    /// The longest Setup/Add or Query URL to send: e.net has no large-document variant of either,
    /// and http.sys refuses a long URL with HTTP 414, so a batch is cut to the client's GET limit.
    fn get_url_limit(&self) -> usize {
        match self.inner.syspro.config().large_documents() {
            LargeDocumentTransport::Auto {
                url_length_threshold,
            } => url_length_threshold,
            _ => DEFAULT_URL_LENGTH_THRESHOLD,
        }
    }

    /// Whether a batched look-up found no SYSPRO customer with `email`; the note is used once.
    pub(crate) fn take_absent_email(&self, email: &str) -> bool {
        self.inner
            .absent_emails
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&email.trim().to_lowercase())
    }
}

/// The COMFND query that finds the SYSPRO customers with any of `emails` (at least one).
fn email_query(emails: &[&str]) -> bo::ComFind {
    let (first, rest) = emails.split_first().map_or(("", &[][..]), |(f, r)| (*f, r));
    let filter = rest.iter().fold(bo::Where::eq("Email", first), |w, e| {
        w.or("Email", bo::Condition::Eq, *e)
    });
    bo::ComFind::new("ArCustomer")
        .columns(["Customer", "Email"])
        .filter(filter)
        .order_by("Customer")
        .return_rows(ROWS_PER_QUERY)
}

/// The URL-encoded length of `query`'s document.
fn query_len(query: &bo::ComFind) -> usize {
    query
        .query_xml()
        .map_or(usize::MAX, |xml| url_encoded_len(&xml))
}

/// `emails` in COMFND queries of at most [`EMAILS_PER_QUERY`], each with a URL of at most
/// `url_limit` bytes (an email too long alone still goes alone).
///
/// What an email adds to a query is measured on a rendered query, escaping included: the
/// expression it adds after a first one. The query's own part is a one-email query less that
/// email's expression, so a chunk's cost is its query's length exactly.
fn email_chunks<'a, 'e>(emails: &'a [&'e str], url_limit: usize) -> Vec<&'a [&'e str]> {
    let sample = "a@b";
    let one = query_len(&email_query(&[sample]));
    let added = |email: &str| query_len(&email_query(&[sample, email])).saturating_sub(one);
    let query_part = one.saturating_sub(added(sample));
    let budget = url_limit.saturating_sub(URL_OVERHEAD + query_part);
    chunks_by_cost(emails, budget, EMAILS_PER_QUERY, |email| added(email))
}

/// `customers` in ARSSCS calls of at most [`CUSTOMERS_PER_SETUP`], each with a URL of at most
/// `url_limit` bytes as far as its customers' URL-encoded XML tells (a customer too large alone
/// still goes alone, and SYSPRO's refusal then names it).
fn setup_chunks(
    customers: &[(NewCustomer, RecordKey)],
    url_limit: usize,
) -> Vec<&[(NewCustomer, RecordKey)]> {
    let budget = url_limit.saturating_sub(URL_OVERHEAD);
    chunks_by_cost(customers, budget, CUSTOMERS_PER_SETUP, |(new, _)| {
        CustomerSetup::new(vec![convert::customer_record(new)])
            .document_xml(true)
            .map_or(budget, |xml| url_encoded_len(&xml))
    })
}

/// `items` in order, in chunks of at most `most` whose costs add up to at most `budget`; an item
/// that costs more than the budget alone goes alone.
fn chunks_by_cost<T>(
    items: &[T],
    budget: usize,
    most: usize,
    cost: impl Fn(&T) -> usize,
) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let (mut start, mut used) = (0, 0);
    for (index, item) in items.iter().enumerate() {
        let cost = cost(item);
        if index > start && (used + cost > budget || index - start == most) {
            chunks.push(&items[start..index]);
            (start, used) = (index, 0);
        }
        used += cost;
    }
    if start < items.len() {
        chunks.push(&items[start..]);
    }
    chunks
}

/// The length of `text` percent-encoded in a query string: unreserved bytes as they are, every
/// other byte as `%XX`.
fn url_encoded_len(text: &str) -> usize {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                1
            } else {
                3
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ConnectionName;

    fn customer(n: usize) -> (NewCustomer, RecordKey) {
        let new = NewCustomer {
            code: format!("ML{n:06}"),
            name: format!("Customer Number {n} With A Fairly Long Name"),
            email: format!("customer.{n}@example.net"),
            branch: "WB".to_owned(),
            terms_code: None,
            customer_class: None,
            currency: "USD".to_owned(),
            salesperson: None,
            area: None,
            sold_to: None,
            ship_to: None,
        };
        let key = RecordKey::new(
            ConnectionName::new("eu").expect("name"),
            EntityKind::Customer,
            n.to_string(),
        );
        (new, key)
    }

    #[test]
    fn setup_batches_keep_their_urls_under_the_limit() {
        let customers: Vec<_> = (0..60).map(customer).collect();
        let limit = 8 * 1024;
        let chunks = setup_chunks(&customers, limit);
        assert!(chunks.len() > 2, "{} chunks", chunks.len());
        assert_eq!(chunks.iter().map(|c| c.len()).sum::<usize>(), 60);
        for chunk in &chunks {
            let records = chunk
                .iter()
                .map(|(n, _)| convert::customer_record(n))
                .collect();
            let xml = CustomerSetup::new(records).document_xml(true).expect("xml");
            assert!(
                url_encoded_len(&xml) + URL_OVERHEAD <= limit,
                "{}",
                chunk.len()
            );
        }
        // Without a URL limit, the count per call still is.
        let wide = setup_chunks(&customers, usize::MAX);
        assert_eq!(wide.iter().map(|c| c.len()).collect::<Vec<_>>(), [50, 10]);
        assert_eq!(
            setup_chunks(&customers[..1], 10).len(),
            1,
            "one too large goes alone"
        );
    }

    #[test]
    fn email_queries_keep_their_urls_under_the_limit() {
        let owned: Vec<String> = (0..300)
            .map(|n| {
                if n % 7 == 0 {
                    format!("o'brien&sons.{n}@example.net")
                } else {
                    format!("customer.{n}@example.net")
                }
            })
            .collect();
        let emails: Vec<&str> = owned.iter().map(String::as_str).collect();
        let limit = 8 * 1024;
        let chunks = email_chunks(&emails, limit);
        assert_eq!(chunks.concat(), emails, "every email once, in order");
        for chunk in &chunks {
            assert!(
                query_len(&email_query(chunk)) + URL_OVERHEAD <= limit,
                "{} emails",
                chunk.len()
            );
        }
        // Each query but the last is full: one more email would break the limit.
        let mut start = 0;
        for chunk in &chunks[..chunks.len() - 1] {
            let end = start + chunk.len();
            let grown = email_query(&emails[start..=end]);
            assert!(
                query_len(&grown) + URL_OVERHEAD > limit || chunk.len() == EMAILS_PER_QUERY,
                "a query of {} emails had room for one more",
                chunk.len()
            );
            start = end;
        }
        assert!(chunks.len() < 300 / 20, "{} queries", chunks.len());
        // Without a URL limit, the count per query still is.
        let wide = email_chunks(&emails, usize::MAX);
        assert_eq!(
            wide.iter().map(|c| c.len()).collect::<Vec<_>>(),
            [60, 60, 60, 60, 60]
        );
        assert_eq!(
            email_chunks(&emails[..1], 10).len(),
            1,
            "one too long goes alone"
        );
        assert!(email_chunks(&[], limit).is_empty());
    }

    #[test]
    fn url_encoding_length_counts_escapes() {
        assert_eq!(url_encoded_len("Ab-9._~"), 7);
        assert_eq!(url_encoded_len("<a b=\"1\"/>"), 24);
        assert_eq!(url_encoded_len("é"), 6);
    }
}
