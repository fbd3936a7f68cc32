//! Provenance on the server: a lot's upstream history gathered from the ledger into an offline
//! proof bundle ([`collect`]: [`plan`], then [`build`] against a checkpoint). What the bundle
//! means and how it is checked is the offline verifier's, `lotline_verify`, re-exported here:
//! the server runs exactly what a buyer runs. [`view`] is what the buyer page shows of a
//! verified bundle; the few facts it shares with the provenance document are stated once, here.

pub mod cache;
pub mod collect;
pub mod view;

pub use collect::{CollectError, EntryCache, Plan, build, claims, plan};
pub use lotline_verify::*;

/// The subject's EPC URI: its lot node's, or its key if the claims have no node for it.
pub fn subject_id<'a>(bundle: &'a Bundle, claims: &'a Claims) -> &'a str {
    claims
        .lots
        .iter()
        .find(|l| l.key == bundle.subject)
        .map_or(bundle.subject.as_str(), |l| l.id.as_str())
}

/// The verdict in one sentence, as the provenance document and the buyer page state it.
pub fn summary(report: &Report) -> String {
    if report.verified {
        format!(
            "{} entries checked: event signatures, each signer's registration and role at the event's time, chain links, and inclusion in the log's signed checkpoint of size {}",
            report.entries,
            report.tree_size.unwrap_or(0)
        )
    } else {
        format!(
            "{} problem(s) found in {} entries",
            report.findings.len(),
            report.entries
        )
    }
}

/// The checkpoint a bundle's signed note states, if its body parses. (Whether its signature
/// verifies is the report's business.)
pub fn checkpoint(note: &str) -> Option<tlog::note::Checkpoint> {
    // The body is the note without its signature lines, with its final newline.
    let body = note.find("\n\n").map_or(note, |i| &note[..=i]);
    tlog::note::Checkpoint::parse(body).ok()
}
