//! `lotline capture`: the signing gateway to the EPCIS 2.0 capture interface.
//!
//! It takes an unsigned `EPCISDocument` (JSON-LD, or XML through `lotline_epcis_xml`), signs
//! every event here with the actor's key (the key never leaves this machine; only signed events
//! are sent), POSTs the document to `{server}/capture` and follows the capture job
//! (`GET /capture/{id}`) until it finishes. Events without an `eventID` get their CBV 2.0 event
//! hash ID, which depends on the event alone, so running the command again sends the same IDs
//! and the ledger answers idempotently.
//!
//! The preparation ([`parse_document`], [`prepare`]) and the reading of the job ([`report`])
//! are pure functions; only [`run`] talks HTTP.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, anyhow, bail};
use ed25519_dalek::SigningKey;
use serde_json::Value;

use data_integrity::di;
use data_integrity::json::{self, Limits};

use super::{Client, describe_problem, load_key, now_rfc3339, progress};

#[derive(clap::Args)]
pub struct Args {
    /// The actor's key file: every event is signed with it before it is sent.
    #[arg(long)]
    key: PathBuf,
    /// Base URL of the server, e.g. http://127.0.0.1:8080
    #[arg(long, env = "LOTLINE_SERVER")]
    server: String,
    /// What the server does when an event is refused: `rollback` writes none of the document's
    /// events, `proceed` writes the others (GS1-Capture-Error-Behaviour).
    #[arg(long, value_enum, default_value_t = ErrorBehaviour::Rollback)]
    error_behaviour: ErrorBehaviour,
    /// Seconds to wait for the capture job to finish.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Retries after network errors or 503 answers, with back-off (or the server's
    /// Retry-After). Safe: the eventIDs do not change, so a resent event is recognised.
    #[arg(long, default_value_t = 6)]
    retries: u32,
    /// The EPCISDocument: JSON/JSON-LD (.json, .jsonld) or XML (.xml, or text starting with
    /// `<`); - for standard input.
    doc: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ErrorBehaviour {
    Rollback,
    Proceed,
}

impl ErrorBehaviour {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorBehaviour::Rollback => "rollback",
            ErrorBehaviour::Proceed => "proceed",
        }
    }
}

