//! `sync --once` and `replay`: one poll cycle, or halted records again, through the engine.

use std::sync::Arc;
use std::time::Duration;

use connector_core::audit::AuditLog;
use connector_core::config::{Config, ConnectionConfig};
use connector_core::engine::{CycleSummary, Engine, EngineOptions};
use connector_core::state::{HolderId, LeaseOutcome, RecordKey, RecordState, StateStore};
use connector_core::vault::SecretStore;
use serde_json::json;

use super::audit::parse_record;
use crate::cli::{ReplayArgs, SyncArgs};
use crate::context::{Context, connection_name, select};
use crate::failure::{NeedsAttention, Reported, usage};
use crate::output::Progress;

/// Builds the engine of `c` on `store` with credentials from `vault`.
pub async fn engine<S>(
    ctx: &Context,
    c: &ConnectionConfig,
    store: &S,
    vault: Arc<dyn SecretStore>,
) -> anyhow::Result<Engine>
where
    S: StateStore + AuditLog + Clone + 'static,
{
    let state: Arc<dyn StateStore> = Arc::new(store.clone());
    let audit: Arc<dyn AuditLog> = Arc::new(store.clone());
    Ok(
        Engine::builder(c.clone(), state, audit, Arc::clone(&ctx.clock))
            .secrets(vault)
            .options(EngineOptions::default())
            .build()
            .await?,
    )
}

/// Runs `work` while holding the connection's lease, so a one-off command never works beside a
/// running service on the same records.
async fn with_lease<T>(
    store: &dyn StateStore,
    c: &ConnectionConfig,
    work: impl Future<Output = anyhow::Result<T>>,
) -> anyhow::Result<T> {
    let name = connection_name(&c.name)?;
    let holder = HolderId::new(format!("ml-connector-cli-{}", std::process::id()))?;
    if let LeaseOutcome::HeldByOther(lease) = store
        .acquire_lease(&name, &holder, Duration::from_secs(600))
        .await?
    {
        return Err(anyhow::anyhow!(
            "connection {} is being processed by {} until {} (is `ml-connector run` running?); stop it or wait",
            c.name,
            lease.holder,
            crate::output::instant(lease.expires_at)
        ));
    }
    let result = work.await;
    let _ = store.release_lease(&name, &holder).await;
    result
}

/// Records of a connection that wait for a person after a cycle: halted and dead, whether this
/// cycle or an earlier one put them there.
#[derive(Debug, Clone, Copy, Default)]
pub struct Waiting {
    /// Records in `halted`.
    pub halted: u64,
    /// Records in `dead`.
    pub dead: u64,
}

impl Waiting {
    /// Reads the counts of `connection`.
    pub async fn read(store: &dyn StateStore, connection: &str) -> anyhow::Result<Self> {
        let counts = store.counts(Some(&connection_name(connection)?)).await?;
        Ok(Self {
            halted: counts.get(RecordState::Halted),
            dead: counts.get(RecordState::Dead),
        })
    }

    /// Whether any record waits.
    pub fn any(self) -> bool {
        self.halted + self.dead > 0
    }
}

/// A cycle summary as JSON.
pub fn summary_json(connection: &str, s: &CycleSummary) -> serde_json::Value {
    json!({
        "connection": connection,
        "read": s.read,
        "new": s.intake_new,
        "unchanged": s.intake_unchanged,
        "posted": s.posted,
        "customers_created": s.customers_created,
        "halted": s.halted.iter().map(|(k, why)| json!({ "record": k.to_string(), "reason": why })).collect::<Vec<_>>(),
        "retried": s.retried,
        "dead": s.dead,
        "reconciled": s.reconciled,
        "changed_after_posting": s.changed_after_posting,
        "errors": s.errors.iter().map(|(k, e)| json!({ "kind": k.as_str(), "error": e })).collect::<Vec<_>>(),
        "seconds": s.duration.as_secs_f64(),
    })
}

/// A cycle summary as JSON with what waits for a person afterwards.
fn report_json(connection: &str, s: &CycleSummary, waiting: Waiting) -> serde_json::Value {
    let mut value = summary_json(connection, s);
    value["waiting"] = json!({ "halted": waiting.halted, "dead": waiting.dead });
    value
}

/// The line that explains an exit code of 3.
fn print_waiting(ctx: &Context, connection: &str, waiting: Waiting) {
    if waiting.any() {
        println!(
            "  {} record(s) of {connection} wait for a person ({} halted, {} dead): `ml-connector audit list --status halted`, fix, then `ml-connector replay --all-halted`",
            ctx.out.yellow(&(waiting.halted + waiting.dead).to_string()),
            waiting.halted,
            waiting.dead
        );
    }
}

/// How a command that ran its cycles ends: 1 when a stream failed or a record went dead in this
/// run, else 3 when records wait for a person, else 0.
fn outcome(failed: bool, waiting: bool) -> anyhow::Result<()> {
    if failed {
        Err(Reported.into())
    } else if waiting {
        Err(NeedsAttention.into())
    } else {
        Ok(())
    }
}

