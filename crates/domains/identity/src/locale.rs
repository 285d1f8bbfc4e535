//! The language an account chose: kept with the account so it follows the person to every
//! device (signing in sets the browser's `lsn_locale` cookie from it).

use crate::service::Identity;
use crate::IdentityError;
use lsn_core::i18n::Locale;
use lsn_db::RowExt;

impl Identity {
    /// The account's chosen language, if it chose one that LSN still speaks.
    pub async fn locale_of(&self, user: &str) -> Result<Option<Locale>, IdentityError> {
        let row = lsn_db::query("SELECT locale FROM users WHERE id = $1").bind(user).fetch_optional(self.db.read()).await?;
        let tag: Option<String> = match row {
            Some(r) => r.try_get("locale")?,
            None => None,
        };
        Ok(tag.as_deref().and_then(Locale::parse))
    }

    /// Keeps `locale` as the account's language (`None`: follow the browser).
    pub async fn set_locale(&self, user: &str, locale: Option<Locale>) -> Result<(), IdentityError> {
        lsn_db::query("UPDATE users SET locale = $1 WHERE id = $2")
            .bind(locale.map(Locale::tag))
            .bind(user)
            .execute(self.db.write())
            .await?;
        Ok(())
    }
}
