//! C2SP signed notes (c2sp.org/signed-note), log checkpoints
//! (c2sp.org/tlog-checkpoint) and offline inclusion proofs
//! (c2sp.org/tlog-proof@v1), with Ed25519 keys.
//!
//! The log publishes its tree head as a checkpoint signed in the same format
//! as Go's sumdb, Sigstore and the Let's Encrypt CT logs, so existing
//! witnesses and monitors can check it, and hands out `.tlog-proof` files
//! that a buyer can verify offline against the log's verifier key.
//!
//! A note is `text` (ending in a newline), a blank line, then lines
//! `— <key name> base64(4-byte key ID ‖ signature)`. Signatures by keys we do
//! not know are ignored, as the specification requires, so witnesses can
//! add cosignatures without breaking anything.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Signature type byte of Ed25519 in key IDs and verifier keys.
pub const ALG_ED25519: u8 = 0x01;

/// First line of every tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";

/// Most signature lines we read in one note. The specification asks
/// verifiers to accept at least 16; 100 leaves room for many witnesses while
/// bounding the work an untrusted note can cause (Go's sumdb uses the same).
pub const MAX_SIGNATURES: usize = 100;

/// Most hashes in an inclusion proof: a tree of at most 2^64 leaves is at
/// most 64 levels deep.
pub const MAX_PROOF_HASHES: usize = 64;

/// Em dash (U+2014) and a space, which start every signature line.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Why a key, note, checkpoint or proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum NoteError {
    #[error("key name {name:?} is invalid: {reason}")]
    InvalidKeyName { name: String, reason: &'static str },

    #[error(
        "verifier key {found:?} is malformed: {reason}; expected <name>+<8 lower-case hex digits of key ID>+<base64 of 0x01 ‖ 32-byte Ed25519 key>"
    )]
    MalformedVerifierKey { found: String, reason: &'static str },

    #[error("verifier key algorithm byte is 0x{found:02x}; only Ed25519 (0x01) is supported")]
    UnsupportedAlgorithm { found: u8 },

    #[error(
        "verifier key {name:?} claims key ID {} but its name and public key give {}; the key string was altered",
        hex(.found), hex(.expected)
    )]
    KeyIdMismatch {
        name: String,
        expected: [u8; 4],
        found: [u8; 4],
    },

    #[error("verifier key's public key is unusable")]
    InvalidPublicKey(#[source] KeyError),

    #[error("note text must end with a newline")]
    TextNotNewlineTerminated,

    #[error(
        "control character U+{code:04X} at byte {offset}; signed notes may contain no control character but newline"
    )]
    ControlCharacter { offset: usize, code: u32 },

    #[error("note has no signature lines after a blank line, so it is not a signed note")]
    MissingSignatureBlock,

    #[error("signature line {line} of the note is malformed: {reason}")]
    MalformedSignatureLine { line: usize, reason: &'static str },

    #[error("note has more than {max} signature lines")]
    TooManySignatures { max: usize },

    #[error("note carries no signature by {name} with key ID {}", hex(.id))]
    NoSignature { name: String, id: [u8; 4] },

    #[error(
        "signature by {name} with key ID {} does not verify: the note was changed, or another key with the same name and ID signed it",
        hex(.id)
    )]
    BadSignature { name: String, id: [u8; 4] },

    #[error("checkpoint line {line} ({found:?}) is invalid: {reason}")]
    InvalidCheckpoint {
        line: usize,
        found: String,
        reason: &'static str,
    },

    #[error("tlog-proof line {line} ({found:?}) is invalid: {reason}")]
    InvalidProof {
        line: usize,
        found: String,
        reason: &'static str,
    },

    #[error("the checkpoint inside the tlog-proof is invalid")]
    InvalidProofCheckpoint(#[source] Box<NoteError>),
}

/// The key ID of an Ed25519 note key: the first four bytes of
/// SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key).
pub fn key_id(name: &str, key: &VerifyingKey) -> [u8; 4] {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update(b"\n")
        .chain_update([ALG_ED25519])
        .chain_update(key.as_bytes())
        .finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A key that verifies notes: the `<name>+<hex key ID>+<base64 key>` string
/// that logs publish and witnesses and clients configure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    pub name: String,
    pub id: [u8; 4],
    pub key: VerifyingKey,
}

impl VerifierKey {
    /// The verifier key for `name` and `key`, computing the key ID.
    pub fn new(name: &str, key: VerifyingKey) -> Result<VerifierKey, NoteError> {
        check_key_name(name)?;
        Ok(VerifierKey {
            name: name.to_owned(),
            id: key_id(name, &key),
            key,
        })
    }

