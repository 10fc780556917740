//! Domain types shared by every state store.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::error::StoreError;
use super::payload::Payload;

/// Checks a name used as a key in the stores: 1 to 64 characters from `A-Z a-z 0-9 _ - .`.
fn validate_name(what: &'static str, value: &str) -> Result<(), StoreError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::InvalidName {
            what,
            value: value.to_owned(),
            expected: "1 to 64 characters from A-Z, a-z, 0-9, '_', '-' and '.'",
        })
    }
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            #[doc = concat!("A validated ", $what, ".")]
            ///
            /// # Errors
            /// [`StoreError::InvalidName`] when the value is empty, longer than 64 characters or has
            /// characters other than ASCII letters, digits, `_`, `-` and `.`.
            pub fn new(value: impl Into<String>) -> Result<Self, StoreError> {
                let value = value.into();
                validate_name($what, &value)?;
                Ok(Self(value))
            }

            /// The name as text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = StoreError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = StoreError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }
    };
}

name_type!(
    /// The name of one configured connection (one Commerce store paired with one SYSPRO company).
    ConnectionName,
    "connection name"
);
name_type!(
    /// A change stream read from Commerce for one connection (for example `invoice`); watermarks are
    /// kept per connection and stream.
    StreamName,
    "stream name"
);
name_type!(
    /// Identifies a worker process holding leases (for example `host-a:4711`).
    HolderId,
    "lease holder id"
);

/// The kind of Commerce document a record carries.
///
/// Kinds order by their text form, so record keys sort the same way in memory and in every database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// A Commerce customer, matched or created as a SYSPRO customer.
    Customer,
    /// A Commerce invoice, posted as an AR invoice and GL journal.
    Invoice,
    /// A Commerce order, posted when the connection triggers on orders.
    Order,
    /// A Commerce credit memo.
    CreditMemo,
}

impl EntityKind {
    /// Every kind, in the order reports list them (customers first).
    pub const ALL: [Self; 4] = [Self::Customer, Self::Invoice, Self::Order, Self::CreditMemo];

    /// The stable text form used in keys, files and databases.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Invoice => "invoice",
            Self::Order => "order",
            Self::CreditMemo => "credit_memo",
        }
    }
}

impl Ord for EntityKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for EntityKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EntityKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| StoreError::InvalidName {
                what: "entity kind",
                value: s.to_owned(),
                expected: "one of customer, invoice, order, credit_memo",
            })
    }
}

impl From<EntityKind> for StreamName {
    fn from(kind: EntityKind) -> Self {
        Self(kind.as_str().to_owned())
    }
}

/// The unique key of a record: one Commerce document of one kind in one connection.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordKey {
    /// The connection the document was read through.
    pub connection: ConnectionName,
    /// What kind of document it is.
    pub kind: EntityKind,
    /// Commerce's `entity_id` of the document, as text.
    pub commerce_id: String,
}

impl RecordKey {
    /// A key for the document `commerce_id` of `kind` in `connection`.
    #[must_use]
    pub fn new(
        connection: ConnectionName,
        kind: EntityKind,
        commerce_id: impl Into<String>,
    ) -> Self {
        Self {
            connection,
            kind,
            commerce_id: commerce_id.into(),
        }
    }
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.connection, self.kind, self.commerce_id)
    }
}

/// Where a record stands; see the module documentation for the transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordState {
    /// Stored from Commerce, not yet mapped.
    Received,
    /// Mapped to a posting plan; due for posting.
    Mapped,
    /// Handed to SYSPRO (or about to be); the outcome is not yet known.
    Posting,
    /// SYSPRO holds the invoice and journal. Final.
    Posted,
    /// Waits for a person: mapping missing or document rejected.
    Halted,
    /// A transient failure; due again at `next_attempt_at`.
    RetryWait,
    /// Attempts exhausted; waits for a replay.
    Dead,
}

impl RecordState {
    /// Every state, in pipeline order.
    pub const ALL: [Self; 7] = [
        Self::Received,
        Self::Mapped,
        Self::Posting,
        Self::Posted,
        Self::Halted,
        Self::RetryWait,
        Self::Dead,
    ];

