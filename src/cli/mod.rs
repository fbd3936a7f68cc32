//! The command-line front end. Exit codes mean the same in every command: 0 success (or
//! "verified"), 1 a definite negative answer (invalid proof, damaged ledger, rejected events),
//! 2 usage, I/O or network errors — so scripts can tell "false" from "could not tell".

pub mod actor;
mod bundle;
pub mod capture;
pub mod consistency;
mod edge;
pub mod import;
mod input;
mod progress;
mod verify;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use serde_json::Value;

use crate::config::{Config, LogFormat};
use crate::http;
use crate::ledger::{self, Ledger, LedgerOptions};
use data_integrity::{di, didkey};

pub use input::{Input, Shape};

#[derive(Parser)]
#[command(
    name = "lotline",
    version,
    about = "Farm-to-export traceability ledger: signed EPCIS events in a verifiable log"
)]
struct Cli {
    /// A CA certificate file (PEM) to trust for https:// servers besides the public roots, for
    /// a server whose certificate a private CA signed. Used by every command that talks HTTP.
    #[arg(long, global = true, env = "LOTLINE_CA_CERT", value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create an Ed25519 key (W3C Multikey JSON, mode 0600) and print its did:key.
    Keygen {
        /// Where to write the key file.
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Add an eddsa-jcs-2022 Data Integrity proof to EPCIS events (a JSON object, a JSON array or
    /// NDJSON); prints the signed events in the same shape.
    Sign {
        #[arg(long)]
        key: PathBuf,
        /// Proof creation time (RFC 3339); default now.
        #[arg(long)]
        created: Option<String>,
        /// Give events without an eventID a fresh urn:uuid (v7) before signing.
        #[arg(long)]
        add_event_id: bool,
        /// Input file, or - for standard input.
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// Submit signed events to a server and print one receipt per line.
    Submit {
        /// Base URL of the server, e.g. http://127.0.0.1:8080
        #[arg(long, env = "LOTLINE_SERVER")]
        server: String,
        /// Events per batch request.
        #[arg(long, default_value_t = 500)]
        batch_size: usize,
        /// Retries after network errors or 503 answers, with exponential back-off. Safe: a
        /// resubmitted event is recognised by its eventID and answered with its first receipt.
        #[arg(long, default_value_t = 6)]
        retries: u32,
        #[arg(default_value = "-")]
        file: PathBuf,
    },
    /// Sign an unsigned EPCISDocument (JSON-LD or XML) here and capture it (POST /capture).
    ///
    /// Every event is signed on this machine, then the document goes to the server's EPCIS
    /// capture interface; the command waits for the capture job and prints one line per event:
    /// `<n>\t<eventID>\t<accepted|refused>\t<detail>` (n counts from 1). Events without an
    /// eventID get their CBV 2.0 event hash ID, so a rerun resends the same IDs. Exit 0 the
    /// capture succeeded, 1 it did not (or the server refused the document), 2 usage, input,
    /// network or server errors.
    Capture(capture::Args),
    /// Run a site's edge service: the clerk's page and a local API record events, signed at
    /// once and kept in a durable outbox that is uploaded in order whenever the ledger answers.
    Edge(edge::Args),
    /// Turn a mill's spreadsheet rows (receipts, moisture checks, milling runs, bagging with RFID
    /// reads) into signed events through a column mapping, and capture them.
    ///
    /// Every row is checked first; if any is bad, one line per problem is printed
    /// (`row N, column "X": reason`) and nothing is submitted (exit 1). Otherwise the events are
    /// signed here and captured (all or nothing per capture document), one line per row:
    /// `row N\t<eventID>\t<accepted|refused>\t<detail>`. eventIDs are the events' CBV 2.0 hash
    /// IDs, so importing the same rows again changes nothing. The mapping format is in
    /// docs/import.md. Exit 0 all rows are in the log, 1 bad rows or refused events, 2 usage,
    /// input, network or server errors.
    Import(import::Args),
    /// Run the ledger server.
    Serve(ServeArgs),
    /// Check a C2SP tlog-proof file offline against the log's verifier key.
    VerifyProof {
        /// The log's verifier key, `<origin>+<key id>+<base64>` (see GET /v1/log).
        #[arg(long)]
        log_key: String,
        file: PathBuf,
    },
    /// Verify a lot's provenance bundle (GET /v1/lots/{id}/bundle) offline: the checkpoint's
    /// signature, every inclusion proof, event signature and chain link, each signer's
    /// authorisation at its event's time, and the derived claims. Prints a report; exit 0
    /// verified, 1 not verified (naming what and where), 2 usage or I/O error.
    Verify {
        /// The log's verifier key, `<origin>+<key id>+<base64>` (see GET /v1/log).
        #[arg(
            long,
            required_unless_present = "log_key_file",
            conflicts_with = "log_key_file"
        )]
        log_key: Option<String>,
        /// A file holding the log's verifier key.
        #[arg(long)]
        log_key_file: Option<PathBuf>,
        /// A registrar key (did:key) you trust (repeatable). Without it, registrar entries are
        /// checked against the registrar keys the bundle names.
        #[arg(long = "registrar", value_name = "DID")]
        registrars: Vec<String>,
        /// Plausibility bounds to recompute flags with (JSON, the `[plausibility]` keys of the
        /// ledger's configuration); default the published defaults. A bundle computed with
        /// other bounds is not verified.
        #[arg(long)]
        bounds: Option<PathBuf>,
        /// Print the report as JSON instead of text.
        #[arg(long)]
        json: bool,
        /// The bundle file.
        file: PathBuf,
    },
    /// Check that the log only grew since an older signed checkpoint (RFC 9162 consistency),
    /// trusting only the log's verifier key.
    ///
    /// Server mode (--server) fetches the server's current checkpoint (GET /v1/checkpoint) and
    /// the proof between the two (GET /v1/proofs/consistency?from=OLD&to=NEW). Offline mode
    /// takes both from files (--new, --proof).
    ///
    /// Both checkpoints must be signed by the key for its origin, and the proof must lead from
    /// the old signed root to the new one; the unsigned root hashes in the proof are not used.
    ///
    /// The proof file is exactly the JSON that GET /v1/proofs/consistency?from=OLD&to=NEW
    /// answers, `{"from", "to", "fromRootHash", "toRootHash", "hashes"}`, e.g. saved with
    /// `curl -s "$SERVER/v1/proofs/consistency?from=12&to=40" > proof.json`, or by --save-proof.
    ///
    /// Exit 0: consistent. 1: not, or a checkpoint or the proof is invalid (the reason is
    /// printed). 2: could not tell (usage, unreadable or malformed files, network).
    #[command(
        override_usage = "lotline verify-consistency (--log-key VKEY | --log-key-file FILE) --old FILE --server URL [--save-new FILE] [--save-proof FILE]\n       lotline verify-consistency (--log-key VKEY | --log-key-file FILE) --old FILE --new FILE --proof FILE"
    )]
    VerifyConsistency(consistency::Args),
    /// Re-check a stopped ledger from its stored bytes: entries, chain, signatures, tree and
    /// checkpoint. Names the first bad entry.
    Fsck {
        #[arg(long)]
        data: PathBuf,
    },
    /// Back up the embedded store of DATA into the new directory OUT: a consistent RocksDB
    /// checkpoint and a manifest, taken while the server runs (through its admin socket) or not.
    /// The log's key is not in it: keep the key apart (docs/operations.md).
    Backup {
        #[arg(long)]
        data: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into the new data directory DATA with the log's key, then check it end
    /// to end as `fsck` does. Exit 1 if the restored ledger does not check.
    Restore {
        /// The backup directory (made by `lotline backup`).
        #[arg(long)]
        from: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// The log's key file (kept apart from the backups).
        #[arg(long)]
        log_key: PathBuf,
    },
    /// Make a short-lived audit token (certifiers and registrars) for the audit endpoints: send
    /// it as `Authorization: Bearer <token>`, or open `--url` in a browser.
    AuditToken {
        /// The certifier's (or registrar's) key file.
        #[arg(long)]
        key: PathBuf,
        /// The server the token is for (its log origin is read from /v1/log).
        #[arg(long, env = "LOTLINE_SERVER", conflicts_with = "audience")]
        server: Option<String>,
        /// The log origin the token is for, when the server is not reachable from here.
        #[arg(long)]
        audience: Option<String>,
        /// The certifier's actor id, checked by the server against the key's owner.
        #[arg(long)]
        actor: Option<String>,
        /// Lifetime in seconds (at most 3600).
        #[arg(long, default_value_t = 600)]
        ttl: u32,
        /// Print this path of --server with the token as access_token, to open in a browser.
        #[arg(long, requires = "server")]
        url: Option<String>,
    },
    /// Registrar documents: register actors, grant and revoke roles, add, rotate and revoke
    /// keys. Each is signed with --registrar-key and submitted to --server.
    #[command(subcommand)]
    Actor(actor::ActorCommand),
    /// RFID tools.
    #[command(subcommand)]
    Rfid(RfidCommand),
    /// Write the demo scenario (keys and unsigned documents) for `lotline sign` and `submit`.
    Scenario {
        #[arg(long)]
        out: PathBuf,
        /// Seeds the demo's keys and eventIDs, so loading it twice changes nothing.
        #[arg(long, default_value = "lotline demo")]
        seed: String,
    },
}

