//! The trace against a real ledger (a temp RocksDB, the real sequencer and rules): chosen
//! scenarios, and random supply chains checked against a brute-force replay of the whole log.

use std::collections::{BTreeSet, HashMap};

use ed25519_dalek::SigningKey;
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;
use crate::ledger::{Appended, Ledger, LedgerOptions};
use crate::state::{Effect, Place};
use data_integrity::di;
use lotline_profile::{event, profile};
use lotline_scenario::{self as scenario, items, kg as q};

const ROLES: &[&str] = &[
    "farm",
    "cooperative",
    "collector",
    "mill",
    "processor",
    "packer",
    "warehouse",
    "exporter",
    "importer",
];

/// A ledger in a temp directory with `n` registered actors holding every trading role.
struct World {
    ledger: Ledger,
    rt: tokio::runtime::Runtime,
    keys: Vec<SigningKey>,
    ids: Vec<String>,
    clock: u32,
    _dir: tempfile::TempDir,
}

impl World {
    fn new(n: usize) -> World {
        let dir = tempfile::tempdir().unwrap();
        let registrar = scenario::seeded_key("recall test registrar");
        let opts = LedgerOptions {
            rules: crate::state::Rules {
                registrars: vec![scenario::did(&registrar)],
                max_future_ms: 300_000,
                ..Default::default()
            },
            ..LedgerOptions::default()
        };
        let ledger = Ledger::open(dir.path(), Some("test.invalid/recall"), opts).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let keys: Vec<SigningKey> = (0..n)
            .map(|i| scenario::seeded_key(&format!("recall test actor {i}")))
            .collect();
        let ids: Vec<String> = (0..n).map(|i| scenario::pgln(i as u32 + 1)).collect();
        let w = World {
            ledger,
            rt,
            keys,
            ids,
            clock: 0,
            _dir: dir,
        };
        for i in 0..n {
            let doc = scenario::register(
                None,
                "2026-01-01T00:00:00Z",
                &w.ids[i],
                &format!("Actor {i}"),
                ("KH", "Battambang"),
                ROLES,
                &[scenario::did(&w.keys[i])],
                None,
            );
            w.submit_as(&registrar, &doc).unwrap();
        }
        w
    }

    /// A fresh event time, later than every one before.
    fn t(&mut self) -> String {
        self.clock += 1;
        format!(
            "2026-03-{:02}T{:02}:{:02}:00Z",
            1 + self.clock / 1440,
            (self.clock / 60) % 24,
            self.clock % 60
        )
    }

