//! `serve` and `proxy` under load, against a loopback upstream that answers
//! every request after 50 ms (BENCHMARKS.md, "serve and proxy").
//!
//! ```sh
//! cargo bench --bench serve                       # latency, throughput
//! cargo bench --bench serve -- --soak 600         # plus 10 minutes of load, RSS sampled
//! cargo bench --bench serve -- --drop-bodies      # throughput as first measured (see below)
//! cargo bench --bench serve -- --bin PATH         # another build of the binary
//! cargo bench --bench serve -- --callgrind 2000   # serve's instructions per check
//! ```
//!
//! The fake upstream sends answers serialized once, and the load generator
//! drains answers without parsing them, so that the two cores the three
//! processes share go to the service as far as possible; the CPU each side
//! used per check is printed with every throughput figure.
//!
//! The throughput clients read every answer to its end, as an order system
//! does. The first version of this bench dropped each answer unread, so
//! hyper could not put the connection back into the client's pool: every
//! check opened (and the service accepted) a new TCP connection, about
//! 4,000 a second, and the measured throughput was that of connection
//! churn (BENCHMARKS.md). `--drop-bodies` measures that way again, beside
//! the real figure, in the same run.
//!
//! The fake upstream runs in this process (axum, 127.0.0.1 only); `serve`
//! and `proxy` run as the real binary (`ION_ACCESS_TOKEN` for serve's own
//! credentials), so their memory is read from `/proc/PID/status` alone.
//! Every figure is a median of requests made one after another, next to the
//! same requests sent straight to the upstream in the same run and
//! interleaved with them (so load drift hits both alike).

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use serde_json::json;

const LATENCY: Duration = Duration::from_millis(50);

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The account and customer every check asks about.
const ACCOUNT: u64 = 1001;
const CUSTOMER: u64 = 2002;

/// The fake upstream's answers, serialized once: the harness should spend
/// its share of the two cores on sleeping 50 ms and writing bytes, not on
/// building JSON (BENCHMARKS.md, "what the harness does").
struct Answers {
    customer: axum::body::Bytes,
    profiles: axum::body::Bytes,
}

fn answers() -> Answers {
    let customer = json!({
        "name": format!("accounts/{ACCOUNT}/customers/{CUSTOMER}"),
        "customerOrganization": "Contoso Ltd",
        "customerAddress": {"street": "1 Way", "city": "Redmond", "state": "WA", "zip": "98052", "country": "US"},
        "customerName": "Megan Bowen",
        "customerEmail": "megan.bowen@contoso.com",
        "customerStatus": "ACTIVE"
    });
    let profiles = json!({"customerId": CUSTOMER.to_string(), "customerCloudProfiles": [{
        "providerId": "3", "shortName": "MICROSOFT", "enabled": true,
        "customerTenantId": "3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f",
        "allowDelegatedAccess": true, "gdapStatus": "ACTIVE", "agreementStatus": "ACCEPTED"
    }]});
    Answers {
        customer: serde_json::to_vec(&customer).expect("json").into(),
        profiles: serde_json::to_vec(&profiles).expect("json").into(),
    }
}

/// A precomputed JSON answer after the upstream's latency, for the one
/// customer the bench checks (any other is 404, so a wrong path cannot
/// pass unnoticed).
async fn answer(ids: (u64, u64), body: &axum::body::Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    tokio::time::sleep(LATENCY).await;
    if ids != (ACCOUNT, CUSTOMER) {
        return axum::http::StatusCode::NOT_FOUND.into_response();
    }
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.clone(),
    )
        .into_response()
}

async fn upstream() -> String {
    let answers = Arc::new(answers());
    let (a1, a2) = (answers.clone(), answers);
    let app = Router::new()
        .route(
            "/api/v3/accounts/{a}/customers/{c}",
            get(move |Path(ids): Path<(u64, u64)>| async move { answer(ids, &a1.customer).await }),
        )
        .route(
            "/api/v3/accounts/{a}/customers/{c}/cloudProfiles",
            get(move |Path(ids): Path<(u64, u64)>| async move { answer(ids, &a2.profiles).await }),
        )
        .route(
            "/api/v3/ping",
            get(|| async {
                tokio::time::sleep(LATENCY).await;
                "{\"ok\":true}"
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

/// The binary under test: `--bin PATH`, or the one cargo built.
fn binary() -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--bin")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_ion-preflight").to_owned())
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// Starts the binary with `args`; returns it and the URL it listens on.
fn start(args: &[&str]) -> (Child, String) {
    start_with(&[], args)
}

/// Starts the binary with `args` under the command `wrapper` (such as
/// valgrind), if any.
fn start_with(wrapper: &[&str], args: &[&str]) -> (Child, String) {
    let bin = binary();
    let mut command = match wrapper.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(&bin);
            c
        }
        None => Command::new(&bin),
    };
    let mut child = command
        .args(args)
        .env("ION_ACCESS_TOKEN", "bench-token")
        .env_remove("ION_TOKEN_FILE")
        .env_remove("ION_REFRESH_TOKEN")
        .env("RUST_LOG", "error")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut stderr = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("a first line");
    let url = line
        .trim()
        .rsplit(' ')
        .next()
        .expect("listening on URL")
        .to_owned();
    (child, url)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

const CHECK: &str = r#"{"account_id": 1001, "customer_id": 2002}"#;

/// Reads an answer to its end without keeping or parsing it, so that the
/// connection goes back to the pool and the load generator's CPU goes to
/// HTTP, not JSON.
async fn drain(mut resp: reqwest::Response) -> bool {
    loop {
        match resp.chunk().await {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

async fn timed(req: reqwest::RequestBuilder) -> Duration {
    let t = Instant::now();
    let resp = req.send().await.expect("answered");
    assert!(resp.status().is_success(), "{}", resp.status());
    assert!(drain(resp).await, "the answer could not be read");
    t.elapsed()
}

/// CPU seconds (user + system) a process has used so far: `/proc/PID/stat`
/// (`None`: this process, the load generator and the fake upstream).
fn cpu_seconds(pid: Option<u32>) -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100.0)
    });
    let path = pid.map_or_else(
        || "/proc/self/stat".to_owned(),
        |p| format!("/proc/{p}/stat"),
    );
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after it.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / ticks
}

