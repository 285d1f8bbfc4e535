//! Where product images live: the local media directory (default) or S3-compatible object
//! storage when `S3_ENDPOINT`, `S3_BUCKET`, `S3_ACCESS_KEY_ID` and `S3_SECRET_ACCESS_KEY` are set
//! (path-style requests signed with AWS Signature Version 4, so AWS S3, MinIO, R2 and the like
//! all work).

use hmac::{Mac, SimpleHmac};
use lsn_core::{Config, Secret};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("not found")]
    NotFound,
    #[error("media storage failed: {0}")]
    Storage(String),
}

#[derive(Clone)]
pub enum MediaStore {
    Local(PathBuf),
    S3(S3),
}

impl std::fmt::Debug for MediaStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaStore::Local(p) => write!(f, "Local({})", p.display()),
            MediaStore::S3(s) => write!(f, "S3({}/{})", s.endpoint, s.bucket),
        }
    }
}

impl MediaStore {
    pub fn from_config(cfg: &Config) -> Self {
        let get = |k: &str| cfg.provider(k).map(|s| s.expose().to_string());
        match (get("S3_ENDPOINT"), get("S3_BUCKET"), get("S3_ACCESS_KEY_ID"), cfg.provider("S3_SECRET_ACCESS_KEY")) {
            (Some(endpoint), Some(bucket), Some(key_id), Some(secret)) => {
                MediaStore::S3(S3::new(&endpoint, &bucket, &key_id, secret.clone(), get("S3_REGION").as_deref().unwrap_or("us-east-1")))
            }
            _ => MediaStore::Local(cfg.media_dir()),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            MediaStore::Local(_) => "local",
            MediaStore::S3(_) => "s3",
        }
    }

    pub async fn put(&self, key: &str, content_type: &str, bytes: &[u8]) -> Result<(), MediaError> {
        match self {
            MediaStore::Local(dir) => {
                tokio::fs::create_dir_all(dir).await.map_err(|e| MediaError::Storage(e.to_string()))?;
                tokio::fs::write(dir.join(key), bytes).await.map_err(|e| MediaError::Storage(e.to_string()))
            }
            MediaStore::S3(s3) => s3.put(key, content_type, bytes).await,
        }
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, MediaError> {
        match self {
            MediaStore::Local(dir) => tokio::fs::read(dir.join(key)).await.map_err(|_| MediaError::NotFound),
            MediaStore::S3(s3) => s3.get(key).await,
        }
    }

    pub async fn delete(&self, key: &str) {
        match self {
            MediaStore::Local(dir) => match tokio::fs::remove_file(dir.join(key)).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!(key, "media: could not delete a file, left behind: {e}")
                }
                _ => {}
            },
            MediaStore::S3(s3) => {
                match s3.request("DELETE", key, None, &[]).await {
                    // S3 answers 204 for a key deleted or never there.
                    Ok(r) if r.status().is_success() => {}
                    Ok(r) => tracing::warn!(key, status = r.status().as_u16(), "media: S3 refused to delete an object, left behind"),
                    Err(e) => tracing::warn!(key, "media: could not delete an object, left behind: {e}"),
                }
            }
        }
    }
}

#[derive(Clone)]
pub struct S3 {
    endpoint: String,
    host: String,
    bucket: String,
    key_id: String,
    secret: Secret,
    region: String,
    http: reqwest::Client,
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = <SimpleHmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

/// RFC 3986 encoding of one path segment, as SigV4 wants it.
fn uri_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl S3 {
    pub fn new(endpoint: &str, bucket: &str, key_id: &str, secret: Secret, region: &str) -> Self {
        let endpoint = endpoint.trim_end_matches('/').to_string();
        let host = endpoint.split("://").nth(1).unwrap_or(&endpoint).split('/').next().unwrap_or_default().to_string();
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap_or_default();
        Self { endpoint, host, bucket: bucket.to_string(), key_id: key_id.to_string(), secret, region: region.to_string(), http }
    }

    /// The `Authorization` header (and the headers it signs) for a request made at `now`.
    pub fn sign(&self, method: &str, path: &str, payload_hash: &str, now: chrono::DateTime<chrono::Utc>) -> (String, String) {
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let date = now.format("%Y%m%d").to_string();
        let canonical = format!("{method}\n{path}\n\nhost:{}\nx-amz-content-sha256:{payload_hash}\nx-amz-date:{amz_date}\n\nhost;x-amz-content-sha256;x-amz-date\n{payload_hash}", self.host);
        let scope = format!("{date}/{}/s3/aws4_request", self.region);
        let to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", hex::encode(Sha256::digest(canonical.as_bytes())));
        let k = hmac(format!("AWS4{}", self.secret.expose()).as_bytes(), date.as_bytes());
        let k = hmac(&k, self.region.as_bytes());
        let k = hmac(&k, b"s3");
        let k = hmac(&k, b"aws4_request");
        let signature = hex::encode(hmac(&k, to_sign.as_bytes()));
        (
            format!(
                "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}",
                self.key_id
            ),
            amz_date,
        )
    }

    async fn request(&self, method: &str, key: &str, content_type: Option<&str>, body: &[u8]) -> Result<reqwest::Response, MediaError> {
        let path = format!("/{}/{}", uri_encode(&self.bucket), uri_encode(key));
        let payload_hash = hex::encode(Sha256::digest(body));
        let (auth, amz_date) = self.sign(method, &path, &payload_hash, chrono::Utc::now());
        let m = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| MediaError::Storage(e.to_string()))?;
        let mut req = self
            .http
            .request(m, format!("{}{path}", self.endpoint))
            .header("authorization", auth)
            .header("x-amz-date", amz_date)
            .header("x-amz-content-sha256", payload_hash);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.body(body.to_vec()).send().await.map_err(|e| MediaError::Storage(format!("S3 unreachable: {e}")))
    }

    pub async fn put(&self, key: &str, content_type: &str, bytes: &[u8]) -> Result<(), MediaError> {
        let r = self.request("PUT", key, Some(content_type), bytes).await?;
        if r.status().is_success() {
            Ok(())
        } else {
            Err(MediaError::Storage(format!(
                "S3 PUT answered {}: {}",
                r.status(),
                r.text().await.unwrap_or_default().chars().take(300).collect::<String>()
            )))
        }
    }

    pub async fn get(&self, key: &str) -> Result<Vec<u8>, MediaError> {
        let r = self.request("GET", key, None, &[]).await?;
        match r.status().as_u16() {
            200 => r.bytes().await.map(|b| b.to_vec()).map_err(|e| MediaError::Storage(e.to_string())),
            404 => Err(MediaError::NotFound),
            s => Err(MediaError::Storage(format!("S3 GET answered {s}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The header has SigV4's shape; the integration test's fake S3 recomputes the signature
    /// independently and refuses a wrong one.
    #[test]
    fn signature_has_the_aws_shape() {
        let s3 = S3::new(
            "https://examplebucket.s3.amazonaws.com",
            "examplebucket",
            "AKIAIOSFODNN7EXAMPLE",
            Secret::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            "us-east-1",
        );
        let now = chrono::Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0).single().expect("t");
        let empty = hex::encode(Sha256::digest(b""));
        let (auth, date) = s3.sign("GET", "/examplebucket/test.txt", &empty, now);
        assert_eq!(date, "20130524T000000Z");
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature="));
        assert_eq!(auth.rsplit('=').next().map(str::len), Some(64));
        assert_eq!(uri_encode("a b/ü"), "a%20b%2F%C3%BC");
    }
}
