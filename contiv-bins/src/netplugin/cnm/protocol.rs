//! Request and response bodies of Docker's remote network driver and IPAM
//! driver protocols (libnetwork `remote` and `ipams/remote`), with
//! Docker's field names. Every request field is optional on decode: Docker
//! versions differ in what they send.

use contiv_core::datapath::{PublishedPort, ServiceProtocol};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Docker (Go) sends `null` for empty maps and lists: read it as empty.
fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Option::unwrap_or_default)
}

/// The content type Docker plugins answer with.
pub const CONTENT_TYPE: &str = "application/vnd.docker.plugins.v1+json";

/// `Plugin.Activate` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivateResponse {
    /// The APIs implemented.
    #[serde(rename = "Implements")]
    pub implements: Vec<String>,
}

/// `NetworkDriver.GetCapabilities` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapabilitiesResponse {
    /// `local` or `global`.
    #[serde(rename = "Scope")]
    pub scope: String,
    /// `local` or `global`.
    #[serde(rename = "ConnectivityScope")]
    pub connectivity_scope: String,
}

/// IPAM data of a network (`IPv4Data` entries).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IpamData {
    /// Address space.
    #[serde(rename = "AddressSpace")]
    pub address_space: String,
    /// The pool (`10.1.2.0/24`).
    #[serde(rename = "Pool")]
    pub pool: String,
    /// Gateway (`10.1.2.1/24`).
    #[serde(rename = "Gateway")]
    pub gateway: String,
}

/// `NetworkDriver.CreateNetwork`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateNetworkRequest {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Options; driver options under `com.docker.network.generic`.
    #[serde(rename = "Options")]
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, serde_json::Value>,
    /// IPv4 pools.
    #[serde(rename = "IPv4Data")]
    #[serde(deserialize_with = "null_as_default")]
    pub ipv4_data: Vec<IpamData>,
    /// IPv6 pools.
    #[serde(rename = "IPv6Data")]
    #[serde(deserialize_with = "null_as_default")]
    pub ipv6_data: Vec<IpamData>,
}

/// Requests that only name a network (`DeleteNetwork`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NetworkRequest {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
}

/// An endpoint's interface as Docker describes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointInterface {
    /// IPv4 address with prefix (`10.1.2.3/24`).
    #[serde(rename = "Address", skip_serializing_if = "String::is_empty")]
    pub address: String,
    /// IPv6 address with prefix.
    #[serde(rename = "AddressIPv6", skip_serializing_if = "String::is_empty")]
    pub address_ipv6: String,
    /// MAC address.
    #[serde(rename = "MacAddress", skip_serializing_if = "String::is_empty")]
    pub mac_address: String,
}

/// `NetworkDriver.CreateEndpoint`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CreateEndpointRequest {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// The interface (address from IPAM).
    #[serde(rename = "Interface")]
    pub interface: Option<EndpointInterface>,
    /// Options.
    #[serde(rename = "Options")]
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, serde_json::Value>,
}

/// `NetworkDriver.CreateEndpoint` answer: only what the driver sets
/// (Docker refuses a driver that changes what it gave).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateEndpointResponse {
    /// The interface fields the driver filled in.
    #[serde(rename = "Interface", skip_serializing_if = "Option::is_none")]
    pub interface: Option<EndpointInterface>,
}

/// Requests naming an endpoint (`DeleteEndpoint`, `Leave`,
/// `EndpointOperInfo`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointRequest {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
}

/// `NetworkDriver.Join`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct JoinRequest {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Path of the container's network namespace.
    #[serde(rename = "SandboxKey")]
    pub sandbox_key: String,
    /// Options.
    #[serde(rename = "Options")]
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, serde_json::Value>,
}

/// `NetworkDriver.ProgramExternalConnectivity` (Docker calls it on the
/// endpoint that is the container's gateway, with `docker run -p` in
/// [`PORT_MAP`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExternalConnectivityRequest {
    /// Docker's network id.
    #[serde(rename = "NetworkID")]
    pub network_id: String,
    /// Docker's endpoint id.
    #[serde(rename = "EndpointID")]
    pub endpoint_id: String,
    /// Options.
    #[serde(rename = "Options")]
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, serde_json::Value>,
}

