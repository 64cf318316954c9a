//! The library's top-level modules depend one way: an import cycle between
//! two of them, or an import against the order, fails here. Read from the
//! source (`use crate::…` and `crate::…` paths outside comments).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every `.rs` file under `dir`.
fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Top-level module → the top-level modules its code names.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in all {
        let rel = path.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("source");
        let deps = graph.entry(module.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + "crate::".len()..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module && name.chars().all(|c| !c.is_uppercase()) {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

fn reaches(graph: &BTreeMap<String, BTreeSet<String>>, from: &str, to: &str) -> bool {
    let mut stack = vec![from.to_owned()];
    let mut seen = BTreeSet::new();
    while let Some(m) = stack.pop() {
        for d in graph.get(&m).into_iter().flatten() {
            if d == to {
                return true;
            }
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    false
}

#[test]
fn no_import_cycle_joins_two_top_level_modules() {
    let graph = graph();
    assert!(
        graph.contains_key("rules") && graph.contains_key("context"),
        "{graph:?}"
    );
    for (m, deps) in &graph {
        for d in deps {
            assert!(
                !reaches(&graph, d, m),
                "`{m}` uses `{d}`, and `{d}` leads back to `{m}`: {graph:?}"
            );
        }
    }
}

#[test]
fn the_layers_point_one_way() {
    let graph = graph();
    let uses = |a: &str, b: &str| reaches(&graph, a, b);
    // The context's shape lives with the context; sources build contexts.
    assert!(!uses("context", "rules"), "{graph:?}");
    assert!(!uses("context", "source"), "{graph:?}");
    assert!(!uses("source", "rules"), "{graph:?}");
    assert!(!uses("source", "preflight"), "{graph:?}");
    // The ION client knows nothing of checks; reports nothing of rules.
    for upper in ["context", "source", "rules", "report", "preflight", "cli"] {
        assert!(!uses("ion", upper), "ion uses {upper}: {graph:?}");
    }
    assert!(!uses("report", "rules"), "{graph:?}");
    // Nothing in the library reaches into the command line.
    for (m, _) in graph.iter().filter(|(m, _)| *m != "cli") {
        assert!(!uses(m, "cli"), "{m} uses cli: {graph:?}");
    }
}
