//! Password policy after NIST SP 800-63B: a minimum length (8 unless the tenant raises it),
//! long passphrases allowed (up to 256 characters), no composition rules, and guessable
//! passwords refused: those that `zxcvbn` (Dropbox's strength estimator, with its lists of
//! common passwords, words and names) rates below "safely unguessable", with the user's own
//! email, names and organisation counted as known to an attacker.

use crate::error::{Error, Result};

pub const DEFAULT_MIN_LENGTH: i64 = 8;
pub const MAX_LENGTH: usize = 256;
/// zxcvbn's score 3: "safely unguessable: moderate protection from offline slow-hash
/// scenario" (about 10^10 guesses).
const MIN_SCORE: u8 = 3;

pub fn check(min_length: i64, password: &str, known_to_attacker: &[&str]) -> Result<()> {
    let length = password.chars().count();
    if (length as i64) < min_length {
        return Err(Error::invalid(format!(
            "the password must be at least {min_length} characters"
        )));
    }
    if length > MAX_LENGTH {
        return Err(Error::invalid(format!(
            "the password must be at most {MAX_LENGTH} characters"
        )));
    }
    let score = u8::from(zxcvbn::zxcvbn(password, known_to_attacker).score());
    if score < MIN_SCORE {
        return Err(Error::invalid(
            "the password is too easy to guess (a common password, a word, or close to your \
             name or email); a longer passphrase of unrelated words works well",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("short", false)]
    #[case("password", false)]
    #[case("password123", false)]
    #[case("qwertyuiop", false)]
    #[case("ann@example.com", false)]
    #[case("iloveyou2024", false)]
    #[case("correct horse battery staple", true)]
    #[case("vivid-otter-mango-glacier", true)]
    #[case("P@ssw0rd123!", false)]
    fn passwords(#[case] password: &str, #[case] ok: bool) {
        assert_eq!(
            check(8, password, &["ann@example.com", "Ann", "Lee"]).is_ok(),
            ok,
            "{password}"
        );
    }

    #[test]
    fn a_tenant_may_raise_the_minimum_and_long_passphrases_are_allowed() {
        assert!(check(30, "correct horse battery staple", &[]).is_err());
        let long = "unrelated words make a long passphrase ".repeat(6);
        assert!(long.chars().count() >= 64);
        assert!(check(8, &long[..200], &[]).is_ok());
        assert!(check(8, &"x".repeat(257), &[]).is_err());
    }
}
