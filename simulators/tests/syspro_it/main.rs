//! Integration tests of the fake SYSPRO, over raw HTTP and hand-written XML (no SDK), so that
//! they check the wire format the documents describe.

mod business_objects;
mod faults;
mod gen_transaction;
mod odata;
mod sessions;

use std::time::Duration;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use simulators::syspro::{SysproCredentials, SysproSim, SysproSimConfig};

pub(crate) const INVALID_SESSION: &str = "ERROR: The supplied UserID is invalid. Either you were \
not logged in; or your session has expired. You will need to logon again.";

/// A quiet configuration with a fixed company date.
pub(crate) fn config() -> SysproSimConfig {
    SysproSimConfig {
        seed: 7,
        company_date: Some(time::macros::date!(2026 - 03 - 15)),
        history_invoices: 10,
        ..SysproSimConfig::default()
    }
}

/// A running fake and a raw HTTP client for it.
pub(crate) struct Harness {
    pub sim: SysproSim,
    pub http: reqwest::Client,
    pub creds: SysproCredentials,
}

pub(crate) fn enc(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// Decodes an e.net answer as Windows-1252.
pub(crate) fn cp1252(bytes: &[u8]) -> String {
    encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned()
}

/// Trimmed texts of every `<tag>...</tag>` in a document (leaf elements only).
pub(crate) fn texts(xml: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(after[..end].trim().to_owned());
        rest = &after[end + close.len()..];
    }
    out
}

impl Harness {
    pub(crate) async fn start(config: SysproSimConfig) -> Harness {
        let sim = SysproSim::start(config).await.expect("fake SYSPRO starts");
        let creds = sim.credentials();
        Harness {
            sim,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
            creds,
        }
    }

    pub(crate) async fn default() -> Harness {
        Self::start(config()).await
    }

    /// GET an e.net path with query parameters; returns status and raw body.
    pub(crate) async fn get_raw(&self, path: &str, params: &[(&str, &str)]) -> (u16, Vec<u8>) {
        let query: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        let url = format!("{}/{path}?{}", self.sim.enet_url(), query.join("&"));
        let response = self.http.get(url).send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.bytes().await.expect("body").to_vec())
    }

    /// GET an e.net path and decode the answer (asserting HTTP 200).
    pub(crate) async fn get(&self, path: &str, params: &[(&str, &str)]) -> String {
        let (status, body) = self.get_raw(path, params).await;
        assert_eq!(status, 200, "e.net answers HTTP 200: {}", cp1252(&body));
        cp1252(&body)
    }

    pub(crate) async fn logon(&self) -> String {
        let body = self
            .get(
                "Logon",
                &[
                    ("Operator", &self.creds.operator),
                    ("OperatorPassword", &self.creds.operator_password),
                    ("CompanyId", &self.creds.company_id),
                    ("CompanyPassword", &self.creds.company_password),
                ],
            )
            .await;
        assert!(!body.starts_with("ERROR"), "logon failed: {body}");
        body.trim().to_owned()
    }

    pub(crate) async fn post(&self, id: &str, bo: &str, params: &str, doc: &str) -> String {
        self.get(
            "Transaction/Post",
            &[
                ("UserId", id),
                ("BusinessObject", bo),
                ("XmlParameters", params),
                ("XmlIn", doc),
            ],
        )
        .await
    }

    pub(crate) async fn setup(
        &self,
        method: &str,
        id: &str,
        bo: &str,
        params: &str,
        doc: &str,
    ) -> String {
        self.get(
            &format!("Setup/{method}"),
            &[
                ("UserId", id),
                ("BusinessObject", bo),
                ("XmlParameters", params),
                ("XmlIn", doc),
            ],
        )
        .await
    }

    pub(crate) async fn query(&self, id: &str, bo: &str, xml_in: &str) -> String {
        self.get(
            "Query/Query",
            &[("UserId", id), ("BusinessObject", bo), ("XmlIn", xml_in)],
        )
        .await
    }

    /// POST to /Transaction/PostLD with the documented body.
    pub(crate) async fn post_ld(
        &self,
        id: &str,
        bo: &str,
        params: &str,
        doc: &str,
    ) -> reqwest::Result<String> {
        let body = format!(
            "<TransactionPostLD xmlns=\"http://SYSPROWcfService\"><UserId>{id}</UserId>\
<BusinessObject>{bo}</BusinessObject><XmlParameters><![CDATA[{params}]]></XmlParameters>\
<XmlIn><![CDATA[{doc}]]></XmlIn></TransactionPostLD>"
        );
        let response = self
            .http
            .post(format!("{}/Transaction/PostLD", self.sim.enet_url()))
            .header("Content-Type", "application/xml")
            .body(body)
            .send()
            .await?;
        Ok(cp1252(&response.bytes().await?))
    }

    pub(crate) async fn sim_get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}/__sim/{path}", self.sim.base_url()))
            .send()
            .await
            .expect("inspection request");
        response.json().await.expect("inspection JSON")
    }

    pub(crate) async fn sim_send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Value,
    ) -> (u16, Value) {
        let response = self
            .http
            .request(method, format!("{}/__sim/{path}", self.sim.base_url()))
            .json(&body)
            .send()
            .await
            .expect("inspection request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Invoices in the ledger for one customer, as `(invoice, value)`.
    pub(crate) async fn ledger_invoices(&self, customer: &str) -> Vec<(String, String)> {
        self.sim_get("invoices")
            .await
            .as_array()
            .expect("array")
            .iter()
            .filter(|i| i["customer"] == customer)
            .map(|i| {
                (
                    i["invoice"].as_str().unwrap_or_default().to_owned(),
                    i["invoice_value"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// ARSTIN parameters.
pub(crate) fn arstin_params(validate_only: &str, entire: &str) -> String {
    format!(
        "<PostArInvoices><Parameters><IgnoreWarnings>N</IgnoreWarnings>\
<ApplyIfEntireDocumentValid>{entire}</ApplyIfEntireDocumentValid>\
<ValidateOnly>{validate_only}</ValidateOnly><PostingPeriod>C</PostingPeriod></Parameters></PostArInvoices>"
    )
}

/// One ARSTIN item.
pub(crate) fn arstin_item(customer: &str, invoice: &str, value: &str, class: &str) -> String {
    format!(
        "<Item><TransactionType>I</TransactionType><Customer>{customer}</Customer>\
<GenerateInvoiceNumber>N</GenerateInvoiceNumber><Invoice>{invoice}</Invoice>\
<InvoiceDate>2026-03-14</InvoiceDate><Reference>000000{invoice}</Reference>\
<InvoiceValue>{value}</InvoiceValue><TaxValue>1.50</TaxValue><ProductClass>{class}</ProductClass>\
<Branch>WB</Branch></Item>"
    )
}

pub(crate) fn arstin_doc(items: &[String]) -> String {
    format!("<PostArInvoices>{}</PostArInvoices>", items.concat())
}
