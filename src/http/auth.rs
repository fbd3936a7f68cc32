//! Who may read the audit endpoints.
//!
//! Public provenance stays public; audits (mass balance, reports, recall traces, withdrawal
//! impact, operator and period exports) are for the control bodies. A caller presents an audit
//! token (`lotline_profile::audit_token`), signed by a registered key:
//! - a **registrar** key (one given to `lotline serve --registrar`) sees everything;
//! - a key of an actor holding the **certifier** role now sees the operators named (as subject
//!   or member farm) by a certificate it issued, the lots they handled, and the certificates it
//!   issued.
//!
//! Anything else is refused: no token or an invalid one with `401 unauthenticated` (a revoked,
//! rotated or unknown key included), a valid certifier asking about someone else's operator
//! with `403 forbidden`. Checks read the ledger's state as it is now, so revoking a key or a
//! role takes effect at once.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};

use super::{AppState, Code, Problem};
use crate::state::certs::CertRecord;
use crate::state::query::StateReader;
use crate::state::{LotRecord, tag};
use lotline_profile::audit_token;

/// Most certificates of one operator considered when deciding who may audit it.
const MAX_HELD: usize = 1_000;

/// An authenticated auditor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auditor {
    Registrar { key: String },
    Certifier { actor: String },
}

fn unauthenticated(why: impl Into<String>) -> Problem {
    Problem::new(
        Code::Unauthenticated,
        format!(
            "{}; audits need an audit token from a certifier's or registrar's key (lotline audit-token), sent as Authorization: Bearer <token>",
            why.into()
        ),
    )
}

fn forbidden(why: impl Into<String>) -> Problem {
    Problem::new(Code::Forbidden, why.into())
}

/// The token of a request: the `Authorization: Bearer` header, else an `access_token` query
/// parameter (RFC 6750), for pages opened in a browser.
fn token_of(req: &HttpRequest) -> Result<Option<String>, Problem> {
    if let Some(h) = req.headers().get(header::AUTHORIZATION) {
        let h = h
            .to_str()
            .map_err(|_| unauthenticated("the Authorization header is not ASCII"))?;
        return match h.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Ok(Some(token.trim().to_owned()))
            }
            _ => Err(unauthenticated(
                "the Authorization header is not a Bearer token",
            )),
        };
    }
    Ok(
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .ok()
            .and_then(|q| {
                q.0.into_iter()
                    .find(|(k, _)| k == "access_token")
                    .map(|(_, v)| v)
            }),
    )
}

impl Auditor {
    /// Authenticates the token of `req` against the ledger's state now.
    pub(super) fn authenticate(req: &HttpRequest) -> Result<Auditor, Problem> {
        let data = req
            .app_data::<web::Data<AppState>>()
            .ok_or_else(|| Problem::internal("no application state"))?;
        let token = token_of(req)?.ok_or_else(|| unauthenticated("no audit token was sent"))?;
        let now = crate::ledger::now_ms();
        let bearer =
            audit_token::check(&token, data.ledger.origin(), now).map_err(unauthenticated)?;
        if data.registrars.contains(&bearer.signer) {
            return Ok(Auditor::Registrar { key: bearer.signer });
        }
        let reader = data.ledger.state();
        let owner = reader
            .key_owner(&bearer.signer)
            .map_err(Problem::internal)?
            .ok_or_else(|| {
                unauthenticated(format!(
                    "{} is neither a registrar key nor a registered actor's key",
                    bearer.signer
                ))
            })?;
        if bearer.actor.as_ref().is_some_and(|a| *a != owner) {
            return Err(unauthenticated(format!(
                "the token names {}, but its key belongs to {owner}",
                bearer.actor.unwrap_or_default()
            )));
        }
        let actor = reader
            .actor(&owner)
            .map_err(Problem::internal)?
            .ok_or_else(|| Problem::internal(format!("key owner {owner} has no record")))?;
        if !actor.key_valid_at(&bearer.signer, now) {
            return Err(unauthenticated(format!(
                "{} is no longer a valid key of {owner} (revoked or rotated)",
                bearer.signer
            )));
        }
        if actor.role_at(&["certifier"], now).is_none() {
            return Err(forbidden(format!(
                "{owner} does not hold the certifier role; audits are for certifiers and registrars"
            )));
        }
        Ok(Auditor::Certifier { actor: owner })
    }

    /// Whether any of `operators` is certified (as subject or member) by a certificate this
    /// certifier issued. Reads the operators' own certificates (a few each), not the
    /// certifier's (which may be many).
    fn certifies(&self, reader: &StateReader<'_>, operators: &[&str]) -> Result<bool, Problem> {
        let Auditor::Certifier { actor } = self else {
            return Ok(true);
        };
        for o in operators {
            let held = reader
                .certs_of(tag::CERT_HOLDER, o, MAX_HELD)
                .map_err(Problem::internal)?;
            if held.iter().any(|c| c.issuer == *actor && c.concerns(o)) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// May this auditor see `operator`'s records?
    pub fn may_audit_operator(
        &self,
        reader: &StateReader<'_>,
        operator: &str,
    ) -> Result<(), Problem> {
        if self.certifies(reader, &[operator])? {
            Ok(())
        } else {
            Err(forbidden(format!(
                "{} does not certify {operator}; a certifier audits only the operators its certificates name",
                self.name()
            )))
        }
    }

    /// May this auditor trace `lot`? Yes if it certifies whoever created or handled it.
    pub fn may_audit_lot(&self, reader: &StateReader<'_>, lot: &LotRecord) -> Result<(), Problem> {
        let mut who: Vec<&str> = lot.handlers.iter().map(String::as_str).collect();
        who.push(&lot.created_by);
        if self.certifies(reader, &who)? {
            Ok(())
        } else {
            Err(forbidden(format!(
                "{} certifies no operator that handled {}",
                self.name(),
                lot.id
            )))
        }
    }

    /// May this auditor ask about certificate `c`? Its issuer and registrars may.
    pub fn may_audit_certificate(&self, c: &CertRecord) -> Result<(), Problem> {
        match self {
            Auditor::Registrar { .. } => Ok(()),
            Auditor::Certifier { actor } if *actor == c.issuer => Ok(()),
            Auditor::Certifier { actor } => Err(forbidden(format!(
                "{} was issued by {}, not {actor}",
                c.id, c.issuer
            ))),
        }
    }

    /// Only registrars may see everyone at once (for example a whole period's export).
    pub fn require_registrar(&self, what: &str) -> Result<(), Problem> {
        match self {
            Auditor::Registrar { .. } => Ok(()),
            Auditor::Certifier { actor } => Err(forbidden(format!(
                "{what} covers every operator and is for registrars; {actor} may ask per operator it certifies"
            ))),
        }
    }

    fn name(&self) -> &str {
        match self {
            Auditor::Registrar { key } => key,
            Auditor::Certifier { actor } => actor,
        }
    }
}

impl FromRequest for Auditor {
    type Error = Problem;
    type Future = Ready<Result<Auditor, Problem>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Auditor::authenticate(req))
    }
}
