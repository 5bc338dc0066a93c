//! Webhook authentication, checked over the raw body before anything is parsed.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Meta's `X-Hub-Signature-256: sha256=<hex>`: HMAC-SHA256 of the raw body keyed with the app
/// secret, compared in constant time. A missing or malformed header is a failed check.
pub fn meta_signature_valid(app_secret: &str, header: Option<&str>, body: &[u8]) -> bool {
    let Some(hex_sig) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(signature) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(app_secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

/// Telegram's `X-Telegram-Bot-Api-Secret-Token`, compared in constant time.
pub fn telegram_secret_valid(expected: &str, header: Option<&str>) -> bool {
    match header {
        Some(got) => got.as_bytes().ct_eq(expected.as_bytes()).into(),
        None => false,
    }
}

/// Meta's GET handshake: answer `hub.challenge` when mode is `subscribe` and the token matches.
pub fn meta_handshake<'a>(
    verify_token: &str,
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&'a str>,
) -> Option<&'a str> {
    let token_ok: bool = token
        .map(|t| t.as_bytes().ct_eq(verify_token.as_bytes()).into())
        .unwrap_or(false);
    if mode == Some("subscribe") && token_ok {
        challenge
    } else {
        None
    }
}

/// Computes the header value Meta would send (for tests and the local fake platform).
pub fn meta_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(app_secret.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_signature_checks_body_and_secret() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let header = meta_signature("s3cret", body);
        assert!(meta_signature_valid("s3cret", Some(&header), body));
        assert!(!meta_signature_valid("other", Some(&header), body));
        assert!(!meta_signature_valid(
            "s3cret",
            Some(&header),
            br#"{"object":"page"}"#
        ));
        assert!(!meta_signature_valid("s3cret", None, body));
        assert!(!meta_signature_valid("s3cret", Some("sha1=abc"), body));
        assert!(!meta_signature_valid("s3cret", Some("sha256=zz"), body));
    }

    #[test]
    fn handshake_and_telegram_secret() {
        assert_eq!(
            meta_handshake("vt", Some("subscribe"), Some("vt"), Some("123")),
            Some("123")
        );
        assert_eq!(
            meta_handshake("vt", Some("subscribe"), Some("nope"), Some("123")),
            None
        );
        assert_eq!(
            meta_handshake("vt", Some("unsubscribe"), Some("vt"), Some("123")),
            None
        );
        assert!(telegram_secret_valid("abc_DEF-1", Some("abc_DEF-1")));
        assert!(!telegram_secret_valid("abc_DEF-1", Some("abc_DEF-2")));
        assert!(!telegram_secret_valid("abc_DEF-1", None));
    }
}
