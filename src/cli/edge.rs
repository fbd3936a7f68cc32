//! `lotline edge`: runs the mill's edge service (`crate::edge`) until stopped.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::Args as ClapArgs;

use crate::edge::Edge;
use crate::edge::sync::SyncConfig;
use crate::http::edge::{self as web, Site};
use crate::store::outbox::Outbox;

#[derive(ClapArgs, Debug)]
pub struct Args {
    /// The mill's signing key (from `lotline keygen`); it never leaves this machine.
    #[arg(long)]
    key: PathBuf,
    /// The mill's actor id in the ledger (its party GLN URI), the receiver of its receipts.
    #[arg(long)]
    actor: String,
    /// The ledger's base URL, http:// or https:// (a private CA: --ca-cert).
    #[arg(long)]
    server: String,
    /// Where the outbox lives (created if missing).
    #[arg(long)]
    data: PathBuf,
    /// Address of the clerk's page and the tools' API (the mill's LAN).
    #[arg(long, default_value = "127.0.0.1:8700")]
    listen: String,
    /// The site's UTC offset, for times typed in the forms.
    #[arg(long, default_value = "+07:00")]
    utc_offset: String,
    /// Most events in one upload.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// First wait after a failed upload, in milliseconds (doubled up to --max-backoff-ms).
    #[arg(long, default_value_t = 500)]
    min_backoff_ms: u64,
    #[arg(long, default_value_t = 60_000)]
    max_backoff_ms: u64,
}

/// On a terminal, a bar of the records decided (in the ledger or refused) out of all recorded,
/// moving as the uploader works through a backlog; nothing when standard error is not a
/// terminal.
fn show_progress(outbox: &Arc<Outbox>) {
    let pb = super::progress::bar(0, "uploaded");
    if pb.is_hidden() {
        return;
    }
    // Holds the outbox only while it reads it: the edge closes the outbox when it stops.
    let outbox = Arc::downgrade(outbox);
    std::thread::spawn(move || {
        loop {
            let Some((total, pending)) = outbox.upgrade().map(|o| (o.total(), o.pending_count()))
            else {
                return;
            };
            pb.set_length(total);
            pb.set_position(total - pending.min(total));
            std::thread::sleep(Duration::from_millis(500));
        }
    });
}

pub fn run(args: Args) -> Result<()> {
    let server = args.server.trim_end_matches('/').to_owned();
    if !(server.starts_with("http://") || server.starts_with("https://")) {
        bail!("--server {server:?} must start with http:// or https://");
    }
    if lotline_profile::profile::parse_time_ms(&format!("2026-01-01T00:00:00{}", args.utc_offset))
        .is_none()
    {
        bail!(
            "--utc-offset {:?} is not an offset such as +07:00",
            args.utc_offset
        );
    }
    if args.batch == 0 || args.min_backoff_ms == 0 || args.max_backoff_ms < args.min_backoff_ms {
        bail!(
            "--batch and --min-backoff-ms must be positive, --max-backoff-ms at least --min-backoff-ms"
        );
    }
    let key = super::load_key(&args.key)?;
    let outbox = Arc::new(
        Outbox::open(&args.data)
            .with_context(|| format!("opening the outbox in {}", args.data.display()))?,
    );
    // HTTPS through the webpki roots and the CA of --ca-cert (LOTLINE_CA_CERT), if any.
    let agent = ureq::AgentBuilder::new()
        .tls_config(crate::tls::client_config()?)
        .timeout_connect(Duration::from_secs(10))
        .timeout(Duration::from_secs(120))
        .build();
    let config = SyncConfig {
        server: server.clone(),
        batch: args.batch,
        min_backoff: Duration::from_millis(args.min_backoff_ms),
        max_backoff: Duration::from_millis(args.max_backoff_ms),
        agent,
    };
    let edge = Arc::new(Edge::new(outbox, key, config));
    let listener = std::net::TcpListener::bind(&args.listen)
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line; keep its form.
    println!("lotline edge listening on http://{addr}");
    let _ = std::io::Write::flush(&mut std::io::stdout());
    let site = Site {
        actor: args.actor,
        offset: args.utc_offset,
    };
    show_progress(&edge.outbox);
    let served = actix_web::rt::System::new().block_on(web::serve(edge.clone(), site, listener));
    edge.sync.stop();
    // Close the outbox on this thread, before the process exits (`store::close_when_last`):
    // the edge's workers hold the edge, and the progress bar holds the outbox while it reads.
    let outbox = edge.outbox.clone();
    let patience = Duration::from_secs(30);
    if !(crate::store::close_when_last(edge, patience)
        && crate::store::close_when_last(outbox, patience))
    {
        tracing::warn!(
            "the outbox is still in use after the edge stopped; exiting without closing it"
        );
    }
    served.context("serving the edge")
}
