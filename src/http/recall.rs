//! Recall for auditors: `GET /v1/audit/lots/{id}/downstream`, the forward trace of a lot —
//! every lot made from it, the units that carried it, its shipments and their recipients — and
//! `GET /v1/audit/certificates/{id}/impact?asOf=`, what withdrawing a certificate would change.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};

use super::auth::Auditor;
use super::params::lookup_key;
use super::{AppState, Code, Problem};
use crate::impact::ImpactError;
use crate::recall::{self, Limits, TraceError};

type Data = web::Data<AppState>;

/// Nodes a trace may reach unless the request asks for fewer or more.
const DEFAULT_MAX_NODES: usize = 10_000;
/// Most nodes a request may ask for.
const MAX_NODES: usize = 100_000;

impl From<TraceError> for Problem {
    fn from(e: TraceError) -> Problem {
        match e {
            TraceError::Store(s) => Problem::internal(s),
            TraceError::TooManyNodes(_) | TraceError::TooManyEntries(_) => {
                Problem::new(Code::TraceTooLarge, e.to_string())
            }
        }
    }
}

fn limits(q: &HashMap<String, String>) -> Result<Limits, Problem> {
    if let Some(k) = q
        .keys()
        .find(|k| !matches!(k.as_str(), "maxNodes" | "access_token"))
    {
        return Err(Problem::invalid_parameter(
            k,
            "not a supported query parameter; use maxNodes",
        ));
    }
    let n = match q.get("maxNodes") {
        None => DEFAULT_MAX_NODES,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_NODES).contains(n))
            .ok_or_else(|| {
                Problem::invalid_parameter("maxNodes", format!("{v:?}: expected 1 to {MAX_NODES}"))
            })?,
    };
    Ok(Limits::nodes(n))
}

/// `GET /v1/audit/lots/{id}/downstream[?maxNodes=N]`: the recall trace of a lot, item or unit.
pub(super) async fn downstream(
    data: Data,
    auditor: Auditor,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    // The lot this request concerns, parsed and validated here, once; the auditor must
    // certify someone who handled it.
    let key = lookup_key(&path)?;
    let limits = limits(&query)?;
    {
        let reader = data.ledger.state();
        let lot = reader
            .lot(&key)
            .map_err(Problem::internal)?
            .ok_or_else(|| {
                Problem::not_found(format!(
                    "no lot, item or unit {} is recorded in this ledger",
                    *path
                ))
            })?;
        auditor.may_audit_lot(&reader, &lot)?;
    }
    let ledger = data.ledger.clone();
    // The walk reads as much as the trace is large: off the event loop.
    let trace = web::block(move || recall::downstream(&ledger.state(), &key, limits))
        .await
        .map_err(Problem::internal)??;
    match trace {
        Some(t) => Ok(HttpResponse::Ok().json(t)),
        None => Err(Problem::not_found(format!(
            "no lot, item or unit {} is recorded in this ledger",
            *path
        ))),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ImpactQuery {
    as_of: String,
    /// The audit token may come in the query (see `auth`); it is read there.
    #[serde(rename = "access_token")]
    #[allow(dead_code)]
    access_token: Option<String>,
}

/// `GET /v1/audit/certificates/{id}/impact?asOf=DATE`: the lots and shipments that would lose
/// their organic status if the certificate were withdrawn from `asOf` (a date, midnight UTC, or
/// an RFC 3339 date-time). For its issuer and registrars.
pub(super) async fn impact(
    data: Data,
    auditor: Auditor,
    path: web::Path<String>,
    query: web::Query<ImpactQuery>,
) -> Result<HttpResponse, Problem> {
    let as_of = &query.as_of;
    let as_of_ms = lotline_profile::profile::parse_instant_ms(as_of).ok_or_else(|| {
        Problem::invalid_parameter(
            "asOf",
            format!("{as_of:?} is neither a date nor an RFC 3339 date-time"),
        )
    })?;
    let cert = data
        .ledger
        .state()
        .cert(&path)
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("no certificate {} was issued", *path)))?;
    auditor.may_audit_certificate(&cert)?;
    let _slot = data
        .provenance_slots
        .acquire()
        .await
        .map_err(|_| Problem::new(Code::Unavailable, "shutting down"))?;
    let ledger = data.ledger.clone();
    let bounds = data.bounds.clone();
    let answer = web::block(move || crate::impact::impact(&ledger, &cert, as_of_ms, &bounds))
        .await
        .map_err(Problem::internal)?
        .map_err(|e| match e {
            ImpactError::Trace(t) => Problem::from(t),
            ImpactError::TooLarge(m) => Problem::new(Code::TraceTooLarge, m),
            other => Problem::internal(other),
        })?;
    Ok(HttpResponse::Ok().json(answer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn max_nodes_is_checked_at_the_edge() {
        assert_eq!(limits(&q(&[])).unwrap(), Limits::nodes(DEFAULT_MAX_NODES));
        assert_eq!(limits(&q(&[("maxNodes", "7")])).unwrap().max_nodes, 7);
        for bad in ["0", "-1", "x", "100001", ""] {
            let p = limits(&q(&[("maxNodes", bad)])).unwrap_err();
            assert_eq!(p.code, "invalid_parameter", "{bad}");
        }
        assert_eq!(
            limits(&q(&[("depth", "3")])).unwrap_err().code,
            "invalid_parameter"
        );
    }

    #[test]
    fn a_trace_too_large_is_a_client_problem() {
        let p = Problem::from(TraceError::TooManyNodes(5));
        assert_eq!(
            (p.code.as_str(), p.status.as_u16()),
            ("trace_too_large", 422)
        );
        let p = Problem::from(TraceError::TooManyEntries(5));
        assert_eq!(p.code, "trace_too_large");
    }
}
