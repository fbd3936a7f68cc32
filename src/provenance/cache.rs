//! Verified provenance, computed once per lot and checkpoint and reused until a committed entry
//! touches the lot's history.
//!
//! A [`Verified`] result is a bundle as [`super::collect::build`] made it against one signed
//! checkpoint, the verifier's report over exactly that bundle, and the bytes served from them.
//! It is served only with that checkpoint (the one its proofs are against): when the log grows
//! without touching the lot, the result keeps its older checkpoint, which is still a genuine
//! signed checkpoint of the same log (any newer one is consistent with it, which
//! `/v1/proofs/consistency` proves), so the document stays self-consistent and nothing is
//! re-proved or re-asserted. A result is never rewritten: it is dropped, and the next request
//! builds and verifies a new one.
//!
//! **Invalidation** follows the entries the sequencer commits, never a timer. The cache scans
//! every committed entry once, in index order (lazily, when a request finds the published log
//! larger than what it has scanned), and drops the results the entry may change:
//!
//! - an entry naming any lot, item or unit key the result's walk reached ([`Plan::lots`]: the
//!   subject, everything upstream of it, every unit any of them travelled in) — the same
//!   identifiers the per-EPC index files it under, which is what the walk reads;
//! - any registrar document (registration, roles, keys) or certification document (issuance,
//!   amendment, suspension, withdrawal, reinstatement, whatever its effective date), and any
//!   error declaration or correction: these drop **every** cached result. That is conservative
//!   (a withdrawal dated in the past changes the organic verdict of every lot whose history
//!   used the certificate, and a key or role change can change whether a signer was
//!   authorised), and such documents are rare next to supply-chain events.
//!
//! Nothing else a bundle carries can change without one of those entries: a lot's record
//! changes only through entries naming it, its identifier index only grows by them, the actors'
//! records only through registrar documents and certificates only through certification
//! documents. A result built while the log grew records the size the log had before its walk
//! began ([`Verified::valid_from`]); entries from there on are checked against it, whether they
//! were scanned before or after it was stored, so a result is never kept past an entry its walk
//! might have missed.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sha2::{Digest as _, Sha256};

use super::{Bundle, Plan, Report};
use crate::ledger::{Ledger, LedgerError};
use crate::store::StoreError;
use lotline_profile::entry::Entry;
use lotline_profile::profile::{self, Kind};

/// A gap larger than this between what the cache has scanned and the log's size is not read
/// entry by entry: the whole cache is dropped instead (after a long ingest burst without reads).
const MAX_SCAN: u64 = 50_000;

/// Representations rendered from one result, kept per base URL (the `Host` a client used).
const MAX_RENDERED: usize = 16;

/// What the cache charges a result, in multiples of its bundle's JSON: the bundle as parsed
/// (about as large), its JSON, and [`RENDER_ALLOWANCE`] for what is rendered from it.
const CHARGE: usize = 2 + RENDER_ALLOWANCE;

/// Bytes of rendered representations one result keeps, in multiples of its bundle's JSON. The
/// demo container's page and provenance document, plain and gzipped, and its gzipped bundle come
/// to 1.4 times its bundle for one `Host` (the plain bundle is the result's own JSON, not a
/// render). Renders past the allowance are served but not kept, the least recently used dropped
/// first, so clients naming many hosts cannot grow a result past what the cache charged for it.
const RENDER_ALLOWANCE: usize = 2;

/// A bundle, its verification report, and what is served from them.
pub struct Verified {
    pub bundle: Bundle,
    pub report: Report,
    /// The bundle as served by `/v1/lots/{id}/bundle`, and hex of the first 12 bytes of its
    /// SHA-256: what the ETags are made of. Made on first use.
    json: std::sync::OnceLock<(Bytes, String)>,
    /// The size of the checkpoint the bundle's proofs are against.
    pub checkpoint_size: u64,
    /// The log's size when the walk began: entries from this index on may be missing from it.
    pub valid_from: u64,
    lots: Vec<String>,
    /// Rendered representations.
    rendered: Mutex<Renders>,
}

