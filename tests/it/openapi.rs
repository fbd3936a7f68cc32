//! The API as documented: `/openapi.json` describes every route the server registers, the page
//! at `/docs/api` shows it in a browser, schemathesis finds no server error and no answer that
//! contradicts the document, and `/metrics` is Prometheus text a real parser reads.
//!
//! schemathesis and the Prometheus client's parser come from PyPI; `scripts/test` installs both
//! into a virtualenv (`LOTLINE_PYTHON` names its interpreter).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

use crate::support::browser::dump_dom;
use crate::support::*;

/// The interpreter of the virtualenv `scripts/test` makes.
fn python() -> PathBuf {
    let p = std::env::var_os("LOTLINE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
            cache.join("lotline-venv/bin/python")
        });
    assert!(
        p.is_file(),
        "{} is missing: run scripts/test, which installs schemathesis and prometheus_client into it (or set LOTLINE_PYTHON)",
        p.display()
    );
    p
}

/// A server with a little of everything: actors, lots, a named query.
fn populated(dir: &std::path::Path) -> Server {
    let server = Server::start(&dir.join("data"));
    for kg in [500.0, 750.0, 1200.0] {
        let a = server.submit(&server.farm, &harvest(&fresh_lot(), kg));
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let q = post_json(
        &server.url("/queries"),
        &json!({"name": "harvests", "query": {"EQ_bizStep": "commissioning"}}),
    );
    assert_eq!(q.status, 201, "{}", q.body);
    server
}

#[test]
fn the_document_describes_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let doc = get(&server.url("/openapi.json")).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let registered: BTreeSet<(String, String)> = lotline::http::route_table()
        .into_iter()
        .map(|(m, p)| (m.to_owned(), p))
        .collect();
    assert_eq!(documented, registered);
    // Every documented GET answers on the real server (not the "no resource" fallback):
    // a route with parameters gets placeholder values.
    for (m, path) in &documented {
        if m != "GET" || path.contains("{resource}") {
            continue;
        }
        let concrete = path.replace("{index}", "0").replace(['{', '}'], "");
        let a = get(&server.url(&concrete));
        assert!(
            !a.body.contains("GET / lists the API"),
            "{path} is documented but not routed: {}",
            a.body
        );
    }
    // Every problem code the server can answer with is in the document.
    let codes = &doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
    for code in [
        "not_found",
        "schema_violation",
        "not_custodian",
        "unavailable",
        "internal",
    ] {
        assert!(codes.as_array().unwrap().contains(&json!(code)), "{code}");
    }

    // The page a person reads, in a real browser.
    let dom = dump_dom(&server.url("/docs/api"));
    assert!(dom.contains("lotline HTTP API"), "{dom}");
    assert!(dom.contains("/v1/lots/{id}/bundle"), "{dom}");
    assert!(dom.contains("not_custodian"), "{dom}");
    assert!(dom.contains("Problem codes"), "{dom}");
    assert_eq!(
        dom.matches("<details class=\"op\"").count(),
        registered.len(),
        "one entry per operation"
    );
    assert!(!dom.contains("<script"), "no JavaScript on the page");
}

/// schemathesis against the real server: examples from the document's schemas and mutations of
/// them, every answer checked against the document. Bounded in examples per operation and in
/// time; the seed makes a failure reproducible (printed, and `LOTLINE_SCHEMATHESIS_SEED` sets it).
#[test]
fn schemathesis_finds_no_server_error_and_no_contradiction() {
    let dir = tempfile::tempdir().unwrap();
    let server = populated(dir.path());
    let token = audit_token(&server, &server.registrar);
    let before = requests_by_status(&server);
    let seed = std::env::var("LOTLINE_SCHEMATHESIS_SEED").unwrap_or_else(|_| {
        (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            % 100_000)
            .to_string()
    });
    eprintln!("schemathesis seed: LOTLINE_SCHEMATHESIS_SEED={seed}");
    let report = dir.path().join("schemathesis.json");
    let out = Command::new(python())
        .args(["-m", "schemathesis.cli", "run"])
        .arg(server.url("/openapi.json"))
        .args([
            "--checks",
            // Answers as documented, and requests the document calls invalid refused with a 4xx
            // (as are methods it does not list, with an Allow header).
            "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,unsupported_method,allow_header_conformance,missing_required_header",
            "--max-examples",
            "25",
            // One worker: with two, hypothesis's shared caches raced inside schemathesis 4.32
            // (a KeyError of its own, not an answer of ours).
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--suppress-health-check",
            "all",
            "--warnings",
            "off",
            "--seed",
            &seed,
            "--report",
            "json",
            "--report-json-path",
        ])
        .arg(&report)
        // The audit resources are tested as a registrar sees them (the rest ignore the token).
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .current_dir(dir.path())
        .env("SCHEMATHESIS_HOOKS", "")
        // To files, not pipes: a long report must not fill a pipe nobody reads while we wait.
        .stdout(std::fs::File::create(dir.path().join("schemathesis.out")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("schemathesis.err")).unwrap())
        .spawn()
        .expect("run schemathesis");
    let status = wait_bounded(out, std::time::Duration::from_secs(600));
    let stdout = std::fs::read_to_string(dir.path().join("schemathesis.out")).unwrap_or_default()
        + &std::fs::read_to_string(dir.path().join("schemathesis.err")).unwrap_or_default();
    let after = requests_by_status(&server);
    let made: u64 = after.values().sum::<u64>() - before.values().sum::<u64>();
    let errors: u64 = after
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(s, n)| n - before.get(s).copied().unwrap_or(0))
        .sum();
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    eprintln!(
        "schemathesis: {} operations, {} test cases, {made} requests answered by the server, {errors} with status 5xx; statuses {:?}",
        r["operations"]["tested"],
        r["test_cases"]["generated"],
        delta(&before, &after)
    );
    assert!(status.success(), "schemathesis found failures:\n{stdout}");
    assert_eq!(errors, 0, "5xx answers:\n{stdout}");
    assert!(r["operations"]["tested"].as_u64().unwrap() >= 55, "{r}");
    assert!(made > 1000, "only {made} requests");
}

