//! Request handlers. Each parses its input, calls the ledger and shapes the answer.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, guard, web};
use futures_util::StreamExt as _;
use rayon::prelude::*;
use serde_json::{Value, json};

use super::{
    AppState, Code, Problem, audit, capture, certs, epcis, export, provenance, recall, supply,
    tiles,
};
use crate::ledger::{AppendError, Appended, LedgerError};
use data_integrity::json;
use lotline_profile::entry::{Receipt, b64_hash};
use lotline_profile::event::{self, Admitted, EventId, Rejection};
use lotline_profile::refusal::Refusal;

type Data = web::Data<AppState>;

pub(super) fn routes(cfg: &mut web::ServiceConfig) {
    register(&mut Router { cfg, seen: None });
}

/// Every (method, path template) the server routes, in registration order: what the OpenAPI
/// document must describe (`openapi`'s tests compare the two). GET routes also answer HEAD.
pub fn route_table() -> Vec<(&'static str, String)> {
    let mut seen = Vec::new();
    // `configure` runs the closure at once; the app is never started.
    let _ = actix_web::App::new().configure(|cfg| {
        register(&mut Router {
            cfg,
            seen: Some(&mut seen),
        })
    });
    seen
}

/// Registers routes and, for [`route_table`], remembers which. Every route goes through it, so
/// the table cannot miss one.
struct Router<'a, 'b> {
    cfg: &'a mut web::ServiceConfig,
    seen: Option<&'b mut Vec<(&'static str, String)>>,
}

impl Router<'_, '_> {
    /// A resource answering `methods` (GET implies HEAD) on `path`.
    fn resource(&mut self, path: &str, methods: &[&'static str], resource: actix_web::Resource) {
        if let Some(seen) = self.seen.as_deref_mut() {
            let template = without_patterns(path);
            seen.extend(methods.iter().map(|m| (*m, template.clone())));
        }
        self.cfg.service(resource);
    }

    /// A read-only resource: GET and HEAD.
    fn get<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.resource(path, &["GET"], get(path, handler));
        self
    }

    /// A resource that takes submissions: POST.
    fn post<F, Args>(&mut self, path: &str, handler: F) -> &mut Self
    where
        F: actix_web::Handler<Args>,
        Args: actix_web::FromRequest + 'static,
        F::Output: actix_web::Responder + 'static,
    {
        self.resource(path, &["POST"], post(path, handler));
        self
    }

