//! Sensor and quality data: the EPCIS 2.0 `sensorElementList` of an event, read into
//! [`Measurement`]s, with the rules JSON Schema cannot express.
//!
//! A rice mill measures the moisture of each paddy delivery; a warehouse records the phosphine
//! concentration of a fumigation and the temperature of a store; a lab reports a residue. EPCIS
//! carries all of them the same way: a `sensorReport` with a measurement `type` (CBV 2.0:
//! `Temperature`, `RelativeHumidity`, `MassConcentration`, …), a value or a range of values in
//! a UN/CEFACT unit (`uom`), and, where the type alone does not say what was measured, the
//! `chemicalSubstance` or `microorganism` it is about. Grain moisture, for instance, is a
//! `Dimensionless` mass fraction in percent (`P1`) of the substance water (its InChIKey URI);
//! `schemas/README.md` lists the conventions lotline reads.
//!
//! [`measurements`] flattens the elements (each report inherits its element's
//! `sensorMetadata`) and enforces the `sensor.*` rules; [`Measurement::describe`] says what a
//! measurement is in words for the buyer page and the timeline. Pure.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::profile::{Violation, parse_time_ms, violation};

/// Substances lotline names in words, by InChIKey (the end of an identifiers.org URI such as
/// `https://identifiers.org/inchikey:XLYOFNOQVPJJNP-UHFFFAOYSA-N`).
const SUBSTANCES: &[(&str, &str)] = &[
    ("XLYOFNOQVPJJNP-UHFFFAOYSA-N", "water"),
    ("XYFCBTPGUUZFHI-UHFFFAOYSA-N", "phosphine"),
    ("GZUXJHMPEANEGY-UHFFFAOYSA-N", "methyl bromide"),
    ("OBTWBSRJZRCYQV-UHFFFAOYSA-N", "sulfuryl fluoride"),
];

/// UN/CEFACT Recommendation 20 unit codes lotline writes out, with their symbols.
const UNITS: &[(&str, &str)] = &[
    ("CEL", "°C"),
    ("FAH", "°F"),
    ("KEL", "K"),
    ("P1", "%"),
    ("59", "ppm"),
    ("61", "ppb"),
    ("GQ", "µg/m³"),
    ("GP", "mg/m³"),
    ("KGM", "kg"),
    ("GRM", "g"),
    ("MGM", "mg"),
    ("HUR", "h"),
    ("MIN", "min"),
    ("DAY", "d"),
    ("SEC", "s"),
    ("KPA", "kPa"),
    ("PAL", "Pa"),
];

/// One sensor report, with the metadata of its element folded in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Measurement {
    /// The CBV measurement type as a bare word (`Temperature`), or a URI outside the GS1
    /// vocabulary as written.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_value: Option<f64>,
    /// UN/CEFACT unit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uom: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boolean_value: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chemical_substance: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microorganism: Option<String>,
    /// `ALARM_CONDITION` or `ERROR_CONDITION` (or a private URI): the sensor flagged it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// When it was measured (the report's `time`, else its element's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// The period the values summarise (the element's `startTime`/`endTime`), e.g. a
    /// fumigation's exposure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    #[serde(rename = "deviceID", default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

