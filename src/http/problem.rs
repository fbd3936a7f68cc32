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
use lotline_profile::refusal::Refusal;

/// A problem, ready to be sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The problem type, `urn:lotline:problem:<code>` (the code, serialised as its URI).
    #[serde(rename = "type", serialize_with = "ser_type")]
    pub type_code: Code,
    pub title: &'static str,
    #[serde(serialize_with = "ser_status")]
    pub status: StatusCode,
    pub detail: String,
    pub code: Code,
    /// RFC 6901 pointer into the submitted JSON, for schema violations and JSON errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<Box<str>>,
    /// For `profile_violation`: the profile rule broken, as named in `schemas/README.md`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<&'static str>,
    /// For `overloaded` and `not_yet_checkpointed`: seconds after which a retry should succeed.
    #[serde(skip)]
    pub retry_after: Option<u32>,
    /// For `not_sequencer`: the node that takes writes, also sent as `Location`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

fn ser_type<S: serde::Serializer>(code: &Code, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(&format!("urn:lotline:problem:{code}"))
}

fn ser_status<S: serde::Serializer>(s: &StatusCode, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_u16(s.as_u16())
}

/// The stable problem codes. Documented in docs/api.md; never rename one. Refusals by the
/// profile and the rules are [`Refusal`]s, carried as [`Code::Refused`]; every code has its
/// status and title in [`Code::meta`], whose exhaustive match makes a new code without a status
/// a compile error rather than a 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    MalformedJson,
    TooDeep,
    InvalidParameter,
    TreeSizeOutOfRange,
    NotFound,
    MethodNotAllowed,
    EventIdConflict,
    PayloadTooLarge,
    BatchTooLarge,
    InvalidSignature,
    UnsupportedProof,
    Unauthenticated,
    Forbidden,
    HistoryTooLarge,
    ExportTooLarge,
    TraceTooLarge,
    EntryTooLargeForBundle,
    Overloaded,
    NotYetCheckpointed,
    Unavailable,
    NotSequencer,
    NotWritten,
    QueryTooLarge,
    UnsupportedMediaType,
    Internal,
    /// A refusal by the profile or the rules.
    Refused(Refusal),
}

