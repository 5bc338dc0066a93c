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

/// A line of the report's head: what it is, when, from which register version.
struct Meta {
    label: String,
    value: String,
    kind: ValueType,
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

    fn meta(&self) -> Vec<Meta> {
        let l = self.lang;
        let line = |label: String, value: String, kind: ValueType| Meta { label, value, kind };
        let mut meta = vec![
            line(
                l.pick("Bericht", "Report"),
                self.title.clone(),
                ValueType::Text,
            ),
            line(
                l.pick("Erstellt am", "Generated at"),
                iso_moment(self.generated_at),
                ValueType::DateTime,
            ),
            line(
                l.pick("Registerversion", "Register version"),
                self.register_version.to_string(),
                ValueType::Integer,
            ),
        ];
        if let Some(t) = &self.tenant_id {
            meta.push(line(
                l.pick("Mandant (Kennung)", "Tenant (id)"),
                t.clone(),
                ValueType::Text,
            ));
        }
        meta.push(line(
            l.pick("SHA-256 des Inhalts", "Content SHA-256"),
            self.content_sha256.clone(),
            ValueType::Text,
        ));
        meta
    }

    pub fn render(&self, format: Format) -> Result<Vec<u8>> {
        match format {
            Format::Json => serde_json::to_vec_pretty(self).map_err(Error::internal),
            Format::Csv(dialect) => Ok(self.to_csv(dialect)),
            Format::Xlsx => self.to_xlsx(),
            Format::Pdf => self.to_pdf(),
        }
    }

    /// The report laid out as a sheet: the head, then each section — its title, its fields as
    /// label and value, each table with its title, header row and one row per entry (one row
    /// per activity in a record). Rows are padded to one width, as RFC 4180 asks.
    fn to_csv(&self, dialect: CsvDialect) -> Vec<u8> {
        let lang = self.lang;
        let excel = dialect == CsvDialect::Excel;
        let value = |v: &str, kind: ValueType| {
            if excel {
                shown(v, kind, lang)
            } else {
                v.to_string()
            }
        };
        let mut rows: Vec<Vec<String>> = self
            .meta()
            .into_iter()
            .map(|m| vec![m.label, value(&m.value, m.kind)])
            .collect();
        for s in &self.sections {
            rows.push(Vec::new());
            rows.push(vec![s.title.clone()]);
            for f in &s.fields {
                rows.push(vec![f.label.clone(), value(&f.value, f.kind)]);
            }
            for t in &s.tables {
                rows.push(Vec::new());
                if t.title != s.title {
                    rows.push(vec![t.title.clone()]);
                }
                rows.push(t.columns.iter().map(|c| c.label.clone()).collect());
                for row in &t.rows {
                    rows.push(
                        row.iter()
                            .zip(&t.columns)
                            .map(|(v, c)| value(v, c.kind))
                            .collect(),
                    );
                }
            }
            for n in &s.notes {
                rows.push(vec![n.clone()]);
            }
        }
        let width = rows.iter().map(Vec::len).max().unwrap_or(1);
        let sep = dialect.separator(lang);
        let mut out = String::new();
        if excel {
            // The byte order mark tells Excel the file is UTF-8 (without it: "GrÃ¶ÃŸe").
            out.push('\u{feff}');
        }
        for row in rows {
            let mut cells: Vec<String> = row.iter().map(|c| csv_cell(c, sep)).collect();
            cells.resize(width, String::new());
            out.push_str(&cells.join(&sep.to_string()));
            out.push_str("\r\n");
        }
        out.into_bytes()
    }

    fn to_xlsx(&self) -> Result<Vec<u8>> {
        let mut book = Sheets::new(self.lang);
        let overview = book.add(&self.lang.pick("Übersicht", "Overview"))?;
        let mut r = 0u32;
        for m in self.meta() {
            book.label_value(overview, r, &m.label, &m.value, m.kind)?;
            r += 1;
        }
        for s in self.sections.iter().filter(|s| s.sheet.is_none()) {
            r += 1;
            book.heading(overview, r, &s.title)?;
            r += 1;
            for f in &s.fields {
                book.label_value(overview, r, &f.label, &f.value, f.kind)?;
                r += 1;
            }
            for n in &s.notes {
                book.text(overview, r, 1, n)?;
                r += 1;
            }
        }
        book.finish_sheet(overview, None)?;
        for s in &self.sections {
            match &s.sheet {
                Some(name) => {
                    let sheet = book.add(name)?;
                    book.heading(sheet, 0, &s.title)?;
                    let mut r = 1;
                    for f in &s.fields {
                        book.label_value(sheet, r, &f.label, &f.value, f.kind)?;
                        r += 1;
                    }
                    let mut filter = None;
                    for t in &s.tables {
                        r += 1;
                        book.heading(sheet, r, &t.title)?;
                        let header = r + 1;
                        r = book.table(sheet, header, t)?;
                        filter.get_or_insert((header, t));
                    }
                    for n in &s.notes {
                        r += 1;
                        book.text(sheet, r, 0, n)?;
                    }
                    book.finish_sheet(sheet, filter)?;
                }
                None => {
                    for t in &s.tables {
                        let sheet = book.add(&t.sheet)?;
                        book.table(sheet, 0, t)?;
                        book.finish_sheet(sheet, Some((0, t)))?;
                    }
                }
            }
        }
        book.save()
    }

