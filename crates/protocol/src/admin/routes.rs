//! The admin API's routes. Each is registered through [`Builder::add`], which also records it for
//! the OpenAPI document, so the document is generated from the same table the router is.

use super::{clients, realms, sessions, users};
use crate::state::AppState;
use axum::handler::Handler;
use axum::routing::{on, MethodFilter};
use axum::Router;
use std::sync::Arc;

/// One documented operation.
#[derive(Debug, Clone)]
pub struct Op {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// The JSON schema of the request body, if any.
    pub body: Option<&'static str>,
    /// The success status and the schema of its body, if any.
    pub ok: (u16, Option<&'static str>),
    pub query: &'static [&'static str],
}

pub struct Builder {
    pub router: Router<Arc<AppState>>,
    pub ops: Vec<Op>,
}

impl Builder {
    /// `f(self)`, to chain a table of routes kept in another file.
    pub fn pipe(self, f: impl FnOnce(Builder) -> Builder) -> Builder {
        f(self)
    }

    pub fn add<H, T>(mut self, op: Op, handler: H) -> Self
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        let filter = match op.method {
            "GET" => MethodFilter::GET,
            "POST" => MethodFilter::POST,
            "PUT" => MethodFilter::PUT,
            _ => MethodFilter::DELETE,
        };
        self.router = self.router.route(op.path, on(filter, handler));
        self.ops.push(op);
        self
    }
}

pub fn op(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
    ok: (u16, Option<&'static str>),
    query: &'static [&'static str],
) -> Op {
    Op {
        method,
        path,
        summary,
        body,
        ok,
        query,
    }
}

pub fn build() -> Builder {
    let b = Builder {
        router: Router::new(),
        ops: Vec::new(),
    };
    b.add(
        op(
            "GET",
            "/admin/realms",
            "List realms",
            None,
            (200, Some("RealmList")),
            &[],
        ),
        realms::list,
    )
    .add(
        op(
            "POST",
            "/admin/realms",
            "Create a realm (the full import representation); with dryRun=true, only report what the import would do",
            Some("Realm"),
            (201, None),
            &["dryRun"],
        ),
        realms::create,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}",
            "Get a realm",
            None,
            (200, Some("Realm")),
            &[],
        ),
        realms::get,
    )
    .add(
        op(
            "PUT",
            "/admin/realms/{realm}",
            "Update a realm (fields present replace)",
            Some("Realm"),
            (204, None),
            &[],
        ),
        realms::update,
    )
    .add(
        op(
            "DELETE",
            "/admin/realms/{realm}",
            "Delete a realm",
            None,
            (204, None),
            &[],
        ),
        realms::delete,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/clients",
            "List clients",
            None,
            (200, Some("ClientList")),
            &["clientId", "search", "first", "max"],
        ),
        clients::list,
    )
    .add(
        op(
            "POST",
            "/admin/realms/{realm}/clients",
            "Create a client",
            Some("Client"),
            (201, None),
            &[],
        ),
        clients::create,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/clients/{id}",
            "Get a client",
            None,
            (200, Some("Client")),
            &[],
        ),
        clients::get,
    )
    .add(
        op(
            "PUT",
            "/admin/realms/{realm}/clients/{id}",
            "Update a client",
            Some("Client"),
            (204, None),
            &[],
        ),
        clients::update,
    )
    .add(
        op(
            "DELETE",
            "/admin/realms/{realm}/clients/{id}",
            "Delete a client",
            None,
            (204, None),
            &[],
        ),
        clients::delete,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/clients/{id}/client-secret",
            "Get the client secret",
            None,
            (200, Some("Credential")),
            &[],
        ),
        clients::get_secret,
    )
    .add(
        op(
            "POST",
            "/admin/realms/{realm}/clients/{id}/client-secret",
            "Regenerate the client secret",
            None,
            (200, Some("Credential")),
            &[],
        ),
        clients::regenerate_secret,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/clients/{id}/service-account-user",
            "The client's service-account user",
            None,
            (200, Some("User")),
            &[],
        ),
        clients::service_account_user,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/clients/{id}/user-sessions",
            "Sessions the client holds tokens in",
            None,
            (200, Some("SessionList")),
            &[],
        ),
        clients::user_sessions,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/users",
            "List or search users",
            None,
            (200, Some("UserList")),
            &[
                "username",
                "email",
                "search",
                "exact",
                "first",
                "max",
                "briefRepresentation",
            ],
        ),
        users::list,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/users/count",
            "Count users",
            None,
            (200, Some("Count")),
            &["username", "email", "search", "exact"],
        ),
        users::count,
    )
    .add(
        op(
            "POST",
            "/admin/realms/{realm}/users",
            "Create a user (with credentials)",
            Some("User"),
            (201, None),
            &[],
        ),
        users::create,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/users/{id}",
            "Get a user",
            None,
            (200, Some("User")),
            &[],
        ),
        users::get,
    )
    .add(
        op(
            "PUT",
            "/admin/realms/{realm}/users/{id}",
            "Update a user",
            Some("User"),
            (204, None),
            &[],
        ),
        users::update,
    )
    .add(
        op(
            "DELETE",
            "/admin/realms/{realm}/users/{id}",
            "Delete a user",
            None,
            (204, None),
            &[],
        ),
        users::delete,
    )
    .add(
        op(
            "PUT",
            "/admin/realms/{realm}/users/{id}/reset-password",
            "Set a user's password",
            Some("Credential"),
            (204, None),
            &[],
        ),
        users::reset_password,
    )
    .add(
        op(
            "POST",
            "/admin/realms/{realm}/users/{id}/logout",
            "End the user's sessions",
            None,
            (204, None),
            &[],
        ),
        users::logout,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/users/{id}/sessions",
            "The user's sessions",
            None,
            (200, Some("SessionList")),
            &[],
        ),
        users::sessions,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/users/{id}/offline-sessions/{client}",
            "The user's offline sessions of a client",
            None,
            (200, Some("SessionList")),
            &[],
        ),
        users::offline_sessions,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/sessions",
            "The realm's active sessions",
            None,
            (200, Some("SessionList")),
            &["offline"],
        ),
        sessions::list,
    )
    .add(
        op(
            "POST",
            "/admin/realms/{realm}/logout-all",
            "End every session of the realm",
            None,
            (200, Some("GlobalRequestResult")),
            &[],
        ),
        sessions::logout_all,
    )
    .add(
        op(
            "DELETE",
            "/admin/realms/{realm}/sessions/{id}",
            "End one session",
            None,
            (204, None),
            &[],
        ),
        sessions::delete,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/attack-detection/brute-force/users/{id}",
            "Brute-force status of a user",
            None,
            (200, Some("BruteForceStatus")),
            &[],
        ),
        sessions::brute_force_status,
    )
    .add(
        op(
            "DELETE",
            "/admin/realms/{realm}/attack-detection/brute-force/users/{id}",
            "Clear a user's login failures",
            None,
            (204, None),
            &[],
        ),
        sessions::brute_force_reset,
    )
    .add(
        op(
            "DELETE",
            "/admin/realms/{realm}/attack-detection/brute-force/users",
            "Clear every user's login failures",
            None,
            (204, None),
            &[],
        ),
        sessions::brute_force_reset_all,
    )
    .pipe(super::model_routes::add)
    .pipe(events_routes)
}

