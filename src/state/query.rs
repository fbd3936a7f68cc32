//! Reads of the supply-chain state for the API: lots, actors, the rules' record of each entry,
//! and the event indexes behind `GET /v1/events` and `GET /v1/epcs/{epc}/events`.
//!
//! Every read is a point lookup or a range scan of one index: its cost follows the size of the
//! answer, never the size of the log.

use super::certs::CertRecord;
use super::codec::decode;
use super::{ActorRecord, EntryMeta, LotRecord, Origin, ident_tags, index_prefix, suffix_of, tag};
use crate::store::{IndexCursor, StateCf, Store, StoreError};

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
    /// The index prefixes whose union the scan walks.
    fn prefixes(&self) -> Vec<Vec<u8>> {
        match self {
            Scan::All => vec![index_prefix(tag::TIME, "")],
            Scan::BizStep(s) => vec![index_prefix(tag::BIZ_STEP, s)],
            // Identifiers are indexed once, with the EPCIS terms of their role (see
            // `ident_tags`); ledgers written before have an IDENT key as well, found once.
            Scan::Ident(s) => ident_tags(s).iter().map(|&t| index_prefix(t, s)).collect(),
            Scan::Actor(s) => vec![index_prefix(tag::ACTOR, s)],
        }
    }
}

/// One page of a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// Entry indexes, in event-time order (ties in log order).
    pub indexes: Vec<u64>,
    /// Where the next page starts, if there may be one: an opaque token (the event time and
    /// entry index of the last index key visited).
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
    /// candidates; skipped ones do not count towards `limit`. An entry found under several of
    /// the scan's prefixes comes once.
    pub fn scan(
        &self,
        scan: &Scan,
        from_ms: i64,
        until_ms: i64,
        after: Option<&[u8]>,
        limit: usize,
        mut keep: impl FnMut(u64) -> Result<bool, StoreError>,
    ) -> Result<Page, StoreError> {
        // Every index key ends in `eventTime ‖ index`, 16 bytes big-endian: a u128 orders them.
        let mut start = suffix_of(from_ms, 0);
        let end = suffix_of(until_ms, 0);
        if let Some(token) = after {
            // Strictly after the token. Tokens of earlier versions were whole index keys, which
            // end in the same 16 bytes.
            let last = token
                .get(token.len().saturating_sub(16)..)
                .and_then(|b| <[u8; 16]>::try_from(b).ok())
                .map(u128::from_be_bytes)
                .ok_or_else(|| StoreError::Corrupt("a scan's page token is too short".into()))?;
            match last.checked_add(1) {
                Some(next) => start = start.max(next),
                None => {
                    return Ok(Page {
                        indexes: Vec::new(),
                        next: None,
                    });
                }
            }
        }
        let mut cursors: Vec<_> = scan
            .prefixes()
            .into_iter()
            .map(|p| self.store.index_cursor(p, true))
            .collect();
        for c in &mut cursors {
            c.seek(&start.to_be_bytes());
        }
        let mut indexes = Vec::new();
        let mut last: Option<u128> = None;
        loop {
            // The smallest suffix any cursor is at: the union's next key.
            let mut next: Option<u128> = None;
            for c in &cursors {
                if let Some(s) = at(c)? {
                    next = Some(next.map_or(s, |n| n.min(s)));
                }
            }
            let Some(s) = next.filter(|s| *s < end) else {
                return Ok(Page {
                    indexes,
                    next: None,
                });
            };
            if indexes.len() == limit {
                // One more key exists: the page is full and there is a next one.
                return Ok(Page {
                    indexes,
                    next: last.map(|l| l.to_be_bytes().to_vec()),
                });
            }
            // The low 64 bits are the entry index.
            if keep(s as u64)? {
                indexes.push(s as u64);
            }
            last = Some(s);
            for c in &mut cursors {
                if at(c)? == Some(s) {
                    c.advance();
                }
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
}

/// The suffix of the key a cursor is at, or `None` past the end of its prefix.
fn at(c: &IndexCursor<'_>) -> Result<Option<u128>, StoreError> {
    c.status()?;
    c.suffix()
        .map(|s| {
            <[u8; 16]>::try_from(s)
                .map(u128::from_be_bytes)
                .map_err(|_| {
                    StoreError::Corrupt(format!("an index key ends in {} bytes, not 16", s.len()))
                })
        })
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{IndexKeys, time_bytes};
    use proptest::collection::vec;

    /// Index keys as (prefix number, event time, entry index): below [`SCANNED`] the
    /// prefixes of `Scan::Ident(FIELD)`; then a class's role of the same field (not one an
    /// item takes), the identifier index of another identifier, and the time index.
    type Key = (usize, i64, u64);

    /// An item: the identifier index and the four EPC roles.
    const FIELD: &str = "/01/09521141123455/21/7";
    const SCANNED: usize = 5;

    fn write(store: &Store, keys: &[Key]) {
        let scan = Scan::Ident(FIELD.into());
        assert_eq!(scan.prefixes().len(), SCANNED);
        let mut all = IndexKeys::default();
        for &(p, time, index) in keys {
            match p {
                0..SCANNED => {
                    let t = scan.prefixes()[p][0];
                    all.push_index(t, FIELD, time, index);
                }
                SCANNED => {
                    all.push_index(lotline_profile::terms::tag::EPC_CLASS, FIELD, time, index)
                }
                6 => all.push_index(tag::IDENT, "/01/09521141123455/21/8", time, index),
                _ => all.push_index(tag::TIME, "", time, index),
            }
        }
        let mut batch = store.batch();
        for k in all.sorted() {
            batch.put_state(StateCf::Index, k, b"");
        }
        batch.commit().unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// Page after page, a scan of several prefixes gives each entry in the time range
        /// once, in `eventTime ‖ index` order, with `keep`'s choice, never more than the
        /// page's limit, and nothing of other prefixes.
        #[test]
        fn a_union_scan_pages_through_each_entry_once_in_order(
            keys in vec((0usize..8, -3i64..3, 0u64..12), 0..60),
            from in -4i64..4,
            span in 0i64..8,
            limit in 1usize..5,
            skip_odd in proptest::bool::ANY,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let store = Store::open(dir.path()).unwrap();
            write(&store, &keys);
            let until = from + span;
            let keep = |i: u64| !(skip_odd && i % 2 == 1);
            let mut expected: Vec<(i64, u64)> = keys
                .iter()
                .filter(|(p, t, _)| *p < SCANNED && (from..until).contains(t))
                .map(|&(_, t, i)| (t, i))
                .collect();
            expected.sort_unstable();
            expected.dedup();
            let expected: Vec<u64> =
                expected.into_iter().map(|(_, i)| i).filter(|&i| keep(i)).collect();

            let reader = StateReader::new(&store);
            let scan = Scan::Ident(FIELD.into());
            let mut got = Vec::new();
            let mut token: Option<Vec<u8>> = None;
            for _ in 0..=keys.len() {
                let page = reader
                    .scan(&scan, from, until, token.as_deref(), limit, |i| Ok(keep(i)))
                    .unwrap();
                proptest::prop_assert!(page.indexes.len() <= limit);
                got.extend(page.indexes);
                token = page.next;
                if token.is_none() {
                    break;
                }
            }
            proptest::prop_assert!(token.is_none(), "the pages never end");
            proptest::prop_assert_eq!(got, expected);
        }
    }

    /// A token of an earlier version, a whole index key, resumes where that key left off.
    #[test]
    fn a_whole_key_still_works_as_a_page_token() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        write(&store, &[(0, 1, 1), (3, 1, 2), (0, 2, 3)]);
        let reader = StateReader::new(&store);
        let scan = Scan::Ident(FIELD.into());
        let mut old = index_prefix(tag::IDENT, FIELD);
        old.extend_from_slice(&time_bytes(1));
        old.extend_from_slice(&1u64.to_be_bytes());
        let page = reader
            .scan(&scan, i64::MIN, i64::MAX, Some(&old), 10, |_| Ok(true))
            .unwrap();
        assert_eq!(page.indexes, [2, 3]);
        assert!(
            reader
                .scan(&scan, i64::MIN, i64::MAX, Some(&[1, 2]), 10, |_| Ok(true))
                .is_err(),
            "a token shorter than a suffix is refused"
        );
    }
}
