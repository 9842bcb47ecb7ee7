//! Authorisation tokens: compact JWS (JWT) signed with Ed25519 (`alg: EdDSA`).
//!
//! Written here rather than taken from a general JWT library so that exactly one algorithm is
//! accepted: a token that names any other (`none`, `HS256` with the public key as secret, …)
//! is refused before any key is touched. Parsing is strict and bounded: three base64url parts,
//! a header with `alg` and `kid` and no `crit`, claims of the expected types.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::SigningKeyRecord;

/// Longer than any token Easel issues by far; anything longer is refused unparsed.
const MAX_TOKEN_LEN: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's uid.
    pub sub: String,
    /// The tenant's uid.
    pub tid: String,
    /// The session's uid: the same across refreshes.
    pub sid: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// This token's own id.
    pub jti: String,
    /// For a session opened with an API key: the key's uid. Such a session has no row of
    /// its own (it lives and dies with the key), so the token carries what a row would hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For a session opened with an API key: when the session ends, seconds since the epoch.
    /// Refreshes stop there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sxp: Option<i64>,
    /// For a session opened with an API key: when it started, milliseconds since the epoch
    /// (a password change ends the sessions that started until then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sst: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Header {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    kid: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm is not accepted")]
    Algorithm,
    #[error("the token was not signed by this deployment")]
    Signature,
}

/// A token taken apart, its signature not yet checked.
#[derive(Debug)]
pub struct ParsedToken<'a> {
    pub kid: String,
    pub claims: Claims,
    signing_input: &'a str,
    signature: Signature,
}

/// SHA-256 of a single-use token mailed to someone (a password reset, an invitation, a sign-up
/// confirmation), as the store keeps it. Authorisation tokens are cached by [`cache_key`].
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// What the verify cache knows a presented token by ([`cache_key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenCacheKey<'a> {
    /// SHA-256 of the token's signature segment.
    pub hash: [u8; 32],
    /// The token before its signature (header and claims), which a cached token must match
    /// byte for byte ([`crate::cache::AuthCache::get_signed`]).
    pub signed: &'a [u8],
}

/// The verify cache's key for a presented token: split at its last dot, the signed part
/// before it and the hash of the signature after it; `None` when it has no dot or nothing
/// before it, which no token Easel issues lacks.
///
/// Why the signature's hash and not the whole token's: a token is about 460 bytes, eight
/// blocks of SHA-256, and hashing it was most of what a request with a token cost beyond one
/// with a key (docs/performance.md, round 17). The signature is 86 characters (two blocks)
/// and the only part of a token that cannot be read off it; the rest is compared instead,
/// byte for byte, so a hit still needs the very token that was verified.
pub fn cache_key(token: &str) -> Option<TokenCacheKey<'_>> {
    cache_key_of_bytes(token.as_bytes())
}

/// [`cache_key`] of bytes that may not be text (a request's raw header value): a cached
/// token is text, and a hit matches all of it byte for byte, so only a lookup that misses
/// can have been made with bytes that are not.
pub fn cache_key_of_bytes(token: &[u8]) -> Option<TokenCacheKey<'_>> {
    let dot = token.iter().rposition(|&b| b == b'.')?;
    let (signed, signature) = (&token[..dot], &token[dot + 1..]);
    if signed.is_empty() {
        return None;
    }
    Some(TokenCacheKey {
        hash: Sha256::digest(signature).into(),
        signed,
    })
}

/// A signing key ready to sign: deriving an Ed25519 key from its seed costs as much as a
/// signature, so it is done once per key, not once per token.
pub struct TokenSigner {
    kid: String,
    key: SigningKey,
}

impl TokenSigner {
    pub fn new(record: &SigningKeyRecord) -> Result<TokenSigner, String> {
        let seed: [u8; 32] = record
            .seed
            .as_slice()
            .try_into()
            .map_err(|_| "a signing key seed must be 32 bytes".to_owned())?;
        Ok(TokenSigner {
            kid: record.kid.clone(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }
}

pub fn sign_with(signer: &TokenSigner, claims: &Claims) -> Result<String, String> {
    let header = Header {
        alg: "EdDSA".into(),
        typ: Some("JWT".into()),
        kid: signer.kid.clone(),
    };
    let header = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    let claims = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let signature = signer.key.sign(input.as_bytes());
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}

pub fn parse(token: &str) -> Result<ParsedToken<'_>, TokenError> {
    if token.len() > MAX_TOKEN_LEN || !token.is_ascii() {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| TokenError::Malformed)
    };
    let header: Header =
        serde_json::from_slice(&decode(header)?).map_err(|_| TokenError::Malformed)?;
    if header.alg != "EdDSA" {
        return Err(TokenError::Algorithm);
    }
    let claims: Claims =
        serde_json::from_slice(&decode(claims)?).map_err(|_| TokenError::Malformed)?;
    let signature: [u8; 64] = decode(signature)?
        .try_into()
        .map_err(|_| TokenError::Malformed)?;
    let signing_input = &token[..token.rfind('.').ok_or(TokenError::Malformed)?];
    Ok(ParsedToken {
        kid: header.kid,
        claims,
        signing_input,
        signature: Signature::from_bytes(&signature),
    })
}

impl ParsedToken<'_> {
    /// Checks the signature against a public key (strict verification: no malleable or
    /// small-order signatures).
    pub fn verify(&self, public_key: &[u8]) -> Result<(), TokenError> {
        let key: [u8; 32] = public_key.try_into().map_err(|_| TokenError::Signature)?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| TokenError::Signature)?;
        key.verify_strict(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| TokenError::Signature)
    }
}

