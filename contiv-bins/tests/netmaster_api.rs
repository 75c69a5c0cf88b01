//! The `/api/v1/` REST API of a real netmaster over HTTP, on the embedded
//! store and on a real etcd (every case runs on both): CRUD of every
//! collection, the original's validation and delete-guard cases
//! (reference §8.2: TestNetworkAddDelete, TestOverlappingSubnets,
//! TestDynamicGlobal*, TestGlobalSetting*, TestNetworkPktRanges,
//! TestPolicyRules, TestEpgPolicies, TestServicePreferredIP, …). Every
//! failing request is checked for its status code, its message, and that
//! the store is byte-for-byte unchanged afterwards.

mod support;

#[cfg(test)]
mod netmaster {
    use super::support::TestNetmaster;
    use serde_json::{Value, json};

    fn net(tenant: &str, name: &str, subnet: &str) -> Value {
        json!({"tenantName": tenant, "networkName": name, "encap": "vxlan", "subnet": subnet})
    }

    fn net_key(tenant: &str, name: &str) -> String {
        format!("{tenant}:{name}")
    }

    fn post_net(tn: &TestNetmaster, body: &Value) -> Value {
        let key = net_key(
            body["tenantName"].as_str().unwrap(),
            body["networkName"].as_str().unwrap(),
        );
        tn.create("networks", &key, body.clone())
    }

    fn epg(tenant: &str, name: &str, network: &str) -> Value {
        json!({"tenantName": tenant, "groupName": name, "networkName": network})
    }

    fn rule(tenant: &str, policy: &str, id: &str, extra: Value) -> Value {
        let mut r = json!({
            "tenantName": tenant, "policyName": policy, "ruleId": id,
            "direction": "in", "action": "allow", "protocol": "tcp",
        });
        for (k, v) in extra.as_object().unwrap() {
            r[k] = v.clone();
        }
        r
    }

    fn aci_gw(enforce: &str) -> Value {
        json!({"name": "aciGw", "enforcePolicies": enforce, "includeCommonTenant": "no",
            "physicalDomain": "phys-dom", "pathBindings": "topology/pod-1/paths-101/pathep-[eth1/14]",
            "nodeBindings": "topology/pod-1/node-101"})
    }

    fn global(tn: &TestNetmaster) -> Value {
        tn.ok("GET", "/api/v1/globals/global/", None)
    }

    fn set_global(tn: &TestNetmaster, changes: Value) -> super::support::Resp {
        let mut g = global(tn);
        for (k, v) in changes.as_object().unwrap() {
            g[k] = v.clone();
        }
        tn.client.post("/api/v1/globals/global/", &g)
    }

    /// Creates an endpoint through the agent API.
    fn endpoint(tn: &TestNetmaster, tenant: &str, network: &str, group: &str, id: &str) -> Value {
        tn.ok(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": id, "tenant": tenant, "network": network, "group": group, "host": "h1"})),
        )
    }

    // ------------------------------------------------------------------

    /// The default tenant and the global settings exist from the start,
    /// with the original's defaults.
    fn defaults_exist_at_start(tn: &TestNetmaster) {
        assert_eq!(tn.list_keys("tenants"), ["default"]);
        let g = global(tn);
        assert_eq!(
            g,
            json!({
                "key": "global", "arpMode": "proxy", "fwdMode": "bridge", "name": "global",
                "networkInfraType": "default", "pvtSubnet": "172.19.0.0/16",
                "vlans": "1-4094", "vxlans": "1-10000",
            })
        );
        let gi = tn.inspect("globals", "global");
        assert_eq!(gi["Config"], g);
        assert_eq!(gi["Oper"]["clusterMode"], "test");
        assert_eq!(
            gi["Oper"].get("numNetworks"),
            None,
            "0 is omitted like Go's omitempty"
        );
        let ti = tn.inspect("tenants", "default");
        assert_eq!(ti["Config"]["tenantName"], "default");
        assert!(ti["Oper"].is_object());
    }

    /// Full create / read / list / update / inspect / delete of every one
    /// of the twelve collections, with and without the trailing slash.
    fn crud_every_collection(tn: &TestNetmaster) {
        tn.create("tenants", "t1", json!({"tenantName": "t1"}));
        post_net(
            tn,
            &json!({"tenantName": "t1", "networkName": "n1", "encap": "vlan",
            "subnet": "10.1.1.0/24", "gateway": "10.1.1.254"}),
        );
        tn.create(
            "policys",
            "t1:p1",
            json!({"tenantName": "t1", "policyName": "p1"}),
        );
        tn.create("netprofiles", "t1:np1",
            json!({"tenantName": "t1", "profileName": "np1", "bandwidth": "10 mbps", "DSCP": 4, "burst": 100}));
        tn.create(
            "extContractsGroups",
            "t1:ec1",
            json!({"tenantName": "t1", "contractsGroupName": "ec1",
            "contractsType": "provided", "contracts": ["uni/tn-common/brc-default"]}),
        );
        let mut g1 = epg("t1", "g1", "n1");
        g1["policies"] = json!(["p1"]);
        g1["netProfile"] = json!("np1");
        g1["extContractsGrps"] = json!(["ec1"]);
        tn.create("endpointGroups", "t1:g1", g1.clone());
        tn.create(
            "rules",
            "t1:p1:r1",
            rule(
                "t1",
                "p1",
                "r1",
                json!({"port": 80, "fromEndpointGroup": "g1"}),
            ),
        );
        tn.create(
            "appProfiles",
            "t1:ap1",
            json!({"tenantName": "t1", "appProfileName": "ap1", "endpointGroups": ["g1"]}),
        );
        tn.create(
            "serviceLBs",
            "t1:s1",
            json!({"tenantName": "t1", "serviceName": "s1", "networkName": "n1",
            "selectors": ["app=web"], "ports": ["80:8080:TCP"]}),
        );
        tn.create(
            "Bgps",
            "host1",
            json!({"hostname": "host1", "routerip": "50.1.1.1/24", "as": "65002",
            "neighbor-as": "500", "neighbor": "50.1.1.2"}),
        );
        tn.create("aciGws", "aciGw", aci_gw("yes"));

        // Read, list and inspect every one.
        let all = [
            ("tenants", "t1"),
            ("networks", "t1:n1"),
            ("policys", "t1:p1"),
            ("netprofiles", "t1:np1"),
            ("extContractsGroups", "t1:ec1"),
            ("endpointGroups", "t1:g1"),
            ("rules", "t1:p1:r1"),
            ("appProfiles", "t1:ap1"),
            ("serviceLBs", "t1:s1"),
            ("Bgps", "host1"),
            ("aciGws", "aciGw"),
            ("globals", "global"),
        ];
        for (coll, key) in all {
            let with = tn.ok("GET", &format!("/api/v1/{coll}/{key}/"), None);
            let without = tn.ok("GET", &format!("/api/v1/{coll}/{key}"), None);
            assert_eq!(with, without, "{coll}/{key}");
            assert_eq!(with["key"], key, "{coll}: the key field is filled");
            assert!(
                tn.list_keys(coll).contains(&key.to_owned()),
                "{coll} lists {key}"
            );
            let list_without = tn.ok("GET", &format!("/api/v1/{coll}"), None);
            assert!(
                list_without
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|o| o["key"] == key)
            );
            let insp = tn.inspect(coll, key);
            assert_eq!(insp["Config"], with, "{coll}: inspect Config is the object");
        }
        assert_eq!(
            tn.list_keys("tenants"),
            ["default", "t1"],
            "lists are sorted by key"
        );
        let ni = tn.inspect("networks", "t1:n1");
        assert_eq!(ni["Oper"]["pktTag"], 1, "first auto VLAN is 1");
        assert_eq!(ni["Oper"]["externalPktTag"], 1);
        // The service's VIP (10.1.1.1) and the gateway.
        assert_eq!(ni["Oper"]["allocatedIPAddresses"], "10.1.1.1, 10.1.1.254");
        assert_eq!(ni["Oper"]["availableIPAddresses"], "10.1.1.2-10.1.1.253");
        assert_eq!(ni["Oper"]["networkTag"], "n1.t1");
        let si = tn.inspect("serviceLBs", "t1:s1");
        assert_eq!(
            si["Oper"]["serviceVip"], "10.1.1.1",
            "VIP = lowest free address"
        );
        let ai = tn.inspect("aciGws", "aciGw");
        assert_eq!(ai["Oper"]["numAppProfiles"], 1);

