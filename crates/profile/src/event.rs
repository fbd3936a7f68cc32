//! Admission of a submitted event: the checks every event passes before it may reach the
//! sequencer, done in parallel and without touching storage.
//!
//! `admit` turns an untrusted JSON value into an [`Admitted`] event — envelope valid against
//! `schemas/event-envelope.schema.json`, signature valid under `eddsa-jcs-2022` — and computes
//! the bytes the sequencer needs, so that the single writer does no parsing, no canonicalising and
//! no signature work.

use std::sync::OnceLock;

use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::profile::{self, Document, Violation};
use data_integrity::di::{self, DiError};
use tlog::merkle::Hash;

/// The envelope schema, compiled into the binary so the server validates exactly what it serves.
pub const ENVELOPE_SCHEMA: &str = include_str!("../../../schemas/event-envelope.schema.json");

/// Schemas served at `GET /v1/schemas/{name}`: (name, JSON text).
pub const SCHEMAS: &[(&str, &str)] = super::profile_schemas::PROFILE_SCHEMAS;

/// An event that passed admission.
#[derive(Debug, Clone)]
pub struct Admitted {
    pub event_id: EventId,
    /// The signer's `did:key`, from the proof's verification method.
    pub signer: String,
    /// RFC 8785 bytes of the whole signed event, as it will sit inside the entry.
    pub event_jcs: Vec<u8>,
    /// Identifies the event's content independently of its proof: resubmitting the same content
    /// by the same signer (even re-signed) is a duplicate, anything else under the same eventID is
    /// a conflict.
    pub content_digest: Hash,
    /// What the document means in the lotline profile.
    pub doc: Document,
    /// The CBV 2.0 event hash (`ni:///sha-256;…`) of an EPCIS event; `None` for lotline's
    /// registrar and certification documents, which are not EPCIS events.
    pub event_hash: Option<[u8; 32]>,
    /// What the event is found by in the query indexes (empty for lotline's own documents),
    /// sorted by tag and value, each once.
    pub terms: Vec<crate::terms::Term>,
}

/// Why an event was refused at admission. The HTTP layer maps each variant to a problem code.
#[derive(Debug, thiserror::Error)]
pub enum Rejection {
    #[error("{message} (at {pointer:?})")]
    Schema { pointer: String, message: String },
    #[error("unsupported proof: {0}")]
    UnsupportedProof(DiError),
    #[error("invalid signature: {0}")]
    InvalidSignature(DiError),
    #[error("{0}")]
    Profile(Violation),
}

/// An event identifier: a client-chosen `urn:uuid:<uuid>`, or the event's own CBV 2.0 event
/// hash ID `ni:///sha-256;<hex>?ver=CBV2.0` (which admission recomputes and insists on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventId {
    Uuid(Uuid),
    Hash([u8; 32]),
}

impl EventId {
    pub const PREFIX: &'static str = "urn:uuid:";

    /// Parses `urn:uuid:<uuid>`, hyphenated and lower case (RFC 9562's output form), or an event
    /// hash ID with lower-case hex. The eventID is signed, so it cannot be normalised; accepting
    /// other cases would let one identifier stand for several different strings.
    pub fn parse(s: &str) -> Option<EventId> {
        if let Some(rest) = s.strip_prefix(Self::PREFIX) {
            // Uuid::parse_str also takes the braced and simple forms; the URN form is hyphenated only.
            if rest.len() != 36 || rest.bytes().any(|b| b.is_ascii_uppercase()) {
                return None;
            }
            return Uuid::parse_str(rest).ok().map(EventId::Uuid);
        }
        // Lower-case hex only: the form the algorithm writes.
        let id = crate::event_hash::parse_hash_id(s).map(EventId::Hash)?;
        (id.to_string() == s).then_some(id)
    }

