//! The log as C2SP tlog-tiles (`/tlog/`), read as a monitor would: a signed checkpoint, then
//! only tiles, from which the client computes the root and proofs itself.

use std::io::Read as _;

use crate::support::*;
use serde_json::{Value, json};
use tlog::merkle::{self, Hash, leaf_hash};
use tlog::note::{self, Checkpoint, VerifierKey};
use tlog::tile::{self, Tile, TileReader};

/// A GET whose body is bytes: status, headers asked for, body.
fn fetch(server: &Server, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    fetch_with(server, path, "identity")
}

/// [`fetch`] with `Accept-Encoding: accept`.
fn fetch_with(server: &Server, path: &str, accept: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let req = server
        .agent()
        .get(&server.url(path))
        .set("Accept-Encoding", accept);
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let headers = [
        "content-type",
        "cache-control",
        "content-encoding",
        "content-length",
        "transfer-encoding",
        "vary",
    ]
    .iter()
    .filter_map(|h| resp.header(h).map(|v| (h.to_string(), v.to_owned())))
    .collect();
    let status = resp.status();
    let mut body = Vec::new();
    resp.into_reader().read_to_end(&mut body).unwrap();
    (status, headers, body)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(h, _)| h == name)
        .map(|(_, v)| v.as_str())
}

