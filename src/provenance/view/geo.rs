//! A plot's location: its GeoJSON geometry — the one part of the claims that stays raw JSON —
//! read once into a [`Location`], the same way for the server's claims and for a document.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Where a plot is, as far as its geometry says.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Location {
    /// No geometry, or a point without usable coordinates.
    #[default]
    Unknown,
    Point(LatLon),
    /// A polygon's outer ring: its centre (`None` without vertices) and its vertex count (the
    /// closing vertex GeoJSON repeats not counted).
    Polygon {
        centre: Option<LatLon>,
        vertices: usize,
    },
    /// A geometry of another type, by its type name.
    Other(String),
}

/// A position in degrees (WGS 84), finite but not necessarily in range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatLon {
    pub lat: f64,
    pub lon: f64,
}

/// The members a geometry is read by; anything else in it is ignored.
#[derive(Deserialize)]
struct Geometry {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    coordinates: Value,
}

impl Location {
    /// The location a GeoJSON geometry (coordinates are `[longitude, latitude]`) describes.
    pub fn from_geojson(geo: &Value) -> Location {
        let geometry = match geo {
            Value::Object(_) => Geometry::deserialize(geo).ok(),
            _ => None,
        };
        let Some(g) = geometry else {
            return Location::Unknown;
        };
        match g.kind.as_str() {
            "Point" => lat_lon(&g.coordinates).map_or(Location::Unknown, Location::Point),
            "Polygon" => polygon(&g.coordinates),
            _ => Location::Other(g.kind),
        }
    }
}

/// The `geo` member of a plot in a document.
pub(super) fn location<'de, D: Deserializer<'de>>(d: D) -> Result<Location, D::Error> {
    Ok(Location::from_geojson(&Value::deserialize(d)?))
}

fn polygon(coordinates: &Value) -> Location {
    let outer = coordinates.get(0).and_then(Value::as_array);
    let mut ring: Vec<(f64, f64)> = outer
        .into_iter()
        .flatten()
        .filter_map(lat_lon)
        .map(|p| (p.lon, p.lat))
        .collect();
    // GeoJSON repeats the first vertex at the end to close the ring.
    if ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    Location::Polygon {
        centre: centroid(&ring).map(|(lon, lat)| LatLon { lat, lon }),
        vertices: ring.len(),
    }
}

/// A GeoJSON position, `[longitude, latitude, …]`.
fn lat_lon(v: &Value) -> Option<LatLon> {
    let (lon, lat) = (v.get(0)?.as_f64()?, v.get(1)?.as_f64()?);
    (lon.is_finite() && lat.is_finite()).then_some(LatLon { lat, lon })
}

/// The area centroid of a simple polygon of `(x, y)` vertices (shoelace formula in plain
/// degrees: plots are small enough for the distortion not to matter); the mean of the vertices
/// when the area is zero.
fn centroid(ring: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = ring.len();
    if n == 0 {
        return None;
    }
    // Relative to the first vertex, for precision with coordinates far from zero.
    let (x0, y0) = ring[0];
    let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (xi, yi) = (ring[i].0 - x0, ring[i].1 - y0);
        let (xj, yj) = (ring[(i + 1) % n].0 - x0, ring[(i + 1) % n].1 - y0);
        let cross = xi * yj - xj * yi;
        a += cross;
        cx += (xi + xj) * cross;
        cy += (yi + yj) * cross;
    }
    if a.abs() > 1e-15 {
        Some((x0 + cx / (3.0 * a), y0 + cy / (3.0 * a)))
    } else {
        let k = n as f64;
        let (sx, sy) = ring
            .iter()
            .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
        Some((sx / k, sy / k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_point_is_longitude_then_latitude() {
        assert_eq!(
            Location::from_geojson(&json!({"type": "Point", "coordinates": [103.2, 13.1]})),
            Location::Point(LatLon {
                lat: 13.1,
                lon: 103.2
            })
        );
    }

    #[test]
    fn polygon_has_its_centre_and_vertex_count() {
        // A 0.002° square around (103.2, 13.1), closed as GeoJSON requires.
        let square = json!({"type": "Polygon", "coordinates": [[
            [103.199, 13.099], [103.201, 13.099], [103.201, 13.101], [103.199, 13.101], [103.199, 13.099]]]});
        let Location::Polygon { centre, vertices } = Location::from_geojson(&square) else {
            panic!("not a polygon");
        };
        let c = centre.unwrap();
        assert!(
            (c.lat - 13.1).abs() < 1e-9 && (c.lon - 103.2).abs() < 1e-9,
            "{c:?}"
        );
        assert_eq!(vertices, 4);
        // Degenerate (all on a line): the mean of the vertices.
        assert_eq!(centroid(&[(0.0, 0.0), (2.0, 0.0)]), Some((1.0, 0.0)));
        assert_eq!(centroid(&[]), None);
    }

    #[test]
    fn malformed_geometries_are_unknown() {
        for (geo, want) in [
            (json!(null), Location::Unknown),
            (json!("Point"), Location::Unknown),
            (json!(["Point", [1, 2]]), Location::Unknown),
            (json!({"type": 7}), Location::Unknown),
            (
                json!({"type": "Point", "coordinates": [1]}),
                Location::Unknown,
            ),
            (
                json!({"type": "Polygon", "coordinates": "x"}),
                Location::Polygon {
                    centre: None,
                    vertices: 0,
                },
            ),
            (
                json!({"type": "Polygon", "coordinates": [[]]}),
                Location::Polygon {
                    centre: None,
                    vertices: 0,
                },
            ),
            (
                json!({"type": "LineString"}),
                Location::Other("LineString".into()),
            ),
        ] {
            assert_eq!(Location::from_geojson(&geo), want, "{geo}");
        }
    }
}
