//! The back office's accounts and what each may do: roles ([`Role`]), the caller of an admin
//! request ([`Principal`]: the admin token, or a signed-in user), the areas of the admin API
//! ([`Area`]) and the one table that says which role may read or change which area
//! ([`Principal::may`]). Passwords (`password.rs`, Argon2id) and second factors (`totp.rs`,
//! RFC 6238) are here too. Pure: the accounts' rows are `store::users`.

pub mod password;
pub mod totp;

use serde::{Deserialize, Serialize};

use super::store::StoreScope;

/// A back-office account's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, including users, keys, webhooks and the program.
    Owner,
    /// Customers, adjustments, receipts, conflicts, tills and reports of their stores only.
    Manager,
    /// Read-only dashboards and reports.
    Analyst,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Manager => "manager",
            Role::Analyst => "analyst",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text.trim().to_ascii_lowercase().as_str() {
            "owner" => Some(Role::Owner),
            "manager" => Some(Role::Manager),
            "analyst" => Some(Role::Analyst),
            _ => None,
        }
    }
}

/// The parts of the admin API a role is allowed into, each read (GET) or changed (the rest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    /// Customers, their adjustments, activity and QR codes.
    Customers,
    Receipts,
    Conflicts,
    Tills,
    /// The program's versions; changing it publishes a new one.
    Program,
    /// The dashboard and the finance reports (read only, whoever calls).
    Reports,
    Webhooks,
    GiftCards,
    Moysklad,
    Users,
    Audit,
    /// The signed-in user's own password and second factor.
    OwnAccount,
}

/// Whether a request reads or changes its area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Change,
}

impl Access {
    pub fn of(method: &axum::http::Method) -> Access {
        match *method {
            axum::http::Method::GET | axum::http::Method::HEAD => Access::Read,
            _ => Access::Change,
        }
    }
}

/// Who is calling the admin API, put into the request by its guard.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The audit log's `who`: a user's email, or `admin-token`.
    pub who: String,
    /// The user's id; `None` for the admin token.
    pub user_id: Option<String>,
    /// The admin token acts as an owner.
    pub role: Role,
    /// The stores this caller's data is limited to.
    pub scope: StoreScope,
    /// The client's address as the audit log records it.
    pub address: String,
}

/// The audit log's `who` for calls made with the admin token.
pub const ADMIN_TOKEN_WHO: &str = "admin-token";

impl Principal {
    /// The admin token: an owner over the whole chain.
    pub fn admin_token(address: String) -> Principal {
        Principal { who: ADMIN_TOKEN_WHO.to_owned(), user_id: None, role: Role::Owner, scope: StoreScope::All, address }
    }

    /// A signed-in user: a manager is limited to their stores.
    pub fn user(id: String, email: String, role: Role, stores: Vec<String>, address: String) -> Principal {
        let scope = match role {
            Role::Manager => StoreScope::Only(stores),
            Role::Owner | Role::Analyst => StoreScope::All,
        };
        Principal { who: email, user_id: Some(id), role, scope, address }
    }

    /// The one table of who may do what. Checked on the server for every admin route; the
    /// console only hides what this refuses.
    pub fn may(&self, area: Area, access: Access) -> bool {
        use Access::*;
        use Area::*;
        match self.role {
            Role::Owner => match area {
                OwnAccount => self.user_id.is_some(),
                _ => true,
            },
            Role::Manager => matches!(
                (area, access),
                (Customers | Conflicts | Tills | OwnAccount, _) | (Receipts | Reports | Program, Read)
            ),
            Role::Analyst => matches!((area, access), (OwnAccount, _) | (Reports | Program, Read)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role) -> Principal {
        Principal::user("u1".into(), "a@example.com".into(), role, vec!["Arbat".into()], "127.0.0.1".into())
    }

    #[test]
    fn roles_reach_what_the_issue_gives_them() {
        let owner = user(Role::Owner);
        let manager = user(Role::Manager);
        let analyst = user(Role::Analyst);
        assert!(owner.may(Area::Users, Access::Change));
        assert!(owner.may(Area::Program, Access::Change));
        assert!(manager.may(Area::Customers, Access::Change));
        assert!(manager.may(Area::Tills, Access::Change));
        assert!(manager.may(Area::Conflicts, Access::Change));
        assert!(manager.may(Area::Receipts, Access::Read));
        assert!(!manager.may(Area::Program, Access::Change));
        assert!(!manager.may(Area::Webhooks, Access::Read));
        assert!(!manager.may(Area::Users, Access::Read));
        assert!(!manager.may(Area::Audit, Access::Read));
        assert!(analyst.may(Area::Reports, Access::Read));
        assert!(!analyst.may(Area::Reports, Access::Change));
        assert!(!analyst.may(Area::Customers, Access::Read));
        assert!(!analyst.may(Area::Tills, Access::Read));
        assert_eq!(manager.scope, StoreScope::Only(vec!["Arbat".into()]));
        assert_eq!(owner.scope, StoreScope::All);
    }

    #[test]
    fn the_admin_token_is_an_owner_without_an_account() {
        let token = Principal::admin_token("10.0.0.1".into());
        assert!(token.may(Area::Users, Access::Change));
        assert!(!token.may(Area::OwnAccount, Access::Change));
        assert_eq!(token.who, ADMIN_TOKEN_WHO);
    }
}
