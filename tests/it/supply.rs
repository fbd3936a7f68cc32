//! Supply-chain semantics against the real server: the demo scenario end to end, every rule's
//! refusal (with nothing written), the race for one balance, corrections, key and role history,
//! the queries and the RFID decoding service.

use crate::support::*;
use ed25519_dalek::SigningKey;
use lotline_scenario::{self as scenario, items, kg, lgtin, sgtin, sscc};
use serde_json::{Value, json};

const T: &str = "2026-06-02T08:00:00+07:00";

fn lot_state(server: &Server, id: &str) -> Value {
    let a = get(&server.url(&format!("/v1/lots/{}", enc(id))));
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

fn accepted(a: &Answer) -> Value {
    assert!(a.status == 201 || a.status == 200, "{}", a.body);
    a.json()
}

/// A second trading actor with its key.
fn trader(server: &Server, party: u32) -> (String, SigningKey) {
    let id = scenario::pgln(party);
    let key = crate::support::key();
    server.register(&id, TRADER_ROLES, &key);
    (id, key)
}

fn ship(from: &str, to: &str, lot: &str, kg_: f64) -> Value {
    scenario::movement(true, T, from, to, &[], &[kg(lot, kg_)])
}

fn receive(from: &str, to: &str, lot: &str, kg_: f64) -> Value {
    scenario::movement(false, T, from, to, &[], &[kg(lot, kg_)])
}

#[test]
fn demo_scenario_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let (registrar, steps) =
        lotline::cli::actor::signed_demo("test demo", "2026-11-20T00:00:00Z").unwrap();
    let server = Server::start_with(&dir.path().join("data"), &["--registrar", &registrar]);
    for (i, (doc, expect)) in steps.iter().enumerate() {
        let before = size(&server);
        let a = post_json(&server.url("/v1/events"), doc);
        match expect {
            Some(code) => {
                let p = a.json();
                assert_eq!(p["code"], *code, "step {}: {}", i + 1, a.body);
                assert_eq!(size(&server), before, "a refused step wrote something");
            }
            None => assert_eq!(a.status, 201, "step {}: {}", i + 1, a.body),
        }
    }

    // The container arrived in Rotterdam: held by the importer, 150 bags of 50 kg inside, its
    // origin the three Preah Vihear farms, organic all the way.
    let container = lot_state(&server, &sscc(9_000_000_001));
    assert_eq!(container["custodian"], "urn:epc:id:pgln:8712345.00001");
    assert_eq!(container["contentMass"]["quantity"], 7500.0);
    assert_eq!(container["children"].as_array().unwrap().len(), 3);
    assert_eq!(container["growingMethod"], "organic");
    assert_eq!(container["product"], "head-rice");
    let farms: Vec<&str> = container["originFarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    assert_eq!(farms.len(), 3, "{farms:?}");
    assert!(
        container["origins"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["plot"]["province"] == "Preah Vihear")
    );
    assert_eq!(container["documents"].as_array().unwrap().len(), 2);

    // A bag: it moved with its pallet and container.
    let bag = sgtin(items::HEAD_RICE_BAG_50KG, 1001);
    let b = lot_state(&server, &bag);
    assert_eq!(b["custodian"], "urn:epc:id:pgln:8712345.00001");
    assert!(
        b["parent"]
            .as_str()
            .unwrap()
            .starts_with("/00/0884123400000000"),
        "{b}"
    );
    assert_eq!(b["created"]["quantity"], 50.0);
    let kinds: Vec<&str> = b["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    // The first pallet's bags were packed from raw RFID reads; they are indexed all the same.
    assert_eq!(kinds, ["bagging", "shipping", "receiving", "packing"]);
    let by_epc = get(&server.url(&format!("/v1/epcs/{}/events", enc(&bag)))).json();
    assert_eq!(
        by_epc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // Flags: the third farm's harvest is more than its plot yields; the milling is plausible.
    let f3 = lot_state(&server, &lgtin(items::PADDY, "PV26-F3"));
    assert_eq!(f3["flags"][0]["code"], "harvest_exceeds_yield", "{f3}");
    assert_eq!(f3["consumed"]["quantity"], 6000.0);
    let head = lot_state(&server, &lgtin(items::HEAD_RICE, "BB26-1020"));
    assert_eq!(head["flags"], json!([]));
    assert_eq!(head["onHand"]["quantity"], 150.0);
    assert_eq!(head["held"][0]["actor"], scenario::pgln(31));
    let chips = lot_state(&server, &lgtin(items::CASSAVA_CHIPS, "KC26-C1"));
    assert_eq!(chips["product"], "cassava-chips");
    assert_eq!(chips["growingMethod"], "conventional");

    // The EPCIS query: shipping events, one page at a time.
    let mut seen = 0;
    let mut url = server.url("/v1/events?EQ_bizStep=shipping&perPage=2");
    loop {
        let resp = ureq::get(&url).call().unwrap();
        let link = resp.header("link").map(str::to_owned);
        let v: Value = resp.into_json().unwrap();
        let page = v["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .clone();
        assert!(page.len() <= 2);
        assert!(page.iter().all(|e| e["bizStep"] == "shipping"));
        seen += page.len();
        match link {
            Some(l) => {
                let path = l
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_owned();
                url = server.url(&path);
            }
            None => break,
        }
    }
    assert_eq!(
        seen, 7,
        "3 farms, the collector, the mill, the exporter and the cassava farm ship"
    );
    // Time window: only October's shipments.
    let oct = get(&server.url(
        "/v1/events?EQ_bizStep=shipping&GE_eventTime=2026-10-01T00:00:00Z&LT_eventTime=2026-11-01T00:00:00Z",
    ))
    .json();
    assert_eq!(oct["lotline:entries"].as_array().unwrap().len(), 6, "{oct}");
    let mill_events = get(&server.url(&format!(
        "/v1/events?EQ_actor={}&EQ_bizStep=lotline:milling",
        enc(&scenario::pgln(31))
    )))
    .json();
    assert_eq!(mill_events["lotline:entries"].as_array().unwrap().len(), 1);

    let actor = get(&server.url(&format!("/v1/actors/{}", scenario::pgln(31)))).json();
    assert_eq!(actor["name"], "Battambang Golden Rice Mill");
    assert_eq!(actor["province"], "Battambang");

    // Bad query parameters are named.
    get(&server.url("/v1/events?perPage=0")).assert_problem(400, "invalid_parameter");
    get(&server.url("/v1/events?GE_eventTime=yesterday")).assert_problem(400, "invalid_parameter");
    get(&server.url("/v1/events?nextPageToken=abc")).assert_problem(400, "invalid_parameter");
    get(&server.url("/v1/events?EQ_color=red")).assert_problem(400, "invalid_parameter");
    get(&server.url("/v1/lots/not-an-epc")).assert_problem(400, "invalid_parameter");
    get(&server.url(&format!("/v1/lots/{}", lgtin(items::PADDY, "NOPE"))))
        .assert_problem(404, "not_found");

    // Everything is consistent after a restart, and fsck is clean.
    let n = size(&server);
    server.stop();
    let out = run(&["fsck", "--data", dir.path().join("data").to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let server = Server::start_with(&dir.path().join("data"), &["--registrar", &registrar]);
    assert_eq!(size(&server), n);
    let container = lot_state(&server, &sscc(9_000_000_001));
    assert_eq!(container["custodian"], "urn:epc:id:pgln:8712345.00001");
}

#[test]
fn every_rule_refuses_with_its_code_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let farm = server.farm.clone();
    let (mill, mill_key) = trader(&server, 31);
    let lab_key = crate::support::key();
    server.register(&scenario::pgln(41), &["lab"], &lab_key);
    let lot = fresh_lot();
    accepted(&server.submit(&farm, &harvest(&lot, 1000.0)));

    let refuse = |key: &SigningKey, doc: Value, status: u16, code: &str| {
        let before = size(&server);
        let p = server.submit(key, &doc).assert_problem(status, code);
        assert_eq!(size(&server), before, "{code} wrote something");
        p
    };
    // Unknown actor: a key nobody registered.
    refuse(
        &crate::support::key(),
        harvest(&fresh_lot(), 10.0),
        422,
        "unknown_actor",
    );
    // The key was not valid yet at the eventTime (actors are registered on 2026-01-01).
    let mut early = harvest(&fresh_lot(), 10.0);
    early["eventTime"] = json!("2025-12-01T08:00:00+07:00");
    refuse(&farm, early, 422, "key_not_valid");
    // Missing role: a lab does not harvest.
    let mut lab_harvest = harvest(&fresh_lot(), 10.0);
    lab_harvest["ilmd"]["lotline:farm"] = json!(scenario::pgln(41));
    refuse(&lab_key, lab_harvest, 422, "missing_role");
    // Unknown lot.
    refuse(
        &farm,
        ship(FARM, &mill, &fresh_lot(), 1.0),
        422,
        "unknown_lot",
    );
    // Commissioned twice.
    refuse(&farm, harvest(&lot, 5.0), 409, "already_commissioned");
    // Not the custodian: the mill ships the farm's lot.
    refuse(
        &mill_key,
        ship(&mill, FARM, &lot, 1.0),
        409,
        "not_custodian",
    );
    // The signer must be the shipping party.
    refuse(
        &mill_key,
        ship(FARM, &mill, &lot, 1.0),
        422,
        "actor_mismatch",
    );
    // Receiving without a matching shipping.
    refuse(
        &mill_key,
        receive(FARM, &mill, &lot, 1.0),
        409,
        "no_matching_shipping",
    );
    // Balance below zero.
    refuse(
        &farm,
        ship(FARM, &mill, &lot, 1000.5),
        409,
        "insufficient_balance",
    );
    // Units: tonnes convert, litres are not a mass.
    let mut litres = ship(FARM, &mill, &lot, 1.0);
    litres["quantityList"][0]["uom"] = json!("LTR");
    let p = refuse(&farm, litres, 422, "unknown_unit");
    assert_eq!(p["pointer"], "/quantityList/0/uom");
    let mut tonnes = ship(FARM, &mill, &lot, 0.4);
    tonnes["quantityList"][0]["uom"] = json!("TNE");
    accepted(&server.submit(&farm, &tonnes));
    // Receiving more than was shipped.
    refuse(
        &mill_key,
        receive(FARM, &mill, &lot, 401.0),
        409,
        "no_matching_shipping",
    );
    accepted(&server.submit(&mill_key, &receive(FARM, &mill, &lot, 400.0)));
    // Outputs outweighing inputs.
    let milling = |out_kg: f64| {
        scenario::transform(
            T,
            "milling",
            &[kg(&lot, 400.0)],
            &[(fresh_lot(), out_kg, Some("head-rice"))],
        )
    };
    refuse(&mill_key, milling(400.5), 422, "outputs_exceed_inputs");
    // The future: more than the allowed clock skew ahead.
    let mut future = harvest(&fresh_lot(), 10.0);
    future["eventTime"] = json!("2099-01-01T00:00:00+07:00");
    refuse(&farm, future, 422, "event_time_in_future");
    // A registrar document signed by an actor.
    let reg = scenario::registrar_doc("lotline:RoleGrant", T, FARM, ("role", "mill"), None);
    refuse(&farm, reg, 422, "not_registrar");
    // Outside the profile: the rule is named.
    let mut observe = harvest(&fresh_lot(), 10.0);
    observe["action"] = json!("OBSERVE");
    let p = refuse(&farm, observe, 422, "profile_violation");
    assert_eq!(p["rule"], "kind.object-event");

    // Packing: bags into a pallet, then the same bag into another pallet.
    let bags: Vec<String> = (1..=4)
        .map(|s| sgtin(items::HEAD_RICE_BAG_50KG, s))
        .collect();
    let head = fresh_lot();
    accepted(&server.submit(
        &mill_key,
        &scenario::transform(
            T,
            "milling",
            &[kg(&lot, 400.0)],
            &[(head.clone(), 260.0, Some("head-rice"))],
        ),
    ));
    accepted(&server.submit(
        &mill_key,
        &scenario::bagging(T, kg(&head, 200.0), &bags, 50.0),
    ));
    // The bags already exist.
    refuse(
        &mill_key,
        scenario::bagging(T, kg(&head, 50.0), &bags[..1], 50.0),
        409,
        "already_commissioned",
    );
    accepted(&server.submit(
        &mill_key,
        &scenario::aggregation(true, T, &sscc(1), &bags[..2]),
    ));
    refuse(
        &mill_key,
        scenario::aggregation(true, T, &sscc(2), &bags[1..3]),
        409,
        "already_packed",
    );
    // A packed bag does not travel alone.
    refuse(
        &mill_key,
        scenario::movement(true, T, &mill, FARM, &bags[..1], &[]),
        409,
        "already_packed",
    );
    refuse(
        &mill_key,
        scenario::aggregation(false, T, &sscc(1), &bags[2..3]),
        409,
        "not_packed",
    );
    // Unpacking releases it.
    accepted(&server.submit(
        &mill_key,
        &scenario::aggregation(false, T, &sscc(1), &bags[..1]),
    ));
    accepted(&server.submit(
        &mill_key,
        &scenario::aggregation(true, T, &sscc(2), &bags[..1]),
    ));
    let pallet = lot_state(&server, &sscc(2));
    assert_eq!(pallet["contentMass"]["quantity"], 50.0);
    assert_eq!(
        lot_state(&server, &sscc(1))["contentMass"]["quantity"],
        50.0
    );
}

#[test]
fn two_submissions_racing_for_one_balance_exactly_one_wins() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let (a, _) = trader(&server, 31);
    let (b, _) = trader(&server, 32);
    for round in 0..20 {
        let lot = fresh_lot();
        accepted(&server.submit(&server.farm, &harvest(&lot, 1000.0)));
        let docs = [ship(FARM, &a, &lot, 700.0), ship(FARM, &b, &lot, 700.0)];
        let signed: Vec<Value> = docs.iter().map(|d| sign(&server.farm, d)).collect();
        let url = server.url("/v1/events");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = signed
            .into_iter()
            .map(|doc| {
                let (url, barrier) = (url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    post_json(&url, &doc)
                })
            })
            .collect();
        let answers: Vec<Answer> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
        statuses.sort();
        assert_eq!(statuses, [201, 409], "round {round}");
        let loser = answers.iter().find(|a| a.status == 409).unwrap();
        loser.assert_problem(409, "insufficient_balance");
        let state = lot_state(&server, &lot);
        assert_eq!(state["onHand"]["quantity"], 300.0, "round {round}");
        assert_eq!(state["inTransit"].as_array().unwrap().len(), 1);
    }
}

#[test]
fn error_declarations_reverse_events_in_reverse_order() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let farm = server.farm.clone();
    let (mill, mill_key) = trader(&server, 31);
    let lot = fresh_lot();
    let harvest_doc = harvest(&lot, 800.0);
    accepted(&server.submit(&farm, &harvest_doc));
    let ship_doc = ship(FARM, &mill, &lot, 800.0);
    accepted(&server.submit(&farm, &ship_doc));

    let declare = |doc: &Value| {
        let mut d = doc.clone();
        d["errorDeclaration"] = json!({
            "declarationTime": "2026-06-03T09:00:00+07:00",
            "reason": "incorrect_data",
        });
        d
    };
    // The harvest cannot be withdrawn while its lot is on the road.
    server
        .submit(&farm, &declare(&harvest_doc))
        .assert_problem(409, "correction_conflict");
    // Only the actor who signed it may declare it erroneous.
    server
        .submit(&mill_key, &declare(&ship_doc))
        .assert_problem(422, "not_original_actor");
    // The declaration must repeat the event unchanged.
    let mut changed = declare(&ship_doc);
    changed["quantityList"][0]["quantity"] = json!(1);
    server
        .submit(&farm, &changed)
        .assert_problem(422, "correction_mismatch");
    // Declaring a shipping erroneous brings the lot back; the log keeps both.
    let before = size(&server);
    let c = accepted(&server.submit(&farm, &declare(&ship_doc)));
    assert_eq!(c["index"], before);
    assert_eq!(c["eventID"], ship_doc["eventID"]);
    let state = lot_state(&server, &lot);
    assert_eq!(state["onHand"]["quantity"], 800.0);
    assert_eq!(state["inTransit"], json!([]));
    let kinds: Vec<(Value, Value)> = state["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["correctedBy"].clone(), e["corrects"].clone()))
        .collect();
    assert_eq!(kinds.len(), 3);
    assert_eq!(kinds[1].0, json!(before));
    // Idempotent, and only once.
    assert_eq!(server.submit(&farm, &declare(&ship_doc)).status, 200);
    // Now the harvest can go: the lot is void, and may be recommissioned correctly.
    accepted(&server.submit(&farm, &declare(&harvest_doc)));
    assert!(lot_state(&server, &lot)["voidedBy"].is_u64());
    server
        .submit(&farm, &ship(FARM, &mill, &lot, 1.0))
        .assert_problem(422, "unknown_lot");
    accepted(&server.submit(&farm, &harvest(&lot, 750.0)));
    assert_eq!(lot_state(&server, &lot)["onHand"]["quantity"], 750.0);
    // Declaring an event that was never logged.
    server
        .submit(&farm, &declare(&harvest(&fresh_lot(), 1.0)))
        .assert_problem(422, "unknown_event");
}

#[test]
fn keys_and_roles_count_at_the_event_time() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let id = scenario::pgln(61);
    let old = crate::support::key();
    let new = crate::support::key();
    server.register(&id, &["farm"], &old);
    let registrar = |doc: Value| accepted(&server.submit(&server.registrar, &doc));
    registrar(scenario::registrar_doc(
        "lotline:KeyRotation",
        "2026-07-01T00:00:00+07:00",
        &id,
        ("key", &scenario::did(&new)),
        Some(&scenario::did(&old)),
    ));
    let at = |time: &str| {
        let mut h = harvest(&fresh_lot(), 100.0);
        h["ilmd"]["lotline:farm"] = json!(id);
        h["eventTime"] = json!(time);
        h
    };
    // Before the rotation the old key speaks for the farm, after it the new one.
    accepted(&server.submit(&old, &at("2026-06-15T08:00:00+07:00")));
    server
        .submit(&old, &at("2026-07-02T08:00:00+07:00"))
        .assert_problem(422, "key_not_valid");
    server
        .submit(&new, &at("2026-06-15T08:00:00+07:00"))
        .assert_problem(422, "key_not_valid");
    accepted(&server.submit(&new, &at("2026-07-02T08:00:00+07:00")));
    // A key belongs to one actor.
    let other = scenario::pgln(62);
    let doc = scenario::register(
        None,
        REGISTERED,
        &other,
        "x",
        ("KH", "Takeo"),
        &["farm"],
        &[scenario::did(&new)],
        None,
    );
    server
        .submit(&server.registrar, &doc)
        .assert_problem(409, "key_in_use");
    // The farm role ends in August.
    registrar(scenario::registrar_doc(
        "lotline:RoleRevocation",
        "2026-08-01T00:00:00+07:00",
        &id,
        ("role", "farm"),
        None,
    ));
    accepted(&server.submit(&new, &at("2026-07-20T08:00:00+07:00")));
    server
        .submit(&new, &at("2026-08-02T08:00:00+07:00"))
        .assert_problem(422, "missing_role");
    let actor = get(&server.url(&format!("/v1/actors/{id}"))).json();
    assert_eq!(actor["keys"].as_array().unwrap().len(), 2);
    assert!(actor["keys"][0]["untilMs"].is_i64());
    assert!(actor["roles"][0]["untilMs"].is_i64());
}

#[test]
fn rfid_decode_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let a = post_json(
        &server.url("/v1/rfid/decode"),
        &json!(["3074257BF7194E4000001A85", "DEADBEEF", 7]),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    let r = a.json()["results"].clone();
    assert_eq!(r[0]["pureIdentity"], "urn:epc:id:sgtin:0614141.812345.6789");
    assert_eq!(r[0]["tagUri"], "urn:epc:tag:sgtin-96:3.0614141.812345.6789");
    assert_eq!(r[0]["scheme"], "sgtin-96");
    assert_eq!(r[1]["error"]["code"], "invalid_epc");
    assert_eq!(r[2]["error"]["code"], "invalid_epc");
    post_json(&server.url("/v1/rfid/decode"), &json!("x")).assert_problem(422, "schema_violation");
    // Raw EPCs in events are decoded, and the lot is found by any spelling.
    let bag = sgtin(items::HEAD_RICE_BAG_50KG, 77);
    let raw = scenario::raw_uri(&bag);
    assert!(raw.starts_with("urn:epc:raw:96.x"), "{raw}");
    let head = fresh_lot();
    accepted(&server.submit(&server.farm, &harvest(&head, 100.0)));
    accepted(&server.submit(
        &server.farm,
        &scenario::bagging(T, kg(&head, 50.0), std::slice::from_ref(&raw), 50.0),
    ));
    let hex = raw.trim_start_matches("urn:epc:raw:96.x");
    let by_hex = lot_state(&server, hex);
    assert_eq!(by_hex["id"], bag);
    let by_dl = get(&server.url(&format!(
        "/v1/events?MATCH_anyEPC={}",
        enc(&format!(
            "https://id.gs1.org{}",
            by_hex["digitalLinkPath"].as_str().unwrap()
        ))
    )))
    .json();
    assert_eq!(by_dl["lotline:entries"].as_array().unwrap().len(), 1);
}
