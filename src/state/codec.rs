//! How state records are stored: lot records and entry metas in a compact binary form, the
//! rest as JSON.
//!
//! Lots and metas are most of what ingest writes (a bagging event creates fifty bag records)
//! and most of what audits and walks read back, and as JSON they spent their bytes and their
//! encoding time on member names and string escaping. Their binary form is a version byte
//! ([`V1`]) and then each member in declaration order: strings and lists as a LEB128 length and
//! their items, integers as LEB128 (signed ones zigzagged), an absent optional string as 0 and
//! a present one as its length plus 1, an optional number as a 0 or 1 byte and then the number.
//! Members that are rare and deeply structured (a harvested lot's origins with their plot
//! geometry, plausibility flags, linked documents) are kept as a nested JSON document, or 0
//! when there are none.
//!
//! A stored JSON object starts with `{`, which is never [`V1`], so records written as JSON by
//! earlier versions still read; they are rewritten in binary when next changed. Decoding checks
//! every length against what is left and refuses trailing bytes: a damaged record is reported as
//! corrupt, never a panic.

use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::{Deserialize as _, Serialize};

use super::{ActorRecord, EntryMeta, LotRecord, certs::CertRecord};
use lotline_profile::profile::{IdClass, Kind};
use lotline_profile::records::{Effect, Place, TransitLine};

/// The first byte of a record in binary form, version 1.
const V1: u8 = 1;

/// A record of one of the state's families, as stored.
pub trait Stored: Sized {
    /// Writes the record into `out` (not cleared).
    fn encode(&self, out: &mut Vec<u8>);
    /// Reads a record that [`Stored::encode`], or an earlier version's JSON, wrote.
    fn decode(bytes: &[u8]) -> Result<Self, String>;
}

/// Decodes a stored record of family `what` (named in the error).
pub fn decode<T: Stored>(bytes: &[u8], what: &str) -> Result<T, crate::store::StoreError> {
    T::decode(bytes).map_err(|e| crate::store::StoreError::Corrupt(format!("{what}: {e}")))
}

fn json_encode<T: Serialize>(v: &T, out: &mut Vec<u8>) {
    // Serialising these plain records cannot fail (string keys, finite numbers); should it
    // ever, the record is written empty, which reading it back reports as corrupt.
    let start = out.len();
    if serde_json::to_writer(&mut *out, v).is_err() {
        out.truncate(start);
    }
}

fn json_decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| e.to_string())
}

impl Stored for ActorRecord {
    fn encode(&self, out: &mut Vec<u8>) {
        json_encode(self, out)
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        json_decode(bytes)
    }
}

impl Stored for CertRecord {
    fn encode(&self, out: &mut Vec<u8>) {
        json_encode(self, out)
    }
    fn decode(bytes: &[u8]) -> Result<Self, String> {
        json_decode(bytes)
    }
}

