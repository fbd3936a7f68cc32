//! The write pipeline (in-process, real RocksDB in a temp dir): the sequencer decides a group
//! while the writer is still syncing the ones before it. With one event per group and every
//! submission sent before any is answered, each event is decided on top of earlier groups that
//! are (almost always) not yet in the store; whichever way the timing falls, the answers and the
//! state must be exactly those of deciding one event after the other.

use crate::support::{FARM, REGISTERED, TRADER_ROLES, harvest, key, sign};
use ed25519_dalek::SigningKey;
use futures_util::future::join_all;
use lotline::ledger::{AppendError, Appended, Ledger, LedgerOptions};
use lotline_profile::event::{self, Admitted};
use lotline_scenario::{self as scenario, kg, movement};
use serde_json::{Value, json};

const MILL: &str = "urn:epc:id:pgln:8841234.00098";

fn admit(key: &SigningKey, doc: &Value) -> Admitted {
    event::admit(&sign(key, doc)).expect("admitted")
}

fn registration(registrar: &SigningKey, id: &str, key: &SigningKey) -> Admitted {
    let doc = scenario::register(
        None,
        REGISTERED,
        id,
        id,
        ("KH", "Battambang"),
        TRADER_ROLES,
        &[scenario::did(key)],
        None,
    );
    admit(registrar, &doc)
}

/// A ledger in `dir` whose registrar is `registrar`; with `one_event_groups`, each event is a
/// group of its own, so later events are decided while earlier groups are still being written.
fn open_ledger(
    dir: &std::path::Path,
    registrar: &SigningKey,
    one_event_groups: bool,
) -> (Ledger, LedgerOptions) {
    let mut opts = LedgerOptions::default();
    opts.rules.registrars = vec![scenario::did(registrar)];
    if one_event_groups {
        opts.max_group_events = 1;
    }
    let ledger = Ledger::open(dir, Some("pipeline.invalid/log"), opts.clone()).unwrap();
    (ledger, opts)
}

/// Registers the farm and the mill, then appends `docs`, all as one group: entries 0 and 1 are
/// the registrations, the documents follow in order.
fn append_in_one_group(
    ledger: &Ledger,
    registrar: &SigningKey,
    (farm, mill): (&SigningKey, &SigningKey),
    docs: &[(&SigningKey, Value)],
) -> Vec<Result<Appended, AppendError>> {
    let mut job = vec![
        registration(registrar, FARM, farm),
        registration(registrar, MILL, mill),
    ];
    job.extend(docs.iter().map(|(k, d)| admit(k, d)));
    actix_web::rt::System::new()
        .block_on(ledger.append(job))
        .expect("the ledger answers")
}

/// Submits every job before any is answered, and returns each job's one answer. `join_all`
/// polls in order, so the jobs reach the sequencer in this order.
fn append_each(ledger: &Ledger, jobs: Vec<Vec<Admitted>>) -> Vec<Result<Appended, AppendError>> {
    actix_web::rt::System::new()
        .block_on(join_all(jobs.into_iter().map(|j| ledger.append(j))))
        .into_iter()
        .map(|a| a.expect("the ledger answers").pop().expect("one answer"))
        .collect()
}

