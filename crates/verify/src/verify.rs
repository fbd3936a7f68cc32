//! Verifying a bundle, trusting nothing but the log's verifier key.
//!
//! Every check that fails becomes a [`Finding`] naming what and where; the checks go on after a
//! failure, so one run reports everything that is wrong. A bundle is verified when there are no
//! findings.
//!
//! [`verify`] takes the steps in order: the bundle's format, the checkpoint, every entry (its
//! bytes, place in the tree, signature, link to the one before and document), the registrar
//! entries replayed, the actor records, each event's authorisation, then the claims recomputed
//! and compared. Findings come in that order.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::{Deserialize as _, Serialize};
use serde_json::Value;

use crate::bundle::{BUNDLE_TYPE, BUNDLE_VERSION, Bundle, BundleEntry};
use crate::claims::Claims;
use crate::derive::derive;
use crate::finding::{Finding, FindingCode};
use crate::parsed::Parsed;
use crate::registry::Registry;
use data_integrity::{di, jcs};
use lotline_profile::entry::{self, Entry};
use lotline_profile::profile::{self, Document};
use lotline_profile::records::{ActorRecord, Bounds};
use tlog::merkle::{self, Hash};
use tlog::note::{self, Checkpoint, VerifierKey};

/// What verification found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub verified: bool,
    pub findings: Vec<Finding>,
    /// The checkpoint's origin and tree size, when its signature verified.
    pub origin: Option<String>,
    pub tree_size: Option<u64>,
    pub entries: usize,
    pub registrar_entries: usize,
    /// Per entry index: `valid`, or why the signature is not.
    pub signatures: BTreeMap<u64, String>,
    /// Per goods entry: whether its signer was authorised at the event's time.
    pub authorised: BTreeMap<u64, bool>,
    /// The claims recomputed from the entries (what the report's verdict is about).
    pub claims: Claims,
}

/// The findings of one run, in the order the checks raise them.
#[derive(Default)]
struct Findings(Vec<Finding>);

impl Findings {
    fn add(&mut self, code: FindingCode, at: impl Into<String>, message: impl Into<String>) {
        self.0.push(Finding {
            code,
            at: at.into(),
            message: message.into(),
        });
    }
}

/// Verifies `bundle` against the log key `key`. `registrars`, when not empty, are the
/// registrar keys the verifier trusts; otherwise those the bundle names are used (they are
/// the ledger operator's claim, reported in the output). Flags are recomputed with `bounds`,
/// the verifier's own: a bundle whose bounds differ is not verified, since looser bounds would
/// silence its flags.
pub fn verify(
    bundle: &Bundle,
    key: &VerifierKey,
    registrars: &[String],
    bounds: &Bounds,
) -> Report {
    let mut findings = Findings::default();
    check_format(bundle, &mut findings);
    let checkpoint = match open_checkpoint(&bundle.checkpoint, key) {
        Ok(cp) => Some(cp),
        Err(m) => {
            findings.add(FindingCode::Checkpoint, "checkpoint", m);
            None
        }
    };
    let (checked, signatures) = check_entries(bundle, checkpoint.as_ref(), &mut findings);
    let (mut registry, registrar_entries) =
        replay_registrars(&checked, bundle, registrars, &mut findings);
    check_actor_records(&bundle.actors, &registry, &mut findings);
    let authorised = check_authorisation(&checked, &registry, &mut findings);
    let claims = check_claims(bundle, &checked, &mut registry, bounds, &mut findings);
    let findings = findings.0;
    Report {
        verified: findings.is_empty(),
        findings,
        origin: checkpoint.as_ref().map(|c| c.origin.clone()),
        tree_size: checkpoint.as_ref().map(|c| c.size),
        entries: checked.len(),
        registrar_entries,
        signatures,
        authorised,
        claims,
    }
}

/// The bundle's type and version. Version 1 bundles (made before certificates) are still read;
/// they claim no certificates or organic status, so those parts are not compared.
fn check_format(bundle: &Bundle, findings: &mut Findings) {
    if bundle.kind != BUNDLE_TYPE || !(1..=BUNDLE_VERSION).contains(&bundle.version) {
        findings.add(
            FindingCode::BundleFormat,
            "bundle",
            format!(
                "this is a {:?} bundle of version {}; this verifier reads {BUNDLE_TYPE:?} versions 1 to {BUNDLE_VERSION}",
                bundle.kind, bundle.version
            ),
        );
    }
}

