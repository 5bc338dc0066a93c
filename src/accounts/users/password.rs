//! Passwords: what a new one must be, and argon2id hashes (with a decoy for unknown names, so
//! a failed sign-in takes as long whether the name exists or not).

use super::*;

pub(super) const MIN_PASSWORD: usize = 12;

pub(super) const MAX_PASSWORD: usize = 1024;

/// A new password: long enough to resist guessing without composition rules (NIST 800-63B).
pub struct NewPassword(pub(super) Sensitive<String>);

impl NewPassword {
    pub fn parse(text: &str) -> Result<Self> {
        let n = text.chars().count();
        if !(MIN_PASSWORD..=MAX_PASSWORD).contains(&n) {
            return Err(Error::invalid(
                "password",
                format!("must be between {MIN_PASSWORD} and {MAX_PASSWORD} characters"),
            ));
        }
        Ok(Self(Sensitive::new(text.to_string())))
    }
}

/// argon2id with the OWASP minimum (19 MiB, 2 passes, 1 lane).
pub(super) fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub(super) fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|e| Error::internal(anyhow::anyhow!("{e}")))?;
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal(anyhow::anyhow!("argon2: {e}")))
}

pub(super) fn password_matches(stored: &str, presented: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| hasher().verify_password(presented.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash to verify against when the name is unknown, so that answer takes as long as a wrong
/// password and timing does not tell which names exist.
pub(super) fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut random);
        hash_password(&hex::encode(random)).unwrap_or_default()
    })
}