    /// 16 bytes for a UUID, 32 for a hash: the eventID index tells them apart by length.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            EventId::Uuid(u) => u.as_bytes(),
            EventId::Hash(h) => h,
        }
    }

    pub fn from_bytes(b: [u8; 16]) -> EventId {
        EventId::Uuid(Uuid::from_bytes(b))
    }

    /// A fresh time-ordered (v7) identifier, for clients that generate events.
    pub fn new_v7() -> EventId {
        EventId::Uuid(Uuid::now_v7())
    }
}

/// How an event is found in the eventID index: EPCIS gives an error declaration the eventID of
/// the event it declares erroneous, so the two are told apart by `declaration`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdKey {
    pub id: EventId,
    pub declaration: bool,
}

impl IdKey {
    /// The eventID's 16 (UUID) or 32 (hash) bytes, and a 0x01 after them for a declaration.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = self.id.as_bytes().to_vec();
        if self.declaration {
            v.push(1);
        }
        v
    }

    pub fn from_bytes(b: &[u8]) -> Option<IdKey> {
        let (len, declaration) = match b.len() {
            16 | 32 => (b.len(), false),
            17 | 33 if b[b.len() - 1] == 1 => (b.len() - 1, true),
            _ => return None,
        };
        let id = match len {
            16 => EventId::Uuid(Uuid::from_bytes(b[..16].try_into().ok()?)),
            _ => EventId::Hash(b[..32].try_into().ok()?),
        };
        Some(IdKey { id, declaration })
    }
}

impl Admitted {
    pub fn id_key(&self) -> IdKey {
        IdKey {
            id: self.event_id,
            declaration: self.doc.declares_error,
        }
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventId::Uuid(u) => {
                f.write_str(Self::PREFIX)?;
                f.write_str(u.hyphenated().encode_lower(&mut Uuid::encode_buffer()))
            }
            EventId::Hash(h) => {
                // One write of the whole hex digest: the sequencer prints an eventID per entry.
                const HEX: &[u8; 16] = b"0123456789abcdef";
                let mut hex = [0u8; 64];
                for (pair, b) in hex.chunks_exact_mut(2).zip(h) {
                    pair[0] = HEX[usize::from(b >> 4)];
                    pair[1] = HEX[usize::from(b & 0x0f)];
                }
                f.write_str("ni:///sha-256;")?;
                // Only ASCII hex digits were written.
                f.write_str(std::str::from_utf8(&hex).map_err(|_| std::fmt::Error)?)?;
                f.write_str("?ver=CBV2.0")
            }
        }
    }
}

fn envelope_validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let schema: Value = serde_json::from_str(ENVELOPE_SCHEMA)
            .expect("schemas/event-envelope.schema.json is valid JSON (checked by a unit test)");
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .with_pattern_options(jsonschema::PatternOptions::regex())
            .should_validate_formats(true)
            .build(&schema)
            .expect("schemas/event-envelope.schema.json compiles (checked by a unit test)")
    })
}

/// Checks the envelope against the schema and returns the first violation, with its JSON pointer.
pub fn check_envelope(event: &Value) -> Result<EventId, Rejection> {
    let v = envelope_validator();
    // `is_valid` stops at the first failure and builds no errors; only a failing event pays
    // for finding out where.
    if !v.is_valid(event)
        && let Some(err) = v.iter_errors(event).next()
    {
        return Err(Rejection::Schema {
            pointer: err.instance_path().as_str().to_owned(),
            message: err.to_string(),
        });
    }
    event_id_of(event)
}

fn event_id_of(event: &Value) -> Result<EventId, Rejection> {
    let id = event.get("eventID").and_then(Value::as_str).unwrap_or("");
    EventId::parse(id).ok_or_else(|| Rejection::Schema {
        pointer: "/eventID".into(),
        message: format!("{id:?} is neither urn:uuid:<uuid> nor ni:///sha-256;<hex>?ver=CBV2.0"),
    })
}

