//! Opening sockets inside a network namespace, and the named namespaces
//! the agent owns (one per DNS endpoint): the shared host plumbing of
//! [`contiv_core::linux::netns`], re-exported where the DNS code and its
//! tests look for it.

pub use contiv_core::linux::netns::{
    NETNS_RUN_DIR, NetnsError, create_named_netns, delete_named_netns, named_netns_path,
    named_netns_with_prefix, run_in_netns, tcp_listener_in_netns, udp_socket_in_netns,
};
