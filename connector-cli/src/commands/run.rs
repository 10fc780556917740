//! `run`: the service. Every connection polls on its adaptive schedule; an optional listener takes
//! Commerce webhooks (signature checked before anything is queued) and serves `/healthz` and
//! `/metrics`. SIGINT or SIGTERM stops it gracefully: the batches in hand are finished, webhooks
//! already accepted are taken or queued for the next start, SYSPRO is logged off and the leases
//! are released.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use adobe_commerce_client::webhook::{SIGNATURE_HEADER, parse_invoice_event, parse_order_event};
use adobe_commerce_client::{SignedContent, WebhookVerifier};
use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use connector_core::clock::Clock;
use connector_core::config::Trigger;
use connector_core::engine::{Engine, EngineError, EngineOptions};
use connector_core::state::{
    AnyStore, ConnectionName, EntityKind, HolderId, RecordKey, RecordState, StateStore, StoreError,
};
use connector_core::vault::SecretStore;
use secrecy::ExposeSecret as _;
use serde_json::json;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

use crate::cli::RunArgs;
use crate::context::{Context, connection_name};
use crate::failure::render;

/// One connection as the listener sees it.
struct Endpoint {
    engine: Engine,
    trigger: Trigger,
    webhooks: Webhooks,
}

/// Whether a connection takes webhooks, and how they are verified.
enum Webhooks {
    /// `commerce.webhooks.enabled = false`: answered with 404.
    Disabled,
    /// Enabled, but the vault has no public key under this name: answered with 503.
    NoKey(String),
    /// Enabled and verifiable.
    Verified(WebhookVerifier),
}

/// What the listener's handlers share.
struct App {
    endpoints: BTreeMap<String, Endpoint>,
    store: AnyStore,
    webhooks: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// This worker's name in leases.
    worker: HolderId,
    clock: Arc<dyn Clock>,
    /// The work of accepted webhooks, waited for at shutdown before the store closes.
    tasks: TaskTracker,
}

