//! `lotline import`: a mill's spreadsheet (CSV, or a workbook: .xlsx, .xls, .ods) turned into
//! signed profile events through a column mapping (docs/import.md), and captured.
//!
//! Every row is checked before anything is sent: if any row is bad, the command prints one
//! line per problem (`row N, column "X": reason`) and submits nothing. When every row is good,
//! each row's event (its eventID the CBV 2.0 event hash ID of its content, so a rerun resends
//! the same IDs and changes nothing) is signed here and the events go to the server's EPCIS
//! capture interface as documents of at most the server's capture limit, each all or nothing
//! (GS1-Capture-Error-Behaviour `rollback`).

mod sheet;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};

use super::capture::{self, Captured, ErrorBehaviour};
use super::{Client, load_key, now_rfc3339, progress};
pub use lotline_import_mapping::{Kind, Mapping, RowError, RowEvent};
use lotline_scenario as scenario;

#[derive(clap::Args)]
pub struct Args {
    /// The importing actor's key file (the mill's): every event is signed with it.
    #[arg(long, required_unless_present = "dry_run")]
    key: Option<PathBuf>,
    /// The column mapping (TOML; see docs/import.md).
    #[arg(long)]
    map: PathBuf,
    /// Base URL of the server, e.g. http://127.0.0.1:8080
    #[arg(long, env = "LOTLINE_SERVER", required_unless_present = "dry_run")]
    server: Option<String>,
    /// Check the rows and print the unsigned EPCISDocument they make; submit nothing.
    #[arg(long)]
    dry_run: bool,
    /// Also write the problems found to this file: CSV (`row,column,reason`), or JSON when
    /// the name ends in `.json`. Written (empty when there are none) on every run.
    #[arg(long)]
    report: Option<PathBuf>,
    /// The worksheet of a workbook to read; default the first.
    #[arg(long)]
    sheet: Option<String>,
    /// The field delimiter of a CSV file.
    #[arg(long, default_value_t = ',')]
    delimiter: char,
    /// Events per capture document; default the server's capture limit. Each document is
    /// written all or nothing.
    #[arg(long)]
    chunk_size: Option<usize>,
    /// Seconds to wait for each capture job to finish.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Retries after network errors or 503 answers (safe: the eventIDs do not change).
    #[arg(long, default_value_t = 6)]
    retries: u32,
    /// The spreadsheet: .csv, or .xlsx / .xlsm / .xls / .ods.
    file: PathBuf,
}

/// Rows checked: the events of the good ones and every problem found.
pub struct Checked {
    pub events: Vec<RowEvent>,
    pub errors: Vec<RowError>,
    /// Data rows read (empty rows included).
    pub rows: usize,
}

/// Checks a sheet (its header and data rows, each with its row number) against `mapping`.
pub fn check(
    mapping: &Mapping,
    header: &[String],
    rows: &[(usize, Vec<String>)],
    bar: &indicatif::ProgressBar,
) -> Checked {
    let cols = match mapping.header(header) {
        Ok(c) => c,
        Err(errors) => {
            return Checked {
                events: Vec::new(),
                errors,
                rows: rows.len(),
            };
        }
    };
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (n, cells) in rows {
        match cols.event(*n, cells) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => {}
            Err(mut e) => errors.append(&mut e),
        }
        bar.inc(1);
    }
    let (type_col, epc_col) = mapping.cross_columns();
    errors.extend(lotline_import_mapping::cross_check(
        &events, &type_col, &epc_col,
    ));
    errors.sort_by_key(|e| e.row);
    Checked {
        events,
        errors,
        rows: rows.len(),
    }
}

