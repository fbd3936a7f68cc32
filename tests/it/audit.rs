//! A certifier's mass-balance audit of a mill, against the real server: a mill that launders
//! conventional rice into organic sacks is caught with the numbers, an honest mill with the
//! same inputs is not, the HTML report shows it in a browser, and bad requests are refused.
//!
//! How the laundering mill gets past the ledger's rules: it cannot mix conventional paddy into
//! an organic milling (outputs take the lowest growing method of their inputs), and it cannot
//! declare more output than input. So it declares an impossible *yield* on its organic paddy
//! and hides it from the per-event plausibility check, which measures milled rice per kg of
//! `paddy`: it first runs the paddy through its dryer, naming the output `dried-paddy` (drying
//! may name its outputs), then mills 9,800 kg of "dried paddy" into 9,000 kg of organic rice
//! (0.92; a mill gets at most 0.72). The rules accept every event without a flag, and the mill
//! ships 9,000 kg of organic rice from 10,000 kg of organic paddy; the extra 1,800 kg were
//! conventional rice, which physically went into the organic bags.

use crate::support::{Answer, Server, enc, get};
use ed25519_dalek::SigningKey;
use lotline_scenario::{self as scenario, items, kg, lgtin, pgln, sgtin, sscc};
use serde_json::Value;

const FROM: &str = "2026-10-01";
const TO: &str = "2026-11-01";

fn t(day: u32, hour: u32) -> String {
    format!("2026-10-{day:02}T{hour:02}:00:00+07:00")
}

struct Actor {
    id: String,
    key: SigningKey,
}

fn actor(server: &Server, n: u32, roles: &[&str]) -> Actor {
    let a = Actor {
        id: pgln(n),
        key: crate::support::key(),
    };
    server.register(&a.id, roles, &a.key);
    a
}

fn ok(a: Answer) {
    assert_eq!(a.status, 201, "{}", a.body);
}

/// Harvests and ships organic paddy from two farms (6,000 and 4,000 kg) and conventional
/// paddy from a third (18,000 kg) to `mill`, which receives it all. `tag` keeps lots apart.
fn paddy_to(server: &Server, farms: &[Actor; 3], mill: &Actor, tag: &str) -> (Vec<String>, String) {
    let lots = [
        (
            lgtin(items::PADDY, &format!("{tag}-O1")),
            6000.0,
            "organic",
            2.0,
        ),
        (
            lgtin(items::PADDY, &format!("{tag}-O2")),
            4000.0,
            "organic",
            1.5,
        ),
        (
            lgtin(items::PADDY, &format!("{tag}-C")),
            18000.0,
            "conventional",
            4.0,
        ),
    ];
    for (n, ((lot, kg_, method, ha), farm)) in lots.iter().zip(farms).enumerate() {
        ok(server.submit(
            &farm.key,
            &scenario::harvest(
                None,
                &t(1, 7),
                lot,
                *kg_,
                &farm.id,
                "rice",
                Some("Phka Rumduol"),
                scenario::plot(&format!("{tag}-P{n}"), "Preah Vihear", *ha, 104.9, 13.8),
                method,
            ),
        ));
        let q = [kg(lot, *kg_)];
        ok(server.submit(
            &farm.key,
            &scenario::movement(true, &t(2, 8), &farm.id, &mill.id, &[], &q),
        ));
        ok(server.submit(
            &mill.key,
            &scenario::movement(false, &t(3, 9), &farm.id, &mill.id, &[], &q),
        ));
    }
    (
        vec![lots[0].0.clone(), lots[1].0.clone()],
        lots[2].0.clone(),
    )
}

