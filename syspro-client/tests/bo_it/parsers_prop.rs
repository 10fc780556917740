//! Property tests of every way the crate reads SYSPRO's answers: the e.net envelope
//! (`decode_body`, `unwrap_body`, `strip_xml_declaration`), the business-object output parsers,
//! COMFND rows, the OData typed rows, and the same bodies through a real client on loopback.
//!
//! Inputs are arbitrary bytes and mutations of every recorded fixture (byte flips, truncations,
//! insertions, element renames, number padding, encoding and wrapper swaps). The properties: no
//! panic, every failure is the crate's typed error naming the business object, and the shapes
//! SYSPRO varies between installs (padding, element case, encoding, wrappers) never change what
//! is read.

use std::sync::{Arc, Mutex, PoisonError};

use encoding_rs::WINDOWS_1252;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use rust_decimal::Decimal;
use secrecy::SecretString;
use syspro_client::bo::{
    ARSQRY, ARSSCS, ARSTIN, ArCustomerRow, ArInvoiceItem, ArInvoicePosting, ArInvoicePostingResult,
    ArInvoiceRow, COMFND, ComFind, CustomerSetupResult, CustomerStatement, FindResult, GENQGL,
    GENTJL, GenMasterRow, GlCodeValidation, GlJournalPostingResult, SORTOI, SalesOrderImportResult,
};
use syspro_client::response::{decode_body, strip_xml_declaration, unwrap_body};
use syspro_client::{
    ArCustomer, ArInvoice, EnetConfig, Error, GenMaster, ODataClient, ODataConfig, SysproClient,
};
use time::macros::date;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{REST, SESSION, rest, server};

/// Cases per property: enough to reach the odd corners of each fixture, few enough for CI.
const CASES: u32 = 384;
/// Cases for properties that make a loopback HTTP round trip per case.
const HTTP_CASES: u32 = 96;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- the parsers and their fixtures -----------------------------------------------------------

/// One business-object output parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Parser {
    Arstin,
    Gentjl,
    Arsscs,
    Genqgl,
    Arsqry,
    Comfnd,
    Sortoi,
}

const PARSERS: [Parser; 7] = [
    Parser::Arstin,
    Parser::Gentjl,
    Parser::Arsscs,
    Parser::Genqgl,
    Parser::Arsqry,
    Parser::Comfnd,
    Parser::Sortoi,
];

impl Parser {
    fn business_object(self) -> &'static str {
        match self {
            Parser::Arstin => ARSTIN,
            Parser::Gentjl => GENTJL,
            Parser::Arsscs => ARSSCS,
            Parser::Genqgl => GENQGL,
            Parser::Arsqry => ARSQRY,
            Parser::Comfnd => COMFND,
            Parser::Sortoi => SORTOI,
        }
    }

    /// Parses `xml`; success is rendered with `Debug` so results of any type compare.
    fn parse(self, xml: &str) -> Result<String, Error> {
        Ok(match self {
            Parser::Arstin => format!("{:?}", ArInvoicePostingResult::parse(xml)?),
            Parser::Gentjl => format!("{:?}", GlJournalPostingResult::parse(xml)?),
            Parser::Arsscs => format!("{:?}", CustomerSetupResult::parse(xml)?),
            Parser::Genqgl => format!("{:?}", GlCodeValidation::parse("00-4010", xml)?),
            Parser::Arsqry => format!("{:?}", CustomerStatement::parse(xml)?),
            Parser::Comfnd => {
                let found = FindResult::parse(xml)?;
                // The typed row readers run on every row too.
                for row in &found.rows {
                    let _ = (
                        ArCustomerRow::from_row(row),
                        ArInvoiceRow::from_row(row),
                        GenMasterRow::from_row(row),
                        row.decimal("CurrencyValue"),
                        row.date("InvoiceDate"),
                    );
                }
                format!("{found:?}")
            }
            Parser::Sortoi => format!("{:?}", SalesOrderImportResult::parse(xml)?),
        })
    }

    /// Parses and checks the only failure allowed: [`Error::Output`] naming this business object.
    fn parse_typed(self, xml: &str) -> Result<Option<String>, TestCaseError> {
        match self.parse(xml) {
            Ok(parsed) => Ok(Some(parsed)),
            Err(Error::Output {
                business_object,
                message,
            }) => {
                prop_assert_eq!(business_object.as_str(), self.business_object());
                prop_assert!(!message.is_empty(), "an output error says what was wrong");
                Ok(None)
            }
            Err(other) => Err(TestCaseError::fail(format!(
                "{self:?}: expected Ok or Error::Output, got {other:?}"
            ))),
        }
    }
}

