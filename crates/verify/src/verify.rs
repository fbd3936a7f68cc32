//! Verifying a bundle, trusting nothing but the log's verifier key.
//!
//! Every check that fails becomes a [`Finding`] naming what and where; the checks go on after a
//! failure, so one run reports everything that is wrong. A bundle is verified when there are no
//! findings.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use serde::{Deserialize as _, Serialize};

use super::derive::{Claims, Parsed, derive};
use super::{BUNDLE_TYPE, BUNDLE_VERSION, Bundle};
use data_integrity::{di, jcs};
use lotline_profile::certs::CertRecord;
use lotline_profile::entry::{self, Entry};
use lotline_profile::profile::{self, Certification, Document, Registrar};
use lotline_profile::records::{ActorRecord, Bounds, KeySpan, RoleSpan, Span};
use tlog::merkle::{self, Hash};
use tlog::note::{self, Checkpoint, VerifierKey};

/// One thing that is wrong with a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Stable: `bundle_format`, `checkpoint`, `entry_malformed`, `inclusion_proof`,
    /// `signature`, `chain_link`, `event_invalid`, `registrar`, `actor_record`, `unauthorised`,
    /// `claims`, `incomplete_history`, `bounds`.
    pub code: &'static str,
    /// Where: `checkpoint`, `entry 12`, `actor …`, `claims.plots`.
    pub at: String,
    pub message: String,
}

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

/// Actors as the registrar entries made them, who owns each key, and certificates as the
/// certification entries made them.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    actors: BTreeMap<String, ActorRecord>,
    keys: HashMap<String, String>,
    certs: BTreeMap<String, CertRecord>,
}

impl Registry {
    pub fn actor(&self, id: &str) -> Option<&ActorRecord> {
        self.actors.get(id)
    }
    /// The actor a signing key was registered to.
    pub fn owner(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }
    pub fn actors(&self) -> impl Iterator<Item = &ActorRecord> {
        self.actors.values()
    }
    /// Certificates by id.
    pub fn certs(&self) -> impl Iterator<Item = &CertRecord> {
        self.certs.values()
    }

    /// Applies one certification document signed by `signer` at `t`, entry `at`, as the rules
    /// did: the signer's actor must have held the certifier role at `t`, and the decision must
    /// be one [`CertRecord`] accepts.
    fn certify(&mut self, c: &Certification, signer: &str, t: i64, at: u64) -> Result<(), String> {
        let certifier = self
            .owner(signer)
            .filter(|o| {
                self.actor(o).is_some_and(|a| {
                    a.key_valid_at(signer, t) && a.role_at(&["certifier"], t).is_some()
                })
            })
            .ok_or_else(|| {
                format!("is signed by {signer}, not by a certifier's key valid at the time")
            })?
            .to_owned();
        match (self.certs.get_mut(c.id()), c) {
            (None, Certification::Issue(spec)) => {
                self.certs
                    .insert(spec.id.clone(), CertRecord::issue(spec, &certifier, t, at));
                Ok(())
            }
            (None, _) => Err(format!(
                "changes certificate {}, whose issuance is not in the bundle",
                c.id()
            )),
            (Some(rec), c) => rec.decide(c, &certifier, at).map_err(|e| e.message),
        }
    }

    /// Supposes certificate `id` withdrawn from `t` (unless it already was, earlier): the
    /// recall tool's question, never a claim of a bundle.
    pub fn suppose_withdrawn(&mut self, id: &str, t: i64) {
        if let Some(c) = self.certs.get_mut(id)
            && c.withdrawal.as_ref().is_none_or(|w| w.effective_ms > t)
        {
            c.withdrawal = Some(lotline_profile::certs::Withdrawal {
                effective_ms: t,
                at: u64::MAX,
                reason: Some("supposed withdrawn (impact query)".into()),
            });
        }
    }

