//! The gateway's HTTP API (axum): submit a message, pull the inbox with
//! leases, message status, health, Prometheus metrics, the citizen's
//! consents and access log, and the OpenAPI description.
//!
//! [`app`] builds the router from an [`AppState`] (tests drive it with
//! `tower::ServiceExt::oneshot`); [`serve`] runs it on a listener until a
//! shutdown future resolves. Every route is listed once in [`ROUTES`], and
//! a test checks that `docs/openapi.yaml` describes each of them.
//!
//! Errors are `application/problem+json` with a stable `kind`; internal
//! failures are logged and answered with kind `internal` only, never with
//! their details. The semantics are described in `docs/http.md`.

pub mod auth;
pub mod citizens;
pub mod inbox;
pub mod messages;
pub mod metrics;
pub mod ops;

use crate::pipeline::Pipeline;
use auth::{AuthorityTokens, CitizenTokens};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use xoev_audit::Names;
use xoev_transport::Transport;

/// The OpenAPI description, served at `GET /openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../../../../docs/openapi.yaml");

/// Every route of [`app`]: (method, path). The OpenAPI test checks this list
/// against `docs/openapi.yaml`, and that [`app`] answers each one.
pub const ROUTES: &[(&str, &str)] = &[
    ("post", "/messages"),
    ("get", "/messages/{id}"),
    ("get", "/inbox"),
    ("post", "/inbox/{lease_id}/ack"),
    ("post", "/inbox/{lease_id}/release"),
    ("get", "/healthz"),
    ("get", "/metrics"),
    ("get", "/openapi.yaml"),
    ("post", "/citizens/{ref}/consents"),
    ("get", "/citizens/{ref}/consents"),
    ("post", "/citizens/{ref}/consents/{id}/revoke"),
    ("get", "/citizens/{ref}/access-log"),
];

/// Builds the router.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/messages", post(messages::submit))
        .route("/messages/{id}", get(messages::status))
        .route("/inbox", get(inbox::pull))
        .route("/inbox/{lease_id}/ack", post(inbox::ack))
        .route("/inbox/{lease_id}/release", post(inbox::release))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::scrape))
        .route("/openapi.yaml", get(openapi))
        .route(
            "/citizens/{ref}/consents",
            post(citizens::register).get(citizens::list),
        )
        .route(
            "/citizens/{ref}/consents/{id}/revoke",
            post(citizens::revoke),
        )
        .route("/citizens/{ref}/access-log", get(citizens::access_log))
        // The body limit is checked by the submit handler itself, so that an
        // oversize message gets a problem+json answer.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state.clone())
        .merge(ops::routes(state.ops.clone()))
        .layer(axum::middleware::from_fn(problem_for_plain_errors))
        .layer(axum::middleware::from_fn(observe))
}

/// Gives the errors axum answers by itself — no such route (404), a
/// method the route lacks (405, its `Allow` header kept), a path it cannot
/// decode (400), a URI too long (414) — the `application/problem+json`
/// body every error of the API has (docs/http.md); the handlers' own
/// errors already have it.
async fn problem_for_plain_errors(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let kind = match status {
        StatusCode::NOT_FOUND => "not-found",
        StatusCode::METHOD_NOT_ALLOWED => "method-not-allowed",
        StatusCode::URI_TOO_LONG => "uri-too-long",
        StatusCode::BAD_REQUEST => "invalid-request",
        _ => "error",
    };
    let (parts, body) = response.into_parts();
    // axum's own reason (e.g. "Invalid URL: Invalid UTF-8 in `id`"), short
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let detail = match String::from_utf8_lossy(&text).trim() {
        "" => match status {
            StatusCode::NOT_FOUND => "no such resource".to_owned(),
            StatusCode::METHOD_NOT_ALLOWED => {
                "the resource does not take this method (see Allow)".to_owned()
            }
            _ => status.canonical_reason().unwrap_or("error").to_owned(),
        },
        t => t.to_owned(),
    };
    let mut problem = ApiError::new(status, kind, detail).into_response();
    if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
        problem
            .headers_mut()
            .insert(axum::http::header::ALLOW, allow.clone());
    }
    problem
}

/// Logs every request and records `xoev_http_request_duration_seconds`
/// by route template (never the raw path: ids stay out of the labels).
async fn observe(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    let took = started.elapsed();
    let status = response.status().as_u16();
    tracing::debug!(%method, %route, status, ms = took.as_millis() as u64, "http request");
    ::metrics::histogram!(
        "xoev_http_request_duration_seconds",
        "route" => route,
        "method" => method,
        "status" => status.to_string()
    )
    .record(took.as_secs_f64());
    response
}

