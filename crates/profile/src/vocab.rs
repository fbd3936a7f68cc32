//! CBV 2.0 vocabulary forms: the bare words EPCIS 2.0 JSON-LD uses (`shipping`), the URNs of
//! EPCIS 1.x and the XML binding (`urn:epcglobal:cbv:bizstep:shipping`), and the Web URIs of
//! CBV 2.0 (`https://ref.gs1.org/cbv/BizStep-shipping`) all name the same term.
//!
//! The profile is written with bare words. [`normalise`] gives the view of a document the
//! profile reads — every standard vocabulary value as its bare word — while the signed
//! original is stored untouched: the signature covers the form its signer wrote. Pure.

use std::borrow::Cow;

use serde_json::Value;

/// The CBV vocabularies lotline reads, as (URN segment, Web URI prefix).
#[derive(Debug, Clone, Copy)]
pub enum Vocab {
    BizStep,
    Disposition,
    BizTransactionType,
    SourceDestType,
    ErrorReason,
    /// Sensor measurement types (`Temperature`, `gs1:MT-Temperature`); CBV 2.0 terms only.
    MeasurementType,
    /// Sensor alert types (`ALARM_CONDITION`).
    SensorAlert,
}

impl Vocab {
    fn forms(self) -> (Option<&'static str>, &'static str) {
        match self {
            Vocab::BizStep => (Some("bizstep"), "BizStep-"),
            Vocab::Disposition => (Some("disp"), "Disp-"),
            Vocab::BizTransactionType => (Some("btt"), "BTT-"),
            Vocab::SourceDestType => (Some("sdt"), "SDT-"),
            Vocab::ErrorReason => (Some("er"), "ER-"),
            // EPCIS 1.x had no sensor data, so these have no URN form.
            Vocab::MeasurementType => (None, "MT-"),
            Vocab::SensorAlert => (None, "SensorAlertType-"),
        }
    }
}

/// The bare word of a CBV term written in any of its forms, or `None` if `value` is not one of
/// the long forms (a bare word, or a private vocabulary's URI, stays as it is).
pub fn bare(vocab: Vocab, value: &str) -> Option<&str> {
    let (urn, web) = vocab.forms();
    if let Some(rest) = value.strip_prefix("urn:epcglobal:cbv:")
        && let Some(urn) = urn
        && let Some(word) = rest.strip_prefix(urn).and_then(|r| r.strip_prefix(':'))
    {
        return is_word(word).then_some(word);
    }
    for base in [
        "https://ref.gs1.org/cbv/",
        "http://ref.gs1.org/cbv/",
        "https://gs1.org/voc/",
        "https://www.gs1.org/voc/",
        "http://gs1.org/voc/",
        // The compact IRI of the EPCIS 2.0 context, whose `gs1` prefix is the Web vocabulary.
        "gs1:",
    ] {
        if let Some(word) = value.strip_prefix(base).and_then(|r| r.strip_prefix(web)) {
            return is_word(word).then_some(word);
        }
    }
    None
}

