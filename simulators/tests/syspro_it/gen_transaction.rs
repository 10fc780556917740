//! The `GenTransaction` table: one row per entry of a posted GL journal, over COMFND, COMFCH and
//! OData.

use serde_json::Value;

use crate::{Harness, enc, texts};

const PARAMS: &str = "<PostGlJournal><Parameters><IgnoreWarnings>N</IgnoreWarnings>\
<ApplyIfEntireDocumentValid>N</ApplyIfEntireDocumentValid><ValidateOnly>N</ValidateOnly>\
<ActionType>A</ActionType></Parameters></PostGlJournal>";

fn item(reference: &str, post: &str, date: &str, lines: &[(&str, &str)]) -> String {
    let details: String = lines
        .iter()
        .enumerate()
        .map(|(n, (code, amount))| {
            format!(
                "<JournalDetails><EntryNumber>{}</EntryNumber><LedgerCode>{code}</LedgerCode>\
<EntryAmount>{amount}</EntryAmount><Comment>line {}</Comment></JournalDetails>",
                n + 1,
                n + 1
            )
        })
        .collect();
    format!(
        "<Item><JournalType>N</JournalType><PostJournal>{post}</PostJournal>\
<JournalDate>{date}</JournalDate><JournalReference>{reference}</JournalReference>\
<Notation>Commerce invoice</Notation>{details}</Item>"
    )
}

async fn odata(h: &Harness, query: &[(&str, &str)]) -> (u16, Value) {
    let q: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    let response = h
        .http
        .get(format!(
            "{}/GenTransaction?{}",
            h.sim.odata_url(),
            q.join("&")
        ))
        .basic_auth(&h.creds.odata_username, Some(&h.creds.odata_password))
        .send()
        .await
        .expect("OData request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn posted_journal_entries_are_readable_by_reference_and_date() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let doc = format!(
        "<PostGlJournal>{}{}{}</PostGlJournal>",
        item(
            "WB100001",
            "Y",
            "2026-03-14",
            &[
                ("00-4999", "115.00"),
                ("00-4010", "-100.00"),
                ("00-4100", "-15.00")
            ]
        ),
        item(
            "WB100002",
            "Y",
            "2026-02-27",
            &[("00-4999", "20.00"), ("00-4010", "-20.00")]
        ),
        // Saved but not posted: no GL transactions.
        item(
            "WB100003",
            "N",
            "2026-03-14",
            &[("00-4999", "5.00"), ("00-4010", "-5.00")]
        ),
    );
    let out = h.post(&id, "GENTJL", PARAMS, &doc).await;
    assert_eq!(texts(&out, "JournalsProcessed"), ["3"], "{out}");

    let find = "<Query><TableName>GenTransaction</TableName><ReturnRows>100</ReturnRows>\
<Columns><Column>GlCode</Column><Column>GlYear</Column><Column>GlPeriod</Column>\
<Column>Journal</Column><Column>EntryNumber</Column><Column>TransactionDate</Column>\
<Column>Reference</Column><Column>EntryValue</Column></Columns><Where><Expression>\
<OpenBracket>(</OpenBracket><Column>Reference</Column><Condition>EQ</Condition>\
<Value>WB100001</Value><CloseBracket>)</CloseBracket></Expression></Where>\
<OrderBy><Column>EntryNumber</Column></OrderBy></Query>";
    let out = h.query(&id, "COMFND", find).await;
    assert!(out.contains("<GenTransaction"), "{out}");
    assert_eq!(texts(&out, "GlCode"), ["00-4999", "00-4010", "00-4100"]);
    assert_eq!(texts(&out, "EntryValue"), ["115.00", "-100.00", "-15.00"]);
    assert_eq!(texts(&out, "GlYear"), ["2026", "2026", "2026"]);
    assert_eq!(texts(&out, "GlPeriod"), ["3", "3", "3"]);
    assert_eq!(texts(&out, "Journal"), ["1", "1", "1"]);
    assert_eq!(texts(&out, "TransactionDate")[0], "2026-03-14");
    assert_eq!(texts(&out, "RowsReturned"), ["3"]);

    let unposted = h
        .query(&id, "COMFND", &find.replace("WB100001", "WB100003"))
        .await;
    assert_eq!(texts(&unposted, "RowsReturned"), ["0"], "{unposted}");

    let fetch = "<Fetch><TableName>GenTransaction</TableName><Key>2026</Key>\
<OptionalKey1>3</OptionalKey1><OptionalKey2>1</OptionalKey2><OptionalKey3>2</OptionalKey3></Fetch>";
    let out = h
        .get("Query/Fetch", &[("UserId", &id), ("XmlIn", fetch)])
        .await;
    assert_eq!(texts(&out, "GlCode"), ["00-4010"], "{out}");

    let (status, body) = odata(
        &h,
        &[
            (
                "$filter",
                "TransactionDate ge 2026-03-01 and TransactionDate le 2026-03-31",
            ),
            ("$orderby", "Reference,EntryNumber"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rows = body["value"].as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{body}");
    assert_eq!(rows[0]["Reference"], "WB100001");
    assert_eq!(rows[1]["EntryValue"], serde_json::json!(-100.0));
    assert_eq!(rows[2]["TransactionDate"], "2026-03-14T00:00:00Z");

    let (status, body) = odata(&h, &[("$filter", "Reference eq 'WB100002'")]).await;
    assert_eq!(status, 200);
    assert_eq!(body["value"].as_array().map(Vec::len), Some(2));

    let metadata = h
        .http
        .get(format!("{}/$metadata", h.sim.odata_url()))
        .basic_auth(&h.creds.odata_username, Some(&h.creds.odata_password))
        .send()
        .await
        .expect("metadata")
        .text()
        .await
        .expect("text");
    assert!(metadata.contains("<EntitySet Name=\"GenTransaction\""));
    h.sim.shutdown().await;
}
