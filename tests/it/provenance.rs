//! Buyers verify a lot's provenance: the genealogy API, the offline bundle and `lotline verify`
//! (with a tampered copy for every kind of field), the GS1 Digital Link resolver and the QR
//! codes — against the real server with the demo scenario loaded.

use std::path::Path;

use crate::support::{Server, enc, get, post_json, run, size};
use lotline_scenario::{self as scenario, items, sgtin};
use serde_json::{Value, json};

/// The demo's container shipped to Rotterdam, one bag in it, and the paddy lot whose harvest
/// is flagged (more than its plot can yield).
const CONTAINER: &str = "urn:epc:id:sscc:8841234.9000000001";
const FLAGGED_PADDY: &str = "urn:epc:class:lgtin:8841234.010001.PV26-F3";

struct Demo {
    server: Server,
    registrar: String,
    dir: tempfile::TempDir,
}

fn demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let (registrar, steps) =
        lotline::cli::actor::signed_demo("provenance test", "2026-11-20T00:00:00Z").unwrap();
    let server = Server::start_with(&dir.path().join("data"), &["--registrar", &registrar]);
    for (doc, expect) in &steps {
        let a = post_json(&server.url("/v1/events"), doc);
        if expect.is_none() {
            assert_eq!(a.status, 201, "{}", a.body);
        }
    }
    // Bundles carry the latest checkpoint; wait (the proof endpoint blocks until one covers the
    // entry) until it covers the whole demo, so two requests see the same one.
    let last = size(&server) - 1;
    let proof = get(&server.url(&format!("/v1/entries/{last}/proof")));
    assert_eq!(proof.status, 200, "{}", proof.body);
    Demo {
        server,
        registrar,
        dir,
    }
}

fn bag() -> String {
    sgtin(items::HEAD_RICE_BAG_50KG, 1001)
}

fn get_with(url: &str, accept: &str) -> (u16, String, Vec<u8>) {
    let r = match ureq::get(url).set("Accept", accept).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let status = r.status();
    let ct = r.content_type().to_owned();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut r.into_reader(), &mut body).unwrap();
    (status, ct, body)
}

