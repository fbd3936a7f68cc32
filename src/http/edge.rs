//! The edge's HTTP service: the clerk's page and forms, and a small JSON API for the mill's
//! own tools.
//!
//! - `GET /` — the page (`pages::clerk`); `?lang=km` for Khmer.
//! - `POST /form/receipt`, `/form/milling`, `/form/bagging` — a form becomes a profile event,
//!   signed and recorded; the answer is the page again (`303` to it when saved, `422` with the
//!   reason when not, so the clerk's input is never silently lost).
//! - `POST /form/retry/{seq}` — a refused record goes back in the queue.
//! - `POST /v1/events` — one unsigned event or an `EPCISDocument` of them; all are checked
//!   before any is recorded. `GET /v1/outbox?status=&limit=`, `POST /v1/outbox/{seq}/retry`,
//!   `GET /v1/status`.
//!
//! Errors are RFC 9457 problems, like the ledger's.

use std::sync::Arc;

use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Problem;
use super::pages::clerk::{self as page, Lang};
use crate::edge::Edge;
use crate::store::outbox::{Added, Status};
use lotline_scenario as build;

/// Most bytes of a request body.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Most records `GET /v1/outbox` and the page list.
const MAX_LIST: usize = 1000;

/// Settings the forms need.
#[derive(Debug, Clone)]
pub struct Site {
    /// The mill's actor id: the receiver of its receipts.
    pub actor: String,
    /// The site's UTC offset for times typed in the forms, e.g. `+07:00`.
    pub offset: String,
}

struct State {
    edge: Arc<Edge>,
    site: Site,
}

type Data = web::Data<State>;

/// Serves the edge on `listener` until the process is asked to stop.
pub async fn serve(
    edge: Arc<Edge>,
    site: Site,
    listener: std::net::TcpListener,
) -> std::io::Result<()> {
    let state = web::Data::new(State { edge, site });
    HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(web::PayloadConfig::new(MAX_BODY))
            .app_data(web::FormConfig::default().limit(MAX_BODY))
            .route("/", web::get().to(index))
            .route("/form/receipt", web::post().to(form_receipt))
            .route("/form/milling", web::post().to(form_milling))
            .route("/form/bagging", web::post().to(form_bagging))
            .route("/form/retry/{seq}", web::post().to(form_retry))
            .route("/v1/events", web::post().to(post_events))
            .route("/v1/outbox", web::get().to(get_outbox))
            .route("/v1/outbox/{seq}/retry", web::post().to(post_retry))
            .route("/v1/status", web::get().to(status))
            .default_service(web::to(|| async {
                answer(Problem::not_found(
                    "no such page on the edge; the clerk's page is /",
                ))
            }))
    })
    .on_connect(super::server::no_delay)
    .workers(2)
    .listen(listener)?
    .run()
    .await
}

/// A problem as the answer.
fn answer(p: Problem) -> HttpResponse {
    actix_web::ResponseError::error_response(&p)
}

#[derive(Deserialize)]
struct LangQuery {
    lang: Option<String>,
    saved: Option<u64>,
}

fn lang_of(req: &HttpRequest, query: Option<&str>) -> Lang {
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    Lang::choose(query, accept)
}

async fn index(data: Data, req: HttpRequest, q: web::Query<LangQuery>) -> HttpResponse {
    let lang = lang_of(&req, q.lang.as_deref());
    let message = q.saved.map(|_| Ok(lang.text().saved.to_owned()));
    render(&data, lang, message, 200).await
}

async fn render(
    data: &Data,
    lang: Lang,
    message: Option<Result<String, String>>,
    status: u16,
) -> HttpResponse {
    let edge = data.edge.clone();
    let read = web::block(move || {
        let counts = edge.outbox.counts()?;
        let items = edge.outbox.recent(None, MAX_LIST)?;
        Ok::<_, crate::store::StoreError>((counts, items))
    })
    .await;
    let (counts, items) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return answer(Problem::internal(e)),
        Err(e) => return answer(Problem::internal(e)),
    };
    let html = page::clerk_page(&page::View {
        lang,
        actor: Some(&data.site.actor),
        server: &data.edge.server,
        counts,
        sync: data.edge.sync.state(),
        items,
        message,
        now_local: now_local(&data.site.offset),
    });
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap_or_default())
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(html)
}

