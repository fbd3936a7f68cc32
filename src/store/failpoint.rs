//! Injected disk faults, for the tests of the fail-stop path (tests/it/faults.rs).
//!
//! Compiled only with the cargo feature `fault-injection`; a production build has none of
//! this, and [`check`] makes it refuse to start when `LOTLINE_FAILPOINT` is set (see
//! `super::failpoint_off`). The variable names one fault, read once per process:
//!
//! - `commit-write:N` — the Nth commit that writes log entries fails before anything is
//!   written: nothing of the group reaches the disk.
//! - `commit-sync:N` — the Nth such commit is written and synced, then reported as failed: the
//!   "outcome unknown" case of the store's contract, where the entries may be on disk although
//!   no client was told so.
//!
//! Only commits carrying entries count (not checkpoint-only writes, whose timing depends on
//! the clock), so a test can say which group fails. Commits are numbered from 1 from the
//! process's start.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::StoreError;

/// The environment variable naming the fault.
pub const VAR: &str = "LOTLINE_FAILPOINT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Fail before writing.
    Write(u64),
    /// Write and sync, then fail.
    Sync(u64),
}

fn parse(spec: &str) -> Result<Fault, String> {
    let bad = || {
        format!(
            "{VAR}={spec:?}: expected commit-write:N or commit-sync:N with N a whole number from 1"
        )
    };
    let (kind, n) = spec.trim().split_once(':').ok_or_else(bad)?;
    let n: u64 = n.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    match kind {
        "commit-write" => Ok(Fault::Write(n)),
        "commit-sync" => Ok(Fault::Sync(n)),
        _ => Err(bad()),
    }
}

/// The configured fault, read once.
fn fault() -> &'static Result<Option<Fault>, String> {
    static FAULT: OnceLock<Result<Option<Fault>, String>> = OnceLock::new();
    FAULT.get_or_init(|| match std::env::var(VAR) {
        Ok(spec) if !spec.is_empty() => parse(&spec).map(Some),
        _ => Ok(None),
    })
}

/// How many commits carrying entries this process has begun.
static LOG_COMMITS: AtomicU64 = AtomicU64::new(0);

/// Refuses a malformed `LOTLINE_FAILPOINT` (when the store opens), and says loudly that one is
/// armed.
pub(super) fn check() -> Result<(), StoreError> {
    match fault() {
        Err(e) => Err(StoreError::Injected(e.clone())),
        Ok(Some(f)) => {
            tracing::warn!(fault = ?f, "fault injection armed ({VAR})");
            Ok(())
        }
        Ok(None) => Ok(()),
    }
}

/// Where a commit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    BeforeWrite,
    AfterSync,
}

/// Called by `Store::commit` before the write (which counts the commit when `logs`, i.e. it
/// carries entries) and after it: the injected failure, if this is the commit and the stage.
pub(super) fn hit(stage: Stage, logs: bool) -> Result<(), StoreError> {
    let Ok(Some(fault)) = fault() else {
        return Ok(());
    };
    if !logs {
        return Ok(());
    }
    let n = match stage {
        Stage::BeforeWrite => LOG_COMMITS.fetch_add(1, Ordering::SeqCst) + 1,
        Stage::AfterSync => LOG_COMMITS.load(Ordering::SeqCst),
    };
    match (*fault, stage) {
        (Fault::Write(k), Stage::BeforeWrite) if k == n => Err(StoreError::Injected(format!(
            "injected fault: log commit {n} failed before writing"
        ))),
        (Fault::Sync(k), Stage::AfterSync) if k == n => Err(StoreError::Injected(format!(
            "injected fault: log commit {n} was written but its sync reported failure"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_two_faults_and_nothing_else() {
        assert_eq!(parse("commit-write:3"), Ok(Fault::Write(3)));
        assert_eq!(parse("commit-sync:1"), Ok(Fault::Sync(1)));
        for bad in [
            "commit-write",
            "commit-write:0",
            "commit-write:-1",
            "commit-flush:2",
            "",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
