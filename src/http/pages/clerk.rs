//! The clerk's page on the edge: record a receipt, a milling run or a bagging, and see the
//! outbox — pending, sent with the ledger's receipt, refused with the ledger's reason. In
//! English and Khmer.
//!
//! Server-rendered HTML with plain forms and no JavaScript, so it works on any phone on the
//! mill's LAN with no connection beyond it. Every value from records or forms is escaped by
//! `maud`; the only unescaped text is this module's style sheet.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::edge::sync::SyncState;
use crate::store::outbox::{Counts, Item, Status};

/// The page's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Km,
}

impl Lang {
    /// `?lang=km`, else the first of `Accept-Language` that is Khmer or English, else English.
    pub fn choose(query: Option<&str>, accept: Option<&str>) -> Lang {
        match query {
            Some("km") => return Lang::Km,
            Some("en") => return Lang::En,
            _ => {}
        }
        for tag in accept.unwrap_or("").split(',') {
            let tag = tag
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            if tag == "km" || tag.starts_with("km-") {
                return Lang::Km;
            }
            if tag == "en" || tag.starts_with("en-") {
                return Lang::En;
            }
        }
        Lang::En
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Km => "km",
        }
    }

    pub fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Km => &KM,
        }
    }
}

/// Every word of the page, per language.
pub struct Text {
    pub title: &'static str,
    pub other_language: &'static str,
    pub ledger: &'static str,
    pub signed_as: &'static str,
    pub receipt: &'static str,
    pub receipt_help: &'static str,
    pub milling: &'static str,
    pub bagging: &'static str,
    pub supplier: &'static str,
    pub lot: &'static str,
    pub mass_kg: &'static str,
    pub time: &'static str,
    pub moisture: &'static str,
    pub input_lot: &'static str,
    pub input_kg: &'static str,
    pub head_rice: &'static str,
    pub broken_rice: &'static str,
    pub bran: &'static str,
    pub husk: &'static str,
    pub output_lot: &'static str,
    pub bag_kg: &'static str,
    pub bags: &'static str,
    pub bags_help: &'static str,
    pub record: &'static str,
    pub outbox: &'static str,
    pub pending: &'static str,
    pub sent: &'static str,
    pub refused: &'static str,
    pub no_records: &'static str,
    pub recorded: &'static str,
    pub kind: &'static str,
    pub status: &'static str,
    pub detail: &'static str,
    pub entry: &'static str,
    pub retry: &'static str,
    pub refresh: &'static str,
    pub unreachable: &'static str,
    pub saved: &'static str,
    pub not_saved: &'static str,
    pub fix_hint: &'static str,
}

const EN: Text = Text {
    title: "Mill records",
    other_language: "ភាសាខ្មែរ",
    ledger: "Ledger",
    signed_as: "Signed as",
    receipt: "Paddy receipt",
    receipt_help: "A delivery the supplier has shipped to this mill.",
    milling: "Milling run",
    bagging: "Bagging",
    supplier: "Supplier (party ID)",
    lot: "Lot (GS1 Digital Link or EPC URI)",
    mass_kg: "Mass (kg)",
    time: "When",
    moisture: "Moisture (%), optional",
    input_lot: "Paddy lot milled",
    input_kg: "Paddy milled (kg)",
    head_rice: "Head rice",
    broken_rice: "Broken rice",
    bran: "Bran",
    husk: "Husk",
    output_lot: "lot",
    bag_kg: "Mass of one bag (kg)",
    bags: "Bag tags (one per line)",
    bags_help: "SGTIN URIs, or the EPC hex the RFID reader shows.",
    record: "Record",
    outbox: "Outbox",
    pending: "Waiting to send",
    sent: "In the ledger",
    refused: "Refused",
    no_records: "Nothing recorded yet.",
    recorded: "Recorded",
    kind: "Record",
    status: "Status",
    detail: "Ledger answer",
    entry: "entry",
    retry: "Send again",
    refresh: "Refresh",
    unreachable: "The ledger cannot be reached; records are kept here and sent when it can.",
    saved: "Saved and signed. It will be sent to the ledger.",
    not_saved: "Not saved",
    fix_hint: "Correct it and record it again, or record a new event that sets it right.",
};

