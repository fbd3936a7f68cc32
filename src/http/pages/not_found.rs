//! The page for an identifier that names nothing in this ledger, or is no identifier at all:
//! what the buyer scanned, and what identifiers look like.

use maud::html;

use super::document;

/// The page for `what`, an identifier not recorded here (served with status 404, or 400 when
/// it is not a GS1 Digital Link).
pub fn not_found_page(what: &str) -> String {
    let body = html! {
        main {
            section id="not-found" {
                h1 { "Not recorded here" }
                p {
                    "No lot, item or unit with the identifier " code class="id" { (what) }
                    " is recorded in this ledger."
                }
                p {
                    "Check the code printed on the pack, or scan its QR code again. Identifiers look like a GS1 Digital Link path — "
                    code { "/01/{GTIN}/10/{lot}" } " for a lot, "
                    code { "/01/{GTIN}/21/{serial}" } " for a tagged item, "
                    code { "/00/{SSCC}" } " for a pallet or container — or an EPC URI such as "
                    code class="id" { "urn:epc:id:sgtin:0614141.112345.1001" } " or "
                    code class="id" { "urn:epc:class:lgtin:0614141.112345.LOT42" } "."
                }
            }
        }
    };
    document("Not recorded", "", body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_page_escapes_the_identifier() {
        let html = not_found_page("/01/<b>1</b>");
        assert!(html.contains("No lot, item or unit with the identifier"));
        assert!(html.contains("/01/&lt;b&gt;1&lt;/b&gt;"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("/01/{GTIN}/10/{lot}"));
    }
}