/// Every recorded business-object output with the parser it belongs to.
fn fixtures() -> Vec<(&'static str, Parser, String)> {
    let bo = |name: &'static str, parser| {
        let path = format!("{}/tests/fixtures/bo/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        (name, parser, text)
    };
    let enet = |name: &'static str, parser| {
        let path = format!("{}/tests/fixtures/enet/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        (name, parser, decode_body(&bytes, None))
    };
    vec![
        bo("arsqry_ok.xml", Parser::Arsqry),
        bo("arsscs_error.xml", Parser::Arsscs),
        bo("arsscs_ok.xml", Parser::Arsscs),
        bo("arstin_ok.xml", Parser::Arstin),
        bo("arstin_partial.xml", Parser::Arstin),
        bo("comfnd_arcustomer.xml", Parser::Comfnd),
        bo("comfnd_arinvoice.xml", Parser::Comfnd),
        bo("genqgl_invalid.xml", Parser::Genqgl),
        bo("genqgl_valid.xml", Parser::Genqgl),
        bo("gentjl_error.xml", Parser::Gentjl),
        bo("gentjl_ok.xml", Parser::Gentjl),
        bo("sortoi_clean.xml", Parser::Sortoi),
        bo("sortoi_rejected.xml", Parser::Sortoi),
        bo("sortoi_warnings.xml", Parser::Sortoi),
        enet("comfnd_arcustomer_1252.xml", Parser::Comfnd),
        enet("postarinvoices_out.xml", Parser::Arstin),
        enet("comfnd_arcustomer_json_quoted.txt", Parser::Comfnd),
    ]
}

/// The e.net answers that are not business-object outputs (session ids, `ERROR` texts, ...).
fn enet_text_fixtures() -> Vec<Vec<u8>> {
    [
        "get_version.txt",
        "invalid_session.txt",
        "logoff_ok.txt",
        "logon_bad_password.txt",
        "logon_ok.txt",
        "logon_profile.xml",
        "not_licensed.txt",
        "rejected.txt",
        // A wrapper test: its content is not a well-formed output (a bare `&`).
        "postarinvoices_string_wrapped.xml",
    ]
    .iter()
    .map(|name| {
        let path = format!("{}/tests/fixtures/enet/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    })
    .collect()
}

/// The envelope as the client applies it: bytes to text, wrappers off, declaration off.
fn envelope(bytes: &[u8], content_type: Option<&str>) -> String {
    let text = decode_body(bytes, content_type);
    strip_xml_declaration(&unwrap_body(&text)).to_owned()
}

fn parse_original(parser: Parser, text: &str) -> String {
    let text = strip_xml_declaration(&unwrap_body(text)).to_owned();
    parser
        .parse(&text)
        .unwrap_or_else(|e| panic!("{parser:?}: the unmutated fixture parses: {e}"))
}

// ---- mutations --------------------------------------------------------------------------------

/// How a body reaches the client: encoding and wrapper.
#[derive(Debug, Clone, Copy)]
enum Shape {
    Utf8,
    Utf8Bom,
    Utf16LeBom,
    Utf16BeBom,
    Windows1252,
    JsonQuoted,
    StringWrapped,
    DeclaredUtf8,
    DeclaredUtf16,
    DeclaredBogus,
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Utf8),
        Just(Shape::Utf8Bom),
        Just(Shape::Utf16LeBom),
        Just(Shape::Utf16BeBom),
        Just(Shape::Windows1252),
        Just(Shape::JsonQuoted),
        Just(Shape::StringWrapped),
        Just(Shape::DeclaredUtf8),
        Just(Shape::DeclaredUtf16),
        Just(Shape::DeclaredBogus),
    ]
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(None),
        Just(Some("application/octet-stream")),
        Just(Some("text/xml; charset=windows-1252")),
        Just(Some("application/json; charset=utf-8")),
        Just(Some("text/plain; charset=\"utf-16\"")),
        Just(Some("text/plain; charset=nonsense")),
        Just(Some(";;charset=")),
    ]
}

/// Content types that do not contradict the body (a wrong charset is a host's bug, not ours).
fn honest_content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        Just(None),
        Just(Some("application/octet-stream")),
        Just(Some("text/plain")),
    ]
}

/// Writes `text` in `shape`; `None` when the shape cannot carry the text losslessly.
fn reshape(text: &str, shape: Shape) -> Option<Vec<u8>> {
    let redeclare = |label: &str| {
        let mut out = text.to_owned();
        if let Some(at) = out.find("encoding=\"") {
            let start = at + "encoding=\"".len();
            if let Some(len) = out[start..].find('"') {
                out.replace_range(start..start + len, label);
            }
        }
        out.into_bytes()
    };
    Some(match shape {
        Shape::Utf8 => text.as_bytes().to_vec(),
        Shape::Utf8Bom => [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        Shape::Utf16LeBom => {
            let mut out = vec![0xFF, 0xFE];
            out.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
            out
        }
        Shape::Utf16BeBom => {
            let mut out = vec![0xFE, 0xFF];
            out.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
            out
        }
        Shape::Windows1252 => {
            let (bytes, _, unmappable) = WINDOWS_1252.encode(text);
            if unmappable {
                return None;
            }
            let mut out = bytes.into_owned();
            if !text.trim_start().starts_with("<?xml") {
                out.splice(
                    0..0,
                    b"<?xml version=\"1.0\" encoding=\"Windows-1252\"?>"
                        .iter()
                        .copied(),
                );
            }
            out
        }
        Shape::JsonQuoted => serde_json::to_string(text).ok()?.into_bytes(),
        Shape::StringWrapped => format!(
            "<string xmlns=\"http://schemas.microsoft.com/2003/10/Serialization/\">{}</string>",
            quick_xml::escape::escape(text)
        )
        .into_bytes(),
        Shape::DeclaredUtf8 => redeclare("UTF-8"),
        Shape::DeclaredUtf16 => redeclare("UTF-16"),
        Shape::DeclaredBogus => redeclare("x-no-such-charset"),
    })
}

/// Shapes that keep every character: the envelope must give back the text unchanged.
fn lossless_shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        Just(Shape::Utf8),
        Just(Shape::Utf8Bom),
        Just(Shape::Utf16LeBom),
        Just(Shape::Utf16BeBom),
        Just(Shape::Windows1252),
        Just(Shape::JsonQuoted),
        Just(Shape::StringWrapped),
    ]
}

