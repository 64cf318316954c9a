//! The proxy's route matcher: which requests are checked before they reach
//! ION, decided on the *normalized* path so that no spelling of a checked
//! route slips past unchecked.
//!
//! Normalization decodes percent-encoding segment by segment, drops empty
//! segments (repeated and trailing slashes) and `.` segments, resolves `..`,
//! and compares the fixed segments (`api`, `v3`, `accounts`, `customers`,
//! `orders`) without regard to case. A path that cannot be normalized into
//! one unambiguous list of segments is refused, never forwarded unchecked.

use std::fmt;

/// What the proxy does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/v3/accounts/{account}/customers/{customer}/orders`: checked
    /// first.
    PlaceOrder {
        /// The reseller account.
        account: u64,
        /// The customer.
        customer: u64,
    },
    /// `POST /api/v3/accounts/{account}/customers`: customer creation.
    CreateCustomer {
        /// The reseller account.
        account: u64,
    },
    /// Anything else: passed through unchanged.
    PassThrough,
}

impl Route {
    /// The path a checked route is forwarded to: exactly the resource that
    /// was checked, whatever spelling the caller used. `None` for
    /// [`Route::PassThrough`], which is forwarded as it came.
    pub fn canonical_path(&self) -> Option<String> {
        match self {
            Route::PlaceOrder { account, customer } => Some(format!(
                "/api/v3/accounts/{account}/customers/{customer}/orders"
            )),
            Route::CreateCustomer { account } => {
                Some(format!("/api/v3/accounts/{account}/customers"))
            }
            Route::PassThrough => None,
        }
    }
}

/// Why a path was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PathError {
    /// The path does not start with `/` (an origin-form request target).
    #[error("the path does not start with '/'")]
    NotAbsolute,
    /// A `%` not followed by two hex digits.
    #[error("segment {segment} has a '%' that is not followed by two hex digits")]
    BadPercent {
        /// 1-based segment number.
        segment: usize,
    },
    /// A decoded segment is not UTF-8, or holds a character that would split
    /// or hide a segment elsewhere (`/`, `\`, `%` left after decoding,
    /// control characters).
    #[error("segment {segment} decodes to {what}, which servers read in different ways")]
    Ambiguous {
        /// 1-based segment number.
        segment: usize,
        /// What was found.
        what: &'static str,
    },
    /// `..` above the root.
    #[error("'..' climbs above the root")]
    AboveRoot,
    /// The path names a checked route in a way that cannot be checked (an
    /// id that is not a plain number, a suffix on `orders`).
    #[error("{0}")]
    Unmatchable(String),
}

/// The decoded segments of `raw` (a request path without the query), with
/// empty and `.` segments dropped and `..` resolved.
pub fn normalize(raw: &str) -> Result<Vec<String>, PathError> {
    let rest = raw.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    let mut out: Vec<String> = Vec::new();
    for (i, seg) in rest.split('/').enumerate() {
        let segment = i + 1;
        let decoded = decode(seg.as_bytes()).ok_or(PathError::BadPercent { segment })?;
        let text = String::from_utf8(decoded).map_err(|_| PathError::Ambiguous {
            segment,
            what: "bytes that are not UTF-8",
        })?;
        let what = if text.contains('/') {
            Some("'/'")
        } else if text.contains('\\') {
            Some("'\\'")
        } else if text.contains('%') {
            Some("'%' (encoded twice)")
        } else if text.chars().any(char::is_control) {
            Some("a control character")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(PathError::Ambiguous { segment, what });
        }
        match text.as_str() {
            "" | "." => {}
            ".." => {
                out.pop().ok_or(PathError::AboveRoot)?;
            }
            _ => out.push(text),
        }
    }
    Ok(out)
}

fn decode(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// A resource id as ION takes it: digits only (leading zeros allowed, as a
/// number parser reads them), not zero.
fn id(segment: &str, what: &str) -> Result<u64, PathError> {
    segment
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| segment.parse::<u64>().ok())
        .flatten()
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            PathError::Unmatchable(format!(
                "the {what} id {segment:?} in an order or customer route is not a plain positive number"
            ))
        })
}

