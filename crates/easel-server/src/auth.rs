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
    fn of(headers: &'a axum::http::HeaderMap) -> AuthHeaders<'a> {
        let mut found = AuthHeaders::default();
        for (name, value) in headers {
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

/// The verify-cache hash of the credential in a request's headers, worked out by the
/// request context before the request is routed ([`EarlyHash::of`]), so that the cached
/// caller loads into the processor's caches while the router runs
/// ([`easel_core::cache::AuthCache::warm`]); [`Authenticated`] then looks the caller up by
/// it instead of hashing the credential again.
///
/// Worked out from the header's bytes, for a header that holds what clients send: a key
/// (any value of a key's length), or a token with a signed part (raw, or after `Bearer `)
/// with no blanks around it. The cache holds only credentials that passed every check, so
/// a hit is one of them byte for byte, and its header's text is those very bytes: a hit
/// needs neither the text (a check of every byte and a trim, twice per request) nor a key's
/// checksum. A key that misses is checked in full before the store is asked
/// ([`authenticated_caller`]); any other header (blanks, bytes that are not text) is left
/// to [`Authenticated`], which reads it as text as it always has.
#[derive(Clone, Copy)]
pub(crate) struct EarlyHash {
    /// Where the header's value starts in the request's headers, and its length: the hash
    /// stands for that very value of that very request, and is used for nothing else.
    value_at: usize,
    value_len: usize,
    /// A key's hash, or the hash of a token's signature ([`easel_core::token::cache_key`]).
    hash: [u8; 32],
    /// For a token: where its signed part (the text before its last dot, which its cache
    /// lookup compares) starts and ends in the header's value, so that the extractor does
    /// not search the 460 bytes for that dot again. `None` for a key.
    signed: Option<(usize, usize)>,
}

/// What [`EarlyHash::read_from`] gives the extractor: the credential's cache key.
pub(crate) enum EarlyKey<'a> {
    /// A key's lookup hash, and the key's bytes, to be checked in full if the cache does not
    /// hold it.
    ApiKey {
        hash: easel_core::apikey::KeyHash,
        presented: &'a [u8],
    },
    Token(easel_core::token::TokenCacheKey<'a>),
}

impl EarlyHash {
    /// The hash of the credential authentication will pick from `found`, if its header is
    /// one this hashes (see [`EarlyHash`]): the `ApiKey` header if there is one, else
    /// `Authorization`.
    pub(crate) fn of(found: &AuthHeaders<'_>) -> Option<EarlyHash> {
        if let Some(key) = found.api_key {
            let value = key.as_bytes();
            let hash = easel_core::apikey::KeyFormat::lookup_hash(value)?;
            return Some(EarlyHash::of_key_value(value, hash.0));
        }
        let value = found.authorization?.as_bytes();
        let start = match value.get(..7) {
            Some(scheme) if scheme.eq_ignore_ascii_case(b"bearer ") => 7,
            _ => 0,
        };
        let token = &value[start..];
        // Only visible ASCII at both ends, so that the text path's trim would take nothing.
        let plain_end = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_graphic());
        if !plain_end(token.first()) || !plain_end(token.last()) {
            return None;
        }
        let key = easel_core::token::cache_key_of_bytes(token)?;
        Some(EarlyHash {
            value_at: value.as_ptr() as usize,
            value_len: value.len(),
            hash: key.hash,
            signed: Some((start, start + key.signed.len())),
        })
    }

    /// `hash` as the early hash of a key header whose value is `value` (bytes of the request's
    /// headers).
    pub(crate) fn of_key_value(value: &[u8], hash: [u8; 32]) -> EarlyHash {
        EarlyHash {
            value_at: value.as_ptr() as usize,
            value_len: value.len(),
            hash,
            signed: None,
        }
    }

    /// The hash, for the cache to warm.
    pub(crate) fn hash(&self) -> &[u8; 32] {
        &self.hash
    }

    /// Whether the credential is a token, not a key.
    pub(crate) fn is_token(&self) -> bool {
        self.signed.is_some()
    }

    /// Whether this was worked out from `value`: the same bytes of the same request's
    /// headers.
    pub(crate) fn is_for_value(&self, value: &[u8]) -> bool {
        self.value_at == value.as_ptr() as usize && self.value_len == value.len()
    }

    /// The cache key of the credential authentication picks from `found` (the `ApiKey`
    /// header first), if this is its early hash; `None` sends the extractor down the text
    /// path.
    pub(crate) fn read_from<'a>(&self, found: &AuthHeaders<'a>) -> Option<EarlyKey<'a>> {
        match (found.api_key, self.signed) {
            (Some(key), None) => {
                let presented = key.as_bytes();
                self.is_for_value(presented).then_some(EarlyKey::ApiKey {
                    hash: easel_core::apikey::KeyHash(self.hash),
                    presented,
                })
            }
            (None, Some((start, end))) => {
                let value = found.authorization?.as_bytes();
                if !self.is_for_value(value) {
                    return None;
                }
                Some(EarlyKey::Token(easel_core::token::TokenCacheKey {
                    hash: self.hash,
                    signed: value.get(start..end)?,
                }))
            }
            _ => None,
        }
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
    AuthHeaders::of(&parts.headers)
        .authorization
        .map(token_text)
}

pub fn presented_key(parts: &Parts) -> Option<Cow<'_, str>> {
    // Header names are case-insensitive by construction of `HeaderMap`.
    match AuthHeaders::of(&parts.headers).api_key {
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
    let found = AuthHeaders::of(&parts.headers);
    let early = crate::context::polled_early_hash().and_then(|early| early.read_from(&found));
    let caller = match early {
        // A header hashed before routing, and found: a credential that passed every check.
        Some(EarlyKey::ApiKey { hash, presented }) => match easel.hashed_api_key_from_cache(hash) {
            CachedKey::Hit(caller) => caller,
            // Not cached: the store is asked only for a key whose shape and checksum hold.
            CachedKey::Miss(hash) => match easel_core::apikey::KeyFormat::parse_bytes(presented) {
                Ok(_) => Box::pin(easel.api_key_from_store(hash)).await?,
                Err(_) => Box::pin(presented_caller(parts, &found, easel)).await?,
            },
        },
        Some(EarlyKey::Token(key)) => match easel.keyed_token_from_cache(&key) {
            Some(caller) => caller,
            None => Box::pin(presented_caller(parts, &found, easel)).await?,
        },
        None => Box::pin(presented_caller(parts, &found, easel)).await?,
    };
    Ok(match project_uid(parts, &found) {
        Some(project) => std::sync::Arc::new(
            Box::pin(easel.enter_project(Caller::clone(&caller), &project)).await?,
        ),
        None => caller,
    })
}

/// The caller of the credential a request presents, read as text: for what the request
/// context did not hash (a key in the query string or with blanks around it, a console
/// cookie, a header that is not text, a malformed key), and for a token not in the cache.
async fn presented_caller(
    parts: &Parts,
    found: &AuthHeaders<'_>,
    easel: &easel_core::Easel,
) -> Result<std::sync::Arc<Caller>, ApiError> {
    match presented(parts, found) {
        Some(Credential::ApiKey(key)) if !key.is_empty() => {
            match easel.hashed_api_key_from_cache(easel_core::Easel::api_key_hash(&key)?) {
                CachedKey::Hit(caller) => Ok(caller),
                CachedKey::Miss(hash) => Ok(easel.api_key_from_store(hash).await?),
            }
        }
        Some(Credential::Token(token)) if !token.is_empty() => match easel.token_from_cache(&token)
        {
            Some(caller) => Ok(caller),
            None => Ok(easel.token_from_store(&token).await?),
        },
        _ => Err(ApiError(Error::Unauthenticated(AuthFailure::Missing))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn early_hash(headers: &HeaderMap) -> Option<EarlyHash> {
        EarlyHash::of(&AuthHeaders::of(headers))
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

    /// The cache key the early hash gives the extractor, as (kind, hash, signed part).
    fn early_key(headers: &HeaderMap) -> Option<(&'static str, [u8; 32], Vec<u8>)> {
        Some(
            match early_hash(headers)?.read_from(&AuthHeaders::of(headers))? {
                EarlyKey::ApiKey { hash, presented } => {
                    // What the extractor looks up in the cache, then checks in full on a miss.
                    assert_eq!(
                        hash,
                        easel_core::apikey::KeyFormat::lookup_hash(presented).unwrap()
                    );
                    if easel_core::apikey::KeyFormat::parse_bytes(presented).is_err() {
                        return None;
                    }
                    ("key", hash.0, vec![])
                }
                EarlyKey::Token(key) => ("token", key.hash, key.signed.to_vec()),
            },
        )
    }

    /// The cache key the text path gives for the same headers (the extractor's path for
    /// whatever has no early hash), in the same form.
    fn text_key(headers: &HeaderMap) -> Option<(&'static str, [u8; 32], Vec<u8>)> {
        let parts = axum::http::Request::new(()).into_parts().0;
        match presented(&parts, &AuthHeaders::of(headers))? {
            Credential::ApiKey(key) => {
                Some(("key", easel_core::Easel::api_key_hash(&key).ok()?.0, vec![]))
            }
            Credential::Token(token) => {
                let key = easel_core::token::cache_key(&token)?;
                Some(("token", key.hash, key.signed.to_vec()))
            }
        }
    }

    /// Wherever the extractor acts on the early hash (a key whose shape and checksum hold,
    /// asked of the store when not cached; a token, looked up in the cache), it finds what
    /// reading the header as text would have found: the same credential (a key header
    /// before a token), hashed the same way, the same signed part. Headers with blanks, a
    /// bad checksum, bytes that are not text, or an unsigned token go down the text path.
    #[test]
    fn the_early_hash_agrees_with_the_text_path_wherever_it_applies() {
        let key = easel_core::apikey::KeyFormat::new("easel")
            .unwrap()
            .generate(&easel_core::OsRandom)
            .value;
        let mut bad_checksum = key.clone();
        bad_checksum.pop();
        bad_checksum.push(if key.ends_with('A') { 'B' } else { 'A' });
        let token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let bearer = format!("Bearer {token}");
        // The headers sent, and whether the early hash applies to them.
        type Case<'a> = (Vec<(&'a str, Vec<u8>)>, bool);
        let cases: Vec<Case> = vec![
            (vec![("apikey", key.clone().into())], true),
            (vec![("ApiKey", key.clone().into())], true),
            (vec![("apikey", format!(" {key}").into())], false),
            (vec![("apikey", format!("{key}\t").into())], false),
            (vec![("apikey", bad_checksum.clone().into())], false),
            (vec![("apikey", b"easel_\xff".to_vec())], false),
            (vec![("apikey", vec![])], false),
            (vec![("authorization", token.into())], true),
            (vec![("authorization", bearer.clone().into())], true),
            (
                vec![("authorization", format!("bEARER {token}").into())],
                true,
            ),
            (
                vec![("authorization", format!("Bearer  {token}").into())],
                false,
            ),
            (vec![("authorization", format!("{token} ").into())], false),
            // Not a scheme Easel knows: the whole value is the token, as on the text path
            // (and no token has a space in it, so it is never found).
            (
                vec![("authorization", format!("Basic {token}").into())],
                true,
            ),
            (vec![("authorization", b"no-dot-in-it".to_vec())], false),
            (vec![("authorization", b".signature-only".to_vec())], false),
            (
                vec![("authorization", b"Bearer \xc3\xa9.b.c".to_vec())],
                false,
            ),
            (
                vec![
                    ("authorization", bearer.clone().into()),
                    ("apikey", key.clone().into()),
                ],
                true,
            ),
            (
                vec![
                    ("authorization", bearer.clone().into()),
                    ("apikey", bad_checksum.clone().into()),
                ],
                false,
            ),
        ];
        for (headers, hashed_early) in cases {
            let mut map = HeaderMap::new();
            for (name, value) in &headers {
                map.append(
                    HeaderName::from_bytes(name.as_bytes()).unwrap(),
                    HeaderValue::from_bytes(value).unwrap(),
                );
            }
            let early = early_key(&map);
            assert_eq!(early.is_some(), hashed_early, "{headers:?}");
            if let Some(early) = early {
                assert_eq!(Some(early), text_key(&map), "{headers:?}");
            }
        }
    }

    /// The early hash is taken for the very header value it was worked out from, never for
    /// an equal value elsewhere (another request's), nor for a key header it was not made
    /// for; and a key's early hash never makes a token's cache key.
    #[test]
    fn the_early_hash_is_only_for_its_own_header() {
        let key = easel_core::apikey::KeyFormat::new("easel")
            .unwrap()
            .generate(&easel_core::OsRandom);
        let mut headers = HeaderMap::new();
        headers.insert("apikey", key.value.parse().unwrap());
        let early = early_hash(&headers).unwrap();
        assert_eq!(early.hash(), &key.hash.0);
        assert!(!early.is_token());
        assert!(early.is_for_value(headers["apikey"].as_bytes()));
        let elsewhere = key.value.clone();
        assert!(
            !early.is_for_value(elsewhere.as_bytes()),
            "an equal value elsewhere"
        );

        let mut other = HeaderMap::new();
        other.insert("apikey", key.value.parse().unwrap());
        assert!(
            early.read_from(&AuthHeaders::of(&other)).is_none(),
            "another request's header"
        );

        let mut token_only = HeaderMap::new();
        token_only.insert(
            "authorization",
            text_of(&headers, "apikey").parse().unwrap(),
        );
        assert!(
            early.read_from(&AuthHeaders::of(&token_only)).is_none(),
            "a key's early hash never makes a token's cache key"
        );
        assert!(early_hash(&HeaderMap::new()).is_none());
    }
}
