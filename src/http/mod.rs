//! The HTTP API (actix-web): the only module that knows actix.
//!
//! Handlers parse and check their input at the edge (body size, strict JSON, path and query
//! parameters), call the ledger, and write the answer; they hold no state of their own. `start`
//! is the one place routes are wired.

mod audit;
mod auth;
mod certs;
mod export;
mod handlers;
pub mod pages;
pub mod problem;
mod provenance;
mod recall;
mod supply;

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::{App, HttpServer, web};

use crate::config::Config;
use crate::ledger::Ledger;
use data_integrity::json;
pub use problem::{Code, Problem};

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

pub(crate) struct AppState {
    pub ledger: Arc<Ledger>,
    pub limits: Limits,
    /// Batches are admitted one at a time, each on every core, in arrival order (the semaphore
    /// is fair). Admitted together, concurrent batches would all finish verification at about
    /// the same moment and reach the sequencer in one burst, leaving the cores idle while it
    /// works; one at a time, each batch is sequenced while the next is being verified.
    pub admission: tokio::sync::Semaphore,
    /// What provenance bundles carry besides entries: the registrar keys and the plausibility
    /// bounds the rules use.
    pub registrars: Vec<String>,
    pub bounds: crate::state::Bounds,
    /// Provenance requests built and verified at once (see `provenance::slot`).
    pub provenance_slots: tokio::sync::Semaphore,
}

/// A bound, not yet running, server.
pub struct Bound {
    pub addr: SocketAddr,
    pub server: Server,
}

/// Binds the listener and builds the server. Must be called inside an actix runtime; awaiting
/// `server` runs it until SIGINT/SIGTERM, after which in-flight requests finish (so everything
/// accepted is committed and answered) before it returns.
pub fn start(cfg: &Config, ledger: Arc<Ledger>) -> std::io::Result<Bound> {
    let state = web::Data::new(AppState {
        ledger,
        limits: Limits::from_config(cfg),
        admission: tokio::sync::Semaphore::new(1),
        registrars: cfg.registrars.clone(),
        bounds: cfg.plausibility.clone(),
        provenance_slots: tokio::sync::Semaphore::new(2),
    });
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(
                web::QueryConfig::default()
                    .error_handler(|e, _| Problem::invalid_parameter("query", e).into()),
            )
            .app_data(
                web::PathConfig::default()
                    .error_handler(|e, _| Problem::invalid_parameter("path", e).into()),
            )
            .wrap(actix_web::middleware::Logger::new("%U %s %b %Dms").log_target("lotline::http"))
            .configure(handlers::routes)
            .default_service(web::to(handlers::unknown_route))
    })
    .shutdown_timeout(30)
    // actix treats SIGINT as a forced stop; `run_server` handles INT and TERM alike, gracefully.
    .disable_signals();
    if let Some(n) = cfg.workers {
        server = server.workers(n.max(1));
    }
    let server = server.bind(&cfg.listen)?;
    let addr = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("bound to no address"))?;
    Ok(Bound {
        addr,
        server: server.run(),
    })
}
