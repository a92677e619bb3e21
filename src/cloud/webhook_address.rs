//! Where a webhook may send: the check that keeps signed deliveries away from the cloud's own
//! network — loopback, private (RFC 1918, fc00::/7), link-local (169.254/16 with the cloud
//! metadata address 169.254.169.254, fe80::/10), carrier-grade NAT (100.64/10), "this host"
//! (0.0.0.0, ::) and the IPv4 addresses such an IPv6 address embeds — unless the operator
//! started loyalty-cloud with `--allow-private-webhooks` (a receiver on their own network).
//!
//! The address is checked twice. When a webhook is created ([`check_at_creation`]), an IP
//! literal, a name that means this machine (`localhost`, `*.localhost`) and a name that
//! resolves to such an address are refused, so the admin learns at once. That lookup cannot be
//! the last word, since a name's DNS answer may change after creation: every delivery resolves
//! the name again through [`GuardedResolver`], which is the webhook client's only resolver and
//! hands the client only addresses it has checked — the connection goes to exactly the address
//! that was checked, with no second lookup DNS could answer differently. IP literals never reach
//! a resolver, so [`check_literal`] checks them before each delivery. A refused delivery fails
//! at once with the reason ([`Refused`]); retrying it would meet the same answer.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// How long creation waits for a name's addresses. A name that does not resolve in time (or
/// at all) is accepted: its receiver may not be in DNS yet, and each delivery checks again.
const CREATION_LOOKUP: Duration = Duration::from_secs(3);

/// Whether `ip` belongs to the cloud's own network rather than to a receiver on the internet.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    a == 0 // 0.0.0.0/8, "this network" (0.0.0.0 reaches the local host)
        || ip.is_loopback() // 127.0.0.0/8
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16, the metadata address 169.254.169.254 among them
        || (a == 100 && (b & 0xc0) == 64) // 100.64.0.0/10, carrier-grade NAT
        || (a == 198 && (b & 0xfe) == 18) // 198.18.0.0/15, network test beds
        || ip.is_multicast() // 224/4
        || a >= 240 // 240/4 reserved, 255.255.255.255 broadcast
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // The IPv4 address an IPv6 one carries, for the forms that reach it: mapped (::ffff:a.b.c.d),
    // compatible (::a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:aabb:ccdd::).
    let low = Ipv4Addr::new((segments[6] >> 8) as u8, segments[6] as u8, (segments[7] >> 8) as u8, segments[7] as u8);
    let embedded = match segments {
        [0, 0, 0, 0, 0, 0xffff, ..] | [0, 0, 0, 0, 0, 0, ..] | [0x64, 0xff9b, 0, 0, 0, 0, ..] => Some(low),
        [0x2002, high, low16, ..] => {
            Some(Ipv4Addr::new((high >> 8) as u8, high as u8, (low16 >> 8) as u8, low16 as u8))
        }
        _ => None,
    };
    ip.is_unspecified() // ::
        || ip.is_loopback() // ::1
        || (segments[0] & 0xfe00) == 0xfc00 // fc00::/7, unique local
        || (segments[0] & 0xffc0) == 0xfe80 // fe80::/10, link-local
        || (segments[0] & 0xffc0) == 0xfec0 // fec0::/10, the old site-local
        || ip.is_multicast() // ff00::/8
        || embedded.is_some_and(is_private_v4)
}

