//! The command line: every command, option and its help text.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// Printed after the top-level help.
const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  failure (a check failed, a system was unreachable or refused, a stream could not be read,
     a record went dead, a wrong master key, a locked database, a port in use ...)
  2  bad usage or configuration (unknown option, missing or malformed configuration ...)
  3  the command ran, but records wait for a person: halted or dead records after `sync --once`
     or `replay`, documents that would halt in `sync --once --dry-run`

Environment:
  RUST_LOG                 log filter, e.g. info,connector_core=debug (--log-level wins over it)
  NO_COLOR                 no colours, even on a terminal
  ML_CONNECTOR_CONFIG      configuration file (instead of --config)
  ML_CONNECTOR_MASTER_KEY  master key of the vault (instead of the key file)
  ML_CONNECTOR_VAULT       vault file (instead of --vault)
  ML_CONNECTOR_KEY_FILE    master key file (instead of --key-file)";

/// Moves Adobe Commerce invoices and orders into SYSPRO as AR invoices with balanced GL journals.
#[derive(Debug, Parser)]
#[command(name = "ml-connector", version, after_help = EXIT_CODES, propagate_version = true)]
pub struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "ML_CONNECTOR_CONFIG",
        default_value = "ml-connector.toml",
        value_name = "PATH"
    )]
    pub config: PathBuf,

    /// The encrypted vault holding credentials [default: ml-connector.vault beside the
    /// configuration file].
    #[arg(long, global = true, env = "ML_CONNECTOR_VAULT", value_name = "PATH")]
    pub vault: Option<PathBuf>,

    /// The master key file of the vault, used when ML_CONNECTOR_MASTER_KEY is not set [default:
    /// ml-connector.key beside the configuration file].
    #[arg(
        long,
        global = true,
        env = "ML_CONNECTOR_KEY_FILE",
        value_name = "PATH"
    )]
    pub key_file: Option<PathBuf>,

    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,

    /// Format of log lines on standard error.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// Which log events to print: a level (error, warn, info, debug, trace) or filter directives
    /// such as "warn,connector_core=debug". Takes precedence over RUST_LOG, which takes precedence
    /// over -v [default: warn].
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Format of log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented configuration template with every key.
    Init(InitArgs),
    /// Create a new master key file (mode 0600) for the vault.
    Keygen,
    /// Store, list and delete connection credentials in the encrypted vault.
    #[command(subcommand)]
    Credentials(CredentialsCommand),
    /// Check every connection: Commerce and SYSPRO reachable, credentials accepted, permissions,
    /// and every mapped SYSPRO code present.
    Ping(ConnectionArgs),
    /// Check the mapping.
    #[command(subcommand)]
    Mapping(MappingCommand),
    /// Per connection: last and next cycle, watermarks, records by state, oldest halted record.
    Status,
    /// Read the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Run one poll cycle.
    Sync(SyncArgs),
    /// Process halted or dead records again with the current mapping.
    Replay(ReplayArgs),
    /// Run the service for every connection until SIGINT or SIGTERM.
    Run(RunArgs),
    /// Run the whole job against built-in simulators, with nothing configured.
    Demo(DemoArgs),
    /// Measure throughput, cost and correctness on a seeded backlog in simulators run in a separate
    /// process, optionally under a fault storm or with the connector killed at random moments.
    Bench(BenchArgs),
    /// Prove that every Commerce invoice of a date range is in SYSPRO once, for the right amount,
    /// on the right customer, with a matching GL journal (exit 3 when there are exceptions).
    Reconcile(ReconcileArgs),
}

/// `reconcile`.
#[derive(Debug, Args)]
pub struct ReconcileArgs {
    /// The connection to reconcile (required when several are configured).
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,
    /// First day of the range (YYYY-MM-DD, UTC), included.
    #[arg(long, value_name = "DATE")]
    pub from: String,
    /// Last day of the range (YYYY-MM-DD, UTC), included.
    #[arg(long, value_name = "DATE")]
    pub to: String,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Write the report to this file instead of standard output (the verdict still goes to
    /// standard error).
    #[arg(long, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

/// Format of a `reconcile` report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Verdict, totals and exceptions as text tables.
    Table,
    /// One row per document.
    Csv,
    /// Verdict, totals, exceptions and the matched documents.
    Json,
    /// One self-contained page to open and print.
    Html,
}

/// `init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to write the template [default: the --config path].
    #[arg(long, value_name = "PATH")]
    pub path: Option<PathBuf>,
    /// Replace an existing file.
    #[arg(long)]
    pub force: bool,
}

/// `credentials ...`.
#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Store a secret (prompted for without echo, or read from standard input).
    Set {
        /// The connection the secret belongs to.
        connection: String,
        /// The secret's name, as named in the configuration's `secrets` tables.
        name: String,
        /// Read the secret from standard input instead of prompting.
        #[arg(long)]
        from_stdin: bool,
    },
    /// List stored secrets: names and when they were set, never values.
    List,
    /// Delete a secret.
    Delete {
        /// The connection the secret belongs to.
        connection: String,
        /// The secret's name.
        name: String,
    },
}

