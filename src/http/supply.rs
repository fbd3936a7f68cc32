//! Supply-chain reads: lots, actors, events by EPC and the EPCIS-style event query, and the
//! RFID decoding service.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{AppState, Code, Problem};
use crate::ledger::{Ledger, LedgerError};
use crate::state::query::{Scan, StateReader};
use crate::state::{EntryMeta, LotRecord, Origin};
use crate::store::StoreError;
use gs1::{digital_link, tds};
use lotline_profile::entry::Entry;
use lotline_profile::profile;
use lotline_profile::refusal::Refusal;

type Data = web::Data<AppState>;

/// Most events listed inline in a lot's state; the rest are a query away.
const LOT_EVENTS: usize = 500;
const DEFAULT_PER_PAGE: usize = 100;
/// Most upstream lots visited to find a lot's origins.
const MAX_GENEALOGY: usize = 100_000;
const MAX_PER_PAGE: usize = 1000;
/// EPCIS 2.0 JSON-LD context, the first item of every document lotline produces.
const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

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

fn kg(mg: i64) -> f64 {
    mg as f64 / 1e6
}

fn quantity(lot: &LotRecord, amount: i64) -> Value {
    if lot.class == profile::IdClass::Unit {
        json!({"count": amount})
    } else {
        json!({"quantity": kg(amount), "uom": "KGM"})
    }
}

/// The public view of a lot's state.
fn lot_json(lot: &LotRecord, origins: &[Origin], events: Vec<Value>, more: bool) -> Value {
    let held: Vec<Value> = lot
        .held
        .iter()
        .map(|(a, n)| json!({"actor": a, "amount": quantity(lot, *n)}))
        .collect();
    let transit: Vec<Value> = lot
        .transit
        .iter()
        .map(|t| json!({"from": t.from, "to": t.to, "amount": quantity(lot, t.amount)}))
        .collect();
    let mut farms: Vec<&str> = origins.iter().map(|o| o.farm.as_str()).collect();
    farms.sort_unstable();
    farms.dedup();
    let on_hand: i64 = lot.held.values().sum();
    json!({
        "id": lot.id,
        "digitalLinkPath": lot.key,
        "class": lot.class,
        "gtin": lot.gtin,
        "product": lot.product,
        "crop": lot.crop,
        "growingMethod": lot.growing_method,
        "created": quantity(lot, lot.amount),
        "onHand": quantity(lot, on_hand),
        "contentMass": (lot.class == profile::IdClass::Unit).then(|| json!({"quantity": kg(lot.content_mg), "uom": "KGM"})),
        "custodian": lot.custodian(),
        "held": held,
        "inTransit": transit,
        "consumed": quantity(lot, lot.consumed),
        "createdAt": lot.created_at,
        "createdBy": lot.created_by,
        "originFarms": farms,
        "origins": origins,
        "inputs": lot.inputs,
        "parent": lot.parent,
        "children": lot.children,
        "flags": lot.flags,
        "documents": lot.documents,
        "voidedBy": lot.voided_by,
        "events": events,
        "moreEvents": more.then(|| format!("/v1/epcs/{}/events", urlencode(&lot.id))),
    })
}

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
fn indexed_entry(ledger: &Ledger, index: u64) -> Result<Entry, Problem> {
    let bytes = ledger
        .entry(index)?
        .ok_or_else(|| Problem::internal(format!("indexed entry {index} is missing")))?;
    Entry::parse(&bytes).map_err(Problem::internal)
}

/// A summary of entry `index` for listings: what the rules made of it.
fn entry_summary(reader: &StateReader<'_>, e: &Entry, index: u64) -> Result<Value, Problem> {
    let meta: Option<EntryMeta> = reader.meta(index).map_err(Problem::internal)?;
    Ok(json!({
        "index": index,
        "eventID": e.event_id(),
        "eventTime": e.event.get("eventTime"),
        "recordTime": e.record_time,
        "bizStep": e.event.get("bizStep"),
        "kind": meta.as_ref().map(|m| m.kind.name()),
        "actor": meta.as_ref().and_then(|m| m.actor.clone()),
        "role": meta.as_ref().map(|m| m.role.clone()),
        "signer": e.signer,
        "flags": meta.as_ref().map(|m| m.flags.clone()).unwrap_or_default(),
        "corrects": meta.as_ref().and_then(|m| m.corrects),
        "correctedBy": meta.as_ref().and_then(|m| m.corrected_by),
        "entry": format!("/v1/entries/{index}"),
    }))
}

