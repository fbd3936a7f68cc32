//! The EPCIS 2.0 capture interface of GS1's REST binding: `POST /capture` takes an
//! `EPCISDocument` whose events carry lotline's per-event `eddsa-jcs-2022` proofs and answers
//! `202` with a capture job (`GET /capture/{captureID}`); `POST /events` takes one event.
//!
//! A job is durable before it is acknowledged: its record and the document are written (synced)
//! to the store's `service` family, and a server that stops while a job runs picks it up again
//! when it starts — re-submitting is safe, because a logged eventID is answered with its first
//! receipt. The events of a document are one submission to the sequencer, so they commit in
//! document order. `GS1-Capture-Error-Behaviour: rollback` (the default) writes all of them or
//! none; `proceed` writes every event the profile and the rules accept.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::handlers::{read_body, write_problem};
use super::{AppState, Code, Problem};
use crate::ledger::{AppendError, Appended, LedgerError};
use data_integrity::json;
use lotline_profile::entry::Receipt;
use lotline_profile::event::{self, Admitted, Rejection};
use lotline_profile::refusal::Refusal;

type Data = web::Data<AppState>;

/// The versions lotline speaks, sent on every EPCIS answer.
pub(super) const EPCIS_VERSION: &str = "2.0.0";
pub(super) const CBV_VERSION: &str = "2.0.0";

const JOB: &str = "job/";
const JOB_DOC: &str = "jobdoc/";

/// What to do when some events of a document are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Behaviour {
    /// All or nothing.
    Rollback,
    /// Write every event that is accepted.
    Proceed,
}

/// A capture job, as stored and as `GET /capture/{captureID}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CaptureJob {
    #[serde(rename = "captureID")]
    capture_id: String,
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    running: bool,
    success: bool,
    capture_error_behaviour: Behaviour,
    event_count: usize,
    /// One RFC 9457 problem per event that was not written, with `eventIndex` and `eventID`.
    errors: Vec<Value>,
    /// Each event's outcome, in document order.
    events: Vec<JobEvent>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobEvent {
    event_index: usize,
    #[serde(rename = "eventID", default, skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    status: EventStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    receipt: Option<Receipt>,
}

/// What became of one event of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum EventStatus {
    /// A new entry.
    Accepted,
    /// Logged before: its first receipt.
    Duplicate,
    Refused,
    /// Accepted on its own, but another event of a rollback document was refused.
    NotWritten,
}

fn now() -> String {
    lotline_profile::profile::format_time_ms(crate::ledger::now_ms())
}

/// The binding's version headers, on every EPCIS answer.
pub(super) fn versioned(mut res: actix_web::HttpResponseBuilder) -> actix_web::HttpResponseBuilder {
    res.insert_header(("GS1-EPCIS-Version", EPCIS_VERSION))
        .insert_header(("GS1-CBV-Version", CBV_VERSION));
    res
}

fn limits_headers(data: &AppState, mut res: actix_web::HttpResponseBuilder) -> HttpResponse {
    res.insert_header((
        "GS1-EPCIS-Capture-Limit",
        data.capture.max_events.to_string(),
    ))
    .insert_header((
        "GS1-EPCIS-Capture-File-Size-Limit",
        data.capture.max_bytes.to_string(),
    ))
    .insert_header(("GS1-EPCIS-Version", EPCIS_VERSION))
    .insert_header(("GS1-CBV-Version", CBV_VERSION))
    .insert_header((header::ALLOW, "GET, HEAD, POST, OPTIONS"))
    .finish()
}

/// `OPTIONS /capture`: the limits a client must respect.
pub(super) async fn capture_options(data: Data) -> HttpResponse {
    limits_headers(&data, HttpResponse::NoContent())
}

/// The capture error behaviour a request asks for.
fn behaviour(req: &HttpRequest) -> Result<Behaviour, Problem> {
    match req.headers().get("GS1-Capture-Error-Behaviour") {
        None => Ok(Behaviour::Rollback),
        Some(v) => match v
            .to_str()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "rollback" => Ok(Behaviour::Rollback),
            "proceed" => Ok(Behaviour::Proceed),
            other => Err(Problem::new(
                Code::InvalidParameter,
                format!("GS1-Capture-Error-Behaviour {other:?} is neither rollback nor proceed"),
            )),
        },
    }
}

