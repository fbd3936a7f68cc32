//! Exports as downloads: a lot's history and a query page as a GS1 EPCIS 2.0 `EPCISDocument`
//! (`application/ld+json`), and the FSMA 204 style CSV of Key Data Elements
//! (`text/csv; charset=utf-8`) of a lot, an operator's events in a period, or every event in
//! a period.
//!
//! The lot exports are public, like provenance. The operator and period exports are audit
//! exports: the handler parses and checks what they concern first, in one place, where access
//! control will decide. The work (reads, documents, CSV) runs on the blocking pool, and lot
//! and audit exports take one of the places provenance requests share, so exports cannot
//! crowd out ingest.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::auth::Auditor;
use super::params::{lookup_key, query_page, urlencode};
use super::{AppState, Code, Problem};
use crate::export::{self, ExportError, Selection, epcis};
use crate::state::query::Scan;
use lotline_profile::profile;

type Data = web::Data<AppState>;

const LD_JSON: &str = "application/ld+json";
const CSV: &str = "text/csv; charset=utf-8";

impl From<ExportError> for Problem {
    fn from(e: ExportError) -> Problem {
        match e {
            ExportError::Ledger(l) => l.into(),
            ExportError::TooLarge(m) => Problem::new(Code::ExportTooLarge, m),
        }
    }
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A place among the heavy reads allowed at once (shared with provenance requests).
async fn slot(data: &Data) -> Result<tokio::sync::SemaphorePermit<'_>, Problem> {
    data.provenance_slots
        .acquire()
        .await
        .map_err(Problem::internal)
}

fn download(content_type: &str, file_name: &str, body: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file_name}\""),
        ))
        .body(body)
}

/// `GET /v1/events?…&format=EPCISDocument` (and `/v1/epcs/{epc}/events`): one page of the
/// query as an `EPCISDocument` download. Paging is the query's: the next page's token and URL
/// are in the `Link` and `GS1-Next-Page-Token` headers and, so a saved file still knows them,
/// in `lotline:nextPageToken` and `lotline:nextPage`. Registrar documents are not EPCIS events
/// and are skipped without counting towards `perPage`.
pub(super) async fn query_document(
    data: &Data,
    req: &HttpRequest,
    q: HashMap<String, String>,
) -> Result<HttpResponse, Problem> {
    let ledger = data.ledger.clone();
    let path = req.path().to_owned();
    let request = req.uri().to_string();
    let created = now_rfc3339();
    let (body, next) = web::block(move || -> Result<_, Problem> {
        let page = query_page(&ledger, &path, &q)?;
        let entries = export::prepare(&ledger, page.entries)?;
        let look = export::epcis_lookup(&ledger, &entries)?;
        let mut ext: Vec<(&str, Value)> = vec![
            ("lotline:log", json!({"origin": ledger.origin()})),
            ("lotline:query", json!(request)),
        ];
        if let Some((token, url)) = &page.next {
            ext.push(("lotline:nextPageToken", json!(token)));
            ext.push(("lotline:nextPage", json!(url)));
        }
        let doc = epcis::document(&entries, &look, &created, ext);
        let body = serde_json::to_vec(&doc).map_err(Problem::internal)?;
        Ok((body, page.next))
    })
    .await
    .map_err(Problem::internal)??;
    // `20261120T093000Z`: when the page was taken.
    let stamp: String = now_rfc3339()
        .chars()
        .take(19)
        .filter(|c| c.is_ascii_digit() || *c == 'T')
        .chain(['Z'])
        .collect();
    let mut res = download(LD_JSON, &format!("epcis-events-{stamp}.jsonld"), body);
    if let Some((token, url)) = next {
        let h = res.headers_mut();
        if let Ok(v) = header::HeaderValue::from_str(&format!("<{url}>; rel=\"next\"")) {
            h.insert(header::LINK, v);
        }
        if let Ok(v) = header::HeaderValue::from_str(&token) {
            h.insert(header::HeaderName::from_static("gs1-next-page-token"), v);
        }
    }
    Ok(res)
}

fn lot_not_found(id: &str) -> Problem {
    Problem::not_found(format!(
        "no lot, item or unit {id} is recorded in this ledger"
    ))
}