    /// A resource with several methods; `allow` is its `Allow` header for any other method.
    fn methods(
        &mut self,
        path: &str,
        methods: &[&'static str],
        allow: &'static str,
        build: impl FnOnce(actix_web::Resource) -> actix_web::Resource,
    ) -> &mut Self {
        let r = build(web::resource(path)).default_service(web::to(move |req: HttpRequest| {
            method_not_allowed(req, allow)
        }));
        self.resource(path, methods, r);
        self
    }
}

/// A route's path template as OpenAPI writes it: `{name:regex}` is `{name}`.
fn without_patterns(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let (mut in_name, mut in_pattern) = (false, false);
    for c in path.chars() {
        match c {
            '{' => in_name = true,
            ':' if in_name => in_pattern = true,
            '}' => (in_name, in_pattern) = (false, false),
            _ => {}
        }
        if !in_pattern || c == '}' {
            out.push(c);
        }
    }
    out
}

fn register(r: &mut Router<'_, '_>) {
    r.get("/", index)
        .get("/healthz", healthz)
        .get("/readyz", readyz)
        .get("/metrics", super::metrics::scrape)
        .get("/openapi.json", super::openapi::document)
        .get("/docs/api", super::openapi::docs_page)
        .get("/v1/log", log_info)
        .get("/v1/checkpoint", checkpoint)
        .get("/tlog/checkpoint", tiles::get_checkpoint)
        .get("/tlog/tile/{path:.*}", tiles::get_tile)
        .methods("/v1/events", &["GET", "POST"], "GET, HEAD, POST", |res| {
            res.route(web::post().to(post_event))
                .route(web::route().guard(read_guard()).to(supply::query_events))
        })
        .post("/v1/events/batch", post_batch)
        .get("/v1/events/{event_id}", get_event)
        .get("/v1/entries/{index}", get_entry)
        .get("/v1/entries/{index}/proof", get_tlog_proof)
        .get("/v1/proofs/inclusion/{index}", inclusion_proof)
        .get("/v1/proofs/consistency", consistency_proof)
        .get("/v1/schemas/{name}", get_schema)
        .get("/v1/lots/{id}", supply::get_lot)
        .get("/v1/lots/{id}/provenance", provenance::get_provenance)
        .get("/v1/lots/{id}/bundle", provenance::get_bundle)
        .get("/v1/lots/{id}/epcis", export::lot_epcis)
        .get("/v1/export/fsma204.csv", export::fsma204)
        .get("/v1/lots/{id}/qr.svg", provenance::get_qr_svg)
        .get("/v1/lots/{id}/qr.png", provenance::get_qr_png)
        .get("/01/{gtin}/10/{lot}", provenance::resolve)
        .get("/01/{gtin}/21/{serial}", provenance::resolve)
        .get("/00/{sscc}", provenance::resolve)
        .get("/v1/audit/lots/{id}/downstream", recall::downstream)
        .get("/v1/audit/certificates/{id}/impact", recall::impact)
        .get("/v1/epcs/{epc}/events", supply::epc_events)
        .get("/v1/actors/{id}", supply::get_actor)
        .get("/v1/actors/{id}/certificates", certs::actor_certificates)
        .get("/v1/certificates/{id}", certs::get_certificate)
        .get(
            "/v1/audit/operators/{id}/mass-balance",
            audit::get_mass_balance,
        )
        .get("/v1/audit/operators/{id}/report", audit::get_report)
        .post("/v1/rfid/decode", rfid_decode)
        // GS1's EPCIS 2.0 REST binding.
        .methods(
            "/capture",
            &["GET", "POST", "OPTIONS"],
            "GET, HEAD, POST, OPTIONS",
            |res| {
                res.route(web::post().to(capture::post_capture))
                    .route(web::route().guard(read_guard()).to(capture::list_captures))
                    .route(
                        web::method(actix_web::http::Method::OPTIONS).to(capture::capture_options),
                    )
            },
        )
        .get("/capture/{capture_id}", capture::get_capture)
        .methods("/events", &["GET", "POST"], "GET, HEAD, POST", |res| {
            res.route(web::post().to(capture::post_one_event))
                .route(web::route().guard(read_guard()).to(epcis::events))
        })
        .get("/events/{segment}", epcis::events_of)
        .get("/eventTypes", epcis::event_types)
        .methods("/queries", &["GET", "POST"], "GET, HEAD, POST", |res| {
            res.route(web::post().to(epcis::create_query))
                .route(web::route().guard(read_guard()).to(epcis::list_queries))
        })
        .methods(
            "/queries/{name}",
            &["GET", "DELETE"],
            "GET, HEAD, DELETE",
            |res| {
                res.route(web::delete().to(epcis::delete_query))
                    .route(web::route().guard(read_guard()).to(epcis::get_query))
            },
        )
        .get("/queries/{name}/events", epcis::query_events)
        .methods(
            "/queries/{name}/subscriptions",
            &["GET", "POST"],
            "GET, HEAD, POST",
            |res| {
                res.route(web::post().to(epcis::subscribe_webhook)).route(
                    web::route()
                        .guard(read_guard())
                        .to(epcis::list_subscriptions),
                )
            },
        )
        .methods(
            "/queries/{name}/subscriptions/{id}",
            &["GET", "DELETE"],
            "GET, HEAD, DELETE",
            |res| {
                res.route(web::delete().to(epcis::delete_subscription))
                    .route(web::route().guard(read_guard()).to(epcis::get_subscription))
            },
        );
    for resource in epcis::RESOURCES {
        r.get(&format!("/{resource}"), epcis::list_resource);
    }
    r.get("/{resource}/{id}/events", epcis::resource_events);
}

/// A read-only resource: GET and HEAD.
fn get<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::route().guard(read_guard()).to(handler))
        .default_service(web::to(|req: HttpRequest| {
            method_not_allowed(req, "GET, HEAD")
        }))
}

