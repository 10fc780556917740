//! The audit trail: an append-only timeline per record of what was read from Commerce, what plan was
//! rendered, what was sent to SYSPRO, what SYSPRO answered, what was decided and every state transition.
//!
//! The trail is what a finance user reads to understand a record and what a replay starts from, so it
//! is never edited or deleted (the SQLite store refuses updates and deletes of audit rows). Callers
//! redact documents and messages before appending them; [`redact`] has the helpers and [`Redactor`]
//! bundles them with the secrets of a connection.
//!
//! Implementations live with the state stores ([`crate::state::MemoryStore`],
//! [`crate::state::SqliteStore`]) because a transition and its audit entry are written in one
//! transaction.

pub mod redact;

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

pub use redact::{Redactor, redact_secrets, redact_url_queries};

use crate::state::{ConnectionName, Payload, RecordKey, RecordState, StoreError};

/// What an audit entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// A document read from Commerce.
    Read,
    /// A posting plan rendered from it.
    Rendered,
    /// A document sent to SYSPRO.
    Sent,
    /// SYSPRO's answer.
    Answered,
    /// A decision of the engine (skip, halt, reconcile, change after posting ...).
    Decided,
    /// A state transition.
    Transition,
}

impl AuditKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::Read,
        Self::Rendered,
        Self::Sent,
        Self::Answered,
        Self::Decided,
        Self::Transition,
    ];

    /// The stable text form used in databases and output.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Rendered => "rendered",
            Self::Sent => "sent",
            Self::Answered => "answered",
            Self::Decided => "decided",
            Self::Transition => "transition",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditKind {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| StoreError::InvalidName {
                what: "audit entry kind",
                value: s.to_owned(),
                expected: "one of read, rendered, sent, answered, decided, transition",
            })
    }
}

/// Position of an entry in the log; later entries have larger ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AuditId(pub i64);

impl fmt::Display for AuditId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An entry to append. Its text and document must already be redacted.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    /// The record it concerns.
    pub key: RecordKey,
    /// What it records.
    pub kind: AuditKind,
    /// A one-line summary.
    pub message: String,
    /// The document read, rendered, sent or answered, if any.
    pub document: Option<Payload>,
}

impl NewAuditEntry {
    /// An entry of `kind` for `key`.
    #[must_use]
    pub fn new(key: RecordKey, kind: AuditKind, message: impl Into<String>) -> Self {
        Self {
            key,
            kind,
            message: message.into(),
            document: None,
        }
    }

    /// Attach a document.
    #[must_use]
    pub fn with_document(mut self, document: impl Into<Payload>) -> Self {
        self.document = Some(document.into());
        self
    }

    /// The same entry with every secret and URL query string removed from its message and document.
    #[must_use]
    pub fn redacted(mut self, redactor: &Redactor) -> Self {
        if let std::borrow::Cow::Owned(message) = redactor.redact_cow(&self.message) {
            self.message = message;
        }
        self.document = self.document.map(|doc| redactor.redact_payload(doc));
        self
    }
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its position in the log.
    pub id: AuditId,
    /// When it was appended.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// The record it concerns.
    pub key: RecordKey,
    /// What it records.
    pub kind: AuditKind,
    /// A one-line summary.
    pub message: String,
    /// The attached document, if any.
    pub document: Option<Value>,
}

/// Which entries to read, newest first; every field narrows the selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    /// Only this record.
    pub record: Option<RecordKey>,
    /// Only records of this connection.
    pub connection: Option<ConnectionName>,
    /// Only records currently in this state (for example the halted ones of the error inbox).
    pub state: Option<RecordState>,
    /// Only entries of this kind.
    pub kind: Option<AuditKind>,
    /// Only entries appended at or after this instant.
    pub since: Option<OffsetDateTime>,
    /// Only entries appended before this instant.
    pub until: Option<OffsetDateTime>,
    /// Only entries older than this one (for paging: pass [`AuditPage::next_before`]).
    pub before: Option<AuditId>,
    /// At most this many (0 means the default of 100).
    pub limit: usize,
}

impl AuditQuery {
    /// The default page size when `limit` is 0.
    pub const DEFAULT_LIMIT: usize = 100;

    /// The timeline of one record.
    #[must_use]
    pub fn for_record(key: RecordKey) -> Self {
        Self {
            record: Some(key),
            ..Self::default()
        }
    }

    /// The page size to use.
    #[must_use]
    pub fn effective_limit(&self) -> usize {
        if self.limit == 0 {
            Self::DEFAULT_LIMIT
        } else {
            self.limit
        }
    }

    /// Whether `entry`, whose record is currently in `record_state`, passes every filter but `limit`.
    #[must_use]
    pub fn matches(&self, entry: &AuditEntry, record_state: Option<RecordState>) -> bool {
        self.record.as_ref().is_none_or(|k| *k == entry.key)
            && self
                .connection
                .as_ref()
                .is_none_or(|c| *c == entry.key.connection)
            && self.state.is_none_or(|s| Some(s) == record_state)
            && self.kind.is_none_or(|k| k == entry.kind)
            && self.since.is_none_or(|t| entry.at >= t)
            && self.until.is_none_or(|t| entry.at < t)
            && self.before.is_none_or(|b| entry.id < b)
    }
}

/// One page of audit entries, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditPage {
    /// The entries.
    pub entries: Vec<AuditEntry>,
    /// Set when older entries match too: pass it as [`AuditQuery::before`] to read them.
    pub next_before: Option<AuditId>,
}

/// The append-only audit trail.
#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Appends one entry, stamped with the store's clock.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError>;

    /// Appends several entries in the order given, all stamped with one time from the store's clock
    /// (their ids keep the order).
    ///
    /// Stores override it to write them in one transaction (all or nothing, one commit); the default
    /// appends them one by one.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot write.
    async fn append_many(&self, entries: Vec<NewAuditEntry>) -> Result<(), StoreError> {
        for entry in entries {
            self.append(entry).await?;
        }
        Ok(())
    }

    /// Reads entries matching `query`, newest first.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot read.
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError>;
}