/// What one throughput run measured.
struct Load {
    /// Successful checks per second.
    rate: f64,
    /// Successful checks in the counted period.
    checks: u64,
    /// Requests that failed or were not 2xx, in the counted period.
    failed: u64,
    /// CPU seconds `serve` used in the counted period.
    serve_cpu: f64,
    /// CPU seconds this process (load generator and fake upstream) used.
    harness_cpu: f64,
}

/// `clients` concurrent loops of checks for `secs`. Each answer is read to
/// its end (so its connection goes back to the pool), unless
/// `drop_bodies`.
async fn load(
    client: &reqwest::Client,
    url: &str,
    serve_pid: u32,
    clients: usize,
    secs: u64,
    drop_bodies: bool,
) -> Load {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, stop, done, failed) = (
            client.clone(),
            url.to_owned(),
            stop.clone(),
            done.clone(),
            failed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let ok = match client.post(&url).body(CHECK).send().await {
                    Ok(r) if r.status().is_success() => drop_bodies || drain(r).await,
                    _ => false,
                };
                let counter = if ok { &done } else { &failed };
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    // Warm-up: the pools fill before counting starts.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (start, start_failed) = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    let (serve0, self0) = (cpu_seconds(Some(serve_pid)), cpu_seconds(None));
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let checks = done.load(Ordering::Relaxed) - start;
    let failed = failed.load(Ordering::Relaxed) - start_failed;
    let rate = checks as f64 / t.elapsed().as_secs_f64();
    let (serve_cpu, harness_cpu) = (
        cpu_seconds(Some(serve_pid)) - serve0,
        cpu_seconds(None) - self0,
    );
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    Load {
        rate,
        checks,
        failed,
        serve_cpu,
        harness_cpu,
    }
}

/// Exactly `n` checks from `clients` concurrent loops; panics on a failure.
async fn checks(client: &reqwest::Client, url: &str, clients: usize, n: u64) {
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (client, url, next) = (client.clone(), url.to_owned(), next.clone());
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < n {
                timed(client.post(&url).body(CHECK)).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("a check failed");
    }
}

/// One check's answer, parsed once before anything is measured: the bench
/// must be timing ready reports of the built-in set, not errors.
async fn assert_ready(client: &reqwest::Client, url: &str) {
    let resp = client.post(url).body(CHECK).send().await.expect("answered");
    assert!(resp.status().is_success(), "{}", resp.status());
    let v: serde_json::Value = resp.json().await.expect("a JSON report");
    assert_eq!(v["verdict"], "ready", "the bench's check is not ready: {v}");
    assert!(v["decision_id"].is_string(), "no decision id: {v}");
}

