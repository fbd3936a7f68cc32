//! Audits certifiers run over the ledger: checks of one operator's records over a period, as an
//! organic control body makes them at its yearly inspection (EU 2018/848, Delegated Regulation
//! 2021/771). They read the state the rules derived — entry metadata, lot records and the query
//! indexes — and never the log itself, so an audit costs the operator's history, not the
//! ledger's size.

mod links;
pub mod mass_balance;

pub use links::Links;