/// A representation's kind and the base URL it was rendered for.
type Representation = (u8, String);

/// The representations rendered from one result, most recently used last, within a byte
/// allowance.
#[derive(Default)]
struct Renders {
    kept: Vec<(Representation, Bytes)>,
    /// Bytes of the bodies in `kept`.
    bytes: usize,
}

impl Renders {
    /// The body kept under `key`, which becomes the most recently used.
    fn get(&mut self, key: &Representation) -> Option<Bytes> {
        let i = self.kept.iter().position(|(k, _)| k == key)?;
        let hit = self.kept.remove(i);
        let body = hit.1.clone();
        self.kept.push(hit);
        Some(body)
    }

    /// Keeps `body` under `key`, dropping the least recently used representations until at most
    /// [`MAX_RENDERED`] of at most `allowance` bytes in all are kept. A body larger than the
    /// whole allowance is not kept.
    fn keep(&mut self, key: Representation, body: &Bytes, allowance: usize) {
        if body.len() > allowance {
            return;
        }
        while !self.kept.is_empty()
            && (self.kept.len() >= MAX_RENDERED || self.bytes + body.len() > allowance)
        {
            let (_, old) = self.kept.remove(0);
            self.bytes -= old.len();
        }
        self.bytes += body.len();
        self.kept.push((key, body.clone()));
    }
}

impl Verified {
    /// `bundle` (built from `plan` while the log had `valid_from` entries) and the verifier's
    /// `report` over it.
    pub fn new(plan: &Plan, bundle: Bundle, report: Report, valid_from: u64) -> Verified {
        let checkpoint_size = super::checkpoint(&bundle.checkpoint).map_or(0, |c| c.size);
        Verified {
            bundle,
            report,
            json: std::sync::OnceLock::new(),
            checkpoint_size,
            valid_from,
            lots: plan.lots.iter().cloned().collect(),
            rendered: Mutex::new(Renders::default()),
        }
    }

    fn json(&self) -> &(Bytes, String) {
        self.json.get_or_init(|| {
            let bytes = Bytes::from(serde_json::to_vec(&self.bundle).unwrap_or_default());
            let digest = Sha256::digest(&bytes)[..12]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            (bytes, digest)
        })
    }

    /// The bundle as served by `/v1/lots/{id}/bundle`, shared with the answer, not copied.
    pub fn bundle_json(&self) -> Bytes {
        self.json().0.clone()
    }

    /// The body of representation `kind` for clients reaching the server at `base`, rendered
    /// by `render` the first time. The body is shared, not copied, with every answer that sends
    /// it. `render` runs without the lock held (it may ask for another representation); when
    /// requests race, the first body stored is the one kept and returned to all. What is kept
    /// stays within the result's render allowance (see [`RENDER_ALLOWANCE`]).
    pub fn rendered(&self, kind: u8, base: &str, render: impl FnOnce() -> Vec<u8>) -> Bytes {
        let key = (kind, base.to_owned());
        if let Some(body) = self.rendered.lock().ok().and_then(|mut r| r.get(&key)) {
            return body;
        }
        // Counted by length, so kept without the spare capacity rendering left.
        let mut body = render();
        body.shrink_to_fit();
        let body = Bytes::from(body);
        let Ok(mut r) = self.rendered.lock() else {
            return body;
        };
        if let Some(first) = r.get(&key) {
            return first;
        }
        r.keep(key, &body, self.json().0.len() * RENDER_ALLOWANCE);
        body
    }

