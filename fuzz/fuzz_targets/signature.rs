#![no_main]
//! Signature checks take attacker-controlled headers and bodies: never panic, never accept
//! a header that was not computed with the secret.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &[u8])| {
    let (header, body) = input;
    assert!(
        !hafen::channels::verify::meta_signature_valid("fuzz-secret", Some(header), body)
            || header == hafen::channels::verify::meta_signature("fuzz-secret", body)
    );
    let _ = hafen::channels::verify::telegram_secret_valid("fuzz_secret", Some(header));
});
