//! The operations endpoints and the ops web page: queue monitoring, dead
//! letters (list, show, replay, purge) and broker health over HTTP, for
//! operations staff.
//!
//! - **Authentication**: `Authorization: Bearer <ops token>`. The gateway
//!   knows the SHA-256 (hex) of the token (`[http] ops_token_sha256`) or the
//!   token itself from [`OPS_TOKEN_ENV`]; it is compared in constant time
//!   (the authorities' [`AuthorityTokens`] do the comparing). Without either
//!   (or without `[amqp]`) the JSON endpoints answer 503 `ops-disabled`.
//! - **The page** (`GET /ops`, with `/ops/ops.js` and `/ops/ops.css`) is
//!   static: it holds no data and no secret. Its script asks for the token
//!   (or takes it once from the URL fragment `#token=…`, which never reaches
//!   the server, and removes it from the address bar), keeps it in the tab's
//!   `sessionStorage` and calls the JSON endpoints with the token in the
//!   `Authorization` header. No cookie is involved, so another site cannot
//!   make the browser replay or purge (no CSRF); message fields are put into
//!   the page as text nodes only, never as HTML, and a strict
//!   Content-Security-Policy allows only the page's own script.
//!
//! Every replay and purge is logged (target `xoev_gateway::ops::audit`)
//! in addition to `xoev_ops`' own audit events.

use super::ApiError;
use super::auth::AuthorityTokens;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use std::collections::BTreeMap;
use xoev_ops::{Filter, Ops, OpsConfig, OpsError, Selection};

/// Environment variable holding the operations token in clear (alternative
/// to `[http] ops_token_sha256`).
pub const OPS_TOKEN_ENV: &str = "XOEV_OPS_TOKEN";

/// How many dead letters `GET /ops/dlq` lists when no `limit` is given.
pub const DEFAULT_LIST_LIMIT: usize = 200;

/// The most `limit` may be.
pub const MAX_LIST_LIMIT: usize = 10_000;

/// Every route of [`routes`]: (method, path).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/ops"),
    ("get", "/ops/ops.js"),
    ("get", "/ops/ops.css"),
    ("get", "/ops/health"),
    ("get", "/ops/queues"),
    ("get", "/ops/dlq"),
    ("get", "/ops/dlq/{id}"),
    ("post", "/ops/dlq/{id}/replay"),
    ("post", "/ops/dlq/replay"),
    ("post", "/ops/dlq/purge"),
];

const PAGE_HTML: &str = include_str!("ops_page.html");
const PAGE_JS: &str = include_str!("ops_page.js");
const PAGE_CSS: &str = include_str!("ops_page.css");

/// The page may load only its own script, style and API.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The operations handle and the token that unlocks it.
#[derive(Clone)]
pub struct OpsAccess {
    ops: Ops,
    tokens: AuthorityTokens,
}

