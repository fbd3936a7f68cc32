//! A GS1 EPCIS 2.0 `EPCISDocument` (JSON-LD) of ledger entries.
//!
//! Each event is exactly the one its signer signed, without the W3C Data Integrity `proof`
//! member, which GS1's schema does not allow; so the document validates against GS1's
//! `EPCIS-JSON-Schema.json` and any EPCIS 2.0 system can import it. Without the proofs it is
//! not verifiable on its own: the verifiable form of a lot's history is its provenance bundle.
//!
//! The header carries master data (`epcisHeader.epcisMasterData`) for what the events name
//! only by identifier: the parties (CBV master data `name`, `countryCode`, `state`, and the
//! GLN) and the lot classes (product, crop, growing method). Document-level `lotline:` members
//! say where each event is in the log (`lotline:entries`: index, record time, signer, acting
//! actor, corrections), so the export can be checked against the log entry by entry.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::{Exported, Lookup};
use lotline_profile::entry::Entry;
use lotline_profile::profile::{Action, IdClass};

/// EPCIS 2.0 JSON-LD context, the first item of every `@context`.
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
pub const LOTLINE_NS: &str = "https://w3id.org/lotline#";

/// EPCIS master data vocabulary types and CBV master data attributes.
const VTYPE_PARTY: &str = "urn:epcglobal:epcis:vtype:Party";
const VTYPE_EPC_CLASS: &str = "urn:epcglobal:epcis:vtype:EPCClass";
const MDA_NAME: &str = "urn:epcglobal:cbv:mda#name";
const MDA_COUNTRY: &str = "urn:epcglobal:cbv:mda#countryCode";
const MDA_STATE: &str = "urn:epcglobal:cbv:mda#state";
const MDA_DESCRIPTION: &str = "urn:epcglobal:cbv:mda#descriptionShort";

/// What a document's master data describes: actor ids, and canonical keys of lot classes and
/// of one item per GTIN (whose product is the trade item's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Wanted {
    pub actors: BTreeSet<String>,
    pub lots: BTreeSet<String>,
}

/// The parties and lot classes `entries` name.
pub fn wanted(entries: &[Exported]) -> Wanted {
    let mut w = Wanted::default();
    let mut gtins = BTreeSet::new();
    for x in entries {
        w.actors.extend(x.meta.actor.iter().cloned());
        match &x.doc.action {
            Action::Harvest(h) => {
                w.actors.insert(h.farm.clone());
            }
            Action::Ship(m) | Action::Receive(m) => {
                w.actors.insert(m.source.clone());
                w.actors.insert(m.destination.clone());
            }
            _ => {}
        }
        for id in x.doc.identifiers() {
            match id.class {
                IdClass::Lot => {
                    w.lots.insert(id.key.clone());
                }
                IdClass::Item => {
                    if let Some(g) = &id.gtin
                        && gtins.insert(g.clone())
                    {
                        w.lots.insert(id.key.clone());
                    }
                }
                IdClass::Unit => {}
            }
        }
    }
    w
}

/// The event as its signer signed it, without the Data Integrity proof.
pub fn event_without_proof(e: &Entry) -> Value {
    let mut v = e.event.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("proof");
    }
    v
}

/// Where an exported event is in the log, and what the rules made of it.
pub fn entry_summary(x: &Exported) -> Value {
    let mut m = Map::new();
    m.insert("index".into(), json!(x.entry.index));
    m.insert("eventID".into(), json!(x.entry.event_id()));
    m.insert("recordTime".into(), json!(x.entry.record_time));
    m.insert("signer".into(), json!(x.entry.signer));
    m.insert("kind".into(), json!(x.meta.kind.name()));
    if let Some(a) = &x.meta.actor {
        m.insert("actor".into(), json!(a));
    }
    m.insert("role".into(), json!(x.meta.role));
    if let Some(c) = x.meta.corrects {
        m.insert("corrects".into(), json!(c));
    }
    if let Some(c) = x.meta.corrected_by {
        m.insert("correctedBy".into(), json!(c));
    }
    m.insert(
        "entry".into(),
        json!(format!("/v1/entries/{}", x.entry.index)),
    );
    Value::Object(m)
}

fn attr(id: &str, value: &str) -> Value {
    json!({"id": id, "attribute": value})
}

/// `urn:epc:idpat:sgtin:<prefix>.<item>.*`: the trade item (GTIN) of an SGTIN.
fn sgtin_pattern(sgtin: &str) -> Option<String> {
    let rest = sgtin.strip_prefix("urn:epc:id:sgtin:")?;
    let (class, _serial) = rest.rsplit_once('.')?;
    Some(format!("urn:epc:idpat:sgtin:{class}.*"))
}

