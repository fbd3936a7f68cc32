//! The edge's durable outbox (`lotline edge`, `crate::edge`): every event the mill recorded, signed, in the order it was
//! recorded, with what became of it.
//!
//! An embedded RocksDB (the engine the ledger already builds, so the edge adds no second
//! storage engine to the binary): `items` holds each record by sequence number, `pending` the
//! sequence numbers still to upload (so the uploader reads them in order without scanning the
//! sent ones), `ids` each eventID's sequence number (so a tool that sends an event twice gets
//! the first record back). Every change is one synced write batch: a record the edge has
//! answered for is on disk, and a crash leaves each record either before or after a change.

use std::path::Path;
use std::sync::Mutex;

use rocksdb::{ColumnFamilyDescriptor, DB, IteratorMode, Options, WriteBatch, WriteOptions};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreError;

const ITEMS: &str = "items";
const PENDING: &str = "pending";
const IDS: &str = "ids";

/// What became of a recorded event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Signed and kept; not yet in the ledger.
    Pending,
    /// In the ledger: the record keeps its receipt.
    Sent,
    /// The ledger refused it: the record keeps the ledger's problem.
    Refused,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Sent => "sent",
            Status::Refused => "refused",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "sent" => Some(Status::Sent),
            "refused" => Some(Status::Refused),
            _ => None,
        }
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub seq: u64,
    #[serde(rename = "eventID")]
    pub event_id: String,
    /// The profile kind (`receiving`, `milling`, …).
    pub kind: String,
    /// When the clerk or tool recorded it, by the edge's clock (RFC 3339).
    pub recorded_at: String,
    pub status: Status,
    /// Upload attempts that reached no decision (the ledger unreachable or busy).
    #[serde(default)]
    pub attempts: u32,
    /// The ledger's receipt, once sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<Value>,
    /// The ledger's RFC 9457 problem, if refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<Value>,
    /// When the ledger decided (RFC 3339, edge clock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<String>,
    /// The signed event, as it is uploaded.
    pub event: Value,
}

/// The outcome of [`Outbox::add`].
#[derive(Debug)]
pub enum Added {
    New(Item),
    /// An event with this eventID was recorded before: its record.
    Existing(Item),
}

/// Counts by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub pending: u64,
    pub sent: u64,
    pub refused: u64,
}

pub struct Outbox {
    db: DB,
    /// The next sequence number, and the lock that orders additions.
    next: Mutex<u64>,
}

fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

fn seq_of(k: &[u8]) -> Result<u64, StoreError> {
    k.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::Corrupt(format!("outbox key of {} bytes", k.len())))
}

fn db_err(e: rocksdb::Error) -> StoreError {
    StoreError::Rocks(e)
}

