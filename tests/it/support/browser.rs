//! Headless Chromium for tests of pages people see: the DOM a real browser builds from a page,
//! and screenshots of it at a given window size.
//!
//! `scripts/test` installs Debian's `chromium`; `LOTLINE_CHROMIUM` names another binary. Tests
//! only ever load loopback (`http://127.0.0.1:…`) and `file://` URLs: the machine has no other
//! network, so every Chromium feature that phones home is switched off.

use std::ffi::OsString;
use std::fs;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// Generous: a cold start of Chromium on a loaded two-core machine takes seconds, not a minute.
const DEADLINE: Duration = Duration::from_secs(60);

/// Flags for every run. Without the background-networking ones Chromium tries to reach Google
/// (component updates, sync, variations) and fails on this closed network; the fresh profile
/// keeps runs independent of each other and of any user profile.
const FLAGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    // A proxy from the environment must never see loopback test traffic.
    "--no-proxy-server",
];

/// The Chromium binary: `LOTLINE_CHROMIUM` if set, else `chromium` on `PATH`.
pub fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("LOTLINE_CHROMIUM") {
        let p = PathBuf::from(p);
        assert!(
            p.is_file(),
            "LOTLINE_CHROMIUM={} is not a file; unset it to use `chromium` from PATH",
            p.display()
        );
        return p;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromium"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium not found on PATH: the browser tests need it. Run scripts/test, which \
                 installs it, or `apt-get install chromium` (or set LOTLINE_CHROMIUM to a binary)"
            )
        })
}

/// The DOM Chromium built from `url`, serialised as HTML.
pub fn dump_dom(url: &str) -> String {
    let run = run(&["--dump-dom".into(), url.into()]);
    let dom = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(
        !dom.trim().is_empty(),
        "chromium --dump-dom {url} printed nothing\n{}",
        run.stderr
    );
    dom
}

/// A PNG screenshot of `url` in a `width`×`height` window, written to `out`.
pub fn screenshot(url: &str, out: &Path, width: u32, height: u32) {
    let _ = fs::remove_file(out);
    let mut arg = OsString::from("--screenshot=");
    arg.push(out);
    let run = run(&[
        arg,
        format!("--window-size={width},{height}").into(),
        url.into(),
    ]);
    let len = fs::metadata(out).map(|m| m.len()).unwrap_or(0);
    assert!(
        len > 0,
        "chromium --screenshot of {url} wrote no image to {}\n{}",
        out.display(),
        run.stderr
    );
}

struct Run {
    stdout: Vec<u8>,
    /// Chromium's own log, for failure messages.
    stderr: String,
}

/// Runs Chromium with [`FLAGS`], a fresh profile and `args`; panics with its log unless it exits
/// successfully within [`DEADLINE`].
fn run(args: &[OsString]) -> Run {
    let bin = chromium();
    let dir = tempfile::tempdir().expect("temp dir for chromium");
    let profile = dir.path().join("profile");
    // Files, not pipes: Chromium's helper processes inherit its stdout and stderr and may hold a
    // pipe open after the browser exits, so reading a pipe to its end could wait on them.
    let stdout_path = dir.path().join("stdout");
    let stderr_path = dir.path().join("stderr");
    let mut user_data = OsString::from("--user-data-dir=");
    user_data.push(&profile);
    let mut child = Command::new(&bin)
        .args(FLAGS)
        .arg(user_data)
        .args(args)
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).expect("create stdout file"))
        .stderr(fs::File::create(&stderr_path).expect("create stderr file"))
        // Its own process group, so a hung run can be killed together with its helpers.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
    let started = Instant::now();
    let status: Option<ExitStatus> = loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => break Some(status),
            None if started.elapsed() > DEADLINE => {
                // The browser is not reaped yet, so its pid is still its group's id.
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.wait();
                break None;
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    let stdout = fs::read(&stdout_path).unwrap_or_default();
    let stderr = log_excerpt(&fs::read(&stderr_path).unwrap_or_default());
    let what = format!("{} {}", bin.display(), show_args(args));
    match status {
        None => panic!(
            "{what} did not finish within {}s and was killed\n{stderr}",
            DEADLINE.as_secs()
        ),
        Some(s) if !s.success() => panic!("{what} failed ({s})\n{stderr}"),
        Some(_) => Run { stdout, stderr },
    }
}

/// The end of Chromium's log, without the D-Bus complaints every run makes in a container with
/// no session bus: they would bury the line that says what went wrong.
fn log_excerpt(bytes: &[u8]) -> String {
    let log = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| !l.contains("dbus/") && !l.trim().is_empty())
        .collect();
    let tail = &lines[lines.len().saturating_sub(40)..];
    format!("--- chromium stderr (last lines) ---\n{}", tail.join("\n"))
}

fn show_args(args: &[OsString]) -> String {
    args.iter()
        .map(|a| a.to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}
