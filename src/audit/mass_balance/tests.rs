use std::collections::HashMap;

use super::*;
use crate::state::{Effect, EntryMeta, LotRecord, Place, Span};
use lotline_profile::profile::{Kind, format_time_ms, parse_instant_ms};
use proptest::prelude::*;

const X: &str = "urn:epc:id:pgln:8841234.00031";
const BUYER: &str = "urn:epc:id:pgln:8841234.00041";
const FARM: &str = "urn:epc:id:pgln:8841234.00011";
const T: i64 = 1_780_000_000_000;
const KG: i64 = 1_000_000;

fn held() -> Place {
    Place::Held { actor: X.into() }
}
fn transit_out() -> Place {
    Place::Transit {
        from: X.into(),
        to: BUYER.into(),
    }
}
fn transit_in() -> Place {
    Place::Transit {
        from: FARM.into(),
        to: X.into(),
    }
}

/// A synthetic history of X: entries in event-time order and the lots they name.
#[derive(Default)]
struct Synthetic {
    entries: Vec<(u64, EntryMeta)>,
    lots: HashMap<String, LotRecord>,
}

impl Synthetic {
    fn add_lot(&mut self, key: &str, class: IdClass, product: &str, method: Option<&str>, kg: i64) {
        let amount = if class == IdClass::Unit { 1 } else { kg * KG };
        self.lots.insert(
            key.into(),
            LotRecord {
                id: key.into(),
                key: key.into(),
                class,
                gtin: None,
                product: Some(product.into()),
                crop: Some("rice".into()),
                growing_method: method.map(Into::into),
                amount,
                content_mg: 0,
                created_at: 0,
                created_by: X.into(),
                held: Default::default(),
                transit: Vec::new(),
                consumed: 0,
                handlers: Vec::new(),
                inputs: Vec::new(),
                origins: Vec::new(),
                parent: None,
                children: Vec::new(),
                flags: Vec::new(),
                documents: Vec::new(),
                voided_by: None,
            },
        );
    }
    /// What the ledger says X holds of `key` now.
    fn holds_now(&mut self, key: &str, kg: i64) {
        let l = self.lots.get_mut(key).unwrap();
        l.held.insert(X.into(), kg * KG);
    }
    fn add(
        &mut self,
        index: u64,
        kind: Kind,
        minutes: i64,
        effects: Vec<Effect>,
    ) -> &mut EntryMeta {
        self.entries.push((
            index,
            EntryMeta {
                kind,
                actor: Some(X.into()),
                role: "mill".into(),
                event_time_ms: T + minutes * 60_000,
                flags: Vec::new(),
                effects,
                corrects: None,
                corrected_by: None,
            },
        ));
        self.entries.sort_by_key(|(i, m)| (m.event_time_ms, *i));
        &mut self
            .entries
            .iter_mut()
            .find(|(i, _)| *i == index)
            .unwrap()
            .1
    }
}

impl History for Synthetic {
    fn entries(
        &self,
        _actor: &str,
        until_ms: i64,
        f: &mut dyn FnMut(u64, EntryMeta) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for (i, m) in self
            .entries
            .iter()
            .filter(|(_, m)| m.event_time_ms < until_ms)
        {
            f(*i, m.clone())?;
        }
        Ok(())
    }
    fn lot(&self, key: &str) -> Result<Option<LotFacts>, StoreError> {
        Ok(self.lots.get(key).map(LotFacts::from))
    }
    fn has_later(&self, _actor: &str, from_ms: i64) -> Result<bool, StoreError> {
        Ok(self.entries.iter().any(|(_, m)| m.event_time_ms >= from_ms))
    }
    fn grew(&self, _actor: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
}

fn create(key: &str, kg: i64) -> Effect {
    Effect::Create {
        key: key.into(),
        holder: Some(X.into()),
        amount: kg * KG,
    }
}
fn mv(key: &str, from: Place, to: Place, kg: i64) -> Effect {
    Effect::Move {
        key: key.into(),
        from,
        to,
        amount: kg * KG,
        contents: Vec::new(),
    }
}

fn operator() -> ActorRecord {
    ActorRecord {
        id: X.into(),
        name: "Battambang Golden Rice Mill".into(),
        country: "KH".into(),
        province: Some("Battambang".into()),
        gln: None,
        registered_at: 0,
        roles: vec![crate::state::RoleSpan {
            role: "mill".into(),
            span: Span::open(0, 0),
        }],
        keys: Vec::new(),
    }
}

fn audit(h: &Synthetic, from_min: Option<i64>, to_min: i64, product: Option<&str>) -> Report {
    let op = operator();
    let req = Request {
        operator: &op,
        from_ms: from_min.map(|m| T + m * 60_000),
        to_ms: T + to_min * 60_000,
        product,
    };
    compute(h, &req, &Bounds::default()).unwrap()
}

fn row<'r>(r: &'r Report, product: &str, status: Status) -> &'r Balance {
    r.balances
        .iter()
        .find(|b| b.product == product && b.organic_status == status)
        .unwrap_or_else(|| panic!("no row {product} {status:?} in {:?}", r.balances))
}

