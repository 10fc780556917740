//! How a failed command is reported: one paragraph on standard error (or one JSON log object with
//! `--log-format json`), no backtrace, and an exit code that tells bad usage or configuration (2)
//! apart from a failure at run time (1) and from a run that ended well but left records waiting for
//! a person (3).

use std::fmt;
use std::process::ExitCode;

use connector_core::config::ConfigError;
use connector_core::state::StoreError;
use connector_core::vault::VaultError;

use crate::output::Log;

/// Exit code of a successful run.
pub const OK: u8 = 0;
/// Exit code of a failure at run time: a check failed, a system refused or could not be reached.
pub const FAILURE: u8 = 1;
/// Exit code of bad usage or configuration.
pub const USAGE: u8 = 2;
/// Exit code of a command that ran to its end but left records waiting for a person: halted (or
/// dead) records after `sync --once` or `replay`, documents that would halt in a dry run. Scripts
/// can tell "the ledger is complete" (0) from "someone must look at the error inbox" (3).
pub const ATTENTION: u8 = 3;

/// A mistake in how the command was called or configured; exits with [`USAGE`].
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// A [`UsageError`] as an `anyhow::Error`.
pub fn usage(message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(UsageError(message.into()))
}

/// A command that ran to its end but found problems it already printed (a failed check, halted
/// records); exits with [`FAILURE`] without another message.
#[derive(Debug)]
pub struct Reported;

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("problems were reported above")
    }
}

impl std::error::Error for Reported {}

/// A command that ran to its end and printed its results, but records wait for a person (halted or
/// dead); exits with [`ATTENTION`] without another message.
#[derive(Debug)]
pub struct NeedsAttention;

impl fmt::Display for NeedsAttention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("records wait for a person (listed above)")
    }
}

impl std::error::Error for NeedsAttention {}

/// The exit code for `error`.
pub fn exit_code(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<NeedsAttention>() {
            return ATTENTION;
        }
        if cause.is::<UsageError>() || cause.is::<ConfigError>() {
            return USAGE;
        }
        if let Some(vault) = cause.downcast_ref::<VaultError>() {
            return match vault {
                VaultError::NoKey { .. }
                | VaultError::InvalidKey { .. }
                | VaultError::InvalidName { .. }
                | VaultError::KeyFileExists { .. } => USAGE,
                _ => FAILURE,
            };
        }
        if let Some(StoreError::InvalidName { .. }) = cause.downcast_ref::<StoreError>() {
            return USAGE;
        }
    }
    FAILURE
}

/// Prints `error` as one paragraph (causes joined by `: `) and returns its exit code. With
/// `--log-format json` the paragraph is one JSON object, like every other line on standard error.
pub fn report(error: &anyhow::Error, log: &Log) -> ExitCode {
    let code = exit_code(error);
    if !error
        .chain()
        .any(|cause| cause.is::<Reported>() || cause.is::<NeedsAttention>())
    {
        log.error(&render(error), code);
    }
    ExitCode::from(code)
}

/// The error and its causes on one line, each cause once (a layer that repeats its cause's text in
/// its own message is not repeated).
pub fn render(error: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_errors_exit_with_two_and_others_with_one() {
        assert_eq!(exit_code(&usage("bad")), USAGE);
        assert_eq!(exit_code(&anyhow::anyhow!("down")), FAILURE);
        let wrapped = usage("inner").context("outer");
        assert_eq!(exit_code(&wrapped), USAGE);
        assert_eq!(exit_code(&anyhow::Error::new(NeedsAttention)), ATTENTION);
        assert_eq!(exit_code(&anyhow::Error::new(Reported)), FAILURE);
    }

    #[test]
    fn render_joins_causes_without_repeating_them() {
        let error = anyhow::anyhow!("disk full").context("could not write x");
        assert_eq!(render(&error), "could not write x: disk full");
        let repeated = anyhow::anyhow!("disk full").context("could not write x: disk full");
        assert_eq!(render(&repeated), "could not write x: disk full");
    }
}