/// The public half of a seed.
pub fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

/// A JWKS entry (RFC 8037) for an Ed25519 public key.
pub fn jwk(kid: &str, public_key: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "alg": "EdDSA",
        "use": "sig",
        "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(public_key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn key(seed: u8) -> SigningKeyRecord {
        let seed = [seed; 32];
        SigningKeyRecord {
            kid: format!("k{}", seed[0]),
            seed: seed.to_vec(),
            public_key: public_key(&seed).to_vec(),
            created_at: DateTime::UNIX_EPOCH,
            retires_at: DateTime::UNIX_EPOCH,
        }
    }

    fn claims() -> Claims {
        Claims {
            sub: "u".into(),
            tid: "t".into(),
            sid: "s".into(),
            iat: 1,
            exp: 2,
            jti: "j".into(),
            key: None,
            sxp: None,
            sst: None,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn a_token_is_cached_by_its_signatures_hash_beside_its_signed_part() {
        let token = sign_with(&TokenSigner::new(&key(1)).unwrap(), &claims()).unwrap();
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let key = cache_key(&token).unwrap();
        assert_eq!(key.signed, signed.as_bytes());
        assert_eq!(key.signed, parse(&token).unwrap().signing_input.as_bytes());
        assert_eq!(key.hash, <[u8; 32]>::from(Sha256::digest(signature)));
        // Another token with the same signature differs in its signed part, not its hash.
        let other = format!("x{token}");
        assert_eq!(cache_key(&other).unwrap().hash, key.hash);
        assert_ne!(cache_key(&other).unwrap().signed, key.signed);
        // Nothing before the signature: not a token (an API key in the wrong header, say),
        // so never a lookup with the empty signed part of a key's entry.
        for not_a_token in ["easel_key", ".signature", ""] {
            assert_eq!(cache_key(not_a_token), None, "{not_a_token:?}");
        }
        let last_dot = cache_key("a.b.c").unwrap();
        assert_eq!(last_dot.signed, b"a.b", "split at the last dot");
        assert_eq!(last_dot.hash, <[u8; 32]>::from(Sha256::digest(b"c")));
        // Bytes that are not text are looked up like any others (and never found).
        let raw = cache_key_of_bytes(b"\xff\xfe.sig").unwrap();
        assert_eq!(raw.signed, b"\xff\xfe");
        assert_eq!(raw.hash, cache_key("x.sig").unwrap().hash);
    }

    #[test]
    fn a_signed_token_parses_and_verifies() {
        let k = key(1);
        let token = sign_with(&TokenSigner::new(&k).unwrap(), &claims()).unwrap();
        let parsed = parse(&token).unwrap();
        assert_eq!(parsed.kid, "k1");
        assert_eq!(parsed.claims, claims());
        assert_eq!(parsed.verify(&k.public_key), Ok(()));
        assert_eq!(
            parsed.verify(&key(2).public_key),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn a_changed_claim_breaks_the_signature() {
        let k = key(1);
        let token = sign_with(&TokenSigner::new(&k).unwrap(), &claims()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut forged = claims();
        forged.sub = "admin".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::to_value(forged).unwrap()),
            parts[2]
        );
        assert_eq!(
            parse(&forged).unwrap().verify(&k.public_key),
            Err(TokenError::Signature)
        );
    }

    #[test]
    fn other_algorithms_are_refused_before_any_key_is_used() {
        let c = b64(&serde_json::to_value(claims()).unwrap());
        for alg in ["none", "HS256", "RS256", "ES256", "eddsa", ""] {
            let header = b64(&serde_json::json!({"alg": alg, "kid": "k1", "typ": "JWT"}));
            let token = format!("{header}.{c}.");
            assert_eq!(parse(&token).err(), Some(TokenError::Algorithm), "{alg}");
        }
    }

    #[test]
    fn malformed_tokens_are_refused() {
        let c = b64(&serde_json::to_value(claims()).unwrap());
        let good_header = b64(&serde_json::json!({"alg": "EdDSA", "kid": "k1"}));
        let crit = b64(&serde_json::json!({"alg": "EdDSA", "kid": "k1", "crit": ["exp"]}));
        let sig = URL_SAFE_NO_PAD.encode([0u8; 64]);
        for token in [
            String::new(),
            "a.b".into(),
            "a.b.c.d".into(),
            format!("{good_header}.{c}"),
            format!("{good_header}.{c}.{sig}.x"),
            format!("{good_header}.notbase64!.{sig}"),
            format!(
                "{good_header}.{}.{sig}",
                b64(&serde_json::json!({"sub": 1}))
            ),
            format!("{good_header}.{c}.AAAA"),
            format!("{crit}.{c}.{sig}"),
            "é.é.é".into(),
            "x".repeat(5000),
        ] {
            assert!(parse(&token).is_err(), "{token}");
        }
    }

    #[test]
    fn jwks_entries_follow_rfc_8037() {
        let k = key(3);
        let jwk = jwk(&k.kid, &k.public_key);
        assert_eq!(jwk["kty"], "OKP");
        assert_eq!(jwk["crv"], "Ed25519");
        assert_eq!(
            URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap(),
            k.public_key
        );
    }
}
