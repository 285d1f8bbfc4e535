//! The shop's e-mails, in one place: the runbook's eight templates (order confirmation,
//! shipping notification, delivery confirmation, password reset, welcome, daily summary,
//! low-stock alert, fraud alert), each an HTML part and a plain-text part from askama templates
//! with one shared layout (`templates/mail/layout.*`), every string a Fluent message
//! (`locales/*/mail.ftl`, `summary.ftl`) in the language of the work in progress, money and dates
//! in its formats.
//!
//! A domain fills a template's data and calls [`Brand::render`] (or [`summary`]); what comes out
//! is a [`Mail`] to address and queue (`lsn_ops::builtin::queue_mail`). This crate never sends or
//! stores anything.

pub mod charts;
mod templates;

pub use templates::*;

use lsn_core::money::Money;
use lsn_mail::Attachment;

/// A rendered mail: what a [`lsn_mail::Message`] needs besides its address and ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
}

impl Mail {
    /// The message to `to`, labelled `tag` (`order_confirmation`, …), with LSN's id for it when the
    /// sender has one (a mail sent once per order keeps its id across retries).
    pub fn message(self, to: &str, tag: &str, message_id: Option<String>) -> lsn_mail::Message {
        lsn_mail::Message {
            to: to.to_string(),
            subject: self.subject,
            text: self.text,
            html: Some(self.html),
            tag: Some(tag.to_string()),
            message_id,
            attachments: self.attachments,
        }
    }
}

/// Who sends: the shop's name and its public address (links and the footer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Brand {
    pub shop: String,
    pub url: String,
}

impl Brand {
    pub fn new(shop: &str, url: &str) -> Self {
        Self { shop: shop.to_string(), url: url.trim_end_matches('/').to_string() }
    }

    /// `path` under the shop's address.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }
}

/// The translation calls a template makes (`{{ tr.t("key") }}`), in the current language.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tr;

impl Tr {
    pub fn t(&self, key: &str) -> String {
        lsn_core::i18n::t(key)
    }

    pub fn t1(&self, key: &str, name: &str, value: impl std::fmt::Display) -> String {
        lsn_core::i18n::t_args(key, &[(name, &value.to_string())])
    }

    pub fn t2(&self, key: &str, n1: &str, v1: impl std::fmt::Display, n2: &str, v2: impl std::fmt::Display) -> String {
        lsn_core::i18n::t_args(key, &[(n1, &v1.to_string()), (n2, &v2.to_string())])
    }

    pub fn money(&self, m: &Money) -> String {
        lsn_core::i18n::money(*m)
    }

    pub fn date(&self, at: &chrono::DateTime<chrono_tz::Tz>) -> String {
        lsn_core::i18n::datetime(at, lsn_core::i18n::DateStyle::DateTime)
    }

    /// The language tag (`<html lang>`).
    pub fn lang(&self) -> &'static str {
        lsn_core::i18n::current().tag()
    }
}

#[derive(Debug)]
pub enum MailError {
    Template(askama::Error),
    Chart(charts::ChartError),
}

impl std::fmt::Display for MailError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MailError::Template(e) => write!(f, "mail template: {e}"),
            MailError::Chart(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MailError {}

impl From<askama::Error> for MailError {
    fn from(e: askama::Error) -> Self {
        MailError::Template(e)
    }
}

impl From<charts::ChartError> for MailError {
    fn from(e: charts::ChartError) -> Self {
        MailError::Chart(e)
    }
}

#[cfg(test)]
mod snapshots;