/// Numbers the way SYSPRO writes them in different places and versions.
#[derive(Debug, Clone, Copy)]
enum Padding {
    LeadingZeros(usize),
    LeadingSpaces(usize),
    TrailingSpaces(usize),
    Unpadded,
}

fn padding() -> impl Strategy<Value = Padding> {
    prop_oneof![
        (1usize..12).prop_map(Padding::LeadingZeros),
        (1usize..12).prop_map(Padding::LeadingSpaces),
        (1usize..6).prop_map(Padding::TrailingSpaces),
        Just(Padding::Unpadded),
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, mask: u8 },
    Truncate { at: usize },
    Insert { at: usize, fragment: Vec<u8> },
    Delete { at: usize, len: usize },
    Rename { nth: usize, name: String },
    PadNumber { nth: usize, padding: Padding },
    Reshape(Shape),
}

/// Fragments that upset XML readers and envelope detection.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "<",
            ">",
            "</",
            "/>",
            "&",
            "&amp;",
            "&#0;",
            "&#xFFFFFF;",
            "&#55296;",
            "&bogus;",
            "<![CDATA[",
            "]]>",
            "<!--",
            "-->",
            "<?xml version=\"1.0\"?>",
            "<!DOCTYPE x>",
            "\"",
            "'",
            "=",
            "ERROR: ",
            "<string>",
            "</string>",
            "<Item>",
            "</Item>",
            "<Row>",
            "<StatusOfItems>",
            "<ErrorDescription>x</ErrorDescription>",
            "<Value/>",
            "-",
            "999999999999999999999999",
            "\u{FEFF}",
            "é",
            "€",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..8),
    ]
}

fn element_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z_][A-Za-z0-9_]{0,12}",
        Just(String::new()),
        Just("xsd:Item".to_owned()),
        Just("1abc".to_owned()),
        Just("Item".to_owned()),
        Just("ITEM".to_owned()),
        Just("StatusOfItems".to_owned()),
        Just("ErrorDescription".to_owned()),
        Just("Row".to_owned()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        2 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        3 => (any::<usize>(), fragment()).prop_map(|(at, fragment)| Mutation::Insert { at, fragment }),
        2 => (any::<usize>(), 1usize..40).prop_map(|(at, len)| Mutation::Delete { at, len }),
        3 => (any::<usize>(), element_name()).prop_map(|(nth, name)| Mutation::Rename { nth, name }),
        3 => (any::<usize>(), padding()).prop_map(|(nth, padding)| Mutation::PadNumber { nth, padding }),
        1 => shape().prop_map(Mutation::Reshape),
    ]
}

