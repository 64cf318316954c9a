//! ION response bodies: the input is split at the first 0xFF byte into a
//! customer body and a cloud-profiles body, read through a snapshot
//! directory (the same parsing as live answers), and checked. Never a
//! panic; `ready` only when the customer body was valid JSON.

#![no_main]

use ion_preflight::report::Verdict;
use ion_preflight::rules::RuleSet;
use ion_preflight::source::SnapshotSource;
use ion_preflight::{CheckRequest, Preflight};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (customer, profiles) = match data.iter().position(|b| *b == 0xFF) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"{}"[..]),
    };
    let Ok(dir) = tempfile_dir() else { return };
    let base = dir.join("accounts/1001/customers");
    if std::fs::create_dir_all(base.join("2002")).is_err()
        || std::fs::write(base.join("2002.json"), customer).is_err()
        || std::fs::write(base.join("2002/cloudProfiles.json"), profiles).is_err()
    {
        return;
    }
    let Ok(source) = SnapshotSource::open(&dir) else {
        return;
    };
    let preflight = Preflight::new(source, RuleSet::builtin());
    let Ok(rt) = tokio_rt() else { return };
    let report = rt.block_on(preflight.check(CheckRequest::new(1001, 2002)));
    if report.verdict == Verdict::Ready {
        assert!(serde_json::from_slice::<serde_json::Value>(customer).is_ok());
    }
});

/// One scratch directory per process (the fuzzer runs inputs one by one).
fn tempfile_dir() -> std::io::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("ion-preflight-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn tokio_rt() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
