//! One signed HTTP POST to one hook.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Url;
use reqwest::header::RETRY_AFTER;

use crate::schedule::parse_retry_after;
use crate::signing;
use crate::ssrf::{Guard, GuardedResolver};

/// Errors longer than this are cut in the delivery log.
const ERROR_TEXT_LIMIT: usize = 500;

#[derive(Debug, Default)]
pub struct Outcome {
    pub success: bool,
    pub status: Option<u16>,
    pub error: String,
    pub response_body: String,
    pub duration: Duration,
    pub retry_after: Option<Duration>,
    /// `410 Gone`: the consumer says this hook is gone for good.
    pub gone: bool,
}

#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    guard: Arc<Guard>,
    response_limit: usize,
}

pub struct Settings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub response_limit: usize,
    pub allowed_addresses: Vec<String>,
}

impl Sender {
    /// Redirects are never followed (a 3xx is a failure, not a new target), proxies are off (the
    /// SSRF guard must see the address actually connected to) and every name goes through the guard.
    pub fn new(settings: &Settings) -> reqwest::Result<Self> {
        let guard = Arc::new(Guard::new(&settings.allowed_addresses));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver::new(guard.clone())))
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout)
            .tcp_nodelay(true)
            .user_agent(concat!("ffsec-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client, guard, response_limit: settings.response_limit })
    }

    pub async fn send(&self, url: &str, keys: &[Vec<u8>], message_id: &str, body: Vec<u8>) -> Outcome {
        let started = Instant::now();
        let refused = |error: String| Outcome { error, duration: started.elapsed(), ..Outcome::default() };
        let url = match Url::parse(url) {
            Ok(url) => url,
            Err(e) => return refused(format!("bad hook URL: {e}")),
        };
        // Literal addresses never reach the resolver, so they are checked here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(std::net::IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(std::net::IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(Err(e)) = literal.map(|ip| self.guard.check(ip)) {
            return refused(e.to_string());
        }
        let timestamp = chrono::Utc::now().timestamp();
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signing::header(keys, message_id, timestamp, &body))
            .body(body);
        match request.send().await {
            Ok(mut response) => {
                let status = response.status();
                let retry_after =
                    response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(parse_retry_after);
                let response_body = read_capped(&mut response, self.response_limit).await;
                Outcome {
                    success: status.is_success(),
                    status: Some(status.as_u16()),
                    error: if status.is_success() { String::new() } else { format!("HTTP {status}") },
                    response_body,
                    duration: started.elapsed(),
                    retry_after,
                    gone: status == reqwest::StatusCode::GONE,
                }
            }
            // Without the URL: a hook URL may carry credentials, and this text is logged and stored.
            Err(e) => refused(describe(&e.without_url())),
        }
    }
}

/// The first `limit` bytes of the body; the rest is never read (a hook cannot make us buffer much).
async fn read_capped(response: &mut reqwest::Response, limit: usize) -> String {
    let mut kept = Vec::new();
    while kept.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk[..chunk.len().min(limit - kept.len())]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&kept).into_owned()
}

/// The error with its causes (reqwest's own text hides whether it was a timeout or a refusal).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() { "timed out".to_string() } else { e.to_string() };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.truncate(ERROR_TEXT_LIMIT);
    text
}
