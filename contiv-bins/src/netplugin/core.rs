//! The agent's endpoint operations, shared by the CNI API and the Docker
//! plugin: ADD, DEL and CHECK.
//!
//! **ADD** (endpoint id `<container-id>-<ifname>` for CNI, Docker's
//! endpoint id for CNM): journal the operation; set the plumbing intent;
//! create the endpoint at netmaster (idempotent; for Docker, adopting the
//! reservation of its address); wait until the watch stream has brought the
//! record and the datapath has plumbed it. Any failure after the journal
//! entry undoes everything before answering — local endpoint removed,
//! endpoint deleted at netmaster (or, for Docker, turned back into a
//! reservation that Docker's `ReleaseAddress` frees) — so nothing
//! half-done survives. A definite refusal by netmaster (invalid, unknown
//! network, conflicting endpoint) created nothing and touches nothing.
//!
//! **DEL** (idempotent): journal; remove the local endpoint; delete the
//! endpoint at netmaster (or demote it for Docker); forget the journal
//! entry. A failure leaves the journal entry, and the operation is
//! completed by a retried DEL or when the agent starts again.
//!
//! **CHECK**: the endpoint exists at netmaster (in the streamed view), on
//! this host, and is plumbed in the datapath; the CNI API then reads the
//! container's namespace (see [`super::ifcheck`]).
//!
//! Between the steps sit the [fault-injection](super::faults) points.

use super::client::NetmasterClient;
use super::desired::{HostIdentity, LocalIntent};
use super::error::{AgentError, AgentErrorKind, AgentResult};
use super::faults::{Faults, Step};
use super::journal::{Journal, Pending, Release};
use super::reconciler::Reconciler;
use crate::api::{DemoteRequest, EndpointRequest, NetworkInfo, SweepRequest};
use contiv_core::datapath::{Attachment, LocalEndpoint};
use contiv_core::records::EndpointRecord;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tracing::{debug, info, warn};

/// What to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddSpec {
    /// Endpoint id.
    pub id: String,
    /// Tenant (empty = `default`).
    pub tenant: String,
    /// Network (may be empty when `group` is given).
    pub network: String,
    /// Group, or empty.
    pub group: String,
    /// Container id.
    pub container_id: String,
    /// Container or pod name.
    pub container_name: String,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Requested IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// How the interface reaches the container.
    pub attachment: Attachment,
    /// Container MTU.
    pub mtu: u32,
    /// How the address is given back on rollback and DEL
    /// ([`Release::Demote`] also adopts the reservation of `ipv4`).
    pub release: Release,
    /// Host ports published to the endpoint (Docker `-p`), recorded with it
    /// at netmaster and realised from the record.
    pub published: Vec<contiv_core::datapath::PublishedPort>,
}

/// What an ADD produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Added {
    /// The endpoint as netmaster recorded it.
    pub endpoint: EndpointRecord,
    /// Its network.
    pub network: NetworkInfo,
    /// The local endpoint as the datapath plumbed it.
    pub local: LocalEndpoint,
}

/// The agent's shared core.
pub struct Core {
    pub(crate) me: HostIdentity,
    pub(crate) client: Arc<NetmasterClient>,
    pub(crate) recon: Arc<Reconciler>,
    pub(crate) faults: Arc<Faults>,
    pub(crate) journal: Journal,
    pub(crate) instance: String,
    pub(crate) add_timeout: Duration,
    pub(crate) registered: AtomicBool,
    pub(crate) connected: AtomicBool,
    /// The datapath's packet counters, if it counts.
    pub(crate) counters: Option<std::sync::Arc<dyn super::datapath::DatapathCounters>>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("host", &self.me.host)
            .field("instance", &self.instance)
            .finish()
    }
}

/// Checks an endpoint id: non-empty, printable, no `/`.
pub fn check_id(id: &str) -> AgentResult<()> {
    if id.is_empty()
        || id.len() > 256
        || id.contains('/')
        || id.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(AgentError::invalid(format!(
            "invalid endpoint id {id:?}: must be 1-256 printable characters without '/' or spaces"
        )));
    }
    Ok(())
}

impl Core {
    /// This host.
    pub fn identity(&self) -> &HostIdentity {
        &self.me
    }

    /// The reconciler.
    pub fn reconciler(&self) -> &Arc<Reconciler> {
        &self.recon
    }

    /// The netmaster client.
    pub fn client(&self) -> &Arc<NetmasterClient> {
        &self.client
    }

