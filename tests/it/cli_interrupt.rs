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
