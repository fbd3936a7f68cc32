//! `verify-consistency`: lets a buyer who kept an older signed checkpoint check that the log only
//! grew since — that the old checkpoint's tree is a prefix of the current one (RFC 9162 §2.1.4) —
//! trusting nothing but the log's verifier key.
//!
//! [`check`] is the whole decision and does no I/O, so it is tested on its own; the rest reads
//! files, talks to the server and maps the outcome to the exit codes every command uses.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, anyhow, bail};
use serde_json::Value;

use super::{Client, describe_problem};
use lotline_profile::entry::b64_hash;
use tlog::merkle::{self, Hash};
use tlog::note::{self, Checkpoint, VerifierKey};

/// The largest checkpoint, proof or key file read (and server answer accepted). A checkpoint with
/// the 100 signatures a note may carry is about 10 KiB and a proof under 4 KiB, so this only
/// stops a wrong file (or a hostile server) from being read into memory whole.
pub const MAX_INPUT_BYTES: usize = 1 << 20;

/// Most hashes in a consistency proof: between trees of at most 2^64 leaves it is an inclusion
/// path of at most 64 hashes plus the one the path starts from.
pub const MAX_CONSISTENCY_HASHES: usize = note::MAX_PROOF_HASHES + 1;

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("key").args(["log_key", "log_key_file"]).required(true)))]
pub struct Args {
    /// The log's verifier key, `<origin>+<key id>+<base64>` (see GET /v1/log, or the line
    /// `serve` prints). Exactly one of --log-key and --log-key-file.
    #[arg(long, value_name = "VKEY")]
    log_key: Option<String>,
    /// A file holding the verifier key on one line.
    #[arg(long, value_name = "FILE")]
    log_key_file: Option<PathBuf>,
    /// The older signed checkpoint you kept (what GET /v1/checkpoint returned then).
    #[arg(long, value_name = "FILE")]
    old: PathBuf,
    /// Server mode: fetch the current checkpoint and the proof from this server, e.g.
    /// http://127.0.0.1:8080.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "new",
        conflicts_with_all = ["new", "proof"]
    )]
    server: Option<String>,
    /// Offline mode: the newer signed checkpoint.
    #[arg(long, value_name = "FILE")]
    new: Option<PathBuf>,
    /// Offline mode: the consistency proof from the old checkpoint's size to the new one's,
    /// exactly the JSON GET /v1/proofs/consistency?from=OLD&to=NEW answers. Required unless the
    /// old checkpoint is of the empty log, which every tree extends.
    #[arg(long, value_name = "FILE", requires = "new")]
    proof: Option<PathBuf>,
    /// Server mode: write the server's checkpoint here (only if the check passes, so it can
    /// replace the --old file for next time).
    #[arg(long, value_name = "FILE", requires = "server")]
    save_new: Option<PathBuf>,
    /// Server mode: write the fetched proof here (only if the check passes), for checking again
    /// offline with --new and --proof.
    #[arg(long, value_name = "FILE", requires = "server")]
    save_proof: Option<PathBuf>,
    /// Server mode: retries after network errors or 503 answers, with back-off.
    #[arg(long, default_value_t = 2)]
    retries: u32,
}

/// A consistency proof as `GET /v1/proofs/consistency` answers it:
/// `{"from": M, "to": N, "fromRootHash": b64, "toRootHash": b64, "hashes": [b64, …]}`.
///
/// The two root hashes are read past on purpose: the server does not sign them, so the roots
/// come from the signed checkpoints alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsistencyProof {
    pub from: u64,
    pub to: u64,
    pub hashes: Vec<Hash>,
}

