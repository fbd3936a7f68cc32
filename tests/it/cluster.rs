//! The acceptance test of the replicated deployment: `scripts/cluster` starts 3 etcd members
//! and 3 Patroni-managed PostgreSQL 15 (synchronous_mode_strict) on 127.0.0.1, and 3 lotline
//! nodes use it. Under load, the whole node of the PostgreSQL primary (etcd, Patroni,
//! PostgreSQL and lotline) is killed with SIGKILL and restarted; then the same with the
//! synchronous standby's node. Every acknowledged write must be on every node at its
//! acknowledged index, the checkpoints must be one history, writes must come back within 30 s,
//! the killed nodes must rejoin, and every node must pass `fsck`.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lotline_scenario as scenario;

use crate::replication::{
    Ack, Node, check_everywhere, fsck_clean, note_checkpoint, register_farm, submit,
    wait_for_sequencer,
};
use crate::support::{event, sign};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/cluster");

/// The database side of the cluster, stopped when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn script(&self, args: &[&str]) -> String {
        let out = Command::new(SCRIPT)
            .args(args)
            .env("LOTLINE_CLUSTER_PORT", self.port.to_string())
            .output()
            .expect("run scripts/cluster");
        assert!(
            out.status.success(),
            "scripts/cluster {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn dir(&self) -> &str {
        self.dir.to_str().unwrap()
    }

    /// The node (1..3) whose PostgreSQL has this role: `primary` or `sync`.
    fn node(&self, role: &str) -> usize {
        self.script(&[role, self.dir()])
            .parse()
            .expect("a node number")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(SCRIPT)
            .args(["stop", self.dir.to_str().unwrap()])
            .env("LOTLINE_CLUSTER_PORT", self.port.to_string())
            .status();
    }
}

/// A base port whose 3×10+5 ports are free now. Below the kernel's ephemeral range (from 32768
/// on Linux), so that no server another test binds to port 0 meanwhile can take one of them.
fn free_base() -> u16 {
    for attempt in 0..100u16 {
        let base = 20_000 + (std::process::id() as u16 % 50) * 100 + attempt * 50;
        let free = (1..=3)
            .all(|n| (0..5).all(|o| TcpListener::bind(("127.0.0.1", base + 10 * n + o)).is_ok()));
        if free {
            return base;
        }
    }
    panic!("no free port range for the cluster");
}

