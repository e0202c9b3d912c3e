//! The organisation's users as far as impersonation cares: who is an admin (and
//! so cannot be impersonated) and, optionally, who exists at all.

use serde::{Deserialize, Serialize};

/// Set by `--admin-user`/`--user`, replaced at run time by `POST /__mock/users`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Known users; empty means any subject that is not an admin is known.
    pub users: Vec<String>,
    pub admin_users: Vec<String>,
}

/// The admin `--admin-user` stands for when none is given.
pub const DEFAULT_ADMIN: &str = "admin@example.com";

#[derive(Debug, PartialEq)]
pub enum Standing {
    Admin,
    Unknown,
    User,
}

impl Directory {
    pub fn judge(&self, email: &str) -> Standing {
        // Emails compare case-insensitively: a subject spelt "Admin@Example.com"
        // must not slip past the admin rule.
        let listed = |list: &[String]| list.iter().any(|u| u.eq_ignore_ascii_case(email));
        if listed(&self.admin_users) {
            Standing::Admin
        } else if !self.users.is_empty() && !listed(&self.users) {
            Standing::Unknown
        } else {
            Standing::User
        }
    }
}
