//! EPCIS 2.0 SimpleEventQuery over the query indexes: what `GET /events`, named queries and
//! subscriptions answer.
//!
//! [`Query::parse`] checks the parameters of GS1's REST binding (query-string pairs, or the
//! members of a named query's JSON) and turns each into an index condition — a set of
//! `(tag, value)` terms (`lotline_profile::terms`), any of which an event must have — or a time
//! range. [`Query::page`] then walks the indexes together: every index key ends in
//! `eventTime ‖ entry index`, so the matches of all conditions are the suffixes every index has,
//! found by seeking each cursor to the largest suffix another cursor is at (a leapfrog join).
//! A query costs the entries it returns and the index keys it skips over, never the log;
//! `orderBy=recordTime` with conditions sorts at most [`MAX_SORTED`] matches and refuses more.
//!
//! [`Query::matches`] decides the same conditions for one stored event, for subscriptions that
//! follow the log as it grows.

use std::collections::BTreeSet;

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::state::{self, suffix_of, tag as ledger_tag};
use crate::store::{Store, StoreError};
use lotline_profile::entry::Entry;
use lotline_profile::event::EventId;
use lotline_profile::profile;
use lotline_profile::terms::{self, Term, tag};
use lotline_profile::vocab::{self, Vocab};

/// The most matches `orderBy=recordTime` sorts when other conditions select the events.
pub const MAX_SORTED: usize = 10_000;
pub const DEFAULT_PER_PAGE: usize = 100;
pub const MAX_PER_PAGE: usize = 1000;

const EVENT_TYPES: [&str; 5] = [
    "ObjectEvent",
    "AggregationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "AssociationEvent",
];

/// A parameter lotline does not take, or a value it cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {message}")]
pub struct ParamError {
    pub name: String,
    pub message: String,
}

fn bad(name: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        name: name.to_owned(),
        message: message.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderBy {
    EventTime,
    RecordTime,
}

/// A comparison on sensor report values (`GE_value_CEL=30`).
#[derive(Debug, Clone, PartialEq)]
struct SensorFilter {
    field: &'static str,
    uom: String,
    op: Cmp,
    bound: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cmp {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn holds(self, v: f64, b: f64) -> bool {
        match self {
            Cmp::Eq => v == b,
            Cmp::Gt => v > b,
            Cmp::Ge => v >= b,
            Cmp::Lt => v < b,
            Cmp::Le => v <= b,
        }
    }
}

/// A checked SimpleEventQuery.
#[derive(Debug, Clone)]
pub struct Query {
    /// Every condition must hold; a condition holds when the event has any of its terms.
    conditions: Vec<Vec<Term>>,
    /// `EQ_eventID`: the events are looked up directly.
    event_ids: Option<Vec<EventId>>,
    /// `[GE_eventTime, LT_eventTime)` in milliseconds.
    from_ms: i64,
    until_ms: i64,
    /// `[GE_recordTime, LT_recordTime)` in milliseconds.
    record_from_ms: i64,
    record_until_ms: i64,
    sensor: Vec<SensorFilter>,
    /// `EQ_type`'s measurement types, which the value comparisons also hold to.
    sensor_types: Vec<String>,
    pub order_by: OrderBy,
    pub descending: bool,
    /// `eventCountLimit`: at most this many events in all pages.
    pub count_limit: Option<usize>,
    /// `maxEventCount`: refuse the query if more events match.
    pub max_count: Option<usize>,
    /// Identifies the query for page tokens.
    fingerprint: [u8; 8],
}

/// Parameters that are not conditions: paging and answer shapes, read by the HTTP layer.
pub const PAGING: [&str; 3] = ["perPage", "nextPageToken", "format"];

fn split_values(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Value::String(s) => s.split('|').map(str::to_owned).collect(),
        other => vec![other.to_string()],
    }
}

fn one_value(name: &str, v: &Value) -> Result<String, ParamError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err(bad(name, "expected a single value")),
    }
}

fn time_ms(name: &str, v: &Value) -> Result<i64, ParamError> {
    let s = one_value(name, v)?;
    profile::parse_instant_ms(&s).ok_or_else(|| {
        bad(
            name,
            format!("{s:?} is not an RFC 3339 date-time (or a YYYY-MM-DD date)"),
        )
    })
}

fn count(name: &str, v: &Value) -> Result<usize, ParamError> {
    let s = one_value(name, v)?;
    s.parse::<usize>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| bad(name, format!("{s:?} is not a positive integer")))
}

/// An EPC or class in a MATCH_ parameter: patterns are not indexed.
fn epc_value(name: &str, s: &str) -> Result<String, ParamError> {
    if s.contains("idpat") || s.contains('*') {
        return Err(bad(
            name,
            format!("{s:?}: EPC patterns are not supported; name each EPC or class"),
        ));
    }
    if s.is_empty() {
        return Err(bad(name, "an empty value"));
    }
    Ok(terms::epc_key(s))
}