    fn submit_as(&self, key: &SigningKey, doc: &Value) -> Result<u64, String> {
        let signed = di::sign(doc, key, "2026-11-20T00:00:00Z").unwrap();
        let admitted = event::admit(&signed).map_err(|e| format!("{e:?}"))?;
        let mut out = self
            .rt
            .block_on(self.ledger.append(vec![admitted]))
            .unwrap();
        match out.remove(0) {
            Ok(Appended::Created(r) | Appended::Duplicate(r)) => Ok(r.index),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Signs `doc` as actor `a` and appends it; the entry index, or the refusal.
    fn submit(&self, a: usize, doc: &Value) -> Result<u64, String> {
        self.submit_as(&self.keys[a], doc)
    }

    fn ok(&self, a: usize, doc: &Value) -> u64 {
        self.submit(a, doc)
            .unwrap_or_else(|e| panic!("refused: {e}\n{doc}"))
    }

    fn harvest(&mut self, a: usize, urn: &str, kg: f64) -> u64 {
        let t = self.t();
        let doc = scenario::harvest(
            None,
            &t,
            urn,
            kg,
            &self.ids[a],
            "rice",
            None,
            scenario::plot("P", "Battambang", 100.0, 103.2, 13.1),
            "organic",
        );
        self.ok(a, &doc)
    }

    /// Ships (`ship`) or receives `epcs` and `quantities` between actors `a` and `b`; signed
    /// by the sender or the receiver.
    fn movement(&mut self, ship: bool, a: usize, b: usize, epcs: &[String], qs: &[Value]) -> Value {
        let t = self.t();
        scenario::movement(ship, &t, &self.ids[a], &self.ids[b], epcs, qs)
    }

    fn trace(&self, urn: &str) -> Recall {
        downstream(&self.ledger.state(), &key(urn), Limits::default())
            .unwrap()
            .unwrap()
    }
}

fn key(urn: &str) -> String {
    profile::ident(urn, "").unwrap().key.clone()
}

fn keys(urns: &[&str]) -> Vec<String> {
    let mut k: Vec<String> = urns.iter().map(|u| key(u)).collect();
    k.sort();
    k
}

fn lot_keys(r: &Recall) -> Vec<String> {
    let mut k: Vec<String> = r.lots.iter().map(|l| l.key.clone()).collect();
    k.sort();
    k
}

fn unit_keys(r: &Recall) -> Vec<String> {
    let mut k: Vec<String> = r.units.iter().map(|l| l.key.clone()).collect();
    k.sort();
    k
}

fn recipients(r: &Recall) -> Vec<String> {
    r.recipients.iter().map(|x| x.id.clone()).collect()
}

#[test]
fn a_lot_never_used_is_its_own_trace() {
    let mut w = World::new(1);
    let lot = scenario::lgtin(items::PADDY, "ALONE");
    w.harvest(0, &lot, 500.0);
    let r = w.trace(&lot);
    assert_eq!(r.root.id, lot);
    assert_eq!(lot_keys(&r), keys(&[&lot]));
    assert_eq!(r.lots[0].depth, 0);
    assert!(r.lots[0].via.is_none() && r.lots[0].path.is_empty());
    assert!(r.units.is_empty() && r.shipments.is_empty() && r.recipients.is_empty());
    assert_eq!(r.lots[0].held[0].actor, w.ids[0]);
    // Nothing at all under an unknown key.
    let none = downstream(
        &w.ledger.state(),
        &key("urn:epc:id:sscc:8841234.0000000099"),
        Limits::default(),
    )
    .unwrap();
    assert!(none.is_none());
}

#[test]
fn a_harvest_reaches_milled_rice_bags_units_the_export_and_the_importer() {
    let mut w = World::new(4);
    let (farm, mill, exporter, importer) = (0, 1, 2, 3);
    let paddy = scenario::lgtin(items::PADDY, "CHAIN");
    let other = scenario::lgtin(items::PADDY, "OTHER");
    w.harvest(farm, &paddy, 2000.0);
    w.harvest(mill, &other, 1000.0);
    let d = w.movement(true, farm, mill, &[], &[q(&paddy, 2000.0)]);
    let shipped = w.ok(farm, &d);
    let d = w.movement(false, farm, mill, &[], &[q(&paddy, 2000.0)]);
    let received = w.ok(mill, &d);
    let head = scenario::lgtin(items::HEAD_RICE, "CHAIN");
    let broken = scenario::lgtin(items::BROKEN_RICE, "CHAIN");
    let t = w.t();
    let milling = w.ok(
        mill,
        &scenario::transform(
            &t,
            "milling",
            &[q(&paddy, 2000.0), q(&other, 1000.0)],
            &[
                (head.clone(), 1200.0, Some("head-rice")),
                (broken.clone(), 600.0, Some("broken-rice")),
            ],
        ),
    );
    let bags: Vec<String> = (1..=4)
        .map(|s| scenario::sgtin(items::HEAD_RICE_BAG_50KG, s))
        .collect();
    let t = w.t();
    w.ok(mill, &scenario::bagging(&t, q(&head, 200.0), &bags, 50.0));
    let pallet = scenario::sscc(1);
    let container = scenario::sscc(2);
    let t = w.t();
    let packed = w.ok(mill, &scenario::aggregation(true, &t, &pallet, &bags));
    let t = w.t();
    w.ok(
        mill,
        &scenario::aggregation(true, &t, &container, std::slice::from_ref(&pallet)),
    );
    let d = w.movement(true, mill, exporter, std::slice::from_ref(&container), &[]);
    let leg1 = w.ok(mill, &d);
    let d = w.movement(false, mill, exporter, std::slice::from_ref(&container), &[]);
    w.ok(exporter, &d);
    let d = w.movement(
        true,
        exporter,
        importer,
        std::slice::from_ref(&container),
        &[],
    );
    let export = w.ok(exporter, &d);
    let d = w.movement(
        false,
        exporter,
        importer,
        std::slice::from_ref(&container),
        &[],
    );
    let arrival = w.ok(importer, &d);

    let r = w.trace(&paddy);
    let mut want: Vec<&str> = vec![&paddy, &head, &broken];
    want.extend(bags.iter().map(String::as_str));
    assert_eq!(lot_keys(&r), keys(&want));
    assert_eq!(unit_keys(&r), keys(&[&pallet, &container]));
    // The other paddy went into the same milling, but is not downstream of this one.
    assert!(!lot_keys(&r).contains(&key(&other)));
    let h = r.lots.iter().find(|l| l.id == head).unwrap();
    let via = h.via.as_ref().unwrap();
    assert_eq!(
        (via.from.as_str(), via.entry, via.kind),
        (key(&paddy).as_str(), milling, "milling")
    );
    assert_eq!(h.growing_method.as_deref(), Some("organic"));
    let c = r.units.iter().find(|u| u.id == container).unwrap();
    assert_eq!(c.depth, 4, "paddy → head rice → bag → pallet → container");
    let steps: Vec<&str> = c.path.iter().map(|s| s.kind).collect();
    assert_eq!(steps, ["milling", "bagging", "packing", "packing"]);
    assert_eq!(c.path.last().unwrap().key, key(&container));
    assert_eq!(c.custodian.as_deref(), Some(w.ids[importer].as_str()));
    let p = r.units.iter().find(|u| u.id == pallet).unwrap();
    assert_eq!(p.packed.as_ref().unwrap().entry, packed);
    assert_eq!(p.packed_in.as_deref(), Some(key(&container).as_str()));

    let entries: Vec<u64> = r.shipments.iter().map(|s| s.entry).collect();
    assert_eq!(entries, [shipped, leg1, export]);
    let s = &r.shipments[0];
    assert_eq!(s.lots, keys(&[&paddy]));
    assert_eq!(s.mass.as_ref().unwrap().quantity, 2000.0);
    assert!(s.received);
    assert_eq!(s.receipts[0].entry, received);
    let e = &r.shipments[2];
    assert_eq!(e.units, keys(&[&pallet, &container]));
    assert_eq!(e.lots.len(), 4);
    assert_eq!(e.mass.as_ref().unwrap().quantity, 200.0);
    assert_eq!(e.receipts[0].entry, arrival);
    assert_eq!(
        recipients(&r),
        [
            w.ids[mill].clone(),
            w.ids[exporter].clone(),
            w.ids[importer].clone()
        ]
    );
    let imp = r.recipients.last().unwrap();
    assert_eq!(imp.first_received.as_ref().unwrap().entry, arrival);
    assert_eq!(
        imp.roles,
        ROLES
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    assert_eq!(imp.name.as_deref(), Some("Actor 3"));

    // From the broken rice, nothing goes further; from the pallet, the container and its legs.
    let b = w.trace(&broken);
    assert_eq!(lot_keys(&b), keys(&[&broken]));
    let u = w.trace(&pallet);
    assert!(u.lots.is_empty());
    assert_eq!(unit_keys(&u), keys(&[&pallet, &container]));
    assert_eq!(u.shipments.len(), 2);
    assert!(u.shipments.iter().all(|s| s.mass.is_none()));
    assert!(
        u.units
            .iter()
            .find(|x| x.id == pallet)
            .unwrap()
            .carried
            .is_empty()
    );
}

/// Bags `kg` of `lot` (held by actor `a`) into `n` bags with serials from `first`.
fn bag(w: &mut World, a: usize, lot: &str, n: u64, first: u64, kg: f64) -> Vec<String> {
    let bags: Vec<String> = (first..first + n)
        .map(|s| scenario::sgtin(items::HEAD_RICE_BAG_50KG, s))
        .collect();
    let t = w.t();
    w.ok(a, &scenario::bagging(&t, q(lot, kg * n as f64), &bags, kg));
    bags
}

#[test]
fn units_carry_only_while_traced_goods_are_inside() {
    let mut w = World::new(3);
    let lot = scenario::lgtin(items::HEAD_RICE, "IN-OUT");
    let other = scenario::lgtin(items::HEAD_RICE, "NOT-TRACED");
    w.harvest(0, &lot, 100.0);
    w.harvest(0, &other, 100.0);
    let bags = bag(&mut w, 0, &lot, 2, 100, 50.0);
    let others = bag(&mut w, 0, &other, 1, 200, 50.0);
    let (pallet, box2, container) = (scenario::sscc(11), scenario::sscc(12), scenario::sscc(13));
    // A traced bag rides in the pallet, then leaves it.
    let t = w.t();
    let packed = w.ok(0, &scenario::aggregation(true, &t, &pallet, &bags[..1]));
    let t = w.t();
    let unpacked = w.ok(0, &scenario::aggregation(false, &t, &pallet, &[]));
    // The empty pallet goes into a container with other goods, which is shipped: not traced.
    let t = w.t();
    w.ok(0, &scenario::aggregation(true, &t, &box2, &others));
    let t = w.t();
    w.ok(
        0,
        &scenario::aggregation(true, &t, &container, &[pallet.clone(), box2.clone()]),
    );
    let d = w.movement(true, 0, 1, std::slice::from_ref(&container), &[]);
    w.ok(0, &d);
    // The other bag goes to actor 2 on its own.
    let d = w.movement(true, 0, 2, &bags[1..], &[]);
    let direct = w.ok(0, &d);

    let r = w.trace(&lot);
    assert_eq!(lot_keys(&r), keys(&[&lot, &bags[0], &bags[1]]));
    assert_eq!(unit_keys(&r), keys(&[&pallet]));
    let p = &r.units[0];
    assert_eq!(p.carried.len(), 1);
    assert_eq!(
        (p.carried[0].from, p.carried[0].until),
        (packed, Some(unpacked))
    );
    assert_eq!(r.shipments.len(), 1);
    assert_eq!(r.shipments[0].entry, direct);
    assert_eq!(r.shipments[0].lots, keys(&[&bags[1]]));
    assert!(!r.shipments[0].received);
    assert_eq!(recipients(&r), [w.ids[2].clone()]);
    assert!(r.recipients[0].first_received.is_none());
}

#[test]
fn goods_unpacked_inside_a_container_do_not_travel_with_it() {
    let mut w = World::new(2);
    let lot = scenario::lgtin(items::HEAD_RICE, "LEFT-BEHIND");
    w.harvest(0, &lot, 100.0);
    let bags = bag(&mut w, 0, &lot, 1, 300, 50.0);
    let (pallet, container) = (scenario::sscc(21), scenario::sscc(22));
    let t = w.t();
    w.ok(0, &scenario::aggregation(true, &t, &pallet, &bags));
    let t = w.t();
    w.ok(
        0,
        &scenario::aggregation(true, &t, &container, std::slice::from_ref(&pallet)),
    );
    // The bag comes out of the pallet while the pallet sits in the container.
    let t = w.t();
    let out = w.ok(0, &scenario::aggregation(false, &t, &pallet, &bags));
    let d = w.movement(true, 0, 1, std::slice::from_ref(&container), &[]);
    w.ok(0, &d);
    let r = w.trace(&lot);
    assert_eq!(unit_keys(&r), keys(&[&pallet, &container]));
    for u in &r.units {
        assert_eq!(u.carried.last().unwrap().until, Some(out), "{}", u.id);
    }
    assert!(r.shipments.is_empty(), "{:?}", r.shipments);
    assert!(r.recipients.is_empty());
}

#[test]
fn a_split_lot_reaches_both_recipients_and_a_corrected_shipment_none() {
    let mut w = World::new(4);
    let lot = scenario::lgtin(items::PADDY, "SPLIT");
    w.harvest(0, &lot, 1000.0);
    let d = w.movement(true, 0, 1, &[], &[q(&lot, 300.0)]);
    w.ok(0, &d);
    let d = w.movement(true, 0, 2, &[], &[q(&lot, 200.0)]);
    w.ok(0, &d);
    // Received in two parts.
    let d = w.movement(false, 0, 2, &[], &[q(&lot, 50.0)]);
    let first = w.ok(2, &d);
    let d = w.movement(false, 0, 2, &[], &[q(&lot, 150.0)]);
    let second = w.ok(2, &d);
    // A shipment to actor 3, declared erroneous.
    let mut wrong = w.movement(true, 0, 3, &[], &[q(&lot, 100.0)]);
    w.ok(0, &wrong);
    wrong["errorDeclaration"] = json!({"declarationTime": w.t(), "reason": "incorrect_data"});
    w.ok(0, &wrong);

    let r = w.trace(&lot);
    assert_eq!(recipients(&r), [w.ids[1].clone(), w.ids[2].clone()]);
    assert_eq!(r.shipments.len(), 2);
    assert!(!r.shipments[0].received);
    let s = &r.shipments[1];
    assert!(s.received);
    let got: Vec<u64> = s.receipts.iter().map(|a| a.entry).collect();
    assert_eq!(got, [first, second]);
    assert_eq!(s.mass.as_ref().unwrap().quantity, 200.0);
    assert_eq!(
        r.recipients[1].first_received.as_ref().unwrap().entry,
        first
    );
    assert_eq!(r.lots[0].held.len(), 2, "the farm and actor 2 hold parts");
}

#[test]
fn a_trace_beyond_the_caps_is_refused() {
    let mut w = World::new(1);
    let paddy = scenario::lgtin(items::PADDY, "CAP");
    w.harvest(0, &paddy, 1000.0);
    let t = w.t();
    let outs: Vec<(String, f64, Option<&str>)> = (0..5)
        .map(|i| {
            (
                scenario::lgtin(items::BRAN, &format!("CAP{i}")),
                10.0,
                Some("bran"),
            )
        })
        .collect();
    w.ok(
        0,
        &scenario::transform(&t, "milling", &[q(&paddy, 1000.0)], &outs),
    );
    let reader = w.ledger.state();
    let k = key(&paddy);
    assert_eq!(
        downstream(&reader, &k, Limits::nodes(6))
            .unwrap()
            .unwrap()
            .lots
            .len(),
        6
    );
    assert!(matches!(
        downstream(&reader, &k, Limits::nodes(5)),
        Err(TraceError::TooManyNodes(5))
    ));
    let tight = Limits {
        max_nodes: 100,
        max_entries: 3,
    };
    assert!(matches!(
        downstream(&reader, &k, tight),
        Err(TraceError::TooManyEntries(3))
    ));
}

// ---- random supply chains against a brute-force replay ----

/// One random step; its numbers pick among what exists when it runs.
#[derive(Debug, Clone)]
enum Op {
    Harvest(u8),
    Transform(u8, u8, u8),
    Bag(u8),
    Pack(u8, u8, u8),
    Unpack(u8, bool),
    Ship(u8, u8, u8),
    Receive(u8, bool),
    Correct(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => any::<u8>().prop_map(Op::Harvest),
        2 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, b, c)| Op::Transform(a, b, c)),
        1 => any::<u8>().prop_map(Op::Bag),
        3 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, b, c)| Op::Pack(a, b, c)),
        2 => (any::<u8>(), any::<bool>()).prop_map(|(a, b)| Op::Unpack(a, b)),
        3 => (any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(a, b, c)| Op::Ship(a, b, c)),
        3 => (any::<u8>(), any::<bool>()).prop_map(|(a, b)| Op::Receive(a, b)),
        1 => any::<u8>().prop_map(Op::Correct),
    ]
}

