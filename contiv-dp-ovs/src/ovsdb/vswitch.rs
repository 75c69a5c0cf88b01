//! The idempotent `Open_vSwitch` operations the pipeline needs.
//!
//! Every `ensure_*` reads first and writes only what differs (so calling it
//! again changes nothing), guards creations with a `wait` precondition (two
//! agents racing create one object, the loser re-reads and converges), and
//! every removal succeeds when the object is already gone.
//!
//! Ownership: ports carry `external_ids` such as
//! [`OWNER_KEY`]`=<agent>` and [`ENDPOINT_KEY`]`=<endpoint id>` (on the
//! Port and its Interface), which [`Vswitch::list_owned_ports`] finds
//! after a restart.
//!
//! ```no_run
//! # async fn demo() -> Result<(), contiv_dp_ovs::ovsdb::OvsdbError> {
//! use contiv_dp_ovs::ovsdb::vswitch::*;
//! let vs = Vswitch::connect_unix("/run/openvswitch/db.sock").await?;
//! vs.ensure_bridge(&BridgeSpec::contiv("br-int", "netdev")).await?;
//! let port = PortSpec::new("br-int", "vvport1", InterfaceKind::System)
//!     .owner("netplugin")
//!     .endpoint("ep-1234")
//!     .vlan(VlanMode::Access(10));
//! vs.ensure_port(&port).await?;
//! let ofport = vs.wait_ofport("vvport1", std::time::Duration::from_secs(5)).await?;
//! # Ok(()) }
//! ```

use super::{
    Atom, Client, Condition, MonitorRequest, Mutation, Operation, OvsdbError, Row, Uuid, Value,
    WaitUntil,
};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

/// The database name.
pub const DB: &str = "Open_vSwitch";
/// `external_ids` key naming the agent that owns a port.
pub const OWNER_KEY: &str = "contiv-owner";
/// `external_ids` key carrying the endpoint id of a port.
pub const ENDPOINT_KEY: &str = "endpoint-id";

/// How many times a read-modify-write is retried after losing a race.
const RETRIES: usize = 5;

/// `Bridge.fail_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailMode {
    /// No controller: drop everything not matched by flows.
    Secure,
    /// No controller: act as a learning switch.
    Standalone,
}

impl FailMode {
    fn as_str(self) -> &'static str {
        match self {
            FailMode::Secure => "secure",
            FailMode::Standalone => "standalone",
        }
    }
}

/// The desired state of a bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    /// Bridge name.
    pub name: String,
    /// `datapath_type`: `netdev` (userspace), `system` (kernel) or empty
    /// for OVS's default.
    pub datapath_type: String,
    /// `fail_mode` (`None` = OVS default).
    pub fail_mode: Option<FailMode>,
    /// `protocols` (e.g. `OpenFlow13`).
    pub protocols: Vec<String>,
    /// `other_config` keys to set (e.g. `datapath-id`, `hwaddr`); other
    /// keys already present are left alone.
    pub other_config: BTreeMap<String, String>,
    /// `external_ids` keys to set; others are left alone.
    pub external_ids: BTreeMap<String, String>,
    /// Controller targets (`unix:<path>`, `tcp:ip:port`, …); the set is
    /// replaced when it differs.
    pub controllers: Vec<String>,
}

impl BridgeSpec {
    /// A bridge with OVS defaults.
    pub fn new(name: &str) -> BridgeSpec {
        BridgeSpec {
            name: name.to_owned(),
            datapath_type: String::new(),
            fail_mode: None,
            protocols: Vec::new(),
            other_config: BTreeMap::new(),
            external_ids: BTreeMap::new(),
            controllers: Vec::new(),
        }
    }

    /// A bridge the way contiv uses it: `fail_mode=secure`, OpenFlow 1.0
    /// and 1.3, on `datapath_type` (`netdev` on these machines).
    pub fn contiv(name: &str, datapath_type: &str) -> BridgeSpec {
        BridgeSpec {
            datapath_type: datapath_type.to_owned(),
            fail_mode: Some(FailMode::Secure),
            protocols: vec!["OpenFlow10".into(), "OpenFlow13".into()],
            ..BridgeSpec::new(name)
        }
    }

    /// Sets an `other_config` key.
    pub fn other_config(mut self, k: &str, v: &str) -> BridgeSpec {
        self.other_config.insert(k.to_owned(), v.to_owned());
        self
    }

    /// Sets an `external_ids` key.
    pub fn external_id(mut self, k: &str, v: &str) -> BridgeSpec {
        self.external_ids.insert(k.to_owned(), v.to_owned());
        self
    }

    /// Adds a controller target.
    pub fn controller(mut self, target: &str) -> BridgeSpec {
        self.controllers.push(target.to_owned());
        self
    }
}

/// The VXLAN key (VNI) of a tunnel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VxlanKey {
    /// `key=flow`: the VNI is set per packet by flows (`tun_id`).
    Flow,
    /// A fixed VNI.
    Vni(u32),
}

