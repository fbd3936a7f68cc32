//! The log entry: what lotline records for one accepted event, how it is hashed, and the receipt a
//! client gets back.
//!
//! An entry is the JSON object `{event, index, prevHash, recordTime, signer}`. Its canonical bytes
//! (RFC 8785) are the one thing everything else is computed from: the entry hash (SHA-256 of the
//! bytes) chains entries together, and the Merkle leaf hash (RFC 9162, SHA-256(0x00 ‖ bytes)) puts
//! the same bytes into the tree. So the log is a hash chain and a Merkle tree at once, and a
//! verifier needs nothing but the bytes to check both.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use tlog::merkle::{self, Hash};

/// `prevHash` of entry 0.
pub const GENESIS_PREV_HASH: Hash = [0u8; 32];

/// Indexes are written as JSON numbers, which RFC 8785 treats as IEEE doubles; beyond 2^53 they
/// would stop being exact. At a million entries a day that is twenty-four million years away, but
/// the sequencer still refuses to cross it rather than write an entry nobody can re-hash.
pub const MAX_INDEX: u64 = (1 << 53) - 1;

/// Builds the canonical (RFC 8785) bytes of an entry.
///
/// The event is passed already canonicalised, because the verification stage has those bytes
/// anyway and the single-threaded sequencer should not redo that work. The member order below is
/// the RFC 8785 order (`event` < `index` < `prevHash` < `recordTime` < `signer`) and the other
/// values are ASCII without characters JSON escapes (base64, RFC 3339, `did:key`); a unit test
/// pins the result to the general canonicaliser.
pub fn canonical_entry(
    index: u64,
    prev_hash: &Hash,
    record_time: &str,
    signer: &str,
    event_jcs: &[u8],
) -> Vec<u8> {
    debug_assert!(index <= MAX_INDEX);
    debug_assert!(plain_ascii(record_time) && plain_ascii(signer));
    let mut out = Vec::with_capacity(event_jcs.len() + 200);
    out.extend_from_slice(b"{\"event\":");
    out.extend_from_slice(event_jcs);
    out.extend_from_slice(b",\"index\":");
    out.extend_from_slice(index.to_string().as_bytes());
    out.extend_from_slice(b",\"prevHash\":\"");
    out.extend_from_slice(B64.encode(prev_hash).as_bytes());
    out.extend_from_slice(b"\",\"recordTime\":\"");
    out.extend_from_slice(record_time.as_bytes());
    out.extend_from_slice(b"\",\"signer\":\"");
    out.extend_from_slice(signer.as_bytes());
    out.extend_from_slice(b"\"}");
    out
}

/// True when the string needs no escaping in JSON, so it can be copied into canonical bytes as is.
fn plain_ascii(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// SHA-256 of the entry's canonical bytes: the chain link stored in the next entry's `prevHash`.
pub fn entry_hash(canonical: &[u8]) -> Hash {
    Sha256::digest(canonical).into()
}

/// Both hashes of an entry, computed once.
pub fn hashes(canonical: &[u8]) -> (Hash, Hash) {
    (entry_hash(canonical), merkle::leaf_hash(canonical))
}

/// An entry as read back from its canonical bytes.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Entry {
    pub event: Value,
    pub index: u64,
    #[serde(with = "b64_hash")]
    pub prev_hash: Hash,
    pub record_time: String,
    pub signer: String,
}

impl Entry {
    /// Parses stored entry bytes. Storage is trusted to hold what the sequencer wrote, but `fsck`
    /// and verifiers use this on bytes they do not trust, so it reports instead of panicking.
    pub fn parse(canonical: &[u8]) -> Result<Entry, serde_json::Error> {
        serde_json::from_slice(canonical)
    }

    /// The event's `eventID`, if the stored event has a well-formed one.
    pub fn event_id(&self) -> Option<&str> {
        self.event.get("eventID").and_then(Value::as_str)
    }
}

/// What a client gets back for an accepted event: enough to find the entry again and to check a
/// proof for it later without asking the server for anything else.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub index: u64,
    #[serde(with = "b64_hash")]
    pub entry_hash: Hash,
    #[serde(with = "b64_hash")]
    pub leaf_hash: Hash,
    #[serde(rename = "eventID")]
    pub event_id: String,
    pub record_time: String,
    /// The CBV 2.0 event hash ID of an EPCIS event (`ni:///sha-256;…?ver=CBV2.0`), which a
    /// partner can recompute from the event alone; absent for lotline's own documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_hash: Option<String>,
}

