//! The command line, as clap derive structs. Tokens are never flags: they
//! come only from `ION_ACCESS_TOKEN`, `ION_REFRESH_TOKEN` and
//! `ION_TOKEN_FILE`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use super::exit::{HelpFor, exit_codes_help, exit_codes_help_for};
use super::input::{InputPath, parse_id};
use crate::report::Severity;

const MAIN_HELP: &str = "\
Examples:
  # Check an order against recorded data (no network, no credentials):
  ion-preflight check --data fixtures/demo --account 1001 --customer 2002 \\
      --order fixtures/orders/nce-order.json

  # Check against live ION (token from the environment):
  export ION_ACCOUNT_ID=1001 ION_TOKEN_FILE=~/.config/ion-preflight/token.json
  ion-preflight check --customer 2002 --order order.json --format json

  # Check every customer of the account, 16 at a time, one JSON line each:
  ion-preflight batch --all --concurrency 16 > reports.ndjson

Environment:
  ION_BASE_URL       ION host (default https://ion.tdsynnex.com); --base-url wins
  ION_ACCOUNT_ID     reseller account id; --account wins
  ION_ACCESS_TOKEN   a ready access token
  ION_REFRESH_TOKEN  a refresh token (single use: each refresh returns a new one)
  ION_TOKEN_FILE     token file: the refresh token, rotated in place, and the
                     cached access token; shared safely by overlapping runs
                     (use this for anything but one-off runs; see `auth --help`)
  ION_REQUEST_TIMEOUT timeout of one ION request (default 30s), e.g. 5s, 500ms
  ION_MAX_ATTEMPTS   tries per ION GET on timeouts, 429 and 5xx (default 4)
  ION_RETRY_BACKOFF  first pause between tries (default 200ms; doubles, with
                     jitter; a Retry-After from ION wins, up to 30s)
  RUST_LOG           log filter for stderr (default warn), e.g. ion_preflight=debug
  NO_COLOR           disables colour in text output

";

/// A command's help text followed by its exit codes, from the one table.
fn with_exit_codes(text: &str, command: HelpFor) -> String {
    format!("{text}\n\n{}", exit_codes_help_for(command))
}

/// The text after `--help`'s options: examples, the environment, and the
/// exit-code table.
fn main_help() -> String {
    format!("{MAIN_HELP}{}", exit_codes_help())
}

/// Pre-flight checks for TD SYNNEX StreamOne ION v3 orders.
///
/// Loads YAML rule sets (the built-in set unless told otherwise), fetches
/// exactly the ION data those rules read (or reads a recorded snapshot),
/// evaluates every rule and reports a verdict: ready, blocked or
/// indeterminate.
#[derive(Debug, Parser)]
#[command(
    name = "ion-preflight",
    version,
    propagate_version = true,
    arg_required_else_help = true,
    after_help = main_help()
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Colour in text output and diagnostics: auto (only on a terminal,
    /// and not with NO_COLOR), always, never.
    #[arg(long, value_enum, global = true, default_value_t, value_name = "WHEN")]
    pub color: ColorChoice,
    /// The configuration file [default: ion-preflight.toml in the working
    /// directory or the nearest parent that has one].
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// When to colour text output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ColorChoice {
    /// Only when writing to a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always (even into a pipe or a file).
    Always,
    /// Never.
    Never,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check one order for one customer.
    Check(CheckArgs),
    /// Check many customers, with bounded concurrency.
    Batch(BatchArgs),
    /// Check order files without a customer: only the rules that read
    /// nothing from ION, offline, without credentials.
    CheckOrder(CheckOrderArgs),
    /// Check a new customer's payload (or a list) before creating it.
    CheckNewCustomer(NewCustomerArgs),
    /// Work with rule files: lint, list, explain, test.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Record the live ION responses a check reads, for offline replay.
    Snapshot(SnapshotArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command.
    Man(ManArgs),
    /// Print the effective settings and where each came from (environment,
    /// ion-preflight.toml, default).
    Config(ConfigArgs),
    /// The token file: store a refresh token, show how long the tokens
    /// last, force a refresh.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Serve the pre-flight as an HTTP API (POST /v1/check, /healthz,
    /// /readyz, /metrics).
    #[cfg(feature = "serve")]
    Serve(ServeArgs),
    /// A validating proxy in front of ION: order POSTs are checked before
    /// they are forwarded.
    #[cfg(feature = "serve")]
    Proxy(ProxyArgs),
}

/// Which rules to use.
#[derive(Debug, Args, Clone, Default)]
pub struct RuleArgs {
    /// Adds a rule file on top of the built-in set (repeatable; later files
    /// override earlier ones); `builtin:new-customer` adds that built-in set.
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Leaves the built-in rule set out (use only the --rules files, so at
    /// least one is required).
    #[arg(long, requires = "rules")]
    pub no_default_rules: bool,
}

/// Where ION is.
#[derive(Debug, Args, Clone, Default)]
pub struct IonArgs {
    /// ION base URL [default: https://ion.tdsynnex.com]. Only https, except
    /// loopback addresses.
    #[arg(long, env = "ION_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
}

/// When a failure blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum FailOn {
    /// Only failing `error`-severity rules block.
    #[default]
    Error,
    /// Failing `warning`-severity rules block too.
    Warning,
    /// Every failing rule blocks, `info` ones too.
    Info,
}

impl From<FailOn> for Severity {
    fn from(f: FailOn) -> Severity {
        match f {
            FailOn::Error => Severity::Error,
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        }
    }
}

/// `-o/--output`: where the report goes instead of stdout.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArg {
    /// Write the report to FILE instead of stdout, atomically (readers see
    /// the old file or the whole new one); summaries stay on stderr.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Choosing rules on the command line. Rules left out are named in the
/// report, never dropped silently.
#[derive(Debug, Args, Clone, Default)]
pub struct SelectArgs {
    /// Evaluate only this rule (repeatable), with the rules it requires.
    #[arg(long = "only", value_name = "ID")]
    pub only: Vec<String>,
    /// Leave this rule out (repeatable); refused when a rule that stays
    /// requires it.
    #[arg(long = "skip", value_name = "ID")]
    pub skip: Vec<String>,
    /// Evaluate only rules with this tag (repeatable: any of the tags), with
    /// the rules they require.
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
}

/// How much the report says.
#[derive(Debug, Args, Clone, Copy, Default)]
pub struct DetailArgs {
    /// The text report also lists the rules that passed and the rules that
    /// were skipped, with why.
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// For each result, which branch of `when` / `any` / `all` / a
    /// quantifier decided it (text and JSON).
    #[arg(long)]
    pub explain: bool,
}

/// Output formats of `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum CheckFormat {
    /// For a person: verdict, failures with evidence, warnings, summary.
    #[default]
    Text,
    /// The report as pretty JSON (the documented shape).
    Json,
    /// JUnit XML: one test case per rule.
    Junit,
    /// GitHub Actions annotations (`::error file=…,line=…::…`), failing
    /// order items at their line in the order file.
    Github,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

/// Output formats of `batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum BatchFormat {
    /// One compact JSON report per line, written as each check finishes.
    #[default]
    Ndjson,
    /// A JSON array of reports.
    Json,
    /// JUnit XML: one test suite per customer, one test case per rule.
    Junit,
    /// A table for a person: customer, verdict, failing rules.
    Text,
}

/// `check` arguments.
#[derive(Debug, Args)]
#[command(after_help = with_exit_codes(CHECK_HELP, HelpFor::Check))]
pub struct CheckArgs {
    /// Reseller account id.
    #[arg(long, env = "ION_ACCOUNT_ID", value_name = "ID", value_parser = parse_id, allow_negative_numbers = true)]
    pub account: u64,
    /// Customer id.
    #[arg(long, value_name = "ID", value_parser = parse_id, allow_negative_numbers = true)]
    pub customer: u64,
    /// The exact JSON body you are about to POST to ION's orders endpoint
    /// (`-` reads stdin). Without it, only customer rules are checked.
    #[arg(long, value_name = "FILE", value_parser = InputPath::parse)]
    pub order: Option<InputPath>,
    /// Rule selection.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Choosing rules.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: CheckFormat,
    /// The lowest severity whose failure blocks.
    #[arg(long, value_enum, default_value_t)]
    pub fail_on: FailOn,
    /// Read a snapshot directory (see `snapshot`) instead of the network.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Where ION is.
    #[command(flatten)]
    pub ion: IonArgs,
    /// Where the report goes.
    #[command(flatten)]
    pub output: OutputArg,
    /// How much the report says.
    #[command(flatten)]
    pub detail: DetailArgs,
    /// Nothing on stderr, and no report on stdout when the verdict is
    /// ready (the exit code says it); -o FILE is still written.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Output formats of `check-order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum CheckOrderFormat {
    /// For a person: one report per file.
    #[default]
    Text,
    /// A JSON array of reports, one per file.
    Json,
    /// One compact JSON report per line, one per file.
    Ndjson,
    /// JUnit XML: one test suite per file.
    Junit,
    /// GitHub Actions annotations at the failing items' lines.
    Github,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

/// `check-order` arguments.
#[derive(Debug, Args)]
#[command(after_help = with_exit_codes(CHECK_ORDER_HELP, HelpFor::CheckOrder))]
pub struct CheckOrderArgs {
    /// Order files (JSON bodies of ION's orders endpoint; `-` reads stdin),
    /// or directories: every `*.json` file in them, recursively, in name
    /// order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Rule selection.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Choosing rules.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: CheckOrderFormat,
    /// The lowest severity whose failure blocks.
    #[arg(long, value_enum, default_value_t)]
    pub fail_on: FailOn,
    /// Where the report goes.
    #[command(flatten)]
    pub output: OutputArg,
    /// How much the report says.
    #[command(flatten)]
    pub detail: DetailArgs,
}

const CHECK_ORDER_HELP: &str = "\
Examples:
  ion-preflight check-order fixtures/orders/nce-order.json
  ion-preflight check-order orders/ --format github

Evaluates only the rules that read nothing from ION (the order and the
request); every other rule is left out and named in the report: the
checks of the customer and of ION's data were not run, and the verdict line says so.";

/// `batch` arguments.
#[derive(Debug, Args)]
#[command(after_help = with_exit_codes(BATCH_HELP, HelpFor::Batch))]
#[command(group = clap::ArgGroup::new("who").required(true).args(["customers", "all"]))]
pub struct BatchArgs {
    /// Reseller account id.
    #[arg(long, env = "ION_ACCOUNT_ID", value_name = "ID", value_parser = parse_id, allow_negative_numbers = true)]
    pub account: u64,
    /// File with one customer id per line (`-` reads stdin; blank lines and
    /// `#` comments are ignored).
    #[arg(long, value_name = "FILE", value_parser = InputPath::parse)]
    pub customers: Option<InputPath>,
    /// Check every customer of the account (listed page by page).
    #[arg(long)]
    pub all: bool,
    /// Customers per page when listing with --all.
    #[arg(long, value_name = "N", default_value_t = 100, requires = "all",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub page_size: u32,
    /// The order body to check for every customer (`-` reads stdin).
    #[arg(long, value_name = "FILE", value_parser = InputPath::parse)]
    pub order: Option<InputPath>,
    /// How many checks run at the same time.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: BatchFormat,
    /// The lowest severity whose failure blocks.
    #[arg(long, value_enum, default_value_t)]
    pub fail_on: FailOn,
    /// Rule selection.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Read a snapshot directory instead of the network.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// No progress bar and no summary on stderr.
    #[arg(long, short)]
    pub quiet: bool,
    /// Where ION is.
    #[command(flatten)]
    pub ion: IonArgs,
    /// Choosing rules.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Where the reports go.
    #[command(flatten)]
    pub output: OutputArg,
    /// With --explain, each JSON report says which branch decided each
    /// result.
    #[arg(long)]
    pub explain: bool,
}

/// Output formats of `check-new-customer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NewCustomerFormat {
    /// For a person (the default for --payload).
    Text,
    /// Pretty JSON: the report (--payload) or an array of reports
    /// (--payloads).
    Json,
    /// One compact JSON report per line, written as each check finishes
    /// (the default for --payloads).
    Ndjson,
    /// JUnit XML: one test suite per payload, one test case per rule.
    Junit,
}

/// `check-new-customer` arguments.
#[derive(Debug, Args)]
#[command(after_help = with_exit_codes(NEW_CUSTOMER_HELP, HelpFor::NewCustomer))]
#[command(group = clap::ArgGroup::new("what").required(true).args(["payload", "payloads"]))]
pub struct NewCustomerArgs {
    /// Reseller account id.
    #[arg(long, env = "ION_ACCOUNT_ID", value_name = "ID", value_parser = parse_id, allow_negative_numbers = true)]
    pub account: u64,
    /// The exact JSON body you are about to POST to ION's customers
    /// endpoint (`-` reads stdin).
    #[arg(long, value_name = "FILE", value_parser = InputPath::parse)]
    pub payload: Option<InputPath>,
    /// A list to onboard: one JSON body a line (ndjson; `-` reads stdin;
    /// blank lines are skipped). Reports are written as checks finish;
    /// payloads sharing an email with an earlier line are flagged.
    #[arg(long, value_name = "FILE", value_parser = InputPath::parse)]
    pub payloads: Option<InputPath>,
    /// How many checks of --payloads run at the same time.
    #[arg(long, value_name = "N", default_value_t = 8, requires = "payloads",
          value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub concurrency: u16,
    /// Output format [default: text for --payload, ndjson for --payloads].
    #[arg(long, value_enum)]
    pub format: Option<NewCustomerFormat>,
    /// The lowest severity whose failure blocks.
    #[arg(long, value_enum, default_value_t)]
    pub fail_on: FailOn,
    /// Adds a rule file on top of the built-in new-customer set
    /// (`builtin:new-customer`; repeatable).
    #[arg(long = "rules", value_name = "FILE")]
    pub rules: Vec<PathBuf>,
    /// Leaves the built-in new-customer rule set out (use only the --rules
    /// files, so at least one is required).
    #[arg(long, requires = "rules")]
    pub no_default_rules: bool,
    /// Read a snapshot directory (see `snapshot --payload`) instead of the
    /// network.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// No progress bar and no summary on stderr (--payloads).
    #[arg(long, short)]
    pub quiet: bool,
    /// Where ION is.
    #[command(flatten)]
    pub ion: IonArgs,
    /// Choosing rules.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Where the reports go.
    #[command(flatten)]
    pub output: OutputArg,
    /// How much the report says.
    #[command(flatten)]
    pub detail: DetailArgs,
}

const NEW_CUSTOMER_HELP: &str = "\
Examples:
  ion-preflight check-new-customer --data fixtures/demo --account 1001 \\
      --payload fixtures/new-customers/acme.json
  cat customer.json | ion-preflight check-new-customer --account 1001 --payload - --format json
  ion-preflight check-new-customer --account 1001 --payloads onboarding.ndjson > reports.ndjson

Checks what ION would refuse: a missing field (400 INVALID_REQUEST), an email
already in use (412 CUS-CR-001; looked up in this account only), an invalid
language code (412 CUS-CR-002), non-ISO country and state codes; warns about a
phone not in international form and an organization already a customer.";

/// `rules` subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate rule files and print every diagnostic.
    #[command(
        after_help = "Examples:\n  ion-preflight rules lint my-rules.yaml\n\nExit codes: 0 valid, 2 invalid."
    )]
    Lint {
        /// Rule files, loaded together on top of the built-in set.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Lint the files without the built-in set.
        #[arg(long)]
        no_default_rules: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: LintFormat,
        /// Where the report goes.
        #[command(flatten)]
        output: OutputArg,
    },
    /// List the effective rule set: id, severity, title, origin.
    #[command(
        after_help = "Examples:\n  ion-preflight rules list\n  ion-preflight rules list --rules my-rules.yaml --format json"
    )]
    List {
        /// Rule selection.
        #[command(flatten)]
        rules: RuleArgs,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: ListFormat,
        /// Where the list goes.
        #[command(flatten)]
        output: OutputArg,
    },
    /// Explain one rule: what it checks and why, its conditions, its docs.
    #[command(after_help = "Examples:\n  ion-preflight rules explain customer-active")]
    Explain {
        /// The rule id.
        id: String,
        /// Rule selection.
        #[command(flatten)]
        rules: RuleArgs,
    },
    /// Print the JSON Schema (draft 2020-12) of the rule-file format, for
    /// editors' YAML language servers.
    #[command(
        after_help = "Examples:\n  ion-preflight rules schema > .vscode/ion-preflight-rules.schema.json\n\nThen point the editor at it: a `# yaml-language-server: $schema=<file>` first line, or VS Code's `yaml.schemas` setting (docs/rules.md, \"Editor support\")."
    )]
    Schema,
    /// Run rule-test files: each case passes or fails.
    #[command(
        after_help = "Examples:\n  ion-preflight rules test rules/tests/*.yaml\n  ion-preflight rules test rules/tests/*.yaml --run 'nce' --fail-fast --format junit -o tests.xml\n\nExit codes: 0 every case passed, 1 a case failed, 2 a test file is invalid\n(or --run selected no case)."
    )]
    Test {
        /// Rule-test files.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Run only the cases whose name matches this regular expression
        /// (the rest are counted as not run).
        #[arg(long = "run", value_name = "PATTERN")]
        run: Option<String>,
        /// Stop at the first failing case (the rest are counted as not run).
        #[arg(long)]
        fail_fast: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: TestFormat,
        /// Where the results go.
        #[command(flatten)]
        output: OutputArg,
    },
    /// Write a commented starter rule file and its test file, which pass
    /// as written.
    #[command(
        after_help = "Examples:\n  ion-preflight rules init\n  ion-preflight rules init --dir policy --name acme\n  ion-preflight rules test policy/acme.test.yaml\n\nExit codes: 0 written, 2 a file exists already (nothing is overwritten) or cannot be written."
    )]
    Init {
        /// The directory to write into (created when missing).
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// The base name: NAME.yaml and NAME.test.yaml.
        #[arg(long, value_name = "NAME", default_value = "my-rules")]
        name: String,
    },
}