impl Query {
    /// Checks the parameters. `params` are (name, value) pairs; a string value may list
    /// alternatives separated by `|` (the REST binding's query-string form), an array lists
    /// them (a named query's JSON form). [`PAGING`] parameters are skipped.
    pub fn parse<'a>(
        params: impl IntoIterator<Item = (&'a str, &'a Value)>,
    ) -> Result<Query, ParamError> {
        let mut q = Query {
            conditions: Vec::new(),
            event_ids: None,
            from_ms: i64::MIN,
            until_ms: i64::MAX,
            record_from_ms: i64::MIN,
            record_until_ms: i64::MAX,
            sensor: Vec::new(),
            sensor_types: Vec::new(),
            order_by: OrderBy::EventTime,
            descending: false,
            count_limit: None,
            max_count: None,
            fingerprint: [0; 8],
        };
        let mut canon: Vec<String> = Vec::new();
        let mut has_type = false;
        for (name, value) in params {
            if PAGING.contains(&name) {
                continue;
            }
            canon.push(format!("{name}={value}"));
            let values = split_values(value);
            if values.iter().any(String::is_empty) && !name.starts_with("EXISTS_") {
                return Err(bad(name, "an empty value"));
            }
            let terms_of = |t: u8, f: &dyn Fn(&str) -> Result<String, ParamError>| {
                values
                    .iter()
                    .map(|v| {
                        Ok(Term {
                            tag: t,
                            value: f(v)?,
                        })
                    })
                    .collect::<Result<Vec<_>, ParamError>>()
            };
            let cond: Option<Vec<Term>> = match name {
                "eventType" => {
                    for v in &values {
                        if !EVENT_TYPES.contains(&v.as_str()) {
                            return Err(bad(
                                name,
                                format!(
                                    "{v:?} is not an EPCIS event type ({})",
                                    EVENT_TYPES.join(", ")
                                ),
                            ));
                        }
                    }
                    has_type = true;
                    Some(terms_of(tag::EVENT_TYPE, &|v| Ok(v.to_owned()))?)
                }
                "EQ_action" => {
                    for v in &values {
                        if !matches!(v.as_str(), "ADD" | "OBSERVE" | "DELETE") {
                            return Err(bad(name, format!("{v:?} is not ADD, OBSERVE or DELETE")));
                        }
                    }
                    Some(terms_of(tag::ACTION, &|v| Ok(v.to_owned()))?)
                }
                "EQ_bizStep" => Some(terms_of(ledger_tag::BIZ_STEP, &|v| {
                    Ok(terms::vocab_value(Vocab::BizStep, v))
                })?),
                "EQ_disposition" => Some(terms_of(tag::DISPOSITION, &|v| {
                    Ok(terms::vocab_value(Vocab::Disposition, v))
                })?),
                "EQ_readPoint" => Some(terms_of(tag::READ_POINT, &|v| Ok(terms::location_key(v)))?),
                "EQ_bizLocation" => Some(terms_of(tag::BIZ_LOCATION, &|v| {
                    Ok(terms::location_key(v))
                })?),
                "MATCH_epc" => Some(terms_of(tag::EPC, &|v| epc_value(name, v))?),
                "MATCH_parentID" => Some(terms_of(tag::PARENT, &|v| epc_value(name, v))?),
                "MATCH_inputEPC" => Some(terms_of(tag::INPUT_EPC, &|v| epc_value(name, v))?),
                "MATCH_outputEPC" => Some(terms_of(tag::OUTPUT_EPC, &|v| epc_value(name, v))?),
                "MATCH_anyEPC" => {
                    let mut all = Vec::new();
                    for t in [tag::EPC, tag::PARENT, tag::INPUT_EPC, tag::OUTPUT_EPC] {
                        all.extend(terms_of(t, &|v| epc_value(name, v))?);
                    }
                    Some(all)
                }
                "MATCH_epcClass" => Some(terms_of(tag::EPC_CLASS, &|v| epc_value(name, v))?),
                "MATCH_inputEPCClass" => Some(terms_of(tag::INPUT_CLASS, &|v| epc_value(name, v))?),
                "MATCH_outputEPCClass" => {
                    Some(terms_of(tag::OUTPUT_CLASS, &|v| epc_value(name, v))?)
                }
                "MATCH_anyEPCClass" => {
                    let mut all = Vec::new();
                    for t in [tag::EPC_CLASS, tag::INPUT_CLASS, tag::OUTPUT_CLASS] {
                        all.extend(terms_of(t, &|v| epc_value(name, v))?);
                    }
                    Some(all)
                }
                // lotline's own: any EPC or class in any role (`/v1/epcs/{epc}/events`).
                "MATCH_identifier" => {
                    // Where `state::Scan::Ident` looks (`state::ident_tags`): the terms of
                    // each role the identifier can take, and the identifier index.
                    let mut all = Vec::new();
                    for v in &values {
                        let key = super_lookup(name, v)?;
                        for &t in state::ident_tags(&key) {
                            all.push(Term {
                                tag: t,
                                value: key.clone(),
                            });
                        }
                    }
                    Some(all)
                }
                // lotline's own: the actor that recorded the event.
                "EQ_actor" => Some(terms_of(ledger_tag::ACTOR, &|v| Ok(v.to_owned()))?),
                "EXISTS_sensorElementList" => Some(vec![Term {
                    tag: tag::HAS_SENSOR,
                    value: String::new(),
                }]),
                "EQ_type" => {
                    let types = terms_of(tag::SENSOR_TYPE, &|v| {
                        Ok(terms::measurement_type(v).to_owned())
                    })?;
                    q.sensor_types = types.iter().map(|t| t.value.clone()).collect();
                    Some(types)
                }
                "EQ_chemicalSubstance" => Some(terms_of(tag::CHEMICAL, &|v| Ok(v.to_owned()))?),
                "EQ_microorganism" => Some(terms_of(tag::MICROORGANISM, &|v| Ok(v.to_owned()))?),
                "EQ_deviceID" => Some(terms_of(tag::DEVICE, &|v| Ok(v.to_owned()))?),
                "EQ_eventID" => {
                    let ids = values
                        .iter()
                        .map(|v| {
                            EventId::parse(v).ok_or_else(|| {
                                bad(
                                    name,
                                    format!(
                                        "{v:?} is neither urn:uuid:<uuid> nor an event hash ID"
                                    ),
                                )
                            })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    q.event_ids = Some(ids);
                    None
                }
                "GE_eventTime" => {
                    q.from_ms = time_ms(name, value)?;
                    None
                }
                "LT_eventTime" => {
                    q.until_ms = time_ms(name, value)?;
                    None
                }
                "GE_recordTime" => {
                    q.record_from_ms = time_ms(name, value)?;
                    None
                }
                "LT_recordTime" => {
                    q.record_until_ms = time_ms(name, value)?;
                    None
                }
                "orderBy" => {
                    q.order_by = match one_value(name, value)?.as_str() {
                        "eventTime" => OrderBy::EventTime,
                        "recordTime" => OrderBy::RecordTime,
                        other => {
                            return Err(bad(
                                name,
                                format!("{other:?}: order by eventTime or recordTime"),
                            ));
                        }
                    };
                    None
                }
                "orderDirection" => {
                    q.descending = match one_value(name, value)?.as_str() {
                        "ASC" => false,
                        "DESC" => true,
                        other => return Err(bad(name, format!("{other:?}: ASC or DESC"))),
                    };
                    None
                }
                "eventCountLimit" => {
                    q.count_limit = Some(count(name, value)?);
                    None
                }
                "maxEventCount" => {
                    q.max_count = Some(count(name, value)?);
                    None
                }
                _ => {
                    if let Some(c) = typed_param(name, &values)? {
                        Some(c)
                    } else if let Some(f) = sensor_param(name, value)? {
                        q.sensor.push(f);
                        None
                    } else {
                        return Err(bad(
                            name,
                            "not a query parameter lotline answers; see docs/api.md (EPCIS queries) for the list",
                        ));
                    }
                }
            };
            if let Some(c) = cond {
                q.conditions.push(c);
            }
        }
        if q.count_limit.is_some() && q.max_count.is_some() {
            return Err(bad(
                "eventCountLimit",
                "eventCountLimit and maxEventCount may not be given together",
            ));
        }
        if !q.sensor.is_empty() {
            // Value comparisons are checked on the events the indexes give; this index keeps
            // the walk to events that have sensor data at all.
            q.conditions.push(vec![Term {
                tag: tag::HAS_SENSOR,
                value: String::new(),
            }]);
        }
        if !has_type {
            // Only EPCIS events: lotline's registrar documents are not.
            q.conditions.push(
                EVENT_TYPES
                    .iter()
                    .map(|t| Term {
                        tag: tag::EVENT_TYPE,
                        value: (*t).to_owned(),
                    })
                    .collect(),
            );
        }
        canon.sort();
        let digest = Sha256::digest(canon.join("&").as_bytes());
        q.fingerprint.copy_from_slice(&digest[..8]);
        Ok(q)
    }

    /// Reads one page of at most `per_page` entries, after the page `token` (from a previous
    /// [`Page::next`]).
    pub fn page(
        &self,
        store: &Store,
        token: Option<&str>,
        per_page: usize,
    ) -> Result<Page, QueryError> {
        let (after, served) = match token {
            Some(t) => {
                let (pos, served) = self.read_token(t)?;
                (Some(pos), served)
            }
            None => (None, 0),
        };
        let mut want = per_page;
        if let Some(limit) = self.count_limit {
            want = want.min(limit.saturating_sub(served));
            if want == 0 {
                return Ok(Page::default());
            }
        }
        let (found, more) = if let Some(ids) = &self.event_ids {
            self.by_event_id(store, ids, after, want)?
        } else if self.order_by == OrderBy::RecordTime {
            self.by_record_time(store, after, want)?
        } else {
            self.by_event_time(store, after, want)?
        };
        if let Some(max) = self.max_count
            && token.is_none()
            && (found.len() > max || (found.len() == max && more.is_some()))
        {
            return Err(QueryError::TooMany(format!(
                "more than maxEventCount={max} events match"
            )));
        }
        let served_now = served + found.len();
        let limit_reached = self.count_limit.is_some_and(|l| served_now >= l);
        let next = match more {
            Some(pos) if !limit_reached => Some(self.token(pos, served_now)),
            _ => None,
        };
        Ok(Page {
            entries: found.into_iter().map(|(_, e)| e).collect(),
            next,
        })
    }

    /// Whether a stored event meets every condition (for subscriptions); `actor` is the actor
    /// that recorded it (from its entry meta), for `EQ_actor`. `MATCH_identifier` is decided on
    /// the event's EPCIS terms alone: an identifier under the identifier index and under no
    /// term of its entry would be found by the index and not here, but the profile reads its
    /// identifiers only from the lists the terms cover (`state::tag::IDENT`).
    pub fn matches(&self, entry: &Entry, actor: Option<&str>) -> bool {
        let event_ms = profile::parse_time_ms(
            entry
                .event
                .get("eventTime")
                .and_then(Value::as_str)
                .unwrap_or(""),
        );
        let Some(event_ms) = event_ms else {
            return false;
        };
        if event_ms < self.from_ms || event_ms >= self.until_ms {
            return false;
        }
        let record_ms = profile::parse_time_ms(&entry.record_time).unwrap_or(i64::MIN);
        if record_ms < self.record_from_ms || record_ms >= self.record_until_ms {
            return false;
        }
        if let Some(ids) = &self.event_ids {
            let id = entry
                .event
                .get("eventID")
                .and_then(Value::as_str)
                .and_then(EventId::parse);
            if !id.is_some_and(|id| ids.contains(&id)) {
                return false;
            }
        }
        let mut have: BTreeSet<Term> = terms::terms(&entry.event).into_iter().collect();
        let normal = vocab::normalise(&entry.event);
        if let Some(step) = normal.get("bizStep").and_then(Value::as_str) {
            have.insert(Term {
                tag: ledger_tag::BIZ_STEP,
                value: step.to_owned(),
            });
        }
        if let Some(a) = actor {
            have.insert(Term {
                tag: ledger_tag::ACTOR,
                value: a.to_owned(),
            });
        }
        self.conditions
            .iter()
            .all(|c| c.iter().any(|t| have.contains(t)))
            && self.sensor_ok(&entry.event)
    }

    fn sensor_ok(&self, event: &Value) -> bool {
        self.sensor.iter().all(|f| {
            event
                .get("sensorElementList")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|s| {
                    s.get("sensorReport")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                })
                .any(|r| {
                    // With EQ_type, the report compared is one of those types: a moisture
                    // reading in percent does not answer a question about humidity.
                    let typed = self.sensor_types.is_empty()
                        || r.get("type").and_then(Value::as_str).is_some_and(|t| {
                            self.sensor_types
                                .iter()
                                .any(|w| w == terms::measurement_type(t))
                        });
                    typed
                        && r.get("uom").and_then(Value::as_str) == Some(f.uom.as_str())
                        && r.get(f.field)
                            .and_then(Value::as_f64)
                            .is_some_and(|v| f.op.holds(v, f.bound))
                })
        })
    }

    /// Whether a candidate found through the indexes also meets what they do not decide.
    fn keeps(&self, entry: &Entry) -> bool {
        if self.record_from_ms != i64::MIN || self.record_until_ms != i64::MAX {
            let record_ms = profile::parse_time_ms(&entry.record_time).unwrap_or(i64::MIN);
            if record_ms < self.record_from_ms || record_ms >= self.record_until_ms {
                return false;
            }
        }
        self.sensor_ok(&entry.event)
    }

    fn cursors<'s>(&self, store: &'s Store, forward: bool) -> Vec<Union<'s>> {
        self.conditions
            .iter()
            .map(|c| Union {
                cursors: c
                    .iter()
                    .map(|t| store.index_cursor(state::index_prefix(t.tag, &t.value), forward))
                    .collect(),
                forward,
            })
            .collect()
    }

    /// The leapfrog join of every condition's index, in event-time order.
    fn by_event_time(
        &self,
        store: &Store,
        after: Option<Position>,
        want: usize,
    ) -> Result<Found, QueryError> {
        let forward = !self.descending;
        let mut unions = self.cursors(store, forward);
        // Suffixes are eventTime ‖ index, big-endian: a u128 orders them.
        let lo = suffix_of(self.from_ms, 0);
        let hi = suffix_of(self.until_ms, 0); // exclusive
        let mut target: u128 = match (after, forward) {
            (Some(Position::Suffix(s)), true) => s.saturating_add(1),
            (Some(Position::Suffix(s)), false) => match s.checked_sub(1) {
                Some(t) => t,
                None => return Ok((Vec::new(), None)),
            },
            (Some(_), _) => {
                return Err(QueryError::Token(
                    "the page token is not for this query".into(),
                ));
            }
            (None, true) => lo,
            (None, false) => match hi.checked_sub(1) {
                Some(t) => t,
                None => return Ok((Vec::new(), None)),
            },
        };
        let mut out = Vec::new();
        loop {
            // Seek every condition to the target until all agree.
            let mut agreed = true;
            for u in unions.iter_mut() {
                let Some(at) = u.seek(target)? else {
                    return Ok((out, None));
                };
                if at != target {
                    target = at;
                    agreed = false;
                    break;
                }
            }
            let in_range = if forward { target < hi } else { target >= lo };
            if !in_range {
                return Ok((out, None));
            }
            if !agreed {
                continue;
            }
            let index = target as u64;
            let entry = read_entry(store, index)?;
            if self.keeps(&entry) {
                if out.len() == want {
                    return Ok((out, Some(Position::Suffix(prev(target, forward)))));
                }
                out.push((Position::Suffix(target), entry));
            }
            target = match step(target, forward) {
                Some(t) => t,
                None => return Ok((out, None)),
            };
        }
    }

    /// Record-time order is log order. Without conditions beyond the event types, the log is
    /// read from the first entry of the record-time range; with conditions, their matches
    /// (at most [`MAX_SORTED`]) are sorted by entry index.
    fn by_record_time(
        &self,
        store: &Store,
        after: Option<Position>,
        want: usize,
    ) -> Result<Found, QueryError> {
        let after = match after {
            Some(Position::Index(i)) => Some(i),
            None => None,
            Some(_) => {
                return Err(QueryError::Token(
                    "the page token is not for this query".into(),
                ));
            }
        };
        let only_types = self.conditions.len() == 1
            && self.conditions[0].iter().all(|t| t.tag == tag::EVENT_TYPE);
        let mut indexes: Vec<u64> = if only_types {
            Vec::new()
        } else {
            let mut all = self.clone();
            all.order_by = OrderBy::EventTime;
            all.descending = false;
            all.count_limit = None;
            let mut found: Vec<u64> = Vec::new();
            let mut pos = None;
            loop {
                let (page, more) =
                    all.by_event_time_indexes(store, pos, MAX_SORTED + 1 - found.len())?;
                found.extend(page);
                if found.len() > MAX_SORTED {
                    return Err(QueryError::TooMany(format!(
                        "more than {MAX_SORTED} events match; orderBy=recordTime sorts at most that many — narrow the query or order by eventTime"
                    )));
                }
                match more {
                    Some(p) => pos = Some(p),
                    None => break,
                }
            }
            found.sort_unstable();
            if self.descending {
                found.reverse();
            }
            found
        };
        let mut out = Vec::new();
        if only_types {
            let size = store.size()?;
            let start = record_lower_bound(store, self.record_from_ms, size)?;
            let end = record_lower_bound(store, self.record_until_ms, size)?;
            let mut range: Box<dyn Iterator<Item = u64>> = if self.descending {
                Box::new((start..after.unwrap_or(end).min(end)).rev())
            } else {
                Box::new(after.map_or(start, |a| a + 1).max(start)..end)
            };
            let mut last = None;
            for i in &mut range {
                let e = read_entry(store, i)?;
                if self.is_epcis_match(&e) && self.keeps(&e) {
                    if out.len() == want {
                        return Ok((out, last.map(Position::Index)));
                    }
                    out.push((Position::Index(i), e));
                    last = Some(i);
                }
            }
            return Ok((out, None));
        }
        if let Some(a) = after {
            indexes.retain(|i| if self.descending { *i < a } else { *i > a });
        }
        for i in indexes {
            if out.len() == want {
                let last = match out.last() {
                    Some((Position::Index(l), _)) => *l,
                    _ => i,
                };
                return Ok((out, Some(Position::Index(last))));
            }
            out.push((Position::Index(i), read_entry(store, i)?));
        }
        Ok((out, None))
    }

    fn is_epcis_match(&self, e: &Entry) -> bool {
        let ty = e.event.get("type").and_then(Value::as_str).unwrap_or("");
        self.conditions[0].iter().any(|t| t.value == ty)
    }

    /// Matching entry indexes in event-time order, without reading entries the indexes alone
    /// decide (record time and sensor values are checked on the entry).
    fn by_event_time_indexes(
        &self,
        store: &Store,
        after: Option<Position>,
        want: usize,
    ) -> Result<(Vec<u64>, Option<Position>), QueryError> {
        let (found, more) = self.by_event_time(store, after, want)?;
        Ok((found.into_iter().map(|(_, e)| e.index).collect(), more))
    }

    fn by_event_id(
        &self,
        store: &Store,
        ids: &[EventId],
        after: Option<Position>,
        want: usize,
    ) -> Result<Found, QueryError> {
        let keys: Vec<_> = ids
            .iter()
            .map(|id| lotline_profile::event::IdKey {
                id: *id,
                declaration: false,
            })
            .collect();
        let mut indexes: Vec<u64> = store
            .event_ids(&keys)?
            .into_iter()
            .flatten()
            .map(|(i, _)| i)
            .collect();
        indexes.sort_unstable();
        indexes.dedup();
        let mut matched = Vec::new();
        for i in indexes {
            let e = read_entry(store, i)?;
            let actor = crate::state::query::StateReader::new(store)
                .meta(i)?
                .and_then(|m| m.actor);
            if self.matches(&e, actor.as_deref()) {
                let at = match self.order_by {
                    OrderBy::RecordTime => i as u128,
                    OrderBy::EventTime => {
                        let ms = profile::parse_time_ms(
                            e.event
                                .get("eventTime")
                                .and_then(Value::as_str)
                                .unwrap_or(""),
                        )
                        .unwrap_or(0);
                        suffix_of(ms, i)
                    }
                };
                matched.push((at, e));
            }
        }
        matched.sort_by_key(|(at, _)| *at);
        if self.descending {
            matched.reverse();
        }
        let start = match after {
            Some(Position::Suffix(s)) | Some(Position::Ordinal(s)) => s as usize,
            Some(Position::Index(i)) => i as usize,
            None => 0,
        };
        let rest: Vec<_> = matched.into_iter().skip(start).collect();
        let more = (rest.len() > want).then_some(Position::Ordinal((start + want) as u128));
        Ok((
            rest.into_iter()
                .take(want)
                .enumerate()
                .map(|(k, (_, e))| (Position::Ordinal((start + k) as u128), e))
                .collect(),
            more,
        ))
    }

    fn token(&self, pos: Position, served: usize) -> String {
        let (kind, v) = match pos {
            Position::Suffix(s) => ('s', s),
            Position::Index(i) => ('i', i as u128),
            Position::Ordinal(o) => ('o', o),
        };
        let fp: String = self
            .fingerprint
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{fp}.{kind}{v:032x}.{served}")
    }

    fn read_token(&self, t: &str) -> Result<(Position, usize), QueryError> {
        let wrong = || {
            QueryError::Token("nextPageToken is not a token of this query; repeat the query with the same parameters".into())
        };
        let mut parts = t.split('.');
        let (Some(fp), Some(pos), Some(served), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(wrong());
        };
        let own: String = self
            .fingerprint
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if fp != own || pos.len() != 33 {
            return Err(wrong());
        }
        let v = u128::from_str_radix(&pos[1..], 16).map_err(|_| wrong())?;
        let served = served.parse::<usize>().map_err(|_| wrong())?;
        let pos = match &pos[..1] {
            "s" => Position::Suffix(v),
            "i" => Position::Index(u64::try_from(v).map_err(|_| wrong())?),
            "o" => Position::Ordinal(v),
            _ => return Err(wrong()),
        };
        Ok((pos, served))
    }
}