fn kg(m: Mg) -> i64 {
    assert_eq!(m.0 % 1000, 0);
    m.0 / KG
}

fn codes(r: &Report) -> Vec<&'static str> {
    r.flags.iter().map(|f| f.code.as_str()).collect()
}

/// An honest small mill: harvests organic paddy, receives conventional paddy, mills the
/// organic paddy at 0.65 (0.45 head rice) and ships the rice.
fn honest() -> Synthetic {
    let mut h = Synthetic::default();
    h.add_lot("paddy-o", IdClass::Lot, "paddy", Some("organic"), 1000);
    h.add_lot("paddy-c", IdClass::Lot, "paddy", Some("conventional"), 500);
    h.add_lot("head-o", IdClass::Lot, "head-rice", Some("organic"), 450);
    h.add_lot(
        "broken-o",
        IdClass::Lot,
        "broken-rice",
        Some("organic"),
        200,
    );
    h.add_lot("husk-o", IdClass::Lot, "husk", Some("organic"), 350);
    h.add(1, Kind::Harvest, 10, vec![create("paddy-o", 1000)]);
    h.add(
        2,
        Kind::Receiving,
        20,
        vec![mv("paddy-c", transit_in(), held(), 500)],
    );
    h.add(
        3,
        Kind::Milling,
        30,
        vec![
            mv("paddy-o", held(), Place::Consumed, 1000),
            create("head-o", 450),
            create("broken-o", 200),
            create("husk-o", 350),
        ],
    );
    h.add(
        4,
        Kind::Shipping,
        40,
        vec![
            mv("head-o", held(), transit_out(), 450),
            mv("broken-o", held(), transit_out(), 200),
        ],
    );
    h.holds_now("paddy-c", 500);
    h.holds_now("husk-o", 350);
    h
}

#[test]
fn balances_add_up_with_the_opening_stock_from_before_the_period() {
    let h = honest();
    let r = audit(&h, Some(25), 100, None);
    assert_eq!(r.summary.entries_before_period, 2);
    assert_eq!(r.summary.entries_in_period, 2);
    let p = row(&r, "paddy", Status::Organic);
    assert_eq!(
        [
            kg(p.opening_kg),
            kg(p.received_kg),
            kg(p.produced_kg),
            kg(p.consumed_kg),
            kg(p.shipped_kg),
            kg(p.closing_kg)
        ],
        [1000, 0, 0, 1000, 0, 0]
    );
    let c = row(&r, "paddy", Status::Conventional);
    assert_eq!([kg(c.opening_kg), kg(c.closing_kg)], [500, 500]);
    let m = row(&r, "head-rice", Status::Organic);
    assert_eq!(
        [kg(m.produced_kg), kg(m.shipped_kg), kg(m.closing_kg)],
        [450, 450, 0]
    );
    assert_eq!(kg(row(&r, "husk", Status::Organic).closing_kg), 350);
    // The period reaches the present: the ledger agrees.
    assert!(r.summary.ledger_compared);
    assert!(r.balances.iter().all(|b| b.ledger_kg == Some(b.closing_kg)));
    assert!(r.flags.is_empty(), "{:?}", r.flags);

    let t = &r.transformations[0];
    assert_eq!((t.entry, t.kind, t.yield_), (3, "milling", Some(0.65)));
    assert_eq!(t.bounds, Some([0.50, 0.72]));
    assert_eq!(t.within_bounds, Some(true));
    let organic_rice = r
        .yield_checks
        .iter()
        .find(|c| c.family == "milled rice" && c.organic_status == Status::Organic)
        .unwrap();
    assert_eq!(kg(organic_rice.produced_kg), 650);
    assert_eq!(kg(organic_rice.max_produced_kg), 720);
    assert_eq!(kg(organic_rice.shipped_kg), 650);
    assert!(organic_rice.within);

    // The whole history: harvest and receipt are in the period, nothing opens.
    let all = audit(&h, None, 100, None);
    let p = row(&all, "paddy", Status::Organic);
    assert_eq!([kg(p.opening_kg), kg(p.produced_kg)], [0, 1000]);
    assert_eq!(
        kg(row(&all, "paddy", Status::Conventional).received_kg),
        500
    );

    // A period that ends before the shipment: the rice is still in stock, and the ledger
    // (which has later events) is not compared.
    let early = audit(&h, Some(25), 35, None);
    assert_eq!(
        kg(row(&early, "head-rice", Status::Organic).closing_kg),
        450
    );
    assert!(!early.summary.ledger_compared);
    assert!(early.balances.iter().all(|b| b.ledger_kg.is_none()));

    // The product filter keeps that product's rows.
    let only = audit(&h, None, 100, Some("husk"));
    assert_eq!(only.balances.len(), 1);
    assert_eq!(only.transformations.len(), 1, "the milling made husk");
}

