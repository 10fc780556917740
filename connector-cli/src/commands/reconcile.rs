//! `reconcile`: proves that every Commerce invoice (and credit memo, when the connection posts
//! them) of a date range is in SYSPRO once, for the right amount, on the right customer, with a
//! matching GL journal, and that no GL journal with the connector's reference is left without its
//! document; prints a table, CSV, JSON or one self-contained HTML page.
//!
//! Matched documents are written to a spill file as they are found and read back when the report
//! is written, so the report's memory does not grow with the range. Exit codes: 0 everything
//! matches, 3 exceptions were found, 1 the reconciliation could not be completed.

use std::fs::File;
use std::io::{self, BufRead as _, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;
use connector_core::config::ConnectionConfig;
use connector_core::mapping::DefaultMapper;
use connector_core::reconcile::{
    DateRange, DocumentResult, LedgerReader, Reconciler, Reconciliation, csv_report, html_report,
};
use connector_core::state::StateStore;
use connector_core::vault::SecretStore;
use syspro_client::{ODataClient, ODataConfig};
use time::Date;

use crate::cli::{ReconcileArgs, ReportFormat};
use crate::context::{Context, connection_name, select};
use crate::failure::{NeedsAttention, usage};
use crate::output::table;
use crate::wiring::{commerce_client, syspro_client};

/// Runs `reconcile`.
pub async fn reconcile(ctx: &Context, args: &ReconcileArgs) -> anyhow::Result<()> {
    let from = parse_date("--from", &args.from)?;
    let to = parse_date("--to", &args.to)?;
    let range = DateRange::new(from, to).map_err(|e| usage(e.to_string()))?;
    let format = if ctx.out.json && args.format == ReportFormat::Table {
        ReportFormat::Json
    } else {
        args.format
    };
    let config = ctx.config()?;
    let selected = select(&config, args.connection.as_deref())?;
    let [c] = selected.as_slice() else {
        return Err(usage(
            "several connections are configured: name the one to reconcile with --connection",
        ));
    };
    if c.target == connector_core::config::PostingTarget::SalesOrder {
        return Err(usage(format!(
            "connection {} has target = \"sales_order\": its postings are SYSPRO sales orders, and reconcile compares AR invoices and GL journals",
            c.name
        )));
    }
    let vault: Arc<dyn SecretStore> = Arc::new(ctx.vault().await?);
    let store: Arc<dyn StateStore> = Arc::new(ctx.store(&config).await?);

    let (ledger, session) = match odata(c, vault.as_ref()).await? {
        Some(odata) => (LedgerReader::OData(odata), None),
        None => {
            let enet = syspro_client(c, vault.as_ref(), false).await?;
            (LedgerReader::Enet(enet.clone()), Some(enet))
        }
    };
    let reconciler = Reconciler::new(
        Arc::new((*c).clone()),
        commerce_client(c, vault.as_ref(), false).await?,
        ledger,
        store,
        Arc::new(DefaultMapper::for_connection(c)),
    );
    let mut spill = Spill::create(&c.name)?;
    let result = {
        let writer = &mut spill;
        let mut on_matched = |line: &DocumentResult| writer.push(line).map_err(|e| e.to_string());
        reconciler.run(range, &mut on_matched).await
    };
    if let Some(session) = session {
        let _ = session.close().await;
    }
    let result =
        result.with_context(|| format!("reconciliation of connection {} failed", c.name))?;
    let mut matched = spill.finish()?;

    match &args.output {
        Some(path) => {
            let file = File::create(path)
                .with_context(|| format!("cannot create the report file {}", path.display()))?;
            let mut out = BufWriter::new(file);
            write_report(ctx, format, &result, &mut matched, &mut out)?;
            out.flush()
                .with_context(|| format!("cannot write the report file {}", path.display()))?;
            // The verdict still reaches the person who ran the command.
            eprintln!("{}", result.verdict());
        }
        None => {
            let stdout = io::stdout();
            let mut out = BufWriter::new(stdout.lock());
            write_report(ctx, format, &result, &mut matched, &mut out)?;
            out.flush()?;
        }
    }
    if result.is_clean() {
        Ok(())
    } else {
        Err(NeedsAttention.into())
    }
}

fn parse_date(flag: &str, text: &str) -> anyhow::Result<Date> {
    Date::parse(
        text.trim(),
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| {
        usage(format!(
            "{flag} {text:?} is not a date; expected YYYY-MM-DD"
        ))
    })
}

/// The OData client of `c` for long reads (no row cap: the reconciler streams every row).
async fn odata(
    c: &ConnectionConfig,
    vault: &dyn SecretStore,
) -> anyhow::Result<Option<ODataClient>> {
    let (Some(url), Some(secret)) = (&c.syspro.odata_url, &c.syspro.secrets.odata_password) else {
        return Ok(None);
    };
    let name = connection_name(&c.name)?;
    let password = vault.require(&name, secret.as_str()).await?;
    let config = ODataConfig::builder(url, &c.syspro.operator, password)
        .max_rows(u64::MAX)
        .build()
        .with_context(|| format!("invalid OData settings of connection {}", c.name))?;
    Ok(Some(ODataClient::new(config)?))
}

fn write_report(
    ctx: &Context,
    format: ReportFormat,
    result: &Reconciliation,
    matched: &mut Matched,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match format {
        ReportFormat::Csv => csv_report(out, result, matched)?,
        ReportFormat::Html => html_report(out, result, matched)?,
        ReportFormat::Json => {
            // Streamed by hand so the matched list is never held in memory.
            write!(
                out,
                "{{\"verdict\":{},\"clean\":{},\"reconciliation\":{},\"matched_documents\":[",
                serde_json::to_string(&result.verdict())?,
                result.is_clean(),
                serde_json::to_string(result)?
            )?;
            for (n, line) in matched.enumerate() {
                if n > 0 {
                    out.write_all(b",")?;
                }
                serde_json::to_writer(&mut *out, &line?)?;
            }
            out.write_all(b"]}\n")?;
        }
        ReportFormat::Table => write_table(ctx, result, out)?,
    }
    Ok(())
}

fn write_table(ctx: &Context, r: &Reconciliation, out: &mut dyn Write) -> io::Result<()> {
    let verdict = if r.is_clean() {
        ctx.out.green(&r.verdict())
    } else {
        ctx.out.red(&r.verdict())
    };
    writeln!(out, "{verdict}")?;
    writeln!(
        out,
        "Connection {}, {} to {}: {} Commerce document(s) ({} credit memo(s)), {} SYSPRO AR \
         document(s) of this connection, {} matched, {} exception(s)",
        r.connection,
        r.range.from,
        r.range.to,
        r.commerce_documents,
        r.commerce_credit_memos,
        r.syspro_documents,
        r.matched,
        r.exceptions.len()
    )?;
    for note in &r.notes {
        writeln!(out, "{note}")?;
    }
    for (heading, totals) in [("STORE", &r.by_store), ("CURRENCY", &r.by_currency)] {
        let rows: Vec<Vec<String>> = totals
            .iter()
            .map(|(key, t)| {
                vec![
                    key.clone(),
                    t.documents.to_string(),
                    t.credit_memos.to_string(),
                    t.matched.to_string(),
                    t.exceptions.to_string(),
                    format!("{:.2}", t.commerce_amount),
                    format!("{:.2}", t.syspro_amount),
                ]
            })
            .collect();
        writeln!(out)?;
        write!(
            out,
            "{}",
            table(
                &[
                    heading,
                    "DOCUMENTS",
                    "CREDIT MEMOS",
                    "MATCHED",
                    "EXCEPTIONS",
                    "COMMERCE",
                    "SYSPRO"
                ],
                &rows
            )
        )?;
    }
    let rows: Vec<Vec<String>> = r
        .by_gl_account
        .iter()
        .map(|(code, t)| {
            vec![
                code.clone(),
                format!("{:.2}", t.expected),
                format!("{:.2}", t.posted),
                format!("{:.2}", t.posted - t.expected),
            ]
        })
        .collect();
    writeln!(out)?;
    write!(
        out,
        "{}",
        table(&["GL ACCOUNT", "MAPPED", "POSTED", "DIFFERENCE"], &rows)
    )?;
    if !r.exceptions.is_empty() {
        let rows: Vec<Vec<String>> = r
            .exceptions
            .iter()
            .map(|e| {
                vec![
                    e.finding.as_str().to_owned(),
                    e.invoice.clone().unwrap_or_default(),
                    e.journal.clone().unwrap_or_default(),
                    e.increment_id.clone().unwrap_or_default(),
                    e.commerce_amount
                        .map(|a| format!("{a:.2}"))
                        .unwrap_or_default(),
                    e.syspro_amount
                        .map(|a| format!("{a:.2}"))
                        .unwrap_or_default(),
                    e.record_state.clone().unwrap_or_default(),
                    e.detail.clone(),
                ]
            })
            .collect();
        writeln!(out)?;
        write!(
            out,
            "{}",
            table(
                &[
                    "FINDING", "INVOICE", "JOURNAL", "COMMERCE", "AMOUNT", "SYSPRO", "RECORD",
                    "DETAIL"
                ],
                &rows
            )
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{} matched document(s) not listed; --format csv, json or html lists them",
        r.matched
    )
}

/// Matched documents on disk, one JSON object per line, removed when dropped.
struct Spill {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl Spill {
    fn create(connection: &str) -> anyhow::Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let safe: String = connection
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect();
        let path = std::env::temp_dir().join(format!(
            "ml-connector-reconcile-{safe}-{}-{}.jsonl",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create the temporary file {}", path.display()))?;
        Ok(Self {
            path,
            writer: BufWriter::new(file),
        })
    }

    fn push(&mut self, line: &DocumentResult) -> io::Result<()> {
        serde_json::to_writer(&mut self.writer, line)?;
        self.writer.write_all(b"\n")
    }

    fn finish(mut self) -> anyhow::Result<Matched> {
        self.writer.flush()?;
        let file = File::open(&self.path)?;
        let path = std::mem::take(&mut self.path);
        Ok(Matched {
            lines: BufReader::new(file),
            path,
        })
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        if !self.path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The matched documents read back from the spill file, in the order they were found.
struct Matched {
    lines: BufReader<File>,
    path: PathBuf,
}

impl Iterator for Matched {
    type Item = io::Result<DocumentResult>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut line = String::new();
        match self.lines.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(serde_json::from_str(&line).map_err(io::Error::other)),
            Err(e) => Some(Err(e)),
        }
    }
}

impl Drop for Matched {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}
