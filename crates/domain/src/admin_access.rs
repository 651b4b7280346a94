//! Who may do what through the admin API, by Keycloak's rule. The caller is a user (a person or
//! a client's service account) of the realm that issued the bearer token, through any client of
//! that realm, and the user's roles as stored now decide:
//!
//! - a user of `master` with the realm role `admin` administers every realm;
//! - a user of `master` with `create-realm` may create realms;
//! - a user of realm R with roles of R's management client — `realm-management`, or
//!   `master-realm` in `master` — administers R as far as those roles go: `realm-admin` is
//!   everything, `manage-X` includes `view-X`;
//! - a user of `master` holding those roles on master's client `R-realm` administers R likewise.
//!
//! Anything else is refused (403), whatever the token's client.

use crate::User;

/// The realm whose administrators may administer every realm.
pub const MASTER: &str = "master";
/// The realm role of `master` that administers everything.
pub const ADMIN_ROLE: &str = "admin";
/// The realm role of `master` that may create realms.
pub const CREATE_REALM_ROLE: &str = "create-realm";
/// The client whose roles administer its own realm.
pub const REALM_MANAGEMENT: &str = "realm-management";
/// The role of the management client that holds every other.
pub const REALM_ADMIN: &str = "realm-admin";

/// One thing an admin request does to a realm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    ViewRealm,
    ManageRealm,
    ViewUsers,
    ManageUsers,
    ViewClients,
    ManageClients,
    ViewEvents,
    ManageEvents,
}

impl Permission {
    /// The management client's role that grants this.
    pub fn role(self) -> &'static str {
        match self {
            Permission::ViewRealm => "view-realm",
            Permission::ManageRealm => "manage-realm",
            Permission::ViewUsers => "view-users",
            Permission::ManageUsers => "manage-users",
            Permission::ViewClients => "view-clients",
            Permission::ManageClients => "manage-clients",
            Permission::ViewEvents => "view-events",
            Permission::ManageEvents => "manage-events",
        }
    }

    /// The role that grants this besides its own: managing includes viewing.
    fn included_in(self) -> Option<Permission> {
        match self {
            Permission::ViewRealm => Some(Permission::ManageRealm),
            Permission::ViewUsers => Some(Permission::ManageUsers),
            Permission::ViewClients => Some(Permission::ManageClients),
            Permission::ViewEvents => Some(Permission::ManageEvents),
            _ => None,
        }
    }

    pub const ALL: [Permission; 8] = [
        Permission::ViewRealm,
        Permission::ManageRealm,
        Permission::ViewUsers,
        Permission::ManageUsers,
        Permission::ViewClients,
        Permission::ManageClients,
        Permission::ViewEvents,
        Permission::ManageEvents,
    ];
}

/// The management client of realm `target` whose roles a user of realm `own` would hold.
fn management_client(own: &str, target: &str) -> Option<String> {
    match (own == target, own == MASTER) {
        (true, true) => Some(format!("{MASTER}-realm")),
        (true, false) => Some(REALM_MANAGEMENT.to_string()),
        (false, true) => Some(format!("{target}-realm")),
        (false, false) => None,
    }
}

/// The caller of an admin request: the realm that issued its token and the token's user.
pub struct Caller<'a> {
    pub realm: &'a str,
    pub user: &'a User,
}

