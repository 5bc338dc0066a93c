//! A report as data, and its four renderings. Every kind of report is built as the same
//! shape — sections of labelled fields and tables — so JSON, CSV, XLSX and PDF say exactly
//! the same thing, and one content hash covers them all.
//!
//! JSON schema (`hafen.report.v1`, stable: fields are only ever added):
//! `{schema, kind, lang, title, generated_at, register_version, tenant_id, sections: [{key,
//! title, fields: [{key, label, value, type}], tables: [{key, title, columns: [{key, label,
//! type}], rows: [[…]]}], notes: […]}], content_sha256}`; values in the canonical form of
//! their [`ValueType`]. `content_sha256` is the SHA-256 of the compact
//! JSON of the report, keys sorted, with `content_sha256` set to "" (docs/dpo-guide.md shows
//! how to check).

mod kind;
mod render;
pub use kind::*;

use std::collections::HashSet;
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::documents::{self, Block, Document};
use crate::error::{Error, Result};
use crate::i18n::Lang;

pub const SCHEMA: &str = "hafen.report.v1";

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub schema: &'static str,
    pub kind: String,
    pub lang: Lang,
    pub title: String,
    pub generated_at: DateTime<Utc>,
    /// The register version the report was built from (0: nothing entered yet).
    pub register_version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    pub sections: Vec<Section>,
    pub content_sha256: String,
    /// The tenant's letterhead for the PDF (not part of the content or its hash).
    #[serde(skip)]
    pub letterhead: Option<documents::Letterhead>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Section {
    pub key: String,
    pub title: String,
    pub fields: Vec<Field>,
    pub tables: Vec<Table>,
    pub notes: Vec<String>,
    /// In XLSX, a sheet of its own for the whole section under this name (the processor
    /// record's sheet per controller); otherwise its fields go on the overview.
    #[serde(skip)]
    pub sheet: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Field {
    pub key: String,
    pub label: String,
    /// In the canonical form of its type (see [`ValueType`]).
    pub value: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Table {
    pub key: String,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
    /// The XLSX sheet name: short enough for Excel's 31 characters, whole words.
    #[serde(skip)]
    pub sheet: String,
    /// In a PDF, each row as a form of its own (first column as its heading, the others as
    /// labelled fields): a register with twenty columns reads as the DSK template's pages.
    #[serde(skip)]
    pub records: bool,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Column {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub kind: ValueType,
}

/// What a value is, so each format shows it the reader's way. JSON and RFC 4180 CSV keep the
/// canonical form — integer `"1234"`, percent `"99.5"` (points), date `"2026-12-03"`,
/// date-time RFC 3339 in UTC `"2026-12-03T21:05:38Z"` — the PDF and Excel CSV localise it
/// ("1.234", "99,5 %", "03.12.2026", "03.12.2026, 22:05 MEZ"), XLSX stores a typed cell. A
/// value that is not in its type's form ("— nicht erfasst —", "–") stays text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ValueType {
    #[default]
    Text,
    Integer,
    Percent,
    Date,
    DateTime,
}

/// The canonical form of a date.
pub fn iso_date(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

/// The canonical form of a moment: RFC 3339 in UTC, to the second.
pub fn iso_moment(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The canonical form of a percentage (points, one decimal).
pub fn iso_percent(points: f64) -> String {
    format!("{points:.1}")
}

/// A value read by its type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value<'a> {
    Text(&'a str),
    Integer(i64),
    Percent(f64),
    Date(NaiveDate),
    Moment(DateTime<Utc>),
}

impl<'a> Value<'a> {
    fn read(value: &'a str, kind: ValueType) -> Self {
        let typed = match kind {
            ValueType::Text => None,
            ValueType::Integer => value.parse().ok().map(Value::Integer),
            ValueType::Percent => value
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Value::Percent),
            ValueType::Date => NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .ok()
                .map(Value::Date),
            ValueType::DateTime => DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|d| Value::Moment(d.with_timezone(&Utc))),
        };
        typed.unwrap_or(Value::Text(value))
    }

    fn show(self, lang: Lang) -> String {
        match self {
            Value::Text(s) => s.to_string(),
            Value::Integer(n) => crate::i18n::integer(n, lang),
            Value::Percent(x) => crate::i18n::percent(x, lang),
            Value::Date(d) => crate::i18n::date(d, lang),
            Value::Moment(at) => crate::i18n::moment(at, lang),
        }
    }
}

/// How a value reads in a PDF or an Excel CSV.
fn shown(value: &str, kind: ValueType, lang: Lang) -> String {
    Value::read(value, kind).show(lang)
}

impl Section {
    pub fn new(key: &str, title: String) -> Self {
        Self {
            key: key.into(),
            title,
            fields: Vec::new(),
            tables: Vec::new(),
            notes: Vec::new(),
            sheet: None,
        }
    }

    pub fn field(self, key: &str, label: String, value: impl Into<String>) -> Self {
        self.typed(key, label, value, ValueType::Text)
    }

    /// A field whose value is in the canonical form of `kind`.
    pub fn typed(
        mut self,
        key: &str,
        label: String,
        value: impl Into<String>,
        kind: ValueType,
    ) -> Self {
        self.fields.push(Field {
            key: key.into(),
            label,
            value: value.into(),
            kind,
        });
        self
    }

    /// A whole-number field.
    pub fn count(self, key: &str, label: String, n: impl Into<i64>) -> Self {
        self.typed(key, label, n.into().to_string(), ValueType::Integer)
    }

    pub fn table(mut self, table: Table) -> Self {
        self.tables.push(table);
        self
    }

    pub fn note(mut self, note: String) -> Self {
        self.notes.push(note);
        self
    }

    /// Puts the section on an XLSX sheet of its own.
    pub fn own_sheet(mut self, name: &str) -> Self {
        self.sheet = Some(name.to_string());
        self
    }
}

impl Table {
    /// `columns`: (key, label) pairs, text until [`Table::typed`] says otherwise.
    pub fn new(key: &str, title: String, columns: Vec<(&str, String)>) -> Self {
        Self {
            key: key.into(),
            sheet: title.clone(),
            title,
            columns: columns
                .into_iter()
                .map(|(key, label)| Column {
                    key: key.into(),
                    label,
                    kind: ValueType::Text,
                })
                .collect(),
            rows: Vec::new(),
            records: false,
        }
    }

    /// Shows each row as a form of its own in the PDF.
    pub fn one_record_per_row(mut self) -> Self {
        self.records = true;
        self
    }

    /// Declares the type of the columns named by `keys`.
    pub fn typed(mut self, keys: &[&str], kind: ValueType) -> Self {
        for c in self
            .columns
            .iter_mut()
            .filter(|c| keys.contains(&c.key.as_str()))
        {
            c.kind = kind;
        }
        self
    }

    /// The XLSX sheet name, when the title is too long for one.
    pub fn sheet(mut self, name: String) -> Self {
        self.sheet = name;
        self
    }

    pub fn row(&mut self, values: Vec<String>) {
        self.rows.push(values);
    }

    /// The rows as the reader sees them.
    fn shown_rows(&self, lang: Lang) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&self.columns)
                    .map(|(v, c)| shown(v, c.kind, lang))
                    .collect()
            })
            .collect()
    }
}