#[test]
fn events_decided_on_top_of_groups_still_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let (registrar, farm, mill) = (key(), key(), key());
    let (ledger, opts) = open_ledger(dir.path(), &registrar, true);

    let lot = crate::support::fresh_lot();
    let t = |d: u32| format!("2026-06-{d:02}T08:00:00+07:00");
    let harvest_doc = harvest(&lot, 1000.0);
    let ship = movement(true, &t(2), FARM, MILL, &[], &[kg(&lot, 1000.0)]);
    let receive = movement(false, &t(3), FARM, MILL, &[], &[kg(&lot, 1000.0)]);
    // More than is left: refused, on top of the same in-flight groups.
    let overship = movement(true, &t(4), MILL, FARM, &[], &[kg(&lot, 1000.5)]);
    let ship_back = movement(true, &t(4), MILL, FARM, &[], &[kg(&lot, 400.0)]);
    let mut changed = ship_back.clone();
    changed["example:note"] = json!("same eventID, other content");
    let mut declared = ship_back.clone();
    declared["errorDeclaration"] = json!({
        "declarationTime": t(5),
        "reason": "incorrect_data",
    });

    let jobs: Vec<Vec<Admitted>> = vec![
        vec![registration(&registrar, FARM, &farm)],
        vec![registration(&registrar, MILL, &mill)],
        vec![admit(&farm, &harvest_doc)],
        vec![admit(&farm, &ship)],
        vec![admit(&mill, &receive)],
        vec![admit(&mill, &overship)],
        vec![admit(&mill, &ship_back)],
        // The same event again while the first may be in flight: its receipt, no new entry.
        vec![admit(&mill, &ship_back)],
        vec![admit(&mill, &changed)],
        // A correction waits for everything in flight to land before comparing.
        vec![admit(&mill, &declared)],
    ];
    let answers = append_each(&ledger, jobs);

    let index = |a: &Result<Appended, _>| match a {
        Ok(Appended::Created(r)) => r.index,
        other => panic!("expected a new entry, got {other:?}"),
    };
    for (i, a) in answers[..5].iter().enumerate() {
        assert_eq!(index(a), i as u64, "{a:?}");
    }
    match &answers[5] {
        Err(AppendError::Rejected(r)) => {
            assert_eq!(r.code, "insufficient_balance", "{r:?}")
        }
        other => panic!("overshipping must be refused: {other:?}"),
    }
    assert_eq!(index(&answers[6]), 5);
    match &answers[7] {
        Ok(Appended::Duplicate(r)) => assert_eq!(r.index, 5),
        other => panic!("a resubmission is a duplicate of entry 5: {other:?}"),
    }
    match &answers[8] {
        Err(AppendError::Conflict { index, .. }) => assert_eq!(*index, 5),
        other => panic!("other content under the same eventID conflicts: {other:?}"),
    }
    assert_eq!(index(&answers[9]), 6);
    assert_eq!(ledger.head().size, 7);

    // The state the pipeline wrote: the correction returned the 400 kg to the mill.
    let key = lotline_profile::profile::ident(&lot, "")
        .unwrap()
        .key
        .clone();
    let state = ledger.state();
    let record = state.lot(&key).unwrap().expect("the lot's record");
    assert_eq!(record.held_by(MILL), 1_000_000_000, "{record:?}");
    assert!(record.transit.is_empty(), "{record:?}");

    // Everything acknowledged is on disk and verifies after a reopen.
    ledger.shutdown();
    drop(ledger);
    let report = lotline::ledger::fsck(dir.path()).expect("fsck runs");
    assert!(report.is_clean(), "{report:?}");
    let reopened = Ledger::open(dir.path(), Some("pipeline.invalid/log"), opts).unwrap();
    assert_eq!(reopened.head().size, 7);
}

/// An event naming several lots, each created by a group that may still be in flight (not yet
/// in the store): every lot must be read from its group, or the shipment would find it missing.
#[test]
fn an_event_naming_several_lots_sees_those_created_by_groups_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let (registrar, farm, mill) = (key(), key(), key());
    let (ledger, _) = open_ledger(dir.path(), &registrar, true);

    let lots = [crate::support::fresh_lot(), crate::support::fresh_lot()];
    let t = |d: u32| format!("2026-06-{d:02}T08:00:00+07:00");
    let both = [kg(&lots[0], 1000.0), kg(&lots[1], 1000.0)];
    let jobs: Vec<Vec<Admitted>> = vec![
        vec![registration(&registrar, FARM, &farm)],
        vec![registration(&registrar, MILL, &mill)],
        vec![admit(&farm, &harvest(&lots[0], 1000.0))],
        vec![admit(&farm, &harvest(&lots[1], 1000.0))],
        vec![admit(&farm, &movement(true, &t(2), FARM, MILL, &[], &both))],
        vec![admit(
            &mill,
            &movement(false, &t(3), FARM, MILL, &[], &both),
        )],
    ];
    let answers = append_each(&ledger, jobs);
    for (i, a) in answers.iter().enumerate() {
        match a {
            Ok(Appended::Created(r)) => assert_eq!(r.index, i as u64),
            other => panic!("event {i} must be a new entry: {other:?}"),
        }
    }
    let state = ledger.state();
    for lot in &lots {
        let key = lotline_profile::profile::ident(lot, "")
            .unwrap()
            .key
            .clone();
        let record = state.lot(&key).unwrap().expect("the lot's record");
        assert_eq!(record.held_by(MILL), 1_000_000_000, "{record:?}");
    }
}

