//! The SSRF guard: a hook may not make the dispatcher reach loopback, private, link-local,
//! unique-local or multicast addresses (nor IPv4-mapped or translated forms of them), unless the
//! address is in WEBHOOKS.ALLOWED_ADDRESSES. The check runs on the addresses the client is about
//! to connect to (a DNS resolver that filters them), so a host name that resolves to loopback is
//! refused like the literal address.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use domain::net::{Block, forbidden_class, parse_block};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

#[derive(Debug, Clone, Default)]
pub struct Guard {
    allowed: Vec<Block>,
}

#[derive(Debug, thiserror::Error)]
#[error("refused to connect to {address} ({class} address; see WEBHOOKS.ALLOWED_ADDRESSES)")]
pub struct Refused {
    pub address: String,
    pub class: &'static str,
}

impl Guard {
    /// Entries were validated with the config; an unreadable one is skipped.
    pub fn new(allowed: &[String]) -> Self {
        Self { allowed: allowed.iter().filter_map(|a| parse_block(a)).collect() }
    }

    pub fn check(&self, ip: IpAddr) -> Result<(), Refused> {
        match forbidden_class(ip) {
            Some(class) if !self.allowed.iter().any(|b| b.contains(ip)) => {
                Err(Refused { address: ip.to_string(), class })
            }
            _ => Ok(()),
        }
    }
}

/// Resolves with the system resolver, then keeps only the addresses the guard allows.
pub struct GuardedResolver {
    guard: Arc<Guard>,
}

impl GuardedResolver {
    pub fn new(guard: Arc<Guard>) -> Self {
        Self { guard }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        let guard = self.guard.clone();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match guard.check(addr.ip()) {
                    Ok(()) => true,
                    Err(refused) => {
                        refusal = Some(refused);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(refused)) => {
                    Err(Box::new(Refused { address: format!("{host} ({})", refused.address), class: refused.class })
                        as Box<dyn std::error::Error + Send + Sync>)
                }
                _ => Ok(Box::new(allowed.into_iter()) as Addrs),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_exempts_exact_addresses_and_blocks() {
        let guard = Guard::new(&["127.0.0.1".into(), "10.20.0.0/16".into()]);
        assert!(guard.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(guard.check("127.0.0.2".parse().unwrap()).is_err());
        assert!(guard.check("10.20.1.1".parse().unwrap()).is_ok());
        assert!(guard.check("10.21.1.1".parse().unwrap()).is_err());
        assert!(guard.check("93.184.216.34".parse().unwrap()).is_ok());
        assert!(Guard::default().check("::ffff:127.0.0.1".parse().unwrap()).is_err());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let resolver = GuardedResolver::new(Arc::new(Guard::default()));
        let error = match resolver.resolve("localhost".parse().unwrap()).await {
            Err(e) => e.to_string(),
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
        };
        assert!(error.contains("loopback"), "{error}");
        let allowing = GuardedResolver::new(Arc::new(Guard::new(&["127.0.0.1".into(), "::1".into()])));
        assert!(allowing.resolve("localhost".parse().unwrap()).await.is_ok());
    }
}