/// Serves [`app`] on `listener` until `shutdown` resolves; expires leases
/// in the background and puts every open lease back when it stops.
///
/// Each connection is served by hyper's HTTP/1 server with the header-read
/// timeout of [`Timeouts::header`] (a client that sends its request line and
/// headers slowly, or keeps an idle connection open, is cut off); the body
/// is bounded by the handlers ([`read_body`]). `axum::serve` sets no such
/// timeout, which is why this loop is written out. On shutdown the listener
/// closes, idle connections close at once, and requests under way get up to
/// [`Timeouts::drain`] to finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let reaper = {
        let inbox = state.inner.inbox.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                inbox.expire_due().await;
            }
        })
    };
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "HTTP API listening");
    }
    let timeouts = state.inner.timeouts;
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeouts.header);
    let service = hyper_util::service::TowerToHyperService::new(app(state.clone()));
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // a connection reset before it was accepted concerns that
                    // client only; anything else (e.g. out of file handles)
                    // is logged and retried after a pause, as axum does
                    if !is_connection_error(&e) {
                        tracing::error!(error = %e, "HTTP API cannot accept a connection");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %e, "TCP_NODELAY");
        }
        let connection =
            http1.serve_connection(hyper_util::rt::TokioIo::new(stream), service.clone());
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // e.g. the header-read timeout, or a client gone mid-request
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(timeouts.drain, connections.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = timeouts.drain.as_secs(),
            "HTTP API: requests still under way at shutdown were cut off"
        );
    }
    reaper.abort();
    state.inner.inbox.release_all().await;
    Ok(())
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    )
}

/// How long the HTTP API waits for a client (`[http]` `header_timeout_seconds`,
/// `body_timeout_seconds`).
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// For a request's line and headers, counted from when the server starts
    /// waiting for them: also how long an idle keep-alive connection stays
    /// open. Over it the connection is closed.
    pub header: Duration,
    /// For a request's whole body. Over it the answer is 408 `body-timeout`.
    pub body: Duration,
    /// At shutdown, for requests under way to finish.
    pub drain: Duration,
}

impl Default for Timeouts {
    /// 30 s for headers, 60 s for a body, 30 s to drain.
    fn default() -> Self {
        Self {
            header: Duration::from_secs(30),
            body: Duration::from_secs(60),
            drain: Duration::from_secs(30),
        }
    }
}

/// Reads a request body of at most `max` bytes within [`Timeouts::body`]:
/// over the limit the caller's `oversize` error (413), too slow 408
/// `body-timeout`, broken off or malformed 400 `body-unreadable`.
pub async fn read_body(
    state: &AppState,
    body: axum::body::Body,
    max: usize,
    oversize: impl FnOnce() -> ApiError,
) -> Result<axum::body::Bytes, ApiError> {
    let limit = state.inner.timeouts.body;
    match tokio::time::timeout(limit, axum::body::to_bytes(body, max)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => {
            // axum's `to_bytes` wraps http-body-util's limit error
            Err(if e.into_inner().is::<http_body_util::LengthLimitError>() {
                oversize()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "body-unreadable",
                    "the request body could not be read (broken off or malformed)",
                )
            })
        }
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "body-timeout",
            format!(
                "the request body did not arrive within {} s",
                limit.as_secs()
            ),
        )),
    }
}

/// Environment variable holding the key of citizen tokens (at least 32
/// bytes; shared with the citizen portal that issues the tokens). Unset:
/// the citizen endpoints answer 503 `citizen-api-disabled`.
pub const CITIZEN_TOKEN_ENV: &str = "XOEV_CITIZEN_TOKEN_SECRET";

