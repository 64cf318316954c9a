//! Exit codes, the errors a user can cause, and the one function that maps
//! every error to its exit code ([`exit_code`]).
//!
//! Errors stay typed up to here (the library's own error types inside
//! [`CliError`]); the exit-code table [`EXIT_CODES`] is the one description
//! of the codes: `--help` is generated from it, and a test checks that the
//! README and docs/cli.md show its Markdown rendering.

use std::fmt::Write as _;
use std::process::ExitCode;

use crate::ion::{IonError, TokenStoreError};
use crate::report::Verdict;
use crate::rules::RuleLoadError;
use crate::rules::testing::RuleTestError;
use crate::source::{SnapshotError, SourceError};

use super::input::{CustomersFileError, OrderFileError};
use super::payload::PayloadFileError;

/// The process exit codes, documented in [`EXIT_CODES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// `ready` (batch: every check ready); rule tests all passed.
    Ready = 0,
    /// `blocked` (batch: at least one blocked, none indeterminate); a rule
    /// test failed.
    Blocked = 1,
    /// Usage, configuration, rule-file, order-file or customers-file error.
    Usage = 2,
    /// `indeterminate`: data could not be fetched (batch: at least one
    /// check indeterminate, or the customer listing failed).
    Indeterminate = 3,
    /// `batch` was interrupted (Ctrl-C) before every customer was checked.
    Interrupted = 130,
}

impl Exit {
    /// The exit code for a verdict (of one check, or of a batch:
    /// [`crate::batch::BatchStats::verdict`]).
    pub fn from_verdict(verdict: Verdict) -> Exit {
        match verdict {
            Verdict::Ready => Exit::Ready,
            Verdict::Blocked => Exit::Blocked,
            Verdict::Indeterminate => Exit::Indeterminate,
        }
    }

