//! The `ml-connector` command.

fn main() {}
