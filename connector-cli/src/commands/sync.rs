//! `sync --once` and `replay`: one poll cycle, or halted records again, through the engine.

use std::sync::Arc;
use std::time::Duration;

use connector_core::audit::AuditLog;
use connector_core::config::{Config, ConnectionConfig};
use connector_core::engine::{CycleSummary, Engine, EngineOptions};
use connector_core::state::{HolderId, LeaseOutcome, RecordKey, SqliteStore, StateStore};
use connector_core::vault::SecretStore;
use serde_json::json;

use super::audit::parse_record;
use crate::cli::{ReplayArgs, SyncArgs};
use crate::context::{Context, connection_name, select};
use crate::failure::{Reported, usage};

/// Builds the engine of `c` on `store` with credentials from `vault`.
pub async fn engine(
    ctx: &Context,
    c: &ConnectionConfig,
    store: &SqliteStore,
    vault: Arc<dyn SecretStore>,
) -> anyhow::Result<Engine> {
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
    store: &SqliteStore,
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
    let mut reports = Vec::new();
    for c in select(&config, args.connection.as_deref())? {
        let engine = engine(ctx, c, &store, Arc::clone(&vault)).await?;
        let result = with_lease(&store, c, async { Ok(engine.run_cycle().await?) }).await;
        engine.close().await;
        let summary =
            result.map_err(|e| e.context(format!("sync of connection {} failed", c.name)))?;
        failed |= !summary.errors.is_empty() || summary.dead > 0;
        if ctx.out.json {
            reports.push(summary_json(&c.name, &summary));
        } else {
            print_summary(ctx, &c.name, &summary);
        }
    }
    if ctx.out.json {
        ctx.out.print_json(&json!({ "connections": reports }))?;
    }
    if failed { Err(Reported.into()) } else { Ok(()) }
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
        let result = with_lease(&store, c, async {
            if args.all_halted {
                Ok(engine.replay_halted(true, false).await?)
            } else {
                Ok(engine.replay(&mine, false).await?)
            }
        })
        .await;
        engine.close().await;
        let summary =
            result.map_err(|e| e.context(format!("replay on connection {} failed", c.name)))?;
        still_halted |= !summary.halted.is_empty() || !summary.errors.is_empty();
        if ctx.out.json {
            reports.push(summary_json(&c.name, &summary));
        } else {
            print_summary(ctx, &c.name, &summary);
        }
    }
    if ctx.out.json {
        ctx.out.print_json(&json!({ "connections": reports }))?;
    }
    if still_halted {
        Err(Reported.into())
    } else {
        Ok(())
    }
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
