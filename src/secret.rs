//! A string that is wiped from memory when dropped and never printed.

use std::fmt;

use zeroize::Zeroizing;

/// Holds a client secret or a token. `Debug` prints `[redacted]`; there is no
/// `Display`. The memory is overwritten with zeros when the value is dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Zeroizing::new(value.into()))
    }

    /// The secret itself: only for putting it on the wire or handing it to the caller.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
