//! The citizen's endpoints: consents and the plain-language access log,
//! each only for the citizen of the token ([`super::auth::citizen`]).

use super::auth;
use super::{ApiError, AppState};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use xoev_audit::{ConsentError, NewConsent};

/// Largest consent body accepted.
const MAX_CONSENT_BYTES: usize = 16 * 1024;

fn consent_error(e: ConsentError) -> ApiError {
    let status = match &e {
        ConsentError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ConsentError::Duplicate { .. } | ConsentError::AlreadyRevoked { .. } => {
            StatusCode::CONFLICT
        }
        ConsentError::NotFound { .. } => StatusCode::NOT_FOUND,
        ConsentError::Store(_) => {
            return ApiError::unavailable("store-unavailable", "consent store", &e);
        }
        _ => return ApiError::internal("consent store", &e),
    };
    ApiError::new(status, e.as_str(), e.to_string())
}

/// `POST /citizens/{ref}/consents`: body = `NewConsent` JSON whose
/// `citizen` is the reference in the path.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(citizen): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let who = auth::citizen(&state, &headers, &citizen)?;
    // read only after authentication, and never more than the limit
    let body = super::read_body(&state, body, MAX_CONSENT_BYTES, || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "oversize",
            format!("a consent is at most {MAX_CONSENT_BYTES} bytes"),
        )
    })
    .await?;
    let new: NewConsent = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid-json",
            format!("the body is not a consent: {e}"),
        )
    })?;
    if new.citizen != who {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "citizen-mismatch",
            "the consent's citizen is not the citizen in the path",
        ));
    }
    let consent = state
        .inner
        .pipeline
        .audit
        .register(new)
        .await
        .map_err(consent_error)?;
    Ok((StatusCode::CREATED, Json(consent)).into_response())
}

/// `GET /citizens/{ref}/consents`.
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(citizen): Path<String>,
) -> Result<Response, ApiError> {
    let who = auth::citizen(&state, &headers, &citizen)?;
    let consents = state
        .inner
        .pipeline
        .audit
        .list(&who)
        .await
        .map_err(|e| ApiError::unavailable("store-unavailable", "consent store", &e))?;
    Ok(Json(json!({ "consents": consents })).into_response())
}

/// `POST /citizens/{ref}/consents/{id}/revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((citizen, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let who = auth::citizen(&state, &headers, &citizen)?;
    let consent = state
        .inner
        .pipeline
        .audit
        .revoke(&who, &id, time::OffsetDateTime::now_utc())
        .await
        .map_err(consent_error)?;
    Ok(Json(consent).into_response())
}

/// `GET /citizens/{ref}/access-log`: who fetched what, when, for which
/// purpose — in plain language.
pub async fn access_log(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(citizen): Path<String>,
) -> Result<Response, ApiError> {
    let who = auth::citizen(&state, &headers, &citizen)?;
    let entries = state
        .inner
        .pipeline
        .audit
        .entries_for(&who)
        .await
        .map_err(|e| ApiError::unavailable("store-unavailable", "access log", &e))?;
    let events = xoev_audit::citizen_view(&entries, &state.inner.names);
    Ok(Json(json!({ "citizen": who, "events": events })).into_response())
}
