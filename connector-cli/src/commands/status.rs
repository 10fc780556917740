//! `status`: per connection, the worker holding it and until when, the last and next poll cycle,
//! watermarks, records by state and the oldest halted record; then which worker holds which
//! connections (several workers can share one PostgreSQL database).

use connector_core::audit::{AuditLog as _, AuditQuery};
use connector_core::state::{EntityKind, RecordFilter, RecordState, StateStore as _, StreamName};
use serde_json::json;

use crate::context::{Context, connection_name};
use crate::output::{instant, table};

/// Runs `status`.
pub async fn status(ctx: &Context) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let store = ctx.store(&config).await?;
    let leases = store.leases().await?;
    let cycles = store.cycle_reports().await?;
    let now = ctx.clock.now();
    let mut reports = Vec::new();
    for c in &config.connections {
        let name = connection_name(&c.name)?;
        let counts = store.counts(Some(&name)).await?;
        let mut watermarks = serde_json::Map::new();
        for kind in EntityKind::ALL {
            let stream = StreamName::from(kind);
            if let Some(at) = store.watermark(&name, &stream).await? {
                watermarks.insert(stream.to_string(), json!(instant(at)));
            }
        }
        let halted = store
            .list(&RecordFilter {
                connection: Some(name.clone()),
                state: Some(RecordState::Halted),
                limit: 10_000,
                ..RecordFilter::default()
            })
            .await?;
        let oldest = halted.iter().min_by_key(|r| r.state_since);
        let lease = leases.iter().find(|l| l.connection == name);
        let cycle = cycles.iter().find(|r| r.connection == name);
        // The newest audit entry tells when the connection last did anything.
        let last = store
            .query(&AuditQuery {
                connection: Some(name.clone()),
                limit: 1,
                ..AuditQuery::default()
            })
            .await?
            .entries
            .first()
            .map(|e| instant(e.at));
        let states: serde_json::Map<String, serde_json::Value> = RecordState::ALL
            .iter()
            .map(|s| (s.to_string(), json!(counts.get(*s))))
            .collect();
        reports.push(json!({
            "connection": c.name,
            "records": states,
            "total": counts.total(),
            "watermarks": watermarks,
            "last_activity": last,
            "worker": lease.map(|l| json!({
                "holder": l.holder,
                "since": instant(l.acquired_at),
                "until": instant(l.expires_at),
                "active": !l.is_expired(now),
                "generation": l.generation,
            })),
            "last_cycle": cycle.map(|r| json!({
                "worker": r.holder,
                "started": instant(r.started_at),
                "finished": r.finished_at.map(instant),
                "outcome": if r.finished_at.is_some() { r.outcome.as_str() } else { "running" },
            })),
            "next_cycle": cycle.and_then(|r| r.next_due_at).map(instant),
            "oldest_halted": oldest.map(|r| json!({
                "record": r.key.to_string(),
                "since": instant(r.state_since),
                "reason": r.reason,
            })),
        }));
    }
    // Which worker holds which connections: the view of a deployment with several workers.
    let mut workers: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    for lease in leases.iter().filter(|l| !l.is_expired(now)) {
        workers
            .entry(lease.holder.to_string())
            .or_default()
            .push(lease.connection.to_string());
    }
    let workers: Vec<serde_json::Value> = workers
        .into_iter()
        .map(|(worker, connections)| json!({ "worker": worker, "connections": connections }))
        .collect();
    if ctx.out.json {
        return ctx
            .out
            .print_json(&json!({ "connections": reports, "workers": workers }));
    }
    for r in &reports {
        println!(
            "{}",
            ctx.out.bold(&format!(
                "Connection {}",
                r["connection"].as_str().unwrap_or_default()
            ))
        );
        match r["worker"].as_object() {
            Some(w) if w["active"].as_bool() == Some(true) => println!(
                "  worker:       {} (since {}, lease until {})",
                w["holder"].as_str().unwrap_or_default(),
                w["since"].as_str().unwrap_or_default(),
                w["until"].as_str().unwrap_or_default()
            ),
            Some(w) => println!(
                "  worker:       none running (last: {}, until {})",
                w["holder"].as_str().unwrap_or_default(),
                w["until"].as_str().unwrap_or_default()
            ),
            None => println!("  worker:       none has run yet"),
        }
        match r["last_cycle"].as_object() {
            Some(c) => println!(
                "  last cycle:   {} by {} ({})",
                c["started"].as_str().unwrap_or_default(),
                c["worker"].as_str().unwrap_or_default(),
                match c["finished"].as_str() {
                    Some(end) => format!(
                        "finished {end}: {}",
                        c["outcome"].as_str().unwrap_or_default()
                    ),
                    None => "running".to_owned(),
                }
            ),
            None => println!("  last cycle:   none yet"),
        }
        println!(
            "  next cycle:   {}",
            r["next_cycle"].as_str().unwrap_or("not planned")
        );
        println!(
            "  last activity: {}",
            r["last_activity"].as_str().unwrap_or("none yet")
        );
        let marks = r["watermarks"].as_object().filter(|m| !m.is_empty());
        match marks {
            Some(m) => {
                for (stream, at) in m {
                    println!(
                        "  watermark:    {stream} {}",
                        at.as_str().unwrap_or_default()
                    );
                }
            }
            None => println!("  watermark:    none (nothing read yet)"),
        }
        let rows: Vec<Vec<String>> = RecordState::ALL
            .iter()
            .map(|s| vec![s.to_string(), r["records"][s.as_str()].to_string()])
            .collect();
        for line in table(&["STATE", "RECORDS"], &rows).lines() {
            println!("  {line}");
        }
        match r["oldest_halted"].as_object() {
            Some(h) => println!(
                "  oldest halted: {} since {}: {}",
                h["record"].as_str().unwrap_or_default(),
                h["since"].as_str().unwrap_or_default(),
                h["reason"].as_str().unwrap_or("no reason recorded")
            ),
            None => println!("  oldest halted: none"),
        }
    }
    println!("{}", ctx.out.bold("Workers"));
    if workers.is_empty() {
        println!("  none holds a connection now");
    }
    for w in &workers {
        let connections: Vec<&str> = w["connections"]
            .as_array()
            .map(|c| c.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        println!(
            "  {}: {}",
            w["worker"].as_str().unwrap_or_default(),
            connections.join(", ")
        );
    }
    Ok(())
}
