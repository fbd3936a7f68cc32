//! Sensor and quality data: inspections and storage records with `sensorElementList` through
//! the real server — who may record them, what the rules refuse (writing nothing), the EPCIS
//! sensor query parameters, and the lot's provenance showing them.

use serde_json::{Value, json};

use crate::support::*;
use lotline_scenario::{self as scenario, substances};

const LAB: &str = "urn:epc:id:pgln:8841234.00081";
const MILL: &str = "urn:epc:id:pgln:8841234.00082";

fn inspection(lot: &str, kg: f64, reports: Value) -> Value {
    scenario::observation(
        false,
        "2026-06-02T09:00:00+07:00",
        &scenario::sgln(99),
        &[],
        &[scenario::kg(lot, kg)],
        json!([{"sensorMetadata": {"deviceID": "urn:epc:id:giai:8841234.M7"}, "sensorReport": reports}]),
    )
}

fn storage(lot: &str, kg: f64, reports: Value) -> Value {
    scenario::observation(
        true,
        "2026-06-05T09:00:00+07:00",
        &scenario::sgln(99),
        &[],
        &[scenario::kg(lot, kg)],
        json!([{
            "sensorMetadata": {"startTime": "2026-06-02T09:00:00+07:00", "endTime": "2026-06-05T09:00:00+07:00"},
            "sensorReport": reports
        }]),
    )
}