impl Stored for LotRecord {
    fn encode(&self, out: &mut Vec<u8>) {
        // Taken apart whole, so that a member added to the record cannot be left out here.
        let LotRecord {
            id,
            key,
            class,
            gtin,
            product,
            crop,
            growing_method,
            amount,
            content_mg,
            created_at,
            created_by,
            held,
            transit,
            consumed,
            handlers,
            inputs,
            origins,
            parent,
            children,
            flags,
            documents,
            voided_by,
        } = self;
        let mut w = W(out);
        w.byte(V1);
        w.str(id);
        w.str(key);
        w.byte(match class {
            IdClass::Lot => 0,
            IdClass::Item => 1,
            IdClass::Unit => 2,
        });
        w.opt_str(gtin.as_deref());
        w.opt_str(product.as_deref());
        w.opt_str(crop.as_deref());
        w.opt_str(growing_method.as_deref());
        w.int(*amount);
        w.int(*content_mg);
        w.uint(*created_at);
        w.str(created_by);
        w.uint(held.len() as u64);
        for (actor, amount) in held {
            w.str(actor);
            w.int(*amount);
        }
        w.uint(transit.len() as u64);
        for t in transit {
            w.str(&t.from);
            w.str(&t.to);
            w.int(t.amount);
        }
        w.int(*consumed);
        w.strs(handlers);
        w.strs(inputs);
        w.json_list(origins);
        w.opt_str(parent.as_deref());
        w.strs(children);
        w.json_list(flags);
        w.json_list(documents);
        w.opt_uint(*voided_by);
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = match R::binary(bytes) {
            Some(r) => r,
            None => return json_decode(bytes),
        };
        let id = r.string()?;
        let key = r.string()?;
        let class = match r.byte()? {
            0 => IdClass::Lot,
            1 => IdClass::Item,
            2 => IdClass::Unit,
            b => return Err(format!("unknown identifier class {b}")),
        };
        let gtin = r.opt_string()?;
        let product = r.opt_string()?;
        let crop = r.opt_string()?;
        let growing_method = r.opt_string()?;
        let amount = r.int()?;
        let content_mg = r.int()?;
        let created_at = r.uint()?;
        let created_by = r.string()?;
        let mut held = std::collections::BTreeMap::new();
        for _ in 0..r.count()? {
            let actor = r.string()?;
            held.insert(actor, r.int()?);
        }
        let mut transit = Vec::new();
        for _ in 0..r.count()? {
            transit.push(TransitLine {
                from: r.string()?,
                to: r.string()?,
                amount: r.int()?,
            });
        }
        let rec = LotRecord {
            id,
            key,
            class,
            gtin,
            product,
            crop,
            growing_method,
            amount,
            content_mg,
            created_at,
            created_by,
            held,
            transit,
            consumed: r.int()?,
            handlers: r.strings()?,
            inputs: r.strings()?,
            origins: r.json_list()?,
            parent: r.opt_string()?,
            children: r.strings()?,
            flags: r.json_list()?,
            documents: r.json_list()?,
            voided_by: r.opt_uint()?,
        };
        r.end()?;
        Ok(rec)
    }
}

impl Stored for EntryMeta {
    fn encode(&self, out: &mut Vec<u8>) {
        let EntryMeta {
            kind,
            actor,
            role,
            event_time_ms,
            flags,
            effects,
            corrects,
            corrected_by,
        } = self;
        let mut w = W(out);
        w.byte(V1);
        w.str(kind.name());
        w.opt_str(actor.as_deref());
        w.str(role);
        w.int(*event_time_ms);
        w.json_list(flags);
        w.uint(effects.len() as u64);
        for e in effects {
            match e {
                Effect::Create {
                    key,
                    holder,
                    amount,
                } => {
                    w.byte(0);
                    w.str(key);
                    w.opt_str(holder.as_deref());
                    w.int(*amount);
                }
                Effect::Move {
                    key,
                    from,
                    to,
                    amount,
                    contents,
                } => {
                    w.byte(1);
                    w.str(key);
                    w.place(from);
                    w.place(to);
                    w.int(*amount);
                    w.strs(contents);
                }
                Effect::Parent { children, old, new } => {
                    w.byte(2);
                    w.strs(children);
                    w.opt_str(old.as_deref());
                    w.opt_str(new.as_deref());
                }
                Effect::Annotate { key } => {
                    w.byte(3);
                    w.str(key);
                }
            }
        }
        w.opt_uint(*corrects);
        w.opt_uint(*corrected_by);
    }

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        let mut r = match R::binary(bytes) {
            Some(r) => r,
            None => return json_decode(bytes),
        };
        let kind = r.str()?;
        let kind = Kind::deserialize(kind.into_deserializer())
            .map_err(|e: serde::de::value::Error| format!("document kind: {e}"))?;
        let actor = r.opt_string()?;
        let role = r.string()?;
        let event_time_ms = r.int()?;
        let flags = r.json_list()?;
        let n = r.count()?;
        let mut effects = Vec::with_capacity(n);
        for _ in 0..n {
            effects.push(match r.byte()? {
                0 => Effect::Create {
                    key: r.string()?,
                    holder: r.opt_string()?,
                    amount: r.int()?,
                },
                1 => Effect::Move {
                    key: r.string()?,
                    from: r.place()?,
                    to: r.place()?,
                    amount: r.int()?,
                    contents: r.strings()?,
                },
                2 => Effect::Parent {
                    children: r.strings()?,
                    old: r.opt_string()?,
                    new: r.opt_string()?,
                },
                3 => Effect::Annotate { key: r.string()? },
                b => return Err(format!("unknown effect {b}")),
            });
        }
        let meta = EntryMeta {
            kind,
            actor,
            role,
            event_time_ms,
            flags,
            effects,
            corrects: r.opt_uint()?,
            corrected_by: r.opt_uint()?,
        };
        r.end()?;
        Ok(meta)
    }
}

