//! The admin shell (`admin_base.html`: the navigation every module adds to) and its tables:
//! a heading, columns, rows of cells (text, a link, a number, a small form), a filter and a
//! form above. Column headings and the empty-table text are message keys.

use crate::{Chrome, Ctx, FormState, PageResult};
use askama::Template;

#[derive(Default)]
pub struct Cell {
    pub text: String,
    pub href: Option<String>,
    pub num: bool,
    pub form: Option<CellForm>,
}

/// A form in a cell: hidden fields, perhaps a select, and its button.
pub struct CellForm {
    pub action: String,
    pub hidden: Vec<(String, String)>,
    pub select: Option<Select>,
    pub button: String,
}

pub struct Select {
    pub id: String,
    pub name: String,
    pub label: String,
    pub options: Vec<(String, String)>,
    pub selected: String,
}

pub fn cell(s: impl Into<String>) -> Cell {
    Cell { text: s.into(), ..Default::default() }
}

pub fn link(s: impl Into<String>, href: impl Into<String>) -> Cell {
    Cell { text: s.into(), href: Some(href.into()), ..Default::default() }
}

pub fn num(s: impl Into<String>) -> Cell {
    Cell { text: s.into(), num: true, ..Default::default() }
}

/// A table: its `columns` and `empty` are message keys (translated by the template).
#[derive(Default)]
pub struct Table {
    pub key: &'static str,
    pub heading: String,
    pub columns: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
    pub empty: &'static str,
}

/// The filter above a table: a select, a search box, or both.
pub struct Filter {
    pub action: &'static str,
    pub select: Option<Select>,
    pub search: bool,
    pub q: String,
}

/// A form above a table (name, label, input type, value per field).
pub struct Extra {
    pub action: String,
    pub heading: String,
    pub fields: Vec<(&'static str, String, &'static str, String)>,
    pub button: String,
}

#[derive(Template)]
#[template(path = "admin_table.html")]
pub struct TablePage {
    pub chrome: Chrome,
    pub nav: Vec<(&'static str, &'static str)>,
    pub active: &'static str,
    pub error: Option<String>,
    pub notice: Option<String>,
    pub filter: Option<Filter>,
    pub extra: Option<Extra>,
    pub form: FormState,
    pub table: Table,
}

impl Ctx {
    /// The admin navigation the modules declared.
    pub fn nav(&self) -> Vec<(&'static str, &'static str)> {
        self.site.nav.get().cloned().unwrap_or_default()
    }
}

/// An admin page that is one table (with perhaps a filter, a form and a notice).
pub async fn table_page(
    ctx: &Ctx,
    title: &str,
    active: &'static str,
    table: Table,
    filter: Option<Filter>,
    extra: Option<Extra>,
    notice: Option<String>,
) -> PageResult {
    let page = TablePage {
        chrome: ctx.chrome(title, "admin", None).await,
        nav: ctx.nav(),
        active,
        error: None,
        notice,
        filter,
        extra,
        form: FormState::default(),
        table,
    };
    Ok(ctx.ok(&page))
}

/// The query of an admin list: a search, a status filter, a notice to show.
#[derive(serde::Deserialize, Default)]
pub struct AdminArgs {
    pub q: Option<String>,
    pub status: Option<String>,
    pub notice: Option<String>,
}

/// A moment as the admin tables show it (date and time, the shop's zone, the page's language).
pub fn when(ctx: &Ctx, ms: i64) -> String {
    ctx.local_time(ms, lsn_core::i18n::DateStyle::DateTime)
}

/// The admin message a redirect asks for by name (`?notice=refund_pending` →
/// `admin-notice-refund-pending`); a name with no message shows nothing.
pub fn admin_notice(name: Option<&str>) -> Option<String> {
    crate::message_by_name("admin-notice", name?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn admin_notices_are_messages_by_name_only() {
        assert_eq!(super::admin_notice(Some("refund_pending")).map(|n| n.starts_with("Refund sent")), Some(true));
        assert_eq!(super::admin_notice(Some("../etc")), None);
        assert_eq!(super::admin_notice(Some("nothing_like_it")), None);
    }
}