fn events_of(server: &Server, query: &str) -> Vec<Value> {
    let a = get(&server.url(&format!("/events?{query}")));
    assert_eq!(a.status, 200, "{query}: {}", a.body);
    a.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn inspections_and_storage_records_are_recorded_by_those_who_may_and_queried_by_sensor() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let (lab, mill) = (key(), key());
    server.register(LAB, &["lab"], &lab);
    server.register(MILL, &["mill"], &mill);
    let lot = fresh_lot();
    assert_eq!(
        server.submit(&server.farm, &harvest(&lot, 5_000.0)).status,
        201
    );

    // The holder checks moisture; a lab tests a sample of goods it never holds; the holder
    // records the store's conditions and a fumigation.
    let moisture = inspection(&lot, 5_000.0, json!([scenario::moisture(14.2)]));
    assert_eq!(server.submit(&server.farm, &moisture).status, 201);
    let lab_test = inspection(
        &lot,
        1.0,
        json!([
            scenario::moisture(13.1),
            {"type": "MassConcentration", "chemicalSubstance": "https://identifiers.org/inchikey:OQIQSTLJSLGHID-WNWIJWBNSA-N",
             "value": 1.5, "uom": "GQ"}
        ]),
    );
    assert_eq!(server.submit(&lab, &lab_test).status, 201);
    let stored = storage(
        &lot,
        5_000.0,
        json!([
            {"type": "gs1:MT-Temperature", "minValue": 27, "maxValue": 34.5, "uom": "CEL"},
            {"type": "RelativeHumidity", "maxValue": 78, "uom": "P1", "exception": "ALARM_CONDITION"},
            {"type": "VolumeFraction", "chemicalSubstance": substances::PHOSPHINE, "meanValue": 300, "uom": "59"}
        ]),
    );
    assert_eq!(server.submit(&server.farm, &stored).status, 201);
    let after = size(&server);

    // Refused, and nothing written: a mill that does not hold the lot, a lab recording
    // storage, more than the holder has, and the sensor rules.
    server
        .submit(
            &mill,
            &inspection(&lot, 100.0, json!([scenario::moisture(14.0)])),
        )
        .assert_problem(409, "not_custodian");
    server
        .submit(
            &lab,
            &storage(&lot, 100.0, json!([scenario::moisture(14.0)])),
        )
        .assert_problem(422, "missing_role");
    server
        .submit(
            &server.farm,
            &storage(&lot, 6_000.0, json!([scenario::moisture(14.0)])),
        )
        .assert_problem(409, "insufficient_balance");
    for (report, rule, pointer) in [
        (
            json!({"type": "Temperature", "value": 30}),
            "sensor.uom",
            "/sensorElementList/0/sensorReport/0/uom",
        ),
        (
            json!({"type": "Dimensionless", "chemicalSubstance": substances::WATER, "value": 140, "uom": "P1"}),
            "sensor.moisture",
            "/sensorElementList/0/sensorReport/0/value",
        ),
        (
            json!({"type": "Temperature", "minValue": 30, "maxValue": 20, "uom": "CEL"}),
            "sensor.range",
            "/sensorElementList/0/sensorReport/0/minValue",
        ),
        (
            json!({"type": "Temperature", "uom": "CEL"}),
            "sensor.value",
            "/sensorElementList/0/sensorReport/0",
        ),
    ] {
        let p = server
            .submit(&server.farm, &inspection(&lot, 10.0, json!([report])))
            .assert_problem(422, "profile_violation");
        assert_eq!(p["rule"], rule, "{p}");
        assert_eq!(p["pointer"], pointer, "{p}");
    }
    let mut bare = inspection(&lot, 10.0, json!([]));
    bare.as_object_mut().unwrap().remove("sensorElementList");
    server
        .submit(&server.farm, &bare)
        .assert_problem(422, "schema_violation");
    let mut empty = inspection(&lot, 10.0, json!([]));
    empty["sensorElementList"] = json!([]);
    server
        .submit(&server.farm, &empty)
        .assert_problem(422, "schema_violation");
    assert_eq!(size(&server), after, "a refused record writes nothing");

    // Found by the EPCIS sensor parameters, from indexes.
    let water = enc(substances::WATER);
    for (query, want) in [
        ("EQ_bizStep=inspecting".to_owned(), 2),
        ("EQ_bizStep=storing".to_owned(), 1),
        ("EXISTS_sensorElementList".to_owned(), 3),
        ("EQ_type=Temperature".to_owned(), 1),
        (format!("EQ_type={}", enc("gs1:MT-Temperature")), 1),
        (format!("EQ_chemicalSubstance={water}"), 2),
        (format!("EQ_chemicalSubstance={water}&GE_value_P1=14"), 1),
        (format!("EQ_chemicalSubstance={water}&LT_value_P1=14"), 1),
        ("GE_value_P1=14".to_owned(), 1),
        // The humidity's maximum is in percent too, but it is not moisture.
        ("EQ_type=Dimensionless&GE_maxValue_P1=50".to_owned(), 0),
        ("EQ_type=RelativeHumidity&GE_maxValue_P1=50".to_owned(), 1),
        ("GE_maxValue_CEL=34".to_owned(), 1),
        ("GE_maxValue_CEL=35".to_owned(), 0),
        (
            format!("EQ_deviceID={}", enc("urn:epc:id:giai:8841234.M7")),
            2,
        ),
        (
            format!("MATCH_epcClass={}&EQ_bizStep=inspecting", enc(&lot)),
            2,
        ),
    ] {
        let found = events_of(&server, &query);
        assert_eq!(found.len(), want, "{query}: {found:?}");
    }
    get(&server.url("/events?GE_value_P1=high")).assert_problem(400, "invalid_parameter");

    // The lot's provenance shows them; the lab's test is not custody.
    let p = get(&server.url(&format!("/v1/lots/{}/provenance", enc(&lot)))).json();
    assert_eq!(p["verdict"]["verified"], true, "{}", p["verdict"]);
    let quality = p["quality"].as_array().unwrap();
    assert_eq!(quality.len(), 3, "{quality:?}");
    assert_eq!(quality[0]["kind"], "inspection");
    assert_eq!(quality[0]["findings"], json!(["moisture 14.2 %"]));
    assert_eq!(quality[1]["role"], "lab");
    assert_eq!(
        quality[1]["findings"][1],
        "mass concentration of https://identifiers.org/inchikey:OQIQSTLJSLGHID-WNWIJWBNSA-N 1.5 µg/m³"
    );
    assert_eq!(
        quality[2]["findings"],
        json!([
            "temperature 27–34.5 °C over 3 days",
            "relative humidity at most 78 % over 3 days (alarm)",
            "phosphine concentration mean 300 ppm over 3 days"
        ])
    );
    assert_eq!(quality[2]["location"], scenario::sgln(99));
    let holders: Vec<&str> = p["custody"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["actor"].as_str().unwrap())
        .collect();
    assert_eq!(holders, [FARM], "{}", p["custody"]);
    let timeline: Vec<&str> = p["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["what"].as_str().unwrap())
        .collect();
    assert!(
        timeline.contains(&"inspected 5000 kg: moisture 14.2 %"),
        "{timeline:?}"
    );
}
