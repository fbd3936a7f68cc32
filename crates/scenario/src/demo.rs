//! The demo supply chain: an organic jasmine rice chain from three Preah Vihear farms through a
//! collector and a Battambang mill to a container shipped to Rotterdam, a conventional cassava
//! chain in Kampong Cham, and a few submissions the rules refuse.
//!
//! [`demo`] writes it stage by stage, in the order the events happen: registrations,
//! certification, harvests, collection (with the mill's moisture check), milling, bagging, the
//! shipment to the exporter, palletising (with the container's fumigation), export, then the
//! cassava chain. Each stage adds the submissions the rules must
//! refuse at that point of the story.

use serde_json::{Value, json};

use crate::documents::items::*;
use crate::documents::{
    aggregation, bagging, certificate, did, harvest, kg, lgtin, moisture, movement, observation,
    pgln, plot, raw_uri, register, seeded_event_id, seeded_key, sgln, sgtin, sscc, substances,
    transaction, transform,
};

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

/// A row of [`ACTORS`]: short name, GLN party number (under the example prefix in Cambodia,
/// under a Dutch one in the Netherlands), display name, country, province and roles.
type ActorRow = (
    &'static str,
    u32,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

/// The demo's actors, in registration order. A table, so kept as one.
#[rustfmt::skip]
const ACTORS: &[ActorRow] = &[
    ("coop", 1, "Preah Vihear Organic Jasmine Rice Cooperative", "KH", "Preah Vihear", &["cooperative"]),
    ("farm-sokchea", 11, "Farm of Sok Chea", "KH", "Preah Vihear", &["farm"]),
    ("farm-sreymom", 12, "Farm of Srey Mom", "KH", "Preah Vihear", &["farm"]),
    ("farm-vannak", 13, "Farm of Vannak", "KH", "Preah Vihear", &["farm"]),
    ("collector", 21, "Tbeng Meanchey Paddy Collector", "KH", "Preah Vihear", &["collector"]),
    ("mill", 31, "Battambang Golden Rice Mill", "KH", "Battambang", &["mill", "packer"]),
    ("exporter", 41, "Mekong Organic Export Co.", "KH", "Phnom Penh", &["exporter", "packer", "warehouse"]),
    ("importer", 1, "Rotterdam Rice Import B.V.", "NL", "South Holland", &["importer"]),
    ("certifier", 51, "Organic Control Body (demo)", "KH", "Phnom Penh", &["certifier"]),
    ("farm-dara", 61, "Farm of Chan Dara", "KH", "Kampong Cham", &["farm"]),
    ("processor", 71, "Kampong Cham Cassava Chips", "KH", "Kampong Cham", &["processor"]),
];

/// The demo's actors, in registration order, with their ids.
pub fn demo_actors() -> Vec<DemoActor> {
    ACTORS
        .iter()
        .map(
            |&(name, party, display, country, province, roles)| DemoActor {
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
            },
        )
        .collect()
}

/// The demo certificate of an actor (by its demo name).
pub fn demo_cert_id(name: &str) -> String {
    format!("https://certifier.example/certificates/KH-BIO-2026-{name}")
}

/// The demo: the rice and cassava chains and the refused submissions, as steps in submission
/// order. `seed` makes keys and eventIDs repeatable, so loading the demo twice changes nothing.
pub fn demo(seed: &str) -> (Vec<DemoActor>, Vec<Step>) {
    let actors = demo_actors();
    let mut script = Script {
        seed,
        actors: &actors,
        steps: Vec::new(),
    };
    script.registrations();
    script.certification();
    let paddy = script.harvests();
    script.collection(&paddy);
    let head = script.milling(&paddy);
    let bags = script.bagging(&head);
    script.shipment_to_exporter(&bags);
    let container = script.palletising(&bags);
    script.export(&container);
    script.cassava();
    let steps = script.steps;
    (actors, steps)
}

/// A paddy lot of the demo: the farm that harvested it, its class URI and its mass.
struct Paddy {
    farm: &'static str,
    lot: String,
    kg: f64,
}

/// The quantity elements of every paddy lot, whole.
fn all_of(paddy: &[Paddy]) -> Vec<Value> {
    paddy.iter().map(|p| kg(&p.lot, p.kg)).collect()
}

/// The demo as it is written: its actors and the steps so far.
struct Script<'a> {
    seed: &'a str,
    actors: &'a [DemoActor],
    steps: Vec<Step>,
}

