//! QR codes of GS1 Digital Link URLs (`https://example.org/01/09506000134352/10/ABC123`), drawn
//! as SVG or PNG to be printed on bags and labels, so that a phone can open a lot's history.
//!
//! Error correction is level M: it restores about 15% of damaged modules, enough for a label that
//! gets scuffed, wet or creased, while the code stays one or two versions smaller (so larger
//! modules on the same label) than at Q or H. Every image carries the 4-module white quiet zone
//! that ISO/IEC 18004 requires: without it scanners miss the finder patterns when the label is
//! printed on a dark or busy background, and a printer's margin cannot be relied on to supply it.
//!
//! Pure functions, no I/O: `http` serves what they return.

use std::fmt::Write as _;

use qrcode::{Color, EcLevel, QrCode};

/// Width of the white margin around the code, in modules.
pub const QUIET_ZONE: usize = 4;

/// Accepted `module_px` for [`png()`]. Above 40 the largest code is over 7,000 pixels wide, which
/// no label needs and would only let a request make the server build a huge image.
pub const MODULE_PX: std::ops::RangeInclusive<u32> = 1..=40;

/// The most bytes of arbitrary text (byte mode) a version-40 code holds at level M.
const MAX_BYTES: usize = 2331;

/// No text longer than this fits in any mode (all digits) at level M, so it is refused before
/// running the encoder's segment optimiser over input of any size.
const MAX_DIGITS: usize = 5596;

/// Why no code was made. The messages are shown to whoever asked for the label, so each says
/// what to change.
#[derive(Debug, thiserror::Error)]
pub enum QrError {
    #[error(
        "the text is {len} bytes, too long for a QR code: at error correction level M a code holds \
         at most {MAX_BYTES} bytes of text such as a URL, and a label scans far better well below \
         that; shorten the URL (a shorter domain, fewer Digital Link qualifiers or query \
         parameters)"
    )]
    TooLong { len: usize },
    #[error("module size {0} px is out of range: choose 1 to 40 pixels per module")]
    ModulePx(u32),
    /// Any other refusal by the encoder; not expected for text, kept so that nothing panics.
    #[error("cannot encode the text as a QR code: {0}")]
    Encode(String),
    #[error("cannot write the PNG: {0}")]
    Png(String),
}

/// The code's modules, row by row, `true` for dark; `width` × `width`, without the quiet zone.
struct Matrix {
    width: usize,
    dark: Vec<bool>,
}

impl Matrix {
    fn is_dark(&self, x: usize, y: usize) -> bool {
        self.dark[y * self.width + x]
    }
}

fn encode(text: &str) -> Result<Matrix, QrError> {
    let too_long = QrError::TooLong { len: text.len() };
    if text.len() > MAX_DIGITS {
        return Err(too_long);
    }
    let code =
        QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).map_err(|e| match e {
            qrcode::types::QrError::DataTooLong => too_long,
            other => QrError::Encode(other.to_string()),
        })?;
    let width = code.width();
    let dark = code
        .into_colors()
        .into_iter()
        .map(|c| c == Color::Dark)
        .collect();
    Ok(Matrix { width, dark })
}

/// A standalone SVG document of the QR code of `text`, one unit per module, quiet zone included.
///
/// Dark modules are one `<path>` of horizontal runs rather than a `<rect>` each, which keeps a
/// long URL's code to a few kilobytes. It has no `width`/`height`, so it scales to whatever size
/// the label layout gives it; `crispEdges` stops anti-aliasing from greying module borders.
pub fn svg(text: &str) -> Result<String, QrError> {
    let m = encode(text)?;
    let size = m.width + 2 * QUIET_ZONE;
    let mut out = String::with_capacity(512 + m.width * m.width);
    // Writing to a String cannot fail, so the fmt::Results below are ignored.
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" \
         shape-rendering=\"crispEdges\"><title>"
    );
    escape_xml(text, &mut out);
    let _ = write!(
        out,
        "</title><rect width=\"{size}\" height=\"{size}\" fill=\"#fff\"/><path fill=\"#000\" d=\""
    );
    for y in 0..m.width {
        let mut x = 0;
        while x < m.width {
            if !m.is_dark(x, y) {
                x += 1;
                continue;
            }
            let start = x;
            while x < m.width && m.is_dark(x, y) {
                x += 1;
            }
            let run = x - start;
            let _ = write!(
                out,
                "M{} {}h{run}v1h-{run}z",
                start + QUIET_ZONE,
                y + QUIET_ZONE
            );
        }
    }
    out.push_str("\"/></svg>\n");
    Ok(out)
}