/// An identifier as the ledger's identifier index keys it: an EPC or class URI (also raw RFID
/// or bare hex) or a Digital Link.
fn super_lookup(name: &str, s: &str) -> Result<String, ParamError> {
    if s.starts_with("http://") || s.starts_with("https://") || s.starts_with('/') {
        return gs1::digital_link::parse_digital_link(s)
            .map(|k| k.dl_path())
            .map_err(|e| bad(name, format!("{s:?}: {e}")));
    }
    profile::ident(s, "")
        .map(|i| i.key.clone())
        .map_err(|v| bad(name, v.message))
}

/// `EQ_source_<type>`, `EQ_destination_<type>`, `EQ_bizTransaction_<type>`.
fn typed_param(name: &str, values: &[String]) -> Result<Option<Vec<Term>>, ParamError> {
    let (t, ty, vocab_of) = if let Some(ty) = name.strip_prefix("EQ_source_") {
        (tag::SOURCE, ty, Vocab::SourceDestType)
    } else if let Some(ty) = name.strip_prefix("EQ_destination_") {
        (tag::DESTINATION, ty, Vocab::SourceDestType)
    } else if let Some(ty) = name.strip_prefix("EQ_bizTransaction_") {
        (tag::BIZ_TRANSACTION, ty, Vocab::BizTransactionType)
    } else {
        return Ok(None);
    };
    if ty.is_empty() {
        return Err(bad(
            name,
            "name the type after the underscore, e.g. EQ_source_owning_party",
        ));
    }
    let ty = terms::vocab_value(vocab_of, ty);
    Ok(Some(
        values
            .iter()
            .map(|v| Term {
                tag: t,
                value: terms::typed(
                    &ty,
                    &if t == tag::BIZ_TRANSACTION {
                        v.clone()
                    } else {
                        terms::location_key(v)
                    },
                ),
            })
            .collect(),
    ))
}

