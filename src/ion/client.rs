//! The HTTP client: base URL, requests, retries, token handling.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures::{Stream, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

use super::auth::Auth;
use super::error::{
    Endpoint, IonError, body_says_token_invalid, excerpt, message_from_body, transport_error,
};
use super::oauth::RefreshTarget;
use super::store::{MemoryTokenStore, TokenStore};
use super::token_file::TokenFile;
use super::types::{
    AccessValidity, Customer, CustomerCloudProfiles, CustomerPage, ListedCustomer, OrderPage,
    Product, SubscriptionPage,
};

/// ION's production base URL.
pub const DEFAULT_BASE_URL: &str = "https://ion.tdsynnex.com";

/// The longest `Retry-After` honoured by default.
const DEFAULT_MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Told about every HTTP request the client sends to ION: the endpoint and
/// the status ION answered (`None` when no answer came: timeout, connection
/// failure). The service's metrics count ION requests through it.
pub type RequestObserver = Arc<dyn Fn(&Endpoint, Option<u16>) + Send + Sync>;

/// What [`IonClient::check_credentials`] found.
#[derive(Debug)]
pub enum CredentialCheck {
    /// ION accepted the access token; how long the tokens last.
    Valid(AccessValidity),
    /// ION did not say (the validation failed in a way that says nothing
    /// about the credentials); checks may well work.
    Unconfirmed(IonError),
    /// No usable access token can be obtained, or ION definitely refused it.
    Unusable(IonError),
}

/// A client for ION v3. Cheap to clone (shares one connection pool and one
/// token cache); safe to use from many tasks at once.
#[derive(Clone)]
pub struct IonClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    /// `oauth/token` and `oauth/validateAccess` under `base`, built once:
    /// every GET hands them to the token cache, which rarely needs them.
    token_url: Url,
    validate_url: Url,
    auth: Auth,
    request_timeout: Duration,
    max_attempts: u32,
    backoff_min: Duration,
    backoff_max: Duration,
    max_retry_after: Duration,
    observer: Option<RequestObserver>,
    /// The first definite rejection of the credentials (after the one
    /// refresh a rejected access token gets), for callers that must stop
    /// asking (see [`IonClient::credentials_rejected`]).
    rejection: OnceLock<String>,
}

impl std::fmt::Debug for IonClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IonClient")
            .field("base_url", &self.inner.base.as_str())
            .field("request_timeout", &self.inner.request_timeout)
            .field("max_attempts", &self.inner.max_attempts)
            .finish_non_exhaustive()
    }
}

/// Configures an [`IonClient`].
pub struct IonClientBuilder {
    base_url: String,
    access_token: Option<SecretString>,
    refresh_token: Option<SecretString>,
    token_store: Option<Arc<dyn TokenStore>>,
    request_timeout: Duration,
    max_attempts: u32,
    backoff_min: Duration,
    backoff_max: Duration,
    max_retry_after: Duration,
    observer: Option<RequestObserver>,
    allow_no_credentials: bool,
}

impl std::fmt::Debug for IonClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IonClientBuilder")
            .field("base_url", &self.base_url)
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("token_store", &self.token_store)
            .finish_non_exhaustive()
    }
}

impl Default for IonClientBuilder {
    fn default() -> Self {
        IonClientBuilder {
            base_url: DEFAULT_BASE_URL.to_owned(),
            access_token: None,
            refresh_token: None,
            token_store: None,
            request_timeout: Duration::from_secs(30),
            max_attempts: 4,
            backoff_min: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
            max_retry_after: DEFAULT_MAX_RETRY_AFTER,
            observer: None,
            allow_no_credentials: false,
        }
    }
}

