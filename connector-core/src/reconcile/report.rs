//! Reconciliation reports as CSV and as one self-contained HTML page. Both are written as a
//! stream: the matched documents come from an iterator (e.g. read back from a spill file), so a
//! month of documents never has to sit in memory.

use std::io::{self, Write};

use rust_decimal::Decimal;

use super::{DocumentResult, Finding, Reconciliation, Totals};

/// The columns of [`csv_report`], one document per row.
pub const CSV_COLUMNS: &[&str] = &[
    "finding",
    "findings",
    "kind",
    "entity_id",
    "increment_id",
    "store",
    "currency",
    "date",
    "invoice",
    "commerce_amount",
    "syspro_amount",
    "expected_customer",
    "syspro_customer",
    "journal",
    "record_state",
    "detail",
    "admin_url",
];

/// A document as the text cells of one report row, in [`CSV_COLUMNS`] order.
pub fn row_cells(r: &DocumentResult) -> Vec<String> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let amount = |v: Option<Decimal>| v.map(|d| format!("{d:.2}")).unwrap_or_default();
    vec![
        r.finding.as_str().to_owned(),
        r.findings
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        opt(&r.kind),
        r.entity_id.map(|i| i.to_string()).unwrap_or_default(),
        opt(&r.increment_id),
        opt(&r.store),
        opt(&r.currency),
        opt(&r.date),
        opt(&r.invoice),
        amount(r.commerce_amount),
        amount(r.syspro_amount),
        opt(&r.expected_customer),
        opt(&r.syspro_customer),
        opt(&r.journal),
        opt(&r.record_state),
        r.detail.clone(),
        opt(&r.admin_url),
    ]
}

/// One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. A field that a
/// spreadsheet would read as a formula is prefixed with `'`.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@']) && text.parse::<Decimal>().is_err() {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn csv_line(out: &mut dyn Write, cells: &[String]) -> io::Result<()> {
    let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
    write!(out, "{}\r\n", line.join(","))
}

/// Writes a CSV with one row per document: exceptions first, then every matched document.
///
/// # Errors
/// Write errors, and the first error of `matched`.
pub fn csv_report(
    out: &mut dyn Write,
    reconciliation: &Reconciliation,
    matched: &mut dyn Iterator<Item = io::Result<DocumentResult>>,
) -> io::Result<()> {
    csv_line(
        out,
        &CSV_COLUMNS
            .iter()
            .map(|c| (*c).to_owned())
            .collect::<Vec<_>>(),
    )?;
    for r in &reconciliation.exceptions {
        csv_line(out, &row_cells(r))?;
    }
    for r in matched {
        csv_line(out, &row_cells(&r?))?;
    }
    Ok(())
}

/// Escapes text for HTML element content and attribute values.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A link only for `http`/`https` addresses; anything else is shown as text.
fn link(url: Option<&str>, label: &str) -> String {
    match url {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => {
            format!("<a href=\"{}\">{}</a>", escape_html(u), escape_html(label))
        }
        _ => escape_html(label),
    }
}

const STYLE: &str = "body{font:13px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em;color:#111}\
h1{font-size:20px;margin:0 0 .3em}h2{font-size:16px;margin:1.6em 0 .4em;border-bottom:1px solid #999}\
h3{font-size:14px;margin:1.2em 0 .3em}.verdict{font-size:15px;font-weight:600;padding:.6em .8em;\
border:2px solid}.ok{border-color:#1a7f37;color:#1a7f37}.bad{border-color:#b42318;color:#b42318}\
table{border-collapse:collapse;width:100%;margin:.3em 0}th,td{border:1px solid #bbb;padding:3px 6px;\
text-align:left;vertical-align:top}th{background:#eee}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.meta{color:#555}.note{font-style:italic}@media print{body{margin:0;font-size:10px}a{color:#000;text-decoration:none}\
h2{page-break-after:avoid}tr{page-break-inside:avoid}thead{display:table-header-group}.verdict{border-width:1px}}";

fn totals_table(
    out: &mut dyn Write,
    heading: &str,
    totals: &std::collections::BTreeMap<String, Totals>,
) -> io::Result<()> {
    write!(
        out,
        "<h3>{}</h3><table><thead><tr><th>{}</th><th>Documents</th>\
         <th>Of them credit memos</th><th>Matched</th><th>Exceptions</th><th>Commerce total (net)</th>\
         <th>SYSPRO total (net)</th><th>Difference</th></tr></thead><tbody>",
        escape_html(heading),
        escape_html(heading.trim_start_matches("Per ")),
    )?;
    for (key, t) in totals {
        write!(
            out,
            "<tr><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td>\
             <td class=n>{}</td><td class=n>{:.2}</td><td class=n>{:.2}</td><td class=n>{:.2}</td>\
             </tr>",
            escape_html(key),
            t.documents,
            t.credit_memos,
            t.matched,
            t.exceptions,
            t.commerce_amount,
            t.syspro_amount,
            t.syspro_amount - t.commerce_amount
        )?;
    }
    out.write_all(b"</tbody></table>")
}

const DOCUMENT_HEAD: &str = "<table><thead><tr><th>SYSPRO number</th><th>Kind</th>\
<th>Commerce</th><th>Store</th><th>Date</th><th>Commerce amount</th><th>SYSPRO amount</th>\
<th>Customer (mapped / SYSPRO)</th><th>Journal</th><th>Record</th><th>Detail</th></tr></thead><tbody>";