#[test]
fn corrected_entries_and_their_corrections_are_left_out() {
    let mut h = honest();
    // A shipment of the conventional paddy, declared erroneous by entry 6.
    h.add(
        5,
        Kind::Shipping,
        50,
        vec![mv("paddy-c", held(), transit_out(), 500)],
    )
    .corrected_by = Some(6);
    h.add(6, Kind::Shipping, 55, Vec::new()).corrects = Some(5);
    let r = audit(&h, None, 100, None);
    assert_eq!(r.summary.corrected_left_out, 1);
    assert_eq!(r.summary.corrections_left_out, 1);
    let c = row(&r, "paddy", Status::Conventional);
    assert_eq!([kg(c.shipped_kg), kg(c.closing_kg)], [0, 500]);
    assert!(r.flags.is_empty(), "{:?}", r.flags);
}

#[test]
fn a_closing_stock_the_ledger_does_not_hold_is_flagged() {
    let mut h = honest();
    h.holds_now("husk-o", 300);
    let r = audit(&h, None, 100, None);
    assert_eq!(codes(&r), ["balance_mismatch"]);
    let f = &r.flags[0];
    assert_eq!(f.figures["closingKg"], 350.0);
    assert_eq!(f.figures["ledgerKg"], 300.0);
    assert!(
        f.message.contains("350 kg") && f.message.contains("300 kg"),
        "{}",
        f.message
    );
}

#[test]
fn units_ship_their_contents() {
    let mut h = Synthetic::default();
    h.add_lot("rice-o", IdClass::Lot, "milled-rice", Some("organic"), 100);
    h.add_lot("bag-1", IdClass::Item, "milled-rice", Some("organic"), 50);
    h.add_lot("bag-2", IdClass::Item, "milled-rice", Some("organic"), 50);
    h.add_lot("pallet", IdClass::Unit, "milled-rice", Some("organic"), 0);
    h.add(
        1,
        Kind::Receiving,
        1,
        vec![mv("rice-o", transit_in(), held(), 100)],
    );
    h.add(
        2,
        Kind::Bagging,
        2,
        vec![
            mv("rice-o", held(), Place::Consumed, 100),
            create("bag-1", 50),
            create("bag-2", 50),
        ],
    );
    h.add(
        3,
        Kind::Packing,
        3,
        vec![
            Effect::Create {
                key: "pallet".into(),
                holder: Some(X.into()),
                amount: 1,
            },
            Effect::Parent {
                children: vec!["bag-1".into(), "bag-2".into()],
                old: None,
                new: Some("pallet".into()),
            },
        ],
    );
    h.add(
        4,
        Kind::Shipping,
        4,
        vec![Effect::Move {
            key: "pallet".into(),
            from: held(),
            to: transit_out(),
            amount: 1,
            contents: vec!["bag-1".into(), "bag-2".into()],
        }],
    );
    let r = audit(&h, None, 100, None);
    let m = row(&r, "milled-rice", Status::Organic);
    assert_eq!(
        [
            kg(m.received_kg),
            kg(m.produced_kg),
            kg(m.consumed_kg),
            kg(m.shipped_kg),
            kg(m.closing_kg)
        ],
        [100, 100, 100, 100, 0]
    );
    assert_eq!(r.balances.len(), 1, "the pallet itself weighs nothing");
    // Bagging has no bounds: its yield is output per input.
    let t = &r.transformations[0];
    assert_eq!(
        (t.yield_, t.bounds, t.within_bounds),
        (Some(1.0), None, None)
    );
    // Received rice re-bagged is not production from paddy.
    assert!(r.flags.is_empty(), "{:?}", r.flags);
}