/// Output formats of `rules lint`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LintFormat {
    /// For a person.
    #[default]
    Text,
    /// JSON: every diagnostic with its location.
    Json,
    /// JUnit XML: one test case per file.
    Junit,
    /// GitHub Actions annotations at each diagnostic's line.
    Github,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
}

/// Output formats of `rules test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum TestFormat {
    /// For a person.
    #[default]
    Text,
    /// JSON: every case with its outcome.
    Json,
    /// JUnit XML: one test suite per file, one test case per case.
    Junit,
    /// GitHub Actions annotations at each failing case's line.
    Github,
}

/// Output formats of `rules list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ListFormat {
    /// A table.
    #[default]
    Text,
    /// A JSON array.
    Json,
}

/// `snapshot` arguments.
#[derive(Debug, Args)]
#[command(after_help = with_exit_codes(SNAPSHOT_HELP, HelpFor::Snapshot))]
pub struct SnapshotArgs {
    /// Reseller account id.
    #[arg(long, env = "ION_ACCOUNT_ID", value_name = "ID", value_parser = parse_id, allow_negative_numbers = true)]
    pub account: u64,
    /// Customer id.
    #[arg(long, value_name = "ID", value_parser = parse_id, allow_negative_numbers = true,
          required_unless_present = "payload", conflicts_with = "payload")]
    pub customer: Option<u64>,
    /// The order body (decides which product details are recorded).
    #[arg(long, value_name = "FILE", value_parser = InputPath::parse)]
    pub order: Option<InputPath>,
    /// Record the lookups a new-customer check of this payload makes
    /// (`check-new-customer --payload`) instead of a customer's data.
    #[arg(long, value_name = "FILE", value_parser = InputPath::parse, conflicts_with = "order")]
    pub payload: Option<InputPath>,
    /// Rule selection (decides which resources are recorded).
    #[command(flatten)]
    pub rules: RuleArgs,
    /// The snapshot directory to write.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Where ION is.
    #[command(flatten)]
    pub ion: IonArgs,
}