/// A 1-bit greyscale PNG of the QR code of `text`, `module_px` pixels per module, quiet zone
/// included: (modules + 8) × `module_px` pixels square.
///
/// Whole pixels per module, because a printer scaling a code by a fraction blurs module edges;
/// one bit per pixel, because the image has only two colours and so stays small.
pub fn png(text: &str, module_px: u32) -> Result<Vec<u8>, QrError> {
    if !MODULE_PX.contains(&module_px) {
        return Err(QrError::ModulePx(module_px));
    }
    let m = encode(text)?;
    let px = module_px as usize;
    let side = (m.width + 2 * QUIET_ZONE) * px;
    let row_bytes = side.div_ceil(8);

    // PNG greyscale: bit 1 is white. Rows start all white, then the dark modules are cleared.
    let mut pixels = vec![0xffu8; row_bytes * side];
    let mut row = vec![0xffu8; row_bytes];
    for y in 0..m.width {
        row.fill(0xff);
        for x in (0..m.width).filter(|&x| m.is_dark(x, y)) {
            let left = (x + QUIET_ZONE) * px;
            for p in left..left + px {
                row[p / 8] &= !(0x80 >> (p % 8));
            }
        }
        let top = (y + QUIET_ZONE) * px;
        for r in top..top + px {
            pixels[r * row_bytes..(r + 1) * row_bytes].copy_from_slice(&row);
        }
    }

    // side ≤ (177 + 8) × 40, far inside u32.
    let side = side as u32;
    let mut out = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut out, side, side);
    encoder.set_color(::png::ColorType::Grayscale);
    encoder.set_depth(::png::BitDepth::One);
    let png_err = |e: ::png::EncodingError| QrError::Png(e.to_string());
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(out)
}