#[test]
fn provenance_of_a_bag_reaches_the_farms_through_its_pallet_and_container() {
    let d = demo();
    let p = get(&d.server.url(&format!("/v1/lots/{}/provenance", bag()))).json();
    assert_eq!(p["verdict"]["verified"], true, "{}", p["verdict"]);
    assert_eq!(p["subject"]["product"], "head-rice");
    assert_eq!(p["subject"]["growingMethod"], "organic");
    assert!(
        p["subject"]["digitalLink"]
            .as_str()
            .unwrap()
            .ends_with("/01/08841234300014/21/1001"),
        "{}",
        p["subject"]
    );

    // Origin: the three Preah Vihear farms, with plots and coordinates.
    let farms = p["origin"]["farms"].as_array().unwrap();
    assert_eq!(farms.len(), 3, "{farms:?}");
    assert!(farms.iter().all(|f| f["province"] == "Preah Vihear"));
    let plots = p["origin"]["plots"].as_array().unwrap();
    assert_eq!(plots.len(), 3);
    for pl in plots {
        assert_eq!(pl["geo"]["type"], "Point");
        assert_eq!(pl["growingMethod"], "organic");
        assert!(pl["harvestStart"].is_string() && pl["index"].is_u64());
    }

    // The timeline runs from the first harvest to the importer's receipt, every event signed
    // and authorised; the bag's pallet and container are carriers, not inputs.
    let tl = p["timeline"].as_array().unwrap();
    assert_eq!(tl.first().unwrap()["kind"], "harvest");
    assert_eq!(tl.last().unwrap()["kind"], "receiving");
    assert_eq!(tl.last().unwrap()["role"], "importer");
    assert!(
        tl.iter()
            .all(|t| t["signature"] == "valid" && t["authorised"] == true)
    );
    let kinds: Vec<&str> = tl.iter().map(|t| t["kind"].as_str().unwrap()).collect();
    for k in ["shipping", "milling", "bagging", "packing", "transaction"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let carriers: Vec<&str> = p["lots"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["carrier"] == true)
        .map(|l| l["id"].as_str().unwrap())
        .collect();
    assert!(carriers.contains(&CONTAINER), "{carriers:?}");
    assert_eq!(carriers.len(), 2, "the bag's pallet and the container");
    let roles: Vec<&str> = p["custody"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["role"].as_str().unwrap())
        .collect();
    for r in ["farm", "collector", "mill", "exporter", "importer"] {
        assert!(roles.contains(&r), "{r} missing from custody {roles:?}");
    }

    // One checkpoint; a proof for every entry against it.
    let size = p["checkpoint"]["size"].as_u64().unwrap();
    assert!(size > tl.last().unwrap()["index"].as_u64().unwrap());
    let proved: Vec<u64> = p["proofs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["index"].as_u64().unwrap())
        .collect();
    assert!(
        tl.iter()
            .all(|t| proved.contains(&t["index"].as_u64().unwrap()))
    );

    // The flagged harvest is upstream of the bag.
    let flags = p["flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0]["code"], "harvest_exceeds_yield");

    // The same lot named as an SGTIN, by its RFID tag URI, or as a Digital Link URI.
    let by_dl = get(&d.server.url(&format!(
        "/v1/lots/{}/provenance",
        enc("https://id.example.org/01/08841234300014/21/1001")
    )))
    .json();
    assert_eq!(by_dl["timeline"], p["timeline"]);
    // A lot class (LGTIN) and an SSCC.
    let paddy = get(&d
        .server
        .url(&format!("/v1/lots/{FLAGGED_PADDY}/provenance")))
    .json();
    assert_eq!(paddy["origin"]["farms"].as_array().unwrap().len(), 1);
    assert_eq!(paddy["subject"]["product"], "paddy");
    let container = get(&d.server.url(&format!("/v1/lots/{CONTAINER}/provenance"))).json();
    assert_eq!(container["subject"]["class"], "unit");
    assert_eq!(container["subject"]["product"], "head-rice");
    assert_eq!(container["subject"]["growingMethod"], "organic");
    assert_eq!(container["origin"]["farms"].as_array().unwrap().len(), 3);
}

#[test]
fn unknown_and_malformed_lots_are_clear_errors() {
    let d = demo();
    let missing = sgtin(items::HEAD_RICE_BAG_50KG, 999_999);
    get(&d.server.url(&format!("/v1/lots/{missing}/provenance"))).assert_problem(404, "not_found");
    get(&d.server.url(&format!("/v1/lots/{missing}/bundle"))).assert_problem(404, "not_found");
    get(&d.server.url(&format!("/v1/lots/{missing}/qr.svg"))).assert_problem(404, "not_found");
    get(&d.server.url("/v1/lots/not-an-epc/provenance")).assert_problem(400, "invalid_parameter");
    get(&d.server.url(&format!("/v1/lots/{}/qr.png?px=0", bag())))
        .assert_problem(400, "invalid_parameter");
    get(&d.server.url(&format!("/v1/lots/{}/qr.png?size=3", bag())))
        .assert_problem(400, "invalid_parameter");

    // The resolver: a 404 page for browsers, a problem for JSON clients.
    let (status, ct, body) = get_with(
        &d.server.url("/01/08841234300014/21/999999"),
        "text/html,application/xhtml+xml",
    );
    assert_eq!(status, 404);
    assert!(ct.starts_with("text/html"), "{ct}");
    let body = String::from_utf8(body).unwrap();
    assert!(body.contains("/01/08841234300014/21/999999"), "{body}");
    let (status, ct, _) = get_with(
        &d.server.url("/01/08841234300014/21/999999"),
        "application/json",
    );
    assert_eq!((status, ct.as_str()), (404, "application/problem+json"));
    // A wrong check digit is not a GTIN.
    let (status, _, _) = get_with(
        &d.server.url("/01/08841234300015/21/1001"),
        "application/json",
    );
    assert_eq!(status, 400);
    // Nothing was written by any of this.
    assert_eq!(
        crate::support::size(&d.server),
        get(&d.server.url("/v1/log")).json()["size"]
            .as_u64()
            .unwrap()
    );
}

#[test]
fn digital_link_resolves_to_the_page_or_the_json() {
    let d = demo();
    let path = "/01/08841234300014/21/1001";
    let (status, ct, body) = get_with(&d.server.url(path), "text/html");
    assert_eq!(status, 200);
    assert!(ct.starts_with("text/html"), "{ct}");
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("Farm of Sok Chea")
    );
    for (url, accept) in [
        (d.server.url(path), "application/json"),
        (
            d.server.url(&format!("{path}?linkType=gs1:traceability")),
            "text/html",
        ),
    ] {
        let (status, ct, body) = get_with(&url, accept);
        assert_eq!((status, ct.as_str()), (200, "application/json"), "{url}");
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["subject"]["key"], path);
        assert_eq!(v["verdict"]["verified"], true);
    }
    // A lot class and an SSCC resolve too.
    for p in ["/01/08841234100010/10/PV26-F3", "/00/988412340000000016"] {
        let (status, _, body) = get_with(&d.server.url(p), "application/json");
        assert_eq!(status, 200, "{p}: {}", String::from_utf8_lossy(&body));
    }
}

#[test]
fn qr_codes_carry_the_digital_link_url() {
    let d = demo();
    let (status, ct, svg) = get_with(&d.server.url(&format!("/v1/lots/{}/qr.svg", bag())), "*/*");
    assert_eq!((status, ct.as_str()), (200, "image/svg+xml"));
    assert!(String::from_utf8(svg).unwrap().starts_with("<svg"));
    let (status, ct, png) = get_with(
        &d.server.url(&format!("/v1/lots/{}/qr.png?px=4", bag())),
        "*/*",
    );
    assert_eq!((status, ct.as_str()), (200, "image/png"));
    // Read the code back as a phone would.
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (info.width as usize, info.height as usize);
    let line = info.line_size;
    let bits = info.bit_depth as usize;
    let pixel = |x: usize, y: usize| -> u8 {
        let byte = buf[y * line + x * bits / 8];
        let shift = 8 - bits - (x * bits % 8);
        let v = (byte >> shift) & ((1u16 << bits) - 1) as u8;
        if v == 0 { 0 } else { 255 }
    };
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, pixel);
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, text) = grids[0].decode().unwrap();
    assert_eq!(text, d.server.url("/01/08841234300014/21/1001"));
}