impl Report {
    pub fn new(
        kind: Kind,
        lang: Lang,
        generated_at: DateTime<Utc>,
        register_version: i64,
        tenant_id: Option<String>,
        sections: Vec<Section>,
    ) -> Self {
        let mut report = Self {
            schema: SCHEMA,
            kind: kind.as_str().into(),
            lang,
            title: kind.title(lang),
            generated_at,
            register_version,
            tenant_id,
            sections,
            content_sha256: String::new(),
            letterhead: None,
        };
        report.content_sha256 = report.compute_hash();
        report
    }

    /// SHA-256 over the compact JSON, keys sorted, with an empty `content_sha256`: a form
    /// anyone can reproduce (`jq -cjS '.content_sha256=""' | sha256sum`).
    pub fn compute_hash(&self) -> String {
        let mut copy = self.clone();
        copy.content_sha256 = String::new();
        // serde_json's Value keeps object keys sorted.
        let canonical = serde_json::to_value(&copy)
            .and_then(|v| serde_json::to_vec(&v))
            .unwrap_or_default();
        hex::encode(Sha256::digest(canonical))
    }
}

#[cfg(test)]
mod tests {
    use super::render::sheet_name;
    use super::*;

    fn sample() -> Report {
        let mut t = Table::new(
            "items",
            "Einträge mit einem sehr langen Titel für Excel".into(),
            vec![
                ("name", "Name".into()),
                ("value", "Wert".into()),
                ("count", "Anzahl".into()),
                ("rate", "Quote".into()),
                ("on", "Am".into()),
                ("at", "Zeitpunkt".into()),
            ],
        )
        .typed(&["count"], ValueType::Integer)
        .typed(&["rate"], ValueType::Percent)
        .typed(&["on"], ValueType::Date)
        .typed(&["at"], ValueType::DateTime);
        t.row(vec![
            "=SUM(A1)".into(),
            "Größe, \"quoted\"; mit Semikolon".into(),
            "12345".into(),
            "99.5".into(),
            "2026-12-03".into(),
            "2026-07-01T22:30:00Z".into(),
        ]);
        t.row(vec![
            "Zweiter".into(),
            String::new(),
            "— nicht erfasst —".into(),
            "–".into(),
            String::new(),
            String::new(),
        ]);
        Report::new(
            Kind::Toms,
            Lang::De,
            "2026-01-31T12:00:00Z".parse().unwrap(),
            3,
            None,
            vec![Section::new("s", "Abschnitt".into())
                .field("f", "Feld".into(), "Wert")
                .count("n", "Zahl".into(), 1500)
                .table(t)],
        )
    }

