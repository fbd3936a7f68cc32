//! Builders for documents of the lotline profile, and the demo scenario built from them.
//!
//! The demo (`lotline scenario`), the ingest benchmark and the test suite all make their events
//! here, so they exercise the same profile a real client must follow. Builders return unsigned
//! documents; signing is the caller's (it is the client's job, with the client's key).

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

/// The demo certificate of an actor (by its demo name).
pub fn demo_cert_id(name: &str) -> String {
    format!("https://certifier.example/certificates/KH-BIO-2026-{name}")
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

/// One step of a scripted scenario: who signs, and the document.
#[derive(Debug, Clone)]
pub struct Step {
    pub signer: &'static str,
    pub doc: Value,
    /// For steps that must be refused: the problem code expected.
    pub expect: Option<&'static str>,
}

/// An actor of the demo: short name (also its key's name), id, display name, place, roles.
pub struct DemoActor {
    pub name: &'static str,
    pub id: String,
    pub display: &'static str,
    pub country: &'static str,
    pub province: &'static str,
    pub roles: &'static [&'static str],
}

pub fn demo_actors() -> Vec<DemoActor> {
    let a = |name, party, display, country, province, roles| DemoActor {
        name,
        id: if country == "KH" {
            pgln(party)
        } else {
            format!("urn:epc:id:pgln:8712345.{party:05}")
        },
        display,
        country,
        province,
        roles,
    };
    vec![
        a(
            "coop",
            1,
            "Preah Vihear Organic Jasmine Rice Cooperative",
            "KH",
            "Preah Vihear",
            &["cooperative"],
        ),
        a(
            "farm-sokchea",
            11,
            "Farm of Sok Chea",
            "KH",
            "Preah Vihear",
            &["farm"],
        ),
        a(
            "farm-sreymom",
            12,
            "Farm of Srey Mom",
            "KH",
            "Preah Vihear",
            &["farm"],
        ),
        a(
            "farm-vannak",
            13,
            "Farm of Vannak",
            "KH",
            "Preah Vihear",
            &["farm"],
        ),
        a(
            "collector",
            21,
            "Tbeng Meanchey Paddy Collector",
            "KH",
            "Preah Vihear",
            &["collector"],
        ),
        a(
            "mill",
            31,
            "Battambang Golden Rice Mill",
            "KH",
            "Battambang",
            &["mill", "packer"],
        ),
        a(
            "exporter",
            41,
            "Mekong Organic Export Co.",
            "KH",
            "Phnom Penh",
            &["exporter", "packer", "warehouse"],
        ),
        a(
            "importer",
            1,
            "Rotterdam Rice Import B.V.",
            "NL",
            "South Holland",
            &["importer"],
        ),
        a(
            "certifier",
            51,
            "Organic Control Body (demo)",
            "KH",
            "Phnom Penh",
            &["certifier"],
        ),
        a(
            "farm-dara",
            61,
            "Farm of Chan Dara",
            "KH",
            "Kampong Cham",
            &["farm"],
        ),
        a(
            "processor",
            71,
            "Kampong Cham Cassava Chips",
            "KH",
            "Kampong Cham",
            &["processor"],
        ),
    ]
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

/// The demo: an organic jasmine rice chain from three Preah Vihear farms through a collector
/// and a Battambang mill to a container shipped to Rotterdam, a conventional cassava chain in
/// Kampong Cham, and a few submissions the rules refuse. `seed` makes keys and eventIDs
/// repeatable, so loading the demo twice changes nothing.
pub fn demo(seed: &str) -> (Vec<DemoActor>, Vec<Step>) {
    use items::*;
    let actors = demo_actors();
    let id = |n: &str| {
        actors
            .iter()
            .find(|a| a.name == n)
            .map(|a| a.id.clone())
            .unwrap_or_default()
    };
    let mut n = 0;
    let mut steps: Vec<Step> = Vec::new();
    let mut push = |signer: &'static str, mut doc: Value, expect: Option<&'static str>| {
        n += 1;
        doc["eventID"] = json!(seeded_event_id(&format!("{seed} step {n}")));
        steps.push(Step {
            signer,
            doc,
            expect,
        });
    };
    let reg_time = "2026-01-05T09:00:00+07:00";
    for a in &actors {
        let key = did(&seeded_key(&format!("{seed} {}", a.name)));
        push(
            "registrar",
            register(
                None,
                reg_time,
                &a.id,
                a.display,
                (a.country, a.province),
                a.roles,
                &[key],
                None,
            ),
            None,
        );
    }

    // The control body certifies the rice chain (EU 2018/848): the cooperative as a group with
    // its three member farms and their plots, then each handler for what it does.
    let year = ("2026-01-01", "2026-12-31");
    let cert_time = "2026-01-10T10:00:00+07:00";
    push(
        "certifier",
        certificate(
            cert_time,
            &demo_cert_id("coop"),
            "KH-BIO-2026-0001",
            &id("coop"),
            &[
                (&id("farm-sokchea"), &["PV-SC-01"]),
                (&id("farm-sreymom"), &["PV-SM-02"]),
                (&id("farm-vannak"), &["PV-VN-03"]),
            ],
            &["production", "handling"],
            &["rice"],
            year,
        ),
        None,
    );
    let handlers: [(&str, &[&str]); 4] = [
        ("collector", &["handling"]),
        ("mill", &["handling", "processing"]),
        ("exporter", &["handling", "export"]),
        ("importer", &["handling", "import"]),
    ];
    for (i, (who, activities)) in handlers.iter().enumerate() {
        push(
            "certifier",
            certificate(
                cert_time,
                &demo_cert_id(who),
                &format!("KH-BIO-2026-{:04}", i + 2),
                &id(who),
                &[],
                activities,
                &["rice"],
                year,
            ),
            None,
        );
    }
    // Refused: a farm is not a certifier.
    push(
        "farm-dara",
        certificate(
            cert_time,
            &demo_cert_id("farm-dara"),
            "SELF-1",
            &id("farm-dara"),
            &[],
            &["production"],
            &["cassava"],
            year,
        ),
        Some("missing_role"),
    );

    // Harvests: three organic jasmine paddy lots (Phka Rumduol); the third farm reports more
    // than its plot can yield, which is flagged.
    let farms = [
        (
            "farm-sokchea",
            "PV26-F1",
            5200.0,
            plot("PV-SC-01", "Preah Vihear", 1.6, 104.983912, 13.801457),
        ),
        (
            "farm-sreymom",
            "PV26-F2",
            4100.0,
            plot("PV-SM-02", "Preah Vihear", 1.3, 104.972035, 13.815220),
        ),
        (
            "farm-vannak",
            "PV26-F3",
            6000.0,
            plot("PV-VN-03", "Preah Vihear", 1.2, 105.001284, 13.789903),
        ),
    ];
    let paddy: Vec<String> = farms.iter().map(|f| lgtin(PADDY, f.1)).collect();
    for (i, (farm, _, kg_, plot)) in farms.iter().enumerate() {
        let t = format!("2026-10-1{i}T07:30:00+07:00");
        push(
            farm,
            harvest(
                None,
                &t,
                &paddy[i],
                *kg_,
                &id(farm),
                "rice",
                Some("Phka Rumduol"),
                plot.clone(),
                "organic",
            ),
            None,
        );
    }
    for (i, (farm, _, kg_, _)) in farms.iter().enumerate() {
        push(
            farm,
            movement(
                true,
                "2026-10-14T08:00:00+07:00",
                &id(farm),
                &id("collector"),
                &[],
                &[kg(&paddy[i], *kg_)],
            ),
            None,
        );
    }
    let all_paddy: Vec<Value> = farms
        .iter()
        .enumerate()
        .map(|(i, f)| kg(&paddy[i], f.2))
        .collect();
    for (i, (farm, _, kg_, _)) in farms.iter().enumerate() {
        push(
            "collector",
            movement(
                false,
                "2026-10-14T16:00:00+07:00",
                &id(farm),
                &id("collector"),
                &[],
                &[kg(&paddy[i], *kg_)],
            ),
            None,
        );
    }
    // Refused: the collector receives a lot nobody shipped to it.
    push(
        "collector",
        movement(
            false,
            "2026-10-15T09:00:00+07:00",
            &id("farm-sokchea"),
            &id("collector"),
            &[],
            &[kg(&paddy[0], 100.0)],
        ),
        Some("no_matching_shipping"),
    );
    push(
        "collector",
        movement(
            true,
            "2026-10-16T07:00:00+07:00",
            &id("collector"),
            &id("mill"),
            &[],
            &all_paddy,
        ),
        None,
    );
    push(
        "mill",
        movement(
            false,
            "2026-10-17T10:00:00+07:00",
            &id("collector"),
            &id("mill"),
            &[],
            &all_paddy,
        ),
        None,
    );
    // Refused: a farm ships paddy it no longer holds.
    push(
        "farm-sokchea",
        movement(
            true,
            "2026-10-18T08:00:00+07:00",
            &id("farm-sokchea"),
            &id("mill"),
            &[],
            &[kg(&paddy[0], 500.0)],
        ),
        Some("not_custodian"),
    );

    // Milling 15,300 kg of paddy: 65% milled rice, of which 50% points head rice.
    // The mill names the certificate it processes under (EPCIS certificationInfo).
    let head = lgtin(HEAD_RICE, "BB26-1020");
    let mut milling = transform(
        "2026-10-20T13:00:00+07:00",
        "milling",
        &all_paddy,
        &[
            (head.clone(), 7650.0, Some("head-rice")),
            (lgtin(BROKEN_RICE, "BB26-1020"), 2295.0, Some("broken-rice")),
            (lgtin(BRAN, "BB26-1020"), 1380.0, Some("bran")),
            (lgtin(HUSK, "BB26-1020"), 3060.0, Some("husk")),
        ],
    );
    milling["certificationInfo"] = json!(demo_cert_id("mill"));
    push("mill", milling, None);
    // Refused: bagging more head rice than the mill holds.
    let too_many: Vec<String> = (5001..5161).map(|s| sgtin(HEAD_RICE_BAG_50KG, s)).collect();
    push(
        "mill",
        bagging(
            "2026-10-21T09:00:00+07:00",
            kg(&head, 8000.0),
            &too_many,
            50.0,
        ),
        Some("insufficient_balance"),
    );
    let bags: Vec<String> = (1001..1151).map(|s| sgtin(HEAD_RICE_BAG_50KG, s)).collect();
    push(
        "mill",
        bagging("2026-10-22T09:00:00+07:00", kg(&head, 7500.0), &bags, 50.0),
        None,
    );
    push(
        "mill",
        movement(
            true,
            "2026-10-24T06:00:00+07:00",
            &id("mill"),
            &id("exporter"),
            &bags,
            &[],
        ),
        None,
    );
    push(
        "exporter",
        movement(
            false,
            "2026-10-25T11:00:00+07:00",
            &id("mill"),
            &id("exporter"),
            &bags,
            &[],
        ),
        None,
    );
    // Palletise: the RFID portal reports the first pallet's bags as raw EPC bank hex.
    let pallets: Vec<String> = (1..=3).map(sscc).collect();
    for (p, chunk) in pallets.iter().zip(bags.chunks(50)) {
        let children: Vec<String> = if p == &pallets[0] {
            chunk.iter().map(|b| raw_uri(b)).collect()
        } else {
            chunk.to_vec()
        };
        push(
            "exporter",
            aggregation(true, "2026-10-26T10:00:00+07:00", p, &children),
            None,
        );
    }
    let container = sscc(9_000_000_001);
    push(
        "exporter",
        aggregation(true, "2026-10-27T08:00:00+07:00", &container, &pallets),
        None,
    );
    push(
        "exporter",
        transaction(
            "2026-10-28T09:00:00+07:00",
            std::slice::from_ref(&container),
            &[],
            &[
                ("inv", "urn:epcglobal:cbv:bt:8841234000019:INV-2026-0415"),
                (
                    "lotline:export_declaration",
                    "urn:lotline:doc:kh-customs:SAD-2026-77812",
                ),
            ],
        ),
        None,
    );
    let mut export = movement(
        true,
        "2026-10-29T07:00:00+07:00",
        &id("exporter"),
        &id("importer"),
        std::slice::from_ref(&container),
        &[],
    );
    export["certificationInfo"] = json!([demo_cert_id("exporter")]);
    push("exporter", export, None);
    push(
        "importer",
        movement(
            false,
            "2026-11-18T14:00:00+01:00",
            &id("exporter"),
            &id("importer"),
            &[container],
            &[],
        ),
        None,
    );

    // Cassava: conventional roots from Kampong Cham, chipped and dried.
    let roots = lgtin(CASSAVA_ROOTS, "KC26-D1");
    push(
        "farm-dara",
        harvest(
            None,
            "2026-11-02T06:30:00+07:00",
            &roots,
            24000.0,
            &id("farm-dara"),
            "cassava",
            None,
            plot("KC-CD-01", "Kampong Cham", 1.0, 105.462517, 12.001473),
            "conventional",
        ),
        None,
    );
    push(
        "farm-dara",
        movement(
            true,
            "2026-11-03T07:00:00+07:00",
            &id("farm-dara"),
            &id("processor"),
            &[],
            &[kg(&roots, 24000.0)],
        ),
        None,
    );
    push(
        "processor",
        movement(
            false,
            "2026-11-03T12:00:00+07:00",
            &id("farm-dara"),
            &id("processor"),
            &[],
            &[kg(&roots, 24000.0)],
        ),
        None,
    );
    push(
        "processor",
        transform(
            "2026-11-06T15:00:00+07:00",
            "chipping",
            &[kg(&roots, 24000.0)],
            &[(lgtin(CASSAVA_CHIPS, "KC26-C1"), 9600.0, None)],
        ),
        None,
    );
    // Refused: outputs heavier than inputs.
    push(
        "processor",
        transform(
            "2026-11-07T15:00:00+07:00",
            "chipping",
            &[kg(&lgtin(CASSAVA_CHIPS, "KC26-C1"), 1000.0)],
            &[(lgtin(CASSAVA_CHIPS, "KC26-C2"), 1200.0, None)],
        ),
        Some("outputs_exceed_inputs"),
    );
    (actors, steps)
}

/// The EPC raw URI (`urn:epc:raw:96.x…`) of an SGTIN, as an RFID reader reports a tag.
pub fn raw_uri(sgtin: &str) -> String {
    let tag = sgtin.replacen("urn:epc:id:sgtin:", "urn:epc:tag:sgtin-96:1.", 1);
    match gs1::tds::encode_tag_uri(&tag) {
        Ok(hex) => format!("urn:epc:raw:96.x{hex}"),
        Err(_) => sgtin.to_owned(),
    }
}