/// `GET /v1/lots/{id}/epcis`: the lot's history — the EPCIS events its provenance bundle
/// carries, in log order — as an `EPCISDocument` download.
pub(super) async fn lot_epcis(
    data: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let key = lookup_key(&path)?;
    let _slot = slot(&data).await?;
    let ledger = data.ledger.clone();
    let created = now_rfc3339();
    let made = web::block(move || -> Result<Option<(Vec<u8>, String)>, Problem> {
        let Some(plan) = crate::provenance::plan(&ledger, &key)? else {
            return Ok(None);
        };
        let Some(lot) = ledger.state().lot(&key).map_err(Problem::internal)? else {
            return Ok(None);
        };
        let indexes: Vec<u64> = plan.indexes.iter().copied().collect();
        let entries = export::read_entries(&ledger, &indexes)?;
        let look = export::epcis_lookup(&ledger, &entries)?;
        let doc = epcis::document(
            &entries,
            &look,
            &created,
            vec![
                ("lotline:subject", json!(lot.id)),
                ("lotline:log", json!({"origin": ledger.origin()})),
                (
                    "lotline:provenanceBundle",
                    json!(format!("/v1/lots/{}/bundle", urlencode(&lot.id))),
                ),
            ],
        );
        let body = serde_json::to_vec(&doc).map_err(Problem::internal)?;
        Ok(Some((body, lot.id)))
    })
    .await
    .map_err(Problem::internal)??;
    let (body, id) = made.ok_or_else(|| lot_not_found(&path))?;
    Ok(download(
        LD_JSON,
        &format!("epcis-{}.jsonld", export::file_name_part(&id)),
        body,
    ))
}

/// What an FSMA 204 export covers.
#[derive(Debug, Clone, PartialEq)]
enum Target {
    /// A lot's history (public).
    Lot { key: String },
    /// The events an operator recorded in `[from_ms, until_ms)` (audit).
    Operator {
        actor: String,
        from_ms: i64,
        until_ms: i64,
    },
    /// Every event in `[from_ms, until_ms)` (audit).
    Period { from_ms: i64, until_ms: i64 },
}

/// `YYYY-MM-DD` (midnight UTC) or an RFC 3339 date-time, in milliseconds.
fn date_param(q: &HashMap<String, String>, name: &str) -> Result<i64, Problem> {
    let v = q.get(name).ok_or_else(|| {
        Problem::invalid_parameter(
            name,
            "required: operator and period exports cover a bounded range, e.g. from=2026-10-01&to=2026-11-01",
        )
    })?;
    profile::parse_instant_ms(v).ok_or_else(|| {
        Problem::invalid_parameter(
            name,
            format!("{v:?} is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time"),
        )
    })
}

/// Checks the parameters of an FSMA 204 export: `lot`, or `operator` with `from` and `to`, or
/// `from` and `to`.
fn parse_target(q: &HashMap<String, String>) -> Result<Target, Problem> {
    const KNOWN: &[&str] = &["lot", "operator", "from", "to", "access_token"];
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Problem::invalid_parameter(
            k,
            "not a parameter of this export; use lot, or operator with from and to, or from and to",
        ));
    }
    match (q.get("lot"), q.get("operator")) {
        (Some(_), Some(_)) => Err(Problem::invalid_parameter(
            "operator",
            "give lot or operator, not both",
        )),
        (Some(lot), None) => {
            if let Some(k) = ["from", "to"].into_iter().find(|k| q.contains_key(*k)) {
                return Err(Problem::invalid_parameter(
                    k,
                    "a lot export covers the lot's whole history; from and to go with operator or alone",
                ));
            }
            let key = lookup_key(lot).map_err(|p| {
                Problem::invalid_parameter("lot", p.detail.trim_start_matches("id: "))
            })?;
            Ok(Target::Lot { key })
        }
        (None, operator) => {
            let from_ms = date_param(q, "from")?;
            let until_ms = date_param(q, "to")?;
            if until_ms <= from_ms {
                return Err(Problem::invalid_parameter(
                    "to",
                    "must be later than from (the range is from ≤ event time < to)",
                ));
            }
            Ok(match operator {
                Some(a) if a.is_empty() => {
                    return Err(Problem::invalid_parameter("operator", "empty actor id"));
                }
                Some(a) => Target::Operator {
                    actor: a.clone(),
                    from_ms,
                    until_ms,
                },
                None => Target::Period { from_ms, until_ms },
            })
        }
    }
}

