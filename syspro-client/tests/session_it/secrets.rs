//! Passwords travel only in the Logon request; neither they nor session ids reach errors.

use syspro_client::{Error, LargeDocumentTransport, SysproClient};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, Request, ResponseTemplate};

use crate::support::*;

/// Every form a password could take on the wire.
fn forms(secret: &str) -> Vec<String> {
    let percent = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let form: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    vec![secret.to_owned(), percent, form]
}

fn request_text(request: &Request) -> String {
    let decoded: Vec<String> = request
        .url
        .query_pairs()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let headers: Vec<String> = request
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {v:?}"))
        .collect();
    format!(
        "{} {}\n{}\n{}\n{}",
        request.method,
        request.url,
        decoded.join("&"),
        headers.join("\n"),
        String::from_utf8_lossy(&request.body)
    )
}

fn assert_clean(what: &str, text: &str, session_ids: &[&str]) {
    for secret in [OPERATOR_PASSWORD, COMPANY_PASSWORD] {
        for form in forms(secret) {
            assert!(
                !text.contains(&form),
                "{what} leaks a password ({form}): {text}"
            );
        }
    }
    for id in session_ids {
        assert!(!text.contains(id), "{what} leaks session id {id}: {text}");
    }
}

#[tokio::test]
async fn no_password_leaves_the_logon_request_and_no_error_shows_secrets() {
    let server = server().await;
    // First logon: SESSION-ALPHA; after the invalid-session answer: SESSION-BRAVO.
    logon("SESSION-ALPHA")
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    logon("SESSION-BRAVO").mount(&server).await;
    Mock::given(method("GET"))
        .and(path(rest("Query/Query")))
        .and(query_param("UserId", "SESSION-ALPHA"))
        .respond_with(enet_ok(fixture("enet/invalid_session.txt")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(rest("Query/Query")))
        .and(query_param("UserId", "SESSION-BRAVO"))
        .respond_with(enet_ok("<ok/>"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(rest("Transaction/PostLD")))
        .respond_with(enet_ok(format!(
            "ERROR: posting refused for SESSION-BRAVO using {OPERATOR_PASSWORD}"
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(rest("Setup/Add")))
        .respond_with(ResponseTemplate::new(503).set_body_string(format!(
            "busy; CompanyPassword={COMPANY_PASSWORD} SESSION-BRAVO"
        )))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(rest("Transaction/Post")))
        .respond_with(enet_ok(fixture("enet/not_licensed.txt")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(rest("Logoff")))
        .respond_with(enet_ok("ERROR: cannot log off SESSION-BRAVO"))
        .mount(&server)
        .await;

    let config = config(&server)
        .large_documents(LargeDocumentTransport::Auto {
            url_length_threshold: 1024,
        })
        .build()
        .expect("config");
    assert_clean("config Debug", &format!("{config:?}"), &[]);
    let client = SysproClient::new(config).expect("client");
    assert_clean("client Debug", &format!("{client:?}"), &[]);

    let mut errors: Vec<Error> = Vec::new();
    client
        .query("COMFND", "<Query/>")
        .await
        .expect("query after re-logon");
    let big = format!("<PostArInvoices>{}</PostArInvoices>", "<Item/>".repeat(300));
    errors.push(
        client
            .transaction_post("ARSTIN", "<P/>", &big)
            .await
            .unwrap_err(),
    );
    errors.push(
        client
            .transaction_post("ARSTPY", "<P/>", "<D/>")
            .await
            .unwrap_err(),
    );
    errors.push(
        client
            .setup_add("ARSSCS", "<P/>", "<D/>")
            .await
            .unwrap_err(),
    );
    errors.push(client.close().await.unwrap_err());

    let ids = ["SESSION-ALPHA", "SESSION-BRAVO"];
    for err in &errors {
        assert_clean("error Display", &err.to_string(), &ids);
        assert_clean("error Debug", &format!("{err:?}"), &ids);
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            assert_clean("error source", &cause.to_string(), &ids);
            source = cause.source();
        }
    }
    assert!(
        matches!(errors[0], Error::Rejected { .. }),
        "{:?}",
        errors[0]
    );
    assert!(
        matches!(errors[1], Error::NotLicensed { .. }),
        "{:?}",
        errors[1]
    );
    assert!(
        matches!(errors[2], Error::Status { status: 503, .. }),
        "{:?}",
        errors[2]
    );

    let received = server.received_requests().await.expect("recording");
    let (logons, others): (Vec<_>, Vec<_>) =
        received.iter().partition(|r| r.url.path() == rest("Logon"));
    assert_eq!(logons.len(), 2);
    assert!(
        others.len() >= 6,
        "expected the whole sequence, got {}",
        others.len()
    );
    for request in others {
        assert_clean("request", &request_text(request), &[]);
    }
    // The check above is meaningful: the passwords do travel in the Logon request.
    let logon_text = request_text(logons[0]);
    assert!(logon_text.contains(&format!("OperatorPassword={OPERATOR_PASSWORD}")));
    assert!(logon_text.contains(&format!("CompanyPassword={COMPANY_PASSWORD}")));
}

#[tokio::test]
async fn a_logon_error_echoing_the_password_is_scrubbed() {
    let server = server().await;
    logon(format!(
        "ERROR: Invalid operator password '{OPERATOR_PASSWORD}'"
    ))
    .mount(&server)
    .await;
    let err = client(&server).get_logon_profile().await.unwrap_err();
    assert!(matches!(err, Error::LogonFailed { .. }), "{err:?}");
    assert_clean("logon error", &format!("{err} {err:?}"), &[]);
    assert!(
        err.to_string().contains("Invalid operator password '***'"),
        "{err}"
    );
}
