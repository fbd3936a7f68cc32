//! Supply-chain reads: lots, actors, events by EPC and the EPCIS-style event query, and the
//! RFID decoding service.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::params::{indexed_entry, query_page, wants_document};
use super::{AppState, Code, Problem, export};
use crate::state::query::{Scan, StateReader};
use crate::state::{EntryMeta, LotRecord, Origin};
use gs1::{digital_link, tds};
use lotline_profile::entry::Entry;
use lotline_profile::profile;
use lotline_profile::refusal::Refusal;

use super::params::{lookup_key, urlencode};

type Data = web::Data<AppState>;

/// Most events listed inline in a lot's state; the rest are a query away.
const LOT_EVENTS: usize = 500;
/// Most upstream lots visited to find a lot's origins.
const MAX_GENEALOGY: usize = 100_000;
/// EPCIS 2.0 JSON-LD context, the first item of every document lotline produces.
const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

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
    q.insert("MATCH_identifier".into(), path.into_inner());
    run_query(&data, &req, q).await
}

pub(super) async fn query_events(
    data: Data,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    run_query(&data, &req, query.into_inner()).await
}

/// The EPCIS 2.0 REST query subset lotline answers, as an `EPCISQueryDocument`; the next page
/// is linked in a `Link: <…>; rel="next"` header, as the EPCIS REST binding does. With
/// `format=EPCISDocument` the page is a download instead (see `export::query_document`).
async fn run_query(
    data: &Data,
    req: &HttpRequest,
    q: HashMap<String, String>,
) -> Result<HttpResponse, Problem> {
    if wants_document(&q)? {
        return export::query_document(data, req, q).await;
    }
    let page = query_page(&data.ledger, req.path(), &q)?;
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
