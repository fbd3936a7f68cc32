//! The query side of GS1's EPCIS 2.0 REST binding: `GET /events` (SimpleEventQuery, see
//! [`crate::query`]), the event types and top-level resources (`/eventTypes`, `/epcs`,
//! `/bizSteps`, `/bizLocations`, `/readPoints`, `/dispositions`) with their `…/{id}/events`,
//! named queries (`/queries`), and their subscriptions (`crate::subscribe`: webhooks, and
//! WebSocket streams on `GET /queries/{name}/events`).
//!
//! Answers are `EPCISQueryDocument`s: the signed events without their Data Integrity proofs
//! (GS1's schema has no place for them; `/v1/events/{eventID}` and the provenance bundle carry
//! them), with each event's ledger entry and CBV 2.0 event hash in `lotline:entries`.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::capture::{check_request, versioned};
use super::handlers::read_body;
use super::params::{per_page_of, query_page, urlencode};
use super::{AppState, Code, Problem};
use crate::subscribe::{self, NamedQuery};
use data_integrity::json as strict;
use lotline_profile::entry::Entry;
use lotline_profile::event::EventId;
use lotline_profile::terms::tag;

type Data = web::Data<AppState>;

const EVENT_TYPES: [&str; 5] = [
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
];

/// How identifiers are written in answers (`GS1-EPC-Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EpcFormat {
    /// As each signer wrote them.
    AsWritten,
    DigitalLink,
}

fn epc_format(req: &HttpRequest) -> Result<EpcFormat, Problem> {
    match req
        .headers()
        .get("GS1-EPC-Format")
        .map(|v| v.to_str().unwrap_or(""))
    {
        None | Some("No_Preference") | Some("Never_Translates") => Ok(EpcFormat::AsWritten),
        Some("Always_GS1_Digital_Link") => Ok(EpcFormat::DigitalLink),
        // A Digital Link does not carry the company-prefix length an EPC URN needs, so events
        // submitted with Digital Links cannot all be given as URNs; those written as URNs are.
        Some("Always_EPC_URN") => Ok(EpcFormat::AsWritten),
        Some(other) => Err(Problem::invalid_parameter(
            "GS1-EPC-Format",
            format!(
                "{other:?}: No_Preference, Always_GS1_Digital_Link, Always_EPC_URN or Never_Translates"
            ),
        )),
    }
}

/// Runs a query given as request parameters and answers one page.
async fn answer(
    data: &Data,
    req: &HttpRequest,
    mut q: HashMap<String, String>,
    extra: &[(&str, String)],
    query_name: &str,
) -> Result<HttpResponse, Problem> {
    check_request(req, false)?;
    let format = epc_format(req)?;
    // The EPCIS binding answers EPCISQueryDocuments only; `format` is lotline's /v1/events's.
    if q.contains_key("format") {
        return Err(Problem::invalid_parameter(
            "format",
            "the EPCIS interface answers EPCISQueryDocuments; for an EPCISDocument download use /v1/events?format=EPCISDocument",
        ));
    }
    for (k, v) in extra {
        if q.contains_key(*k) {
            return Err(Problem::invalid_parameter(
                k,
                "the path already sets this parameter",
            ));
        }
        q.insert((*k).to_owned(), v.clone());
    }
    let ledger = data.ledger.clone();
    let path = req.path().to_owned();
    let name = query_name.to_owned();
    let (doc, next) = web::block(move || -> Result<_, Problem> {
        let page = query_page(&ledger, &path, &q)?;
        Ok((
            crate::query::document(&page.entries, format == EpcFormat::DigitalLink, &name, None),
            page.next,
        ))
    })
    .await
    .map_err(Problem::internal)??;
    let mut res = versioned(HttpResponse::Ok());
    if let Some((token, url)) = next {
        res.insert_header((header::LINK, format!("<{url}>; rel=\"next\"")));
        res.insert_header(("GS1-Next-Page-Token", token));
    }
    Ok(res.json(doc))
}

/// `GET /events`.
pub(super) async fn events(
    data: Data,
    req: HttpRequest,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    answer(&data, &req, q.into_inner(), &[], "SimpleEventQuery").await
}

