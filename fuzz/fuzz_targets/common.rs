//! Shared by the targets (each includes it with `#[path]`): fixed keys and small helpers.

#![allow(dead_code)]

use ed25519_dalek::SigningKey;

/// A fixed signing key: the targets sign what the fuzzer gives them and check it back.
pub fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

/// The input as text, if it is UTF-8.
pub fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}