impl Measurement {
    /// The substance measured, in words, when lotline knows its InChIKey.
    pub fn substance(&self) -> Option<&'static str> {
        let uri = self.chemical_substance.as_deref()?;
        SUBSTANCES
            .iter()
            .find(|(key, _)| uri.ends_with(key))
            .map(|(_, name)| *name)
    }

    /// Grain or product moisture: a mass fraction of water.
    pub fn is_moisture(&self) -> bool {
        self.substance() == Some("water")
            && matches!(self.kind.as_str(), "Dimensionless" | "MassConcentration")
    }

    /// What was measured, in words: `moisture`, `phosphine concentration`, `temperature`.
    pub fn what(&self) -> String {
        if self.is_moisture() {
            return "moisture".into();
        }
        let kind = words(&self.kind);
        let concentration = matches!(
            self.kind.as_str(),
            "MassConcentration" | "VolumeFraction" | "AmountOfSubstancePerUnitVolume"
        );
        match (self.substance(), &self.microorganism) {
            (Some(s), _) if self.kind == "Dimensionless" => s.to_owned(),
            (Some(s), _) if concentration => format!("{s} concentration"),
            (Some(s), _) => format!("{s} {kind}"),
            (None, Some(m)) => format!("{kind} of {m}"),
            (None, None) => match &self.chemical_substance {
                Some(c) => format!("{kind} of {c}"),
                None => kind,
            },
        }
    }

    /// The measurement in words, e.g. `moisture 13.2 %` or `temperature 24–31 °C (mean 27.5)`,
    /// with an `(alarm)` mark when the sensor raised one.
    pub fn describe(&self) -> String {
        let unit = |v: f64| {
            let sym = self.uom.as_deref().map(|u| {
                UNITS
                    .iter()
                    .find(|(code, _)| *code == u)
                    .map_or(u, |(_, s)| *s)
            });
            match sym {
                Some(s) => format!("{} {s}", number(v)),
                None => number(v),
            }
        };
        let mut out = self.what();
        let reading = match (self.value, self.min_value, self.max_value, self.mean_value) {
            (Some(v), ..) => Some(unit(v)),
            (None, Some(lo), Some(hi), mean) => Some(match mean {
                Some(m) => format!("{}–{} (mean {})", number(lo), unit(hi), number(m)),
                None => format!("{}–{}", number(lo), unit(hi)),
            }),
            (None, Some(lo), None, _) => Some(format!("at least {}", unit(lo))),
            (None, None, Some(hi), _) => Some(format!("at most {}", unit(hi))),
            (None, None, None, Some(m)) => Some(format!("mean {}", unit(m))),
            (None, None, None, None) => self
                .string_value
                .clone()
                .or_else(|| {
                    self.boolean_value
                        .map(|b| if b { "yes" } else { "no" }.into())
                })
                .or_else(|| self.uri_value.clone()),
        };
        if let Some(r) = reading {
            out.push(' ');
            out.push_str(&r);
        }
        if let (Some(from), Some(until)) = (&self.start_time, &self.end_time)
            && let (Some(a), Some(b)) = (parse_time_ms(from), parse_time_ms(until))
        {
            out.push_str(&format!(" over {}", duration(b - a)));
        }
        match self.exception.as_deref() {
            Some("ALARM_CONDITION") => out.push_str(" (alarm)"),
            Some("ERROR_CONDITION") => out.push_str(" (sensor error)"),
            Some(other) => out.push_str(&format!(" ({other})")),
            None => {}
        }
        out
    }
}

/// `RelativeHumidity` → `relative humidity`.
fn words(kind: &str) -> String {
    if kind.contains(':') {
        return kind.to_owned();
    }
    let mut out = String::new();
    for (i, c) in kind.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// A value as people write it: no trailing zeros, at most four decimals.
fn number(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_owned() }
}

fn duration(ms: i64) -> String {
    let minutes = ms / 60_000;
    match minutes {
        m if m >= 2 * 24 * 60 && m % (24 * 60) == 0 => format!("{} days", m / (24 * 60)),
        m if m >= 60 && m % 60 == 0 => format!("{} h", m / 60),
        m => format!("{m} min"),
    }
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(Value::as_f64)
}

