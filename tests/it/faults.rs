//! Disk faults: a write that fails stops the ledger (fail-stop), no client is told a failed
//! group was written, and a restart finds everything acknowledged, with `fsck` clean.
//!
//! The injected faults need a build with the `fault-injection` feature (scripts/test builds
//! with it): `LOTLINE_FAILPOINT=commit-write:N` fails the Nth commit of log entries before it
//! writes, `commit-sync:N` writes and syncs it and then reports a failure (see
//! src/store/failpoint.rs). The full disk is real: a small tmpfs mounted by the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

/// A data directory whose farm is registered (entry 0) by a server started and stopped on it,
/// so that a server started next with a failpoint counts only the test's own commits.
fn registered_data(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    Server::start(&data).stop();
    data
}

/// The module is compiled only with the feature (tests/it/main.rs), so the failpoint is there.
fn start_faulty(data: &Path, failpoint: &str) -> Server {
    Server::start_env(data, &[], &[("LOTLINE_FAILPOINT", failpoint)])
}

/// Polls `/readyz` until it fails (within a bound): a stopped writer makes it fail.
fn assert_not_ready(server: &Server) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = get(&server.url("/readyz"));
        if a.status != 200 {
            a.assert_problem(503, "unavailable");
            return;
        }
        assert!(Instant::now() < deadline, "/readyz still 200: {}", a.body);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `lotline fsck` on `data` (no server running) exits 0.
