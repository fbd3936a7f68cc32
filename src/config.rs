//! Server configuration: defaults, then a TOML file (`--config FILE` or `LOTLINE_CONFIG`), then
//! environment variables, then command-line flags; each later source overrides the earlier.
//!
//! Every key of the file has an environment variable `LOTLINE_<KEY in upper case>`; the README
//! lists them. Unknown keys in the file are an error, so a typo never silently does nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Data directory: the RocksDB store, the log's signing key.
    pub data: PathBuf,
    /// Address to listen on, `HOST:PORT`; port 0 picks a free port.
    pub listen: String,
    /// Where the log lives: `embedded` (the RocksDB under `data`, the default) or the
    /// `postgresql://` URL of a replicated deployment's database, every host listed, with
    /// `target_session_attrs=read-write` (docs/replication.md). May hold a password: it is
    /// never logged.
    pub store: String,
    /// Base URL under which clients reach this node, for the redirects of a replicated
    /// deployment; default `http://<listen address>` (`https://` with `[tls]`).
    pub advertise: Option<String>,
    /// The log's origin (its name in checkpoints); default `<hostname>/lotline`. Fixed at creation.
    pub origin: Option<String>,
    /// Largest request body accepted, in bytes (single events and batches).
    pub max_body_bytes: usize,
    /// Deepest JSON nesting accepted: arrays and objects count, `[]` is depth 1.
    pub max_json_depth: usize,
    /// Most events in one batch request.
    pub max_batch: usize,
    /// Most events in one EPCIS capture document (`POST /capture`, `GS1-EPCIS-Capture-Limit`).
    pub max_capture_events: usize,
    /// Largest EPCIS capture document, in bytes (`GS1-EPCIS-Capture-File-Size-Limit`).
    pub max_capture_bytes: usize,
    /// A fresh checkpoint is signed at least this often while entries arrive, in milliseconds.
    pub checkpoint_interval_ms: u64,
    /// Submissions waiting for the sequencer before new ones get `503 overloaded`.
    pub queue_depth: usize,
    /// HTTP worker threads; default one per core.
    pub workers: Option<usize>,
    /// Memory for verified provenance results reused between requests (buyer pages, provenance
    /// documents, bundles), in MiB; 0 turns the cache off (every request builds and verifies).
    pub read_cache_mb: usize,
    /// `text` for people, `json` for log collectors.
    pub log_format: LogFormat,
    /// `did:key`s of the registrars: the authorities that admit actors and manage their roles
    /// and keys (e.g. a national rice federation). Without one, no actor can be registered.
    pub registrars: Vec<String>,
    /// How far an event's `eventTime` may lie ahead of the ledger's clock, in milliseconds.
    pub max_clock_skew_ms: u64,
    /// Plausibility bounds for flags (yields, conversions, container weight).
    pub plausibility: crate::state::Bounds,
    /// TLS termination (`[tls]`): with a certificate and a key the server speaks HTTPS only.
    pub tls: Tls,
    /// Origins (`https://buyer.example`) whose browser pages may read the API (CORS, reads
    /// only: GET and HEAD); `*` for any. None by default: no CORS headers are sent.
    pub cors_origins: Vec<String>,
}

/// The `[tls]` section: both files, or neither (plain HTTP).
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// The certificate chain, PEM, the server's own certificate first.
    pub cert_file: Option<PathBuf>,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
}

