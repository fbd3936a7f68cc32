//! The shared log in PostgreSQL: the source of truth of a replicated deployment.
//!
//! # Tables
//! | table                 | rows                                                                  |
//! |-----------------------|-----------------------------------------------------------------------|
//! | `lotline_head`        | one: the log's origin and verifier key, its size and root, and the advertised URL of the node sequencing it |
//! | `lotline_entries`     | one per entry: dense `seq` from 0, the canonical entry bytes, the RFC 9162 leaf hash |
//! | `lotline_checkpoints` | one per signed checkpoint: tree size, the C2SP signed note            |
//!
//! # Writing
//! Only the node holding the session-level advisory lock [`SEQUENCER_LOCK`] writes, on the
//! connection that holds it. Each group is one transaction that locks the head row, checks that
//! the head is the size and root the group was decided on (the fence: a stale sequencer is
//! refused and steps down), inserts the entries and moves the head. Checkpoints are inserted
//! after that transaction committed. With Patroni's `synchronous_mode_strict`, COMMIT returns
//! only once a synchronous standby has the transaction too.

use std::time::Duration;

use postgres::{Client, NoTls};

use crate::ledger::{LogGroup, LogSink, SignedCheckpoint, SinkError};
use tlog::merkle::Hash;

/// The advisory lock whose holder sequences the log ("lotline" in ASCII).
pub const SEQUENCER_LOCK: i64 = 0x006c_6f74_6c69_6e65;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS lotline_head (
    one        boolean PRIMARY KEY DEFAULT true CHECK (one),
    origin     text    NOT NULL,
    vkey       text    NOT NULL,
    size       bigint  NOT NULL CHECK (size >= 0),
    root       bytea   NOT NULL CHECK (length(root) = 32),
    sequencer  text
);
CREATE TABLE IF NOT EXISTS lotline_entries (
    seq    bigint PRIMARY KEY CHECK (seq >= 0),
    entry  bytea  NOT NULL,
    leaf   bytea  NOT NULL CHECK (length(leaf) = 32)
);
CREATE TABLE IF NOT EXISTS lotline_checkpoints (
    size  bigint PRIMARY KEY CHECK (size >= 0),
    note  text   NOT NULL
);
";

/// The log's identity and head as the database holds them.
#[derive(Debug, Clone)]
pub struct HeadRow {
    pub origin: String,
    pub vkey: String,
    pub size: u64,
    pub root: Hash,
    pub sequencer: Option<String>,
}

/// One connection to the shared log.
pub struct PgLog {
    client: Client,
}

fn db(e: postgres::Error) -> SinkError {
    SinkError::Database(describe(&e))
}

/// The database's own message where there is one (`e.to_string()` alone often says only "db
/// error").
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    }
}

fn to_u64(v: i64, what: &str) -> Result<u64, SinkError> {
    u64::try_from(v).map_err(|_| SinkError::Database(format!("{what} is negative")))
}

fn to_i64(v: u64) -> Result<i64, SinkError> {
    i64::try_from(v).map_err(|_| SinkError::Database(format!("{v} does not fit a bigint")))
}

fn to_hash(v: &[u8], what: &str) -> Result<Hash, SinkError> {
    v.try_into()
        .map_err(|_| SinkError::Database(format!("{what} is not 32 bytes")))
}

