//! Why a rule's data may outlive an erasure request, in the law's words.

use super::*;

/// Why a rule's data may outlive an erasure request (Art. 17(3) GDPR, § 35(3) BDSG). Every
/// answer, report and certificate cites the ground of the item's rule in the law's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ground {
    /// A legal duty to keep (§ 257 HGB, § 147 AO): the right to erasure does not apply while
    /// it lasts (Art. 17(3)(b) GDPR); the data is kept for that purpose only and restricted.
    Statutory,
    /// A contractual or by-law (satzungsgemäße) period: restriction instead of erasure
    /// (§ 35(3) BDSG, Art. 18 GDPR).
    ContractualOrBylaw,
    /// Kept for the establishment, exercise or defence of legal claims (Art. 17(3)(e) GDPR),
    /// e.g. consent proofs, whose burden of proof Art. 7(1) puts on the controller.
    LegalClaims,
    /// Nothing overrides erasure: an erasure request deletes the data at once.
    None,
}

impl Ground {
    pub const ALL: [Ground; 4] = [
        Ground::Statutory,
        Ground::ContractualOrBylaw,
        Ground::LegalClaims,
        Ground::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ground::Statutory => "statutory",
            Ground::ContractualOrBylaw => "contractual_or_bylaw",
            Ground::LegalClaims => "legal_claims",
            Ground::None => "none",
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("must be one of {}", names(Self::ALL.map(Self::as_str))),
                )
            })
    }

    /// Whether data under this ground survives an erasure request (restricted, until its end).
    pub fn keeps_on_erasure(self) -> bool {
        self != Ground::None
    }

    /// Whether the rule must name the provision (statute, contract, by-law) that sets its period.
    pub fn needs_norm(self) -> bool {
        matches!(self, Ground::Statutory | Ground::ContractualOrBylaw)
    }

    /// The provision that lets the data outlive an erasure request, as the law words it.
    pub fn citation(self, lang: crate::i18n::Lang) -> String {
        match self {
            Ground::Statutory => lang.pick(
                "Art. 17 Abs. 3 lit. b DSGVO (gesetzliche Aufbewahrungspflicht)",
                "Art. 17(3)(b) GDPR (legal obligation to retain)",
            ),
            Ground::ContractualOrBylaw => lang.pick(
                "§ 35 Abs. 3 BDSG, Art. 18 DSGVO (vertragliche oder satzungsgemäße Aufbewahrungsfrist: Einschränkung statt Löschung)",
                "Section 35(3) BDSG, Art. 18 GDPR (contractual or by-law retention period: restriction instead of erasure)",
            ),
            Ground::LegalClaims => lang.pick(
                "Art. 17 Abs. 3 lit. e DSGVO (Geltendmachung, Ausübung oder Verteidigung von Rechtsansprüchen)",
                "Art. 17(3)(e) GDPR (establishment, exercise or defence of legal claims)",
            ),
            Ground::None => lang.pick(
                "keine Aufbewahrungspflicht: Löschung auf Verlangen (Art. 17 Abs. 1 DSGVO)",
                "no duty to retain: erased on request (Art. 17(1) GDPR)",
            ),
        }
    }

    /// The ground's name for tables and forms.
    pub fn label(self, lang: crate::i18n::Lang) -> String {
        match self {
            Ground::Statutory => lang.pick(
                "gesetzliche Aufbewahrungspflicht",
                "statutory duty to retain",
            ),
            Ground::ContractualOrBylaw => lang.pick(
                "vertragliche oder satzungsgemäße Frist",
                "contractual or by-law period",
            ),
            Ground::LegalClaims => lang.pick("Rechtsansprüche", "legal claims"),
            Ground::None => lang.pick("keine", "none"),
        }
    }
}