/// The mill's October: dries its 10,000 kg of organic paddy into `dried` kg of "dried-paddy",
/// mills that into `head` kg of head rice and `broken` kg of broken rice (the rest husk), bags
/// the head rice in 50 kg sacks on one pallet and ships pallet and broken rice to the exporter;
/// mills its conventional paddy honestly and ships that rice too.
#[allow(clippy::too_many_arguments)]
fn mill_october(
    server: &Server,
    mill: &Actor,
    exporter: &Actor,
    tag: &str,
    serial: usize,
    organic: &[String],
    conventional: &str,
    (dried, head, broken): (f64, f64, f64),
) {
    let lot = |item: &str, what: &str| lgtin(item, &format!("{tag}-{what}"));
    let dried_lot = lot(items::PADDY, "D");
    ok(server.submit(
        &mill.key,
        &scenario::transform(
            &t(10, 8),
            "drying",
            &[kg(&organic[0], 6000.0), kg(&organic[1], 4000.0)],
            &[(dried_lot.clone(), dried, Some("dried-paddy"))],
        ),
    ));
    let (head_lot, broken_lot) = (lot(items::HEAD_RICE, "O"), lot(items::BROKEN_RICE, "O"));
    ok(server.submit(
        &mill.key,
        &scenario::transform(
            &t(12, 8),
            "milling",
            &[kg(&dried_lot, dried)],
            &[
                (head_lot.clone(), head, Some("head-rice")),
                (broken_lot.clone(), broken, Some("broken-rice")),
                (lot(items::HUSK, "O"), dried - head - broken, Some("husk")),
            ],
        ),
    ));
    let head_c = lot(items::HEAD_RICE, "C");
    ok(server.submit(
        &mill.key,
        &scenario::transform(
            &t(13, 8),
            "milling",
            &[kg(conventional, 18000.0)],
            &[
                (head_c.clone(), 7000.0, Some("head-rice")),
                (lot(items::BROKEN_RICE, "C"), 4700.0, Some("broken-rice")),
                (lot(items::HUSK, "C"), 3600.0, Some("husk")),
                (lot(items::BRAN, "C"), 1700.0, Some("bran")),
            ],
        ),
    ));
    let sacks = (head / 50.0) as usize;
    let bags: Vec<String> = (0..sacks)
        .map(|i| sgtin(items::HEAD_RICE_BAG_50KG, serial + i))
        .collect();
    ok(server.submit(
        &mill.key,
        &scenario::bagging(&t(14, 8), kg(&head_lot, head), &bags, 50.0),
    ));
    let pallet = sscc(serial as u64);
    ok(server.submit(
        &mill.key,
        &scenario::aggregation(true, &t(15, 8), &pallet, &bags),
    ));
    ok(server.submit(
        &mill.key,
        &scenario::movement(
            true,
            &t(16, 8),
            &mill.id,
            &exporter.id,
            std::slice::from_ref(&pallet),
            &[kg(&broken_lot, broken)],
        ),
    ));
    ok(server.submit(
        &mill.key,
        &scenario::movement(
            true,
            &t(17, 8),
            &mill.id,
            &exporter.id,
            &[],
            &[kg(&head_c, 7000.0)],
        ),
    ));
}

struct World {
    server: Server,
    launderer: Actor,
    honest: Actor,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let farms = [
        actor(&server, 201, &["farm"]),
        actor(&server, 202, &["farm"]),
        actor(&server, 203, &["farm"]),
    ];
    let launderer = actor(&server, 231, &["mill", "packer"]);
    let honest = actor(&server, 232, &["mill", "packer"]);
    let exporter = actor(&server, 241, &["exporter"]);
    let (organic, conventional) = paddy_to(&server, &farms, &launderer, "L");
    mill_october(
        &server,
        &launderer,
        &exporter,
        "L",
        10_000,
        &organic,
        &conventional,
        (9800.0, 5000.0, 4000.0),
    );
    let (organic, conventional) = paddy_to(&server, &farms, &honest, "H");
    mill_october(
        &server,
        &honest,
        &exporter,
        "H",
        20_000,
        &organic,
        &conventional,
        (9700.0, 4500.0, 2000.0),
    );
    World {
        server,
        launderer,
        honest,
        _dir: dir,
    }
}

fn audit(server: &Server, who: &str, query: &str) -> Answer {
    get(&server.url(&format!(
        "/v1/audit/operators/{}/mass-balance?{query}&access_token={}",
        enc(who),
        token(server)
    )))
}

/// A registrar's audit token (`tests/audit_access.rs` covers who else may ask).
fn token(server: &Server) -> String {
    crate::support::audit_token(server, &server.registrar)
}