/// The `store` of a single node: the RocksDB under `data`.
pub const EMBEDDED: &str = "embedded";

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data: PathBuf::from("data"),
            listen: "127.0.0.1:8080".into(),
            store: EMBEDDED.into(),
            advertise: None,
            origin: None,
            max_body_bytes: 4 * 1024 * 1024,
            max_json_depth: 64,
            max_batch: 1000,
            max_capture_events: 10_000,
            max_capture_bytes: 64 * 1024 * 1024,
            checkpoint_interval_ms: 1000,
            queue_depth: 256,
            workers: None,
            read_cache_mb: 256,
            log_format: LogFormat::Text,
            registrars: Vec::new(),
            max_clock_skew_ms: 5 * 60 * 1000,
            plausibility: crate::state::Bounds::default(),
            tls: Tls::default(),
            cors_origins: Vec::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("environment variable {name}={value:?}: {why}")]
    Env {
        name: String,
        value: String,
        why: String,
    },
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Defaults overridden by the file at `path`, if given.
    pub fn from_file(path: Option<&Path>) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    /// Applies `LOTLINE_*` variables from `env` (pass `std::env::vars()`). Returns the names of
    /// `LOTLINE_` variables it does not know, for the caller to warn about once logging is set up.
    pub fn apply_env(
        &mut self,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Vec<String>, ConfigError> {
        let mut unknown = Vec::new();
        for (name, value) in env {
            let Some(key) = name.strip_prefix("LOTLINE_") else {
                continue;
            };
            let bad = |why: &str| ConfigError::Env {
                name: name.clone(),
                value: value.clone(),
                why: why.into(),
            };
            let num = |v: &str| {
                v.parse::<u64>()
                    .map_err(|_| bad("expected a non-negative integer"))
            };
            match key {
                "DATA" => self.data = PathBuf::from(&value),
                "LISTEN" => self.listen = value.clone(),
                "STORE" => self.store = value.clone(),
                "ADVERTISE" => self.advertise = Some(value.clone()),
                "ORIGIN" => self.origin = Some(value.clone()),
                "MAX_BODY_BYTES" => self.max_body_bytes = num(&value)? as usize,
                "MAX_JSON_DEPTH" => self.max_json_depth = num(&value)? as usize,
                "MAX_BATCH" => self.max_batch = num(&value)? as usize,
                "MAX_CAPTURE_EVENTS" => self.max_capture_events = num(&value)? as usize,
                "MAX_CAPTURE_BYTES" => self.max_capture_bytes = num(&value)? as usize,
                "CHECKPOINT_INTERVAL_MS" => self.checkpoint_interval_ms = num(&value)?,
                "QUEUE_DEPTH" => self.queue_depth = num(&value)? as usize,
                "WORKERS" => self.workers = Some(num(&value)? as usize),
                "READ_CACHE_MB" => self.read_cache_mb = num(&value)? as usize,
                "REGISTRARS" => {
                    self.registrars = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                "MAX_CLOCK_SKEW_MS" => self.max_clock_skew_ms = num(&value)?,
                "CORS_ORIGINS" => {
                    self.cors_origins = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                "TLS_CERT_FILE" => self.tls.cert_file = Some(PathBuf::from(&value)),
                "TLS_KEY_FILE" => self.tls.key_file = Some(PathBuf::from(&value)),
                "LOG_FORMAT" => {
                    self.log_format = match value.as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => return Err(bad("expected text or json")),
                    }
                }
                // LOTLINE_CONFIG names the file itself; LOTLINE_LOG is the log filter;
                // LOTLINE_CA_CERT is the clients' extra CA (the CLI's --ca-cert);
                // LOTLINE_FAILPOINT is read (or refused) by the store (src/store/failpoint.rs).
                "CONFIG" | "LOG" | "CA_CERT" | "FAILPOINT" => {}
                _ => unknown.push(name.clone()),
            }
        }
        Ok(unknown)
    }

    /// Checks values that would otherwise fail later and less clearly.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |s: String| Err(ConfigError::Invalid(s));
        if self.store != EMBEDDED && self.postgres_url().is_none() {
            return invalid(
                "store must be \"embedded\" or a postgresql:// URL of the replicated log's database"
                    .into(),
            );
        }
        if let Some(a) = &self.advertise
            && !(a.starts_with("http://") || a.starts_with("https://"))
        {
            return invalid(format!(
                "advertise = {a:?} must be an http:// or https:// base URL"
            ));
        }
        if self.max_body_bytes < 1024 {
            return invalid(format!(
                "max_body_bytes = {} is too small (at least 1024)",
                self.max_body_bytes
            ));
        }
        // serde_json stops at 128 levels whatever we say; a larger limit would be a lie.
        if !(2..=127).contains(&self.max_json_depth) {
            return invalid(format!(
                "max_json_depth = {} must be between 2 and 127",
                self.max_json_depth
            ));
        }
        if self.max_batch == 0 {
            return invalid("max_batch must be at least 1".into());
        }
        if self.max_capture_events == 0 || self.max_capture_bytes < 1024 {
            return invalid(
                "max_capture_events must be at least 1 and max_capture_bytes at least 1024".into(),
            );
        }
        if self.checkpoint_interval_ms == 0 || self.checkpoint_interval_ms > 3_600_000 {
            return invalid("checkpoint_interval_ms must be between 1 and 3600000".into());
        }
        if self.queue_depth == 0 {
            return invalid("queue_depth must be at least 1".into());
        }
        for r in &self.registrars {
            if let Err(e) = data_integrity::didkey::parse_did_key(r) {
                return invalid(format!("registrar {r:?} is not an Ed25519 did:key: {e}"));
            }
        }
        for o in &self.cors_origins {
            let origin = o
                .strip_prefix("https://")
                .or_else(|| o.strip_prefix("http://"));
            let ok = o == "*"
                || origin.is_some_and(|h| !h.is_empty() && !h.contains('/') && !h.contains(' '));
            if !ok {
                return invalid(format!(
                    "cors_origins: {o:?} is not an origin such as https://buyer.example (scheme and host, no path), nor *"
                ));
            }
        }
        if self.tls.cert_file.is_some() != self.tls.key_file.is_some() {
            return invalid(
                "tls.cert_file and tls.key_file go together: give both (HTTPS) or neither (HTTP)"
                    .into(),
            );
        }
        if self.max_clock_skew_ms > 7 * 24 * 3_600_000 {
            return invalid("max_clock_skew_ms must be at most a week".into());
        }
        let b = &self.plausibility;
        for (name, [lo, hi]) in [
            ("milling_recovery", b.milling_recovery),
            ("head_rice", b.head_rice),
            ("cassava_chips", b.cassava_chips),
            ("cassava_starch", b.cassava_starch),
        ] {
            if !(0.0..=1.0).contains(&lo) || !(lo..=1.0).contains(&hi) {
                return invalid(format!(
                    "plausibility.{name} = [{lo}, {hi}] must satisfy 0 <= min <= max <= 1"
                ));
            }
        }
        for (name, v) in [
            ("rice_max_t_per_ha", b.rice_max_t_per_ha),
            ("cassava_max_t_per_ha", b.cassava_max_t_per_ha),
            ("unit_max_t", b.unit_max_t),
            ("point_plot_max_ha", b.point_plot_max_ha),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return invalid(format!(
                    "plausibility.{name} = {v} must be a positive number"
                ));
            }
        }
        Ok(())
    }

    /// The replicated log's database, when the store is one.
    pub fn postgres_url(&self) -> Option<&str> {
        (self.store.starts_with("postgresql://") || self.store.starts_with("postgres://"))
            .then_some(self.store.as_str())
    }

    /// The certificate chain and key files, when the server terminates TLS.
    pub fn tls_files(&self) -> Option<(&Path, &Path)> {
        Some((
            self.tls.cert_file.as_deref()?,
            self.tls.key_file.as_deref()?,
        ))
    }

    pub fn checkpoint_interval(&self) -> Duration {
        Duration::from_millis(self.checkpoint_interval_ms)
    }

    /// The rules' configuration.
    pub fn rules(&self) -> crate::state::Rules {
        crate::state::Rules {
            registrars: self.registrars.clone(),
            max_future_ms: i64::try_from(self.max_clock_skew_ms).unwrap_or(i64::MAX),
            bounds: self.plausibility.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env_override_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lotline.toml");
        std::fs::write(&path, "listen = \"0.0.0.0:9000\"\nmax_batch = 50\n").unwrap();
        let mut c = Config::from_file(Some(&path)).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.max_batch, 50);
        assert_eq!(c.max_json_depth, 64);
        let unknown = c
            .apply_env([
                ("LOTLINE_MAX_BATCH".to_string(), "7".to_string()),
                ("LOTLINE_MAX_BACH".to_string(), "7".to_string()),
                ("HOME".into(), "/x".into()),
            ])
            .unwrap();
        assert_eq!(unknown, vec!["LOTLINE_MAX_BACH".to_string()]);
        assert_eq!(c.max_batch, 7);
        c.validate().unwrap();
    }

    #[test]
    fn mistakes_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "max_bach = 5\n").unwrap();
        let err = Config::from_file(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("max_bach"), "{err}");
        let mut c = Config::default();
        let err = c
            .apply_env([("LOTLINE_MAX_BATCH".to_string(), "many".to_string())])
            .unwrap_err()
            .to_string();
        assert!(err.contains("LOTLINE_MAX_BATCH"), "{err}");
        c.max_json_depth = 500;
        assert!(c.validate().is_err());
    }

    #[test]
    fn cors_origins_are_origins() {
        let mut c = Config::default();
        c.apply_env([(
            "LOTLINE_CORS_ORIGINS".to_string(),
            "https://buyer.example, http://127.0.0.1:9000".to_string(),
        )])
        .unwrap();
        assert_eq!(c.cors_origins.len(), 2);
        c.validate().unwrap();
        for bad in ["buyer.example", "https://buyer.example/page", "https://"] {
            c.cors_origins = vec![bad.into()];
            assert!(c.validate().is_err(), "{bad}");
        }
        c.cors_origins = vec!["*".into()];
        c.validate().unwrap();
    }

    #[test]
    fn registrars_and_plausibility_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lotline.toml");
        std::fs::write(
            &path,
            "registrars = [\"did:key:nope\"]\n[plausibility]\nmilling_recovery = [0.6, 0.5]\n",
        )
        .unwrap();
        let mut c = Config::from_file(Some(&path)).unwrap();
        assert_eq!(c.plausibility.milling_recovery, [0.6, 0.5]);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("did:key:nope"), "{err}");
        let did = lotline_scenario::did(&lotline_scenario::seeded_key("config test"));
        c.apply_env([("LOTLINE_REGISTRARS".to_string(), format!(" {did} ,"))])
            .unwrap();
        assert_eq!(c.registrars, vec![did.clone()]);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("milling_recovery"), "{err}");
        c.plausibility = crate::state::Bounds::default();
        c.validate().unwrap();
        assert_eq!(c.rules().registrars, vec![did]);
    }

    #[test]
    fn tls_files_come_in_pairs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lotline.toml");
        std::fs::write(&path, "[tls]\ncert_file = \"chain.pem\"\n").unwrap();
        let mut c = Config::from_file(Some(&path)).unwrap();
        assert_eq!(c.tls_files(), None);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("tls.key_file"), "{err}");
        c.apply_env([("LOTLINE_TLS_KEY_FILE".to_string(), "key.pem".to_string())])
            .unwrap();
        c.validate().unwrap();
        assert_eq!(
            c.tls_files(),
            Some((Path::new("chain.pem"), Path::new("key.pem")))
        );
        std::fs::write(&path, "[tls]\ncert = \"chain.pem\"\n").unwrap();
        let err = Config::from_file(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("cert"), "{err}");
    }
}
