//! ARSSCS: add or update AR customers (Setup/Add, Setup/Update).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::CUSTOMER_MAX_LEN;
use super::output::{FieldError, Messages, StatusOfItems};
use super::xml::{XmlOut, check_len, check_opt_len, check_opt_money, parse, require_text};
use crate::client::SysproClient;
use crate::error::Error;

/// Business object name sent as `BusinessObject`.
pub const ARSSCS: &str = "ARSSCS";

/// Longest customer name (`ArCustomer.Name`), inferred.
const NAME_MAX_LEN: usize = 50;
/// Longest short name (`ArCustomer.ShortName`), inferred.
const SHORT_NAME_MAX_LEN: usize = 20;
/// Longest address line; SORTOI documents 40 for ship-to lines and customer lines match, inferred.
const ADDRESS_LINE_MAX_LEN: usize = 40;
/// Address lines per address (`SoldToAddr1`..`SoldToAddr5`).
const ADDRESS_LINES: usize = 5;
/// Longest postal code (SORTOI's `ShipPostalCode` limit).
const POSTAL_CODE_MAX_LEN: usize = 15;
/// Longest e-mail address (SORTOI's `Email` limit).
const EMAIL_MAX_LEN: usize = 255;

/// ARSSCS parameters (`<SetupArCustomer><Parameters>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomerSetupParameters {
    /// `IgnoreWarnings`.
    pub ignore_warnings: bool,
    /// `ApplyIfEntireDocumentValid`.
    pub apply_if_entire_document_valid: bool,
    /// `ValidateOnly`: a dry run.
    pub validate_only: bool,
}

impl Default for CustomerSetupParameters {
    fn default() -> Self {
        Self {
            ignore_warnings: false,
            apply_if_entire_document_valid: true,
            validate_only: false,
        }
    }
}

/// A sold-to or ship-to address: up to five lines plus a postal code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Address lines in order (street, suburb, city, state, country), at most five.
    pub lines: Vec<String>,
    /// Postal code.
    #[serde(default)]
    pub postal_code: Option<String>,
}

/// One customer to add or update (`<Item>`).
///
/// Fields left `None` are not sent, so an update changes only what is given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CustomerRecord {
    /// `Key/Customer` (mandatory).
    pub customer: String,
    /// `Name` (mandatory when adding).
    pub name: Option<String>,
    /// `ShortName`.
    pub short_name: Option<String>,
    /// `Salesperson`.
    pub salesperson: Option<String>,
    /// `Branch`.
    pub branch: Option<String>,
    /// `TermsCode`.
    pub terms_code: Option<String>,
    /// `CreditLimit`.
    pub credit_limit: Option<Decimal>,
    /// `PriceCode`.
    pub price_code: Option<String>,
    /// `CustomerClass`.
    pub customer_class: Option<String>,
    /// `Area` (geographic area).
    pub area: Option<String>,
    /// `TaxStatus`, e.g. `E` exempt (SYSPRO's code, sent as given).
    pub tax_status: Option<String>,
    /// `TaxExemptNumber`.
    pub tax_exempt_number: Option<String>,
    /// `Telephone`.
    pub telephone: Option<String>,
    /// `Contact`.
    pub contact: Option<String>,
    /// `Email`.
    pub email: Option<String>,
    /// `Currency` (SYSPRO currency code, e.g. `$`).
    pub currency: Option<String>,
    /// `SoldToAddr1..5` and `SoldPostalCode`.
    pub sold_to: Option<Address>,
    /// `ShipToAddr1..5` and `ShipPostalCode`.
    pub ship_to: Option<Address>,
}

impl CustomerRecord {
    /// A record for `customer` with nothing else set.
    pub fn new(customer: impl Into<String>) -> Self {
        Self {
            customer: customer.into(),
            ..Self::default()
        }
    }

    fn validate(&self, index: usize, adding: bool) -> Result<(), Error> {
        let field = |name: &str| format!("customers[{index}].{name}");
        require_text(&field("customer"), &self.customer, CUSTOMER_MAX_LEN)?;
        match (&self.name, adding) {
            (Some(name), _) => require_text(&field("name"), name, NAME_MAX_LEN)?,
            (None, true) => {
                return Err(Error::InvalidInput {
                    field: field("name"),
                    expected: "a customer name when adding a customer".into(),
                });
            }
            (None, false) => {}
        }
        check_opt_len(
            &field("short_name"),
            self.short_name.as_deref(),
            SHORT_NAME_MAX_LEN,
        )?;
        check_opt_len(&field("email"), self.email.as_deref(), EMAIL_MAX_LEN)?;
        if let Some(email) = &self.email
            && !email.is_empty()
            && !email.contains('@')
        {
            return Err(Error::InvalidInput {
                field: field("email"),
                expected: "an e-mail address containing '@'".into(),
            });
        }
        check_opt_money(&field("credit_limit"), self.credit_limit)?;
        for (name, address) in [("sold_to", &self.sold_to), ("ship_to", &self.ship_to)] {
            let Some(address) = address else { continue };
            if address.lines.len() > ADDRESS_LINES {
                return Err(Error::InvalidInput {
                    field: field(&format!("{name}.lines")),
                    expected: format!("at most {ADDRESS_LINES} address lines"),
                });
            }
            for (n, line) in address.lines.iter().enumerate() {
                check_len(
                    &field(&format!("{name}.lines[{n}]")),
                    line,
                    ADDRESS_LINE_MAX_LEN,
                )?;
            }
            check_opt_len(
                &field(&format!("{name}.postal_code")),
                address.postal_code.as_deref(),
                POSTAL_CODE_MAX_LEN,
            )?;
        }
        Ok(())
    }

