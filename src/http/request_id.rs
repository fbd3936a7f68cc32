//! Request IDs: every request gets one — the client's `X-Request-ID` if it sent a sane one,
//! else a fresh UUIDv7 — which comes back in the answer's `X-Request-ID` header, in the
//! `requestId` member of every problem answer, and on every log line of the request (the
//! access log and the request's tracing span), so an operator can find what a client reports.

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Instrument as _;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The ID of the request being answered, when called inside one.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// A client's ID is kept if it is short and plain (it is echoed into logs and headers).
fn sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The middleware (`middleware::from_fn(request_id::assign)`).
pub async fn assign(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let value = HeaderValue::from_str(&id).expect("sane or hex: a valid header value");
    // The access log (inside) reads it from the request.
    req.headers_mut().insert(HEADER, value.clone());
    let span = tracing::info_span!("request", request_id = %id);
    let mut res = REQUEST_ID
        .scope(id, next.call(req))
        .instrument(span)
        .await?;
    res.headers_mut().insert(HEADER, value);
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_ids_are_kept() {
        assert!(sane("7f3c-abc_1.2:x"));
        assert!(!sane(""));
        assert!(!sane("a b"));
        assert!(!sane("a\nb"));
        assert!(!sane(&"x".repeat(129)));
    }
}