impl Code {
    /// The code as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Code::MalformedJson => "malformed_json",
            Code::TooDeep => "too_deep",
            Code::InvalidParameter => "invalid_parameter",
            Code::TreeSizeOutOfRange => "tree_size_out_of_range",
            Code::NotFound => "not_found",
            Code::MethodNotAllowed => "method_not_allowed",
            Code::EventIdConflict => "event_id_conflict",
            Code::PayloadTooLarge => "payload_too_large",
            Code::BatchTooLarge => "batch_too_large",
            Code::InvalidSignature => "invalid_signature",
            Code::UnsupportedProof => "unsupported_proof",
            Code::Unauthenticated => "unauthenticated",
            Code::Forbidden => "forbidden",
            Code::HistoryTooLarge => "history_too_large",
            Code::ExportTooLarge => "export_too_large",
            Code::TraceTooLarge => "trace_too_large",
            Code::EntryTooLargeForBundle => "entry_too_large_for_bundle",
            Code::Overloaded => "overloaded",
            Code::NotYetCheckpointed => "not_yet_checkpointed",
            Code::Unavailable => "unavailable",
            Code::NotSequencer => "not_sequencer",
            Code::NotWritten => "not_written",
            Code::QueryTooLarge => "query_too_large",
            Code::UnsupportedMediaType => "unsupported_media_type",
            Code::Internal => "internal",
            Code::Refused(r) => r.as_str(),
        }
    }

    /// Every code, for the table test and the docs.
    pub fn all() -> impl Iterator<Item = Code> {
        [
            Code::MalformedJson,
            Code::TooDeep,
            Code::InvalidParameter,
            Code::TreeSizeOutOfRange,
            Code::NotFound,
            Code::MethodNotAllowed,
            Code::EventIdConflict,
            Code::PayloadTooLarge,
            Code::BatchTooLarge,
            Code::InvalidSignature,
            Code::UnsupportedProof,
            Code::Unauthenticated,
            Code::Forbidden,
            Code::HistoryTooLarge,
            Code::ExportTooLarge,
            Code::TraceTooLarge,
            Code::EntryTooLargeForBundle,
            Code::Overloaded,
            Code::NotYetCheckpointed,
            Code::Unavailable,
            Code::NotSequencer,
            Code::NotWritten,
            Code::QueryTooLarge,
            Code::UnsupportedMediaType,
            Code::Internal,
        ]
        .into_iter()
        .chain(Refusal::ALL.iter().map(|r| Code::Refused(*r)))
    }

    /// The HTTP status and the title of the code.
    pub const fn meta(self) -> (u16, &'static str) {
        use Refusal as R;
        match self {
            Code::MalformedJson => (400, "The body is not valid JSON"),
            Code::TooDeep => (400, "The JSON is nested too deeply"),
            Code::InvalidParameter => (400, "A path or query parameter is invalid"),
            Code::TreeSizeOutOfRange => (400, "The tree size is out of range"),
            Code::NotFound => (404, "Not found"),
            Code::MethodNotAllowed => (405, "Method not allowed"),
            Code::EventIdConflict => (409, "The eventID is already used by a different event"),
            Code::UnsupportedMediaType => {
                (415, "The body is not in a media type this resource takes")
            }
            Code::QueryTooLarge => (
                413,
                "The query matches more events than one answer can sort",
            ),
            Code::NotWritten => (
                409,
                "Not written: another event of the same document was refused",
            ),
            Code::PayloadTooLarge => (413, "The body is too large"),
            Code::BatchTooLarge => (413, "The batch has too many events"),
            Code::InvalidSignature => (422, "The event's signature is not valid"),
            Code::UnsupportedProof => (422, "The event's proof is of an unsupported kind"),
            Code::Unauthenticated => (
                401,
                "This resource needs a certifier's or registrar's audit token",
            ),
            Code::Forbidden => (403, "The token's holder may not audit this operator"),
            Code::HistoryTooLarge => (422, "The lot's history is larger than one bundle carries"),
            Code::ExportTooLarge => (422, "The export is larger than one file carries"),
            Code::TraceTooLarge => (
                422,
                "The downstream trace is larger than one answer carries",
            ),
            Code::EntryTooLargeForBundle => {
                (422, "An entry is larger than a C2SP entry bundle carries")
            }
            Code::Overloaded => (503, "The ledger is busy"),
            Code::NotYetCheckpointed => (503, "No checkpoint covers this entry yet"),
            Code::Unavailable => (503, "The ledger is not accepting writes"),
            // 307 keeps the method and the body: a client that follows it re-sends the write.
            Code::NotSequencer => (307, "This node does not take writes; send them to Location"),
            Code::Internal => (500, "Internal error"),
            Code::Refused(R::ProfileViolation) => {
                (422, "The event is outside the lotline EPCIS profile")
            }
            Code::Refused(R::SchemaViolation) => (422, "The event does not match the schema"),
            Code::Refused(R::UnknownUnit) => (422, "The unit is not a known mass unit"),
            Code::Refused(R::EventTimeInFuture) => {
                (422, "The eventTime lies too far in the future")
            }
            Code::Refused(R::NotRegistrar) => (422, "The document needs a registrar's signature"),
            Code::Refused(R::UnknownActor) => (422, "The actor is not registered"),
            Code::Refused(R::UnknownParty) => (422, "A party named in the event is not registered"),
            Code::Refused(R::KeyNotValid) => {
                (422, "The signing key was not valid at the event's time")
            }
            Code::Refused(R::MissingRole) => (422, "The actor lacks the role this event needs"),
            Code::Refused(R::ActorMismatch) => (
                422,
                "The event names a different actor than the one who signed it",
            ),
            Code::Refused(R::UnknownLot) => (422, "The lot or EPC is not in the ledger"),
            Code::Refused(R::OutputsExceedInputs) => {
                (422, "The outputs of the transformation outweigh its inputs")
            }
            Code::Refused(R::UnknownEvent) => (422, "The event is not in the ledger"),
            Code::Refused(R::CorrectionMismatch) => (
                422,
                "The error declaration does not repeat the erroneous event",
            ),
            Code::Refused(R::NotOriginalActor) => (
                422,
                "Only the actor who signed an event may declare it erroneous",
            ),
            Code::Refused(R::ActorExists) => (409, "The actor is already registered"),
            Code::Refused(R::KeyInUse) => (409, "The key already belongs to an actor"),
            Code::Refused(R::UnknownKey) => (409, "The key is not a current key of the actor"),
            Code::Refused(R::RoleAlreadyGranted) => (409, "The actor already holds the role"),
            Code::Refused(R::RoleNotGranted) => (409, "The actor does not hold the role"),
            Code::Refused(R::AlreadyCommissioned) => (409, "The lot or EPC already exists"),
            Code::Refused(R::DuplicateEvent) => (409, "The same event is already logged"),
            Code::Refused(R::NotCustodian) => (409, "The actor does not hold the goods"),
            Code::Refused(R::InsufficientBalance) => {
                (409, "The balance is smaller than the quantity used")
            }
            Code::Refused(R::NoMatchingShipping) => (409, "No matching shipment awaits receiving"),
            Code::Refused(R::AlreadyPacked) => (409, "The item is packed in a logistic unit"),
            Code::Refused(R::NotPacked) => (409, "The item is not packed in that unit"),
            Code::Refused(R::AlreadyCorrected) => (409, "The event was already declared erroneous"),
            Code::Refused(R::CorrectionConflict) => {
                (409, "Later events depend on the event being corrected")
            }
            Code::Refused(R::UnknownCertificate) => {
                (422, "The certificate was never issued in this ledger")
            }
            Code::Refused(R::CertificateNotHeld) => {
                (422, "The certificate belongs to another operator")
            }
            Code::Refused(R::NotCertificateIssuer) => (
                422,
                "Only the certifier that issued a certificate may change it",
            ),
            Code::Refused(R::CertificateSubjectChanged) => {
                (422, "An amendment cannot change a certificate's subject")
            }
            Code::Refused(R::CertificateExists) => (409, "The certificate is already issued"),
            Code::Refused(R::CertificateWithdrawn) => {
                (409, "The certificate was withdrawn and cannot change")
            }
            Code::Refused(R::AlreadySuspended) => (409, "The certificate is already suspended"),
            Code::Refused(R::NotSuspended) => (409, "The certificate is not suspended"),
        }
    }
}