impl ConsistencyProof {
    /// Parses the endpoint's JSON strictly (no duplicate member names). `Err` says what is
    /// wrong with it: such a file is not a proof at all, so the caller cannot tell anything.
    pub fn parse(bytes: &[u8]) -> Result<ConsistencyProof, String> {
        let value = data_integrity::json::parse(bytes, &data_integrity::json::Limits::default())
            .map_err(|e| e.to_string())?;
        let obj = value
            .as_object()
            .ok_or("it is not a JSON object with from, to and hashes")?;
        let size = |name: &str| {
            obj.get(name)
                .ok_or(format!("it has no {name:?} member"))?
                .as_u64()
                .ok_or(format!("{name:?} is not a tree size (an integer ≥ 0)"))
        };
        let (from, to) = (size("from")?, size("to")?);
        let list = obj
            .get("hashes")
            .and_then(Value::as_array)
            .ok_or("\"hashes\" is missing or not an array")?;
        if list.len() > MAX_CONSISTENCY_HASHES {
            return Err(format!(
                "\"hashes\" has {} entries; no consistency proof has more than {MAX_CONSISTENCY_HASHES}",
                list.len()
            ));
        }
        let hashes = list
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let s = h
                    .as_str()
                    .ok_or(format!("hashes[{i}] is not a base64 string"))?;
                b64_hash::decode(s).map_err(|e| format!("hashes[{i}]: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ConsistencyProof { from, to, hashes })
    }
}

/// Where each input came from, so that a failure names the file or URL to look at.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub old: &'a str,
    pub new: &'a str,
    pub proof: &'a str,
}

/// What a passed check establishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub origin: String,
    pub old_size: u64,
    pub new_size: u64,
    pub old_root: Hash,
    pub new_root: Hash,
}

impl Report {
    /// The one line printed on success.
    pub fn summary(&self) -> String {
        if self.old_size == self.new_size {
            format!(
                "consistent: log {} still has {} with the same root; the old checkpoint's tree is the new one",
                self.origin,
                entries(self.new_size)
            )
        } else {
            format!(
                "consistent: log {} grew from {} to {}; the old checkpoint's tree is a prefix of the new one",
                self.origin,
                self.old_size,
                entries(self.new_size)
            )
        }
    }
}

/// "1 entry", "2 entries".
fn entries(n: u64) -> String {
    if n == 1 {
        "1 entry".to_owned()
    } else {
        format!("{n} entries")
    }
}

/// Verifies a signed checkpoint note with the log's key and checks it is for the key's log.
/// `what` names it in the reason, which starts with `invalid:`.
pub fn open_checkpoint(key: &VerifierKey, what: &str, text: &str) -> Result<Checkpoint, String> {
    let body = note::open(text, key).map_err(|e| format!("invalid: {what}: {e}"))?;
    let cp = Checkpoint::parse(&body).map_err(|e| format!("invalid: {what}: {e}"))?;
    // The log signs under its origin, so a valid signature already implies it; checked anyway,
    // because the key name is only a label and the origin is what the tree is bound to.
    if cp.origin != key.name {
        return Err(format!(
            "invalid: {what} is for log {:?}, but the key is for log {:?}",
            cp.origin, key.name
        ));
    }
    Ok(cp)
}

/// Decides whether the tree of the `old` checkpoint note is a prefix of the tree of the `new`
/// one, with `proof` between their sizes (not needed when the old tree is empty). Both notes
/// must be signed by `key` for its origin; the roots compared are the signed ones.
///
/// `Err` is the definite negative, a line starting with `invalid:` (a checkpoint or the proof is
/// not what it claims to be) or `inconsistent:` (the signed trees do not extend one another, or
/// the proof does not show that they do).
pub fn check(
    key: &VerifierKey,
    sources: Sources<'_>,
    old: &str,
    new: &str,
    proof: Option<&ConsistencyProof>,
) -> Result<Report, String> {
    let old_cp = open_checkpoint(key, sources.old, old)?;
    let new_cp = open_checkpoint(key, sources.new, new)?;
    for (cp, what) in [(&old_cp, sources.old), (&new_cp, sources.new)] {
        // The empty tree has one root; a signed head claiming another is a corrupt head that no
        // proof could ever relate to anything.
        if cp.size == 0 && cp.root != merkle::EMPTY_ROOT {
            return Err(format!(
                "inconsistent: {what} is for the empty tree but its root {} is not the empty tree's ({})",
                b64_hash::encode(&cp.root),
                b64_hash::encode(&merkle::EMPTY_ROOT)
            ));
        }
    }
    if new_cp.size < old_cp.size {
        return Err(format!(
            "inconsistent: {} has {}, fewer than the {} of {}: a log only grows, so the log was rolled back or the two checkpoints are swapped",
            sources.new,
            entries(new_cp.size),
            old_cp.size,
            sources.old
        ));
    }
    if let Some(p) = proof
        && (p.from != old_cp.size || p.to != new_cp.size)
    {
        return Err(format!(
            "invalid: {} is a proof from tree size {} to {}, but the checkpoints are for sizes {} and {}",
            sources.proof, p.from, p.to, old_cp.size, new_cp.size
        ));
    }
    let report = Report {
        origin: old_cp.origin.clone(),
        old_size: old_cp.size,
        new_size: new_cp.size,
        old_root: old_cp.root,
        new_root: new_cp.root,
    };
    // Every tree extends the empty tree; RFC 9162 defines no proof for it, and the server
    // serves none.
    if old_cp.size == 0 {
        if let Some(p) = proof
            && !p.hashes.is_empty()
        {
            return Err(format!(
                "invalid: {} has {} hashes, but nothing is to be proved from the empty tree",
                sources.proof,
                p.hashes.len()
            ));
        }
        return Ok(report);
    }
    let Some(p) = proof else {
        return Err(format!(
            "invalid: no consistency proof from size {} to {} was given",
            old_cp.size, new_cp.size
        ));
    };
    merkle::verify_consistency(
        old_cp.size,
        new_cp.size,
        &old_cp.root,
        &new_cp.root,
        &p.hashes,
    )
    .map_err(|e| {
        format!(
            "inconsistent: {} does not show that {} (size {}) is a prefix of {} (size {}): {e}",
            sources.proof, sources.old, old_cp.size, sources.new, new_cp.size
        )
    })?;
    Ok(report)
}