/// The checkpoint: signed by the log, for the log the key names.
fn open_checkpoint(signed: &str, key: &VerifierKey) -> Result<Checkpoint, String> {
    let body = note::open(signed, key)
        .map_err(|e| format!("the checkpoint's signature does not verify with the log key: {e}"))?;
    let cp = Checkpoint::parse(&body).map_err(|e| format!("not a checkpoint: {e}"))?;
    if cp.origin == key.name {
        Ok(cp)
    } else {
        Err(format!(
            "the checkpoint is for log {:?}, the key for {:?}",
            cp.origin, key.name
        ))
    }
}

/// An entry as read from the bundle, before the checks that need the entries around it.
struct Pre {
    entry: Result<Entry, String>,
    hash: Hash,
    leaf: Hash,
    /// `valid`, or why the event's signature is not.
    signature: String,
    doc: Result<Document, String>,
}

/// The costly part of checking one entry, which needs no other: hashing its canonical bytes,
/// verifying its event's signature and interpreting its event.
fn precheck(be: &BundleEntry) -> Pre {
    let (hash, leaf) = entry::hashes(&jcs::canonicalize(&be.entry));
    let entry = Entry::deserialize(&be.entry).map_err(|e| e.to_string());
    let (signature, doc) = match &entry {
        Ok(e) => (
            match di::verify(&e.event) {
                Ok(v) if v.did == e.signer => "valid".to_owned(),
                Ok(v) => format!("signed by {}, but the entry names {}", v.did, e.signer),
                Err(err) => err.to_string(),
            },
            profile::interpret(&e.event).map_err(|v| v.message),
        ),
        Err(_) => (String::new(), Err(String::new())),
    };
    Pre {
        entry,
        hash,
        leaf,
        signature,
        doc,
    }
}

/// An entry that is one, with its document when the event is a valid one.
struct Checked {
    entry: Entry,
    doc: Option<Document>,
}

/// Every entry: its bytes, its place in the tree, its signature, its link to the one before.
/// The costly part ([`precheck`]) runs on every core. Returns the entries that are entries,
/// and each one's signature verdict by index.
fn check_entries(
    bundle: &Bundle,
    checkpoint: Option<&Checkpoint>,
    findings: &mut Findings,
) -> (Vec<Checked>, BTreeMap<u64, String>) {
    let pre: Vec<Pre> = bundle.entries.par_iter().map(precheck).collect();
    let mut checked: Vec<Checked> = Vec::with_capacity(bundle.entries.len());
    let mut signatures = BTreeMap::new();
    let mut previous: Option<(u64, Hash)> = None;
    for (n, (be, p)) in bundle.entries.iter().zip(pre).enumerate() {
        let entry = match p.entry {
            Ok(e) => e,
            Err(e) => {
                findings.add(
                    FindingCode::EntryMalformed,
                    format!("entries[{n}]"),
                    format!("not a lotline entry: {e}"),
                );
                continue;
            }
        };
        let at = format!("entry {}", entry.index);
        check_order(&entry, previous, &at, findings);
        if let Some(cp) = checkpoint {
            check_inclusion(&entry, &p.leaf, &be.inclusion_proof, cp, &at, findings);
        }
        check_link(&entry, previous, &at, findings);
        previous = Some((entry.index, p.hash));
        if p.signature != "valid" {
            findings.add(
                FindingCode::Signature,
                at.clone(),
                format!("event signature: {}", p.signature),
            );
        }
        signatures.insert(entry.index, p.signature);
        let doc = match p.doc {
            Ok(d) => Some(d),
            Err(m) => {
                findings.add(
                    FindingCode::EventInvalid,
                    at,
                    format!("the event is not a valid lotline document: {m}"),
                );
                None
            }
        };
        checked.push(Checked { entry, doc });
    }
    (checked, signatures)
}

/// Entries come in increasing index order.
fn check_order(entry: &Entry, previous: Option<(u64, Hash)>, at: &str, findings: &mut Findings) {
    if let Some((prev_index, _)) = previous
        && entry.index <= prev_index
    {
        findings.add(
            FindingCode::BundleFormat,
            at,
            format!(
                "entries must be in increasing index order; {} follows {prev_index}",
                entry.index
            ),
        );
    }
}

