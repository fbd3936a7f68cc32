//! The real CLI binary: keygen, sign, submit and fsck, end to end against a real server.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::support::*;
use serde_json::{Value, json};

fn run_stdin(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// How many logs RocksDB has moved aside (`LOG.old.*`) in the store of `data`: one per open,
/// whether or not the open then got the store's lock.
fn moved_logs(data: &std::path::Path) -> usize {
    std::fs::read_dir(data.join("db"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("LOG.old")
        })
        .count()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn keygen_sign_submit_fsck() {
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("mill.key");
    let k = keyfile.to_str().unwrap();

    let out = run(&["keygen", "--out", k]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let did = text(&out.stdout).trim().to_owned();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&keyfile).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    // No silent overwrite of a key.
    assert_eq!(run(&["keygen", "--out", k]).status.code(), Some(2));

    // Sign one object, an array and NDJSON; the output keeps the shape.
    let one = event("one");
    let out = run_stdin(&["sign", "--key", k], one.to_string().as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let signed_one: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signed_one["proof"]["cryptosuite"], "eddsa-jcs-2022");
    assert_eq!(
        signed_one["proof"]["verificationMethod"],
        format!("{did}#{}", &did["did:key:".len()..])
    );
    assert_eq!(data_integrity::di::verify(&signed_one).unwrap().did, did);

    let arr = json!([event("a1"), event("a2"), event("a3")]);
    let arr_file = dir.path().join("events.json");
    std::fs::write(&arr_file, serde_json::to_vec_pretty(&arr).unwrap()).unwrap();
    let out = run(&["sign", "--key", k, arr_file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let signed_arr: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(signed_arr.as_array().unwrap().len(), 3);

    let nd: String = (0..5)
        .map(|i| format!("{}\n", event(&format!("n{i}"))))
        .collect();
    let out = run_stdin(&["sign", "--key", k, "-"], nd.as_bytes());
    assert!(out.status.success(), "{}", text(&out.stderr));
    let signed_nd = text(&out.stdout);
    assert_eq!(signed_nd.lines().count(), 5);

    // Events without an eventID are refused unless asked to add one.
    let mut no_id = event("x");
    no_id.as_object_mut().unwrap().remove("eventID");
    let out = run_stdin(&["sign", "--key", k], no_id.to_string().as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--add-event-id"));
    let out = run_stdin(
        &["sign", "--key", k, "--add-event-id"],
        no_id.to_string().as_bytes(),
    );
    assert!(out.status.success());
    let with_id: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        with_id["eventID"]
            .as_str()
            .unwrap()
            .starts_with("urn:uuid:")
    );
    // Broken input: a clear error naming the line, exit 2.
    let out = run_stdin(&["sign", "--key", k], b"{\"a\":1}\n{\"a\":\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("line 2"),
        "{}",
        text(&out.stderr)
    );

    // Submit all three shapes; small batches to exercise batching.
    let data = dir.path().join("data");
    let server = Server::start(&data);
    // The registrar registers the new key's owner with the CLI: a cooperative, which may record
    // harvests of its member farm (the harness's test farm).
    let reg_key = dir.path().join("registrar.key");
    lotline::ledger::write_key_file(&reg_key, &server.registrar, false).unwrap();
    let coop = "urn:epc:id:pgln:8841234.00031";
    let register = |extra: &[&str]| {
        let mut args = vec![
            "actor",
            "register",
            "--server",
            &server.base,
            "--registrar-key",
            reg_key.to_str().unwrap(),
            "--id",
            coop,
            "--name",
            "Test cooperative",
            "--role",
            "cooperative",
            "--key",
            &did,
            "--province",
            "Preah Vihear",
            "--time",
            REGISTERED,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let out = register(&[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // Twice: refused (exit 1) with the reason.
    let out = register(&[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("actor_exists"),
        "{}",
        text(&out.stderr)
    );
    // A key that is not a registrar's: refused.
    let out = run(&[
        "actor",
        "grant",
        "--server",
        &server.base,
        "--registrar-key",
        k,
        "--id",
        coop,
        "--role",
        "mill",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("not_registrar"),
        "{}",
        text(&out.stderr)
    );
    // Key and role changes through the CLI: a second key added, rotated to a third, revoked.
    let registrar_cmd = |args: &[&str]| {
        let mut all = vec![
            "actor",
            args[0],
            "--server",
            &server.base,
            "--registrar-key",
            reg_key.to_str().unwrap(),
            "--id",
            coop,
            "--time",
            "2026-02-01T00:00:00+07:00",
        ];
        all.extend_from_slice(&args[1..]);
        let out = run(&all);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    };
    let did_of = |name: &str| {
        let path = dir.path().join(name);
        text(&run(&["keygen", "--out", path.to_str().unwrap()]).stdout)
            .trim()
            .to_owned()
    };
    let (second, third) = (did_of("second.key"), did_of("third.key"));
    registrar_cmd(&["add-key", "--key", &second]);
    registrar_cmd(&["rotate-key", "--key", &third, "--replaces", &second]);
    registrar_cmd(&["revoke-key", "--key", &third]);
    registrar_cmd(&["grant", "--role", "collector"]);
    registrar_cmd(&["revoke-role", "--role", "collector"]);
    let actor = get(&server.url(&format!("/v1/actors/{coop}"))).json();
    assert_eq!(actor["keys"].as_array().unwrap().len(), 3);
    assert!(actor["keys"][2]["untilMs"].is_i64());
    assert!(actor["roles"][1]["untilMs"].is_i64());

    assert_eq!(actor["name"], "Test cooperative");
    assert_eq!(actor["keys"][0]["key"], did.as_str());

    let one_file = dir.path().join("one.json");
    std::fs::write(&one_file, serde_json::to_vec(&signed_one).unwrap()).unwrap();
    let out = run(&[
        "submit",
        "--server",
        &server.base,
        one_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let receipt: Value = serde_json::from_slice(&out.stdout).unwrap();
    // After the two registrations and the five key and role changes.
    assert_eq!(receipt["index"], 7);

    let signed_arr_file = dir.path().join("signed.json");
    std::fs::write(&signed_arr_file, signed_arr.to_string()).unwrap();
    let out = run(&[
        "submit",
        "--server",
        &server.base,
        "--batch-size",
        "2",
        signed_arr_file.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let idx: Vec<u64> = text(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["index"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(idx, vec![8, 9, 10]);

    // NDJSON with one tampered event: the others go in, exit 1, the problem on stderr.
    let mut lines: Vec<String> = signed_nd.lines().map(str::to_owned).collect();
    let mut bad: Value = serde_json::from_str(&lines[2]).unwrap();
    bad["example:note"] = json!("tampered");
    lines[2] = bad.to_string();
    let out = run_stdin(
        &["submit", "--server", &server.base, "-"],
        lines.join("\n").as_bytes(),
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout).lines().count(), 4);
    assert!(
        text(&out.stderr).contains("invalid_signature"),
        "{}",
        text(&out.stderr)
    );
    // Resubmitting the same file is idempotent: same receipts.
    let again = run_stdin(
        &["submit", "--server", &server.base, "-"],
        lines.join("\n").as_bytes(),
    );
    assert_eq!(text(&again.stdout), text(&out.stdout));
    assert_eq!(size(&server), 15);

    // Unreachable server: exit 2 after the retries.
    let out = run(&[
        "submit",
        "--server",
        "http://127.0.0.1:1",
        "--retries",
        "0",
        one_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));

    // fsck refuses while the server holds the store, without touching it (RocksDB would move
    // the server's LOG aside on a failed open), and passes once it stopped.
    let d = data.to_str().unwrap();
    let before = moved_logs(&data);
    let busy = run(&["fsck", "--data", d]);
    assert_eq!(busy.status.code(), Some(2));
    assert!(
        text(&busy.stderr).contains("open in another process"),
        "{}",
        text(&busy.stderr)
    );
    assert_eq!(
        moved_logs(&data),
        before,
        "fsck moved the running server's LOG"
    );
    server.stop();
    let out = run(&["fsck", "--data", d]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert!(text(&out.stdout).starts_with("ok: 15 entries"));

    // Flip one byte of entry 5 in RocksDB: fsck names entry 5.
    tamper_entry(&data, 5, 40);
    let out = run(&["fsck", "--data", d]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("first bad entry is 5"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn rfid_decode_command() {
    // GS1 TDS's own example tag.
    let out = run(&["rfid", "decode", "3074257BF7194E4000001A85"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(
        line.contains("urn:epc:tag:sgtin-96:3.0614141.812345.6789"),
        "{line}"
    );
    assert!(
        line.contains("urn:epc:id:sgtin:0614141.812345.6789"),
        "{line}"
    );
    assert!(
        line.contains("https://id.gs1.org/01/80614141123458/21/6789"),
        "{line}"
    );
    let out = run(&["rfid", "decode", "3074257BF7194E4000001A85", "FFFF"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("FFFF"), "{}", text(&out.stderr));
}

/// Runs `lotline serve` on `data` and `listen`, expected to refuse to start, to its end.
fn serve_to_refusal(listen: &str, registrar: &str, data: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .args(["serve", "--listen", listen, "--registrar", registrar])
        .arg("--data")
        .arg(data)
        .env("LOTLINE_LOG", "warn")
        .output()
        .unwrap()
}

/// A port already taken is a clear error at start, and the ledger opened for it is closed
/// again before the process exits: nothing it started (the webhook delivery thread among them)
/// keeps the store open.
#[test]
fn a_port_in_use_is_refused_and_the_store_closed() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let registrar = lotline_scenario::did(&lotline_scenario::seeded_key("port in use"));
    let out = serve_to_refusal(&addr, &registrar, &data);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains(&format!("cannot listen on {addr}")), "{said}");
    assert!(!said.contains("still in use"), "{said}");
    assert_store_closed(&data.join("db"));
}

/// A second server on a data directory a running one holds is refused by name, and leaves the
/// running server's store and log alone.
#[test]
fn a_second_server_on_a_live_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let before = moved_logs(&data);
    let registrar = lotline_scenario::did(&server.registrar);
    let out = serve_to_refusal("127.0.0.1:0", &registrar, &data);
    let said = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("is open in another process"), "{said}");
    assert_eq!(
        moved_logs(&data),
        before,
        "the second server moved the running one's LOG"
    );
    assert_eq!(get(&server.url("/readyz")).status, 200);
    server.stop();
}