    /// The stable text form used in databases and output.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::Mapped => "mapped",
            Self::Posting => "posting",
            Self::Posted => "posted",
            Self::Halted => "halted",
            Self::RetryWait => "retry_wait",
            Self::Dead => "dead",
        }
    }

    /// Whether a record may move from `self` to `to` (the module documentation's table).
    #[must_use]
    pub const fn can_transition_to(self, to: Self) -> bool {
        use RecordState::{Dead, Halted, Mapped, Posted, Posting, Received, RetryWait};
        matches!(
            (self, to),
            (Received, Mapped | Halted)
                | (Mapped, Posting | Halted | Received)
                | (Posting, Posted | Halted | RetryWait | Dead)
                | (RetryWait, Posting | Halted | Dead | Received)
                | (Halted | Dead, Received)
        )
    }

    /// Whether no transition leaves this state (only a new version of a customer, at intake).
    #[must_use]
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Posted)
    }
}

impl fmt::Display for RecordState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RecordState {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| StoreError::InvalidName {
                what: "record state",
                value: s.to_owned(),
                expected: "one of received, mapped, posting, posted, halted, retry_wait, dead",
            })
    }
}

/// What identifies one version of a Commerce document: its id, its `updated_at` and a hash of its
/// content. Reading the same version twice (overlap windows, webhooks plus polling) yields the same
/// fingerprint, so it causes no work.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Commerce's `entity_id`.
    pub entity_id: String,
    /// Commerce's `updated_at`, in UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// Lower-case hex SHA-256 of the document's canonical JSON (see [`Fingerprint::of_document`]).
    pub content_hash: String,
}

impl Fingerprint {
    /// The fingerprint of `document`: its content hash is SHA-256 over a canonical JSON rendering
    /// (object keys sorted, no whitespace), so key order in Commerce's answer does not matter.
    #[must_use]
    pub fn of_document(
        entity_id: impl Into<String>,
        updated_at: OffsetDateTime,
        document: &Value,
    ) -> Self {
        let mut hasher = HashWriter(Sha256::new());
        write_canonical(document, &mut hasher);
        Self::with_digest(entity_id, updated_at, hasher.0)
    }

    /// [`Fingerprint::of_document`] of a document from its compact `serde_json` rendering, as
    /// [`Payload::json_text`](super::Payload::json_text) gives it for a payload made from a value.
    /// `serde_json` keeps object keys sorted, so that rendering is already canonical and is hashed
    /// as it is, without walking the document again. The same holds for the text of
    /// [`Payload::rendered`](super::Payload::rendered).
    pub fn of_rendered(
        entity_id: impl Into<String>,
        updated_at: OffsetDateTime,
        rendered: &str,
    ) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(rendered.as_bytes());
        Self::with_digest(entity_id, updated_at, hasher)
    }

    fn with_digest(
        entity_id: impl Into<String>,
        updated_at: OffsetDateTime,
        hasher: Sha256,
    ) -> Self {
        let digest = hasher.finalize();
        let mut content_hash = String::with_capacity(64);
        for byte in digest.iter() {
            content_hash.push(char::from(HEX[usize::from(byte >> 4)]));
            content_hash.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Self {
            entity_id: entity_id.into(),
            updated_at: crate::clock::truncate_to_micros(updated_at),
            content_hash,
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Feeds what is written to a SHA-256 digest, so the canonical rendering is hashed as it is made
/// rather than built as one string first.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes `value` as canonical JSON: object keys sorted, no whitespace, scalars and keys as
/// `serde_json` renders them.
fn write_canonical(value: &Value, out: &mut HashWriter) {
    // Writing to a hasher cannot fail, and neither can rendering a JSON scalar or a string.
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {
            let _ = serde_json::to_writer(&mut *out, value);
        }
        Value::Array(items) => {
            out.0.update(b"[");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.0.update(b",");
                }
                write_canonical(item, out);
            }
            out.0.update(b"]");
        }
        Value::Object(map) => {
            // `serde_json` keeps objects sorted unless its `preserve_order` feature is on.
            if map.keys().is_sorted() {
                write_object(map.iter(), out);
            } else {
                let mut entries: Vec<(&String, &Value)> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                write_object(entries.into_iter(), out);
            }
        }
    }
}

fn write_object<'a>(entries: impl Iterator<Item = (&'a String, &'a Value)>, out: &mut HashWriter) {
    out.0.update(b"{");
    for (index, (key, item)) in entries.enumerate() {
        if index > 0 {
            out.0.update(b",");
        }
        let _ = serde_json::to_writer(&mut *out, key);
        out.0.update(b":");
        write_canonical(item, out);
    }
    out.0.update(b"}");
}

/// The SYSPRO documents a record became, once known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysproKeys {
    /// The AR invoice number (deterministic from the Commerce document, so known once mapped).
    pub invoice: Option<String>,
    /// The GL journal reference.
    pub journal: Option<String>,
    /// The SYSPRO customer code: the customer a Commerce customer was matched with or created as,
    /// or the customer a document was posted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
}