impl IonClientBuilder {
    /// A builder configured from the environment, the one place the
    /// variables are read: `ION_BASE_URL` (optional), `ION_ACCESS_TOKEN`,
    /// `ION_REFRESH_TOKEN`, `ION_TOKEN_FILE` (a [`TokenFile`]: rotated
    /// refresh tokens and the current access token are written back to it,
    /// and a token in it wins over `ION_REFRESH_TOKEN`, which may already
    /// have been used), and the request tuning: `ION_REQUEST_TIMEOUT` (one
    /// HTTP request, e.g. `30s`, `500ms`), `ION_MAX_ATTEMPTS` (tries per
    /// GET, 1–20) and `ION_RETRY_BACKOFF` (the first pause between tries;
    /// later pauses double, with jitter, up to 25 times it). Empty variables
    /// count as unset; a bad value is [`IonError::Config`].
    ///
    /// ```
    /// use ion_preflight::ion::IonClientBuilder;
    /// // Settings given after the environment win over it.
    /// let builder = IonClientBuilder::from_env()?.base_url("http://127.0.0.1:8080");
    /// # Ok::<(), ion_preflight::IonError>(())
    /// ```
    pub fn from_env() -> Result<IonClientBuilder, IonError> {
        Self::from_vars(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<IonClientBuilder, IonError> {
        let mut builder = IonClient::builder();
        if let Some(url) = var("ION_BASE_URL") {
            builder = builder.base_url(url.trim());
        }
        if let Some(t) = var("ION_ACCESS_TOKEN") {
            builder = builder.access_token(SecretString::from(t.trim().to_owned()));
        }
        if let Some(t) = var("ION_REFRESH_TOKEN") {
            builder = builder.refresh_token(SecretString::from(t.trim().to_owned()));
        }
        if let Some(path) = var("ION_TOKEN_FILE") {
            builder = builder.token_store(Arc::new(TokenFile::new(PathBuf::from(path))));
        }
        builder.tuning_from_vars(var)
    }

    /// Applies the request tuning of the environment only
    /// (`ION_REQUEST_TIMEOUT`, `ION_MAX_ATTEMPTS`, `ION_RETRY_BACKOFF`), not
    /// its credentials or base URL: for a front end that brings its own
    /// credentials (`ion-preflight auth` uses the token file it names).
    pub fn tuning_from_env(self) -> Result<IonClientBuilder, IonError> {
        self.tuning_from_vars(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    fn tuning_from_vars(
        self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<IonClientBuilder, IonError> {
        let mut builder = self;
        if let Some(v) = var("ION_REQUEST_TIMEOUT") {
            builder = builder.request_timeout(parse_duration("ION_REQUEST_TIMEOUT", &v)?);
        }
        if let Some(v) = var("ION_MAX_ATTEMPTS") {
            let n = v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=20).contains(n))
                .ok_or_else(|| {
                    IonError::Config(format!(
                        "ION_MAX_ATTEMPTS must be a whole number from 1 to 20, not {:?}",
                        v.trim()
                    ))
                })?;
            builder = builder.max_attempts(n);
        }
        if let Some(v) = var("ION_RETRY_BACKOFF") {
            let min = parse_duration("ION_RETRY_BACKOFF", &v)?;
            builder = builder.backoff(min, min.saturating_mul(25));
        }
        Ok(builder)
    }

    /// The base URL (default [`DEFAULT_BASE_URL`]). Must be `https`, except
    /// for loopback hosts (`127.0.0.0/8`, `::1`, `localhost`).
    pub fn base_url(mut self, url: &str) -> Self {
        url.clone_into(&mut self.base_url);
        self
    }

    /// A ready access token, used until ION rejects it (then, if a refresh
    /// token is available, a new one is obtained once).
    pub fn access_token(mut self, token: SecretString) -> Self {
        self.access_token = Some(token);
        self
    }

    /// The refresh token to start from when the token store holds none.
    pub fn refresh_token(mut self, token: SecretString) -> Self {
        self.refresh_token = Some(token);
        self
    }

    /// Where rotated refresh tokens are saved (default: in memory).
    pub fn token_store(mut self, store: Arc<dyn TokenStore>) -> Self {
        self.token_store = Some(store);
        self
    }

    /// The timeout of one HTTP request (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// How many times a GET is tried in all (default 4; at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The exponential backoff's bounds between attempts (default 200 ms to
    /// 5 s), with jitter.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff_min = min;
        self.backoff_max = max.max(min);
        self
    }

    /// The longest `Retry-After` honoured (default 30 s): a longer one is
    /// waited for this long.
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Calls `observer` after every HTTP request to ION (see
    /// [`RequestObserver`]).
    pub fn observer(mut self, observer: RequestObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Builds a client even without credentials, for a service whose callers
    /// bring their own access tokens ([`IonClient::with_access_token`]): a
    /// fetch through the credential-less client itself fails with a
    /// configuration error.
    pub fn allow_no_credentials(mut self) -> Self {
        self.allow_no_credentials = true;
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<IonClient, IonError> {
        let base = validate_base_url(&self.base_url)?;
        if self.access_token.is_none()
            && self.refresh_token.is_none()
            && self.token_store.is_none()
            && !self.allow_no_credentials
        {
            return Err(IonError::NoCredentials);
        }
        let store: Option<Arc<dyn TokenStore>> = match (self.token_store, &self.refresh_token) {
            (Some(s), _) => Some(s),
            (None, Some(_)) => Some(Arc::new(MemoryTokenStore::new())),
            (None, None) => None,
        };
        let mut http = reqwest::Client::builder()
            .timeout(self.request_timeout)
            .connect_timeout(self.request_timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("ion-preflight/", env!("CARGO_PKG_VERSION")));
        if base.scheme() == "http" {
            // Every request goes under `base` and redirects are not followed,
            // so this client never speaks TLS: reading the system's root
            // certificates (a few milliseconds per process) would be wasted,
            // and with no roots any https request fails closed.
            http = http.tls_certs_only([]);
        }
        let http = http
            .build()
            .map_err(|e| IonError::Config(format!("cannot set up the HTTP client: {e}")))?;
        Ok(IonClient {
            inner: Arc::new(Inner {
                http,
                token_url: join(&base, &["oauth", "token"]),
                validate_url: join(&base, &["oauth", "validateAccess"]),
                base,
                auth: Auth::new(self.access_token, self.refresh_token, store),
                request_timeout: self.request_timeout,
                max_attempts: self.max_attempts.max(1),
                backoff_min: self.backoff_min,
                backoff_max: self.backoff_max,
                max_retry_after: self.max_retry_after,
                observer: self.observer,
                rejection: OnceLock::new(),
            }),
        })
    }
}

/// A positive duration of at most a day such as `30s`, `250ms` or `1m`
/// (jiff's friendly format); `name` is the variable it came from.
pub(crate) fn parse_duration(name: &str, text: &str) -> Result<Duration, IonError> {
    let bad = || {
        IonError::Config(format!(
            "{name} must be a positive duration such as 30s or 250ms, not {:?}",
            text.trim()
        ))
    };
    let d: jiff::SignedDuration = text.trim().parse().map_err(|_| bad())?;
    Duration::try_from(d)
        .ok()
        .filter(|d| !d.is_zero() && *d <= Duration::from_secs(24 * 3600))
        .ok_or_else(bad)
}

/// Checks a base URL: `https`, or `http` on a loopback host; no
/// credentials, query or fragment.
pub fn validate_base_url(raw: &str) -> Result<Url, IonError> {
    let invalid = |url: &str, reason: &str| IonError::InvalidBaseUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw.trim()).map_err(|e| invalid(&redact_url_text(raw), &e.to_string()))?;
    let shown = {
        let mut u = url.clone();
        let _ = u.set_password(None);
        let _ = u.set_username("");
        u.to_string()
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(&shown, "it must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(&shown, "it must not have a query or fragment"));
    }
    if url.cannot_be_a_base() {
        return Err(invalid(&shown, "it is not a base URL"));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let loopback = match url.host() {
                Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
                None => false,
            };
            if !loopback {
                return Err(invalid(
                    &shown,
                    "plain http is only allowed for loopback hosts (127.0.0.0/8, ::1, localhost); use https",
                ));
            }
        }
        _ => return Err(invalid(&shown, "the scheme must be https")),
    }
    Ok(url)
}

fn redact_url_text(raw: &str) -> String {
    // An unparsable URL may still carry `user:password@`: cut it out.
    match (raw.find("://"), raw.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://[redacted]@{}", &raw[..s], &raw[at + 1..]),
        _ => raw.to_owned(),
    }
}

/// One successful answer to a GET.
enum Answer {
    /// The parsed body, and the raw one for located parse errors.
    Json(Value, Vec<u8>),
    NotFound(String),
}

/// One failed attempt.
struct Failure {
    error: IonError,
    retryable: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn fatal(error: IonError) -> Self {
        Failure {
            error,
            retryable: false,
            retry_after: None,
        }
    }
}

fn parse_retry_after(value: Option<&reqwest::header::HeaderValue>) -> Option<Duration> {
    let text = value?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // An HTTP date (RFC 9110 IMF-fixdate is RFC 2822-compatible).
    let at = jiff::fmt::rfc2822::parse(text).ok()?.timestamp();
    let wait = at.duration_since(jiff::Timestamp::now());
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

impl IonClient {
    /// A builder with the defaults.
    pub fn builder() -> IonClientBuilder {
        IonClientBuilder::default()
    }

    /// A client configured from the environment (see
    /// [`IonClientBuilder::from_env`]).
    ///
    /// ```no_run
    /// # fn demo() -> Result<(), ion_preflight::IonError> {
    /// let client = ion_preflight::IonClient::from_env()?;
    /// # Ok(()) }
    /// ```
    pub fn from_env() -> Result<IonClient, IonError> {
        IonClientBuilder::from_env()?.build()
    }

    /// The base URL.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// A client sharing this one's connection pool, base URL, retries and
    /// observer, that authenticates every request with `token` (a caller's
    /// own ION access token) and never refreshes: when ION rejects the token,
    /// the fetch fails as rejected.
    pub fn with_access_token(&self, token: SecretString) -> IonClient {
        let inner = &self.inner;
        IonClient {
            inner: Arc::new(Inner {
                http: inner.http.clone(),
                base: inner.base.clone(),
                token_url: inner.token_url.clone(),
                validate_url: inner.validate_url.clone(),
                auth: Auth::new(Some(token), None, None),
                request_timeout: inner.request_timeout,
                max_attempts: inner.max_attempts,
                backoff_min: inner.backoff_min,
                backoff_max: inner.backoff_max,
                max_retry_after: inner.max_retry_after,
                observer: inner.observer.clone(),
                rejection: OnceLock::new(),
            }),
        }
    }

    fn observe(&self, endpoint: &Endpoint, status: Option<u16>) {
        if let Some(observer) = &self.inner.observer {
            observer(endpoint, status);
        }
    }

    fn url(&self, segments: &[&str]) -> Url {
        join(&self.inner.base, segments)
    }

    fn refresh_target(&self) -> RefreshTarget<'_> {
        RefreshTarget {
            http: &self.inner.http,
            url: &self.inner.token_url,
            validate_url: &self.inner.validate_url,
            timeout: self.inner.request_timeout,
        }
    }

    /// The customer `customer` of account `account`; `Ok(None)` when ION
    /// says it does not exist (404).
    pub async fn customer(
        &self,
        account: u64,
        customer: u64,
    ) -> Result<Option<Customer>, IonError> {
        Ok(self.customer_json(account, customer).await?.map(|(c, _)| c))
    }

    pub(crate) async fn customer_json(
        &self,
        account: u64,
        customer: u64,
    ) -> Result<Option<(Customer, Value)>, IonError> {
        let (a, c) = (account.to_string(), customer.to_string());
        self.get_typed(&["api", "v3", "accounts", &a, "customers", &c], &[])
            .await
    }

    /// The customer's cloud profiles; `Ok(None)` on 404.
    pub async fn cloud_profiles(
        &self,
        account: u64,
        customer: u64,
    ) -> Result<Option<CustomerCloudProfiles>, IonError> {
        Ok(self
            .cloud_profiles_json(account, customer)
            .await?
            .map(|(c, _)| c))
    }

    pub(crate) async fn cloud_profiles_json(
        &self,
        account: u64,
        customer: u64,
    ) -> Result<Option<(CustomerCloudProfiles, Value)>, IonError> {
        let (a, c) = (account.to_string(), customer.to_string());
        self.get_typed(
            &[
                "api",
                "v3",
                "accounts",
                &a,
                "customers",
                &c,
                "cloudProfiles",
            ],
            &[],
        )
        .await
    }

    /// A catalog product's details; `Ok(None)` on 404.
    pub async fn product(
        &self,
        account: u64,
        product_id: &str,
    ) -> Result<Option<Product>, IonError> {
        Ok(self
            .product_json(account, product_id)
            .await?
            .map(|(p, _)| p))
    }

    pub(crate) async fn product_json(
        &self,
        account: u64,
        product_id: &str,
    ) -> Result<Option<(Product, Value)>, IonError> {
        check_product_id(product_id)?;
        let a = account.to_string();
        self.get_typed(&["api", "v3", "accounts", &a, "products", product_id], &[])
            .await
    }

    /// One page of the account's subscriptions matching `query`
    /// (`("subscriptionId", …)`, `("customerId", …)`,
    /// `("pagination.limit", …)`, `("pagination.offset", …)`), typed and as
    /// ION sent it; `Ok(None)` on 404. Every value is a query parameter,
    /// encoded as one: an id can never change the path.
    pub async fn subscription_page_json(
        &self,
        account: u64,
        query: &[(&str, String)],
    ) -> Result<Option<(SubscriptionPage, Value)>, IonError> {
        let a = account.to_string();
        self.get_typed(&["api", "v3", "accounts", &a, "subscriptions"], query)
            .await
    }

    /// One page of the account's orders matching `query`
    /// (`("filter.customerIdList", …)`, `("pageSize", …)`, `("pageToken", …)`,
    /// `("sortBy", …)`, `("sortOrder", …)`), typed and as ION sent it;
    /// `Ok(None)` on 404.
    pub async fn order_page_json(
        &self,
        account: u64,
        query: &[(&str, String)],
    ) -> Result<Option<(OrderPage, Value)>, IonError> {
        let a = account.to_string();
        self.get_typed(&["api", "v3", "accounts", &a, "orders"], query)
            .await
    }

    /// One page of the account's customers.
    pub async fn customer_page(
        &self,
        account: u64,
        page_size: u32,
        page_token: Option<&str>,
    ) -> Result<CustomerPage, IonError> {
        Ok(self
            .customer_page_json(account, page_size, page_token, &[])
            .await?
            .0)
    }

    /// One page of the account's customers matching `filters`
    /// (`("filter.customerEmail", …)`, `("filter.customerStatus", …)`: ION
    /// wants a status with every other filter), typed and as ION sent it.
    pub async fn customer_page_json(
        &self,
        account: u64,
        page_size: u32,
        page_token: Option<&str>,
        filters: &[(&str, String)],
    ) -> Result<(CustomerPage, Value), IonError> {
        let a = account.to_string();
        let mut query = vec![("pageSize", page_size.max(1).to_string())];
        if let Some(t) = page_token {
            query.push(("pageToken", t.to_owned()));
        }
        query.extend(filters.iter().map(|(k, v)| (*k, v.clone())));
        let segments = ["api", "v3", "accounts", &a, "customers"];
        match self.get_typed::<CustomerPage>(&segments, &query).await? {
            Some(page) => Ok(page),
            None => Err(IonError::NotFound {
                endpoint: Endpoint {
                    method: "GET",
                    path: self.url(&segments).path().to_owned(),
                },
                message: format!("account {account} is unknown to ION"),
            }),
        }
    }

    /// Every customer of the account, page after page (`pageSize`,
    /// `pageToken`) until ION sends no `nextPageToken`. An error ends the
    /// stream after being yielded.
    pub fn customers(
        &self,
        account: u64,
        page_size: u32,
    ) -> impl Stream<Item = Result<ListedCustomer, IonError>> + Send + 'static {
        enum Next {
            Page(Option<String>),
            Done,
        }
        let client = self.clone();
        futures::stream::unfold(Next::Page(None), move |next| {
            let client = client.clone();
            async move {
                let Next::Page(token) = next else {
                    return None;
                };
                match client
                    .customer_page(account, page_size, token.as_deref())
                    .await
                {
                    Ok(page) => {
                        let following = match page.next_page_token.filter(|t| !t.is_empty()) {
                            Some(t) if Some(&t) == token.as_ref() => {
                                let e = IonError::MalformedResponse {
                                    endpoint: Endpoint {
                                        method: "GET",
                                        path: format!("/api/v3/accounts/{account}/customers"),
                                    },
                                    excerpt: "the next page token repeats the current one".into(),
                                };
                                let items = page.customers.unwrap_or_default();
                                let mut out: Vec<_> = items.into_iter().map(Ok).collect();
                                out.push(Err(e));
                                return Some((out, Next::Done));
                            }
                            Some(t) => Next::Page(Some(t)),
                            None => Next::Done,
                        };
                        let items = page.customers.unwrap_or_default();
                        Some((items.into_iter().map(Ok).collect::<Vec<_>>(), following))
                    }
                    Err(e) => Some((vec![Err(e)], Next::Done)),
                }
            }
        })
        .flat_map(futures::stream::iter)
    }

    /// How long the current access token and the refresh token remain valid
    /// (`POST /oauth/validateAccess`). Obtains an access token first when
    /// needed. What ION says about the refresh token is recorded in the
    /// token store (when its access token is the one validated), and a
    /// refresh token with less than [`REFRESH_EXPIRY_WARNING`] left is
    /// warned about.
    ///
    /// [`REFRESH_EXPIRY_WARNING`]: super::REFRESH_EXPIRY_WARNING
    pub async fn validate_access(&self) -> Result<AccessValidity, IonError> {
        let target = self.refresh_target();
        // A validation a refresh left to do would ask the same question.
        let token = self.inner.auth.access_token(&target).await?.token;
        let validity = super::oauth::validate(&target, &token).await?;
        self.inner.auth.record_validity(&token, &validity).await;
        Ok(validity)
    }

    /// Whether this client's own credentials are usable, for a readiness
    /// probe: [`CredentialCheck::Unusable`] only when no access token can be
    /// obtained (the refresh failed or was refused, no credentials, the
    /// token store failed) or ION refused one that nothing can replace;
    /// any other failure of `POST /oauth/validateAccess` (a 404 from a
    /// proxy, a 5xx, a timeout, a 401 for an access token a refresh can
    /// replace) says nothing definite and is [`CredentialCheck::Unconfirmed`].
    pub async fn check_credentials(&self) -> CredentialCheck {
        let target = self.refresh_target();
        let token = match self.inner.auth.access_token(&target).await {
            Ok(grant) => grant.token,
            Err(e) => return CredentialCheck::Unusable(e),
        };
        match super::oauth::validate(&target, &token).await {
            Ok(validity) => {
                self.inner.auth.record_validity(&token, &validity).await;
                CredentialCheck::Valid(validity)
            }
            Err(e @ IonError::TokenRejected { .. }) if !self.inner.auth.can_refresh() => {
                CredentialCheck::Unusable(e)
            }
            Err(e) => CredentialCheck::Unconfirmed(e),
        }
    }

    /// Refreshes the access token now, whether or not the cached one is
    /// still valid (`ion-preflight auth refresh`): one `POST /oauth/token`,
    /// under the token store's lock, the rotated refresh token saved.
    pub async fn refresh_now(&self) -> Result<(), IonError> {
        if !self.inner.auth.can_refresh() {
            return Err(IonError::NoRefreshToken);
        }
        self.inner.auth.force_refresh(&self.refresh_target()).await
    }

    /// GET `segments` and deserialize; `Ok(None)` on an ION 404.
    async fn get_typed<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<Option<(T, Value)>, IonError> {
        let mut url = self.url(segments);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        let endpoint = Endpoint {
            method: "GET",
            path: url.path().to_owned(),
        };
        match self.get(&url, &endpoint).await? {
            Answer::NotFound(message) => {
                tracing::debug!(path = %endpoint.path, message, "ION: not found");
                Ok(None)
            }
            Answer::Json(value, body) => match T::deserialize(&value) {
                Ok(typed) => Ok(Some((typed, value))),
                Err(_) => {
                    // Re-parse from the bytes for an error with line/column.
                    let e = serde_json::from_slice::<T>(&body).err();
                    let what = e
                        .map(|e| e.to_string())
                        .unwrap_or_else(|| "wrong shape".into());
                    Err(IonError::MalformedResponse {
                        endpoint,
                        excerpt: format!("{what} in {}", excerpt(&body)),
                    })
                }
            },
        }
    }

    /// Why this client's credentials cannot be used any more in this run,
    /// once that is known: ION definitely rejected them (the refresh token
    /// refused, an access token refused when there is nothing to refresh it
    /// with, or the access token obtained by the one refresh a rejected
    /// token gets refused too), or a refresh failed (its single-use refresh
    /// token is not presented again, so every later refresh fails the same
    /// way). Every later request would fail too, so a caller checking many
    /// customers stops (`batch` and `check-new-customer --payloads` do).
    pub fn credentials_rejected(&self) -> Option<&str> {
        self.inner
            .rejection
            .get()
            .map(String::as_str)
            .or_else(|| self.inner.auth.refresh_failure())
    }

    /// Records a definite rejection (see [`IonClient::credentials_rejected`]).
    fn definitely_rejected(&self, e: IonError) -> IonError {
        if matches!(e, IonError::TokenRejected { .. }) {
            let _ = self.inner.rejection.set(e.to_string());
        }
        e
    }

    /// A GET with token handling (one refresh and one retry when ION rejects
    /// the token) and retries on transient failures.
    ///
    /// When obtaining the token refreshed it, the `validateAccess` the
    /// refresh owes runs alongside this GET (both after the refresh, neither
    /// waiting for the other), and the GET returns when both are done: the
    /// validation is never left behind when a short-lived process exits.
    async fn get(&self, url: &Url, endpoint: &Endpoint) -> Result<Answer, IonError> {
        let target = self.refresh_target();
        let mut refreshed = false;
        loop {
            let grant = self
                .inner
                .auth
                .access_token(&target)
                .await
                .map_err(|e| self.definitely_rejected(e))?;
            let request = self.get_with_retries(url, endpoint, &grant.token);
            let result = match grant.owed {
                Some(owed) => {
                    let validation = self.inner.auth.finish_validation(owed, &target);
                    futures::future::join(request, validation).await.0
                }
                None => request.await,
            };
            match &result {
                Ok(_) | Err(IonError::NotFound { .. } | IonError::PermissionDenied { .. }) => {
                    self.inner.auth.accepted(grant.generation);
                }
                Err(_) => {}
            }
            match result {
                Err(IonError::TokenRejected { .. })
                    if !refreshed && self.inner.auth.can_refresh() =>
                {
                    tracing::debug!(path = %endpoint.path, "ION rejected the access token; refreshing once");
                    self.inner.auth.invalidate(&grant.token).await;
                    refreshed = true;
                }
                // A refusal of a token nothing can replace, or of the token
                // the one refresh obtained when ION never accepted it, is
                // definite. (A token ION had accepted, or one older than a
                // token it accepted, may simply have expired during a long
                // run: that request fails, the credentials are not judged.)
                Err(e @ IonError::TokenRejected { .. })
                    if !self.inner.auth.can_refresh()
                        || !self.inner.auth.was_accepted(grant.generation) =>
                {
                    return Err(self.definitely_rejected(e));
                }
                other => return other,
            }
        }
    }

    async fn get_with_retries(
        &self,
        url: &Url,
        endpoint: &Endpoint,
        token: &SecretString,
    ) -> Result<Answer, IonError> {
        let inner = &self.inner;
        let attempts = AtomicU32::new(0);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(inner.backoff_min)
            .with_max_delay(inner.backoff_max)
            .with_max_times(inner.max_attempts.saturating_sub(1) as usize)
            .with_jitter();
        let result = (|| async {
            let n = attempts.fetch_add(1, Ordering::Relaxed) + 1;
            self.attempt(url, endpoint, token, n).await
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(|f: &Failure| f.retryable)
        .adjust(|f: &Failure, next: Option<Duration>| {
            next.map(|d| f.retry_after.map_or(d, |r| r.min(inner.max_retry_after)))
        })
        .notify(|f: &Failure, delay: Duration| {
            tracing::debug!(
                path = %endpoint.path,
                delay_ms = delay.as_millis() as u64,
                error = %f.error,
                "retrying"
            );
        })
        .await;
        result.map_err(|f| f.error.with_attempts(attempts.load(Ordering::Relaxed)))
    }

    async fn attempt(
        &self,
        url: &Url,
        endpoint: &Endpoint,
        token: &SecretString,
        attempt: u32,
    ) -> Result<Answer, Failure> {
        let span = tracing::debug_span!(
            "ion.request",
            method = endpoint.method,
            path = %endpoint.path,
            attempt,
            status = tracing::field::Empty,
            duration_ms = tracing::field::Empty,
        );
        let timeout = self.inner.request_timeout;
        async {
            let started = Instant::now();
            let span = tracing::Span::current();
            let sent = self
                .inner
                .http
                .get(url.clone())
                .bearer_auth(token.expose_secret())
                .header(reqwest::header::ACCEPT, "application/json")
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    span.record("duration_ms", started.elapsed().as_millis() as u64);
                    self.observe(endpoint, None);
                    let error = transport_error(endpoint, &e, timeout);
                    tracing::debug!(error = %error, "request failed");
                    return Err(Failure {
                        error,
                        retryable: true,
                        retry_after: None,
                    });
                }
            };
            let status = response.status();
            span.record("status", status.as_u16());
            self.observe(endpoint, Some(status.as_u16()));
            let retry_after =
                parse_retry_after(response.headers().get(reqwest::header::RETRY_AFTER));
            // A server (or proxy) that echoes the token back must not put it
            // into excerpts, parse errors or the context: cut it out of the
            // body before anything reads it.
            let body = match response.bytes().await {
                Ok(b) => redact_bytes(b.to_vec(), token.expose_secret().as_bytes()),
                Err(e) => {
                    span.record("duration_ms", started.elapsed().as_millis() as u64);
                    return Err(Failure {
                        error: transport_error(endpoint, &e, timeout),
                        retryable: true,
                        retry_after: None,
                    });
                }
            };
            span.record("duration_ms", started.elapsed().as_millis() as u64);
            tracing::debug!(status = status.as_u16(), bytes = body.len(), "ION answered");
            classify(endpoint, status, retry_after, body).map_err(|mut f| {
                f.error = f.error.redact(token.expose_secret());
                f
            })
        }
        .instrument(span)
        .await
    }
}

/// `segments` appended to `base`'s path (each percent-encoded as needed).
fn join(base: &Url, segments: &[&str]) -> Url {
    let mut url = base.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty();
        path.extend(segments);
    }
    url
}

/// `body` with every occurrence of `secret` replaced by `[redacted]`.
fn redact_bytes(body: Vec<u8>, secret: &[u8]) -> Vec<u8> {
    let Some(mut at) = find(&body, secret) else {
        return body;
    };
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body.as_slice();
    loop {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"[redacted]");
        rest = &rest[at + secret.len()..];
        match find(rest, secret) {
            Some(next) => at = next,
            None => break,
        }
    }
    out.extend_from_slice(rest);
    out
}

/// Where `needle` first occurs in `hay` (never, when it is empty). Every
/// ION answer is scanned for the token: candidates are found by the first
/// byte alone (a tight loop), not by comparing a window at every offset.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&b| b == first) {
        let at = from + i;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

fn classify(
    endpoint: &Endpoint,
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    body: Vec<u8>,
) -> Result<Answer, Failure> {
    let endpoint = endpoint.clone();
    match status.as_u16() {
        200..=299 => match serde_json::from_slice::<Value>(&body) {
            Ok(v) => Ok(Answer::Json(v, body)),
            Err(e) => Err(Failure::fatal(IonError::MalformedResponse {
                endpoint,
                excerpt: format!("not JSON ({e}): {}", excerpt(&body)),
            })),
        },
        404 => {
            // Only ION's own JSON envelope means "does not exist": an HTML
            // 404 from a proxy or a wrong base URL must not read as a fact.
            if serde_json::from_slice::<serde_json::Map<String, Value>>(&body).is_ok() {
                Ok(Answer::NotFound(message_from_body(&body, false)))
            } else {
                Err(Failure::fatal(IonError::MalformedResponse {
                    endpoint,
                    excerpt: format!(
                        "HTTP 404 without ION's error envelope (is the base URL right?): {}",
                        excerpt(&body)
                    ),
                }))
            }
        }
        401 => Err(Failure::fatal(IonError::TokenRejected {
            endpoint,
            message: message_from_body(&body, false),
        })),
        403 => {
            let message = message_from_body(&body, false);
            Err(Failure::fatal(if body_says_token_invalid(&body) {
                IonError::TokenRejected { endpoint, message }
            } else {
                IonError::PermissionDenied { endpoint, message }
            }))
        }
        429 => Err(Failure {
            error: IonError::RateLimited {
                endpoint,
                attempts: 1,
                retry_after,
            },
            retryable: true,
            retry_after,
        }),
        500..=599 => Err(Failure {
            error: IonError::Server {
                endpoint,
                status: status.as_u16(),
                message: message_from_body(&body, false),
                attempts: 1,
            },
            retryable: true,
            retry_after,
        }),
        code => Err(Failure::fatal(IonError::Rejected {
            endpoint,
            status: code,
            message: message_from_body(&body, false),
        })),
    }
}

/// Refuses a product id that cannot be one path segment of data: `.` and
/// `..` (servers resolve them: `products/..` is the account) and the empty
/// id (`products/` is the product listing). Every source answers with it,
/// so a refused id reads the same live and offline.
pub(crate) fn check_product_id(product_id: &str) -> Result<(), IonError> {
    if product_id.is_empty() || product_id == "." || product_id == ".." {
        return Err(IonError::InvalidId {
            what: "product",
            id: product_id.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_must_be_https_unless_loopback() {
        assert!(validate_base_url("https://ion.tdsynnex.com").is_ok());
        assert!(validate_base_url("http://127.0.0.1:8080").is_ok());
        assert!(validate_base_url("http://127.1.2.3:8080/").is_ok());
        assert!(validate_base_url("http://[::1]:8080").is_ok());
        assert!(validate_base_url("http://localhost:8080").is_ok());
        for bad in [
            "http://ion.tdsynnex.com",
            "http://10.0.0.1",
            "ftp://ion.tdsynnex.com",
            "https://user:pw@ion.tdsynnex.com",
            "https://ion.tdsynnex.com/?x=1",
            "not a url",
        ] {
            let e = validate_base_url(bad).expect_err(bad);
            assert!(matches!(e, IonError::InvalidBaseUrl { .. }), "{bad}: {e}");
            assert!(!e.to_string().contains("pw"), "{e}");
        }
    }

    #[test]
    fn urls_keep_a_base_path_and_encode_segments() {
        let c = IonClient::builder()
            .base_url("https://proxy.example/ion/")
            .access_token(SecretString::from("t"))
            .build()
            .expect("client");
        assert_eq!(
            c.url(&["api", "v3", "accounts", "1", "products", "a/b c"])
                .as_str(),
            "https://proxy.example/ion/api/v3/accounts/1/products/a%2Fb%20c"
        );
        // A percent-encoded dot segment stays one literal segment.
        assert_eq!(
            c.url(&["api", "v3", "accounts", "1", "products", "%2e%2E"])
                .path(),
            "/ion/api/v3/accounts/1/products/%252e%252E"
        );
    }

    #[test]
    fn echoed_tokens_are_cut_out_of_bodies() {
        let body = br#"{"m":"tok-1 and tok-1","n":"tok-"}"#.to_vec();
        assert_eq!(
            redact_bytes(body, b"tok-1"),
            br#"{"m":"[redacted] and [redacted]","n":"tok-"}"#.to_vec()
        );
        assert_eq!(redact_bytes(b"plain".to_vec(), b"tok"), b"plain".to_vec());
        assert_eq!(redact_bytes(b"x".to_vec(), b""), b"x".to_vec());
    }

    /// The first-byte scan against the obvious definition (leftmost match,
    /// then continue after it), on near misses, overlaps and the edges.
    #[test]
    fn redaction_matches_a_naive_scan() {
        fn naive(body: &[u8], secret: &[u8]) -> Vec<u8> {
            let mut out = Vec::new();
            let mut i = 0;
            while i < body.len() {
                if body[i..].starts_with(secret) {
                    out.extend_from_slice(b"[redacted]");
                    i += secret.len();
                } else {
                    out.push(body[i]);
                    i += 1;
                }
            }
            out
        }
        let cases: [(&[u8], &[u8]); 9] = [
            (b"ttok", b"tok"),
            (b"tttok", b"ttok"),
            (b"toktok", b"tok"),
            (b"tok", b"tok"),
            (b"to", b"tok"),
            (b"aaaa", b"aa"),
            (b"xtoky", b"tok"),
            (b"tokx tok", b"tok"),
            (b"", b"tok"),
        ];
        for (body, secret) in cases {
            assert_eq!(
                redact_bytes(body.to_vec(), secret),
                naive(body, secret),
                "{:?} in {:?}",
                String::from_utf8_lossy(secret),
                String::from_utf8_lossy(body)
            );
        }
    }

    #[test]
    fn retry_after_accepts_seconds_and_dates() {
        use reqwest::header::HeaderValue;
        assert_eq!(
            parse_retry_after(Some(&HeaderValue::from_static("7"))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after(Some(&HeaderValue::from_static(
                "Sun, 06 Nov 1994 08:49:37 GMT"
            ))),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after(Some(&HeaderValue::from_static("soon"))),
            None
        );
        assert_eq!(parse_retry_after(None), None);
    }

    #[test]
    fn builder_needs_credentials_and_debug_hides_them() {
        let e = IonClient::builder().build().expect_err("no credentials");
        assert!(matches!(e, IonError::NoCredentials));
        let b = IonClient::builder().access_token(SecretString::from("very-secret"));
        assert!(!format!("{b:?}").contains("very-secret"));
        let c = b.build().expect("client");
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
