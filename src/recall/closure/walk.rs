//! The walk's reads: lot records and each key's entries from the identifier index, each read
//! once, counted against the trace's [`Limits`].

use std::collections::HashMap;
use std::rc::Rc;

use super::{Limits, TraceError};
use crate::state::query::{Scan, StateReader};
use crate::state::{EntryMeta, LotRecord};
use crate::store::StoreError;

/// A key's live entries, in log order.
pub(super) type Metas = Vec<(u64, Rc<EntryMeta>)>;

/// What the walk has read, and how much of its limits that used.
pub(super) struct Walk<'r, 'a> {
    reader: &'r StateReader<'a>,
    limits: Limits,
    /// Entry metadata read so far; `None` for corrected entries and corrections.
    pub(super) metas: HashMap<u64, Option<Rc<EntryMeta>>>,
    rows: usize,
    nodes: usize,
    /// Every key whose entries were read, with them (live entries only, in log order).
    entries: HashMap<String, Metas>,
}

impl<'r, 'a> Walk<'r, 'a> {
    pub(super) fn new(reader: &'r StateReader<'a>, limits: Limits) -> Self {
        Walk {
            reader,
            limits,
            metas: HashMap::new(),
            rows: 0,
            nodes: 0,
            entries: HashMap::new(),
        }
    }
}

impl Walk<'_, '_> {
    pub(super) fn count_node(&mut self) -> Result<(), TraceError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(TraceError::TooManyNodes(self.limits.max_nodes));
        }
        Ok(())
    }

    /// The live entries naming `key`, in log order (read once per key).
    pub(super) fn entries(&mut self, key: &str) -> Result<Metas, TraceError> {
        if let Some(m) = self.entries.get(key) {
            return Ok(m.clone());
        }
        let left = self.limits.max_entries.saturating_sub(self.rows);
        if left == 0 {
            return Err(TraceError::TooManyEntries(self.limits.max_entries));
        }
        let page = self.reader.scan(
            &Scan::Ident(key.to_owned()),
            i64::MIN,
            i64::MAX,
            None,
            left,
            |_| Ok(true),
        )?;
        if page.next.is_some() {
            return Err(TraceError::TooManyEntries(self.limits.max_entries));
        }
        self.rows += page.indexes.len();
        let mut indexes = page.indexes;
        // The index orders by event time; packing timelines need the order the rules applied.
        indexes.sort_unstable();
        let mut out = Vec::with_capacity(indexes.len());
        for i in indexes {
            let meta = match self.metas.get(&i) {
                Some(m) => m.clone(),
                None => {
                    let m = self
                        .reader
                        .meta(i)?
                        .ok_or_else(|| StoreError::Corrupt(format!("entry {i} has no meta")))?;
                    let live =
                        (m.corrected_by.is_none() && m.corrects.is_none()).then(|| Rc::new(m));
                    self.metas.insert(i, live.clone());
                    live
                }
            };
            if let Some(m) = meta {
                out.push((i, m));
            }
        }
        self.entries.insert(key.to_owned(), out.clone());
        Ok(out)
    }

    pub(super) fn lot(&self, key: &str) -> Result<Option<LotRecord>, TraceError> {
        Ok(self.reader.lot(key)?)
    }
}
