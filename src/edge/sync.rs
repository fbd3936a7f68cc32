//! The uploader: the outbox's pending records to the ledger's `POST /capture`, oldest first,
//! whenever the ledger can be reached.
//!
//! One thread, one batch at a time, so the ledger receives the records in the order the mill
//! made them (a capture document's events commit in document order). A batch is one gzipped
//! `EPCISDocument` captured with `GS1-Capture-Error-Behaviour: proceed`; the job is followed
//! to its end and each event's outcome recorded in one synced write: accepted (or logged
//! before, after a crash between the ledger's answer and that write) is sent with its receipt,
//! refused keeps the ledger's problem for the clerk. Nothing is dropped: an event leaves the
//! queue only with a receipt or a problem. Every eventID is fixed when the event is signed, so
//! sending a batch again can only find it logged.
//!
//! When the ledger is unreachable, busy (`429`, `503`) or failing (`5xx`), the uploader waits:
//! the ledger's `Retry-After` if it gave one, else an exponential back-off with jitter, so a
//! hundred mills coming back online do not knock at the same instant.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::store::outbox::{Item, Outbox, Status};

/// The most a `Retry-After` is honoured for: a misconfigured ledger cannot park a mill's
/// uploads for days.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

/// How the uploader works.
#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// The ledger's base URL.
    pub server: String,
    /// Most events in one capture document.
    pub batch: usize,
    /// The first back-off delay, doubled after each failure up to `max_backoff`.
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The HTTP client (its TLS roots and timeouts are the CLI's).
    pub agent: ureq::Agent,
}

/// What the page and `GET /v1/status` show of the uploader.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncState {
    /// Why the last upload did not reach the ledger, until one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The last `Retry-After` the ledger asked for, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_retry_after_s: Option<u64>,
    /// When the last batch was decided (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync_at: Option<String>,
    /// Batches decided since start.
    pub batches: u64,
    /// Upload attempts that failed since start.
    pub failures: u64,
}

/// The uploader's handle: wake it when there is work, stop it on shutdown.
pub struct Sync {
    shared: Arc<Shared>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct Shared {
    state: Mutex<SyncState>,
    /// Set when new work arrived since the uploader last looked.
    work: Mutex<bool>,
    wake: Condvar,
    stop: AtomicBool,
}

impl Shared {
    /// Sleeps until `deadline`, new work (when `for_work`), or stop.
    fn wait(&self, deadline: Option<Instant>, for_work: bool) {
        let mut work = self.work.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.stop.load(Ordering::Acquire) || (for_work && *work) {
                break;
            }
            match deadline {
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    work = self
                        .wake
                        .wait_timeout(work, d - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                None => work = self.wake.wait(work).unwrap_or_else(|p| p.into_inner()),
            }
        }
        if for_work {
            *work = false;
        }
    }

    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }
}

