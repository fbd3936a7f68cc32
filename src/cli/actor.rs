//! `lotline actor …` (registrar documents, signed and submitted in one step), `lotline rfid
//! decode` and `lotline scenario` (writes the demo's keys and documents for sign/submit).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::{Client, describe_problem, load_key, now_rfc3339};
use data_integrity::{di, didkey};
use gs1::{digital_link, tds};
use lotline_scenario as scenario;

#[derive(clap::Args)]
pub struct RegistrarArgs {
    /// Base URL of the server, e.g. http://127.0.0.1:8080
    #[arg(long, env = "LOTLINE_SERVER")]
    server: String,
    /// The registrar's key file (its did:key must be one of the server's --registrar keys).
    #[arg(long)]
    registrar_key: PathBuf,
    /// When the change takes effect (RFC 3339); default now.
    #[arg(long)]
    time: Option<String>,
}

#[derive(clap::Subcommand)]
pub enum ActorCommand {
    /// Register an actor with its roles and first key.
    Register {
        #[command(flatten)]
        reg: RegistrarArgs,
        /// The actor's identifier, an absolute URI such as urn:epc:id:pgln:8841234.00031
        #[arg(long)]
        id: String,
        #[arg(long)]
        name: String,
        /// farm, cooperative, collector, mill, processor, packer, warehouse, exporter,
        /// certifier, lab or importer (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The actor's did:key (from `lotline keygen`).
        #[arg(long)]
        key: String,
        #[arg(long)]
        gln: Option<String>,
        #[arg(long, default_value = "KH")]
        country: String,
        #[arg(long, default_value = "")]
        province: String,
    },
    /// Grant a role.
    Grant {
        #[command(flatten)]
        reg: RegistrarArgs,
        #[arg(long)]
        id: String,
        #[arg(long)]
        role: String,
    },
    /// Revoke a role.
    RevokeRole {
        #[command(flatten)]
        reg: RegistrarArgs,
        #[arg(long)]
        id: String,
        #[arg(long)]
        role: String,
    },
    /// Add a key.
    AddKey {
        #[command(flatten)]
        reg: RegistrarArgs,
        #[arg(long)]
        id: String,
        #[arg(long)]
        key: String,
    },
    /// Replace a key by a new one: the old stops and the new starts at --time.
    RotateKey {
        #[command(flatten)]
        reg: RegistrarArgs,
        #[arg(long)]
        id: String,
        #[arg(long)]
        key: String,
        #[arg(long)]
        replaces: String,
    },
    /// Revoke a key.
    RevokeKey {
        #[command(flatten)]
        reg: RegistrarArgs,
        #[arg(long)]
        id: String,
        #[arg(long)]
        key: String,
    },
}

