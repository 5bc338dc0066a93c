//! Where Hafen may connect to: one policy for every request it makes — the platforms' APIs,
//! their file servers, the tenants' event hooks and whatever comes later.
//!
//! Two questions are asked of every connection:
//! 1. **Is the host allowed for this purpose?** Platform traffic goes only to the configured API
//!    origins, the platforms' file domains and `outbound_allow`. An event hook may name any host:
//!    the tenant admin registers the company's own systems.
//! 2. **Is the address public?** Loopback, private, link-local, unique-local, shared, multicast,
//!    unspecified, documentation and IPv4-in-IPv6 addresses are refused after DNS resolution,
//!    unless `outbound_allow` names the host or its network: that entry is the one way to reach
//!    an internal system (a CRM on the company LAN). The check runs inside the HTTP client's
//!    resolver, so the client connects to exactly the addresses that were checked: a second DNS
//!    answer (rebinding) cannot switch the target, and every redirect hop is resolved through it
//!    too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use ipnet::IpNet;

/// What a connection is for: decides which hosts may be named at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Platform APIs and their file servers: an allow-list of hosts.
    Platform,
    /// A tenant's event hook: any public host, internal ones only through `outbound_allow`.
    Hook,
}

/// A connection the policy refused. `reason` is written for the person who configured the URL;
/// it never carries what an internal service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub host: String,
    pub reason: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refused by the outbound policy: {}", self.reason)
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    fn new(host: &str, reason: impl Into<String>) -> Self {
        Self {
            host: host.to_string(),
            reason: reason.into(),
        }
    }

    /// The refusal inside an HTTP client error, if the policy was why the request failed.
    pub fn in_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refusal> {
        let mut current = Some(error);
        while let Some(e) = current {
            if let Some(r) = e.downcast_ref::<Refusal>() {
                return Some(r);
            }
            current = e.source();
        }
        None
    }
}

/// An `outbound_allow` entry: a host, a domain with its subdomains, an address or a network.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Host(String),
    Domain(String),
    Network(IpNet),
}

impl Entry {
    fn parse(raw: &str) -> Result<Self, String> {
        let s = raw.trim().to_ascii_lowercase();
        let bad = || {
            format!(
                "outbound_allow entry {raw:?} is not a host name, \".domain\", IP address or network such as 10.20.0.0/16"
            )
        };
        if let Ok(net) = s.parse::<IpNet>() {
            return Ok(Self::Network(net));
        }
        let bare = s.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self::Network(IpNet::from(ip)));
        }
        let (name, domain) = match s.strip_prefix('.') {
            Some(d) => (d, true),
            None => (s.as_str(), false),
        };
        let valid = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        match (valid, domain) {
            (false, _) => Err(bad()),
            (true, true) => Ok(Self::Domain(name.to_string())),
            (true, false) => Ok(Self::Host(name.to_string())),
        }
    }

    fn names(&self, host: &str) -> bool {
        match self {
            Self::Host(h) => h == host,
            Self::Domain(d) => host == d || host.ends_with(&format!(".{d}")),
            Self::Network(_) => false,
        }
    }

    fn contains(&self, ip: IpAddr) -> bool {
        matches!(self, Self::Network(net) if net.contains(&ip))
    }
}

/// The platforms' own file and API domains (WhatsApp media, Messenger attachments, Telegram),
/// reachable on the standard ports.
const PLATFORM_DOMAINS: [&str; 5] = [
    "facebook.com",
    "fbsbx.com",
    "fbcdn.net",
    "whatsapp.net",
    "telegram.org",
];

#[derive(Debug, Clone, Default)]
pub struct EgressPolicy {
    /// The configured platform API endpoints: host and port. The admin configured them, so they
    /// may be internal (a test double, a proxy) — for platform traffic only.
    origins: Vec<(String, u16)>,
    /// `outbound_allow`.
    allowed: Vec<Entry>,
}

impl EgressPolicy {
    /// `endpoints`: the platform API base URLs; `allow`: the `outbound_allow` entries.
    pub fn new(endpoints: &[&str], allow: &[String]) -> Result<Self, String> {
        let origins = endpoints
            .iter()
            .filter_map(|u| {
                let u = url::Url::parse(u).ok()?;
                Some((
                    u.host_str()?.to_ascii_lowercase(),
                    u.port_or_known_default()?,
                ))
            })
            .collect();
        let allowed = allow
            .iter()
            .map(|e| Entry::parse(e))
            .collect::<Result<_, _>>()?;
        Ok(Self { origins, allowed })
    }

