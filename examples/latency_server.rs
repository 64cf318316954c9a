//! A live-shaped ION on loopback that answers every request after a fixed
//! latency, for the end-to-end benchmarks (`benches/e2e.sh`, BENCHMARKS.md).
//!
//! ```sh
//! cargo run --release --example latency_server -- --latency-ms 50 [--port 0] [--data fixtures/demo]
//! ```
//!
//! Prints `listening on 127.0.0.1:PORT` as its first line on stdout, then
//! serves HTTP/1.1 with keep-alive on loopback only:
//!
//! - `POST /oauth/token`: a new access token and refresh token (any refresh
//!   token is accepted: this server measures time, not token safety);
//! - `POST /oauth/validateAccess`: 2 hours and 30 days left;
//! - `GET /api/v3/accounts/{a}/customers/{c}`: the snapshot directory's
//!   customer 2002 with `name` rewritten to customer `c` (so any id exists);
//! - `GET /api/v3/accounts/{a}/customers/{c}/cloudProfiles`: customer 2002's
//!   cloud profiles;
//! - `GET /api/v3/accounts/{a}/products/{id}`: the snapshot's product, or 404;
//! - `GET /api/v3/accounts/{a}/subscriptions?…`: customer 2002's
//!   subscriptions (every customer has them; no subscription has an id
//!   asked for by `subscriptionId`);
//! - `GET /api/v3/accounts/{a}/orders?…`: customer 2002's orders;
//! - `GET /__stats` (no latency): `{"connections": N, "requests": M,
//!   "token_requests": T, "product_requests": P}` counted since start or the
//!   last `GET /__stats?reset=1`.
//!
//! Every other request is a 404 after the latency. Requests are bounded (8 KiB
//! of headers, 64 KiB of body) and the server stops when stdin closes, so a
//! script that starts it cannot leave it behind.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const MAX_HEADER_BYTES: usize = 8 * 1024;
const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    requests: AtomicU64,
    token_requests: AtomicU64,
    product_requests: AtomicU64,
}

struct Data {
    customer: String,
    profiles: String,
    products: HashMap<String, String>,
    subscriptions: String,
    orders: String,
}

fn usage() -> ! {
    eprintln!("usage: latency_server --latency-ms N [--port P] [--data DIR]");
    std::process::exit(2)
}

fn main() {
    let mut latency_ms = 50u64;
    let mut port = 0u16;
    let mut data = PathBuf::from("fixtures/demo");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--latency-ms" => latency_ms = v.parse().unwrap_or_else(|_| usage()),
            "--port" => port = v.parse().unwrap_or_else(|_| usage()),
            "--data" => data = PathBuf::from(v),
            _ => usage(),
        }
    }
    let data = match load(&data) {
        Ok(d) => Arc::new(d),
        Err(e) => {
            eprintln!("cannot read the snapshot directory {}: {e}", data.display());
            std::process::exit(2)
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            std::process::exit(2)
        }
    };
    rt.block_on(serve(port, Duration::from_millis(latency_ms), data));
}

fn load(dir: &std::path::Path) -> std::io::Result<Data> {
    let account = dir.join("accounts/1001");
    let customer = std::fs::read_to_string(account.join("customers/2002.json"))?;
    let profiles = std::fs::read_to_string(account.join("customers/2002/cloudProfiles.json"))?;
    let subscriptions = std::fs::read_to_string(account.join("customers/2002/subscriptions.json"))?;
    let orders = std::fs::read_to_string(account.join("customers/2002/orders.json"))?;
    let mut products = HashMap::new();
    for entry in std::fs::read_dir(account.join("products"))? {
        let path = entry?.path();
        if let Some(id) = path.file_stem().and_then(|s| s.to_str()) {
            products.insert(id.to_owned(), std::fs::read_to_string(&path)?);
        }
    }
    Ok(Data {
        customer,
        profiles,
        products,
        subscriptions,
        orders,
    })
}

async fn serve(port: u16, latency: Duration, data: Arc<Data>) {
    let listener = match TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on 127.0.0.1:{port}: {e}");
            std::process::exit(2)
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("listening on {addr}"),
        Err(e) => {
            eprintln!("no local address: {e}");
            std::process::exit(2)
        }
    }
    let stats = Arc::new(Stats::default());
    // Stop when stdin closes (the starting script exits or closes it).
    let stdin_closed = async {
        let mut buf = [0u8; 64];
        let mut stdin = tokio::io::stdin();
        while let Ok(n) = stdin.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    let accept = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            stats.connections.fetch_add(1, Ordering::Relaxed);
            let (stats, data) = (Arc::clone(&stats), Arc::clone(&data));
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                connection(stream, latency, &stats, &data).await;
            });
        }
    };
    tokio::select! {
        _ = stdin_closed => {}
        _ = accept => {}
    }
}