/// `GET /events/{eventType}` (the events of one type), or `GET /events/{eventID}` (one event).
pub(super) async fn events_of(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    let seg = path.into_inner();
    if EVENT_TYPES.contains(&seg.as_str()) {
        return answer(
            &data,
            &req,
            q.into_inner(),
            &[("eventType", seg)],
            "SimpleEventQuery",
        )
        .await;
    }
    let id = EventId::parse(&seg).ok_or_else(|| {
        Problem::not_found(format!(
            "{seg:?} is neither an EPCIS event type ({}) nor an eventID",
            EVENT_TYPES.join(", ")
        ))
    })?;
    let bytes = data
        .ledger
        .entry_for_event(&id)?
        .ok_or_else(|| Problem::not_found(format!("no event {id}")))?;
    let entry = Entry::parse(&bytes).map_err(Problem::internal)?;
    let mut event = entry.event;
    if epc_format(&req)? == EpcFormat::DigitalLink {
        crate::query::to_digital_links(&mut event);
        if let Some(o) = event.as_object_mut() {
            // Rewritten identifiers would not match the signature.
            o.remove("proof");
        }
    }
    Ok(versioned(HttpResponse::Ok()).json(event))
}

/// `GET /eventTypes`.
pub(super) async fn event_types(req: HttpRequest) -> Result<HttpResponse, Problem> {
    check_request(&req, false)?;
    Ok(versioned(HttpResponse::Ok()).json(EVENT_TYPES))
}

/// The top-level resources and the index (and parameter) each lists.
/// The vocabulary resources listed by `GET /{resource}` (besides `/eventTypes`, which has a
/// handler of its own).
pub(super) const RESOURCES: [&str; 5] = [
    "epcs",
    "bizSteps",
    "bizLocations",
    "readPoints",
    "dispositions",
];

fn resource(kind: &str) -> Option<(u8, &'static str, bool)> {
    Some(match kind {
        "eventTypes" => (tag::EVENT_TYPE, "eventType", false),
        "epcs" => (tag::EPC, "MATCH_anyEPC", true),
        "bizSteps" => (crate::state::tag::BIZ_STEP, "EQ_bizStep", false),
        "bizLocations" => (tag::BIZ_LOCATION, "EQ_bizLocation", true),
        "readPoints" => (tag::READ_POINT, "EQ_readPoint", true),
        "dispositions" => (tag::DISPOSITION, "EQ_disposition", false),
        _ => return None,
    })
}

/// `GET /{resource}`: the values in use, from the index (one seek per value), paged.
pub(super) async fn list_resource(
    data: Data,
    req: HttpRequest,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    check_request(&req, false)?;
    let kind = req.path().trim_start_matches('/').to_owned();
    let (t, _, is_key) =
        resource(&kind).ok_or_else(|| Problem::not_found(format!("no resource /{kind}")))?;
    let q = q.into_inner();
    if let Some(k) = q
        .keys()
        .find(|k| !["perPage", "nextPageToken"].contains(&k.as_str()))
    {
        return Err(Problem::invalid_parameter(
            k,
            "this list takes perPage and nextPageToken",
        ));
    }
    let per_page = per_page_of(&q)?;
    let after = q.get("nextPageToken").cloned();
    let ledger = data.ledger.clone();
    let (values, next) = web::block(move || {
        crate::state::query::StateReader::new(ledger.store()).index_values(
            t,
            after.as_deref(),
            per_page,
        )
    })
    .await
    .map_err(Problem::internal)?
    .map_err(Problem::internal)?;
    let shown: Vec<String> = values
        .iter()
        .map(|v| {
            if is_key && v.starts_with('/') {
                format!("https://id.gs1.org{v}")
            } else {
                v.clone()
            }
        })
        .collect();
    let mut res = versioned(HttpResponse::Ok());
    if let Some(last) = next {
        let token = urlencode(&last);
        res.insert_header((
            header::LINK,
            format!(
                "<{}?perPage={per_page}&nextPageToken={token}>; rel=\"next\"",
                req.path()
            ),
        ));
        res.insert_header(("GS1-Next-Page-Token", token));
    }
    Ok(res.json(shown))
}

/// `GET /{resource}/{id}/events`.
pub(super) async fn resource_events(
    data: Data,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    let (kind, id) = path.into_inner();
    let (_, param, _) =
        resource(&kind).ok_or_else(|| Problem::not_found(format!("no resource /{kind}")))?;
    answer(
        &data,
        &req,
        q.into_inner(),
        &[(param, id)],
        "SimpleEventQuery",
    )
    .await
}

// Named queries.