/// Byte ranges of element names in tags (`<Name`, `</Name`).
fn tag_names(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut names = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'<' {
            let mut start = i + 1;
            if bytes.get(start) == Some(&b'/') {
                start += 1;
            }
            let mut end = start;
            while end < bytes.len()
                && (bytes[end].is_ascii_alphanumeric() || matches!(bytes[end], b'_' | b':' | b'.'))
            {
                end += 1;
            }
            if end > start {
                names.push((start, end));
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    names
}

/// Byte ranges of text content that is a number (`>  000012.50- <`), whitespace included.
fn number_texts(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'>' {
            let start = i + 1;
            let end = bytes[start..]
                .iter()
                .position(|&b| b == b'<')
                .map_or(bytes.len(), |p| start + p);
            if is_number(&bytes[start..end]) {
                out.push((start, end));
            }
            i = end;
        } else {
            i += 1;
        }
    }
    out
}

fn is_number(text: &[u8]) -> bool {
    let trimmed = text.trim_ascii();
    let body = trimmed.strip_prefix(b"-").unwrap_or(trimmed);
    let body = body.strip_suffix(b"-").unwrap_or(body);
    !body.is_empty()
        && body.iter().any(u8::is_ascii_digit)
        && body.iter().all(|b| b.is_ascii_digit() || *b == b'.')
        && body.iter().filter(|b| **b == b'.').count() <= 1
}

fn pad(number: &[u8], padding: Padding) -> Vec<u8> {
    let trimmed = number.trim_ascii();
    match padding {
        Padding::LeadingZeros(n) => {
            let (sign, digits) = match trimmed.strip_prefix(b"-") {
                Some(rest) => (b"-".as_slice(), rest),
                None => (b"".as_slice(), trimmed),
            };
            [sign, &vec![b'0'; n], digits].concat()
        }
        Padding::LeadingSpaces(n) => [vec![b' '; n].as_slice(), trimmed].concat(),
        Padding::TrailingSpaces(n) => [trimmed, vec![b' '; n].as_slice()].concat(),
        Padding::Unpadded => {
            let zeros = trimmed.iter().take_while(|b| **b == b'0').count();
            let keep_from = if trimmed.get(zeros).is_some_and(u8::is_ascii_digit) {
                zeros
            } else {
                zeros.saturating_sub(1)
            };
            trimmed[keep_from..].to_vec()
        }
    }
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let len = bytes.len();
    match mutation {
        Mutation::Flip { at, mask } => {
            if len > 0 {
                bytes[at % len] ^= mask;
            }
        }
        Mutation::Truncate { at } => bytes.truncate(at % (len + 1)),
        Mutation::Insert { at, fragment } => {
            let at = at % (len + 1);
            bytes.splice(at..at, fragment.iter().copied());
        }
        Mutation::Delete { at, len: count } => {
            let at = at % (len + 1);
            let end = (at + count).min(len);
            bytes.drain(at..end);
        }
        Mutation::Rename { nth, name } => {
            let names = tag_names(bytes);
            if !names.is_empty() {
                let (start, end) = names[nth % names.len()];
                bytes.splice(start..end, name.bytes());
            }
        }
        Mutation::PadNumber { nth, padding } => {
            let numbers = number_texts(bytes);
            if !numbers.is_empty() {
                let (start, end) = numbers[nth % numbers.len()];
                let padded = pad(&bytes[start..end], *padding);
                bytes.splice(start..end, padded);
            }
        }
        Mutation::Reshape(shape) => {
            let text = String::from_utf8_lossy(bytes).into_owned();
            if let Some(reshaped) = reshape(&text, *shape) {
                *bytes = reshaped;
            }
        }
    }
}

/// Re-cases every tag name: SYSPRO lower-cases some outputs, and the parsers must not care.
fn recase_tags(text: &str, upper: bool) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for (start, end) in tag_names(text.as_bytes()) {
        if bytes[start] == b'?' || bytes[start] == b'!' {
            continue;
        }
        for b in &mut bytes[start..end] {
            *b = if upper {
                b.to_ascii_uppercase()
            } else {
                b.to_ascii_lowercase()
            };
        }
    }
    String::from_utf8(bytes).expect("ASCII re-casing keeps UTF-8")
}

/// Adds whitespace around the content of every text-only element: SYSPRO pads fixed-width
/// columns and numbers, and every value is read trimmed.
fn pad_all_texts(text: &str, spaces: usize) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 2);
    let mut i = 0;
    while i < bytes.len() {
        out.push(bytes[i]);
        if bytes[i] == b'>' {
            let start = i + 1;
            let end = bytes[start..]
                .iter()
                .position(|&b| b == b'<')
                .map_or(bytes.len(), |p| start + p);
            let content = &bytes[start..end];
            // Only element content that already holds a value, and never after `?>`.
            let closes_element = bytes.get(end + 1) == Some(&b'/');
            if closes_element && !content.trim_ascii().is_empty() && i > 0 && bytes[i - 1] != b'?' {
                out.extend(std::iter::repeat_n(b' ', spaces));
                out.extend_from_slice(content);
                out.extend(std::iter::repeat_n(b' ', spaces));
                i = end;
                continue;
            }
        }
        i += 1;
    }
    String::from_utf8(out).expect("padding keeps UTF-8")
}

/// Zero-pads the counters of `<StatusOfItems>`, `ItemNumber` and `RowsReturned`.
fn zero_pad_counters(text: &str, zeros: usize) -> String {
    let mut out = text.to_owned();
    let counters = [
        "ItemNumber",
        "RowsReturned",
        "ItemsValidated",
        "ItemsProcessed",
        "InvalidItems",
        "ItemsInvalid",
        "JournalsProcessed",
        "JournalsInvalid",
        "PostingsInvalid",
        "RecordsRead",
        "RecordsInvalid",
    ];
    for counter in counters {
        for open in [
            format!("<{counter}>"),
            format!("<{}>", counter.to_lowercase()),
        ] {
            let mut from = 0;
            while let Some(found) = out[from..].find(&open) {
                let start = from + found + open.len();
                let Some(len) = out[start..].find('<') else {
                    break;
                };
                let value = out[start..start + len].trim().to_owned();
                if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
                    let padded = format!("{}{value}", "0".repeat(zeros));
                    out.replace_range(start..start + len, &padded);
                    from = start + padded.len();
                } else {
                    from = start + len;
                }
            }
        }
    }
    out
}

// ---- properties: the envelope and the output parsers -------------------------------------------

