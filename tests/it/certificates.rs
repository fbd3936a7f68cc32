//! Certifiers: certificates recorded by their decisions, organic status derived from them (with
//! evidence), and a withdrawal with a past effective date changing the status of what it
//! touched — in the API, the bundle (verified offline) and the buyer page. Real server, demo
//! scenario.

use crate::support::{Server, enc, get, post_json, run, size};
use data_integrity::di;
use lotline_scenario::{self as scenario, cert_decision, demo_cert_id, seeded_key};
use serde_json::{Value, json};

const SEED: &str = "certificates test";
const CONTAINER: &str = "urn:epc:id:sscc:8841234.9000000001";
const CASSAVA_CHIPS: &str = "urn:epc:class:lgtin:8841234.040002.KC26-C1";

fn demo(dir: &std::path::Path) -> (Server, String) {
    let (registrar, steps) =
        lotline::cli::actor::signed_demo(SEED, "2026-11-20T00:00:00Z").unwrap();
    let server = Server::start_with(&dir.join("data"), &["--registrar", &registrar]);
    for (doc, expect) in &steps {
        let a = post_json(&server.url("/v1/events"), doc);
        match expect {
            None => assert_eq!(a.status, 201, "{}", a.body),
            Some(code) => {
                a.assert_problem(a.status, code);
            }
        }
    }
    (server, registrar)
}

/// Signs `doc` with the demo key of `who` and posts it.
fn submit(server: &Server, who: &str, doc: &Value) -> crate::support::Answer {
    let key = seeded_key(&format!("{SEED} {who}"));
    let signed = di::sign(doc, &key, "2026-11-20T00:00:00Z").unwrap();
    post_json(&server.url("/v1/events"), &signed)
}

fn actor_id(name: &str) -> String {
    scenario::demo_actors()
        .into_iter()
        .find(|a| a.name == name)
        .unwrap()
        .id
}

fn provenance(server: &Server, id: &str) -> Value {
    get(&server.url(&format!("/v1/lots/{}/provenance", enc(id)))).json()
}

fn failed(p: &Value) -> Vec<&Value> {
    p["organic"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == false)
        .collect()
}