/// `EQ_value_<uom>`, `GE_value_<uom>`, `LT_minValue_<uom>`, … on sensor reports.
fn sensor_param(name: &str, value: &Value) -> Result<Option<SensorFilter>, ParamError> {
    let Some((op, rest)) = name.split_once('_') else {
        return Ok(None);
    };
    let op = match op {
        "EQ" => Cmp::Eq,
        "GT" => Cmp::Gt,
        "GE" => Cmp::Ge,
        "LT" => Cmp::Lt,
        "LE" => Cmp::Le,
        _ => return Ok(None),
    };
    let Some((field, uom)) = rest.split_once('_') else {
        return Ok(None);
    };
    let field = match field {
        "value" => "value",
        "minValue" => "minValue",
        "maxValue" => "maxValue",
        "meanValue" => "meanValue",
        "sDev" => "sDev",
        "percValue" => "percValue",
        _ => return Ok(None),
    };
    if !(2..=4).contains(&uom.len())
        || !uom
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(bad(name, format!("{uom:?} is not a UN/ECE unit code")));
    }
    let s = one_value(name, value)?;
    let bound = s
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| bad(name, format!("{s:?} is not a number")))?;
    Ok(Some(SensorFilter {
        field,
        uom: uom.to_owned(),
        op,
        bound,
    }))
}

