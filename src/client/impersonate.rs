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
use std::time::{Duration, Instant};

use super::{Client, Shared, Source, Sweep};
use crate::config::Config;
use crate::error::{Error, ErrorCode, Result};
use crate::oauth::{self, Grant, Subject};
use crate::observe::{Counters, Trace};
use crate::sys::PerProcess;
use crate::token::Token;

/// At most this long between looks for users to let go (at the next call).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The clients derived from one admin client, by subject, in this process. A
/// child after fork starts with its parent's (unless the parent was changing
/// them at that moment); each of them then has the child's own state.
#[derive(Default)]
pub(super) struct Users(PerProcess<Mutex<Kept>>);

#[derive(Default)]
struct Kept {
    clients: HashMap<Subject, Entry>,
    /// When a user is added to a map due for a clean-up, or at any call a
    /// minute after the last one, users no one holds whose token is not
    /// usable are let go.
    sweep: Sweep,
    pruned: Option<Instant>,
}

struct Entry {
    shared: Arc<Shared>,
    /// References no holder owns: one per ancestor process's map (never
    /// dropped after a fork) this entry was inherited through.
    leaked: usize,
}

impl Users {
    /// Runs `f` on this process's users, locked.
    fn with<R>(&self, f: impl FnOnce(&mut Kept) -> R) -> R {
        let users = self.0.get(|inherited| {
            let inherited = inherited.and_then(|kept| match kept.try_lock() {
                Ok(kept) => Some(kept.inherit()),
                Err(TryLockError::Poisoned(kept)) => Some(kept.into_inner().inherit()),
                Err(TryLockError::WouldBlock) => None,
            });
            Mutex::new(inherited.unwrap_or_default())
        });
        let mut kept = users.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut kept)
    }
}

impl Kept {
    /// A child's copy of its parent's users.
    fn inherit(&self) -> Kept {
        let clients = self
            .clients
            .iter()
            .map(|(subject, entry)| (subject.clone(), Entry { shared: entry.shared.clone(), leaked: entry.leaked + 1 }))
            .collect();
        Kept { clients, sweep: self.sweep.clone(), pruned: None }
    }

    /// The client for `subject`, made by `make` if there is none yet.
    fn get_or_add(&mut self, subject: Subject, make: impl FnOnce() -> Shared) -> Arc<Shared> {
        let now = Instant::now();
        let full = !self.clients.contains_key(&subject) && self.sweep.due(self.clients.len() + 1);
        if full || self.pruned.is_none_or(|at| now - at >= PRUNE_EVERY) {
            self.clients.retain(|_, entry| {
                Arc::strong_count(&entry.shared) > 1 + entry.leaked || entry.shared.process().usable(now).is_some()
            });
            self.sweep.swept(self.clients.len());
            self.pruned = Some(now);
        }
        let entry = self.clients.entry(subject).or_insert_with(|| Entry { shared: Arc::new(make()), leaked: 0 });
        entry.shared.clone()
    }
}

impl Client {
    /// A client whose tokens are `email`'s (in the tenant organisation `tenant`,
    /// if given), obtained by exchange with this client's tokens: this client's
    /// credentials must be an admin's, and the user must not be an admin. Calls
    /// for the same user and tenant share one client state, which this client
    /// keeps while anyone holds it or its token is usable (let go at a call
    /// after that, within a minute): deriving a client per request costs one
    /// exchange per user per token lifetime. To make a new exchange for a user
    /// (the user's roles changed), invalidate the user's token. The derived
    /// client keeps working when this one is dropped. Some Sigma endpoints
    /// refuse impersonated tokens (connections, workbook export, send and
    /// schedules).
    pub fn impersonate(&self, email: &str, tenant: Option<&str>) -> Result<Client> {
        let Some(users) = &self.users else {
            return Err(Error::invalid_argument("a client acting as a user cannot act as another one"));
        };
        if self.shared.config.settings().signin.is_some() {
            return Err(Error::invalid_argument(
                "a person's sign-in cannot act as another user: impersonation needs an admin's client id and secret",
            ));
        }
        let subject = Subject::new(email, tenant)?;
        let shared = users.with(|kept| {
            kept.get_or_add(subject.clone(), || {
                let source = Source::Exchange { admin: self.shared.clone(), subject };
                Shared::new(self.shared.config.clone(), source)
            })
        });
        Ok(Client { shared, users: None })
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
        let result = oauth::request_token(config, grant, deadline, trace);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> Client {
        Client::new(Config::new("http://127.0.0.1:9", "admin", "secret").unwrap())
    }

    fn kept(admin: &Client) -> usize {
        admin.users.as_ref().unwrap().with(|kept| kept.clients.len())
    }

    #[test]
    fn users_no_one_holds_without_a_usable_token_are_let_go_as_the_map_grows() {
        let admin = admin();
        let held: Vec<Client> =
            (0..10).map(|i| admin.impersonate(&format!("held{i}@example.com"), None).unwrap()).collect();
        for i in 0..Sweep::FLOOR - 10 {
            drop(admin.impersonate(&format!("gone{i}@example.com"), None).unwrap());
        }
        assert_eq!(kept(&admin), Sweep::FLOOR, "nothing is let go below the threshold");
        let again = admin.impersonate("gone0@example.com", None).unwrap();
        assert_eq!(kept(&admin), Sweep::FLOOR, "a known user is found, not added");
        drop(again);
        let _new = admin.impersonate("new@example.com", None).unwrap();
        assert_eq!(kept(&admin), held.len() + 1, "the unheld users with no token went; the held stayed");
        let same = admin.impersonate("held3@example.com", None).unwrap();
        assert!(Arc::ptr_eq(&same.shared, &held[3].shared), "a held user keeps its one state");
    }

    #[test]
    fn a_user_cannot_act_as_another_and_a_dropped_admin_frees_its_users() {
        let admin = admin();
        let viewer = admin.impersonate("viewer@example.com", None).unwrap();
        let err = viewer.impersonate("other@example.com", None).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument);
        let weak = Arc::downgrade(&viewer.shared);
        drop(viewer);
        assert!(weak.upgrade().is_some(), "kept by the admin");
        drop(admin);
        assert!(weak.upgrade().is_none(), "freed with the admin's last client: no cycle");
    }
}