impl Receipt {
    /// Rebuilds the receipt of a stored entry from its canonical bytes.
    pub fn for_stored(canonical: &[u8]) -> Result<Receipt, serde_json::Error> {
        let entry = Entry::parse(canonical)?;
        let (entry_hash, leaf_hash) = hashes(canonical);
        Ok(Receipt {
            index: entry.index,
            entry_hash,
            leaf_hash,
            event_id: entry.event_id().unwrap_or_default().to_owned(),
            event_hash: crate::event_hash::event_hash_id(&entry.event).ok(),
            record_time: entry.record_time,
        })
    }
}

/// Hashes travel as standard padded base64 everywhere, the encoding C2SP checkpoints and tlog
/// proofs use, so a client can compare a receipt's hash with a proof's without converting.
pub mod b64_hash {
    use super::*;
    use serde::{Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).map_err(D::Error::custom)
    }

    /// Decodes one base64 SHA-256 hash, with a message a person can act on.
    pub fn decode(s: &str) -> Result<Hash, String> {
        let bytes = B64
            .decode(s)
            .map_err(|e| format!("{s:?} is not standard base64: {e}"))?;
        bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("a hash is 32 bytes, {s:?} decodes to {}", b.len()))
    }

    pub fn encode(h: &Hash) -> String {
        B64.encode(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use data_integrity::jcs;
    use serde_json::json;

    /// Entries are read back with serde_json, so no member name may mean anything to it. With
    /// serde_json's `raw_value` feature on anywhere in the build, an object whose first member
    /// is its private raw-value token would read back as the JSON that member's string holds:
    /// a signer could store an event that reads back as another.
    #[test]
    fn a_stored_event_reads_back_as_it_was_whatever_its_member_names() {
        let event = json!({"$serde_json::private::RawValue": "[1]", "eventID": "urn:uuid:x"});
        let jcs = jcs::canonicalize(&event);
        let bytes = canonical_entry(1, &[0u8; 32], "2026-12-05T00:00:00Z", "did:key:z", &jcs);
        let entry = Entry::parse(&bytes).expect("an entry");
        assert_eq!(entry.event, event);
    }

    #[test]
    fn canonical_entry_matches_general_canonicaliser() {
        let event = json!({"type": "ObjectEvent", "eventID": "urn:uuid:0190b3a4-7f00-7000-8000-000000000001",
            "quantity": 1.5, "\u{20ac}": "euro", "nested": {"b": [1, 2], "a": null}});
        let prev = [7u8; 32];
        let got = canonical_entry(
            42,
            &prev,
            "2026-11-21T10:00:00.123Z",
            "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
            &jcs::canonicalize(&event),
        );
        let whole = json!({
            "signer": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
            "recordTime": "2026-11-21T10:00:00.123Z",
            "prevHash": B64.encode(prev),
            "index": 42,
            "event": event,
        });
        assert_eq!(
            String::from_utf8(got.clone()).unwrap(),
            String::from_utf8(jcs::canonicalize(&whole)).unwrap()
        );
        let parsed = Entry::parse(&got).unwrap();
        assert_eq!(parsed.index, 42);
        assert_eq!(parsed.prev_hash, prev);
        assert_eq!(
            parsed.event_id(),
            Some("urn:uuid:0190b3a4-7f00-7000-8000-000000000001")
        );
    }

    #[test]
    fn receipt_rebuilt_from_bytes() {
        let bytes = canonical_entry(
            0,
            &GENESIS_PREV_HASH,
            "t",
            "did:key:zX",
            b"{\"eventID\":\"e\"}",
        );
        let r = Receipt::for_stored(&bytes).unwrap();
        assert_eq!(r.index, 0);
        assert_eq!(r.event_id, "e");
        assert_eq!(r.entry_hash, entry_hash(&bytes));
        assert_eq!(r.leaf_hash, merkle::leaf_hash(&bytes));
    }

    #[test]
    fn hash_decoding_errors_are_specific() {
        assert!(
            b64_hash::decode("not base64!")
                .unwrap_err()
                .contains("base64")
        );
        assert!(b64_hash::decode("AAAA").unwrap_err().contains("32 bytes"));
        assert_eq!(b64_hash::decode(&B64.encode([1u8; 32])).unwrap(), [1u8; 32]);
    }
}
