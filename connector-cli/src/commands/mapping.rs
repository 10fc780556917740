//! `mapping check`: every SYSPRO code the mapping names, checked against SYSPRO, each problem with
//! the file and line of its setting.

use serde_json::json;

use super::ping::host_of;
use super::reference::{check_codes, code_refs, index_of};
use crate::context::{Context, select};
use crate::failure::{Reported, render};
use crate::wiring::syspro_client;

/// Runs `mapping check`.
pub async fn check(ctx: &Context, connection: Option<&str>) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let vault = ctx.vault().await?;
    let mut all_ok = true;
    let mut reports = Vec::new();
    for c in select(&config, connection)? {
        let refs = code_refs(&ctx.config_path, index_of(&config, c), c);
        let client = syspro_client(c, &vault, true).await?;
        let checks = check_codes(&client, &refs, ctx.clock.now().date())
            .await
            .map_err(|e| {
                anyhow::Error::new(e).context(format!(
                    "cannot check the mapping of connection {} against SYSPRO at {}",
                    c.name,
                    host_of(&c.syspro.enet_url)
                ))
            })?;
        if let Err(e) = client.close().await {
            tracing::warn!(connection = %c.name, error = %render(&anyhow::Error::new(e)), "SYSPRO logoff failed");
        }
        let failed: Vec<_> = checks.iter().filter(|k| !k.ok).collect();
        all_ok &= failed.is_empty();
        if !ctx.out.json {
            println!(
                "{} connection {}: {} code(s) checked, {} missing",
                ctx.out.mark(failed.is_empty()),
                c.name,
                checks.len(),
                failed.len()
            );
            for k in &failed {
                for r in refs.iter().filter(|r| r.kind == k.kind && r.code == k.code) {
                    println!(
                        "  {}: `{}`: {} does not exist in SYSPRO ({})",
                        r.location,
                        r.key_path,
                        k.title(),
                        k.detail
                    );
                }
            }
        }
        reports.push(json!({ "connection": c.name, "ok": failed.is_empty(), "codes": checks }));
    }
    if ctx.out.json {
        ctx.out
            .print_json(&json!({ "ok": all_ok, "connections": reports }))?;
    }
    if all_ok { Ok(()) } else { Err(Reported.into()) }
}
