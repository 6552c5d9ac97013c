//! gateway-api resources: users and roles, camera groups, edits and deletes, and the permission
//! matrix over every route.

use ffsec_tests::stack::login;
use ffsec_tests::{Stack, TestEnv};
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
    // A list the matrix may purge and delete, and a face id nobody has (404 is fine: only 401 and
    // 403 are checked).
    let (_, spare) = call(&stack, Some(&admin), Method::POST, "/dossier-lists/", Some(json!({"name": "m"}))).await;
    let (l, m, f) = (list["id"].clone(), spare["id"].clone(), 999_999);

    // (method, path, body, least role that may call it); "none" = any authenticated user.
    let matrix: Vec<(Method, String, Option<Value>, &str)> = vec![
        (Method::GET, "/users/me/".into(), None, "viewer"),
        (Method::GET, "/users/".into(), None, "admin"),
        (Method::POST, "/users/".into(), Some(json!({})), "admin"),
        (Method::GET, "/camera-groups/".into(), None, "viewer"),
        (Method::POST, "/camera-groups/".into(), Some(json!({})), "admin"),
        (Method::PATCH, format!("/camera-groups/{g}/"), Some(json!({})), "admin"),
        (Method::GET, "/cameras/".into(), None, "viewer"),
        (Method::POST, "/cameras/".into(), Some(json!({"name": ""})), "admin"),
        (Method::PATCH, format!("/cameras/{c}/"), Some(json!({})), "admin"),
        (Method::GET, "/dossier-lists/".into(), None, "viewer"),
        (Method::POST, "/dossier-lists/".into(), Some(json!({"name": ""})), "operator"),
        (Method::GET, format!("/dossier-lists/{l}/"), None, "viewer"),
        (Method::PATCH, format!("/dossier-lists/{l}/"), Some(json!({})), "operator"),
        (Method::POST, format!("/dossier-lists/{m}/purge/"), None, "operator"),
        (Method::DELETE, format!("/dossier-lists/{m}/"), None, "operator"),
        (Method::GET, "/dossiers/".into(), None, "viewer"),
        (Method::POST, "/dossiers/".into(), Some(json!({"name": ""})), "operator"),
        (Method::PATCH, format!("/dossiers/{d}/"), Some(json!({})), "operator"),
        (Method::GET, "/dossier-faces/".into(), None, "viewer"),
        (Method::GET, format!("/dossier-faces/{f}/"), None, "viewer"),
        (Method::PATCH, format!("/dossier-faces/{f}/"), Some(json!({"active": false})), "operator"),
        (Method::DELETE, format!("/dossier-faces/{f}/"), None, "operator"),
        (Method::GET, "/uploads/events/none.jpg".into(), None, "viewer"),
        (Method::GET, "/hooks/".into(), None, "admin"),
        (Method::POST, "/hooks/".into(), Some(json!({"name": ""})), "admin"),
        (Method::GET, format!("/hooks/{h}/deliveries/"), None, "admin"),
        (Method::POST, format!("/hooks/{h}/rotate-secret/"), None, "admin"),
        (Method::GET, "/events/faces/".into(), None, "viewer"),
        (Method::POST, "/events/faces/acknowledge/".into(), None, "operator"),
    ];
    let rank = |role: &str| match role {
        "viewer" => 0,
        "operator" => 1,
        _ => 2,
    };
    for (method, path, body, least) in &matrix {
        let (status, reply) = call(&stack, None, method.clone(), path, body.clone()).await;
        assert_eq!((status, reply["code"].as_str()), (401, Some("UNAUTHORIZED")), "{method} {path} without a token");
        for (role, token) in [("viewer", &viewer), ("operator", &operator), ("admin", &admin)] {
            let (status, reply) = call(&stack, Some(token), method.clone(), path, body.clone()).await;
            if rank(role) >= rank(least) {
                assert!(status != 401 && status != 403, "{method} {path} as {role}: {status} {reply}");
            } else {
                assert_eq!(
                    (status, reply["code"].as_str()),
                    (403, Some("PERMISSION_DENIED")),
                    "{method} {path} as {role}"
                );
            }
        }
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
