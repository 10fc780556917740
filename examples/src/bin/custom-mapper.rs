//! Runs one connection against the in-process simulators with a custom mapper that books the
//! marketplace store's revenue to the marketplace GL account, and prints what landed where.

use ml_connector_examples::custom_mapper::run_custom_mapper;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = run_custom_mapper(60).await?;
    print!("{report}");
    Ok(())
}
