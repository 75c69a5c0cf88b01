//! The OpenAPI 3.0 document served at `/api/v1/openapi.json`, generated
//! from the model types (JSON Schema via schemars) and the collection list,
//! so it cannot drift from what the server accepts.
//!
//! On top of the generated schemas the document states what validation
//! requires, so generated requests (schemathesis runs it in `make test`)
//! reach the handlers instead of failing on the first missing field: the
//! required fields of each object, the name, enum and address formats of
//! its fields, the format of each collection's `{key}` (the key fields
//! joined with `:`), a valid example per object, and links from a create
//! to the read, inspect and delete of the same key. Every status the
//! server answers is documented (401/403 with credentials, 415 for a body
//! that is not JSON).

use super::collections::Collection;
use contiv_core::model::{
    AciGw, AppProfile, Bgp, EndpointGroup, ExtContractsGroup, Global, Netprofile, Network, Policy,
    Rule, ServiceLB, Tenant,
};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

fn schema_name(c: Collection) -> &'static str {
    match c {
        Collection::Tenants => "Tenant",
        Collection::Networks => "Network",
        Collection::EndpointGroups => "EndpointGroup",
        Collection::Policys => "Policy",
        Collection::Rules => "Rule",
        Collection::AppProfiles => "AppProfile",
        Collection::Netprofiles => "Netprofile",
        Collection::ServiceLBs => "ServiceLB",
        Collection::Globals => "Global",
        Collection::Bgps => "Bgp",
        Collection::ExtContractsGroups => "ExtContractsGroup",
        Collection::AciGws => "AciGw",
    }
}

fn error_responses() -> Value {
    let text = json!({ "text/plain": { "schema": { "type": "string" } } });
    json!({
        "400": { "description": "invalid input (the message says which field and why)", "content": text },
        "401": { "description": "a credential is required (netmaster runs with --token) or the one sent is invalid", "content": text },
        "403": { "description": "the credential (a node token) may not do this", "content": text },
        "404": { "description": "unknown object, or a referenced object does not exist", "content": text },
        "409": { "description": "conflict: overlap, name clash, in use, update refused, concurrent change", "content": text },
        "503": { "description": "not ready / no leader", "content": text },
    })
}

/// The error responses of an operation with a request body (also 415).
fn body_error_responses() -> Value {
    let mut r = error_responses();
    r["415"] = json!({ "description": "the request body is not declared JSON (Content-Type must be application/json)",
        "content": { "text/plain": { "schema": { "type": "string" } } } });
    r
}

/// One label of a name: letters, digits, `-` and `_`, starting and ending
/// with a letter or digit (`contiv_core::model::validate`'s rule).
const LABEL: &str = "[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?";

/// A tenant, network or group name (no dots), as a pattern without anchors.
fn object_name() -> String {
    LABEL.to_owned()
}

/// A name with dot-separated labels (policy, rule id, profile…).
fn dotted_name() -> String {
    format!("{LABEL}(?:\\.{LABEL})*")
}

fn anchored(p: &str) -> String {
    format!("^{p}$")
}

/// A string schema with a pattern and a length limit.
fn pattern(p: &str, max: usize) -> Value {
    json!({ "type": "string", "pattern": anchored(p), "minLength": 1, "maxLength": max })
}

