//! W3C Data Integrity proofs with the `eddsa-jcs-2022` cryptosuite
//! (W3C VC Data Integrity EdDSA Cryptosuites v1.0, §3.3).
//!
//! Ledger entries are JSON documents that their author signs before
//! submitting; anyone holding an entry can check who wrote it without trusting
//! the ledger. A proof is
//! `{type: DataIntegrityProof, cryptosuite: eddsa-jcs-2022, created,
//! verificationMethod: did:key:X#X, proofPurpose: assertionMethod, proofValue}`
//! and the signed bytes are SHA-256(JCS(proof without proofValue)) ‖
//! SHA-256(JCS(document without proof)).
//!
//! Only single proofs by `did:key` Ed25519 keys are supported; everything
//! else is refused with [`DiError::Unsupported`] so the HTTP layer can answer
//! `unsupported_proof` rather than "bad signature".

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::didkey::{self, DidKeyError, excerpt};
use super::jcs::{assemble_object, canonicalize};

/// The only proof `type` produced and accepted.
pub const PROOF_TYPE: &str = "DataIntegrityProof";
/// The only cryptosuite produced and accepted.
pub const CRYPTOSUITE: &str = "eddsa-jcs-2022";
/// The only proof purpose produced and accepted: the ledger records
/// assertions by their authors, nothing else.
pub const PROOF_PURPOSE: &str = "assertionMethod";

/// Longest `proofValue` we agree to decode: a 64-byte signature is at most 88
/// base58 characters, and base58 decoding is quadratic in the input length.
const MAX_PROOF_VALUE_CHARS: usize = 128;

/// What a valid proof says about its signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signer's `did:key:z6Mk…`.
    pub did: String,
    /// The signer's public key (the one inside `did`).
    pub key: VerifyingKey,
    /// The proof's `created` timestamp as written, if it had one. It is
    /// signed, but only claimed by the signer, not attested by anyone.
    pub created: Option<String>,
}

/// Why a document could not be signed, or why its proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum DiError {
    #[error("the document must be a JSON object, found {found}")]
    NotAnObject { found: &'static str },

    #[error(
        "the document already has a \"proof\"; sign the unsecured document (adding a second proof is not supported)"
    )]
    AlreadyHasProof,

    #[error("the document has no \"proof\" member, so it is not signed")]
    MissingProof,

    #[error("the document's \"proof\" must be a JSON object, found {found}")]
    ProofNotAnObject { found: &'static str },

    #[error("the proof has no \"{field}\" member")]
    MissingProofField { field: &'static str },

    #[error("the proof's \"{field}\" must be a string, found {found}")]
    ProofFieldNotString {
        field: &'static str,
        found: &'static str,
    },

    /// A proof of a kind this ledger does not handle (another type,
    /// cryptosuite or purpose, or a set of several proofs).
    #[error("unsupported proof: {field} is {found}, but only {expected} is supported")]
    Unsupported {
        field: &'static str,
        found: String,
        expected: &'static str,
    },

    #[error(
        "proof \"created\" {found:?} is not an XML Schema dateTimeStamp (RFC 3339 date-time with a time zone, e.g. 2024-05-01T12:00:00Z)"
    )]
    InvalidCreated { found: String },

    #[error("proof verificationMethod {found:?} is not an Ed25519 did:key:X#X")]
    InvalidVerificationMethod {
        found: String,
        #[source]
        source: DidKeyError,
    },

    #[error("the proof's proofValue is not an Ed25519 signature")]
    InvalidProofValue(#[source] ProofValueError),

    #[error("the document's @context {document} does not start with the proof's @context {proof}")]
    ContextMismatch { document: String, proof: String },

    #[error(
        "the signature does not verify: the document or its proof changed after signing, or another key signed it"
    )]
    BadSignature,
}

/// Why a `proofValue` is not a multibase-encoded Ed25519 signature.
#[derive(Debug, thiserror::Error)]
pub enum ProofValueError {
    #[error("it must be multibase base58btc, i.e. start with 'z', but starts with {found:?}")]
    NotBase58btc { found: Option<char> },

    #[error("it is {found} bytes long; a base58btc Ed25519 signature has at most {max}")]
    TooLong { found: usize, max: usize },

