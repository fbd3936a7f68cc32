//! Where the audit's history comes from: the operator's entries and the lots they name, read
//! through the [`History`] trait so the audit is pure over it. The ledger's is
//! [`LedgerHistory`], a snapshot of the state at one log size; tests give a synthetic one.

use std::collections::BTreeMap;

use crate::state::query::{Scan, StateReader};
use crate::state::{EntryMeta, LotRecord};
use crate::store::StoreError;
use lotline_profile::profile::IdClass;

/// The operator's history: its entries and the lots they name. The ledger's is
/// [`LedgerHistory`]; tests give a synthetic one.
pub trait History {
    /// Calls `f` with each entry of `actor` whose event time is before `until_ms`, in
    /// event-time order (ties in log order).
    fn entries(
        &self,
        actor: &str,
        until_ms: i64,
        f: &mut dyn FnMut(u64, EntryMeta) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    fn lot(&self, key: &str) -> Result<Option<LotFacts>, StoreError>;
    /// Whether `actor` has entries at or after `from_ms`.
    fn has_later(&self, actor: &str, from_ms: i64) -> Result<bool, StoreError>;
    /// Whether `actor` recorded entries the history does not show (written while the audit
    /// ran), whose changes the lot records may already carry.
    fn grew(&self, actor: &str) -> Result<bool, StoreError>;
}

/// The ledger's state as of log size `size`: later entries are not seen.
pub struct LedgerHistory<'a> {
    pub reader: StateReader<'a>,
    pub size: u64,
}

impl History for LedgerHistory<'_> {
    fn entries(
        &self,
        actor: &str,
        until_ms: i64,
        f: &mut dyn FnMut(u64, EntryMeta) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let scan = Scan::Actor(actor.to_owned());
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page =
                self.reader
                    .scan(&scan, i64::MIN, until_ms, after.as_deref(), 4096, |i| {
                        Ok(i < self.size)
                    })?;
            for i in page.indexes {
                let mut meta = self
                    .reader
                    .meta(i)?
                    .ok_or_else(|| StoreError::Corrupt(format!("indexed entry {i} has no meta")))?;
                // A declaration written after the snapshot is not part of it.
                if meta.corrected_by.is_some_and(|c| c >= self.size) {
                    meta.corrected_by = None;
                }
                f(i, meta)?;
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(()),
            }
        }
    }

    fn lot(&self, key: &str) -> Result<Option<LotFacts>, StoreError> {
        Ok(self.reader.lot(key)?.as_ref().map(LotFacts::from))
    }

    fn has_later(&self, actor: &str, from_ms: i64) -> Result<bool, StoreError> {
        let scan = Scan::Actor(actor.to_owned());
        let page = self
            .reader
            .scan(&scan, from_ms, i64::MAX, None, 1, |_| Ok(true))?;
        Ok(!page.indexes.is_empty())
    }

    fn grew(&self, actor: &str) -> Result<bool, StoreError> {
        let scan = Scan::Actor(actor.to_owned());
        let page = self
            .reader
            .scan(&scan, i64::MIN, i64::MAX, None, 1, |i| Ok(i >= self.size))?;
        Ok(!page.indexes.is_empty())
    }
}

/// What the audit reads of a lot's record.
#[derive(Debug, Clone)]
pub struct LotFacts {
    pub class: IdClass,
    pub product: Option<String>,
    pub growing_method: Option<String>,
    pub amount: i64,
    pub held: BTreeMap<String, i64>,
}

impl From<&LotRecord> for LotFacts {
    fn from(l: &LotRecord) -> LotFacts {
        LotFacts {
            class: l.class,
            product: l.product.clone(),
            growing_method: l.growing_method.clone(),
            amount: l.amount,
            held: l.held.clone(),
        }
    }
}
