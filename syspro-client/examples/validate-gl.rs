//! Validates GL codes against SYSPRO with the GENQGL business object.
//!
//! ```text
//! export SYSPRO_ENET_URL=http://erp01:20003/SYSPROWCFService/Rest
//! export SYSPRO_COMPANY_ID=EDU1 SYSPRO_OPERATOR=ADMIN SYSPRO_OPERATOR_PASSWORD=…
//! export SYSPRO_COMPANY_PASSWORD=…   # optional
//! cargo run -p syspro-client --example validate-gl -- 00-4010 00-2200
//! ```
//!
//! Prints one line per code: `CODE<TAB>valid<TAB>description` or `CODE<TAB>invalid<TAB>SYSPRO's
//! message`. Logs on once, logs off at the end, and exits non-zero with a one-line error when
//! SYSPRO cannot be reached or refuses the logon.

use std::process::ExitCode;

use clap::Parser;
use syspro_client::{EnetConfig, Error, SysproClient};

/// Validate GL codes with SYSPRO's GENQGL business object.
#[derive(Parser)]
struct Args {
    /// GL codes to validate, e.g. 00-4010.
    #[arg(required = true)]
    ledger_codes: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("validate-gl: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), Error> {
    let client = SysproClient::new(EnetConfig::from_env()?)?;
    let verdicts = client.validate_gl_codes(&args.ledger_codes).await;
    // Log off whatever happened, so the licence seat is released; the first error wins.
    let closed = client.close().await;
    let verdicts = verdicts?;
    closed?;
    for verdict in verdicts {
        println!("{verdict}");
    }
    Ok(())
}

fn one_line(error: &Error) -> String {
    error
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}
