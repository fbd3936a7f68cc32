//! `lotline import`: a day of a mill's records as a spreadsheet (CSV and .xlsx), through a
//! column mapping, checked row by row, signed and captured against the real server.

use std::path::Path;

use crate::support::*;
use ed25519_dalek::SigningKey;
use lotline_scenario as scenario;
use serde_json::Value;

const HEADER: &[&str] = &[
    "Record",
    "Time",
    "Lot",
    "Qty",
    "Unit",
    "Supplier",
    "Output lot",
    "Head rice",
    "Broken",
    "Bran",
    "Husk",
    "Bags",
    "Bag mass",
    "RFID",
    "Moisture %",
];

/// The mill is the test server's [`FARM`] actor (it holds the mill role); suppliers F1..F3 are
/// farms registered by the test.
fn mapping() -> String {
    format!(
        r#"# A rice mill's day sheet.
[site]
actor = "{FARM}"
location = "urn:epc:id:sgln:8841234.00099.0"
utc_offset = "+07:00"
company_prefix = "8841234"

[columns]
record_type = "Record"
time = "Time"
lot = "Lot"
quantity = "Qty"
unit = "Unit"
supplier = "Supplier"
output_lot = "Output lot"
head_rice = "Head rice"
broken_rice = "Broken"
bran = "Bran"
husk = "Husk"
bags = "Bags"
bag_mass = "Bag mass"
epcs = "RFID"
moisture = "Moisture %"

[record_types]
receipt = ["RCV"]
milling = ["MILL"]
bagging = ["BAG"]
moisture = ["MOIST"]

[items]
paddy = "{paddy}"
head_rice = "{head}"
broken_rice = "{broken}"
bran = "{bran}"
husk = "{husk}"

[suppliers]
F1 = "{f1}"
F2 = "{f2}"
F3 = "{f3}"
"#,
        paddy = scenario::items::PADDY,
        head = scenario::items::HEAD_RICE,
        broken = scenario::items::BROKEN_RICE,
        bran = scenario::items::BRAN,
        husk = scenario::items::HUSK,
        f1 = scenario::pgln(1),
        f2 = scenario::pgln(2),
        f3 = scenario::pgln(3),
    )
}

/// Mass of every paddy lot, kg.
const LOT_KG: f64 = 9000.0;

/// Registers farms F1..F3 and has them harvest and ship `lots` paddy lots to the mill the day
/// before; returns each lot's code and its supplier code.
fn paddy_from_farms(server: &Server, lots: usize, tag: &str) -> Vec<(String, String)> {
    let farms: Vec<(String, SigningKey)> = (1..=3).map(|n| (scenario::pgln(n), key())).collect();
    for (id, k) in &farms {
        server.register(id, &["farm"], k);
    }
    let mut signed = Vec::new();
    let mut out = Vec::new();
    for i in 0..lots {
        let (farm, k) = &farms[i % 3];
        let code = format!("P{tag}-{i:03}");
        let lot = scenario::lgtin(scenario::items::PADDY, &code);
        let harvest = scenario::harvest(
            None,
            "2026-10-14T07:00:00+07:00",
            &lot,
            LOT_KG,
            farm,
            "rice",
            Some("Phka Rumduol"),
            scenario::plot(&format!("PL-{i}"), "Preah Vihear", 3.0, 104.9, 13.8),
            "conventional",
        );
        let ship = scenario::movement(
            true,
            "2026-10-15T14:00:00+07:00",
            farm,
            FARM,
            &[],
            &[scenario::kg(&lot, LOT_KG)],
        );
        signed.push(sign(k, &harvest));
        signed.push(sign(k, &ship));
        out.push((code, format!("F{}", i % 3 + 1)));
    }
    let a = post_json(
        &server.url("/v1/events/batch"),
        &Value::Array(signed.clone()),
    );
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.json()["accepted"], signed.len(), "{}", a.body);
    out
}

/// A row from `column = value` pairs, the other cells empty.
fn row(pairs: &[(&str, String)]) -> Vec<String> {
    HEADER
        .iter()
        .map(|h| {
            pairs
                .iter()
                .find(|(k, _)| k == h)
                .map_or(String::new(), |(_, v)| v.clone())
        })
        .collect()
}

