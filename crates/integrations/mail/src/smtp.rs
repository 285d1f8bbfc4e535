use crate::{split_address, MailError, Message, Transport};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

/// SMTP through lettre. `smtp://host:port` speaks plain SMTP with STARTTLS when the server offers
/// it... unless it is a loopback address, where plain text is allowed for local relays and tests;
/// `smtps://` uses implicit TLS.
#[derive(Clone)]
pub struct SmtpTransport {
    inner: AsyncSmtpTransport<Tokio1Executor>,
    server: String,
}

impl std::fmt::Debug for SmtpTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpTransport").field("server", &self.server).finish()
    }
}

impl SmtpTransport {
    pub fn from_url(url: &str) -> Result<Self, MailError> {
        let parsed = url::Url::parse(url).map_err(|e| MailError::Permanent(format!("SMTP_URL is not a URL: {e}")))?;
        let host = parsed.host_str().ok_or_else(|| MailError::Permanent("SMTP_URL has no host".into()))?.to_string();
        let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().map(|ip| ip.is_loopback()).unwrap_or(false);
        let mut builder = match (parsed.scheme(), loopback) {
            ("smtps", _) => AsyncSmtpTransport::<Tokio1Executor>::relay(&host).map_err(|e| MailError::Permanent(e.to_string()))?,
            ("smtp", true) => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host),
            ("smtp", false) => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&host).map_err(|e| MailError::Permanent(e.to_string()))?
            }
            (other, _) => return Err(MailError::Permanent(format!("SMTP_URL scheme {other} is not smtp or smtps"))),
        };
        if let Some(port) = parsed.port() {
            builder = builder.port(port);
        }
        if !parsed.username().is_empty() {
            let user = url_decode(parsed.username());
            let pass = url_decode(parsed.password().unwrap_or(""));
            builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(user, pass));
        }
        builder = builder.timeout(Some(std::time::Duration::from_secs(20)));
        Ok(Self { inner: builder.build(), server: format!("{host}:{}", parsed.port().unwrap_or(25)) })
    }
}

fn url_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
}

fn mailbox(addr: &str) -> Result<Mailbox, MailError> {
    let (name, email) = split_address(addr);
    let email = email.parse().map_err(|e| MailError::Permanent(format!("bad address {email:?}: {e}")))?;
    Ok(Mailbox::new(name.map(str::to_string), email))
}

#[async_trait::async_trait]
impl Transport for SmtpTransport {
    fn name(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, from: &str, msg: &Message) -> Result<Option<String>, MailError> {
        let mut b = lettre::Message::builder().from(mailbox(from)?).to(mailbox(&msg.to)?).subject(&msg.subject);
        if let Some(id) = &msg.message_id {
            b = b.message_id(Some(format!("<{id}@lsn>")));
        }
        let email = match &msg.html {
            None => b.header(ContentType::TEXT_PLAIN).body(msg.text.clone()),
            Some(html) => b.multipart(
                MultiPart::alternative().singlepart(SinglePart::plain(msg.text.clone())).singlepart(SinglePart::html(html.clone())),
            ),
        }
        .map_err(|e| MailError::Permanent(format!("cannot build message: {e}")))?;
        match self.inner.send(email).await {
            Ok(resp) => Ok(resp.message().next().map(str::to_string)),
            Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string())),
        }
    }
}