    /// Parses `<name>+<8 hex digits>+<base64(0x01 ‖ key)>`, checking that the
    /// key ID matches the name and key, and that the key is a canonical,
    /// non-weak Ed25519 point.
    pub fn parse(s: &str) -> Result<VerifierKey, NoteError> {
        let malformed = |reason| NoteError::MalformedVerifierKey {
            found: excerpt(s),
            reason,
        };
        // The name has no '+', the ID is hex, and base64 may contain '+'.
        let mut parts = s.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("it does not have three '+'-separated parts"));
        };
        check_key_name(name)?;
        let id = parse_key_id(id_hex)
            .ok_or_else(|| malformed("the key ID is not 8 lower-case hex digits"))?;
        let raw = BASE64
            .decode(key64)
            .map_err(|_| malformed("the key is not standard padded base64"))?;
        let Some((&alg, key)) = raw.split_first() else {
            return Err(malformed("the key is empty"));
        };
        if alg != ALG_ED25519 {
            return Err(NoteError::UnsupportedAlgorithm { found: alg });
        }
        let key: &[u8; 32] = key
            .try_into()
            .map_err(|_| malformed("an Ed25519 key is 32 bytes after the algorithm byte"))?;
        let key = public_key_from_bytes(key).map_err(NoteError::InvalidPublicKey)?;
        let expected = key_id(name, &key);
        if id != expected {
            return Err(NoteError::KeyIdMismatch {
                name: name.to_owned(),
                expected,
                found: id,
            });
        }
        Ok(VerifierKey {
            name: name.to_owned(),
            id,
            key,
        })
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = [0u8; 33];
        raw[0] = ALG_ED25519;
        raw[1..].copy_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex(&self.id), BASE64.encode(raw))
    }
}

impl FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        VerifierKey::parse(s)
    }
}

/// Signs notes under a key name.
#[derive(Debug)]
pub struct NoteSigner {
    name: String,
    id: [u8; 4],
    key: SigningKey,
}

impl NoteSigner {
    /// A signer for `name`, which must be a valid key name (non-empty, no
    /// spaces, no '+'); for a log it should be the checkpoint origin.
    pub fn new(name: &str, key: SigningKey) -> Result<NoteSigner, NoteError> {
        check_key_name(name)?;
        Ok(NoteSigner {
            name: name.to_owned(),
            id: key_id(name, &key.verifying_key()),
            key,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key to publish for this signer.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey {
            name: self.name.clone(),
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs `text`, which must end in a newline and contain no control
    /// character other than newline, returning the signed note.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        if !text.ends_with('\n') {
            return Err(NoteError::TextNotNewlineTerminated);
        }
        check_no_control_chars(text)?;
        let signature = self.key.sign(text.as_bytes());
        let mut blob = [0u8; 68];
        blob[..4].copy_from_slice(&self.id);
        blob[4..].copy_from_slice(&signature.to_bytes());
        Ok(format!(
            "{text}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(blob)
        ))
    }

    /// Signs a checkpoint, refusing an origin that would not parse back
    /// (empty, or containing a newline or another control character).
    pub fn sign_checkpoint(&self, checkpoint: &Checkpoint) -> Result<String, NoteError> {
        let origin = &checkpoint.origin;
        if origin.is_empty() || origin.contains('\n') {
            return Err(NoteError::InvalidCheckpoint {
                line: 1,
                found: excerpt(origin),
                reason: "the origin must be a single non-empty line",
            });
        }
        // Other control characters are refused by `sign`.
        self.sign(&checkpoint.to_text())
    }
}

/// Verifies `note` against `key` and returns its text (with the final
/// newline, without the signatures).
///
/// Every signature line must be well-formed; those by other keys are ignored.
/// Every signature whose name and key ID are the key's must verify, and at
/// least one must be present.
pub fn open(note: &str, key: &VerifierKey) -> Result<String, NoteError> {
    let (text, signatures) = split_note(note)?;
    let mut found = false;
    for signature in signatures
        .iter()
        .filter(|s| s.name == key.name && s.id == key.id)
    {
        let bad = || NoteError::BadSignature {
            name: key.name.clone(),
            id: key.id,
        };
        let bytes: &[u8; 64] = signature
            .signature
            .as_slice()
            .try_into()
            .map_err(|_| bad())?;
        key.key
            .verify_strict(text.as_bytes(), &Signature::from_bytes(bytes))
            .map_err(|_| bad())?;
        found = true;
    }
    if !found {
        return Err(NoteError::NoSignature {
            name: key.name.clone(),
            id: key.id,
        });
    }
    Ok(text.to_owned())
}

/// One parsed signature line.
struct SignatureLine<'a> {
    name: &'a str,
    id: [u8; 4],
    signature: Vec<u8>,
}

/// Splits a note into its text and well-formed signature lines, without
/// verifying anything.
fn split_note(note: &str) -> Result<(&str, Vec<SignatureLine<'_>>), NoteError> {
    check_no_control_chars(note)?;
    // The text may contain blank lines; the signatures start after the last.
    let split = note.rfind("\n\n").ok_or(NoteError::MissingSignatureBlock)?;
    let (text, block) = (&note[..=split], &note[split + 2..]);
    if block.is_empty() {
        return Err(NoteError::MissingSignatureBlock);
    }
    let first_line = text.matches('\n').count() + 2;
    let Some(block) = block.strip_suffix('\n') else {
        return Err(NoteError::MalformedSignatureLine {
            line: first_line + block.matches('\n').count(),
            reason: "the last signature line does not end with a newline",
        });
    };
    let mut signatures = Vec::new();
    for (i, line) in block.split('\n').enumerate() {
        if i == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                max: MAX_SIGNATURES,
            });
        }
        let malformed = |reason| NoteError::MalformedSignatureLine {
            line: first_line + i,
            reason,
        };
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or_else(|| malformed("it does not start with an em dash (U+2014) and a space"))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("there is no space between key name and signature"))?;
        if check_key_name(name).is_err() {
            return Err(malformed("the key name is empty or has spaces or '+'"));
        }
        let blob = BASE64
            .decode(b64)
            .map_err(|_| malformed("the signature is not standard padded base64"))?;
        let Some((id, signature)) = blob.split_first_chunk::<4>() else {
            return Err(malformed("the signature is shorter than its 4-byte key ID"));
        };
        if signature.is_empty() {
            return Err(malformed(
                "the signature has a key ID but no signature bytes",
            ));
        }
        signatures.push(SignatureLine {
            name,
            id: *id,
            signature: signature.to_vec(),
        });
    }
    Ok((text, signatures))
}

