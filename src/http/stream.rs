//! WebSocket subscriptions (GS1's EPCIS 2.0 REST binding: `GET /queries/{name}/events` with
//! `Upgrade: websocket`): from the moment the socket opens, every committed event that matches
//! the named query is sent as a text message holding an `EPCISQueryDocument`. Events are read
//! from the committed log as the published head moves, so a burst is sent in order and none
//! is skipped while the socket stays open.

use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt as _;

use super::{AppState, Problem};
use crate::subscribe::NamedQuery;
use lotline_profile::entry::Entry;

/// Most events in one message.
const BATCH: u64 = 500;

pub(super) async fn open(
    data: web::Data<AppState>,
    req: HttpRequest,
    body: web::Payload,
    nq: NamedQuery,
) -> Result<HttpResponse, Problem> {
    let query = nq
        .compile()
        .map_err(|e| Problem::invalid_parameter(&e.name, e.message))?;
    let (res, mut session, mut messages) = actix_ws::handle(&req, body)
        .map_err(|e| Problem::invalid_parameter("Upgrade", e.to_string()))?;
    let ledger = data.ledger.clone();
    let mut head = ledger.watch_head();
    let mut cursor = head.borrow().size;
    let name = nq.name.clone();
    actix_web::rt::spawn(async move {
        loop {
            tokio::select! {
                changed = head.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    let size = head.borrow().size;
                    while cursor < size {
                        let end = size.min(cursor + BATCH);
                        let (l, q, n) = (ledger.clone(), query.clone(), name.clone());
                        let from = cursor;
                        let read = web::block(move || -> Result<Option<String>, String> {
                            let reader = crate::state::query::StateReader::new(l.store());
                            let mut matched = Vec::new();
                            for i in from..end {
                                let bytes = l.store().entry(i).map_err(|e| e.to_string())?
                                    .ok_or_else(|| format!("entry {i} is missing"))?;
                                let e = Entry::parse(&bytes).map_err(|e| e.to_string())?;
                                let actor = reader.meta(i).map_err(|e| e.to_string())?.and_then(|m| m.actor);
                                if q.matches(&e, actor.as_deref()) {
                                    matched.push(e);
                                }
                            }
                            if matched.is_empty() {
                                return Ok(None);
                            }
                            let doc = crate::query::document(&matched, false, &n, None);
                            serde_json::to_string(&doc).map(Some).map_err(|e| e.to_string())
                        })
                        .await;
                        match read {
                            Ok(Ok(Some(text))) => {
                                if session.text(text).await.is_err() {
                                    return;
                                }
                            }
                            Ok(Ok(None)) => {}
                            Ok(Err(e)) => {
                                tracing::error!(%e, "a subscription stream cannot read the log");
                                let _ = session.close(None).await;
                                return;
                            }
                            Err(_) => return,
                        }
                        cursor = end;
                    }
                }
                msg = messages.next() => match msg {
                    Some(Ok(actix_ws::Message::Ping(b))) => {
                        if session.pong(&b).await.is_err() {
                            return;
                        }
                    }
                    Some(Ok(actix_ws::Message::Close(_))) | Some(Err(_)) | None => break,
                    Some(Ok(_)) => {}
                },
            }
        }
        let _ = session.close(None).await;
    });
    Ok(res)
}
