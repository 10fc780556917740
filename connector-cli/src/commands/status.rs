//! `status`: per connection, the worker holding it, watermarks, records by state and the oldest
//! halted record.

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
            })),
            "oldest_halted": oldest.map(|r| json!({
                "record": r.key.to_string(),
                "since": instant(r.state_since),
                "reason": r.reason,
            })),
        }));
    }
    if ctx.out.json {
        return ctx.out.print_json(&json!({ "connections": reports }));
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
    Ok(())
}
