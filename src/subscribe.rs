//! Named queries and their webhook subscriptions (GS1's EPCIS 2.0 REST binding, `/queries`).
//!
//! A named query is a SimpleEventQuery kept under a name; a subscription sends the events that
//! match it to a `dest` URL as they are committed. Deliveries come from the committed log, not
//! from the write path: each subscription keeps a cursor (the next entry index to look at) in
//! the store's `service` family, and the [`Deliveries`] thread reads the entries from the cursor
//! to the published head, sends the matches as one `EPCISQueryDocument`, and moves the cursor
//! past them — with a synced write — only after the receiver answered 2xx. A failed delivery
//! is retried with exponential back-off and jitter; nothing is skipped. A graceful stop lets
//! the delivery in progress finish and its cursor land, so a restart neither skips nor repeats;
//! after a crash, at most the one batch whose answer arrived just before the crash is sent
//! again (its `Lotline-Delivery` header and the eventIDs tell a receiver it has it).
//!
//! Every delivery is signed with the log's key (`Lotline-Signature`: Ed25519 over
//! `lotline-webhook-v1\n` ‖ body; the key is the one in `GET /v1/log`), and with the
//! subscription's `signatureToken`, when it has one, as `GS1-Signature` (HMAC-SHA256 of the
//! body, hex).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::ledger::Ledger;
use crate::query::Query;
use crate::store::{Store, StoreError};
use lotline_profile::entry::Entry;

const QUERY: &str = "query/";
const SUB: &str = "sub/";
/// Most events in one delivery.
const BATCH: usize = 200;
/// Most entries looked at per subscription per round.
const SCAN: u64 = 2000;

/// A named query, as stored and shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedQuery {
    pub name: String,
    pub query: Map<String, Value>,
    pub created_at: String,
}

impl NamedQuery {
    /// Checks `{"name": "...", "query": {...}}`; errors name the member.
    pub fn from_request(v: &Value) -> Result<NamedQuery, (String, String)> {
        let name = v.get("name").and_then(Value::as_str).ok_or((
            "name".to_owned(),
            "a named query needs a \"name\"".to_owned(),
        ))?;
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !ok || name == "SimpleEventQuery" {
            return Err((
                "name".into(),
                format!(
                    "{name:?}: 1 to 64 letters, digits, '-', '_' or '.' (not SimpleEventQuery)"
                ),
            ));
        }
        let query = v.get("query").and_then(Value::as_object).cloned().ok_or((
            "query".to_owned(),
            "a named query needs a \"query\" object of SimpleEventQuery parameters".to_owned(),
        ))?;
        if let Some(k) = query
            .keys()
            .find(|k| crate::query::PAGING.contains(&k.as_str()))
        {
            return Err((
                k.clone(),
                "paging is chosen when the query runs, not when it is named".into(),
            ));
        }
        let nq = NamedQuery {
            name: name.to_owned(),
            query,
            created_at: now(),
        };
        nq.compile().map_err(|e| (e.name, e.message))?;
        Ok(nq)
    }

    pub fn compile(&self) -> Result<Query, crate::query::ParamError> {
        Query::parse(self.query.iter().map(|(k, v)| (k.as_str(), v)))
    }

    /// The parameters as a query string gives them (lists joined with `|`).
    pub fn params_as_strings(&self) -> HashMap<String, String> {
        self.query
            .iter()
            .map(|(k, v)| {
                let s = match v {
                    Value::String(s) => s.clone(),
                    Value::Array(a) => a
                        .iter()
                        .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join("|"),
                    other => other.to_string(),
                };
                (k.clone(), s)
            })
            .collect()
    }
}

