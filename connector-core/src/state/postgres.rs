//! The shared store: one PostgreSQL database serving several workers on several machines.
//!
//! Every write is one transaction at READ COMMITTED. A write that reads before it writes locks the
//! rows it reads (`SELECT ... FOR UPDATE`), so two workers never both act on what they read.
//! Claiming due records uses `FOR UPDATE SKIP LOCKED`: concurrent claimers each take different rows
//! without waiting on each other. A transaction that loses a race on an insert (unique key) or hits
//! a deadlock or serialization failure is retried a few times before the error is returned.
//!
//! Batch calls (`intake_many`, `transition_many`, `append_many`, and `claim_due`'s writes) are one
//! transaction each: one statement reads and locks every record concerned, in key order (so batches
//! sharing records queue instead of deadlocking), and multi-row statements write the records and
//! audit entries; a page of changes costs a few round trips and one commit instead of several per
//! record.
//!
//! Schema migrations run at open, inside one transaction holding a transaction-level advisory lock
//! (`pg_advisory_xact_lock`), so workers starting together apply each migration exactly once. All
//! tables live in one schema (default `public`), so one database can hold several deployments, and
//! the tests give every test its own schema.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret as _, SecretString};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection as _, Postgres, QueryBuilder, Row};
use time::OffsetDateTime;

use super::batch::statement_chunks;
use super::logic;
use super::memory::{BatchWrites, apply_intakes, apply_transitions, batch_subject, keys_to_read};
use super::payload::Payload;
use super::{
    ConnectionName, CycleReport, EntityKind, Fingerprint, HolderId, Intake, IntakeOutcome, Lease,
    LeaseOutcome, Notification, Record, RecordFilter, RecordKey, RecordState, StateCounts,
    StateStore, StoreError, StreamName, SysproKeys, Transition, expiry,
};
use crate::audit::{
    AuditEntry, AuditId, AuditKind, AuditLog, AuditPage, AuditQuery, NewAuditEntry,
};
use crate::clock::{Clock, truncate_to_micros};

/// Schema migrations, applied in order; a released migration is never edited, only followed by a new
/// one. Instants are microseconds since the Unix epoch (`BIGINT`), as in the SQLite store, stamped
/// by the workers' clocks.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "records, audit, watermarks, leases",
        r"
CREATE TABLE records (
    connection TEXT NOT NULL,
    kind TEXT NOT NULL,
    commerce_id TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at BIGINT,
    fp_entity_id TEXT NOT NULL,
    fp_updated_at BIGINT NOT NULL,
    fp_content_hash TEXT NOT NULL,
    late_fp_entity_id TEXT,
    late_fp_updated_at BIGINT,
    late_fp_content_hash TEXT,
    payload TEXT NOT NULL,
    reason TEXT,
    syspro_invoice TEXT,
    syspro_journal TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    state_since BIGINT NOT NULL,
    version BIGINT NOT NULL,
    PRIMARY KEY (connection, kind, commerce_id)
);
CREATE INDEX records_by_state ON records (connection, state, next_attempt_at);

CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    connection TEXT NOT NULL,
    kind TEXT NOT NULL,
    commerce_id TEXT NOT NULL,
    entry_kind TEXT NOT NULL,
    message TEXT NOT NULL,
    document TEXT
);
CREATE INDEX audit_by_record ON audit (connection, kind, commerce_id, id);
CREATE INDEX audit_by_connection ON audit (connection, id);
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit entries are append-only'; END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
FOR EACH ROW EXECUTE FUNCTION audit_append_only();

CREATE TABLE watermarks (
    connection TEXT NOT NULL,
    stream TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (connection, stream)
);

CREATE TABLE leases (
    connection TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    acquired_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    generation BIGINT NOT NULL
);
",
    ),
    (
        2,
        "webhook notification queue, cycle reports",
        r"
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    connection TEXT NOT NULL,
    kind TEXT NOT NULL,
    commerce_id TEXT NOT NULL,
    queued_at BIGINT NOT NULL,
    UNIQUE (connection, kind, commerce_id)
);
CREATE INDEX notifications_by_connection ON notifications (connection, id);

CREATE TABLE cycles (
    connection TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    finished_at BIGINT,
    outcome TEXT NOT NULL,
    next_due_at BIGINT
);
",
    ),
    (
        3,
        "SYSPRO customer code of a record",
        r"
ALTER TABLE records ADD COLUMN syspro_customer TEXT;
",
    ),
];

const RECORD_COLUMNS: &str = "connection, kind, commerce_id, state, attempts, next_attempt_at, \
    fp_entity_id, fp_updated_at, fp_content_hash, late_fp_entity_id, late_fp_updated_at, \
    late_fp_content_hash, payload, reason, syspro_invoice, syspro_journal, syspro_customer, \
    created_at, updated_at, state_since, version";

/// [`RECORD_COLUMNS`] with the payload left unread (as JSON `null`), for moves: a move never
/// changes it.
const RECORD_COLUMNS_BUT_PAYLOAD: &str = "connection, kind, commerce_id, state, attempts, \
    next_attempt_at, fp_entity_id, fp_updated_at, fp_content_hash, late_fp_entity_id, \
    late_fp_updated_at, late_fp_content_hash, 'null'::text AS payload, reason, syspro_invoice, \
    syspro_journal, syspro_customer, created_at, updated_at, state_since, version";

/// What a write of a record read (and locked) in the same transaction replaces: every column but
/// the key, and the payload only when the record took a new one ([`write_records`] binds an empty
/// payload otherwise, which no document renders to). A payload is often large and kept out of
/// line (TOAST); written again unchanged, it would be stored again on every move.
///
/// [`write_records`]: PostgresStore::write_records
const RECORD_UPSERT: &str = " ON CONFLICT (connection, kind, commerce_id) DO UPDATE SET \
    state = excluded.state, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, \
    fp_entity_id = excluded.fp_entity_id, fp_updated_at = excluded.fp_updated_at, \
    fp_content_hash = excluded.fp_content_hash, late_fp_entity_id = excluded.late_fp_entity_id, \
    late_fp_updated_at = excluded.late_fp_updated_at, \
    late_fp_content_hash = excluded.late_fp_content_hash, \
    payload = CASE WHEN excluded.payload = '' THEN records.payload ELSE excluded.payload END, \
    reason = excluded.reason, syspro_invoice = excluded.syspro_invoice, \
    syspro_journal = excluded.syspro_journal, syspro_customer = excluded.syspro_customer, \
    created_at = excluded.created_at, updated_at = excluded.updated_at, \
    state_since = excluded.state_since, version = excluded.version";

