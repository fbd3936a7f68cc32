//! Event files as people and devices write them: one JSON object, a JSON array of objects, or
//! NDJSON (one object per line). Parsed strictly, like the server parses bodies, so a file the
//! CLI accepts is a file the server accepts; output keeps the input's shape.

use std::io::{Read as _, Write};
use std::path::Path;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use data_integrity::json::{self, Limits};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Object,
    Array,
    Ndjson,
}

#[derive(Debug)]
pub struct Input {
    pub shape: Shape,
    pub events: Vec<Value>,
}

impl Input {
    /// Reads `path` (`-` is standard input).
    pub fn read(path: &Path) -> Result<Input> {
        let bytes = if path == Path::new("-") {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .context("reading standard input")?;
            b
        } else {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        };
        Input::parse(&bytes).with_context(|| format!("{}", path.display()))
    }

    pub fn parse(bytes: &[u8]) -> Result<Input> {
        let limits = Limits::default();
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
        let Some(start) = start else {
            bail!("the input is empty");
        };
        if bytes[start] == b'[' {
            return match json::parse(bytes, &limits)? {
                Value::Array(events) if events.is_empty() => bail!("the array holds no events"),
                Value::Array(events) => Ok(Input {
                    shape: Shape::Array,
                    events,
                }),
                _ => bail!("expected a JSON array"),
            };
        }
        // One object, possibly pretty-printed over many lines…
        let whole = json::parse(bytes, &limits);
        if let Ok(v) = whole {
            return Ok(Input {
                shape: Shape::Object,
                events: vec![v],
            });
        }
        // …or NDJSON. If it is neither, the first line's error is the useful one.
        let mut events = Vec::new();
        for (n, line) in bytes.split(|b| *b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let v = json::parse(line, &limits).with_context(|| format!("line {}", n + 1))?;
            events.push(v);
        }
        if events.len() < 2 {
            // A single (broken) object: report the error of the whole text.
            whole?;
        }
        Ok(Input {
            shape: Shape::Ndjson,
            events,
        })
    }
}

/// Writes events in `shape`: one line of JSON for an object, a JSON array, or NDJSON.
pub fn write(out: &mut impl Write, shape: Shape, events: &[Value]) -> Result<()> {
    match shape {
        Shape::Object => writeln!(out, "{}", events.first().unwrap_or(&Value::Null))?,
        Shape::Array => writeln!(out, "{}", Value::Array(events.to_vec()))?,
        Shape::Ndjson => {
            for e in events {
                writeln!(out, "{e}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_recognised() {
        let one = Input::parse(b"{\n  \"a\": 1\n}\n").unwrap();
        assert_eq!(one.shape, Shape::Object);
        let arr = Input::parse(b" [{\"a\":1},{\"a\":2}]").unwrap();
        assert_eq!((arr.shape, arr.events.len()), (Shape::Array, 2));
        let nd = Input::parse(b"{\"a\":1}\n\n{\"a\":2}\n").unwrap();
        assert_eq!((nd.shape, nd.events.len()), (Shape::Ndjson, 2));
    }

    #[test]
    fn errors_name_the_line() {
        let err = format!("{:#}", Input::parse(b"{\"a\":1}\n{\"a\":\n").unwrap_err());
        assert!(err.contains("line 2"), "{err}");
        assert!(Input::parse(b"  ").is_err());
        assert!(Input::parse(b"[]").is_err());
        assert!(Input::parse(b"{\"a\":1,\"a\":2}").is_err());
    }
}
