//! Wise's webhook signature: RSA PKCS#1 v1.5 with SHA-256 over the raw body, Base64 in the
//! `X-Signature-SHA256` header, checked with Wise's public key (one for its sandbox, one for
//! production). The payout sandbox signs its own deliveries the same way with a key built into
//! this crate.

use base64::Engine;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey};
use rsa::signature::Verifier;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;
use std::sync::OnceLock;

/// Wise's sandbox webhook key (SPKI, Base64), from `docs/integrations/wise.md`.
pub const WISE_SANDBOX_PUBLIC_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAwpb91cEYuyJNQepZAVfPZIlPZfNUefH+n6w9SW3fykqKu938cR7WadQv87oF2VuT+fDt7kqeRziTmPSUhqPUys/V2Q1rlfJuXbE+Gga37t7zwd0egQ+KyOEHQOpcTwKmtZ81ieGHynAQzsn1We3jwt760MsCPJ7GMT141ByQM+yW1Bx+4SG3IGjXWyqOWrcXsxAvIXkpUD/jK/L958CgnZEgz0BSEh0QxYLITnW1lLokSx/dTianWPFEhMC9BgijempgNXHNfcVirg1lPSygz7KqoKUN0oHqWLr2U1A+7kqrl6O2nx3CKs1bj1hToT1+p4kcMoHXA7kA+VBLUpEsVwIDAQAB";

/// The payout sandbox's key pair. SANDBOX ONLY: it is public in this repository, so a delivery
/// it signs proves nothing about who sent it. Never configure it for a real Wise account.
const SANDBOX_PRIVATE_PEM: &str = include_str!("../keys/sandbox_webhook_private.pem");
pub const SANDBOX_PUBLIC_PEM: &str = include_str!("../keys/sandbox_webhook_public.pem");

/// A public key webhooks are checked with.
#[derive(Clone)]
pub struct WebhookKey(VerifyingKey<Sha256>);

impl std::fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookKey(rsa)")
    }
}

impl WebhookKey {
    /// A key as Wise publishes it: a PEM `-----BEGIN PUBLIC KEY-----` block, or the Base64 SPKI
    /// between those lines.
    pub fn parse(text: &str) -> Result<Self, String> {
        // The PEM armour is dropped by hand rather than by a strict PEM reader: keys pasted into
        // an environment variable arrive on one line, with literal `\n`s, or wrapped anyhow.
        let text = text.trim().replace("\\n", "\n");
        let b64 = match (text.find("-----BEGIN PUBLIC KEY-----"), text.find("-----END PUBLIC KEY-----")) {
            (Some(a), Some(b)) if a < b => &text[a + "-----BEGIN PUBLIC KEY-----".len()..b],
            _ if text.contains("-----") => return Err("expected a -----BEGIN PUBLIC KEY----- block".into()),
            _ => text.as_str(),
        };
        let body: String = b64.chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD.decode(body).map_err(|e| format!("not Base64: {e}"))?;
        let key = RsaPublicKey::from_public_key_der(&der).map_err(|e| format!("not an RSA SPKI public key: {e}"))?;
        Ok(Self(VerifyingKey::new(key)))
    }

    /// Wise's sandbox key.
    pub fn wise_sandbox() -> Self {
        static KEY: OnceLock<WebhookKey> = OnceLock::new();
        KEY.get_or_init(|| Self::parse(WISE_SANDBOX_PUBLIC_KEY).expect("the built-in Wise sandbox key parses")).clone()
    }

    /// The payout sandbox's own key.
    pub fn payout_sandbox() -> Self {
        static KEY: OnceLock<WebhookKey> = OnceLock::new();
        KEY.get_or_init(|| Self::parse(SANDBOX_PUBLIC_PEM).expect("the built-in sandbox key parses")).clone()
    }

    /// Whether `signature_b64` (the header's value) signs `body` with this key.
    pub fn verify(&self, body: &[u8], signature_b64: &str) -> bool {
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(signature_b64.trim()) else { return false };
        let Ok(sig) = Signature::try_from(raw.as_slice()) else { return false };
        self.0.verify(body, &sig).is_ok()
    }
}

fn sandbox_signer() -> &'static ring::signature::RsaKeyPair {
    static KEY: OnceLock<ring::signature::RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let der = RsaPrivateKey::from_pkcs8_pem(SANDBOX_PRIVATE_PEM)
            .and_then(|k| k.to_pkcs8_der())
            .expect("the built-in sandbox private key parses");
        ring::signature::RsaKeyPair::from_pkcs8(der.as_bytes()).expect("ring takes the built-in sandbox key")
    })
}