/// Interface types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InterfaceKind {
    /// `""`: an existing network device (the host side of a veth).
    System,
    /// `internal`: a port OVS creates (tap device with the userspace
    /// datapath).
    Internal,
    /// `vxlan` to a peer VTEP.
    Vxlan {
        /// Peer VTEP address.
        remote_ip: IpAddr,
        /// The key.
        key: VxlanKey,
        /// UDP port (`None` = 4789).
        dst_port: Option<u16>,
        /// Local address (`None` = routing decides).
        local_ip: Option<IpAddr>,
    },
    /// `patch` to another bridge.
    Patch {
        /// The peer patch port's name.
        peer: String,
    },
}

impl InterfaceKind {
    fn type_str(&self) -> &'static str {
        match self {
            InterfaceKind::System => "",
            InterfaceKind::Internal => "internal",
            InterfaceKind::Vxlan { .. } => "vxlan",
            InterfaceKind::Patch { .. } => "patch",
        }
    }

    fn options(&self) -> BTreeMap<String, String> {
        let mut o = BTreeMap::new();
        match self {
            InterfaceKind::Vxlan {
                remote_ip,
                key,
                dst_port,
                local_ip,
            } => {
                o.insert("remote_ip".into(), remote_ip.to_string());
                o.insert(
                    "key".into(),
                    match key {
                        VxlanKey::Flow => "flow".into(),
                        VxlanKey::Vni(v) => v.to_string(),
                    },
                );
                if let Some(p) = dst_port {
                    o.insert("dst_port".into(), p.to_string());
                }
                if let Some(l) = local_ip {
                    o.insert("local_ip".into(), l.to_string());
                }
            }
            InterfaceKind::Patch { peer } => {
                o.insert("peer".into(), peer.clone());
            }
            InterfaceKind::System | InterfaceKind::Internal => {}
        }
        o
    }
}

/// VLAN configuration of a port.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VlanMode {
    /// No VLAN configuration (all VLANs, untagged native).
    #[default]
    None,
    /// An access port: untagged on the wire, VLAN `tag` inside the switch.
    Access(u16),
    /// A trunk carrying these VLANs (empty = all).
    Trunk(Vec<u16>),
}

/// Ingress policing of an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policing {
    /// `ingress_policing_rate` in kbit/s (0 = off).
    pub rate_kbps: u32,
    /// `ingress_policing_burst` in kbit (0 = OVS default).
    pub burst_kb: u32,
}

/// The desired state of a port with one interface of the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    /// The bridge.
    pub bridge: String,
    /// Port and interface name.
    pub name: String,
    /// Interface type and options.
    pub kind: InterfaceKind,
    /// `external_ids` keys set on both the Port and the Interface (others
    /// already present are left alone).
    pub external_ids: BTreeMap<String, String>,
    /// VLAN configuration.
    pub vlan: VlanMode,
    /// `ofport_request`.
    pub ofport_request: Option<u16>,
    /// Ingress policing (`None` = leave as is).
    pub policing: Option<Policing>,
    /// The interface's Ethernet address (`mac` column; internal interfaces
    /// only; `None` = leave as is).
    pub mac: Option<String>,
}

impl PortSpec {
    /// A port `name` on `bridge`.
    pub fn new(bridge: &str, name: &str, kind: InterfaceKind) -> PortSpec {
        PortSpec {
            bridge: bridge.to_owned(),
            name: name.to_owned(),
            kind,
            external_ids: BTreeMap::new(),
            vlan: VlanMode::None,
            ofport_request: None,
            policing: None,
            mac: None,
        }
    }

    /// Sets the interface's Ethernet address (internal interfaces).
    pub fn mac(mut self, mac: &str) -> PortSpec {
        self.mac = Some(mac.to_owned());
        self
    }

    /// Marks the owner ([`OWNER_KEY`]).
    pub fn owner(self, owner: &str) -> PortSpec {
        self.external_id(OWNER_KEY, owner)
    }

    /// Records the endpoint id ([`ENDPOINT_KEY`]).
    pub fn endpoint(self, id: &str) -> PortSpec {
        self.external_id(ENDPOINT_KEY, id)
    }

    /// Sets an `external_ids` key.
    pub fn external_id(mut self, k: &str, v: &str) -> PortSpec {
        self.external_ids.insert(k.to_owned(), v.to_owned());
        self
    }

    /// Sets the VLAN mode.
    pub fn vlan(mut self, v: VlanMode) -> PortSpec {
        self.vlan = v;
        self
    }

    /// Requests an OpenFlow port number.
    pub fn ofport_request(mut self, n: u16) -> PortSpec {
        self.ofport_request = Some(n);
        self
    }

    /// Sets ingress policing.
    pub fn policing(mut self, rate_kbps: u32, burst_kb: u32) -> PortSpec {
        self.policing = Some(Policing {
            rate_kbps,
            burst_kb,
        });
        self
    }
}

