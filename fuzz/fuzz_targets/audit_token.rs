//! Audit tokens, `lotline_profile::audit_token::check`, on what a client sends as a bearer
//! token: no panic, checked both for a fixed audience and (to get past that check) for the
//! audience and time the token itself names. And the round trip: a token created for an
//! audience and actor taken from the input checks, for that audience, to its signer, actor and
//! expiry (unless it is longer than tokens may be).

#![no_main]

use data_integrity::didkey;
use data_integrity::json::{Limits, parse};
use libfuzzer_sys::fuzz_target;
use lotline_profile::audit_token::{self, Bearer, MAX_TOKEN_BYTES};
use lotline_profile::profile::parse_time_ms;

#[path = "common.rs"]
mod common;

const NOW: i64 = 1_795_000_000_000;

/// The token's own audience and a time inside its lifetime, when it has them.
fn own_claims(token: &str) -> Option<(String, i64)> {
    use base64_like::decode;
    let doc = parse(&decode(token.trim())?, &Limits::default()).ok()?;
    let audience = doc.get("audience")?.as_str()?.to_owned();
    let issued = parse_time_ms(doc.get("issued")?.as_str()?)?;
    Some((audience, issued.saturating_add(1)))
}

/// base64url without padding, decoded here so the target needs no base64 crate of its own.
mod base64_like {
    pub fn decode(s: &str) -> Option<Vec<u8>> {
        let value = |c: u8| match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'-' => Some(62),
            b'_' => Some(63),
            _ => None,
        };
        let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
        for c in s.bytes() {
            acc = (acc << 6) | u32::from(value(c)?);
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        Some(out)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some(s) = common::text(data) else {
        return;
    };
    let _ = audit_token::check(s, "fuzz.example/log", NOW);
    if let Some((audience, at)) = own_claims(s) {
        let _ = audit_token::check(s, &audience, at);
    }

    // The round trip: "<audience>\n<actor>" or just "<audience>".
    let (audience, actor) = match s.split_once('\n') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let key = common::signing_key();
    let ttl = 600_000;
    let token = audit_token::create(&key, audience, actor, NOW, ttl).expect("valid lifetime");
    let checked = audit_token::check(&token, audience, NOW + 1);
    if token.len() > MAX_TOKEN_BYTES {
        assert!(checked.is_err());
        return;
    }
    let want = Bearer {
        signer: didkey::did_key(&key.verifying_key()),
        actor: actor.map(str::to_owned),
        expires_ms: NOW + ttl,
    };
    assert_eq!(
        checked,
        Ok(want),
        "a fresh token for {audience:?} / {actor:?}"
    );
});