/// `POST /queries`: `{"name": "...", "query": {SimpleEventQuery parameters}}`.
pub(super) async fn create_query(
    data: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    check_request(&req, true)?;
    let body = read_body(&req, payload, 64 * 1024).await?;
    let v = strict::parse(&body, &data.limits.json)?;
    let named =
        NamedQuery::from_request(&v).map_err(|(name, m)| Problem::invalid_parameter(&name, m))?;
    let ledger = data.ledger.clone();
    let created = web::block(move || subscribe::create_query(ledger.store(), &named))
        .await
        .map_err(Problem::internal)?
        .map_err(Problem::internal)?;
    let Some(named) = created else {
        return Err(Problem::new(
            Code::EventIdConflict,
            "a named query of that name exists; delete it first or choose another name",
        ));
    };
    let mut res = versioned(HttpResponse::Created());
    res.insert_header((
        header::LOCATION,
        format!("/queries/{}", urlencode(&named.name)),
    ));
    Ok(res.json(named))
}

/// `GET /queries`.
pub(super) async fn list_queries(data: Data) -> Result<HttpResponse, Problem> {
    let all = subscribe::queries(data.ledger.store()).map_err(Problem::internal)?;
    Ok(versioned(HttpResponse::Ok()).json(all))
}

fn named(data: &AppState, name: &str) -> Result<NamedQuery, Problem> {
    subscribe::query(data.ledger.store(), name)
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("no named query {name:?}")))
}

/// `GET /queries/{name}`, `DELETE /queries/{name}` (with its subscriptions).
pub(super) async fn get_query(
    data: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    Ok(versioned(HttpResponse::Ok()).json(named(&data, &path.into_inner())?))
}

pub(super) async fn delete_query(
    data: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let name = path.into_inner();
    named(&data, &name)?;
    subscribe::delete_query(data.ledger.store(), &name).map_err(Problem::internal)?;
    Ok(versioned(HttpResponse::NoContent()).finish())
}

/// `GET /queries/{name}/events`: the query's results, paged; with `Upgrade: websocket`, a
/// stream of the events committed from now on.
pub(super) async fn query_events(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
    body: web::Payload,
) -> Result<HttpResponse, Problem> {
    let name = path.into_inner();
    let nq = named(&data, &name)?;
    if req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
    {
        return super::stream::open(data, req, body, nq).await;
    }
    let q = q.into_inner();
    if let Some(k) = q
        .keys()
        .find(|k| !["perPage", "nextPageToken"].contains(&k.as_str()))
    {
        return Err(Problem::invalid_parameter(
            k,
            "a named query's parameters are fixed; this takes perPage and nextPageToken",
        ));
    }
    let mut params: HashMap<String, String> = nq.params_as_strings();
    params.extend(q);
    answer(&data, &req, params, &[], &name).await
}

/// `POST /queries/{name}/subscriptions`: `{"dest": "http://…", "signatureToken"?,
/// "initialRecordTime"?, "reportIfEmpty"?}`.
pub(super) async fn subscribe_webhook(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    check_request(&req, true)?;
    let name = path.into_inner();
    let nq = named(&data, &name)?;
    let body = read_body(&req, payload, 64 * 1024).await?;
    let v = strict::parse(&body, &data.limits.json)?;
    let size = data.ledger.head().size;
    let ledger = data.ledger.clone();
    let sub = web::block(move || subscribe::create_subscription(ledger.store(), &nq, &v, size))
        .await
        .map_err(Problem::internal)?
        .map_err(|e| match e {
            subscribe::SubError::Invalid(name, m) => Problem::invalid_parameter(&name, m),
            subscribe::SubError::Store(e) => Problem::internal(e),
        })?;
    if let Some(w) = &data.deliveries {
        w.wake();
    }
    let mut res = versioned(HttpResponse::Created());
    res.insert_header((
        header::LOCATION,
        format!("/queries/{}/subscriptions/{}", urlencode(&name), sub.id),
    ));
    Ok(res.json(sub))
}

pub(super) async fn list_subscriptions(
    data: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let name = path.into_inner();
    named(&data, &name)?;
    let subs =
        subscribe::subscriptions(data.ledger.store(), Some(&name)).map_err(Problem::internal)?;
    Ok(versioned(HttpResponse::Ok()).json(subs))
}

pub(super) async fn get_subscription(
    data: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Problem> {
    let (name, id) = path.into_inner();
    let sub = subscribe::subscription(data.ledger.store(), &name, &id)
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("no subscription {id} of {name:?}")))?;
    Ok(versioned(HttpResponse::Ok()).json(sub))
}

pub(super) async fn delete_subscription(
    data: Data,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Problem> {
    let (name, id) = path.into_inner();
    let found = subscribe::delete_subscription(data.ledger.store(), &name, &id)
        .map_err(Problem::internal)?;
    if !found {
        return Err(Problem::not_found(format!(
            "no subscription {id} of {name:?}"
        )));
    }
    Ok(versioned(HttpResponse::NoContent()).finish())
}