    fn write(&self, out: &mut XmlOut) {
        out.open("Item");
        out.open("Key");
        out.text("Customer", &self.customer);
        out.close("Key");
        out.opt_text("Name", self.name.as_deref());
        out.opt_text("Salesperson", self.salesperson.as_deref());
        out.opt_text("Branch", self.branch.as_deref());
        out.opt_text("TermsCode", self.terms_code.as_deref());
        out.opt_text("ShortName", self.short_name.as_deref());
        out.opt_money("CreditLimit", self.credit_limit);
        out.opt_text("PriceCode", self.price_code.as_deref());
        out.opt_text("CustomerClass", self.customer_class.as_deref());
        out.opt_text("Area", self.area.as_deref());
        out.opt_text("TaxStatus", self.tax_status.as_deref());
        out.opt_text("TaxExemptNumber", self.tax_exempt_number.as_deref());
        out.opt_text("Telephone", self.telephone.as_deref());
        out.opt_text("Contact", self.contact.as_deref());
        out.opt_text("Email", self.email.as_deref());
        out.opt_text("Currency", self.currency.as_deref());
        write_address(out, "SoldToAddr", "SoldPostalCode", self.sold_to.as_ref());
        write_address(out, "ShipToAddr", "ShipPostalCode", self.ship_to.as_ref());
        out.close("Item");
    }
}

fn write_address(out: &mut XmlOut, line_prefix: &str, postal: &str, address: Option<&Address>) {
    let Some(address) = address else { return };
    for (n, line) in address.lines.iter().enumerate() {
        out.text(&format!("{line_prefix}{}", n + 1), line);
    }
    out.opt_text(postal, address.postal_code.as_deref());
}

/// A whole ARSSCS call: parameters plus the customers to add or update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerSetup {
    /// Setup parameters.
    #[serde(default)]
    pub parameters: CustomerSetupParameters,
    /// The customers.
    pub customers: Vec<CustomerRecord>,
}

impl CustomerSetup {
    /// A setup document for the given customers with default parameters.
    pub fn new(customers: Vec<CustomerRecord>) -> Self {
        Self {
            parameters: CustomerSetupParameters::default(),
            customers,
        }
    }

    /// Checks keys, lengths and (when `adding`) that each customer has a name.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first offending field, e.g. `customers[0].email`.
    pub fn validate(&self, adding: bool) -> Result<(), Error> {
        if self.customers.is_empty() {
            return Err(Error::InvalidInput {
                field: "customers".into(),
                expected: "at least one customer".into(),
            });
        }
        for (index, customer) in self.customers.iter().enumerate() {
            customer.validate(index, adding)?;
        }
        Ok(())
    }

    /// The `XmlParameters` document.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] if a value cannot be written.
    pub fn parameters_xml(&self) -> Result<String, Error> {
        let p = &self.parameters;
        let mut out = XmlOut::new();
        out.open_root("SetupArCustomer", "ARSSCS.XSD");
        out.open("Parameters");
        out.flag("IgnoreWarnings", p.ignore_warnings);
        out.flag(
            "ApplyIfEntireDocumentValid",
            p.apply_if_entire_document_valid,
        );
        out.flag("ValidateOnly", p.validate_only);
        out.close("Parameters");
        out.close("SetupArCustomer");
        out.finish()
    }

    /// The `XmlIn` document, after [`CustomerSetup::validate`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the first invalid field.
    pub fn document_xml(&self, adding: bool) -> Result<String, Error> {
        self.validate(adding)?;
        let mut out = XmlOut::new();
        out.open_root("SetupArCustomer", "ARSSCSDOC.XSD");
        for customer in &self.customers {
            customer.write(&mut out);
        }
        out.close("SetupArCustomer");
        out.finish()
    }
}

/// What SYSPRO reported for one customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerSetupItemResult {
    /// `item/key/customer`: the customer code SYSPRO stored.
    pub customer: Option<String>,
    /// Errors and warnings reported inside this item.
    pub messages: Messages,
}

