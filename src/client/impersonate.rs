//! Acting as a user: Sigma's token-exchange grant (beta).
//!
//! An admin's client derives a client per user; each derived client keeps that
//! user's token fresh as any client does (cached, refreshed in the background,
//! single-flight, invalidated after a 401), getting it by exchange: a subject
//! token (a JWT naming the user, signed with the client secret) traded for a
//! user token, vouched for by the admin's current access token. Every derived
//! client shares the admin's token, so any number of users cost one admin token.
//! The admin's clients keep each user's client (and so its token) while the
//! user's token is usable, so a program that derives a client per request and
//! frees it afterwards still makes one exchange per user per token lifetime.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, TryLockError};
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
use crate::per_process::PerProcess;
use crate::token::Token;

/// Below this many users kept, none is let go.
const KEEP_AT_LEAST: usize = 64;

/// The user a client acts as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Subject {
    pub(crate) email: String,
    pub(crate) tenant: Option<String>,
}

/// The clients derived from one admin client, by subject, in this process. A
/// child after fork starts with its parent's (unless the parent was changing
/// them at that moment); each of them then has the child's own state.
#[derive(Default)]
pub(super) struct Users(PerProcess<Mutex<Kept>>);

#[derive(Clone, Default)]
struct Kept {
    clients: HashMap<Subject, Arc<Shared>>,
    /// The number of users at which the next addition first lets go of
    /// users no one holds whose token is no longer usable.
    prune_at: usize,
}

impl Users {
    /// Runs `f` on this process's users, locked.
    fn with<R>(&self, f: impl FnOnce(&mut Kept) -> R) -> R {
        let users = self.0.get(|inherited| {
            let inherited = inherited.and_then(|kept| match kept.try_lock() {
                Ok(kept) => Some(kept.clone()),
                Err(TryLockError::Poisoned(kept)) => Some(kept.into_inner().clone()),
                Err(TryLockError::WouldBlock) => None,
            });
            Mutex::new(inherited.unwrap_or_default())
        });
        let mut kept = users.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut kept)
    }
}

impl Kept {
    /// The client for `subject`, made by `make` if there is none yet.
    fn get_or_add(&mut self, subject: Subject, make: impl FnOnce() -> Shared) -> Arc<Shared> {
        if let Some(shared) = self.clients.get(&subject) {
            return shared.clone();
        }
        if self.clients.len() >= self.prune_at {
            let now = Instant::now();
            self.clients.retain(|_, shared| Arc::strong_count(shared) > 1 || shared.process().usable(now).is_some());
            self.prune_at = KEEP_AT_LEAST.max(2 * self.clients.len());
        }
        self.clients.entry(subject).or_insert_with(|| Arc::new(make())).clone()
    }
}

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
    /// for the same user and tenant share one client state, which this client
    /// keeps while anyone holds it or its token is usable: deriving a client
    /// per request costs one exchange per user per token lifetime. Some Sigma
    /// endpoints refuse impersonated tokens (connections, workbook export, send
    /// and schedules).
    pub fn impersonate(&self, email: &str, tenant: Option<&str>) -> Result<Client> {
        if matches!(self.shared.source, Source::Exchange { .. }) {
            return Err(Error::invalid_argument("a client acting as a user cannot act as another one"));
        }
        let subject = Subject::new(email, tenant)?;
        let shared = self.users.with(|kept| {
            kept.get_or_add(subject.clone(), || {
                let source = Source::Exchange { admin: self.shared.clone(), subject };
                Shared::new(self.shared.config.clone(), source)
            })
        });
        Ok(Client::from_shared(shared))
    }
}

/// One exchange for `subject`, with the admin's current token. An admin token
/// Sigma refuses (401) is invalidated and the exchange made once more with a
/// fresh one: it may have been revoked or expired early.
pub(super) fn exchange(
    config: &Config,
    admin: &Arc<Shared>,
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
