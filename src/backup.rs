//! Hot backup and restore of the embedded store.
//!
//! A backup is a RocksDB checkpoint of the whole database — entries, tree, indexes, state and
//! the latest signed checkpoint, all from one consistent point in time — plus `manifest.json`
//! saying which log it is (origin, verifier key) and how far it reaches. It never holds the
//! log's signing key: the key is kept apart from the data (docs/operations.md), and `restore`
//! takes it separately and checks that it is the log's.
//!
//! A running server holds RocksDB's lock, so `lotline backup` asks it over a Unix socket in the
//! data directory (`admin.sock`, mode 0600: whoever may read the data may back it up; nothing
//! else listens). With no server running it opens the store itself.

use std::fs;
use std::io::{BufRead as _, BufReader, Write as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};

use crate::ledger::{self, Ledger, LedgerError, db_path};
use crate::store::{META_CHECKPOINT, META_ORIGIN, Store, StoreError};
use tlog::note::{Checkpoint, NoteSigner, VerifierKey};

/// The socket a running server answers backup requests on, inside its data directory.
pub const ADMIN_SOCKET: &str = "admin.sock";
const MANIFEST: &str = "manifest.json";

/// What a backup holds, written beside the database copy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub origin: String,
    pub verifier_key: String,
    /// Entries in the backup.
    pub size: u64,
    /// The latest signed checkpoint in the backup (it may lag `size` by one interval).
    pub checkpoint: String,
    pub created: String,
}

/// The format this build writes. A build refuses a backup of a format it does not know by
/// its name, instead of restoring a store it would misread:
/// - `/2` holds lot records and entry metas in binary (`state::codec`), which a build that
///   reads only `/1` would take for corrupt;
/// - `/3` indexes each identifier once, under the EPCIS term of its role (`state::ident_tags`),
///   where a build that knows only `/2` would look for it under the identifier index alone
///   and find lot histories incomplete.
const FORMAT: &str = "lotline-backup/3";

/// The formats this build restores: its own, and the earlier ones (their JSON records and
/// identifier index keys still read the same).
const RESTORES: [&str; 3] = ["lotline-backup/1", "lotline-backup/2", FORMAT];

fn check_format(format: &str) -> Result<(), LedgerError> {
    if RESTORES.contains(&format) {
        return Ok(());
    }
    Err(LedgerError::Config(format!(
        "backup format {format:?} is not one this build restores ({}); restore it with the lotline version that made it or a newer one",
        RESTORES.join(", ")
    )))
}

/// Backs the store of `data` up into `out` (which must not exist): through the running server
/// when there is one, else directly.
pub fn backup(data: &Path, out: &Path) -> Result<Manifest, LedgerError> {
    if out.exists() {
        return Err(LedgerError::Config(format!(
            "{} exists; a backup goes into a new directory",
            out.display()
        )));
    }
    let db = db_path(data);
    if !db.join("CURRENT").is_file() {
        return Err(LedgerError::Config(format!(
            "no ledger in {}",
            data.display()
        )));
    }
    match Store::open_existing(&db) {
        Ok(store) => {
            let verifier = verifier_of(data, &store)?;
            write_backup(&store, &verifier, out)
        }
        // Held by a running server: ask it.
        Err(StoreError::InUse(_)) => ask_server(data, out),
        Err(StoreError::Rocks(e)) if e.to_string().contains("lock") => ask_server(data, out),
        Err(e) => Err(e.into()),
    }
}

/// The log's verifier key, from the key file in `data`.
fn verifier_of(data: &Path, store: &Store) -> Result<VerifierKey, LedgerError> {
    let path = data.join(ledger::LOG_KEY_FILE);
    let bytes = fs::read(&path)
        .map_err(|e| LedgerError::Io(format!("cannot read {}: {e}", path.display())))?;
    let key = ledger::read_key_file(&path, &bytes)?;
    let origin = origin_of(store)?;
    Ok(NoteSigner::new(&origin, key)
        .map_err(|e| LedgerError::Config(format!("origin {origin:?}: {e}")))?
        .verifier_key())
}

fn origin_of(store: &Store) -> Result<String, LedgerError> {
    store
        .meta(META_ORIGIN)?
        .and_then(|o| String::from_utf8(o).ok())
        .ok_or_else(|| StoreError::Corrupt("the store has no origin".into()).into())
}

