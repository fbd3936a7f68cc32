//! GS1's EPCIS 2.0 REST binding, driven the way an EPCIS client drives it: raw HTTP with the
//! binding's headers against the real server. Capture jobs (rollback, proceed, retries, a
//! restart), event hash IDs, every SimpleEventQuery parameter checked against a reference
//! evaluation of the same events, paging, top-level resources, named queries, and a webhook
//! subscription that gets each committed event exactly once across a restart.

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::*;
use serde_json::{Value, json};

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .redirects(0)
        .build()
}

fn call(r: Result<ureq::Response, ureq::Error>) -> (u16, HashMap<String, String>, String) {
    let resp = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport: {e}"),
    };
    let headers = resp
        .headers_names()
        .into_iter()
        .map(|n| {
            (
                n.to_ascii_lowercase(),
                resp.header(&n).unwrap_or("").to_owned(),
            )
        })
        .collect();
    (
        resp.status(),
        headers,
        resp.into_string().unwrap_or_default(),
    )
}

fn document(events: &[Value]) -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-20T01:00:00Z",
        "epcisBody": {"eventList": events}
    })
}

/// Posts a capture and waits for its job to finish; returns the job.
fn capture(server: &Server, doc: &Value, behaviour: Option<&str>) -> Value {
    let mut req = agent()
        .post(&server.url("/capture"))
        .set("Content-Type", "application/ld+json")
        .set("GS1-EPCIS-Version", "2.0.0");
    if let Some(b) = behaviour {
        req = req.set("GS1-Capture-Error-Behaviour", b);
    }
    let (status, headers, body) = call(req.send_bytes(&serde_json::to_vec(doc).unwrap()));
    assert_eq!(status, 202, "{body}");
    assert_eq!(headers["gs1-epcis-version"], "2.0.0");
    let location = headers["location"].clone();
    assert!(location.starts_with("/capture/"), "{location}");
    wait_job(server, &location)
}