fn pick<T: Clone>(v: &[T], n: u8) -> Option<T> {
    (!v.is_empty()).then(|| v[n as usize % v.len()].clone())
}

/// Runs `ops` against a world of three actors, choosing plausible arguments from the ledger's
/// state; the rules refuse what is still wrong, which is fine. Returns every URN created.
fn play(w: &mut World, ops: &[Op]) -> Vec<String> {
    let mut urns: Vec<String> = Vec::new();
    let mut accepted: Vec<(usize, Value)> = Vec::new();
    let mut serial = 0u64;
    for op in ops {
        serial += 1;
        let t = w.t();
        let reader = w.ledger.state();
        let recs: Vec<(String, crate::state::LotRecord)> = urns
            .iter()
            .filter_map(|u| {
                let r = reader.lot(&key(u)).ok()??;
                (r.voided_by.is_none()).then(|| (u.clone(), r))
            })
            .collect();
        let holder = |r: &crate::state::LotRecord| r.held.iter().next().map(|(a, _)| a.clone());
        let actor_of = |id: &str| w.ids.iter().position(|x| x == id);
        // Top-level goods someone holds.
        let loose: Vec<&(String, crate::state::LotRecord)> = recs
            .iter()
            .filter(|(_, r)| r.parent.is_none() && !r.held.is_empty())
            .collect();
        let step: Option<(usize, Value, Vec<String>)> = match op {
            Op::Harvest(a) => {
                let a = *a as usize % w.ids.len();
                let urn = scenario::lgtin(items::PADDY, &format!("H{serial}"));
                let doc = scenario::harvest(
                    None,
                    &t,
                    &urn,
                    100.0 + f64::from(serial as u32 % 7) * 50.0,
                    &w.ids[a],
                    "rice",
                    None,
                    scenario::plot("P", "Battambang", 100.0, 103.2, 13.1),
                    "organic",
                );
                Some((a, doc, vec![urn]))
            }
            Op::Transform(x, y, n) => {
                let lots: Vec<_> = loose
                    .iter()
                    .filter(|(_, r)| r.class == profile::IdClass::Lot)
                    .collect();
                pick(&lots, *x).and_then(|(u1, r1)| {
                    let a = holder(r1)?;
                    let mut ins = vec![(u1.clone(), (r1.held_by(&a) / 2_000_000).max(1))];
                    if let Some((u2, r2)) = pick(&lots, *y)
                        && u2 != u1
                        && r2.held_by(&a) >= 2_000_000
                    {
                        ins.push((u2.clone(), r2.held_by(&a) / 2_000_000));
                    }
                    let total: i64 = ins.iter().map(|(_, k)| k).sum();
                    let outs: Vec<(String, f64, Option<&str>)> = (0..1 + *n as usize % 2)
                        .map(|i| {
                            (
                                scenario::lgtin(items::HEAD_RICE, &format!("T{serial}-{i}")),
                                (total / 3).max(1) as f64,
                                Some("head-rice"),
                            )
                        })
                        .collect();
                    let qs: Vec<Value> = ins.iter().map(|(u, k)| q(u, *k as f64)).collect();
                    let new: Vec<String> = outs.iter().map(|o| o.0.clone()).collect();
                    Some((
                        actor_of(&a)?,
                        scenario::transform(&t, "milling", &qs, &outs),
                        new,
                    ))
                })
            }
            Op::Bag(x) => {
                let lots: Vec<_> = loose
                    .iter()
                    .filter(|(_, r)| r.class == profile::IdClass::Lot)
                    .collect();
                pick(&lots, *x).and_then(|(u, r)| {
                    let a = holder(r)?;
                    if r.held_by(&a) < 20_000_000 {
                        return None;
                    }
                    let bags: Vec<String> = (0..2)
                        .map(|i| scenario::sgtin(items::HEAD_RICE_BAG_50KG, serial * 10 + i))
                        .collect();
                    Some((
                        actor_of(&a)?,
                        scenario::bagging(&t, q(u, 20.0), &bags, 10.0),
                        bags,
                    ))
                })
            }
            Op::Pack(x, y, z) => {
                // Whole goods held entirely by one actor.
                let whole: Vec<_> = loose
                    .iter()
                    .filter(|(_, r)| {
                        r.class != profile::IdClass::Lot
                            && r.held.len() == 1
                            && r.held.values().next() == Some(&r.amount)
                    })
                    .collect();
                pick(&whole, *x).and_then(|(u1, r1)| {
                    let a = holder(r1)?;
                    let mut children = vec![u1.clone()];
                    if let Some((u2, r2)) = pick(&whole, *y)
                        && u2 != u1
                        && holder(r2).as_deref() == Some(a.as_str())
                    {
                        children.push(u2.clone());
                    }
                    // Into an existing unit of the same holder, or a new one.
                    let units: Vec<_> = whole
                        .iter()
                        .filter(|(u, r)| {
                            r.class == profile::IdClass::Unit
                                && holder(r).as_deref() == Some(a.as_str())
                                && !children.contains(u)
                        })
                        .collect();
                    let (parent, new) = match pick(&units, *z).filter(|_| *z % 2 == 0) {
                        Some((u, _)) => (u.clone(), vec![]),
                        None => {
                            let u = scenario::sscc(serial);
                            (u.clone(), vec![u])
                        }
                    };
                    Some((
                        actor_of(&a)?,
                        scenario::aggregation(true, &t, &parent, &children),
                        new,
                    ))
                })
            }
            Op::Unpack(x, all) => {
                let units: Vec<_> = recs
                    .iter()
                    .filter(|(_, r)| r.class == profile::IdClass::Unit && !r.children.is_empty())
                    .collect();
                pick(&units, *x).and_then(|(u, r)| {
                    let a = r.custodian()?.to_owned();
                    let children: Vec<String> = if *all {
                        vec![]
                    } else {
                        let c = &r.children[0];
                        vec![urns.iter().find(|x| key(x) == *c)?.clone()]
                    };
                    Some((
                        actor_of(&a)?,
                        scenario::aggregation(false, &t, u, &children),
                        vec![],
                    ))
                })
            }
            Op::Ship(x, to, part) => pick(&loose, *x).and_then(|(u, r)| {
                let a = holder(r)?;
                let from = actor_of(&a)?;
                let to = (from + 1 + *to as usize % (w.ids.len() - 1)) % w.ids.len();
                let doc = if r.class == profile::IdClass::Lot {
                    let held = r.held_by(&a) / 1_000_000;
                    let amount = if *part % 2 == 0 {
                        held
                    } else {
                        (held / 2).max(1)
                    };
                    scenario::movement(true, &t, &a, &w.ids[to], &[], &[q(u, amount as f64)])
                } else {
                    scenario::movement(true, &t, &a, &w.ids[to], std::slice::from_ref(u), &[])
                };
                Some((from, doc, vec![]))
            }),
            Op::Receive(x, part) => {
                let moving: Vec<_> = recs.iter().filter(|(_, r)| !r.transit.is_empty()).collect();
                pick(&moving, *x).and_then(|(u, r)| {
                    let line = &r.transit[0];
                    let to = actor_of(&line.to)?;
                    let doc = if r.class == profile::IdClass::Lot {
                        let kg = line.amount / 1_000_000;
                        let amount = if *part { (kg / 2).max(1) } else { kg };
                        scenario::movement(
                            false,
                            &t,
                            &line.from,
                            &line.to,
                            &[],
                            &[q(u, amount as f64)],
                        )
                    } else {
                        scenario::movement(
                            false,
                            &t,
                            &line.from,
                            &line.to,
                            std::slice::from_ref(u),
                            &[],
                        )
                    };
                    Some((to, doc, vec![]))
                })
            }
            Op::Correct(x) => pick(&accepted, *x).map(|(a, mut doc)| {
                doc["errorDeclaration"] = json!({"declarationTime": t, "reason": "incorrect_data"});
                (a, doc, vec![])
            }),
        };
        if let Some((a, doc, new)) = step
            && w.submit(a, &doc).is_ok()
        {
            urns.extend(new);
            if doc.get("errorDeclaration").is_none() {
                accepted.push((a, doc));
            }
        }
    }
    urns
}

