//! The replicated store on one real PostgreSQL: several `lotline serve --store postgresql://…`
//! nodes share one log. Followers redirect writes and serve reads at the newest checkpoint; a
//! killed sequencer is replaced; a sequencer cut off from the database is refused; every node
//! ends with the same log and passes `fsck`. (The Patroni cluster, with the database itself
//! failing over, is `cluster.rs`.)

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use lotline_scenario as scenario;
use serde_json::Value;

use crate::support::pg::Postgres;
use crate::support::{self, BIN, FARM, REGISTERED, TRADER_ROLES, event, sign};

/// One `lotline serve` of a replicated deployment.
pub struct Node {
    pub child: Option<Child>,
    pub data: PathBuf,
    pub base: String,
    store: String,
    registrar: String,
    /// Every run of the node writes here; quoted when it misbehaves.
    stderr: support::Stderr,
}

impl Node {
    /// Starts a node on `data` (which gets the log's key) against the database at `store`.
    pub fn start(data: &Path, store: &str, log_key: &SigningKey, registrar: &SigningKey) -> Node {
        std::fs::create_dir_all(data).unwrap();
        let key_path = data.join("log.key");
        if !key_path.exists() {
            lotline::ledger::write_key_file(&key_path, log_key, false).unwrap();
        }
        let mut node = Node {
            child: None,
            data: data.to_owned(),
            base: String::new(),
            store: store.to_owned(),
            registrar: scenario::did(registrar),
            stderr: support::Stderr::new(),
        };
        node.restart();
        node
    }

    /// Starts the process again on the same data directory.
    pub fn restart(&mut self) {
        let mut child = Command::new(BIN)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--origin",
                "test.invalid/lotline",
            ])
            .arg("--data")
            .arg(&self.data)
            .args(["--store", &self.store, "--registrar", &self.registrar])
            .env(
                "LOTLINE_LOG",
                std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .env("LOTLINE_CHECKPOINT_INTERVAL_MS", "100")
            .stdout(Stdio::piped())
            .stderr(self.stderr.stdio())
            .spawn()
            .expect("spawn lotline serve");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let base = loop {
            let line = lines
                .next()
                .unwrap_or_else(|| {
                    panic!(
                        "the node exited before it was listening; its stderr ended with:\n{}",
                        self.stderr.tail()
                    )
                })
                .unwrap();
            if let Some(b) = line.strip_prefix("lotline listening on ") {
                break b.to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        self.base = base;
        self.child = Some(child);
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args([&format!("-{sig}"), &c.id().to_string()])
                .status();
        }
    }

    /// SIGKILL: a crash.
    pub fn kill(&mut self) {
        self.signal("KILL");
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
    }

    /// SIGTERM and a clean exit.
    pub fn stop(&mut self) {
        self.signal("TERM");
        if let Some(mut c) = self.child.take() {
            let status = c.wait().unwrap();
            assert!(
                status.success(),
                "node {} exited with {status}; its stderr ended with:\n{}",
                self.base,
                self.stderr.tail()
            );
            support::assert_store_closed(&self.data.join("db"));
        }
    }

    /// `/v1/log`, or `None` while the node does not answer.
    pub fn log(&self) -> Option<Value> {
        let (status, body, _) = http("GET", &self.url("/v1/log"), None)?;
        (status == 200).then_some(body)
    }

    pub fn is_sequencer(&self) -> bool {
        self.log()
            .is_some_and(|l| l["replica"]["role"] == "sequencer")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A request without redirects and without panics: (status, JSON body or Null, Location).
pub fn http(method: &str, url: &str, body: Option<&Value>) -> Option<(u16, Value, Option<String>)> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(20))
        .redirects(0)
        .build();
    let req = agent.request(method, url);
    let res = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_bytes(&serde_json::to_vec(b).unwrap()),
        None => req.call(),
    };
    let resp = match res {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(_) => return None,
    };
    let status = resp.status();
    let location = resp.header("Location").map(str::to_owned);
    let text = resp.into_string().unwrap_or_default();
    Some((
        status,
        serde_json::from_str(&text).unwrap_or(Value::Null),
        location,
    ))
}

/// What a client keeps of an acknowledged write.
#[derive(Debug, Clone)]
pub struct Ack {
    pub index: u64,
    pub entry_hash: String,
}