fn is_word(w: &str) -> bool {
    !w.is_empty() && w.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// One step of a path into a document: a member name or an array position.
#[derive(Clone, Copy)]
enum Step<'a> {
    Key(&'a str),
    At(usize),
}

fn step<'v>(v: &'v Value, s: Step<'_>) -> Option<&'v Value> {
    match s {
        Step::Key(k) => v.get(k),
        Step::At(i) => v.get(i),
    }
}

fn step_mut<'v>(v: &'v mut Value, s: Step<'_>) -> Option<&'v mut Value> {
    match s {
        Step::Key(k) => v.get_mut(k),
        Step::At(i) => v.get_mut(i),
    }
}

/// The document with every standard vocabulary value as its bare word; borrowed unchanged when
/// it already is (the common case costs no copy).
///
/// Values are reached by paths of [`Step`]s rather than JSON Pointers: every event passes
/// through here, and a pointer lookup allocates for each of its tokens.
pub fn normalise(doc: &Value) -> Cow<'_, Value> {
    use Step::{At, Key};
    let mut out: Option<Value> = None;
    let mut set = |path: &[Step<'_>], vocab: Vocab| {
        let current = out.as_ref().unwrap_or(doc);
        let found = path.iter().try_fold(current, |v, s| step(v, *s));
        let word = match found.and_then(Value::as_str).and_then(|v| bare(vocab, v)) {
            Some(w) => w.to_owned(),
            None => return,
        };
        let target = out.get_or_insert_with(|| doc.clone());
        if let Some(slot) = path.iter().try_fold(target, |v, s| step_mut(v, *s)) {
            *slot = Value::String(word);
        }
    };
    set(&[Key("bizStep")], Vocab::BizStep);
    set(&[Key("disposition")], Vocab::Disposition);
    set(
        &[Key("errorDeclaration"), Key("reason")],
        Vocab::ErrorReason,
    );
    let len = |v: Option<&Value>| v.and_then(Value::as_array).map_or(0, Vec::len);
    for (list, vocab) in [
        ("bizTransactionList", Vocab::BizTransactionType),
        ("sourceList", Vocab::SourceDestType),
        ("destinationList", Vocab::SourceDestType),
    ] {
        for i in 0..len(doc.get(list)) {
            set(&[Key(list), At(i), Key("type")], vocab);
        }
    }
    let elements = doc
        .get("sensorElementList")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, element) in elements.iter().enumerate() {
        for j in 0..len(element.get("sensorReport")) {
            let report = [Key("sensorElementList"), At(i), Key("sensorReport"), At(j)];
            let with = |last| [report[0], report[1], report[2], report[3], Key(last)];
            set(&with("type"), Vocab::MeasurementType);
            set(&with("exception"), Vocab::SensorAlert);
        }
    }
    for part in ["set", "unset"] {
        let n = len(doc.get("persistentDisposition").and_then(|p| p.get(part)));
        for i in 0..n {
            set(
                &[Key("persistentDisposition"), Key(part), At(i)],
                Vocab::Disposition,
            );
        }
    }
    match out {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(doc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_form_gives_the_bare_word() {
        for v in [
            "shipping",
            "urn:epcglobal:cbv:bizstep:shipping",
            "https://ref.gs1.org/cbv/BizStep-shipping",
            "https://gs1.org/voc/BizStep-shipping",
        ] {
            assert_eq!(bare(Vocab::BizStep, v).unwrap_or(v), "shipping", "{v}");
        }
        assert_eq!(
            bare(Vocab::BizStep, "urn:epcglobal:cbv:disp:in_transit"),
            None
        );
        assert_eq!(
            bare(Vocab::Disposition, "urn:epcglobal:cbv:disp:in_transit"),
            Some("in_transit")
        );
        assert_eq!(bare(Vocab::BizStep, "urn:epcglobal:cbv:bizstep:"), None);
        assert_eq!(bare(Vocab::BizStep, "https://example.com/bizstep/x"), None);
        assert_eq!(bare(Vocab::BizStep, "lotline:milling"), None);
        for v in [
            "Temperature",
            "gs1:MT-Temperature",
            "https://gs1.org/voc/MT-Temperature",
        ] {
            assert_eq!(
                bare(Vocab::MeasurementType, v).unwrap_or(v),
                "Temperature",
                "{v}"
            );
        }
        assert_eq!(
            bare(Vocab::MeasurementType, "https://example.com/voc/Moisture"),
            None
        );
    }

    #[test]
    fn normalises_a_document_and_borrows_when_nothing_changes() {
        let d = json!({
            "bizStep": "urn:epcglobal:cbv:bizstep:receiving",
            "disposition": "https://ref.gs1.org/cbv/Disp-in_progress",
            "bizTransactionList": [{"type": "urn:epcglobal:cbv:btt:po", "bizTransaction": "urn:x"}],
            "sourceList": [{"type": "urn:epcglobal:cbv:sdt:owning_party", "source": "urn:y"}],
            "persistentDisposition": {"set": ["urn:epcglobal:cbv:disp:completeness_verified"]},
            "errorDeclaration": {"reason": "urn:epcglobal:cbv:er:incorrect_data"},
            "sensorElementList": [{"sensorReport": [
                {"type": "gs1:MT-Temperature", "exception": "gs1:SensorAlertType-ALARM_CONDITION"},
                {"type": "https://example.com/voc/Moisture"}
            ]}]
        });
        let n = normalise(&d);
        assert!(matches!(n, Cow::Owned(_)));
        assert_eq!(n["bizStep"], "receiving");
        assert_eq!(n["disposition"], "in_progress");
        assert_eq!(n["bizTransactionList"][0]["type"], "po");
        assert_eq!(n["bizTransactionList"][0]["bizTransaction"], "urn:x");
        assert_eq!(n["sourceList"][0]["type"], "owning_party");
        assert_eq!(
            n["persistentDisposition"]["set"][0],
            "completeness_verified"
        );
        assert_eq!(n["errorDeclaration"]["reason"], "incorrect_data");
        let report = &n["sensorElementList"][0]["sensorReport"];
        assert_eq!(report[0]["type"], "Temperature");
        assert_eq!(report[0]["exception"], "ALARM_CONDITION");
        assert_eq!(report[1]["type"], "https://example.com/voc/Moisture");
        let plain = json!({"bizStep": "shipping", "disposition": "in_transit"});
        assert!(matches!(normalise(&plain), Cow::Borrowed(_)));
    }
}
