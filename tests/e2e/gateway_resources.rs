//! gateway-api resources: users and roles, camera groups, edits and deletes, the permission
//! matrix over every route of the route table, and the OpenAPI document.

use std::time::Duration;

use ffsec_tests::live::LiveClient;
use ffsec_tests::stack::login;
use ffsec_tests::{Stack, TestEnv};
use gateway_api::auth::Role;
use gateway_api::routes::{Access, ROUTES, Route};
use reqwest::Method;
use serde_json::{Value, json};

async fn call(stack: &Stack, token: Option<&str>, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = stack.client.request(method, stack.gateway.url(path));
    if let Some(token) = token {
        request = request.header("Authorization", format!("Token {token}"));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Existing objects the matrix's `{id}`s name. Deletes and purges get an id nobody has instead,
/// so that the objects stay for the routes after them (404 counts as "let in").
struct MatrixIds {
    user: Value,
    camera_group: Value,
    camera: Value,
    dossier_list: Value,
    dossier: Value,
    hook: Value,
}

const NOBODY: i64 = 999_999;

/// The route's method as reqwest spells it (actix is on another `http` major version).
fn method_of(route: &Route) -> Method {
    Method::from_bytes(route.method.as_str().as_bytes()).unwrap()
}

/// The route's path with its parameters filled in.
fn concrete_path(route: &Route, ids: &MatrixIds) -> String {
    let destructive = method_of(route) == Method::DELETE || route.path.ends_with("/purge/");
    let existing = match route.path.split('/').nth(1).unwrap_or_default() {
        "users" => ids.user.to_string(),
        "camera-groups" => ids.camera_group.to_string(),
        "cameras" => ids.camera.to_string(),
        "dossier-lists" => ids.dossier_list.to_string(),
        "dossiers" => ids.dossier.to_string(),
        "hooks" => ids.hook.to_string(),
        "events" => uuid::Uuid::now_v7().to_string(),
        _ => NOBODY.to_string(),
    };
    let id = if destructive { NOBODY.to_string() } else { existing };
    // A console route (answered with index.html) for the console, a missing image for media.
    let tail = if route.path.starts_with("/console/") { "live" } else { "events/none.jpg" };
    route.path.replace("{id}", &id).replace("{delivery}", &NOBODY.to_string()).replace("{path:.*}", tail)
}

/// A body the handler can read (or refuse with 400 after the role check): `{}` for writes, except
/// where an empty change set would not be a change.
fn body_for(route: &Route) -> Option<Value> {
    match (method_of(route), route.path) {
        (Method::PATCH, "/users/{id}/") => Some(json!({"active": true})),
        (Method::POST | Method::PATCH, "/auth/login/" | "/auth/logout/") => None,
        (Method::POST | Method::PATCH, _) => Some(json!({})),
        _ => None,
    }
}

async fn call_route(stack: &Stack, route: &Route, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = stack.client.request(method_of(route), stack.gateway.url(path));
    if route.path == "/auth/login/" {
        request = request.basic_auth(ffsec_tests::env::ADMIN_USER, Some(ffsec_tests::env::ADMIN_PASSWORD));
    }
    if let Some(token) = token {
        request = request.header("Authorization", format!("Token {token}"));
    }
    if let Some(body) = body_for(route) {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The first answer of the live socket to `token`: `token_invalid`, or (once let in) the reply to
/// an empty `filters` message.
async fn socket_answer(stack: &Stack, token: &str) -> String {
    let mut client = LiveClient::connect(&stack.gateway.addr.to_string(), token, "").await.unwrap();
    // A refused socket may already be closing: the answer read below tells.
    let _ = client.send(json!({"type": "filters", "data": {}})).await;
    let frame = client.next_frame(Duration::from_secs(10)).await.unwrap();
    frame["type"].as_str().unwrap_or_default().to_string()
}

/// No token: 401 unless public; a role below the route's: 403; the route's role and above: let
/// in (anything but 401, 403 and a server error).
async fn check_route(stack: &Stack, route: &Route, ids: &MatrixIds, tokens: &[(Role, &str)]) {
    let (method, path) = (method_of(route), concrete_path(route, ids));
    let least = match route.access {
        Access::Public => {
            let (status, reply) = call_route(stack, route, &path, None).await;
            assert_eq!(status, 200, "{method} {path} is public: {reply}");
            return;
        }
        Access::SocketToken => {
            assert_eq!(socket_answer(stack, "not-a-token").await, "token_invalid", "{path} with a bad token");
            for (role, token) in tokens {
                assert_eq!(socket_answer(stack, token).await, "filters", "{path} as {role:?}");
            }
            return;
        }
        Access::Role(least) => least,
    };
    let (status, reply) = call_route(stack, route, &path, None).await;
    // HEAD answers carry no body to read the code from.
    let code = if method == Method::HEAD { Some("UNAUTHORIZED") } else { reply["code"].as_str() };
    assert_eq!((status, code), (401, Some("UNAUTHORIZED")), "{method} {path} without a token");
    for (role, token) in tokens {
        // Logging out ends the token: use a fresh one for that route.
        let fresh;
        let token = if route.path == "/auth/logout/" {
            let name = match role {
                Role::Viewer => "victor",
                Role::Operator => "olga",
                Role::Admin => ffsec_tests::env::ADMIN_USER,
            };
            let password = if *role == Role::Admin { ffsec_tests::env::ADMIN_PASSWORD } else { "password-1" };
            fresh = login(&stack.client, &stack.gateway, name, password).await.unwrap();
            fresh.as_str()
        } else {
            token
        };
        let (status, reply) = call_route(stack, route, &path, Some(token)).await;
        if *role >= least {
            assert!(![401, 403].contains(&status) && status < 500, "{method} {path} as {role:?}: {status} {reply}");
        } else {
            assert_eq!(
                (status, reply["code"].as_str()),
                (403, Some("PERMISSION_DENIED")),
                "{method} {path} as {role:?}"
            );
        }
    }
}

async fn victor_id(stack: &Stack, admin: &str) -> Value {
    let (_, users) = call(stack, Some(admin), Method::GET, "/users/", None).await;
    users["results"].as_array().unwrap().iter().find(|u| u["username"] == "victor").unwrap()["id"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn users_roles_groups_edits_and_the_permission_matrix() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let admin = stack.token.clone();
    for (name, role) in [("olga", "operator"), ("victor", "viewer")] {
        let (status, user) = call(
            &stack,
            Some(&admin),
            Method::POST,
            "/users/",
            Some(json!({"username": name, "password": "password-1", "role": role})),
        )
        .await;
        assert_eq!(status, 201, "{user}");
        assert_eq!(user["role"], role);
        assert!(user.get("password_hash").is_none());
    }
    let (status, body) =
        call(&stack, Some(&admin), Method::POST, "/users/", Some(json!({"username": "x", "password": "short"}))).await;
    assert_eq!((status, body["param"].as_str()), (400, Some("password")));
    let (status, body) = call(
        &stack,
        Some(&admin),
        Method::POST,
        "/users/",
        Some(json!({"username": "x", "password": "password-1", "role": "root"})),
    )
    .await;
    assert_eq!((status, body["param"].as_str()), (400, Some("role")));
    let (status, _) = call(
        &stack,
        Some(&admin),
        Method::POST,
        "/users/",
        Some(json!({"username": "olga", "password": "password-1"})),
    )
    .await;
    assert_eq!(status, 409);
    // A PATCH that names no field is the client's mistake, not a 500.
    let victor = victor_id(&stack, &admin).await;
    let (status, body) = call(&stack, Some(&admin), Method::PATCH, &format!("/users/{victor}/"), Some(json!({}))).await;
    assert_eq!((status, body["code"].as_str(), body["param"].as_str()), (400, Some("BAD_PARAM"), Some("body")));
    let operator = login(&stack.client, &stack.gateway, "olga", "password-1").await.unwrap();
    let viewer = login(&stack.client, &stack.gateway, "victor", "password-1").await.unwrap();

    // Objects the matrix routes refer to.
    let (_, camera) = call(&stack, Some(&admin), Method::POST, "/cameras/", Some(json!({"name": "c"}))).await;
    let (_, group) = call(&stack, Some(&admin), Method::POST, "/camera-groups/", Some(json!({"name": "g"}))).await;
    let (_, list) = call(&stack, Some(&admin), Method::POST, "/dossier-lists/", Some(json!({"name": "l"}))).await;
    let (_, dossier) = call(
        &stack,
        Some(&admin),
        Method::POST,
        "/dossiers/",
        Some(json!({"name": "d", "dossier_lists": [list["id"]]})),
    )
    .await;
    let (_, hook) =
        call(&stack, Some(&admin), Method::POST, "/hooks/", Some(json!({"name": "h", "url": "http://127.0.0.1:9/"})))
            .await;
    let (c, g, d, h) = (camera["id"].clone(), group["id"].clone(), dossier["id"].clone(), hook["id"].clone());
    let ids = MatrixIds {
        user: victor_id(&stack, &admin).await,
        camera_group: g.clone(),
        camera: c.clone(),
        dossier_list: list["id"].clone(),
        dossier: d.clone(),
        hook: h.clone(),
    };
    let tokens = [(Role::Viewer, viewer.as_str()), (Role::Operator, operator.as_str()), (Role::Admin, admin.as_str())];
    for route in ROUTES {
        check_route(&stack, route, &ids, &tokens).await;
    }
    // Viewers do not see the cameras' external-detector tokens.
    let (_, seen) = call(&stack, Some(&viewer), Method::GET, &format!("/cameras/{c}/"), None).await;
    assert_eq!(seen["external_detector_token"], Value::Null);

    // Camera groups: the default one and one in use cannot be deleted.
    let (status, _) = call(&stack, Some(&admin), Method::DELETE, "/camera-groups/1/", None).await;
    assert_eq!(status, 409);
    let (status, moved) =
        call(&stack, Some(&admin), Method::PATCH, &format!("/cameras/{c}/"), Some(json!({"group": g, "name": "C2"})))
            .await;
    assert_eq!((status, moved["group"].clone(), moved["name"].as_str()), (200, g.clone(), Some("C2")));
    let (status, _) = call(&stack, Some(&admin), Method::DELETE, &format!("/camera-groups/{g}/"), None).await;
    assert_eq!(status, 409);
    let (status, _) =
        call(&stack, Some(&admin), Method::PATCH, &format!("/cameras/{c}/"), Some(json!({"group": 999999}))).await;
    assert_eq!(status, 400);
    let (status, _) = call(&stack, Some(&admin), Method::DELETE, &format!("/cameras/{c}/"), None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&stack, Some(&admin), Method::DELETE, &format!("/camera-groups/{g}/"), None).await;
    assert_eq!(status, 204);
    let (status, _) = call(&stack, Some(&admin), Method::GET, &format!("/cameras/{c}/"), None).await;
    assert_eq!(status, 404);

    // Dossiers: lists replaced, then deleted.
    let (_, list2) = call(&stack, Some(&admin), Method::POST, "/dossier-lists/", Some(json!({"name": "l2"}))).await;
    let (status, edited) = call(
        &stack,
        Some(&operator),
        Method::PATCH,
        &format!("/dossiers/{d}/"),
        Some(json!({"dossier_lists": [list2["id"]], "active": "false"})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(edited["dossier_lists"], json!([list2["id"]]));
    assert_eq!(edited["active"], false);
    let (status, body) =
        call(&stack, Some(&operator), Method::PATCH, &format!("/dossiers/{d}/"), Some(json!({"dossier_lists": []})))
            .await;
    assert_eq!((status, body["param"].as_str()), (400, Some("dossier_lists")));
    let (status, _) = call(&stack, Some(&operator), Method::DELETE, &format!("/dossiers/{d}/"), None).await;
    assert_eq!(status, 204);

    // A new password revokes the user's tokens; admins cannot demote themselves.
    let (_, olga) = call(&stack, Some(&admin), Method::GET, "/users/", None).await;
    let olga_id = olga["results"].as_array().unwrap().iter().find(|u| u["username"] == "olga").unwrap()["id"].clone();
    let (status, _) = call(
        &stack,
        Some(&admin),
        Method::PATCH,
        &format!("/users/{olga_id}/"),
        Some(json!({"password": "password-2"})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(&stack, Some(&operator), Method::GET, "/users/me/", None).await;
    assert_eq!(status, 401, "the old token was revoked");
    assert!(login(&stack.client, &stack.gateway, "olga", "password-2").await.is_ok());
    let (_, me) = call(&stack, Some(&admin), Method::GET, "/users/me/", None).await;
    let (status, _) =
        call(&stack, Some(&admin), Method::PATCH, &format!("/users/{}/", me["id"]), Some(json!({"role": "viewer"})))
            .await;
    assert_eq!(status, 409);
    let (status, _) = call(&stack, Some(&admin), Method::DELETE, &format!("/users/{olga_id}/"), None).await;
    assert_eq!(status, 204);

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}

/// The document is served without a token and holds every route of the table with its method,
/// and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_openapi_document_lists_every_route() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    let stack = Stack::start(&mut env).await.unwrap();
    let (status, doc) = call(&stack, None, Method::GET, "/api/openapi.json", None).await;
    assert_eq!(status, 200, "{doc}");
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["components"]["securitySchemes"]["token"]["name"], "Authorization");
    for route in ROUTES {
        let operation = &doc["paths"][route.openapi_path()][route.method.as_str().to_lowercase()];
        assert!(operation.is_object(), "{} {} is not in the document", route.method, route.path);
    }
    let documented: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| ["get", "post", "put", "patch", "delete", "head"].iter().filter(|m| item[**m].is_object()).count())
        .sum();
    assert_eq!(documented, ROUTES.len(), "the document has operations no route serves");
    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
