//! Ctrl-C during `batch`: no new checks, finished reports written whole,
//! exit 130.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer};

use crate::cli_live::{ACCESS, DemoFiles};
use crate::cli_support::root;

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_launching_and_writes_whole_lines() {
    let server = MockServer::start().await;
    // Every response takes 300 ms: 40 customers at concurrency 2 would take
    // six seconds; the interrupt comes after the first reports.
    Mock::given(method("GET"))
        .and(path_regex(r"^/api/v3/accounts/1001/"))
        .respond_with(SlowDemo)
        .mount(&server)
        .await;
    let ids: String = (0..40).map(|_| "2002\n").collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(&ids_file, ids).expect("write ids");
    let uri = server.uri();
    let (code, lines, stderr) = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ion-preflight"))
            .current_dir(root())
            .env_remove("ION_TOKEN_FILE")
            .env_remove("ION_REFRESH_TOKEN")
            .env("ION_BASE_URL", uri)
            .env("ION_ACCESS_TOKEN", ACCESS)
            .args([
                "batch",
                "--account",
                "1001",
                "--concurrency",
                "2",
                "--customers",
            ])
            .arg(&ids_file)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut lines = Vec::new();
        let mut line = String::new();
        // Wait for the first report, then press Ctrl-C.
        stdout.read_line(&mut line).expect("read");
        lines.push(std::mem::take(&mut line));
        let status = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        while stdout.read_line(&mut line).expect("read") > 0 {
            lines.push(std::mem::take(&mut line));
        }
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8(out.stderr).expect("utf8");
        (out.status.code(), lines, stderr)
    })
    .await
    .expect("join");
    assert_eq!(code, Some(130), "{stderr}");
    assert!(
        lines.len() < 40,
        "stopped launching: {} reports",
        lines.len()
    );
    for l in &lines {
        assert!(l.ends_with('\n'), "a complete line");
        let v: Value = serde_json::from_str(l).expect("every line is a whole report");
        assert_eq!(v["customer_id"], 2002);
    }
    assert!(
        stderr.contains(&format!("interrupted: {} reports written", lines.len())),
        "{stderr}"
    );
}

struct SlowDemo;

impl wiremock::Respond for SlowDemo {
    fn respond(&self, req: &wiremock::Request) -> wiremock::ResponseTemplate {
        DemoFiles.respond(req).set_delay(Duration::from_millis(300))
    }
}

/// The screen a terminal `cols` wide shows after `out` (text, `\r`, `\n`,
/// `ESC[2K`, `ESC[nA` / `ESC[nB`, autowrap): just enough of a terminal to
/// see what a progress bar leaves behind.
fn screen(out: &str, cols: usize) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut pending_wrap = false;
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => {
                col = 0;
                pending_wrap = false;
            }
            '\n' => {
                row += 1;
                pending_wrap = false;
            }
            '\x1b' if chars.peek() == Some(&'[') => {
                chars.next();
                let mut arg = String::new();
                let mut cmd = ' ';
                for d in chars.by_ref() {
                    if d.is_ascii_digit() || d == ';' || d == '?' {
                        arg.push(d);
                    } else {
                        cmd = d;
                        break;
                    }
                }
                let n: usize = arg.parse().unwrap_or(1);
                match cmd {
                    'A' => row = row.saturating_sub(n),
                    'B' => row += n,
                    'K' => {
                        if let Some(l) = lines.get_mut(row) {
                            l.clear();
                        }
                    }
                    _ => {}
                }
                pending_wrap = false;
            }
            c if c.is_control() => {}
            c => {
                if pending_wrap {
                    row += 1;
                    col = 0;
                    pending_wrap = false;
                }
                while lines.len() <= row {
                    lines.push(Vec::new());
                }
                let line = &mut lines[row];
                while line.len() < col {
                    line.push(' ');
                }
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.push(c);
                }
                col += 1;
                if col >= cols {
                    pending_wrap = true;
                    col = cols - 1;
                }
            }
        }
        while lines.len() <= row {
            lines.push(Vec::new());
        }
    }
    lines
        .into_iter()
        .map(|l| l.into_iter().collect::<String>().trim_end().to_owned())
        .collect()
}

#[test]
fn the_screen_model_wraps_and_clears() {
    assert_eq!(screen("abcdef\r\x1b[2Kxy\n", 4), ["abcd", "xy", ""]);
    assert_eq!(screen("abcd^C\r\x1b[2K", 4), ["abcd", ""]);
}

/// On a terminal (util-linux `script` gives the binary one, 100 columns),
/// Ctrl-C typed while the progress bar is drawn: the terminal echoes `^C`,
/// and when the batch ends no progress line is left on the screen; the
/// rate is rounded. Skipped where `script` is not installed.
#[cfg(target_os = "linux")]
#[test]
fn ctrl_c_on_a_terminal_leaves_no_progress_line_behind() {
    use std::io::{Read, Write};
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let ids: String = (0..20_000).map(|_| "2002\n").collect();
    let ids_file = dir.path().join("ids.txt");
    std::fs::write(&ids_file, ids).expect("write ids");
    let inner = format!(
        "stty cols 100 rows 40; '{}' batch --data fixtures/demo --account 1001 --concurrency 1 --customers '{}' > /dev/null",
        env!("CARGO_BIN_EXE_ion-preflight"),
        ids_file.display()
    );
    let mut child = Command::new("script")
        .current_dir(root())
        .args(["-qec", &inner, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn script");
    let mut stdout = child.stdout.take().expect("stdout");
    // Wait until the bar has been drawn a few times, then type Ctrl-C.
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&seen).matches("checked (").count() < 3 {
        let n = stdout.read(&mut buf).expect("read");
        assert!(n > 0, "the batch ended before drawing a bar");
        seen.extend_from_slice(&buf[..n]);
    }
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(b"\x03").expect("type Ctrl-C");
    stdin.flush().expect("flush");
    stdout.read_to_end(&mut seen).expect("read the rest");
    drop(stdin);
    child.wait().expect("script ends");
    let out = String::from_utf8_lossy(&seen).into_owned();
    assert!(out.contains("^C"), "the terminal echoed Ctrl-C: {out:?}");
    let shown = screen(&out, 100);
    assert!(
        shown
            .iter()
            .all(|l| !l.contains("checked (") && !l.contains("^C")),
        "left on screen:\n{}",
        shown.join("\n")
    );
    assert!(
        shown.iter().any(|l| l.starts_with("interrupted: ")),
        "{}",
        shown.join("\n")
    );
    // Every rate drawn is rounded: `12/s` or `3.1/s`, never `10.2542/s`.
    for (at, _) in out.match_indices("/s") {
        let before: String = out[..at].chars().rev().take_while(|c| *c != '(').collect();
        let decimals = before.split('.').next().map_or(0, str::len);
        assert!(!before.contains('.') || decimals <= 1, "rate {before:?}");
    }
}

/// `batch --all` on a terminal: the spinner counts the listed customers
/// as well as the checked ones.
#[cfg(target_os = "linux")]
#[test]
fn the_all_spinner_shows_counts() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let inner = format!(
        "stty cols 100 rows 40; '{}' batch --data fixtures/demo --account 1001 --all > /dev/null",
        env!("CARGO_BIN_EXE_ion-preflight"),
    );
    let out = Command::new("script")
        .current_dir(root())
        .args(["-qec", &inner, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script runs");
    let out = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.contains(" checked of 3 listed so far ("), "{out:?}");
    let shown = screen(&out, 100);
    assert!(
        shown.iter().any(|l| l.starts_with("3 checked: ")),
        "{}",
        shown.join("\n")
    );
}
