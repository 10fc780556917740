//! The `ml-connector` command: moves Adobe Commerce invoices and orders into SYSPRO as AR invoices
//! with balanced GL journals.
//!
//! The binary is thin: it parses arguments, wires the configuration, vault and state store to
//! `connector-core`, and prints. Exit codes: 0 success, 1 failure, 2 bad usage or configuration.

mod cli;
mod commands;
mod context;
mod failure;
mod output;
mod toml_lines;
mod wiring;

use std::process::ExitCode;

use clap::Parser as _;

use crate::cli::{Cli, LogFormat};
use crate::context::Context;

fn main() -> ExitCode {
    quiet_broken_pipe();
    let cli = Cli::parse();
    init_logging(cli.log_format, cli.verbose);
    let ctx = Context::from_cli(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return failure::report(
                &anyhow::Error::new(e).context("cannot start the async runtime"),
            );
        }
    };
    match runtime.block_on(commands::run(&ctx, &cli.command)) {
        Ok(()) => ExitCode::from(failure::OK),
        Err(error) => failure::report(&error),
    }
}

/// A reader that closes the pipe early (`ml-connector audit list | head`) ends the output; it is not
/// a crash worth a panic message.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("Broken pipe") {
            std::process::exit(i32::from(failure::FAILURE));
        }
        default(info);
    }));
}

/// Logs go to standard error, so standard output stays clean for tables and JSON. `RUST_LOG`
/// overrides the level chosen with `-v`.
fn init_logging(format: LogFormat, verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