proptest! {
    #![proptest_config(config(CASES))]

    /// Arbitrary bytes: the envelope never panics and every parser gives `Ok` or its own
    /// `Error::Output`.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop::collection::vec(any::<u8>(), 0..600),
        content_type in content_type(),
    ) {
        let text = envelope(&bytes, content_type);
        for parser in PARSERS {
            parser.parse_typed(&text)?;
        }
    }

    /// Every fixture, mutated one to four times, in any encoding and wrapper: no panic, and only
    /// typed errors, from its own parser and from every other one.
    #[test]
    fn mutated_fixtures_give_typed_results(
        fixture in prop::sample::select(fixtures()),
        mutations in prop::collection::vec(mutation(), 1..5),
        content_type in content_type(),
    ) {
        let (_, parser, text) = fixture;
        let mut bytes = text.into_bytes();
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        let text = envelope(&bytes, content_type);
        parser.parse_typed(&text)?;
        for other in PARSERS {
            other.parse_typed(&text)?;
        }
    }

    /// The non-output e.net answers (session ids, `ERROR` texts, the logon profile), mutated:
    /// the envelope and every parser stay typed.
    #[test]
    fn mutated_enet_answers_give_typed_results(
        body in prop::sample::select(enet_text_fixtures()),
        mutations in prop::collection::vec(mutation(), 0..4),
        content_type in content_type(),
    ) {
        let mut bytes = body;
        for mutation in &mutations {
            apply(&mut bytes, mutation);
        }
        let text = envelope(&bytes, content_type);
        for parser in PARSERS {
            parser.parse_typed(&text)?;
        }
    }

    /// Encodings and wrappers are undone exactly: a fixture read through any lossless shape and
    /// content type parses to the same result as the plain text.
    #[test]
    fn every_encoding_and_wrapper_reads_the_same(
        fixture in prop::sample::select(fixtures()),
        shape in lossless_shape(),
        content_type in honest_content_type(),
    ) {
        let (name, parser, text) = fixture;
        let expected = parse_original(parser, &text);
        // The shapes wrap the unwrapped text, as a host would; a declaration is written only by
        // the shapes that encode to match it.
        let inner = strip_xml_declaration(&unwrap_body(&text)).to_owned();
        if let Some(bytes) = reshape(&inner, shape) {
            let read = envelope(&bytes, content_type);
            let parsed = parser.parse(&read);
            prop_assert!(
                matches!(&parsed, Ok(p) if *p == expected),
                "{name} as {shape:?} with {content_type:?}: {parsed:?}"
            );
        }
    }

    /// Padding with spaces and zeros, and element-name case, never change what is read.
    #[test]
    fn padding_and_element_case_never_change_the_result(
        fixture in prop::sample::select(fixtures()),
        spaces in 1usize..8,
        zeros in 1usize..10,
        upper in any::<bool>(),
    ) {
        let (name, parser, text) = fixture;
        let plain = strip_xml_declaration(&unwrap_body(&text)).to_owned();
        let expected = parse_original(parser, &plain);

        let padded = parser.parse(&pad_all_texts(&plain, spaces));
        prop_assert!(matches!(&padded, Ok(p) if *p == expected), "{name} space-padded: {padded:?}");

        let zero_padded = parser.parse(&zero_pad_counters(&plain, zeros));
        prop_assert!(
            matches!(&zero_padded, Ok(p) if *p == expected),
            "{name} zero-padded: {zero_padded:?}"
        );

        // Names are kept as written, so compare ignoring case.
        let recased = parser.parse(&recase_tags(&plain, upper));
        prop_assert!(
            matches!(&recased, Ok(p) if p.to_lowercase() == expected.to_lowercase()),
            "{name} re-cased: {recased:?}"
        );
    }
}

// ---- properties: numbers, rows and builders read back -------------------------------------------

/// A money-like decimal: up to 12 integer digits, up to 4 decimals, either sign.
fn amount() -> impl Strategy<Value = Decimal> {
    (-999_999_999_999_999i64..=999_999_999_999_999, 0u32..=4)
        .prop_map(|(mantissa, scale)| Decimal::new(mantissa, scale))
}

/// Every spelling of `value` SYSPRO uses: padded, zero-filled, trailing minus, trailing zeros.
fn spellings(value: Decimal) -> Vec<String> {
    let plain = value.to_string();
    let magnitude = value.abs().to_string();
    let mut out = vec![
        plain.clone(),
        format!("   {plain}"),
        format!("{plain}   "),
        format!("{}", value.normalize()),
        if plain.contains('.') {
            format!("{plain}00")
        } else {
            format!("{plain}.00")
        },
    ];
    if value.is_sign_negative() && !value.is_zero() {
        out.push(format!("{magnitude}-"));
        out.push(format!("  {magnitude}- "));
        out.push(format!("-000{magnitude}"));
    } else {
        out.push(format!("000{magnitude}"));
    }
    out
}

/// A value as a writer escapes it: any printable text without surrounding whitespace.
fn column_value() -> impl Strategy<Value = String> {
    "[^\\p{Cc}\\p{Zl}\\p{Zp}\u{FFFE}\u{FFFF}]{0,30}".prop_map(|s| s.trim().to_owned())
}

fn column_name() -> impl Strategy<Value = String> {
    "[A-Z][A-Za-z0-9]{0,15}"
}

/// A COMFND output as SYSPRO would write it, with every value escaped by quick-xml.
fn comfnd_output(table: &str, rows: &[Vec<(String, String)>], padded_count: &str) -> String {
    use quick_xml::Writer;
    use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};
    let mut w = Writer::new(Vec::new());
    let mut write = |e: Event<'_>| w.write_event(e).expect("writing into a Vec");
    write(Event::Start(BytesStart::new(table)));
    for row in rows {
        write(Event::Start(BytesStart::new("Row")));
        for (name, value) in row {
            write(Event::Start(BytesStart::new(name.as_str())));
            write(Event::Text(BytesText::new(value)));
            write(Event::End(BytesEnd::new(name.as_str())));
        }
        write(Event::End(BytesEnd::new("Row")));
    }
    write(Event::Start(BytesStart::new("RowsReturned")));
    write(Event::Text(BytesText::new(padded_count)));
    write(Event::End(BytesEnd::new("RowsReturned")));
    write(Event::End(BytesEnd::new(table)));
    String::from_utf8(w.into_inner()).expect("UTF-8")
}