fn vkey(server: &Server) -> String {
    server.vkey.clone()
}

/// Runs `lotline verify` on `bundle` written to a file; (exit code, stdout).
fn verify(dir: &Path, name: &str, bundle: &Value, extra: &[&str], key: &str) -> (i32, String) {
    let file = dir.join(name);
    std::fs::write(&file, serde_json::to_vec(bundle).unwrap()).unwrap();
    let mut args = vec!["verify", "--log-key", key];
    args.extend_from_slice(extra);
    let f = file.to_str().unwrap().to_owned();
    args.push(&f);
    let out = run(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The entry index of the first event of `kind` in a timeline.
fn first_of_kind(timeline: &Value, kind: &str) -> u64 {
    timeline
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == kind)
        .unwrap()["index"]
        .as_u64()
        .unwrap()
}

fn entry_pos(bundle: &Value, pred: impl Fn(&Value) -> bool) -> usize {
    bundle["entries"]
        .as_array()
        .unwrap()
        .iter()
        .position(|e| pred(&e["entry"]))
        .expect("entry in the bundle")
}

#[test]
fn the_bundle_verifies_offline_and_every_kind_of_tampering_is_caught() {
    let d = demo();
    let url = d.server.url(&format!("/v1/lots/{CONTAINER}/bundle"));
    let (status, ct, bytes) = get_with(&url, "*/*");
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    // Deterministic: asked again, the same bytes.
    assert_eq!(get_with(&url, "*/*").2, bytes);
    let bundle: Value = serde_json::from_slice(&bytes).unwrap();

    // It is what its schema says.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/provenance-bundle.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&bundle)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(bundle["version"], 2);

    let dir = d.dir.path();
    let key = vkey(&d.server);
    let (code, out) = verify(dir, "good.json", &bundle, &[], &key);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("VERIFIED"), "{out}");
    assert!(
        out.contains("Farm of Srey Mom") && out.contains("harvest_exceeds_yield"),
        "{out}"
    );
    // With the key from a file, and with the registrar pinned.
    let key_file = dir.join("log.vkey");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let out = run(&[
        "verify",
        "--log-key-file",
        key_file.to_str().unwrap(),
        "--registrar",
        &d.registrar,
        dir.join("good.json").to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let mill_index = first_of_kind(&bundle["claims"]["timeline"], "milling");
    let milling = entry_pos(&bundle, |e| e["index"] == mill_index);
    let mill = bundle["actors"]
        .as_array()
        .unwrap()
        .iter()
        .position(|a| a["name"] == "Battambang Golden Rice Mill")
        .unwrap();
    let mill_registration = bundle["actors"][mill]["registeredAt"].as_u64().unwrap();

    type Tamper = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Tamper, String)> = vec![
        (
            "event content",
            Box::new(move |b: &mut Value| {
                let q = &mut b["entries"][milling]["entry"]["event"]["outputQuantityList"][0]["quantity"];
                *q = json!(q.as_f64().unwrap() + 100.0);
            }),
            format!("entry {mill_index} [signature]"),
        ),
        (
            "signature",
            Box::new(move |b: &mut Value| {
                let pv = &mut b["entries"][milling]["entry"]["event"]["proof"]["proofValue"];
                let s = pv.as_str().unwrap();
                let flipped = if s.ends_with('A') { 'B' } else { 'A' };
                *pv = json!(format!("{}{flipped}", &s[..s.len() - 1]));
            }),
            format!("entry {mill_index} [signature]"),
        ),
        (
            "proof hash",
            Box::new(move |b: &mut Value| {
                b["entries"][milling]["inclusionProof"][0] =
                    json!("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
            }),
            format!("entry {mill_index} [inclusion_proof]"),
        ),
        (
            "checkpoint",
            Box::new(|b: &mut Value| {
                let note = b["checkpoint"].as_str().unwrap().to_owned();
                let mut lines: Vec<String> = note.split('\n').map(str::to_owned).collect();
                let size: u64 = lines[1].parse().unwrap();
                lines[1] = (size + 1).to_string();
                b["checkpoint"] = json!(lines.join("\n"));
            }),
            "checkpoint [checkpoint]".into(),
        ),
        (
            "a key",
            Box::new(move |b: &mut Value| {
                let other = scenario::did(&scenario::seeded_key("someone else"));
                b["actors"][mill]["keys"][0]["key"] = json!(other);
            }),
            "[actor_record]".into(),
        ),
        (
            "a role grant",
            Box::new(move |b: &mut Value| {
                b["actors"][mill]["roles"][0]["fromMs"] = json!(0);
            }),
            "[actor_record]".into(),
        ),
        (
            "a removed goods entry",
            Box::new(move |b: &mut Value| {
                b["entries"].as_array_mut().unwrap().remove(milling);
            }),
            "claims.lots [claims]".into(),
        ),
        (
            "a removed registrar entry",
            Box::new(move |b: &mut Value| {
                let pos = entry_pos(b, |e| e["index"] == mill_registration);
                b["entries"].as_array_mut().unwrap().remove(pos);
            }),
            format!("entry {mill_index} [unauthorised]"),
        ),
        (
            "a removed harvest",
            Box::new(move |b: &mut Value| {
                // Whatever the claims say, the signed milling names the harvested lot as an
                // input, so a history without its creation is incomplete.
                let harvest = b["claims"]["plots"][0]["index"].as_u64().unwrap();
                let pos = entry_pos(b, |e| e["index"] == harvest);
                b["entries"].as_array_mut().unwrap().remove(pos);
            }),
            "[incomplete_history]".into(),
        ),
        (
            "looser plausibility bounds, which would silence a flag",
            Box::new(|b: &mut Value| {
                b["bounds"]["rice_max_t_per_ha"] = json!(100.0);
            }),
            "bounds [bounds]".into(),
        ),
        (
            "a claim",
            Box::new(|b: &mut Value| {
                b["claims"]["plots"][0]["growingMethod"] = json!("organic-certified");
            }),
            "claims.plots [claims]".into(),
        ),
        (
            "a quality finding",
            Box::new(|b: &mut Value| {
                b["claims"]["quality"][0]["findings"][0] = json!("moisture 12 %");
            }),
            "claims.quality [claims]".into(),
        ),
        (
            "a fumigation record left out of the claims",
            Box::new(|b: &mut Value| {
                b["claims"]["quality"].as_array_mut().unwrap().pop();
            }),
            "claims.quality [claims]".into(),
        ),
    ];
    for (what, tamper, reason) in cases {
        let mut b = bundle.clone();
        tamper(&mut b);
        let (code, out) = verify(dir, "tampered.json", &b, &[], &key);
        assert_eq!(code, 1, "{what}: {out}");
        assert!(out.starts_with("NOT VERIFIED"), "{what}: {out}");
        assert!(
            out.contains(&reason),
            "{what}: expected {reason:?} in\n{out}"
        );
    }

    // A ledger configured with other bounds: its bundle verifies for a buyer who uses those
    // bounds too (`--bounds`), and flags are recomputed with them.
    let mut loose = bundle.clone();
    loose["bounds"]["rice_max_t_per_ha"] = json!(100.0);
    loose["claims"]["flags"] = json!([]);
    let bounds_file = dir.join("loose-bounds.json");
    std::fs::write(&bounds_file, serde_json::to_vec(&loose["bounds"]).unwrap()).unwrap();
    let (code, out) = verify(dir, "loose.json", &loose, &[], &key);
    assert_eq!(code, 1, "{out}");
    let (code, out) = verify(
        dir,
        "loose.json",
        &loose,
        &["--bounds", bounds_file.to_str().unwrap()],
        &key,
    );
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("harvest_exceeds_yield"), "{out}");

    // Another log's key, and a registrar the buyer does not trust.
    let other =
        tlog::note::NoteSigner::new("elsewhere.example/log", scenario::seeded_key("another log"))
            .unwrap()
            .verifier_key()
            .to_string();
    let (code, out) = verify(dir, "good.json", &bundle, &[], &other);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("checkpoint [checkpoint]"), "{out}");
    let stranger = scenario::did(&scenario::seeded_key("not a registrar"));
    let (code, out) = verify(dir, "good.json", &bundle, &["--registrar", &stranger], &key);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("[registrar]"), "{out}");

    // Usage and I/O errors are 2.
    let missing = dir.join("missing.json");
    let out = run(&["verify", "--log-key", &key, missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["verify", dir.join("good.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "no key given");
    std::fs::write(dir.join("junk.json"), b"not json").unwrap();
    let out = run(&[
        "verify",
        "--log-key",
        &key,
        dir.join("junk.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[
        "verify",
        "--log-key",
        "nonsense",
        dir.join("good.json").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// Where a screenshot goes: `LOTLINE_SCREENSHOTS` if set (to keep it), else the test's dir.
fn shot(tmp: &Path, name: &str) -> std::path::PathBuf {
    match std::env::var_os("LOTLINE_SCREENSHOTS") {
        Some(dir) => {
            std::fs::create_dir_all(&dir).unwrap();
            std::path::PathBuf::from(dir).join(name)
        }
        None => tmp.join(name),
    }
}

#[test]
fn the_buyer_page_of_a_demo_lot_in_chromium() {
    use crate::support::browser::{dump_dom, screenshot};
    let d = demo();
    let page = d.server.url("/01/08841234300014/21/1001");
    let p = get(&d.server.url(&format!("/v1/lots/{}/provenance", bag()))).json();

    let dom = dump_dom(&page);
    // The verdict first, then the timeline: one item per event, harvest to import.
    let verdict = dom.find(r#"id="verdict""#).expect("a verdict");
    assert!(dom[verdict..].contains(r#"data-verified="true""#), "{dom}");
    let timeline = dom.find(r#"<ol id="timeline">"#).expect("a timeline");
    assert!(verdict < timeline);
    assert_eq!(
        dom.matches(r#"<li class="event""#).count(),
        p["timeline"].as_array().unwrap().len()
    );
    for text in [
        "Farm of Sok Chea",
        "Preah Vihear",
        "Battambang Golden Rice Mill",
        "Rotterdam Rice Import B.V.",
    ] {
        assert!(dom.contains(text), "{text} missing");
    }
    // The bag's paddy includes a harvest heavier than its plot yields: the warning shows.
    assert_eq!(dom.matches(r#"<div class="flag""#).count(), 1, "{dom}");
    assert!(dom.contains("6.000 t harvested from 1.2 ha"));
    assert!(dom.contains(&format!("/v1/lots/{}/bundle", bag())));
    // Quality and storage, before the timeline: the mill's moisture check of each paddy lot
    // and the container's fumigation, each as the events recorded them.
    let quality = dom
        .find(r#"<section id="quality">"#)
        .expect("a quality section");
    assert!(quality < timeline);
    assert_eq!(
        dom.matches(r#"class="card quality""#).count(),
        p["quality"].as_array().unwrap().len()
    );
    assert_eq!(
        p["quality"].as_array().unwrap().len(),
        4,
        "{}",
        p["quality"]
    );
    for text in [
        "moisture 13.6 %",
        "moisture 14 %",
        "phosphine concentration 210–420 ppm (mean 305) over 44 h",
        "temperature 26.5–33 °C",
        "urn:epc:id:sgln:8841234.00031.0",
    ] {
        assert!(dom.contains(text), "{text} missing");
    }
    let out = shot(d.dir.path(), "demo-bag.png");
    screenshot(&page, &out, 390, 844);
    assert!(std::fs::read(&out).unwrap().starts_with(b"\x89PNG"));

    // A lot from the other farms has no warning.
    let clean = dump_dom(&d.server.url("/01/08841234100010/10/PV26-F1"));
    assert_eq!(clean.matches(r#"<div class="flag""#).count(), 0);
    assert!(clean.contains("No plausibility flags"));

    // Damage one stored entry below lotline: the same page now says Not verified, and why.
    let data = d.dir.path().join("data");
    let milling = first_of_kind(&p["timeline"], "milling");
    let registrar = d.registrar.clone();
    d.server.stop();
    let at = {
        let path = data.join("db");
        let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, cfs).unwrap();
        let bytes = db
            .get_cf(db.cf_handle("entries").unwrap(), milling.to_be_bytes())
            .unwrap()
            .unwrap();
        let needle = br#""eventTime":"2026"#;
        bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
            + needle.len()
            - 1
    };
    // '6' becomes '7': still JSON, still a date, no longer what the mill signed.
    crate::support::tamper_entry(&data, milling, at);
    let server = Server::start_with(&data, &["--registrar", &registrar]);
    let dom = dump_dom(&server.url("/01/08841234300014/21/1001"));
    assert!(dom.contains(r#"data-verified="false""#), "{dom}");
    assert!(dom.contains(&format!("entry {milling}")), "{dom}");
    screenshot(
        &server.url("/01/08841234300014/21/1001"),
        &shot(d.dir.path(), "demo-bag-damaged.png"),
        390,
        844,
    );
}
