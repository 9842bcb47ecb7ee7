//! Body and query extractors whose failures are Palette error bodies, with messages that
//! name the field at fault but never echo a value (a value might be a password).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::error::{body, ApiError, PendingError};

/// A JSON object request body.
pub struct ApiJson<T>(pub T);

/// A JSON array request body (JSON Patch).
pub struct ApiJsonList<T>(pub Vec<T>);

/// Turns a serde message into one that keeps what was expected but drops what was sent:
/// `invalid type: string "hunter2", expected a boolean` becomes `expected a boolean`.
fn describe(message: &str) -> String {
    if let Some(at) = message.find(", expected ") {
        if message.starts_with("invalid type") || message.starts_with("invalid value") {
            return format!("invalid value, expected {}", &message[at + 11..]);
        }
    }
    if message.starts_with("invalid length") {
        return "invalid length".to_owned();
    }
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned()
}

/// Parses a body whose top level must open with `open` (`{` for an object, `[` for a list):
/// serde would otherwise accept `[]` for a struct, reading it as "all fields left out".
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], open: u8) -> Result<T, ApiError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Err(ApiError::invalid("a JSON request body is required")),
        Some(first) if *first != open => {
            let shape = if open == b'[' {
                "a JSON array"
            } else {
                "a JSON object"
            };
            return Err(ApiError::invalid(format!(
                "the request body must be {shape}"
            )));
        }
        Some(_) => {}
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let what = if inner.is_syntax() || inner.is_eof() {
            format!(
                "malformed JSON at line {} column {}",
                inner.line(),
                inner.column()
            )
        } else {
            describe(&inner.to_string())
        };
        if path == "." || path.is_empty() {
            ApiError::invalid(format!("invalid request body: {what}"))
        } else {
            ApiError::invalid(format!("invalid request body: {path}: {what}"))
        }
    })?;
    de.end().map_err(|_| {
        ApiError::invalid("invalid request body: trailing characters after the JSON value")
    })?;
    Ok(value)
}

fn is_json_or_unset(request: &Request) -> bool {
    match request.headers().get(CONTENT_TYPE) {
        None => true,
        Some(value) => value
            .to_str()
            .map(|v| {
                let mime = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                mime == "application/json" || mime.ends_with("+json")
            })
            .unwrap_or(false),
    }
}

async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, Response> {
    if !is_json_or_unset(&request) {
        let mut response = StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response();
        response.extensions_mut().insert(PendingError(body(
            "UnsupportedMediaType",
            "send the body as application/json",
        )));
        return Err(response);
    }
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            let status = rejection.status();
            let mut response = status.into_response();
            let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
                body("PayloadTooLarge", "the request body is too large")
            } else {
                body("InvalidRequest", "the request body could not be read")
            };
            response.extensions_mut().insert(PendingError(error));
            response
        })
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        parse_json(&bytes, b'{')
            .map(ApiJson)
            .map_err(IntoResponse::into_response)
    }
}

impl<S, T> FromRequest<S> for ApiJsonList<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_body(request, state).await?;
        parse_json(&bytes, b'[')
            .map(ApiJsonList)
            .map_err(IntoResponse::into_response)
    }
}

/// A JSON response body.
///
/// Unlike `axum::Json`, which starts from 128 bytes and doubles as it writes (a page of 50
/// keys is about 30 kB: eight reallocations, each copying what was written so far), this
/// writes into the worker thread's own buffer, kept between responses, and copies the result
/// once into the body.
pub struct Json<T>(pub T);

thread_local! {
    static RESPONSE_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A buffer that grew past this (a rare, very large body) is let go rather than kept.
const KEPT_BUFFER_BYTES: usize = 1 << 20;

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        json_answer(|buffer| serde_json::to_writer(buffer, &self.0))
    }
}

/// A JSON response body written by hand (`write` puts the JSON into the buffer), for the
/// answers served so often that serde's generic path shows (`GET /v1/users/info`).
pub struct WrittenJson<F>(pub F);

impl<F: FnOnce(&mut Vec<u8>)> IntoResponse for WrittenJson<F> {
    fn into_response(self) -> Response {
        json_answer(|buffer| {
            (self.0)(buffer);
            Ok(())
        })
    }
}

