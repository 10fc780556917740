//! The one error type of the example programs.

use connector_core::config::ConfigError;
use connector_core::engine::EngineError;
use connector_core::state::StoreError;

/// Why an example program stopped, split by the component that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExampleError {
    /// The in-process simulators could not start (usually no free port on 127.0.0.1).
    #[error("the simulators could not start")]
    Simulators(#[source] std::io::Error),
    /// The rendered connection configuration was refused.
    #[error("the example connection configuration is invalid")]
    Config(#[source] ConfigError),
    /// The engine could not be built or a cycle failed as a whole.
    #[error("the engine failed")]
    Engine(#[from] EngineError),
    /// The state store failed outside the engine.
    #[error("the state store failed")]
    Store(#[from] StoreError),
    /// A call of the Commerce SDK failed.
    #[error("Commerce {operation} failed")]
    Commerce {
        /// What was called.
        operation: &'static str,
        /// The SDK's error.
        #[source]
        source: adobe_commerce_client::Error,
    },
    /// A call of the SYSPRO SDK failed.
    #[error("SYSPRO {operation} failed")]
    Syspro {
        /// What was called.
        operation: &'static str,
        /// The SDK's error.
        #[source]
        source: syspro_client::Error,
    },
    /// The simulator's ledger inspection API could not be read.
    #[error("reading the simulated SYSPRO ledger ({path}) failed")]
    Ledger {
        /// The inspection path, e.g. `/__sim/journals`.
        path: &'static str,
        /// The HTTP error.
        #[source]
        source: reqwest::Error,
    },
    /// The ledger inspection API answered something this program does not understand.
    #[error("the simulated SYSPRO ledger answered an unexpected {field}: expected {expected}")]
    LedgerShape {
        /// The field at fault.
        field: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A scratch file or directory could not be written.
    #[error("{what} could not be written")]
    Io {
        /// What was being written.
        what: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A step's outcome was not what the program relies on.
    #[error("{0}")]
    Unexpected(String),
}
