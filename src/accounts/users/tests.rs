use super::totp::totp_step;
use super::*;

#[test]
fn login_names_and_passwords_validate() {
    assert_eq!(
        LoginName::parse(" Ada@Example.DE ").unwrap().0.expose(),
        "ada@example.de"
    );
    assert!(LoginName::parse("a b@x.de").is_err());
    assert!(LoginName::parse("ab").is_err());
    assert!(NewPassword::parse("short").is_err());
    assert!(NewPassword::parse("correct horse battery").is_ok());
}

#[test]
fn argon2id_hashes_verify_and_carry_their_parameters() {
    let hash = hash_password("correct horse battery").unwrap();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(password_matches(&hash, "correct horse battery"));
    assert!(!password_matches(&hash, "correct horse batterz"));
    assert!(!password_matches("garbage", "correct horse battery"));
}

#[test]
fn totp_codes_match_within_one_step() {
    let secret = [7u8; 20];
    let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let code = Accounts::totp_code(&secret, at).unwrap();
    let step = totp_step(&secret, &code, at).unwrap();
    assert_eq!(step, 1_800_000_000 / 30);
    assert_eq!(
        totp_step(&secret, &code, at + chrono::Duration::seconds(30)),
        Some(step)
    );
    assert_eq!(
        totp_step(&secret, &code, at + chrono::Duration::seconds(95)),
        None
    );
    assert_eq!(totp_step(&secret, "12345", at), None);
}
