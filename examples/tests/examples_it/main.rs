//! Each example program's logic run against the in-process simulators on 127.0.0.1, with its
//! outcome checked on the simulated ledger and in the state store.

mod counting_store;
mod custom_mapper;
mod tour;
