//! The speaker's incremental advertisement: what it believes gobgpd
//! originates, and the delta that brings gobgpd to what the host wants.
//!
//! Reading gobgpd's whole global table on every change made the speaker
//! O(N) per event and O(N²) over N endpoint additions. Instead
//! [`Announced`] keeps the set of local paths gobgpd holds (as last read
//! or as the speaker itself changed it), and [`Announced::sync`] sends
//! only the difference to the wanted set. The table is read in full only
//! when that knowledge is missing — a new or adopted gobgpd, a failed
//! call, BGP restarted — or when the caller asks for a periodic full
//! reconcile (something else may have touched gobgpd). A warm restart of
//! the agent therefore reads the table once, finds it equal to the wanted
//! set, and changes nothing: no UPDATE reaches the neighbor.

use super::gobgp::{Gobgp, GobgpError, RibRoute};
use std::collections::BTreeSet;
use tracing::debug;

/// The paths a speaker originates, as the table that holds them (gobgpd's
/// global RIB in production; a model in tests).
pub trait PathTable {
    /// Every path this speaker originated.
    fn local_paths(&mut self) -> impl Future<Output = Result<Vec<RibRoute>, GobgpError>> + Send;
    /// Originates `r`.
    fn add_path(&mut self, r: &RibRoute) -> impl Future<Output = Result<(), GobgpError>> + Send;
    /// Withdraws `r`.
    fn delete_path(&mut self, r: &RibRoute) -> impl Future<Output = Result<(), GobgpError>> + Send;
}

impl PathTable for Gobgp {
    fn local_paths(&mut self) -> impl Future<Output = Result<Vec<RibRoute>, GobgpError>> + Send {
        Gobgp::local_paths(self)
    }
    fn add_path(&mut self, r: &RibRoute) -> impl Future<Output = Result<(), GobgpError>> + Send {
        Gobgp::add_path(self, r)
    }
    fn delete_path(&mut self, r: &RibRoute) -> impl Future<Output = Result<(), GobgpError>> + Send {
        Gobgp::delete_path(self, r)
    }
}

/// The changes that take `have` to `want`: withdrawals, then
/// announcements (each in prefix order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    /// Paths to withdraw (in `have`, not in `want`).
    pub withdraw: Vec<RibRoute>,
    /// Paths to originate (in `want`, not in `have`).
    pub announce: Vec<RibRoute>,
}

impl Delta {
    /// The difference between `have` and `want`.
    pub fn between(have: &BTreeSet<RibRoute>, want: &BTreeSet<RibRoute>) -> Delta {
        Delta {
            withdraw: have.difference(want).copied().collect(),
            announce: want.difference(have).copied().collect(),
        }
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.withdraw.is_empty() && self.announce.is_empty()
    }
}

/// What one [`Announced::sync`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Whether the table was read in full.
    pub read_table: bool,
    /// Paths withdrawn.
    pub withdrawn: usize,
    /// Paths originated.
    pub announced: usize,
}

/// What the speaker knows gobgpd originates (see the module docs).
#[derive(Debug, Default)]
pub struct Announced {
    known: Option<BTreeSet<RibRoute>>,
}

impl Announced {
    /// The paths gobgpd is known to originate (`None`: unknown, the next
    /// sync reads the table).
    pub fn known(&self) -> Option<&BTreeSet<RibRoute>> {
        self.known.as_ref()
    }

    /// Forgets what gobgpd holds (a new or restarted gobgpd, BGP
    /// restarted, a failed call): the next sync reads the table.
    pub fn forget(&mut self) {
        self.known = None;
    }

    /// Brings `table` to exactly `want`: reads it first if its content is
    /// unknown or `full` asks for it, then withdraws and originates only
    /// the difference. On an error the knowledge is dropped (a call may
    /// have half-happened), so the next sync starts from the table again.
    pub async fn sync<T: PathTable>(
        &mut self,
        table: &mut T,
        want: &BTreeSet<RibRoute>,
        full: bool,
    ) -> Result<SyncReport, GobgpError> {
        let r = self.sync_inner(table, want, full).await;
        if r.is_err() {
            self.forget();
        }
        r
    }

