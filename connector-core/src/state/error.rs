//! Errors of the state stores and the audit log.

use std::path::PathBuf;

use super::types::{ConnectionName, HolderId, RecordKey, RecordState};

/// Why a state store or audit log call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A name did not have the expected form.
    #[error("invalid {what} {value:?}: expected {expected}")]
    InvalidName {
        /// What the value was meant to be.
        what: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },

    /// No record has this key.
    #[error("record {key} not found")]
    NotFound {
        /// The key asked for.
        key: RecordKey,
    },

    /// The transition table does not allow this move.
    #[error("record {key}: transition {from} -> {to} is not allowed")]
    IllegalTransition {
        /// The record.
        key: RecordKey,
        /// The state the caller said the record is in.
        from: RecordState,
        /// The state asked for.
        to: RecordState,
    },

    /// The record is not in the state the caller expected (someone else moved it).
    #[error("record {key}: expected state {expected}, found {actual}")]
    StateMismatch {
        /// The record.
        key: RecordKey,
        /// The state the caller expected.
        expected: RecordState,
        /// The state it is in.
        actual: RecordState,
    },

    /// The record changed since the caller read it.
    #[error("record {key}: expected version {expected}, found {actual}")]
    VersionConflict {
        /// The record.
        key: RecordKey,
        /// The version the caller read.
        expected: u64,
        /// The version it has now.
        actual: u64,
    },

    /// The caller no longer holds the lease it tried to renew.
    #[error("lease on connection {connection} is no longer held by {holder}")]
    LeaseLost {
        /// The connection.
        connection: ConnectionName,
        /// The worker that tried to renew.
        holder: HolderId,
    },

    /// The database could not be opened or prepared.
    #[error("could not open the state database {}", path.display())]
    Open {
        /// The database file, or the server URL without its password.
        path: PathBuf,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },

    /// The database server could not be reached or refused the login. `location` names user, host,
    /// port and database, never the password.
    #[error("could not connect to the state database {location}: {detail}")]
    Connect {
        /// The server and database, without the password.
        location: String,
        /// What the driver said.
        detail: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// The store does not offer this capability (a custom store that predates it).
    #[error("this state store does not support {what}")]
    Unsupported {
        /// The capability asked for.
        what: &'static str,
    },

    /// The database was written by a newer version of ml-connector.
    #[error(
        "state database {} has schema version {found}, newer than the {supported} this version supports",
        path.display()
    )]
    SchemaTooNew {
        /// The database file, or the server URL without its password.
        path: PathBuf,
        /// The version recorded in the database.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },

    /// A schema migration failed; the database is left at the previous version.
    #[error("state database {}: migration {version} ({name}) failed", path.display())]
    Migration {
        /// The database file, or the server URL without its password.
        path: PathBuf,
        /// The migration's version.
        version: i64,
        /// The migration's name.
        name: &'static str,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },

    /// A query failed.
    #[error("state database {}: could not {operation} ({subject})", path.display())]
    Database {
        /// The database file, or the server URL without its password.
        path: PathBuf,
        /// What was being done, e.g. "claim due records".
        operation: &'static str,
        /// What it concerned, e.g. a record key or connection.
        subject: String,
        /// What the driver said.
        #[source]
        source: sqlx::Error,
    },

    /// A stored row could not be read back.
    #[error("state database {}: row for {subject} is unreadable: {detail}", path.display())]
    Corrupt {
        /// The database file, or the server URL without its password.
        path: PathBuf,
        /// The record key or table row.
        subject: String,
        /// What was wrong with it.
        detail: String,
    },
}

impl StoreError {
    /// Whether the call lost a race with another writer; re-reading the record and deciding again is
    /// the right reaction.
    #[must_use]
    pub fn is_conflict(&self) -> bool {
        matches!(
            self,
            Self::StateMismatch { .. } | Self::VersionConflict { .. } | Self::LeaseLost { .. }
        )
    }

    /// Whether the rules refused one record's transition (not allowed, no such record, another state
    /// or version), as opposed to the store failing: in a batch, such a transition fails alone.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Self::IllegalTransition { .. }
                | Self::NotFound { .. }
                | Self::StateMismatch { .. }
                | Self::VersionConflict { .. }
        )
    }

    /// Whether the database was busy or unreachable, so the same call may succeed later.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Database { source, .. }
            | Self::Open { source, .. }
            | Self::Connect { source, .. } => {
                let code = source
                    .as_database_error()
                    .and_then(|e| e.code())
                    .map(|code| code.into_owned());
                matches!(
                    source,
                    sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
                ) || code.as_deref().is_some_and(is_transient_code)
            }
            _ => false,
        }
    }
}

/// Whether a driver error code means "try again": PostgreSQL's SQLSTATE classes 08 (connection),
/// 40 (serialization failure, deadlock), 53 (insufficient resources) and 57P (server shutting down);
/// SQLite's BUSY (5) and LOCKED (6), whose extended codes keep the primary code in the low byte.
fn is_transient_code(code: &str) -> bool {
    if code.len() == 5 {
        ["08", "40", "53", "57P"]
            .iter()
            .any(|p| code.starts_with(p))
    } else {
        code.parse::<i32>()
            .is_ok_and(|code| matches!(code & 0xff, 5 | 6))
    }
}
