//! What the benchmarks measure with: percentiles of latencies, the process's CPU time, and the
//! machine's own ceiling — strict Ed25519 verifications per second on every core — that their
//! `ratio=` lines divide by, so a figure means the same on any machine.

use std::time::{Duration, Instant};

use anyhow::Result;
use ed25519_dalek::Signer as _;
use rayon::prelude::*;

/// The cores this process may use.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The `p` percentile (0 to 1) of `sorted` latencies; zero for none.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The `p` percentile of the `large` latencies over that of the `small` ones (both sorted): near
/// 1 when cost does not follow what tells them apart.
pub fn ratio(small: &[Duration], large: &[Duration], p: f64) -> f64 {
    percentile(large, p).as_secs_f64() / percentile(small, p).as_secs_f64().max(1e-9)
}

/// Milliseconds, for printing.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time this process has used so far (all threads, user and system), where the platform
/// tells it cheaply. Linux reports it in `/proc/self/stat` in USER_HZ ticks, which the kernel
/// fixes at 100 per second for user space.
pub fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may hold spaces; the fields after it start past its `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Strict Ed25519 verifications per second using every core, on 64-byte messages — the size of
/// what eddsa-jcs-2022 signs (two SHA-256 digests) — by ed25519-dalek's `verify_strict`: the
/// reference every benchmark's ratio is taken against.
pub fn ed25519_ceiling(run_for: Duration) -> Result<f64> {
    ceiling_of(run_for, |vk, msg, sig| vk.verify_strict(msg, sig).is_ok())
}

/// [`ed25519_ceiling`] by the check the server itself uses (`data_integrity::ed25519`), which
/// accepts the same signatures for less: how close ingest is to what its own verification
/// allows.
pub fn own_check_ceiling(run_for: Duration) -> Result<f64> {
    ceiling_of(run_for, data_integrity::ed25519::verify_strict)
}

fn ceiling_of(
    run_for: Duration,
    check: impl Fn(&ed25519_dalek::VerifyingKey, &[u8], &ed25519_dalek::Signature) -> bool + Sync,
) -> Result<f64> {
    let key = data_integrity::didkey::generate()?;
    let vk = key.verifying_key();
    let samples: Vec<([u8; 64], ed25519_dalek::Signature)> = (0..1024u32)
        .map(|i| {
            let mut msg = [0u8; 64];
            msg[..4].copy_from_slice(&i.to_be_bytes());
            (msg, key.sign(&msg))
        })
        .collect();
    let cores = rayon::current_num_threads();
    let started = Instant::now();
    let total: usize = (0..cores)
        .into_par_iter()
        .map(|_| {
            let mut n = 0usize;
            while started.elapsed() < run_for {
                for (msg, sig) in &samples {
                    if check(&vk, msg, sig) {
                        n += 1;
                    }
                }
            }
            n
        })
        .sum();
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
