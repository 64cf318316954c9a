//! Issue 19, points 1–4 and 10 through the binary: `--format github` and
//! `sarif` located at the order file's lines, `rules lint`/`rules test`
//! formats, `batch --format text`, `-o/--output`, `--color`, `--quiet`,
//! `-v`, and the man page.

use serde_json::Value;

use crate::cli_support::{bin, demo_batch, demo_check, run, write};

/// An order whose second item has quantity 0 on line 13 (the key at column 7).
const BAD_ORDER: &str = r#"{
  "orderItems": [
    {
      "action": "CREATE",
      "productId": "p1",
      "skuId": "s1",
      "planId": "m",
      "quantity": 1,
      "attributes": []
    },
    {
      "action": "CREATE", "productId": "p2", "skuId": "s2", "planId": "m",
      "quantity": 0,
      "attributes": []
    }
  ]
}
"#;

fn bad_order(dir: &std::path::Path) -> std::path::PathBuf {
    write(dir, "order.json", BAD_ORDER)
}

#[test]
fn github_annotations_point_at_the_failing_items_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let order = bad_order(dir.path());
    let r = run(demo_check("2002")
        .args(["--format", "github", "--order"])
        .arg(&order));
    assert_eq!(r.code, 1, "{r:?}");
    let file = order.display().to_string();
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("title=order-item-quantity-positive-integer"))
        .unwrap_or_else(|| panic!("no annotation for the quantity rule:\n{}", r.stdout));
    assert!(
        line.starts_with(&format!("::error file={file},line=13,col=7,")),
        "{line}"
    );
    assert!(line.contains("order.orderItems[1]"), "{line}");
    // The verdict comes last, and nothing but workflow commands is printed.
    let last = r.stdout.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("::error title=ion-preflight::blocked for customer 2002"),
        "{last}"
    );
    assert!(
        r.stdout.lines().all(|l| l.starts_with("::")),
        "{}",
        r.stdout
    );
}

#[test]
fn github_annotations_of_an_order_from_stdin_say_there_is_no_file() {
    let r = run(demo_check("2002")
        .args(["--format", "github", "--order", "-"])
        .write_stdin(BAD_ORDER));
    assert_eq!(r.code, 1, "{r:?}");
    let line = r
        .stdout
        .lines()
        .find(|l| l.contains("title=order-item-quantity-positive-integer"))
        .expect("annotation");
    assert!(!line.contains("file="), "{line}");
    assert!(line.contains("read from stdin: no file location"), "{line}");
}

