//! `init` and `keygen`: the files a new installation starts from.

use std::io::Write as _;

use anyhow::Context as _;
use serde_json::json;

use crate::cli::InitArgs;
use crate::context::Context;
use crate::failure::usage;

/// The configuration template: every key, commented, with its default.
pub const TEMPLATE: &str =
    include_str!("../../../connector-core/examples/ml-connector.example.toml");

/// Writes the template; refuses to replace a file unless `--force`.
pub fn init(ctx: &Context, args: &InitArgs) -> anyhow::Result<()> {
    let path = args.path.clone().unwrap_or_else(|| ctx.config_path.clone());
    if path.exists() && !args.force {
        return Err(usage(format!(
            "{} already exists; pass --force to replace it",
            path.display()
        )));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the directory {}", parent.display()))?;
    }
    let mut file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(TEMPLATE.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    if ctx.out.json {
        return ctx.out.print_json(&json!({ "written": path }));
    }
    println!("Wrote {}.", path.display());
    println!("Next steps:");
    println!("  1. Edit it: one [[connection]] per Commerce site and SYSPRO company.");
    println!("  2. ml-connector keygen            (creates the vault's master key)");
    println!(
        "  3. ml-connector credentials set CONNECTION NAME   (for every name in the `secrets` tables)"
    );
    println!("  4. ml-connector ping               (checks both systems and the mapping)");
    Ok(())
}

/// Creates the master key file (mode 0600); never replaces one.
pub fn keygen(ctx: &Context) -> anyhow::Result<()> {
    let key = connector_core::vault::keygen(&ctx.key_file)?;
    if ctx.out.json {
        return ctx
            .out
            .print_json(&json!({ "key_file": ctx.key_file, "key_id": key.id() }));
    }
    println!(
        "Wrote the master key to {} (mode 0600, key id {}).",
        ctx.key_file.display(),
        key.id()
    );
    println!(
        "Keep a copy somewhere safe: without it the vault cannot be read. A service can take it from ML_CONNECTOR_MASTER_KEY instead."
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_is_a_valid_configuration() {
        connector_core::config::Config::from_toml_str(TEMPLATE, "template").unwrap();
    }
}
