//! Builders for documents of the lotline profile: registrations, certificates and their
//! decisions, harvests, movements, transformations, packing and business transactions, with
//! the identifiers and quantities they name. They return unsigned documents; signing is the
//! caller's (it is the client's job, with the client's key).

use ed25519_dalek::SigningKey;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use data_integrity::didkey;
use lotline_profile::event::EventId;

/// GS1 company prefix used by the examples (884 is GS1 Cambodia's prefix range).
pub const PREFIX: &str = "8841234";
pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
pub const LOTLINE_NS: &str = "https://w3id.org/lotline#";

/// A deterministic key from a seed phrase, so that scripted scenarios can be rerun
/// idempotently. For examples and tests only: a real actor generates its key (`lotline keygen`).
pub fn seeded_key(seed: &str) -> SigningKey {
    let digest: [u8; 32] = Sha256::digest(seed.as_bytes()).into();
    SigningKey::from_bytes(&digest)
}

/// A deterministic eventID from a seed phrase (UUID version 8, RFC 9562 "custom").
pub fn seeded_event_id(seed: &str) -> String {
    let d = Sha256::digest(seed.as_bytes());
    let mut b: [u8; 16] = d[..16].try_into().unwrap_or([0; 16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    EventId::from_bytes(b).to_string()
}

pub fn did(key: &SigningKey) -> String {
    didkey::did_key(&key.verifying_key())
}

fn context() -> Value {
    json!([EPCIS_CONTEXT, {"lotline": LOTLINE_NS}])
}

/// Common envelope members; `id` is an eventID or `None` for a fresh one.
fn envelope(ty: &str, id: Option<String>, time: &str) -> serde_json::Map<String, Value> {
    let mut m = serde_json::Map::new();
    m.insert("@context".into(), context());
    m.insert("type".into(), json!(ty));
    m.insert(
        "eventID".into(),
        json!(id.unwrap_or_else(|| EventId::new_v7().to_string())),
    );
    m.insert("eventTime".into(), json!(time));
    m.insert("eventTimeZoneOffset".into(), json!(offset_of(time)));
    m
}

/// The offset at the end of an RFC 3339 time (`Z` is `+00:00`).
fn offset_of(time: &str) -> String {
    if time.ends_with('Z') {
        return "+00:00".into();
    }
    time.get(time.len().saturating_sub(6)..)
        .unwrap_or("+00:00")
        .to_owned()
}

/// EPC and class URIs with the example prefix.
pub fn sgtin(item: &str, serial: impl std::fmt::Display) -> String {
    format!("urn:epc:id:sgtin:{PREFIX}.{item}.{serial}")
}
pub fn lgtin(item: &str, lot: &str) -> String {
    format!("urn:epc:class:lgtin:{PREFIX}.{item}.{lot}")
}
pub fn sscc(serial: u64) -> String {
    format!("urn:epc:id:sscc:{PREFIX}.{serial:010}")
}
pub fn pgln(party: u32) -> String {
    format!("urn:epc:id:pgln:{PREFIX}.{party:05}")
}

/// A quantity element in kilograms.
pub fn kg(class: &str, kg: f64) -> Value {
    json!({"epcClass": class, "quantity": number(kg), "uom": "KGM"})
}

/// Whole numbers as JSON integers, as RFC 8785 writes them, so that a document reads back equal
/// to what was signed.
pub fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9_007_199_254_740_992.0 {
        json!(x as i64)
    } else {
        json!(x)
    }
}

/// `lotline:ActorRegistration`.
#[allow(clippy::too_many_arguments)]
pub fn register(
    id: Option<String>,
    time: &str,
    actor: &str,
    name: &str,
    (country, province): (&str, &str),
    roles: &[&str],
    keys: &[String],
    gln: Option<&str>,
) -> Value {
    let mut m = envelope("lotline:ActorRegistration", id, time);
    let mut a = json!({
        "id": actor, "name": name, "country": country, "province": province,
        "roles": roles, "keys": keys,
    });
    if let Some(g) = gln {
        a["gln"] = json!(g);
    }
    m.insert("actor".into(), a);
    Value::Object(m)
}

/// `lotline:RoleGrant`, `lotline:RoleRevocation`, `lotline:KeyAddition`,
/// `lotline:KeyRevocation` and `lotline:KeyRotation` (`replaces` for the last).
pub fn registrar_doc(
    ty: &str,
    time: &str,
    actor: &str,
    field: (&str, &str),
    replaces: Option<&str>,
) -> Value {
    let mut m = envelope(ty, None, time);
    m.insert("actor".into(), json!(actor));
    m.insert(field.0.into(), json!(field.1));
    if let Some(r) = replaces {
        m.insert("replaces".into(), json!(r));
    }
    Value::Object(m)
}

/// `lotline:CertificateIssuance` of an EU organic certificate: `members` are `(farm, plots)`.
#[allow(clippy::too_many_arguments)]
pub fn certificate(
    time: &str,
    id: &str,
    number: &str,
    subject: &str,
    members: &[(&str, &[&str])],
    activities: &[&str],
    products: &[&str],
    (valid_from, valid_until): (&str, &str),
) -> Value {
    let mut m = envelope("lotline:CertificateIssuance", None, time);
    let mut c = json!({
        "id": id, "number": number, "standard": "EU 2018/848", "subject": subject,
        "activities": activities, "products": products,
        "validFrom": valid_from, "validUntil": valid_until,
    });
    if !members.is_empty() {
        c["members"] = members
            .iter()
            .map(|(farm, plots)| json!({"farm": farm, "plots": plots}))
            .collect();
    }
    m.insert("certificate".into(), c);
    Value::Object(m)
}

/// A decision about certificate `id`: `lotline:CertificateSuspension`, `…Withdrawal` or
/// `…Reinstatement`, effective at `effective` (a date or date-time).
pub fn cert_decision(ty: &str, time: &str, id: &str, effective: &str, reason: &str) -> Value {
    let mut m = envelope(ty, None, time);
    m.insert("certificate".into(), json!(id));
    m.insert("effective".into(), json!(effective));
    m.insert("reason".into(), json!(reason));
    Value::Object(m)
}

/// A plot: a point for small plots.
pub fn plot(id: &str, province: &str, ha: f64, lon: f64, lat: f64) -> Value {
    json!({
        "id": id, "province": province, "areaHectares": number(ha),
        "geo": {"type": "Point", "coordinates": [lon, lat]},
    })
}

/// Harvest (lot creation): an LGTIN lot of `kg` from `farm`'s `plot`.
#[allow(clippy::too_many_arguments)]
pub fn harvest(
    id: Option<String>,
    time: &str,
    lot: &str,
    kg_: f64,
    farm: &str,
    crop: &str,
    variety: Option<&str>,
    plot: Value,
    method: &str,
) -> Value {
    let mut m = envelope("ObjectEvent", id, time);
    m.insert("action".into(), json!("ADD"));
    m.insert("bizStep".into(), json!("commissioning"));
    m.insert("disposition".into(), json!("active"));
    m.insert("quantityList".into(), json!([kg(lot, kg_)]));
    let day = time.get(..10).unwrap_or("2026-01-01");
    let mut ilmd = json!({
        "lotline:crop": crop,
        "lotline:harvestStart": day,
        "lotline:harvestEnd": day,
        "lotline:farm": farm,
        "lotline:plot": plot,
        "lotline:growingMethod": method,
    });
    if let Some(v) = variety {
        ilmd["lotline:variety"] = json!(v);
    }
    m.insert("ilmd".into(), ilmd);
    Value::Object(m)
}

/// Shipping (`ship = true`) or receiving of `epcs` and `quantities` from `from` to `to`.
pub fn movement(
    ship: bool,
    time: &str,
    from: &str,
    to: &str,
    epcs: &[String],
    quantities: &[Value],
) -> Value {
    let mut m = envelope("ObjectEvent", None, time);
    m.insert("action".into(), json!("OBSERVE"));
    m.insert(
        "bizStep".into(),
        json!(if ship { "shipping" } else { "receiving" }),
    );
    m.insert(
        "disposition".into(),
        json!(if ship { "in_transit" } else { "in_progress" }),
    );
    if !epcs.is_empty() {
        m.insert("epcList".into(), json!(epcs));
    }
    if !quantities.is_empty() {
        m.insert("quantityList".into(), json!(quantities));
    }
    m.insert(
        "sourceList".into(),
        json!([{"type": "owning_party", "source": from}]),
    );
    m.insert(
        "destinationList".into(),
        json!([{"type": "owning_party", "destination": to}]),
    );
    Value::Object(m)
}

/// A TransformationEvent of kind `step` (`milling`, `drying`, `chipping`, …).
/// `outputs` are `(class, kg, product)`.
pub fn transform(
    time: &str,
    step: &str,
    inputs: &[Value],
    outputs: &[(String, f64, Option<&str>)],
) -> Value {
    let mut m = envelope("TransformationEvent", None, time);
    m.insert("bizStep".into(), json!(format!("lotline:{step}")));
    m.insert("inputQuantityList".into(), json!(inputs));
    m.insert(
        "outputQuantityList".into(),
        json!(
            outputs
                .iter()
                .map(|(c, k, _)| kg(c, *k))
                .collect::<Vec<_>>()
        ),
    );
    let products: Vec<Value> = outputs
        .iter()
        .filter_map(|(c, _, p)| p.map(|p| json!({"epcClass": c, "product": p})))
        .collect();
    if !products.is_empty() {
        m.insert("ilmd".into(), json!({"lotline:products": products}));
    }
    Value::Object(m)
}

/// Bagging: `input` (a lot and its kg) into tagged bags of `bag_kg` each.
pub fn bagging(time: &str, input: Value, bags: &[String], bag_kg: f64) -> Value {
    let mut m = envelope("TransformationEvent", None, time);
    m.insert("bizStep".into(), json!("lotline:bagging"));
    m.insert("inputQuantityList".into(), json!([input]));
    m.insert("outputEPCList".into(), json!(bags));
    m.insert(
        "ilmd".into(),
        json!({"lotline:itemQuantity": {"quantity": number(bag_kg), "uom": "KGM"}}),
    );
    Value::Object(m)
}

/// Packing (`pack = true`) or unpacking of `children` into or out of `parent`.
pub fn aggregation(pack: bool, time: &str, parent: &str, children: &[String]) -> Value {
    let mut m = envelope("AggregationEvent", None, time);
    m.insert("action".into(), json!(if pack { "ADD" } else { "DELETE" }));
    m.insert(
        "bizStep".into(),
        json!(if pack { "packing" } else { "unpacking" }),
    );
    m.insert("parentID".into(), json!(parent));
    m.insert("childEPCs".into(), json!(children));
    Value::Object(m)
}

/// A TransactionEvent linking goods to business documents `(type, uri)`.
pub fn transaction(
    time: &str,
    epcs: &[String],
    quantities: &[Value],
    docs: &[(&str, &str)],
) -> Value {
    let mut m = envelope("TransactionEvent", None, time);
    m.insert("action".into(), json!("ADD"));
    if !epcs.is_empty() {
        m.insert("epcList".into(), json!(epcs));
    }
    if !quantities.is_empty() {
        m.insert("quantityList".into(), json!(quantities));
    }
    m.insert(
        "bizTransactionList".into(),
        json!(
            docs.iter()
                .map(|(t, u)| json!({"type": t, "bizTransaction": u}))
                .collect::<Vec<_>>()
        ),
    );
    Value::Object(m)
}

/// An SGLN (a site) of a party, with the example prefix.
pub fn sgln(party: u32) -> String {
    format!("urn:epc:id:sgln:{PREFIX}.{party:05}.0")
}

/// Substances named in sensor reports, as identifiers.org InChIKey URIs.
pub mod substances {
    pub const WATER: &str = "https://identifiers.org/inchikey:XLYOFNOQVPJJNP-UHFFFAOYSA-N";
    pub const PHOSPHINE: &str = "https://identifiers.org/inchikey:XYFCBTPGUUZFHI-UHFFFAOYSA-N";
}

/// A moisture reading (percent of mass, wet basis) as a sensor report.
pub fn moisture(percent: f64) -> Value {
    json!({"type": "Dimensionless", "chemicalSubstance": substances::WATER, "value": number(percent), "uom": "P1"})
}

/// An inspection (`storing = false`) or storage record of `epcs` and `quantities` at `site`,
/// with `elements` as its sensorElementList.
pub fn observation(
    storing: bool,
    time: &str,
    site: &str,
    epcs: &[String],
    quantities: &[Value],
    elements: Value,
) -> Value {
    let mut m = envelope("ObjectEvent", None, time);
    m.insert("action".into(), json!("OBSERVE"));
    m.insert(
        "bizStep".into(),
        json!(if storing { "storing" } else { "inspecting" }),
    );
    m.insert(
        "disposition".into(),
        json!(if storing { "in_progress" } else { "conformant" }),
    );
    if !epcs.is_empty() {
        m.insert("epcList".into(), json!(epcs));
    }
    if !quantities.is_empty() {
        m.insert("quantityList".into(), json!(quantities));
    }
    m.insert("bizLocation".into(), json!({"id": site}));
    m.insert("sensorElementList".into(), elements);
    Value::Object(m)
}

/// Item references (indicator digit + item reference, 6 digits with the 7-digit prefix).
pub mod items {
    pub const PADDY: &str = "010001";
    pub const HEAD_RICE: &str = "020001";
    pub const BROKEN_RICE: &str = "020002";
    pub const BRAN: &str = "020003";
    pub const HUSK: &str = "020004";
    pub const HEAD_RICE_BAG_50KG: &str = "030001";
    pub const CASSAVA_ROOTS: &str = "040001";
    pub const CASSAVA_CHIPS: &str = "040002";
}

/// The EPC raw URI (`urn:epc:raw:96.x…`) of an SGTIN, as an RFID reader reports a tag.
pub fn raw_uri(sgtin: &str) -> String {
    let tag = sgtin.replacen("urn:epc:id:sgtin:", "urn:epc:tag:sgtin-96:1.", 1);
    match gs1::tds::encode_tag_uri(&tag) {
        Ok(hex) => format!("urn:epc:raw:96.x{hex}"),
        Err(_) => sgtin.to_owned(),
    }
}