/// A mill that mills its organic paddy at a plausible 0.70, then "bags" husk as milled rice:
/// no single event is out of bounds, but the period's organic rice is more than the
/// organic paddy can give, and so is what it shipped.
#[test]
fn rice_made_from_husk_is_more_than_the_paddy_can_yield() {
    let mut h = Synthetic::default();
    h.add_lot("paddy-o", IdClass::Lot, "paddy", Some("organic"), 10_000);
    h.add_lot("head-o", IdClass::Lot, "head-rice", Some("organic"), 5000);
    h.add_lot(
        "broken-o",
        IdClass::Lot,
        "broken-rice",
        Some("organic"),
        2000,
    );
    h.add_lot("husk-o", IdClass::Lot, "husk", Some("organic"), 3000);
    h.add_lot(
        "rice-o2",
        IdClass::Lot,
        "milled-rice",
        Some("organic"),
        2000,
    );
    h.add(
        1,
        Kind::Receiving,
        1,
        vec![mv("paddy-o", transit_in(), held(), 10_000)],
    );
    h.add(
        2,
        Kind::Milling,
        2,
        vec![
            mv("paddy-o", held(), Place::Consumed, 10_000),
            create("head-o", 5000),
            create("broken-o", 2000),
            create("husk-o", 3000),
        ],
    );
    h.add(
        3,
        Kind::Bagging,
        3,
        vec![
            mv("husk-o", held(), Place::Consumed, 2000),
            create("rice-o2", 2000),
        ],
    );
    h.add(
        4,
        Kind::Shipping,
        4,
        vec![
            mv("head-o", held(), transit_out(), 5000),
            mv("broken-o", held(), transit_out(), 2000),
            mv("rice-o2", held(), transit_out(), 2000),
        ],
    );
    h.holds_now("husk-o", 1000);
    let r = audit(&h, None, 100, None);
    assert_eq!(
        codes(&r),
        ["organic_yield_exceeded", "shipped_exceeds_capacity"]
    );
    let y = &r.flags[0];
    assert_eq!(
        y.message,
        "organic milled rice produced 9,000 kg exceeds what 10,000 kg of organic paddy can yield at 0.72: 7,200 kg"
    );
    assert_eq!(y.figures["actualKg"], 9000.0);
    assert_eq!(y.figures["maxKg"], 7200.0);
    assert_eq!(y.figures["excessKg"], 1800.0);
    assert_eq!(
        y.entries,
        [2, 3],
        "the milling and the bagging made the rice"
    );
    let s = &r.flags[1];
    assert_eq!(
        s.message,
        "organic milled rice shipped 9,000 kg exceeds what 10,000 kg of organic paddy can yield at 0.72: 7,200 kg"
    );
    assert_eq!(s.entries, [4]);
    assert_eq!(s.organic_status, Some(Status::Organic));
    // The filter on husk still shows nothing of it; on paddy it does.
    assert!(audit(&h, None, 100, Some("bran")).flags.is_empty());
    assert_eq!(audit(&h, None, 100, Some("paddy")).flags.len(), 2);
}

