//! The one place where a domain error becomes an HTTP response.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use easel_core::Error;
use easel_proto::ErrorBody;

/// A domain error on its way out. The body is completed (with `ref`) by
/// [`crate::context::request_context`], which knows the request id.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

impl ApiError {
    pub fn invalid(message: impl Into<String>) -> Self {
        ApiError(Error::Invalid(message.into()))
    }
}

/// The error body waiting in a response's extensions for its `ref`.
#[derive(Debug, Clone)]
pub struct PendingError(pub ErrorBody);

pub fn body(code: &str, message: impl Into<String>) -> ErrorBody {
    ErrorBody {
        code: code.to_owned(),
        message: message.into(),
        reference: String::new(),
        details: serde_json::Value::Null,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self.0 {
            Error::Invalid(_) => (StatusCode::BAD_REQUEST, "InvalidRequest"),
            Error::NotFound { .. } => (StatusCode::NOT_FOUND, "ResourceNotFound"),
            Error::Forbidden(_) => (StatusCode::FORBIDDEN, "Forbidden"),
            Error::Unauthenticated(failure) => (StatusCode::UNAUTHORIZED, failure.code()),
            Error::Conflict { code, .. } => (StatusCode::CONFLICT, *code),
            Error::TooManyRequests { .. } => (StatusCode::TOO_MANY_REQUESTS, "TooManyRequests"),
            Error::OrganizationRequired { .. } => (StatusCode::BAD_REQUEST, "OrganizationRequired"),
            Error::Unavailable(detail) => {
                tracing::warn!(error = %detail, "store unavailable");
                (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
            }
            Error::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "InternalError")
            }
        };
        // Display of Unavailable and Internal is generic; their detail was logged above.
        let mut response = status.into_response();
        let mut error = body(code, self.0.to_string());
        match &self.0 {
            Error::OrganizationRequired { organizations } => {
                error.details = serde_json::json!({ "organizations": organizations });
            }
            Error::TooManyRequests { retry_after_secs } => {
                if let Ok(value) = axum::http::HeaderValue::from_str(&retry_after_secs.to_string())
                {
                    response
                        .headers_mut()
                        .insert(axum::http::header::RETRY_AFTER, value);
                }
            }
            _ => {}
        }
        response.extensions_mut().insert(PendingError(error));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("ApiKey, Bearer"),
            );
        }
        // Every 503 gets `Retry-After` from the request context, whoever made it.
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
