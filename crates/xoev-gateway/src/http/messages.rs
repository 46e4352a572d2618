//! `POST /messages` (submit) and `GET /messages/{id}` (status).
//!
//! What a submission checks **synchronously**, before it answers: the size
//! limit, the XÖV header (well-formed up to the header, message id, type,
//! author), that the header's author is the authenticated authority, and
//! that the catalogue knows the message's standard and version. Then the
//! message is published (confirmed) to the inbound exchange with the XÖV
//! message id as AMQP `message-id`, and the answer is `202 Accepted`.
//!
//! Everything else — XSD, signature, access, consent, routing, adapters —
//! runs in the pipeline like for a message published over AMQP, with its
//! dead letter and signed rejection answer; its outcome is visible at
//! `GET /messages/{id}` and in the sender's inbox. Running them twice (here
//! and in the pipeline) would double the costliest work for no gain.

use super::auth;
use super::{ApiError, AppState};
use crate::cases::Status;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use sha2::{Digest, Sha256};
use xoev_core::{Message, MessageErrorKind};
use xoev_schema::SchemaError;

/// `POST /messages`.
pub async fn submit(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let authority = match auth::authority(&state, &headers) {
        Ok(a) => a,
        Err(e) => return e.for_submission().into_response(),
    };
    let outcome = accept(&state, &authority, &headers, body).await;
    let label = match &outcome {
        Ok(_) => "accepted",
        Err(e) => e.kind,
    };
    metrics::counter!("xoev_http_submissions_total", "authority" => authority.clone(), "outcome" => label)
        .increment(1);
    match outcome {
        Ok(r) => r,
        Err(e) => e.for_submission().into_response(),
    }
}

