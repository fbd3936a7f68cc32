//! What an EPCIS event is found by: the (index tag, value) pairs of the SimpleEventQuery
//! parameters lotline answers from indexes.
//!
//! Admission computes them (pure, in parallel, see [`crate::event::Admitted::terms`]); the
//! sequencer only writes one index key per term, `tag ‖ value ‖ 0 ‖ eventTime ‖ entry index`.
//! Values are normalised the way query parameters are ([`epc_key`], [`location_key`],
//! [`crate::vocab`]), so that an EPC URN and a Digital Link of the same goods, or a CBV URN and a
//! bare word, find the same events.

use serde_json::Value;

use crate::profile;
use crate::vocab::{self, Vocab};

/// Index tags. They share the `index` family with the ledger's own (`t`, `b`, `i`, `a`, `c`,
/// `r`), so none may repeat one of those.
pub mod tag {
    pub const EVENT_TYPE: u8 = b'e';
    pub const ACTION: u8 = b'x';
    pub const DISPOSITION: u8 = b'd';
    pub const BIZ_LOCATION: u8 = b'l';
    pub const READ_POINT: u8 = b'p';
    /// `type ‖ 0x01 ‖ party or location`
    pub const SOURCE: u8 = b's';
    /// `type ‖ 0x01 ‖ party or location`
    pub const DESTINATION: u8 = b'w';
    /// `epcList` and `childEPCs`.
    pub const EPC: u8 = b'E';
    pub const PARENT: u8 = b'P';
    pub const INPUT_EPC: u8 = b'I';
    pub const OUTPUT_EPC: u8 = b'O';
    /// Classes of `quantityList` and `childQuantityList`.
    pub const EPC_CLASS: u8 = b'C';
    pub const INPUT_CLASS: u8 = b'J';
    pub const OUTPUT_CLASS: u8 = b'K';
    /// The measurement types of `sensorElementList` reports (bare, e.g. `Temperature`).
    pub const SENSOR_TYPE: u8 = b'S';
    /// Events that carry a `sensorElementList`: the value is empty.
    pub const HAS_SENSOR: u8 = b'H';
    /// A sensor report's `chemicalSubstance` (e.g. water's InChIKey URI for moisture).
    pub const CHEMICAL: u8 = b'Y';
    /// A sensor report's `microorganism`.
    pub const MICROORGANISM: u8 = b'M';
    /// The `deviceID` of a sensor report or of its element's metadata.
    pub const DEVICE: u8 = b'V';
    /// `bizTransactionList`: `type ‖ 0x01 ‖ the transaction's URI`.
    pub const BIZ_TRANSACTION: u8 = b'T';
}

/// One index term: the tag and the value the event is found under.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Term {
    pub tag: u8,
    pub value: String,
}

/// The key under which an EPC or EPC class is indexed and matched: its GS1 key (the Digital
/// Link path) when it is one lotline understands, else the URI as written.
pub fn epc_key(s: &str) -> String {
    match profile::recent_ident(s) {
        Some(id) => id.key.clone(),
        None => s.to_owned(),
    }
}

/// The key of a location or party (SGLN, PGLN, their Digital Links), as for [`epc_key`].
/// A site names the same few locations in every event, so keys are remembered per thread.
pub fn location_key(s: &str) -> String {
    thread_local! {
        static RECENT: crate::recent::Recent<String> = crate::recent::Recent::new();
    }
    RECENT
        .with(|r| r.get_or(s, || gs1_location_key(s)))
        .unwrap_or_else(|| s.to_owned())
}

/// [`location_key`] of a GS1 key, computed; `None` for anything else.
fn gs1_location_key(s: &str) -> Option<String> {
    if s.starts_with("http://") || s.starts_with("https://") {
        gs1::digital_link::parse_digital_link(s)
            .ok()
            .map(|dl| dl.dl_path())
    } else if s.starts_with("urn:epc:id:") {
        gs1::parse_epc_uri(s).ok().map(|id| id.dl_path())
    } else {
        None
    }
}

/// A bare measurement type (`Temperature`) from `gs1:MT-Temperature` or its Web Vocabulary URI.
pub fn measurement_type(s: &str) -> &str {
    crate::vocab::bare(crate::vocab::Vocab::MeasurementType, s).unwrap_or(s)
}

/// The joined value of a typed term (`type ‖ 0x01 ‖ value`), for sources, destinations and
/// business transactions.
pub fn typed(ty: &str, value: &str) -> String {
    format!("{ty}\u{1}{value}")
}

