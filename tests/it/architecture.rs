//! The picture in docs/architecture.md ("Services") matches the code (issue 23): every service
//! of the composition root is in the table, each with exactly the services it holds, and no
//! domain module reaches back into the composition root or the HTTP layer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The documented services: name → (module path, the services it holds).
fn documented() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let doc = read(&root().join("docs/architecture.md"));
    let section = doc
        .split("## Services")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/architecture.md has a Services section");
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| service") && !l.starts_with("|---"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let holds = cells[2]
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| s != "Infra" && s != "Store")
                .collect();
            (
                cells[0].to_string(),
                (cells[1].trim_matches('`').to_string(), holds),
            )
        })
        .collect()
}

/// The fields of `pub struct <name> { … }` in `source`, as (field, type).
fn fields(source: &str, name: &str) -> Vec<(String, String)> {
    let start = format!("pub struct {name} {{");
    let body = source
        .split(&start)
        .nth(1)
        .and_then(|s| s.split("\n}").next())
        .unwrap_or_else(|| panic!("no `{start}`"));
    body.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//"))
        .filter_map(|l| {
            let (field, ty) = l.split_once(':')?;
            let field = field.rsplit(' ').next()?.to_string();
            Some((field, ty.trim().trim_end_matches(',').to_string()))
        })
        .collect()
}

fn module_source(module: &str) -> String {
    let path = module.replace("::", "/");
    let file = root().join("src").join(format!("{path}.rs"));
    if file.exists() {
        read(&file)
    } else {
        read(&root().join("src").join(path).join("mod.rs"))
    }
}

#[test]
fn the_services_and_what_each_holds_are_as_docs_architecture_md_draws_them() {
    let documented = documented();
    let root_fields = fields(&read(&root().join("src/service.rs")), "Services");
    let in_root: BTreeSet<String> = root_fields
        .iter()
        .map(|(_, ty)| ty.clone())
        .filter(|ty| ty != "Infra")
        .collect();
    let names: BTreeSet<String> = documented.keys().cloned().collect();
    // PeriodKeys is held by services only, not by the root.
    let expected_in_root: BTreeSet<String> = names
        .iter()
        .filter(|n| *n != "PeriodKeys")
        .cloned()
        .collect();
    assert_eq!(
        in_root, expected_in_root,
        "Hafen's services and the table differ"
    );
    for (service, (module, holds)) in &documented {
        let held: BTreeSet<String> = fields(&module_source(module), service)
            .into_iter()
            .map(|(_, ty)| ty.rsplit("::").next().unwrap_or(&ty).to_string())
            .filter(|ty| names.contains(ty))
            .collect();
        assert_eq!(
            &held, holds,
            "{service} ({module}) holds other services than the table says"
        );
    }
}

