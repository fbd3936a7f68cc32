//! Certificates: what certifiers (control bodies) decided, and what a certificate covered at a
//! given moment.
//!
//! A [`CertRecord`] is built by replaying a certificate's certification entries in log order
//! with [`CertRecord::issue`] and [`CertRecord::decide`]. The rules run that replay as entries
//! arrive (and refuse what it refuses); an offline verifier runs the same functions on the
//! entries of a bundle, so a certificate means the same thing on both sides.
//!
//! Status is always evaluated with everything known now: a withdrawal with a past effective
//! date makes the certificate cover nothing from that date on, so events that relied on it
//! since then lose what they derived from it. That is the point of recording the withdrawal.

use serde::{Deserialize, Serialize};

use crate::profile::{CertSpec, Certification};
use crate::records::{RuleError, Span, refuse};
use crate::refusal::Refusal;

/// The standards from which lotline derives organic status (EU organic regulation).
pub const ORGANIC_STANDARDS: &[&str] = &["EU 2018/848"];

/// A certificate's content from `effective_ms` on, set by entry `at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertVersion {
    pub effective_ms: i64,
    pub at: u64,
    pub spec: CertSpec,
}

/// A withdrawal: for good, from `effective_ms` on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawal {
    pub effective_ms: i64,
    pub at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A suspension and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Suspension {
    #[serde(flatten)]
    pub span: Span,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A certificate as its certification entries made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertRecord {
    pub id: String,
    /// The certifier (an actor id) that issued it; only it may change it.
    pub issuer: String,
    /// Issuance first, then amendments, in log order.
    pub versions: Vec<CertVersion>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub suspensions: Vec<Suspension>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<Withdrawal>,
}

/// Why a certificate did not cover something at a moment, or the version that did.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing<'a> {
    Valid(&'a CertVersion),
    NotYetValid(&'a CertVersion),
    Expired(&'a CertVersion),
    Suspended(&'a Suspension),
    Withdrawn(&'a Withdrawal),
}

/// What a certificate is asked to cover: an actor doing one of `activities` with a product.
#[derive(Debug, Clone, Copy)]
pub struct Need<'a> {
    pub actor: &'a str,
    /// Any one of these suffices (a farm selling its own harvest: production or handling).
    pub activities: &'a [&'a str],
    /// The product and the crop it is made of; a certificate naming either covers it.
    pub product: Option<&'a str>,
    pub crop: Option<&'a str>,
    /// For production: the plot harvested.
    pub plot: Option<&'a str>,
    pub t: i64,
}

impl CertRecord {
    /// The record an issuance makes; `issuer` is the signing certifier.
    pub fn issue(spec: &CertSpec, issuer: &str, t: i64, at: u64) -> CertRecord {
        CertRecord {
            id: spec.id.clone(),
            issuer: issuer.to_owned(),
            versions: vec![CertVersion {
                effective_ms: t.min(spec.valid_from_ms),
                at,
                spec: spec.clone(),
            }],
            suspensions: Vec::new(),
            withdrawal: None,
        }
    }

    /// Applies a later decision by `certifier`, entry `at`; refused decisions change nothing.
    pub fn decide(&mut self, c: &Certification, certifier: &str, at: u64) -> Result<(), RuleError> {
        if certifier != self.issuer {
            return Err(refuse(
                Refusal::NotCertificateIssuer,
                format!(
                    "{} was issued by {}; only its issuer may change it, not {certifier}",
                    self.id, self.issuer
                ),
            ));
        }
        if let Some(w) = &self.withdrawal {
            return Err(refuse(
                Refusal::CertificateWithdrawn,
                format!(
                    "{} was withdrawn by entry {}; a withdrawn certificate cannot change (issue a new one)",
                    self.id, w.at
                ),
            ));
        }
        let open = self.suspensions.iter_mut().find(|s| s.span.is_open());
        match c {
            Certification::Issue(_) => {
                return Err(refuse(
                    Refusal::CertificateExists,
                    format!("certificate {} is already issued", self.id),
                ));
            }
            Certification::Amend {
                spec, effective_ms, ..
            } => {
                let first = &self.versions[0].spec;
                if spec.subject != first.subject {
                    return Err(refuse(
                        Refusal::CertificateSubjectChanged,
                        format!(
                            "{} certifies {}; an amendment cannot give it to {} (issue a new certificate)",
                            self.id, first.subject, spec.subject
                        ),
                    ));
                }
                self.versions.push(CertVersion {
                    effective_ms: *effective_ms,
                    at,
                    spec: spec.clone(),
                });
            }
            Certification::Suspend {
                effective_ms,
                reason,
                ..
            } => {
                if let Some(s) = open {
                    return Err(refuse(
                        Refusal::AlreadySuspended,
                        format!(
                            "{} is suspended since entry {}; reinstate it first",
                            self.id, s.span.opened_at
                        ),
                    ));
                }
                self.suspensions.push(Suspension {
                    span: Span::open(*effective_ms, at),
                    reason: reason.clone(),
                });
            }
            Certification::Reinstate { effective_ms, .. } => match open {
                Some(s) => s.span.close(*effective_ms, at),
                None => {
                    return Err(refuse(
                        Refusal::NotSuspended,
                        format!(
                            "{} is not suspended; there is nothing to reinstate",
                            self.id
                        ),
                    ));
                }
            },
            Certification::Withdraw {
                effective_ms,
                reason,
                ..
            } => {
                self.withdrawal = Some(Withdrawal {
                    effective_ms: *effective_ms,
                    at,
                    reason: reason.clone(),
                });
            }
        }
        Ok(())
    }

    /// Every entry that made the record what it is, in log order.
    pub fn entries(&self) -> Vec<u64> {
        let mut v: Vec<u64> = self.versions.iter().map(|v| v.at).collect();
        for s in &self.suspensions {
            v.push(s.span.opened_at);
            v.extend(s.span.closed_at);
        }
        v.extend(self.withdrawal.as_ref().map(|w| w.at));
        v.sort_unstable();
        v.dedup();
        v
    }

    /// The content in force at `t`: the latest version effective by then (the issuance
    /// before any amendment).
    pub fn version_at(&self, t: i64) -> &CertVersion {
        self.versions
            .iter()
            .rev()
            .find(|v| v.effective_ms <= t)
            .unwrap_or(&self.versions[0])
    }

    /// The latest content.
    pub fn current(&self) -> &CertSpec {
        &self.versions[self.versions.len() - 1].spec
    }

    /// Whether the certificate was in force at `t`, and if not why.
    pub fn standing_at(&self, t: i64) -> Standing<'_> {
        if let Some(w) = &self.withdrawal
            && t >= w.effective_ms
        {
            return Standing::Withdrawn(w);
        }
        if let Some(s) = self.suspensions.iter().find(|s| s.span.covers(t)) {
            return Standing::Suspended(s);
        }
        let v = self.version_at(t);
        if t < v.spec.valid_from_ms {
            Standing::NotYetValid(v)
        } else if t >= v.spec.valid_until_ms {
            Standing::Expired(v)
        } else {
            Standing::Valid(v)
        }
    }

    /// Whether the record names `actor` as its subject or as a member farm, in any version.
    pub fn concerns(&self, actor: &str) -> bool {
        self.versions
            .iter()
            .any(|v| v.spec.subject == actor || v.spec.members.iter().any(|m| m.farm == actor))
    }

    /// Whether the certificate covered `need`: `Ok(version)` or why not, in words.
    pub fn covers(&self, need: &Need<'_>) -> Result<&CertVersion, String> {
        let v = match self.standing_at(need.t) {
            Standing::Valid(v) => v,
            Standing::NotYetValid(v) => {
                return Err(format!("was not valid yet (from {})", v.spec.valid_from));
            }
            Standing::Expired(v) => {
                return Err(format!("had expired (valid until {})", v.spec.valid_until));
            }
            Standing::Suspended(s) => {
                return Err(format!(
                    "was suspended (entry {}){}",
                    s.span.opened_at,
                    s.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ));
            }
            Standing::Withdrawn(w) => {
                return Err(format!(
                    "was withdrawn (entry {}){}",
                    w.at,
                    w.reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ));
            }
        };
        let spec = &v.spec;
        if !ORGANIC_STANDARDS.contains(&spec.standard.as_str()) {
            return Err(format!("is a {} certificate, not organic", spec.standard));
        }
        if !need
            .activities
            .iter()
            .any(|a| spec.activities.iter().any(|s| s == a))
        {
            return Err(format!(
                "covers {}, not {}",
                spec.activities.join(", "),
                need.activities.join(" or ")
            ));
        }
        let product_ok = match (need.product, need.crop) {
            (None, None) => true,
            (p, c) => spec
                .products
                .iter()
                .any(|s| Some(s.as_str()) == p || Some(s.as_str()) == c),
        };
        if !product_ok {
            return Err(format!(
                "covers the products {}, not {}",
                spec.products.join(", "),
                need.product.or(need.crop).unwrap_or("this product")
            ));
        }
        let holder = spec.subject == need.actor;
        let member = spec.members.iter().find(|m| m.farm == need.actor);
        match (need.plot, member) {
            (_, None) if holder => Ok(v),
            (None, Some(_)) => Ok(v),
            (Some(p), Some(m)) if m.plots.is_empty() || m.plots.iter().any(|x| x == p) => Ok(v),
            (Some(p), Some(_)) => Err(format!("does not list plot {p} of {}", need.actor)),
            (_, None) => Err(format!("is not held by {}", need.actor)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::CertMember;

    const DAY: i64 = 86_400_000;

    fn spec() -> CertSpec {
        CertSpec {
            id: "https://cb.example/c/1".into(),
            number: "KH-1".into(),
            standard: "EU 2018/848".into(),
            subject: "urn:coop".into(),
            members: vec![CertMember {
                farm: "urn:farm".into(),
                plots: vec!["P1".into()],
            }],
            activities: vec!["production".into(), "handling".into()],
            products: vec!["rice".into()],
            valid_from: "d0".into(),
            valid_until: "d99".into(),
            valid_from_ms: 0,
            valid_until_ms: 100 * DAY,
        }
    }

    fn need<'a>(
        actor: &'a str,
        activities: &'a [&'a str],
        plot: Option<&'a str>,
        t: i64,
    ) -> Need<'a> {
        Need {
            actor,
            activities,
            product: Some("paddy"),
            crop: Some("rice"),
            plot,
            t,
        }
    }

    #[test]
    fn covers_members_plots_activities_and_products() {
        let c = CertRecord::issue(&spec(), "urn:cb", 0, 1);
        assert!(
            c.covers(&need("urn:farm", &["production"], Some("P1"), DAY))
                .is_ok()
        );
        assert!(
            c.covers(&need("urn:farm", &["production"], Some("P2"), DAY))
                .is_err()
        );
        assert!(
            c.covers(&need("urn:coop", &["handling"], None, DAY))
                .is_ok()
        );
        assert!(
            c.covers(&need("urn:coop", &["processing"], None, DAY))
                .is_err()
        );
        assert!(
            c.covers(&need("urn:other", &["handling"], None, DAY))
                .is_err()
        );
        let mut cassava = need("urn:coop", &["handling"], None, DAY);
        cassava.product = Some("cassava-chips");
        cassava.crop = Some("cassava");
        assert!(c.covers(&cassava).is_err());
        assert!(
            c.covers(&need("urn:coop", &["handling"], None, 100 * DAY))
                .is_err()
        );
        assert!(
            c.covers(&need("urn:coop", &["handling"], None, -1))
                .is_err()
        );
    }

    #[test]
    fn suspension_reinstatement_and_retroactive_withdrawal() {
        let mut c = CertRecord::issue(&spec(), "urn:cb", 0, 1);
        let id = c.id.clone();
        let h = |t| need("urn:coop", &["handling"], None, t);
        c.decide(
            &Certification::Suspend {
                id: id.clone(),
                effective_ms: 10 * DAY,
                reason: None,
            },
            "urn:cb",
            2,
        )
        .unwrap();
        let again = Certification::Suspend {
            id: id.clone(),
            effective_ms: 11 * DAY,
            reason: None,
        };
        assert_eq!(
            c.decide(&again, "urn:cb", 3).unwrap_err().code,
            "already_suspended"
        );
        let reinstate = Certification::Reinstate {
            id: id.clone(),
            effective_ms: 20 * DAY,
            reason: None,
        };
        assert_eq!(
            c.decide(&reinstate, "urn:other-cb", 3).unwrap_err().code,
            "not_certificate_issuer"
        );
        c.decide(&reinstate, "urn:cb", 3).unwrap();
        assert!(c.covers(&h(5 * DAY)).is_ok());
        assert!(c.covers(&h(15 * DAY)).unwrap_err().contains("suspended"));
        assert!(c.covers(&h(25 * DAY)).is_ok());
        // A withdrawal effective in the past takes back what it covered since.
        c.decide(
            &Certification::Withdraw {
                id: id.clone(),
                effective_ms: 3 * DAY,
                reason: Some("residues".into()),
            },
            "urn:cb",
            4,
        )
        .unwrap();
        assert!(c.covers(&h(2 * DAY)).is_ok());
        assert!(c.covers(&h(5 * DAY)).unwrap_err().contains("withdrawn"));
        assert!(c.covers(&h(25 * DAY)).unwrap_err().contains("residues"));
        assert_eq!(
            c.decide(&reinstate, "urn:cb", 5).unwrap_err().code,
            "certificate_withdrawn"
        );
        assert_eq!(c.entries(), vec![1, 2, 3, 4]);
    }

    #[test]
    fn amendments_apply_from_their_effective_time() {
        let mut c = CertRecord::issue(&spec(), "urn:cb", 0, 1);
        let mut wider = spec();
        wider.products.push("cassava".into());
        c.decide(
            &Certification::Amend {
                spec: wider,
                effective_ms: 50 * DAY,
                reason: None,
            },
            "urn:cb",
            7,
        )
        .unwrap();
        let mut cassava = need("urn:coop", &["handling"], None, 10 * DAY);
        cassava.crop = Some("cassava");
        cassava.product = None;
        assert!(c.covers(&cassava).is_err());
        cassava.t = 60 * DAY;
        assert_eq!(c.covers(&cassava).unwrap().at, 7);
        let mut other = spec();
        other.subject = "urn:someone-else".into();
        let moved = Certification::Amend {
            spec: other,
            effective_ms: 0,
            reason: None,
        };
        assert_eq!(
            c.decide(&moved, "urn:cb", 8).unwrap_err().code,
            "certificate_subject_changed"
        );
    }
}
