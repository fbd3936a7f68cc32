//! The Merkle tree behind lotline's log: hashing, proof generation and proof
//! verification as RFC 9162 §2.1 (Certificate Transparency 2.0) defines them.
//!
//! What is here and why it is split this way:
//!
//! - [`leaf_hash`] and [`node_hash`] are the RFC hashes. Their different
//!   prefixes (0x00 for leaves, 0x01 for interior nodes) stop anyone from
//!   passing an interior node off as a leaf.
//! - Proof generation ([`subtree_root`], [`root`], [`inclusion_proof`],
//!   [`consistency_proof`]) works through a [`NodeSource`]. The same code
//!   then runs on the ledger's node store and on the in-memory store the
//!   tests use. A store holds only *complete aligned subtrees*: node
//!   (level `L`, index `i`) is the root of leaves `[i·2^L, (i+1)·2^L)`, and
//!   level 0 holds the leaf hashes. Each function reads O(log n) nodes, so a
//!   proof costs the same for a log of any size.
//! - Proof verification ([`verify_inclusion`], [`verify_consistency`]) is the
//!   iterative algorithm of RFC 9162 §2.1.3.2 and §2.1.4.2. It needs only
//!   hashes: auditors and clients run it, and they hold no tree.
//! - [`Frontier`] is the right border of the tree. The single writer keeps
//!   it, so an append costs O(log n) hashes and reports which new nodes to
//!   store. Reopening a log rebuilds it from O(log n) stored nodes.
//!
//! Nothing here does I/O and nothing panics, whatever the input. Bad sizes,
//! indexes and proofs come back as errors.

use core::fmt;

use sha2::{Digest, Sha256};

/// A SHA-256 digest: a leaf hash, an interior node hash or a tree root.
pub type Hash = [u8; 32];

/// The root of the empty tree, which RFC 9162 defines as SHA-256 of the
/// empty string. It is spelled out so that it can be used in `const`
/// contexts; a test checks it against the hash function.
pub const EMPTY_ROOT: Hash = [
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
];

/// The root of the empty tree, the same value as [`EMPTY_ROOT`].
pub const fn empty_root() -> Hash {
    EMPTY_ROOT
}

/// Domain-separation prefixes from RFC 9162 §2.1.1.
const LEAF_PREFIX: u8 = 0x00;
const NODE_PREFIX: u8 = 0x01;

/// The hash of one log entry: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    prefixed_hash(LEAF_PREFIX, &[data])
}

/// The hash of an interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    prefixed_hash(NODE_PREFIX, &[left, right])
}

/// Hashes a prefix byte followed by `parts`. It takes byte slices rather
/// than [`Hash`]es so that the tests can check the node prefix against the
/// reference vectors, whose children are not 32 bytes long.
fn prefixed_hash(prefix: u8, parts: &[&[u8]]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([prefix]);
    for part in parts {
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// Read access to the stored hashes of complete aligned subtrees.
///
/// `node(level, index)` must return the root of leaves
/// `[index·2^level, (index+1)·2^level)`. The functions in this module read
/// only nodes that lie entirely inside the tree size they were given, so a
/// store never needs to hold (or invent) a partial subtree.
pub trait NodeSource {
    /// The store's own failure, for example an I/O or a decoding error. It is
    /// passed through unchanged.
    type Error;

    /// Returns the stored hash of node (`level`, `index`).
    fn node(&mut self, level: u8, index: u64) -> Result<Hash, Self::Error>;
}

/// Why a proof could not be generated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProofError<E> {
    /// The leaf index is not smaller than the tree size. This includes every
    /// index in an empty tree.
    IndexOutOfRange { index: u64, size: u64 },
    /// The sizes do not describe a consistency proof. RFC 9162 §2.1.4
    /// defines one only for `0 < old <= new`, so this is returned when
    /// `old > new` and whenever `old == 0`, `0 → 0` included. Every tree
    /// extends the empty tree, so there is nothing to prove there, and
    /// [`verify_consistency`] rejects such sizes in the same way.
    SizeOutOfRange { old: u64, new: u64 },
    /// The [`NodeSource`] failed.
    Source(E),
}

impl<E: fmt::Display> fmt::Display for ProofError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndexOutOfRange { index, size: 0 } => write!(
                f,
                "cannot prove inclusion of leaf {index}: the tree is empty"
            ),
            Self::IndexOutOfRange { index, size } => write!(
                f,
                "cannot prove inclusion of leaf {index}: a tree of {size} leaves \
                 has indexes 0 to {}",
                size - 1
            ),
            Self::SizeOutOfRange { old, new } if old > new => write!(
                f,
                "cannot prove consistency from size {old} to size {new}: the old \
                 size is larger than the new one (a log only grows)"
            ),
            Self::SizeOutOfRange { old, new } => write!(
                f,
                "cannot prove consistency from size {old} to size {new}: RFC 9162 \
                 defines consistency proofs only from a non-empty tree (old size \
                 from 1 to the new size)"
            ),
            Self::Source(e) => write!(f, "reading a stored tree node failed: {e}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for ProofError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Source(e) => Some(e),
            _ => None,
        }
    }
}