/// `man` arguments.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ion-preflight man | man -l -\n  ion-preflight man --dir /usr/local/share/man/man1\n\nExit codes: 0 written, 2 the directory cannot be written."
)]
pub struct ManArgs {
    /// Write ion-preflight.1 and one page per subcommand
    /// (ion-preflight-check.1, …) into DIR instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// `config` arguments.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ion-preflight config\n  ion-preflight --config ci/ion-preflight.toml config\n\nExit codes: 0 printed, 2 the configuration file is invalid."
)]
pub struct ConfigArgs {}

/// `completions` arguments.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  ion-preflight completions bash > /etc/bash_completion.d/ion-preflight\n  ion-preflight completions zsh > \"${fpath[1]}/_ion-preflight\""
)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

const CHECK_HELP: &str = "\
Examples:
  ion-preflight check --data fixtures/demo --account 1001 --customer 2002 \\
      --order fixtures/orders/nce-order.json
  ion-preflight check --customer 2002 --order order.json --format junit > preflight.xml
  cat order.json | ion-preflight check --customer 2002 --order - --fail-on warning";

const BATCH_HELP: &str = "\
Examples:
  ion-preflight batch --customers ids.txt --order order.json > reports.ndjson
  ion-preflight batch --all --concurrency 32 --format junit > preflight.xml