/// The entry's leaf `leaf` is in the checkpoint's tree, by its inclusion proof.
fn check_inclusion(
    entry: &Entry,
    leaf: &Hash,
    inclusion_proof: &[String],
    cp: &Checkpoint,
    at: &str,
    findings: &mut Findings,
) {
    let proof: Result<Vec<Hash>, String> = inclusion_proof
        .iter()
        .map(|h| entry::b64_hash::decode(h))
        .collect();
    let result = proof.and_then(|p| {
        merkle::verify_inclusion(leaf, entry.index, cp.size, &p, &cp.root)
            .map_err(|e| e.to_string())
    });
    if let Err(e) = result {
        findings.add(
            FindingCode::InclusionProof,
            at,
            format!(
                "the entry is not proved to be in the checkpoint's tree of size {}: {e}",
                cp.size
            ),
        );
    }
}

/// An entry that follows its predecessor in the log names that predecessor's hash.
fn check_link(entry: &Entry, previous: Option<(u64, Hash)>, at: &str, findings: &mut Findings) {
    if let Some((prev_index, prev_hash)) = previous
        && prev_index + 1 == entry.index
        && prev_hash != entry.prev_hash
    {
        findings.add(
            FindingCode::ChainLink,
            at,
            format!(
                "prevHash {} is not the hash of entry {prev_index} ({})",
                entry::b64_hash::encode(&entry.prev_hash),
                entry::b64_hash::encode(&prev_hash)
            ),
        );
    }
}

/// Registrar entries, replayed in log order, give each actor's keys and roles over time. Each
/// must be signed by a registrar key the verifier trusts (`registrars`, or when none are given
/// those the bundle names) and apply as the rules applied it. Returns the registry and how
/// many registrar entries there were.
fn replay_registrars(
    checked: &[Checked],
    bundle: &Bundle,
    registrars: &[String],
    findings: &mut Findings,
) -> (Registry, usize) {
    let trusted: &[String] = if registrars.is_empty() {
        &bundle.registrars
    } else {
        registrars
    };
    let mut registry = Registry::default();
    let mut registrar_entries = 0;
    for c in checked {
        let Some(doc) = &c.doc else { continue };
        let profile::Action::Registrar(r) = &doc.action else {
            continue;
        };
        registrar_entries += 1;
        let at = format!("entry {}", c.entry.index);
        if !trusted.contains(&c.entry.signer) {
            findings.add(
                FindingCode::Registrar,
                at.clone(),
                format!(
                    "{} is signed by {}, which is not a registrar key{}",
                    doc.kind.name(),
                    c.entry.signer,
                    if registrars.is_empty() {
                        " of this ledger"
                    } else {
                        " you trust"
                    }
                ),
            );
        }
        if let Err(m) = registry.apply(r, doc.event_time_ms, c.entry.index) {
            findings.add(
                FindingCode::Registrar,
                at,
                format!("the {} {m}", doc.kind.name()),
            );
        }
    }
    (registry, registrar_entries)
}

/// The actor records the bundle carries must be exactly what the registrar entries made.
fn check_actor_records(actors: &[ActorRecord], registry: &Registry, findings: &mut Findings) {
    for claimed in actors {
        let at = format!("actor {}", claimed.id);
        match registry.actor(&claimed.id) {
            None => findings.add(
                FindingCode::ActorRecord,
                at,
                "no registration of this actor is in the bundle",
            ),
            Some(a) if a != claimed => findings.add(
                FindingCode::ActorRecord,
                at,
                format!(
                    "the record does not match its registrar entries: {}",
                    first_difference(
                        &serde_json::to_value(claimed).unwrap_or_default(),
                        &serde_json::to_value(a).unwrap_or_default()
                    )
                ),
            ),
            Some(_) => {}
        }
    }
    for a in registry.actors() {
        if !actors.iter().any(|c| c.id == a.id) {
            findings.add(
                FindingCode::ActorRecord,
                format!("actor {}", a.id),
                "registered by an entry of the bundle but missing from its actors",
            );
        }
    }
}

/// Each goods event: signed by a key of an actor, valid at the event's time, holding a role
/// its kind needs (an error declaration: by the actor of the entry it corrects). Returns
/// whether each was, by index.
fn check_authorisation(
    checked: &[Checked],
    registry: &Registry,
    findings: &mut Findings,
) -> BTreeMap<u64, bool> {
    let mut authorised = BTreeMap::new();
    // Who made each authorised event, for the corrections that follow.
    let mut actor_of_event: HashMap<&str, &str> = HashMap::new();
    for c in checked {
        let Some(doc) = &c.doc else { continue };
        if doc.kind.is_registrar() {
            continue;
        }
        let problem = unauthorised(c, doc, registry, &mut actor_of_event);
        authorised.insert(c.entry.index, problem.is_none());
        if let Some(m) = problem {
            findings.add(
                FindingCode::Unauthorised,
                format!("entry {}", c.entry.index),
                m,
            );
        }
    }
    authorised
}