const AUDIT_INSERT: &str =
    "INSERT INTO audit (at, connection, kind, commerce_id, entry_kind, message, document) ";

/// The first key of the advisory lock taken while migrating ("mlco"); the second is the schema's
/// hash, so deployments in different schemas do not wait on each other.
const MIGRATION_LOCK: i32 = 0x6d6c_636f;

/// How often a transaction that lost a race (unique key, deadlock, serialization failure) is tried.
const ATTEMPTS: u32 = 4;

/// How to open the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/database`; kept secret because it may carry the password.
    pub url: SecretString,
    /// The schema holding the tables (default `public`); created when missing.
    pub schema: String,
    /// Connections kept open per worker.
    pub max_connections: u32,
    /// How long connecting (or waiting for a free pooled connection) may take.
    pub connect_timeout: Duration,
}

impl PostgresOptions {
    /// Defaults for `url`: schema `public`, 8 connections, 10 s to connect.
    #[must_use]
    pub fn new(url: SecretString) -> Self {
        Self {
            url,
            schema: "public".to_owned(),
            max_connections: 8,
            connect_timeout: Duration::from_secs(10),
        }
    }

    /// Options for a store URL that may name its schema in a `schema=NAME` query parameter
    /// (`postgres://ml@db/ledger?schema=shop_eu`), taken out before the URL reaches the driver.
    #[must_use]
    pub fn from_url(url: &SecretString) -> Self {
        let text = url.expose_secret();
        let Some((base, query)) = text.split_once('?') else {
            return Self::new(url.clone());
        };
        let mut schema = None;
        let rest: Vec<&str> = query
            .split('&')
            .filter(|pair| match pair.strip_prefix("schema=") {
                Some(name) => {
                    schema = Some(name.to_owned());
                    false
                }
                None => !pair.is_empty(),
            })
            .collect();
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let options = Self::new(SecretString::from(url));
        match schema {
            Some(schema) => options.schema(schema),
            None => options,
        }
    }

    /// The same, with the tables in `schema`.
    #[must_use]
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }
}

/// The PostgreSQL state store and audit log. Cheap to clone; clones share the connection pool.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// `postgres://user@host:port/database` (schema `s`), never with the password.
    location: Arc<String>,
    clock: Arc<dyn Clock>,
}

