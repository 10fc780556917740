//! `ping`: every connection's systems, credentials, permissions and mapped codes, each a tick or a
//! cross with the exact reason.

use adobe_commerce_client::{
    Error as CommerceError, SearchCriteria, TimeoutLayer, TransportErrorKind,
};
use connector_core::config::{CommerceAuthKind, Config, ConnectionConfig};
use connector_core::vault::FileVault;
use serde::Serialize;
use serde_json::json;

use super::reference::{CodeCheck, check_codes, code_refs, index_of};
use crate::context::{Context, select};
use crate::failure::{Reported, render};
use crate::wiring::{commerce_client, odata_client, syspro_client};

/// One check's verdict.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `commerce` or `syspro`.
    pub system: &'static str,
    /// What was checked.
    pub check: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found, or exactly why it failed.
    pub detail: String,
}

impl Check {
    fn new(
        system: &'static str,
        check: impl Into<String>,
        ok: bool,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            system,
            check: check.into(),
            ok,
            detail: detail.into(),
        }
    }
}

/// Runs `ping` for the selected connections.
pub async fn ping(ctx: &Context, connection: Option<&str>) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let vault = ctx.vault().await?;
    let mut all_ok = true;
    let mut reports = Vec::new();
    for c in select(&config, connection)? {
        let mut checks = commerce_checks(c, &vault).await;
        checks.extend(syspro_checks(ctx, &config, c, &vault).await);
        let ok = checks.iter().all(|c| c.ok);
        all_ok &= ok;
        if !ctx.out.json {
            print_connection(ctx, c, &checks);
        }
        reports.push(json!({ "connection": c.name, "ok": ok, "checks": checks }));
    }
    if ctx.out.json {
        ctx.out
            .print_json(&json!({ "ok": all_ok, "connections": reports }))?;
    }
    if all_ok { Ok(()) } else { Err(Reported.into()) }
}

fn print_connection(ctx: &Context, c: &ConnectionConfig, checks: &[Check]) {
    let out = &ctx.out;
    println!("{}", out.bold(&format!("Connection {}", c.name)));
    for (system, title) in [
        ("commerce", format!("Commerce {}", c.commerce.base_url)),
        (
            "syspro",
            format!(
                "SYSPRO {} (company {})",
                c.syspro.enet_url, c.syspro.company_id
            ),
        ),
    ] {
        println!("  {title}");
        let width = checks
            .iter()
            .filter(|k| k.system == system)
            .map(|k| k.check.chars().count())
            .max()
            .unwrap_or(0);
        for k in checks.iter().filter(|k| k.system == system) {
            let pad = " ".repeat(width - k.check.chars().count());
            println!("    {} {}{pad}  {}", out.mark(k.ok), k.check, k.detail);
        }
    }
}

/// `host:port` of a URL, for messages.
pub fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

async fn commerce_checks(c: &ConnectionConfig, vault: &FileVault) -> Vec<Check> {
    const SYS: &str = "commerce";
    let host = host_of(&c.commerce.base_url).to_owned();
    let client = match commerce_client(c, vault, true).await {
        Ok(client) => client,
        Err(e) => {
            return vec![Check::new(
                SYS,
                "credentials in the vault",
                false,
                render(&e),
            )];
        }
    };
    let auth = match c.commerce.auth.kind {
        CommerceAuthKind::Oauth1 => "OAuth 1.0a",
        CommerceAuthKind::Bearer => "bearer token",
        CommerceAuthKind::Ims => "Adobe IMS",
    };
    let mut checks = Vec::new();
    let criteria = || SearchCriteria::new().page_size(1);
    let first = client
        .orders()
        .search(criteria())
        .send()
        .await
        .map(|p| p.total_count);
    match first {
        Ok(total) => {
            checks.push(Check::new(
                SYS,
                "reachable",
                true,
                format!("{host} answered"),
            ));
            checks.push(Check::new(SYS, "credentials accepted", true, auth));
            checks.push(Check::new(
                SYS,
                "read orders",
                true,
                visible(total, "orders"),
            ));
        }
        Err(e) => {
            let (stage, detail) = commerce_failure(&host, e);
            checks.push(Check::new(
                SYS,
                "reachable",
                stage > Stage::Reach,
                if stage > Stage::Reach {
                    format!("{host} answered")
                } else {
                    detail.clone()
                },
            ));
            if stage > Stage::Reach {
                checks.push(Check::new(
                    SYS,
                    "credentials accepted",
                    stage > Stage::Auth,
                    if stage > Stage::Auth {
                        auth.to_owned()
                    } else {
                        detail.clone()
                    },
                ));
            }
            if stage > Stage::Auth {
                checks.push(Check::new(SYS, "read orders", false, detail));
            }
            if stage <= Stage::Auth {
                return checks;
            }
        }
    }
    let invoices = client
        .invoices()
        .search(criteria())
        .send()
        .await
        .map(|p| p.total_count);
    checks.push(match invoices {
        Ok(total) => Check::new(SYS, "read invoices", true, visible(total, "invoices")),
        Err(e) => Check::new(SYS, "read invoices", false, commerce_failure(&host, e).1),
    });
    let customers = client
        .customers()
        .search(criteria())
        .send()
        .await
        .map(|p| p.total_count);
    checks.push(match customers {
        Ok(total) => Check::new(SYS, "read customers", true, visible(total, "customers")),
        Err(e) => Check::new(SYS, "read customers", false, commerce_failure(&host, e).1),
    });
    checks
}

