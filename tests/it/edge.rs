//! `lotline edge`, the mill's edge service, against the real ledger on loopback: events kept
//! while the ledger is unreachable and through a SIGKILL, then uploaded exactly once and in
//! order; `Retry-After` honoured; a conflict only the ledger can see kept as a visible refusal;
//! the clerk's page in English and Khmer in headless Chromium.
//!
//! Between the edge and the ledger sits [`Gate`], a one-request-per-connection HTTP relay the
//! test switches between down (connections closed unanswered), busy (`503` with
//! `Retry-After`) and up (relayed to the ledger), recording what it saw.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::*;

/// What the gate does with the next request.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Down,
    /// Answers `503` with `Retry-After: secs`.
    Busy {
        secs: u64,
    },
    Up,
}

/// One request the gate saw.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    mode: Mode,
}

struct Gate {
    url: String,
    mode: Arc<Mutex<Mode>>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Gate {
    fn start(target: &str, mode: Mode) -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let target = target.trim_start_matches("http://").to_owned();
        let mode = Arc::new(Mutex::new(mode));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (m, s) = (mode.clone(), seen.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (m, s, target) = (m.clone(), s.clone(), target.clone());
                std::thread::spawn(move || relay(conn, &target, &m, &s));
            }
        });
        Gate { url, mode, seen }
    }

    fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// Handles one connection: one request, one answer, then close.