/// Runs `run`.
pub async fn run(ctx: &Context, args: &RunArgs) -> anyhow::Result<()> {
    let config = ctx.config()?;
    let vault = Arc::new(ctx.vault().await?);
    let store = ctx.store(&config).await?;
    let worker = worker_id(args.worker_id.as_deref())?;
    let options = EngineOptions {
        holder: worker.to_string(),
        lease_ttl: config.store.lease_time.get(),
        ..EngineOptions::default()
    };
    tracing::info!(worker = %worker, store = %store.describe(), "worker starting");
    let mut endpoints = BTreeMap::new();
    for c in &config.connections {
        let engine = worker_engine(
            ctx,
            c,
            &store,
            Arc::clone(&vault) as Arc<dyn SecretStore>,
            options.clone(),
        )
        .await?;
        let webhooks = if c.commerce.webhooks.enabled {
            let key_name = c.commerce.webhooks.public_key_name();
            match vault.get(&connection_name(&c.name)?, key_name).await? {
                Some(pem) => Webhooks::Verified(
                    WebhookVerifier::new(pem.expose_secret(), SignedContent::Either)
                        .with_context(|| format!("the webhook public key of connection {} ({key_name} in the vault) is not an RSA public key", c.name))?,
                ),
                None => {
                    // Only a listener takes webhooks; without one a missing key changes nothing.
                    if args.listen.is_some() {
                        ctx.log.warn(&format!(
                            "connection {}: webhooks will be refused (503) until the Commerce webhook public key is stored: `ml-connector credentials set {} {key_name}`, or set commerce.webhooks.enabled = false (polling finds every change anyway)",
                            c.name, c.name
                        ));
                    }
                    Webhooks::NoKey(key_name.to_owned())
                }
            }
        } else {
            Webhooks::Disabled
        };
        endpoints.insert(
            c.name.clone(),
            Endpoint {
                engine,
                trigger: c.trigger,
                webhooks,
            },
        );
    }
    // Caught from here on, before the service says it listens or runs: a SIGTERM sent as soon as
    // it does stops it gracefully, instead of killing it with the signal's default action. (Until
    // here, while engines are built, a signal still ends the process at once, so a start-up that
    // hangs can be interrupted.)
    let signals = StopSignals::listen()?;
    let listener = match args.listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))?,
        ),
        None => None,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let app = Arc::new(App {
        endpoints,
        store,
        webhooks: Mutex::new(BTreeMap::new()),
        worker,
        clock: Arc::clone(&ctx.clock),
        tasks: TaskTracker::new(),
    });
    let mut loops = Vec::new();
    for endpoint in app.endpoints.values() {
        let engine = endpoint.engine.clone();
        let stop = stop_rx.clone();
        loops.push(tokio::spawn(async move {
            let name = engine.connection().to_string();
            if let Err(e) = engine.run(stop).await {
                tracing::error!(connection = %name, error = %render(&anyhow::Error::new(e)), "connection stopped");
            }
        }));
    }
    let server = match listener {
        Some(listener) => {
            let local: SocketAddr = listener.local_addr()?;
            tracing::info!(address = %local, "listening for webhooks, /healthz and /metrics");
            if !ctx.out.json {
                ctx.log.notice(&format!(
                    "listening on http://{local} (webhooks at /webhooks/CONNECTION, /healthz, /metrics)"
                ));
            }
            let router = Router::new()
                .route("/healthz", get(healthz))
                .route("/metrics", get(metrics))
                .route("/webhooks/{connection}", post(webhook))
                .with_state(Arc::clone(&app));
            let mut stop = stop_rx.clone();
            Some(tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stop.wait_for(|s| *s).await;
                };
                if let Err(e) = axum::serve(listener, router)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    tracing::error!(error = %e, "listener stopped");
                }
            }))
        }
        None => None,
    };
    if !ctx.out.json {
        ctx.log.notice(&format!(
            "running {} connection(s); stop with Ctrl-C or SIGTERM",
            app.endpoints.len()
        ));
    }
    signals.wait().await?;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    for task in loops {
        let _ = task.await;
    }
    if let Some(server) = server {
        let _ = server.await;
    }
    // The listener is closed: no webhook work starts after this. What was accepted ends (taken,
    // or queued for the next start once its engine closed) before the store closes.
    app.tasks.close();
    app.tasks.wait().await;
    app.store.close().await;
    if !ctx.out.json {
        ctx.log.notice("stopped");
    }
    Ok(())
}

/// SIGINT and SIGTERM, caught (on unix) from the moment [`StopSignals::listen`] returns; one that
/// arrives before [`StopSignals::wait`] is kept for it. Elsewhere Ctrl-C is caught from the wait
/// on.
struct StopSignals {
    #[cfg(unix)]
    interrupt: tokio::signal::unix::Signal,
    #[cfg(unix)]
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn listen() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
                terminate: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    async fn wait(self) -> anyhow::Result<()> {
        #[cfg(unix)]
        {
            let Self {
                mut interrupt,
                mut terminate,
            } = self;
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
        }
        #[cfg(not(unix))]
        tokio::signal::ctrl_c()
            .await
            .context("cannot listen for Ctrl-C")?;
        Ok(())
    }
}

