//! The e.net response envelope: bytes to text, wrappers removed, `ERROR:` bodies turned into typed
//! errors.
//!
//! e.net answers HTTP 200 for success and for business, logon and session failures alike; failures
//! are plain text starting with `ERROR`. Successful XML usually declares `encoding="Windows-1252"`.
//! Some hosts wrap the text as a JSON string or in a WCF `<string>` element; all three shapes are
//! accepted.

use std::borrow::Cow;

use encoding_rs::{Encoding, WINDOWS_1252};

use crate::error::Error;

/// Decodes a response body to text.
///
/// The encoding comes from, in order: a byte-order mark, the `encoding` of an XML declaration at
/// the start of the body, the `charset` of the `Content-Type` header. Without any of them the body
/// is read as UTF-8, falling back to Windows-1252 (SYSPRO's own encoding) when it is not valid
/// UTF-8, so no byte is ever lost or replaced.
pub fn decode_body(bytes: &[u8], content_type: Option<&str>) -> String {
    if let Some((encoding, bom_len)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
        return text.into_owned();
    }
    let declared = declared_xml_encoding(bytes).or_else(|| content_type.and_then(charset_of));
    if let Some(encoding) = declared {
        let (text, _) = encoding.decode_without_bom_handling(bytes);
        return text.into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

/// Reads `encoding="..."` from an XML declaration at the start of the body (after optional
/// whitespace). Encodings that are not ASCII-compatible are ignored, since a declaration readable
/// as ASCII could not have been written in them.
fn declared_xml_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &bytes[start..];
    if !head.starts_with(b"<?xml") {
        return None;
    }
    let end = head.iter().take(512).position(|&b| b == b'>')?;
    let declaration = std::str::from_utf8(&head[..end]).ok()?;
    let label = attribute_value(declaration, "encoding")?;
    let encoding = Encoding::for_label(label.as_bytes())?;
    ascii_compatible(encoding)
}

fn charset_of(content_type: &str) -> Option<&'static Encoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let label = value.trim().trim_matches('"');
        Encoding::for_label(label.as_bytes()).and_then(ascii_compatible)
    })
}

fn ascii_compatible(encoding: &'static Encoding) -> Option<&'static Encoding> {
    // UTF-16 and the replacement encoding cannot carry an ASCII-readable declaration; for them
    // `output_encoding` is UTF-8 rather than the encoding itself.
    (encoding.output_encoding() == encoding).then_some(encoding)
}

/// Finds `name="value"` or `name='value'` in the text of an XML declaration.
fn attribute_value<'a>(declaration: &'a str, name: &str) -> Option<&'a str> {
    let lower = declaration.to_ascii_lowercase();
    let mut from = 0;
    while let Some(found) = lower[from..].find(name) {
        let after = from + found + name.len();
        let rest = declaration[after..].trim_start();
        if let Some(rest) = rest.strip_prefix('=') {
            let rest = rest.trim_start();
            let quote = rest.chars().next()?;
            if quote == '"' || quote == '\'' {
                let value = &rest[1..];
                let end = value.find(quote)?;
                return Some(&value[..end]);
            }
        }
        from = after;
    }
    None
}

/// Removes the JSON-string or WCF `<string>` wrapper some hosts put around e.net answers, and
/// surrounding whitespace. A bare body is returned trimmed.
pub fn unwrap_body(text: &str) -> Cow<'_, str> {
    let trimmed = text.trim();
    if trimmed.len() >= 2
        && trimmed.starts_with('"')
        && trimmed.ends_with('"')
        && let Ok(inner) = serde_json::from_str::<String>(trimmed)
    {
        return Cow::Owned(inner.trim().to_owned());
    }
    if let Some(inner) = string_element_content(trimmed) {
        return Cow::Owned(inner.trim().to_owned());
    }
    Cow::Borrowed(trimmed)
}

/// The unescaped content of a `<string ...>...</string>` document (WCF's serialised string), or
/// `None` when the text is not one.
fn string_element_content(text: &str) -> Option<String> {
    let rest = text.strip_prefix("<string")?;
    let next = rest.chars().next()?;
    if !(next == '>' || next == '/' || next.is_whitespace()) {
        return None;
    }
    let open_end = rest.find('>')?;
    if rest[..open_end].ends_with('/') {
        // `<string ... />` is an empty string.
        return rest[open_end + 1..].trim().is_empty().then(String::new);
    }
    let content = rest[open_end + 1..].strip_suffix("</string>")?;
    quick_xml::escape::unescape(content)
        .ok()
        .map(Cow::into_owned)
}

/// Removes a leading `<?xml ...?>` declaration. The text is no longer in the encoding the
/// declaration names, and parsers that honour it would decode the text a second time.
pub fn strip_xml_declaration(text: &str) -> &str {
    let trimmed = text.trim_start();
    if trimmed.starts_with("<?xml")
        && let Some(end) = trimmed.find("?>")
    {
        return trimmed[end + 2..].trim_start();
    }
    trimmed
}

/// What an e.net `ERROR` body means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EnetError {
    /// `ERROR: The supplied UserID is invalid...`: the session expired or was evicted; the
    /// business object did not run.
    InvalidSession,
    /// `e.net exception 100000`: not licensed or not registered.
    NotLicensed(String),
    /// Anything else.
    Other(String),
}