/// The bag EPCs of bagging run `run`, `n` bags, as the reader gave them: every third a pure
/// SGTIN URI, every third an EPC raw URI, every third the tag's bare hex.
fn bag_epcs(run: usize, n: usize) -> Vec<String> {
    (0..n)
        .map(|b| {
            let sgtin = scenario::sgtin(scenario::items::HEAD_RICE_BAG_50KG, 10_000 + run * 10 + b);
            match (run + b) % 3 {
                0 => sgtin,
                1 => scenario::raw_uri(&sgtin),
                _ => gs1::tds::raw_uri_to_hex(&scenario::raw_uri(&sgtin)).unwrap(),
            }
        })
        .collect()
}

/// A day at the mill: each paddy lot received (every other with a moisture reading), checked
/// for moisture and milled; the head rice of the first lots bagged, three runs of four 50 kg
/// bags each.
fn mill_day(lots: &[(String, String)], bagged_lots: usize) -> Vec<Vec<String>> {
    let mut minute = 0;
    let mut at = || {
        let t = format!("2026-10-16 {:02}:{:02}", 6 + minute / 60, minute % 60);
        minute += 1;
        t
    };
    let mut rows = Vec::new();
    for (i, (code, supplier)) in lots.iter().enumerate() {
        let mut receipt = vec![
            ("Record", "RCV".to_owned()),
            ("Time", at()),
            ("Lot", code.clone()),
            ("Qty", LOT_KG.to_string()),
            ("Unit", "KGM".to_owned()),
            ("Supplier", supplier.clone()),
        ];
        if i % 2 == 0 {
            receipt.push(("Moisture %", format!("{}", 14.0 + (i % 5) as f64 / 10.0)));
        }
        rows.push(row(&receipt));
        rows.push(row(&[
            ("Record", "MOIST".to_owned()),
            ("Time", at()),
            ("Lot", code.clone()),
            ("Qty", LOT_KG.to_string()),
            ("Moisture %", format!("{}", 13.5 + (i % 4) as f64 / 10.0)),
        ]));
    }
    for (i, (code, _)) in lots.iter().enumerate() {
        rows.push(row(&[
            ("Record", "MILL".to_owned()),
            ("Time", at()),
            ("Lot", code.clone()),
            ("Qty", LOT_KG.to_string()),
            ("Output lot", format!("M{i:03}")),
            ("Head rice", "5000".to_owned()),
            ("Broken", "900.5".to_owned()),
            ("Bran", "800".to_owned()),
            ("Husk", "2000".to_owned()),
        ]));
    }
    for i in 0..bagged_lots {
        for r in 0..3 {
            let run = i * 3 + r;
            rows.push(row(&[
                ("Record", "BAG".to_owned()),
                ("Time", at()),
                ("Lot", format!("M{i:03}")),
                ("Bags", "4".to_owned()),
                ("Bag mass", "50".to_owned()),
                ("RFID", bag_epcs(run, 4).join(" ")),
            ]));
        }
    }
    rows
}

fn write_csv(path: &Path, header: &[&str], rows: &[Vec<String>]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(header).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.flush().unwrap();
}

/// How many events of the log have `biz_step`.
fn count(server: &Server, biz_step: &str) -> usize {
    let a = get(&server.url(&format!("/v1/events?EQ_bizStep={biz_step}&perPage=1000")));
    assert_eq!(a.status, 200, "{}", a.body);
    a.json()["lotline:entries"].as_array().unwrap().len()
}