fn wait_job(server: &Server, location: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let a = get(&server.url(location));
        assert_eq!(a.status, 200, "{}", a.body);
        let job = a.json();
        if job["running"] == false {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "capture job never finished: {}",
            a.body
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn statuses(job: &Value) -> Vec<String> {
    job["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn capture_jobs_roll_back_proceed_retry_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);

    let lots: Vec<String> = (0..3).map(|_| fresh_lot()).collect();
    let mut good: Vec<Value> = lots
        .iter()
        .map(|l| sign(&server.farm, &harvest(l, 1000.0)))
        .collect();
    // The fourth harvests a lot the first one commissions: the rules refuse it.
    let bad = sign(&server.farm, &harvest(&lots[0], 500.0));
    let mut events = good.clone();
    events.push(bad);
    let doc = document(&events);

    // rollback (the default): one refusal, nothing written.
    let before = size(&server);
    let job = capture(&server, &doc, None);
    assert_eq!(job["success"], false, "{job}");
    assert_eq!(job["captureErrorBehaviour"], "rollback");
    assert_eq!(
        statuses(&job),
        ["not_written", "not_written", "not_written", "refused"]
    );
    let errors = job["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 4, "{job}");
    assert_eq!(errors[3]["code"], "already_commissioned", "{job}");
    assert_eq!(errors[3]["eventIndex"], 3);
    assert_eq!(errors[0]["code"], "not_written");
    assert_eq!(
        size(&server),
        before,
        "a rolled-back document wrote something"
    );

    // A document whose own shape is wrong is refused at once; so is XML sent here.
    let (st, _, body) = call(
        agent()
            .post(&server.url("/capture"))
            .set("Content-Type", "application/json")
            .send_bytes(br#"{"type":"EPCISQueryDocument"}"#),
    );
    assert_eq!(st, 422, "{body}");
    let (st, _, body) = call(
        agent()
            .post(&server.url("/capture"))
            .set("Content-Type", "application/xml")
            .send_bytes(b"<epcis:EPCISDocument/>"),
    );
    assert_eq!(st, 415, "{body}");
    assert!(body.contains("lotline capture"), "{body}");
    let (st, _, body) = call(
        agent()
            .post(&server.url("/capture"))
            .set("Content-Type", "application/json")
            .set("GS1-Capture-Error-Behaviour", "sometimes")
            .send_bytes(&serde_json::to_vec(&doc).unwrap()),
    );
    assert_eq!(st, 400, "{body}");
    let (st, headers, _) = call(agent().request("OPTIONS", &server.url("/capture")).call());
    assert_eq!(st, 204);
    assert_eq!(headers["gs1-epcis-capture-limit"], "10000");
    assert!(headers.contains_key("gs1-epcis-capture-file-size-limit"));

    // proceed: the three good ones, in document order.
    let job = capture(&server, &doc, Some("proceed"));
    assert_eq!(
        statuses(&job),
        ["accepted", "accepted", "accepted", "refused"]
    );
    assert_eq!(size(&server), before + 3);
    let indexes: Vec<u64> = job["events"].as_array().unwrap()[..3]
        .iter()
        .map(|e| e["receipt"]["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [before, before + 1, before + 2], "document order");
    for e in &job["events"].as_array().unwrap()[..3] {
        assert!(
            e["receipt"]["eventHash"]
                .as_str()
                .unwrap()
                .starts_with("ni:///sha-256;"),
            "{e}"
        );
    }

    // A retried document is answered from the log: nothing new.
    good.truncate(3);
    let job = capture(&server, &document(&good), None);
    assert_eq!(job["success"], true, "{job}");
    assert_eq!(statuses(&job), ["duplicate", "duplicate", "duplicate"]);
    assert_eq!(size(&server), before + 3);

    // Event hash IDs: accepted as eventIDs when right, refused when wrong; the same content
    // under another eventID is a duplicate.
    let lot = fresh_lot();
    let plain = harvest(&lot, 700.0);
    let hash = lotline_profile::event_hash::event_hash_id(&plain).unwrap();
    let mut hashed = plain.clone();
    hashed["eventID"] = json!(hash);
    let a = post_json(&server.url("/events"), &sign(&server.farm, &hashed));
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["eventID"], hash);
    assert_eq!(a.json()["eventHash"], hash);
    let found = get(&server.url(&format!("/events/{}", enc(&hash))));
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.json()["eventID"], hash);
    let again = post_json(&server.url("/events"), &sign(&server.farm, &plain));
    again.assert_problem(409, "duplicate_event");
    let mut wrong = harvest(&fresh_lot(), 700.0);
    wrong["eventID"] = json!(hash);
    let p = post_json(&server.url("/events"), &sign(&server.farm, &wrong))
        .assert_problem(422, "profile_violation");
    assert_eq!(p["rule"], "event-id.hash");

    // Jobs are durable: after a restart the outcome is still there.
    let location = format!("/capture/{}", job["captureID"].as_str().unwrap());
    server.stop();
    let server = Server::start(&data);
    let again = get(&server.url(&location));
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["success"], true);
    let list = get(&server.url("/capture")).json();
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    get(&server.url("/capture/0123456789abcdef0123456789abcdef")).assert_problem(404, "not_found");
}

/// All EPCIS events of the log, with their entries, through the binding's paging.
fn all_events(server: &Server, query: &str, per_page: usize) -> Vec<(Value, Value)> {
    let mut out = Vec::new();
    let mut url = server.url(&format!("/events?perPage={per_page}{query}"));
    loop {
        let (status, headers, body) = call(agent().get(&url).call());
        assert_eq!(status, 200, "{url}: {body}");
        assert_eq!(headers["gs1-epcis-version"], "2.0.0");
        assert_eq!(headers["gs1-cbv-version"], "2.0.0");
        let doc: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(doc["type"], "EPCISQueryDocument");
        let events = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .clone();
        let entries = doc["lotline:entries"].as_array().unwrap().clone();
        assert!(events.len() <= per_page);
        for (e, x) in events.into_iter().zip(entries) {
            assert!(e.get("proof").is_none());
            out.push((e, x));
        }
        match headers.get("gs1-next-page-token") {
            Some(t) => {
                url = server.url(&format!(
                    "/events?perPage={per_page}{query}&nextPageToken={t}"
                ));
            }
            None => return out,
        }
    }
}

fn ids(events: &[(Value, Value)]) -> Vec<String> {
    events
        .iter()
        .map(|(e, _)| e["eventID"].as_str().unwrap().to_owned())
        .collect()
}

fn time_of(e: &Value) -> i64 {
    lotline_profile::profile::parse_time_ms(e["eventTime"].as_str().unwrap()).unwrap()
}

#[test]
fn every_query_parameter_agrees_with_a_reference_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let (registrar, steps) =
        lotline::cli::actor::signed_demo("epcis demo", "2026-11-20T00:00:00Z").unwrap();
    let server = Server::start_with(&dir.path().join("data"), &["--registrar", &registrar]);
    // The demo in its order: registrar documents one by one, each run of EPCIS events between
    // them as one capture document.
    let mut accepted = 0;
    let mut run: Vec<Value> = Vec::new();
    let flush = |run: &mut Vec<Value>, accepted: &mut usize| {
        if !run.is_empty() {
            let job = capture(&server, &document(run), Some("proceed"));
            *accepted += statuses(&job).iter().filter(|s| *s == "accepted").count();
            run.clear();
        }
    };
    for (doc, _) in &steps {
        if doc["type"].as_str().unwrap().starts_with("lotline:") {
            flush(&mut run, &mut accepted);
            post_json(&server.url("/v1/events"), doc);
        } else {
            run.push(doc.clone());
        }
    }
    flush(&mut run, &mut accepted);
    assert!(accepted > 20, "{accepted} demo events accepted");
    // The demo names no business locations or read points: three harvests at the test farm do,
    // one of them with the Digital Link form of the location.
    let site = "urn:epc:id:sgln:8841234.00099.0";
    let site_dl = format!(
        "https://id.gs1.org{}",
        lotline_profile::terms::location_key(site)
    );
    let located: Vec<Value> = [site, site, &site_dl]
        .iter()
        .enumerate()
        .map(|(i, loc)| {
            let mut h = harvest(&fresh_lot(), 100.0 + i as f64);
            h["bizLocation"] = json!({"id": loc});
            h["readPoint"] = json!({"id": format!("urn:epc:id:sgln:8841234.00099.{i}")});
            sign(&server.farm, &h)
        })
        .collect();
    let job = capture(&server, &document(&located), None);
    assert_eq!(job["success"], true, "{job}");
    accepted += 3;

    // The reference: every event, in event-time order, read one page of 1000.
    let all = all_events(&server, "", 1000);
    assert_eq!(all.len(), accepted, "only EPCIS events are answered");
    let mut sorted = all.clone();
    sorted.sort_by_key(|(e, x)| (time_of(e), x["index"].as_u64().unwrap()));
    assert_eq!(ids(&all), ids(&sorted), "event-time order");
    // Paging by 3 gives the same events in the same order.
    assert_eq!(ids(&all_events(&server, "", 3)), ids(&all));

    let key = |s: &str| lotline_profile::terms::epc_key(s);
    let pick = |what: &str, f: &dyn Fn(&Value) -> Option<String>| {
        all.iter()
            .find_map(|(e, _)| f(e))
            .unwrap_or_else(|| panic!("the demo has no {what}"))
    };
    let first_epc = pick("first_epc", &|e| {
        e["epcList"][0].as_str().map(str::to_owned)
    });
    let first_class = pick("first_class", &|e| {
        e["quantityList"][0]["epcClass"].as_str().map(str::to_owned)
    });
    let first_parent = pick("first_parent", &|e| {
        e["parentID"].as_str().map(str::to_owned)
    });
    let first_input = pick("first_input", &|e| {
        e["inputQuantityList"][0]["epcClass"]
            .as_str()
            .map(str::to_owned)
    });
    let first_output = pick("first_output", &|e| {
        e["outputQuantityList"][0]["epcClass"]
            .as_str()
            .map(str::to_owned)
    });
    let location = pick("location", &|e| {
        e["bizLocation"]["id"].as_str().map(str::to_owned)
    });
    let read_point = pick("read_point", &|e| {
        e["readPoint"]["id"].as_str().map(str::to_owned)
    });
    let source = pick("source", &|e| {
        e["sourceList"][0].as_object().map(|s| {
            format!(
                "{}={}",
                s["type"].as_str().unwrap(),
                s["source"].as_str().unwrap()
            )
        })
    });
    let (source_type, source_id) = source.split_once('=').unwrap();
    let dest = pick("dest", &|e| {
        e["destinationList"][0].as_object().map(|s| {
            format!(
                "{}={}",
                s["type"].as_str().unwrap(),
                s["destination"].as_str().unwrap()
            )
        })
    });
    let (dest_type, dest_id) = dest.split_once('=').unwrap();
    let mid_time = time_of(&sorted[sorted.len() / 2].0);
    let mid = lotline_profile::profile::format_time_ms(mid_time);
    let record_times: BTreeSet<String> = all
        .iter()
        .map(|(_, x)| x["recordTime"].as_str().unwrap().to_owned())
        .collect();
    // The demo's events and the located harvests were captured apart: two record times at least.
    assert!(record_times.len() >= 2, "{record_times:?}");
    let record_mid = record_times.iter().next_back().unwrap().clone();

    let strs = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let classes = |e: &Value, list: &str| -> Vec<String> {
        e[list]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|q| q["epcClass"].as_str().map(key))
                    .collect()
            })
            .unwrap_or_default()
    };
    type Pred<'a> = Box<dyn Fn(&Value, &Value) -> bool + 'a>;
    let cases: Vec<(String, Pred)> = vec![
        (
            "&eventType=ObjectEvent|AggregationEvent".into(),
            Box::new(|e: &Value, _: &Value| {
                matches!(e["type"].as_str(), Some("ObjectEvent" | "AggregationEvent"))
            }),
        ),
        (
            "&EQ_action=ADD".into(),
            Box::new(|e: &Value, _: &Value| e["action"] == "ADD"),
        ),
        (
            "&EQ_bizStep=shipping|urn:epcglobal:cbv:bizstep:receiving".into(),
            Box::new(|e: &Value, _: &Value| {
                matches!(e["bizStep"].as_str(), Some("shipping" | "receiving"))
            }),
        ),
        (
            "&EQ_disposition=in_transit".into(),
            Box::new(|e: &Value, _: &Value| e["disposition"] == "in_transit"),
        ),
        (
            format!("&EQ_bizLocation={}", enc(&location)),
            Box::new(|e: &Value, _: &Value| {
                e["bizLocation"]["id"]
                    .as_str()
                    .map(lotline_profile::terms::location_key)
                    == Some(lotline_profile::terms::location_key(&location))
            }),
        ),
        (
            format!("&EQ_readPoint={}", enc(&read_point)),
            Box::new(|e: &Value, _: &Value| {
                e["readPoint"]["id"].as_str() == Some(read_point.as_str())
            }),
        ),
        (
            format!("&GE_eventTime={}", enc(&mid)),
            Box::new(|e: &Value, _: &Value| time_of(e) >= mid_time),
        ),
        (
            format!("&LT_eventTime={}", enc(&mid)),
            Box::new(|e: &Value, _: &Value| time_of(e) < mid_time),
        ),
        (
            format!("&GE_recordTime={}", enc(&record_mid)),
            Box::new(|_: &Value, x: &Value| {
                x["recordTime"].as_str().unwrap() >= record_mid.as_str()
            }),
        ),
        (
            format!("&LT_recordTime={}", enc(&record_mid)),
            Box::new(|_: &Value, x: &Value| {
                x["recordTime"].as_str().unwrap() < record_mid.as_str()
            }),
        ),
        (
            format!("&MATCH_epc={}", enc(&first_epc)),
            Box::new(|e: &Value, _: &Value| {
                strs(&e["epcList"])
                    .iter()
                    .chain(strs(&e["childEPCs"]).iter())
                    .any(|x| key(x) == key(&first_epc))
            }),
        ),
        (
            format!("&MATCH_anyEPC={}", enc(&first_parent)),
            Box::new(|e: &Value, _: &Value| {
                let k = key(&first_parent);
                ["epcList", "childEPCs", "inputEPCList", "outputEPCList"]
                    .iter()
                    .any(|l| strs(&e[*l]).iter().any(|x| key(x) == k))
                    || e["parentID"].as_str().map(key) == Some(k.clone())
            }),
        ),
        (
            format!("&MATCH_parentID={}", enc(&first_parent)),
            Box::new(|e: &Value, _: &Value| {
                e["parentID"].as_str().map(key) == Some(key(&first_parent))
            }),
        ),
        (
            format!("&MATCH_epcClass={}", enc(&first_class)),
            Box::new(|e: &Value, _: &Value| {
                classes(e, "quantityList").contains(&key(&first_class))
                    || classes(e, "childQuantityList").contains(&key(&first_class))
            }),
        ),
        (
            format!("&MATCH_inputEPCClass={}", enc(&first_input)),
            Box::new(|e: &Value, _: &Value| {
                classes(e, "inputQuantityList").contains(&key(&first_input))
            }),
        ),
        (
            format!("&MATCH_outputEPCClass={}", enc(&first_output)),
            Box::new(|e: &Value, _: &Value| {
                classes(e, "outputQuantityList").contains(&key(&first_output))
            }),
        ),
        (
            format!("&EQ_source_{source_type}={}", enc(source_id)),
            Box::new(|e: &Value, _: &Value| {
                e["sourceList"].as_array().is_some_and(|l| {
                    l.iter()
                        .any(|s| s["type"] == source_type && s["source"] == source_id)
                })
            }),
        ),
        (
            format!("&EQ_destination_{dest_type}={}", enc(dest_id)),
            Box::new(|e: &Value, _: &Value| {
                e["destinationList"].as_array().is_some_and(|l| {
                    l.iter()
                        .any(|s| s["type"] == dest_type && s["destination"] == dest_id)
                })
            }),
        ),
        (
            format!("&EQ_bizStep=shipping&GE_eventTime={}", enc(&mid)),
            Box::new(|e: &Value, _: &Value| e["bizStep"] == "shipping" && time_of(e) >= mid_time),
        ),
    ];
    for (q, pred) in &cases {
        let want: Vec<String> = ids(&all
            .iter()
            .filter(|(e, x)| pred(e, x))
            .cloned()
            .collect::<Vec<_>>());
        assert!(
            !want.is_empty(),
            "{q}: the reference finds nothing; pick a value the demo has"
        );
        let got = all_events(&server, q, 2);
        assert_eq!(ids(&got), want, "{q}");
    }

    // Order and limits.
    let desc = all_events(&server, "&orderDirection=DESC", 4);
    let mut rev = ids(&all);
    rev.reverse();
    assert_eq!(ids(&desc), rev);
    let by_record = all_events(&server, "&orderBy=recordTime", 5);
    let mut by_index = all.clone();
    by_index.sort_by_key(|(_, x)| x["index"].as_u64().unwrap());
    assert_eq!(ids(&by_record), ids(&by_index));
    let by_record_desc = all_events(
        &server,
        "&orderBy=recordTime&orderDirection=DESC&EQ_bizStep=shipping",
        2,
    );
    let mut want: Vec<String> = ids(&by_index
        .iter()
        .filter(|(e, _)| e["bizStep"] == "shipping")
        .cloned()
        .collect::<Vec<_>>());
    want.reverse();
    assert_eq!(ids(&by_record_desc), want);
    assert_eq!(all_events(&server, "&eventCountLimit=5", 2).len(), 5);
    get(&server.url("/events?maxEventCount=2")).assert_problem(413, "query_too_large");

    // Mistakes are named.
    for (q, param) in [
        ("EQ_bizstep=shipping", "EQ_bizstep"),
        ("eventType=Thing", "eventType"),
        ("GE_eventTime=tuesday", "GE_eventTime"),
        ("MATCH_epc=urn:epc:idpat:sgtin:0614141.*", "MATCH_epc"),
        ("nextPageToken=abc", "nextPageToken"),
        ("perPage=0", "perPage"),
    ] {
        let p = get(&server.url(&format!("/events?{q}"))).assert_problem(400, "invalid_parameter");
        assert!(p["detail"].as_str().unwrap().contains(param), "{q}: {p}");
    }

    // Identifiers in the form the client asks for.
    let (_, _, body) = call(
        agent()
            .get(&server.url(&format!("/events?MATCH_epc={}", enc(&first_epc))))
            .set("GS1-EPC-Format", "Always_GS1_Digital_Link")
            .call(),
    );
    let doc: Value = serde_json::from_str(&body).unwrap();
    let epc = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"][0]["epcList"][0]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(epc, format!("https://id.gs1.org{}", key(&first_epc)));
    // ... and the Digital Link finds the same events as the URN.
    assert_eq!(
        ids(&all_events(
            &server,
            &format!("&MATCH_epc={}", enc(&epc)),
            10
        )),
        ids(&all_events(
            &server,
            &format!("&MATCH_epc={}", enc(&first_epc)),
            10
        ))
    );

    // Top-level resources.
    let types: Vec<String> = serde_json::from_str(&get(&server.url("/eventTypes")).body).unwrap();
    assert!(types.contains(&"TransformationEvent".to_owned()));
    let steps: BTreeSet<String> =
        serde_json::from_str(&get(&server.url("/bizSteps")).body).unwrap();
    let want: BTreeSet<String> = all
        .iter()
        .filter_map(|(e, _)| e["bizStep"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(steps, want);
    let shipped = all_events(&server, "&EQ_bizStep=shipping", 100);
    let (st, _, body) = call(
        agent()
            .get(&server.url("/bizSteps/shipping/events?perPage=100"))
            .call(),
    );
    assert_eq!(st, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .len(),
        shipped.len()
    );
    let epcs: Vec<String> =
        serde_json::from_str(&get(&server.url("/epcs?perPage=1000")).body).unwrap();
    assert!(
        epcs.contains(&format!("https://id.gs1.org{}", key(&first_epc))),
        "{epcs:?}"
    );
    for r in ["bizLocations", "readPoints", "dispositions"] {
        let v: Vec<String> =
            serde_json::from_str(&get(&server.url(&format!("/{r}"))).body).unwrap();
        assert!(!v.is_empty(), "{r}");
    }

    // Named queries.
    let nq =
        json!({"name": "shipments", "query": {"EQ_bizStep": ["shipping"], "GE_eventTime": mid}});
    let a = post_json(&server.url("/queries"), &nq);
    assert_eq!(a.status, 201, "{}", a.body);
    post_json(&server.url("/queries"), &nq).assert_problem(409, "event_id_conflict");
    post_json(
        &server.url("/queries"),
        &json!({"name": "x", "query": {"EQ_nothing": "1"}}),
    )
    .assert_problem(400, "invalid_parameter");
    let (st, _, body) = call(agent().get(&server.url("/queries/shipments/events")).call());
    assert_eq!(st, 200, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["epcisBody"]["queryResults"]["queryName"], "shipments");
    let got: Vec<String> = doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventID"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        got,
        ids(&all_events(
            &server,
            &format!("&EQ_bizStep=shipping&GE_eventTime={}", enc(&mid)),
            50
        ))
    );
    assert_eq!(
        get(&server.url("/queries"))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (st, _, _) = call(agent().delete(&server.url("/queries/shipments")).call());
    assert_eq!(st, 204);
    get(&server.url("/queries/shipments/events")).assert_problem(404, "not_found");
}

/// One delivery as the receiver got it: its headers (lower-case names) and body.
type Delivery = (HashMap<String, String>, Vec<u8>);

/// A webhook receiver on 127.0.0.1: records each delivery (headers and body); answers 500 to
/// the first `fail_first` requests.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<Delivery>>>,
}

fn receiver(fail_first: usize) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Delivery>>> = Arc::default();
    let sink = got.clone();
    std::thread::spawn(move || {
        let mut served = 0usize;
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = HashMap::new();
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let n: usize = headers
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; n];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            served += 1;
            let status = if served <= fail_first {
                "500 Internal Server Error"
            } else {
                sink.lock().unwrap().push((headers, body));
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    Receiver { url, got }
}

fn delivered_ids(r: &Receiver) -> Vec<String> {
    r.got
        .lock()
        .unwrap()
        .iter()
        .flat_map(|(_, body)| {
            let doc: Value = serde_json::from_slice(body).unwrap();
            doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["eventID"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn wait_for(r: &Receiver, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while delivered_ids(r).len() < n {
        assert!(
            Instant::now() < deadline,
            "only {:?} delivered",
            delivered_ids(r)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_webhook_gets_each_committed_event_once_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let server = Server::start(&data);
    let hook = receiver(1);
    let a = post_json(
        &server.url("/queries"),
        &json!({"name": "harvests", "query": {"EQ_bizStep": "commissioning"}}),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let a = post_json(
        &server.url("/queries/harvests/subscriptions"),
        &json!({"dest": hook.url, "signatureToken": "s3cret"}),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let sub_id = a.json()["subscriptionID"].as_str().unwrap().to_owned();
    assert!(
        a.json().get("signatureToken").is_none(),
        "the token is never shown"
    );
    post_json(
        &server.url("/queries/harvests/subscriptions"),
        &json!({"dest": "ftp://x"}),
    )
    .assert_problem(400, "invalid_parameter");

    let mut sent = Vec::new();
    let farm = server.farm.clone();
    let harvests = |n: usize| -> Vec<Value> {
        (0..n)
            .map(|_| sign(&farm, &harvest(&fresh_lot(), 300.0)))
            .collect()
    };
    let first = harvests(5);
    sent.extend(
        first
            .iter()
            .map(|e| e["eventID"].as_str().unwrap().to_owned()),
    );
    let job = capture(&server, &document(&first), None);
    assert_eq!(job["success"], true, "{job}");
    wait_for(&hook, 5);

    // The log's key signs every delivery; the token's HMAC rides along.
    let log = get(&server.url("/v1/log")).json();
    let vkey = log["verifierKey"].as_str().unwrap().to_owned();
    let raw = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        vkey.splitn(3, '+').nth(2).unwrap(),
    )
    .unwrap();
    let public = ed25519_dalek::VerifyingKey::from_bytes(raw[1..33].try_into().unwrap()).unwrap();
    for (headers, body) in hook.got.lock().unwrap().iter() {
        let sig = headers["lotline-signature"].split("sig=").nth(1).unwrap();
        let sig = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, sig).unwrap();
        let mut msg = b"lotline-webhook-v1\n".to_vec();
        msg.extend_from_slice(body);
        public
            .verify_strict(&msg, &ed25519_dalek::Signature::from_slice(&sig).unwrap())
            .expect("the delivery verifies under the log's key");
        let mac: String = lotline::subscribe::hmac_sha256(b"s3cret", body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(headers["gs1-signature"], mac);
        assert_eq!(
            serde_json::from_slice::<Value>(body).unwrap()["epcisBody"]["queryResults"]["subscriptionID"],
            sub_id.as_str()
        );
    }

    // Events that do not match are not sent; a restart neither skips nor repeats.
    server.stop();
    let server = Server::start(&data);
    let second = harvests(4);
    sent.extend(
        second
            .iter()
            .map(|e| e["eventID"].as_str().unwrap().to_owned()),
    );
    assert_eq!(capture(&server, &document(&second), None)["success"], true);
    wait_for(&hook, 9);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(delivered_ids(&hook), sent, "each event once, in log order");
    let sub = get(&server.url(&format!("/queries/harvests/subscriptions/{sub_id}"))).json();
    assert_eq!(sub["delivered"], 9, "{sub}");
}

/// GS1's own example documents, each event signed by the test farm as it stands (GS1's
/// eventIDs kept) and the document captured: every event is accepted or refused for a named
/// reason, never a server fault.
#[test]
fn gs1_example_documents_go_through_capture() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let root = std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/vectors/epcis/examples"
    ));
    let mut files = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonld" || x == "json") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 15, "{} example files", files.len());
    let mut tally: std::collections::BTreeMap<String, usize> = Default::default();
    for path in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let events: Vec<Value> = doc["epcisBody"]["eventList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let mut e = e.clone();
                if e.get("@context").is_none() {
                    e["@context"] = doc["@context"].clone();
                }
                sign(&server.farm, &e)
            })
            .collect();
        let mut out = doc.clone();
        out["epcisBody"]["eventList"] = json!(events);
        let job = capture(&server, &out, Some("proceed"));
        let name = path.strip_prefix(root).unwrap().display().to_string();
        for (i, st) in statuses(&job).iter().enumerate() {
            if st == "accepted" {
                *tally.entry("accepted".into()).or_default() += 1;
                continue;
            }
            let err = job["errors"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["eventIndex"] == i)
                .unwrap_or_else(|| panic!("{name} #{i}: refused without a problem: {job}"));
            let status = err["status"].as_u64().unwrap();
            assert!((400..500).contains(&status), "{name} #{i}: {err}");
            let code = err["code"].as_str().unwrap();
            assert!(!err["detail"].as_str().unwrap().is_empty());
            let key = if code == "profile_violation" {
                let rule = err["rule"].as_str().unwrap_or_default();
                assert!(!rule.is_empty(), "{name} #{i}: no rule: {err}");
                format!("{code} ({rule})")
            } else {
                code.to_owned()
            };
            *tally.entry(key).or_default() += 1;
        }
    }
    eprintln!("GS1 examples through /capture: {tally:?}");
    assert!(tally.values().sum::<usize>() >= 30);
}

/// `lotline capture`, the signing gateway: an unsigned document (JSON-LD, and EPCIS XML) is
/// signed with the actor's key file on this side and captured; the job's outcome is printed
/// per event and decides the exit code. Running it again sends the same (hash) eventIDs.
#[test]
fn the_capture_gateway_signs_and_submits_json_and_xml() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let key = dir.path().join("farm.key");
    lotline::ledger::write_key_file(&key, &server.farm, false).unwrap();
    let key = key.to_str().unwrap();

    let mut events: Vec<Value> = (0..3).map(|_| harvest(&fresh_lot(), 250.0)).collect();
    for e in &mut events {
        e.as_object_mut().unwrap().remove("eventID");
    }
    let json_doc = dir.path().join("harvests.jsonld");
    std::fs::write(&json_doc, serde_json::to_vec(&document(&events)).unwrap()).unwrap();
    let before = size(&server);
    let out = run(&[
        "capture",
        "--key",
        key,
        "--server",
        &server.base,
        json_doc.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.contains("\taccepted")).count(),
        3,
        "{stdout}"
    );
    assert!(
        stdout.contains("ni:///sha-256;"),
        "eventIDs are the events' hash IDs: {stdout}"
    );
    assert_eq!(size(&server), before + 3);
    // Again: the same hash IDs, answered from the log.
    let out = run(&[
        "capture",
        "--key",
        key,
        "--server",
        &server.base,
        json_doc.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(size(&server), before + 3);

    // EPCIS XML: converted and signed here. A moisture inspection of the first harvest, its
    // measurement type written as a Web URI, is accepted; then a repair, outside the profile,
    // is refused naming the rule.
    let lot = events[0]["quantityList"][0]["epcClass"].as_str().unwrap();
    let xml_of = |event: &str| {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-11-20T01:00:00Z">
  <EPCISBody><EventList><ObjectEvent>
    <eventTime>2026-06-02T08:00:00+07:00</eventTime><eventTimeZoneOffset>+07:00</eventTimeZoneOffset>
    <action>OBSERVE</action>{event}
  </ObjectEvent></EventList></EPCISBody>
</epcis:EPCISDocument>"#
        )
    };
    let inspection = xml_of(&format!(
        r#"<bizStep>urn:epcglobal:cbv:bizstep:inspecting</bizStep>
    <extension><quantityList><quantityElement><epcClass>{lot}</epcClass><quantity>250</quantity><uom>KGM</uom></quantityElement></quantityList></extension>
    <sensorElementList><sensorElement>
      <sensorMetadata time="2026-06-02T07:55:00+07:00"/>
      <sensorReport type="https://gs1.org/voc/MT-Dimensionless" chemicalSubstance="https://identifiers.org/inchikey:XLYOFNOQVPJJNP-UHFFFAOYSA-N" value="13.5" uom="P1"/>
    </sensorElement></sensorElementList>"#
    ));
    let repair = xml_of(
        "<bizStep>urn:epcglobal:cbv:bizstep:repairing</bizStep>\n    <epcList><epc>urn:epc:id:sgtin:8841234.010001.77</epc></epcList>",
    );
    let capture_xml = |name: &str, xml: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, xml).unwrap();
        let out = run(&[
            "capture",
            "--key",
            key,
            "--server",
            &server.base,
            path.to_str().unwrap(),
        ]);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), format!("{stdout}{stderr}"))
    };
    let (code, out) = capture_xml("inspection.xml", &inspection);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(size(&server), before + 4);
    let found = get(&server.url(&format!(
        "/events?EQ_bizStep=inspecting&EQ_chemicalSubstance={}&GE_value_P1=13",
        enc("https://identifiers.org/inchikey:XLYOFNOQVPJJNP-UHFFFAOYSA-N")
    )))
    .json();
    let found = found["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(
        found[0]["sensorElementList"][0]["sensorReport"][0]["value"],
        13.5
    );
    let (code, out) = capture_xml("repair.xml", &repair);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("refused") && out.contains("kind.object-event"),
        "{out}"
    );
    assert_eq!(size(&server), before + 4);
}