/// Classifies an unwrapped body: `None` when it is not an `ERROR` answer.
pub(crate) fn enet_error(body: &str) -> Option<EnetError> {
    let rest = body.trim_start().strip_prefix("ERROR")?;
    let message = rest
        .trim_start_matches(|c: char| c == ':' || c.is_whitespace())
        .trim_end()
        .to_owned();
    let lower = message.to_ascii_lowercase();
    if lower.contains("supplied userid is invalid") {
        Some(EnetError::InvalidSession)
    } else if lower.contains("e.net exception") && lower.contains("100000") {
        Some(EnetError::NotLicensed(message))
    } else {
        Some(EnetError::Other(message))
    }
}

/// Turns the text of a business object call into its output, or the typed error its `ERROR` text
/// stands for. An invalid session is reported as [`Error::SessionInvalid`]; the session layer
/// re-logs on before it reaches the caller.
pub(crate) fn business_output(
    body: &str,
    business_object: Option<&str>,
    scrub: impl Fn(&str) -> String,
) -> Result<String, Error> {
    let unwrapped = unwrap_body(body);
    match enet_error(&unwrapped) {
        None => Ok(strip_xml_declaration(&unwrapped).to_owned()),
        Some(EnetError::InvalidSession) => Err(Error::SessionInvalid {
            business_object: business_object.map(str::to_owned),
        }),
        Some(EnetError::NotLicensed(message)) => Err(Error::NotLicensed {
            business_object: business_object.map(str::to_owned),
            message: scrub(&message),
        }),
        Some(EnetError::Other(message)) => Err(Error::Rejected {
            business_object: business_object.map(str::to_owned),
            message: scrub(&message),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_1252_declared_body_is_decoded() {
        let mut bytes = b"<?xml version=\"1.0\" encoding=\"Windows-1252\"?><N>M".to_vec();
        bytes.extend_from_slice(&[0xFC, b'l', b'l', b'e', b'r', b' ', 0x80]);
        bytes.extend_from_slice(b"</N>");
        let text = decode_body(&bytes, Some("application/octet-stream"));
        assert!(text.ends_with("<N>Müller €</N>"), "{text}");
    }

    #[test]
    fn single_quoted_declaration_and_charset_header_are_honoured() {
        let bytes = b"<?xml version='1.0' encoding='windows-1252'?><a>\xE9</a>";
        assert!(decode_body(bytes, None).ends_with("<a>é</a>"));
        assert_eq!(
            decode_body(b"<a>\xE9</a>", Some("text/xml; charset=windows-1252")),
            "<a>é</a>"
        );
    }

    #[test]
    fn utf8_is_the_default_and_invalid_utf8_falls_back_to_1252() {
        assert_eq!(decode_body("<a>é</a>".as_bytes(), None), "<a>é</a>");
        assert_eq!(decode_body(b"<a>\xE9</a>", None), "<a>é</a>");
        assert_eq!(decode_body(b"\xEF\xBB\xBF<a/>", None), "<a/>");
    }

    #[test]
    fn wrappers_are_removed() {
        assert_eq!(unwrap_body("  3EA6  \r\n"), "3EA6");
        assert_eq!(unwrap_body("\"3EA6  \""), "3EA6");
        assert_eq!(
            unwrap_body("\"<a x=\\\"1\\\">\\u00e9</a>\""),
            "<a x=\"1\">é</a>"
        );
        assert_eq!(
            unwrap_body(
                "<string xmlns=\"http://schemas.microsoft.com/2003/10/Serialization/\">\
                 &lt;a&gt;R&amp;D&lt;/a&gt;</string>"
            ),
            "<a>R&D</a>"
        );
        assert_eq!(unwrap_body("<string xmlns=\"x\"/>"), "");
        assert_eq!(unwrap_body("<stringy/>"), "<stringy/>");
    }

    #[test]
    fn declaration_is_stripped() {
        assert_eq!(
            strip_xml_declaration("<?xml version=\"1.0\" encoding=\"Windows-1252\"?>\n<a/>"),
            "<a/>"
        );
        assert_eq!(strip_xml_declaration("<a/>"), "<a/>");
    }

    #[test]
    fn error_bodies_are_classified() {
        assert_eq!(enet_error("<a/>"), None);
        assert_eq!(
            enet_error(
                "ERROR: The supplied UserID is invalid. Either you were not logged in; or your \
                 session has expired. You will need to logon again."
            ),
            Some(EnetError::InvalidSession)
        );
        assert_eq!(
            enet_error("ERROR: e.net exception raised: 100000"),
            Some(EnetError::NotLicensed(
                "e.net exception raised: 100000".into()
            ))
        );
        assert_eq!(
            enet_error("ERROR Invalid operator password "),
            Some(EnetError::Other("Invalid operator password".into()))
        );
    }

    #[test]
    fn business_output_maps_errors_and_scrubs() {
        let out = business_output("\"ERROR: bad key SECRET\"", Some("ARSTIN"), |m| {
            m.replace("SECRET", "***")
        });
        match out {
            Err(Error::Rejected {
                business_object,
                message,
            }) => {
                assert_eq!(business_object.as_deref(), Some("ARSTIN"));
                assert_eq!(message, "bad key ***");
            }
            other => panic!("unexpected {other:?}"),
        }
        let ok = business_output("<?xml version='1.0'?><x/>", None, str::to_owned);
        assert_eq!(ok.expect("output"), "<x/>");
    }
}
