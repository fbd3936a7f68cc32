//! The history of one container that `provenance` and `export` ask about: `lots` farm lots
//! harvested by `farms` farms, each shipped to a collector and received (3 events per lot), the
//! collector's shipment of all of them to a mill, milling, bagging, palletising, containerising,
//! and the container's two legs to an importer: `3 × lots + 10` events. Every rule applies.

use anyhow::Result;
use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde_json::Value;

use crate::harness::SIGNED;
use data_integrity::di;
use lotline_scenario::{self as scenario, items::*};

/// A container's history, signed: what a benchmark submits, and the lot it asks about.
pub struct History {
    /// The registrations of its actors, signed by the registrar.
    pub registrations: Vec<Value>,
    /// Its events, in the order they must be applied.
    pub events: Vec<Value>,
    /// The container's SSCC.
    pub container: String,
}

/// The history named `tag`, its parties numbered from `base` (see the module doc).
pub fn build(
    tag: &str,
    base: usize,
    farms: usize,
    lots: usize,
    registrar: &SigningKey,
) -> Result<History> {
    let parties = Parties::new(tag, base, farms);
    let registrations = parties.registrations(tag, registrar)?;
    let (mut docs, paddy) = farm_lots(&parties, tag, lots);
    let container = mill_to_importer(&parties, tag, base, &paddy, &mut docs);
    let events = docs
        .par_iter()
        .map(|(who, d)| di::sign(d, parties.key(*who), SIGNED))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(History {
        registrations,
        events,
        container,
    })
}

/// Who signs a document of the history.
#[derive(Clone, Copy)]
enum Signer {
    Farm(usize),
    /// One of the others, by its index in [`OTHERS`].
    Other(usize),
}

/// The actors after the farms, with their roles.
const OTHERS: [(&str, &[&str]); 4] = [
    ("collector", &["collector"]),
    ("mill", &["mill", "packer"]),
    ("exporter", &["exporter"]),
    ("importer", &["importer"]),
];
const COLLECTOR: Signer = Signer::Other(0);
const MILL: Signer = Signer::Other(1);
const EXPORTER: Signer = Signer::Other(2);
const IMPORTER: Signer = Signer::Other(3);

/// The history's actors: the farms (parties `base..`), then [`OTHERS`] (parties `base + 500..`).
struct Parties {
    farm_keys: Vec<SigningKey>,
    farm_ids: Vec<String>,
    other_keys: Vec<SigningKey>,
    other_ids: Vec<String>,
}

impl Parties {
    fn new(tag: &str, base: usize, farms: usize) -> Parties {
        let key = |name: &str| scenario::seeded_key(&format!("bench provenance {tag} {name}"));
        let party = |i: usize| scenario::pgln(i as u32);
        Parties {
            farm_keys: (0..farms).map(|i| key(&format!("farm {i}"))).collect(),
            farm_ids: (0..farms).map(|i| party(base + i)).collect(),
            other_keys: OTHERS.iter().map(|(name, _)| key(name)).collect(),
            other_ids: (0..OTHERS.len()).map(|i| party(base + 500 + i)).collect(),
        }
    }

    fn key(&self, who: Signer) -> &SigningKey {
        match who {
            Signer::Farm(i) => &self.farm_keys[i],
            Signer::Other(i) => &self.other_keys[i],
        }
    }

    fn id(&self, who: Signer) -> &str {
        match who {
            Signer::Farm(i) => &self.farm_ids[i],
            Signer::Other(i) => &self.other_ids[i],
        }
    }

    /// Every actor's registration, farms first, signed by `registrar`.
    fn registrations(&self, tag: &str, registrar: &SigningKey) -> Result<Vec<Value>> {
        let register = |id: &str, name: &str, roles: &[&str], key: &SigningKey| {
            scenario::register(
                None,
                "2026-01-01T00:00:00+07:00",
                id,
                name,
                ("KH", "Battambang"),
                roles,
                &[scenario::did(key)],
                None,
            )
        };
        let farms = (self.farm_ids.iter().zip(&self.farm_keys))
            .enumerate()
            .map(|(i, (id, key))| register(id, &format!("Farm {i} of {tag}"), &["farm"], key));
        let others = (OTHERS.iter().zip(&self.other_ids).zip(&self.other_keys)).map(
            |(((name, roles), id), key)| register(id, &format!("{name} of {tag}"), roles, key),
        );
        let docs: Vec<Value> = farms.chain(others).collect();
        Ok(docs
            .par_iter()
            .map(|d| di::sign(d, registrar, SIGNED))
            .collect::<Result<Vec<_>, _>>()?)
    }
}

