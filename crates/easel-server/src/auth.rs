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
pub(crate) struct AuthHeaders<'a> {
    api_key: Option<&'a HeaderValue>,
    authorization: Option<&'a HeaderValue>,
    project_uid: Option<&'a HeaderValue>,
}

impl<'a> AuthHeaders<'a> {
    fn of(parts: &'a Parts) -> AuthHeaders<'a> {
        let mut found = AuthHeaders::default();
        for (name, value) in &parts.headers {
            found.see(name, value);
        }
        found
    }

    /// Keeps `value` if `name` is one of the headers authentication reads (and the first of
    /// its name): for a walk over the headers made for other reasons too.
    pub(crate) fn see(&mut self, name: &HeaderName, value: &'a HeaderValue) {
        let slot = if name == AUTHORIZATION {
            &mut self.authorization
        } else if name == APIKEY {
            &mut self.api_key
        } else if name == PROJECTUID {
            &mut self.project_uid
        } else {
            return;
        };
        slot.get_or_insert(value);
    }
}

/// The verify-cache hash of the credential a request presents in its headers, worked out
/// by the request context before the request is routed ([`EarlyHash::of`]), so that the
/// cached caller loads into the processor's caches while the router runs
/// ([`easel_core::cache::AuthCache::warm`]). [`Authenticated`] then uses it instead of
/// hashing the credential again, which would give back a third or more of what the loading
/// saves.
#[derive(Clone, Copy)]
pub(crate) struct EarlyHash {
    /// Where the credential's text starts in the request's headers, and its length: the
    /// hash stands for that very text of that very request, and is used for nothing else.
    text_at: usize,
    text_len: usize,
    /// A key's hash once its checksum is checked, or the hash of a token's signature
    /// ([`easel_core::token::cache_key`]); `None` for a malformed key, or a token without a
    /// signed part.
    hash: Option<[u8; 32]>,
    /// For a token with a hash: the length of its signed part (the text before its last dot),
    /// which its cache lookup compares, so that the extractor does not search the 460 bytes
    /// for that dot again. 0 for a key.
    signed_len: usize,
}

impl EarlyHash {
    /// The hash of the credential authentication will pick from `found`, if it is in a
    /// header (a key in the query string or a console cookie is left to [`Authenticated`]).
    pub(crate) fn of(found: &AuthHeaders<'_>) -> Option<EarlyHash> {
        let (text, hash, signed_len) = if let Some(key) = found.api_key {
            let Cow::Borrowed(key) = header_text(key) else {
                return None;
            };
            (
                key,
                easel_core::Easel::api_key_hash(key).ok().map(|h| h.0),
                0,
            )
        } else {
            let Cow::Borrowed(token) = token_text(found.authorization?) else {
                return None;
            };
            match easel_core::token::cache_key(token) {
                Some(key) => (token, Some(key.hash), key.signed.len()),
                None => (token, None, 0),
            }
        };
        Some(EarlyHash {
            signed_len,
            ..EarlyHash::for_text(text, hash)
        })
    }

    /// `hash` as the hash of `text`, which must be borrowed from the request's headers, with
    /// no signed part (a key's, or none).
    pub(crate) fn for_text(text: &str, hash: Option<[u8; 32]>) -> EarlyHash {
        EarlyHash {
            text_at: text.as_ptr() as usize,
            text_len: text.len(),
            hash,
            signed_len: 0,
        }
    }

    /// The hash; `None` for a malformed key or a token without a signed part.
    pub(crate) fn hash(&self) -> Option<&[u8; 32]> {
        self.hash.as_ref()
    }

    /// Whether the credential is a token (with a signed part), not a key.
    pub(crate) fn is_token(&self) -> bool {
        self.signed_len > 0
    }

    /// The verify cache's key of `token`, which must be the text this was worked out for
    /// ([`EarlyHash::is_for`]); `None` if it has none. A key's early hash has no signed part,
    /// so it never makes a token's cache key (which could find the key's entry).
    fn token_cache_key<'t>(&self, token: &'t str) -> Option<easel_core::token::TokenCacheKey<'t>> {
        Some(easel_core::token::TokenCacheKey {
            hash: self.hash?,
            signed: token
                .get(..self.signed_len)
                .filter(|signed| !signed.is_empty())?,
        })
    }

    /// Whether this is the hash of `text`: the same bytes of the same request's headers.
    pub(crate) fn is_for(&self, text: &str) -> bool {
        self.text_at == text.as_ptr() as usize && self.text_len == text.len()
    }
}

