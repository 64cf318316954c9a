//! `serve` and `proxy` under load, against a loopback upstream that answers
//! every request after 50 ms (BENCHMARKS.md, "serve and proxy").
//!
//! ```sh
//! cargo bench --bench serve                       # latency, throughput
//! cargo bench --bench serve -- --soak 600         # plus 10 minutes of load, RSS sampled
//! cargo bench --bench serve -- --drop-bodies      # throughput as first measured (see below)
//! cargo bench --bench serve -- --bin PATH         # another build of the binary
//! ```
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

async fn upstream() -> String {
    async fn customer(Path((a, c)): Path<(u64, u64)>) -> axum::Json<serde_json::Value> {
        tokio::time::sleep(LATENCY).await;
        axum::Json(json!({
            "name": format!("accounts/{a}/customers/{c}"),
            "customerOrganization": "Contoso Ltd",
            "customerAddress": {"street": "1 Way", "city": "Redmond", "state": "WA", "zip": "98052", "country": "US"},
            "customerName": "Megan Bowen",
            "customerEmail": "megan.bowen@contoso.com",
            "customerStatus": "ACTIVE"
        }))
    }
    async fn profiles(Path((_a, c)): Path<(u64, u64)>) -> axum::Json<serde_json::Value> {
        tokio::time::sleep(LATENCY).await;
        axum::Json(
            json!({"customerId": c.to_string(), "customerCloudProfiles": [{
                "providerId": "3", "shortName": "MICROSOFT", "enabled": true,
                "customerTenantId": "3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f",
                "allowDelegatedAccess": true, "gdapStatus": "ACTIVE", "agreementStatus": "ACCEPTED"
            }]}),
        )
    }
    async fn ping() -> &'static str {
        tokio::time::sleep(LATENCY).await;
        "{\"ok\":true}"
    }
    let app = Router::new()
        .route("/api/v3/accounts/{a}/customers/{c}", get(customer))
        .route(
            "/api/v3/accounts/{a}/customers/{c}/cloudProfiles",
            get(profiles),
        )
        .route("/api/v3/ping", get(ping));
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
    let mut child = Command::new(binary())
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

async fn timed(req: reqwest::RequestBuilder) -> Duration {
    let t = Instant::now();
    let resp = req.send().await.expect("answered");
    assert!(resp.status().is_success(), "{}", resp.status());
    let _ = resp.bytes().await.expect("body");
    t.elapsed()
}

/// What one throughput run measured.
struct Load {
    /// Successful checks per second.
    rate: f64,
    /// Requests that failed or were not 2xx, in the counted period.
    failed: u64,
}

/// `clients` concurrent loops of checks for `secs`. Each answer is read to
/// its end (so its connection goes back to the pool), unless
/// `drop_bodies`.
async fn load(
    client: &reqwest::Client,
    url: &str,
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
                    Ok(r) if r.status().is_success() => drop_bodies || r.bytes().await.is_ok(),
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
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let n = done.load(Ordering::Relaxed) - start;
    let failed = failed.load(Ordering::Relaxed) - start_failed;
    let rate = n as f64 / t.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    Load { rate, failed }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else here is criterion's.
    let samples = arg("--samples", 200) as usize;
    let secs = arg("--seconds", 10);
    let clients = arg("--clients", 256) as usize;
    let soak = arg("--soak", 0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let up = upstream().await;
        let (mut serve, serve_url) = start(&["serve", "--listen", "127.0.0.1:0", "--base-url", &up]);
        let (mut proxy, proxy_url) =
            start(&["proxy", "--listen", "127.0.0.1:0", "--upstream", &up, "--mode", "enforce"]);
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        let check_url = format!("{serve_url}/v1/check");
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
        println!("samples: {samples} of each, interleaved");
        println!("direct GET to the upstream (1 round trip): median {:.2} ms", ms(d));
        println!(
            "serve POST /v1/check (customer + cloud profiles): median {:.2} ms = {:.3} round trips",
            ms(c),
            c.as_secs_f64() / d.as_secs_f64()
        );
        println!(
            "proxy pass-through GET: median {:.2} ms, adds {:.3} ms",
            ms(p),
            ms(p.saturating_sub(d))
        );
        let ideal = clients as f64 / d.as_secs_f64();
        let report = |what: &str, l: &Load| {
            println!(
                "throughput, {clients} concurrent clients for {secs} s{what}: {:.0} checks/s = {:.1} % of {clients} / {:.2} ms ({ideal:.0}/s); {} failed",
                l.rate,
                100.0 * l.rate / ideal,
                ms(d),
                l.failed
            );
        };
        if flag("--drop-bodies") {
            // The first bench's clients, then the real ones, back to back.
            let dropped = load(&client, &check_url, clients, secs, true).await;
            report(", answers dropped unread", &dropped);
        }
        let read = load(&client, &check_url, clients, secs, false).await;
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
            let soaked = load(&client, &check_url, clients, soak, false).await;
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