/// Prints a summary for people.
pub fn print_summary(ctx: &Context, connection: &str, s: &CycleSummary) {
    let out = &ctx.out;
    let ok = s.errors.is_empty() && s.dead == 0;
    println!(
        "{} {}",
        out.mark(ok),
        out.bold(&format!("Connection {connection}"))
    );
    println!(
        "  read {} change(s) ({} new, {} unchanged); posted {}; customers created {}; retrying {}; dead {}; reconciled {}",
        s.read,
        s.intake_new,
        s.intake_unchanged,
        s.posted,
        s.customers_created,
        s.retried,
        s.dead,
        s.reconciled
    );
    if s.changed_after_posting > 0 {
        println!(
            "  {} document(s) changed in Commerce after posting (recorded, not posted again)",
            s.changed_after_posting
        );
    }
    if !s.halted.is_empty() {
        println!(
            "  {} halted, waiting for a person:",
            out.red(&s.halted.len().to_string())
        );
        for (key, why) in &s.halted {
            println!("    {key}: {why}");
        }
    }
    for (kind, error) in &s.errors {
        println!(
            "  {} {kind}: left for a later cycle: {error}",
            out.mark(false)
        );
    }
}

/// Runs `sync --once`.
pub async fn sync(ctx: &Context, args: &SyncArgs) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let vault: Arc<dyn SecretStore> = Arc::new(ctx.vault().await?);
    let store = ctx.store(&config).await?;
    let mut failed = false;
    let mut waiting = false;
    let mut reports = Vec::new();
    for c in select(&config, args.connection.as_deref())? {
        let engine = engine(ctx, c, &store, Arc::clone(&vault)).await?;
        let progress = super::demo::record_progress(
            Progress::wanted(&ctx.out, &ctx.log),
            store.clone(),
            connection_name(&c.name)?,
        );
        let result = with_lease(&store, c, async { Ok(engine.run_cycle().await?) }).await;
        progress.stop().await;
        engine.close().await;
        let summary =
            result.map_err(|e| e.context(format!("sync of connection {} failed", c.name)))?;
        let left = Waiting::read(&store, &c.name).await?;
        tracing::debug!(connection = %c.name, halted = left.halted, dead = left.dead, "records waiting for a person");
        failed |= !summary.errors.is_empty() || summary.dead > 0;
        waiting |= left.any();
        if ctx.out.json {
            reports.push(report_json(&c.name, &summary, left));
        } else {
            print_summary(ctx, &c.name, &summary);
            print_waiting(ctx, &c.name, left);
        }
    }
    if ctx.out.json {
        ctx.out.print_json(&json!({ "connections": reports }))?;
    }
    outcome(failed, waiting)
}

/// Runs `replay`.
pub async fn replay(ctx: &Context, args: &ReplayArgs) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let connections = select(&config, args.connection.as_deref())?;
    let keys = record_keys(&config, &args.records, args.connection.as_deref())?;
    let vault: Arc<dyn SecretStore> = Arc::new(ctx.vault().await?);
    let store = ctx.store(&config).await?;
    for key in &keys {
        if store.get(key).await?.is_none() {
            return Err(usage(format!("no record {key} in the state database")));
        }
    }
    let mut reports = Vec::new();
    let mut failed = false;
    let mut still_halted = false;
    for c in connections {
        let mine: Vec<RecordKey> = keys
            .iter()
            .filter(|k| k.connection.as_str() == c.name)
            .cloned()
            .collect();
        if !args.all_halted && mine.is_empty() {
            continue;
        }
        let engine = engine(ctx, c, &store, Arc::clone(&vault)).await?;
        let progress = super::demo::record_progress(
            Progress::wanted(&ctx.out, &ctx.log),
            store.clone(),
            connection_name(&c.name)?,
        );
        let result = with_lease(&store, c, async {
            if args.all_halted {
                Ok(engine.replay_halted(true, false).await?)
            } else {
                Ok(engine.replay(&mine, false).await?)
            }
        })
        .await;
        progress.stop().await;
        engine.close().await;
        let summary =
            result.map_err(|e| e.context(format!("replay on connection {} failed", c.name)))?;
        failed |= !summary.errors.is_empty() || summary.dead > 0;
        still_halted |= !summary.halted.is_empty();
        if ctx.out.json {
            reports.push(summary_json(&c.name, &summary));
        } else {
            print_summary(ctx, &c.name, &summary);
        }
    }
    if ctx.out.json {
        ctx.out.print_json(&json!({ "connections": reports }))?;
    }
    outcome(failed, still_halted)
}

fn record_keys(
    config: &Config,
    records: &[String],
    connection: Option<&str>,
) -> anyhow::Result<Vec<RecordKey>> {
    let mut keys = Vec::new();
    for text in records {
        let key = parse_record(config, text)?;
        if let Some(only) = connection
            && key.connection.as_str() != only
        {
            return Err(usage(format!("record {key} is not on connection {only}")));
        }
        keys.push(key);
    }
    Ok(keys)
}
