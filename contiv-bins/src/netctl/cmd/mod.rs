//! One module per object: its subcommands, their flags (with the
//! original's names, short forms and defaults) and what each does.

pub mod aci_gw;
pub mod app_profile;
pub mod bgp;
pub mod counters;
pub mod endpoint;
pub mod ext_contracts;
pub mod global;
pub mod group;
pub mod misc;
pub mod netprofile;
pub mod network;
pub mod policy;
pub mod service;
pub mod tenant;

use super::cli::{ListOpts, OutputOpts};
use super::error::NetctlError;
use super::json_out::OrderedJson;
use super::request::Request;
use super::session::{Listed, Session};
use super::tables;
use contiv_core::model::ModelObject;
use contiv_core::model::{
    AppProfile, Bgp, EndpointGroup, ExtContractsGroup, Netprofile, Network, Policy, ServiceLB,
    Tenant,
};

/// `tenant:name`, the key of tenant-scoped objects.
pub fn key(tenant: &str, name: &str) -> String {
    format!("{tenant}:{name}")
}

/// Objects shown by the `ls` commands.
pub trait Listable: ModelObject {
    /// The tenant the object belongs to (empty for global objects).
    fn tenant(&self) -> &str;
    /// The name printed by `-q`.
    fn name(&self) -> &str;
    /// The table printed by default.
    fn table(items: &[Self]) -> String;
}

macro_rules! listable {
    ($ty:ty, $tenant:ident, $name:ident, $table:path) => {
        impl Listable for $ty {
            fn tenant(&self) -> &str {
                &self.$tenant
            }
            fn name(&self) -> &str {
                &self.$name
            }
            fn table(items: &[Self]) -> String {
                $table(items)
            }
        }
    };
}

listable!(Network, tenant_name, network_name, tables::networks);
listable!(EndpointGroup, tenant_name, group_name, tables::groups);
listable!(Policy, tenant_name, policy_name, tables::policies);
listable!(Netprofile, tenant_name, profile_name, tables::netprofiles);
listable!(
    AppProfile,
    tenant_name,
    app_profile_name,
    tables::app_profiles
);
listable!(ServiceLB, tenant_name, service_name, tables::services);
listable!(
    ExtContractsGroup,
    tenant_name,
    contracts_group_name,
    tables::ext_contracts
);
listable!(Tenant, tenant_name, tenant_name, tables::tenants);

impl Listable for Bgp {
    fn tenant(&self) -> &str {
        ""
    }
    fn name(&self) -> &str {
        &self.hostname
    }
    fn table(items: &[Self]) -> String {
        tables::bgps(items)
    }
}

/// A tenant-scoped `ls`: checks the tenant exists (as the original did, even
/// with `-a`), lists the collection, keeps the tenant's objects (all with
/// `-a`) and prints them.
pub fn list_in_tenant<T: Listable>(
    s: &mut Session<'_>,
    opts: &ListOpts,
) -> Result<(), NetctlError> {
    s.ensure_tenant(&opts.tenant.tenant)?;
    let items = s.fetch_list::<T>(&Request::list::<T>())?;
    let items = items
        .into_iter()
        .filter(|i| opts.all || i.obj.tenant() == opts.tenant.tenant)
        .collect();
    print_list(s, items, &opts.output)
}

/// Lists a whole collection (tenants, BGP hosts) and prints it.
pub fn list_all<T: Listable>(s: &mut Session<'_>, output: &OutputOpts) -> Result<(), NetctlError> {
    let items = s.fetch_list::<T>(&Request::list::<T>())?;
    print_list(s, items, output)
}

/// Prints listed objects: JSON (`-j`, as received), names (`-q`) or the
/// table.
pub fn print_list<T: Listable>(
    s: &mut Session<'_>,
    items: Vec<Listed<T>>,
    output: &OutputOpts,
) -> Result<(), NetctlError> {
    if output.json {
        let raw: Vec<&OrderedJson> = items.iter().map(|i| &i.raw).collect();
        s.print_json(&raw)
    } else if output.quiet {
        let names: String = items
            .iter()
            .map(|i| format!("{}\n", i.obj.name()))
            .collect();
        s.print(&names)
    } else {
        let objs: Vec<T> = items.into_iter().map(|i| i.obj).collect();
        s.print(&T::table(&objs))
    }
}

/// Splits repeatable list flags that may also hold comma-separated values
/// (`-p a -p b,c` → `a b c`); empty items are dropped.
pub fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Sends a create (POST) for an object.
pub fn post<T: ModelObject>(s: &mut Session<'_>, obj: &T) -> Result<(), NetctlError> {
    let req = Request::create(obj).map_err(|e| {
        NetctlError::io(
            "encoding the request body",
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    s.call(&req).map(|_| ())
}

/// Sends a DELETE for an object key.
pub fn delete<T: ModelObject>(s: &mut Session<'_>, key: &str) -> Result<(), NetctlError> {
    s.call(&Request::delete::<T>(key)).map(|_| ())
}