/// A log's signed tree head: the note text of a tlog-checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `example.com/log42`; one non-empty line.
    pub origin: String,
    /// Number of leaves in the tree.
    pub size: u64,
    /// RFC 6962 Merkle tree hash at `size`.
    pub root: [u8; 32],
}

impl Checkpoint {
    /// The note text: origin, size and base64 root, each on its own line.
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parses checkpoint note text (as returned by [`open`]). Extension lines
    /// after the root hash must be non-empty and are otherwise ignored.
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        check_no_control_chars(text)?;
        let body = text
            .strip_suffix('\n')
            .ok_or(NoteError::TextNotNewlineTerminated)?;
        let mut lines = body.split('\n');
        let invalid = |line, found: &str, reason| NoteError::InvalidCheckpoint {
            line,
            found: excerpt(found),
            reason,
        };

        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(invalid(1, origin, "the origin is empty"));
        }
        let size_line = lines
            .next()
            .ok_or_else(|| invalid(2, "", "the tree size line is missing"))?;
        let size = parse_decimal(size_line).ok_or_else(|| {
            invalid(
                2,
                size_line,
                "the tree size must be decimal digits without leading zeros, at most 2^64-1",
            )
        })?;
        let root_line = lines
            .next()
            .ok_or_else(|| invalid(3, "", "the root hash line is missing"))?;
        let root = decode_hash(root_line).ok_or_else(|| {
            invalid(
                3,
                root_line,
                "the root hash must be 32 bytes in standard padded base64",
            )
        })?;
        for (i, extension) in lines.enumerate() {
            if extension.is_empty() {
                return Err(invalid(
                    4 + i,
                    extension,
                    "extension lines must be non-empty",
                ));
            }
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

/// An offline proof that an entry is in the log (c2sp.org/tlog-proof@v1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque application data; not authenticated by anything.
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry in the log.
    pub index: u64,
    /// RFC 6962 inclusion proof, from the leaf's sibling up to the root's child.
    pub hashes: Vec<[u8; 32]>,
    /// The signed checkpoint note, verbatim (possibly with cosignatures).
    pub checkpoint: String,
}

impl TlogProof {
    /// The `.tlog-proof` text.
    pub fn to_text(&self) -> String {
        let mut out = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            out.push_str("extra ");
            out.push_str(&BASE64.encode(extra));
            out.push('\n');
        }
        out.push_str(&format!("index {}\n", self.index));
        for hash in &self.hashes {
            out.push_str(&BASE64.encode(hash));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.checkpoint);
        out
    }

    /// Parses a `.tlog-proof`. The checkpoint must be a well-formed signed
    /// checkpoint note, but its signatures are not verified here: use
    /// [`TlogProof::open_checkpoint`] with the log's key.
    pub fn parse(text: &str) -> Result<TlogProof, NoteError> {
        let mut lines = NumberedLines {
            rest: text,
            number: 0,
        };
        let invalid = |line, found: &str, reason| NoteError::InvalidProof {
            line,
            found: excerpt(found),
            reason,
        };

        let header = lines.next();
        if header != Some(TLOG_PROOF_HEADER) {
            return Err(invalid(
                1,
                header.unwrap_or(text),
                "the first line must be c2sp.org/tlog-proof@v1",
            ));
        }

        let missing_index = |n| invalid(n, "", "the \"index <n>\" line is missing");
        let mut line = lines.next().ok_or_else(|| missing_index(2))?;
        let extra = match line.strip_prefix("extra ") {
            None => None,
            Some(b64) => {
                let extra = BASE64.decode(b64).map_err(|_| {
                    invalid(
                        lines.number,
                        line,
                        "extra data must be standard padded base64",
                    )
                })?;
                line = lines.next().ok_or_else(|| missing_index(3))?;
                Some(extra)
            }
        };
        let index = line
            .strip_prefix("index ")
            .and_then(parse_decimal)
            .ok_or_else(|| {
                invalid(
                    lines.number,
                    line,
                    "expected \"index <n>\" with n decimal, without leading zeros, at most 2^64-1",
                )
            })?;

        let mut hashes = Vec::new();
        loop {
            let line = lines.next().ok_or_else(|| {
                invalid(
                    lines.number + 1,
                    "",
                    "the blank line before the checkpoint is missing",
                )
            })?;
            if line.is_empty() {
                break;
            }
            if hashes.len() == MAX_PROOF_HASHES {
                return Err(invalid(
                    lines.number,
                    line,
                    "an inclusion proof has at most 64 hashes",
                ));
            }
            let hash = decode_hash(line).ok_or_else(|| {
                invalid(
                    lines.number,
                    line,
                    "proof hashes must be 32 bytes in standard padded base64",
                )
            })?;
            hashes.push(hash);
        }

        let checkpoint = lines.rest;
        let (checkpoint_text, _) =
            split_note(checkpoint).map_err(|e| NoteError::InvalidProofCheckpoint(Box::new(e)))?;
        Checkpoint::parse(checkpoint_text)
            .map_err(|e| NoteError::InvalidProofCheckpoint(Box::new(e)))?;

        Ok(TlogProof {
            extra,
            index,
            hashes,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// Verifies the checkpoint's signature by the log's key and parses it.
    /// The caller still has to check the inclusion proof against its root.
    pub fn open_checkpoint(&self, log_key: &VerifierKey) -> Result<Checkpoint, NoteError> {
        Checkpoint::parse(&open(&self.checkpoint, log_key)?)
    }
}

/// Newline-terminated lines with their 1-based numbers; an unterminated
/// last line is not returned, so a truncated proof is noticed.
struct NumberedLines<'a> {
    rest: &'a str,
    number: usize,
}

impl<'a> NumberedLines<'a> {
    fn next(&mut self) -> Option<&'a str> {
        let (line, rest) = self.rest.split_once('\n')?;
        self.rest = rest;
        self.number += 1;
        Some(line)
    }
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.contains(char::is_whitespace) {
        "it contains a space"
    } else if name.contains('+') {
        "it contains '+'"
    } else if name.contains(char::is_control) {
        "it contains a control character"
    } else {
        return Ok(());
    };
    Err(NoteError::InvalidKeyName {
        name: excerpt(name),
        reason,
    })
}