/// A WebSocket client just big enough for the test (RFC 6455): the opening handshake, masked
/// frames out, unmasked frames in. The standard library only, so no client crate is needed.
struct WebSocket {
    stream: std::net::TcpStream,
}

impl WebSocket {
    /// Opens `path` on `server`, expecting `101 Switching Protocols`.
    fn open(server: &Server, path: &str) -> WebSocket {
        let addr = server.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        // A bound on a broken server, not a timing assumption: frames arrive as events commit.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        // RFC 6455's own example key and its accept value.
        assert!(
            head.to_ascii_lowercase()
                .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
            "{head}"
        );
        WebSocket { stream }
    }

    /// The next text message (pings are answered, other control frames skipped).
    fn text(&mut self) -> String {
        loop {
            let mut h = [0u8; 2];
            self.stream.read_exact(&mut h).unwrap();
            let (fin, opcode) = (h[0] & 0x80 != 0, h[0] & 0x0f);
            assert!(fin, "the server sends whole messages");
            assert_eq!(h[1] & 0x80, 0, "server frames are not masked");
            let len = match h[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.stream.read_exact(&mut b).unwrap();
                    u16::from_be_bytes(b) as usize
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.stream.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b) as usize
                }
                n => n as usize,
            };
            let mut payload = vec![0u8; len];
            self.stream.read_exact(&mut payload).unwrap();
            match opcode {
                1 => return String::from_utf8(payload).unwrap(),
                9 => self.send(10, &payload),
                8 => panic!("the server closed the stream"),
                _ => {}
            }
        }
    }

    fn send(&mut self, opcode: u8, payload: &[u8]) {
        assert!(payload.len() < 126);
        let mask = [0x37u8, 0xfa, 0x21, 0x3d];
        let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }
}

