//! Recall: the downstream trace of a lot through the real server — the demo's farm lot to the
//! container in Rotterdam, a lot never used, a lot split between two buyers with a shipment
//! declared erroneous, and the edge's answers to bad requests.

use crate::support::*;
use lotline_scenario::{self as scenario, demo_actors, items, kg, lgtin, sgtin, sscc};
use serde_json::{Value, json};

fn downstream(server: &Server, id: &str) -> Answer {
    audit_get(server, &format!("/v1/audit/lots/{}/downstream", enc(id)))
}

/// An audit request with a registrar's token (`tests/audit_access.rs` covers who may ask).
fn audit_get(server: &Server, path: &str) -> Answer {
    crate::support::get_bearer(
        &server.url(path),
        &crate::support::audit_token(server, &server.registrar),
    )
}

fn ok(a: Answer) -> Value {
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()
}

fn strs(v: &Value, member: &str) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x[member].as_str().unwrap().to_owned())
        .collect();
    out.sort();
    out
}

fn demo_id(name: &str) -> String {
    demo_actors()
        .into_iter()
        .find(|a| a.name == name)
        .unwrap()
        .id
}

#[test]
fn a_farm_lot_reaches_the_milled_rice_bags_pallets_container_export_and_importer() {
    let dir = tempfile::tempdir().unwrap();
    let (registrar, steps) =
        lotline::cli::actor::signed_demo("recall test", "2026-11-20T00:00:00Z").unwrap();
    let server = Server::start_with(&dir.path().join("data"), &["--registrar", &registrar]);
    for (doc, expect) in &steps {
        let a = post_json(&server.url("/v1/events"), doc);
        if expect.is_none() {
            assert_eq!(a.status, 201, "{}", a.body);
        }
    }
    let paddy = lgtin(items::PADDY, "PV26-F1");
    let r = ok(downstream(&server, &paddy));
    assert_eq!(r["root"]["id"], paddy);
    assert_eq!(r["root"]["class"], "lot");

    // Lots: the paddy, the four milling outputs and the 150 bags of head rice.
    let ids = strs(&r["lots"], "id");
    assert_eq!(ids.len(), 1 + 4 + 150, "{ids:?}");
    for item in [
        items::HEAD_RICE,
        items::BROKEN_RICE,
        items::BRAN,
        items::HUSK,
    ] {
        assert!(ids.contains(&lgtin(item, "BB26-1020")), "{item}");
    }
    assert!(ids.contains(&sgtin(items::HEAD_RICE_BAG_50KG, 1001)));
    // The other farms' paddy went into the same milling: not downstream of this lot.
    assert!(!ids.contains(&lgtin(items::PADDY, "PV26-F2")));
    let head = r["lots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == lgtin(items::HEAD_RICE, "BB26-1020"))
        .unwrap();
    assert_eq!(head["via"]["kind"], "milling");
    assert_eq!(head["via"]["from"], r["root"]["key"]);
    assert_eq!(head["growingMethod"], "organic");
    assert_eq!(head["depth"], 1);

    // Units: three pallets and the container, which the importer holds.
    let container = sscc(9_000_000_001);
    let units = strs(&r["units"], "id");
    assert_eq!(units.len(), 4, "{units:?}");
    assert!(units.contains(&container));
    let c = r["units"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["id"] == container)
        .unwrap();
    assert_eq!(c["custodian"], demo_id("importer"));
    assert_eq!(c["depth"], 4);
    let path: Vec<&str> = c["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert_eq!(path, ["milling", "bagging", "packing", "packing"]);
    assert!(c["packed"]["entry"].is_u64() && c["packed"]["eventTime"].is_string());

    // Shipments, in log order: farm → collector, collector → mill, the bags to the exporter,
    // the container to Rotterdam — each received.
    let ships = r["shipments"].as_array().unwrap();
    let legs: Vec<(String, String)> = ships
        .iter()
        .map(|s| {
            (
                s["from"].as_str().unwrap().to_owned(),
                s["to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        legs,
        [
            (demo_id("farm-sokchea"), demo_id("collector")),
            (demo_id("collector"), demo_id("mill")),
            (demo_id("mill"), demo_id("exporter")),
            (demo_id("exporter"), demo_id("importer")),
        ]
    );
    assert!(ships.iter().all(|s| s["received"] == true));
    let export = &ships[3];
    assert_eq!(export["units"].as_array().unwrap().len(), 4);
    assert_eq!(export["lots"].as_array().unwrap().len(), 150);
    assert_eq!(export["mass"]["quantity"], 7500.0);
    // Only this farm's paddy counts on the collector's shipment of all three lots.
    assert_eq!(ships[1]["lots"].as_array().unwrap().len(), 1);
    assert_eq!(ships[1]["mass"]["quantity"], 5200.0);

    // Recipients, with names and roles.
    let rec = r["recipients"].as_array().unwrap();
    let who: Vec<&str> = rec.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(
        who,
        [
            demo_id("collector"),
            demo_id("mill"),
            demo_id("exporter"),
            demo_id("importer")
        ]
    );
    let importer = rec.last().unwrap();
    assert_eq!(importer["name"], "Rotterdam Rice Import B.V.");
    assert_eq!(importer["country"], "NL");
    assert_eq!(importer["roles"], json!(["importer"]));
    assert_eq!(
        importer["firstReceived"]["entry"].as_u64().unwrap(),
        export["receipts"][0]["entry"].as_u64().unwrap()
    );
    assert_eq!(r["summary"]["recipients"], 4);
    assert_eq!(r["summary"]["lots"], 155);

    // A lot never used downstream is just itself: the cassava chips, and the bran.
    for id in [
        lgtin(items::CASSAVA_CHIPS, "KC26-C1"),
        lgtin(items::BRAN, "BB26-1020"),
    ] {
        let r = ok(downstream(&server, &id));
        assert_eq!(strs(&r["lots"], "id"), std::slice::from_ref(&id));
        assert_eq!(r["units"], json!([]));
        assert_eq!(r["shipments"], json!([]));
        assert_eq!(r["recipients"], json!([]));
    }

    // From the container, named by its Digital Link URI: itself, its export and the importer.
    let by_dl = ok(downstream(
        &server,
        "https://id.gs1.org/00/988412340000000016",
    ));
    assert_eq!(by_dl["root"]["id"], container);
    assert_eq!(by_dl["lots"], json!([]));
    assert_eq!(by_dl["shipments"].as_array().unwrap().len(), 1);
    assert_eq!(strs(&by_dl["recipients"], "id"), [demo_id("importer")]);

    // A trace larger than asked for is refused.
    audit_get(
        &server,
        &format!("/v1/audit/lots/{}/downstream?maxNodes=10", enc(&paddy)),
    )
    .assert_problem(422, "trace_too_large");
}

#[test]
fn a_split_lot_shows_both_recipients_and_a_corrected_shipment_none() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let farm = server.farm.clone();
    let buyers: Vec<(String, ed25519_dalek::SigningKey)> = (71..74)
        .map(|p| {
            let k = key();
            let id = scenario::pgln(p);
            server.register(&id, TRADER_ROLES, &k);
            (id, k)
        })
        .collect();
    let lot = fresh_lot();
    assert_eq!(server.submit(&farm, &harvest(&lot, 1200.0)).status, 201);
    let t = "2026-06-02T08:00:00+07:00";
    let mv = |ship: bool, to: &str, kg_: f64| {
        scenario::movement(ship, t, FARM, to, &[], &[kg(&lot, kg_)])
    };
    for (to, amount) in [(&buyers[0].0, 600.0), (&buyers[1].0, 400.0)] {
        assert_eq!(server.submit(&farm, &mv(true, to, amount)).status, 201);
    }
    assert_eq!(
        server
            .submit(&buyers[1].1, &mv(false, &buyers[1].0, 400.0))
            .status,
        201
    );
    // A shipment to the third buyer, declared erroneous: it never happened.
    let mut wrong = mv(true, &buyers[2].0, 200.0);
    assert_eq!(server.submit(&farm, &wrong).status, 201);
    wrong["errorDeclaration"] = json!({
        "declarationTime": "2026-06-03T09:00:00+07:00",
        "reason": "incorrect_data",
    });
    assert_eq!(server.submit(&farm, &wrong).status, 201);

    let r = ok(downstream(&server, &lot));
    let ids: Vec<&str> = r["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [buyers[0].0.as_str(), buyers[1].0.as_str()]);
    assert_eq!(r["recipients"][0]["firstReceived"], Value::Null);
    assert!(r["recipients"][1]["firstReceived"]["entry"].is_u64());
    let masses: Vec<f64> = r["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["mass"]["quantity"].as_f64().unwrap())
        .collect();
    assert_eq!(masses, [600.0, 400.0]);
    let received: Vec<&Value> = r["shipments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["received"])
        .collect();
    assert_eq!(received, [&json!(false), &json!(true)]);
    // The lot's own view: held by the farm (200 kg) and the second buyer, 600 kg on the road.
    let root = &r["lots"][0];
    assert_eq!(root["held"].as_array().unwrap().len(), 2);
    assert_eq!(root["inTransit"][0]["amount"]["quantity"], 600.0);
}

#[test]
fn bad_and_unknown_ids_are_answered_at_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let lot = fresh_lot();
    downstream(&server, &lot).assert_problem(404, "not_found");
    downstream(&server, "urn:epc:id:sgtin:notanepc").assert_problem(400, "invalid_parameter");
    assert_eq!(
        server.submit(&server.farm, &harvest(&lot, 10.0)).status,
        201
    );
    for q in ["maxNodes=0", "maxNodes=abc", "maxNodes=100001", "depth=2"] {
        audit_get(
            &server,
            &format!("/v1/audit/lots/{}/downstream?{q}", enc(&lot)),
        )
        .assert_problem(400, "invalid_parameter");
    }
    let before = size(&server);
    let one = audit_get(
        &server,
        &format!("/v1/audit/lots/{}/downstream?maxNodes=1", enc(&lot)),
    );
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.json()["summary"]["lots"], 1);
    assert_eq!(size(&server), before, "a read writes nothing");
    let index = get(&server.url("/")).json();
    assert_eq!(
        index["links"]["downstream"],
        "/v1/audit/lots/{id}/downstream (audit token)"
    );
    let post = post_json(
        &server.url(&format!("/v1/audit/lots/{}/downstream", enc(&lot))),
        &json!({}),
    );
    post.assert_problem(405, "method_not_allowed");
}