/// Why a proof failed to verify. Every variant means the proof does not
/// establish the claim; they differ in what to look at next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// The leaf index is not smaller than the tree size.
    IndexOutOfRange { index: u64, size: u64 },
    /// A proof for these sizes or this index has exactly `expected` hashes.
    WrongProofLength { expected: usize, got: usize },
    /// The inclusion proof leads to `computed`, not to the expected root.
    RootMismatch { expected: Hash, computed: Hash },
    /// The old tree size is larger than the new one.
    OldSizeExceedsNew { old_size: u64, new_size: u64 },
    /// A consistency check from the empty tree, which RFC 9162 does not
    /// define (see [`ProofError::SizeOutOfRange`]).
    EmptyOldTree { new_size: u64 },
    /// Two tree heads of the same size have different roots. The log has
    /// forked, or one of the heads is corrupt.
    SameSizeDifferentRoots {
        size: u64,
        old_root: Hash,
        new_root: Hash,
    },
    /// The consistency proof rebuilds an old root other than the one given.
    OldRootMismatch { expected: Hash, computed: Hash },
    /// The consistency proof rebuilds a new root other than the one given.
    NewRootMismatch { expected: Hash, computed: Hash },
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IndexOutOfRange { index, size } => write!(
                f,
                "leaf index {index} is outside a tree of {size} leaves: check that \
                 the proof was fetched for this tree size and this index"
            ),
            Self::WrongProofLength { expected, got } => write!(
                f,
                "the proof has {got} hashes, but a proof for this index and these \
                 tree sizes has exactly {expected}: it was made for another index \
                 or tree size, or it was cut short or padded"
            ),
            Self::RootMismatch { expected, computed } => write!(
                f,
                "the inclusion proof leads to root {} but the tree head says {}: \
                 the leaf is not at this index in this tree, or the proof or the \
                 tree head belongs to another tree",
                Hex(computed),
                Hex(expected)
            ),
            Self::OldSizeExceedsNew { old_size, new_size } => write!(
                f,
                "old tree size {old_size} is larger than new tree size {new_size}: \
                 a log only grows, so check which tree head is the newer one"
            ),
            Self::EmptyOldTree { new_size } => write!(
                f,
                "consistency from the empty tree to size {new_size} is not checked: \
                 RFC 9162 defines consistency proofs only from a non-empty tree, so \
                 start from the first non-empty tree head you hold"
            ),
            Self::SameSizeDifferentRoots {
                size,
                old_root,
                new_root,
            } => write!(
                f,
                "two tree heads of size {size} have different roots ({} and {}): \
                 the log has forked or one head is corrupt; keep both heads as \
                 evidence",
                Hex(old_root),
                Hex(new_root)
            ),
            Self::OldRootMismatch { expected, computed } => write!(
                f,
                "the consistency proof rebuilds old root {} but the old tree head \
                 says {}: the proof was not made for this old tree head",
                Hex(computed),
                Hex(expected)
            ),
            Self::NewRootMismatch { expected, computed } => write!(
                f,
                "the consistency proof rebuilds new root {} but the new tree head \
                 says {}: the new tree does not extend the old one, or the proof \
                 was made for another new tree head",
                Hex(computed),
                Hex(expected)
            ),
        }
    }
}

impl std::error::Error for VerifyError {}

/// Lower-case hex for error messages, so that people can compare roots with
/// what other tools print.
struct Hex<'a>(&'a Hash);

impl fmt::Display for Hex<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The level of RFC 9162's split point for a range of `n` leaves: `k`, the
/// largest power of two strictly below `n`, is `2^split_level(n)`. Callers
/// pass `n >= 2`; smaller values give 0 instead of a panic.
fn split_level(n: u64) -> u32 {
    n.saturating_sub(1).checked_ilog2().unwrap_or(0)
}

/// Reads a node. Levels are at most 63 here because sizes are `u64`; the
/// conversion saturates rather than panicking all the same.
fn read<S: NodeSource>(src: &mut S, level: u32, index: u64) -> Result<Hash, S::Error> {
    src.node(u8::try_from(level).unwrap_or(u8::MAX), index)
}

/// The root of leaves `[start, end)`, MTH(D[start:end]) in RFC 9162 terms.
/// An empty range (`start >= end`) gives [`EMPTY_ROOT`].
///
/// Every range that the MTH recursion produces starts at a multiple of its
/// largest power-of-two block. Such a range is a sequence of complete
/// aligned subtrees, one per set bit of its length with the largest first,
/// and this reads exactly those nodes: O(log n). A range that starts
/// elsewhere still gets the correct hash, but it is built from smaller
/// nodes, up to one read per leaf.
pub fn subtree_root<S: NodeSource>(src: &mut S, start: u64, end: u64) -> Result<Hash, S::Error> {
    if start >= end {
        return Ok(EMPTY_ROOT);
    }
    let len = end - start;
    let top = len.ilog2();
    if start & ((1u64 << top) - 1) != 0 {
        return unaligned_root(src, start, end);
    }
    // Read the blocks from the right, smallest first: MTH(a, b, c) is
    // H(a, H(b, c)), so each block read is folded into what lies to its
    // right, and no list of blocks has to be kept.
    let mut acc: Option<Hash> = None;
    let mut block_end = end;
    let mut rest = len;
    while rest != 0 {
        let level = rest.trailing_zeros();
        let block_start = block_end - (1u64 << level);
        let block = read(src, level, block_start >> level)?;
        acc = Some(match acc {
            None => block,
            Some(right) => node_hash(&block, &right),
        });
        block_end = block_start;
        rest &= rest - 1;
    }
    Ok(acc.unwrap_or(EMPTY_ROOT))
}

