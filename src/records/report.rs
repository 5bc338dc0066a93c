//! A report as data, and its four renderings. Every kind of report is built as the same
//! shape — sections of labelled fields and tables — so JSON, CSV, XLSX and PDF say exactly
//! the same thing, and one content hash covers them all.
//!
//! JSON schema (`hafen.report.v1`, stable: fields are only ever added):
//! `{schema, kind, lang, title, generated_at, register_version, tenant_id, sections: [{key,
//! title, fields: [{key, label, value}], tables: [{key, title, columns: [{key, label}], rows:
//! [[…]]}], notes: […]}], content_sha256}`. `content_sha256` is the SHA-256 of the compact
//! JSON of the report, keys sorted, with `content_sha256` set to "" (docs/dpo-guide.md shows
//! how to check).

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Lang;
use crate::documents::{self, Block, Document};
use crate::error::{Error, Result};

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
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Section {
    pub key: String,
    pub title: String,
    pub fields: Vec<Field>,
    pub tables: Vec<Table>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Table {
    pub key: String,
    pub title: String,
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Column {
    pub key: String,
    pub label: String,
}

impl Section {
    pub fn new(key: &str, title: String) -> Self {
        Self {
            key: key.into(),
            title,
            fields: Vec::new(),
            tables: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn field(mut self, key: &str, label: String, value: impl Into<String>) -> Self {
        self.fields.push(Field {
            key: key.into(),
            label,
            value: value.into(),
        });
        self
    }

    pub fn table(mut self, table: Table) -> Self {
        self.tables.push(table);
        self
    }

    pub fn note(mut self, note: String) -> Self {
        self.notes.push(note);
        self
    }
}

impl Table {
    /// `columns`: (key, label) pairs.
    pub fn new(key: &str, title: String, columns: Vec<(&str, String)>) -> Self {
        Self {
            key: key.into(),
            title,
            columns: columns
                .into_iter()
                .map(|(key, label)| Column {
                    key: key.into(),
                    label,
                })
                .collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, values: Vec<String>) {
        self.rows.push(values);
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

    fn meta(&self) -> Vec<(String, String)> {
        let l = self.lang;
        let mut meta = vec![
            (l.pick("Bericht", "Report"), self.title.clone()),
            (
                l.pick("Erstellt am", "Generated at"),
                self.generated_at
                    .format("%Y-%m-%d %H:%M:%S UTC")
                    .to_string(),
            ),
            (
                l.pick("Registerversion", "Register version"),
                self.register_version.to_string(),
            ),
        ];
        if let Some(t) = &self.tenant_id {
            meta.push((l.pick("Mandant (Kennung)", "Tenant (id)"), t.clone()));
        }
        meta.push((
            l.pick("SHA-256 des Inhalts", "Content SHA-256"),
            self.content_sha256.clone(),
        ));
        meta
    }

    pub fn render(&self, format: Format) -> Result<Vec<u8>> {
        match format {
            Format::Json => serde_json::to_vec_pretty(self).map_err(Error::internal),
            Format::Csv => Ok(self.to_csv().into_bytes()),
            Format::Xlsx => self.to_xlsx(),
            Format::Pdf => self.to_pdf(),
        }
    }

    /// Long format: one line per value — section, item, field, label, value.
    fn to_csv(&self) -> String {
        let mut out = String::from("section,item,field,label,value\r\n");
        let mut line = |cells: [&str; 5]| {
            let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
            out.push_str(&cells.join(","));
            out.push_str("\r\n");
        };
        for (label, value) in self.meta() {
            line(["report", "", "", &label, &value]);
        }
        for s in &self.sections {
            line([&s.key, "", "title", "", &s.title]);
            for f in &s.fields {
                line([&s.key, "", &f.key, &f.label, &f.value]);
            }
            for t in &s.tables {
                line([&s.key, &t.key, "title", "", &t.title]);
                for (i, row) in t.rows.iter().enumerate() {
                    let item = format!("{}[{}]", t.key, i + 1);
                    for (c, v) in t.columns.iter().zip(row) {
                        line([&s.key, &item, &c.key, &c.label, v]);
                    }
                }
            }
            for (i, n) in s.notes.iter().enumerate() {
                line([&s.key, &format!("note[{}]", i + 1), "note", "", n]);
            }
        }
        out
    }

    fn to_xlsx(&self) -> Result<Vec<u8>> {
        use rust_xlsxwriter::{Format as Cell, Workbook};
        let xerr = |e: rust_xlsxwriter::XlsxError| Error::internal(anyhow::anyhow!(e));
        let bold = Cell::new().set_bold();
        let wrap = Cell::new().set_text_wrap();
        let mut book = Workbook::new();
        let overview = book.add_worksheet();
        overview
            .set_name(self.lang.pick("Übersicht", "Overview"))
            .map_err(xerr)?;
        overview.set_column_width(0, 45).map_err(xerr)?;
        overview.set_column_width(1, 100).map_err(xerr)?;
        let mut r = 0u32;
        for (label, value) in self.meta() {
            overview
                .write_with_format(r, 0, &label, &bold)
                .map_err(xerr)?;
            overview
                .write_with_format(r, 1, &value, &wrap)
                .map_err(xerr)?;
            r += 1;
        }
        for s in &self.sections {
            r += 1;
            overview
                .write_with_format(r, 0, &s.title, &bold)
                .map_err(xerr)?;
            r += 1;
            for f in &s.fields {
                overview.write(r, 0, &f.label).map_err(xerr)?;
                overview
                    .write_with_format(r, 1, &f.value, &wrap)
                    .map_err(xerr)?;
                r += 1;
            }
            for n in &s.notes {
                overview.write_with_format(r, 1, n, &wrap).map_err(xerr)?;
                r += 1;
            }
        }
        let mut n = 0;
        for s in &self.sections {
            for t in &s.tables {
                n += 1;
                let sheet = book.add_worksheet();
                let name: String = format!("{n} {}", t.title)
                    .chars()
                    .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
                    .take(31)
                    .collect();
                sheet.set_name(name.trim()).map_err(xerr)?;
                for (c, col) in t.columns.iter().enumerate() {
                    let c = c as u16;
                    sheet.set_column_width(c, 30).map_err(xerr)?;
                    sheet
                        .write_with_format(0, c, &col.label, &bold)
                        .map_err(xerr)?;
                }
                for (i, row) in t.rows.iter().enumerate() {
                    for (c, v) in row.iter().enumerate() {
                        sheet
                            .write_with_format(i as u32 + 1, c as u16, v, &wrap)
                            .map_err(xerr)?;
                    }
                }
            }
        }
        book.save_to_buffer().map_err(xerr)
    }

    fn to_pdf(&self) -> Result<Vec<u8>> {
        let l = self.lang;
        let mut blocks = vec![Block::Title(self.title.clone())];
        for (label, value) in self.meta() {
            blocks.push(Block::Field(label, value));
        }
        for s in &self.sections {
            blocks.push(Block::Heading(s.title.clone()));
            for f in &s.fields {
                blocks.push(Block::Field(f.label.clone(), f.value.clone()));
            }
            for t in &s.tables {
                if !t.title.is_empty() && t.title != s.title {
                    blocks.push(Block::Subheading(t.title.clone()));
                }
                if t.rows.is_empty() {
                    blocks.push(Block::Paragraph(l.pick("(keine Einträge)", "(none)")));
                    continue;
                }
                let mut table =
                    documents::Table::new(t.columns.iter().map(|c| c.label.clone()).collect());
                table.rows = t.rows.clone();
                blocks.push(Block::Table(table));
            }
            for n in &s.notes {
                blocks.push(Block::Paragraph(n.clone()));
            }
        }
        let mut footer = vec![self.title.clone()];
        if let Some(t) = &self.tenant_id {
            footer.push(format!("{} {t}", l.pick("Mandant", "Tenant")));
        }
        footer.push(format!(
            "{} {}",
            l.pick("Registerversion", "Register version"),
            self.register_version
        ));
        footer.push(format!("SHA-256 {}", self.content_sha256));
        Document {
            title: self.title.clone(),
            lang: l,
            created: self.generated_at,
            footer: footer.join(" · "),
            blocks,
        }
        .render()
    }
}

/// Quotes a CSV cell (RFC 4180) and defuses spreadsheet formulas (a leading = + - @ gets a
/// leading apostrophe, as OWASP recommends against CSV injection).
fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

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
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::ProcessorRecord,
        Kind::ControllerRecord,
        Kind::Toms,
        Kind::Subprocessors,
        Kind::DeletionConcept,
        Kind::DeletionReport,
        Kind::ConsentStatistics,
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
                "must be processor-record, controller-record, toms, subprocessors, deletion-concept, deletion-report or consent-statistics",
            )
        })
    }
}

/// A report's file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Csv,
    Xlsx,
    Pdf,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Csv => "csv",
            Format::Xlsx => "xlsx",
            Format::Pdf => "pdf",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Csv => "text/csv; charset=utf-8",
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Pdf => "application/pdf",
        }
    }
}