impl PostgresStore {
    /// Connects with `options`, creates the schema when missing and applies pending migrations under
    /// an advisory lock.
    ///
    /// # Errors
    /// [`StoreError::InvalidName`] for a schema name that is not a plain identifier,
    /// [`StoreError::Connect`] when the server cannot be reached or refuses the login (the message
    /// names user, host, port and database, never the password), [`StoreError::SchemaTooNew`] or
    /// [`StoreError::Migration`].
    pub async fn open(options: PostgresOptions, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        let schema = options.schema.clone();
        let plain = !schema.is_empty()
            && schema.len() <= 63
            && schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !schema.starts_with(|c: char| c.is_ascii_digit());
        if !plain {
            return Err(StoreError::InvalidName {
                what: "PostgreSQL schema",
                value: schema,
                expected: "1 to 63 characters from a-z, 0-9 and '_', not starting with a digit",
            });
        }
        let connect =
            PgConnectOptions::from_str(options.url.expose_secret()).map_err(|source| {
                StoreError::Connect {
                    location: "(the store URL)".to_owned(),
                    detail: "the URL is not a PostgreSQL connection URL \
                         (expected postgres://USER:PASSWORD@HOST:PORT/DATABASE)"
                        .to_owned(),
                    source,
                }
            })?;
        let location = format!(
            "postgres://{}@{}:{}/{} (schema {schema})",
            connect.get_username(),
            connect.get_host(),
            connect.get_port(),
            connect.get_database().unwrap_or(connect.get_username()),
        );
        let connect = connect
            .application_name("ml-connector")
            .options([("search_path", schema.as_str())]);
        let connect_error = |source: sqlx::Error| StoreError::Connect {
            location: location.clone(),
            detail: driver_message(&source),
            source,
        };

        // One direct connection first: a pool would retry an unreachable server until its timeout
        // and report only that it timed out, losing what the driver said.
        let first = tokio::time::timeout(
            options.connect_timeout,
            PgConnection::connect_with(&connect),
        )
        .await
        .map_err(|_| {
            connect_error(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!(
                    "no answer within {} s",
                    options.connect_timeout.as_secs_f32()
                ),
            )))
        })?
        .map_err(connect_error)?;
        let store = Self {
            pool: PgPoolOptions::new()
                .max_connections(options.max_connections.max(1))
                .acquire_timeout(options.connect_timeout)
                .connect_lazy_with(connect),
            location: Arc::new(location),
            clock,
        };
        let _ = first.close().await;
        store.migrate(&schema).await?;
        Ok(store)
    }

    /// Where the store is: user, host, port, database and schema, without the password.
    #[must_use]
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The schema version the database is at.
    ///
    /// # Errors
    /// [`StoreError::Database`] when it cannot be read.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            .fetch_one(&self.pool)
            .await
            .map_err(self.db("read the schema version", "schema_migrations"))
    }

    /// Closes every connection, waiting for running calls to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn migrate(&self, schema: &str) -> Result<(), StoreError> {
        let step = self.db("apply migrations", "schema_migrations");
        let mut tx = self.pool.begin().await.map_err(&step)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
            .bind(MIGRATION_LOCK)
            .bind(schema)
            .execute(&mut *tx)
            .await
            .map_err(&step)?;
        // The schema name was checked to be a plain identifier, so quoting it is enough.
        let prepare = format!(
            "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
             CREATE TABLE IF NOT EXISTS \"{schema}\".schema_migrations (
                version BIGINT PRIMARY KEY NOT NULL,
                name TEXT NOT NULL,
                applied_at BIGINT NOT NULL
             );"
        );
        // Several statements in one text go through the simple query protocol (no parameters).
        sqlx::Executor::execute(&mut *tx, prepare.as_str())
            .await
            .map_err(&step)?;
        let current: i64 =
            sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                .fetch_one(&mut *tx)
                .await
                .map_err(&step)?;
        let supported = MIGRATIONS.last().map_or(0, |m| m.0);
        if current > supported {
            return Err(StoreError::SchemaTooNew {
                path: self.location.as_str().into(),
                found: current,
                supported,
            });
        }
        let now = micros(self.clock.now());
        for &(version, name, sql) in MIGRATIONS {
            if version <= current {
                continue;
            }
            let applied = match sqlx::Executor::execute(&mut *tx, sql).await {
                Ok(_) => sqlx::query(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                )
                .bind(version)
                .bind(name)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(source) = applied {
                return Err(StoreError::Migration {
                    path: self.location.as_str().into(),
                    version,
                    name,
                    source,
                });
            }
        }
        tx.commit().await.map_err(step)
    }

    fn now(&self) -> OffsetDateTime {
        truncate_to_micros(self.clock.now())
    }

    fn db<S: ToString>(
        &self,
        operation: &'static str,
        subject: S,
    ) -> impl Fn(sqlx::Error) -> StoreError + use<S> {
        let location = Arc::clone(&self.location);
        let subject = subject.to_string();
        move |source| StoreError::Database {
            path: location.as_str().into(),
            operation,
            subject: subject.clone(),
            source,
        }
    }

    fn corrupt(&self, subject: impl ToString, detail: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.location.as_str().into(),
            subject: subject.to_string(),
            detail: detail.to_string(),
        }
    }

    async fn begin(
        &self,
        operation: &'static str,
        subject: impl ToString,
    ) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        self.pool.begin().await.map_err(self.db(operation, subject))
    }

    async fn fetch_record(
        &self,
        conn: &mut PgConnection,
        key: &RecordKey,
        operation: &'static str,
    ) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM records \
             WHERE connection = $1 AND kind = $2 AND commerce_id = $3"
        ))
        .bind(key.connection.as_str())
        .bind(key.kind.as_str())
        .bind(&key.commerce_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(self.db(operation, key))?;
        row.map(|row| self.record_from_row(&row)).transpose()
    }

    /// Reads and locks (`FOR UPDATE`) the records with these keys (those that exist), in one
    /// statement per slice [`statement_chunks`] cuts. Rows are locked in key order, the order every
    /// batch uses, so two batches sharing records wait for each other instead of deadlocking.
    async fn lock_records(
        &self,
        conn: &mut PgConnection,
        keys: &BTreeSet<RecordKey>,
        with_payload: bool,
        operation: &'static str,
        subject: &str,
    ) -> Result<BTreeMap<RecordKey, Record>, StoreError> {
        let keys: Vec<&RecordKey> = keys.iter().collect();
        let mut found = BTreeMap::new();
        let columns = if with_payload {
            RECORD_COLUMNS
        } else {
            RECORD_COLUMNS_BUT_PAYLOAD
        };
        for chunk in statement_chunks(&keys) {
            let mut query: QueryBuilder<'_, Postgres> = QueryBuilder::new(format!(
                "SELECT {columns} FROM records WHERE (connection, kind, commerce_id) IN ("
            ));
            query.push_values(chunk, |mut row, key| {
                row.push_bind(key.connection.as_str())
                    .push_bind(key.kind.as_str())
                    .push_bind(key.commerce_id.as_str());
            });
            query.push(
                ") ORDER BY connection COLLATE \"C\", kind COLLATE \"C\", commerce_id COLLATE \"C\" \
                 FOR UPDATE",
            );
            let rows = query
                .build()
                .fetch_all(&mut *conn)
                .await
                .map_err(self.db(operation, subject))?;
            for row in &rows {
                let record = self.record_from_row(row)?;
                found.insert(record.key.clone(), record);
            }
        }
        Ok(found)
    }

    /// Writes `records`, in one statement per slice [`statement_chunks`] cuts. With `new`, a plain
    /// insert: a record another worker inserted meanwhile fails the transaction on the key (and the
    /// caller decides again), instead of being overwritten. Without, the records were read with
    /// their rows locked and are replaced, their payloads only when `new_payloads` names them.
    async fn write_records(
        &self,
        conn: &mut PgConnection,
        records: &[&Record],
        new: bool,
        new_payloads: &BTreeSet<RecordKey>,
        operation: &'static str,
        subject: &str,
    ) -> Result<(), StoreError> {
        for chunk in statement_chunks(records) {
            let mut query: QueryBuilder<'_, Postgres> =
                QueryBuilder::new(format!("INSERT INTO records ({RECORD_COLUMNS}) "));
            query.push_values(chunk, |mut row, record| {
                let late = record.changed_after_posting.as_ref();
                row.push_bind(record.key.connection.as_str())
                    .push_bind(record.key.kind.as_str())
                    .push_bind(record.key.commerce_id.as_str())
                    .push_bind(record.state.as_str())
                    .push_bind(i64::from(record.attempts))
                    .push_bind(record.next_attempt_at.map(micros))
                    .push_bind(record.fingerprint.entity_id.as_str())
                    .push_bind(micros(record.fingerprint.updated_at))
                    .push_bind(record.fingerprint.content_hash.as_str())
                    .push_bind(late.map(|f| f.entity_id.as_str()))
                    .push_bind(late.map(|f| micros(f.updated_at)))
                    .push_bind(late.map(|f| f.content_hash.as_str()))
                    .push_bind(if new || new_payloads.contains(&record.key) {
                        record.payload.json_text()
                    } else {
                        ""
                    })
                    .push_bind(record.reason.as_deref())
                    .push_bind(record.syspro.invoice.as_deref())
                    .push_bind(record.syspro.journal.as_deref())
                    .push_bind(record.syspro.customer.as_deref())
                    .push_bind(micros(record.created_at))
                    .push_bind(micros(record.updated_at))
                    .push_bind(micros(record.state_since))
                    .push_bind(i64::try_from(record.version).unwrap_or(i64::MAX));
            });
            if !new {
                query.push(RECORD_UPSERT);
            }
            query
                .build()
                .execute(&mut *conn)
                .await
                .map_err(self.db(operation, subject))?;
        }
        Ok(())
    }

    /// Appends `entries` in order, all stamped `now`, in one statement per slice
    /// [`statement_chunks`] cuts (the rows of one statement take their ids in order).
    async fn insert_audits(
        &self,
        conn: &mut PgConnection,
        entries: &[NewAuditEntry],
        now: OffsetDateTime,
        subject: &str,
    ) -> Result<(), StoreError> {
        let at = micros(now);
        for chunk in statement_chunks(entries) {
            let mut query: QueryBuilder<'_, Postgres> = QueryBuilder::new(AUDIT_INSERT);
            query.push_values(chunk, |mut row, entry| {
                row.push_bind(at)
                    .push_bind(entry.key.connection.as_str())
                    .push_bind(entry.key.kind.as_str())
                    .push_bind(entry.key.commerce_id.as_str())
                    .push_bind(entry.kind.as_str())
                    .push_bind(entry.message.as_str())
                    .push_bind(entry.document.as_ref().map(|d| d.json_text().to_owned()));
            });
            query
                .build()
                .execute(&mut *conn)
                .await
                .map_err(self.db("append audit entries", subject))?;
        }
        Ok(())
    }

    /// Writes what a batch changed (records new to the database inserted, the others replaced, and
    /// the audit entries) and commits, or rolls back when it changed nothing.
    #[allow(clippy::too_many_arguments)]
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'static, Postgres>,
        records: &BTreeMap<RecordKey, Record>,
        stored: &BTreeSet<RecordKey>,
        writes: &BatchWrites,
        now: OffsetDateTime,
        operation: &'static str,
        subject: &str,
    ) -> Result<(), StoreError> {
        if writes.changed.is_empty() && writes.audits.is_empty() {
            return tx.rollback().await.map_err(self.db(operation, subject));
        }
        let (known, new): (Vec<&Record>, Vec<&Record>) = writes
            .changed
            .iter()
            .filter_map(|key| records.get(key))
            .partition(|record| stored.contains(&record.key));
        if !new.is_empty() {
            self.write_records(
                &mut tx,
                &new,
                true,
                &writes.new_payloads,
                operation,
                subject,
            )
            .await?;
        }
        if !known.is_empty() {
            self.write_records(
                &mut tx,
                &known,
                false,
                &writes.new_payloads,
                operation,
                subject,
            )
            .await?;
        }
        self.insert_audits(&mut tx, &writes.audits, now, subject)
            .await?;
        tx.commit().await.map_err(self.db(operation, subject))
    }

    async fn append_in(
        &self,
        conn: &mut PgConnection,
        entry: NewAuditEntry,
        now: OffsetDateTime,
    ) -> Result<AuditEntry, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit (at, connection, kind, commerce_id, entry_kind, message, document) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(micros(now))
        .bind(entry.key.connection.as_str())
        .bind(entry.key.kind.as_str())
        .bind(&entry.key.commerce_id)
        .bind(entry.kind.as_str())
        .bind(&entry.message)
        .bind(entry.document.as_ref().map(|d| d.json_text().to_owned()))
        .fetch_one(&mut *conn)
        .await
        .map_err(self.db("append an audit entry", &entry.key))?;
        Ok(AuditEntry {
            id: AuditId(id),
            at: now,
            key: entry.key,
            kind: entry.kind,
            message: entry.message,
            document: entry.document.map(Payload::into_value),
        })
    }

    fn record_from_row(&self, row: &PgRow) -> Result<Record, StoreError> {
        let text = |col: &str| -> Result<String, StoreError> {
            row.try_get::<String, _>(col)
                .map_err(|e| self.corrupt("a record", format!("column {col}: {e}")))
        };
        let key = RecordKey {
            connection: ConnectionName::new(text("connection")?)
                .map_err(|e| self.corrupt("a record", e))?,
            kind: EntityKind::from_str(&text("kind")?).map_err(|e| self.corrupt("a record", e))?,
            commerce_id: text("commerce_id")?,
        };
        let bad = |detail: String| self.corrupt(&key, detail);
        let opt_text = |col: &str| -> Result<Option<String>, StoreError> {
            row.try_get::<Option<String>, _>(col)
                .map_err(|e| bad(format!("column {col}: {e}")))
        };
        let int = |col: &str| -> Result<i64, StoreError> {
            row.try_get::<i64, _>(col)
                .map_err(|e| bad(format!("column {col}: {e}")))
        };
        let opt_int = |col: &str| -> Result<Option<i64>, StoreError> {
            row.try_get::<Option<i64>, _>(col)
                .map_err(|e| bad(format!("column {col}: {e}")))
        };
        let at = |col: &str, value: i64| {
            from_micros(value).map_err(|e| bad(format!("column {col}: {e}")))
        };

        let state = RecordState::from_str(&text("state")?).map_err(|e| bad(e.to_string()))?;
        let next_attempt_at = opt_int("next_attempt_at")?
            .map(|v| at("next_attempt_at", v))
            .transpose()?;
        let fingerprint = Fingerprint {
            entity_id: text("fp_entity_id")?,
            updated_at: at("fp_updated_at", int("fp_updated_at")?)?,
            content_hash: text("fp_content_hash")?,
        };
        let changed_after_posting = match (
            opt_text("late_fp_entity_id")?,
            opt_int("late_fp_updated_at")?,
            opt_text("late_fp_content_hash")?,
        ) {
            (Some(entity_id), Some(updated_at), Some(content_hash)) => Some(Fingerprint {
                entity_id,
                updated_at: at("late_fp_updated_at", updated_at)?,
                content_hash,
            }),
            _ => None,
        };
        // Parsed when first looked at: most reads only move the record.
        let payload = Payload::from_json_text(text("payload")?);
        Ok(Record {
            state,
            attempts: u32::try_from(int("attempts")?)
                .map_err(|e| bad(format!("column attempts: {e}")))?,
            next_attempt_at,
            fingerprint,
            changed_after_posting,
            payload,
            reason: opt_text("reason")?,
            syspro: SysproKeys {
                invoice: opt_text("syspro_invoice")?,
                journal: opt_text("syspro_journal")?,
                customer: opt_text("syspro_customer")?,
            },
            created_at: at("created_at", int("created_at")?)?,
            updated_at: at("updated_at", int("updated_at")?)?,
            state_since: at("state_since", int("state_since")?)?,
            version: u64::try_from(int("version")?)
                .map_err(|e| bad(format!("column version: {e}")))?,
            key,
        })
    }

    fn lease_from_row(&self, row: &PgRow) -> Result<Lease, StoreError> {
        let bad = |detail: String| self.corrupt("a lease", detail);
        let text = |col: &str| {
            row.try_get::<String, _>(col)
                .map_err(|e| bad(format!("column {col}: {e}")))
        };
        let int = |col: &str| {
            row.try_get::<i64, _>(col)
                .map_err(|e| bad(format!("column {col}: {e}")))
        };
        Ok(Lease {
            connection: ConnectionName::new(text("connection")?).map_err(|e| bad(e.to_string()))?,
            holder: HolderId::new(text("holder")?).map_err(|e| bad(e.to_string()))?,
            acquired_at: from_micros(int("acquired_at")?).map_err(&bad)?,
            expires_at: from_micros(int("expires_at")?).map_err(&bad)?,
            generation: u64::try_from(int("generation")?).map_err(|e| bad(e.to_string()))?,
        })
    }

    fn audit_from_row(&self, row: &PgRow) -> Result<AuditEntry, StoreError> {
        let id: i64 = row
            .try_get("id")
            .map_err(|e| self.corrupt("an audit entry", format!("column id: {e}")))?;
        let subject = format!("audit entry {id}");
        let bad = |detail: String| self.corrupt(&subject, detail);
        let text = |col: &str| {
            row.try_get::<String, _>(col)
                .map_err(|e| bad(format!("column {col}: {e}")))
        };
        let document = row
            .try_get::<Option<String>, _>("document")
            .map_err(|e| bad(format!("column document: {e}")))?
            .map(|doc| serde_json::from_str(&doc).map_err(|e| bad(format!("column document: {e}"))))
            .transpose()?;
        Ok(AuditEntry {
            id: AuditId(id),
            at: from_micros(
                row.try_get("at")
                    .map_err(|e| bad(format!("column at: {e}")))?,
            )
            .map_err(&bad)?,
            key: RecordKey {
                connection: ConnectionName::new(text("connection")?)
                    .map_err(|e| bad(e.to_string()))?,
                kind: EntityKind::from_str(&text("kind")?).map_err(|e| bad(e.to_string()))?,
                commerce_id: text("commerce_id")?,
            },
            kind: AuditKind::from_str(&text("entry_kind")?).map_err(|e| bad(e.to_string()))?,
            message: text("message")?,
            document,
        })
    }

    async fn lease_in(
        &self,
        conn: &mut PgConnection,
        connection: &ConnectionName,
        operation: &'static str,
    ) -> Result<Option<Lease>, StoreError> {
        let row = sqlx::query(
            "SELECT connection, holder, acquired_at, expires_at, generation FROM leases \
             WHERE connection = $1 FOR UPDATE",
        )
        .bind(connection.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(self.db(operation, connection))?;
        row.map(|row| self.lease_from_row(&row)).transpose()
    }

    async fn write_lease(
        &self,
        conn: &mut PgConnection,
        lease: &Lease,
        insert: bool,
        operation: &'static str,
    ) -> Result<(), StoreError> {
        // A first lease is inserted without ON CONFLICT: a worker that raced another to the first
        // lease of a connection fails on the key and decides again with the row locked.
        let sql = if insert {
            "INSERT INTO leases (connection, holder, acquired_at, expires_at, generation) \
             VALUES ($1, $2, $3, $4, $5)"
        } else {
            "UPDATE leases SET holder = $2, acquired_at = $3, expires_at = $4, generation = $5 \
             WHERE connection = $1"
        };
        sqlx::query(sql)
            .bind(lease.connection.as_str())
            .bind(lease.holder.as_str())
            .bind(micros(lease.acquired_at))
            .bind(micros(lease.expires_at))
            .bind(i64::try_from(lease.generation).unwrap_or(i64::MAX))
            .execute(&mut *conn)
            .await
            .map_err(self.db(operation, &lease.connection))?;
        Ok(())
    }

    async fn try_intake_many(
        &self,
        intakes: Vec<Intake>,
        subject: &str,
    ) -> Result<Vec<IntakeOutcome>, StoreError> {
        const OP: &str = "store documents read from Commerce";
        let keys: BTreeSet<RecordKey> = intakes.iter().map(|i| i.key.clone()).collect();
        let mut tx = self.begin(OP, subject).await?;
        let now = self.now();
        let mut records = self.lock_records(&mut tx, &keys, true, OP, subject).await?;
        let stored: BTreeSet<RecordKey> = records.keys().cloned().collect();
        let (outcomes, writes) = apply_intakes(&mut records, intakes, now)?;
        self.finish(tx, &records, &stored, &writes, now, OP, subject)
            .await?;
        Ok(outcomes)
    }

    /// Applies `transitions` in one transaction, reading the records' payloads only
    /// `with_payload` (moves never change a payload).
    async fn try_transition_many(
        &self,
        transitions: Vec<Transition>,
        keys: &BTreeSet<RecordKey>,
        with_payload: bool,
        subject: &str,
    ) -> Result<Vec<Result<Record, StoreError>>, StoreError> {
        const OP: &str = "move records to their next states";
        let mut tx = self.begin(OP, subject).await?;
        let now = self.now();
        let mut records = self
            .lock_records(&mut tx, keys, with_payload, OP, subject)
            .await?;
        let stored: BTreeSet<RecordKey> = records.keys().cloned().collect();
        let (results, writes) = apply_transitions(&mut records, transitions, now);
        self.finish(tx, &records, &stored, &writes, now, OP, subject)
            .await?;
        Ok(results)
    }

    /// [`StateStore::transition_many`], reading the records' payloads only `with_payload`, and
    /// trying again when the transaction lost a race.
    async fn apply_moves(
        &self,
        transitions: Vec<Transition>,
        with_payload: bool,
    ) -> Result<Vec<Result<Record, StoreError>>, StoreError> {
        let keys = keys_to_read(&transitions);
        if keys.is_empty() {
            // Nothing to read: every transition (if any) is refused by the table alone.
            return Ok(apply_transitions(&mut BTreeMap::new(), transitions, self.now()).0);
        }
        let subject = batch_subject(transitions.iter().map(|t| &t.key));
        let mut attempt = 1;
        loop {
            match self
                .try_transition_many(transitions.clone(), &keys, with_payload, &subject)
                .await
            {
                Err(e) if attempt < ATTEMPTS && lost_race(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn try_acquire_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        const OP: &str = "acquire a lease";
        let mut tx = self.begin(OP, connection).await?;
        let now = self.now();
        let current = self.lease_in(&mut tx, connection, OP).await?;
        match logic::plan_acquire(current.as_ref(), connection, holder, ttl, now) {
            Ok(lease) => {
                self.write_lease(&mut tx, &lease, current.is_none(), OP)
                    .await?;
                tx.commit().await.map_err(self.db(OP, connection))?;
                Ok(LeaseOutcome::Acquired(lease))
            }
            Err(other) => {
                tx.rollback().await.map_err(self.db(OP, connection))?;
                Ok(LeaseOutcome::HeldByOther(other))
            }
        }
    }
}

/// Whether a failed transaction lost a race and is worth running again: a unique key taken by a
/// concurrent insert (23505), a serialization failure (40001) or a deadlock (40P01).
fn lost_race(error: &StoreError) -> bool {
    let StoreError::Database { source, .. } = error else {
        return false;
    };
    source
        .as_database_error()
        .and_then(|e| e.code())
        .is_some_and(|code| matches!(code.as_ref(), "23505" | "40001" | "40P01"))
}

/// What the driver said, in one line (never the URL, so never the password).
fn driver_message(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(e) => e.message().to_owned(),
        sqlx::Error::Io(e) => e.to_string(),
        sqlx::Error::Tls(e) => format!("TLS: {e}"),
        other => other.to_string(),
    }
}

/// Microseconds since the Unix epoch; instants outside ±292,000 years saturate.
fn micros(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000).unwrap_or(if at.year() < 1970 {
        i64::MIN
    } else {
        i64::MAX
    })
}

fn from_micros(value: i64) -> Result<OffsetDateTime, String> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(value) * 1_000)
        .map_err(|e| format!("timestamp {value} out of range: {e}"))
}

