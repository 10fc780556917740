//! The e.net REST front: request routing (paths matched ignoring case), parameters, sessions,
//! latency, and the transport-level faults (hangs, invalidated sessions, lost answers).

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::state::{OperatorTotals, Session};
use super::{Shared, bo, inspect, odata, xml};

/// SYSPRO's exact text for a session that is unknown, logged off, evicted or expired.
pub(crate) const INVALID_SESSION: &str = "ERROR: The supplied UserID is invalid. Either you were \
not logged in; or your session has expired. You will need to logon again.";

/// The answer for a business object that is not licensed or not registered on the install.
pub(crate) const NOT_LICENSED: &str = "ERROR: e.net exception 100000";

/// The e.net operations the fake serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Logon,
    Logoff,
    GetVersion,
    GetLogonProfile,
    Query,
    Browse,
    Fetch,
    Post,
    PostLd,
    Build,
    SetupAdd,
    SetupUpdate,
    SetupDelete,
}

impl Op {
    fn from_path(lower: &str) -> Option<Op> {
        Some(match lower.trim_end_matches('/') {
            "logon" => Op::Logon,
            "logoff" => Op::Logoff,
            "getversion" => Op::GetVersion,
            "getlogonprofile" => Op::GetLogonProfile,
            "query/query" => Op::Query,
            "query/browse" => Op::Browse,
            "query/fetch" => Op::Fetch,
            "transaction/post" => Op::Post,
            "transaction/postld" => Op::PostLd,
            "transaction/build" => Op::Build,
            "setup/add" => Op::SetupAdd,
            "setup/update" => Op::SetupUpdate,
            "setup/delete" => Op::SetupDelete,
            _ => return None,
        })
    }

    /// The name calls are counted under.
    pub(crate) fn endpoint(self) -> &'static str {
        match self {
            Op::Logon => "Logon",
            Op::Logoff => "Logoff",
            Op::GetVersion => "GetVersion",
            Op::GetLogonProfile => "GetLogonProfile",
            Op::Query => "Query/Query",
            Op::Browse => "Query/Browse",
            Op::Fetch => "Query/Fetch",
            Op::Post => "Transaction/Post",
            Op::PostLd => "Transaction/PostLD",
            Op::Build => "Transaction/Build",
            Op::SetupAdd => "Setup/Add",
            Op::SetupUpdate => "Setup/Update",
            Op::SetupDelete => "Setup/Delete",
        }
    }

    /// Posts and setup writes: the calls whose answer can be lost after the ledger changed.
    fn writes(self) -> bool {
        matches!(
            self,
            Op::Post | Op::PostLd | Op::SetupAdd | Op::SetupUpdate | Op::SetupDelete
        )
    }
}

/// One e.net call's inputs, from the query string or the PostLD body.
#[derive(Debug, Default)]
pub(crate) struct CallInput {
    pub user_id: Option<String>,
    pub business_object: String,
    pub parameters: String,
    pub xml_in: String,
}

/// A plain e.net answer: HTTP 200, `application/octet-stream`, the raw bytes.
pub(crate) fn answer(body: impl Into<Vec<u8>>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Body::from(body.into()),
    )
        .into_response()
}

fn wcf_status(status: StatusCode, message: &str) -> Response {
    let html = format!(
        "<HTML><HEAD><TITLE>Service</TITLE></HEAD><BODY><P>{}</P></BODY></HTML>",
        xml::escape(message)
    );
    (status, [(header::CONTENT_TYPE, "text/html")], html).into_response()
}

fn url_too_long() -> Response {
    let html = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n\
<HTML><HEAD><TITLE>Request URL Too Long</TITLE>\r\n\
<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n\
<BODY><h2>Request URL Too Long</h2>\r\n\
<hr><p>HTTP Error 414. The request URL is too long.</p>\r\n</BODY></HTML>\r\n";
    (
        StatusCode::URI_TOO_LONG,
        [
            (header::CONTENT_TYPE, "text/html; charset=us-ascii"),
            (header::SERVER, "Microsoft-HTTPAPI/2.0"),
        ],
        html,
    )
        .into_response()
}