/// The log's verifier key from `--log-key`, or from `--log-key-file` (one line); exactly one.
pub(super) fn log_key(key: Option<&str>, file: Option<&Path>) -> Result<VerifierKey> {
    match (key, file) {
        (Some(k), None) => VerifierKey::parse(k).map_err(|e| anyhow!("--log-key: {e}")),
        (None, Some(path)) => {
            let text = read_text(path, "the log key file")?;
            let line = one_line(&text).with_context(|| format!("{}", path.display()))?;
            VerifierKey::parse(line).map_err(|e| anyhow!("{}: {e}", path.display()))
        }
        // clap enforces exactly one; kept as an error rather than a panic.
        _ => bail!("give exactly one of --log-key and --log-key-file"),
    }
}

/// Runs the command: 0 consistent, 1 a definite negative, 2 could not tell.
pub fn run(args: Args) -> Result<ExitCode> {
    let key = log_key(args.log_key.as_deref(), args.log_key_file.as_deref())?;
    let old = read_text(&args.old, "the old checkpoint")?;
    let old_name = format!("the old checkpoint {}", args.old.display());
    match (&args.server, &args.new) {
        (Some(server), None) => online(&args, &key, server, &old, &old_name),
        (None, Some(new_path)) => {
            let new = read_text(new_path, "the new checkpoint")?;
            let proof = match &args.proof {
                Some(path) => Some(read_proof(path)?),
                // Only the empty old tree needs no proof; an old checkpoint that does not open is
                // left to `check`, which says why.
                None => match open_checkpoint(&key, &old_name, &old) {
                    Ok(cp) if cp.size > 0 => bail!(
                        "--proof is required: the old checkpoint is for {}, so the log must prove \
                         that its new tree extends that one",
                        entries(cp.size)
                    ),
                    _ => None,
                },
            };
            let (new_name, proof_name) = (
                format!("the new checkpoint {}", new_path.display()),
                match &args.proof {
                    Some(p) => format!("the proof {}", p.display()),
                    None => "the proof".to_owned(),
                },
            );
            let sources = Sources {
                old: &old_name,
                new: &new_name,
                proof: &proof_name,
            };
            Ok(verdict(check(&key, sources, &old, &new, proof.as_ref())))
        }
        _ => bail!("give either --server, or --new and --proof"),
    }
}

