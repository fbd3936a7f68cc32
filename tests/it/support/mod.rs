//! Test harness: the real `lotline` binary serving on port 0 over a fresh RocksDB in a temp dir,
//! real HTTP, and signed events made with the library's own signing path.

pub mod browser;
pub mod pg;

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use data_integrity::{di, didkey};
use ed25519_dalek::SigningKey;
use lotline_scenario as scenario;
use serde_json::{Value, json};

pub const BIN: &str = env!("CARGO_BIN_EXE_lotline");

pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:PORT`, or `https://…` for a server started with [`Server::start_tls`].
    pub base: String,
    pub vkey: String,
    /// The registrar key the server was started with (derived from the data directory, so a
    /// restart on the same directory uses the same one).
    pub registrar: SigningKey,
    /// The key of [`FARM`], an actor registered at start that holds every trading role.
    pub farm: SigningKey,
    /// The CA certificate file (PEM) a TLS server's certificate chains to.
    pub ca_cert: Option<PathBuf>,
    /// The data directory.
    data: PathBuf,
    /// Quoted when the server does not stop as it should.
    stderr: Stderr,
}

/// The actor every server starts with; its key is `Server::farm`.
pub const FARM: &str = "urn:epc:id:pgln:8841234.00099";
/// Roles of [`FARM`]: all but certifier and lab, so generic tests can do any step.
pub const TRADER_ROLES: &[&str] = &[
    "farm",
    "cooperative",
    "collector",
    "mill",
    "processor",
    "packer",
    "warehouse",
    "exporter",
    "importer",
];
/// When test actors are registered; events must come later.
pub const REGISTERED: &str = "2026-01-01T00:00:00+07:00";

impl Server {
    /// Starts `lotline serve` on `data` and waits for its "listening" line.
    pub fn start(data: &Path) -> Server {
        Self::start_with(data, &[])
    }

    pub fn start_with(data: &Path, extra: &[&str]) -> Server {
        Self::start_seeded(data, data, extra)
    }

    /// As [`Server::start_with`], with the registrar's and the farm's keys (and the farm's
    /// registration) of the server once started on `seed_dir`: a restored copy of a ledger
    /// starts as its original did.
    pub fn start_seeded(data: &Path, seed_dir: &Path, extra: &[&str]) -> Server {
        Self::start_inner(data, seed_dir, extra, None, &[])
    }

    /// A server on `dir/data` with the demo supply chain of `seed` loaded, its registrar
    /// configured: every document the demo expects to be accepted must be (the ones it expects
    /// refused are sent too, as the demo does).
    pub fn start_demo(dir: &Path, seed: &str) -> Server {
        let (registrar, steps) =
            lotline::cli::actor::signed_demo(seed, "2026-11-20T00:00:00Z").unwrap();
        let server = Server::start_with(&dir.join("data"), &["--registrar", &registrar]);
        for (doc, expect) in &steps {
            let a = post_json(&server.url("/v1/events"), doc);
            if expect.is_none() {
                assert_eq!(a.status, 201, "{}", a.body);
            }
        }
        server
    }

    /// As [`Server::start_with`], with environment variables set for the server alone (after
    /// the harness's own, which they override).
    pub fn start_env(data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_inner(data, data, extra, None, env)
    }

    /// As [`Server::start_with`], serving HTTPS: `extra` names the certificate and key (flags or
    /// a config file) and `ca_cert` is the CA they chain to, which the harness's own requests
    /// (and [`Server::agent`]) trust. `base` is `https://127.0.0.1:PORT`.
    pub fn start_tls(data: &Path, ca_cert: &Path, extra: &[&str]) -> Server {
        let server = Self::start_inner(data, data, extra, Some(ca_cert), &[]);
        assert!(server.base.starts_with("https://"), "{}", server.base);
        server
    }