Reports go to stdout as each check finishes; a summary (counts per verdict,
most frequent failing rules) goes to stderr. Ctrl-C stops launching checks,
writes the ones in flight whole, and exits 130; a second Ctrl-C stops at once.";

const SNAPSHOT_HELP: &str = "\
Examples:
  ion-preflight snapshot --account 1001 --customer 2002 \\
      --order order.json --out support/case-4711
  ion-preflight check --data support/case-4711 --account 1001 --customer 2002 \\
      --order order.json

  ion-preflight snapshot --account 1001 --payload customer.json --out case-4712
  ion-preflight check-new-customer --data case-4712 --account 1001 --payload customer.json";

const AUTH_HELP: &str = "\
Examples:
  export ION_TOKEN_FILE=~/.config/ion-preflight/token.json
  ion-preflight auth login          # paste the refresh token from the ION portal
  ion-preflight auth status         # what is cached and how long it lasts
  ion-preflight auth refresh        # one refresh now

  # From a secret store, without a terminal:
  secret-tool lookup service ion | ion-preflight auth login --token-file token.json

The token file is shared safely by every process naming it: a valid access
token is reused between runs, and a refresh holds a lock on <file>.lock so
overlapping runs never present the same refresh token twice.";

/// `auth` subcommands.
#[derive(Debug, Subcommand)]
#[command(after_help = with_exit_codes(AUTH_HELP, HelpFor::Auth))]
pub enum AuthCommand {
    /// Store a refresh token from the ION portal in the token file, read from
    /// stdin or a hidden prompt (never from an argument).
    #[command(after_help = with_exit_codes(AUTH_HELP, HelpFor::Auth))]
    Login(LoginArgs),
    /// Show whether an access token is cached and how long it and the
    /// refresh token remain valid; asks ION when a cached access token can
    /// be checked. Never prints a token.
    #[command(after_help = with_exit_codes(AUTH_HELP, HelpFor::Auth))]
    Status(StatusArgs),
    /// Refresh now: one POST /oauth/token under the file's lock, the new
    /// tokens written to the file.
    #[command(after_help = with_exit_codes(AUTH_HELP, HelpFor::Auth))]
    Refresh(RefreshArgs),
}

