//! A string that is wiped from memory when dropped and never printed.

use std::fmt;

use zeroize::Zeroizing;

/// Holds a client secret or a token. `Debug` prints `[redacted]`; there is no
/// `Display`. The memory is overwritten with zeros when the value is dropped.
///
/// The text is stored followed by one NUL byte, so that it can be lent as a
/// NUL-terminated string without making a second copy of the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        let value = Zeroizing::new(value.into());
        // Sized up front: growing the string later would free an unwiped copy.
        let mut stored = String::with_capacity(value.len() + 1);
        stored.push_str(&value);
        stored.push('\0');
        Secret(Zeroizing::new(stored))
    }

    /// The secret itself: only for putting it on the wire or handing it to the caller.
    pub fn expose(&self) -> &str {
        &self.0[..self.0.len() - 1]
    }

    /// Hex HMAC-SHA-256 of `label` keyed by the secret: tells secrets apart
    /// (a different secret, a different fingerprint) and reveals nothing of them.
    pub(crate) fn fingerprint(&self, label: &[u8]) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.expose().as_bytes());
        ring::hmac::sign(&key, label).as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The secret followed by its NUL byte.
    pub(crate) fn expose_with_nul(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn the_nul_is_stored_but_never_exposed() {
        let secret = Secret::new("abc");
        assert_eq!(secret.expose(), "abc");
        assert_eq!(secret.expose_with_nul(), "abc\0");
        assert_eq!(Secret::new("").expose(), "");
        assert_eq!(format!("{secret:?}"), "[redacted]");
    }
}