/// Checkpoints `store` into `out/db` and writes the manifest, both synced.
fn write_backup(
    store: &Store,
    verifier: &VerifierKey,
    out: &Path,
) -> Result<Manifest, LedgerError> {
    let io = |what: &str, e: std::io::Error| LedgerError::Io(format!("{what}: {e}"));
    fs::create_dir_all(out).map_err(|e| io(&format!("cannot create {}", out.display()), e))?;
    let copy = out.join(ledger::DB_DIR);
    store.checkpoint_to(&copy)?;
    sync_tree(&copy).map_err(|e| io("cannot sync the backup", e))?;
    // The manifest describes the copy, read back from it: what was copied is what it says.
    let copied = Store::open_existing(&copy)?;
    let size = copied.size()?;
    let note = copied
        .meta(META_CHECKPOINT)?
        .and_then(|n| String::from_utf8(n).ok())
        .unwrap_or_default();
    let manifest = Manifest {
        format: FORMAT.into(),
        origin: origin_of(&copied)?,
        verifier_key: verifier.to_string(),
        size,
        checkpoint: note,
        created: time::OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
    };
    drop(copied);
    let path = out.join(MANIFEST);
    let mut f = fs::File::create(&path).map_err(|e| io("cannot write the manifest", e))?;
    f.write_all(&serde_json::to_vec_pretty(&manifest).map_err(|e| LedgerError::Io(e.to_string()))?)
        .and_then(|()| f.sync_all())
        .map_err(|e| io("cannot write the manifest", e))?;
    fs::File::open(out)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync the backup directory", e))?;
    Ok(manifest)
}

/// fsyncs every file of `dir` and the directory itself.
fn sync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            fs::File::open(entry.path())?.sync_all()?;
        }
    }
    fs::File::open(dir)?.sync_all()
}

/// Restores the backup in `from` into `data` (which must not hold a ledger), with the log's
/// key from `log_key`, then checks the result end to end with `fsck`.
pub fn restore(
    from: &Path,
    data: &Path,
    log_key: &Path,
) -> Result<ledger::FsckReport, LedgerError> {
    let manifest: Manifest = {
        let path = from.join(MANIFEST);
        let bytes = fs::read(&path).map_err(|e| {
            LedgerError::Config(format!("{} is not a lotline backup: {e}", from.display()))
        })?;
        serde_json::from_slice(&bytes)
            .map_err(|e| LedgerError::Config(format!("{}: {e}", path.display())))?
    };
    check_format(&manifest.format)?;
    let key_bytes = fs::read(log_key)
        .map_err(|e| LedgerError::Config(format!("cannot read {}: {e}", log_key.display())))?;
    let key = ledger::read_key_file(log_key, &key_bytes)?;
    let verifier = NoteSigner::new(&manifest.origin, key.clone())
        .map_err(|e| LedgerError::Config(format!("origin {:?}: {e}", manifest.origin)))?
        .verifier_key();
    if verifier.to_string() != manifest.verifier_key {
        return Err(LedgerError::Config(format!(
            "{} is not this log's key: the backup's log verifies with {}",
            log_key.display(),
            manifest.verifier_key
        )));
    }
    if db_path(data).exists() {
        return Err(LedgerError::Config(format!(
            "{} already holds a ledger; restore into a new directory",
            data.display()
        )));
    }
    let io = |what: String, e: std::io::Error| LedgerError::Io(format!("{what}: {e}"));
    let target = db_path(data);
    fs::create_dir_all(&target)
        .map_err(|e| io(format!("cannot create {}", target.display()), e))?;
    let source = from.join(ledger::DB_DIR);
    for entry in
        fs::read_dir(&source).map_err(|e| io(format!("cannot read {}", source.display()), e))?
    {
        let entry = entry.map_err(|e| io("reading the backup".into(), e))?;
        if entry
            .file_type()
            .map_err(|e| io("reading the backup".into(), e))?
            .is_file()
        {
            fs::copy(entry.path(), target.join(entry.file_name()))
                .map_err(|e| io(format!("cannot copy {}", entry.path().display()), e))?;
        }
    }
    sync_tree(&target).map_err(|e| io("cannot sync the restored store".into(), e))?;
    ledger::write_key_file(&data.join(ledger::LOG_KEY_FILE), &key, false)?;
    fs::File::open(data)
        .and_then(|d| d.sync_all())
        .map_err(|e| io(format!("cannot sync {}", data.display()), e))?;
    // The checkpoint in the backup must still open under the key before anything is served.
    if !manifest.checkpoint.is_empty() {
        let text = tlog::note::open(&manifest.checkpoint, &verifier)
            .map_err(|e| LedgerError::Config(format!("the backup's checkpoint: {e}")))?;
        Checkpoint::parse(&text)
            .map_err(|e| LedgerError::Config(format!("the backup's checkpoint: {e}")))?;
    }
    ledger::fsck(data)
}