impl std::fmt::Debug for OpsAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpsAccess")
            .field("ops", &self.ops)
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl OpsAccess {
    /// Operations on `ops` with no token yet (add one with
    /// [`OpsAccess::with_token`] or [`OpsAccess::with_token_hash`]).
    pub fn new(ops: Ops) -> Self {
        Self {
            ops,
            tokens: AuthorityTokens::default(),
        }
    }

    /// Accepts `token` (given in clear).
    pub fn with_token(mut self, token: &str) -> Self {
        self.tokens.insert_token("ops", token);
        self
    }

    /// Accepts the token whose SHA-256 is `hash_hex` (64 hex digits).
    pub fn with_token_hash(
        mut self,
        hash_hex: &str,
    ) -> Result<Self, super::auth::TokenConfigError> {
        self.tokens.insert_hash("ops", hash_hex)?;
        Ok(self)
    }

    /// The operations handle.
    pub fn ops(&self) -> &Ops {
        &self.ops
    }

    /// From the configuration: `[amqp] url/prefix/management_url`, the
    /// directory's inboxes, and the token from `[http] ops_token_sha256` or
    /// [`OPS_TOKEN_ENV`]. `None` (and a log line) without `[amqp]`, `[http]`
    /// or a token.
    pub fn from_config(
        config: &crate::config::Config,
        directory: &xoev_routing::Directory,
    ) -> anyhow::Result<Option<Self>> {
        use anyhow::Context as _;
        let (Some(amqp), Some(http)) = (&config.amqp, &config.http) else {
            return Ok(None);
        };
        let env_token = std::env::var(OPS_TOKEN_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty());
        if http.ops_token_sha256.is_none() && env_token.is_none() {
            tracing::info!(
                "no ops token ([http] ops_token_sha256 or {OPS_TOKEN_ENV}): the /ops endpoints are off"
            );
            return Ok(None);
        }
        let topology = xoev_transport::TopologyConfig::with_prefix(&amqp.prefix)
            .with_inboxes(directory.inboxes());
        let labels = directory
            .authorities()
            .iter()
            .filter_map(|a| a.inbox.clone().map(|q| (q, a.id.clone())));
        let management = amqp
            .management_url
            .clone()
            .unwrap_or_else(|| xoev_ops::DEFAULT_MANAGEMENT_URL.to_owned());
        let ops = Ops::new(
            OpsConfig::new(amqp.url.clone(), topology)
                .with_management(Some(management))
                .with_inbox_authorities(labels),
        )
        .context("[amqp] settings for /ops")?;
        let mut access = Self::new(ops);
        if let Some(hash) = &http.ops_token_sha256 {
            access = access
                .with_token_hash(hash)
                .context("[http] ops_token_sha256")?;
        }
        if let Some(token) = env_token {
            access = access.with_token(token.trim());
        }
        Ok(Some(access))
    }
}

/// The ops routes; with `None` the page is served but every JSON endpoint
/// answers 503 `ops-disabled`.
pub fn routes(access: Option<OpsAccess>) -> Router {
    Router::new()
        .route("/ops", get(page))
        .route("/ops/ops.js", get(script))
        .route("/ops/ops.css", get(style))
        .route("/ops/health", get(health))
        .route("/ops/queues", get(queues))
        .route("/ops/dlq", get(list))
        .route("/ops/dlq/replay", post(replay_all))
        .route("/ops/dlq/purge", post(purge))
        .route("/ops/dlq/{id}", get(show))
        .route("/ops/dlq/{id}/replay", post(replay_one))
        .with_state(access)
}

type Access = State<Option<OpsAccess>>;

/// The bearer token of a request.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The operations handle, if the caller is operations staff.
fn authorize<'a>(access: &'a Option<OpsAccess>, headers: &HeaderMap) -> Result<&'a Ops, ApiError> {
    let Some(access) = access else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ops-disabled",
            "no ops token or no [amqp] is configured on this gateway",
        ));
    };
    let token = bearer(headers).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "send Authorization: Bearer <ops token>",
        )
    })?;
    access
        .tokens
        .authenticate(token)
        .map(|_| &access.ops)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid-token",
                "the token is not the ops token",
            )
        })
}

/// An operations error as a problem answer (operators see the broker's
/// explanation; URLs in it are already redacted by `xoev_ops`).
fn problem(e: OpsError) -> ApiError {
    let status =
        StatusCode::from_u16(e.kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::warn!(error = %e, "ops");
    }
    ApiError::new(status, e.kind.as_str(), e.message)
}

/// The filter of a query (`stage`, `reason`, `sender`, `reader`, `type`,
/// `queue`); other keys than those and `allowed` are refused.
fn filter(query: &BTreeMap<String, String>, allowed: &[&str]) -> Result<Filter, ApiError> {
    let mut f = Filter::default();
    for (k, v) in query {
        if allowed.contains(&k.as_str()) {
            continue;
        }
        if !Filter::KEYS.contains(&k.as_str()) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid-filter",
                format!(
                    "query parameter {k:?} is unknown (filters: {}; also: {})",
                    Filter::KEYS.join(", "),
                    allowed.join(", ")
                ),
            ));
        }
        f.add(&format!("{k}={v}")).map_err(problem)?;
    }
    Ok(f)
}

