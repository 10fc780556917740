//! Engine scenarios against the in-process simulators on 127.0.0.1.

mod crash;
mod features;
mod scenarios;
mod support;
