//! The embedded default store: one SQLite file in WAL mode.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction, which takes SQLite's single write lock up
//! front: two writers (two tasks, or the `run` process and an `ml-connector replay` next to it) queue
//! on `busy_timeout` instead of failing half-way, and a crash leaves either all or none of a change.
//! Schema migrations run at open inside such a transaction and are recorded in `schema_migrations`.
//!
//! Batch calls (`intake_many`, `transition_many`, `append_many`, and `claim_due`'s writes) run in
//! one such transaction each: one statement reads every record concerned, the shared rules decide
//! in memory, and multi-row statements write the records and audit entries. A page of changes then
//! costs one commit (one fsync) and a handful of statements instead of several of each per record.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection};
use time::OffsetDateTime;

use super::batch::statement_chunks;
use super::logic;
use super::memory::{BatchWrites, apply_intakes, apply_transitions, batch_subject, keys_to_read};
use super::payload::Payload;
use super::stored_text::{self, StoredText};
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
/// one.
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
    attempts INTEGER NOT NULL,
    next_attempt_at INTEGER,
    fp_entity_id TEXT NOT NULL,
    fp_updated_at INTEGER NOT NULL,
    fp_content_hash TEXT NOT NULL,
    late_fp_entity_id TEXT,
    late_fp_updated_at INTEGER,
    late_fp_content_hash TEXT,
    payload TEXT NOT NULL,
    reason TEXT,
    syspro_invoice TEXT,
    syspro_journal TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    state_since INTEGER NOT NULL,
    version INTEGER NOT NULL,
    PRIMARY KEY (connection, kind, commerce_id)
) WITHOUT ROWID;
CREATE INDEX records_by_state ON records (connection, state, next_attempt_at);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    connection TEXT NOT NULL,
    kind TEXT NOT NULL,
    commerce_id TEXT NOT NULL,
    entry_kind TEXT NOT NULL,
    message TEXT NOT NULL,
    document TEXT
);
CREATE INDEX audit_by_record ON audit (connection, kind, commerce_id, id);
CREATE INDEX audit_by_connection ON audit (connection, id);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;

CREATE TABLE watermarks (
    connection TEXT NOT NULL,
    stream TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (connection, stream)
) WITHOUT ROWID;

CREATE TABLE leases (
    connection TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    generation INTEGER NOT NULL
) WITHOUT ROWID;
",
    ),
    (
        2,
        "webhook notification queue, cycle reports",
        r"
CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    connection TEXT NOT NULL,
    kind TEXT NOT NULL,
    commerce_id TEXT NOT NULL,
    queued_at INTEGER NOT NULL,
    UNIQUE (connection, kind, commerce_id)
);
CREATE INDEX notifications_by_connection ON notifications (connection, id);

CREATE TABLE cycles (
    connection TEXT PRIMARY KEY NOT NULL,
    holder TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER,
    outcome TEXT NOT NULL,
    next_due_at INTEGER
) WITHOUT ROWID;
",
    ),
    (
        3,
        "SYSPRO customer code of a record",
        r"
ALTER TABLE records ADD COLUMN syspro_customer TEXT;
",
    ),
    (
        4,
        "record payloads in a table of their own, records indexed by state and key",
        // A payload is often larger than a page. Kept in the record's row, every move rewrote it
        // (SQLite rewrites a changed row whole) and every read of a column stored after it walked
        // its overflow pages. Apart, a move writes a row of a few hundred bytes. The index answers
        // which records are in a state, in key order, and which are due, oldest first.
        r"
CREATE TABLE record_payloads (
    connection TEXT NOT NULL,
    kind TEXT NOT NULL,
    commerce_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (connection, kind, commerce_id)
) WITHOUT ROWID;
INSERT INTO record_payloads (connection, kind, commerce_id, payload)
    SELECT connection, kind, commerce_id, payload FROM records;
ALTER TABLE records DROP COLUMN payload;
CREATE INDEX records_by_state_key
    ON records (connection, state, kind, commerce_id, next_attempt_at, state_since);
",
    ),
    (
        5,
        "record payloads kept once, in the audit entry that read them; one state index",
        // Every payload a record takes is also the document of the `read` entry appended with it,
        // and audit entries are never changed, so the record refers to that entry instead of
        // keeping a second copy: a document read is written once, not twice. Payloads written
        // before stay, in `legacy_payloads`, until their record takes a new one. The table is
        // renamed so that a process of an earlier release still running against the database
        // fails instead of reading records without their payloads.
        // `records_by_state_key` starts with the columns of `records_by_state`, which every move
        // updated for nothing.
        r"
ALTER TABLE records ADD COLUMN payload_entry INTEGER;
ALTER TABLE record_payloads RENAME TO legacy_payloads;
DROP INDEX IF EXISTS records_by_state;
",
    ),
    (
        6,
        "documents of a kilobyte or more stored compressed",
        // No table changes. From this version on, a `document` (and so a record's payload) of
        // `stored_text::COMPRESS_FROM` bytes or more is an LZ4 BLOB, which an earlier release
        // would fail to read record by record; the version makes it refuse the whole database at
        // open instead.
        "SELECT 1;",
    ),
];

