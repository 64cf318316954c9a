//! `ion-preflight auth`: the token file — store a refresh token from the
//! portal, show how long the tokens last (never the tokens), force a
//! refresh. The file's format and locking are in `docs/credentials.md`.

use std::io::{IsTerminal, Read};
use std::path::Path;
use std::sync::Arc;

use jiff::Timestamp;
use secrecy::SecretString;

use super::{runtime, write_stdout};
use crate::cli::args::{AuthCommand, IonArgs, LoginArgs, RefreshArgs, StatusArgs, TokenFileArg};
use crate::cli::exit::{CliError, Exit};
use crate::ion::{
    ACCESS_TOKEN_MARGIN, IonClient, IonError, REFRESH_EXPIRY_WARNING, StoredTokens, TokenFile,
    TokenStore,
};

/// Runs an `auth` subcommand.
pub fn run(cmd: AuthCommand) -> Result<Exit, CliError> {
    match cmd {
        AuthCommand::Login(args) => login(&args),
        AuthCommand::Status(args) => status(&args),
        AuthCommand::Refresh(args) => refresh(&args),
    }
}

fn token_file(arg: &TokenFileArg) -> Result<TokenFile, CliError> {
    match arg
        .token_file
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty())
    {
        Some(path) => Ok(TokenFile::new(path)),
        None => Err(CliError::Config(
            "no token file: pass --token-file FILE or set ION_TOKEN_FILE".to_owned(),
        )),
    }
}

fn login(args: &LoginArgs) -> Result<Exit, CliError> {
    let file = token_file(&args.file)?;
    let token = read_token()?;
    let previous = file.read()?;
    // Under the lock, so a refresh running meanwhile finishes first and
    // then sees the new token instead of overwriting it.
    let lock = file.lock_for_refresh()?;
    file.save(&token)?;
    drop(lock);
    let mut out = format!("Stored the refresh token in {}", file.path().display());
    if previous.is_some() {
        out.push_str(" (replacing the previous tokens)");
    }
    out.push_str(".\nRun `ion-preflight auth refresh` to check that ION accepts it.\n");
    write_stdout(out.as_bytes())?;
    Ok(Exit::Ready)
}

/// The refresh token from a hidden prompt (stdin a terminal) or from stdin.
fn read_token() -> Result<SecretString, CliError> {
    let text = if std::io::stdin().is_terminal() {
        rpassword::prompt_password("ION refresh token (input hidden): ").map_err(|e| {
            CliError::Config(format!("cannot read the token from the terminal: {e}"))
        })?
    } else {
        let mut text = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| CliError::Config(format!("cannot read the token from stdin: {e}")))?;
        text
    };
    // A byte-order mark (Windows editors, PowerShell pipes) is no part of
    // the token.
    let token = text.trim().trim_start_matches('\u{feff}').trim();
    if token.is_empty() {
        return Err(CliError::Config(
            "no refresh token given: paste it at the prompt or pipe it on stdin".to_owned(),
        ));
    }
    if token.starts_with(['{', '[', '"']) {
        return Err(CliError::Config(
            "that is JSON, not a refresh token: paste the token itself, as the ION portal shows it"
                .to_owned(),
        ));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CliError::Config(
            "that is not a single refresh token (it contains spaces, control characters or several lines)"
                .to_owned(),
        ));
    }
    Ok(SecretString::from(token.to_owned()))
}

fn client_for(file: &TokenFile, ion: &IonArgs) -> Result<IonClient, CliError> {
    // The request tuning (ION_REQUEST_TIMEOUT, …) applies as to every
    // command; the credentials are the token file's.
    let mut builder = IonClient::builder()
        .tuning_from_env()?
        .token_store(Arc::new(file.clone()));
    if let Some(url) = ion
        .base_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        builder = builder.base_url(url);
    }
    // A refresh token to start from when the file is empty (a CI secret).
    if let Some(t) = std::env::var("ION_REFRESH_TOKEN")
        .ok()
        .filter(|t| !t.trim().is_empty())
    {
        builder = builder.refresh_token(SecretString::from(t.trim().to_owned()));
    }
    Ok(builder.build()?)
}

fn refresh(args: &RefreshArgs) -> Result<Exit, CliError> {
    let file = token_file(&args.file)?;
    let client = client_for(&file, &args.ion)?;
    runtime()?.block_on(client.refresh_now())?;
    let tokens = file
        .read()?
        .ok_or_else(|| CliError::Config("the token file is empty after the refresh".into()))?;
    let now = Timestamp::now();
    let mut out = format!(
        "Refreshed; the new tokens are in {}.\n",
        file.path().display()
    );
    out.push_str(&lines(&tokens, now).join("\n"));
    out.push('\n');
    write_stdout(out.as_bytes())?;
    Ok(Exit::Ready)
}

