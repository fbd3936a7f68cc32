//! `lotline-bench read`: buyer reads and proof serving on the demo ledger, with the read cache
//! on and off — the container's buyer page, its offline bundle, inclusion proofs of random
//! entries against the latest checkpoint, C2SP level-0 tiles, and the checkpoint itself.
//!
//! The clients must not starve the server they share the cores with, so they are as cheap as a
//! client can be: one thread each, one kept-alive connection each, a request written as bytes
//! and the answer's body skipped by its length. Their own CPU time is measured per thread
//! (`/proc/thread-self/schedstat`, nanoseconds) and taken off the process's, which gives the
//! server's CPU per request; the machine's busy share (`/proc/stat`) is printed next to it, since
//! the cores may be shared with other work.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};

use crate::filler::Filler;
use crate::harness::{BenchServer, ledger_size, submit};
use crate::measure::{cores, ms, percentile, process_cpu};
use lotline::cli::Client;

/// The demo container's buyer page (its GS1 Digital Link) and its bundle.
const PAGE: &str = "/00/988412340000000016";
const BUNDLE: &str = "/v1/lots/urn:epc:id:sscc:8841234.9000000001/bundle";

pub fn run(secs: u64, concurrency: usize, filler: usize) -> Result<()> {
    if secs == 0 || concurrency == 0 {
        bail!("--secs and --concurrency must be at least 1");
    }
    let cores = cores();
    println!(
        "bench read: the demo ledger and {filler} unrelated harvests after it; {concurrency} clients, {secs} s per figure, {cores} cores; server CPU = process CPU - the clients' threads' CPU"
    );
    for cache in [true, false] {
        let label = if cache { "cache on" } else { "cache off" };
        let server = demo_server(cache, filler)?;
        let result = (|| -> Result<()> {
            let client = Client::new(&server.base, 3)?;
            let size = ledger_size(&client)?;
            let addr = server.base.trim_start_matches("http://").to_owned();
            let kinds: [(&str, Target); 8] = [
                ("page", Target::Fixed(PAGE)),
                ("page gzip", Target::Gzip(PAGE)),
                ("page 304", Target::Revalidate(PAGE)),
                ("bundle", Target::Fixed(BUNDLE)),
                ("bundle gz", Target::Gzip(BUNDLE)),
                ("proof", Target::Proof(size)),
                ("tile", Target::Tile(size)),
                ("checkpoint", Target::Fixed("/v1/checkpoint")),
            ];
            for (name, target) in kinds {
                if !cache && matches!(target, Target::Revalidate(_)) {
                    continue;
                }
                let f = load(&addr, &target, concurrency, Duration::from_secs(secs))?;
                // What the server's own CPU per request allows on every core, clients elsewhere.
                let capacity = cores as f64 * 1e6 / f.server_us.max(1e-3);
                println!(
                    "{name:>10} ({label}): {:>7.0} req/s, p50 {:>6.2} ms, p99 {:>6.2} ms, server {:>6.0} core-µs/req (= {capacity:>6.0} req/s on {cores} cores), clients {:>4.0} core-µs/req; machine {:.0}% of {cores} cores busy, load {}",
                    f.rate,
                    ms(f.p50),
                    ms(f.p99),
                    f.server_us,
                    f.client_us,
                    f.machine_busy * 100.0,
                    f.loadavg
                );
            }
            Ok(())
        })();
        server.stop()?;
        result?;
    }
    Ok(())
}

/// A server with the demo loaded, then `filler` unrelated harvests (a larger log: longer
/// proofs), all checkpointed; its read cache on or off.
fn demo_server(cache: bool, filler: usize) -> Result<BenchServer> {
    let (registrar, steps) =
        lotline::cli::actor::signed_demo("bench read", "2026-11-20T00:00:00Z")?;
    let server = BenchServer::configured("read", None, |cfg| {
        cfg.registrars = vec![registrar];
        if !cache {
            cfg.read_cache_mb = 0;
        }
    })?;
    let client = Client::new(&server.base, 3)?;
    for (doc, expect) in &steps {
        let (status, v) = client.post("/v1/events", &serde_json::to_vec(doc)?)?;
        if expect.is_none() && status != 201 {
            bail!("the demo was refused ({status}): {v}");
        }
    }
    if filler > 0 {
        let farm = Filler::new(
            "bench read filler",
            9100,
            &lotline_scenario::seeded_key("bench read registrar"),
        )?;
        submit(&client, std::slice::from_ref(&farm.registration), 1)?;
        farm.fill(&server.base, 0, filler)?;
    }
    // Waits for the checkpoint covering the whole log.
    let last = ledger_size(&client)? - 1;
    let (status, body) = client.get_text(&format!("/v1/entries/{last}/proof"))?;
    if status != 200 {
        bail!("no checkpoint covers the demo: {body}");
    }
    Ok(server)
}