    /// A strong ETag for representation `kind` at `base`: it changes whenever the bundle's bytes
    /// do (its checkpoint, any entry, any claim), and so whenever the verdict could.
    pub fn etag(&self, kind: char, base: &str) -> String {
        let b: String = Sha256::digest(base.as_bytes())[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("\"{kind}{}-{}-{b}\"", self.checkpoint_size, self.json().1)
    }

    /// What the cache charges for this result: its rendered representations never take more.
    fn size(&self) -> usize {
        self.json().0.len() * CHARGE
    }
}

/// What one committed entry may change.
enum Touch {
    /// Results whose walk reached any of these keys.
    Keys(Vec<String>),
    /// Every result (registrar and certification documents, corrections).
    All,
}

#[derive(Default)]
struct Inner {
    /// Entries below this index have been scanned and applied.
    scanned: u64,
    items: HashMap<String, Arc<Verified>>,
    /// Key reached by a walk → subjects whose results depend on it.
    by_key: HashMap<String, HashSet<String>>,
    bytes: usize,
}

impl Inner {
    fn remove(&mut self, subject: &str) -> bool {
        let Some(v) = self.items.remove(subject) else {
            return false;
        };
        self.bytes = self.bytes.saturating_sub(v.size());
        for k in &v.lots {
            if let Some(s) = self.by_key.get_mut(k) {
                s.remove(subject);
                if s.is_empty() {
                    self.by_key.remove(k);
                }
            }
        }
        true
    }

    fn clear(&mut self) -> usize {
        let n = self.items.len();
        self.items.clear();
        self.by_key.clear();
        self.bytes = 0;
        n
    }