/// Signs `body` with the payout sandbox's key (SANDBOX ONLY), Base64 as in `X-Signature-SHA256`.
/// Tests use it to sign deliveries for a client configured with [`SANDBOX_PUBLIC_PEM`].
pub fn sandbox_sign(body: &[u8]) -> String {
    let key = sandbox_signer();
    let mut sig = vec![0u8; key.public().modulus_len()];
    // PKCS#1 v1.5 signing is deterministic and cannot fail for a valid key and buffer; an empty
    // signature (which never verifies) stands for the impossible failure.
    if key.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), body, &mut sig).is_err() {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VECTOR_BODY: &str = r#"{"data":{"resource":{"id":49983981,"profile_id":16055450,"account_id":14124090,"type":"transfer"},"current_state":"incoming_payment_waiting","previous_state":null,"occurred_at":"2021-08-23T10:12:50Z"},"subscription_id":"90aa8e14-4ef1-4a56-861c-f3c9cde097ea","event_type":"transfers#state-change","schema_version":"2.0.0","sent_at":"2021-08-23T10:12:50Z"}"#;
    const VECTOR_SIG: &str = "wKcKCYXAzxNgiu7xmoDm943NUni7Rz33QN8JkEA9dWSGebgndonabgSj18Y4C08OrwVmueGsED2s00M7DtJVcYKOS1i3G4TMVx+mgM3aL9djMBkQtiYNBFUd6wrPI7ZUNHv/TrlKSjTMc+6JFvUvJ7owY3z85e3I4jLRLJowMFvO8kvCJ60+1pY9wDwZvtZ//WS93LrwGjk9Dvwzpmu0w+P4J75tETT5qC3Uv0y5G2yO8SEoO3yNP/tg/BOli02niHb53vEOUWUb9bly6thnfMoXoiV/osoGxgF20R58RlvkAmezyyl1Sv542TfS2DpiwVnmjjjkCyXeSUcKookYLQ==";

    #[test]
    fn wise_test_vector_verifies() {
        let key = WebhookKey::wise_sandbox();
        assert!(key.verify(VECTOR_BODY.as_bytes(), VECTOR_SIG));
        // One byte of the body changed, or re-serialised JSON: no longer.
        assert!(!key.verify(VECTOR_BODY.replace("49983981", "49983982").as_bytes(), VECTOR_SIG));
        assert!(!key.verify(format!("{VECTOR_BODY} ").as_bytes(), VECTOR_SIG));
        assert!(!key.verify(VECTOR_BODY.as_bytes(), "not base64!"));
        assert!(!key.verify(VECTOR_BODY.as_bytes(), ""));
        // The same key as a PEM block.
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{WISE_SANDBOX_PUBLIC_KEY}\n-----END PUBLIC KEY-----\n");
        assert!(WebhookKey::parse(&pem).expect("pem").verify(VECTOR_BODY.as_bytes(), VECTOR_SIG));
        // Wrapped at 64 columns, or on one line with literal \n as an environment variable holds it.
        let wrapped: Vec<String> = WISE_SANDBOX_PUBLIC_KEY.as_bytes().chunks(64).map(|c| String::from_utf8_lossy(c).to_string()).collect();
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----", wrapped.join("\n"));
        assert!(WebhookKey::parse(&pem).expect("wrapped").verify(VECTOR_BODY.as_bytes(), VECTOR_SIG));
        assert!(WebhookKey::parse(&pem.replace('\n', "\\n")).expect("escaped").verify(VECTOR_BODY.as_bytes(), VECTOR_SIG));
        assert!(WebhookKey::parse("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----").is_err());
        // Another key does not verify Wise's signature.
        assert!(!WebhookKey::payout_sandbox().verify(VECTOR_BODY.as_bytes(), VECTOR_SIG));
        assert!(WebhookKey::parse("junk").is_err());
    }

    #[test]
    fn sandbox_key_signs_and_verifies() {
        let sig = sandbox_sign(b"{\"a\":1}");
        assert!(WebhookKey::payout_sandbox().verify(b"{\"a\":1}", &sig));
        assert!(!WebhookKey::payout_sandbox().verify(b"{\"a\":2}", &sig));
        assert!(!WebhookKey::wise_sandbox().verify(b"{\"a\":1}", &sig));
    }
}
