//! Provenance for buyers: a lot's genealogy with its verdict, its offline proof bundle, and the
//! GS1 Digital Link resolver that serves both to phones scanning a label.
//!
//! The server builds the bundle and then verifies it with the very code an offline verifier
//! runs (`provenance::verify`, with the log's own key), so what the API and the buyer page say
//! is exactly what `lotline verify` would say of the downloaded bundle.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::supply::{lookup_key, urlencode};
use super::{AppState, Code, Problem};
use crate::provenance::{self, Bundle, CollectError, Report};
use gs1::digital_link;
use tlog::note::Checkpoint;

type Data = web::Data<AppState>;

impl From<CollectError> for Problem {
    fn from(e: CollectError) -> Problem {
        match e {
            CollectError::Ledger(l) => l.into(),
            CollectError::TooLarge => Problem::new(Code::HistoryTooLarge, e.to_string()),
        }
    }
}

fn not_found(id: &str) -> Problem {
    Problem::not_found(format!(
        "no lot, item or unit {id} is recorded in this ledger"
    ))
}

/// A place among the provenance requests allowed at once: each may verify thousands of
/// signatures on the cores ingest needs, so anonymous reads cannot crowd out writes.
async fn slot(data: &Data) -> Result<tokio::sync::SemaphorePermit<'_>, Problem> {
    data.provenance_slots
        .acquire()
        .await
        .map_err(Problem::internal)
}

/// The bundle of the lot with canonical key `key`, if there is such a lot. The reads run on the
/// blocking pool, so a long history never stalls the server's event loop.
async fn bundle_of(data: &Data, key: &str) -> Result<Option<Bundle>, Problem> {
    let (ledger, k) = (data.ledger.clone(), key.to_owned());
    let plan = web::block(move || provenance::collect::plan(&ledger, &k))
        .await
        .map_err(Problem::internal)??;
    let Some(plan) = plan else { return Ok(None) };
    let checkpoint = data
        .ledger
        .checkpoint_covering(plan.last().unwrap_or(0))
        .await?;
    let (ledger, registrars, bounds) = (
        data.ledger.clone(),
        data.registrars.clone(),
        data.bounds.clone(),
    );
    let bundle = web::block(move || {
        provenance::collect::build(&ledger, &plan, &checkpoint, &registrars, &bounds)
    })
    .await
    .map_err(Problem::internal)??;
    Ok(Some(bundle))
}