#[derive(Subcommand)]
enum RfidCommand {
    /// Decode EPC bank hex (SGTIN-96/198, SSCC-96, SGLN-96/195, GRAI-96/170, GIAI-96/202) to
    /// tag URI, pure-identity URI and GS1 Digital Link. Exit 1 if any tag does not decode.
    Decode {
        #[arg(required = true)]
        hex: Vec<String>,
    },
}

#[derive(clap::Args)]
struct ServeArgs {
    /// TOML configuration file (keys as in README.md).
    #[arg(long, env = "LOTLINE_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (default ./data).
    #[arg(long)]
    data: Option<PathBuf>,
    /// HOST:PORT to listen on (default 127.0.0.1:8080; port 0 picks one).
    #[arg(long)]
    listen: Option<String>,
    /// Where the log lives: `embedded` (default) or the postgresql:// URL of a replicated
    /// deployment's database (config key `store`, LOTLINE_STORE).
    #[arg(long)]
    store: Option<String>,
    /// Base URL clients reach this node under, for redirects between replicated nodes.
    #[arg(long)]
    advertise: Option<String>,
    /// The log's name in its checkpoints; default <hostname>/lotline. Fixed at creation.
    #[arg(long)]
    origin: Option<String>,
    #[arg(long, value_enum)]
    log_format: Option<LogFormat>,
    /// A registrar's did:key (repeatable): registrars admit actors and manage roles and keys.
    /// Adds to those of the config file and LOTLINE_REGISTRARS.
    #[arg(long = "registrar", value_name = "DID")]
    registrars: Vec<String>,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first); needs
    /// --tls-key (config `[tls] cert_file`, LOTLINE_TLS_CERT_FILE).
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert (config `[tls] key_file`, LOTLINE_TLS_KEY_FILE).
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
}

