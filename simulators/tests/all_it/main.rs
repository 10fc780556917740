//! Both fakes together: the library start and the binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use base64::Engine;
use serde_json::Value;
use simulators::{SimConfig, Sims};

fn oauth_get(base: &str, oauth: &Value, path: &str, query: &str) -> (String, String) {
    // A minimal RFC 5849 signer, enough for one call with plain query keys.
    use hmac::{KeyInit, Mac};
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const U: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let enc = |s: &str| utf8_percent_encode(s, U).to_string();
    #[allow(clippy::disallowed_methods)]
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let s = |k: &str| oauth[k].as_str().unwrap_or_default().to_owned();
    let mut params = vec![
        ("oauth_consumer_key".to_owned(), s("consumer_key")),
        ("oauth_nonce".to_owned(), format!("n{ts}{}", path.len())),
        (
            "oauth_signature_method".to_owned(),
            "HMAC-SHA256".to_owned(),
        ),
        ("oauth_timestamp".to_owned(), ts.to_string()),
        ("oauth_token".to_owned(), s("access_token")),
    ];
    let header_params = params.clone();
    for piece in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let dk = percent_encoding::percent_decode_str(k)
            .decode_utf8_lossy()
            .into_owned();
        let dv = percent_encoding::percent_decode_str(v)
            .decode_utf8_lossy()
            .into_owned();
        params.push((dk, dv));
    }
    let mut encoded: Vec<(String, String)> = params.iter().map(|(k, v)| (enc(k), enc(v))).collect();
    encoded.sort();
    let joined = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    let url = format!("{base}{path}");
    let base_string = format!("GET&{}&{}", enc(&url), enc(&joined));
    let key = format!(
        "{}&{}",
        enc(&s("consumer_secret")),
        enc(&s("access_token_secret"))
    );
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key.as_bytes()).expect("key");
    mac.update(base_string.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut parts: Vec<String> = header_params
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", enc(v)))
        .collect();
    parts.push(format!("oauth_signature=\"{}\"", enc(&sig)));
    (
        format!("{url}?{query}"),
        format!("OAuth {}", parts.join(", ")),
    )
}

async fn check_both(info: &Value) {
    let http = reqwest::Client::new();
    let (url, auth) = oauth_get(
        info["commerce_url"].as_str().unwrap_or_default(),
        &info["commerce_oauth"],
        "/rest/V1/orders",
        "searchCriteria%5BpageSize%5D=2",
    );
    let resp = http
        .get(url)
        .header("authorization", auth)
        .send()
        .await
        .expect("commerce answers");
    assert_eq!(resp.status().as_u16(), 200);
    let orders: Value = resp.json().await.expect("json");
    assert_eq!(orders["items"].as_array().map(Vec::len), Some(2));

    let odata = format!(
        "{}/ArCustomer?$filter=Customer%20eq%20'WEB00001'",
        info["syspro_odata_url"].as_str().unwrap_or_default()
    );
    let resp = http
        .get(odata)
        .basic_auth(
            info["odata"]["username"].as_str().unwrap_or_default(),
            info["odata"]["password"].as_str(),
        )
        .send()
        .await
        .expect("syspro answers");
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.expect("odata json");
    let rows = body["value"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        rows.len(),
        1,
        "a Commerce customer was seeded into SYSPRO: {body}"
    );
    assert!(
        rows[0]["Email"]
            .as_str()
            .is_some_and(|e| e.ends_with("@example.com"))
    );
}

const KEYS: &[&str] = &[
    "commerce_oauth",
    "commerce_url",
    "odata",
    "syspro",
    "syspro_enet_url",
    "syspro_odata_url",
    "webhook_public_key_pem",
];

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[tokio::test]
async fn library_start_serves_both() {
    let sims = Sims::start(SimConfig::new(3, 40, std::time::Duration::ZERO))
        .await
        .expect("both start");
    let info = sims.connection_info();
    assert_eq!(keys(&info), KEYS);
    assert!(
        info["syspro_enet_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("/SYSPROWCFService/Rest"))
    );
    assert!(
        info["webhook_public_key_pem"]
            .as_str()
            .is_some_and(|p| p.starts_with("-----BEGIN PUBLIC KEY-----"))
    );
    check_both(&info).await;
    sims.shutdown().await;
}

#[tokio::test]
async fn binary_prints_one_json_line_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_simulators"))
        .args(["--seed", "7", "--orders", "30", "--latency-ms", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    })
    .await
    .expect("reader")
    .expect("one line");
    let info: Value = serde_json::from_str(line.trim()).expect("the line is JSON");
    assert_eq!(keys(&info), KEYS);
    assert_eq!(
        keys(&info["commerce_oauth"]),
        [
            "access_token",
            "access_token_secret",
            "consumer_key",
            "consumer_secret"
        ]
    );
    assert_eq!(
        keys(&info["syspro"]),
        [
            "company_id",
            "company_password",
            "operator",
            "operator_password"
        ]
    );
    assert_eq!(keys(&info["odata"]), ["password", "username"]);
    check_both(&info).await;
    child.kill().expect("stop the binary");
    let _ = child.wait();
}