/// Escapes `text` for element content, and replaces the characters XML 1.0 forbids outright
/// (most C0 controls, U+FFFE, U+FFFF) so that no input can make the document malformed.
fn escape_xml(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            _ => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: &str = "https://example.org/01/09506000134352/10/ABC123";

    /// A Digital Link URL of about 200 characters: GTIN, lot, serial, dates and a query string.
    fn long_url() -> String {
        let url = "https://id.farm-cooperative.example.org/01/09506000134352/10/LOT-2025-0917-KIAMBU-\
                   AVOCADO-HASS-B07/21/SN0000012345678?17=261231&11=250917&3103=012500\
                   &linkType=gs1:traceability&origin=KE-KIAMBU-coop";
        assert!((190..=230).contains(&url.len()), "{}", url.len());
        url.to_string()
    }

    fn modules(text: &str) -> usize {
        encode(text).unwrap().width
    }

    /// Decodes a PNG to 8-bit greyscale: (width, height, pixels).
    fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
        let mut decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(::png::Transformations::EXPAND);
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(info.color_type, ::png::ColorType::Grayscale);
        assert_eq!(info.bit_depth, ::png::BitDepth::Eight);
        buf.truncate(info.buffer_size());
        (info.width as usize, info.height as usize, buf)
    }

    /// Reads the one QR code in a greyscale image; asserts it is level M.
    fn read_qr(w: usize, h: usize, pixels: &[u8]) -> String {
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "expected exactly one QR code");
        let (meta, text) = grids[0].decode().unwrap();
        // In the format information M is 0b00.
        assert_eq!(meta.ecc_level, 0, "error correction level is not M");
        text
    }

    fn png_round_trip(text: &str, module_px: u32) {
        let bytes = png(text, module_px).unwrap();
        let (w, h, pixels) = decode_png(&bytes);
        let side = (modules(text) + 8) * module_px as usize;
        assert_eq!((w, h), (side, side));
        assert!(
            pixels.iter().all(|&p| p == 0 || p == 255),
            "not black and white"
        );

        let quiet = QUIET_ZONE * module_px as usize;
        for y in 0..h {
            for x in 0..w {
                if x < quiet || y < quiet || x >= w - quiet || y >= h - quiet {
                    assert_eq!(pixels[y * w + x], 255, "quiet zone not white at ({x}, {y})");
                }
            }
        }
        // The top-left finder pattern's corner starts right where the quiet zone ends.
        assert_eq!(pixels[quiet * w + quiet], 0);
        assert_eq!(read_qr(w, h, &pixels), text);
    }

    #[test]
    fn png_round_trips_a_short_url() {
        png_round_trip(SHORT, 4);
    }

    #[test]
    fn png_round_trips_a_long_url() {
        png_round_trip(&long_url(), 3);
    }

    #[test]
    fn png_round_trips_non_ascii_text_and_odd_module_sizes() {
        // Sizes whose rows do not fill whole bytes exercise the 1-bit packing.
        png_round_trip("https://example.org/01/09506000134352/10/Ñandú-ÅÄÖ", 5);
        png_round_trip(SHORT, 7);
    }

    #[test]
    fn png_size_is_modules_plus_quiet_zone_times_module_px() {
        let n = modules(SHORT);
        for px in [1, 2, 40] {
            let (w, h, _) = decode_png(&png(SHORT, px).unwrap());
            assert_eq!((w, h), ((n + 8) * px as usize, (n + 8) * px as usize));
        }
    }

    #[test]
    fn invalid_module_px_is_an_error() {
        for px in [0, 41, u32::MAX] {
            let err = png(SHORT, px).unwrap_err();
            assert!(matches!(err, QrError::ModulePx(p) if p == px), "{err:?}");
            assert!(err.to_string().contains("1 to 40"), "{err}");
        }
    }

    #[test]
    fn too_long_text_is_an_error_not_a_panic() {
        let text = "https://example.org/".to_string() + &"a".repeat(4980);
        assert_eq!(text.len(), 5000);
        for err in [svg(&text).unwrap_err(), png(&text, 4).unwrap_err()] {
            assert!(matches!(err, QrError::TooLong { len: 5000 }), "{err:?}");
            assert!(err.to_string().contains("shorten"), "{err}");
        }
        // Just over byte-mode capacity goes through the encoder rather than the early check.
        let err = svg(&"a".repeat(MAX_BYTES + 1)).unwrap_err();
        assert!(matches!(err, QrError::TooLong { .. }), "{err:?}");
        assert!(svg(&"a".repeat(MAX_BYTES)).is_ok());
        // Megabytes are refused at once, not run through the segment optimiser.
        assert!(matches!(
            svg(&"9".repeat(4 << 20)),
            Err(QrError::TooLong { .. })
        ));
    }

    #[test]
    fn empty_text_still_makes_a_code() {
        assert!(svg("").is_ok());
        png_round_trip("", 4);
    }

    #[test]
    fn svg_is_well_formed_with_viewbox_and_one_path() {
        let doc = svg(SHORT).unwrap();
        let size = modules(SHORT) + 8;
        assert!(
            doc.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{doc}"
        );
        assert!(doc.trim_end().ends_with("</svg>"));
        assert!(doc.contains(&format!("viewBox=\"0 0 {size} {size}\"")));
        assert!(doc.contains("shape-rendering=\"crispEdges\""));
        assert!(doc.contains(&format!("<title>{SHORT}</title>")));
        assert_eq!(doc.matches("<path").count(), 1);
        assert_eq!(doc.matches("<rect").count(), 1, "only the white background");
        assert_eq!(doc.matches('<').count(), doc.matches('>').count());
        // Every element is closed: <svg>, <title> by their end tags, <rect/> and <path/> by `/>`.
        assert_eq!(doc.matches("</").count() + doc.matches("/>").count(), 4);
    }

    #[test]
    fn svg_title_is_escaped() {
        let text = "https://example.org/01/09506000134352?a=1&b=<2>\u{1}";
        let doc = svg(text).unwrap();
        assert!(
            doc.contains(
                "<title>https://example.org/01/09506000134352?a=1&amp;b=&lt;2&gt;\u{fffd}</title>"
            ),
            "{doc}"
        );
        // The only raw `<` and `&` are markup: the title's are all escaped.
        let title = doc
            .split("<title>")
            .nth(1)
            .unwrap()
            .split("</title>")
            .next()
            .unwrap();
        assert!(!title.contains('<'));
        assert_eq!(
            title.matches('&').count(),
            title.matches("&amp;").count()
                + title.matches("&lt;").count()
                + title.matches("&gt;").count()
        );
    }

    /// Draws the SVG's path back onto a grid, so the test checks the drawing, not the encoder.
    fn rasterize_svg(doc: &str) -> (usize, Vec<bool>) {
        let size: usize = doc
            .split("viewBox=\"0 0 ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .unwrap()
            .parse()
            .unwrap();
        let d = doc
            .split(" d=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let mut dark = vec![false; size * size];
        for cmd in d.split('z').filter(|c| !c.is_empty()) {
            // Each run is `M{x} {y}h{n}v1h-{n}`.
            let rest = cmd.strip_prefix('M').unwrap();
            let (x, rest) = rest.split_once(' ').unwrap();
            let (y, rest) = rest.split_once('h').unwrap();
            let (n, rest) = rest.split_once('v').unwrap();
            let n: usize = n.parse().unwrap();
            assert_eq!(rest, format!("1h-{n}"));
            let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
            for i in x..x + n {
                assert!(!dark[y * size + i], "runs overlap");
                dark[y * size + i] = true;
            }
        }
        (size, dark)
    }

    #[test]
    fn svg_draws_the_same_code_as_the_png() {
        for text in [SHORT.to_string(), long_url()] {
            let (size, dark) = rasterize_svg(&svg(&text).unwrap());
            let (w, _, pixels) = decode_png(&png(&text, 1).unwrap());
            assert_eq!(size, w);
            let from_png: Vec<bool> = pixels.iter().map(|&p| p == 0).collect();
            assert_eq!(dark, from_png);
            // And scaled up it reads back as the text.
            let px = 4;
            let grey = |x: usize, y: usize| {
                if dark[(y / px) * size + x / px] {
                    0
                } else {
                    255
                }
            };
            let mut img = rqrr::PreparedImage::prepare_from_greyscale(size * px, size * px, grey);
            let grids = img.detect_grids();
            assert_eq!(grids.len(), 1);
            assert_eq!(grids[0].decode().unwrap().1, text);
        }
    }
}