fn str_at<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The terms of an EPCIS event (none for lotline's own documents, whose `type` is not an EPCIS
/// event type). A term is listed once however often the event names it.
pub fn terms(event: &Value) -> Vec<Term> {
    of_normalised(&vocab::normalise(event))
}

/// [`terms`] of an event whose vocabulary values [`vocab::normalise`] has already made bare
/// (admission normalises once for the profile and the terms).
pub(crate) fn of_normalised(e: &Value) -> Vec<Term> {
    let ty = str_at(e, "type").unwrap_or("");
    if !matches!(
        ty,
        "ObjectEvent"
            | "AggregationEvent"
            | "TransactionEvent"
            | "TransformationEvent"
            | "AssociationEvent"
    ) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut push = |tag: u8, value: String| out.push(Term { tag, value });
    push(tag::EVENT_TYPE, ty.to_owned());
    if let Some(a) = str_at(e, "action") {
        push(tag::ACTION, a.to_owned());
    }
    if let Some(d) = str_at(e, "disposition") {
        push(tag::DISPOSITION, d.to_owned());
    }
    for (field, t) in [
        ("bizLocation", tag::BIZ_LOCATION),
        ("readPoint", tag::READ_POINT),
    ] {
        if let Some(id) = e.get(field).and_then(|l| str_at(l, "id")) {
            push(t, location_key(id));
        }
    }
    for (field, member, t) in [
        ("sourceList", "source", tag::SOURCE),
        ("destinationList", "destination", tag::DESTINATION),
    ] {
        for s in list(e, field) {
            if let (Some(ty), Some(id)) = (str_at(s, "type"), str_at(s, member)) {
                push(t, typed(ty, &location_key(id)));
            }
        }
    }
    for b in list(e, "bizTransactionList") {
        if let Some(id) = str_at(b, "bizTransaction") {
            // An untyped transaction is found by EQ_bizTransaction_ of no type.
            push(
                tag::BIZ_TRANSACTION,
                typed(str_at(b, "type").unwrap_or(""), id),
            );
        }
    }
    for (field, t) in [
        ("epcList", tag::EPC),
        ("childEPCs", tag::EPC),
        ("inputEPCList", tag::INPUT_EPC),
        ("outputEPCList", tag::OUTPUT_EPC),
    ] {
        for epc in list(e, field).iter().filter_map(Value::as_str) {
            push(t, epc_key(epc));
        }
    }
    if let Some(p) = str_at(e, "parentID") {
        push(tag::PARENT, epc_key(p));
    }
    for (field, t) in [
        ("quantityList", tag::EPC_CLASS),
        ("childQuantityList", tag::EPC_CLASS),
        ("inputQuantityList", tag::INPUT_CLASS),
        ("outputQuantityList", tag::OUTPUT_CLASS),
    ] {
        for q in list(e, field) {
            if let Some(c) = str_at(q, "epcClass") {
                push(t, epc_key(c));
            }
        }
    }
    let sensors = list(e, "sensorElementList");
    if !sensors.is_empty() {
        push(tag::HAS_SENSOR, String::new());
    }
    for s in sensors {
        if let Some(d) = s.get("sensorMetadata").and_then(|m| str_at(m, "deviceID")) {
            push(tag::DEVICE, d.to_owned());
        }
        for r in list(s, "sensorReport") {
            if let Some(t) = str_at(r, "type") {
                push(tag::SENSOR_TYPE, measurement_type(t).to_owned());
            }
            for (field, t) in [
                ("chemicalSubstance", tag::CHEMICAL),
                ("microorganism", tag::MICROORGANISM),
                ("deviceID", tag::DEVICE),
            ] {
                if let Some(v) = str_at(r, field) {
                    push(t, v.to_owned());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether `bare` is a CBV term of `vocab` written in any form (for query parameters).
pub fn vocab_value(vocab: Vocab, value: &str) -> String {
    vocab::bare(vocab, value).unwrap_or(value).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_is_found_by_every_form_of_what_it_names() {
        let dl = format!(
            "https://id.gs1.org{}",
            epc_key("urn:epc:id:sgtin:0614141.107346.2017")
        );
        assert_eq!(dl, "https://id.gs1.org/01/10614141073464/21/2017");
        let e = json!({
            "type": "ObjectEvent", "action": "OBSERVE",
            "bizStep": "urn:epcglobal:cbv:bizstep:shipping",
            "disposition": "urn:epcglobal:cbv:disp:in_transit",
            "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", dl],
            "quantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200, "uom": "KGM"}],
            "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
            "bizLocation": {"id": "https://id.gs1.org/414/0614141073467/254/1234"},
            "sourceList": [{"type": "urn:epcglobal:cbv:sdt:owning_party", "source": "urn:epc:id:pgln:0614141.00001"}],
            "bizTransactionList": [{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1152"}],
            "sensorElementList": [{"sensorReport": [{"type": "gs1:MT-Temperature", "value": 26, "uom": "CEL"}]}]
        });
        let t = terms(&e);
        let has = |tag: u8, v: &str| t.iter().any(|x| x.tag == tag && x.value == v);
        assert!(has(tag::EVENT_TYPE, "ObjectEvent"));
        assert!(has(tag::ACTION, "OBSERVE"));
        assert!(has(tag::DISPOSITION, "in_transit"));
        assert!(has(
            tag::EPC,
            &epc_key("urn:epc:id:sgtin:0614141.107346.2017")
        ));
        assert_eq!(
            t.iter().filter(|x| x.tag == tag::EPC).count(),
            1,
            "one EPC in two forms"
        );
        assert!(has(
            tag::EPC_CLASS,
            &epc_key("urn:epc:class:lgtin:4012345.012345.998877")
        ));
        assert_eq!(
            location_key("urn:epc:id:sgln:0614141.07346.1234"),
            location_key("https://id.gs1.org/414/0614141073467/254/1234")
        );
        assert!(has(
            tag::READ_POINT,
            &location_key("urn:epc:id:sgln:0614141.07346.1234")
        ));
        assert!(has(
            tag::BIZ_LOCATION,
            &location_key("urn:epc:id:sgln:0614141.07346.1234")
        ));
        assert!(has(
            tag::SOURCE,
            &typed(
                "owning_party",
                &location_key("urn:epc:id:pgln:0614141.00001")
            )
        ));
        assert!(has(
            tag::BIZ_TRANSACTION,
            &typed("po", "urn:epcglobal:cbv:bt:0614141073467:1152")
        ));
        assert!(has(tag::SENSOR_TYPE, "Temperature"));
        assert!(has(tag::HAS_SENSOR, ""));
        assert!(terms(&json!({"type": "lotline:ActorRegistration"})).is_empty());
    }
}
