//! Objects that are only names: `tenant`, `policy`, `appProfile`.

use super::names::{
    MAX_NAME_LEN, check_name, check_object_name, check_object_name_list, check_opt_object_name,
};
use super::{ValidationError, check_key};
use crate::model::{AppProfile, Policy, Tenant};

pub(in crate::model) fn validate_tenant(o: &Tenant) -> Result<(), ValidationError> {
    check_key(o)?;
    check_opt_object_name("defaultNetwork", &o.default_network)?;
    check_object_name("tenantName", &o.tenant_name)?;
    Ok(())
}

pub(in crate::model) fn validate_policy(o: &Policy) -> Result<(), ValidationError> {
    check_key(o)?;
    check_name("policyName", &o.policy_name, MAX_NAME_LEN)?;
    check_object_name("tenantName", &o.tenant_name)?;
    Ok(())
}

pub(in crate::model) fn validate_app_profile(o: &AppProfile) -> Result<(), ValidationError> {
    check_key(o)?;
    check_name("appProfileName", &o.app_profile_name, MAX_NAME_LEN)?;
    check_object_name_list("endpointGroups", &o.endpoint_groups)?;
    check_object_name("tenantName", &o.tenant_name)?;
    Ok(())
}
