//! Property tests on the ledger itself (in-process, real RocksDB in a temp dir): for random
//! append sequences every inclusion and consistency proof verifies, and flipping any byte of any
//! stored entry makes `fsck` fail.

use lotline::ledger::{self, Ledger, LedgerOptions};
use lotline_profile::event::{self, Admitted};
use proptest::prelude::*;
use tlog::merkle;

fn admitted(key: &ed25519_dalek::SigningKey, n: usize) -> Admitted {
    event::admit(&crate::support::sign(
        key,
        &crate::support::event(&format!("p{n}")),
    ))
    .unwrap()
}

/// Appends the registration of the test farm, then `batches` (sizes) of its harvests, to a
/// fresh ledger in `dir`; returns the ledger (size 1 + the sum of `batches`).
fn build(dir: &std::path::Path, batches: &[usize]) -> Ledger {
    let registrar = crate::support::key();
    let key = crate::support::key();
    let mut opts = LedgerOptions::default();
    opts.rules.registrars = vec![lotline_scenario::did(&registrar)];
    let ledger = Ledger::open(dir, Some("prop.invalid/log"), opts).unwrap();
    let mut n = 0;
    let rt = actix_web::rt::System::new();
    let registration = lotline_scenario::register(
        None,
        crate::support::REGISTERED,
        crate::support::FARM,
        "farm",
        ("KH", "Takeo"),
        &["farm"],
        &[lotline_scenario::did(&key)],
        None,
    );
    let reg = event::admit(&crate::support::sign(&registrar, &registration)).unwrap();
    let out = rt.block_on(ledger.append(vec![reg])).unwrap();
    assert!(out.iter().all(Result::is_ok), "{out:?}");
    for &b in batches {
        let items: Vec<Admitted> = (0..b)
            .map(|_| {
                n += 1;
                admitted(&key, n)
            })
            .collect();
        let out = rt.block_on(ledger.append(items)).unwrap();
        assert!(out.iter().all(Result::is_ok));
    }
    ledger
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, .. ProptestConfig::default() })]

    #[test]
    fn every_proof_verifies(batches in prop::collection::vec(1usize..24, 1..6)) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = build(dir.path(), &batches);
        let n = ledger.head().size;
        prop_assert_eq!(n as usize, 1 + batches.iter().sum::<usize>());
        let roots: Vec<_> = (0..=n).map(|s| ledger.root_at(s).unwrap()).collect();
        for size in 1..=n {
            for i in 0..size {
                let leaf = merkle::leaf_hash(&ledger.entry(i).unwrap().unwrap());
                let proof = ledger.inclusion_proof(i, size).unwrap();
                prop_assert!(merkle::verify_inclusion(&leaf, i, size, &proof, &roots[size as usize]).is_ok());
            }
            for old in 1..=size {
                let proof = ledger.consistency_proof(old, size).unwrap();
                prop_assert!(merkle::verify_consistency(old, size, &roots[old as usize], &roots[size as usize], &proof).is_ok());
            }
        }
        prop_assert!(ledger.inclusion_proof(n, n).is_err());
        prop_assert!(ledger.root_at(n + 1).is_err());
    }

    #[test]
    fn flipping_any_stored_byte_fails_fsck(batches in prop::collection::vec(1usize..10, 1..4), pick in any::<u64>(), at in any::<usize>()) {
        let dir = tempfile::tempdir().unwrap();
        let n = {
            let ledger = build(dir.path(), &batches);
            ledger.head().size
        };
        prop_assert!(ledger::fsck(dir.path()).unwrap().is_clean());
        let index = pick % n;
        crate::support::tamper_entry(dir.path(), index, at);
        let report = ledger::fsck(dir.path()).unwrap();
        let (bad, _) = report.problem.expect("fsck must fail after a flipped byte");
        prop_assert_eq!(bad, Some(index));
    }
}

/// Deletes the stored entry `index` below lotline.
fn delete_entry(data: &std::path::Path, index: u64) {
    let path = data.join("db");
    let cfs = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).unwrap();
    let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, cfs).unwrap();
    db.delete_cf(db.cf_handle("entries").unwrap(), index.to_be_bytes())
        .unwrap();
}

#[test]
fn a_deleted_entry_is_named_by_fsck() {
    let dir = tempfile::tempdir().unwrap();
    drop(build(dir.path(), &[10]));
    delete_entry(dir.path(), 4);
    let (bad, what) = ledger::fsck(dir.path()).unwrap().problem.unwrap();
    assert_eq!(bad, Some(4), "{what}");
    assert!(what.contains("missing"), "{what}");

    // The newest entry gone: the chain is intact but the checkpoint covers more than is stored.
    let dir = tempfile::tempdir().unwrap();
    drop(build(dir.path(), &[10]));
    delete_entry(dir.path(), 10);
    let (_, what) = ledger::fsck(dir.path()).unwrap().problem.unwrap();
    assert!(what.contains("Merkle nodes are stored"), "{what}");
}