impl Outbox {
    /// Opens (or creates) the outbox in `dir`.
    pub fn open(dir: &Path) -> Result<Outbox, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Missing(format!("{}: {e}", dir.display())))?;
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [ITEMS, PENDING, IDS].map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, dir.join("outbox"), cfs).map_err(db_err)?;
        let next = {
            let cf = db.cf_handle(ITEMS).expect("opened with it");
            match db.iterator_cf(cf, IteratorMode::End).next() {
                Some(kv) => seq_of(&kv.map_err(db_err)?.0)? + 1,
                None => 0,
            }
        };
        Ok(Outbox {
            db,
            next: Mutex::new(next),
        })
    }

    fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db.cf_handle(name).expect("opened with every family")
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut w = WriteOptions::default();
        w.set_sync(true);
        self.db.write_opt(batch, &w).map_err(db_err)
    }

    /// Records a signed event as pending, durably; an eventID seen before gives its record.
    pub fn add(
        &self,
        event_id: &str,
        kind: &str,
        recorded_at: &str,
        event: Value,
    ) -> Result<Added, StoreError> {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(seq) = self.seq_of_id(event_id)? {
            let item = self.get(seq)?.ok_or_else(|| {
                StoreError::Corrupt(format!("eventID {event_id} names no record"))
            })?;
            return Ok(Added::Existing(item));
        }
        let item = Item {
            seq: *next,
            event_id: event_id.to_owned(),
            kind: kind.to_owned(),
            recorded_at: recorded_at.to_owned(),
            status: Status::Pending,
            attempts: 0,
            receipt: None,
            problem: None,
            decided_at: None,
            event,
        };
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(ITEMS), key(item.seq), encode(&item)?);
        batch.put_cf(self.cf(PENDING), key(item.seq), []);
        batch.put_cf(self.cf(IDS), event_id.as_bytes(), key(item.seq));
        self.write(batch)?;
        *next += 1;
        Ok(Added::New(item))
    }

    fn seq_of_id(&self, event_id: &str) -> Result<Option<u64>, StoreError> {
        self.db
            .get_cf(self.cf(IDS), event_id.as_bytes())
            .map_err(db_err)?
            .map(|v| seq_of(&v))
            .transpose()
    }

    pub fn get(&self, seq: u64) -> Result<Option<Item>, StoreError> {
        self.db
            .get_cf(self.cf(ITEMS), key(seq))
            .map_err(db_err)?
            .map(|v| decode(&v))
            .transpose()
    }

    /// Up to `max` pending records, oldest first.
    pub fn pending(&self, max: usize) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for kv in self.db.iterator_cf(self.cf(PENDING), IteratorMode::Start) {
            if out.len() >= max {
                break;
            }
            let seq = seq_of(&kv.map_err(db_err)?.0)?;
            let item = self
                .get(seq)?
                .ok_or_else(|| StoreError::Corrupt(format!("pending record {seq} is missing")))?;
            out.push(item);
        }
        Ok(out)
    }

    /// Records what the ledger decided for each of `decided` (sent or refused), in one synced
    /// batch.
    pub fn decide(&self, decided: &[Item]) -> Result<(), StoreError> {
        let mut batch = WriteBatch::default();
        for item in decided {
            batch.put_cf(self.cf(ITEMS), key(item.seq), encode(item)?);
            if item.status == Status::Pending {
                batch.put_cf(self.cf(PENDING), key(item.seq), []);
            } else {
                batch.delete_cf(self.cf(PENDING), key(item.seq));
            }
        }
        self.write(batch)
    }

    /// Puts a refused record back in the queue (the clerk asks to try it again, e.g. once the
    /// shipment it receives is in the ledger). It keeps its place in the record order.
    pub fn retry(&self, seq: u64) -> Result<Option<Item>, StoreError> {
        let Some(mut item) = self.get(seq)? else {
            return Ok(None);
        };
        if item.status == Status::Refused {
            item.status = Status::Pending;
            item.problem = None;
            item.decided_at = None;
            self.decide(std::slice::from_ref(&item))?;
        }
        Ok(Some(item))
    }

    /// The newest records first, at most `limit`, those of `status` only if given.
    pub fn recent(&self, status: Option<Status>, limit: usize) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        for kv in self.db.iterator_cf(self.cf(ITEMS), IteratorMode::End) {
            if out.len() >= limit {
                break;
            }
            let item: Item = decode(&kv.map_err(db_err)?.1)?;
            if status.is_none_or(|s| s == item.status) {
                out.push(item);
            }
        }
        Ok(out)
    }

    /// Records ever made.
    pub fn total(&self) -> u64 {
        *self.next.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records still to upload (a scan of the pending keys only).
    pub fn pending_count(&self) -> u64 {
        self.db
            .iterator_cf(self.cf(PENDING), IteratorMode::Start)
            .count() as u64
    }

    /// Counts by status (a scan: the outbox of one site is small, and the page shows it).
    pub fn counts(&self) -> Result<Counts, StoreError> {
        let mut c = Counts {
            pending: self.pending_count(),
            ..Counts::default()
        };
        for kv in self.db.iterator_cf(self.cf(ITEMS), IteratorMode::Start) {
            let item: Item = decode(&kv.map_err(db_err)?.1)?;
            match item.status {
                Status::Sent => c.sent += 1,
                Status::Refused => c.refused += 1,
                Status::Pending => {}
            }
        }
        debug_assert!(c.pending + c.sent + c.refused <= self.total());
        Ok(c)
    }
}

fn encode(item: &Item) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(item).map_err(|e| StoreError::Corrupt(format!("outbox record: {e}")))
}

fn decode(bytes: &[u8]) -> Result<Item, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("outbox record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_survive_reopening_in_order_and_once() {
        let dir = tempfile::tempdir().unwrap();
        {
            let o = Outbox::open(dir.path()).unwrap();
            for i in 0..5 {
                let added = o
                    .add(&format!("urn:uuid:{i}"), "receiving", "t", json!({"n": i}))
                    .unwrap();
                assert!(matches!(added, Added::New(ref it) if it.seq == i));
            }
            assert!(matches!(
                o.add("urn:uuid:2", "receiving", "t", json!({})).unwrap(),
                Added::Existing(ref it) if it.seq == 2
            ));
        }
        let o = Outbox::open(dir.path()).unwrap();
        let p = o.pending(3).unwrap();
        assert_eq!(p.iter().map(|i| i.seq).collect::<Vec<_>>(), [0, 1, 2]);
        let mut sent = p[0].clone();
        sent.status = Status::Sent;
        let mut refused = p[1].clone();
        refused.status = Status::Refused;
        refused.problem = Some(json!({"code": "not_custodian"}));
        o.decide(&[sent, refused]).unwrap();
        assert_eq!(
            o.pending(10)
                .unwrap()
                .iter()
                .map(|i| i.seq)
                .collect::<Vec<_>>(),
            [2, 3, 4]
        );
        assert_eq!(
            o.counts().unwrap(),
            Counts {
                pending: 3,
                sent: 1,
                refused: 1
            }
        );
        assert_eq!(o.recent(Some(Status::Refused), 10).unwrap()[0].seq, 1);
        o.retry(1).unwrap();
        assert_eq!(
            o.pending(1).unwrap()[0].seq,
            1,
            "a retried record keeps its place"
        );
        let added = o.add("urn:uuid:new", "milling", "t", json!({})).unwrap();
        assert!(matches!(added, Added::New(ref it) if it.seq == 5));
    }
}