/// Runs the command line; the binary's `main` is just this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(ca) = cli.ca_cert {
        crate::tls::trust_extra_ca(ca);
    }
    // `serve` sets up logging itself, once its configuration says which format.
    if !matches!(cli.command, Command::Serve(_)) {
        init_tracing(LogFormat::Text);
    }
    let result = match cli.command {
        Command::Keygen { out, force } => keygen(&out, force).map(|_| ExitCode::SUCCESS),
        Command::Sign {
            key,
            created,
            add_event_id,
            file,
        } => sign(&key, created, add_event_id, &file).map(|_| ExitCode::SUCCESS),
        Command::Submit {
            server,
            batch_size,
            retries,
            file,
        } => submit(&server, batch_size, retries, &file),
        Command::Capture(args) => capture::run(args),
        Command::Edge(args) => edge::run(args).map(|_| ExitCode::SUCCESS),
        Command::Import(args) => import::run(args),
        Command::Serve(args) => serve(args).map(|_| ExitCode::SUCCESS),
        Command::VerifyProof { log_key, file } => verify::verify_proof(&log_key, &file),
        Command::Verify {
            log_key,
            log_key_file,
            registrars,
            bounds,
            json,
            file,
        } => consistency::log_key(log_key.as_deref(), log_key_file.as_deref()).and_then(|key| {
            let bounds = bundle::bounds(bounds.as_deref())?;
            bundle::verify(&key, &registrars, &bounds, &file, json)
        }),
        Command::VerifyConsistency(args) => consistency::run(args),
        Command::Fsck { data } => fsck(&data),
        Command::Backup { data, out } => backup(&data, &out).map(|_| ExitCode::SUCCESS),
        Command::Restore {
            from,
            data,
            log_key,
        } => restore(&from, &data, &log_key),
        Command::AuditToken {
            key,
            server,
            audience,
            actor,
            ttl,
            url,
        } => audit_token(&key, server, audience, actor, ttl, url).map(|_| ExitCode::SUCCESS),
        Command::Actor(a) => actor::actor(a),
        Command::Rfid(RfidCommand::Decode { hex }) => actor::rfid_decode(&hex),
        Command::Scenario { out, seed } => {
            actor::write_scenario(&out, &seed).map(|_| ExitCode::SUCCESS)
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("lotline: error: {e:#}");
        ExitCode::from(2)
    })
}