/// Now in the site's offset, as a `datetime-local` value (`2026-12-03T09:30`).
fn now_local(offset: &str) -> String {
    let off = parse_offset(offset).unwrap_or(time::UtcOffset::UTC);
    let t = time::OffsetDateTime::now_utc().to_offset(off);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

fn parse_offset(s: &str) -> Option<time::UtcOffset> {
    let fmt = time::macros::format_description!("[offset_hour sign:mandatory]:[offset_minute]");
    time::UtcOffset::parse(s, &fmt).ok()
}

/// A form's time field (`2026-12-03T09:30`, seconds optional) in the site's offset, as RFC 3339.
fn form_time(v: &str, offset: &str) -> Result<String, String> {
    let v = v.trim();
    let with_seconds = if v.len() == 16 {
        format!("{v}:00")
    } else {
        v.to_owned()
    };
    let full = format!("{with_seconds}{offset}");
    if lotline_profile::profile::parse_time_ms(&full).is_none() {
        return Err(format!("{v:?} is not a date and time (YYYY-MM-DDTHH:MM)"));
    }
    Ok(full)
}

fn number(field: &str, v: &str) -> Result<f64, String> {
    let v = v.trim().replace(',', "");
    match v.parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 => Ok(x),
        _ => Err(format!("{field}: {v:?} is not a positive number")),
    }
}

fn required<'a>(field: &str, v: &'a Option<String>) -> Result<&'a str, String> {
    match v.as_deref().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(format!("{field} is required")),
    }
}

/// A lot as the clerk typed or scanned it: an EPC class URI or a GS1 Digital Link.
fn lot_id(field: &str, v: &str) -> Result<String, String> {
    let v = v.trim();
    match lotline_profile::profile::ident(v, "") {
        Ok(_) => Ok(v.to_owned()),
        Err(e) => Err(format!("{field}: {}", e.message)),
    }
}

#[derive(Deserialize)]
struct ReceiptForm {
    lang: Option<String>,
    supplier: Option<String>,
    lot: Option<String>,
    kg: Option<String>,
    moisture: Option<String>,
    time: Option<String>,
}

async fn form_receipt(data: Data, req: HttpRequest, f: web::Form<ReceiptForm>) -> HttpResponse {
    let lang = lang_of(&req, f.lang.as_deref());
    let t = lang.text();
    let built = (|| {
        let supplier = required(t.supplier, &f.supplier)?;
        let lot = lot_id(t.lot, required(t.lot, &f.lot)?)?;
        let kg = number(t.mass_kg, required(t.mass_kg, &f.kg)?)?;
        let time = form_time(required(t.time, &f.time)?, &data.site.offset)?;
        let mut event = build::movement(
            false,
            &time,
            supplier,
            &data.site.actor,
            &[],
            &[build::kg(&lot, kg)],
        );
        event.as_object_mut().map(|o| o.remove("eventID"));
        if let Some(m) = f
            .moisture
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
        {
            let pct = number(t.moisture, m)?;
            event["sensorElementList"] = json!([{"sensorReport": [build::moisture(pct)]}]);
        }
        Ok(event)
    })();
    record_form(&data, lang, built).await
}

#[derive(Deserialize)]
struct MillingForm {
    lang: Option<String>,
    input_lot: Option<String>,
    input_kg: Option<String>,
    head_lot: Option<String>,
    head_kg: Option<String>,
    broken_lot: Option<String>,
    broken_kg: Option<String>,
    bran_lot: Option<String>,
    bran_kg: Option<String>,
    husk_lot: Option<String>,
    husk_kg: Option<String>,
    time: Option<String>,
}

async fn form_milling(data: Data, req: HttpRequest, f: web::Form<MillingForm>) -> HttpResponse {
    let lang = lang_of(&req, f.lang.as_deref());
    let t = lang.text();
    let built = (|| {
        let input = lot_id(t.input_lot, required(t.input_lot, &f.input_lot)?)?;
        let input_kg = number(t.input_kg, required(t.input_kg, &f.input_kg)?)?;
        let time = form_time(required(t.time, &f.time)?, &data.site.offset)?;
        let mut outputs = Vec::new();
        for (label, product, lot, kg) in [
            (t.head_rice, "head-rice", &f.head_lot, &f.head_kg),
            (t.broken_rice, "broken-rice", &f.broken_lot, &f.broken_kg),
            (t.bran, "bran", &f.bran_lot, &f.bran_kg),
            (t.husk, "husk", &f.husk_lot, &f.husk_kg),
        ] {
            let lot = lot.as_deref().map(str::trim).unwrap_or("");
            let kg = kg.as_deref().map(str::trim).unwrap_or("");
            match (lot.is_empty(), kg.is_empty()) {
                (true, true) => continue,
                (false, false) => {
                    outputs.push((lot_id(label, lot)?, number(label, kg)?, Some(product)))
                }
                _ => {
                    return Err(format!(
                        "{label}: give both the lot and its mass, or neither"
                    ));
                }
            }
        }
        if outputs.is_empty() {
            return Err(format!("{}: at least one output", t.milling));
        }
        let mut event =
            build::transform(&time, "milling", &[build::kg(&input, input_kg)], &outputs);
        event.as_object_mut().map(|o| o.remove("eventID"));
        Ok(event)
    })();
    record_form(&data, lang, built).await
}