    fn to_pdf(&self) -> Result<Vec<u8>> {
        let l = self.lang;
        let mut blocks = vec![Block::Title(self.title.clone())];
        for m in self.meta() {
            blocks.push(Block::Field(m.label, shown(&m.value, m.kind, l)));
        }
        for s in &self.sections {
            blocks.push(Block::Heading(s.title.clone()));
            for f in &s.fields {
                blocks.push(Block::Field(f.label.clone(), shown(&f.value, f.kind, l)));
            }
            for t in &s.tables {
                if !t.title.is_empty() && t.title != s.title {
                    blocks.push(Block::Subheading(t.title.clone()));
                }
                if t.rows.is_empty() {
                    blocks.push(Block::Paragraph(l.pick("(keine Einträge)", "(none)")));
                    continue;
                }
                if t.records {
                    for (n, row) in t.shown_rows(l).into_iter().enumerate() {
                        let mut cells = t.columns.iter().zip(row);
                        let title = cells.next().map(|(_, v)| v).unwrap_or_default();
                        blocks.push(Block::Subheading(format!("{}. {title}", n + 1)));
                        for (c, v) in cells {
                            blocks.push(Block::Field(c.label.clone(), v));
                        }
                    }
                    continue;
                }
                let mut table =
                    documents::Table::new(t.columns.iter().map(|c| c.label.clone()).collect());
                table.rows = t.shown_rows(l);
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
            letterhead: self.letterhead.clone(),
        }
        .render()
    }
}

/// The workbook being written: typed cells, whole and unique sheet names.
struct Sheets {
    book: rust_xlsxwriter::Workbook,
    lang: Lang,
    used: HashSet<String>,
    bold: rust_xlsxwriter::Format,
    heading: rust_xlsxwriter::Format,
    wrap: rust_xlsxwriter::Format,
    integer: rust_xlsxwriter::Format,
    percent: rust_xlsxwriter::Format,
    date: rust_xlsxwriter::Format,
    moment: rust_xlsxwriter::Format,
}

fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> Error {
    Error::internal(anyhow::anyhow!(e))
}

/// Excel's limit for a sheet name.
const SHEET_NAME_MAX: usize = 31;

/// A sheet name Excel accepts that still reads whole: the characters Excel forbids removed,
/// cut at a word boundary, made unique (case-insensitively, as Excel compares) with " (2)".
fn sheet_name(wanted: &str, used: &HashSet<String>) -> String {
    let clean: String = wanted
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .collect();
    let clean = clean.trim().trim_matches('\'').trim();
    let base = if clean.is_empty() { "Sheet" } else { clean };
    (1..)
        .map(|n| {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!(" ({n})")
            };
            format!(
                "{}{suffix}",
                whole_words(base, SHEET_NAME_MAX - suffix.chars().count())
            )
        })
        .find(|name| !used.contains(&name.to_lowercase()))
        .unwrap_or_default()
}

/// At most `max` characters of `text`, cut after a whole word where there is one.
fn whole_words(text: &str, max: usize) -> &str {
    if text.chars().count() <= max {
        return text;
    }
    let cut = text.char_indices().nth(max).map_or(text.len(), |(i, _)| i);
    let head = &text[..cut];
    // The next character being a space means the last word is whole.
    if text[cut..].starts_with(' ') {
        return head.trim_end();
    }
    match head.rfind(' ') {
        Some(space) if space > 0 => head[..space].trim_end_matches([' ', ',', '–', '-', ';']),
        _ => head,
    }
}

impl Sheets {
    fn new(lang: Lang) -> Self {
        use rust_xlsxwriter::{Format, FormatAlign};
        let (date, moment) = match lang {
            Lang::De => ("dd.mm.yyyy", "dd.mm.yyyy hh:mm"),
            Lang::En => ("d mmm yyyy", "d mmm yyyy hh:mm"),
        };
        let top = |f: Format| f.set_align(FormatAlign::Top);
        Self {
            book: rust_xlsxwriter::Workbook::new(),
            lang,
            used: HashSet::new(),
            bold: top(Format::new().set_bold().set_text_wrap()),
            heading: Format::new().set_bold().set_font_size(12),
            wrap: top(Format::new().set_text_wrap()),
            integer: top(Format::new().set_num_format("#,##0")),
            percent: top(Format::new().set_num_format("0.0%")),
            date: top(Format::new().set_num_format(date)),
            moment: top(Format::new().set_num_format(moment)),
        }
    }

    /// Adds a sheet; returns its index.
    fn add(&mut self, wanted: &str) -> Result<usize> {
        let name = sheet_name(wanted, &self.used);
        self.used.insert(name.to_lowercase());
        let sheet = self.book.add_worksheet();
        sheet.set_name(&name).map_err(xlsx_error)?;
        Ok(self.book.worksheets().len() - 1)
    }

