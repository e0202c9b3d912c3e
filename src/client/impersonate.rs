//! Acting as a user: Sigma's token-exchange grant (beta).
//!
//! An admin's client derives a client per user; each derived client keeps that
//! user's token fresh as any client does (cached, refreshed in the background,
//! single-flight, invalidated after a 401), getting it by exchange: a subject
//! token (a JWT naming the user, signed with the client secret) traded for a
//! user token, vouched for by the admin's current access token. Every derived
//! client shares the admin's token, so any number of users cost one admin token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::{Client, Shared, Source};
use crate::config::Config;
use crate::embed::check_email;
use crate::error::{Error, ErrorCode, Result};
use crate::events::{Counters, Trace};
use crate::http::{self, Grant};
use crate::jwt;
use crate::token::Token;

/// The user a client acts as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Subject {
    pub(crate) email: String,
    pub(crate) tenant: Option<String>,
}

/// The clients derived from one admin client in this process, by subject.
pub(super) type Derived = Mutex<HashMap<Subject, Weak<Shared>>>;

impl Subject {
    fn new(email: &str, tenant: Option<&str>) -> Result<Subject> {
        check_email(email).map_err(|why| Error::invalid_argument(format!("the user's email {why}")))?;
        if let Some(tenant) = tenant {
            if tenant.is_empty() || tenant.len() > 256 || !tenant.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(Error::invalid_argument("the tenant must be 1 to 256 visible ASCII characters"));
            }
        }
        Ok(Subject { email: email.to_string(), tenant: tenant.map(str::to_string) })
    }

    /// The subject token: `sub` (and `tenant`), plus any extra claims the
    /// config asks for, signed HS256 with the client secret, `kid` the client id.
    fn token(&self, config: &Config) -> Zeroizing<String> {
        let settings = config.settings();
        let mut claims: Map<String, Value> = settings.subject_token_claims.clone();
        claims.insert("sub".into(), Value::from(self.email.as_str()));
        if let Some(tenant) = &self.tenant {
            claims.insert("tenant".into(), Value::from(tenant.as_str()));
        }
        jwt::sign_hs256(&settings.client_id, &claims, settings.client_secret.expose())
    }
}

impl Client {
    /// A client whose tokens are `email`'s (in the tenant organisation `tenant`,
    /// if given), obtained by exchange with this client's tokens: this client's
    /// credentials must be an admin's, and the user must not be an admin. Calls
    /// for the same user and tenant return the same client. Some Sigma endpoints
    /// refuse impersonated tokens (connections, workbook export, send and
    /// schedules).
    pub fn impersonate(&self, email: &str, tenant: Option<&str>) -> Result<Client> {
        if matches!(self.shared.source, Source::Exchange { .. }) {
            return Err(Error::invalid_argument("a client acting as a user cannot act as another one"));
        }
        let subject = Subject::new(email, tenant)?;
        let process = self.shared.process();
        let mut derived = process.derived.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(shared) = derived.get(&subject).and_then(Weak::upgrade) {
            return Ok(Client { shared });
        }
        derived.retain(|_, client| client.strong_count() > 0);
        let source = Source::Exchange { admin: self.clone(), subject: subject.clone() };
        let shared = Arc::new(Shared::new(self.shared.config.clone(), source));
        derived.insert(subject, Arc::downgrade(&shared));
        Ok(Client { shared })
    }
}

/// One exchange for `subject`, with the admin's current token. An admin token
/// Sigma refuses (401) is invalidated and the exchange made once more with a
/// fresh one: it may have been revoked or expired early.
pub(super) fn exchange(
    config: &Config,
    admin: &Client,
    subject: &Subject,
    deadline: Instant,
    trace: &mut Trace,
    counters: &Counters,
) -> Result<Token> {
    let subject_token = subject.token(config);
    let mut retried = false;
    loop {
        let actor = admin.token()?;
        let grant = Grant::Exchange { subject_token: &subject_token, actor_token: actor.access_token() };
        let result = http::request_token(config, grant, deadline, trace);
        counters.request(grant.name(), result.is_ok());
        match result {
            Err(e) if !retried && e.http_status() == Some(401) && e.code() == ErrorCode::InvalidClient => {
                admin.invalidate_serial(actor.serial());
                retried = true;
            }
            other => return other,
        }
    }
}

/// A token for `email` (in `tenant`, if given), without caching: a new admin
/// token with the client-credentials grant, then one exchange.
pub fn impersonate_token(config: &Config, email: &str, tenant: Option<&str>) -> Result<Token> {
    let subject = Subject::new(email, tenant)?;
    let deadline = config.deadline();
    let mut trace = Trace::default();
    let admin = http::request_token(config, Grant::ClientCredentials, deadline, &mut trace);
    let result = admin.and_then(|admin| {
        let subject_token = subject.token(config);
        let grant = Grant::Exchange { subject_token: &subject_token, actor_token: admin.access_token() };
        http::request_token(config, grant, deadline, &mut trace)
    });
    trace.deliver(config.events());
    result
}
