//! The broker crate's layering, checked: no module imports a module of a layer above it.
//!
//! Each top-level module of `src/` (a folder or a file) has a layer; every `crate::NAME` path in
//! a module's source must name a module of its own layer or of a layer below. The storage engine,
//! the command line client and the controller quorum are crates of their own (the compiler keeps
//! them apart), so they are not scanned. Comments are skipped: a doc link upwards is no dependency.
//!
//! Inside `src/shard/` the core services are layered the same way, by the types they name
//! ([`SERVICE_LAYERS`]), no `Shard` god struct is left anywhere, and the coordinators see only
//! their narrow handles (`InternalTopics`, `Mesh`), never a whole core or another service.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Layers, top first. Modules on one line share a layer and may use each other.
const LAYERS: &[&[&str]] = &[
    // Binary entry, command line, startup.
    &["main", "lib", "args", "server"],
    // The broker's membership of the controller quorum: starts the controller, registers,
    // heartbeats, publishes the cluster's state to the cores.
    &["membership"],
    // The wire protocol.
    &["kafka"],
    // The per-core composition root.
    &["services"],
    &["replica"],
    // The coordinators (txn uses group: markers settle transactional offsets).
    &["txn"],
    &["group"],
    // Core services: mesh, topic view, partition store, metadata admin.
    &["shard"],
    // The inter-broker Kafka client (connections to peer brokers' client listeners).
    &["interbroker"],
    // The effective broker configuration (built from cluster's config definitions).
    &["config"],
    // Cluster metadata and config definitions: topic table, topic, broker, dynamic and group
    // configs, their bounds and the embedded default configuration.
    &["cluster"],
    // Metrics (counters, histograms, the scrape endpoint).
    &["metrics"],
    // Security: SASL mechanisms (SCRAM, PLAIN), principals, TLS (rustls) for listeners.
    &["security"],
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

/// The core services in `src/shard/`, bottom first: the file defining each and the service
/// types it may name (those below it). A service holds `Rc`s of services below it only.
const SERVICE_LAYERS: &[(&str, &str, &[&str])] = &[
    ("mesh.rs", "Mesh", &[]),
    ("topic_view.rs", "TopicView", &[]),
    ("cluster_view.rs", "ClusterView", &[]),
    (
        "partition_store.rs",
        "PartitionStore",
        &["TopicView", "ClusterView"],
    ),
    ("metadata_admin.rs", "MetadataAdmin", &["Mesh", "TopicView"]),
];

/// Source without its comment lines' comments.
fn code_of(source: &str) -> String {
    source
        .lines()
        .map(|line| match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `code` names the identifier `name` (not as part of a longer identifier).
fn names(code: &str, name: &str) -> bool {
    code.match_indices(name).any(|(i, _)| {
        let ident = |c: char| c.is_alphanumeric() || c == '_';
        let before = code[..i].chars().last();
        let after = code[i + name.len()..].chars().next();
        !before.is_some_and(ident) && !after.is_some_and(ident)
    })
}

fn sources_under(dir: &str) -> Vec<(PathBuf, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    if root.is_dir() {
        rust_files(&root, &mut files);
    } else {
        files.push(root.with_extension("rs"));
    }
    files
        .into_iter()
        .map(|f| {
            let code = code_of(&std::fs::read_to_string(&f).unwrap());
            (f, code)
        })
        .collect()
}

#[test]
fn core_services_point_down_only() {
    let all: Vec<&str> = SERVICE_LAYERS.iter().map(|(_, t, _)| *t).collect();
    let mut violations = Vec::new();
    for (file, own, allowed) in SERVICE_LAYERS {
        let path = format!("src/shard/{file}");
        let code = code_of(
            &std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(&path))
                .unwrap_or_else(|e| panic!("{path}: {e}")),
        );
        assert!(names(&code, own), "{path} does not define {own}");
        for other in &all {
            if other != own && !allowed.contains(other) && names(&code, other) {
                violations.push(format!("{path} ({own}) names {other}, not below it"));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "core services pointing up or sideways:\n{}",
        violations.join("\n")
    );
}

#[test]
fn no_god_struct_is_passed_around() {
    let mut found = Vec::new();
    for (f, code) in sources_under("src") {
        if names(&code, "Shard") {
            found.push(f.display().to_string());
        }
    }
    assert!(
        found.is_empty(),
        "`Shard` is back (split it into the core services instead): {found:?}"
    );
}

#[test]
fn coordinators_see_only_their_narrow_handles() {
    let wide = ["PartitionStore", "MetadataAdmin", "TopicView", "Core"];
    let mut found = Vec::new();
    for dir in ["src/group", "src/txn"] {
        for (f, code) in sources_under(dir) {
            for w in wide {
                if names(&code, w) {
                    found.push(format!("{} names {w}", f.display()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "coordinators must use InternalTopics and Mesh only:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_scanner_sees_paths_and_skips_comments() {
    let src = "use crate::shard::Shard;\n// crate::kafka in a comment\nlet x = runnel_storage::log;\nf(crate::group::X) // crate::txn";
    assert_eq!(crate_paths(src), vec!["shard", "group"]);
}

#[test]
fn names_matches_whole_identifiers_only() {
    assert!(names("x: Rc<Shard>", "Shard"));
    assert!(!names("ShardRequest", "Shard"));
    assert!(!names("my_shard", "shard"));
    assert!(!names(&code_of("// Shard"), "Shard"));
}
