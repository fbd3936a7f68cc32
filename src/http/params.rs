//! What the read routes share at the edge: the identifier a URL names ([`lookup_key`]), URL
//! encoding for the links answers carry ([`urlencode`]), and the EPCIS-style event query — its
//! parameters checked, one page read and the next page linked ([`query_page`]), in the format
//! asked for ([`wants_document`]).
//!
//! The route modules depend on this one and never on each other for these, so the JSON answer
//! (`supply`) and the `EPCISDocument` download (`export`) read the same pages without an import
//! circle.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use super::Problem;
use crate::ledger::{Ledger, LedgerError};
use crate::state::query::{Scan, StateReader};
use crate::store::StoreError;
use gs1::digital_link;
use lotline_profile::entry::Entry;
use lotline_profile::profile;

const DEFAULT_PER_PAGE: usize = 100;
const MAX_PER_PAGE: usize = 1000;

/// The query parameters the event query knows; any other is refused.
const KNOWN: &[&str] = &[
    "EQ_bizStep",
    "GE_eventTime",
    "LT_eventTime",
    "MATCH_epc",
    "MATCH_epcClass",
    "EQ_actor",
    "perPage",
    "nextPageToken",
    "format",
];

/// The canonical key of an identifier given in a URL: an EPC URI (pure identity, tag or raw),
/// an LGTIN class, bare RFID hex, or a GS1 Digital Link URI.
pub(super) fn lookup_key(s: &str) -> Result<String, Problem> {
    if s.starts_with("http://") || s.starts_with("https://") || s.starts_with('/') {
        return digital_link::parse_digital_link(s)
            .map(|k| k.dl_path())
            .map_err(|e| Problem::invalid_parameter("id", format!("{s:?}: {e}")));
    }
    profile::ident(s, "")
        .map(|i| i.key)
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

/// Checks the query parameters `q` and reads one page. With `epcis_only`, registrar documents
/// are skipped without counting towards the page size.
pub(super) fn query_page(
    ledger: &Ledger,
    path: &str,
    q: &HashMap<String, String>,
    epcis_only: bool,
) -> Result<QueryPage, Problem> {
    let query = EventQuery::parse(q)?;
    let reader = ledger.state();
    let page = reader
        .scan(
            &query.scan,
            query.from,
            query.until,
            query.token.as_deref(),
            query.per_page,
            |index| query.keeps(ledger, &reader, index, epcis_only),
        )
        .map_err(Problem::internal)?;
    let entries = page
        .indexes
        .iter()
        .map(|i| indexed_entry(ledger, *i))
        .collect::<Result<Vec<_>, _>>()?;
    let next = page.next.map(|next| next_page(path, q, &next));
    Ok(QueryPage { entries, next })
}

/// The event query's parameters, checked: the index to walk and the conditions it does not
/// already imply, which are checked per candidate.
struct EventQuery {
    scan: Scan,
    from: i64,
    until: i64,
    per_page: usize,
    /// Where the previous page stopped.
    token: Option<Vec<u8>>,
    /// `EQ_bizStep`, unless the scan walks the bizStep index.
    check_step: Option<String>,
    /// `EQ_actor`, unless the scan walks the actor index.
    check_actor: Option<String>,
}

impl EventQuery {
    /// Checks the parameters in the order their errors are reported: unknown names, `perPage`,
    /// the times, the identifier, the page token.
    fn parse(q: &HashMap<String, String>) -> Result<EventQuery, Problem> {
        if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(Problem::invalid_parameter(
                k,
                format!("not a supported query parameter; use {}", KNOWN.join(", ")),
            ));
        }
        let per_page = per_page(q)?;
        let from = time_param(q, "GE_eventTime")?.unwrap_or(i64::MIN);
        let until = time_param(q, "LT_eventTime")?.unwrap_or(i64::MAX);
        let step = q.get("EQ_bizStep").cloned();
        let ident = ident_param(q)?;
        let actor = q.get("EQ_actor").cloned();
        // Walk the most selective index; check the other conditions per candidate.
        let scan = match (&ident, &actor, &step) {
            (Some(k), ..) => Scan::Ident(k.clone()),
            (None, Some(a), _) => Scan::Actor(a.clone()),
            (None, None, Some(s)) => Scan::BizStep(s.clone()),
            _ => Scan::All,
        };
        let token = token_param(q, &scan)?;
        let check_step = step.filter(|_| !matches!(scan, Scan::BizStep(_)));
        let check_actor = actor.filter(|_| !matches!(scan, Scan::Actor(_)));
        Ok(EventQuery {
            scan,
            from,
            until,
            per_page,
            token,
            check_step,
            check_actor,
        })
    }

    /// Whether the candidate entry at `index` meets the conditions the scanned index does not
    /// imply (and, with `epcis_only`, is an EPCIS event).
    fn keeps(
        &self,
        ledger: &Ledger,
        reader: &StateReader<'_>,
        index: u64,
        epcis_only: bool,
    ) -> Result<bool, StoreError> {
        if self.check_step.is_none() && self.check_actor.is_none() && !epcis_only {
            return Ok(true);
        }
        if self.check_actor.is_some() || epcis_only {
            let meta = reader.meta(index)?;
            if epcis_only && meta.as_ref().is_some_and(|m| !m.kind.is_epcis()) {
                return Ok(false);
            }
            if let Some(a) = &self.check_actor
                && meta.and_then(|m| m.actor).as_deref() != Some(a.as_str())
            {
                return Ok(false);
            }
        }
        if let Some(s) = &self.check_step {
            // A storage fault is an error, not a non-match.
            let bytes = match ledger.entry(index) {
                Ok(Some(b)) => b,
                Ok(None) => {
                    return Err(StoreError::Corrupt(format!(
                        "indexed entry {index} is missing"
                    )));
                }
                Err(LedgerError::Store(e)) => return Err(e),
                Err(e) => return Err(StoreError::Corrupt(e.to_string())),
            };
            let e = Entry::parse(&bytes)
                .map_err(|e| StoreError::Corrupt(format!("entry {index}: {e}")))?;
            if e.event.get("bizStep").and_then(Value::as_str) != Some(s.as_str()) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// `perPage`: 1 to [`MAX_PER_PAGE`], [`DEFAULT_PER_PAGE`] when absent.
fn per_page(q: &HashMap<String, String>) -> Result<usize, Problem> {
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

fn time_param(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Problem> {
    q.get(name)
        .map(|v| {
            profile::parse_time_ms(v).ok_or_else(|| {
                Problem::invalid_parameter(name, format!("{v:?} is not an RFC 3339 date-time"))
            })
        })
        .transpose()
}

/// The canonical key of `MATCH_epc` or `MATCH_epcClass` (one of them, one identifier).
fn ident_param(q: &HashMap<String, String>) -> Result<Option<String>, Problem> {
    match (q.get("MATCH_epc"), q.get("MATCH_epcClass")) {
        (Some(_), Some(_)) => Err(Problem::invalid_parameter(
            "MATCH_epcClass",
            "give MATCH_epc or MATCH_epcClass, not both",
        )),
        (Some(v), None) | (None, Some(v)) => {
            if v.contains('*') || v.contains(',') {
                return Err(Problem::invalid_parameter(
                    "MATCH_epc",
                    "patterns and lists are not supported yet; give one EPC or class URI",
                ));
            }
            Ok(Some(lookup_key(v)?))
        }
        (None, None) => Ok(None),
    }
}

/// `nextPageToken`, decoded; only a token this same query returned is accepted.
fn token_param(q: &HashMap<String, String>, scan: &Scan) -> Result<Option<Vec<u8>>, Problem> {
    q.get("nextPageToken")
        .map(|t| {
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .filter(|b| StateReader::token_matches(scan, b))
                .ok_or_else(|| {
                    Problem::invalid_parameter(
                        "nextPageToken",
                        "not a token of this query; repeat the query with the token it returned",
                    )
                })
        })
        .transpose()
}

/// The next page's token and URL: `path` with the query's parameters, sorted, and the token.
fn next_page(path: &str, q: &HashMap<String, String>, next: &[u8]) -> (String, String) {
    let token = URL_SAFE_NO_PAD.encode(next);
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
