//! A live-shaped ION on loopback that misbehaves on purpose, reproducibly.
//!
//! Written on a raw `tokio` `TcpListener` (HTTP/1.1 with keep-alive) because
//! the faults it injects are below what a mock framework lets a test do:
//! connections closed in the middle of a body, answers slower than the
//! client's timeout, bodies cut short.
//!
//! Which fault a request gets is a pure function of the seed, the request's
//! path and query, and how many times that path was requested before, so a
//! run is reproducible whatever order concurrent requests arrive in. The
//! server records everything a test needs to cross-check the client: every
//! request per resource with what it was answered, which resources were
//! served in full, and every refresh token issued and presented.
//!
//! Tokens: `POST /oauth/token` rotates single-use refresh tokens (`rt-N` in,
//! `rt-N+1` and a new access token out) and rejects, and records, a refresh
//! token presented twice or out of turn. An access token stops working after
//! `access_token_uses` requests (ION's "expired" 403), so a long run crosses
//! several expiries; an access token older than the current one is expired
//! too.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The account every customer belongs to.
pub const ACCOUNT: u64 = 1001;

/// What one request was answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Fault {
    /// The real resource, in full.
    None,
    /// 429 without `Retry-After`.
    TooManyRequests,
    /// 429 with `Retry-After: 1`.
    TooManyRequestsRetryAfter,
    /// 500 with ION's JSON envelope.
    Status500,
    /// 502 with a proxy's HTML error page.
    BadGatewayHtml,
    /// 503 with ION's JSON envelope.
    Status503,
    /// Headers promising the whole body, half of it, then the connection
    /// closes.
    CloseMidBody,
    /// The request is read, then the connection closes with no answer.
    CloseBeforeAnswer,
    /// The answer starts only after the client's timeout.
    SlowHeaders,
    /// Headers at once, the body only after the client's timeout.
    SlowBody,
    /// 200 with a body cut short (valid HTTP, invalid JSON).
    TruncatedJson,
    /// 200 with a proxy's HTML page instead of JSON.
    HtmlOk,
    /// 403: the access token expired (or is stale or unknown).
    TokenExpired,
}

impl Fault {
    /// Faults after which a correct client may retry (and, when attempts
    /// remain, must get the resource).
    pub fn is_transient(self) -> bool {
        !matches!(self, Fault::None | Fault::TruncatedJson | Fault::HtmlOk)
    }
}

/// How the server misbehaves.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    /// The seed of every random choice.
    pub seed: u64,
    /// Per mille of requests (to customer resources) that get a fault.
    pub fault_per_mille: u64,
    /// Per mille of customers whose resources fail on every attempt.
    pub doomed_per_mille: u64,
    /// The client's `ION_MAX_ATTEMPTS`: listing pages fail at most one
    /// fewer times, so the listing itself always completes.
    pub max_attempts: u32,
    /// How long slow answers wait (longer than the client's timeout).
    pub slow: Duration,
    /// Requests one access token serves before it expires.
    pub access_token_uses: u64,
    /// The account's customers, in listing order (pages are cut at the
    /// client's `pageSize`).
    pub customers: Vec<u64>,
    /// A tag in every token, so a test can search output for it.
    pub token_tag: &'static str,
}

/// Everything the server recorded.
#[derive(Debug, Default)]
pub struct Record {
    /// Every GET, in arrival order per target.
    pub requests: BTreeMap<String, Vec<Fault>>,
    /// When each GET of `requests` arrived (same order).
    pub arrivals: BTreeMap<String, Vec<Instant>>,
    /// Every refresh token issued, in order (`rt-0` is the initial one).
    pub refresh_issued: Vec<String>,
    /// Every access token issued, in order.
    pub access_issued: Vec<String>,
    /// Refresh tokens presented to `/oauth/token`, in order.
    pub refresh_presented: Vec<String>,
    /// Problems with the client's token handling (a refresh token presented
    /// twice or out of turn, an unknown access token, a bad form).
    pub violations: Vec<String>,
    /// Requests that carried no `Authorization: Bearer` header.
    pub unauthenticated: usize,
}

struct State {
    plan: FaultPlan,
    record: Record,
    /// Uses of the current access token.
    uses: u64,
    /// The customers that exist.
    customers: HashSet<u64>,
}

