//! Opening the store a `store.url` names: a SQLite file (the default) or a PostgreSQL database.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use time::OffsetDateTime;

use super::{
    ConnectionName, CycleReport, EntityKind, HolderId, Intake, IntakeOutcome, Lease, LeaseOutcome,
    Notification, PostgresOptions, PostgresStore, Record, RecordFilter, RecordKey, SqliteOptions,
    SqliteStore, StateCounts, StateStore, StoreError, StreamName, Transition,
};
use crate::audit::{AuditEntry, AuditLog, AuditPage, AuditQuery, NewAuditEntry};
use crate::clock::Clock;

/// Where a `store.url` points.
#[derive(Debug, Clone)]
pub enum StoreLocation {
    /// `sqlite://FILE` (or `sqlite:FILE`): a relative file is taken from the base directory given
    /// to [`StoreLocation::parse`].
    Sqlite(PathBuf),
    /// `postgres://...` or `postgresql://...`, optionally with `?schema=NAME` (default `public`);
    /// kept secret because it may carry the password.
    Postgres(SecretString),
}

impl StoreLocation {
    /// Reads a store URL; relative SQLite paths are resolved against `base` (the configuration's
    /// directory, so the service finds the same file whatever its working directory).
    ///
    /// # Errors
    /// [`StoreError::InvalidName`] for another scheme or a SQLite URL without a file name.
    pub fn parse(url: &str, base: &Path) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(SecretString::from(url.to_owned())));
        }
        let invalid = |expected| StoreError::InvalidName {
            what: "store.url",
            value: redact_url(url),
            expected,
        };
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                invalid("\"sqlite://FILE\" or \"postgres://USER:PASSWORD@HOST:PORT/DATABASE\"")
            })?;
        let rest = rest.split('?').next().unwrap_or(rest);
        if rest.is_empty() {
            return Err(invalid("a database file after sqlite://"));
        }
        let path = PathBuf::from(rest);
        Ok(Self::Sqlite(if path.is_absolute() {
            path
        } else {
            base.join(path)
        }))
    }
}

/// `url` with any password between `//user:` and `@` replaced by `***`, for messages.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The store a `store.url` names, behind one type: both backends pass the same conformance suite.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// The embedded default.
    Sqlite(SqliteStore),
    /// A shared database for several workers.
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Opens the store at `location`, applying pending migrations. `sqlite_busy_timeout` is how long
    /// a SQLite write waits for another process's write.
    ///
    /// # Errors
    /// What [`SqliteStore::open_with`] or [`PostgresStore::open`] return.
    pub async fn open(
        location: &StoreLocation,
        clock: Arc<dyn Clock>,
        sqlite_busy_timeout: Duration,
    ) -> Result<Self, StoreError> {
        match location {
            StoreLocation::Sqlite(path) => {
                let mut options = SqliteOptions::new(path);
                options.busy_timeout = sqlite_busy_timeout;
                Ok(Self::Sqlite(SqliteStore::open_with(options, clock).await?))
            }
            StoreLocation::Postgres(url) => Ok(Self::Postgres(
                PostgresStore::open(PostgresOptions::from_url(url), clock).await?,
            )),
        }
    }

    /// Where the store is, for messages (never with a password).
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(s) => s.path().display().to_string(),
            Self::Postgres(p) => p.location().to_owned(),
        }
    }

    /// Whether several workers can share this store (leases across machines).
    #[must_use]
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// Closes every connection, waiting for running calls to finish.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.close().await,
            Self::Postgres(p) => p.close().await,
        }
    }
}

impl From<SqliteStore> for AnyStore {
    fn from(store: SqliteStore) -> Self {
        Self::Sqlite(store)
    }
}

impl From<PostgresStore> for AnyStore {
    fn from(store: PostgresStore) -> Self {
        Self::Postgres(store)
    }
}

macro_rules! both {
    ($self:ident, $store:ident => $call:expr) => {
        match $self {
            AnyStore::Sqlite($store) => $call,
            AnyStore::Postgres($store) => $call,
        }
    };
}

#[async_trait]
impl StateStore for AnyStore {
    async fn intake(&self, intake: Intake) -> Result<IntakeOutcome, StoreError> {
        both!(self, s => s.intake(intake).await)
    }
    async fn transition(&self, transition: Transition) -> Result<Record, StoreError> {
        both!(self, s => s.transition(transition).await)
    }
    async fn intake_many(&self, intakes: Vec<Intake>) -> Result<Vec<IntakeOutcome>, StoreError> {
        both!(self, s => s.intake_many(intakes).await)
    }
    async fn transition_many(
        &self,
        transitions: Vec<Transition>,
    ) -> Result<Vec<Result<Record, StoreError>>, StoreError> {
        both!(self, s => s.transition_many(transitions).await)
    }