/// Builds, signs and submits one registrar document. Exit 0: accepted; 1: refused; 2: the
/// server failed or could not be reached.
pub fn actor(cmd: ActorCommand) -> Result<ExitCode> {
    let (reg, doc) = match cmd {
        ActorCommand::Register {
            reg,
            id,
            name,
            roles,
            key,
            gln,
            country,
            province,
        } => {
            didkey::parse_did_key(&key).with_context(|| format!("--key {key:?}"))?;
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            let time = time_of(&reg)?;
            let doc = scenario::register(
                None,
                &time,
                &id,
                &name,
                (&country, &province),
                &roles,
                &[key],
                gln.as_deref(),
            );
            (reg, doc)
        }
        ActorCommand::Grant { reg, id, role } => {
            change(reg, "lotline:RoleGrant", &id, ("role", &role), None)?
        }
        ActorCommand::RevokeRole { reg, id, role } => {
            change(reg, "lotline:RoleRevocation", &id, ("role", &role), None)?
        }
        ActorCommand::AddKey { reg, id, key } => {
            change(reg, "lotline:KeyAddition", &id, ("key", &key), None)?
        }
        ActorCommand::RotateKey {
            reg,
            id,
            key,
            replaces,
        } => change(
            reg,
            "lotline:KeyRotation",
            &id,
            ("key", &key),
            Some(&replaces),
        )?,
        ActorCommand::RevokeKey { reg, id, key } => {
            change(reg, "lotline:KeyRevocation", &id, ("key", &key), None)?
        }
    };
    let key = load_key(&reg.registrar_key)?;
    let signed = di::sign(&doc, &key, &now_rfc3339()).context("signing")?;
    let client = Client::new(&reg.server, 3)?;
    let (status, body) = client.post("/v1/events", &serde_json::to_vec(&signed)?)?;
    if status < 300 {
        println!("{body}");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("refused: {}", describe_problem(&body));
    Ok(ExitCode::from(if status >= 500 { 2 } else { 1 }))
}

/// A registrar document changing one role or key of actor `id`, taking effect at `--time`.
fn change(
    reg: RegistrarArgs,
    ty: &str,
    id: &str,
    field: (&str, &str),
    replaces: Option<&str>,
) -> Result<(RegistrarArgs, Value)> {
    let doc = scenario::registrar_doc(ty, &time_of(&reg)?, id, field, replaces);
    Ok((reg, doc))
}

fn time_of(reg: &RegistrarArgs) -> Result<String> {
    match &reg.time {
        Some(t) => {
            lotline_profile::profile::parse_time_ms(t)
                .with_context(|| format!("--time {t:?} is not an RFC 3339 date-time"))?;
            Ok(t.clone())
        }
        None => Ok(now_rfc3339()),
    }
}

/// Decodes EPC bank hex, one line per tag; exit 1 if any tag does not decode.
pub fn rfid_decode(hex: &[String]) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    let mut bad = false;
    for h in hex {
        match tds::decode_hex(h) {
            Ok(d) => writeln!(
                out,
                "{h}\t{}\t{}\t{}",
                d.tag_uri,
                d.pure_identity,
                digital_link::to_digital_link(&d.id, "https://id.gs1.org")
            )?,
            Err(e) => {
                bad = true;
                eprintln!("{h}: {e}");
            }
        }
    }
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes the demo scenario: `keys/<actor>.key` (and `keys/registrar.key`), `registrar.did`,
/// and `steps/NNN-<signer>.json` in order (`NNN-<signer>.refused-<code>.json` for the steps the
/// rules must refuse), ready for `lotline sign` and `lotline submit`.
pub fn write_scenario(out: &Path, seed: &str) -> Result<()> {
    let (actors, steps) = scenario::demo(seed);
    let keys = out.join("keys");
    let step_dir = out.join("steps");
    for d in [&keys, &step_dir] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let registrar = scenario::seeded_key(&format!("{seed} registrar"));
    crate::ledger::write_key_file(&keys.join("registrar.key"), &registrar, true)?;
    std::fs::write(out.join("registrar.did"), scenario::did(&registrar) + "\n")?;
    for a in &actors {
        let k = scenario::seeded_key(&format!("{seed} {}", a.name));
        crate::ledger::write_key_file(&keys.join(format!("{}.key", a.name)), &k, true)?;
    }
    for (i, s) in steps.iter().enumerate() {
        let name = match s.expect {
            Some(code) => format!("{:03}-{}.refused-{code}.json", i + 1, s.signer),
            None => format!("{:03}-{}.json", i + 1, s.signer),
        };
        let text = serde_json::to_string_pretty(&s.doc)?;
        std::fs::write(step_dir.join(name), text + "\n")?;
    }
    if steps.is_empty() {
        bail!("the scenario is empty");
    }
    println!(
        "wrote {} actors and {} steps to {}",
        actors.len(),
        steps.len(),
        out.display()
    );
    Ok(())
}

/// A signed step and the problem code it must be refused with, if any.
pub type SignedStep = (Value, Option<&'static str>);

/// Used by tests and the bench: the registrar's did:key and the demo's steps, signed with the
/// demo's keys.
pub fn signed_demo(seed: &str, created: &str) -> Result<(String, Vec<SignedStep>)> {
    let (_, steps) = scenario::demo(seed);
    let registrar = scenario::seeded_key(&format!("{seed} registrar"));
    let mut out = Vec::with_capacity(steps.len());
    for s in steps {
        let key = if s.signer == "registrar" {
            registrar.clone()
        } else {
            scenario::seeded_key(&format!("{seed} {}", s.signer))
        };
        out.push((di::sign(&s.doc, &key, created)?, s.expect));
    }
    Ok((scenario::did(&registrar), out))
}
