//! Who may call an operation: the rights an API key carries ([`Scope`]), the kinds of caller an
//! operation admits ([`Access`]) and a routed operation with its access ([`RouteAccess`]). Plain
//! data, so every layer can name them; `lsn_identity::access` checks a caller against them.

/// A right an API key may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    CatalogRead,
    CatalogWrite,
    OrdersRead,
    OrdersWrite,
    LiveWrite,
    /// A creator's own portal: their links, earnings, payouts and statements.
    Creators,
    /// Everything the key's user may do.
    Admin,
}

impl Scope {
    pub const ALL: &'static [Scope] =
        &[Scope::CatalogRead, Scope::CatalogWrite, Scope::OrdersRead, Scope::OrdersWrite, Scope::LiveWrite, Scope::Creators, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::CatalogRead => "catalog:read",
            Scope::CatalogWrite => "catalog:write",
            Scope::OrdersRead => "orders:read",
            Scope::OrdersWrite => "orders:write",
            Scope::LiveWrite => "live:write",
            Scope::Creators => "creators",
            Scope::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.iter().copied().find(|x| x.as_str() == s)
    }
}

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, visitors included (a guest's order is reached with its token). A caller who
    /// presents an API key needs the scope, when there is one.
    Anyone(Option<Scope>),
    /// A signed-in user; an API key needs the scope, when there is one.
    SignedIn(Option<Scope>),
    /// A creator, admin or owner (a show's host is checked by the operation); a key needs the scope.
    Creator(Scope),
    /// An admin or owner; a key needs the scope.
    Staff(Scope),
    /// An admin or owner in a browser session: never an API key (minting keys).
    StaffSession,
    /// A signed-in user in a browser session: never an API key (changing one's password).
    Session,
}

impl Access {
    pub const PUBLIC: Access = Access::Anyone(None);

    /// The scope an API key needs, if any.
    pub fn scope(self) -> Option<Scope> {
        match self {
            Access::Anyone(s) | Access::SignedIn(s) => s,
            Access::Creator(s) | Access::Staff(s) => Some(s),
            Access::StaffSession | Access::Session => None,
        }
    }

    /// A name for documents and tests: `public`, `signed-in`, `creator`, `staff`,
    /// `staff-session`, `session`, followed by `:<scope>` when a key needs one.
    pub fn label(self) -> String {
        let base = match self {
            Access::Anyone(_) => "public",
            Access::SignedIn(_) => "signed-in",
            Access::Creator(_) => "creator",
            Access::Staff(_) => "staff",
            Access::StaffSession => "staff-session",
            Access::Session => "session",
        };
        match self.scope() {
            Some(s) => format!("{base}:{}", s.as_str()),
            None => base.to_string(),
        }
    }
}

/// One routed operation and who may call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAccess {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
}
