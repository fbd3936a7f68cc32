//! The verified-provenance cache behind buyer pages, provenance documents and bundles: a
//! result is reused until a committed entry touches the lot's history, a new event for the lot
//! shows at the next checkpoint, a retroactive certificate withdrawal changes a cached organic
//! verdict, and conditional requests (`ETag`, `If-None-Match` → `304`) round-trip. Real
//! server, demo scenario.

use crate::support::{Server, asking_again_until_checkpointed, enc, get, post_json};
use data_integrity::di;
use lotline_scenario::{self as scenario, cert_decision, demo_cert_id, seeded_key};
use serde_json::{Value, json};

const SEED: &str = "read cache test";
const CONTAINER: &str = "urn:epc:id:sscc:8841234.9000000001";
const PAGE: &str = "/00/988412340000000016";

/// Signs `doc` with the demo key of `who` and posts it; returns its entry index.
fn submit(server: &Server, who: &str, doc: &Value) -> u64 {
    let key = seeded_key(&format!("{SEED} {who}"));
    let signed = di::sign(doc, &key, "2026-11-20T00:00:00Z").unwrap();
    let a = post_json(&server.url("/v1/events"), &signed);
    assert_eq!(a.status, 201, "{}", a.body);
    a.json()["index"].as_u64().unwrap()
}

/// Status, ETag, Cache-Control and body of a GET of `path`, conditional on `etag` if given,
/// asking again while no checkpoint covers the lot's history
/// ([`asking_again_until_checkpointed`]).
fn fetch(server: &Server, path: &str, etag: Option<&str>) -> (u16, String, String, String) {
    asking_again_until_checkpointed(|| fetch_once(server, path, etag), |a| (a.0, a.3.as_str()))
}

/// Sends `req` for `path`, conditional on `etag` if given; an error status is an answer too.
fn call(req: ureq::Request, path: &str, etag: Option<&str>) -> ureq::Response {
    let req = match etag {
        Some(e) => req.set("If-None-Match", e),
        None => req,
    };
    match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{path}: {e}"),
    }
}

fn fetch_once(server: &Server, path: &str, etag: Option<&str>) -> (u16, String, String, String) {
    let req = ureq::get(&server.url(path)).timeout(std::time::Duration::from_secs(60));
    let r = call(req, path, etag);
    let status = r.status();
    let header = |n: &str| r.header(n).unwrap_or("").to_owned();
    let (etag, cc) = (header("ETag"), header("Cache-Control"));
    (status, etag, cc, r.into_string().unwrap())
}

/// The read cache's counter for `outcome` in /metrics.
fn cache_count(server: &Server, outcome: &str) -> u64 {
    let text = get(&server.url("/metrics")).body;
    let want = format!("read_cache_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|l| l.split_once(&want).map(|(_, n)| n.trim().parse().unwrap()))
        .unwrap_or(0)
}

fn provenance_path(id: &str) -> String {
    format!("/v1/lots/{}/provenance", enc(id))
}

#[test]
fn a_cached_page_changes_after_a_new_event_for_its_lot_is_checkpointed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), SEED);
    let (status, etag, _, page) = fetch(&server, PAGE, None);
    assert_eq!(status, 200, "{page}");
    let hits = cache_count(&server, "hit");
    let (status, again, _, same) = fetch(&server, PAGE, None);
    assert_eq!((status, &again, &same), (200, &etag, &page));
    assert!(
        cache_count(&server, "hit") > hits,
        "the second read is a hit"
    );

    // The importer inspects the container in Rotterdam: a new event in its history.
    let inspection = scenario::observation(
        false,
        "2026-11-19T10:00:00+01:00",
        &scenario::sgln(1),
        &[CONTAINER.to_owned()],
        &[],
        json!([{"sensorReport": [scenario::moisture(13.1)]}]),
    );
    let index = submit(&server, "importer", &inspection);
    // The next read waits for the checkpoint covering the event, and shows it.
    let (status, fresh, _, page) = fetch(&server, PAGE, None);
    assert_eq!(status, 200, "{page}");
    assert_ne!(fresh, etag, "a new event for the lot changes the page");
    let p = get(&server.url(&provenance_path(CONTAINER))).json();
    assert_eq!(p["verdict"]["verified"], true, "{}", p["verdict"]);
    assert!(p["checkpoint"]["size"].as_u64().unwrap() > index);
    assert!(
        p["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["index"] == index),
        "the inspection is in the timeline"
    );
    assert!(cache_count(&server, "invalidated") >= 1);
    // The old ETag no longer matches: a full answer, not 304.
    assert_eq!(fetch(&server, PAGE, Some(&etag)).0, 200);
}