/// The columns of a record as [`SqliteStore::record_from_row`] reads them, from `records`.
///
/// The payload is the document of the audit entry `payload_entry` names (the `read` entry written
/// with it). A record whose payload was written before schema version 5, or whose payload matched
/// no entry of its batch, has it in `legacy_payloads` instead (`payload_entry` NULL or 0).
const RECORD_COLUMNS: &str = "connection, kind, commerce_id, state, attempts, next_attempt_at, \
    fp_entity_id, fp_updated_at, fp_content_hash, late_fp_entity_id, late_fp_updated_at, \
    late_fp_content_hash, COALESCE(\
        (SELECT a.document FROM audit a WHERE a.id = records.payload_entry), \
        (SELECT p.payload FROM legacy_payloads p WHERE p.connection = records.connection \
            AND p.kind = records.kind AND p.commerce_id = records.commerce_id)) AS payload, \
    reason, syspro_invoice, syspro_journal, syspro_customer, \
    created_at, updated_at, state_since, version";

/// The columns of the `records` table, in the order [`SqliteStore::write_records`] binds them.
const RECORD_ROW_COLUMNS: &str = "connection, kind, commerce_id, state, attempts, \
    next_attempt_at, fp_entity_id, fp_updated_at, fp_content_hash, late_fp_entity_id, \
    late_fp_updated_at, late_fp_content_hash, reason, syspro_invoice, syspro_journal, \
    syspro_customer, created_at, updated_at, state_since, version, payload_entry";

/// [`RECORD_COLUMNS`] from `records` alone, with the payload left unread (as JSON `null`): a move
/// never changes it.
const RECORD_COLUMNS_BUT_PAYLOAD: &str = "connection, kind, commerce_id, state, attempts, \
    next_attempt_at, fp_entity_id, fp_updated_at, fp_content_hash, late_fp_entity_id, \
    late_fp_updated_at, late_fp_content_hash, 'null' AS payload, reason, syspro_invoice, \
    syspro_journal, syspro_customer, created_at, updated_at, state_since, version";

/// What a write of a known record replaces: every column but the key.
const RECORD_UPSERT: &str = " ON CONFLICT (connection, kind, commerce_id) DO UPDATE SET \
    state = excluded.state, attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at, \
    fp_entity_id = excluded.fp_entity_id, fp_updated_at = excluded.fp_updated_at, \
    fp_content_hash = excluded.fp_content_hash, late_fp_entity_id = excluded.late_fp_entity_id, \
    late_fp_updated_at = excluded.late_fp_updated_at, \
    late_fp_content_hash = excluded.late_fp_content_hash, \
    reason = excluded.reason, syspro_invoice = excluded.syspro_invoice, \
    syspro_journal = excluded.syspro_journal, syspro_customer = excluded.syspro_customer, \
    created_at = excluded.created_at, updated_at = excluded.updated_at, \
    state_since = excluded.state_since, version = excluded.version, \
    payload_entry = COALESCE(excluded.payload_entry, records.payload_entry)";

/// What a write of a payload replaces.
const PAYLOAD_UPSERT: &str = " ON CONFLICT (connection, kind, commerce_id) DO UPDATE SET \
    payload = excluded.payload";

const AUDIT_INSERT: &str =
    "INSERT INTO audit (at, connection, kind, commerce_id, entry_kind, message, document) ";

