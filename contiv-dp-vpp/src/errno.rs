//! VPP's API return values (`vnet_api_error_t`, `src/vnet/error.h`): the
//! ones this crate's backend and test server meet, with VPP's wording.

/// `retval` 0: success.
pub const OK: i32 = 0;
/// Unspecified error.
pub const UNSPECIFIED: i32 = -1;
/// Invalid sw_if_index.
pub const INVALID_SW_IF_INDEX: i32 = -2;
/// No such FIB / VRF.
pub const NO_SUCH_FIB: i32 = -3;
/// No such entry.
pub const NO_SUCH_ENTRY: i32 = -6;
/// Invalid value.
pub const INVALID_VALUE: i32 = -7;
/// Invalid value #2.
pub const INVALID_VALUE_2: i32 = -8;
/// Unimplemented.
pub const UNIMPLEMENTED: i32 = -9;
/// Invalid sw_if_index #2.
pub const INVALID_SW_IF_INDEX_2: i32 = -10;
/// System call error #2.
pub const SYSCALL_ERROR_2: i32 = -12;
/// Invalid VLAN.
pub const INVALID_VLAN: i32 = -55;
/// VLAN subif already exists.
pub const VLAN_ALREADY_EXISTS: i32 = -56;
/// Invalid src address.
pub const INVALID_SRC_ADDRESS: i32 = -57;
/// Invalid dst address.
pub const INVALID_DST_ADDRESS: i32 = -58;
/// Address length mismatch.
pub const ADDRESS_LENGTH_MISMATCH: i32 = -59;
/// Address not found for interface.
pub const ADDRESS_NOT_FOUND_FOR_INTERFACE: i32 = -60;
/// Invalid argument.
pub const INVALID_ARGUMENT: i32 = -73;
/// Tunnel already exists.
pub const TUNNEL_EXIST: i32 = -75;
/// Invalid decap-next.
pub const INVALID_DECAP_NEXT: i32 = -76;
/// Interface already exists.
pub const IF_ALREADY_EXISTS: i32 = -79;
/// Value already exists.
pub const VALUE_EXIST: i32 = -81;
/// Source and destination are the same.
pub const SAME_SRC_DST: i32 = -82;
/// Invalid address family.
pub const INVALID_ADDRESS_FAMILY: i32 = -97;
/// Address in use.
pub const ADDRESS_IN_USE: i32 = -105;
/// Address found for interface (e.g. binding a table to an addressed interface).
pub const ADDRESS_FOUND_FOR_INTERFACE: i32 = -114;
/// Entry already exists.
pub const ENTRY_ALREADY_EXISTS: i32 = -116;
/// Bridge domain already exists.
pub const BD_ALREADY_EXISTS: i32 = -119;
/// Bridge domain has member interfaces.
pub const BD_IN_USE: i32 = -120;
/// Bridge domain 0 can't be deleted/modified.
pub const BD_NOT_MODIFIABLE: i32 = -121;
/// Bridge domain ID exceeds 16M limit.
pub const BD_ID_EXCEED_MAX: i32 = -122;
/// Unsupported.
pub const UNSUPPORTED: i32 = -126;
/// Duplicate interface address (an address on another interface overlaps).
pub const DUPLICATE_IF_ADDRESS: i32 = -127;
/// Inbound ACL in use.
pub const ACL_IN_USE_INBOUND: i32 = -142;
/// Outbound ACL in use.
pub const ACL_IN_USE_OUTBOUND: i32 = -143;
/// Instance in use.
pub const INSTANCE_IN_USE: i32 = -147;
/// Interface is not an Ethernet interface.
pub const NON_ETHERNET: i32 = -151;
/// Bridge domain already has a BVI interface.
pub const BD_ALREADY_HAS_BVI: i32 = -152;
/// Retry stream call with cursor.
pub const EAGAIN: i32 = -165;
/// Invalid prefix length.
pub const INVALID_PREFIX_LENGTH: i32 = -171;

/// VPP's text for a return value, if it is one of the above.
pub fn describe(retval: i32) -> Option<&'static str> {
    Some(match retval {
        OK => "OK",
        UNSPECIFIED => "Unspecified Error",
        INVALID_SW_IF_INDEX => "Invalid sw_if_index",
        NO_SUCH_FIB => "No such FIB / VRF",
        NO_SUCH_ENTRY => "No such entry",
        INVALID_VALUE => "Invalid value",
        INVALID_VALUE_2 => "Invalid value #2",
        UNIMPLEMENTED => "Unimplemented",
        INVALID_SW_IF_INDEX_2 => "Invalid sw_if_index #2",
        SYSCALL_ERROR_2 => "System call error #2",
        INVALID_VLAN => "Invalid VLAN",
        VLAN_ALREADY_EXISTS => "VLAN subif already exists",
        INVALID_SRC_ADDRESS => "Invalid src address",
        INVALID_DST_ADDRESS => "Invalid dst address",
        ADDRESS_LENGTH_MISMATCH => "Address length mismatch",
        ADDRESS_NOT_FOUND_FOR_INTERFACE => "Address not found for interface",
        INVALID_ARGUMENT => "Invalid argument",
        TUNNEL_EXIST => "Tunnel already exists",
        INVALID_DECAP_NEXT => "Invalid decap-next",
        IF_ALREADY_EXISTS => "Interface already exists",
        VALUE_EXIST => "Value already exists",
        SAME_SRC_DST => "Source and destination are the same",
        INVALID_ADDRESS_FAMILY => "Invalid address family",
        ADDRESS_IN_USE => "Address in use",
        ADDRESS_FOUND_FOR_INTERFACE => "Address found for interface",
        ENTRY_ALREADY_EXISTS => "Entry already exists",
        BD_ALREADY_EXISTS => "Bridge domain already exists",
        BD_IN_USE => "Bridge domain has member interfaces",
        BD_NOT_MODIFIABLE => "Bridge domain 0 can't be deleted/modified",
        BD_ID_EXCEED_MAX => "Bridge domain ID exceeds 16M limit",
        UNSUPPORTED => "Unsupported",
        DUPLICATE_IF_ADDRESS => "Duplicate address on another interface",
        ACL_IN_USE_INBOUND => "Inbound ACL in use",
        ACL_IN_USE_OUTBOUND => "Outbound ACL in use",
        INSTANCE_IN_USE => "Instance in use",
        NON_ETHERNET => "Interface is not an Ethernet interface",
        BD_ALREADY_HAS_BVI => "Bridge domain already has a BVI interface",
        EAGAIN => "Retry stream call with cursor",
        INVALID_PREFIX_LENGTH => "Invalid prefix length",
        _ => return None,
    })
}
