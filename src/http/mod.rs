//! The HTTP API (actix-web): the only module that knows actix.
//!
//! Handlers parse and check their input at the edge (body size, strict JSON, path and query
//! parameters), call the ledger, and write the answer; they hold no state of their own.
//! `server` is the one place routes are wired, and the only place the server is started and
//! stopped: [`run`] serves a ledger until a signal or a [`StopHandle`] stops it.

mod audit;
mod auth;
mod capture;
mod certs;
pub mod edge;
mod epcis;
mod export;
mod handlers;
mod metrics;
mod openapi;
pub mod pages;
mod params;
pub mod problem;
mod provenance;
mod recall;
pub mod request_id;
mod server;
mod stream;
mod supply;
mod tiles;

use std::sync::Arc;

use crate::config::Config;
use crate::ledger::Ledger;
use data_integrity::json;
pub use handlers::route_table;
pub use openapi::build as openapi_document;
pub use problem::{Code, Problem};
pub use server::{StopHandle, run};

/// Limits applied at the edge, from the configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub json: json::Limits,
    pub max_batch: usize,
}

impl Limits {
    pub fn from_config(cfg: &Config) -> Limits {
        Limits {
            max_body_bytes: cfg.max_body_bytes,
            json: json::Limits {
                max_depth: cfg.max_json_depth,
            },
            max_batch: cfg.max_batch,
        }
    }
}

/// How many batches (or capture documents) are admitted at once. Admitted all together,
/// concurrent batches would finish verification at about the same moment and reach the
/// sequencer in one burst, leaving the cores idle while it works; so batches take turns, and
/// each is sequenced while the next ones are verified. Two rather than one: a batch's last
/// events leave a core waiting for the other, and handing the turn on crosses three threads
/// (the blocking pool, the async task, the next request's task), which left the cores 8–11 %
/// idle under full load; with two, the second batch fills those gaps (`docs/benchmarks.md`).
/// Batches of one client that waits for each answer still reach the sequencer in its order.
/// A capture job, answered before it runs, takes every permit (`capture::process`).
pub(crate) const ADMITTED_AT_ONCE: usize = 2;

pub(crate) struct AppState {
    pub ledger: Arc<Ledger>,
    pub limits: Limits,
    /// Batches are admitted [`ADMITTED_AT_ONCE`] at a time, each on every core, in arrival
    /// order (the semaphore is fair).
    pub admission: tokio::sync::Semaphore,
    /// What provenance bundles carry besides entries: the registrar keys and the plausibility
    /// bounds the rules use.
    pub registrars: Vec<String>,
    pub bounds: crate::state::Bounds,
    /// Provenance requests built and verified at once (see `provenance::slot`).
    pub provenance_slots: tokio::sync::Semaphore,
    /// Verified provenance results, reused until a committed entry touches their lot.
    pub read_cache: crate::provenance::cache::ReadCache,
    pub capture: CaptureLimits,
    /// The webhook delivery thread (see `crate::subscribe`).
    pub deliveries: Option<Arc<crate::subscribe::Deliveries>>,
}

/// What one EPCIS capture document may hold.
#[derive(Debug, Clone, Copy)]
pub struct CaptureLimits {
    pub max_events: usize,
    pub max_bytes: usize,
}

/// Whether `Accept-Encoding` takes gzip: named (or `x-gzip`, or `*` when gzip is not named)
/// with a weight above 0.
pub(crate) fn accepts_gzip(req: &actix_web::HttpRequest) -> bool {
    let mut star = false;
    for coding in req
        .headers()
        .get_all(actix_web::http::header::ACCEPT_ENCODING)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        // RFC 9110 §12.4.2: the weight's name is case-insensitive.
        let refused = parts.any(|p| {
            p.split_once('=').is_some_and(|(k, q)| {
                k.trim().eq_ignore_ascii_case("q")
                    && q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
            })
        });
        match name.as_str() {
            "gzip" | "x-gzip" => return !refused,
            "*" => star = !refused,
            _ => {}
        }
    }
    star
}

/// `body` gzipped at the default level.
pub(crate) fn gzipped(body: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(body);
    gz.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::accepts_gzip;
    use actix_web::test::TestRequest;

    #[test]
    fn gzip_is_taken_when_named_or_starred_with_a_weight_above_zero() {
        let takes = |v: &str| {
            accepts_gzip(
                &TestRequest::default()
                    .insert_header(("Accept-Encoding", v))
                    .to_http_request(),
            )
        };
        for yes in [
            "gzip",
            "GZIP",
            "br, gzip;q=0.5",
            "x-gzip",
            "*",
            "deflate, *;q=0.1",
        ] {
            assert!(takes(yes), "{yes}");
        }
        for no in [
            "",
            "identity",
            "deflate",
            "br",
            "gzip;q=0",
            "gzip;Q=0",
            "gzip; q=0.000",
            "gzip;q=0, *",
            "*;q=0",
            "gzipped",
        ] {
            assert!(!takes(no), "{no}");
        }
        assert!(!accepts_gzip(&TestRequest::default().to_http_request()));
    }
}
