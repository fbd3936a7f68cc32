//! TEMPORARY stub until the page branch lands.
pub fn buyer_page(p: &serde_json::Value) -> String {
    format!("<pre>{p}</pre>")
}
pub fn not_found_page(what: &str) -> String {
    format!("not found {what}")
}