#[test]
fn organic_status_is_derived_and_a_retroactive_withdrawal_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = demo(dir.path());

    // The demo container: every plot and handler covered, every check with its evidence.
    let p = provenance(&server, CONTAINER);
    assert_eq!(p["verdict"]["verified"], true, "{}", p["verdict"]);
    assert_eq!(p["organic"]["status"], "organic", "{:#?}", failed(&p));
    let checks = p["organic"]["checks"].as_array().unwrap();
    let of = |check: &'static str| checks.iter().filter(move |c| c["check"] == check);
    assert_eq!(of("plot_certified").count(), 3);
    assert_eq!(of("growing_method").count(), 3);
    assert!(of("no_mixing").count() >= 2, "milling and bagging");
    for c in of("plot_certified") {
        assert_eq!(c["certificate"], demo_cert_id("coop"), "{c}");
        assert!(c["certificateEntry"].is_u64() && c["entry"].is_u64());
    }
    let mill = actor_id("mill");
    let milling = of("handler_certified")
        .find(|c| {
            c["subject"] == mill.as_str()
                && c["message"].as_str().unwrap().starts_with("processing")
        })
        .expect("the mill's milling is checked");
    assert_eq!(milling["certificate"], demo_cert_id("mill"));
    let roles: Vec<String> = of("handler_certified")
        .map(|c| c["subject"].as_str().unwrap().to_owned())
        .collect();
    for who in ["collector", "mill", "exporter", "importer"] {
        assert!(
            roles.contains(&actor_id(who)),
            "{who} not checked: {roles:?}"
        );
    }
    assert_eq!(p["certificates"].as_array().unwrap().len(), 5);

    // Conventional cassava is not organic, and says why.
    let chips = provenance(&server, CASSAVA_CHIPS);
    assert_eq!(chips["organic"]["status"], "not_organic");
    assert!(
        failed(&chips)
            .iter()
            .any(|c| c["check"] == "growing_method"
                && c["message"] == "harvest declared conventional")
    );

    // The certificate resources.
    let cert = get(&server.url(&format!(
        "/v1/certificates/{}",
        enc(&demo_cert_id("collector"))
    )))
    .json();
    assert_eq!(cert["standing"]["status"], "valid", "{cert}");
    assert_eq!(cert["issuer"]["id"], actor_id("certifier"));
    assert_eq!(cert["subject"]["id"], actor_id("collector"));
    let held = get(&server.url(&format!(
        "/v1/actors/{}/certificates",
        enc(&actor_id("farm-vannak"))
    )))
    .json();
    assert_eq!(
        held["held"][0]["id"],
        demo_cert_id("coop"),
        "a member farm sees its group certificate"
    );
    let issued = get(&server.url(&format!(
        "/v1/actors/{}/certificates",
        enc(&actor_id("certifier"))
    )))
    .json();
    assert_eq!(issued["issued"].as_array().unwrap().len(), 5);

    // A lab result comes back in November: the collector's certificate is withdrawn from
    // 1 October, before it handled the paddy. The container is no longer organic.
    let before = size(&server);
    let w = submit(
        &server,
        "certifier",
        &cert_decision(
            "lotline:CertificateWithdrawal",
            "2026-11-19T09:00:00+07:00",
            &demo_cert_id("collector"),
            "2026-10-01",
            "residue test positive on stored paddy",
        ),
    );
    assert_eq!(w.status, 201, "{}", w.body);
    let withdrawal_entry = w.json()["index"].as_u64().unwrap();
    assert_eq!(size(&server), before + 1);
    let cert = get(&server.url(&format!(
        "/v1/certificates/{}",
        enc(&demo_cert_id("collector"))
    )))
    .json();
    assert_eq!(cert["standing"]["status"], "withdrawn");
    assert_eq!(cert["withdrawal"]["entry"], withdrawal_entry);
    let at_sept = get(&server.url(&format!(
        "/v1/certificates/{}?at={}",
        enc(&demo_cert_id("collector")),
        enc("2026-09-15T00:00:00+07:00")
    )))
    .json();
    assert_eq!(
        at_sept["standing"]["status"], "valid",
        "valid before the effective date"
    );

    let p = provenance(&server, CONTAINER);
    assert_eq!(p["verdict"]["verified"], true, "{}", p["verdict"]);
    assert_eq!(p["organic"]["status"], "not_organic");
    let bad = failed(&p);
    assert!(!bad.is_empty());
    for c in &bad {
        assert_eq!(c["check"], "handler_certified", "{c}");
        assert_eq!(c["subject"], actor_id("collector"));
        let m = c["message"].as_str().unwrap();
        assert!(
            m.contains("withdrawn") && m.contains(&format!("entry {withdrawal_entry}")),
            "{m}"
        );
    }

    // The bundle carries the withdrawal; verified offline, it says the same.
    let bundle = get(&server.url(&format!("/v1/lots/{}/bundle", enc(CONTAINER)))).json();
    assert_eq!(bundle["claims"]["organic"]["status"], "not_organic");
    let path = dir.path().join("bundle.json");
    std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let key = bundle["log"]["verifierKey"].as_str().unwrap();
    let out = run(&["verify", path.to_str().unwrap(), "--log-key", key, "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["claims"]["organic"]["status"], "not_organic");
    let out = run(&["verify", path.to_str().unwrap(), "--log-key", key]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("organic status (derived from the entries and certificates): not organic"),
        "{text}"
    );
    assert!(
        text.contains("[handler_certified]") && text.contains("withdrawn"),
        "{text}"
    );

    // Leaving the withdrawal out of the bundle, or claiming organic, is caught.
    let mut cut = bundle.clone();
    cut["entries"]
        .as_array_mut()
        .unwrap()
        .retain(|e| e["entry"]["index"] != withdrawal_entry);
    let out = verify_json(dir.path(), &cut, key);
    assert!(
        out.contains("claims.certificates") || out.contains("claims.organic"),
        "{out}"
    );
    // A version 1 bundle (made before certificates, claiming no organic status) still verifies.
    let mut v1 = bundle.clone();
    v1["version"] = json!(1);
    let claims = v1["claims"].as_object_mut().unwrap();
    claims.remove("certificates");
    claims.remove("organic");
    let v1_path = dir.path().join("v1.json");
    std::fs::write(&v1_path, serde_json::to_vec(&v1).unwrap()).unwrap();
    let out = run(&["verify", v1_path.to_str().unwrap(), "--log-key", key]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut claimed = bundle.clone();
    claimed["claims"]["organic"]["status"] = json!("organic");
    assert!(verify_json(dir.path(), &claimed, key).contains("claims.organic"));

    // The buyer page shows the verdict and the certificates.
    let page = get(&server.url("/00/988412340000000016")).body;
    assert!(page.contains("Not organic"), "{page}");
    assert!(page.contains("withdrawn"), "{page}");
    assert!(page.contains(&demo_cert_id("collector")));
    // As a browser renders it: the organic verdict near the top, the failed check listed.
    let dom = crate::support::browser::dump_dom(&server.url("/00/988412340000000016"));
    let organic = dom
        .find(r#"data-status="not_organic""#)
        .expect("the organic section");
    let timeline = dom.find(r#"id="journey""#).expect("the timeline");
    assert!(organic < timeline, "the verdict comes before the timeline");
    assert!(dom[organic..timeline].contains("withdrawn"));
    assert!(dom.contains(r#"id="certificates""#));
    server.stop();
}

/// Runs `lotline verify` on `bundle`; expects exit 1 and returns the problems printed.
fn verify_json(dir: &std::path::Path, bundle: &Value, key: &str) -> String {
    let path = dir.join("tampered.json");
    std::fs::write(&path, serde_json::to_vec(bundle).unwrap()).unwrap();
    let out = run(&["verify", path.to_str().unwrap(), "--log-key", key]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn certification_rules_refuse_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, registrar) = demo(dir.path());
    let registrar_key = seeded_key(&format!("{SEED} registrar"));
    assert_eq!(scenario::did(&registrar_key), registrar);
    let t = "2026-11-19T10:00:00+07:00";
    let collector_cert = demo_cert_id("collector");
    let before = size(&server);

    // A second control body may not change the first one's certificate.
    let other = crate::support::key();
    let other_id = "urn:epc:id:pgln:8841234.00052";
    server.register(other_id, &["certifier"], &other);
    let mid = size(&server);
    let suspend = cert_decision(
        "lotline:CertificateSuspension",
        t,
        &collector_cert,
        "2026-11-01",
        "audit",
    );
    let signed = di::sign(&suspend, &other, "2026-11-20T00:00:00Z").unwrap();
    post_json(&server.url("/v1/events"), &signed).assert_problem(422, "not_certificate_issuer");

    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "certifier",
            cert_decision(
                "lotline:CertificateReinstatement",
                t,
                &collector_cert,
                "2026-11-01",
                "ok",
            ),
            409,
            "not_suspended",
        ),
        (
            "certifier",
            cert_decision(
                "lotline:CertificateWithdrawal",
                t,
                "https://certifier.example/none",
                "2026-11-01",
                "x",
            ),
            422,
            "unknown_certificate",
        ),
        (
            "certifier",
            scenario::certificate(
                t,
                &collector_cert,
                "AGAIN",
                &actor_id("collector"),
                &[],
                &["handling"],
                &["rice"],
                ("2026-01-01", "2026-12-31"),
            ),
            409,
            "certificate_exists",
        ),
        (
            "certifier",
            scenario::certificate(
                t,
                "https://certifier.example/certificates/ghost",
                "GHOST",
                "urn:epc:id:pgln:8841234.99999",
                &[],
                &["handling"],
                &["rice"],
                ("2026-01-01", "2026-12-31"),
            ),
            422,
            "unknown_actor",
        ),
        (
            "mill",
            cert_decision(
                "lotline:CertificateSuspension",
                t,
                &collector_cert,
                "2026-11-01",
                "self-service",
            ),
            422,
            "missing_role",
        ),
        (
            "certifier",
            scenario::certificate(
                t,
                "https://certifier.example/certificates/backwards",
                "BACK",
                &actor_id("collector"),
                &[],
                &["handling"],
                &["rice"],
                ("2026-12-31", "2026-01-01"),
            ),
            422,
            "profile_violation",
        ),
    ];
    for (who, doc, status, code) in cases {
        submit(&server, who, &doc).assert_problem(status, code);
    }
    // certificationInfo must name an issued certificate of the acting actor.
    let mut unpack = scenario::aggregation(false, t, &scenario::sscc(2), &[]);
    unpack["certificationInfo"] = json!("https://certifier.example/certificates/none");
    submit(&server, "exporter", &unpack).assert_problem(422, "unknown_certificate");
    unpack["certificationInfo"] = json!([demo_cert_id("mill")]);
    submit(&server, "exporter", &unpack).assert_problem(422, "certificate_not_held");
    assert_eq!(size(&server), mid, "refused decisions write nothing");
    assert_eq!(mid, before + 1, "only the registration was written");

    // Suspend, then reinstate: the record keeps both, with their entries.
    let s = submit(
        &server,
        "certifier",
        &cert_decision(
            "lotline:CertificateSuspension",
            t,
            &collector_cert,
            "2026-11-01",
            "audit pending",
        ),
    );
    assert_eq!(s.status, 201, "{}", s.body);
    submit(
        &server,
        "certifier",
        &cert_decision(
            "lotline:CertificateSuspension",
            t,
            &collector_cert,
            "2026-11-02",
            "again",
        ),
    )
    .assert_problem(409, "already_suspended");
    let r = submit(
        &server,
        "certifier",
        &cert_decision(
            "lotline:CertificateReinstatement",
            t,
            &collector_cert,
            "2026-11-10",
            "audit passed",
        ),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let cert = get(&server.url(&format!(
        "/v1/certificates/{}?at={}",
        enc(&collector_cert),
        enc("2026-11-05T00:00:00Z")
    )))
    .json();
    assert_eq!(cert["standing"]["status"], "suspended", "{cert}");
    assert_eq!(cert["suspensions"][0]["reinstatedBy"], r.json()["index"]);
    get(&server.url("/v1/certificates/nope")).assert_problem(404, "not_found");
    get(&server.url(&format!(
        "/v1/certificates/{}?at=yesterday",
        enc(&collector_cert)
    )))
    .assert_problem(400, "invalid_parameter");
    server.stop();
}

/// The recall tool's "what if": withdrawing the collector's certificate from 1 October would
/// take the organic status of everything made of the paddy it handled, down to the container
/// at the importer; from December, nothing.
#[test]
fn withdrawal_impact_lists_the_lots_and_shipments_that_would_lose_organic_status() {
    let dir = tempfile::tempdir().unwrap();
    let (server, _) = demo(dir.path());
    let certifier = seeded_key(&format!("{SEED} certifier"));
    let url = |cert: &str, as_of: &str| {
        server.url(&format!(
            "/v1/audit/certificates/{}/impact?asOf={}",
            enc(cert),
            enc(as_of)
        ))
    };
    let token = crate::support::audit_token(&server, &certifier);
    let before = size(&server);
    let a = crate::support::get_bearer(&url(&demo_cert_id("collector"), "2026-10-01"), &token);
    assert_eq!(a.status, 200, "{}", a.body);
    let r = a.json();
    // The collector received the three farms' paddy and shipped it to the mill.
    let events: Vec<&str> = r["affectedEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["receiving", "receiving", "receiving", "shipping"],
        "{r:#}"
    );
    assert!(
        r["affectedEvents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor"] == actor_id("collector"))
    );
    let lots: Vec<&str> = r["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert!(lots.contains(&CONTAINER), "{lots:?}");
    assert!(lots.contains(&"urn:epc:class:lgtin:8841234.010001.PV26-F1"));
    assert!(lots.contains(&scenario::sgtin(scenario::items::HEAD_RICE_BAG_50KG, 1001).as_str()));
    assert!(!lots.contains(&CASSAVA_CHIPS));
    // 3 paddy lots, 4 milling outputs, 150 bags, 3 pallets, the container.
    assert_eq!(r["summary"]["impacted"], 161, "{:#}", r["summary"]);
    for l in r["lots"].as_array().unwrap() {
        assert!(
            l["wouldFail"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f.as_str().unwrap().contains(&actor_id("collector"))),
            "{l}"
        );
    }
    let recipients: Vec<&str> = r["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    // Everyone the impacted goods were shipped to: the farms' paddy to the collector, on to the
    // mill, the bags to the exporter, the container to the importer.
    let mut expected: Vec<String> = ["collector", "mill", "exporter", "importer"]
        .iter()
        .map(|n| actor_id(n))
        .collect();
    expected.sort();
    assert_eq!(recipients, expected);
    assert_eq!(
        r["shipments"].as_array().unwrap().len(),
        6,
        "{:#}",
        r["shipments"]
    );
    assert_eq!(size(&server), before, "a what-if writes nothing");
    // Nothing happened under it after December; the question changes nothing.
    let r = crate::support::get_bearer(
        &url(&demo_cert_id("collector"), "2026-12-01T00:00:00Z"),
        &token,
    )
    .json();
    assert_eq!(r["summary"]["impacted"], 0);
    assert_eq!(r["affectedEvents"], json!([]));
    // The real status is untouched by the question.
    assert_eq!(
        provenance(&server, CONTAINER)["organic"]["status"],
        "organic"
    );

    // Only the issuer (and registrars) may ask; parameters are checked.
    crate::support::get(&url(&demo_cert_id("collector"), "2026-10-01"))
        .assert_problem(401, "unauthenticated");
    let other = crate::support::key();
    server.register("urn:epc:id:pgln:8841234.00053", &["certifier"], &other);
    crate::support::get_bearer(
        &url(&demo_cert_id("collector"), "2026-10-01"),
        &crate::support::audit_token(&server, &other),
    )
    .assert_problem(403, "forbidden");
    let registrar = seeded_key(&format!("{SEED} registrar"));
    let r = crate::support::get_bearer(
        &url(&demo_cert_id("importer"), "2026-11-01"),
        &crate::support::audit_token(&server, &registrar),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json()["summary"]["affectedEvents"],
        1,
        "the importer's receipt: {}",
        r.body
    );
    crate::support::get_bearer(&url(&demo_cert_id("collector"), "October"), &token)
        .assert_problem(400, "invalid_parameter");
    crate::support::get_bearer(&url("https://certifier.example/none", "2026-10-01"), &token)
        .assert_problem(404, "not_found");
    server.stop();
}

/// Only the events on the way to a lot count for its organic status: the mill's uncertified
/// buyer of the paddy it did not mill does not make the mill's rice non-organic (the paddy
/// itself, which that buyer received, is not organic).
#[test]
fn events_off_a_lots_path_do_not_count_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let (certifier, farm, mill, trader) = (
        crate::support::key(),
        crate::support::key(),
        crate::support::key(),
        crate::support::key(),
    );
    let ids: Vec<String> = (61..65).map(scenario::pgln).collect();
    server.register(&ids[0], &["certifier"], &certifier);
    server.register(&ids[1], &["farm"], &farm);
    server.register(&ids[2], &["mill"], &mill);
    server.register(&ids[3], &["collector"], &trader);
    let year = ("2026-01-01", "2026-12-31");
    for (i, (who, acts)) in [
        (1, &["production"][..]),
        (2, &["handling", "processing"][..]),
    ]
    .iter()
    .enumerate()
    {
        let c = scenario::certificate(
            "2026-02-01T08:00:00+07:00",
            &format!("https://cb.example/c/{i}"),
            &format!("C-{i}"),
            &ids[*who],
            &[],
            acts,
            &["rice"],
            year,
        );
        assert_eq!(server.submit(&certifier, &c).status, 201);
    }
    let paddy = scenario::lgtin(scenario::items::PADDY, "SPLIT-1");
    let rice = scenario::lgtin(scenario::items::HEAD_RICE, "SPLIT-1");
    let t = |d: u32| format!("2026-10-{d:02}T08:00:00+07:00");
    let steps: Vec<(&ed25519_dalek::SigningKey, Value)> = vec![
        (
            &farm,
            scenario::harvest(
                None,
                &t(1),
                &paddy,
                10_000.0,
                &ids[1],
                "rice",
                None,
                scenario::plot("S-1", "Battambang", 3.0, 103.2, 13.1),
                "organic",
            ),
        ),
        (
            &farm,
            scenario::movement(
                true,
                &t(2),
                &ids[1],
                &ids[2],
                &[],
                &[scenario::kg(&paddy, 10_000.0)],
            ),
        ),
        (
            &mill,
            scenario::movement(
                false,
                &t(3),
                &ids[1],
                &ids[2],
                &[],
                &[scenario::kg(&paddy, 10_000.0)],
            ),
        ),
        (
            &mill,
            scenario::transform(
                &t(4),
                "milling",
                &[scenario::kg(&paddy, 5_000.0)],
                &[(rice.clone(), 3_000.0, Some("head-rice"))],
            ),
        ),
        (
            &mill,
            scenario::movement(
                true,
                &t(5),
                &ids[2],
                &ids[3],
                &[],
                &[scenario::kg(&paddy, 5_000.0)],
            ),
        ),
        (
            &trader,
            scenario::movement(
                false,
                &t(6),
                &ids[2],
                &ids[3],
                &[],
                &[scenario::kg(&paddy, 5_000.0)],
            ),
        ),
    ];
    for (k, doc) in steps {
        let a = server.submit(k, &doc);
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let p = provenance(&server, &rice);
    assert_eq!(p["organic"]["status"], "organic", "{:#?}", failed(&p));
    let p = provenance(&server, &paddy);
    assert_eq!(p["organic"]["status"], "not_organic");
    assert!(
        failed(&p).iter().all(|c| c["subject"] == ids[3].as_str()),
        "{:#?}",
        failed(&p)
    );
    server.stop();
}