/// Keycloak's event endpoints.
fn events_routes(b: Builder) -> Builder {
    use super::events;
    const USER_QUERY: &[&str] = &[
        "type",
        "client",
        "user",
        "ipAddress",
        "dateFrom",
        "dateTo",
        "first",
        "max",
        "direction",
    ];
    const ADMIN_QUERY: &[&str] = &[
        "operationTypes",
        "resourceTypes",
        "resourcePath",
        "authRealm",
        "authClient",
        "authUser",
        "authIpAddress",
        "dateFrom",
        "dateTo",
        "first",
        "max",
        "direction",
    ];
    b.add(
        op(
            "GET",
            "/admin/realms/{realm}/events",
            "The realm's stored user events, newest first",
            None,
            (200, Some("EventList")),
            USER_QUERY,
        ),
        events::list_user_events,
    )
    .add(
        op(
            "DELETE",
            "/admin/realms/{realm}/events",
            "Delete every stored user event of the realm",
            None,
            (204, None),
            &[],
        ),
        events::clear_user_events,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/admin-events",
            "The realm's stored admin events, newest first",
            None,
            (200, Some("AdminEventList")),
            ADMIN_QUERY,
        ),
        events::list_admin_events,
    )
    .add(
        op(
            "DELETE",
            "/admin/realms/{realm}/admin-events",
            "Delete every stored admin event of the realm",
            None,
            (204, None),
            &[],
        ),
        events::clear_admin_events,
    )
    .add(
        op(
            "GET",
            "/admin/realms/{realm}/events/config",
            "The realm's event settings",
            None,
            (200, Some("EventsConfig")),
            &[],
        ),
        events::get_config,
    )
    .add(
        op(
            "PUT",
            "/admin/realms/{realm}/events/config",
            "Change the realm's event settings",
            Some("EventsConfig"),
            (204, None),
            &[],
        ),
        events::put_config,
    )
}