/// Refuses what the binding's version negotiation rules out, and bodies that are not JSON.
pub(super) fn check_request(req: &HttpRequest, body_expected: bool) -> Result<(), Problem> {
    for h in ["GS1-EPCIS-Version", "GS1-EPCIS-Min"] {
        if let Some(v) = req.headers().get(h) {
            let v = v.to_str().unwrap_or("").trim();
            if !(v.starts_with("2.0") || v.starts_with("1.")) {
                return Err(Problem::new(
                    Code::InvalidParameter,
                    format!("{h}: {v:?}: this server speaks EPCIS {EPCIS_VERSION}"),
                ));
            }
        }
    }
    if body_expected && let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or("").trim();
        if !matches!(media, "application/json" | "application/ld+json") {
            let hint = if media.contains("xml") {
                "; EPCIS XML is converted and signed at the partner's site by `lotline capture`, which submits JSON-LD"
            } else {
                ""
            };
            return Err(Problem::new(
                Code::UnsupportedMediaType,
                format!(
                    "Content-Type {media:?}: send application/ld+json or application/json{hint}"
                ),
            ));
        }
    }
    Ok(())
}

/// The events of an `EPCISDocument`, checked for shape and count.
fn event_list(doc: &Value, max: usize) -> Result<&Vec<Value>, Problem> {
    let bad = |pointer: &str, what: &str| {
        Problem::new(Refusal::SchemaViolation, what.to_owned()).with_pointer(pointer)
    };
    if doc.get("type").and_then(Value::as_str) != Some("EPCISDocument") {
        return Err(bad(
            "/type",
            "a capture is an EPCISDocument: {\"type\": \"EPCISDocument\", \"schemaVersion\": \"2.0\", \"creationDate\", \"epcisBody\": {\"eventList\": [...]}}",
        ));
    }
    let events = doc
        .pointer("/epcisBody/eventList")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            bad(
                "/epcisBody/eventList",
                "the document has no epcisBody.eventList array",
            )
        })?;
    if events.is_empty() {
        return Err(bad(
            "/epcisBody/eventList",
            "the document's eventList is empty",
        ));
    }
    // Each member must at least be an event: a document with anything else in its list is
    // malformed as a whole, not a job with a refusal per member.
    if let Some(i) = events.iter().position(|e| !e.is_object()) {
        return Err(bad(
            &format!("/epcisBody/eventList/{i}"),
            "every member of eventList is an event (a JSON object)",
        ));
    }
    if events.len() > max {
        return Err(Problem::new(
            Code::BatchTooLarge,
            format!(
                "the document has {} events; at most {max} are captured per request (GS1-EPCIS-Capture-Limit)",
                events.len()
            ),
        ));
    }
    Ok(events)
}

fn job_key(id: &str) -> Vec<u8> {
    format!("{JOB}{id}").into_bytes()
}

fn doc_key(id: &str) -> Vec<u8> {
    format!("{JOB_DOC}{id}").into_bytes()
}

fn store_err(e: crate::store::StoreError) -> Problem {
    Problem::internal(e)
}

/// `POST /capture`.
pub(super) async fn post_capture(
    data: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    check_request(&req, true)?;
    let behaviour = behaviour(&req)?;
    // A follower would accept a job it cannot run: send the client to the sequencer first.
    if let Some((false, sequencer)) = data.ledger.replica_status() {
        return Err(write_problem(LedgerError::NotSequencer { sequencer }, &req));
    }
    let body = read_body(&req, payload, data.capture.max_bytes).await?;
    let doc = json::parse(&body, &data.limits.json)?;
    let count = event_list(&doc, data.capture.max_events)?.len();
    let id = uuid::Uuid::now_v7().simple().to_string();
    let job = CaptureJob {
        capture_id: id.clone(),
        created_at: now(),
        finished_at: None,
        running: true,
        success: false,
        capture_error_behaviour: behaviour,
        event_count: count,
        errors: Vec::new(),
        events: Vec::new(),
    };
    let record = serde_json::to_vec(&job).map_err(Problem::internal)?;
    let store = data.ledger.clone();
    let (jk, dk) = (job_key(&id), doc_key(&id));
    let body_for_store = body.clone();
    web::block(move || {
        store
            .store()
            .put_service(&[(&jk, Some(&record)), (&dk, Some(&body_for_store))])
    })
    .await
    .map_err(Problem::internal)?
    .map_err(store_err)?;
    actix_web::rt::spawn(run_job(data.clone(), job, doc));
    let location = format!("/capture/{id}");
    let mut res = HttpResponse::Accepted();
    res.insert_header((header::LOCATION, location.clone()));
    Ok(versioned(res).json(serde_json::json!({"captureID": id, "location": location})))
}

