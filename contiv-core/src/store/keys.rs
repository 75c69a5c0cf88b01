//! The key layout contiv-rs uses in a [`StateStore`](super::StateStore).
//!
//! Everything lives under one root prefix (default [`DEFAULT_ROOT`],
//! configurable so several clusters can share one etcd):
//!
//! | key | value | written by |
//! |---|---|---|
//! | `<root>obj/<type>/<key>` | a model object as REST JSON (`type` is the model type name, e.g. `network`, `key` e.g. `default:contiv-net`) | netmaster |
//! | `<root>oper/<type>/<key>` | what netmaster derived for a model object: allocated tags and ids (see [`crate::records`]) | netmaster |
//! | `<root>alloc/<kind>/<scope>` | allocator state, compact binary (`kind`: `ipv4`, `ipv6`, `vlan`, `vxlan`, `epg`, …) | netmaster (ipam) |
//! | `<root>ep/<network-key>/<endpoint-id>` | an endpoint record (JSON) | netmaster |
//! | `<root>node/<hostname>` | a node (agent) registration, bound to the node's lease | netmaster |
//! | `<root>leader` | the leader lock, bound to the leader's lease | netmaster |
//! | `<root>state/<name>` | other persisted netmaster state (JSON) | netmaster |
//!
//! Keys never contain the separator `/` inside a component: model keys use
//! `:` between names and names cannot contain `/` or `:` (see
//! [`crate::model`]).

/// The default root prefix.
pub const DEFAULT_ROOT: &str = "/contiv/v1/";

/// Builds keys of the layout under a root prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    root: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new(DEFAULT_ROOT)
    }
}

impl Keys {
    /// A layout under `root`. A trailing `/` is added if missing.
    pub fn new(root: &str) -> Self {
        let mut root = root.to_owned();
        if !root.ends_with('/') {
            root.push('/');
        }
        Keys { root }
    }

    /// The root prefix (ends with `/`).
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Prefix of every model object of one type: `<root>obj/<type>/`.
    pub fn objects(&self, obj_type: &str) -> String {
        format!("{}obj/{}/", self.root, obj_type)
    }

    /// Key of one model object: `<root>obj/<type>/<key>`.
    pub fn object(&self, obj_type: &str, key: &str) -> String {
        format!("{}obj/{}/{}", self.root, obj_type, key)
    }

    /// Prefix of all model objects: `<root>obj/`.
    pub fn all_objects(&self) -> String {
        format!("{}obj/", self.root)
    }

    /// Key of the derived (oper) record of a model object:
    /// `<root>oper/<type>/<key>`.
    pub fn oper(&self, obj_type: &str, key: &str) -> String {
        format!("{}oper/{}/{}", self.root, obj_type, key)
    }

    /// Prefix of the oper records of one type: `<root>oper/<type>/`.
    pub fn opers(&self, obj_type: &str) -> String {
        format!("{}oper/{}/", self.root, obj_type)
    }

    /// Key of one allocator's state: `<root>alloc/<kind>/<scope>`.
    pub fn alloc(&self, kind: &str, scope: &str) -> String {
        format!("{}alloc/{}/{}", self.root, kind, scope)
    }

    /// Prefix of all allocator state: `<root>alloc/`.
    pub fn all_allocs(&self) -> String {
        format!("{}alloc/", self.root)
    }

    /// Key of an endpoint record: `<root>ep/<network-key>/<endpoint-id>`.
    pub fn endpoint(&self, network_key: &str, endpoint_id: &str) -> String {
        format!("{}ep/{}/{}", self.root, network_key, endpoint_id)
    }

    /// Prefix of the endpoints of one network: `<root>ep/<network-key>/`.
    pub fn endpoints_of(&self, network_key: &str) -> String {
        format!("{}ep/{}/", self.root, network_key)
    }

    /// Prefix of all endpoint records: `<root>ep/`.
    pub fn all_endpoints(&self) -> String {
        format!("{}ep/", self.root)
    }

    /// Key of a node registration: `<root>node/<hostname>`.
    pub fn node(&self, hostname: &str) -> String {
        format!("{}node/{}", self.root, hostname)
    }

    /// Prefix of all node registrations: `<root>node/`.
    pub fn all_nodes(&self) -> String {
        format!("{}node/", self.root)
    }

    /// Key of the leader lock: `<root>leader`.
    pub fn leader(&self) -> String {
        format!("{}leader", self.root)
    }

    /// Key of a piece of other persisted state: `<root>state/<name>`.
    pub fn state(&self, name: &str) -> String {
        format!("{}state/{}", self.root, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_under_root() {
        let k = Keys::new("/x");
        assert_eq!(k.root(), "/x/");
        assert_eq!(
            k.object("network", "default:net"),
            "/x/obj/network/default:net"
        );
        assert_eq!(k.objects("network"), "/x/obj/network/");
        assert_eq!(k.alloc("ipv4", "default:net"), "/x/alloc/ipv4/default:net");
        assert_eq!(k.endpoint("default:net", "c1"), "/x/ep/default:net/c1");
        assert_eq!(k.node("h1"), "/x/node/h1");
        assert_eq!(k.leader(), "/x/leader");
        assert!(k.object("tenant", "a").starts_with(&k.all_objects()));
    }
}