/// The token file.
#[derive(Debug, Args, Clone)]
pub struct TokenFileArg {
    /// The token file.
    #[arg(long, env = "ION_TOKEN_FILE", value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// `auth login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    #[command(flatten)]
    pub file: TokenFileArg,
}

/// `auth status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub file: TokenFileArg,
    #[command(flatten)]
    pub ion: IonArgs,
    /// Do not contact ION; show only what the file says.
    #[arg(long)]
    pub offline: bool,
}

/// `auth refresh`.
#[derive(Debug, Args)]
pub struct RefreshArgs {
    #[command(flatten)]
    pub file: TokenFileArg,
    #[command(flatten)]
    pub ion: IonArgs,
}

/// The arguments of the service modes (feature `serve`).
#[cfg(feature = "serve")]
mod service_args {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::time::Duration;

    use clap::{Args, ValueEnum};

    use super::{FailOn, HelpFor, IonArgs, RuleArgs, with_exit_codes};
    use crate::service::DEFAULT_BODY_LIMIT;

    const SERVE_HELP: &str = "\
    Examples:
      # Offline, against a recorded snapshot:
      ion-preflight serve --listen 127.0.0.1:8080 --data fixtures/demo
      curl -s localhost:8080/v1/check -d '{\"account_id\": 1001, \"customer_id\": 2002}'

