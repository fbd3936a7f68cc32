//! HTTPS between a client and `lotline serve`, with a CA made here: the server terminates TLS
//! with a certificate for 127.0.0.1 and localhost that the test CA signed; `submit`, `capture`
//! and a mill's `edge` reach it when they trust that CA (`--ca-cert`, `LOTLINE_CA_CERT`), and
//! fail plainly, writing nothing, when they do not or when they speak plain HTTP to it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

/// A test CA, and a server certificate it signed, as PEM files.
struct Pki {
    ca: PathBuf,
    chain: PathBuf,
    key: PathBuf,
}

fn make_pki(dir: &Path) -> Pki {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lotline test CA");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();

    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "lotline test server");
    let cert = params.signed_by(&key, &ca).unwrap();

    let write = |name: &str, pem: String| {
        let p = dir.join(name);
        std::fs::write(&p, pem).unwrap();
        p
    };
    Pki {
        ca: write("ca.pem", ca.pem()),
        chain: write("chain.pem", cert.pem()),
        key: write("key.pem", key.serialize_pem()),
    }
}

/// Starts a TLS server whose certificate and key come from a config file's `[tls]` section.
fn tls_server(dir: &Path, pki: &Pki) -> Server {
    let config = dir.join("lotline.toml");
    std::fs::write(
        &config,
        format!(
            "[tls]\ncert_file = {:?}\nkey_file = {:?}\n",
            pki.chain.to_str().unwrap(),
            pki.key.to_str().unwrap()
        ),
    )
    .unwrap();
    Server::start_tls(
        &dir.join("data"),
        &pki.ca,
        &["--config", config.to_str().unwrap()],
    )
}

/// Runs the CLI with `LOTLINE_CA_CERT` set as given (and never inherited).
fn cli(args: &[&str], ca_env: Option<&Path>) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env_remove("LOTLINE_CA_CERT");
    if let Some(ca) = ca_env {
        cmd.env("LOTLINE_CA_CERT", ca);
    }
    cmd.output().expect("run lotline")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn log_size(server: &Server) -> u64 {
    let a = answer(server.agent().get(&server.url("/v1/log")).call());
    a.json()["size"].as_u64().unwrap()
}

/// One signed harvest by the farm, written to a file; returns the file and its eventID.
fn signed_event(server: &Server, dir: &Path, name: &str) -> (PathBuf, String) {
    let e = sign(&server.farm, &event(name));
    let id = e["eventID"].as_str().unwrap().to_owned();
    let p = dir.join(format!("{name}.json"));
    std::fs::write(&p, serde_json::to_vec(&e).unwrap()).unwrap();
    (p, id)
}

#[test]
fn submit_and_capture_reach_an_https_server_that_trusts_a_private_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let server = tls_server(dir.path(), &pki);
    let ca = pki.ca.to_str().unwrap();

    // --ca-cert.
    let (file, id) = signed_event(&server, dir.path(), "over-https");
    let before = log_size(&server);
    let out = cli(
        &[
            "submit",
            "--server",
            &server.base,
            "--ca-cert",
            ca,
            file.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(receipt["eventID"], id, "{receipt}");
    assert_eq!(log_size(&server), before + 1);
    let stored = answer(
        server
            .agent()
            .get(&server.url(&format!("/v1/events/{}", enc(&id))))
            .call(),
    );
    assert_eq!(stored.status, 200, "{}", stored.body);
    assert_eq!(stored.json()["entry"]["event"]["eventID"], id);

    // LOTLINE_CA_CERT, with `capture`: the document is signed here and its job followed.
    let key = dir.path().join("farm.key");
    lotline::ledger::write_key_file(&key, &server.farm, false).unwrap();
    let mut harvest = event("captured over https");
    harvest.as_object_mut().unwrap().remove("eventID");
    let doc = dir.path().join("doc.jsonld");
    let document = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-20T01:00:00Z",
        "epcisBody": {"eventList": [harvest]}
    });
    std::fs::write(&doc, serde_json::to_vec(&document).unwrap()).unwrap();
    let out = cli(
        &[
            "capture",
            "--key",
            key.to_str().unwrap(),
            "--server",
            &server.base,
            doc.to_str().unwrap(),
        ],
        Some(&pki.ca),
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert_eq!(stdout.matches("\taccepted").count(), 1, "{stdout}");
    assert_eq!(log_size(&server), before + 2);
    server.stop();
}

