//! Supply-chain state: actors and their keys and roles, lots and who holds them, and the query
//! indexes — everything the rules derive from the log.
//!
//! The sequencer calls [`GroupState::apply`] for each new entry before it is written. The rules either
//! refuse the event (a [`RuleError`] with a stable code; nothing is written) or produce the
//! changed records, which go into the same RocksDB batch as the entry. State is therefore never
//! behind or ahead of the log, and two submissions racing for the same balance are decided by
//! the one writer: the first in sequence wins, the second sees the reduced balance.
//!
//! Every change to holdings is an [`Effect`] recorded with the entry, so that an EPCIS error
//! declaration can reverse exactly what the erroneous event did — and is refused while later
//! events depend on it.

mod apply;
pub mod codec;
pub mod query;

pub use apply::{ApplyError, Changes, GroupState};

pub use lotline_profile::records::*;
pub use lotline_profile::{certs, plausibility};

/// Configuration of the rules.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// `did:key`s whose documents admit actors and manage their roles and keys.
    pub registrars: Vec<String>,
    /// How far an `eventTime` may lie ahead of the ledger's clock, in milliseconds.
    pub max_future_ms: i64,
    pub bounds: Bounds,
}

/// Tags of the query indexes in the `index` family.
pub mod tag {
    pub const TIME: u8 = b't';
    pub const BIZ_STEP: u8 = b'b';
    pub const IDENT: u8 = b'i';
    pub const ACTOR: u8 = b'a';
    /// Certificates by subject and member farm (`holder_key`, no time).
    pub const CERT_HOLDER: u8 = b'c';
    /// Certificates by issuing certifier (`holder_key`, no time).
    pub const CERT_ISSUER: u8 = b'r';
}

/// Milliseconds as 8 bytes whose byte order is numeric order (sign bit flipped).
pub fn time_bytes(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// `tag ‖ field ‖ 0 ‖ time ‖ index` (no field and no separator for [`tag::TIME`]). Fields are
/// identifiers and URIs, which never contain a zero byte.
pub fn index_key(tag: u8, field: &str, time_ms: i64, index: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(field.len() + 18);
    write_index_key(&mut k, tag, field, time_ms, index);
    k
}

/// [`index_key`] written into `k` (cleared first), for callers that reuse one buffer.
pub fn write_index_key(k: &mut Vec<u8>, tag: u8, field: &str, time_ms: i64, index: u64) {
    k.clear();
    push_prefix(k, tag, field);
    k.extend_from_slice(&time_bytes(time_ms));
    k.extend_from_slice(&index.to_be_bytes());
}

pub fn index_prefix(tag: u8, field: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(field.len() + 18);
    push_prefix(&mut k, tag, field);
    k
}

/// `tag ‖ field ‖ 0` (just `tag` for [`tag::TIME`]), the part of an index key before its time.
fn push_prefix(k: &mut Vec<u8>, tag: u8, field: &str) {
    k.push(tag);
    if tag != tag::TIME {
        k.extend_from_slice(field.as_bytes());
        k.push(0);
    }
}

/// The index key of certificate `id` under actor `actor` (subject, member or issuer):
/// `tag ‖ actor ‖ 0 ‖ id`, in the `index` family.
pub fn holder_key(tag: u8, actor: &str, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(actor.len() + id.len() + 2);
    k.push(tag);
    k.extend_from_slice(actor.as_bytes());
    k.push(0);
    k.extend_from_slice(id.as_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bytes_sort_like_numbers() {
        let ts = [i64::MIN, -1_000, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for w in ts.windows(2) {
            assert!(time_bytes(w[0]) < time_bytes(w[1]), "{w:?}");
        }
    }

    #[test]
    fn index_keys_start_with_their_prefix_whatever_the_buffer_held() {
        let mut buf = b"left over from an earlier, longer key".to_vec();
        for (t, field) in [(tag::TIME, ""), (tag::IDENT, "/01/09521141123455/21/7")] {
            write_index_key(&mut buf, t, field, -5, 42);
            assert_eq!(buf, index_key(t, field, -5, 42));
            assert!(buf.starts_with(&index_prefix(t, field)));
            assert!(buf.ends_with(&42u64.to_be_bytes()));
            assert_eq!(buf.len(), index_prefix(t, field).len() + 16);
        }
    }
}
