#![no_main]
//! The ciphertext decoders read bytes from the database, which an attacker with disk access
//! may have changed: the sealed-field envelope (version, nonce, XChaCha20-Poly1305) and the
//! age-wrapped data keys. Never a panic, and nothing forged opens.
use hafen::crypto::{DataKey, FieldBinding, MasterKey};
use libfuzzer_sys::fuzz_target;

/// A fixed test identity (not a real key): fuzzing needs no secret.
const IDENTITY: &str = "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33";

fuzz_target!(|data: &[u8]| {
    let key = DataKey::from_slice(&[7u8; 32]).unwrap().sealing_key();
    let at = FieldBinding {
        tenant: "t",
        table: "messages",
        column: "body_sealed",
        row: "r",
    };
    assert!(key.open(&at, data).is_err(), "a forged envelope opened");
    let master = MasterKey::new(MasterKey::parse_identity(IDENTITY).unwrap(), &[]);
    let _ = master.is_current(data);
    let _ = master.unwrap(data);
});
