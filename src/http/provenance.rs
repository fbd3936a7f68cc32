//! Provenance for buyers: a lot's genealogy with its verdict, its offline proof bundle, and the
//! GS1 Digital Link resolver that serves both to phones scanning a label.
//!
//! The server builds the bundle and then verifies it with the very code an offline verifier
//! runs (`provenance::verify`, with the log's own key), so what the API and the buyer page say
//! is exactly what `lotline verify` would say of the downloaded bundle.

use actix_web::http::header::{self, ContentEncoding};
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use serde_json::{Value, json};

use super::params::{lookup_key, urlencode};
use super::{AppState, Code, Problem, pages};
use std::sync::Arc;

use crate::provenance::cache::Verified;
use crate::provenance::view::{BuyerView, Links};
use crate::provenance::{self, Bundle, CollectError, Plan, Report};
use gs1::digital_link;

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

/// The plan and bundle of the lot with canonical key `key`, if there is such a lot. The reads
/// run on the blocking pool, so a long history never stalls the server's event loop.
async fn bundle_of(data: &Data, key: &str) -> Result<Option<(Plan, Bundle)>, Problem> {
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
    let (plan, bundle) = web::block(move || {
        provenance::collect::build(&ledger, &plan, &checkpoint, &registrars, &bounds)
            .map(|b| (plan, b))
    })
    .await
    .map_err(Problem::internal)??;
    Ok(Some((plan, bundle)))
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

/// Where the resources of the subject with EPC URI `id` and canonical key `key` live.
fn links(id: &str, key: &str) -> Links {
    let enc = urlencode(id);
    Links {
        self_: format!("/v1/lots/{enc}/provenance"),
        bundle: format!("/v1/lots/{enc}/bundle"),
        events: format!("/v1/epcs/{enc}/events"),
        lot: format!("/v1/lots/{enc}"),
        qr_svg: format!("/v1/lots/{enc}/qr.svg"),
        qr_png: format!("/v1/lots/{enc}/qr.png"),
        page: key.to_owned(),
    }
}

/// The provenance answer: the bundle's claims as the verifier recomputed them, its verdict, and
/// each entry's proof.
pub(super) fn provenance_json(bundle: &Bundle, report: &Report, base: &str) -> Value {
    let claims = &report.claims;
    let subject = claims.lots.iter().find(|l| l.key == bundle.subject);
    let id = provenance::subject_id(bundle, claims);
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
    let checkpoint = provenance::checkpoint(&bundle.checkpoint);
    let proofs: Vec<Value> = bundle
        .entries
        .iter()
        .map(|e| json!({"index": e.entry.get("index"), "hashes": e.inclusion_proof}))
        .collect();
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
            "summary": provenance::summary(report),
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
        "quality": claims.quality,
        // Derived from the verified history only: an unverified bundle proves no status.
        "organic": {
            "status": if report.verified { claims.organic.status.as_str() } else { "not_verified" },
            "checks": claims.organic.checks,
        },
        "certificates": claims.certificates,
        "lots": claims.lots,
        "proofs": proofs,
        "links": links(id, &bundle.subject),
    })
}

/// The buyer page's view of the same bundle and report.
fn buyer_view(bundle: &Bundle, report: &Report, base: &str) -> BuyerView {
    let id = provenance::subject_id(bundle, &report.claims);
    BuyerView::new(bundle, report, base, links(id, &bundle.subject))
}

/// The verified result for `key`: the cached one if no committed entry has touched the lot's
/// history since it was built (see `crate::provenance::cache`), else the bundle built and
/// verified now with the log's own key, offered to the cache. Either way the verdict is the
/// verifier's over exactly the bundle served with it, against the checkpoint that bundle carries.
async fn verified(data: &Data, key: &str) -> Result<Option<Arc<Verified>>, Problem> {
    let cache = &data.read_cache;
    if let Some(v) = cache.get(&data.ledger, key, false).await? {
        return Ok(Some(v));
    }
    let _slot = slot(data).await?;
    // Another request may have built it while this one waited for its slot.
    if let Some(v) = cache.get(&data.ledger, key, true).await? {
        return Ok(Some(v));
    }
    // Entries from here on may or may not be in the walk: the cache checks them against it.
    let valid_from = data.ledger.head().size;
    let Some((plan, bundle)) = bundle_of(data, key).await? else {
        return Ok(None);
    };
    let (ledger, bounds) = (data.ledger.clone(), data.bounds.clone());
    let (plan, bundle, report) = web::block(move || {
        let report = provenance::verify(&bundle, ledger.verifier_key(), &[], &bounds);
        (plan, bundle, report)
    })
    .await
    .map_err(Problem::internal)?;
    if !report.verified {
        // The ledger's own bundle failing its own verification means damaged storage.
        tracing::error!(subject = key, findings = ?report.findings, "a provenance bundle does not verify");
    }
    let v = Verified::new(&plan, bundle, report, valid_from);
    Ok(Some(cache.put(&data.ledger, v).await?))
}

