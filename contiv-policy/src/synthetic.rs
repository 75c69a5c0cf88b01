//! Deterministic synthetic intent of a chosen size, for benches and scale
//! tests: tenants with networks (IPv4 and IPv6 subnets), groups each with
//! its own policy, rules mixing group, network, CIDR and any peers, and
//! endpoints spread over the groups.
//!
//! ```
//! use contiv_policy::synthetic::{SyntheticSpec, generate};
//! let spec = SyntheticSpec { epgs: 10, rules_per_policy: 5, endpoints: 30, ..SyntheticSpec::default() };
//! let intent = generate(&spec);
//! assert_eq!(intent.epgs.len(), 10);
//! assert_eq!(intent.rules.len(), 50);
//! assert_eq!(intent.endpoints.len(), 30);
//! contiv_policy::compile(&intent).unwrap();
//! ```

use crate::intent::{EndpointInput, Intent};
use contiv_core::model::{EndpointGroup, Network, Rule};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The shape of the generated intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyntheticSpec {
    /// Number of tenants (ids 1..=tenants), at most 255.
    pub tenants: usize,
    /// Networks per tenant, at most 16 (each a /20 and a /64).
    pub networks_per_tenant: usize,
    /// Groups, spread round-robin over tenants and networks; group `g<k>`
    /// has id k+1 and its own policy `p<k>`. At most 65535.
    pub epgs: usize,
    /// Rules in each group's policy.
    pub rules_per_policy: usize,
    /// Endpoints, spread over the groups (one in ten also has IPv6).
    pub endpoints: usize,
    /// Seed of the generator.
    pub seed: u64,
}

impl Default for SyntheticSpec {
    /// The bench size: 1k groups, 100 rules per policy (100k rules), 10k
    /// endpoints, 4 tenants with 4 networks each.
    fn default() -> Self {
        SyntheticSpec {
            tenants: 4,
            networks_per_tenant: 4,
            epgs: 1000,
            rules_per_policy: 100,
            endpoints: 10_000,
            seed: 1,
        }
    }
}

/// SplitMix64: small, fast, deterministic.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Name of tenant `t`.
pub fn tenant_name(t: usize) -> String {
    format!("t{t}")
}

/// Name of group `k` (key `t<k % tenants>:g<k>`).
pub fn group_name(k: usize) -> String {
    format!("g{k}")
}

/// Name of the policy of group `k`.
pub fn policy_name(k: usize) -> String {
    format!("p{k}")
}

/// The tenant index of group `k`.
pub fn tenant_of_group(spec: &SyntheticSpec, k: usize) -> usize {
    k % spec.tenants.max(1)
}

/// The network index (within its tenant) of group `k`.
pub fn network_of_group(spec: &SyntheticSpec, k: usize) -> usize {
    (k / spec.tenants.max(1)) % spec.networks_per_tenant.max(1)
}

/// The `n`-th host address of network `j` of tenant `t`: `10.t.(16j + n/254).(n%254+1)`.
pub fn host_v4(t: usize, j: usize, n: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        10,
        (t % 256) as u8,
        ((j * 16 + n / 254) % 256) as u8,
        (n % 254 + 1) as u8,
    )
}

fn host_v6(t: usize, j: usize, n: usize) -> Ipv6Addr {
    Ipv6Addr::new(0xfd00, t as u16, j as u16, 0, 0, 0, 0, (n + 1) as u16)
}

/// Generates the intent described by `spec`.
pub fn generate(spec: &SyntheticSpec) -> Intent {
    let mut rng = Rng(spec.seed);
    let tenants = spec.tenants.max(1);
    let nets = spec.networks_per_tenant.max(1);
    let mut intent = Intent::default();
    for t in 0..tenants {
        intent.insert_tenant(&tenant_name(t), t as u32 + 1);
        for j in 0..nets {
            intent.insert_network(Network {
                tenant_name: tenant_name(t),
                network_name: format!("n{j}"),
                encap: "vxlan".into(),
                subnet: format!("10.{t}.{}.0/20", j * 16),
                ipv6_subnet: format!("fd00:{t:x}:{j:x}::/64"),
                ..Network::default()
            });
        }
    }
    // Groups of each tenant, to pick peers from.
    let mut groups_of: Vec<Vec<usize>> = vec![Vec::new(); tenants];
    for k in 0..spec.epgs {
        groups_of[tenant_of_group(spec, k)].push(k);
    }
    for k in 0..spec.epgs {
        let t = tenant_of_group(spec, k);
        intent.insert_epg(
            EndpointGroup {
                tenant_name: tenant_name(t),
                group_name: group_name(k),
                network_name: format!("n{}", network_of_group(spec, k)),
                policies: vec![policy_name(k)],
                ..EndpointGroup::default()
            },
            k as u32 + 1,
        );
        for r in 0..spec.rules_per_policy {
            intent.insert_rule(random_rule(&mut rng, spec, &groups_of[t], t, k, r));
        }
    }
    let mut next_host = vec![0usize; tenants * nets];
    for n in 0..spec.endpoints {
        if spec.epgs == 0 {
            break;
        }
        let k = rng.below(spec.epgs);
        let t = tenant_of_group(spec, k);
        let j = network_of_group(spec, k);
        let slot = &mut next_host[t * nets + j];
        let mut ips = vec![IpAddr::V4(host_v4(t, j, *slot))];
        if n % 10 == 0 {
            ips.push(IpAddr::V6(host_v6(t, j, *slot)));
        }
        *slot += 1;
        intent.insert_endpoint(EndpointInput::new(
            format!("ep{n}"),
            &tenant_name(t),
            &format!("n{j}"),
            Some(&group_name(k)),
            ips,
        ));
    }
    intent
}

fn random_rule(
    rng: &mut Rng,
    spec: &SyntheticSpec,
    peers: &[usize],
    t: usize,
    k: usize,
    r: usize,
) -> Rule {
    let mut rule = Rule {
        tenant_name: tenant_name(t),
        policy_name: policy_name(k),
        rule_id: format!("r{r}"),
        direction: if rng.below(10) < 7 { "in" } else { "out" }.into(),
        action: if rng.below(10) < 7 { "allow" } else { "deny" }.into(),
        priority: rng.below(100) as i64 + 1,
        ..Rule::default()
    };
    let proto = rng.below(20);
    rule.protocol = match proto {
        0..=11 => "tcp",
        12..=16 => "udp",
        17..=18 => "icmp",
        _ => "",
    }
    .into();
    if proto <= 16 || (proto > 18 && rng.below(2) == 0) {
        const PORTS: [i64; 8] = [22, 53, 80, 443, 3306, 5432, 8080, 8888];
        rule.port = PORTS[rng.below(PORTS.len())];
    }
    let inbound = rule.direction == "in";
    match rng.below(10) {
        0..=3 => {
            let g = group_name(peers[rng.below(peers.len())]);
            if inbound {
                rule.from_endpoint_group = g;
            } else {
                rule.to_endpoint_group = g;
            }
        }
        4..=5 => {
            let n = format!("n{}", rng.below(spec.networks_per_tenant.max(1)));
            if inbound {
                rule.from_network = n;
            } else {
                rule.to_network = n;
            }
        }
        6..=7 => {
            let cidr = if rng.below(2) == 0 {
                format!("10.{t}.{}.0/24", rng.below(64))
            } else {
                format!("192.168.{}.{}", rng.below(256), rng.below(254) + 1)
            };
            if inbound {
                rule.from_ip_address = cidr;
            } else {
                rule.to_ip_address = cidr;
            }
        }
        _ => {}
    }
    rule
}
