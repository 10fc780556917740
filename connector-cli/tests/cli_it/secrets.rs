//! No secret ever leaves the vault in readable form: a full life of a connection with trace-level
//! logging (sync with customers created and records halted, replay, ping, status, audit, a wrong
//! SYSPRO password, SYSPRO sessions invalidated mid-run, bearer and IMS authentication), and then
//! every byte the binary printed, the audit entries and the state database are searched for
//! every credential, token, the master key and every SYSPRO session id the fake SYSPRO issued,
//! also in URL-encoded, JSON-escaped and base64 forms. The vault file is searched too.
//!
//! The session ids and IMS tokens are issued by the simulators at run time, so the binary reaches
//! the fake SYSPRO (e.net) and the fake IMS token endpoint through a small recording proxy on
//! loopback that keeps every answer.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::response::Response;
use simulators::Sims;
use simulators::syspro::SysproFaults;

use crate::support::{Run, run_with, scratch, sims, store_credentials, write_config};

// ---- a recording reverse proxy ------------------------------------------------------------------------

/// One request and its answer, as the proxy passed them on.
#[derive(Debug, Clone)]
struct Exchange {
    path_and_query: String,
    status: u16,
    response: Vec<u8>,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
}

impl Proxy {
    /// Starts a proxy to `upstream` (scheme and authority) and returns its own base URL.
    async fn start(upstream: &str) -> (String, Proxy) {
        let proxy = Proxy {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
            exchanges: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(proxy.clone());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        (format!("http://{addr}"), proxy)
    }

    fn exchanges(&self) -> Vec<Exchange> {
        self.exchanges
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every session id SYSPRO issued through this proxy: the answers of successful logons, and
    /// every `UserId` the client presented.
    fn session_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        for exchange in self.exchanges() {
            let (path, query) = exchange
                .path_and_query
                .split_once('?')
                .unwrap_or((&exchange.path_and_query, ""));
            let answer = String::from_utf8_lossy(&exchange.response)
                .trim()
                .to_owned();
            if path.ends_with("/Logon")
                && exchange.status == 200
                && !answer.is_empty()
                && !answer.starts_with("ERROR")
            {
                ids.push(answer.trim_matches('"').trim().to_owned());
            }
            for pair in query.split('&') {
                if let Some(value) = pair.strip_prefix("UserId=") {
                    ids.push(percent_decode(value).trim().to_owned());
                }
            }
        }
        ids.retain(|id| !id.is_empty());
        ids.sort();
        ids.dedup();
        ids
    }

    /// Every `access_token` the IMS token endpoint handed out through this proxy.
    fn issued_tokens(&self) -> Vec<String> {
        self.exchanges()
            .iter()
            .filter(|e| e.path_and_query.contains("/ims/token"))
            .filter_map(|e| serde_json::from_slice::<serde_json::Value>(&e.response).ok())
            .filter_map(|v| v["access_token"].as_str().map(str::to_owned))
            .collect()
    }
}

async fn forward(State(proxy): State<Proxy>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), ToString::to_string);
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).unwrap();
    let mut upstream = proxy
        .http
        .request(method, format!("{}{path_and_query}", proxy.upstream))
        .body(body.to_vec());
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            upstream = upstream.header(name.as_str(), value.as_bytes());
        }
    }
    let (status, headers, response) = match upstream.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let headers: Vec<(String, Vec<u8>)> = answer
                .headers()
                .iter()
                .map(|(n, v)| (n.as_str().to_owned(), v.as_bytes().to_vec()))
                .collect();
            let bytes = answer.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            (status, headers, bytes)
        }
        // The fake dropped the connection (a lost answer): the client sees a gateway error.
        Err(_) => (502, Vec::new(), Vec::new()),
    };
    proxy
        .exchanges
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Exchange {
            path_and_query,
            status,
            response: response.clone(),
        });
    let mut answer = Response::builder().status(StatusCode::from_u16(status).unwrap());
    for (name, value) in headers {
        if !matches!(
            name.as_str(),
            "content-length" | "transfer-encoding" | "connection"
        ) {
            answer = answer.header(HeaderName::from_bytes(name.as_bytes()).unwrap(), value);
        }
    }
    answer.body(Body::from(response)).unwrap()
}

// ---- the forms a secret can take ------------------------------------------------------------------------