/// The ports `docker run -p` publishes to endpoint `endpoint`, from the
/// options of `CreateEndpoint` or `ProgramExternalConnectivity`
/// ([`PORT_MAP`]: libnetwork's `PortBinding`s, `{"Proto":6,"IP":"",
/// "Port":80,"HostIP":"","HostPort":9099,"HostPortEnd":9099}`); exposed-only
/// ports are not among them. Refused, with a message naming the binding:
/// a protocol other than TCP or UDP, an IPv6 or invalid host address, a
/// host port Docker would have to choose (0, `-p 80`) or a range of them,
/// a port outside 1..=65535, and bindings that overlap on the host
/// ([`PublishedPort::check_set`]).
pub fn published_ports(
    endpoint: &str,
    options: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<PublishedPort>, String> {
    let maps = match options.get(PORT_MAP) {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::Array(maps)) => maps,
        Some(v) => return Err(format!("{PORT_MAP} is not a list: {v}")),
    };
    let mut out = Vec::with_capacity(maps.len());
    for m in maps {
        let num = |k: &str| m.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
        let port = |k: &str, what: &str| {
            u16::try_from(num(k))
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("published port {m}: {what} {} is not in 1..=65535", num(k)))
        };
        let protocol = match num("Proto") {
            6 => ServiceProtocol::Tcp,
            17 => ServiceProtocol::Udp,
            n => {
                return Err(format!(
                    "published port {m}: IP protocol {n} cannot be published (only tcp and udp)"
                ));
            }
        };
        if num("HostPort") == 0 {
            return Err(format!(
                "published port {m}: give the host port explicitly (-p HOSTPORT:PORT); the contiv plugin does not choose one"
            ));
        }
        let host_port = port("HostPort", "host port")?;
        let end = num("HostPortEnd");
        if end != 0 && end != u64::from(host_port) {
            return Err(format!(
                "published port {m}: host port ranges are not supported; give one host port"
            ));
        }
        let host_ip = match m.get("HostIP").and_then(serde_json::Value::as_str) {
            None | Some("") | Some("0.0.0.0") => None,
            Some(a) => Some(a.parse::<Ipv4Addr>().map_err(|_| {
                format!("published port {m}: host address {a:?} is not an IPv4 address")
            })?),
        };
        out.push(PublishedPort {
            endpoint: endpoint.to_owned(),
            protocol,
            host_ip,
            host_port,
            port: port("Port", "container port")?,
        });
    }
    PublishedPort::check_set(endpoint, &out)?;
    Ok(out)
}

/// Where Docker puts `-p` mappings (`CreateEndpoint` and
/// `ProgramExternalConnectivity` options).
pub const PORT_MAP: &str = "com.docker.network.portmap";

/// The interface Docker moves into the container.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterfaceName {
    /// Its name in the host namespace.
    #[serde(rename = "SrcName")]
    pub src_name: String,
    /// Docker renames it `<prefix><n>`.
    #[serde(rename = "DstPrefix")]
    pub dst_prefix: String,
}

/// `NetworkDriver.Join` answer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinResponse {
    /// The interface.
    #[serde(rename = "InterfaceName")]
    pub interface_name: InterfaceName,
    /// IPv4 default gateway.
    #[serde(rename = "Gateway", skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    /// IPv6 default gateway.
    #[serde(rename = "GatewayIPv6", skip_serializing_if = "String::is_empty")]
    pub gateway_ipv6: String,
    /// Without a gateway, keep Docker from adding its own gateway network.
    #[serde(rename = "DisableGatewayService")]
    pub disable_gateway_service: bool,
    /// Routes Docker adds in the container (the link route to the
    /// built-in DNS).
    #[serde(
        rename = "StaticRoutes",
        default,
        skip_serializing_if = "Vec::is_empty"
    )]
    #[serde(deserialize_with = "null_as_default")]
    pub static_routes: Vec<StaticRoute>,
}

/// A route of a [`JoinResponse`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticRoute {
    /// Destination prefix.
    #[serde(rename = "Destination")]
    pub destination: String,
    /// 0 = via `NextHop`, 1 = connected (on the interface).
    #[serde(rename = "RouteType")]
    pub route_type: u8,
    /// Next hop for route type 0.
    #[serde(rename = "NextHop", default, skip_serializing_if = "String::is_empty")]
    pub next_hop: String,
}