/// Submits `doc` to the nodes in turn as a client of the deployment would: follows a 307 to
/// the sequencer, and on 503 or a dead node tries again (the eventID makes retries safe) until
/// `patience` runs out. Returns the receipt and when it was acknowledged.
pub fn submit(bases: &[String], doc: &Value, patience: Duration) -> Option<(Ack, Instant)> {
    let deadline = Instant::now() + patience;
    let mut turn = 0usize;
    while Instant::now() < deadline {
        let mut url = format!("{}/v1/events", bases[turn % bases.len()]);
        turn += 1;
        for _hop in 0..3 {
            match http("POST", &url, Some(doc)) {
                Some((201 | 200, r, _)) => {
                    return Some((
                        Ack {
                            index: r["index"].as_u64().unwrap(),
                            entry_hash: r["entryHash"].as_str().unwrap().to_owned(),
                        },
                        Instant::now(),
                    ));
                }
                Some((307, p, Some(loc))) => {
                    assert_eq!(p["code"], "not_sequencer", "{p}");
                    url = loc;
                }
                Some((503, p, _)) => {
                    assert!(
                        ["unavailable", "overloaded"].contains(&p["code"].as_str().unwrap_or("")),
                        "{p}"
                    );
                    break;
                }
                Some((status, p, _)) => panic!("write refused with {status}: {p}"),
                None => break,
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Waits until some node is the sequencer; returns its position.
pub fn wait_for_sequencer(nodes: &[&Node], patience: Duration) -> usize {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(i) = nodes.iter().position(|n| n.is_sequencer()) {
            return i;
        }
        assert!(Instant::now() < deadline, "no node became the sequencer");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Registers the test farm through the deployment (idempotent: a fixed eventID).
pub fn register_farm(bases: &[String], registrar: &SigningKey, farm: &SigningKey) {
    let reg = scenario::register(
        Some(scenario::seeded_event_id("replication farm registration")),
        REGISTERED,
        FARM,
        "Test farm and trader",
        ("KH", "Preah Vihear"),
        TRADER_ROLES,
        &[scenario::did(farm)],
        None,
    );
    submit(bases, &sign(registrar, &reg), Duration::from_secs(30)).expect("registering the farm");
}

/// Waits until `node` serves a checkpoint covering `size` entries.
pub fn wait_for_checkpoint(node: &Node, size: u64, patience: Duration) -> Value {
    let deadline = Instant::now() + patience;
    loop {
        if let Some(l) = node.log()
            && l["checkpoint"]["size"].as_u64().unwrap_or(0) >= size
        {
            return l;
        }
        assert!(
            Instant::now() < deadline,
            "{} has no checkpoint of {size} entries: {:?}",
            node.base,
            node.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Checks what every acknowledged write promised, on every node: the entry is there, at its
/// index, with the acknowledged hash; the checkpoints seen are one history (same size, same
/// root; each consistent with the next, by the nodes' own proofs, verified here).
pub fn check_everywhere(nodes: &[&Node], acks: &[Ack], checkpoints: &BTreeMap<u64, String>) {
    let top = acks.iter().map(|a| a.index + 1).max().unwrap_or(0);
    for n in nodes {
        wait_for_checkpoint(n, top, Duration::from_secs(30));
        for a in acks {
            let (status, entry, _) = http("GET", &n.url(&format!("/v1/entries/{}", a.index)), None)
                .expect("the node answers");
            assert_eq!(status, 200, "entry {} on {}", a.index, n.base);
            let bytes = data_integrity::jcs::canonicalize(&entry["entry"]);
            let hash = lotline_profile::entry::b64_hash::encode(
                &lotline_profile::entry::entry_hash(&bytes),
            );
            assert_eq!(hash, a.entry_hash, "entry {} on {}", a.index, n.base);
        }
    }
    // No two indexes acknowledged for different writes: the indexes are a set.
    let mut seen = std::collections::HashSet::new();
    for a in acks {
        assert!(seen.insert(a.index), "index {} acknowledged twice", a.index);
    }
    // One history: each checkpoint seen is consistent with every later one.
    let sizes: Vec<(&u64, &String)> = checkpoints.iter().collect();
    for w in sizes.windows(2) {
        let ((&old, old_root), (&new, new_root)) = (w[0], w[1]);
        if old == 0 {
            continue;
        }
        let (status, proof, _) = http(
            "GET",
            &nodes[0].url(&format!("/v1/proofs/consistency?from={old}&to={new}")),
            None,
        )
        .expect("consistency proof");
        assert_eq!(status, 200, "{proof}");
        let hashes: Vec<[u8; 32]> = proof["hashes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| lotline_profile::entry::b64_hash::decode(h.as_str().unwrap()).unwrap())
            .collect();
        let old_root = lotline_profile::entry::b64_hash::decode(old_root).unwrap();
        let new_root = lotline_profile::entry::b64_hash::decode(new_root).unwrap();
        tlog::merkle::verify_consistency(old, new, &old_root, &new_root, &hashes)
            .unwrap_or_else(|e| panic!("checkpoint {old} → {new} is not consistent: {e:?}"));
    }
}

/// Records the checkpoint a node serves: size → root (a second root for a size is a fork).
pub fn note_checkpoint(node: &Node, seen: &mut BTreeMap<u64, String>) {
    if let Some(l) = node.log() {
        let size = l["checkpoint"]["size"].as_u64().unwrap();
        let root = l["checkpoint"]["rootHash"].as_str().unwrap().to_owned();
        let before = seen.insert(size, root.clone());
        assert!(
            before.is_none_or(|b| b == root),
            "two roots for size {size}: a fork"
        );
    }
}

pub fn fsck_clean(data: &Path) {
    let out = Command::new(BIN)
        .args(["fsck", "--data"])
        .arg(data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.starts_with("ok:"),
        "fsck {}: {text}{}",
        data.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A database of its own named `name`, `n` nodes on it, and the keys they share (the log's,
/// the registrar's, the farm's); the index of the node that sequences.
type Deployment = (
    Postgres,
    tempfile::TempDir,
    String,
    [SigningKey; 3],
    Vec<Node>,
    usize,
);

fn start_deployment(name: &str, n: usize) -> Deployment {
    let pg = Postgres::start();
    let url = pg.create_db(name);
    let dir = tempfile::tempdir().unwrap();
    let keys = ["log", "registrar", "farm"].map(|k| scenario::seeded_key(&format!("{name} {k}")));
    let nodes: Vec<Node> = (0..n)
        .map(|i| Node::start(&dir.path().join(format!("n{i}")), &url, &keys[0], &keys[1]))
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    let leader = wait_for_sequencer(&refs, Duration::from_secs(20));
    (pg, dir, url, keys, nodes, leader)
}

#[test]
fn nodes_share_one_log_and_survive_a_killed_sequencer() {
    let (_pg, dir, url, [log_key, registrar, farm], mut nodes, leader) =
        start_deployment("shared", 3);
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    register_farm(&bases, &registrar, &farm);

    // A follower answers a write with a redirect to the sequencer's same resource.
    let follower = (leader + 1) % 3;
    let doc = sign(&farm, &event("redirected"));
    let (status, p, location) =
        http("POST", &nodes[follower].url("/v1/events"), Some(&doc)).unwrap();
    assert_eq!(status, 307, "{p}");
    assert_eq!(p["code"], "not_sequencer");
    assert_eq!(
        location.as_deref(),
        Some(format!("{}/v1/events", nodes[leader].base).as_str())
    );
    // Nothing was written by the refused request: only the registration is logged.
    let size_before = nodes[leader].log().unwrap()["size"].as_u64().unwrap();

    let mut acks = Vec::new();
    let mut checkpoints = BTreeMap::new();
    for i in 0..40 {
        let doc = sign(&farm, &event(&format!("before {i}")));
        let (ack, _) = submit(&bases, &doc, Duration::from_secs(20)).expect("acknowledged");
        acks.push(ack);
        if i % 10 == 0 {
            for n in &nodes {
                note_checkpoint(n, &mut checkpoints);
            }
        }
    }
    assert_eq!(
        acks[0].index, size_before,
        "the redirected write was not logged"
    );

    // Kill the sequencer; another node takes over and writes go on.
    nodes[leader].kill();
    let killed_at = Instant::now();
    let survivors: Vec<String> = (0..3)
        .filter(|i| *i != leader)
        .map(|i| nodes[i].base.clone())
        .collect();
    let doc = sign(&farm, &event("after the kill"));
    let (ack, at) = submit(&survivors, &doc, Duration::from_secs(30)).expect("writes resume");
    let outage = at - killed_at;
    eprintln!("writes resumed {outage:?} after the sequencer was killed");
    assert!(outage < Duration::from_secs(30), "{outage:?}");
    acks.push(ack);
    for i in 0..20 {
        let doc = sign(&farm, &event(&format!("after {i}")));
        acks.push(submit(&survivors, &doc, Duration::from_secs(20)).unwrap().0);
    }
    // The killed node comes back as a follower and catches up; a new node with nothing but the
    // log's key rebuilds everything from the shared log.
    nodes[leader].restart();
    nodes.push(Node::start(
        &dir.path().join("new"),
        &url,
        &log_key,
        &registrar,
    ));
    for n in &nodes {
        note_checkpoint(n, &mut checkpoints);
    }
    let refs: Vec<&Node> = nodes.iter().collect();
    check_everywhere(&refs, &acks, &checkpoints);
    for n in &nodes {
        note_checkpoint(n, &mut checkpoints);
    }
    assert!(checkpoints.len() >= 2, "{checkpoints:?}");

    for n in &mut nodes {
        n.stop();
    }
    for n in &nodes {
        fsck_clean(&n.data);
    }
}

/// A sequencer cut off from the database (its session terminated, as a network partition
/// would) while it is paused: another node takes over, and the old one, resumed, answers
/// nothing as written and steps down.
#[test]
fn a_stale_sequencer_is_refused() {
    let (pg, _dir, _url, [_, registrar, farm], mut nodes, leader) = start_deployment("stale", 2);
    let other = 1 - leader;
    let bases: Vec<String> = nodes.iter().map(|n| n.base.clone()).collect();
    register_farm(&bases, &registrar, &farm);

    // Pause the sequencer and cut its sessions, as a partition would.
    nodes[leader].signal("STOP");
    pg.sql(
        "stale",
        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'",
    );
    // A client's write to the paused sequencer waits in its socket.
    let stale_url = nodes[leader].url("/v1/events");
    let stale_doc = sign(&farm, &event("sent to the stale sequencer"));
    let sent = stale_doc.clone();
    let pending = std::thread::spawn(move || http("POST", &stale_url, Some(&sent)));
    // The other node takes over and writes.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !nodes[other].is_sequencer() {
        assert!(
            Instant::now() < deadline,
            "the other node did not take over"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut acks = Vec::new();
    for i in 0..5 {
        let doc = sign(&farm, &event(&format!("new sequencer {i}")));
        acks.push(
            submit(&[nodes[other].base.clone()], &doc, Duration::from_secs(20))
                .unwrap()
                .0,
        );
    }
    // Resumed, the old sequencer cannot write: its client gets no receipt.
    nodes[leader].signal("CONT");
    let answer = pending.join().unwrap().expect("the old sequencer answers");
    assert!(
        !matches!(answer.0, 200 | 201),
        "a stale sequencer acknowledged a write: {answer:?}"
    );
    assert!(matches!(answer.0, 503 | 307), "{answer:?}");
    // It steps down, follows, and the client's retry lands once.
    let deadline = Instant::now() + Duration::from_secs(20);
    while nodes[leader].is_sequencer() {
        assert!(
            Instant::now() < deadline,
            "the old sequencer did not step down"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    acks.push(
        submit(&bases, &stale_doc, Duration::from_secs(20))
            .unwrap()
            .0,
    );
    let refs: Vec<&Node> = nodes.iter().collect();
    check_everywhere(&refs, &acks, &BTreeMap::new());
    for n in &mut nodes {
        n.stop();
    }
    for n in &nodes {
        fsck_clean(&n.data);
    }
}

/// The fence itself: a group decided on a head the log has moved past is refused, and writes
/// nothing.
#[test]
fn the_head_row_fences_a_group_decided_on_an_old_head() {
    use lotline::ledger::{LogGroup, LogSink, SinkError};
    use lotline::replica::pg::PgLog;
    let pg = Postgres::start();
    let url = pg.create_db("fence");
    let mut a = PgLog::connect(&url).unwrap();
    a.migrate().unwrap();
    let empty = tlog::merkle::Frontier::new().root();
    a.init_head("test.invalid/lotline", "vkey", &empty).unwrap();
    let mut b = PgLog::connect(&url).unwrap();
    let group = |tag: &[u8]| {
        let leaf = tlog::merkle::leaf_hash(tag);
        let mut f = tlog::merkle::Frontier::new();
        f.push(leaf);
        LogGroup {
            old_size: 0,
            old_root: empty,
            new_root: f.root(),
            entries: vec![(0, tag.to_vec(), leaf)],
        }
    };
    assert!(a.try_lock().unwrap(), "the first session takes the lock");
    assert!(!b.try_lock().unwrap(), "the lock is exclusive");
    a.append(&group(b"first")).unwrap();
    match b.append(&group(b"second")) {
        Err(SinkError::Fenced(why)) => assert!(why.contains("1 entries"), "{why}"),
        other => panic!("a stale group was not fenced: {other:?}"),
    }
    let head = b.head().unwrap().unwrap();
    assert_eq!(head.size, 1);
    assert_eq!(b.entries(0, 10).unwrap(), vec![(0, b"first".to_vec())]);
}
