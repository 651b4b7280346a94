//! Keycloak's import migrations: an export written by an older Keycloak gains, on import, what
//! that Keycloak's later versions added to every realm (client scopes, the default role), so
//! its tokens carry what the current Keycloak would give.

use super::{builtin, USER_PROFILE, USER_PROFILE_CONFIG};
use crate::keycloak::{
    ClientRepresentation, ComponentRepresentation, CompositesRepresentation, RealmRepresentation,
    RoleRepresentation,
};

/// `major.minor.patch` of a `keycloakVersion` such as `4.8.3.Final` or `26.1.0`.
pub fn version(rep: &RealmRepresentation) -> Option<(u32, u32, u32)> {
    let v = rep.keycloak_version.as_deref()?;
    let mut parts = v.split(['.', '-']).map(|p| p.parse::<u32>().ok());
    let major = parts.next().flatten()?;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// How a migration attaches the scope it adds.
#[derive(Clone, Copy, PartialEq)]
enum Attach {
    /// A default scope of the realm and of every OpenID Connect client that is not bearer-only.
    Default,
    /// An optional one, likewise.
    Optional,
    /// Defined in the realm only.
    Nowhere,
}

/// Client scopes Keycloak's migrations add to realms exported by an older version.
const ADDED_SCOPES: [((u32, u32, u32), &str, Attach); 6] = [
    ((4, 6, 0), "roles", Attach::Default),
    ((4, 6, 0), "web-origins", Attach::Default),
    ((6, 0, 0), "microprofile-jwt", Attach::Optional),
    ((18, 0, 0), "acr", Attach::Default),
    ((25, 0, 0), "basic", Attach::Default),
    ((26, 1, 0), "service_account", Attach::Nowhere),
];

fn attachable(c: &ClientRepresentation) -> bool {
    c.protocol.as_deref().is_none_or(|p| p == "openid-connect") && c.bearer_only != Some(true)
}

/// Migrates `rep` in place; returns one line per change, for the import report. As in
/// Keycloak, an export that does not say which version wrote it is not migrated, except for
/// the default role, which every import without one gets.
pub fn import(rep: &mut RealmRepresentation) -> Vec<String> {
    let mut notes = Vec::new();
    if let (Some(from), Some(_)) = (version(rep), &rep.client_scopes) {
        for (since, name, attach) in ADDED_SCOPES {
            if from < since {
                add_scope(rep, name, attach, &mut notes);
            }
        }
    }
    user_profile(rep, &mut notes);
    default_role(rep, &mut notes);
    missing_roles(rep, &mut notes);
    notes
}

/// Keycloak 24 made the declarative user profile permanent: a realm exported by an older
/// version keeps every attribute visible (its migration sets `unmanagedAttributePolicy`
/// ENABLED); one exported by 24 or later without a profile has Keycloak's default profile, which
/// hides attributes it does not declare.
fn user_profile(rep: &mut RealmRepresentation, notes: &mut Vec<String>) {
    let Some(v) = version(rep) else { return };
    let comps = rep.components.get_or_insert_with(Default::default);
    if comps.get(USER_PROFILE).is_some_and(|l| !l.is_empty()) {
        return;
    }
    let (config, note) = if v < (24, 0, 0) {
        (
            r#"{"unmanagedAttributePolicy":"ENABLED"}"#,
            "user attributes stay visible to protocol mappers (unmanagedAttributePolicy ENABLED, as Keycloak 24's migration sets)",
        )
    } else {
        (
            "{}",
            "no user profile in the export: Keycloak's default profile applies, and protocol mappers see only username, email, firstName and lastName",
        )
    };
    comps.insert(
        USER_PROFILE.to_string(),
        vec![ComponentRepresentation {
            name: Some("Declarative User Profile".into()),
            provider_id: Some("declarative-user-profile".into()),
            config: [(USER_PROFILE_CONFIG.to_string(), vec![config.to_string()])].into(),
            ..Default::default()
        }],
    );
    notes.push(note.to_string());
}

fn add_scope(rep: &mut RealmRepresentation, name: &str, attach: Attach, notes: &mut Vec<String>) {
    let scopes = rep.client_scopes.get_or_insert_with(Vec::new);
    if scopes.iter().any(|s| s.name == name) {
        return;
    }
    let Some(def) = builtin::scope(name) else {
        return;
    };
    scopes.push(def.clone());
    if attach == Attach::Nowhere {
        notes.push(format!(
            "added client scope '{name}' (as Keycloak's migration does)"
        ));
        return;
    }
    let default = attach == Attach::Default;
    let list = if default {
        rep.default_default_client_scopes
            .get_or_insert_with(Vec::new)
    } else {
        rep.default_optional_client_scopes
            .get_or_insert_with(Vec::new)
    };
    if !list.iter().any(|s| s == name) {
        list.push(name.to_string());
    }
    let mut clients = 0;
    for c in rep.clients.iter_mut().flatten().filter(|c| attachable(c)) {
        let list = if default {
            &mut c.default_client_scopes
        } else {
            &mut c.optional_client_scopes
        };
        // A client without the list gets the realm's defaults when it is created.
        if let Some(l) = list {
            if !l.iter().any(|s| s == name) {
                l.push(name.to_string());
                clients += 1;
            }
        }
    }
    notes.push(format!(
        "added client scope '{name}' (as Keycloak's migration does) as {} scope of the realm and of {clients} client(s)",
        if default { "a default" } else { "an optional" }
    ));
}

/// Keycloak 13 replaced the realm's and clients' `defaultRoles` lists with one composite role.
fn default_role(rep: &mut RealmRepresentation, notes: &mut Vec<String>) {
    if rep.default_role.is_some() {
        return;
    }
    let name = builtin::default_role_name(&rep.realm);
    let roles = rep.roles.get_or_insert_with(Default::default);
    if roles.realm.iter().any(|r| r.name == name) {
        return;
    }
    let mut comps = CompositesRepresentation {
        realm: rep.default_roles.clone().unwrap_or_default(),
        ..Default::default()
    };
    for c in rep.clients.iter().flatten() {
        if let Some(d) = c.default_roles.as_ref().filter(|d| !d.is_empty()) {
            comps.client.insert(c.client_id.clone(), d.clone());
        }
    }
    if rep.default_roles.is_none() && comps.client.is_empty() {
        return; // a new realm: the built-in default role applies
    }
    notes.push(format!(
        "defaultRoles became the composite role '{name}' ({} realm and {} client role(s)), as Keycloak 13 migrates them",
        comps.realm.len(),
        comps.client.values().map(Vec::len).sum::<usize>()
    ));
    roles.realm.push(RoleRepresentation {
        name,
        composite: Some(true),
        composites: Some(comps),
        ..Default::default()
    });
}

/// Keycloak creates, on import, a role that a user or group is mapped to but the export does
/// not define.
fn missing_roles(rep: &mut RealmRepresentation, notes: &mut Vec<String>) {
    let mut wanted: Vec<(Option<String>, String)> = Vec::new();
    for u in rep.users.iter().flatten() {
        wanted.extend(u.realm_roles.iter().flatten().map(|r| (None, r.clone())));
        for (c, rs) in u.client_roles.iter().flatten() {
            wanted.extend(rs.iter().map(|r| (Some(c.clone()), r.clone())));
        }
    }
    fn walk(g: &[crate::keycloak::GroupRepresentation], out: &mut Vec<(Option<String>, String)>) {
        for g in g {
            out.extend(g.realm_roles.iter().map(|r| (None, r.clone())));
            for (c, rs) in &g.client_roles {
                out.extend(rs.iter().map(|r| (Some(c.clone()), r.clone())));
            }
            walk(&g.sub_groups, out);
        }
    }
    walk(rep.groups.as_deref().unwrap_or_default(), &mut wanted);
    let realm = rep.realm.clone();
    let builtin_clients = builtin::client_roles(&realm);
    let roles = rep.roles.get_or_insert_with(Default::default);
    let mut created = Vec::new();
    for (client, name) in wanted {
        let defs = match &client {
            None => &mut roles.realm,
            Some(c) => {
                if builtin_clients
                    .get(c)
                    .is_some_and(|d| d.iter().any(|r| r.name == name))
                    && !roles.client.contains_key(c)
                {
                    continue; // a built-in client's role, defined with the realm
                }
                roles.client.entry(c.clone()).or_default()
            }
        };
        let builtin_realm = client.is_none()
            && (name == builtin::OFFLINE_ACCESS
                || name == builtin::UMA_AUTHORIZATION
                || name == builtin::default_role_name(&realm));
        if builtin_realm || defs.iter().any(|r| r.name == name) {
            continue;
        }
        defs.push(RoleRepresentation::named(&name));
        created.push(match client {
            None => format!("'{name}'"),
            Some(c) => format!("'{c}.{name}'"),
        });
    }
    if !created.is_empty() {
        notes.push(format!(
            "created role(s) {} that users or groups are mapped to but the export does not define (as Keycloak does)",
            created.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(json: &str) -> RealmRepresentation {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn versions_parse() {
        assert_eq!(
            version(&rep(r#"{"realm":"a","keycloakVersion":"4.8.3.Final"}"#)),
            Some((4, 8, 3))
        );
        assert_eq!(
            version(&rep(r#"{"realm":"a","keycloakVersion":"26.1.0"}"#)),
            Some((26, 1, 0))
        );
        assert_eq!(version(&rep(r#"{"realm":"a"}"#)), None);
    }

    #[test]
    fn an_old_export_gains_the_scopes_keycloak_added_since() {
        let mut r = rep(r#"{"realm":"old","keycloakVersion":"4.0.0.Final",
                "clientScopes":[{"name":"profile","protocol":"openid-connect"}],
                "defaultRoles":["offline_access","uma_authorization"],
                "clients":[{"clientId":"app","defaultClientScopes":["profile"],"defaultRoles":["x"]},
                           {"clientId":"s","protocol":"saml","defaultClientScopes":[]}]}"#);
        let notes = import(&mut r);
        let app = &r.clients.as_ref().unwrap()[0];
        assert_eq!(
            app.default_client_scopes.as_deref().unwrap(),
            ["profile", "roles", "web-origins", "acr", "basic"]
        );
        assert_eq!(
            app.optional_client_scopes, None,
            "an absent list stays absent"
        );
        assert!(r.clients.as_ref().unwrap()[1]
            .default_client_scopes
            .as_ref()
            .unwrap()
            .is_empty());
        let d = r
            .roles
            .as_ref()
            .unwrap()
            .realm
            .iter()
            .find(|r| r.name == "default-roles-old")
            .unwrap();
        let c = d.composites.as_ref().unwrap();
        assert_eq!(c.realm, ["offline_access", "uma_authorization"]);
        assert_eq!(c.client["app"], ["x"]);
        assert!(notes.iter().any(|n| n.contains("'roles'")), "{notes:?}");
    }

    #[test]
    fn a_current_export_is_left_alone() {
        let text = r#"{"realm":"new","keycloakVersion":"26.1.0","clientScopes":[],
                       "defaultRole":{"name":"default-roles-new"},
                       "components":{"org.keycloak.userprofile.UserProfileProvider":[
                         {"providerId":"declarative-user-profile","config":{"kc.user.profile.config":["{}"]}}]}}"#;
        let mut r = rep(text);
        assert!(import(&mut r).is_empty());
        assert_eq!(r, rep(text).tap_roles());
    }

    trait TapRoles {
        fn tap_roles(self) -> Self;
    }
    impl TapRoles for RealmRepresentation {
        fn tap_roles(mut self) -> Self {
            self.roles.get_or_insert_with(Default::default);
            self
        }
    }

    #[test]
    fn roles_users_are_mapped_to_are_created() {
        let mut r = rep(
            r#"{"realm":"x","users":[{"username":"a","realmRoles":["ghost","offline_access"],
                 "clientRoles":{"api":["read"],"account":["view-profile"]}}]}"#,
        );
        let notes = import(&mut r);
        let roles = r.roles.unwrap();
        assert_eq!(
            roles
                .realm
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>(),
            ["ghost"]
        );
        assert_eq!(roles.client["api"][0].name, "read");
        assert!(!roles.client.contains_key("account"));
        assert!(notes[0].contains("'ghost'") && notes[0].contains("'api.read'"));
    }
}
