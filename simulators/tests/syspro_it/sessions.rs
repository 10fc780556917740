//! Logon, logoff, eviction, expiry, encoding, paths and the URL limit.

use std::time::Duration;

use simulators::syspro::SysproSimConfig;

use crate::{Harness, INVALID_SESSION, arstin_doc, arstin_item, arstin_params, config, texts};

const COMFND_MUELLER: &str = "<Query><TableName>ArCustomer</TableName><ReturnRows>10</ReturnRows>\
<Columns><Column>Customer</Column><Column>Name</Column></Columns><Where><Expression>\
<OpenBracket>(</OpenBracket><Column>Customer</Column><Condition>EQ</Condition><Value>MUELLER</Value>\
<CloseBracket>)</CloseBracket></Expression></Where></Query>";

#[tokio::test]
async fn logon_gives_an_opaque_padded_id_and_logoff_ends_the_session() {
    let h = Harness::default().await;
    let (status, raw) = h
        .get_raw(
            "Logon",
            &[
                ("Operator", &h.creds.operator),
                ("OperatorPassword", &h.creds.operator_password),
                ("CompanyId", &h.creds.company_id),
                ("CompanyPassword", &h.creds.company_password),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let body = String::from_utf8(raw).unwrap();
    assert!(
        body.ends_with("  "),
        "id keeps SYSPRO's two trailing spaces"
    );
    let id = body.trim();
    assert_eq!(id.len(), 34);
    assert!(id.chars().all(|c| c.is_ascii_hexdigit()));

    // The untrimmed id is accepted as well as the trimmed one.
    let profile = h.get("GetLogonProfile", &[("UserId", &body)]).await;
    assert!(profile.contains("<UserInfo>"), "{profile}");
    assert_eq!(
        texts(&profile, "OperatorCode"),
        std::slice::from_ref(&h.creds.operator)
    );

    assert_eq!(h.get("Logoff", &[("UserId", id)]).await, "0");
    let after = h.query(id, "COMFND", COMFND_MUELLER).await;
    assert_eq!(after, INVALID_SESSION);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn bad_credentials_answer_error_text_with_http_200() {
    let h = Harness::default().await;
    let cases = [
        (
            h.creds.operator.as_str(),
            "wrong",
            h.creds.company_id.as_str(),
            h.creds.company_password.as_str(),
            "ERROR: Invalid operator password",
        ),
        (
            "NOBODY",
            "",
            h.creds.company_id.as_str(),
            h.creds.company_password.as_str(),
            "ERROR: Operator 'NOBODY' not found",
        ),
        (
            h.creds.operator.as_str(),
            h.creds.operator_password.as_str(),
            h.creds.company_id.as_str(),
            "nope",
            "ERROR: Invalid company password",
        ),
        (
            h.creds.operator.as_str(),
            h.creds.operator_password.as_str(),
            "ZZZ",
            h.creds.company_password.as_str(),
            "ERROR: Company 'ZZZ' not found",
        ),
    ];
    for (operator, password, company, company_password, expected) in cases {
        let body = h
            .get(
                "Logon",
                &[
                    ("Operator", operator),
                    ("OperatorPassword", password),
                    ("CompanyId", company),
                    ("CompanyPassword", company_password),
                ],
            )
            .await;
        assert_eq!(body, expected);
    }
    assert_eq!(
        h.get("Query/Query", &[("UserId", "")]).await,
        INVALID_SESSION
    );
    assert_eq!(
        h.get(
            "Query/Query",
            &[
                ("UserId", "0123456789ABCDEF0123456789ABCDEF01"),
                ("BusinessObject", "COMFND")
            ]
        )
        .await,
        INVALID_SESSION
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn a_second_logon_evicts_the_first_session() {
    let h = Harness::default().await;
    let first = h.logon().await;
    let second = h.logon().await;
    assert_ne!(first, second);
    assert_eq!(
        h.query(&first, "COMFND", COMFND_MUELLER).await,
        INVALID_SESSION
    );
    assert!(
        h.query(&second, "COMFND", COMFND_MUELLER)
            .await
            .contains("<Row>")
    );
    let stats = h.sim.stats();
    let op = &stats.operators[&h.creds.operator];
    assert_eq!((op.logons, op.evictions, op.session_open), (2, 1, true));

    // Another operator has its own session.
    let admin = h
        .get(
            "Logon",
            &[
                ("Operator", "ADMIN"),
                ("OperatorPassword", ""),
                ("CompanyId", &h.creds.company_id),
                ("CompanyPassword", &h.creds.company_password),
            ],
        )
        .await;
    assert!(
        h.query(admin.trim(), "COMFND", COMFND_MUELLER)
            .await
            .contains("<Row>")
    );
    assert!(
        h.query(&second, "COMFND", COMFND_MUELLER)
            .await
            .contains("<Row>")
    );

    // FailWhenAlreadyLoggedIn=Y refuses instead of evicting.
    let refused = h
        .get(
            "Logon",
            &[
                ("Operator", &h.creds.operator),
                ("OperatorPassword", &h.creds.operator_password),
                ("CompanyId", &h.creds.company_id),
                ("CompanyPassword", &h.creds.company_password),
                (
                    "XmlIn",
                    "<Logon><FailWhenAlreadyLoggedIn>Y</FailWhenAlreadyLoggedIn></Logon>",
                ),
            ],
        )
        .await;
    assert!(refused.starts_with("ERROR:"), "{refused}");
    assert!(
        h.query(&second, "COMFND", COMFND_MUELLER)
            .await
            .contains("<Row>")
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn an_idle_session_expires() {
    let h = Harness::start(SysproSimConfig {
        idle_timeout: Duration::from_millis(300),
        ..config()
    })
    .await;
    let id = h.logon().await;
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(
            h.query(&id, "COMFND", COMFND_MUELLER)
                .await
                .contains("<Row>"),
            "use keeps it alive"
        );
    }
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        h.query(&id, "COMFND", COMFND_MUELLER).await,
        INVALID_SESSION
    );
    h.sim.shutdown().await;
}

#[tokio::test]
async fn output_is_windows_1252_with_a_declaration() {
    let h = Harness::default().await;
    let id = h.logon().await;
    let (_, raw) = h
        .get_raw(
            "Query/Query",
            &[
                ("UserId", &id),
                ("BusinessObject", "COMFND"),
                ("XmlIn", COMFND_MUELLER),
            ],
        )
        .await;
    assert!(raw.starts_with(b"<?xml version=\"1.0\" encoding=\"Windows-1252\"?>"));
    let name = b"M\xfcller G\xe4rten GmbH";
    assert!(
        raw.windows(name.len()).any(|w| w == name),
        "single-byte umlauts"
    );
    assert!(std::str::from_utf8(&raw).is_err(), "not UTF-8");
    h.sim.shutdown().await;
}

#[tokio::test]
async fn paths_ignore_case_and_unknown_paths_are_404() {
    let h = Harness::default().await;
    let url = format!("{}/sysprowcfservice/rest/getversion", h.sim.base_url());
    let version = h.http.get(url).send().await.unwrap().text().await.unwrap();
    assert_eq!(version, "8.0.161");
    let url = format!(
        "{}/SYSPROWCFSERVICE/REST/LOGON?operator={}&operatorpassword={}&companyid={}&companypassword={}",
        h.sim.base_url(),
        crate::enc(&h.creds.operator),
        crate::enc(&h.creds.operator_password),
        crate::enc(&h.creds.company_id),
        crate::enc(&h.creds.company_password)
    );
    let id = h.http.get(url).send().await.unwrap().text().await.unwrap();
    assert!(!id.starts_with("ERROR"), "{id}");
    let (status, _) = h.get_raw("Utilities/Logon", &[]).await;
    assert_eq!(status, 404);
    h.sim.shutdown().await;
}

#[tokio::test]
async fn an_overlong_url_is_refused_and_postld_carries_the_document() {
    let h = Harness::start(SysproSimConfig {
        max_url_len: 4096,
        ..config()
    })
    .await;
    let id = h.logon().await;
    let items: Vec<String> = (0..40)
        .map(|n| arstin_item("C00001", &format!("LD{n:04}"), "10.00", "ECOM"))
        .collect();
    let doc = arstin_doc(&items);
    let params = arstin_params("N", "Y");
    let (status, body) = h
        .get_raw(
            "Transaction/Post",
            &[
                ("UserId", &id),
                ("BusinessObject", "ARSTIN"),
                ("XmlParameters", &params),
                ("XmlIn", &doc),
            ],
        )
        .await;
    assert_eq!(status, 414);
    assert!(String::from_utf8_lossy(&body).contains("Request URL Too Long"));
    assert!(
        h.ledger_invoices("C00001")
            .await
            .iter()
            .all(|(i, _)| !i.starts_with("LD"))
    );

    let out = h.post_ld(&id, "ARSTIN", &params, &doc).await.unwrap();
    assert_eq!(texts(&out, "ItemsProcessed"), ["000040"], "{out}");
    let posted = h.ledger_invoices("C00001").await;
    assert_eq!(
        posted.iter().filter(|(i, _)| i.starts_with("LD")).count(),
        40
    );
    assert_eq!(h.sim.stats().endpoint_calls["Transaction/PostLD"], 1);
    h.sim.shutdown().await;
}