#[test]
fn a_withdrawal_with_a_past_date_changes_a_cached_organic_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), SEED);
    let path = provenance_path(CONTAINER);
    let (_, etag, _, body) = fetch(&server, &path, None);
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["organic"]["status"], "organic");
    let hits = cache_count(&server, "hit");
    assert_eq!(
        fetch(&server, &path, Some(&etag)).0,
        304,
        "cached and current"
    );
    assert!(cache_count(&server, "hit") > hits);

    // The collector's certificate is withdrawn from 1 October, before it handled the paddy.
    let w = submit(
        &server,
        "certifier",
        &cert_decision(
            "lotline:CertificateWithdrawal",
            "2026-11-19T09:00:00+07:00",
            &demo_cert_id("collector"),
            "2026-10-01",
            "residue test positive on stored paddy",
        ),
    );
    let (status, fresh, _, body) = fetch(&server, &path, Some(&etag));
    assert_eq!(status, 200, "the cached verdict is stale: {body}");
    assert_ne!(fresh, etag);
    let p: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(p["verdict"]["verified"], true, "{}", p["verdict"]);
    assert_eq!(p["organic"]["status"], "not_organic");
    assert!(p["checkpoint"]["size"].as_u64().unwrap() > w);
    // The page and the bundle say the same.
    let page = get(&server.url(PAGE)).body;
    assert!(page.contains("Not organic"), "{page}");
    let bundle = get(&server.url(&format!("/v1/lots/{}/bundle", enc(CONTAINER)))).json();
    assert_eq!(bundle["claims"]["organic"]["status"], "not_organic");
}

#[test]
fn etags_round_trip_to_304_for_pages_documents_bundles_labels_and_proofs() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), SEED);
    let paths = [
        PAGE.to_owned(),
        provenance_path(CONTAINER),
        format!("/v1/lots/{}/bundle", enc(CONTAINER)),
        format!("/v1/lots/{}/qr.svg", enc(CONTAINER)),
        format!("/v1/lots/{}/qr.png?px=4", enc(CONTAINER)),
        "/v1/checkpoint".to_owned(),
        "/v1/proofs/inclusion/3".to_owned(),
        "/v1/proofs/inclusion/3?treeSize=5".to_owned(),
    ];
    for path in &paths {
        let (status, etag, cc, body) = fetch(&server, path, None);
        assert_eq!(status, 200, "{path}: {body}");
        assert!(etag.starts_with('"') && etag.len() > 2, "{path}: {etag:?}");
        assert!(!cc.is_empty(), "{path} has Cache-Control");
        let (status, again, cc2, body) = fetch(&server, path, Some(&etag));
        assert_eq!(status, 304, "{path}");
        assert!(body.is_empty(), "{path}: {body}");
        assert_eq!((again, cc2), (etag.clone(), cc.clone()), "{path}");
        // Any of several, and the weak form, match too; another does not.
        let list = format!("\"nope\", W/{etag}");
        assert_eq!(fetch(&server, path, Some(&list)).0, 304, "{path}");
        assert_eq!(fetch(&server, path, Some("\"nope\"")).0, 200, "{path}");
    }
    // A fixed tree size never changes; the latest one is revalidated.
    assert!(fetch(&server, &paths[7], None).2.contains("immutable"));
    assert_eq!(fetch(&server, PAGE, None).2, "public, no-cache");
    // The JSON and HTML forms of one Digital Link differ, and say so.
    let html = fetch(&server, PAGE, None).1;
    let r = ureq::get(&server.url(PAGE))
        .set("Accept", "application/json")
        .call()
        .unwrap();
    assert_ne!(r.header("ETag").unwrap(), html);
    assert_eq!(r.header("Vary"), Some("Accept, Accept-Encoding"));
}