/// `--callgrind N`: serve under callgrind; after a warm-up its counters
/// are zeroed, `N` checks are made (`--clients`, default 32, at once), and
/// the instructions serve executed are divided by `N`. The load generator
/// and the upstream are not counted (they run in this process).
async fn instructions(client: &reqwest::Client, up: &str, n: u64, clients: usize) {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("serve-callgrind");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory for callgrind's files");
    let out = dir.join("callgrind.out");
    let (out_arg, log_arg) = (
        format!("--callgrind-out-file={}", out.display()),
        format!("--log-file={}", dir.join("valgrind.log").display()),
    );
    let (mut serve, url) = start_with(
        &["valgrind", "--tool=callgrind", &out_arg, &log_arg],
        &["serve", "--listen", "127.0.0.1:0", "--base-url", up],
    );
    let url = format!("{url}/v1/check");
    assert_ready(client, &url).await;
    checks(client, &url, clients, 200).await;
    let control = |what: &str| {
        let ok = Command::new("callgrind_control")
            .args([what, &serve.id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "callgrind_control {what} failed");
    };
    control("-z");
    checks(client, &url, clients, n).await;
    control("-d");
    let _ = serve.kill();
    let _ = serve.wait();
    // The dump of the counted checks is the one `-d` wrote (`.1`).
    let dump = std::fs::read_dir(&dir)
        .expect("callgrind's directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "1") || p.to_string_lossy().ends_with(".1"))
        .expect("the dump callgrind_control -d wrote");
    let text = std::fs::read_to_string(&dump).expect("the dump");
    let total: u64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("a summary line in the dump");
    println!(
        "serve under callgrind, {n} checks, {clients} at once: {total} instructions = {} per check",
        total / n
    );
    println!(
        "profile: callgrind_annotate --inclusive=yes {}",
        dump.display()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else here is criterion's.
    let samples = arg("--samples", 200) as usize;
    let secs = arg("--seconds", 10);
    let callgrind = arg("--callgrind", 0);
    let clients = arg("--clients", if callgrind > 0 { 32 } else { 256 }) as usize;
    let soak = arg("--soak", 0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let up = upstream().await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        if callgrind > 0 {
            instructions(&client, &up, callgrind, clients).await;
            return;
        }
        let (mut serve, serve_url) = start(&["serve", "--listen", "127.0.0.1:0", "--base-url", &up]);
        let (mut proxy, proxy_url) =
            start(&["proxy", "--listen", "127.0.0.1:0", "--upstream", &up, "--mode", "enforce"]);
        let check_url = format!("{serve_url}/v1/check");
        assert_ready(&client, &check_url).await;
        // Warm every connection path once.
        for _ in 0..5 {
            timed(client.get(format!("{up}/api/v3/ping"))).await;
            timed(client.post(&check_url).body(CHECK)).await;
            timed(client.get(format!("{proxy_url}/api/v3/ping"))).await;
        }
        let (mut direct, mut checks, mut proxied) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..samples {
            direct.push(timed(client.get(format!("{up}/api/v3/ping"))).await);
            checks.push(timed(client.post(&check_url).body(CHECK)).await);
            proxied.push(timed(client.get(format!("{proxy_url}/api/v3/ping"))).await);
        }
        let (d, c, p) = (median(direct), median(checks), median(proxied));
        let load_avg = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
        let load_avg = load_avg.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
        println!("machine load average before the load: {load_avg}");
        println!("samples: {samples} of each, interleaved");
        println!("direct GET to the upstream (1 round trip): median {:.2} ms", ms(d));
        let trips = c.as_secs_f64() / d.as_secs_f64();
        println!(
            "serve POST /v1/check (customer + cloud profiles): median {:.2} ms = {trips:.3} round trips (target <= 1.05: {})",
            ms(c),
            verdict(trips <= 1.05)
        );
        let added = ms(p.saturating_sub(d));
        println!(
            "proxy pass-through GET: median {:.2} ms, adds {added:.3} ms (target <= 1 ms: {})",
            ms(p),
            verdict(added <= 1.0)
        );
        let ideal = clients as f64 / d.as_secs_f64();
        let report = |what: &str, l: &Load| {
            let share = 100.0 * l.rate / ideal;
            println!(
                "throughput, {clients} concurrent clients for {secs} s{what}: {:.0} checks/s = {share:.1} % of {clients} / {:.2} ms ({ideal:.0}/s; target >= 90 %: {}); {} failed",
                l.rate,
                ms(d),
                verdict(share >= 90.0),
                l.failed
            );
            let per = |cpu: f64| 1e6 * cpu / l.checks.max(1) as f64;
            println!(
                "  CPU per check: serve {:.0} us, load generator + upstream {:.0} us ({:.2} of 2 cores busy)",
                per(l.serve_cpu),
                per(l.harness_cpu),
                (l.serve_cpu + l.harness_cpu) / secs as f64
            );
        };
        if flag("--drop-bodies") {
            // The first bench's clients, then the real ones, back to back.
            let dropped = load(&client, &check_url, serve.id(), clients, secs, true).await;
            report(", answers dropped unread", &dropped);
        }
        let read = load(&client, &check_url, serve.id(), clients, secs, false).await;
        report("", &read);
        println!("serve RSS after the load: {} KiB", rss_kib(serve.id()));
        if soak > 0 {
            println!("soak: {clients} clients for {soak} s, serve RSS every 30 s:");
            let pid = serve.id();
            let sampler = tokio::spawn(async move {
                let mut out = Vec::new();
                let t = Instant::now();
                while t.elapsed() < Duration::from_secs(soak) {
                    out.push((t.elapsed().as_secs(), rss_kib(pid)));
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                out.push((t.elapsed().as_secs(), rss_kib(pid)));
                out
            });
            let soaked = load(&client, &check_url, pid, clients, soak, false).await;
            for (s, kib) in sampler.await.expect("sampler") {
                println!("  t={s:>4} s  {kib} KiB");
            }
            println!(
                "soak throughput: {:.0} checks/s, {} failed",
                soaked.rate, soaked.failed
            );
        }
        let _ = serve.kill();
        let _ = proxy.kill();
        let _ = serve.wait();
        let _ = proxy.wait();
    });
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}