    #[test]
    fn hash_covers_the_content() {
        let r = sample();
        assert_eq!(r.content_sha256, r.compute_hash());
        let mut changed = r.clone();
        changed.sections[0].fields[0].value = "anders".into();
        assert_ne!(changed.compute_hash(), r.content_sha256);
    }

    #[test]
    fn excel_csv_in_german_has_a_bom_semicolons_and_german_values() {
        let csv =
            String::from_utf8(sample().render(Format::Csv(CsvDialect::Excel)).unwrap()).unwrap();
        assert!(csv.starts_with('\u{feff}'), "BOM first");
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert!(lines[0].starts_with("Bericht;"), "{csv}");
        assert!(
            lines.contains(&"Erstellt am;31.01.2026, 13:00 MEZ;;;;"),
            "{csv}"
        );
        assert!(lines.contains(&"Zahl;1.500;;;;"), "{csv}");
        assert!(
            lines.contains(&"Name;Wert;Anzahl;Quote;Am;Zeitpunkt"),
            "{csv}"
        );
        // One row per entry; formulas defused; a cell with the separator quoted.
        assert!(
            lines.contains(&"'=SUM(A1);\"Größe, \"\"quoted\"\"; mit Semikolon\";12.345;99,5 %;03.12.2026;02.07.2026, 00:30 MESZ"),
            "{csv}"
        );
        assert!(lines.contains(&"Zweiter;;— nicht erfasst —;–;;"), "{csv}");
        // Every row is as wide as the widest.
        assert!(lines
            .iter()
            .filter(|l| !l.is_empty())
            .all(|l| l.matches(';').count() >= 5));
    }

    #[test]
    fn rfc4180_csv_has_no_bom_commas_and_canonical_values() {
        let csv =
            String::from_utf8(sample().render(Format::Csv(CsvDialect::Rfc4180)).unwrap()).unwrap();
        assert!(csv.starts_with("Bericht,"), "{csv}");
        assert!(csv.contains("Erstellt am,2026-01-31T12:00:00Z,"), "{csv}");
        assert!(
            csv.contains("'=SUM(A1),\"Größe, \"\"quoted\"\"; mit Semikolon\",12345,99.5,2026-12-03,2026-07-01T22:30:00Z\r\n"),
            "{csv}"
        );
    }