        // Updates that are allowed (PUT and POST both update).
        let np = tn.put_ok("netprofiles", "t1:np1",
            json!({"tenantName": "t1", "profileName": "np1", "bandwidth": "20 mbps", "DSCP": 5, "burst": 100}));
        assert_eq!(np["bandwidth"], "20 mbps");
        assert_eq!(tn.ok("GET", "/api/v1/netprofiles/t1:np1/", None)["DSCP"], 5);
        g1["policies"] = json!([]);
        tn.put_ok("endpointGroups", "t1:g1", g1.clone());
        assert_eq!(
            tn.ok("GET", "/api/v1/endpointGroups/t1:g1/", None)
                .get("policies"),
            None
        );
        tn.put_ok(
            "Bgps",
            "host1",
            json!({"hostname": "host1", "routerip": "50.1.1.1/24", "as": "65003",
            "neighbor-as": "500", "neighbor": "50.1.1.3"}),
        );
        assert_eq!(
            tn.ok("GET", "/api/v1/Bgps/host1/", None)["neighbor"],
            "50.1.1.3"
        );
        tn.put_ok(
            "serviceLBs",
            "t1:s1",
            json!({"tenantName": "t1", "serviceName": "s1", "networkName": "n1",
            "selectors": ["app=db"], "ports": ["80:8080:TCP"]}),
        );
        assert_eq!(
            tn.inspect("serviceLBs", "t1:s1")["Oper"]["serviceVip"],
            "10.1.1.1",
            "the VIP stays"
        );
        tn.put_ok("aciGws", "aciGw", aci_gw("no"));
        tn.put_ok("extContractsGroups", "t1:ec1", json!({"tenantName": "t1", "contractsGroupName": "ec1",
            "contractsType": "provided", "contracts": ["uni/tn-common/brc-a", "uni/tn-common/brc-b"]}));
        tn.put_ok(
            "appProfiles",
            "t1:ap1",
            json!({"tenantName": "t1", "appProfileName": "ap1", "endpointGroups": ["g1"]}),
        );

