//! The HTML pages people read: the buyer page a phone opens from a label's QR code
//! ([`buyer_page`]), the page for an identifier that names nothing ([`not_found_page`]), and the
//! mass-balance report a certifier prints (`audit`). Pure functions from typed views to complete
//! HTML5 documents; the routes that serve them live in `provenance` and `audit`.
//!
//! What every page guarantees, since the text in them comes from signed but untrusted events:
//! - **Everything is escaped by construction.** Pages are `maud` templates, which escape every
//!   value spliced into text or an attribute; the only markup inserted as it is comes from this
//!   module's compile-time constants (the style sheets).
//! - **Links only to this server's paths and to http(s) URLs**: an href from the data passes
//!   [`safe_href`] or is shown as text, so never `javascript:`, `data:` or `//other-host`.
//! - **No JavaScript**, and a Content-Security-Policy that forbids scripts, plugins, forms and
//!   base rewriting, so an escaping bug could not run one either (the edge's clerk page,
//!   [`clerk`], allows forms posting to its own server, and nothing else). Images only from this server,
//!   styles only inline, no referrer.
//! - Self-contained and phone-ready: one inline style sheet, nothing fetched but the QR code.

mod api_docs;
mod audit;
mod buyer;
pub mod clerk;
mod not_found;

pub(super) use api_docs::api_docs_page;
pub(super) use audit::mass_balance_page;
pub use buyer::buyer_page;
pub use not_found::not_found_page;

use maud::{DOCTYPE, Markup, PreEscaped, html};
use time::format_description::FormatItem;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

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

/// A complete page: the head every page shares (CSP, no referrer, the base style and
/// `extra_style`, a constant) around `body`.
fn document(title: &str, extra_style: &'static str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="referrer" content="no-referrer";
                title { (title) " · lotline" }
                // Constants of this module, and CSS: text in <style> is not HTML-unescaped.
                style { (PreEscaped(STYLE)) (PreEscaped(extra_style)) }
            }
            body { (body) }
        }
        "\n"
    }
    .into_string()
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

/// `label` linked to `href` if that is a safe link, else `label` alone.
fn link(href: &str, label: &str) -> Markup {
    html! {
        @if safe_href(href) {
            a href=(href) { (label) }
        } @else {
            (label)
        }
    }
}

/// The log entry, linked to its JSON (which carries the receipt to verify it).
fn entry_link(i: u64) -> Markup {
    html! { a href={ "/v1/entries/" (i) } { "entry " (i) } }
}

/// The entry's event further down this page.
fn entry_anchor(i: u64) -> Markup {
    html! { a href={ "#entry-" (i) } { "entry " (i) } }
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
fn datetime(s: &str) -> Markup {
    match OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => html! {
            time datetime=(s) {
                (fmt(t, DATE)) ", " (fmt(t, TIME)) " " (offset(t.offset()))
            }
        },
        Err(_) => html! { time { (s) } },
    }
}

/// A date (`YYYY-MM-DD`, or the date part of an RFC 3339 time) as `5 Nov 2026`.
fn date(s: &str) -> Markup {
    let d = Date::parse(s, ISO_DATE)
        .ok()
        .or_else(|| OffsetDateTime::parse(s, &Rfc3339).ok().map(|t| t.date()));
    match d {
        Some(d) => html! {
            time datetime=(d.format(ISO_DATE).unwrap_or_default()) {
                (d.format(DATE).unwrap_or_default())
            }
        },
        None => html! { time { (s) } },
    }
}

fn fmt(t: OffsetDateTime, f: &[FormatItem<'_>]) -> String {
    t.format(f).unwrap_or_default()
}

/// `(UTC+07:00)`, `(UTC)`.
fn offset(o: UtcOffset) -> String {
    if o.is_utc() {
        return "(UTC)".to_owned();
    }
    let (h, m, _) = o.as_hms();
    let sign = if o.is_negative() { '−' } else { '+' };
    format!("(UTC{sign}{:02}:{:02})", h.unsigned_abs(), m.unsigned_abs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_attributes_are_escaped() {
        let evil = r#"a&b<c>d"e'f"#;
        let html = html! { p title=(evil) { (evil) } }.into_string();
        // maud quotes every attribute with `"`, so `'` needs no escaping anywhere.
        assert_eq!(
            html,
            r#"<p title="a&amp;b&lt;c&gt;d&quot;e'f">a&amp;b&lt;c&gt;d&quot;e'f</p>"#
        );
        assert_eq!(html! { ("ស្រូវ plain") }.into_string(), "ស្រូវ plain");
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
            assert!(!link(bad, "x").into_string().contains("href"), "{bad}");
        }
        for good in [
            "/v1/lots/X/bundle",
            "https://id.example/01/1",
            "http://127.0.0.1:8080/00/1",
        ] {
            assert!(safe_href(good), "{good}");
        }
        // A same-site path passes; its quotes are still escaped.
        assert_eq!(
            link("/x\"onmouseover=\"alert(1)", "x").into_string(),
            "<a href=\"/x&quot;onmouseover=&quot;alert(1)\">x</a>"
        );
    }

    #[test]
    fn numbers_and_offsets() {
        assert_eq!(number(1.8, 2), "1.8");
        assert_eq!(number(2.0, 2), "2");
        assert_eq!(number(13.123456, 5), "13.12346");
        assert_eq!(number(-0.000001, 5), "0");
        let out = datetime("2026-11-05T01:00:00Z").into_string();
        assert!(out.ends_with(">5 Nov 2026, 01:00 (UTC)</time>"), "{out}");
        let out = datetime("2026-11-05T01:00:00-03:30").into_string();
        assert!(out.ends_with("(UTC−03:30)</time>"), "{out}");
        assert_eq!(
            datetime("yesterday <b>").into_string(),
            "<time>yesterday &lt;b&gt;</time>"
        );
        // A date and an RFC 3339 time both print as dates.
        assert_eq!(
            date("2026-11-05T00:00:00+07:00").into_string(),
            "<time datetime=\"2026-11-05\">5 Nov 2026</time>"
        );
    }

    #[test]
    fn every_page_has_the_shared_head() {
        let html = document("<T>", "", html! { main {} });
        assert!(
            html.starts_with("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        );
        assert!(html.contains(&format!(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        )));
        assert!(html.contains("<meta name=\"referrer\" content=\"no-referrer\">"));
        assert!(html.contains("<title>&lt;T&gt; · lotline</title>"));
        // The style sheet is CSS, not HTML: its quotes stay quotes.
        assert!(html.contains("\"Segoe UI\""));
        assert!(html.ends_with("</body></html>\n"));
    }
}
