//! The kinds of report and the formats they come in.

use super::*;

/// The report kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Art. 30(2): the processor's record over all controllers.
    ProcessorRecord,
    /// Art. 30(1): a controller's record for its messenger processing.
    ControllerRecord,
    /// AVV annex: technical and organisational measures.
    Toms,
    /// AVV annex: sub-processors.
    Subprocessors,
    /// AVV annex: the retention and deletion concept (rules in force).
    DeletionConcept,
    /// Deletion report from the retention and erasure certificates.
    DeletionReport,
    /// Consent statistics per purpose.
    ConsentStatistics,
    /// The log of data-subject requests: received, identity checked, due, extended, answered,
    /// outcome, letter (Art. 5(2), 12 GDPR).
    RequestLog,
    /// AVV annex: the terms of the processing agreement (Art. 28(3)) as entered.
    AvvTerms,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::ProcessorRecord,
        Kind::ControllerRecord,
        Kind::Toms,
        Kind::Subprocessors,
        Kind::DeletionConcept,
        Kind::DeletionReport,
        Kind::ConsentStatistics,
        Kind::RequestLog,
        Kind::AvvTerms,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::ProcessorRecord => "processor-record",
            Kind::ControllerRecord => "controller-record",
            Kind::Toms => "toms",
            Kind::Subprocessors => "subprocessors",
            Kind::DeletionConcept => "deletion-concept",
            Kind::DeletionReport => "deletion-report",
            Kind::ConsentStatistics => "consent-statistics",
            Kind::RequestLog => "request-log",
            Kind::AvvTerms => "avv-terms",
        }
    }

    pub fn title(self, lang: Lang) -> String {
        match self {
            Kind::ProcessorRecord => lang.pick(
                "Verzeichnis aller Kategorien von Verarbeitungstätigkeiten (Art. 30 Abs. 2 DSGVO)",
                "Record of all categories of processing activities (Art. 30(2) GDPR)",
            ),
            Kind::ControllerRecord => lang.pick(
                "Verzeichnis von Verarbeitungstätigkeiten (Art. 30 Abs. 1 DSGVO)",
                "Record of processing activities (Art. 30(1) GDPR)",
            ),
            Kind::Toms => lang.pick(
                "Anlage zum AV-Vertrag: Technische und organisatorische Maßnahmen (Art. 32 DSGVO)",
                "AVV annex: technical and organisational measures (Art. 32 GDPR)",
            ),
            Kind::Subprocessors => lang.pick(
                "Anlage zum AV-Vertrag: Unterauftragsverarbeiter (Art. 28 Abs. 2 und 4 DSGVO)",
                "AVV annex: sub-processors (Art. 28(2) and (4) GDPR)",
            ),
            Kind::DeletionConcept => lang.pick(
                "Anlage zum AV-Vertrag: Lösch- und Aufbewahrungskonzept (DIN 66398)",
                "AVV annex: retention and deletion concept (DIN 66398)",
            ),
            Kind::DeletionReport => lang.pick("Löschbericht", "Deletion report"),
            Kind::ConsentStatistics => lang.pick("Einwilligungsstatistik", "Consent statistics"),
            Kind::AvvTerms => lang.pick(
                "Anlage zum AV-Vertrag: Gegenstand und Bedingungen der Auftragsverarbeitung (Art. 28 Abs. 3 DSGVO)",
                "AVV annex: subject matter and terms of the processing (Art. 28(3) GDPR)",
            ),
            Kind::RequestLog => lang.pick(
                "Protokoll der Anträge betroffener Personen (Art. 12 bis 20 DSGVO)",
                "Log of data-subject requests (Art. 12 to 20 GDPR)",
            ),
        }
    }

    /// Whether the report covers the whole install (the processor's) rather than one tenant.
    pub fn is_install_wide(self) -> bool {
        self == Kind::ProcessorRecord
    }
}

impl FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s).ok_or_else(|| {
            Error::invalid(
                "kind",
                "must be processor-record, controller-record, toms, subprocessors, deletion-concept, deletion-report, consent-statistics, request-log or avv-terms",
            )
        })
    }
}

/// A report's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv(CsvDialect),
    Xlsx,
    Pdf,
}

/// Who opens the CSV: a spreadsheet (UTF-8 with BOM; `;` in German, as Excel in Germany
/// splits on it, `,` in English; values as the reader writes them) or a tool (RFC 4180: `,`,
/// no BOM, canonical values as in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvDialect {
    #[default]
    Excel,
    Rfc4180,
}

impl CsvDialect {
    pub(super) fn separator(self, lang: Lang) -> char {
        match (self, lang) {
            (CsvDialect::Excel, Lang::De) => ';',
            _ => ',',
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "excel" => Ok(CsvDialect::Excel),
            "rfc4180" => Ok(CsvDialect::Rfc4180),
            _ => Err(Error::invalid("csv", "must be excel or rfc4180")),
        }
    }
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv(_) => "csv",
            Format::Xlsx => "xlsx",
            Format::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv(_) => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Pdf => "application/pdf",
        }
    }

    /// The CSV dialect, for a CSV; other formats stay as they are.
    pub fn with_csv(self, dialect: CsvDialect) -> Self {
        match self {
            Format::Csv(_) => Format::Csv(dialect),
            other => other,
        }
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv(CsvDialect::Excel)),
            "xlsx" => Ok(Format::Xlsx),
            "pdf" => Ok(Format::Pdf),
            _ => Err(Error::invalid("format", "must be json, csv, xlsx or pdf")),
        }
    }
}