    /// Replays the certification documents among `parsed` (index order) on top of the
    /// registrar documents already applied; returns the refused ones with why.
    fn certify_all(&mut self, parsed: &[Parsed<'_>]) -> Vec<(u64, String)> {
        let mut refused = Vec::new();
        for p in parsed {
            if let profile::Action::Certification(c) = &p.doc.action
                && let Err(m) = self.certify(c, &p.entry.signer, p.doc.event_time_ms, p.entry.index)
            {
                refused.push((p.entry.index, m));
            }
        }
        refused
    }

    /// Applies one registrar document, as the ledger's rules did when they accepted it.
    fn apply(&mut self, r: &Registrar, t: i64, at: u64) -> Result<(), String> {
        let span = || Span::open(t, at);
        match r {
            Registrar::Register(spec) => {
                if self.actors.contains_key(&spec.id) {
                    return Err(format!("registers {} a second time", spec.id));
                }
                // All or nothing, as the rules decide it: a key already bound elsewhere
                // refuses the whole registration.
                for k in &spec.keys {
                    if let Some(owner) = self.keys.get(k) {
                        return Err(format!(
                            "gives {k} to {}, but it is a key of {owner}",
                            spec.id
                        ));
                    }
                }
                for k in &spec.keys {
                    self.bind(k, &spec.id)?;
                }
                self.actors
                    .insert(spec.id.clone(), ActorRecord::registered(spec, t, at));
            }
            Registrar::GrantRole { actor, role } => {
                self.known(actor)?.roles.push(RoleSpan {
                    role: role.clone(),
                    span: span(),
                });
            }
            Registrar::RevokeRole { actor, role } => {
                let a = self.known(actor)?;
                let r = a
                    .roles
                    .iter_mut()
                    .find(|r| r.role == *role && r.span.is_open())
                    .ok_or_else(|| format!("revokes role {role} that {actor} does not hold"))?;
                r.span.close(t, at);
            }
            Registrar::AddKey { actor, key } => {
                self.known(actor)?;
                self.bind(key, actor)?;
                self.known(actor)?.keys.push(KeySpan {
                    key: key.clone(),
                    span: span(),
                });
            }
            Registrar::RotateKey {
                actor,
                key,
                replaces,
            } => {
                self.known(actor)?;
                self.bind(key, actor)?;
                let a = self.known(actor)?;
                let old = a
                    .keys
                    .iter_mut()
                    .find(|k| k.key == *replaces && k.span.is_open())
                    .ok_or_else(|| format!("rotates {replaces}, not a current key of {actor}"))?;
                old.span.close(t, at);
                a.keys.push(KeySpan {
                    key: key.clone(),
                    span: span(),
                });
            }
            Registrar::RevokeKey { actor, key } => {
                let a = self.known(actor)?;
                let k = a
                    .keys
                    .iter_mut()
                    .find(|k| k.key == *key && k.span.is_open())
                    .ok_or_else(|| format!("revokes {key}, not a current key of {actor}"))?;
                k.span.close(t, at);
            }
        }
        Ok(())
    }

    /// The registry the registrar documents among `parsed` (in index order) make, skipping
    /// any that do not apply; [`verify`] reports those.
    pub fn replay(parsed: &[Parsed<'_>]) -> Registry {
        let mut r = Registry::default();
        for p in parsed {
            if let profile::Action::Registrar(reg) = &p.doc.action {
                let _ = r.apply(reg, p.doc.event_time_ms, p.entry.index);
            }
        }
        r.certify_all(parsed);
        r
    }

    fn known(&mut self, id: &str) -> Result<&mut ActorRecord, String> {
        self.actors
            .get_mut(id)
            .ok_or_else(|| format!("names actor {id}, whose registration is not in the bundle"))
    }

    fn bind(&mut self, key: &str, actor: &str) -> Result<(), String> {
        match self.keys.get(key) {
            Some(owner) if owner != actor => Err(format!(
                "gives {key} to {actor}, but it is a key of {owner}"
            )),
            Some(_) => Err(format!("gives {key} to {actor} a second time")),
            None => {
                self.keys.insert(key.to_owned(), actor.to_owned());
                Ok(())
            }
        }
    }
}

struct Checked {
    entry: Entry,
    doc: Option<Document>,
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
    let mut findings = Vec::new();
    let mut find = |code: &'static str, at: String, message: String| {
        findings.push(Finding { code, at, message })
    };
    // Version 1 bundles (made before certificates) are still read; they claim no certificates
    // or organic status, so those parts are not compared.
    if bundle.kind != BUNDLE_TYPE || !(1..=BUNDLE_VERSION).contains(&bundle.version) {
        find(
            "bundle_format",
            "bundle".into(),
            format!(
                "this is a {:?} bundle of version {}; this verifier reads {BUNDLE_TYPE:?} versions 1 to {BUNDLE_VERSION}",
                bundle.kind, bundle.version
            ),
        );
    }

    // The checkpoint: signed by the log, for the log the key names.
    let checkpoint = note::open(&bundle.checkpoint, key)
        .map_err(|e| format!("the checkpoint's signature does not verify with the log key: {e}"))
        .and_then(|body| Checkpoint::parse(&body).map_err(|e| format!("not a checkpoint: {e}")))
        .and_then(|cp| {
            if cp.origin == key.name {
                Ok(cp)
            } else {
                Err(format!(
                    "the checkpoint is for log {:?}, the key for {:?}",
                    cp.origin, key.name
                ))
            }
        });
    let checkpoint = match checkpoint {
        Ok(cp) => Some(cp),
        Err(m) => {
            find("checkpoint", "checkpoint".into(), m);
            None
        }
    };

    // Every entry: its bytes, its place in the tree, its signature, its link to the one before.
    // The costly part (hashing, signature, interpretation) runs on every core.
    struct Pre {
        entry: Result<Entry, String>,
        hash: Hash,
        leaf: Hash,
        signature: String,
        doc: Result<Document, String>,
    }
    let pre: Vec<Pre> = bundle
        .entries
        .par_iter()
        .map(|be| {
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
        })
        .collect();
    let mut checked: Vec<Checked> = Vec::with_capacity(bundle.entries.len());
    let mut signatures = BTreeMap::new();
    let mut previous: Option<(u64, Hash)> = None;
    for (n, (be, p)) in bundle.entries.iter().zip(pre).enumerate() {
        let entry = match p.entry {
            Ok(e) => e,
            Err(e) => {
                find(
                    "entry_malformed",
                    format!("entries[{n}]"),
                    format!("not a lotline entry: {e}"),
                );
                continue;
            }
        };
        let at = format!("entry {}", entry.index);
        let (hash, leaf) = (p.hash, p.leaf);
        if let Some((prev_index, _)) = previous
            && entry.index <= prev_index
        {
            find(
                "bundle_format",
                at.clone(),
                format!(
                    "entries must be in increasing index order; {} follows {prev_index}",
                    entry.index
                ),
            );
        }
        if let Some(cp) = &checkpoint {
            let proof: Result<Vec<Hash>, String> = be
                .inclusion_proof
                .iter()
                .map(|h| entry::b64_hash::decode(h))
                .collect();
            let result = proof.and_then(|p| {
                merkle::verify_inclusion(&leaf, entry.index, cp.size, &p, &cp.root)
                    .map_err(|e| e.to_string())
            });
            if let Err(e) = result {
                find(
                    "inclusion_proof",
                    at.clone(),
                    format!(
                        "the entry is not proved to be in the checkpoint's tree of size {}: {e}",
                        cp.size
                    ),
                );
            }
        }
        if let Some((prev_index, prev_hash)) = previous
            && prev_index + 1 == entry.index
            && prev_hash != entry.prev_hash
        {
            find(
                "chain_link",
                at.clone(),
                format!(
                    "prevHash {} is not the hash of entry {prev_index} ({})",
                    entry::b64_hash::encode(&entry.prev_hash),
                    entry::b64_hash::encode(&prev_hash)
                ),
            );
        }
        previous = Some((entry.index, hash));
        if p.signature != "valid" {
            find(
                "signature",
                at.clone(),
                format!("event signature: {}", p.signature),
            );
        }
        signatures.insert(entry.index, p.signature);
        let doc = match p.doc {
            Ok(d) => Some(d),
            Err(m) => {
                find(
                    "event_invalid",
                    at,
                    format!("the event is not a valid lotline document: {m}"),
                );
                None
            }
        };
        checked.push(Checked { entry, doc });
    }

    // Registrar entries, replayed in log order, give each actor's keys and roles over time.
    let trusted: &[String] = if registrars.is_empty() {
        &bundle.registrars
    } else {
        registrars
    };
    let mut registry = Registry::default();
    let mut registrar_entries = 0;
    for c in &checked {
        let Some(doc) = &c.doc else { continue };
        let profile::Action::Registrar(r) = &doc.action else {
            continue;
        };
        registrar_entries += 1;
        let at = format!("entry {}", c.entry.index);
        if !trusted.contains(&c.entry.signer) {
            find(
                "registrar",
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
            find("registrar", at, format!("the {} {m}", doc.kind.name()));
        }
    }
    // The actor records the bundle carries must be exactly what the registrar entries made.
    for claimed in &bundle.actors {
        let at = format!("actor {}", claimed.id);
        match registry.actor(&claimed.id) {
            None => find(
                "actor_record",
                at,
                "no registration of this actor is in the bundle".into(),
            ),
            Some(a) if a != claimed => find(
                "actor_record",
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
        if !bundle.actors.iter().any(|c| c.id == a.id) {
            find(
                "actor_record",
                format!("actor {}", a.id),
                "registered by an entry of the bundle but missing from its actors".into(),
            );
        }
    }

    // Each goods event: signed by a key of an actor, valid at the event's time, holding a role
    // its kind needs (an error declaration: by the actor of the entry it corrects).
    let mut authorised = BTreeMap::new();
    let mut actor_of_event: HashMap<&str, &str> = HashMap::new();
    for c in &checked {
        let Some(doc) = &c.doc else { continue };
        if doc.kind.is_registrar() {
            continue;
        }
        let at = format!("entry {}", c.entry.index);
        let t = doc.event_time_ms;
        let problem = match registry.owner(&c.entry.signer) {
            None => Some(format!(
                "{} belongs to no actor registered in the bundle",
                c.entry.signer
            )),
            Some(owner) => {
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
        };
        authorised.insert(c.entry.index, problem.is_none());
        if let Some(m) = problem {
            find("unauthorised", at, m);
        }
    }

    // The claims, recomputed.
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
        find(
            "bounds",
            "bounds".into(),
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
        find(
            "certificate",
            format!("entry {index}"),
            format!("the certification {m}"),
        );
    }
    let claims = derive(&bundle.subject, &parsed, &registry, bounds);
    compare_claims(&bundle.claims, &claims, bundle.version, &mut find);
    // Every lot the history was made from must come with the entry that created it: inputs
    // are named by signed events, so leaving out an upstream branch shows here. (What else a
    // carrier unit held is not part of this history.)
    for lot in claims.lots.iter().filter(|l| !l.carrier) {
        for input in &lot.inputs {
            if !claims.lots.iter().any(|l| &l.key == input) {
                find(
                    "incomplete_history",
                    format!("lot {}", lot.key),
                    format!("it was made from {input}, but no entry of the bundle creates {input}"),
                );
            }
        }
    }
    if claims.lots.iter().all(|l| l.key != bundle.subject) {
        find(
            "claims",
            "subject".into(),
            format!(
                "no entry of the bundle creates its subject {}",
                bundle.subject
            ),
        );
    }

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

fn compare_claims(
    claimed: &Claims,
    derived: &Claims,
    version: u64,
    find: &mut impl FnMut(&'static str, String, String),
) {
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
    ] {
        if version < 2 && matches!(part, "certificates" | "organic") {
            continue;
        }
        if c.get(part) != d.get(part) {
            find(
                "claims",
                format!("claims.{part}"),
                format!(
                    "the bundle's {part} do not follow from its entries: {}",
                    first_difference(
                        c.get(part).unwrap_or(&serde_json::Value::Null),
                        d.get(part).unwrap_or(&serde_json::Value::Null)
                    )
                ),
            );
        }
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
    use lotline_profile::profile::ActorSpec;
    use serde_json::json;

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

    #[test]
    fn replaying_registrar_documents_tracks_keys_and_roles_over_time() {
        let mut r = Registry::default();
        let spec = ActorSpec {
            id: "mill".into(),
            name: "Mill".into(),
            country: "KH".into(),
            province: None,
            gln: None,
            roles: vec!["mill".into(), "mill".into()],
            keys: vec!["k1".into()],
        };
        r.apply(&Registrar::Register(spec.clone()), 100, 1).unwrap();
        let rotate = Registrar::RotateKey {
            actor: "mill".into(),
            key: "k2".into(),
            replaces: "k1".into(),
        };
        r.apply(&rotate, 200, 2).unwrap();
        let revoke = Registrar::RevokeRole {
            actor: "mill".into(),
            role: "mill".into(),
        };
        r.apply(&revoke, 300, 3).unwrap();
        let a = r.actor("mill").unwrap();
        assert_eq!(a.roles.len(), 1, "duplicate roles collapse");
        assert!(a.key_valid_at("k1", 150) && !a.key_valid_at("k1", 200));
        assert!(a.key_valid_at("k2", 200) && r.owner("k2") == Some("mill"));
        assert!(a.role_at(&["mill"], 299).is_some() && a.role_at(&["mill"], 300).is_none());
        assert_eq!(a.roles[0].span.closed_at, Some(3));
        // What the rules refuse cannot be replayed either.
        assert!(r.apply(&Registrar::Register(spec), 400, 4).is_err());
        assert!(r.apply(&revoke, 400, 4).is_err());
        let stolen = Registrar::AddKey {
            actor: "farm".into(),
            key: "k2".into(),
        };
        assert!(r.apply(&stolen, 400, 4).is_err());
    }
}