pub(super) async fn get_lot(data: Data, path: web::Path<String>) -> Result<HttpResponse, Problem> {
    let key = lookup_key(&path)?;
    let reader = data.ledger.state();
    let lot = reader
        .lot(&key)
        .map_err(Problem::internal)?
        .ok_or_else(|| {
            Problem::not_found(format!("no lot, item or unit {} in the ledger", *path))
        })?;
    let page = reader
        .scan(
            &Scan::Ident(key),
            i64::MIN,
            i64::MAX,
            None,
            LOT_EVENTS,
            |_| Ok(true),
        )
        .map_err(Problem::internal)?;
    let events = page
        .indexes
        .iter()
        .map(|i| entry_summary(&reader, &indexed_entry(&data.ledger, *i)?, *i))
        .collect::<Result<Vec<_>, _>>()?;
    let origins = reader
        .origins(&lot, MAX_GENEALOGY)
        .map_err(Problem::internal)?;
    Ok(HttpResponse::Ok().json(lot_json(&lot, &origins, events, page.next.is_some())))
}

pub(super) async fn get_actor(
    data: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let reader = data.ledger.state();
    let actor = reader
        .actor(&path)
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("no actor {} is registered", *path)))?;
    let mut v = serde_json::to_value(&actor).map_err(Problem::internal)?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "events".into(),
            json!(format!("/v1/events?EQ_actor={}", urlencode(&actor.id))),
        );
    }
    Ok(HttpResponse::Ok().json(v))
}

pub(super) async fn epc_events(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    let mut q = query.into_inner();
    q.insert("MATCH_epc".into(), path.into_inner());
    run_query(&data, &req, q).await
}