impl SysproKeys {
    /// `self` with every key that `newer` knows replaced by it.
    #[must_use]
    pub fn merged(&self, newer: &Self) -> Self {
        Self {
            invoice: newer.invoice.clone().or_else(|| self.invoice.clone()),
            journal: newer.journal.clone().or_else(|| self.journal.clone()),
            customer: newer.customer.clone().or_else(|| self.customer.clone()),
        }
    }
}

/// One Commerce document and where it stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The unique key.
    pub key: RecordKey,
    /// The current state.
    pub state: RecordState,
    /// Posting attempts since the record was last (re)received.
    pub attempts: u32,
    /// When a `retry_wait` record is due again.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The fingerprint of the payload below.
    pub fingerprint: Fingerprint,
    /// A newer version of the document seen after it was posted (or while posting); recorded and
    /// audited, never posted automatically.
    pub changed_after_posting: Option<Fingerprint>,
    /// The document as read from Commerce.
    pub payload: Payload,
    /// Why the record is halted, waiting for a retry or dead.
    pub reason: Option<String>,
    /// SYSPRO's keys for what the record became.
    pub syspro: SysproKeys,
    /// When the record was first stored.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the record last changed in any way.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    /// When the record entered its current state.
    #[serde(with = "time::serde::rfc3339")]
    pub state_since: OffsetDateTime,
    /// Incremented on every change; lets a writer detect that someone else changed the record.
    pub version: u64,
}

/// A document read from Commerce, to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Intake {
    /// Which record it belongs to.
    pub key: RecordKey,
    /// Its fingerprint.
    pub fingerprint: Fingerprint,
    /// The document itself.
    pub payload: Payload,
}

/// What storing a document did.
#[derive(Debug, Clone, PartialEq)]
pub enum IntakeOutcome {
    /// The first version seen: a new record in `received`.
    Created(Record),
    /// This exact version was seen before; nothing was written.
    Unchanged(Record),
    /// A new version of a record not yet posted: the payload was replaced and the record is (back) in
    /// `received`, with attempts reset.
    Updated(Record),
    /// A new version of a record already posted (or being posted): recorded in
    /// [`Record::changed_after_posting`] and the audit log, not posted again.
    ChangedAfterPosting(Record),
}

impl IntakeOutcome {
    /// Whether the fingerprint had not been seen before for this record.
    #[must_use]
    pub fn is_new_fingerprint(&self) -> bool {
        !matches!(self, Self::Unchanged(_))
    }

    /// Whether the record now needs mapping and posting.
    #[must_use]
    pub fn needs_processing(&self) -> bool {
        matches!(self, Self::Created(_) | Self::Updated(_))
    }

    /// The record as stored after the intake.
    #[must_use]
    pub fn record(&self) -> &Record {
        match self {
            Self::Created(record)
            | Self::Unchanged(record)
            | Self::Updated(record)
            | Self::ChangedAfterPosting(record) => record,
        }
    }
}

/// The state a transition moves to, with what that state needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Back to the start (replay, or a new version of the document); resets attempts and reason.
    Received,
    /// Mapped; `syspro` holds the keys already known from the plan (the invoice number).
    Mapped {
        /// Keys known from the plan.
        syspro: SysproKeys,
    },
    /// Being posted; counts one attempt.
    Posting,
    /// Posted; `syspro` holds the keys SYSPRO confirmed.
    Posted {
        /// Keys SYSPRO confirmed.
        syspro: SysproKeys,
    },
    /// Waits for a person.
    Halted {
        /// Why, in words a finance user can act on (SYSPRO's own message when it rejected).
        reason: String,
    },
    /// Transient failure; due again at `next_attempt_at`.
    RetryWait {
        /// When to try again.
        next_attempt_at: OffsetDateTime,
        /// What failed.
        reason: String,
    },
    /// Attempts exhausted.
    Dead {
        /// The last failure.
        reason: String,
    },
}

impl Target {
    /// The state this target stands for.
    #[must_use]
    pub const fn state(&self) -> RecordState {
        match self {
            Self::Received => RecordState::Received,
            Self::Mapped { .. } => RecordState::Mapped,
            Self::Posting => RecordState::Posting,
            Self::Posted { .. } => RecordState::Posted,
            Self::Halted { .. } => RecordState::Halted,
            Self::RetryWait { .. } => RecordState::RetryWait,
            Self::Dead { .. } => RecordState::Dead,
        }
    }