    /// Checks what can be checked without DNS: scheme, credentials, the host for `purpose`, and
    /// the address when the URL names one. A host name's addresses are checked by the resolver.
    pub fn check_url(&self, url: &url::Url, purpose: Purpose) -> Result<(), Refusal> {
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        if !matches!(url.scheme(), "https" | "http") {
            return Err(Refusal::new(&host, "only http and https URLs are allowed"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(Refusal::new(&host, "credentials in a URL are not allowed"));
        }
        let (Some(parsed), Some(port)) = (url.host(), url.port_or_known_default()) else {
            return Err(Refusal::new(&host, "the URL has no host"));
        };
        let origin = purpose == Purpose::Platform
            && self.origins.iter().any(|(h, p)| *h == host && *p == port);
        if purpose == Purpose::Platform && !origin && !self.names_platform_host(&host, port) {
            return Err(Refusal::new(
                &host,
                "the host is not a platform host and not on the allow-list (outbound_allow)",
            ));
        }
        let literal = match parsed {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(_) => None,
        };
        match literal {
            Some(ip) if !origin => self.check_address(&host, ip, purpose),
            _ => Ok(()),
        }
    }

    fn names_platform_host(&self, host: &str, port: u16) -> bool {
        let standard_port = matches!(port, 443 | 80);
        let platform = PLATFORM_DOMAINS
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")));
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        (standard_port && platform)
            || self
                .allowed
                .iter()
                .any(|e| e.names(host) || literal.is_some_and(|ip| e.contains(ip)))
    }

    /// Whether `ip`, an address of `host`, may be connected to.
    pub fn check_address(&self, host: &str, ip: IpAddr, purpose: Purpose) -> Result<(), Refusal> {
        let Some(kind) = internal(ip) else {
            return Ok(());
        };
        let explicit = self.allowed.iter().any(|e| e.names(host) || e.contains(ip))
            || (purpose == Purpose::Platform && self.origins.iter().any(|(h, _)| h == host));
        if explicit {
            return Ok(());
        }
        tracing::warn!(%host, %ip, kind, "outbound connection refused: internal address not on the allow-list (outbound_allow)");
        Err(Refusal::new(
            host,
            format!(
                "{host} is {kind}, not a public internet address; an admin can allow an internal system with outbound_allow"
            ),
        ))
    }

    /// The full check with DNS, for the moment a URL is registered: refuses names that resolve to
    /// internal addresses. A name that does not resolve (yet) passes; delivery checks again.
    pub async fn check_reachable(&self, url: &url::Url, purpose: Purpose) -> Result<(), Refusal> {
        self.check_url(url, purpose)?;
        let Some(url::Host::Domain(name)) = url.host() else {
            return Ok(());
        };
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::net::lookup_host((name, port));
        let Ok(Ok(addrs)) = tokio::time::timeout(Duration::from_secs(3), lookup).await else {
            return Ok(());
        };
        let host = name.to_ascii_lowercase();
        for addr in addrs {
            self.check_address(&host, addr.ip(), purpose)?;
        }
        Ok(())
    }
}

/// What kind of non-public address `ip` is, or None for a public one.
pub fn internal(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => internal_v4(v4),
        IpAddr::V6(v6) => internal_v6(v6),
    }
}

fn internal_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified address",
        (127, _, _) => "a loopback address",
        (10, _, _) | (192, 168, _) => "a private address",
        (172, 16..=31, _) => "a private address",
        (169, 254, _) => "a link-local address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved address",
        _ => return None,
    })
}

fn internal_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip.is_unspecified() {
        return Some("an unspecified address");
    }
    if ip.is_loopback() {
        return Some("a loopback address");
    }
    Some(match s[0] {
        0xfc00..=0xfdff => "a unique-local address",
        0xfe80..=0xfebf => "a link-local address",
        0xfec0..=0xfeff => "a site-local address",
        0xff00..=0xffff => "a multicast address",
        // ::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::/96 (NAT64), 2002::/16 (6to4), 2001::/32 (Teredo):
        // an IPv4 address in IPv6 clothing reaches whatever the IPv4 address reaches.
        0 if s[..5] == [0; 5] => "an IPv4 address written as IPv6",
        0x64 if s[1] == 0xff9b => "an IPv4 address written as IPv6 (NAT64)",
        0x2002 => "an IPv4 address written as IPv6 (6to4)",
        0x2001 if s[1] == 0 => "a Teredo tunnel address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        0x0100 if s[1..4] == [0; 3] => "a discard-only address",
        // Only 2000::/3 is global unicast; the rest is reserved.
        0x2000..=0x3fff => return None,
        _ => "a reserved address",
    })
}

