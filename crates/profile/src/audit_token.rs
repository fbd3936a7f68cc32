//! Audit tokens: how a certifier (or a registrar) proves, for a few minutes, that it holds a
//! registered key, without a password or a session.
//!
//! A token is a small JSON document signed like every event, with a W3C Data Integrity proof
//! (`eddsa-jcs-2022`):
//!
//! ```json
//! {"type": "lotline:AuditToken", "audience": "<the log's origin>", "actor": "<certifier id>",
//!  "issued": "2026-11-21T10:00:00Z", "expires": "2026-11-21T10:10:00Z", "proof": {…}}
//! ```
//!
//! sent base64url-encoded (no padding) as `Authorization: Bearer <token>` (or, for a page opened
//! in a browser, `?access_token=<token>`). `audience` binds it to one ledger, so a token made
//! for one cannot be replayed at another; it lives at most [`MAX_LIFETIME_MS`]. `actor` is
//! optional: the key names its actor; when present it must agree (registrar keys belong to no
//! actor and leave it out). Which actor the key belongs to, whether the key is still valid and
//! what the actor may see is decided by the server from the ledger's state, not here.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use serde_json::{Value, json};

use super::profile::format_time_ms;
use data_integrity::{di, jcs, json as strict};

pub const TOKEN_TYPE: &str = "lotline:AuditToken";
/// The longest a token may live: tokens are short-lived by design, so a leaked one is soon
/// worthless and a revoked key soon stops working everywhere.
pub const MAX_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// How far a token's `issued` may lie ahead of the server's clock.
pub const CLOCK_SKEW_MS: i64 = 2 * 60 * 1000;
/// The largest encoded token accepted.
pub const MAX_TOKEN_BYTES: usize = 4096;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bearer {
    /// The `did:key` that signed it.
    pub signer: String,
    /// The actor it names, if any.
    pub actor: Option<String>,
    pub expires_ms: i64,
}

/// A token for `audience` signed with `key`, valid from `now_ms` for `ttl_ms`.
pub fn create(
    key: &SigningKey,
    audience: &str,
    actor: Option<&str>,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<String, String> {
    if ttl_ms <= 0 || ttl_ms > MAX_LIFETIME_MS {
        return Err(format!(
            "a token lives between 1 ms and {} minutes",
            MAX_LIFETIME_MS / 60_000
        ));
    }
    let issued = format_time_ms(now_ms);
    let mut doc = json!({
        "type": TOKEN_TYPE,
        "audience": audience,
        "issued": issued,
        "expires": format_time_ms(now_ms + ttl_ms),
    });
    if let Some(a) = actor {
        doc["actor"] = json!(a);
    }
    let signed = di::sign(&doc, key, &issued).map_err(|e| e.to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(jcs::canonicalize(&signed)))
}

/// Checks `token` for `audience` at `now_ms`: its form, its lifetime and its signature. Every
/// refusal says what to do about it.
pub fn check(token: &str, audience: &str, now_ms: i64) -> Result<Bearer, String> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "the token is longer than {MAX_TOKEN_BYTES} characters"
        ));
    }
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| "the token is not base64url (without padding)".to_owned())?;
    let doc = strict::parse(&bytes, &strict::Limits::default())
        .map_err(|e| format!("the token is not a JSON document: {e}"))?;
    let field = |k: &str| doc.get(k).and_then(Value::as_str);
    if field("type") != Some(TOKEN_TYPE) {
        return Err(format!("the token's type must be {TOKEN_TYPE:?}"));
    }
    if let Some(o) = doc.as_object()
        && let Some(k) = o.keys().find(|k| {
            !matches!(
                k.as_str(),
                "type" | "audience" | "actor" | "issued" | "expires" | "proof"
            )
        })
    {
        return Err(format!("the token has an unknown member {k:?}"));
    }
    if field("audience") != Some(audience) {
        return Err(format!(
            "the token is for {:?}, not this ledger ({audience:?}); make one with --server pointing here",
            field("audience").unwrap_or("no audience")
        ));
    }
    let time = |k: &str| {
        field(k)
            .and_then(super::profile::parse_time_ms)
            .ok_or_else(|| format!("the token's {k} is not an RFC 3339 date-time"))
    };
    let (issued, expires) = (time("issued")?, time("expires")?);
    if expires <= issued || expires - issued > MAX_LIFETIME_MS {
        return Err(format!(
            "a token may live at most {} minutes",
            MAX_LIFETIME_MS / 60_000
        ));
    }
    if issued > now_ms + CLOCK_SKEW_MS {
        return Err(
            "the token was issued in the future; check the clock of the machine that made it"
                .into(),
        );
    }
    if now_ms >= expires {
        return Err("the token has expired; make a new one".into());
    }
    let actor = match doc.get("actor") {
        None => None,
        Some(Value::String(a)) => Some(a.clone()),
        Some(_) => return Err("the token's actor must be an actor id".into()),
    };
    let verified =
        di::verify(&doc).map_err(|e| format!("the token's signature does not verify: {e}"))?;
    Ok(Bearer {
        signer: verified.did,
        actor,
        expires_ms: expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use data_integrity::didkey;

    const NOW: i64 = 1_795_000_000_000;

    #[test]
    fn a_token_checks_for_its_audience_within_its_lifetime() {
        let key = didkey::generate().unwrap();
        let t = create(&key, "example.org/log", Some("urn:cb"), NOW, 600_000).unwrap();
        let b = check(&t, "example.org/log", NOW + 1000).unwrap();
        assert_eq!(b.signer, didkey::did_key(&key.verifying_key()));
        assert_eq!(b.actor.as_deref(), Some("urn:cb"));
        assert!(
            check(&t, "other.org/log", NOW)
                .unwrap_err()
                .contains("not this ledger")
        );
        assert!(
            check(&t, "example.org/log", NOW + 600_000)
                .unwrap_err()
                .contains("expired")
        );
        assert!(
            check(&t, "example.org/log", NOW - 10 * 60_000)
                .unwrap_err()
                .contains("future")
        );
        assert!(create(&key, "a", None, NOW, MAX_LIFETIME_MS + 1).is_err());
    }

    #[test]
    fn altered_or_malformed_tokens_are_refused() {
        let key = didkey::generate().unwrap();
        let t = create(&key, "log", None, NOW, 60_000).unwrap();
        let mut doc: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&t).unwrap()).unwrap();
        doc["expires"] = json!(format_time_ms(NOW + 50 * 60_000));
        let forged = URL_SAFE_NO_PAD.encode(jcs::canonicalize(&doc));
        assert!(
            check(&forged, "log", NOW)
                .unwrap_err()
                .contains("signature")
        );
        for bad in ["", "!!", "e30", &"A".repeat(MAX_TOKEN_BYTES + 1)] {
            assert!(check(bad, "log", NOW).is_err(), "{bad:?}");
        }
    }
}
