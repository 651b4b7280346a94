//! A realm as Keycloak exports it, and the claims Keycloak's rules give its users.

use super::apply::{Notes, Subject};
use super::mappers::Target;
use super::{migrate, RealmAccess, RealmModel};
use crate::claims::{self, TokenContext};
use crate::keycloak::{ClientRepresentation, RealmRepresentation, UserRepresentation};
use crate::scope::{self, Scopes};
use crate::{Client, Realm, User};
use serde_json::{json, Value};

const REALM: &str = r#"{
  "realm": "shop", "keycloakVersion": "26.1.0",
  "defaultRole": {"name": "default-roles-shop"},
  "roles": {
    "realm": [
      {"name": "default-roles-shop", "composite": true,
       "composites": {"realm": ["offline_access", "uma_authorization"],
                      "client": {"account": ["view-profile", "manage-account"]}}},
      {"name": "offline_access"}, {"name": "uma_authorization"},
      {"name": "editor", "composite": true, "composites": {"realm": ["viewer"]}},
      {"name": "viewer"}, {"name": "staff"}
    ],
    "client": {
      "account": [{"name": "view-profile"},
                  {"name": "manage-account", "composite": true,
                   "composites": {"client": {"account": ["manage-account-links"]}}},
                  {"name": "manage-account-links"}],
      "api": [{"name": "read"}, {"name": "write"}]
    }
  },
  "groups": [{"name": "org", "realmRoles": ["staff"], "attributes": {"region": ["eu"]},
              "subGroups": [{"name": "eng", "clientRoles": {"api": ["write"]}}]}],
  "clientScopes": [
    {"name": "roles", "protocol": "openid-connect",
     "attributes": {"include.in.token.scope": "false"},
     "protocolMappers": [
       {"name": "realm roles", "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-realm-role-mapper",
        "config": {"claim.name": "realm_access.roles", "multivalued": "true",
                   "access.token.claim": "true", "jsonType.label": "String"}},
       {"name": "client roles", "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-client-role-mapper",
        "config": {"claim.name": "resource_access.${client_id}.roles", "multivalued": "true",
                   "access.token.claim": "true", "jsonType.label": "String"}},
       {"name": "audience resolve", "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-resolve-mapper", "config": {}}]},
    {"name": "profile", "protocol": "openid-connect", "protocolMappers": [
       {"name": "username", "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-property-mapper",
        "config": {"user.attribute": "username", "claim.name": "preferred_username",
                   "access.token.claim": "true", "id.token.claim": "true"}}]},
    {"name": "reports", "protocol": "openid-connect"}
  ],
  "scopeMappings": [{"clientScope": "reports", "roles": ["viewer"]}],
  "clientScopeMappings": {"api": [{"client": "narrow", "roles": ["read"]}]},
  "clients": [
    {"clientId": "app", "publicClient": true, "defaultClientScopes": ["roles", "profile"],
     "protocolMappers": [
       {"name": "region", "protocol": "openid-connect",
        "protocolMapper": "oidc-usermodel-attribute-mapper",
        "config": {"user.attribute": "region", "claim.name": "org.region",
                   "access.token.claim": "true", "id.token.claim": "true"}},
       {"name": "groups", "protocol": "openid-connect",
        "protocolMapper": "oidc-group-membership-mapper",
        "config": {"claim.name": "groups", "full.path": "false",
                   "access.token.claim": "true", "userinfo.token.claim": "true"}},
       {"name": "tier", "protocol": "openid-connect",
        "protocolMapper": "oidc-hardcoded-claim-mapper",
        "config": {"claim.name": "tier", "claim.value": "3", "jsonType.label": "long",
                   "access.token.claim": "true"}},
       {"name": "billing", "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {"included.custom.audience": "billing", "access.token.claim": "true",
                   "id.token.claim": "true"}},
       {"name": "rename", "protocol": "openid-connect",
        "protocolMapper": "oidc-role-name-mapper",
        "config": {"role": "api.write", "new.role.name": "api.writer"}}]},
    {"clientId": "narrow", "publicClient": true, "fullScopeAllowed": false,
     "defaultClientScopes": ["roles"], "optionalClientScopes": ["reports"]}
  ],
  "users": [
    {"username": "ann", "realmRoles": ["default-roles-shop", "editor"], "groups": ["/org/eng"],
     "clientRoles": {"api": ["read"]}, "attributes": {"region": "us"}},
    {"username": "bob"}
  ]
}"#;

