//! Every file in tests/broken-rules/ fails to load, and its diagnostics —
//! file, line, column, snippet, code and hint — are snapshotted as the user
//! sees them.

use std::path::Path;

use ion_preflight::rules::{RuleLoadError, RuleSetLoader};
use miette::{GraphicalReportHandler, GraphicalTheme};

fn render(err: &RuleLoadError) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false);
    let mut out = String::new();
    match err {
        RuleLoadError::Invalid { diagnostics } => {
            out.push_str(&format!("{err}\n\n"));
            for d in diagnostics {
                out.push_str(&format!("[{}] {}\n", d.code(), d.one_line()));
                handler.render_report(&mut out, d).unwrap();
                out.push('\n');
            }
        }
        other => out.push_str(&other.to_string()),
    }
    out
}

#[test]
fn every_broken_rule_file_is_rejected_with_located_diagnostics() {
    let dir = Path::new("tests/broken-rules");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 10, "{files:?}");
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let err = match RuleSetLoader::new().without_builtin().file(&file).load() {
            Ok(_) => panic!("{} loaded without a problem", file.display()),
            Err(e) => e,
        };
        for d in err.diagnostics() {
            assert!(
                d.line() > 0 || d.code() == "not-utf8",
                "{name}: {} has no line",
                d.one_line()
            );
        }
        insta::assert_snapshot!(name.clone(), render(&err));
    }
}