/// Runs every admission check on one event. Pure CPU; safe to call from many threads at once.
pub fn admit(event: &Value) -> Result<Admitted, Rejection> {
    // Every schema of the profile includes the envelope's rules (a test below checks this), so a
    // document the profile accepts has a valid envelope. The envelope is checked on its own only
    // when the profile refuses, so that an envelope problem is the one reported.
    // Vocabulary values made bare once, for the profile and the index terms.
    let normal = crate::vocab::normalise(event);
    let doc = match profile::interpret_normal(&normal) {
        Ok(doc) => doc,
        Err(violation) => {
            check_envelope(event)?;
            return Err(Rejection::Profile(violation));
        }
    };
    let event_id = event_id_of(event)?;
    let (verified, canonical) = di::verify_with_canonical(event).map_err(|e| match e {
        DiError::Unsupported { .. } => Rejection::UnsupportedProof(e),
        other => Rejection::InvalidSignature(other),
    })?;
    // The cryptosuite lets a proof's @context stand in for the document's, so members appended
    // to the document's @context after signing would still verify. A ledger must not store
    // content nobody signed: the two must be equal.
    if let Some(proof_context) = event.get("proof").and_then(|p| p.get("@context"))
        && event.get("@context") != Some(proof_context)
    {
        return Err(Rejection::InvalidSignature(DiError::ContextMismatch {
            document: event
                .get("@context")
                .map_or_else(|| "(none)".into(), Value::to_string),
            proof: proof_context.to_string(),
        }));
    }
    // With the two @contexts equal, the unsecured document is exactly the event without its
    // proof, so `canonical.secured` is the event's canonical form.
    let event_jcs = canonical.secured;
    let mut h = Sha256::new();
    h.update(b"lotline content v1\0");
    h.update(verified.did.as_bytes());
    h.update([0]);
    h.update(&canonical.unsecured);
    let event_hash = hash_of(event, event_id, &doc)?;
    Ok(Admitted {
        event_id,
        signer: verified.did,
        event_jcs,
        content_digest: h.finalize().into(),
        doc,
        event_hash,
        terms: crate::terms::of_normalised(&normal),
    })
}

