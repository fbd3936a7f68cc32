//! The headless-browser harness (`crate::support::browser`) against the real server, and the buyer page
//! as a real browser parses and draws it at phone width.
//!
//! Screenshots go to the test's temp dir; set `LOTLINE_SCREENSHOTS` to a directory to keep them
//! for a look.

use std::path::{Path, PathBuf};

use crate::support::browser::{dump_dom, screenshot};
use crate::support::*;
use lotline::http::pages::buyer_page;
use lotline::provenance::view::BuyerView;
use serde_json::{Value, json};

/// A phone's viewport (iPhone 12–15 class), the width buyers scan with.
const PHONE: (u32, u32) = (390, 844);

/// Where to write screenshot (or page) `name`: `LOTLINE_SCREENSHOTS` if set, else `tmp`.
fn shot(tmp: &Path, name: &str) -> PathBuf {
    match std::env::var_os("LOTLINE_SCREENSHOTS") {
        Some(dir) => {
            std::fs::create_dir_all(&dir).expect("create LOTLINE_SCREENSHOTS");
            PathBuf::from(dir).join(name)
        }
        None => tmp.join(name),
    }
}

/// Asserts `path` is a PNG and returns its width and height (from the IHDR chunk, which the PNG
/// format requires to come first).
fn png_size(path: &Path) -> (u32, u32) {
    let png = std::fs::read(path).expect("read screenshot");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is not a PNG",
        path.display()
    );
    assert!(png.len() > 24 && &png[12..16] == b"IHDR", "no IHDR chunk");
    let be = |b: &[u8]| u32::from_be_bytes(b.try_into().unwrap());
    (be(&png[16..20]), be(&png[20..24]))
}

