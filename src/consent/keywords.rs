//! Keywords people type: START, JA, STOP… Matching ignores case, accents, surrounding
//! punctuation and whitespace, so "Stopp!", " stop " and "ABMELDEN." all count.

/// What an inbound text asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    OptIn,
    Confirm,
    OptOut,
}

/// The keyword lists of a tenant (defaults in [`Keywords::default`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keywords {
    pub opt_in: Vec<String>,
    pub confirm: Vec<String>,
    pub opt_out: Vec<String>,
}

impl Default for Keywords {
    fn default() -> Self {
        let list = |words: &[&str]| words.iter().map(|w| normalize(w)).collect();
        Self {
            opt_in: list(&["START", "ANMELDEN", "SUBSCRIBE"]),
            confirm: list(&["JA", "YES", "BESTÄTIGEN", "CONFIRM"]),
            opt_out: list(&["STOP", "STOPP", "ABMELDEN", "UNSUBSCRIBE", "ABBESTELLEN"]),
        }
    }
}

/// Longest keyword a tenant may configure, in characters.
pub const MAX_KEYWORD_CHARS: usize = 40;

/// Whether a text is short enough to be a keyword at all. Keywords are single words; a text
/// of more than 256 characters (padding and punctuation around a 40-character keyword
/// included) is a conversation, and is not matched, so the tenant's keyword lists need not be
/// read for every ordinary message.
pub fn may_be_keyword(text: &str) -> bool {
    text.trim().chars().take(257).count() <= 256
}

impl Keywords {
    /// Parses a comma-separated list as stored per tenant.
    pub fn parse_list(s: &str) -> Vec<String> {
        s.split(',')
            .map(normalize)
            .filter(|w| !w.is_empty())
            .collect()
    }

    /// The intent of a whole message, if it is one of the keywords (and nothing else).
    /// Opting out wins over everything: withdrawal must be as easy as consent.
    pub fn intent(&self, text: &str) -> Option<Intent> {
        let mut word = normalize(text);
        // Telegram deep links (t.me/<bot>?start=STOP) arrive as "/start STOP".
        if let Some(payload) = word.strip_prefix("START ") {
            word = payload.to_string();
        }
        if word.is_empty() {
            return None;
        }
        if self.opt_out.contains(&word) {
            Some(Intent::OptOut)
        } else if self.confirm.contains(&word) {
            Some(Intent::Confirm)
        } else if self.opt_in.contains(&word) {
            Some(Intent::OptIn)
        } else {
            None
        }
    }
}

/// Uppercase ASCII letters and digits with accents folded (Ä→A, ß→SS), punctuation removed.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.trim().chars() {
        let folded = match c {
            'ä' | 'Ä' | 'á' | 'à' | 'â' | 'Á' | 'À' | 'Â' | 'ã' | 'Ã' | 'å' | 'Å' => {
                "A"
            }
            'ö' | 'Ö' | 'ó' | 'ò' | 'ô' | 'Ó' | 'Ò' | 'Ô' | 'õ' | 'Õ' | 'ø' | 'Ø' => {
                "O"
            }
            'ü' | 'Ü' | 'ú' | 'ù' | 'û' | 'Ú' | 'Ù' | 'Û' => "U",
            'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => "E",
            'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => "I",
            'ç' | 'Ç' => "C",
            'ñ' | 'Ñ' => "N",
            'ß' => "SS",
            c if c.is_ascii_alphanumeric() => {
                out.push(c.to_ascii_uppercase());
                continue;
            }
            c if c.is_whitespace() => {
                if !out.ends_with(' ') && !out.is_empty() {
                    out.push(' ');
                }
                continue;
            }
            _ => continue,
        };
        out.push_str(folded);
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_accent_and_punctuation_insensitive() {
        let k = Keywords::default();
        for stop in [
            "STOP",
            "stop",
            " Stopp! ",
            "abmelden.",
            "Unsubscribe",
            "ABBESTELLEN",
        ] {
            assert_eq!(k.intent(stop), Some(Intent::OptOut), "{stop}");
        }
        assert_eq!(k.intent("ja"), Some(Intent::Confirm));
        assert_eq!(k.intent("Bestätigen"), Some(Intent::Confirm));
        assert_eq!(k.intent("bestaetigen"), None);
        assert_eq!(k.intent("Start"), Some(Intent::OptIn));
        assert_eq!(
            k.intent("Bitte stoppen Sie das Paket"),
            None,
            "only a keyword on its own"
        );
        assert_eq!(k.intent(""), None);
        assert_eq!(
            k.intent("/start"),
            Some(Intent::OptIn),
            "Telegram's start button"
        );
        assert_eq!(
            k.intent("/start ANMELDEN"),
            Some(Intent::OptIn),
            "Telegram deep link"
        );
        assert_eq!(k.intent("/start STOP"), Some(Intent::OptOut));
        assert_eq!(normalize("Straße"), "STRASSE");
        assert_eq!(Keywords::parse_list("Stop, Halt ,,"), vec!["STOP", "HALT"]);
    }

    #[test]
    fn only_short_texts_may_be_keywords() {
        assert!(may_be_keyword("STOP"));
        let padded = format!("  {}STOP{}  ", " ".repeat(10), "!".repeat(200));
        assert!(
            may_be_keyword(&padded),
            "padding and punctuation within 256"
        );
        assert!(may_be_keyword(&"ü".repeat(256)), "characters, not bytes");
        assert!(!may_be_keyword(&"x".repeat(257)));
        assert!(!may_be_keyword(&format!("STOP {}", "bitte ".repeat(60))));
    }
}