impl PgLog {
    /// Connects with a libpq-style URL or key-value string. Several hosts may be listed;
    /// `target_session_attrs=read-write` makes the connection find the primary.
    ///
    /// Unless the URL says otherwise, a dead peer is noticed within seconds, not the kernel's
    /// hours: a primary that vanished from the network (rather than crashed, which resets the
    /// connection) must not hold the sequencer or a follower in a read forever.
    pub fn connect(url: &str) -> Result<PgLog, SinkError> {
        let mut config: postgres::Config = url.parse().map_err(db)?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(Duration::from_secs(15));
        }
        if config.get_keepalives_idle() >= Duration::from_secs(3600) {
            config
                .keepalives_idle(Duration::from_secs(5))
                .keepalives_interval(Duration::from_secs(2))
                .keepalives_retries(3);
        }
        let client = config.connect(NoTls).map_err(db)?;
        Ok(PgLog { client })
    }

    /// Creates the tables if they do not exist.
    pub fn migrate(&mut self) -> Result<(), SinkError> {
        self.client.batch_execute(SCHEMA).map_err(db)
    }

    /// The head row, creating it for a new log with `origin` and `vkey` (empty, root of the
    /// empty tree) when there is none. Whoever created it first wins; the caller compares.
    pub fn init_head(
        &mut self,
        origin: &str,
        vkey: &str,
        empty_root: &Hash,
    ) -> Result<HeadRow, SinkError> {
        self.client
            .execute(
                "INSERT INTO lotline_head (origin, vkey, size, root) VALUES ($1, $2, 0, $3) \
                 ON CONFLICT (one) DO NOTHING",
                &[&origin, &vkey, &empty_root.as_slice()],
            )
            .map_err(db)?;
        self.head()?
            .ok_or_else(|| SinkError::Database("the head row vanished".into()))
    }

    /// The head row, if the log exists.
    pub fn head(&mut self) -> Result<Option<HeadRow>, SinkError> {
        let row = self
            .client
            .query_opt(
                "SELECT origin, vkey, size, root, sequencer FROM lotline_head",
                &[],
            )
            .map_err(db)?;
        row.map(|r| {
            Ok(HeadRow {
                origin: r.get(0),
                vkey: r.get(1),
                size: to_u64(r.get(2), "size")?,
                root: to_hash(r.get(3), "root")?,
                sequencer: r.get(4),
            })
        })
        .transpose()
    }

    /// Takes the sequencer's lock for this session if nobody holds it; never waits.
    pub fn try_lock(&mut self) -> Result<bool, SinkError> {
        let row = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&SEQUENCER_LOCK])
            .map_err(db)?;
        Ok(row.get(0))
    }

    /// Advertises the URL of the node that now sequences.
    pub fn set_sequencer(&mut self, url: Option<&str>) -> Result<(), SinkError> {
        self.client
            .execute("UPDATE lotline_head SET sequencer = $1", &[&url])
            .map_err(db)?;
        Ok(())
    }

    /// Entries `from..to`, in order.
    pub fn entries(&mut self, from: u64, to: u64) -> Result<Vec<(u64, Vec<u8>)>, SinkError> {
        let rows = self
            .client
            .query(
                "SELECT seq, entry FROM lotline_entries WHERE seq >= $1 AND seq < $2 ORDER BY seq",
                &[&to_i64(from)?, &to_i64(to)?],
            )
            .map_err(db)?;
        rows.into_iter()
            .map(|r| Ok((to_u64(r.get(0), "seq")?, r.get(1))))
            .collect()
    }

    /// The newest signed checkpoint: (size, note).
    pub fn latest_checkpoint(&mut self) -> Result<Option<(u64, String)>, SinkError> {
        let row = self
            .client
            .query_opt(
                "SELECT size, note FROM lotline_checkpoints ORDER BY size DESC LIMIT 1",
                &[],
            )
            .map_err(db)?;
        row.map(|r| Ok((to_u64(r.get(0), "size")?, r.get(1))))
            .transpose()
    }
}

impl LogSink for PgLog {
    fn append(&mut self, group: &LogGroup) -> Result<(), SinkError> {
        let mut tx = self.client.transaction().map_err(db)?;
        let head = tx
            .query_one("SELECT size, root FROM lotline_head FOR UPDATE", &[])
            .map_err(db)?;
        let size = to_u64(head.get(0), "size")?;
        let root = to_hash(head.get(1), "root")?;
        if size != group.old_size || root != group.old_root {
            // Dropping the transaction rolls it back.
            return Err(SinkError::Fenced(format!(
                "the log has {size} entries, not the {} this node decided on",
                group.old_size
            )));
        }
        let mut seqs = Vec::with_capacity(group.entries.len());
        let mut entries: Vec<&[u8]> = Vec::with_capacity(group.entries.len());
        let mut leaves: Vec<&[u8]> = Vec::with_capacity(group.entries.len());
        for (i, (index, bytes, leaf)) in group.entries.iter().enumerate() {
            // The dense sequence is the log: a gap would be a bug, never something to store.
            if *index != group.old_size + i as u64 {
                return Err(SinkError::Database(format!(
                    "entry {index} is not next after {}",
                    group.old_size + i as u64
                )));
            }
            seqs.push(to_i64(*index)?);
            entries.push(bytes);
            leaves.push(leaf);
        }
        tx.execute(
            "INSERT INTO lotline_entries (seq, entry, leaf) \
             SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])",
            &[&seqs, &entries, &leaves],
        )
        .map_err(db)?;
        let new_size = group.old_size + group.entries.len() as u64;
        tx.execute(
            "UPDATE lotline_head SET size = $1, root = $2",
            &[&to_i64(new_size)?, &group.new_root.as_slice()],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn checkpoint(&mut self, cp: &SignedCheckpoint) -> Result<(), SinkError> {
        // Ed25519 signatures are deterministic: a checkpoint of the same tree signed twice is
        // the same note, so a repeat is not a conflict.
        self.client
            .execute(
                "INSERT INTO lotline_checkpoints (size, note) VALUES ($1, $2) \
                 ON CONFLICT (size) DO NOTHING",
                &[&to_i64(cp.size)?, &cp.note],
            )
            .map_err(db)?;
        Ok(())
    }
}
