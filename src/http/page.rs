//! The buyer page: what a shopper or importer sees after scanning a lot's, item's or unit's GS1
//! Digital Link — the verdict first, then the product, where it was grown, plausibility flags,
//! every step from harvest to export, who held it when, and links to the evidence.
//!
//! Pure functions from the provenance document (`GET /v1/lots/{id}/provenance`) to a complete
//! HTML5 page; the routes that serve it live elsewhere. Every string in that document comes from
//! signed but untrusted event data, so all of it is HTML-escaped, links are emitted only for
//! same-site paths and http(s) URLs, and the page carries no JavaScript at all (its
//! Content-Security-Policy forbids scripts, so an escaping bug could not run one either). Any
//! member may be missing, null or of the wrong type: the page says "unknown" or leaves the
//! section out, and never panics.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use serde_json::Value;
use time::format_description::FormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

/// Appends formatted text to a `String`; writing to a `String` cannot fail.
macro_rules! w {
    ($out:expr, $($arg:tt)*) => {{
        let _ = write!($out, $($arg)*);
    }};
}

/// Single column up to a comfortable reading width; everything long (EPC URIs, DIDs, hashes) may
/// break anywhere, so a 360 px phone never scrolls sideways. Tables turn into stacked cards on
/// narrow screens for the same reason.
const STYLE: &str = r#"
*,*::before,*::after{box-sizing:border-box}
html{-webkit-text-size-adjust:100%;text-size-adjust:100%}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Khmer",sans-serif;color:#1b1f23;background:#f6f7f5;overflow-wrap:anywhere}
main{max-width:46rem;margin:0 auto;padding:1rem}
section{background:#fff;border:1px solid #dde1dc;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 .5rem}
h2{font-size:1.2rem;margin:0 0 .75rem}
h3{font-size:1rem;margin:0 0 .25rem}
p{margin:.25rem 0}
a{color:#0b57a4}
code,.id{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85em;overflow-wrap:anywhere}
.id{word-break:break-all}
.muted{color:#59636e;font-size:.9rem}
dl.facts{display:grid;grid-template-columns:minmax(6rem,max-content) minmax(0,1fr);gap:.25rem .75rem;margin:.5rem 0}
dl.facts dt{color:#59636e}
dl.facts dd{margin:0;min-width:0}
#verdict{border-width:2px;padding:1.25rem 1rem}
#verdict.ok{background:#e7f5ea;border-color:#1e7b34;color:#0f4a1f}
#verdict.bad{background:#fdecea;border-color:#b3261e;color:#7a1610}
#organic.ok{border-color:#1e7b34}
#organic.ok h2{color:#1e7b34}
#organic.bad{border-color:#b3261e}
#organic.bad h2{color:#b3261e}
.check{margin:.25rem 0}
.verdict-title{font-size:2rem;font-weight:700;line-height:1.2;margin:0 0 .25rem}
.problems{margin:.75rem 0 0;padding-left:1.25rem}
.problems li{margin:.25rem 0}
.card{border:1px solid #e3e6e2;border-radius:.375rem;padding:.75rem;margin:.5rem 0}
.farm .plot{border:0;border-top:1px solid #e3e6e2;border-radius:0;padding:.5rem 0 0;margin:.5rem 0 0}
.flag{background:#fff5e6;border:1px solid #c46a00;border-left-width:6px;border-radius:.375rem;padding:.75rem;margin:.5rem 0;color:#5c3200}
.flag-code{font-weight:700}
.ok-note{color:#1e7b34}
#timeline{list-style:none;margin:0;padding:0;counter-reset:step}
.event{position:relative;border-left:3px solid #8fb996;margin:0 0 0 .5rem;padding:0 0 1rem 1rem}
.event::before{content:"";position:absolute;left:-.5rem;top:.3rem;width:.75rem;height:.75rem;border-radius:50%;background:#1e7b34}
.event:last-child{border-left-color:transparent}
.event[data-signature="invalid"]::before{background:#b3261e}
.event:target{background:#fffbe6}
.event-head{margin:0 0 .25rem}
.event-kind{display:block;font-weight:700;font-size:1.05rem}
.event-head time{color:#59636e}
.sig-ok{color:#1e7b34;font-weight:600}
.sig-bad{color:#b3261e;font-weight:700}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:.4rem .5rem;border-bottom:1px solid #e3e6e2}
th{color:#59636e;font-weight:600}
#downloads ul{padding-left:1.25rem}
.qr{display:block;width:10rem;height:10rem;margin:.5rem 0;background:#fff}
pre{white-space:pre-wrap;overflow-wrap:anywhere;font-size:.8rem;background:#f3f4f2;padding:.5rem;border-radius:.25rem}
footer{max-width:46rem;margin:0 auto;padding:0 1rem 2rem}
@media (max-width:40rem){
 table,thead,tbody,tr,th,td{display:block}
 thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
 tr{border:1px solid #e3e6e2;border-radius:.375rem;margin:.5rem 0;padding:.25rem .5rem}
 td{border:0;padding:.15rem 0}
 td::before{content:attr(data-label) ": ";color:#59636e}
}
@media print{
 body{background:#fff;font-size:11pt}
 main{max-width:none;padding:0}
 section{border:1px solid #999;break-inside:avoid}
 #verdict,.flag{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 #downloads a[href]::after{content:" (" attr(href) ")";font-size:.8em}
}
"#;

/// Defence in depth for a page built from untrusted data: no scripts, no plugins, no forms, no
/// base rewriting; styles only inline, images only from this server.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'";

/// The buyer page for a provenance document. See the module docs for the guarantees.
pub fn buyer_page(p: &Value) -> String {
    let subject = &p["subject"];
    let product = text(&subject["product"]);
    let title = match &product {
        Some(name) => format!("{} — provenance", capitalised(&words(name))),
        None => "Provenance".to_owned(),
    };
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out, &title, "");
    out.push_str("<main>\n");
    verdict(&mut out, &p["verdict"]);
    product_section(&mut out, subject, &p["lots"]);
    organic(&mut out, &p["organic"]);
    origin(&mut out, &p["origin"]);
    certificates(&mut out, &p["certificates"]);
    flags(&mut out, &p["flags"]);
    timeline(&mut out, &p["timeline"]);
    custody(&mut out, &p["custody"]);
    downloads(&mut out, &p["links"], &p["checkpoint"]);
    out.push_str("</main>\n");
    footer(&mut out, &p["checkpoint"]);
    out
}

/// The page for an identifier that names nothing in this ledger (served with status 404).
pub fn not_found_page(what: &str) -> String {
    let mut out = String::with_capacity(4 * 1024);
    head(&mut out, "Not recorded", "");
    w!(
        out,
        r#"<main>
<section id="not-found">
<h1>Not recorded here</h1>
<p>No lot, item or unit with the identifier <code class="id">{}</code> is recorded in this ledger.</p>
<p>Check the code printed on the pack, or scan its QR code again. Identifiers look like a GS1
Digital Link path — <code>/01/{{GTIN}}/10/{{lot}}</code> for a lot,
<code>/01/{{GTIN}}/21/{{serial}}</code> for a tagged item, <code>/00/{{SSCC}}</code> for a pallet
or container — or an EPC URI such as <code class="id">urn:epc:id:sgtin:0614141.112345.1001</code>
or <code class="id">urn:epc:class:lgtin:0614141.112345.LOT42</code>.</p>
</section>
</main>
"#,
        Esc(what)
    );
    out.push_str("</body>\n</html>\n");
    out
}

/// The document head every page shares (CSP, no referrer, the base style and `extra_style`),
/// and the opening `<body>`.
pub(super) fn head(out: &mut String, title: &str, extra_style: &str) {
    w!(
        out,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="referrer" content="no-referrer">
<title>{} · lotline</title>
<style>{STYLE}{extra_style}</style>
</head>
<body>
"#,
        Esc(title)
    );
}

fn footer(out: &mut String, checkpoint: &Value) {
    out.push_str("<footer class=\"muted\"><p>Generated by lotline from signed GS1 EPCIS events");
    if let Some(origin) = text(&checkpoint["origin"]) {
        w!(
            out,
            " in the log <span class=\"id\">{}</span>",
            Esc(&origin)
        );
    }
    out.push_str(
        ". Anyone holding the log's public key can check every entry shown here.</p></footer>\n\
         </body>\n</html>\n",
    );
}

fn verdict(out: &mut String, v: &Value) {
    // Only an explicit `true` is a pass: a missing or malformed verdict must not read as one.
    let ok = v["verified"] == Value::Bool(true);
    let (class, title) = if ok {
        ("ok", "✓ Verified")
    } else {
        ("bad", "✗ Not verified")
    };
    w!(
        out,
        "<section id=\"verdict\" class=\"{class}\" data-verified=\"{ok}\" role=\"status\">\n\
         <p class=\"verdict-title\">{title}</p>\n"
    );
    match text(&v["summary"]) {
        Some(s) => w!(out, "<p>{}</p>\n", Esc(&s)),
        None if v.is_null() => out.push_str("<p>No verification result is available.</p>\n"),
        None => {}
    }
    let problems = items(&v["problems"]);
    if !problems.is_empty() {
        out.push_str("<ul class=\"problems\">\n");
        for pr in problems {
            out.push_str("<li class=\"problem\">");
            if let Some(code) = text(&pr["code"]) {
                w!(out, "<strong>{}</strong>: ", Esc(&code));
            }
            w!(out, "{}", Esc(&or_unknown(&pr["message"])));
            if let Some(at) = text(&pr["at"]) {
                w!(out, " <span class=\"muted\">(at {})</span>", Esc(&at));
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn product_section(out: &mut String, s: &Value, lots: &Value) {
    let name = text(&s["product"]).map(|p| words(&p));
    w!(
        out,
        "<section id=\"product\">\n<h1>{}</h1>\n<dl class=\"facts\">\n",
        Esc(&name.map_or("Unknown product".to_owned(), |n| capitalised(&n)))
    );
    fact(out, "Product", &s["product"]);
    fact(out, "Crop", &s["crop"]);
    fact(out, "Growing method", &s["growingMethod"]);
    if let Some(class) = text(&s["class"]) {
        w!(out, "<dt>Kind</dt><dd>{}</dd>\n", Esc(&class_words(&class)));
    }
    w!(
        out,
        "<dt>Identifier</dt><dd class=\"id\">{}</dd>\n",
        Esc(&or_unknown(&s["id"]))
    );
    if let Some(key) = text(&s["key"]) {
        w!(out, "<dt>GS1 key</dt><dd class=\"id\">{}</dd>\n", Esc(&key));
    }
    if let Some(dl) = text(&s["digitalLink"]) {
        out.push_str("<dt>Digital Link</dt><dd class=\"id\">");
        link(out, &dl, &dl);
        out.push_str("</dd>\n");
    }
    out.push_str("</dl>\n");
    let lots = items(lots);
    if !lots.is_empty() {
        w!(
            out,
            "<details><summary>Lots in its history ({})</summary>\n<ul>\n",
            lots.len()
        );
        for lot in lots {
            w!(
                out,
                "<li><span class=\"id\">{}</span> — {}",
                Esc(&or_unknown(&lot["key"])),
                Esc(&text(&lot["product"]).map_or("unknown".into(), |p| words(&p)))
            );
            if let Some(i) = lot["createdAt"].as_u64() {
                out.push_str(", created in ");
                entry_anchor(out, i);
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ul>\n</details>\n");
    }
    out.push_str("</section>\n");
}

fn origin(out: &mut String, o: &Value) {
    out.push_str("<section id=\"origin\">\n<h2>Origin farms</h2>\n");
    let farms = items(&o["farms"]);
    let plots = items(&o["plots"]);
    if farms.is_empty() && plots.is_empty() {
        out.push_str("<p>No origin is recorded for this product.</p>\n</section>\n");
        return;
    }
    let mut shown = vec![false; plots.len()];
    for farm in farms {
        out.push_str("<div class=\"card farm\">\n");
        w!(out, "<h3>{}</h3>\n", Esc(&or_unknown(&farm["name"])));
        out.push_str("<dl class=\"facts\">\n");
        fact(out, "Province", &farm["province"]);
        if let Some(id) = text(&farm["id"]) {
            w!(out, "<dt>Farm id</dt><dd class=\"id\">{}</dd>\n", Esc(&id));
        }
        out.push_str("</dl>\n");
        let id = &farm["id"];
        for (i, plot) in plots.iter().enumerate() {
            if !id.is_null() && plot["farm"] == *id {
                shown[i] = true;
                plot_card(out, plot, None);
            }
        }
        out.push_str("</div>\n");
    }
    // Plots whose farm is not listed still say where the crop grew.
    for (plot, _) in plots.iter().zip(&shown).filter(|(_, s)| !**s) {
        let name = text(&plot["farmName"]);
        plot_card(out, plot, Some(name.as_deref().unwrap_or("Unknown farm")));
    }
    out.push_str("</section>\n");
}

fn plot_card(out: &mut String, plot: &Value, farm_name: Option<&str>) {
    out.push_str("<div class=\"card plot\">\n");
    if let Some(name) = farm_name {
        w!(out, "<h3>{}</h3>\n", Esc(name));
    }
    out.push_str("<dl class=\"facts\">\n");
    w!(
        out,
        "<dt>Plot</dt><dd class=\"id\">{}</dd>\n",
        Esc(&or_unknown(&plot["plotId"]))
    );
    match plot["areaHectares"].as_f64() {
        Some(ha) => w!(out, "<dt>Area</dt><dd>{} ha</dd>\n", number(ha, 2)),
        None => out.push_str("<dt>Area</dt><dd>unknown</dd>\n"),
    }
    out.push_str("<dt>Location</dt><dd>");
    location(out, &plot["geo"]);
    out.push_str("</dd>\n<dt>Harvest</dt><dd>");
    let (start, end) = (text(&plot["harvestStart"]), text(&plot["harvestEnd"]));
    match (start, end) {
        (Some(s), Some(e)) if s == e => date(out, &s),
        (Some(s), Some(e)) => {
            date(out, &s);
            out.push_str(" – ");
            date(out, &e);
        }
        (Some(s), None) => {
            out.push_str("from ");
            date(out, &s);
        }
        (None, Some(e)) => {
            out.push_str("until ");
            date(out, &e);
        }
        (None, None) => out.push_str("unknown"),
    }
    out.push_str("</dd>\n");
    fact(out, "Growing method", &plot["growingMethod"]);
    if let Some(i) = plot["index"].as_u64() {
        out.push_str("<dt>Recorded</dt><dd>");
        entry_anchor(out, i);
        out.push_str("</dd>\n");
    }
    out.push_str("</dl>\n</div>\n");
}

/// A GeoJSON geometry (coordinates are `[longitude, latitude]`) as `lat, lon` with a map link.
fn location(out: &mut String, geo: &Value) {
    let ty = geo["type"].as_str();
    match ty {
        Some("Point") => match lon_lat(&geo["coordinates"]) {
            Some((lon, lat)) => coordinates(out, lat, lon),
            None => out.push_str("unknown"),
        },
        Some("Polygon") => {
            // The outer ring; GeoJSON repeats the first vertex at the end to close it.
            let mut ring: Vec<(f64, f64)> = items(&geo["coordinates"][0])
                .iter()
                .filter_map(lon_lat)
                .collect();
            if ring.len() > 1 && ring.first() == ring.last() {
                ring.pop();
            }
            let n = ring.len();
            match centroid(&ring) {
                Some((lon, lat)) => {
                    out.push_str(if n > 2 { "centre " } else { "" });
                    coordinates(out, lat, lon);
                    w!(
                        out,
                        " <span class=\"muted\">(polygon, {n} {})</span>",
                        if n == 1 { "vertex" } else { "vertices" }
                    );
                }
                None => out.push_str("unknown (polygon, no vertices)"),
            }
        }
        Some(other) => w!(out, "unknown ({})", Esc(other)),
        None => out.push_str("unknown"),
    }
}

fn lon_lat(v: &Value) -> Option<(f64, f64)> {
    let (lon, lat) = (v[0].as_f64()?, v[1].as_f64()?);
    (lon.is_finite() && lat.is_finite()).then_some((lon, lat))
}

/// The area centroid of a simple polygon (shoelace formula in plain degrees: plots are small
/// enough for the distortion not to matter); the mean of the vertices when the area is zero.
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

fn coordinates(out: &mut String, lat: f64, lon: f64) {
    let (la, lo) = (number(lat, 5), number(lon, 5));
    if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) {
        w!(
            out,
            "<a href=\"https://www.openstreetmap.org/?mlat={la}&amp;mlon={lo}#map=15/{la}/{lo}\">{la}, {lo}</a>"
        );
    } else {
        w!(
            out,
            "{la}, {lo} <span class=\"muted\">(out of range)</span>"
        );
    }
}

/// The derived organic status: the failed checks first, each with its evidence; the passed
/// ones folded away.
fn organic(out: &mut String, o: &Value) {
    let status = o["status"].as_str().unwrap_or("not_verified");
    let (class, title) = match status {
        "organic" => ("ok", "Organic"),
        "not_organic" => ("bad", "Not organic"),
        _ => ("bad", "Organic status not proven"),
    };
    w!(
        out,
        "<section id=\"organic\" class=\"{class}\" data-status=\"{}\">\n<h2>{title}</h2>\n",
        Esc(status)
    );
    let checks = items(&o["checks"]);
    let failed: Vec<&Value> = checks.iter().filter(|c| c["passed"] != true).collect();
    match status {
        "organic" => w!(
            out,
            "<p>Derived from the records, not claimed: all {} checks passed — every origin plot and every handler held a valid EU organic certificate for what it did, when it did it, and nothing non-organic was mixed in.</p>\n",
            checks.len()
        ),
        "not_organic" => w!(
            out,
            "<p>{} of {} checks failed: this product cannot be sold as organic on the strength of these records.</p>\n",
            failed.len(),
            checks.len()
        ),
        _ => out.push_str(
            "<p>The records could not be verified, so no organic status is proven.</p>\n",
        ),
    }
    let row = |out: &mut String, c: &Value| {
        w!(
            out,
            "<li class=\"check\" data-passed=\"{}\"><strong>{}</strong> — <span class=\"id\">{}</span>: {}",
            c["passed"] == true,
            Esc(&words(&or_unknown(&c["check"]))),
            Esc(&or_unknown(&c["subject"])),
            Esc(&or_unknown(&c["message"]))
        );
        if let Some(i) = c["entry"].as_u64() {
            out.push_str(" <span class=\"muted\">(");
            entry_anchor(out, i);
            out.push_str(")</span>");
        }
        out.push_str("</li>\n");
    };
    if !failed.is_empty() {
        out.push_str("<ul class=\"problems\">\n");
        for c in &failed {
            row(out, c);
        }
        out.push_str("</ul>\n");
    }
    let passed: Vec<&Value> = checks.iter().filter(|c| c["passed"] == true).collect();
    if !passed.is_empty() {
        w!(
            out,
            "<details><summary>{} passed checks and their certificates</summary>\n<ul>\n",
            passed.len()
        );
        for c in passed {
            row(out, c);
        }
        out.push_str("</ul>\n</details>\n");
    }
    out.push_str("</section>\n");
}

/// The certificates of the farms and handlers, with every suspension and withdrawal.
fn certificates(out: &mut String, c: &Value) {
    out.push_str("<section id=\"certificates\">\n<h2>Certificates</h2>\n");
    let certs = items(c);
    if certs.is_empty() {
        out.push_str("<p>No certificate of the farms or handlers is recorded.</p>\n");
    }
    for cert in certs {
        let decisions = items(&cert["decisions"]);
        let class = if decisions.is_empty() {
            "card cert"
        } else {
            "card cert flag"
        };
        w!(
            out,
            "<div class=\"{class}\">\n<h3>{} <span class=\"muted\">({})</span></h3>\n<dl class=\"facts\">\n",
            Esc(&or_unknown(&cert["number"])),
            Esc(&or_unknown(&cert["standard"]))
        );
        out.push_str("<dt>Holder</dt><dd>");
        actor(out, &cert["subjectName"], &cert["subject"]);
        out.push_str("</dd>\n<dt>Certifier</dt><dd>");
        actor(out, &cert["issuerName"], &cert["issuer"]);
        out.push_str("</dd>\n");
        let list = |v: &Value| {
            items(v)
                .iter()
                .filter_map(|x| x.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        fact(out, "Activities", &Value::String(list(&cert["activities"])));
        fact(out, "Products", &Value::String(list(&cert["products"])));
        w!(
            out,
            "<dt>Valid</dt><dd>{} to {}</dd>\n<dt>Id</dt><dd class=\"id\">{}</dd>\n</dl>\n",
            Esc(&or_unknown(&cert["validFrom"])),
            Esc(&or_unknown(&cert["validUntil"])),
            Esc(&or_unknown(&cert["id"]))
        );
        for d in decisions {
            w!(
                out,
                "<p class=\"flag-message\">⚠ {}</p>\n",
                Esc(&or_unknown(d))
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn flags(out: &mut String, f: &Value) {
    out.push_str("<section id=\"flags\">\n<h2>Plausibility checks</h2>\n");
    let flags = items(f);
    if flags.is_empty() {
        out.push_str("<p class=\"ok-note\">No plausibility flags: the recorded quantities and steps are within the expected ranges.</p>\n");
    }
    for flag in flags {
        out.push_str("<div class=\"flag\" role=\"note\">\n<p>⚠ ");
        w!(
            out,
            "<span class=\"flag-code\">{}</span></p>\n<p class=\"flag-message\">{}</p>\n",
            Esc(&text(&flag["code"]).map_or("flag".into(), |c| words(&c))),
            Esc(&or_unknown(&flag["message"]))
        );
        if let Some(i) = flag["index"].as_u64() {
            out.push_str("<p class=\"muted\">see ");
            entry_anchor(out, i);
            out.push_str("</p>\n");
        }
        out.push_str("</div>\n");
    }
    out.push_str("</section>\n");
}

fn timeline(out: &mut String, t: &Value) {
    out.push_str("<section id=\"journey\">\n<h2>From harvest to export</h2>\n");
    let events = items(t);
    if events.is_empty() {
        out.push_str("<p>No events are recorded.</p>\n");
    }
    out.push_str("<ol id=\"timeline\">\n");
    let mut anchored = std::collections::HashSet::new();
    for e in events {
        let index = e["index"].as_u64();
        let signed = e["signature"].as_str() == Some("valid");
        out.push_str("<li class=\"event\"");
        if let Some(i) = index {
            // Flags and custody rows link here; an index seen twice anchors only its first event.
            if anchored.insert(i) {
                w!(out, " id=\"entry-{i}\"");
            }
            w!(out, " data-index=\"{i}\"");
        }
        w!(
            out,
            " data-signature=\"{}\"",
            if signed { "valid" } else { "invalid" }
        );
        out.push_str(">\n<p class=\"event-head\"><span class=\"event-kind\">");
        let kind = text(&e["kind"]);
        let step = text(&e["bizStep"]).map(|s| step_words(&s));
        let heading = match (kind.as_deref(), &step) {
            // A transformation is named by what it did: milling, drying, chipping…
            (Some("transformation"), Some(step)) => capitalised(step),
            (Some(kind), _) => capitalised(&words(kind)),
            (None, Some(step)) => capitalised(step),
            (None, None) => "Event".to_owned(),
        };
        w!(out, "{}</span>", Esc(&heading));
        match text(&e["eventTime"]) {
            Some(t) => datetime(out, &t),
            None => out.push_str("<span class=\"muted\">time unknown</span>"),
        }
        out.push_str("</p>\n");
        if let Some(what) = text(&e["what"]) {
            w!(out, "<p class=\"what\">{}</p>\n", Esc(&what));
        }
        out.push_str("<dl class=\"facts\">\n");
        if let Some(step) = &step {
            w!(out, "<dt>Business step</dt><dd>{}</dd>\n", Esc(step));
        }
        out.push_str("<dt>By</dt><dd>");
        actor(out, &e["actorName"], &e["actor"]);
        out.push_str("</dd>\n");
        fact(out, "Role", &e["role"]);
        out.push_str("<dt>Signature</dt><dd>");
        if signed {
            out.push_str("<span class=\"sig-ok\">✓ signature valid</span>");
        } else {
            out.push_str("<span class=\"sig-bad\">✗ signature invalid</span>");
        }
        match e["authorised"].as_bool() {
            Some(true) => out.push_str("; signer authorised for this step"),
            Some(false) => {
                out.push_str("; <span class=\"sig-bad\">signer not authorised for this step</span>")
            }
            None => {}
        }
        out.push_str("</dd>\n");
        if let Some(signer) = text(&e["signer"]) {
            w!(
                out,
                "<dt>Signing key</dt><dd class=\"id\">{}</dd>\n",
                Esc(&signer)
            );
        }
        let lots = items(&e["lots"]);
        if !lots.is_empty() {
            out.push_str("<dt>Lots</dt><dd>");
            for (n, lot) in lots.iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                w!(out, "<span class=\"id\">{}</span>", Esc(&or_unknown(lot)));
            }
            out.push_str("</dd>\n");
        }
        if let Some(id) = text(&e["eventID"]) {
            w!(out, "<dt>Event id</dt><dd class=\"id\">{}</dd>\n", Esc(&id));
        }
        out.push_str("<dt>Ledger</dt><dd>");
        match index {
            Some(i) => entry_link(out, i),
            None => out.push_str("entry unknown"),
        }
        out.push_str("</dd>\n</dl>\n</li>\n");
    }
    out.push_str("</ol>\n</section>\n");
}

fn custody(out: &mut String, c: &Value) {
    out.push_str("<section id=\"custody\">\n<h2>Chain of custody</h2>\n");
    let rows = items(c);
    if rows.is_empty() {
        out.push_str("<p>No custody is recorded.</p>\n</section>\n");
        return;
    }
    out.push_str(
        "<table>\n<thead><tr><th scope=\"col\">Held by</th><th scope=\"col\">Role</th>\
         <th scope=\"col\">From</th><th scope=\"col\">Until</th><th scope=\"col\">Entries</th>\
         </tr></thead>\n<tbody>\n",
    );
    for r in rows {
        out.push_str("<tr class=\"custodian\"><td data-label=\"Held by\">");
        actor(out, &r["name"], &r["actor"]);
        w!(
            out,
            "</td><td data-label=\"Role\">{}</td><td data-label=\"From\">",
            Esc(&or_unknown(&r["role"]))
        );
        match text(&r["from"]) {
            Some(t) => datetime(out, &t),
            None => out.push_str("unknown"),
        }
        out.push_str("</td><td data-label=\"Until\">");
        match text(&r["until"]) {
            Some(t) => datetime(out, &t),
            // The document does not say whether an open custody is still held, so neither do we.
            None => out.push_str("no end recorded"),
        }
        out.push_str("</td><td data-label=\"Entries\">");
        let entries: Vec<u64> = items(&r["entries"])
            .iter()
            .filter_map(Value::as_u64)
            .collect();
        if entries.is_empty() {
            out.push('—');
        }
        for (n, i) in entries.into_iter().enumerate() {
            if n > 0 {
                out.push_str(", ");
            }
            w!(out, "<a href=\"#entry-{i}\">{i}</a>");
        }
        out.push_str("</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

fn downloads(out: &mut String, links: &Value, cp: &Value) {
    out.push_str("<section id=\"downloads\">\n<h2>Evidence and downloads</h2>\n");
    if let Some(src) = text(&links["qrSvg"]).filter(|s| safe_href(s)) {
        w!(
            out,
            "<img class=\"qr\" src=\"{}\" alt=\"QR code of this product's GS1 Digital Link\" width=\"160\" height=\"160\">\n",
            Esc(&src)
        );
    }
    let list = [
        (
            "bundle",
            "Evidence bundle (JSON): events, proofs and checkpoint to verify offline",
        ),
        ("events", "Raw signed EPCIS events (JSON)"),
        ("lot", "Lot record (JSON)"),
        ("self", "This provenance (JSON)"),
        ("qrSvg", "QR code (SVG)"),
        ("qrPng", "QR code (PNG)"),
    ];
    let mut any = false;
    for (key, label) in list {
        if let Some(href) = text(&links[key]).filter(|s| safe_href(s)) {
            if !any {
                out.push_str("<ul>\n");
                any = true;
            }
            w!(out, "<li><a href=\"{}\">{label}</a></li>\n", Esc(&href));
        }
    }
    if any {
        out.push_str("</ul>\n");
    } else {
        out.push_str("<p>No downloads are available.</p>\n");
    }
    if cp.is_object() {
        out.push_str("<h3>Signed checkpoint</h3>\n<dl class=\"facts\">\n");
        w!(
            out,
            "<dt>Log</dt><dd class=\"id\">{}</dd>\n",
            Esc(&or_unknown(&cp["origin"]))
        );
        fact(out, "Tree size", &cp["size"]);
        w!(
            out,
            "<dt>Root hash</dt><dd class=\"id\">{}</dd>\n</dl>\n",
            Esc(&or_unknown(&cp["rootHash"]))
        );
        if let Some(note) = text(&cp["note"]) {
            w!(
                out,
                "<details><summary>Checkpoint note</summary>\n<pre>{}</pre>\n</details>\n",
                Esc(&note)
            );
        }
    }
    out.push_str("</section>\n");
}

// ---- Small pieces ----

/// `<dt>label</dt><dd>value or "unknown"</dd>`.
fn fact(out: &mut String, label: &str, v: &Value) {
    w!(
        out,
        "<dt>{}</dt><dd>{}</dd>\n",
        Esc(label),
        Esc(&or_unknown(v))
    );
}

/// An actor's name with its id beneath; either may be missing.
fn actor(out: &mut String, name: &Value, id: &Value) {
    w!(out, "<strong>{}</strong>", Esc(&or_unknown(name)));
    if let Some(id) = text(id) {
        w!(out, "<br><span class=\"id\">{}</span>", Esc(&id));
    }
}

/// The log entry, linked to its JSON (which carries the receipt to verify it).
fn entry_link(out: &mut String, i: u64) {
    w!(out, "<a href=\"/v1/entries/{i}\">entry {i}</a>");
}

/// The entry's event further down this page.
fn entry_anchor(out: &mut String, i: u64) {
    w!(out, "<a href=\"#entry-{i}\">entry {i}</a>");
}

fn link(out: &mut String, href: &str, label: &str) {
    if safe_href(href) {
        w!(out, "<a href=\"{}\">{}</a>", Esc(href), Esc(label));
    } else {
        w!(out, "{}", Esc(label));
    }
}

/// Only this server's own paths and http(s) URLs become links: never `javascript:` or `data:`,
/// and never `//host` or `/\host`, which browsers resolve to another site.
fn safe_href(s: &str) -> bool {
    let scheme_ok = (s.starts_with('/') && !s.starts_with("//"))
        || s.starts_with("https://")
        || s.starts_with("http://");
    scheme_ok
        && !s
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
}

/// The members of an array; nothing for anything else.
fn items(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// A scalar as text: non-empty strings, numbers and booleans; `None` for the rest.
fn text(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "yes" } else { "no" })),
        _ => None,
    }
}

fn or_unknown(v: &Value) -> Cow<'_, str> {
    text(v).unwrap_or(Cow::Borrowed("unknown"))
}

/// `head-rice` → `head rice`, `starch_extraction` → `starch extraction`.
fn words(s: &str) -> String {
    s.replace(['-', '_'], " ")
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A CBV or lotline bizStep URI in words: `https://ref.gs1.org/cbv/BizStep-commissioning` →
/// `commissioning`, `lotline:starch_extraction` → `starch extraction`.
fn step_words(s: &str) -> String {
    let last = s.rsplit(['/', '#', ':']).next().unwrap_or(s);
    let last = last.strip_prefix("BizStep-").unwrap_or(last);
    words(if last.is_empty() { s } else { last })
}

fn class_words(class: &str) -> String {
    match class {
        "lot" => "lot (batch)".to_owned(),
        "item" => "tagged item".to_owned(),
        "unit" => "logistic unit (pallet or container)".to_owned(),
        other => words(other),
    }
}

/// A number with at most `decimals` decimals, trailing zeros dropped.
fn number(x: f64, decimals: usize) -> String {
    let s = format!("{x:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

const DATE: &[FormatItem<'static>] =
    format_description!("[day padding:none] [month repr:short] [year]");
const TIME: &[FormatItem<'static>] = format_description!("[hour]:[minute]");
const ISO_DATE: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// An RFC 3339 time as `5 Nov 2026, 08:00 (UTC+07:00)`, in the offset it was recorded in (the
/// local time where it happened); anything else verbatim.
fn datetime(out: &mut String, s: &str) {
    match OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => w!(
            out,
            "<time datetime=\"{}\">{}, {} {}</time>",
            Esc(s),
            fmt(t, DATE),
            fmt(t, TIME),
            Offset(t.offset())
        ),
        Err(_) => w!(out, "<time>{}</time>", Esc(s)),
    }
}

/// A date (`YYYY-MM-DD`, or the date part of an RFC 3339 time) as `5 Nov 2026`.
fn date(out: &mut String, s: &str) {
    let d = Date::parse(s, ISO_DATE)
        .ok()
        .or_else(|| OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| t.date()));
    match d {
        Some(d) => w!(
            out,
            "<time datetime=\"{}\">{}</time>",
            d.format(ISO_DATE).unwrap_or_default(),
            d.format(DATE).unwrap_or_default()
        ),
        None => w!(out, "<time>{}</time>", Esc(s)),
    }
}

fn fmt(t: OffsetDateTime, f: &[FormatItem<'_>]) -> String {
    t.format(f).unwrap_or_default()
}

/// `(UTC+07:00)`, `(UTC)`.
struct Offset(UtcOffset);

impl fmt::Display for Offset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, _) = self.0.as_hms();
        if self.0.is_utc() {
            f.write_str("(UTC)")
        } else {
            let sign = if self.0.is_negative() { '−' } else { '+' };
            write!(
                f,
                "(UTC{sign}{:02}:{:02})",
                h.unsigned_abs(),
                m.unsigned_abs()
            )
        }
    }
}

/// Text with `& < > " '` escaped, safe in element content and in quoted attribute values.
pub(super) struct Esc<'a>(pub(super) &'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "subject": {"id": "urn:epc:id:sgtin:0614141.112345.1001", "key": "/01/00614141123452/21/1001",
                "class": "item", "product": "head-rice", "crop": "rice", "growingMethod": "organic",
                "digitalLink": "http://127.0.0.1:8080/01/00614141123452/21/1001"},
            "verdict": {"verified": true, "summary": "23 entries checked", "problems": []},
            "checkpoint": {"origin": "example.org/lotline", "size": 120, "rootHash": "q83vEjRWeJA=", "note": "example.org/lotline\n120\nq83vEjRWeJA=\n"},
            "origin": {
                "farms": [{"id": "urn:epc:id:pgln:8841234.00001", "name": "Sok Farm", "province": "Battambang"}],
                "plots": [{"farm": "urn:epc:id:pgln:8841234.00001", "farmName": "Sok Farm", "plotId": "KH-BTB-0042",
                    "areaHectares": 1.8, "geo": {"type": "Point", "coordinates": [103.2, 13.1]},
                    "harvestStart": "2026-11-02", "harvestEnd": "2026-11-05T00:00:00+07:00",
                    "growingMethod": "organic", "index": 7}]
            },
            "custody": [{"actor": "urn:epc:id:pgln:8841234.00001", "name": "Sok Farm", "role": "farm",
                "from": "2026-11-05T08:00:00+07:00", "until": "2026-11-06T08:00:00+07:00", "entries": [7, 9]}],
            "timeline": [{"index": 7, "eventID": "urn:uuid:0190a7a4-0000-7000-8000-000000000001",
                "eventTime": "2026-11-05T08:00:00+07:00", "kind": "harvest",
                "bizStep": "https://ref.gs1.org/cbv/BizStep-commissioning", "actor": "urn:epc:id:pgln:8841234.00001",
                "actorName": "Sok Farm", "role": "farm", "signer": "did:key:z6MkexampleKey", "signature": "valid",
                "authorised": true, "lots": ["/01/00614141123452/10/L1"], "what": "harvested 1,200 kg of paddy"}],
            "flags": [],
            "lots": [{"key": "/01/00614141123452/10/L1", "product": "paddy", "createdAt": 7}],
            "links": {"self": "/v1/lots/X/provenance", "bundle": "/v1/lots/X/bundle", "events": "/v1/epcs/X/events",
                "lot": "/v1/lots/X", "qrSvg": "/v1/lots/X/qr.svg", "qrPng": "/v1/lots/X/qr.png"}
        })
    }

    fn esc(s: &str) -> String {
        Esc(s).to_string()
    }

    #[test]
    fn escapes_the_five_characters() {
        assert_eq!(esc(r#"a&b<c>d"e'f"#), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
        assert_eq!(esc("ស្រូវ plain"), "ស្រូវ plain");
        assert_eq!(esc(""), "");
    }

    #[test]
    fn untrusted_strings_are_escaped_everywhere() {
        let evil = "<script>alert(1)</script>";
        let attr = "\" onmouseover=\"alert(1)";
        let mut p = sample();
        p["timeline"][0]["actorName"] = json!(evil);
        p["timeline"][0]["what"] = json!(evil);
        p["custody"][0]["name"] = json!(evil);
        p["origin"]["farms"][0]["name"] = json!(evil);
        p["subject"]["product"] = json!(evil);
        p["verdict"]["problems"] = json!([{"code": evil, "at": evil, "message": evil}]);
        p["flags"] = json!([{"code": evil, "message": evil, "index": 1}]);
        p["origin"]["plots"][0]["plotId"] = json!(attr);
        // A same-site path passes the link check; its quotes must still be escaped.
        p["links"]["bundle"] = json!("/x\"onmouseover=\"alert(1)");
        p["checkpoint"]["note"] = json!(evil);
        let html = buyer_page(&p);
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("\" onmouseover"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&quot; onmouseover=&quot;alert(1)"));
        assert!(html.contains("href=\"/x&quot;onmouseover=&quot;alert(1)\""));
    }

    #[test]
    fn only_safe_links() {
        for bad in [
            "javascript:alert(1)",
            "JAVASCRIPT:alert(1)",
            "data:text/html,x",
            "//evil.example/x",
            "/\\evil.example/x",
            "/v1/lots/x y",
            "",
        ] {
            assert!(!safe_href(bad), "{bad}");
            let mut p = sample();
            p["links"]["bundle"] = json!(bad);
            p["subject"]["digitalLink"] = json!(bad);
            let html = buyer_page(&p);
            assert!(!html.contains(&format!("href=\"{}\"", esc(bad))), "{bad}");
        }
        for good in [
            "/v1/lots/X/bundle",
            "https://id.example/01/1",
            "http://127.0.0.1:8080/00/1",
        ] {
            assert!(safe_href(good), "{good}");
        }
    }

    #[test]
    fn verified_banner() {
        let html = buyer_page(&sample());
        assert!(html.contains(r#"id="verdict" class="ok" data-verified="true""#));
        assert!(html.contains("Verified"));
        assert!(!html.contains("Not verified"));
        assert!(html.contains("23 entries checked"));
    }

    #[test]
    fn not_verified_banner_lists_each_problem() {
        let mut p = sample();
        p["verdict"] = json!({"verified": false, "summary": "2 problems", "problems": [
            {"code": "signature_invalid", "at": "entry 12", "message": "the signature does not verify"},
            {"code": "not_included", "at": "entry 13", "message": "not in the checkpoint"}]});
        let html = buyer_page(&p);
        assert!(html.contains(r#"id="verdict" class="bad" data-verified="false""#));
        assert!(html.contains("Not verified"));
        assert!(html.contains("the signature does not verify"));
        assert!(html.contains("(at entry 12)"));
        assert!(html.contains("not in the checkpoint"));
        assert_eq!(html.matches("class=\"problem\"").count(), 2);
    }

    #[test]
    fn anything_but_true_is_not_verified() {
        for v in [
            json!(null),
            json!({}),
            json!({"verified": "true"}),
            json!({"verified": 1}),
        ] {
            let mut p = sample();
            p["verdict"] = v.clone();
            assert!(buyer_page(&p).contains(r#"data-verified="false""#), "{v}");
        }
    }

    #[test]
    fn flags_are_shown() {
        let mut p = sample();
        let html = buyer_page(&p);
        assert!(html.contains("No plausibility flags"));
        assert!(!html.contains("class=\"flag\""));
        p["flags"] = json!([
            {"code": "milling_recovery", "message": "milled rice per paddy is 0.800; plausible is 0.5–0.72", "index": 12},
            {"code": "yield_per_hectare", "message": "12 t/ha is above 9 t/ha"}]);
        let html = buyer_page(&p);
        assert_eq!(html.matches("class=\"flag\"").count(), 2);
        assert!(html.contains("milled rice per paddy is 0.800; plausible is 0.5–0.72"));
        assert!(html.contains("milling recovery"));
        assert!(html.contains("see <a href=\"#entry-12\">entry 12</a>"));
        assert!(!html.contains("No plausibility flags"));
    }

    #[test]
    fn timeline_and_custody() {
        let mut p = sample();
        let html = buyer_page(&p);
        assert!(html.contains("<ol id=\"timeline\">"));
        assert_eq!(html.matches("<li class=\"event\"").count(), 1);
        assert!(html.contains("id=\"entry-7\""));
        assert!(html.contains(">Harvest</span>"));
        assert!(html.contains("<a href=\"/v1/entries/7\">entry 7</a>"));
        assert!(html.contains("<dd>commissioning</dd>"));
        assert!(html.contains("✓ signature valid"));
        assert!(html.contains("harvested 1,200 kg of paddy"));
        assert!(html.contains(
            "<time datetime=\"2026-11-05T08:00:00+07:00\">5 Nov 2026, 08:00 (UTC+07:00)</time>"
        ));
        assert!(html.contains("<a href=\"#entry-9\">9</a>"));
        p["timeline"][0]["signature"] = json!("invalid: bad proof");
        p["timeline"][0]["authorised"] = json!(false);
        p["timeline"][0]["kind"] = json!("transformation");
        p["timeline"][0]["bizStep"] = json!("https://w3id.org/lotline#starch_extraction");
        let html = buyer_page(&p);
        assert!(html.contains("<span class=\"sig-bad\">✗ signature invalid</span>"));
        assert!(html.contains("data-signature=\"invalid\""));
        assert!(html.contains("signer not authorised"));
        assert!(html.contains(">Starch extraction</span>"));
    }

    #[test]
    fn missing_and_malformed_members_do_not_panic() {
        for p in [
            json!({}),
            json!(null),
            json!([]),
            json!("x"),
            json!({"subject": null, "verdict": null, "origin": null, "custody": null, "timeline": null,
                "flags": null, "lots": null, "links": null, "checkpoint": null}),
            json!({"subject": 1, "verdict": {"problems": "x"}, "origin": {"farms": [null, 1, "x"],
                "plots": [null, {"geo": {"type": "Polygon", "coordinates": "x"}}, {"geo": {"type": "Point", "coordinates": [1]}},
                          {"geo": {"type": "Polygon", "coordinates": [[]]}}, {"geo": {"type": "LineString"}}]},
                "custody": [null, {"entries": "x"}], "timeline": [null, 3, {"index": -1, "eventTime": "yesterday"}],
                "flags": [null], "lots": [null], "links": {"bundle": 7}, "checkpoint": {}}),
        ] {
            let html = buyer_page(&p);
            assert!(html.starts_with("<!DOCTYPE html>"), "{p}");
            assert!(html.ends_with("</html>\n"));
            assert!(html.contains(r#"data-verified="false""#));
        }
        let html = buyer_page(&json!({}));
        assert!(html.contains("Unknown product"));
        assert!(html.contains("<dt>Identifier</dt><dd class=\"id\">unknown</dd>"));
        assert!(html.contains("No origin is recorded"));
        for id in [
            "verdict",
            "origin",
            "flags",
            "timeline",
            "custody",
            "downloads",
        ] {
            assert!(html.contains(&format!("id=\"{id}\"")), "{id}");
        }
    }

    #[test]
    fn point_coordinates_are_lat_lon_with_a_map_link() {
        let html = buyer_page(&sample());
        assert!(html.contains(
            "<a href=\"https://www.openstreetmap.org/?mlat=13.1&amp;mlon=103.2#map=15/13.1/103.2\">13.1, 103.2</a>"
        ));
        assert!(html.contains("<dd>1.8 ha</dd>"));
        assert!(html.contains("KH-BTB-0042"));
        assert!(html.contains("Battambang"));
        // A date and an RFC 3339 time both print as dates.
        assert!(html.contains(
            "<time datetime=\"2026-11-02\">2 Nov 2026</time> – <time datetime=\"2026-11-05\">5 Nov 2026</time>"
        ));
    }

    #[test]
    fn polygon_shows_its_centre_and_vertex_count() {
        let mut p = sample();
        // A 0.002° square around (103.2, 13.1), closed as GeoJSON requires.
        p["origin"]["plots"][0]["geo"] = json!({"type": "Polygon", "coordinates": [[
            [103.199, 13.099], [103.201, 13.099], [103.201, 13.101], [103.199, 13.101], [103.199, 13.099]]]});
        let html = buyer_page(&p);
        assert!(
            html.contains(
                "centre <a href=\"https://www.openstreetmap.org/?mlat=13.1&amp;mlon=103.2"
            ),
            "{html}"
        );
        assert!(html.contains("(polygon, 4 vertices)"));
        // Degenerate (all on a line): the mean of the vertices.
        assert_eq!(centroid(&[(0.0, 0.0), (2.0, 0.0)]), Some((1.0, 0.0)));
        assert_eq!(centroid(&[]), None);
    }

    #[test]
    fn plot_of_an_unlisted_farm_is_still_shown() {
        let mut p = sample();
        p["origin"]["farms"] = json!([]);
        let html = buyer_page(&p);
        assert!(html.contains("<h3>Sok Farm</h3>"));
        assert!(html.contains("KH-BTB-0042"));
    }

    #[test]
    fn downloads_and_checkpoint() {
        let html = buyer_page(&sample());
        assert!(html.contains("<img class=\"qr\" src=\"/v1/lots/X/qr.svg\" alt="));
        for href in [
            "/v1/lots/X/bundle",
            "/v1/epcs/X/events",
            "/v1/lots/X",
            "/v1/lots/X/qr.png",
        ] {
            assert!(html.contains(&format!("<a href=\"{href}\">")), "{href}");
        }
        assert!(html.contains("example.org/lotline"));
        assert!(html.contains("<dd>120</dd>"));
        assert!(html.contains("q83vEjRWeJA="));
    }

    #[test]
    fn page_is_self_contained_and_phone_ready() {
        let html = buyer_page(&sample());
        assert!(
            html.contains(
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            )
        );
        assert!(!html.contains("<script"));
        assert!(!html.contains("<link"));
        assert!(!html.contains("@import"));
        assert!(html.contains("overflow-wrap:anywhere"));
    }

    #[test]
    fn not_found_page_escapes_the_identifier() {
        let html = not_found_page("/01/<b>1</b>");
        assert!(html.contains("No lot, item or unit with the identifier"));
        assert!(html.contains("/01/&lt;b&gt;1&lt;/b&gt;"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("/01/{GTIN}/10/{lot}"));
    }

    #[test]
    fn numbers_and_offsets() {
        assert_eq!(number(1.8, 2), "1.8");
        assert_eq!(number(2.0, 2), "2");
        assert_eq!(number(13.123456, 5), "13.12346");
        assert_eq!(number(-0.000001, 5), "0");
        let mut out = String::new();
        datetime(&mut out, "2026-11-05T01:00:00Z");
        assert!(out.ends_with(">5 Nov 2026, 01:00 (UTC)</time>"), "{out}");
        out.clear();
        datetime(&mut out, "2026-11-05T01:00:00-03:30");
        assert!(out.ends_with("(UTC−03:30)</time>"), "{out}");
    }
}