#[test]
fn sarif_has_the_required_structure_and_locates_results() {
    let dir = tempfile::tempdir().expect("tempdir");
    let order = bad_order(dir.path());
    let r = run(demo_check("2002")
        .args(["--format", "sarif", "--order"])
        .arg(&order));
    assert_eq!(r.code, 1, "{r:?}");
    let log: Value = serde_json::from_str(&r.stdout).expect("SARIF is JSON");
    assert_eq!(log["version"], "2.1.0");
    assert_eq!(
        log["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "ion-preflight");
    let rules = driver["rules"].as_array().expect("driver.rules");
    let results = runs[0]["results"].as_array().expect("results");
    assert!(!results.is_empty());
    for res in results {
        // Every result names a rule of the driver, at its index.
        let id = res["ruleId"].as_str().expect("ruleId");
        let index = res["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], id);
        assert!(rules[index]["shortDescription"]["text"].is_string());
        assert!(["error", "warning", "note"].contains(&res["level"].as_str().unwrap_or("")));
        assert!(res["message"]["text"].is_string());
        let loc = &res["locations"][0]["physicalLocation"];
        assert!(
            loc["artifactLocation"]["uri"]
                .as_str()
                .expect("uri")
                .ends_with("order.json")
        );
        assert!(loc["region"]["startLine"].as_u64().expect("startLine") >= 1);
        assert!(loc["region"]["startColumn"].as_u64().expect("startColumn") >= 1);
    }
    let quantity = results
        .iter()
        .find(|r| r["ruleId"] == "order-item-quantity-positive-integer")
        .expect("the quantity rule's result");
    assert_eq!(quantity["level"], "error");
    assert_eq!(
        quantity["locations"][0]["physicalLocation"]["region"]["startLine"],
        13
    );
}

#[test]
fn rules_lint_formats_carry_every_diagnostic_with_its_place() {
    let file = "tests/broken-rules/conditions.yaml";
    let json = run(bin().args(["rules", "lint", file, "--format", "json"]));
    assert_eq!(json.code, 2, "{json:?}");
    let doc: Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(doc["valid"], false);
    let problems = doc["problems"].as_array().expect("problems");
    assert!(problems.len() >= 2, "{problems:?}");
    let github = run(bin().args(["rules", "lint", file, "--format", "github"]));
    assert_eq!(github.code, 2);
    let sarif = run(bin().args(["rules", "lint", file, "--format", "sarif"]));
    assert_eq!(sarif.code, 2);
    let log: Value = serde_json::from_str(&sarif.stdout).expect("sarif");
    let results = log["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), problems.len());
    let junit = run(bin().args(["rules", "lint", file, "--format", "junit"]));
    assert_eq!(junit.code, 2);
    assert!(junit.stdout.contains("<failure"), "{}", junit.stdout);
    for (p, res) in problems.iter().zip(results) {
        let (line, column) = (&p["line"], &p["column"]);
        let annotation = format!(
            "::error file={file},line={line},col={column},title={}::",
            p["code"].as_str().expect("code")
        );
        assert!(
            github.stdout.contains(&annotation),
            "{annotation}\n{}",
            github.stdout
        );
        let region = &res["locations"][0]["physicalLocation"]["region"];
        assert_eq!(&region["startLine"], line);
        assert_eq!(&region["startColumn"], column);
    }
    // A valid file: exit 0, and the JSON says so.
    let ok = run(bin().args([
        "rules",
        "lint",
        "rules/tests/rules/acme-nce.yaml",
        "--format",
        "json",
    ]));
    assert_eq!(ok.code, 0, "{ok:?}");
    let doc: Value = serde_json::from_str(&ok.stdout).expect("json");
    assert_eq!(doc["valid"], true);
    assert!(doc["rules"].as_u64().expect("count") > 20);
}

#[test]
fn batch_text_is_a_table_of_customers_verdicts_and_failing_rules() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = write(dir.path(), "ids.txt", "2002\n2003\n9999\n");
    let r = run(demo_batch()
        .args(["--format", "text", "--concurrency", "1", "--customers"])
        .arg(&ids));
    // 2003 is inactive and 9999 unknown: blocked.
    assert_eq!(r.code, 1, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", r.stdout);
    assert!(
        lines[0].starts_with("CUSTOMER")
            && lines[0].contains("VERDICT")
            && lines[0].ends_with("FAILING RULES")
    );
    let row = |id: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(id))
            .unwrap_or_else(|| panic!("no row for {id}:\n{}", r.stdout))
            .split_whitespace()
            .collect::<Vec<_>>()
    };
    assert_eq!(row("2002")[1], "ready");
    assert_eq!(row("2002")[2], "-");
    assert_eq!(row("9999")[1], "blocked");
    assert!(row("9999")[2].starts_with("customer-exists"));
    // The summary stays on stderr.
    assert!(r.stderr.contains("3 checked"), "{}", r.stderr);
}

#[test]
fn output_writes_the_report_atomically_and_keeps_stdout_empty() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("report.json");
    std::fs::write(&out, "old").expect("write");
    let r = run(demo_check("2002")
        .args(["--format", "json", "-o"])
        .arg(&out));
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("json");
    assert_eq!(written["verdict"], "ready");
    // Only the report: no temporary file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);

    // A run that fails before reporting leaves the old file as it was.
    std::fs::write(&out, "old").expect("write");
    let bad = run(demo_check("2002")
        .args(["--rules", "nope.yaml", "--output"])
        .arg(&out));
    assert_eq!(bad.code, 2);
    assert_eq!(std::fs::read_to_string(&out).expect("read"), "old");
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 1);
}

