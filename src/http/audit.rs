//! Audits for certifiers: an operator's mass balance over a period, as JSON
//! (`GET /v1/audit/operators/{id}/mass-balance`) and as a printable HTML report
//! (`GET /v1/audit/operators/{id}/report`). Both take `from`, `to` (RFC 3339 date-times or
//! `YYYY-MM-DD` dates, UTC; `to` exclusive, default now) and `product`.
//!
//! The computation (`audit::mass_balance`) replays the operator's whole history, so it runs on
//! the blocking pool, a few at a time, never on the event loop.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::auth::Auditor;
use super::params::urlencode;
use super::{AppState, Problem};
use crate::audit::Links;
use crate::audit::mass_balance::{self, LedgerHistory, Report, Request};
use crate::state::ActorRecord;

type Data = web::Data<AppState>;

/// Audits computed at once: each may replay hundreds of thousands of entries, so a burst of
/// them cannot take every core from ingest.
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// Longest operator id accepted (actor ids are URIs; GLN URNs are about 30 characters).
const MAX_ID: usize = 512;

/// The operator an audit concerns: parsed, validated and looked up here, once, before
/// anything else is read.
fn operator(data: &Data, id: &str, auditor: &Auditor) -> Result<ActorRecord, Problem> {
    if id.is_empty() || id.len() > MAX_ID || id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(Problem::invalid_parameter(
            "id",
            format!(
                "an operator is named by its actor id, a URI of at most {MAX_ID} characters without spaces (e.g. urn:epc:id:pgln:8841234.00031)"
            ),
        ));
    }
    let reader = data.ledger.state();
    let actor = reader
        .actor(id)
        .map_err(Problem::internal)?
        .ok_or_else(|| Problem::not_found(format!("no operator {id} is registered")))?;
    auditor.may_audit_operator(&reader, id)?;
    Ok(actor)
}

/// The period and product of an audit request.
struct Params {
    from_ms: Option<i64>,
    to_ms: i64,
    product: Option<String>,
}

fn params(q: &HashMap<String, String>) -> Result<Params, Problem> {
    const KNOWN: &[&str] = &["from", "to", "product"];
    // The audit token may come as `access_token` (see `auth`).
    if let Some(k) = q
        .keys()
        .find(|k| !KNOWN.contains(&k.as_str()) && k.as_str() != "access_token")
    {
        return Err(Problem::invalid_parameter(
            k,
            format!("not a supported query parameter; use {}", KNOWN.join(", ")),
        ));
    }
    let instant = |name: &str| -> Result<Option<i64>, Problem> {
        q.get(name)
            .map(|v| {
                lotline_profile::profile::parse_instant_ms(v).ok_or_else(|| {
                    Problem::invalid_parameter(
                        name,
                        format!(
                            "{v:?} is neither an RFC 3339 date-time (2026-10-01T00:00:00+07:00) nor a date (2026-10-01)"
                        ),
                    )
                })
            })
            .transpose()
    };
    let from_ms = instant("from")?;
    let to_ms = match instant("to")? {
        Some(t) => t,
        None => crate::ledger::now_ms(),
    };
    if let Some(f) = from_ms
        && f > to_ms
    {
        return Err(Problem::invalid_parameter(
            "from",
            format!(
                "the period starts ({}) after it ends ({})",
                lotline_profile::profile::format_time_ms(f),
                lotline_profile::profile::format_time_ms(to_ms)
            ),
        ));
    }
    let product = q
        .get("product")
        .map(|p| {
            if mass_balance::is_product_name(p) {
                Ok(p.clone())
            } else {
                Err(Problem::invalid_parameter(
                    "product",
                    format!(
                        "{p:?} is not a product name: lower case letters and digits joined by single hyphens, at most 64 (paddy, head-rice, cassava-chips)"
                    ),
                ))
            }
        })
        .transpose()?;
    Ok(Params {
        from_ms,
        to_ms,
        product,
    })
}

/// The operator and period of a request, validated; then the mass balance.
async fn mass_balance_of(
    data: &Data,
    auditor: &Auditor,
    id: &str,
    q: &HashMap<String, String>,
) -> Result<Report, Problem> {
    let op = operator(data, id, auditor)?;
    let p = params(q)?;
    let _slot = SLOTS.acquire().await.map_err(Problem::internal)?;
    let (ledger, bounds) = (data.ledger.clone(), data.bounds.clone());
    web::block(move || {
        let history = LedgerHistory {
            reader: ledger.state(),
            size: ledger.head().size,
        };
        let req = Request {
            operator: &op,
            from_ms: p.from_ms,
            to_ms: p.to_ms,
            product: p.product.as_deref(),
        };
        mass_balance::compute(&history, &req, &bounds)
    })
    .await
    .map_err(Problem::internal)?
    .map_err(Problem::internal)
}

/// Where the report's pieces live in the API.
fn links(r: &Report) -> Links {
    let id = urlencode(&r.operator.id);
    let mut q = Vec::new();
    if let Some(f) = &r.period.from {
        q.push(format!("from={}", urlencode(f)));
    }
    q.push(format!("to={}", urlencode(&r.period.to)));
    if let Some(p) = &r.product {
        q.push(format!("product={p}"));
    }
    let q = q.join("&");
    let mut events = format!(
        "/v1/events?EQ_actor={id}&LT_eventTime={}",
        urlencode(&r.period.to)
    );
    if let Some(f) = &r.period.from {
        events.push_str(&format!("&GE_eventTime={}", urlencode(f)));
    }
    Links {
        self_: format!("/v1/audit/operators/{id}/mass-balance?{q}"),
        report: format!("/v1/audit/operators/{id}/report?{q}"),
        operator: format!("/v1/actors/{id}"),
        events,
        entry: "/v1/entries/{index}",
    }
}

pub(super) async fn get_mass_balance(
    data: Data,
    auditor: Auditor,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    let mut report = mass_balance_of(&data, &auditor, &path, &q).await?;
    report.links = Some(links(&report));
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(report))
}

pub(super) async fn get_report(
    data: Data,
    auditor: Auditor,
    path: web::Path<String>,
    q: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, Problem> {
    let report = mass_balance_of(&data, &auditor, &path, &q).await?;
    let page = super::pages::mass_balance_page(&report, &links(&report));
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn parameters_are_checked_at_the_edge() {
        let p = params(&q(&[
            ("from", "2026-01-01"),
            ("to", "2026-07-01T00:00:00+07:00"),
        ]))
        .unwrap();
        assert_eq!(
            p.from_ms,
            lotline_profile::profile::parse_instant_ms("2026-01-01")
        );
        assert!(p.to_ms > p.from_ms.unwrap());
        let open = params(&q(&[])).unwrap();
        assert!(open.from_ms.is_none() && open.to_ms > 1_700_000_000_000);
        for bad in [
            q(&[("from", "01/01/2026")]),
            q(&[("to", "2026-02-30")]),
            q(&[("from", "2026-02-01"), ("to", "2026-01-01")]),
            q(&[("product", "Milled Rice")]),
            q(&[("product", "")]),
            q(&[("operator", "x")]),
        ] {
            let e = params(&bad)
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert_eq!(e.code, "invalid_parameter", "{bad:?}");
        }
        // An empty period is a period.
        assert!(params(&q(&[("from", "2026-01-01"), ("to", "2026-01-01")])).is_ok());
    }
}