/// Paddy renamed by a drying step hides a 0.92 milling from the rules' per-event check; the
/// audit measures it against all inputs.
#[test]
fn milling_of_renamed_paddy_is_measured_against_all_inputs() {
    let mut h = Synthetic::default();
    h.add_lot("paddy-o", IdClass::Lot, "paddy", Some("organic"), 10_000);
    h.add_lot(
        "dried-o",
        IdClass::Lot,
        "dried-paddy",
        Some("organic"),
        9800,
    );
    h.add_lot("head-o", IdClass::Lot, "head-rice", Some("organic"), 5000);
    h.add_lot(
        "broken-o",
        IdClass::Lot,
        "broken-rice",
        Some("organic"),
        4000,
    );
    h.add_lot("husk-o", IdClass::Lot, "husk", Some("organic"), 800);
    h.add(
        1,
        Kind::Receiving,
        1,
        vec![mv("paddy-o", transit_in(), held(), 10_000)],
    );
    h.add(
        2,
        Kind::Drying,
        2,
        vec![
            mv("paddy-o", held(), Place::Consumed, 10_000),
            create("dried-o", 9800),
        ],
    );
    h.add(
        3,
        Kind::Milling,
        3,
        vec![
            mv("dried-o", held(), Place::Consumed, 9800),
            create("head-o", 5000),
            create("broken-o", 4000),
            create("husk-o", 800),
        ],
    );
    for (k, kg) in [("head-o", 5000), ("broken-o", 4000), ("husk-o", 800)] {
        h.holds_now(k, kg);
    }
    let r = audit(&h, None, 100, None);
    assert_eq!(codes(&r), ["organic_yield_exceeded", "yield_out_of_bounds"]);
    let t = r.transformations.iter().find(|t| t.entry == 3).unwrap();
    assert_eq!(t.within_bounds, Some(false));
    assert_eq!(t.yield_, Some(0.9184));
    assert!(
        t.checks[0].measure.contains("all inputs"),
        "{}",
        t.checks[0].measure
    );
    // From after the drying on, the dried paddy in the opening stock is what the rice can
    // come from: still too little.
    let later = audit(&h, Some(3), 100, None);
    let y = later
        .flags
        .iter()
        .find(|f| f.code == "organic_yield_exceeded")
        .unwrap();
    assert_eq!(
        y.message,
        "organic milled rice produced 9,000 kg exceeds what 9,800 kg of organic dried paddy can yield at 0.72: 7,056 kg"
    );
    // An honest milling of the same dried paddy over the same period is not flagged.
    let mut honest = Synthetic::default();
    for (k, p, kg) in [
        ("paddy-o", "paddy", 10_000),
        ("dried-o", "dried-paddy", 9800),
        ("head-o", "head-rice", 4500),
        ("broken-o", "broken-rice", 2000),
        ("husk-o", "husk", 3300),
    ] {
        honest.add_lot(k, IdClass::Lot, p, Some("organic"), kg);
    }
    honest.entries = h.entries.iter().take(2).cloned().collect();
    honest.add(
        3,
        Kind::Milling,
        3,
        vec![
            mv("dried-o", held(), Place::Consumed, 9800),
            create("head-o", 4500),
            create("broken-o", 2000),
            create("husk-o", 3300),
        ],
    );
    for (k, kg) in [("head-o", 4500), ("broken-o", 2000), ("husk-o", 3300)] {
        honest.holds_now(k, kg);
    }
    for from in [None, Some(3)] {
        let r = audit(&honest, from, 100, None);
        assert!(r.flags.is_empty(), "{from:?}: {:?}", r.flags);
    }

    // The rules' check finds nothing: no input is called paddy.
    let ins = [(Some("dried-paddy"), 9800 * KG)];
    let outs = [
        (Some("head-rice"), 5000 * KG),
        (Some("broken-rice"), 4000 * KG),
        (Some("husk"), 800 * KG),
    ];
    assert!(
        crate::state::plausibility::transformation(Kind::Milling, &ins, &outs, &Bounds::default())
            .is_empty()
    );
}

#[test]
fn shipping_before_receiving_in_event_time_is_flagged() {
    let mut h = Synthetic::default();
    h.add_lot("rice-o", IdClass::Lot, "milled-rice", Some("organic"), 500);
    // Backdated: shipped at minute 1, received at minute 5.
    h.add(
        2,
        Kind::Shipping,
        1,
        vec![mv("rice-o", held(), transit_out(), 500)],
    );
    h.add(
        1,
        Kind::Receiving,
        5,
        vec![mv("rice-o", transit_in(), held(), 500)],
    );
    let r = audit(&h, None, 100, None);
    assert_eq!(codes(&r), ["shipped_exceeds_stock"]);
    assert_eq!(r.flags[0].figures["shortKg"], 500.0);
    assert_eq!(r.flags[0].entries, [2]);
    assert!(
        r.flags[0].message.contains("500 kg short at entry 2"),
        "{}",
        r.flags[0].message
    );
}

