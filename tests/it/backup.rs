//! Hot backup and restore of the embedded store: a backup taken while clients write restores
//! into a ledger that passes `fsck` and continues the chain; the log's key is never in a
//! backup, and a restore with another key is refused.

use std::path::Path;

use crate::support::{Server, event, run, size};

fn lotline(args: &[&str]) -> (bool, String) {
    let out = run(args);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(files(&e.path()));
        } else {
            out.push(e.path());
        }
    }
    out
}

#[test]
fn a_hot_backup_restores_into_a_ledger_that_checks_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let live = dir.path().join("live");
    let server = Server::start(&live);
    for i in 0..20 {
        let a = server.submit(&server.farm, &event(&format!("before {i}")));
        assert_eq!(a.status, 201, "{}", a.body);
    }
    // Clients keep writing while the backup is taken.
    let backup = dir.path().join("backup");
    let (base, farm) = (server.base.clone(), server.farm.clone());
    let writer = std::thread::spawn(move || {
        for i in 0..40 {
            let doc = crate::support::sign(&farm, &event(&format!("during {i}")));
            let a = crate::support::post_json(&format!("{base}/v1/events"), &doc);
            assert_eq!(a.status, 201, "{}", a.body);
        }
    });
    let (ok, out) = lotline(&["backup", "--data", p(&live), "--out", p(&backup)]);
    assert!(ok, "{out}");
    assert!(out.contains("the log's key is not in it"), "{out}");
    writer.join().unwrap();

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    let backed_up = manifest["size"].as_u64().unwrap();
    assert!(backed_up >= 21, "{manifest}");
    assert_eq!(manifest["verifierKey"], server.vkey.as_str());
    // Key custody: nothing in the backup is the key file or holds its secret.
    let key_text = std::fs::read_to_string(live.join("log.key")).unwrap();
    let secret: serde_json::Value = serde_json::from_str(&key_text).unwrap();
    let secret = secret["secretKeyMultibase"].as_str().unwrap().to_owned();
    for f in files(&backup) {
        assert_ne!(f.file_name().unwrap(), "log.key");
        let bytes = std::fs::read(&f).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{} holds the log's secret key",
            f.display()
        );
    }

    // Another key is refused, and nothing is restored.
    let stranger = dir.path().join("stranger.key");
    let (ok, out) = lotline(&["keygen", "--out", p(&stranger)]);
    assert!(ok, "{out}");
    let wrong = dir.path().join("wrong");
    let (ok, out) = lotline(&[
        "restore",
        "--from",
        p(&backup),
        "--data",
        p(&wrong),
        "--log-key",
        p(&stranger),
    ]);
    assert!(!ok && out.contains("not this log's key"), "{out}");
    assert!(!wrong.join("db").exists());

    // With the log's key it restores and checks end to end.
    let restored = dir.path().join("restored");
    let (ok, out) = lotline(&[
        "restore",
        "--from",
        p(&backup),
        "--data",
        p(&restored),
        "--log-key",
        p(&live.join("log.key")),
    ]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("ok: {backed_up} entries")), "{out}");
    let original_size = size(&server);
    assert_eq!(original_size, 61);
    server.stop();

    // The restored ledger serves what was backed up and continues the chain.
    let again = Server::start_seeded(&restored, &live, &[]);
    assert_eq!(again.vkey, manifest["verifierKey"].as_str().unwrap());
    assert_eq!(size(&again), backed_up);
    let a = again.submit(&again.farm, &event("after the restore"));
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["index"], backed_up);
    again.stop();
    let (ok, out) = lotline(&["fsck", "--data", p(&restored)]);
    assert!(
        ok && out.starts_with(&format!("ok: {} entries", backed_up + 1)),
        "{out}"
    );

    // A stopped ledger backs up directly; a backup never overwrites.
    let cold = dir.path().join("cold");
    let (ok, out) = lotline(&["backup", "--data", p(&live), "--out", p(&cold)]);
    assert!(
        ok && out.contains(&format!("backed up {original_size} entries")),
        "{out}"
    );
    let (ok, out) = lotline(&["backup", "--data", p(&live), "--out", p(&cold)]);
    assert!(!ok && out.contains("exists"), "{out}");
}
