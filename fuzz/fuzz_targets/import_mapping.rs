//! `lotline import`'s column mapping and row translation (`lotline_import_mapping`), on what a
//! mill sends as a mapping file and a sheet: the input is a TOML mapping, a line `%%`, then
//! comma-separated rows, the first of them the header. No panic; every event a row becomes
//! carries its CBV event hash as its eventID, is strict JSON with a canonical form, and the same
//! row gives the same event again.

#![no_main]

use data_integrity::{jcs, json};
use libfuzzer_sys::fuzz_target;
use lotline_import_mapping::Mapping;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (mapping, sheet) = text.split_once("\n%%\n").unwrap_or((text, ""));
    let Ok(m) = Mapping::parse(mapping) else {
        return;
    };
    let mut rows = sheet
        .lines()
        .map(|l| l.split(',').map(str::to_owned).collect::<Vec<String>>());
    let Some(header) = rows.next() else {
        return;
    };
    let Ok(cols) = m.header(&header) else {
        return;
    };
    for (i, cells) in rows.enumerate() {
        let row = i + 2;
        let Ok(Some(ev)) = cols.event(row, &cells) else {
            continue;
        };
        assert_eq!(ev.row, row);
        let id = ev.event_id();
        assert!(id.starts_with("ni:///sha-256;"), "{id}");
        let bytes = serde_json::to_vec(&ev.event).expect("an event serialises");
        let back = json::parse(&bytes, &json::Limits::default()).expect("strict JSON");
        assert!(!jcs::canonicalize(&back).is_empty());
        let again = cols
            .event(row, &cells)
            .expect("the same row")
            .expect("an event");
        assert_eq!(again.event, ev.event, "the same row gives the same event");
    }
});