proptest! {
    #![proptest_config(config(CASES))]

    /// Padded, zero-filled, trailing-minus and plain spellings of an amount read as one Decimal,
    /// in COMFND rows, ARSQRY amounts and OData rows alike.
    #[test]
    fn padded_and_plain_amounts_are_the_same_decimal(value in amount()) {
        for spelling in spellings(value) {
            let xml = format!(
                "<ArInvoice><Row><Customer>C1</Customer><Invoice>1</Invoice>\
                 <CurrencyValue>{spelling}</CurrencyValue></Row></ArInvoice>"
            );
            let found = FindResult::parse(&xml).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(found.rows[0].decimal("CurrencyValue"), Some(value), "{:?}", spelling);

            let statement = format!(
                "<ArStatement><Header><Customer>C1</Customer><CreditLimit>{spelling}</CreditLimit>\
                 </Header></ArStatement>"
            );
            let read = CustomerStatement::parse(&statement)
                .map_err(|e| TestCaseError::fail(e.to_string()))?
                .expect("a customer header");
            prop_assert_eq!(read.header.credit_limit, Some(value), "{:?}", spelling);

            // OData sends text columns for IEEE754-compatible decimals; the trailing minus is
            // SYSPRO's XML spelling only.
            if !spelling.trim_end().ends_with('-') {
                let row = serde_json::json!({ "Customer": "C1", "CreditLimit": spelling });
                let customer: ArCustomer = serde_json::from_value(row)
                    .map_err(|e| TestCaseError::fail(format!("{spelling:?}: {e}")))?;
                prop_assert_eq!(customer.credit_limit, Some(value), "{:?}", spelling);
            }
        }
    }

    /// Zero-filled, space-padded and plain counters are the same count.
    #[test]
    fn padded_counters_are_the_same_count(count in 0u64..=u64::from(u32::MAX), width in 0usize..16) {
        for spelling in [
            format!("{count:0width$}"),
            format!("{count:>width$}"),
            format!("{count}   "),
        ] {
            let xml = format!(
                "<postarinvoices><Item><ItemNumber>{spelling}</ItemNumber><Invoice>X</Invoice></Item>\
                 <StatusOfItems><ItemsValidated>{spelling}</ItemsValidated></StatusOfItems>\
                 </postarinvoices>"
            );
            let result = ArInvoicePostingResult::parse(&xml)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(result.items_validated, Some(count));
            prop_assert_eq!(result.items[0].item_number, u32::try_from(count).ok());
            prop_assert_eq!(result.status.get("itemsvalidated"), Some(count));
        }
    }

    /// A COMFND output written with XML escaping, in UTF-8 or Windows-1252, plain or wrapped,
    /// reads back every column value exactly.
    #[test]
    fn comfnd_rows_read_back_exactly(
        rows in prop::collection::vec(
            prop::collection::vec((column_name(), column_value()), 1..6), 0..4),
        padded_width in 0usize..10,
        shape in lossless_shape(),
    ) {
        let count = format!("{:>padded_width$}", rows.len());
        let xml = comfnd_output("ArCustomer", &rows, &count);
        let Some(bytes) = reshape(&xml, shape) else {
            return Ok(());
        };
        let found = FindResult::parse(&envelope(&bytes, None))
            .map_err(|e| TestCaseError::fail(format!("{shape:?}: {e}")))?;
        prop_assert_eq!(found.table.as_str(), "ArCustomer");
        prop_assert_eq!(found.rows_returned, Some(rows.len() as u64));
        prop_assert_eq!(found.rows.len(), rows.len());
        for (written, read) in rows.iter().zip(&found.rows) {
            let read: Vec<(String, String)> =
                read.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect();
            prop_assert_eq!(&read, written);
        }
    }

    /// What the ARSTIN builder writes, the ARSTIN output parser reads back: customer, invoice and
    /// transaction type per item, and the amounts as the same Decimal.
    #[test]
    fn arstin_document_reads_back_through_the_parser(
        items in prop::collection::vec(
            (
                "[A-Za-z0-9&<>'\" ]{1,15}",
                "[A-Za-z0-9&<>'\"éü€ -]{1,20}",
                (0i64..=99_999_999_999, 0u32..=2).prop_map(|(m, s)| Decimal::new(m, s)),
                any::<bool>(),
            ),
            1..5,
        ),
    ) {
        let items: Vec<_> = items
            .into_iter()
            .filter(|(customer, invoice, _, _)| !customer.trim().is_empty() && !invoice.trim().is_empty())
            .collect();
        if items.is_empty() {
            return Ok(());
        }
        let posting = ArInvoicePosting::new(
            items
                .iter()
                .map(|(customer, invoice, value, credit)| {
                    let make = if *credit { ArInvoiceItem::credit_note } else { ArInvoiceItem::invoice };
                    make(customer.clone(), invoice.clone(), date!(2026 - 11 - 20), *value, "ECOM")
                })
                .collect(),
        );
        let document = posting
            .document_xml()
            .map_err(|e| TestCaseError::fail(format!("valid items are writable: {e}")))?;
        let read = ArInvoicePostingResult::parse(&document)
            .map_err(|e| TestCaseError::fail(format!("written document parses: {e}")))?;
        prop_assert_eq!(read.items.len(), items.len());
        for ((customer, invoice, _, credit), item) in items.iter().zip(&read.items) {
            prop_assert_eq!(item.customer.as_deref(), Some(customer.trim()));
            prop_assert_eq!(item.invoice.as_deref(), Some(invoice.trim()));
            prop_assert_eq!(item.transaction_type.as_deref(), Some(if *credit { "C" } else { "I" }));
        }
        // Amounts: the written two-decimal text is the same Decimal as the one given.
        let values: Vec<Decimal> = texts_of(&document, "InvoiceValue")
            .iter()
            .map(|t| t.parse().expect("written amounts are decimals"))
            .collect();
        let given: Vec<Decimal> = items.iter().map(|(_, _, v, _)| *v).collect();
        prop_assert_eq!(values, given);
    }

    /// OData rows with any JSON value in any column decode or fail with serde's error (which the
    /// pager turns into `Error::Decode`); never a panic.
    #[test]
    fn odata_rows_never_panic(row in json_object()) {
        let _ = serde_json::from_value::<ArCustomer>(row.clone());
        let _ = serde_json::from_value::<ArInvoice>(row.clone());
        let _ = serde_json::from_value::<GenMaster>(row);
    }

    /// The recorded OData rows with one column's value swapped for another JSON type or null:
    /// keys missing or wrong give an error, optional columns read `null` as absent.
    #[test]
    fn odata_fixture_rows_with_swapped_types(
        index in any::<prop::sample::Index>(),
        replacement in json_scalar(),
    ) {
        let rows = odata_fixture_rows();
        let (entity, original) = rows[index.index(rows.len())].clone();
        let Some(keys) = original.as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()) else {
            return Ok(());
        };
        for key in keys {
            let mut row = original.clone();
            row[key.as_str()] = replacement.clone();
            let decoded = match entity {
                "ArCustomer" => serde_json::from_value::<ArCustomer>(row.clone()).map(|_| ()),
                "ArInvoice" => serde_json::from_value::<ArInvoice>(row.clone()).map(|_| ()),
                _ => serde_json::from_value::<GenMaster>(row.clone()).map(|_| ()),
            };
            if replacement.is_null() && !["Customer", "Invoice", "GlCode"].contains(&key.as_str()) {
                prop_assert!(decoded.is_ok(), "{entity}.{key} = null: {decoded:?}");
            }
        }
    }
}