/// A webhook subscription, as stored and shown (its token is never shown).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    #[serde(rename = "subscriptionID")]
    pub id: String,
    pub query_name: String,
    pub dest: String,
    #[serde(default, skip_serializing)]
    pub signature_token: Option<String>,
    /// The next entry index to look at.
    pub cursor: u64,
    pub created_at: String,
    /// Events delivered so far.
    pub delivered: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubError {
    #[error("{0}: {1}")]
    Invalid(String, String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn now() -> String {
    lotline_profile::profile::format_time_ms(crate::ledger::now_ms())
}

fn query_key(name: &str) -> Vec<u8> {
    format!("{QUERY}{name}").into_bytes()
}

fn sub_key(name: &str, id: &str) -> Vec<u8> {
    format!("{SUB}{name}/{id}").into_bytes()
}

/// Stores a new named query; `None` if the name is taken.
pub fn create_query(store: &Store, q: &NamedQuery) -> Result<Option<NamedQuery>, StoreError> {
    let key = query_key(&q.name);
    if store.service(&key)?.is_some() {
        return Ok(None);
    }
    let v = serde_json::to_vec(q).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.put_service(&[(&key, Some(&v))])?;
    Ok(Some(q.clone()))
}

pub fn query(store: &Store, name: &str) -> Result<Option<NamedQuery>, StoreError> {
    store
        .service(&query_key(name))?
        .map(|b| {
            serde_json::from_slice(&b)
                .map_err(|e| StoreError::Corrupt(format!("named query {name}: {e}")))
        })
        .transpose()
}

pub fn queries(store: &Store) -> Result<Vec<NamedQuery>, StoreError> {
    store
        .service_scan(QUERY.as_bytes())?
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}

/// Deletes a named query and its subscriptions, in one synced write.
pub fn delete_query(store: &Store, name: &str) -> Result<(), StoreError> {
    let subs = store.service_scan(format!("{SUB}{name}/").as_bytes())?;
    let qk = query_key(name);
    let mut del: Vec<(&[u8], Option<&[u8]>)> = vec![(&qk, None)];
    for (k, _) in &subs {
        del.push((k, None));
    }
    store.put_service(&del)
}

/// Stores a subscription of `q` starting at the log's `size` (or at `initialRecordTime`).
pub fn create_subscription(
    store: &Store,
    q: &NamedQuery,
    v: &Value,
    size: u64,
) -> Result<Subscription, SubError> {
    let invalid = |n: &str, m: String| SubError::Invalid(n.to_owned(), m);
    let dest = v
        .get("dest")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("dest", "a subscription needs a \"dest\" URL".into()))?;
    let host_ok = dest
        .strip_prefix("http://")
        .or_else(|| dest.strip_prefix("https://"))
        .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'));
    if !host_ok || dest.chars().any(char::is_whitespace) {
        return Err(invalid(
            "dest",
            format!("{dest:?} is not an http:// or https:// URL"),
        ));
    }
    if v.get("stream").is_some_and(|s| s != &Value::Bool(true)) || v.get("schedule").is_some() {
        return Err(invalid(
            "schedule",
            "only streaming subscriptions are offered (\"stream\": true): events are sent as they are committed".into(),
        ));
    }
    let token = match v.get("signatureToken") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Some(s.clone()),
        Some(_) => {
            return Err(invalid(
                "signatureToken",
                "a string of 1 to 256 characters".into(),
            ));
        }
    };
    let cursor = match v.get("initialRecordTime") {
        None => size,
        Some(t) => {
            let ms = t
                .as_str()
                .and_then(lotline_profile::profile::parse_instant_ms)
                .ok_or_else(|| invalid("initialRecordTime", "an RFC 3339 date-time".into()))?;
            crate::query::record_lower_bound(store, ms, size)?
        }
    };
    let sub = Subscription {
        id: uuid::Uuid::now_v7().simple().to_string(),
        query_name: q.name.clone(),
        dest: dest.to_owned(),
        signature_token: token,
        cursor,
        created_at: now(),
        delivered: 0,
        last_delivery: None,
    };
    save(store, &sub)?;
    Ok(sub)
}

fn save(store: &Store, sub: &Subscription) -> Result<(), StoreError> {
    // The token is not serialised for answers; the record keeps it in its own member.
    let mut v = serde_json::to_value(sub).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    if let Some(t) = &sub.signature_token {
        v["signatureToken"] = Value::String(t.clone());
    }
    let bytes = serde_json::to_vec(&v).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    store.put_service(&[(&sub_key(&sub.query_name, &sub.id), Some(&bytes))])
}

pub fn subscriptions(store: &Store, name: Option<&str>) -> Result<Vec<Subscription>, StoreError> {
    let prefix = match name {
        Some(n) => format!("{SUB}{n}/"),
        None => SUB.to_owned(),
    };
    store
        .service_scan(prefix.as_bytes())?
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt(e.to_string())))
        .collect()
}

