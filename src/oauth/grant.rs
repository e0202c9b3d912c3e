//! The grants a token request can use, and what each sends: its form body,
//! its client authentication, and the secrets it carries (which no error may
//! echo).

use base64::Engine;
use zeroize::Zeroizing;

use crate::settings::{ClientAuth, Settings};

/// Which OAuth grant a request uses.
#[derive(Clone, Copy)]
pub(crate) enum Grant<'a> {
    ClientCredentials,
    RefreshToken(&'a str),
    /// RFC 8693 token exchange (Sigma's impersonation): a token for the user
    /// named by `subject_token` (a JWT signed with the client secret), asked for
    /// by the admin whose access token is `actor_token`. No client credentials
    /// are sent: the admin's token, also as `Authorization: Bearer`, vouches.
    Exchange {
        subject_token: &'a str,
        actor_token: &'a str,
    },
    /// A person's sign-in (RFC 6749 §4.1.3 with PKCE, RFC 7636): the code the
    /// browser brought back, for a public client (no secret).
    AuthorizationCode {
        code: &'a str,
        redirect_uri: &'a str,
        code_verifier: &'a str,
        client_id: &'a str,
    },
    /// A person's stored refresh token, redeemed by the public client it was
    /// issued to (no secret). Single use: the answer carries the next one.
    PublicRefresh {
        refresh_token: &'a str,
        client_id: &'a str,
    },
}

/// What a grant sends: the form body and the `Authorization` header, if any.
pub(super) struct Body {
    pub(super) form: Zeroizing<String>,
    pub(super) authorization: Option<Zeroizing<String>>,
}

const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

impl Grant<'_> {
    /// The grant's name in events and counters.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::RefreshToken(_) => "refresh_token",
            Grant::Exchange { .. } => "token_exchange",
            Grant::AuthorizationCode { .. } => "authorization_code",
            Grant::PublicRefresh { .. } => "refresh_token",
        }
    }

    /// Whether the request presents the client's own id and secret.
    pub(super) fn uses_client_secret(&self) -> bool {
        matches!(self, Grant::ClientCredentials | Grant::RefreshToken(_))
    }

    /// The secrets the request carries besides the client secret.
    pub(super) fn secrets(&self) -> Vec<&str> {
        match *self {
            Grant::ClientCredentials => vec![],
            Grant::RefreshToken(refresh) | Grant::PublicRefresh { refresh_token: refresh, .. } => vec![refresh],
            Grant::Exchange { subject_token, actor_token } => vec![subject_token, actor_token],
            Grant::AuthorizationCode { code, code_verifier, .. } => vec![code, code_verifier],
        }
    }

    /// The form body and client authentication of this grant under `settings`:
    /// the client's id and secret (in the form or as Basic) for its own grants,
    /// the actor's token for an exchange, the public client's id alone for a
    /// person's grants.
    pub(super) fn body(&self, settings: &Settings) -> Body {
        let mut form = Zeroizing::new(String::with_capacity(256));
        let mut authorization = None;
        match *self {
            Grant::ClientCredentials => append_field(&mut form, "grant_type", "client_credentials"),
            Grant::RefreshToken(refresh) => {
                append_field(&mut form, "grant_type", "refresh_token");
                append_field(&mut form, "refresh_token", refresh);
            }
            Grant::Exchange { subject_token, actor_token } => {
                append_field(&mut form, "grant_type", TOKEN_EXCHANGE);
                append_field(&mut form, "subject_token", subject_token);
                append_field(&mut form, "subject_token_type", "urn:ietf:params:oauth:token-type:jwt");
                append_field(&mut form, "actor_token", actor_token);
                append_field(&mut form, "actor_token_type", "urn:ietf:params:oauth:token-type:access_token");
                authorization = Some(Zeroizing::new(format!("Bearer {actor_token}")));
            }
            Grant::AuthorizationCode { code, redirect_uri, code_verifier, client_id } => {
                append_field(&mut form, "grant_type", "authorization_code");
                append_field(&mut form, "code", code);
                append_field(&mut form, "redirect_uri", redirect_uri);
                append_field(&mut form, "code_verifier", code_verifier);
                append_field(&mut form, "client_id", client_id);
            }
            Grant::PublicRefresh { refresh_token, client_id } => {
                append_field(&mut form, "grant_type", "refresh_token");
                append_field(&mut form, "refresh_token", refresh_token);
                append_field(&mut form, "client_id", client_id);
            }
        }
        if self.uses_client_secret() {
            match settings.client_auth {
                ClientAuth::Form => {
                    append_field(&mut form, "client_id", &settings.client_id);
                    append_field(&mut form, "client_secret", settings.client_secret.expose());
                }
                ClientAuth::Basic => {
                    // RFC 6749 §2.3.1: each part form-encoded, then base64.
                    let mut pair = Zeroizing::new(String::new());
                    encode_into(&mut pair, &settings.client_id);
                    pair.push(':');
                    encode_into(&mut pair, settings.client_secret.expose());
                    let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
                    authorization = Some(Zeroizing::new(format!("Basic {}", encoded.as_str())));
                }
            }
        }
        Body { form, authorization }
    }
}

pub(crate) fn append_field(form: &mut String, name: &str, value: &str) {
    if !form.is_empty() {
        form.push('&');
    }
    encode_into(form, name);
    form.push('=');
    encode_into(form, value);
}

/// application/x-www-form-urlencoded, as browsers and curl's --data-urlencode do.
fn encode_into(out: &mut String, value: &str) {
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => out.push(byte as char),
            b' ' => out.push('+'),
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[(byte >> 4) as usize] as char);
                out.push(HEX[(byte & 15) as usize] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding_escapes_everything_but_unreserved() {
        let mut out = String::new();
        append_field(&mut out, "client_secret", "a b&c=d/é+");
        append_field(&mut out, "x", "-._*~");
        assert_eq!(out, "client_secret=a+b%26c%3Dd%2F%C3%A9%2B&x=-._*%7E");
    }
}