fn assert_fsck_clean(data: &Path) {
    let out = run(&["fsck", "--data", data.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "fsck: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every acknowledged receipt is in the log, unchanged.
fn assert_all_there(server: &Server, acked: &[Value]) {
    let n = size(server);
    for r in acked {
        let index = r["index"].as_u64().unwrap();
        assert!(
            index < n,
            "acknowledged entry {index} lost: the log has {n}"
        );
        let got = get(&server.url(&format!("/v1/entries/{index}"))).json();
        assert_eq!(got["receipt"], *r, "entry {index}");
    }
}

/// A new append lands at the end of the log, chained to its last entry.
fn assert_chain_continues(server: &Server) {
    let n = size(server);
    let last = get(&server.url(&format!("/v1/entries/{}", n - 1))).json();
    let a = server.submit(&server.farm, &event("after the fault"));
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["index"], n);
    let e = get(&server.url(&format!("/v1/entries/{n}"))).json();
    assert_eq!(e["entry"]["prevHash"], last["receipt"]["entryHash"]);
}

/// Two events acknowledged, the third one's commit fails: fail-stop, then a restart.
/// `written` says whether the failed group reached the disk (a failed sync) or not.
fn one_failed_commit(failpoint: &str, written: bool) {
    let dir = tempfile::tempdir().unwrap();
    let data = registered_data(dir.path());
    let server = start_faulty(&data, failpoint);

    let mut acked = Vec::new();
    for i in 0..2 {
        let a = server.submit(&server.farm, &event(&format!("acknowledged {i}")));
        assert_eq!(a.status, 201, "{}", a.body);
        acked.push(a.json());
    }
    assert_eq!(acked[1]["index"], 2);

    // The third commit fails: 503 unavailable, no receipt.
    let failed = event("the failed group");
    let a = server.submit(&server.farm, &failed);
    let p = a.assert_problem(503, "unavailable");
    assert!(
        p.get("receipt").is_none() && p.get("index").is_none(),
        "{p}"
    );
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("restart"), "{detail}");
    // Nothing of it is published, even when it is on disk.
    assert_eq!(size(&server), 3);
    assert_eq!(get(&server.url("/v1/entries/3")).status, 404);
    let id = failed["eventID"].as_str().unwrap();
    let by_id = server.url(&format!("/v1/events/{}", enc(id)));
    assert_eq!(get(&by_id).status, 404);

    // Fail-stop: later writes are refused too, and the node says it is not ready.
    let later = server.submit(&server.farm, &event("after the failure"));
    later.assert_problem(503, "unavailable");
    assert_not_ready(&server);
    // Reads still work.
    assert_eq!(get(&server.url("/healthz")).status, 200);
    assert_all_there(&server, &acked);
    server.stop();
    assert_fsck_clean(&data);

    // Restarted without the fault: everything acknowledged is there, the failed group is
    // there only if it was written, and retrying its event is safe.
    let server = Server::start(&data);
    assert_all_there(&server, &acked);
    let n = size(&server);
    assert_eq!(n, if written { 4 } else { 3 });
    let retry = server.submit(&server.farm, &failed);
    if written {
        // Written though never acknowledged: the retry gets the original receipt.
        assert_eq!(retry.status, 200, "{}", retry.body);
        let stored = get(&server.url("/v1/entries/3")).json();
        assert_eq!(retry.json(), stored["receipt"]);
    } else {
        assert_eq!(retry.status, 201, "{}", retry.body);
        assert_eq!(retry.json()["index"], 3);
    }
    assert_chain_continues(&server);
    server.stop();
    assert_fsck_clean(&data);
}

#[test]
fn a_failed_write_stops_the_ledger_and_loses_nothing_acknowledged() {
    one_failed_commit("commit-write:3", false);
}

#[test]
fn a_failed_sync_stops_the_ledger_and_loses_nothing_acknowledged() {
    one_failed_commit("commit-sync:3", true);
}

/// Several clients at once, single events and batches (a batch is decided as one group):
/// the sixth commit is written but reported failed. Every answer is a receipt or `503
/// unavailable`; no batch is half acknowledged; the acknowledged entries are exactly the log up
/// to the failed group, which is on disk but was never acknowledged.
#[test]
fn no_one_in_a_failed_group_gets_a_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let data = registered_data(dir.path());
    let server = start_faulty(&data, "commit-sync:6");
    let farm = Arc::new(server.farm.clone());
    let acked: Arc<Mutex<Vec<Value>>> = Arc::default();
    let refused: Arc<Mutex<Vec<Value>>> = Arc::default();

    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (farm, acked, refused) = (farm.clone(), acked.clone(), refused.clone());
            let (single, batch) = (server.url("/v1/events"), server.url("/v1/events/batch"));
            std::thread::spawn(move || {
                for round in 0..40 {
                    let results: Vec<Value> = if round % 2 == 0 {
                        let a = post_json(&single, &sign(&farm, &event(&format!("c{c} r{round}"))));
                        if a.status == 201 {
                            vec![json!({"status": 201, "receipt": a.json()})]
                        } else {
                            let p = a.assert_problem(503, "unavailable");
                            vec![json!({"status": 503, "problem": p})]
                        }
                    } else {
                        let events: Vec<Value> = (0..5)
                            .map(|i| sign(&farm, &event(&format!("c{c} r{round} e{i}"))))
                            .collect();
                        let a = post_json(&batch, &json!(events));
                        if a.status == 503 {
                            // The ledger had stopped before the batch reached it.
                            a.assert_problem(503, "unavailable");
                            break;
                        }
                        assert_eq!(a.status, 200, "{}", a.body);
                        let results = a.json()["results"].as_array().unwrap().clone();
                        let ok = results.iter().filter(|r| r["status"] == 201).count();
                        assert!(
                            ok == 0 || ok == results.len(),
                            "a batch half acknowledged: {results:?}"
                        );
                        results
                    };
                    let mut stop = false;
                    for r in results {
                        if r["status"] == 201 {
                            assert!(r["receipt"]["index"].is_u64(), "{r}");
                            acked.lock().unwrap().push(r["receipt"].clone());
                        } else {
                            assert_eq!(r["status"], 503, "{r}");
                            assert_eq!(r["problem"]["code"], "unavailable", "{r}");
                            assert!(r.get("receipt").is_none(), "{r}");
                            refused.lock().unwrap().push(r);
                            stop = true;
                        }
                    }
                    if stop {
                        break;
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_not_ready(&server);
    let acked = acked.lock().unwrap().clone();
    assert!(!refused.lock().unwrap().is_empty(), "no client was refused");
    // Groups commit in order and each is answered once durable: the acknowledged entries are
    // 1..=m without a gap (0 is the farm's registration).
    let mut indexes: Vec<u64> = acked.iter().map(|r| r["index"].as_u64().unwrap()).collect();
    indexes.sort_unstable();
    let m = indexes.len() as u64;
    assert_eq!(indexes, (1..=m).collect::<Vec<_>>());
    assert_eq!(size(&server), m + 1, "the failed group was published");
    server.stop();
    assert_fsck_clean(&data);

    let server = Server::start(&data);
    assert_all_there(&server, &acked);
    // The failed group was synced before its failure was reported: on disk, never
    // acknowledged, and verified like the rest.
    assert!(size(&server) > m + 1, "the failed group is not on disk");
    assert_chain_continues(&server);
    server.stop();
    assert_fsck_clean(&data);
}

/// A small tmpfs mounted for one test, unmounted when dropped (after the servers on it are).
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700")])
            .arg("lotline-test")
            .arg(dir.path())
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "the full-disk test mounts a {size} tmpfs and could not ({}); it needs root \
             (or CAP_SYS_ADMIN), as in CI: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(self.dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            // Still busy: detach it now, the kernel frees it once unused.
            let _ = Command::new("umount")
                .arg("-l")
                .arg(self.dir.path())
                .status();
        }
    }
}

/// Fills the file system of `dir` with `pad` until a write fails for want of space.
fn fill(pad: &Path) {
    use std::io::Write as _;
    let mut f = std::fs::File::create(pad).unwrap();
    let chunk = vec![0xa5u8; 64 * 1024];
    loop {
        match f.write_all(&chunk).and_then(|_| f.sync_data()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(28) => break,
            Err(e) => panic!("filling the disk: {e}"),
        }
    }
}

#[test]
fn a_full_disk_is_a_clear_refusal_not_corruption() {
    let fs = Tmpfs::mount("64m");
    let data = fs.path().join("data");
    let pad = fs.path().join("pad");
    let server = Server::start(&data);
    let batch_url = server.url("/v1/events/batch");

    // Some entries acknowledged with room to spare.
    let mut acked = Vec::new();
    let post_batch = |tag: &str| {
        let events: Vec<Value> = (0..20)
            .map(|i| sign(&server.farm, &event(&format!("{tag} e{i}"))))
            .collect();
        post_json(&batch_url, &json!(events))
    };
    let a = post_batch("room");
    assert_eq!(a.status, 200, "{}", a.body);
    for r in a.json()["results"].as_array().unwrap() {
        assert_eq!(r["status"], 201, "{r}");
        acked.push(r["receipt"].clone());
    }

    // The disk fills up; ingest goes on until the ledger refuses.
    fill(&pad);
    let deadline = Instant::now() + Duration::from_secs(60);
    let refusal = loop {
        assert!(
            Instant::now() < deadline,
            "a full disk never refused a write"
        );
        let a = post_batch("full");
        assert_eq!(a.status, 200, "{}", a.body);
        let results = a.json()["results"].as_array().unwrap().clone();
        let refused: Vec<&Value> = results.iter().filter(|r| r["status"] != 201).collect();
        if refused.is_empty() {
            acked.extend(results.iter().map(|r| r["receipt"].clone()));
            continue;
        }
        assert_eq!(refused.len(), results.len(), "half a batch: {results:?}");
        break refused[0]["problem"].clone();
    };
    assert_eq!(refusal["status"], 503, "{refusal}");
    assert_eq!(refusal["code"], "unavailable", "{refusal}");
    let detail = refusal["detail"].as_str().unwrap();
    assert!(detail.contains("disk is full"), "{detail}");
    assert!(detail.contains("frees space"), "{detail}");
    let later = server.submit(&server.farm, &event("still full"));
    later.assert_problem(503, "unavailable");
    assert_not_ready(&server);
    server.stop_on_full_disk();

    // Space freed, restarted: nothing acknowledged is lost and nothing is corrupt.
    std::fs::remove_file(&pad).unwrap();
    assert_fsck_clean(&data);
    let server = Server::start(&data);
    assert_all_there(&server, &acked);
    assert_chain_continues(&server);
    server.stop();
    assert_fsck_clean(&data);
}
