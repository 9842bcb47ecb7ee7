//! The API-key format: `<prefix>_<secret><checksum>`.
//!
//! - `prefix`: 1 to 16 lower-case letters or digits, configurable per deployment (default
//!   `easel`), so that secret scanners can recognise Easel keys;
//! - `secret`: 32 random base62 characters (about 190 bits);
//! - `checksum`: 6 base62 characters of the CRC32 of `<prefix>_<secret>`, so that a typo or a
//!   truncated paste is refused without a store lookup.
//!
//! Only the SHA-256 of the whole key is stored; lookups are by that hash, so the store never
//! sees a value that could be used as a key. A short hint (`easel_…abcd`) identifies a key in
//! lists.

use sha2::{Digest, Sha256};

use crate::rng::{base62_fixed, base62_string, is_base62, Rng};

pub const DEFAULT_PREFIX: &str = "easel";
const SECRET_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;

/// SHA-256 of a whole key: what the store keeps and looks up by.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyHash(pub [u8; 32]);

impl std::fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A hash is not a secret, but there is no reason to print one either.
        f.write_str("KeyHash(..)")
    }
}

impl KeyHash {
    pub fn of(key: &str) -> KeyHash {
        KeyHash(Sha256::digest(key.as_bytes()).into())
    }

    /// Constant-time comparison, for checking a hash read back from the store.
    pub fn matches(&self, other: &[u8]) -> bool {
        use subtle::ConstantTimeEq;
        other.len() == 32 && bool::from(self.0.ct_eq(other))
    }
}

/// A freshly generated key. Its value is handed to the caller once and never kept.
pub struct GeneratedKey {
    pub value: String,
    pub hash: KeyHash,
    pub hint: String,
}

impl std::fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("hint", &self.hint)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyFormat {
    prefix: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("the key does not have the shape <prefix>_<secret><checksum>")]
    Shape,
    #[error("the key's checksum does not match")]
    Checksum,
}

impl KeyFormat {
    pub fn new(prefix: &str) -> Result<KeyFormat, String> {
        if prefix.is_empty()
            || prefix.len() > 16
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            return Err(format!(
                "the key prefix must be 1 to 16 lower-case letters or digits, not {prefix:?}"
            ));
        }
        Ok(KeyFormat {
            prefix: prefix.to_owned(),
        })
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn generate(&self, rng: &dyn Rng) -> GeneratedKey {
        let body = format!("{}_{}", self.prefix, base62_string(rng, SECRET_LEN));
        let value = format!("{body}{}", checksum(&body));
        GeneratedKey {
            hash: KeyHash::of(&value),
            hint: hint(&value),
            value,
        }
    }

    /// Checks a presented key's shape and checksum, and returns its hash for the lookup.
    ///
    /// Any prefix of the right shape is accepted (the checksum covers it), so that keys
    /// issued before a change of the configured prefix keep working.
    pub fn parse(presented: &str) -> Result<KeyHash, KeyFormatError> {
        KeyFormat::parse_bytes(presented.as_bytes())
    }

    /// The hash a presented key is looked up by in the verify cache, without checking its
    /// shape or checksum first; `None` for a length no key has. The cache holds only keys
    /// that passed [`KeyFormat::parse`] and were found in the store, so a hit is such a key
    /// byte for byte: checking it again would find nothing. The store is asked only after
    /// [`KeyFormat::parse_bytes`] accepts the key, so that garbage never reaches it.
    pub fn lookup_hash(presented: &[u8]) -> Option<KeyHash> {
        let shortest = 1 + 1 + SECRET_LEN + CHECKSUM_LEN;
        (shortest..=shortest + 15)
            .contains(&presented.len())
            .then(|| KeyHash(Sha256::digest(presented).into()))
    }

    /// [`KeyFormat::parse`] of bytes that may not be text: the raw value of a request's
    /// header, say, read before (and instead of) checking that it is text. Every byte of a
    /// key is checked to be one of its ASCII letters, digits or its `_`, so bytes that pass
    /// are a key's text.
    pub fn parse_bytes(presented: &[u8]) -> Result<KeyHash, KeyFormatError> {
        // The secret and checksum have a fixed length, so the `_` has a fixed place from the
        // end; no search. (A prefix is letters and digits only, so this is the first `_`.)
        let prefix_len = presented
            .len()
            .checked_sub(1 + SECRET_LEN + CHECKSUM_LEN)
            .ok_or(KeyFormatError::Shape)?;
        let (prefix, rest) = presented.split_at(prefix_len);
        let prefix_ok = (1..=16).contains(&prefix.len())
            && prefix
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if !prefix_ok || rest[0] != b'_' || !is_base62(&rest[1..]) {
            return Err(KeyFormatError::Shape);
        }
        let body_len = prefix_len + 1 + SECRET_LEN;
        let (body, sum) = presented.split_at(body_len);
        // Compared without building a string: every request with a key passes here.
        let mut expected = [0u8; CHECKSUM_LEN];
        crate::rng::base62_into(u64::from(crc32fast::hash(body)), &mut expected);
        if expected != sum {
            return Err(KeyFormatError::Checksum);
        }
        Ok(KeyHash(Sha256::digest(presented).into()))
    }
}