/// Runs a job to its end and stores the outcome. A job cut short by a shutdown stays
/// `running` and is run again at the next start.
async fn run_job(data: Data, mut job: CaptureJob, doc: Value) {
    let id = job.capture_id.clone();
    match process(&data, &job, &doc).await {
        Ok(events) => {
            job.errors = events.iter().filter_map(|(_, p)| p.clone()).collect();
            job.events = events.into_iter().map(|(e, _)| e).collect();
            job.success = job.errors.is_empty();
        }
        Err(LedgerError::Closed) => {
            tracing::info!(capture = %id, "capture job interrupted by shutdown; it resumes at the next start");
            return;
        }
        Err(e) => {
            let p = Problem::from(e);
            job.errors = vec![serde_json::to_value(&p).unwrap_or_default()];
            job.success = false;
        }
    }
    job.running = false;
    job.finished_at = Some(now());
    let record = match serde_json::to_vec(&job) {
        Ok(r) => r,
        Err(e) => return tracing::error!(capture = %id, %e, "cannot encode a capture job"),
    };
    let ledger = data.ledger.clone();
    let (jk, dk) = (job_key(&id), doc_key(&id));
    let written = web::block(move || {
        ledger
            .store()
            .put_service(&[(&jk, Some(&record)), (&dk, None)])
    })
    .await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(capture = %id, %e, "cannot store a capture job's outcome"),
        Err(e) => tracing::error!(capture = %id, %e, "cannot store a capture job's outcome"),
    }
}

type Outcome = (JobEvent, Option<Value>);

fn problem_value(p: &Problem, index: usize, event_id: Option<&str>) -> Value {
    crate::metrics::get().problem(p.code.as_str());
    let mut v = serde_json::to_value(p).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("eventIndex".into(), index.into());
        if let Some(id) = event_id {
            o.insert("eventID".into(), id.into());
        }
    }
    v
}

fn declared_id(e: &Value) -> Option<String> {
    e.get("eventID").and_then(Value::as_str).map(str::to_owned)
}

/// Admits every event (on every core), then appends them as one submission.
async fn process(data: &Data, job: &CaptureJob, doc: &Value) -> Result<Vec<Outcome>, LedgerError> {
    let events: Vec<Value> = doc
        .pointer("/epcisBody/eventList")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ids: Vec<Option<String>> = events.iter().map(declared_id).collect();
    let admitted: Vec<Result<Admitted, Rejection>> = {
        // A capture job takes the whole gate, so jobs are admitted, and sequenced, in the
        // order they take their turn: `POST /capture` answers before its job runs, so a client
        // may send its next document (a shipment of the goods the first one harvested) without
        // waiting, and a small job admitted beside a large one would overtake it.
        let _turn = data
            .admission
            .acquire_many(super::ADMITTED_AT_ONCE as u32)
            .await
            .map_err(|_| LedgerError::Closed)?;
        // Each event dropped where it was admitted, as in the batch handler.
        web::block(move || events.into_par_iter().map(|e| event::admit(&e)).collect())
            .await
            .map_err(|_| LedgerError::Closed)?
    };
    let rollback = job.capture_error_behaviour == Behaviour::Rollback;
    let first_bad = admitted.iter().position(Result::is_err);
    let mut out: Vec<Option<Outcome>> = Vec::with_capacity(admitted.len());
    let mut to_append = Vec::new();
    for (i, a) in admitted.into_iter().enumerate() {
        match a {
            Ok(a) => {
                out.push(None);
                to_append.push(a);
            }
            Err(r) => {
                let p = Problem::from(r);
                out.push(Some(refused(i, ids[i].clone(), &p)));
            }
        }
    }
    if rollback && let Some(bad) = first_bad {
        // Nothing is written: the admitted events are answered as not written.
        let e = AppendError::RolledBack { position: bad };
        return Ok(fill(
            out,
            &ids,
            to_append.into_iter().map(|_| Err(e.clone())).collect(),
        ));
    }
    let answers = append(data, to_append, rollback).await?;
    Ok(fill(out, &ids, answers))
}

/// Appends, retrying while the queue is full: a capture job has time, a client does not.
async fn append(
    data: &Data,
    items: Vec<Admitted>,
    atomic: bool,
) -> Result<Vec<Result<Appended, AppendError>>, LedgerError> {
    let mut delay = std::time::Duration::from_millis(50);
    loop {
        let outcome = if atomic {
            data.ledger.append_atomic(items.clone()).await
        } else {
            data.ledger.append(items.clone()).await
        };
        match outcome {
            Err(LedgerError::Overloaded) => {
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(2));
            }
            other => return other,
        }
    }
}