impl Caller<'_> {
    /// `admin` of `master`: every realm, every operation.
    pub fn is_super_admin(&self) -> bool {
        self.realm == MASTER && self.user.realm_roles.iter().any(|r| r == ADMIN_ROLE)
    }

    pub fn may_create_realm(&self) -> bool {
        self.is_super_admin()
            || (self.realm == MASTER
                && self.user.realm_roles.iter().any(|r| r == CREATE_REALM_ROLE))
    }

    fn management_roles(&self, target: &str) -> &[String] {
        management_client(self.realm, target)
            .and_then(|c| self.user.client_roles.get(&c))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// Whether the caller may do `p` in realm `target`.
    pub fn may(&self, target: &str, p: Permission) -> bool {
        if self.is_super_admin() {
            return true;
        }
        let roles = self.management_roles(target);
        let has = |role: &str| roles.iter().any(|r| r == role);
        has(REALM_ADMIN) || has(p.role()) || p.included_in().is_some_and(|q| has(q.role()))
    }

    /// Whether the caller administers anything in `target` (the realm appears in its list).
    pub fn sees(&self, target: &str) -> bool {
        Permission::ALL.iter().any(|p| self.may(target, *p))
    }

    /// The first administrative role that `after` gains over `before` and that the caller may
    /// not give, as Keycloak decides it: managing users is enough for ordinary roles, but an
    /// admin role (`admin` and `create-realm` of `master`, any role of a management client) can
    /// only be given by someone who holds it, or by an `admin` of `master`.
    pub fn ungrantable(&self, target: &str, before: &User, after: &User) -> Option<String> {
        if self.is_super_admin() {
            return None;
        }
        let mine = self.realm == target;
        let realm_role = after
            .realm_roles
            .iter()
            .filter(|r| !before.realm_roles.contains(r))
            .filter(|r| target == MASTER && (*r == ADMIN_ROLE || *r == CREATE_REALM_ROLE))
            .find(|r| !(mine && self.user.realm_roles.contains(r)))
            .map(|r| format!("realm role '{r}'"));
        let client_role = || {
            after.client_roles.iter().find_map(|(client, roles)| {
                let admin_client = if target == MASTER {
                    client.ends_with("-realm")
                } else {
                    client == REALM_MANAGEMENT
                };
                let had = before.client_roles.get(client);
                let held = self.user.client_roles.get(client).filter(|_| mine);
                roles
                    .iter()
                    .filter(|_| admin_client)
                    .filter(|r| !had.is_some_and(|h| h.contains(r)))
                    .find(|r| !held.is_some_and(|h| h.contains(r)))
                    .map(|r| format!("role '{r}' of client '{client}'"))
            })
        };
        realm_role.or_else(client_role).map(|role| {
            format!(
                "user '{}' of realm '{}' cannot give the {role}: an administrative role can only \
                 be given by someone who holds it",
                self.user.username, self.realm
            )
        })
    }

    /// Why `p` in `target` is refused, in words an administrator can act on.
    pub fn refusal(&self, target: &str, p: Permission) -> String {
        let who = format!("user '{}' of realm '{}'", self.user.username, self.realm);
        match management_client(self.realm, target) {
            None => format!(
                "{who} cannot administer realm '{target}': only realm '{target}' itself, or \
                 realm '{MASTER}', issues tokens for it"
            ),
            Some(client) => format!(
                "{who} needs the role '{}' (or '{}') of client '{client}' to do this in realm \
                 '{target}'{}",
                p.role(),
                p.included_in().map(|q| q.role()).unwrap_or(REALM_ADMIN),
                if self.realm == MASTER {
                    format!(", or the realm role '{ADMIN_ROLE}'")
                } else {
                    String::new()
                }
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn user(realm_roles: &[&str], client: &str, roles: &[&str]) -> User {
        User {
            id: "u".into(),
            realm_id: "r".into(),
            username: "u".into(),
            enabled: true,
            email: None,
            email_verified: false,
            first_name: None,
            last_name: None,
            attributes: BTreeMap::new(),
            realm_roles: realm_roles.iter().map(|r| r.to_string()).collect(),
            client_roles: BTreeMap::from([(
                client.to_string(),
                roles.iter().map(|r| r.to_string()).collect(),
            )]),
            groups: vec![],
            service_account_client_id: None,
            created_at: 0,
        }
    }

    #[test]
    fn master_admin_administers_every_realm() {
        let u = user(&["admin"], "x", &[]);
        let c = Caller {
            realm: "master",
            user: &u,
        };
        assert!(c.may_create_realm());
        for p in Permission::ALL {
            assert!(c.may("shop", p) && c.may("master", p));
        }
    }

    #[test]
    fn admin_of_another_realm_is_nobody() {
        let u = user(&["admin", "create-realm"], REALM_MANAGEMENT, &[REALM_ADMIN]);
        let c = Caller {
            realm: "shop",
            user: &u,
        };
        assert!(!c.may_create_realm());
        assert!(c.may("shop", Permission::ManageClients), "its own realm");
        assert!(!c.sees("other"));
        assert!(c
            .refusal("other", Permission::ViewUsers)
            .contains("cannot administer"));
    }

    #[test]
    fn fine_grained_roles_go_as_far_as_they_say() {
        let u = user(&[], REALM_MANAGEMENT, &["manage-users", "view-events"]);
        let c = Caller {
            realm: "shop",
            user: &u,
        };
        assert!(c.may("shop", Permission::ManageUsers));
        assert!(c.may("shop", Permission::ViewUsers), "manage includes view");
        assert!(c.may("shop", Permission::ViewEvents));
        assert!(!c.may("shop", Permission::ManageEvents));
        assert!(!c.may("shop", Permission::ViewClients));
        assert!(!c.may("shop", Permission::ViewRealm));
        let why = c.refusal("shop", Permission::ManageClients);
        assert!(
            why.contains("'manage-clients'") && why.contains("'realm-management'"),
            "{why}"
        );
    }

    #[test]
    fn ordinary_roles_are_given_by_managing_users_admin_roles_only_by_their_holders() {
        let me = user(&[], REALM_MANAGEMENT, &["manage-users"]);
        let c = Caller {
            realm: "shop",
            user: &me,
        };
        let before = user(&["user"], "web", &[]);
        let ordinary = user(&["user", "buyer"], "web", &["reader"]);
        assert_eq!(c.ungrantable("shop", &before, &ordinary), None);
        let escalated = user(
            &["user"],
            REALM_MANAGEMENT,
            &["manage-users", "realm-admin"],
        );
        let why = c.ungrantable("shop", &before, &escalated).unwrap();
        assert!(
            why.contains("'realm-admin' of client 'realm-management'"),
            "{why}"
        );
        let same = user(&["user"], REALM_MANAGEMENT, &["manage-users"]);
        assert_eq!(
            c.ungrantable("shop", &before, &same),
            None,
            "a role it holds"
        );
        // In master, `admin` is an admin role; elsewhere a realm role called admin is not.
        let m = Caller {
            realm: "master",
            user: &me,
        };
        let admin = user(&["admin"], "web", &[]);
        assert!(m.ungrantable("master", &before, &admin).is_some());
        assert_eq!(c.ungrantable("shop", &before, &admin), None);
        let boss = user(&["admin"], "x", &[]);
        let root = Caller {
            realm: "master",
            user: &boss,
        };
        assert_eq!(root.ungrantable("shop", &before, &escalated), None);
    }

    #[test]
    fn master_users_use_the_realms_client_in_master() {
        let u = user(&[], "shop-realm", &["view-users"]);
        let c = Caller {
            realm: "master",
            user: &u,
        };
        assert!(c.may("shop", Permission::ViewUsers));
        assert!(!c.may("shop", Permission::ManageUsers));
        assert!(!c.may("master", Permission::ViewUsers));
        assert!(!c.may_create_realm());
        let v = user(&["create-realm"], "master-realm", &["view-realm"]);
        let c = Caller {
            realm: "master",
            user: &v,
        };
        assert!(c.may_create_realm() && c.may("master", Permission::ViewRealm));
        assert!(!c.sees("shop"));
    }
}
