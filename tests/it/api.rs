//! The HTTP API on the real server: submission, idempotency, batches, every error code, proofs
//! checked by an independent verifier against the served checkpoint, and restarts.

use crate::support::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

type Hash = [u8; 32];

// ---- An independent RFC 9162 verifier: recursive over the tree's definition, sharing no code
// with lotline's iterative one. ----

fn node(l: &Hash, r: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1]);
    h.update(l);
    h.update(r);
    h.finalize().into()
}

fn split(n: u64) -> u64 {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// Root implied by an inclusion proof (audit path, deepest sibling first).
fn root_from_path(leaf: Hash, index: u64, size: u64, path: &[Hash]) -> Option<Hash> {
    if size == 1 {
        return path.is_empty().then_some(leaf);
    }
    let (last, rest) = path.split_last()?;
    let k = split(size);
    Some(if index < k {
        node(&root_from_path(leaf, index, k, rest)?, last)
    } else {
        node(last, &root_from_path(leaf, index - k, size - k, rest)?)
    })
}

/// (old root, new root) implied by a consistency proof; `have_old` is RFC 9162's `b`.
fn roots_from_consistency(
    m: u64,
    n: u64,
    have_old: bool,
    old: &Hash,
    proof: &mut Vec<Hash>,
) -> Option<(Hash, Hash)> {
    if m == n {
        if have_old {
            return Some((*old, *old));
        }
        let h = proof.pop()?;
        return Some((h, h));
    }
    let k = split(n);
    if m <= k {
        let right = proof.pop()?;
        let (o, nw) = roots_from_consistency(m, k, have_old, old, proof)?;
        Some((o, node(&nw, &right)))
    } else {
        let left = proof.pop()?;
        let (o, nw) = roots_from_consistency(m - k, n - k, false, old, proof)?;
        Some((node(&left, &o), node(&left, &nw)))
    }
}

fn consistent(m: u64, n: u64, old: &Hash, new: &Hash, proof: &[Hash]) -> bool {
    if m == n {
        return proof.is_empty() && old == new;
    }
    let mut stack = proof.to_vec();
    matches!(roots_from_consistency(m, n, true, old, &mut stack), Some((o, nw)) if stack.is_empty() && o == *old && nw == *new)
}

fn h64(s: &Value) -> Hash {
    B64.decode(s.as_str().unwrap()).unwrap().try_into().unwrap()
}

fn hashes(v: &Value) -> Vec<Hash> {
    v.as_array().unwrap().iter().map(h64).collect()
}

/// The served checkpoint, checked with the served verifier key: (size, root).
fn checkpoint(server: &Server) -> (u64, Hash) {
    let note = get(&server.url("/v1/checkpoint"));
    assert_eq!(note.status, 200);
    let key = tlog::note::VerifierKey::parse(&server.vkey).unwrap();
    let text = tlog::note::open(&note.body, &key).expect("checkpoint verifies");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "test.invalid/lotline");
    (
        lines[1].parse().unwrap(),
        B64.decode(lines[2]).unwrap().try_into().unwrap(),
    )
}