    /// This agent instance's id (owner of its address reservations).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The fault-injection hook.
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// Why the agent cannot serve an ADD now, if it cannot.
    pub fn not_ready_reason(&self) -> Option<String> {
        let st = self.recon.status();
        if !st.synced {
            return Some("the agent has not received netmaster's state yet".into());
        }
        if let Some(why) = st.mode_refused {
            return Some(why);
        }
        if !self.connected.load(Ordering::Relaxed) {
            return Some("the agent's watch of netmaster is disconnected".into());
        }
        if !self.registered.load(Ordering::Relaxed) {
            return Some("the node is not registered with netmaster".into());
        }
        None
    }

    fn ready(&self) -> AgentResult<()> {
        match self.not_ready_reason() {
            None => Ok(()),
            Some(r) => Err(AgentError::unavailable(format!("{r}; retry shortly"))),
        }
    }

    /// Creates and plumbs an endpoint (see the module docs).
    pub async fn add(&self, mut spec: AddSpec) -> AgentResult<Added> {
        check_id(&spec.id)?;
        self.ready()?;
        if spec.tenant.is_empty() {
            spec.tenant = "default".into();
        }
        if spec.network.is_empty() {
            let key = format!("{}:{}", spec.tenant, spec.group);
            spec.network = self
                .recon
                .with_view(|v| v.epgs.get(&key).map(|g| g.network_name.clone()))
                .await
                .ok_or_else(|| {
                    if spec.group.is_empty() {
                        AgentError::invalid("no network given: name a network or an endpoint group")
                    } else {
                        AgentError::not_found(format!("endpoint group {key} not found"))
                    }
                })?;
        }
        let network_key = format!("{}:{}", spec.tenant, spec.network);
        debug!(endpoint = %spec.id, network = %network_key, "endpoint add started");
        self.faults.hit(Step::BeforeCreate).await?;
        self.journal
            .begin(&Pending {
                id: spec.id.clone(),
                network_key: network_key.clone(),
                release: spec.release,
            })
            .map_err(AgentError::internal)?;
        let previous = self
            .recon
            .set_intent(
                &spec.id,
                LocalIntent::Plumb {
                    attachment: spec.attachment.clone(),
                    mtu: spec.mtu,
                    error: None,
                },
            )
            .await;
        let mut created = false;
        match self.add_steps(&spec, &mut created).await {
            Ok(a) => {
                self.journal.save_plumbed(&super::journal::Plumbed {
                    id: spec.id.clone(),
                    attachment: spec.attachment.clone(),
                    mtu: spec.mtu,
                });
                self.journal.done(&spec.id);
                info!(endpoint = %spec.id, network = %network_key, ip = ?a.endpoint.ipv4, "endpoint added");
                Ok(a)
            }
            Err(e) => {
                let definite = !created
                    && matches!(
                        e.kind,
                        AgentErrorKind::Invalid
                            | AgentErrorKind::NotFound
                            | AgentErrorKind::Conflict
                    );
                warn!(endpoint = %spec.id, error = %e, "endpoint add failed; undoing it");
                let undo = if definite {
                    // netmaster created nothing: the local intent is put
                    // back as it was (an endpoint with this id may be
                    // legitimately plumbed already).
                    self.recon.restore_intent(&spec.id, previous).await;
                    Ok(())
                } else {
                    self.undo(&spec.id, &network_key, spec.release).await
                };
                match undo {
                    Ok(()) => self.journal.done(&spec.id),
                    Err(u) => {
                        warn!(endpoint = %spec.id, error = %u, "undoing the failed add failed; the journal keeps it for a retry")
                    }
                }
                Err(e)
            }
        }
    }

    async fn add_steps(&self, spec: &AddSpec, created: &mut bool) -> AgentResult<Added> {
        let req = EndpointRequest {
            id: spec.id.clone(),
            tenant: spec.tenant.clone(),
            network: spec.network.clone(),
            group: spec.group.clone(),
            host: self.me.host.clone(),
            intf_name: super::ifnames::host_ifname(&spec.id),
            container_id: spec.container_id.clone(),
            container_name: spec.container_name.clone(),
            labels: spec.labels.clone(),
            ipv4: spec.ipv4,
            ipv6: None,
            published: spec.published.clone(),
        };
        let resp = match spec.release {
            Release::Demote if spec.ipv4.is_some() => self.client.adopt(&req).await?,
            _ => self.client.create_endpoint(&req).await?,
        };
        *created = true;
        debug!(endpoint = %spec.id, "endpoint created at netmaster");
        self.faults.hit(Step::AfterCreate).await?;
        let local = self
            .recon
            .wait_plumbed(&spec.id, resp.endpoint.ipv4, self.add_timeout)
            .await?;
        debug!(endpoint = %spec.id, "endpoint plumbed");
        self.faults.hit(Step::AfterPlumb).await?;
        Ok(Added {
            endpoint: resp.endpoint,
            network: resp.network,
            local,
        })
    }