/// Whether `segment` spells the fixed word `word` with something after it
/// (`orders;x=1`, `orders:batch`, `orders `): a server may route it as
/// `word`, so the proxy cannot tell what it would do.
fn decorated(segment: &str, word: &str) -> bool {
    let lower = segment.to_ascii_lowercase();
    lower.len() > word.len() && lower.starts_with(word)
}

/// Decides what to do with a request: `method` and the raw `path` (no
/// query).
pub fn route(method: &str, path: &str) -> Result<Route, PathError> {
    let segments = normalize(path)?;
    if !method.eq_ignore_ascii_case("POST") {
        return Ok(Route::PassThrough);
    }
    // The fixed words of the two checked shapes, by position.
    const CREATE: &[(usize, &str)] = &[(0, "api"), (1, "v3"), (2, "accounts"), (4, "customers")];
    const ORDER: &[(usize, &str)] = &[
        (0, "api"),
        (1, "v3"),
        (2, "accounts"),
        (4, "customers"),
        (6, "orders"),
    ];
    let exact = |i: usize, word: &str| segments[i].eq_ignore_ascii_case(word);
    // A fixed word with something attached (`orders;x=1`, `customers:batch`,
    // `v3;v=2`): a server may route it as the word.
    let loose = |&(i, word): &(usize, &str)| exact(i, word) || decorated(&segments[i], word);
    let shape = match segments.len() {
        5 if CREATE.iter().all(loose) => CREATE,
        7 if ORDER.iter().all(loose) => ORDER,
        _ => return Ok(Route::PassThrough),
    };
    if let Some(&(i, word)) = shape.iter().find(|&&(i, word)| !exact(i, word)) {
        return Err(PathError::Unmatchable(format!(
            "{:?} is not '{word}' but may be routed as it",
            segments[i]
        )));
    }
    if shape.len() == CREATE.len() {
        Ok(Route::CreateCustomer {
            account: id(&segments[3], "account")?,
        })
    } else {
        Ok(Route::PlaceOrder {
            account: id(&segments[3], "account")?,
            customer: id(&segments[5], "customer")?,
        })
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.canonical_path() {
            Some(p) => write!(f, "POST {p}"),
            None => f.write_str("pass-through"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDER: Route = Route::PlaceOrder {
        account: 1001,
        customer: 2002,
    };

    #[test]
    fn every_spelling_of_the_order_route_is_checked() {
        for path in [
            "/api/v3/accounts/1001/customers/2002/orders",
            "/api/v3/accounts/1001/customers/2002/orders/",
            "//api//v3/accounts/1001/customers/2002//orders//",
            "/API/V3/Accounts/1001/Customers/2002/ORDERS",
            "/api/v3/accounts/1001/customers/2002/./orders",
            "/api/v3/accounts/1001/customers/9/../2002/orders",
            "/api/v3/x/../accounts/1001/customers/2002/orders",
            "/api/v3/accounts/1001/customers/2002/%6Frders",
            "/api/v3/accounts/1001/customers/2002/%2e/orders",
            "/api/v3/accounts/1001/customers/2002/x/%2E%2E/orders",
            "/%61pi/v3/accounts/%31001/customers/2002/orders",
            "/api/v3/accounts/01001/customers/002002/orders",
        ] {
            assert_eq!(route("POST", path), Ok(ORDER), "{path}");
            assert_eq!(route("post", path), Ok(ORDER), "{path} (lowercase method)");
        }
    }

    #[test]
    fn every_spelling_of_customer_creation_is_checked() {
        const CREATE: Route = Route::CreateCustomer { account: 1001 };
        for path in [
            "/api/v3/accounts/1001/customers",
            "/api/v3/accounts/1001/customers/",
            "//api///v3/accounts//1001/customers//",
            "/Api/V3/ACCOUNTS/1001/CusTomers",
            "/api/v3/./accounts/1001/customers/.",
            "/api/v3/accounts/77/../1001/customers",
            "/api/v3/accounts/1001/customers/2002/..",
            "/api/v3/accounts/1001/%63ustomers",
            "/api/v3/accounts/1001/x/%2e%2E/customers",
            "/api/v3/accounts/0001001/customers",
        ] {
            assert_eq!(route("POST", path), Ok(CREATE), "{path}");
            assert_eq!(
                route("pOsT", path),
                Ok(CREATE),
                "{path} (mixed-case method)"
            );
        }
    }

    #[test]
    fn paths_that_cannot_be_normalized_are_refused() {
        for (path, want) in [
            ("/api/v3/accounts/1001/customers/2002%2Forders", "'/'"),
            ("/api/v3/accounts/1001/customers/2002/orders%5C", "'\\'"),
            (
                "/api/v3/accounts/1001/customers/2002/%252e%252e/orders",
                "twice",
            ),
            ("/api/v3/accounts/1001/customers/2002/orders%00", "control"),
            ("/api/v3/accounts/1001/customers/2002/%ff", "UTF-8"),
            ("/api/v3/accounts/1001/customers/2002/orders%2", "hex"),
            ("/api/v3/accounts/1001/customers/2002/orders%zz", "hex"),
            ("/../api/v3/accounts/1001/customers/2002/orders", "root"),
            ("api/v3/accounts/1001/customers/2002/orders", "'/'"),
        ] {
            let err = route("GET", path).expect_err(path).to_string();
            assert!(err.contains(want), "{path}: {err}");
        }
    }

    #[test]
    fn order_routes_that_cannot_be_checked_are_refused() {
        for path in [
            "/api/v3/accounts/1001/customers/2002/orders;x=1",
            "/api/v3/accounts/1001/customers/2002/orders:batch",
            "/api/v3/accounts/1001/customers/2002/orders%20",
            "/api/v3/accounts/1001/customers/+2002/orders",
            "/api/v3/accounts/1001/customers/2002.0/orders",
            "/api/v3/accounts/1001/customers/0/orders",
            "/api/v3/accounts/abc/customers/2002/orders",
            "/api/v3/accounts/1001/customers;x",
            "/api/v3/accounts/1001/customers;x/2002/orders",
            "/api;x/v3/accounts/1001/customers/2002/orders",
            "/api/v3;v=2/accounts/1001/customers",
            "/api/v3/accounts:x/1001/customers",
            "/api/v3/accounts/1001/customers:batch",
            "/api/v3/accounts/1001%3B/customers",
            "/api/v3/accounts/0/customers",
            "/api/v3/accounts/-1/customers",
        ] {
            assert!(
                matches!(route("POST", path), Err(PathError::Unmatchable(_))),
                "{path}: {:?}",
                route("POST", path)
            );
        }
    }

    #[test]
    fn other_requests_pass_through() {
        for (method, path) in [
            ("GET", "/api/v3/accounts/1001/customers/2002/orders"),
            ("GET", "/api/v3/accounts/1001/customers/2002"),
            ("POST", "/api/v3/accounts/1001/customers/2002/orders/77"),
            ("POST", "/api/v3/accounts/1001/customers/2002/cloudProfiles"),
            ("POST", "/oauth/token"),
            ("POST", "/api/v3/customers/2002/carts/9:checkout"),
            ("POST", "/"),
        ] {
            assert_eq!(
                route(method, path),
                Ok(Route::PassThrough),
                "{method} {path}"
            );
        }
        assert_eq!(
            route("POST", "/api/v3/accounts/1001/Customers/"),
            Ok(Route::CreateCustomer { account: 1001 })
        );
    }

    #[test]
    fn checked_routes_are_forwarded_to_the_resource_that_was_checked() {
        assert_eq!(
            route("POST", "/API/v3/accounts/01001/customers/9/../2002/orders/")
                .expect("routes")
                .canonical_path()
                .as_deref(),
            Some("/api/v3/accounts/1001/customers/2002/orders")
        );
    }
}
