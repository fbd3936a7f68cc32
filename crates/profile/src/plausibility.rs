//! Plausibility checks that depend on one event and the products of its inputs only: harvest
//! yield per hectare, plot geometry, and the yield of each transformation.
//!
//! The rules call these when they accept an event, and the provenance verifier calls the same
//! functions when it recomputes a lot's flags from the entries of an offline bundle, so the two
//! can never disagree on what is flagged. Outside the bounds an entry is flagged, never refused.

use crate::profile::{Harvest, Kind};
use crate::records::{Bounds, FlagCode, kg};

/// A flag before it is tied to an entry: its stable code and a message.
pub type Finding = (FlagCode, String);

/// The product a harvest of `crop` creates.
pub fn harvested_product(crop: &str) -> String {
    match crop {
        "rice" => "paddy".to_owned(),
        "cassava" => "cassava-roots".to_owned(),
        other => other.to_owned(),
    }
}

/// Organic ranks above in-conversion above conventional; a mix takes the lowest.
pub fn method_rank(m: &str) -> u8 {
    match m {
        "organic" => 2,
        "in-conversion" => 1,
        _ => 0,
    }
}

/// A harvest heavier than its plot can yield, or a large plot located by a single point.
pub fn harvest(h: &Harvest, b: &Bounds) -> Vec<Finding> {
    let total: i64 = h.lots.iter().map(|(_, mg)| mg).sum();
    let mut out = Vec::new();
    let max_t_per_ha = match h.crop.as_str() {
        "rice" => Some(b.rice_max_t_per_ha),
        "cassava" => Some(b.cassava_max_t_per_ha),
        _ => None,
    };
    if let Some(max) = max_t_per_ha {
        let limit_t = h.plot.area_hectares * max;
        let t = total as f64 / 1e9;
        if t > limit_t {
            out.push((
                FlagCode::HarvestExceedsYield,
                format!(
                    "{t:.3} t harvested from {} ha is more than {max} t/ha allows ({limit_t:.3} t)",
                    h.plot.area_hectares
                ),
            ));
        }
    }
    if h.plot.geo.get("type").and_then(|t| t.as_str()) == Some("Point")
        && h.plot.area_hectares > b.point_plot_max_ha
    {
        out.push((
            FlagCode::PlotNeedsPolygon,
            format!(
                "plot {} is {} ha but located by a point; plots over {} ha need a polygon",
                h.plot.id, h.plot.area_hectares, b.point_plot_max_ha
            ),
        ));
    }
    out
}

/// The yield of a transformation of `kind` against its bounds. `inputs` and `outputs` are
/// `(product, mass in mg)`; an output without a product of its own has its inputs' product.
pub fn transformation(
    kind: Kind,
    inputs: &[(Option<&str>, i64)],
    outputs: &[(Option<&str>, i64)],
    b: &Bounds,
) -> Vec<Finding> {
    let by = |items: &[(Option<&str>, i64)], names: &[&str]| -> i64 {
        items
            .iter()
            .filter(|(p, _)| p.is_some_and(|p| names.contains(&p)))
            .map(|(_, m)| m)
            .sum()
    };
    let mut out = Vec::new();
    let mut ratio = |code: FlagCode, what: &str, num: i64, den: i64, [lo, hi]: [f64; 2]| {
        if den > 0 {
            let r = num as f64 / den as f64;
            if r < lo || r > hi {
                out.push((
                    code,
                    format!(
                        "{what} is {r:.3} ({} from {}); plausible is {lo}–{hi}",
                        kg(num),
                        kg(den)
                    ),
                ));
            }
        }
    };
    match kind {
        Kind::Milling => {
            let paddy = by(inputs, &["paddy"]);
            let milled = by(outputs, &["head-rice", "broken-rice", "milled-rice"]);
            let head = by(outputs, &["head-rice"]);
            ratio(
                FlagCode::MillingRecovery,
                "milled rice per paddy",
                milled,
                paddy,
                b.milling_recovery,
            );
            ratio(
                FlagCode::HeadRiceRatio,
                "head rice per paddy",
                head,
                paddy,
                b.head_rice,
            );
        }
        Kind::Chipping => {
            let roots = by(inputs, &["cassava-roots"]);
            let chips = by(outputs, &["cassava-chips"]);
            ratio(
                FlagCode::CassavaConversion,
                "dried chips per fresh root",
                chips,
                roots,
                b.cassava_chips,
            );
        }
        Kind::StarchExtraction => {
            let roots = by(inputs, &["cassava-roots"]);
            let starch = by(outputs, &["cassava-starch"]);
            ratio(
                FlagCode::CassavaConversion,
                "starch per fresh root",
                starch,
                roots,
                b.cassava_starch,
            );
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milling_outside_the_recovery_bounds_is_flagged_with_the_numbers() {
        let b = Bounds::default();
        let ins = [(Some("paddy"), 1_000_000_000)];
        let fine = [
            (Some("head-rice"), 450_000_000),
            (Some("broken-rice"), 180_000_000),
        ];
        assert!(transformation(Kind::Milling, &ins, &fine, &b).is_empty());
        let laundered = [(Some("head-rice"), 900_000_000)];
        let f = transformation(Kind::Milling, &ins, &laundered, &b);
        let codes: Vec<&str> = f.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(codes, ["milling_recovery", "head_rice_ratio"]);
        assert!(f[0].1.contains("0.900"), "{}", f[0].1);
    }

    #[test]
    fn products_without_a_known_name_count_for_nothing() {
        let b = Bounds::default();
        let ins = [(None, 1_000_000_000)];
        let outs = [(Some("head-rice"), 900_000_000)];
        assert!(transformation(Kind::Milling, &ins, &outs, &b).is_empty());
        assert!(transformation(Kind::Bagging, &ins, &outs, &b).is_empty());
    }
}