/// Server mode: fetch the current checkpoint and the proof to it, check, and keep them if asked.
fn online(
    args: &Args,
    key: &VerifierKey,
    server: &str,
    old: &str,
    old_name: &str,
) -> Result<ExitCode> {
    let client = Client::new(server, args.retries)?;
    // The proof's sizes come from the signed checkpoints, so both are opened first; a negative
    // here needs no proof (and the server would not serve one for sizes that do not grow).
    let old_cp = match open_checkpoint(key, old_name, old) {
        Ok(cp) => cp,
        Err(reason) => return Ok(verdict(Err(reason))),
    };
    let new_url = format!("{}/v1/checkpoint", server.trim_end_matches('/'));
    let new = fetch(&client, "/v1/checkpoint")?;
    let new_name = format!("the server's checkpoint ({new_url})");
    let new_cp = match open_checkpoint(key, &new_name, &new) {
        Ok(cp) => cp,
        Err(reason) => return Ok(verdict(Err(reason))),
    };
    let path = format!(
        "/v1/proofs/consistency?from={}&to={}",
        old_cp.size, new_cp.size
    );
    let proof_name = format!(
        "the server's proof ({}{path})",
        server.trim_end_matches('/')
    );
    let proof_text = if old_cp.size > 0 && new_cp.size >= old_cp.size {
        Some(fetch(&client, &path)?)
    } else {
        None
    };
    let proof = match &proof_text {
        Some(text) => Some(
            ConsistencyProof::parse(text.as_bytes())
                .map_err(|e| anyhow!("{proof_name} is not a consistency proof: {e}"))?,
        ),
        None => None,
    };
    let sources = Sources {
        old: old_name,
        new: &new_name,
        proof: &proof_name,
    };
    let result = check(key, sources, old, &new, proof.as_ref());
    if result.is_ok() {
        // Saved only once the check passed: --save-new may well be the --old file, and a
        // checkpoint that failed must not replace the one it failed against.
        if let Some(path) = &args.save_new {
            save(path, new.as_bytes())?;
        }
        match (&args.save_proof, &proof_text) {
            (Some(path), Some(text)) => save(path, text.as_bytes())?,
            (Some(path), None) => eprintln!(
                "lotline: {} not written: nothing is to be proved from the empty tree",
                path.display()
            ),
            _ => {}
        }
    }
    Ok(verdict(result))
}

/// Prints the outcome and gives its exit code.
fn verdict(result: Result<Report, String>) -> ExitCode {
    match result {
        Ok(report) => {
            println!("{}", report.summary());
            ExitCode::SUCCESS
        }
        Err(reason) => {
            println!("{reason}");
            ExitCode::from(1)
        }
    }
}

/// GETs `path`; anything but a 200 is the server failing to answer, not a negative.
fn fetch(client: &Client, path: &str) -> Result<String> {
    let (status, body) = client.get_text(path)?;
    if status != 200 {
        let why = match serde_json::from_str::<Value>(&body) {
            Ok(problem) => describe_problem(&problem),
            Err(_) => excerpt(&body),
        };
        bail!("GET {}{path} answered {status}: {why}", client.base);
    }
    if body.len() > MAX_INPUT_BYTES {
        bail!(
            "GET {}{path} answered more than {MAX_INPUT_BYTES} bytes",
            client.base
        );
    }
    Ok(body)
}

fn read_proof(path: &Path) -> Result<ConsistencyProof> {
    let text = read_text(path, "the proof")?;
    ConsistencyProof::parse(text.as_bytes()).map_err(|e| {
        anyhow!(
            "{} is not a consistency proof (the JSON of GET /v1/proofs/consistency): {e}",
            path.display()
        )
    })
}

/// Reads a UTF-8 file of at most [`MAX_INPUT_BYTES`].
fn read_text(path: &Path, what: &str) -> Result<String> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(MAX_INPUT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    if bytes.len() > MAX_INPUT_BYTES {
        bail!(
            "{what} {} is larger than {MAX_INPUT_BYTES} bytes; is it the right file?",
            path.display()
        );
    }
    String::from_utf8(bytes).map_err(|_| anyhow!("{what} {} is not UTF-8 text", path.display()))
}

/// The single line of a key file, without its line ending.
fn one_line(text: &str) -> Result<&str> {
    let line = text.trim();
    if line.is_empty() {
        bail!("the key file is empty");
    }
    if line.contains('\n') {
        bail!("the key file must hold the verifier key on one line, and nothing else");
    }
    Ok(line)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so that
/// replacing the --old file never leaves half a checkpoint behind.
fn save(path: &Path, bytes: &[u8]) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("cannot save to {}: not a file name", path.display()))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        anyhow!("cannot save {}: {e}", path.display())
    })
}

