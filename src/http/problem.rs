//! RFC 9457 problem details: the one place where errors become HTTP status codes.
//!
//! Every error answer is `application/problem+json` with a stable `code` a program can branch on
//! (also encoded in `type` as `urn:lotline:problem:<code>`), a `title` per code, and a `detail`
//! a person can act on. Server faults are logged with their cause and answered with an opaque
//! `internal` problem: clients never see internals, and client mistakes are never 500s.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::ledger::{AppendError, LedgerError};
use data_integrity::json::JsonError;
use lotline_profile::event::Rejection;

/// A problem, ready to be sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The problem type, `urn:lotline:problem:<code>` (the code, serialised as its URI; a
    /// second `&'static str` keeps the value small, as every handler returns it by value).
    #[serde(rename = "type", serialize_with = "ser_type")]
    pub type_code: &'static str,
    pub title: &'static str,
    #[serde(serialize_with = "ser_status")]
    pub status: StatusCode,
    pub detail: String,
    pub code: &'static str,
    /// RFC 6901 pointer into the submitted JSON, for schema violations and JSON errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<Box<str>>,
    /// For `profile_violation`: the profile rule broken, as named in `schemas/README.md`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// For `overloaded` and `not_yet_checkpointed`: seconds after which a retry should succeed.
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

fn ser_type<S: serde::Serializer>(code: &&'static str, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&format!("urn:lotline:problem:{code}"))
}

fn ser_status<S: serde::Serializer>(s: &StatusCode, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_u16(s.as_u16())
}

/// The stable codes, with their status and title. Documented in README.md; never rename one.
const CODES: &[(&str, u16, &str)] = &[
    ("malformed_json", 400, "The body is not valid JSON"),
    ("too_deep", 400, "The JSON is nested too deeply"),
    (
        "invalid_parameter",
        400,
        "A path or query parameter is invalid",
    ),
    (
        "tree_size_out_of_range",
        400,
        "The tree size is out of range",
    ),
    ("not_found", 404, "Not found"),
    ("method_not_allowed", 405, "Method not allowed"),
    (
        "event_id_conflict",
        409,
        "The eventID is already used by a different event",
    ),
    ("payload_too_large", 413, "The body is too large"),
    ("batch_too_large", 413, "The batch has too many events"),
    (
        "schema_violation",
        422,
        "The event does not match the schema",
    ),
    (
        "invalid_signature",
        422,
        "The event's signature is not valid",
    ),
    (
        "unsupported_proof",
        422,
        "The event's proof is of an unsupported kind",
    ),
    (
        "profile_violation",
        422,
        "The event is outside the lotline EPCIS profile",
    ),
    ("unknown_unit", 422, "The unit is not a known mass unit"),
    (
        "event_time_in_future",
        422,
        "The eventTime lies too far in the future",
    ),
    (
        "not_registrar",
        422,
        "The document needs a registrar's signature",
    ),
    ("unknown_actor", 422, "The actor is not registered"),
    (
        "unknown_party",
        422,
        "A party named in the event is not registered",
    ),
    (
        "key_not_valid",
        422,
        "The signing key was not valid at the event's time",
    ),
    (
        "missing_role",
        422,
        "The actor lacks the role this event needs",
    ),
    (
        "actor_mismatch",
        422,
        "The event names a different actor than the one who signed it",
    ),
    ("unknown_lot", 422, "The lot or EPC is not in the ledger"),
    (
        "outputs_exceed_inputs",
        422,
        "The outputs of the transformation outweigh its inputs",
    ),
    ("unknown_event", 422, "The event is not in the ledger"),
    (
        "correction_mismatch",
        422,
        "The error declaration does not repeat the erroneous event",
    ),
    (
        "not_original_actor",
        422,
        "Only the actor who signed an event may declare it erroneous",
    ),
    ("actor_exists", 409, "The actor is already registered"),
    ("key_in_use", 409, "The key already belongs to an actor"),
    (
        "unknown_key",
        409,
        "The key is not a current key of the actor",
    ),
    (
        "role_already_granted",
        409,
        "The actor already holds the role",
    ),
    ("role_not_granted", 409, "The actor does not hold the role"),
    ("already_commissioned", 409, "The lot or EPC already exists"),
    ("not_custodian", 409, "The actor does not hold the goods"),
    (
        "insufficient_balance",
        409,
        "The balance is smaller than the quantity used",
    ),
    (
        "no_matching_shipping",
        409,
        "No matching shipment awaits receiving",
    ),
    (
        "already_packed",
        409,
        "The item is packed in a logistic unit",
    ),
    ("not_packed", 409, "The item is not packed in that unit"),
    (
        "already_corrected",
        409,
        "The event was already declared erroneous",
    ),
    (
        "correction_conflict",
        409,
        "Later events depend on the event being corrected",
    ),
    (
        "unknown_certificate",
        422,
        "The certificate was never issued in this ledger",
    ),
    (
        "certificate_not_held",
        422,
        "The certificate belongs to another operator",
    ),
    (
        "not_certificate_issuer",
        422,
        "Only the certifier that issued a certificate may change it",
    ),
    (
        "certificate_subject_changed",
        422,
        "An amendment cannot change a certificate's subject",
    ),
    (
        "certificate_exists",
        409,
        "The certificate is already issued",
    ),
    (
        "certificate_withdrawn",
        409,
        "The certificate was withdrawn and cannot change",
    ),
    (
        "already_suspended",
        409,
        "The certificate is already suspended",
    ),
    ("not_suspended", 409, "The certificate is not suspended"),
    (
        "unauthenticated",
        401,
        "This resource needs a certifier's or registrar's audit token",
    ),
    (
        "forbidden",
        403,
        "The token's holder may not audit this operator",
    ),
    (
        "history_too_large",
        422,
        "The lot's history is larger than one bundle carries",
    ),
    (
        "export_too_large",
        422,
        "The export is larger than one file carries",
    ),
    (
        "trace_too_large",
        422,
        "The downstream trace is larger than one answer carries",
    ),
    ("overloaded", 503, "The ledger is busy"),
    (
        "not_yet_checkpointed",
        503,
        "No checkpoint covers this entry yet",
    ),
    ("unavailable", 503, "The ledger is not accepting writes"),
    ("internal", 500, "Internal error"),
];