      # Live: callers send `Authorization: Bearer <ION access token>`; without it
      # the service's own token file is used:
      ION_TOKEN_FILE=~/.config/ion-preflight/token.json ion-preflight serve --rules my-rules.yaml

    Endpoints: POST /v1/check, POST /v1/check-new-customer, GET /healthz,
    GET /readyz, GET /metrics (docs/serve.md; the contract:
    docs/serve-openapi.yaml). SIGHUP, or a change to a rule file (Linux),
    reloads the rules (kept when the new files do not load); SIGTERM or Ctrl-C stops
    accepting, finishes the checks in flight and exits 0.";

    const PROXY_HELP: &str = "\
    Examples:
      ion-preflight proxy --listen 127.0.0.1:8443 \\
          --upstream https://ion.tdsynnex.com --mode enforce
      # then point the order system's ION base URL at http://127.0.0.1:8443

    Every request passes through unchanged; POST .../customers/{c}/orders and
    POST .../customers (customer creation) are checked first with the caller's
    bearer token. Blocked: answered with ION's 400 envelope, never forwarded. Indeterminate: 503 with Retry-After. Ready:
    forwarded once. --mode audit forwards everything and logs the verdict beside
    ION's answer (docs/serve.md, \"proxy\").";

    /// The new-customer rules of `serve` and `proxy` (the order rules are
    /// `--rules`).
    #[derive(Debug, Args, Clone, Default)]
    pub struct NewCustomerRuleArgs {
        /// Adds a rule file on top of builtin:new-customer, for new-customer
        /// checks (repeatable; later files override earlier ones).
        #[arg(long = "new-customer-rules", value_name = "FILE")]
        pub new_customer_rules: Vec<PathBuf>,
        /// Leaves builtin:new-customer out (use only the --new-customer-rules
        /// files, so at least one is required).
        #[arg(long, requires = "new_customer_rules")]
        pub no_default_new_customer_rules: bool,
    }