/// Prepared statements each connection keeps.
const STATEMENT_CACHE: usize = 200;

/// How to open the SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file; created (mode 0600) when missing.
    pub path: PathBuf,
    /// How long a write waits for another writer before failing.
    pub busy_timeout: Duration,
    /// Connections kept open, at least two: one for every write, the others for reads.
    pub max_connections: u32,
}

impl SqliteOptions {
    /// Defaults for `path`: 5 s busy timeout, 2 connections (one writing, one reading).
    #[must_use]
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            busy_timeout: Duration::from_secs(5),
            max_connections: 2,
        }
    }
}

/// The SQLite state store and audit log. Cheap to clone; clones share the connections.
///
/// Every write goes through one connection, the reads through the others. SQLite lets one
/// writer in at a time anyway; a single writing connection keeps its page cache, where writes
/// spread over several connections would each find their cache emptied by the others' commits
/// and read the pages they change from the file again.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The connection every write uses.
    writer: SqlitePool,
    /// The connections reads use.
    pool: SqlitePool,
    path: Arc<PathBuf>,
    clock: Arc<dyn Clock>,
    /// Whether `legacy_payloads` may hold rows (payloads written before schema version 5, or
    /// matching no audit entry), which a record taking a new payload then deletes.
    legacy_payloads: Arc<AtomicBool>,
}

impl SqliteStore {
    /// Opens (or creates) the database at `path` with default options and applies pending migrations.
    ///
    /// # Errors
    /// [`StoreError::Open`], [`StoreError::SchemaTooNew`] or [`StoreError::Migration`].
    pub async fn open(path: impl Into<PathBuf>, clock: Arc<dyn Clock>) -> Result<Self, StoreError> {
        Self::open_with(SqliteOptions::new(path), clock).await
    }

