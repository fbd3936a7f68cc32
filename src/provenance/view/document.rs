//! Reading a provenance document as served into a [`BuyerView`], leniently.
//!
//! The functions here are the field deserializers the view's `#[serde(deserialize_with)]`
//! attributes name. Each reads whatever JSON value is there and never fails: a value of the
//! wrong type reads as `None`, `false`, an empty list or a default section, and a list keeps the
//! members it can read. Text is a non-blank string, a number or a boolean (`yes`/`no`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::{BuyerView, OrganicStatus};

impl BuyerView {
    /// The view of a provenance document (`GET /v1/lots/{id}/provenance`), read leniently:
    /// anything missing, null or of the wrong type is unknown or left out, never an error.
    pub fn from_document(doc: &Value) -> BuyerView {
        object_of(doc.clone())
    }
}

/// `v` read as `T` if it is an object; `T`'s default for anything else. Every field of the
/// view's types is read leniently, so reading an object cannot fail.
fn object_of<T: DeserializeOwned + Default>(v: Value) -> T {
    if v.is_object() {
        serde_json::from_value(v).unwrap_or_default()
    } else {
        T::default()
    }
}

/// The members of an array; nothing for anything else.
fn members(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

fn as_text(v: Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if b { "yes" } else { "no" }.to_owned()),
        _ => None,
    }
}

/// A section: read leniently if an object, else empty.
pub(super) fn object<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(object_of(Value::deserialize(d)?))
}

/// A section whose absence means something: `None` only when null (or missing).
pub(super) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let v = Value::deserialize(d)?;
    Ok((!v.is_null()).then(|| object_of(v)))
}

/// A section shown only when it is an object.
pub(super) fn only_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    let v = Value::deserialize(d)?;
    Ok(v.is_object().then(|| object_of(v)))
}

/// A list of sections: each member read as [`object`] reads one.
pub(super) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(members(Value::deserialize(d)?)
        .into_iter()
        .map(object_of)
        .collect())
}

/// A value of a type with its own strict reading (an enum), or `None`.
pub(super) fn parsed<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

pub(super) fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(as_text(Value::deserialize(d)?))
}

/// The texts of a list, the rest left out.
pub(super) fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(members(Value::deserialize(d)?)
        .into_iter()
        .filter_map(as_text)
        .collect())
}

/// A string as it is (a link, checked when rendered); empty for anything else.
pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        _ => String::new(),
    })
}

pub(super) fn uint<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(Value::deserialize(d)?.as_u64())
}

/// The whole numbers of a list, the rest left out.
pub(super) fn uints<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u64>, D::Error> {
    Ok(members(Value::deserialize(d)?)
        .iter()
        .filter_map(Value::as_u64)
        .collect())
}

pub(super) fn float<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Value::deserialize(d)?.as_f64())
}

pub(super) fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(Value::deserialize(d)?.as_bool())
}

/// Whether a list of measurements has one a sensor raised an exception on (an alarm or an
/// error); `false` for anything else.
pub(super) fn any_exception<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(members(Value::deserialize(d)?)
        .iter()
        .any(|m| m.get("exception").is_some_and(|e| !e.is_null())))
}

/// `true` only for an explicit `true`: a missing or malformed verdict must not read as a pass.
pub(super) fn is_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Value::deserialize(d)? == Value::Bool(true))
}

/// An event's `signature` member: `valid`, or why it is not.
pub(super) fn is_valid<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Value::deserialize(d)?.as_str() == Some("valid"))
}

pub(super) fn organic_status<'de, D: Deserializer<'de>>(d: D) -> Result<OrganicStatus, D::Error> {
    Ok(Value::deserialize(d)?
        .as_str()
        .map_or(OrganicStatus::NotVerified, OrganicStatus::from_name))
}
