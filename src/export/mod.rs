//! Exports of ledger entries in formats other systems read: a GS1 EPCIS 2.0 `EPCISDocument`
//! ([`epcis`]) and an FSMA 204 style sortable CSV of Key Data Elements ([`fsma`]).
//!
//! Both are built from the same material: the entries to export (in the order the format
//! wants), what the rules recorded of each ([`EntryMeta`]), the typed profile document, and the
//! actor and lot records they name. This module reads that material from the ledger — point
//! reads and scans of one index, never the whole log — and the two format modules are pure
//! functions of it, so they are tested without a store.
//!
//! Registrar and certification documents (`type` `lotline:…`) are not supply-chain events and
//! are never exported.

pub mod epcis;
pub mod fsma;

use std::collections::{BTreeMap, HashMap};

use crate::ledger::{Ledger, LedgerError};
use crate::state::query::{Scan, StateReader};
use crate::state::{ActorRecord, EntryMeta, LotRecord};
use crate::store::StoreError;
use lotline_profile::entry::Entry;
use lotline_profile::profile::{self, Document, IdClass};

/// Most CSV rows one export carries; a larger one is refused with a hint to narrow it.
pub const MAX_ROWS: usize = 50_000;
/// Most lot records one export reads (the lots its rows name, and the items packed in the
/// logistic units they move, for their mass).
pub const MAX_LOT_READS: usize = 200_000;
/// Entries read and turned into rows at a time, so memory follows the output, not the input.
const CHUNK: usize = 512;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The export is larger than one file carries; the message says what to narrow.
    #[error("{0}")]
    TooLarge(String),
}

impl From<StoreError> for ExportError {
    fn from(e: StoreError) -> Self {
        ExportError::Ledger(e.into())
    }
}

/// One entry to export, with what the rules made of it and its typed document.
#[derive(Debug, Clone)]
pub struct Exported {
    pub entry: Entry,
    pub meta: EntryMeta,
    pub doc: Document,
}

/// What an export needs to know of a lot, item or unit (a slim [`LotRecord`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LotInfo {
    /// EPC URI (LGTIN class, SGTIN or SSCC).
    pub id: String,
    pub class: IdClass,
    pub product: Option<String>,
    pub crop: Option<String>,
    pub growing_method: Option<String>,
    /// Milligrams for lots and items (an item's mass never changes), 1 for a unit.
    pub amount: i64,
    /// The actor that created it: where its traceability lot code was assigned.
    pub created_by: String,
}

impl From<LotRecord> for LotInfo {
    fn from(l: LotRecord) -> LotInfo {
        LotInfo {
            id: l.id,
            class: l.class,
            product: l.product,
            crop: l.crop,
            growing_method: l.growing_method,
            amount: l.amount,
            created_by: l.created_by,
        }
    }
}

/// The actor and lot records an export names, read once each.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    pub actors: BTreeMap<String, ActorRecord>,
    /// By canonical key; `None` when the key is not in the ledger.
    pub lots: HashMap<String, Option<LotInfo>>,
}

impl Lookup {
    pub fn actor(&self, id: &str) -> Option<&ActorRecord> {
        self.actors.get(id)
    }

    pub fn lot(&self, key: &str) -> Option<&LotInfo> {
        self.lots.get(key).and_then(Option::as_ref)
    }

    /// Reads the actors of `ids` not read yet (unregistered ones are left out).
    pub fn load_actors<'a>(
        &mut self,
        reader: &StateReader<'_>,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), StoreError> {
        for id in ids {
            if !self.actors.contains_key(id)
                && let Some(a) = reader.actor(id)?
            {
                self.actors.insert(id.to_owned(), a);
            }
        }
        Ok(())
    }

    /// Reads the lots of `keys` not read yet, refusing to read more than [`MAX_LOT_READS`].
    pub fn load_lots<'a>(
        &mut self,
        reader: &StateReader<'_>,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), ExportError> {
        for key in keys {
            if self.lots.contains_key(key) {
                continue;
            }
            if self.lots.len() >= MAX_LOT_READS {
                return Err(ExportError::TooLarge(format!(
                    "the export names more than {MAX_LOT_READS} lots, items and units; narrow it"
                )));
            }
            let lot = reader.lot(key)?.map(LotInfo::from);
            self.lots.insert(key.to_owned(), lot);
        }
        Ok(())
    }
}