struct Fixture {
    realm: Realm,
    model: RealmModel,
    clients: Vec<Client>,
    users: Vec<User>,
}

fn fixture() -> Fixture {
    let mut rep: RealmRepresentation = serde_json::from_str(REALM).unwrap();
    let notes = migrate::import(&mut rep);
    assert!(
        notes.len() == 1 && notes[0].contains("no user profile"),
        "{notes:?}"
    );
    let realm = Realm::from_representation("r".into(), &rep).unwrap();
    let clients: Vec<Client> = rep
        .clients
        .iter()
        .flatten()
        .map(|c: &ClientRepresentation| {
            Client::from_representation(c.client_id.clone(), "r".into(), c, vec![]).unwrap()
        })
        .collect();
    let refs: Vec<&Client> = clients.iter().collect();
    let model = RealmModel::build(&realm.access, &refs).unwrap();
    let users = rep
        .users
        .iter()
        .flatten()
        .map(|u: &UserRepresentation| {
            User::from_representation(u.username.clone(), "r".into(), u, 0).unwrap()
        })
        .collect();
    Fixture {
        realm,
        model,
        clients,
        users,
    }
}

fn tokens(f: &Fixture, client: usize, user: usize, scope: Option<&str>) -> (Value, Value) {
    let c = &f.clients[client];
    let scopes: Scopes = scope::resolve(c, scope).unwrap();
    let ctx = TokenContext {
        issuer: "https://id.example/realms/shop",
        realm: &f.realm,
        model: &f.model,
        client: c,
        user: &f.users[user],
        sid: Some("s"),
        scopes: &scopes,
        now: 100,
        auth_time: Some(90),
        nonce: None,
        notes: Notes::default(),
    };
    let roles = ctx.subject().token_roles();
    let at = serde_json::to_value(claims::access_token(&ctx, &roles, "j", 400)).unwrap();
    let id = serde_json::to_value(claims::id_token(&ctx, &roles, "k", 400, "h")).unwrap();
    (at, id)
}

fn sorted(v: &Value) -> Vec<String> {
    let mut out: Vec<String> = v
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    out.sort();
    out
}

#[test]
fn roles_come_from_composites_groups_and_parents() {
    let f = fixture();
    let (at, _) = tokens(&f, 0, 0, None);
    assert_eq!(
        sorted(&at["realm_access"]["roles"]),
        [
            "default-roles-shop",
            "editor",
            "offline_access",
            "staff",
            "uma_authorization",
            "viewer"
        ]
    );
    assert_eq!(
        sorted(&at["resource_access"]["account"]["roles"]),
        ["manage-account", "manage-account-links", "view-profile"]
    );
    // The group's `api.write` is renamed by the client's role-name mapper.
    assert_eq!(
        sorted(&at["resource_access"]["api"]["roles"]),
        ["read", "writer"]
    );
}

#[test]
fn the_audience_is_every_client_in_resource_access_but_the_requester_plus_mapped_ones() {
    let f = fixture();
    let (at, id) = tokens(&f, 0, 0, None);
    assert_eq!(at["aud"], json!(["billing", "account", "api"]));
    assert_eq!(id["aud"], json!(["app", "billing"]));
}

#[test]
fn mappers_write_nested_typed_claims_to_the_tokens_they_name() {
    let f = fixture();
    let (at, id) = tokens(&f, 0, 0, None);
    assert_eq!(
        at["org"]["region"], "eu",
        "the user's own attribute is unmanaged in a Keycloak 24+ realm without a user profile: \
         invisible to mappers, so the group's fills in"
    );
    assert_eq!(at["groups"], json!(["eng"]), "direct groups, names only");
    assert_eq!(at["tier"], 3);
    assert_eq!(at["preferred_username"], "ann");
    assert_eq!(id["preferred_username"], "ann");
    assert!(id.get("groups").is_none() && id.get("tier").is_none());
    assert!(id.get("realm_access").is_none());
    assert_eq!(at["scope"], "profile", "roles is not listed in the scope");
}