fn wait_for_checkpoint(server: &Server, size: u64) -> (u64, Hash) {
    for _ in 0..100 {
        let cp = checkpoint(server);
        if cp.0 >= size {
            return cp;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no checkpoint reached size {size}");
}

#[test]
fn submit_read_back_and_idempotency() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let key = server.farm.clone();
    let ev = event("first");
    let signed = sign(&key, &ev);

    let a = post_json(&server.url("/v1/events"), &signed);
    assert_eq!(a.status, 201, "{}", a.body);
    let receipt = a.json();
    // Entry 0 is the registration of the test actor.
    assert_eq!(receipt["index"], 1);
    assert_eq!(receipt["eventID"], ev["eventID"]);
    for f in ["entryHash", "leafHash", "recordTime"] {
        assert!(receipt[f].is_string(), "{f} in {receipt}");
    }
    // A proof can be asked for right after the receipt: the server waits for a checkpoint.
    let proof = get(&server.url("/v1/entries/1/proof"));
    assert_eq!(proof.status, 200, "{}", proof.body);
    assert!(proof.body.starts_with("c2sp.org/tlog-proof@v1\n"));
    // The log's key was created on first start, readable by its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("log.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The entry and the event read back, with the same receipt.
    let by_index = get(&server.url("/v1/entries/1")).json();
    assert_eq!(by_index["receipt"], receipt);
    assert_eq!(by_index["entry"]["event"], signed);
    assert_eq!(
        by_index["entry"]["signer"],
        data_integrity::didkey::did_key(&key.verifying_key())
    );
    let first = get(&server.url("/v1/entries/0")).json();
    assert_eq!(first["entry"]["prevHash"], B64.encode([0u8; 32]));
    assert_eq!(by_index["entry"]["prevHash"], first["receipt"]["entryHash"]);
    let id = ev["eventID"].as_str().unwrap();
    assert_eq!(
        get(&server.url(&format!("/v1/events/{id}"))).json(),
        by_index
    );

    // Same event again: 200 with the original receipt; re-signed, same content: the same.
    let again = post_json(&server.url("/v1/events"), &signed);
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), receipt);
    let resigned = data_integrity::di::sign(&ev, &key, "2026-11-21T00:00:00Z").unwrap();
    let again = post_json(&server.url("/v1/events"), &resigned);
    assert_eq!(again.status, 200);
    assert_eq!(again.json(), receipt);

    // Same eventID, different content: 409, nothing written.
    let mut changed = ev.clone();
    changed["example:note"] = json!("second");
    post_json(&server.url("/v1/events"), &sign(&key, &changed))
        .assert_problem(409, "event_id_conflict");
    // Same content by another signer is another claim: also a conflict.
    post_json(
        &server.url("/v1/events"),
        &sign(&crate::support::key(), &ev),
    )
    .assert_problem(409, "event_id_conflict");
    assert_eq!(size(&server), 2);

    // The chain: entry 2 links to entry 1.
    let b = post_json(&server.url("/v1/events"), &sign(&key, &event("second"))).json();
    let e2 = get(&server.url("/v1/entries/2")).json();
    assert_eq!(e2["entry"]["prevHash"], receipt["entryHash"]);
    assert_eq!(b["index"], 2);
    server.stop();
}