/// [`StaticRoute::route_type`] of a route on the interface itself.
pub const ROUTE_CONNECTED: u8 = 1;

/// `IpamDriver.GetDefaultAddressSpaces` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressSpacesResponse {
    /// Local default.
    #[serde(rename = "LocalDefaultAddressSpace")]
    pub local: String,
    /// Global default.
    #[serde(rename = "GlobalDefaultAddressSpace")]
    pub global: String,
}

/// `IpamDriver.RequestPool`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RequestPoolRequest {
    /// Address space.
    #[serde(rename = "AddressSpace")]
    pub address_space: String,
    /// The subnet asked for.
    #[serde(rename = "Pool")]
    pub pool: String,
    /// A sub-range.
    #[serde(rename = "SubPool")]
    pub sub_pool: String,
    /// IPAM options (`--ipam-opt`): `tenant`, `network`, `group`.
    #[serde(rename = "Options")]
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, String>,
    /// An IPv6 pool.
    #[serde(rename = "V6")]
    pub v6: bool,
}

/// `IpamDriver.RequestPool` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestPoolResponse {
    /// Pool id for later calls.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    /// The pool as CIDR.
    #[serde(rename = "Pool")]
    pub pool: String,
    /// Extra data.
    #[serde(rename = "Data")]
    #[serde(deserialize_with = "null_as_default")]
    pub data: BTreeMap<String, String>,
}

/// `IpamDriver.ReleasePool`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleasePoolRequest {
    /// Pool id.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
}

/// `IpamDriver.RequestAddress` / `ReleaseAddress`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AddressRequest {
    /// Pool id.
    #[serde(rename = "PoolID")]
    pub pool_id: String,
    /// A specific address (may be empty).
    #[serde(rename = "Address")]
    pub address: String,
    /// Options (`RequestAddressType`).
    #[serde(rename = "Options")]
    #[serde(deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, String>,
}

/// `IpamDriver.RequestAddress` answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressResponse {
    /// The address with prefix.
    #[serde(rename = "Address")]
    pub address: String,
    /// Extra data.
    #[serde(rename = "Data")]
    #[serde(deserialize_with = "null_as_default")]
    pub data: BTreeMap<String, String>,
}

/// An error answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorResponse {
    /// The message Docker shows.
    #[serde(rename = "Err")]
    pub err: String,
}

/// The option Docker sets on gateway address requests.
pub const REQUEST_ADDRESS_TYPE: &str = "RequestAddressType";
/// Its value for the gateway.
pub const GATEWAY_REQUEST: &str = "com.docker.network.gateway";
/// Where driver options sit in `CreateNetwork`.
pub const GENERIC_OPTIONS: &str = "com.docker.network.generic";

#[cfg(test)]
mod tests {
    use super::*;

    fn pp(
        proto: ServiceProtocol,
        ip: Option<Ipv4Addr>,
        host_port: u16,
        port: u16,
    ) -> PublishedPort {
        PublishedPort {
            endpoint: "e".into(),
            protocol: proto,
            host_ip: ip,
            host_port,
            port,
        }
    }