/// Logs go to standard error so standard output stays machine-readable.
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("LOTLINE_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn keygen(out: &Path, force: bool) -> Result<()> {
    let key = didkey::generate()?;
    ledger::write_key_file(out, &key, force)?;
    println!("{}", didkey::did_key(&key.verifying_key()));
    Ok(())
}

fn audit_token(
    key: &Path,
    server: Option<String>,
    audience: Option<String>,
    actor: Option<String>,
    ttl: u32,
    url: Option<String>,
) -> Result<()> {
    let key = load_key(key)?;
    let (audience, client) = match (server, audience) {
        (Some(s), _) => {
            let client = Client::new(&s, 2)?;
            let (status, body) = client.get_text("/v1/log")?;
            if status != 200 {
                bail!("{s}/v1/log answered {status}: {body}");
            }
            let info: Value = serde_json::from_str(&body)
                .with_context(|| format!("{s}/v1/log did not answer JSON"))?;
            let origin = info["origin"]
                .as_str()
                .with_context(|| format!("{s}/v1/log names no origin"))?
                .to_owned();
            (origin, Some(client))
        }
        (None, Some(a)) => (a, None),
        (None, None) => bail!("give --server (or --audience with the log's origin)"),
    };
    let token = lotline_profile::audit_token::create(
        &key,
        &audience,
        actor.as_deref(),
        ledger::now_ms(),
        i64::from(ttl) * 1000,
    )
    .map_err(|e| anyhow::anyhow!(e))?;
    match (url, client) {
        (Some(path), Some(c)) => {
            let sep = if path.contains('?') { '&' } else { '?' };
            println!("{}{path}{sep}access_token={token}", c.base);
        }
        _ => println!("{token}"),
    }
    Ok(())
}

fn load_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read key file {}", path.display()))?;
    Ok(ledger::read_key_file(path, &bytes)?)
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