/// The CBV 2.0 event hash of an EPCIS event. An eventID that is a hash ID must be this one: it
/// claims to be the event's own hash, and a partner recomputing it must get the same.
fn hash_of(event: &Value, id: EventId, doc: &Document) -> Result<Option<[u8; 32]>, Rejection> {
    if !doc.kind.is_epcis() {
        return match id {
            EventId::Hash(_) => Err(Rejection::Profile(profile::violation(
                "event-id.hash",
                "/eventID",
                "an event hash ID is defined for EPCIS events only; give lotline documents a urn:uuid eventID",
            ))),
            EventId::Uuid(_) => Ok(None),
        };
    }
    let pre_hash = crate::event_hash::pre_hash(event).map_err(|e| {
        Rejection::Profile(profile::violation(
            "event-id.hash",
            "",
            format!("the CBV 2.0 event hash of this event cannot be computed: {e}"),
        ))
    })?;
    let computed: [u8; 32] = Sha256::digest(pre_hash.as_bytes()).into();
    if let EventId::Hash(claimed) = id
        && claimed != computed
    {
        return Err(Rejection::Profile(profile::violation(
            "event-id.hash",
            "/eventID",
            format!(
                "the eventID is an event hash ID, but this event's CBV 2.0 hash is {}",
                EventId::Hash(computed)
            ),
        )));
    }
    Ok(Some(computed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use data_integrity::didkey;
    use serde_json::json;

    /// A harvest of the profile (see `scenario`), with a fixed eventID.
    fn event() -> Value {
        let mut e = lotline_scenario::harvest(
            Some("urn:uuid:0190b3a4-7f00-7000-8000-000000000001".into()),
            "2026-11-20T08:00:00+07:00",
            &lotline_scenario::lgtin("010001", "L1"),
            1000.0,
            "urn:epc:id:pgln:8841234.00011",
            "rice",
            None,
            lotline_scenario::plot("P1", "Takeo", 1.0, 104.8, 11.0),
            "conventional",
        );
        e["@context"]
            .as_array_mut()
            .unwrap()
            .push(json!({"example": "https://example.com/"}));
        e["example:note"] = json!("unit test");
        e
    }

    fn signed() -> Value {
        let key = didkey::generate().unwrap();
        di::sign(&event(), &key, "2026-11-20T01:00:00Z").unwrap()
    }

    #[test]
    fn schema_file_compiles() {
        let _ = envelope_validator();
    }

    #[test]
    fn admits_a_signed_event() {
        let a = admit(&signed()).unwrap();
        assert_eq!(
            a.event_id.to_string(),
            "urn:uuid:0190b3a4-7f00-7000-8000-000000000001"
        );
        assert!(a.signer.starts_with("did:key:z6Mk"));
    }

    #[test]
    fn content_digest_ignores_the_proof_but_not_the_signer() {
        let key = didkey::generate().unwrap();
        let a = admit(&di::sign(&event(), &key, "2026-11-20T01:00:00Z").unwrap()).unwrap();
        let b = admit(&di::sign(&event(), &key, "2026-11-20T02:00:00Z").unwrap()).unwrap();
        assert_eq!(a.content_digest, b.content_digest);
        assert_ne!(a.event_jcs, b.event_jcs);
        let c = admit(&signed()).unwrap();
        assert_ne!(a.content_digest, c.content_digest);
    }

    #[test]
    fn schema_violations_name_the_pointer() {
        let check = |mutate: &dyn Fn(&mut Value), pointer: &str| {
            let mut v = signed();
            mutate(&mut v);
            match admit(&v) {
                Err(Rejection::Schema { pointer: p, .. }) => assert_eq!(p, pointer),
                other => panic!("expected schema violation at {pointer}, got {other:?}"),
            }
        };
        check(&|v| v["eventID"] = json!("not-a-urn"), "/eventID");
        check(&|v| v["eventID"] = json!(7), "/eventID");
        check(&|v| v["eventTime"] = json!("yesterday"), "/eventTime");
        check(
            &|v| v["eventTimeZoneOffset"] = json!("+7"),
            "/eventTimeZoneOffset",
        );
        check(&|v| v["type"] = json!("Event"), "/type");
        check(
            &|v| v["proof"]["proofValue"] = json!(5),
            "/proof/proofValue",
        );
        check(
            &|v| {
                v.as_object_mut().unwrap().remove("proof");
            },
            "",
        );
    }

    /// `admit` skips the envelope schema for documents the profile accepts: that is only sound
    /// if no document breaking the envelope passes the profile. Every kind of document (the
    /// demo's, and the kinds it does not use), broken in each way the envelope forbids, must be
    /// refused by the profile too.
    #[test]
    fn the_profile_refuses_whatever_the_envelope_refuses() {
        use lotline_scenario::{
            aggregation, cert_decision, certificate, kg, lgtin, registrar_doc, sscc, transform,
        };
        let key = didkey::generate().unwrap();
        let (_, steps) = lotline_scenario::demo("envelope test");
        let t = "2026-11-20T08:00:00+07:00";
        let actor = "urn:epc:id:pgln:8841234.00011";
        let did = lotline_scenario::did(&key);
        let root = lgtin("040001", "R1");
        let mut docs: Vec<Value> = steps.into_iter().map(|s| s.doc).collect();
        docs.extend([
            aggregation(false, t, &sscc(7), &[]),
            transform(
                t,
                "drying",
                &[kg(&root, 10.0)],
                &[(lgtin("040001", "R1D"), 9.0, None)],
            ),
            transform(
                t,
                "starch_extraction",
                &[kg(&root, 10.0)],
                &[(lgtin("040003", "S1"), 2.0, Some("cassava-starch"))],
            ),
            registrar_doc("lotline:RoleGrant", t, actor, ("role", "mill"), None),
            registrar_doc("lotline:RoleRevocation", t, actor, ("role", "mill"), None),
            registrar_doc("lotline:KeyAddition", t, actor, ("key", &did), None),
            registrar_doc("lotline:KeyRotation", t, actor, ("key", &did), Some(&did)),
            registrar_doc("lotline:KeyRevocation", t, actor, ("key", &did), None),
            certificate(
                t,
                "https://cb.example/c/1",
                "C-1",
                actor,
                &[],
                &["handling"],
                &["rice"],
                ("2026-01-01", "2026-12-31"),
            ),
            {
                let mut amend = certificate(
                    t,
                    "https://cb.example/c/1",
                    "C-1",
                    actor,
                    &[],
                    &["handling", "processing"],
                    &["rice"],
                    ("2026-01-01", "2026-12-31"),
                );
                amend["type"] = json!("lotline:CertificateAmendment");
                amend["effective"] = json!("2026-03-01");
                amend
            },
            cert_decision(
                "lotline:CertificateSuspension",
                t,
                "https://cb.example/c/1",
                "2026-02-01",
                "audit",
            ),
            cert_decision(
                "lotline:CertificateWithdrawal",
                t,
                "https://cb.example/c/1",
                "2026-02-01",
                "audit",
            ),
            cert_decision(
                "lotline:CertificateReinstatement",
                t,
                "https://cb.example/c/1",
                "2026-02-01",
                "audit",
            ),
        ]);
        let mut kinds = std::collections::BTreeSet::new();
        type Mutation = (&'static str, fn(&mut Value));
        let mutations: &[Mutation] = &[
            ("no type", |v| {
                drop(v.as_object_mut().unwrap().remove("type"))
            }),
            ("no eventID", |v| {
                drop(v.as_object_mut().unwrap().remove("eventID"))
            }),
            ("no eventTime", |v| {
                drop(v.as_object_mut().unwrap().remove("eventTime"))
            }),
            ("no offset", |v| {
                drop(v.as_object_mut().unwrap().remove("eventTimeZoneOffset"))
            }),
            ("no proof", |v| {
                drop(v.as_object_mut().unwrap().remove("proof"))
            }),
            ("other type", |v| v["type"] = json!("Event")),
            ("eventID", |v| v["eventID"] = json!("urn:uuid:NOT-A-UUID")),
            ("eventTime", |v| {
                v["eventTime"] = json!("2026-13-40T08:00:00Z")
            }),
            ("offset", |v| v["eventTimeZoneOffset"] = json!("+15:00")),
            ("context", |v| v["@context"] = json!(7)),
            ("proof", |v| v["proof"] = json!("z3abc")),
            ("proof type", |v| v["proof"]["type"] = json!(1)),
            ("cryptosuite", |v| v["proof"]["cryptosuite"] = json!(null)),
            ("created", |v| v["proof"]["created"] = json!("today")),
            ("method", |v| {
                v["proof"]["verificationMethod"] = json!("did:key:z6Mk0OIl")
            }),
            ("purpose", |v| {
                drop(v["proof"].as_object_mut().unwrap().remove("proofPurpose"))
            }),
            ("value", |v| v["proof"]["proofValue"] = json!("z0OIl")),
            ("no value", |v| {
                drop(v["proof"].as_object_mut().unwrap().remove("proofValue"))
            }),
        ];
        for doc in docs {
            let signed = di::sign(&doc, &key, "2026-11-20T01:00:00Z").unwrap();
            let Ok(doc) = profile::interpret(&signed) else {
                continue;
            };
            kinds.insert(doc.kind.name());
            for (what, mutate) in mutations {
                let mut v = signed.clone();
                mutate(&mut v);
                assert!(
                    check_envelope(&v).is_err(),
                    "{what}: the envelope allows it"
                );
                assert!(
                    profile::interpret(&v).is_err(),
                    "{what}: the {} schema allows what the envelope refuses",
                    doc.kind.name()
                );
            }
        }
        assert_eq!(kinds.len(), 24, "every kind of document: {kinds:?}");
    }

    #[test]
    fn tampering_and_unsupported_proofs_are_told_apart() {
        let mut v = signed();
        v["ilmd"]["lotline:variety"] = json!("changed after signing");
        assert!(matches!(admit(&v), Err(Rejection::InvalidSignature(_))));
        let mut v = signed();
        v["proof"]["cryptosuite"] = json!("ecdsa-rdfc-2019");
        assert!(matches!(admit(&v), Err(Rejection::UnsupportedProof(_))));
    }

    #[test]
    fn context_added_after_signing_is_refused() {
        let mut v = signed();
        assert!(di::verify(&v).is_ok());
        v["@context"]
            .as_array_mut()
            .unwrap()
            .push(json!({"example": "https://example.org/unsigned#"}));
        // The cryptosuite alone would accept this; admission must not.
        assert!(di::verify(&v).is_ok());
        assert!(matches!(
            admit(&v),
            Err(Rejection::InvalidSignature(DiError::ContextMismatch { .. }))
        ));
    }

    #[test]
    fn event_id_forms() {
        assert!(EventId::parse("urn:uuid:0190b3a4-7f00-7000-8000-000000000001").is_some());
        assert!(EventId::parse("urn:uuid:0190B3A4-7F00-7000-8000-000000000001").is_none());
        assert!(EventId::parse("urn:uuid:0190b3a47f0070008000000000000001").is_none());
        assert!(EventId::parse("0190b3a4-7f00-7000-8000-000000000001").is_none());
        let id = EventId::new_v7();
        assert_eq!(EventId::parse(&id.to_string()), Some(id));
        let hash = "ni:///sha-256;df7bb3c352fef055578554f09f5e2aa41782150ced7bd0b8af24dd3ccb30ba69?ver=CBV2.0";
        let h = EventId::parse(hash).unwrap();
        assert_eq!(h.to_string(), hash);
        assert!(EventId::parse(&hash.to_uppercase()).is_none());
        assert!(EventId::parse(&hash.replace("CBV2.0", "CBV2.1")).is_none());
        for declaration in [false, true] {
            for id in [id, h] {
                let k = IdKey { id, declaration };
                assert_eq!(IdKey::from_bytes(&k.to_bytes()), Some(k));
            }
        }
        assert_eq!(IdKey::from_bytes(&[0; 18]), None);
        assert_eq!(
            IdKey::from_bytes(
                &[0; 33][..32]
                    .iter()
                    .chain([2u8].iter())
                    .copied()
                    .collect::<Vec<_>>()
            ),
            None
        );
    }

    #[test]
    fn the_event_hash_is_computed_and_a_hash_event_id_must_match_it() {
        let a = admit(&signed()).unwrap();
        let expected = crate::event_hash::event_hash_id(&event()).unwrap();
        assert_eq!(EventId::Hash(a.event_hash.unwrap()).to_string(), expected);
        let key = didkey::generate().unwrap();
        let mut e = event();
        e["eventID"] = json!(expected);
        let b = admit(&di::sign(&e, &key, "2026-11-20T01:00:00Z").unwrap()).unwrap();
        assert_eq!(b.event_id.to_string(), expected);
        assert_eq!(b.event_hash, a.event_hash);
        e["eventID"] = json!(
            expected
                .replace("ni:///sha-256;d", "ni:///sha-256;e")
                .replace("ni:///sha-256;0", "ni:///sha-256;1")
        );
        let other = e["eventID"].as_str().unwrap().to_owned();
        if other != expected {
            match admit(&di::sign(&e, &key, "2026-11-20T01:00:00Z").unwrap()) {
                Err(Rejection::Profile(v)) => assert_eq!(v.rule, "event-id.hash"),
                other => panic!("a wrong hash ID was admitted: {other:?}"),
            }
        }
    }
}
