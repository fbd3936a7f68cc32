//! The JSON Schemas of the lotline profile of EPCIS 2.0, compiled into the binary.
//!
//! `schemas/*.schema.json` (draft 2020-12) describe what lotline accepts: one schema per kind of
//! document (harvest, shipping, receiving, transformation, aggregation, transaction and the six
//! registrar documents), the signed envelope every document carries, and `common`, whose `$defs`
//! the others refer to by its absolute `$id` (`urn:lotline:schema:common:v1#/$defs/...`).
//! `schemas/README.md` is the prose description of the same profile.
//!
//! [`PROFILE_SCHEMAS`] holds the texts, for serving them at `GET /v1/schemas/{name}`;
//! [`validator`] gives the compiled validator of one schema, built on first use and cached for
//! the life of the process. The schemas check shape only: signatures, the ledger's state and
//! rules JSON Schema cannot express (units, dates in order, yields, who may sign) are checked
//! elsewhere.

use std::sync::OnceLock;

use jsonschema::{Draft, Registry, Validator};
use serde_json::Value;

/// The `$id` of `common.schema.json`, under which it is registered for the other schemas'
/// `$ref`s.
const COMMON_ID: &str = "urn:lotline:schema:common:v1";

macro_rules! schema {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../schemas/",
                $name,
                ".schema.json"
            )),
        )
    };
}

/// Every schema of the profile as `(name, text)`: the name is the file name without
/// `.schema.json`, as served at `GET /v1/schemas/{name}`. `common` comes first.
pub const PROFILE_SCHEMAS: &[(&str, &str)] = &[
    schema!("common"),
    schema!("event-envelope"),
    schema!("harvest"),
    schema!("shipping"),
    schema!("receiving"),
    schema!("transformation"),
    schema!("aggregation"),
    schema!("transaction"),
    schema!("observation"),
    schema!("actor-registration"),
    schema!("role-grant"),
    schema!("role-revocation"),
    schema!("key-addition"),
    schema!("key-rotation"),
    schema!("key-revocation"),
    schema!("certificate-issuance"),
    schema!("certificate-amendment"),
    schema!("certificate-suspension"),
    schema!("certificate-withdrawal"),
    schema!("certificate-reinstatement"),
];

fn text_of(name: &str) -> Option<&'static str> {
    PROFILE_SCHEMAS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| *text)
}

fn parse(name: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| {
        panic!("schemas/{name}.schema.json is not JSON (the unit tests check it): {e}")
    })
}

/// The registry holding `common`, shared by every validator.
fn registry() -> &'static Registry<'static> {
    static REGISTRY: OnceLock<Registry<'static>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let common = parse("common", text_of("common").unwrap_or_default());
        Registry::new()
            .add(COMMON_ID, common)
            .and_then(|builder| builder.prepare())
            .unwrap_or_else(|e| {
                panic!(
                    "schemas/common.schema.json does not register (the unit tests check it): {e}"
                )
            })
    })
}

/// Compiles one schema: draft 2020-12, `format` asserted (`date-time`, `date`, `uri`), no
/// retrieval, `common` resolved from the registry. Patterns run on the `regex` engine: ours use
/// no look-around or back-references, and it is several times faster than the default
/// backtracking one on every EPC of every event.
fn build(name: &str, text: &str) -> Result<Validator, String> {
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .with_pattern_options(jsonschema::PatternOptions::regex())
        .should_validate_formats(true)
        .offline()
        .with_registry(registry())
        .build(&parse(name, text))
        .map_err(|e| format!("schemas/{name}.schema.json does not compile: {e}"))
}