// Khmer wording for the mill's clerks; reviewed terms: ស្រូវ paddy, អង្ករ milled rice,
// កន្ទក់ bran, អង្កាម husk, បាវ sack.
const KM: Text = Text {
    title: "កំណត់ត្រារោងម៉ាស៊ីនកិនស្រូវ",
    other_language: "English",
    ledger: "បញ្ជីកត់ត្រា",
    signed_as: "ចុះហត្ថលេខាជា",
    receipt: "ការទទួលស្រូវ",
    receipt_help: "ការដឹកជញ្ជូនដែលអ្នកផ្គត់ផ្គង់បានផ្ញើមករោងម៉ាស៊ីននេះ។",
    milling: "ការកិនស្រូវ",
    bagging: "ការវេចខ្ចប់ចូលបាវ",
    supplier: "អ្នកផ្គត់ផ្គង់ (លេខសម្គាល់)",
    lot: "ឡូត៍ (GS1 Digital Link ឬ EPC URI)",
    mass_kg: "ទម្ងន់ (គីឡូក្រាម)",
    time: "ពេលវេលា",
    moisture: "សំណើម (%) មិនចាំបាច់",
    input_lot: "ឡូត៍ស្រូវដែលបានកិន",
    input_kg: "ស្រូវដែលបានកិន (គីឡូក្រាម)",
    head_rice: "អង្ករគ្រាប់ពេញ",
    broken_rice: "អង្ករបែក",
    bran: "កន្ទក់",
    husk: "អង្កាម",
    output_lot: "ឡូត៍",
    bag_kg: "ទម្ងន់បាវមួយ (គីឡូក្រាម)",
    bags: "ស្លាកបាវ (មួយបន្ទាត់មួយ)",
    bags_help: "SGTIN URI ឬលេខ EPC hex ដែលម៉ាស៊ីនអាន RFID បង្ហាញ។",
    record: "កត់ត្រា",
    outbox: "ប្រអប់ចេញ",
    pending: "កំពុងរង់ចាំផ្ញើ",
    sent: "នៅក្នុងបញ្ជីកត់ត្រា",
    refused: "ត្រូវបានបដិសេធ",
    no_records: "មិនទាន់មានកំណត់ត្រានៅឡើយទេ។",
    recorded: "បានកត់ត្រា",
    kind: "កំណត់ត្រា",
    status: "ស្ថានភាព",
    detail: "ចម្លើយពីបញ្ជីកត់ត្រា",
    entry: "លេខ",
    retry: "ផ្ញើម្តងទៀត",
    refresh: "ផ្ទុកឡើងវិញ",
    unreachable: "មិនអាចភ្ជាប់ទៅបញ្ជីកត់ត្រាបានទេ។ កំណត់ត្រាត្រូវបានរក្សាទុកនៅទីនេះ ហើយនឹងផ្ញើនៅពេលអាចភ្ជាប់បាន។",
    saved: "បានរក្សាទុក និងចុះហត្ថលេខា។ វានឹងត្រូវផ្ញើទៅបញ្ជីកត់ត្រា។",
    not_saved: "មិនបានរក្សាទុកទេ",
    fix_hint: "សូមកែតម្រូវ ហើយកត់ត្រាម្តងទៀត ឬកត់ត្រាព្រឹត្តិការណ៍ថ្មីដើម្បីកែវា។",
};

/// The page's name for a profile kind.
fn kind_name(t: &Text, kind: &str) -> String {
    match kind {
        "receiving" => t.receipt.to_owned(),
        "milling" => t.milling.to_owned(),
        "bagging" => t.bagging.to_owned(),
        other => other.replace('_', " "),
    }
}

