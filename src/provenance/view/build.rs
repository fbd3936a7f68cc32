//! The view of a verified bundle, built from the typed claims and report the provenance
//! document is built from: the same verdict, claims and checkpoint, section by section.

use super::{
    BuyerView, Certificate, Check, Checkpoint, Custody, Event, Farm, Finding, Flag, Links,
    Location, Lot, Organic, OrganicStatus, Origin, Plot, Quality, Subject, Verification,
};
use crate::provenance::{self as provenance, Bundle, Claims, Report};
use lotline_profile::entry::b64_hash;
use lotline_profile::records::Flag as FlagClaim;
use lotline_verify::organic::{CertClaim, Check as CheckClaim};
use lotline_verify::{
    CustodyStep, FarmClaim, Finding as FindingClaim, LotNode, PlotClaim, QualityRecord,
    TimelineItem,
};

impl BuyerView {
    /// The view of `bundle` as `report` verified it. `base` is `scheme://host` as the client
    /// reached the server (for the Digital Link); `links` are the subject's resources.
    pub fn new(bundle: &Bundle, report: &Report, base: &str, links: Links) -> BuyerView {
        let claims = &report.claims;
        BuyerView {
            subject: Subject::of(bundle, claims, base),
            verdict: Some(Verification::of(report)),
            checkpoint: Some(Checkpoint::of(&bundle.checkpoint)),
            origin: Origin {
                farms: claims.farms.iter().map(Farm::from).collect(),
                plots: claims.plots.iter().map(Plot::from).collect(),
            },
            custody: claims.custody.iter().map(Custody::from).collect(),
            timeline: claims
                .timeline
                .iter()
                .map(|t| Event::of(t, report))
                .collect(),
            flags: claims.flags.iter().map(Flag::from).collect(),
            quality: claims.quality.iter().map(Quality::from).collect(),
            organic: Organic::of(report),
            certificates: claims.certificates.iter().map(Certificate::from).collect(),
            lots: claims.lots.iter().map(Lot::from).collect(),
            links,
        }
    }
}

/// `s` unless it is blank: the view never holds a blank string.
fn known(s: &str) -> Option<String> {
    (!s.trim().is_empty()).then(|| s.to_owned())
}

fn known_opt(s: &Option<String>) -> Option<String> {
    s.as_deref().and_then(known)
}

fn known_all(list: &[String]) -> Vec<String> {
    list.iter().filter_map(|s| known(s)).collect()
}

impl Subject {
    fn of(bundle: &Bundle, claims: &Claims, base: &str) -> Subject {
        let lot = claims.lots.iter().find(|l| l.key == bundle.subject);
        Subject {
            id: known(provenance::subject_id(bundle, claims)),
            key: known(&bundle.subject),
            class: lot.map(|l| l.class),
            product: lot.and_then(|l| known_opt(&l.product)),
            crop: lot.and_then(|l| known_opt(&l.crop)),
            growing_method: lot.and_then(|l| known_opt(&l.growing_method)),
            digital_link: known(&format!("{base}{}", bundle.subject)),
        }
    }
}

impl Verification {
    fn of(report: &Report) -> Verification {
        Verification {
            verified: report.verified,
            summary: known(&provenance::summary(report)),
            problems: report.findings.iter().map(Finding::from).collect(),
        }
    }
}

impl From<&FindingClaim> for Finding {
    fn from(f: &FindingClaim) -> Finding {
        Finding {
            code: known(f.code.as_str()),
            at: known(&f.at),
            message: known(&f.message),
        }
    }
}

impl Checkpoint {
    /// The parts of a bundle's signed note; the note as it is even if it does not parse.
    fn of(note: &str) -> Checkpoint {
        let parsed = provenance::checkpoint(note);
        Checkpoint {
            origin: parsed.as_ref().and_then(|c| known(&c.origin)),
            size: parsed.as_ref().map(|c| c.size),
            root_hash: parsed.as_ref().map(|c| b64_hash::encode(&c.root)),
            note: known(note),
        }
    }
}