fn sign(key: &Path, created: Option<String>, add_event_id: bool, file: &Path) -> Result<()> {
    let key = load_key(key)?;
    let created = match created {
        Some(c) => {
            time::OffsetDateTime::parse(&c, &time::format_description::well_known::Rfc3339)
                .with_context(|| format!("--created {c:?} is not an RFC 3339 date-time"))?;
            c
        }
        None => now_rfc3339(),
    };
    let input = Input::read(file)?;
    let mut signed = Vec::with_capacity(input.events.len());
    for (n, mut event) in input.events.into_iter().enumerate() {
        let Some(obj) = event.as_object_mut() else {
            bail!("event {} is not a JSON object", n + 1);
        };
        if !obj.contains_key("eventID") {
            if !add_event_id {
                bail!(
                    "event {} has no eventID; add a urn:uuid one or pass --add-event-id",
                    n + 1
                );
            }
            obj.insert(
                "eventID".into(),
                Value::String(lotline_profile::event::EventId::new_v7().to_string()),
            );
        }
        obj.remove("proof");
        signed.push(di::sign(&event, &key, &created).with_context(|| format!("event {}", n + 1))?);
    }
    let mut out = std::io::stdout().lock();
    input::write(&mut out, input.shape, &signed)?;
    out.flush()?;
    Ok(())
}

/// Submits events. Exit 0: all accepted; 1: the server refused some (4xx, printed on stderr);
/// 2: the server failed (5xx) or could not be reached after the retries.
fn submit(server: &str, batch_size: usize, retries: u32, file: &Path) -> Result<ExitCode> {
    if batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    let input = Input::read(file)?;
    let client = Client::new(server, retries)?;
    let mut out = std::io::stdout().lock();
    let mut tally = Tally::default();
    if input.shape == Shape::Object {
        let (status, body) = client.post("/v1/events", &serde_json::to_vec(&input.events[0])?)?;
        if status < 300 {
            writeln!(out, "{body}")?;
        } else {
            tally.refused(status, &format!("rejected: {}", describe_problem(&body)));
        }
    } else {
        let bar = progress::bar(input.events.len() as u64, "submitting");
        for (b, chunk) in input.events.chunks(batch_size).enumerate() {
            let (status, body) = client.post("/v1/events/batch", &serde_json::to_vec(chunk)?)?;
            bar.inc(chunk.len() as u64);
            if status >= 300 {
                let first = b * batch_size + 1;
                let what = format!(
                    "events {first}-{} rejected as a batch: {}",
                    first + chunk.len() - 1,
                    describe_problem(&body)
                );
                bar.suspend(|| tally.refused(status, &what));
                continue;
            }
            let results = body["results"].as_array().cloned().unwrap_or_default();
            if results.len() != chunk.len() {
                bail!(
                    "the server answered {} results for {} events",
                    results.len(),
                    chunk.len()
                );
            }
            for (i, r) in results.iter().enumerate() {
                if let Some(receipt) = r.get("receipt") {
                    writeln!(out, "{receipt}")?;
                    continue;
                }
                let id = chunk[i]
                    .get("eventID")
                    .and_then(Value::as_str)
                    .unwrap_or("?");
                let what = format!(
                    "event {} ({id}) rejected: {}",
                    b * batch_size + i + 1,
                    describe_problem(&r["problem"])
                );
                let status = r["status"].as_u64().unwrap_or(500) as u16;
                bar.suspend(|| tally.refused(status, &what));
            }
        }
        bar.finish_and_clear();
    }
    out.flush()?;
    Ok(tally.exit_code())
}

/// Refusals by kind: the client's mistake (4xx) or the server's failure (5xx).
#[derive(Default)]
struct Tally {
    rejected: usize,
    failed: usize,
}

impl Tally {
    fn refused(&mut self, status: u16, what: &str) {
        eprintln!("{what}");
        if status >= 500 {
            self.failed += 1;
        } else {
            self.rejected += 1;
        }
    }

    fn exit_code(&self) -> ExitCode {
        match (self.failed, self.rejected) {
            (0, 0) => ExitCode::SUCCESS,
            (0, _) => ExitCode::from(1),
            _ => ExitCode::from(2),
        }
    }
}

