//! Finding the line of a configuration key, so problems found after parsing (cross-field rules, codes
//! missing in SYSPRO) point at the line to edit.

use std::ops::Range;

use toml::de::{DeTable, DeValue};

/// Where a key path of the configuration is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: String,
    /// 1-based line; 0 when the key could not be found.
    pub line: usize,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            f.write_str(&self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// The text of one TOML file, for key lookups.
#[derive(Debug, Clone)]
pub struct TomlSource {
    file: String,
    text: String,
}

impl TomlSource {
    /// A source named `file` (as shown in messages) with `text`.
    pub fn new(file: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            text: text.into(),
        }
    }

    /// The line of `key_path` (e.g. `connection[0].mapping.stores.web.branch`). When the key itself
    /// is absent, the line of its nearest written parent.
    pub fn locate(&self, key_path: &str) -> Location {
        let line = DeTable::parse(&self.text)
            .ok()
            .and_then(|root| {
                let root = DeValue::Table(root.into_inner());
                let mut current = &root;
                let mut span: Option<Range<usize>> = None;
                for segment in segments(key_path) {
                    let next = match (&segment, current) {
                        (Segment::Key(key), DeValue::Table(table)) => find_key(table, key),
                        (Segment::Index(i), DeValue::Array(items)) => {
                            items.get(*i).map(|item| (item.span(), item.get_ref()))
                        }
                        _ => None,
                    };
                    match next {
                        Some((at, value)) => {
                            span = Some(at);
                            current = value;
                        }
                        None => break,
                    }
                }
                span
            })
            .map_or(0, |span| line_of(&self.text, span.start));
        Location {
            file: self.file.clone(),
            line,
        }
    }
}

fn find_key<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<(Range<usize>, &'a DeValue<'i>)> {
    table
        .iter()
        .find(|(k, _)| k.get_ref().as_ref() == key)
        .map(|(k, v)| (k.span(), v.get_ref()))
}

enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `a.b[2].c` (and `a."x.y"`) into keys and indexes.
fn segments(key_path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut chars = key_path.chars().peekable();
    let mut key = String::new();
    let flush = |key: &mut String, out: &mut Vec<Segment>| {
        if !key.is_empty() {
            out.push(Segment::Key(std::mem::take(key)));
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '.' => flush(&mut key, &mut out),
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                    key.push(q);
                }
            }
            '[' => {
                flush(&mut key, &mut out);
                let mut digits = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    digits.push(d);
                }
                match digits.parse() {
                    Ok(i) => out.push(Segment::Index(i)),
                    Err(_) => out.push(Segment::Key(digits.trim_matches('"').to_owned())),
                }
            }
            other => key.push(other),
        }
    }
    flush(&mut key, &mut out);
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    text.get(..offset.min(text.len()))
        .map_or(0, |before| before.matches('\n').count() + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "[store]\nurl = \"x\"\n\n[[connection]]\nname = \"a\"\n\n[connection.mapping.stores.web]\nbranch = \"WB\"\n\n[[connection]]\nname = \"b\"\n";

    #[test]
    fn finds_nested_keys_inside_arrays_of_tables() {
        let source = TomlSource::new("c.toml", TEXT);
        assert_eq!(source.locate("store.url").line, 2);
        assert_eq!(
            source
                .locate("connection[0].mapping.stores.web.branch")
                .line,
            8
        );
        assert_eq!(source.locate("connection[1].name").line, 11);
    }

    #[test]
    fn a_missing_key_points_at_its_nearest_parent() {
        let source = TomlSource::new("c.toml", TEXT);
        assert_eq!(
            source
                .locate("connection[0].mapping.stores.web.cash_customer")
                .line,
            7
        );
        assert_eq!(source.locate("nothing").to_string(), "c.toml");
    }
}
