//! The broker crate's layering, checked: no module imports a module of a layer above it.
//!
//! Each top-level module of `src/` (a folder or a file) has a layer; every `crate::NAME` path in
//! a module's source must name a module of its own layer or of a layer below. The storage engine,
//! the command line client and the controller quorum are crates of their own (the compiler keeps
//! them apart), so they are not scanned. Comments are skipped: a doc link upwards is no dependency.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layers, top first. Modules on one line share a layer and may use each other.
const LAYERS: &[&[&str]] = &[
    // Binary entry, command line, startup.
    &["main", "lib", "args", "server"],
    // The wire protocol.
    &["kafka"],
    // The per-core composition root.
    &["services"],
    // The coordinators (txn uses group: markers settle transactional offsets).
    &["txn"],
    &["group"],
    // Core services: partition store, topic view, mesh.
    &["shard"],
    // Cluster metadata and configuration (one layer: they still use each other).
    &["cluster", "config"],
    // Metrics (counters, histograms, the scrape endpoint).
    &["metrics"],
    // Leaf helpers (periodic: the executors' periodic loops, counted through a metrics hook).
    &["errors", "panic_exit", "fd_limit", "clock", "periodic"],
    // The storage crate, re-exported as `crate::storage`.
    &["storage"],
];

/// Crates of their own inside `src/`, not modules of the broker crate.
const OTHER_CRATES: &[&str] = &["storage", "cli", "controller"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The modules named by `crate::NAME` paths in `source`, outside comments.
fn crate_paths(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in source.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let before = rest[..i].chars().last();
            rest = &rest[i + "crate::".len()..];
            // `runnel_storage::` or `some_crate::` are not this crate.
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

#[test]
fn no_module_imports_a_layer_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut unknown = BTreeMap::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        if OTHER_CRATES.contains(&name.as_str()) {
            continue;
        }
        let mut files = Vec::new();
        if path.is_dir() {
            rust_files(&path, &mut files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path.clone());
        } else {
            continue;
        }
        let Some(own) = layer_of(&name) else {
            unknown.insert(name, "module has no layer".to_string());
            continue;
        };
        for file in files {
            let source = std::fs::read_to_string(&file).unwrap();
            for used in crate_paths(&source) {
                match layer_of(&used) {
                    Some(l) if l < own => violations.push(format!(
                        "{} ({name}) uses crate::{used}, a layer above it",
                        file.strip_prefix(&src).unwrap().display()
                    )),
                    Some(_) => {}
                    None => {
                        unknown.insert(used, format!("used in {}", file.display()));
                    }
                }
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "modules missing from LAYERS in tests/layering.rs: {unknown:?}"
    );
    assert!(
        violations.is_empty(),
        "upward imports:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_paths_and_skips_comments() {
    let src = "use crate::shard::Shard;\n// crate::kafka in a comment\nlet x = runnel_storage::log;\nf(crate::group::X) // crate::txn";
    assert_eq!(crate_paths(src), vec!["shard", "group"]);
}
