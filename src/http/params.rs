//! What the read routes share at the edge: the identifier a URL names ([`lookup_key`]), URL
//! encoding for the links answers carry ([`urlencode`]), and the EPCIS-style event query — its
//! parameters checked, one page read and the next page linked ([`query_page`]), in the format
//! asked for ([`wants_document`]).
//!
//! The route modules depend on this one and never on each other for these, so the JSON answer
//! (`supply`) and the `EPCISDocument` download (`export`) read the same pages without an import
//! circle.

use std::collections::HashMap;

use serde_json::Value;

use super::Problem;
use crate::ledger::Ledger;
use gs1::digital_link;
use lotline_profile::entry::Entry;
use lotline_profile::profile;

use crate::query::{DEFAULT_PER_PAGE, MAX_PER_PAGE, Query, QueryError};

/// The canonical key of an identifier given in a URL: an EPC URI (pure identity, tag or raw),
/// an LGTIN class, bare RFID hex, or a GS1 Digital Link URI.
pub(super) fn lookup_key(s: &str) -> Result<String, Problem> {
    if s.starts_with("http://") || s.starts_with("https://") || s.starts_with('/') {
        return digital_link::parse_digital_link(s)
            .map(|k| k.dl_path())
            .map_err(|e| Problem::invalid_parameter("id", format!("{s:?}: {e}")));
    }
    profile::ident(s, "")
        .map(|i| i.key.clone())
        .map_err(|v| Problem::invalid_parameter("id", v.message))
}

/// Percent-encodes everything but unreserved characters and `:`, for identifiers and
/// parameters in the links answers carry.
pub(super) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The stored entry an index points at.
pub(super) fn indexed_entry(ledger: &Ledger, index: u64) -> Result<Entry, Problem> {
    let bytes = ledger
        .entry(index)?
        .ok_or_else(|| Problem::internal(format!("indexed entry {index} is missing")))?;
    Entry::parse(&bytes).map_err(Problem::internal)
}

/// Whether the query asks for an `EPCISDocument` (`format=EPCISDocument`) rather than the
/// default `EPCISQueryDocument`.
pub(super) fn wants_document(q: &HashMap<String, String>) -> Result<bool, Problem> {
    match q.get("format").map(String::as_str) {
        None | Some("EPCISQueryDocument") => Ok(false),
        Some("EPCISDocument") => Ok(true),
        Some(other) => Err(Problem::invalid_parameter(
            "format",
            format!("{other:?}: use EPCISQueryDocument (the default) or EPCISDocument"),
        )),
    }
}

/// One page of the EPCIS-style query: its entries in event-time order, and the next page's
/// token and URL (under `path`, with the same parameters) if there may be one.
pub(super) struct QueryPage {
    pub entries: Vec<Entry>,
    pub next: Option<(String, String)>,
}

/// Checks the query parameters `q` and reads one page (see [`crate::query`]): EPCIS events
/// only, in the order asked for.
pub(super) fn query_page(
    ledger: &Ledger,
    path: &str,
    q: &HashMap<String, String>,
) -> Result<QueryPage, Problem> {
    let query = parse_query(q)?;
    let per_page = per_page_of(q)?;
    let page = query
        .page(
            ledger.store(),
            q.get("nextPageToken").map(String::as_str),
            per_page,
        )
        .map_err(query_problem)?;
    let next = page.next.map(|token| next_page(path, q, &token));
    Ok(QueryPage {
        entries: page.entries,
        next,
    })
}

/// The query a request's parameters ask for; a parameter lotline does not answer is a 400.
pub(super) fn parse_query(q: &HashMap<String, String>) -> Result<Query, Problem> {
    let values: Vec<(&str, Value)> = q
        .iter()
        .map(|(k, v)| (k.as_str(), Value::String(v.clone())))
        .collect();
    Query::parse(values.iter().map(|(k, v)| (*k, v)))
        .map_err(|e| Problem::invalid_parameter(&e.name, e.message))
}

pub(super) fn query_problem(e: QueryError) -> Problem {
    match e {
        QueryError::Store(e) => Problem::internal(e),
        QueryError::Token(m) => Problem::invalid_parameter("nextPageToken", m),
        QueryError::TooMany(m) => Problem::new(super::Code::QueryTooLarge, m),
    }
}

/// `perPage`: 1 to [`MAX_PER_PAGE`], [`DEFAULT_PER_PAGE`] when absent.
pub(super) fn per_page_of(q: &HashMap<String, String>) -> Result<usize, Problem> {
    let Some(v) = q.get("perPage") else {
        return Ok(DEFAULT_PER_PAGE);
    };
    v.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_PER_PAGE).contains(n))
        .ok_or_else(|| {
            Problem::invalid_parameter("perPage", format!("{v:?}: expected 1 to {MAX_PER_PAGE}"))
        })
}

/// The next page's token and URL: `path` with the query's parameters, sorted, and the token.
fn next_page(path: &str, q: &HashMap<String, String>, token: &str) -> (String, String) {
    let token = token.to_owned();
    let mut url = format!("{path}?");
    let mut params: Vec<_> = q.iter().filter(|(k, _)| *k != "nextPageToken").collect();
    params.sort();
    for (k, v) in params {
        url.push_str(&format!("{}={}&", urlencode(k), urlencode(v)));
    }
    url.push_str(&format!("nextPageToken={token}"));
    (token, url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn format_values() {
        assert!(!wants_document(&q(&[])).unwrap());
        assert!(!wants_document(&q(&[("format", "EPCISQueryDocument")])).unwrap());
        assert!(wants_document(&q(&[("format", "EPCISDocument")])).unwrap());
        assert_eq!(
            wants_document(&q(&[("format", "csv")])).unwrap_err().code,
            "invalid_parameter"
        );
    }
}
