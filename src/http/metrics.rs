//! HTTP side of the metrics (`crate::metrics`): the middleware that counts and times every
//! answer by route template, and `GET /metrics`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{Error, HttpResponse, web};

use super::{AppState, Problem};
use crate::metrics::{self, RequestLabels, RouteLabels};

/// The middleware (`middleware::from_fn(metrics::record)`): one count and one latency sample
/// per answer, errors included.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let began = Instant::now();
    let method = req.method().as_str().to_owned();
    let res = next.call(req).await?;
    // The template, known once routing is done; never the raw path (unbounded series).
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let m = metrics::get();
    m.request_seconds
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(began.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: res.status().as_u16(),
        })
        .inc();
    Ok(res)
}

/// `GET /metrics`: Prometheus text format.
pub(super) async fn scrape(data: web::Data<AppState>) -> Result<HttpResponse, Problem> {
    let ledger = data.ledger.clone();
    // Reading RocksDB's properties takes its locks briefly; off the async workers.
    let text = web::block(move || metrics::render(&ledger))
        .await
        .map_err(Problem::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, metrics::CONTENT_TYPE))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}
