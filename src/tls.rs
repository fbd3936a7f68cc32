//! TLS for both sides, with rustls on the ring provider (never aws-lc-rs, which needs cmake and
//! minutes of C build): the client configuration every outgoing request uses (the public webpki
//! roots, plus an extra CA a deployment may run privately), the server configuration `lotline
//! serve` terminates TLS with (a PEM certificate chain and its private key), and the test that
//! tells a certificate problem from other network errors.
//!
//! Loading never panics: unreadable files, files without the expected PEM items and a key that
//! does not belong to the certificate are [`TlsError`]s that name the file.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the {what} {path}: {why}")]
    Read {
        what: &'static str,
        path: PathBuf,
        why: std::io::Error,
    },
    #[error("the {what} {path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate { what: &'static str, path: PathBuf },
    #[error("the {what} {path} is not valid PEM: {why}")]
    BadPem {
        what: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error(
        "the TLS key file {path} holds no private key (PEM: PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"
    )]
    NoKey { path: PathBuf },
    #[error("the TLS key file {key} is not the key of the certificate in {cert}")]
    KeyMismatch { cert: PathBuf, key: PathBuf },
    #[error("{what}: {why}")]
    Rejected { what: String, why: rustls::Error },
}

const CA_CERT: &str = "CA certificate file";
const CERT_CHAIN: &str = "TLS certificate file";
const KEY: &str = "TLS key file";

/// The one crypto provider: ring.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The extra CA certificate file set for this process (`--ca-cert`, `LOTLINE_CA_CERT`).
static EXTRA_CA: OnceLock<PathBuf> = OnceLock::new();

/// Trusts the CA certificates in `path` (PEM), besides the public roots, for every client this
/// process makes from now on ([`client_config`]). Set once, at start; a later call is ignored.
pub fn trust_extra_ca(path: PathBuf) {
    let _ = EXTRA_CA.set(path);
}

/// The client configuration of this process: the webpki roots and the CA set with
/// [`trust_extra_ca`], if any.
pub fn client_config() -> Result<Arc<ClientConfig>, TlsError> {
    client_config_with(EXTRA_CA.get().map(PathBuf::as_path))
}

/// A client configuration trusting the public webpki roots and every certificate in the PEM
/// file `extra_ca`, if given (a private CA).
pub fn client_config_with(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        for cert in certificates(CA_CERT, path)? {
            roots.add(cert).map_err(|why| TlsError::Rejected {
                what: format!("the {CA_CERT} {}", path.display()),
                why,
            })?;
        }
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|why| TlsError::Rejected {
            what: "TLS client".into(),
            why,
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The server configuration for a certificate chain (PEM, the server's certificate first) and
/// its private key (PEM: PKCS#8, PKCS#1 or SEC1). No client certificates are asked for.
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<ServerConfig, TlsError> {
    let chain = certificates(CERT_CHAIN, cert_file)?;
    let bytes = read(KEY, key_file)?;
    let key = match PrivateKeyDer::from_pem_slice(&bytes) {
        Ok(k) => k,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey {
                path: key_file.to_owned(),
            });
        }
        Err(e) => {
            return Err(TlsError::BadPem {
                what: KEY,
                path: key_file.to_owned(),
                why: e.to_string(),
            });
        }
    };
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(chain, key))
        .map_err(|why| match why {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                cert: cert_file.to_owned(),
                key: key_file.to_owned(),
            },
            why => TlsError::Rejected {
                what: format!(
                    "the TLS certificate {} with the key {}",
                    cert_file.display(),
                    key_file.display()
                ),
                why,
            },
        })
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|why| TlsError::Read {
        what,
        path: path.to_owned(),
        why,
    })
}

/// Every certificate of the PEM file at `path`; at least one.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadPem {
            what,
            path: path.to_owned(),
            why: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            what,
            path: path.to_owned(),
        });
    }
    Ok(certs)
}

/// The TLS problem behind a client error, if the handshake failed over the peer's certificate
/// (untrusted issuer, wrong name, expired) or the peer did not speak TLS at all. Such errors
/// do not go away on a retry.
pub fn handshake_problem<'e>(
    error: &'e (dyn std::error::Error + 'static),
) -> Option<&'e rustls::Error> {
    let mut next = Some(error);
    while let Some(e) = next {
        // An io::Error's `source` skips the error it wraps, so look inside it first.
        let inner = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static));
        for candidate in [Some(e), inner].into_iter().flatten() {
            if let Some(tls) = candidate.downcast_ref::<rustls::Error>()
                && matches!(
                    tls,
                    rustls::Error::InvalidCertificate(_)
                        | rustls::Error::InvalidMessage(_)
                        | rustls::Error::InappropriateMessage { .. }
                        | rustls::Error::InappropriateHandshakeMessage { .. }
                        | rustls::Error::AlertReceived(_)
                        | rustls::Error::PeerIncompatible(_)
                        | rustls::Error::PeerMisbehaved(_)
                )
            {
                return Some(tls);
            }
        }
        next = inner.and_then(|i| i.source()).or_else(|| e.source());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn the_public_roots_are_trusted_without_an_extra_ca() {
        let c = client_config_with(None).unwrap();
        assert!(c.alpn_protocols.is_empty());
    }

    #[test]
    fn bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.pem");
        let err = client_config_with(Some(&missing)).unwrap_err().to_string();
        assert!(
            err.contains("CA certificate file") && err.contains("missing.pem"),
            "{err}"
        );
        let empty = write(dir.path(), "empty.pem", "not a certificate\n");
        let err = client_config_with(Some(&empty)).unwrap_err().to_string();
        assert!(err.contains("no PEM certificate"), "{err}");
        let garbage = write(
            dir.path(),
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        );
        let err = client_config_with(Some(&garbage)).unwrap_err().to_string();
        assert!(err.contains("garbage.pem"), "{err}");
        let err = server_config(&empty, &empty).unwrap_err().to_string();
        assert!(err.contains("TLS certificate file"), "{err}");
    }

    #[test]
    fn a_server_needs_the_key_of_its_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let make = || {
            let key = rcgen::KeyPair::generate().unwrap();
            let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
            let cert = params.self_signed(&key).unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (cert, key) = make();
        let (_, other_key) = make();
        let cert = write(dir.path(), "cert.pem", &cert);
        let key = write(dir.path(), "key.pem", &key);
        let other_key = write(dir.path(), "other.pem", &other_key);
        server_config(&cert, &key).unwrap();
        let err = server_config(&cert, &other_key).unwrap_err().to_string();
        assert!(err.contains("other.pem is not the key of"), "{err}");
        let err = server_config(&cert, &cert).unwrap_err().to_string();
        assert!(err.contains("no private key"), "{err}");
        // The same certificate is a CA file a client can trust.
        client_config_with(Some(&cert)).unwrap();
    }
}
