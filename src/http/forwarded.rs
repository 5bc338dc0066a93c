//! What a request says about where it came from. Forwarding headers (`X-Forwarded-For`,
//! `-Proto`, `-Host`, `Forwarded`) are written by whoever sends the request; they are believed
//! only when the peer is one of `trusted_proxies` (empty by default). Everything in Hafen that
//! needs the client's address, the scheme or the host asks here — never actix's
//! `connection_info()`, which believes them from anyone.

use std::net::IpAddr;

use actix_web::http::header;
use actix_web::HttpRequest;
use ipnet::IpNet;

/// How requests reach Hafen: its own TLS, and the proxies whose forwarding headers count.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// Hafen terminates TLS itself.
    pub tls: bool,
    pub trusted_proxies: Vec<IpNet>,
}

impl Transport {
    /// `entries`: addresses or networks (`127.0.0.1`, `10.0.0.0/24`, `::1`).
    pub fn new(tls: bool, entries: &[String]) -> Result<Self, String> {
        let trusted_proxies = entries
            .iter()
            .map(|e| {
                let e = e.trim();
                e.parse::<IpNet>()
                    .or_else(|_| e.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("trusted_proxies entry {e:?} is not an IP address or network")
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            tls,
            trusted_proxies,
        })
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&ip))
    }
}

fn transport(req: &HttpRequest) -> Transport {
    req.app_data::<Transport>().cloned().unwrap_or_default()
}

fn header_value<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Whether the peer is a trusted proxy (and so its forwarding headers count).
fn from_trusted_proxy(req: &HttpRequest, transport: &Transport) -> bool {
    req.peer_addr().is_some_and(|p| transport.trusts(p.ip()))
}

/// The client's address: the peer, or behind trusted proxies the right-most `X-Forwarded-For`
/// entry that is not itself a trusted proxy (each proxy appends the address it saw; entries
/// further left come from the client and could be anything).
pub fn client_ip(req: &HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr()?.ip();
    let transport = transport(req);
    if !transport.trusts(peer) {
        return Some(peer);
    }
    let forwarded = header_value(req, "x-forwarded-for").unwrap_or("");
    let mut client = peer;
    for entry in forwarded.rsplit(',') {
        match entry.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !transport.trusts(ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Some(client)
}

/// Whether the request came over HTTPS: Hafen's own TLS, or a trusted proxy that says so.
pub fn https(req: &HttpRequest) -> bool {
    let transport = transport(req);
    transport.tls
        || (from_trusted_proxy(req, &transport)
            && header_value(req, "x-forwarded-proto").is_some_and(|p| p.trim() == "https"))
}

/// The host the client asked for: a trusted proxy's `X-Forwarded-Host`, else `Host`.
pub fn host(req: &HttpRequest) -> String {
    let transport = transport(req);
    let forwarded = from_trusted_proxy(req, &transport)
        .then(|| header_value(req, "x-forwarded-host"))
        .flatten()
        .and_then(|h| h.split(',').next())
        .map(str::trim)
        .filter(|h| !h.is_empty());
    forwarded
        .or_else(|| header_value(req, header::HOST.as_str()))
        .unwrap_or("")
        .to_string()
}

/// Whether the request comes from this host itself (a local Prometheus or agent), not through
/// a proxy on it: a loopback client, and no forwarding header at all — a request a local proxy
/// relays carries one, whether or not the proxy is configured as trusted.
pub fn is_local(req: &HttpRequest) -> bool {
    let relayed = [
        "x-forwarded-for",
        "x-forwarded-host",
        "forwarded",
        "x-real-ip",
    ]
    .iter()
    .any(|h| req.headers().contains_key(*h));
    !relayed && client_ip(req).is_some_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn request(peer: &str, headers: &[(&str, &str)], transport: &Transport) -> HttpRequest {
        let mut r = TestRequest::default()
            .peer_addr(peer.parse().unwrap())
            .app_data(transport.clone());
        for (k, v) in headers {
            r = r.insert_header((*k, *v));
        }
        r.to_http_request()
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let none = Transport::default();
        let local = Transport::new(false, &["127.0.0.1".into(), "10.0.0.0/24".into()]).unwrap();
        let spoofed = [
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "evil.example"),
            ("host", "hafen.example"),
        ];
        // Untrusted (the default, even from loopback): the peer, the Host header, plain HTTP.
        let r = request("127.0.0.1:5000", &spoofed, &none);
        assert_eq!(client_ip(&r), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(host(&r), "hafen.example");
        assert!(!https(&r));
        assert!(!is_local(&r), "relayed, so not local");
        let r = request("198.51.100.1:5000", &spoofed, &local);
        assert_eq!(client_ip(&r), Some("198.51.100.1".parse().unwrap()));
        assert_eq!(host(&r), "hafen.example");
        // Trusted: the right-most untrusted entry, the proxy's host and scheme.
        let chain = [
            ("x-forwarded-for", "1.2.3.4, 203.0.113.9, 10.0.0.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "hafen.muster.de"),
            ("host", "127.0.0.1:8080"),
        ];
        let r = request("127.0.0.1:5000", &chain, &local);
        assert_eq!(client_ip(&r), Some("203.0.113.9".parse().unwrap()));
        assert_eq!(host(&r), "hafen.muster.de");
        assert!(https(&r));
        assert!(!is_local(&r));
        // A local scraper without forwarding headers is local.
        let r = request("127.0.0.1:5000", &[], &local);
        assert!(is_local(&r));
        assert!(Transport::new(false, &["not an ip".into()]).is_err());
    }
}
