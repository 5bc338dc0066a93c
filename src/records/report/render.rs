//! Rendering a report: CSV in two dialects, XLSX (a section that asks for it gets its own sheet)
//! and PDF, each with the same header fields (`Meta`).

use super::*;

/// A line of the report's head: what it is, when, from which register version.
pub(super) struct Meta {
    pub(super) label: String,
    pub(super) value: String,
    pub(super) kind: ValueType,
}

impl Report {
    pub(super) fn meta(&self) -> Vec<Meta> {
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
    pub(super) fn to_csv(&self, dialect: CsvDialect) -> Vec<u8> {
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

    pub(super) fn to_xlsx(&self) -> Result<Vec<u8>> {
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

    pub(super) fn to_pdf(&self) -> Result<Vec<u8>> {
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
pub(super) struct Sheets {
    pub(super) book: rust_xlsxwriter::Workbook,
    pub(super) lang: Lang,
    pub(super) used: HashSet<String>,
    pub(super) bold: rust_xlsxwriter::Format,
    pub(super) heading: rust_xlsxwriter::Format,
    pub(super) wrap: rust_xlsxwriter::Format,
    pub(super) integer: rust_xlsxwriter::Format,
    pub(super) percent: rust_xlsxwriter::Format,
    pub(super) date: rust_xlsxwriter::Format,
    pub(super) moment: rust_xlsxwriter::Format,
}

pub(super) fn xlsx_error(e: rust_xlsxwriter::XlsxError) -> Error {
    Error::internal(anyhow::anyhow!(e))
}

/// Excel's limit for a sheet name.
pub(super) const SHEET_NAME_MAX: usize = 31;

/// A sheet name Excel accepts that still reads whole: the characters Excel forbids removed,
/// cut at a word boundary, made unique (case-insensitively, as Excel compares) with " (2)".
pub(super) fn sheet_name(wanted: &str, used: &HashSet<String>) -> String {
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
pub(super) fn whole_words(text: &str, max: usize) -> &str {
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
    pub(super) fn new(lang: Lang) -> Self {
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
    pub(super) fn add(&mut self, wanted: &str) -> Result<usize> {
        let name = sheet_name(wanted, &self.used);
        self.used.insert(name.to_lowercase());
        let sheet = self.book.add_worksheet();
        sheet.set_name(&name).map_err(xlsx_error)?;
        Ok(self.book.worksheets().len() - 1)
    }

    pub(super) fn sheet(&mut self, index: usize) -> Result<&mut rust_xlsxwriter::Worksheet> {
        self.book.worksheet_from_index(index).map_err(xlsx_error)
    }

    pub(super) fn heading(&mut self, sheet: usize, row: u32, text: &str) -> Result<()> {
        let format = self.heading.clone();
        self.sheet(sheet)?
            .write_with_format(row, 0, text, &format)
            .map_err(xlsx_error)?;
        Ok(())
    }

    pub(super) fn text(&mut self, sheet: usize, row: u32, col: u16, text: &str) -> Result<()> {
        let format = self.wrap.clone();
        self.sheet(sheet)?
            .write_with_format(row, col, text, &format)
            .map_err(xlsx_error)?;
        Ok(())
    }

    pub(super) fn label_value(
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
    pub(super) fn cell(
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
    pub(super) fn table(&mut self, sheet: usize, header: u32, t: &Table) -> Result<u32> {
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
    pub(super) fn finish_sheet(
        &mut self,
        sheet: usize,
        table: Option<(u32, &Table)>,
    ) -> Result<()> {
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

    pub(super) fn save(mut self) -> Result<Vec<u8>> {
        self.book.save_to_buffer().map_err(xlsx_error)
    }
}

/// Quotes a CSV cell (RFC 4180) and defuses spreadsheet formulas (a leading = + - @ gets a
/// leading apostrophe, as OWASP recommends against CSV injection).
pub(super) fn csv_cell(value: &str, sep: char) -> String {
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
