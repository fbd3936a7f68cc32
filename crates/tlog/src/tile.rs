//! C2SP tlog-tiles: the Merkle tree served as tiles of 256 hashes and the entries as bundles,
//! the static resources that monitors, witnesses and mirrors fetch instead of asking the log for
//! each proof.
//!
//! Hash `i` of tile `N` at level `L` is MTH of leaves `[(N·256+i)·256^L, (N·256+i+1)·256^L)`:
//! in [`merkle`](crate::merkle)'s terms, node (`8·L`, `N·256+i`). A log that stores its complete
//! subtrees (as lotline does) therefore serves a tile as one range of stored nodes, and a tile
//! never changes once written. A *partial* tile (width 1 to 255) is the right edge of a tree whose
//! size is not a multiple of the tile's span; it is a prefix of the full tile it will become.
//!
//! The client's side is [`TileReader`]: a [`NodeSource`] over fetched tiles. With it, a client
//! computes roots and proofs with the same functions the log uses, and it trusts the tiles only
//! because the root they give equals the one in a signed checkpoint.
//!
//! Pure, like the rest of the crate: paths are parsed strictly (only the canonical spelling of a
//! tile is accepted, so two paths never name one tile) and nothing panics on input.

use core::fmt;
use std::collections::HashMap;

use crate::merkle::{Hash, NodeSource, node_hash};

/// Hashes in a full tile.
pub const WIDTH: u16 = 256;
/// Tree levels a tile spans: a full tile is a complete subtree of height 8.
pub const HEIGHT: u32 = 8;
/// The largest entry an entry bundle can hold: its length is a big-endian `u16`.
pub const MAX_BUNDLED_ENTRY: usize = u16::MAX as usize;
/// Levels run from 0 to 63, as the specification allows.
pub const MAX_LEVEL: u8 = 63;

/// A tile: its level, its index within the level, and its width (256 for a full tile).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    level: u8,
    index: u64,
    width: u16,
}

impl Tile {
    /// A tile, or `None` unless `level` is at most 63 and `width` is 1 to 256.
    pub fn new(level: u8, index: u64, width: u16) -> Option<Tile> {
        (level <= MAX_LEVEL && (1..=WIDTH).contains(&width)).then_some(Tile {
            level,
            index,
            width,
        })
    }