/// A GET of `path` with `Accept-Encoding: accept` (and `If-None-Match: etag`): status, ETag,
/// Content-Encoding and the body as sent.
fn fetch_encoded(
    server: &Server,
    path: &str,
    accept: &str,
    etag: Option<&str>,
) -> (u16, String, String, Vec<u8>) {
    use std::io::Read as _;
    let req = ureq::get(&server.url(path)).set("Accept-Encoding", accept);
    let r = call(req, path, etag);
    let header = |n: &str| r.header(n).unwrap_or("").to_owned();
    let (status, etag, coding) = (r.status(), header("ETag"), header("Content-Encoding"));
    // Every coding of a cached representation is whole, sent with its length, and says what
    // it varies on.
    assert!(header("Vary").contains("Accept-Encoding"), "{path}: Vary");
    assert_eq!(header("Transfer-Encoding"), "", "{path}: chunked");
    let length = header("Content-Length");
    let mut body = Vec::new();
    r.into_reader().read_to_end(&mut body).unwrap();
    if status == 200 {
        assert_eq!(length, body.len().to_string(), "{path}: Content-Length");
    }
    (status, etag, coding, body)
}

#[test]
fn cached_pages_documents_and_bundles_go_gzipped_to_clients_that_take_gzip() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), SEED);
    for path in [
        PAGE.to_owned(),
        provenance_path(CONTAINER),
        format!("/v1/lots/{}/bundle", enc(CONTAINER)),
    ] {
        // The plain form first (after the checkpoint covering the lot's history).
        let (status, plain_etag, _, plain) = fetch(&server, &path, None);
        assert_eq!(status, 200, "{path}: {plain}");
        for accept in ["gzip", "br, gzip;q=0.5", "x-gzip", "*"] {
            let (status, etag, coding, body) = fetch_encoded(&server, &path, accept, None);
            assert_eq!((status, coding.as_str()), (200, "gzip"), "{path} {accept}");
            let mut unzipped = String::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_string(&mut unzipped)
                .unwrap();
            assert_eq!(unzipped, plain, "{path}");
            assert!(
                body.len() < plain.len() / 2,
                "{path}: {} of {}",
                body.len(),
                plain.len()
            );
            // Another coding, another strong ETag; each revalidates as itself.
            assert_ne!(etag, plain_etag, "{path}");
            assert_eq!(fetch_encoded(&server, &path, accept, Some(&etag)).0, 304);
            assert_eq!(
                fetch_encoded(&server, &path, accept, Some(&plain_etag)).0,
                200
            );
        }
        // Nor compressed on the fly for a coding the cache does not keep (deflate): one strong
        // ETag, one body.
        for accept in [
            "identity",
            "gzip;q=0",
            "br",
            "deflate",
            "deflate, gzip;q=0",
            "identity, *;q=0",
            "gzip;q=0, *",
        ] {
            let (status, etag, coding, body) = fetch_encoded(&server, &path, accept, None);
            assert_eq!(status, 200, "{path} {accept}");
            // Not compressed, and no `identity` marker either (RFC 9110 §8.4.1).
            assert_eq!(coding, "", "{path} {accept}");
            assert_eq!(
                (etag, String::from_utf8(body).unwrap()),
                (plain_etag.clone(), plain.clone())
            );
        }
    }
}