/// Every request enters here and is routed by path.
pub(crate) async fn entry(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if path.starts_with("/__sim") {
        return inspect::handle(&shared, request).await;
    }
    let target_len = request
        .uri()
        .path_and_query()
        .map_or(path.len(), |p| p.as_str().len());
    if target_len > shared.max_url_len {
        return url_too_long();
    }
    let lower = path.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("/sysprowcfservice/rest/") {
        return match Op::from_path(rest) {
            Some(op) => enet(&shared, op, request).await,
            None => wcf_status(StatusCode::NOT_FOUND, "Endpoint not found."),
        };
    }
    if lower.starts_with(&odata::SERVICE_PREFIX.to_ascii_lowercase()) {
        return odata::handle(&shared, request).await;
    }
    (StatusCode::NOT_FOUND, "Not found").into_response()
}

fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

/// Decodes a request body: UTF-8 when it is, otherwise Windows-1252.
fn decode_body(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}

fn postld_input(body: &[u8]) -> Result<CallInput, String> {
    let root = xml::parse(&decode_body(body))?;
    if root.name != "TransactionPostLD" {
        return Err(format!(
            "expected a TransactionPostLD document, found '{}'",
            root.name
        ));
    }
    Ok(CallInput {
        user_id: root.text_of("UserId").map(str::to_owned),
        business_object: root.field("BusinessObject").to_owned(),
        parameters: root
            .child("XmlParameters")
            .map(|n| n.text.clone())
            .unwrap_or_default(),
        xml_in: root
            .child("XmlIn")
            .map(|n| n.text.clone())
            .unwrap_or_default(),
    })
}

/// Number of document items, which drives the per-item latency.
fn count_items(xml_in: &str) -> u64 {
    let mut n = 0;
    for tag in ["<Item>", "<Item ", "<Orders>", "<Orders "] {
        n += xml_in.matches(tag).count() as u64;
    }
    n
}

enum Gate {
    Proceed {
        operator: String,
        session_id: Option<String>,
    },
    Answer(Vec<u8>),
}

