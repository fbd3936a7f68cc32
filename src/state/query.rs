//! Reads of the supply-chain state for the API: lots, actors, the rules' record of each entry,
//! and the event indexes behind `GET /v1/events` and `GET /v1/epcs/{epc}/events`.
//!
//! Every read is a point lookup or a range scan of one index: its cost follows the size of the
//! answer, never the size of the log.

use super::certs::CertRecord;
use super::codec::decode;
use super::{ActorRecord, EntryMeta, LotRecord, Origin, index_prefix, tag, time_bytes};
use crate::store::{StateCf, Store, StoreError};

/// Read access to the state families.
pub struct StateReader<'a> {
    store: &'a Store,
}

/// Which index a scan walks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Every event, by event time.
    All,
    /// Events with this bizStep.
    BizStep(String),
    /// Events naming this identifier (canonical key).
    Ident(String),
    /// Events by this actor (or, for registrar documents, about it).
    Actor(String),
}

impl Scan {
    fn prefix(&self) -> Vec<u8> {
        match self {
            Scan::All => index_prefix(tag::TIME, ""),
            Scan::BizStep(s) => index_prefix(tag::BIZ_STEP, s),
            Scan::Ident(s) => index_prefix(tag::IDENT, s),
            Scan::Actor(s) => index_prefix(tag::ACTOR, s),
        }
    }
}

/// One page of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Entry indexes, in event-time order (ties in log order).
    pub indexes: Vec<u64>,
    /// Where the next page starts, if there may be one: an opaque index key.
    pub next: Option<Vec<u8>>,
}

impl<'a> StateReader<'a> {
    pub fn new(store: &'a Store) -> Self {
        StateReader { store }
    }

    pub fn lot(&self, key: &str) -> Result<Option<LotRecord>, StoreError> {
        self.store
            .state(StateCf::Lots, key.as_bytes())?
            .map(|b| decode(&b, "lot record"))
            .transpose()
    }

    pub fn actor(&self, id: &str) -> Result<Option<ActorRecord>, StoreError> {
        self.store
            .state(StateCf::Actors, id.as_bytes())?
            .map(|b| decode(&b, "actor record"))
            .transpose()
    }

    pub fn meta(&self, index: u64) -> Result<Option<EntryMeta>, StoreError> {
        self.store
            .state(StateCf::EntryMeta, &index.to_be_bytes())?
            .map(|b| decode(&b, "entry meta"))
            .transpose()
    }

    /// The actor a `did:key` was registered to.
    pub fn key_owner(&self, did: &str) -> Result<Option<String>, StoreError> {
        self.store
            .state(StateCf::Keys, did.as_bytes())?
            .map(|b| {
                String::from_utf8(b)
                    .map_err(|_| StoreError::Corrupt("key owner is not UTF-8".into()))
            })
            .transpose()
    }

    pub fn cert(&self, id: &str) -> Result<Option<CertRecord>, StoreError> {
        self.store
            .state(StateCf::Certs, id.as_bytes())?
            .map(|b| decode(&b, "certificate record"))
            .transpose()
    }