impl CustomerSetupItemResult {
    /// Stored (or valid): no errors and a key echoed back.
    pub fn is_success(&self) -> bool {
        self.messages.is_clean() && self.customer.is_some()
    }
}

/// Parsed ARSSCS output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerSetupResult {
    /// One entry per `<item>`.
    pub customers: Vec<CustomerSetupItemResult>,
    /// `StatusOfItems/RecordsRead`.
    pub records_read: Option<u64>,
    /// `StatusOfItems/RecordsInvalid`.
    pub records_invalid: Option<u64>,
    /// Every counter under `StatusOfItems`.
    pub status: StatusOfItems,
    /// Errors and warnings outside any item.
    pub messages: Messages,
}

impl CustomerSetupResult {
    /// Parses an ARSSCS output (root `<setuparcustomer>` in any case).
    ///
    /// # Errors
    ///
    /// [`Error::Output`] when the text is not XML or a counter cannot be read.
    pub fn parse(xml: &str) -> Result<Self, Error> {
        let root = parse(ARSSCS, xml)?;
        let customers = root
            .children_named("Item")
            .map(|item| CustomerSetupItemResult {
                customer: item.path_text(&["Key", "Customer"]).map(str::to_owned),
                messages: Messages::collect(item),
            })
            .collect();
        let status = StatusOfItems::read(ARSSCS, &root)?;
        Ok(Self {
            customers,
            records_read: status.get("RecordsRead"),
            records_invalid: status.get("RecordsInvalid"),
            status,
            messages: Messages::collect_outside(&root, &["Item"]),
        })
    }

    /// Every error in the output.
    pub fn errors(&self) -> impl Iterator<Item = &FieldError> {
        self.customers
            .iter()
            .flat_map(|c| c.messages.errors.iter())
            .chain(self.messages.errors.iter())
    }

    /// Whether every customer succeeded and SYSPRO counted no invalid record.
    pub fn is_success(&self) -> bool {
        !self.customers.is_empty()
            && self
                .customers
                .iter()
                .all(CustomerSetupItemResult::is_success)
            && self.messages.is_clean()
            && self.records_invalid.unwrap_or(0) == 0
    }
}

impl SysproClient {
    /// Adds customers with ARSSCS (Setup/Add). Fails per item if a customer code exists.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent; [`Error::Output`] when SYSPRO's answer
    /// cannot be read; any session or transport error of [`SysproClient::setup_add`].
    pub async fn add_customers(&self, setup: &CustomerSetup) -> Result<CustomerSetupResult, Error> {
        let document = setup.document_xml(true)?;
        let parameters = setup.parameters_xml()?;
        let output = self.setup_add(ARSSCS, &parameters, &document).await?;
        CustomerSetupResult::parse(&output)
    }

    /// Adds one customer; see [`SysproClient::add_customers`].
    ///
    /// # Errors
    ///
    /// As [`SysproClient::add_customers`].
    pub async fn add_customer(
        &self,
        customer: &CustomerRecord,
    ) -> Result<CustomerSetupResult, Error> {
        self.add_customers(&CustomerSetup::new(vec![customer.clone()]))
            .await
    }

    /// Updates customers with ARSSCS (Setup/Update): only fields that are `Some` change.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] before anything is sent; [`Error::Output`] when SYSPRO's answer
    /// cannot be read; any session or transport error of [`SysproClient::setup_update`].
    pub async fn update_customers(
        &self,
        setup: &CustomerSetup,
    ) -> Result<CustomerSetupResult, Error> {
        let document = setup.document_xml(false)?;
        let parameters = setup.parameters_xml()?;
        let output = self.setup_update(ARSSCS, &parameters, &document).await?;
        CustomerSetupResult::parse(&output)
    }