/// A port as read from the database (joined with its first interface).
#[derive(Debug, Clone, PartialEq)]
pub struct PortInfo {
    /// Port name.
    pub name: String,
    /// The bridge it is on (`None` if no bridge references it).
    pub bridge: Option<String>,
    /// The Port row.
    pub uuid: Uuid,
    /// Interface type (`""`, `internal`, `vxlan`, …).
    pub iface_type: String,
    /// OpenFlow port number (`None` until assigned, -1 on failure).
    pub ofport: Option<i64>,
    /// The Interface's `error` column.
    pub error: Option<String>,
    /// Port `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// Interface `external_ids`.
    pub iface_external_ids: BTreeMap<String, String>,
    /// Interface `options`.
    pub options: BTreeMap<String, String>,
    /// VLAN configuration.
    pub vlan: VlanMode,
    /// Ingress policing.
    pub policing: Policing,
}

fn str_map_value(m: &BTreeMap<String, String>) -> Value {
    Value::str_map(m.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

fn col<'a>(row: &'a Row, c: &str) -> Result<&'a Value, OvsdbError> {
    row.get(c)
        .ok_or_else(|| OvsdbError::Protocol(format!("column {c} missing from the reply")))
}

fn uuid_of(row: &Row) -> Result<Uuid, OvsdbError> {
    col(row, "_uuid")?
        .as_uuid()
        .cloned()
        .ok_or_else(|| OvsdbError::Protocol("_uuid is not a uuid".into()))
}

/// `existing` with `wanted`'s keys set; `None` if nothing would change.
fn merged(existing: &Value, wanted: &BTreeMap<String, String>) -> Option<Value> {
    let mut m = existing.to_str_map();
    let before = m.clone();
    m.extend(wanted.iter().map(|(k, v)| (k.clone(), v.clone())));
    (m != before).then(|| str_map_value(&m))
}

fn vlan_from_row(row: &Row) -> VlanMode {
    let tag = row.get("tag").and_then(Value::as_i64);
    let trunks: Vec<u16> = row
        .get("trunks")
        .map(|t| {
            t.as_set()
                .iter()
                .filter_map(|a| a.as_i64().and_then(|i| u16::try_from(i).ok()))
                .collect()
        })
        .unwrap_or_default();
    let mode = row.get("vlan_mode").and_then(Value::as_str);
    match (mode, tag) {
        (_, Some(t)) => VlanMode::Access(u16::try_from(t).unwrap_or(0)),
        (Some("trunk"), None) => VlanMode::Trunk(trunks),
        (_, None) if !trunks.is_empty() => VlanMode::Trunk(trunks),
        _ => VlanMode::None,
    }
}

fn vlan_columns(v: &VlanMode) -> [(String, Value); 3] {
    let (tag, trunks, mode) = match v {
        VlanMode::None => (Value::empty(), Value::empty(), Value::empty()),
        VlanMode::Access(t) => (
            Value::int(i64::from(*t)),
            Value::empty(),
            Value::string("access"),
        ),
        VlanMode::Trunk(ts) => (
            Value::empty(),
            Value::set(ts.iter().map(|t| Atom::Integer(i64::from(*t)))),
            Value::string("trunk"),
        ),
    };
    [
        ("tag".into(), tag),
        ("trunks".into(), trunks),
        ("vlan_mode".into(), mode),
    ]
}

fn sorted_strings(v: &Value) -> Vec<String> {
    let mut s: Vec<String> = v
        .as_set()
        .iter()
        .filter_map(|a| a.as_str().map(str::to_owned))
        .collect();
    s.sort();
    s
}

const PORT_COLS: &[&str] = &[
    "_uuid",
    "name",
    "interfaces",
    "tag",
    "trunks",
    "vlan_mode",
    "external_ids",
];
const IFACE_COLS: &[&str] = &[
    "_uuid",
    "name",
    "type",
    "options",
    "external_ids",
    "ofport",
    "ofport_request",
    "error",
    "ingress_policing_rate",
    "ingress_policing_burst",
    "mac",
];

/// The typed `Open_vSwitch` layer over a [`Client`].
#[derive(Debug, Clone)]
pub struct Vswitch {
    client: Client,
}

impl Vswitch {
    /// Wraps a connected client.
    pub fn new(client: Client) -> Vswitch {
        Vswitch { client }
    }

    /// Connects to `<rundir>/db.sock`.
    pub async fn connect_unix(path: impl AsRef<Path>) -> Result<Vswitch, OvsdbError> {
        Ok(Vswitch::new(Client::connect_unix(path).await?))
    }