fn one_of(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

/// IPv4 subnet `A.B.C.D/len` or `A.B.C.D-E.F.G.H/len` (the syntax; the
/// value rules — no host bits, no special blocks — are the server's).
fn ipv4_subnet() -> Value {
    let q = "(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    let a = format!("{q}\\.{q}\\.{q}\\.{q}");
    json!({ "type": "string", "pattern": anchored(&format!("{a}(?:-{a})?/(?:[8-9]|[12][0-9]|30)")) })
}

/// What the document says about one model schema: its name, its required
/// fields, and the schema of each constrained field.
type SchemaConstraints = (&'static str, Vec<&'static str>, Vec<(&'static str, Value)>);

/// Required fields and field formats per model schema (see the module
/// docs); `name` fields are the key fields.
fn constraints() -> Vec<SchemaConstraints> {
    use contiv_core::model::validate::{MAX_LONG_NAME_LEN, MAX_NAME_LEN};
    let obj = || pattern(&object_name(), MAX_NAME_LEN);
    let name = || pattern(&dotted_name(), MAX_NAME_LEN);
    let long = || pattern(&dotted_name(), MAX_LONG_NAME_LEN);
    vec![
        ("Tenant", vec!["tenantName"], vec![("tenantName", obj())]),
        (
            "Network",
            vec!["tenantName", "networkName", "encap", "subnet"],
            vec![
                ("tenantName", obj()),
                ("networkName", obj()),
                ("encap", one_of(&["vlan", "vxlan"])),
                ("nwType", one_of(&["infra", "data"])),
                ("subnet", ipv4_subnet()),
                (
                    "pktTag",
                    json!({ "type": "integer", "minimum": 0, "maximum": contiv_core::model::validate::MAX_PKT_TAG }),
                ),
            ],
        ),
        (
            "EndpointGroup",
            vec!["tenantName", "groupName", "networkName"],
            vec![
                ("tenantName", obj()),
                ("groupName", obj()),
                ("networkName", obj()),
            ],
        ),
        (
            "Policy",
            vec!["tenantName", "policyName"],
            vec![("tenantName", obj()), ("policyName", name())],
        ),
        (
            "Rule",
            vec!["tenantName", "policyName", "ruleId", "direction", "action"],
            vec![
                ("tenantName", obj()),
                ("policyName", name()),
                ("ruleId", name()),
                ("direction", one_of(&["in", "out"])),
                ("action", one_of(&["allow", "deny"])),
                (
                    "priority",
                    json!({ "type": "integer", "minimum": 0, "maximum": 100 }),
                ),
                (
                    "port",
                    json!({ "type": "integer", "minimum": 0, "maximum": 65535 }),
                ),
            ],
        ),
        (
            "AppProfile",
            vec!["tenantName", "appProfileName"],
            vec![("tenantName", obj()), ("appProfileName", name())],
        ),
        (
            "Netprofile",
            vec!["tenantName", "profileName"],
            vec![("tenantName", obj()), ("profileName", name())],
        ),
        (
            "ServiceLB",
            vec![
                "tenantName",
                "serviceName",
                "networkName",
                "selectors",
                "ports",
            ],
            vec![
                ("tenantName", obj()),
                ("serviceName", long()),
                ("networkName", obj()),
                (
                    "selectors",
                    json!({ "type": "array", "minItems": 1, "items": { "type": "string", "pattern": "^[^=]*=[^=]*$" } }),
                ),
                (
                    "ports",
                    json!({ "type": "array", "minItems": 1, "items": { "type": "string",
                        "pattern": "^[1-9][0-9]{0,4}:[1-9][0-9]{0,4}:(?:[Tt][Cc][Pp]|[Uu][Dd][Pp])$" } }),
                ),
            ],
        ),
        ("Global", vec!["name"], vec![("name", one_of(&["global"]))]),
        ("Bgp", vec!["hostname"], vec![("hostname", long())]),
        (
            "ExtContractsGroup",
            vec!["tenantName", "contractsGroupName", "contractsType"],
            vec![
                ("tenantName", obj()),
                ("contractsGroupName", name()),
                ("contractsType", one_of(&["provided", "consumed"])),
            ],
        ),
        ("AciGw", vec!["name"], vec![("name", one_of(&["aciGw"]))]),
    ]
}

/// Applies [`constraints`] to the generated schemas.
fn constrain(schemas: &mut Map<String, Value>) {
    for (schema, required, fields) in constraints() {
        let Some(s) = schemas.get_mut(schema) else {
            continue;
        };
        s["required"] = json!(required);
        for (field, c) in fields {
            let Some(prop) = s["properties"].get_mut(field) else {
                continue;
            };
            let description = prop.get("description").cloned();
            *prop = c;
            if let Some(d) = description {
                prop["description"] = d;
            }
        }
    }
}

/// The format of a collection's `{key}` path parameter.
fn key_schema(c: Collection) -> Value {
    use contiv_core::model::validate::MAX_LONG_NAME_LEN;
    let (obj, name) = (object_name(), dotted_name());
    match c {
        Collection::Tenants => pattern(&obj, 64),
        Collection::Rules => pattern(&format!("{obj}:{name}:{name}"), 200),
        Collection::Globals => one_of(&["global"]),
        Collection::AciGws => one_of(&["aciGw"]),
        Collection::Bgps => pattern(&name, MAX_LONG_NAME_LEN),
        Collection::Networks | Collection::EndpointGroups => pattern(&format!("{obj}:{obj}"), 130),
        Collection::ServiceLBs => pattern(&format!("{obj}:{name}"), 330),
        _ => pattern(&format!("{obj}:{name}"), 130),
    }
}

/// A valid object of each collection, with its key.
fn example(c: Collection) -> (&'static str, Value) {
    match c {
        Collection::Tenants => ("blue", json!({ "tenantName": "blue" })),
        Collection::Networks => (
            "default:contiv-net",
            json!({ "tenantName": "default", "networkName": "contiv-net", "encap": "vxlan", "subnet": "10.1.2.0/24", "gateway": "10.1.2.254" }),
        ),
        Collection::EndpointGroups => (
            "default:web",
            json!({ "tenantName": "default", "groupName": "web", "networkName": "contiv-net" }),
        ),
        Collection::Policys => (
            "default:db-policy",
            json!({ "tenantName": "default", "policyName": "db-policy" }),
        ),
        Collection::Rules => (
            "default:db-policy:1",
            json!({ "tenantName": "default", "policyName": "db-policy", "ruleId": "1", "direction": "in", "protocol": "tcp", "port": 8888, "action": "allow", "priority": 10 }),
        ),
        Collection::AppProfiles => (
            "default:app",
            json!({ "tenantName": "default", "appProfileName": "app", "endpointGroups": ["web"] }),
        ),
        Collection::Netprofiles => (
            "default:gold",
            json!({ "tenantName": "default", "profileName": "gold", "bandwidth": "10 mbps", "DSCP": 10 }),
        ),
        Collection::ServiceLBs => (
            "default:web-svc",
            json!({ "tenantName": "default", "serviceName": "web-svc", "networkName": "contiv-net", "selectors": ["app=web"], "ports": ["80:8080:TCP"] }),
        ),
        Collection::Globals => (
            "global",
            json!({ "name": "global", "fwdMode": "bridge", "arpMode": "proxy", "networkInfraType": "default", "vlans": "1-4094", "vxlans": "1-10000", "pvtSubnet": "172.19.0.0/16" }),
        ),
        Collection::Bgps => (
            "host1",
            json!({ "hostname": "host1", "routerip": "192.168.1.10/24", "as": "65002", "neighbor-as": "500", "neighbor": "192.168.1.1" }),
        ),
        Collection::ExtContractsGroups => (
            "default:ext",
            json!({ "tenantName": "default", "contractsGroupName": "ext", "contractsType": "provided", "contracts": ["uni/tn-common/brc-default"] }),
        ),
        Collection::AciGws => (
            "aciGw",
            json!({ "name": "aciGw", "enforcePolicies": "yes", "includeCommonTenant": "no" }),
        ),
    }
}

/// Builds the document.
pub fn document() -> Value {
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut schemas = Map::new();
    macro_rules! add {
        ($($t:ty),*) => {$(
            let s = generator.subschema_for::<$t>();
            let _ = s;
        )*};
    }
    add!(
        Tenant,
        Network,
        EndpointGroup,
        Policy,
        Rule,
        AppProfile,
        Netprofile,
        ServiceLB,
        Global,
        Bgp,
        ExtContractsGroup,
        AciGw
    );
    for (name, schema) in generator.take_definitions(true) {
        schemas.insert(name, schema);
    }
    constrain(&mut schemas);
    let mut paths = Map::new();
    for c in Collection::ALL {
        let name = schema_name(c);
        let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
        let obj_content = json!({ "application/json": { "schema": reference } });
        let (example_key, example_body) = example(c);
        let mut body_content = obj_content.clone();
        body_content["application/json"]["example"] = example_body;
        let mut item_responses = error_responses();
        item_responses["200"] =
            json!({ "description": format!("the {}", c.type_name()), "content": obj_content });
        paths.insert(
            format!("/api/v1/{}/", c.path()),
            json!({
                "get": {
                    "summary": format!("List every {}", c.type_name()),
                    "operationId": format!("list_{}", c.path()),
                    "responses": { "200": { "description": "all objects, sorted by key",
                        "content": { "application/json": { "schema": { "type": "array", "items": reference } } } },
                        "401": error_responses()["401"], "403": error_responses()["403"] }
                }
            }),
        );
        let key_param = json!([{ "name": "key", "in": "path", "required": true,
            "description": "the object key: its key fields joined with ':' (e.g. default:contiv-net)",
            "schema": key_schema(c), "example": example_key }]);
        // A create links to the read, inspect and delete of the same key
        // (stateful testing follows them).
        let links = json!({
            "read": { "operationId": format!("get_{}", c.path()), "parameters": { "key": "$request.path.key" } },
            "inspect": { "operationId": format!("inspect_{}", c.path()), "parameters": { "key": "$request.path.key" } },
            "delete": { "operationId": format!("delete_{}", c.path()), "parameters": { "key": "$request.path.key" } },
        });
        let mut upsert_responses = body_error_responses();
        upsert_responses["200"] = item_responses["200"].clone();
        upsert_responses["200"]["links"] = links;
        let upsert = json!({
            "summary": format!("Create or update a {} (create = update)", c.type_name()),
            "requestBody": { "required": true, "content": body_content },
            "responses": upsert_responses,
        });
        let mut post = upsert.clone();
        post["operationId"] = json!(format!("post_{}", c.path()));
        let mut put = upsert;
        put["operationId"] = json!(format!("put_{}", c.path()));
        let mut del_responses = error_responses();
        del_responses["200"] = json!({ "description": "deleted",
            "content": json_content(json!({ "type": "object" })) });
        let mut get_responses = error_responses();
        get_responses["200"] = item_responses["200"].clone();
        paths.insert(
            format!("/api/v1/{}/{{key}}/", c.path()),
            json!({
                "parameters": key_param,
                "get": { "summary": format!("Read a {}", c.type_name()), "operationId": format!("get_{}", c.path()), "responses": get_responses },
                "post": post,
                "put": put,
                "delete": { "summary": format!("Delete a {}", c.type_name()), "operationId": format!("delete_{}", c.path()), "responses": del_responses },
            }),
        );
        let mut insp = error_responses();
        insp["200"] = json!({ "description": "{\"Config\": …, \"Oper\": …}",
            "content": { "application/json": { "schema": { "type": "object",
                "properties": { "Config": reference, "Oper": { "type": "object" } } } } } });
        paths.insert(
            format!("/api/v1/inspect/{}/{{key}}/", c.path()),
            json!({ "parameters": key_param, "get": { "summary": format!("Inspect a {} (config and operational state)", c.type_name()),
                "operationId": format!("inspect_{}", c.path()), "responses": insp } }),
        );
    }
    add_agent_paths(&mut paths);
    add_service_paths(&mut paths);
    for (name, schema) in agent_schemas() {
        schemas.insert(name, schema);
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "contiv-rs netmaster API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Wire-compatible with Contiv's /api/v1/ (paths with a trailing slash, the original JSON field names, tenant:name keys, create = update, inspect returns {Config, Oper}); errors are text bodies with 400/404/409/503."
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer",
                "description": "required on the API when netmaster runs with --token" } },
        },
        "security": [ { "bearer": [] } ],
    })
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn path_params(names: &[(&str, &str, Value)]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|(n, d, schema)| json!({ "name": n, "in": "path", "required": true, "description": d, "schema": schema }))
            .collect(),
    )
}

