//! The log as C2SP tlog-tiles, below the prefix `/tlog/`: `checkpoint`, hash tiles
//! (`tile/<L>/<N>[.p/<W>]`) and entry bundles (`tile/entries/<N>[.p/<W>]`).
//!
//! Monitors, witnesses and mirrors fetch these static resources and compute any proof
//! themselves (`tlog::tile::TileReader`), instead of asking for each proof. A tile is served
//! only once the latest signed checkpoint covers it, so every byte served can be checked against
//! a signed root and never changes: tiles and bundles are cached for good by anyone. Entry
//! bundles go gzipped, whole and with their length, to clients that take gzip; hash tiles do not
//! compress and go as they are. Paths are matched after percent-decoding, as every route is.
//!
//! The one thing the format cannot say: an entry bundle prefixes each entry with a 16-bit length,
//! and a lotline entry may be larger (a container's packing lists thousands of EPCs). Such a
//! bundle is refused with `entry_too_large_for_bundle`, naming the entry to fetch from
//! `/v1/entries/{index}`; the hash tiles cover every entry all the same.

use actix_web::http::header::{self, ContentEncoding};
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::problem::{Code, Problem};
use crate::ledger::EntryBundle;
use tlog::tile::{self, Resource, Tile};

/// Tiles and bundles never change once served (see the module docs).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `GET /tlog/tile/{path}`.
pub(super) async fn get_tile(
    data: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let resource =
        tile::parse_path(&path).map_err(|e| Problem::invalid_parameter("tile path", e))?;
    match resource {
        Resource::Hashes(t) => {
            let hashes = data
                .ledger
                .tile(t)?
                .ok_or_else(|| not_covered(t, data.ledger.head().checkpoint.size))?;
            Ok(HttpResponse::Ok()
                .content_type("application/octet-stream")
                .insert_header((header::CACHE_CONTROL, IMMUTABLE))
                // Hashes do not compress: no gzip on the fly.
                .insert_header(ContentEncoding::Identity)
                .body(hashes.concat()))
        }
        Resource::Entries(t) => {
            let gzip = super::accepts_gzip(&req);
            // Up to 256 entries read and compressed: off the async workers.
            let ledger = data.ledger.clone();
            let answer = web::block(move || {
                ledger.entry_bundle(t).map(|b| match b {
                    EntryBundle::Bundle(bytes) if gzip => {
                        EntryBundle::Bundle(super::gzipped(&bytes))
                    }
                    other => other,
                })
            })
            .await
            .map_err(Problem::internal)??;
            match answer {
                EntryBundle::Bundle(body) => {
                    let mut res = HttpResponse::Ok();
                    res.content_type("application/octet-stream")
                        .insert_header((header::CACHE_CONTROL, IMMUTABLE))
                        .insert_header((header::VARY, "Accept-Encoding"));
                    // Compressed here, whole, and sent with its length; never on the fly.
                    res.insert_header(if gzip {
                        ContentEncoding::Gzip
                    } else {
                        ContentEncoding::Identity
                    });
                    Ok(res.body(body))
                }
                EntryBundle::NotCovered { size } => Err(not_covered(t, size)),
                EntryBundle::TooLarge { index, len } => Err(Problem::new(
                    Code::EntryTooLargeForBundle,
                    format!(
                        "entry {index} is {len} bytes, and an entry bundle holds entries of at \
                         most {} bytes; fetch it from /v1/entries/{index} (the hash tiles cover it)",
                        tile::MAX_BUNDLED_ENTRY
                    ),
                )),
            }
        }
    }
}

/// `GET /tlog/checkpoint`: the latest signed checkpoint, as at `/v1/checkpoint`.
pub(super) async fn get_checkpoint(data: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    super::handlers::checkpoint_answer(&data, &req)
}

/// The answer for a tile that the latest checkpoint, of `size` entries, does not cover.
fn not_covered(t: Tile, size: u64) -> Problem {
    Problem::not_found(format!(
        "{t} is not in the tree of the latest checkpoint (size {size}); tiles of a tree are \
         served once a checkpoint covers them: read /tlog/checkpoint first"
    ))
}