    #[error("it is not valid base58btc")]
    Base58(#[source] bs58::decode::Error),

    #[error("it decodes to {found} bytes; an Ed25519 signature has 64")]
    WrongLength { found: usize },
}

/// Signs `document` with `key`, returning it with a `proof` member added.
///
/// `created` must be an RFC 3339 / XML Schema dateTimeStamp; it is signed as
/// given. The document's `@context`, if any, is copied into the proof as the
/// specification requires.
pub fn sign(document: &Value, key: &SigningKey, created: &str) -> Result<Value, DiError> {
    let Value::Object(doc) = document else {
        return Err(DiError::NotAnObject {
            found: json_kind(document),
        });
    };
    if doc.contains_key("proof") {
        return Err(DiError::AlreadyHasProof);
    }
    check_created(created)?;

    let mut options = Map::new();
    options.insert("type".into(), PROOF_TYPE.into());
    options.insert("cryptosuite".into(), CRYPTOSUITE.into());
    options.insert("created".into(), created.into());
    options.insert(
        "verificationMethod".into(),
        didkey::verification_method(&key.verifying_key()).into(),
    );
    options.insert("proofPurpose".into(), PROOF_PURPOSE.into());
    if let Some(context) = doc.get("@context") {
        options.insert("@context".into(), context.clone());
    }

    let hash = hash_data(&options, &canonicalize(document));
    let signature = key.sign(&hash);
    let proof_value = format!("z{}", bs58::encode(signature.to_bytes()).into_string());
    options.insert("proofValue".into(), proof_value.into());

    let mut secured = doc.clone();
    secured.insert("proof".into(), Value::Object(options));
    Ok(Value::Object(secured))
}

/// Verifies a document secured with one `eddsa-jcs-2022` proof by a
/// `did:key`, returning who signed it.
pub fn verify(secured: &Value) -> Result<Verified, DiError> {
    verify_with_canonical(secured).map(|(verified, _)| verified)
}

/// Like [`verify`], and also returns the JCS canonical forms of the unsecured
/// document exactly as it was hashed and of the whole secured document, so a
/// caller storing or hashing the entry need not canonicalize it again.
///
/// Follows the specification's verification algorithm: when the proof has an
/// `@context`, the document's `@context` must start with the same values in
/// the same order, and the proof's `@context` then replaces the document's
/// for hashing.
pub fn verify_with_canonical(secured: &Value) -> Result<(Verified, Canonical), DiError> {
    let Value::Object(secured) = secured else {
        return Err(DiError::NotAnObject {
            found: json_kind(secured),
        });
    };
    let proof = match secured.get("proof") {
        None => return Err(DiError::MissingProof),
        Some(Value::Object(proof)) => proof,
        Some(Value::Array(proofs)) => {
            return Err(DiError::Unsupported {
                field: "proof",
                found: format!("an array of {} proofs (a proof set or chain)", proofs.len()),
                expected: "a single proof object",
            });
        }
        Some(other) => {
            return Err(DiError::ProofNotAnObject {
                found: json_kind(other),
            });
        }
    };

    // The proof options are the proof without its value; they are read in place, not copied.
    let options = proof;
    let proof_value = proof.get("proofValue");

    expect_value(options, "type", PROOF_TYPE)?;
    expect_value(options, "cryptosuite", CRYPTOSUITE)?;
    expect_value(options, "proofPurpose", PROOF_PURPOSE)?;

    let method = string_field(options, "verificationMethod")?;
    let (did, key) = didkey::parse_verification_method(method).map_err(|source| {
        DiError::InvalidVerificationMethod {
            found: excerpt(method),
            source,
        }
    })?;

    let created = match options.get("created") {
        None => None,
        Some(_) => {
            let created = string_field(options, "created")?;
            check_created(created)?;
            Some(created.to_owned())
        }
    };

    let signature = match proof_value {
        None => {
            return Err(DiError::MissingProofField {
                field: "proofValue",
            });
        }
        Some(Value::String(s)) => decode_proof_value(s).map_err(DiError::InvalidProofValue)?,
        Some(other) => {
            return Err(DiError::ProofFieldNotString {
                field: "proofValue",
                found: json_kind(other),
            });
        }
    };

    // The unsecured document is the secured one without `proof` (and with the proof's
    // @context, if it has one). Both canonical forms are assembled from the members'
    // canonical bytes, computed once into one buffer; nothing is copied.
    let mut bytes = Vec::with_capacity(2048);
    let spans: Vec<(&str, std::ops::Range<usize>)> = secured
        .iter()
        .map(|(k, v)| {
            let start = bytes.len();
            crate::jcs::write_canonical(v, &mut bytes);
            (k.as_str(), start..bytes.len())
        })
        .collect();
    let members: Vec<(&str, &[u8])> = spans.iter().map(|(k, r)| (*k, &bytes[r.clone()])).collect();
    let proof_context = match options.get("@context") {
        Some(proof_context) => {
            let document_context = secured.get("@context");
            let document_list = document_context.map(as_list).unwrap_or_default();
            if !document_list.starts_with(as_list(proof_context)) {
                return Err(DiError::ContextMismatch {
                    document: document_context.map_or_else(|| "(none)".to_owned(), compact_json),
                    proof: compact_json(proof_context),
                });
            }
            Some(canonicalize(proof_context))
        }
        None => None,
    };
    let mut unsecured: Vec<(&str, &[u8])> = members
        .iter()
        .filter(|(k, _)| *k != "proof" && !(*k == "@context" && proof_context.is_some()))
        .copied()
        .collect();
    if let Some(c) = &proof_context {
        unsecured.push(("@context", c));
    }
    let canonical = assemble_object(&mut unsecured);
    let hash = hash_data(options, &canonical);
    // Strict: non-canonical S, small-order R and weak keys are refused, so a
    // signature cannot be mangled into a second valid one.
    if !crate::ed25519::verify_strict(&key, &hash, &signature) {
        return Err(DiError::BadSignature);
    }

    let mut all = members;
    let secured_canonical = assemble_object(&mut all);
    Ok((
        Verified { did, key, created },
        Canonical {
            unsecured: canonical,
            secured: secured_canonical,
        },
    ))
}

/// The canonical (RFC 8785) bytes [`verify_with_canonical`] computed on the way.
pub struct Canonical {
    /// The document as signed: without its proof.
    pub unsecured: Vec<u8>,
    /// The whole secured document, proof included.
    pub secured: Vec<u8>,
}

/// hashData of the specification: SHA-256(JCS(proof options)) ‖
/// SHA-256(JCS(document)); the proof hash comes first.
/// `proof` is the whole proof: its `proofValue` is left out here.
fn hash_data(proof: &Map<String, Value>, canonical_document: &[u8]) -> [u8; 64] {
    let mut canonical_options = Vec::with_capacity(512);
    crate::jcs::write_object_without(proof, Some("proofValue"), &mut canonical_options);
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&Sha256::digest(canonical_options));
    out[32..].copy_from_slice(&Sha256::digest(canonical_document));
    out
}