#[test]
fn chromium_loads_the_real_server() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"));
    let dom = dump_dom(&server.url("/"));
    // The index document, as Chromium shows a JSON answer: its text in the DOM.
    assert!(dom.contains(r#""service":"lotline""#), "{dom}");
    assert!(dom.contains("test.invalid/lotline"), "{dom}");

    let out = shot(tmp.path(), "index.png");
    screenshot(&server.url("/"), &out, PHONE.0, PHONE.1);
    assert_eq!(png_size(&out), PHONE);
    server.stop();
}

#[test]
fn buyer_page_in_chromium_at_phone_width() {
    let tmp = tempfile::tempdir().unwrap();
    let page = shot(tmp.path(), "buyer.html");
    let p = sample();
    std::fs::write(&page, buyer_page(&BuyerView::from_document(&p))).unwrap();
    let url = format!("file://{}", page.display());

    let dom = dump_dom(&url);
    assert!(dom.contains(r#"id="verdict""#), "{dom}");
    assert!(dom.contains(r#"data-verified="true""#));
    assert!(dom.contains(r#"<ol id="timeline">"#));
    let events = p["timeline"].as_array().unwrap().len();
    assert_eq!(dom.matches(r#"<li class="event""#).count(), events);
    assert_eq!(dom.matches(r#"<div class="flag""#).count(), 1);
    assert!(dom.contains("milled rice per paddy is 0.800"));
    for id in ["origin", "flags", "custody", "downloads"] {
        assert!(dom.contains(&format!(r#"id="{id}""#)), "#{id} missing");
    }
    // The hostile actor name reached the DOM as text, not as an element.
    assert!(!dom.contains("<script"), "{dom}");
    assert!(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));

    let out = shot(tmp.path(), "buyer-390.png");
    screenshot(&url, &out, PHONE.0, PHONE.1);
    assert_eq!(png_size(&out), PHONE);
}

/// A provenance document like the server's: rice from two farms (a point and a polygon), milled,
/// shipped and exported, with one plausibility flag.
fn sample() -> Value {
    let farm1 = "urn:epc:id:pgln:8841234.00001";
    let farm2 = "urn:epc:id:pgln:8841234.00002";
    let mill = "urn:epc:id:pgln:8841234.00010";
    let exporter = "urn:epc:id:pgln:8841234.00020";
    let id = "urn:epc:id:sgtin:0614141.112345.1001";
    let event = |index: u64,
                 time: &str,
                 kind: &str,
                 step: &str,
                 actor: &str,
                 name: &str,
                 role: &str,
                 what: &str| {
        json!({"index": index, "eventID": format!("urn:uuid:0190a7a4-0000-7000-8000-{index:012}"),
            "eventTime": time, "kind": kind, "bizStep": step, "actor": actor, "actorName": name,
            "role": role, "signer": "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
            "signature": "valid", "authorised": true,
            "lots": ["/01/00614141123452/10/PADDY-2026-0042"], "what": what})
    };
    json!({
        "subject": {"id": id, "key": "/01/00614141123452/21/1001", "class": "item",
            "product": "head-rice", "crop": "rice", "growingMethod": "organic",
            "digitalLink": "http://127.0.0.1:8080/01/00614141123452/21/1001"},
        "verdict": {"verified": true, "problems": [],
            "summary": "5 entries checked: signatures, signer authorisation, chain links and inclusion in the signed checkpoint of size 120"},
        "checkpoint": {"origin": "example.org/lotline", "size": 120,
            "rootHash": "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "note": "example.org/lotline\n120\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n— example.org/lotline Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"},
        "origin": {
            "farms": [{"id": farm1, "name": "Sok Farm", "province": "Battambang"},
                      {"id": farm2, "name": "<script>alert(1)</script>", "province": "Pursat"}],
            "plots": [
                {"farm": farm1, "farmName": "Sok Farm", "plotId": "KH-BTB-0042", "areaHectares": 1.8,
                 "geo": {"type": "Point", "coordinates": [103.2, 13.1]},
                 "harvestStart": "2026-11-02", "harvestEnd": "2026-11-05", "growingMethod": "organic", "index": 7},
                {"farm": farm2, "farmName": "<script>alert(1)</script>", "plotId": "KH-PUR-0117", "areaHectares": 2.25,
                 "geo": {"type": "Polygon", "coordinates": [[[103.90, 12.53], [103.91, 12.53], [103.91, 12.54], [103.90, 12.54], [103.90, 12.53]]]},
                 "harvestStart": "2026-11-03", "harvestEnd": "2026-11-04", "growingMethod": "organic", "index": 8}]
        },
        "custody": [
            {"actor": farm1, "name": "Sok Farm", "role": "farm", "from": "2026-11-05T08:00:00+07:00", "until": "2026-11-06T08:00:00+07:00", "entries": [7, 9]},
            {"actor": mill, "name": "Battambang Rice Mill Co.", "role": "mill", "from": "2026-11-06T08:00:00+07:00", "until": "2026-11-12T16:30:00+07:00", "entries": [10, 12]},
            {"actor": exporter, "name": "Mekong Grain Export Ltd", "role": "exporter", "from": "2026-11-12T16:30:00+07:00", "entries": [13]}],
        "timeline": [
            event(7, "2026-11-05T08:00:00+07:00", "harvest", "https://ref.gs1.org/cbv/BizStep-commissioning", farm1, "Sok Farm", "farm", "harvested 1,200 kg of paddy"),
            event(9, "2026-11-06T08:00:00+07:00", "shipping", "https://ref.gs1.org/cbv/BizStep-shipping", farm1, "Sok Farm", "farm", "shipped 1,200 kg of paddy to Battambang Rice Mill Co."),
            event(10, "2026-11-06T15:00:00+07:00", "receiving", "https://ref.gs1.org/cbv/BizStep-receiving", mill, "Battambang Rice Mill Co.", "mill", "received 1,200 kg of paddy"),
            event(12, "2026-11-08T10:00:00+07:00", "transformation", "lotline:milling", mill, "Battambang Rice Mill Co.", "mill", "milled 1,200 kg of paddy into 960 kg of head rice"),
            event(13, "2026-11-12T16:30:00+07:00", "shipping", "https://ref.gs1.org/cbv/BizStep-shipping", mill, "Battambang Rice Mill Co.", "mill", "shipped 960 kg of head rice to Mekong Grain Export Ltd")],
        "flags": [{"code": "milling_recovery", "message": "milled rice per paddy is 0.800 (960 kg from 1,200 kg); plausible is 0.5–0.72", "index": 12}],
        "lots": [{"key": "/01/00614141123452/10/PADDY-2026-0042", "id": "urn:epc:class:lgtin:0614141.112345.PADDY-2026-0042", "class": "lot", "product": "paddy", "createdAt": 7, "inputs": []}],
        "links": {"self": "/v1/lots/ID/provenance", "bundle": "/v1/lots/ID/bundle", "events": "/v1/epcs/ID/events",
            "lot": "/v1/lots/ID", "qrSvg": "/v1/lots/ID/qr.svg", "qrPng": "/v1/lots/ID/qr.png"}
    })
}
