//! Who is calling: the `ApiKey` header (any letter case, as Go clients send `Apikey`) or
//! the `ApiKey` query parameter (any letter case).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use easel_core::{AuthFailure, Caller, Error};

use crate::error::ApiError;
use crate::AppState;

/// An authenticated caller. Extracting it refuses the request with 401 when there is no
/// valid credential.
pub struct Authenticated(pub Caller);

fn presented_key(parts: &Parts) -> Option<String> {
    // Header names are case-insensitive by construction of `HeaderMap`.
    if let Some(value) = parts.headers.get("apikey") {
        // Bytes that are not text cannot be a key; keep them so that the answer is
        // "malformed", not "missing".
        return Some(String::from_utf8_lossy(value.as_bytes()).trim().to_owned());
    }
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name.eq_ignore_ascii_case("apikey"))
        .map(|(_, value)| value.trim().to_owned())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let key = presented_key(parts)
            .filter(|k| !k.is_empty())
            .ok_or(ApiError(Error::Unauthenticated(AuthFailure::Missing)))?;
        Ok(Authenticated(state.easel.authenticate_api_key(&key).await?))
    }
}