    /// The underlying client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn tx(&self, ops: Vec<Operation>) -> Result<Vec<super::OpResult>, OvsdbError> {
        self.client.transact(DB, ops).await
    }

    /// The bridge's row UUID, if it exists.
    pub async fn bridge_uuid(&self, name: &str) -> Result<Option<Uuid>, OvsdbError> {
        let r = self
            .tx(vec![Operation::select(
                "Bridge",
                vec![Condition::eq("name", Value::string(name))],
                Some(&["_uuid"]),
            )])
            .await?;
        r[0].rows().first().map(uuid_of).transpose()
    }

    /// Names of all bridges.
    pub async fn list_bridges(&self) -> Result<Vec<String>, OvsdbError> {
        let r = self
            .tx(vec![Operation::select("Bridge", vec![], Some(&["name"]))])
            .await?;
        let mut v: Vec<String> = r[0]
            .rows()
            .iter()
            .filter_map(|row| row.get("name")?.as_str().map(str::to_owned))
            .collect();
        v.sort();
        Ok(v)
    }

    /// Creates the bridge (with its internal port of the same name, as
    /// `ovs-vsctl add-br` does) or converges an existing one to `spec`.
    /// Returns the Bridge row's UUID.
    pub async fn ensure_bridge(&self, spec: &BridgeSpec) -> Result<Uuid, OvsdbError> {
        if spec.name.is_empty() {
            return Err(OvsdbError::Invalid("bridge name must not be empty".into()));
        }
        for _ in 0..RETRIES {
            let r = self
                .tx(vec![
                    Operation::select(
                        "Bridge",
                        vec![Condition::eq("name", Value::string(&spec.name))],
                        Some(&[
                            "_uuid",
                            "datapath_type",
                            "fail_mode",
                            "protocols",
                            "other_config",
                            "external_ids",
                            "controller",
                        ]),
                    ),
                    Operation::select("Open_vSwitch", vec![], Some(&["_uuid"])),
                    Operation::select("Controller", vec![], Some(&["_uuid", "target"])),
                ])
                .await?;
            if r[1].rows().is_empty() {
                return Err(OvsdbError::Invalid(
                    "the Open_vSwitch table has no row: initialise the database first \
                     (`ovs-vsctl --no-wait init`)"
                        .into(),
                ));
            }
            let res = match r[0].rows().first() {
                None => self.create_bridge(spec).await,
                Some(row) => self.converge_bridge(spec, row, r[2].rows()).await,
            };
            match res {
                Err(e) if e.is_wait_failure() => continue,
                Ok(None) => continue,
                Ok(Some(u)) => return Ok(u),
                Err(e) => return Err(e),
            }
        }
        Err(OvsdbError::Invalid(format!(
            "bridge {} kept changing while it was being configured; gave up after {RETRIES} tries",
            spec.name
        )))
    }

    fn controller_inserts(targets: &[String]) -> (Vec<Operation>, Value) {
        let mut ops = Vec::new();
        let mut refs = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let name = format!("ctl{i}");
            let mut row = Row::new();
            row.insert("target".into(), Value::string(t));
            ops.push(Operation::insert("Controller", row, Some(&name)));
            refs.push(Atom::NamedUuid(name));
        }
        (ops, Value::Set(refs))
    }

    fn bridge_row(spec: &BridgeSpec) -> Row {
        let mut row = Row::new();
        row.insert("datapath_type".into(), Value::string(&spec.datapath_type));
        row.insert(
            "fail_mode".into(),
            match spec.fail_mode {
                Some(f) => Value::string(f.as_str()),
                None => Value::empty(),
            },
        );
        row.insert(
            "protocols".into(),
            Value::set(spec.protocols.iter().map(|p| p.as_str())),
        );
        row
    }

    async fn create_bridge(&self, spec: &BridgeSpec) -> Result<Option<Uuid>, OvsdbError> {
        let name = Value::string(&spec.name);
        let mut ops = vec![Operation::Wait {
            table: "Bridge".into(),
            conditions: vec![Condition::eq("name", name.clone())],
            columns: vec!["name".into()],
            until: WaitUntil::Equal,
            rows: vec![],
            timeout: Some(Duration::ZERO),
        }];
        let mut iface = Row::new();
        iface.insert("name".into(), name.clone());
        iface.insert("type".into(), Value::string("internal"));
        ops.push(Operation::insert("Interface", iface, Some("iface")));
        let mut port = Row::new();
        port.insert("name".into(), name.clone());
        port.insert("interfaces".into(), Value::named_uuid("iface"));
        ops.push(Operation::insert("Port", port, Some("port")));
        let (ctl_ops, ctl_refs) = Self::controller_inserts(&spec.controllers);
        ops.extend(ctl_ops);
        let mut row = Self::bridge_row(spec);
        row.insert("name".into(), name);
        row.insert("ports".into(), Value::named_uuid("port"));
        row.insert("controller".into(), ctl_refs);
        row.insert("other_config".into(), str_map_value(&spec.other_config));
        row.insert("external_ids".into(), str_map_value(&spec.external_ids));
        let insert_at = ops.len();
        ops.push(Operation::insert("Bridge", row, Some("bridge")));
        ops.push(Operation::mutate(
            "Open_vSwitch",
            vec![],
            vec![Mutation::insert(
                "bridges",
                Value::Set(vec![Atom::NamedUuid("bridge".into())]),
            )],
        ));
        let r = self.tx(ops).await?;
        Ok(r[insert_at].uuid.clone())
    }

    async fn converge_bridge(
        &self,
        spec: &BridgeSpec,
        row: &Row,
        controllers: &[Row],
    ) -> Result<Option<Uuid>, OvsdbError> {
        let uuid = uuid_of(row)?;
        let mut update = Row::new();
        for (k, v) in Self::bridge_row(spec) {
            let current = col(row, &k)?;
            let same = if k == "protocols" {
                sorted_strings(current) == sorted_strings(&v)
            } else {
                current.as_set() == v.as_set()
            };
            if !same {
                update.insert(k, v);
            }
        }
        for (k, want) in [
            ("other_config", &spec.other_config),
            ("external_ids", &spec.external_ids),
        ] {
            if let Some(v) = merged(col(row, k)?, want) {
                update.insert(k.into(), v);
            }
        }
        let current_ctl: Vec<&Uuid> = col(row, "controller")?
            .as_set()
            .into_iter()
            .filter_map(Atom::as_uuid)
            .collect();
        let mut current_targets: Vec<String> = controllers
            .iter()
            .filter(|c| uuid_of(c).is_ok_and(|u| current_ctl.contains(&&u)))
            .filter_map(|c| c.get("target")?.as_str().map(str::to_owned))
            .collect();
        current_targets.sort();
        let mut want_targets = spec.controllers.clone();
        want_targets.sort();
        let mut ops = Vec::new();
        if current_targets != want_targets {
            let (ctl_ops, refs) = Self::controller_inserts(&spec.controllers);
            ops.extend(ctl_ops);
            update.insert("controller".into(), refs);
        }
        if update.is_empty() {
            return Ok(Some(uuid));
        }
        let at = ops.len();
        ops.push(Operation::update(
            "Bridge",
            vec![Condition::uuid(&uuid)],
            update,
        ));
        let r = self.tx(ops).await?;
        Ok((r[at].count == Some(1)).then_some(uuid))
    }

    /// Removes a bridge (and with it its ports). `false` if it did not
    /// exist.
    pub async fn delete_bridge(&self, name: &str) -> Result<bool, OvsdbError> {
        let Some(u) = self.bridge_uuid(name).await? else {
            return Ok(false);
        };
        let r = self
            .tx(vec![Operation::mutate(
                "Open_vSwitch",
                vec![],
                vec![Mutation::delete("bridges", Value::Set(vec![Atom::Uuid(u)]))],
            )])
            .await?;
        Ok(r[0].count.unwrap_or(0) > 0)
    }

    /// Replaces the bridge's controllers with `targets`.
    pub async fn set_controllers(
        &self,
        bridge: &str,
        targets: &[String],
    ) -> Result<(), OvsdbError> {
        let u = self
            .bridge_uuid(bridge)
            .await?
            .ok_or_else(|| OvsdbError::NotFound(format!("bridge {bridge} does not exist")))?;
        let (mut ops, refs) = Self::controller_inserts(targets);
        let mut row = Row::new();
        row.insert("controller".into(), refs);
        ops.push(Operation::update("Bridge", vec![Condition::uuid(&u)], row));
        self.tx(ops).await.map(|_| ())
    }

    fn iface_row(spec: &PortSpec) -> Row {
        let mut row = Row::new();
        row.insert("type".into(), Value::string(spec.kind.type_str()));
        row.insert("options".into(), str_map_value(&spec.kind.options()));
        if let Some(n) = spec.ofport_request {
            row.insert("ofport_request".into(), Value::int(i64::from(n)));
        }
        if let Some(p) = spec.policing {
            row.insert(
                "ingress_policing_rate".into(),
                Value::int(i64::from(p.rate_kbps)),
            );
            row.insert(
                "ingress_policing_burst".into(),
                Value::int(i64::from(p.burst_kb)),
            );
        }
        if let Some(m) = &spec.mac {
            row.insert("mac".into(), Value::string(m));
        }
        row
    }

    /// Creates the port and its interface on `spec.bridge`, or converges an
    /// existing one to `spec`. Returns the Port row's UUID.
    pub async fn ensure_port(&self, spec: &PortSpec) -> Result<Uuid, OvsdbError> {
        if spec.name.is_empty() {
            return Err(OvsdbError::Invalid("port name must not be empty".into()));
        }
        for _ in 0..RETRIES {
            let r = self
                .tx(vec![
                    Operation::select(
                        "Port",
                        vec![Condition::eq("name", Value::string(&spec.name))],
                        Some(PORT_COLS),
                    ),
                    Operation::select(
                        "Bridge",
                        vec![Condition::eq("name", Value::string(&spec.bridge))],
                        Some(&["_uuid", "ports"]),
                    ),
                    Operation::select(
                        "Interface",
                        vec![Condition::eq("name", Value::string(&spec.name))],
                        Some(IFACE_COLS),
                    ),
                ])
                .await?;
            let bridge = r[1].rows().first().ok_or_else(|| {
                OvsdbError::NotFound(format!(
                    "bridge {} does not exist (create it before adding port {})",
                    spec.bridge, spec.name
                ))
            })?;
            let res = match r[0].rows().first() {
                None => self.create_port(spec, &uuid_of(bridge)?).await,
                Some(port) => {
                    let pu = uuid_of(port)?;
                    let on_bridge = col(bridge, "ports")?
                        .as_set()
                        .iter()
                        .any(|a| a.as_uuid() == Some(&pu));
                    if !on_bridge {
                        return Err(OvsdbError::Invalid(format!(
                            "port {} already exists on another bridge than {}",
                            spec.name, spec.bridge
                        )));
                    }
                    self.converge_port(spec, port, r[2].rows().first()).await
                }
            };
            match res {
                Err(e) if e.is_wait_failure() => continue,
                Ok(None) => continue,
                Ok(Some(u)) => return Ok(u),
                Err(e) => return Err(e),
            }
        }
        Err(OvsdbError::Invalid(format!(
            "port {} kept changing while it was being configured; gave up after {RETRIES} tries",
            spec.name
        )))
    }

    async fn create_port(
        &self,
        spec: &PortSpec,
        bridge: &Uuid,
    ) -> Result<Option<Uuid>, OvsdbError> {
        let name = Value::string(&spec.name);
        let ids = str_map_value(&spec.external_ids);
        let mut iface = Self::iface_row(spec);
        iface.insert("name".into(), name.clone());
        iface.insert("external_ids".into(), ids.clone());
        let mut port = Row::new();
        port.insert("name".into(), name.clone());
        port.insert("interfaces".into(), Value::named_uuid("iface"));
        port.insert("external_ids".into(), ids);
        for (k, v) in vlan_columns(&spec.vlan) {
            port.insert(k, v);
        }
        let r = self
            .tx(vec![
                Operation::Wait {
                    table: "Port".into(),
                    conditions: vec![Condition::eq("name", name)],
                    columns: vec!["name".into()],
                    until: WaitUntil::Equal,
                    rows: vec![],
                    timeout: Some(Duration::ZERO),
                },
                Operation::insert("Interface", iface, Some("iface")),
                Operation::insert("Port", port, Some("port")),
                Operation::mutate(
                    "Bridge",
                    vec![Condition::uuid(bridge)],
                    vec![Mutation::insert(
                        "ports",
                        Value::Set(vec![Atom::NamedUuid("port".into())]),
                    )],
                ),
            ])
            .await?;
        // If the bridge vanished meanwhile, the port was garbage-collected:
        // retry (and then report the missing bridge).
        Ok((r[3].count == Some(1)).then(|| r[2].uuid.clone()).flatten())
    }

    async fn converge_port(
        &self,
        spec: &PortSpec,
        port: &Row,
        iface: Option<&Row>,
    ) -> Result<Option<Uuid>, OvsdbError> {
        let pu = uuid_of(port)?;
        let mut ops = Vec::new();
        let mut port_update = Row::new();
        if vlan_from_row(port) != spec.vlan {
            port_update.extend(vlan_columns(&spec.vlan));
        }
        if let Some(v) = merged(col(port, "external_ids")?, &spec.external_ids) {
            port_update.insert("external_ids".into(), v);
        }
        if !port_update.is_empty() {
            ops.push(Operation::update(
                "Port",
                vec![Condition::uuid(&pu)],
                port_update,
            ));
        }
        match iface {
            Some(irow) => {
                let iu = uuid_of(irow)?;
                let mut upd = Row::new();
                for (k, v) in Self::iface_row(spec) {
                    let cur = col(irow, &k)?;
                    let same = match k.as_str() {
                        "options" => cur.to_str_map() == v.to_str_map(),
                        _ => cur.as_set() == v.as_set(),
                    };
                    if !same {
                        upd.insert(k, v);
                    }
                }
                if let Some(v) = merged(col(irow, "external_ids")?, &spec.external_ids) {
                    upd.insert("external_ids".into(), v);
                }
                if !upd.is_empty() {
                    ops.push(Operation::update(
                        "Interface",
                        vec![Condition::uuid(&iu)],
                        upd,
                    ));
                }
            }
            None => {
                // A port without its interface: recreate the interface.
                let mut row = Self::iface_row(spec);
                row.insert("name".into(), Value::string(&spec.name));
                row.insert("external_ids".into(), str_map_value(&spec.external_ids));
                ops.push(Operation::insert("Interface", row, Some("iface")));
                ops.push(Operation::mutate(
                    "Port",
                    vec![Condition::uuid(&pu)],
                    vec![Mutation::insert(
                        "interfaces",
                        Value::Set(vec![Atom::NamedUuid("iface".into())]),
                    )],
                ));
            }
        }
        if !ops.is_empty() {
            self.tx(ops).await?;
        }
        Ok(Some(pu))
    }

    /// Removes a port (and its interfaces) from a bridge. `false` if it was
    /// not there.
    pub async fn delete_port(&self, bridge: &str, name: &str) -> Result<bool, OvsdbError> {
        let r = self
            .tx(vec![Operation::select(
                "Port",
                vec![Condition::eq("name", Value::string(name))],
                Some(&["_uuid"]),
            )])
            .await?;
        let Some(u) = r[0].rows().first().map(uuid_of).transpose()? else {
            return Ok(false);
        };
        let r = self
            .tx(vec![Operation::mutate(
                "Bridge",
                vec![Condition::eq("name", Value::string(bridge))],
                vec![Mutation::delete("ports", Value::Set(vec![Atom::Uuid(u)]))],
            )])
            .await?;
        Ok(r[0].count.unwrap_or(0) > 0)
    }

    async fn ports_where(
        &self,
        port_conditions: Vec<Condition>,
    ) -> Result<Vec<PortInfo>, OvsdbError> {
        let r = self
            .tx(vec![
                Operation::select("Port", port_conditions, Some(PORT_COLS)),
                Operation::select("Interface", vec![], Some(IFACE_COLS)),
                Operation::select("Bridge", vec![], Some(&["name", "ports"])),
            ])
            .await?;
        let ifaces: BTreeMap<Uuid, &Row> = r[1]
            .rows()
            .iter()
            .filter_map(|row| Some((uuid_of(row).ok()?, row)))
            .collect();
        let mut bridge_of: BTreeMap<Uuid, String> = BTreeMap::new();
        for b in r[2].rows() {
            let Some(name) = b.get("name").and_then(Value::as_str) else {
                continue;
            };
            for p in col(b, "ports")?.as_set() {
                if let Some(u) = p.as_uuid() {
                    bridge_of.insert(u.clone(), name.to_owned());
                }
            }
        }
        let mut out = Vec::new();
        for p in r[0].rows() {
            let uuid = uuid_of(p)?;
            let iface = col(p, "interfaces")?
                .as_set()
                .first()
                .and_then(|a| a.as_uuid())
                .and_then(|u| ifaces.get(u).copied());
            let get = |c: &str| iface.and_then(|i| i.get(c));
            out.push(PortInfo {
                name: col(p, "name")?.as_str().unwrap_or_default().to_owned(),
                bridge: bridge_of.get(&uuid).cloned(),
                uuid,
                iface_type: get("type")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                ofport: get("ofport").and_then(Value::as_i64),
                error: get("error").and_then(Value::as_str).map(str::to_owned),
                external_ids: col(p, "external_ids")?.to_str_map(),
                iface_external_ids: get("external_ids")
                    .map(Value::to_str_map)
                    .unwrap_or_default(),
                options: get("options").map(Value::to_str_map).unwrap_or_default(),
                vlan: vlan_from_row(p),
                policing: Policing {
                    rate_kbps: get("ingress_policing_rate")
                        .and_then(Value::as_i64)
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0),
                    burst_kb: get("ingress_policing_burst")
                        .and_then(Value::as_i64)
                        .and_then(|v| u32::try_from(v).ok())
                        .unwrap_or(0),
                },
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// One port by name.
    pub async fn port(&self, name: &str) -> Result<Option<PortInfo>, OvsdbError> {
        let mut v = self
            .ports_where(vec![Condition::eq("name", Value::string(name))])
            .await?;
        Ok(v.pop())
    }

    /// The ports of a bridge (its internal port included).
    pub async fn list_ports(&self, bridge: &str) -> Result<Vec<PortInfo>, OvsdbError> {
        let all = self.ports_where(vec![]).await?;
        Ok(all
            .into_iter()
            .filter(|p| p.bridge.as_deref() == Some(bridge))
            .collect())
    }

    /// Ports whose `external_ids` carry [`OWNER_KEY`]`=owner`, on any
    /// bridge.
    pub async fn list_owned_ports(&self, owner: &str) -> Result<Vec<PortInfo>, OvsdbError> {
        self.ports_where(vec![Condition::includes(
            "external_ids",
            Value::str_map([(OWNER_KEY, owner)]),
        )])
        .await
    }

    /// Waits (server-side, with a `wait` operation) until ovs-vswitchd has
    /// assigned the interface an OpenFlow port number, and returns it.
    /// Fails if the interface does not exist, if OVS could not attach it
    /// (`ofport` -1, with its `error`), or after `timeout`.
    pub async fn wait_ofport(&self, iface: &str, timeout: Duration) -> Result<u32, OvsdbError> {
        let mut unassigned = Row::new();
        unassigned.insert("ofport".into(), Value::empty());
        let name = Value::string(iface);
        let r = self
            .client
            .transact_timeout(
                DB,
                vec![
                    Operation::Wait {
                        table: "Interface".into(),
                        conditions: vec![Condition::eq("name", name.clone())],
                        columns: vec!["ofport".into()],
                        until: WaitUntil::NotEqual,
                        rows: vec![unassigned],
                        timeout: Some(timeout),
                    },
                    Operation::select(
                        "Interface",
                        vec![Condition::eq("name", name)],
                        Some(&["ofport", "error"]),
                    ),
                ],
                timeout + Duration::from_secs(10),
            )
            .await
            .map_err(|e| {
                if e.is_wait_failure() {
                    OvsdbError::Timeout {
                        what: format!("an OpenFlow port number for interface {iface}"),
                        after: timeout,
                    }
                } else {
                    e
                }
            })?;
        let row = r[1]
            .rows()
            .first()
            .ok_or_else(|| OvsdbError::NotFound(format!("interface {iface} does not exist")))?;
        let ofport = row.get("ofport").and_then(Value::as_i64).unwrap_or(-1);
        match u32::try_from(ofport) {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(OvsdbError::Invalid(format!(
                "OVS could not attach interface {iface}: {}",
                row.get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("no error recorded")
            ))),
        }
    }

    /// Sets an interface's ingress policing (rate 0 turns it off).
    pub async fn set_ingress_policing(
        &self,
        iface: &str,
        rate_kbps: u32,
        burst_kb: u32,
    ) -> Result<(), OvsdbError> {
        let mut row = Row::new();
        row.insert(
            "ingress_policing_rate".into(),
            Value::int(i64::from(rate_kbps)),
        );
        row.insert(
            "ingress_policing_burst".into(),
            Value::int(i64::from(burst_kb)),
        );
        let r = self
            .tx(vec![Operation::update(
                "Interface",
                vec![Condition::eq("name", Value::string(iface))],
                row,
            )])
            .await?;
        if r[0].count == Some(1) {
            Ok(())
        } else {
            Err(OvsdbError::NotFound(format!(
                "interface {iface} does not exist"
            )))
        }
    }

    /// Sets a port's VLAN tag / trunks.
    pub async fn set_vlan(&self, port: &str, vlan: &VlanMode) -> Result<(), OvsdbError> {
        let row: Row = vlan_columns(vlan).into_iter().collect();
        let r = self
            .tx(vec![Operation::update(
                "Port",
                vec![Condition::eq("name", Value::string(port))],
                row,
            )])
            .await?;
        if r[0].count == Some(1) {
            Ok(())
        } else {
            Err(OvsdbError::NotFound(format!("port {port} does not exist")))
        }
    }

    /// Waits until ovs-vswitchd has applied every change committed so far
    /// (bumps `next_cfg` and waits for `cur_cfg` to reach it, as
    /// `ovs-vsctl` does without `--no-wait`).
    pub async fn sync(&self, timeout: Duration) -> Result<(), OvsdbError> {
        let mut reqs = BTreeMap::new();
        reqs.insert(
            "Open_vSwitch".to_owned(),
            MonitorRequest::columns(&["cur_cfg"]),
        );
        let mut mon = self.client.monitor(DB, &reqs).await?;
        let r = self
            .tx(vec![
                Operation::mutate("Open_vSwitch", vec![], vec![Mutation::add("next_cfg", 1)]),
                Operation::select("Open_vSwitch", vec![], Some(&["next_cfg", "cur_cfg"])),
            ])
            .await?;
        let row = r[1]
            .rows()
            .first()
            .ok_or_else(|| OvsdbError::Invalid("the Open_vSwitch table has no row".into()))?;
        let target = row.get("next_cfg").and_then(Value::as_i64).unwrap_or(0);
        let mut cur = row.get("cur_cfg").and_then(Value::as_i64).unwrap_or(0);
        let deadline = tokio::time::Instant::now() + timeout;
        while cur < target {
            let upd = tokio::time::timeout_at(deadline, mon.next())
                .await
                .map_err(|_| OvsdbError::Timeout {
                    what: "ovs-vswitchd to apply the configuration (cur_cfg); is it running?"
                        .into(),
                    after: timeout,
                })?
                .ok_or_else(|| OvsdbError::Closed("monitor ended".into()))?;
            for rows in upd.values() {
                for u in rows.values() {
                    if let Some(c) = u
                        .new
                        .as_ref()
                        .and_then(|n| n.get("cur_cfg"))
                        .and_then(Value::as_i64)
                    {
                        cur = cur.max(c);
                    }
                }
            }
        }
        let _ = mon.cancel().await;
        Ok(())
    }

    /// Reads one column of the row a condition selects (for assertions and
    /// tools).
    pub async fn get(
        &self,
        table: &str,
        condition: Condition,
        column: &str,
    ) -> Result<Option<Value>, OvsdbError> {
        let r = self
            .tx(vec![Operation::select(
                table,
                vec![condition],
                Some(&[column]),
            )])
            .await?;
        Ok(r[0].rows().first().and_then(|row| row.get(column).cloned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vxlan_options_are_what_contiv_sets() {
        let k = InterfaceKind::Vxlan {
            remote_ip: "172.31.77.2".parse().unwrap(),
            key: VxlanKey::Flow,
            dst_port: Some(4789),
            local_ip: None,
        };
        assert_eq!(k.type_str(), "vxlan");
        let o = k.options();
        assert_eq!(o.get("remote_ip").map(String::as_str), Some("172.31.77.2"));
        assert_eq!(o.get("key").map(String::as_str), Some("flow"));
        assert_eq!(o.get("dst_port").map(String::as_str), Some("4789"));
    }

    #[test]
    fn vlan_columns_roundtrip_through_a_row() {
        for v in [
            VlanMode::None,
            VlanMode::Access(10),
            VlanMode::Trunk(vec![10, 20]),
        ] {
            let row: Row = vlan_columns(&v).into_iter().collect();
            assert_eq!(vlan_from_row(&row), v);
        }
    }

    #[test]
    fn merged_keeps_foreign_keys_and_reports_no_change() {
        let cur = Value::str_map([("a", "1"), ("other", "x")]);
        let mut want = BTreeMap::new();
        want.insert("a".to_owned(), "1".to_owned());
        assert!(merged(&cur, &want).is_none());
        want.insert("a".to_owned(), "2".to_owned());
        let m = merged(&cur, &want).unwrap().to_str_map();
        assert_eq!(m.get("a").map(String::as_str), Some("2"));
        assert_eq!(m.get("other").map(String::as_str), Some("x"));
    }
}