    pub fn level(&self) -> u8 {
        self.level
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    /// Hashes (or, for an entry bundle, entries) in the tile.
    pub fn width(&self) -> u16 {
        self.width
    }

    pub fn is_partial(&self) -> bool {
        self.width < WIDTH
    }

    /// The tree level and index of the tile's first hash as a stored node: (`8·level`,
    /// `index·256`). `None` for tiles no tree of at most `u64::MAX` leaves has.
    pub fn first_node(&self) -> Option<(u8, u64)> {
        let level = u8::try_from(u32::from(self.level) * HEIGHT)
            .ok()
            .filter(|l| *l < 64)?;
        Some((level, self.index.checked_mul(u64::from(WIDTH))?))
    }

    /// One past the last leaf the tile's hashes cover: `(index·256 + width)·256^level`. `None`
    /// when that is beyond `u64`, so beyond every tree.
    pub fn end(&self) -> Option<u64> {
        let hashes = self
            .index
            .checked_mul(u64::from(WIDTH))?
            .checked_add(u64::from(self.width))?;
        let shift = u32::from(self.level) * HEIGHT;
        if shift >= 64 {
            return None;
        }
        let end = hashes.checked_shl(shift)?;
        // `checked_shl` only checks the shift amount; bits shifted out are an overflow too.
        (end >> shift == hashes).then_some(end)
    }

    /// Whether a tree of `size` leaves has every hash of this tile. A partial tile of a tree
    /// that has since grown is still there: it is a prefix of the wider tile.
    pub fn within(&self, size: u64) -> bool {
        self.end().is_some_and(|end| end <= size)
    }

    /// The tile that holds hash `position` of level `level` in a tree of `size` leaves: the full
    /// tile if the tree has all of it, otherwise the partial tile of the tree's right edge.
    /// `None` if the tree does not have that hash.
    pub fn containing(level: u8, position: u64, size: u64) -> Option<Tile> {
        let shift = u32::from(level) * HEIGHT;
        let hashes_in_level = if shift >= 64 { 0 } else { size >> shift };
        if position >= hashes_in_level {
            return None;
        }
        let index = position / u64::from(WIDTH);
        let start = index * u64::from(WIDTH);
        let width = (hashes_in_level - start).min(u64::from(WIDTH));
        Tile::new(level, index, u16::try_from(width).ok()?)
    }

    /// The tile's path below the log's prefix: `tile/<L>/<N>[.p/<W>]`.
    pub fn path(&self) -> String {
        format!("tile/{}/{}", self.level, self.index_path())
    }

    /// The path of the entry bundle with this tile's index and width: `tile/entries/<N>[.p/<W>]`.
    /// Meaningful for level 0, whose hashes are the bundle's leaf hashes.
    pub fn entries_path(&self) -> String {
        format!("tile/entries/{}", self.index_path())
    }

    /// `<N>[.p/<W>]`: the index in 3-digit elements, all but the last prefixed with `x`.
    fn index_path(&self) -> String {
        let mut groups = Vec::new();
        let mut n = self.index;
        loop {
            groups.push(n % 1000);
            n /= 1000;
            if n == 0 {
                break;
            }
        }
        let mut out = String::new();
        for (i, g) in groups.iter().rev().enumerate() {
            let last = i + 1 == groups.len();
            out.push_str(&format!(
                "{}{g:03}{}",
                if last { "" } else { "x" },
                if last { "" } else { "/" }
            ));
        }
        if self.is_partial() {
            out.push_str(&format!(".p/{}", self.width));
        }
        out
    }

    /// The partial tiles a tree of `size` leaves has, lowest level first: at level `L`, width
    /// `⌊size / 256^L⌋ mod 256` where that is not 0. A checkpoint of that size needs them.
    pub fn partial_tiles(size: u64) -> Vec<Tile> {
        (0..=MAX_LEVEL)
            .map_while(|level| {
                let shift = u32::from(level) * HEIGHT;
                (shift < 64 && size >> shift != 0).then(|| (level, size >> shift))
            })
            .filter_map(|(level, hashes)| {
                let width = hashes % u64::from(WIDTH);
                Tile::new(level, hashes / u64::from(WIDTH), u16::try_from(width).ok()?)
            })
            .collect()
    }
}

impl fmt::Display for Tile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

/// What a path below `tile/` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// `tile/<L>/<N>[.p/<W>]`: hashes.
    Hashes(Tile),
    /// `tile/entries/<N>[.p/<W>]`: the entries of the level-0 tile (the tile's level is 0).
    Entries(Tile),
}

/// Why a path is not a tile's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathError {
    /// The level is not a decimal from 0 to 63 without leading zeroes.
    Level(String),
    /// The index is not 3-digit elements with all but the last prefixed by `x`.
    Index(String),
    /// The width after `.p/` is not a decimal from 1 to 255 without leading zeroes.
    Width(String),
    /// A valid tile spelled in another way than the specification's encoder writes it (a
    /// leading `x000/` element); `canonical` is its path.
    NotCanonical { canonical: String },
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Level(l) => write!(
                f,
                "tile level {l:?} is not a number from 0 to 63 without leading zeroes"
            ),
            Self::Index(n) => write!(
                f,
                "tile index {n:?} is not 3-digit path elements with all but the last starting \
                 with x (index 1234067 is x001/x234/067)"
            ),
            Self::Width(w) => write!(
                f,
                "partial tile width {w:?} is not a number from 1 to 255 without leading zeroes"
            ),
            Self::NotCanonical { canonical } => {
                write!(f, "that tile's path is {canonical}")
            }
        }
    }
}

impl std::error::Error for PathError {}