fn status_name(t: &Text, s: Status) -> &'static str {
    match s {
        Status::Pending => t.pending,
        Status::Sent => t.sent,
        Status::Refused => t.refused,
    }
}

/// What the page shows.
pub struct View<'a> {
    pub lang: Lang,
    pub actor: Option<&'a str>,
    pub server: &'a str,
    pub counts: Counts,
    pub sync: SyncState,
    /// Newest first.
    pub items: Vec<Item>,
    /// The outcome of the form just sent: saved (`Ok`) or why not (`Err`).
    pub message: Option<Result<String, String>>,
    /// The default for time fields: now, in the site's offset, as `datetime-local` wants it.
    pub now_local: String,
}

const STYLE: &str = r#"
*,*::before,*::after{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","Noto Sans Khmer","Khmer OS",sans-serif;color:#1b1f23;background:#f6f7f5;overflow-wrap:anywhere}
main{max-width:48rem;margin:0 auto;padding:1rem}
header{display:flex;justify-content:space-between;align-items:baseline;gap:1rem;flex-wrap:wrap}
h1{font-size:1.4rem;margin:.25rem 0}
h2{font-size:1.15rem;margin:0 0 .5rem}
section,details{background:#fff;border:1px solid #dde1dc;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
summary{font-weight:700;font-size:1.1rem;cursor:pointer}
label{display:block;margin:.5rem 0 .15rem;font-weight:600}
input,textarea{width:100%;font:inherit;padding:.5rem;border:1px solid #9aa39b;border-radius:.375rem}
textarea{min-height:6rem;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9rem}
button{font:inherit;font-weight:700;padding:.6rem 1.2rem;margin-top:.75rem;border:0;border-radius:.375rem;background:#1e7b34;color:#fff}
button.secondary{background:#0b57a4;padding:.3rem .7rem;margin:0}
.row{display:grid;grid-template-columns:1fr 8rem;gap:.5rem}
.help,.muted{color:#59636e;font-size:.9rem}
.ok{background:#e7f5ea;border:1px solid #1e7b34;border-radius:.375rem;padding:.75rem;margin:0 0 1rem}
.bad{background:#fdecea;border:1px solid #b3261e;border-radius:.375rem;padding:.75rem;margin:0 0 1rem}
.counts{display:flex;gap:1rem;flex-wrap:wrap;margin:.5rem 0}
.count{font-weight:700}
table{width:100%;border-collapse:collapse}
th,td{text-align:left;padding:.4rem;border-bottom:1px solid #e3e6e2;vertical-align:top}
.id{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.8rem;word-break:break-all}
tr.refused td{background:#fdecea}
tr.pending td{background:#fff8e6}
@media (max-width:40rem){thead{display:none}tr,td{display:block}td{border:0;padding:.15rem .4rem}tr{border-bottom:1px solid #dde1dc;padding:.4rem 0}}
"#;

/// The page.
pub fn clerk_page(v: &View<'_>) -> String {
    let t = v.lang.text();
    let lang = v.lang.code();
    let other = match v.lang {
        Lang::En => "km",
        Lang::Km => "en",
    };
    let body = html! {
        main {
            header {
                h1 { (t.title) }
                a href={ "/?lang=" (other) } lang=(other) { (t.other_language) }
            }
            p class="muted" {
                @if let Some(a) = v.actor { (t.signed_as) " " span class="id" { (a) } br; }
                (t.ledger) " " span class="id" { (v.server) }
            }
            @match &v.message {
                Some(Ok(m)) => { p class="ok" role="status" { (m) } }
                Some(Err(m)) => {
                    div class="bad" role="alert" {
                        p { strong { (t.not_saved) } ": " (m) }
                        p { (t.fix_hint) }
                    }
                }
                None => {}
            }
            @if let Some(e) = &v.sync.last_error {
                p class="bad" role="status" { (t.unreachable) br; span class="muted" { (e) } }
            }
            (receipt_form(t, lang, &v.now_local))
            (milling_form(t, lang, &v.now_local))
            (bagging_form(t, lang, &v.now_local))
            (outbox(t, lang, v))
        }
    };
    html! {
        (DOCTYPE)
        html lang=(lang) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta http-equiv="Content-Security-Policy"
                    content="default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
                title { (t.title) " · lotline edge" }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
    .into_string()
}

fn time_field(t: &Text, now: &str) -> Markup {
    html! {
        label for="time" { (t.time) }
        input type="datetime-local" id="time" name="time" value=(now) required step="60";
    }
}

fn receipt_form(t: &Text, lang: &str, now: &str) -> Markup {
    html! {
        details id="receipt" open {
            summary { (t.receipt) }
            p class="help" { (t.receipt_help) }
            form method="post" action="/form/receipt" {
                input type="hidden" name="lang" value=(lang);
                label for="r-supplier" { (t.supplier) }
                input id="r-supplier" name="supplier" required placeholder="urn:epc:id:pgln:8841234.00021";
                label for="r-lot" { (t.lot) }
                input id="r-lot" name="lot" required placeholder="https://id.gs1.org/01/08841234100010/10/PV26-F1";
                label for="r-kg" { (t.mass_kg) }
                input id="r-kg" name="kg" required inputmode="decimal";
                label for="r-moisture" { (t.moisture) }
                input id="r-moisture" name="moisture" inputmode="decimal";
                (time_field(t, now))
                button type="submit" { (t.record) }
            }
        }
    }
}

fn milling_form(t: &Text, lang: &str, now: &str) -> Markup {
    let outputs = [
        ("head", t.head_rice),
        ("broken", t.broken_rice),
        ("bran", t.bran),
        ("husk", t.husk),
    ];
    html! {
        details id="milling" {
            summary { (t.milling) }
            form method="post" action="/form/milling" {
                input type="hidden" name="lang" value=(lang);
                label for="m-lot" { (t.input_lot) }
                input id="m-lot" name="input_lot" required;
                label for="m-kg" { (t.input_kg) }
                input id="m-kg" name="input_kg" required inputmode="decimal";
                @for (name, label) in outputs {
                    div class="row" {
                        div {
                            label for={ "m-" (name) "-lot" } { (label) " — " (t.output_lot) }
                            input id={ "m-" (name) "-lot" } name={ (name) "_lot" };
                        }
                        div {
                            label for={ "m-" (name) "-kg" } { (t.mass_kg) }
                            input id={ "m-" (name) "-kg" } name={ (name) "_kg" } inputmode="decimal";
                        }
                    }
                }
                (time_field(t, now))
                button type="submit" { (t.record) }
            }
        }
    }
}

fn bagging_form(t: &Text, lang: &str, now: &str) -> Markup {
    html! {
        details id="bagging" {
            summary { (t.bagging) }
            form method="post" action="/form/bagging" {
                input type="hidden" name="lang" value=(lang);
                label for="b-lot" { (t.lot) }
                input id="b-lot" name="lot" required;
                label for="b-bag-kg" { (t.bag_kg) }
                input id="b-bag-kg" name="bag_kg" required inputmode="decimal" value="50";
                label for="b-bags" { (t.bags) }
                textarea id="b-bags" name="bags" required {}
                p class="help" { (t.bags_help) }
                (time_field(t, now))
                button type="submit" { (t.record) }
            }
        }
    }
}

fn outbox(t: &Text, lang: &str, v: &View<'_>) -> Markup {
    html! {
        section id="outbox" {
            h2 { (t.outbox) }
            p class="counts" {
                span { (t.pending) ": " span class="count" id="count-pending" { (v.counts.pending) } }
                span { (t.sent) ": " span class="count" id="count-sent" { (v.counts.sent) } }
                span { (t.refused) ": " span class="count" id="count-refused" { (v.counts.refused) } }
                a href={ "/?lang=" (lang) "#outbox" } { (t.refresh) }
            }
            @if v.items.is_empty() {
                p { (t.no_records) }
            } @else {
                table {
                    thead {
                        tr {
                            th scope="col" { "#" }
                            th scope="col" { (t.kind) }
                            th scope="col" { (t.recorded) }
                            th scope="col" { (t.status) }
                            th scope="col" { (t.detail) }
                        }
                    }
                    tbody {
                        @for item in &v.items { (row(t, lang, item)) }
                    }
                }
            }
        }
    }
}

fn row(t: &Text, lang: &str, item: &Item) -> Markup {
    let time = item.event["eventTime"].as_str().unwrap_or("");
    html! {
        tr class=(item.status.name()) data-seq=(item.seq) data-status=(item.status.name()) {
            td { (item.seq) }
            td {
                (kind_name(t, &item.kind)) br;
                span class="muted" { (time) }
            }
            td class="muted" { (item.recorded_at) }
            td { strong { (status_name(t, item.status)) } }
            td {
                @match item.status {
                    Status::Sent => {
                        @if let Some(i) = item.receipt.as_ref().and_then(|r| r["index"].as_u64()) {
                            (t.entry) " " (i)
                        }
                    }
                    Status::Refused => {
                        @if let Some(p) = &item.problem {
                            span class="problem-code" { (p["code"].as_str().unwrap_or("refused")) } ": "
                            (p["detail"].as_str().unwrap_or(""))
                        }
                        form method="post" action={ "/form/retry/" (item.seq) } {
                            input type="hidden" name="lang" value=(lang);
                            button class="secondary" type="submit" { (t.retry) }
                        }
                    }
                    Status::Pending => {
                        @if item.attempts > 0 { span class="muted" { "× " (item.attempts) } }
                    }
                }
                br;
                span class="id" { (item.event_id) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn view(lang: Lang, items: Vec<Item>) -> String {
        clerk_page(&View {
            lang,
            actor: Some("urn:epc:id:pgln:8841234.00031"),
            server: "https://ledger.example",
            counts: Counts {
                pending: 1,
                sent: 0,
                refused: 1,
            },
            sync: SyncState::default(),
            items,
            message: Some(Err("<script>alert(1)</script>".into())),
            now_local: "2026-12-03T09:30".into(),
        })
    }

    #[test]
    fn both_languages_escape_and_show_the_outbox() {
        let refused = Item {
            seq: 4,
            event_id: "urn:uuid:x".into(),
            kind: "receiving".into(),
            recorded_at: "2026-12-03T02:00:00Z".into(),
            status: Status::Refused,
            attempts: 0,
            receipt: None,
            problem: Some(json!({"code": "not_custodian", "detail": "no <b>"})),
            decided_at: None,
            event: json!({"eventTime": "2026-12-03T09:00:00+07:00"}),
        };
        let en = view(Lang::En, vec![refused.clone()]);
        assert!(en.contains(r#"<html lang="en">"#));
        assert!(en.contains("Paddy receipt"));
        assert!(en.contains("not_custodian"));
        assert!(en.contains("no &lt;b&gt;"));
        assert!(!en.contains("<script>"));
        assert!(en.contains(r#"action="/form/retry/4""#));
        let km = view(Lang::Km, vec![refused]);
        assert!(km.contains(r#"<html lang="km">"#));
        assert!(km.contains("ការទទួលស្រូវ"));
        assert!(km.contains("ត្រូវបានបដិសេធ"));
    }

    #[test]
    fn the_language_is_the_query_or_the_browsers() {
        assert_eq!(Lang::choose(Some("km"), Some("en")), Lang::Km);
        assert_eq!(
            Lang::choose(None, Some("km-KH,km;q=0.9,en;q=0.5")),
            Lang::Km
        );
        assert_eq!(Lang::choose(None, Some("fr, en-GB;q=0.8")), Lang::En);
        assert_eq!(Lang::choose(Some("xx"), None), Lang::En);
    }
}