/// The entries a walk found, each with its position, and where the next page starts.
type Found = (Vec<(Position, Entry)>, Option<Position>);

/// Where a page stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Position {
    /// An index suffix (eventTime ‖ entry index), for event-time order.
    Suffix(u128),
    /// An entry index, for record-time order.
    Index(u64),
    /// A place in a sorted list of looked-up events.
    Ordinal(u128),
}

/// One page of a query.
#[derive(Debug, Default)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// The token of the next page, if there is one.
    pub next: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Token(String),
    #[error("{0}")]
    TooMany(String),
}

/// All the cursors of one condition, read as one ordered stream.
struct Union<'s> {
    cursors: Vec<crate::store::IndexCursor<'s>>,
    forward: bool,
}

impl Union<'_> {
    /// Seeks every cursor to `target` and returns the nearest suffix in the direction, if any.
    fn seek(&mut self, target: u128) -> Result<Option<u128>, StoreError> {
        let key = target.to_be_bytes();
        let mut best: Option<u128> = None;
        for c in &mut self.cursors {
            c.seek(&key);
            c.status()?;
            if let Some(s) = c.suffix().and_then(|s| <[u8; 16]>::try_from(s).ok()) {
                let v = u128::from_be_bytes(s);
                best = Some(match best {
                    None => v,
                    Some(b) if self.forward => b.min(v),
                    Some(b) => b.max(v),
                });
            }
        }
        Ok(best)
    }
}

