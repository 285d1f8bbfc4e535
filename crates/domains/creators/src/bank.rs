//! Bank details at rest: sealed with XChaCha20-Poly1305 under a key derived from
//! `LSN_DATA_KEY` (or, when it is unset, from `JWT_SECRET`), the creator's id bound in as
//! associated data so a sealed value copied to another creator does not open. Only the masked
//! form (`BSB 062-*** ****6789`) is ever shown.

use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use sha2::Digest;

/// The key that seals bank details.
pub struct Key([u8; 32]);

impl Key {
    /// Derives the key from a secret (`LSN_DATA_KEY`, else `JWT_SECRET`).
    pub fn derive(secret: &str) -> Self {
        let mut h = sha2::Sha256::new();
        h.update(b"lsn creators bank details v1\0");
        h.update(secret.as_bytes());
        Key(h.finalize().into())
    }

    /// Seals `plain` for `creator_id`: `v1.<base64 nonce ‖ ciphertext>`.
    pub fn seal(&self, creator_id: &str, plain: &[u8]) -> String {
        let cipher = XChaCha20Poly1305::new((&self.0).into());
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        // Encryption with a fresh nonce and in-memory buffers cannot fail.
        let ct = cipher.encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: creator_id.as_bytes() }).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        format!("v1.{}", base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// Opens what [`Key::seal`] sealed for `creator_id`; `None` if it was tampered with, sealed
    /// for someone else or under another key.
    pub fn open(&self, creator_id: &str, sealed: &str) -> Option<Vec<u8>> {
        let raw = base64::engine::general_purpose::STANDARD.decode(sealed.strip_prefix("v1.")?).ok()?;
        if raw.len() < 24 + 16 {
            return None;
        }
        let (nonce, ct) = raw.split_at(24);
        XChaCha20Poly1305::new((&self.0).into()).decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: creator_id.as_bytes() }).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_details_open_only_for_their_creator_and_key() {
        let k = Key::derive("a secret of some length");
        let s = k.seal("c1", b"{\"bsb\":\"062000\"}");
        assert!(!s.contains("062000"));
        assert_eq!(k.open("c1", &s).as_deref(), Some(&b"{\"bsb\":\"062000\"}"[..]));
        assert_eq!(k.open("c2", &s), None);
        assert_eq!(Key::derive("another").open("c1", &s), None);
        let mut t = s.clone();
        t.pop();
        t.push(if s.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(k.open("c1", &t), None);
        assert_ne!(k.seal("c1", b"x"), k.seal("c1", b"x"));
    }
}
