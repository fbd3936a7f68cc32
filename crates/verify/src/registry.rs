//! The registry a history makes: actors with their keys and roles over time, as the registrar
//! entries made them, and certificates, as the certification entries made them.
//!
//! Replayed from entries exactly as the ledger's rules applied them, so a verifier judges each
//! signer's authority and each certificate as the ledger did, without trusting the ledger.

use std::collections::{BTreeMap, HashMap};

use crate::parsed::Parsed;
use lotline_profile::certs::{CertRecord, Withdrawal};
use lotline_profile::profile::{self, Certification, Registrar};
use lotline_profile::records::{ActorRecord, KeySpan, RoleSpan, Span};

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
            c.withdrawal = Some(Withdrawal {
                effective_ms: t,
                at: u64::MAX,
                reason: Some("supposed withdrawn (impact query)".into()),
            });
        }
    }

    /// Replays the certification documents among `parsed` (index order) on top of the
    /// registrar documents already applied; returns the refused ones with why.
    pub(crate) fn certify_all(&mut self, parsed: &[Parsed<'_>]) -> Vec<(u64, String)> {
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
    pub(crate) fn apply(&mut self, r: &Registrar, t: i64, at: u64) -> Result<(), String> {
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
    /// any that do not apply; [`crate::verify`] reports those.
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

#[cfg(test)]
mod tests {
    use super::*;
    use lotline_profile::profile::ActorSpec;

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
