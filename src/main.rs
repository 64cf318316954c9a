//! The `ion-preflight` binary: everything lives in [`ion_preflight::cli`].
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    ion_preflight::cli::main()
}