/// Runs `lotline import`. Exit 0: every row was good and every event is in the log; 1: bad
/// rows (nothing submitted) or events the server refused; 2: usage, input, network or server
/// errors.
pub fn run(args: Args) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.map)
        .with_context(|| format!("cannot read the mapping {}", args.map.display()))?;
    let mapping = Mapping::parse(&text)
        .map_err(|e| anyhow::anyhow!("the mapping {} is not usable: {e}", args.map.display()))?;
    let delimiter = u8::try_from(args.delimiter)
        .ok()
        .filter(u8::is_ascii)
        .context("--delimiter must be one ASCII character")?;
    let sheet = sheet::read(&args.file, args.sheet.as_deref(), delimiter)?;

    let bar = progress::bar(sheet.rows.len() as u64, "checking");
    let checked = check(&mapping, &sheet.header, &sheet.rows, &bar);
    bar.finish_and_clear();
    if let Some(path) = &args.report {
        write_report(path, &checked.errors)?;
    }
    let file = args.file.display();
    if !checked.errors.is_empty() {
        let mut out = std::io::stdout().lock();
        for e in &checked.errors {
            writeln!(out, "{e}")?;
        }
        out.flush()?;
        let bad: std::collections::BTreeSet<usize> = checked.errors.iter().map(|e| e.row).collect();
        eprintln!(
            "import: {} problems in {} of the {} rows of {file}; nothing was submitted",
            checked.errors.len(),
            bad.len(),
            checked.rows
        );
        return Ok(ExitCode::from(1));
    }
    if checked.events.is_empty() {
        bail!("{file} has no records");
    }
    let counts = counts(&checked.events);
    if args.dry_run {
        let events: Vec<Value> = checked.events.iter().map(|e| e.event.clone()).collect();
        let doc = document(events, &now_rfc3339());
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        out.flush()?;
        eprintln!(
            "import: {} rows of {file} are good: {counts}; nothing was submitted (--dry-run)",
            checked.events.len()
        );
        return Ok(ExitCode::SUCCESS);
    }

    // Both are required without --dry-run (clap).
    let (Some(key), Some(server)) = (&args.key, &args.server) else {
        bail!("--key and --server are required to submit");
    };
    let key = load_key(key)?;
    let client = Client::new(server, args.retries)?;
    let (max_events, max_bytes) = capture::capture_limits(&client);
    let per_doc = match args.chunk_size {
        Some(0) => bail!("--chunk-size must be at least 1"),
        Some(n) => max_events.map_or(n, |m| n.min(m)),
        None => max_events.unwrap_or(1000),
    };
    let created = now_rfc3339();
    let total = checked.events.len();
    let bar = progress::bar(total as u64, "importing");
    let mut out = std::io::stdout().lock();
    let (mut accepted, mut written_docs) = (0usize, 0usize);
    for chunk in chunks(&checked.events, per_doc, max_bytes) {
        let labels: Vec<String> = chunk.iter().map(|e| format!("row {}", e.row)).collect();
        let events: Vec<Value> = chunk.iter().map(|e| e.event.clone()).collect();
        let prepared = capture::prepare(document(events, &created), &key, &created)?;
        let sent = prepared["epcisBody"]["eventList"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let captured = capture::capture_document(
            &client,
            &prepared,
            ErrorBehaviour::Rollback,
            Duration::from_secs(args.timeout),
        )?;
        let job = match captured {
            Captured::Finished(job) => job,
            Captured::Refused { status, body } => {
                bar.finish_and_clear();
                eprintln!(
                    "import: the server refused the capture of rows {}–{} ({status}): {}",
                    chunk[0].row,
                    chunk[chunk.len() - 1].row,
                    capture::describe_answer(&body)
                );
                summary_after_failure(accepted, total);
                return Ok(ExitCode::from(if (400..500).contains(&status) {
                    1
                } else {
                    2
                }));
            }
            Captured::Unfinished(why) => {
                bar.finish_and_clear();
                eprintln!("import: {why}");
                summary_after_failure(accepted, total);
                return Ok(ExitCode::from(2));
            }
        };
        let outcome = capture::report_labelled(&job, &sent, &labels);
        bar.suspend(|| -> Result<()> {
            for line in &outcome.lines {
                writeln!(out, "{line}")?;
            }
            out.flush()?;
            for note in &outcome.notes {
                eprintln!("{note}");
            }
            Ok(())
        })?;
        bar.inc(chunk.len() as u64);
        if !outcome.success {
            bar.finish_and_clear();
            eprintln!("{}", outcome.summary);
            summary_after_failure(accepted, total);
            return Ok(ExitCode::from(1));
        }
        accepted += chunk.len();
        written_docs += 1;
    }
    bar.finish_and_clear();
    eprintln!(
        "import: {accepted} rows of {file} in the log ({counts}), in {written_docs} capture document{}",
        if written_docs == 1 { "" } else { "s" }
    );
    Ok(ExitCode::SUCCESS)
}

fn summary_after_failure(accepted: usize, total: usize) {
    eprintln!(
        "import: {accepted} of {total} rows are in the log (earlier capture documents); the rest were not written. Fix the cause and run the same import again: rows already in the log are recognised."
    );
}