fn decode_proof_value(value: &str) -> Result<Signature, ProofValueError> {
    let Some(body) = value.strip_prefix('z') else {
        return Err(ProofValueError::NotBase58btc {
            found: value.chars().next(),
        });
    };
    if value.len() > MAX_PROOF_VALUE_CHARS {
        return Err(ProofValueError::TooLong {
            found: value.len(),
            max: MAX_PROOF_VALUE_CHARS,
        });
    }
    if let Some(bytes) = base58_64(body) {
        return Ok(Signature::from_bytes(&bytes));
    }
    // Anything but a 64-byte value: bs58 names what is wrong.
    let bytes = bs58::decode(body)
        .into_vec()
        .map_err(ProofValueError::Base58)?;
    let bytes: [u8; 64] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| ProofValueError::WrongLength { found: bytes.len() })?;
    Ok(Signature::from_bytes(&bytes))
}

/// Decodes base58btc (the Bitcoin alphabet) that spells exactly 64 bytes, as `bs58` would;
/// `None` for anything else (a bad character, another length).
///
/// Every event's signature is decoded on admission and by every verifier, and `bs58` multiplies
/// its whole output by 58 one byte at a time for each character (about 5,600 byte steps for a
/// signature). This works on 32-bit limbs, five characters at a time (58^5 < 2^32).
fn base58_64(text: &str) -> Option<[u8; 64]> {
    const ALPHABET: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    const DIGIT: [u8; 128] = {
        let mut t = [0xff; 128];
        let mut i = 0;
        while i < 58 {
            t[ALPHABET[i] as usize] = i as u8;
            i += 1;
        }
        t
    };
    let text = text.as_bytes();
    // Each leading '1' is a leading zero byte; 64 bytes take at most 88 characters.
    if text.len() > 88 {
        return None;
    }
    let zeros = text.iter().take_while(|&&c| c == b'1').count();
    // Little-endian 32-bit limbs; one spare limb catches a value over 64 bytes.
    let mut limbs = [0u32; 17];
    for chunk in text[zeros..].chunks(5) {
        let (mut scale, mut add) = (1u64, 0u64);
        for &c in chunk {
            let d = *DIGIT.get(c as usize)?;
            if d == 0xff {
                return None;
            }
            scale *= 58;
            add = add * 58 + u64::from(d);
        }
        let mut carry = add;
        for limb in &mut limbs {
            let t = u64::from(*limb) * scale + carry;
            *limb = t as u32;
            carry = t >> 32;
        }
        if carry != 0 {
            return None;
        }
    }
    let mut out = [0u8; 64];
    for (i, limb) in limbs[..16].iter().enumerate() {
        out[60 - 4 * i..64 - 4 * i].copy_from_slice(&limb.to_be_bytes());
    }
    // bs58 gives `zeros` zero bytes, then the value without leading zeros: 64 bytes only if the
    // value's own length is exactly 64 − zeros.
    let significant = 64 - out.iter().take_while(|&&b| b == 0).count();
    (limbs[16] == 0 && zeros + significant == 64).then_some(out)
}

