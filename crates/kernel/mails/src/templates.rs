//! The eight templates' data and their rendering. Each mail is a data struct the sending domain
//! fills; [`Brand::render`] turns it into both parts through its pair of askama templates.

use crate::{charts, Brand, Mail, MailError, Tr};
use askama::Template;
use lsn_core::i18n::{t, t_args};
use lsn_core::money::Money;
use lsn_mail::Attachment;
use lsn_ops::summary::{Figure, Report, Table};

/// A mail's data: its subject and its two templates.
pub trait MailData {
    fn subject(&self, brand: &Brand) -> String;
    fn html(&self, brand: &Brand, subject: &str) -> askama::Result<String>;
    fn text(&self, brand: &Brand) -> askama::Result<String>;
}

impl Brand {
    /// Both parts of `data`'s mail, in the current language.
    pub fn render(&self, data: &impl MailData) -> Result<Mail, MailError> {
        let subject = data.subject(self);
        Ok(Mail { html: data.html(self, &subject)?, text: tidy(&data.text(self)?), subject, attachments: Vec::new() })
    }
}

/// Plain text as a person reads it: at most one blank line in a row, one newline at the end.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut blank = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        blank = if line.is_empty() { blank + 1 } else { 0 };
        if blank < 2 {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The pair of templates of one mail: `templates/mail/<name>.html` and `.txt`, both extending
/// the shared layout, each seeing the data as `m`.
macro_rules! templates {
    ($data:ty, $html:ident, $html_path:literal, $text:ident, $text_path:literal, |$m:ident, $brand:ident| $subject:expr) => {
        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            m: &'a $data,
            brand: &'a Brand,
            subject: &'a str,
            tr: Tr,
        }

        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            m: &'a $data,
            brand: &'a Brand,
            tr: Tr,
        }

        impl MailData for $data {
            fn subject(&self, brand: &Brand) -> String {
                let $m = self;
                let $brand = brand;
                $subject
            }

            fn html(&self, brand: &Brand, subject: &str) -> askama::Result<String> {
                $html { m: self, brand, subject, tr: Tr }.render()
            }

            fn text(&self, brand: &Brand) -> askama::Result<String> {
                $text { m: self, brand, tr: Tr }.render()
            }
        }
    };
}

/// A line of an order as the mails list it.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub quantity: i64,
    pub title: String,
    pub total: Money,
}

// ----------------------------------------------------------------------------- order confirmation

/// Sent once an order is paid (commerce's `order.paid`).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderConfirmation {
    pub number: String,
    pub lines: Vec<Line>,
    pub shipping: Money,
    pub discount: Money,
    pub gst: Money,
    pub total: Money,
    /// The order's page.
    pub link: String,
}

templates!(
    OrderConfirmation,
    OrderConfirmationHtml,
    "mail/order_confirmation.html",
    OrderConfirmationText,
    "mail/order_confirmation.txt",
    |m, _b| t_args("mail-order-subject", &[("number", &m.number)])
);

// ----------------------------------------------------------------------------- shipping

/// Sent when an order leaves the warehouse (the fulfilment domain's shipment, issue 16).
#[derive(Debug, Clone, PartialEq)]
pub struct ShippingNotification {
    pub number: String,
    pub carrier: String,
    pub tracking_number: String,
    /// The carrier's tracking page, when it has one.
    pub tracking_link: Option<String>,
    pub lines: Vec<Line>,
    pub link: String,
}

templates!(
    ShippingNotification,
    ShippingHtml,
    "mail/shipping_notification.html",
    ShippingText,
    "mail/shipping_notification.txt",
    |m, _b| t_args("mail-shipping-subject", &[("number", &m.number)])
);

// ----------------------------------------------------------------------------- delivery

/// Sent when the carrier reports the parcel delivered (`shipment.delivered`, issue 16).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryConfirmation {
    pub number: String,
    pub delivered_at: chrono::DateTime<chrono_tz::Tz>,
    pub link: String,
}

