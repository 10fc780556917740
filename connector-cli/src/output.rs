//! Printing: aligned tables for people, JSON for machines, colour only on a terminal.

use std::io::IsTerminal;

use serde::Serialize;

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
        let color =
            !json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
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