/// An agent-API endpoint id: printable ASCII without `#`, `%`, `/`, `?`,
/// `\` and spaces, no `..` (`check_endpoint_id`).
fn endpoint_id() -> Value {
    json!({ "type": "string", "minLength": 1, "maxLength": contiv_core::model::validate::MAX_ENDPOINT_ID_LEN,
        "pattern": r#"^(?!.*\.\.)[!"$&-.0->@-\[\]-~]+$"# })
}

/// A host name (`check_host_name`).
fn host_name() -> Value {
    pattern(
        &dotted_name(),
        contiv_core::model::validate::MAX_HOST_NAME_LEN,
    )
}

/// A network key `tenant:network`.
fn network_key() -> Value {
    pattern(&format!("{LABEL}:{LABEL}"), 130)
}

/// The agent API (`/api/v1/agent/…`), the watch stream and endpoint
/// inspect.
fn add_agent_paths(paths: &mut Map<String, Value>) {
    let mut create = body_error_responses();
    create["200"] = json!({ "description": "the endpoint as recorded and its network",
        "content": json_content(schema_ref("EndpointResponse")) });
    paths.insert(
        "/api/v1/agent/endpoints/".into(),
        json!({ "post": {
            "summary": "Create an endpoint: allocates its addresses and MAC and records it in one transaction (idempotent for the same host)",
            "operationId": "agent_create_endpoint",
            "requestBody": { "required": true, "content": json_content(schema_ref("EndpointRequest")) },
            "responses": create } }),
    );
    let mut del = error_responses();
    del["200"] = json!({ "description": "whether an endpoint was deleted (false if there was none)",
        "content": json_content(json!({ "type": "object", "properties": { "deleted": { "type": "boolean" } } })) });
    paths.insert(
        "/api/v1/agent/endpoints/{network}/{id}/".into(),
        json!({ "parameters": path_params(&[("network", "network key tenant:network", network_key()), ("id", "endpoint id", endpoint_id())]),
            "delete": { "summary": "Delete an endpoint and release its addresses (idempotent)",
                "operationId": "agent_delete_endpoint", "responses": del } }),
    );
    let mut net = error_responses();
    net["200"] = json!({ "description": "what an agent needs to know about a network",
        "content": json_content(schema_ref("NetworkInfo")) });
    paths.insert(
        "/api/v1/agent/networks/{network}/".into(),
        json!({ "parameters": path_params(&[("network", "network key tenant:network", network_key())]),
            "get": { "summary": "Network information for agents", "operationId": "agent_network_info", "responses": net } }),
    );
    let mut reg = body_error_responses();
    reg["200"] = json!({ "description": "the lease: heartbeat (repeat this call) at least every third of ttl_ms",
        "content": json_content(schema_ref("NodeLease")) });
    let mut dereg = error_responses();
    dereg["200"] = json!({ "description": "deregistered" });
    paths.insert(
        "/api/v1/agent/nodes/{host}/".into(),
        json!({ "parameters": path_params(&[("host", "the node's host name", host_name())]),
            "post": { "summary": "Register a node or refresh its lease (the heartbeat)", "operationId": "agent_register_node",
                "requestBody": { "required": true, "content": json_content(schema_ref("NodeRegistration")) },
                "responses": reg },
            "delete": { "summary": "Deregister a node now", "operationId": "agent_deregister_node", "responses": dereg } }),
    );
    let mut cred = error_responses();
    cred["200"] = json!({ "description": "the node token of the host (for its agent's --token)",
        "content": json_content(json!({ "type": "object", "required": ["host", "token"], "properties": {
            "host": { "type": "string" }, "token": { "type": "string" } } })) });
    paths.insert(
        "/api/v1/credentials/nodes/{host}/".into(),
        json!({ "parameters": path_params(&[("host", "the node's host name", host_name())]),
            "get": { "summary": "Issue a host's node token (admin only; 409 when netmaster runs without --token)",
                "operationId": "node_credential", "responses": cred } }),
    );
    paths.insert(
        "/api/v1/watch".into(),
        json!({ "get": { "summary": "Agents' watch stream: snapshot then ordered deltas, newline-delimited JSON",
            "operationId": "watch",
            "parameters": [{ "name": "from", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 0 },
                "description": "resume at this store revision (last seen + 1); a compacted revision gets one resync line" },
                { "name": "compact", "in": "query", "required": false, "schema": { "type": "boolean" },
                "description": "send the snapshot's nodes as one `nodes` line of [host, vtep, port] entries" }],
            "responses": { "200": { "description": "stream of WatchLine objects, one per line",
                "content": { "application/x-ndjson": { "schema": schema_ref("WatchLine") } } },
                "400": { "description": "invalid query", "content": { "text/plain": { "schema": { "type": "string" } } } },
                "401": error_responses()["401"], "403": error_responses()["403"] } } }),
    );
    let mut ep = error_responses();
    ep["200"] = json!({ "description": "{\"Oper\": endpoint} of the first endpoint whose id, container id or container name contains the key",
        "content": json_content(json!({ "type": "object", "properties": { "Oper": { "type": "object" } } })) });
    paths.insert(
        "/api/v1/inspect/endpoints/{key}/".into(),
        json!({ "parameters": path_params(&[("key", "text contained in the endpoint id, container id or container name", json!({ "type": "string" }))]),
            "get": { "summary": "Inspect an endpoint", "operationId": "inspect_endpoints", "responses": ep } }),
    );
}

/// `/info`, `/version`, `/health`, `/metrics` and this document.
fn add_service_paths(paths: &mut Map<String, Value>) {
    let text = |d: &str| json!({ "description": d, "content": { "text/plain": { "schema": { "type": "string" } } } });
    paths.insert(
        "/info".into(),
        json!({ "get": { "summary": "This netmaster's role, the leader, the netmasters and registered nodes",
            "operationId": "info", "responses": { "200": { "description": "cluster information",
                "content": json_content(schema_ref("Info")) },
                "401": error_responses()["401"], "403": error_responses()["403"] } } }),
    );
    paths.insert(
        "/version".into(),
        json!({ "get": { "summary": "Server version", "operationId": "version", "security": [],
            "responses": { "200": { "description": "Version, GitCommit, BuildTime",
                "content": json_content(json!({ "type": "object", "properties": {
                    "Version": { "type": "string" }, "GitCommit": { "type": "string" }, "BuildTime": { "type": "string" } } })) } } } }),
    );
    paths.insert(
        "/health".into(),
        json!({ "get": { "summary": "Liveness and the store revision the cache reflects", "operationId": "health", "security": [],
            "responses": { "200": { "description": "ok",
                "content": json_content(json!({ "type": "object", "properties": {
                    "status": { "type": "string" }, "revision": { "type": "integer" } } })) } } } }),
    );
    paths.insert(
        "/metrics".into(),
        json!({ "get": { "summary": "Prometheus metrics (text exposition format 0.0.4); needs the admin token when netmaster has one", "operationId": "metrics",
            "responses": { "200": text("metrics"), "401": error_responses()["401"], "403": error_responses()["403"] } } }),
    );
    paths.insert(
        "/api/v1/openapi.json".into(),
        json!({ "get": { "summary": "This document", "operationId": "openapi", "security": [],
            "responses": { "200": { "description": "OpenAPI 3.0 document", "content": json_content(json!({ "type": "object" })) } } } }),
    );
}

/// Hand-written schemas of the agent API bodies ([`crate::api`]).
fn agent_schemas() -> Vec<(String, Value)> {
    let s = |t: &str| json!({ "type": t });
    let opt = |t: &str, f: &str| json!({ "type": t, "format": f, "nullable": true });
    let labels = json!({ "type": "object", "additionalProperties": { "type": "string" } });
    vec![
        (
            "EndpointRequest".into(),
            json!({ "type": "object", "required": ["id", "host"], "properties": {
            "id": endpoint_id(),
            "tenant": { "type": "string", "description": "default: default" },
            "network": { "type": "string", "description": "may be empty when group is given" },
            "group": s("string"), "host": host_name(), "intf_name": s("string"),
            "container_id": s("string"), "container_name": s("string"), "labels": labels.clone(),
            "ipv4": opt("string", "ipv4"), "ipv6": opt("string", "ipv6") } }),
        ),
        (
            "EndpointRecord".into(),
            json!({ "type": "object", "properties": {
            "id": s("string"), "tenant": s("string"), "network": s("string"), "group": s("string"),
            "epg_id": s("integer"), "ipv4": opt("string", "ipv4"), "ipv4_prefix": s("integer"),
            "ipv6": opt("string", "ipv6"), "ipv6_prefix": s("integer"), "mac": s("string"), "host": s("string"),
            "intf_name": s("string"), "container_id": s("string"), "container_name": s("string"), "labels": labels } }),
        ),
        (
            "NetworkInfo".into(),
            json!({ "type": "object", "properties": {
            "key": s("string"), "tenant": s("string"), "tenant_id": s("integer"),
            "encap": { "type": "string", "enum": ["vlan", "vxlan"] }, "pkt_tag": s("integer"), "ext_pkt_tag": s("integer"),
            "subnet": s("string"), "gateway": opt("string", "ipv4"), "subnet6": { "type": "string", "nullable": true },
            "gateway6": opt("string", "ipv6") } }),
        ),
        (
            "EndpointResponse".into(),
            json!({ "type": "object", "properties": {
            "endpoint": schema_ref("EndpointRecord"), "network": schema_ref("NetworkInfo") } }),
        ),
        (
            "NodeRecord".into(),
            json!({ "type": "object", "required": ["hostname", "vtep_ip"], "properties": {
            "hostname": host_name(), "vtep_ip": { "type": "string", "description": "an IPv4 or IPv6 address" }, "vxlan_port": s("integer"),
            "ctrl_addr": s("string"), "version": s("string") } }),
        ),
        (
            "NodeRegistration".into(),
            json!({ "type": "object", "required": ["node"], "properties": {
            "node": schema_ref("NodeRecord") } }),
        ),
        (
            "NodeLease".into(),
            json!({ "type": "object", "properties": { "ttl_ms": s("integer") } }),
        ),
        (
            "WatchLine".into(),
            json!({ "type": "object", "required": ["type"], "properties": {
            "type": { "type": "string", "enum": ["put", "delete", "synced", "progress", "resync"] },
            "rev": s("integer"), "key": { "type": "string", "description": "relative to the store root: obj/…, oper/…, ep/…, node/…" },
            "value": { "type": "object", "description": "the JSON value (put)" },
            "reason": { "type": "string", "description": "why a resync is needed (resync)" } } }),
        ),
        (
            "Info".into(),
            json!({ "type": "object", "properties": {
            "local-ip": { "type": "string", "description": "this netmaster's control URL" },
            "leader-ip": { "type": "string", "description": "the leader's control URL (empty while none is elected)" },
            "current-state": { "type": "string", "enum": ["leader", "follower", "candidate"] },
            "writable": { "type": "boolean", "description": "this netmaster leads and has completed its term's start, so it accepts writes (a new leader answers 503 until then)" },
            "netplugin-nodes": { "type": "array", "items": s("string") },
            "netmaster-nodes": { "type": "array", "items": s("string") },
            "name": s("string"), "store": s("string"), "revision": s("integer"),
            "cluster-mode": s("string"), "network-mode": s("string") } }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_names_every_collection_and_schema() {
        let d = document();
        for c in Collection::ALL {
            assert!(
                d["paths"][format!("/api/v1/{}/{{key}}/", c.path())].is_object(),
                "{:?}",
                c
            );
            assert!(
                d["components"]["schemas"][schema_name(c)].is_object(),
                "{}",
                schema_name(c)
            );
        }
        // Field names are the original's.
        let net = &d["components"]["schemas"]["Network"]["properties"];
        for f in [
            "networkName",
            "tenantName",
            "subnet",
            "encap",
            "pktTag",
            "nwType",
            "ipv6Subnet",
        ] {
            assert!(net[f].is_object(), "Network.{f}");
        }
    }
}
