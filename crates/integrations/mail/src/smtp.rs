use crate::{split_address, MailError, Message, Transport};
use lettre::message::Attachment as Part;
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

/// The MIME message for `msg`: the text and HTML as alternatives; inline images beside the HTML
/// in a `multipart/related` (each with its `Content-ID`); files in an outer `multipart/mixed`.
pub(crate) fn build(from: &str, msg: &Message) -> Result<lettre::Message, MailError> {
    let mut b = lettre::Message::builder().from(mailbox(from)?).to(mailbox(&msg.to)?).subject(&msg.subject);
    if let Some(id) = &msg.message_id {
        b = b.message_id(Some(format!("<{id}@lsn>")));
    }
    let content_type = |t: &str| ContentType::parse(t).map_err(|e| MailError::Permanent(format!("bad content type {t:?}: {e}")));
    let Some(html) = &msg.html else {
        if msg.attachments.is_empty() {
            return b
                .header(ContentType::TEXT_PLAIN)
                .body(msg.text.clone())
                .map_err(|e| MailError::Permanent(format!("cannot build message: {e}")));
        }
        // Without HTML nothing shows an image inline: every attachment is a file.
        let mut mixed = MultiPart::mixed().singlepart(SinglePart::plain(msg.text.clone()));
        for a in &msg.attachments {
            mixed = mixed.singlepart(Part::new(a.filename.clone()).body(a.content.clone(), content_type(&a.content_type)?));
        }
        return b.multipart(mixed).map_err(|e| MailError::Permanent(format!("cannot build message: {e}")));
    };
    let mut body = MultiPart::alternative().singlepart(SinglePart::plain(msg.text.clone())).singlepart(SinglePart::html(html.clone()));
    let (inline, files): (Vec<_>, Vec<_>) = msg.attachments.iter().partition(|a| a.is_inline());
    if !inline.is_empty() {
        let mut related = MultiPart::related().multipart(body);
        for a in inline {
            let id = a.content_id.clone().unwrap_or_default();
            related = related.singlepart(Part::new_inline(id).body(a.content.clone(), content_type(&a.content_type)?));
        }
        body = related;
    }
    if !files.is_empty() {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in files {
            mixed = mixed.singlepart(Part::new(a.filename.clone()).body(a.content.clone(), content_type(&a.content_type)?));
        }
        body = mixed;
    }
    let email = b.multipart(body);
    email.map_err(|e| MailError::Permanent(format!("cannot build message: {e}")))
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
        let email = build(from, msg)?;
        match self.inner.send(email).await {
            Ok(resp) => Ok(resp.message().next().map(str::to_string)),
            Err(e) if e.is_permanent() => Err(MailError::Permanent(e.to_string())),
            Err(e) => Err(MailError::Transient(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Attachment;

    fn report() -> Message {
        Message {
            to: "founder@shop.example".into(),
            subject: "Summary".into(),
            text: "Revenue".into(),
            html: Some("<img src=\"cid:chart-revenue\">".into()),
            message_id: Some("daily-summary-2026-12-01".into()),
            attachments: vec![
                Attachment::inline("chart-revenue", "revenue.png", "image/png", vec![137, 80, 78, 71]),
                Attachment::file("orders.csv", "text/csv", b"number,total\nLSN-1,10.00\n".to_vec()),
            ],
            ..Message::default()
        }
    }

    #[test]
    fn inline_images_are_related_to_the_html_and_files_are_mixed_in() {
        let raw = String::from_utf8(build("LSN <no-reply@shop.example>", &report()).expect("build").formatted()).expect("utf-8");
        let at = |needle: &str| raw.find(needle).unwrap_or_else(|| panic!("{needle:?} in:\n{raw}"));
        assert!(at("multipart/mixed") < at("multipart/related"), "{raw}");
        assert!(at("multipart/related") < at("multipart/alternative"), "{raw}");
        assert!(at("text/plain") < at("text/html"), "{raw}");
        at("Content-ID: <chart-revenue>");
        at("Content-Disposition: inline");
        at("Content-Disposition: attachment; filename=\"orders.csv\"");
        assert!(at("orders.csv") < at("number,total\nLSN-1,10.00"), "{raw}");
        at("iVBORw==");
        // Without attachments the message stays as it was.
        let plain = Message { attachments: Vec::new(), html: None, ..report() };
        let raw = String::from_utf8(build("a@b.co", &plain).expect("build").formatted()).expect("utf-8");
        assert!(!raw.contains("multipart") && raw.contains("Content-Type: text/plain"), "{raw}");
        let bad = Message { attachments: vec![Attachment::file("x", "not a type", vec![1])], ..report() };
        assert!(matches!(build("a@b.co", &bad), Err(MailError::Permanent(_))));
    }
}