const BASE64_STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8], url_safe: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            let index = ((n >> (18 - 6 * i)) & 63) as usize;
            let c = char::from(BASE64_STANDARD[index]);
            out.push(match (url_safe, c) {
                (true, '+') => '-',
                (true, '/') => '_',
                _ => c,
            });
        }
    }
    out
}

fn base64_decode(text: &str) -> Vec<u8> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.trim().bytes().take_while(|b| *b != b'=') {
        let Some(value) = BASE64_STANDARD.iter().position(|b| *b == c) else {
            continue;
        };
        bits = (bits << 6) | value as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

fn percent_encode(text: &str, space_as_plus: bool, lower: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' if space_as_plus => out.push('+'),
            _ if lower => out.push_str(&format!("%{b:02x}")),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every form of `secret` worth searching for: as it is, URL-encoded (both hex cases, `+` or
/// `%20` for spaces), JSON-escaped, and base64 (standard and URL-safe) at each of the three byte
/// alignments it can have inside a longer encoded text (as in `Basic base64(user:password)`).
fn forms(secret: &str) -> Vec<String> {
    let mut out = vec![
        secret.to_owned(),
        percent_encode(secret, false, false),
        percent_encode(secret, true, false),
        percent_encode(secret, false, true),
        serde_json::to_string(secret)
            .unwrap()
            .trim_matches('"')
            .to_owned(),
    ];
    for offset in 0..3usize {
        let mut bytes = vec![0u8; offset];
        bytes.extend_from_slice(secret.as_bytes());
        for url_safe in [false, true] {
            let encoded = base64(&bytes, url_safe);
            // Characters that mix in bytes before or after the secret are not stable.
            let skip = match offset {
                0 => 0,
                1 => 2,
                _ => 3,
            };
            let stable_end = ((offset + secret.len()) / 3) * 4;
            if stable_end > skip + 6 {
                out.push(encoded[skip..stable_end].to_owned());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// A named secret and everything it may look like.
struct Needle {
    what: String,
    forms: Vec<String>,
    raw: Option<Vec<u8>>,
}

impl Needle {
    fn text(what: impl Into<String>, secret: &str) -> Needle {
        assert!(
            secret.len() >= 6,
            "secrets under test are long enough to search for"
        );
        Needle {
            what: what.into(),
            forms: forms(secret),
            raw: None,
        }
    }

    /// Where in `haystack` (bytes) any form of this secret occurs.
    fn find_in(&self, haystack: &[u8]) -> Option<(String, usize)> {
        for form in &self.forms {
            if let Some(at) = find(haystack, form.as_bytes()) {
                return Some((form.clone(), at));
            }
        }
        if let Some(raw) = &self.raw
            && let Some(at) = find(haystack, raw)
        {
            return Some(("<raw bytes>".to_owned(), at));
        }
        None
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Fails naming the secret, where it was found and the text around it.
fn assert_absent(needles: &[Needle], label: &str, haystack: &[u8]) {
    for needle in needles {
        if let Some((form, at)) = needle.find_in(haystack) {
            let start = at.saturating_sub(200);
            let end = (at + form.len() + 200).min(haystack.len());
            panic!(
                "{} leaked into {label} as {form:?}:\n…{}…",
                needle.what,
                String::from_utf8_lossy(&haystack[start..end])
            );
        }
    }
}

// ---- running the binary ------------------------------------------------------------------------------

/// Everything the binary printed, per command.
#[derive(Default)]
struct Transcript {
    runs: Vec<(String, Run)>,
}

impl Transcript {
    /// Runs `args` with trace logging and keeps what it printed.
    async fn run(&mut self, dir: &Path, args: &[&str]) -> &Run {
        self.run_with_env(dir, args, &[]).await
    }

    async fn run_with_env(&mut self, dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> &Run {
        let dir = dir.to_path_buf();
        let owned: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
        let envs: Vec<(String, String)> = envs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let run = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = owned.iter().map(String::as_str).collect();
            let mut envs: Vec<(&str, &str)> =
                envs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            envs.push(("RUST_LOG", "trace"));
            run_with(&dir, &args, "", &envs)
        })
        .await
        .unwrap();
        self.runs.push((args.join(" "), run));
        &self.runs.last().unwrap().1
    }

    /// Commands whose standard error shows no trace-level line although `RUST_LOG=trace` was set.
    fn without_trace(&self) -> Vec<String> {
        self.runs
            .iter()
            .filter(|(_, r)| !r.stderr.contains("TRACE") && !r.stderr.contains("\"TRACE\""))
            .map(|(args, _)| args.clone())
            .collect()
    }
}

/// What a run printed, with only the end of its (trace-level, long) standard error.
fn brief(run: &Run) -> String {
    let cut = run.stderr.len().saturating_sub(4000);
    let cut = (cut..=run.stderr.len())
        .find(|i| run.stderr.is_char_boundary(*i))
        .unwrap_or(0);
    format!(
        "exit {}\nstdout:\n{}\nstderr (end):\n{}",
        run.code,
        run.stdout,
        &run.stderr[cut..]
    )
}

/// Sets one vault entry through `credentials set`.
async fn set_credential(dir: &Path, name: &str, value: &str) {
    let dir = dir.to_path_buf();
    let (name, value) = (name.to_owned(), value.to_owned());
    tokio::task::spawn_blocking(move || {
        let r = run_with(
            &dir,
            &["credentials", "set", "shop", &name, "--from-stdin"],
            &value,
            &[],
        );
        assert_eq!(r.code, 0, "{r:#?}");
    })
    .await
    .unwrap();
}

async fn post_json(url: &str, body: serde_json::Value) -> serde_json::Value {
    reqwest::Client::new()
        .post(url)
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A configuration for `sims` whose e.net calls go through `enet_proxy`.
fn write_proxied_config(dir: &Path, sims: &Sims, enet_proxy: &str, mapping_extra: &str) {
    write_config(dir, sims, None, mapping_extra);
    let path = dir.join("ml-connector.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let enet = sims.syspro.enet_url();
    let enet_path = enet.splitn(4, '/').nth(3).unwrap_or_default();
    let config = config.replace(
        &format!("enet_url = \"{enet}\""),
        &format!("enet_url = \"{enet_proxy}/{enet_path}\""),
    );
    assert!(
        config.contains(enet_proxy),
        "the e.net URL goes through the proxy"
    );
    std::fs::write(&path, config).unwrap();
}

/// The main connection's Commerce auth replaced by `auth` (a `[connection.commerce.auth]` body).
fn replace_commerce_auth(dir: &Path, flavour: &str, auth: &str) {
    let path = dir.join("ml-connector.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    let start = config.find("[connection.commerce.auth]").unwrap();
    let end = config.find("[[connection.commerce.stores]]").unwrap();
    let mut config = format!(
        "{}[connection.commerce.auth]\n{auth}\n{}",
        &config[..start],
        &config[end..]
    );
    config = config.replace("flavour = \"paas\"", &format!("flavour = \"{flavour}\""));
    std::fs::write(&path, config).unwrap();
}

// ---- the test ----------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_appears_in_any_output_log_audit_entry_or_the_vault() {
    let sims = sims(40).await;
    let syspro_origin = sims.syspro.base_url();
    let (enet_proxy, syspro_proxy) = Proxy::start(&syspro_origin).await;
    let dir = scratch("secrets");
    write_proxied_config(&dir, &sims, &enet_proxy, "");
    store_credentials(&dir, &sims, None).await;
    let mut out = Transcript::default();

    // A healthy life: checks, a dry run, a sync that creates customers and halts what cannot be
    // mapped, status and the audit trail.
    for args in [
        &["ping"][..],
        &["--json", "ping"],
        &["mapping", "check"],
        &["credentials", "list"],
        &["--json", "credentials", "list"],
        &["--json", "sync", "--once", "--dry-run"],
        &["--json", "sync", "--once"],
        &["--log-format", "json", "-vvv", "sync", "--once"],
        &["status"],
        &["--json", "status"],
        &["audit", "list"],
    ] {
        out.run(&dir, args).await;
    }
    let synced = &out.runs[6].1;
    // 3: done, with records waiting for a person (the halted ones).
    assert!(matches!(synced.code, 0 | 3), "{}", brief(synced));
    assert!(
        synced.json()["connections"][0]["posted"]
            .as_u64()
            .unwrap_or(0)
            > 10,
        "{}",
        brief(synced)
    );
    let created: serde_json::Value = reqwest::get(format!("{syspro_origin}/__sim/customers"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        created.to_string().contains("\"ML0"),
        "the sync created customers in SYSPRO: {created}"
    );

    // Halted records: replay one before the fix, then all after it.
    let halted = out
        .run(&dir, &["--json", "audit", "list", "--status", "halted"])
        .await
        .json();
    let halted: Vec<String> = halted["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"].as_str().unwrap().to_owned())
        .collect();
    assert!(!halted.is_empty(), "the simulated shop has clearance SKUs");
    out.run(&dir, &["replay", &halted[0]]).await;
    let mut mapping = std::fs::read_to_string(dir.join("mapping.toml")).unwrap();
    mapping.push_str("\n[[revenue]]\nsku_prefix = \"CLR-\"\naccount = \"00-4010\"\n");
    std::fs::write(dir.join("mapping.toml"), mapping).unwrap();
    let replayed = out.run(&dir, &["--json", "replay", "--all-halted"]).await;
    assert_eq!(replayed.code, 0, "{}", brief(replayed));

    // SYSPRO sessions invalidated mid-run, and a post whose answer is lost, on new documents.
    let commerce = sims.commerce.base_url();
    for not_in_erp in [true, false, true] {
        post_json(
            &format!("{commerce}/__sim/orders"),
            serde_json::json!({ "invoice": true, "not_in_erp": not_in_erp }),
        )
        .await;
    }
    let sessions_before = syspro_proxy.session_ids().len();
    sims.syspro.set_faults(SysproFaults {
        invalidate_session_every: 3,
        lose_answer_next: 1,
        ..SysproFaults::default()
    });
    out.run(&dir, &["--json", "sync", "--once"]).await;
    out.run(&dir, &["sync", "--once"]).await;
    sims.syspro.set_faults(SysproFaults::default());
    assert!(
        syspro_proxy.session_ids().len() >= sessions_before + 2,
        "the invalidated sessions were replaced by new ones"
    );
    out.run(&dir, &["sync", "--once"]).await;

    // A wrong SYSPRO operator password: the logon fails and says so, without the password.
    let wrong_password = "Wr0ng-Pa$$ w0rd&=/+";
    set_credential(&dir, "syspro.operator_password", wrong_password).await;
    let ping = out.run(&dir, &["ping"]).await;
    assert_eq!(ping.code, 1, "{}", brief(ping));
    let failed = out.run(&dir, &["--json", "sync", "--once"]).await;
    assert_ne!(failed.code, 0, "{}", brief(failed));
    out.run(&dir, &["sync", "--once"]).await;
    set_credential(
        &dir,
        "syspro.operator_password",
        &sims.syspro.credentials().operator_password,
    )
    .await;

    // Every record's full audit trail, as JSON and as text.
    let all = out.run(&dir, &["--json", "audit", "list"]).await.json();
    let records: Vec<String> = all["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["record"].as_str().unwrap().to_owned())
        .collect();
    assert!(records.len() > 10, "{all:#}");
    for (i, record) in records.iter().enumerate() {
        let show = out.run(&dir, &["--json", "audit", "show", record]).await;
        assert_eq!(show.code, 0, "{}", brief(show));
        if i < 5 {
            out.run(&dir, &["audit", "show", record]).await;
        }
    }

    // Bearer (admin) token and IMS authentication, in their own folders.
    let (ims_proxy_url, ims_proxy) = Proxy::start(&commerce).await;
    let bearer_dir = scratch("secrets-bearer");
    write_proxied_config(&bearer_dir, &sims, &enet_proxy, "");
    replace_commerce_auth(
        &bearer_dir,
        "paas",
        "kind = \"bearer\"\n\n[connection.commerce.auth.secrets]\ntoken = \"commerce.token\"\n",
    );
    store_credentials(&bearer_dir, &sims, None).await;
    set_credential(&bearer_dir, "commerce.token", &sims.commerce.bearer_token()).await;
    let ims = sims.commerce.ims_credentials();
    let ims_dir = scratch("secrets-ims");
    write_proxied_config(&ims_dir, &sims, &enet_proxy, "");
    replace_commerce_auth(
        &ims_dir,
        "saas",
        &format!(
            "kind = \"ims\"\ntoken_url = \"{ims_proxy_url}/ims/token/v3\"\nscopes = [\"{}\"]\n\n\
             [connection.commerce.auth.secrets]\nclient_id = \"commerce.client_id\"\n\
             client_secret = \"commerce.client_secret\"\n",
            ims.scope
                .split([',', ' '])
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("\", \""),
        ),
    );
    store_credentials(&ims_dir, &sims, None).await;
    set_credential(&ims_dir, "commerce.client_id", &ims.client_id).await;
    set_credential(&ims_dir, "commerce.client_secret", &ims.client_secret).await;
    for dir in [&bearer_dir, &ims_dir] {
        for args in [
            &["ping"][..],
            &["--json", "sync", "--once", "--dry-run"],
            &["--json", "status"],
        ] {
            let r = out.run(dir, args).await;
            assert!(
                !r.stdout.contains("credentials accepted") || r.stdout.contains('✔'),
                "{}",
                brief(r)
            );
        }
    }
    let ims_ping = out
        .runs
        .iter()
        .rev()
        .find(|(args, _)| args == "ping")
        .map(|(_, r)| r)
        .unwrap();
    assert_eq!(
        ims_ping.code,
        0,
        "IMS authentication works: {}",
        brief(ims_ping)
    );

    // ---- the secrets ----
    let oauth = sims.commerce.oauth();
    let syspro = sims.syspro.credentials();
    let key_text = std::fs::read_to_string(dir.join("ml-connector.key")).unwrap();
    let mut master_key = Needle::text("the master key", key_text.trim());
    master_key.raw = Some(base64_decode(key_text.trim()));
    let mut needles = vec![
        Needle::text("the Commerce OAuth consumer secret", &oauth.consumer_secret),
        Needle::text("the Commerce OAuth access token", &oauth.access_token),
        Needle::text(
            "the Commerce OAuth access token secret",
            &oauth.access_token_secret,
        ),
        Needle::text(
            "the Commerce admin (bearer) token",
            &sims.commerce.bearer_token(),
        ),
        Needle::text("the IMS client secret", &ims.client_secret),
        Needle::text("the SYSPRO operator password", &syspro.operator_password),
        Needle::text("the SYSPRO company password", &syspro.company_password),
        Needle::text("the SYSPRO OData password", &syspro.odata_password),
        Needle::text("the wrong SYSPRO operator password", wrong_password),
        master_key,
    ];
    for dir in [&bearer_dir, &ims_dir] {
        let key = std::fs::read_to_string(dir.join("ml-connector.key")).unwrap();
        let mut needle = Needle::text("a master key", key.trim());
        needle.raw = Some(base64_decode(key.trim()));
        needles.push(needle);
    }
    let tokens = ims_proxy.issued_tokens();
    assert!(!tokens.is_empty(), "the IMS endpoint issued a token");
    for token in tokens {
        needles.push(Needle::text("an IMS access token", &token));
    }
    let sessions = syspro_proxy.session_ids();
    assert!(
        sessions.len() >= 10,
        "every command logged on: {sessions:?}"
    );
    for session in &sessions {
        needles.push(Needle::text(
            format!("SYSPRO session id {session}"),
            session,
        ));
    }

    // ---- where they must not be ----
    for (args, run) in &out.runs {
        assert_absent(
            &needles,
            &format!("stdout of `{args}`"),
            run.stdout.as_bytes(),
        );
        assert_absent(
            &needles,
            &format!("stderr of `{args}`"),
            run.stderr.as_bytes(),
        );
    }
    for dir in [&dir, &bearer_dir, &ims_dir] {
        let vault = std::fs::read(dir.join("ml-connector.vault")).unwrap();
        assert!(!vault.is_empty());
        assert_absent(&needles, "the vault file", &vault);
        // The state database holds the raw payloads and the audit entries.
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("state.db") {
                assert_absent(&needles, &name, &std::fs::read(&path).unwrap());
            }
        }
    }

    // The search itself works: each secret is found where it legitimately is.
    let plain = format!(
        "Authorization: Basic {}",
        base64(
            format!("WEBINT:{}", syspro.odata_password).as_bytes(),
            false
        )
    );
    assert!(
        needles[7].find_in(plain.as_bytes()).is_some(),
        "a base64 Basic header is recognised"
    );
    let query = format!(
        "?CompanyPassword={}",
        percent_encode(&syspro.company_password, true, false)
    );
    assert!(needles[6].find_in(query.as_bytes()).is_some());

    let silent = out.without_trace();
    if !silent.is_empty() {
        eprintln!("commands that printed no trace-level log line: {silent:#?}");
    }
    assert!(
        silent.len() < out.runs.len(),
        "trace logging reaches standard error"
    );
    sims.shutdown().await;
}