    /// Drops what entry `index` touches.
    fn apply(&mut self, index: u64, touch: &Touch) -> usize {
        match touch {
            Touch::All => {
                let stale: Vec<String> = self
                    .items
                    .iter()
                    .filter(|(_, v)| v.valid_from <= index)
                    .map(|(k, _)| k.clone())
                    .collect();
                stale.iter().filter(|s| self.remove(s)).count()
            }
            Touch::Keys(keys) => {
                let mut stale = Vec::new();
                for k in keys {
                    if let Some(subjects) = self.by_key.get(k) {
                        for s in subjects {
                            if self.items.get(s).is_some_and(|v| v.valid_from <= index) {
                                stale.push(s.clone());
                            }
                        }
                    }
                }
                stale.iter().filter(|s| self.remove(s)).count()
            }
        }
    }
}

/// The cache of verified provenance results, shared by the server's workers.
pub struct ReadCache {
    /// Most bytes of results kept (each charged [`CHARGE`] times its bundle's JSON, which
    /// bounds what it renders too); 0 turns it off.
    capacity: usize,
    inner: Mutex<Inner>,
    /// Held while scanning or storing, so that no result is stored past an entry scanned
    /// meanwhile without being checked against it.
    writer: tokio::sync::Mutex<()>,
}

impl ReadCache {
    pub fn new(capacity_bytes: usize) -> ReadCache {
        ReadCache {
            capacity: capacity_bytes,
            inner: Mutex::new(Inner::default()),
            writer: tokio::sync::Mutex::new(()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// The cached result for `subject`, valid for the log as `ledger` publishes it now (every
    /// committed entry is scanned first). `last` says whether a miss now means the request
    /// builds the result (counted as a miss), or only that it waits for a slot and looks again.
    pub async fn get(
        &self,
        ledger: &Arc<Ledger>,
        subject: &str,
        last: bool,
    ) -> Result<Option<Arc<Verified>>, LedgerError> {
        if !self.enabled() {
            return Ok(None);
        }
        self.scan_to(ledger, ledger.head().size).await?;
        let hit = self.lock().items.get(subject).cloned();
        if hit.is_some() || last {
            crate::metrics::get().read_cache(if hit.is_some() { "hit" } else { "miss" }, 1);
        }
        Ok(hit)
    }

    /// Stores `v` unless an entry scanned since its walk began touches it. Returns it either way.
    pub async fn put(
        &self,
        ledger: &Arc<Ledger>,
        v: Verified,
    ) -> Result<Arc<Verified>, LedgerError> {
        let v = Arc::new(v);
        if !self.enabled() || !v.report.verified || v.size() > self.capacity / 4 {
            return Ok(v);
        }
        let _w = self.writer.lock().await;
        let scanned = self.lock().scanned;
        if scanned > v.valid_from {
            if scanned - v.valid_from > MAX_SCAN {
                return Ok(v);
            }
            let touches = read_touches(ledger, v.valid_from, scanned).await?;
            let keys: HashSet<&str> = v.lots.iter().map(String::as_str).collect();
            let touched = touches.iter().any(|(_, t)| match t {
                Touch::All => true,
                Touch::Keys(ks) => ks.iter().any(|k| keys.contains(k.as_str())),
            });
            if touched {
                return Ok(v);
            }
        }
        let mut inner = self.lock();
        let subject = v.bundle.subject.clone();
        inner.remove(&subject);
        while inner.bytes + v.size() > self.capacity && !inner.items.is_empty() {
            // Any result will do: a dropped one is rebuilt on demand.
            let Some(k) = inner.items.keys().next().cloned() else {
                break;
            };
            inner.remove(&k);
        }
        for k in &v.lots {
            inner
                .by_key
                .entry(k.clone())
                .or_default()
                .insert(subject.clone());
        }
        inner.bytes += v.size();
        inner.items.insert(subject, v.clone());
        Ok(v)
    }

    /// Scans the committed entries up to `size` (exclusive), dropping what they touch.
    async fn scan_to(&self, ledger: &Arc<Ledger>, size: u64) -> Result<(), LedgerError> {
        if self.lock().scanned >= size {
            return Ok(());
        }
        let _w = self.writer.lock().await;
        let from = self.lock().scanned;
        if from >= size {
            return Ok(());
        }
        let dropped = if size - from > MAX_SCAN {
            self.lock().clear()
        } else {
            let touches = read_touches(ledger, from, size).await?;
            let mut inner = self.lock();
            touches.iter().map(|(i, t)| inner.apply(*i, t)).sum()
        };
        self.lock().scanned = size;
        if dropped > 0 {
            crate::metrics::get().read_cache("invalidated", dropped as u64);
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding it leaves consistent maps (every change is one call).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What each entry in `from..to` may change, read on the blocking pool.
async fn read_touches(
    ledger: &Arc<Ledger>,
    from: u64,
    to: u64,
) -> Result<Vec<(u64, Touch)>, StoreError> {
    let ledger = ledger.clone();
    tokio::task::spawn_blocking(move || (from..to).map(|i| Ok((i, touch(&ledger, i)?))).collect())
        .await
        .map_err(|e| StoreError::Corrupt(format!("the cache's scan failed: {e}")))?
}

/// What entry `index` may change: the identifiers it names (those the per-EPC index files it
/// under: its identifiers and its EPCIS terms of identifiers; and those of its effects), or
/// everything.
fn touch(ledger: &Ledger, index: u64) -> Result<Touch, StoreError> {
    let bytes = match ledger.entry(index) {
        Ok(Some(b)) => b,
        // Not readable as published: assume the worst.
        _ => return Ok(Touch::All),
    };
    let Ok(entry) = Entry::parse(&bytes) else {
        return Ok(Touch::All);
    };
    let Ok(doc) = profile::interpret(&entry.event) else {
        return Ok(Touch::All);
    };
    let meta = ledger.state().meta(index)?;
    let global = matches!(
        doc.kind,
        Kind::ActorRegistration
            | Kind::RoleGrant
            | Kind::RoleRevocation
            | Kind::KeyAddition
            | Kind::KeyRotation
            | Kind::KeyRevocation
            | Kind::CertificateIssuance
            | Kind::CertificateAmendment
            | Kind::CertificateSuspension
            | Kind::CertificateWithdrawal
            | Kind::CertificateReinstatement
    ) || doc.declares_error
        || meta
            .as_ref()
            .is_none_or(|m| m.corrects.is_some() || m.corrected_by.is_some());
    if global {
        return Ok(Touch::All);
    }
    let mut keys: Vec<String> = doc.identifiers().iter().map(|i| i.key.clone()).collect();
    // A walk finds an identifier's entries under the EPCIS terms of its roles
    // (`state::ident_tags`); the profile reads every identifier in them, but a walk reads what
    // the index says.
    keys.extend(
        lotline_profile::terms::terms(&entry.event)
            .into_iter()
            .filter(|t| crate::state::ident_tags(&t.value).contains(&t.tag))
            .map(|t| t.value),
    );
    for e in meta.iter().flat_map(|m| &m.effects) {
        match e {
            crate::state::Effect::Create { key, .. } | crate::state::Effect::Annotate { key } => {
                keys.push(key.clone())
            }
            crate::state::Effect::Move { key, contents, .. } => {
                keys.push(key.clone());
                keys.extend(contents.iter().cloned());
            }
            crate::state::Effect::Parent { children, old, new } => {
                keys.extend(children.iter().cloned());
                keys.extend(old.iter().cloned());
                keys.extend(new.iter().cloned());
            }
        }
    }
    Ok(Touch::Keys(keys))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(len: usize, fill: u8) -> Bytes {
        Bytes::from(vec![fill; len])
    }

    fn key(kind: u8, host: usize) -> Representation {
        (kind, format!("http://host-{host}"))
    }

    #[test]
    fn renders_stay_within_their_allowance_and_drop_the_oldest_first() {
        let mut r = Renders::default();
        // Clients naming ever new hosts: what is kept never passes the allowance.
        for host in 0..100 {
            r.keep(key(b'p', host), &body(300, host as u8), 1_000);
            assert!(r.bytes <= 1_000, "{} bytes kept", r.bytes);
            assert_eq!(r.bytes, r.kept.iter().map(|(_, b)| b.len()).sum::<usize>());
            // The newest is kept, with its own body.
            assert_eq!(r.get(&key(b'p', host)), Some(body(300, host as u8)));
        }
        assert_eq!(r.kept.len(), 3);
        assert!(r.get(&key(b'p', 96)).is_none(), "the oldest went first");
        assert!(r.get(&key(b'p', 97)).is_some());
    }

    #[test]
    fn a_representation_in_use_outlives_those_only_rendered_once() {
        let mut r = Renders::default();
        // The gzipped bundle, asked for by every buyer whatever the host.
        r.keep(key(b'B', 0), &body(300, 0), 1_000);
        for host in 1..50 {
            assert_eq!(r.get(&key(b'B', 0)), Some(body(300, 0)), "host {host}");
            r.keep(key(b'h', host), &body(300, 1), 1_000);
        }
        assert!(r.bytes <= 1_000);
    }

    #[test]
    fn renders_are_bounded_in_number_as_well_as_bytes() {
        let mut r = Renders::default();
        for host in 0..(MAX_RENDERED + 5) {
            r.keep(key(b'P', host), &body(1, 0), usize::MAX);
        }
        assert_eq!(r.kept.len(), MAX_RENDERED);
        assert_eq!(r.bytes, MAX_RENDERED);
        assert!(r.get(&key(b'P', 4)).is_none());
        assert!(r.get(&key(b'P', 5)).is_some());
    }

    #[test]
    fn a_render_larger_than_the_allowance_is_not_kept_and_evicts_nothing() {
        let mut r = Renders::default();
        r.keep(key(b'p', 0), &body(400, 1), 1_000);
        r.keep(key(b'b', 0), &body(1_001, 2), 1_000);
        assert!(r.get(&key(b'b', 0)).is_none());
        assert_eq!(r.get(&key(b'p', 0)), Some(body(400, 1)));
        assert_eq!(r.bytes, 400);
    }
}