    /// The certificates naming `actor` as subject or member farm (`tag::CERT_HOLDER`) or
    /// issued by it (`tag::CERT_ISSUER`), by id; at most `limit`. An amendment that drops a
    /// member leaves its index key behind, so callers check [`CertRecord::concerns`].
    pub fn certs_of(
        &self,
        which: u8,
        actor: &str,
        limit: usize,
    ) -> Result<Vec<CertRecord>, StoreError> {
        let from = super::holder_key(which, actor, "");
        let mut until = from.clone();
        if let Some(last) = until.last_mut() {
            *last = 1;
        }
        let mut out = Vec::new();
        for (k, _) in self
            .store
            .scan_state(StateCf::Index, &from, &until, limit)?
        {
            let id = std::str::from_utf8(&k[from.len()..])
                .map_err(|_| StoreError::Corrupt("certificate index key is not UTF-8".into()))?;
            match self.cert(id)? {
                Some(c) => out.push(c),
                None => {
                    return Err(StoreError::Corrupt(format!(
                        "certificate {id} is indexed but has no record"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Up to `limit` entries of `scan` with event time in `[from_ms, until_ms)`, starting
    /// after the page token `after` (from a previous [`Page::next`]). `keep` filters
    /// candidates; skipped ones do not count towards `limit`.
    pub fn scan(
        &self,
        scan: &Scan,
        from_ms: i64,
        until_ms: i64,
        after: Option<&[u8]>,
        limit: usize,
        mut keep: impl FnMut(u64) -> Result<bool, StoreError>,
    ) -> Result<Page, StoreError> {
        let prefix = scan.prefix();
        let mut start = prefix.clone();
        start.extend_from_slice(&time_bytes(from_ms));
        if let Some(token) = after {
            // Strictly after the token: every key under one prefix has the same length, so
            // appending a zero byte gives the smallest key greater than it.
            let mut t = token.to_vec();
            t.push(0);
            if t > start {
                start = t;
            }
        }
        let mut end = prefix.clone();
        end.extend_from_slice(&time_bytes(until_ms));

        let mut indexes = Vec::new();
        let mut last: Option<Vec<u8>> = None;
        const CHUNK: usize = 256;
        loop {
            let rows = self.store.scan_state(StateCf::Index, &start, &end, CHUNK)?;
            let exhausted = rows.len() < CHUNK;
            for (k, _) in rows {
                let index = k
                    .get(k.len().saturating_sub(8)..)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_be_bytes)
                    .ok_or_else(|| StoreError::Corrupt("short index key".into()))?;
                if indexes.len() == limit {
                    // One more row exists: the page is full and there is a next one.
                    return Ok(Page {
                        indexes,
                        next: last,
                    });
                }
                if keep(index)? {
                    indexes.push(index);
                }
                start = k.clone();
                start.push(0);
                last = Some(k);
            }
            if exhausted {
                return Ok(Page {
                    indexes,
                    next: None,
                });
            }
        }
    }

    /// Where a lot grew: the origins of the harvested lots upstream of it, found by walking its
    /// inputs (each lot visited once; at most `limit` visited). The walk follows the lot's own
    /// history, never the size of the log.
    pub fn origins(&self, lot: &LotRecord, limit: usize) -> Result<Vec<Origin>, StoreError> {
        let mut out: Vec<Origin> = lot.origins.clone();
        let mut seen = std::collections::HashSet::new();
        let mut todo: Vec<String> = lot.inputs.clone();
        while let Some(k) = todo.pop() {
            if seen.len() >= limit || !seen.insert(k.clone()) {
                continue;
            }
            if let Some(l) = self.lot(&k)? {
                for o in l.origins {
                    if !out.contains(&o) {
                        out.push(o);
                    }
                }
                todo.extend(l.inputs);
            }
        }
        Ok(out)
    }

    /// The distinct values indexed under `tag`, in order, after `after`: one seek per value.
    /// Returns at most `limit` values and the last one when more may follow.
    pub fn index_values(
        &self,
        tag: u8,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<String>, Option<String>), StoreError> {
        let mut cursor = self.store.index_cursor(vec![tag], true);
        match after {
            // Past every key of that value: its keys are `value ‖ 0 ‖ 16 bytes`.
            Some(a) => {
                let mut k = a.as_bytes().to_vec();
                k.push(1);
                cursor.seek(&k);
            }
            None => cursor.rewind(),
        }
        let mut out = Vec::new();
        loop {
            cursor.status()?;
            let Some(suffix) = cursor.suffix() else {
                return Ok((out, None));
            };
            let end = suffix.len().saturating_sub(17);
            let value = String::from_utf8(suffix[..end].to_vec())
                .map_err(|_| StoreError::Corrupt("an index value is not UTF-8".into()))?;
            if out.len() == limit {
                let last = out.last().cloned();
                return Ok((out, last));
            }
            let mut skip = value.as_bytes().to_vec();
            skip.push(1);
            out.push(value);
            cursor.seek(&skip);
        }
    }

    /// Whether `token` is a page token of `scan` (tokens are only valid for the same query).
    pub fn token_matches(scan: &Scan, token: &[u8]) -> bool {
        let p = scan.prefix();
        token.len() == p.len() + 16 && token.starts_with(&p)
    }
}
