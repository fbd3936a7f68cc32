//! Why the profile or the rules refuse a document: one stable code per reason.
//!
//! The codes are part of the public contract (`docs/api.md` lists them; an answer's `code` and
//! `type` carry them), so they are an enum rather than strings: a refusal can only name a code
//! that exists, and the HTTP layer must give every code a status, or it does not compile.

crate::stable_codes! {
    /// A stable refusal code.
    pub enum Refusal {
        // What the document alone decides (the profile).
        /// The document breaks a rule of the profile (`rule` names it).
        ProfileViolation = "profile_violation",
        /// The document does not match its kind's JSON Schema.
        SchemaViolation = "schema_violation",
        /// A quantity's unit is not a mass unit.
        UnknownUnit = "unknown_unit",
        // What needs the ledger (the rules).
        EventTimeInFuture = "event_time_in_future",
        NotRegistrar = "not_registrar",
        UnknownActor = "unknown_actor",
        UnknownParty = "unknown_party",
        KeyNotValid = "key_not_valid",
        MissingRole = "missing_role",
        ActorMismatch = "actor_mismatch",
        UnknownLot = "unknown_lot",
        OutputsExceedInputs = "outputs_exceed_inputs",
        UnknownEvent = "unknown_event",
        CorrectionMismatch = "correction_mismatch",
        NotOriginalActor = "not_original_actor",
        ActorExists = "actor_exists",
        KeyInUse = "key_in_use",
        UnknownKey = "unknown_key",
        RoleAlreadyGranted = "role_already_granted",
        RoleNotGranted = "role_not_granted",
        AlreadyCommissioned = "already_commissioned",
        /// Another event with the same CBV 2.0 event hash (the same content) is logged.
        DuplicateEvent = "duplicate_event",
        NotCustodian = "not_custodian",
        InsufficientBalance = "insufficient_balance",
        NoMatchingShipping = "no_matching_shipping",
        AlreadyPacked = "already_packed",
        NotPacked = "not_packed",
        AlreadyCorrected = "already_corrected",
        CorrectionConflict = "correction_conflict",
        UnknownCertificate = "unknown_certificate",
        CertificateNotHeld = "certificate_not_held",
        NotCertificateIssuer = "not_certificate_issuer",
        CertificateSubjectChanged = "certificate_subject_changed",
        CertificateExists = "certificate_exists",
        CertificateWithdrawn = "certificate_withdrawn",
        AlreadySuspended = "already_suspended",
        NotSuspended = "not_suspended",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for r in Refusal::ALL {
            let c = r.as_str();
            assert!(seen.insert(c), "{c} twice");
            assert!(
                c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{c}"
            );
        }
    }
}