impl FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "xlsx" => Ok(Format::Xlsx),
            "pdf" => Ok(Format::Pdf),
            _ => Err(Error::invalid("format", "must be json, csv, xlsx or pdf")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Report {
        let mut t = Table::new(
            "items",
            "Einträge".into(),
            vec![("name", "Name".into()), ("value", "Wert".into())],
        );
        t.row(vec!["=SUM(A1)".into(), "Größe, \"quoted\"".into()]);
        Report::new(
            Kind::Toms,
            Lang::De,
            "2026-01-31T12:00:00Z".parse().unwrap(),
            3,
            None,
            vec![Section::new("s", "Abschnitt".into())
                .field("f", "Feld".into(), "Wert")
                .table(t)],
        )
    }

    #[test]
    fn hash_covers_the_content_and_csv_is_defused() {
        let r = sample();
        assert_eq!(r.content_sha256, r.compute_hash());
        let mut changed = r.clone();
        changed.sections[0].fields[0].value = "anders".into();
        assert_ne!(changed.compute_hash(), r.content_sha256);
        let csv = String::from_utf8(r.render(Format::Csv).unwrap()).unwrap();
        assert!(csv.contains("'=SUM(A1)"), "{csv}");
        assert!(csv.contains("\"Größe, \"\"quoted\"\"\""), "{csv}");
        let xlsx = r.render(Format::Xlsx).unwrap();
        assert!(xlsx.starts_with(b"PK"));
        let pdf = r.render(Format::Pdf).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
