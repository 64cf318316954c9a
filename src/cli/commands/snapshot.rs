//! `snapshot`: record the live ION responses a check reads.

use super::{client, load_rules, runtime, write_stdout};
use crate::CheckRequest;
use crate::cli::args::SnapshotArgs;
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::read_order;
use crate::source::record_snapshot;

/// Runs `snapshot`.
pub fn run(args: SnapshotArgs) -> Result<Exit, CliError> {
    let rules = load_rules(&args.rules)?;
    let order = args.order.as_ref().map(read_order).transpose()?;
    let client = client(args.ion.base_url.as_deref())?;
    let mut req = CheckRequest::new(args.account, args.customer);
    if let Some(order) = order {
        req = req.with_order(order);
    }
    let written = runtime()?.block_on(record_snapshot(&client, &req, rules.needs(), &args.out))?;
    let mut out = String::new();
    for path in &written {
        out.push_str(&format!("{}\n", path.display()));
    }
    write_stdout(out.as_bytes())?;
    eprintln!(
        "recorded {} file(s) into {}; replay with: ion-preflight check --data {} --account {} --customer {}",
        written.len(),
        args.out.display(),
        args.out.display(),
        args.account,
        args.customer
    );
    Ok(Exit::Ready)
}
