//! What a verifier reports: one [`Finding`] per thing wrong with a bundle, each with a stable
//! [`FindingCode`].

use serde::{Serialize, Serializer};

/// One thing that is wrong with a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: FindingCode,
    /// Where: `checkpoint`, `entry 12`, `actor …`, `claims.plots`.
    pub at: String,
    pub message: String,
}

/// What kind of thing is wrong with a bundle. The codes are part of the verifier's output
/// (`lotline verify --json`, the API's `problems`), so the wire form is a stable snake_case
/// string, e.g. `chain_link`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingCode {
    /// Not a bundle of a type and version this verifier reads, or entries out of order.
    BundleFormat,
    /// The checkpoint's signature does not verify with the log key, or it is for another log.
    Checkpoint,
    /// An entry is not a lotline entry.
    EntryMalformed,
    /// An entry is not proved to be in the checkpoint's tree.
    InclusionProof,
    /// An event's signature is not valid, or not by the key the entry names.
    Signature,
    /// An entry does not name the hash of the one before it.
    ChainLink,
    /// An event is not a valid document of the profile.
    EventInvalid,
    /// A registrar entry is not signed by a trusted registrar key, or does not apply.
    Registrar,
    /// An actor record differs from what the registrar entries made, or is missing.
    ActorRecord,
    /// An event's signer was not authorised for it at the event's time.
    Unauthorised,
    /// A certification entry does not apply.
    Certificate,
    /// A part of the claims does not follow from the entries, or no entry creates the subject.
    Claims,
    /// A lot of the history comes without the entry that created it.
    IncompleteHistory,
    /// The bundle's plausibility bounds differ from the verifier's.
    Bounds,
}

impl FindingCode {
    /// Every code, in declaration order.
    pub const ALL: &[FindingCode] = &[
        FindingCode::BundleFormat,
        FindingCode::Checkpoint,
        FindingCode::EntryMalformed,
        FindingCode::InclusionProof,
        FindingCode::Signature,
        FindingCode::ChainLink,
        FindingCode::EventInvalid,
        FindingCode::Registrar,
        FindingCode::ActorRecord,
        FindingCode::Unauthorised,
        FindingCode::Certificate,
        FindingCode::Claims,
        FindingCode::IncompleteHistory,
        FindingCode::Bounds,
    ];

    /// The code as it appears on the wire, e.g. `chain_link`.
    pub const fn as_str(self) -> &'static str {
        match self {
            FindingCode::BundleFormat => "bundle_format",
            FindingCode::Checkpoint => "checkpoint",
            FindingCode::EntryMalformed => "entry_malformed",
            FindingCode::InclusionProof => "inclusion_proof",
            FindingCode::Signature => "signature",
            FindingCode::ChainLink => "chain_link",
            FindingCode::EventInvalid => "event_invalid",
            FindingCode::Registrar => "registrar",
            FindingCode::ActorRecord => "actor_record",
            FindingCode::Unauthorised => "unauthorised",
            FindingCode::Certificate => "certificate",
            FindingCode::Claims => "claims",
            FindingCode::IncompleteHistory => "incomplete_history",
            FindingCode::Bounds => "bounds",
        }
    }
}

impl std::fmt::Display for FindingCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets tests and callers compare with the wire form: `assert_eq!(f.code, "chain_link")`.
impl PartialEq<&str> for FindingCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for FindingCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case_on_the_wire() {
        let mut seen = std::collections::HashSet::new();
        for code in FindingCode::ALL {
            let c = code.as_str();
            assert!(seen.insert(c), "{c} twice");
            assert!(
                c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{c}"
            );
            assert_eq!(serde_json::to_value(code).unwrap(), c);
        }
    }
}