/// Parses a path below the log's `tile/`: `<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`.
pub fn parse_path(path: &str) -> Result<Resource, PathError> {
    let (head, rest) = path.split_once('/').unwrap_or((path, ""));
    let entries = head == "entries";
    let level = if entries {
        0
    } else {
        small_decimal(head, MAX_LEVEL.into()).ok_or_else(|| PathError::Level(head.into()))? as u8
    };
    let (index_part, width) = match rest.split_once(".p/") {
        Some((n, w)) => {
            let width = small_decimal(w, u64::from(WIDTH) - 1)
                .filter(|w| *w >= 1)
                .ok_or_else(|| PathError::Width(w.into()))?;
            (n, width as u16)
        }
        None => (rest, WIDTH),
    };
    let index = parse_index(index_part).ok_or_else(|| PathError::Index(index_part.into()))?;
    let tile = Tile::new(level, index, width).ok_or_else(|| PathError::Level(head.into()))?;
    let resource = if entries {
        Resource::Entries(tile)
    } else {
        Resource::Hashes(tile)
    };
    let canonical = match resource {
        Resource::Hashes(t) => t.path(),
        Resource::Entries(t) => t.entries_path(),
    };
    if canonical != format!("tile/{path}") {
        return Err(PathError::NotCanonical { canonical });
    }
    Ok(resource)
}

/// A decimal of at most `max` with no sign and no leading zeroes (`0` itself is fine).
fn small_decimal(s: &str, max: u64) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 3
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical
        .then(|| s.parse().ok())
        .flatten()
        .filter(|v| *v <= max)
}

/// `x001/x234/067` → 1234067. Each element is exactly three digits, all but the last prefixed
/// with `x`; the value must fit a `u64`.
fn parse_index(s: &str) -> Option<u64> {
    let elements: Vec<&str> = s.split('/').collect();
    let mut n: u64 = 0;
    for (i, e) in elements.iter().enumerate() {
        let digits = if i + 1 == elements.len() {
            *e
        } else {
            e.strip_prefix('x')?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n
            .checked_mul(1000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
    }
    Some(n)
}

/// Why bytes are not an entry bundle, or entries cannot be one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleError {
    /// Entry `position` of the bundle is `len` bytes, more than a `u16` length can say.
    EntryTooLarge { position: usize, len: usize },
    /// The bundle ends inside the entry that starts at byte `offset`.
    Truncated { offset: usize },
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::EntryTooLarge { position, len } => write!(
                f,
                "entry {position} of the bundle is {len} bytes; an entry bundle holds entries of \
                 at most {MAX_BUNDLED_ENTRY} bytes"
            ),
            Self::Truncated { offset } => {
                write!(f, "the entry bundle ends inside the entry at byte {offset}")
            }
        }
    }
}

impl std::error::Error for BundleError {}