/// Appends the binary form's items.
struct W<'a>(&'a mut Vec<u8>);

impl W<'_> {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn uint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.0.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.0.push(n as u8);
    }

    fn int(&mut self, n: i64) {
        self.uint(((n << 1) ^ (n >> 63)) as u64);
    }

    fn opt_uint(&mut self, n: Option<u64>) {
        match n {
            Some(n) => {
                self.byte(1);
                self.uint(n);
            }
            None => self.byte(0),
        }
    }

    fn str(&mut self, s: &str) {
        self.uint(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.uint(s.len() as u64 + 1);
                self.0.extend_from_slice(s.as_bytes());
            }
            None => self.uint(0),
        }
    }

    fn strs(&mut self, v: &[String]) {
        self.uint(v.len() as u64);
        for s in v {
            self.str(s);
        }
    }

    fn place(&mut self, p: &Place) {
        match p {
            Place::Outside => self.byte(0),
            Place::Held { actor } => {
                self.byte(1);
                self.str(actor);
            }
            Place::Transit { from, to } => {
                self.byte(2);
                self.str(from);
                self.str(to);
            }
            Place::Consumed => self.byte(3),
        }
    }

    /// A list as a nested JSON document (length-prefixed), or just 0 when it is empty.
    fn json_list<T: Serialize>(&mut self, v: &[T]) {
        if v.is_empty() {
            return self.uint(0);
        }
        // These lists serialise without fail (string keys, finite numbers); should one ever
        // not, what is written is not JSON, so reading it back reports the record corrupt
        // instead of losing the list.
        let json = serde_json::to_vec(v).unwrap_or_else(|_| b"!".to_vec());
        self.uint(json.len() as u64);
        self.0.extend_from_slice(&json);
    }
}

/// Reads the binary form's items, each checked against what is left.
struct R<'a> {
    rest: &'a [u8],
}