/// The proof creation time must be an XML Schema `dateTimeStamp`: an RFC 3339
/// date-time whose separator is an upper-case `T` and whose UTC marker is an
/// upper-case `Z` (RFC 3339, and the `time` parser, also accept `t`, `z` and
/// a space). Years are limited to four digits, as RFC 3339 requires.
fn check_created(created: &str) -> Result<(), DiError> {
    let valid = created.get(10..11) == Some("T")
        && !created.contains('z')
        && OffsetDateTime::parse(created, &Rfc3339).is_ok();
    if valid {
        Ok(())
    } else {
        Err(DiError::InvalidCreated {
            found: excerpt(created),
        })
    }
}

fn string_field<'a>(
    options: &'a Map<String, Value>,
    field: &'static str,
) -> Result<&'a str, DiError> {
    match options.get(field) {
        None => Err(DiError::MissingProofField { field }),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(DiError::ProofFieldNotString {
            field,
            found: json_kind(other),
        }),
    }
}

fn expect_value(
    options: &Map<String, Value>,
    field: &'static str,
    expected: &'static str,
) -> Result<(), DiError> {
    match options.get(field) {
        None => Err(DiError::MissingProofField { field }),
        Some(Value::String(s)) if s == expected => Ok(()),
        Some(other) => Err(DiError::Unsupported {
            field,
            found: compact_json(other),
            expected,
        }),
    }
}