fn row<'a>(v: &'a Value, product: &str, status: &str) -> &'a Value {
    v["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["product"] == product && b["organicStatus"] == status)
        .unwrap_or_else(|| panic!("no {product} {status} row in {}", v["balances"]))
}

fn flag<'a>(v: &'a Value, code: &str) -> &'a Value {
    v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} flag in {}", v["flags"]))
}

fn codes(v: &Value) -> Vec<&str> {
    let mut c: Vec<&str> = v["flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    c.sort_unstable();
    c
}

const LAUNDERED: &str = "organic milled rice shipped 9,000 kg exceeds what 10,000 kg of organic paddy can yield at 0.72: 7,200 kg";

#[test]
fn a_mill_laundering_conventional_rice_is_caught_and_an_honest_one_is_not() {
    let w = world();
    let s = &w.server;

    // The rules let every event of the laundering mill through without a flag.
    let ev = get(&s.url(&format!(
        "/v1/events?EQ_actor={}&perPage=100",
        enc(&w.launderer.id)
    )))
    .json();
    let entries = ev["lotline:entries"].as_array().unwrap();
    assert!(entries.len() >= 9, "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|e| e["flags"].as_array().unwrap().is_empty()),
        "{entries:?}"
    );

    let a = audit(s, &w.launderer.id, &format!("from={FROM}&to={TO}"));
    assert_eq!(a.status, 200, "{}", a.body);
    let v = a.json();
    assert_eq!(v["operator"]["id"], w.launderer.id.as_str());
    assert_eq!(v["operator"]["name"], w.launderer.id.as_str());
    assert_eq!(v["period"]["from"], "2026-10-01T00:00:00Z");
    assert_eq!(v["period"]["to"], "2026-11-01T00:00:00Z");
    assert_eq!(v["units"], "kg");
    assert_eq!(
        v["bounds"]["milling_recovery"],
        serde_json::json!([0.5, 0.72])
    );
    assert_eq!(
        codes(&v),
        [
            "organic_yield_exceeded",
            "shipped_exceeds_capacity",
            "yield_out_of_bounds"
        ],
        "{}",
        v["flags"]
    );

    let shipped = flag(&v, "shipped_exceeds_capacity");
    assert_eq!(shipped["message"], LAUNDERED);
    assert_eq!(shipped["organicStatus"], "organic");
    assert_eq!(shipped["figures"]["actualKg"], 9000.0);
    assert_eq!(shipped["figures"]["maxKg"], 7200.0);
    assert_eq!(shipped["figures"]["excessKg"], 1800.0);
    assert_eq!(shipped["figures"]["inputKg"], 10000.0);
    assert_eq!(shipped["figures"]["maxYield"], 0.72);
    assert_eq!(
        shipped["entries"].as_array().unwrap().len(),
        1,
        "one shipment"
    );

    let produced = flag(&v, "organic_yield_exceeded");
    assert_eq!(
        produced["message"],
        "organic milled rice produced 9,000 kg exceeds what 10,000 kg of organic paddy can yield at 0.72: 7,200 kg"
    );
    assert_eq!(produced["figures"]["actualKg"], 9000.0);

    let out = flag(&v, "yield_out_of_bounds");
    assert_eq!(out["figures"]["outputKg"], 9000.0);
    assert_eq!(out["figures"]["inputKg"], 9800.0);
    assert_eq!(out["figures"]["yield"], 0.9184);
    assert!(
        out["message"]
            .as_str()
            .unwrap()
            .contains("milled rice per kg of all inputs (no paddy among them) is 0.918"),
        "{}",
        out["message"]
    );

    // The balance: organic paddy in and used up, the sacks shipped on their pallet.
    let p = row(&v, "paddy", "organic");
    assert_eq!(
        [
            &p["openingKg"],
            &p["receivedKg"],
            &p["consumedKg"],
            &p["closingKg"]
        ],
        [0.0, 10000.0, 10000.0, 0.0]
    );
    let h = row(&v, "head-rice", "organic");
    // Milled 5,000 kg, bagged (consumed 5,000, produced 5,000 in sacks), shipped in sacks.
    assert_eq!(
        [
            &h["producedKg"],
            &h["consumedKg"],
            &h["shippedKg"],
            &h["closingKg"]
        ],
        [10000.0, 5000.0, 5000.0, 0.0]
    );
    assert_eq!(row(&v, "broken-rice", "organic")["shippedKg"], 4000.0);
    assert_eq!(row(&v, "husk", "organic")["closingKg"], 800.0);
    assert_eq!(row(&v, "paddy", "conventional")["consumedKg"], 18000.0);
    assert_eq!(row(&v, "head-rice", "conventional")["shippedKg"], 7000.0);
    assert_eq!(v["summary"]["ledgerCompared"], true);
    for b in v["balances"].as_array().unwrap() {
        assert_eq!(b["ledgerKg"], b["closingKg"], "{b}");
    }

    // Every transformation, with its yield against its bounds.
    let ts = v["transformations"].as_array().unwrap();
    let kinds: Vec<&str> = ts.iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["drying", "milling", "milling", "bagging"]);
    assert_eq!(ts[1]["yield"], 0.9184);
    assert_eq!(ts[1]["bounds"], serde_json::json!([0.5, 0.72]));
    assert_eq!(ts[1]["withinBounds"], false);
    assert_eq!(ts[2]["yield"], 0.65);
    assert_eq!(ts[2]["withinBounds"], true);
    assert_eq!(ts[0]["bounds"], Value::Null, "drying has no bounds");

    let check = v["yieldChecks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["family"] == "milled rice" && c["organicStatus"] == "organic")
        .unwrap();
    assert_eq!(
        [
            &check["producedKg"],
            &check["maxProducedKg"],
            &check["shippedKg"],
            &check["maxShippedKg"]
        ],
        [9000.0, 7200.0, 9000.0, 7200.0]
    );
    assert_eq!(check["within"], false);

    // The honest mill, same inputs, same period: 6,500 kg of organic rice, no flag at all.
    let honest = audit(s, &w.honest.id, &format!("from={FROM}&to={TO}")).json();
    assert_eq!(
        honest["flags"],
        serde_json::json!([]),
        "{}",
        honest["flags"]
    );
    assert_eq!(honest["summary"]["flags"], 0);
    assert_eq!(row(&honest, "head-rice", "organic")["shippedKg"], 4500.0);
    let hc = honest["yieldChecks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["family"] == "milled rice" && c["organicStatus"] == "organic")
        .unwrap();
    assert_eq!(
        [&hc["shippedKg"], &hc["within"]],
        [&Value::from(6500.0), &Value::Bool(true)]
    );

    // Opening stock comes from the mill's own events before the period.
    let later = audit(s, &w.launderer.id, "from=2026-10-11&to=2026-11-01").json();
    let d = row(&later, "dried-paddy", "organic");
    assert_eq!(
        [&d["openingKg"], &d["consumedKg"], &d["closingKg"]],
        [9800.0, 9800.0, 0.0]
    );
    assert_eq!(row(&later, "paddy", "conventional")["openingKg"], 18000.0);
    assert_eq!(later["summary"]["entriesBeforePeriod"], 4);
    // The period starts after the drying: the dried paddy in stock is what the rice can come
    // from, still too little; the honest mill's period from the same day has no finding.
    assert_eq!(
        codes(&later),
        [
            "organic_yield_exceeded",
            "shipped_exceeds_capacity",
            "yield_out_of_bounds"
        ]
    );
    assert_eq!(
        flag(&later, "shipped_exceeds_capacity")["message"],
        "organic milled rice shipped 9,000 kg exceeds what 9,800 kg of organic dried paddy can yield at 0.72: 7,056 kg"
    );
    let honest_later = audit(s, &w.honest.id, "from=2026-10-11&to=2026-11-01").json();
    assert_eq!(honest_later["flags"], serde_json::json!([]));

    // A product filter keeps that product's rows and the findings about it.
    let husk = audit(
        s,
        &w.launderer.id,
        &format!("from={FROM}&to={TO}&product=husk"),
    )
    .json();
    assert!(
        husk["balances"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["product"] == "husk")
    );
    assert_eq!(husk["product"], "husk");
    let paddy = audit(
        s,
        &w.launderer.id,
        &format!("from={FROM}&to={TO}&product=paddy"),
    )
    .json();
    assert!(codes(&paddy).contains(&"shipped_exceeds_capacity"));

    report_page(&w);
    bad_requests(&w);
}

/// The HTML report: the table and the flag, in the served HTML and in Chromium's DOM.
fn report_page(w: &World) {
    let url = w.server.url(&format!(
        "/v1/audit/operators/{}/report?from={FROM}&to={TO}&access_token={}",
        enc(&w.launderer.id),
        token(&w.server)
    ));
    let page = get(&url);
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(page.content_type, "text/html");
    assert!(page.body.contains("Content-Security-Policy"));
    assert!(!page.body.contains("<script"));
    assert!(page.body.contains(r#"id="balance-table""#));
    assert!(
        page.body
            .contains(r#"data-code="shipped_exceeds_capacity""#)
    );
    assert!(page.body.contains(LAUNDERED));

    let dom = crate::support::browser::dump_dom(&url);
    // The findings come first, then the table; the flag is a visible element, not hidden in
    // a collapsed section.
    let findings = dom.find(r#"id="findings""#).expect("findings section");
    let table = dom
        .find(r#"id="balance-table""#)
        .expect("the balance table");
    assert!(findings < table);
    let flag = dom
        .find(r#"<div class="flag" role="note" data-code="shipped_exceeds_capacity">"#)
        .expect("the flag in the DOM");
    assert!(dom[flag..].contains(LAUNDERED));
    assert!(
        !dom[..flag].contains("<details"),
        "the flag must not be collapsed"
    );
    assert!(dom.contains(r#"data-flags="3""#));
    assert!(dom.contains("✗ 3 findings to explain"));

    // At a phone's width, printed to a PNG (kept in LOTLINE_SCREENSHOTS if set).
    let out = match std::env::var_os("LOTLINE_SCREENSHOTS") {
        Some(d) => {
            std::fs::create_dir_all(&d).unwrap();
            std::path::PathBuf::from(d).join("audit-report-390.png")
        }
        None => w._dir.path().join("audit-report-390.png"),
    };
    crate::support::browser::screenshot(&url, &out, 390, 844);
    assert!(std::fs::read(&out).unwrap().starts_with(b"\x89PNG"));

    let honest = crate::support::browser::dump_dom(&w.server.url(&format!(
        "/v1/audit/operators/{}/report?from={FROM}&to={TO}&access_token={}",
        enc(&w.honest.id),
        token(&w.server)
    )));
    assert_eq!(
        honest.matches(r#"<div class="flag""#).count(),
        0,
        "{honest}"
    );
    assert!(honest.contains("No findings"));
}

fn bad_requests(w: &World) {
    let s = &w.server;
    let id = &w.launderer.id;
    for path in ["mass-balance", "report"] {
        let tok = token(s);
        let url = |q: &str| {
            s.url(&format!(
                "/v1/audit/operators/{}/{path}?{q}&access_token={tok}",
                enc(id)
            ))
        };
        for q in [
            "from=yesterday",
            "from=2026-10-01T00:00:00",
            "to=2026-02-30",
            "from=2026-11-01&to=2026-10-01",
            "product=Milled%20Rice",
            "product=",
            "operator=x",
        ] {
            let p = get(&url(q)).assert_problem(400, "invalid_parameter");
            assert!(!p["detail"].as_str().unwrap().is_empty(), "{q}");
        }
        let unknown = s.url(&format!(
            "/v1/audit/operators/{}/{path}?access_token={tok}",
            enc(&pgln(999))
        ));
        get(&unknown).assert_problem(404, "not_found");
        let blank = s.url(&format!(
            "/v1/audit/operators/%20/{path}?access_token={tok}"
        ));
        get(&blank).assert_problem(400, "invalid_parameter");
    }
    // A well-formed product nobody handled is an empty answer, not an error.
    let none = audit(s, id, "product=cassava-chips").json();
    assert_eq!(none["balances"], serde_json::json!([]));
    assert_eq!(none["flags"], serde_json::json!([]));
}