#[derive(Deserialize)]
struct BaggingForm {
    lang: Option<String>,
    lot: Option<String>,
    bag_kg: Option<String>,
    bags: Option<String>,
    time: Option<String>,
}

/// A bag tag as the clerk or the reader gave it: an EPC URI, or the EPC bank in hex, which
/// becomes an EPC raw URI the ledger decodes (RFID Tag Data Standard).
fn bag_epc(line: &str) -> Result<String, String> {
    let l = line.trim();
    if l.starts_with("urn:") || l.starts_with("http") {
        return lotline_profile::profile::ident(l, "")
            .map(|_| l.to_owned())
            .map_err(|e| e.message);
    }
    let hex = l.strip_prefix("0x").unwrap_or(l);
    if hex.is_empty() || !hex.bytes().all(|b| b.is_ascii_hexdigit()) || !hex.len().is_multiple_of(2)
    {
        return Err(format!("{l:?} is neither an EPC URI nor the tag's EPC hex"));
    }
    let bits = hex.len() * 4;
    let raw = format!("urn:epc:raw:{bits}.x{}", hex.to_ascii_uppercase());
    lotline_profile::profile::ident(&raw, "")
        .map(|_| raw)
        .map_err(|e| format!("{l:?}: {}", e.message))
}

async fn form_bagging(data: Data, req: HttpRequest, f: web::Form<BaggingForm>) -> HttpResponse {
    let lang = lang_of(&req, f.lang.as_deref());
    let t = lang.text();
    let built = (|| {
        let lot = lot_id(t.lot, required(t.lot, &f.lot)?)?;
        let bag_kg = number(t.bag_kg, required(t.bag_kg, &f.bag_kg)?)?;
        let time = form_time(required(t.time, &f.time)?, &data.site.offset)?;
        let bags = required(t.bags, &f.bags)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| bag_epc(l).map_err(|e| format!("{} {}: {e}", t.bags, i + 1)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut event = build::bagging(
            &time,
            build::kg(&lot, bag_kg * bags.len() as f64),
            &bags,
            bag_kg,
        );
        event.as_object_mut().map(|o| o.remove("eventID"));
        Ok(event)
    })();
    record_form(&data, lang, built).await
}

/// Records a form's event and answers with the page.
async fn record_form(data: &Data, lang: Lang, built: Result<Value, String>) -> HttpResponse {
    let event = match built {
        Ok(e) => e,
        Err(why) => return render(data, lang, Some(Err(why)), 422).await,
    };
    let edge = data.edge.clone();
    match web::block(move || edge.record(&event)).await {
        Ok(Ok(Added::New(item) | Added::Existing(item))) => HttpResponse::SeeOther()
            .insert_header((
                header::LOCATION,
                format!("/?lang={}&saved={}#outbox", lang.code(), item.seq),
            ))
            .finish(),
        Ok(Err(p)) => render(data, lang, Some(Err(p.detail.clone())), 422).await,
        Err(e) => answer(Problem::internal(e)),
    }
}

#[derive(Deserialize)]
struct RetryForm {
    lang: Option<String>,
}

async fn form_retry(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
    f: web::Form<RetryForm>,
) -> HttpResponse {
    let lang = lang_of(&req, f.lang.as_deref());
    let Ok(seq) = path.parse::<u64>() else {
        return answer(Problem::invalid_parameter("seq", "a record number"));
    };
    let edge = data.edge.clone();
    match web::block(move || edge.retry(seq)).await {
        Ok(Ok(Some(_))) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/?lang={}#outbox", lang.code())))
            .finish(),
        Ok(Ok(None)) => answer(Problem::not_found(format!("record {seq}"))),
        Ok(Err(p)) => answer(p),
        Err(e) => answer(Problem::internal(e)),
    }
}

/// `POST /v1/events`: one unsigned event, or an EPCISDocument of them.
async fn post_events(data: Data, body: web::Bytes) -> Result<HttpResponse, Problem> {
    let doc = data_integrity::json::parse(&body, &data_integrity::json::Limits::default())?;
    let events: Vec<Value> = if doc["type"] == "EPCISDocument" {
        let list = doc["epcisBody"]["eventList"].as_array().ok_or_else(|| {
            Problem::invalid_parameter("epcisBody.eventList", "an array of events")
        })?;
        let context = doc.get("@context").cloned();
        list.iter()
            .map(|e| {
                let mut e = e.clone();
                if let (Some(c), Some(o)) = (&context, e.as_object_mut())
                    && !o.contains_key("@context")
                {
                    o.insert("@context".into(), c.clone());
                }
                e
            })
            .collect()
    } else {
        vec![doc]
    };
    if events.is_empty() {
        return Err(Problem::invalid_parameter(
            "epcisBody.eventList",
            "the document holds no events",
        ));
    }
    let edge = data.edge.clone();
    let records = web::block(move || -> Result<Vec<Value>, Problem> {
        // Every event is checked and signed before any is recorded: a refused request records
        // nothing.
        let prepared = events
            .iter()
            .enumerate()
            .map(|(i, e)| {
                edge.prepare(e).map_err(|mut p| {
                    p.detail = format!("event {i}: {}", p.detail);
                    p
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut out = Vec::new();
        for p in prepared {
            let (item, new) = match edge.keep(p)? {
                Added::New(i) => (i, true),
                Added::Existing(i) => (i, false),
            };
            out.push(json!({
                "seq": item.seq,
                "eventID": item.event_id,
                "status": item.status,
                "new": new,
            }));
        }
        edge.sync.notify();
        Ok(out)
    })
    .await
    .map_err(Problem::internal)??;
    Ok(HttpResponse::Created().json(json!({"records": records})))
}

#[derive(Deserialize)]
struct OutboxQuery {
    status: Option<String>,
    limit: Option<usize>,
}

async fn get_outbox(data: Data, q: web::Query<OutboxQuery>) -> Result<HttpResponse, Problem> {
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(
            Status::parse(s)
                .ok_or_else(|| Problem::invalid_parameter("status", "pending, sent or refused"))?,
        ),
    };
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_LIST {
        return Err(Problem::invalid_parameter(
            "limit",
            format!("between 1 and {MAX_LIST}"),
        ));
    }
    let edge = data.edge.clone();
    let (counts, items) = web::block(move || {
        Ok::<_, crate::store::StoreError>((
            edge.outbox.counts()?,
            edge.outbox.recent(status, limit)?,
        ))
    })
    .await
    .map_err(Problem::internal)?
    .map_err(Problem::internal)?;
    Ok(HttpResponse::Ok().json(json!({"counts": counts, "items": items})))
}

async fn post_retry(data: Data, path: web::Path<String>) -> Result<HttpResponse, Problem> {
    let seq = path
        .parse::<u64>()
        .map_err(|_| Problem::invalid_parameter("seq", "a record number"))?;
    let edge = data.edge.clone();
    match web::block(move || edge.retry(seq))
        .await
        .map_err(Problem::internal)??
    {
        Some(item) => Ok(HttpResponse::Ok().json(item)),
        None => Err(Problem::not_found(format!("record {seq}"))),
    }
}

async fn status(data: Data) -> Result<HttpResponse, Problem> {
    let edge = data.edge.clone();
    let counts = web::block(move || edge.outbox.counts())
        .await
        .map_err(Problem::internal)?
        .map_err(Problem::internal)?;
    Ok(HttpResponse::Ok().json(json!({
        "actor": data.site.actor,
        "server": data.edge.server,
        "counts": counts,
        "sync": data.edge.sync.state(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_times_take_the_sites_offset() {
        assert_eq!(
            form_time("2026-12-03T09:30", "+07:00").unwrap(),
            "2026-12-03T09:30:00+07:00"
        );
        assert!(form_time("03/12/2026 09:30", "+07:00").is_err());
        assert!(number("kg", "-5").is_err());
        assert_eq!(number("kg", "1,250.5").unwrap(), 1250.5);
    }

    #[test]
    fn bag_tags_are_uris_or_the_readers_hex() {
        let sgtin = "urn:epc:id:sgtin:8841234.030001.1001";
        assert_eq!(bag_epc(sgtin).unwrap(), sgtin);
        let raw = lotline_scenario::raw_uri(sgtin);
        let hex = raw.rsplit(".x").next().unwrap();
        assert_eq!(bag_epc(hex).unwrap(), raw);
        assert!(bag_epc("zz").is_err());
        assert!(bag_epc("").is_err());
    }
}
