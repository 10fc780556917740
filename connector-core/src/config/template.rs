//! Small text templates for SYSPRO keys (`"{store_prefix}{increment_id}"`, `"WEB{customer_id:06}"`).
//!
//! SYSPRO invoice numbers, journal references and customer codes must be deterministic functions of
//! the Commerce document: that is what lets a retry find the document it may already have posted.
//! A template is parsed once, when the configuration is read, so a typo is reported with its key path
//! instead of at the first posting.

use std::fmt;

use serde::Deserialize;

/// A parsed template: literal text with `{name}` or `{name:0N}` placeholders.
///
/// `{name:0N}` left-pads the value with zeros to at least `N` characters (longer values are kept
/// whole, never cut). `{{` and `}}` stand for literal braces.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Placeholder { name: String, width: Option<usize> },
}

/// Why a template could not be parsed or rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text is malformed (unclosed brace, bad width...).
    #[error("template {template:?} is malformed: {reason}")]
    Syntax {
        /// The template as written.
        template: String,
        /// What is wrong, in words.
        reason: String,
    },
    /// The template names a placeholder this template does not offer.
    #[error(
        "template {template:?} uses the unknown placeholder {{{name}}}; expected one of: {allowed}"
    )]
    UnknownPlaceholder {
        /// The template as written.
        template: String,
        /// The unknown name.
        name: String,
        /// The names that are allowed, comma separated.
        allowed: String,
    },
}

impl Template {
    /// Parses a template.
    ///
    /// # Errors
    /// [`TemplateError::Syntax`] when a brace is unbalanced, a placeholder is empty or its width is
    /// not `0` followed by digits.
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let syntax = |reason: &str| TemplateError::Syntax {
            template: source.to_owned(),
            reason: reason.to_owned(),
        };
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = source.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    literal.push('}');
                }
                '}' => {
                    return Err(syntax(
                        "a `}` without its `{` (write `}}` for a literal brace)",
                    ));
                }
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        inner.push(c);
                    }
                    if !closed {
                        return Err(syntax(
                            "a `{` without its `}` (write `{{` for a literal brace)",
                        ));
                    }
                    let (name, width) = match inner.split_once(':') {
                        None => (inner.as_str(), None),
                        Some((name, spec)) => {
                            let digits = spec
                                .strip_prefix('0')
                                .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
                            let width = digits
                                .and_then(|d| d.parse::<usize>().ok())
                                .filter(|w| *w <= 64)
                                .ok_or_else(|| {
                                    syntax("a width must be written `:0N` with N from 1 to 64, e.g. `{customer_id:06}`")
                                })?;
                            (name, Some(width))
                        }
                    };
                    let name = name.trim();
                    if name.is_empty()
                        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return Err(syntax(
                            "a placeholder name must be letters, digits or `_`, e.g. `{increment_id}`",
                        ));
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Placeholder {
                        name: name.to_owned(),
                        width,
                    });
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self {
            source: source.to_owned(),
            parts,
        })
    }

    /// A template from the program's own text (a default). The built-in defaults are well formed (a
    /// unit test parses each); should one not be, it renders as the literal text, never panics.
    pub(crate) fn built_in(source: &'static str) -> Self {
        Self::parse(source).unwrap_or_else(|_| Self {
            source: source.to_owned(),
            parts: vec![Part::Literal(source.to_owned())],
        })
    }

    /// The template as written in the configuration.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The placeholder names the template uses, in order of appearance.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Placeholder { name, .. } => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    /// Checks that every placeholder is one of `allowed`.
    ///
    /// # Errors
    /// [`TemplateError::UnknownPlaceholder`] naming the first unknown placeholder.
    pub fn check_placeholders(&self, allowed: &[&str]) -> Result<(), TemplateError> {
        match self.placeholders().find(|name| !allowed.contains(name)) {
            None => Ok(()),
            Some(name) => Err(TemplateError::UnknownPlaceholder {
                template: self.source.clone(),
                name: name.to_owned(),
                allowed: allowed.join(", "),
            }),
        }
    }

    /// Renders the template, asking `value` for each placeholder.
    ///
    /// # Errors
    /// [`TemplateError::UnknownPlaceholder`] when `value` has nothing for a placeholder.
    pub fn render<'v>(
        &self,
        allowed: &[&str],
        value: impl Fn(&str) -> Option<std::borrow::Cow<'v, str>>,
    ) -> Result<String, TemplateError> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Placeholder { name, width } => {
                    let text = value(name).ok_or_else(|| TemplateError::UnknownPlaceholder {
                        template: self.source.clone(),
                        name: name.clone(),
                        allowed: allowed.join(", "),
                    })?;
                    let pad = width.unwrap_or(0).saturating_sub(text.chars().count());
                    out.extend(std::iter::repeat_n('0', pad));
                    out.push_str(&text);
                }
            }
        }
        Ok(out)
    }
}

impl TryFrom<String> for Template {
    type Error = TemplateError;

    fn try_from(source: String) -> Result<Self, Self::Error> {
        Self::parse(&source)
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Template").field(&self.source).finish()
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;

    fn render(template: &str, pairs: &[(&str, &str)]) -> Result<String, TemplateError> {
        let allowed: Vec<&str> = pairs.iter().map(|(k, _)| *k).collect();
        Template::parse(template)?.render(&allowed, |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| Cow::Owned((*v).to_owned()))
        })
    }

    #[test]
    fn renders_literals_placeholders_and_zero_padding() {
        assert_eq!(
            render(
                "{store_prefix}{increment_id}",
                &[("store_prefix", "W1-"), ("increment_id", "000000042")]
            )
            .unwrap(),
            "W1-000000042"
        );
        assert_eq!(
            render("WEB{customer_id:06}", &[("customer_id", "42")]).unwrap(),
            "WEB000042"
        );
        assert_eq!(
            render("WEB{customer_id:03}", &[("customer_id", "12345")]).unwrap(),
            "WEB12345"
        );
        assert_eq!(render("{{x}}-{a}", &[("a", "1")]).unwrap(), "{x}-1");
    }

    #[test]
    fn rejects_malformed_templates() {
        for bad in ["{", "}", "{}", "{a:6}", "{a:0}", "{a:0x}", "{a b}", "x{a"] {
            assert!(
                matches!(Template::parse(bad), Err(TemplateError::Syntax { .. })),
                "{bad} should be rejected"
            );
        }
    }

    #[test]
    fn unknown_placeholders_are_named() {
        let t = Template::parse("{invoice}-{nope}").unwrap();
        let err = t.check_placeholders(&["invoice"]).unwrap_err();
        assert!(err.to_string().contains("{nope}"), "{err}");
        assert!(err.to_string().contains("invoice"), "{err}");
        assert_eq!(t.placeholders().collect::<Vec<_>>(), ["invoice", "nope"]);
        assert!(render("{a}{b}", &[("a", "1")]).is_err());
    }
}
