//! Per-request context: the request id, the log line, and Palette error bodies.
//!
//! This middleware replaces a generic trace layer on purpose: it logs the path but never the
//! query string, because API keys may arrive there (`?ApiKey=…`), and for the routes that
//! carry a token in the path (refresh, password links) it logs the route's template instead.

use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use easel_proto::ErrorBody;
use tracing::Instrument;

use crate::error::{body, PendingError};

/// The id of the request being served; `ref` in error bodies and `X-Request-Id` in headers.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

const REQUEST_ID: &str = "x-request-id";

/// Accepts a caller's request id only if it is short and plain, so that it cannot be used to
/// inject anything into logs.
fn incoming_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID)?.to_str().ok()?;
    let plain = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    plain.then(|| value.to_owned())
}

fn new_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes: [u8; 12] = rand::random();
    let mut id = String::with_capacity(24);
    for b in bytes {
        id.push(HEX[(b >> 4) as usize] as char);
        id.push(HEX[(b & 15) as usize] as char);
    }
    id
}

pub async fn request_context(mut request: Request, next: Next) -> Response {
    let id = incoming_id(&request).unwrap_or_else(new_id);
    request.extensions_mut().insert(RequestId(id.clone()));
    let path = match request.extensions().get::<MatchedPath>() {
        Some(route) if route.as_str().contains("{token}") => route.as_str().to_owned(),
        _ => request.uri().path().to_owned(),
    };
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = %request.method(),
        path = %path,
    );
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    if response.status().is_client_error() || response.status().is_server_error() {
        response = error_body(response, &id);
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    span.in_scope(|| {
        tracing::info!(
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "served"
        )
    });
    response
}

/// Gives every error response Palette's body: ours carry a [`PendingError`]; the framework's
/// own (unknown route, wrong method, body too large, timeout) get one made from the status.
fn error_body(response: Response, id: &str) -> Response {
    let (mut parts, _) = response.into_parts();
    let mut error: ErrorBody = match parts.extensions.remove::<PendingError>() {
        Some(PendingError(error)) => error,
        None => fallback(parts.status),
    };
    error.reference = id.to_owned();
    let json = serde_json::to_vec(&error).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(json))
}

fn fallback(status: StatusCode) -> ErrorBody {
    match status {
        StatusCode::NOT_FOUND => body("ResourceNotFound", "no such endpoint"),
        StatusCode::METHOD_NOT_ALLOWED => body(
            "MethodNotAllowed",
            "this method is not allowed on this endpoint",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => body("PayloadTooLarge", "the request body is too large"),
        StatusCode::REQUEST_TIMEOUT => body("RequestTimeout", "the request took too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            body("UnsupportedMediaType", "send the body as application/json")
        }
        s if s.is_server_error() => body("InternalError", "internal error"),
        s => body(
            "InvalidRequest",
            s.canonical_reason().unwrap_or("invalid request"),
        ),
    }
}