/// Reads the entries at `indexes`, in that order, leaving out registrar documents.
pub fn read_entries(ledger: &Ledger, indexes: &[u64]) -> Result<Vec<Exported>, ExportError> {
    let mut entries = Vec::with_capacity(indexes.len());
    for &i in indexes {
        let bytes = ledger
            .entry(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {i} is missing")))?;
        entries.push(
            Entry::parse(&bytes).map_err(|e| StoreError::Corrupt(format!("entry {i}: {e}")))?,
        );
    }
    prepare(ledger, entries)
}

/// `entries` (read already) with their meta and typed documents, leaving out registrar
/// documents.
pub fn prepare(ledger: &Ledger, entries: Vec<Entry>) -> Result<Vec<Exported>, ExportError> {
    let reader = ledger.state();
    let mut out = Vec::with_capacity(entries.len());
    for entry in entries {
        let i = entry.index;
        let meta = reader
            .meta(i)?
            .ok_or_else(|| StoreError::Corrupt(format!("entry {i} has no meta")))?;
        if !meta.kind.is_epcis() {
            continue;
        }
        let doc = profile::interpret(&entry.event)
            .map_err(|v| StoreError::Corrupt(format!("entry {i}: {}", v.message)))?;
        out.push(Exported { entry, meta, doc });
    }
    Ok(out)
}

/// The records an EPCIS document's master data describes: the parties and lots its events name.
pub fn epcis_lookup(ledger: &Ledger, entries: &[Exported]) -> Result<Lookup, ExportError> {
    let reader = ledger.state();
    let wanted = epcis::wanted(entries);
    let mut look = Lookup::default();
    look.load_lots(&reader, wanted.lots.iter().map(String::as_str))?;
    look.load_actors(&reader, wanted.actors.iter().map(String::as_str))?;
    Ok(look)
}

/// The entries of an FSMA 204 export.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These entries (a lot's history), in any order: the export sorts them.
    Entries(Vec<u64>),
    /// The entries of one index scan with event time in `[from_ms, until_ms)`, already in
    /// event-time order.
    Scan {
        scan: Scan,
        from_ms: i64,
        until_ms: i64,
    },
}

/// The FSMA 204 CSV of `selection`: a header row and one row per (event, identifier it
/// names), sorted by event time, then entry index, then the identifier's place in the event.
/// Refused with [`ExportError::TooLarge`] past [`MAX_ROWS`] rows.
pub fn fsma_csv(ledger: &Ledger, selection: &Selection) -> Result<String, ExportError> {
    let reader = ledger.state();
    let mut csv = fsma::Csv::new(MAX_ROWS);
    let mut look = Lookup::default();
    let chunk = |indexes: &[u64], look: &mut Lookup, csv: &mut fsma::Csv| {
        let entries = read_entries(ledger, indexes)?;
        let wanted = fsma::wanted_lots(&entries);
        look.load_lots(&reader, wanted.iter().map(String::as_str))?;
        let actors = fsma::wanted_actors(&entries, look);
        look.load_actors(&reader, actors.iter().map(String::as_str))?;
        for x in &entries {
            csv.push_event(x, look)?;
        }
        Ok::<(), ExportError>(())
    };
    match selection {
        Selection::Entries(indexes) => {
            // Sort by event time first (the meta is small), then read the entries a chunk at
            // a time.
            let mut keyed = Vec::with_capacity(indexes.len());
            for &i in indexes {
                let meta = reader
                    .meta(i)?
                    .ok_or_else(|| StoreError::Corrupt(format!("entry {i} has no meta")))?;
                keyed.push((meta.event_time_ms, i));
            }
            keyed.sort_unstable();
            keyed.dedup();
            let sorted: Vec<u64> = keyed.into_iter().map(|(_, i)| i).collect();
            for part in sorted.chunks(CHUNK) {
                chunk(part, &mut look, &mut csv)?;
            }
        }
        Selection::Scan {
            scan,
            from_ms,
            until_ms,
        } => {
            let mut token: Option<Vec<u8>> = None;
            loop {
                let page =
                    reader.scan(scan, *from_ms, *until_ms, token.as_deref(), CHUNK, |_| {
                        Ok(true)
                    })?;
                chunk(&page.indexes, &mut look, &mut csv)?;
                match page.next {
                    Some(next) => token = Some(next),
                    None => break,
                }
            }
        }
    }
    Ok(csv.finish())
}

/// File names for `Content-Disposition`: the characters no client misreads, the rest as `_`.
pub fn file_name_part(s: &str) -> String {
    s.chars()
        .take(120)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_keep_only_safe_characters() {
        assert_eq!(
            file_name_part("urn:epc:id:sscc:8841234.9000000001"),
            "urn_epc_id_sscc_8841234.9000000001"
        );
        assert_eq!(file_name_part("a\"b\r\n/c;d"), "a_b___c_d");
        assert_eq!(file_name_part(&"x".repeat(500)).len(), 120);
    }
}