/// The text of every element named `name` in a document, in order.
fn texts_of(xml: &str, name: &str) -> Vec<String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut inside = false;
    let mut out = Vec::new();
    loop {
        match reader
            .read_event()
            .expect("the builder writes well-formed XML")
        {
            Event::Start(e) if e.name().as_ref() == name => {
                inside = true;
                out.push(String::new());
            }
            Event::Text(t) if inside => {
                let text = t.xml10_content();
                out.last_mut().expect("inside").push_str(&text);
            }
            Event::End(_) => inside = false,
            Event::Eof => return out,
            _ => {}
        }
    }
}

fn json_scalar() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        "[ 0-9.eE+-]{0,14}".prop_map(Value::from),
        Just(Value::from("0000-00-00")),
        Just(Value::from("2024-02-30")),
        Just(Value::from("2024-01-31T00:00:00Z")),
        Just(Value::from("é€2024-01-31")),
        Just(serde_json::json!([])),
        Just(serde_json::json!({})),
    ]
}

fn json_object() -> impl Strategy<Value = serde_json::Value> {
    let columns = prop::sample::select(vec![
        "Customer",
        "Invoice",
        "GlCode",
        "Name",
        "Email",
        "CreditLimit",
        "InvoiceDate",
        "CurrencyValue",
        "Company",
        "DocumentType",
        "Extra",
    ]);
    let value = json_scalar().prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("[A-Za-z]{1,6}", inner, 0..3)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map(columns, value, 0..8).prop_map(|m| {
        serde_json::Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    })
}