/// Pages, provenance documents and bundles may be stored by browsers and shared caches but are
/// revalidated on every use (a conditional request answered `304` costs the server a lookup):
/// a lot touched by a new event must show it at the next checkpoint, so no freshness lifetime
/// is granted.
const REVALIDATE: &str = "public, no-cache";

/// Whether `If-None-Match` names `etag` (or is `*`). Weak comparison, as RFC 9110 has it for
/// `If-None-Match`.
pub(super) fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let want = strip(etag);
    req.headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == want)
}

/// The answer for a cached representation: `304` to a conditional request that has it, else
/// the `plain` body (held by the result: rendered once per result and base URL, or the bundle's
/// own JSON) with its ETag. A client that accepts gzip
/// gets the body gzipped, also once per result (a bundle is ~600 KB of JSON: compressing it for
/// every buyer's scan would cost more than serving it), with an ETag of its own, as a different
/// content coding needs. With the cache off, the body as before, built for this request alone,
/// without validators (the middleware compresses it).
fn represent(
    data: &Data,
    req: &HttpRequest,
    v: &Verified,
    kind: char,
    base: &str,
    content_type: &str,
    plain: impl FnOnce() -> Bytes,
) -> HttpResponse {
    if !data.read_cache.enabled() {
        return HttpResponse::Ok().content_type(content_type).body(plain());
    }
    let gzip = super::accepts_gzip(req);
    let etag = v.etag(kind, base);
    let etag = if gzip {
        format!("{}-gzip\"", etag.trim_end_matches('"'))
    } else {
        etag
    };
    if not_modified(req, &etag) {
        return HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, REVALIDATE))
            .insert_header((header::VARY, "Accept-Encoding"))
            .finish();
    }
    let mut res = HttpResponse::Ok();
    res.content_type(content_type)
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, REVALIDATE))
        .insert_header((header::VARY, "Accept-Encoding"));
    if gzip {
        // The compressed representation is its own kind (upper case), rendered from the plain.
        let body = v.rendered(kind.to_ascii_uppercase() as u8, base, || {
            super::gzipped(&plain())
        });
        // With Content-Encoding set, the compression middleware passes the body through.
        res.insert_header(ContentEncoding::Gzip).body(body)
    } else {
        // Not compressed on the fly either (a client taking only deflate): one strong ETag
        // names one body.
        res.insert_header(ContentEncoding::Identity).body(plain())
    }
}

pub(super) async fn get_provenance(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let key = lookup_key(&path)?;
    let v = verified(&data, &key)
        .await?
        .ok_or_else(|| not_found(&path))?;
    Ok(provenance_document(&data, &req, &v, &base_url(&req)))
}

/// The provenance document of `v` (JSON), from the read cache's rendering of it.
fn provenance_document(data: &Data, req: &HttpRequest, v: &Verified, base: &str) -> HttpResponse {
    represent(data, req, v, 'p', base, "application/json", || {
        v.rendered(b'p', base, || {
            serde_json::to_vec(&provenance_json(&v.bundle, &v.report, base)).unwrap_or_default()
        })
    })
}