fn refused(index: usize, id: Option<String>, p: &Problem) -> Outcome {
    let status = if p.code == Code::NotWritten {
        EventStatus::NotWritten
    } else {
        EventStatus::Refused
    };
    (
        JobEvent {
            event_index: index,
            event_id: id.clone(),
            status,
            receipt: None,
        },
        Some(problem_value(p, index, id.as_deref())),
    )
}

fn fill(
    out: Vec<Option<Outcome>>,
    ids: &[Option<String>],
    answers: Vec<Result<Appended, AppendError>>,
) -> Vec<Outcome> {
    let mut answers = answers.into_iter();
    out.into_iter()
        .enumerate()
        .map(|(i, o)| match o {
            Some(done) => done,
            None => match answers.next() {
                Some(Ok(Appended::Created(r))) => (
                    JobEvent {
                        event_index: i,
                        event_id: ids[i].clone(),
                        status: EventStatus::Accepted,
                        receipt: Some(r),
                    },
                    None,
                ),
                Some(Ok(Appended::Duplicate(r))) => (
                    JobEvent {
                        event_index: i,
                        event_id: ids[i].clone(),
                        status: EventStatus::Duplicate,
                        receipt: Some(r),
                    },
                    None,
                ),
                Some(Err(e)) => refused(i, ids[i].clone(), &Problem::from(e)),
                None => refused(
                    i,
                    ids[i].clone(),
                    &Problem::internal("the sequencer answered too little"),
                ),
            },
        })
        .collect()
}

fn load_job(data: &AppState, id: &str) -> Result<Option<CaptureJob>, Problem> {
    match data
        .ledger
        .store()
        .service(&job_key(id))
        .map_err(store_err)?
    {
        None => Ok(None),
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| Problem::internal(format!("capture job {id}: {e}"))),
    }
}

/// `GET /capture/{captureID}`.
pub(super) async fn get_capture(
    data: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let id = path.into_inner();
    let valid = id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let job = if valid { load_job(&data, &id)? } else { None };
    let job = job.ok_or_else(|| Problem::not_found(format!("no capture job {id:?}")))?;
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(versioned(res).json(job))
}

/// `GET /capture`: the most recent jobs, newest first.
pub(super) async fn list_captures(data: Data) -> Result<HttpResponse, Problem> {
    let rows = data
        .ledger
        .store()
        .service_scan(JOB.as_bytes())
        .map_err(store_err)?;
    let jobs: Vec<CaptureJob> = rows
        .iter()
        .rev()
        .take(100)
        .filter_map(|(_, v)| serde_json::from_slice(v).ok())
        .collect();
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(versioned(res).json(jobs))
}

/// Runs again every job a stopped server left running. Called once at start, on the runtime.
pub(super) fn resume(data: &Data) {
    let store = data.ledger.store();
    let rows = match store.service_scan(JOB.as_bytes()) {
        Ok(r) => r,
        Err(e) => return tracing::error!(%e, "cannot read capture jobs"),
    };
    for (_, v) in rows {
        let Ok(job) = serde_json::from_slice::<CaptureJob>(&v) else {
            continue;
        };
        if !job.running {
            continue;
        }
        let doc = store
            .service(&doc_key(&job.capture_id))
            .ok()
            .flatten()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        match doc {
            Some(doc) => {
                tracing::info!(capture = %job.capture_id, "resuming a capture job");
                actix_web::rt::spawn(run_job(data.clone(), job, doc));
            }
            None => {
                tracing::error!(capture = %job.capture_id, "a running capture job has lost its document")
            }
        }
    }
}

/// `POST /events`: one event, captured at once (`201` with its receipt, `200` for a retry).
pub(super) async fn post_one_event(
    data: Data,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, Problem> {
    check_request(&req, true)?;
    let body = read_body(&req, payload, data.limits.max_body_bytes).await?;
    let value = json::parse(&body, &data.limits.json)?;
    let (res, receipt) = match super::handlers::append_one(&data, &req, &value).await?? {
        Appended::Created(r) => (HttpResponse::Created(), r),
        Appended::Duplicate(r) => (HttpResponse::Ok(), r),
    };
    let mut res = versioned(res);
    res.insert_header((
        header::LOCATION,
        format!("/events/{}", super::params::urlencode(&receipt.event_id)),
    ));
    Ok(res.json(receipt))
}