/// `epcisMasterData.vocabularyList`: parties, then lot classes and trade items, each sorted by
/// id; `None` when there is nothing to describe.
fn master_data(look: &Lookup, wanted: &Wanted) -> Option<Value> {
    let parties: Vec<Value> = wanted
        .actors
        .iter()
        .filter_map(|id| look.actor(id))
        .map(|a| {
            let mut attrs = vec![attr(MDA_NAME, &a.name), attr(MDA_COUNTRY, &a.country)];
            if let Some(p) = &a.province {
                attrs.push(attr(MDA_STATE, p));
            }
            if let Some(g) = &a.gln {
                attrs.push(attr(&format!("{LOTLINE_NS}gln"), g));
            }
            json!({"id": a.id, "attributes": attrs})
        })
        .collect();
    let mut classes: BTreeMap<String, Value> = BTreeMap::new();
    for key in &wanted.lots {
        let Some(l) = look.lot(key) else { continue };
        let (id, per_lot) = match l.class {
            IdClass::Lot => (l.id.clone(), true),
            IdClass::Item => match sgtin_pattern(&l.id) {
                Some(p) => (p, false),
                None => continue,
            },
            IdClass::Unit => continue,
        };
        let mut attrs = Vec::new();
        if let Some(p) = &l.product {
            attrs.push(attr(MDA_DESCRIPTION, p));
        }
        if let Some(c) = &l.crop {
            attrs.push(attr(&format!("{LOTLINE_NS}crop"), c));
        }
        // A growing method belongs to a lot; items of one GTIN may differ.
        if per_lot && let Some(g) = &l.growing_method {
            attrs.push(attr(&format!("{LOTLINE_NS}growingMethod"), g));
        }
        if !attrs.is_empty() {
            classes.insert(id.clone(), json!({"id": id, "attributes": attrs}));
        }
    }
    let mut list = Vec::new();
    if !parties.is_empty() {
        list.push(json!({"type": VTYPE_PARTY, "vocabularyElementList": parties}));
    }
    if !classes.is_empty() {
        let elements: Vec<Value> = classes.into_values().collect();
        list.push(json!({"type": VTYPE_EPC_CLASS, "vocabularyElementList": elements}));
    }
    (!list.is_empty()).then(|| json!({"epcisMasterData": {"vocabularyList": list}}))
}