impl Problem {
    /// A problem with a code from the table above.
    pub fn new(code: &'static str, detail: impl Into<String>) -> Problem {
        let (code, status, title) = CODES
            .iter()
            .copied()
            .find(|(c, _, _)| *c == code)
            .unwrap_or(("internal", 500, "Internal error"));
        Problem {
            type_code: code,
            title,
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            detail: detail.into(),
            code,
            pointer: None,
            rule: None,
            retry_after: None,
        }
    }

    pub fn with_rule(mut self, rule: &'static str) -> Problem {
        self.rule = Some(rule);
        self
    }

    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Problem {
        self.pointer = Some(pointer.into().into_boxed_str());
        self
    }

    pub fn retry_after(mut self, seconds: u32) -> Problem {
        self.retry_after = Some(seconds);
        self
    }

    pub fn not_found(what: impl Into<String>) -> Problem {
        Problem::new("not_found", what)
    }

    pub fn invalid_parameter(name: &str, why: impl std::fmt::Display) -> Problem {
        Problem::new("invalid_parameter", format!("{name}: {why}"))
    }

    /// Logs the cause and returns the opaque answer.
    pub fn internal(cause: impl std::fmt::Display) -> Problem {
        tracing::error!(cause = %cause, "internal error");
        Problem::new(
            "internal",
            "the server could not complete the request; it has been logged",
        )
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl ResponseError for Problem {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let Some(s) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750: what to send instead.
            res.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"lotline audit\""),
            ));
        }
        res.body(serde_json::to_vec(self).unwrap_or_default())
    }
}

impl From<JsonError> for Problem {
    fn from(e: JsonError) -> Problem {
        match &e {
            JsonError::TooDeep { .. } => Problem::new("too_deep", e.to_string()),
            JsonError::DuplicateKey { pointer, .. } | JsonError::NumberOutOfRange { pointer } => {
                let pointer = pointer.clone();
                Problem::new("malformed_json", e.to_string()).with_pointer(pointer)
            }
            _ => Problem::new("malformed_json", e.to_string()),
        }
    }
}