    /// Opens (or creates) the database described by `options` and applies pending migrations.
    ///
    /// # Errors
    /// [`StoreError::Open`], [`StoreError::SchemaTooNew`] or [`StoreError::Migration`].
    pub async fn open_with(
        options: SqliteOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let path = options.path;
        let open_error = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        create_private_file(&path).map_err(|e| open_error(sqlx::Error::Io(e)))?;
        let connect = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(options.busy_timeout)
            // Each kind of multi-row statement comes in eight shapes (`statement_chunks`), and
            // seven kinds run on the writing connection: room for all, and for the rest.
            .statement_cache_capacity(STATEMENT_CACHE);
        // A write waits its turn for the writing connection instead of in SQLite's lock, so it
        // gets as long as a wait for the lock would.
        let acquire_timeout = options.busy_timeout + Duration::from_secs(5);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .acquire_timeout(acquire_timeout)
            .connect_with(connect.clone())
            .await
            .map_err(open_error)?;
        // The reading connections refuse writes, so none can slip past the writing connection.
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(2) - 1)
            .acquire_timeout(acquire_timeout)
            .connect_with(connect.pragma("query_only", "ON"))
            .await
            .map_err(open_error)?;
        let store = Self {
            writer,
            pool,
            path: Arc::new(path),
            clock,
            legacy_payloads: Arc::new(AtomicBool::new(true)),
        };
        store.migrate().await?;
        let legacy: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM legacy_payloads)")
            .fetch_one(&store.pool)
            .await
            .map_err(store.db("read the schema", "legacy_payloads"))?;
        store.legacy_payloads.store(legacy, Ordering::Relaxed);
        Ok(store)
    }

    /// The database file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
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
        self.writer.close().await;
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut tx = self.begin("apply migrations", "schema_migrations").await?;
        let step = self.db("apply migrations", "schema_migrations");
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version INTEGER PRIMARY KEY NOT NULL,
                name TEXT NOT NULL,
                applied_at INTEGER NOT NULL
            )",
        )
        .execute(&mut *tx)
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
                path: self.path.to_path_buf(),
                found: current,
                supported,
            });
        }
        let now = micros(self.clock.now());
        for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
            let failed = |source| StoreError::Migration {
                path: self.path.to_path_buf(),
                version,
                name,
                source,
            };
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(failed)?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            )
            .bind(version)
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
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
        let path = self.path.to_path_buf();
        let subject = subject.to_string();
        move |source| StoreError::Database {
            path: path.clone(),
            operation,
            subject: subject.clone(),
            source,
        }
    }

    fn corrupt(&self, subject: impl ToString, detail: impl ToString) -> StoreError {
        StoreError::Corrupt {
            path: self.path.to_path_buf(),
            subject: subject.to_string(),
            detail: detail.to_string(),
        }
    }

    /// Starts a write transaction holding SQLite's write lock.
    async fn begin(
        &self,
        operation: &'static str,
        subject: impl ToString,
    ) -> Result<sqlx::Transaction<'static, Sqlite>, StoreError> {
        self.writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(self.db(operation, subject))
    }

    async fn fetch_record(
        &self,
        conn: &mut SqliteConnection,
        key: &RecordKey,
        operation: &'static str,
    ) -> Result<Option<Record>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM records WHERE connection = ? AND kind = ? AND commerce_id = ?"
        ))
        .bind(key.connection.as_str())
        .bind(key.kind.as_str())
        .bind(&key.commerce_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(self.db(operation, key))?;
        row.map(|row| self.record_from_row(&row)).transpose()
    }

    /// Reads the records with these keys (those that exist), in statements of the shapes
    /// [`statement_chunks`] cuts.
    async fn fetch_records(
        &self,
        conn: &mut SqliteConnection,
        keys: &BTreeSet<RecordKey>,
        with_payload: bool,
        operation: &'static str,
        subject: &str,
    ) -> Result<BTreeMap<RecordKey, Record>, StoreError> {
        let columns = if with_payload {
            RECORD_COLUMNS
        } else {
            RECORD_COLUMNS_BUT_PAYLOAD
        };
        let keys: Vec<&RecordKey> = keys.iter().collect();
        let mut found = BTreeMap::new();
        for chunk in statement_chunks(&keys) {
            let rows = with_keys(format!("SELECT {columns} FROM records"), chunk)
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

    /// Runs a multi-row write (of a slice from [`statement_chunks`], so its prepared statement is
    /// kept).
    async fn execute_batch(
        &self,
        query: &mut QueryBuilder<'_, Sqlite>,
        conn: &mut SqliteConnection,
        operation: &'static str,
        subject: &str,
    ) -> Result<(), StoreError> {
        query
            .build()
            .execute(&mut *conn)
            .await
            .map_err(self.db(operation, subject))?;
        Ok(())
    }

    /// Inserts or replaces `records`, in statements of the shapes [`statement_chunks`] cuts. A record
    /// in `payloads` took a new payload: it refers to the audit entry holding it, or with no such
    /// entry has it written to `legacy_payloads`. Any other record keeps the payload it has (moves
    /// never change one).
    async fn write_records(
        &self,
        conn: &mut SqliteConnection,
        records: &[&Record],
        payloads: &BTreeMap<&RecordKey, Option<i64>>,
        operation: &'static str,
        subject: &str,
    ) -> Result<(), StoreError> {
        for chunk in statement_chunks(records) {
            let mut query: QueryBuilder<'_, Sqlite> =
                QueryBuilder::new(format!("INSERT INTO records ({RECORD_ROW_COLUMNS}) "));
            query.push_values(chunk, |mut row, record| {
                let late = record.changed_after_posting.as_ref();
                // NULL keeps the entry the record refers to; 0 sends readers to `legacy_payloads`.
                let entry = payloads.get(&record.key).map(|entry| entry.unwrap_or(0));
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
                    .push_bind(record.reason.as_deref())
                    .push_bind(record.syspro.invoice.as_deref())
                    .push_bind(record.syspro.journal.as_deref())
                    .push_bind(record.syspro.customer.as_deref())
                    .push_bind(micros(record.created_at))
                    .push_bind(micros(record.updated_at))
                    .push_bind(micros(record.state_since))
                    .push_bind(i64::try_from(record.version).unwrap_or(i64::MAX))
                    .push_bind(entry);
            });
            query.push(RECORD_UPSERT);
            self.execute_batch(&mut query, conn, operation, subject)
                .await?;
        }
        let in_table: Vec<&Record> = records
            .iter()
            .copied()
            .filter(|record| payloads.get(&record.key) == Some(&None))
            .collect();
        for chunk in statement_chunks(&in_table) {
            let mut query: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
                "INSERT INTO legacy_payloads (connection, kind, commerce_id, payload) ",
            );
            query.push_values(chunk, |mut row, record| {
                row.push_bind(record.key.connection.as_str())
                    .push_bind(record.key.kind.as_str())
                    .push_bind(record.key.commerce_id.as_str())
                    .push_bind(record.payload.json_text());
            });
            query.push(PAYLOAD_UPSERT);
            self.execute_batch(&mut query, conn, operation, subject)
                .await?;
            self.legacy_payloads.store(true, Ordering::Relaxed);
        }
        if self.legacy_payloads.load(Ordering::Relaxed) {
            // A payload kept in an audit entry replaces one its record had in the table.
            let referred: Vec<&RecordKey> = payloads
                .iter()
                .filter(|(_, entry)| entry.is_some())
                .map(|(key, _)| *key)
                .collect();
            for chunk in statement_chunks(&referred) {
                let mut query = with_keys("DELETE FROM legacy_payloads".to_owned(), chunk);
                self.execute_batch(&mut query, conn, operation, subject)
                    .await?;
            }
        }
        Ok(())
    }

    /// Appends `entries` in order, all stamped `now`, in statements of the shapes
    /// [`statement_chunks`] cuts (SQLite numbers the rows of one statement in order). Returns the
    /// entries' ids, in order, when `with_ids`.
    async fn insert_audits(
        &self,
        conn: &mut SqliteConnection,
        entries: &[NewAuditEntry],
        now: OffsetDateTime,
        subject: &str,
        with_ids: bool,
    ) -> Result<Vec<i64>, StoreError> {
        let at = micros(now);
        let mut ids = Vec::with_capacity(if with_ids { entries.len() } else { 0 });
        for chunk in statement_chunks(entries) {
            let mut query: QueryBuilder<'_, Sqlite> = QueryBuilder::new(AUDIT_INSERT);
            query.push_values(chunk, |mut row, entry| {
                row.push_bind(at)
                    .push_bind(entry.key.connection.as_str())
                    .push_bind(entry.key.kind.as_str())
                    .push_bind(entry.key.commerce_id.as_str())
                    .push_bind(entry.kind.as_str())
                    .push_bind(entry.message.as_str())
                    .push_bind(
                        entry
                            .document
                            .as_ref()
                            .map(|d| StoredText::of(d.json_text())),
                    );
            });
            if !with_ids {
                self.execute_batch(&mut query, conn, "append audit entries", subject)
                    .await?;
                continue;
            }
            query.push(" RETURNING id");
            let mut chunk_ids: Vec<i64> = query
                .build_query_scalar()
                .fetch_all(&mut *conn)
                .await
                .map_err(self.db("append audit entries", subject))?;
            // The rows are numbered in the order given; RETURNING may list them in another.
            chunk_ids.sort_unstable();
            ids.extend(chunk_ids);
        }
        Ok(ids)
    }

    /// Writes what a batch changed (records and audit entries) and commits, or rolls back when it
    /// changed nothing.
    async fn finish(
        &self,
        mut tx: sqlx::Transaction<'static, Sqlite>,
        records: &BTreeMap<RecordKey, Record>,
        writes: &BatchWrites,
        now: OffsetDateTime,
        operation: &'static str,
        subject: &str,
    ) -> Result<(), StoreError> {
        if writes.changed.is_empty() && writes.audits.is_empty() {
            return tx.rollback().await.map_err(self.db(operation, subject));
        }
        let changed: Vec<&Record> = writes
            .changed
            .iter()
            .filter_map(|key| records.get(key))
            .collect();
        // The audit entries go first: a record that took a new payload refers to the `read` entry
        // holding the same document.
        let with_ids = !writes.new_payloads.is_empty();
        let ids = self
            .insert_audits(&mut tx, &writes.audits, now, subject, with_ids)
            .await?;
        let mut read: BTreeMap<&RecordKey, (i64, &Payload)> = BTreeMap::new();
        for (entry, id) in writes.audits.iter().zip(&ids) {
            if let (AuditKind::Read, Some(document)) = (entry.kind, &entry.document) {
                read.insert(&entry.key, (*id, document));
            }
        }
        let payloads: BTreeMap<&RecordKey, Option<i64>> = writes
            .new_payloads
            .iter()
            .filter_map(|key| {
                let record = records.get(key)?;
                let entry = read.get(key).and_then(|(id, document)| {
                    (document.json_text() == record.payload.json_text()).then_some(*id)
                });
                Some((key, entry))
            })
            .collect();
        self.write_records(&mut tx, &changed, &payloads, operation, subject)
            .await?;
        tx.commit().await.map_err(self.db(operation, subject))
    }

    async fn append_in(
        &self,
        conn: &mut SqliteConnection,
        entry: NewAuditEntry,
        now: OffsetDateTime,
    ) -> Result<AuditEntry, StoreError> {
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO audit (at, connection, kind, commerce_id, entry_kind, message, document) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(micros(now))
        .bind(entry.key.connection.as_str())
        .bind(entry.key.kind.as_str())
        .bind(&entry.key.commerce_id)
        .bind(entry.kind.as_str())
        .bind(&entry.message)
        .bind(
            entry
                .document
                .as_ref()
                .map(|d| StoredText::of(d.json_text())),
        )
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

    /// Applies `transitions` in one transaction, reading the records' payloads only `with_payload`
    /// (a payload is never written back: moves do not change it).
    async fn apply_moves(
        &self,
        transitions: Vec<Transition>,
        with_payload: bool,
    ) -> Result<Vec<Result<Record, StoreError>>, StoreError> {
        const OP: &str = "move records to their next states";
        let keys = keys_to_read(&transitions);
        if keys.is_empty() {
            // Nothing to read: every transition (if any) is refused by the table alone.
            return Ok(apply_transitions(&mut BTreeMap::new(), transitions, self.now()).0);
        }
        let subject = batch_subject(transitions.iter().map(|t| &t.key));
        let mut tx = self.begin(OP, &subject).await?;
        let now = self.now();
        let mut records = self
            .fetch_records(&mut tx, &keys, with_payload, OP, &subject)
            .await?;
        let (results, writes) = apply_transitions(&mut records, transitions, now);
        self.finish(tx, &records, &writes, now, OP, &subject)
            .await?;
        Ok(results)
    }

    fn record_from_row(&self, row: &SqliteRow) -> Result<Record, StoreError> {
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
        let payload = row
            .try_get::<Vec<u8>, _>("payload")
            .map_err(|e| e.to_string())
            .and_then(stored_text::text_of)
            .map_err(|e| bad(format!("column payload: {e}")))?;
        let payload = Payload::from_json_text(payload);
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

    fn lease_from_row(&self, row: &SqliteRow) -> Result<Lease, StoreError> {
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

    fn audit_from_row(&self, row: &SqliteRow) -> Result<AuditEntry, StoreError> {
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
            .try_get::<Option<Vec<u8>>, _>("document")
            .map_err(|e| bad(format!("column document: {e}")))?
            .map(|doc| {
                let text =
                    stored_text::text_of(doc).map_err(|e| bad(format!("column document: {e}")))?;
                serde_json::from_str(&text).map_err(|e| bad(format!("column document: {e}")))
            })
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
}

/// `statement` (a select or delete on a table keyed by connection, kind and Commerce id) limited
/// to the rows of `keys`.
fn with_keys<'a>(statement: String, keys: &[&'a RecordKey]) -> QueryBuilder<'a, Sqlite> {
    // The key list is a subquery over VALUES rather than `IN (VALUES ...)`, which SQLite answers
    // by scanning the table instead of searching the primary key.
    let mut query = QueryBuilder::new(statement);
    query
        .push(" WHERE (connection, kind, commerce_id) IN (SELECT column1, column2, column3 FROM (");
    query.push_values(keys, |mut row, key| {
        row.push_bind(key.connection.as_str())
            .push_bind(key.kind.as_str())
            .push_bind(key.commerce_id.as_str());
    });
    query.push("))");
    query
}

/// Creates `path` with owner-only permissions when it does not exist yet: the database holds customer
/// data from Commerce.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
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
impl StateStore for SqliteStore {
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
        const OP: &str = "store documents read from Commerce";
        if intakes.is_empty() {
            return Ok(Vec::new());
        }
        let subject = batch_subject(intakes.iter().map(|i| &i.key));
        let keys: BTreeSet<RecordKey> = intakes.iter().map(|i| i.key.clone()).collect();
        let mut tx = self.begin(OP, &subject).await?;
        let now = self.now();
        let mut records = self
            .fetch_records(&mut tx, &keys, true, OP, &subject)
            .await?;
        let (outcomes, writes) = apply_intakes(&mut records, intakes, now)?;
        self.finish(tx, &records, &writes, now, OP, &subject)
            .await?;
        Ok(outcomes)
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
        // SQLite has one writer at a time, so selecting inside the IMMEDIATE transaction is already
        // exclusive; a shared database selects the same rows `FOR UPDATE SKIP LOCKED`.
        // The due keys come from `records_by_state_key` alone; only the rows claimed are read.
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM records \
             WHERE connection = ?1 AND (kind, commerce_id) IN ( \
                 SELECT kind, commerce_id FROM records INDEXED BY records_by_state_key \
                 WHERE connection = ?1 AND state IN ('mapped', 'retry_wait') \
                   AND (?2 IS NULL OR kind = ?2) \
                   AND (state = 'mapped' OR next_attempt_at IS NULL OR next_attempt_at <= ?3) \
                 ORDER BY COALESCE(next_attempt_at, state_since), kind, commerce_id \
                 LIMIT ?4) \
             ORDER BY COALESCE(next_attempt_at, state_since), kind, commerce_id"
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
        self.finish(tx, &records, &writes, now, OP, &subject)
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
        // Records of one state of one connection are found, in key order, through
        // `records_by_state_key`; left to itself SQLite walks the whole key range instead, row by row.
        let index = if filter.connection.is_some() && filter.state.is_some() {
            " INDEXED BY records_by_state_key"
        } else {
            ""
        };
        let mut query: QueryBuilder<'_, Sqlite> = QueryBuilder::new(format!(
            "SELECT {RECORD_COLUMNS} FROM records{index} WHERE 1 = 1"
        ));
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
                .push(" AND (connection, kind, commerce_id) > (")
                .push_bind(after.connection.as_str())
                .push(", ")
                .push_bind(after.kind.as_str())
                .push(", ")
                .push_bind(after.commerce_id.as_str())
                .push(")");
        }
        query
            .push(" ORDER BY connection, kind, commerce_id LIMIT ")
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
            "SELECT {RECORD_COLUMNS} FROM records INDEXED BY records_by_state_key \
             WHERE connection = ? AND state = 'posting' AND state_since <= ? \
             ORDER BY state_since, kind, commerce_id"
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
            "SELECT state, COUNT(*) AS n FROM records WHERE (?1 IS NULL OR connection = ?1) GROUP BY state",
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
            sqlx::query_scalar("SELECT at FROM watermarks WHERE connection = ? AND stream = ?")
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
            "INSERT INTO watermarks (connection, stream, at) VALUES (?, ?, ?) \
             ON CONFLICT (connection, stream) DO UPDATE SET at = MAX(at, excluded.at) \
             RETURNING at",
        )
        .bind(connection.as_str())
        .bind(stream.as_str())
        .bind(micros(to))
        .fetch_one(&self.writer)
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
        const OP: &str = "acquire a lease";
        let mut tx = self.begin(OP, connection).await?;
        let now = self.now();
        let current = self.lease_in(&mut tx, connection, OP).await?;
        match logic::plan_acquire(current.as_ref(), connection, holder, ttl, now) {
            Ok(lease) => {
                self.write_lease(&mut tx, &lease, OP).await?;
                tx.commit().await.map_err(self.db(OP, connection))?;
                Ok(LeaseOutcome::Acquired(lease))
            }
            Err(other) => {
                tx.rollback().await.map_err(self.db(OP, connection))?;
                Ok(LeaseOutcome::HeldByOther(other))
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
                self.write_lease(&mut tx, &lease, OP).await?;
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
            sqlx::query("UPDATE leases SET expires_at = ? WHERE connection = ? AND holder = ?")
                .bind(micros(self.now()))
                .bind(connection.as_str())
                .bind(holder.as_str())
                .execute(&self.writer)
                .await
                .map_err(self.db("release a lease", connection))?;
        Ok(result.rows_affected() > 0)
    }

    async fn leases(&self) -> Result<Vec<Lease>, StoreError> {
        let rows = sqlx::query(
            "SELECT connection, holder, acquired_at, expires_at, generation FROM leases ORDER BY connection",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(self.db("list leases", "leases"))?;
        rows.iter().map(|row| self.lease_from_row(row)).collect()
    }

    async fn push_notification(&self, key: &RecordKey) -> Result<Notification, StoreError> {
        const OP: &str = "queue a webhook notification";
        let mut tx = self.begin(OP, key).await?;
        sqlx::query(
            "INSERT INTO notifications (connection, kind, commerce_id, queued_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (connection, kind, commerce_id) DO NOTHING",
        )
        .bind(key.connection.as_str())
        .bind(key.kind.as_str())
        .bind(&key.commerce_id)
        .bind(micros(self.now()))
        .execute(&mut *tx)
        .await
        .map_err(self.db(OP, key))?;
        let queued_at: i64 = sqlx::query_scalar(
            "SELECT queued_at FROM notifications WHERE connection = ? AND kind = ? AND commerce_id = ?",
        )
        .bind(key.connection.as_str())
        .bind(key.kind.as_str())
        .bind(&key.commerce_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(self.db(OP, key))?;
        tx.commit().await.map_err(self.db(OP, key))?;
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
        const OP: &str = "take webhook notifications";
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.begin(OP, connection).await?;
        let rows = sqlx::query(
            "DELETE FROM notifications WHERE id IN \
             (SELECT id FROM notifications WHERE connection = ? ORDER BY id LIMIT ?) \
             RETURNING id, connection, kind, commerce_id, queued_at",
        )
        .bind(connection.as_str())
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(self.db(OP, connection))?;
        tx.commit().await.map_err(self.db(OP, connection))?;
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
             VALUES (?, ?, ?, ?, ?, ?) \
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
        .execute(&self.writer)
        .await
        .map_err(self.db("record a cycle report", &report.connection))?;
        Ok(())
    }

    async fn cycle_reports(&self) -> Result<Vec<CycleReport>, StoreError> {
        let rows = sqlx::query(
            "SELECT connection, holder, started_at, finished_at, outcome, next_due_at \
             FROM cycles ORDER BY connection",
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

impl SqliteStore {
    async fn lease_in(
        &self,
        conn: &mut SqliteConnection,
        connection: &ConnectionName,
        operation: &'static str,
    ) -> Result<Option<Lease>, StoreError> {
        let row = sqlx::query(
            "SELECT connection, holder, acquired_at, expires_at, generation FROM leases WHERE connection = ?",
        )
        .bind(connection.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(self.db(operation, connection))?;
        row.map(|row| self.lease_from_row(&row)).transpose()
    }

    async fn write_lease(
        &self,
        conn: &mut SqliteConnection,
        lease: &Lease,
        operation: &'static str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO leases (connection, holder, acquired_at, expires_at, generation) \
             VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (connection) DO UPDATE SET holder = excluded.holder, \
             acquired_at = excluded.acquired_at, expires_at = excluded.expires_at, \
             generation = excluded.generation",
        )
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
}

#[async_trait]
impl AuditLog for SqliteStore {
    async fn append(&self, entry: NewAuditEntry) -> Result<AuditEntry, StoreError> {
        const OP: &str = "append an audit entry";
        let key = entry.key.clone();
        let mut tx = self.begin(OP, &key).await?;
        let stored = self.append_in(&mut tx, entry, self.now()).await?;
        tx.commit().await.map_err(self.db(OP, &key))?;
        Ok(stored)
    }

    async fn append_many(&self, entries: Vec<NewAuditEntry>) -> Result<(), StoreError> {
        const OP: &str = "append audit entries";
        if entries.is_empty() {
            return Ok(());
        }
        let subject = batch_subject(entries.iter().map(|e| &e.key));
        let mut tx = self.begin(OP, &subject).await?;
        let now = self.now();
        self.insert_audits(&mut tx, &entries, now, &subject, false)
            .await?;
        tx.commit().await.map_err(self.db(OP, &subject))
    }

    async fn query(&self, query: &AuditQuery) -> Result<AuditPage, StoreError> {
        let limit = query.effective_limit();
        let mut sql: QueryBuilder<'_, Sqlite> = QueryBuilder::new(
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