fn step(s: u128, forward: bool) -> Option<u128> {
    if forward {
        s.checked_add(1)
    } else {
        s.checked_sub(1)
    }
}

fn prev(s: u128, forward: bool) -> u128 {
    // The token names the last suffix served; the next page starts just past it.
    if forward {
        s.saturating_sub(1)
    } else {
        s.saturating_add(1)
    }
}

fn read_entry(store: &Store, index: u64) -> Result<Entry, StoreError> {
    let bytes = store
        .entry(index)?
        .ok_or_else(|| StoreError::Corrupt(format!("indexed entry {index} is missing")))?;
    Entry::parse(&bytes).map_err(|e| StoreError::Corrupt(format!("entry {index}: {e}")))
}

/// The first entry index whose record time is at least `ms` (record times never decrease
/// along the log): a binary search, O(log n) reads.
pub fn record_lower_bound(store: &Store, ms: i64, size: u64) -> Result<u64, StoreError> {
    if ms == i64::MIN {
        return Ok(0);
    }
    if ms == i64::MAX {
        return Ok(size);
    }
    let (mut lo, mut hi) = (0u64, size);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let t = profile::parse_time_ms(&read_entry(store, mid)?.record_time).unwrap_or(i64::MIN);
        if t < ms {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

// Answers.

const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

/// An EPC, class or location as a Digital Link on id.gs1.org, when it is a GS1 key.
fn as_digital_link(s: &str, location: bool) -> Option<String> {
    let key = if location {
        terms::location_key(s)
    } else {
        terms::epc_key(s)
    };
    key.starts_with('/')
        .then(|| format!("https://id.gs1.org{key}"))
}

/// Rewrites the identifiers of an event for `GS1-EPC-Format: Always_GS1_Digital_Link`.
pub fn to_digital_links(event: &mut Value) {
    let swap = |v: &mut Value, location: bool| {
        if let Some(s) = v.as_str()
            && let Some(dl) = as_digital_link(s, location)
        {
            *v = Value::String(dl);
        }
    };
    for list in ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] {
        if let Some(a) = event.get_mut(list).and_then(Value::as_array_mut) {
            a.iter_mut().for_each(|v| swap(v, false));
        }
    }
    if let Some(p) = event.get_mut("parentID") {
        swap(p, false);
    }
    for list in [
        "quantityList",
        "childQuantityList",
        "inputQuantityList",
        "outputQuantityList",
    ] {
        if let Some(a) = event.get_mut(list).and_then(Value::as_array_mut) {
            for q in a {
                if let Some(c) = q.get_mut("epcClass") {
                    swap(c, false);
                }
            }
        }
    }
    for f in ["readPoint", "bizLocation"] {
        if let Some(id) = event.get_mut(f).and_then(|l| l.get_mut("id")) {
            swap(id, true);
        }
    }
}

/// The event as an EPCISQueryDocument carries it, and its `lotline:entries` item.
fn shaped(e: &Entry, digital_link: bool) -> (Value, Value) {
    let mut event = e.event.clone();
    if let Some(o) = event.as_object_mut() {
        o.remove("proof");
    }
    if digital_link {
        to_digital_links(&mut event);
    }
    let summary = serde_json::json!({
        "index": e.index,
        "eventID": e.event.get("eventID"),
        "eventHash": lotline_profile::event_hash::event_hash_id(&e.event).ok(),
        "recordTime": e.record_time,
        "signer": e.signer,
    });
    (event, summary)
}

/// An `EPCISQueryDocument` of `entries`.
pub fn document(
    entries: &[Entry],
    digital_link: bool,
    query_name: &str,
    subscription: Option<&str>,
) -> Value {
    let (events, summaries): (Vec<Value>, Vec<Value>) =
        entries.iter().map(|e| shaped(e, digital_link)).unzip();
    let mut results = serde_json::json!({
        "queryName": query_name,
        "resultsBody": { "eventList": events },
    });
    if let Some(s) = subscription {
        results["subscriptionID"] = serde_json::json!(s);
    }
    serde_json::json!({
        "@context": [EPCIS_CONTEXT, {"lotline": "https://w3id.org/lotline#"}],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": lotline_profile::profile::format_time_ms(crate::ledger::now_ms()),
        "epcisBody": { "queryResults": results },
        "lotline:entries": summaries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(pairs: &[(&str, &str)]) -> Result<Query, ParamError> {
        let values: Vec<(String, Value)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        Query::parse(values.iter().map(|(k, v)| (k.as_str(), v)))
    }

    #[test]
    fn pipes_list_alternatives_and_forms_are_normalised() {
        let q = parse(&[("EQ_bizStep", "shipping|urn:epcglobal:cbv:bizstep:receiving")]).unwrap();
        let c = &q.conditions[0];
        assert_eq!(c.len(), 2);
        assert!(c.iter().all(|t| t.tag == ledger_tag::BIZ_STEP));
        assert_eq!(c[1].value, "receiving");
    }

    #[test]
    fn unknown_and_bad_parameters_are_named() {
        assert_eq!(
            parse(&[("EQ_bizstep", "x")]).unwrap_err().name,
            "EQ_bizstep"
        );
        assert_eq!(
            parse(&[("eventType", "Event")]).unwrap_err().name,
            "eventType"
        );
        assert_eq!(
            parse(&[("EQ_action", "add")]).unwrap_err().name,
            "EQ_action"
        );
        assert_eq!(
            parse(&[("GE_eventTime", "yesterday")]).unwrap_err().name,
            "GE_eventTime"
        );
        assert_eq!(
            parse(&[("MATCH_epc", "urn:epc:idpat:sgtin:0614141.107346.*")])
                .unwrap_err()
                .name,
            "MATCH_epc"
        );
        assert_eq!(parse(&[("orderBy", "size")]).unwrap_err().name, "orderBy");
        assert_eq!(
            parse(&[("eventCountLimit", "0")]).unwrap_err().name,
            "eventCountLimit"
        );
        assert_eq!(
            parse(&[("GE_value_celsius", "1")]).unwrap_err().name,
            "GE_value_celsius"
        );
        assert_eq!(
            parse(&[("EQ_source_", "x")]).unwrap_err().name,
            "EQ_source_"
        );
        assert!(
            parse(&[
                ("GE_value_CEL", "20.5"),
                ("EQ_source_owning_party", "urn:epc:id:pgln:0614141.00001")
            ])
            .is_ok()
        );
    }

    /// `MATCH_identifier` finds an EPC in any role in a stored event too (subscriptions and
    /// `EQ_eventID` decide with `matches`), the same as through the indexes.
    #[test]
    fn an_identifier_matches_an_event_naming_it_in_any_role() {
        let bag = "urn:epc:id:sgtin:9521141.012345.7";
        let entry = |list: &str| Entry {
            event: json!({
                "type": "AggregationEvent",
                "eventTime": "2026-06-01T08:00:00+07:00",
                "action": "ADD",
                "parentID": "urn:epc:id:sscc:9521141.0000000001",
                list: [bag],
            }),
            index: 7,
            prev_hash: [0; 32],
            record_time: "2026-06-01T01:00:01Z".into(),
            signer: "did:key:z6Mk".into(),
        };
        let by_uri = parse(&[("MATCH_identifier", bag)]).unwrap();
        let link = format!("https://id.gs1.org{}", terms::epc_key(bag));
        let by_link = parse(&[("MATCH_identifier", link.as_str())]);
        let other = parse(&[("MATCH_identifier", "urn:epc:id:sgtin:9521141.012345.8")]).unwrap();
        for q in [&by_uri, &by_link.unwrap()] {
            assert!(q.matches(&entry("childEPCs"), None));
        }
        assert!(!other.matches(&entry("childEPCs"), None));
        let parent = parse(&[("MATCH_identifier", "urn:epc:id:sscc:9521141.0000000001")]).unwrap();
        assert!(parent.matches(&entry("childEPCs"), None));
    }
}