/// MTH(D[start:end]) for a range (of two or more leaves) whose blocks are not
/// stored nodes: split it as RFC 9162 does and build each half. The
/// recursion depth is bounded by about 2·64, because every step at least
/// halves the range or makes it a power of two.
fn unaligned_root<S: NodeSource>(src: &mut S, start: u64, end: u64) -> Result<Hash, S::Error> {
    let mid = start.saturating_add(1u64 << split_level(end.saturating_sub(start)));
    let left = subtree_root(src, start, mid)?;
    let right = subtree_root(src, mid, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the first `size` leaves; [`EMPTY_ROOT`] for 0.
pub fn root<S: NodeSource>(src: &mut S, size: u64) -> Result<Hash, S::Error> {
    subtree_root(src, 0, size)
}

/// How many hashes an inclusion proof for leaf `index` in a tree of `size`
/// leaves holds, or `None` if the index is out of range.
pub fn inclusion_proof_len(index: u64, size: u64) -> Option<usize> {
    if index >= size {
        return None;
    }
    let last = size - 1;
    // Below the highest bit where `index` and the last leaf differ, the leaf
    // sits in a complete subtree, and every level gives one sibling.
    let inner = u64::BITS - (index ^ last).leading_zeros();
    // Above it the path follows the tree's right border. There is a sibling
    // only where that border has a complete left subtree, which is where
    // the index has a 1 bit; a 0 bit is a level that RFC 9162's unbalanced
    // tree does not have.
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    usize::try_from(inner + border).ok()
}

/// How many hashes a consistency proof from `old_size` to `new_size` holds,
/// or `None` for sizes with no proof (see [`ProofError::SizeOutOfRange`]).
pub fn consistency_proof_len(old_size: u64, new_size: u64) -> Option<usize> {
    if old_size == 0 || old_size > new_size {
        return None;
    }
    if old_size == new_size {
        return Some(0);
    }
    // The verifier (RFC 9162 §2.1.4.2 steps 3 to 6) first shifts away the
    // levels where the old tree's last leaf lies on the old right border.
    // It then walks like an inclusion verifier from the node left at that
    // point, which the proof's first hash stands for. That hash is left out
    // when the old tree is a power of two, because it is then the old root,
    // which the verifier already has.
    let last_old = old_size - 1;
    let shift = last_old.trailing_ones();
    let first = last_old.checked_shr(shift).unwrap_or(0);
    let last_new = (new_size - 1).checked_shr(shift).unwrap_or(0);
    let walk = inclusion_proof_len(first, last_new.checked_add(1)?)?;
    let seed = usize::from(!old_size.is_power_of_two());
    walk.checked_add(seed)
}

/// The audit path of RFC 9162 §2.1.3.1, PATH(index, D[size]): the sibling
/// hashes from the leaf up to the root.
///
/// It walks down from the root. While the leaf is in the right part of the
/// current range, the left part is a complete subtree and costs one read.
/// The first time the leaf is in the left part, the right part (the only
/// incomplete sibling the path ever has) is built with [`subtree_root`].
/// Below that point everything is complete, so each sibling is one stored
/// node. The total is O(log n) reads.
pub fn inclusion_proof<S: NodeSource>(
    src: &mut S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    let Some(len) = inclusion_proof_len(index, size) else {
        return Err(ProofError::IndexOutOfRange { index, size });
    };
    // Siblings are found from the root down, but the RFC lists them from
    // the leaf up; the vector is reversed at the end.
    let mut path = Vec::with_capacity(len);
    let mut start = 0u64;
    while size - start > 1 {
        let level = split_level(size - start);
        let mid = start + (1u64 << level);
        if index < mid {
            path.push(subtree_root(src, mid, size).map_err(ProofError::Source)?);
            // [start, mid) is complete and aligned, so at each level below
            // it the sibling is the neighbouring stored node.
            for l in (0..level).rev() {
                path.push(read(src, l, (index >> l) ^ 1).map_err(ProofError::Source)?);
            }
            break;
        }
        path.push(read(src, level, start >> level).map_err(ProofError::Source)?);
        start = mid;
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof of RFC 9162 §2.1.4.1, PROOF(old, D[new]) =
/// SUBPROOF(old, D[new], true). It is empty when the sizes are equal.
///
/// This is the same walk as [`inclusion_proof`]: at most one incomplete
/// sibling is built (when the old size first falls in the left part), and
/// every other hash is one stored node.
pub fn consistency_proof<S: NodeSource>(
    src: &mut S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProofError<S::Error>> {
    let Some(len) = consistency_proof_len(old_size, new_size) else {
        return Err(ProofError::SizeOutOfRange {
            old: old_size,
            new: new_size,
        });
    };
    let mut path = Vec::with_capacity(len);
    let (mut start, mut end) = (0u64, new_size);
    // RFC's flag `b`: true while the current range starts at leaf 0. The old
    // tree is then the whole left part, and its root, which the verifier has,
    // is not sent.
    let mut at_left_edge = true;
    // Invariant: start < old_size <= end, so the range has two or more
    // leaves while the loop runs.
    while old_size != end {
        let level = split_level(end - start);
        let mid = start + (1u64 << level);
        if old_size <= mid {
            path.push(subtree_root(src, mid, end).map_err(ProofError::Source)?);
            end = mid;
        } else {
            path.push(read(src, level, start >> level).map_err(ProofError::Source)?);
            start = mid;
            at_left_edge = false;
        }
    }
    if !at_left_edge {
        // SUBPROOF(m, D[m], false) = {MTH(D[m])}: the old tree's last
        // subtree, which comes first in the proof.
        path.push(subtree_root(src, start, end).map_err(ProofError::Source)?);
    }
    path.reverse();
    Ok(path)
}

/// Checks an inclusion proof as RFC 9162 §2.1.3.2 says: `leaf_hash` is the
/// leaf at `index` in the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf_hash: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), VerifyError> {
    // Step 1. The length is checked before any hashing as well; the RFC's
    // loop would catch a wrong length too, but it could not say which length
    // was wanted.
    let Some(expected) = inclusion_proof_len(index, size) else {
        return Err(VerifyError::IndexOutOfRange { index, size });
    };
    let wrong_length = VerifyError::WrongProofLength {
        expected,
        got: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    // Steps 2 and 3.
    let mut fn_ = index;
    let mut sn = size - 1;
    let mut r = *leaf_hash;
    // Step 4.
    for p in proof {
        if sn == 0 {
            return Err(wrong_length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                // The right border has no node at these levels (see
                // inclusion_proof_len), so skip them.
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    if sn != 0 {
        return Err(wrong_length);
    }
    if r != *root {
        return Err(VerifyError::RootMismatch {
            expected: *root,
            computed: r,
        });
    }
    Ok(())
}

/// Checks a consistency proof as RFC 9162 §2.1.4.2 says: the tree of
/// `new_size` leaves with root `new_root` extends the tree of `old_size`
/// leaves with root `old_root`.
///
/// Equal sizes need an empty proof and equal roots. An old size of 0 is
/// rejected, as it is in [`consistency_proof`].
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), VerifyError> {
    if old_size > new_size {
        return Err(VerifyError::OldSizeExceedsNew { old_size, new_size });
    }
    if old_size == 0 {
        return Err(VerifyError::EmptyOldTree { new_size });
    }
    let Some(expected) = consistency_proof_len(old_size, new_size) else {
        // Not reached: the two checks above cover every size with no proof.
        return Err(VerifyError::OldSizeExceedsNew { old_size, new_size });
    };
    let wrong_length = VerifyError::WrongProofLength {
        expected,
        got: proof.len(),
    };
    if proof.len() != expected {
        return Err(wrong_length);
    }
    if old_size == new_size {
        if old_root != new_root {
            return Err(VerifyError::SameSizeDifferentRoots {
                size: old_size,
                old_root: *old_root,
                new_root: *new_root,
            });
        }
        return Ok(());
    }
    // Steps 1 and 2. The old root is used in place of being prepended, so
    // that the proof is not copied.
    let (seed, rest) = if old_size.is_power_of_two() {
        (old_root, proof)
    } else {
        match proof.split_first() {
            Some(split) => split,
            None => return Err(wrong_length),
        }
    };
    // Steps 3 and 4.
    let mut fn_ = old_size - 1;
    let mut sn = new_size - 1;
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5.
    let mut fr = *seed;
    let mut sr = *seed;
    // Step 6.
    for c in rest {
        if sn == 0 {
            return Err(wrong_length);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(wrong_length);
    }
    if fr != *old_root {
        return Err(VerifyError::OldRootMismatch {
            expected: *old_root,
            computed: fr,
        });
    }
    if sr != *new_root {
        return Err(VerifyError::NewRootMismatch {
            expected: *new_root,
            computed: sr,
        });
    }
    Ok(())
}

/// The right border of the tree: the roots of the complete aligned subtrees
/// that make up the first `size` leaves, one per set bit of `size`, largest
/// (leftmost) first.
///
/// This is all the single writer needs to append leaves and compute the
/// root, and it tells the writer which nodes each append completes, so the
/// node store is filled without reading anything back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    /// Invariant: `hashes.len() == size.count_ones()`, and `hashes[j]` is the
    /// node for the j-th set bit of `size` counted from the top.
    hashes: Vec<Hash>,
}

impl Frontier {
    /// The frontier of the empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The border's subtree roots, largest (leftmost) first.
    pub fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf hash. Returns every node this append completes, as
    /// `(level, index, hash)`, starting with the leaf itself at level 0.
    ///
    /// A tree of `u64::MAX` leaves is full: then nothing is appended and the
    /// result is empty, which a normal append never returns.
    pub fn push(&mut self, leaf: Hash) -> Vec<(u8, u64, Hash)> {
        let Some(new_size) = self.size.checked_add(1) else {
            return Vec::new();
        };
        let merges = self.size.trailing_ones();
        let mut completed = Vec::with_capacity(1 + merges as usize);
        completed.push((0, self.size, leaf));
        // Each trailing 1 bit of the old size is a complete subtree of that
        // level that the new leaf's subtree now matches in size. The two
        // merge into a node one level up, like a carry in binary addition.
        let mut acc = leaf;
        for level in 1..=merges {
            let Some(left) = self.hashes.pop() else {
                // Not reached while the invariant holds.
                break;
            };
            acc = node_hash(&left, &acc);
            let index = (new_size >> level) - 1;
            completed.push((u8::try_from(level).unwrap_or(u8::MAX), index, acc));
        }
        self.hashes.push(acc);
        self.size = new_size;
        completed
    }

    /// The root of the tree of [`Self::size`] leaves, folded from the right
    /// as in [`subtree_root`].
    pub fn root(&self) -> Hash {
        let mut nodes = self.hashes.iter().rev();
        let Some(&last) = nodes.next() else {
            return EMPTY_ROOT;
        };
        nodes.fold(last, |right, left| node_hash(left, &right))
    }

    /// Rebuilds the frontier of a tree of `size` leaves from stored nodes,
    /// with one read per set bit of `size`. Reopening a log therefore takes
    /// the same time whatever its size.
    pub fn load<S: NodeSource>(src: &mut S, size: u64) -> Result<Self, S::Error> {
        let mut hashes = Vec::with_capacity(size.count_ones() as usize);
        let mut start = 0u64;
        for level in (0..u64::BITS).rev() {
            let width = 1u64 << level;
            if size & width != 0 {
                hashes.push(read(src, level, start >> level)?);
                start += width;
            }
        }
        Ok(Self { size, hashes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::collections::HashMap;
    use std::path::{Path, PathBuf};
    use std::sync::OnceLock;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Vectors shared by the whole project; read at test time, never copied.
    const VECTORS: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/merkle/"
    );

    /// A node a store was asked for but cannot have.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Missing {
        level: u8,
        index: u64,
        size: u64,
    }

    impl fmt::Display for Missing {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "node ({}, {}) is not complete in a tree of {} leaves",
                self.level, self.index, self.size
            )
        }
    }

    /// Whether node (level, index) is a complete subtree within `size` leaves.
    /// A generator that reads anything else would read a node the ledger
    /// has not stored yet.
    fn complete_in(level: u8, index: u64, size: u64) -> bool {
        level < 64 && (u128::from(index) + 1) << level <= u128::from(size)
    }

    /// A tree built once through `Frontier::push`, as the ledger's writer
    /// would, with the frontier kept at every size.
    struct Tree {
        leaves: Vec<Hash>,
        nodes: HashMap<(u8, u64), Hash>,
        frontiers: Vec<Frontier>,
    }

    impl Tree {
        fn build(count: u64) -> Tree {
            let mut frontier = Frontier::new();
            let mut tree = Tree {
                leaves: Vec::new(),
                nodes: HashMap::new(),
                frontiers: vec![frontier.clone()],
            };
            for i in 0..count {
                let leaf = leaf_hash(&i.to_be_bytes());
                tree.leaves.push(leaf);
                for (level, index, hash) in frontier.push(leaf) {
                    assert!(tree.nodes.insert((level, index), hash).is_none());
                }
                tree.frontiers.push(frontier.clone());
            }
            tree
        }

        /// The store as a log of `size` leaves would have it.
        fn at(&self, size: u64) -> View<'_> {
            View {
                nodes: &self.nodes,
                size,
                reads: 0,
            }
        }
    }

    /// Big enough for the random-size tests; the small tests use a prefix.
    fn shared_tree() -> &'static Tree {
        static TREE: OnceLock<Tree> = OnceLock::new();
        TREE.get_or_init(|| Tree::build(3000))
    }

    struct View<'a> {
        nodes: &'a HashMap<(u8, u64), Hash>,
        size: u64,
        reads: u64,
    }

    impl NodeSource for View<'_> {
        type Error = Missing;

        fn node(&mut self, level: u8, index: u64) -> Result<Hash, Missing> {
            self.reads += 1;
            let missing = Missing {
                level,
                index,
                size: self.size,
            };
            if !complete_in(level, index, self.size) {
                return Err(missing);
            }
            self.nodes.get(&(level, index)).copied().ok_or(missing)
        }
    }

    /// A tree of any size up to `u64::MAX` whose leaves are all the same, so
    /// node (level, index) is the same for every index and costs nothing to
    /// serve. This puts the bit arithmetic under test at sizes no real tree
    /// reaches.
    struct Uniform {
        levels: [Hash; 64],
        size: u64,
        reads: u64,
    }

    impl Uniform {
        fn new(size: u64) -> Uniform {
            let mut levels = [leaf_hash(b"same"); 64];
            for l in 1..levels.len() {
                levels[l] = node_hash(&levels[l - 1], &levels[l - 1]);
            }
            Uniform {
                levels,
                size,
                reads: 0,
            }
        }
    }

    impl NodeSource for Uniform {
        type Error = Missing;

        fn node(&mut self, level: u8, index: u64) -> Result<Hash, Missing> {
            self.reads += 1;
            if !complete_in(level, index, self.size) {
                return Err(Missing {
                    level,
                    index,
                    size: self.size,
                });
            }
            Ok(self.levels[usize::from(level)])
        }
    }

    // RFC 9162 §2.1 written out as plainly as possible, to check the
    // generators against.

    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn mth(leaves: &[Hash]) -> Hash {
        match leaves {
            [] => EMPTY_ROOT,
            [leaf] => *leaf,
            _ => {
                let k = split(leaves.len());
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    fn naive_path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
        if leaves.len() <= 1 {
            return Vec::new();
        }
        let k = split(leaves.len());
        let (mut path, sibling) = if m < k {
            (naive_path(m, &leaves[..k]), mth(&leaves[k..]))
        } else {
            (naive_path(m - k, &leaves[k..]), mth(&leaves[..k]))
        };
        path.push(sibling);
        path
    }

    fn naive_subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
        let n = leaves.len();
        if m == n {
            return if b { Vec::new() } else { vec![mth(leaves)] };
        }
        let k = split(n);
        let (mut path, sibling) = if m <= k {
            (naive_subproof(m, &leaves[..k], b), mth(&leaves[k..]))
        } else {
            (
                naive_subproof(m - k, &leaves[k..], false),
                mth(&leaves[..k]),
            )
        };
        path.push(sibling);
        path
    }

    fn hex(s: &str) -> Vec<u8> {
        assert!(s.len().is_multiple_of(2), "odd hex {s:?}");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
            .collect()
    }

    fn hash_hex(s: &str) -> Hash {
        hex(s).try_into().expect("32-byte hex hash")
    }

    fn load_json(path: &Path) -> Value {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
    }

    fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries =
            std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                json_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "json") {
                out.push(path);
            }
        }
    }

    fn vector_files(sub: &str) -> Vec<PathBuf> {
        let mut files = Vec::new();
        json_files(&Path::new(VECTORS).join(sub), &mut files);
        files.sort();
        files
    }

    /// A base64 field; missing or null is empty, as the vectors' Go origin
    /// treats a nil slice.
    fn bytes_field(v: &Value, key: &str) -> Vec<u8> {
        match v.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::String(s)) => STANDARD.decode(s).expect("base64 field"),
            Some(other) => panic!("{key} is not a string: {other}"),
        }
    }

    fn proof_field(v: &Value) -> Vec<Vec<u8>> {
        match v.get("proof") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    let s = item.as_str().expect("proof item is a string");
                    STANDARD.decode(s).expect("base64 proof item")
                })
                .collect(),
            Some(other) => panic!("proof is not an array: {other}"),
        }
    }

    fn u64_field(v: &Value, key: &str) -> u64 {
        v.get(key)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{key} is not a u64"))
    }

    /// A leaf hash or proof hash of the wrong length cannot reach this API:
    /// the ledger's decoder rejects it first, which is what the vectors want
    /// (they always expect an error then).
    fn exact(bytes: &[u8]) -> Option<Hash> {
        bytes.try_into().ok()
    }

    fn exact_all(items: &[Vec<u8>]) -> Option<Vec<Hash>> {
        items.iter().map(|b| exact(b)).collect()
    }

    /// Roots are only ever compared for equality, and one vector expects two
    /// equal 12-byte "roots" of equal sizes to pass. A root of the wrong
    /// length is mapped to a stand-in hash: equal inputs stay equal, and
    /// they can never match a computed root.
    fn root_stand_in(bytes: &[u8]) -> Hash {
        exact(bytes).unwrap_or_else(|| prefixed_hash(0xff, &[b"not a 32-byte hash", bytes]))
    }

    #[test]
    fn hashes_match_the_reference_vectors() {
        let reference = load_json(&Path::new(VECTORS).join("rfc6962_reference_tree.json"));
        let cases = reference["hasher_vectors"]
            .as_array()
            .expect("hasher_vectors");
        assert_eq!(cases.len(), 4);
        let mut seen = 0;
        for case in cases {
            let want = hash_hex(case["want"].as_str().expect("want"));
            let got = if let Some(h) = case.get("leaf_hex") {
                leaf_hash(&hex(h.as_str().expect("leaf_hex")))
            } else if let Some(a) = case.get("leaf_ascii") {
                leaf_hash(a.as_str().expect("leaf_ascii").as_bytes())
            } else if let (Some(l), Some(r)) = (case.get("left_ascii"), case.get("right_ascii")) {
                let l = l.as_str().expect("left_ascii").as_bytes();
                let r = r.as_str().expect("right_ascii").as_bytes();
                prefixed_hash(NODE_PREFIX, &[l, r])
            } else {
                EMPTY_ROOT
            };
            assert_eq!(got, want, "{}", case["desc"]);
            seen += 1;
        }
        assert_eq!(seen, 4);
        let digest: Hash = Sha256::digest(b"").into();
        assert_eq!(EMPTY_ROOT, digest);
        assert_eq!(empty_root(), digest);
        let (l, r) = (leaf_hash(b"l"), leaf_hash(b"r"));
        assert_eq!(
            node_hash(&l, &r),
            prefixed_hash(NODE_PREFIX, &[l.as_slice(), r.as_slice()])
        );
    }

    #[test]
    fn reference_tree_roots_and_nodes() {
        let reference = load_json(&Path::new(VECTORS).join("rfc6962_reference_tree.json"));
        let leaves: Vec<Vec<u8>> = reference["leaf_inputs_hex"]
            .as_array()
            .expect("leaf_inputs_hex")
            .iter()
            .map(|s| hex(s.as_str().expect("leaf hex")))
            .collect();
        let roots: Vec<Hash> = reference["root_hashes_by_size"]
            .as_array()
            .expect("root_hashes_by_size")
            .iter()
            .map(|s| hash_hex(s.as_str().expect("root hex")))
            .collect();
        assert_eq!(roots.len(), leaves.len() + 1);

        let mut frontier = Frontier::new();
        let mut nodes = HashMap::new();
        assert_eq!(frontier.root(), roots[0]);
        for (i, data) in leaves.iter().enumerate() {
            for (level, index, hash) in frontier.push(leaf_hash(data)) {
                nodes.insert((level, index), hash);
            }
            let size = frontier.size();
            assert_eq!(size, i as u64 + 1);
            assert_eq!(
                frontier.root(),
                roots[i + 1],
                "frontier root at size {size}"
            );
        }

        let by_level = reference["node_hashes_by_level"]
            .as_array()
            .expect("node_hashes_by_level");
        let mut expected_nodes = 0;
        for (level, row) in by_level.iter().enumerate() {
            for (index, h) in row.as_array().expect("level row").iter().enumerate() {
                let key = (level as u8, index as u64);
                assert_eq!(
                    nodes.get(&key),
                    Some(&hash_hex(h.as_str().expect("node hex"))),
                    "node {key:?}"
                );
                expected_nodes += 1;
            }
        }
        assert_eq!(nodes.len(), expected_nodes);

        for (size, want) in roots.iter().enumerate() {
            let mut src = View {
                nodes: &nodes,
                size: size as u64,
                reads: 0,
            };
            assert_eq!(
                root(&mut src, size as u64),
                Ok(*want),
                "store root at {size}"
            );
            let reloaded = Frontier::load(&mut src, size as u64).expect("load");
            assert_eq!(reloaded.root(), *want, "reloaded root at {size}");
        }
    }

    #[test]
    fn inclusion_vectors() {
        let files = vector_files("inclusion");
        assert!(!files.is_empty());
        let mut failures = Vec::new();
        for path in &files {
            let v = load_json(path);
            let want_err = v["wantErr"].as_bool().expect("wantErr");
            let outcome = match (
                exact(&bytes_field(&v, "leafHash")),
                exact_all(&proof_field(&v)),
            ) {
                (Some(leaf), Some(proof)) => verify_inclusion(
                    &leaf,
                    u64_field(&v, "leafIdx"),
                    u64_field(&v, "treeSize"),
                    &proof,
                    &root_stand_in(&bytes_field(&v, "root")),
                ),
                _ => Err(VerifyError::WrongProofLength {
                    expected: 0,
                    got: 0,
                }),
            };
            if outcome.is_err() != want_err {
                failures.push(format!("{}: {outcome:?}", path.display()));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn consistency_vectors() {
        let files = vector_files("consistency");
        assert!(!files.is_empty());
        let mut failures = Vec::new();
        for path in &files {
            let v = load_json(path);
            let want_err = v["wantErr"].as_bool().expect("wantErr");
            let outcome = match exact_all(&proof_field(&v)) {
                Some(proof) => verify_consistency(
                    u64_field(&v, "size1"),
                    u64_field(&v, "size2"),
                    &root_stand_in(&bytes_field(&v, "root1")),
                    &root_stand_in(&bytes_field(&v, "root2")),
                    &proof,
                ),
                None => Err(VerifyError::WrongProofLength {
                    expected: 0,
                    got: 0,
                }),
            };
            if outcome.is_err() != want_err {
                failures.push(format!("{}: {outcome:?}", path.display()));
            }
        }
        assert!(failures.is_empty(), "{failures:#?}");
    }

    /// Flips one bit in each proof hash in turn; each result must fail.
    fn each_tampered(proof: &[Hash]) -> impl Iterator<Item = Vec<Hash>> + '_ {
        (0..proof.len()).map(move |i| {
            let mut bad = proof.to_vec();
            bad[i][i % 32] ^= 0x80;
            bad
        })
    }

    #[test]
    fn small_trees_match_the_rfc_definitions() {
        let tree = shared_tree();
        let prefix_roots: Vec<Hash> = (0..=70).map(|m| mth(&tree.leaves[..m])).collect();
        for n in 1..=70usize {
            let size = n as u64;
            let leaves = &tree.leaves[..n];
            let want_root = prefix_roots[n];
            assert_eq!(tree.frontiers[n].root(), want_root, "frontier root {n}");
            assert_eq!(root(&mut tree.at(size), size), Ok(want_root));

            for (m, leaf) in leaves.iter().enumerate() {
                let index = m as u64;
                let proof = inclusion_proof(&mut tree.at(size), index, size).expect("proof");
                assert_eq!(proof, naive_path(m, leaves), "PATH({m}, D[{n}])");
                assert_eq!(Some(proof.len()), inclusion_proof_len(index, size));
                assert_eq!(
                    verify_inclusion(leaf, index, size, &proof, &want_root),
                    Ok(())
                );
                for bad in each_tampered(&proof) {
                    assert!(verify_inclusion(leaf, index, size, &bad, &want_root).is_err());
                }
                let other = (index + 1) % size;
                if other != index {
                    assert!(verify_inclusion(leaf, other, size, &proof, &want_root).is_err());
                }
            }

            for (m, &old_root) in prefix_roots.iter().enumerate().take(n + 1).skip(1) {
                let old = m as u64;
                let proof = consistency_proof(&mut tree.at(size), old, size).expect("proof");
                assert_eq!(proof, naive_subproof(m, leaves, true), "PROOF({m}, D[{n}])");
                assert_eq!(Some(proof.len()), consistency_proof_len(old, size));
                assert_eq!(
                    verify_consistency(old, size, &old_root, &want_root, &proof),
                    Ok(())
                );
                for bad in each_tampered(&proof) {
                    assert!(verify_consistency(old, size, &old_root, &want_root, &bad).is_err());
                }
                if m < n {
                    assert!(verify_consistency(old, size, &want_root, &want_root, &proof).is_err());
                    assert!(verify_consistency(old, size, &old_root, &old_root, &proof).is_err());
                    assert!(
                        verify_consistency(old + 1, size, &old_root, &want_root, &proof).is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn subtree_root_of_any_range() {
        let tree = shared_tree();
        for end in 0..=70usize {
            for start in 0..=end {
                let mut src = tree.at(end as u64);
                assert_eq!(
                    subtree_root(&mut src, start as u64, end as u64),
                    Ok(mth(&tree.leaves[start..end])),
                    "MTH(D[{start}:{end}])"
                );
            }
        }
        assert_eq!(subtree_root(&mut tree.at(10), 7, 3), Ok(EMPTY_ROOT));
    }

    #[test]
    fn frontier_load_reads_one_node_per_set_bit() {
        let tree = shared_tree();
        for (size, frontier) in tree.frontiers.iter().enumerate() {
            let size = size as u64;
            let mut src = tree.at(size);
            assert_eq!(Frontier::load(&mut src, size).as_ref(), Ok(frontier));
            assert_eq!(src.reads, u64::from(size.count_ones()));
        }
        let mut huge = Uniform::new(u64::MAX);
        let frontier = Frontier::load(&mut huge, u64::MAX).expect("load");
        assert_eq!(huge.reads, 64);
        assert_eq!(frontier.hashes().len(), 64);
    }

    #[test]
    fn pushes_report_every_completed_node() {
        let mut frontier = Frontier::new();
        let leaves: Vec<Hash> = (0u8..8).map(|i| leaf_hash(&[i])).collect();
        let levels: Vec<Vec<(u8, u64)>> = leaves
            .iter()
            .map(|leaf| {
                frontier
                    .push(*leaf)
                    .into_iter()
                    .map(|(level, index, _)| (level, index))
                    .collect()
            })
            .collect();
        assert_eq!(
            levels,
            vec![
                vec![(0, 0)],
                vec![(0, 1), (1, 0)],
                vec![(0, 2)],
                vec![(0, 3), (1, 1), (2, 0)],
                vec![(0, 4)],
                vec![(0, 5), (1, 2)],
                vec![(0, 6)],
                vec![(0, 7), (1, 3), (2, 1), (3, 0)],
            ]
        );
        assert_eq!(frontier.root(), mth(&leaves));
        assert_eq!(Frontier::new().root(), EMPTY_ROOT);
    }

    #[test]
    fn a_full_frontier_refuses_more_leaves() {
        let mut frontier = Frontier::load(&mut Uniform::new(u64::MAX), u64::MAX - 1).expect("load");
        let pushed = frontier.push(leaf_hash(b"same"));
        assert_eq!(pushed.len(), 1);
        assert_eq!(pushed[0].1, u64::MAX - 1);
        assert_eq!(frontier.size(), u64::MAX);
        let mut src = Uniform::new(u64::MAX);
        assert_eq!(root(&mut src, u64::MAX), Ok(frontier.root()));
        let before = frontier.clone();
        assert!(frontier.push(leaf_hash(b"same")).is_empty());
        assert_eq!(frontier, before);
    }

    #[test]
    fn generation_rejects_bad_arguments_and_passes_store_errors_on() {
        let tree = shared_tree();
        let mut src = tree.at(5);
        assert_eq!(
            inclusion_proof(&mut src, 5, 5),
            Err(ProofError::IndexOutOfRange { index: 5, size: 5 })
        );
        assert_eq!(
            inclusion_proof(&mut src, 0, 0),
            Err(ProofError::IndexOutOfRange { index: 0, size: 0 })
        );
        for (old, new) in [(0, 0), (0, 5), (6, 5)] {
            assert_eq!(
                consistency_proof(&mut src, old, new),
                Err(ProofError::SizeOutOfRange { old, new })
            );
        }
        assert_eq!(consistency_proof(&mut src, 5, 5), Ok(Vec::new()));
        assert_eq!(src.reads, 0);

        // Asking a store of 5 leaves for a proof in a tree of 6.
        let err = inclusion_proof(&mut tree.at(5), 0, 6).expect_err("node (1, 2) is missing");
        assert!(matches!(
            err,
            ProofError::Source(Missing {
                level: 1,
                index: 2,
                ..
            })
        ));
        assert!(
            err.to_string()
                .contains("reading a stored tree node failed")
        );
        let err = consistency_proof(&mut tree.at(5), 3, 6).expect_err("missing");
        assert!(matches!(err, ProofError::Source(_)));
        assert!(Frontier::load(&mut tree.at(5), 6).is_err());

        let messages = [
            ProofError::<Missing>::IndexOutOfRange { index: 9, size: 0 }.to_string(),
            ProofError::<Missing>::IndexOutOfRange { index: 9, size: 4 }.to_string(),
            ProofError::<Missing>::SizeOutOfRange { old: 7, new: 4 }.to_string(),
            ProofError::<Missing>::SizeOutOfRange { old: 0, new: 4 }.to_string(),
        ];
        assert!(messages[0].contains("empty"));
        assert!(messages[1].contains("0 to 3"));
        assert!(messages[2].contains("larger"));
        assert!(messages[3].contains("non-empty"));
    }

    #[test]
    fn verification_errors_say_what_went_wrong() {
        let tree = shared_tree();
        let leaves = &tree.leaves[..7];
        let root7 = mth(leaves);
        let root3 = mth(&leaves[..3]);
        let proof = naive_path(2, leaves);

        assert_eq!(
            verify_inclusion(&leaves[2], 7, 7, &proof, &root7),
            Err(VerifyError::IndexOutOfRange { index: 7, size: 7 })
        );
        assert_eq!(
            verify_inclusion(&leaves[2], 2, 7, &proof[1..], &root7),
            Err(VerifyError::WrongProofLength {
                expected: 3,
                got: 2
            })
        );
        assert!(matches!(
            verify_inclusion(&leaves[3], 2, 7, &proof, &root7),
            Err(VerifyError::RootMismatch { expected, .. }) if expected == root7
        ));

        let cproof = naive_subproof(3, leaves, true);
        assert_eq!(
            verify_consistency(7, 3, &root7, &root3, &cproof),
            Err(VerifyError::OldSizeExceedsNew {
                old_size: 7,
                new_size: 3
            })
        );
        assert_eq!(
            verify_consistency(0, 7, &EMPTY_ROOT, &root7, &[]),
            Err(VerifyError::EmptyOldTree { new_size: 7 })
        );
        assert_eq!(
            verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]),
            Err(VerifyError::EmptyOldTree { new_size: 0 })
        );
        assert_eq!(verify_consistency(3, 3, &root3, &root3, &[]), Ok(()));
        assert_eq!(
            verify_consistency(3, 3, &root3, &root3, &cproof),
            Err(VerifyError::WrongProofLength {
                expected: 0,
                got: cproof.len()
            })
        );
        assert!(matches!(
            verify_consistency(3, 3, &root3, &root7, &[]),
            Err(VerifyError::SameSizeDifferentRoots { size: 3, .. })
        ));
        assert!(matches!(
            verify_consistency(3, 7, &root3, &root7, &[]),
            Err(VerifyError::WrongProofLength { got: 0, .. })
        ));
        assert!(matches!(
            verify_consistency(3, 7, &root7, &root7, &cproof),
            Err(VerifyError::OldRootMismatch { expected, .. }) if expected == root7
        ));
        assert!(matches!(
            verify_consistency(3, 7, &root3, &root3, &cproof),
            Err(VerifyError::NewRootMismatch { expected, .. }) if expected == root3
        ));

        let hex_root7: String = root7.iter().map(|b| format!("{b:02x}")).collect();
        let shown = verify_inclusion(&leaves[3], 2, 7, &proof, &root7)
            .expect_err("wrong leaf")
            .to_string();
        assert!(shown.contains(&hex_root7), "{shown}");
        for err in [
            VerifyError::IndexOutOfRange { index: 1, size: 1 },
            VerifyError::WrongProofLength {
                expected: 1,
                got: 2,
            },
            VerifyError::OldSizeExceedsNew {
                old_size: 2,
                new_size: 1,
            },
            VerifyError::EmptyOldTree { new_size: 1 },
            VerifyError::SameSizeDifferentRoots {
                size: 1,
                old_root: root3,
                new_root: root7,
            },
            VerifyError::OldRootMismatch {
                expected: root3,
                computed: root7,
            },
            VerifyError::NewRootMismatch {
                expected: root3,
                computed: root7,
            },
        ] {
            assert!(err.to_string().len() > 40, "{err}");
        }
    }

    #[test]
    fn proofs_read_a_logarithmic_number_of_nodes() {
        let size = 1_000_003u64;
        let bits = u64::from(u64::BITS - size.leading_zeros());
        // Derivation: at most one node per level walked, plus one
        // incomplete sibling of at most `bits` blocks, plus (consistency
        // only) the old tree's last subtree.
        let bound = 2 * bits + 1;
        assert!(bound <= 4 * 64);
        let mut src = Uniform::new(size);
        let full = root(&mut src, size).expect("root");
        let picks = (0..size)
            .step_by(997)
            .chain([1, 2, size / 2, size - 2, size - 1]);
        let mut worst = (0, 0);
        for i in picks {
            src.reads = 0;
            let proof = inclusion_proof(&mut src, i, size).expect("inclusion");
            worst.0 = worst.0.max(src.reads);
            assert_eq!(
                verify_inclusion(&src.levels[0], i, size, &proof, &full),
                Ok(())
            );

            let old = i + 1;
            let old_root = root(&mut Uniform::new(old), old).expect("old root");
            src.reads = 0;
            let proof = consistency_proof(&mut src, old, size).expect("consistency");
            worst.1 = worst.1.max(src.reads);
            assert_eq!(
                verify_consistency(old, size, &old_root, &full, &proof),
                Ok(())
            );
        }
        assert!(worst.0 <= bound, "inclusion read {} nodes", worst.0);
        assert!(worst.1 <= bound, "consistency read {} nodes", worst.1);
    }

    fn config(cases: u32) -> ProptestConfig {
        ProptestConfig {
            cases,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config(48))]

        #[test]
        fn random_sizes_verify_against_the_rfc_root(
            size in 1u64..=3000,
            a in any::<u64>(),
            b in any::<u64>(),
        ) {
            let tree = shared_tree();
            let n = size as usize;
            let full = mth(&tree.leaves[..n]);
            prop_assert_eq!(tree.frontiers[n].root(), full);

            let index = a % size;
            let leaf = tree.leaves[index as usize];
            let proof = inclusion_proof(&mut tree.at(size), index, size).expect("inclusion");
            prop_assert_eq!(verify_inclusion(&leaf, index, size, &proof, &full), Ok(()));
            if size > 1 {
                let other = (index + 1) % size;
                prop_assert!(verify_inclusion(&leaf, other, size, &proof, &full).is_err());
            }

            let old = 1 + b % size;
            let old_root = mth(&tree.leaves[..old as usize]);
            let proof = consistency_proof(&mut tree.at(size), old, size).expect("consistency");
            prop_assert_eq!(
                verify_consistency(old, size, &old_root, &full, &proof),
                Ok(())
            );
        }
    }

    proptest! {
        #![proptest_config(config(256))]

        #[test]
        fn huge_trees_prove_and_verify_in_bounded_reads(
            size in 1u64..=u64::MAX,
            a in any::<u64>(),
            b in any::<u64>(),
        ) {
            let bound = 2 * 64 + 1;
            let mut src = Uniform::new(size);
            let full = root(&mut src, size).expect("root");
            let index = a % size;

            src.reads = 0;
            let proof = inclusion_proof(&mut src, index, size).expect("inclusion");
            prop_assert!(src.reads <= bound);
            prop_assert_eq!(Some(proof.len()), inclusion_proof_len(index, size));
            prop_assert_eq!(
                verify_inclusion(&src.levels[0], index, size, &proof, &full),
                Ok(())
            );

            let old = 1 + b % size;
            let old_root = root(&mut Uniform::new(old), old).expect("old root");
            src.reads = 0;
            let proof = consistency_proof(&mut src, old, size).expect("consistency");
            prop_assert!(src.reads <= bound);
            prop_assert_eq!(Some(proof.len()), consistency_proof_len(old, size));
            prop_assert_eq!(
                verify_consistency(old, size, &old_root, &full, &proof),
                Ok(())
            );
        }

        #[test]
        fn verification_never_panics(
            index in any::<u64>(),
            size in any::<u64>(),
            proof in prop::collection::vec(any::<[u8; 32]>(), 0..140),
            leaf in any::<[u8; 32]>(),
            root in any::<[u8; 32]>(),
        ) {
            // Arbitrary lengths mostly stop at the length check, so also try
            // proofs of exactly the expected length to run the RFC loops.
            let fit = |want: Option<usize>| {
                want.filter(|&w| w <= proof.len()).map(|w| &proof[..w])
            };
            let _ = verify_inclusion(&leaf, index, size, &proof, &root);
            if let Some(p) = fit(inclusion_proof_len(index, size)) {
                let _ = verify_inclusion(&leaf, index, size, p, &root);
            }
            let (old, new) = (index.min(size), index.max(size));
            let _ = verify_consistency(index, size, &leaf, &root, &proof);
            if let Some(p) = fit(consistency_proof_len(old, new)) {
                let _ = verify_consistency(old, new, &leaf, &root, p);
            }
        }
    }
}