/// The `EPCISDocument` of `entries` (in the order given), created at `creation_date` (RFC
/// 3339), with master data from `look` and the document-level `extensions` (members named
/// `lotline:…`).
pub fn document(
    entries: &[Exported],
    look: &Lookup,
    creation_date: &str,
    extensions: Vec<(&str, Value)>,
) -> Value {
    let mut doc = Map::new();
    doc.insert(
        "@context".into(),
        json!([EPCIS_CONTEXT, {"lotline": LOTLINE_NS}]),
    );
    doc.insert("type".into(), json!("EPCISDocument"));
    doc.insert("schemaVersion".into(), json!("2.0"));
    doc.insert("creationDate".into(), json!(creation_date));
    if let Some(h) = master_data(look, &wanted(entries)) {
        doc.insert("epcisHeader".into(), h);
    }
    let events: Vec<Value> = entries
        .iter()
        .map(|x| event_without_proof(&x.entry))
        .collect();
    doc.insert("epcisBody".into(), json!({"eventList": events}));
    let summaries: Vec<Value> = entries.iter().map(entry_summary).collect();
    doc.insert("lotline:entries".into(), json!(summaries));
    for (k, v) in extensions {
        doc.insert(k.to_owned(), v);
    }
    Value::Object(doc)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::export::LotInfo;
    use crate::state::{ActorRecord, EntryMeta};
    use lotline_profile::profile::{self, Kind};
    use lotline_scenario as scenario;

    /// An exported entry of `event`, signed with a test key.
    pub(crate) fn exported(index: u64, event: Value, actor: &str, role: &str) -> Exported {
        let key = scenario::seeded_key("export test");
        let event = data_integrity::di::sign(&event, &key, "2026-11-20T00:00:00Z").unwrap();
        let doc = profile::interpret(&event).unwrap_or_else(|v| panic!("{v}: {event}"));
        Exported {
            meta: EntryMeta {
                kind: doc.kind,
                actor: Some(actor.to_owned()),
                role: role.to_owned(),
                event_time_ms: doc.event_time_ms,
                flags: vec![],
                effects: vec![],
                corrects: None,
                corrected_by: None,
            },
            entry: Entry {
                event,
                index,
                prev_hash: [0; 32],
                record_time: "2026-11-20T00:00:00.000Z".into(),
                signer: "did:key:z6MkTest".into(),
            },
            doc,
        }
    }

    pub(crate) fn actor(id: &str, name: &str, gln: Option<&str>) -> ActorRecord {
        ActorRecord {
            id: id.into(),
            name: name.into(),
            country: "KH".into(),
            province: Some("Battambang".into()),
            gln: gln.map(str::to_owned),
            registered_at: 0,
            roles: vec![],
            keys: vec![],
        }
    }

    pub(crate) fn lot(id: &str, class: IdClass, product: &str, mg: i64, by: &str) -> LotInfo {
        LotInfo {
            id: id.into(),
            class,
            product: Some(product.into()),
            crop: Some("rice".into()),
            growing_method: Some("organic".into()),
            amount: mg,
            created_by: by.into(),
        }
    }

    fn key(id: &str) -> String {
        profile::ident(id, "").unwrap().key.clone()
    }

    #[test]
    fn document_carries_the_signed_events_without_proofs_and_master_data() {
        let farm = scenario::pgln(11);
        let mill = scenario::pgln(31);
        let paddy = scenario::lgtin(scenario::items::PADDY, "L1");
        let bags = [
            scenario::sgtin(scenario::items::HEAD_RICE_BAG_50KG, 1),
            scenario::sgtin(scenario::items::HEAD_RICE_BAG_50KG, 2),
        ];
        let harvest = scenario::harvest(
            None,
            "2026-10-01T07:00:00+07:00",
            &paddy,
            1000.0,
            &farm,
            "rice",
            None,
            scenario::plot("P", "Preah Vihear", 1.0, 104.9, 13.8),
            "organic",
        );
        let ship = scenario::movement(
            true,
            "2026-10-02T07:00:00+07:00",
            &farm,
            &mill,
            &bags,
            &[scenario::kg(&paddy, 1000.0)],
        );
        let entries = vec![
            exported(7, harvest.clone(), &farm, "farm"),
            exported(9, ship, &farm, "farm"),
        ];
        let w = wanted(&entries);
        assert_eq!(
            w.actors,
            BTreeSet::from([farm.clone(), mill.clone()]),
            "parties named"
        );
        // The lot, and one of the two bags for their GTIN.
        assert_eq!(w.lots.len(), 2, "{:?}", w.lots);
        assert!(w.lots.contains(&key(&paddy)));

        let mut look = Lookup::default();
        look.actors
            .insert(farm.clone(), actor(&farm, "Farm A", Some("8841234000019")));
        look.lots.insert(
            key(&paddy),
            Some(lot(&paddy, IdClass::Lot, "paddy", 1_000_000_000, &farm)),
        );
        for b in &bags {
            look.lots.insert(
                key(b),
                Some(lot(b, IdClass::Item, "head-rice", 50_000_000, &mill)),
            );
        }
        let doc = document(
            &entries,
            &look,
            "2026-11-20T00:00:00Z",
            vec![("lotline:subject", json!(paddy))],
        );
        assert_eq!(doc["type"], "EPCISDocument");
        assert_eq!(doc["schemaVersion"], "2.0");
        assert_eq!(doc["@context"][0], EPCIS_CONTEXT);
        assert_eq!(doc["lotline:subject"], json!(paddy));
        let events = doc["epcisBody"]["eventList"].as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert!(entries[0].entry.event.get("proof").is_some());
        assert_eq!(events[0], harvest, "the event as signed, without the proof");
        assert!(events.iter().all(|e| e.get("proof").is_none()));
        assert_eq!(doc["lotline:entries"][1]["index"], 9);
        assert_eq!(doc["lotline:entries"][1]["kind"], "shipping");

        let vocab = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"]
            .as_array()
            .unwrap();
        assert_eq!(vocab[0]["type"], VTYPE_PARTY);
        // Only the registered party is described.
        let parties = vocab[0]["vocabularyElementList"].as_array().unwrap();
        assert_eq!(parties.len(), 1);
        assert_eq!(parties[0]["id"], json!(farm));
        assert!(parties[0]["attributes"].as_array().unwrap().contains(
            &json!({"id": "https://w3id.org/lotline#gln", "attribute": "8841234000019"})
        ));
        assert_eq!(vocab[1]["type"], VTYPE_EPC_CLASS);
        let classes: Vec<&str> = vocab[1]["vocabularyElementList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            classes,
            [paddy.as_str(), "urn:epc:idpat:sgtin:8841234.030001.*"]
        );
    }

    #[test]
    fn no_master_data_no_header() {
        let e = exported(
            0,
            scenario::harvest(
                None,
                "2026-10-01T07:00:00+07:00",
                &scenario::lgtin(scenario::items::PADDY, "L2"),
                10.0,
                &scenario::pgln(11),
                "rice",
                None,
                scenario::plot("P", "Preah Vihear", 1.0, 104.9, 13.8),
                "organic",
            ),
            &scenario::pgln(11),
            "farm",
        );
        let doc = document(&[e], &Lookup::default(), "2026-11-20T00:00:00Z", vec![]);
        assert!(doc.get("epcisHeader").is_none());
        assert_eq!(doc["lotline:entries"][0]["kind"], Kind::Harvest.name());
    }

    #[test]
    fn sgtin_patterns() {
        assert_eq!(
            sgtin_pattern("urn:epc:id:sgtin:8841234.030001.1001").as_deref(),
            Some("urn:epc:idpat:sgtin:8841234.030001.*")
        );
        assert_eq!(sgtin_pattern("urn:epc:id:sscc:8841234.1"), None);
    }
}