/// At most 200 characters of a server answer, for an error message.
fn excerpt(s: &str) -> String {
    let mut cut: String = s.chars().take(200).collect();
    if cut.len() < s.len() {
        cut.push('…');
    }
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use tlog::merkle::{leaf_hash, node_hash};
    use tlog::note::NoteSigner;

    const ORIGIN: &str = "example.test/log";
    const SOURCES: Sources<'static> = Sources {
        old: "old",
        new: "new",
        proof: "proof",
    };

    fn signer(seed: u8, origin: &str) -> NoteSigner {
        NoteSigner::new(origin, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
    }

    /// RFC 9162 MTH, written out recursively and independently of the ledger's node store.
    fn mth(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => merkle::EMPTY_ROOT,
            1 => leaves[0],
            n => {
                // The largest power of two below n.
                let k = n.next_power_of_two() / 2;
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    /// RFC 9162 §2.1.4.1 SUBPROOF, recursively.
    fn subproof(m: usize, leaves: &[Hash], complete: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if complete { vec![] } else { vec![mth(leaves)] };
        }
        let k = n.next_power_of_two() / 2;
        if m <= k {
            let mut p = subproof(m, &leaves[..k], complete);
            p.push(mth(&leaves[k..]));
            p
        } else {
            let mut p = subproof(m - k, &leaves[k..], false);
            p.push(mth(&leaves[..k]));
            p
        }
    }

    fn note(s: &NoteSigner, size: u64, root: Hash) -> String {
        s.sign_checkpoint(&Checkpoint {
            origin: s.name().to_owned(),
            size,
            root,
        })
        .unwrap()
    }

    /// Signed notes for sizes `m` and `n` of one log and the proof between them.
    fn fixture(m: u64, n: u64) -> (VerifierKey, String, String, ConsistencyProof) {
        let s = signer(1, ORIGIN);
        let all = leaves(n);
        let old = note(&s, m, mth(&all[..m as usize]));
        let new = note(&s, n, mth(&all));
        let hashes = if m == 0 {
            vec![]
        } else {
            subproof(m as usize, &all, true)
        };
        let proof = ConsistencyProof {
            from: m,
            to: n,
            hashes,
        };
        (s.verifier_key(), old, new, proof)
    }

    #[test]
    fn consistent_trees_pass() {
        for (m, n) in [
            (1, 1),
            (1, 2),
            (3, 7),
            (4, 8),
            (5, 5),
            (6, 13),
            (8, 9),
            (12, 40),
        ] {
            let (key, old, new, proof) = fixture(m, n);
            let report = check(&key, SOURCES, &old, &new, Some(&proof))
                .unwrap_or_else(|e| panic!("{m}->{n}: {e}"));
            assert_eq!((report.old_size, report.new_size), (m, n));
            assert_eq!(report.origin, ORIGIN);
            assert!(
                report
                    .summary()
                    .starts_with("consistent: log example.test/log")
            );
        }
        let (key, old, new, proof) = fixture(1, 1);
        assert_eq!(
            check(&key, SOURCES, &old, &new, Some(&proof))
                .unwrap()
                .summary(),
            "consistent: log example.test/log still has 1 entry with the same root; the old checkpoint's tree is the new one"
        );
        let (key, old, new, proof) = fixture(12, 40);
        assert_eq!(
            check(&key, SOURCES, &old, &new, Some(&proof))
                .unwrap()
                .summary(),
            "consistent: log example.test/log grew from 12 to 40 entries; the old checkpoint's tree is a prefix of the new one"
        );
    }

    #[test]
    fn empty_old_tree_needs_no_proof() {
        let (key, old, new, _) = fixture(0, 5);
        assert!(check(&key, SOURCES, &old, &new, None).is_ok());
        let padded = ConsistencyProof {
            from: 0,
            to: 5,
            hashes: vec![[0; 32]],
        };
        let e = check(&key, SOURCES, &old, &new, Some(&padded)).unwrap_err();
        assert!(e.starts_with("invalid: proof has 1 hashes"), "{e}");
        // A signed "empty" head with another root is corrupt.
        let s = signer(1, ORIGIN);
        let bad = note(&s, 0, [7; 32]);
        let e = check(&key, SOURCES, &bad, &new, None).unwrap_err();
        assert!(
            e.starts_with("inconsistent: old is for the empty tree"),
            "{e}"
        );
    }

    #[test]
    fn missing_proof_is_refused() {
        let (key, old, new, _) = fixture(3, 7);
        let e = check(&key, SOURCES, &old, &new, None).unwrap_err();
        assert!(e.starts_with("invalid: no consistency proof"), "{e}");
    }

    #[test]
    fn tampered_checkpoints_name_the_signature() {
        let (key, old, new, proof) = fixture(3, 7);
        // One character of the old root changed, keeping it valid base64.
        let root_line = old.lines().nth(2).unwrap().to_owned();
        let mut changed = root_line.clone().into_bytes();
        changed[5] = if changed[5] == b'A' { b'B' } else { b'A' };
        let tampered = old.replacen(&root_line, std::str::from_utf8(&changed).unwrap(), 1);
        let e = check(&key, SOURCES, &tampered, &new, Some(&proof)).unwrap_err();
        assert!(e.starts_with("invalid: old: signature by"), "{e}");
        // The new note's signature changed.
        let sig_line = new.lines().last().unwrap().to_owned();
        let mut sig = sig_line.clone().into_bytes();
        let at = sig.len() - 10;
        sig[at] = if sig[at] == b'A' { b'B' } else { b'A' };
        let tampered = new.replacen(&sig_line, std::str::from_utf8(&sig).unwrap(), 1);
        let e = check(&key, SOURCES, &old, &tampered, Some(&proof)).unwrap_err();
        assert!(e.starts_with("invalid: new: signature by"), "{e}");
        // Not a note at all.
        let e = check(&key, SOURCES, "hello\n", &new, Some(&proof)).unwrap_err();
        assert!(e.starts_with("invalid: old: "), "{e}");
    }

    #[test]
    fn another_log_is_refused() {
        let (key, old, new, proof) = fixture(3, 7);
        // Same origin, another key: no signature by the trusted key.
        let other = signer(2, ORIGIN);
        let foreign = note(&other, 3, [1; 32]);
        let e = check(&key, SOURCES, &foreign, &new, Some(&proof)).unwrap_err();
        assert!(
            e.starts_with("invalid: old: note carries no signature by"),
            "{e}"
        );
        // Signed by the trusted key's private half under another name: the origin differs.
        let renamed = signer(1, "elsewhere.test/log");
        let e = check(&renamed.verifier_key(), SOURCES, &old, &new, Some(&proof)).unwrap_err();
        assert!(e.contains("no signature by elsewhere.test/log"), "{e}");
        // A key whose name is not the checkpoint's origin, though the signature is its own.
        let liar = signer(3, "a.test/log");
        let cp = liar
            .sign(
                &Checkpoint {
                    origin: "b.test/log".into(),
                    size: 3,
                    root: [1; 32],
                }
                .to_text(),
            )
            .unwrap();
        let e = open_checkpoint(&liar.verifier_key(), "old", &cp).unwrap_err();
        assert!(
            e.contains("is for log \"b.test/log\", but the key is for log \"a.test/log\""),
            "{e}"
        );
    }

    #[test]
    fn shrinking_or_swapped_is_inconsistent() {
        let (key, old, new, proof) = fixture(3, 7);
        let e = check(&key, SOURCES, &new, &old, Some(&proof)).unwrap_err();
        assert!(
            e.starts_with("inconsistent: new has 3 entries, fewer than the 7 of old"),
            "{e}"
        );
    }

    #[test]
    fn same_size_needs_same_root() {
        let s = signer(1, ORIGIN);
        let key = s.verifier_key();
        let (a, b) = (note(&s, 4, [1; 32]), note(&s, 4, [2; 32]));
        let empty = ConsistencyProof {
            from: 4,
            to: 4,
            hashes: vec![],
        };
        assert!(check(&key, SOURCES, &a, &a, Some(&empty)).is_ok());
        let e = check(&key, SOURCES, &a, &b, Some(&empty)).unwrap_err();
        assert!(e.starts_with("inconsistent: proof does not show"), "{e}");
        assert!(e.contains("different roots"), "{e}");
    }

    #[test]
    fn a_forked_log_is_inconsistent() {
        // The log signs a head for 7 leaves whose first 3 are not the old head's.
        let s = signer(1, ORIGIN);
        let key = s.verifier_key();
        let honest = leaves(7);
        let mut forked = honest.clone();
        forked[1] = leaf_hash(b"rewritten");
        let old = note(&s, 3, mth(&honest[..3]));
        let new = note(&s, 7, mth(&forked));
        for hashes in [subproof(3, &honest, true), subproof(3, &forked, true)] {
            let proof = ConsistencyProof {
                from: 3,
                to: 7,
                hashes,
            };
            let e = check(&key, SOURCES, &old, &new, Some(&proof)).unwrap_err();
            assert!(
                e.starts_with("inconsistent: proof does not show that old (size 3)"),
                "{e}"
            );
        }
    }

    #[test]
    fn tampered_or_mismatched_proofs_are_refused() {
        let (key, old, new, proof) = fixture(6, 13);
        for i in 0..proof.hashes.len() {
            let mut bad = proof.clone();
            bad.hashes[i][0] ^= 1;
            let e = check(&key, SOURCES, &old, &new, Some(&bad)).unwrap_err();
            assert!(e.starts_with("inconsistent: proof does not show"), "{e}");
        }
        let mut short = proof.clone();
        short.hashes.pop();
        assert!(check(&key, SOURCES, &old, &new, Some(&short)).is_err());
        let mut other = proof.clone();
        other.to = 12;
        let e = check(&key, SOURCES, &old, &new, Some(&other)).unwrap_err();
        assert!(
            e.starts_with("invalid: proof is a proof from tree size 6 to 12, but the checkpoints are for sizes 6 and 13"),
            "{e}"
        );
    }

    #[test]
    fn proof_json_is_parsed_strictly() {
        let h = b64_hash::encode(&[9; 32]);
        let good = format!(
            r#"{{"from":3,"to":7,"fromRootHash":"x","toRootHash":"y","hashes":["{h}","{h}"]}}"#
        );
        let p = ConsistencyProof::parse(good.as_bytes()).unwrap();
        assert_eq!((p.from, p.to, p.hashes.len()), (3, 7, 2));
        // The unsigned roots are not read, so whatever they hold does not matter.
        assert_eq!(p.hashes[1], [9; 32]);
        for (bad, says) in [
            ("", "invalid JSON"),
            ("[]", "not a JSON object"),
            (r#"{"to":7,"hashes":[]}"#, "no \"from\""),
            (
                r#"{"from":-1,"to":7,"hashes":[]}"#,
                "\"from\" is not a tree size",
            ),
            (
                r#"{"from":1.5,"to":7,"hashes":[]}"#,
                "\"from\" is not a tree size",
            ),
            (
                r#"{"from":1,"to":"7","hashes":[]}"#,
                "\"to\" is not a tree size",
            ),
            (r#"{"from":1,"to":7}"#, "\"hashes\" is missing"),
            (
                r#"{"from":1,"to":7,"hashes":[1]}"#,
                "hashes[0] is not a base64 string",
            ),
            (
                r#"{"from":1,"to":7,"hashes":["AAAA"]}"#,
                "hashes[0]: a hash is 32 bytes",
            ),
            (
                r#"{"from":1,"to":7,"hashes":["!"]}"#,
                "hashes[0]: \"!\" is not standard base64",
            ),
            (
                r#"{"from":1,"from":2,"to":7,"hashes":[]}"#,
                "duplicate member name",
            ),
        ] {
            let e = ConsistencyProof::parse(bad.as_bytes()).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let many = format!(
            r#"{{"from":1,"to":7,"hashes":[{}]}}"#,
            vec![format!("{h:?}"); MAX_CONSISTENCY_HASHES + 1].join(",")
        );
        let e = ConsistencyProof::parse(many.as_bytes()).unwrap_err();
        assert!(e.contains("no consistency proof has more than"), "{e}");
    }

    #[test]
    fn key_file_holds_one_line() {
        assert_eq!(one_line("a+b+c\n").unwrap(), "a+b+c");
        assert_eq!(one_line("  a+b+c\r\n").unwrap(), "a+b+c");
        assert!(one_line("\n").is_err());
        assert!(one_line("a+b+c\nd+e+f\n").is_err());
    }
}