/// `scheme://host` as the client reached us, for absolute Digital Link URLs. Only the `Host`
/// header counts, not `X-Forwarded-*`, which any client may send.
pub(super) fn base_url(req: &HttpRequest) -> String {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()))
        .map_or_else(|| req.app_config().host().to_owned(), str::to_owned);
    let scheme = match req.connection_info().scheme() {
        "https" => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// The provenance answer: the bundle's claims as the verifier recomputed them, its verdict, and
/// each entry's proof.
pub(super) fn provenance_json(bundle: &Bundle, report: &Report, base: &str) -> Value {
    let claims = &report.claims;
    let subject = claims.lots.iter().find(|l| l.key == bundle.subject);
    let id = subject.map_or(bundle.subject.as_str(), |s| s.id.as_str());
    let enc = urlencode(id);
    let timeline: Vec<Value> = claims
        .timeline
        .iter()
        .map(|t| {
            let mut v = serde_json::to_value(t).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "signature".into(),
                    json!(
                        report
                            .signatures
                            .get(&t.index)
                            .map_or("missing", |s| s.as_str())
                    ),
                );
                o.insert(
                    "authorised".into(),
                    json!(report.authorised.get(&t.index).copied().unwrap_or(false)),
                );
                o.insert("entry".into(), json!(format!("/v1/entries/{}", t.index)));
            }
            v
        })
        .collect();
    let checkpoint = Checkpoint::parse(note_body(&bundle.checkpoint)).ok();
    let proofs: Vec<Value> = bundle
        .entries
        .iter()
        .map(|e| json!({"index": e.entry.get("index"), "hashes": e.inclusion_proof}))
        .collect();
    let summary = if report.verified {
        format!(
            "{} entries checked: event signatures, each signer's registration and role at the event's time, chain links, and inclusion in the log's signed checkpoint of size {}",
            report.entries,
            report.tree_size.unwrap_or(0)
        )
    } else {
        format!(
            "{} problem(s) found in {} entries",
            report.findings.len(),
            report.entries
        )
    };
    json!({
        "subject": {
            "id": id,
            "key": bundle.subject,
            "class": subject.map(|s| s.class),
            "product": subject.and_then(|s| s.product.clone()),
            "crop": subject.and_then(|s| s.crop.clone()),
            "growingMethod": subject.and_then(|s| s.growing_method.clone()),
            "digitalLink": format!("{base}{}", bundle.subject),
        },
        "verdict": {
            "verified": report.verified,
            "summary": summary,
            "problems": report.findings,
        },
        "checkpoint": {
            "origin": checkpoint.as_ref().map(|c| c.origin.clone()),
            "size": checkpoint.as_ref().map(|c| c.size),
            "rootHash": checkpoint.as_ref().map(|c| lotline_profile::entry::b64_hash::encode(&c.root)),
            "note": bundle.checkpoint,
        },
        "origin": {"farms": claims.farms, "plots": claims.plots},
        "custody": claims.custody,
        "timeline": timeline,
        "flags": claims.flags,
        // Derived from the verified history only: an unverified bundle proves no status.
        "organic": {
            "status": if report.verified { claims.organic.status.as_str() } else { "not_verified" },
            "checks": claims.organic.checks,
        },
        "certificates": claims.certificates,
        "lots": claims.lots,
        "proofs": proofs,
        "links": {
            "self": format!("/v1/lots/{enc}/provenance"),
            "bundle": format!("/v1/lots/{enc}/bundle"),
            "events": format!("/v1/epcs/{enc}/events"),
            "lot": format!("/v1/lots/{enc}"),
            "qrSvg": format!("/v1/lots/{enc}/qr.svg"),
            "qrPng": format!("/v1/lots/{enc}/qr.png"),
            "page": bundle.subject,
        },
    })
}

/// The text of a signed note without its signature lines (with its final newline).
fn note_body(n: &str) -> &str {
    n.find("\n\n").map_or(n, |i| &n[..=i])
}

/// Builds, verifies and renders the provenance of `key`.
async fn provenance_of(data: &Data, key: &str, base: &str) -> Result<Option<Value>, Problem> {
    let Some(bundle) = bundle_of(data, key).await? else {
        return Ok(None);
    };
    let (ledger, bounds) = (data.ledger.clone(), data.bounds.clone());
    let (bundle, report) = web::block(move || {
        let report = provenance::verify(&bundle, ledger.verifier_key(), &[], &bounds);
        (bundle, report)
    })
    .await
    .map_err(Problem::internal)?;
    if !report.verified {
        // The ledger's own bundle failing its own verification means damaged storage.
        tracing::error!(subject = key, findings = ?report.findings, "a provenance bundle does not verify");
    }
    Ok(Some(provenance_json(&bundle, &report, base)))
}

pub(super) async fn get_provenance(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let key = lookup_key(&path)?;
    let _slot = slot(&data).await?;
    let v = provenance_of(&data, &key, &base_url(&req))
        .await?
        .ok_or_else(|| not_found(&path))?;
    Ok(HttpResponse::Ok().json(v))
}

pub(super) async fn get_bundle(
    data: Data,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let key = lookup_key(&path)?;
    let bundle = bundle_of(&data, &key)
        .await?
        .ok_or_else(|| not_found(&path))?;
    let body = serde_json::to_vec(&bundle).map_err(Problem::internal)?;
    let name: String = path
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"provenance-{name}.json\""),
        ))
        .body(body))
}

