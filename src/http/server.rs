//! Running the server: bind it, report where, serve until SIGINT, SIGTERM or a stop request,
//! then stop gracefully and shut the ledger down. Callers get a [`StopHandle`] of our own, so
//! that nothing outside this module names actix.

use std::net::SocketAddr;
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use anyhow::{Context as _, Result};

use super::{AppState, Limits, Problem, handlers};
use crate::config::Config;
use crate::ledger::Ledger;

/// Stops a running server from another thread.
#[derive(Clone)]
pub struct StopHandle(ServerHandle);

impl StopHandle {
    /// Stops the server gracefully and returns once it has: requests in flight are finished
    /// and answered first, so everything accepted gets committed. Blocks the calling thread, so
    /// call it from outside the server (not from a request handler).
    pub fn stop(&self) {
        actix_web::rt::System::new().block_on(self.0.stop(true));
    }
}

/// Serves `ledger` on `cfg.listen` (HTTPS with `tls`, else HTTP) until SIGINT or SIGTERM (both
/// mean "stop gracefully") or a [`StopHandle::stop`]; then commits what was accepted and signs a
/// final checkpoint ([`Ledger::shutdown`]). `on_start` gets the bound address and a stop handle once the server
/// listens, before it serves its first request.
pub fn run(
    cfg: &Config,
    tls: Option<rustls::ServerConfig>,
    ledger: Arc<Ledger>,
    on_start: impl FnOnce(SocketAddr, StopHandle),
) -> Result<()> {
    no_huge_pages();
    let system = actix_web::rt::System::new();
    let result = system.block_on(async {
        // Listen for signals before announcing the server, so that a stop request sent as soon
        // as the address is announced is never handled by the default (kill) action.
        let stop = stop_signal()?;
        let bound = start(cfg, tls, ledger.clone())
            .with_context(|| format!("cannot listen on {}", cfg.listen))?;
        on_start(bound.addr, StopHandle(bound.server.handle()));
        tracing::info!(addr = %bound.addr, origin = ledger.origin(), "serving");
        let handle = bound.server.handle();
        actix_web::rt::spawn(async move {
            stop.await;
            tracing::info!("stopping: finishing in-flight requests");
            handle.stop(true).await;
        });
        let served = bound.server.await.context("server");
        // The delivery in progress finishes and its cursor lands before the ledger closes.
        bound.deliveries.stop();
        served
    });
    ledger.shutdown();
    tracing::info!("stopped");
    result
}

/// Turns transparent huge pages off for this process. mimalloc asks for them on its arenas, and
/// a huge page costs its first toucher the zeroing (and, in a VM, the host's backing) of 2 MiB
/// at once: in ingest profiles on a 2-core VM, `clear_page_erms` under mimalloc's page faults
/// took a sixth to a quarter of the CPU, and turning THP off cut the CPU per event by about a
/// sixth (docs/benchmarks.md). Databases commonly run with THP off for the same latency spikes.
/// Best effort: a kernel without the setting leaves it as it was.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes plain integer arguments and touches no memory of
        // ours; it sets a flag on this process's memory map.
        let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if rc != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "THP stays as configured");
        }
    }
}

/// A bound, not yet running, server.
struct Bound {
    addr: SocketAddr,
    server: Server,
    deliveries: Arc<crate::subscribe::Deliveries>,
}