templates!(
    DeliveryConfirmation,
    DeliveryHtml,
    "mail/delivery_confirmation.html",
    DeliveryText,
    "mail/delivery_confirmation.txt",
    |m, _b| t_args("mail-delivery-subject", &[("number", &m.number)])
);

// ----------------------------------------------------------------------------- password reset

/// The one-time link to choose a new password.
#[derive(Debug, Clone, PartialEq)]
pub struct PasswordReset {
    pub link: String,
}

templates!(PasswordReset, ResetHtml, "mail/password_reset.html", ResetText, "mail/password_reset.txt", |_m, _b| t("mail-reset-subject"));

// ----------------------------------------------------------------------------- welcome

/// Sent at registration: the welcome, with the link that confirms the address.
#[derive(Debug, Clone, PartialEq)]
pub struct Welcome {
    pub name: String,
    pub confirm_link: String,
}

templates!(Welcome, WelcomeHtml, "mail/welcome.html", WelcomeText, "mail/welcome.txt", |_m, b| t_args(
    "mail-welcome-subject",
    &[("shop", &b.shop)]
));

// ----------------------------------------------------------------------------- low-stock alert

/// A variant that has run low.
#[derive(Debug, Clone, PartialEq)]
pub struct LowItem {
    pub sku: String,
    pub title: String,
    pub available: i64,
}

/// Sent by the warehouse's hourly low-stock task for the variants that newly ran low.
#[derive(Debug, Clone, PartialEq)]
pub struct LowStockAlert {
    pub items: Vec<LowItem>,
    pub threshold: i64,
    /// The admin's tasks.
    pub link: String,
}

templates!(LowStockAlert, LowStockHtml, "mail/low_stock_alert.html", LowStockText, "mail/low_stock_alert.txt", |m, b| t_args(
    "mail-low-stock-subject",
    &[("shop", &b.shop), ("count", &m.items.len().to_string())]
));

// ----------------------------------------------------------------------------- fraud alert

/// Sent when an order's risk score needs a person (the risk domain, issue 17).
#[derive(Debug, Clone, PartialEq)]
pub struct FraudAlert {
    pub number: String,
    pub amount: Money,
    pub risk_score: i64,
    pub reasons: Vec<String>,
    /// The review queue's page of the case.
    pub link: String,
}

templates!(FraudAlert, FraudHtml, "mail/fraud_alert.html", FraudText, "mail/fraud_alert.txt", |m, _b| t_args(
    "mail-fraud-subject",
    &[("number", &m.number), ("score", &m.risk_score.to_string())]
));

// ----------------------------------------------------------------------------- the summary

/// Where a summary's chart images are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Images {
    /// Inline attachments named by `cid:` (the mail).
    Inline,
    /// Files beside the HTML, named by their file name (`lsn summary --out`).
    Files,
    /// `data:` URIs in the page itself (the admin's page; mail clients block these).
    Embedded,
}

/// A figure as the summary shows it.
pub struct FigureView {
    pub label: String,
    pub value: String,
    pub change: String,
    /// `up`, `down` or empty: the colour of the change.
    pub trend: &'static str,
    pub note: String,
}

pub struct ChartView {
    pub title: String,
    pub alt: String,
    pub src: String,
    pub width: u32,
    pub height: u32,
}

pub struct SectionView {
    pub icon: &'static str,
    pub title: String,
    pub figures: Vec<FigureView>,
    pub notes: Vec<String>,
    pub charts: Vec<ChartView>,
    pub tables: Vec<Table>,
}

/// The report as its templates read it (the admin's page includes the same body).
pub struct SummaryView {
    pub heading: String,
    pub date: String,
    pub sections: Vec<SectionView>,
    pub failed: Vec<(String, String)>,
    pub actions: Vec<String>,
    pub files: Vec<String>,
}

fn figure_view(f: &Figure, report: &Report) -> FigureView {
    let trend = match f.change_pct() {
        Some(p) if p > 0 => "up",
        Some(p) if p < 0 => "down",
        _ => "",
    };
    FigureView {
        label: f.label.clone(),
        value: f.value.text(),
        change: f.change_text(&report.period),
        trend,
        note: f.note.clone().unwrap_or_default(),
    }
}

