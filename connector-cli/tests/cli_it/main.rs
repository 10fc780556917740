//! The `ml-connector` binary as a user runs it: bad input with its message and exit code, the files
//! a new installation starts from, and every command against the simulators on loopback.

mod basics;
mod bench;
mod demo;
mod engine;
mod reconcile;
mod secrets;
mod support;
mod workers;