/// The audit reads lot records as the store keeps them, through a narrower view.
#[test]
fn lot_facts_read_a_stored_lot_record() {
    use crate::state::codec::Stored;
    let mut h = Synthetic::default();
    h.add_lot("l", IdClass::Item, "head-rice", Some("in-conversion"), 50);
    h.holds_now("l", 50);
    let mut bytes = Vec::new();
    h.lots["l"].encode(&mut bytes);
    let f = LotFacts::from(&crate::state::LotRecord::decode(&bytes).unwrap());
    assert_eq!(f.class, IdClass::Item);
    assert_eq!(f.product.as_deref(), Some("head-rice"));
    assert_eq!(f.growing_method.as_deref(), Some("in-conversion"));
    assert_eq!(f.amount, 50 * KG);
    assert_eq!(f.held.get(X), Some(&(50 * KG)));
}

#[test]
fn kilograms_are_written_for_people() {
    assert_eq!(fmt_kg(9_000 * KG), "9,000 kg");
    assert_eq!(fmt_kg(1_234_567 * KG + 250_000), "1,234,567.25 kg");
    assert_eq!(fmt_kg(0), "0 kg");
    assert_eq!(fmt_kg(-500 * KG), "-500 kg");
    assert_eq!(fmt_kg(999), "0.001 kg");
}

#[test]
fn instants_and_product_names() {
    assert_eq!(parse_instant_ms("1970-01-02"), Some(86_400_000));
    assert_eq!(parse_instant_ms("1970-01-01T07:00:00+07:00"), Some(0));
    for bad in [
        "2026-13-01",
        "2026-1-1",
        "yesterday",
        "",
        "2026-01-01T00:00:00",
    ] {
        assert_eq!(parse_instant_ms(bad), None, "{bad}");
    }
    assert_eq!(format_time_ms(86_400_000), "1970-01-02T00:00:00Z");
    for ok in ["paddy", "head-rice", "cassava-starch", "rice2"] {
        assert!(is_product_name(ok), "{ok}");
    }
    for bad in [
        "",
        "Head-Rice",
        "head rice",
        "-rice",
        "rice-",
        "a--b",
        &"x".repeat(65),
    ] {
        assert!(!is_product_name(bad), "{bad:?}");
    }
}

proptest! {
    /// The audit's per-transformation verdict is the rules' own: a milling is within its
    /// bounds exactly when `state::plausibility` raises no flag for it.
    #[test]
    fn per_transformation_checks_agree_with_the_rules(
        paddy in 1i64..20_000_000_000,
        head in 0i64..20_000_000_000,
        broken in 0i64..5_000_000_000,
    ) {
        let mut h = Synthetic::default();
        h.add_lot("p", IdClass::Lot, "paddy", Some("organic"), 0);
        h.add_lot("h", IdClass::Lot, "head-rice", Some("organic"), 0);
        h.add_lot("b", IdClass::Lot, "broken-rice", Some("organic"), 0);
        let mut effects = vec![
            Effect::Move { key: "p".into(), from: held(), to: Place::Consumed, amount: paddy, contents: vec![] },
        ];
        for (k, mg) in [("h", head), ("b", broken)] {
            if mg > 0 {
                effects.push(Effect::Create { key: k.into(), holder: Some(X.into()), amount: mg });
            }
        }
        h.add(1, Kind::Milling, 1, effects);
        let r = audit(&h, None, 100, None);
        let ours = r.transformations[0].within_bounds;
        let ins = [(Some("paddy"), paddy)];
        let outs = [(Some("head-rice"), head), (Some("broken-rice"), broken)];
        let rules = crate::state::plausibility::transformation(Kind::Milling, &ins, &outs, &Bounds::default());
        prop_assert_eq!(ours, Some(rules.is_empty()));
        let flagged = r.flags.iter().filter(|f| f.code == "yield_out_of_bounds").count();
        prop_assert_eq!(flagged, rules.len());
    }
}