fn text(out: &std::process::Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_day_at_the_mill_is_checked_then_imported_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let key_file = dir.path().join("mill.key");
    lotline::ledger::write_key_file(&key_file, &server.farm, false).unwrap();
    let key_file = key_file.to_str().unwrap();
    let map = dir.path().join("mill.toml");
    std::fs::write(&map, mapping()).unwrap();
    let map = map.to_str().unwrap();

    let lots = paddy_from_farms(&server, 60, "1016");
    let good = mill_day(&lots, 20);
    assert_eq!(good.len(), 60 * 2 + 60 + 20 * 3);
    let col = |name: &str| HEADER.iter().position(|h| *h == name).unwrap();

    // The same day with mistakes (rows are numbered as the spreadsheet shows them: the
    // header is row 1, data row i is row i + 2).
    let mut bad = good.clone();
    bad[4][col("Time")] = "2026-10-32 08:04".into();
    bad[9][col("Record")] = "WASH".into();
    bad[12][col("Qty")] = "-250".into();
    bad[16][col("Supplier")] = String::new();
    let first_bagging = 180;
    let mut epcs = bag_epcs(0, 4);
    let short_hex = gs1::tds::raw_uri_to_hex(&scenario::raw_uri(&scenario::sgtin(
        scenario::items::HEAD_RICE_BAG_50KG,
        10_001,
    )))
    .unwrap()[..20]
        .to_owned();
    epcs[1] = short_hex.clone();
    bad[first_bagging][col("RFID")] = epcs.join(" ");
    // A row entered twice.
    bad.push(good[0].clone());
    let bad_csv = dir.path().join("mill-day-bad.csv");
    write_csv(&bad_csv, HEADER, &bad);

    let before = size(&server);
    let report = dir.path().join("report.json");
    let out = run(&[
        "import",
        "--key",
        key_file,
        "--map",
        map,
        "--server",
        &server.base,
        "--report",
        report.to_str().unwrap(),
        bad_csv.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let hex_error = gs1::tds::hex_to_raw_uri(&short_hex).unwrap_err();
    let expected = [
        "row 6, column \"Time\": \"2026-10-32 08:04\" is not a date and time (write YYYY-MM-DD HH:MM, in the site's time +07:00)".to_owned(),
        "row 11, column \"Record\": unknown record type \"WASH\" (the mapping knows receipt: RCV; milling: MILL; bagging: BAG; moisture: MOIST)".to_owned(),
        "row 14, column \"Qty\": -250 is not a mass: it must be more than 0".to_owned(),
        "row 18, column \"Supplier\": empty; a receipt needs it".to_owned(),
        format!("row 182, column \"RFID\": {short_hex:?} is not an RFID EPC: {hex_error}"),
        "row 242, column \"Record\": the same record as row 2 (a row entered twice?)".to_owned(),
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected, "{stderr}");
    assert!(
        stderr.contains("6 problems in 6 of the 241 rows")
            && stderr.contains("nothing was submitted"),
        "{stderr}"
    );
    assert_eq!(size(&server), before, "nothing is written");
    let saved: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let saved = saved.as_array().unwrap();
    assert_eq!(saved.len(), 6);
    assert_eq!(saved[2]["row"], 14);
    assert_eq!(saved[2]["column"], "Qty");

    // A column the mapping names but the sheet lacks: named at row 1.
    let mut narrow_header = HEADER.to_vec();
    narrow_header.pop();
    let narrow: Vec<Vec<String>> = good.iter().map(|r| r[..r.len() - 1].to_vec()).collect();
    let narrow_csv = dir.path().join("narrow.csv");
    write_csv(&narrow_csv, &narrow_header, &narrow);
    let out = run(&[
        "import",
        "--map",
        map,
        "--dry-run",
        narrow_csv.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout.trim(),
        "row 1, column \"Moisture %\": the header has no such column (the mapping names it as columns.moisture)"
    );

    // The rows fixed. A dry run prints the document and writes nothing.
    let good_csv = dir.path().join("mill-day.csv");
    write_csv(&good_csv, HEADER, &good);
    let out = run(&[
        "import",
        "--map",
        map,
        "--dry-run",
        good_csv.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let doc: Value = serde_json::from_str(&stdout).unwrap();
    let planned: Vec<String> = doc["epcisBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(planned.len(), 240);
    assert!(
        stderr.contains("receipt 60, moisture 60, milling 60, bagging 60"),
        "{stderr}"
    );
    assert_eq!(size(&server), before);

    // Good rows the ledger's rules refuse (milling paddy the mill never received): the
    // capture rolls back, so the rows before it are not written either.
    let mut refused = good[..4].to_vec();
    refused.push(row(&[
        ("Record", "MILL".to_owned()),
        ("Time", "2026-10-16 09:30".to_owned()),
        ("Lot", "P1016-999".to_owned()),
        ("Qty", "1000".to_owned()),
        ("Output lot", "M999".to_owned()),
        ("Head rice", "600".to_owned()),
    ]));
    let refused_csv = dir.path().join("refused.csv");
    write_csv(&refused_csv, HEADER, &refused);
    let out = run(&[
        "import",
        "--key",
        key_file,
        "--map",
        map,
        "--server",
        &server.base,
        refused_csv.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    for (i, line) in lines[..4].iter().enumerate() {
        assert!(
            line.starts_with(&format!("row {}\t", i + 2))
                && line.contains("\trefused\tnot written"),
            "{line}"
        );
    }
    assert!(lines[4].starts_with("row 6\t"), "{}", lines[4]);
    assert!(
        lines[4].contains("\trefused\tunknown_lot: urn:epc:class:lgtin:8841234.010001.P1016-999 "),
        "the refused row names the rule: {}",
        lines[4]
    );
    assert!(stderr.contains("0 of 5 rows are in the log"), "{stderr}");
    assert_eq!(size(&server), before, "nothing is written");

    let import = |extra: &[&str]| {
        let mut args = vec!["import", "--key", key_file, "--map", map];
        args.extend(["--server", &server.base]);
        args.extend(extra);
        args.push(good_csv.to_str().unwrap());
        let out = run(&args);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        (stdout, stderr)
    };
    let (stdout, stderr) = import(&[]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 240, "{stderr}");
    for (i, line) in lines.iter().enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f[0], format!("row {}", i + 2));
        assert_eq!(f[1], planned[i], "the eventID the dry run planned");
        assert_eq!(f[2], "accepted", "{line}");
        assert!(!f[3].starts_with("already"), "{line}");
    }
    assert!(stderr.contains("240 rows of"), "{stderr}");
    assert_eq!(size(&server), before + 240);
    assert_eq!(count(&server, "receiving"), 60);
    assert_eq!(count(&server, "inspecting"), 60);
    assert_eq!(count(&server, "lotline:milling"), 60);
    assert_eq!(count(&server, "lotline:bagging"), 60);
    // A bag the reader gave as bare hex is indexed by its SGTIN.
    let hex_bag = scenario::sgtin(scenario::items::HEAD_RICE_BAG_50KG, 10_002);
    let found = get(&server.url(&format!("/events?MATCH_outputEPC={}", enc(&hex_bag)))).json();
    let found = &found["epcisBody"]["queryResults"]["resultsBody"]["eventList"];
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0]["bizStep"], "lotline:bagging");
    // The mill holds what it milled less what it bagged: the head rice of lot M000.
    let head = scenario::lgtin(scenario::items::HEAD_RICE, "M000");
    let lot = get(&server.url(&format!("/v1/lots/{}", enc(&head))));
    assert_eq!(lot.status, 200, "{}", lot.body);
    assert_eq!(
        lot.json()["onHand"]["quantity"],
        4400.0,
        "5000 kg less 3 × 4 × 50 kg: {}",
        lot.body
    );

    // Again, in capture documents of 50 events: every row is recognised, nothing changes.
    let (stdout, stderr) = import(&["--chunk-size", "50"]);
    assert_eq!(stdout.lines().count(), 240, "{stderr}");
    assert!(
        stdout
            .lines()
            .all(|l| l.contains("\taccepted\talready in the log: ")),
        "{stdout}"
    );
    assert!(stderr.contains("in 5 capture documents"), "{stderr}");
    assert_eq!(size(&server), before + 240);
}

/// The workbook as a person keeps it, on a sheet named "Day sheet": times as Excel
/// date-times (a cell that is not `YYYY-MM-DD HH:MM` as text), masses as numbers, tags as text.
fn write_xlsx(path: &Path, rows: &[Vec<String>]) {
    use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("Day sheet").unwrap();
    let when = Format::new().set_num_format("yyyy-mm-dd hh:mm");
    for (c, h) in HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *h).unwrap();
    }
    for (r, cells) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        for (c, v) in cells.iter().enumerate() {
            let c = c as u16;
            if v.is_empty() {
                continue;
            }
            let time = (HEADER[c as usize] == "Time" && v.as_bytes().get(4) == Some(&b'-'))
                .then(|| ExcelDateTime::parse_from_str(&format!("{v}:00")).ok())
                .flatten();
            if let Some(t) = time {
                sheet.write_datetime_with_format(r, c, &t, &when).unwrap();
            } else if HEADER[c as usize] == "RFID" {
                sheet.write_string(r, c, v).unwrap();
            } else if let Ok(x) = v.parse::<f64>() {
                sheet.write_number(r, c, x).unwrap();
            } else {
                sheet.write_string(r, c, v).unwrap();
            }
        }
    }
    book.save(path).unwrap();
}

#[test]
fn an_xlsx_workbook_imports_like_the_same_rows_in_csv() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let key_file = dir.path().join("mill.key");
    lotline::ledger::write_key_file(&key_file, &server.farm, false).unwrap();
    let map = dir.path().join("mill.toml");
    std::fs::write(&map, mapping()).unwrap();

    let lots = paddy_from_farms(&server, 6, "X");
    let (lots, later) = lots.split_at(3);
    let rows = mill_day(lots, 1);
    assert_eq!(rows.len(), 3 * 3 + 3);
    let csv_path = dir.path().join("day.csv");
    write_csv(&csv_path, HEADER, &rows);

    let xlsx_path = dir.path().join("day.xlsx");
    write_xlsx(&xlsx_path, &rows);
    let ids = |file: &Path| -> Vec<Value> {
        let out = run(&[
            "import",
            "--map",
            map.to_str().unwrap(),
            "--dry-run",
            file.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
        let doc: Value = serde_json::from_str(&stdout).unwrap();
        doc["epcisBody"]["eventList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["eventID"].clone())
            .collect()
    };
    let from_csv = ids(&csv_path);
    assert_eq!(from_csv.len(), 12);
    assert_eq!(ids(&xlsx_path), from_csv, "the same events from both");

    let before = size(&server);
    let out = run(&[
        "import",
        "--key",
        key_file.to_str().unwrap(),
        "--map",
        map.to_str().unwrap(),
        "--server",
        &server.base,
        "--sheet",
        "Day sheet",
        xlsx_path.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.contains("\taccepted\t"))
            .count(),
        12
    );
    assert_eq!(size(&server), before + 12);
    let first = from_csv[0].as_str().unwrap();
    let entry = get(&server.url(&format!("/v1/events/{}", enc(first))));
    assert_eq!(entry.status, 200, "{}", entry.body);
    let event = &entry.json()["entry"]["event"];
    assert_eq!(event["eventTime"], "2026-10-16T06:00:00+07:00");
    assert_eq!(event["bizStep"], "receiving");

    // Mistakes in a workbook are named by the row and column a person sees.
    let mut bad = rows.clone();
    bad[3][1] = "16/10/2026 06:03".into();
    bad[6][3] = "about 9 t".into();
    let bad_path = dir.path().join("bad.xlsx");
    write_xlsx(&bad_path, &bad);
    let out = run(&[
        "import",
        "--map",
        map.to_str().unwrap(),
        "--dry-run",
        bad_path.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "row 5, column \"Time\": \"16/10/2026 06:03\" is not a date and time (write YYYY-MM-DD HH:MM, in the site's time +07:00)",
            "row 8, column \"Qty\": \"about 9 t\" is not a number",
        ]
    );

    // In capture documents of one event each, a refused row stops the import after the rows
    // before it were written; after the fix, the same import resends those harmlessly.
    let receipt = |(code, supplier): &(String, String), time: &str| {
        row(&[
            ("Record", "RCV".to_owned()),
            ("Time", time.to_owned()),
            ("Lot", code.clone()),
            ("Qty", LOT_KG.to_string()),
            ("Supplier", supplier.clone()),
        ])
    };
    let mut later_rows = vec![
        receipt(&later[0], "2026-10-17 07:00"),
        receipt(&later[1], "2026-10-17 07:05"),
        receipt(&("PX-404".to_owned(), "F1".to_owned()), "2026-10-17 07:10"),
    ];
    let later_csv = dir.path().join("later.csv");
    write_csv(&later_csv, HEADER, &later_rows);
    let import_later = || {
        let out = run(&[
            "import",
            "--key",
            key_file.to_str().unwrap(),
            "--map",
            map.to_str().unwrap(),
            "--server",
            &server.base,
            "--chunk-size",
            "1",
            later_csv.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        (out.status.code(), stdout, stderr)
    };
    let before = size(&server);
    let (code, stdout, stderr) = import_later();
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[2].starts_with("row 4\t") && lines[2].contains("\trefused\t"));
    assert!(stderr.contains("2 of 3 rows are in the log"), "{stderr}");
    assert_eq!(size(&server), before + 2);
    later_rows[2] = receipt(&later[2], "2026-10-17 07:10");
    write_csv(&later_csv, HEADER, &later_rows);
    let (code, stdout, stderr) = import_later();
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].contains("\taccepted\talready in the log: "),
        "{stdout}"
    );
    assert!(
        lines[1].contains("\taccepted\talready in the log: "),
        "{stdout}"
    );
    assert!(
        lines[2].contains("\taccepted\t") && !lines[2].contains("already"),
        "{stdout}"
    );
    assert_eq!(size(&server), before + 3);

    // A sheet that is not there is an error (exit 2), not a report.
    let out = run(&[
        "import",
        "--map",
        map.to_str().unwrap(),
        "--dry-run",
        "--sheet",
        "Night",
        xlsx_path.to_str().unwrap(),
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("no worksheet \"Night\""), "{stderr}");
}