    /// Applies this target to `record` (state, attempts, reason, keys, due time) at `now`.
    pub(crate) fn apply(&self, record: &mut Record, now: OffsetDateTime) {
        record.state = self.state();
        record.state_since = now;
        record.updated_at = now;
        record.version += 1;
        record.next_attempt_at = None;
        match self {
            Self::Received => {
                record.attempts = 0;
                record.reason = None;
            }
            Self::Mapped { syspro } | Self::Posted { syspro } => {
                record.reason = None;
                record.syspro = record.syspro.merged(syspro);
            }
            Self::Posting => {
                record.attempts = record.attempts.saturating_add(1);
            }
            Self::Halted { reason } | Self::Dead { reason } => {
                record.reason = Some(reason.clone());
            }
            Self::RetryWait {
                next_attempt_at,
                reason,
            } => {
                record.next_attempt_at = Some(crate::clock::truncate_to_micros(*next_attempt_at));
                record.reason = Some(reason.clone());
            }
        }
    }
}

/// A request to move one record from `from` to `to`, recorded with an audit entry in the same
/// transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Transition {
    /// The record.
    pub key: RecordKey,
    /// The state the caller believes the record is in; the transition fails if it is not.
    pub from: RecordState,
    /// Where to move it.
    pub to: Target,
    /// When set, the transition fails unless the record still has this version.
    pub expected_version: Option<u64>,
    /// Why, for the audit entry.
    pub message: String,
    /// An optional document for the audit entry (already redacted by the caller).
    pub document: Option<Payload>,
}

impl Transition {
    /// A transition of `key` from `from` to `to`, explained by `message`.
    #[must_use]
    pub fn new(key: RecordKey, from: RecordState, to: Target, message: impl Into<String>) -> Self {
        Self {
            key,
            from,
            to,
            expected_version: None,
            message: message.into(),
            document: None,
        }
    }

    /// Also require the record to still be at `version`.
    #[must_use]
    pub fn expecting_version(mut self, version: u64) -> Self {
        self.expected_version = Some(version);
        self
    }

    /// Attach a document to the audit entry.
    #[must_use]
    pub fn with_document(mut self, document: impl Into<Payload>) -> Self {
        self.document = Some(document.into());
        self
    }
}

/// Which records to list; every field narrows the selection. Records come in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Only this connection.
    pub connection: Option<ConnectionName>,
    /// Only this state.
    pub state: Option<RecordState>,
    /// Only this kind.
    pub kind: Option<EntityKind>,
    /// Only keys after this one (for paging: pass the last key of the previous page).
    pub after: Option<RecordKey>,
    /// At most this many (0 means the default of 100).
    pub limit: usize,
}

impl RecordFilter {
    /// The default page size when `limit` is 0.
    pub const DEFAULT_LIMIT: usize = 100;

    /// The page size to use.
    #[must_use]
    pub fn effective_limit(&self) -> usize {
        if self.limit == 0 {
            Self::DEFAULT_LIMIT
        } else {
            self.limit
        }
    }

    /// Whether `record` passes the filter (ignoring `limit`).
    #[must_use]
    pub fn matches(&self, record: &Record) -> bool {
        self.connection
            .as_ref()
            .is_none_or(|c| *c == record.key.connection)
            && self.state.is_none_or(|s| s == record.state)
            && self.kind.is_none_or(|k| k == record.key.kind)
            && self.after.as_ref().is_none_or(|a| record.key > *a)
    }
}

/// A connection's exclusive right to poll and post, held by one worker until it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The connection.
    pub connection: ConnectionName,
    /// Who holds it.
    pub holder: HolderId,
    /// When the current holder acquired it.
    #[serde(with = "time::serde::rfc3339")]
    pub acquired_at: OffsetDateTime,
    /// When it lapses unless renewed.
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Increases each time the lease changes hands, so a worker can tell whether it lost the lease in
    /// between (a fencing token).
    pub generation: u64,
}

impl Lease {
    /// Whether the lease has lapsed at `now`.
    #[must_use]
    pub fn is_expired(&self, now: OffsetDateTime) -> bool {
        self.expires_at <= now
    }
}

/// The answer to a lease request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The caller holds the lease (newly, by take-over after expiry, or again).
    Acquired(Lease),
    /// Another worker holds an unexpired lease.
    HeldByOther(Lease),
}

impl LeaseOutcome {
    /// The lease if the caller holds it.
    #[must_use]
    pub fn acquired(self) -> Option<Lease> {
        match self {
            Self::Acquired(lease) => Some(lease),
            Self::HeldByOther(_) => None,
        }
    }
}

