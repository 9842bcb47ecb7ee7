//! Who is calling: the `ApiKey` header (any letter case, as Go clients send `Apikey`), an
//! authorisation token in the `Authorization` header (raw, as Palette clients send it, or as
//! `Bearer <token>`), or the `ApiKey` query parameter (any letter case), in that order; and,
//! for the console only, the token cookie, when the request also carries the
//! `X-Easel-Console` header. A cross-site page can make a browser send the cookie but not a
//! custom header (that needs a CORS preflight, which Easel never grants), so the cookie alone
//! never authorises anything.

use std::borrow::Cow;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use easel_core::{AuthFailure, CachedKey, Caller, Error};

use crate::error::{ApiError, PendingError};
use crate::AppState;

/// An authenticated caller. Extracting it refuses the request with 401 when there is no
/// valid credential.
pub struct Authenticated(pub std::sync::Arc<Caller>);

/// What the caller presented, borrowed from the request where it is text already.
pub enum Credential<'a> {
    ApiKey(Cow<'a, str>),
    Token(Cow<'a, str>),
}

static APIKEY: HeaderName = HeaderName::from_static("apikey");
static PROJECTUID: HeaderName = HeaderName::from_static("projectuid");

/// A header's value as trimmed text. Bytes that are not text cannot be a credential; they
/// are kept (replaced) so that the answer is "malformed", not "missing".
fn header_text(value: &HeaderValue) -> Cow<'_, str> {
    // Visible ASCII, as every key and token is, is checked faster than UTF-8.
    if let Ok(text) = value.to_str() {
        return Cow::Borrowed(text.trim());
    }
    match String::from_utf8_lossy(value.as_bytes()) {
        Cow::Borrowed(text) => Cow::Borrowed(text.trim()),
        Cow::Owned(text) => Cow::Owned(text.trim().to_owned()),
    }
}

/// The headers authentication reads, found in one walk over the request's few headers:
/// cheaper than hashing each name for a lookup of its own (three per request, for the key,
/// the token and the project). Each holds the first value of its header, as a lookup would.
#[derive(Default)]
struct AuthHeaders<'a> {
    api_key: Option<&'a HeaderValue>,
    authorization: Option<&'a HeaderValue>,
    project_uid: Option<&'a HeaderValue>,
}

impl<'a> AuthHeaders<'a> {
    fn of(parts: &'a Parts) -> AuthHeaders<'a> {
        let mut found = AuthHeaders::default();
        for (name, value) in &parts.headers {
            let slot = if name == AUTHORIZATION {
                &mut found.authorization
            } else if name == APIKEY {
                &mut found.api_key
            } else if name == PROJECTUID {
                &mut found.project_uid
            } else {
                continue;
            };
            slot.get_or_insert(value);
        }
        found
    }
}

/// A token as presented in the `Authorization` header: raw, or after `Bearer `.
fn token_text(value: &HeaderValue) -> Cow<'_, str> {
    fn without_scheme(value: &str) -> &str {
        match value.split_once(' ') {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
            _ => value,
        }
    }
    match header_text(value) {
        Cow::Borrowed(value) => Cow::Borrowed(without_scheme(value)),
        Cow::Owned(value) => Cow::Owned(without_scheme(&value).to_owned()),
    }
}

pub fn presented_token(parts: &Parts) -> Option<Cow<'_, str>> {
    AuthHeaders::of(parts).authorization.map(token_text)
}

pub fn presented_key(parts: &Parts) -> Option<Cow<'_, str>> {
    // Header names are case-insensitive by construction of `HeaderMap`.
    match AuthHeaders::of(parts).api_key {
        Some(value) => Some(header_text(value)),
        None => query_key(parts).map(Cow::Owned),
    }
}

fn presented<'a>(parts: &'a Parts, found: &AuthHeaders<'a>) -> Option<Credential<'a>> {
    if let Some(key) = found.api_key {
        Some(Credential::ApiKey(header_text(key)))
    } else if let Some(token) = found.authorization {
        Some(Credential::Token(token_text(token)))
    } else if let Some(key) = query_key(parts) {
        Some(Credential::ApiKey(Cow::Owned(key)))
    } else {
        console_cookie(parts).map(|token| Credential::Token(Cow::Owned(token)))
    }
}

/// The project a request runs in: the `ProjectUid` header (any letter case: Go clients send
/// `Projectuid`, the TypeScript SDK `ProjectUID`) or `?ProjectUid=`; none is tenant scope.
fn project_uid(parts: &Parts, found: &AuthHeaders<'_>) -> Option<String> {
    if let Some(value) = found.project_uid {
        // An empty header is what a client without a project sends: tenant scope.
        let value = header_text(value);
        return (!value.is_empty()).then(|| value.into_owned());
    }
    form_urlencoded::parse(parts.uri.query()?.as_bytes())
        .find(|(name, _)| name.eq_ignore_ascii_case("projectuid"))
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The header the console's own script sends with every call.
pub const CONSOLE_HEADER: &str = "x-easel-console";

fn console_cookie(parts: &Parts) -> Option<String> {
    parts.headers.get(CONSOLE_HEADER)?;
    parts
        .headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == "Authorization").then(|| value.to_owned())
        })
}

fn query_key(parts: &Parts) -> Option<String> {
    let query = parts.uri.query()?;
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name.eq_ignore_ascii_case("apikey"))
        .map(|(_, value)| value.trim().to_owned())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let caller = authenticated_caller(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        if let Some(refusal) = key_limit_refusal(state, &caller) {
            return Err(refusal);
        }
        crate::context::remember_caller(&caller);
        Ok(Authenticated(caller))
    }
}

/// The answer to a request made with an API key past its own rate limit, when one is set.
fn key_limit_refusal(state: &AppState, caller: &Caller) -> Option<Response> {
    let verdict = state.limiter.check_key(caller.key_uid.as_ref()?.as_str())?;
    if verdict.allowed {
        return None;
    }
    let wait = verdict.retry_after_secs.max(1);
    let mut response = ApiError(Error::TooManyRequests {
        retry_after_secs: wait,
    })
    .into_response();
    if let Some(PendingError(body)) = response.extensions_mut().get_mut::<PendingError>() {
        body.message = format!("too many requests with this API key; retry in {wait} s");
    }
    verdict.write_headers(response.headers_mut());
    Some(response)
}

async fn authenticated_caller(
    parts: &mut Parts,
    state: &AppState,
) -> Result<std::sync::Arc<Caller>, ApiError> {
    // The cache is asked first, synchronously; the store's paths are boxed. Their futures
    // are large, and a future is built (and moved) whole even when it never waits, so that
    // every request paid for copying them. Now only a request that reaches the store does.
    let easel = &state.easel;
    let found = AuthHeaders::of(parts);
    let caller = match presented(parts, &found) {
        Some(Credential::ApiKey(key)) if !key.is_empty() => match easel.api_key_from_cache(&key)? {
            CachedKey::Hit(caller) => caller,
            CachedKey::Miss(hash) => Box::pin(easel.api_key_from_store(hash)).await?,
        },
        Some(Credential::Token(token)) if !token.is_empty() => {
            match easel.token_from_cache(&token) {
                Some(caller) => caller,
                None => Box::pin(easel.token_from_store(&token)).await?,
            }
        }
        _ => return Err(ApiError(Error::Unauthenticated(AuthFailure::Missing))),
    };
    Ok(match project_uid(parts, &found) {
        Some(project) => std::sync::Arc::new(
            Box::pin(easel.enter_project(Caller::clone(&caller), &project)).await?,
        ),
        None => caller,
    })
}
