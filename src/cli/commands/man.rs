//! `man`: the manual page, generated (clap_mangen) from the same clap model
//! as `--help` and the shell completions, so the three never disagree.

use std::path::Path;

use clap::CommandFactory;

use super::write_stdout;
use crate::cli::args::{Cli, ManArgs};
use crate::cli::exit::{CliError, Exit};

/// Runs `man`.
pub fn run(args: ManArgs) -> Result<Exit, CliError> {
    let mut cmd = Cli::command();
    cmd.build();
    match &args.dir {
        None => {
            write_stdout(&page(&cmd)?)?;
        }
        Some(dir) => {
            let mut written = Vec::new();
            pages(&cmd, "ion-preflight", dir, &mut written)?;
            write_stdout(
                format!("wrote {} man pages to {}\n", written.len(), dir.display()).as_bytes(),
            )?;
        }
    }
    Ok(Exit::Ready)
}

/// One page in roff.
fn page(cmd: &clap::Command) -> Result<Vec<u8>, CliError> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .map_err(CliError::stdout)?;
    Ok(out)
}

/// `name.1` for `cmd` and `name-sub.1` for each subcommand, recursively.
fn pages(
    cmd: &clap::Command,
    name: &str,
    dir: &Path,
    written: &mut Vec<String>,
) -> Result<(), CliError> {
    let io = |what: String| move |source| CliError::Output { what, source };
    std::fs::create_dir_all(dir).map_err(io(dir.display().to_string()))?;
    // clap keeps command names as `&'static str`; a handful of pages.
    let named = cmd
        .clone()
        .name(&*Box::leak(name.to_owned().into_boxed_str()));
    let path = dir.join(format!("{name}.1"));
    crate::atomic_write::write_atomically(&path, &page(&named)?, false)
        .map_err(io(path.display().to_string()))?;
    written.push(name.to_owned());
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        pages(sub, &format!("{name}-{}", sub.get_name()), dir, written)?;
    }
    Ok(())
}