    /// `serve` arguments.
    #[derive(Debug, Args)]
    #[command(after_help = with_exit_codes(SERVE_HELP, HelpFor::Serve))]
    pub struct ServeArgs {
        /// The address to listen on (port 0: any free port, printed at start).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        pub listen: SocketAddr,
        /// Order rule selection (reloaded on SIGHUP).
        #[command(flatten)]
        pub rules: RuleArgs,
        /// New-customer rule selection (reloaded on SIGHUP).
        #[command(flatten)]
        pub new_customer_rules: NewCustomerRuleArgs,
        /// Do not reload the rules when their files change (SIGHUP still
        /// does). Watching needs Linux.
        #[arg(long)]
        pub no_watch_rules: bool,
        /// Read a snapshot directory instead of live ION (no credentials used).
        #[arg(long, value_name = "DIR")]
        pub data: Option<PathBuf>,
        /// Append one JSON line per decision to FILE, personal data masked.
        #[arg(long, value_name = "FILE")]
        pub decision_log: Option<PathBuf>,
        /// The lowest severity whose failure blocks.
        #[arg(long, value_enum, default_value_t)]
        pub fail_on: FailOn,
        /// The largest request body, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_BODY_LIMIT)]
        pub body_limit: usize,
        /// The longest one check may spend fetching ION data, e.g. 30s.
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
        pub check_timeout: Duration,
        /// Where ION is.
        #[command(flatten)]
        pub ion: IonArgs,
    }