pub(super) async fn query_events(
    data: Data,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    run_query(&data, &req, query.into_inner()).await
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

/// The EPCIS 2.0 REST query subset lotline answers, as an `EPCISQueryDocument`; the next page
/// is linked in a `Link: <…>; rel="next"` header, as the EPCIS REST binding does. With
/// `format=EPCISDocument` the page is a download instead (see `export::query_document`).
async fn run_query(
    data: &Data,
    req: &HttpRequest,
    q: HashMap<String, String>,
) -> Result<HttpResponse, Problem> {
    if super::export::wants_document(&q)? {
        return super::export::query_document(data, req, q).await;
    }
    let page = query_page(&data.ledger, req.path(), &q, false)?;
    let reader = data.ledger.state();
    let mut summaries = Vec::with_capacity(page.entries.len());
    let mut events: Vec<Value> = Vec::with_capacity(page.entries.len());
    for e in page.entries {
        summaries.push(entry_summary(&reader, &e, e.index)?);
        events.push(e.event);
    }
    let mut res = HttpResponse::Ok();
    if let Some((token, url)) = page.next {
        res.insert_header((header::LINK, format!("<{url}>; rel=\"next\"")));
        res.insert_header(("GS1-Next-Page-Token", token));
    }
    Ok(res.json(json!({
        "@context": [EPCIS_CONTEXT, {"lotline": "https://w3id.org/lotline#"}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": { "eventList": events },
            }
        },
        "lotline:entries": summaries,
    })))
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
    if let Some(k) = q.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(Problem::invalid_parameter(
            k,
            format!("not a supported query parameter; use {}", KNOWN.join(", ")),
        ));
    }
    let per_page = match q.get("perPage") {
        None => DEFAULT_PER_PAGE,
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PER_PAGE).contains(n))
            .ok_or_else(|| {
                Problem::invalid_parameter(
                    "perPage",
                    format!("{v:?}: expected 1 to {MAX_PER_PAGE}"),
                )
            })?,
    };
    let from = time_param(q, "GE_eventTime")?.unwrap_or(i64::MIN);
    let until = time_param(q, "LT_eventTime")?.unwrap_or(i64::MAX);
    let step = q.get("EQ_bizStep").cloned();
    let ident = match (q.get("MATCH_epc"), q.get("MATCH_epcClass")) {
        (Some(_), Some(_)) => {
            return Err(Problem::invalid_parameter(
                "MATCH_epcClass",
                "give MATCH_epc or MATCH_epcClass, not both",
            ));
        }
        (Some(v), None) | (None, Some(v)) => {
            if v.contains('*') || v.contains(',') {
                return Err(Problem::invalid_parameter(
                    "MATCH_epc",
                    "patterns and lists are not supported yet; give one EPC or class URI",
                ));
            }
            Some(lookup_key(v)?)
        }
        (None, None) => None,
    };
    let actor = q.get("EQ_actor").cloned();
    // Walk the most selective index; check the other conditions per candidate.
    let scan = match (&ident, &actor, &step) {
        (Some(k), ..) => Scan::Ident(k.clone()),
        (None, Some(a), _) => Scan::Actor(a.clone()),
        (None, None, Some(s)) => Scan::BizStep(s.clone()),
        _ => Scan::All,
    };
    let token = q
        .get("nextPageToken")
        .map(|t| {
            URL_SAFE_NO_PAD
                .decode(t)
                .ok()
                .filter(|b| StateReader::token_matches(&scan, b))
                .ok_or_else(|| {
                    Problem::invalid_parameter(
                        "nextPageToken",
                        "not a token of this query; repeat the query with the token it returned",
                    )
                })
        })
        .transpose()?;

    let reader = ledger.state();
    let check_step = step.filter(|_| !matches!(scan, Scan::BizStep(_)));
    let check_actor = actor.filter(|_| !matches!(scan, Scan::Actor(_)));
    let page = reader
        .scan(&scan, from, until, token.as_deref(), per_page, |index| {
            if check_step.is_none() && check_actor.is_none() && !epcis_only {
                return Ok(true);
            }
            if check_actor.is_some() || epcis_only {
                let meta = reader.meta(index)?;
                if epcis_only && meta.as_ref().is_some_and(|m| !m.kind.is_epcis()) {
                    return Ok(false);
                }
                if let Some(a) = &check_actor
                    && meta.and_then(|m| m.actor).as_deref() != Some(a.as_str())
                {
                    return Ok(false);
                }
            }
            if let Some(s) = &check_step {
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
        })
        .map_err(Problem::internal)?;
    let entries = page
        .indexes
        .iter()
        .map(|i| indexed_entry(ledger, *i))
        .collect::<Result<Vec<_>, _>>()?;
    let next = page.next.map(|next| {
        let token = URL_SAFE_NO_PAD.encode(next);
        let mut url = format!("{path}?");
        let mut params: Vec<_> = q.iter().filter(|(k, _)| *k != "nextPageToken").collect();
        params.sort();
        for (k, v) in params {
            url.push_str(&format!("{}={}&", urlencode(k), urlencode(v)));
        }
        url.push_str(&format!("nextPageToken={token}"));
        (token, url)
    });
    Ok(QueryPage { entries, next })
}

/// `POST /v1/rfid/decode`: a JSON array of EPC bank hex strings (or `{"epcs": [...]}`); one
/// result per item, in order, each a decoding or an error.
pub(super) fn decode_batch(body: &Value, max: usize) -> Result<Value, Problem> {
    let items = match body {
        Value::Array(a) => a,
        Value::Object(o) => o.get("epcs").and_then(Value::as_array).ok_or_else(|| {
            Problem::new(
                Refusal::SchemaViolation,
                "expected {\"epcs\": [hex, ...]} or an array of hex strings",
            )
            .with_pointer("/epcs")
        })?,
        _ => {
            return Err(Problem::new(
                Refusal::SchemaViolation,
                "expected a JSON array of hex strings",
            )
            .with_pointer(""));
        }
    };
    if items.len() > max {
        return Err(Problem::new(
            Code::BatchTooLarge,
            format!("{} tags; at most {max} per request", items.len()),
        ));
    }
    let results: Vec<Value> = items
        .iter()
        .map(|item| {
            let Some(hex) = item.as_str() else {
                return json!({"input": item, "error": {"code": "invalid_epc", "detail": "expected a string of hex digits"}});
            };
            match tds::decode_hex(hex) {
                Ok(d) => json!({
                    "input": hex,
                    "scheme": d.scheme,
                    "filter": d.filter,
                    "tagUri": d.tag_uri,
                    "pureIdentity": d.pure_identity,
                    "digitalLink": digital_link::to_digital_link(&d.id, "https://id.gs1.org"),
                }),
                Err(e) => json!({"input": hex, "error": {"code": "invalid_epc", "detail": e.to_string()}}),
            }
        })
        .collect();
    Ok(json!({ "results": results }))
}
