//! Session and socket ids: 20 random URL-safe characters, as engine.io makes them.

use rand::Rng;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A new random id (120 bits of randomness).
pub(crate) fn generate() -> String {
    let mut rng = rand::rng();
    (0..20)
        .map(|_| ALPHABET[rng.random_range(0..64)] as char)
        .collect()
}