fn status(args: &StatusArgs) -> Result<Exit, CliError> {
    let file = token_file(&args.file)?;
    let path = file.path().to_path_buf();
    let Some(tokens) = file.read()? else {
        return Err(CliError::Config(format!(
            "the token file {} is missing or empty: run `ion-preflight auth login`",
            path.display()
        )));
    };
    let now = Timestamp::now();
    let cached = tokens
        .usable_access_token(now, ACCESS_TOKEN_MARGIN)
        .is_some();
    let mut exit = Exit::Ready;
    let ion = if args.offline {
        "not contacted (--offline)".to_owned()
    } else if !cached {
        "not contacted (no valid access token to check; `auth refresh` obtains one)".to_owned()
    } else {
        let client = client_for(&file, &args.ion)?;
        match runtime()?.block_on(client.validate_access()) {
            Ok(v) => {
                let access = v.access_expires_in.map_or_else(|| "?".to_owned(), human);
                let refresh = v.refresh_expires_in.map_or_else(|| "?".to_owned(), human);
                format!("accepts the access token ({access} left; refresh token {refresh} left)")
            }
            // Only a definite rejection is called one; anything else says
            // nothing about the token (which may well work).
            // The file always holds a refresh token, so a refused access
            // token is no verdict on the credentials: a refresh may well
            // obtain one ION accepts.
            Err(IonError::TokenRejected { endpoint, message }) => {
                exit = Exit::Indeterminate;
                format!(
                    "rejected the cached access token at {endpoint}: {message}; the refresh token was not tried (`ion-preflight auth refresh` obtains a new access token with it)"
                )
            }
            Err(e) => {
                let status = match &e {
                    IonError::Rejected { status, .. } | IonError::Server { status, .. } => {
                        format!(" (HTTP {status})")
                    }
                    _ => String::new(),
                };
                let e = CliError::from(e);
                exit = e.exit();
                format!("could not check{status}: {e}; the tokens may still be valid")
            }
        }
    };
    // Read again: what ION just said about the refresh token is recorded.
    let tokens = file.read()?.unwrap_or(tokens);
    let now = Timestamp::now();
    let mut out = vec![format!("Token file:    {}{}", path.display(), mode(&path))];
    out.push(format!(
        "Format:        {}",
        if is_bare(&path) {
            "a bare refresh token (upgraded to the JSON format at the next refresh)"
        } else {
            "JSON, version 1"
        }
    ));
    out.extend(lines(&tokens, now));
    out.push(format!("ION:           {ion}"));
    let mut text = out.join("\n");
    text.push('\n');
    write_stdout(text.as_bytes())?;
    Ok(exit)
}

/// What the file says about the two tokens, one line each.
fn lines(tokens: &StoredTokens, now: Timestamp) -> Vec<String> {
    let mut out = Vec::new();
    let access = match (&tokens.access_token, tokens.access_expires_at) {
        (None, _) => "none cached".to_owned(),
        (Some(_), None) => "cached, expiry unknown (not used)".to_owned(),
        (Some(_), Some(at)) => {
            let left = at.duration_since(now).as_secs();
            if tokens
                .usable_access_token(now, ACCESS_TOKEN_MARGIN)
                .is_some()
            {
                format!("cached, valid for {} (until {})", human(left), shown(at))
            } else if left > 0 {
                format!(
                    "cached, expires in {} (too soon to use: refreshed at the next run)",
                    human(left)
                )
            } else {
                format!("cached, expired {} ago", human(-left))
            }
        }
    };
    out.push(format!("Access token:  {access}"));
    let obtained = tokens
        .refresh_obtained_at
        .map(|at| format!(", obtained {} ago", human(now.duration_since(at).as_secs())))
        .unwrap_or_default();
    let expiry = match tokens.refresh_expiry() {
        None => "expiry unknown".to_owned(),
        Some((at, estimated)) => {
            let left = at.duration_since(now).as_secs();
            let source = if estimated {
                "estimated: ION has not said yet"
            } else {
                "as ION said"
            };
            if left <= 0 {
                format!("expired {} ago ({source})", human(-left))
            } else {
                let soon = if !estimated && left < REFRESH_EXPIRY_WARNING.as_secs() as i64 {
                    " — request new credentials in the ION portal soon"
                } else {
                    ""
                };
                format!(
                    "expires in {} (until {}, {source}){soon}",
                    human(left),
                    shown(at)
                )
            }
        }
    };
    out.push(format!("Refresh token: present{obtained}; {expiry}"));
    out
}

/// A time to the second, UTC.
fn shown(at: Timestamp) -> Timestamp {
    at.round(jiff::Unit::Second).unwrap_or(at)
}

/// `2 d 3 h`, `1 h 52 min`, `4 min 10 s`, `12 s`.
fn human(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, sec) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60, s % 60);
    if d > 0 {
        format!("{d} d {h} h")
    } else if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {sec} s")
    } else {
        format!("{sec} s")
    }
}

#[cfg(unix)]
fn mode(path: &Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) => {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 == 0 {
                format!(" (mode {mode:o})")
            } else {
                format!(" (mode {mode:o}: readable by others, run `chmod 600`)")
            }
        }
        Err(_) => String::new(),
    }
}

#[cfg(not(unix))]
fn mode(_path: &Path) -> String {
    String::new()
}

fn is_bare(path: &Path) -> bool {
    std::fs::read(path).is_ok_and(|b| {
        let b = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&b);
        !matches!(b.trim_ascii_start().first(), Some(b'{' | b'[' | b'"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human(12), "12 s");
        assert_eq!(human(250), "4 min 10 s");
        assert_eq!(human(6720), "1 h 52 min");
        assert_eq!(human(2_764_273), "31 d 23 h");
        assert_eq!(human(-5), "0 s");
    }

    #[test]
    fn status_lines_never_hold_a_token() {
        let now: Timestamp = "2026-04-01T09:00:00Z".parse().expect("ts");
        let mut t = StoredTokens::new(SecretString::from("rt-SECRET"))
            .obtained_at("2026-04-01T08:00:00Z".parse().expect("ts"));
        t.access_token = Some(SecretString::from("at-SECRET"));
        t.access_expires_at = Some("2026-04-01T10:00:00Z".parse().expect("ts"));
        let text = lines(&t, now).join("\n");
        assert!(!text.contains("SECRET"), "{text}");
        assert!(text.contains("cached, valid for 1 h 0 min"), "{text}");
        assert!(text.contains("obtained 1 h 0 min ago"), "{text}");
        assert!(text.contains("estimated"), "{text}");
    }
}