/// Signed notes are UTF-8 (guaranteed by `&str`) with no ASCII control
/// character other than newline.
fn check_no_control_chars(s: &str) -> Result<(), NoteError> {
    match s.bytes().position(|b| b < 0x20 && b != b'\n') {
        Some(offset) => Err(NoteError::ControlCharacter {
            offset,
            code: u32::from(s.as_bytes()[offset]),
        }),
        None => Ok(()),
    }
}

/// Decimal digits without leading zeros ("0" itself is fine), fitting u64.
/// Stricter than `u64::from_str`, which accepts a leading '+'.
fn parse_decimal(s: &str) -> Option<u64> {
    let digits_only = !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let leading_zero = s.len() > 1 && s.starts_with('0');
    if !digits_only || leading_zero {
        return None;
    }
    s.parse().ok()
}

fn decode_hash(b64: &str) -> Option<[u8; 32]> {
    BASE64.decode(b64).ok()?.try_into().ok()
}

fn parse_key_id(s: &str) -> Option<[u8; 4]> {
    let valid = s.len() == 8 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if !valid {
        return None;
    }
    u32::from_str_radix(s, 16).ok().map(u32::to_be_bytes)
}

/// Why 32 bytes are not a usable Ed25519 verifier key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("public key bytes are not the encoding of a point on the Ed25519 curve")]
    NotOnCurve,
    #[error(
        "public key is a non-canonical encoding of an Ed25519 point; only the canonical 32-byte encoding is accepted"
    )]
    NonCanonicalKey,
    #[error(
        "public key has small order (a weak key for which forged signatures verify); refusing it"
    )]
    WeakKey,
}