fn chart_file(id: &str, report: &Report) -> String {
    format!("chart-{id}-{}.png", report.period.slug())
}

impl SummaryView {
    /// The view of `report`, its chart images drawn (as `images` says where they go), and the
    /// attachments the mail carries (inline images for [`Images::Inline`], image files for
    /// [`Images::Files`], and the CSV files).
    pub fn new(report: &Report, images: Images) -> Result<(Self, Vec<Attachment>), MailError> {
        let mut attachments = Vec::new();
        let mut sections = Vec::new();
        for s in &report.sections {
            let mut charts_out = Vec::new();
            for c in &s.charts {
                let bytes = charts::png(c)?;
                let file = chart_file(c.id, report);
                let src = match images {
                    Images::Inline => {
                        let cid = format!("chart-{}", c.id);
                        attachments.push(Attachment::inline(cid.clone(), file, "image/png", bytes));
                        format!("cid:{cid}")
                    }
                    Images::Files => {
                        attachments.push(Attachment::file(file.clone(), "image/png", bytes));
                        file
                    }
                    Images::Embedded => {
                        let a = Attachment::file(file, "image/png", bytes);
                        format!("data:image/png;base64,{}", a.base64())
                    }
                };
                charts_out.push(ChartView { title: c.title.clone(), alt: c.alt(), src, width: charts::WIDTH, height: charts::HEIGHT });
            }
            sections.push(SectionView {
                icon: s.icon,
                title: s.title.clone(),
                figures: s.figures.iter().map(|f| figure_view(f, report)).collect(),
                notes: s.notes.clone(),
                charts: charts_out,
                tables: s.tables.clone(),
            });
        }
        let mut files = Vec::new();
        for (name, bytes) in report.files() {
            files.push(name.clone());
            attachments.push(Attachment::file(name, "text/csv", bytes));
        }
        let heading = t(match report.period.cadence {
            lsn_ops::summary::Cadence::Daily => "summary-heading-daily",
            lsn_ops::summary::Cadence::Weekly => "summary-heading-weekly",
        });
        let view = SummaryView {
            heading: format!("{} - {heading}", report.shop),
            date: t_args("summary-date", &[("date", &report.period.label())]),
            sections,
            failed: report.failed.iter().map(|f| (f.title.clone(), t_args("summary-failed", &[("error", &f.error)]))).collect(),
            actions: report.actions(),
            files,
        };
        Ok((view, attachments))
    }
}

#[derive(Template)]
#[template(path = "mail/daily_summary.html")]
struct SummaryHtml<'a> {
    r: &'a SummaryView,
    brand: &'a Brand,
    subject: &'a str,
    tr: Tr,
}

#[derive(Template)]
#[template(path = "mail/daily_summary.txt")]
struct SummaryText<'a> {
    r: &'a SummaryView,
    brand: &'a Brand,
    tr: Tr,
}

/// The daily summary (or weekly report) mail: HTML with tables and chart images, the plain-text
/// part, the CSV files attached.
pub fn summary(brand: &Brand, report: &Report, images: Images) -> Result<Mail, MailError> {
    let (view, attachments) = SummaryView::new(report, images)?;
    let subject = match report.period.cadence {
        lsn_ops::summary::Cadence::Daily => {
            t_args("summary-mail-subject", &[("shop", &report.shop), ("date", &report.period.first.format("%Y-%m-%d").to_string())])
        }
        lsn_ops::summary::Cadence::Weekly => {
            t_args("summary-weekly-subject", &[("shop", &report.shop), ("period", &report.period.label())])
        }
    };
    let html = SummaryHtml { r: &view, brand, subject: &subject, tr: Tr }.render()?;
    let text = tidy(&SummaryText { r: &view, brand, tr: Tr }.render()?);
    Ok(Mail { subject, text, html, attachments })
}