async fn healthz(State(app): State<Arc<App>>) -> Response {
    let connections: Vec<&String> = app.endpoints.keys().collect();
    (
        StatusCode::OK,
        axum::Json(json!({ "status": "ok", "connections": connections })),
    )
        .into_response()
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP ml_connector_records Records by state.\n# TYPE ml_connector_records gauge"
    );
    for name in app.endpoints.keys() {
        let Ok(connection) = connection_name(name) else {
            continue;
        };
        if let Ok(counts) = app.store.counts(Some(&connection)).await {
            for state in RecordState::ALL {
                let _ = writeln!(
                    out,
                    "ml_connector_records{{connection=\"{name}\",state=\"{state}\"}} {}",
                    counts.get(state)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "# HELP ml_connector_calls_total Calls to Commerce and SYSPRO by outcome.\n# TYPE ml_connector_calls_total counter"
    );
    let snapshots: Vec<_> = app
        .endpoints
        .iter()
        .map(|(n, e)| (n, e.engine.metrics()))
        .collect();
    for (name, m) in &snapshots {
        for ((system, operation, outcome), n) in &m.calls {
            let _ = writeln!(
                out,
                "ml_connector_calls_total{{connection=\"{name}\",system=\"{}\",operation=\"{operation}\",outcome=\"{}\"}} {n}",
                system.as_str(),
                outcome.as_str()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP ml_connector_transitions_total Record transitions by target state.\n# TYPE ml_connector_transitions_total counter"
    );
    for (name, m) in &snapshots {
        for (state, n) in &m.transitions {
            let _ = writeln!(
                out,
                "ml_connector_transitions_total{{connection=\"{name}\",state=\"{state}\"}} {n}"
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP ml_connector_cycles_total Poll cycles run.\n# TYPE ml_connector_cycles_total counter"
    );
    for (name, m) in &snapshots {
        let _ = writeln!(
            out,
            "ml_connector_cycles_total{{connection=\"{name}\"}} {}",
            m.cycles
        );
    }
    let _ = writeln!(
        out,
        "# HELP ml_connector_cycle_seconds_total Time spent in poll cycles.\n# TYPE ml_connector_cycle_seconds_total counter"
    );
    for (name, m) in &snapshots {
        let _ = writeln!(
            out,
            "ml_connector_cycle_seconds_total{{connection=\"{name}\"}} {}",
            m.cycle_time_total.as_secs_f64()
        );
    }
    let _ = writeln!(
        out,
        "# HELP ml_connector_last_cycle_seconds Duration of the last poll cycle.\n# TYPE ml_connector_last_cycle_seconds gauge"
    );
    for (name, m) in &snapshots {
        let _ = writeln!(
            out,
            "ml_connector_last_cycle_seconds{{connection=\"{name}\"}} {}",
            m.last_cycle_time.as_secs_f64()
        );
    }
    let _ = writeln!(
        out,
        "# HELP ml_connector_customers_created_total SYSPRO customers created.\n# TYPE ml_connector_customers_created_total counter"
    );
    for (name, m) in &snapshots {
        let _ = writeln!(
            out,
            "ml_connector_customers_created_total{{connection=\"{name}\"}} {}",
            m.customers_created
        );
    }
    let _ = writeln!(
        out,
        "# HELP ml_connector_webhooks_total Webhook requests by result.\n# TYPE ml_connector_webhooks_total counter"
    );
    for ((name, result), n) in app
        .webhooks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
    {
        let _ = writeln!(
            out,
            "ml_connector_webhooks_total{{connection=\"{name}\",result=\"{result}\"}} {n}"
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response()
}

fn count(app: &App, connection: &str, result: &'static str) {
    *app.webhooks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry((connection.to_owned(), result))
        .or_default() += 1;
}

fn refuse(status: StatusCode, message: String) -> Response {
    (
        status,
        axum::Json(json!({ "op": "exception", "message": message })),
    )
        .into_response()
}

/// Verifies the signature first; only a verified notification is queued. The reply is sent at once
/// and the document is processed in the background.
async fn webhook(
    State(app): State<Arc<App>>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(endpoint) = app.endpoints.get(&connection) else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("no connection named {connection}"),
        );
    };
    let verifier = match &endpoint.webhooks {
        Webhooks::Verified(verifier) => verifier,
        Webhooks::Disabled => {
            count(&app, &connection, "disabled");
            return refuse(
                StatusCode::NOT_FOUND,
                format!(
                    "webhooks are disabled for connection {connection} (commerce.webhooks.enabled = false)"
                ),
            );
        }
        Webhooks::NoKey(key_name) => {
            count(&app, &connection, "no_key");
            return refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "connection {connection} has no webhook public key ({key_name} in the vault)"
                ),
            );
        }
    };
    let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok());
    if let Err(e) = verifier.verify(signature, &body) {
        count(&app, &connection, "bad_signature");
        tracing::warn!(connection = %connection, error = %render(&anyhow::Error::new(e)), "webhook refused");
        return refuse(
            StatusCode::UNAUTHORIZED,
            "signature verification failed".to_owned(),
        );
    }
    let notification = if let Ok(event) = parse_invoice_event(&body) {
        event.entity.entity_id.map(|id| (EntityKind::Invoice, id))
    } else if let Ok(event) = parse_order_event(&body) {
        event.entity.entity_id.map(|id| (EntityKind::Order, id))
    } else {
        None
    };
    let Some((kind, id)) = notification else {
        count(&app, &connection, "unreadable");
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body carries no order or invoice with an entity_id".to_owned(),
        );
    };
    count(&app, &connection, "accepted");
    let engine = endpoint.engine.clone();
    let trigger = endpoint.trigger;
    let tasks = app.tasks.clone();
    let app = Arc::clone(&app);
    tasks.spawn(async move {
        let name = engine.connection().to_string();
        let key = RecordKey::new(engine.connection().clone(), kind, id.to_string());
        // Only the worker holding the connection's lease works on it; any other queues the
        // notification in the shared store for the holder, which takes it within about a second.
        if !holds_lease(&app, engine.connection()).await {
            queue_notification(&app, &key, "the lease holder").await;
            return;
        }
        let result = match (kind, trigger) {
            (EntityKind::Invoice, Trigger::Invoice) | (EntityKind::Order, Trigger::Order) => {
                engine.notify(kind, &id.to_string()).await
            }
            // An order event on an invoice-triggered connection may come with a new invoice: poll now.
            _ => engine.run_cycle().await,
        };
        match result {
            Ok(_) => {}
            // The service is stopping: the next worker to hold the lease takes the document.
            Err(EngineError::Closed { .. }) => {
                queue_notification(&app, &key, "the next start").await;
            }
            // The lease went to another worker since it was checked: the notification is theirs.
            Err(EngineError::Store(StoreError::LeaseLost { .. })) => {
                queue_notification(&app, &key, "the lease holder").await;
            }
            Err(e) => {
                tracing::warn!(connection = %name, kind = kind.as_str(), id, error = %render(&anyhow::Error::new(e)), "webhook processing failed");
            }
        }
    });
    (StatusCode::OK, axum::Json(json!({ "op": "success" }))).into_response()
}

/// Queues a webhook notification in the shared store, for `whom` (the worker that will take it).
async fn queue_notification(app: &App, key: &RecordKey, whom: &str) {
    match app.store.push_notification(key).await {
        Ok(_) => {
            tracing::debug!(connection = %key.connection, record = %key, "webhook queued for {whom}");
        }
        Err(e) => {
            tracing::warn!(connection = %key.connection, record = %key, error = %render(&anyhow::Error::new(e)), "could not queue the webhook for {whom}; polling picks the document up");
        }
    }
}

/// Whether this worker holds `connection`'s lease now.
async fn holds_lease(app: &App, connection: &ConnectionName) -> bool {
    let now = app.clock.now();
    app.store.leases().await.is_ok_and(|leases| {
        leases
            .iter()
            .any(|l| l.connection == *connection && l.holder == app.worker && !l.is_expired(now))
    })
}

/// This worker's name in leases: `--worker-id` / `ML_CONNECTOR_WORKER_ID`, else
/// `ml-connector-HOST-PID`, which tells apart workers on several machines and several workers on one.
fn worker_id(given: Option<&str>) -> anyhow::Result<HolderId> {
    if let Some(given) = given {
        return HolderId::new(given)
            .map_err(|e| crate::failure::usage(format!("--worker-id: {e}")));
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let host: String = host
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '-'
            }
        })
        .take(40)
        .collect();
    let host = if host.is_empty() {
        "worker".to_owned()
    } else {
        host
    };
    Ok(HolderId::new(format!(
        "ml-connector-{host}-{}",
        std::process::id()
    ))?)
}

/// The engine of `c` as a worker of `run`: named in leases and holding them for the configured
/// lease time.
async fn worker_engine(
    ctx: &Context,
    c: &connector_core::config::ConnectionConfig,
    store: &AnyStore,
    vault: Arc<dyn SecretStore>,
    options: EngineOptions,
) -> anyhow::Result<Engine> {
    let state: Arc<dyn StateStore> = Arc::new(store.clone());
    let audit: Arc<dyn connector_core::audit::AuditLog> = Arc::new(store.clone());
    Ok(
        Engine::builder(c.clone(), state, audit, Arc::clone(&ctx.clock))
            .secrets(vault)
            .options(options)
            .build()
            .await?,
    )
}
