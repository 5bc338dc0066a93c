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
                .filter(|s| s != "Infra")
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
        "cli.rs",
        "app.rs",
        "jobs.rs",
        "bootstrap.rs",
        "service.rs",
        "lib.rs",
        "main.rs",
        "config.rs",
        "doctor.rs",
    ];
    let mut offenders = Vec::new();
    let mut stack = vec![root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root().join("src"))
                .unwrap()
                .to_string_lossy()
                .to_string();
            if outside_domain
                .iter()
                .any(|o| rel == *o || rel.starts_with(&format!("{o}/")))
            {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if rel.ends_with(".rs") {
                let text = read(&path);
                for needle in ["crate::service", "crate::http", "crate::jobs", "crate::app"] {
                    if text.contains(needle) {
                        offenders.push(format!("{rel} uses {needle}"));
                    }
                }
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "domain modules reach up: {offenders:#?}"
    );
}
