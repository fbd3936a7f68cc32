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
    /// Identifiers an entry names that none of its EPCIS terms already indexes (see
    /// [`super::ident_tags`]). An EPCIS event's identifiers all come from its EPC and quantity
    /// lists, so entries written since identifiers are indexed once have no key here; ledgers
    /// written before keep one per identifier, which a scan finds once with its EPC terms.
    pub const IDENT: u8 = b'i';
    pub const ACTOR: u8 = b'a';
    /// Certificates by subject and member farm (`holder_key`, no time).
    pub const CERT_HOLDER: u8 = b'c';
    /// Certificates by issuing certifier (`holder_key`, no time).
    pub const CERT_ISSUER: u8 = b'r';
}

/// Where the entries naming the identifier with canonical key `key` are indexed: under
/// [`tag::IDENT`] (always first), and under the EPCIS terms of the roles such an identifier can
/// take. A class (a lot's LGTIN, or a GTIN: a Digital Link under `/01/` without a serial) is
/// found in the quantity lists; anything else (an item, a logistic unit) in the EPC lists and as
/// a parent.
/// The sequencer writes an IDENT key only for an identifier none of these terms of its entry
/// covers, so reads and writes agree by construction, whatever the profile reads.
pub fn ident_tags(key: &str) -> &'static [u8] {
    use lotline_profile::terms::tag as t;
    const CLASS: &[u8] = &[tag::IDENT, t::EPC_CLASS, t::INPUT_CLASS, t::OUTPUT_CLASS];
    const INSTANCE: &[u8] = &[tag::IDENT, t::EPC, t::PARENT, t::INPUT_EPC, t::OUTPUT_EPC];
    // "/01/" and the 14 digits of the GTIN, then "/21/" and the serial of an item.
    let serial = key.get(18..).is_some_and(|rest| rest.starts_with("/21/"));
    if key.starts_with("/01/") && !serial {
        CLASS
    } else {
        INSTANCE
    }
}

/// Milliseconds as 8 bytes whose byte order is numeric order (sign bit flipped).
pub fn time_bytes(ms: i64) -> [u8; 8] {
    ((ms as u64) ^ (1 << 63)).to_be_bytes()
}

/// The last 16 bytes of every query-index key, `eventTime ‖ index` big-endian, as one number:
/// numbers order as the keys' suffixes do.
pub fn suffix_of(time_ms: i64, index: u64) -> u128 {
    (u128::from(u64::from_be_bytes(time_bytes(time_ms))) << 64) | u128::from(index)
}

/// The `index` family's keys a group adds, in one buffer: a bagging event adds fifty and a group
/// thousands, too many for an allocation each. [`IndexKeys::sorted`] hands them over in key
/// order, the order a memtable takes most cheaply (see [`Changes::write`]).
#[derive(Default)]
pub struct IndexKeys {
    bytes: Vec<u8>,
    /// Where each key ends in `bytes`; the first starts at 0, each other where the one before
    /// it ends.
    ends: Vec<usize>,
}

impl IndexKeys {
    /// Adds the query-index key `tag ‖ field ‖ 0 ‖ time ‖ index` (no field and no separator
    /// for [`tag::TIME`]). Fields are identifiers and URIs, which never contain a zero byte.
    pub fn push_index(&mut self, tag: u8, field: &str, time_ms: i64, index: u64) {
        push_prefix(&mut self.bytes, tag, field);
        self.bytes.extend_from_slice(&time_bytes(time_ms));
        self.bytes.extend_from_slice(&index.to_be_bytes());
        self.ends.push(self.bytes.len());
    }

    /// Adds `key` as it is.
    pub fn push(&mut self, key: &[u8]) {
        self.bytes.extend_from_slice(key);
        self.ends.push(self.bytes.len());
    }

    /// Moves every key of `other` here.
    pub fn append(&mut self, other: IndexKeys) {
        let base = self.bytes.len();
        self.bytes.extend_from_slice(&other.bytes);
        self.ends.extend(other.ends.into_iter().map(|e| base + e));
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Every key, in byte order (a key added twice comes twice).
    pub fn sorted(&self) -> Vec<&[u8]> {
        let mut start = 0;
        let mut keys: Vec<&[u8]> = self
            .ends
            .iter()
            .map(|&end| {
                let k = &self.bytes[start..end];
                start = end;
                k
            })
            .collect();
        keys.sort_unstable();
        keys
    }
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
    fn identifiers_are_looked_for_in_the_roles_of_their_kind() {
        use lotline_profile::terms::tag as t;
        for (uri, role) in [
            ("urn:epc:id:sgtin:9521141.012345.7", t::EPC),
            ("urn:epc:id:sscc:9521141.0000000001", t::PARENT),
            ("urn:epc:class:lgtin:9521141.012345.L1", t::EPC_CLASS),
        ] {
            let key = lotline_profile::terms::epc_key(uri);
            let tags = ident_tags(&key);
            assert_eq!(tags[0], tag::IDENT, "{uri}");
            assert!(tags.contains(&role), "{uri} ({key}): {tags:?}");
        }
    }

    #[test]
    fn suffixes_order_like_keys() {
        let a = suffix_of(-5, 9);
        let b = suffix_of(0, 0);
        let c = suffix_of(0, 1);
        assert!(a < b && b < c);
        let mut k = time_bytes(0).to_vec();
        k.extend_from_slice(&1u64.to_be_bytes());
        assert_eq!(u128::from_be_bytes(k.try_into().unwrap()), c);
    }

    /// One query-index key on its own, as [`IndexKeys::push_index`] lays it out.
    fn index_key(tag: u8, field: &str, time_ms: i64, index: u64) -> Vec<u8> {
        let mut keys = IndexKeys::default();
        keys.push_index(tag, field, time_ms, index);
        keys.bytes
    }

    #[test]
    fn index_keys_start_with_their_prefix() {
        for (t, field) in [(tag::TIME, ""), (tag::IDENT, "/01/09521141123455/21/7")] {
            let k = index_key(t, field, -5, 42);
            assert!(k.starts_with(&index_prefix(t, field)));
            assert!(k.ends_with(&42u64.to_be_bytes()));
            assert_eq!(k.len(), index_prefix(t, field).len() + 16);
        }
    }

    use proptest::collection::vec;
    use proptest::num::{i64 as times, u8 as bytes, u64 as indexes};

    proptest::proptest! {
        /// Keys gathered in one buffer, from pushes and appended sets, come back exactly as
        /// the separate keys would, sorted.
        #[test]
        fn index_keys_come_back_whole_and_sorted(
            first in vec((0usize..4, "[a-z/0-9]{0,12}", times::ANY, indexes::ANY), 0..20),
            second in vec(vec(bytes::ANY, 0..24), 0..20),
        ) {
            let mut keys = IndexKeys::default();
            let mut other = IndexKeys::default();
            let mut expected = Vec::new();
            for (t, field, time, index) in &first {
                let t = [tag::TIME, tag::IDENT, tag::ACTOR, tag::BIZ_STEP][*t];
                keys.push_index(t, field, *time, *index);
                expected.push(index_key(t, field, *time, *index));
            }
            for k in &second {
                other.push(k);
                expected.push(k.clone());
            }
            keys.append(other);
            expected.sort_unstable();
            let expected: Vec<&[u8]> = expected.iter().map(Vec::as_slice).collect();
            proptest::prop_assert_eq!(keys.len(), expected.len());
            proptest::prop_assert_eq!(keys.is_empty(), expected.is_empty());
            proptest::prop_assert_eq!(keys.sorted(), expected);
        }
    }
}
