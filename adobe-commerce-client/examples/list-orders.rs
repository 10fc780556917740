//! Prints the orders updated since a timestamp as JSON lines.
//!
//! ```text
//! COMMERCE_BASE_URL=https://shop.example.com \
//! COMMERCE_BEARER_TOKEN=... \
//! cargo run -p adobe-commerce-client --example list-orders -- \
//!     --updated-since '2026-03-01 00:00:00' --page-size 100
//! ```
//!
//! Credentials come from the environment: either the four OAuth 1.0a values of an integration
//! (`COMMERCE_CONSUMER_KEY`, `COMMERCE_CONSUMER_SECRET`, `COMMERCE_ACCESS_TOKEN`,
//! `COMMERCE_ACCESS_TOKEN_SECRET`) or `COMMERCE_BEARER_TOKEN`. Set `COMMERCE_STORE` to read through
//! one store view's path.

use std::io::Write;
use std::process::ExitCode;

use adobe_commerce_client::models::parse_timestamp;
use adobe_commerce_client::{Client, Credentials, SearchCriteria, SortDirection};
use clap::Parser;
use futures::StreamExt;

/// Prints Adobe Commerce orders updated since a timestamp, one JSON object per line.
#[derive(Debug, Parser)]
#[command(name = "list-orders")]
struct Args {
    /// Lower bound on `updated_at`, UTC, as `YYYY-MM-DD HH:MM:SS`.
    #[arg(long)]
    updated_since: String,
    /// Orders per request (1 to 300).
    #[arg(long, default_value_t = 100)]
    page_size: u32,
}

fn env(name: &str) -> Result<Option<String>, String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(Some(value)),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid UTF-8")),
    }
}

fn required(name: &str) -> Result<String, String> {
    env(name)?.ok_or_else(|| format!("missing environment variable {name}"))
}

fn credentials() -> Result<Credentials, String> {
    if let Some(token) = env("COMMERCE_BEARER_TOKEN")? {
        return Ok(Credentials::bearer(token));
    }
    let names = [
        "COMMERCE_CONSUMER_KEY",
        "COMMERCE_CONSUMER_SECRET",
        "COMMERCE_ACCESS_TOKEN",
        "COMMERCE_ACCESS_TOKEN_SECRET",
    ];
    let mut values = Vec::with_capacity(names.len());
    for name in names {
        values.push(required(name).map_err(|_| {
            format!(
                "missing environment variable {name} (set the four COMMERCE_CONSUMER_*/COMMERCE_ACCESS_TOKEN* values, or COMMERCE_BEARER_TOKEN)"
            )
        })?);
    }
    let [key, secret, token, token_secret]: [String; 4] = values
        .try_into()
        .map_err(|_| "credential values".to_owned())?;
    Ok(Credentials::oauth1(key, secret, token, token_secret))
}

/// Describes an error with its causes on one line.
fn one_line(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.replace('\n', " ")
}

async fn run(args: Args) -> Result<(), String> {
    let since =
        parse_timestamp(&args.updated_since).map_err(|e| format!("--updated-since: {e}"))?;
    let base_url = required("COMMERCE_BASE_URL")?;
    let mut builder = Client::builder(base_url).credentials(credentials()?);
    if let Some(store) = env("COMMERCE_STORE")? {
        builder = builder.store(store);
    }
    let client = builder.build().map_err(|e| one_line(&e))?;

    let criteria = SearchCriteria::new()
        .updated_since(since)
        .sort_by("updated_at", SortDirection::Asc)
        .sort_by("entity_id", SortDirection::Asc)
        .page_size(args.page_size);
    let mut orders = client.orders().search(criteria).stream();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    while let Some(order) = orders.next().await {
        let order = order.map_err(|e| one_line(&e))?;
        let line = serde_json::to_string(&order).map_err(|e| format!("encoding order: {e}"))?;
        writeln!(out, "{line}").map_err(|e| format!("writing output: {e}"))?;
    }
    out.flush().map_err(|e| format!("writing output: {e}"))?;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("list-orders: {message}");
            ExitCode::FAILURE
        }
    }
}