/// `receipt 12, milling 3, …` in a fixed order.
fn counts(events: &[RowEvent]) -> String {
    let mut by: BTreeMap<u8, (&str, usize)> = BTreeMap::new();
    for e in events {
        let (order, name) = match e.kind {
            Kind::Receipt => (0, "receipt"),
            Kind::Moisture => (1, "moisture"),
            Kind::Milling => (2, "milling"),
            Kind::Bagging => (3, "bagging"),
        };
        by.entry(order).or_insert((name, 0)).1 += 1;
    }
    by.values()
        .map(|(n, c)| format!("{n} {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An EPCISDocument of `events` (each carries its own `@context`).
fn document(events: Vec<Value>, created: &str) -> Value {
    json!({
        "@context": [scenario::EPCIS_CONTEXT, {"lotline": scenario::LOTLINE_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {"eventList": events},
    })
}

/// Room left in a capture document for everything but the events (envelope, proofs).
const BYTES_MARGIN: usize = 64 * 1024;
/// What a signature adds to an event, at most (the proof member).
const PROOF_BYTES: usize = 512;

/// Splits `events` into documents of at most `per_doc` events and, when the server names a
/// size limit, at most about `max_bytes` bytes once signed.
fn chunks(events: &[RowEvent], per_doc: usize, max_bytes: Option<usize>) -> Vec<&[RowEvent]> {
    let budget = max_bytes.map(|b| b.saturating_sub(BYTES_MARGIN).max(PROOF_BYTES * 4));
    let mut out = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, e) in events.iter().enumerate() {
        let size = serde_json::to_vec(&e.event).map_or(0, |v| v.len()) + PROOF_BYTES;
        let full = i - start >= per_doc || budget.is_some_and(|b| i > start && bytes + size > b);
        if full {
            out.push(&events[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += size;
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    out
}

/// Writes the problems to `path`: JSON when it ends in `.json`, CSV otherwise.
fn write_report(path: &Path, errors: &[RowError]) -> Result<()> {
    let json = path
        .extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| x.eq_ignore_ascii_case("json"));
    let bytes = if json {
        let mut b = serde_json::to_vec_pretty(errors)?;
        b.push(b'\n');
        b
    } else {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["row", "column", "reason"])?;
        for e in errors {
            w.write_record([e.row.to_string().as_str(), &e.column, &e.reason])?;
        }
        w.into_inner().context("writing the report")?
    };
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(row: usize, note: &str) -> RowEvent {
        RowEvent {
            row,
            kind: Kind::Receipt,
            event: json!({"note": note}),
            bags: Vec::new(),
        }
    }

    #[test]
    fn documents_hold_at_most_the_limit() {
        let events: Vec<RowEvent> = (0..7).map(|i| ev(i + 2, "x")).collect();
        let sizes = |c: Vec<&[RowEvent]>| -> Vec<usize> { c.iter().map(|c| c.len()).collect() };
        assert_eq!(sizes(chunks(&events, 3, None)), [3, 3, 1]);
        assert_eq!(sizes(chunks(&events, 10, None)), [7]);
        // A byte limit: each event counts its JSON and a proof.
        let big = "y".repeat(1000);
        let events: Vec<RowEvent> = (0..5).map(|i| ev(i + 2, &big)).collect();
        let sizes2 = sizes(chunks(&events, 100, Some(BYTES_MARGIN + 3200)));
        assert_eq!(sizes2, [2, 2, 1]);
    }

    #[test]
    fn reports_are_csv_or_json() {
        let dir = tempfile::tempdir().unwrap();
        let errors = vec![RowError {
            row: 4,
            column: "Qty".into(),
            reason: "\"1,2\" is not a number".into(),
        }];
        let csv_path = dir.path().join("r.csv");
        write_report(&csv_path, &errors).unwrap();
        assert_eq!(
            std::fs::read_to_string(&csv_path).unwrap(),
            "row,column,reason\n4,Qty,\"\"\"1,2\"\" is not a number\"\n"
        );
        let json_path = dir.path().join("r.json");
        write_report(&json_path, &errors).unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
        assert_eq!(
            v,
            json!([{"row": 4, "column": "Qty", "reason": "\"1,2\" is not a number"}])
        );
    }
}
