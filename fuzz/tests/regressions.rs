//! Plain tests (no libFuzzer): the seed corpora are what they claim to be, and the inputs the
//! fuzzers found (fuzz/regressions/<target>/) stay refused.
//!
//! Run with `cargo test --manifest-path fuzz/Cargo.toml`.

use std::path::PathBuf;

use easel_core::apikey::{KeyFormat, KeyFormatError, KeyHash};
use easel_core::paging::{PageCodec, PageParams};
use easel_core::token::{self, TokenError};

/// The secret of the `continue_token` fuzz target.
const PAGE_SECRET: &[u8] = b"easel fuzz deployment secret";

fn read(path: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files(dir: &str) -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| {
            let path = entry.expect("a directory entry").path();
            let text = std::fs::read_to_string(&path).expect("a UTF-8 input");
            (path.display().to_string(), text)
        })
        .collect();
    out.sort();
    out
}

fn continue_token(token: &str, list: &str) -> easel_core::Result<easel_core::model::Window> {
    PageCodec::new(PAGE_SECRET.to_vec()).window(
        list,
        &PageParams {
            continue_token: Some(token.to_owned()),
            ..Default::default()
        },
    )
}

#[test]
fn api_key_seeds() {
    for name in ["seed-default", "seed-prefix", "seed-long-prefix"] {
        let key = read(&format!("corpus/api_key/{name}"));
        assert_eq!(KeyFormat::parse(&key), Ok(KeyHash::of(&key)), "{name}");
    }
    assert_eq!(
        KeyFormat::parse(&read("corpus/api_key/seed-bad-checksum")),
        Err(KeyFormatError::Checksum)
    );
}

#[test]
fn token_seeds() {
    let public_key = token::public_key(&[7u8; 32]);
    for name in ["seed-session", "seed-apikey-session"] {
        let text = read(&format!("corpus/token/{name}"));
        let parsed = token::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(parsed.verify(&public_key), Err(TokenError::Signature));
    }
    assert_eq!(
        token::parse(&read("corpus/token/seed-alg-none")).err(),
        Some(TokenError::Algorithm)
    );
}

#[test]
fn continue_token_seeds() {
    for (name, list) in [
        ("seed-list-50", "list"),
        ("seed-list-1", "list"),
        ("seed-other-list", "users"),
    ] {
        let text = read(&format!("corpus/continue_token/{name}"));
        assert!(continue_token(&text, list).is_ok(), "{name}");
        assert!(continue_token(&text, "other").is_err(), "{name}");
    }
}

/// Found by the `continue_token` target: `PageCodec` checks the tag with
/// `verify_truncated_left`, which accepts any 1- to 32-byte prefix of the HMAC, so a token
/// with its 16-byte tag cut short is still accepted, and a token with a 1-byte tag can be
/// forged for any position in at most 256 tries. Every such token must be refused.
#[test]
fn continue_tokens_with_a_short_tag_are_refused() {
    for (path, text) in files("regressions/continue_token") {
        assert!(
            continue_token(&text, "list").is_err(),
            "{path}: {text:?} was accepted"
        );
    }
}