#[test]
fn batch_mixes_valid_and_invalid_events() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let key = server.farm.clone();
    let good1 = sign(&key, &event("a"));
    let good2 = sign(&key, &event("b"));
    let mut tampered = sign(&key, &event("c"));
    tampered["example:note"] = json!("changed after signing");
    let mut no_id = sign(&key, &event("d"));
    no_id.as_object_mut().unwrap().remove("eventID");
    let mut wrong_suite = sign(&key, &event("e"));
    wrong_suite["proof"]["cryptosuite"] = json!("bbs-2023");
    let mut conflicting = event("f");
    conflicting["eventID"] = good1["eventID"].clone();
    let conflicting = sign(&key, &conflicting);

    let batch = json!([
        good1,
        tampered,
        no_id,
        good2,
        wrong_suite,
        good1,
        conflicting,
        42
    ]);
    let a = post_json(&server.url("/v1/events/batch"), &batch);
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    let r = v["results"].as_array().unwrap();
    let statuses: Vec<u64> = r.iter().map(|x| x["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, vec![201, 422, 422, 201, 422, 200, 409, 422]);
    assert_eq!(r[1]["problem"]["code"], "invalid_signature");
    assert_eq!(r[2]["problem"]["code"], "schema_violation");
    assert_eq!(r[2]["problem"]["pointer"], "");
    assert_eq!(r[4]["problem"]["code"], "unsupported_proof");
    assert_eq!(r[5]["receipt"], r[0]["receipt"]);
    assert_eq!(r[6]["problem"]["code"], "event_id_conflict");
    assert_eq!(r[7]["problem"]["code"], "schema_violation");
    assert_eq!(
        (v["accepted"].as_u64(), v["rejected"].as_u64()),
        (Some(3), Some(5))
    );
    // Only the two valid events were written, in order, after the registration.
    assert_eq!(size(&server), 3);
    assert_eq!(r[0]["receipt"]["index"], 1);
    assert_eq!(r[3]["receipt"]["index"], 2);
    server.stop();
}

#[test]
fn every_error_code_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    // Small limits from a config file, so oversized bodies stay small on the wire.
    let config = dir.path().join("lotline.toml");
    std::fs::write(
        &config,
        "max_body_bytes = 8192\nmax_batch = 20\nmax_json_depth = 32\n",
    )
    .unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let key = server.farm.clone();
    let ev = sign(&key, &event("ok"));
    let events = server.url("/v1/events");

    post(&events, b"{\"type\": ").assert_problem(400, "malformed_json");
    post(&events, b"{\"a\":1,\"a\":2}").assert_problem(400, "malformed_json");
    post(&events, b"").assert_problem(400, "malformed_json");
    let deep = format!("{}{}", "[".repeat(33), "]".repeat(33));
    post(&events, deep.as_bytes()).assert_problem(400, "too_deep");
    let mut big_number = sign(&key, &event("n"));
    big_number["quantity"] = json!(9007199254740993u64);
    let p = post_json(&events, &big_number).assert_problem(400, "malformed_json");
    assert_eq!(p["pointer"], "/quantity");

    let mut bad_time = event("t");
    bad_time["eventTime"] = json!("last tuesday");
    let p = post_json(&events, &sign(&key, &bad_time)).assert_problem(422, "schema_violation");
    assert_eq!(p["pointer"], "/eventTime");
    let mut unsigned = ev.clone();
    unsigned.as_object_mut().unwrap().remove("proof");
    post_json(&events, &unsigned).assert_problem(422, "schema_violation");
    let mut upper = event("u");
    upper["eventID"] = json!(
        upper["eventID"]
            .as_str()
            .unwrap()
            .to_uppercase()
            .replace("URN:UUID:", "urn:uuid:")
    );
    let p = post_json(&events, &sign(&key, &upper)).assert_problem(422, "schema_violation");
    assert_eq!(p["pointer"], "/eventID");

    let mut flipped = ev.clone();
    let pv = flipped["proof"]["proofValue"].as_str().unwrap().to_owned();
    let swapped = if pv.ends_with('2') {
        format!("{}3", &pv[..pv.len() - 1])
    } else {
        format!("{}2", &pv[..pv.len() - 1])
    };
    flipped["proof"]["proofValue"] = json!(swapped);
    post_json(&events, &flipped).assert_problem(422, "invalid_signature");
    let mut other_key = ev.clone();
    let vm = data_integrity::didkey::verification_method(&crate::support::key().verifying_key());
    other_key["proof"]["verificationMethod"] = json!(vm);
    post_json(&events, &other_key).assert_problem(422, "invalid_signature");
    let mut suite = ev.clone();
    suite["proof"]["cryptosuite"] = json!("eddsa-rdfc-2022");
    post_json(&events, &suite).assert_problem(422, "unsupported_proof");
    let mut purpose = ev.clone();
    purpose["proof"]["proofPurpose"] = json!("authentication");
    post_json(&events, &purpose).assert_problem(422, "unsupported_proof");

    // A declared length over the limit is refused from the headers alone (no body is sent, so
    // the answer cannot race a connection reset).
    let (status, answer) = raw_post(&server, "/v1/events", "Content-Length: 9000\r\n", b"");
    assert_eq!(status, 413, "{answer}");
    assert!(
        answer.contains("payload_too_large") && answer.contains("application/problem+json"),
        "{answer}"
    );
    // Without a Content-Length the limit is enforced while reading.
    let mut chunked = Vec::new();
    for part in vec![b' '; 9000].chunks(1000) {
        chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        chunked.extend_from_slice(part);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (status, answer) = raw_post(
        &server,
        "/v1/events",
        "Transfer-Encoding: chunked\r\n",
        &chunked,
    );
    assert_eq!(status, 413, "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    let too_many: Vec<Value> = (0..21).map(|_| json!({})).collect();
    post_json(&server.url("/v1/events/batch"), &json!(too_many))
        .assert_problem(413, "batch_too_large");
    post_json(&server.url("/v1/events/batch"), &json!({"not": "an array"}))
        .assert_problem(422, "schema_violation");
    // An event that is not strict JSON refuses its whole batch, even after events that would be
    // admitted, and is named by where it is in the batch.
    let batch = server.url("/v1/events/batch");
    let p = post(&batch, format!("[{ev}, {big_number}]").as_bytes())
        .assert_problem(400, "malformed_json");
    assert_eq!(p["pointer"], "/1/quantity");
    let p = post(
        &batch,
        format!("[{ev}, {{\"a\":[{{\"b\":1,\"b\":2}}]}}]").as_bytes(),
    )
    .assert_problem(400, "malformed_json");
    assert_eq!(p["pointer"], "/1/a/0");
    let deep = format!("[{ev}, {}{}]", "[".repeat(32), "]".repeat(32));
    post(&batch, deep.as_bytes()).assert_problem(400, "too_deep");
    post(&batch, format!("[{ev}, {{\"a\":}}]").as_bytes()).assert_problem(400, "malformed_json");
    post(&batch, format!("[{ev}] {ev}").as_bytes()).assert_problem(400, "malformed_json");
    post(&batch, format!("[{ev}, \"\\ud800\"]").as_bytes()).assert_problem(400, "malformed_json");
    // Not strict JSON is said before too many events.
    let mut too_many: Vec<String> = (0..21).map(|_| "{}".to_owned()).collect();
    too_many[20] = r#"{"a":1,"a":2}"#.to_owned();
    let p = post(&batch, format!("[{}]", too_many.join(",")).as_bytes())
        .assert_problem(400, "malformed_json");
    assert_eq!(p["pointer"], "/20");

    assert_eq!(size(&server), 1, "rejected requests wrote something");

    assert_eq!(post_json(&events, &ev).status, 201);
    post_json(
        &events,
        &sign(&key, &{
            let mut e = event("x");
            e["eventID"] = ev["eventID"].clone();
            e
        }),
    )
    .assert_problem(409, "event_id_conflict");

    get(&server.url("/v1/entries/7")).assert_problem(404, "not_found");
    get(&server.url("/v1/entries/seven")).assert_problem(400, "invalid_parameter");
    get(&server.url("/v1/entries/-1")).assert_problem(400, "invalid_parameter");
    get(&server.url("/v1/events/urn:uuid:00000000-0000-7000-8000-000000000000"))
        .assert_problem(404, "not_found");
    get(&server.url("/v1/events/not-a-uuid")).assert_problem(400, "invalid_parameter");
    get(&server.url("/v1/nothing-here")).assert_problem(404, "not_found");
    get(&server.url("/v1/schemas/nope")).assert_problem(404, "not_found");
    get(&server.url("/v1/proofs/inclusion/0?treeSize=9"))
        .assert_problem(400, "tree_size_out_of_range");
    get(&server.url("/v1/proofs/inclusion/5?treeSize=1"))
        .assert_problem(400, "tree_size_out_of_range");
    get(&server.url("/v1/proofs/inclusion/0?treeSize=abc"))
        .assert_problem(400, "invalid_parameter");
    get(&server.url("/v1/proofs/consistency?from=1&to=9"))
        .assert_problem(400, "tree_size_out_of_range");
    get(&server.url("/v1/proofs/consistency?from=2&to=1"))
        .assert_problem(400, "tree_size_out_of_range");
    get(&server.url("/v1/proofs/consistency")).assert_problem(400, "invalid_parameter");
    get(&server.url("/v1/proofs/consistency?from=0&to=1"))
        .assert_problem(400, "tree_size_out_of_range");
    get(&server.url("/v1/entries/+0")).assert_problem(400, "invalid_parameter");
    let Err(ureq::Error::Status(405, r)) = ureq::delete(&server.url("/v1/events")).call() else {
        panic!("expected 405")
    };
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
    let p = Answer {
        status: 405,
        content_type: r.content_type().to_owned(),
        body: r.into_string().unwrap(),
    };
    p.assert_problem(405, "method_not_allowed");
    let Err(ureq::Error::Status(405, r)) = ureq::post(&server.url("/v1/log")).call() else {
        panic!("expected 405")
    };
    assert_eq!(r.header("allow"), Some("GET, HEAD"));
    assert_eq!(
        ureq::head(&server.url("/v1/checkpoint"))
            .call()
            .unwrap()
            .status(),
        200
    );

    let schema = get(&server.url("/v1/schemas/event-envelope"));
    assert_eq!(schema.status, 200);
    assert_eq!(schema.json()["$id"], "urn:lotline:schema:event-envelope:v1");
    assert_eq!(get(&server.url("/healthz")).status, 200);
    assert_eq!(get(&server.url("/readyz")).status, 200);
    assert_eq!(size(&server), 2);
    let log = get(&server.url("/v1/log")).json();
    assert_eq!(log["verifierKey"], server.vkey);
    assert_eq!(log["origin"], "test.invalid/lotline");
    let index = get(&server.url("/")).json();
    assert_eq!(index["links"]["firstEntry"], "/v1/entries/0");
    assert_eq!(
        get(&server.url(index["links"]["log"].as_str().unwrap())).status,
        200
    );
    server.stop();
}

/// POSTs over a raw socket, with `headers` as given and `body` sent in one write.
fn raw_post(server: &Server, path: &str, headers: &str, body: &[u8]) -> (u16, String) {
    use std::io::{Read as _, Write as _};
    let addr = server.base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{headers}Connection: close\r\n\r\n"
    )
    .into_bytes();
    request.extend_from_slice(body);
    s.write_all(&request).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[test]
fn proofs_verify_independently_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let key = server.farm.clone();
    let mut receipts = Vec::new();
    for round in 0..3 {
        let batch: Vec<Value> = (0..(7 + round * 5))
            .map(|i| sign(&key, &event(&format!("{round}-{i}"))))
            .collect();
        let v = post_json(&server.url("/v1/events/batch"), &json!(batch)).json();
        receipts.extend(
            v["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["receipt"].clone()),
        );
    }
    // Plus the registration at index 0.
    let n = receipts.len() as u64 + 1;
    let (cp_size, cp_root) = wait_for_checkpoint(&server, n);
    assert_eq!(cp_size, n);

    // Every entry is included in the served checkpoint's tree.
    for r in &receipts {
        let i = r["index"].as_u64().unwrap();
        let p = get(&server.url(&format!("/v1/proofs/inclusion/{i}?treeSize={cp_size}"))).json();
        assert_eq!(p["leafHash"], r["leafHash"]);
        assert_eq!(h64(&p["rootHash"]), cp_root);
        let root = root_from_path(h64(&r["leafHash"]), i, cp_size, &hashes(&p["hashes"]));
        assert_eq!(root, Some(cp_root), "inclusion of {i}");
        // A proof for the wrong index must not verify.
        if cp_size > 1 {
            assert_ne!(
                root_from_path(
                    h64(&r["leafHash"]),
                    (i + 1) % cp_size,
                    cp_size,
                    &hashes(&p["hashes"])
                ),
                Some(cp_root)
            );
        }
    }
    // Every older tree is consistent with the checkpoint.
    for m in 1..=n {
        let p = get(&server.url(&format!("/v1/proofs/consistency?from={m}&to={n}"))).json();
        assert_eq!(h64(&p["toRootHash"]), cp_root);
        assert!(
            consistent(
                m,
                n,
                &h64(&p["fromRootHash"]),
                &cp_root,
                &hashes(&p["hashes"])
            ),
            "consistency {m}->{n}"
        );
    }

    // The self-contained proof file verifies offline with the CLI; tampering is caught.
    let proof = get(&server.url("/v1/entries/3/proof"));
    assert_eq!(proof.status, 200);
    assert!(proof.body.starts_with("c2sp.org/tlog-proof@v1\nextra "));
    let file = dir.path().join("entry3.tlog-proof");
    std::fs::write(&file, &proof.body).unwrap();
    let out = run(&[
        "verify-proof",
        "--log-key",
        &server.vkey,
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("valid: entry 3"));
    let lines: Vec<&str> = proof.body.lines().collect();
    let idx = lines.iter().position(|l| l.starts_with("index ")).unwrap();
    let mut tampered = lines.clone();
    let wrong_index = "index 4".to_string();
    tampered[idx] = &wrong_index;
    std::fs::write(&file, tampered.join("\n") + "\n").unwrap();
    let out = run(&[
        "verify-proof",
        "--log-key",
        &server.vkey,
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let other_log = tlog::note::NoteSigner::new("test.invalid/lotline", crate::support::key())
        .unwrap()
        .verifier_key()
        .to_string();
    std::fs::write(&file, &proof.body).unwrap();
    let out = run(&[
        "verify-proof",
        "--log-key",
        &other_log,
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = run(&[
        "verify-proof",
        "--log-key",
        &server.vkey,
        "/nonexistent/proof",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[
        "verify-proof",
        "--log-key",
        "garbage",
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));

    // Restart: everything is there, the key and origin are the same, the log only grew.
    let vkey = server.vkey.clone();
    server.stop();
    let server = Server::start(dir.path());
    assert_eq!(server.vkey, vkey);
    assert_eq!(size(&server), n);
    for r in &receipts {
        let i = r["index"].as_u64().unwrap();
        assert_eq!(
            get(&server.url(&format!("/v1/entries/{i}"))).json()["receipt"],
            *r
        );
    }
    let more = post_json(
        &server.url("/v1/events"),
        &sign(&key, &event("after restart")),
    )
    .json();
    assert_eq!(more["index"], n);
    let (size2, root2) = wait_for_checkpoint(&server, n + 1);
    let p = get(&server.url(&format!("/v1/proofs/consistency?from={n}&to={size2}"))).json();
    assert!(consistent(
        n,
        size2,
        &cp_root,
        &root2,
        &hashes(&p["hashes"])
    ));
    server.stop();
    let out = run(&["fsck", "--data", dir.path().to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

fn serve_fails(data: &std::path::Path, origin: &str) -> String {
    let out = std::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--origin",
            origin,
            "--data",
        ])
        .arg(data)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_log_identity_is_protected() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // An origin that cannot name a signed-note key is refused before it is stored…
    let err = serve_fails(&data, "my log");
    assert!(err.contains("origin"), "{err}");
    // …so the directory is still usable.
    let server = Server::start(&data);
    let key = server.farm.clone();
    assert_eq!(
        post_json(&server.url("/v1/events"), &sign(&key, &event("x"))).status,
        201
    );
    // Ctrl-C stops gracefully, like SIGTERM.
    server.stop_with("INT");
    let err = serve_fails(&data, "other.invalid/log");
    assert!(err.contains("cannot be changed"), "{err}");
    // A store whose key file is gone is not silently re-keyed.
    std::fs::rename(data.join("log.key"), dir.path().join("log.key.bak")).unwrap();
    let err = serve_fails(&data, "test.invalid/lotline");
    assert!(err.contains("restore the log's key file"), "{err}");
    assert!(!data.join("log.key").exists());
    std::fs::rename(dir.path().join("log.key.bak"), data.join("log.key")).unwrap();
    Server::start(&data).stop();
    let out = run(&["fsck", "--data", data.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // fsck of a directory that holds no ledger is an error, and creates nothing.
    let none = dir.path().join("none");
    assert_eq!(
        run(&["fsck", "--data", none.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
    assert!(!none.exists());
}

/// One raw exchange: the status, the response headers asked for, and the body bytes.
fn exchange(req: ureq::Request, want: &[&str]) -> (u16, Vec<Option<String>>, Vec<u8>) {
    let r = match req.call() {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{e}"),
    };
    let headers = want
        .iter()
        .map(|h| r.header(h).map(str::to_owned))
        .collect();
    let status = r.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut body).unwrap();
    (status, headers, body)
}

/// Every answer names its request: the client's sane `X-Request-ID`, else a fresh one, in the
/// header and in every problem body. Large answers are gzipped for clients that accept it.
#[test]
fn request_ids_and_compressed_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let agent = server.agent();
    let (_, h, _) = exchange(agent.get(&server.url("/v1/log")), &["x-request-id"]);
    let fresh = h[0].clone().expect("an ID");
    assert_eq!(fresh.len(), 32, "{fresh}");
    let (status, h, body) = exchange(
        agent
            .get(&server.url("/v1/entries/999999"))
            .set("X-Request-ID", "mill-7:retry-2"),
        &["x-request-id"],
    );
    assert_eq!(status, 404);
    assert_eq!(h[0].as_deref(), Some("mill-7:retry-2"));
    let p: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(p["requestId"], "mill-7:retry-2", "{p}");
    assert_eq!(p["code"], "not_found");
    // An ID that could forge log lines is replaced.
    let (_, h, _) = exchange(
        agent
            .get(&server.url("/v1/log"))
            .set("X-Request-ID", "evil id\\nINFO forged"),
        &["x-request-id"],
    );
    assert_ne!(h[0].as_deref(), Some("evil id\\nINFO forged"));
    assert_eq!(h[0].as_ref().unwrap().len(), 32);

    // gzip when asked for, identical once decoded; plain otherwise.
    let url = server.url("/v1/schemas/common");
    let (_, h, plain) = exchange(agent.get(&url), &["content-encoding"]);
    assert_eq!(h[0], None);
    let (status, h, zipped) = exchange(
        agent.get(&url).set("Accept-Encoding", "gzip"),
        &["content-encoding"],
    );
    assert_eq!((status, h[0].as_deref()), (200, Some("gzip")));
    assert!(
        zipped.len() < plain.len() / 2,
        "{} vs {}",
        zipped.len(),
        plain.len()
    );
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&zipped[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(unzipped, plain);

    // A provenance bundle, the large answer this is for, gzipped as well.
    let lot = fresh_lot();
    let a = server.submit(&server.farm, &harvest(&lot, 800.0));
    assert_eq!(a.status, 201, "{}", a.body);
    // The proof file waits for a checkpoint that covers the entry; the bundle needs one.
    let last = a.json()["index"].as_u64().unwrap();
    assert_eq!(
        get(&server.url(&format!("/v1/entries/{last}/proof"))).status,
        200
    );
    let url = server.url(&format!("/v1/lots/{}/bundle", enc(&lot)));
    let (status, _, plain) = exchange(agent.get(&url), &[]);
    assert_eq!(status, 200);
    let (status, h, zipped) = exchange(
        agent.get(&url).set("Accept-Encoding", "gzip"),
        &["content-encoding"],
    );
    assert_eq!((status, h[0].as_deref()), (200, Some("gzip")));
    assert!(zipped.len() < plain.len() / 2);
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(&zipped[..]),
        &mut unzipped,
    )
    .unwrap();
    assert_eq!(
        unzipped, plain,
        "the bundle is deterministic, gzipped or not"
    );

    // No CORS unless configured: a page of another origin gets no permission.
    let (status, h, _) = exchange(
        agent
            .get(&server.url("/v1/log"))
            .set("Origin", "https://buyer.example"),
        &["access-control-allow-origin"],
    );
    assert_eq!((status, h[0].clone()), (200, None));
}

/// With `cors_origins`, a buyer's page on that origin may read the API (and see the request
/// ID and paging headers); other origins and writes are not allowed.
#[test]
fn cors_lets_configured_origins_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("lotline.toml");
    std::fs::write(&config, "cors_origins = [\"https://buyer.example\"]\n").unwrap();
    let server = Server::start_with(
        &dir.path().join("data"),
        &["--config", config.to_str().unwrap()],
    );
    let agent = server.agent();
    let (status, h, _) = exchange(
        agent
            .get(&server.url("/v1/log"))
            .set("Origin", "https://buyer.example"),
        &[
            "access-control-allow-origin",
            "access-control-expose-headers",
        ],
    );
    assert_eq!(status, 200);
    assert_eq!(h[0].as_deref(), Some("https://buyer.example"));
    assert!(
        h[1].as_deref().unwrap_or("").contains("x-request-id"),
        "{h:?}"
    );
    // The preflight of a read is answered; of a write, not.
    let preflight = |method: &str| {
        exchange(
            agent
                .request("OPTIONS", &server.url("/v1/events"))
                .set("Origin", "https://buyer.example")
                .set("Access-Control-Request-Method", method),
            &[
                "access-control-allow-origin",
                "access-control-allow-methods",
            ],
        )
    };
    let (status, h, _) = preflight("GET");
    assert_eq!(status, 200);
    assert_eq!(h[0].as_deref(), Some("https://buyer.example"));
    let (status, h, _) = preflight("POST");
    assert_ne!(status, 200);
    assert_eq!(h[0], None);
    let (status, h, _) = exchange(
        agent
            .get(&server.url("/v1/log"))
            .set("Origin", "https://elsewhere.example"),
        &["access-control-allow-origin"],
    );
    assert_eq!(h[0], None, "status {status}");
}

/// The server turns transparent huge pages off for its own process (see `http::server`): the
/// kernel reports it in the process's status, where the kernel is new enough to (Linux 5.0+).
#[test]
fn the_server_runs_with_transparent_huge_pages_off() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.child.id())).unwrap();
    if let Some(line) = status.lines().find(|l| l.starts_with("THP_enabled:")) {
        assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    }
}
