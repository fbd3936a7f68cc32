//! Certificates: `GET /v1/certificates/{id}` and `GET /v1/actors/{id}/certificates`.
//!
//! Public, like the rest of the ledger's reads: a buyer checks a supplier's certificate here.
//! Status is evaluated with everything recorded now (a withdrawal with a past effective date
//! counts from that date), at `?at=` or now.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{AppState, Code, Problem};
use crate::state::certs::{CertRecord, Standing};
use crate::state::query::StateReader;
use crate::state::tag;
use lotline_profile::profile::{self, format_time_ms};

type Data = web::Data<AppState>;

/// Most certificates listed for one actor.
const MAX_CERTS: usize = 1000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct At {
    at: Option<String>,
}

fn at_ms(q: &At) -> Result<i64, Problem> {
    match &q.at {
        Some(s) => profile::parse_time_ms(s).ok_or_else(|| {
            Problem::invalid_parameter("at", format!("{s:?} is not an RFC 3339 date-time"))
        }),
        None => Ok(crate::ledger::now_ms()),
    }
}

/// The status word and, where the certificate does not stand, why.
pub fn standing_json(c: &CertRecord, t: i64) -> Value {
    match c.standing_at(t) {
        Standing::Valid(v) => json!({"status": "valid", "version": v.at}),
        Standing::NotYetValid(v) => {
            json!({"status": "not_yet_valid", "version": v.at, "validFrom": v.spec.valid_from})
        }
        Standing::Expired(v) => {
            json!({"status": "expired", "version": v.at, "validUntil": v.spec.valid_until})
        }
        Standing::Suspended(s) => json!({
            "status": "suspended",
            "since": format_time_ms(s.span.from_ms),
            "entry": s.span.opened_at,
            "reason": s.reason,
        }),
        Standing::Withdrawn(w) => json!({
            "status": "withdrawn",
            "since": format_time_ms(w.effective_ms),
            "entry": w.at,
            "reason": w.reason,
        }),
    }
}

/// The public view of a certificate: its current content, its standing at `t`, and every
/// decision with the entry that recorded it.
pub fn cert_json(reader: &StateReader<'_>, c: &CertRecord, t: i64) -> Result<Value, Problem> {
    let name = |id: &str| -> Result<Option<String>, Problem> {
        Ok(reader.actor(id).map_err(Problem::internal)?.map(|a| a.name))
    };
    let spec = c.current();
    let versions: Vec<Value> = c
        .versions
        .iter()
        .enumerate()
        .map(|(i, v)| {
            json!({
                "decision": if i == 0 { "issued" } else { "amended" },
                "entry": v.at,
                "effective": format_time_ms(v.effective_ms),
                "activities": v.spec.activities,
                "products": v.spec.products,
                "members": v.spec.members,
                "validFrom": v.spec.valid_from,
                "validUntil": v.spec.valid_until,
            })
        })
        .collect();
    Ok(json!({
        "id": c.id,
        "number": spec.number,
        "standard": spec.standard,
        "issuer": {"id": c.issuer, "name": name(&c.issuer)?},
        "subject": {"id": spec.subject, "name": name(&spec.subject)?},
        "members": spec.members,
        "activities": spec.activities,
        "products": spec.products,
        "validFrom": spec.valid_from,
        "validUntil": spec.valid_until,
        "at": format_time_ms(t),
        "standing": standing_json(c, t),
        "versions": versions,
        "suspensions": c.suspensions.iter().map(|s| json!({
            "from": format_time_ms(s.span.from_ms),
            "until": s.span.until_ms.map(format_time_ms),
            "entry": s.span.opened_at,
            "reinstatedBy": s.span.closed_at,
            "reason": s.reason,
        })).collect::<Vec<_>>(),
        "withdrawal": c.withdrawal.as_ref().map(|w| json!({
            "effective": format_time_ms(w.effective_ms),
            "entry": w.at,
            "reason": w.reason,
        })),
        "entries": c.entries(),
    }))
}

pub(super) async fn get_certificate(
    data: Data,
    path: web::Path<String>,
    query: web::Query<At>,
) -> Result<HttpResponse, Problem> {
    let t = at_ms(&query)?;
    let reader = data.ledger.state();
    let c = reader
        .cert(&path)
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("no certificate {} was issued", *path)))?;
    Ok(HttpResponse::Ok().json(cert_json(&reader, &c, t)?))
}

pub(super) async fn actor_certificates(
    data: Data,
    path: web::Path<String>,
    query: web::Query<At>,
) -> Result<HttpResponse, Problem> {
    let t = at_ms(&query)?;
    let reader = data.ledger.state();
    let actor = reader
        .actor(&path)
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("no actor {} is registered", *path)))?;
    let list = |which: u8| -> Result<Vec<Value>, Problem> {
        let certs = reader
            .certs_of(which, &actor.id, MAX_CERTS + 1)
            .map_err(Problem::internal)?;
        if certs.len() > MAX_CERTS {
            return Err(Problem::new(
                Code::HistoryTooLarge,
                format!(
                    "{} has more than {MAX_CERTS} certificates; ask for them one by one",
                    actor.id
                ),
            ));
        }
        certs
            .iter()
            .filter(|c| which == tag::CERT_ISSUER || c.concerns(&actor.id))
            .map(|c| cert_json(&reader, c, t))
            .collect()
    };
    Ok(HttpResponse::Ok().json(json!({
        "actor": {"id": actor.id, "name": actor.name},
        "at": format_time_ms(t),
        "held": list(tag::CERT_HOLDER)?,
        "issued": list(tag::CERT_ISSUER)?,
    })))
}