#[async_trait]
impl StateStore for PostgresStore {
    async fn intake(&self, intake: Intake) -> Result<IntakeOutcome, StoreError> {
        let key = intake.key.clone();
        self.intake_many(vec![intake])
            .await?
            .pop()
            .ok_or(StoreError::NotFound { key })
    }

    async fn transition(&self, transition: Transition) -> Result<Record, StoreError> {
        let key = transition.key.clone();
        self.transition_many(vec![transition])
            .await?
            .pop()
            .unwrap_or(Err(StoreError::NotFound { key }))
    }

    async fn intake_many(&self, intakes: Vec<Intake>) -> Result<Vec<IntakeOutcome>, StoreError> {
        if intakes.is_empty() {
            return Ok(Vec::new());
        }
        let subject = batch_subject(intakes.iter().map(|i| &i.key));
        let mut attempt = 1;
        loop {
            match self.try_intake_many(intakes.clone(), &subject).await {
                Err(e) if attempt < ATTEMPTS && lost_race(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn transition_many(
        &self,
        transitions: Vec<Transition>,
    ) -> Result<Vec<Result<Record, StoreError>>, StoreError> {
        self.apply_moves(transitions, true).await
    }

    async fn move_many(
        &self,
        transitions: Vec<Transition>,
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        Ok(self
            .apply_moves(transitions, false)
            .await?
            .into_iter()
            .map(|result| result.map(drop))
            .collect())
    }

    async fn claim_due(
        &self,
        connection: &ConnectionName,
        kind: Option<EntityKind>,
        limit: usize,
    ) -> Result<Vec<Record>, StoreError> {
        const OP: &str = "claim due records";
        if limit == 0 {
            return Ok(Vec::new());
        }
        let subject = connection.to_string();
        let mut tx = self.begin(OP, &subject).await?;
        let now = self.now();
        // Rows another claimer has locked are skipped, not waited for: it will move them to
        // `posting`, so they are not due any more anyway.
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM records \
             WHERE connection = $1 AND ($2::TEXT IS NULL OR kind = $2) \
               AND (state = 'mapped' \
                    OR (state = 'retry_wait' AND (next_attempt_at IS NULL OR next_attempt_at <= $3))) \
             ORDER BY COALESCE(next_attempt_at, state_since), kind, commerce_id \
             LIMIT $4 FOR UPDATE SKIP LOCKED"
        ))
        .bind(connection.as_str())
        .bind(kind.map(EntityKind::as_str))
        .bind(micros(now))
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(self.db(OP, &subject))?;
        let mut claimed = Vec::with_capacity(rows.len());
        let mut writes = BatchWrites::default();
        for row in &rows {
            let (updated, audit) = logic::claim(&self.record_from_row(row)?, now);
            writes.changed.insert(updated.key.clone());
            writes.audits.push(audit);
            claimed.push(updated);
        }
        let records: BTreeMap<RecordKey, Record> = claimed
            .iter()
            .map(|record| (record.key.clone(), record.clone()))
            .collect();
        let stored: BTreeSet<RecordKey> = records.keys().cloned().collect();
        self.finish(tx, &records, &stored, &writes, now, OP, &subject)
            .await?;
        Ok(claimed)
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<Record>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(self.db("read a record", key))?;
        self.fetch_record(&mut conn, key, "read a record").await
    }

    async fn list(&self, filter: &RecordFilter) -> Result<Vec<Record>, StoreError> {
        let mut query: QueryBuilder<'_, Postgres> =
            QueryBuilder::new(format!("SELECT {RECORD_COLUMNS} FROM records WHERE 1 = 1"));
        if let Some(connection) = &filter.connection {
            query
                .push(" AND connection = ")
                .push_bind(connection.as_str());
        }
        if let Some(state) = filter.state {
            query.push(" AND state = ").push_bind(state.as_str());
        }
        if let Some(kind) = filter.kind {
            query.push(" AND kind = ").push_bind(kind.as_str());
        }
        if let Some(after) = &filter.after {
            query
                .push(
                    " AND (connection COLLATE \"C\", kind COLLATE \"C\", commerce_id COLLATE \"C\") > (",
                )
                .push_bind(after.connection.as_str())
                .push(", ")
                .push_bind(after.kind.as_str())
                .push(", ")
                .push_bind(after.commerce_id.as_str())
                .push(")");
        }
        // Byte order (COLLATE "C"), so keys sort as they do in memory and in SQLite.
        query
            .push(
                " ORDER BY connection COLLATE \"C\", kind COLLATE \"C\", commerce_id COLLATE \"C\" LIMIT ",
            )
            .push_bind(i64::try_from(filter.effective_limit()).unwrap_or(i64::MAX));
        let rows = query
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(self.db("list records", "records"))?;
        rows.iter().map(|row| self.record_from_row(row)).collect()
    }

    async fn stale_posting(
        &self,
        connection: &ConnectionName,
        entered_before: OffsetDateTime,
    ) -> Result<Vec<Record>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM records \
             WHERE connection = $1 AND state = 'posting' AND state_since <= $2 \
             ORDER BY state_since, kind COLLATE \"C\", commerce_id COLLATE \"C\""
        ))
        .bind(connection.as_str())
        .bind(micros(entered_before))
        .fetch_all(&self.pool)
        .await
        .map_err(self.db("find records left in posting", connection))?;
        rows.iter().map(|row| self.record_from_row(row)).collect()
    }

    async fn counts(&self, connection: Option<&ConnectionName>) -> Result<StateCounts, StoreError> {
        let rows = sqlx::query(
            "SELECT state, COUNT(*) AS n FROM records \
             WHERE ($1::TEXT IS NULL OR connection = $1) GROUP BY state",
        )
        .bind(connection.map(ConnectionName::as_str))
        .fetch_all(&self.pool)
        .await
        .map_err(self.db("count records by state", "records"))?;
        let mut counts = StateCounts::default();
        for row in rows {
            let state: String = row
                .try_get("state")
                .map_err(|e| self.corrupt("record counts", e))?;
            let n: i64 = row
                .try_get("n")
                .map_err(|e| self.corrupt("record counts", e))?;
            let state =
                RecordState::from_str(&state).map_err(|e| self.corrupt("record counts", e))?;
            counts.0.insert(state, u64::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }

    async fn watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let subject = format!("{connection}/{stream}");
        let value: Option<i64> =
            sqlx::query_scalar("SELECT at FROM watermarks WHERE connection = $1 AND stream = $2")
                .bind(connection.as_str())
                .bind(stream.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(self.db("read a watermark", &subject))?;
        value
            .map(|v| from_micros(v).map_err(|e| self.corrupt(&subject, e)))
            .transpose()
    }

    async fn advance_watermark(
        &self,
        connection: &ConnectionName,
        stream: &StreamName,
        to: OffsetDateTime,
    ) -> Result<OffsetDateTime, StoreError> {
        let subject = format!("{connection}/{stream}");
        let value: i64 = sqlx::query_scalar(
            "INSERT INTO watermarks (connection, stream, at) VALUES ($1, $2, $3) \
             ON CONFLICT (connection, stream) DO UPDATE SET at = GREATEST(watermarks.at, excluded.at) \
             RETURNING at",
        )
        .bind(connection.as_str())
        .bind(stream.as_str())
        .bind(micros(to))
        .fetch_one(&self.pool)
        .await
        .map_err(self.db("advance a watermark", &subject))?;
        from_micros(value).map_err(|e| self.corrupt(&subject, e))
    }

    async fn acquire_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<LeaseOutcome, StoreError> {
        let mut attempt = 1;
        loop {
            match self.try_acquire_lease(connection, holder, ttl).await {
                Err(e) if attempt < ATTEMPTS && lost_race(&e) => attempt += 1,
                other => return other,
            }
        }
    }

    async fn renew_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
        ttl: Duration,
    ) -> Result<Lease, StoreError> {
        const OP: &str = "renew a lease";
        let mut tx = self.begin(OP, connection).await?;
        let now = self.now();
        match self.lease_in(&mut tx, connection, OP).await? {
            Some(lease) if lease.holder == *holder => {
                let lease = Lease {
                    expires_at: expiry(now, ttl),
                    ..lease
                };
                self.write_lease(&mut tx, &lease, false, OP).await?;
                tx.commit().await.map_err(self.db(OP, connection))?;
                Ok(lease)
            }
            _ => Err(StoreError::LeaseLost {
                connection: connection.clone(),
                holder: holder.clone(),
            }),
        }
    }

    async fn release_lease(
        &self,
        connection: &ConnectionName,
        holder: &HolderId,
    ) -> Result<bool, StoreError> {
        // The row stays, expired, so the next holder's generation still increases.
        let result =
            sqlx::query("UPDATE leases SET expires_at = $1 WHERE connection = $2 AND holder = $3")
                .bind(micros(self.now()))
                .bind(connection.as_str())
                .bind(holder.as_str())
                .execute(&self.pool)
                .await
                .map_err(self.db("release a lease", connection))?;
        Ok(result.rows_affected() > 0)
    }

    async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        let rows = sqlx::query(
            "SELECT connection, holder, acquired_at, expires_at, generation FROM leases \
             ORDER BY connection COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.db("list leases", "leases"))?;
        rows.iter().map(|row| self.lease_from_row(row)).collect()
    }

    async fn push_notification(&self, key: &RecordKey) -> Result<Notification, StoreError> {
        // The no-op update makes RETURNING answer for a record already queued too, with its first
        // time.
        let queued_at: i64 = sqlx::query_scalar(
            "INSERT INTO notifications (connection, kind, commerce_id, queued_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (connection, kind, commerce_id) \
             DO UPDATE SET queued_at = notifications.queued_at \
             RETURNING queued_at",
        )
        .bind(key.connection.as_str())
        .bind(key.kind.as_str())
        .bind(&key.commerce_id)
        .bind(micros(self.now()))
        .fetch_one(&self.pool)
        .await
        .map_err(self.db("queue a webhook notification", key))?;
        Ok(Notification {
            key: key.clone(),
            queued_at: from_micros(queued_at).map_err(|e| self.corrupt(key, e))?,
        })
    }

    async fn take_notifications(
        &self,
        connection: &ConnectionName,
        limit: usize,
    ) -> Result<Vec<Notification>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "DELETE FROM notifications WHERE id IN \
             (SELECT id FROM notifications WHERE connection = $1 ORDER BY id LIMIT $2 \
              FOR UPDATE SKIP LOCKED) \
             RETURNING id, kind, commerce_id, queued_at",
        )
        .bind(connection.as_str())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(self.db("take webhook notifications", connection))?;
        let mut taken = Vec::with_capacity(rows.len());
        for row in &rows {
            let bad = |detail: String| self.corrupt("a notification", detail);
            let id: i64 = row.try_get("id").map_err(|e| bad(e.to_string()))?;
            let kind: String = row.try_get("kind").map_err(|e| bad(e.to_string()))?;
            let commerce_id: String = row.try_get("commerce_id").map_err(|e| bad(e.to_string()))?;
            let queued_at: i64 = row.try_get("queued_at").map_err(|e| bad(e.to_string()))?;
            taken.push((
                id,
                Notification {
                    key: RecordKey::new(
                        connection.clone(),
                        EntityKind::from_str(&kind).map_err(|e| bad(e.to_string()))?,
                        commerce_id,
                    ),
                    queued_at: from_micros(queued_at).map_err(&bad)?,
                },
            ));
        }
        taken.sort_by_key(|(id, _)| *id);
        Ok(taken.into_iter().map(|(_, n)| n).collect())
    }

    async fn record_cycle(&self, report: &CycleReport) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO cycles (connection, holder, started_at, finished_at, outcome, next_due_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (connection) DO UPDATE SET holder = excluded.holder, \
             started_at = excluded.started_at, finished_at = excluded.finished_at, \
             outcome = excluded.outcome, next_due_at = excluded.next_due_at",
        )
        .bind(report.connection.as_str())
        .bind(report.holder.as_str())
        .bind(micros(report.started_at))
        .bind(report.finished_at.map(micros))
        .bind(&report.outcome)
        .bind(report.next_due_at.map(micros))
        .execute(&self.pool)
        .await
        .map_err(self.db("record a cycle report", &report.connection))?;
        Ok(())
    }

    async fn cycle_reports(&self) -> Result<Vec<CycleReport>, StoreError> {
        let rows = sqlx::query(
            "SELECT connection, holder, started_at, finished_at, outcome, next_due_at \
             FROM cycles ORDER BY connection COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.db("list cycle reports", "cycles"))?;
        let mut reports = Vec::with_capacity(rows.len());
        for row in &rows {
            let bad = |detail: String| self.corrupt("a cycle report", detail);
            let text = |col: &str| {
                row.try_get::<String, _>(col)
                    .map_err(|e| bad(format!("column {col}: {e}")))
            };
            let at = |col: &str| -> Result<Option<OffsetDateTime>, StoreError> {
                row.try_get::<Option<i64>, _>(col)
                    .map_err(|e| bad(format!("column {col}: {e}")))?
                    .map(|v| from_micros(v).map_err(&bad))
                    .transpose()
            };
            reports.push(CycleReport {
                connection: ConnectionName::new(text("connection")?)
                    .map_err(|e| bad(e.to_string()))?,
                holder: HolderId::new(text("holder")?).map_err(|e| bad(e.to_string()))?,
                started_at: at("started_at")?.ok_or_else(|| bad("started_at is empty".into()))?,
                finished_at: at("finished_at")?,
                outcome: text("outcome")?,
                next_due_at: at("next_due_at")?,
            });
        }
        Ok(reports)
    }
}

