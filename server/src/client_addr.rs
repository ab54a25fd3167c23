//! Who is on the other end of a request: the TCP peer, or, when the peer is
//! one of the configured trusted proxies, the client that proxy names in
//! the header it writes (`X-Forwarded-For`, or `Forwarded` when configured). Decided once per request, by the
//! outermost middleware, which replaces the connection's `ConnectInfo` with
//! the client's address: sign-in throttling, the audit log and the access
//! log all read that one value. Headers from any other peer are ignored, so
//! a client cannot choose the address it is counted under.

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
    sync::Arc,
};

use axum::{
    extract::{ConnectInfo, Request},
    http::{Extensions, HeaderMap},
};
use ipnet::IpNet;

/// Hops of a forwarding chain looked at, at most: a longer chain is a
/// client writing its own history.
const MAX_HOPS: usize = 32;

/// Which header the proxies write. Only that one is read: a client can send
/// the other through a proxy that passes it on untouched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardingHeader {
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…`.
    Forwarded,
}

impl ForwardingHeader {
    pub fn parse(name: &str) -> Result<Self, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            other => Err(format!("{other:?} is neither x-forwarded-for nor forwarded")),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
        }
    }
}

/// The proxies whose forwarding header is believed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardingHeader,
}

impl TrustedProxies {
    /// Reads the proxies' chain from `header` instead of `X-Forwarded-For`.
    pub fn reading(mut self, header: ForwardingHeader) -> Self {
        self.header = header;
        self
    }

    /// Comma-separated networks (`10.0.0.0/8`) or single addresses.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for item in list.split(',').map(str::trim).filter(|item| !item.is_empty()) {
            let network = IpNet::from_str(item)
                .or_else(|_| IpAddr::from_str(item).map(IpNet::from))
                .map_err(|_| format!("{item:?} is neither an address nor a network such as 10.0.0.0/8"))?;
            networks.push(network);
        }
        Ok(Self { networks, header: ForwardingHeader::default() })
    }

    pub fn is_empty(&self) -> bool {
        self.networks.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|network| network.contains(&ip))
    }

    /// The client's address: walking the chain from the nearest hop back,
    /// the first address that is not a trusted proxy.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for hop in forwarded_chain(headers, self.header).into_iter().rev().take(MAX_HOPS) {
            let Some(hop) = hop else {
                // An obfuscated or unreadable hop: nothing before it can be believed.
                return client;
            };
            client = hop;
            if !self.trusts(hop) {
                return hop;
            }
        }
        client
    }

    pub fn header(&self) -> ForwardingHeader {
        self.header
    }

    pub fn describe(&self) -> String {
        self.networks.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
    }
}

/// IPv4 addresses that arrive as IPv6 (`::ffff:10.0.0.1`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// The addresses the proxies recorded in `header`, client first. `None`
/// marks a hop that names no address (`unknown`, an obfuscated identifier,
/// garbage).
fn forwarded_chain(headers: &HeaderMap, header: ForwardingHeader) -> Vec<Option<IpAddr>> {
    let values = headers.get_all(header.name()).iter().filter_map(|v| v.to_str().ok()).collect::<Vec<_>>();
    let elements = values.iter().flat_map(|value| value.split(','));
    match header {
        ForwardingHeader::XForwardedFor => elements.map(parse_node).collect(),
        ForwardingHeader::Forwarded => elements
            .map(|element| {
                let node = element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.trim().eq_ignore_ascii_case("for").then_some(value.trim())
                });
                node.and_then(parse_node)
            })
            .collect(),
    }
}

/// An address from a forwarding header: `192.0.2.1`, `192.0.2.1:8080`,
/// `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    let node = node.trim().trim_matches('"');
    if let Ok(ip) = IpAddr::from_str(node) {
        return Some(canonical(ip));
    }
    if let Some(rest) = node.strip_prefix('[') {
        return IpAddr::from_str(rest.split(']').next()?).ok().map(canonical);
    }
    let (host, port) = node.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    IpAddr::from_str(host).ok().map(canonical)
}

/// An address as text, for the audit log and sign-in throttling. IPv4 is
/// written by hand: `Ipv4Addr`'s `Display` (padding, a buffer, four
/// formatted writes) was 2.5 % of a manifest GET's instructions.
pub fn text(ip: IpAddr) -> String {
    let IpAddr::V4(v4) = ip else { return ip.to_string() };
    let mut text = String::with_capacity(15);
    for (index, octet) in v4.octets().into_iter().enumerate() {
        if index > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
    text
}

/// The client's address of a request, as text: what the outermost
/// middleware put where handlers read the peer's.
pub fn of_request(extensions: &Extensions) -> Option<String> {
    extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| text(addr.ip()))
}

