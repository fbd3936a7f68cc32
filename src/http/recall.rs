//! Recall for auditors: `GET /v1/audit/lots/{id}/downstream`, the forward trace of a lot —
//! every lot made from it, the units that carried it, its shipments and their recipients.

use std::collections::HashMap;

use actix_web::{HttpResponse, web};

use super::supply::lookup_key;
use super::{AppState, Problem};
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
                Problem::new("trace_too_large", e.to_string())
            }
        }
    }
}

fn limits(q: &HashMap<String, String>) -> Result<Limits, Problem> {
    if let Some(k) = q.keys().find(|k| k.as_str() != "maxNodes") {
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
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    // The lot this request concerns, parsed and validated here, once.
    // access: checked here once auth lands
    let key = lookup_key(&path)?;
    let limits = limits(&query)?;
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
        assert_eq!((p.code, p.status.as_u16()), ("trace_too_large", 422));
        let p = Problem::from(TraceError::TooManyEntries(5));
        assert_eq!(p.code, "trace_too_large");
    }
}