    async fn sync_inner<T: PathTable>(
        &mut self,
        table: &mut T,
        want: &BTreeSet<RibRoute>,
        full: bool,
    ) -> Result<SyncReport, GobgpError> {
        let mut report = SyncReport::default();
        if full || self.known.is_none() {
            self.known = Some(table.local_paths().await?.into_iter().collect());
            report.read_table = true;
        }
        let have = self.known.get_or_insert_default();
        let delta = Delta::between(have, want);
        for r in &delta.withdraw {
            debug!(prefix = %r.prefix, "withdrawing");
            table.delete_path(r).await?;
            have.remove(r);
            report.withdrawn += 1;
        }
        for r in &delta.announce {
            debug!(prefix = %r.prefix, "advertising");
            table.add_path(r).await?;
            have.insert(*r);
            report.announced += 1;
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::Ipv4Addr;

    /// gobgpd's local paths as a set, counting the calls, failing the
    /// `fail_at`-th change.
    #[derive(Debug, Default)]
    struct Model {
        rib: BTreeSet<RibRoute>,
        reads: usize,
        changes: usize,
        fail_at: Option<usize>,
    }

    impl Model {
        fn change(&mut self) -> Result<(), GobgpError> {
            self.changes += 1;
            if self.fail_at == Some(self.changes) {
                return Err(GobgpError {
                    what: "a change".into(),
                    message: "injected".into(),
                });
            }
            Ok(())
        }
    }

    impl PathTable for Model {
        async fn local_paths(&mut self) -> Result<Vec<RibRoute>, GobgpError> {
            self.reads += 1;
            Ok(self.rib.iter().copied().collect())
        }
        async fn add_path(&mut self, r: &RibRoute) -> Result<(), GobgpError> {
            self.change()?;
            self.rib.insert(*r);
            Ok(())
        }
        async fn delete_path(&mut self, r: &RibRoute) -> Result<(), GobgpError> {
            self.change()?;
            self.rib.remove(r);
            Ok(())
        }
    }

    fn route(host: u8, nh: u8) -> RibRoute {
        RibRoute {
            prefix: Ipv4Addr::new(10, 1, 0, host).into(),
            next_hop: Ipv4Addr::new(50, 1, 1, nh),
        }
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// What the speaker can meet between two syncs.
    #[derive(Clone, Debug)]
    enum Step {
        /// The wanted set becomes this (a few hosts, two possible next
        /// hops: a router address change replaces every path).
        Want(BTreeSet<(u8, u8)>),
        /// The agent restarts (gobgpd adopted: its table stays).
        AgentRestart,
        /// gobgpd restarts empty (the speaker forgets, as it does on a
        /// new client).
        GobgpdRestart,
        /// The next sync's `n`-th change fails.
        FailNext(usize),
        /// A periodic full reconcile.
        Full,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => prop::collection::btree_set((0u8..24, 1u8..3), 0..16).prop_map(Step::Want),
            1 => Just(Step::AgentRestart),
            1 => Just(Step::GobgpdRestart),
            1 => (1usize..4).prop_map(Step::FailNext),
            1 => Just(Step::Full),
        ]
    }

    proptest! {
        /// After every successful sync gobgpd holds exactly the wanted
        /// paths; a sync that knows the table changes exactly the
        /// symmetric difference and does not read it; a failed sync is
        /// repaired by the next one.
        #[test]
        fn incremental_sync_converges_with_minimal_changes(steps in prop::collection::vec(step(), 1..40)) {
            block_on(async {
                let mut model = Model::default();
                let mut ann = Announced::default();
                let mut want = BTreeSet::new();
                for s in steps {
                    let mut full = false;
                    match s {
                        Step::Want(w) => want = w.iter().map(|&(h, nh)| route(h, nh)).collect(),
                        Step::AgentRestart => ann = Announced::default(),
                        Step::GobgpdRestart => {
                            model.rib.clear();
                            ann.forget();
                        }
                        Step::FailNext(n) => model.fail_at = Some(model.changes + n),
                        Step::Full => full = true,
                    }
                    let before = model.rib.clone();
                    let knew = ann.known().is_some() && !full;
                    let (reads, changes) = (model.reads, model.changes);
                    match ann.sync(&mut model, &want, full).await {
                        Ok(rep) => {
                            prop_assert_eq!(&model.rib, &want);
                            prop_assert_eq!(ann.known(), Some(&want));
                            let diff = before.symmetric_difference(&want).count();
                            prop_assert_eq!(rep.withdrawn + rep.announced, diff);
                            prop_assert_eq!(model.changes - changes, diff);
                            prop_assert_eq!(rep.read_table, !knew);
                            prop_assert_eq!(model.reads - reads, usize::from(!knew));
                        }
                        Err(_) => {
                            prop_assert!(ann.known().is_none(), "a failure forgets");
                            model.fail_at = None;
                            ann.sync(&mut model, &want, false).await.unwrap();
                            prop_assert_eq!(&model.rib, &want);
                        }
                    }
                }
                Ok(())
            })?;
        }
    }

    #[test]
    fn a_warm_restart_reads_once_and_changes_nothing() {
        block_on(async {
            let want: BTreeSet<RibRoute> = (1..=200).map(|h| route(h, 1)).collect();
            let mut model = Model {
                rib: want.clone(),
                ..Model::default()
            };
            let mut ann = Announced::default();
            let rep = ann.sync(&mut model, &want, false).await.unwrap();
            assert_eq!(
                rep,
                SyncReport {
                    read_table: true,
                    withdrawn: 0,
                    announced: 0
                }
            );
            // One more endpoint: one call, no read.
            let mut more = want.clone();
            more.insert(route(201, 1));
            let rep = ann.sync(&mut model, &more, false).await.unwrap();
            assert_eq!(
                rep,
                SyncReport {
                    read_table: false,
                    withdrawn: 0,
                    announced: 1
                }
            );
            assert_eq!((model.reads, model.changes), (1, 1));
        });
    }
}