        // Delete everything (dependents first); each then answers 404.
        for (coll, key) in [
            ("appProfiles", "t1:ap1"),
            ("aciGws", "aciGw"),
            ("serviceLBs", "t1:s1"),
            ("rules", "t1:p1:r1"),
            ("endpointGroups", "t1:g1"),
            ("extContractsGroups", "t1:ec1"),
            ("netprofiles", "t1:np1"),
            ("policys", "t1:p1"),
            ("networks", "t1:n1"),
            ("Bgps", "host1"),
            ("tenants", "t1"),
        ] {
            tn.remove(coll, key);
            let r = tn.client.get(&format!("/api/v1/{coll}/{key}/"));
            assert_eq!(r.status, 404, "{coll}/{key} after delete: {}", r.body);
            assert!(!tn.list_keys(coll).contains(&key.to_owned()));
            tn.fails(
                "DELETE",
                &format!("/api/v1/{coll}/{key}/"),
                None,
                404,
                "not found",
            );
        }
        // Nothing is left behind: no derived records, no allocator state
        // but the cluster-wide pools.
        assert_eq!(tn.keys_under("oper/network/"), Vec::<String>::new());
        assert_eq!(tn.keys_under("oper/endpointGroup/"), Vec::<String>::new());
        assert_eq!(tn.keys_under("oper/serviceLB/"), Vec::<String>::new());
        assert_eq!(tn.keys_under("alloc/ipv4/"), Vec::<String>::new());
        assert_eq!(tn.keys_under("obj/rule/"), Vec::<String>::new());
    }

    /// Re-sending an object that exists unchanged answers 200 and writes
    /// nothing (for every collection that allows creation).
    fn idempotent_repost_changes_nothing(tn: &TestNetmaster) {
        let bodies = [
            ("tenants", "t1", json!({"tenantName": "t1"})),
            ("networks", "t1:n1", net("t1", "n1", "10.1.1.0/24")),
            (
                "policys",
                "t1:p1",
                json!({"tenantName": "t1", "policyName": "p1"}),
            ),
            (
                "endpointGroups",
                "t1:g1",
                json!({"tenantName": "t1", "groupName": "g1", "networkName": "n1", "policies": ["p1"]}),
            ),
            (
                "rules",
                "t1:p1:1",
                rule("t1", "p1", "1", json!({"port": 80})),
            ),
            (
                "serviceLBs",
                "t1:s1",
                json!({"tenantName": "t1", "serviceName": "s1", "networkName": "n1", "selectors": ["a=b"], "ports": ["80:80:TCP"]}),
            ),
        ];
        for (coll, key, body) in &bodies {
            let first = tn.create(coll, key, body.clone());
            let before = tn.snapshot();
            let again = tn.create(coll, key, body.clone());
            assert_eq!(first, again, "{coll}/{key}");
            assert!(
                before == tn.snapshot(),
                "re-POST of {coll}/{key} wrote to the store"
            );
            let put = tn.ok("PUT", &format!("/api/v1/{coll}/{key}/"), Some(body));
            assert_eq!(first, put);
            assert!(
                before == tn.snapshot(),
                "PUT of the same {coll}/{key} wrote to the store"
            );
        }
        // The default tenant can be re-posted too (netctl tenant create default).
        tn.create("tenants", "default", json!({"tenantName": "default"}));
    }

    /// TestNetworkAddDelete: the valid and invalid network definitions.
    fn network_add_delete(tn: &TestNetmaster) {
        let valid = [
            net("default", "n1", "10.1.1.0/24"),
            net("default", "n2", "10.2.1.10-10.2.1.20/24"),
            net("default", "n3", "10.3.1.10-10.3.5.254/16"),
            {
                let mut n = net("default", "n4", "10.4.1.0/24");
                n["cfgdTag"] = json!("contiv-net");
                n
            },
            {
                let mut n = net("default", "n5", "10.5.1.0/24");
                n["cfgdTag"] = json!("io.contiv.network.test");
                n
            },
            {
                let mut n = net("default", "n6", "10.6.1.0/24");
                n["ipv6Subnet"] = json!("2001:6::/100");
                n["ipv6Gateway"] = json!("2001:6::1");
                n
            },
            {
                let mut n = net("default", "n7", "10.7.1.0/24");
                n["encap"] = json!("vlan");
                n["pktTag"] = json!(4094);
                n
            },
            {
                let mut n = net("default", "n8", "10.8.1.0/24");
                n["nwType"] = json!("infra");
                n
            },
        ];
        for n in &valid {
            let got = post_net(tn, n);
            assert_eq!(
                got["nwType"],
                n.get("nwType").cloned().unwrap_or(json!("data")),
                "{n}"
            );
        }
        assert_eq!(tn.list_keys("networks").len(), valid.len());

        let invalid: Vec<(Value, u16, &str)> = vec![
            (json!({"networkName": "contiv:invalid"}), 400, "networkName"),
            (json!({"networkName": "contiv|invalid"}), 400, "networkName"),
            (json!({"networkName": "-invalid"}), 400, "networkName"),
            (json!({"nwType": "infratest"}), 400, "nwType"),
            (json!({"nwType": "testinfra"}), 400, "nwType"),
            (json!({"nwType": "testdata"}), 400, "nwType"),
            (json!({"nwType": "datatest"}), 400, "nwType"),
            (json!({"subnet": "11.1.1.10-20/24"}), 400, "subnet"),
            (json!({"subnet": "11.1.1.10-10.1.20/24"}), 400, "subnet"),
            (json!({"subnet": "11.1.1.10-11.1.1.1/24"}), 400, "subnet"),
            (json!({"subnet": "11.1.1.10-11.1.2.30/24"}), 400, "subnet"),
            (json!({"subnet": "11.1.1.10-11.2.1.30/16"}), 400, "subnet"),
            (json!({"subnet": "11.1.1.10-11.1.1.1.30/24"}), 400, "subnet"),
            (json!({"subnet": "11.1.1/24"}), 400, "subnet"),
            (json!({"subnet": "11.1.1.256/24"}), 400, "subnet"),
            (json!({"subnet": "11.1.1.1-70/26"}), 400, "subnet"),
            (json!({"subnet": "11.1.1.1/32"}), 400, "subnet"),
            (json!({"subnet": ""}), 400, "subnet"),
            // Issue 12: accepted and persisted before.
            (json!({"subnet": "11.1.1.1/24"}), 400, "host bits"),
            (json!({"subnet": "224.0.0.0/24"}), 400, "multicast"),
            (json!({"subnet": "127.0.0.0/24"}), 400, "loopback"),
            (json!({"subnet": "255.255.255.0/24"}), 400, "broadcast"),
            (json!({"subnet": "11.1.1.0/31"}), 400, "/31"),
            (json!({"ipv6Subnet": "fe80::/64"}), 400, "link-local"),
            (json!({"ipv6Subnet": "ff05::/64"}), 400, "multicast"),
            (json!({"ipv6Subnet": "2001:11::/128"}), 400, "ipv6Subnet"),
            (json!({"encap": "vvvv"}), 400, "encap"),
            (json!({"encap": "vlan", "pktTag": 5000}), 400, "pktTag"),
            (
                json!({"encap": "vxlan", "pktTag": 20000}),
                400,
                "out of range",
            ),
            (json!({"gateway": "12.1.1.1"}), 400, "gateway"),
            (json!({"cfgdTag": "tag=contiv-net"}), 400, "cfgdTag"),
            (json!({"cfgdTag": "io.contiv.network/test"}), 400, "cfgdTag"),
        ];
        for (changes, status, msg) in invalid {
            let mut n = net("default", "bad", "11.1.1.0/24");
            for (k, v) in changes.as_object().unwrap() {
                n[k] = v.clone();
            }
            let key = format!("default:{}", n["networkName"].as_str().unwrap());
            let path = format!("/api/v1/networks/{}/", key.replace('|', "%7C"));
            tn.fails("POST", &path, Some(&n), status, msg);
        }
        // An unknown tenant.
        tn.fails(
            "POST",
            "/api/v1/networks/nope:n1/",
            Some(&net("nope", "n1", "11.1.1.0/24")),
            404,
            "Tenant not found",
        );
        // The key must match the key fields.
        tn.fails(
            "POST",
            "/api/v1/networks/default:x/",
            Some(&net("default", "y", "11.1.1.0/24")),
            400,
            "Invalid Key",
        );
        // Delete works for every valid one and frees its tag.
        for n in &valid {
            let key = net_key("default", n["networkName"].as_str().unwrap());
            tn.remove("networks", &key);
        }
        assert_eq!(tn.list_keys("networks"), Vec::<String>::new());
        let gi = tn.inspect("globals", "global");
        assert_eq!(gi["Oper"].get("vlansInUse"), None, "{gi}");
        assert_eq!(gi["Oper"].get("vxlansInUse"), None, "{gi}");
    }

    /// TestOverlappingSubnets: overlaps are refused within a tenant (v4
    /// ranges count, v6 too) and allowed across tenants.
    fn overlapping_subnets(tn: &TestNetmaster) {
        tn.create("tenants", "blue", json!({"tenantName": "blue"}));
        post_net(tn, &net("default", "n1", "20.1.1.10-20.1.1.45/24"));
        tn.fails(
            "POST",
            "/api/v1/networks/default:n2/",
            Some(&net("default", "n2", "20.1.1.45-20.1.1.100/24")),
            409,
            "network n1 conflicts with subnet 20.1.1.45-20.1.1.100/24",
        );
        tn.fails(
            "POST",
            "/api/v1/networks/default:n2/",
            Some(&net("default", "n2", "20.1.0.0/16")),
            409,
            "network n1 conflicts with subnet 20.1.0.0/16",
        );
        // Ranges that do not overlap are fine, even in the same /24.
        post_net(tn, &net("default", "n2", "20.1.1.46-20.1.1.100/24"));
        // Another tenant may use the same subnet.
        post_net(tn, &net("blue", "n1", "20.1.1.10-20.1.1.45/24"));
        post_net(tn, &net("blue", "n3", "30.1.1.0/24"));
        // IPv6.
        let mut a = net("default", "v6a", "21.1.1.0/24");
        a["ipv6Subnet"] = json!("2001:1::/64");
        post_net(tn, &a);
        let mut b = net("default", "v6b", "22.1.1.0/24");
        b["ipv6Subnet"] = json!("2001:1::/100");
        tn.fails(
            "POST",
            "/api/v1/networks/default:v6b/",
            Some(&b),
            409,
            "network v6a conflicts with subnetv6  2001:1::/100",
        );
        b["ipv6Subnet"] = json!("2001:2::/100");
        post_net(tn, &b);
    }

    /// TestNetworkPktRanges: automatic and requested tags, duplicates,
    /// tags outside a shrunk global range.
    fn network_pkt_ranges(tn: &TestNetmaster) {
        let mut v = net("default", "vl1", "10.1.1.0/24");
        v["encap"] = json!("vlan");
        post_net(tn, &v);
        assert_eq!(
            tn.inspect("networks", "default:vl1")["Oper"]["pktTag"],
            1,
            "auto vlan → 1"
        );
        let mut x = net("default", "vx1", "10.2.1.0/24");
        x["pktTag"] = json!(1000);
        post_net(tn, &x);
        let o = tn.inspect("networks", "default:vx1")["Oper"].clone();
        assert_eq!(
            (o["pktTag"].clone(), o["externalPktTag"].clone()),
            (json!(1), json!(1000))
        );
        post_net(tn, &net("default", "vx2", "10.3.1.0/24"));
        let o = tn.inspect("networks", "default:vx2")["Oper"].clone();
        assert_eq!(
            (o["pktTag"].clone(), o["externalPktTag"].clone()),
            (json!(2), json!(1))
        );
        post_net(tn, &net("default", "vx3", "10.4.1.0/24"));
        let o = tn.inspect("networks", "default:vx3")["Oper"].clone();
        assert_eq!(
            (o["pktTag"].clone(), o["externalPktTag"].clone()),
            (json!(3), json!(2))
        );
        // Duplicate tags.
        let mut dup = net("default", "dup", "10.5.1.0/24");
        dup["pktTag"] = json!(1000);
        tn.fails(
            "POST",
            "/api/v1/networks/default:dup/",
            Some(&dup),
            409,
            "requested vxlan 1000 not available",
        );
        dup["encap"] = json!("vlan");
        dup["pktTag"] = json!(1);
        tn.fails(
            "POST",
            "/api/v1/networks/default:dup/",
            Some(&dup),
            409,
            "requested vlan 1 not available",
        );
        let gi = tn.inspect("globals", "global");
        assert_eq!(gi["Oper"]["vlansInUse"], "1");
        assert_eq!(gi["Oper"]["vxlansInUse"], "1-2, 1000");
        assert_eq!(gi["Oper"]["numNetworks"], 4);
        for k in ["vl1", "vx1", "vx2", "vx3"] {
            tn.remove("networks", &format!("default:{k}"));
        }
        // Shrink the ranges; tags outside them are refused.
        let r = set_global(tn, json!({"vlans": "100-1000", "vxlans": "1001-2000"}));
        assert_eq!(r.status, 200, "{}", r.body);
        for (encap, tag) in [
            ("vlan", 1001),
            ("vlan", 99),
            ("vxlan", 2001),
            ("vxlan", 1000),
        ] {
            let mut n = net("default", "out", "10.6.1.0/24");
            n["encap"] = json!(encap);
            n["pktTag"] = json!(tag);
            tn.fails(
                "POST",
                "/api/v1/networks/default:out/",
                Some(&n),
                400,
                "out of range",
            );
        }
        let mut n = net("default", "in", "10.6.1.0/24");
        n["encap"] = json!("vlan");
        post_net(tn, &n);
        assert_eq!(
            tn.inspect("networks", "default:in")["Oper"]["pktTag"],
            100,
            "lowest of the new range"
        );
    }

    /// TestDynamicGlobalVlanRange / TestDynamicGlobalVxlanRange.
    fn dynamic_global_ranges(tn: &TestNetmaster) {
        let mut v = net("default", "vl", "10.1.1.0/24");
        v["encap"] = json!("vlan");
        v["pktTag"] = json!(200);
        post_net(tn, &v);
        let mut x = net("default", "vx", "10.2.1.0/24");
        x["pktTag"] = json!(5000);
        post_net(tn, &x);
        let before = tn.snapshot();
        let r = set_global(tn, json!({"vlans": "300-400"}));
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("200"), "{}", r.body);
        let r = set_global(tn, json!({"vxlans": "1-4000"}));
        assert_eq!(r.status, 409, "{}", r.body);
        assert!(r.body.contains("5000"), "{}", r.body);
        assert!(
            before == tn.snapshot(),
            "a refused range change wrote to the store"
        );
        // Growing (or shrinking around the tags in use) works.
        let r = set_global(tn, json!({"vlans": "100-1000", "vxlans": "4000-8000"}));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(global(tn)["vlans"], "100-1000");
        // A tag in use cannot be requested again; one outside the range fails.
        let mut again = net("default", "again", "10.3.1.0/24");
        again["encap"] = json!("vlan");
        again["pktTag"] = json!(200);
        tn.fails(
            "POST",
            "/api/v1/networks/default:again/",
            Some(&again),
            409,
            "not available",
        );
        again["pktTag"] = json!(1001);
        tn.fails(
            "POST",
            "/api/v1/networks/default:again/",
            Some(&again),
            400,
            "out of range",
        );
        // An auto tag comes from the new range.
        again["pktTag"] = json!(0);
        post_net(tn, &again);
        assert_eq!(
            tn.inspect("networks", "default:again")["Oper"]["pktTag"],
            100
        );
        let mut ax = net("default", "ax", "10.4.1.0/24");
        ax["pktTag"] = json!(0);
        post_net(tn, &ax);
        assert_eq!(
            tn.inspect("networks", "default:ax")["Oper"]["externalPktTag"],
            4000
        );
    }

    /// TestGlobalSettingFwdMode / TestGlobalSettingSubnet and the invalid
    /// global values of TestGlobalSetting.
    fn global_settings(tn: &TestNetmaster) {
        for (field, value) in [
            ("vlans", "1-5000"),
            ("vlans", "0-4094"),
            ("vlans", "1"),
            ("vlans", "1?2"),
            ("vlans", "abcd"),
            ("vxlans", "1-100000"),
            ("vxlans", "1-20000"),
            ("pvtSubnet", "172.21.0.0/24"),
            ("fwdMode", "xyz"),
            ("arpMode", "xyz"),
            ("networkInfraType", "xyz"),
        ] {
            let mut g = global(tn);
            g[field] = json!(value);
            tn.fails("POST", "/api/v1/globals/global/", Some(&g), 400, field);
        }
        tn.fails(
            "POST",
            "/api/v1/globals/other/",
            Some(&json!({"name": "other"})),
            400,
            "",
        );
        // With no networks, the forwarding mode and private subnet change.
        assert_eq!(
            set_global(
                tn,
                json!({"fwdMode": "routing", "pvtSubnet": "172.20.0.0/16"})
            )
            .status,
            200
        );
        assert_eq!(set_global(tn, json!({"arpMode": "flood"})).status, 200);
        assert_eq!(global(tn)["arpMode"], "flood");
        // A vxlan network blocks both.
        post_net(tn, &net("default", "vx", "10.1.1.0/24"));
        let before = tn.snapshot();
        let r = set_global(tn, json!({"fwdMode": "bridge"}));
        assert_eq!(
            (r.status, r.body.as_str()),
            (
                409,
                "Unable to update forwarding mode due to existing 1 vxlans\n"
            )
        );
        let r = set_global(tn, json!({"pvtSubnet": "172.19.0.0/16"}));
        assert_eq!(
            (r.status, r.body.as_str()),
            (
                409,
                "Unable to update private subnet due to existing 1 vxlans\n"
            )
        );
        let mut v = net("default", "vl", "10.2.1.0/24");
        v["encap"] = json!("vlan");
        post_net(tn, &v);
        let r = set_global(tn, json!({"fwdMode": "bridge"}));
        assert_eq!(
            (r.status, r.body.as_str()),
            (
                409,
                "Unable to update forwarding mode due to existing 1 vlans and 1 vxlans\n"
            )
        );
        tn.remove("networks", "default:vx");
        let r = set_global(tn, json!({"fwdMode": "bridge"}));
        assert_eq!(
            (r.status, r.body.as_str()),
            (
                409,
                "Unable to update forwarding mode due to existing 1 vlans\n"
            )
        );
        tn.remove("networks", "default:vl");
        let _ = before;
        // BGP configs block leaving routing mode.
        tn.create("Bgps", "h1", json!({"hostname": "h1", "routerip": "50.1.1.1/24", "as": "65002", "neighbor-as": "500", "neighbor": "50.1.1.2"}));
        let mut g = global(tn);
        g["fwdMode"] = json!("bridge");
        tn.fails(
            "POST",
            "/api/v1/globals/global/",
            Some(&g),
            409,
            "please delete existing Bgp configs",
        );
        tn.remove("Bgps", "h1");
        assert_eq!(set_global(tn, json!({"fwdMode": "bridge"})).status, 200);
        // The global settings cannot be deleted.
        tn.fails(
            "DELETE",
            "/api/v1/globals/global/",
            None,
            409,
            "cannot be deleted",
        );
    }

    /// TestPolicyRules: the rule validation matrix.
    fn policy_rules(tn: &TestNetmaster) {
        post_net(tn, &net("default", "n1", "10.1.1.0/24"));
        tn.create(
            "policys",
            "default:p1",
            json!({"tenantName": "default", "policyName": "p1"}),
        );
        tn.create("endpointGroups", "default:g1", epg("default", "g1", "n1"));
        let ok = [
            ("1", json!({})),
            ("2", json!({"port": 80, "priority": 10, "action": "deny"})),
            ("3", json!({"fromEndpointGroup": "g1"})),
            ("4", json!({"fromNetwork": "n1"})),
            ("5", json!({"fromIpAddress": "10.2.2.0/24"})),
            ("6", json!({"direction": "out", "toEndpointGroup": "g1"})),
            ("7", json!({"direction": "out", "toNetwork": "n1"})),
            ("8", json!({"direction": "out", "toIpAddress": "10.2.2.2"})),
            ("9", json!({"protocol": "icmp"})),
            ("10", json!({"protocol": "17"})),
            ("11", json!({"protocol": ""})),
        ];
        for (id, extra) in &ok {
            tn.create(
                "rules",
                &format!("default:p1:{id}"),
                rule("default", "p1", id, extra.clone()),
            );
        }
        // priority 0 means 1.
        assert_eq!(
            tn.ok("GET", "/api/v1/rules/default:p1:1/", None)["priority"],
            1
        );
        let bad: Vec<(Value, u16, &str)> = vec![
            (json!({"direction": "both"}), 400, "direction"),
            (json!({"direction": "xyz"}), 400, "direction"),
            (json!({"protocol": "xyz"}), 400, "protocol"),
            (json!({"action": "xyz"}), 400, "action"),
            (json!({"action": "accept"}), 400, "action"),
            (json!({"priority": 101}), 400, "priority"),
            (json!({"port": 70000}), 400, "port"),
            (
                json!({"toEndpointGroup": "g1"}),
                400,
                "can not specify 'to' parameters in incoming rule",
            ),
            (
                json!({"toNetwork": "n1"}),
                400,
                "can not specify 'to' parameters in incoming rule",
            ),
            (
                json!({"fromNetwork": "n1", "fromIpAddress": "10.1.1.1"}),
                400,
                "can not specify both from network and from ip address",
            ),
            (
                json!({"fromNetwork": "n1", "fromEndpointGroup": "g1"}),
                400,
                "can not specify both from network and from EndpointGroup",
            ),
            (
                json!({"direction": "out", "fromEndpointGroup": "g1"}),
                400,
                "can not specify 'from' parameters in outgoing rule",
            ),
            (
                json!({"direction": "out", "toNetwork": "n1", "toIpAddress": "10.1.1.1"}),
                400,
                "can not specify both to-network and to-ip address",
            ),
            (
                json!({"direction": "out", "toNetwork": "n1", "toEndpointGroup": "g1"}),
                400,
                "can not specify both to-network and to-EndpointGroup",
            ),
            (
                json!({"fromEndpointGroup": "nope"}),
                404,
                "endpoint group not found",
            ),
            (
                json!({"direction": "out", "toEndpointGroup": "nope"}),
                404,
                "endpoint group not found",
            ),
            (
                json!({"fromNetwork": "nope"}),
                404,
                "from Network not found",
            ),
            (
                json!({"direction": "out", "toNetwork": "nope"}),
                404,
                "to Network not found",
            ),
        ];
        for (extra, status, msg) in bad {
            tn.fails(
                "POST",
                "/api/v1/rules/default:p1:x/",
                Some(&rule("default", "p1", "x", extra)),
                status,
                msg,
            );
        }
        tn.fails(
            "POST",
            "/api/v1/rules/default:nope:x/",
            Some(&rule("default", "nope", "x", json!({}))),
            404,
            "Policy not found",
        );
        // A duplicate rule id with other parameters is refused; the same
        // rule again is fine.
        tn.fails(
            "POST",
            "/api/v1/rules/default:p1:2/",
            Some(&rule("default", "p1", "2", json!({"port": 81}))),
            409,
            "can not update a rule after its created",
        );
        tn.create(
            "rules",
            "default:p1:2",
            rule(
                "default",
                "p1",
                "2",
                json!({"port": 80, "priority": 10, "action": "deny"}),
            ),
        );
        // A rule that names a group keeps the group from being deleted.
        tn.fails(
            "DELETE",
            "/api/v1/endpointGroups/default:g1/",
            None,
            409,
            "rule 3 of policy p1",
        );
        // Deleting a rule; deleting the policy takes the rest with it.
        tn.remove("rules", "default:p1:1");
        assert_eq!(tn.list_keys("rules").len(), ok.len() - 1);
        tn.remove("policys", "default:p1");
        assert_eq!(tn.list_keys("rules"), Vec::<String>::new());
        tn.remove("endpointGroups", "default:g1");
    }

    /// The k8s special case: an incoming rule with a to-ip-address needs a
    /// policy attached to exactly one group that has an endpoint with it.
    fn incoming_rule_to_ip(tn: &TestNetmaster) {
        post_net(tn, &net("default", "n1", "10.1.1.0/24"));
        tn.create(
            "policys",
            "default:p1",
            json!({"tenantName": "default", "policyName": "p1"}),
        );
        let r = rule("default", "p1", "1", json!({"toIpAddress": "10.1.1.1"}));
        tn.fails(
            "POST",
            "/api/v1/rules/default:p1:1/",
            Some(&r),
            409,
            "failed to configure 10.1.1.1, 0 endpoint groups linked to policy p1",
        );
        let mut g = epg("default", "g1", "n1");
        g["policies"] = json!(["p1"]);
        tn.create("endpointGroups", "default:g1", g);
        tn.fails(
            "POST",
            "/api/v1/rules/default:p1:1/",
            Some(&r),
            409,
            "failed to configure 10.1.1.1, ip address is not in epg g1:default",
        );
        endpoint(tn, "default", "n1", "g1", "ep1");
        tn.create("rules", "default:p1:1", r);
    }

    /// TestEpgPolicies and the group rules.
    fn epg_policies(tn: &TestNetmaster) {
        post_net(tn, &net("default", "n1", "10.1.1.0/24"));
        post_net(tn, &net("default", "n2", "10.2.1.0/24"));
        let mut g = epg("default", "g1", "n1");
        g["policies"] = json!(["p1"]);
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g1/",
            Some(&g),
            404,
            "Policy not found",
        );
        tn.create(
            "policys",
            "default:p1",
            json!({"tenantName": "default", "policyName": "p1"}),
        );
        tn.create(
            "policys",
            "default:p2",
            json!({"tenantName": "default", "policyName": "p2"}),
        );
        tn.create("endpointGroups", "default:g1", g.clone());
        // Name clashes both ways.
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:n2/",
            Some(&epg("default", "n2", "n1")),
            409,
            "Network n2 conflicts with the endpointGroup name",
        );
        tn.fails(
            "POST",
            "/api/v1/networks/default:g1/",
            Some(&net("default", "g1", "10.3.1.0/24")),
            409,
            "EndpointGroup g1 conflicts with the network name",
        );
        // Unknown network / tenant / netprofile / contracts.
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g2/",
            Some(&epg("default", "g2", "nope")),
            404,
            "Network nope not found",
        );
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/nope:g2/",
            Some(&epg("nope", "g2", "n1")),
            404,
            "Tenant not found",
        );
        let mut np = epg("default", "g2", "n1");
        np["netProfile"] = json!("nope");
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g2/",
            Some(&np),
            404,
            "netprofile not found",
        );
        // An EPG cannot move to another network, nor change its pool.
        let mut moved = g.clone();
        moved["networkName"] = json!("n2");
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g1/",
            Some(&moved),
            409,
            "Cannot change network association after epg is created.",
        );
        let mut pooled = g.clone();
        pooled["ipPool"] = json!("10.1.1.10-10.1.1.20");
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g1/",
            Some(&pooled),
            409,
            "Cannot change IP pool after epg is created.",
        );
        // Policy attachments change by update; an attached policy cannot
        // be deleted, a detached one can.
        tn.fails(
            "DELETE",
            "/api/v1/policys/default:p1/",
            None,
            409,
            "Policy is being used",
        );
        g["policies"] = json!(["p2"]);
        tn.create("endpointGroups", "default:g1", g.clone());
        tn.fails(
            "DELETE",
            "/api/v1/policys/default:p2/",
            None,
            409,
            "Policy is being used",
        );
        tn.remove("policys", "default:p1");
        let mut unknown = g.clone();
        unknown["policies"] = json!(["p2", "p9"]);
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g1/",
            Some(&unknown),
            404,
            "Policy not found",
        );
        let pi = tn.inspect("policys", "default:p2");
        assert_eq!(pi["Oper"].get("numEndpoints"), None);
        endpoint(tn, "default", "n1", "g1", "ep1");
        let pi = tn.inspect("policys", "default:p2");
        assert_eq!(pi["Oper"]["numEndpoints"], 1);
    }

    /// Every delete guard, with the original's messages.
    fn delete_guards(tn: &TestNetmaster) {
        tn.create("tenants", "t1", json!({"tenantName": "t1"}));
        tn.create(
            "netprofiles",
            "t1:np1",
            json!({"tenantName": "t1", "profileName": "np1", "bandwidth": "1gbps"}),
        );
        tn.fails(
            "DELETE",
            "/api/v1/tenants/t1/",
            None,
            409,
            "Cannot delete t1 has 1 netprofiles",
        );
        tn.create(
            "policys",
            "t1:p1",
            json!({"tenantName": "t1", "policyName": "p1"}),
        );
        tn.fails(
            "DELETE",
            "/api/v1/tenants/t1/",
            None,
            409,
            "cannot delete t1 has 1 policies",
        );
        post_net(tn, &net("t1", "n1", "10.1.1.0/24"));
        tn.create(
            "extContractsGroups",
            "t1:ec1",
            json!({"tenantName": "t1", "contractsGroupName": "ec1",
            "contractsType": "consumed", "contracts": ["uni/tn-common/brc-default"]}),
        );
        let mut g = epg("t1", "g1", "n1");
        g["netProfile"] = json!("np1");
        g["policies"] = json!(["p1"]);
        g["extContractsGrps"] = json!(["ec1"]);
        tn.create("endpointGroups", "t1:g1", g);
        tn.fails(
            "DELETE",
            "/api/v1/tenants/t1/",
            None,
            409,
            "cannot delete t1 has 1 endpoint groups",
        );
        tn.create(
            "appProfiles",
            "t1:ap1",
            json!({"tenantName": "t1", "appProfileName": "ap1", "endpointGroups": ["g1"]}),
        );
        tn.create("aciGws", "aciGw", aci_gw("yes"));
        tn.fails(
            "DELETE",
            "/api/v1/tenants/t1/",
            None,
            409,
            "cannot delete t1, has 1 app profiles",
        );
        tn.fails(
            "DELETE",
            "/api/v1/aciGws/aciGw/",
            None,
            409,
            "1 App-Profiles found. Delete them first",
        );
        tn.fails(
            "DELETE",
            "/api/v1/endpointGroups/t1:g1/",
            None,
            409,
            "Cannot delete g1, associated to appProfile t1:ap1",
        );
        tn.fails(
            "DELETE",
            "/api/v1/networks/t1:n1/",
            None,
            409,
            "cannot delete n1 has 1 endpoint groups",
        );
        tn.fails(
            "DELETE",
            "/api/v1/netprofiles/t1:np1/",
            None,
            409,
            "NetProfile is being used",
        );
        tn.fails(
            "DELETE",
            "/api/v1/policys/t1:p1/",
            None,
            409,
            "Policy is being used",
        );
        tn.fails(
            "DELETE",
            "/api/v1/extContractsGroups/t1:ec1/",
            None,
            409,
            "in use by endpoint group g1",
        );
        tn.remove("appProfiles", "t1:ap1");
        tn.remove("aciGws", "aciGw");
        // Endpoints keep their group and network.
        endpoint(tn, "t1", "n1", "g1", "ep1");
        tn.fails(
            "DELETE",
            "/api/v1/endpointGroups/t1:g1/",
            None,
            409,
            "Error: EndpointGroup g1 has 1 active endpoints",
        );
        tn.ok("DELETE", "/api/v1/agent/endpoints/t1:n1/ep1/", None);
        tn.remove("endpointGroups", "t1:g1");
        endpoint(tn, "t1", "n1", "", "ep2");
        tn.fails(
            "DELETE",
            "/api/v1/networks/t1:n1/",
            None,
            409,
            "Error: Network has active endpoints",
        );
        tn.ok("DELETE", "/api/v1/agent/endpoints/t1:n1/ep2/", None);
        tn.create(
            "serviceLBs",
            "t1:s1",
            json!({"tenantName": "t1", "serviceName": "s1", "networkName": "n1",
            "selectors": ["a=b"], "ports": ["80:80:TCP"]}),
        );
        tn.fails(
            "DELETE",
            "/api/v1/networks/t1:n1/",
            None,
            409,
            "cannot delete n1 has 1 services",
        );
        tn.fails(
            "DELETE",
            "/api/v1/tenants/t1/",
            None,
            409,
            "cannot delete t1 has 1 policies",
        );
        tn.remove("policys", "t1:p1");
        tn.remove("netprofiles", "t1:np1");
        tn.remove("extContractsGroups", "t1:ec1");
        tn.fails(
            "DELETE",
            "/api/v1/tenants/t1/",
            None,
            409,
            "cannot delete t1 has 1 networks",
        );
        tn.remove("serviceLBs", "t1:s1");
        tn.remove("networks", "t1:n1");
        tn.remove("tenants", "t1");
        assert_eq!(tn.list_keys("tenants"), ["default"]);
        assert_eq!(tn.keys_under("oper/tenant/t1"), Vec::<String>::new());
    }

    /// Updates the original refused.
    fn refused_updates(tn: &TestNetmaster) {
        tn.create("tenants", "t1", json!({"tenantName": "t1"}));
        tn.fails(
            "POST",
            "/api/v1/tenants/t1/",
            Some(&json!({"tenantName": "t1", "defaultNetwork": "n1"})),
            409,
            "Cant change tenant parameters after its created",
        );
        post_net(tn, &net("t1", "n1", "10.1.1.0/24"));
        let mut changed = net("t1", "n1", "10.1.1.0/24");
        changed["gateway"] = json!("10.1.1.254");
        tn.fails(
            "PUT",
            "/api/v1/networks/t1:n1/",
            Some(&changed),
            409,
            "Cant change network parameters after its created",
        );
    }

    /// TestServicePreferredIP: a preferred VIP is honoured; a taken one is
    /// refused; others get the lowest free address.
    fn service_preferred_ip(tn: &TestNetmaster) {
        post_net(
            tn,
            &json!({"tenantName": "default", "networkName": "n1", "encap": "vxlan",
            "subnet": "10.1.1.0/24", "gateway": "10.1.1.254"}),
        );
        let svc = |name: &str, ip: Option<&str>| {
            let mut s = json!({"tenantName": "default", "serviceName": name, "networkName": "n1",
                "selectors": ["app=web", "tier=fe"], "ports": ["80:8080:TCP", "443:8443:tcp"]});
            if let Some(ip) = ip {
                s["ipAddress"] = json!(ip);
            }
            s
        };
        tn.create("serviceLBs", "default:s1", svc("s1", Some("10.1.1.3")));
        assert_eq!(
            tn.inspect("serviceLBs", "default:s1")["Oper"]["serviceVip"],
            "10.1.1.3"
        );
        tn.fails(
            "POST",
            "/api/v1/serviceLBs/default:s2/",
            Some(&svc("s2", Some("10.1.1.3"))),
            409,
            "10.1.1.3",
        );
        tn.fails(
            "POST",
            "/api/v1/serviceLBs/default:s2/",
            Some(&svc("s2", Some("10.9.9.9"))),
            400,
            "10.9.9.9",
        );
        tn.fails(
            "POST",
            "/api/v1/serviceLBs/default:s2/",
            Some(&svc("s2", Some("10.1.1.254"))),
            409,
            "10.1.1.254",
        );
        tn.create("serviceLBs", "default:s2", svc("s2", None));
        assert_eq!(
            tn.inspect("serviceLBs", "default:s2")["Oper"]["serviceVip"],
            "10.1.1.1"
        );
        let mut bad = svc("s3", None);
        bad["selectors"] = json!([]);
        tn.fails(
            "POST",
            "/api/v1/serviceLBs/default:s3/",
            Some(&bad),
            400,
            "selector",
        );
        bad["selectors"] = json!(["a==b"]);
        tn.fails(
            "POST",
            "/api/v1/serviceLBs/default:s3/",
            Some(&bad),
            400,
            "selector",
        );
        let mut bad = svc("s3", None);
        bad["ports"] = json!(["80:8080"]);
        tn.fails(
            "POST",
            "/api/v1/serviceLBs/default:s3/",
            Some(&bad),
            400,
            "port",
        );
        let mut bad = svc("s3", None);
        bad["networkName"] = json!("nope");
        tn.fails(
            "POST",
            "/api/v1/serviceLBs/default:s3/",
            Some(&bad),
            404,
            "Network nope not found",
        );
        // Providers are the tenant's endpoints whose labels match.
        tn.ok(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": "p1", "network": "n1", "host": "h1",
            "labels": {"app": "web", "tier": "fe"}})),
        );
        tn.ok(
            "POST",
            "/api/v1/agent/endpoints/",
            Some(&json!({"id": "p2", "network": "n1", "host": "h1",
            "labels": {"app": "web"}})),
        );
        let o = tn.inspect("serviceLBs", "default:s1")["Oper"].clone();
        assert_eq!(o["numProviders"], 1, "{o}");
        assert_eq!(o["providers"][0]["endpointID"], "p1");
        // The VIPs are not handed to endpoints.
        let ips: Vec<String> = ["p1", "p2"]
            .iter()
            .map(|id| {
                tn.ok("GET", &format!("/api/v1/inspect/endpoints/{id}/"), None)["Oper"]["ipAddress"]
                    [0]
                .as_str()
                .unwrap()
                .to_owned()
            })
            .collect();
        assert_eq!(ips, ["10.1.1.2", "10.1.1.4"]);
        // Delete frees the VIP.
        tn.remove("serviceLBs", "default:s1");
        tn.create("serviceLBs", "default:s3", svc("s3", Some("10.1.1.3")));
    }

    /// EPG ip pools: carved out of the network, must be free and inside
    /// the subnet, allocated from by endpoints, given back on delete.
    fn epg_ip_pools(tn: &TestNetmaster) {
        post_net(
            tn,
            &json!({"tenantName": "default", "networkName": "n1", "encap": "vxlan",
            "subnet": "10.1.1.0/24", "gateway": "10.1.1.254"}),
        );
        let mut g = epg("default", "g1", "n1");
        g["ipPool"] = json!("10.1.1.10-10.1.1.20");
        tn.create("endpointGroups", "default:g1", g);
        let ni = tn.inspect("networks", "default:n1");
        assert_eq!(
            ni["Oper"]["allocatedIPAddresses"],
            "10.1.1.10-10.1.1.20, 10.1.1.254"
        );
        let mut g2 = epg("default", "g2", "n1");
        g2["ipPool"] = json!("10.1.1.15-10.1.1.30");
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g2/",
            Some(&g2),
            409,
            "10.1.1.15",
        );
        g2["ipPool"] = json!("10.2.1.1-10.2.1.5");
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g2/",
            Some(&g2),
            400,
            "10.2.1.1",
        );
        g2["ipPool"] = json!("10.1.1.250-10.1.1.254");
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g2/",
            Some(&g2),
            409,
            "10.1.1.254",
        );
        let e = endpoint(tn, "default", "n1", "g1", "ep1");
        assert_eq!(e["endpoint"]["ipv4"], "10.1.1.10");
        let e = endpoint(tn, "default", "n1", "", "ep2");
        assert_eq!(
            e["endpoint"]["ipv4"], "10.1.1.1",
            "outside the group: from the rest of the network"
        );
        let gi = tn.inspect("endpointGroups", "default:g1");
        assert_eq!(gi["Oper"]["allocatedIPAddresses"], "10.1.1.10");
        assert_eq!(gi["Oper"]["availableIPAddresses"], "10.1.1.11-10.1.1.20");
        assert_eq!(gi["Oper"]["numEndpoints"], 1);
        assert_eq!(gi["Oper"]["groupTag"], "g1.default");
        tn.ok("DELETE", "/api/v1/agent/endpoints/default:n1/ep1/", None);
        tn.remove("endpointGroups", "default:g1");
        let ni = tn.inspect("networks", "default:n1");
        assert_eq!(
            ni["Oper"]["allocatedIPAddresses"], "10.1.1.1, 10.1.1.254",
            "the pool went back"
        );
        g2["ipPool"] = json!("10.1.1.15-10.1.1.30");
        tn.create("endpointGroups", "default:g2", g2);
    }

    /// The Oper halves of inspect, with the original's formats.
    fn inspect_oper(tn: &TestNetmaster) {
        post_net(
            tn,
            &json!({"tenantName": "default", "networkName": "n1", "encap": "vxlan",
            "subnet": "10.1.1.0/24", "gateway": "10.1.1.254", "pktTag": 1001}),
        );
        tn.create(
            "policys",
            "default:p1",
            json!({"tenantName": "default", "policyName": "p1"}),
        );
        let mut g = epg("default", "g1", "n1");
        g["policies"] = json!(["p1"]);
        tn.create("endpointGroups", "default:g1", g);
        for i in 1..=3 {
            tn.ok("POST", "/api/v1/agent/endpoints/", Some(&json!({"id": format!("ep{i}"), "network": "n1",
                "group": "g1", "host": "h1", "container_id": format!("c0ffee{i}"), "container_name": format!("web-{i}"),
                "intf_name": format!("port{i}"), "labels": {"app": "web"}})));
        }
        let o = tn.inspect("networks", "default:n1")["Oper"].clone();
        assert_eq!(o["allocatedIPAddresses"], "10.1.1.1-10.1.1.3, 10.1.1.254");
        assert_eq!(
            o["allocatedAddressesCount"], 3,
            "endpoint addresses, as the original's EpAddrCount"
        );
        assert_eq!(o["numEndpoints"], 3);
        assert_eq!(o["externalPktTag"], 1001);
        assert_eq!(o["pktTag"], 1);
        assert_eq!(o["endpoints"].as_array().unwrap().len(), 3);
        let ep = &o["endpoints"][0];
        assert_eq!(ep["endpointID"], "ep1");
        assert_eq!(ep["ipAddress"], json!(["10.1.1.1", ""]));
        assert_eq!(ep["macAddress"], "02:02:0a:01:01:01");
        assert_eq!(ep["network"], "n1.default");
        assert_eq!(ep["endpointGroupKey"], "g1:default");
        assert_eq!(ep["serviceName"], "g1");
        assert_eq!(ep["homingHost"], "h1");
        assert_eq!(ep["labels"], "map[app:web]");
        assert_eq!(ep["virtualPort"], "vport1");
        let t = tn.inspect("tenants", "default")["Oper"].clone();
        assert_eq!(
            (
                t["totalNetworks"].clone(),
                t["totalEPGs"].clone(),
                t["totalPolicies"].clone(),
                t["totalEndpoints"].clone()
            ),
            (json!(1), json!(1), json!(1), json!(3))
        );
        let gl = tn.inspect("globals", "global")["Oper"].clone();
        assert_eq!(gl["vxlansInUse"], "1001");
        assert_eq!(gl["numNetworks"], 1);
        // inspect endpoints/<key>: the first endpoint whose id, container
        // id or container name contains the key.
        let e = tn.ok("GET", "/api/v1/inspect/endpoints/c0ffee2/", None);
        assert_eq!(e["Oper"]["endpointID"], "ep2");
        let e = tn.ok("GET", "/api/v1/inspect/endpoints/web-3/", None);
        assert_eq!(e["Oper"]["ipAddress"][0], "10.1.1.3");
        tn.fails(
            "GET",
            "/api/v1/inspect/endpoints/nothing-like-it/",
            None,
            404,
            "endpoint not found",
        );
        tn.fails(
            "GET",
            "/api/v1/inspect/networks/default:n2/",
            None,
            404,
            "network not found",
        );
    }

    /// TestNetprofile*, TestAppProfile, TestExtContractsGroups,
    /// TestAciGwSetting, TestBgp: their validation and reference checks.
    fn profiles_contracts_aci_bgp(tn: &TestNetmaster) {
        let np = |extra: Value| {
            let mut n = json!({"tenantName": "default", "profileName": "np1", "bandwidth": "100 Mbps", "DSCP": 10, "burst": 200});
            for (k, v) in extra.as_object().unwrap() {
                n[k] = v.clone();
            }
            n
        };
        for (extra, msg) in [
            (json!({"burst": 1}), "Invalid Burst size"),
            (json!({"DSCP": 64}), "DSCP"),
            (json!({"bandwidth": "10 xbps"}), "bandwidth"),
        ] {
            tn.fails(
                "POST",
                "/api/v1/netprofiles/default:np1/",
                Some(&np(extra)),
                400,
                msg,
            );
        }
        let mut other = np(json!({}));
        other["tenantName"] = json!("nope");
        tn.fails(
            "POST",
            "/api/v1/netprofiles/nope:np1/",
            Some(&other),
            404,
            "Tenant not found",
        );
        tn.create("netprofiles", "default:np1", np(json!({})));
        // Updating a profile in use is allowed (agents apply it).
        post_net(tn, &net("default", "n1", "10.1.1.0/24"));
        let mut g = epg("default", "g1", "n1");
        g["netProfile"] = json!("np1");
        tn.create("endpointGroups", "default:g1", g);
        tn.create(
            "netprofiles",
            "default:np1",
            np(json!({"bandwidth": "18Mb", "burst": 300})),
        );
        assert_eq!(
            tn.ok("GET", "/api/v1/netprofiles/default:np1/", None)["bandwidth"],
            "18Mb"
        );

        // App profiles name existing groups of their tenant.
        tn.fails("POST", "/api/v1/appProfiles/default:ap1/",
            Some(&json!({"tenantName": "default", "appProfileName": "ap1", "endpointGroups": ["g1", "gx"]})),
            404, "EndpointGroup default:gx not found");
        tn.fails(
            "POST",
            "/api/v1/appProfiles/nope:ap1/",
            Some(&json!({"tenantName": "nope", "appProfileName": "ap1", "endpointGroups": []})),
            404,
            "Tenant nope not found",
        );
        tn.create(
            "appProfiles",
            "default:ap1",
            json!({"tenantName": "default", "appProfileName": "ap1", "endpointGroups": ["g1"]}),
        );

        // External contracts: provided or consumed, at least one contract.
        let ec = |t: &str| {
            json!({"tenantName": "default", "contractsGroupName": "ec1", "contractsType": t,
            "contracts": ["uni/tn-common/brc-default"]})
        };
        tn.fails(
            "POST",
            "/api/v1/extContractsGroups/default:ec1/",
            Some(&ec("offered")),
            400,
            "either 'provided' or 'consumed'",
        );
        tn.create("extContractsGroups", "default:ec1", ec("consumed"));
        let mut g2 = epg("default", "g2", "n1");
        g2["extContractsGrps"] = json!(["ec9"]);
        tn.fails(
            "POST",
            "/api/v1/endpointGroups/default:g2/",
            Some(&g2),
            404,
            "ec9",
        );

        // The ACI gateway's bindings have fixed formats.
        let mut aci = aci_gw("yes");
        aci["pathBindings"] = json!("topology/pod-1/paths-101/eth1/14");
        tn.fails(
            "POST",
            "/api/v1/aciGws/aciGw/",
            Some(&aci),
            400,
            "pathBindings",
        );
        let mut aci = aci_gw("yes");
        aci["nodeBindings"] = json!("topology/pod-1/node");
        tn.fails(
            "POST",
            "/api/v1/aciGws/aciGw/",
            Some(&aci),
            400,
            "nodeBindings",
        );
        let mut aci = aci_gw("maybe");
        aci["name"] = json!("aciGw");
        tn.fails(
            "POST",
            "/api/v1/aciGws/aciGw/",
            Some(&aci),
            400,
            "enforcePolicies",
        );
        tn.create("aciGws", "aciGw", aci_gw("no"));

        // BGP.
        let bgp = |router: &str| json!({"hostname": "h1", "routerip": router, "as": "65002", "neighbor-as": "500", "neighbor": "50.1.1.2"});
        tn.fails(
            "POST",
            "/api/v1/Bgps/h1/",
            Some(&bgp("50.1.1.1")),
            400,
            "routerip",
        );
        tn.fails(
            "POST",
            "/api/v1/Bgps/h2/",
            Some(&bgp("50.1.1.1/24")),
            400,
            "Invalid Key",
        );
        tn.create("Bgps", "h1", bgp("50.1.1.1/24"));
        let bi = tn.inspect("Bgps", "h1");
        assert_eq!(bi["Config"]["routerip"], "50.1.1.1/24");
        tn.remove("Bgps", "h1");
    }

    /// Errors say what is wrong, with meaningful status codes.
    fn errors_are_meaningful(tn: &TestNetmaster) {
        tn.fails("GET", "/api/v1/widgets/", None, 404, "unknown collection");
        tn.fails(
            "POST",
            "/api/v1/widgets/a/",
            Some(&json!({})),
            404,
            "unknown collection",
        );
        tn.fails(
            "GET",
            "/api/v1/networks/default:nope/",
            None,
            404,
            "network not found",
        );
        tn.fails(
            "GET",
            "/api/v1/endpointGroups/default:db/",
            None,
            404,
            "endpointGroup not found",
        );
        let r = tn
            .client
            .send("POST", "/api/v1/networks/default:x/", Some("{not json"));
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.body.starts_with("invalid network body"), "{}", r.body);
        let r = tn.client.send(
            "POST",
            "/api/v1/networks/default:x/",
            Some(r#"{"pktTag": "12"}"#),
        );
        assert_eq!(r.status, 400, "{}", r.body);
        let r = tn
            .client
            .send("PATCH", "/api/v1/networks/default:x/", Some("{}"));
        assert_eq!(r.status, 405, "{:?}", r);
        // Success answers are JSON.
        let r = tn.client.get("/api/v1/networks/");
        assert_eq!(
            (r.status, r.content_type.as_str(), r.body.as_str()),
            (200, "application/json", "[]")
        );
    }

    trait PutOk {
        fn put_ok(&self, coll: &str, key: &str, body: Value) -> Value;
    }
    impl PutOk for TestNetmaster {
        fn put_ok(&self, coll: &str, key: &str, body: Value) -> Value {
            self.ok("PUT", &format!("/api/v1/{coll}/{key}/"), Some(&body))
        }
    }

    macro_rules! on_every_store {
        ($($case:ident),* $(,)?) => {
            mod embedded {
                $( #[test] fn $case() {
                    let tn = super::TestNetmaster::start(super::super::support::Backend::Embedded);
                    assert_eq!(tn.store.backend_name(), "embedded");
                    super::$case(&tn);
                } )*
            }
            mod etcd {
                $( #[test] fn $case() {
                    let tn = super::TestNetmaster::start(super::super::support::Backend::Etcd);
                    assert_eq!(tn.store.backend_name(), "etcd");
                    super::$case(&tn);
                } )*
            }
        };
    }

    on_every_store!(
        defaults_exist_at_start,
        crud_every_collection,
        idempotent_repost_changes_nothing,
        network_add_delete,
        overlapping_subnets,
        network_pkt_ranges,
        dynamic_global_ranges,
        global_settings,
        policy_rules,
        incoming_rule_to_ip,
        epg_policies,
        delete_guards,
        refused_updates,
        service_preferred_ip,
        epg_ip_pools,
        inspect_oper,
        profiles_contracts_aci_bgp,
        errors_are_meaningful,
    );
}
