//! Runs the engine on a state store of its own (a counting wrapper around the in-memory store)
//! against the in-process simulators, and prints what the store saw.

use ml_connector_examples::counting_store::run_counting_store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let report = run_counting_store(40).await?;
    println!("{report}");
    Ok(())
}
