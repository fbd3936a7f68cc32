//! What a verifier reports: one [`Finding`] per thing wrong with a bundle, each with a stable
//! [`FindingCode`].

use serde::Serialize;

/// One thing that is wrong with a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub code: FindingCode,
    /// Where: `checkpoint`, `entry 12`, `actor …`, `claims.plots`.
    pub at: String,
    pub message: String,
}

lotline_profile::stable_codes! {
    /// What kind of thing is wrong with a bundle. The codes are part of the verifier's output
    /// (`lotline verify --json`, the API's `problems`), so the wire form is a stable snake_case
    /// string, e.g. `chain_link`.
    pub enum FindingCode {
        /// Not a bundle of a type and version this verifier reads, or entries out of order.
        BundleFormat = "bundle_format",
        /// The checkpoint's signature does not verify with the log key, or it is for another log.
        Checkpoint = "checkpoint",
        /// An entry is not a lotline entry.
        EntryMalformed = "entry_malformed",
        /// An entry is not proved to be in the checkpoint's tree.
        InclusionProof = "inclusion_proof",
        /// An event's signature is not valid, or not by the key the entry names.
        Signature = "signature",
        /// An entry does not name the hash of the one before it.
        ChainLink = "chain_link",
        /// An event is not a valid document of the profile.
        EventInvalid = "event_invalid",
        /// A registrar entry is not signed by a trusted registrar key, or does not apply.
        Registrar = "registrar",
        /// An actor record differs from what the registrar entries made, or is missing.
        ActorRecord = "actor_record",
        /// An event's signer was not authorised for it at the event's time.
        Unauthorised = "unauthorised",
        /// A certification entry does not apply.
        Certificate = "certificate",
        /// A part of the claims does not follow from the entries, or no entry creates the subject.
        Claims = "claims",
        /// A lot of the history comes without the entry that created it.
        IncompleteHistory = "incomplete_history",
        /// The bundle's plausibility bounds differ from the verifier's.
        Bounds = "bounds",
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
