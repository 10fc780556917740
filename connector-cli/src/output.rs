//! Printing: aligned tables for people, JSON for machines, colour only on a terminal; and the few
//! lines for people on standard error, which follow `--log-format`.

use std::io::{IsTerminal, Write as _};
use std::sync::Arc;

use connector_core::clock::Clock;
use serde::Serialize;
use serde_json::json;

use crate::cli::LogFormat;

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Print JSON instead of tables.
    pub json: bool,
    /// Standard output is a terminal that gets ANSI colours.
    pub color: bool,
}

impl Output {
    /// JSON when asked for; colour when standard output is a terminal and `NO_COLOR` is unset.
    pub fn new(json: bool) -> Self {
        let color = !json && colour_allowed(std::io::stdout().is_terminal());
        Self { json, color }
    }

    /// Prints `value` as one JSON document.
    pub fn print_json<T: Serialize>(&self, value: &T) -> anyhow::Result<()> {
        println!("{}", serde_json::to_string_pretty(value)?);
        Ok(())
    }

    /// `text` in green on a terminal.
    pub fn green(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// `text` in red on a terminal.
    pub fn red(&self, text: &str) -> String {
        self.paint("31", text)
    }

    /// `text` in yellow on a terminal.
    pub fn yellow(&self, text: &str) -> String {
        self.paint("33", text)
    }

    /// `text` in bold on a terminal.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// A tick or a cross.
    pub fn mark(&self, ok: bool) -> String {
        if ok {
            self.green("✔")
        } else {
            self.red("✘")
        }
    }

    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// Whether `stream_is_terminal` may get ANSI colours: only a terminal, and only while `NO_COLOR`
/// is unset (<https://no-color.org>).
pub fn colour_allowed(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// The lines a command writes for people on standard error (warnings, the service's start and stop,
/// the final error). With `--log-format json` each is one JSON object shaped like the log events, so
/// a log collector never meets a plain line.
#[derive(Debug, Clone)]
pub struct Log {
    format: LogFormat,
    clock: Arc<dyn Clock>,
}

impl Log {
    /// Lines in `format`, stamped by `clock`.
    pub fn new(format: LogFormat, clock: Arc<dyn Clock>) -> Self {
        Self { format, clock }
    }

    /// Whether lines are JSON objects.
    pub fn is_json(&self) -> bool {
        self.format == LogFormat::Json
    }

    /// Something a person running the command should know (the service started or stopped).
    pub fn notice(&self, message: &str) {
        self.write("INFO", None, message, None);
    }

    /// A problem that does not stop the command.
    pub fn warn(&self, message: &str) {
        self.write("WARN", Some("warning"), message, None);
    }

    /// The error that ended the command, with the exit code it ends with.
    pub fn error(&self, message: &str, exit_code: u8) {
        self.write("ERROR", Some("error"), message, Some(exit_code));
    }

    fn write(&self, level: &str, prefix: Option<&str>, message: &str, exit_code: Option<u8>) {
        let line = match self.format {
            LogFormat::Text => match prefix {
                Some(prefix) => format!("{prefix}: {message}"),
                None => message.to_owned(),
            },
            LogFormat::Json => {
                let mut fields = json!({ "message": message });
                if let Some(code) = exit_code {
                    fields["exit_code"] = json!(code);
                }
                let at = self.clock.now().to_offset(time::UtcOffset::UTC);
                json!({
                    "timestamp": at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default(),
                    "level": level,
                    "fields": fields,
                    "target": "ml_connector",
                })
                .to_string()
            }
        };
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }
}

/// A progress bar on standard error while long work runs, redrawn in place; shown only when
/// standard error is a terminal and nothing else (JSON output, JSON logs) needs it clean.
#[derive(Debug)]
pub struct Progress {
    stop: tokio::sync::watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// What a progress bar shows: units done, units known, and a short tail.
pub type ProgressReading = (u64, u64, String);

impl Progress {
    /// Whether a progress bar would be drawn: standard error is a terminal, output is for people
    /// and logs are text.
    pub fn wanted(out: &Output, log: &Log) -> bool {
        !out.json && !log.is_json() && std::io::stderr().is_terminal()
    }

    /// Starts redrawing every 200 ms what `read` returns, when `show` is true.
    pub fn start<F, Fut>(show: bool, what: &'static str, mut read: F) -> Self
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Option<ProgressReading>> + Send,
    {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = show.then(|| {
            tokio::spawn(async move {
                let spinner = ['|', '/', '-', '\\'];
                let mut tick = 0usize;
                loop {
                    if let Some((done, total, tail)) = read().await {
                        let width = 30u64;
                        let filled = done.min(total) * width / total.max(1);
                        let filled = usize::try_from(filled).unwrap_or(0);
                        let bar = "#".repeat(filled)
                            + &"."
                                .repeat(usize::try_from(width).unwrap_or(0).saturating_sub(filled));
                        let mut err = std::io::stderr().lock();
                        let _ = write!(
                            err,
                            "\r{} [{bar}] {done}/{total} {what}{tail}   ",
                            spinner[tick % spinner.len()],
                        );
                        let _ = err.flush();
                    }
                    tick += 1;
                    tokio::select! {
                        () = tokio::time::sleep(std::time::Duration::from_millis(200)) => {}
                        _ = stopped.wait_for(|s| *s) => break,
                    }
                }
                // Clear the bar's line so what follows starts on a clean line.
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\r\x1b[2K");
                let _ = err.flush();
            })
        });
        Self { stop, task }
    }

    /// Stops the bar and clears its line.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// Renders rows under headers, each column as wide as its widest cell.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            let width = widths.get(i).copied().unwrap_or(0);
            if i > 0 {
                out.push_str("  ");
            }
            out.push_str(cell);
            let pad = width.saturating_sub(cell.chars().count());
            out.extend(std::iter::repeat_n(' ', pad));
        }
        out.trim_end().to_owned()
    };
    let mut out = line(&mut headers.iter().copied());
    out.push('\n');
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
        out.push('\n');
    }
    out
}

/// An instant as RFC 3339 (UTC, seconds).
pub fn instant(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns_and_trims_line_ends() {
        let text = table(
            &["NAME", "SET AT"],
            &[
                vec!["a".to_owned(), "2026".to_owned()],
                vec!["longer".to_owned(), String::new()],
            ],
        );
        assert_eq!(text, "NAME    SET AT\na       2026\nlonger\n");
    }
}
