//! The user a token is for when a client acts as someone (Sigma's token
//! exchange), and the signed subject token that names them.

use serde_json::{Map, Value};
use zeroize::Zeroizing;

use super::jwt;
use crate::config::Config;
use crate::error::{Error, Result};

const MAX_EMAIL_LEN: usize = 320;

/// The user a client acts as.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Subject {
    pub(crate) email: String,
    pub(crate) tenant: Option<String>,
}

impl Subject {
    pub(crate) fn new(email: &str, tenant: Option<&str>) -> Result<Subject> {
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
    pub(crate) fn token(&self, config: &Config) -> Zeroizing<String> {
        let settings = config.settings();
        let mut claims: Map<String, Value> = settings.subject_token_claims.clone();
        claims.insert("sub".into(), Value::from(self.email.as_str()));
        if let Some(tenant) = &self.tenant {
            claims.insert("tenant".into(), Value::from(tenant.as_str()));
        }
        jwt::sign_hs256(&settings.client_id, &claims, settings.client_secret.expose())
    }
}

/// Why `email` is not an email address Sigma would accept, if it is not.
pub(crate) fn check_email(email: &str) -> std::result::Result<(), String> {
    if email.is_empty() {
        return Err("is empty".into());
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(format!("is longer than {MAX_EMAIL_LEN} bytes"));
    }
    if email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("has whitespace or control characters".into());
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("is not an email address (no @)".into());
    };
    if local.is_empty() || domain.is_empty() || !domain.contains('.') && !domain.eq_ignore_ascii_case("localhost") {
        return Err("is not an email address".into());
    }
    if domain.contains('_') {
        return Err("has an underscore in its domain".into());
    }
    Ok(())
}
