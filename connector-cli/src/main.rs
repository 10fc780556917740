//! The `ml-connector` command: moves Adobe Commerce invoices and orders into SYSPRO as AR invoices
//! with balanced GL journals.
//!
//! The binary is thin: it parses arguments, wires the configuration, vault and state store to
//! `connector-core`, and prints. Exit codes: 0 success, 1 failure, 2 bad usage or configuration,
//! 3 the command ran but records wait for a person.

mod cli;
mod commands;
mod context;
mod failure;
mod output;
mod toml_lines;
mod wiring;

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser as _;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, LogFormat};
use crate::context::Context;
use crate::output::Log;

fn main() -> ExitCode {
    quiet_broken_pipe();
    let cli = Cli::parse();
    let ctx = Context::from_cli(&cli);
    if let Err(error) = init_logging(&cli, &ctx.log) {
        return failure::report(&error, &ctx.log);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return failure::report(
                &anyhow::Error::new(e).context("cannot start the async runtime"),
                &ctx.log,
            );
        }
    };
    match runtime.block_on(commands::run(&ctx, &cli.command)) {
        Ok(()) => ExitCode::from(failure::OK),
        Err(error) => failure::report(&error, &ctx.log),
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

/// Logs go to standard error, so standard output stays clean for tables and JSON. The filter is
/// `--log-level`, else `RUST_LOG`, else the level chosen with `-v` (warnings by default); it applies
/// to every command, and to the libraries underneath (`RUST_LOG=trace` shows every HTTP call, with
/// secrets masked by the clients).
fn init_logging(cli: &Cli, log: &Log) -> anyhow::Result<()> {
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = if let Some(directives) = &cli.log_level {
        EnvFilter::try_new(directives).map_err(|e| {
            failure::usage(format!(
                "--log-level {directives:?} is not a log filter ({e}); expected a level (error, warn, info, debug, trace) or directives such as \"warn,connector_core=debug\""
            ))
        })?
    } else {
        match std::env::var("RUST_LOG") {
            Ok(directives) if !directives.trim().is_empty() => EnvFilter::try_new(&directives)
                .unwrap_or_else(|e| {
                    log.warn(&format!(
                        "RUST_LOG {directives:?} is not a log filter ({e}); using {level:?}"
                    ));
                    EnvFilter::new(level)
                }),
            _ => EnvFilter::new(level),
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match cli.log_format {
        LogFormat::Text => builder
            .with_ansi(output::colour_allowed(std::io::stderr().is_terminal()))
            .try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}
