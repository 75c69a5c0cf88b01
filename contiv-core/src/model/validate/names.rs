//! Name and tag syntax: the original's DNS-label rule, plus `_` (deliberate
//! change (a)) and, for tenant, network and endpoint-group names, no dots
//! (deliberate change (b)).
//!
//! A *name* is one or more labels separated by `.`; a label is ASCII
//! letters, digits, `-` and `_`, starting and ending with a letter or a
//! digit. An *object name* (tenant, network, endpoint group, and every
//! reference to one) is a name without dots. A *tag* (`cfgdTag`) is a name
//! of up to [`MAX_TAG_LEN`] bytes.

use super::ValidationError;
use super::text::quoted;

/// Maximum length of most names (tenant, network, group, policy, rule id…).
pub const MAX_NAME_LEN: usize = 64;
/// Maximum length of a configured tag (`cfgdTag`) and of `physicalDomain`.
pub const MAX_TAG_LEN: usize = 128;
/// Maximum length of a service name and of a BGP host name.
pub const MAX_LONG_NAME_LEN: usize = 256;

/// True if `label` is letters, digits, `-` and `_`, starting and ending with
/// a letter or digit.
fn is_label(label: &[u8]) -> bool {
    match (label.first(), label.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric()
                && last.is_ascii_alphanumeric()
                && label
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        }
        _ => false,
    }
}

/// True if `s` has name syntax (dot-separated labels), whatever its length.
pub fn is_name_syntax(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|l| is_label(l.as_bytes()))
}

/// True if `s` is a valid name of at most [`MAX_NAME_LEN`] bytes: policy
/// names, rule ids, app-profile names, netprofile names… (dots allowed).
pub fn is_valid_name(s: &str) -> bool {
    s.len() <= MAX_NAME_LEN && is_name_syntax(s)
}

/// True if `s` is a valid tenant, network or endpoint-group name: a valid
/// name without dots.
pub fn is_valid_object_name(s: &str) -> bool {
    is_valid_name(s) && !s.contains('.')
}

/// True if `s` is a valid configured tag (`cfgdTag`): name syntax, at most
/// [`MAX_TAG_LEN`] bytes (dots allowed, e.g. `io.contiv.network.test`).
pub fn is_valid_tag(s: &str) -> bool {
    s.len() <= MAX_TAG_LEN && is_name_syntax(s)
}

/// Maximum length of a host name (a DNS name).
pub const MAX_HOST_NAME_LEN: usize = 253;
/// Maximum length of an agent-API endpoint id.
pub const MAX_ENDPOINT_ID_LEN: usize = 256;

/// True if `s` is a valid host (node) name: name syntax (dot-separated
/// labels of letters, digits, `-` and `_`), at most [`MAX_HOST_NAME_LEN`]
/// bytes. No NUL, newline, `/`, empty label or `..` can pass.
pub fn is_valid_host_name(s: &str) -> bool {
    s.len() <= MAX_HOST_NAME_LEN && is_name_syntax(s)
}

/// Checks a host name of the agent API (`field` names it in the message).
pub fn check_host_name(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if is_valid_host_name(value) {
        return Ok(());
    }
    Err(ValidationError::new(
        field,
        format!(
            "invalid {field} {}: expected a host name of at most {MAX_HOST_NAME_LEN} bytes: \
             {NAME_RULE}",
            quoted(value)
        ),
    ))
}

/// Checks an agent-API endpoint id (e.g. `<container-id>-<ifname>`):
/// 1..=[`MAX_ENDPOINT_ID_LEN`] bytes of printable ASCII without spaces,
/// `/`, `\`, `?`, `#` or `%`, and no `..` — an id ends up in store keys,
/// URLs, file names and interface names, so it must not be able to walk a
/// path or break a line.
pub fn check_endpoint_id(field: &'static str, value: &str) -> Result<(), ValidationError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_ENDPOINT_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'\\' | b'?' | b'#' | b'%'))
        && !value.contains("..");
    if ok {
        return Ok(());
    }
    Err(ValidationError::new(
        field,
        format!(
            "invalid {field} {}: expected 1..{MAX_ENDPOINT_ID_LEN} printable characters without \
             spaces, '/', '\\', '?', '#', '%' or '..'",
            quoted(value)
        ),
    ))
}

const NAME_RULE: &str = "letters, digits, '-' and '_' in dot-separated labels that start and end with a letter or digit";
const OBJECT_RULE: &str =
    "letters, digits, '-' and '_', starting and ending with a letter or digit (no dots)";

fn too_long(field: &'static str, value: &str, max: usize) -> ValidationError {
    ValidationError::new(
        field,
        format!(
            "{field} {} is too long ({} bytes): at most {max} allowed",
            quoted(value),
            value.len()
        ),
    )
}

