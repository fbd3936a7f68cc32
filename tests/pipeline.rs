//! The write pipeline (in-process, real RocksDB in a temp dir): the sequencer decides a group
//! while the writer is still syncing the ones before it. With one event per group and every
//! submission sent before any is answered, each event is decided on top of earlier groups that
//! are (almost always) not yet in the store; whichever way the timing falls, the answers and the
//! state must be exactly those of deciding one event after the other.

mod common;

use common::{FARM, REGISTERED, TRADER_ROLES, harvest, key, sign};
use ed25519_dalek::SigningKey;
use futures_util::future::join_all;
use lotline::core::event::{self, Admitted};
use lotline::ledger::{Appended, Ledger, LedgerOptions};
use lotline::scenario::{self, kg, movement};
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

#[test]
fn events_decided_on_top_of_groups_still_being_written() {
    let dir = tempfile::tempdir().unwrap();
    let (registrar, farm, mill) = (key(), key(), key());
    let mut opts = LedgerOptions::default();
    opts.rules.registrars = vec![scenario::did(&registrar)];
    opts.max_group_events = 1;
    let ledger = Ledger::open(dir.path(), Some("pipeline.invalid/log"), opts.clone()).unwrap();

    let lot = common::fresh_lot();
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
    let rt = actix_web::rt::System::new();
    // `join_all` polls in order, so the jobs reach the sequencer in this order; none is
    // answered before all are sent.
    let answers: Vec<_> = rt
        .block_on(join_all(jobs.into_iter().map(|j| ledger.append(j))))
        .into_iter()
        .map(|a| a.expect("the ledger answers").pop().expect("one answer"))
        .collect();

    let index = |a: &Result<Appended, _>| match a {
        Ok(Appended::Created(r)) => r.index,
        other => panic!("expected a new entry, got {other:?}"),
    };
    for (i, a) in answers[..5].iter().enumerate() {
        assert_eq!(index(a), i as u64, "{a:?}");
    }
    match &answers[5] {
        Err(lotline::ledger::AppendError::Rejected(r)) => {
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
        Err(lotline::ledger::AppendError::Conflict { index, .. }) => assert_eq!(*index, 5),
        other => panic!("other content under the same eventID conflicts: {other:?}"),
    }
    assert_eq!(index(&answers[9]), 6);
    assert_eq!(ledger.head().size, 7);

    // The state the pipeline wrote: the correction returned the 400 kg to the mill.
    let key = lotline::core::profile::ident(&lot, "").unwrap().key;
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
