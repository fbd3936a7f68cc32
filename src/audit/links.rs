//! Where a mass-balance report's pieces live in the API: the `links` member of the report's
//! JSON and the links at the foot of its HTML page. The HTTP layer makes them (it knows the
//! routes); they are same-site paths.

use serde::Serialize;

/// The report's links. The members are declared in name order, the order they had when the
/// answer carried them as a JSON object, so the JSON does not change.
#[derive(Debug, Clone, Serialize)]
pub struct Links {
    /// The template of an entry's path, with `{index}` for its index.
    pub entry: &'static str,
    /// The operator's events in the period.
    pub events: String,
    /// The operator's registration.
    pub operator: String,
    /// This report as an HTML page.
    pub report: String,
    /// This report as JSON.
    #[serde(rename = "self")]
    pub self_: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_keep_their_json_names_and_order() {
        let links = Links {
            entry: "/v1/entries/{index}",
            events: "e".into(),
            operator: "o".into(),
            report: "r".into(),
            self_: "s".into(),
        };
        assert_eq!(
            serde_json::to_string(&links).unwrap(),
            r#"{"entry":"/v1/entries/{index}","events":"e","operator":"o","report":"r","self":"s"}"#
        );
    }
}