/// A running fault server.
#[derive(Clone)]
pub struct FaultServer {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
}

impl FaultServer {
    /// Starts a server on `127.0.0.1` (port chosen by the OS).
    pub async fn start(plan: FaultPlan) -> FaultServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let customers = plan.customers.iter().copied().collect();
        let tag = plan.token_tag;
        let state = Arc::new(Mutex::new(State {
            plan,
            record: Record {
                refresh_issued: vec![format!("rt-{tag}-0")],
                ..Record::default()
            },
            uses: 0,
            customers,
        }));
        let server = FaultServer { addr, state };
        let s = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move { s.connection(stream).await });
            }
        });
        server
    }

    /// The base URL.
    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The initial refresh token (for the token file).
    pub fn initial_refresh_token(&self) -> String {
        self.lock().record.refresh_issued[0].clone()
    }

    /// A copy of what was recorded so far.
    pub fn record(&self) -> Record {
        let s = self.lock();
        Record {
            requests: s.record.requests.clone(),
            arrivals: s.record.arrivals.clone(),
            refresh_issued: s.record.refresh_issued.clone(),
            access_issued: s.record.access_issued.clone(),
            refresh_presented: s.record.refresh_presented.clone(),
            violations: s.record.violations.clone(),
            unauthenticated: s.record.unauthenticated,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn connection(&self, stream: TcpStream) {
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        loop {
            let Some(req) = read_request(&mut read).await else {
                return;
            };
            let action = self.answer(&req);
            let keep_open = match action {
                Action::Respond(resp) => {
                    write.write_all(&resp).await.is_ok() && write.flush().await.is_ok()
                }
                Action::CloseMidBody(resp) => {
                    let _ = write.write_all(&resp[..resp.len() / 2 + 1]).await;
                    let _ = write.flush().await;
                    false
                }
                Action::Close => false,
                Action::SlowHeaders(resp, wait) => {
                    tokio::time::sleep(wait).await;
                    let _ = write.write_all(&resp).await;
                    false
                }
                Action::SlowBody(head, body, wait) => {
                    let _ = write.write_all(&head).await;
                    let _ = write.flush().await;
                    tokio::time::sleep(wait).await;
                    let _ = write.write_all(&body).await;
                    false
                }
            };
            if !keep_open {
                let _ = write.shutdown().await;
                return;
            }
        }
    }

    fn answer(&self, req: &Request) -> Action {
        let mut s = self.lock();
        if req.method == "POST" && req.path == "/oauth/token" {
            return Action::Respond(s.refresh(&req.body));
        }
        if req.method != "GET" {
            return Action::Respond(response(405, "application/json", b"{}", &[]));
        }
        let target = req.target.clone();
        let n = s.record.requests.get(&target).map_or(0, Vec::len) as u64;
        // The token first: an expired token is what ION would say before
        // anything else.
        let token_ok = match req.bearer.as_deref() {
            None => {
                s.record.unauthenticated += 1;
                false
            }
            Some(t) => {
                let current = s.record.access_issued.last().map(String::as_str);
                if current == Some(t) && s.uses < s.plan.access_token_uses {
                    s.uses += 1;
                    true
                } else {
                    if !s.record.access_issued.iter().any(|a| a == t) {
                        s.record
                            .violations
                            .push(format!("unknown access token on {target}"));
                    }
                    false
                }
            }
        };
        let fault = if !token_ok {
            Fault::TokenExpired
        } else {
            s.choose(&req.path, &target, n)
        };
        s.record
            .arrivals
            .entry(target.clone())
            .or_default()
            .push(Instant::now());
        s.record.requests.entry(target).or_default().push(fault);
        let body = if fault == Fault::TokenExpired {
            None
        } else {
            s.resource(&req.path, &req.query)
        };
        let wait = s.plan.slow;
        drop(s);
        let Some(body) = body else {
            return Action::Respond(match fault {
                Fault::TokenExpired => response(
                    403,
                    "application/json",
                    br#"{"error":"PERMISSION_DENIED","message":"access token expired","code":403}"#,
                    &[],
                ),
                _ => response(
                    404,
                    "application/json",
                    br#"{"error":"NOT_FOUND","message":"not found","code":404,"details":[]}"#,
                    &[],
                ),
            });
        };
        let json = |status: u16, b: &[u8]| response(status, "application/json", b, &[]);
        match fault {
            Fault::None | Fault::TokenExpired => Action::Respond(json(200, &body)),
            Fault::TooManyRequests => Action::Respond(json(
                429,
                br#"{"error":"RESOURCE_EXHAUSTED","message":"slow down","code":429}"#,
            )),
            Fault::TooManyRequestsRetryAfter => Action::Respond(response(
                429,
                "application/json",
                br#"{"error":"RESOURCE_EXHAUSTED","message":"slow down","code":429}"#,
                &[("Retry-After", "1")],
            )),
            Fault::Status500 => Action::Respond(json(
                500,
                br#"{"error":"INTERNAL","message":"internal error","code":500}"#,
            )),
            Fault::Status503 => Action::Respond(json(
                503,
                br#"{"error":"UNAVAILABLE","message":"try again","code":503}"#,
            )),
            Fault::BadGatewayHtml => Action::Respond(response(502, "text/html", HTML_PAGE, &[])),
            Fault::HtmlOk => Action::Respond(response(200, "text/html", HTML_PAGE, &[])),
            Fault::TruncatedJson => {
                let cut = &body[..body.len() / 3];
                Action::Respond(json(200, cut))
            }
            Fault::CloseMidBody => Action::CloseMidBody(json(200, &body)),
            Fault::CloseBeforeAnswer => Action::Close,
            Fault::SlowHeaders => Action::SlowHeaders(json(200, &body), wait),
            Fault::SlowBody => {
                let full = json(200, &body);
                let split = full.len() - body.len();
                Action::SlowBody(full[..split].to_vec(), full[split..].to_vec(), wait)
            }
        }
    }
}

enum Action {
    Respond(Vec<u8>),
    CloseMidBody(Vec<u8>),
    Close,
    SlowHeaders(Vec<u8>, Duration),
    SlowBody(Vec<u8>, Vec<u8>, Duration),
}

impl State {
    /// `POST /oauth/token`.
    fn refresh(&mut self, body: &[u8]) -> Vec<u8> {
        let form: HashMap<String, String> = url::form_urlencoded::parse(body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let bad = |msg: &str| {
            response(
                400,
                "application/json",
                json!({"error": "invalid_grant", "message": msg})
                    .to_string()
                    .as_bytes(),
                &[],
            )
        };
        if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            self.record
                .violations
                .push("refresh without grant_type=refresh_token".into());
            return bad("grant_type must be refresh_token");
        }
        let Some(presented) = form.get("refresh_token").cloned() else {
            self.record
                .violations
                .push("refresh without a refresh_token".into());
            return bad("refresh_token missing");
        };
        let seen_before = self.record.refresh_presented.contains(&presented);
        self.record.refresh_presented.push(presented.clone());
        if seen_before {
            self.record
                .violations
                .push(format!("refresh token {presented} presented twice"));
            return bad("refresh token already used");
        }
        if self.record.refresh_issued.last() != Some(&presented) {
            self.record.violations.push(format!(
                "refresh token {presented} is not the latest issued"
            ));
            return bad("refresh token unknown or superseded");
        }
        let n = self.record.refresh_issued.len();
        let tag = self.plan.token_tag;
        let rt = format!("rt-{tag}-{n}");
        let at = format!("at-{tag}-{n}");
        self.record.refresh_issued.push(rt.clone());
        self.record.access_issued.push(at.clone());
        self.uses = 0;
        let body = json!({
            "access_token": at, "refresh_token": rt, "expires_in": 7200, "token_type": "Bearer"
        });
        response(200, "application/json", body.to_string().as_bytes(), &[])
    }

    /// The fault for the `n`th request (from 0) to `target`.
    fn choose(&self, path: &str, target: &str, n: u64) -> Fault {
        let p = &self.plan;
        let roll = mix(p.seed, target, n) % 1000;
        if path.ends_with("/customers") {
            // Listing pages: transient faults only, and never on the last
            // attempt, so the listing completes and every customer is seen.
            if n + 1 >= u64::from(p.max_attempts) || roll >= p.fault_per_mille {
                return Fault::None;
            }
            return TRANSIENT[(mix(p.seed ^ 0x5eed, target, n) % TRANSIENT.len() as u64) as usize];
        }
        if let Some(id) = customer_of(path)
            && mix(p.seed, &format!("doomed-{id}"), 0) % 1000 < p.doomed_per_mille
        {
            // Fails on every attempt, with transient faults only: the
            // client must give up after exactly max_attempts.
            return TRANSIENT[(mix(p.seed ^ 0xd00d, target, n) % TRANSIENT.len() as u64) as usize];
        }
        if roll >= p.fault_per_mille {
            return Fault::None;
        }
        ALL_FAULTS[(mix(p.seed ^ 0xfa11, target, n) % ALL_FAULTS.len() as u64) as usize]
    }

    /// The resource at `path`, if it exists. Besides customers and their
    /// cloud profiles: the demo catalog's products, and for every customer
    /// no subscriptions and no orders placed yet.
    fn resource(&self, path: &str, query: &str) -> Option<Vec<u8>> {
        let account = format!("/api/v3/accounts/{ACCOUNT}");
        if let Some(id) = path.strip_prefix(&format!("{account}/products/")) {
            return demo_product(id);
        }
        if path == format!("{account}/subscriptions") {
            return Some(br#"{"items": [], "totalCount": "0"}"#.to_vec());
        }
        if path == format!("{account}/orders") {
            return Some(br#"{"orders": []}"#.to_vec());
        }
        let rest = path.strip_prefix(&format!("{account}/customers"))?;
        if rest.is_empty() {
            return Some(self.page(query).to_string().into_bytes());
        }
        let rest = rest.strip_prefix('/')?;
        let (id, sub) = match rest.split_once('/') {
            Some((id, sub)) => (id, Some(sub)),
            None => (rest, None),
        };
        let id: u64 = id.parse().ok()?;
        if !self.customers.contains(&id) {
            return None;
        }
        match sub {
            None => Some(customer_body(id).to_string().into_bytes()),
            Some("cloudProfiles") => Some(profiles_body(id).to_string().into_bytes()),
            Some(_) => None,
        }
    }

    fn page(&self, query: &str) -> Value {
        let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let size: usize = q.get("pageSize").and_then(|s| s.parse().ok()).unwrap_or(10);
        let start: usize = q
            .get("pageToken")
            .and_then(|t| t.strip_prefix("from-"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let ids = &self.plan.customers;
        let end = (start + size).min(ids.len());
        let customers: Vec<Value> = ids[start.min(end)..end]
            .iter()
            .map(|id| {
                json!({
                    "name": format!("accounts/{ACCOUNT}/customers/{id}"),
                    "customerOrganization": format!("Org {id}"),
                    "customerStatus": status_of(*id),
                })
            })
            .collect();
        let mut page = json!({ "customers": customers });
        if end < ids.len() {
            page["nextPageToken"] = json!(format!("from-{end}"));
        }
        page
    }
}

/// Transient faults: the client may retry after each.
pub const TRANSIENT: [Fault; 9] = [
    Fault::TooManyRequests,
    Fault::TooManyRequestsRetryAfter,
    Fault::Status500,
    Fault::BadGatewayHtml,
    Fault::Status503,
    Fault::CloseMidBody,
    Fault::CloseBeforeAnswer,
    Fault::SlowHeaders,
    Fault::SlowBody,
];

/// Every injected fault, weighted: 429 without Retry-After is common, 429
/// with `Retry-After: 1` rare (each costs the client a second).
const ALL_FAULTS: [Fault; 14] = [
    Fault::TooManyRequests,
    Fault::TooManyRequests,
    Fault::TooManyRequestsRetryAfter,
    Fault::Status500,
    Fault::Status500,
    Fault::BadGatewayHtml,
    Fault::Status503,
    Fault::Status503,
    Fault::CloseMidBody,
    Fault::CloseBeforeAnswer,
    Fault::SlowHeaders,
    Fault::SlowBody,
    Fault::TruncatedJson,
    Fault::HtmlOk,
];

const HTML_PAGE: &[u8] = b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n";

/// The customer a request target is about, and which of its resources:
/// `customers/{id}` and `…/cloudProfiles` by path, the subscription and
/// order scans by their `customerId` / `filter.customerIdList` query.
pub fn resource_of(target: &str) -> Option<(u64, &'static str)> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if let Some(id) = customer_of(path) {
        let kind = if path.ends_with("/cloudProfiles") {
            "cloudProfiles"
        } else {
            "customer"
        };
        return Some((id, kind));
    }
    let (key, kind) = if path.ends_with("/subscriptions") {
        ("customerId", "subscriptions")
    } else if path.ends_with("/orders") {
        ("filter.customerIdList", "orders")
    } else {
        return None;
    };
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == key)
        .and_then(|(_, v)| v.parse().ok())
        .map(|id| (id, kind))
}

/// A product of the demo snapshot's catalog (`None`: ION's 404).
pub fn demo_product(id: &str) -> Option<Vec<u8>> {
    if id.is_empty() || id.contains(['/', '.']) {
        return None;
    }
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/demo/accounts/1001/products")
            .join(format!("{id}.json")),
    )
    .ok()
}

/// The customer id in `/api/v3/accounts/{a}/customers/{id}[/...]`.
pub fn customer_of(path: &str) -> Option<u64> {
    let rest = path.strip_prefix(&format!("/api/v3/accounts/{ACCOUNT}/customers/"))?;
    rest.split('/').next()?.parse().ok()
}

/// Every fifth customer is inactive.
pub fn status_of(id: u64) -> &'static str {
    if id.is_multiple_of(5) {
        "INACTIVE"
    } else {
        "ACTIVE"
    }
}

/// Every seventh customer has no Microsoft cloud profile.
pub fn has_microsoft_profile(id: u64) -> bool {
    !id.is_multiple_of(7)
}

/// The customer resource served for `id`.
pub fn customer_body(id: u64) -> Value {
    json!({
        "name": format!("accounts/{ACCOUNT}/customers/{id}"),
        "customerOrganization": format!("Org {id}"),
        "customerAddress": {
            "street": "1 Main Street", "city": "Redmond", "state": "WA", "zip": "98052", "country": "US"
        },
        "customerName": "Megan Bowen",
        "customerEmail": format!("it-{id}@example.com"),
        "customerPhone": "+1 425 555 0100",
        "languageCode": "en-US",
        "customerStatus": status_of(id),
    })
}

/// The cloud-profiles resource served for `id`.
pub fn profiles_body(id: u64) -> Value {
    let mut profiles = vec![json!({
        "providerId": "1", "displayName": "Amazon Web Services", "shortName": "AWS",
        "enabled": true, "customerTenantId": "123456789012"
    })];
    if has_microsoft_profile(id) {
        profiles.push(json!({
            "providerId": "3", "displayName": "Microsoft", "shortName": "MICROSOFT",
            "enabled": true, "customerTenantId": "3f2b8c1e-5d4a-4e7b-9c6f-0a1b2c3d4e5f",
            "customerDomain": "contoso.onmicrosoft.com", "allowDelegatedAccess": true,
            "gdapStatus": "ACTIVE", "gdapLevel": "DEFAULT", "agreementStatus": "ACCEPTED"
        }));
    }
    json!({
        "customerId": id.to_string(),
        "customerOrganization": format!("Org {id}"),
        "customerCloudProfiles": profiles,
    })
}

/// SplitMix64 over the seed, a string and a counter: a stable,
/// platform-independent pseudo-random number.
pub fn mix(seed: u64, s: &str, n: u64) -> u64 {
    // FNV-1a of the string, then SplitMix64 finalisation.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = h ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One parsed request.
struct Request {
    method: String,
    target: String,
    path: String,
    query: String,
    bearer: Option<String>,
    body: Vec<u8>,
}

async fn read_request<R: tokio::io::AsyncRead + Unpin>(r: &mut BufReader<R>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut length = 0usize;
    let mut bearer = None;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse().ok()?;
        } else if name.eq_ignore_ascii_case("authorization") {
            bearer = value.strip_prefix("Bearer ").map(str::to_owned);
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).await.ok()?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), q.to_owned()),
        None => (target.clone(), String::new()),
    };
    Some(Request {
        method,
        target,
        path,
        query,
        bearer,
        body,
    })
}

fn response(status: u16, content_type: &str, body: &[u8], headers: &[(&str, &str)]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}