fn describe_problem(p: &Value) -> String {
    let code = p["code"].as_str().unwrap_or("error");
    let detail = p["detail"].as_str().unwrap_or("");
    match p["pointer"].as_str() {
        Some(ptr) => format!("{code}: {detail} (at {ptr:?})"),
        None => format!("{code}: {detail}"),
    }
}

/// A small blocking HTTP client with retries for flaky links. Speaks HTTPS (rustls, the
/// public webpki roots and the process's extra CA, see [`crate::tls::client_config`]) and HTTP.
pub struct Client {
    base: String,
    agent: ureq::Agent,
    retries: u32,
}

impl Client {
    pub fn new(base: &str, retries: u32) -> Result<Client> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            bail!("--server {base:?} must start with http:// or https://");
        }
        let tls = crate::tls::client_config()?;
        let agent = ureq::AgentBuilder::new()
            .tls_config(tls)
            .timeout_connect(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build();
        Ok(Client {
            base,
            agent,
            retries,
        })
    }

    /// POSTs JSON; returns the status and the parsed body. Retries transport errors and 503s.
    pub fn post(&self, path: &str, body: &[u8]) -> Result<(u16, Value)> {
        let (status, text) = self.post_text(path, body)?;
        let value = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}{path} answered {status} with a body that is not JSON",
                self.base
            )
        })?;
        Ok((status, value))
    }

    /// [`Client::post`], returning the body unparsed.
    pub fn post_text(&self, path: &str, body: &[u8]) -> Result<(u16, String)> {
        let url = format!("{}{}", self.base, path);
        let request = self
            .agent
            .post(&url)
            .set("Content-Type", "application/json");
        self.send(request, Some(body))
    }

    /// GETs `path`; returns the status and the body unparsed. Retries like [`Client::post`].
    pub fn get_text(&self, path: &str) -> Result<(u16, String)> {
        let url = format!("{}{}", self.base, path);
        self.send(self.agent.get(&url), None)
    }

    /// Sends `request` (with `body`, if any), retrying transport errors and 503s with back-off.
    fn send(&self, request: ureq::Request, body: Option<&[u8]>) -> Result<(u16, String)> {
        self.send_reply(request, body).map(|r| (r.status, r.body))
    }

    /// [`Client::send`], keeping the answer's `Location` header. A 503's `Retry-After` (in
    /// seconds, at most a minute) replaces the back-off delay once.
    fn send_reply(&self, request: ureq::Request, body: Option<&[u8]>) -> Result<Reply> {
        let (method, url) = (request.method().to_owned(), request.url().to_owned());
        let mut delay = Duration::from_millis(500);
        for attempt in 0..=self.retries {
            let last = attempt == self.retries;
            let res = match body {
                Some(bytes) => request.clone().send_bytes(bytes),
                None => request.clone().call(),
            };
            let (status, resp) = match res {
                Ok(r) => (r.status(), r),
                Err(ureq::Error::Status(503, r)) if !last => {
                    let wait = retry_after(&r).unwrap_or(delay);
                    std::thread::sleep(wait);
                    delay = (delay * 2).min(Duration::from_secs(30));
                    continue;
                }
                Err(ureq::Error::Status(code, r)) => (code, r),
                Err(ureq::Error::Transport(t)) if crate::tls::handshake_problem(&t).is_some() => {
                    // Retrying cannot change the server's certificate or protocol.
                    return Err(tls_failure(&url, &t));
                }
                Err(ureq::Error::Transport(t)) if url.starts_with("http://") && not_http(&t) => {
                    // Most likely a TLS alert: what a server that terminates TLS answers.
                    return Err(anyhow::Error::new(t).context(format!(
                        "{method} {url}: the answer is not HTTP; if the server speaks HTTPS, \
                         use https://"
                    )));
                }
                Err(e @ ureq::Error::Transport(_)) => {
                    if last {
                        return Err(anyhow::Error::new(e).context(format!("{method} {url}")));
                    }
                    eprintln!("lotline: {url}: {e}; retrying in {delay:?}");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(30));
                    continue;
                }
            };
            let location = resp.header("Location").map(str::to_owned);
            let text = resp
                .into_string()
                .with_context(|| format!("reading the answer of {url}"))?;
            return Ok(Reply {
                status,
                location,
                body: text,
            });
        }
        bail!(
            "{method} {url}: no answer after {} attempts",
            self.retries + 1
        )
    }
}