/// How a Digital Link request wants its answer.
fn wants_json(req: &HttpRequest, link_type: Option<&str>) -> bool {
    if link_type == Some("gs1:traceability") {
        return true;
    }
    req.headers()
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| {
            a.split(',').any(|m| {
                let m = m.split(';').next().unwrap_or("").trim();
                m == "application/json" || m == "application/ld+json"
            }) && !a.contains("text/html")
        })
}

/// `GET /01/{gtin}/10/{lot}`, `/01/{gtin}/21/{serial}`, `/00/{sscc}`: the buyer page for
/// browsers, the provenance JSON for `Accept: application/json` or
/// `?linkType=gs1:traceability`.
pub(super) async fn resolve(
    data: Data,
    req: HttpRequest,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    let link_type = query.get("linkType").map(String::as_str);
    if let Some(k) = query.keys().find(|k| k.as_str() != "linkType") {
        return Err(Problem::invalid_parameter(
            k,
            "not a supported query parameter; this resolver takes linkType=gs1:traceability",
        ));
    }
    let json = wants_json(&req, link_type);
    let key = match digital_link::parse_digital_link(req.path()) {
        Ok(k) => k.dl_path(),
        Err(e) if json => {
            return Err(Problem::invalid_parameter(
                "path",
                format!("{:?} is not a GS1 Digital Link: {e}", req.path()),
            ));
        }
        Err(e) => {
            return Ok(html(
                actix_web::http::StatusCode::BAD_REQUEST,
                super::page::not_found_page(&format!("{} ({e})", req.path())),
            ));
        }
    };
    let base = base_url(&req);
    let _slot = slot(&data).await?;
    match provenance_of(&data, &key, &base).await? {
        Some(v) if json => Ok(HttpResponse::Ok().json(v)),
        Some(v) => Ok(html(
            actix_web::http::StatusCode::OK,
            super::page::buyer_page(&v),
        )),
        None if json => Err(not_found(req.path())),
        None => Ok(html(
            actix_web::http::StatusCode::NOT_FOUND,
            super::page::not_found_page(req.path()),
        )),
    }
}

fn html(status: actix_web::http::StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::VARY, "Accept"))
        .body(body)
}

/// The Digital Link URL of an existing lot, for its QR code.
fn label_url(data: &Data, req: &HttpRequest, id: &str) -> Result<String, Problem> {
    let key = lookup_key(id)?;
    if data
        .ledger
        .state()
        .lot(&key)
        .map_err(Problem::internal)?
        .is_none()
    {
        return Err(not_found(id));
    }
    Ok(format!("{}{key}", base_url(req)))
}

fn qr_problem(e: crate::qr::QrError) -> Problem {
    Problem::invalid_parameter("id", e)
}

pub(super) async fn get_qr_svg(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let url = label_url(&data, &req, &path)?;
    let svg = crate::qr::svg(&url).map_err(qr_problem)?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .body(svg))
}

/// `?px=N`: pixels per module, 1 to 40 (default 8: a 33-module code prints about 2.5 cm wide
/// at 300 dpi).
pub(super) async fn get_qr_png(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    if let Some(k) = query.keys().find(|k| k.as_str() != "px") {
        return Err(Problem::invalid_parameter(
            k,
            "not a supported query parameter; use px (pixels per module)",
        ));
    }
    let px = match query.get("px") {
        None => 8,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| crate::qr::MODULE_PX.contains(n))
            .ok_or_else(|| {
                Problem::invalid_parameter(
                    "px",
                    format!("{v:?} is not a whole number from 1 to 40"),
                )
            })?,
    };
    let url = label_url(&data, &req, &path)?;
    let png = crate::qr::png(&url, px).map_err(qr_problem)?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "private, max-age=3600"))
        .body(png))
}
