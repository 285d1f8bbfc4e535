//! An email address that has been checked once, at the edge.

use serde::Serialize;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Trims, lower-cases and checks the rough shape `local@domain.tld`, at most 254 bytes.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim().to_lowercase();
        if s.is_empty() {
            return Err("email is required");
        }
        if s.len() > 254 {
            return Err("email is too long");
        }
        let Some((local, domain)) = s.split_once('@') else {
            return Err("email must contain @");
        };
        let bad = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '"' | ',' | ';' | '(' | ')' | '\\');
        if local.is_empty() || local.len() > 64 || local.chars().any(bad) || domain.contains('@') {
            return Err("email is not valid");
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2
            || labels
                .iter()
                .any(|l| l.is_empty() || l.starts_with('-') || l.ends_with('-') || !l.chars().all(|c| c.is_alphanumeric() || c == '-'))
        {
            return Err("email is not valid");
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mailbox behind the address, for limits per customer: without a `+tag`, and for
    /// Gmail without its dots (`A.n.n+1@googlemail.com` is `ann@gmail.com`). Two addresses
    /// with the same identity reach one person, so they share one customer's limits.
    pub fn identity(&self) -> String {
        let (local, domain) = self.0.split_once('@').unwrap_or((&self.0, ""));
        let local = local.split('+').next().unwrap_or(local);
        let domain = if domain == "googlemail.com" { "gmail.com" } else { domain };
        let local: String = if domain == "gmail.com" { local.chars().filter(|c| *c != '.').collect() } else { local.to_string() };
        format!("{local}@{domain}")
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Email;

    #[test]
    fn parses() {
        assert_eq!(Email::parse(" Ann@Example.COM ").map(|e| e.to_string()), Ok("ann@example.com".into()));
        for bad in ["", "a", "a@b", "@b.com", "a@@b.com", "a b@c.com", "a@-b.com", "<a>@b.com"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let id = |e: &str| Email::parse(e).expect("email").identity();
        assert_eq!(id("Ann+1@Example.com"), "ann@example.com");
        assert_eq!(id("a.n.n+deals@googlemail.com"), "ann@gmail.com");
        assert_eq!(id("a.n.n@example.com"), "a.n.n@example.com", "dots matter outside Gmail");
        assert_eq!(id("+x@example.com"), "@example.com");
    }
}