/// Why the signer of goods event `c` was not authorised for it, or None when it was (and then
/// its eventID is recorded in `actor_of_event`).
fn unauthorised<'c>(
    c: &'c Checked,
    doc: &Document,
    registry: &'c Registry,
    actor_of_event: &mut HashMap<&'c str, &'c str>,
) -> Option<String> {
    let t = doc.event_time_ms;
    let Some(owner) = registry.owner(&c.entry.signer) else {
        return Some(format!(
            "{} belongs to no actor registered in the bundle",
            c.entry.signer
        ));
    };
    let a = registry
        .actor(owner)
        .expect("keys are bound to registered actors");
    let eid = c.entry.event_id().unwrap_or_default();
    if doc.declares_error {
        match actor_of_event.get(eid) {
            Some(orig) if *orig != owner => Some(format!(
                "the correction is signed by {owner}, the event it corrects by {orig}"
            )),
            Some(_) => None,
            None => Some(format!(
                "it declares {eid} erroneous, but no earlier authorised entry of the bundle has that eventID"
            )),
        }
    } else if !a.key_valid_at(&c.entry.signer, t) {
        Some(format!(
            "{} was not a valid key of {owner} at the eventTime",
            c.entry.signer
        ))
    } else if a.role_at(doc.kind.roles(), t).is_none() {
        Some(format!(
            "{owner} held none of the roles {} that {} events need at the eventTime",
            doc.kind.roles().join(", "),
            doc.kind.name()
        ))
    } else {
        if let Some(id) = c.entry.event_id() {
            actor_of_event.insert(id, owner);
        }
        None
    }
}

/// The claims, recomputed from the entries with the verifier's `bounds` and the certificates
/// replayed on top of `registry`, and compared with what the bundle claims; then whether the
/// history is complete.
fn check_claims(
    bundle: &Bundle,
    checked: &[Checked],
    registry: &mut Registry,
    bounds: &Bounds,
    findings: &mut Findings,
) -> Claims {
    let parsed: Vec<Parsed<'_>> = checked
        .iter()
        .filter_map(|c| {
            c.doc.as_ref().map(|doc| Parsed {
                entry: &c.entry,
                doc,
            })
        })
        .collect();
    if bundle.bounds != *bounds {
        findings.add(
            FindingCode::Bounds,
            "bounds",
            format!(
                "the bundle computes plausibility flags with other bounds than yours: {}",
                first_difference(
                    &serde_json::to_value(&bundle.bounds).unwrap_or_default(),
                    &serde_json::to_value(bounds).unwrap_or_default()
                )
            ),
        );
    }
    // Certificates, replayed in log order with the certifiers the registrar entries made.
    for (index, m) in registry.certify_all(&parsed) {
        findings.add(
            FindingCode::Certificate,
            format!("entry {index}"),
            format!("the certification {m}"),
        );
    }
    let claims = derive(&bundle.subject, &parsed, registry, bounds);
    compare_claims(&bundle.claims, &claims, bundle.version, findings);
    check_complete(&claims, &bundle.subject, findings);
    claims
}

/// Each part of the claimed claims must be what the entries give (version 1 bundles claim no
/// certificates or organic status).
fn compare_claims(claimed: &Claims, derived: &Claims, version: u64, findings: &mut Findings) {
    let (c, d) = (
        serde_json::to_value(claimed).unwrap_or_default(),
        serde_json::to_value(derived).unwrap_or_default(),
    );
    for part in [
        "lots",
        "farms",
        "plots",
        "custody",
        "timeline",
        "flags",
        "certificates",
        "organic",
        "quality",
    ] {
        if version < 2 && matches!(part, "certificates" | "organic") {
            continue;
        }
        if c.get(part) != d.get(part) {
            findings.add(
                FindingCode::Claims,
                format!("claims.{part}"),
                format!(
                    "the bundle's {part} do not follow from its entries: {}",
                    first_difference(
                        c.get(part).unwrap_or(&Value::Null),
                        d.get(part).unwrap_or(&Value::Null)
                    )
                ),
            );
        }
    }
}

