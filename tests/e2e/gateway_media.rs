//! Media at /uploads/: a token or a signed URL is needed, signatures expire and cannot be moved to
//! another path, the content type comes from the bytes, and no path reaches outside MEDIA_ROOT.

use domain::media_link::{MediaSigner, unix_now};
use ffsec_tests::worker::{facen, jpeg};
use ffsec_tests::{Stack, TestEnv};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const SECRET: &str = "media-test-secret";
const TTL: u64 = 600;

/// One raw HTTP/1.1 GET, so the path reaches the server exactly as written (an HTTP client
/// library would normalise `..` away before sending). Returns the status and the whole answer.
async fn raw_get(stack: &Stack, target: &str, token: Option<&str>) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(stack.gateway.addr).await.unwrap();
    let auth = token.map(|t| format!("Authorization: Token {t}\r\n")).unwrap_or_default();
    let request = format!("GET {target} HTTP/1.1\r\nHost: test\r\n{auth}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

async fn get(stack: &Stack, url: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = stack.client.get(url);
    if let Some(token) = token {
        request = request.header("Authorization", format!("Token {token}"));
    }
    request.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn media_needs_a_token_or_a_signed_url_and_stays_inside_media_root() {
    crate::init_logs();
    let mut env = TestEnv::new().await.unwrap();
    env.config.secret_key = SECRET.into();
    env.config.auth.media_url_ttl_seconds = TTL;
    let stack = Stack::start(&mut env).await.unwrap();
    let token = stack.token.clone();
    let root = env.media_root.clone();
    std::fs::create_dir_all(root.join("events/t")).unwrap();
    std::fs::write(root.join("events/t/a.jpg"), jpeg(1)).unwrap();
    // Named like an image but holding HTML: must never be served as something a browser renders.
    std::fs::write(root.join("events/t/page.jpg"), b"<html><script>alert(1)</script></html>").unwrap();
    // A file beside MEDIA_ROOT that no request may reach, directly or through a symlink.
    let outside = root.with_file_name(format!("{}-secret.txt", root.file_name().unwrap().to_string_lossy()));
    std::fs::write(&outside, b"TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(&outside, root.join("events/t/link.jpg")).unwrap();
    let url = |path: &str| stack.gateway.url(&format!("/uploads/{path}"));

    // No token: 401. A token: the file, typed by its bytes, privately cacheable, with an ETag.
    let response = get(&stack, &url("events/t/a.jpg"), None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(response.json::<Value>().await.unwrap()["code"], "UNAUTHORIZED");
    let response = get(&stack, &url("events/t/a.jpg"), Some(&token)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(response.headers()["cache-control"], format!("private, max-age={TTL}"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let etag = response.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(response.bytes().await.unwrap().to_vec(), jpeg(1));
    let again = stack
        .client
        .get(url("events/t/a.jpg"))
        .header("Authorization", format!("Token {token}"))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let response = get(&stack, &url("events/t/page.jpg"), Some(&token)).await;
    assert_eq!(response.headers()["content-type"], "application/octet-stream");
    assert_eq!(get(&stack, &url("events/t/missing.jpg"), Some(&token)).await.status(), 404);
    assert_eq!(get(&stack, &url("events/t/a.jpg"), Some("not-a-token")).await.status(), 401);

    // The URLs the API hands out are signed and load without a token.
    let list = stack.create("/dossier-lists/", json!({"name": "L"})).await.unwrap();
    let dossier = stack.create("/dossiers/", json!({"name": "D", "dossier_lists": [list["id"]]})).await.unwrap();
    let form = reqwest::multipart::Form::new()
        .text("dossier", dossier["id"].to_string())
        .text("facen", facen(&[1.0, 0.0, 0.0, 0.0]))
        .part("source_photo", reqwest::multipart::Part::bytes(jpeg(9)).file_name("p.jpg"));
    let face: Value = stack
        .client
        .post(stack.gateway.url("/dossier-faces/"))
        .header("Authorization", format!("Token {token}"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let signed = face["source_photo"].as_str().unwrap().to_string();
    assert!(signed.contains("?expires=") && signed.contains("&signature="), "{signed}");
    let response = get(&stack, &signed, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let max_age: u64 = response.headers()["cache-control"]
        .to_str()
        .unwrap()
        .strip_prefix("private, max-age=")
        .unwrap()
        .parse()
        .unwrap();
    assert!((TTL..=2 * TTL).contains(&max_age), "max-age {max_age} is bounded by the expiry");
    assert_eq!(response.bytes().await.unwrap().to_vec(), jpeg(9));

    // Tampered, moved or expired signatures: 403.
    let (path, query) = signed.split_once('?').unwrap();
    let (expires, signature) = query.split_once('&').unwrap();
    let expires: u64 = expires.strip_prefix("expires=").unwrap().parse().unwrap();
    let signature = signature.strip_prefix("signature=").unwrap();
    let flipped = format!("{}{}", &signature[..63], if signature.ends_with('0') { '1' } else { '0' });
    let relative = path.split_once("/uploads/").unwrap().1;
    let signer = MediaSigner::new(SECRET.as_bytes().to_vec(), TTL);
    for bad in [
        format!("{path}?expires={expires}&signature={flipped}"),
        format!("{path}?expires={}&signature={signature}", expires + TTL),
        format!("{path}?expires=soon&signature={signature}"),
        format!("{}?expires={expires}&signature={signature}", url("events/t/a.jpg")),
        format!("{path}?{}", signer.query(relative, unix_now() - 3 * TTL)),
    ] {
        let response = get(&stack, &bad, None).await;
        assert_eq!(response.status(), 403, "{bad}");
        assert_eq!(response.json::<Value>().await.unwrap()["code"], "PERMISSION_DENIED", "{bad}");
    }
    // A URL signed with SECRET_KEY by anyone who has it works: the key is the configured one.
    let fresh = format!("{}?{}", url("events/t/a.jpg"), signer.query("events/t/a.jpg", unix_now()));
    assert_eq!(get(&stack, &fresh, None).await.status(), 200);

    // Traversal: nothing outside MEDIA_ROOT, whatever the spelling, even with a valid token or a
    // correctly signed URL for the hostile path.
    let secret_name = outside.file_name().unwrap().to_string_lossy().to_string();
    let mut targets: Vec<String> = [
        format!("/uploads/../{secret_name}"),
        format!("/uploads/events/t/../../../{secret_name}"),
        format!("/uploads/%2e%2e/{secret_name}"),
        format!("/uploads/%2E%2E%2F{secret_name}"),
        format!("/uploads/..%2f{secret_name}"),
        format!("/uploads/..%5c{secret_name}"),
        format!("/uploads/..\\{secret_name}"),
        format!("/uploads//{}", outside.display()),
        format!("/uploads/{}", outside.display()),
        "/uploads/%2fetc%2fpasswd".to_string(),
        "/uploads/events/t/link.jpg".to_string(),
        "/uploads/.".to_string(),
        "/uploads/".to_string(),
    ]
    .to_vec();
    let hostile = format!("../{secret_name}");
    targets.push(format!("/uploads/{hostile}?{}", signer.query(&hostile, unix_now())));
    for target in &targets {
        for auth in [Some(token.as_str()), None] {
            let (status, answer) = raw_get(&stack, target, auth).await;
            assert!((400..500).contains(&status), "{target}: {status}");
            assert!(!answer.contains("TOP-SECRET"), "{target} leaked the file");
        }
    }

    stack.stop().await.unwrap();
    env.cleanup().await.unwrap();
    let _ = std::fs::remove_file(outside);
}
