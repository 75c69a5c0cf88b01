//! Per-tenant name tables and the resolution rules of the built-in DNS.
//!
//! The tables are fed with three kinds of records, each keyed so that it
//! can be put again (replacing the previous version) or deleted:
//!
//! * endpoints ([`EndpointRecord`], by endpoint id): the container name and
//!   the EPG name of an endpoint, with its IPv4/IPv6 addresses;
//! * endpoint groups ([`GroupEntry`], by tenant and group): a group that
//!   exists but has no endpoints is still a known name (answered with no
//!   records instead of being forwarded to the host resolver);
//! * services ([`ServiceEntry`], by tenant and service): a serviceLB name and
//!   its VIP.
//!
//! The tables know nothing of where the records come from: what names map
//! to which addresses is just these three record types.
//! [`NameTables::from_records`] builds everything from plain iterators
//! (netplugin feeds it from its view of the watch stream); the
//! `put_*`/`delete_*` methods apply single changes.
//!
//! # Resolution rules
//!
//! A query is always made *from* a context — a tenant and one of its
//! networks (the network of the DNS endpoint the query arrived on). Nothing
//! outside the querier's tenant is ever answered.
//!
//! * **Normalisation.** One trailing dot is ignored (`web.` = `web`) and
//!   names compare ASCII-case-insensitively (`WEB` = `web`). Objects whose
//!   names differ only by case share one DNS name: their endpoints are
//!   merged; for services the one whose name sorts first wins.
//! * **Bare names** (`<name>`), looked up in the querier's tenant in the
//!   original's order — the first kind that knows the name answers:
//!   1. a service (serviceLB): its VIP (A only);
//!   2. an endpoint group: the addresses of its endpoints, on whatever
//!      network of the tenant the group is (as the original);
//!   3. a container name (a leading `/` is stripped, as Docker reports
//!      names): the addresses of the endpoints of containers with that name,
//!      those on the querier's network when there are any, else all of the
//!      tenant's.
//! * **Network-qualified names** (`<name>.<network>`, the documented form
//!   for reaching an EPG "from other networks within the same tenant"): if
//!   the whole name is not known as a bare name, it is split at a dot into
//!   `<name>` and `<network>` — trying the last dot first, then earlier ones,
//!   since contiv names may themselves contain dots — and `<name>` is looked
//!   up as above but restricted to that network of the tenant: a service
//!   whose VIP comes from that network, a group on it, or containers with
//!   endpoints on it.
//! * **Answers.** A asks for IPv4 addresses, AAAA for IPv6, ANY for both.
//!   Group and container answers carry at most [`MAX_ANSWERS`] records and
//!   rotate: each query starts one endpoint further along the (stable)
//!   member list, so successive queries spread over all members.
//!   A name that is known but has no address of the asked family — e.g.
//!   AAAA for a service, any other record type, an EPG with no endpoint yet
//!   — is [`Lookup::NoData`] (NOERROR, no records): the name exists here and
//!   is not forwarded (the original fell through to the next table instead).
//! * Anything else is [`Lookup::Unknown`]: the server forwards it.
//!
//! There is no domain suffix handling (as in the original): `web.svc.local`
//! only resolves if `svc.local` is a network of the tenant.

use contiv_core::model::{EndpointGroup, ServiceLB};
use contiv_core::records::{EndpointRecord, ServiceState};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Most address records in one answer (the original's EPG cap).
pub const MAX_ANSWERS: usize = 10;

/// Which records a query asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryKind {
    /// IPv4 addresses (`A`).
    A,
    /// IPv6 addresses (`AAAA`).
    Aaaa,
    /// Both (`ANY`).
    Any,
    /// Any other record type: a known name has none of them.
    Other,
}

impl QueryKind {
    fn wants_v4(self) -> bool {
        matches!(self, QueryKind::A | QueryKind::Any)
    }
    fn wants_v6(self) -> bool {
        matches!(self, QueryKind::Aaaa | QueryKind::Any)
    }
}

/// The result of a lookup in the tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The name is known; these are the addresses to answer with (never
    /// empty, at most [`MAX_ANSWERS`]).
    Found(Vec<IpAddr>),
    /// The name is known in the tenant but has no record of the asked type.
    NoData,
    /// The tables do not know the name: forward it.
    Unknown,
}