async fn enet(shared: &Arc<Shared>, op: Op, request: Request) -> Response {
    let expected_method = if op == Op::PostLd {
        Method::POST
    } else {
        Method::GET
    };
    if request.method() != expected_method {
        return wcf_status(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.");
    }
    let params: Vec<(String, String)> = match Query::try_from_uri(request.uri()) {
        Ok(Query(p)) => p,
        Err(_) => return wcf_status(StatusCode::BAD_REQUEST, "Bad Request"),
    };
    let input = if op == Op::PostLd {
        let body = match axum::body::to_bytes(request.into_body(), 64 * 1024 * 1024).await {
            Ok(b) => b,
            Err(_) => return wcf_status(StatusCode::BAD_REQUEST, "Bad Request"),
        };
        match postld_input(&body) {
            Ok(input) => input,
            Err(message) => {
                count(shared, op, None);
                return answer(format!("ERROR: {message}"));
            }
        }
    } else {
        CallInput {
            user_id: param(&params, "UserId"),
            business_object: param(&params, "BusinessObject").unwrap_or_default(),
            parameters: param(&params, "XmlParameters").unwrap_or_default(),
            xml_in: param(&params, "XmlIn").unwrap_or_default(),
        }
    };
    let business_object = match op {
        Op::Browse => "COMBRW".to_owned(),
        Op::Fetch => "COMFCH".to_owned(),
        _ => input.business_object.trim().to_uppercase(),
    };
    let hang = {
        let mut st = shared.lock();
        count(shared, op, Some((&mut *st, &business_object)));
        let faults = &mut st.faults;
        let hang = if faults.hang_next > 0 {
            faults.hang_next -= 1;
            true
        } else {
            let rate = faults.hang_rate;
            st.rng.chance(rate)
        };
        hang.then(|| st.faults.hang_ms)
    };
    if let Some(hang_ms) = hang {
        if hang_ms == 0 {
            shared.until_shutdown().await;
            return wcf_status(StatusCode::SERVICE_UNAVAILABLE, "Service shutting down");
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(hang_ms)) => {}
            () = shared.until_shutdown() => {
                return wcf_status(StatusCode::SERVICE_UNAVAILABLE, "Service shutting down");
            }
        }
    }
    if op == Op::GetVersion {
        return answer(bo::VERSION);
    }
    if op == Op::Logon {
        return logon(shared, &params).await;
    }

    let gate = gate(shared, op, &input, &business_object);
    let (operator, session_id) = match gate {
        Gate::Answer(body) => return answer(body),
        Gate::Proceed {
            operator,
            session_id,
        } => (operator, session_id),
    };

    // The service time runs from here: the simulator's own work (reading the document, changing
    // the ledger, writing the answer) happens within it, and the answer leaves when it is over.
    let ends = tokio::time::Instant::now();
    let latency = {
        let st = shared.lock();
        let items = if op.writes() || op == Op::Build {
            count_items(&input.xml_in)
        } else {
            0
        };
        Duration::from_millis(st.faults.latency_ms + st.faults.item_latency_ms * items)
    };
    let ends = ends + latency;

    let (body, lose) = {
        let mut st = shared.lock();
        st.add_busy(&operator, session_id.as_deref(), latency);
        let body = match op {
            Op::Logoff => {
                if let Some(id) = &session_id {
                    st.end_session(id);
                }
                b"0".to_vec()
            }
            Op::GetLogonProfile => bo::logon_profile(&st, &operator, &shared.credentials),
            _ => bo::run(&mut st, op, &business_object, &input),
        };
        let lose = op.writes() && {
            let faults = &mut st.faults;
            if faults.lose_answer_next > 0 {
                faults.lose_answer_next -= 1;
                true
            } else {
                let rate = faults.lose_answer_rate;
                st.rng.chance(rate)
            }
        };
        (body, lose.then(|| st.faults.lose_answer_mode))
    };
    tokio::time::sleep_until(ends).await;
    match lose {
        None => answer(body),
        Some(super::LostAnswerMode::Drop) => dropped_connection(),
        Some(super::LostAnswerMode::Hang) => {
            shared.until_shutdown().await;
            wcf_status(StatusCode::SERVICE_UNAVAILABLE, "Service shutting down")
        }
    }
}

/// A response whose body fails before any byte is written: the server closes the connection and
/// the client sees a transport error, with the ledger already changed.
fn dropped_connection() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other("answer lost"))
    });
    (StatusCode::OK, Body::from_stream(stream)).into_response()
}

fn count(shared: &Shared, op: Op, st: Option<(&mut super::state::State, &str)>) {
    match st {
        Some((st, business_object)) => {
            st.count_endpoint(op.endpoint());
            if !business_object.is_empty() {
                st.count_business_object(op.endpoint(), business_object);
            }
        }
        None => shared.lock().count_endpoint(op.endpoint()),
    }
}