/// Puts the client's address where handlers read the peer's, for a
/// `map_request` layer; `None` when no proxy is trusted (the peer is the client).
pub fn resolver(trusted: &TrustedProxies) -> Option<impl Fn(Request) -> Request + Clone + Send + Sync + 'static> {
    if trusted.is_empty() {
        return None;
    }
    let trusted = Arc::new(trusted.clone());
    Some(move |mut request: Request| {
        if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>().copied() {
            let client = trusted.client_ip(peer.ip(), request.headers());
            request.extensions_mut().insert(ConnectInfo(SocketAddr::new(client, peer.port())));
        }
        request
    })
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn parses_networks_and_addresses() {
        let trusted = TrustedProxies::parse(" 10.0.0.0/8, 192.0.2.1 ,::1").unwrap();
        assert_eq!(trusted.describe(), "10.0.0.0/8,192.0.2.1/32,::1/128");
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }

    #[test]
    fn reads_only_the_configured_header() {
        let xff = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let forwarded = xff.clone().reading(ForwardingHeader::Forwarded);
        let sent = headers(&[("forwarded", "for=198.51.100.7"), ("x-forwarded-for", "203.0.113.1")]);
        assert_eq!(xff.client_ip(ip("10.0.0.2"), &sent), ip("203.0.113.1"), "a client's own Forwarded is ignored");
        assert_eq!(forwarded.client_ip(ip("10.0.0.2"), &sent), ip("198.51.100.7"));
        assert_eq!(ForwardingHeader::parse(" Forwarded "), Ok(ForwardingHeader::Forwarded));
        assert!(ForwardingHeader::parse("x-real-ip").is_err());
    }

    #[test]
    fn believes_only_trusted_proxies() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let rfc = trusted.clone().reading(ForwardingHeader::Forwarded);
        // Peer, forwarding headers, the client Berth should see.
        type Case = (&'static str, &'static [(&'static str, &'static str)], &'static str);
        let cases: &[Case] = &[
            // A client talking directly cannot choose its address.
            ("203.0.113.9", &[("x-forwarded-for", "198.51.100.1")], "203.0.113.9"),
            ("10.0.0.2", &[("x-forwarded-for", "198.51.100.1")], "198.51.100.1"),
            // What the client wrote itself (the left part) is not believed past an untrusted hop.
            ("10.0.0.2", &[("x-forwarded-for", "1.1.1.1, 198.51.100.1, 10.0.0.3")], "198.51.100.1"),
            ("10.0.0.2", &[("x-forwarded-for", "1.1.1.1"), ("x-forwarded-for", "198.51.100.1")], "198.51.100.1"),
            ("10.0.0.2", &[("x-forwarded-for", "198.51.100.1:5555")], "198.51.100.1"),
            // An unreadable hop stops the walk at the last address believed.
            ("10.0.0.2", &[("x-forwarded-for", "1.1.1.1, garbage")], "10.0.0.2"),
            // Only proxies in the chain: the farthest one.
            ("10.0.0.2", &[("x-forwarded-for", "10.0.0.9")], "10.0.0.9"),
            ("10.0.0.2", &[], "10.0.0.2"),
            ("::ffff:10.0.0.2", &[("x-forwarded-for", "198.51.100.1")], "198.51.100.1"),
        ];
        for (peer, pairs, expected) in cases {
            assert_eq!(trusted.client_ip(ip(peer), &headers(pairs)), ip(expected), "{peer} {pairs:?}");
        }
        let rfc_cases: &[Case] = &[
            ("10.0.0.2", &[("forwarded", "for=198.51.100.7;proto=https")], "198.51.100.7"),
            ("10.0.0.2", &[("forwarded", r#"for="[2001:db8::1]:4711", for=10.0.0.5"#)], "2001:db8::1"),
            ("10.0.0.2", &[("forwarded", "for=unknown")], "10.0.0.2"),
            ("203.0.113.9", &[("forwarded", "for=198.51.100.7")], "203.0.113.9"),
        ];
        for (peer, pairs, expected) in rfc_cases {
            assert_eq!(rfc.client_ip(ip(peer), &headers(pairs)), ip(expected), "{peer} {pairs:?}");
        }
    }

    #[test]
    fn addresses_read_as_their_display() {
        for address in ["0.0.0.0", "1.2.3.4", "10.0.99.100", "192.168.1.254", "255.255.255.255", "::1", "2001:db8::7"] {
            assert_eq!(text(ip(address)), address);
        }
        for octet in 0..=255_u8 {
            let v4 = IpAddr::from([octet, 255 - octet, octet / 3, 9]);
            assert_eq!(text(v4), v4.to_string());
        }
        assert_eq!(text(ip("::ffff:10.0.0.1")), "::ffff:10.0.0.1");
    }

    #[test]
    fn a_long_chain_is_cut() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let chain = std::iter::repeat_n("10.1.1.1", 100).collect::<Vec<_>>().join(", ");
        let mut map = HeaderMap::new();
        map.insert("x-forwarded-for", HeaderValue::from_str(&format!("198.51.100.1, {chain}")).unwrap());
        assert_eq!(trusted.client_ip(ip("10.0.0.2"), &map), ip("10.1.1.1"), "hops past the bound are not read");
    }
}