/// A service name and its VIP, as the tables take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    /// Tenant name.
    pub tenant: String,
    /// Service (serviceLB) name.
    pub name: String,
    /// The network the VIP is taken from (`None` if unknown: then only the
    /// bare name resolves, not `<service>.<network>`).
    pub network: Option<String>,
    /// The allocated VIP.
    pub vip: Ipv4Addr,
}

impl ServiceEntry {
    /// Builds an entry from netmaster's service record (key
    /// `tenant:service`, VIP) and, if known, the serviceLB object (for the
    /// network). `None` if the record's key is not `tenant:service`.
    pub fn from_state(state: &ServiceState, lb: Option<&ServiceLB>) -> Option<Self> {
        let (tenant, name) = state.key.split_once(':')?;
        if tenant.is_empty() || name.is_empty() {
            return None;
        }
        let network = lb
            .map(|lb| lb.network_name.clone())
            .filter(|n| !n.is_empty());
        Some(ServiceEntry {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            network,
            vip: state.vip,
        })
    }
}

/// An endpoint group, as the tables take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupEntry {
    /// Tenant name.
    pub tenant: String,
    /// Group name.
    pub name: String,
    /// The group's network.
    pub network: String,
}

impl From<&EndpointGroup> for GroupEntry {
    fn from(g: &EndpointGroup) -> Self {
        GroupEntry {
            tenant: g.tenant_name.clone(),
            name: g.group_name.clone(),
            network: g.network_name.clone(),
        }
    }
}

/// An endpoint as the tables keep it (names already normalised).
#[derive(Clone, Debug)]
struct EpEntry {
    tenant: String,
    network: String,
    container: Option<String>,
    group: Option<String>,
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
}

/// Endpoints sharing a DNS name, with the rotation cursor.
#[derive(Debug, Default)]
struct Members {
    ids: BTreeSet<String>,
    next: AtomicUsize,
}

/// An EPG name: the groups declared with it (name → network) and the
/// endpoints in them.
#[derive(Debug, Default)]
struct GroupSlot {
    declared: BTreeMap<String, String>,
    members: Members,
}

/// One tenant's tables.
#[derive(Debug, Default)]
struct TenantNames {
    /// Service DNS name → (service name as configured → (network, VIP)).
    services: HashMap<String, BTreeMap<String, (Option<String>, Ipv4Addr)>>,
    /// EPG DNS name → groups and members.
    groups: HashMap<String, GroupSlot>,
    /// Container DNS name → endpoints.
    containers: HashMap<String, Members>,
}

impl TenantNames {
    fn is_empty(&self) -> bool {
        self.services.is_empty() && self.groups.is_empty() && self.containers.is_empty()
    }
}