/// Clients writing until stopped; every acknowledged write and when it was acknowledged.
struct Load {
    stop: Arc<AtomicBool>,
    acks: Arc<Mutex<Vec<(Ack, Instant)>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(
        bases: Arc<Mutex<Vec<String>>>,
        farm: ed25519_dalek::SigningKey,
        clients: usize,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let acks = Arc::new(Mutex::new(Vec::new()));
        let threads = (0..clients)
            .map(|c| {
                let (stop, acks, bases, farm) =
                    (stop.clone(), acks.clone(), bases.clone(), farm.clone());
                std::thread::spawn(move || {
                    let mut i = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let doc = sign(&farm, &event(&format!("client {c} write {i}")));
                        i += 1;
                        let now: Vec<String> = bases.lock().unwrap().clone();
                        // A write is retried until acknowledged: none may be lost once it is.
                        let (ack, at) =
                            submit(&now, &doc, Duration::from_secs(60)).unwrap_or_else(|| {
                                panic!("write {i} of client {c} never acknowledged")
                            });
                        acks.lock().unwrap().push((ack, at));
                    }
                })
            })
            .collect();
        Load {
            stop,
            acks,
            threads,
        }
    }

    fn count(&self) -> usize {
        self.acks.lock().unwrap().len()
    }

    /// Waits until `more` further writes are acknowledged.
    fn wait_for(&self, more: usize, patience: Duration) {
        let target = self.count() + more;
        let deadline = Instant::now() + patience;
        while self.count() < target {
            assert!(
                Instant::now() < deadline,
                "writes did not resume within {patience:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The longest time without an acknowledgement after `from`.
    fn longest_gap_after(&self, from: Instant) -> Duration {
        let mut times: Vec<Instant> = self.acks.lock().unwrap().iter().map(|a| a.1).collect();
        times.push(from);
        times.sort();
        times
            .windows(2)
            .filter(|w| w[1] > from)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or_default()
    }

    fn finish(self) -> Vec<Ack> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads {
            t.join().expect("a client failed");
        }
        let acks = self.acks.lock().unwrap();
        acks.iter().map(|(a, _)| a.clone()).collect()
    }
}

/// Kills node `n` (1..3) whole, database side and lotline, at once; restarts it once writes
/// have resumed, and returns the longest time writes were unavailable.
fn kill_and_restart(
    cluster: &Cluster,
    nodes: &mut [Node],
    bases: &Arc<Mutex<Vec<String>>>,
    load: &Load,
    n: usize,
    what: &str,
) -> Duration {
    let killed_at = Instant::now();
    nodes[n - 1].kill();
    cluster.script(&["kill", &n.to_string(), cluster.dir()]);
    {
        let mut b = bases.lock().unwrap();
        let dead = nodes[n - 1].base.clone();
        b.retain(|x| *x != dead);
    }
    load.wait_for(20, Duration::from_secs(60));
    let gap = load.longest_gap_after(killed_at);
    eprintln!("killed the {what}'s node {n}: writes were unavailable for at most {gap:?}");
    cluster.script(&["restart", &n.to_string(), cluster.dir()]);
    nodes[n - 1].restart();
    bases.lock().unwrap().push(nodes[n - 1].base.clone());
    load.wait_for(20, Duration::from_secs(60));
    gap
}

#[test]
fn the_cluster_loses_no_acknowledged_write_when_a_whole_node_dies() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let cluster = Cluster {
        dir: dir.path().join("cluster"),
        port: free_base(),
    };
    let url = cluster
        .script(&["start", cluster.dir(), "--db-only"])
        .lines()
        .find_map(|l| l.strip_prefix("PG_URL=").map(str::to_owned))
        .expect("scripts/cluster start prints PG_URL=");

    let log_key = scenario::seeded_key("cluster log");
    let registrar = scenario::seeded_key("cluster registrar");
    let farm = scenario::seeded_key("replication farm");
    let data = |i: usize| -> PathBuf { dir.path().join(format!("lotline{i}")) };
    let mut nodes: Vec<Node> = (1..=3)
        .map(|i| Node::start(&data(i), &url, &log_key, &registrar))
        .collect();
    let refs: Vec<&Node> = nodes.iter().collect();
    wait_for_sequencer(&refs, Duration::from_secs(30));
    let bases = Arc::new(Mutex::new(
        nodes.iter().map(|n| n.base.clone()).collect::<Vec<_>>(),
    ));
    register_farm(&bases.lock().unwrap(), &registrar, &farm);

    let load = Load::start(bases.clone(), farm.clone(), 4);
    load.wait_for(50, Duration::from_secs(30));
    let mut checkpoints = BTreeMap::new();
    for n in &nodes {
        note_checkpoint(n, &mut checkpoints);
    }

    let primary = cluster.node("primary");
    let gap1 = kill_and_restart(&cluster, &mut nodes, &bases, &load, primary, "primary");
    for n in &nodes {
        note_checkpoint(n, &mut checkpoints);
    }
    let sync = cluster.node("sync");
    let gap2 = kill_and_restart(
        &cluster,
        &mut nodes,
        &bases,
        &load,
        sync,
        "synchronous standby",
    );
    for n in &nodes {
        note_checkpoint(n, &mut checkpoints);
    }
    let acks = load.finish();
    eprintln!(
        "{} writes acknowledged; unavailable at most {gap1:?} (primary) and {gap2:?} (standby)",
        acks.len()
    );
    assert!(gap1 < Duration::from_secs(30), "{gap1:?}");
    assert!(gap2 < Duration::from_secs(30), "{gap2:?}");

    let refs: Vec<&Node> = nodes.iter().collect();
    check_everywhere(&refs, &acks, &checkpoints);
    // No gaps or duplicates: every node holds the same dense log, 0..size.
    let sizes: Vec<u64> = nodes
        .iter()
        .map(|n| n.log().unwrap()["checkpoint"]["size"].as_u64().unwrap())
        .collect();
    for n in &mut nodes {
        n.stop();
    }
    for n in &nodes {
        fsck_clean(&n.data);
    }
    eprintln!(
        "checkpoint sizes at the end {sizes:?}; the test took {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < Duration::from_secs(300));
}