    async fn move_many(
        &self,
        transitions: Vec<Transition>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        both!(self, s => s.move_many(transitions).await)
    }
    async fn claim_due(
        &self,
        connection: &ConnectionName,
        kind: Option<EntityKind>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        both!(self, s => s.claim_due(connection, kind, limit).await)
    }
    async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        both!(self, s => s.get(key).await)
    }
    async fn list(&self, filter: &RecordFilter) -> Result<Vec<Record>, StoreError> {
        both!(self, s => s.list(filter).await)
    }
    async fn stale_posting(
        &self,
        connection: &ConnectionName,
        entered_before: OffsetDateTime,
    ) -> Result<Vec<Record>, StoreError> {
        both!(self, s => s.stale_posting(connection, entered_before).await)
    }
    async fn counts(&self, connection: Option<&ConnectionName>) -> Result<StateCounts, StoreError> {
        both!(self, s => s.counts(connection).await)
    }
    async fn watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        both!(self, s => s.watermark(connection, stream).await)
    }
    async fn advance_watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
        to: OffsetDateTime,
    ) -> Result<OffsetDateTime, StoreError> {
        both!(self, s => s.advance_watermark(connection, stream, to).await)
    }
    async fn acquire_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        both!(self, s => s.acquire_lease(connection, holder, ttl).await)
    }
    async fn renew_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<Lease, StoreError> {
        both!(self, s => s.renew_lease(connection, holder, ttl).await)
    }
    async fn release_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
    ) -> Result<bool, StoreError> {
        both!(self, s => s.release_lease(connection, holder).await)
    }
    async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        both!(self, s => s.leases().await)
    }
    async fn push_notification(&self, key: &RecordKey) -> Result<Notification, StoreError> {
        both!(self, s => s.push_notification(key).await)
    }
    async fn take_notifications(
        &self,
        connection: &ConnectionName,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        both!(self, s => s.take_notifications(connection, limit).await)
    }
    async fn record_cycle(&self, report: &CycleReport) -> Result<(), StoreError> {
        both!(self, s => s.record_cycle(report).await)
    }
    async fn cycle_reports(&self) -> Result<Vec<CycleReport>, StoreError> {
        both!(self, s => s.cycle_reports().await)
    }
}

#[async_trait]
impl AuditLog for AnyStore {
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        both!(self, s => s.append(entry).await)
    }
    async fn append_many(&self, entries: Vec<NewAuditEntry>) -> Result<(), StoreError> {
        both!(self, s => s.append_many(entries).await)
    }
    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        both!(self, s => s.query(query).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_select_the_backend() {
        let base = Path::new("/etc/ml");
        assert!(matches!(
            StoreLocation::parse("sqlite://state.db", base),
            Ok(StoreLocation::Sqlite(p)) if p == Path::new("/etc/ml/state.db")
        ));
        assert!(matches!(
            StoreLocation::parse("sqlite:/var/lib/ml.db?mode=rwc", base),
            Ok(StoreLocation::Sqlite(p)) if p == Path::new("/var/lib/ml.db")
        ));
        for url in ["postgres://u:p@db:5432/ml", "postgresql://db/ml"] {
            assert!(matches!(
                StoreLocation::parse(url, base),
                Ok(StoreLocation::Postgres(_))
            ));
        }
        let err = StoreLocation::parse("mysql://u:hunter2@db/ml", base).expect_err("mysql");
        let text = err.to_string();
        assert!(
            text.contains("postgres://") && !text.contains("hunter2"),
            "{text}"
        );
        assert!(StoreLocation::parse("sqlite://", base).is_err());
    }

    #[test]
    fn a_schema_parameter_is_taken_out_of_the_url() {
        use secrecy::ExposeSecret as _;
        let url =
            SecretString::from("postgres://u:p@db/ml?sslmode=disable&schema=shop_eu".to_owned());
        let options = PostgresOptions::from_url(&url);
        assert_eq!(options.schema, "shop_eu");
        assert_eq!(
            options.url.expose_secret(),
            "postgres://u:p@db/ml?sslmode=disable"
        );
        let plain = PostgresOptions::from_url(&SecretString::from("postgres://db/ml".to_owned()));
        assert_eq!(plain.schema, "public");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("postgres://ml:s3cret@db.example:5432/ml"),
            "postgres://ml:***@db.example:5432/ml"
        );
        assert_eq!(redact_url("postgres://db/ml"), "postgres://db/ml");
        assert_eq!(redact_url("sqlite://a.db"), "sqlite://a.db");
    }
}
