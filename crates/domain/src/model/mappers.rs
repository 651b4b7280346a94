//! Keycloak's OpenID Connect protocol mappers: their types and config keys, compiled once
//! when a realm or client is loaded, applied to each token.

use super::claim::{self, ClaimPath, JsonType};
use crate::keycloak::ProtocolMapperRepresentation;
use serde_json::Value;

/// The tokens (and answers) a mapper writes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Access,
    Id,
    UserInfo,
    Introspection,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Targets {
    pub access: bool,
    pub id: bool,
    pub userinfo: bool,
    pub introspection: bool,
}

impl Targets {
    pub fn has(&self, t: Target) -> bool {
        match t {
            Target::Access => self.access,
            Target::Id => self.id,
            Target::UserInfo => self.userinfo,
            Target::Introspection => self.introspection,
        }
    }
}

/// What a mapper does.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `oidc-usermodel-attribute-mapper`: a user attribute (else the groups' one).
    UserAttribute { attribute: String, aggregate: bool },
    /// `oidc-usermodel-property-mapper`: `username`, `email`, `firstName`, ….
    UserProperty { property: String },
    /// `oidc-hardcoded-claim-mapper`.
    Hardcoded { value: String },
    /// `oidc-hardcoded-role-mapper`: the token carries this role whatever the user holds.
    HardcodedRole { role: String },
    /// `oidc-role-name-mapper`: the role is carried under another name.
    RoleName { role: String, new_name: String },
    /// `oidc-usermodel-realm-role-mapper`.
    RealmRoles { prefix: String },
    /// `oidc-usermodel-client-role-mapper` (`None`: every client's roles).
    ClientRoles {
        client: Option<String>,
        prefix: String,
    },
    /// `oidc-group-membership-mapper`: the user's own groups (not their parents).
    GroupMembership { full_path: bool },
    /// `oidc-usersessionmodel-note-mapper`.
    SessionNote { note: String },
    /// `oidc-full-name-mapper`: `name`.
    FullName,
    /// `oidc-address-mapper`: `address`.
    Address,
    /// `oidc-allowed-origins-mapper`: `allowed-origins`.
    AllowedOrigins,
    /// `oidc-acr-mapper`: `acr`.
    Acr,
    /// `oidc-sub-mapper`: `sub` (every token carries it).
    Sub,
    /// `oidc-audience-mapper`.
    Audience {
        client: Option<String>,
        custom: Option<String>,
    },
    /// `oidc-audience-resolve-mapper`: every client whose roles the token carries.
    AudienceResolve,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mapper {
    pub name: String,
    pub kind: Kind,
    pub claim: Option<ClaimPath>,
    pub json_type: JsonType,
    pub multivalued: bool,
    pub targets: Targets,
}

/// Mapper types latchkey knows; any other is skipped (and named at import).
pub const KNOWN: [&str; 17] = [
    "oidc-usermodel-attribute-mapper",
    "oidc-usermodel-property-mapper",
    "oidc-hardcoded-claim-mapper",
    "oidc-hardcoded-role-mapper",
    "oidc-role-name-mapper",
    "oidc-usermodel-realm-role-mapper",
    "oidc-usermodel-client-role-mapper",
    "oidc-group-membership-mapper",
    "oidc-usersessionmodel-note-mapper",
    "oidc-full-name-mapper",
    "oidc-address-mapper",
    "oidc-allowed-origins-mapper",
    "oidc-acr-mapper",
    "oidc-sub-mapper",
    "oidc-audience-mapper",
    "oidc-audience-resolve-mapper",
    "oidc-auth-time-mapper",
];