fn read_guard() -> impl guard::Guard {
    guard::Any(guard::Get()).or(guard::Head())
}

/// A resource that takes submissions: POST.
fn post<F, Args>(path: &str, handler: F) -> actix_web::Resource
where
    F: actix_web::Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: actix_web::Responder + 'static,
{
    web::resource(path)
        .route(web::post().to(handler))
        .default_service(web::to(|req: HttpRequest| method_not_allowed(req, "POST")))
}

/// The wrong method on a known path: a problem like every other error, with `Allow`.
async fn method_not_allowed(req: HttpRequest, allow: &'static str) -> HttpResponse {
    let problem = Problem::new(
        Code::MethodNotAllowed,
        format!(
            "{} is not allowed on {}; use {allow}",
            req.method(),
            req.path()
        ),
    );
    let mut res = actix_web::ResponseError::error_response(&problem);
    res.headers_mut()
        .insert(header::ALLOW, header::HeaderValue::from_static(allow));
    res
}

pub(super) async fn unknown_route(req: HttpRequest) -> Result<HttpResponse, Problem> {
    Err(Problem::not_found(format!(
        "no resource at {}; GET / lists the API",
        req.path()
    )))
}

async fn index(data: Data) -> HttpResponse {
    let head = data.ledger.head();
    HttpResponse::Ok().json(json!({
        "service": "lotline",
        "origin": data.ledger.origin(),
        "size": head.size,
        "links": {
            "log": "/v1/log",
            "checkpoint": "/v1/checkpoint",
            "latestEntry": head.size.checked_sub(1).map(|i| format!("/v1/entries/{i}")),
            "firstEntry": (head.size > 0).then_some("/v1/entries/0"),
            "submitEvent": "POST /v1/events",
            "submitBatch": "POST /v1/events/batch",
            "queryEvents": "/v1/events?EQ_bizStep=&GE_eventTime=&LT_eventTime=&MATCH_epc=&EQ_actor=&perPage=&nextPageToken=",
            "lot": "/v1/lots/{epc or lot class URI}",
            "provenance": "/v1/lots/{id}/provenance",
            "bundle": "/v1/lots/{id}/bundle",
            "epcisExport": "/v1/lots/{id}/epcis",
            "fsma204Export": "/v1/export/fsma204.csv?lot= | ?operator=&from=&to= | ?from=&to=",
            "qrCode": "/v1/lots/{id}/qr.svg",
            "buyerPage": "/01/{gtin}/21/{serial}, /01/{gtin}/10/{lot}, /00/{sscc}",
            "downstream": "/v1/audit/lots/{id}/downstream (audit token)",
            "withdrawalImpact": "/v1/audit/certificates/{certificate id}/impact?asOf=DATE (audit token)",
            "eventsOfEpc": "/v1/epcs/{epc}/events",
            "actor": "/v1/actors/{actor id}",
            "actorCertificates": "/v1/actors/{actor id}/certificates",
            "certificate": "/v1/certificates/{certificate id}",
            "massBalance": "/v1/audit/operators/{actor id}/mass-balance?from=&to=&product=",
            "massBalanceReport": "/v1/audit/operators/{actor id}/report?from=&to=&product=",
            "decodeRfid": "POST /v1/rfid/decode",
            "eventById": "/v1/events/{eventID}",
            "entryProof": "/v1/entries/{index}/proof",
            "inclusionProof": "/v1/proofs/inclusion/{index}?treeSize=N",
            "consistencyProof": "/v1/proofs/consistency?from=M&to=N",
            "tiledLog": "/tlog/ (C2SP tlog-tiles: checkpoint, tile/<L>/<N>, tile/entries/<N>)",
            "schemas": event::SCHEMAS.iter().map(|(n, _)| format!("/v1/schemas/{n}")).collect::<Vec<_>>(),
            "health": "/healthz",
            "ready": "/readyz",
        }
    }))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

async fn readyz(data: Data) -> Result<HttpResponse, Problem> {
    if data.ledger.is_ready() {
        Ok(HttpResponse::Ok().json(json!({"status": "ready", "size": data.ledger.head().size})))
    } else {
        Err(Problem::new(Code::Unavailable, "the sequencer is not running").retry_after(5))
    }
}

async fn log_info(data: Data) -> HttpResponse {
    let head = data.ledger.head();
    // A replicated node says whether it takes writes, and which node does.
    let replica = data.ledger.replica_status().map(|(leading, sequencer)| {
        json!({
            "role": if leading { "sequencer" } else { "follower" },
            "sequencer": sequencer,
        })
    });
    let mut answer = json!({
        "origin": data.ledger.origin(),
        "verifierKey": data.ledger.verifier_key().to_string(),
        "size": head.size,
        "checkpoint": {
            "size": head.checkpoint.size,
            "rootHash": b64_hash::encode(&head.checkpoint.root),
        },
        "hashAlgorithm": "SHA-256 (RFC 9162)",
        "signatureAlgorithm": "Ed25519 (C2SP signed-note)",
    });
    if let Some(r) = replica {
        answer["replica"] = r;
    }
    HttpResponse::Ok().json(answer)
}

/// The latest checkpoint, revalidated on every use (a newer one may be signed any second); its
/// ETag is its size and root, so a client polling for a new one gets `304` until there is.
async fn checkpoint(data: Data, req: HttpRequest) -> HttpResponse {
    checkpoint_answer(&data, &req)
}

/// The answer of `/v1/checkpoint` and of the tiled log's `/tlog/checkpoint`.
pub(super) fn checkpoint_answer(data: &AppState, req: &HttpRequest) -> HttpResponse {
    let cp = data.ledger.head().checkpoint;
    let etag = format!("\"c{}-{}\"", cp.size, hex12(&cp.root));
    validated(req, etag, "no-cache", || cp.note.clone())
}

/// Hex of the first 12 bytes of a hash, for ETags.
fn hex12(h: &[u8]) -> String {
    h.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// A text answer with `etag` and `cache_control`, or `304` to a request that has it.
fn validated(
    req: &HttpRequest,
    etag: String,
    cache_control: &'static str,
    body: impl FnOnce() -> String,
) -> HttpResponse {
    if super::provenance::not_modified(req, &etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish();
    }
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        // A few hundred bytes: not worth compressing, and one strong ETag names one body.
        .insert_header(header::ContentEncoding::Identity)
        .body(body())
}

fn text(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body)
}

/// Reads the body, refusing more than `limit` bytes without buffering them. A body sent with
/// `Content-Encoding: gzip` (or `deflate`) is decoded first, and the limit holds for the decoded
/// bytes, so a small compressed body cannot unpack into an unbounded one.
pub(super) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, Problem> {
    if let Some(enc) = req.headers().get(header::CONTENT_ENCODING) {
        let enc = enc.to_str().unwrap_or("").trim().to_ascii_lowercase();
        if !matches!(enc.as_str(), "identity" | "gzip" | "x-gzip" | "deflate") {
            return Err(Problem::new(
                Code::UnsupportedMediaType,
                format!(
                    "Content-Encoding {enc:?} is not accepted; send the body as it is, or gzip"
                ),
            ));
        }
    }
    let mut payload = actix_web::dev::Decompress::from_headers(payload.into_inner(), req.headers());
    let too_large = |n: String| {
        Problem::new(
            Code::PayloadTooLarge,
            format!(
                "the body is {n} bytes; at most {limit} are accepted (split it into smaller batches)"
            ),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared.filter(|n| *n > limit) {
        return Err(too_large(n.to_string()));
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            Problem::new(Code::MalformedJson, format!("reading the body failed: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large("more than that".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// A write the ledger did not take. On a replicated node that does not sequence, the redirect
/// names the same resource on the node that does.
pub(super) fn write_problem(e: LedgerError, req: &HttpRequest) -> Problem {
    let mut p = Problem::from(e);
    if let Some(base) = p.location.take() {
        let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
        p.location = Some(format!("{}{path}", base.trim_end_matches('/')));
    }
    p
}

fn receipt_response(outcome: Result<Appended, AppendError>) -> Result<HttpResponse, Problem> {
    let (mut res, receipt) = match outcome? {
        Appended::Created(r) => (HttpResponse::Created(), r),
        Appended::Duplicate(r) => (HttpResponse::Ok(), r),
    };
    Ok(res
        .insert_header((header::LOCATION, format!("/v1/entries/{}", receipt.index)))
        .json(receipt))
}

/// The body as strictly parsed JSON, within the size and depth limits.
async fn read_json(
    data: &Data,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Value, Problem> {
    let body = read_body(req, payload, data.limits.max_body_bytes).await?;
    Ok(json::parse(&body, &data.limits.json)?)
}

async fn post_event(
    data: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let value = read_json(&data, &req, payload).await?;
    receipt_response(append_one(&data, &req, &value).await?)
}

/// Admits one event and appends it: its outcome, once durable. One admission (about 60 µs,
/// most of it the signature) is cheaper than a hop to the blocking pool; actix runs one worker
/// per core, so single submissions are verified in parallel.
pub(super) async fn append_one(
    data: &Data,
    req: &HttpRequest,
    value: &Value,
) -> Result<Result<Appended, AppendError>, Problem> {
    let admitted = event::admit(value)?;
    let mut outcomes = data
        .ledger
        .append(vec![admitted])
        .await
        .map_err(|e| write_problem(e, req))?;
    outcomes
        .pop()
        .ok_or_else(|| Problem::internal("the sequencer answered nothing"))
}

async fn rfid_decode(
    data: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let body = read_json(&data, &req, payload).await?;
    Ok(HttpResponse::Ok().json(supply::decode_batch(&body, data.limits.max_batch * 10)?))
}

async fn post_batch(
    data: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    let body = read_body(&req, payload, data.limits.max_body_bytes).await?;
    let Some(events) = json::Array::split(body, &data.limits.json)? else {
        return Err(Problem::new(
            Refusal::SchemaViolation,
            "a batch is a JSON array of signed events",
        )
        .with_pointer(""));
    };
    let max = data.limits.max_batch;
    if events.len() > max {
        // A body that is not strict JSON is refused as such first, whatever its size.
        events.check()?;
        return Err(Problem::new(
            Code::BatchTooLarge,
            format!(
                "the batch has {} events; at most {max} are accepted per request",
                events.len()
            ),
        ));
    }
    // Parse and verify on every core, off the actix worker threads, taking turns with other
    // batches (see `ADMITTED_AT_ONCE`). Each event is parsed, admitted and dropped by one
    // thread, while its memory is in that core's cache (building every event's tree on the HTTP
    // thread and freeing it on another cost both threads' time). An event that is not strict
    // JSON refuses the whole request, as a body that is not JSON does: nothing is appended. Such
    // a request learns it only once its turn comes, which costs an honest client nothing.
    let admitted: Vec<Result<Admitted, Rejection>> = {
        let _turn = data
            .admission
            .acquire()
            .await
            .map_err(|_| Problem::internal("the admission gate is closed"))?;
        web::block(move || {
            (0..events.len())
                .into_par_iter()
                .map(|i| events.item(i).map(|e| event::admit(&e)))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| events.refusal(e))
        })
        .await
        .map_err(Problem::internal)??
    };

    let mut results: Vec<Option<BatchItem>> = Vec::with_capacity(admitted.len());
    let mut to_append = Vec::new();
    for a in admitted {
        match a {
            Ok(a) => {
                results.push(None);
                to_append.push(a);
            }
            Err(r) => results.push(Some(BatchItem::refused(Problem::from(r)))),
        }
    }
    let mut outcomes = data
        .ledger
        .append(to_append)
        .await
        .map_err(|e| write_problem(e, &req))?
        .into_iter();
    let results: Vec<BatchItem> = results
        .into_iter()
        .map(|r| match r {
            Some(refused) => refused,
            None => match outcomes.next() {
                Some(Ok(Appended::Created(r))) => BatchItem::receipt(201, r),
                Some(Ok(Appended::Duplicate(r))) => BatchItem::receipt(200, r),
                Some(Err(e)) => BatchItem::refused(Problem::from(e)),
                None => BatchItem::refused(Problem::internal("the sequencer answered too little")),
            },
        })
        .collect();
    let accepted = results.iter().filter(|r| r.status < 300).count();
    Ok(HttpResponse::Ok().json(BatchAnswer {
        accepted,
        rejected: results.len() - accepted,
        results,
    }))
}

/// The answer to a batch: one item per submitted event, in order.
#[derive(serde::Serialize)]
struct BatchAnswer {
    accepted: usize,
    rejected: usize,
    results: Vec<BatchItem>,
}

/// An event's outcome in a batch answer: its HTTP status, and its receipt or its problem.
#[derive(serde::Serialize)]
struct BatchItem {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt: Option<Receipt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<Problem>,
}

impl BatchItem {
    fn receipt(status: u16, r: Receipt) -> Self {
        BatchItem {
            status,
            receipt: Some(r),
            problem: None,
        }
    }

    fn refused(p: Problem) -> Self {
        crate::metrics::get().problem(p.code.as_str());
        BatchItem {
            status: p.status.as_u16(),
            receipt: None,
            problem: Some(p),
        }
    }
}

fn parse_index(name: &str, s: &str) -> Result<u64, Problem> {
    // u64::from_str also takes a leading '+'; an index is digits only.
    let digits = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| s.parse::<u64>().ok())
        .flatten()
        .ok_or_else(|| {
            Problem::invalid_parameter(name, format!("{s:?} is not a non-negative integer"))
        })
}

fn entry_document(bytes: &[u8]) -> Result<HttpResponse, Problem> {
    let receipt = Receipt::for_stored(bytes).map_err(Problem::internal)?;
    let entry: Value = serde_json::from_slice(bytes).map_err(Problem::internal)?;
    Ok(HttpResponse::Ok().json(json!({"receipt": receipt, "entry": entry})))
}

async fn get_entry(data: Data, path: web::Path<String>) -> Result<HttpResponse, Problem> {
    let index = parse_index("index", &path)?;
    match data.ledger.entry(index)? {
        Some(bytes) => entry_document(&bytes),
        None => Err(Problem::not_found(format!(
            "no entry {index}; the log has {} entries",
            data.ledger.head().size
        ))),
    }
}

async fn get_event(data: Data, path: web::Path<String>) -> Result<HttpResponse, Problem> {
    let id = EventId::parse(&path).ok_or_else(|| {
        Problem::invalid_parameter(
            "eventID",
            format!("{:?} is not urn:uuid:<uuid>", path.as_str()),
        )
    })?;
    match data.ledger.entry_for_event(&id)? {
        Some(bytes) => entry_document(&bytes),
        None => Err(Problem::not_found(format!("no event {id} is logged"))),
    }
}

async fn get_tlog_proof(data: Data, path: web::Path<String>) -> Result<HttpResponse, Problem> {
    let index = parse_index("index", &path)?;
    match data.ledger.tlog_proof(index).await? {
        Some(p) => Ok(text(p.to_text())),
        None => Err(Problem::not_found(format!("no entry {index}"))),
    }
}

fn query_u64(q: &HashMap<String, String>, name: &str) -> Result<Option<u64>, Problem> {
    q.get(name).map(|s| parse_index(name, s)).transpose()
}

/// An inclusion proof is fixed by its entry and tree size: with `treeSize` given it never
/// changes and may be kept for good; without, it is against the latest checkpoint and is
/// revalidated (its ETag names the tree size, so it changes with the checkpoint).
async fn inclusion_proof(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    let index = parse_index("index", &path)?;
    let given = query_u64(&q, "treeSize")?;
    let cp = data.ledger.head().checkpoint;
    let tree_size = given.unwrap_or(cp.size);
    let cache_control = if given.is_some() {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let etag = format!("\"i{index}-{tree_size}\"");
    if index >= tree_size {
        return Err(Problem::new(
            Code::TreeSizeOutOfRange,
            format!(
                "entry {index} is not in a tree of size {tree_size}; ask for a larger treeSize"
            ),
        ));
    }
    // `304` only once the tree size is known to be in range and the entry to exist.
    let hashes = data.ledger.inclusion_proof(index, tree_size)?;
    let leaf = data
        .ledger
        .leaf_hash(index)?
        .ok_or_else(|| Problem::not_found(format!("no entry {index}")))?;
    if super::provenance::not_modified(&req, &etag) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .finish());
    }
    let root = if tree_size == cp.size {
        cp.root
    } else {
        data.ledger.root_at(tree_size)?
    };
    // Written out directly (numbers and base64, nothing to escape): proofs are served by the
    // tens of thousands per second.
    use std::fmt::Write as _;
    let mut body = String::with_capacity(120 + 48 * hashes.len());
    let _ = write!(
        body,
        "{{\"index\":{index},\"treeSize\":{tree_size},\"leafHash\":\"{}\",\"rootHash\":\"{}\",\"hashes\":[",
        b64_hash::encode(&leaf),
        b64_hash::encode(&root)
    );
    for (i, h) in hashes.iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        let _ = write!(body, "{sep}\"{}\"", b64_hash::encode(h));
    }
    body.push_str("]}");
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache_control))
        .body(body))
}

async fn consistency_proof(
    data: Data,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    let from = query_u64(&q, "from")?
        .ok_or_else(|| Problem::invalid_parameter("from", "is required (the older tree size)"))?;
    let to = query_u64(&q, "to")?.unwrap_or(data.ledger.head().checkpoint.size);
    if from > to {
        return Err(Problem::new(
            Code::TreeSizeOutOfRange,
            format!("from ({from}) must not be larger than to ({to})"),
        ));
    }
    let hashes = data.ledger.consistency_proof(from, to)?;
    Ok(HttpResponse::Ok().json(json!({
        "from": from,
        "to": to,
        "fromRootHash": b64_hash::encode(&data.ledger.root_at(from)?),
        "toRootHash": b64_hash::encode(&data.ledger.root_at(to)?),
        "hashes": hashes.iter().map(b64_hash::encode).collect::<Vec<_>>(),
    })))
}

async fn get_schema(path: web::Path<String>) -> Result<HttpResponse, Problem> {
    let name = path.trim_end_matches(".json").trim_end_matches(".schema");
    event::SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| {
            HttpResponse::Ok()
                .insert_header((header::CONTENT_TYPE, "application/schema+json"))
                .body(*body)
        })
        .ok_or_else(|| {
            Problem::not_found(format!(
                "no schema {name:?}; available: {}",
                event::SCHEMAS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}