/// A JSON-LD `@context` is a single value or an array of them.
fn as_list(context: &Value) -> &[Value] {
    match context {
        Value::Array(items) => items,
        single => std::slice::from_ref(single),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn compact_json(v: &Value) -> String {
    excerpt(&v.to_string())
}

#[cfg(test)]
mod tests {
    use super::didkey::hex;
    use super::*;
    use serde_json::json;

    /// What `bs58` makes of `text`, when that is 64 bytes.
    fn bs58_64(text: &str) -> Option<[u8; 64]> {
        bs58::decode(text).into_vec().ok()?.try_into().ok()
    }

    proptest::proptest! {
        #[test]
        fn base58_64_decodes_as_bs58_does(
            mut bytes in proptest::prelude::any::<[u8; 64]>(),
            zeros in 0usize..66,
            edit in 0usize..100,
            to in 0u8..128,
        ) {
            bytes[..zeros.min(64)].fill(0);
            let text = bs58::encode(bytes).into_string();
            proptest::prop_assert_eq!(base58_64(&text), Some(bytes));
            // Any one character changed, dropped or added.
            let mut edited = text.clone().into_bytes();
            match edit % 3 {
                0 => edited[edit % text.len()] = to,
                1 => { edited.remove(edit % text.len()); }
                _ => edited.insert(edit % (text.len() + 1), to),
            }
            if let Ok(edited) = String::from_utf8(edited) {
                proptest::prop_assert_eq!(base58_64(&edited), bs58_64(&edited), "{}", edited);
            }
            // A value one character longer overflows 64 bytes, or is over 64 with zeros.
            for extra in ["1", "z", "2"] {
                let longer = format!("{extra}{text}");
                proptest::prop_assert_eq!(base58_64(&longer), bs58_64(&longer));
                let longer = format!("{text}{extra}");
                proptest::prop_assert_eq!(base58_64(&longer), bs58_64(&longer));
            }
        }
    }

    #[test]
    fn base58_64_edges() {
        for text in [
            "",
            "1",
            &"1".repeat(64),
            &"1".repeat(65),
            &"z".repeat(88),
            &"z".repeat(87),
        ] {
            assert_eq!(base58_64(text), bs58_64(text), "{text:?}");
        }
        let max = bs58::encode([0xff; 64]).into_string();
        assert_eq!(base58_64(&max), Some([0xff; 64]));
        assert_eq!(base58_64("0OIl"), None);
        // Not ASCII: a character outside the alphabet, whatever its bytes.
        let mut text = max.clone();
        text.insert(40, 'é');
        assert_eq!(base58_64(&text), None);
        assert_eq!(bs58_64(&text), None);
    }

    const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors/");
    const CREATED: &str = "2023-02-24T23:36:38Z";

    fn read(name: &str) -> String {
        let path = format!("{VECTORS}{name}");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    fn read_json(name: &str) -> Value {
        serde_json::from_str(&read(name)).expect("vector is JSON")
    }

    fn unhex(s: &str) -> Vec<u8> {
        assert!(s.len().is_multiple_of(2), "odd hex length");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn vector_key() -> SigningKey {
        let pair = read_json("eddsa-jcs-2022/keyPair.json");
        didkey::parse_secret_multibase(pair["privateKeyMultibase"].as_str().unwrap()).unwrap()
    }

    fn signed_vector() -> Value {
        read_json("eddsa-jcs-2022/signedJCS.json")
    }

    fn unsigned_vector() -> Value {
        let mut doc = signed_vector();
        doc.as_object_mut().unwrap().remove("proof");
        doc
    }

    fn proof_options_vector() -> Map<String, Value> {
        let mut proof = signed_vector()["proof"].as_object().unwrap().clone();
        proof.remove("proofValue");
        proof
    }

    /// Replaces the proof's signature with `signature` encoded as proofValue.
    fn with_signature(mut doc: Value, signature: &[u8]) -> Value {
        doc["proof"]["proofValue"] = format!("z{}", bs58::encode(signature).into_string()).into();
        doc
    }

    fn vector_signature() -> Vec<u8> {
        unhex(read("eddsa-jcs-2022/sigHexJCS.txt").trim())
    }

    #[test]
    fn canonical_forms_and_hashes_match_vectors() {
        let options = Value::Object(proof_options_vector());
        let canonical_options = canonicalize(&options);
        assert_eq!(
            canonical_options,
            read("eddsa-jcs-2022/proofCanonJCS.txt").trim().as_bytes()
        );
        assert_eq!(
            serde_json::from_slice::<Value>(&canonical_options).unwrap(),
            read_json("eddsa-jcs-2022/proofConfigJCS.json")
        );
        assert_eq!(
            hex(&Sha256::digest(&canonical_options)),
            read("eddsa-jcs-2022/proofHashJCS.txt").trim()
        );

        let canonical_doc = canonicalize(&unsigned_vector());
        assert_eq!(
            canonical_doc,
            read("eddsa-jcs-2022/canonDocJCS.txt").trim().as_bytes()
        );
        assert_eq!(
            hex(&Sha256::digest(&canonical_doc)),
            read("eddsa-jcs-2022/docHashJCS.txt").trim()
        );

        let combined = hash_data(&proof_options_vector(), &canonical_doc);
        assert_eq!(
            hex(&combined),
            read("eddsa-jcs-2022/combinedHashJCS.txt").trim()
        );
        let signature = vector_key().sign(&combined);
        assert_eq!(
            hex(&signature.to_bytes()),
            read("eddsa-jcs-2022/sigHexJCS.txt").trim()
        );
        assert_eq!(
            format!("z{}", bs58::encode(signature.to_bytes()).into_string()),
            read("eddsa-jcs-2022/sigBTC58JCS.txt").trim()
        );
    }

    #[test]
    fn signing_reproduces_the_vector() {
        let signed = sign(&unsigned_vector(), &vector_key(), CREATED).unwrap();
        assert_eq!(signed, signed_vector());
    }

    #[test]
    fn vector_verifies() {
        let (verified, canonical) = verify_with_canonical(&signed_vector()).unwrap();
        let pair = read_json("eddsa-jcs-2022/keyPair.json");
        let public = pair["publicKeyMultibase"].as_str().unwrap();
        assert_eq!(verified.did, format!("did:key:{public}"));
        assert_eq!(verified.key, vector_key().verifying_key());
        assert_eq!(verified.created.as_deref(), Some(CREATED));
        assert_eq!(canonical.unsecured, canonicalize(&unsigned_vector()));
        assert_eq!(canonical.secured, canonicalize(&signed_vector()));
        assert_eq!(verify(&signed_vector()).unwrap(), verified);
    }

    #[test]
    fn sign_then_verify_without_context_or_created_checks() {
        let key = SigningKey::from_bytes(&[42; 32]);
        let doc =
            json!({"eventType": "ObjectEvent", "quantity": 25, "nested": {"b": [1, 2], "a": null}});
        let signed = sign(&doc, &key, "2024-05-01T12:00:00.123+07:00").unwrap();
        assert!(signed["proof"].get("@context").is_none());
        let verified = verify(&signed).unwrap();
        assert_eq!(verified.key, key.verifying_key());
        assert_eq!(verified.did, didkey::did_key(&key.verifying_key()));

        // `created` is optional on verification.
        let mut no_created = doc.clone();
        let mut options = Map::new();
        options.insert("type".into(), PROOF_TYPE.into());
        options.insert("cryptosuite".into(), CRYPTOSUITE.into());
        options.insert(
            "verificationMethod".into(),
            didkey::verification_method(&key.verifying_key()).into(),
        );
        options.insert("proofPurpose".into(), PROOF_PURPOSE.into());
        let sig = key.sign(&hash_data(&options, &canonicalize(&doc)));
        options.insert(
            "proofValue".into(),
            format!("z{}", bs58::encode(sig.to_bytes()).into_string()).into(),
        );
        no_created["proof"] = Value::Object(options);
        assert_eq!(verify(&no_created).unwrap().created, None);
    }

    #[test]
    fn sign_refuses_bad_input() {
        let key = vector_key();
        assert!(matches!(
            sign(&json!([1]), &key, CREATED),
            Err(DiError::NotAnObject { found: "an array" })
        ));
        assert!(matches!(
            sign(&signed_vector(), &key, CREATED),
            Err(DiError::AlreadyHasProof)
        ));
        for created in [
            "2023-02-24",
            "2023-02-24T23:36:38",
            "2023-02-24 23:36:38Z",
            "2023-02-24t23:36:38z",
            "2023-02-30T00:00:00Z",
            "yesterday",
        ] {
            assert!(
                matches!(
                    sign(&json!({}), &key, created),
                    Err(DiError::InvalidCreated { .. })
                ),
                "{created}"
            );
        }
    }

    #[test]
    fn created_accepts_rfc3339_forms() {
        let key = vector_key();
        for created in [
            "2023-02-24T23:36:38Z",
            "2023-02-24T23:36:38.123456Z",
            "2023-02-24T23:36:38+07:00",
            "2023-02-24T23:36:38-00:30",
        ] {
            let signed = sign(&json!({}), &key, created).unwrap();
            assert_eq!(verify(&signed).unwrap().created.as_deref(), Some(created));
        }
    }

    #[test]
    fn changed_document_is_rejected() {
        let mut doc = signed_vector();
        doc["credentialSubject"]["alumniOf"] = "Another School".into();
        assert!(matches!(verify(&doc), Err(DiError::BadSignature)));

        let mut doc = signed_vector();
        doc["extra"] = true.into();
        assert!(matches!(verify(&doc), Err(DiError::BadSignature)));
    }

    #[test]
    fn changed_proof_is_rejected() {
        let mut doc = signed_vector();
        doc["proof"]["created"] = "2023-02-24T23:36:39Z".into();
        assert!(matches!(verify(&doc), Err(DiError::BadSignature)));

        let other = SigningKey::from_bytes(&[9; 32]).verifying_key();
        let mut doc = signed_vector();
        doc["proof"]["verificationMethod"] = didkey::verification_method(&other).into();
        assert!(matches!(verify(&doc), Err(DiError::BadSignature)));

        // Extra proof members are signed too.
        let mut doc = signed_vector();
        doc["proof"]["nonce"] = "abc".into();
        assert!(matches!(verify(&doc), Err(DiError::BadSignature)));
    }

    #[test]
    fn flipped_signature_bits_are_rejected() {
        let signature = vector_signature();
        for bit in [0, 7, 255, 256, 300, 511] {
            let mut sig = signature.clone();
            sig[bit / 8] ^= 1 << (bit % 8);
            let doc = with_signature(signed_vector(), &sig);
            assert!(
                matches!(verify(&doc), Err(DiError::BadSignature)),
                "bit {bit}"
            );
        }
    }

    #[test]
    fn non_canonical_s_is_rejected() {
        // The group order L, little-endian.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut sig = vector_signature();
        let mut carry = 0u16;
        for (s, l) in sig[32..].iter_mut().zip(L) {
            let sum = u16::from(*s) + u16::from(l) + carry;
            *s = sum as u8;
            carry = sum >> 8;
        }
        assert_eq!(carry, 0, "S + L fits in 32 bytes");
        let doc = with_signature(signed_vector(), &sig);
        assert!(matches!(verify(&doc), Err(DiError::BadSignature)));
    }

    #[test]
    fn unsupported_proofs_are_reported_as_such() {
        for (field, value) in [
            ("cryptosuite", json!("eddsa-rdfc-2022")),
            ("type", json!("Ed25519Signature2020")),
            ("proofPurpose", json!("authentication")),
            ("cryptosuite", json!(["eddsa-jcs-2022"])),
        ] {
            let mut doc = signed_vector();
            doc["proof"][field] = value;
            match verify(&doc) {
                Err(DiError::Unsupported { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let mut doc = signed_vector();
        let proof = doc["proof"].clone();
        doc["proof"] = json!([proof.clone(), proof]);
        let err = verify(&doc).unwrap_err();
        assert!(matches!(err, DiError::Unsupported { field: "proof", .. }));
        assert!(err.to_string().contains("2 proofs"), "{err}");
    }

    #[test]
    fn malformed_proofs_get_precise_errors() {
        assert!(matches!(
            verify(&json!("text")),
            Err(DiError::NotAnObject { found: "a string" })
        ));
        assert!(matches!(
            verify(&unsigned_vector()),
            Err(DiError::MissingProof)
        ));

        let mut doc = signed_vector();
        doc["proof"] = json!("z123");
        assert!(matches!(
            verify(&doc),
            Err(DiError::ProofNotAnObject { .. })
        ));

        for field in [
            "type",
            "cryptosuite",
            "proofPurpose",
            "verificationMethod",
            "proofValue",
        ] {
            let mut doc = signed_vector();
            doc["proof"].as_object_mut().unwrap().remove(field);
            match verify(&doc) {
                Err(DiError::MissingProofField { field: f }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }

        let mut doc = signed_vector();
        doc["proof"]["verificationMethod"] = json!(7);
        assert!(matches!(
            verify(&doc),
            Err(DiError::ProofFieldNotString {
                field: "verificationMethod",
                ..
            })
        ));

        let mut doc = signed_vector();
        doc["proof"]["created"] = json!("24 Feb 2023");
        assert!(matches!(verify(&doc), Err(DiError::InvalidCreated { .. })));
        doc["proof"]["created"] = json!(1677281798);
        assert!(matches!(
            verify(&doc),
            Err(DiError::ProofFieldNotString {
                field: "created",
                ..
            })
        ));
    }

    #[test]
    fn verification_method_must_be_a_did_key() {
        let vm = signed_vector()["proof"]["verificationMethod"].clone();
        let vm = vm.as_str().unwrap();
        let (did, fragment) = vm.split_once('#').unwrap();
        for bad in [
            "did:web:example.com#key-1".to_owned(),
            did.to_owned(),
            format!("{did}#key-1"),
            format!("did:key:{}", &fragment[..fragment.len() - 1]),
        ] {
            let mut doc = signed_vector();
            doc["proof"]["verificationMethod"] = bad.clone().into();
            assert!(
                matches!(verify(&doc), Err(DiError::InvalidVerificationMethod { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn proof_value_must_be_a_64_byte_base58btc_signature() {
        let signature = vector_signature();
        let mut doc = signed_vector();
        doc["proof"]["proofValue"] = format!("u{}", hex(&signature)).into();
        assert!(matches!(
            verify(&doc),
            Err(DiError::InvalidProofValue(ProofValueError::NotBase58btc {
                found: Some('u')
            }))
        ));
        doc["proof"]["proofValue"] = "z0OIl".into();
        assert!(matches!(
            verify(&doc),
            Err(DiError::InvalidProofValue(ProofValueError::Base58(_)))
        ));
        doc["proof"]["proofValue"] = format!("z{}", "2".repeat(200)).into();
        assert!(matches!(
            verify(&doc),
            Err(DiError::InvalidProofValue(ProofValueError::TooLong { .. }))
        ));
        let doc = with_signature(signed_vector(), &signature[..63]);
        assert!(matches!(
            verify(&doc),
            Err(DiError::InvalidProofValue(ProofValueError::WrongLength {
                found: 63
            }))
        ));
        let mut long = signature.clone();
        long.push(0);
        let doc = with_signature(signed_vector(), &long);
        assert!(matches!(
            verify(&doc),
            Err(DiError::InvalidProofValue(ProofValueError::WrongLength {
                found: 65
            }))
        ));
    }

    #[test]
    fn context_must_be_a_prefix() {
        // The document's context no longer starts with the proof's.
        let mut doc = signed_vector();
        doc["@context"] = json!(["https://www.w3.org/ns/credentials/v2"]);
        assert!(matches!(verify(&doc), Err(DiError::ContextMismatch { .. })));

        let mut doc = signed_vector();
        doc["@context"] = json!([
            "https://www.w3.org/ns/credentials/examples/v2",
            "https://www.w3.org/ns/credentials/v2"
        ]);
        assert!(matches!(verify(&doc), Err(DiError::ContextMismatch { .. })));

        let mut doc = signed_vector();
        doc.as_object_mut().unwrap().remove("@context");
        assert!(matches!(verify(&doc), Err(DiError::ContextMismatch { .. })));

        // As specified, contexts appended after the signed ones are not
        // covered: the proof's @context replaces the document's for hashing.
        let mut doc = signed_vector();
        doc["@context"]
            .as_array_mut()
            .unwrap()
            .push("https://example.com/extra".into());
        let (_, canonical) = verify_with_canonical(&doc).unwrap();
        // Hashed with the proof's @context; the secured form keeps the document's.
        assert_eq!(canonical.unsecured, canonicalize(&unsigned_vector()));
        assert_eq!(canonical.secured, canonicalize(&doc));

        // A single-string context is a one-element list.
        let key = SigningKey::from_bytes(&[8; 32]);
        let doc = json!({"@context": "https://www.w3.org/ns/credentials/v2", "a": 1});
        let signed = sign(&doc, &key, CREATED).unwrap();
        assert_eq!(signed["proof"]["@context"], doc["@context"]);
        verify(&signed).unwrap();
    }

    #[test]
    fn ed25519_dalek_test_vectors_verify_strictly() {
        let text = read("ed25519/TESTVECTORS");
        let mut count = 0;
        for (n, line) in text.lines().enumerate() {
            let fields: Vec<&str> = line.split(':').collect();
            assert_eq!(fields.len(), 5, "line {n}: {line}");
            let keypair = unhex(fields[0]);
            let public = unhex(fields[1]);
            let message = unhex(fields[2]);
            let sig_and_msg = unhex(fields[3]);
            assert_eq!(&sig_and_msg[64..], message.as_slice(), "line {n}");

            let sk = SigningKey::from_bytes(keypair[..32].try_into().unwrap());
            assert_eq!(sk.verifying_key().as_bytes(), &keypair[32..], "line {n}");
            assert_eq!(sk.verifying_key().as_bytes(), public.as_slice(), "line {n}");
            let vk = didkey::public_key_from_bytes(public.as_slice().try_into().unwrap())
                .unwrap_or_else(|e| panic!("line {n}: {e}"));

            let sig = sk.sign(&message);
            assert_eq!(&sig.to_bytes()[..], &sig_and_msg[..64], "line {n}");
            vk.verify_strict(&message, &sig)
                .unwrap_or_else(|e| panic!("line {n}: {e}"));
            // The check admission uses agrees, on the vector and on its message changed.
            assert!(
                crate::ed25519::verify_strict(&vk, &message, &sig),
                "line {n}"
            );
            let mut other = message.clone();
            other.push(0);
            assert!(
                !crate::ed25519::verify_strict(&vk, &other, &sig),
                "line {n}"
            );
            count += 1;
        }
        assert_eq!(count, 128);
    }

    #[test]
    fn rfc8032_section_7_1_vectors() {
        let cases = read_json("ed25519/rfc8032_section7_1.json");
        let cases = cases.as_array().unwrap();
        assert!(!cases.is_empty());
        for case in cases {
            let name = case["name"].as_str().unwrap();
            let field = |k: &str| unhex(case[k].as_str().unwrap());
            let sk = SigningKey::from_bytes(field("secret_key").as_slice().try_into().unwrap());
            assert_eq!(
                sk.verifying_key().as_bytes().as_slice(),
                field("public_key"),
                "{name}"
            );
            let message = field("message");
            let sig = sk.sign(&message);
            assert_eq!(sig.to_bytes().as_slice(), field("signature"), "{name}");
            sk.verifying_key()
                .verify_strict(&message, &sig)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let mut wrong = message.clone();
            wrong.push(0);
            assert!(
                sk.verifying_key().verify_strict(&wrong, &sig).is_err(),
                "{name}"
            );
        }
    }
}
