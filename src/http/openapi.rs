//! The OpenAPI 3.1 document of the HTTP API (`GET /openapi.json`), built with utoipa's typed
//! builders from the table of operations below, and the page that shows it (`GET /docs/api`).
//!
//! The table is next to the code it describes and is checked against it: a unit test compares
//! it with [`handlers::route_table`](super::handlers::route_table), the list of every route the
//! server registers, both ways, so a route cannot be added without a description or a
//! description outlive its route. Every problem code is in the `Problem` schema, with its
//! status, and every error answer points there. The event body is the profile's own envelope
//! schema (`schemas/event-envelope.schema.json`), the bundle the bundle schema: one source each.
//!
//! The document is built once, on first request, and served as bytes.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::http::header;
use serde_json::{Value, json};
use utoipa::openapi::path::{HttpMethod, Operation, OperationBuilder, Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    ComponentsBuilder, Content, InfoBuilder, OpenApiBuilder, Paths, Ref, RefOr, Required,
    ResponseBuilder, Schema,
};

use super::Code;
use lotline_profile::event;

/// A tile path as C2SP tlog-tiles spells it: level 0 to 63 or `entries`, the index, a partial
/// width 1 to 255 (the server also checks that the index has no leading `x000/` and fits 64
/// bits).
const TILE_PATH_PATTERN: &str = r"^([0-9]|[1-5][0-9]|6[0-3]|entries)/(x[0-9]{3}/)*[0-9]{3}(\.p/([1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$";

/// One operation of the table: what the builder needs, in a few words each.
struct Op {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    params: Vec<Parameter>,
    body: Option<(&'static [&'static str], Value, &'static str)>,
    ok: Vec<Answer>,
    errors: &'static [u16],
    audit: Audit,
    /// Takes the SimpleEventQuery parameters (described in the operation's text).
    event_query: bool,
}

/// A success answer: status, description, and its schema per media type.
type Answer = (u16, &'static str, Vec<(&'static str, Value)>);

/// Whether an operation needs an audit token.
#[derive(Clone, Copy, PartialEq)]
enum Audit {
    No,
    Required,
    /// Some forms of the request need one (the FSMA export: a lot's is public, a period's not).
    Optional,
}

fn op(method: &'static str, path: &'static str, id: &'static str, tag: &'static str) -> Op {
    Op {
        method,
        path,
        id,
        tag,
        summary: "",
        params: Vec::new(),
        body: None,
        ok: Vec::new(),
        errors: &[],
        audit: Audit::No,
        event_query: false,
    }
}

impl Op {
    fn summary(mut self, s: &'static str) -> Op {
        self.summary = s;
        self
    }
    /// A path parameter; every `{name}` of the path needs one.
    fn path_param(mut self, name: &'static str, schema: Value, doc: &'static str) -> Op {
        self.params
            .push(param(name, ParameterIn::Path, true, schema, doc));
        self
    }
    fn query(mut self, name: &'static str, schema: Value, doc: &'static str) -> Op {
        self.params
            .push(param(name, ParameterIn::Query, false, schema, doc));
        self
    }
    fn header(mut self, name: &'static str, schema: Value, doc: &'static str) -> Op {
        self.params
            .push(param(name, ParameterIn::Header, false, schema, doc));
        self
    }
    /// The request body: media types, schema, description.
    fn body(mut self, types: &'static [&'static str], schema: Value, doc: &'static str) -> Op {
        self.body = Some((types, schema, doc));
        self
    }
    /// A success answer with `status`, described, in the media types given.
    fn ok(mut self, status: u16, doc: &'static str, content: Vec<(&'static str, Value)>) -> Op {
        self.ok.push((status, doc, content));
        self
    }
    fn json(self, status: u16, doc: &'static str, schema: Value) -> Op {
        self.ok(status, doc, vec![("application/json", schema)])
    }
    fn errors(mut self, statuses: &'static [u16]) -> Op {
        self.errors = statuses;
        self
    }
    fn audit(mut self, a: Audit) -> Op {
        self.audit = a;
        self
    }
    /// The SimpleEventQuery parameters (`/v1/events`, `/events` and the resources' events).
    fn event_query(mut self) -> Op {
        self.event_query = true;
        for (name, schema, doc) in event_query_params() {
            self.params
                .push(param(name, ParameterIn::Query, false, schema, doc));
        }
        self
    }
    fn paging(self) -> Op {
        self.query("perPage", json!({"type": "integer", "minimum": 1, "maximum": 1000}), "results per page (default 100)")
            .query("nextPageToken", json!({"type": "string"}), "the token of the next page, from the previous answer's `Link` or `GS1-Next-Page-Token`")
    }
}

fn param(
    name: &'static str,
    at: ParameterIn,
    required: bool,
    schema: Value,
    doc: &'static str,
) -> Parameter {
    Parameter::builder()
        .name(name)
        .parameter_in(at)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(doc))
        .schema(Some(schema_of(schema)))
        .build()
}

/// A schema written as JSON; the literals here are all valid, so a failure is a bug in them.
fn schema_of(v: Value) -> RefOr<Schema> {
    if let Some(r) = v.get("$ref").and_then(Value::as_str) {
        return RefOr::Ref(Ref::new(r));
    }
    serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("a schema literal of the OpenAPI table: {e}: {v}"))
}

