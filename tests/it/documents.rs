//! The document layer every PDF goes through: names in every script a German company's
//! customers write come out of the PDF as they went in; fonts embedded; the file is valid
//! and declares PDF/A-2b. `check_pdf` is the gate every test that makes a PDF uses.

use chrono::TimeZone;
use hafen::documents::{Block, Document, Table};
use hafen::i18n::Lang;

/// Names in Turkish, Polish, Czech, Vietnamese, Greek, Cyrillic, Arabic, Hebrew and an emoji.
pub const NAMES: [&str; 9] = [
    "Ayşe Yılmaz",
    "Łukasz Żółtowski",
    "Jiří Dvořák",
    "Nguyễn Thị Minh Khai",
    "Δημήτρης Παπαδόπουλος",
    "Олена Шевченко",
    "محمد",
    "שרה",
    "😊",
];

/// Runs a PDF tool on the file. The PDF tests need poppler-utils and qpdf, like the
/// PostgreSQL variants need PostgreSQL; `.ci/run` installs them.
fn tool(name: &str, args: &[&str], path: &std::path::Path) -> String {
    let out = std::process::Command::new(name)
        .args(args)
        .arg(path)
        .output()
        .unwrap_or_else(|e| {
            panic!("{name}: {e}; the PDF tests need it: apt-get install poppler-utils qpdf")
        });
    assert!(
        out.status.success(),
        "{name} refuses the PDF: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Checks a PDF as a DPO's archive would and returns its text: `qpdf --check` passes,
/// `pdffonts` lists only embedded fonts, the XMP metadata declares PDF/A-2b, and the text
/// comes back through `pdftotext`.
pub fn check_pdf(pdf: &[u8]) -> String {
    assert!(pdf.starts_with(b"%PDF-"), "not a PDF");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.pdf");
    std::fs::write(&path, pdf).unwrap();
    let check = tool("qpdf", &["--check"], &path);
    assert!(
        !check.contains("WARNING"),
        "qpdf warns about the PDF: {check}"
    );
    {
        let fonts = tool("pdffonts", &[], &path);
        // name type encoding emb sub uni object ID: every font embedded, with a ToUnicode map.
        for line in fonts.lines().skip(2) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let n = cols.len();
            assert!(n >= 7, "pdffonts: {line}");
            assert_eq!(cols[n - 5], "yes", "font not embedded: {line}");
            assert_eq!(cols[n - 3], "yes", "font without ToUnicode: {line}");
        }
        assert!(fonts.lines().count() > 2, "no fonts at all: {fonts}");
    }
    {
        // The first page renders as a picture, without a complaint from poppler: what a
        // reviewer looks at (docs/samples/ holds them, from `bash docs/samples/render.sh`).
        let png = dir.path().join("page");
        let out = std::process::Command::new("pdftoppm")
            .args(["-png", "-r", "30", "-f", "1", "-l", "1", "-singlefile"])
            .arg(&path)
            .arg(&png)
            .output()
            .expect("pdftoppm runs (apt-get install poppler-utils)");
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "pdftoppm: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let picture = std::fs::read(png.with_extension("png")).expect("the first page as PNG");
        assert!(
            picture.starts_with(b"\x89PNG") && picture.len() > 1000,
            "an empty page picture"
        );
    }
    let meta = tool("pdfinfo", &["-meta"], &path);
    assert!(
        meta.contains("<pdfaid:part>2</pdfaid:part>")
            && meta.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
        "PDF/A-2b not declared: {meta}"
    );
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn sample() -> Document {
    let created = chrono::Utc
        .with_ymd_and_hms(2026, 12, 3, 21, 5, 38)
        .unwrap();
    let mut doc = Document::new("Auskunft nach Art. 15 DSGVO", Lang::De, created)
        .footer("Auskunft · Muster Handel GmbH · Antrag 42 · SHA-256 0123456789abcdef");
    doc.push(Block::Title("Auskunft nach Art. 15 DSGVO".into()));
    for name in NAMES {
        doc.push(Block::Field("Name".into(), name.into()));
    }
    doc.push(Block::Paragraph(
        "Sehr geehrte Frau Ayşe Yılmaz, wir bestätigen den Eingang Ihres Antrags vom 03.12.2026. ❤\u{FE0F} 中"
            .into(),
    ));
    let mut table = Table::new(vec![
        "Kategorie".into(),
        "Anzahl".into(),
        "Aufbewahrt bis".into(),
    ]);
    for i in 0..80 {
        table.rows.push(vec![
            format!("Nachrichteninhalte {}", NAMES[i % NAMES.len()]),
            i.to_string(),
            "31.12.2032".into(),
        ]);
    }
    doc.push(Block::Heading("Gespeicherte Daten".into()));
    doc.push(Block::Table(table));
    doc.push(Block::Mono(format!("SHA-256 {}", "ab".repeat(32))));
    doc
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn names_in_every_script_come_out_as_they_went_in() {
    let pdf = sample().render().unwrap();
    if std::env::var("HAFEN_UPDATE_SAMPLES").is_ok() {
        let out = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/samples/scripts.pdf");
        std::fs::write(out, &pdf).unwrap();
    }
    let text = check_pdf(&pdf);
    let flat = squeeze(&text);
    for name in NAMES {
        assert!(flat.contains(name), "{name} missing from: {flat}");
    }
    // No font has Chinese: it is named, not turned into "?".
    assert!(flat.contains("[U+4E2D]"), "{flat}");
    assert!(!flat.contains('?'), "{flat}");
    // Every page has its number and total, and the header repeats.
    let pages = text.matches("Seite ").count();
    assert!(pages >= 2, "{text}");
    assert!(
        flat.contains(&format!("Seite {pages} von {pages}")),
        "{flat}"
    );
    assert_eq!(text.matches("Aufbewahrt bis").count(), pages, "{text}");
}

#[test]
fn the_pdf_is_tagged_and_dated() {
    let pdf = sample().render().unwrap();
    let raw = String::from_utf8_lossy(&pdf);
    assert!(raw.contains("/StructTreeRoot"), "no tag tree");
    assert!(raw.contains("/MarkInfo"), "not marked as tagged");
    assert!(
        raw.contains("/Lang (de-DE)") || raw.contains("/Lang(de-DE)"),
        "no language"
    );
    assert!(
        raw.contains("2026-12-03T21:05:38"),
        "no creation date in the XMP"
    );
}