    fn start_inner(
        data: &Path,
        seed_dir: &Path,
        extra: &[&str],
        ca_cert: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Server {
        let seed = seed_dir.display().to_string();
        let registrar = scenario::seeded_key(&format!("{seed} registrar"));
        let farm = scenario::seeded_key(&format!("{seed} farm"));
        // LOTLINE_TEST_PG (a PostgreSQL server's URL, set by scripts/test for its second pass)
        // runs every server as a node of a replicated deployment: one database per data
        // directory, so a restart finds its log again.
        let replicated = replicated_store(data, &seed);
        let stderr = Stderr::new();
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--origin",
                "test.invalid/lotline",
                "--data",
            ])
            .arg(data)
            .args(["--registrar", &scenario::did(&registrar)])
            .args(replicated.iter().flat_map(|url| ["--store", url.as_str()]))
            .args(extra)
            .env(
                "LOTLINE_LOG",
                std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("LOTLINE_CHECKPOINT_INTERVAL_MS", "100")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(stderr.stdio())
            .spawn()
            .expect("spawn lotline serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut base = None;
        let mut vkey = None;
        while base.is_none() || vkey.is_none() {
            let line = lines
                .next()
                .unwrap_or_else(|| {
                    panic!(
                        "the server exited before it was listening; its stderr ended with:\n{}",
                        stderr.tail()
                    )
                })
                .expect("read stdout");
            if let Some(addr) = line.strip_prefix("lotline listening on ") {
                base = Some(addr.to_owned());
            } else if let Some(k) = line.strip_prefix("log verifier key: ") {
                vkey = Some(k.to_owned());
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let server = Server {
            child,
            base: base.unwrap(),
            vkey: vkey.unwrap(),
            registrar,
            farm,
            ca_cert: ca_cert.map(Path::to_owned),
            data: data.to_owned(),
            stderr,
        };
        // Once `server` owns the child: a panic from here on stops it.
        if replicated.is_some() {
            wait_until_sequencer(&server.agent(), &server.base);
        }
        // Idempotent across restarts: same eventID, same content.
        let reg = scenario::register(
            Some(scenario::seeded_event_id(&format!(
                "{seed} farm registration"
            ))),
            REGISTERED,
            FARM,
            "Test farm and trader",
            ("KH", "Preah Vihear"),
            TRADER_ROLES,
            &[scenario::did(&server.farm)],
            None,
        );
        let a = server.submit(&server.registrar, &reg);
        assert!(a.status < 300, "registering the test actor: {}", a.body);
        server
    }

    /// An HTTP client for this server: it trusts the server's CA, if it has one.
    pub fn agent(&self) -> ureq::Agent {
        agent_trusting(self.ca_cert.as_deref())
    }

    /// Registers an actor with `roles` and `key`; panics unless accepted.
    pub fn register(&self, id: &str, roles: &[&str], key: &SigningKey) {
        let doc = scenario::register(
            None,
            REGISTERED,
            id,
            id,
            ("KH", "Battambang"),
            roles,
            &[scenario::did(key)],
            None,
        );
        let a = self.submit(&self.registrar, &doc);
        assert!(a.status < 300, "registering {id}: {}", a.body);
    }

    /// Signs `doc` with `key` and posts it.
    pub fn submit(&self, key: &SigningKey, doc: &Value) -> Answer {
        let body = serde_json::to_vec(&sign(key, doc)).unwrap();
        answer(
            self.agent()
                .post(&self.url("/v1/events"))
                .set("Content-Type", "application/json")
                .send_bytes(&body),
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Graceful stop (SIGTERM) and wait.
    pub fn stop(self) {
        self.stop_with("TERM");
    }

    /// Sends `sig` (TERM or INT: both stop gracefully) and expects a clean exit, with the store
    /// closed before the process ended (RocksDB's own log says so last).
    pub fn stop_with(self, sig: &str) {
        let db = self.data.join("db");
        self.exit_cleanly(sig);
        assert_store_closed(&db);
    }

    /// A graceful stop of a server whose disk is full: a clean exit, but RocksDB cannot write
    /// its own log, so that log cannot show the store closed.
    pub fn stop_on_full_disk(self) {
        self.exit_cleanly("TERM");
    }

    fn exit_cleanly(mut self, sig: &str) {
        signal(&self.child, sig);
        let status = self.child.wait().expect("wait");
        assert!(
            status.success(),
            "server exited with {status} after SIG{sig}; its stderr ended with:\n{}",
            self.stderr.tail()
        );
    }

    /// SIGKILL and wait: a crash.
    pub fn kill(mut self) {
        signal(&self.child, "KILL");
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where a spawned process's standard error goes: a temporary file, quoted when the process
/// misbehaves, or (with `TEST_LOG` set) the test's own standard error.
pub struct Stderr(Option<tempfile::NamedTempFile>);

impl Stderr {
    pub fn new() -> Stderr {
        Stderr(match std::env::var("TEST_LOG") {
            Ok(_) => None,
            Err(_) => Some(tempfile::NamedTempFile::new().expect("a file for a child's stderr")),
        })
    }

    /// For `Command::stderr`.
    pub fn stdio(&self) -> Stdio {
        match &self.0 {
            // Appending: a restarted process adds to what the earlier run wrote.
            Some(f) => Stdio::from(
                std::fs::OpenOptions::new()
                    .append(true)
                    .open(f.path())
                    .expect("open the stderr file"),
            ),
            None => Stdio::inherit(),
        }
    }

    /// The last lines written.
    pub fn tail(&self) -> String {
        let Some(f) = &self.0 else {
            return "(shown as it came: TEST_LOG is set)".into();
        };
        let text = std::fs::read_to_string(f.path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// Panics unless the process that had the RocksDB database in `db` open closed it before it
/// exited: RocksDB's own log ends with its shutdown (ARCHITECTURE.md, "A stopped process has
/// closed its store").
pub fn assert_store_closed(db: &Path) {
    let log = std::fs::read_to_string(db.join("LOG")).unwrap_or_default();
    let last = log.lines().rev().find(|l| !l.trim().is_empty());
    assert!(
        last.is_some_and(|l| l.contains("Shutdown complete")),
        "the process exited without closing the database in {}; RocksDB's log ends with {last:?}",
        db.display()
    );
}

/// Sends `sig` (TERM, INT, KILL, …) to `child`.
pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([&format!("-{sig}"), &child.id().to_string()])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "kill -{sig} failed");
}

/// With `LOTLINE_TEST_PG` set: the URL of the database of the server on `data` (created on
/// first use), with the log's key written into `data` as every replicated node needs it.
fn replicated_store(data: &Path, seed: &str) -> Option<String> {
    let server = std::env::var("LOTLINE_TEST_PG").ok()?;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(data.display().to_string().as_bytes());
    let name: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let name = format!("t_{name}");
    let mut admin = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
        .expect("LOTLINE_TEST_PG: connect");
    if let Err(e) = admin.batch_execute(&format!("CREATE DATABASE {name}")) {
        // 42P04: it exists already (a restart on the same directory).
        let exists = e.as_db_error().is_some_and(|d| d.code().code() == "42P04");
        assert!(exists, "create database {name}: {e}");
    }
    std::fs::create_dir_all(data).unwrap();
    let key = data.join("log.key");
    if !key.exists() {
        let log_key = scenario::seeded_key(&format!("{seed} log"));
        lotline::ledger::write_key_file(&key, &log_key, false).unwrap();
    }
    Some(format!("{server}/{name}"))
}

/// Waits until the replicated node at `base` sequences (it is alone on its database).
fn wait_until_sequencer(http: &ureq::Agent, base: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let a = answer(http.get(&format!("{base}/v1/log")).call());
        if a.status == 200 && a.json()["replica"]["role"] == "sequencer" {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{base} never became the sequencer"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// An HTTP answer: status, content type and body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// Asserts an RFC 9457 problem with `code` and `status`.
    pub fn assert_problem(&self, status: u16, code: &str) -> Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.content_type, "application/problem+json",
            "body: {}",
            self.body
        );
        let p = self.json();
        assert_eq!(p["code"], code, "body: {}", self.body);
        assert_eq!(p["status"], status);
        assert_eq!(p["type"], format!("urn:lotline:problem:{code}"));
        assert!(!p["detail"].as_str().unwrap_or("").is_empty());
        p
    }
}

fn agent() -> ureq::Agent {
    agent_trusting(None)
}

/// A client trusting the public roots and, if given, the CA certificate file `ca_cert`.
pub fn agent_trusting(ca_cert: Option<&Path>) -> ureq::Agent {
    let tls = lotline::tls::client_config_with(ca_cert).expect("the test CA certificate");
    ureq::AgentBuilder::new()
        .tls_config(tls)
        .timeout(Duration::from_secs(60))
        .build()
}

pub fn answer(r: Result<ureq::Response, ureq::Error>) -> Answer {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    Answer {
        status: resp.status(),
        content_type: resp.content_type().to_owned(),
        body: resp.into_string().expect("body"),
    }
}

/// Percent-encodes an identifier for a URL path segment (a URN's colons may stay).
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Calls `read` again while it answers `503 not_yet_checkpointed`, as a client told to come
/// back does: a read that needs a checkpoint covering an entry waits two checkpoint intervals at
/// most, which a machine loaded by the whole suite can exceed. The answer decides, not a clock
/// (the deadline only bounds a server that never checkpoints); no test expects that answer.
/// `status_body` gives an answer's status and body.
pub fn asking_again_until_checkpointed<A>(
    mut read: impl FnMut() -> A,
    status_body: impl Fn(&A) -> (u16, &str),
) -> A {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let a = read();
        let (status, body) = status_body(&a);
        let later = status == 503 && body.contains("not_yet_checkpointed");
        if !later || std::time::Instant::now() > deadline {
            return a;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// GETs `url`, asking again while no checkpoint covers what it reads
/// ([`asking_again_until_checkpointed`]).
pub fn get(url: &str) -> Answer {
    asking_again_until_checkpointed(
        || answer(agent().get(url).call()),
        |a| (a.status, a.body.as_str()),
    )
}

/// GETs `url` with `Authorization: Bearer <token>`.
pub fn get_bearer(url: &str, token: &str) -> Answer {
    answer(
        agent()
            .get(url)
            .set("Authorization", &format!("Bearer {token}"))
            .call(),
    )
}

/// A ten-minute audit token for `server`'s log, signed with `key`.
pub fn audit_token(server: &Server, key: &SigningKey) -> String {
    let origin = get(&server.url("/v1/log")).json()["origin"]
        .as_str()
        .unwrap()
        .to_owned();
    let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
    lotline_profile::audit_token::create(key, &origin, None, now, 600_000).unwrap()
}

pub fn post(url: &str, body: &[u8]) -> Answer {
    answer(
        agent()
            .post(url)
            .set("Content-Type", "application/json")
            .send_bytes(body),
    )
}

pub fn post_json(url: &str, v: &Value) -> Answer {
    post(url, &serde_json::to_vec(v).unwrap())
}

/// An unsigned harvest by [`FARM`] of a fresh lot (10 t of paddy from a 3 ha plot), with a
/// fresh eventID; `note` rides along as `example:note`.
pub fn event(note: &str) -> Value {
    let mut e = harvest(&fresh_lot(), 10_000.0);
    e["example:note"] = json!(note);
    e
}

/// A fresh lot class URI.
pub fn fresh_lot() -> String {
    let u = uuid::Uuid::now_v7().simple().to_string();
    scenario::lgtin(scenario::items::PADDY, &u[u.len() - 20..])
}

/// A harvest of `lot` by [`FARM`]: `kg` of organic paddy from a 3 ha plot.
pub fn harvest(lot: &str, kg: f64) -> Value {
    scenario::harvest(
        None,
        "2026-06-01T08:00:00+07:00",
        lot,
        kg,
        FARM,
        "rice",
        Some("Phka Rumduol"),
        scenario::plot("T-1", "Preah Vihear", 3.0, 104.9, 13.8),
        "organic",
    )
}

pub fn sign(key: &SigningKey, event: &Value) -> Value {
    di::sign(event, key, "2026-11-20T01:00:00Z").expect("sign")
}

pub fn key() -> SigningKey {
    didkey::generate().expect("random key")
}

/// Size of the log as the server reports it.
pub fn size(server: &Server) -> u64 {
    get(&server.url("/v1/log")).json()["size"].as_u64().unwrap()
}

pub fn run(args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).output().expect("run lotline")
}

/// Flips one bit of byte `at` of the stored entry `index`, below lotline, as damage or an
/// attacker with disk access would.
pub fn tamper_entry(data: &std::path::Path, index: u64, at: usize) {
    let path = data.join("db");
    let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, cfs).unwrap();
    let cf = db.cf_handle("entries").unwrap();
    let mut v = db.get_cf(cf, index.to_be_bytes()).unwrap().unwrap();
    let at = at % v.len();
    v[at] ^= 0x01;
    db.put_cf(cf, index.to_be_bytes(), v).unwrap();
}