/// How often the capture job is polled.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// Runs `lotline capture`. Exit 0: the job succeeded; 1: it did not, or the server refused the
/// document (4xx); 2: usage, input, network or server (5xx) errors, or the job did not finish
/// within `--timeout`.
pub fn run(args: Args) -> Result<ExitCode> {
    let key = load_key(&args.key)?;
    let doc = read_document(&args.doc)?;
    let created = now_rfc3339();
    let prepared = prepare(doc, &key, &created).with_context(|| args.doc.display().to_string())?;
    let sent = prepared["epcisBody"]["eventList"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let client = Client::new(&args.server, args.retries)?;
    let waiting = progress::spinner("capturing");
    let captured = capture_document(
        &client,
        &prepared,
        args.error_behaviour,
        Duration::from_secs(args.timeout),
    );
    waiting.finish_and_clear();
    let job = match captured? {
        Captured::Finished(job) => job,
        Captured::Refused { status, body } => {
            eprintln!(
                "lotline: the server refused the capture ({status}): {}",
                describe_answer(&body)
            );
            return Ok(ExitCode::from(if (400..500).contains(&status) {
                1
            } else {
                2
            }));
        }
        Captured::Unfinished(why) => {
            eprintln!("lotline: {why}");
            return Ok(ExitCode::from(2));
        }
    };

    let outcome = report(&job, &sent);
    let mut out = std::io::stdout().lock();
    for line in &outcome.lines {
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    for note in &outcome.notes {
        eprintln!("{note}");
    }
    eprintln!("{}", outcome.summary);
    Ok(if outcome.success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// How a capture request ended.
pub(super) enum Captured {
    /// The server refused the document without starting a job: its status and answer.
    Refused { status: u16, body: String },
    /// The job finished: its state (`GET /capture/{id}`).
    Finished(Value),
    /// The job could not be followed to its end (still running at the deadline, or its state
    /// could not be read): what to tell the user.
    Unfinished(String),
}

/// POSTs a signed EPCISDocument to `/capture` with `behaviour` and follows the job until it
/// finishes or `timeout` passes.
pub(super) fn capture_document(
    client: &Client,
    doc: &Value,
    behaviour: ErrorBehaviour,
    timeout: Duration,
) -> Result<Captured> {
    let request = client
        .agent
        .post(&format!("{}/capture", client.base))
        .set("Content-Type", "application/ld+json")
        .set("GS1-EPCIS-Version", "2.0")
        .set("GS1-CBV-Version", "2.0")
        .set("GS1-Capture-Error-Behaviour", behaviour.as_str());
    let reply = client.send_reply(request, Some(&serde_json::to_vec(doc)?))?;
    if reply.status != 202 {
        return Ok(Captured::Refused {
            status: reply.status,
            body: reply.body,
        });
    }
    let path = job_path(reply.location.as_deref(), &reply.body, &client.base)?;

    let deadline = Instant::now() + timeout;
    loop {
        let (status, text) = client.get_text(&path)?;
        if status != 200 {
            return Ok(Captured::Unfinished(format!(
                "GET {}{path} answered {status}: {}",
                client.base,
                describe_answer(&text)
            )));
        }
        let job: Value = serde_json::from_str(&text)
            .with_context(|| format!("{}{path} did not answer JSON", client.base))?;
        match job["running"].as_bool() {
            Some(false) => return Ok(Captured::Finished(job)),
            Some(true) => {}
            None => bail!("{}{path} answered a job without \"running\"", client.base),
        }
        if Instant::now() >= deadline {
            return Ok(Captured::Unfinished(format!(
                "the capture is still running after {} s; its state: {}{path}",
                timeout.as_secs(),
                client.base
            )));
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// The server's capture limits (`OPTIONS /capture`): events and bytes per document, when it
/// names them.
pub(super) fn capture_limits(client: &Client) -> (Option<usize>, Option<usize>) {
    let url = format!("{}/capture", client.base);
    let Ok(resp) = client.agent.request("OPTIONS", &url).call() else {
        return (None, None);
    };
    let num = |h: &str| resp.header(h).and_then(|v| v.trim().parse().ok());
    (
        num("GS1-EPCIS-Capture-Limit"),
        num("GS1-EPCIS-Capture-File-Size-Limit"),
    )
}

/// Reads `path` (`-` is standard input) as an EPCISDocument.
fn read_document(path: &Path) -> Result<Value> {
    let bytes = if path == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin()
            .read_to_end(&mut b)
            .context("reading standard input")?;
        b
    } else {
        std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
    };
    let xml = path
        .extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| x.eq_ignore_ascii_case("xml"));
    parse_document(&bytes, xml).with_context(|| path.display().to_string())
}

/// Parses a document: XML when `xml` is set or the text starts with `<` (converted to the
/// EPCIS 2.0 JSON-LD form), JSON otherwise, parsed strictly as the server parses bodies.
pub fn parse_document(bytes: &[u8], xml: bool) -> Result<Value> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_none() {
        bail!("the document is empty");
    }
    if xml || first == Some(&b'<') {
        let text = std::str::from_utf8(bytes).context("the XML document is not UTF-8")?;
        return lotline_epcis_xml::document_to_json(text)
            .map_err(|e| anyhow!(e))
            .context("converting the XML document");
    }
    Ok(json::parse(bytes, &Limits::default())?)
}

/// Signs the events of `doc` with `key` (proof `created` as given) and returns the document to
/// POST. Each event gets the document's `@context` if it has none, its CBV 2.0 event hash ID if
/// it has no `eventID`, and a new proof in place of any it had.
pub fn prepare(mut doc: Value, key: &SigningKey, created: &str) -> Result<Value> {
    let Some(obj) = doc.as_object_mut() else {
        bail!(
            "the document is not a JSON object; `capture` takes an EPCISDocument (for bare events use `sign` and `submit`)"
        );
    };
    match obj.get("type") {
        Some(Value::String(t)) if t == "EPCISDocument" => {}
        other => bail!(
            "the document is not an EPCISDocument (its type is {}); for bare events use `sign` and `submit`",
            other.map_or_else(|| "missing".to_owned(), Value::to_string)
        ),
    }
    let context = obj.get("@context").cloned();
    let events = obj
        .get_mut("epcisBody")
        .and_then(|b| b.get_mut("eventList"))
        .context("the document has no epcisBody.eventList")?;
    let Some(events) = events.as_array_mut() else {
        bail!("epcisBody.eventList is not an array");
    };
    if events.is_empty() {
        bail!("epcisBody.eventList holds no events");
    }
    for (n, event) in events.iter_mut().enumerate() {
        sign_event(
            event,
            context.as_ref(),
            key,
            created,
            &format!("event {}", n + 1),
        )?;
    }
    Ok(doc)
}

/// Signs one event in place, as [`prepare`] does each of a document's (`label` names it in
/// errors, e.g. `event 3`): the `context` if it has no `@context`, its CBV 2.0 event hash ID if
/// it has no `eventID`, and a new proof in place of any it had.
pub(crate) fn sign_event(
    event: &mut Value,
    context: Option<&Value>,
    key: &SigningKey,
    created: &str,
    label: &str,
) -> Result<()> {
    let Some(e) = event.as_object_mut() else {
        bail!("{label} is not a JSON object");
    };
    e.remove("proof");
    if !e.contains_key("@context")
        && let Some(c) = context
    {
        e.insert("@context".into(), c.clone());
    }
    if !e.contains_key("eventID") {
        let id = lotline_profile::event_hash::event_hash_id_with_context(event, context)
            .map_err(|err| {
                anyhow!(
                    "{label} has no eventID, and its CBV 2.0 event hash ID cannot be computed: {err}"
                )
            })?;
        event["eventID"] = Value::String(id);
    }
    *event = di::sign(event, key, created).with_context(|| label.to_owned())?;
    Ok(())
}

/// Where the capture job is: the `Location` of the 202 (a path, or a URL on `base`), else
/// `/capture/{captureID}` from the body.
pub(crate) fn job_path(location: Option<&str>, body: &str, base: &str) -> Result<String> {
    if let Some(loc) = location.map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(rest) = loc.strip_prefix(base)
            && rest.starts_with('/')
        {
            return Ok(rest.to_owned());
        }
        if loc.starts_with('/') {
            return Ok(loc.to_owned());
        }
        bail!("the server answered 202 with a Location on another server: {loc:?}");
    }
    let id = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["captureID"].as_str().map(str::to_owned))
        .context("the server answered 202 without a Location header or a captureID")?;
    Ok(format!("/capture/{id}"))
}

/// An error answer for a person: the RFC 9457 problem's code and detail, or the text itself.
pub(super) fn describe_answer(body: &str) -> String {
    match serde_json::from_str::<Value>(body) {
        Ok(p @ Value::Object(_)) => describe_problem(&p),
        _ => {
            let t = body.trim();
            let cut: String = t.chars().take(300).collect();
            if cut.is_empty() {
                "(empty answer)".to_owned()
            } else {
                cut
            }
        }
    }
}

/// What a finished capture job says, for the terminal.
#[derive(Debug, PartialEq, Eq)]
pub struct Outcome {
    /// One per sent event: `<n>\t<eventID>\t<accepted|refused>\t<detail>`, `n` counting from 1.
    pub lines: Vec<String>,
    /// Errors the job names for no event of the document.
    pub notes: Vec<String>,
    /// One line: the capture ID, the counts, success or failure.
    pub summary: String,
    pub success: bool,
}

/// Reads a finished capture job (`GET /capture/{id}`) against the events sent.
///
/// An accepted event's detail is its receipt (compact JSON); a refused one's the problems the
/// job names for it (`code: detail`); an event the job did not write because another was
/// refused (`not_written`, under rollback) is reported refused, with that reason.
pub fn report(job: &Value, sent: &[Value]) -> Outcome {
    let labels: Vec<String> = (1..=sent.len()).map(|n| n.to_string()).collect();
    report_labelled(job, sent, &labels)
}

/// [`report`], each line starting with the event's label (`labels[i]` for `sent[i]`) instead
/// of its number.
pub fn report_labelled(job: &Value, sent: &[Value], labels: &[String]) -> Outcome {
    let job_events = job["events"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let errors = job["errors"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let index_of = |v: &Value| {
        v["eventIndex"]
            .as_u64()
            .and_then(|i| usize::try_from(i).ok())
    };
    let mut lines = Vec::with_capacity(sent.len());
    let (mut accepted, mut refused) = (0, 0);
    for (i, event) in sent.iter().enumerate() {
        let reported = job_events.iter().find(|e| index_of(e) == Some(i));
        let id = reported
            .and_then(|e| e["eventID"].as_str())
            .or_else(|| event["eventID"].as_str())
            .unwrap_or("?");
        let problems: Vec<String> = errors
            .iter()
            .filter(|e| index_of(e) == Some(i))
            .map(describe_problem)
            .collect();
        let status = reported.and_then(|e| e["status"].as_str());
        let (word, detail) = match status {
            Some(s @ ("accepted" | "duplicate")) => {
                accepted += 1;
                let receipt = reported
                    .and_then(|e| e.get("receipt"))
                    .map(Value::to_string)
                    .unwrap_or_default();
                if s == "duplicate" {
                    ("accepted", format!("already in the log: {receipt}"))
                } else {
                    ("accepted", receipt)
                }
            }
            Some("not_written") => {
                refused += 1;
                // The job's own problem for it counts events from 0; name the refused ones as
                // this report does.
                let culprits: Vec<String> = job_events
                    .iter()
                    .filter(|e| e["status"] == "refused")
                    .filter_map(index_of)
                    .map(|j| match labels.get(j) {
                        Some(l) if !l.bytes().all(|b| b.is_ascii_digit()) => l.clone(),
                        _ => format!("event {}", j + 1),
                    })
                    .collect();
                let detail = if culprits.is_empty() {
                    "not written: another event of the document was refused and the capture rolled back".to_owned()
                } else {
                    format!(
                        "not written: {} of the document was refused and the capture rolled back",
                        culprits.join(", ")
                    )
                };
                ("refused", detail)
            }
            Some(_) | None => {
                refused += 1;
                let detail = if !problems.is_empty() {
                    problems.join("; ")
                } else if let Some(s) = status {
                    format!("the capture job reports it {s}")
                } else {
                    "the capture job does not report this event".to_owned()
                };
                ("refused", detail)
            }
        };
        let label = labels
            .get(i)
            .cloned()
            .unwrap_or_else(|| (i + 1).to_string());
        lines.push(format!("{label}\t{id}\t{word}\t{}", one_line(&detail)));
    }
    let notes = errors
        .iter()
        .filter(|e| index_of(e).is_none_or(|i| i >= sent.len()))
        .map(|e| format!("capture error: {}", describe_problem(e)))
        .collect();
    let success = job["success"].as_bool() == Some(true);
    let summary = format!(
        "capture {}: {accepted} of {} events accepted, {refused} refused ({}); {}",
        job["captureID"].as_str().unwrap_or("?"),
        sent.len(),
        job["captureErrorBehaviour"].as_str().unwrap_or("?"),
        if success { "succeeded" } else { "failed" }
    );
    Outcome {
        lines,
        notes,
        summary,
        success,
    }
}

/// `s` without tabs or line breaks, so each event stays one tab-separated line.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if matches!(c, '\t' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use data_integrity::didkey;
    use serde_json::json;

    const CREATED: &str = "2025-03-04T10:00:00Z";
    const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    /// One document, as XML and as the JSON-LD it stands for.
    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" xmlns:farm="https://ns.farm.example/epcis/"
    schemaVersion="2.0" creationDate="2025-03-04T09:00:00Z">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2025-03-04T08:15:00Z</eventTime>
      <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
      <epcList><epc>urn:epc:id:sgtin:8712345.012345.1001</epc></epcList>
      <action>OBSERVE</action>
      <bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>
      <disposition>urn:epcglobal:cbv:disp:in_transit</disposition>
      <readPoint><id>urn:epc:id:sgln:8712345.00001.0</id></readPoint>
      <farm:parcel>North-3</farm:parcel>
    </ObjectEvent>
    <TransformationEvent>
      <eventTime>2025-03-03T14:30:00Z</eventTime>
      <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
      <eventID>urn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b</eventID>
      <inputQuantityList><quantityElement>
        <epcClass>urn:epc:class:lgtin:8712345.011111.H12</epcClass><quantity>1200</quantity><uom>KGM</uom>
      </quantityElement></inputQuantityList>
      <outputQuantityList><quantityElement>
        <epcClass>urn:epc:class:lgtin:8712345.012345.L7</epcClass><quantity>1150.5</quantity><uom>KGM</uom>
      </quantityElement></outputQuantityList>
      <bizStep>urn:epcglobal:cbv:bizstep:commissioning</bizStep>
    </TransformationEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"#;

    fn json_doc() -> Value {
        json!({
            "@context": [CONTEXT, {"farm": "https://ns.farm.example/epcis/"}],
            "type": "EPCISDocument",
            "schemaVersion": "2.0",
            "creationDate": "2025-03-04T09:00:00Z",
            "epcisBody": {"eventList": [
                {
                    "type": "ObjectEvent",
                    "eventTime": "2025-03-04T08:15:00Z",
                    "eventTimeZoneOffset": "+01:00",
                    "epcList": ["urn:epc:id:sgtin:8712345.012345.1001"],
                    "action": "OBSERVE",
                    "bizStep": "shipping",
                    "disposition": "in_transit",
                    "readPoint": {"id": "urn:epc:id:sgln:8712345.00001.0"},
                    "farm:parcel": "North-3"
                },
                {
                    "type": "TransformationEvent",
                    "eventTime": "2025-03-03T14:30:00Z",
                    "eventTimeZoneOffset": "+01:00",
                    "eventID": "urn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
                    "inputQuantityList": [
                        {"epcClass": "urn:epc:class:lgtin:8712345.011111.H12", "quantity": 1200, "uom": "KGM"}
                    ],
                    "outputQuantityList": [
                        {"epcClass": "urn:epc:class:lgtin:8712345.012345.L7", "quantity": 1150.5, "uom": "KGM"}
                    ],
                    "bizStep": "commissioning"
                }
            ]}
        })
    }

    fn events(doc: &Value) -> Vec<Value> {
        doc["epcisBody"]["eventList"].as_array().unwrap().clone()
    }

    #[test]
    fn events_get_the_context_a_hash_id_and_a_proof_that_verifies() {
        let doc = json_doc();
        let prepared = prepare(doc.clone(), &key(), CREATED).unwrap();
        let signed = events(&prepared);
        assert_eq!(signed.len(), 2);
        for (n, event) in signed.iter().enumerate() {
            assert_eq!(event["@context"], doc["@context"], "event {n}");
            let verified = di::verify(event).unwrap_or_else(|e| panic!("event {n}: {e}"));
            assert_eq!(verified.did, didkey::did_key(&key().verifying_key()));
            assert_eq!(verified.created.as_deref(), Some(CREATED));
            // What was signed is the event as sent, eventID and context included.
            let (_, canonical) = di::verify_with_canonical(event).unwrap();
            let signed_text = String::from_utf8(canonical.unsecured).unwrap();
            assert!(signed_text.contains(event["eventID"].as_str().unwrap()));
            assert!(signed_text.contains("\"@context\""));
        }
        // The first had no eventID: it gets the CBV 2.0 hash ID of the event as written.
        let original = &doc["epcisBody"]["eventList"][0];
        let expected =
            lotline_profile::event_hash::event_hash_id_with_context(original, doc.get("@context"))
                .unwrap();
        assert!(expected.starts_with("ni:///sha-256;"), "{expected}");
        assert_eq!(signed[0]["eventID"], json!(expected));
        // The second keeps its own.
        assert_eq!(
            signed[1]["eventID"],
            json!("urn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b")
        );
        // The rest of the document is unchanged.
        let mut rest = prepared.clone();
        rest["epcisBody"]["eventList"] = json!(null);
        let mut was = doc.clone();
        was["epcisBody"]["eventList"] = json!(null);
        assert_eq!(rest, was);
    }

    #[test]
    fn hash_ids_are_the_same_on_every_run() {
        let a = prepare(json_doc(), &key(), CREATED).unwrap();
        let b = prepare(json_doc(), &key(), "2025-03-05T11:00:00Z").unwrap();
        let ids =
            |d: &Value| -> Vec<Value> { events(d).iter().map(|e| e["eventID"].clone()).collect() };
        assert_eq!(ids(&a), ids(&b));
        // Same key, same time: the same bytes (Ed25519 is deterministic).
        assert_eq!(a, prepare(json_doc(), &key(), CREATED).unwrap());
    }

    #[test]
    fn an_events_own_context_is_kept() {
        let mut doc = json_doc();
        let own = json!([CONTEXT, {"farm": "https://ns.farm.example/epcis/"}, {"x": "https://x.example/"}]);
        doc["epcisBody"]["eventList"][1]["@context"] = own.clone();
        let prepared = prepare(doc, &key(), CREATED).unwrap();
        assert_eq!(prepared["epcisBody"]["eventList"][1]["@context"], own);
        assert!(di::verify(&prepared["epcisBody"]["eventList"][1]).is_ok());
    }

    #[test]
    fn an_existing_proof_is_replaced() {
        let other = SigningKey::from_bytes(&[9; 32]);
        let old = prepare(json_doc(), &other, CREATED).unwrap();
        let mut doc = old.clone();
        // A proof that no longer verifies, too.
        doc["epcisBody"]["eventList"][1]["proof"]["proofValue"] = json!("zBroken");
        let prepared = prepare(doc, &key(), CREATED).unwrap();
        for (n, event) in events(&prepared).iter().enumerate() {
            let verified = di::verify(event).unwrap_or_else(|e| panic!("event {n}: {e}"));
            assert_eq!(verified.did, didkey::did_key(&key().verifying_key()));
            assert_ne!(event["proof"], old["epcisBody"]["eventList"][n]["proof"]);
        }
        // The eventIDs do not depend on the proof.
        assert_eq!(events(&prepared)[0]["eventID"], events(&old)[0]["eventID"]);
    }

    #[test]
    fn xml_input_gives_the_same_signed_events_as_json() {
        let from_xml = parse_document(XML.as_bytes(), false).unwrap();
        assert_eq!(from_xml, json_doc());
        let a = prepare(from_xml, &key(), CREATED).unwrap();
        let b = prepare(json_doc(), &key(), CREATED).unwrap();
        assert_eq!(events(&a), events(&b));
        // By extension too, and after a byte-order mark.
        let bom = [b"\xEF\xBB\xBF".as_slice(), XML.as_bytes()].concat();
        assert_eq!(parse_document(&bom, true).unwrap(), json_doc());
    }

    #[test]
    fn documents_that_cannot_be_captured_are_errors() {
        let err = |doc: Value| format!("{:#}", prepare(doc, &key(), CREATED).unwrap_err());
        assert!(err(json!([{"type": "ObjectEvent"}])).contains("not a JSON object"));
        let e = err(json!({"type": "ObjectEvent", "eventTime": "2025-01-01T00:00:00Z"}));
        assert!(e.contains("not an EPCISDocument"), "{e}");
        let mut d = json_doc();
        d["epcisBody"]["eventList"] = json!([]);
        assert!(err(d.clone()).contains("holds no events"));
        d["epcisBody"]["eventList"] = json!({});
        assert!(err(d.clone()).contains("not an array"));
        d["epcisBody"] = json!({});
        assert!(err(d.clone()).contains("no epcisBody.eventList"));
        let mut d = json_doc();
        d["epcisBody"]["eventList"][1] = json!("x");
        assert!(err(d).contains("event 2 is not a JSON object"));
        // An event the hash ID is not defined for, without an eventID of its own.
        let mut d = json_doc();
        d["epcisBody"]["eventList"][0]["type"] = json!("SomeEvent");
        let e = err(d);
        assert!(e.contains("event 1 has no eventID"), "{e}");
    }

    #[test]
    fn unparseable_documents_are_errors() {
        let err =
            |bytes: &[u8], xml: bool| format!("{:#}", parse_document(bytes, xml).unwrap_err());
        assert!(err(b"  \n", false).contains("empty"));
        assert!(err(b"{\"a\":1,\"a\":2}", false).contains("a"));
        assert!(err(b"{", false).contains("line"));
        let e = err(b"<epcis:EPCISDocument", false);
        assert!(e.contains("converting the XML document"), "{e}");
        let e = err(b"{}", true);
        assert!(e.contains("not well-formed XML"), "{e}");
        let e = err(
            br#"<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" creationDate="2025-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent/></EventList></EPCISBody></epcis:EPCISDocument>"#,
            false,
        );
        assert!(e.contains("ObjectEvent") && e.contains("eventTime"), "{e}");
    }

    #[test]
    fn the_job_is_found_by_location_or_capture_id() {
        let base = "http://127.0.0.1:8080";
        assert_eq!(
            job_path(Some("/capture/abc"), "", base).unwrap(),
            "/capture/abc"
        );
        assert_eq!(
            job_path(Some("http://127.0.0.1:8080/capture/abc"), "", base).unwrap(),
            "/capture/abc"
        );
        assert!(job_path(Some("http://elsewhere.example/capture/abc"), "", base).is_err());
        assert_eq!(
            job_path(None, r#"{"captureID":"c-1"}"#, base).unwrap(),
            "/capture/c-1"
        );
        assert!(job_path(None, "{}", base).is_err());
    }

    #[test]
    fn retry_after_is_read_in_seconds_and_capped() {
        let answer = |h: &str| -> ureq::Response {
            format!("HTTP/1.1 503 Service Unavailable\r\n{h}Content-Length: 0\r\n\r\n")
                .parse()
                .unwrap()
        };
        let wait = |h: &str| super::super::retry_after(&answer(h));
        assert_eq!(wait("Retry-After: 3\r\n"), Some(Duration::from_secs(3)));
        assert_eq!(
            wait("Retry-After: 86400\r\n"),
            Some(Duration::from_secs(60))
        );
        // The HTTP-date form, or none: the client's own back-off.
        assert_eq!(wait("Retry-After: Wed, 21 Oct 2026 07:28:00 GMT\r\n"), None);
        assert_eq!(wait(""), None);
    }

    fn sent() -> Vec<Value> {
        events(&prepare(json_doc(), &key(), CREATED).unwrap())
    }

    #[test]
    fn a_successful_job_prints_receipts() {
        let sent = sent();
        let id0 = sent[0]["eventID"].as_str().unwrap().to_owned();
        let job = json!({
            "captureID": "c-1", "createdAt": "2025-03-04T10:00:00Z",
            "finishedAt": "2025-03-04T10:00:01Z", "running": false, "success": true,
            "captureErrorBehaviour": "rollback", "errors": [],
            "events": [
                {"eventIndex": 0, "eventID": id0, "status": "accepted", "receipt": {"index": 41}},
                {"eventIndex": 1, "eventID": "urn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
                 "status": "accepted", "receipt": {"index": 42}}
            ]
        });
        let out = report(&job, &sent);
        assert_eq!(
            out.lines,
            vec![
                format!("1\t{id0}\taccepted\t{{\"index\":41}}"),
                "2\turn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b\taccepted\t{\"index\":42}"
                    .to_owned(),
            ]
        );
        assert!(out.success);
        assert!(out.notes.is_empty());
        assert_eq!(
            out.summary,
            "capture c-1: 2 of 2 events accepted, 0 refused (rollback); succeeded"
        );
    }

    #[test]
    fn a_failed_job_names_each_events_problem() {
        let sent = sent();
        let id0 = sent[0]["eventID"].as_str().unwrap().to_owned();
        let job = json!({
            "captureID": "c-2", "running": false, "success": false,
            "captureErrorBehaviour": "rollback",
            "errors": [
                {"type": "about:blank", "title": "Unprocessable", "status": 422,
                 "code": "unknown_actor", "detail": "no actor\twith this key", "eventID": "x",
                 "eventIndex": 1, "pointer": "/readPoint"},
                {"code": "capture_failed", "detail": "the capture was rolled back"}
            ],
            "events": [
                {"eventIndex": 0, "eventID": id0, "status": "not_written"},
                {"eventIndex": 1, "eventID": "urn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b",
                 "status": "refused"}
            ]
        });
        let out = report(&job, &sent);
        assert_eq!(out.lines.len(), 2);
        assert_eq!(
            out.lines[0],
            format!(
                "1\t{id0}\trefused\tnot written: event 2 of the document was refused and the capture rolled back"
            )
        );
        assert_eq!(
            out.lines[1],
            "2\turn:uuid:0193a1b2-7c3d-7e4f-8a9b-0c1d2e3f4a5b\trefused\tunknown_actor: no actor with this key (at \"/readPoint\")"
        );
        assert_eq!(
            out.notes,
            vec!["capture error: capture_failed: the capture was rolled back"]
        );
        assert!(!out.success);
        assert_eq!(
            out.summary,
            "capture c-2: 0 of 2 events accepted, 2 refused (rollback); failed"
        );
        // An event the job leaves out is not taken for accepted.
        let job = json!({"captureID": "c-3", "running": false, "success": false, "events": []});
        let out = report(&job, &sent);
        assert!(out.lines.iter().all(|l| l.contains("\trefused\t")));
    }
}