#[test]
fn an_untrusted_certificate_or_plain_http_fails_plainly_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let server = tls_server(dir.path(), &pki);
    let (file, _) = signed_event(&server, dir.path(), "untrusted");
    let file = file.to_str().unwrap();
    let before = log_size(&server);

    // Without the CA: the certificate problem is named, with what to do; no retries.
    let out = cli(&["submit", "--server", &server.base, file], None);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(
        stderr.contains("TLS certificate is not accepted")
            && stderr.contains("UnknownIssuer")
            && stderr.contains("--ca-cert"),
        "{stderr}"
    );
    assert!(!stderr.contains("retrying"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // Trusting another CA is no better.
    let other = make_pki(&{
        let d = dir.path().join("other");
        std::fs::create_dir(&d).unwrap();
        d
    });
    let out = cli(&["submit", "--server", &server.base, file], Some(&other.ca));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("TLS certificate is not accepted"),
        "{stderr}"
    );

    // A CA file that is not one is a clear error before anything is sent.
    let out = cli(
        &["submit", "--server", &server.base, "--ca-cert", file, file],
        None,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no PEM certificate"), "{stderr}");

    // Plain HTTP to the TLS port: the client gets no HTTP answer and says so, without waiting
    // out its retries. The server closes the connection after its TLS alert; the request's body,
    // written after its head, may reach the closed socket and draw a reset that overtakes the
    // alert, which the client cannot tell from a network fault and retries. The alert is read
    // in all but such a race, so of four attempts the last error is the alert's.
    let plain = server.base.replacen("https://", "http://", 1);
    let out = cli(
        &["submit", "--server", &plain, "--retries", "3", file],
        Some(&pki.ca),
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&plain)
            && stderr.contains("the answer is not HTTP")
            && stderr.contains("use https://"),
        "{stderr}"
    );
    // Only resets are retried: an answer that is not HTTP ends the attempts at once.
    assert!(
        stderr
            .lines()
            .filter(|l| l.contains("retrying"))
            .all(|l| l.contains("reset")),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.stdout.is_empty());
    // A raw plain-HTTP request is closed without an HTTP answer.
    let addr = plain.trim_start_matches("http://");
    let mut raw = TcpStream::connect(addr).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    raw.write_all(b"GET /v1/log HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = raw.read_to_end(&mut got);
    assert!(!got.starts_with(b"HTTP/"), "{}", text(&got));

    // Nothing was written, and the server still serves HTTPS.
    assert_eq!(log_size(&server), before);
    server.stop();
}

#[test]
fn https_to_a_plain_http_server_names_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let (file, _) = signed_event(&server, dir.path(), "wrong scheme");
    let https = server.base.replacen("http://", "https://", 1);
    let out = cli(
        &["submit", "--server", &https, file.to_str().unwrap()],
        None,
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("TLS handshake failed") && stderr.contains("speak HTTPS"),
        "{stderr}"
    );
    server.stop();
}

#[test]
fn bad_tls_files_stop_the_start_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let other = {
        let d = dir.path().join("other");
        std::fs::create_dir(&d).unwrap();
        make_pki(&d)
    };
    let serve = |cert: &Path, key: &Path| {
        let out = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("data"))
            .arg("--tls-cert")
            .arg(cert)
            .arg("--tls-key")
            .arg(key)
            .env("LOTLINE_LOG", "warn")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stdout));
        assert!(
            out.stdout.is_empty(),
            "it never listened: {}",
            text(&out.stdout)
        );
        let stderr = text(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    };
    let missing = dir.path().join("missing.pem");
    let e = serve(&missing, &pki.key);
    assert!(
        e.contains("TLS certificate file") && e.contains("missing.pem"),
        "{e}"
    );
    let e = serve(&pki.chain, &missing);
    assert!(
        e.contains("TLS key file") && e.contains("missing.pem"),
        "{e}"
    );
    let e = serve(&pki.chain, &pki.chain);
    assert!(e.contains("no private key"), "{e}");
    let e = serve(&pki.key, &pki.key);
    assert!(e.contains("no PEM certificate"), "{e}");
    let e = serve(&pki.chain, &other.key);
    assert!(
        e.contains("other/key.pem is not the key of the certificate") && e.contains("chain.pem"),
        "{e}"
    );
    // Only one of the two.
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--tls-cert")
        .arg(&pki.chain)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("tls.key_file"));
}

/// A running `lotline edge` uploading to `server`.
struct Edge {
    child: Child,
    base: String,
}

impl Edge {
    fn start(dir: &Path, server: &Server, ca: Option<&Path>) -> Edge {
        let key = dir.join("mill.key");
        if !key.exists() {
            lotline::ledger::write_key_file(&key, &server.farm, false).unwrap();
        }
        let mut cmd = Command::new(BIN);
        cmd.args(["edge", "--listen", "127.0.0.1:0", "--actor", FARM])
            .args(["--server", &server.base])
            .arg("--key")
            .arg(&key)
            .arg("--data")
            .arg(dir.join(format!("edge-{}", ca.is_some())))
            .args(["--min-backoff-ms", "50", "--max-backoff-ms", "400"])
            .args(ca.iter().flat_map(|c| [Path::new("--ca-cert"), c]))
            .env_remove("LOTLINE_CA_CERT")
            .env("LOTLINE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("spawn lotline edge");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
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
        Edge { child, base }
    }

    /// Records an unsigned harvest (the edge signs it).
    fn record(&self, note: &str) {
        let mut e = event(note);
        e.as_object_mut().unwrap().remove("eventID");
        let a = post_json(&format!("{}/v1/events", self.base), &e);
        assert_eq!(a.status, 201, "{}", a.body);
    }

    /// Polls the edge's status (bounded) until `done` holds; returns that status.
    fn until(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let s = get(&format!("{}/v1/status", self.base)).json();
            if done(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "never {what}: {s}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Edge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_mills_edge_uploads_over_https_only_when_it_trusts_the_ledgers_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = make_pki(dir.path());
    let server = tls_server(dir.path(), &pki);
    let before = log_size(&server);

    // Without the CA: the event stays in the outbox, and the status says why.
    let untrusting = Edge::start(dir.path(), &server, None);
    untrusting.record("edge without the CA");
    let s = untrusting.until("reported an upload failure", |s| {
        s["sync"]["lastError"].is_string()
    });
    let why = s["sync"]["lastError"].as_str().unwrap();
    assert!(
        why.contains("TLS certificate is not accepted") && why.contains("--ca-cert"),
        "{why}"
    );
    assert_eq!(s["counts"]["pending"], 1, "{s}");
    assert_eq!(log_size(&server), before);
    drop(untrusting);

    // With it: uploaded, and in the ledger.
    let edge = Edge::start(dir.path(), &server, Some(&pki.ca));
    edge.record("edge over https");
    let s = edge.until("drained", |s| s["counts"]["sent"] == 1);
    assert_eq!(s["counts"]["pending"], 0, "{s}");
    assert_eq!(log_size(&server), before + 1);
    drop(edge);
    server.stop();
}