impl Mapper {
    /// The mapper, or why it is skipped.
    pub fn compile(rep: &ProtocolMapperRepresentation) -> Result<Mapper, String> {
        if rep
            .protocol
            .as_deref()
            .is_some_and(|p| p != "openid-connect")
        {
            return Err(format!(
                "protocol mapper '{}' is for protocol '{}'",
                rep.name,
                rep.protocol.as_deref().unwrap_or_default()
            ));
        }
        let cfg = |k: &str| rep.config.get(k).map(String::as_str);
        let text = |k: &str| cfg(k).unwrap_or_default().to_string();
        let flag = |k: &str| cfg(k) == Some("true");
        let opt = |k: &str| cfg(k).filter(|v| !v.is_empty()).map(str::to_string);
        let mut claim_name = opt("claim.name");
        let mut multivalued = flag("multivalued");
        let kind = match rep.protocol_mapper.as_str() {
            "oidc-usermodel-attribute-mapper" => Kind::UserAttribute {
                attribute: text("user.attribute"),
                aggregate: flag("aggregate.attrs"),
            },
            "oidc-usermodel-property-mapper" => Kind::UserProperty {
                property: text("user.attribute"),
            },
            "oidc-hardcoded-claim-mapper" => Kind::Hardcoded {
                value: text("claim.value"),
            },
            "oidc-hardcoded-role-mapper" => Kind::HardcodedRole { role: text("role") },
            "oidc-role-name-mapper" => Kind::RoleName {
                role: text("role"),
                new_name: text("new.role.name"),
            },
            "oidc-usermodel-realm-role-mapper" => {
                claim_name.get_or_insert_with(|| "realm_access.roles".into());
                Kind::RealmRoles {
                    prefix: text("usermodel.realmRoleMapping.rolePrefix"),
                }
            }
            "oidc-usermodel-client-role-mapper" => {
                claim_name.get_or_insert_with(|| "resource_access.${client_id}.roles".into());
                Kind::ClientRoles {
                    client: opt("usermodel.clientRoleMapping.clientId"),
                    prefix: text("usermodel.clientRoleMapping.rolePrefix"),
                }
            }
            "oidc-group-membership-mapper" => {
                multivalued = true;
                Kind::GroupMembership {
                    full_path: cfg("full.path") != Some("false"),
                }
            }
            "oidc-usersessionmodel-note-mapper" => Kind::SessionNote {
                note: text("user.session.note"),
            },
            "oidc-full-name-mapper" => {
                claim_name = Some("name".into());
                Kind::FullName
            }
            "oidc-address-mapper" => {
                claim_name = Some("address".into());
                Kind::Address
            }
            "oidc-allowed-origins-mapper" => {
                claim_name = Some("allowed-origins".into());
                multivalued = true;
                Kind::AllowedOrigins
            }
            "oidc-acr-mapper" => {
                claim_name = Some("acr".into());
                Kind::Acr
            }
            "oidc-sub-mapper" => Kind::Sub,
            "oidc-auth-time-mapper" => Kind::Sub,
            "oidc-audience-mapper" => Kind::Audience {
                client: opt("included.client.audience"),
                custom: opt("included.custom.audience"),
            },
            "oidc-audience-resolve-mapper" => Kind::AudienceResolve,
            other => {
                return Err(format!(
                    "protocol mapper '{}': type '{other}' is not supported",
                    rep.name
                ))
            }
        };
        let access = flag("access.token.claim");
        // Mappers whose type writes fixed claims carry no flags in older exports.
        let implicit = matches!(
            kind,
            Kind::AllowedOrigins | Kind::AudienceResolve | Kind::Sub | Kind::Acr
        ) && cfg("access.token.claim").is_none();
        let targets = if implicit {
            Targets {
                access: true,
                id: matches!(kind, Kind::Acr),
                userinfo: false,
                introspection: true,
            }
        } else {
            let id = flag("id.token.claim");
            Targets {
                access,
                id,
                // Without the flag, UserInfo follows the ID token (Keycloak 2.3's migration).
                userinfo: cfg("userinfo.token.claim").map_or(id, |v| v == "true"),
                // Keycloak 25 added the flag; without it a mapper follows the access token.
                introspection: cfg("introspection.token.claim").map_or(access, |v| v == "true"),
            }
        };
        Ok(Mapper {
            name: rep.name.clone(),
            kind,
            claim: claim_name.map(|n| ClaimPath::parse(&n)),
            json_type: JsonType::parse(cfg("jsonType.label")),
            multivalued,
            targets,
        })
    }

    /// Writes `vals` (strings) at the mapper's claim.
    pub fn write(&self, claims: &mut serde_json::Map<String, Value>, vals: &[&str]) {
        let Some(path) = &self.claim else { return };
        if let Some(v) = claim::values(self.json_type, vals, self.multivalued) {
            claim::set(claims, path, v, self.multivalued);
        }
    }

    /// Writes one already-typed value at the mapper's claim.
    pub fn write_value(&self, claims: &mut serde_json::Map<String, Value>, v: Value) {
        if let Some(path) = &self.claim {
            claim::set(claims, path, v, self.multivalued);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(kind: &str, cfg: &[(&str, &str)]) -> ProtocolMapperRepresentation {
        ProtocolMapperRepresentation {
            name: "m".into(),
            protocol: Some("openid-connect".into()),
            protocol_mapper: kind.into(),
            config: cfg
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn flags_and_defaults() {
        let m = Mapper::compile(&rep(
            "oidc-usermodel-realm-role-mapper",
            &[("access.token.claim", "true"), ("multivalued", "true")],
        ))
        .unwrap();
        assert_eq!(m.claim, Some(ClaimPath::parse("realm_access.roles")));
        assert!(m.targets.access && m.targets.introspection && !m.targets.id);
        let m = Mapper::compile(&rep(
            "oidc-usermodel-attribute-mapper",
            &[
                ("access.token.claim", "true"),
                ("introspection.token.claim", "false"),
            ],
        ))
        .unwrap();
        assert!(!m.targets.introspection);
        let m = Mapper::compile(&rep("oidc-allowed-origins-mapper", &[])).unwrap();
        assert!(m.targets.access && !m.targets.id);
    }

    #[test]
    fn other_protocols_and_types_are_skipped_with_a_reason() {
        let mut r = rep("saml-role-list-mapper", &[]);
        r.protocol = Some("saml".into());
        assert!(Mapper::compile(&r).unwrap_err().contains("saml"));
        let e = Mapper::compile(&rep("oidc-script-based-protocol-mapper", &[])).unwrap_err();
        assert!(e.contains("oidc-script-based-protocol-mapper"), "{e}");
    }
}
