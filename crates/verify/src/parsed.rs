//! An entry of a bundle or of the ledger with its interpreted document: what the registry
//! replays and the derivation reads.

use lotline_profile::entry::Entry;
use lotline_profile::profile::Document;

/// One entry ready for derivation: the entry and its interpreted event.
pub struct Parsed<'a> {
    pub entry: &'a Entry,
    pub doc: &'a Document,
}