impl From<Refusal> for Code {
    fn from(r: Refusal) -> Code {
        Code::Refused(r)
    }
}

/// Lets tests compare with the wire form: `assert_eq!(p.code, "not_found")`.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl Problem {
    /// A problem with its code's status and title.
    pub fn new(code: impl Into<Code>, detail: impl Into<String>) -> Problem {
        let code = code.into();
        let (status, title) = code.meta();
        Problem {
            type_code: code,
            title,
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            detail: detail.into(),
            code,
            pointer: None,
            rule: None,
            retry_after: None,
            location: None,
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
        Problem::new(Code::NotFound, what)
    }

    pub fn invalid_parameter(name: &str, why: impl std::fmt::Display) -> Problem {
        Problem::new(Code::InvalidParameter, format!("{name}: {why}"))
    }

    /// Logs the cause and returns the opaque answer.
    pub fn internal(cause: impl std::fmt::Display) -> Problem {
        tracing::error!(cause = %cause, "internal error");
        Problem::new(
            Code::Internal,
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
        crate::metrics::get().problem(self.code.as_str());
        let mut res = HttpResponse::build(self.status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        // A refusal describes this moment (a lot or tile not there yet, a busy ledger): no cache
        // may keep it and answer later requests with it.
        res.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(s) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, s.to_string()));
        }
        if let Some(l) = &self.location {
            res.insert_header((header::LOCATION, l.as_str()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750: what to send instead.
            res.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"lotline audit\""),
            ));
        }
        // The request's ID, so a client can quote it and an operator find the request's logs.
        let mut body = serde_json::to_value(self).unwrap_or_default();
        if let (Some(id), Some(obj)) = (super::request_id::current(), body.as_object_mut()) {
            obj.insert("requestId".into(), serde_json::Value::String(id));
        }
        res.body(serde_json::to_vec(&body).unwrap_or_default())
    }
}