#[test]
fn no_domain_module_imports_the_composition_root_or_http() {
    // The composition root, the transports and the process around them; `config` and `doctor`
    // check settings the HTTP layer uses (trusted proxies, the TLS certificate).
    let outside_domain = [
        "http",
        "cli",
        "app",
        "jobs",
        "bootstrap",
        "service",
        "lib",
        "main",
        "config",
        "doctor",
    ];
    let mut offenders = Vec::new();
    for (module, text) in source_files() {
        let top = module.split("::").next().unwrap_or(&module);
        if outside_domain.contains(&top) {
            continue;
        }
        for needle in ["crate::service", "crate::http", "crate::jobs", "crate::app"] {
            if text.contains(needle) {
                offenders.push(format!("{module} uses {needle}"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "domain modules reach up: {offenders:#?}"
    );
}

/// The modules each top-level module of `src/` refers to (`crate::x…` and `use crate::{x, …}`),
/// outside its tests and comments: module → (module it uses → the files that do).
fn module_imports() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut graph: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (module, text) in source_files() {
        let from = module.split("::").next().unwrap_or(&module).to_string();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
        let code: String = code
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for to in referenced_modules(&code) {
            if to != from {
                graph
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(module.clone());
            }
        }
        graph.entry(from).or_default();
    }
    graph.remove("lib");
    graph.remove("main");
    graph
}

/// The first path segment after every `crate::`, including each item of a `crate::{…}` group.
fn referenced_modules(code: &str) -> BTreeSet<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Items at depth 0 of the group, up to its closing brace.
            let mut depth = 0;
            let mut item_start = true;
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && !c.is_whitespace() => {
                        item_start = false;
                        let name = ident(&group[i..]);
                        if !name.is_empty() {
                            found.insert(name);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// docs/architecture.md's "Module layers": module → layer.
fn documented_layers() -> BTreeMap<String, usize> {
    let doc = read(&root().join("docs/architecture.md"));
    let section = doc
        .split("### Module layers")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("docs/architecture.md has a 'Module layers' section");
    let block = section
        .split("```")
        .nth(1)
        .expect("the layers are drawn in a code block");
    let mut layers = BTreeMap::new();
    for line in block.lines() {
        let Some((number, modules)) = line.trim().split_once(':') else {
            continue;
        };
        let Ok(number) = number.trim().parse::<usize>() else {
            continue;
        };
        for module in modules.split_whitespace() {
            assert!(
                layers.insert(module.to_string(), number).is_none(),
                "{module} is drawn in two layers"
            );
        }
    }
    layers
}

#[test]
fn every_module_uses_only_modules_of_lower_layers_as_docs_architecture_md_draws_them() {
    let graph = module_imports();
    let layers = documented_layers();
    let modules: BTreeSet<&String> = graph.keys().collect();
    let drawn: BTreeSet<&String> = layers.keys().collect();
    assert_eq!(
        modules, drawn,
        "the modules of src/ and the layers drawn differ"
    );

    let mut offenders = Vec::new();
    for (from, uses) in &graph {
        for (to, files) in uses {
            let Some(to_layer) = layers.get(to) else {
                continue; // not a module of ours (e.g. `crate::` in a macro path)
            };
            if to_layer >= &layers[from] {
                offenders.push(format!("{from} → {to} ({files:?})"));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "modules use a module of their own or a higher layer: {offenders:#?}"
    );
}

/// Every `.rs` file under `src/`, as (module path like `messages::attachments`, text); a
/// module's `tests.rs` is left out like the `mod tests` blocks the callers cut off.
fn source_files() -> Vec<(String, String)> {
    let src = root().join("src");
    let mut files = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().and_then(|e| e.to_str()) == Some("rs")
                && path.file_name().and_then(|n| n.to_str()) != Some("tests.rs")
            {
                let rel = path
                    .strip_prefix(&src)
                    .unwrap()
                    .to_string_lossy()
                    .to_string();
                let module = rel
                    .trim_end_matches(".rs")
                    .trim_end_matches("/mod")
                    .replace('/', "::");
                files.push((module, read(&path)));
            }
        }
    }
    files
}

/// Removes whitespace, so a statement split over lines reads as one.
fn squeezed(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn only_a_sealed_tables_owner_deletes_its_rows_or_blanks_its_sealed_columns() {
    use hafen::retention::coverage::SEALED_TABLES;
    let files: Vec<(String, String)> = source_files()
        .into_iter()
        .map(|(module, text)| {
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
            (module, squeezed(code))
        })
        .collect();
    let mut offenders = Vec::new();
    for table in SEALED_TABLES {
        let delete = format!("diesel::delete({}::table", table.table);
        let blank = format!("{}::", table.table);
        for (module, code) in &files {
            let owns = module == table.owner || module.starts_with(&format!("{}::", table.owner));
            if owns {
                continue;
            }
            if code.contains(&delete) {
                offenders.push(format!("{module} deletes {} rows", table.table));
            }
            // `<table>::<column>_sealed.eq(None` blanks a sealed column.
            for (at, _) in code.match_indices(&blank) {
                let rest = &code[at + blank.len()..];
                let column: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if column.ends_with("_sealed") && rest[column.len()..].starts_with(".eq(None") {
                    offenders.push(format!("{module} blanks {}::{column}", table.table));
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "sealed data deleted outside its owner (retention::coverage names the owners): {offenders:#?}"
    );
}