fn json(value: impl serde::Serialize) -> Response {
    let mut r = axum::Json(value).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /ops`: the page (static; the data comes from the JSON endpoints).
async fn page() -> Response {
    asset("text/html; charset=utf-8", PAGE_HTML)
}

/// `GET /ops/ops.js`.
async fn script() -> Response {
    asset("text/javascript; charset=utf-8", PAGE_JS)
}

/// `GET /ops/ops.css`.
async fn style() -> Response {
    asset("text/css; charset=utf-8", PAGE_CSS)
}

/// `GET /ops/health`: AMQP, management API and alarms.
async fn health(State(access): Access, headers: HeaderMap) -> Result<Response, ApiError> {
    let ops = authorize(&access, &headers)?;
    let h = ops.broker_health().await;
    let healthy = h.healthy();
    let mut body = serde_json::to_value(&h).unwrap_or_default();
    body["healthy"] = json!(healthy);
    Ok(json(body))
}

/// `GET /ops/queues`: the queue report.
async fn queues(State(access): Access, headers: HeaderMap) -> Result<Response, ApiError> {
    let ops = authorize(&access, &headers)?;
    Ok(json(ops.queues().await.map_err(problem)?))
}

/// `GET /ops/dlq?stage=…&limit=N`: dead letters, oldest first.
async fn list(
    State(access): Access,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let ops = authorize(&access, &headers)?;
    let f = filter(&query, &["limit"])?;
    let limit = match query.get("limit") {
        None => DEFAULT_LIST_LIMIT,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIST_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-limit",
                    format!("limit must be a number from 1 to {MAX_LIST_LIMIT}"),
                )
            })?,
    };
    Ok(json(ops.dead_letters(&f, limit).await.map_err(problem)?))
}

/// `GET /ops/dlq/{id}`: one dead letter with headers and body.
async fn show(
    State(access): Access,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ops = authorize(&access, &headers)?;
    Ok(json(ops.dead_letter(&id).await.map_err(problem)?))
}

async fn replay(ops: &Ops, selection: Selection) -> Result<Response, ApiError> {
    let report = ops.replay(&selection).await.map_err(problem)?;
    for r in &report.replayed {
        tracing::info!(
            target: "xoev_gateway::ops::audit",
            action = "replay",
            via = "http",
            id = %r.dead_letter.id,
            message_id = r.dead_letter.message_id.as_deref().unwrap_or(""),
            exchange = %r.exchange,
            replays = r.replays,
            "dead letter replayed"
        );
    }
    let status = if report.stopped.is_some() {
        StatusCode::BAD_GATEWAY
    } else {
        StatusCode::OK
    };
    let mut r = json(&report);
    *r.status_mut() = status;
    Ok(r)
}

/// `POST /ops/dlq/{id}/replay`: replays one dead letter.
async fn replay_one(
    State(access): Access,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let ops = authorize(&access, &headers)?;
    replay(ops, Selection::Id(id)).await
}

/// `POST /ops/dlq/replay?stage=…`: replays every matching dead letter.
async fn replay_all(
    State(access): Access,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let ops = authorize(&access, &headers)?;
    let f = filter(&query, &[])?;
    replay(ops, Selection::All(f)).await
}

/// `POST /ops/dlq/purge?confirm=yes`: empties the dead-letter queue.
async fn purge(
    State(access): Access,
    headers: HeaderMap,
    Query(query): Query<BTreeMap<String, String>>,
) -> Result<Response, ApiError> {
    let ops = authorize(&access, &headers)?;
    if let Some(k) = query.keys().find(|k| k.as_str() != "confirm") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-parameter",
            format!("query parameter {k:?} is unknown (purge takes confirm=yes only)"),
        ));
    }
    let confirmed = query.get("confirm").map(String::as_str) == Some("yes");
    let record = ops.purge(confirmed).await.map_err(problem)?;
    tracing::info!(
        target: "xoev_gateway::ops::audit",
        action = "purge",
        via = "http",
        queue = %record.queue,
        purged = record.purged,
        "dead-letter queue purged"
    );
    Ok(json(record))
}
