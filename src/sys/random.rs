//! Randomness for jitter.

/// A uniformly distributed number in [0, 1) from the operating system's
/// generator (0.5 if it fails, which only costs jitter).
pub(crate) fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