    /// The numeric code.
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// One row of the exit-code table.
#[derive(Clone, Copy, Debug)]
pub struct ExitCodeDoc {
    /// The code.
    pub exit: Exit,
    /// What it means, as the top-level `--help` words it (lines of at most
    /// 72 columns).
    pub help: &'static str,
    /// What it means for `check` (Markdown).
    pub check: &'static str,
    /// What it means for `batch` (Markdown).
    pub batch: &'static str,
    /// What it means for the other commands (Markdown).
    pub other: &'static str,
    /// What it means in each command's own `--help`, by [`HelpFor`] (in its
    /// order); empty where the command never exits with it.
    pub commands: [&'static str; HelpFor::ALL.len()],
}

/// The commands whose `--help` ends with their own exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HelpFor {
    /// `check`.
    Check,
    /// `batch`.
    Batch,
    /// `check-new-customer`.
    NewCustomer,
    /// `snapshot`.
    Snapshot,
    /// `auth` and its subcommands.
    Auth,
    /// `serve` and `proxy`.
    Serve,
    /// `check-order`.
    CheckOrder,
}

impl HelpFor {
    /// Every command, in the order of [`ExitCodeDoc::commands`].
    pub const ALL: [HelpFor; 7] = [
        HelpFor::Check,
        HelpFor::Batch,
        HelpFor::NewCustomer,
        HelpFor::Snapshot,
        HelpFor::Auth,
        HelpFor::Serve,
        HelpFor::CheckOrder,
    ];
}

/// Every exit code and what it means: the one table `--help` (the
/// top-level one and each command's), the README and docs/cli.md show.
pub const EXIT_CODES: [ExitCodeDoc; 5] = [
    ExitCodeDoc {
        exit: Exit::Ready,
        help: "ready (batch: every check ready; rules test: every case passed;\n\
               check-order: no order rule failed, customer and ION checks not run;\n\
               snapshot, auth: done; serve, proxy: stopped by a signal)",
        check: "ready",
        batch: "every check ready",
        other: "success; `rules test`: every case passed; `serve`, `proxy`: stopped by a signal",
        commands: [
            "ready",
            "every check ready",
            "ready (--payloads: every payload ready)",
            "recorded",
            "done",
            "stopped by a signal (SIGTERM, Ctrl-C)",
            "no order rule failed (customer and ION checks not run)",
        ],
    },
    ExitCodeDoc {
        exit: Exit::Blocked,
        help: "blocked: a rule at or above --fail-on failed (batch: at least one\n\
               blocked, none indeterminate; rules test: a case failed)",
        check: "blocked: a rule at or above `--fail-on` failed",
        batch: "at least one blocked, none indeterminate",
        other: "`rules test`: a case failed; `check-order`: a file is blocked",
        commands: [
            "blocked: a rule at or above --fail-on failed",
            "at least one blocked, none indeterminate",
            "blocked (--payloads: at least one blocked, none indeterminate)",
            "",
            "",
            "",
            "a file is blocked",
        ],
    },
    ExitCodeDoc {
        exit: Exit::Usage,
        help: "usage or configuration error (a missing, malformed or unusable token\n\
               file too), a rule-, order-, payload- or customers-file error, a\n\
               --data directory that is no snapshot, a batch with nothing to check",
        check: "usage, configuration (a missing or malformed token file, too), rule-file or order-file error, a `--data` directory that is no snapshot (`check-new-customer`: payload file)",
        batch: "same, or a bad or empty customers file, or a listing with nothing to check",
        other: "same (`rules lint`: an invalid rule file; `auth`: no or an unusable token file; `snapshot`: a directory that cannot be written; `serve`, `proxy`: an address that cannot be listened on)",
        commands: [
            "usage or configuration error (a missing, malformed or unusable token\n\
             file too), a rule-file or order-file error, a --data directory that\n\
             is no snapshot",
            "usage or configuration error (a missing, malformed or unusable token\n\
             file too), a rule-, order- or customers-file error (an empty\n\
             customers file too), a --data directory that is no snapshot, a\n\
             listing with nothing to check",
            "usage or configuration error, a rule-file or payload-file error, a\n\
             --data directory that is no snapshot",
            "usage or configuration error, a rule-file or order-file error, a\n\
             directory that cannot be written",
            "usage or configuration error (no token file, a malformed or unusable\n\
             token file, bad input)",
            "usage, configuration or rule-file error, or the address cannot be\n\
             listened on",
            "usage or configuration error, a rule-file or order-file error",
        ],
    },
    ExitCodeDoc {
        exit: Exit::Indeterminate,
        help: "indeterminate: data needed by a blocking rule could not be fetched\n\
               (batch: at least one indeterminate, listing customers failed, or\n\
               ION rejected the credentials or a refresh failed; snapshot, auth:\n\
               ION could not be reached, answered an error status or refused\n\
               the credentials)",
        check: "indeterminate: data a blocking rule needs could not be fetched",
        batch: "at least one indeterminate, listing customers failed, or ION rejected the credentials or a refresh failed (the batch stops)",
        other: "`snapshot`, `auth`: ION could not be reached, answered an error status (a 404 too) or refused the credentials",
        commands: [
            "indeterminate: data a blocking rule needs could not be fetched",
            "at least one indeterminate, listing customers failed, or ION\n\
             rejected the credentials or a refresh failed (the batch stops)",
            "indeterminate: a lookup could not be made (--payloads: also when\n\
             ION rejected the credentials or a refresh failed; the run stops)",
            "ION data could not be fetched (ION unreachable, an error status,\n\
             the credentials refused)",
            "ION could not be reached, answered an error status (a 404 too), or\n\
             rejected a token",
            "",
            "",
        ],
    },
    ExitCodeDoc {
        exit: Exit::Interrupted,
        help: "batch interrupted by Ctrl-C (finished reports were written whole)",
        check: "—",
        batch: "interrupted by Ctrl-C",
        other: "`check-new-customer --payloads`: interrupted by Ctrl-C",
        commands: [
            "",
            "interrupted by Ctrl-C (finished reports were written whole)",
            "--payloads interrupted by Ctrl-C (finished reports were written\n\
             whole)",
            "",
            "",
            "",
            "",
        ],
    },
];

/// Renders `(code, text)` rows as an `Exit codes:` block.
fn exit_block(rows: impl Iterator<Item = (u8, &'static str)>) -> String {
    let mut s = String::from("Exit codes:");
    for (code, text) in rows {
        let mut lines = text.lines();
        let _ = write!(s, "\n  {code:<4} {}", lines.next().unwrap_or_default());
        for line in lines {
            let _ = write!(s, "\n       {}", line.trim_start());
        }
    }
    s
}

/// The exit-code table as it ends `--help`.
pub fn exit_codes_help() -> String {
    exit_block(EXIT_CODES.iter().map(|row| (row.exit.code(), row.help)))
}

/// The exit codes of one command, as they end its `--help`.
pub fn exit_codes_help_for(command: HelpFor) -> String {
    let i = HelpFor::ALL
        .iter()
        .position(|c| *c == command)
        .unwrap_or_default();
    exit_block(
        EXIT_CODES
            .iter()
            .filter(|row| !row.commands[i].is_empty())
            .map(|row| (row.exit.code(), row.commands[i])),
    )
}

/// The exit-code table in Markdown, as the README and docs/cli.md show it.
pub fn exit_codes_markdown() -> String {
    let mut s = String::from("| code | `check` | `batch` | other commands |\n|---|---|---|---|\n");
    for row in EXIT_CODES {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            row.exit.code(),
            row.check,
            row.batch,
            row.other
        );
    }
    s
}

/// What to do when no credentials were given: the one place this is said.
pub const NO_CREDENTIALS: &str = "no ION credentials: set ION_ACCESS_TOKEN, or ION_REFRESH_TOKEN / ION_TOKEN_FILE for a refresh token";

/// An error that ends the command, with one readable message. The library's
/// errors are kept as they are; [`exit_code`] decides the code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The order file could not be read or parsed.
    #[error(transparent)]
    Order(#[from] OrderFileError),
    /// The customers file could not be read or parsed.
    #[error(transparent)]
    Customers(#[from] CustomersFileError),
    /// A new-customer payload could not be read or parsed.
    #[error(transparent)]
    Payload(#[from] PayloadFileError),
    /// Rule files could not be loaded (rendered with miette).
    #[error(transparent)]
    Rules(#[from] RuleLoadError),
    /// A rule-test file could not be loaded (rendered with miette).
    #[error(transparent)]
    RuleTest(#[from] RuleTestError),
    /// The ION client failed (building it, or a request outside a check).
    #[error(transparent)]
    Ion(IonError),
    /// No credentials were given (see [`NO_CREDENTIALS`]).
    #[error("{NO_CREDENTIALS}")]
    NoCredentials,
    /// The token file could not be read, written or locked.
    #[error(transparent)]
    TokenStore(#[from] TokenStoreError),
    /// A snapshot directory could not be opened or recorded.
    #[error(transparent)]
    Snapshot(SnapshotError),
    /// Listing the customers of a batch failed.
    #[error(
        "cannot list the customers of account {account}: {source} ({written} reports written before the listing failed)"
    )]
    Listing {
        /// The account.
        account: u64,
        /// Reports written before it failed.
        written: usize,
        /// Why.
        source: SourceError,
    },
    /// ION definitely rejected the credentials (after the one refresh the
    /// client may try), or the refresh failed: `batch` and
    /// `check-new-customer --payloads` stop launching checks.
    #[error(
        "{cause}; the batch stopped: no further {what} was checked (the reports written are whole)"
    )]
    CredentialsRejected {
        /// ION's rejection, as the client reported it.
        cause: String,
        /// What the batch checks (`customer`, `payload`).
        what: &'static str,
    },
    /// A configuration problem the command line itself finds (a bad
    /// environment variable, no token file named, …).
    #[error("{0}")]
    Config(String),
    /// A usage problem (a rule id the rule set does not have, …).
    #[error("{0}")]
    Usage(String),
    /// The output could not be written.
    #[error("cannot write to {what}: {source}")]
    Output {
        /// stdout, or a path.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl From<IonError> for CliError {
    fn from(e: IonError) -> Self {
        match e {
            IonError::NoCredentials => CliError::NoCredentials,
            IonError::TokenStore(e) => CliError::TokenStore(e),
            e => CliError::Ion(e),
        }
    }
}

impl From<SnapshotError> for CliError {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Ion(e) => CliError::from(e),
            e => CliError::Snapshot(e),
        }
    }
}

impl CliError {
    /// The exit code for this error ([`exit_code`]).
    pub fn exit(&self) -> Exit {
        exit_code(self)
    }