    fn opts(port_map: &str) -> BTreeMap<String, serde_json::Value> {
        let r: ExternalConnectivityRequest = serde_json::from_str(&format!(
            r#"{{"NetworkID":"n","EndpointID":"e","Options":{{
                "com.docker.network.endpoint.exposedports":[{{"Proto":6,"Port":80}}],
                "com.docker.network.portmap":{port_map}}}}}"#
        ))
        .unwrap();
        r.options
    }

    #[test]
    fn published_ports_read_from_the_port_map() {
        // What dockerd sends for `docker run -p 9099:80 -p 53:53/udp
        // -p 127.0.0.1:8080:80`.
        let o = opts(
            r#"[{"Proto":6,"IP":"","Port":80,"HostIP":"","HostPort":9099,"HostPortEnd":9099},
                {"Proto":17,"IP":"","Port":53,"HostIP":"","HostPort":53,"HostPortEnd":53},
                {"Proto":6,"IP":"","Port":80,"HostIP":"127.0.0.1","HostPort":8080,"HostPortEnd":8080}]"#,
        );
        assert_eq!(
            published_ports("e", &o).unwrap(),
            [
                pp(ServiceProtocol::Tcp, None, 9099, 80),
                pp(ServiceProtocol::Udp, None, 53, 53),
                pp(ServiceProtocol::Tcp, Some(Ipv4Addr::LOCALHOST), 8080, 80),
            ]
        );
        // The same host port on both protocols is two bindings.
        let o =
            opts(r#"[{"Proto":6,"Port":53,"HostPort":53},{"Proto":17,"Port":53,"HostPort":53}]"#);
        assert_eq!(published_ports("e", &o).unwrap().len(), 2);
        // Exposed only, null, or no options at all: nothing published.
        let r: ExternalConnectivityRequest = serde_json::from_str(
            r#"{"NetworkID":"n","EndpointID":"e","Options":{
                "com.docker.network.endpoint.exposedports":[{"Proto":6,"Port":80}]}}"#,
        )
        .unwrap();
        assert!(published_ports("e", &r.options).unwrap().is_empty());
        assert!(published_ports("e", &opts("null")).unwrap().is_empty());
        let r: ExternalConnectivityRequest =
            serde_json::from_str(r#"{"NetworkID":"n","EndpointID":"e","Options":null}"#).unwrap();
        assert!(published_ports("e", &r.options).unwrap().is_empty());
    }

    #[test]
    fn bad_port_maps_are_refused_with_the_reason() {
        let err = |m: &str| published_ports("e", &opts(m)).unwrap_err();
        // `-p 80`: Docker leaves the host port to the driver.
        assert!(
            err(r#"[{"Proto":6,"Port":80,"HostPort":0}]"#)
                .contains("give the host port explicitly")
        );
        assert!(err(r#"[{"Proto":6,"Port":80,"HostPort":70000}]"#).contains("not in 1..=65535"));
        assert!(err(r#"[{"Proto":6,"Port":0,"HostPort":9099}]"#).contains("container port 0"));
        assert!(
            err(r#"[{"Proto":6,"Port":80,"HostPort":9000,"HostPortEnd":9010}]"#)
                .contains("ranges are not supported")
        );
        assert!(err(r#"[{"Proto":132,"Port":80,"HostPort":9099}]"#).contains("IP protocol 132"));
        assert!(
            err(r#"[{"Proto":6,"Port":80,"HostIP":"::","HostPort":9099}]"#)
                .contains("not an IPv4 address")
        );
        assert!(err(r#"{"Proto":6}"#).contains("not a list"));
        // Twice the same host port, or a wildcard over a specific address.
        assert!(
            err(r#"[{"Proto":6,"Port":80,"HostPort":9099},{"Proto":6,"Port":81,"HostPort":9099}]"#)
                .contains("overlaps tcp/*:9099")
        );
        assert!(err(
            r#"[{"Proto":6,"Port":80,"HostIP":"127.0.0.1","HostPort":9099},{"Proto":6,"Port":81,"HostPort":9099}]"#
        )
        .contains("overlaps"));
    }

    #[test]
    fn go_nulls_read_as_empty() {
        // What dockerd 20.10 sends for a container's address.
        let r: AddressRequest =
            serde_json::from_str(r#"{"PoolID":"p1","Address":"","Options":null}"#).unwrap();
        assert_eq!(r.pool_id, "p1");
        assert!(r.options.is_empty());
        let r: AddressRequest = serde_json::from_str(
            r#"{"PoolID":"p1","Options":{"RequestAddressType":"com.docker.network.gateway"}}"#,
        )
        .unwrap();
        assert_eq!(r.options[REQUEST_ADDRESS_TYPE], GATEWAY_REQUEST);
        let j = JoinResponse {
            interface_name: InterfaceName {
                src_name: "vc1".into(),
                dst_prefix: "eth".into(),
            },
            gateway: String::new(),
            gateway_ipv6: String::new(),
            disable_gateway_service: true,
            static_routes: vec![StaticRoute {
                destination: "169.254.53.53/32".into(),
                route_type: ROUTE_CONNECTED,
                next_hop: String::new(),
            }],
        };
        assert_eq!(
            serde_json::to_value(&j).unwrap()["StaticRoutes"],
            serde_json::json!([{"Destination": "169.254.53.53/32", "RouteType": 1}])
        );
    }
}
