//! A small per-thread memo of pure functions of one identifier string.
//!
//! An event names the same EPC several times over (the profile's lines, the query index terms,
//! the CBV event hash), and the events of one batch name the same bags, lots and pallets again:
//! a bagging event commissions fifty bags that the next event packs onto a pallet. Parsing an
//! EPC (tag URI, GS1 key, check digit, Digital Link path) costs far more than looking it up, so
//! the results of recently parsed identifiers (and the locations a site names in every event)
//! are kept on the thread that parsed them.
//!
//! Only pure functions are memoised, so a hit is exactly what a fresh call would return. The memo
//! is bounded in entries (when full it starts again empty) and in key length, so memory stays
//! flat whatever is submitted.

use std::cell::RefCell;
use std::collections::HashMap;

/// foldhash rather than the standard SipHash: hashing the key is most of the cost of a hit, and
/// a thread's memo is neither shared nor kept long enough for flooding to matter (it is bounded
/// and starts again empty when full).
type Hasher = foldhash::fast::RandomState;

/// Identifiers kept per thread and per memo before it starts again. A batch of 250 events
/// names a few thousand at most.
const CAPACITY: usize = 8192;

/// Longer inputs are computed every time and never kept, so the memo's memory is bounded by
/// `CAPACITY × MAX_KEY` whatever a client submits (GS1 identifiers are far shorter; a Digital
/// Link may carry a long path prefix, and such rare ones are simply not remembered).
const MAX_KEY: usize = 256;

/// Recent results of one function, keyed by its input string. `V` is cheap to clone: a shared
/// pointer (`Rc<String>`, `Arc<Ident>`) or a small value, so a hit copies no parse.
pub(crate) struct Recent<V> {
    map: RefCell<HashMap<Box<str>, V, Hasher>>,
}

impl<V: Clone> Recent<V> {
    pub(crate) fn new() -> Self {
        Recent {
            map: RefCell::new(HashMap::default()),
        }
    }

    /// `f(key)`, from the memo when `key` was seen recently. Only `Some` results are kept: a
    /// failure is rare and its caller wants the full error, which `f` builds afresh.
    pub(crate) fn get_or(&self, key: &str, f: impl FnOnce() -> Option<V>) -> Option<V> {
        if key.len() > MAX_KEY {
            return f();
        }
        if let Some(v) = self.map.borrow().get(key) {
            return Some(v.clone());
        }
        let v = f()?;
        let mut map = self.map.borrow_mut();
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key.into(), v.clone());
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_hit_returns_what_the_function_returned_without_calling_it_again() {
        let memo = Recent::new();
        let calls = Cell::new(0);
        let len = |s: &str| {
            calls.set(calls.get() + 1);
            Some(s.len())
        };
        assert_eq!(memo.get_or("abc", || len("abc")), Some(3));
        assert_eq!(memo.get_or("abc", || len("abc")), Some(3));
        assert_eq!(calls.get(), 1);
        assert_eq!(memo.get_or("abcd", || len("abcd")), Some(4));
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn failures_are_not_kept() {
        let memo: Recent<usize> = Recent::new();
        let calls = Cell::new(0);
        for _ in 0..2 {
            assert!(
                memo.get_or("x", || {
                    calls.set(calls.get() + 1);
                    None
                })
                .is_none()
            );
        }
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn long_inputs_are_computed_every_time_and_never_kept() {
        let memo = Recent::new();
        let long = "x".repeat(MAX_KEY + 1);
        let calls = Cell::new(0);
        for _ in 0..2 {
            let got = memo.get_or(&long, || {
                calls.set(calls.get() + 1);
                Some(long.len())
            });
            assert_eq!(got, Some(MAX_KEY + 1));
        }
        assert_eq!(calls.get(), 2);
        assert!(memo.map.borrow().is_empty());
    }

    #[test]
    fn memory_stays_bounded() {
        let memo = Recent::new();
        for i in 0..CAPACITY * 3 + 7 {
            let k = i.to_string();
            assert_eq!(memo.get_or(&k, || Some(i)), Some(i));
        }
        assert!(memo.map.borrow().len() <= CAPACITY);
    }
}