#[async_trait]
impl AuditLog for PostgresStore {
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        const OP: &str = "append an audit entry";
        let key = entry.key.clone();
        let mut conn = self.pool.acquire().await.map_err(self.db(OP, &key))?;
        self.append_in(&mut conn, entry, self.now()).await
    }

    async fn append_many(&self, entries: Vec<NewAuditEntry>) -> Result<(), StoreError> {
        const OP: &str = "append audit entries";
        if entries.is_empty() {
            return Ok(());
        }
        let subject = batch_subject(entries.iter().map(|e| &e.key));
        let mut tx = self.begin(OP, &subject).await?;
        let now = self.now();
        self.insert_audits(&mut tx, &entries, now, &subject).await?;
        tx.commit().await.map_err(self.db(OP, &subject))
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let limit = query.effective_limit();
        let mut sql: QueryBuilder<'_, Postgres> = QueryBuilder::new(
            "SELECT a.id, a.at, a.connection, a.kind, a.commerce_id, a.entry_kind, a.message, a.document \
             FROM audit a",
        );
        if query.state.is_some() {
            sql.push(
                " JOIN records r ON r.connection = a.connection AND r.kind = a.kind \
                 AND r.commerce_id = a.commerce_id",
            );
        }
        sql.push(" WHERE 1 = 1");
        if let Some(key) = &query.record {
            sql.push(" AND a.connection = ")
                .push_bind(key.connection.as_str())
                .push(" AND a.kind = ")
                .push_bind(key.kind.as_str())
                .push(" AND a.commerce_id = ")
                .push_bind(key.commerce_id.as_str());
        }
        if let Some(connection) = &query.connection {
            sql.push(" AND a.connection = ")
                .push_bind(connection.as_str());
        }
        if let Some(state) = query.state {
            sql.push(" AND r.state = ").push_bind(state.as_str());
        }
        if let Some(kind) = query.kind {
            sql.push(" AND a.entry_kind = ").push_bind(kind.as_str());
        }
        if let Some(since) = query.since {
            sql.push(" AND a.at >= ").push_bind(micros(since));
        }
        if let Some(until) = query.until {
            sql.push(" AND a.at < ").push_bind(micros(until));
        }
        if let Some(before) = query.before {
            sql.push(" AND a.id < ").push_bind(before.0);
        }
        sql.push(" ORDER BY a.id DESC LIMIT ")
            .push_bind(i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX));
        let rows = sql
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(self.db("query the audit log", "audit"))?;
        let mut entries = rows
            .iter()
            .map(|row| self.audit_from_row(row))
            .collect::<Result<Vec<_>, _>>()?;
        let next_before = if entries.len() > limit {
            entries.truncate(limit);
            entries.last().map(|e| e.id)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_before,
        })
    }
}
