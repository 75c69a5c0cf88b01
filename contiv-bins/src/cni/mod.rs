//! The `contiv-cni` plugin as a library: CNI environment and `CNI_ARGS`
//! ([`env`](mod@env)), network configuration ([`netconf`]), results in every
//! supported format ([`result`]), errors with the spec's codes
//! ([`error`]) and the commands ([`plugin`]). What it sends the agent and
//! what comes back is [`crate::agent_api`] (shared with netplugin).
//!
//! ## Commands
//!
//! * `ADD`: the agent creates endpoint `<CNI_CONTAINERID>-<CNI_IFNAME>` at
//!   netmaster and plumbs a veth into `CNI_NETNS` named `CNI_IFNAME`, with
//!   address, MAC, MTU and a default route via the network's gateway. The
//!   result lists the host-side and the container interface, the
//!   addresses, the default route(s) and the netconf's `dns`. A failed ADD
//!   leaves nothing behind.
//! * `DEL`: idempotent; releases the address. If the agent is not
//!   reachable, DEL fails with code 11 so the runtime retries it.
//! * `CHECK` (0.4.0+): the endpoint exists at netmaster and on this host,
//!   with the addresses of `prevResult`; and inside `CNI_NETNS` the
//!   interface exists, is up, has the listed MAC and MTU, the endpoint's
//!   addresses, and the routes ADD created that `prevResult` still lists
//!   (the agent reads the namespace: netplugin's `ifcheck`).
//! * `VERSION`: `0.3.0`, `0.3.1`, `0.4.0`, `1.0.0`, `1.1.0`.
//! * `STATUS` (1.1.0): succeeds when the agent is registered and synced,
//!   else code 50.
//! * `GC` (1.1.0): deletes this host's endpoints of this network whose
//!   attachment is not in `cni.dev/valid-attachments`.
//!
//! ## Choosing tenant, network and group
//!
//! By precedence: `CNI_ARGS` keys `CONTIV_TENANT`, `CONTIV_NETWORK`,
//! `CONTIV_GROUP`; then `args.cni.labels` entries `io.contiv.tenant`,
//! `io.contiv.network`, `io.contiv.net-group` (the original's pod labels);
//! then the netconf fields `tenant`, `network`, `group`; then tenant
//! `default` and network `default-net` (the original's default). With
//! only a group, the group's network is used. `K8S_POD_NAMESPACE` and
//! `K8S_POD_NAME` are recorded on the endpoint; other `CNI_ARGS` keys are
//! refused unless `IgnoreUnknown=1`.
//!
//! ## Errors
//!
//! Printed on stdout as `{"cniVersion","code","msg","details"}` with a
//! non-zero exit: 1 incompatible version, 3 the netns does not exist (ADD), 4
//! invalid environment or `CNI_ARGS`, 5 I/O failure with the agent, 6
//! undecodable netconf or `prevResult`, 7 invalid netconf (or names the agent refused), 11
//! try again later (agent or netmaster unreachable, not synced), 50 agent
//! not available (STATUS), 100 netmaster refused the endpoint (unknown
//! network or group, conflict, address taken; CHECK: `prevResult` names
//! an address the endpoint does not have), 101 datapath failure, 102
//! internal error, 103 CHECK found the container's interface, addresses or
//! routes not as ADD left them (the message names each difference).

pub mod env;
pub mod error;
pub mod netconf;
pub mod plugin;
pub mod result;

pub use error::CniError;
pub use plugin::{Outcome, run};