async fn connection(stream: TcpStream, latency: Duration, stats: &Stats, data: &Data) {
    let mut stream = BufReader::new(stream);
    loop {
        let Some((method, target, body_len)) = read_head(&mut stream).await else {
            return;
        };
        if body_len > MAX_BODY_BYTES {
            return;
        }
        let mut body = vec![0u8; body_len];
        if stream.read_exact(&mut body).await.is_err() {
            return;
        }
        let (status, answer) = if target.starts_with("/__stats") {
            let s = format!(
                r#"{{"connections":{},"requests":{},"token_requests":{},"product_requests":{}}}"#,
                stats.connections.load(Ordering::Relaxed),
                stats.requests.load(Ordering::Relaxed),
                stats.token_requests.load(Ordering::Relaxed),
                stats.product_requests.load(Ordering::Relaxed),
            );
            if target.ends_with("reset=1") {
                // This connection stays counted: it is the one asking.
                stats.connections.store(1, Ordering::Relaxed);
                stats.requests.store(0, Ordering::Relaxed);
                stats.token_requests.store(0, Ordering::Relaxed);
                stats.product_requests.store(0, Ordering::Relaxed);
            }
            (200, s)
        } else {
            stats.requests.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(latency).await;
            route(&method, &target, stats, data)
        };
        let reason = if status == 200 { "OK" } else { "Not Found" };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        );
        let w = stream.get_mut();
        if w.write_all(head.as_bytes()).await.is_err()
            || w.write_all(answer.as_bytes()).await.is_err()
        {
            return;
        }
    }
}

/// Reads a request line and headers; `None` at end of stream or on a bad or
/// oversized request.
async fn read_head(stream: &mut BufReader<TcpStream>) -> Option<(String, String, usize)> {
    let mut line = String::new();
    let mut total = 0;
    let mut request_line = None;
    let mut body_len = 0usize;
    loop {
        line.clear();
        let n = stream.read_line(&mut line).await.ok()?;
        total += n;
        if n == 0 || total > MAX_HEADER_BYTES {
            return None;
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if request_line.is_none() {
            request_line = Some(l.to_owned());
        } else if let Some((k, v)) = l.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            body_len = v.trim().parse().ok()?;
        }
    }
    let request_line = request_line?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    Some((method, target, body_len))
}

fn route(method: &str, target: &str, stats: &Stats, data: &Data) -> (u16, String) {
    let path = target.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segs.as_slice()) {
        ("POST", ["oauth", "token"]) => {
            let n = stats.token_requests.fetch_add(1, Ordering::Relaxed) + 1;
            (
                200,
                format!(
                    r#"{{"access_token":"bench-access-{n}","expires_in":7200,"refresh_token":"bench-refresh-{n}","token_type":"Bearer"}}"#
                ),
            )
        }
        ("POST", ["oauth", "validateAccess"]) => (
            200,
            r#"{"access_expires_in":7200,"refresh_expires_in":2592000}"#.to_owned(),
        ),
        ("GET", ["api", "v3", "accounts", _, "customers", c]) => (
            200,
            data.customer
                .replace("customers/2002", &format!("customers/{c}")),
        ),
        ("GET", ["api", "v3", "accounts", _, "customers", _, "cloudProfiles"]) => {
            (200, data.profiles.clone())
        }
        ("GET", ["api", "v3", "accounts", _, "products", id]) => {
            stats.product_requests.fetch_add(1, Ordering::Relaxed);
            match data.products.get(*id) {
                Some(p) => (200, p.clone()),
                None => not_found(),
            }
        }
        ("GET", ["api", "v3", "accounts", _, "subscriptions"]) => {
            if target.contains("subscriptionId=") {
                (200, r#"{"items":[],"totalCount":"0"}"#.to_owned())
            } else {
                (200, data.subscriptions.clone())
            }
        }
        ("GET", ["api", "v3", "accounts", _, "orders"]) => (200, data.orders.clone()),
        _ => not_found(),
    }
}

fn not_found() -> (u16, String) {
    (
        404,
        r#"{"error":"NOT_FOUND","message":"not found","code":404}"#.to_owned(),
    )
}
