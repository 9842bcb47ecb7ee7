//! Password hashing with argon2id, at OWASP's recommended minimum (19 MiB, t=2, p=1).
//! Hashing is CPU-heavy by design: call these from a blocking thread.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};
use crate::rng::Rng;

fn argon2() -> Result<Argon2<'static>> {
    let params = Params::new(19 * 1024, 2, 1, None).map_err(Error::internal)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

pub fn hash(password: &str, rng: &dyn Rng) -> Result<String> {
    let mut salt = [0u8; 16];
    rng.fill(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(Error::internal)?;
    Ok(argon2()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(Error::internal)?
        .to_string())
}

pub fn verify(password: &str, phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    argon2()
        .map(|a| a.verify_password(password.as_bytes(), &parsed).is_ok())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OsRandom;

    #[test]
    fn hashes_verify_and_use_argon2id_at_owasp_parameters() {
        let h = hash("correct horse battery staple", &OsRandom).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("correct horse battery stapl", &h));
        assert!(!verify("x", "not a hash"));
    }
}
