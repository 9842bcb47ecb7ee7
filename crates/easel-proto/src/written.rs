//! JSON written by hand for the answers served most often (`GET /v1/users/info`, pages of
//! API keys): the same bytes serde_json writes for the wire types, byte for byte (tests hold
//! each writer to serde's output), without serde's generic path. Field names are literals,
//! and a string is copied as it is unless it holds a character JSON escapes; serde escaped
//! every string byte by byte.

use chrono::{DateTime, Utc};

/// A JSON string, as serde_json writes it: copied between quotes when nothing in it needs
/// escaping (a control character, `"` or `\\`), else escaped by serde_json itself.
pub(crate) fn string(out: &mut Vec<u8>, value: &str) {
    // No early exit, so that the check runs over whole vectors of bytes.
    let needs_escaping = value.bytes().fold(false, |any, b| {
        any | (b < 0x20) | (b == b'"') | (b == b'\\')
    });
    if needs_escaping {
        // Writing a `str` into a `Vec` cannot fail.
        let _ = serde_json::to_writer(&mut *out, value);
    } else {
        out.reserve(value.len() + 2);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
    }
}

/// A time as `crate::time::optional` writes it: Palette's spelling, Go's zero time if unset.
pub(crate) fn time(out: &mut Vec<u8>, t: Option<&DateTime<Utc>>) {
    match t {
        Some(t) => crate::time::with_formatted(t, |text| string(out, text)),
        None => string(out, crate::time::GO_ZERO_TIME),
    }
}

/// An integer, as serde_json writes it.
pub(crate) fn integer(out: &mut Vec<u8>, value: i64) {
    use std::io::Write as _;
    // Writing into a `Vec` cannot fail.
    let _ = write!(out, "{value}");
}