/// An entry bundle: each entry as its length (big-endian `u16`) and its bytes.
pub fn write_bundle<'a>(
    entries: impl IntoIterator<Item = &'a [u8]>,
) -> Result<Vec<u8>, BundleError> {
    let mut out = Vec::new();
    for (position, e) in entries.into_iter().enumerate() {
        let len = u16::try_from(e.len()).map_err(|_| BundleError::EntryTooLarge {
            position,
            len: e.len(),
        })?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// The entries of a bundle, in order.
pub fn read_bundle(mut bytes: &[u8]) -> Result<Vec<&[u8]>, BundleError> {
    let total = bytes.len();
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let offset = total - bytes.len();
        let Some((len, rest)) = bytes.split_first_chunk::<2>() else {
            return Err(BundleError::Truncated { offset });
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() < len {
            return Err(BundleError::Truncated { offset });
        }
        let (entry, rest) = rest.split_at(len);
        entries.push(entry);
        bytes = rest;
    }
    Ok(entries)
}

/// Why a [`TileReader`] could not give a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TileReadError<E> {
    /// Fetching the tile failed.
    Fetch(E),
    /// The fetched tile is not `width`·32 bytes long.
    Length { tile: Tile, len: usize },
    /// The node is not a complete subtree of the tree the reader was made for.
    Outside { level: u8, index: u64, size: u64 },
}

impl<E: fmt::Display> fmt::Display for TileReadError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fetch(e) => write!(f, "fetching a tile failed: {e}"),
            Self::Length { tile, len } => write!(
                f,
                "{tile} is {len} bytes; a tile of width {} is {} bytes",
                tile.width(),
                usize::from(tile.width()) * 32
            ),
            Self::Outside { level, index, size } => write!(
                f,
                "node ({level}, {index}) is not complete in a tree of {size} leaves"
            ),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for TileReadError<E> {}

/// A [`NodeSource`] over the tiles of a tree of `size` leaves, fetched on demand (each tile once)
/// through `fetch`, so [`merkle::root`](crate::merkle::root) and the proof functions run on a
/// tiled log. Node (`8·L + r`, `i`) is the root of the `2^r` hashes of level-`L` tiles from
/// `i·2^r` on; the reader asks for the full tile where the tree has one and for the right
/// edge's partial tile otherwise.
pub struct TileReader<F> {
    size: u64,
    fetch: F,
    tiles: HashMap<Tile, Vec<Hash>>,
}

impl<F, E> TileReader<F>
where
    F: FnMut(Tile) -> Result<Vec<u8>, E>,
{
    pub fn new(size: u64, fetch: F) -> Self {
        TileReader {
            size,
            fetch,
            tiles: HashMap::new(),
        }
    }

    /// The tiles fetched so far.
    pub fn fetched(&self) -> impl Iterator<Item = &Tile> {
        self.tiles.keys()
    }
}

impl<F, E> NodeSource for TileReader<F>
where
    F: FnMut(Tile) -> Result<Vec<u8>, E>,
{
    type Error = TileReadError<E>;

    fn node(&mut self, level: u8, index: u64) -> Result<Hash, Self::Error> {
        let outside = TileReadError::Outside {
            level,
            index,
            size: self.size,
        };
        let complete = level < 64
            && index
                .checked_add(1)
                .and_then(|n| n.checked_shl(level.into()))
                .is_some_and(|end| end >> level == index + 1 && end <= self.size);
        if !complete {
            return Err(outside);
        }
        let tile_level = u32::from(level) / HEIGHT;
        let height = u32::from(level) % HEIGHT;
        // The node's first hash in its tile level; its 2^height hashes lie in one tile, since
        // tiles hold 2^8 hashes and the node's run starts at a multiple of 2^height.
        let first = index << height;
        let tile = Tile::containing(tile_level as u8, first, self.size).ok_or(outside)?;
        if !self.tiles.contains_key(&tile) {
            let bytes = (self.fetch)(tile).map_err(TileReadError::Fetch)?;
            if bytes.len() != usize::from(tile.width()) * 32 {
                return Err(TileReadError::Length {
                    tile,
                    len: bytes.len(),
                });
            }
            let hashes = bytes
                .chunks_exact(32)
                .map(|c| c.try_into().unwrap_or([0; 32]))
                .collect();
            self.tiles.insert(tile, hashes);
        }
        let hashes = &self.tiles[&tile];
        let offset = (first % u64::from(WIDTH)) as usize;
        Ok(complete_root(&hashes[offset..offset + (1usize << height)]))
    }
}

/// The root of a complete subtree whose bottom row is `hashes` (a power of two of them).
fn complete_root(hashes: &[Hash]) -> Hash {
    let mut row = hashes.to_vec();
    while row.len() > 1 {
        row = row
            .chunks_exact(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    row.first().copied().unwrap_or(crate::merkle::EMPTY_ROOT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{self, Frontier, leaf_hash};
    use proptest::prelude::*;

    #[test]
    fn paths_are_written_as_the_specification_shows() {
        let t = Tile::new(0, 1_234_067, 256).unwrap();
        assert_eq!(t.path(), "tile/0/x001/x234/067");
        assert_eq!(t.entries_path(), "tile/entries/x001/x234/067");
        assert_eq!(Tile::new(3, 0, 1).unwrap().path(), "tile/3/000.p/1");
        assert_eq!(
            Tile::new(1, 1000, 17).unwrap().path(),
            "tile/1/x001/000.p/17"
        );
        assert_eq!(
            Tile::new(63, u64::MAX, 256).unwrap().path(),
            "tile/63/x018/x446/x744/x073/x709/x551/615"
        );
    }

    #[test]
    fn paths_parse_back_to_their_tiles() {
        for (level, index, width) in [
            (0, 0, 256),
            (0, 1_234_067, 112),
            (5, 999, 1),
            (63, u64::MAX, 255),
        ] {
            let t = Tile::new(level, index, width).unwrap();
            let p = t.path();
            assert_eq!(
                parse_path(&p["tile/".len()..]),
                Ok(Resource::Hashes(t)),
                "{p}"
            );
            let e = Tile::new(0, index, width).unwrap();
            let p = e.entries_path();
            assert_eq!(
                parse_path(&p["tile/".len()..]),
                Ok(Resource::Entries(e)),
                "{p}"
            );
        }
    }

    #[test]
    fn only_the_canonical_path_of_a_tile_is_accepted() {
        for bad in [
            "",
            "0",
            "0/",
            "01/000",
            "64/000",
            "-1/000",
            "+1/000",
            "0/1",
            "0/0000",
            "0/x1/000",
            "0/001/000",
            "0/x001",
            "0/000/",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/007",
            "0/000.p/",
            "0/000.p",
            "0/000.p/1/2",
            "entries",
            "entries/",
            "entries/1",
            "0/x018/x446/x744/x073/x709/x551/616",
            "0/a00",
            "0/０00",
            "tile/0/000",
        ] {
            assert!(parse_path(bad).is_err(), "{bad:?} parsed");
        }
        assert_eq!(
            parse_path("0/x000/001"),
            Err(PathError::NotCanonical {
                canonical: "tile/0/001".into()
            })
        );
    }

    #[test]
    fn a_tree_has_the_partial_tiles_the_specification_lists() {
        // Its example: 70,000 leaves are 273 full level-0 tiles, one of width 112, a full
        // level-1 tile, one of width 17 and a level-2 tile of width 1.
        let partial = Tile::partial_tiles(70_000);
        assert_eq!(
            partial,
            [
                Tile::new(0, 273, 112).unwrap(),
                Tile::new(1, 1, 17).unwrap(),
                Tile::new(2, 0, 1).unwrap()
            ]
        );
        // 256 leaves: one full level-0 tile, and a level-1 tile of width 1.
        assert_eq!(Tile::partial_tiles(256), [Tile::new(1, 0, 1).unwrap()]);
        assert!(Tile::partial_tiles(0).is_empty());
        assert!(partial.iter().all(|t| t.within(70_000)));
        assert!(!Tile::new(0, 273, 113).unwrap().within(70_000));
        assert!(Tile::new(0, 272, 256).unwrap().within(70_000));
        assert!(!Tile::new(7, u64::MAX, 256).unwrap().within(u64::MAX));
        assert_eq!(Tile::new(8, 0, 1).unwrap().first_node(), None);
    }

    #[test]
    fn bundles_round_trip_and_refuse_what_they_cannot_hold() {
        let entries: [&[u8]; 3] = [b"", b"one", &[7u8; 300]];
        let bundle = write_bundle(entries).unwrap();
        assert_eq!(&bundle[..2], &[0, 0]);
        assert_eq!(&bundle[2..4], &[0, 3]);
        assert_eq!(read_bundle(&bundle).unwrap(), entries);
        assert_eq!(
            read_bundle(&bundle[..bundle.len() - 1]),
            Err(BundleError::Truncated { offset: 7 })
        );
        assert_eq!(read_bundle(&[0]), Err(BundleError::Truncated { offset: 0 }));
        let big = vec![0u8; MAX_BUNDLED_ENTRY + 1];
        assert_eq!(
            write_bundle([&b"a"[..], &big]),
            Err(BundleError::EntryTooLarge {
                position: 1,
                len: MAX_BUNDLED_ENTRY + 1
            })
        );
        assert!(write_bundle([&big[1..]]).is_ok());
    }

    /// The tiles of a tree built as the ledger builds it, served from its stored nodes.
    struct Tiled {
        nodes: HashMap<(u8, u64), Hash>,
        frontiers: Vec<Frontier>,
    }

    impl Tiled {
        fn build(count: u64) -> Tiled {
            let mut frontier = Frontier::new();
            let mut t = Tiled {
                nodes: HashMap::new(),
                frontiers: vec![frontier.clone()],
            };
            for i in 0..count {
                for (level, index, hash) in frontier.push(leaf_hash(&i.to_be_bytes())) {
                    t.nodes.insert((level, index), hash);
                }
                t.frontiers.push(frontier.clone());
            }
            t
        }

        /// A tile as a log of `size` leaves serves it: its nodes, or nothing if not within.
        fn serve(&self, tile: Tile, size: u64) -> Result<Vec<u8>, String> {
            if !tile.within(size) {
                return Err(format!("{tile} is not in a tree of {size}"));
            }
            let (level, first) = tile.first_node().unwrap();
            Ok((first..first + u64::from(tile.width()))
                .flat_map(|i| self.nodes[&(level, i)])
                .collect())
        }
    }

    #[test]
    fn roots_and_proofs_from_tiles_are_the_logs() {
        let tree = Tiled::build(70_000);
        for size in [
            1u64, 2, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 70_000,
        ] {
            let want = tree.frontiers[size as usize].root();
            let mut reader = TileReader::new(size, |t| tree.serve(t, size));
            assert_eq!(
                merkle::root(&mut reader, size).unwrap(),
                want,
                "size {size}"
            );
            // The root needs only the partial tiles and the full tiles to their left.
            assert!(reader.fetched().all(|t| t.within(size)));
            for index in [0, size / 2, size - 1] {
                let proof = merkle::inclusion_proof(&mut reader, index, size).unwrap();
                let leaf = leaf_hash(&index.to_be_bytes());
                assert!(merkle::verify_inclusion(&leaf, index, size, &proof, &want).is_ok());
            }
            if size > 1 {
                let old = size / 3 + 1;
                let proof = merkle::consistency_proof(&mut reader, old, size).unwrap();
                let old_root = tree.frontiers[old as usize].root();
                assert!(merkle::verify_consistency(old, size, &old_root, &want, &proof).is_ok());
            }
        }
    }

    #[test]
    fn a_reader_refuses_short_tiles_and_nodes_outside_its_tree() {
        let tree = Tiled::build(300);
        let mut short = TileReader::new(300, |t| {
            let mut b = tree.serve(t, 300)?;
            b.pop();
            Ok::<_, String>(b)
        });
        assert!(matches!(
            merkle::root(&mut short, 300),
            Err(TileReadError::Length { .. })
        ));
        let mut reader = TileReader::new(300, |t| tree.serve(t, 300));
        assert!(matches!(
            reader.node(0, 300),
            Err(TileReadError::Outside { .. })
        ));
        assert!(matches!(
            reader.node(9, 0),
            Err(TileReadError::Outside { .. })
        ));
        assert!(matches!(
            reader.node(63, u64::MAX),
            Err(TileReadError::Outside { .. })
        ));
    }

    proptest! {
        #[test]
        fn any_tile_path_round_trips(level in 0u8..=63, index: u64, width in 1u16..=256) {
            let t = Tile::new(level, index, width).unwrap();
            prop_assert_eq!(parse_path(&t.path()["tile/".len()..]), Ok(Resource::Hashes(t)));
        }

        #[test]
        fn parsing_any_string_never_panics_and_accepts_only_canonical_paths(s in "[0-9x./entris]{0,30}") {
            if let Ok(r) = parse_path(&s) {
                let canonical = match r {
                    Resource::Hashes(t) => t.path(),
                    Resource::Entries(t) => t.entries_path(),
                };
                prop_assert_eq!(canonical, format!("tile/{s}"));
            }
        }
    }
}