/// The HTTP client's resolver: resolves with the system resolver, then hands the client only
/// addresses the policy allows — so the client connects to what was checked.
#[derive(Debug, Clone)]
pub struct CheckedResolver {
    pub policy: Arc<EgressPolicy>,
    pub purpose: Purpose,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (policy, purpose) = (self.policy.clone(), self.purpose);
        Box::pin(async move {
            let host = name.as_str().to_ascii_lowercase();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                policy.check_address(&host, addr.ip(), purpose)?;
            }
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Every request Hafen makes goes through one of these two clients, both behind one policy:
/// the platforms' APIs and file servers (platform hosts only, redirects re-checked) and the
/// tenants' event hooks (any public host, no redirects).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    hooks: reqwest::Client,
    policy: Arc<EgressPolicy>,
}

impl Client {
    pub fn new(policy: EgressPolicy, timeout: Duration) -> Self {
        let policy = Arc::new(policy);
        Self {
            http: client(&policy, Purpose::Platform, timeout),
            hooks: client(&policy, Purpose::Hook, timeout),
            policy,
        }
    }

    /// A GET to a platform's `url` if the policy permits it; refused (and logged) otherwise.
    /// The address is checked again when the client resolves the host.
    pub fn get(&self, url: &str) -> Result<reqwest::RequestBuilder, Refusal> {
        let parsed = url::Url::parse(url).map_err(|_| Refusal {
            host: String::new(),
            reason: "not a URL".into(),
        })?;
        if let Err(refused) = self.policy.check_url(&parsed, Purpose::Platform) {
            tracing::warn!(host = %refused.host, reason = %refused.reason, "outbound connection refused");
            return Err(refused);
        }
        Ok(self.http.get(parsed))
    }

    /// A POST to a tenant's event hook, if the policy permits it.
    pub fn post_hook(&self, url: &str) -> Result<reqwest::RequestBuilder, Refusal> {
        let parsed = url::Url::parse(url).map_err(|_| Refusal {
            host: String::new(),
            reason: "not a URL".into(),
        })?;
        self.policy.check_url(&parsed, Purpose::Hook)?;
        Ok(self.hooks.post(parsed))
    }

    pub fn policy(&self) -> &EgressPolicy {
        &self.policy
    }