impl From<Rejection> for Problem {
    fn from(r: Rejection) -> Problem {
        match r {
            Rejection::Schema { pointer, message } => {
                Problem::new("schema_violation", message).with_pointer(pointer)
            }
            Rejection::UnsupportedProof(e) => Problem::new("unsupported_proof", e.to_string()),
            Rejection::InvalidSignature(e) => Problem::new("invalid_signature", e.to_string()),
            Rejection::Profile(v) => {
                let detail = v.to_string();
                let p = Problem::new(v.code, detail).with_pointer(v.pointer);
                if v.rule.is_empty() {
                    p
                } else {
                    p.with_rule(v.rule)
                }
            }
        }
    }
}

impl From<LedgerError> for Problem {
    fn from(e: LedgerError) -> Problem {
        match e {
            LedgerError::Overloaded => Problem::new("overloaded", e.to_string()).retry_after(1),
            LedgerError::Closed => Problem::new("unavailable", e.to_string()).retry_after(5),
            LedgerError::TreeSizeOutOfRange(_) => {
                Problem::new("tree_size_out_of_range", e.to_string())
            }
            LedgerError::NotYetCheckpointed { .. } => {
                Problem::new("not_yet_checkpointed", e.to_string()).retry_after(1)
            }
            LedgerError::Store(_) | LedgerError::Io(_) | LedgerError::Config(_) => {
                Problem::internal(e)
            }
        }
    }
}

impl From<AppendError> for Problem {
    fn from(e: AppendError) -> Problem {
        match e {
            AppendError::Conflict { .. } => Problem::new("event_id_conflict", e.to_string()),
            AppendError::Storage(_) => Problem::internal(e),
            AppendError::Rejected(r) => Problem::new(r.code, r.message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_itself() {
        for (code, status, _) in CODES {
            let p = Problem::new(code, "x");
            assert_eq!(p.code, *code);
            assert_eq!(p.status.as_u16(), *status);
            let v = serde_json::to_value(&p).unwrap();
            assert_eq!(v["type"], format!("urn:lotline:problem:{code}"));
        }
    }

    /// A refusal whose code is missing from `CODES` would be answered as a 500: every code the
    /// rules and the profile can give must be in the table.
    #[test]
    fn every_code_the_rules_give_is_in_the_table() {
        let sources = [
            include_str!("../state/apply.rs"),
            include_str!("../ledger/sequencer.rs"),
            include_str!("../../crates/profile/src/profile.rs"),
        ];
        let mut found = 0;
        for src in sources {
            for marker in ["fail(", "fail::<()>(", "code: \""] {
                for (at, _) in src.match_indices(marker) {
                    let rest = &src[at + marker.len()..];
                    // The first string literal after the marker (for `code: "` the marker ends
                    // inside it).
                    let lit = if marker.ends_with('"') {
                        rest
                    } else {
                        match rest.find('"') {
                            Some(i) if rest[..i].trim().is_empty() => &rest[i + 1..],
                            _ => continue,
                        }
                    };
                    let code = &lit[..lit.find('"').unwrap()];
                    assert!(
                        CODES.iter().any(|(c, _, _)| *c == code),
                        "code {code:?} is not in CODES"
                    );
                    found += 1;
                }
            }
        }
        assert!(found > 40, "only {found} codes found; the scan is broken");
    }

    #[test]
    fn back_pressure_says_when_to_retry() {
        for (err, code) in [
            (LedgerError::Overloaded, "overloaded"),
            (LedgerError::Closed, "unavailable"),
            (
                LedgerError::NotYetCheckpointed { index: 3 },
                "not_yet_checkpointed",
            ),
        ] {
            let res = Problem::from(err).error_response();
            assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE, "{code}");
            assert!(res.headers().contains_key(header::RETRY_AFTER), "{code}");
        }
        let internal = Problem::from(LedgerError::Io("disk on fire".into()));
        assert_eq!(internal.code, "internal");
        assert!(!internal.detail.contains("disk"), "internals must not leak");
    }

    #[test]
    fn problem_json_shape() {
        let p = Problem::new("schema_violation", "eventID is required").with_pointer("");
        let v: serde_json::Value = serde_json::to_value(&p).unwrap();
        assert_eq!(v["status"], 422);
        assert_eq!(v["code"], "schema_violation");
        assert_eq!(v["pointer"], "");
        assert!(v.get("retryAfter").is_none());
    }
}
