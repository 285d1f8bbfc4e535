//! Bank details: the account types payouts go to, their validation (what Wise would refuse, caught
//! before anything is sent) and how they are shown to people (masked).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Account {
    /// An Australian account: BSB (6 digits, often written `062-000`) and account number.
    Australian {
        bsb: String,
        account_number: String,
    },
    Iban {
        iban: String,
        bic: Option<String>,
    },
    /// A UK account: sort code (6 digits, `23-14-70`) and an 8-digit account number.
    SortCode {
        sort_code: String,
        account_number: String,
    },
    /// A US account: ABA routing number (9 digits with a checksum), account number, `checking`
    /// or `savings`.
    Aba {
        routing_number: String,
        account_number: String,
        account_type: String,
    },
    /// A Stripe connected account (`acct_…`), paid by a Stripe transfer.
    StripeConnect {
        account_id: String,
    },
}

/// Why bank details were refused: the field (as the API and the form name it) and a sentence a
/// person can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invalid {
    pub field: &'static str,
    pub message: String,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for Invalid {}

fn invalid(field: &'static str, message: impl Into<String>) -> Invalid {
    Invalid { field, message: message.into() }
}

/// The digits of `s` when it holds only digits and the separators people type (spaces, dashes).
fn digits(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars() {
        match c {
            '0'..='9' => out.push(c),
            ' ' | '-' => {}
            _ => return None,
        }
    }
    Some(out)
}

fn digits_of_len(s: &str, field: &'static str, lens: std::ops::RangeInclusive<usize>, what: &str) -> Result<String, Invalid> {
    match digits(s) {
        Some(d) if lens.contains(&d.len()) => Ok(d),
        _ => Err(invalid(field, what.to_string())),
    }
}

/// IBAN lengths by country (ISO 13616 registry), for the countries payouts are likely to reach;
/// an IBAN of another country is held to the general 15 to 34 characters.
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24),
    ("AE", 23),
    ("AT", 20),
    ("BE", 16),
    ("BG", 22),
    ("CH", 21),
    ("CY", 28),
    ("CZ", 24),
    ("DE", 22),
    ("DK", 18),
    ("EE", 20),
    ("ES", 24),
    ("FI", 18),
    ("FR", 27),
    ("GB", 22),
    ("GR", 27),
    ("HR", 21),
    ("HU", 28),
    ("IE", 22),
    ("IS", 26),
    ("IT", 27),
    ("LI", 21),
    ("LT", 20),
    ("LU", 20),
    ("LV", 21),
    ("MC", 27),
    ("MT", 31),
    ("NL", 18),
    ("NO", 15),
    ("PL", 28),
    ("PT", 25),
    ("RO", 24),
    ("SE", 24),
    ("SI", 19),
    ("SK", 24),
    ("SM", 27),
    ("TR", 26),
];

/// Countries whose IBAN accounts are paid in euros.
const EURO_IBAN: &[&str] = &[
    "AD", "AT", "BE", "CY", "DE", "EE", "ES", "FI", "FR", "GR", "HR", "IE", "IT", "LT", "LU", "LV", "MC", "MT", "NL", "PT", "SI", "SK",
    "SM",
];

fn normalise_iban(s: &str) -> Result<String, Invalid> {
    let iban: String = s.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_ascii_uppercase();
    let msg = "An IBAN starts with two letters and two check digits, like DE89 3704 0044 0532 0130 00.";
    if !(15..=34).contains(&iban.len()) || !iban.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid("iban", msg));
    }
    let b = iban.as_bytes();
    if !(b[0].is_ascii_alphabetic() && b[1].is_ascii_alphabetic() && b[2].is_ascii_digit() && b[3].is_ascii_digit()) {
        return Err(invalid("iban", msg));
    }
    if let Some((_, len)) = IBAN_LENGTHS.iter().find(|(c, _)| *c == &iban[..2]) {
        if iban.len() != *len {
            return Err(invalid("iban", format!("An IBAN from {} has {len} characters, this one has {}.", &iban[..2], iban.len())));
        }
    }
    // ISO 7064 mod 97-10: the first four characters moved to the end, letters as 10..35.
    let mut rem: u32 = 0;
    for c in iban[4..].bytes().chain(iban[..4].bytes()) {
        let v = if c.is_ascii_digit() { u32::from(c - b'0') } else { u32::from(c - b'A') + 10 };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    if rem != 1 {
        return Err(invalid("iban", "This IBAN's check digits do not match: a character is probably mistyped."));
    }
    Ok(iban)
}