/// `GET /v1/export/fsma204.csv?lot=ID` | `?operator=ACTOR&from=&to=` | `?from=&to=`.
pub(super) async fn fsma204(
    data: Data,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    let q = query.into_inner();
    let target = parse_target(&q)?;
    // `Target::Lot` is public (like provenance); `Operator` and `Period` are audit exports: a
    // certifier sees only operators it certifies, a whole period is for registrars.
    match &target {
        Target::Lot { .. } => {}
        Target::Operator { actor, .. } => {
            let auditor = Auditor::authenticate(&req)?;
            let reader = data.ledger.state();
            if reader.actor(actor).map_err(Problem::internal)?.is_none() {
                return Err(Problem::not_found(format!(
                    "no actor {actor} is registered"
                )));
            }
            auditor.may_audit_operator(&reader, actor)?;
        }
        _ => Auditor::authenticate(&req)?.require_registrar("a period's export")?,
    }
    let audit = !matches!(target, Target::Lot { .. });
    let name_of = |k: &str| export::file_name_part(q.get(k).map_or("", String::as_str));
    let range = format!("{}-{}", name_of("from"), name_of("to"));
    let _slot = slot(&data).await?;
    let ledger = data.ledger.clone();
    let made = web::block(move || -> Result<Option<(String, String)>, Problem> {
        let (selection, name) = match target {
            Target::Lot { key } => {
                let Some(plan) = crate::provenance::plan(&ledger, &key)? else {
                    return Ok(None);
                };
                let Some(lot) = ledger.state().lot(&key).map_err(Problem::internal)? else {
                    return Ok(None);
                };
                (
                    Selection::Entries(plan.indexes.into_iter().collect()),
                    format!("fsma204-{}.csv", export::file_name_part(&lot.id)),
                )
            }
            Target::Operator {
                actor,
                from_ms,
                until_ms,
            } => {
                let name = format!("fsma204-{}-{range}.csv", export::file_name_part(&actor));
                (
                    Selection::Scan {
                        scan: Scan::Actor(actor),
                        from_ms,
                        until_ms,
                    },
                    name,
                )
            }
            Target::Period { from_ms, until_ms } => (
                Selection::Scan {
                    scan: Scan::All,
                    from_ms,
                    until_ms,
                },
                format!("fsma204-{range}.csv"),
            ),
        };
        Ok(Some((export::fsma_csv(&ledger, &selection)?, name)))
    })
    .await
    .map_err(Problem::internal)??;
    let Some((csv, name)) = made else {
        return Err(lot_not_found(q.get("lot").map_or("", String::as_str)));
    };
    let mut res = download(CSV, &name, csv.into_bytes());
    if audit {
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    Ok(res)
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
    fn fsma_parameters_are_checked_at_the_edge() {
        let bad = |pairs: &[(&str, &str)]| {
            let p = parse_target(&q(pairs)).unwrap_err();
            assert_eq!(p.code, "invalid_parameter", "{pairs:?}: {p}");
            p.detail
        };
        assert!(bad(&[]).starts_with("from:"));
        assert!(bad(&[("from", "2026-10-01")]).starts_with("to:"));
        assert!(bad(&[("from", "2026-10-02"), ("to", "2026-10-01")]).starts_with("to:"));
        assert!(bad(&[("from", "2026-10-01"), ("to", "2026-10-01")]).starts_with("to:"));
        assert!(bad(&[("from", "2026-13-01"), ("to", "2026-10-01")]).starts_with("from:"));
        assert!(bad(&[("from", "yesterday"), ("to", "2026-10-01")]).starts_with("from:"));
        assert!(bad(&[("lot", "x"), ("operator", "y")]).starts_with("operator:"));
        assert!(bad(&[("lot", "not-an-epc")]).starts_with("lot:"));
        let lot = lotline_scenario::lgtin("010001", "L1");
        assert!(bad(&[("lot", &lot), ("from", "2026-10-01")]).starts_with("from:"));
        assert!(bad(&[("limit", "5")]).starts_with("limit:"));
        assert!(
            bad(&[
                ("operator", ""),
                ("from", "2026-10-01"),
                ("to", "2026-11-01")
            ])
            .starts_with("operator:")
        );

        assert!(matches!(
            parse_target(&q(&[("lot", &lot)])),
            Ok(Target::Lot { .. })
        ));
        assert_eq!(
            parse_target(&q(&[
                ("operator", "urn:epc:id:pgln:8841234.00031"),
                ("from", "2026-10-01"),
                ("to", "2026-10-01T12:00:00+07:00"),
            ]))
            .unwrap(),
            Target::Operator {
                actor: "urn:epc:id:pgln:8841234.00031".into(),
                from_ms: 1_790_812_800_000,
                until_ms: 1_790_812_800_000 + 5 * 3_600_000,
            }
        );
    }
}
