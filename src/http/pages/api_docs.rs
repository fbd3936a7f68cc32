//! The API reference page (`GET /docs/api`): the OpenAPI document read by a person. Operations
//! by tag, each with its parameters, body, answers and the problem codes of each status; the
//! problem codes in one table; links to the schemas and to `/openapi.json` for tools. Server
//! rendered from the document itself, so the page and the document cannot disagree.

use maud::{Markup, html};
use serde_json::Value;

use super::document;

const STYLE: &str = r#"
.op{border:1px solid #ddd;border-radius:6px;margin:.6em 0;padding:.4em .8em}
.op summary{cursor:pointer}
.m{display:inline-block;min-width:4.5em;font:600 .85em ui-monospace,monospace;text-transform:uppercase}
.m-get{color:#1a5e2a}.m-post{color:#1d4f91}.m-delete{color:#9b1c1c}.m-options{color:#555}
code.path{font-size:.95em}
table{border-collapse:collapse;margin:.4em 0}
td,th{border-bottom:1px solid #eee;padding:.2em .6em;text-align:left;vertical-align:top}
nav a{margin-right:1em}
"#;

/// The page for `doc`, an OpenAPI 3.1 document as JSON.
pub fn api_docs_page(doc: &Value) -> String {
    let title = doc["info"]["title"].as_str().unwrap_or("API");
    let tags: Vec<(&str, &str)> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or(""),
                t["description"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let ops = operations(doc);
    let body = html! {
        main {
            h1 { (title) " HTTP API" }
            p { (doc["info"]["description"].as_str().unwrap_or("")) }
            p {
                "OpenAPI " (doc["openapi"].as_str().unwrap_or("")) " document for tools: "
                a href="/openapi.json" { "/openapi.json" }
                " · " (ops.len()) " operations"
            }
            nav {
                @for (name, _) in &tags {
                    a href={ "#tag-" (slug(name)) } { (name) }
                }
                a href="#problems" { "Problem codes" }
            }
            @for (name, description) in &tags {
                section id={ "tag-" (slug(name)) } {
                    h2 { (name) }
                    p { (description) }
                    @for o in ops.iter().filter(|o| o.tag == *name) {
                        (operation(o))
                    }
                }
            }
            section id="problems" {
                h2 { "Problem codes" }
                p { "Every error is " code { "application/problem+json" } " (RFC 9457) with one of these codes." }
                table {
                    tr { th { "code" } th { "status" } th { "title" } }
                    @for c in doc["components"]["schemas"]["Problem"]["x-lotline-codes"].as_array().into_iter().flatten() {
                        tr {
                            td { code { (c["code"].as_str().unwrap_or("")) } }
                            td { (c["status"]) }
                            td { (c["title"].as_str().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    };
    document("API reference", STYLE, body)
}

struct Op<'a> {
    method: &'a str,
    path: &'a str,
    tag: &'a str,
    o: &'a Value,
}

fn operations(doc: &Value) -> Vec<Op<'_>> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, o) in item.as_object().into_iter().flatten() {
            out.push(Op {
                method,
                path,
                tag: o["tags"][0].as_str().unwrap_or(""),
                o,
            });
        }
    }
    out
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect()
}

/// A schema in a few words: its reference's name, or its type.
fn schema_words(s: &Value) -> String {
    if let Some(r) = s["$ref"].as_str() {
        return r.rsplit('/').next().unwrap_or(r).to_owned();
    }
    if let Some(e) = s["enum"].as_array() {
        let vals: Vec<String> = e
            .iter()
            .map(|v| v.as_str().map_or(v.to_string(), str::to_owned))
            .collect();
        return format!("one of {}", vals.join(", "));
    }
    match (&s["type"], &s["items"]) {
        (Value::String(t), Value::Object(_)) if t == "array" => {
            format!("array of {}", schema_words(&s["items"]))
        }
        (Value::String(t), _) => t.clone(),
        _ => "any".to_owned(),
    }
}

fn operation(op: &Op<'_>) -> Markup {
    let o = op.o;
    let id = o["operationId"].as_str().unwrap_or("");
    html! {
        details.op id=(id) {
            summary {
                span class={ "m m-" (op.method) } { (op.method) }
                code.path { (op.path) }
                " — " (o["summary"].as_str().unwrap_or(""))
                @if o.get("security").is_some() { " 🔒" }
            }
            @if let Some(d) = o["description"].as_str() { p { (d) } }
            @if let Some(ps) = o["parameters"].as_array() {
                h4 { "Parameters" }
                table {
                    tr { th { "name" } th { "in" } th { "schema" } th { "description" } }
                    @for p in ps {
                        tr {
                            td { code { (p["name"].as_str().unwrap_or("")) } @if p["required"] == true { " *" } }
                            td { (p["in"].as_str().unwrap_or("")) }
                            td { (schema_words(&p["schema"])) }
                            td { (p["description"].as_str().unwrap_or("")) }
                        }
                    }
                }
            }
            @if let Some(b) = o["requestBody"].as_object() {
                h4 { "Body" }
                p {
                    (b.get("description").and_then(Value::as_str).unwrap_or(""))
                    @for (t, c) in b.get("content").and_then(Value::as_object).into_iter().flatten() {
                        br; code { (t) } ": " (schema_words(&c["schema"]))
                    }
                }
            }
            h4 { "Answers" }
            table {
                tr { th { "status" } th { "description" } th { "content" } }
                @for (status, r) in o["responses"].as_object().into_iter().flatten() {
                    tr {
                        td { (status) }
                        td { (r["description"].as_str().unwrap_or("")) }
                        td {
                            @for (t, c) in r["content"].as_object().into_iter().flatten() {
                                code { (t) } " " (schema_words(&c["schema"])) br;
                            }
                        }
                    }
                }
            }
        }
    }
}