/// A refused event is taken back whole even after some of its changes were made in the group:
/// here a shipment whose pallet (and every bag on it) had already moved when its second line
/// was refused, and a correction whose first reversal had already run when its second was
/// refused. All in one group, so nothing is hidden by a write in between; later events of the
/// same group, and the stored state, must see exactly the state before the refused ones.
#[test]
fn refused_events_leave_no_partial_change_in_their_group() {
    use scenario::{aggregation, bagging, sgtin, sscc};
    let dir = tempfile::tempdir().unwrap();
    let (registrar, farm, mill) = (key(), key(), key());
    let (ledger, opts) = open_ledger(dir.path(), &registrar, false);

    let t = |d: u32| format!("2026-06-{d:02}T08:00:00+07:00");
    let (paddy, rice, other) = (
        crate::support::fresh_lot(),
        crate::support::fresh_lot(),
        crate::support::fresh_lot(),
    );
    let bags: Vec<String> = (0..4)
        .map(|i| sgtin(scenario::items::HEAD_RICE_BAG_50KG, 7_000 + i))
        .collect();
    let pallet = sscc(424_242);
    let pallet_line = std::slice::from_ref(&pallet);
    let harvest_rice = harvest(&rice, 200.0);
    let mut harvest_other = harvest(&other, 500.0);
    harvest_other["eventID"] = json!(format!("urn:uuid:{}", uuid::Uuid::now_v7()));
    let both = movement(
        true,
        &t(3),
        FARM,
        MILL,
        &[],
        &[kg(&paddy, 1000.0), kg(&other, 500.0)],
    );
    let mut declared = both.clone();
    declared["errorDeclaration"] = json!({"declarationTime": t(5), "reason": "incorrect_data"});

    // Numbered as they are answered: the two registrations come first.
    let docs: Vec<(&SigningKey, Value)> = vec![
        (&farm, harvest(&paddy, 1000.0)),
        (&farm, harvest_other),
        (&farm, harvest_rice),
        (&farm, bagging(&t(2), kg(&rice, 200.0), &bags, 50.0)),
        (&farm, aggregation(true, &t(2), &pallet, &bags)),
        // 7: the pallet and its four bags move, then the 600 kg line is refused.
        (
            &farm,
            movement(true, &t(3), FARM, MILL, pallet_line, &[kg(&other, 600.0)]),
        ),
        // 8: so the farm still holds the pallet, and ships it.
        (&farm, movement(true, &t(3), FARM, MILL, pallet_line, &[])),
        (&farm, both),
        (
            &mill,
            movement(false, &t(4), FARM, MILL, &[], &[kg(&paddy, 1000.0)]),
        ),
        // 11: reversing the second line (still in transit) runs first and succeeds; reversing
        // the first (received since) is refused.
        (&farm, declared),
        // 12: so the second line is still in transit, and the mill receives it.
        (
            &mill,
            movement(false, &t(4), FARM, MILL, &[], &[kg(&other, 500.0)]),
        ),
    ];
    let answers = append_in_one_group(&ledger, &registrar, (&farm, &mill), &docs);
    let refused = |i: usize, code: &str| match &answers[i] {
        Err(AppendError::Rejected(r)) => assert_eq!(r.code, code, "{r:?}"),
        other => panic!("event {i} must be refused with {code}: {other:?}"),
    };
    refused(7, "insufficient_balance");
    refused(11, "correction_conflict");
    for (i, a) in answers.iter().enumerate() {
        if i != 7 && i != 11 {
            assert!(matches!(a, Ok(Appended::Created(_))), "event {i}: {a:?}");
        }
    }

    let check = |ledger: &Ledger| {
        let state = ledger.state();
        let lot = |uri: &str| {
            let key = lotline_profile::profile::ident(uri, "")
                .unwrap()
                .key
                .clone();
            state.lot(&key).unwrap().expect("a record")
        };
        // The pallet and its bags moved once, by the accepted shipment.
        for uri in std::iter::once(&pallet).chain(&bags) {
            let l = lot(uri);
            assert!(l.held.is_empty(), "{l:?}");
            assert_eq!(l.transit.len(), 1, "{l:?}");
            assert_eq!(l.in_transit(FARM, MILL), l.amount, "{l:?}");
        }
        // Both lines of the shipment the correction could not reverse arrived at the mill.
        assert_eq!(lot(&paddy).held_by(MILL), 1_000_000_000);
        let o = lot(&other);
        assert_eq!(o.held_by(MILL), 500_000_000, "{o:?}");
        assert_eq!(o.held_by(FARM), 0, "{o:?}");
        assert!(o.transit.is_empty(), "{o:?}");
    };
    check(&ledger);
    ledger.shutdown();
    drop(ledger);
    let report = lotline::ledger::fsck(dir.path()).expect("fsck runs");
    assert!(report.is_clean(), "{report:?}");
    let reopened = Ledger::open(dir.path(), Some("pipeline.invalid/log"), opts).unwrap();
    assert_eq!(reopened.head().size, 11);
    check(&reopened);
}