/// Whether the answer was no HTTP at all (a malformed status line or header), which no retry
/// changes: typically the TLS alert a server that terminates TLS sends a plain-HTTP client.
fn not_http(t: &ureq::Transport) -> bool {
    use std::error::Error as _;
    match t.kind() {
        ureq::ErrorKind::BadStatus | ureq::ErrorKind::BadHeader => true,
        ureq::ErrorKind::Io => t
            .source()
            .and_then(|e| e.downcast_ref::<std::io::Error>())
            .is_some_and(|e| {
                matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::InvalidInput
                )
            }),
        _ => false,
    }
}

/// A TLS handshake that failed, said plainly, with what to do about it.
fn tls_failure(url: &str, t: &ureq::Transport) -> anyhow::Error {
    let Some(problem) = crate::tls::handshake_problem(t) else {
        return anyhow::anyhow!("{url}: {t}");
    };
    match problem {
        rustls::Error::InvalidCertificate(c) => anyhow::anyhow!(
            "{url}: the server's TLS certificate is not accepted ({c:?}); if a private CA signed \
             it, trust that CA with --ca-cert FILE or LOTLINE_CA_CERT"
        ),
        other => anyhow::anyhow!(
            "{url}: the TLS handshake failed ({other}); does the server speak HTTPS on this port?"
        ),
    }
}

/// An HTTP answer: status, `Location` header and body text.
struct Reply {
    status: u16,
    location: Option<String>,
    body: String,
}

/// A `Retry-After` in seconds (the HTTP-date form is not used by lotline), capped at a minute.
fn retry_after(resp: &ureq::Response) -> Option<Duration> {
    let secs: u64 = resp.header("Retry-After")?.trim().parse().ok()?;
    Some(Duration::from_secs(secs.min(60)))
}

fn serve(args: ServeArgs) -> Result<()> {
    let mut cfg = Config::from_file(args.config.as_deref())?;
    let unknown = cfg.apply_env(std::env::vars())?;
    if let Some(d) = args.data {
        cfg.data = d;
    }
    if let Some(l) = args.listen {
        cfg.listen = l;
    }
    if let Some(s) = args.store {
        cfg.store = s;
    }
    if let Some(a) = args.advertise {
        cfg.advertise = Some(a);
    }
    if let Some(o) = args.origin {
        cfg.origin = Some(o);
    }
    if let Some(f) = args.log_format {
        cfg.log_format = f;
    }
    for r in args.registrars {
        if !cfg.registrars.contains(&r) {
            cfg.registrars.push(r);
        }
    }
    if let Some(c) = args.tls_cert {
        cfg.tls.cert_file = Some(c);
    }
    if let Some(k) = args.tls_key {
        cfg.tls.key_file = Some(k);
    }
    init_tracing(cfg.log_format);
    for name in unknown {
        tracing::warn!(variable = %name, "unknown LOTLINE_ variable ignored");
    }
    cfg.validate()?;
    // A bad --ca-cert is an error now, not at the first webhook delivery.
    crate::tls::client_config()?;
    run_server(&cfg, |_, _| {})
}