impl<'a> R<'a> {
    /// A reader past the version byte, or `None` if `bytes` is not in binary form.
    fn binary(bytes: &'a [u8]) -> Option<R<'a>> {
        match bytes.split_first() {
            Some((&V1, rest)) => Some(R { rest }),
            _ => None,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.rest.len() {
            return Err(format!(
                "{n} bytes wanted, {} left: the record is cut short",
                self.rest.len()
            ));
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn uint(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err("a number overflows 64 bits".into());
            }
            n |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err("a number overflows 64 bits".into())
    }

    fn int(&mut self) -> Result<i64, String> {
        let z = self.uint()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    fn opt_uint(&mut self) -> Result<Option<u64>, String> {
        match self.byte()? {
            0 => Ok(None),
            1 => self.uint().map(Some),
            b => Err(format!("unknown presence mark {b}")),
        }
    }

    /// A length or count: never more than the bytes left, each item taking at least one.
    fn count(&mut self) -> Result<usize, String> {
        let n = self.uint()?;
        if n > self.rest.len() as u64 {
            return Err(format!(
                "a length of {n} with {} bytes left: the record is damaged",
                self.rest.len()
            ));
        }
        Ok(n as usize)
    }

    fn str(&mut self) -> Result<&'a str, String> {
        let n = self.count()?;
        self.text(n)
    }

    /// The next `n` bytes, which must be UTF-8.
    fn text(&mut self, n: usize) -> Result<&'a str, String> {
        std::str::from_utf8(self.take(n)?).map_err(|_| "a string is not UTF-8".to_owned())
    }

    fn string(&mut self) -> Result<String, String> {
        self.str().map(str::to_owned)
    }

    fn opt_string(&mut self) -> Result<Option<String>, String> {
        match self.count()? {
            0 => Ok(None),
            n => self.text(n - 1).map(|s| Some(s.to_owned())),
        }
    }

    fn strings(&mut self) -> Result<Vec<String>, String> {
        let n = self.count()?;
        (0..n).map(|_| self.string()).collect()
    }

    fn place(&mut self) -> Result<Place, String> {
        Ok(match self.byte()? {
            0 => Place::Outside,
            1 => Place::Held {
                actor: self.string()?,
            },
            2 => Place::Transit {
                from: self.string()?,
                to: self.string()?,
            },
            3 => Place::Consumed,
            b => return Err(format!("unknown place {b}")),
        })
    }

    fn json_list<T: DeserializeOwned>(&mut self) -> Result<Vec<T>, String> {
        match self.count()? {
            0 => Ok(Vec::new()),
            n => json_decode(self.take(n)?),
        }
    }

    fn end(&self) -> Result<(), String> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(format!("{} bytes past the record's end", self.rest.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotline_profile::profile::Plot;
    use lotline_profile::records::{DocLink, Flag, FlagCode, Origin};
    use proptest::prelude::*;
    use serde_json::json;

    fn encoded<T: Stored>(v: &T) -> Vec<u8> {
        let mut out = Vec::new();
        v.encode(&mut out);
        out
    }

    const MILL: &str = "urn:epc:id:pgln:8841234.00031";
    const EXPORTER: &str = "urn:epc:id:pgln:8841234.00041";

    /// A tagged bag as bagging makes it: the record ingest writes most.
    fn bag() -> LotRecord {
        LotRecord {
            id: "urn:epc:id:sgtin:8841234.020011.BAG-000417".into(),
            key: "/01/08841234200117/21/BAG-000417".into(),
            class: IdClass::Item,
            gtin: Some("08841234200117".into()),
            product: Some("milled_rice".into()),
            crop: Some("rice".into()),
            growing_method: Some("organic".into()),
            amount: 50_000_000,
            content_mg: 0,
            created_at: 41_207,
            created_by: MILL.into(),
            held: [(MILL.to_owned(), 50_000_000)].into(),
            transit: Vec::new(),
            consumed: 0,
            handlers: vec![MILL.into()],
            inputs: vec!["/01/08841234200100/10/HR26-0417".into()],
            origins: Vec::new(),
            parent: None,
            children: Vec::new(),
            flags: Vec::new(),
            documents: Vec::new(),
            voided_by: None,
        }
    }

    /// Every member set, the rare structured ones included.
    fn full() -> LotRecord {
        LotRecord {
            content_mg: -7,
            transit: vec![TransitLine {
                from: MILL.into(),
                to: EXPORTER.into(),
                amount: 1,
            }],
            consumed: i64::MIN,
            held: [(MILL.to_owned(), i64::MAX), (EXPORTER.to_owned(), -1)].into(),
            origins: vec![Origin {
                farm: "urn:epc:id:pgln:8841234.00011".into(),
                plot: Plot {
                    id: "PV-017".into(),
                    province: "Preah Vihear".into(),
                    area_hectares: 2.75,
                    geo: json!({"type": "Point", "coordinates": [104.97, 13.81]}),
                },
                harvest_start: "2026-10-01".into(),
                harvest_end: "2026-10-03".into(),
                growing_method: "organic".into(),
                index: 12,
            }],
            parent: Some("/00/988412340000000016".into()),
            children: vec!["/01/1/21/ä \" \\ \u{0}".into(), String::new()],
            flags: vec![
                Flag {
                    code: FlagCode::MillingRecovery,
                    message: "recovery 0.71 above 0.70".into(),
                    index: 30,
                },
                Flag {
                    code: FlagCode::Unknown("from_a_newer_version".into()),
                    message: String::new(),
                    index: u64::MAX,
                },
            ],
            documents: vec![DocLink {
                kind: Some("inv".into()),
                id: "urn:epcglobal:cbv:bt:8841234000414:INV-77".into(),
                action: "add".into(),
                index: 44,
            }],
            voided_by: Some(u64::MAX),
            ..bag()
        }
    }

    fn meta() -> EntryMeta {
        EntryMeta {
            kind: Kind::StarchExtraction,
            actor: Some(MILL.into()),
            role: "processor".into(),
            event_time_ms: -1_000,
            flags: vec![Flag {
                code: FlagCode::CassavaConversion,
                message: "chips 0.5 of roots".into(),
                index: 9,
            }],
            effects: vec![
                Effect::Create {
                    key: "/01/1/10/A".into(),
                    holder: Some(MILL.into()),
                    amount: 12,
                },
                Effect::Create {
                    key: "/01/1/10/B".into(),
                    holder: None,
                    amount: 0,
                },
                Effect::Move {
                    key: "/00/1".into(),
                    from: Place::Held { actor: MILL.into() },
                    to: Place::Transit {
                        from: MILL.into(),
                        to: EXPORTER.into(),
                    },
                    amount: 1,
                    contents: vec!["/01/1/21/a".into(), "/01/1/21/b".into()],
                },
                Effect::Move {
                    key: "/01/1/10/C".into(),
                    from: Place::Outside,
                    to: Place::Consumed,
                    amount: i64::MIN,
                    contents: Vec::new(),
                },
                Effect::Parent {
                    children: vec!["/01/1/21/a".into()],
                    old: None,
                    new: Some("/00/1".into()),
                },
                Effect::Parent {
                    children: Vec::new(),
                    old: Some("/00/1".into()),
                    new: None,
                },
                Effect::Annotate {
                    key: "/01/1/10/A".into(),
                },
            ],
            corrects: Some(0),
            corrected_by: Some(u64::MAX),
        }
    }

    #[test]
    fn lot_records_and_metas_round_trip_in_binary_with_every_member_set_or_not() {
        for lot in [bag(), full()] {
            let bytes = encoded(&lot);
            assert_eq!(bytes[0], V1);
            assert_eq!(LotRecord::decode(&bytes).unwrap(), lot);
        }
        let bare = EntryMeta {
            actor: None,
            flags: Vec::new(),
            effects: Vec::new(),
            corrects: None,
            corrected_by: None,
            ..meta()
        };
        for m in [meta(), bare] {
            let bytes = encoded(&m);
            assert_eq!(bytes[0], V1);
            assert_eq!(EntryMeta::decode(&bytes).unwrap(), m);
        }
    }

    #[test]
    fn records_an_earlier_version_stored_as_json_still_read() {
        for lot in [bag(), full()] {
            let json = serde_json::to_vec(&lot).unwrap();
            assert_eq!(LotRecord::decode(&json).unwrap(), lot);
        }
        let json = serde_json::to_vec(&meta()).unwrap();
        assert_eq!(EntryMeta::decode(&json).unwrap(), meta());
    }

    #[test]
    fn a_bag_record_takes_well_under_its_json() {
        let binary = encoded(&bag()).len();
        let json = serde_json::to_vec(&bag()).unwrap().len();
        assert!(binary * 10 < json * 7, "binary {binary} B, JSON {json} B");
    }

    #[test]
    fn damaged_records_are_errors_naming_the_damage() {
        let bytes = encoded(&full());
        // Every cut is reported: no prefix of a record is a record.
        for n in 1..bytes.len() {
            assert!(LotRecord::decode(&bytes[..n]).is_err(), "cut at {n}");
        }
        let mut long = bytes.clone();
        long.push(0);
        let e = LotRecord::decode(&long).unwrap_err();
        assert!(e.contains("past the record's end"), "{e}");
        let mut class = encoded(&bag());
        let at = 1 + 1 + bag().id.len() + 1 + bag().key.len();
        class[at] = 9;
        let e = LotRecord::decode(&class).unwrap_err();
        assert_eq!(e, "unknown identifier class 9");
        let e = EntryMeta::decode(&[
            V1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
        ])
        .unwrap_err();
        assert!(e.contains("overflows"), "{e}");
        let e = decode::<EntryMeta>(&[V1, 3, b'f', b'o', b'o'], "entry meta").unwrap_err();
        assert!(e.to_string().contains("entry meta: document kind"), "{e}");
    }

    fn text() -> impl Strategy<Value = String> {
        ".{0,12}"
    }

    fn place() -> impl Strategy<Value = Place> {
        prop_oneof![
            Just(Place::Outside),
            Just(Place::Consumed),
            text().prop_map(|actor| Place::Held { actor }),
            (text(), text()).prop_map(|(from, to)| Place::Transit { from, to }),
        ]
    }

    fn effect() -> impl Strategy<Value = Effect> {
        prop_oneof![
            (text(), proptest::option::of(text()), any::<i64>()).prop_map(
                |(key, holder, amount)| Effect::Create {
                    key,
                    holder,
                    amount
                }
            ),
            (
                text(),
                place(),
                place(),
                any::<i64>(),
                proptest::collection::vec(text(), 0..3)
            )
                .prop_map(|(key, from, to, amount, contents)| Effect::Move {
                    key,
                    from,
                    to,
                    amount,
                    contents
                }),
            (
                proptest::collection::vec(text(), 0..3),
                proptest::option::of(text()),
                proptest::option::of(text())
            )
                .prop_map(|(children, old, new)| Effect::Parent { children, old, new }),
            text().prop_map(|key| Effect::Annotate { key }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 256,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn any_lot_record_round_trips(
            strings in proptest::collection::vec(text(), 8),
            opts in proptest::collection::vec(proptest::option::of(text()), 5),
            ints in proptest::collection::vec(any::<i64>(), 4),
            created_at in any::<u64>(),
            voided_by in proptest::option::of(any::<u64>()),
            held in proptest::collection::btree_map(text(), any::<i64>(), 0..4),
            lists in proptest::collection::vec(proptest::collection::vec(text(), 0..4), 3),
            class in 0u8..3,
        ) {
            let lot = LotRecord {
                id: strings[0].clone(),
                key: strings[1].clone(),
                class: [IdClass::Lot, IdClass::Item, IdClass::Unit][class as usize],
                gtin: opts[0].clone(),
                product: opts[1].clone(),
                crop: opts[2].clone(),
                growing_method: opts[3].clone(),
                amount: ints[0],
                content_mg: ints[1],
                created_at,
                created_by: strings[2].clone(),
                held,
                transit: vec![TransitLine { from: strings[3].clone(), to: strings[4].clone(), amount: ints[2] }],
                consumed: ints[3],
                handlers: lists[0].clone(),
                inputs: lists[1].clone(),
                parent: opts[4].clone(),
                children: lists[2].clone(),
                voided_by,
                ..full()
            };
            prop_assert_eq!(LotRecord::decode(&encoded(&lot)).unwrap(), lot);
        }

        #[test]
        fn any_entry_meta_round_trips(
            effects in proptest::collection::vec(effect(), 0..6),
            actor in proptest::option::of(text()),
            role in text(),
            event_time_ms in any::<i64>(),
            corrects in proptest::option::of(any::<u64>()),
            corrected_by in proptest::option::of(any::<u64>()),
        ) {
            let m = EntryMeta { actor, role, event_time_ms, effects, corrects, corrected_by, ..meta() };
            prop_assert_eq!(EntryMeta::decode(&encoded(&m)).unwrap(), m);
        }

        /// Whatever a damaged store hands back, decoding answers; it never panics.
        #[test]
        fn any_bytes_decode_to_an_answer(tail in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut bytes = vec![V1];
            bytes.extend_from_slice(&tail);
            let _ = LotRecord::decode(&bytes);
            let _ = EntryMeta::decode(&bytes);
            let _ = LotRecord::decode(&tail);
            let _ = EntryMeta::decode(&tail);
        }
    }
}
