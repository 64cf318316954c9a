//! `snapshot`: record the live ION responses a check reads.

use super::{client, load_rules, runtime, write_stdout};
use crate::CheckRequest;
use crate::cli::args::SnapshotArgs;
use crate::cli::exit::{CliError, Exit};
use crate::cli::input::read_order;
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
    if let Some(order) = order {
        req = req.with_order(order);
    }
    let written = runtime()?.block_on(record_snapshot(&client, &req, rules.needs(), &args.out))?;
    report_written(&written)?;
    eprintln!(
        "recorded {} file(s) into {}; replay with: ion-preflight check --data {} --account {} --customer {}",
        written.len(),
        args.out.display(),
        args.out.display(),
        args.account,
        customer
    );
    Ok(Exit::Ready)
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
    report_written(&written)?;
    eprintln!(
        "recorded {} file(s) into {}; replay with: ion-preflight check-new-customer --data {} --account {} --payload {}",
        written.len(),
        args.out.display(),
        args.out.display(),
        args.account,
        input.display()
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
