//! Running the connector until the backlog is drained, and showing progress meanwhile.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use connector_core::audit::AuditLog;
use connector_core::config::ConnectionConfig;
use connector_core::engine::{Engine, EngineOptions};
use connector_core::state::{
    ConnectionName, EntityKind, RecordFilter, RecordState, SqliteStore, StateStore,
};
use connector_core::vault::SecretStore;
use tokio::time::Instant;

use crate::context::Context;

/// The worker identity every bench engine uses, so a restarted connector is the same worker.
const HOLDER: &str = "ml-connector-bench";

/// Builds the engine the way `sync` does, with retries of transient failures due after 1 s
/// (doubling to at most 10 s) instead of 30 s, so a run under faults is not mostly waiting.
pub async fn engine(
    ctx: &Context,
    connection: &ConnectionConfig,
    store: &SqliteStore,
    vault: Arc<dyn SecretStore>,
) -> anyhow::Result<Engine> {
    let state: Arc<dyn StateStore> = Arc::new(store.clone());
    let audit: Arc<dyn AuditLog> = Arc::new(store.clone());
    let options = EngineOptions {
        retry_initial: Duration::from_secs(1),
        retry_max: Duration::from_secs(10),
        holder: HOLDER.to_owned(),
        ..EngineOptions::default()
    };
    Ok(
        Engine::builder(connection.clone(), state, audit, Arc::clone(&ctx.clock))
            .secrets(vault)
            .options(options)
            .build()
            .await?,
    )
}

/// How a drain ended.
#[derive(Debug, Default, Clone, Copy)]
pub struct Drained {
    /// Cycles run.
    pub cycles: u64,
    /// Cycles that failed as a whole (the next one tried again).
    pub failed_cycles: u64,
    /// Whether every record settled (posted, halted or dead) before the deadline.
    pub drained: bool,
}

/// Runs cycles until a cycle finds nothing new, posts nothing, reports no read error and no
/// document record is left open (received, mapped, posting, waiting for a retry); or until
/// `deadline`. Customer records are left out: the documents are the backlog, and a customer record
/// that never settles is reported by the check instead of keeping the run going forever.
pub async fn drain(
    engine: &Engine,
    store: &SqliteStore,
    connection: &ConnectionName,
    deadline: Instant,
) -> anyhow::Result<Drained> {
    let mut out = Drained::default();
    while Instant::now() < deadline {
        out.cycles += 1;
        let progressed = match engine.run_cycle().await {
            Ok(s) => {
                let progressed = s.intake_new > 0 || s.posted > 0 || s.reconciled > 0;
                let open = open_documents(store, connection, engine.document_kind()).await?;
                if !progressed && !open && s.errors.is_empty() {
                    out.drained = true;
                    break;
                }
                progressed
            }
            Err(e) => {
                out.failed_cycles += 1;
                let e = anyhow::Error::new(e);
                tracing::warn!(error = format!("{e:#}"), "bench cycle failed; trying again");
                false
            }
        };
        if !progressed {
            // Records wait for their retry time, or a system is failing: poll again shortly.
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    Ok(out)
}

/// Whether any record of `kind` is still received, mapped, posting or waiting for a retry.
async fn open_documents(
    store: &SqliteStore,
    connection: &ConnectionName,
    kind: EntityKind,
) -> anyhow::Result<bool> {
    for state in [
        RecordState::Received,
        RecordState::Mapped,
        RecordState::Posting,
        RecordState::RetryWait,
    ] {
        let filter = RecordFilter {
            connection: Some(connection.clone()),
            kind: Some(kind),
            state: Some(state),
            limit: 1,
            ..RecordFilter::default()
        };
        if !store.list(&filter).await?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A progress line on standard error (only on a terminal, and never with `--json`).
pub struct Progress {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Progress {
    /// Shows the connection's records posted against the documents expected, every half second.
    pub fn start(
        store: SqliteStore,
        connection: ConnectionName,
        expected: usize,
        show: bool,
    ) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = show.then(|| {
            tokio::spawn(async move {
                let started = Instant::now();
                loop {
                    if let Ok(c) = store.counts(Some(&connection)).await {
                        let mut err = std::io::stderr();
                        let _ = write!(
                            err,
                            "\r  {:>6.1} s  records posted {} (documents expected {expected}; halted {}, retrying {}, dead {})   ",
                            started.elapsed().as_secs_f64(),
                            c.get(RecordState::Posted),
                            c.get(RecordState::Halted),
                            c.get(RecordState::RetryWait),
                            c.get(RecordState::Dead),
                        );
                        let _ = err.flush();
                    }
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(500)) => {}
                        _ = stopped.wait_for(|s| *s) => break,
                    }
                }
                eprintln!();
            })
        });
        Self { stop, task }
    }

    /// Stops the line.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}