/// The child's exit status, or a failure if it runs past `limit` (it is killed first).
fn wait_bounded(
    mut child: std::process::Child,
    limit: std::time::Duration,
) -> std::process::ExitStatus {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("schemathesis ran past {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

fn delta(before: &BTreeMap<u16, u64>, after: &BTreeMap<u16, u64>) -> BTreeMap<u16, u64> {
    after
        .iter()
        .map(|(s, n)| (*s, n - before.get(s).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

/// Answers so far, by status, from the server's own metrics (parsed by the Prometheus client).
fn requests_by_status(server: &Server) -> BTreeMap<u16, u64> {
    let mut out = BTreeMap::new();
    for s in scrape(server) {
        if s["name"] == "lotline_http_requests_total" {
            let status: u16 = s["labels"]["status"].as_str().unwrap().parse().unwrap();
            *out.entry(status).or_default() += s["value"].as_f64().unwrap() as u64;
        }
    }
    out
}

/// `/metrics` parsed by the Prometheus project's own Python parser: every sample as
/// `{name, labels, value, family, type}`. A line the parser cannot read fails the test.
fn scrape(server: &Server) -> Vec<Value> {
    let res = server.agent().get(&server.url("/metrics")).call().unwrap();
    assert!(
        res.content_type().starts_with("text/plain"),
        "{}",
        res.content_type()
    );
    let text = res.into_string().unwrap();
    const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    for s in f.samples:
        out.append({"family": f.name, "type": f.type, "name": s.name, "labels": s.labels, "value": s.value})
print(json.dumps(out))
"#;
    let mut child = Command::new(python())
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser refused /metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Value>(&out.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn sample<'a>(samples: &'a [Value], name: &str, labels: &[(&str, &str)]) -> Option<&'a Value> {
    samples.iter().find(|s| {
        s["name"] == name
            && labels
                .iter()
                .all(|(k, v)| s["labels"][k].as_str() == Some(v))
    })
}

fn value(samples: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    sample(samples, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?}"))["value"]
        .as_f64()
        .unwrap()
}

#[test]
fn metrics_are_prometheus_text_and_count_what_happened() {
    let dir = tempfile::tempdir().unwrap();
    let server = populated(dir.path());
    let lot = fresh_lot();
    // A batch of two (one group), a refusal by the rules, a 404, a malformed body.
    let batch: Vec<Value> = [&lot, &fresh_lot()]
        .iter()
        .map(|l| sign(&server.farm, &harvest(l, 100.0)))
        .collect();
    let a = post_json(&server.url("/v1/events/batch"), &json!(batch));
    assert_eq!(a.json()["accepted"], 2, "{}", a.body);
    server
        .submit(&server.farm, &harvest(&lot, 5.0))
        .assert_problem(409, "already_commissioned");
    get(&server.url(&format!("/v1/lots/{}", enc(&fresh_lot())))).assert_problem(404, "not_found");
    post(&server.url("/v1/events"), b"{").assert_problem(400, "malformed_json");
    get(&server.url(&format!("/v1/lots/{}", enc(&lot))));

    let m = scrape(&server);
    let families: BTreeSet<&str> = m.iter().map(|s| s["family"].as_str().unwrap()).collect();
    for f in [
        "lotline_http_requests",
        "lotline_http_request_duration_seconds",
        "lotline_problems",
        "lotline_sequencer_group_events",
        "lotline_sequencer_commit_seconds",
        "lotline_sequencer_entries",
        "lotline_sequencer_queue_depth",
        "lotline_sequencer_write_failures",
        "lotline_log_size",
        "lotline_checkpoint_size",
        "lotline_checkpoint_uncovered_entries",
        "lotline_checkpoint_age_seconds",
        "lotline_ready",
        "lotline_rocksdb_property",
    ] {
        assert!(families.contains(f), "{f} missing from {families:?}");
    }
    // Requests by route template, never by raw path.
    assert!(
        value(
            &m,
            "lotline_http_requests_total",
            &[
                ("method", "POST"),
                ("route", "/v1/events"),
                ("status", "201")
            ]
        ) >= 3.0
    );
    assert_eq!(
        value(
            &m,
            "lotline_http_requests_total",
            &[
                ("method", "GET"),
                ("route", "/v1/lots/{id}"),
                ("status", "404")
            ]
        ),
        1.0
    );
    assert!(!m.iter().any(|s| {
        s["labels"]["route"]
            .as_str()
            .is_some_and(|r| r.contains("urn:"))
    }));
    assert!(
        value(
            &m,
            "lotline_http_request_duration_seconds_count",
            &[("route", "/v1/events/batch")]
        ) >= 1.0
    );
    // Refusals by problem code, whole answers and items alike.
    assert_eq!(
        value(
            &m,
            "lotline_problems_total",
            &[("code", "already_commissioned")]
        ),
        1.0
    );
    assert_eq!(
        value(&m, "lotline_problems_total", &[("code", "not_found")]),
        1.0
    );
    assert_eq!(
        value(&m, "lotline_problems_total", &[("code", "malformed_json")]),
        1.0
    );
    // The sequencer: every entry of this log was committed by this process, in groups; the
    // refused harvest was decided in a group too.
    let size = value(&m, "lotline_log_size", &[]);
    assert_eq!(value(&m, "lotline_sequencer_entries_total", &[]), size);
    let groups = value(&m, "lotline_sequencer_group_events_count", &[]);
    assert!(
        groups >= 2.0 && groups <= size,
        "{groups} groups for {size} entries"
    );
    // The batch of two was one group.
    let at_most = |le: &str| value(&m, "lotline_sequencer_group_events_bucket", &[("le", le)]);
    assert!(at_most("2") - at_most("1") >= 1.0);
    assert!(value(&m, "lotline_sequencer_group_events_sum", &[]) >= size);
    assert!(value(&m, "lotline_sequencer_commit_seconds_sum", &[]) > 0.0);
    assert_eq!(value(&m, "lotline_sequencer_queue_depth", &[]), 0.0);
    assert_eq!(
        value(&m, "lotline_sequencer_write_failures_total", &[]),
        0.0
    );
    assert_eq!(value(&m, "lotline_ready", &[]), 1.0);
    assert_eq!(size, size_f(&server));
    assert_eq!(
        value(&m, "lotline_checkpoint_uncovered_entries", &[]),
        size - value(&m, "lotline_checkpoint_size", &[])
    );
    assert!(value(&m, "lotline_checkpoint_age_seconds", &[]) >= 0.0);
    // RocksDB's own figures: compaction backlog per family, the stall state, the stall time.
    for (p, cf) in [
        ("rocksdb.estimate-pending-compaction-bytes", "entries"),
        ("rocksdb.compaction-pending", "lots"),
        ("rocksdb.num-running-compactions", ""),
        ("rocksdb.is-write-stopped", ""),
        ("rocksdb.actual-delayed-write-rate", ""),
        ("rocksdb.stall.micros", ""),
    ] {
        assert!(
            sample(
                &m,
                "lotline_rocksdb_property",
                &[("property", p), ("cf", cf)]
            )
            .is_some(),
            "{p} {cf}"
        );
    }
    assert!(
        value(
            &m,
            "lotline_rocksdb_property",
            &[("property", "rocksdb.wal.synced"), ("cf", "")]
        ) >= 1.0
    );
}

fn size_f(server: &Server) -> f64 {
    size(server) as f64
}

/// What schemathesis found, kept fixed: the EPCIS `/events` took and ignored `format`, and a
/// capture document with a non-event in its eventList became a job instead of a refusal.
#[test]
fn what_schemathesis_found_stays_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    get(&server.url("/events?format=EPCISDocument")).assert_problem(400, "invalid_parameter");
    let doc = json!({
        "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-11-20T00:00:00Z",
        "epcisBody": {"eventList": [[null, null]]}
    });
    let p = post_json(&server.url("/capture"), &doc).assert_problem(422, "schema_violation");
    assert_eq!(p["pointer"], "/epcisBody/eventList/0");
    assert_eq!(
        get(&server.url("/capture")).json(),
        json!([]),
        "no job was made"
    );
}