/// Session and licence checks for every call that presents a `UserId`.
fn gate(shared: &Shared, op: Op, input: &CallInput, business_object: &str) -> Gate {
    let mut st = shared.lock();
    let Some(id) = input
        .user_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    else {
        return Gate::Answer(INVALID_SESSION.as_bytes().to_vec());
    };
    let now = tokio::time::Instant::now();
    let Some(session) = st.sessions.get(id) else {
        return Gate::Answer(INVALID_SESSION.as_bytes().to_vec());
    };
    if now.duration_since(session.last_used) > shared.idle_timeout {
        st.end_session(id);
        return Gate::Answer(INVALID_SESSION.as_bytes().to_vec());
    }
    st.authenticated_calls += 1;
    let every = st.faults.invalidate_session_every;
    if every > 0 && st.authenticated_calls.is_multiple_of(u64::from(every)) {
        st.end_session(id);
        return Gate::Answer(INVALID_SESSION.as_bytes().to_vec());
    }
    let operator = {
        let session = st.sessions.get_mut(id).expect("session checked above");
        session.last_used = now;
        session.calls += 1;
        session.operator.clone()
    };
    st.operator_totals
        .entry(operator.clone())
        .or_default()
        .calls += 1;
    let needs_business_object = !matches!(op, Op::Logoff | Op::GetLogonProfile);
    if needs_business_object {
        if business_object.is_empty() {
            return Gate::Answer(b"ERROR: Business object name is required".to_vec());
        }
        if st
            .faults
            .unlicensed_business_objects
            .iter()
            .any(|b| b.trim().eq_ignore_ascii_case(business_object))
        {
            return Gate::Answer(NOT_LICENSED.as_bytes().to_vec());
        }
    }
    Gate::Proceed {
        operator,
        session_id: Some(id.to_owned()),
    }
}

async fn logon(shared: &Arc<Shared>, params: &[(String, String)]) -> Response {
    let operator = param(params, "Operator")
        .unwrap_or_default()
        .trim()
        .to_uppercase();
    let operator_password = param(params, "OperatorPassword").unwrap_or_default();
    let company = param(params, "CompanyId").unwrap_or_default();
    let company_password = param(params, "CompanyPassword").unwrap_or_default();
    let xml_in = param(params, "XmlIn").unwrap_or_default();
    let creds = &shared.credentials;

    let expected_password = if operator == creds.operator {
        Some(creds.operator_password.as_str())
    } else {
        shared
            .other_operators
            .iter()
            .find(|(code, _)| *code == operator)
            .map(|(_, p)| p.as_str())
    };
    let check = if !company.trim().eq_ignore_ascii_case(&creds.company_id) {
        Err(format!("ERROR: Company '{}' not found", company.trim()))
    } else if company_password != creds.company_password {
        Err("ERROR: Invalid company password".to_owned())
    } else {
        match expected_password {
            None => Err(format!("ERROR: Operator '{operator}' not found")),
            Some(p) if p != operator_password => Err("ERROR: Invalid operator password".to_owned()),
            Some(_) => Ok(()),
        }
    };
    let fail_when_logged_in = !xml_in.trim().is_empty()
        && xml::parse(&xml_in)
            .map(|n| n.field("FailWhenAlreadyLoggedIn").eq_ignore_ascii_case("Y"))
            .unwrap_or(false);

    let latency = Duration::from_millis(shared.lock().faults.latency_ms);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Err(message) = check {
        return answer(xml::to_windows_1252(&message));
    }
    let mut st = shared.lock();
    let now = tokio::time::Instant::now();
    if let Some(old) = st.operator_sessions.get(&operator).cloned() {
        let still_valid = st
            .sessions
            .get(&old)
            .is_some_and(|s| now.duration_since(s.last_used) <= shared.idle_timeout);
        if fail_when_logged_in && still_valid {
            return answer(format!("ERROR: Operator '{operator}' is already logged in"));
        }
        st.end_session(&old);
        if still_valid {
            st.operator_totals
                .entry(operator.clone())
                .or_default()
                .evictions += 1;
        }
    }
    let id = format!(
        "{:016X}{:016X}{:02X}",
        st.rng.next_u64(),
        st.rng.next_u64(),
        st.rng.below(256)
    );
    st.sessions.insert(
        id.clone(),
        Session {
            operator: operator.clone(),
            last_used: now,
            calls: 0,
            busy: Duration::ZERO,
        },
    );
    st.operator_sessions.insert(operator.clone(), id.clone());
    let totals: &mut OperatorTotals = st.operator_totals.entry(operator.clone()).or_default();
    totals.logons += 1;
    totals.session_busy = Duration::ZERO;
    st.add_busy(&operator, Some(&id), latency);
    // SYSPRO 7 pads the id with two trailing spaces; clients must trim or send it back as is.
    answer(format!("{id}  "))
}
