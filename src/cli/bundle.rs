//! `lotline verify`: checks a provenance bundle offline, trusting only the log's verifier key
//! (and, if given, the registrar keys the buyer trusts), and prints a readable report.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};

use crate::provenance::{self, Bundle, Claims, PlotClaim, Report};
use crate::state::Bounds;
use tlog::note::VerifierKey;

/// The plausibility bounds to recompute flags with: the defaults, or a JSON file with the
/// `[plausibility]` keys of the ledger's configuration.
pub fn bounds(file: Option<&Path>) -> Result<Bounds> {
    let Some(f) = file else {
        return Ok(Bounds::default());
    };
    let bytes = std::fs::read(f).with_context(|| format!("cannot read {}", f.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a bounds object", f.display()))
}

pub fn verify(
    key: &VerifierKey,
    registrars: &[String],
    bounds: &Bounds,
    file: &Path,
    json: bool,
) -> Result<ExitCode> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let value: serde_json::Value =
        data_integrity::json::parse(&bytes, &data_integrity::json::Limits { max_depth: 127 })
            .map_err(|e| anyhow::anyhow!("{} is not JSON: {e}", file.display()))?;
    let bundle: Bundle = match serde_json::from_value(value) {
        Ok(b) => b,
        Err(e) => {
            println!(
                "NOT VERIFIED: {} is not a lotline provenance bundle: {e}",
                file.display()
            );
            return Ok(ExitCode::from(1));
        }
    };
    let checking = super::progress::spinner("verifying the bundle");
    let report = provenance::verify(&bundle, key, registrars, bounds);
    checking.finish_and_clear();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", printable(&render(&bundle, &report, registrars)));
    }
    Ok(if report.verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The report with every control character but the line feed replaced, so that strings from
/// the bundle cannot move the cursor or rewrite what the terminal shows.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect()
}

/// The readable report: the verdict first, then what was checked and what the entries say.
pub fn render(bundle: &Bundle, r: &Report, pinned: &[String]) -> String {
    let mut o = String::new();
    verdict(&mut o, bundle, r);
    let _ = writeln!(o);
    checked(&mut o, r, pinned);
    origin(&mut o, &r.claims);
    custody(&mut o, &r.claims);
    timeline(&mut o, r);
    flags(&mut o, &r.claims);
    organic(&mut o, r);
    certificates(&mut o, &r.claims);
    o
}

/// The verdict with every finding, and the lot the bundle is about.
fn verdict(o: &mut String, bundle: &Bundle, r: &Report) {
    if r.verified {
        let _ = writeln!(o, "VERIFIED: {}", bundle.subject);
    } else {
        let _ = writeln!(
            o,
            "NOT VERIFIED: {} ({} problem(s))",
            bundle.subject,
            r.findings.len()
        );
        for f in &r.findings {
            let _ = writeln!(o, "  ✗ {} [{}]: {}", f.at, f.code, f.message);
        }
    }
    if let Some(s) = r.claims.lots.iter().find(|l| l.key == bundle.subject) {
        let _ = writeln!(
            o,
            "  {} — {}, {}",
            s.id,
            s.product.as_deref().unwrap_or("product unknown"),
            s.growing_method
                .as_deref()
                .unwrap_or("growing method unknown")
        );
    }
}

/// What was checked: the checkpoint, signatures, proofs, chain links and the registrar replay.
fn checked(o: &mut String, r: &Report, pinned: &[String]) {
    match (&r.origin, r.tree_size) {
        (Some(origin), Some(size)) => {
            let _ = writeln!(
                o,
                "log {origin}: checkpoint of {size} entries, signature valid"
            );
        }
        _ => {
            let _ = writeln!(o, "log checkpoint: NOT valid for this key");
        }
    }
    let valid = r.signatures.values().filter(|s| *s == "valid").count();
    let authorised = r.authorised.values().filter(|a| **a).count();
    let _ = writeln!(
        o,
        "checked {} entries: {valid} event signatures valid, inclusion proofs, chain links; {} registrar entries replayed ({}), {authorised} of {} events by authorised signers",
        r.entries,
        r.registrar_entries,
        if pinned.is_empty() {
            "registrar keys as the bundle names them; pin them with --registrar"
        } else {
            "registrar keys you pinned"
        },
        r.authorised.len()
    );
}

/// The farms and plots the goods were harvested on.
fn origin(o: &mut String, c: &Claims) {
    let _ = writeln!(o, "\norigin:");
    for p in &c.plots {
        let _ = writeln!(
            o,
            "  {} ({}), plot {} in {}, {} ha at {}: {} kg of {} ({}) harvested {}{} [entry {}]",
            p.farm_name.as_deref().unwrap_or("unnamed farm"),
            p.farm,
            p.plot_id,
            p.province,
            p.area_hectares,
            location(p),
            p.harvested_kg,
            p.crop,
            p.growing_method,
            p.harvest_start,
            if p.harvest_end != p.harvest_start {
                format!(" to {}", p.harvest_end)
            } else {
                String::new()
            },
            p.index
        );
    }
}

/// A plot's point as `latitude, longitude`, or the kind of its boundary.
fn location(p: &PlotClaim) -> String {
    p.geo
        .get("coordinates")
        .and_then(|c| c.as_array())
        .filter(|c| c.len() == 2 && c.iter().all(|x| x.is_number()))
        .map(|c| format!("{}, {}", c[1], c[0]))
        .unwrap_or_else(|| {
            format!(
                "{} boundary",
                p.geo
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("unknown")
            )
        })
}

fn custody(o: &mut String, c: &Claims) {
    let _ = writeln!(o, "\nchain of custody:");
    for s in &c.custody {
        let _ = writeln!(
            o,
            "  {} ({}) as {}, {} → {} [entries {}]",
            s.name.as_deref().unwrap_or("unknown actor"),
            s.actor,
            if s.role.is_empty() {
                "no role"
            } else {
                &s.role
            },
            s.from,
            s.until,
            s.entries
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
}

/// The events in time order, each with whether its signature is valid.
fn timeline(o: &mut String, r: &Report) {
    let _ = writeln!(o, "\ntimeline:");
    for t in &r.claims.timeline {
        let sig = r.signatures.get(&t.index).map_or("missing", String::as_str);
        let _ = writeln!(
            o,
            "  {} entry {}: {} — {} [{}, signature {}]",
            t.event_time,
            t.index,
            t.actor_name.as_deref().unwrap_or(&t.signer),
            t.what,
            t.role.as_deref().unwrap_or("no role"),
            if sig == "valid" { "valid" } else { "INVALID" }
        );
    }
}

fn flags(o: &mut String, c: &Claims) {
    let _ = writeln!(o, "\nplausibility flags:");
    if c.flags.is_empty() {
        let _ = writeln!(o, "  none");
    }
    for f in &c.flags {
        let _ = writeln!(o, "  ⚠ entry {} [{}]: {}", f.index, f.code, f.message);
    }
}

/// The organic status the entries and certificates support, proven only by a verified bundle,
/// and every check that failed.
fn organic(o: &mut String, r: &Report) {
    let c = &r.claims;
    let failed: Vec<_> = c.organic.checks.iter().filter(|k| !k.passed).collect();
    let _ = writeln!(
        o,
        "\norganic status (derived from the entries and certificates): {}{}",
        if r.verified {
            c.organic.status.replace('_', " ")
        } else {
            "not proven (the bundle did not verify)".into()
        },
        if failed.is_empty() {
            format!(", all {} checks passed", c.organic.checks.len())
        } else {
            format!(
                ", {} of {} checks failed:",
                failed.len(),
                c.organic.checks.len()
            )
        }
    );
    for k in failed {
        let _ = writeln!(
            o,
            "  ✗ entry {} [{}] {}: {}",
            k.entry,
            k.check,
            printable(&k.subject),
            printable(&k.message)
        );
    }
}

fn certificates(o: &mut String, c: &Claims) {
    let _ = writeln!(o, "\ncertificates:");
    if c.certificates.is_empty() {
        let _ = writeln!(o, "  none recorded");
    }
    for cert in &c.certificates {
        let _ = writeln!(
            o,
            "  {} ({}) of {}, {} to {}, by {}{}",
            printable(&cert.number),
            printable(&cert.standard),
            printable(cert.subject_name.as_deref().unwrap_or(&cert.subject)),
            printable(&cert.valid_from),
            printable(&cert.valid_until),
            printable(cert.issuer_name.as_deref().unwrap_or(&cert.issuer)),
            cert.decisions
                .iter()
                .map(|d| format!("; {}", printable(d)))
                .collect::<String>()
        );
    }
}
