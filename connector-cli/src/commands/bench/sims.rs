//! The simulators of a bench run, served by a child process of this same binary so the
//! connector's CPU time and memory are measured without them.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context as _;
use serde::Deserialize;
use serde_json::json;
use simulators::storm::FaultPreset;
use simulators::{SimConfig, Sims};

use crate::cli::BenchArgs;

/// The first line the serving child prints: where the simulators are and how to log on.
#[derive(Debug, Clone, Deserialize)]
pub struct SimInfo {
    pub commerce_url: String,
    pub syspro_url: String,
    pub syspro_enet_url: String,
    pub syspro_odata_url: String,
    pub commerce_oauth: OAuthInfo,
    pub syspro: SysproInfo,
    pub odata: ODataInfo,
}

/// Commerce OAuth 1.0a credentials of the simulated shop.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthInfo {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub access_token: String,
    pub access_token_secret: String,
}

/// SYSPRO logon of the simulated company.
#[derive(Debug, Clone, Deserialize)]
pub struct SysproInfo {
    pub operator_password: String,
    pub company_password: String,
}

/// OData credentials of the simulated company.
#[derive(Debug, Clone, Deserialize)]
pub struct ODataInfo {
    pub password: String,
}

/// The fault preset named on the command line.
pub fn preset(args: &BenchArgs) -> anyhow::Result<FaultPreset> {
    args.faults
        .parse::<FaultPreset>()
        .map_err(|e| crate::failure::usage(e.to_string()))
}

/// `bench --serve-simulators`: starts both simulators, prints their [`SimInfo`] as one JSON line
/// and serves until standard input closes (the bench process ended or dropped its handle).
pub async fn serve(args: &BenchArgs) -> anyhow::Result<()> {
    let mut config = SimConfig::new(
        args.seed,
        args.orders,
        Duration::from_millis(args.latency_ms),
    );
    config.syspro.item_latency = Duration::from_millis(args.item_latency_ms);
    preset(args)?.apply(&mut config);
    let sims = Sims::start(config)
        .await
        .context("cannot start the simulators on 127.0.0.1")?;
    let mut info = sims.connection_info();
    info["syspro_url"] = json!(sims.syspro.base_url());
    println!("{info}");
    // Standard input reaches its end when the bench closes it or dies.
    let _ = tokio::task::spawn_blocking(|| {
        let mut sink = Vec::new();
        let _ = std::io::stdin().lock().read_to_end(&mut sink);
    })
    .await;
    sims.shutdown().await;
    Ok(())
}

/// A serving child process; dropping it stops the simulators.
pub struct SimProcess {
    child: Child,
    /// Where they are.
    pub info: SimInfo,
}

impl SimProcess {
    /// Starts `ml-connector bench --serve-simulators` with the run's seed, size, latencies and
    /// faults, and waits for its first line.
    pub async fn start(args: &BenchArgs) -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("cannot locate the ml-connector binary")?;
        let mut child = Command::new(exe)
            .args(["bench", "--serve-simulators"])
            .args(["--orders", &args.orders.to_string()])
            .args(["--seed", &args.seed.to_string()])
            .args(["--latency-ms", &args.latency_ms.to_string()])
            .args(["--item-latency-ms", &args.item_latency_ms.to_string()])
            .args(["--faults", &args.faults])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the simulators process")?;
        let Some(stdout) = child.stdout.take() else {
            stop(&mut child);
            anyhow::bail!("the simulators process has no standard output");
        };
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await;
        let line = match line {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => {
                stop(&mut child);
                return Err(anyhow::Error::new(e).context("cannot read the simulators' first line"));
            }
            Err(e) => {
                stop(&mut child);
                return Err(anyhow::Error::new(e)
                    .context("reading the simulators' first line was interrupted"));
            }
        };
        match serde_json::from_str::<SimInfo>(line.trim()) {
            Ok(info) => Ok(Self { child, info }),
            Err(e) => {
                stop(&mut child);
                Err(anyhow::Error::new(e).context(format!(
                    "the simulators process printed {:?} instead of its connection JSON",
                    line.trim()
                )))
            }
        }
    }
}

fn stop(child: &mut Child) {
    // Closing standard input asks for a clean stop; the kill covers a child that hangs.
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}