fn normalise_bic(s: &str) -> Result<String, Invalid> {
    let bic = s.trim().to_ascii_uppercase();
    let b = bic.as_bytes();
    let ok =
        (bic.len() == 8 || bic.len() == 11) && b[..6].iter().all(u8::is_ascii_alphabetic) && b[6..].iter().all(u8::is_ascii_alphanumeric);
    if ok {
        Ok(bic)
    } else {
        Err(invalid("bic", "A BIC (SWIFT code) has 8 or 11 characters, like DEUTDEFF or DEUTDEFF500."))
    }
}

/// The ABA routing number's checksum: 3·(d1+d4+d7) + 7·(d2+d5+d8) + (d3+d6+d9) ≡ 0 (mod 10).
fn aba_checksum_ok(d: &str) -> bool {
    let v: Vec<u32> = d.bytes().map(|b| u32::from(b - b'0')).collect();
    v.len() == 9 && (3 * (v[0] + v[3] + v[6]) + 7 * (v[1] + v[4] + v[7]) + (v[2] + v[5] + v[8])) % 10 == 0
}

/// The last `n` characters of `s` behind stars: `****6789`.
pub fn masked_digits(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    let tail: String = chars[chars.len().saturating_sub(n)..].iter().collect();
    format!("****{tail}")
}

