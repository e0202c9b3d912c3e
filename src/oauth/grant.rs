//! The grants a token request can use, and their form bodies.

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
}

pub(super) const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

impl Grant<'_> {
    /// The grant's name in events and counters.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::RefreshToken(_) => "refresh_token",
            Grant::Exchange { .. } => "token_exchange",
        }
    }
}

pub(super) fn append_field(form: &mut String, name: &str, value: &str) {
    if !form.is_empty() {
        form.push('&');
    }
    encode_into(form, name);
    form.push('=');
    encode_into(form, value);
}

/// application/x-www-form-urlencoded, as browsers and curl's --data-urlencode do.
pub(super) fn encode_into(out: &mut String, value: &str) {
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