/// A 200 whose body `write` puts into the worker thread's buffer, with the headers of every
/// JSON answer.
fn json_answer(write: impl FnOnce(&mut Vec<u8>) -> Result<(), serde_json::Error>) -> Response {
    let written = RESPONSE_BUFFER.with_borrow_mut(|buffer| {
        buffer.clear();
        let written = write(&mut *buffer).map(|()| Bytes::copy_from_slice(buffer));
        if buffer.capacity() > KEPT_BUFFER_BYTES {
            *buffer = Vec::new();
        }
        written
    });
    match written {
        Ok(body) => {
            let length = content_length(body.len());
            let mut response = Response::new(axum::body::Body::from(body));
            *response.headers_mut() = crate::context::JSON_ANSWER_HEADERS.clone();
            crate::context::replace_stand_in(response.headers_mut(), &CONTENT_LENGTH, length);
            response
        }
        Err(e) => ApiError(easel_core::Error::internal(format_args!(
            "a response could not be written as JSON: {e}"
        )))
        .into_response(),
    }
}

/// A `Content-Length` value. Those of the common sizes are made once: making one is two
/// allocations (and their frees) per answer. Static ones, because copying a shared value
/// would write its reference count, a cache line every core's answers would pass around.
fn content_length(length: usize) -> axum::http::HeaderValue {
    const KEPT: usize = 4096;
    static LENGTHS: std::sync::LazyLock<Vec<axum::http::HeaderValue>> =
        std::sync::LazyLock::new(|| {
            // Every number's digits in one string, made once and kept for good (17 KB).
            let digits: String = (0..KEPT).map(|n| n.to_string()).collect();
            let digits: &'static str = Box::leak(digits.into_boxed_str());
            let mut start = 0;
            (0..KEPT)
                .map(|n| {
                    let end = start + n.max(1).ilog10() as usize + 1;
                    let value = axum::http::HeaderValue::from_static(&digits[start..end]);
                    start = end;
                    value
                })
                .collect()
        });
    match LENGTHS.get(length) {
        Some(value) => value.clone(),
        None => axum::http::HeaderValue::from(length),
    }
}

/// Query parameters.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = query_deserializer(query);
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                ApiError::invalid(format!(
                    "invalid query parameter {path}: {}",
                    describe(&e.into_inner().to_string())
                ))
            })
    }
}

/// Splits and percent-decodes the query string into a map that serde can read, with values
/// that parse as the target field asks (string, number or boolean).
fn query_deserializer(
    query: &str,
) -> serde::de::value::MapDeserializer<
    '_,
    std::vec::IntoIter<(String, QueryValue)>,
    serde::de::value::Error,
> {
    let pairs: Vec<(String, QueryValue)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), QueryValue(v.into_owned())))
        .collect();
    serde::de::value::MapDeserializer::new(pairs.into_iter())
}

/// A query value that deserialises as a string, a number or a boolean as asked.
struct QueryValue(String);

impl<'de> serde::de::IntoDeserializer<'de, serde::de::value::Error> for QueryValue {
    type Deserializer = QueryValueDeserializer;
    fn into_deserializer(self) -> Self::Deserializer {
        QueryValueDeserializer(self.0)
    }
}

struct QueryValueDeserializer(String);

macro_rules! parse_number {
    ($method:ident, $visit:ident, $ty:ty) => {
        fn $method<V: serde::de::Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            match self.0.trim().parse::<$ty>() {
                Ok(n) => visitor.$visit(n),
                Err(_) => Err(serde::de::Error::custom(concat!(
                    "expected ",
                    stringify!($ty)
                ))),
            }
        }
    };
}

impl<'de> serde::de::Deserializer<'de> for QueryValueDeserializer {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_string(self.0)
    }

    fn deserialize_option<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_some(self)
    }

    fn deserialize_bool<V: serde::de::Visitor<'de>>(
        self,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        match self.0.trim().to_ascii_lowercase().as_str() {
            "true" | "1" => visitor.visit_bool(true),
            "false" | "0" => visitor.visit_bool(false),
            _ => Err(serde::de::Error::custom("expected true or false")),
        }
    }

    parse_number!(deserialize_i64, visit_i64, i64);
    parse_number!(deserialize_i32, visit_i32, i32);
    parse_number!(deserialize_u64, visit_u64, u64);
    parse_number!(deserialize_u32, visit_u32, u32);

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u8 u16 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        newtype_struct seq tuple tuple_struct map struct enum identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_lengths_are_the_lengths_in_decimal_kept_or_not() {
        for length in (0..5000).chain([65_536, 1 << 20]) {
            assert_eq!(content_length(length), length.to_string().as_str());
        }
    }
}