fn relay(mut conn: TcpStream, target: &str, mode: &Mutex<Mode>, seen: &Mutex<Vec<Seen>>) {
    conn.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut head = String::new();
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.trim_end().split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_owned());
            if k == "content-length" {
                length = v.parse().unwrap_or(0);
            }
            // The relay speaks one request per connection.
            if k != "connection" {
                head.push_str(line.as_str());
            }
            headers.push((k, v));
        }
    }
    let mut body = vec![0u8; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let path = parts.next().unwrap_or("").to_owned();
    let m = *mode.lock().unwrap();
    seen.lock().unwrap().push(Seen {
        at: Instant::now(),
        method,
        path,
        headers,
        mode: m,
    });
    match m {
        // As an unreachable ledger looks through a LAN gateway: the connection ends unanswered.
        Mode::Down => drop(conn),
        Mode::Busy { secs } => {
            let body = r#"{"type":"urn:lotline:problem:overloaded","code":"overloaded","status":503,"title":"busy","detail":"try later"}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 503 Service Unavailable\r\nRetry-After: {secs}\r\nContent-Type: application/problem+json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
        Mode::Up => {
            let Ok(mut up) = TcpStream::connect(target) else {
                return;
            };
            let _ = up.write_all(request_line.as_bytes());
            let _ = up.write_all(head.as_bytes());
            let _ = up.write_all(b"Connection: close\r\n\r\n");
            let _ = up.write_all(&body);
            let mut answer = Vec::new();
            let _ = up.read_to_end(&mut answer);
            let _ = conn.write_all(&answer);
        }
    }
}

/// A running `lotline edge`.
struct EdgeProc {
    child: Child,
    base: String,
    data: PathBuf,
    stderr: Stderr,
}

impl EdgeProc {
    fn start(data: &Path, key: &Path, actor: &str, server: &str) -> EdgeProc {
        let stderr = Stderr::new();
        let mut child = Command::new(BIN)
            .args([
                "edge",
                "--listen",
                "127.0.0.1:0",
                "--actor",
                actor,
                "--server",
                server,
            ])
            .arg("--key")
            .arg(key)
            .arg("--data")
            .arg(data)
            .args(["--min-backoff-ms", "50", "--max-backoff-ms", "400"])
            .env("LOTLINE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(stderr.stdio())
            .spawn()
            .expect("spawn lotline edge");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let base = loop {
            let line = lines
                .next()
                .expect("the edge exited before it was listening")
                .unwrap();
            if let Some(a) = line.strip_prefix("lotline edge listening on ") {
                break a.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        EdgeProc {
            child,
            base,
            data: data.to_owned(),
            stderr,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn status(&self) -> Value {
        get(&self.url("/v1/status")).json()
    }

    /// Waits (bounded) until nothing is pending.
    fn drained(&self) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let s = self.status();
            if s["counts"]["pending"] == 0 {
                return s;
            }
            assert!(Instant::now() < deadline, "the outbox never drained: {s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM: a clean exit, with the outbox closed.
    fn stop(mut self) {
        signal(&self.child, "TERM");
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "the edge exited with {status}; its stderr ended with:\n{}",
            self.stderr.tail()
        );
        assert_store_closed(&self.data.join("outbox"));
    }
}

impl Drop for EdgeProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn key_file(dir: &Path, server: &Server) -> std::path::PathBuf {
    let path = dir.join("mill.key");
    lotline::ledger::write_key_file(&path, &server.farm, false).unwrap();
    path
}

/// The eventIDs of entries `from..to` of the ledger, in log order.
fn logged_ids(server: &Server, from: u64, to: u64) -> Vec<String> {
    (from..to)
        .map(|i| {
            get(&server.url(&format!("/v1/entries/{i}"))).json()["entry"]["event"]["eventID"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

fn unsigned_harvest() -> Value {
    let mut e = harvest(&fresh_lot(), 1_000.0);
    e.as_object_mut().unwrap().remove("eventID");
    e
}

#[test]
fn the_edge_keeps_events_while_the_ledger_is_down_and_through_a_kill_then_syncs_each_once_in_order()
{
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ledger"));
    let gate = Gate::start(&server.base, Mode::Down);
    let key_path = key_file(dir.path(), &server);
    let data = dir.path().join("edge");
    let edge = EdgeProc::start(&data, &key_path, FARM, &gate.url);
    let before = size(&server);

    // Recorded while the ledger is unreachable: signed and kept, each answered at once.
    let mut ids = Vec::new();
    for _ in 0..12 {
        let a = post_json(&edge.url("/v1/events"), &unsigned_harvest());
        assert_eq!(a.status, 201, "{}", a.body);
        let r = &a.json()["records"][0];
        assert_eq!(r["status"], "pending");
        ids.push(r["eventID"].as_str().unwrap().to_owned());
    }
    // A tool sending the same event twice records it once (its hash eventID).
    let twice = unsigned_harvest();
    let a = post_json(&edge.url("/v1/events"), &twice).json();
    let b = post_json(&edge.url("/v1/events"), &twice).json();
    assert_eq!(a["records"][0]["seq"], b["records"][0]["seq"]);
    assert_eq!(b["records"][0]["new"], false);
    ids.push(a["records"][0]["eventID"].as_str().unwrap().to_owned());
    // A document of events, and a refused one: nothing of that request is recorded.
    let doc = json!({"type": "EPCISDocument", "epcisBody": {"eventList": [unsigned_harvest(), unsigned_harvest()]}});
    let a = post_json(&edge.url("/v1/events"), &doc);
    assert_eq!(a.status, 201, "{}", a.body);
    for r in a.json()["records"].as_array().unwrap() {
        ids.push(r["eventID"].as_str().unwrap().to_owned());
    }
    let mut bad = unsigned_harvest();
    bad["quantityList"][0]["uom"] = json!("XYZ");
    let doc =
        json!({"type": "EPCISDocument", "epcisBody": {"eventList": [unsigned_harvest(), bad]}});
    let p = post_json(&edge.url("/v1/events"), &doc).json();
    assert_eq!(p["status"], 422, "{p}");
    assert!(p["detail"].as_str().unwrap().starts_with("event 1:"), "{p}");
    let s = edge.status();
    assert_eq!(s["counts"]["pending"], ids.len(), "{s}");
    assert_eq!(size(&server), before, "nothing reached the ledger");
    // It keeps trying, and says why it cannot send.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !edge.status()["sync"]["lastError"].is_string() {
        assert!(Instant::now() < deadline, "no upload was tried");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!gate.seen().is_empty());

    // A crash (power cut): the outbox is on disk.
    edge.kill();
    let edge = EdgeProc::start(&data, &key_path, FARM, &gate.url);
    assert_eq!(edge.status()["counts"]["pending"], ids.len());
    for _ in 0..3 {
        let a = post_json(&edge.url("/v1/events"), &unsigned_harvest());
        ids.push(
            a.json()["records"][0]["eventID"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }

    // The ledger comes back: everything goes, once, in the order it was recorded.
    gate.set(Mode::Up);
    let s = edge.drained();
    assert_eq!(s["counts"]["sent"], ids.len(), "{s}");
    assert_eq!(s["counts"]["refused"], 0, "{s}");
    assert_eq!(size(&server), before + ids.len() as u64);
    assert_eq!(logged_ids(&server, before, size(&server)), ids);
    // Each record keeps its receipt.
    let sent = get(&edge.url("/v1/outbox?status=sent&limit=1000")).json();
    for item in sent["items"].as_array().unwrap() {
        assert!(
            item["receipt"]["index"].as_u64().unwrap() >= before,
            "{item}"
        );
    }
    // Uploads are gzipped capture documents.
    let uploads: Vec<Seen> = gate
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST" && s.mode == Mode::Up)
        .collect();
    assert!(!uploads.is_empty());
    for u in &uploads {
        assert_eq!(u.path, "/capture");
        assert!(
            u.headers
                .iter()
                .any(|(k, v)| k == "content-encoding" && v == "gzip"),
            "{:?}",
            u.headers
        );
    }
    // Stopped and started again, the edge finds its outbox as it left it.
    edge.stop();
    let edge = EdgeProc::start(&data, &key_path, FARM, &gate.url);
    let again = edge.status();
    assert_eq!(again["counts"], s["counts"], "{again}");
    edge.stop();
}

#[test]
fn a_busy_ledgers_retry_after_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ledger"));
    let gate = Gate::start(&server.base, Mode::Busy { secs: 2 });
    let key_path = key_file(dir.path(), &server);
    let edge = EdgeProc::start(&dir.path().join("edge"), &key_path, FARM, &gate.url);
    let a = post_json(&edge.url("/v1/events"), &unsigned_harvest());
    assert_eq!(a.status, 201);
    // Wait (bounded) for the first refusal, then open the gate.
    let deadline = Instant::now() + Duration::from_secs(30);
    while gate.seen().is_empty() {
        assert!(Instant::now() < deadline, "no upload was tried");
        std::thread::sleep(Duration::from_millis(20));
    }
    gate.set(Mode::Up);
    edge.drained();
    let posts: Vec<Seen> = gate
        .seen()
        .into_iter()
        .filter(|s| s.method == "POST")
        .collect();
    assert!(posts.len() >= 2, "{posts:?}");
    assert_eq!(posts[0].mode, Mode::Busy { secs: 2 });
    // The back-off alone would have retried after 25–50 ms.
    let gap = posts[1].at - posts[0].at;
    assert!(gap >= Duration::from_secs(2), "retried after {gap:?}");
    assert_eq!(edge.status()["counts"]["sent"], 1);
}

#[test]
fn a_conflict_only_the_ledger_sees_stays_visible_as_a_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ledger"));
    let key_path = key_file(dir.path(), &server);
    let edge = EdgeProc::start(&dir.path().join("edge"), &key_path, FARM, &server.base);
    // A lot the mill holds, shipped away on the ledger meanwhile (by another office).
    let lot = fresh_lot();
    assert_eq!(
        server.submit(&server.farm, &harvest(&lot, 800.0)).status,
        201
    );
    let buyer = "urn:epc:id:pgln:8841234.00077";
    server.register(buyer, &["mill"], &key());
    let ship = |time: &str| {
        let mut e = lotline_scenario::movement(
            true,
            time,
            FARM,
            buyer,
            &[],
            &[lotline_scenario::kg(&lot, 800.0)],
        );
        e.as_object_mut().unwrap().remove("eventID");
        e
    };
    assert_eq!(
        server
            .submit(&server.farm, &{
                let mut e = ship("2026-06-03T08:00:00+07:00");
                e["eventID"] = json!(format!("urn:uuid:{}", uuid::Uuid::now_v7()));
                e
            })
            .status,
        201
    );
    // The edge, not knowing, records the same lot leaving again.
    let a = post_json(&edge.url("/v1/events"), &ship("2026-06-03T09:00:00+07:00"));
    assert_eq!(a.status, 201, "{}", a.body);
    let seq = a.json()["records"][0]["seq"].as_u64().unwrap();
    let s = edge.drained();
    assert_eq!(s["counts"]["refused"], 1, "{s}");
    let refused = get(&edge.url("/v1/outbox?status=refused")).json();
    let item = &refused["items"][0];
    assert_eq!(item["seq"], seq);
    assert_eq!(item["problem"]["code"], "not_custodian", "{item}");
    assert!(
        item["event"]["proof"].is_object(),
        "the signed event is kept"
    );
    // The clerk sees it, with the ledger's reason, on the page.
    let page = get(&edge.url("/")).body;
    assert!(page.contains("not_custodian"), "{page}");
    assert!(page.contains(&format!("action=\"/form/retry/{seq}\"")));
    // Sent again on request, it is refused again, and still kept.
    let a = post(&edge.url(&format!("/v1/outbox/{seq}/retry")), b"");
    assert_eq!(a.status, 200, "{}", a.body);
    let s = edge.drained();
    assert_eq!(s["counts"]["refused"], 1, "{s}");
    post(&edge.url("/v1/outbox/999/retry"), b"").assert_problem(404, "not_found");
    get(&edge.url("/v1/outbox?status=lost")).assert_problem(400, "invalid_parameter");
}

#[test]
fn the_clerks_page_records_a_receipt_in_english_and_khmer_in_chromium() {
    use crate::support::browser::{dump_dom, screenshot};
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ledger"));
    let key_path = key_file(dir.path(), &server);
    let edge = EdgeProc::start(&dir.path().join("edge"), &key_path, FARM, &server.base);
    // A collector's paddy shipped to the mill (the edge's actor) on the ledger.
    let collector = "urn:epc:id:pgln:8841234.00021";
    let ckey = key();
    server.register(collector, &["farm"], &ckey);
    let lot = fresh_lot();
    let mut h = harvest(&lot, 2_000.0);
    h["ilmd"]["lotline:farm"] = json!(collector);
    assert_eq!(server.submit(&ckey, &h).status, 201, "harvest");
    let shipped = lotline_scenario::movement(
        true,
        "2026-06-02T07:00:00+07:00",
        collector,
        FARM,
        &[],
        &[lotline_scenario::kg(&lot, 2_000.0)],
    );
    let a = server.submit(&ckey, &shipped);
    assert_eq!(a.status, 201, "{}", a.body);

    // The clerk's form, as a browser sends it: the status, Location and page.
    let form = |fields: &[(&str, &str)]| -> (u16, String, String) {
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{k}={}", enc(v)))
            .collect();
        let answer = ureq::AgentBuilder::new()
            .redirects(0)
            .build()
            .post(&edge.url("/form/receipt"))
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&body.join("&"));
        let r = match answer {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => panic!("{e}"),
        };
        let (status, location) = (r.status(), r.header("Location").unwrap_or("").to_owned());
        (status, location, r.into_string().unwrap())
    };
    let (status, _, bad) = form(&[
        ("lang", "km"),
        ("supplier", collector),
        ("lot", &lot),
        ("kg", "two tonnes"),
        ("time", "2026-06-02T15:00"),
    ]);
    assert_eq!(status, 422);
    assert!(
        bad.contains("មិនបានរក្សាទុកទេ") && bad.contains("two tonnes"),
        "{bad}"
    );
    let (status, location, _) = form(&[
        ("lang", "en"),
        ("supplier", collector),
        ("lot", &lot),
        ("kg", "2000"),
        ("moisture", "13.9"),
        ("time", "2026-06-02T15:00"),
    ]);
    assert_eq!(status, 303);
    assert!(location.starts_with("/?lang=en&saved="), "{location}");
    let s = edge.drained();
    assert_eq!(s["counts"]["sent"], 1, "{s}");
    // The receipt is in the ledger, with the moisture reading.
    let found = get(&server.url(&format!(
        "/events?EQ_bizStep=receiving&MATCH_epcClass={}",
        enc(&lot)
    )))
    .json();
    let events = found["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["eventTime"], "2026-06-02T15:00:00+07:00");
    assert_eq!(
        events[0]["sensorElementList"][0]["sensorReport"][0]["value"],
        13.9
    );

    for (lang, words) in [
        ("en", ["Paddy receipt", "Milling run", "In the ledger"]),
        ("km", ["ការទទួលស្រូវ", "ការកិនស្រូវ", "នៅក្នុងបញ្ជីកត់ត្រា"]),
    ] {
        let url = edge.url(&format!("/?lang={lang}"));
        let dom = dump_dom(&url);
        assert!(dom.contains(&format!("<html lang=\"{lang}\">")), "{dom}");
        for w in words {
            assert!(dom.contains(w), "{lang}: {w} missing");
        }
        assert_eq!(dom.matches(r#"data-status="sent""#).count(), 1, "{dom}");
        assert!(dom.contains(r#"<form method="post" action="/form/receipt">"#));
        let out = std::env::var_os("LOTLINE_SCREENSHOTS")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| dir.path().to_owned())
            .join(format!("edge-clerk-{lang}.png"));
        std::fs::create_dir_all(out.parent().unwrap()).unwrap();
        screenshot(&url, &out, 390, 844);
        assert!(std::fs::read(&out).unwrap().starts_with(b"\x89PNG"));
    }
}