/// Every lot the history was made from must come with the entry that created it: inputs are
/// named by signed events, so leaving out an upstream branch shows here. (What else a carrier
/// unit held is not part of this history.) And some entry must create the subject.
fn check_complete(claims: &Claims, subject: &str, findings: &mut Findings) {
    for lot in claims.lots.iter().filter(|l| !l.carrier) {
        for input in &lot.inputs {
            if !claims.lots.iter().any(|l| &l.key == input) {
                findings.add(
                    FindingCode::IncompleteHistory,
                    format!("lot {}", lot.key),
                    format!("it was made from {input}, but no entry of the bundle creates {input}"),
                );
            }
        }
    }
    if claims.lots.iter().all(|l| l.key != subject) {
        findings.add(
            FindingCode::Claims,
            "subject",
            format!("no entry of the bundle creates its subject {subject}"),
        );
    }
}

/// Where two JSON values first differ, as an RFC 6901 pointer with both sides.
fn first_difference(claimed: &serde_json::Value, derived: &serde_json::Value) -> String {
    use serde_json::Value::{Array, Object};
    fn walk(a: &serde_json::Value, b: &serde_json::Value, path: &mut String) -> Option<String> {
        match (a, b) {
            _ if a == b => None,
            (Object(x), Object(y)) => {
                for k in x.keys().chain(y.keys()) {
                    let (va, vb) = (x.get(k), y.get(k));
                    if va != vb {
                        let len = path.len();
                        path.push('/');
                        path.push_str(k);
                        let found = match (va, vb) {
                            (Some(va), Some(vb)) => walk(va, vb, path),
                            _ => None,
                        };
                        let r = found.unwrap_or_else(|| describe(path, va, vb));
                        path.truncate(len);
                        return Some(r);
                    }
                }
                None
            }
            (Array(x), Array(y)) if x.len() == y.len() => {
                for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                    if va != vb {
                        let len = path.len();
                        path.push_str(&format!("/{i}"));
                        let r = walk(va, vb, path)
                            .unwrap_or_else(|| describe(path, Some(va), Some(vb)));
                        path.truncate(len);
                        return Some(r);
                    }
                }
                None
            }
            (Array(x), Array(y)) => Some(format!(
                "{} lists {} items, the entries give {}",
                if path.is_empty() { "/" } else { path },
                x.len(),
                y.len()
            )),
            _ => Some(describe(path, Some(a), Some(b))),
        }
    }
    fn describe(
        path: &str,
        a: Option<&serde_json::Value>,
        b: Option<&serde_json::Value>,
    ) -> String {
        let show = |v: Option<&serde_json::Value>| {
            let s = v.map_or("nothing".to_owned(), |v| v.to_string());
            if s.chars().count() > 120 {
                format!("{}…", s.chars().take(120).collect::<String>())
            } else {
                s
            }
        };
        format!(
            "at {} it says {}, the entries give {}",
            if path.is_empty() { "/" } else { path },
            show(a),
            show(b)
        )
    }
    walk(claimed, derived, &mut String::new()).unwrap_or_else(|| "they differ".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lotline_profile::records::{Flag, FlagCode};
    use serde_json::json;

    #[test]
    fn a_claimed_flag_with_an_unknown_code_fails_the_claims_comparison() {
        let derived = Claims {
            flags: vec![Flag {
                code: FlagCode::MillingRecovery,
                message: "milled rice per paddy is 0.900".into(),
                index: 3,
            }],
            ..Claims::default()
        };
        let mut altered = serde_json::to_value(&derived).unwrap();
        altered["flags"][0]["code"] = json!("made_up");
        // Read as any bundle is: the unknown code does not stop the verifier…
        let claimed: Claims = serde_json::from_value(altered).unwrap();
        assert_eq!(claimed.flags[0].code, "made_up");
        // …and the comparison names it.
        let mut findings = Findings::default();
        compare_claims(&claimed, &derived, 2, &mut findings);
        let [f] = &findings.0[..] else {
            panic!("{:?}", findings.0)
        };
        assert_eq!(
            (f.code, f.at.as_str()),
            (FindingCode::Claims, "claims.flags")
        );
        assert!(f.message.contains(r#"it says "made_up""#), "{}", f.message);
    }

    #[test]
    fn differences_are_named_by_pointer() {
        let a = json!({"plots": [{"farm": "A", "areaHectares": 1.6}]});
        let b = json!({"plots": [{"farm": "A", "areaHectares": 1.7}]});
        let d = first_difference(&a, &b);
        assert!(d.contains("/plots/0/areaHectares"), "{d}");
        assert!(d.contains("1.6") && d.contains("1.7"), "{d}");
        let d = first_difference(&json!([1, 2]), &json!([1]));
        assert!(d.contains("lists 2 items, the entries give 1"), "{d}");
        let d = first_difference(&json!({"a": 1}), &json!({}));
        assert!(d.contains("/a") && d.contains("nothing"), "{d}");
    }
}
