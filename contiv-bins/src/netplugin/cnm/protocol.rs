//! Request and response bodies of Docker's remote network driver and IPAM
//! driver protocols (libnetwork `remote` and `ipams/remote`), with
//! Docker's field names. Every request field is optional on decode: Docker
//! versions differ in what they send.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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

/// The ports `docker run -p` publishes, from the options of
/// `CreateEndpoint` or `ProgramExternalConnectivity` ([`PORT_MAP`]), as
/// Docker writes them (`host_port->port/proto`); exposed-only ports are
/// not among them.
pub fn published_ports(options: &BTreeMap<String, serde_json::Value>) -> Vec<String> {
    let Some(serde_json::Value::Array(maps)) = options.get(PORT_MAP) else {
        return Vec::new();
    };
    maps.iter()
        .map(|m| {
            let num = |k: &str| m.get(k).and_then(serde_json::Value::as_u64).unwrap_or(0);
            let proto = match num("Proto") {
                6 => "tcp".to_string(),
                17 => "udp".to_string(),
                n => format!("proto {n}"),
            };
            format!("{}->{}/{proto}", num("HostPort"), num("Port"))
        })
        .collect()
}

/// Where Docker puts `-p` mappings in `ProgramExternalConnectivity`.
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

    #[test]
    fn published_ports_read_from_the_port_map() {
        // What dockerd sends for `docker run -p 9099:80 -p 53:53/udp`.
        let r: ExternalConnectivityRequest = serde_json::from_str(
            r#"{"NetworkID":"n","EndpointID":"e","Options":{
                "com.docker.network.endpoint.exposedports":[{"Proto":6,"Port":80}],
                "com.docker.network.portmap":[
                    {"Proto":6,"IP":"","Port":80,"HostIP":"","HostPort":9099,"HostPortEnd":9099},
                    {"Proto":17,"IP":"","Port":53,"HostIP":"","HostPort":53,"HostPortEnd":53}]}}"#,
        )
        .unwrap();
        assert_eq!(published_ports(&r.options), ["9099->80/tcp", "53->53/udp"]);
        // Exposed only, or no options at all: nothing published.
        let r: ExternalConnectivityRequest = serde_json::from_str(
            r#"{"NetworkID":"n","EndpointID":"e","Options":{
                "com.docker.network.endpoint.exposedports":[{"Proto":6,"Port":80}]}}"#,
        )
        .unwrap();
        assert!(published_ports(&r.options).is_empty());
        let r: ExternalConnectivityRequest =
            serde_json::from_str(r#"{"NetworkID":"n","EndpointID":"e","Options":null}"#).unwrap();
        assert!(published_ports(&r.options).is_empty());
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
