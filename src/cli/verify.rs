//! `verify-proof`: checks a tlog-proof file offline, trusting only the log's verifier key.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use data_integrity::di;
use lotline_profile::entry::Entry;
use tlog::merkle;
use tlog::note::{self, Checkpoint, TlogProof, VerifierKey};

/// What a valid proof establishes.
#[derive(Debug)]
pub struct Verified {
    pub index: u64,
    pub tree_size: u64,
    pub origin: String,
    pub event_id: String,
    pub signer: String,
}

/// Verifies a proof file's text. `Err` is the reason it is invalid.
pub fn check(key: &VerifierKey, text: &str) -> Result<Verified, String> {
    let proof = TlogProof::parse(text).map_err(|e| format!("not a tlog-proof: {e}"))?;
    let body = note::open(&proof.checkpoint, key).map_err(|e| format!("checkpoint: {e}"))?;
    let cp = Checkpoint::parse(&body).map_err(|e| format!("checkpoint: {e}"))?;
    if cp.origin != key.name {
        return Err(format!(
            "checkpoint is for log {:?}, the key is for {:?}",
            cp.origin, key.name
        ));
    }
    let entry_bytes = proof
        .extra
        .as_deref()
        .ok_or("the proof carries no entry (its extra line is missing)")?;
    let leaf = merkle::leaf_hash(entry_bytes);
    merkle::verify_inclusion(&leaf, proof.index, cp.size, &proof.hashes, &cp.root).map_err(
        |e| {
            format!(
                "inclusion proof of entry {} in tree size {}: {e}",
                proof.index, cp.size
            )
        },
    )?;
    let entry = Entry::parse(entry_bytes).map_err(|e| format!("entry: {e}"))?;
    if entry.index != proof.index {
        return Err(format!(
            "the entry says it is entry {}, the proof is for {}",
            entry.index, proof.index
        ));
    }
    let signed = di::verify(&entry.event).map_err(|e| format!("event signature: {e}"))?;
    if signed.did != entry.signer {
        return Err(format!(
            "the entry names signer {} but {} signed the event",
            entry.signer, signed.did
        ));
    }
    Ok(Verified {
        index: proof.index,
        tree_size: cp.size,
        origin: cp.origin,
        event_id: entry.event_id().unwrap_or("?").to_owned(),
        signer: entry.signer,
    })
}

pub fn verify_proof(log_key: &str, file: &Path) -> Result<ExitCode> {
    let key = VerifierKey::parse(log_key).map_err(|e| anyhow::anyhow!("--log-key: {e}"))?;
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    match check(&key, &text) {
        Ok(v) => {
            println!(
                "valid: entry {} ({}) signed by {} is in log {} at tree size {}",
                v.index, v.event_id, v.signer, v.origin, v.tree_size
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(reason) => {
            println!("invalid: {reason}");
            Ok(ExitCode::from(1))
        }
    }
}