fn visible(total: Option<u64>, what: &str) -> String {
    total.map_or_else(
        || format!("{what} readable"),
        |n| format!("{n} {what} visible"),
    )
}

/// How far a failed Commerce call got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// The host could not be reached.
    Reach,
    /// The host answered but refused the credentials.
    Auth,
    /// The credentials were accepted; the call itself failed.
    Call,
}

fn commerce_failure(host: &str, error: CommerceError) -> (Stage, String) {
    let stage = match &error {
        CommerceError::Transport {
            kind: TransportErrorKind::Connect,
            ..
        }
        | CommerceError::Timeout {
            layer: TimeoutLayer::Connect,
            ..
        } => Stage::Reach,
        CommerceError::Transport { .. } | CommerceError::Timeout { .. } => Stage::Reach,
        CommerceError::Auth(_) => Stage::Auth,
        CommerceError::Api(api) if api.status == 401 => Stage::Auth,
        _ => Stage::Call,
    };
    let detail = match (&stage, &error) {
        (Stage::Reach, _) => format!(
            "cannot reach {host}: {}",
            render(&anyhow::Error::new(error))
        ),
        (_, CommerceError::Api(api)) => {
            format!("Commerce answered HTTP {}: {}", api.status, api.message)
        }
        (_, _) => format!("Commerce: {}", render(&anyhow::Error::new(error))),
    };
    (stage, detail)
}

async fn syspro_checks(
    ctx: &Context,
    config: &Config,
    c: &ConnectionConfig,
    vault: &FileVault,
) -> Vec<Check> {
    const SYS: &str = "syspro";
    let host = host_of(&c.syspro.enet_url).to_owned();
    let client = match syspro_client(c, vault, true).await {
        Ok(client) => client,
        Err(e) => {
            return vec![Check::new(
                SYS,
                "credentials in the vault",
                false,
                render(&e),
            )];
        }
    };
    let mut checks = Vec::new();
    match client.get_version().await {
        Ok(version) => {
            checks.push(Check::new(
                SYS,
                "reachable",
                true,
                format!("{host} answered"),
            ));
            checks.push(Check::new(
                SYS,
                "e.net version",
                true,
                version.trim().to_owned(),
            ));
        }
        Err(e) => {
            checks.push(Check::new(
                SYS,
                "reachable",
                false,
                syspro_failure(&host, e),
            ));
            return checks;
        }
    }
    if let Err(e) = client.get_logon_profile().await {
        checks.push(Check::new(SYS, "logon", false, syspro_failure(&host, e)));
        return checks;
    }
    checks.push(Check::new(
        SYS,
        "logon",
        true,
        format!(
            "operator {} on company {}",
            c.syspro.operator, c.syspro.company_id
        ),
    ));
    match odata_client(c, vault).await {
        Ok(None) => {}
        Ok(Some(odata)) => {
            let read = odata.table("GenMaster").top(1).fetch_all().await;
            checks.push(match read {
                Ok(_) => Check::new(
                    SYS,
                    "OData authentication",
                    true,
                    format!("{} accepted", c.syspro.operator),
                ),
                Err(e) => Check::new(
                    SYS,
                    "OData authentication",
                    false,
                    syspro_failure(
                        host_of(c.syspro.odata_url.as_deref().unwrap_or_default()),
                        e,
                    ),
                ),
            });
        }
        Err(e) => checks.push(Check::new(SYS, "OData authentication", false, render(&e))),
    }
    let refs = code_refs(&ctx.config_path, index_of(config, c), c);
    match check_codes(&client, &refs, ctx.clock.now().date()).await {
        Ok(codes) => checks.extend(codes.iter().map(code_check)),
        Err(e) => checks.push(Check::new(
            SYS,
            "mapped codes",
            false,
            syspro_failure(&host, e),
        )),
    }
    checks.push(match client.close().await {
        Ok(()) => Check::new(SYS, "logoff", true, "session closed"),
        Err(e) => Check::new(SYS, "logoff", false, syspro_failure(&host, e)),
    });
    checks
}

fn code_check(k: &CodeCheck) -> Check {
    let detail = if k.ok {
        k.detail.clone()
    } else {
        format!("{} ({})", k.detail, k.settings.join(", "))
    };
    Check::new("syspro", k.title(), k.ok, detail)
}

fn syspro_failure(host: &str, error: syspro_client::Error) -> String {
    use syspro_client::Error as E;
    match &error {
        E::Connect { .. } | E::Timeout { .. } | E::Transport { .. } => {
            format!(
                "cannot reach {host}: {}",
                render(&anyhow::Error::new(error))
            )
        }
        E::LogonFailed { message } => format!("SYSPRO refused the logon: {message}"),
        _ => format!("SYSPRO: {}", render(&anyhow::Error::new(error))),
    }
}