    /// The platforms' client, for requests built in full by the caller.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// An HTTP client for `purpose` whose every connection — redirects included — goes through
/// `policy`. Platform traffic follows up to five redirects, each re-checked; event hooks follow
/// none (a receiver answers 2xx or the delivery is retried).
pub fn client(policy: &Arc<EgressPolicy>, purpose: Purpose, timeout: Duration) -> reqwest::Client {
    let redirects = match purpose {
        Purpose::Hook => reqwest::redirect::Policy::none(),
        Purpose::Platform => {
            let policy = policy.clone();
            reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= 5 {
                    return attempt.error("too many redirects");
                }
                match policy.check_url(attempt.url(), Purpose::Platform) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => {
                        tracing::warn!(host = %refused.host, reason = %refused.reason, "outbound redirect refused");
                        attempt.error(refused)
                    }
                }
            })
        }
    };
    reqwest::Client::builder()
        .timeout(timeout)
        .user_agent(concat!("hafen/", env!("CARGO_PKG_VERSION")))
        .redirect(redirects)
        // A proxy from the environment would be resolved and connected to outside the policy.
        .no_proxy()
        .dns_resolver(Arc::new(CheckedResolver {
            policy: policy.clone(),
            purpose,
        }))
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> url::Url {
        url::Url::parse(s).unwrap()
    }

    #[test]
    fn internal_addresses_in_every_spelling_are_refused_for_hooks() {
        let policy = EgressPolicy::new(&["http://127.0.0.1:9999"], &[]).unwrap();
        for refused in [
            "http://127.0.0.1:8080/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
            "http://[::1]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://10.0.0.1/",
            "https://172.20.1.1/",
            "https://192.168.1.1/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:7f00:1]/",
            "https://[64:ff9b::a00:1]/",
            "https://[2002:7f00:1::]/",
            "https://[fd00::1]/",
            "https://[fe80::1]/",
            "https://224.0.0.1/",
            "https://127.0.0.1:5432/",
            // The platform's origin is not an exemption for a tenant's hook.
            "http://127.0.0.1:9999/",
        ] {
            let r = policy.check_url(&url(refused), Purpose::Hook);
            assert!(r.is_err(), "{refused} must be refused");
        }
        for ok in [
            "https://crm.example.com/in",
            "https://93.184.215.14:8443/in",
            "https://[2a00:1450:4001:82b::200e]/in",
        ] {
            assert_eq!(policy.check_url(&url(ok), Purpose::Hook), Ok(()), "{ok}");
        }
    }

    #[test]
    fn an_allow_entry_is_the_one_way_to_an_internal_host() {
        let policy = EgressPolicy::new(
            &[],
            &[
                "crm.intern".into(),
                ".lan.example".into(),
                "10.20.0.0/16".into(),
                "192.168.7.7".into(),
            ],
        )
        .unwrap();
        let private = IpAddr::V4(Ipv4Addr::new(10, 1, 1, 1));
        assert!(policy
            .check_address("crm.intern", private, Purpose::Hook)
            .is_ok());
        assert!(policy
            .check_address("a.lan.example", private, Purpose::Hook)
            .is_ok());
        assert!(policy
            .check_address("other.intern", private, Purpose::Hook)
            .is_err());
        assert!(policy
            .check_url(&url("https://10.20.3.4:8443/x"), Purpose::Hook)
            .is_ok());
        assert!(policy
            .check_url(&url("https://10.21.3.4/x"), Purpose::Hook)
            .is_err());
        assert!(policy
            .check_url(&url("http://192.168.7.7/x"), Purpose::Platform)
            .is_ok());
        for bad in ["", "ftp://x", "a b", "10.0.0.0/33", ".", "x..y"] {
            assert!(EgressPolicy::new(&[], &[bad.into()]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn platform_traffic_goes_to_platform_hosts_only() {
        let policy = EgressPolicy::new(
            &["https://graph.facebook.com/v21.0", "http://127.0.0.1:9999"],
            &["media-proxy.intern".into(), ".cdn.example".into()],
        )
        .unwrap();
        for ok in [
            "https://graph.facebook.com/v21.0/123",
            "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1",
            "https://scontent.xx.fbcdn.net/v/t1/abc.jpg",
            "http://127.0.0.1:9999/file/bot1:x/photo.jpg",
            "https://media-proxy.intern/x",
            "https://a.cdn.example/x",
        ] {
            assert_eq!(
                policy.check_url(&url(ok), Purpose::Platform),
                Ok(()),
                "{ok}"
            );
        }
        for refused in [
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.5/intranet",
            "https://evilfbsbx.com/x",
            "https://fbsbx.com.evil.net/x",
            "ftp://graph.facebook.com/x",
            "http://127.0.0.1:22/",
            "https://fbsbx.com:8443/x",
            "https://user:pw@graph.facebook.com/x",
        ] {
            assert!(
                policy.check_url(&url(refused), Purpose::Platform).is_err(),
                "{refused} must be refused"
            );
        }
        // A platform domain that resolves into the company network is refused too.
        assert!(policy
            .check_address(
                "lookaside.fbsbx.com",
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                Purpose::Platform
            )
            .is_err());
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution() {
        let policy = EgressPolicy::new(&[], &[]).unwrap();
        let refused = policy
            .check_reachable(&url("http://localhost:8080/v1/"), Purpose::Hook)
            .await
            .unwrap_err();
        assert!(refused.reason.contains("loopback"), "{refused}");
        let allowed = EgressPolicy::new(&[], &["localhost".into()]).unwrap();
        assert!(allowed
            .check_reachable(&url("http://localhost:8080/v1/"), Purpose::Hook)
            .await
            .is_ok());
    }

    #[test]
    fn a_refusal_is_found_inside_a_client_error() {
        #[derive(Debug)]
        struct Outer(Refusal);
        impl std::fmt::Display for Outer {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("connect error")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Outer(Refusal::new("x", "y"));
        assert_eq!(Refusal::in_error(&e).map(|r| r.host.as_str()), Some("x"));
    }
}