    /// Removes the local endpoint and gives the address back at netmaster.
    async fn undo(&self, id: &str, network_key: &str, release: Release) -> AgentResult<()> {
        self.recon.remove_local(id).await?;
        self.journal.drop_plumbed(id);
        let existed = match release {
            Release::Free => self.client.delete_endpoint(network_key, id).await?,
            Release::Demote => {
                let r = self
                    .client
                    .demote(&DemoteRequest {
                        network_key: network_key.to_owned(),
                        id: id.to_owned(),
                        owner: self.instance.clone(),
                    })
                    .await?;
                r.released != crate::api::Released::None
            }
        };
        if !existed {
            self.recon.forget_if_absent(id).await;
        }
        Ok(())
    }

    /// Deletes an endpoint (idempotent). `network_key` is used when the
    /// agent has no record of the endpoint.
    pub async fn del(
        &self,
        id: &str,
        network_key: Option<String>,
        release: Release,
    ) -> AgentResult<()> {
        check_id(id)?;
        self.faults.hit(Step::BeforeUnplumb).await?;
        let known = self
            .recon
            .with_view(|v| v.endpoint_by_id(id).map(|e| e.network_key()))
            .await;
        let Some(net) = known.or(network_key) else {
            // Nothing known anywhere: still make sure nothing is plumbed.
            self.recon.remove_local(id).await?;
            self.journal.drop_plumbed(id);
            self.recon.forget_if_absent(id).await;
            return Ok(());
        };
        self.journal
            .begin(&Pending {
                id: id.to_owned(),
                network_key: net.clone(),
                release,
            })
            .map_err(AgentError::internal)?;
        self.recon.remove_local(id).await?;
        self.faults.hit(Step::AfterUnplumb).await?;
        self.undo(id, &net, release).await?;
        self.journal.done(id);
        info!(endpoint = id, network = %net, "endpoint deleted");
        Ok(())
    }

    /// Checks an endpoint (see the module docs).
    pub async fn check(&self, id: &str) -> AgentResult<(EndpointRecord, LocalEndpoint)> {
        check_id(id)?;
        self.ready()?;
        let rec = self
            .recon
            .with_view(|v| v.endpoint_by_id(id).cloned())
            .await
            .ok_or_else(|| {
                AgentError::not_found(format!("endpoint {id} is not known to netmaster"))
            })?;
        if rec.host != self.me.host {
            return Err(AgentError::conflict(format!(
                "endpoint {id} lives on host {}, not on {}",
                rec.host, self.me.host
            )));
        }
        let local = self.recon.local_endpoint(id).await.ok_or_else(|| {
            AgentError::not_found(format!("endpoint {id} is not plumbed on this host"))
        })?;
        Ok((rec, local))
    }

    /// Completes the operations a previous run left unfinished, and
    /// releases the address reservations its predecessors left. Runs once
    /// the first snapshot is installed.
    pub async fn recover(&self) {
        // Plumbings of endpoints netmaster no longer has are done with.
        for p in self.journal.plumbed() {
            if self
                .recon
                .with_view(|v| v.endpoint_by_id(&p.id).is_none())
                .await
            {
                self.journal.drop_plumbed(&p.id);
                self.recon.forget_plumb(&p.id).await;
            }
        }
        for p in self.journal.pending() {
            info!(endpoint = %p.id, network = %p.network_key, "undoing an operation a previous run left unfinished");
            match self.undo(&p.id, &p.network_key, p.release).await {
                Ok(()) => self.journal.done(&p.id),
                Err(e) => {
                    warn!(endpoint = %p.id, error = %e, "cannot undo yet; will retry at the next start or DEL")
                }
            }
        }
        match self
            .client
            .sweep(&SweepRequest {
                host: self.me.host.clone(),
                keep_owner: self.instance.clone(),
            })
            .await
        {
            Ok(r) if r.count > 0 => info!(
                count = r.count,
                "released address reservations of a previous run"
            ),
            Ok(_) => {}
            Err(e) => warn!(error = %e, "cannot sweep old address reservations"),
        }
    }
}