/// What a replay of the whole log, entry by entry, says is downstream of `root`.
#[derive(Debug, PartialEq, Eq)]
struct Oracle {
    traced: BTreeSet<String>,
    carriers: BTreeSet<String>,
    shipments: BTreeSet<u64>,
    recipients: BTreeSet<String>,
}

fn oracle(ledger: &Ledger, root: &str) -> Oracle {
    let reader = ledger.state();
    let size = ledger.head().size;
    let mut traced: BTreeSet<String> = [root.to_owned()].into();
    let mut carriers = BTreeSet::new();
    let mut shipments = BTreeSet::new();
    let mut recipients = BTreeSet::new();
    // The packing tree as it stands: child → parent.
    let mut parent: HashMap<String, String> = HashMap::new();
    let carries = |parent: &HashMap<String, String>, traced: &BTreeSet<String>, k: &str| {
        traced.iter().any(|t| {
            let mut at = Some(t.as_str());
            while let Some(x) = at {
                if x == k {
                    return true;
                }
                at = parent.get(x).map(String::as_str);
            }
            false
        })
    };
    for i in 0..size {
        let Some(m) = reader.meta(i).unwrap() else {
            continue;
        };
        if m.corrected_by.is_some() || m.corrects.is_some() {
            continue;
        }
        let consumed_traced = m.effects.iter().any(
            |e| matches!(e, Effect::Move { key, to: Place::Consumed, .. } if traced.contains(key)),
        );
        for e in &m.effects {
            match e {
                Effect::Create { key, .. } if consumed_traced => {
                    traced.insert(key.clone());
                }
                Effect::Parent { children, old, new } => {
                    for c in children {
                        if let Some(u) = new
                            && carries(&parent, &traced, c)
                        {
                            carriers.insert(u.clone());
                        }
                    }
                    for c in children {
                        match new {
                            Some(u) => {
                                parent.insert(c.clone(), u.clone());
                            }
                            None => {
                                if parent.get(c) == old.as_ref() {
                                    parent.remove(c);
                                }
                            }
                        }
                    }
                }
                Effect::Move {
                    key,
                    from: Place::Held { .. },
                    to: Place::Transit { to, .. },
                    ..
                } if carries(&parent, &traced, key) => {
                    shipments.insert(i);
                    recipients.insert(to.clone());
                }
                _ => {}
            }
        }
    }
    for t in &traced {
        carriers.remove(t);
    }
    Oracle {
        traced,
        carriers,
        shipments,
        recipients,
    }
}