    /// Updates one customer; see [`SysproClient::update_customers`].
    ///
    /// # Errors
    ///
    /// As [`SysproClient::update_customers`].
    pub async fn update_customer(
        &self,
        customer: &CustomerRecord,
    ) -> Result<CustomerSetupResult, Error> {
        self.update_customers(&CustomerSetup::new(vec![customer.clone()]))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bo::test_support::fixture;

    fn sample() -> CustomerRecord {
        CustomerRecord {
            name: Some("Müller & Söhne".into()),
            short_name: Some("MULLER".into()),
            branch: Some("10".into()),
            terms_code: Some("30".into()),
            customer_class: Some("WE".into()),
            currency: Some("$".into()),
            email: Some("anna@example.com".into()),
            telephone: Some("+49 30 1234".into()),
            tax_status: Some("N".into()),
            sold_to: Some(Address {
                lines: vec!["Hauptstr. 1".into(), "Berlin".into()],
                postal_code: Some("10115".into()),
            }),
            ship_to: Some(Address {
                lines: vec!["Lager 3".into()],
                postal_code: None,
            }),
            ..CustomerRecord::new("WEB000042")
        }
    }

    #[test]
    fn add_document_is_exact() {
        let setup = CustomerSetup::new(vec![sample()]);
        assert_eq!(
            setup.document_xml(true).unwrap(),
            "<SetupArCustomer xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"ARSSCSDOC.XSD\"><Item>\
             <Key><Customer>WEB000042</Customer></Key>\
             <Name>Müller &amp; Söhne</Name><Branch>10</Branch><TermsCode>30</TermsCode>\
             <ShortName>MULLER</ShortName><CustomerClass>WE</CustomerClass>\
             <TaxStatus>N</TaxStatus><Telephone>+49 30 1234</Telephone>\
             <Email>anna@example.com</Email><Currency>$</Currency>\
             <SoldToAddr1>Hauptstr. 1</SoldToAddr1><SoldToAddr2>Berlin</SoldToAddr2>\
             <SoldPostalCode>10115</SoldPostalCode><ShipToAddr1>Lager 3</ShipToAddr1>\
             </Item></SetupArCustomer>"
        );
        assert_eq!(
            setup.parameters_xml().unwrap(),
            "<SetupArCustomer xmlns:xsd=\"http://www.w3.org/2001/XMLSchema-instance\" \
             xsd:noNamespaceSchemaLocation=\"ARSSCS.XSD\"><Parameters>\
             <IgnoreWarnings>N</IgnoreWarnings>\
             <ApplyIfEntireDocumentValid>Y</ApplyIfEntireDocumentValid>\
             <ValidateOnly>N</ValidateOnly></Parameters></SetupArCustomer>"
        );
    }

    #[test]
    fn update_sends_only_given_fields() {
        let mut record = CustomerRecord::new("WEB000042");
        record.email = Some("new@example.com".into());
        let xml = CustomerSetup::new(vec![record])
            .document_xml(false)
            .unwrap();
        assert!(
            xml.ends_with(
                "<Item><Key><Customer>WEB000042</Customer></Key>\
                 <Email>new@example.com</Email></Item></SetupArCustomer>"
            ),
            "{xml}"
        );
    }

    fn invalid(setup: &CustomerSetup, adding: bool) -> String {
        match setup.document_xml(adding) {
            Err(Error::InvalidInput { field, .. }) => field,
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn validation_names_the_field() {
        let record = CustomerRecord::new("WEB1");
        assert_eq!(
            invalid(&CustomerSetup::new(vec![record]), true),
            "customers[0].name"
        );

        let mut record = sample();
        record.customer = "X".repeat(16);
        assert_eq!(
            invalid(&CustomerSetup::new(vec![record]), true),
            "customers[0].customer"
        );

        let mut record = sample();
        record.email = Some("not-an-email".into());
        assert_eq!(
            invalid(&CustomerSetup::new(vec![record]), true),
            "customers[0].email"
        );

        let mut record = sample();
        record.short_name = Some("S".repeat(21));
        assert_eq!(
            invalid(&CustomerSetup::new(vec![record]), true),
            "customers[0].short_name"
        );

        let mut record = sample();
        record.sold_to = Some(Address {
            lines: vec![
                "1".into(),
                "2".into(),
                "3".into(),
                "4".into(),
                "5".into(),
                "6".into(),
            ],
            postal_code: None,
        });
        assert_eq!(
            invalid(&CustomerSetup::new(vec![record]), true),
            "customers[0].sold_to.lines"
        );

        let mut record = sample();
        record.ship_to = Some(Address {
            lines: vec!["L".repeat(41)],
            postal_code: None,
        });
        assert_eq!(
            invalid(&CustomerSetup::new(vec![record]), true),
            "customers[0].ship_to.lines[0]"
        );

        assert_eq!(invalid(&CustomerSetup::new(vec![]), false), "customers");
    }

    #[test]
    fn parses_lower_case_output() {
        let result = CustomerSetupResult::parse(&fixture("arsscs_ok.xml")).unwrap();
        assert_eq!(result.customers.len(), 1);
        assert_eq!(result.customers[0].customer.as_deref(), Some("WEB000042"));
        assert_eq!(result.records_read, Some(1));
        assert_eq!(result.records_invalid, Some(0));
        assert!(result.is_success());
    }

    #[test]
    fn parses_rejected_customer_with_nested_error() {
        let result = CustomerSetupResult::parse(&fixture("arsscs_error.xml")).unwrap();
        assert!(!result.is_success());
        let errors: Vec<_> = result.errors().collect();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "customer");
        assert_eq!(errors[0].value.as_deref(), Some("WEB000042"));
        assert_eq!(errors[0].number.as_deref(), Some("110032"));
        assert_eq!(result.records_invalid, Some(1));
    }
}
