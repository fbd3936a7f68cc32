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
    parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?).map(|(_, cpu)| cpu)
}

/// CPU time of each live thread of this process (user and system), by thread id, with the
/// thread's name: what [`ThreadCpu::since`] splits a run's CPU by. Linux only; elsewhere empty.
pub struct ThreadCpu(std::collections::HashMap<u32, (String, Duration)>);

impl ThreadCpu {
    pub fn now() -> ThreadCpu {
        let mut threads = std::collections::HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for task in dir.flatten() {
                let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
                    continue;
                };
                if let Some(t) = std::fs::read_to_string(task.path().join("stat"))
                    .ok()
                    .and_then(|s| parse_stat(&s))
                {
                    threads.insert(tid, t);
                }
            }
        }
        ThreadCpu(threads)
    }

    /// The CPU each part of the server used since `before`, in the order of [`PARTS`]:
    /// threads grouped by what their names say they do ([`part_of`]). Threads that ended
    /// meanwhile are not here; their time is in the process's total only.
    pub fn since(&self, before: &ThreadCpu) -> Vec<(&'static str, Duration)> {
        let mut parts: Vec<(&'static str, Duration)> =
            PARTS.iter().map(|&p| (p, Duration::ZERO)).collect();
        for (tid, (name, cpu)) in &self.0 {
            let earlier = before.0.get(tid).map_or(Duration::ZERO, |b| b.1);
            parts[part_of(name)].1 += cpu.saturating_sub(earlier);
        }
        parts
    }
}

/// The parts [`ThreadCpu::since`] reports, in pipeline order; the last takes every thread the
/// others do not name.
pub const PARTS: [&str; 6] = [
    "HTTP",
    "admission",
    "sequencer",
    "writer",
    "RocksDB flush and compaction",
    "clients and other",
];

/// A thread's part of the work (its place in [`PARTS`]), from its name, of which Linux keeps the
/// first 15 bytes. The server's sequencer and writer name their threads, RocksDB and actix name
/// theirs, and `lotline-bench` names rayon's, which run admission (signature, profile, schema,
/// hashes) in the server.
fn part_of(name: &str) -> usize {
    let part = if name.starts_with("actix-") || name.starts_with("tokio-") {
        "HTTP"
    } else if name.starts_with("rayon-") {
        "admission"
    } else if name.starts_with("lotline-sequenc") {
        "sequencer"
    } else if name.starts_with("lotline-writer") {
        "writer"
    } else if name.starts_with("rocksdb:") {
        "RocksDB flush and compaction"
    } else {
        "clients and other"
    };
    PARTS
        .iter()
        .position(|p| *p == part)
        .unwrap_or(PARTS.len() - 1)
}

/// The name and CPU time of a process or thread from its `/proc/.../stat` line.
fn parse_stat(stat: &str) -> Option<(String, Duration)> {
    // The name (field 2) is in parentheses and may hold spaces and parentheses itself; the
    // fields after it start past the last `)`.
    let name = stat.get(stat.find('(')? + 1..stat.rfind(')')?)?.to_owned();
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((name, Duration::from_millis((utime + stime) * 10)))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_name_and_cpu_even_with_odd_names() {
        // Fields after the name: state, then 10 more, then utime and stime in ticks.
        let line = "42 (a (b) c) S 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 1 0";
        assert_eq!(
            parse_stat(line),
            Some(("a (b) c".to_owned(), Duration::from_millis(1750)))
        );
        assert_eq!(parse_stat("42 no parentheses"), None);
        assert_eq!(parse_stat("42 (x) S 1 2"), None);
    }

    #[test]
    fn threads_go_to_the_part_their_name_says() {
        for (name, part) in [
            ("actix-rt|system", "HTTP"),
            ("tokio-rt-worker", "HTTP"),
            ("rayon-1", "admission"),
            ("lotline-sequenc", "sequencer"),
            ("lotline-writer", "writer"),
            ("rocksdb:high", "RocksDB flush and compaction"),
            ("lotline-bench", "clients and other"),
        ] {
            assert_eq!(PARTS[part_of(name)], part, "{name}");
        }
    }

    #[test]
    fn this_process_has_threads_and_cpu() {
        let now = ThreadCpu::now();
        assert!(!now.0.is_empty());
        assert_eq!(now.since(&now).len(), PARTS.len());
        assert!(now.since(&now).iter().all(|p| p.1 == Duration::ZERO));
    }
}
