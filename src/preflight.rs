//! (in progress)
/// A check.
pub struct CheckRequest;
/// The checker.
pub struct Preflight;