/// Binds the listener and builds the server: the one place routes are wired. Must be called
/// inside an actix runtime; awaiting `server` runs it until it is stopped, after which in-flight
/// requests finish (so everything accepted is committed and answered) before it returns.
fn start(
    cfg: &Config,
    tls: Option<rustls::ServerConfig>,
    ledger: Arc<Ledger>,
) -> std::io::Result<Bound> {
    let deliveries = crate::subscribe::Deliveries::start(ledger.clone())?;
    // The checkpoint the ledger opened with is the one in force from now.
    crate::metrics::get().checkpoint_seen(ledger.head().checkpoint.size);
    let state = web::Data::new(AppState {
        ledger,
        limits: Limits::from_config(cfg),
        admission: tokio::sync::Semaphore::new(super::ADMITTED_AT_ONCE),
        registrars: cfg.registrars.clone(),
        bounds: cfg.plausibility.clone(),
        provenance_slots: tokio::sync::Semaphore::new(2),
        read_cache: crate::provenance::cache::ReadCache::new(cfg.read_cache_mb << 20),
        capture: super::CaptureLimits {
            max_events: cfg.max_capture_events,
            max_bytes: cfg.max_capture_bytes,
        },
        deliveries: Some(deliveries.clone()),
    });
    super::capture::resume(&state);
    let cors_origins = cfg.cors_origins.clone();
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
            .wrap(
                actix_web::middleware::Logger::new("%{x-request-id}i %U %s %b %Dms")
                    .log_target("lotline::http"),
            )
            // Counts and times every answer by route template (`/metrics`).
            .wrap(actix_web::middleware::from_fn(super::metrics::record))
            // Large answers (a bundle is ~600 KB of JSON) go gzipped to clients that accept it.
            .wrap(actix_web::middleware::Compress::default())
            // Outside Compress: takes away the `identity` marker it was told to pass by.
            .wrap(actix_web::middleware::from_fn(drop_identity_coding))
            .wrap(actix_web::middleware::from_fn(super::request_id::assign))
            // Only with origins configured: actix-cors refuses requests from other origins.
            .wrap(actix_web::middleware::Condition::new(
                !cors_origins.is_empty(),
                cors(&cors_origins),
            ))
            .configure(handlers::routes)
            .default_service(web::to(handlers::unknown_route))
    })
    .on_connect(no_delay)
    .shutdown_timeout(30)
    // actix treats SIGINT as a forced stop; `run` handles INT and TERM alike, gracefully.
    .disable_signals();
    if let Some(n) = cfg.workers {
        server = server.workers(n.max(1));
    }
    let bound = match tls {
        // A client that does not speak TLS fails its handshake and is closed; others go on.
        Some(tls) => server.bind_rustls_0_23(&cfg.listen, tls),
        None => server.bind(&cfg.listen),
    }
    .and_then(|server| {
        let addr = server.addrs().first().copied();
        addr.map(|a| (server, a))
            .ok_or_else(|| std::io::Error::other("bound to no address"))
    });
    let (server, addr) = match bound {
        Ok(b) => b,
        Err(e) => {
            // Its thread holds the ledger, which the caller closes once no one holds it.
            deliveries.stop();
            return Err(e);
        }
    };
    Ok(Bound {
        addr,
        server: server.run(),
        deliveries,
    })
}

/// Registers for SIGINT (Ctrl-C) and SIGTERM at once; the future resolves on either. Both mean
/// "stop gracefully".
#[cfg(unix)]
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn stop_signal() -> Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// CORS for browser pages of the configured origins: reads only (GET, HEAD), the EPCIS and
/// paging headers exposed. Requests from other origins are refused; with no origins
/// configured the middleware is not installed at all.
fn cors(origins: &[String]) -> actix_cors::Cors {
    let mut c = actix_cors::Cors::default()
        .allowed_methods(["GET", "HEAD"])
        .allowed_headers([
            actix_web::http::header::ACCEPT,
            actix_web::http::header::AUTHORIZATION,
            actix_web::http::header::HeaderName::from_static("gs1-epcis-version"),
            actix_web::http::header::HeaderName::from_static("gs1-epc-format"),
            super::request_id::HEADER,
        ])
        .expose_headers([
            "link",
            "location",
            "x-request-id",
            "gs1-epcis-version",
            "gs1-cbv-version",
            "gs1-next-page-token",
        ])
        .max_age(3600);
    for o in origins {
        c = if o == "*" {
            c.allow_any_origin()
        } else {
            c.allowed_origin(o)
        };
    }
    c
}

/// `Content-Encoding: identity` is how a handler tells the compression middleware to leave a
/// body as it is (a cached representation, a hash tile); RFC 9110 §8.4.1 keeps `identity` out of
/// answers, so the marker is removed once the middleware has passed.
async fn drop_identity_coding(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::CONTENT_ENCODING;
    let mut res = next.call(req).await?;
    if res
        .headers()
        .get(CONTENT_ENCODING)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"identity"))
    {
        res.headers_mut().remove(CONTENT_ENCODING);
    }
    Ok(res)
}

/// Turns Nagle's algorithm off on an accepted connection (`TCP_NODELAY`), plain or TLS. An
/// answer written in pieces — a stream compressed on the fly, an export, the last chunk of a
/// chunked body — otherwise waits for the client's delayed ACK before its last piece leaves:
/// measured here, 43 ms for every gzipped JSON answer over 1 KiB on a kept-alive connection.
pub(crate) fn no_delay(conn: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    use actix_tls::accept::rustls_0_23::TlsStream;
    use actix_web::rt::net::TcpStream;
    let tcp = conn.downcast_ref::<TcpStream>().or_else(|| {
        conn.downcast_ref::<TlsStream<TcpStream>>()
            .map(|tls| tls.get_ref().0)
    });
    if let Some(tcp) = tcp
        && let Err(e) = tcp.set_nodelay(true)
    {
        tracing::debug!(error = %e, "TCP_NODELAY not set");
    }
}

#[cfg(test)]
mod no_delay_tests {
    use super::no_delay;

    #[actix_web::test]
    async fn accepted_connections_send_without_waiting_for_acks() {
        let listener = actix_web::rt::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let _client = actix_web::rt::net::TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        assert!(!server.nodelay().unwrap());
        no_delay(&server, &mut actix_web::dev::Extensions::new());
        assert!(server.nodelay().unwrap());
    }
}
