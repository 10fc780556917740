//! GENQGL: validate a GL code (Query/Query).

use serde::Serialize;

use super::GL_CODE_MAX_LEN;
use super::output::Messages;
use super::xml::{XmlOut, parse, require_text};
use crate::client::SysproClient;
use crate::error::Error;

/// Business object name sent as `BusinessObject`.
pub const GENQGL: &str = "GENQGL";

/// The verdict on one GL code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum GlCodeValidation {
    /// SYSPRO knows the code.
    Valid {
        /// The code as SYSPRO returned it.
        ledger_code: String,
        /// `LedgerDetails/Description`.
        description: String,
        /// `LedgerDetails/AccountType` (e.g. `R` revenue, `E` expense), when returned.
        account_type: Option<String>,
    },
    /// SYSPRO rejected the code; `message` is SYSPRO's own text.
    Invalid {
        /// The code that was asked about.
        ledger_code: String,
        /// Why, in SYSPRO's words.
        message: String,
    },
}

impl GlCodeValidation {
    /// Whether the code is valid.
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid { .. })
    }

    /// The GL code this verdict is about.
    pub fn ledger_code(&self) -> &str {
        match self {
            Self::Valid { ledger_code, .. } | Self::Invalid { ledger_code, .. } => ledger_code,
        }
    }

    /// The GENQGL `XmlIn` for one code (note SYSPRO's lower-case `<key>`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming `ledger_code` when it is blank or too long.
    pub fn query_xml(ledger_code: &str) -> Result<String, Error> {
        require_text("ledger_code", ledger_code, GL_CODE_MAX_LEN)?;
        let mut out = XmlOut::new();
        out.open_root("Query", "GENQGL.XSD");
        out.open("key");
        out.text("LedgerCode", ledger_code);
        out.text("ValidateStructure", "Y");
        out.text("ValidateFlags", "Y");
        out.close("key");
        out.close("Query");
        out.finish()
    }

    /// Reads a GENQGL output for `ledger_code`.
    ///
    /// Any `ErrorDescription`/`ErrorMessage` makes the code invalid with that message; otherwise
    /// `LedgerDetails` with a non-empty `LedgerCode` makes it valid. An output with neither is
    /// treated as invalid rather than valid, so a missing record is never silently used.
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when the output is not XML.
    pub fn parse(ledger_code: &str, xml: &str) -> Result<Self, Error> {
        let root = parse(GENQGL, xml)?;
        let messages = Messages::collect(&root);
        if let Some(error) = messages.errors.first() {
            return Ok(Self::Invalid {
                ledger_code: ledger_code.to_owned(),
                message: error.description.clone(),
            });
        }
        let details = if root.is("LedgerDetails") {
            Some(&root)
        } else {
            root.child("LedgerDetails")
        };
        match details.and_then(|d| d.child_text("LedgerCode").map(|code| (d, code))) {
            Some((details, code)) => Ok(Self::Valid {
                ledger_code: code.to_owned(),
                description: details.child_string("Description").unwrap_or_default(),
                account_type: details.child_string("AccountType"),
            }),
            None => Ok(Self::Invalid {
                ledger_code: ledger_code.to_owned(),
                message: "SYSPRO returned no ledger details for this code".into(),
            }),
        }
    }
}

impl std::fmt::Display for GlCodeValidation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Valid {
                ledger_code,
                description,
                ..
            } => write!(f, "{ledger_code}\tvalid\t{description}"),
            Self::Invalid {
                ledger_code,
                message,
            } => write!(f, "{ledger_code}\tinvalid\t{message}"),
        }
    }
}

impl SysproClient {
    /// Validates one GL code with GENQGL.
    ///
    /// A code SYSPRO rejects is `Ok(Invalid)`, including when SYSPRO answers the whole query with
    /// `ERROR: …` text (which query objects do for an unknown key).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a blank or over-long code; [`Error::Output`] when the answer
    /// cannot be read; session and transport errors of [`SysproClient::query`].
    pub async fn validate_gl_code(&self, ledger_code: &str) -> Result<GlCodeValidation, Error> {
        let xml_in = GlCodeValidation::query_xml(ledger_code)?;
        match self.query(GENQGL, &xml_in).await {
            Ok(output) => GlCodeValidation::parse(ledger_code, &output),
            Err(Error::Rejected { message, .. }) => Ok(GlCodeValidation::Invalid {
                ledger_code: ledger_code.to_owned(),
                message,
            }),
            Err(other) => Err(other),
        }
    }

    /// Validates several GL codes one after another (calls share the one session).
    ///
    /// # Errors
    ///
    /// The first error of [`SysproClient::validate_gl_code`].
    pub async fn validate_gl_codes<S: AsRef<str>>(
        &self,
        ledger_codes: &[S],
    ) -> Result<Vec<GlCodeValidation>, Error> {
        let mut verdicts = Vec::with_capacity(ledger_codes.len());
        for code in ledger_codes {
            verdicts.push(self.validate_gl_code(code.as_ref()).await?);
        }
        Ok(verdicts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bo::test_support::fixture;

    #[test]
    fn query_xml_is_exact_and_escaped() {
        assert_eq!(
            GlCodeValidation::query_xml("00-4010&<").unwrap(),
            "<Query xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"GENQGL.XSD\"><key>\
             <LedgerCode>00-4010&amp;&lt;</LedgerCode><ValidateStructure>Y</ValidateStructure>\
             <ValidateFlags>Y</ValidateFlags></key></Query>"
        );
        assert!(matches!(
            GlCodeValidation::query_xml(" "),
            Err(Error::InvalidInput { field, .. }) if field == "ledger_code"
        ));
    }

    #[test]
    fn valid_code() {
        let verdict = GlCodeValidation::parse("00-4010", &fixture("genqgl_valid.xml")).unwrap();
        assert_eq!(
            verdict,
            GlCodeValidation::Valid {
                ledger_code: "00-4010".into(),
                description: "Sales - web store".into(),
                account_type: Some("R".into()),
            }
        );
        assert_eq!(verdict.to_string(), "00-4010\tvalid\tSales - web store");
    }

    #[test]
    fn invalid_code_keeps_syspros_message() {
        let verdict = GlCodeValidation::parse("99-9999", &fixture("genqgl_invalid.xml")).unwrap();
        assert_eq!(
            verdict,
            GlCodeValidation::Invalid {
                ledger_code: "99-9999".into(),
                message: "Ledger code '99-9999' not found".into(),
            }
        );
        assert!(!verdict.is_valid());
    }

    #[test]
    fn output_without_details_is_invalid_not_valid() {
        let verdict = GlCodeValidation::parse(
            "00-1",
            "<GLStructureQuery><LedgerDetails><LedgerCode/></LedgerDetails></GLStructureQuery>",
        )
        .unwrap();
        assert!(!verdict.is_valid());
    }
}