impl From<JsonError> for Problem {
    fn from(e: JsonError) -> Problem {
        match &e {
            JsonError::TooDeep { .. } => Problem::new(Code::TooDeep, e.to_string()),
            JsonError::DuplicateKey { pointer, .. } | JsonError::NumberOutOfRange { pointer } => {
                let pointer = pointer.clone();
                Problem::new(Code::MalformedJson, e.to_string()).with_pointer(pointer)
            }
            _ => Problem::new(Code::MalformedJson, e.to_string()),
        }
    }
}

impl From<Rejection> for Problem {
    fn from(r: Rejection) -> Problem {
        match r {
            Rejection::Schema { pointer, message } => {
                Problem::new(Refusal::SchemaViolation, message).with_pointer(pointer)
            }
            Rejection::UnsupportedProof(e) => Problem::new(Code::UnsupportedProof, e.to_string()),
            Rejection::InvalidSignature(e) => Problem::new(Code::InvalidSignature, e.to_string()),
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
            LedgerError::Overloaded => Problem::new(Code::Overloaded, e.to_string()).retry_after(1),
            LedgerError::Closed => Problem::new(Code::Unavailable, e.to_string()).retry_after(5),
            LedgerError::TreeSizeOutOfRange(_) => {
                Problem::new(Code::TreeSizeOutOfRange, e.to_string())
            }
            LedgerError::NotYetCheckpointed { .. } => {
                Problem::new(Code::NotYetCheckpointed, e.to_string()).retry_after(1)
            }
            LedgerError::NotSequencer {
                sequencer: Some(ref url),
            } => {
                let url = url.clone();
                let mut p = Problem::new(Code::NotSequencer, e.to_string());
                p.location = Some(url);
                p
            }
            LedgerError::NotSequencer { sequencer: None } => {
                Problem::new(Code::Unavailable, e.to_string()).retry_after(1)
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
            AppendError::Conflict { .. } => Problem::new(Code::EventIdConflict, e.to_string()),
            AppendError::Storage(_) => Problem::internal(e),
            AppendError::Unavailable(_) => {
                Problem::new(Code::Unavailable, e.to_string()).retry_after(1)
            }
            AppendError::Rejected(r) => Problem::new(r.code, r.message),
            AppendError::RolledBack { .. } => Problem::new(Code::NotWritten, e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_maps_to_itself() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::all() {
            assert!(seen.insert(code.as_str()), "{code} twice");
            let p = Problem::new(code, "x");
            assert_eq!(p.code, code);
            assert_eq!(p.status.as_u16(), code.meta().0);
            let v = serde_json::to_value(&p).unwrap();
            assert_eq!(v["type"], format!("urn:lotline:problem:{code}"));
            assert_eq!(v["code"], code.as_str());
        }
    }

    /// Only `internal` is a 500: every refusal and every client mistake is a 4xx, back pressure
    /// a 503.
    #[test]
    fn client_mistakes_are_never_500s() {
        for code in Code::all() {
            let status = code.meta().0;
            match code {
                Code::Internal => assert_eq!(status, 500),
                Code::NotSequencer => assert_eq!(status, 307),
                Code::Overloaded | Code::NotYetCheckpointed | Code::Unavailable => {
                    assert_eq!(status, 503, "{code}")
                }
                _ => assert!((400..500).contains(&status), "{code}: {status}"),
            }
        }
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
        let p = Problem::new(Refusal::SchemaViolation, "eventID is required").with_pointer("");
        let v: serde_json::Value = serde_json::to_value(&p).unwrap();
        assert_eq!(v["status"], 422);
        assert_eq!(v["code"], "schema_violation");
        assert_eq!(v["pointer"], "");
        assert!(v.get("retryAfter").is_none());
    }
}
