//! `KeyFormat::parse` on arbitrary input, and `generate` → `parse` round trips.
//!
//! Invariants:
//! - `parse` never panics;
//! - an accepted key has the documented shape, and `parse` returns `KeyHash::of(key)`;
//! - changing any one character of an accepted key's secret or checksum makes it refused
//!   (CRC32 catches every single-character change, and the checksum is injective);
//! - a key generated with any valid prefix and any randomness parses to its own hash.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use easel_core::apikey::{hint, KeyFormat, KeyHash};
use easel_core::Rng;
use libfuzzer_sys::fuzz_target;

const SECRET_AND_CHECKSUM: usize = 38;

/// Deterministic randomness from the fuzz input (SplitMix64), so a crash reproduces.
struct SeededRng(AtomicU64);

impl Rng for SeededRng {
    fn fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let mut z = self
                .0
                .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                .wrapping_add(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

fn check_presented(key: &str) {
    let Ok(hash) = KeyFormat::parse(key) else {
        return;
    };
    assert_eq!(hash, KeyHash::of(key), "parse returned another hash");
    let (prefix, rest) = key.split_once('_').expect("an accepted key has a '_'");
    assert!(
        (1..=16).contains(&prefix.len()),
        "prefix length {}",
        prefix.len()
    );
    assert!(prefix
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    assert_eq!(rest.len(), SECRET_AND_CHECKSUM);
    assert!(rest.bytes().all(|b| b.is_ascii_alphanumeric()));
    // One changed character anywhere after the '_' must be refused.
    let start = prefix.len() + 1;
    let mut bytes = key.as_bytes().to_vec();
    for i in start..bytes.len() {
        let original = bytes[i];
        bytes[i] = if original == b'a' { b'b' } else { b'a' };
        let tampered = std::str::from_utf8(&bytes).expect("still ASCII");
        assert!(
            KeyFormat::parse(tampered).is_err(),
            "a key with position {i} changed was accepted: {tampered:?}"
        );
        bytes[i] = original;
    }
}

fn check_round_trip(data: &[u8]) {
    // First byte: prefix length (1..=16); then that many bytes mapped onto [a-z0-9];
    // the next 8 bytes seed the randomness.
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len % 16) + 1;
    if rest.len() < len {
        return;
    }
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let prefix: String = rest[..len]
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    let mut seed = [0u8; 8];
    for (slot, b) in seed.iter_mut().zip(&rest[len..]) {
        *slot = *b;
    }
    let format = KeyFormat::new(&prefix).expect("a valid prefix is accepted");
    let rng = SeededRng(AtomicU64::new(u64::from_le_bytes(seed)));
    let key = format.generate(&rng);
    assert!(key.value.starts_with(&format!("{prefix}_")));
    assert_eq!(key.value.len(), prefix.len() + 1 + SECRET_AND_CHECKSUM);
    assert_eq!(key.hash, KeyHash::of(&key.value));
    assert_eq!(
        KeyFormat::parse(&key.value),
        Ok(key.hash),
        "{:?}",
        key.value
    );
    assert_eq!(key.hint, hint(&key.value));
    check_presented(&key.value);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check_presented(s);
    }
    check_round_trip(data);
});