pub fn subscription(
    store: &Store,
    name: &str,
    id: &str,
) -> Result<Option<Subscription>, StoreError> {
    store
        .service(&sub_key(name, id))?
        .map(|b| serde_json::from_slice(&b).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

pub fn delete_subscription(store: &Store, name: &str, id: &str) -> Result<bool, StoreError> {
    let key = sub_key(name, id);
    if store.service(&key)?.is_none() {
        return Ok(false);
    }
    store.put_service(&[(&key, None)])?;
    Ok(true)
}

/// HMAC-SHA256 (RFC 2104), for `GS1-Signature`.
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let pad = |b: u8| k.map(|x| x ^ b);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The thread that delivers subscriptions.
pub struct Deliveries {
    stop: AtomicBool,
    wake: (Mutex<bool>, Condvar),
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Deliveries {
    /// Starts delivering the subscriptions stored in `ledger`'s store.
    pub fn start(ledger: Arc<Ledger>) -> std::io::Result<Arc<Deliveries>> {
        let d = Arc::new(Deliveries {
            stop: AtomicBool::new(false),
            wake: (Mutex::new(false), Condvar::new()),
            thread: Mutex::new(None),
        });
        let me = d.clone();
        let handle = std::thread::Builder::new()
            .name("lotline-deliveries".into())
            .spawn(move || me.run(&ledger))?;
        if let Ok(mut t) = d.thread.lock() {
            *t = Some(handle);
        }
        Ok(d)
    }

    /// Looks at the subscriptions now rather than at the next tick.
    pub fn wake(&self) {
        if let Ok(mut w) = self.wake.0.lock() {
            *w = true;
            self.wake.1.notify_all();
        }
    }

    /// Lets the delivery in progress finish (and its cursor land), then stops.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wake();
        let handle = self.thread.lock().ok().and_then(|mut t| t.take());
        if let Some(h) = handle
            && h.join().is_err()
        {
            tracing::error!("the delivery thread panicked");
        }
    }

    fn run(&self, ledger: &Ledger) {
        // `serve` checked the extra CA at start; should it have changed since, the public
        // roots alone still reach public receivers.
        let tls = crate::tls::client_config().or_else(|e| {
            tracing::error!(%e, "webhook deliveries trust the public roots only");
            crate::tls::client_config_with(None)
        });
        let mut agent = ureq::AgentBuilder::new();
        if let Ok(tls) = tls {
            agent = agent.tls_config(tls);
        }
        let agent = agent.timeout(Duration::from_secs(10)).redirects(0).build();
        let mut backoff: HashMap<String, (Instant, u32)> = HashMap::new();
        while !self.stop.load(Ordering::SeqCst) {
            let size = ledger.head().size;
            let subs = match subscriptions(ledger.store(), None) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(%e, "cannot read subscriptions");
                    Vec::new()
                }
            };
            let mut busy = false;
            for mut sub in subs {
                if self.stop.load(Ordering::SeqCst) {
                    return;
                }
                if sub.cursor >= size
                    || backoff
                        .get(&sub.id)
                        .is_some_and(|(until, _)| Instant::now() < *until)
                {
                    continue;
                }
                match self.deliver(ledger, &agent, &mut sub, size) {
                    Ok(more) => {
                        backoff.remove(&sub.id);
                        busy |= more;
                    }
                    Err(e) => {
                        let attempts = backoff.get(&sub.id).map_or(0, |(_, a)| *a) + 1;
                        let base = Duration::from_millis(250) * 2u32.pow(attempts.min(10));
                        let delay = base.min(Duration::from_secs(300));
                        // Jitter: up to a quarter more, so receivers coming back are not hit
                        // by every subscription at once.
                        let jitter = delay.mul_f64(
                            0.25 * (uuid::Uuid::now_v7().as_u128() % 1000) as f64 / 1000.0,
                        );
                        tracing::warn!(subscription = %sub.id, dest = %sub.dest, attempts, %e, "delivery failed; retrying later");
                        backoff.insert(sub.id.clone(), (Instant::now() + delay + jitter, attempts));
                    }
                }
            }
            if busy {
                continue;
            }
            let (lock, cv) = &self.wake;
            if let Ok(mut w) = lock.lock() {
                if !*w {
                    w = cv
                        .wait_timeout(w, Duration::from_millis(200))
                        .map(|(g, _)| g)
                        .unwrap_or_else(|e| e.into_inner().0);
                }
                *w = false;
            }
        }
    }

    /// Sends the next batch of `sub`; `Ok(true)` when more entries wait.
    fn deliver(
        &self,
        ledger: &Ledger,
        agent: &ureq::Agent,
        sub: &mut Subscription,
        size: u64,
    ) -> Result<bool, String> {
        let store = ledger.store();
        let Some(nq) = query(store, &sub.query_name).map_err(|e| e.to_string())? else {
            return Ok(false);
        };
        let q = nq.compile().map_err(|e| e.to_string())?;
        let reader = crate::state::query::StateReader::new(store);
        let end = size.min(sub.cursor.saturating_add(SCAN));
        let mut matched: Vec<Entry> = Vec::new();
        let mut next = sub.cursor;
        while next < end && matched.len() < BATCH {
            let bytes = store
                .entry(next)
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("entry {next} is missing"))?;
            let e = Entry::parse(&bytes).map_err(|e| e.to_string())?;
            let actor = reader
                .meta(next)
                .map_err(|e| e.to_string())?
                .and_then(|m| m.actor);
            if q.matches(&e, actor.as_deref()) {
                matched.push(e);
            }
            next += 1;
        }
        if !matched.is_empty() {
            let doc = crate::query::document(&matched, false, &sub.query_name, Some(&sub.id));
            let body = serde_json::to_vec(&doc).map_err(|e| e.to_string())?;
            let sig = base64::engine::general_purpose::STANDARD.encode(ledger.sign_webhook(&body));
            let keyid: String = ledger
                .verifier_key()
                .id
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            let mut req = agent
                .post(&sub.dest)
                .set("Content-Type", "application/ld+json")
                .set("GS1-EPCIS-Version", "2.0.0")
                .set("GS1-CBV-Version", "2.0.0")
                .set("Lotline-Signature", &format!("keyid={keyid}, sig={sig}"))
                .set(
                    "Lotline-Delivery",
                    &format!("{}-{}", matched[0].index, matched[matched.len() - 1].index),
                );
            if let Some(t) = &sub.signature_token {
                let mac: String = hmac_sha256(t.as_bytes(), &body)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                req = req.set("GS1-Signature", &mac);
            }
            match req.send_bytes(&body) {
                Ok(r) if (200..300).contains(&r.status()) => {}
                Ok(r) => return Err(format!("{} answered {}", sub.dest, r.status())),
                Err(ureq::Error::Status(code, _)) => {
                    return Err(format!("{} answered {code}", sub.dest));
                }
                Err(e) => return Err(e.to_string()),
            }
            sub.delivered += matched.len() as u64;
            sub.last_delivery = Some(now());
        }
        sub.cursor = next;
        // The subscription may have been deleted meanwhile: do not bring it back.
        if subscription(store, &sub.query_name, &sub.id)
            .map_err(|e| e.to_string())?
            .is_some()
        {
            save(store, sub).map_err(|e| e.to_string())?;
        }
        Ok(next < size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn named_queries_are_checked() {
        let ok = serde_json::json!({"name": "mill-receipts", "query": {"EQ_bizStep": ["receiving"], "eventType": ["ObjectEvent"]}});
        let nq = NamedQuery::from_request(&ok).unwrap();
        assert_eq!(nq.params_as_strings()["EQ_bizStep"], "receiving");
        for (bad, member) in [
            (serde_json::json!({"query": {}}), "name"),
            (serde_json::json!({"name": "a/b", "query": {}}), "name"),
            (serde_json::json!({"name": "q"}), "query"),
            (
                serde_json::json!({"name": "q", "query": {"EQ_nope": "x"}}),
                "EQ_nope",
            ),
            (
                serde_json::json!({"name": "q", "query": {"perPage": "3"}}),
                "perPage",
            ),
        ] {
            assert_eq!(
                NamedQuery::from_request(&bad).unwrap_err().0,
                member,
                "{bad}"
            );
        }
    }
}