/// Every row of the recorded OData pages, with its entity set.
fn odata_fixture_rows() -> Vec<(&'static str, serde_json::Value)> {
    let mut rows = Vec::new();
    for (entity, file) in [
        ("ArCustomer", "arcustomer_page1.json"),
        ("ArCustomer", "arcustomer_page2.json"),
        ("ArInvoice", "arinvoice_page.json"),
        ("GenMaster", "genmaster_page.json"),
    ] {
        let page: serde_json::Value =
            serde_json::from_slice(&odata_fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        for row in page["value"].as_array().expect("a value array") {
            rows.push((entity, row.clone()));
        }
    }
    rows
}

fn odata_fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/odata/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

// ---- properties through a real client on loopback --------------------------------------------------

/// Answers every request with whatever body the current case set.
#[derive(Clone, Default)]
struct CurrentBody(Arc<Mutex<Vec<u8>>>);

impl CurrentBody {
    fn set(&self, body: Vec<u8>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = body;
    }
}

impl Respond for CurrentBody {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let body = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        ResponseTemplate::new(200).set_body_raw(body, "application/octet-stream")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime")
}

/// Mutated COMFND outputs and e.net answers as the body of a real query: the client returns a
/// result or one of its typed errors, never panics, and never hangs.
#[test]
fn client_reads_mutated_answers_into_typed_results() {
    let rt = runtime();
    let body = CurrentBody::default();
    let (server, client) = rt.block_on(async {
        let server = server().await;
        Mock::given(method("GET"))
            .and(path(rest("Logon")))
            .respond_with(ResponseTemplate::new(200).set_body_string(SESSION))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(rest("Query/Query")))
            .respond_with(body.clone())
            .mount(&server)
            .await;
        let config = EnetConfig::builder(
            format!("{}{REST}", server.uri()),
            "EDU1",
            "ADMIN",
            SecretString::from("secret".to_owned()),
        )
        .call_timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("config");
        (server, SysproClient::new(config).expect("client"))
    });
    let mut bodies: Vec<Vec<u8>> = fixtures()
        .into_iter()
        .filter(|(_, parser, _)| *parser == Parser::Comfnd)
        .map(|(_, _, text)| text.into_bytes())
        .collect();
    bodies.extend(enet_text_fixtures());
    let strategy = (
        prop::sample::select(bodies),
        prop::collection::vec(mutation(), 0..4),
    );
    let find = ComFind::ar_customer_by_email("anna@example.com");
    let mut runner = TestRunner::new(Config {
        cases: HTTP_CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |(mut bytes, mutations)| {
            for mutation in &mutations {
                apply(&mut bytes, mutation);
            }
            body.set(bytes);
            match rt.block_on(client.find(&find)) {
                Ok(_)
                | Err(
                    Error::Output { .. }
                    | Error::Rejected { .. }
                    | Error::NotLicensed { .. }
                    | Error::SessionInvalid { .. },
                ) => Ok(()),
                Err(other) => Err(TestCaseError::fail(format!("unexpected error {other:?}"))),
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
    drop(client);
    rt.block_on(async move { drop(server) });
}

/// Mutated OData pages and `$metadata`: rows or `Error::Decode`/`Error::RowCapReached`, and the
/// stream always ends (a page that repeats itself stops the paging).
#[test]
fn odata_reads_mutated_pages_into_typed_results() {
    let rt = runtime();
    let body = CurrentBody::default();
    let (server, odata) = rt.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(body.clone())
            .mount(&server)
            .await;
        let config = ODataConfig::builder(
            format!("{}/odata/EDU1", server.uri()),
            "WEBINT",
            SecretString::from("odata password".to_owned()),
        )
        .max_rows(50)
        .page_size(10)
        .build()
        .expect("config");
        (server, ODataClient::new(config).expect("client"))
    });
    let base = format!("{}/odata/EDU1", server.uri());
    let pages: Vec<(bool, Vec<u8>)> = [
        "arcustomer_page1.json",
        "arcustomer_page2.json",
        "arinvoice_page.json",
        "genmaster_page.json",
        "metadata.xml",
    ]
    .iter()
    .map(|name| {
        let text = String::from_utf8(odata_fixture(name)).expect("UTF-8 fixture");
        (
            name.ends_with(".xml"),
            text.replace("{BASE}", &base).into_bytes(),
        )
    })
    .collect();
    let json_mutation = prop_oneof![
        3 => mutation(),
        2 => (any::<usize>(), json_scalar()).prop_map(|(nth, value)| {
            // A JSON value swapped in place of the nth value in the page.
            Mutation::Insert { at: nth, fragment: format!(",\"Injected\":{value}").into_bytes() }
        }),
    ];
    let strategy = (
        prop::sample::select(pages),
        prop::collection::vec(json_mutation, 0..4),
    );
    let mut runner = TestRunner::new(Config {
        cases: HTTP_CASES,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&strategy, |((is_metadata, mut bytes), mutations)| {
            for mutation in &mutations {
                apply(&mut bytes, mutation);
            }
            body.set(bytes);
            let outcome = rt.block_on(async {
                let read = async {
                    if is_metadata {
                        odata.entity_sets().await.map(|_| ())
                    } else {
                        let customers = odata
                            .entity_set::<ArCustomer>()
                            .fetch_all()
                            .await
                            .map(|_| ());
                        let _ = odata.entity_set::<ArInvoice>().fetch_all().await;
                        let _ = odata.entity_set::<GenMaster>().fetch_all().await;
                        let _ = odata.table("ArCustomer").fetch_all().await;
                        customers
                    }
                };
                tokio::time::timeout(std::time::Duration::from_secs(20), read).await
            });
            match outcome {
                Err(_) => Err(TestCaseError::fail("the read did not end")),
                Ok(Ok(()) | Err(Error::Decode { .. } | Error::RowCapReached { .. })) => Ok(()),
                Ok(Err(other)) => Err(TestCaseError::fail(format!("unexpected error {other:?}"))),
            }
        })
        .unwrap_or_else(|e| panic!("{e}"));
    drop(odata);
    rt.block_on(async move { drop(server) });
}