    /// What the proxy does with a checked order.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
    pub enum ModeArg {
        /// Blocked and indeterminate orders never reach ION.
        Enforce,
        /// Every order reaches ION; the verdict is logged beside ION's answer.
        Audit,
    }

    /// `proxy` arguments.
    #[derive(Debug, Args)]
    #[command(after_help = with_exit_codes(PROXY_HELP, HelpFor::Serve))]
    pub struct ProxyArgs {
        /// The address to listen on (port 0: any free port, printed at start).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
        pub listen: SocketAddr,
        /// The ION base URL requests are forwarded to (https, or http on a
        /// loopback host).
        #[arg(long, value_name = "URL", default_value = crate::ion::DEFAULT_BASE_URL)]
        pub upstream: String,
        /// enforce: blocked orders never reach ION; audit: log only.
        #[arg(long, value_enum)]
        pub mode: ModeArg,
        /// Order rule selection (reloaded on SIGHUP).
        #[command(flatten)]
        pub rules: RuleArgs,
        /// New-customer rule selection (reloaded on SIGHUP).
        #[command(flatten)]
        pub new_customer_rules: NewCustomerRuleArgs,
        /// Do not reload the rules when their files change (SIGHUP still
        /// does). Watching needs Linux.
        #[arg(long)]
        pub no_watch_rules: bool,
        /// Append one JSON line per checked order to FILE (audit lines carry
        /// ION's status and codes), personal data masked.
        #[arg(long, value_name = "FILE")]
        pub decision_log: Option<PathBuf>,
        /// The lowest severity whose failure blocks.
        #[arg(long, value_enum, default_value_t)]
        pub fail_on: FailOn,
        /// The largest request body, in bytes.
        #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_BODY_LIMIT)]
        pub body_limit: usize,
        /// How long ION may take to start answering a forwarded request
        /// (then 504), e.g. 30s.
        #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = duration)]
        pub upstream_timeout: Duration,
        /// The longest one check may spend fetching ION data.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = duration)]
        pub check_timeout: Duration,
        /// The Retry-After of an indeterminate answer, e.g. 5s.
        #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = duration)]
        pub retry_after: Duration,
    }

    fn duration(text: &str) -> Result<Duration, String> {
        crate::ion::parse_duration("the duration", text).map_err(|e| e.to_string())
    }
}

#[cfg(feature = "serve")]
pub use service_args::{ModeArg, NewCustomerRuleArgs, ProxyArgs, ServeArgs};