fn checksum(body: &str) -> String {
    base62_fixed(u64::from(crc32fast::hash(body.as_bytes())), CHECKSUM_LEN)
}

/// `easel_…abcd`: enough to tell keys apart in a list, far too little to guess one.
pub fn hint(key: &str) -> String {
    let prefix = key.split_once('_').map(|(p, _)| p).unwrap_or_default();
    let tail: String = key
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{prefix}_…{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OsRandom;
    use rstest::rstest;

    fn format() -> KeyFormat {
        KeyFormat::new(DEFAULT_PREFIX).unwrap()
    }

    #[test]
    fn a_generated_key_parses_to_its_hash() {
        let key = format().generate(&OsRandom);
        assert!(key.value.starts_with("easel_"));
        assert_eq!(key.value.len(), "easel_".len() + 38);
        assert_eq!(KeyFormat::parse(&key.value), Ok(key.hash));
        assert!(key.hint.starts_with("easel_…"));
        assert!(key.value.ends_with(&key.hint["easel_…".len()..]));
    }

    /// The cache's lookup hash of a key is the hash `parse` gives it, for every length of
    /// prefix; no other length has one, so no header value of any other length is hashed.
    #[test]
    fn the_lookup_hash_of_a_key_is_its_hash_and_only_key_lengths_have_one() {
        for prefix in ["e", "easel", "abcdefghijklmnop"] {
            let key = KeyFormat::new(prefix).unwrap().generate(&OsRandom).value;
            let hash = KeyFormat::parse(&key).unwrap();
            assert_eq!(KeyFormat::lookup_hash(key.as_bytes()), Some(hash));
        }
        assert_eq!(
            KeyFormat::lookup_hash(&[b'a'; 40]),
            Some(KeyHash::of(&"a".repeat(40)))
        );
        assert_eq!(
            KeyFormat::lookup_hash(&[b'a'; 55]),
            Some(KeyHash::of(&"a".repeat(55)))
        );
        for length in [0, 1, 39, 56, 16 * 1024] {
            assert_eq!(
                KeyFormat::lookup_hash(&vec![b'a'; length]),
                None,
                "{length}"
            );
        }
    }

    #[test]
    fn keys_are_distinct() {
        let a = format().generate(&OsRandom);
        let b = format().generate(&OsRandom);
        assert_ne!(a.value, b.value);
    }

    #[test]
    fn any_single_character_change_is_caught() {
        let key = format().generate(&OsRandom).value;
        let replacement = |c: char| if c == 'a' { 'b' } else { 'a' };
        for i in "easel_".len()..key.len() {
            let mut chars: Vec<char> = key.chars().collect();
            chars[i] = replacement(chars[i]);
            let tampered: String = chars.into_iter().collect();
            assert_eq!(
                KeyFormat::parse(&tampered),
                Err(KeyFormatError::Checksum),
                "position {i}"
            );
        }
    }

    #[rstest]
    #[case("")]
    #[case("easel")]
    #[case("easel_")]
    #[case("QMOI1ZVKVIoW6LM6uXqSWFPsjmt0juvl")]
    #[case("EASEL_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    #[case("easel_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    #[case("easel_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    #[case("easel_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-")]
    #[case("easel_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaé")]
    #[case("_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    #[case("ea_sel_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    #[case("abcdefghijklmnopq_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    #[case("easeé_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    #[case("easel\u{e9}aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")]
    #[case("easel_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_")]
    fn malformed_keys_are_refused_by_shape(#[case] key: &str) {
        assert_eq!(KeyFormat::parse(key), Err(KeyFormatError::Shape));
    }

    #[test]
    fn a_well_shaped_key_with_a_wrong_checksum_is_refused() {
        assert_eq!(
            KeyFormat::parse("easel_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            Err(KeyFormatError::Checksum)
        );
    }

    #[rstest]
    #[case("")]
    #[case("Easel")]
    #[case("a_b")]
    #[case("seventeen-chars-x")]
    fn bad_prefixes_are_refused(#[case] prefix: &str) {
        assert!(KeyFormat::new(prefix).is_err());
    }

    #[test]
    fn keys_with_another_valid_prefix_still_parse() {
        let key = KeyFormat::new("acme2").unwrap().generate(&OsRandom);
        assert_eq!(KeyFormat::parse(&key.value), Ok(key.hash));
    }
}
