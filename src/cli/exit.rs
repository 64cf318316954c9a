//! Exit codes and the errors a user can cause, each mapped to one.

use std::process::ExitCode;

use crate::report::Verdict;
use crate::rules::RuleLoadError;
use crate::rules::testing::RuleTestError;

use super::input::{CustomersFileError, OrderFileError};
use super::payload::PayloadFileError;

/// The process exit codes, documented in `--help` and the README.
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
    /// The exit code for one check's verdict.
    pub fn from_verdict(verdict: Verdict) -> Exit {
        match verdict {
            Verdict::Ready => Exit::Ready,
            Verdict::Blocked => Exit::Blocked,
            Verdict::Indeterminate => Exit::Indeterminate,
        }
    }

    /// The exit code of a batch: 3 if any check is indeterminate, else 1 if
    /// any is blocked, else 0.
    pub fn for_batch(ready: usize, blocked: usize, indeterminate: usize) -> Exit {
        let _ = ready;
        if indeterminate > 0 {
            Exit::Indeterminate
        } else if blocked > 0 {
            Exit::Blocked
        } else {
            Exit::Ready
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e as u8)
    }
}

/// The exit-code table shown at the end of `--help` (a macro so that
/// `concat!` can use it).
macro_rules! exit_codes_help {
    () => {
        "\
Exit codes:
  0    ready (batch: every check ready; rules test: every case passed)
  1    blocked: a rule at or above --fail-on failed (batch: at least one
       blocked, none indeterminate; rules test: a case failed)
  2    usage, configuration, rule-file, order-, payload- or customers-file error
  3    indeterminate: data needed by a blocking rule could not be fetched
       (batch: at least one indeterminate, or listing customers failed)
  130  batch interrupted by Ctrl-C (finished reports were written whole)"
    };
}
pub(crate) use exit_codes_help;

/// An error that ends the command, with one readable message.
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
    /// A configuration problem (missing credentials, bad base URL, …).
    #[error("{0}")]
    Config(String),
    /// A rule id that the rule set does not have.
    #[error("{0}")]
    Usage(String),
    /// ION data could not be fetched (listing, snapshot recording).
    #[error("{0}")]
    Data(String),
    /// The output could not be written.
    #[error("cannot write to {what}: {source}")]
    Output {
        /// stdout, or a path.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl CliError {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            CliError::Data(_) => Exit::Indeterminate,
            _ => Exit::Usage,
        }
    }

    /// A write error on stdout.
    pub fn stdout(source: std::io::Error) -> CliError {
        CliError::Output {
            what: "stdout".into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_map_to_documented_codes() {
        assert_eq!(Exit::from_verdict(Verdict::Ready) as u8, 0);
        assert_eq!(Exit::from_verdict(Verdict::Blocked) as u8, 1);
        assert_eq!(Exit::from_verdict(Verdict::Indeterminate) as u8, 3);
    }

    #[test]
    fn batch_indeterminate_beats_blocked_beats_ready() {
        assert_eq!(Exit::for_batch(5, 0, 0), Exit::Ready);
        assert_eq!(Exit::for_batch(0, 0, 0), Exit::Ready);
        assert_eq!(Exit::for_batch(5, 1, 0), Exit::Blocked);
        assert_eq!(Exit::for_batch(5, 1, 1), Exit::Indeterminate);
        assert_eq!(Exit::for_batch(0, 0, 1), Exit::Indeterminate);
    }

    #[test]
    fn errors_map_to_codes() {
        assert_eq!(CliError::Config("x".into()).exit(), Exit::Usage);
        assert_eq!(CliError::Data("x".into()).exit(), Exit::Indeterminate);
    }
}