async fn accept(
    state: &AppState,
    authority: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let pipeline = &state.inner.pipeline;
    let limits = pipeline.limits;
    let max = limits.max_bytes;
    let oversize = move || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "oversize",
            format!("the message is larger than {max} bytes"),
        )
    };
    // a declared length over the limit is refused before the body is
    // read (and before a client waiting for `100 Continue` sends it)
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > u64::try_from(max).unwrap_or(u64::MAX)) {
        return Err(oversize());
    }
    let bytes = super::read_body(state, body, max, oversize).await?;
    // The header parse is pure Rust and stops after the header, but a large
    // message is still work: keep it off the reactor (and the validation
    // that explains an unreadable header, which is libxml2's).
    let validator = pipeline.validator.clone();
    let (message, digest) = tokio::task::spawn_blocking(move || {
        let digest = hex::encode(Sha256::digest(&bytes));
        let (message, header_error) = Message::parse_keeping_header_error(bytes.clone(), &limits)
            .map_err(|e| {
            if e.kind == MessageErrorKind::Oversize {
                oversize()
            } else {
                ApiError::new(StatusCode::BAD_REQUEST, e.kind.as_str(), e.to_string())
            }
        })?;
        match header_error {
            // as the pipeline does: the document's own fault says more
            Some(e) => Err(match validator.header_failure(bytes, e) {
                SchemaError::Message(e) => {
                    ApiError::new(StatusCode::BAD_REQUEST, e.kind.as_str(), e.to_string())
                }
                schema => {
                    let status = if matches!(schema, SchemaError::Malformed(_)) {
                        StatusCode::BAD_REQUEST
                    } else {
                        StatusCode::UNPROCESSABLE_ENTITY
                    };
                    ApiError::new(status, schema.kind().as_str(), schema.to_string())
                }
            }),
            None => Ok((message, digest)),
        }
    })
    .await
    .map_err(|e| ApiError::internal("header parse task failed", &e))??;
    let header = message
        .require_header()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.kind.as_str(), e.to_string()))?;
    let author = header.author.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-header",
            header.no_author(),
        )
    })?;
    let author_key = author.key();
    if pipeline.router.directory().canonical(&author_key) != authority {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "author-mismatch",
            format!("the header's author is {author_key}, but the token belongs to {authority}"),
        ));
    }
    let entry = pipeline
        .validator
        .catalogue()
        .lookup(&message)
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                e.kind().as_str(),
                e.to_string(),
            )
        })?;
    let id = header.message_id.to_string();

    // A message the pipeline forwarded is not published again (a client
    // retrying after a lost answer); one only accepted so far is, and so is
    // one it rejected (nothing went out under its id: sent again, e.g. after
    // the gateway's configuration was repaired, it is processed anew, and
    // so is a corrected message under that id). An id another sender used
    // is refused.
    let mut resubmission = false;
    match pipeline.cases.status(&id).await {
        Ok(Some(s)) if s.sender.as_deref() != Some(authority) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "duplicate-message-id",
                "a message with this id from another sender is known",
            ));
        }
        Ok(Some(s)) if s.state == crate::service::REJECTED => resubmission = true,
        // another message under an id this sender used: a corrected
        // message needs a new id (the first may have reached its reader)
        Ok(Some(s)) if s.digest.as_deref().is_some_and(|d| d != digest) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "duplicate-message-id",
                format!(
                    "another message with this id was {} {}; a new or corrected message needs a new message id",
                    s.state, s.updated
                ),
            ));
        }
        Ok(Some(s)) if s.state != ACCEPTED => return Ok(accepted(&id, true)),
        Ok(_) => {}
        Err(e) => {
            return Err(ApiError::unavailable(
                "case-store-unavailable",
                "case store",
                &e,
            ));
        }
    }
    let status = Status {
        state: ACCEPTED.into(),
        stage: None,
        reason: None,
        detail: None,
        destination: None,
        copies: Vec::new(),
        digest: Some(digest),
        forwarded_id: None,
        sender: Some(authority.to_owned()),
        updated: crate::http::inbox::rfc3339(time::OffsetDateTime::now_utc()),
    };
    if let Err(e) = pipeline.cases.set_status(&id, &status).await {
        return Err(ApiError::unavailable(
            "case-store-unavailable",
            "case store",
            &e,
        ));
    }
    let mut envelope = crate::service::inbound_envelope(&message, Some(entry))
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, "invalid-header", e.to_string()))?;
    if resubmission {
        let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        envelope = envelope.with_header(xoev_transport::header::RESUBMITTED_AT, millis.to_string());
    }
    if let Err(e) = state.inner.transport.publish(envelope).await {
        return Err(ApiError::unavailable(
            "broker-unavailable",
            "publishing to the broker",
            &e,
        ));
    }
    tracing::info!(message_id = %id, sender = %authority, resubmission, "accepted over HTTP");
    Ok(accepted(&id, false))
}

/// The status of a message accepted over HTTP that the pipeline has not
/// decided on yet.
pub const ACCEPTED: &str = "accepted";

fn accepted(id: &str, duplicate: bool) -> Response {
    let mut body = json!({
        "message_id": id,
        "accepted": true,
        "status": format!("/messages/{id}"),
    });
    if duplicate {
        body["duplicate"] = json!(true);
    }
    (StatusCode::ACCEPTED, Json(body)).into_response()
}

/// `GET /messages/{id}`: the status of one of the caller's messages.
pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let authority = auth::authority(&state, &headers)?;
    let status = state
        .inner
        .pipeline
        .cases
        .status(&id)
        .await
        .map_err(|e| ApiError::unavailable("case-store-unavailable", "case store", &e))?;
    let Some(status) = status else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown-message",
            "no message with this id is known (yet)",
        ));
    };
    if status.sender.as_deref() != Some(authority.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "an authority may only see the status of its own messages",
        ));
    }
    let mut body = serde_json::to_value(&status)
        .map_err(|e| ApiError::internal("status serialisation", &e))?;
    body["message_id"] = json!(id);
    Ok((StatusCode::OK, Json(body)).into_response())
}