/// Listens on `data/admin.sock` for backup requests while a server runs. Holds the ledger
/// weakly: it never keeps a stopped ledger alive. Dropping it stops the listener and waits for
/// a backup being written to finish, so that none is cut off by the process's exit.
pub struct AdminSocket {
    path: PathBuf,
    /// The listener, to wake the thread blocked in `accept` when dropped.
    listener: UnixListener,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl AdminSocket {
    pub fn start(data: &Path, ledger: &Arc<Ledger>) -> Result<AdminSocket, LedgerError> {
        let path = data.join(ADMIN_SOCKET);
        // A socket left by a server that crashed; the store's lock already proved none runs.
        let _ = fs::remove_file(&path);
        let listener = UnixListener::bind(&path)
            .map_err(|e| LedgerError::Io(format!("cannot listen on {}: {e}", path.display())))?;
        {
            use std::os::unix::fs::PermissionsExt as _;
            fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                .map_err(|e| LedgerError::Io(format!("{}: {e}", path.display())))?;
        }
        let weak = Arc::downgrade(ledger);
        let data = data.to_owned();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let accepting = listener
            .try_clone()
            .map_err(|e| LedgerError::Io(format!("{}: {e}", path.display())))?;
        let thread = std::thread::Builder::new()
            .name("lotline-admin".into())
            .spawn(move || {
                for conn in accepting.incoming() {
                    if stopped.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(conn) = conn else { continue };
                    let Some(ledger) = Weak::upgrade(&weak) else {
                        return;
                    };
                    if let Err(e) = answer(&data, &ledger, conn) {
                        tracing::warn!(error = %e, "admin socket request failed");
                    }
                }
            })
            .map_err(|e| LedgerError::Io(format!("cannot start the admin thread: {e}")))?;
        Ok(AdminSocket {
            path,
            listener,
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for AdminSocket {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the thread's `accept` (Linux returns EINVAL from it); the thread sees the
        // flag and ends, after the request it may be answering.
        {
            use std::os::fd::AsRawFd as _;
            // SAFETY: shutdown takes a descriptor this value owns, open until it is dropped.
            unsafe { libc::shutdown(self.listener.as_raw_fd(), libc::SHUT_RDWR) };
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::error!("the admin socket's thread panicked");
        }
    }
}

/// The request is one line of JSON (`{"backup": "<dir>"}`), the answer one line of JSON
/// (`{"ok": manifest}` or `{"error": "..."}`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    backup: PathBuf,
}

fn answer(data: &Path, ledger: &Ledger, conn: UnixStream) -> std::io::Result<()> {
    let mut line = String::new();
    BufReader::new(&conn).read_line(&mut line)?;
    let result = match serde_json::from_str::<Request>(&line) {
        Ok(req) if req.backup.exists() => Err(format!(
            "{} exists; a backup goes into a new directory",
            req.backup.display()
        )),
        Ok(req) => verifier_of(data, ledger.store())
            .and_then(|verifier| write_backup(ledger.store(), &verifier, &req.backup))
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!("bad request: {e}")),
    };
    let reply = match result {
        Ok(m) => serde_json::json!({ "ok": m }),
        Err(e) => serde_json::json!({ "error": e }),
    };
    let mut w = &conn;
    w.write_all(reply.to_string().as_bytes())?;
    w.write_all(b"\n")
}

fn ask_server(data: &Path, out: &Path) -> Result<Manifest, LedgerError> {
    let path = data.join(ADMIN_SOCKET);
    let conn = UnixStream::connect(&path).map_err(|e| {
        LedgerError::Io(format!(
            "the ledger in {} is open in another process, and its admin socket {} does not answer ({e})",
            data.display(),
            path.display()
        ))
    })?;
    // The server resolves the path itself: make it absolute here.
    let out = std::path::absolute(out).map_err(|e| LedgerError::Io(e.to_string()))?;
    let mut w = &conn;
    let req = serde_json::json!({ "backup": out });
    w.write_all(req.to_string().as_bytes())
        .and_then(|()| w.write_all(b"\n"))
        .map_err(|e| LedgerError::Io(format!("admin socket: {e}")))?;
    let mut line = String::new();
    BufReader::new(&conn)
        .read_line(&mut line)
        .map_err(|e| LedgerError::Io(format!("admin socket: {e}")))?;
    #[derive(Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Reply {
        Ok(Manifest),
        Error(String),
    }
    match serde_json::from_str::<Reply>(&line) {
        Ok(Reply::Ok(m)) => Ok(m),
        Ok(Reply::Error(e)) => Err(LedgerError::Io(format!("the server: {e}"))),
        Err(e) => Err(LedgerError::Io(format!(
            "admin socket answered {line:?}: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backups_restore_in_their_own_format_and_the_earlier_ones() {
        assert_eq!(FORMAT, "lotline-backup/3");
        for ok in ["lotline-backup/1", "lotline-backup/2", "lotline-backup/3"] {
            assert!(check_format(ok).is_ok(), "{ok}");
        }
        for refused in ["lotline-backup/4", "lotline-backup/", ""] {
            let e = check_format(refused).unwrap_err().to_string();
            assert!(
                e.contains(&format!("{refused:?}"))
                    && e.contains("lotline-backup/1, lotline-backup/2, lotline-backup/3"),
                "{e}"
            );
        }
    }
}