/// Names that mean this machine whatever DNS says (RFC 6761).
fn names_this_machine(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// A webhook address refused because it points into the cloud's own network.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.sentence())]
pub struct Refused {
    /// The host as the URL names it.
    pub host: String,
    /// The private address it is or resolves to; `None` for a name such as `localhost`.
    pub address: Option<IpAddr>,
}

impl Refused {
    fn sentence(&self) -> String {
        let what = match self.address {
            Some(address) if address.to_string() == self.host.trim_matches(['[', ']']) => {
                format!("the webhook address {} is", self.host)
            }
            Some(address) => format!("the webhook host {} resolves to {address}, which is", self.host),
            None => format!("the webhook host {} names this machine, which is", self.host),
        };
        format!(
            "{what} inside the cloud's own network (loopback, private or link-local); use a receiver \
             on a public address, or start loyalty-cloud with --allow-private-webhooks \
             (LOYALTY_CLOUD_ALLOW_PRIVATE_WEBHOOKS=true) to allow receivers on your network"
        )
    }
}

/// The IP address a URL's host is written as, if it is one. URL parsing has already turned
/// every spelling of an IPv4 address (`2130706433`, `0x7f.1`) into dotted form, and IPv6
/// literals come in brackets.
fn literal(url: &Url) -> Option<IpAddr> {
    url.host_str()?.trim_start_matches('[').trim_end_matches(']').parse().ok()
}

/// Refuses a URL whose host is written as a private IP address; no lookup. Deliveries check
/// this, as an IP literal never reaches the resolver.
pub fn check_literal(url: &Url) -> Result<(), Refused> {
    match literal(url) {
        Some(ip) if is_private(ip) => {
            Err(Refused { host: url.host_str().unwrap_or_default().to_owned(), address: Some(ip) })
        }
        _ => Ok(()),
    }
}

/// The check when a webhook is created: [`check_literal`], a name meaning this machine, then
/// the name's addresses as DNS gives them now (a name that does not resolve in time passes;
/// deliveries check again).
pub async fn check_at_creation(url: &Url) -> Result<(), Refused> {
    check_literal(url)?;
    let Some(host) = url.host_str().filter(|_| literal(url).is_none()).map(str::to_owned) else { return Ok(()) };
    if names_this_machine(&host) {
        return Err(Refused { host, address: None });
    }
    let looked_up = tokio::time::timeout(CREATION_LOOKUP, tokio::net::lookup_host((host.as_str(), 0))).await;
    match looked_up {
        Ok(Ok(addrs)) => refuse_private(&host, addrs).map(drop),
        Ok(Err(_)) | Err(_) => Ok(()),
    }
}

/// The addresses, or the first private one among them as a refusal: one private answer is
/// enough to refuse, since the client may try any of them.
fn refuse_private(host: &str, addrs: impl Iterator<Item = SocketAddr>) -> Result<Vec<SocketAddr>, Refused> {
    let addrs: Vec<SocketAddr> = addrs.collect();
    match addrs.iter().find(|addr| is_private(addr.ip())) {
        Some(private) => Err(Refused { host: host.to_owned(), address: Some(private.ip()) }),
        None => Ok(addrs),
    }
}

/// The webhook client's DNS resolver: the system's lookup, and then only checked addresses
/// (all of them, unless private receivers are allowed). `localhost` needs no rule of its own
/// here: whatever it resolves to is checked like any other answer.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let (host, allow_private) = (name.as_str().to_owned(), self.allow_private);
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let addrs: Vec<SocketAddr> = if allow_private { addrs.collect() } else { refuse_private(&host, addrs)? };
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// The refusal somewhere in an error's chain of causes (a request the resolver stopped).
pub fn find_refusal<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a Refused> {
    let mut current = Some(error);
    while let Some(cause) = current {
        if let Some(refused) = cause.downcast_ref::<Refused>() {
            return Some(refused);
        }
        current = cause.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inward_addresses_are_private_and_public_ones_are_not() {
        let private = [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "169.254.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "198.18.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
        ];
        for text in private {
            assert!(is_private(text.parse().unwrap()), "{text} is private");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "172.32.0.1",
            "172.15.255.255",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.1.1",
            "192.169.0.1",
            "203.0.113.10",
            "2606:4700::1111",
            "2a00:1450:4010:c05::8b",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
            "fe00::1",
        ];
        for text in public {
            assert!(!is_private(text.parse().unwrap()), "{text} is public");
        }
    }

    #[test]
    fn private_literals_are_refused_without_a_lookup() {
        let refused = |url: &str| check_literal(&Url::parse(url).unwrap()).err();
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://10.0.0.1/hook",
            "http://[::1]/hook",
            "http://[::ffff:7f00:1]/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0/",
            // WHATWG URL parsing turns these spellings into 127.0.0.1 before we look.
            "http://2130706433/",
            "http://0x7f.1/",
        ] {
            assert!(refused(url).is_some(), "{url} is refused");
        }
        for url in [
            "https://hooks.example.com/loyalty",
            "https://203.0.113.10/hook",
            "http://[2606:4700::1111]/",
            "http://localhost/",
        ] {
            assert_eq!(refused(url), None, "{url} passes (a name is the resolver's to check)");
        }
        let metadata = refused("http://169.254.169.254/").unwrap();
        assert_eq!(metadata.address, Some("169.254.169.254".parse().unwrap()));
        let sentence = metadata.to_string();
        assert!(sentence.contains("address 169.254.169.254 is"), "{sentence}");
        assert!(sentence.contains("--allow-private-webhooks"), "{sentence}");
    }

    #[tokio::test]
    async fn creation_refuses_local_names_and_looks_others_up() {
        for url in ["http://localhost:9000/hook", "http://LocalHost./hook", "http://api.localhost/hook"] {
            let refused = check_at_creation(&Url::parse(url).unwrap()).await.unwrap_err();
            assert!(refused.to_string().contains("names this machine"), "{refused}");
        }
        assert!(check_at_creation(&Url::parse("http://10.1.2.3/").unwrap()).await.is_err());
        // A name that does not resolve passes (deliveries check it).
        assert_eq!(check_at_creation(&Url::parse("https://receiver.invalid/hook").unwrap()).await, Ok(()));
    }

    /// The resolver the delivery client uses refuses a name whose answer is private, and the
    /// refusal survives reqwest's error wrapping so the delivery can be failed with it.
    #[tokio::test]
    async fn the_delivery_client_refuses_what_the_resolver_refuses() {
        for allow_private in [false, true] {
            let resolver = GuardedResolver { allow_private };
            for name in ["localhost", "127.0.0.1", "::1"] {
                let answer = resolver.resolve(name.parse().unwrap()).await;
                assert_eq!(answer.is_err(), !allow_private, "{name}, allow_private = {allow_private}");
            }
        }
        // One private address among public ones is enough to refuse.
        let mixed: Vec<SocketAddr> = vec!["8.8.8.8:0".parse().unwrap(), "10.0.0.7:0".parse().unwrap()];
        let refused = refuse_private("mixed.example", mixed.into_iter()).unwrap_err();
        assert_eq!(refused.address, Some("10.0.0.7".parse().unwrap()));
        assert!(refused.to_string().contains("resolves to 10.0.0.7"), "{refused}");
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(GuardedResolver { allow_private: false })
            .build()
            .unwrap();
        // Nothing listens on port 9 here; the request must stop at the resolver, before connecting.
        let error = client.post("http://localhost:9/hook").send().await.unwrap_err();
        let refused = find_refusal(&error).unwrap_or_else(|| panic!("no refusal in {error:?}"));
        assert_eq!(refused.host, "localhost");
    }
}
