//! `simulators`: starts the fake Commerce and the fake SYSPRO, prints one JSON line with their URLs and
//! credentials, and serves until interrupted.

use std::time::Duration;

use clap::Parser;
use simulators::storm::FaultPreset;
use simulators::{SimConfig, Sims};

/// Fake Adobe Commerce and SYSPRO servers on 127.0.0.1.
#[derive(Debug, Parser)]
#[command(name = "simulators", version)]
struct Args {
    /// Seed for generated data, credentials and fault decisions.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// Number of Commerce orders to generate.
    #[arg(long, default_value_t = 500)]
    orders: usize,
    /// Latency added to every call of both fakes, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Extra SYSPRO service time per document item, in milliseconds.
    #[arg(long, default_value_t = 0)]
    item_latency_ms: u64,
    /// Fault preset: none, or storm (see the `storm` module of the library).
    #[arg(long, default_value_t = FaultPreset::None)]
    faults: FaultPreset,
    /// Port for the fake Commerce (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    commerce_port: u16,
    /// Port for the fake SYSPRO (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    syspro_port: u16,
    /// URL the fake Commerce posts signed webhooks to when orders change.
    #[arg(long)]
    webhook_url: Option<String>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut config = SimConfig::new(
        args.seed,
        args.orders,
        Duration::from_millis(args.latency_ms),
    );
    config.syspro.item_latency = Duration::from_millis(args.item_latency_ms);
    if args.faults != FaultPreset::None {
        args.faults.apply(&mut config);
    }
    config.commerce.port = args.commerce_port;
    config.commerce.webhook_url = args.webhook_url;
    config.syspro.port = args.syspro_port;
    let sims = Sims::start(config).await?;
    println!("{}", sims.connection_info());
    tokio::signal::ctrl_c().await?;
    sims.shutdown().await;
    Ok(())
}
