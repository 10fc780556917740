//! `audit list` and `audit show`: records and their timelines from the state store and audit log.

use connector_core::audit::{AuditEntry, AuditLog as _, AuditQuery, Redactor};
use connector_core::config::Config;
use connector_core::state::{EntityKind, RecordFilter, RecordKey, RecordState, StateStore as _};
use serde_json::json;
use time::OffsetDateTime;

use crate::cli::AuditListArgs;
use crate::context::{Context, connection_name, select};
use crate::failure::usage;
use crate::output::{instant, table};

/// Parses `CONNECTION/KIND/ID`, or `KIND/ID` when the configuration has one connection.
pub fn parse_record(config: &Config, text: &str) -> anyhow::Result<RecordKey> {
    let parts: Vec<&str> = text.split('/').collect();
    let (connection, kind, id) = match parts.as_slice() {
        [connection, kind, id] => ((*connection).to_owned(), *kind, *id),
        [kind, id] if config.connections.len() == 1 => {
            (config.connections[0].name.clone(), *kind, *id)
        }
        [_, _] => {
            return Err(usage(format!(
                "record {text:?} does not name its connection; write CONNECTION/KIND/ID (there are {} connections)",
                config.connections.len()
            )));
        }
        _ => {
            return Err(usage(format!(
                "record {text:?} is not CONNECTION/KIND/ID (for example shop/invoice/42)"
            )));
        }
    };
    select(config, Some(&connection))?;
    let kind: EntityKind = kind
        .parse()
        .map_err(|e: connector_core::state::StoreError| usage(e.to_string()))?;
    if id.is_empty() {
        return Err(usage(format!("record {text:?} has an empty id")));
    }
    Ok(RecordKey::new(connection_name(&connection)?, kind, id))
}

/// Parses `--since`: an RFC 3339 instant, or a duration back from now (`2h`, `1d`).
pub fn parse_since(text: &str, now: OffsetDateTime) -> anyhow::Result<OffsetDateTime> {
    if let Ok(at) = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339) {
        return Ok(at);
    }
    let ago = connector_core::config::ConfigDuration::parse(text).map_err(|_| {
        usage(format!(
            "--since {text:?} is neither an RFC 3339 instant (2026-03-01T00:00:00Z) nor a duration such as 2h or 1d"
        ))
    })?;
    let ago = time::Duration::try_from(ago.get()).unwrap_or(time::Duration::MAX);
    Ok(now.saturating_sub(ago))
}

/// Runs `audit list`.
pub async fn list(ctx: &Context, args: &AuditListArgs) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let connection = match &args.connection {
        Some(name) => {
            select(&config, Some(name))?;
            Some(connection_name(name)?)
        }
        None => None,
    };
    let state = args
        .status
        .as_deref()
        .map(|s| {
            s.parse::<RecordState>()
                .map_err(|e| usage(format!("--status: {e}")))
        })
        .transpose()?;
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, ctx.clock.now()))
        .transpose()?;
    let store = ctx.store(&config).await?;
    let mut records = Vec::new();
    let mut filter = RecordFilter {
        connection,
        state,
        limit: 500,
        ..RecordFilter::default()
    };
    loop {
        let page = store.list(&filter).await?;
        let last = page.last().map(|r| r.key.clone());
        records.extend(
            page.into_iter()
                .filter(|r| since.is_none_or(|t| r.updated_at >= t)),
        );
        match last {
            Some(key) if records.len() < args.limit => filter.after = Some(key),
            _ => break,
        }
    }
    records.sort_by_key(|r| std::cmp::Reverse(r.updated_at));
    records.truncate(args.limit);
    if ctx.out.json {
        let rows: Vec<_> = records
            .iter()
            .map(|r| {
                json!({
                    "record": r.key.to_string(),
                    "state": r.state,
                    "attempts": r.attempts,
                    "updated_at": instant(r.updated_at),
                    "invoice": r.syspro.invoice,
                    "journal": r.syspro.journal,
                    "reason": r.reason,
                })
            })
            .collect();
        return ctx.out.print_json(&json!({ "records": rows }));
    }
    if records.is_empty() {
        println!("No records match.");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.key.to_string(),
                paint_state(ctx, r.state),
                r.attempts.to_string(),
                instant(r.updated_at),
                r.syspro.invoice.clone().unwrap_or_default(),
                r.reason.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        table(
            &[
                "RECORD",
                "STATE",
                "ATTEMPTS",
                "UPDATED",
                "SYSPRO INVOICE",
                "REASON"
            ],
            &rows
        )
    );
    Ok(())
}

fn paint_state(ctx: &Context, state: RecordState) -> String {
    match state {
        RecordState::Posted => ctx.out.green(state.as_str()),
        RecordState::Halted | RecordState::Dead => ctx.out.red(state.as_str()),
        RecordState::RetryWait | RecordState::Posting => ctx.out.yellow(state.as_str()),
        _ => state.as_str().to_owned(),
    }
}

/// Runs `audit show`.
pub async fn show(ctx: &Context, record: &str) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let key = parse_record(&config, record)?;
    let store = ctx.store(&config).await?;
    let Some(current) = store.get(&key).await? else {
        return Err(crate::failure::usage(format!(
            "no record {key} in the state database"
        )));
    };
    let mut entries: Vec<AuditEntry> = Vec::new();
    let mut query = AuditQuery {
        limit: 500,
        ..AuditQuery::for_record(key.clone())
    };
    loop {
        let page = store.query(&query).await?;
        entries.extend(page.entries);
        match page.next_before {
            Some(before) => query.before = Some(before),
            None => break,
        }
    }
    entries.reverse();
    // Entries are redacted when written; masking URL query values again costs nothing and keeps
    // a session id or password out of a terminal even if a writer missed one.
    let redactor = Redactor::default();
    for e in &mut entries {
        e.message = redactor.redact_text(&e.message);
        e.document = e.document.as_ref().map(|d| redactor.redact_json(d));
    }
    if ctx.out.json {
        return ctx.out.print_json(&json!({
            "record": key.to_string(),
            "state": current.state,
            "attempts": current.attempts,
            "reason": current.reason,
            "syspro": current.syspro,
            "created_at": instant(current.created_at),
            "updated_at": instant(current.updated_at),
            "timeline": entries,
        }));
    }
    println!("{}", ctx.out.bold(&format!("Record {key}")));
    println!(
        "  state:    {} since {} ({} attempt(s))",
        paint_state(ctx, current.state),
        instant(current.state_since),
        current.attempts
    );
    if let Some(reason) = &current.reason {
        println!("  reason:   {reason}");
    }
    if let Some(invoice) = &current.syspro.invoice {
        println!("  invoice:  {invoice}");
    }
    if let Some(journal) = &current.syspro.journal {
        println!("  journal:  {journal}");
    }
    if let Some(late) = &current.changed_after_posting {
        println!(
            "  changed after posting: version of {}",
            instant(late.updated_at)
        );
    }
    println!("  timeline:");
    for e in &entries {
        println!(
            "    {}  {:<10}  {}",
            instant(e.at),
            e.kind.as_str(),
            e.message
        );
        if let Some(doc) = &e.document {
            let text = serde_json::to_string_pretty(doc).unwrap_or_default();
            for line in text.lines() {
                println!("        {line}");
            }
        }
    }
    Ok(())
}
