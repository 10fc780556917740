//! Posts one ARSTIN document (AR invoices, credit or debit notes) read from a JSON file and
//! prints SYSPRO's parsed answer as JSON.
//!
//! ```text
//! export SYSPRO_ENET_URL=… SYSPRO_COMPANY_ID=… SYSPRO_OPERATOR=… SYSPRO_OPERATOR_PASSWORD=…
//! cargo run -p syspro-client --example post-invoice -- \
//!     --input syspro-client/examples/ar-invoice.json --validate-only
//! ```
//!
//! The file is an `ArInvoicePosting` (see `examples/ar-invoice.json`); unknown fields are refused,
//! because SYSPRO itself would silently ignore a misspelled element. `--validate-only` sets
//! `ValidateOnly=Y`, a dry run that posts nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use syspro_client::bo::ArInvoicePosting;
use syspro_client::{EnetConfig, SysproClient};

/// Post an AR invoice document to SYSPRO with ARSTIN.
#[derive(Parser)]
struct Args {
    /// JSON file holding the ArInvoicePosting document.
    #[arg(long)]
    input: PathBuf,
    /// Only validate (ValidateOnly=Y); nothing is posted.
    #[arg(long)]
    validate_only: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(success) if success => ExitCode::SUCCESS,
        // SYSPRO answered but rejected at least one document; the details are printed.
        Ok(_) => ExitCode::from(2),
        Err(error) => {
            let message = error.to_string();
            eprintln!(
                "post-invoice: {}",
                message.split_whitespace().collect::<Vec<_>>().join(" ")
            );
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<bool, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(&args.input)
        .map_err(|e| format!("cannot read {}: {e}", args.input.display()))?;
    let mut posting: ArInvoicePosting = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not an ArInvoicePosting: {e}", args.input.display()))?;
    if args.validate_only {
        posting.parameters.validate_only = true;
    }
    // Fail on bad input before logging on.
    posting.validate()?;

    let client = SysproClient::new(EnetConfig::from_env()?)?;
    let result = client.post_ar_invoices(&posting).await;
    let closed = client.close().await;
    let result = result?;
    closed?;

    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(result.is_success())
}