    fn sheet(&mut self, index: usize) -> Result<&mut rust_xlsxwriter::Worksheet> {
        self.book.worksheet_from_index(index).map_err(xlsx_error)
    }

    fn heading(&mut self, sheet: usize, row: u32, text: &str) -> Result<()> {
        let format = self.heading.clone();
        self.sheet(sheet)?
            .write_with_format(row, 0, text, &format)
            .map_err(xlsx_error)?;
        Ok(())
    }

    fn text(&mut self, sheet: usize, row: u32, col: u16, text: &str) -> Result<()> {
        let format = self.wrap.clone();
        self.sheet(sheet)?
            .write_with_format(row, col, text, &format)
            .map_err(xlsx_error)?;
        Ok(())
    }

    fn label_value(
        &mut self,
        sheet: usize,
        row: u32,
        label: &str,
        value: &str,
        kind: ValueType,
    ) -> Result<()> {
        let bold = self.bold.clone();
        self.sheet(sheet)?
            .write_with_format(row, 0, label, &bold)
            .map_err(xlsx_error)?;
        self.cell(sheet, row, 1, value, kind)
    }

    /// Writes a value as the cell type it is: numbers as numbers, dates as dates (times in
    /// German time: Excel has no zones, the column header names it).
    fn cell(
        &mut self,
        sheet: usize,
        row: u32,
        col: u16,
        value: &str,
        kind: ValueType,
    ) -> Result<()> {
        use rust_xlsxwriter::ExcelDateTime;
        let (integer, percent, date, moment, wrap) = (
            self.integer.clone(),
            self.percent.clone(),
            self.date.clone(),
            self.moment.clone(),
            self.wrap.clone(),
        );
        let ws = self.sheet(sheet)?;
        let day = |d: NaiveDate| {
            use chrono::Datelike;
            ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
        };
        match Value::read(value, kind) {
            Value::Text(s) => ws.write_with_format(row, col, s, &wrap).map(|_| ()),
            Value::Integer(n) => ws
                .write_number_with_format(row, col, n as f64, &integer)
                .map(|_| ()),
            Value::Percent(x) => ws
                .write_number_with_format(row, col, x / 100.0, &percent)
                .map(|_| ()),
            Value::Date(d) => day(d).and_then(|d| {
                ws.write_datetime_with_format(row, col, d, &date)
                    .map(|_| ())
            }),
            Value::Moment(at) => {
                use chrono::Timelike;
                let local = at.with_timezone(&crate::i18n::ZONE);
                day(local.date_naive())
                    .and_then(|d| {
                        d.and_hms(local.hour() as u16, local.minute() as u8, local.second())
                    })
                    .and_then(|d| {
                        ws.write_datetime_with_format(row, col, d, &moment)
                            .map(|_| ())
                    })
            }
        }
        .map_err(xlsx_error)
    }

    /// Writes a table with its header row at `header`; returns the row after it.
    fn table(&mut self, sheet: usize, header: u32, t: &Table) -> Result<u32> {
        let bold = self.bold.clone();
        let zone = self.lang.pick(" (MEZ/MESZ)", " (CET/CEST)");
        for (c, col) in t.columns.iter().enumerate() {
            let label = if col.kind == ValueType::DateTime {
                format!("{}{zone}", col.label)
            } else {
                col.label.clone()
            };
            self.sheet(sheet)?
                .write_with_format(header, c as u16, label, &bold)
                .map_err(xlsx_error)?;
        }
        let mut r = header + 1;
        for row in &t.rows {
            for (c, (v, col)) in row.iter().zip(&t.columns).enumerate() {
                self.cell(sheet, r, c as u16, v, col.kind)?;
            }
            r += 1;
        }
        Ok(r)
    }

    /// Fits the column widths (up to a readable maximum, long text wraps) and, for a sheet
    /// with a table, freezes its header row and puts an autofilter on it.
    fn finish_sheet(&mut self, sheet: usize, table: Option<(u32, &Table)>) -> Result<()> {
        let ws = self.sheet(sheet)?;
        ws.set_autofit_max_width(420);
        ws.autofit();
        if let Some((header, t)) = table {
            ws.set_freeze_panes(header + 1, 0).map_err(xlsx_error)?;
            if !t.columns.is_empty() {
                let last_row = header + t.rows.len() as u32;
                ws.autofilter(header, 0, last_row, t.columns.len() as u16 - 1)
                    .map_err(xlsx_error)?;
            }
        }
        Ok(())
    }

    fn save(mut self) -> Result<Vec<u8>> {
        self.book.save_to_buffer().map_err(xlsx_error)
    }
}

/// Quotes a CSV cell (RFC 4180) and defuses spreadsheet formulas (a leading = + - @ gets a
/// leading apostrophe, as OWASP recommends against CSV injection).
fn csv_cell(value: &str, sep: char) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([sep, '"', '\n', '\r']) {
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
    fn separator(self, lang: Lang) -> char {
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

#[cfg(test)]
mod tests {
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