/// Checks a required name (dots allowed) of at most `max` bytes.
pub(crate) fn check_name(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(
            field,
            format!("{field} is required: expected {NAME_RULE}"),
        ));
    }
    if value.len() > max {
        return Err(too_long(field, value, max));
    }
    if !is_name_syntax(value) {
        return Err(ValidationError::new(
            field,
            format!("invalid {field} {}: expected {NAME_RULE}", quoted(value)),
        ));
    }
    Ok(())
}

/// Like [`check_name`], but an empty value is accepted.
pub(crate) fn check_opt_name(
    field: &'static str,
    value: &str,
    max: usize,
) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Ok(());
    }
    check_name(field, value, max)
}

/// Checks a required tenant, network or endpoint-group name (or a reference
/// to one): a name of at most [`MAX_NAME_LEN`] bytes without dots.
pub(crate) fn check_object_name(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::new(
            field,
            format!("{field} is required: expected {OBJECT_RULE}"),
        ));
    }
    if value.len() > MAX_NAME_LEN {
        return Err(too_long(field, value, MAX_NAME_LEN));
    }
    if is_name_syntax(value) && value.contains('.') {
        return Err(ValidationError::new(
            field,
            format!(
                "invalid {field} {}: dots are not allowed in tenant, network and endpoint-group \
                 names (internal ids such as <network>.<tenant> would become ambiguous); \
                 use '-' or '_' instead",
                quoted(value)
            ),
        ));
    }
    if !is_name_syntax(value) {
        return Err(ValidationError::new(
            field,
            format!("invalid {field} {}: expected {OBJECT_RULE}", quoted(value)),
        ));
    }
    Ok(())
}

/// Like [`check_object_name`], but an empty value is accepted.
pub(crate) fn check_opt_object_name(
    field: &'static str,
    value: &str,
) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Ok(());
    }
    check_object_name(field, value)
}

/// Checks an optional configured tag (`cfgdTag`).
pub(crate) fn check_opt_tag(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > MAX_TAG_LEN {
        return Err(too_long(field, value, MAX_TAG_LEN));
    }
    if !is_name_syntax(value) {
        return Err(ValidationError::new(
            field,
            format!("invalid {field} {}: expected {NAME_RULE}", quoted(value)),
        ));
    }
    Ok(())
}

/// Checks every entry of a list of names (dots allowed).
pub(crate) fn check_name_list(
    field: &'static str,
    values: &[String],
) -> Result<(), ValidationError> {
    values
        .iter()
        .try_for_each(|v| check_name(field, v, MAX_NAME_LEN))
}

/// Checks every entry of a list of object names (no dots).
pub(crate) fn check_object_name_list(
    field: &'static str,
    values: &[String],
) -> Result<(), ValidationError> {
    values.iter().try_for_each(|v| check_object_name(field, v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_label_rule_with_underscores() {
        for ok in [
            "a",
            "contiv-net",
            "prod_web",
            "a.b",
            "io.contiv.network.test",
            "A9",
            "x-_-y",
        ] {
            assert!(is_valid_name(ok), "{ok} should be valid");
        }
        for bad in [
            "",
            "-invalid",
            "invalid-",
            "_x",
            "x_",
            "contiv:invalid",
            "contiv|invalid",
            "a..b",
            ".a",
            "a.",
            "a/b",
            "tenant#x",
            "tenant\\x",
            "é",
            "a b",
        ] {
            assert!(!is_valid_name(bad), "{bad} should be invalid");
        }
        assert!(is_valid_name(&"a".repeat(64)));
        assert!(!is_valid_name(&"a".repeat(65)));
    }

    #[test]
    fn object_names_forbid_dots_and_say_why() {
        assert!(is_valid_object_name("contiv-net"));
        assert!(is_valid_object_name("in_valid"));
        assert!(!is_valid_object_name("a.b"));
        let e = check_object_name("networkName", "a.b").unwrap_err();
        assert_eq!(e.field, "networkName");
        assert!(e.message.contains("dots are not allowed"), "{}", e.message);
        let e = check_object_name("tenantName", "").unwrap_err();
        assert!(e.message.contains("required"), "{}", e.message);
        let e = check_object_name("tenantName", &"b".repeat(65)).unwrap_err();
        assert!(e.message.contains("too long (65 bytes)"), "{}", e.message);
    }

    #[test]
    fn tags_allow_dots_up_to_128_bytes() {
        assert!(is_valid_tag("io.contiv.network.test"));
        assert!(!is_valid_tag("tag=contiv-net"));
        assert!(!is_valid_tag("io.contiv.network/test"));
        assert!(is_valid_tag(&"t".repeat(128)));
        assert!(!is_valid_tag(&"t".repeat(129)));
        assert!(check_opt_tag("cfgdTag", "").is_ok());
    }
}