/// The latest checkpoint at `/tlog/checkpoint`, verified with the log's key, once it covers
/// `size` entries. The server's answer decides; the bound only stops a server that never
/// checkpoints.
fn checkpoint_covering(server: &Server, size: u64) -> Checkpoint {
    let key = VerifierKey::parse(&server.vkey).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let a = get(&server.url("/tlog/checkpoint"));
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.content_type, "text/plain");
        let cp = Checkpoint::parse(&note::open(&a.body, &key).expect("the checkpoint verifies"))
            .unwrap();
        if cp.size >= size || std::time::Instant::now() > deadline {
            assert_eq!(cp.size, size, "no checkpoint of {size} entries");
            return cp;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The root of a complete subtree whose bottom row is the hashes in `row` (32 bytes each).
fn complete_root(row: &[u8]) -> Hash {
    let mut row: Vec<Hash> = row.chunks(32).map(|h| h.try_into().unwrap()).collect();
    while row.len() > 1 {
        row = row
            .chunks(2)
            .map(|p| merkle::node_hash(&p[0], &p[1]))
            .collect();
    }
    row[0]
}

fn hashes(v: &Value) -> Vec<Hash> {
    use base64::Engine as _;
    v.as_array()
        .unwrap()
        .iter()
        .map(|h| {
            base64::engine::general_purpose::STANDARD
                .decode(h.as_str().unwrap())
                .unwrap()
                .try_into()
                .unwrap()
        })
        .collect()
}

#[test]
fn a_monitor_reads_the_log_from_tiles_alone_and_checks_it_against_the_signed_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    // 300 harvests after the registration at index 0: a full level-0 tile, a partial one of
    // width 45, and a level-1 tile of width 1.
    for round in 0..3 {
        let batch: Vec<Value> = (0..100)
            .map(|i| sign(&server.farm, &event(&format!("tile {round}-{i}"))))
            .collect();
        let a = post_json(&server.url("/v1/events/batch"), &json!(batch));
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let cp = checkpoint_covering(&server, 301);
    assert_eq!(cp.origin, "test.invalid/lotline");

    // The root from tiles alone is the signed root, and the tiles fetched are the ones a tree
    // of 301 leaves has.
    let mut reader = TileReader::new(cp.size, |t: Tile| {
        let (status, headers, body) = fetch(&server, &format!("/tlog/{}", t.path()));
        if status != 200 {
            return Err(format!("{t}: {status} {}", String::from_utf8_lossy(&body)));
        }
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(
            header(&headers, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        Ok(body)
    });
    assert_eq!(merkle::root(&mut reader, cp.size).unwrap(), cp.root);
    let mut fetched: Vec<String> = reader.fetched().map(Tile::path).collect();
    fetched.sort();
    // As the specification says, a root needs only the tree's partial tiles.
    assert_eq!(fetched, ["tile/0/001.p/45", "tile/1/000.p/1"]);

    // Proofs computed from tiles are the server's own.
    for index in [0u64, 1, 200, 255, 256, 300] {
        let from_tiles = merkle::inclusion_proof(&mut reader, index, cp.size).unwrap();
        let served = get(&server.url(&format!(
            "/v1/proofs/inclusion/{index}?treeSize={}",
            cp.size
        )))
        .json();
        assert_eq!(from_tiles, hashes(&served["hashes"]), "entry {index}");
    }
    let consistency = merkle::consistency_proof(&mut reader, 100, cp.size).unwrap();
    let served = get(&server.url(&format!("/v1/proofs/consistency?from=100&to={}", cp.size)));
    assert_eq!(consistency, hashes(&served.json()["hashes"]));

    // The level-1 tile of width 1 is the root of the full level-0 tile.
    let (status, _, tile0) = fetch(&server, "/tlog/tile/0/000");
    assert_eq!(status, 200);
    assert_eq!(tile0.len(), 256 * 32);
    let (status, _, level1) = fetch(&server, "/tlog/tile/1/000.p/1");
    assert_eq!(status, 200);
    assert_eq!(level1, complete_root(&tile0));

    // Entry bundles: each entry is the logged entry and hashes to its leaf in the tile.
    let (status, headers, full) = fetch(&server, "/tlog/tile/entries/000");
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    let entries = tile::read_bundle(&full).unwrap();
    assert_eq!(entries.len(), 256);
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(leaf_hash(e), tile0[i * 32..(i + 1) * 32], "entry {i}");
    }
    let e7: Value = serde_json::from_slice(entries[7]).unwrap();
    assert_eq!(e7, get(&server.url("/v1/entries/7")).json()["entry"]);
    // Gzipped whole, with its length, for a client that takes gzip; hash tiles never are.
    let (status, headers, gz) = fetch_with(&server, "/tlog/tile/entries/000", "gzip");
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "content-encoding"), Some("gzip"));
    assert_eq!(header(&headers, "vary"), Some("Accept-Encoding"));
    assert_eq!(header(&headers, "transfer-encoding"), None);
    let length = gz.len().to_string();
    assert_eq!(header(&headers, "content-length"), Some(length.as_str()));
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, full);
    assert!(gz.len() < full.len() / 2, "{} of {}", gz.len(), full.len());
    let (_, headers, _) = fetch(&server, "/tlog/tile/entries/000");
    assert_eq!(header(&headers, "content-encoding"), None);
    let (status, headers, hashes) = fetch_with(&server, "/tlog/tile/0/000", "gzip, deflate");
    assert_eq!((status, &hashes), (200, &tile0));
    assert_eq!(header(&headers, "content-encoding"), None);
    let (status, _, partial) = fetch(&server, "/tlog/tile/entries/001.p/45");
    assert_eq!(status, 200);
    assert_eq!(tile::read_bundle(&partial).unwrap().len(), 45);
    // A narrower partial tile of a tree that has grown is still served: a prefix of the wider.
    let (status, _, narrow) = fetch(&server, "/tlog/tile/0/001.p/3");
    assert_eq!(status, 200);
    let (_, _, wide) = fetch(&server, "/tlog/tile/0/001.p/45");
    assert_eq!(narrow, wide[..96]);

    // What the checkpoint does not cover is not served; what is not a tile's path is refused,
    // naming the right spelling where there is one.
    for path in ["0/001", "0/001.p/46", "entries/001", "2/000.p/1", "7/000"] {
        let a = get(&server.url(&format!("/tlog/tile/{path}")));
        let p = a.assert_problem(404, "not_found");
        assert!(
            p["detail"].as_str().unwrap().contains("/tlog/checkpoint"),
            "{p}"
        );
        // Not there yet is not for caches to remember: the next checkpoint may cover it.
        let (_, headers, _) = fetch(&server, &format!("/tlog/tile/{path}"));
        assert_eq!(
            header(&headers, "cache-control"),
            Some("no-store"),
            "{path}"
        );
    }
    for path in [
        "64/000",
        "01/000",
        "0/1",
        "0/000.p/0",
        "0/000.p/256",
        "entries",
        "x",
    ] {
        get(&server.url(&format!("/tlog/tile/{path}"))).assert_problem(400, "invalid_parameter");
    }
    let p = get(&server.url("/tlog/tile/0/x000/000")).assert_problem(400, "invalid_parameter");
    assert!(p["detail"].as_str().unwrap().contains("tile/0/000"), "{p}");

    // An entry larger than a bundle's 16-bit length: its bundle is refused, naming the entry;
    // its hash tile is served all the same.
    let mut big = event("big");
    big["example:note"] = json!("x".repeat(70_000));
    let a = server.submit(&server.farm, &big);
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(a.json()["index"], 301);
    let cp = checkpoint_covering(&server, 302);
    let p = get(&server.url("/tlog/tile/entries/001.p/46"))
        .assert_problem(422, "entry_too_large_for_bundle");
    assert!(
        p["detail"].as_str().unwrap().contains("/v1/entries/301"),
        "{p}"
    );
    let (status, _, _) = fetch(&server, "/tlog/tile/entries/001.p/45");
    assert_eq!(status, 200);
    let mut reader = TileReader::new(cp.size, |t: Tile| {
        Ok::<_, String>(fetch(&server, &format!("/tlog/{}", t.path())).2)
    });
    assert_eq!(merkle::root(&mut reader, cp.size).unwrap(), cp.root);
    server.stop();
}
