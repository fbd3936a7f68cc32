//! `lotline verify-consistency` end to end: the real binary against real servers, in server mode
//! and offline with the files it saved, and every way the check must fail, with its exit code.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::Value;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The tree size line of a checkpoint note.
fn note_size(note: &str) -> u64 {
    note.lines()
        .nth(1)
        .and_then(|l| l.parse().ok())
        .unwrap_or(0)
}

/// Submits `n` fresh harvests and returns the log's size afterwards.
fn grow(server: &Server, n: usize) -> u64 {
    for i in 0..n {
        let a = server.submit(&server.farm, &event(&format!("consistency {i}")));
        assert_eq!(a.status, 201, "{}", a.body);
    }
    size(server)
}

/// The served checkpoint once it covers `size` entries, polled until a deadline.
fn checkpoint_covering(server: &Server, size: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let note = get(&server.url("/v1/checkpoint"));
        assert_eq!(note.status, 200, "{}", note.body);
        if note_size(&note.body) >= size {
            return note.body;
        }
        assert!(
            Instant::now() < deadline,
            "no checkpoint covered {size} entries in time; the last was {}",
            note.body
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Runs verify-consistency with `args` after `--log-key KEY`; (exit code, stdout, stderr).
fn verify(key: &str, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["verify-consistency", "--log-key", key];
    all.extend_from_slice(args);
    let out = run(&all);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// Replaces the character at byte `at` of `line` by another base64 character, so the line stays
/// well-formed and only its meaning changes.
fn flip_char(line: &str, at: usize) -> String {
    let mut b = line.as_bytes().to_vec();
    b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

/// A loopback port nothing listens on: bound by the OS, then released.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn a_growing_log_is_consistent_online_and_offline() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let key = server.vkey.clone();

    // Sizes that are not powers of two, so the proof has several hashes.
    let old_size = grow(&server, 2);
    assert_eq!(old_size, 3);
    let old = checkpoint_covering(&server, old_size);
    assert_eq!(note_size(&old), old_size);
    let old_file = write(dir.path(), "old.checkpoint", &old);
    let new_size = grow(&server, 4);
    let served = checkpoint_covering(&server, new_size);
    assert_eq!(note_size(&served), new_size);

    // Server mode, keeping what it fetched.
    let (saved_new, saved_proof) = (dir.path().join("new.checkpoint"), dir.path().join("p.json"));
    let (code, out, err) = verify(
        &key,
        &[
            "--old",
            s(&old_file),
            "--server",
            &server.base,
            "--save-new",
            s(&saved_new),
            "--save-proof",
            s(&saved_proof),
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        format!(
            "consistent: log test.invalid/lotline grew from {old_size} to {new_size} entries; \
             the old checkpoint's tree is a prefix of the new one\n"
        )
    );
    assert_eq!(std::fs::read_to_string(&saved_new).unwrap(), served);
    // The saved proof is the endpoint's JSON, byte for byte.
    let proof_url = format!("/v1/proofs/consistency?from={old_size}&to={new_size}");
    let proof_text = std::fs::read_to_string(&saved_proof).unwrap();
    assert_eq!(proof_text, get(&server.url(&proof_url)).body);
    let proof: Value = serde_json::from_str(&proof_text).unwrap();
    assert!(proof["hashes"].as_array().unwrap().len() > 1, "{proof}");

    // Offline, with the saved files; and with the key from a file.
    let offline = |old: &Path, new: &Path, proof: &Path| {
        verify(
            &key,
            &["--old", s(old), "--new", s(new), "--proof", s(proof)],
        )
    };
    let (code, out2, err) = offline(&old_file, &saved_new, &saved_proof);
    assert_eq!(code, 0, "{out2}{err}");
    assert_eq!(out2, out);
    let key_file = write(dir.path(), "log.vkey", &format!("{key}\n"));
    let out3 = run(&[
        "verify-consistency",
        "--log-key-file",
        s(&key_file),
        "--old",
        s(&old_file),
        "--new",
        s(&saved_new),
        "--proof",
        s(&saved_proof),
    ]);
    assert_eq!(out3.status.code(), Some(0), "{}", text(&out3.stderr));
    assert_eq!(text(&out3.stdout), out);

    // A checkpoint against itself: consistent, with the empty proof the server gives.
    let same_proof = write(
        dir.path(),
        "same.json",
        &get(&server.url(&format!(
            "/v1/proofs/consistency?from={new_size}&to={new_size}"
        )))
        .body,
    );
    let (code, out, err) = offline(&saved_new, &saved_new, &same_proof);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "consistent: log test.invalid/lotline still has {new_size} entries"
        )),
        "{out}"
    );
    // And in server mode, now that the old checkpoint is the current one.
    let (code, out, err) = verify(&key, &["--old", s(&saved_new), "--server", &server.base]);
    assert_eq!(code, 0, "{out}{err}");

    // Old larger than new: the files swapped.
    let (code, out, _) = offline(&saved_new, &old_file, &saved_proof);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "inconsistent: the new checkpoint {} has {old_size} entries, fewer than the {new_size}",
            s(&old_file)
        )),
        "{out}"
    );

    // One character of the old root changed: its signature no longer verifies, in either mode.
    let lines: Vec<&str> = old.split('\n').collect();
    let tampered_root = old.replacen(lines[2], &flip_char(lines[2], 10), 1);
    assert_ne!(tampered_root, old);
    let bad_root = write(dir.path(), "bad-root.checkpoint", &tampered_root);
    for (code, out, _) in [
        verify(&key, &["--old", s(&bad_root), "--server", &server.base]),
        offline(&bad_root, &saved_new, &saved_proof),
    ] {
        assert_eq!(code, 1, "{out}");
        assert!(
            out.starts_with(&format!(
                "invalid: the old checkpoint {}: signature by test.invalid/lotline",
                s(&bad_root)
            )) && out.contains("does not verify"),
            "{out}"
        );
    }
    // The signature itself changed.
    let sig_line = lines[lines.len() - 2];
    assert!(sig_line.starts_with('\u{2014}'), "{sig_line}");
    let bad_sig = write(
        dir.path(),
        "bad-sig.checkpoint",
        &old.replacen(sig_line, &flip_char(sig_line, sig_line.len() - 12), 1),
    );
    let (code, out, _) = verify(&key, &["--old", s(&bad_sig), "--server", &server.base]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("signature by") && out.contains("does not verify"),
        "{out}"
    );

    // A proof hash changed (still 32 bytes of base64): the proof no longer leads to the roots.
    let mut bad: Value = serde_json::from_str(&proof_text).unwrap();
    let mut h = B64.decode(bad["hashes"][0].as_str().unwrap()).unwrap();
    h[0] ^= 1;
    bad["hashes"][0] = B64.encode(&h).into();
    let bad_proof = write(dir.path(), "bad-proof.json", &bad.to_string());
    let (code, out, _) = offline(&old_file, &saved_new, &bad_proof);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "inconsistent: the proof {} does not show that the old checkpoint",
            s(&bad_proof)
        )),
        "{out}"
    );
    // The unsigned roots in the proof are not what is checked: changing them changes nothing.
    let mut roots: Value = serde_json::from_str(&proof_text).unwrap();
    roots["fromRootHash"] = B64.encode([0u8; 32]).into();
    roots["toRootHash"] = B64.encode([0u8; 32]).into();
    let roots_proof = write(dir.path(), "roots.json", &roots.to_string());
    assert_eq!(offline(&old_file, &saved_new, &roots_proof).0, 0);
    // A proof for other sizes.
    let (code, out, _) = offline(&old_file, &saved_new, &same_proof);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("invalid: the proof"), "{out}");

    // Could not tell: exit 2, nothing on stdout.
    let missing = dir.path().join("no-such-file");
    let malformed = write(dir.path(), "malformed.json", "{\"from\": 3, \"to\":");
    let unreachable = format!("http://127.0.0.1:{}", closed_port());
    for (what, (code, out, err)) in [
        ("missing old", offline(&missing, &saved_new, &saved_proof)),
        ("missing new", offline(&old_file, &missing, &saved_proof)),
        ("missing proof", offline(&old_file, &saved_new, &missing)),
        (
            "malformed proof",
            offline(&old_file, &saved_new, &malformed),
        ),
        (
            "no proof",
            verify(&key, &["--old", s(&old_file), "--new", s(&saved_new)]),
        ),
        (
            "unreachable server",
            verify(&key, &["--old", s(&old_file), "--server", &unreachable]),
        ),
    ] {
        assert_eq!(code, 2, "{what}: {out}{err}");
        assert!(out.is_empty(), "{what}: {out}");
        assert!(err.contains("lotline: error:"), "{what}: {err}");
    }
    // Usage: both key options, neither, no mode, or modes mixed.
    let both = run(&[
        "verify-consistency",
        "--log-key",
        &key,
        "--log-key-file",
        s(&key_file),
        "--old",
        s(&old_file),
        "--server",
        &server.base,
    ]);
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
    let neither = run(&[
        "verify-consistency",
        "--old",
        s(&old_file),
        "--server",
        &server.base,
    ]);
    assert_eq!(neither.status.code(), Some(2), "{}", text(&neither.stderr));
    assert_eq!(verify(&key, &["--old", s(&old_file)]).0, 2);
    let mixed = verify(
        &key,
        &[
            "--old",
            s(&old_file),
            "--server",
            &server.base,
            "--new",
            s(&saved_new),
            "--proof",
            s(&saved_proof),
        ],
    );
    assert_eq!(mixed.0, 2);
    // A key file with more than the key, and a key that is not one.
    let two_lines = write(dir.path(), "two.vkey", &format!("{key}\n{key}\n"));
    let out = run(&[
        "verify-consistency",
        "--log-key-file",
        s(&two_lines),
        "--old",
        s(&old_file),
        "--server",
        &server.base,
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert_eq!(
        verify(
            "not-a-key",
            &["--old", s(&old_file), "--server", &server.base]
        )
        .0,
        2
    );
}

#[test]
fn a_checkpoint_of_another_log_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // Two logs with the same origin (the harness gives every server one) and their own keys.
    let a = Server::start(&dir.path().join("a"));
    let b = Server::start(&dir.path().join("b"));
    assert_ne!(a.vkey, b.vkey);
    let a_size = grow(&a, 2);
    let b_size = grow(&b, 1);
    let a_old = write(dir.path(), "a.checkpoint", &checkpoint_covering(&a, a_size));
    let b_old = write(dir.path(), "b.checkpoint", &checkpoint_covering(&b, b_size));

    // B's checkpoint as the old one, checked with A's key against A.
    let (code, out, _) = verify(&a.vkey, &["--old", s(&b_old), "--server", &a.base]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with(&format!(
            "invalid: the old checkpoint {}: note carries no signature by test.invalid/lotline",
            s(&b_old)
        )),
        "{out}"
    );
    // A's own checkpoint, but the server is B: the checkpoint it serves is not A's.
    let (code, out, _) = verify(&a.vkey, &["--old", s(&a_old), "--server", &b.base]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("invalid: the server's checkpoint (")
            && out.contains("no signature by test.invalid/lotline"),
        "{out}"
    );
    // Offline: A's checkpoint and proof, B's as the old one.
    let a_new_size = grow(&a, 1);
    let a_new = write(
        dir.path(),
        "a-new.checkpoint",
        &checkpoint_covering(&a, a_new_size),
    );
    let proof = write(
        dir.path(),
        "a.json",
        &get(&a.url(&format!(
            "/v1/proofs/consistency?from={b_size}&to={a_new_size}"
        )))
        .body,
    );
    let (code, out, _) = verify(
        &a.vkey,
        &["--old", s(&b_old), "--new", s(&a_new), "--proof", s(&proof)],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("no signature by"), "{out}");
    // With A's own old checkpoint the same new one passes.
    let proof = write(
        dir.path(),
        "a2.json",
        &get(&a.url(&format!(
            "/v1/proofs/consistency?from={a_size}&to={a_new_size}"
        )))
        .body,
    );
    let (code, out, err) = verify(
        &a.vkey,
        &["--old", s(&a_old), "--new", s(&a_new), "--proof", s(&proof)],
    );
    assert_eq!(code, 0, "{out}{err}");
}
