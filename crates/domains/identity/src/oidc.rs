//! OpenID Connect sign-in (authorization code flow with PKCE) against `OAUTH_SERVER_URL`.
//!
//! The state, nonce and PKCE verifier travel in a short-lived cookie signed with `JWT_SECRET`
//! (HS256), so no server-side storage is needed between the redirect and the callback. The ID
//! token is verified against the provider's JWKS (RS256/ES256) or the client secret (HS256),
//! with issuer, audience, expiry and nonce checked.

use crate::error::IdentityError;
use crate::service::Identity;
use base64::Engine;
use jsonwebtoken::{decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::Digest;

pub const STATE_COOKIE: &str = "lsn_oauth";
const STATE_TTL_SECS: i64 = 600;

#[derive(Debug, Clone, Deserialize)]
pub struct Discovery {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: Option<String>,
    pub userinfo_endpoint: Option<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StateClaims {
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    exp: i64,
}

#[derive(Debug, Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IdClaims {
    sub: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<serde_json::Value>,
    #[serde(default)]
    name: Option<String>,
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub struct OidcIdentity {
    pub subject: String,
    /// Only an address the provider marks verified.
    pub email: Option<String>,
    pub name: Option<String>,
}

fn err(msg: impl Into<String>) -> IdentityError {
    IdentityError::OAuth(msg.into())
}

/// Only same-site relative paths are allowed as a place to return to.
pub fn safe_return_to(s: Option<&str>) -> String {
    match s {
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains('\\') && p.len() < 500 => p.to_string(),
        _ => "/".to_string(),
    }
}

impl Identity {
    fn oauth(&self) -> Result<&lsn_core::config::OAuthConfig, IdentityError> {
        self.cfg.oauth.as_ref().ok_or(IdentityError::OAuthDisabled)
    }

    pub fn oauth_redirect_uri(&self) -> String {
        format!("{}/api/oauth/callback", self.cfg.public_url)
    }

    pub async fn discover(&self) -> Result<Discovery, IdentityError> {
        let o = self.oauth()?;
        let url = format!("{}/.well-known/openid-configuration", o.server_url);
        let res = self.http.get(&url).send().await.map_err(|e| err(format!("discovery unreachable: {e}")))?;
        if !res.status().is_success() {
            return Err(err(format!("discovery answered {}", res.status())));
        }
        res.json().await.map_err(|e| err(format!("discovery document unreadable: {e}")))
    }

    /// Where to send the browser, and the signed state cookie value to set.
    pub async fn oauth_begin(&self, return_to: Option<&str>) -> Result<(String, String), IdentityError> {
        let o = self.oauth()?.clone();
        let d = self.discover().await?;
        let verifier = lsn_core::ids::random_token(48);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
        let claims = StateClaims {
            state: lsn_core::ids::random_token(24),
            nonce: lsn_core::ids::random_token(24),
            verifier,
            return_to: safe_return_to(return_to),
            exp: self.clock.now().timestamp() + STATE_TTL_SECS,
        };
        let cookie = encode(&Header::new(Algorithm::HS256), &claims, &EncodingKey::from_secret(self.cfg.jwt_secret.expose().as_bytes()))
            .map_err(|e| IdentityError::Internal(e.to_string()))?;
        let mut url = url::Url::parse(&d.authorization_endpoint).map_err(|e| err(format!("bad authorization_endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &o.client_id)
            .append_pair("redirect_uri", &self.oauth_redirect_uri())
            .append_pair("scope", "openid email profile")
            .append_pair("state", &claims.state)
            .append_pair("nonce", &claims.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok((url.to_string(), cookie))
    }

    /// Completes the flow: checks state, exchanges the code, verifies the ID token.
    /// Returns the identity and where to send the browser next.
    pub async fn oauth_finish(&self, code: &str, state: &str, cookie: Option<&str>) -> Result<(OidcIdentity, String), IdentityError> {
        let o = self.oauth()?.clone();
        let cookie = cookie.ok_or_else(|| err("no state cookie (sign-in expired or started elsewhere)"))?;
        let mut v = Validation::new(Algorithm::HS256);
        v.required_spec_claims = ["exp".to_string()].into_iter().collect();
        let st = decode::<StateClaims>(cookie, &DecodingKey::from_secret(self.cfg.jwt_secret.expose().as_bytes()), &v)
            .map_err(|e| err(format!("state cookie rejected: {e}")))?
            .claims;
        if st.exp < self.clock.now().timestamp() {
            return Err(err("sign-in took too long"));
        }
        {
            use subtle::ConstantTimeEq;
            if !bool::from(st.state.as_bytes().ct_eq(state.as_bytes())) {
                return Err(err("state mismatch"));
            }
        }
        if code.is_empty() || code.len() > 2048 {
            return Err(err("missing authorization code"));
        }
        let d = self.discover().await?;
        let redirect_uri = self.oauth_redirect_uri();
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri.as_str()),
            ("client_id", o.client_id.as_str()),
            ("code_verifier", st.verifier.as_str()),
        ];
        if let Some(s) = &o.client_secret {
            form.push(("client_secret", s.expose()));
        }
        let res =
            self.http.post(&d.token_endpoint).form(&form).send().await.map_err(|e| err(format!("token endpoint unreachable: {e}")))?;
        if !res.status().is_success() {
            let status = res.status();
            let body = res.text().await.unwrap_or_default();
            return Err(err(format!("token endpoint answered {status}: {}", body.chars().take(300).collect::<String>())));
        }
        let tokens: TokenResponse = res.json().await.map_err(|e| err(format!("token response unreadable: {e}")))?;
        let _ = tokens.access_token;
        let id_token = tokens.id_token.ok_or_else(|| err("no id_token in the token response"))?;
        let claims = self.verify_id_token(&d, &o, &id_token).await?;
        if claims.nonce.as_deref() != Some(st.nonce.as_str()) {
            return Err(err("nonce mismatch"));
        }
        let verified = matches!(claims.email_verified, Some(serde_json::Value::Bool(true)))
            || matches!(claims.email_verified.as_ref().and_then(|v| v.as_str()), Some("true"));
        Ok((OidcIdentity { subject: claims.sub, email: if verified { claims.email } else { None }, name: claims.name }, st.return_to))
    }

    async fn verify_id_token(&self, d: &Discovery, o: &lsn_core::config::OAuthConfig, token: &str) -> Result<IdClaims, IdentityError> {
        let header = decode_header(token).map_err(|e| err(format!("id_token unreadable: {e}")))?;
        let key = match header.alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let secret = o.client_secret.as_ref().ok_or_else(|| err("HMAC-signed id_token but no OAUTH_CLIENT_SECRET"))?;
                DecodingKey::from_secret(secret.expose().as_bytes())
            }
            _ => {
                let jwks_uri = d.jwks_uri.as_ref().ok_or_else(|| err("provider has no jwks_uri"))?;
                let set: jsonwebtoken::jwk::JwkSet = self
                    .http
                    .get(jwks_uri)
                    .send()
                    .await
                    .map_err(|e| err(format!("JWKS unreachable: {e}")))?
                    .json()
                    .await
                    .map_err(|e| err(format!("JWKS unreadable: {e}")))?;
                let jwk = match &header.kid {
                    Some(kid) => set.find(kid),
                    None => set.keys.first(),
                }
                .ok_or_else(|| err("no JWKS key matches the id_token"))?;
                DecodingKey::from_jwk(jwk).map_err(|e| err(format!("bad JWK: {e}")))?
            }
        };
        let mut v = Validation::new(header.alg);
        v.set_audience(&[o.client_id.as_str()]);
        v.set_issuer(&[d.issuer.as_str()]);
        v.leeway = 60;
        decode::<IdClaims>(token, &key, &v).map(|t| t.claims).map_err(|e| err(format!("id_token rejected: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn return_to_stays_on_site() {
        assert_eq!(super::safe_return_to(Some("/account")), "/account");
        assert_eq!(super::safe_return_to(Some("//evil.com")), "/");
        assert_eq!(super::safe_return_to(Some("https://evil.com")), "/");
        assert_eq!(super::safe_return_to(None), "/");
    }
}
