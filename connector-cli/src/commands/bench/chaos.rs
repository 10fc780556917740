//! Chaos runs: the connector as child processes of this binary, killed with SIGKILL at random
//! moments and restarted, until the backlog is drained.

use std::io::Read as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use connector_core::state::{ConnectionName, RecordState, SqliteStore, StateStore as _};
use connector_core::vault::SecretStore;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::drive;
use super::setup::{CONNECTION, Files};
use super::usage::{self, Usage};
use crate::cli::BenchArgs;
use crate::context::{Context, open_store, parent_dir};

/// What a worker prints as its last line when it drained the backlog.
#[derive(Debug, Serialize, Deserialize)]
struct WorkerReport {
    cpu_seconds: f64,
    peak_rss_bytes: u64,
    cycles: u64,
    failed_cycles: u64,
    drained: bool,
}

/// `bench --worker`: runs the connector of `--config` until the backlog is drained, then prints a
/// [`WorkerReport`] line.
pub async fn worker(ctx: &Context, args: &BenchArgs) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let connection = config
        .connection(CONNECTION)
        .context("the bench configuration lost its connection")?;
    let vault: Arc<dyn SecretStore> = Arc::new(ctx.vault().await?);
    // The bench configuration always names the SQLite database beside it.
    let files = Files::in_dir(parent_dir(&ctx.config_path));
    let store = open_store(&files.database, Arc::clone(&ctx.clock)).await?;
    let name = ConnectionName::new(CONNECTION)?;
    let engine = drive::engine(ctx, connection, &store, vault).await?;
    let deadline = Instant::now() + Duration::from_secs(args.timeout_secs);
    let drained = drive::drain(&engine, &store, &name, deadline).await;
    engine.close().await;
    let drained = drained?;
    let own = usage::own().unwrap_or_default();
    let report = WorkerReport {
        cpu_seconds: own.cpu_seconds,
        peak_rss_bytes: own.peak_rss_bytes,
        cycles: drained.cycles,
        failed_cycles: drained.failed_cycles,
        drained: drained.drained,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// How a chaos run went.
#[derive(Debug, Default)]
pub struct ChaosOutcome {
    /// Summed over every connector process.
    pub usage: Usage,
    pub kills: u32,
    pub processes: u32,
    pub cycles: u64,
    pub failed_cycles: u64,
    pub drained: bool,
}

/// A small deterministic generator for kill moments (SplitMix64).
struct Moments(u64);

impl Moments {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A whole number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

fn spawn_worker(files: &Files, dir: &Path, index: u32, timeout_secs: u64) -> anyhow::Result<Child> {
    let exe = std::env::current_exe().context("cannot locate the ml-connector binary")?;
    let log_path = dir.join(format!("worker-{index}.log"));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    Command::new(exe)
        .arg("--config")
        .arg(&files.config)
        .arg("--vault")
        .arg(&files.vault)
        .arg("--key-file")
        .arg(&files.key)
        .args([
            "bench",
            "--worker",
            "--timeout-secs",
            &timeout_secs.to_string(),
        ])
        .env_remove("ML_CONNECTOR_MASTER_KEY")
        .env_remove("ML_CONNECTOR_CONFIG")
        .env_remove("ML_CONNECTOR_VAULT")
        .env_remove("ML_CONNECTOR_KEY_FILE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .context("cannot start a connector process")
}

async fn posted(store: &SqliteStore, name: &ConnectionName) -> u64 {
    store
        .counts(Some(name))
        .await
        .map_or(0, |c| c.get(RecordState::Posted))
}

/// Starts connector processes one after another, killing the first `kills` of them at random
/// moments: after a random 0.3 to 3 s, or earlier once it posted its share of what remains, so
/// the kills spread over the work. The last process runs until the backlog is drained.
pub async fn run(
    args: &BenchArgs,
    files: &Files,
    dir: &Path,
    store: &SqliteStore,
    expected: u64,
    deadline: Instant,
) -> anyhow::Result<ChaosOutcome> {
    let name = ConnectionName::new(CONNECTION)?;
    let mut moments = Moments(args.seed ^ 0xC4A0_5000);
    let mut out = ChaosOutcome::default();
    let mut failures = 0u32;
    while Instant::now() < deadline {
        let index = out.processes;
        out.processes += 1;
        let mut child = spawn_worker(files, dir, index, args.timeout_secs)?;
        let pid = child.id();
        let kill_now = out.kills < args.chaos_kills;
        let started = Instant::now();
        let kill_after = Duration::from_millis(moments.between(300, 3000));
        let posted_at_start = posted(store, &name).await;
        let remaining = expected.saturating_sub(posted_at_start);
        let share = remaining / u64::from(args.chaos_kills - out.kills.min(args.chaos_kills) + 1);
        let quota = moments.between(1, share.max(1));
        let mut last = Usage::default();
        let status = loop {
            if let Some(u) = usage::of_pid(pid) {
                last.cpu_seconds = u.cpu_seconds;
                last.peak_rss_bytes = last.peak_rss_bytes.max(u.peak_rss_bytes);
            }
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if kill_now
                && (started.elapsed() >= kill_after
                    || posted(store, &name).await >= posted_at_start + quota)
            {
                if let Some(u) = usage::of_pid(pid) {
                    last.cpu_seconds = u.cpu_seconds;
                }
                child.kill().context("cannot kill a connector process")?;
                let _ = child.wait();
                out.kills += 1;
                break None;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        out.usage.cpu_seconds += last.cpu_seconds;
        out.usage.peak_rss_bytes = out.usage.peak_rss_bytes.max(last.peak_rss_bytes);
        let Some(status) = status else { continue };
        let mut text = String::new();
        if let Some(mut stdout) = child.stdout.take() {
            let _ = stdout.read_to_string(&mut text);
        }
        let report = text
            .lines()
            .last()
            .and_then(|l| serde_json::from_str::<WorkerReport>(l).ok());
        match report {
            Some(r) if status.success() => {
                // The process's own figures at its end are more exact than the last sample.
                out.usage.cpu_seconds += r.cpu_seconds - last.cpu_seconds;
                out.usage.peak_rss_bytes = out.usage.peak_rss_bytes.max(r.peak_rss_bytes);
                out.cycles += r.cycles;
                out.failed_cycles += r.failed_cycles;
                if r.drained {
                    out.drained = true;
                    break;
                }
            }
            _ => {
                failures += 1;
                if failures > 3 {
                    anyhow::bail!(
                        "connector process {index} failed ({status}); see {}",
                        dir.join(format!("worker-{index}.log")).display()
                    );
                }
            }
        }
    }
    Ok(out)
}