/// An event time: `day` of October 2026, at an hour from `hour`.
fn at(day: u32, hour: usize) -> String {
    format!("2026-10-{:02}T{:02}:00:00+07:00", day, 6 + hour % 12)
}

/// The farm lots, round robin over the farms: each harvested, shipped to the collector and
/// received there. Returns the documents and the lots.
fn farm_lots(parties: &Parties, tag: &str, lots: usize) -> (Vec<(Signer, Value)>, Vec<String>) {
    use scenario::*;
    let farms = parties.farm_ids.len();
    let collector = parties.id(COLLECTOR);
    let paddy: Vec<String> = (0..lots)
        .map(|i| lgtin(PADDY, &format!("{tag}-{i}")))
        .collect();
    let mut docs = Vec::with_capacity(3 * lots + 10);
    for (i, lot) in paddy.iter().enumerate() {
        let farm = Signer::Farm(i % farms);
        let farm_id = parties.id(farm);
        let field = plot(&format!("{tag}-P{i}"), "Battambang", 1.0, 103.2, 13.1);
        let harvested = harvest(
            None,
            &at(1, i),
            lot,
            1000.0,
            farm_id,
            "rice",
            None,
            field,
            "organic",
        );
        let moved = [kg(lot, 1000.0)];
        docs.push((farm, harvested));
        docs.push((
            farm,
            movement(true, &at(2, i), farm_id, collector, &[], &moved),
        ));
        docs.push((
            COLLECTOR,
            movement(false, &at(3, i), farm_id, collector, &[], &moved),
        ));
    }
    (docs, paddy)
}

/// The rest, appended to `docs`: the collector ships all of `paddy` to the mill, which mills it,
/// bags 1,000 kg of head rice in 20 bags, palletises them and puts the pallet in a container;
/// the container goes to the exporter and on to the importer. Returns the container.
fn mill_to_importer(
    parties: &Parties,
    tag: &str,
    base: usize,
    paddy: &[String],
    docs: &mut Vec<(Signer, Value)>,
) -> String {
    use scenario::*;
    let (collector, mill) = (parties.id(COLLECTOR), parties.id(MILL));
    let (exporter, importer) = (parties.id(EXPORTER), parties.id(IMPORTER));
    let all: Vec<Value> = paddy.iter().map(|l| kg(l, 1000.0)).collect();
    docs.push((
        COLLECTOR,
        movement(true, &at(4, 0), collector, mill, &[], &all),
    ));
    docs.push((MILL, movement(false, &at(5, 0), collector, mill, &[], &all)));
    let total = paddy.len() as f64 * 1000.0;
    let head = lgtin(HEAD_RICE, tag);
    docs.push((
        MILL,
        transform(
            &at(6, 0),
            "milling",
            &all,
            &[
                (head.clone(), total * 0.5, Some("head-rice")),
                (lgtin(BROKEN_RICE, tag), total * 0.15, Some("broken-rice")),
            ],
        ),
    ));
    let bags: Vec<String> = (0..20)
        .map(|i| sgtin(HEAD_RICE_BAG_50KG, (base * 1000 + i) as u64))
        .collect();
    docs.push((MILL, bagging(&at(7, 0), kg(&head, 1000.0), &bags, 50.0)));
    let pallet = sscc(base as u64 * 10 + 1);
    let container = sscc(base as u64 * 10 + 2);
    docs.push((MILL, aggregation(true, &at(8, 0), &pallet, &bags)));
    docs.push((
        MILL,
        aggregation(true, &at(8, 1), &container, std::slice::from_ref(&pallet)),
    ));
    // The container's two legs: mill → exporter, exporter → importer, shipped and received.
    for (who, ship, day, from, to) in [
        (MILL, true, 9, mill, exporter),
        (EXPORTER, false, 10, mill, exporter),
        (EXPORTER, true, 11, exporter, importer),
        (IMPORTER, false, 12, exporter, importer),
    ] {
        let units = std::slice::from_ref(&container);
        docs.push((who, movement(ship, &at(day, 0), from, to, units, &[])));
    }
    container
}