impl Sync {
    /// Starts the uploader thread.
    pub fn start(outbox: Arc<Outbox>, config: SyncConfig) -> Sync {
        let shared = Arc::new(Shared {
            state: Mutex::new(SyncState::default()),
            // Look at the outbox once at start: a restart resumes what is pending.
            work: Mutex::new(true),
            wake: Condvar::new(),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        let thread = std::thread::Builder::new()
            .name("edge-sync".into())
            .spawn(move || run(&outbox, &config, &s))
            .expect("spawn the uploader");
        Sync {
            shared,
            thread: Mutex::new(Some(thread)),
        }
    }

    /// New records are pending.
    pub fn notify(&self) {
        *self.shared.work.lock().unwrap_or_else(|p| p.into_inner()) = true;
        self.shared.wake.notify_all();
    }

    pub fn state(&self) -> SyncState {
        self.shared
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Stops the uploader after the request in flight, if any.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sync {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Why a batch is not decided yet.
#[derive(Debug)]
enum NotYet {
    /// Try again after the back-off, or after `after` if the ledger said so.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    /// The ledger refused the document's size: send fewer events at once.
    TooLarge,
}

fn run(outbox: &Outbox, config: &SyncConfig, shared: &Shared) {
    let mut backoff = config.min_backoff;
    let mut batch = config.batch.max(1);
    while !shared.stopping() {
        let items = match outbox.pending(batch) {
            Ok(items) => items,
            Err(e) => {
                tracing::error!(error = %e, "reading the outbox");
                shared.wait(Some(Instant::now() + config.max_backoff), false);
                continue;
            }
        };
        if items.is_empty() {
            shared.wait(None, true);
            continue;
        }
        match upload(config, &items, shared) {
            Ok(decided) => {
                if let Err(e) = outbox.decide(&decided) {
                    tracing::error!(error = %e, "recording the ledger's decisions");
                    shared.wait(Some(Instant::now() + config.max_backoff), false);
                    continue;
                }
                backoff = config.min_backoff;
                batch = config.batch.max(1);
                let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                st.last_error = None;
                st.last_sync_at = Some(super::now());
                st.batches += 1;
            }
            Err(NotYet::TooLarge) if batch > 1 => batch = (batch / 2).max(1),
            Err(NotYet::TooLarge) => {
                // One event too large for the ledger: it will never go, so the clerk sees it.
                let mut item = items[0].clone();
                item.status = Status::Refused;
                item.problem = Some(json!({
                    "code": "payload_too_large",
                    "detail": "the ledger refuses a capture document holding this one event as too large",
                }));
                item.decided_at = Some(super::now());
                if let Err(e) = outbox.decide(&[item]) {
                    tracing::error!(error = %e, "recording a refusal");
                }
            }
            Err(NotYet::Retry { why, after }) => {
                let wait = match after {
                    Some(a) => a.min(MAX_RETRY_AFTER),
                    None => jitter(backoff),
                };
                tracing::warn!(%why, wait_ms = wait.as_millis() as u64, "upload not done; retrying");
                {
                    let mut st = shared.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.last_error = Some(why);
                    st.last_retry_after_s = after.map(|a| a.as_secs());
                    st.failures += 1;
                }
                backoff = (backoff * 2).min(config.max_backoff);
                shared.wait(Some(Instant::now() + wait), false);
            }
        }
    }
}

/// Half the delay plus a random part of the other half ("equal jitter"): never less than half
/// the back-off, never two mills in step.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 8];
    let r = match getrandom::getrandom(&mut b) {
        Ok(()) => u64::from_le_bytes(b) as f64 / u64::MAX as f64,
        Err(_) => 0.5,
    };
    d / 2 + d.mul_f64(0.5 * r)
}

/// Sends `items` as one capture document and follows the job: each item with its decision.
fn upload(config: &SyncConfig, items: &[Item], shared: &Shared) -> Result<Vec<Item>, NotYet> {
    let doc = json!({
        "@context": [lotline_scenario::EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": super::now(),
        "epcisBody": {"eventList": items.iter().map(|i| &i.event).collect::<Vec<_>>()},
    });
    let body = gzip(&serde_json::to_vec(&doc).expect("JSON values serialise"));
    let url = format!("{}/capture", config.server);
    let answer = config
        .agent
        .post(&url)
        .set("Content-Type", "application/ld+json")
        .set("Content-Encoding", "gzip")
        .set("GS1-Capture-Error-Behaviour", "proceed")
        .send_bytes(&body);
    let job_path = match answer {
        Ok(r) if r.status() == 202 => {
            let location = r.header("Location").map(str::to_owned);
            let text = r.into_string().unwrap_or_default();
            crate::cli::capture::job_path(location.as_deref(), &text, &config.server).map_err(
                |e| NotYet::Retry {
                    why: format!("{e:#}"),
                    after: None,
                },
            )?
        }
        Ok(r) => {
            return Err(NotYet::Retry {
                why: format!("the ledger answered {} to an upload", r.status()),
                after: None,
            });
        }
        Err(ureq::Error::Status(status, r)) => return Err(refusal(status, r)),
        Err(ureq::Error::Transport(t)) => {
            // Kept retrying like any other failure (the ledger's certificate may be renewed),
            // but said plainly, for the clerk's status.
            let why = match crate::tls::handshake_problem(&t) {
                Some(rustls::Error::InvalidCertificate(c)) => format!(
                    "the ledger's TLS certificate is not accepted ({c:?}); if a private CA \
                     signed it, start the edge with --ca-cert FILE (or LOTLINE_CA_CERT)"
                ),
                Some(other) => format!("the TLS handshake with the ledger failed: {other}"),
                None => format!("the ledger cannot be reached: {t}"),
            };
            return Err(NotYet::Retry { why, after: None });
        }
    };
    let job = follow(config, &job_path, shared)?;
    Ok(decisions(&job, items))
}

/// A `4xx`/`5xx` answer to the upload (the document as a whole, not an event of it).
fn refusal(status: u16, r: ureq::Response) -> NotYet {
    let after = retry_after(r.header("Retry-After"));
    let text = r.into_string().unwrap_or_default();
    let problem: Value = serde_json::from_str(&text).unwrap_or_else(|_| {
        json!({"code": format!("http_{status}"), "detail": text.chars().take(300).collect::<String>()})
    });
    match status {
        413 => NotYet::TooLarge,
        408 | 425 | 429 | 500..=599 => NotYet::Retry {
            why: format!(
                "the ledger answered {status}: {}",
                problem["detail"].as_str().unwrap_or_default()
            ),
            after,
        },
        // A proxy or ledger that refuses the whole document (authentication, a media type it
        // does not take) refuses no event in particular: keep retrying rather than turning
        // every record into a refusal the clerk cannot fix; the page shows why.
        _ => NotYet::Retry {
            why: format!(
                "the ledger refused the upload ({status} {}): {}",
                problem["code"].as_str().unwrap_or_default(),
                problem["detail"].as_str().unwrap_or_default()
            ),
            after,
        },
    }
}

/// Polls the capture job until it is finished. Polling is cheap and the job usually takes a
/// fraction of a second; a network failure meanwhile is retried (the job runs on regardless).
fn follow(config: &SyncConfig, path: &str, shared: &Shared) -> Result<Value, NotYet> {
    let url = format!("{}{path}", config.server);
    let mut pause = Duration::from_millis(20);
    let mut failures = 0u32;
    loop {
        match config.agent.get(&url).call() {
            Ok(r) => {
                let job: Value = r.into_json().map_err(|e| NotYet::Retry {
                    why: format!("the capture job's answer is not JSON: {e}"),
                    after: None,
                })?;
                if job["running"] == false {
                    return Ok(job);
                }
            }
            Err(ureq::Error::Status(404, _)) => {
                // The job is gone (the ledger lost it): send the batch again; what it logged
                // comes back as duplicates.
                return Err(NotYet::Retry {
                    why: format!("the capture job {path} is gone"),
                    after: None,
                });
            }
            Err(e) => {
                failures += 1;
                if failures > 20 || shared.stopping() {
                    return Err(NotYet::Retry {
                        why: format!("following the capture job {path}: {e}"),
                        after: None,
                    });
                }
            }
        }
        if shared.stopping() {
            return Err(NotYet::Retry {
                why: "stopping".into(),
                after: None,
            });
        }
        shared.wait(Some(Instant::now() + pause), false);
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// Each item with what the finished job says of it.
fn decisions(job: &Value, items: &[Item]) -> Vec<Item> {
    let events = job["events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let errors = job["errors"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let now = super::now();
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let mut item = item.clone();
            let outcome = events.iter().find(|e| e["eventIndex"] == i);
            match outcome.and_then(|e| e["status"].as_str()) {
                Some("accepted" | "duplicate") => {
                    item.status = Status::Sent;
                    item.receipt = outcome.and_then(|e| e.get("receipt")).cloned();
                    item.problem = None;
                    item.decided_at = Some(now.clone());
                }
                Some(_) => {
                    item.status = Status::Refused;
                    item.problem = Some(
                        errors
                            .iter()
                            .find(|e| e["eventIndex"] == i)
                            .cloned()
                            .unwrap_or_else(|| {
                                json!({"code": "refused", "detail": "the ledger refused this event"})
                            }),
                    );
                    item.decided_at = Some(now.clone());
                }
                // The job does not mention it (a ledger bug or a cut-short answer): it stays
                // pending, and the next attempt sends it again.
                None => item.attempts += 1,
            }
            item
        })
        .collect()
}

/// `Retry-After` as a delay: delta-seconds, or an HTTP date.
fn retry_after(h: Option<&str>) -> Option<Duration> {
    let h = h?.trim();
    if let Ok(s) = h.parse::<u64>() {
        return Some(Duration::from_secs(s));
    }
    let when =
        time::OffsetDateTime::parse(h, &time::format_description::well_known::Rfc2822).ok()?;
    let wait = when - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(wait).unwrap_or(Duration::ZERO))
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(retry_after(Some(" 3 ")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(Some("soon")), None);
        assert_eq!(retry_after(None), None);
        assert_eq!(
            retry_after(Some("Sun, 06 Nov 1994 08:49:37 GMT")),
            Some(Duration::ZERO),
            "a date in the past: now"
        );
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_delay() {
        for _ in 0..100 {
            let j = jitter(Duration::from_secs(8));
            assert!(
                j >= Duration::from_secs(4) && j <= Duration::from_secs(8),
                "{j:?}"
            );
        }
    }

    #[test]
    fn the_job_decides_each_item_by_index() {
        let item = |seq| Item {
            seq,
            event_id: format!("urn:uuid:{seq}"),
            kind: "receiving".into(),
            recorded_at: "t".into(),
            status: Status::Pending,
            attempts: 0,
            receipt: None,
            problem: None,
            decided_at: None,
            event: json!({}),
        };
        let job = json!({
            "running": false,
            "events": [
                {"eventIndex": 0, "status": "accepted", "receipt": {"index": 7}},
                {"eventIndex": 1, "status": "refused"},
                {"eventIndex": 2, "status": "duplicate", "receipt": {"index": 3}}
            ],
            "errors": [{"eventIndex": 1, "code": "not_custodian", "detail": "x"}]
        });
        let d = decisions(&job, &[item(10), item(11), item(12), item(13)]);
        assert_eq!(d[0].status, Status::Sent);
        assert_eq!(d[0].receipt, Some(json!({"index": 7})));
        assert_eq!(d[1].status, Status::Refused);
        assert_eq!(d[1].problem.as_ref().unwrap()["code"], "not_custodian");
        assert_eq!(d[2].status, Status::Sent);
        assert_eq!(d[3].status, Status::Pending, "not in the job: sent again");
        assert_eq!(d[3].attempts, 1);
    }
}