impl From<&FarmClaim> for Farm {
    fn from(f: &FarmClaim) -> Farm {
        Farm {
            id: known(&f.id),
            name: known_opt(&f.name),
            province: known_opt(&f.province),
        }
    }
}

impl From<&PlotClaim> for Plot {
    fn from(p: &PlotClaim) -> Plot {
        Plot {
            farm: known(&p.farm),
            farm_name: known_opt(&p.farm_name),
            plot_id: known(&p.plot_id),
            area_hectares: Some(p.area_hectares).filter(|a| a.is_finite()),
            location: Location::from_geojson(&p.geo),
            harvest_start: known(&p.harvest_start),
            harvest_end: known(&p.harvest_end),
            growing_method: known(&p.growing_method),
            index: Some(p.index),
        }
    }
}

impl From<&CustodyStep> for Custody {
    fn from(c: &CustodyStep) -> Custody {
        Custody {
            actor: known(&c.actor),
            name: known_opt(&c.name),
            role: known(&c.role),
            from: known(&c.from),
            until: known(&c.until),
            entries: c.entries.clone(),
        }
    }
}

impl Event {
    /// A timeline item with what verification found of its entry.
    fn of(t: &TimelineItem, report: &Report) -> Event {
        Event {
            index: Some(t.index),
            event_id: known_opt(&t.event_id),
            event_time: known(&t.event_time),
            kind: known(&t.kind),
            biz_step: known_opt(&t.biz_step),
            actor: known_opt(&t.actor),
            actor_name: known_opt(&t.actor_name),
            role: known_opt(&t.role),
            signer: known(&t.signer),
            signature_valid: report
                .signatures
                .get(&t.index)
                .is_some_and(|s| s == "valid"),
            authorised: Some(report.authorised.get(&t.index).copied().unwrap_or(false)),
            lots: known_all(&t.lots),
            what: known(&t.what),
        }
    }
}

impl From<&QualityRecord> for Quality {
    fn from(q: &QualityRecord) -> Quality {
        Quality {
            index: Some(q.index),
            event_time: known(&q.event_time),
            kind: known(&q.kind),
            actor: known_opt(&q.actor),
            actor_name: known_opt(&q.actor_name),
            role: known_opt(&q.role),
            location: known_opt(&q.location),
            disposition: known_opt(&q.disposition),
            findings: known_all(&q.findings),
            alarm: q.measurements.iter().any(|m| m.exception.is_some()),
        }
    }
}

impl From<&FlagClaim> for Flag {
    fn from(f: &FlagClaim) -> Flag {
        Flag {
            code: known(f.code.as_str()),
            message: known(&f.message),
            index: Some(f.index),
        }
    }
}

impl Organic {
    /// Derived from the verified history only: an unverified bundle proves no status.
    fn of(report: &Report) -> Organic {
        let organic = &report.claims.organic;
        Organic {
            status: if report.verified {
                OrganicStatus::from_name(&organic.status)
            } else {
                OrganicStatus::NotVerified
            },
            checks: organic.checks.iter().map(Check::from).collect(),
        }
    }
}

impl From<&CheckClaim> for Check {
    fn from(c: &CheckClaim) -> Check {
        Check {
            check: known(&c.check),
            passed: c.passed,
            subject: known(&c.subject),
            message: known(&c.message),
            entry: Some(c.entry),
        }
    }
}

impl From<&CertClaim> for Certificate {
    fn from(c: &CertClaim) -> Certificate {
        Certificate {
            id: known(&c.id),
            number: known(&c.number),
            standard: known(&c.standard),
            issuer: known(&c.issuer),
            issuer_name: known_opt(&c.issuer_name),
            subject: known(&c.subject),
            subject_name: known_opt(&c.subject_name),
            activities: known_all(&c.activities),
            products: known_all(&c.products),
            valid_from: known(&c.valid_from),
            valid_until: known(&c.valid_until),
            decisions: known_all(&c.decisions),
        }
    }
}

impl From<&LotNode> for Lot {
    fn from(l: &LotNode) -> Lot {
        Lot {
            key: known(&l.key),
            product: known_opt(&l.product),
            created_at: Some(l.created_at),
        }
    }
}
