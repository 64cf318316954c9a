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
        (Some(InputPath::Stdin), Some(order)) => Some(keep_input(&args.out, "order.json", order)?),
        _ => None,
    };
    report_written(&written)?;
    let mut replay = vec![
        "ion-preflight".to_owned(),
        "check".to_owned(),
        "--data".to_owned(),
        shell_word(&args.out.display().to_string()),
        "--account".to_owned(),
        args.account.to_string(),
        "--customer".to_owned(),
        customer.to_string(),
    ];
    if let Some(path) = &order_file {
        replay.push("--order".to_owned());
        replay.push(shell_word(&path.display().to_string()));
    }
    replay.extend(rule_flags(&args.rules.rules, args.rules.no_default_rules));
    eprintln!(
        "recorded {} file(s) into {}; replay with: {}",
        written.len(),
        args.out.display(),
        replay.join(" ")
    );
    Ok(Exit::Ready)
}

/// Writes a body read from stdin (the order, the payload) into the snapshot
/// as `DIR/{name}`, for the replay to read.
fn keep_input(dir: &Path, name: &str, body: &serde_json::Value) -> Result<PathBuf, CliError> {
    let path = dir.join(name);
    let mut text = serde_json::to_string_pretty(body).unwrap_or_default();
    text.push('\n');
    crate::atomic_write::write_atomically(&path, text.as_bytes(), false).map_err(|source| {
        CliError::Output {
            what: path.display().to_string(),
            source,
        }
    })?;
    Ok(path)
}

/// The `--rules` and `--no-default-rules` flags of a replay, as given.
fn rule_flags(rules: &[PathBuf], no_default_rules: bool) -> Vec<String> {
    let mut flags = Vec::new();
    for f in rules {
        flags.push("--rules".to_owned());
        flags.push(shell_word(&f.display().to_string()));
    }
    if no_default_rules {
        flags.push("--no-default-rules".to_owned());
    }
    flags
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
        InputPath::Stdin => keep_input(&args.out, "payload.json", &req.payload)?,
    };
    report_written(&written)?;
    let mut replay = format!(
        "ion-preflight check-new-customer --data {} --account {} --payload {}",
        shell_word(&args.out.display().to_string()),
        args.account,
        shell_word(&payload_file.display().to_string())
    );
    for flag in rule_flags(&args.rules.rules, args.rules.no_default_rules) {
        replay.push(' ');
        replay.push_str(&flag);
    }
    eprintln!(
        "recorded {} file(s) into {}; replay with: {replay}",
        written.len(),
        args.out.display(),
    );
    Ok(Exit::Ready)
}

fn report_written(written: &[std::path::PathBuf]) -> Result<(), CliError> {
    let mut out = String::new();
    for path in written {
        out.push_str(&format!("{}\n", path.display()));
    }
    write_stdout(out.as_bytes())
}