pub(super) async fn get_bundle(
    data: Data,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let key = lookup_key(&path)?;
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
    let disposition = (
        header::CONTENT_DISPOSITION,
        format!("attachment; filename=\"provenance-{name}.json\""),
    );
    if !data.read_cache.enabled() {
        // As before the cache: built for this request, not verified (the client verifies it).
        let (_, bundle) = bundle_of(&data, &key)
            .await?
            .ok_or_else(|| not_found(&path))?;
        let body = serde_json::to_vec(&bundle).map_err(Problem::internal)?;
        return Ok(HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(disposition)
            .body(body));
    }
    let v = verified(&data, &key)
        .await?
        .ok_or_else(|| not_found(&path))?;
    let mut res = represent(&data, &req, &v, 'b', "", "application/json", || {
        v.bundle_json()
    });
    if res.status().is_success() {
        res.headers_mut().insert(
            disposition.0,
            header::HeaderValue::from_str(&disposition.1).map_err(Problem::internal)?,
        );
    }
    Ok(res)
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
                pages::not_found_page(&format!("{} ({e})", req.path())),
            ));
        }
    };
    let base = base_url(&req);
    // The answer depends on Accept (page or JSON) as well as on Accept-Encoding.
    let vary = |mut r: HttpResponse| {
        r.headers_mut().insert(
            header::VARY,
            header::HeaderValue::from_static("Accept, Accept-Encoding"),
        );
        r
    };
    match verified(&data, &key).await? {
        Some(v) if json => Ok(vary(provenance_document(&data, &req, &v, &base))),
        Some(v) => Ok(vary(represent(
            &data,
            &req,
            &v,
            'h',
            &base,
            "text/html; charset=utf-8",
            || {
                v.rendered(b'h', &base, || {
                    pages::buyer_page(&buyer_view(&v.bundle, &v.report, &base)).into_bytes()
                })
            },
        ))),
        None if json => Err(not_found(req.path())),
        None => Ok(html(
            actix_web::http::StatusCode::NOT_FOUND,
            pages::not_found_page(req.path()),
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

/// A label's QR code encodes only its Digital Link URL, which never changes for a lot: it may be
/// kept a day by anyone (the URL depends on the `Host` the client used, which caches key on).
const QR_CACHE: &str = "public, max-age=86400";

/// The QR code's ETag: what it encodes (`px` 0 for SVG).
fn qr_etag(url: &str, px: u32) -> String {
    use sha2::Digest as _;
    let d = sha2::Sha256::digest(format!("{px} {url}").as_bytes());
    let hex: String = d[..12].iter().map(|b| format!("{b:02x}")).collect();
    format!("\"q{px}-{hex}\"")
}

fn qr_not_modified(etag: String) -> HttpResponse {
    HttpResponse::NotModified()
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, QR_CACHE))
        .finish()
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
    let etag = qr_etag(&url, 0);
    if not_modified(&req, &etag) {
        return Ok(qr_not_modified(etag));
    }
    let svg = crate::qr::svg(&url).map_err(qr_problem)?;
    Ok(HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, QR_CACHE))
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
    let etag = qr_etag(&url, px);
    if not_modified(&req, &etag) {
        return Ok(qr_not_modified(etag));
    }
    let png = crate::qr::png(&url, px).map_err(qr_problem)?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, QR_CACHE))
        .body(png))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provenance::{Claims, Finding, LogInfo};
    use serde_json::json;

    const FARM: &str = "urn:epc:id:pgln:8841234.00001";
    const MILL: &str = "urn:epc:id:pgln:8841234.00010";

    fn claims() -> Claims {
        serde_json::from_value(json!({
            "lots": [
                {"key": "/01/08841234300014/21/1001", "id": "urn:epc:id:sgtin:8841234.030001.1001",
                 "class": "item", "product": "head-rice", "crop": "rice", "growingMethod": "organic",
                 "createdAt": 4, "createdBy": MILL, "inputs": ["/01/08841234100010/10/L1"]},
                {"key": "/01/08841234100010/10/L1", "id": "urn:epc:class:lgtin:8841234.010001.L1",
                 "class": "lot", "product": "paddy", "createdAt": 2, "createdBy": FARM, "inputs": []}],
            "farms": [{"id": FARM, "name": "Sok <Farm>", "province": "Preah Vihear"}],
            "plots": [{"farm": FARM, "farmName": "Sok <Farm>", "plotId": "KH-PVH-0001", "province": "Preah Vihear",
                "areaHectares": 1.2, "geo": {"type": "Polygon", "coordinates": [[[104.9, 13.8], [104.91, 13.8], [104.91, 13.81], [104.9, 13.8]]]},
                "crop": "rice", "harvestStart": "2026-11-02", "harvestEnd": "2026-11-03", "growingMethod": "organic",
                "harvestedKg": 6000.0, "index": 2}],
            "custody": [
                {"actor": FARM, "name": "Sok <Farm>", "role": "farm", "from": "2026-11-03T08:00:00+07:00", "until": "2026-11-04T08:00:00+07:00", "entries": [2, 3]},
                {"actor": MILL, "role": "mill", "from": "2026-11-05T08:00:00+07:00", "until": "2026-11-05T08:00:00+07:00", "entries": [4]}],
            "timeline": [
                {"index": 2, "eventID": "urn:uuid:1", "eventTime": "2026-11-03T08:00:00+07:00", "kind": "harvest",
                 "bizStep": "https://ref.gs1.org/cbv/BizStep-commissioning", "actor": FARM, "actorName": "Sok <Farm>",
                 "role": "farm", "signer": "did:key:z6Mk1", "lots": ["/01/08841234100010/10/L1"], "what": "harvested 6,000 kg of paddy"},
                {"index": 4, "eventTime": "2026-11-05T08:00:00+07:00", "kind": "transformation", "bizStep": "lotline:milling",
                 "signer": "did:key:z6Mk2", "lots": [], "what": "milled"}],
            "flags": [{"code": "yield_per_hectare", "message": "5.000 t/ha", "index": 2}],
            "certificates": [{"id": "https://c.example/1", "number": "KH-1", "standard": "EU 2018/848", "issuer": "urn:x:cb",
                "subject": FARM, "subjectName": "Sok <Farm>", "activities": ["production"], "products": ["rice"],
                "validFrom": "2026-01-01", "validUntil": "2026-12-31", "decisions": ["suspended from 2026-06-01"], "entries": [1]}],
            "organic": {"status": "not_organic", "checks": [
                {"check": "plot_certified", "passed": true, "subject": "farm plot", "entry": 2, "eventTime": "2026-11-03T08:00:00+07:00", "message": "covered"},
                {"check": "handler_certified", "passed": false, "subject": MILL, "entry": 4, "eventTime": "2026-11-05T08:00:00+07:00", "message": "no certificate"}]}
        }))
        .unwrap()
    }

    fn bundle_and_report(verified: bool) -> (Bundle, Report) {
        let claims = claims();
        let bundle = Bundle {
            kind: provenance::BUNDLE_TYPE.into(),
            version: provenance::BUNDLE_VERSION,
            subject: "/01/08841234300014/21/1001".into(),
            log: LogInfo {
                origin: "example.org/log".into(),
                verifier_key: String::new(),
            },
            checkpoint: "example.org/log\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— example.org/log AAAA\n".into(),
            registrars: Vec::new(),
            bounds: Default::default(),
            entries: Vec::new(),
            actors: Vec::new(),
            claims: claims.clone(),
        };
        let report = Report {
            verified,
            findings: if verified {
                Vec::new()
            } else {
                vec![Finding {
                    code: lotline_verify::FindingCode::Signature,
                    at: "entry 4".into(),
                    message: "the signature <does not> verify".into(),
                }]
            },
            origin: Some("example.org/log".into()),
            tree_size: Some(5),
            entries: 2,
            registrar_entries: 0,
            signatures: [(2, "valid".to_owned()), (4, "invalid: bad".to_owned())].into(),
            authorised: [(2, true)].into(),
            claims,
        };
        (bundle, report)
    }

    /// The server renders the page from the typed bundle and report; it must say exactly what
    /// the provenance document it serves says.
    #[test]
    fn the_page_says_what_the_document_says() {
        let base = "https://id.example";
        for verified in [true, false] {
            let (bundle, report) = bundle_and_report(verified);
            let typed = pages::buyer_page(&buyer_view(&bundle, &report, base));
            let doc = provenance_json(&bundle, &report, base);
            let read = pages::buyer_page(&BuyerView::from_document(&doc));
            assert_eq!(typed, read, "verified: {verified}");
            assert!(typed.contains(&format!("data-verified=\"{verified}\"")));
            assert!(typed.contains("Sok &lt;Farm&gt;"));
            assert!(typed.contains("<dt>Tree size</dt><dd>5</dd>"), "{typed}");
            assert!(typed.contains("(polygon, 3 vertices)"));
            assert_eq!(
                typed.contains("the signature &lt;does not&gt; verify"),
                !verified
            );
        }
    }
}
