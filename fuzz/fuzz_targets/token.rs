//! `token::parse` and `ParsedToken::verify` on arbitrary input, and sign → parse → verify
//! round trips of claims built from the input.
//!
//! Invariants:
//! - `parse` never panics, and accepts only ASCII input of at most 2048 bytes in three
//!   dot-separated parts;
//! - a fuzzed token never verifies against the fixed public key (that would be a forgery);
//! - a token signed with the fixed key parses back to the same kid and claims and verifies
//!   against that key only.
#![no_main]

use chrono::DateTime;
use easel_core::model::SigningKeyRecord;
use easel_core::token::{self, Claims, TokenError, TokenSigner};
use libfuzzer_sys::fuzz_target;

const SEED: [u8; 32] = [7u8; 32];

fn check_presented(input: &str) {
    let Ok(parsed) = token::parse(input) else {
        return;
    };
    assert!(input.len() <= 2048 && input.is_ascii());
    assert_eq!(input.split('.').count(), 3);
    assert_eq!(
        parsed.verify(&token::public_key(&SEED)),
        Err(TokenError::Signature),
        "a fuzzed token verified: {input:?}"
    );
    // Keys of the wrong length are refused, not a panic.
    assert!(parsed.verify(&[]).is_err());
    assert!(parsed.verify(&[7u8; 31]).is_err());
}

fn check_round_trip(input: &str) {
    // Fields separated by NUL: kid, sub, tid, sid, jti, key; then iat/exp from lengths.
    let mut fields = input.split('\0');
    let mut next = || fields.next().unwrap_or_default().to_owned();
    let kid = next();
    let claims = Claims {
        sub: next(),
        tid: next(),
        sid: next(),
        iat: input.len() as i64,
        exp: -(input.len() as i64),
        jti: next(),
        key: Some(next()).filter(|k| !k.is_empty()),
        sxp: Some(i64::MAX),
        sst: Some(i64::MIN),
    };
    let record = SigningKeyRecord {
        kid: kid.clone(),
        seed: SEED.to_vec(),
        public_key: token::public_key(&SEED).to_vec(),
        created_at: DateTime::UNIX_EPOCH,
        retires_at: DateTime::UNIX_EPOCH,
    };
    let signer = TokenSigner::new(&record).expect("a 32-byte seed");
    let signed = token::sign_with(&signer, &claims).expect("claims serialise");
    match token::parse(&signed) {
        Ok(parsed) => {
            assert_eq!(parsed.kid, kid);
            assert_eq!(parsed.claims, claims);
            assert_eq!(parsed.verify(&token::public_key(&SEED)), Ok(()));
            assert_eq!(
                parsed.verify(&token::public_key(&[8u8; 32])),
                Err(TokenError::Signature)
            );
        }
        // Only a token over the length limit may be refused (and then as malformed).
        Err(e) => assert!(
            signed.len() > 2048 && e == TokenError::Malformed,
            "a token Easel signed was refused ({e:?}): {signed:?}"
        ),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        check_presented(s);
        check_round_trip(s);
    }
});
