//! The log as C2SP tlog-tiles, below the prefix `/tlog/`: `checkpoint`, hash tiles
//! (`tile/<L>/<N>[.p/<W>]`) and entry bundles (`tile/entries/<N>[.p/<W>]`).
//!
//! Monitors, witnesses and mirrors fetch these static resources and compute any proof
//! themselves (`tlog::tile::TileReader`), instead of asking for each proof. A tile is served
//! only once the latest signed checkpoint covers it, so every byte served can be checked against
//! a signed root and never changes: tiles and bundles are cached for good by anyone.
//!
//! The one thing the format cannot say: an entry bundle prefixes each entry with a 16-bit length,
//! and a lotline entry may be larger (a container's packing lists thousands of EPCs). Such a
//! bundle is refused with `entry_too_large_for_bundle`, naming the entry to fetch from
//! `/v1/entries/{index}`; the hash tiles cover every entry all the same.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use super::problem::{Code, Problem};
use tlog::tile::{self, Resource, Tile};

/// Tiles and bundles never change once served (see the module docs).
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// `GET /tlog/tile/{path}`.
pub(super) async fn get_tile(
    data: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, Problem> {
    let resource =
        tile::parse_path(&path).map_err(|e| Problem::invalid_parameter("tile path", e))?;
    match resource {
        Resource::Hashes(t) => {
            let hashes = data.ledger.tile(t)?.ok_or_else(|| not_covered(&data, t))?;
            Ok(HttpResponse::Ok()
                .content_type("application/octet-stream")
                .insert_header((header::CACHE_CONTROL, IMMUTABLE))
                // Hashes do not compress; spare the gzip middleware the work.
                .insert_header((header::CONTENT_ENCODING, "identity"))
                .body(hashes.concat()))
        }
        Resource::Entries(t) => {
            let entries = data
                .ledger
                .tile_entries(t)?
                .ok_or_else(|| not_covered(&data, t))?;
            let bundle = tile::write_bundle(entries.iter().map(Vec::as_slice)).map_err(|e| {
                let first = t.index() * u64::from(tile::WIDTH);
                match e {
                    tile::BundleError::EntryTooLarge { position, len } => Problem::new(
                        Code::EntryTooLargeForBundle,
                        format!(
                            "entry {} is {len} bytes, and an entry bundle holds entries of at most \
                             {} bytes; fetch it from /v1/entries/{} (the hash tiles cover it)",
                            first + position as u64,
                            tile::MAX_BUNDLED_ENTRY,
                            first + position as u64
                        ),
                    ),
                    other => Problem::new(Code::Internal, other.to_string()),
                }
            })?;
            // Entry bundles are JSON text and compress well: the gzip middleware takes them.
            Ok(HttpResponse::Ok()
                .content_type("application/octet-stream")
                .insert_header((header::CACHE_CONTROL, IMMUTABLE))
                .body(bundle))
        }
    }
}

/// `GET /tlog/checkpoint`: the latest signed checkpoint, as at `/v1/checkpoint`.
pub(super) async fn get_checkpoint(data: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    super::handlers::checkpoint_answer(&data, &req)
}

fn not_covered(data: &AppState, t: Tile) -> Problem {
    let size = data.ledger.head().checkpoint.size;
    Problem::not_found(format!(
        "{t} is not in the tree of the latest checkpoint (size {size}); tiles of a tree are \
         served once a checkpoint covers them: read /tlog/checkpoint first"
    ))
}