#[test]
fn an_imported_user_without_roles_carries_none() {
    let f = fixture();
    let (at, _) = tokens(&f, 0, 1, None);
    assert!(at.get("realm_access").is_none(), "{at}");
    assert_eq!(at["aud"], "billing");
    assert!(at.get("groups").is_none());
}

#[test]
fn a_client_without_full_scope_carries_only_its_scope() {
    let f = fixture();
    let (at, _) = tokens(&f, 1, 0, None);
    assert!(at.get("realm_access").is_none(), "{at}");
    assert_eq!(at["resource_access"], json!({"api": {"roles": ["read"]}}));
    assert_eq!(at["aud"], "api");
    // The optional scope's mapping lets `viewer` through (and `editor` does not: a composite
    // is carried only when it is itself in scope).
    let (at, _) = tokens(&f, 1, 0, Some("reports"));
    assert_eq!(sorted(&at["realm_access"]["roles"]), ["viewer"]);
    assert_eq!(at["scope"], "reports");
}

#[test]
fn a_new_realm_gets_keycloaks_default_role_and_scopes() {
    let rep = RealmRepresentation {
        realm: "Fresh".into(),
        ..Default::default()
    };
    let access = RealmAccess::from_representation(&rep);
    assert_eq!(access.default_role, "default-roles-fresh");
    assert!(access.client_scopes.iter().any(|s| s.name == "basic"));
    let realm = Realm::from_representation("r".into(), &rep).unwrap();
    let model = RealmModel::build(&realm.access, &[]).unwrap();
    let d = model.default_role.unwrap();
    let names: Vec<String> = model
        .roles
        .expand([d])
        .into_iter()
        .map(|id| model.roles.describe(id))
        .collect();
    assert!(names.contains(&"client 'account' role 'manage-account-links'".to_string()));
    assert!(names.contains(&"realm role 'offline_access'".to_string()));
    let rt = Realm::from_representation("r".into(), &realm.to_representation()).unwrap();
    assert_eq!(rt, realm, "the completed representation round-trips");
    // A user holding the default role: `account` is the audience, as in Keycloak.
    let client = Client::from_representation(
        "c".into(),
        "r".into(),
        &ClientRepresentation {
            client_id: "spa".into(),
            default_client_scopes: Some(access.default_default_client_scopes.clone()),
            ..Default::default()
        },
        vec![],
    )
    .unwrap();
    let mut user = User::from_representation(
        "u".into(),
        "r".into(),
        &UserRepresentation {
            username: "u".into(),
            ..Default::default()
        },
        0,
    )
    .unwrap();
    user.realm_roles.push(realm.default_role());
    let scopes = scope::resolve(&client, None).unwrap();
    let s = Subject {
        model: &model,
        client: &client,
        user: &user,
        scopes: &scopes,
        notes: &Notes::default(),
    };
    let roles = s.token_roles();
    let mapped = s.map(&roles, Target::Access);
    assert_eq!(mapped.aud, ["account"]);
    assert_eq!(mapped.claims["acr"], "1");
    assert_eq!(mapped.claims["preferred_username"], "u");
}

/// What the realm model costs a token: `cargo test --release -p latchkey-domain -- --ignored
/// --nocapture claims_cost` prints the time to resolve the roles and write the claims of an
/// access and an ID token (a measurement, not a timed assertion).
#[test]
#[ignore]
fn claims_cost() {
    let f = fixture();
    let n = 50_000;
    let start = std::time::Instant::now();
    let mut bytes = 0;
    for _ in 0..n {
        let (at, id) = tokens(&f, 0, 0, None);
        bytes += serde_json::to_vec(&at).unwrap().len() + serde_json::to_vec(&id).unwrap().len();
    }
    let per = start.elapsed() / n;
    println!("claims of an access and an ID token (Keycloak-shaped realm, 6 mappers + roles scope): {per:?} each response ({} bytes)", bytes / n as usize);
}