    /// A write error on stdout.
    pub fn stdout(source: std::io::Error) -> CliError {
        CliError::Output {
            what: "stdout".into(),
            source,
        }
    }
}

/// The exit code of every error: 2 for what the user gives or configures
/// (arguments, files, credentials, the token file, the base URL), 3 for what
/// ION or a data source did (unreachable, refused, failing, malformed).
///
/// A new error variant gets its code here (the match has no catch-all, so
/// the compiler asks).
pub fn exit_code(e: &CliError) -> Exit {
    match e {
        CliError::Order(_)
        | CliError::Customers(_)
        | CliError::Payload(_)
        | CliError::Rules(_)
        | CliError::RuleTest(_)
        | CliError::NoCredentials
        | CliError::TokenStore(_)
        | CliError::Snapshot(_)
        | CliError::Config(_)
        | CliError::Usage(_)
        | CliError::Output { .. } => Exit::Usage,
        CliError::Ion(e) => ion_exit(e),
        CliError::CredentialsRejected { .. } => Exit::Indeterminate,
        CliError::Listing { source, .. } => match source {
            SourceError::Ion(e) => ion_exit(e),
            _ => Exit::Indeterminate,
        },
    }
}

fn ion_exit(e: &IonError) -> Exit {
    match e {
        IonError::Config(_)
        | IonError::NoCredentials
        | IonError::NoRefreshToken
        | IonError::InvalidBaseUrl { .. }
        | IonError::TokenStore(_) => Exit::Usage,
        _ => Exit::Indeterminate,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn verdicts_map_to_documented_codes() {
        assert_eq!(Exit::from_verdict(Verdict::Ready).code(), 0);
        assert_eq!(Exit::from_verdict(Verdict::Blocked).code(), 1);
        assert_eq!(Exit::from_verdict(Verdict::Indeterminate).code(), 3);
    }

    fn store_error() -> TokenStoreError {
        TokenStoreError::Malformed {
            path: PathBuf::from("t.json"),
            reason: "not JSON".into(),
        }
    }

    #[test]
    fn a_token_store_error_exits_2_wherever_it_comes_from() {
        // Through the client (`auth refresh`), recording a snapshot, or as is.
        let via_ion = CliError::from(IonError::TokenStore(store_error()));
        let via_snapshot = CliError::from(SnapshotError::Ion(IonError::TokenStore(store_error())));
        let direct = CliError::from(store_error());
        for e in [via_ion, via_snapshot, direct] {
            assert_eq!(exit_code(&e), Exit::Usage, "{e:?}");
        }
    }

    #[test]
    fn configuration_exits_2_and_ion_failures_exit_3() {
        assert_eq!(exit_code(&CliError::Config("x".into())), Exit::Usage);
        assert_eq!(
            exit_code(&CliError::from(IonError::NoCredentials)),
            Exit::Usage
        );
        let unreachable = IonError::Unreachable {
            endpoint: crate::ion::Endpoint {
                method: "GET",
                path: "/x".into(),
            },
            detail: "connection refused".into(),
            attempts: 1,
        };
        let listing = CliError::Listing {
            account: 1,
            written: 0,
            source: SourceError::CannotList,
        };
        assert_eq!(exit_code(&listing), Exit::Indeterminate);
        let recording = CliError::from(SnapshotError::Ion(unreachable));
        assert_eq!(exit_code(&recording), Exit::Indeterminate);
    }

    #[test]
    fn the_no_credentials_text_is_the_clis() {
        assert_eq!(
            CliError::from(IonError::NoCredentials).to_string(),
            NO_CREDENTIALS
        );
    }

    /// The README and docs/cli.md show the table as [`exit_codes_markdown`]
    /// renders it: edit [`EXIT_CODES`], then paste the rendering.
    #[test]
    fn the_docs_show_the_exit_code_table() {
        let table = exit_codes_markdown();
        for doc in ["README.md", "docs/cli.md"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(doc);
            let text = std::fs::read_to_string(&path).expect("doc");
            assert!(
                text.contains(&table),
                "{doc} does not show the exit-code table; it should read:\n{table}"
            );
        }
    }

    #[test]
    fn subcommand_help_names_only_codes_of_the_table() {
        use clap::CommandFactory;
        let mut cli = crate::cli::Cli::command();
        cli.build();
        let mut seen = 0;
        for sub in cli
            .get_subcommands()
            .flat_map(|c| std::iter::once(c).chain(c.get_subcommands()))
        {
            let Some(help) = sub.get_after_help().map(|h| h.to_string()) else {
                continue;
            };
            let Some(at) = help.find("Exit codes:") else {
                continue;
            };
            seen += 1;
            // "Exit codes: 0 ready, 1 blocked, …" or one code per line.
            for word in help[at + "Exit codes:".len()..].split(|c: char| !c.is_ascii_digit()) {
                let Ok(code) = word.parse::<u8>() else {
                    continue;
                };
                assert!(
                    EXIT_CODES.iter().any(|r| r.exit.code() == code),
                    "`{}` help names exit code {code}, which the table does not have",
                    sub.get_name()
                );
            }
        }
        assert!(seen >= 5, "{seen} subcommands document exit codes");
    }

    /// Each command's `--help` ends with its rows of the one table, and
    /// every text fits a terminal.
    #[test]
    fn each_commands_help_ends_with_its_rows_of_the_table() {
        use clap::CommandFactory;
        let mut cli = crate::cli::Cli::command();
        cli.build();
        let mut names: Vec<(&[&str], HelpFor)> = vec![
            (&["check"], HelpFor::Check),
            (&["batch"], HelpFor::Batch),
            (&["check-new-customer"], HelpFor::NewCustomer),
            (&["snapshot"], HelpFor::Snapshot),
            (&["auth"], HelpFor::Auth),
            (&["auth", "login"], HelpFor::Auth),
            (&["auth", "status"], HelpFor::Auth),
            (&["auth", "refresh"], HelpFor::Auth),
            (&["check-order"], HelpFor::CheckOrder),
        ];
        if cfg!(feature = "serve") {
            names.push((&["serve"], HelpFor::Serve));
            names.push((&["proxy"], HelpFor::Serve));
        }
        for (path, command) in names {
            let mut sub = &cli;
            for name in path {
                sub = sub.find_subcommand(name).expect("a subcommand");
            }
            let help = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            let block = exit_codes_help_for(command);
            assert!(help.ends_with(&block), "{path:?}:\n{help}");
            assert!(block.lines().all(|l| l.len() <= 80), "{block}");
            assert_eq!(help.matches("Exit codes:").count(), 1, "{path:?}");
        }
        // Every code a command's column names is one the command can exit
        // with, and the first row (0) is there for every command.
        for (i, _) in HelpFor::ALL.iter().enumerate() {
            assert!(!EXIT_CODES[0].commands[i].is_empty());
        }
    }

    #[test]
    fn help_lists_every_code_once() {
        let help = exit_codes_help();
        for row in EXIT_CODES {
            let prefix = format!("\n  {:<4} ", row.exit.code());
            assert_eq!(help.matches(&prefix).count(), 1, "{help}");
        }
        assert!(help.lines().all(|l| l.len() <= 80), "{help}");
    }
}
