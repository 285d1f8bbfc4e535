//! argon2id password hashing (OWASP's recommended parameters: 19 MiB, 2 passes, 1 lane).

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

fn argon() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    argon().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
}

pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => argon().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// Verifies against a fixed hash so an unknown address costs as much time as a known one.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let h = DUMMY.get_or_init(|| hash("dummy-password-for-timing").unwrap_or_default());
    let _ = verify(password, h);
}

/// Password rules: 10 to 1024 characters, not only whitespace. The error is the message for
/// the field, in the current language.
pub fn check_strength(password: &str) -> Result<(), String> {
    use lsn_core::i18n::t;
    let n = password.chars().count();
    if n < 10 {
        return Err(t("identity-password-short"));
    }
    if n > 1024 {
        return Err(t("identity-password-long"));
    }
    if password.trim().is_empty() {
        return Err(t("identity-password-blank"));
    }
    Ok(())
}

/// Password hashes that may run at once: argon2 takes 19 MiB and most of a core for each, so a
/// flood of sign-in, sign-up or reset posts must queue here instead of taking the machine's
/// memory and the rest of the shop's CPU.
pub const CONCURRENT: usize = 2;
/// Hashes that may wait for a turn; past that a request is refused at once ([`Busy`]).
pub const WAITING: usize = 32;

/// Too many password hashes are running or waiting: try again in a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

fn gate() -> &'static tokio::sync::Semaphore {
    static GATE: OnceLock<tokio::sync::Semaphore> = OnceLock::new();
    GATE.get_or_init(|| tokio::sync::Semaphore::new(CONCURRENT))
}

static QUEUED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Runs `f` (a hash) off the async threads, at most [`CONCURRENT`] at a time.
async fn gated<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Busy> {
    use std::sync::atomic::Ordering;
    if QUEUED.fetch_add(1, Ordering::AcqRel) >= CONCURRENT + WAITING {
        QUEUED.fetch_sub(1, Ordering::AcqRel);
        return Err(Busy);
    }
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            QUEUED.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        }
    }
    let _leave = Leave;
    let _permit = gate().acquire().await.map_err(|_| Busy)?;
    let running = RUNNING.fetch_add(1, Ordering::AcqRel) + 1;
    PEAK.fetch_max(running, Ordering::AcqRel);
    let r = tokio::task::spawn_blocking(f).await.map_err(|_| Busy);
    RUNNING.fetch_sub(1, Ordering::AcqRel);
    r
}

static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// The most password hashes this process has run at once (never more than [`CONCURRENT`]).
pub fn peak_concurrency() -> usize {
    PEAK.load(std::sync::atomic::Ordering::Acquire)
}

/// Hashes a new password (bounded: see [`CONCURRENT`]).
pub async fn hash_async(password: String) -> Result<Result<String, String>, Busy> {
    gated(move || hash(&password)).await
}

/// Checks a password against its stored hash, or against a dummy one when there is none, so an
/// unknown address costs the same time (bounded: see [`CONCURRENT`]).
pub async fn verify_async(password: String, stored: Option<String>) -> Result<bool, Busy> {
    gated(move || match stored {
        Some(h) => verify(&password, &h),
        None => {
            verify_dummy(&password);
            false
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashing_is_bounded() {
        // More at once than may run or wait: the rest are refused at once, none is lost.
        let all: Vec<_> =
            (0..(super::CONCURRENT + super::WAITING + 20)).map(|i| tokio::spawn(super::verify_async(format!("pw {i}"), None))).collect();
        let mut busy = 0;
        for h in all {
            match h.await.expect("task") {
                Ok(ok) => assert!(!ok),
                Err(super::Busy) => busy += 1,
            }
        }
        assert!(busy > 0, "a flood is refused, not queued without bound");
        assert!(super::verify_async("again".into(), None).await.is_ok(), "and the gate opens again");
    }

    #[test]
    fn hashes_verify() {
        let h = super::hash("correct horse battery").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse battery", &h));
        assert!(!super::verify("wrong", &h));
        assert!(!super::verify("x", "not a hash"));
        assert!(super::check_strength("short").is_err());
        assert!(super::check_strength("long enough pw").is_ok());
    }

    #[test]
    fn messages_come_from_the_translation_files() {
        use lsn_core::i18n::{t, t_args};
        assert_eq!(super::check_strength("short"), Err("use at least 10 characters".to_string()));
        assert_eq!(super::check_strength(&" ".repeat(12)), Err("password cannot be blank".to_string()));
        assert_eq!(t("identity-invalid-credentials"), "Email or password is incorrect.");
        assert_eq!(t_args("identity-key-scopes", &[("scopes", "a, b")]), "choose one or more of: a, b");
        assert_eq!(t_args("identity-role-unknown", &[("role", "\"boss\"")]), "unknown role \"boss\" (customer, creator, admin, owner)");
        assert_eq!(t("identity-setting-key"), "use 1 to 100 letters, digits, '_', '.', '-'");
    }
}
