//! The ml-connector sync engine.
