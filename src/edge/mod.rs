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

use anyhow::{Context as _, Result, bail};
use ed25519_dalek::SigningKey;
use serde_json::Value;

use self::sync::Sync;
use crate::http::Problem;
use crate::store::outbox::{Added, Item, Outbox};
use lotline_profile::event::admit;

/// The edge's clock as RFC 3339 (UTC).
pub fn now() -> String {
    lotline_profile::profile::format_time_ms(crate::ledger::now_ms())
}

/// The edge: its outbox, the mill's key and the uploader.
pub struct Edge {
    pub outbox: Arc<Outbox>,
    pub(crate) key: SigningKey,
    /// The mill's actor id, shown on the page (from `--actor`; informational).
    pub actor: Option<String>,
    pub server: String,
    pub sync: Sync,
}

impl Edge {
    pub fn new(
        outbox: Arc<Outbox>,
        key: SigningKey,
        actor: Option<String>,
        sync_config: sync::SyncConfig,
    ) -> Edge {
        let server = sync_config.server.clone();
        let sync = Sync::start(outbox.clone(), sync_config);
        Edge {
            outbox,
            key,
            actor,
            server,
            sync,
        }
    }

    /// Signs and records one unsigned event (an eventID is given if it has none: its CBV 2.0
    /// event hash, so a tool that sends the same event twice records it once). A refusal by
    /// the profile is a problem, and nothing is recorded.
    pub fn record(&self, event: &Value) -> Result<Added, Problem> {
        let signed = sign(event, &self.key).map_err(|e| {
            Problem::new(
                lotline_profile::refusal::Refusal::SchemaViolation,
                format!("{e:#}"),
            )
        })?;
        let admitted = admit(&signed)?;
        let added = self
            .outbox
            .add(
                &admitted.event_id.to_string(),
                admitted.doc.kind.name(),
                &now(),
                signed,
            )
            .map_err(Problem::internal)?;
        if matches!(added, Added::New(_)) {
            self.sync.notify();
        }
        Ok(added)
    }

    /// Puts a refused record back in the queue.
    pub fn retry(&self, seq: u64) -> Result<Option<Item>, Problem> {
        let item = self.outbox.retry(seq).map_err(Problem::internal)?;
        self.sync.notify();
        Ok(item)
    }
}

/// `event` with the EPCIS context (and lotline's namespace) if it has none, an eventID if it
/// has none, and the mill's proof.
pub(crate) fn sign(event: &Value, key: &SigningKey) -> Result<Value> {
    let mut e = event.clone();
    let Some(obj) = e.as_object_mut() else {
        bail!("an event is a JSON object");
    };
    obj.remove("proof");
    if !obj.contains_key("@context") {
        obj.insert(
            "@context".into(),
            serde_json::json!([
                lotline_scenario::EPCIS_CONTEXT,
                {"lotline": lotline_scenario::LOTLINE_NS}
            ]),
        );
    }
    if !obj.contains_key("eventID") {
        let id = lotline_profile::event_hash::event_hash_id_with_context(&e, None)
            .map_err(|err| anyhow::anyhow!("the event's hash ID cannot be computed: {err}"))?;
        e["eventID"] = Value::String(id);
    }
    data_integrity::di::sign(&e, key, &now()).context("signing the event")
}
