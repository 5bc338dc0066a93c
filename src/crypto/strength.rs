//! How hard a secret someone chose is to guess. Hafen checks the secrets it verifies traffic
//! with (a Meta app secret, a Telegram webhook secret, an event hook's signing secret): at least
//! 128 bits, the strength of a Meta app secret (32 hex digits). The estimate is deliberately
//! simple — length times the bits of the alphabet the secret draws from — and refuses the
//! obvious: short strings, few distinct characters. It cannot see that "Passwort2026!Passwort"
//! is weak; it does stop "x", "secret" and "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".

/// The least estimated strength of a secret Hafen verifies traffic with.
pub const MIN_BITS: f64 = 128.0;
/// Fewer distinct characters than this is a pattern, however long.
const MIN_DISTINCT: usize = 8;

/// Estimated bits: length × log2(alphabet), the alphabet being the character classes used
/// (hex digits alone count as 16 symbols).
pub fn estimated_bits(secret: &str) -> f64 {
    let chars: Vec<char> = secret.chars().collect();
    let mut distinct = chars.clone();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT {
        return 0.0;
    }
    let alphabet = if chars.iter().all(char::is_ascii_hexdigit) {
        16.0
    } else {
        let classes = [
            (chars.iter().any(char::is_ascii_lowercase), 26.0),
            (chars.iter().any(char::is_ascii_uppercase), 26.0),
            (chars.iter().any(char::is_ascii_digit), 10.0),
            (chars.iter().any(|c| !c.is_ascii_alphanumeric()), 33.0),
        ];
        classes
            .iter()
            .filter(|(used, _)| *used)
            .map(|(_, n)| n)
            .sum()
    };
    chars.len() as f64 * f64::log2(alphabet)
}

/// Whether `secret` is strong enough, with the reason for the person who chose it if not.
pub fn check(secret: &str) -> Result<(), String> {
    if estimated_bits(secret) >= MIN_BITS {
        Ok(())
    } else {
        Err("is too easy to guess: use at least 128 random bits, e.g. 32 hex digits or 22 random letters and digits (`openssl rand -hex 16`)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_secrets_pass_and_guessable_ones_do_not() {
        // A Meta app secret: 32 hex digits.
        assert!(check("3f1c0e6b9a7d4e2f8c5b1a0d9e7f6c4b").is_ok());
        // A Telegram secret token: 22 random URL-safe characters.
        assert!(check("Zq8-rT2_xW5vK9mN3pL7aB").is_ok());
        for weak in [
            "x",
            "s3cret",
            "wa-secret",
            "0123456789abcdef",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abababababababababababababababababababab",
            "3f1c0e6b9a7d4e2f8c5b1a0d9e7f6c4",
        ] {
            assert!(check(weak).is_err(), "{weak}");
        }
    }
}