impl Account {
    /// The account in its normal form (digits only, the BSB as 6 digits, the IBAN upper-case
    /// without spaces), or why it would be refused: BSB 6 digits (`123-456` accepted), an
    /// Australian account number 5 to 9 digits, an IBAN with its mod-97 check (and its country's
    /// length), a sort code of 6 digits with an 8-digit account, an ABA routing number of 9
    /// digits with its checksum and a 4- to 17-digit account, `checking` or `savings`, a Stripe
    /// account `acct_…`.
    pub fn validate(&self) -> Result<Account, Invalid> {
        match self {
            Account::Australian { bsb, account_number } => Ok(Account::Australian {
                bsb: digits_of_len(bsb, "bsb", 6..=6, "A BSB is 6 digits, like 062-000.")?,
                account_number: digits_of_len(account_number, "account_number", 5..=9, "An Australian account number is 5 to 9 digits.")?,
            }),
            Account::Iban { iban, bic } => Ok(Account::Iban {
                iban: normalise_iban(iban)?,
                bic: match bic.as_deref().map(str::trim) {
                    None | Some("") => None,
                    Some(b) => Some(normalise_bic(b)?),
                },
            }),
            Account::SortCode { sort_code, account_number } => Ok(Account::SortCode {
                sort_code: digits_of_len(sort_code, "sort_code", 6..=6, "A sort code is 6 digits, like 23-14-70.")?,
                account_number: digits_of_len(account_number, "account_number", 8..=8, "A UK account number is 8 digits.")?,
            }),
            Account::Aba { routing_number, account_number, account_type } => {
                let routing = digits_of_len(routing_number, "routing_number", 9..=9, "An ABA routing number is 9 digits, like 021000021.")?;
                if !aba_checksum_ok(&routing) {
                    return Err(invalid(
                        "routing_number",
                        "This routing number's check digit does not match: a digit is probably mistyped.",
                    ));
                }
                let account_type = account_type.trim().to_ascii_lowercase();
                if account_type != "checking" && account_type != "savings" {
                    return Err(invalid("account_type", "The account type is checking or savings."));
                }
                Ok(Account::Aba {
                    routing_number: routing,
                    account_number: digits_of_len(account_number, "account_number", 4..=17, "A US account number is 4 to 17 digits.")?,
                    account_type,
                })
            }
            Account::StripeConnect { account_id } => {
                let id = account_id.trim();
                let ok = id.len() <= 255
                    && id.strip_prefix("acct_").is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()));
                if ok {
                    Ok(Account::StripeConnect { account_id: id.to_string() })
                } else {
                    Err(invalid("account_id", "A Stripe connected account id starts with acct_, like acct_1MTfjCQ9PRzxEwkZ."))
                }
            }
        }
    }

    /// The account as people may see it: enough to recognise it, not enough to use it
    /// (`BSB 062-*** ****6789`, `IBAN DE89 **** 3000`).
    pub fn masked(&self) -> String {
        let only_digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        match self {
            Account::Australian { bsb, account_number } => {
                let b = only_digits(bsb);
                format!("BSB {}-*** {}", b.get(..3).unwrap_or("***"), masked_digits(account_number, 4))
            }
            Account::Iban { iban, .. } => {
                let i: String = iban.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
                let head = i.get(..4).unwrap_or("****");
                let tail = i.get(i.len().saturating_sub(4)..).filter(|_| i.len() >= 8).unwrap_or("****");
                format!("IBAN {head} **** {tail}")
            }
            Account::SortCode { sort_code, account_number } => {
                let s = only_digits(sort_code);
                format!("Sort code {}-**-** {}", s.get(..2).unwrap_or("**"), masked_digits(account_number, 4))
            }
            Account::Aba { routing_number, account_number, .. } => {
                // Routing numbers name a bank, not an account: shown whole.
                format!("ABA {} {}", only_digits(routing_number), masked_digits(account_number, 4))
            }
            Account::StripeConnect { account_id } => format!("Stripe acct_{}", masked_digits(account_id.trim_start_matches("acct_"), 4)),
        }
    }

    /// The currency this account is paid in when its type settles it (AUD for an Australian
    /// account, GBP for a sort code, USD for ABA, EUR for a euro-area IBAN).
    pub fn currency_hint(&self) -> Option<&'static str> {
        match self {
            Account::Australian { .. } => Some("AUD"),
            Account::SortCode { .. } => Some("GBP"),
            Account::Aba { .. } => Some("USD"),
            Account::Iban { iban, .. } => {
                let country = iban.trim().get(..2)?.to_ascii_uppercase();
                EURO_IBAN.contains(&country.as_str()).then_some("EUR")
            }
            Account::StripeConnect { .. } => None,
        }
    }

    /// Wise's recipient type for this account (`None`: not a bank account).
    pub fn wise_type(&self) -> Option<&'static str> {
        match self {
            Account::Australian { .. } => Some("australian"),
            Account::Iban { .. } => Some("iban"),
            Account::SortCode { .. } => Some("sort_code"),
            Account::Aba { .. } => Some("aba"),
            Account::StripeConnect { .. } => None,
        }
    }

    /// Whether this is a bank account (every type but a Stripe connected account).
    pub fn is_bank(&self) -> bool {
        self.wise_type().is_some()
    }

    /// The account number or IBAN (what the sandbox's failure rule looks at).
    pub fn number(&self) -> &str {
        match self {
            Account::Australian { account_number, .. } | Account::SortCode { account_number, .. } | Account::Aba { account_number, .. } => {
                account_number
            }
            Account::Iban { iban, .. } => iban,
            Account::StripeConnect { account_id } => account_id,
        }
    }

    pub(crate) fn kind_label(&self) -> &'static str {
        match self {
            Account::Australian { .. } => "An Australian account",
            Account::Iban { .. } => "This IBAN account",
            Account::SortCode { .. } => "A UK account",
            Account::Aba { .. } => "A US account",
            Account::StripeConnect { .. } => "A Stripe account",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn au(bsb: &str, n: &str) -> Account {
        Account::Australian { bsb: bsb.into(), account_number: n.into() }
    }

    fn field(r: Result<Account, Invalid>) -> &'static str {
        match r {
            Err(e) => e.field,
            Ok(a) => panic!("expected a refusal, got {a:?}"),
        }
    }

    #[test]
    fn australian() {
        assert_eq!(au("062-000", "1234 5678").validate(), Ok(au("062000", "12345678")));
        assert_eq!(au(" 062 000 ", "12345").validate(), Ok(au("062000", "12345")));
        assert_eq!(field(au("06200", "12345678").validate()), "bsb");
        assert_eq!(field(au("0620001", "12345678").validate()), "bsb");
        assert_eq!(field(au("062-00a", "12345678").validate()), "bsb");
        assert_eq!(field(au("062.000", "12345678").validate()), "bsb");
        assert_eq!(field(au("062000", "1234").validate()), "account_number");
        assert_eq!(field(au("062000", "1234567890").validate()), "account_number");
        assert_eq!(field(au("062000", "").validate()), "account_number");
        assert_eq!(au("062-000", "12346789").masked(), "BSB 062-*** ****6789");
        assert_eq!(au("062000", "1").masked(), "BSB 062-*** ****1");
    }

    #[test]
    fn iban() {
        let ok = Account::Iban { iban: "de89 3704 0044 0532 0130 00".into(), bic: Some("deutdeff".into()) };
        assert_eq!(ok.validate(), Ok(Account::Iban { iban: "DE89370400440532013000".into(), bic: Some("DEUTDEFF".into()) }));
        assert_eq!(ok.masked(), "IBAN DE89 **** 3000");
        assert_eq!(ok.currency_hint(), Some("EUR"));
        let gb = Account::Iban { iban: "GB29 NWBK 6016 1331 9268 19".into(), bic: None };
        assert!(gb.validate().is_ok());
        assert_eq!(gb.currency_hint(), None);
        // One digit changed: the check fails.
        assert_eq!(field(Account::Iban { iban: "DE89370400440532013001".into(), bic: None }.validate()), "iban");
        // Wrong length for Germany.
        assert_eq!(field(Account::Iban { iban: "DE8937040044053201300".into(), bic: None }.validate()), "iban");
        assert_eq!(field(Account::Iban { iban: "1234".into(), bic: None }.validate()), "iban");
        assert_eq!(field(Account::Iban { iban: "DE89370400440532013000".into(), bic: Some("DEUT".into()) }.validate()), "bic");
        assert!(Account::Iban { iban: "DE89370400440532013000".into(), bic: Some(" ".into()) }.validate().is_ok());
    }

    #[test]
    fn uk_and_us() {
        let uk = Account::SortCode { sort_code: "23-14-70".into(), account_number: "28821822".into() };
        assert_eq!(uk.validate(), Ok(Account::SortCode { sort_code: "231470".into(), account_number: "28821822".into() }));
        assert_eq!(uk.masked(), "Sort code 23-**-** ****1822");
        assert_eq!(field(Account::SortCode { sort_code: "23147".into(), account_number: "28821822".into() }.validate()), "sort_code");
        assert_eq!(field(Account::SortCode { sort_code: "231470".into(), account_number: "2882182".into() }.validate()), "account_number");
        let us = |r: &str, t: &str| Account::Aba { routing_number: r.into(), account_number: "123456789".into(), account_type: t.into() };
        assert!(us("021000021", "Checking").validate().is_ok());
        assert!(us("011401533", "savings").validate().is_ok());
        assert_eq!(field(us("021000022", "checking").validate()), "routing_number");
        assert_eq!(field(us("02100002", "checking").validate()), "routing_number");
        assert_eq!(field(us("021000021", "brokerage").validate()), "account_type");
        assert_eq!(us("021000021", "checking").masked(), "ABA 021000021 ****6789");
        assert_eq!(us("021000021", "checking").currency_hint(), Some("USD"));
    }

    #[test]
    fn stripe_connect() {
        let a = Account::StripeConnect { account_id: "acct_1MTfjCQ9PRzxEwkZ".into() };
        assert!(a.validate().is_ok());
        assert!(!a.is_bank());
        assert_eq!(a.masked(), "Stripe acct_****EwkZ");
        assert_eq!(field(Account::StripeConnect { account_id: "acct_".into() }.validate()), "account_id");
        assert_eq!(field(Account::StripeConnect { account_id: "cus_123".into() }.validate()), "account_id");
    }

    #[test]
    fn serde_shape() {
        let v = serde_json::to_value(au("062000", "12345678")).expect("json");
        assert_eq!(v, serde_json::json!({"type": "australian", "bsb": "062000", "account_number": "12345678"}));
        let back: Account =
            serde_json::from_value(serde_json::json!({"type": "sort_code", "sort_code": "231470", "account_number": "28821822"}))
                .expect("parse");
        assert!(matches!(back, Account::SortCode { .. }));
    }

    proptest::proptest! {
        /// Whatever is typed, validation answers (never panics) and masking never shows more
        /// than four characters of an account number.
        #[test]
        fn any_input_is_answered(bsb in ".{0,12}", n in ".{0,20}", iban in ".{0,40}") {
            let _ = au(&bsb, &n).validate();
            let _ = au(&bsb, &n).masked();
            let _ = Account::Iban { iban: iban.clone(), bic: Some(bsb.clone()) }.validate();
            let _ = Account::Iban { iban, bic: None }.masked();
            if let Ok(a) = au(&bsb, &n).validate() {
                let shown = a.masked();
                proptest::prop_assert!(shown.ends_with(&a.number()[a.number().len() - 4..]));
                proptest::prop_assert!(!shown.contains(a.number()) || a.number().len() <= 4);
            }
        }
    }
}
