use super::*;

fn texts(page: &Page) -> Vec<(String, Node)> {
    page.items
        .iter()
        .filter_map(|i| match i {
            Item::Text { line, node, .. } => Some((
                line.segments.iter().map(|s| s.text.as_str()).collect(),
                *node,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn a_table_too_wide_for_an_upright_page_turns_it() {
    let table =
        |n: usize| Block::Table(Table::new((0..n).map(|i| format!("Spalte {i}")).collect()));
    assert_eq!(Sheet::for_blocks(&[table(8)]), Sheet::PORTRAIT);
    assert_eq!(Sheet::for_blocks(&[table(8), table(11)]), Sheet::LANDSCAPE);
    let pages = paginate(&[table(11)], Sheet::LANDSCAPE, 0.0);
    let right = pages[0]
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Rule { x2, .. } => Some(*x2),
            _ => None,
        })
        .fold(0.0, f32::max);
    assert!(
        (right - (Sheet::LANDSCAPE.w - MARGIN_X)).abs() < 0.5,
        "{right}"
    );
}

#[test]
fn a_long_table_repeats_its_header_on_every_page() {
    let mut table = Table::new(vec!["Nr.".into(), "Tätigkeit".into()]);
    for i in 0..120 {
        table
            .rows
            .push(vec![i.to_string(), format!("Verarbeitung {i}")]);
    }
    let pages = paginate(&[Block::Table(table)], Sheet::PORTRAIT, 0.0);
    assert!(pages.len() >= 3, "{}", pages.len());
    for (n, page) in pages.iter().enumerate() {
        let t = texts(page);
        assert_eq!(t[0].0, "Nr.", "page {n}");
        let expected = if n == 0 {
            Node::Cell {
                table: 0,
                row: 0,
                col: 0,
                header: true,
            }
        } else {
            Node::Artifact
        };
        assert_eq!(t[0].1, expected);
    }
}

#[test]
fn a_heading_is_never_the_last_thing_on_a_page() {
    let mut blocks: Vec<Block> = (0..55)
        .map(|i| Block::Paragraph(format!("Zeile {i}")))
        .collect();
    blocks.push(Block::Heading(
        "Technische und organisatorische Maßnahmen".into(),
    ));
    let mut table = Table::new(vec!["Maßnahme".into(), "Status".into()]);
    table
        .rows
        .push(vec!["Verschlüsselung".into(), "aktiv".into()]);
    blocks.push(Block::Table(table));
    let pages = paginate(&blocks, Sheet::PORTRAIT, 0.0);
    for page in &pages {
        let last = texts(page).pop().map(|(t, _)| t).unwrap_or_default();
        assert_ne!(last, "Technische und organisatorische Maßnahmen");
    }
}

#[test]
fn a_row_taller_than_a_page_is_split_between_lines() {
    let long = (0..900)
        .map(|i| format!("Wort{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let mut table = Table::new(vec!["A".into(), "B".into()]);
    table.rows.push(vec!["kurz".into(), long]);
    let pages = paginate(&[Block::Table(table)], Sheet::PORTRAIT, 0.0);
    assert!(pages.len() >= 2);
    let all: String = pages
        .iter()
        .flat_map(texts)
        .map(|(t, _)| t)
        .collect::<Vec<_>>()
        .join(" ");
    assert!(all.contains("Wort0 ") && all.contains("Wort899"));
    for page in &pages {
        for item in &page.items {
            if let Item::Text { baseline, .. } = item {
                assert!(*baseline <= Sheet::PORTRAIT.bottom() + 1.0, "{baseline}");
            }
        }
    }
}
