//! `snapshot`: record the live ION responses a check reads.

use std::path::{Path, PathBuf};

use super::{client, load_rules, runtime, write_stdout};
use crate::CheckRequest;
use crate::cli::args::SnapshotArgs;
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::{InputPath, read_order};
use crate::cli::payload::read_payload;
use crate::context::NewCustomerRequest;
use crate::rules::{Builtin, RuleSetLoader};
use crate::source::{record_new_customer, record_snapshot};

/// Runs `snapshot`.
pub fn run(args: SnapshotArgs) -> Result<Exit, CliError> {
    let Some(customer) = args.customer else {
        return run_new_customer(&args);
    };
    let rules = load_rules(&args.rules)?;
    let order = args.order.as_ref().map(read_order).transpose()?;
    let client = client(args.ion.base_url.as_deref())?;
    let mut req = CheckRequest::new(args.account, customer);
    if let Some(order) = &order {
        req = req.with_order(order.clone());
    }
    let written = runtime()?.block_on(record_snapshot(&client, &req, rules.needs(), &args.out))?;
    // An order read from stdin is kept in the snapshot, so the replay hint
    // can name it.
    let order_file = match (&args.order, &order) {
        (Some(InputPath::File(path)), _) => Some(path.clone()),
        (Some(InputPath::Stdin), Some(order)) => Some(keep_input(&args.out, "order", order)?),
        _ => None,
    };
    report_written(&written)?;
    let account = args.account.to_string();
    let customer = customer.to_string();
    let mut replay: Vec<Option<String>> = vec![
        Some("ion-preflight check --data".to_owned()),
        shell_path(&args.out),
        Some(format!("--account {account} --customer {customer}")),
    ];
    if let Some(path) = &order_file {
        replay.push(Some("--order".to_owned()));
        replay.push(shell_path(path));
    }
    replay.extend(rule_flags(&args.rules.rules, args.rules.no_default_rules));
    print_replay(written.len(), &args.out, replay);
    Ok(Exit::Ready)
}

/// Prints what was recorded and the replay command (or why it cannot be
/// printed: a path in it that is not UTF-8 would print as a different one).
fn print_replay(files: usize, out: &Path, words: Vec<Option<String>>) {
    let words: Option<Vec<String>> = words.into_iter().collect();
    match words {
        Some(words) => eprintln!(
            "recorded {files} file(s) into {}; replay with: {}",
            out.display(),
            words.join(" ")
        ),
        None => eprintln!(
            "recorded {files} file(s) into {}; the replay command cannot be printed: a path in it is not valid UTF-8",
            out.display()
        ),
    }
}

/// Writes a body read from stdin (the order, the payload) into the snapshot
/// as `DIR/{kind}-{hash}.json`, named by its content so that recordings of
/// different bodies into one directory keep each its own file (and every
/// replay hint printed stays true), for the replay to read.
fn keep_input(dir: &Path, kind: &str, body: &serde_json::Value) -> Result<PathBuf, CliError> {
    use std::hash::{Hash, Hasher};
    let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
    text.push('\n');
    let mut hasher = std::hash::DefaultHasher::new();
    text.hash(&mut hasher);
    let path = dir.join(format!("{kind}-{:016x}.json", hasher.finish()));
    crate::atomic_write::write_atomically(&path, text.as_bytes(), false).map_err(|source| {
        CliError::Output {
            what: path.display().to_string(),
            source,
        }
    })?;
    Ok(path)
}

/// The `--rules` and `--no-default-rules` flags of a replay, as given.
fn rule_flags(rules: &[PathBuf], no_default_rules: bool) -> Vec<Option<String>> {
    let mut flags = Vec::new();
    for f in rules {
        flags.push(Some("--rules".to_owned()));
        flags.push(shell_path(f));
    }
    if no_default_rules {
        flags.push(Some("--no-default-rules".to_owned()));
    }
    flags
}

/// `path` as a shell word the command line reads back as that path: a
/// leading `-` gets `./` (it would be read as a flag); `None` when the
/// path is not UTF-8 (printing it would name another path).
fn shell_path(path: &Path) -> Option<String> {
    let text = path.to_str()?;
    Some(if text.starts_with('-') {
        shell_word(&format!("./{text}"))
    } else {
        shell_word(text)
    })
}

/// `word` as a POSIX shell reads it back: unchanged when it is plain, else
/// single-quoted.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:@%+=,".contains(&b));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// `snapshot --payload`: the lookups of a new-customer check.
fn run_new_customer(args: &SnapshotArgs) -> Result<Exit, CliError> {
    let Some(input) = &args.payload else {
        return Err(CliError::Usage(
            "give --customer ID or --payload FILE".into(),
        ));
    };
    let mut loader = RuleSetLoader::starting_from(Builtin::NewCustomer);
    if args.rules.no_default_rules {
        loader = loader.without_builtin();
    }
    for f in &args.rules.rules {
        loader = super::add_rules(loader, f);
    }
    let rules = loader.load()?;
    let payload = read_payload(input)?;
    let client = client(args.ion.base_url.as_deref())?;
    let req = NewCustomerRequest::new(args.account, payload);
    let written =
        runtime()?.block_on(record_new_customer(&client, &req, rules.needs(), &args.out))?;
    let payload_file = match input {
        InputPath::File(path) => path.clone(),
        InputPath::Stdin => keep_input(&args.out, "payload", &req.payload)?,
    };
    report_written(&written)?;
    let mut replay = vec![
        Some("ion-preflight check-new-customer --data".to_owned()),
        shell_path(&args.out),
        Some(format!("--account {} --payload", args.account)),
        shell_path(&payload_file),
    ];
    replay.extend(rule_flags(&args.rules.rules, args.rules.no_default_rules));
    print_replay(written.len(), &args.out, replay);
    Ok(Exit::Ready)
}

fn report_written(written: &[std::path::PathBuf]) -> Result<(), CliError> {
    let mut out = String::new();
    for path in written {
        out.push_str(&format!("{}\n", path.display()));
    }
    write_stdout(out.as_bytes())
}