/// Opens the ledger, announces the server on standard output and serves it until a signal (or
/// the [`http::StopHandle`] `on_start` gets) stops it; then commits what was accepted and signs a
/// final checkpoint. `on_start` gets the bound address once the server listens.
pub fn run_server(cfg: &Config, on_start: impl FnOnce(SocketAddr, http::StopHandle)) -> Result<()> {
    // Before the ledger opens: bad certificate or key files stop the start, and nothing else.
    let tls = match cfg.tls_files() {
        Some((cert, key)) => Some(crate::tls::server_config(cert, key)?),
        None => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let opts = LedgerOptions {
        checkpoint_interval: cfg.checkpoint_interval(),
        queue_depth: cfg.queue_depth,
        rules: cfg.rules(),
        ..LedgerOptions::default()
    };
    // A server already running on this directory is named before RocksDB tries its lock: a
    // failed open would first move that server's LOG aside. Safe here: this process has no
    // database open on it (`store::locked_by_another_process`).
    let db = ledger::db_path(&cfg.data);
    if crate::store::locked_by_another_process(&db) {
        anyhow::bail!(
            "the ledger in {} is open in another process: is a server already running on it?",
            cfg.data.display()
        );
    }
    let ledger = match cfg.postgres_url() {
        None => Ledger::open(&cfg.data, cfg.origin.as_deref(), opts),
        Some(url) => {
            let replica = crate::replica::ReplicaConfig {
                url: url.to_owned(),
                // Without one, the bound address (below).
                advertise: cfg.advertise.clone(),
                poll: Duration::from_millis(100),
            };
            crate::replica::open(&cfg.data, cfg.origin.as_deref(), opts, replica)
        }
    };
    let ledger =
        Arc::new(ledger.with_context(|| format!("opening the ledger in {}", cfg.data.display()))?);
    let vkey = ledger.verifier_key().to_string();
    // `lotline backup` reaches the running server here.
    let admin = crate::backup::AdminSocket::start(&cfg.data, &ledger)?;
    let announce = ledger.clone();
    let served = http::run(cfg, tls, ledger.clone(), move |addr, stop| {
        // Tests and scripts read these two lines; keep their form.
        println!("lotline listening on {scheme}://{addr}");
        println!("log verifier key: {vkey}");
        let _ = std::io::stdout().flush();
        announce.set_advertise(&format!("{scheme}://{addr}"));
        on_start(addr, stop);
    });
    // No backup starts from now on; one being written finishes before the store closes.
    drop(admin);
    // The ledger is shut down (everything accepted is committed); close its store on this
    // thread, before the process exits (`store::close_when_last` says why).
    if !crate::store::close_when_last(ledger, STORE_CLOSE_PATIENCE) {
        tracing::warn!(
            "the store is still in use after the server stopped; exiting without closing it"
        );
    }
    served
}

/// How long a stopped server waits for its worker threads to let go of the ledger; they do
/// within milliseconds.
const STORE_CLOSE_PATIENCE: Duration = Duration::from_secs(30);

fn backup(data: &Path, out: &Path) -> Result<()> {
    let m = crate::backup::backup(data, out)?;
    println!(
        "backed up {} entries of {} to {} (the log's key is not in it)",
        m.size,
        m.origin,
        out.display()
    );
    Ok(())
}

fn restore(from: &Path, data: &Path, log_key: &Path) -> Result<ExitCode> {
    let report = crate::backup::restore(from, data, log_key)?;
    println!("restored {} into {}", from.display(), data.display());
    fsck_answer(&report)
}

fn fsck(data: &Path) -> Result<ExitCode> {
    let report = ledger::fsck(data)?;
    fsck_answer(&report)
}

fn fsck_answer(report: &ledger::FsckReport) -> Result<ExitCode> {
    match &report.problem {
        None => {
            println!(
                "ok: {} entries, chain and signatures valid, root {}, checkpoint at size {} verified",
                report.size,
                lotline_profile::entry::b64_hash::encode(&report.root),
                report.checkpoint_size
            );
            Ok(ExitCode::SUCCESS)
        }
        Some((index, what)) => {
            match index {
                Some(i) => println!("BAD: first bad entry is {i}: {what}"),
                None => println!("BAD: {what}"),
            }
            Ok(ExitCode::from(1))
        }
    }
}