    #[test]
    fn a_typed_report_renders_as_pdf() {
        let pdf = sample().render(Format::Pdf).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }

    #[test]
    fn sheet_names_read_whole_and_are_unique() {
        let mut used = HashSet::new();
        let long = "Übermittlungen in Drittländer und geeignete Garantien";
        let a = sheet_name(long, &used);
        assert_eq!(a, "Übermittlungen in Drittländer");
        used.insert(a.to_lowercase());
        assert_eq!(sheet_name(long, &used), "Übermittlungen in (2)");
        assert_eq!(
            sheet_name("Muster: Handel [Nord]/Süd?", &used),
            "Muster Handel NordSüd"
        );
        assert_eq!(sheet_name("", &used), "Sheet");
        let word = "Donaudampfschifffahrtsgesellschaftskapitän";
        assert_eq!(sheet_name(word, &used).chars().count(), 31);
        assert_eq!(
            sheet_name("Verantwortlicher, Zweigstelle Süd – Kundenservice", &used),
            "Verantwortlicher, Zweigstelle"
        );
    }

    #[test]
    fn xlsx_cells_are_typed_with_a_frozen_filtered_header() {
        use calamine::{Data, Reader, Xlsx};
        let bytes = sample().render(Format::Xlsx).unwrap();
        let mut book = Xlsx::new(std::io::Cursor::new(bytes.clone())).unwrap();
        let names = book.sheet_names();
        assert_eq!(names, vec!["Übersicht", "Einträge mit einem sehr langen"]);
        let overview = book.worksheet_range("Übersicht").unwrap();
        assert!(
            matches!(overview.get((1, 1)), Some(Data::DateTime(_))),
            "{:?}",
            overview.get((1, 1))
        );
        assert_eq!(overview.get((2, 1)), Some(&Data::Float(3.0)));
        let t = book
            .worksheet_range("Einträge mit einem sehr langen")
            .unwrap();
        assert_eq!(t.get((0, 2)), Some(&Data::String("Anzahl".into())));
        assert_eq!(
            t.get((0, 5)),
            Some(&Data::String("Zeitpunkt (MEZ/MESZ)".into()))
        );
        assert_eq!(t.get((1, 2)), Some(&Data::Float(12345.0)));
        assert_eq!(t.get((1, 3)), Some(&Data::Float(0.995)));
        let Some(Data::DateTime(d)) = t.get((1, 4)) else {
            panic!("{:?}", t.get((1, 4)))
        };
        // Excel's serial day numbers count from 30 December 1899.
        let serial = |y, m, d| {
            (NaiveDate::from_ymd_opt(y, m, d).unwrap()
                - NaiveDate::from_ymd_opt(1899, 12, 30).unwrap())
            .num_days() as f64
        };
        assert_eq!(d.as_f64(), serial(2026, 12, 3));
        let Some(Data::DateTime(at)) = t.get((1, 5)) else {
            panic!("{:?}", t.get((1, 5)))
        };
        assert!(
            (at.as_f64() - (serial(2026, 7, 2) + 0.5 / 24.0)).abs() < 1e-6,
            "{at:?}"
        );
        assert_eq!(
            t.get((2, 2)),
            Some(&Data::String("— nicht erfasst —".into()))
        );
        // The sheet XML: header frozen, autofilter over the table.
        let sheet = unzip(&bytes, "xl/worksheets/sheet2.xml");
        assert!(
            sheet.contains(r#"<pane ySplit="1" topLeftCell="A2""#),
            "{sheet}"
        );
        assert!(sheet.contains(r#"<autoFilter ref="A1:F3"/>"#), "{sheet}");
        assert!(sheet.contains("<cols>"), "fitted widths: {sheet}");
    }

    fn unzip(bytes: &[u8], name: &str) -> String {
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
        let mut out = String::new();
        std::io::Read::read_to_string(&mut zip.by_name(name).unwrap(), &mut out).unwrap();
        out
    }
}
