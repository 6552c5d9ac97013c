//! Login rate limits: per username and per client address, 429 with Retry-After, a successful
//! login clears the username's failures.

use ffsec_tests::env::{ADMIN_PASSWORD, ADMIN_USER};
use ffsec_tests::{Stack, TestEnv};
use serde_json::{Value, json};

/// (status, error code, Retry-After) of one login attempt.
async fn attempt(stack: &Stack, user: &str, password: &str) -> (u16, Option<String>, Option<u64>) {
    let response =
        stack.client.post(stack.gateway.url("/auth/login/")).basic_auth(user, Some(password)).send().await.unwrap();
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().map(str::to_string), retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_logins_are_limited_per_user_and_per_address() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.auth.login_max_failures_per_user = 3;
    env.config.auth.login_max_failures_per_address = 8;
    env.config.auth.login_window_seconds = 600;
    let stack = Stack::start(&mut env).await.unwrap();
    for name in ["ursula", "walter"] {
        stack.create("/users/", json!({"username": name, "password": "password-1"})).await.unwrap();
    }
    // The admin's own login in Stack::start succeeded: it left no count on the address.

    // Three failures for ursula, then even her right password is refused for now.
    for _ in 0..3 {
        assert_eq!(attempt(&stack, "ursula", "wrong").await.0, 401);
    }
    let (status, code, retry) = attempt(&stack, "ursula", "password-1").await;
    assert_eq!((status, code.as_deref()), (429, Some("TOO_MANY_REQUESTS")));
    assert!(retry.is_some_and(|s| (1..=600).contains(&s)), "Retry-After {retry:?}");
    // Other users from the same address are unaffected.
    assert_eq!(attempt(&stack, ADMIN_USER, ADMIN_PASSWORD).await.0, 200);

    // A successful login clears the username's failures: two more may fail before the limit.
    assert_eq!(attempt(&stack, "walter", "wrong").await.0, 401);
    assert_eq!(attempt(&stack, "walter", "wrong").await.0, 401);
    assert_eq!(attempt(&stack, "walter", "password-1").await.0, 200);
    assert_eq!(attempt(&stack, "walter", "wrong").await.0, 401);
    assert_eq!(attempt(&stack, "walter", "wrong").await.0, 401);
    assert_eq!(attempt(&stack, "walter", "password-1").await.0, 200);

    // The address has 7 failures (ursula 3, walter 4); an eighth, for a made-up user, reaches
    // its limit, and then nobody logs in from it.
    assert_eq!(attempt(&stack, "nobody", "wrong").await.0, 401);
    let (status, code, retry) = attempt(&stack, ADMIN_USER, ADMIN_PASSWORD).await;
    assert_eq!((status, code.as_deref()), (429, Some("TOO_MANY_REQUESTS")));
    assert!(retry.is_some());
    // Existing tokens keep working: the limit is on logins only.
    stack.get("/users/me/").await.unwrap();

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
}
