//! Money is an integer count of minor units plus an ISO 4217 currency. No floats.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    #[serde(rename = "AUD")]
    Aud,
    #[serde(rename = "USD")]
    Usd,
}

impl Currency {
    pub fn code(self) -> &'static str {
        match self {
            Currency::Aud => "AUD",
            Currency::Usd => "USD",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn aud(minor: i64) -> Self {
        Self { minor, currency: Currency::Aud }
    }

    /// The GST (10 %) contained in a GST-inclusive amount: one eleventh, rounded half away
    /// from zero to the cent. This is the single rounding rule LSN uses for tax.
    pub fn gst_included(self) -> Money {
        let m = self.minor;
        let q = (m.abs() * 10 + 55) / 110;
        Money { minor: if m < 0 { -q } else { q }, currency: self.currency }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minor < 0 { "-" } else { "" };
        let a = self.minor.unsigned_abs();
        write!(f, "{sign}${}.{:02}", a / 100, a % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_computes_gst() {
        assert_eq!(Money::aud(12345).to_string(), "$123.45");
        assert_eq!(Money::aud(-5).to_string(), "-$0.05");
        assert_eq!(Money::aud(1100).gst_included().minor, 100);
        assert_eq!(Money::aud(1000).gst_included().minor, 91);
        assert_eq!(Money::aud(5).gst_included().minor, 0);
        assert_eq!(Money::aud(6).gst_included().minor, 1);
    }
}