/// Where a lookup may take endpoints from.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// The whole tenant, preferring endpoints on this network.
    Prefer(&'a str),
    /// Only this network.
    Only(&'a str),
}

/// The name tables of all tenants.
#[derive(Debug, Default)]
pub struct NameTables {
    /// Endpoint id → entry (ids are cluster-wide unique).
    endpoints: HashMap<String, EpEntry>,
    /// Tenant name → tables.
    tenants: HashMap<String, TenantNames>,
}

/// Normalises a DNS name: drops one trailing dot and lowercases ASCII.
pub fn normalize(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// Normalises an object name for the tables: lowercases ASCII; empty names
/// are not names.
fn table_name(name: &str) -> Option<String> {
    (!name.is_empty()).then(|| name.to_ascii_lowercase())
}

impl NameTables {
    /// Empty tables.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds the tables from plain records.
    pub fn from_records<'a>(
        endpoints: impl IntoIterator<Item = &'a EndpointRecord>,
        groups: impl IntoIterator<Item = GroupEntry>,
        services: impl IntoIterator<Item = ServiceEntry>,
    ) -> Self {
        let mut t = Self::new();
        for g in groups {
            t.put_group(&g);
        }
        for s in services {
            t.put_service(&s);
        }
        for e in endpoints {
            t.put_endpoint(e);
        }
        t
    }

    /// Number of endpoints the tables hold.
    pub fn endpoint_count(&self) -> usize {
        self.endpoints.len()
    }

    /// Adds or replaces an endpoint (by its id).
    pub fn put_endpoint(&mut self, ep: &EndpointRecord) {
        self.delete_endpoint(&ep.id);
        if ep.tenant.is_empty() {
            return;
        }
        let entry = EpEntry {
            tenant: ep.tenant.clone(),
            network: ep.network.to_ascii_lowercase(),
            container: table_name(ep.container_name.trim_start_matches('/')),
            group: table_name(&ep.group),
            ipv4: ep.ipv4,
            ipv6: ep.ipv6,
        };
        let tenant = self.tenants.entry(entry.tenant.clone()).or_default();
        if let Some(c) = &entry.container {
            tenant
                .containers
                .entry(c.clone())
                .or_default()
                .ids
                .insert(ep.id.clone());
        }
        if let Some(g) = &entry.group {
            tenant
                .groups
                .entry(g.clone())
                .or_default()
                .members
                .ids
                .insert(ep.id.clone());
        }
        self.endpoints.insert(ep.id.clone(), entry);
    }

    /// Removes an endpoint by id; unknown ids are ignored.
    pub fn delete_endpoint(&mut self, id: &str) {
        let Some(old) = self.endpoints.remove(id) else {
            return;
        };
        let Some(tenant) = self.tenants.get_mut(&old.tenant) else {
            return;
        };
        if let Some(c) = &old.container
            && let Some(m) = tenant.containers.get_mut(c)
        {
            m.ids.remove(id);
            if m.ids.is_empty() {
                tenant.containers.remove(c);
            }
        }
        if let Some(g) = &old.group
            && let Some(slot) = tenant.groups.get_mut(g)
        {
            slot.members.ids.remove(id);
            if slot.members.ids.is_empty() && slot.declared.is_empty() {
                tenant.groups.remove(g);
            }
        }
        self.drop_tenant_if_empty(&old.tenant);
    }

    /// Adds or replaces an endpoint group.
    pub fn put_group(&mut self, g: &GroupEntry) {
        let Some(dns) = table_name(&g.name) else {
            return;
        };
        if g.tenant.is_empty() {
            return;
        }
        self.tenants
            .entry(g.tenant.clone())
            .or_default()
            .groups
            .entry(dns)
            .or_default()
            .declared
            .insert(g.name.clone(), g.network.to_ascii_lowercase());
    }

    /// Removes an endpoint group (its endpoints, if any are left, still
    /// answer for the name until they are deleted).
    pub fn delete_group(&mut self, tenant: &str, name: &str) {
        let Some(dns) = table_name(name) else {
            return;
        };
        let Some(t) = self.tenants.get_mut(tenant) else {
            return;
        };
        if let Some(slot) = t.groups.get_mut(&dns) {
            slot.declared.remove(name);
            if slot.declared.is_empty() && slot.members.ids.is_empty() {
                t.groups.remove(&dns);
            }
        }
        self.drop_tenant_if_empty(tenant);
    }

    /// Adds or replaces a service.
    pub fn put_service(&mut self, s: &ServiceEntry) {
        let Some(dns) = table_name(&s.name) else {
            return;
        };
        if s.tenant.is_empty() {
            return;
        }
        let network = s.network.as_deref().map(str::to_ascii_lowercase);
        self.tenants
            .entry(s.tenant.clone())
            .or_default()
            .services
            .entry(dns)
            .or_default()
            .insert(s.name.clone(), (network, s.vip));
    }

    /// Removes a service.
    pub fn delete_service(&mut self, tenant: &str, name: &str) {
        let Some(dns) = table_name(name) else {
            return;
        };
        let Some(t) = self.tenants.get_mut(tenant) else {
            return;
        };
        if let Some(slot) = t.services.get_mut(&dns) {
            slot.remove(name);
            if slot.is_empty() {
                t.services.remove(&dns);
            }
        }
        self.drop_tenant_if_empty(tenant);
    }

    fn drop_tenant_if_empty(&mut self, tenant: &str) {
        if self.tenants.get(tenant).is_some_and(TenantNames::is_empty) {
            self.tenants.remove(tenant);
        }
    }

    /// Resolves `name` for a querier on `network` of `tenant` (see the
    /// module docs for the rules). `name` may carry a trailing dot and any
    /// letter case.
    pub fn resolve(&self, tenant: &str, network: &str, name: &str, kind: QueryKind) -> Lookup {
        let Some(t) = self.tenants.get(tenant) else {
            return Lookup::Unknown;
        };
        let name = normalize(name);
        if name.is_empty() {
            return Lookup::Unknown;
        }
        let network = network.to_ascii_lowercase();
        let found = self.lookup(t, &name, Scope::Prefer(&network), kind);
        if found != Lookup::Unknown {
            return found;
        }
        for (dot, _) in name.rmatch_indices('.') {
            let (prefix, net) = (&name[..dot], &name[dot + 1..]);
            if prefix.is_empty() || net.is_empty() {
                continue;
            }
            let found = self.lookup(t, prefix, Scope::Only(net), kind);
            if found != Lookup::Unknown {
                return found;
            }
        }
        Lookup::Unknown
    }

    /// Service → group → container, within a scope.
    fn lookup(&self, t: &TenantNames, name: &str, scope: Scope<'_>, kind: QueryKind) -> Lookup {
        if let Some(services) = t.services.get(name) {
            let vip = services
                .values()
                .find(|(net, _)| match scope {
                    Scope::Prefer(_) => true,
                    Scope::Only(only) => net.as_deref() == Some(only),
                })
                .map(|(_, vip)| *vip);
            if let Some(vip) = vip {
                return if kind.wants_v4() {
                    Lookup::Found(vec![IpAddr::V4(vip)])
                } else {
                    Lookup::NoData
                };
            }
        }
        if let Some(slot) = t.groups.get(name) {
            let ids: Vec<&String> = match scope {
                Scope::Prefer(_) => slot.members.ids.iter().collect(),
                Scope::Only(only) => self.on_network(&slot.members, only),
            };
            let declared_here = match scope {
                Scope::Prefer(_) => !slot.declared.is_empty(),
                Scope::Only(only) => slot.declared.values().any(|n| n == only),
            };
            if !ids.is_empty() || declared_here {
                return self.answer(&slot.members, &ids, kind);
            }
        }
        if let Some(members) = t.containers.get(name) {
            let ids = match scope {
                Scope::Prefer(net) => {
                    let here = self.on_network(members, net);
                    if here.is_empty() {
                        members.ids.iter().collect()
                    } else {
                        here
                    }
                }
                Scope::Only(only) => self.on_network(members, only),
            };
            if !ids.is_empty() {
                return self.answer(members, &ids, kind);
            }
        }
        Lookup::Unknown
    }

    fn on_network<'m>(&self, members: &'m Members, network: &str) -> Vec<&'m String> {
        members
            .ids
            .iter()
            .filter(|id| {
                self.endpoints
                    .get(*id)
                    .is_some_and(|e| e.network == network)
            })
            .collect()
    }

    /// The rotated, capped answer over `ids` (a subset of `members`).
    fn answer(&self, members: &Members, ids: &[&String], kind: QueryKind) -> Lookup {
        let with_addr: Vec<&EpEntry> = ids
            .iter()
            .filter_map(|id| self.endpoints.get(*id))
            .filter(|e| {
                (kind.wants_v4() && e.ipv4.is_some()) || (kind.wants_v6() && e.ipv6.is_some())
            })
            .collect();
        if with_addr.is_empty() {
            return Lookup::NoData;
        }
        let start = members.next.fetch_add(1, Ordering::Relaxed) % with_addr.len();
        let mut addrs = Vec::with_capacity(MAX_ANSWERS.min(with_addr.len() * 2));
        for e in with_addr.iter().cycle().skip(start).take(with_addr.len()) {
            if kind.wants_v4()
                && let Some(v4) = e.ipv4
            {
                addrs.push(IpAddr::V4(v4));
            }
            if kind.wants_v6()
                && let Some(v6) = e.ipv6
            {
                addrs.push(IpAddr::V6(v6));
            }
            if addrs.len() >= MAX_ANSWERS {
                addrs.truncate(MAX_ANSWERS);
                break;
            }
        }
        Lookup::Found(addrs)
    }
}

/// The tables shared between the server tasks (readers) and whoever
/// follows the cluster state (the writer). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct SharedNames(Arc<RwLock<NameTables>>);

impl SharedNames {
    /// Shares these tables.
    pub fn new(tables: NameTables) -> Self {
        SharedNames(Arc::new(RwLock::new(tables)))
    }

    /// Resolves a name (see [`NameTables::resolve`]).
    pub fn resolve(&self, tenant: &str, network: &str, name: &str, kind: QueryKind) -> Lookup {
        self.read().resolve(tenant, network, name, kind)
    }

    /// Read access.
    pub fn read(&self) -> RwLockReadGuard<'_, NameTables> {
        self.0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Write access, to apply changes.
    pub fn write(&self) -> RwLockWriteGuard<'_, NameTables> {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces all tables at once (after a full resync).
    pub fn replace(&self, tables: NameTables) {
        *self.write() = tables;
    }
}

#[cfg(test)]
mod tests;