/// A token as presented in the `Authorization` header: raw, or after `Bearer ` (any letter
/// case, then any blanks).
fn token_text(value: &HeaderValue) -> Cow<'_, str> {
    fn without_scheme(value: &str) -> &str {
        // Only the first seven bytes are looked at: a raw token (as Palette clients send it)
        // has no space, and searching its 460 bytes for one, twice per request, was 2 % of
        // the user time of a request with a token (docs/performance.md, round 17).
        match value.as_bytes().get(..7) {
            // Byte 6 is a space, so `value[7..]` starts on a character boundary.
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => value[7..].trim(),
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
    // Asked first, so that without per-key limits (the default) the caller's key is not
    // read: on a cached caller whose lines are still loading, that read waits for memory.
    if !state.limiter.limits_keys() {
        return None;
    }
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
    let early = crate::context::polled_early_hash();
    let caller = match presented(parts, &found) {
        Some(Credential::ApiKey(key)) if !key.is_empty() => {
            let hash = match early.filter(|early| early.is_for(&key)) {
                Some(early) => early
                    .hash
                    .map(easel_core::apikey::KeyHash)
                    .ok_or(Error::Unauthenticated(AuthFailure::Malformed))?,
                None => easel_core::Easel::api_key_hash(&key)?,
            };
            match easel.hashed_api_key_from_cache(hash) {
                CachedKey::Hit(caller) => caller,
                CachedKey::Miss(hash) => Box::pin(easel.api_key_from_store(hash)).await?,
            }
        }
        Some(Credential::Token(token)) if !token.is_empty() => {
            // An early hash has a cache key only for a token with a signed part
            // (`EarlyHash::of`); otherwise the token is looked up from its text.
            let cached = match early
                .filter(|early| early.is_for(&token))
                .and_then(|early| early.token_cache_key(&token))
            {
                Some(key) => easel.keyed_token_from_cache(&key),
                None => easel.token_from_cache(&token),
            };
            match cached {
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn early_hash(headers: &HeaderMap) -> Option<EarlyHash> {
        let mut found = AuthHeaders::default();
        for (name, value) in headers {
            found.see(name, value);
        }
        EarlyHash::of(&found)
    }

    fn text_of<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
        headers[name].to_str().unwrap()
    }

    #[test]
    fn a_token_is_read_raw_or_after_bearer_in_any_letter_case() {
        for (sent, token) in [
            ("a.b.c", "a.b.c"),
            ("Bearer a.b.c", "a.b.c"),
            ("bEARER   a.b.c ", "a.b.c"),
            ("Bearer", "Bearer"),
            ("Bearer ", "Bearer"),
            ("Bearera.b.c", "Bearera.b.c"),
            ("Bearer\ta.b.c", "Bearer\ta.b.c"),
            ("Basic a.b.c", "Basic a.b.c"),
            ("Bearer é.b.c", "é.b.c"),
            ("Beaér a.b.c", "Beaér a.b.c"),
        ] {
            let value = HeaderValue::from_bytes(sent.as_bytes()).unwrap();
            assert_eq!(token_text(&value), token, "{sent:?}");
        }
    }

    /// The hash worked out before routing is that of the credential the extractor picks (a
    /// key header before a token, a token after `Bearer `), and it is taken for that very
    /// text only: an equal text elsewhere (another request's) is hashed anew.
    #[test]
    fn the_early_hash_is_of_the_credential_authentication_picks_and_only_for_it() {
        let key = easel_core::apikey::KeyFormat::new("easel")
            .unwrap()
            .generate(&easel_core::OsRandom);
        let mut token_only = HeaderMap::new();
        token_only.insert("authorization", "Bearer some.signed.token".parse().unwrap());
        let token = &text_of(&token_only, "authorization")["Bearer ".len()..];
        let early = early_hash(&token_only).unwrap();
        let expected = easel_core::token::cache_key("some.signed.token").unwrap();
        assert_eq!(early.hash(), Some(&expected.hash));
        let cache_key = early.token_cache_key(token).unwrap();
        assert_eq!(
            (cache_key.hash, cache_key.signed),
            (expected.hash, "some.signed"),
            "the token's cache key, split at its last dot"
        );
        assert!(early.is_for(token));
        let elsewhere = String::from(token);
        assert!(!early.is_for(&elsewhere), "an equal text elsewhere");
        let mut unsigned = HeaderMap::new();
        unsigned.insert("authorization", "no-dot-in-it".parse().unwrap());
        let early = early_hash(&unsigned).unwrap();
        assert_eq!(
            early.hash(),
            None,
            "not a token: left to the extractor to refuse"
        );
        assert!(early.token_cache_key("no-dot-in-it").is_none());

        let mut headers = token_only.clone();
        headers.insert("apikey", key.value.parse().unwrap());
        let early = early_hash(&headers).unwrap();
        assert_eq!(
            early.hash(),
            Some(&key.hash.0),
            "the key header comes first"
        );
        assert!(early.is_for(text_of(&headers, "apikey")));
        assert!(!early.is_for(&text_of(&headers, "authorization")["Bearer ".len()..]));
        assert!(
            early.token_cache_key(text_of(&headers, "apikey")).is_none(),
            "a key's hash never makes a token's cache key"
        );

        let mut broken = key.value.clone();
        broken.pop();
        broken.push(if key.value.ends_with('A') { 'B' } else { 'A' });
        headers.insert("apikey", broken.parse().unwrap());
        let early = early_hash(&headers).unwrap();
        assert_eq!(early.hash(), None, "a bad checksum is malformed");
        assert!(early.is_for(text_of(&headers, "apikey")));

        headers.insert("apikey", HeaderValue::from_bytes(b"easel_\xff").unwrap());
        assert!(
            early_hash(&headers).is_none(),
            "not text: left to the extractor"
        );
        assert!(early_hash(&HeaderMap::new()).is_none());
    }
}
