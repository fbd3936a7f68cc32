//! Audit endpoints are not public: a certifier's or registrar's audit token is needed; a
//! certifier sees only the operators its certificates name; a revoked key stops working at
//! once. Public provenance stays public. Real server, demo scenario, real CLI.

use crate::support::{Server, audit_token, enc, get, get_bearer, post_json, run};
use lotline_profile::audit_token;
use lotline_scenario::{self as scenario, registrar_doc, seeded_key};

const SEED: &str = "audit access test";
const CONTAINER: &str = "urn:epc:id:sscc:8841234.9000000001";

fn id(name: &str) -> String {
    scenario::demo_actors()
        .into_iter()
        .find(|a| a.name == name)
        .unwrap()
        .id
}

/// The audit resources about the mill that a certifier asks for: its mass balance and report,
/// its FSMA export, and the recall of the head rice it milled.
fn audit_urls(server: &Server, operator: &str) -> Vec<String> {
    let op = enc(operator);
    vec![
        server.url(&format!(
            "/v1/export/fsma204.csv?operator={op}&from=2026-01-01&to=2027-01-01"
        )),
        server.url(&format!(
            "/v1/audit/operators/{op}/mass-balance?from=2026-01-01"
        )),
        server.url(&format!("/v1/audit/operators/{op}/report?from=2026-01-01")),
        server.url(&format!(
            "/v1/audit/lots/{}/downstream",
            enc("urn:epc:class:lgtin:8841234.020001.BB26-1020")
        )),
    ]
}

#[test]
fn audits_need_a_token_of_a_certifier_of_the_operator_or_a_registrar() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_demo(dir.path(), SEED);
    let mill = id("mill");
    let certifier = seeded_key(&format!("{SEED} certifier"));
    let registrar = seeded_key(&format!("{SEED} registrar"));

    for url in audit_urls(&server, &mill) {
        // Anonymous: refused, with what to send instead.
        let a = get(&url);
        let p = a.assert_problem(401, "unauthenticated");
        assert!(p["detail"].as_str().unwrap().contains("audit token"), "{p}");
        // The certifier of the mill, and a registrar: allowed.
        assert_eq!(
            get_bearer(&url, &audit_token(&server, &certifier)).status,
            200,
            "{url}"
        );
        assert_eq!(
            get_bearer(&url, &audit_token(&server, &registrar)).status,
            200,
            "{url}"
        );
        // The mill itself is no certifier.
        let mill_key = seeded_key(&format!("{SEED} mill"));
        get_bearer(&url, &audit_token(&server, &mill_key)).assert_problem(403, "forbidden");
        // A key nobody registered.
        get_bearer(&url, &audit_token(&server, &crate::support::key()))
            .assert_problem(401, "unauthenticated");
        // Garbage, or a token for another ledger.
        get_bearer(&url, "not-a-token").assert_problem(401, "unauthenticated");
        let other =
            audit_token::create(&certifier, "other.example/log", None, now(), 60_000).unwrap();
        let p = get_bearer(&url, &other).assert_problem(401, "unauthenticated");
        assert!(
            p["detail"].as_str().unwrap().contains("not this ledger"),
            "{p}"
        );
    }

    // A second control body, registered but certifying nobody here: forbidden for the mill.
    let other = crate::support::key();
    server.register("urn:epc:id:pgln:8841234.00052", &["certifier"], &other);
    for url in audit_urls(&server, &mill) {
        let p = get_bearer(&url, &audit_token(&server, &other)).assert_problem(403, "forbidden");
        assert!(
            p["detail"].as_str().unwrap().contains("does not certify")
                || p["detail"]
                    .as_str()
                    .unwrap()
                    .contains("certifies no operator"),
            "{p}"
        );
    }
    // The whole period across operators is for registrars.
    let period = server.url("/v1/export/fsma204.csv?from=2026-01-01&to=2027-01-01");
    get_bearer(&period, &audit_token(&server, &certifier)).assert_problem(403, "forbidden");
    assert_eq!(
        get_bearer(&period, &audit_token(&server, &registrar)).status,
        200
    );

    // Public provenance stays public.
    let p = get(&server.url(&format!("/v1/lots/{}/provenance", enc(CONTAINER))));
    assert_eq!(p.status, 200);

    // The CLI makes a token from the key file, for the server it asks, and a browser URL.
    let key_file = dir.path().join("certifier.key.json");
    std::fs::write(
        &key_file,
        serde_json::to_vec(&data_integrity::didkey::KeyFile::from_signing_key(
            &certifier,
        ))
        .unwrap(),
    )
    .unwrap();
    let out = run(&[
        "audit-token",
        "--key",
        key_file.to_str().unwrap(),
        "--server",
        &server.url(""),
        "--actor",
        &id("certifier"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let url = audit_urls(&server, &mill).remove(0);
    assert_eq!(get_bearer(&url, &token).status, 200);
    let out = run(&[
        "audit-token",
        "--key",
        key_file.to_str().unwrap(),
        "--server",
        &server.url(""),
        "--url",
        &format!(
            "/v1/export/fsma204.csv?operator={}&from=2026-01-01&to=2027-01-01",
            enc(&mill)
        ),
    ]);
    let link = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(link.contains("&access_token="), "{link}");
    assert_eq!(get(&link).status, 200);
    // A token naming another actor than its key's owner is refused.
    let out = run(&[
        "audit-token",
        "--key",
        key_file.to_str().unwrap(),
        "--server",
        &server.url(""),
        "--actor",
        &mill,
    ]);
    let wrong = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    get_bearer(&url, &wrong).assert_problem(401, "unauthenticated");

    // The registrar revokes the certifier's key: its tokens stop working at once.
    let revoke = registrar_doc(
        "lotline:KeyRevocation",
        &now_rfc3339(),
        &id("certifier"),
        ("key", &scenario::did(&certifier)),
        None,
    );
    let signed = data_integrity::di::sign(&revoke, &registrar, &now_rfc3339()).unwrap();
    let a = post_json(&server.url("/v1/events"), &signed);
    assert_eq!(a.status, 201, "{}", a.body);
    let p = get_bearer(&url, &token).assert_problem(401, "unauthenticated");
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("no longer a valid key"),
        "{p}"
    );
    server.stop();
}

fn now() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}