/// A webhook notification waiting for the worker that holds its connection's lease.
///
/// Any worker may receive a webhook; the one holding the lease processes it, so the hand-off goes
/// through the shared store. Queuing the same record twice keeps one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The record the notification is about (connection, kind, Commerce id).
    pub key: RecordKey,
    /// When it was queued.
    #[serde(with = "time::serde::rfc3339")]
    pub queued_at: OffsetDateTime,
}

/// How a connection's latest poll cycle went, written by the worker that ran it (for `status`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CycleReport {
    /// The connection.
    pub connection: ConnectionName,
    /// The worker that ran the cycle.
    pub holder: HolderId,
    /// When the cycle started.
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    /// When it ended; `None` while it runs.
    #[serde(with = "time::serde::rfc3339::option")]
    pub finished_at: Option<OffsetDateTime>,
    /// `ok`, `ok (work done)`, or why it failed; empty while it runs.
    pub outcome: String,
    /// When the worker plans the next cycle.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_due_at: Option<OffsetDateTime>,
}

/// Number of records per state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateCounts(pub BTreeMap<RecordState, u64>);

impl StateCounts {
    /// Records in `state` (0 when there are none).
    #[must_use]
    pub fn get(&self, state: RecordState) -> u64 {
        self.0.get(&state).copied().unwrap_or(0)
    }

    /// Records in any state.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    #[test]
    fn names_are_validated() {
        assert!(ConnectionName::new("eu-store_1.main").is_ok());
        for bad in ["", "has space", "slash/no", &"x".repeat(65)] {
            let err = ConnectionName::new(bad).expect_err(bad);
            assert!(err.to_string().contains("connection name"), "{err}");
        }
    }

    #[test]
    fn text_forms_round_trip() {
        for state in RecordState::ALL {
            assert_eq!(state.as_str().parse::<RecordState>().ok(), Some(state));
        }
        for kind in EntityKind::ALL {
            assert_eq!(kind.as_str().parse::<EntityKind>().ok(), Some(kind));
        }
        assert!("shipped".parse::<RecordState>().is_err());
    }

    /// The intake hashes a payload's rendering instead of walking its value: both must give the
    /// same hash, or every document stored before would read as a new version.
    #[test]
    fn a_rendered_document_hashes_as_its_value() {
        let at = datetime!(2026-03-01 10:00 UTC);
        let documents = [
            json!({"zeta": 1, "alpha": {"y": [1, 2.5, -3, 1e300], "x": "1.00"}, "mid": null}),
            json!({"quote\"d": "tab\there \u{1F600} caf\u{e9}", "ctrl": "\u{1}", "t": true}),
            json!([{"b": 1, "a": 2}, [], {}, "", 0.30000000000000004, 18446744073709551615u64]),
        ];
        for document in documents {
            let rendered = crate::state::Payload::from(document.clone());
            assert_eq!(
                Fingerprint::of_rendered("7", at, rendered.json_text()),
                Fingerprint::of_document("7", at, &document),
                "{document}"
            );
        }
    }

    #[test]
    fn fingerprint_ignores_key_order_but_not_content() {
        let at = datetime!(2026-03-01 10:00 UTC);
        let a =
            Fingerprint::of_document("7", at, &json!({"a": 1, "b": {"x": "1.00", "y": [1, 2]}}));
        let b =
            Fingerprint::of_document("7", at, &json!({"b": {"y": [1, 2], "x": "1.00"}, "a": 1}));
        let c =
            Fingerprint::of_document("7", at, &json!({"a": 1, "b": {"x": "1.01", "y": [1, 2]}}));
        assert_eq!(a, b);
        assert_ne!(a.content_hash, c.content_hash);
        assert_eq!(a.content_hash.len(), 64);
    }

    #[test]
    fn fingerprint_hash_is_sha256_of_sorted_compact_json() {
        // Stored fingerprints must keep matching: this is the hash of
        // {"A":[],"a":1,"b":{"x":"1.00 é \"q\" \\","y":[1,2.5,null,true]}}.
        let doc =
            json!({"b": {"y": [1, 2.5, null, true], "x": "1.00 é \"q\" \\"}, "a": 1, "A": []});
        let at = datetime!(2026-03-01 10:00 UTC);
        assert_eq!(
            Fingerprint::of_document("7", at, &doc).content_hash,
            "62a604a563a6920f2672ec9ff108e15485d17d01d91d578281778b6bf0ce726f"
        );
    }

    #[test]
    fn only_posted_is_final() {
        for state in RecordState::ALL {
            let has_exit = RecordState::ALL
                .iter()
                .any(|to| state.can_transition_to(*to));
            assert_eq!(!has_exit, state.is_final(), "{state}");
        }
    }
}