/// An identifier is indexed once per entry naming it, under the EPCIS term of its role, and no
/// longer under the identifier index as well; its history is still every entry naming it, in
/// any role (a class harvested, put in and made; an item made, packed and dried; a pallet as
/// parent and in epcList), in event-time order, through the scans and through an EPCIS query,
/// and again after a restart. The keys a ledger of earlier versions also wrote under the
/// identifier index (added here to the closed store) do not make an entry come twice.
#[test]
fn each_identifier_is_indexed_once_and_its_history_finds_every_role() {
    use lotline::query::Query;
    use lotline::state::query::Scan;
    use lotline::state::{IndexKeys, tag};
    use lotline::store::{StateCf, Store};
    use scenario::{aggregation, bagging, sgtin, sscc, transform};
    let dir = tempfile::tempdir().unwrap();
    let (registrar, farm, mill) = (key(), key(), key());
    let (ledger, opts) = open_ledger(dir.path(), &registrar, false);

    let t = |d: u32| format!("2026-06-{d:02}T08:00:00+07:00");
    let (rice, dried) = (crate::support::fresh_lot(), crate::support::fresh_lot());
    let bags: Vec<String> = (0..4)
        .map(|i| sgtin(scenario::items::HEAD_RICE_BAG_50KG, 9_100 + i))
        .collect();
    let (packed, loose) = (&bags[..3], &bags[3]);
    let pallet = sscc(919_191);
    let pallet_line = std::slice::from_ref(&pallet);
    // The loose bag dried into a new lot: an input EPC, an output class.
    let mut drying = transform(&t(6), "drying", &[], &[(dried.clone(), 45.0, None)]);
    let o = drying.as_object_mut().unwrap();
    o.remove("inputQuantityList");
    o.insert("inputEPCList".into(), json!([loose]));
    let docs: Vec<(&SigningKey, Value)> = vec![
        (&farm, harvest(&rice, 200.0)),                                // 2
        (&farm, bagging(&t(2), kg(&rice, 200.0), &bags, 50.0)),        // 3
        (&farm, aggregation(true, &t(3), &pallet, packed)),            // 4
        (&farm, movement(true, &t(4), FARM, MILL, pallet_line, &[])),  // 5
        (&mill, movement(false, &t(5), FARM, MILL, pallet_line, &[])), // 6
        (&farm, drying),                                               // 7
    ];
    let answers = append_in_one_group(&ledger, &registrar, (&farm, &mill), &docs);
    for (i, a) in answers.iter().enumerate() {
        assert!(matches!(a, Ok(Appended::Created(_))), "event {i}: {a:?}");
    }

    let key_of = |uri: &str| {
        lotline_profile::profile::ident(uri, "")
            .unwrap()
            .key
            .clone()
    };
    let idents = |store: &Store| {
        store
            .scan_state(StateCf::Index, &[tag::IDENT], &[tag::IDENT + 1], 100)
            .unwrap()
    };
    // Each identifier's entries, as (identifier, entry indexes in event-time order).
    let expected: Vec<(&str, Vec<u64>)> = [
        // The harvested lot: harvested (quantityList), bagged (inputQuantityList).
        (rice.as_str(), vec![2, 3]),
        // The loose bag: made (outputEPCList), dried (inputEPCList).
        (loose.as_str(), vec![3, 7]),
        // The dried lot: made (outputQuantityList).
        (dried.as_str(), vec![7]),
        // The pallet: packed (parentID), shipped and received (epcList).
        (pallet.as_str(), vec![4, 5, 6]),
    ]
    .into_iter()
    // A packed bag: made, then put on the pallet (childEPCs).
    .chain(packed.iter().map(|b| (b.as_str(), vec![3, 4])))
    .collect();
    let check = |ledger: &Ledger| {
        for (uri, entries) in &expected {
            let page = ledger
                .state()
                .scan(
                    &Scan::Ident(key_of(uri)),
                    i64::MIN,
                    i64::MAX,
                    None,
                    100,
                    |_| Ok(true),
                )
                .unwrap();
            assert!(page.next.is_none());
            assert_eq!(&page.indexes, entries, "{uri}");
        }
    };
    // The same through the query engine's index cursors (`/v1/epcs/{epc}/events`).
    let query = |store: &Store| {
        for (uri, entries) in &expected {
            let value = json!(uri);
            let q = Query::parse([("MATCH_identifier", &value)]).unwrap();
            let page = q.page(store, None, 100).unwrap();
            let found: Vec<u64> = page.entries.iter().map(|e| e.index).collect();
            assert_eq!(&found, entries, "{uri}");
        }
    };
    check(&ledger);
    ledger.shutdown();
    drop(ledger);

    let store = Store::open(&lotline::ledger::db_path(dir.path())).unwrap();
    assert!(idents(&store).is_empty(), "{:?}", idents(&store));
    query(&store);
    drop(store);
    let reopened = Ledger::open(dir.path(), Some("pipeline.invalid/log"), opts.clone()).unwrap();
    check(&reopened);
    reopened.shutdown();
    drop(reopened);

    // What an earlier version wrote besides: each identifier under the identifier index.
    let store = Store::open(&lotline::ledger::db_path(dir.path())).unwrap();
    // Entry `index` is document `index - 2` (after the two registrations).
    let time_of = |index: u64| {
        let doc = &docs[usize::try_from(index - 2).unwrap()].1;
        lotline_profile::profile::parse_time_ms(doc["eventTime"].as_str().expect("an eventTime"))
            .expect("a time")
    };
    let mut legacy = IndexKeys::default();
    for (uri, entries) in &expected {
        for &i in entries {
            legacy.push_index(tag::IDENT, &key_of(uri), time_of(i), i);
        }
    }
    let mut batch = store.batch();
    for k in legacy.sorted() {
        batch.put_state(StateCf::Index, k, b"");
    }
    batch.commit().unwrap();
    assert_eq!(idents(&store).len(), legacy.len());
    query(&store);
    drop(store);

    let reopened = Ledger::open(dir.path(), Some("pipeline.invalid/log"), opts).unwrap();
    check(&reopened);
}
