//! `/admin/openapi.json`: the OpenAPI 3.1 document of the admin API, generated at start from the
//! route table (`routes::build`) and the representation types (schemars).

use super::routes::Op;
use latchkey_domain::keycloak::{
    ClientRepresentation, ClientScopeRepresentation, CredentialRepresentation, GroupRepresentation,
    ProtocolMapperRepresentation, RealmRepresentation, RoleRepresentation, UserRepresentation,
};
use serde_json::{json, Map, Value};

fn schema_of<T: schemars::JsonSchema>(name: &str, components: &mut Map<String, Value>) {
    let schema = schemars::schema_for!(T);
    let text = serde_json::to_string(&schema)
        .expect("schema serializes")
        .replace("#/$defs/", "#/components/schemas/");
    let mut v: Value = serde_json::from_str(&text).expect("schema is JSON");
    if let Some(Value::Object(defs)) = v.as_object_mut().and_then(|o| o.remove("$defs")) {
        components.extend(defs);
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
    }
    components.insert(name.to_string(), v);
}

pub fn document(ops: &[Op], server: &str) -> Value {
    let mut schemas = Map::new();
    schema_of::<RealmRepresentation>("Realm", &mut schemas);
    schema_of::<ClientRepresentation>("Client", &mut schemas);
    schema_of::<UserRepresentation>("User", &mut schemas);
    schema_of::<CredentialRepresentation>("Credential", &mut schemas);
    let list = |item: &str| json!({"type": "array", "items": {"$ref": format!("#/components/schemas/{item}")}});
    schema_of::<RoleRepresentation>("Role", &mut schemas);
    schema_of::<GroupRepresentation>("Group", &mut schemas);
    schema_of::<ClientScopeRepresentation>("ClientScope", &mut schemas);
    schema_of::<ProtocolMapperRepresentation>("ProtocolMapper", &mut schemas);
    for item in ["Role", "Group", "ClientScope", "ProtocolMapper"] {
        schemas.insert(format!("{item}List"), list(item));
    }
    schemas.insert(
        "RoleMappings".into(),
        json!({"type": "object", "properties": {
        "realmMappings": list("Role"),
        "clientMappings": {"type": "object", "additionalProperties": {"type": "object"}}}}),
    );
    schemas.insert(
        "Keys".into(),
        json!({"type": "object", "properties": {
        "active": {"type": "object", "additionalProperties": {"type": "string"}},
        "keys": {"type": "array", "items": {"type": "object"}}}}),
    );
    schemas.insert("RealmList".into(), list("Realm"));
    schemas.insert("ClientList".into(), list("Client"));
    schemas.insert("UserList".into(), list("User"));
    schemas.insert("Count".into(), json!({"type": "integer"}));
    schemas.insert(
        "GroupCount".into(),
        json!({"type": "object", "required": ["count"], "properties": {"count": {"type": "integer"}}}),
    );
    schemas.insert("Session".into(), json!({"type": "object", "properties": {
        "id": {"type": "string"}, "username": {"type": "string"}, "userId": {"type": "string"},
        "start": {"type": "integer"}, "lastAccess": {"type": "integer"}, "offline": {"type": "boolean"},
        "clients": {"type": "object", "additionalProperties": {"type": "string"}}}}));
    schemas.insert("SessionList".into(), list("Session"));
    let text = json!({"type": "string"});
    schemas.insert(
        "Event".into(),
        json!({"type": "object", "properties": {
        "id": text, "time": {"type": "integer"}, "type": text, "realmId": text, "clientId": text,
        "userId": text, "sessionId": text, "ipAddress": text, "error": text,
        "details": {"type": "object", "additionalProperties": text}}}),
    );
    schemas.insert("EventList".into(), list("Event"));
    schemas.insert(
        "AdminEvent".into(),
        json!({"type": "object", "properties": {
        "id": text, "time": {"type": "integer"}, "realmId": text,
        "authDetails": {"type": "object", "properties": {
            "realmId": text, "clientId": text, "userId": text, "ipAddress": text}},
        "operationType": text, "resourceType": text, "resourcePath": text,
        "representation": text, "error": text}}),
    );
    schemas.insert("AdminEventList".into(), list("AdminEvent"));
    schemas.insert("EventsConfig".into(), json!({"type": "object", "properties": {
        "eventsEnabled": {"type": "boolean"}, "eventsExpiration": {"type": "integer"},
        "eventsListeners": {"type": "array", "items": text},
        "enabledEventTypes": {"type": "array", "items": text},
        "adminEventsEnabled": {"type": "boolean"}, "adminEventsDetailsEnabled": {"type": "boolean"}}}));
    schemas.insert("GlobalRequestResult".into(), json!({"type": "object"}));
    schemas.insert(
        "BruteForceStatus".into(),
        json!({"type": "object", "properties": {
        "numFailures": {"type": "integer"}, "disabled": {"type": "boolean"}}}),
    );
    schemas.insert(
        "Error".into(),
        json!({"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "errorMessage": {"type": "string"}}}),
    );

    let mut paths = Map::new();
    for op in ops {
        let params: Vec<Value> = op
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .chain(op.query.iter().map(|q| json!({"name": q, "in": "query", "required": false, "schema": {"type": "string"}})))
            .collect();
        let mut responses = Map::new();
        let ok = match op.ok.1 {
            Some(s) => {
                json!({"description": "success", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{s}")}}}})
            }
            None => json!({"description": "success"}),
        };
        responses.insert(op.ok.0.to_string(), ok);
        for (code, what) in [
            ("400", "invalid input"),
            ("401", "no or invalid bearer token"),
            ("403", "not an admin"),
            ("404", "not found"),
            ("409", "conflict"),
        ] {
            responses.insert(code.into(), json!({"description": what, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}));
        }
        let mut operation = json!({
            "summary": op.summary,
            "operationId": format!("{}{}", op.method.to_lowercase(), op.path.replace(['/', '{', '}', '-'], "_")),
            "parameters": params,
            "responses": responses,
            "security": [{"bearer": []}],
        });
        if let Some(b) = op.body {
            operation["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{b}")}}}});
        }
        let entry = paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}));
        entry[op.method.to_lowercase()] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "latchkey admin API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Keycloak's admin REST API representations, for the resources latchkey has."},
        "servers": [{"url": server}],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    })
}