enum Target {
    /// The same path every time.
    Fixed(&'static str),
    /// The same path with the ETag its first answer had: `304` answers.
    Revalidate(&'static str),
    /// The same path, accepting gzip as browsers do.
    Gzip(&'static str),
    /// Inclusion proofs of entries spread over a log of this size.
    Proof(u64),
    /// C2SP level-0 tiles (8 KiB each) spread over a log of this size: the full ones, or the
    /// partial one of a log smaller than a tile.
    Tile(u64),
}

struct Figures {
    rate: f64,
    p50: Duration,
    p99: Duration,
    server_us: f64,
    client_us: f64,
    machine_busy: f64,
    loadavg: String,
}

/// `concurrency` clients requesting `target` for `run_for` (after a one-second warm-up).
fn load(addr: &str, target: &Target, concurrency: usize, run_for: Duration) -> Result<Figures> {
    let etag = match target {
        Target::Revalidate(path) => {
            let mut c = Conn::open(addr)?;
            let (status, etag) = c.get(path, None, false)?;
            if status != 200 || etag.is_none() {
                bail!("{path}: {status}, no ETag");
            }
            etag
        }
        _ => None,
    };
    let stop = AtomicBool::new(false);
    let timing = AtomicBool::new(false);
    let lat = Mutex::new(Vec::new());
    let failures = Mutex::new(Vec::<String>::new());
    let client_ns = AtomicU64::new(0);
    let mut window = (None, None, Instant::now(), Duration::ZERO);
    std::thread::scope(|s| {
        for t in 0..concurrency {
            let (stop, timing, lat, failures, client_ns, etag) =
                (&stop, &timing, &lat, &failures, &client_ns, &etag);
            s.spawn(move || {
                let mut mine = Vec::with_capacity(1 << 16);
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ (t as u64 + 1);
                let mut run = || -> Result<()> {
                    let mut c = Conn::open(addr)?;
                    let mut cpu_start = None;
                    while !stop.load(Ordering::Relaxed) {
                        if cpu_start.is_none() && timing.load(Ordering::Relaxed) {
                            cpu_start = Some(thread_cpu_ns());
                            mine.clear();
                        }
                        let path;
                        let p = match target {
                            Target::Fixed(p) | Target::Revalidate(p) | Target::Gzip(p) => *p,
                            Target::Proof(size) => {
                                rng ^= rng << 13;
                                rng ^= rng >> 7;
                                rng ^= rng << 17;
                                path = format!("/v1/proofs/inclusion/{}", rng % size);
                                &path
                            }
                            Target::Tile(size) => {
                                rng ^= rng << 13;
                                rng ^= rng >> 7;
                                rng ^= rng << 17;
                                let full = size / u64::from(tlog::tile::WIDTH);
                                let tile = if full == 0 {
                                    tlog::tile::Tile::containing(0, 0, *size)
                                } else {
                                    tlog::tile::Tile::new(0, rng % full, tlog::tile::WIDTH)
                                };
                                let tile = tile.context("a log with no entries has no tiles")?;
                                path = format!("/tlog/{}", tile.path());
                                &path
                            }
                        };
                        let started = Instant::now();
                        let gzip = matches!(target, Target::Gzip(_));
                        let (status, _) = c.get(p, etag.as_deref(), gzip)?;
                        let want = if etag.is_some() { 304 } else { 200 };
                        if status != want {
                            bail!("{p}: {status}, expected {want}");
                        }
                        if cpu_start.is_some() {
                            mine.push(started.elapsed());
                        }
                    }
                    if let Some(start) = cpu_start {
                        client_ns.fetch_add(thread_cpu_ns() - start, Ordering::Relaxed);
                    }
                    Ok(())
                };
                if let Err(e) = run() {
                    failures.lock().unwrap().push(format!("{e:#}"));
                    stop.store(true, Ordering::Relaxed);
                }
                lat.lock().unwrap().extend(mine);
            });
        }
        std::thread::sleep(Duration::from_secs(1));
        let (cpu0, busy0) = (process_cpu(), machine_ticks());
        timing.store(true, Ordering::Relaxed);
        let started = Instant::now();
        std::thread::sleep(run_for);
        stop.store(true, Ordering::Relaxed);
        let elapsed = started.elapsed();
        let cpu = process_cpu().zip(cpu0).map(|(a, b)| a.saturating_sub(b));
        let busy = machine_ticks()
            .zip(busy0)
            .map(|((b1, t1), (b0, t0))| (b1 - b0) as f64 / (t1 - t0).max(1) as f64);
        window = (cpu, busy, started, elapsed);
    });
    if let Some(f) = failures.into_inner().unwrap().first() {
        bail!("a client failed: {f}");
    }
    let (cpu, busy, _, elapsed) = window;
    let mut lat = lat.into_inner().unwrap();
    lat.sort_unstable();
    let n = lat.len().max(1) as f64;
    let clients = Duration::from_nanos(client_ns.into_inner());
    let total = cpu.context("the process's CPU time is not available here")?;
    Ok(Figures {
        rate: lat.len() as f64 / elapsed.as_secs_f64(),
        p50: percentile(&lat, 0.5),
        p99: percentile(&lat, 0.99),
        server_us: total.saturating_sub(clients).as_secs_f64() * 1e6 / n,
        client_us: clients.as_secs_f64() * 1e6 / n,
        machine_busy: busy.unwrap_or(f64::NAN),
        loadavg: std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    })
}

/// This thread's CPU time in nanoseconds (the scheduler's own count).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// The machine's (busy, total) CPU ticks, all cores, from `/proc/stat`.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let v: Vec<u64> = line
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3)? + v.get(4)?;
    Some((total - idle, total))
}

/// One kept-alive HTTP/1.1 connection.
struct Conn {
    reader: BufReader<TcpStream>,
    host: String,
    line: String,
    sink: Vec<u8>,
}

impl Conn {
    fn open(addr: &str) -> Result<Conn> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, stream),
            host: addr.to_owned(),
            line: String::new(),
            sink: vec![0; 64 * 1024],
        })
    }

    /// GETs `path` (conditionally on `etag`) as a browser wanting HTML would, accepting gzip or
    /// not; returns the status and the ETag, the body read and dropped.
    fn get(&mut self, path: &str, etag: Option<&str>, gzip: bool) -> Result<(u16, Option<String>)> {
        let cond = etag.map_or(String::new(), |e| format!("If-None-Match: {e}\r\n"));
        let coding = if gzip {
            "Accept-Encoding: gzip\r\n"
        } else {
            ""
        };
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nAccept: text/html\r\n{coding}{cond}\r\n",
            self.host
        );
        self.reader.get_mut().write_all(req.as_bytes())?;
        self.line.clear();
        self.reader.read_line(&mut self.line)?;
        let status: u16 = self
            .line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .with_context(|| format!("not an HTTP answer: {:?}", self.line))?;
        let (mut length, mut etag, mut chunked) = (0usize, None, false);
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line)? == 0 {
                bail!("the server closed the connection");
            }
            let l = self.line.trim_end();
            if l.is_empty() {
                break;
            }
            let Some((name, value)) = l.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse()?;
            } else if name.eq_ignore_ascii_case("etag") {
                etag = Some(value.trim().to_owned());
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                // What a middleware compressing on the fly sends.
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        if chunked {
            loop {
                self.line.clear();
                self.reader.read_line(&mut self.line)?;
                let size = self.line.trim_end().split(';').next().unwrap_or("");
                let mut size = usize::from_str_radix(size, 16)
                    .with_context(|| format!("{path}: chunk size {:?}", self.line))?;
                if size == 0 {
                    // No trailers are sent: the empty line ends the answer.
                    self.line.clear();
                    self.reader.read_line(&mut self.line)?;
                    return Ok((status, etag));
                }
                size += 2; // the chunk's CRLF
                while size > 0 {
                    let n = self.sink.len().min(size);
                    self.reader.read_exact(&mut self.sink[..n])?;
                    size -= n;
                }
            }
        }
        while length > 0 {
            let n = self.sink.len().min(length);
            self.reader.read_exact(&mut self.sink[..n])?;
            length -= n;
        }
        Ok((status, etag))
    }
}