/// Every edge is recorded by its entry: the entry is live and names both ends the right way.
fn check_edges(reader: &StateReader<'_>, c: &Closure) {
    for e in &c.edges {
        let m = reader.meta(e.entry).unwrap().unwrap();
        assert!(m.corrected_by.is_none() && m.corrects.is_none(), "{e:?}");
        let ok = match e.link {
            Link::Transformed => {
                m.effects.iter().any(|x| {
                    matches!(x, Effect::Move { key, to: Place::Consumed, .. } if *key == e.from)
                }) && m
                    .effects
                    .iter()
                    .any(|x| matches!(x, Effect::Create { key, .. } if *key == e.to))
            }
            Link::Packed => m.effects.iter().any(|x| {
                matches!(x, Effect::Parent { children, new: Some(u), .. } if *u == e.to && children.contains(&e.from))
            }),
        };
        assert!(ok, "entry {} does not record {e:?}", e.entry);
    }
    // Every node but the starts is reached from a start along the edges, and its path ends at it.
    for n in &c.nodes {
        let path = c.path(&n.key);
        assert_eq!(path.len(), n.depth, "{}", n.key);
        match (path.first(), path.last()) {
            (Some(first), Some(last)) => {
                assert_eq!(first.from, n.start);
                assert_eq!(last.to, n.key);
                for w in path.windows(2) {
                    assert_eq!(w[0].to, w[1].from);
                }
            }
            _ => assert!(c.starts.contains(&n.key), "{} is unreachable", n.key),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_trace_is_what_a_replay_of_the_log_says(ops in proptest::collection::vec(op(), 10..40)) {
        let mut w = World::new(3);
        let urns = play(&mut w, &ops);
        let reader = w.ledger.state();
        for urn in &urns {
            let k = key(urn);
            if reader.lot(&k).unwrap().is_none() {
                continue;
            }
            let c = closure(&reader, std::slice::from_ref(&k), Limits::default()).unwrap();
            check_edges(&reader, &c);
            let want = oracle(&w.ledger, &k);
            let got = Oracle {
                traced: c.nodes.iter().filter(|n| n.traced).map(|n| n.key.clone()).collect(),
                carriers: c.nodes.iter().filter(|n| !n.traced).map(|n| n.key.clone()).collect(),
                shipments: c.shipments.iter().map(|s| s.entry).collect(),
                recipients: c.shipments.iter().map(|s| s.to.clone()).collect(),
            };
            prop_assert_eq!(got, want, "root {}", urn);
            let r = downstream(&reader, &k, Limits::default()).unwrap().unwrap();
            prop_assert_eq!(r.lots.len() + r.units.len(), c.nodes.len());
        }
    }
}

#[test]
fn a_closure_over_several_starts_keeps_each_node_with_one_start() {
    let mut w = World::new(1);
    let (a, b) = (
        scenario::lgtin(items::PADDY, "MANY-A"),
        scenario::lgtin(items::PADDY, "MANY-B"),
    );
    w.harvest(0, &a, 500.0);
    w.harvest(0, &b, 500.0);
    let out = scenario::lgtin(items::HEAD_RICE, "MANY");
    let t = w.t();
    w.ok(
        0,
        &scenario::transform(
            &t,
            "milling",
            &[q(&a, 500.0), q(&b, 500.0)],
            &[(out.clone(), 300.0, Some("head-rice"))],
        ),
    );
    let reader = w.ledger.state();
    let missing = key(&scenario::lgtin(items::PADDY, "MISSING"));
    let c = closure(&reader, &[key(&b), key(&a), missing], Limits::default()).unwrap();
    assert_eq!(c.starts, [key(&b), key(&a)]);
    assert_eq!(c.nodes.len(), 3);
    let o = c.node(&key(&out)).unwrap();
    assert_eq!(
        (o.depth, o.start.as_str()),
        (1, key(&b).as_str()),
        "the first start wins a tie"
    );
    assert_eq!(c.edges.len(), 2, "both edges are kept");
}