/// Commands that act on all connections or one.
#[derive(Debug, Args)]
pub struct ConnectionArgs {
    /// Only this connection.
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,
}

/// `mapping ...`.
#[derive(Debug, Subcommand)]
pub enum MappingCommand {
    /// Check that every code the mapping names exists in SYSPRO, with the line of each setting.
    Check(ConnectionArgs),
}

/// `audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List records and their latest audit entry.
    List(AuditListArgs),
    /// The whole timeline of one record, with the documents exchanged (secrets redacted).
    Show {
        /// The record: CONNECTION/KIND/ID (e.g. shop/invoice/42), or KIND/ID with one connection.
        record: String,
    },
}

/// `audit list`.
#[derive(Debug, Args)]
pub struct AuditListArgs {
    /// Only records in this state (received, mapped, posting, posted, halted, retry_wait, dead).
    #[arg(long, value_name = "STATE")]
    pub status: Option<String>,
    /// Only this connection.
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,
    /// Only records changed since this instant (RFC 3339) or this long ago (e.g. 2h, 1d).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// At most this many records.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// `sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Run exactly one cycle and exit (the service loop is `ml-connector run`).
    #[arg(long, required = true)]
    pub once: bool,
    /// Only this connection.
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,
    /// Validate in SYSPRO (ValidateOnly) and print what would be posted; store, create and post
    /// nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `replay`.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["records", "all_halted"])))]
pub struct ReplayArgs {
    /// Records to replay: CONNECTION/KIND/ID, or KIND/ID with one connection.
    pub records: Vec<String>,
    /// Every halted and dead record (of --connection, or of every connection).
    #[arg(long)]
    pub all_halted: bool,
    /// Only this connection.
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Serve webhooks (POST /webhooks/CONNECTION), GET /healthz and GET /metrics here.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// This worker's name in leases and `status` (default: host name and process id). Each of
    /// several workers sharing one database needs its own.
    #[arg(long, value_name = "NAME", env = "ML_CONNECTOR_WORKER_ID")]
    pub worker_id: Option<String>,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Working folder for the demo's configuration, vault and database.
    #[arg(long, default_value = "ml-connector-demo", value_name = "DIR")]
    pub dir: PathBuf,
    /// Orders the simulated shop holds.
    #[arg(long, default_value_t = 300)]
    pub orders: usize,
    /// Seed of the simulated data.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// After the sync, replay every halted record with the current mapping (mapping.toml in the
    /// working folder).
    #[arg(long)]
    pub replay: bool,
}

/// `bench`.
#[derive(Debug, Args)]
// Numbers take a leading `-`, so that `--orders -5` is refused as a value of `--orders` (no
// negative number is one) rather than as an unknown option.
pub struct BenchArgs {
    /// Orders the simulated shop holds (the backlog to drain).
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    pub orders: usize,
    /// Service time of every call on both simulated systems, in milliseconds.
    #[arg(
        long,
        default_value_t = 20,
        value_name = "L",
        allow_negative_numbers = true
    )]
    pub latency_ms: u64,
    /// Extra SYSPRO service time per document item, in milliseconds.
    #[arg(
        long,
        default_value_t = 1,
        value_name = "M",
        allow_negative_numbers = true
    )]
    pub item_latency_ms: u64,
    /// Faults injected by the simulators: none, or storm (429s, 5xx, hangs, lost SYSPRO answers,
    /// invalidated sessions, unmappable orders).
    #[arg(long, default_value = "none", value_parser = ["none", "storm"])]
    pub faults: String,
    /// Run the connector as child processes and kill it (SIGKILL) this many times at random
    /// moments, restarting it each time.
    #[arg(
        long,
        default_value_t = 0,
        value_name = "K",
        allow_negative_numbers = true
    )]
    pub chaos_kills: u32,
    /// Seed of the simulated data, the faults and the kill moments.
    #[arg(long, default_value_t = 7, allow_negative_numbers = true)]
    pub seed: u64,
    /// Working folder for the configuration, vault and database [default: a new temporary folder,
    /// removed afterwards].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Give up when the backlog is not drained after this many seconds.
    #[arg(
        long,
        default_value_t = 3600,
        value_name = "SECONDS",
        allow_negative_numbers = true
    )]
    pub timeout_secs: u64,
    /// Instead of a run, measure the time per order of the steps every order needs (decoding,
    /// fingerprinting, a durable copy) on the same seeded orders: a floor no run goes below.
    #[arg(long, conflicts_with_all = ["faults", "chaos_kills", "dir", "timeout_secs", "latency_ms", "item_latency_ms"])]
    pub floor: bool,
    /// Internal: serve the simulators for a bench run in this process.
    #[arg(long, hide = true)]
    pub serve_simulators: bool,
    /// Internal: run the connector of a chaos run (configuration from --config) until drained.
    #[arg(long, hide = true)]
    pub worker: bool,
}
