//! `endpointGroup` rules: names, `ipPool`, `cfgdTag`, `netProfile`, and the
//! policy and external-contract lists.
//!
//! Field-level only: whether the pool lies inside the network's subnet and
//! is free, and whether the listed policies exist, are netmaster checks.

use super::ipv4::parse_ip_pool;
use super::names::{
    MAX_NAME_LEN, check_name_list, check_object_name, check_opt_name, check_opt_tag,
};
use super::{ValidationError, check_key};
use crate::model::EndpointGroup;
use std::net::Ipv4Addr;

pub(in crate::model) fn ip_pool(
    o: &EndpointGroup,
) -> Result<Option<(Ipv4Addr, Ipv4Addr)>, ValidationError> {
    parse_ip_pool("ipPool", &o.ip_pool)
}

pub(in crate::model) fn validate(o: &EndpointGroup) -> Result<(), ValidationError> {
    check_key(o)?;
    check_opt_tag("cfgdTag", &o.cfgd_tag)?;
    check_name_list("extContractsGrps", &o.ext_contracts_grps)?;
    check_object_name("groupName", &o.group_name)?;
    ip_pool(o)?;
    check_opt_name("netProfile", &o.net_profile, MAX_NAME_LEN)?;
    check_object_name("networkName", &o.network_name)?;
    check_name_list("policies", &o.policies)?;
    check_object_name("tenantName", &o.tenant_name)?;
    Ok(())
}