impl Script<'_> {
    /// The id of the actor named `name`.
    fn id(&self, name: &str) -> String {
        self.actors
            .iter()
            .find(|a| a.name == name)
            .map(|a| a.id.clone())
            .unwrap_or_default()
    }

    /// Adds `doc`, signed by `signer`, with the next seeded eventID; the rules must refuse it
    /// with `expect` when that is given.
    fn push(&mut self, signer: &'static str, mut doc: Value, expect: Option<&'static str>) {
        let n = self.steps.len() + 1;
        doc["eventID"] = json!(seeded_event_id(&format!("{} step {n}", self.seed)));
        self.steps.push(Step {
            signer,
            doc,
            expect,
        });
    }

    /// Adds a document the rules accept.
    fn accepted(&mut self, signer: &'static str, doc: Value) {
        self.push(signer, doc, None);
    }

    /// Adds a document the rules refuse with `code`.
    fn refused(&mut self, signer: &'static str, doc: Value, code: &'static str) {
        self.push(signer, doc, Some(code));
    }

    /// The registrar registers every actor with its seeded key.
    fn registrations(&mut self) {
        let reg_time = "2026-01-05T09:00:00+07:00";
        for a in self.actors {
            let key = did(&seeded_key(&format!("{} {}", self.seed, a.name)));
            self.accepted(
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
            );
        }
    }

    /// The control body certifies the rice chain (EU 2018/848): the cooperative as a group with
    /// its three member farms and their plots, then each handler for what it does. Refused: a
    /// farm certifying itself.
    fn certification(&mut self) {
        let year = ("2026-01-01", "2026-12-31");
        let cert_time = "2026-01-10T10:00:00+07:00";
        self.accepted(
            "certifier",
            certificate(
                cert_time,
                &demo_cert_id("coop"),
                "KH-BIO-2026-0001",
                &self.id("coop"),
                &[
                    (&self.id("farm-sokchea"), &["PV-SC-01"]),
                    (&self.id("farm-sreymom"), &["PV-SM-02"]),
                    (&self.id("farm-vannak"), &["PV-VN-03"]),
                ],
                &["production", "handling"],
                &["rice"],
                year,
            ),
        );
        let handlers: [(&str, &[&str]); 4] = [
            ("collector", &["handling"]),
            ("mill", &["handling", "processing"]),
            ("exporter", &["handling", "export"]),
            ("importer", &["handling", "import"]),
        ];
        for (i, (who, activities)) in handlers.iter().enumerate() {
            self.accepted(
                "certifier",
                certificate(
                    cert_time,
                    &demo_cert_id(who),
                    &format!("KH-BIO-2026-{:04}", i + 2),
                    &self.id(who),
                    &[],
                    activities,
                    &["rice"],
                    year,
                ),
            );
        }
        // A farm is not a certifier.
        self.refused(
            "farm-dara",
            certificate(
                cert_time,
                &demo_cert_id("farm-dara"),
                "SELF-1",
                &self.id("farm-dara"),
                &[],
                &["production"],
                &["cassava"],
                year,
            ),
            "missing_role",
        );
    }

    /// Three organic jasmine paddy lots (Phka Rumduol); the third farm reports more than its
    /// plot can yield, which is flagged.
    fn harvests(&mut self) -> Vec<Paddy> {
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
        let mut paddy = Vec::new();
        for (i, (farm, lot, kg_, plot)) in farms.into_iter().enumerate() {
            let lot = lgtin(PADDY, lot);
            let t = format!("2026-10-1{i}T07:30:00+07:00");
            self.accepted(
                farm,
                harvest(
                    None,
                    &t,
                    &lot,
                    kg_,
                    &self.id(farm),
                    "rice",
                    Some("Phka Rumduol"),
                    plot,
                    "organic",
                ),
            );
            paddy.push(Paddy { farm, lot, kg: kg_ });
        }
        paddy
    }

    /// The farms ship their paddy to the collector, which receives it and sends it all on to
    /// the mill. Refused: the collector receiving a lot nobody shipped to it, and a farm
    /// shipping paddy it no longer holds.
    fn collection(&mut self, paddy: &[Paddy]) {
        for p in paddy {
            self.accepted(
                p.farm,
                movement(
                    true,
                    "2026-10-14T08:00:00+07:00",
                    &self.id(p.farm),
                    &self.id("collector"),
                    &[],
                    &[kg(&p.lot, p.kg)],
                ),
            );
        }
        for p in paddy {
            self.accepted(
                "collector",
                movement(
                    false,
                    "2026-10-14T16:00:00+07:00",
                    &self.id(p.farm),
                    &self.id("collector"),
                    &[],
                    &[kg(&p.lot, p.kg)],
                ),
            );
        }
        self.refused(
            "collector",
            movement(
                false,
                "2026-10-15T09:00:00+07:00",
                &self.id("farm-sokchea"),
                &self.id("collector"),
                &[],
                &[kg(&paddy[0].lot, 100.0)],
            ),
            "no_matching_shipping",
        );
        let (collector, mill) = (self.id("collector"), self.id("mill"));
        let all = all_of(paddy);
        let to_mill = movement(
            true,
            "2026-10-16T07:00:00+07:00",
            &collector,
            &mill,
            &[],
            &all,
        );
        self.accepted("collector", to_mill);
        let at_mill = movement(
            false,
            "2026-10-17T10:00:00+07:00",
            &collector,
            &mill,
            &[],
            &all,
        );
        self.accepted("mill", at_mill);
        self.moisture_check(paddy);
        self.refused(
            "farm-sokchea",
            movement(
                true,
                "2026-10-18T08:00:00+07:00",
                &self.id("farm-sokchea"),
                &mill,
                &[],
                &[kg(&paddy[0].lot, 500.0)],
            ),
            "not_custodian",
        );
    }

    /// The mill's intake check: a moisture meter reading of each paddy lot (paddy is milled at
    /// 14% or less). Refused: the collector, which has passed the paddy on, inspecting it.
    fn moisture_check(&mut self, paddy: &[Paddy]) {
        let site = sgln(31);
        for (p, pct) in paddy.iter().zip([13.6, 13.9, 14.0]) {
            let check = observation(
                false,
                "2026-10-17T11:30:00+07:00",
                &site,
                &[],
                &[kg(&p.lot, p.kg)],
                json!([{
                    "sensorMetadata": {
                        "time": "2026-10-17T11:00:00+07:00",
                        "deviceID": "urn:epc:id:giai:8841234.31M1"
                    },
                    "sensorReport": [moisture(pct)]
                }]),
            );
            self.accepted("mill", check);
        }
        let late = observation(
            false,
            "2026-10-17T12:00:00+07:00",
            &sgln(21),
            &[],
            &[kg(&paddy[0].lot, paddy[0].kg)],
            json!([{"sensorReport": [moisture(15.2)]}]),
        );
        self.refused("collector", late, "not_custodian");
    }

    /// The mill mills the 15,300 kg of paddy: 65% milled rice, of which 50% points head rice.
    /// It names the certificate it processes under (EPCIS certificationInfo). Returns the head
    /// rice lot.
    fn milling(&mut self, paddy: &[Paddy]) -> String {
        let head = lgtin(HEAD_RICE, "BB26-1020");
        let mut milling = transform(
            "2026-10-20T13:00:00+07:00",
            "milling",
            &all_of(paddy),
            &[
                (head.clone(), 7650.0, Some("head-rice")),
                (lgtin(BROKEN_RICE, "BB26-1020"), 2295.0, Some("broken-rice")),
                (lgtin(BRAN, "BB26-1020"), 1380.0, Some("bran")),
                (lgtin(HUSK, "BB26-1020"), 3060.0, Some("husk")),
            ],
        );
        milling["certificationInfo"] = json!(demo_cert_id("mill"));
        self.accepted("mill", milling);
        head
    }

    /// The mill bags 7,500 kg of head rice into 150 tagged 50 kg bags. Refused first: bagging
    /// more head rice than it holds. Returns the bags.
    fn bagging(&mut self, head: &str) -> Vec<String> {
        let too_many: Vec<String> = (5001..5161).map(|s| sgtin(HEAD_RICE_BAG_50KG, s)).collect();
        self.refused(
            "mill",
            bagging(
                "2026-10-21T09:00:00+07:00",
                kg(head, 8000.0),
                &too_many,
                50.0,
            ),
            "insufficient_balance",
        );
        let bags: Vec<String> = (1001..1151).map(|s| sgtin(HEAD_RICE_BAG_50KG, s)).collect();
        self.accepted(
            "mill",
            bagging("2026-10-22T09:00:00+07:00", kg(head, 7500.0), &bags, 50.0),
        );
        bags
    }

    /// The mill ships the bags to the exporter, which receives them.
    fn shipment_to_exporter(&mut self, bags: &[String]) {
        let (mill, exporter) = (self.id("mill"), self.id("exporter"));
        let shipped = movement(
            true,
            "2026-10-24T06:00:00+07:00",
            &mill,
            &exporter,
            bags,
            &[],
        );
        self.accepted("mill", shipped);
        let received = movement(
            false,
            "2026-10-25T11:00:00+07:00",
            &mill,
            &exporter,
            bags,
            &[],
        );
        self.accepted("exporter", received);
    }

    /// The exporter packs the bags on three pallets (the RFID portal reports the first
    /// pallet's bags as raw EPC bank hex) and the pallets in a container. Returns the
    /// container.
    fn palletising(&mut self, bags: &[String]) -> String {
        let pallets: Vec<String> = (1..=3).map(sscc).collect();
        for (p, chunk) in pallets.iter().zip(bags.chunks(50)) {
            let children: Vec<String> = if p == &pallets[0] {
                chunk.iter().map(|b| raw_uri(b)).collect()
            } else {
                chunk.to_vec()
            };
            self.accepted(
                "exporter",
                aggregation(true, "2026-10-26T10:00:00+07:00", p, &children),
            );
        }
        let container = sscc(9_000_000_001);
        self.accepted(
            "exporter",
            aggregation(true, "2026-10-27T08:00:00+07:00", &container, &pallets),
        );
        self.fumigation(&container);
        container
    }

    /// The loaded container is fumigated with phosphine in the exporter's yard before it
    /// sails: the concentration logged over the 44-hour exposure, and the store's temperature.
    fn fumigation(&mut self, container: &str) {
        let record = observation(
            true,
            "2026-10-29T05:00:00+07:00",
            &sgln(41),
            &[container.to_owned()],
            &[],
            json!([{
                "sensorMetadata": {
                    "startTime": "2026-10-27T09:00:00+07:00",
                    "endTime": "2026-10-29T05:00:00+07:00",
                    "deviceID": "urn:epc:id:giai:8841234.41PH3"
                },
                "sensorReport": [
                    {"type": "VolumeFraction", "chemicalSubstance": substances::PHOSPHINE,
                     "minValue": 210, "maxValue": 420, "meanValue": 305, "uom": "59"},
                    {"type": "Temperature", "minValue": 26.5, "maxValue": 33, "uom": "CEL"}
                ]
            }]),
        );
        self.accepted("exporter", record);
    }

    /// The exporter links the container to its invoice and export declaration and ships it,
    /// under its export certificate, to the importer in Rotterdam, which receives it.
    fn export(&mut self, container: &str) {
        let container = [container.to_owned()];
        self.accepted(
            "exporter",
            transaction(
                "2026-10-28T09:00:00+07:00",
                &container,
                &[],
                &[
                    ("inv", "urn:epcglobal:cbv:bt:8841234000019:INV-2026-0415"),
                    (
                        "lotline:export_declaration",
                        "urn:lotline:doc:kh-customs:SAD-2026-77812",
                    ),
                ],
            ),
        );
        let (exporter, importer) = (self.id("exporter"), self.id("importer"));
        let mut export = movement(
            true,
            "2026-10-29T07:00:00+07:00",
            &exporter,
            &importer,
            &container,
            &[],
        );
        export["certificationInfo"] = json!([demo_cert_id("exporter")]);
        self.accepted("exporter", export);
        let imported = movement(
            false,
            "2026-11-18T14:00:00+01:00",
            &exporter,
            &importer,
            &container,
            &[],
        );
        self.accepted("importer", imported);
    }

    /// Conventional cassava roots from Kampong Cham, shipped to the processor, chipped and
    /// dried. Refused: chipping into outputs heavier than the inputs.
    fn cassava(&mut self) {
        let roots = lgtin(CASSAVA_ROOTS, "KC26-D1");
        let (farm, processor) = (self.id("farm-dara"), self.id("processor"));
        self.accepted(
            "farm-dara",
            harvest(
                None,
                "2026-11-02T06:30:00+07:00",
                &roots,
                24000.0,
                &farm,
                "cassava",
                None,
                plot("KC-CD-01", "Kampong Cham", 1.0, 105.462517, 12.001473),
                "conventional",
            ),
        );
        let all = [kg(&roots, 24000.0)];
        let shipped = movement(
            true,
            "2026-11-03T07:00:00+07:00",
            &farm,
            &processor,
            &[],
            &all,
        );
        self.accepted("farm-dara", shipped);
        let received = movement(
            false,
            "2026-11-03T12:00:00+07:00",
            &farm,
            &processor,
            &[],
            &all,
        );
        self.accepted("processor", received);
        self.accepted(
            "processor",
            transform(
                "2026-11-06T15:00:00+07:00",
                "chipping",
                &all,
                &[(lgtin(CASSAVA_CHIPS, "KC26-C1"), 9600.0, None)],
            ),
        );
        self.refused(
            "processor",
            transform(
                "2026-11-07T15:00:00+07:00",
                "chipping",
                &[kg(&lgtin(CASSAVA_CHIPS, "KC26-C1"), 1000.0)],
                &[(lgtin(CASSAVA_CHIPS, "KC26-C2"), 1200.0, None)],
            ),
            "outputs_exceed_inputs",
        );
    }
}