#[test]
fn batch_output_holds_every_report_and_the_summary_stays_on_stderr() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids = write(dir.path(), "ids.txt", "2002\n2003\n2004\n");
    let out = dir.path().join("reports.ndjson");
    let r = run(demo_batch()
        .arg("--customers")
        .arg(&ids)
        .arg("-o")
        .arg(&out));
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("3 checked"), "{}", r.stderr);
    let text = std::fs::read_to_string(&out).expect("read");
    let customers: Vec<u64> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("a JSON line")["customer_id"]
                .as_u64()
                .expect("id")
        })
        .collect();
    let mut sorted = customers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [2002, 2003, 2004]);
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 2);
}

#[test]
fn color_always_colours_a_pipe_and_never_does_not() {
    let always = run(demo_check("2002").args(["--color", "always"]));
    assert!(always.stdout.contains("\x1b["), "{}", always.stdout);
    let never = run(demo_check("2002")
        .args(["--color", "never"])
        .env("TERM", "xterm"));
    assert!(!never.stdout.contains('\x1b'));
    // auto into a pipe: no colour.
    let auto = run(&mut demo_check("2002"));
    assert!(!auto.stdout.contains('\x1b'));
    // A flag's value is checked.
    let bad = run(demo_check("2002").args(["--color", "sometimes"]));
    assert_eq!(bad.code, 2);
}

#[test]
fn quiet_check_prints_nothing_when_ready_and_the_report_when_not() {
    let ready = run(demo_check("2002").arg("--quiet"));
    assert_eq!(
        (ready.code, ready.stdout.as_str(), ready.stderr.as_str()),
        (0, "", "")
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let order = bad_order(dir.path());
    let blocked = run(demo_check("2002").arg("-q").arg("--order").arg(&order));
    assert_eq!(blocked.code, 1);
    assert!(blocked.stdout.starts_with("BLOCKED"), "{}", blocked.stdout);
    // Indeterminate (an unknown account): exit 3, no line on stderr.
    let mut cmd = bin();
    cmd.args([
        "check",
        "--data",
        "fixtures/demo",
        "--account",
        "7",
        "--customer",
        "2002",
        "--quiet",
    ]);
    let indeterminate = run(&mut cmd);
    assert_eq!(indeterminate.code, 3, "{indeterminate:?}");
    assert_eq!(indeterminate.stderr, "");
    // -o is written even when ready and quiet.
    let out = dir.path().join("r.txt");
    let quiet_file = run(demo_check("2002").arg("--quiet").arg("-o").arg(&out));
    assert_eq!(quiet_file.code, 0);
    assert!(
        std::fs::read_to_string(&out)
            .expect("read")
            .starts_with("READY")
    );
}

#[test]
fn verbose_lists_passed_and_skipped_rules_with_reasons() {
    let plain = run(&mut demo_check("2002"));
    assert!(!plain.stdout.contains("\nPassed\n"), "{}", plain.stdout);
    let v = run(demo_check("2002").arg("-v"));
    assert_eq!(v.code, 0);
    let passed = v
        .stdout
        .split("\nPassed\n")
        .nth(1)
        .expect("a Passed section");
    assert!(passed.contains("✓ customer-active"), "{}", v.stdout);
    let skipped = v
        .stdout
        .split("\nSkipped\n")
        .nth(1)
        .expect("a Skipped section");
    // Without an order, the order rules are skipped, each with why.
    assert!(skipped.contains("- order-has-items"), "{}", v.stdout);
    assert!(skipped.contains("this check has no order"), "{}", v.stdout);
}

#[test]
fn the_man_page_is_generated_beside_the_completions() {
    let r = run(bin().arg("man"));
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with(".ie") || r.stdout.contains(".TH ion-preflight 1"),
        "{}",
        &r.stdout[..200.min(r.stdout.len())]
    );
    for sub in ["check-order", "completions", "config"] {
        // roff escapes the hyphen.
        let roff = sub.replace('-', "\\-");
        assert!(
            r.stdout.contains(sub) || r.stdout.contains(&roff),
            "{sub} missing from the man page"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let w = run(bin().args(["man", "--dir"]).arg(dir.path()));
    assert_eq!(w.code, 0, "{w:?}");
    for page in [
        "ion-preflight.1",
        "ion-preflight-check.1",
        "ion-preflight-rules-test.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page}");
    }
    let check = std::fs::read_to_string(dir.path().join("ion-preflight-check.1")).expect("read");
    assert!(
        check.contains("\\-\\-explain") || check.contains("--explain"),
        "{check}"
    );
}
