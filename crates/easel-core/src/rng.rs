//! Randomness, injected, for uids, key secrets and generated passwords.

pub trait Rng: Send + Sync + 'static {
    fn fill(&self, buf: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRandom;

impl Rng for OsRandom {
    fn fill(&self, buf: &mut [u8]) {
        use rand::RngCore;
        rand::rngs::OsRng.fill_bytes(buf);
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `len` uniformly random base62 characters (rejection sampling, so no bias).
pub fn base62_string(rng: &dyn Rng, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        rng.fill(&mut buf);
        for b in buf {
            // 248 = 4 * 62: bytes at or above it would favour the first characters.
            if b < 248 && out.len() < len {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

/// `value` in base62, left-padded with `0` to `width` characters.
pub fn base62_fixed(value: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    base62_into(value, &mut digits);
    String::from_utf8_lossy(&digits).into_owned()
}

/// `value`'s last `digits.len()` base-62 digits, written into `digits` (no allocation).
pub fn base62_into(mut value: u64, digits: &mut [u8]) {
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
}

pub fn is_base62(s: &[u8]) -> bool {
    // No early exit, so that the compiler checks 16 bytes at a time: every presented key
    // passes here, and is nearly always valid.
    s.iter().fold(true, |ok, b| ok & b.is_ascii_alphanumeric())
}
