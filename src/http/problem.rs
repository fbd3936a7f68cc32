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

use crate::core::event::Rejection;
use crate::core::json::JsonError;
use crate::ledger::{AppendError, LedgerError};

/// A problem, ready to be sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: &'static str,
    #[serde(serialize_with = "ser_status")]
    pub status: StatusCode,
    pub detail: String,
    pub code: &'static str,
    /// RFC 6901 pointer into the submitted JSON, for schema violations and JSON errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    /// For `overloaded` and `not_yet_checkpointed`: seconds after which a retry should succeed.
    #[serde(skip)]
    pub retry_after: Option<u32>,
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
            type_uri: format!("urn:lotline:problem:{code}"),
            title,
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            detail: detail.into(),
            code,
            pointer: None,
            retry_after: None,
        }
    }

    pub fn with_pointer(mut self, pointer: impl Into<String>) -> Problem {
        self.pointer = Some(pointer.into());
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
            assert_eq!(p.type_uri, format!("urn:lotline:problem:{code}"));
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
        let p = Problem::new("schema_violation", "eventID is required").with_pointer("");
        let v: serde_json::Value = serde_json::to_value(&p).unwrap();
        assert_eq!(v["status"], 422);
        assert_eq!(v["code"], "schema_violation");
        assert_eq!(v["pointer"], "");
        assert!(v.get("retryAfter").is_none());
    }
}