fn r(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn string() -> Value {
    json!({"type": "string"})
}

fn date_or_time() -> Value {
    json!({"type": "string", "description": "a date (YYYY-MM-DD, midnight UTC) or an RFC 3339 date-time"})
}

const EVENT_ID_DOC: &str = "an eventID (urn:uuid:… or a CBV 2.0 event hash ni:///sha-256;…)";
const LOT_ID_DOC: &str =
    "an LGTIN class, SGTIN (also raw RFID hex) or SSCC URI, or a GS1 Digital Link URI, URL-encoded";

/// The SimpleEventQuery parameters with a fixed name (the `EQ_source_{type}`-like families and
/// the value comparisons are described in the operation's text: a document cannot list them).
fn event_query_params() -> Vec<(&'static str, Value, &'static str)> {
    let list = "a value, or several separated by |";
    let time = "an RFC 3339 date-time";
    vec![
        (
            "eventType",
            string(),
            "ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent or AssociationEvent; several separated by |",
        ),
        (
            "EQ_action",
            json!({"type": "string"}),
            "ADD, OBSERVE or DELETE; several separated by |",
        ),
        ("EQ_bizStep", string(), list),
        ("EQ_disposition", string(), list),
        ("EQ_readPoint", string(), list),
        ("EQ_bizLocation", string(), list),
        ("GE_eventTime", string(), time),
        ("LT_eventTime", string(), time),
        ("GE_recordTime", string(), time),
        ("LT_recordTime", string(), time),
        ("MATCH_epc", string(), "EPCs in epcList or childEPCs"),
        ("MATCH_parentID", string(), list),
        ("MATCH_inputEPC", string(), list),
        ("MATCH_outputEPC", string(), list),
        ("MATCH_anyEPC", string(), list),
        (
            "MATCH_epcClass",
            string(),
            "classes in quantityList or childQuantityList",
        ),
        ("MATCH_inputEPCClass", string(), list),
        ("MATCH_outputEPCClass", string(), list),
        ("MATCH_anyEPCClass", string(), list),
        ("EQ_eventID", string(), list),
        (
            "EXISTS_sensorElementList",
            string(),
            "present: only events with sensor data",
        ),
        (
            "EQ_type",
            string(),
            "a sensor measurement type, in any CBV form",
        ),
        ("EQ_chemicalSubstance", string(), list),
        ("EQ_microorganism", string(), list),
        ("EQ_deviceID", string(), list),
        (
            "EQ_actor",
            string(),
            "the recording actor (lotline's own parameter)",
        ),
        (
            "orderBy",
            json!({"type": "string", "enum": ["eventTime", "recordTime"]}),
            "the sort key (default eventTime)",
        ),
        (
            "orderDirection",
            json!({"type": "string", "enum": ["ASC", "DESC"]}),
            "the sort order (default ASC)",
        ),
        (
            "eventCountLimit",
            json!({"type": "integer", "minimum": 1}),
            "at most this many events",
        ),
        (
            "maxEventCount",
            json!({"type": "integer", "minimum": 1}),
            "refuse the query (413 query_too_large) if more match",
        ),
        (
            "perPage",
            json!({"type": "integer", "minimum": 1, "maximum": 1000}),
            "events per page (default 100)",
        ),
        ("nextPageToken", string(), "the token of the next page"),
        (
            "format",
            json!({"type": "string", "enum": ["EPCISQueryDocument", "EPCISDocument"]}),
            "the answer's form (default EPCISQueryDocument)",
        ),
    ]
}

const EVENT_QUERY_TEXT: &str = "A GS1 EPCIS 2.0 SimpleEventQuery, every parameter answered from an index. Besides the parameters listed: `EQ_source_{type}`, `EQ_destination_{type}`, `EQ_bizTransaction_{type}`, and `EQ_`/`GT_`/`GE_`/`LT_`/`LE_` `value`, `minValue`, `maxValue`, `meanValue`, `sDev`, `percValue` `_{uom}` for sensor reports. Any other parameter is 400 invalid_parameter.";

/// Every operation the server answers.
fn operations() -> Vec<Op> {
    let event_body = r("SignedEvent");
    let epcis_query = r("EPCISQueryDocument");
    let ld = |s: Value| vec![("application/ld+json", s.clone()), ("application/json", s)];
    vec![
        // The log.
        op("get", "/", "index", "log").summary("An index of the API with links").json(200, "links to the resources", r("Index")),
        op("get", "/healthz", "health", "operations").summary("Liveness: the process answers").json(200, "alive", json!({"type": "object", "required": ["status"], "properties": {"status": {"type": "string", "enum": ["ok"]}}})),
        op("get", "/readyz", "ready", "operations").summary("Readiness: the ledger takes writes").json(200, "ready", json!({"type": "object", "required": ["status", "size"], "properties": {"status": {"type": "string", "enum": ["ready"]}, "size": {"type": "integer", "minimum": 0}}})).errors(&[503]),
        op("get", "/metrics", "metrics", "operations").summary("Prometheus metrics (text format 0.0.4)").ok(200, "the metrics", vec![("text/plain", string())]),
        op("get", "/openapi.json", "openapi", "operations").summary("This document").json(200, "the OpenAPI 3.1 document", json!({"type": "object"})),
        op("get", "/docs/api", "apiDocs", "operations").summary("This document as a page").ok(200, "an HTML page", vec![("text/html", string())]),
        op("get", "/v1/log", "logInfo", "log").summary("The log: origin, verifier key, size, checkpoint").json(200, "the log", r("LogInfo")),
        op("get", "/v1/checkpoint", "checkpoint", "log").summary("The latest signed checkpoint (a C2SP signed note)").ok(200, "the checkpoint note", vec![("text/plain", string())]).ok(304, "not modified: the If-None-Match ETag is current", vec![]),
        op("get", "/tlog/checkpoint", "tlogCheckpoint", "log").summary("The latest signed checkpoint, at the C2SP tlog-tiles prefix /tlog/ (the same note as /v1/checkpoint)").ok(200, "the checkpoint note", vec![("text/plain", string())]).ok(304, "not modified: the If-None-Match ETag is current", vec![]),
        op("get", "/tlog/tile/{path}", "tlogTile", "log").summary("A C2SP tlog-tiles resource: a hash tile <L>/<N>[.p/<W>] (256 or W hashes of 32 bytes) or an entry bundle entries/<N>[.p/<W>] (each entry's canonical bytes after a big-endian 16-bit length); served once the latest checkpoint covers it, and never changed")
            .path_param("path", json!({"type": "string", "pattern": TILE_PATH_PATTERN}), "the tile's path below /tlog/tile/, in its only spelling: e.g. 0/x001/x234/067, 1/000.p/17, entries/000")
            .ok(200, "the tile's hashes, or the entry bundle", vec![("application/octet-stream", json!({"type": "string", "contentMediaType": "application/octet-stream"}))]).errors(&[400, 404, 422]),
        op("get", "/v1/entries/{index}", "getEntry", "log").summary("An entry and its receipt")
            .path_param("index", json!({"type": "integer", "minimum": 0}), "the entry's index")
            .json(200, "the entry", r("Entry")).errors(&[400, 404]),
        op("get", "/v1/entries/{index}/proof", "getEntryProof", "log").summary("The entry's tlog-proof file (C2SP): its inclusion proof and a checkpoint; waits up to two checkpoint intervals for one covering it")
            .path_param("index", json!({"type": "integer", "minimum": 0}), "the entry's index")
            .ok(200, "the tlog-proof", vec![("text/plain", string())]).errors(&[400, 404, 503]),
        op("get", "/v1/proofs/inclusion/{index}", "inclusionProof", "log").summary("An RFC 9162 inclusion proof")
            .path_param("index", json!({"type": "integer", "minimum": 0}), "the entry's index")
            .query("treeSize", json!({"type": "integer", "minimum": 1}), "the tree size (default: the checkpoint's)")
            .json(200, "the proof", r("InclusionProof")).ok(304, "not modified: the If-None-Match ETag is current", vec![]).errors(&[400, 404]),
        op("get", "/v1/proofs/consistency", "consistencyProof", "log").summary("An RFC 9162 consistency proof between two tree sizes")
            .query("from", json!({"type": "integer", "minimum": 1}), "the older tree size")
            .query("to", json!({"type": "integer", "minimum": 1}), "the newer tree size (default: the checkpoint's)")
            .json(200, "the proof", r("ConsistencyProof")).errors(&[400]),
        op("get", "/v1/schemas/{name}", "getSchema", "log").summary("A JSON Schema of the lotline profile")
            .path_param("name", json!({"type": "string", "enum": event::SCHEMAS.iter().map(|(n, _)| *n).collect::<Vec<_>>()}), "the schema's name")
            .ok(200, "the schema", vec![("application/schema+json", json!({"type": "object"}))]).errors(&[404]),
        // Events.
        op("post", "/v1/events", "submitEvent", "events").summary("Log one signed event; answered once it is durable")
            .body(&["application/json"], event_body.clone(), "an EPCIS 2.0 event or a registrar document, with its eddsa-jcs-2022 proof")
            .json(201, "logged: the receipt (Location: /v1/entries/{index})", r("Receipt"))
            .json(200, "the same event was logged before: its original receipt", r("Receipt"))
            .errors(&[307, 400, 409, 413, 415, 422, 503]),
        op("get", "/v1/events", "queryEvents", "events").summary("Query events (EPCIS REST style)").event_query()
            .query("format", json!({"type": "string", "enum": ["EPCISQueryDocument", "EPCISDocument"]}), "the answer's form (default EPCISQueryDocument)")
            .ok(200, "an EPCISQueryDocument, or with format=EPCISDocument a download", vec![("application/json", epcis_query.clone()), ("application/ld+json", r("EPCISDocument"))]).errors(&[400, 413]),
        op("post", "/v1/events/batch", "submitBatch", "events").summary("Log up to max_batch signed events; each gets its receipt or its problem")
            .body(&["application/json"], json!({"type": "array", "items": {"description": "a signed event (SignedEvent); each item is judged on its own, and one that is not an event is refused in its place in the results"}}), "a JSON array of signed events")
            .json(200, "each event's outcome, in order", r("BatchResult")).errors(&[307, 400, 413, 415, 503]),
        op("get", "/v1/events/{event_id}", "getEvent", "events").summary("An event's entry and receipt by eventID")
            .path_param("event_id", string(), EVENT_ID_DOC).json(200, "the entry", r("Entry")).errors(&[400, 404]),
        op("post", "/v1/rfid/decode", "decodeRfid", "events").summary("Decode RFID EPC bank hex (GS1 Tag Data Standard)")
            .body(&["application/json"], json!({"type": "array", "items": {"description": "an EPC bank's contents as a hex string; anything else gets an error in its place"}}), "EPC bank contents as hex strings")
            .json(200, "per tag, in order, its identities or an error", json!({"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {"type": "object"}}}})).errors(&[400, 413, 415]),
        // Lots.
        op("get", "/v1/lots/{id}", "getLot", "lots").summary("A lot, tagged item or logistic unit: product, quantities, custodian, origin, its events")
            .path_param("id", string(), LOT_ID_DOC).json(200, "the lot", json!({"type": "object"})).errors(&[400, 404]),
        op("get", "/v1/lots/{id}/provenance", "getProvenance", "lots").summary("The lot's verified provenance: origin, custody, timeline, verdict, proofs")
            .path_param("id", string(), LOT_ID_DOC).json(200, "the provenance", r("Provenance")).ok(304, "not modified: the If-None-Match ETag is current", vec![]).errors(&[400, 404, 422, 503]),
        op("get", "/v1/lots/{id}/bundle", "getBundle", "lots").summary("The offline proof bundle (check it with `lotline verify`)")
            .path_param("id", string(), LOT_ID_DOC).json(200, "the bundle, a download", r("ProvenanceBundle")).ok(304, "not modified: the If-None-Match ETag is current", vec![]).errors(&[400, 404, 422, 503]),
        op("get", "/v1/lots/{id}/epcis", "getLotEpcis", "lots").summary("The lot's history as an EPCIS 2.0 EPCISDocument download")
            .path_param("id", string(), LOT_ID_DOC).ok(200, "the document", ld(r("EPCISDocument"))).errors(&[400, 404, 422, 503]),
        op("get", "/v1/lots/{id}/qr.svg", "getQrSvg", "lots").summary("The QR code of the lot's Digital Link, as SVG")
            .path_param("id", string(), LOT_ID_DOC).ok(200, "the QR code", vec![("image/svg+xml", string())]).ok(304, "not modified: the If-None-Match ETag is current", vec![]).errors(&[400, 404]),
        op("get", "/v1/lots/{id}/qr.png", "getQrPng", "lots").summary("The QR code of the lot's Digital Link, as PNG")
            .path_param("id", string(), LOT_ID_DOC)
            .query("px", json!({"type": "integer", "minimum": 1, "maximum": 40}), "pixels per module (default 8)")
            .ok(200, "the QR code", vec![("image/png", json!({"type": "string", "format": "binary"}))]).ok(304, "not modified: the If-None-Match ETag is current", vec![]).errors(&[400, 404]),
        op("get", "/v1/epcs/{epc}/events", "epcEvents", "lots").summary("The events naming an EPC or class")
            .path_param("epc", string(), "an EPC or class URI, or raw RFID hex").paging()
            .query("format", json!({"type": "string", "enum": ["EPCISQueryDocument", "EPCISDocument"]}), "the answer's form")
            .ok(200, "an EPCISQueryDocument", vec![("application/json", epcis_query.clone()), ("application/ld+json", r("EPCISDocument"))]).errors(&[400, 404]),
        op("get", "/v1/export/fsma204.csv", "fsma204", "lots").summary("FSMA 204 Key Data Elements as CSV: of a lot (public), or of an operator or everyone over a period (audit token)")
            .query("lot", string(), LOT_ID_DOC).query("operator", string(), "an actor id")
            .query("from", date_or_time(), "start of the period (inclusive)").query("to", date_or_time(), "end of the period (exclusive)")
            .query("access_token", string(), "the audit token, for browsers (else the Authorization header)")
            .ok(200, "the CSV, a download", vec![("text/csv", string())]).errors(&[400, 401, 403, 404, 422]).audit(Audit::Optional),
        op("get", "/01/{gtin}/10/{lot}", "resolveLot", "lots").summary("GS1 Digital Link of a lot: the buyer page, or the provenance as JSON")
            .path_param("gtin", string(), "the GTIN").path_param("lot", string(), "the batch/lot number")
            .query("linkType", string(), "gs1:traceability for the provenance JSON")
            .ok(200, "the buyer page, or with Accept: application/json the provenance", vec![("text/html", string()), ("application/json", r("Provenance"))]).ok(304, "not modified: the If-None-Match ETag is current", vec![]).errors(&[400, 404, 503]),
        op("get", "/01/{gtin}/21/{serial}", "resolveItem", "lots").summary("GS1 Digital Link of a tagged item: the buyer page, or the provenance as JSON")
            .path_param("gtin", string(), "the GTIN").path_param("serial", string(), "the serial number")
            .query("linkType", string(), "gs1:traceability for the provenance JSON")
            .ok(200, "the buyer page, or with Accept: application/json the provenance", vec![("text/html", string()), ("application/json", r("Provenance"))]).ok(304, "not modified: the If-None-Match ETag is current", vec![]).errors(&[400, 404, 503]),
        op("get", "/00/{sscc}", "resolveUnit", "lots").summary("GS1 Digital Link of a logistic unit: the buyer page, or the provenance as JSON")
            .path_param("sscc", string(), "the SSCC")
            .query("linkType", string(), "gs1:traceability for the provenance JSON")
            .ok(200, "the buyer page, or with Accept: application/json the provenance", vec![("text/html", string()), ("application/json", r("Provenance"))]).ok(304, "not modified: the If-None-Match ETag is current", vec![]).errors(&[400, 404, 503]),
        // Actors and certificates.
        op("get", "/v1/actors/{id}", "getActor", "actors").summary("An actor with its role and key history")
            .path_param("id", string(), "the actor id").json(200, "the actor", json!({"type": "object"})).errors(&[404]),
        op("get", "/v1/actors/{id}/certificates", "actorCertificates", "actors").summary("The certificates an actor holds and those it issued")
            .path_param("id", string(), "the actor id").query("at", date_or_time(), "standing at this time (default now)")
            .json(200, "held and issued", json!({"type": "object", "required": ["held", "issued"]})).errors(&[400, 404]),
        op("get", "/v1/certificates/{id}", "getCertificate", "actors").summary("A certificate: content, standing at a time, history")
            .path_param("id", string(), "the certificate's URI, URL-encoded").query("at", date_or_time(), "standing at this time (default now)")
            .json(200, "the certificate", json!({"type": "object"})).errors(&[400, 404]),
        // Audits.
        op("get", "/v1/audit/lots/{id}/downstream", "downstream", "audit").summary("Recall trace: everything made from or shipped with the lot")
            .path_param("id", string(), LOT_ID_DOC).query("maxNodes", json!({"type": "integer", "minimum": 1}), "refuse traces larger than this (default 10,000)")
            .query("access_token", string(), "the audit token, for browsers")
            .json(200, "the trace", json!({"type": "object", "required": ["root", "summary"]})).errors(&[400, 401, 403, 404, 422]).audit(Audit::Required),
        op("get", "/v1/audit/certificates/{id}/impact", "withdrawalImpact", "audit").summary("What a certificate's withdrawal as of a date touches")
            .path_param("id", string(), "the certificate's URI, URL-encoded").query("asOf", date_or_time(), "the withdrawal's effective time")
            .query("access_token", string(), "the audit token, for browsers")
            .json(200, "the impact", json!({"type": "object"})).errors(&[400, 401, 403, 404, 422]).audit(Audit::Required),
        op("get", "/v1/audit/operators/{id}/mass-balance", "massBalance", "audit").summary("A certifier's mass balance of one operator over a period")
            .path_param("id", string(), "the operator's actor id")
            .query("from", date_or_time(), "start (inclusive; default the beginning)").query("to", date_or_time(), "end (exclusive; default now)")
            .query("product", string(), "one product only").query("access_token", string(), "the audit token, for browsers")
            .json(200, "the mass balance", json!({"type": "object"})).errors(&[400, 401, 403, 404]).audit(Audit::Required),
        op("get", "/v1/audit/operators/{id}/report", "massBalanceReport", "audit").summary("The mass balance as a printable page")
            .path_param("id", string(), "the operator's actor id")
            .query("from", date_or_time(), "start (inclusive)").query("to", date_or_time(), "end (exclusive)")
            .query("product", string(), "one product only").query("access_token", string(), "the audit token, for browsers")
            .ok(200, "the report", vec![("text/html", string())]).errors(&[400, 401, 403, 404]).audit(Audit::Required),
        // GS1 EPCIS 2.0 REST binding.
        op("post", "/capture", "capture", "EPCIS 2.0").summary("Capture an EPCISDocument of signed events as a job")
            .header("GS1-Capture-Error-Behaviour", json!({"type": "string", "enum": ["rollback", "proceed"]}), "rollback (default): every event or none; proceed: every event accepted")
            .body(&["application/ld+json", "application/json"], r("EPCISDocument"), "an EPCISDocument whose events carry lotline's eddsa-jcs-2022 proofs")
            .json(202, "the job, at Location: /capture/{captureID}", json!({"type": "object", "required": ["captureID"], "properties": {"captureID": {"type": "string"}, "location": {"type": "string"}}}))
            .errors(&[307, 400, 413, 415, 503]),
        op("get", "/capture", "listCaptures", "EPCIS 2.0").summary("This node's newest 100 capture jobs").json(200, "the jobs", json!({"type": "array", "items": r("CaptureJob")})),
        op("options", "/capture", "captureOptions", "EPCIS 2.0").summary("The capture limits (GS1-EPCIS-Capture-Limit, GS1-EPCIS-Capture-File-Size-Limit)").ok(204, "the limits, in headers", vec![]),
        op("get", "/capture/{capture_id}", "getCapture", "EPCIS 2.0").summary("A capture job and each event's outcome")
            .path_param("capture_id", string(), "the captureID").json(200, "the job", r("CaptureJob")).errors(&[404]),
        op("post", "/events", "captureEvent", "EPCIS 2.0").summary("Capture one signed event")
            .body(&["application/ld+json", "application/json"], event_body, "one EPCIS 2.0 event with its eddsa-jcs-2022 proof")
            .json(201, "logged (Location: /events/{eventID})", r("Receipt")).json(200, "logged before: the original receipt", r("Receipt"))
            .errors(&[307, 400, 409, 413, 415, 422, 503]),
        op("get", "/events", "epcisEvents", "EPCIS 2.0").summary("SimpleEventQuery").event_query()
            .ok(200, "an EPCISQueryDocument", vec![("application/json", epcis_query.clone()), ("application/ld+json", r("EPCISDocument"))]).errors(&[400, 413]),
        op("get", "/events/{segment}", "eventsOf", "EPCIS 2.0").summary("The events of one type (ObjectEvent, …), or one event by eventID")
            .path_param("segment", string(), "an EPCIS event type or an eventID").event_query()
            .ok(200, "an EPCISQueryDocument, or the event as signed", vec![("application/json", json!({"type": "object"})), ("application/ld+json", r("EPCISDocument"))]).errors(&[400, 404, 413]),
        op("get", "/eventTypes", "eventTypes", "EPCIS 2.0").summary("The EPCIS event types").json(200, "the types", json!({"type": "array", "items": {"type": "string"}})),
        op("get", "/epcs", "listEpcs", "EPCIS 2.0").summary("The EPCs in use, as Digital Links").paging().json(200, "a page of values", json!({"type": "array"})).errors(&[400]),
        op("get", "/bizSteps", "listBizSteps", "EPCIS 2.0").summary("The business steps in use").paging().json(200, "a page of values", json!({"type": "array"})).errors(&[400]),
        op("get", "/bizLocations", "listBizLocations", "EPCIS 2.0").summary("The business locations in use").paging().json(200, "a page of values", json!({"type": "array"})).errors(&[400]),
        op("get", "/readPoints", "listReadPoints", "EPCIS 2.0").summary("The read points in use").paging().json(200, "a page of values", json!({"type": "array"})).errors(&[400]),
        op("get", "/dispositions", "listDispositions", "EPCIS 2.0").summary("The dispositions in use").paging().json(200, "a page of values", json!({"type": "array"})).errors(&[400]),
        op("get", "/{resource}/{id}/events", "resourceEvents", "EPCIS 2.0").summary("The events with one value of a resource (/epcs/{epc}/events is MATCH_anyEPC)")
            .path_param("resource", json!({"type": "string", "enum": ["eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints", "dispositions"]}), "the resource")
            .path_param("id", string(), "the value, URL-encoded").event_query()
            .ok(200, "an EPCISQueryDocument", vec![("application/json", epcis_query.clone()), ("application/ld+json", r("EPCISDocument"))]).errors(&[400, 404, 413]),
        op("post", "/queries", "createQuery", "EPCIS 2.0").summary("Save a named query")
            .body(&["application/json"], json!({"type": "object", "required": ["name", "query"], "properties": {"name": {"type": "string"}, "query": {"type": "object", "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}}}}), "the query's name and SimpleEventQuery parameters")
            .json(201, "saved (Location: /queries/{name})", r("NamedQuery")).errors(&[400, 409, 413, 415]),
        op("get", "/queries", "listQueries", "EPCIS 2.0").summary("The named queries").json(200, "the queries", json!({"type": "array", "items": r("NamedQuery")})),
        op("get", "/queries/{name}", "getQuery", "EPCIS 2.0").summary("A named query").path_param("name", string(), "the query's name").json(200, "the query", r("NamedQuery")).errors(&[404]),
        op("delete", "/queries/{name}", "deleteQuery", "EPCIS 2.0").summary("Delete a named query and its subscriptions").path_param("name", string(), "the query's name").ok(204, "deleted", vec![]).errors(&[404]),
        op("get", "/queries/{name}/events", "queryResults", "EPCIS 2.0").summary("A named query's results, paged; with Upgrade: websocket, a stream of new matches")
            .path_param("name", string(), "the query's name").paging()
            .json(200, "an EPCISQueryDocument", epcis_query).errors(&[400, 404, 413]),
        op("post", "/queries/{name}/subscriptions", "subscribe", "EPCIS 2.0").summary("Subscribe a webhook to a named query")
            .path_param("name", string(), "the query's name")
            .body(&["application/json"], json!({"type": "object", "required": ["dest"], "properties": {"dest": {"type": "string", "format": "uri"}, "signatureToken": {"type": "string"}, "initialRecordTime": {"type": "string"}, "stream": {"type": "boolean"}}}), "where to deliver, and how to sign")
            .json(201, "subscribed", r("Subscription")).errors(&[400, 404, 413, 415]),
        op("get", "/queries/{name}/subscriptions", "listSubscriptions", "EPCIS 2.0").summary("A named query's subscriptions").path_param("name", string(), "the query's name")
            .json(200, "the subscriptions", json!({"type": "array", "items": r("Subscription")})).errors(&[404]),
        op("get", "/queries/{name}/subscriptions/{id}", "getSubscription", "EPCIS 2.0").summary("A subscription with its delivery state")
            .path_param("name", string(), "the query's name").path_param("id", string(), "the subscription's id")
            .json(200, "the subscription", r("Subscription")).errors(&[404]),
        op("delete", "/queries/{name}/subscriptions/{id}", "deleteSubscription", "EPCIS 2.0").summary("Delete a subscription")
            .path_param("name", string(), "the query's name").path_param("id", string(), "the subscription's id")
            .ok(204, "deleted", vec![]).errors(&[404]),
    ]
}

/// The named schemas the operations refer to (besides `SignedEvent` and `ProvenanceBundle`, which
/// are the profile's own schema files, spliced in by [`build`]).
fn schemas_table() -> Vec<(&'static str, Value)> {
    let hash = json!({"type": "string", "description": "a SHA-256 hash, base64"});
    vec![
        ("Problem", problem_schema()),
        (
            "Receipt",
            json!({
                "type": "object",
                "description": "What the ledger gives for a logged event: where it is and what it hashes to.",
                "required": ["index", "entryHash", "leafHash", "eventID", "recordTime"],
                "properties": {
                    "index": {"type": "integer", "minimum": 0},
                    "entryHash": hash, "leafHash": hash,
                    "eventID": {"type": "string"},
                    "recordTime": {"type": "string", "format": "date-time"},
                    "eventHash": {"type": "string", "description": "the CBV 2.0 event hash ID (ni:///sha-256;…?ver=CBV2.0) of an EPCIS event"}
                }
            }),
        ),
        (
            "Entry",
            json!({"type": "object", "required": ["receipt", "entry"], "properties": {"receipt": r("Receipt"), "entry": {"type": "object", "description": "the log entry: index, previous entry's hash, record time, signer and the signed event"}}}),
        ),
        (
            "LogInfo",
            json!({
                "type": "object",
                "required": ["origin", "verifierKey", "size", "checkpoint"],
                "properties": {
                    "origin": {"type": "string"}, "verifierKey": {"type": "string", "description": "the C2SP note verifier key of the log"},
                    "size": {"type": "integer", "minimum": 0},
                    "checkpoint": {"type": "object", "required": ["size", "rootHash"], "properties": {"size": {"type": "integer", "minimum": 0}, "rootHash": hash}},
                    "replica": {"type": "object", "properties": {"role": {"enum": ["sequencer", "follower"]}, "sequencer": {"type": ["string", "null"]}}}
                }
            }),
        ),
        (
            "InclusionProof",
            json!({"type": "object", "required": ["index", "treeSize", "leafHash", "rootHash", "hashes"], "properties": {"index": {"type": "integer"}, "treeSize": {"type": "integer"}, "leafHash": hash, "rootHash": hash, "hashes": {"type": "array", "items": hash}}}),
        ),
        (
            "ConsistencyProof",
            json!({"type": "object", "required": ["from", "to", "fromRootHash", "toRootHash", "hashes"], "properties": {"from": {"type": "integer"}, "to": {"type": "integer"}, "fromRootHash": hash, "toRootHash": hash, "hashes": {"type": "array", "items": hash}}}),
        ),
        (
            "BatchResult",
            json!({
                "type": "object",
                "required": ["accepted", "rejected", "results"],
                "properties": {
                    "accepted": {"type": "integer", "minimum": 0}, "rejected": {"type": "integer", "minimum": 0},
                    "results": {"type": "array", "items": {"type": "object", "required": ["status"], "properties": {"status": {"type": "integer"}, "receipt": r("Receipt"), "problem": r("Problem")}}}
                }
            }),
        ),
        (
            "EPCISQueryDocument",
            json!({"type": "object", "description": "GS1 EPCIS 2.0 EPCISQueryDocument (JSON-LD)", "required": ["type"], "properties": {"type": {"const": "EPCISQueryDocument"}, "epcisBody": {"type": "object"}}}),
        ),
        (
            "EPCISDocument",
            json!({"type": "object", "description": "GS1 EPCIS 2.0 EPCISDocument (JSON-LD); lotline's events carry their eddsa-jcs-2022 proof", "required": ["type"], "properties": {"type": {"const": "EPCISDocument"}, "epcisBody": {"type": "object", "properties": {"eventList": {"type": "array", "items": {"type": "object"}}}}}}),
        ),
        (
            "Provenance",
            json!({"type": "object", "description": "A lot's provenance with its verdict, derived and checked from the bundle on every request", "required": ["verdict"], "properties": {"verdict": {"type": "object"}}}),
        ),
        (
            "CaptureJob",
            json!({"type": "object", "required": ["captureID", "running"], "properties": {"captureID": {"type": "string"}, "createdAt": {"type": "string"}, "finishedAt": {"type": ["string", "null"]}, "running": {"type": "boolean"}, "success": {"type": ["boolean", "null"]}, "captureErrorBehaviour": {"enum": ["rollback", "proceed"]}, "eventCount": {"type": "integer"}, "errors": {"type": "array", "items": r("Problem")}, "events": {"type": "array", "items": {"type": "object"}}}}),
        ),
        (
            "NamedQuery",
            json!({"type": "object", "required": ["name", "query"], "properties": {"name": {"type": "string"}, "query": {"type": "object"}}}),
        ),
        (
            "Subscription",
            json!({"type": "object", "required": ["subscriptionID"], "properties": {"subscriptionID": {"type": "string"}, "dest": {"type": "string"}, "cursor": {"type": "integer"}, "delivered": {"type": "integer"}}}),
        ),
        (
            "Index",
            json!({"type": "object", "required": ["service", "origin", "size", "links"], "properties": {"service": {"const": "lotline"}, "origin": {"type": "string"}, "size": {"type": "integer"}, "links": {"type": "object"}}}),
        ),
    ]
}

/// Every problem code with its status and title, the one list clients branch on.
fn problem_schema() -> Value {
    let codes: Vec<&str> = Code::all().map(Code::as_str).collect();
    let table: Vec<Value> = Code::all()
        .map(|c| {
            let (status, title) = c.meta();
            json!({"code": c.as_str(), "status": status, "title": title})
        })
        .collect();
    json!({
        "type": "object",
        "description": "An RFC 9457 problem. `code` is stable: branch on it, not on the text. `x-lotline-codes` lists every code with its status and title.",
        "required": ["type", "title", "status", "detail", "code"],
        "properties": {
            "type": {"type": "string", "pattern": "^urn:lotline:problem:[a-z_]+$"},
            "title": {"type": "string"},
            "status": {"type": "integer", "minimum": 300, "maximum": 599},
            "detail": {"type": "string", "description": "what went wrong and what to do, for a person"},
            "code": {"type": "string", "enum": codes},
            "requestId": {"type": "string", "description": "the request's X-Request-ID, to quote to an operator"},
            "pointer": {"type": "string", "description": "RFC 6901 pointer into the submitted JSON"},
            "rule": {"type": "string", "description": "the profile rule broken (schemas/README.md)"},
            "location": {"type": "string", "description": "not_sequencer: the node that takes writes"},
            "eventIndex": {"type": "integer", "description": "in a capture job: the event's place in eventList"},
            "eventID": {"type": "string"}
        },
        "x-lotline-codes": table,
    })
}

/// The codes answered with `status`, for the response's description.
fn codes_with(status: u16) -> String {
    let codes: Vec<&str> = Code::all()
        .filter(|c| c.meta().0 == status)
        .map(Code::as_str)
        .collect();
    format!("problem codes: {}", codes.join(", "))
}

fn operation(o: &Op) -> Operation {
    let mut b = OperationBuilder::new()
        .operation_id(Some(o.id))
        .tag(o.tag)
        .summary(Some(o.summary))
        .parameters(Some(o.params.clone()));
    if o.event_query {
        b = b.description(Some(EVENT_QUERY_TEXT));
    }
    if let Some((types, schema, doc)) = &o.body {
        let mut rb = RequestBodyBuilder::new()
            .description(Some(*doc))
            .required(Some(Required::True));
        for t in *types {
            rb = rb.content(*t, Content::new(Some(schema_of(schema.clone()))));
        }
        b = b.request_body(Some(rb.build()));
    }
    for (status, doc, content) in &o.ok {
        let mut resp = ResponseBuilder::new().description(*doc);
        for (t, s) in content {
            resp = resp.content(*t, Content::new(Some(schema_of(s.clone()))));
        }
        b = b.response(status.to_string(), resp.build());
    }
    let problem = || Content::new(Some(schema_of(r("Problem"))));
    for status in o.errors {
        let mut resp = ResponseBuilder::new()
            .description(codes_with(*status))
            .content("application/problem+json", problem());
        if o.path.starts_with("/01/") || o.path.starts_with("/00/") {
            // A browser asking for an identifier gets a page, not JSON.
            resp = resp.content("text/html", Content::new(Some(schema_of(string()))));
        }
        b = b.response(status.to_string(), resp.build());
    }
    b = b.response(
        "default",
        ResponseBuilder::new()
            .description("any other problem: 405 method_not_allowed, 413 payload_too_large, 500 internal, 503 overloaded")
            .content("application/problem+json", problem())
            .build(),
    );
    match o.audit {
        Audit::No => {}
        Audit::Required => {
            b = b.security(SecurityRequirement::new("auditToken", Vec::<String>::new()));
        }
        Audit::Optional => {
            b = b
                .security(SecurityRequirement::default())
                .security(SecurityRequirement::new("auditToken", Vec::<String>::new()));
        }
    }
    b.build()
}

fn method(m: &str) -> HttpMethod {
    match m {
        "get" => HttpMethod::Get,
        "post" => HttpMethod::Post,
        "delete" => HttpMethod::Delete,
        "options" => HttpMethod::Options,
        other => unreachable!("no {other} operations in the table"),
    }
}

/// The document, as JSON.
pub fn build() -> Value {
    let mut paths = Paths::new();
    for o in operations() {
        paths.add_path_operation(o.path, vec![method(o.method)], operation(&o));
    }
    let components = ComponentsBuilder::new().security_scheme(
        "auditToken",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("lotline audit token (lotline audit-token)")
                .description(Some("An audit token, signed with eddsa-jcs-2022 by a certifier's or registrar's key, as `Authorization: Bearer`; browsers may send it as `access_token`."))
                .build(),
        ),
    );
    let doc = OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("lotline")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some("A farm-to-export traceability ledger: signed GS1 EPCIS 2.0 events in an append-only, Merkle-proved log. Every error is an RFC 9457 problem (application/problem+json) with a stable code; every answer carries X-Request-ID."))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .tags(Some(
            [
                ("log", "The log, its checkpoints and proofs"),
                ("events", "Submitting and querying signed events"),
                ("lots", "Lots, their provenance, bundles, exports and labels"),
                ("actors", "Actors and certificates"),
                ("audit", "Audit views (audit token)"),
                ("EPCIS 2.0", "GS1's EPCIS 2.0 REST binding"),
                ("operations", "Health, readiness, metrics and this document"),
            ]
            .map(|(n, d)| TagBuilder::new().name(n).description(Some(d)).build()),
        ))
        .build();
    let mut v = serde_json::to_value(&doc).expect("the document serialises");
    // The named schemas are JSON Schema 2020-12, as OpenAPI 3.1's are, and are spliced in as
    // written: utoipa's schema type does not model every keyword they use (`const`, type
    // lists, `$defs`). The profile's schema files come in as they are, their internal
    // references re-pointed at their new place.
    let schemas = &mut v["components"]["schemas"];
    for (name, s) in schemas_table() {
        schemas[name] = s;
    }
    schemas["SignedEvent"] = spliced("event-envelope", "SignedEvent");
    schemas["ProvenanceBundle"] = spliced("provenance-bundle", "ProvenanceBundle");
    v
}

/// Schema file `name` as a component `as_name`: without `$schema` and `$id`, and with
/// `#/$defs/…` references pointing into the component.
fn spliced(name: &str, as_name: &str) -> Value {
    let text = match name {
        "provenance-bundle" => include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/provenance-bundle.schema.json"
        )),
        _ => {
            event::SCHEMAS
                .iter()
                .find(|(n, _)| *n == name)
                .expect("the schema is one of the profile's")
                .1
        }
    };
    let mut v: Value = serde_json::from_str(text).expect("the schema files are JSON");
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("$id");
    }
    fn repoint(v: &mut Value, prefix: &str) {
        match v {
            Value::Object(o) => {
                for (k, x) in o.iter_mut() {
                    if k == "$ref"
                        && let Value::String(s) = x
                        && let Some(rest) = s.strip_prefix("#/")
                    {
                        *s = format!("{prefix}/{rest}");
                    } else {
                        repoint(x, prefix);
                    }
                }
            }
            Value::Array(a) => a.iter_mut().for_each(|x| repoint(x, prefix)),
            _ => {}
        }
    }
    repoint(&mut v, &format!("#/components/schemas/{as_name}"));
    v
}

static DOCUMENT: LazyLock<(Value, Vec<u8>)> = LazyLock::new(|| {
    let v = build();
    let bytes = serde_json::to_vec(&v).expect("the document serialises");
    (v, bytes)
});

/// `GET /openapi.json`.
pub(super) async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(DOCUMENT.1.clone())
}

/// `GET /docs/api`: the document as a page.
pub(super) async fn docs_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(super::pages::api_docs_page(&DOCUMENT.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// Every route the server registers is described, and nothing else is.
    #[test]
    fn every_route_is_documented_and_only_those() {
        let routes: BTreeSet<(String, String)> = super::super::handlers::route_table()
            .into_iter()
            .map(|(m, p)| (m.to_ascii_lowercase(), p))
            .collect();
        let doc = build();
        let mut documented = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for m in item.as_object().unwrap().keys() {
                documented.insert((m.clone(), path.clone()));
            }
        }
        let missing: Vec<_> = routes.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&routes).collect();
        assert!(
            missing.is_empty(),
            "routes without a description: {missing:?}"
        );
        assert!(extra.is_empty(), "descriptions without a route: {extra:?}");
        assert!(routes.len() > 50, "{} routes", routes.len());
    }

    /// Each path parameter is declared, and every reference resolves.
    #[test]
    fn parameters_and_references_resolve() {
        let doc = build();
        assert_eq!(doc["openapi"], "3.1.0");
        for (path, item) in doc["paths"].as_object().unwrap() {
            let names: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for (m, o) in item.as_object().unwrap() {
                let declared: BTreeSet<&str> = o["parameters"]
                    .as_array()
                    .map(|ps| {
                        ps.iter()
                            .filter(|p| p["in"] == "path")
                            .map(|p| p["name"].as_str().unwrap())
                            .collect()
                    })
                    .unwrap_or_default();
                assert_eq!(names, declared, "{m} {path}");
                assert!(o["responses"]["default"].is_object(), "{m} {path}");
            }
        }
        fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
            match v {
                Value::Object(o) => {
                    for (k, x) in o {
                        match (k.as_str(), x) {
                            ("$ref", Value::String(s)) => out.push(s),
                            _ => refs(x, out),
                        }
                    }
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(all.len() > 50);
        for r in all {
            let pointer = r.strip_prefix('#').expect("local references only");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn every_problem_code_is_listed() {
        let doc = build();
        let p = &doc["components"]["schemas"]["Problem"];
        let listed: Vec<&str> = p["properties"]["code"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        for c in Code::all() {
            assert!(listed.contains(&c.as_str()), "{c}");
        }
        assert_eq!(p["x-lotline-codes"].as_array().unwrap().len(), listed.len());
    }
}