/// A WebSocket subscription to a named query: every event committed after the socket opened
/// that matches the query arrives, in log order, each message an EPCISQueryDocument; events
/// that do not match and events from before do not.
#[test]
fn a_websocket_subscription_streams_matching_events_as_they_commit() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let before = harvest(&fresh_lot(), 100.0);
    assert_eq!(server.submit(&server.farm, &before).status, 201);
    let a = post_json(
        &server.url("/queries"),
        &json!({"name": "inspections", "query": {"EQ_bizStep": "inspecting"}}),
    );
    assert_eq!(a.status, 201, "{}", a.body);
    let mut ws = WebSocket::open(&server, "/queries/inspections/events");

    let lots: Vec<String> = (0..3).map(|_| fresh_lot()).collect();
    let mut want = Vec::new();
    for lot in &lots {
        assert_eq!(
            server.submit(&server.farm, &harvest(lot, 500.0)).status,
            201
        );
        let check = lotline_scenario::observation(
            false,
            "2026-06-02T09:00:00+07:00",
            &lotline_scenario::sgln(99),
            &[],
            &[lotline_scenario::kg(lot, 500.0)],
            json!([{"sensorReport": [lotline_scenario::moisture(13.5)]}]),
        );
        want.push(check["eventID"].as_str().unwrap().to_owned());
        assert_eq!(server.submit(&server.farm, &check).status, 201);
    }
    let mut got = Vec::new();
    while got.len() < want.len() {
        let doc: Value = serde_json::from_str(&ws.text()).unwrap();
        assert_eq!(doc["type"], "EPCISQueryDocument");
        assert_eq!(doc["epcisBody"]["queryResults"]["queryName"], "inspections");
        for e in doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
        {
            assert_eq!(e["bizStep"], "inspecting", "only matching events: {e}");
            got.push(e["eventID"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(got, want, "each once, in log order");

    // An unknown query is a problem, not an upgrade.
    get(&server.url("/queries/nope/events")).assert_problem(404, "not_found");
}