/// A person's name of a line's kind.
fn kind_label(r: &DocumentResult) -> &'static str {
    match (r.kind.as_deref(), r.finding) {
        (Some("credit_memo"), _) => "credit memo",
        (Some(_), _) => "invoice",
        (None, Finding::OrphanJournal) => "GL journal",
        (None, _) => "SYSPRO document",
    }
}

fn document_row(out: &mut dyn Write, r: &DocumentResult) -> io::Result<()> {
    let amount = |v: Option<Decimal>| v.map(|d| format!("{d:.2}")).unwrap_or_default();
    let commerce = r
        .increment_id
        .as_deref()
        .map(|id| link(r.admin_url.as_deref(), id))
        .unwrap_or_default();
    write!(
        out,
        "<tr><td>{}</td><td>{}</td><td>{commerce}</td><td>{}</td><td>{}</td><td class=n>{}</td>\
         <td class=n>{}</td><td>{} / {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape_html(r.invoice.as_deref().unwrap_or("")),
        kind_label(r),
        escape_html(r.store.as_deref().unwrap_or("")),
        escape_html(r.date.as_deref().unwrap_or("")),
        amount(r.commerce_amount),
        amount(r.syspro_amount),
        escape_html(r.expected_customer.as_deref().unwrap_or("")),
        escape_html(r.syspro_customer.as_deref().unwrap_or("")),
        escape_html(r.journal.as_deref().unwrap_or("")),
        escape_html(r.record_state.as_deref().unwrap_or("")),
        escape_html(&r.detail),
    )
}

/// Writes one self-contained HTML page (inline CSS, no scripts, no external resources) that a
/// finance person can open and print: the verdict and totals first, then the exceptions grouped
/// by finding with links to each document's Commerce admin page, then the matched documents.
///
/// # Errors
/// Write errors, and the first error of `matched`.
pub fn html_report(
    out: &mut dyn Write,
    reconciliation: &Reconciliation,
    matched: &mut dyn Iterator<Item = io::Result<DocumentResult>>,
) -> io::Result<()> {
    let r = reconciliation;
    let title = format!(
        "Reconciliation of {} from {} to {}",
        r.connection, r.range.from, r.range.to
    );
    write!(
        out,
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{}</title>\
         <style>{STYLE}</style></head><body><h1>{}</h1>\
         <p class=\"verdict {}\">{}</p>",
        escape_html(&title),
        escape_html(&title),
        if r.is_clean() { "ok" } else { "bad" },
        escape_html(&r.verdict())
    )?;
    write!(
        out,
        "<h2>Summary</h2><p class=meta>{} Commerce document(s), of them {} credit memo(s); {} \
         SYSPRO AR document(s) of this connection in the range; {} matched; {} exception(s).</p>",
        r.commerce_documents,
        r.commerce_credit_memos,
        r.syspro_documents,
        r.matched,
        r.exceptions.len()
    )?;
    for note in &r.notes {
        write!(out, "<p class=note>{}</p>", escape_html(note))?;
    }
    let counts = r.exception_counts();
    if !counts.is_empty() {
        out.write_all(b"<table><thead><tr><th>Finding</th><th>Documents</th></tr></thead><tbody>")?;
        for (finding, n) in &counts {
            write!(
                out,
                "<tr><td><a href=\"#{}\">{}</a></td><td class=n>{n}</td></tr>",
                finding.as_str(),
                escape_html(finding.title())
            )?;
        }
        out.write_all(b"</tbody></table>")?;
    }
    totals_table(out, "Per store", &r.by_store)?;
    totals_table(out, "Per currency", &r.by_currency)?;
    out.write_all(
        b"<h3>Per GL account</h3><table><thead><tr><th>GL account</th><th>Mapped</th>\
          <th>Posted</th><th>Difference</th></tr></thead><tbody>",
    )?;
    for (code, t) in &r.by_gl_account {
        write!(
            out,
            "<tr><td>{}</td><td class=n>{:.2}</td><td class=n>{:.2}</td><td class=n>{:.2}</td></tr>",
            escape_html(code),
            t.expected,
            t.posted,
            t.posted - t.expected
        )?;
    }
    out.write_all(
        b"</tbody></table><p class=meta>Positive amounts are debits, negative credits.</p>",
    )?;

    out.write_all(b"<h2>Exceptions</h2>")?;
    if r.exceptions.is_empty() {
        out.write_all(b"<p>None.</p>")?;
    }
    let mut current: Option<Finding> = None;
    for e in &r.exceptions {
        if current != Some(e.finding) {
            if current.is_some() {
                out.write_all(b"</tbody></table>")?;
            }
            write!(
                out,
                "<h3 id=\"{}\">{}</h3>{DOCUMENT_HEAD}",
                e.finding.as_str(),
                escape_html(e.finding.title())
            )?;
            current = Some(e.finding);
        }
        document_row(out, e)?;
    }
    if current.is_some() {
        out.write_all(b"</tbody></table>")?;
    }
    write!(out, "<h2>Matched ({})</h2>{DOCUMENT_HEAD}", r.matched)?;
    for m in matched {
        document_row(out, &m?)?;
    }
    out.write_all(b"</tbody></table></body></html>\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_text_and_refuses_script_links() {
        assert_eq!(
            escape_html("<b>\"O'Brien\" & Co</b>"),
            "&lt;b&gt;&quot;O&#39;Brien&quot; &amp; Co&lt;/b&gt;"
        );
        assert_eq!(link(Some("javascript:alert(1)"), "x<"), "x&lt;");
        assert_eq!(
            link(Some("https://shop/a?b=1&c=2"), "100"),
            "<a href=\"https://shop/a?b=1&amp;c=2\">100</a>"
        );
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(csv_field("-12.50"), "-12.50");
    }
}