/// The validator of the schema `kind` (a name from [`PROFILE_SCHEMAS`], e.g. `harvest`,
/// `aggregation`, `role-grant`, `event-envelope`), compiled on first use. `None` for an unknown
/// name and for `common`, which holds definitions only and is not a document's schema.
///
/// Documents are checked with `validator(kind)?.iter_errors(doc)`; each error's
/// `instance_path()` is the JSON pointer of the offending member.
pub fn validator(kind: &str) -> Option<&'static Validator> {
    static VALIDATORS: [OnceLock<Validator>; PROFILE_SCHEMAS.len()] =
        [const { OnceLock::new() }; PROFILE_SCHEMAS.len()];
    if kind == "common" {
        return None;
    }
    let i = PROFILE_SCHEMAS.iter().position(|(name, _)| *name == kind)?;
    let (name, text) = PROFILE_SCHEMAS[i];
    Some(VALIDATORS[i].get_or_init(|| {
        build(name, text).unwrap_or_else(|e| panic!("{e} (the unit tests check every schema)"))
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/profile");
    const GS1_SCHEMA: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/epcis/EPCIS-JSON-Schema.json"
    );

    /// Valid example documents (`tests/fixtures/profile/<fixture>.json`) and their schema.
    const VALID: &[(&str, &str)] = &[
        ("harvest", "harvest"),
        ("harvest_tagged", "harvest"),
        ("harvest_correction", "harvest"),
        ("shipping", "shipping"),
        ("receiving", "receiving"),
        ("milling", "transformation"),
        ("bagging", "transformation"),
        ("chipping", "transformation"),
        ("packing", "aggregation"),
        ("unpacking", "aggregation"),
        ("transaction", "transaction"),
        ("actor_registration", "actor-registration"),
        ("role_grant", "role-grant"),
        ("role_revocation", "role-revocation"),
        ("key_addition", "key-addition"),
        ("key_rotation", "key-rotation"),
        ("key_revocation", "key-revocation"),
        ("certificate_issuance", "certificate-issuance"),
        ("certificate_amendment", "certificate-amendment"),
        ("certificate_suspension", "certificate-suspension"),
        ("certificate_withdrawal", "certificate-withdrawal"),
        ("certificate_reinstatement", "certificate-reinstatement"),
    ];

    fn fixture(name: &str) -> Value {
        let path = format!("{FIXTURES}/{name}.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn schema_of(fixture_name: &str) -> &'static str {
        VALID
            .iter()
            .find(|(f, _)| *f == fixture_name)
            .map(|(_, s)| *s)
            .unwrap_or_else(|| panic!("no fixture {fixture_name}"))
    }

    fn errors(schema: &str, doc: &Value) -> Vec<String> {
        let v = validator(schema).unwrap_or_else(|| panic!("no validator {schema}"));
        v.iter_errors(doc)
            .map(|e| {
                format!(
                    "{:?} ({}): {e}",
                    e.instance_path().as_str(),
                    e.schema_path().as_str()
                )
            })
            .collect()
    }

    /// GS1's own schema, draft-07, with `format` asserted: without it `uri` and `date-time` would
    /// be annotations only, and GS1's rule that extension member names are URIs would not bite.
    fn gs1_validator() -> Validator {
        let text =
            std::fs::read_to_string(GS1_SCHEMA).unwrap_or_else(|e| panic!("{GS1_SCHEMA}: {e}"));
        let schema: Value = serde_json::from_str(&text).expect("GS1 schema is JSON");
        jsonschema::options()
            .with_draft(Draft::Draft7)
            .should_validate_formats(true)
            .offline()
            .build(&schema)
            .expect("GS1's EPCIS schema compiles")
    }

    fn is_epcis(doc: &Value) -> bool {
        matches!(
            doc["type"].as_str(),
            Some("ObjectEvent" | "AggregationEvent" | "TransactionEvent" | "TransformationEvent")
        )
    }

    fn without_proof(doc: &Value) -> Value {
        let mut doc = doc.clone();
        doc.as_object_mut().expect("an object").remove("proof");
        doc
    }

    // (a) Every schema parses, compiles, has the agreed $id, a title and a description, and every
    // reference into common names an existing definition.

    #[test]
    fn every_schema_compiles() {
        let common = parse("common", text_of("common").expect("common is listed"));
        let defs = common["$defs"].as_object().expect("common has $defs");
        for (name, text) in PROFILE_SCHEMAS {
            let schema = parse(name, text);
            assert_eq!(
                schema["$id"].as_str(),
                Some(format!("urn:lotline:schema:{name}:v1").as_str()),
                "{name}: $id"
            );
            assert_eq!(
                schema["$schema"].as_str(),
                Some("https://json-schema.org/draft/2020-12/schema"),
                "{name}: $schema"
            );
            assert!(
                schema["title"].as_str().is_some_and(|t| !t.is_empty()),
                "{name}: title"
            );
            assert!(
                schema["description"].as_str().is_some_and(|d| d.len() > 40),
                "{name}: description"
            );
            build(name, text).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(validator(name).is_some(), *name != "common", "{name}");
            let mut refs = Vec::new();
            collect_refs(&schema, &mut refs);
            for r in refs {
                if let Some(def) = r.strip_prefix("urn:lotline:schema:common:v1#/$defs/") {
                    assert!(defs.contains_key(def), "{name}: {r} names no definition");
                } else {
                    assert!(r.starts_with("#/$defs/"), "{name}: unexpected $ref {r}");
                }
            }
        }
        assert!(validator("no-such-kind").is_none());
    }

    fn collect_refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(s)) => out.push(s.clone()),
                        _ => collect_refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn schema_names_are_unique_and_common_is_first() {
        assert_eq!(PROFILE_SCHEMAS[0].0, "common");
        for (i, (a, _)) in PROFILE_SCHEMAS.iter().enumerate() {
            assert!(
                PROFILE_SCHEMAS[..i].iter().all(|(b, _)| a != b),
                "{a} is listed twice"
            );
        }
    }

    // (b) The realistic examples are valid, against their kind's schema and the envelope.

    #[test]
    fn valid_examples_pass_their_schema_and_the_envelope() {
        for (name, schema) in VALID {
            let doc = fixture(name);
            let errs = errors(schema, &doc);
            assert!(errs.is_empty(), "{name} against {schema}: {errs:#?}");
            let errs = errors("event-envelope", &doc);
            assert!(errs.is_empty(), "{name} against the envelope: {errs:#?}");
        }
    }

    #[test]
    fn envelope_accepts_registrar_types_only_from_the_lotline_list() {
        let mut doc = fixture("role_grant");
        assert!(errors("event-envelope", &doc).is_empty());
        doc["type"] = "lotline:RoleDeletion".into();
        let errs = errors("event-envelope", &doc);
        assert!(
            errs.first().is_some_and(|e| e.starts_with("\"/type\"")),
            "{errs:#?}"
        );
    }

    /// Variants of the examples that are still in the profile.
    fn valid_variants() -> Vec<(&'static str, &'static str, Value)> {
        let mut out = Vec::new();
        let mut add = |what: &'static str, name: &'static str, f: fn(&mut Value)| {
            let mut doc = fixture(name);
            f(&mut doc);
            out.push((what, name, doc));
        };
        add(
            "unpacking without childEPCs releases all",
            "unpacking",
            |d| {
                d.as_object_mut().unwrap().remove("childEPCs");
            },
        );
        add("unpacking with an empty childEPCs", "unpacking", |d| {
            d["childEPCs"] = json!([]);
        });
        add(
            "an extension member named by a compact IRI",
            "harvest",
            |d| {
                d["@context"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"example": "http://ns.example.com/epcis/"}));
                d["example:weather"] = "dry, 31 °C".into();
            },
        );
        add("eventTime in UTC", "harvest", |d| {
            d["eventTime"] = "2025-11-20T09:30:00Z".into();
        });
        add("tagged sacks and an SSCC shipped", "shipping", |d| {
            d.as_object_mut().unwrap().remove("quantityList");
            d["epcList"] = json!([
                "urn:epc:id:sscc:8841234.0000000024",
                "urn:epc:id:sgtin:8841234.022345.1001",
                "urn:epc:raw:96.x30361BA04815D240000003EA"
            ]);
        });
        add(
            "a lot in tonnes with an escaped lot number",
            "shipping",
            |d| {
                d["quantityList"][0] = json!({
                    "epcClass": "urn:epc:class:lgtin:8841234.012345.PV25%2F0118",
                    "quantity": 2.5,
                    "uom": "TNE"
                });
            },
        );
        add(
            "a unit lotline does not convert is left to the server",
            "shipping",
            |d| {
                d["quantityList"][0]["uom"] = "LTR".into();
            },
        );
        add("unlinking a document", "transaction", |d| {
            d["action"] = "DELETE".into();
        });
        add("a certificate URI list", "milling", |d| {
            d["certificationInfo"] =
                json!(["https://certifier.example.org/certificates/KH-BIO-154-2025-0077"]);
        });
        add(
            "an actor without GLN or province",
            "actor_registration",
            |d| {
                let actor = d["actor"].as_object_mut().unwrap();
                actor.remove("gln");
                actor.remove("province");
            },
        );
        out
    }

    #[test]
    fn valid_variants_pass() {
        for (what, name, doc) in valid_variants() {
            let errs = errors(schema_of(name), &doc);
            assert!(errs.is_empty(), "{what} ({name}): {errs:#?}");
        }
    }

    // (c) Every EPCIS example, without its proof, is valid EPCIS 2.0 by GS1's schema.

    #[test]
    fn epcis_examples_without_proof_pass_gs1_schema() {
        let gs1 = gs1_validator();
        let mut checked = 0;
        let docs = VALID.iter().map(|(name, _)| (*name, fixture(name))).chain(
            valid_variants()
                .into_iter()
                .map(|(what, _, doc)| (what, doc)),
        );
        for (name, doc) in docs.filter(|(_, d)| is_epcis(d)) {
            let doc = without_proof(&doc);
            let errs: Vec<String> = gs1
                .iter_errors(&doc)
                .map(|e| format!("{:?}: {e}", e.instance_path().as_str()))
                .collect();
            assert!(errs.is_empty(), "{name} against GS1's schema: {errs:#?}");
            checked += 1;
        }
        assert!(
            checked > VALID.len() / 2,
            "only {checked} EPCIS documents checked"
        );
    }

    /// Why the proof is taken off: GS1's schema allows only EPCIS names and URIs as member
    /// names. This also shows that `format` is asserted in the GS1 check.
    #[test]
    fn gs1_schema_refuses_the_proof_member() {
        let gs1 = gs1_validator();
        let doc = fixture("harvest");
        assert!(!gs1.is_valid(&doc));
        assert!(gs1.is_valid(&without_proof(&doc)));
    }

    // (d) Documents outside the profile are refused, the first error pointing at the culprit.

    struct Invalid {
        what: &'static str,
        fixture: &'static str,
        pointer: &'static str,
        mutate: fn(&mut Value),
    }

    fn remove(doc: &mut Value, key: &str) {
        doc.as_object_mut().expect("an object").remove(key);
    }

    const INVALID: &[Invalid] = &[
        // harvest
        Invalid {
            what: "ilmd without lotline:crop",
            fixture: "harvest",
            pointer: "/ilmd",
            mutate: |d| remove(&mut d["ilmd"], "lotline:crop"),
        },
        Invalid {
            what: "ilmd without lotline:plot",
            fixture: "harvest",
            pointer: "/ilmd",
            mutate: |d| remove(&mut d["ilmd"], "lotline:plot"),
        },
        Invalid {
            what: "harvest without ilmd",
            fixture: "harvest",
            pointer: "",
            mutate: |d| remove(d, "ilmd"),
        },
        Invalid {
            what: "harvest with bizStep receiving",
            fixture: "harvest",
            pointer: "/bizStep",
            mutate: |d| d["bizStep"] = "receiving".into(),
        },
        Invalid {
            what: "harvest with action OBSERVE",
            fixture: "harvest",
            pointer: "/action",
            mutate: |d| d["action"] = "OBSERVE".into(),
        },
        Invalid {
            what: "harvest with both epcList and quantityList",
            fixture: "harvest_tagged",
            pointer: "/quantityList",
            mutate: |d| {
                d["quantityList"] = json!([{
                    "epcClass": "urn:epc:class:lgtin:8841234.012345.PV25-0120",
                    "quantity": 800,
                    "uom": "KGM"
                }])
            },
        },
        Invalid {
            what: "harvest with neither epcList nor quantityList",
            fixture: "harvest",
            pointer: "",
            mutate: |d| remove(d, "quantityList"),
        },
        Invalid {
            what: "tagged harvest without lotline:itemQuantity",
            fixture: "harvest_tagged",
            pointer: "/ilmd",
            mutate: |d| remove(&mut d["ilmd"], "lotline:itemQuantity"),
        },
        Invalid {
            what: "lotline:itemQuantity beside a quantityList",
            fixture: "harvest",
            pointer: "/ilmd/lotline:itemQuantity",
            mutate: |d| d["ilmd"]["lotline:itemQuantity"] = json!({"quantity": 50, "uom": "KGM"}),
        },
        Invalid {
            what: "an SSCC created at harvest",
            fixture: "harvest_tagged",
            pointer: "/epcList/0",
            mutate: |d| d["epcList"][0] = "urn:epc:id:sscc:8841234.0000000024".into(),
        },
        Invalid {
            what: "a negative quantity",
            fixture: "harvest",
            pointer: "/quantityList/0/quantity",
            mutate: |d| d["quantityList"][0]["quantity"] = (-5000).into(),
        },
        Invalid {
            what: "a zero quantity",
            fixture: "harvest",
            pointer: "/quantityList/0/quantity",
            mutate: |d| d["quantityList"][0]["quantity"] = 0.into(),
        },
        Invalid {
            what: "a quantity as a string",
            fixture: "harvest",
            pointer: "/quantityList/0/quantity",
            mutate: |d| d["quantityList"][0]["quantity"] = "5000".into(),
        },
        Invalid {
            what: "a quantity without uom",
            fixture: "harvest",
            pointer: "/quantityList/0",
            mutate: |d| remove(&mut d["quantityList"][0], "uom"),
        },
        Invalid {
            what: "a lower-case uom",
            fixture: "harvest",
            pointer: "/quantityList/0/uom",
            mutate: |d| d["quantityList"][0]["uom"] = "kg".into(),
        },
        Invalid {
            what: "an SGTIN as a quantity's epcClass",
            fixture: "harvest",
            pointer: "/quantityList/0/epcClass",
            mutate: |d| {
                d["quantityList"][0]["epcClass"] = "urn:epc:id:sgtin:8841234.012345.1".into()
            },
        },
        Invalid {
            what: "an LGTIN whose prefix and item reference are not 13 digits",
            fixture: "harvest",
            pointer: "/quantityList/0/epcClass",
            mutate: |d| {
                d["quantityList"][0]["epcClass"] =
                    "urn:epc:class:lgtin:8841234.12345.PV25-0117".into()
            },
        },
        Invalid {
            what: "an unescaped slash in a lot number",
            fixture: "harvest",
            pointer: "/quantityList/0/epcClass",
            mutate: |d| {
                d["quantityList"][0]["epcClass"] =
                    "urn:epc:class:lgtin:8841234.012345.PV25/0117".into()
            },
        },
        Invalid {
            what: "a latitude out of range",
            fixture: "harvest",
            pointer: "/ilmd/lotline:plot/geo/coordinates/1",
            mutate: |d| {
                d["ilmd"]["lotline:plot"]["geo"]["coordinates"] = json!([104.973412, 113.807645])
            },
        },
        Invalid {
            what: "latitude and longitude swapped",
            fixture: "harvest_tagged",
            pointer: "/ilmd/lotline:plot/geo/coordinates/0/0/1",
            mutate: |d| {
                d["ilmd"]["lotline:plot"]["geo"]["coordinates"][0][0] =
                    json!([13.812344, 104.981201])
            },
        },
        Invalid {
            what: "a point with altitude",
            fixture: "harvest",
            pointer: "/ilmd/lotline:plot/geo/coordinates",
            mutate: |d| {
                d["ilmd"]["lotline:plot"]["geo"]["coordinates"] =
                    json!([104.973412, 13.807645, 12.0])
            },
        },
        Invalid {
            what: "coordinates as strings",
            fixture: "harvest",
            pointer: "/ilmd/lotline:plot/geo/coordinates/0",
            mutate: |d| {
                d["ilmd"]["lotline:plot"]["geo"]["coordinates"] = json!(["104.973412", "13.807645"])
            },
        },
        Invalid {
            what: "a polygon ring of three positions",
            fixture: "harvest_tagged",
            pointer: "/ilmd/lotline:plot/geo/coordinates/0",
            mutate: |d| {
                d["ilmd"]["lotline:plot"]["geo"]["coordinates"] = json!([[
                    [104.981201, 13.812344],
                    [104.98473, 13.81239],
                    [104.981201, 13.812344]
                ]])
            },
        },
        Invalid {
            what: "a geometry type lotline does not take",
            fixture: "harvest",
            pointer: "/ilmd/lotline:plot/geo/type",
            mutate: |d| d["ilmd"]["lotline:plot"]["geo"]["type"] = "LineString".into(),
        },
        Invalid {
            what: "a plot of zero hectares",
            fixture: "harvest",
            pointer: "/ilmd/lotline:plot/areaHectares",
            mutate: |d| d["ilmd"]["lotline:plot"]["areaHectares"] = 0.into(),
        },
        Invalid {
            what: "a plot without province",
            fixture: "harvest",
            pointer: "/ilmd/lotline:plot",
            mutate: |d| remove(&mut d["ilmd"]["lotline:plot"], "province"),
        },
        Invalid {
            what: "an unknown growing method",
            fixture: "harvest",
            pointer: "/ilmd/lotline:growingMethod",
            mutate: |d| d["ilmd"]["lotline:growingMethod"] = "bio".into(),
        },
        Invalid {
            what: "a capitalised crop",
            fixture: "harvest",
            pointer: "/ilmd/lotline:crop",
            mutate: |d| d["ilmd"]["lotline:crop"] = "Rice".into(),
        },
        Invalid {
            what: "a harvest date in day/month/year",
            fixture: "harvest",
            pointer: "/ilmd/lotline:harvestStart",
            mutate: |d| d["ilmd"]["lotline:harvestStart"] = "17/11/2025".into(),
        },
        Invalid {
            what: "a harvest date that does not exist (format asserted)",
            fixture: "harvest",
            pointer: "/ilmd/lotline:harvestEnd",
            mutate: |d| d["ilmd"]["lotline:harvestEnd"] = "2025-02-30".into(),
        },
        Invalid {
            what: "a farm that is not a URI",
            fixture: "harvest",
            pointer: "/ilmd/lotline:farm",
            mutate: |d| d["ilmd"]["lotline:farm"] = "farm 0117".into(),
        },
        Invalid {
            what: "a misspelt lotline term in ilmd",
            fixture: "harvest",
            pointer: "/ilmd",
            mutate: |d| d["ilmd"]["lotline:varietty"] = "Phka Rumduol".into(),
        },
        Invalid {
            what: "an extra plain member",
            fixture: "harvest",
            pointer: "",
            mutate: |d| d["weather"] = "dry".into(),
        },
        Invalid {
            what: "an extension member whose name is not a URI",
            fixture: "harvest",
            pointer: "",
            mutate: |d| d["example:<b>"] = "dry".into(),
        },
        Invalid {
            what: "a lotline: member the profile does not define",
            fixture: "harvest",
            pointer: "",
            mutate: |d| d["lotline:note"] = "dry".into(),
        },
        Invalid {
            what: "a recordTime set by the client",
            fixture: "harvest",
            pointer: "/recordTime",
            mutate: |d| d["recordTime"] = "2025-11-20T16:30:00+07:00".into(),
        },
        Invalid {
            what: "a document using lotline: terms without the lotline context",
            fixture: "harvest",
            pointer: "/@context",
            mutate: |d| {
                d["@context"] =
                    json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"])
            },
        },
        Invalid {
            what: "the lotline prefix bound to another namespace",
            fixture: "harvest",
            pointer: "/@context/1",
            mutate: |d| d["@context"][1] = json!({"lotline": "https://example.org/lotline#"}),
        },
        Invalid {
            what: "a @context that does not start with the EPCIS context",
            fixture: "shipping",
            pointer: "/@context/0",
            mutate: |d| d["@context"] = json!(["https://www.w3.org/ns/credentials/v2"]),
        },
        Invalid {
            what: "an upper-case eventID",
            fixture: "harvest",
            pointer: "/eventID",
            mutate: |d| d["eventID"] = "urn:uuid:019AA1F2-3C40-7B21-8E5D-4A1C2B3D4E01".into(),
        },
        Invalid {
            what: "an eventTime without offset",
            fixture: "harvest",
            pointer: "/eventTime",
            mutate: |d| d["eventTime"] = "2025-11-20T16:30:00".into(),
        },
        Invalid {
            what: "an eventTimeZoneOffset without colon",
            fixture: "harvest",
            pointer: "/eventTimeZoneOffset",
            mutate: |d| d["eventTimeZoneOffset"] = "+0700".into(),
        },
        Invalid {
            what: "a document without proof",
            fixture: "harvest",
            pointer: "",
            mutate: |d| remove(d, "proof"),
        },
        Invalid {
            what: "a proofValue that is not base58btc",
            fixture: "harvest",
            pointer: "/proof/proofValue",
            mutate: |d| d["proof"]["proofValue"] = "z0OIl".into(),
        },
        Invalid {
            what: "an error declaration without declarationTime",
            fixture: "harvest_correction",
            pointer: "/errorDeclaration",
            mutate: |d| remove(&mut d["errorDeclaration"], "declarationTime"),
        },
        Invalid {
            what: "an error declaration with an unknown reason",
            fixture: "harvest_correction",
            pointer: "/errorDeclaration/reason",
            mutate: |d| d["errorDeclaration"]["reason"] = "typo".into(),
        },
        Invalid {
            what: "an error declaration naming a CBV URI as reason",
            fixture: "harvest_correction",
            pointer: "/errorDeclaration/reason",
            mutate: |d| {
                d["errorDeclaration"]["reason"] = "urn:epcglobal:cbv:er:incorrect_data".into()
            },
        },
        Invalid {
            what: "a corrective event that is neither a urn:uuid nor an event hash ID",
            fixture: "harvest_correction",
            pointer: "/errorDeclaration/correctiveEventIDs/0",
            mutate: |d| {
                d["errorDeclaration"]["correctiveEventIDs"][0] = "ni:///sha-256;DF7BB3C352FEF055578554F09F5E2AA41782150CED7BD0B8AF24DD3CCB30BA69?ver=CBV2.0".into()
            },
        },
        Invalid {
            what: "an unknown plain member in an error declaration",
            fixture: "harvest_correction",
            pointer: "/errorDeclaration",
            mutate: |d| d["errorDeclaration"]["comment"] = "wrong lot".into(),
        },
        // shipping and receiving
        Invalid {
            what: "shipping without destinationList",
            fixture: "shipping",
            pointer: "",
            mutate: |d| remove(d, "destinationList"),
        },
        Invalid {
            what: "shipping to two owners",
            fixture: "shipping",
            pointer: "/destinationList",
            mutate: |d| {
                d["destinationList"].as_array_mut().unwrap().push(
                    json!({"type": "owning_party", "destination": "urn:epc:id:pgln:8849012.00001"}),
                )
            },
        },
        Invalid {
            what: "shipping to a location only",
            fixture: "shipping",
            pointer: "/destinationList",
            mutate: |d| {
                d["destinationList"] =
                    json!([{"type": "location", "destination": "urn:epc:id:sgln:8845678.00001.0"}])
            },
        },
        Invalid {
            what: "a party type outside CBV",
            fixture: "shipping",
            pointer: "/destinationList/0/type",
            mutate: |d| d["destinationList"][0]["type"] = "buyer".into(),
        },
        Invalid {
            what: "a party that is not a URI",
            fixture: "shipping",
            pointer: "/sourceList/0/source",
            mutate: |d| d["sourceList"][0]["source"] = "PVORC".into(),
        },
        Invalid {
            what: "shipping without goods",
            fixture: "shipping",
            pointer: "",
            mutate: |d| remove(d, "quantityList"),
        },
        Invalid {
            what: "shipping with ilmd",
            fixture: "shipping",
            pointer: "/ilmd",
            mutate: |d| d["ilmd"] = json!({"lotline:crop": "rice"}),
        },
        Invalid {
            what: "shipping with action ADD",
            fixture: "shipping",
            pointer: "/action",
            mutate: |d| d["action"] = "ADD".into(),
        },
        Invalid {
            what: "an LGTIN in epcList",
            fixture: "shipping",
            pointer: "/epcList/0",
            mutate: |d| d["epcList"] = json!(["urn:epc:class:lgtin:8841234.012345.PV25-0117"]),
        },
        Invalid {
            what: "bare hex instead of a raw EPC URI",
            fixture: "shipping",
            pointer: "/epcList/0",
            mutate: |d| d["epcList"] = json!(["30361BA04815D240000003E9"]),
        },
        Invalid {
            what: "a raw EPC URI with lower-case hex",
            fixture: "shipping",
            pointer: "/epcList/0",
            mutate: |d| d["epcList"] = json!(["urn:epc:raw:96.x30361ba04815d240000003e9"]),
        },
        Invalid {
            what: "a business document type outside CBV and lotline",
            fixture: "shipping",
            pointer: "/bizTransactionList/0/type",
            mutate: |d| d["bizTransactionList"][0]["type"] = "purchase_order".into(),
        },
        Invalid {
            what: "a lotline: document type without the lotline context",
            fixture: "shipping",
            pointer: "/@context",
            mutate: |d| d["bizTransactionList"][0]["type"] = "lotline:certificate".into(),
        },
        Invalid {
            what: "a disposition in the lotline namespace",
            fixture: "shipping",
            pointer: "/disposition",
            mutate: |d| d["disposition"] = "lotline:in_boat".into(),
        },
        Invalid {
            what: "a readPoint without id",
            fixture: "shipping",
            pointer: "/readPoint",
            mutate: |d| d["readPoint"] = json!({"name": "coop store"}),
        },
        Invalid {
            what: "receiving with bizStep shipping",
            fixture: "receiving",
            pointer: "/bizStep",
            mutate: |d| d["bizStep"] = "shipping".into(),
        },
        Invalid {
            what: "receiving without sourceList",
            fixture: "receiving",
            pointer: "",
            mutate: |d| remove(d, "sourceList"),
        },
        Invalid {
            what: "a sensor report without type",
            fixture: "receiving",
            pointer: "/sensorElementList/0/sensorReport/0",
            mutate: |d| remove(&mut d["sensorElementList"][0]["sensorReport"][0], "type"),
        },
        Invalid {
            what: "a sensor value as a string",
            fixture: "receiving",
            pointer: "/sensorElementList/0/sensorReport/0/value",
            mutate: |d| d["sensorElementList"][0]["sensorReport"][0]["value"] = "14.2".into(),
        },
        // transformation
        Invalid {
            what: "milling without lotline:products",
            fixture: "milling",
            pointer: "/ilmd",
            mutate: |d| remove(&mut d["ilmd"], "lotline:products"),
        },
        Invalid {
            what: "milling without ilmd",
            fixture: "milling",
            pointer: "",
            mutate: |d| remove(d, "ilmd"),
        },
        Invalid {
            what: "a transformation bizStep outside the lotline list",
            fixture: "milling",
            pointer: "/bizStep",
            mutate: |d| d["bizStep"] = "milling".into(),
        },
        Invalid {
            what: "a transformation without inputs",
            fixture: "milling",
            pointer: "",
            mutate: |d| remove(d, "inputQuantityList"),
        },
        Invalid {
            what: "a transformation without outputs",
            fixture: "chipping",
            pointer: "",
            mutate: |d| remove(d, "outputQuantityList"),
        },
        Invalid {
            what: "a transformation with an empty output list",
            fixture: "milling",
            pointer: "/outputQuantityList",
            mutate: |d| d["outputQuantityList"] = json!([]),
        },
        Invalid {
            what: "a product name with capitals and spaces",
            fixture: "milling",
            pointer: "/ilmd/lotline:products/0/product",
            mutate: |d| d["ilmd"]["lotline:products"][0]["product"] = "Head Rice".into(),
        },
        Invalid {
            what: "a transformationID",
            fixture: "milling",
            pointer: "/transformationID",
            mutate: |d| {
                d["transformationID"] = "urn:uuid:019ae0a4-5b60-7d55-9c24-7d8e9fab1002".into()
            },
        },
        Invalid {
            what: "an action on a TransformationEvent",
            fixture: "milling",
            pointer: "",
            mutate: |d| d["action"] = "ADD".into(),
        },
        Invalid {
            what: "bagging without lotline:itemQuantity",
            fixture: "bagging",
            pointer: "/ilmd",
            mutate: |d| remove(&mut d["ilmd"], "lotline:itemQuantity"),
        },
        Invalid {
            what: "an item mass of zero",
            fixture: "bagging",
            pointer: "/ilmd/lotline:itemQuantity/quantity",
            mutate: |d| d["ilmd"]["lotline:itemQuantity"]["quantity"] = 0.into(),
        },
        Invalid {
            what: "an SSCC made by bagging",
            fixture: "bagging",
            pointer: "/outputEPCList/0",
            mutate: |d| d["outputEPCList"][0] = "urn:epc:id:sscc:8845678.0000000024".into(),
        },
        Invalid {
            what: "the same bag twice",
            fixture: "bagging",
            pointer: "/outputEPCList",
            mutate: |d| d["outputEPCList"][1] = "urn:epc:id:sgtin:8845678.022345.1001".into(),
        },
        Invalid {
            what: "lotline:itemQuantity without outputEPCList",
            fixture: "chipping",
            pointer: "/ilmd/lotline:itemQuantity",
            mutate: |d| d["ilmd"]["lotline:itemQuantity"] = json!({"quantity": 50, "uom": "KGM"}),
        },
        // packing and unpacking
        Invalid {
            what: "childQuantityList",
            fixture: "packing",
            pointer: "/childQuantityList",
            mutate: |d| {
                d["childQuantityList"] = json!([{
                    "epcClass": "urn:epc:class:lgtin:8845678.011111.M25-1202-HR",
                    "quantity": 500,
                    "uom": "KGM"
                }])
            },
        },
        Invalid {
            what: "packing with bizStep unpacking",
            fixture: "packing",
            pointer: "/bizStep",
            mutate: |d| d["bizStep"] = "unpacking".into(),
        },
        Invalid {
            what: "unpacking with bizStep packing",
            fixture: "unpacking",
            pointer: "/bizStep",
            mutate: |d| d["bizStep"] = "packing".into(),
        },
        Invalid {
            what: "packing with an empty childEPCs",
            fixture: "packing",
            pointer: "/childEPCs",
            mutate: |d| d["childEPCs"] = json!([]),
        },
        Invalid {
            what: "packing without childEPCs",
            fixture: "packing",
            pointer: "",
            mutate: |d| remove(d, "childEPCs"),
        },
        Invalid {
            what: "an SGTIN as parent",
            fixture: "packing",
            pointer: "/parentID",
            mutate: |d| d["parentID"] = "urn:epc:id:sgtin:8845678.022345.1001".into(),
        },
        Invalid {
            what: "an aggregation with action OBSERVE",
            fixture: "packing",
            pointer: "/action",
            mutate: |d| d["action"] = "OBSERVE".into(),
        },
        Invalid {
            what: "an SSCC of 16 digits",
            fixture: "unpacking",
            pointer: "/parentID",
            mutate: |d| d["parentID"] = "urn:epc:id:sscc:8845678.000000017".into(),
        },
        // transaction
        Invalid {
            what: "an empty bizTransactionList",
            fixture: "transaction",
            pointer: "/bizTransactionList",
            mutate: |d| d["bizTransactionList"] = json!([]),
        },
        Invalid {
            what: "a business document without type",
            fixture: "transaction",
            pointer: "/bizTransactionList/0",
            mutate: |d| remove(&mut d["bizTransactionList"][0], "type"),
        },
        Invalid {
            what: "a transaction without goods",
            fixture: "transaction",
            pointer: "",
            mutate: |d| remove(d, "epcList"),
        },
        Invalid {
            what: "a transaction with parentID",
            fixture: "transaction",
            pointer: "/parentID",
            mutate: |d| d["parentID"] = "urn:epc:id:sscc:8845678.0000000017".into(),
        },
        Invalid {
            what: "a transaction with action OBSERVE",
            fixture: "transaction",
            pointer: "/action",
            mutate: |d| d["action"] = "OBSERVE".into(),
        },
        Invalid {
            what: "a lotline: document type the profile does not define",
            fixture: "transaction",
            pointer: "/bizTransactionList/1/type",
            mutate: |d| d["bizTransactionList"][1]["type"] = "lotline:phytosanitary".into(),
        },
        // registrar documents
        Invalid {
            what: "an unknown role",
            fixture: "actor_registration",
            pointer: "/actor/roles/0",
            mutate: |d| d["actor"]["roles"][0] = "trader".into(),
        },
        Invalid {
            what: "an actor without roles",
            fixture: "actor_registration",
            pointer: "/actor/roles",
            mutate: |d| d["actor"]["roles"] = json!([]),
        },
        Invalid {
            what: "a key that is not an Ed25519 did:key",
            fixture: "actor_registration",
            pointer: "/actor/keys/0",
            mutate: |d| {
                d["actor"]["keys"][0] =
                    "did:key:zQ3shokFTS3brHcDQrn82RUDfCZESWL1ZdCEJwekUDPQiYBme".into()
            },
        },
        Invalid {
            what: "a GLN of 12 digits",
            fixture: "actor_registration",
            pointer: "/actor/gln",
            mutate: |d| d["actor"]["gln"] = "884123400002".into(),
        },
        Invalid {
            what: "a three-letter country code",
            fixture: "actor_registration",
            pointer: "/actor/country",
            mutate: |d| d["actor"]["country"] = "KHM".into(),
        },
        Invalid {
            what: "an unknown member in actor",
            fixture: "actor_registration",
            pointer: "/actor",
            mutate: |d| d["actor"]["phone"] = "+855 12 345 678".into(),
        },
        Invalid {
            what: "an extra member on a registrar document",
            fixture: "actor_registration",
            pointer: "",
            mutate: |d| d["note"] = "registered at the Preah Vihear office".into(),
        },
        Invalid {
            what: "an error declaration on a registrar document",
            fixture: "role_grant",
            pointer: "",
            mutate: |d| {
                d["errorDeclaration"] = json!({"declarationTime": "2025-10-16T09:00:00+07:00"})
            },
        },
        Invalid {
            what: "a registrar document without the lotline context",
            fixture: "role_grant",
            pointer: "/@context",
            mutate: |d| {
                d["@context"] =
                    json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"])
            },
        },
        Invalid {
            what: "granting an unknown role",
            fixture: "role_grant",
            pointer: "/role",
            mutate: |d| d["role"] = "admin".into(),
        },
        Invalid {
            what: "an actor that is not a URI",
            fixture: "role_revocation",
            pointer: "/actor",
            mutate: |d| d["actor"] = "PVORC".into(),
        },
        Invalid {
            what: "a key given as a verification method",
            fixture: "key_addition",
            pointer: "/key",
            mutate: |d| {
                let key = d["key"].as_str().unwrap().to_owned();
                d["key"] = format!("{key}#{}", &key["did:key:".len()..]).into();
            },
        },
        Invalid {
            what: "a rotation without the replaced key",
            fixture: "key_rotation",
            pointer: "",
            mutate: |d| remove(d, "replaces"),
        },
        Invalid {
            what: "a revocation with the wrong type",
            fixture: "key_revocation",
            pointer: "/type",
            mutate: |d| d["type"] = "lotline:KeyRotation".into(),
        },
        Invalid {
            what: "a certificate without validity",
            fixture: "certificate_issuance",
            pointer: "/certificate",
            mutate: |d| remove(&mut d["certificate"], "validUntil"),
        },
        Invalid {
            what: "a certificate for an unknown activity",
            fixture: "certificate_issuance",
            pointer: "/certificate/activities/0",
            mutate: |d| d["certificate"]["activities"][0] = "trading".into(),
        },
        Invalid {
            what: "a certificate id that is not a URI",
            fixture: "certificate_issuance",
            pointer: "/certificate/id",
            mutate: |d| d["certificate"]["id"] = "KH BIO 1".into(),
        },
        Invalid {
            what: "a product name with capitals",
            fixture: "certificate_amendment",
            pointer: "/certificate/products/0",
            mutate: |d| d["certificate"]["products"][0] = "Rice".into(),
        },
        Invalid {
            what: "a suspension without a reason",
            fixture: "certificate_suspension",
            pointer: "",
            mutate: |d| remove(d, "reason"),
        },
        Invalid {
            what: "a withdrawal effective on a malformed date",
            fixture: "certificate_withdrawal",
            pointer: "/effective",
            mutate: |d| d["effective"] = "1 Feb 2026".into(),
        },
        Invalid {
            what: "a reinstatement naming a whole certificate",
            fixture: "certificate_reinstatement",
            pointer: "/certificate",
            mutate: |d| d["certificate"] = serde_json::json!({"id": "https://cb.example/c/1"}),
        },
    ];

    #[test]
    fn invalid_variants_are_refused_at_the_right_member() {
        let mut failures = Vec::new();
        for case in INVALID {
            let mut doc = fixture(case.fixture);
            (case.mutate)(&mut doc);
            let schema = schema_of(case.fixture);
            let errs = errors(schema, &doc);
            match errs.first() {
                None => failures.push(format!(
                    "{} ({}): accepted by {schema}",
                    case.what, case.fixture
                )),
                Some(first) if !first.starts_with(&format!("{:?} ", case.pointer)) => failures
                    .push(format!(
                        "{} ({}): first error should be at {:?}; errors: {errs:#?}",
                        case.what, case.fixture, case.pointer
                    )),
                Some(_) => {}
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn every_kind_has_invalid_variants() {
        for (name, _) in VALID {
            assert!(
                INVALID.iter().any(|c| c.fixture == *name),
                "no invalid variants of {name}"
            );
        }
    }
}