/// Starts the HTTP API of `xoev-gateway run` when `[http]` is configured:
/// binds `http.listen` now (so a taken port fails at start), authorities'
/// tokens from the directory, citizen tokens keyed by [`CITIZEN_TOKEN_ENV`],
/// names from `<adapters_root>/config/citizen-view.toml` if present.
pub async fn start(
    config: &crate::config::Config,
    pipeline: Arc<Pipeline>,
    transport: Arc<dyn Transport>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Option<tokio::task::JoinHandle<std::io::Result<()>>>> {
    use anyhow::Context as _;
    let Some(http) = &config.http else {
        return Ok(None);
    };
    let tokens = AuthorityTokens::from_directory(pipeline.router.directory())?;
    if tokens.is_empty() {
        tracing::warn!(
            "no authority has api_token_sha256 in the directory: no authority can use the HTTP API"
        );
    }
    let citizens = match std::env::var(CITIZEN_TOKEN_ENV) {
        Ok(key) => Some(CitizenTokens::new(key.into_bytes())?),
        Err(_) => None,
    };
    let names_file = config
        .path(&config.gateway.adapters_root)
        .join("config/citizen-view.toml");
    let names = if names_file.is_file() {
        Names::load(&names_file)?
    } else {
        Names::default()
    };
    let listener = tokio::net::TcpListener::bind(&http.listen)
        .await
        .with_context(|| format!("http.listen {}", http.listen))?;
    let state = AppState::new(
        pipeline,
        transport,
        HttpOptions {
            lease: Duration::from_secs(http.lease_seconds.max(1)),
            tokens,
            citizens,
            names,
            timeouts: Timeouts {
                header: Duration::from_secs(http.header_timeout_seconds),
                body: Duration::from_secs(http.body_timeout_seconds),
                ..Timeouts::default()
            },
        },
    );
    let state = match ops::OpsAccess::from_config(config, state.pipeline().router.directory())? {
        Some(access) => state.with_ops(access),
        None => state,
    };
    Ok(Some(tokio::spawn(serve(listener, state, shutdown))))
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
    /// The operations endpoints' broker handle and token (`None`: `/ops` off).
    ops: Option<ops::OpsAccess>,
}

struct Inner {
    pipeline: Arc<Pipeline>,
    transport: Arc<dyn Transport>,
    tokens: AuthorityTokens,
    citizens: Option<CitizenTokens>,
    names: Names,
    inbox: Arc<inbox::Inbox>,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    timeouts: Timeouts,
}

/// How the HTTP API is set up.
pub struct HttpOptions {
    /// How long a pulled message stays leased.
    pub lease: Duration,
    /// Tokens of authorities (in addition to the directory's `api_token_sha256`).
    pub tokens: AuthorityTokens,
    /// The key citizen tokens are checked with; `None` turns the citizen
    /// endpoints off (503 `citizen-api-disabled`).
    pub citizens: Option<CitizenTokens>,
    /// Plain-language names for the citizen view.
    pub names: Names,
    /// How long to wait for clients.
    pub timeouts: Timeouts,
}

impl AppState {
    /// Builds the state: installs the metrics recorder (once per process)
    /// and fills the names of the citizen view with the directory's names
    /// where the names file has none.
    pub fn new(pipeline: Arc<Pipeline>, transport: Arc<dyn Transport>, o: HttpOptions) -> Self {
        let mut names = o.names;
        for a in pipeline.router.directory().authorities() {
            names
                .authorities
                .entry(a.id.clone())
                .or_insert_with(|| a.name.clone());
        }
        let inbox = Arc::new(inbox::Inbox::new(transport.clone(), o.lease));
        Self {
            inner: Arc::new(Inner {
                pipeline,
                transport,
                tokens: o.tokens,
                citizens: o.citizens,
                names,
                inbox,
                metrics: metrics::install(),
                timeouts: o.timeouts,
            }),
            ops: None,
        }
    }

    /// Turns on the operations endpoints and page (`/ops`, see [`ops`]).
    pub fn with_ops(mut self, access: ops::OpsAccess) -> Self {
        self.ops = Some(access);
        self
    }

    /// The pipeline (directory, catalogue, stores).
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.inner.pipeline
    }

    /// The lease table of inbox pulls.
    pub fn inbox(&self) -> &Arc<inbox::Inbox> {
        &self.inner.inbox
    }
}

/// An error answer: `application/problem+json` with a stable `kind`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable, kebab-case reason id.
    pub kind: &'static str,
    /// Explanation for the caller (never internals).
    pub detail: String,
    /// Submissions say `"accepted": false` in their errors.
    pub submission: bool,
}

impl ApiError {
    /// An error with status, kind and detail.
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            detail: detail.into(),
            submission: false,
        }
    }

    /// An internal failure: logged here, answered without its details.
    pub fn internal(what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %error, "{what}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an internal error occurred; it has been logged",
        )
    }

    /// A store or broker that is unavailable right now (try again later).
    pub fn unavailable(kind: &'static str, what: &str, error: &dyn std::fmt::Display) -> Self {
        tracing::warn!(error = %error, "{what}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            kind,
            format!("{what}: temporarily unavailable, try again later"),
        )
    }

    fn for_submission(mut self) -> Self {
        self.submission = true;
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("urn:xoev-gateway:problem:{}", self.kind),
            "title": self.status.canonical_reason().unwrap_or("error"),
            "status": self.status.as_u16(),
            "kind": self.kind,
            "detail": self.detail,
        });
        if self.submission {
            body["accepted"] = json!(false);
        }
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"xoev-gateway\""),
            );
        }
        response
    }
}

/// `GET /healthz`: broker connection and schema catalogue.
async fn healthz(State(state): State<AppState>) -> Response {
    let broker = state.inner.transport.connected().await;
    let schemas = state.inner.pipeline.validator.catalogue().entries().len();
    let ok = broker && schemas > 0;
    let body = json!({
        "status": if ok { "ok" } else { "unavailable" },
        "broker": { "connected": broker },
        "schemas": { "loaded": schemas > 0, "entries": schemas },
        "inbox": { "open_leases": state.inner.inbox.open_leases() },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// `GET /openapi.yaml`.
async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/yaml")], OPENAPI_YAML).into_response()
}
