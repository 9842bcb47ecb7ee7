//! Object uids: 24 lower-case hex characters, as Palette's look (`66e844c44bab2337f20c7471`).
//! The first 4 bytes are the creation second, so uids sort roughly by creation time, which
//! keeps keyset pages in a natural order; the other 8 bytes are random.

use std::fmt;

use crate::clock::Clock;
use crate::rng::Rng;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Uid(String);

impl Uid {
    pub fn generate(clock: &dyn Clock, rng: &dyn Rng) -> Uid {
        let mut bytes = [0u8; 12];
        let secs = clock.now().timestamp().clamp(0, u32::MAX as i64) as u32;
        bytes[..4].copy_from_slice(&secs.to_be_bytes());
        rng.fill(&mut bytes[4..]);
        Uid(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Parses a uid from a path or body. Upper-case hex is accepted and normalised.
    pub fn parse(s: &str) -> Option<Uid> {
        (s.len() == 24 && s.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| Uid(s.to_ascii_lowercase()))
    }

    /// Wraps a value read back from the store, which only ever holds valid uids.
    pub fn from_stored(s: String) -> Uid {
        Uid(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The uid's text, moved out rather than copied.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Uid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ManualClock, OsRandom};
    use rstest::rstest;

    #[test]
    fn generated_uids_are_24_hex_and_parse_back() {
        let uid = Uid::generate(&ManualClock::default(), &OsRandom);
        assert_eq!(uid.as_str().len(), 24);
        assert_eq!(Uid::parse(uid.as_str()), Some(uid));
    }

    #[rstest]
    #[case("")]
    #[case("66e844c44bab2337f20c747")]
    #[case("66e844c44bab2337f20c74711")]
    #[case("66e844c44bab2337f20c747g")]
    #[case("../../etc/passwd")]
    fn bad_uids_are_refused(#[case] s: &str) {
        assert_eq!(Uid::parse(s), None);
    }

    #[test]
    fn upper_case_is_normalised() {
        assert_eq!(
            Uid::parse("66E844C44BAB2337F20C7471").unwrap().as_str(),
            "66e844c44bab2337f20c7471"
        );
    }
}