/// A strict Ed25519 public key: on the curve, canonically encoded, not of small order. A
/// verifier key that fails any of these could make forged signatures verify or give two
/// spellings of one key.
fn public_key_from_bytes(bytes: &[u8; 32]) -> Result<VerifyingKey, KeyError> {
    let vk = VerifyingKey::from_bytes(bytes).map_err(|_| KeyError::NotOnCurve)?;
    // `from_bytes` keeps the input bytes as given, so compare against a fresh compression.
    if vk.to_edwards().compress().to_bytes() != *bytes {
        return Err(KeyError::NonCanonicalKey);
    }
    if vk.is_weak() {
        return Err(KeyError::WeakKey);
    }
    Ok(vk)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// At most 100 characters of untrusted input, for error messages.
fn excerpt(s: &str) -> String {
    const MAX: usize = 100;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The blocks of the C2SP examples file, each as (label, body) pairs:
    /// a line "## label" starts a part, the lines up to the next label are
    /// its body (newline-terminated).
    fn example_blocks() -> Vec<Vec<(String, String)>> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/vectors/c2sp/signed-note-examples.txt"
        );
        let text = std::fs::read_to_string(path).expect("read signed-note-examples.txt");
        let mut blocks = Vec::new();
        for block in text.split("\n----\n") {
            let mut parts: Vec<(String, String)> = Vec::new();
            for line in block.lines() {
                if let Some(label) = line.strip_prefix("## ") {
                    parts.push((label.to_owned(), String::new()));
                } else if let Some((_, body)) = parts.last_mut() {
                    body.push_str(line);
                    body.push('\n');
                }
            }
            blocks.push(parts);
        }
        blocks
    }

    fn example(label_start: &str) -> String {
        example_blocks()
            .into_iter()
            .flatten()
            .find(|(label, _)| label.starts_with(label_start))
            .map(|(_, body)| body)
            .unwrap_or_else(|| panic!("no example labelled {label_start:?}"))
    }

    fn signer(name: &str, seed: u8) -> NoteSigner {
        NoteSigner::new(name, SigningKey::from_bytes(&[seed; 32])).unwrap()
    }

    fn sample_checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "lotline.example/log".into(),
            size: 12345,
            root: [0xab; 32],
        }
    }

    #[test]
    fn spec_example_verifies() {
        let key_text = example("verifier key");
        let key = VerifierKey::parse(key_text.trim_end()).unwrap();
        assert_eq!(key.name, "example.com/foo");
        assert_eq!(key.to_string(), key_text.trim_end());
        let note = example("signed note");
        assert_eq!(open(&note, &key).unwrap(), "This is an example message.\n");

        // The same note with one byte of text changed no longer verifies.
        let tampered = note.replacen("example", "Example", 1);
        assert!(matches!(
            open(&tampered, &key),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn spec_checkpoint_body_parses() {
        let signed = example("checkpoint example");
        let (text, signatures) = split_note(&signed).unwrap();
        assert_eq!(signatures.len(), 1);
        assert_eq!(signatures[0].name, "example.com/behind-the-sofa");
        let checkpoint = Checkpoint::parse(text).unwrap();
        assert_eq!(checkpoint.origin, "example.com/behind-the-sofa");
        assert_eq!(checkpoint.size, 20852163);
        assert_eq!(checkpoint.to_text(), text);
        // Its key is unpublished: an unrelated key of that name finds no
        // signature (different key ID), rather than a bad one.
        let other = signer("example.com/behind-the-sofa", 1).verifier_key();
        assert!(matches!(
            open(&signed, &other),
            Err(NoteError::NoSignature { .. })
        ));
    }

    #[test]
    fn sign_open_round_trip() {
        let s = signer("lotline.example/log", 7);
        let text = "line one\n\nline three after a blank line\n";
        let note = s.sign(text).unwrap();
        assert!(note.starts_with(text));
        assert!(note.contains("\n\n\u{2014} lotline.example/log "));
        assert_eq!(open(&note, &s.verifier_key()).unwrap(), text);

        let key = VerifierKey::parse(&s.verifier_key().to_string()).unwrap();
        assert_eq!(key, s.verifier_key());
        assert_eq!(
            key,
            VerifierKey::new("lotline.example/log", s.verifier_key().key).unwrap()
        );

        // Edge cases of the text: a lone newline, and trailing blank lines.
        for text in ["\n", "a\n\n", "a\n\n\n"] {
            let note = s.sign(text).unwrap();
            assert_eq!(open(&note, &key).unwrap(), text, "{text:?}");
        }
    }

    #[test]
    fn sign_refuses_bad_text() {
        let s = signer("n", 1);
        assert!(matches!(
            s.sign("no newline"),
            Err(NoteError::TextNotNewlineTerminated)
        ));
        assert!(matches!(
            s.sign(""),
            Err(NoteError::TextNotNewlineTerminated)
        ));
        assert!(matches!(
            s.sign("tab\there\n"),
            Err(NoteError::ControlCharacter { offset: 3, code: 9 })
        ));
        assert!(matches!(
            s.sign("crlf\r\n"),
            Err(NoteError::ControlCharacter { code: 13, .. })
        ));
    }

    #[test]
    fn key_names_are_checked() {
        let key = SigningKey::from_bytes(&[1; 32]);
        for bad in ["", "a b", "a+b", "a\u{00a0}b", "a\u{7}b"] {
            assert!(
                matches!(
                    NoteSigner::new(bad, key.clone()),
                    Err(NoteError::InvalidKeyName { .. })
                ),
                "{bad:?}"
            );
        }
        assert!(NoteSigner::new("é/ü", key).is_ok());
    }

    #[test]
    fn tampered_notes_are_rejected() {
        let s = signer("log", 3);
        let key = s.verifier_key();
        let note = s.sign("hello\n").unwrap();

        let changed = note.replacen("hello", "hellp", 1);
        assert!(matches!(
            open(&changed, &key),
            Err(NoteError::BadSignature { .. })
        ));

        // Flip one bit of the signature (not of the key ID).
        let (head, b64) = note.trim_end().rsplit_once(' ').unwrap();
        let mut blob = BASE64.decode(b64).unwrap();
        blob[10] ^= 1;
        let flipped = format!("{head} {}\n", BASE64.encode(&blob));
        assert!(matches!(
            open(&flipped, &key),
            Err(NoteError::BadSignature { .. })
        ));

        // A truncated signature with our name and ID is bad, not absent.
        blob.truncate(40);
        let short = format!("{head} {}\n", BASE64.encode(&blob));
        assert!(matches!(
            open(&short, &key),
            Err(NoteError::BadSignature { .. })
        ));

        // One bad signature among good ones spoils the note.
        let doubled = format!(
            "{note}{flipped_line}",
            flipped_line = &flipped[note.find('\u{2014}').unwrap()..]
        );
        assert!(matches!(
            open(&doubled, &key),
            Err(NoteError::BadSignature { .. })
        ));
    }

    #[test]
    fn wrong_key_id_or_name_means_no_signature() {
        let s = signer("log", 3);
        let note = s.sign("hello\n").unwrap();
        let mut key = s.verifier_key();
        key.id[0] ^= 0xff;
        assert!(matches!(
            open(&note, &key),
            Err(NoteError::NoSignature { .. })
        ));

        let renamed = VerifierKey::new("log2", s.verifier_key().key).unwrap();
        assert!(matches!(
            open(&note, &renamed),
            Err(NoteError::NoSignature { .. })
        ));

        let other = signer("log", 4).verifier_key();
        assert!(matches!(
            open(&note, &other),
            Err(NoteError::NoSignature { .. })
        ));
    }

    #[test]
    fn unknown_signatures_are_ignored() {
        let ours = signer("lotline.example/log", 5);
        let witness = signer("witness.example", 6);
        let text = sample_checkpoint().to_text();
        let by_witness = witness.sign(&text).unwrap();
        let by_us = ours.sign(&text).unwrap();
        // Witness signature first, then ours: both orders must verify.
        let ours_line = &by_us[text.len() + 1..];
        let witness_line = &by_witness[text.len() + 1..];
        for note in [
            format!("{text}\n{witness_line}{ours_line}"),
            format!("{text}\n{ours_line}{witness_line}"),
        ] {
            assert_eq!(open(&note, &ours.verifier_key()).unwrap(), text);
            assert_eq!(open(&note, &witness.verifier_key()).unwrap(), text);
        }
        // A foreign signature type (non-Ed25519, odd length) is ignored too.
        let foreign = format!(
            "{text}\n{ours_line}\u{2014} pq.example {}\n",
            BASE64.encode([9u8; 2420])
        );
        assert_eq!(open(&foreign, &ours.verifier_key()).unwrap(), text);
    }

    #[test]
    fn malformed_notes_are_rejected() {
        let s = signer("log", 3);
        let key = s.verifier_key();
        let note = s.sign("hello\n").unwrap();
        let sig_line = &note["hello\n\n".len()..];

        let cases: Vec<(String, &str)> = vec![
            ("hello\n".into(), "MissingSignatureBlock"),
            ("hello\n\n".into(), "MissingSignatureBlock"),
            (note.trim_end().into(), "MalformedSignatureLine"),
            (
                format!("hello\n\n-- log {}", &sig_line[6..]),
                "MalformedSignatureLine",
            ),
            (
                "hello\n\n\u{2014} log\n".to_owned(),
                "MalformedSignatureLine",
            ),
            (
                "hello\n\n\u{2014} log !!!!\n".to_owned(),
                "MalformedSignatureLine",
            ),
            (
                "hello\n\n\u{2014} log AAAA\n".to_owned(),
                "MalformedSignatureLine",
            ),
            (
                "hello\n\n\u{2014} log AAAAAA==\n".to_owned(),
                "MalformedSignatureLine",
            ),
            (
                format!("hello\n\n\u{2014}  {}", &sig_line[6..]),
                "MalformedSignatureLine",
            ),
            (format!("hel\rlo\n\n{sig_line}"), "ControlCharacter"),
            (
                format!("hello\n\n{sig_line}{}", sig_line.repeat(MAX_SIGNATURES)),
                "TooManySignatures",
            ),
        ];
        for (bad, want) in cases {
            let err = open(&bad, &key).unwrap_err();
            let got = format!("{err:?}");
            assert!(got.starts_with(want), "{bad:?}: {err}");
        }
        // Exactly MAX_SIGNATURES lines is fine.
        let many = format!("hello\n\n{}", sig_line.repeat(MAX_SIGNATURES));
        assert_eq!(open(&many, &key).unwrap(), "hello\n");
    }

    #[test]
    fn verifier_key_parsing_is_strict() {
        let key = signer("log.example", 9).verifier_key();
        let good = key.to_string();
        let (name, rest) = good.split_once('+').unwrap();
        let (id, key64) = rest.split_once('+').unwrap();

        let expect = |s: &str, want: &str| {
            let err = VerifierKey::parse(s).unwrap_err();
            assert!(format!("{err:?}").starts_with(want), "{s}: {err}");
        };
        expect(&format!("{name}+{id}"), "MalformedVerifierKey");
        expect(&format!("+{id}+{key64}"), "InvalidKeyName");
        expect(&format!("a b+{id}+{key64}"), "InvalidKeyName");
        expect(
            &format!("{name}+{}+{key64}", id.to_uppercase()),
            "MalformedVerifierKey",
        );
        expect(
            &format!("{name}+{}+{key64}", &id[1..]),
            "MalformedVerifierKey",
        );
        expect(
            &format!("{name}+{id}+{}", &key64[1..]),
            "MalformedVerifierKey",
        );
        expect(&format!("other+{id}+{key64}"), "KeyIdMismatch");
        expect(&format!("{name}+00000000+{key64}"), "KeyIdMismatch");

        let mut raw = BASE64.decode(key64).unwrap();
        raw[0] = 0x04;
        expect(
            &format!("{name}+{id}+{}", BASE64.encode(&raw)),
            "UnsupportedAlgorithm",
        );
        raw[0] = 0x01;
        raw.push(0);
        expect(
            &format!("{name}+{id}+{}", BASE64.encode(&raw)),
            "MalformedVerifierKey",
        );

        // A weak key is refused even with a correct ID.
        let mut identity = [0u8; 33];
        identity[0] = 0x01;
        identity[1] = 0x01;
        expect(
            &format!("{name}+{id}+{}", BASE64.encode(identity)),
            "InvalidPublicKey",
        );
    }

    #[test]
    fn checkpoint_round_trip_and_strictness() {
        let cp = sample_checkpoint();
        let text = cp.to_text();
        assert_eq!(Checkpoint::parse(&text).unwrap(), cp);
        let with_ext = format!("{text}ext one\next two\n");
        assert_eq!(Checkpoint::parse(&with_ext).unwrap(), cp);
        let zero = Checkpoint {
            size: 0,
            ..cp.clone()
        };
        assert_eq!(Checkpoint::parse(&zero.to_text()).unwrap(), zero);
        let max = Checkpoint {
            size: u64::MAX,
            ..cp.clone()
        };
        assert_eq!(Checkpoint::parse(&max.to_text()).unwrap(), max);

        let root = BASE64.encode(cp.root);
        let bad = [
            (format!("o\n1\n{root}"), "TextNotNewlineTerminated"),
            (format!("\n1\n{root}\n"), "InvalidCheckpoint { line: 1"),
            ("o\n".to_owned(), "InvalidCheckpoint { line: 2"),
            (format!("o\n01\n{root}\n"), "InvalidCheckpoint { line: 2"),
            (format!("o\n+1\n{root}\n"), "InvalidCheckpoint { line: 2"),
            (format!("o\n-1\n{root}\n"), "InvalidCheckpoint { line: 2"),
            (
                format!("o\n18446744073709551616\n{root}\n"),
                "InvalidCheckpoint { line: 2",
            ),
            ("o\n1\n".to_owned(), "InvalidCheckpoint { line: 3"),
            (
                format!("o\n1\n{}\n", &root[..root.len() - 1]),
                "InvalidCheckpoint { line: 3",
            ),
            (
                format!("o\n1\n{}\n", BASE64.encode([1u8; 31])),
                "InvalidCheckpoint { line: 3",
            ),
            (format!("o\n1\n{root}\n\n"), "InvalidCheckpoint { line: 4"),
            (
                format!("o\n1\n{root}\next\n\n"),
                "InvalidCheckpoint { line: 5",
            ),
            (format!("o\t\n1\n{root}\n"), "ControlCharacter"),
        ];
        for (text, want) in bad {
            let err = Checkpoint::parse(&text).unwrap_err();
            assert!(format!("{err:?}").starts_with(want), "{text:?}: {err:?}");
        }
    }

    #[test]
    fn signed_checkpoint_opens_and_parses() {
        let s = signer("lotline.example/log", 2);
        let cp = sample_checkpoint();
        let note = s.sign_checkpoint(&cp).unwrap();
        let text = open(&note, &s.verifier_key()).unwrap();
        assert_eq!(Checkpoint::parse(&text).unwrap(), cp);

        let bad_origin = Checkpoint {
            origin: "a\nb".into(),
            ..cp.clone()
        };
        assert!(s.sign_checkpoint(&bad_origin).is_err());
        let empty_origin = Checkpoint {
            origin: String::new(),
            ..cp
        };
        assert!(s.sign_checkpoint(&empty_origin).is_err());
    }

    fn sample_proof() -> TlogProof {
        let s = signer("lotline.example/log", 2);
        TlogProof {
            extra: Some(b"entry-id".to_vec()),
            index: 73894,
            hashes: vec![[1; 32], [2; 32], [3; 32]],
            checkpoint: s.sign_checkpoint(&sample_checkpoint()).unwrap(),
        }
    }

    #[test]
    fn tlog_proof_text_layout() {
        let proof = sample_proof();
        let text = proof.to_text();
        let expected_head = format!(
            "c2sp.org/tlog-proof@v1\nextra {}\nindex 73894\n{}\n{}\n{}\n\n",
            BASE64.encode(b"entry-id"),
            BASE64.encode([1u8; 32]),
            BASE64.encode([2u8; 32]),
            BASE64.encode([3u8; 32]),
        );
        assert_eq!(text, format!("{expected_head}{}", proof.checkpoint));
        assert_eq!(TlogProof::parse(&text).unwrap(), proof);

        let no_extra = TlogProof {
            extra: None,
            hashes: vec![],
            index: 0,
            ..proof.clone()
        };
        let text = no_extra.to_text();
        assert!(text.starts_with("c2sp.org/tlog-proof@v1\nindex 0\n\n"));
        assert_eq!(TlogProof::parse(&text).unwrap(), no_extra);

        let key = signer("lotline.example/log", 2).verifier_key();
        assert_eq!(proof.open_checkpoint(&key).unwrap(), sample_checkpoint());
        let other = signer("lotline.example/log", 3).verifier_key();
        assert!(matches!(
            proof.open_checkpoint(&other),
            Err(NoteError::NoSignature { .. })
        ));
    }

    #[test]
    fn tlog_proof_rejects_malformed_text() {
        let proof = sample_proof();
        let text = proof.to_text();
        let cp = &proof.checkpoint;
        let h = BASE64.encode([1u8; 32]);
        let cases = [
            (text.replacen("@v1", "@v2", 1), "InvalidProof { line: 1"),
            (
                "c2sp.org/tlog-proof@v1".to_owned(),
                "InvalidProof { line: 1",
            ),
            (
                "c2sp.org/tlog-proof@v1\n".to_owned(),
                "InvalidProof { line: 2",
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nextra !!\nindex 1\n\n{cp}"),
                "InvalidProof { line: 2",
            ),
            (
                "c2sp.org/tlog-proof@v1\nextra AA==\n".to_owned(),
                "InvalidProof { line: 3",
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 01\n\n{cp}"),
                "InvalidProof { line: 2",
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex  1\n\n{cp}"),
                "InvalidProof { line: 2",
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex\n\n{cp}"),
                "InvalidProof { line: 2",
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nextra AA==\nextra AA==\nindex 1\n\n{cp}"),
                "InvalidProof { line: 3",
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\nAAAA\n\n{cp}"),
                "InvalidProof { line: 4",
            ),
            (
                format!("c2sp.org/tlog-proof@v1\nindex 1\n{h}\n"),
                "InvalidProof { line: 4",
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n{}\n{cp}",
                    format!("{h}\n").repeat(65)
                ),
                "InvalidProof { line: 67",
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 1\n\n".to_owned(),
                "InvalidProofCheckpoint",
            ),
            (
                "c2sp.org/tlog-proof@v1\nindex 1\n\nnot a note\n".to_owned(),
                "InvalidProofCheckpoint",
            ),
            (
                format!(
                    "c2sp.org/tlog-proof@v1\nindex 1\n\n{}",
                    cp.replacen("12345", "x", 1)
                ),
                "InvalidProofCheckpoint",
            ),
        ];
        for (text, want) in cases {
            let err = TlogProof::parse(&text).unwrap_err();
            assert!(format!("{err:?}").starts_with(want), "{text:?}: {err:?}");
        }
        // 64 hashes is the most a proof can need, and is accepted.
        let full = format!(
            "c2sp.org/tlog-proof@v1\nindex 1\n{}\n{cp}",
            format!("{h}\n").repeat(64)
        );
        assert_eq!(TlogProof::parse(&full).unwrap().hashes.len(), 64);
    }

    fn any_checkpoint_note() -> impl Strategy<Value = String> {
        (
            "[a-z0-9./-]{1,30}",
            any::<u64>(),
            prop::array::uniform32(any::<u8>()),
            "( [ -~]{1,20})?",
            any::<u8>(),
            prop::bool::ANY,
        )
            .prop_map(|(origin, size, root, extension, seed, cosigned)| {
                let mut text = Checkpoint {
                    origin: origin.clone(),
                    size,
                    root,
                }
                .to_text();
                if !extension.is_empty() {
                    text.push_str(&extension[1..]);
                    text.push('\n');
                }
                let mut note = NoteSigner::new(&origin, SigningKey::from_bytes(&[seed; 32]))
                    .unwrap()
                    .sign(&text)
                    .unwrap();
                if cosigned {
                    let witness = signer("witness.example", seed.wrapping_add(1));
                    let line = witness.sign(&text).unwrap()[text.len() + 1..].to_owned();
                    note.push_str(&line);
                }
                note
            })
    }

    proptest! {
        #[test]
        fn tlog_proof_text_round_trips(
            extra in prop::option::of(prop::collection::vec(any::<u8>(), 0..48)),
            index in any::<u64>(),
            hashes in prop::collection::vec(prop::array::uniform32(any::<u8>()), 0..=MAX_PROOF_HASHES),
            checkpoint in any_checkpoint_note(),
        ) {
            let proof = TlogProof { extra, index, hashes, checkpoint };
            let text = proof.to_text();
            prop_assert_eq!(TlogProof::parse(&text).unwrap(), proof);
        }

        #[test]
        fn parsers_do_not_panic(s in "(?s).{0,300}") {
            let key = signer("log", 1).verifier_key();
            let _ = TlogProof::parse(&s);
            let _ = Checkpoint::parse(&s);
            let _ = VerifierKey::parse(&s);
            let _ = open(&s, &key);
        }

        #[test]
        fn parsers_do_not_panic_on_near_valid_input(cut in 0usize..400, byte in any::<u8>()) {
            // Damage a valid proof at one spot: truncate, or overwrite a byte
            // with a printable ASCII character.
            let text = sample_proof().to_text();
            let cut = cut.min(text.len());
            if text.is_char_boundary(cut) {
                let _ = TlogProof::parse(&text[..cut]);
                let mut damaged = text.clone().into_bytes();
                if cut < damaged.len() && damaged[cut].is_ascii() {
                    damaged[cut] = 0x20 + byte % 0x5f;
                    let damaged = String::from_utf8(damaged).unwrap();
                    let _ = TlogProof::parse(&damaged);
                }
            }
        }
    }
}
