//! `lotline edge`: the service a mill runs on its own LAN, for sites whose connection to the
//! ledger comes and goes.
//!
//! The mill's tools (`POST /v1/events`) and its clerks (the web form, `http::pages::clerk`,
//! served by `http::edge`) record events
//! here at any time. Each is signed at once with the mill's key — its `eventTime` is when the
//! thing happened, not when it reaches the ledger — checked against the profile (everything
//! that needs no ledger state: schema, rules, units, the signature), and kept in a durable
//! outbox (`store::outbox`) before the edge answers. The [`sync`] thread uploads the outbox in order
//! whenever the ledger answers; what the ledger refuses (custody moved meanwhile, a balance too
//! small) stays in the outbox with the ledger's problem for the clerk to see and correct.
//!
//! The key never leaves the machine; the ledger sees only signed events.

pub mod sync;

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use serde_json::Value;

use self::sync::Sync;
use crate::http::Problem;
use crate::store::outbox::{Added, Item, Outbox};
use lotline_profile::event::{Admitted, admit};

/// The edge's clock as RFC 3339 (UTC).
pub fn now() -> String {
    lotline_profile::profile::format_time_ms(crate::ledger::now_ms())
}

/// The edge: its outbox, the mill's key and the uploader.
pub struct Edge {
    pub outbox: Arc<Outbox>,
    key: SigningKey,
    pub server: String,
    pub sync: Sync,
}

/// An event signed with the edge's key and admitted by the profile, not yet in the outbox.
pub struct Prepared {
    admitted: Admitted,
    signed: Value,
}

impl Edge {
    pub fn new(outbox: Arc<Outbox>, key: SigningKey, sync_config: sync::SyncConfig) -> Edge {
        let server = sync_config.server.clone();
        let sync = Sync::start(outbox.clone(), sync_config);
        Edge {
            outbox,
            key,
            server,
            sync,
        }
    }

    /// Signs and records one unsigned event (an eventID is given if it has none: its CBV 2.0
    /// event hash, so a tool that sends the same event twice records it once). A refusal by
    /// the profile is a problem, and nothing is recorded.
    pub fn record(&self, event: &Value) -> Result<Added, Problem> {
        let added = self.keep(self.prepare(event)?)?;
        self.sync.notify();
        Ok(added)
    }

    /// Signs `event` (the EPCIS context and lotline's namespace if it has no `@context`, its
    /// event hash ID if it has no eventID, the site's proof) and admits it: everything short
    /// of recording it, so a request of several events can check them all first.
    pub fn prepare(&self, event: &Value) -> Result<Prepared, Problem> {
        let mut signed = event.clone();
        // The default context only for an event that has none of its own.
        let context = event.get("@context").is_none().then(|| {
            serde_json::json!([
                lotline_scenario::EPCIS_CONTEXT,
                {"lotline": lotline_scenario::LOTLINE_NS}
            ])
        });
        crate::cli::capture::sign_event(
            &mut signed,
            context.as_ref(),
            &self.key,
            &now(),
            "the event",
        )
        .map_err(|e| {
            Problem::new(
                lotline_profile::refusal::Refusal::SchemaViolation,
                format!("{e:#}"),
            )
        })?;
        let admitted = admit(&signed)?;
        Ok(Prepared { admitted, signed })
    }

    /// Records a prepared event in the outbox (synced). The uploader is not woken: the caller
    /// does, once, after the last of a request's events.
    pub fn keep(&self, p: Prepared) -> Result<Added, Problem> {
        self.outbox
            .add(
                &p.admitted.event_id.to_string(),
                p.admitted.doc.kind.name(),
                &now(),
                p.signed,
            )
            .map_err(Problem::internal)
    }

    /// Puts a refused record back in the queue.
    pub fn retry(&self, seq: u64) -> Result<Option<Item>, Problem> {
        let item = self.outbox.retry(seq).map_err(Problem::internal)?;
        self.sync.notify();
        Ok(item)
    }
}