fn text(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// The measurements of a (vocabulary-normalised) event's `sensorElementList`, in document
/// order, after the `sensor.*` rules.
pub fn measurements(doc: &Value) -> Result<Vec<Measurement>, Violation> {
    let elements = doc
        .get("sensorElementList")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut out = Vec::new();
    for (i, element) in elements.iter().enumerate() {
        let meta = element.get("sensorMetadata").unwrap_or(&Value::Null);
        let (start, end) = (text(meta, "startTime"), text(meta, "endTime"));
        if let (Some(a), Some(b)) = (&start, &end)
            && let (Some(a_ms), Some(b_ms)) = (parse_time_ms(a), parse_time_ms(b))
            && a_ms > b_ms
        {
            return Err(violation(
                "sensor.period",
                format!("/sensorElementList/{i}/sensorMetadata/endTime"),
                format!("the period ends ({b}) before it starts ({a})"),
            ));
        }
        let reports = element
            .get("sensorReport")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        for (j, r) in reports.iter().enumerate() {
            let m = Measurement {
                kind: text(r, "type").unwrap_or_default(),
                value: num(r, "value"),
                min_value: num(r, "minValue"),
                max_value: num(r, "maxValue"),
                mean_value: num(r, "meanValue"),
                uom: text(r, "uom"),
                string_value: text(r, "stringValue"),
                boolean_value: r.get("booleanValue").and_then(Value::as_bool),
                uri_value: text(r, "uriValue"),
                chemical_substance: text(r, "chemicalSubstance"),
                microorganism: text(r, "microorganism"),
                exception: text(r, "exception"),
                time: text(r, "time").or_else(|| text(meta, "time")),
                start_time: start.clone(),
                end_time: end.clone(),
                device_id: text(r, "deviceID").or_else(|| text(meta, "deviceID")),
            };
            check(&m, r, &format!("/sensorElementList/{i}/sensorReport/{j}"))?;
            out.push(m);
        }
    }
    Ok(out)
}

/// The `sensor.*` rules of one report (`raw` as written, at `at`).
fn check(m: &Measurement, raw: &Value, at: &str) -> Result<(), Violation> {
    let numbers = [m.value, m.min_value, m.max_value, m.mean_value];
    let numeric = numbers.iter().any(Option::is_some);
    let other = m.string_value.is_some()
        || m.boolean_value.is_some()
        || m.uri_value.is_some()
        || raw.get("hexBinaryValue").is_some();
    if !numeric && !other && m.exception.is_none() {
        return Err(violation(
            "sensor.value",
            at,
            "a sensor report carries a reading (value, minValue, maxValue, meanValue, stringValue, booleanValue, uriValue or hexBinaryValue) or an exception",
        ));
    }
    if numeric && m.uom.is_none() && !matches!(m.kind.as_str(), "Count" | "Dimensionless") {
        return Err(violation(
            "sensor.uom",
            format!("{at}/uom"),
            format!(
                "a {} reading needs its unit: uom, a UN/CEFACT code such as CEL, P1 or 59",
                words(&m.kind)
            ),
        ));
    }
    if let (Some(lo), Some(hi)) = (m.min_value, m.max_value) {
        if lo > hi {
            return Err(violation(
                "sensor.range",
                format!("{at}/minValue"),
                format!("minValue {lo} is above maxValue {hi}"),
            ));
        }
        for (name, v) in [("value", m.value), ("meanValue", m.mean_value)] {
            if let Some(v) = v
                && !(lo..=hi).contains(&v)
            {
                return Err(violation(
                    "sensor.range",
                    format!("{at}/{name}"),
                    format!("{name} {v} is outside minValue {lo} … maxValue {hi}"),
                ));
            }
        }
    }
    if m.substance() == Some("water") && m.uom.as_deref() == Some("P1") {
        for (name, v) in [
            ("value", m.value),
            ("minValue", m.min_value),
            ("maxValue", m.max_value),
            ("meanValue", m.mean_value),
        ] {
            if let Some(v) = v
                && !(0.0..=100.0).contains(&v)
            {
                return Err(violation(
                    "sensor.moisture",
                    format!("{at}/{name}"),
                    format!("a moisture content of {v} % is not between 0 and 100"),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const WATER: &str = "https://identifiers.org/inchikey:XLYOFNOQVPJJNP-UHFFFAOYSA-N";
    const PHOSPHINE: &str = "https://identifiers.org/inchikey:XYFCBTPGUUZFHI-UHFFFAOYSA-N";

    fn one(report: Value) -> Result<Vec<Measurement>, Violation> {
        measurements(&json!({"sensorElementList": [{"sensorReport": [report]}]}))
    }

    #[test]
    fn reads_reports_with_their_elements_metadata() {
        let doc = json!({"sensorElementList": [
            {"sensorMetadata": {"time": "2026-11-10T08:00:00+07:00", "deviceID": "urn:epc:id:giai:8841234.m1"},
             "sensorReport": [
                {"type": "Dimensionless", "chemicalSubstance": WATER, "value": 13.2, "uom": "P1"},
                {"type": "Temperature", "value": 29.5, "uom": "CEL", "time": "2026-11-10T08:05:00+07:00"}
             ]},
            {"sensorMetadata": {"startTime": "2026-11-20T08:00:00+07:00", "endTime": "2026-11-25T08:00:00+07:00"},
             "sensorReport": [
                {"type": "MassConcentration", "chemicalSubstance": PHOSPHINE, "minValue": 1.2, "maxValue": 2.0, "meanValue": 1.5, "uom": "GP"}
             ]}
        ]});
        let m = measurements(&doc).unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].time.as_deref(), Some("2026-11-10T08:00:00+07:00"));
        assert_eq!(
            m[0].device_id.as_deref(),
            Some("urn:epc:id:giai:8841234.m1")
        );
        assert_eq!(m[1].time.as_deref(), Some("2026-11-10T08:05:00+07:00"));
        assert!(m[0].is_moisture());
        assert_eq!(m[0].describe(), "moisture 13.2 %");
        assert_eq!(m[1].describe(), "temperature 29.5 °C");
        assert_eq!(
            m[2].describe(),
            "phosphine concentration 1.2–2 mg/m³ (mean 1.5) over 5 days"
        );
        assert!(measurements(&json!({})).unwrap().is_empty());
    }

    #[test]
    fn names_unknown_things_as_written() {
        let m = one(json!({"type": "https://example.com/voc/Aflatoxin", "value": 2, "uom": "61"}))
            .unwrap();
        assert_eq!(m[0].describe(), "https://example.com/voc/Aflatoxin 2 ppb");
        let m = one(json!({"type": "RelativeHumidity", "maxValue": 70, "uom": "P1", "exception": "ALARM_CONDITION"}))
            .unwrap();
        assert_eq!(m[0].describe(), "relative humidity at most 70 % (alarm)");
        let m = one(json!({"type": "Count", "value": 3})).unwrap();
        assert_eq!(m[0].describe(), "count 3");
        let m = one(json!({"type": "Temperature", "exception": "ERROR_CONDITION"})).unwrap();
        assert_eq!(m[0].describe(), "temperature (sensor error)");
        let m = one(json!({"type": "Dimensionless", "booleanValue": true})).unwrap();
        assert_eq!(m[0].describe(), "dimensionless yes");
    }

    #[test]
    fn each_rule_names_itself_and_the_member() {
        let cases = [
            (json!({"type": "Temperature"}), "sensor.value", ""),
            (
                json!({"type": "Temperature", "value": 30}),
                "sensor.uom",
                "/uom",
            ),
            (
                json!({"type": "Temperature", "minValue": 30, "maxValue": 20, "uom": "CEL"}),
                "sensor.range",
                "/minValue",
            ),
            (
                json!({"type": "Temperature", "minValue": 20, "maxValue": 30, "meanValue": 31, "uom": "CEL"}),
                "sensor.range",
                "/meanValue",
            ),
            (
                json!({"type": "Dimensionless", "chemicalSubstance": WATER, "value": 130, "uom": "P1"}),
                "sensor.moisture",
                "/value",
            ),
        ];
        for (report, rule, member) in cases {
            let e = one(report.clone()).unwrap_err();
            assert_eq!(e.rule, rule, "{report}");
            assert_eq!(
                e.pointer,
                format!("/sensorElementList/0/sensorReport/0{member}"),
                "{report}"
            );
        }
        let e = measurements(&json!({"sensorElementList": [{
            "sensorMetadata": {"startTime": "2026-11-25T08:00:00Z", "endTime": "2026-11-20T08:00:00Z"},
            "sensorReport": [{"type": "Temperature", "value": 20, "uom": "CEL"}]
        }]}))
        .unwrap_err();
        assert_eq!(e.rule, "sensor.period");
    }

    #[test]
    fn numbers_and_durations_read_naturally() {
        assert_eq!(number(13.0), "13");
        assert_eq!(number(13.25), "13.25");
        assert_eq!(number(-0.0), "0");
        assert_eq!(duration(3 * 86_400_000), "3 days");
        assert_eq!(duration(86_400_000), "24 h");
        assert_eq!(duration(90 * 60_000), "90 min");
    }
}
