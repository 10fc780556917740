//! The read-only OData service.

use serde_json::Value;
use simulators::syspro::SysproSimConfig;

use crate::{Harness, config, enc};

impl Harness {
    async fn odata(&self, resource: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let q: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        let url = format!("{}/{resource}?{}", self.sim.odata_url(), q.join("&"));
        self.odata_url(&url).await
    }

    async fn odata_url(&self, url: &str) -> (u16, Value) {
        let response = self
            .http
            .get(url)
            .basic_auth(&self.creds.odata_username, Some(&self.creds.odata_password))
            .send()
            .await
            .expect("OData request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

fn column(body: &Value, name: &str) -> Vec<String> {
    body["value"]
        .as_array()
        .expect("value array")
        .iter()
        .map(|row| match &row[name] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

#[tokio::test]
async fn odata_needs_basic_auth_and_lists_its_entity_sets() {
    let h = Harness::default().await;
    let anonymous = h
        .http
        .get(format!("{}/ArCustomer", h.sim.odata_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    let wrong = h
        .http
        .get(format!("{}/ArCustomer", h.sim.odata_url()))
        .basic_auth(&h.creds.odata_username, Some("nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let metadata = h
        .http
        .get(format!("{}/$metadata", h.sim.odata_url()))
        .basic_auth(&h.creds.odata_username, Some(&h.creds.odata_password))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for set in ["ArCustomer", "ArInvoice", "GenMaster"] {
        assert!(
            metadata.contains(&format!("<EntitySet Name=\"{set}\"")),
            "{metadata}"
        );
    }
    let (status, _) = h.odata("NoSuchSet", &[]).await;
    assert_eq!(status, 404);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn odata_filters_select_order_and_page() {
    let h = Harness::default().await;
    let (status, body) = h
        .odata(
            "ArCustomer",
            &[
                ("$filter", "Customer eq 'MUELLER' or Customer eq 'CAFEZOE'"),
                ("$select", "Customer,Name"),
                ("$orderby", "Customer desc"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(column(&body, "Customer"), ["MUELLER", "CAFEZOE"]);
    assert_eq!(
        body["value"][0].as_object().unwrap().len(),
        2,
        "$select keeps two columns"
    );
    assert_eq!(body["value"][0]["Name"], "M\u{fc}ller G\u{e4}rten GmbH");

    let (_, body) = h
        .odata(
            "ArCustomer",
            &[
                ("$filter", "contains(Name,'cash') and Branch ne 'MK'"),
                ("$select", "Customer"),
            ],
        )
        .await;
    assert_eq!(column(&body, "Customer"), ["B2BCASH", "WEBCASH"]);

    // '' escapes a quote inside a literal.
    let (_, none) = h
        .odata("ArCustomer", &[("$filter", "Name eq 'O''Brien'")])
        .await;
    assert_eq!(column(&none, "Customer"), Vec::<String>::new());

    let (_, body) = h
        .odata(
            "GenMaster",
            &[
                ("$filter", "AccountType eq 'R' and GlCode ge '00-4100'"),
                ("$select", "GlCode"),
            ],
        )
        .await;
    assert_eq!(column(&body, "GlCode"), ["00-4100", "00-4200", "00-4999"]);

    let (_, body) = h
        .odata(
            "ArInvoice",
            &[
                ("$filter", "OrigInvValue gt 0 and InvoiceDate ge 2025-01-01"),
                ("$top", "3"),
                ("$skip", "1"),
                ("$count", "true"),
            ],
        )
        .await;
    assert_eq!(body["value"].as_array().unwrap().len(), 3, "{body}");
    assert_eq!(body["@odata.count"], 10);
    assert!(body["value"][0]["OrigInvValue"].is_number());
    assert!(
        body["value"][0]["InvoiceDate"]
            .as_str()
            .unwrap()
            .ends_with("T00:00:00Z")
    );

    let (status, error) = h
        .odata("ArInvoice", &[("$filter", "OrigInvValue eq 'x'")])
        .await;
    assert_eq!(status, 400);
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wrong type")
    );
    let (status, _) = h.odata("ArInvoice", &[("$expand", "Lines")]).await;
    assert_eq!(status, 400);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn odata_caps_pages_at_5000_rows_and_links_the_next_page() {
    let h = Harness::start(SysproSimConfig {
        history_invoices: 12_001,
        ..config()
    })
    .await;
    let mut url = format!(
        "{}/ArInvoice?$select=Customer,Invoice&$filter={}",
        h.sim.odata_url(),
        enc("OrigInvValue ge 0")
    );
    let mut sizes = Vec::new();
    let mut seen = std::collections::HashSet::new();
    loop {
        let (status, body) = h.odata_url(&url).await;
        assert_eq!(status, 200);
        let rows = body["value"].as_array().unwrap();
        sizes.push(rows.len());
        for row in rows {
            assert!(
                seen.insert(format!("{}/{}", row["Customer"], row["Invoice"])),
                "no row twice"
            );
        }
        match body["@odata.nextLink"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(sizes, [5000, 5000, 2001]);
    assert_eq!(seen.len(), 12_001);

    let (_, topped) = h
        .odata("ArInvoice", &[("$top", "6000"), ("$select", "Invoice")])
        .await;
    assert_eq!(topped["value"].as_array().unwrap().len(), 5000);
    let next = topped["@odata.nextLink"].as_str().unwrap().to_owned();
    let (_, rest) = h.odata_url(&next).await;
    assert_eq!(
        rest["value"].as_array().unwrap().len(),
        1000,
        "$top is honoured across pages"
    );
    assert!(rest.get("@odata.nextLink").is_none());
    h.sim.shutdown().await;
}
