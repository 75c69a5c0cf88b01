//! Request construction: which method, path and body every netctl command
//! produces (beyond the seed commands), checked against a scripted
//! netmaster that records what it receives. Includes the read-modify-write
//! commands (`global set`, `aci-gw set`) and their overlay rules.

#[cfg(test)]
mod netctl {
    use contiv_bins::netctl::error::Exit;
    use contiv_bins::netctl::request::Method::{self, Delete, Get, Post};
    use contiv_bins::netctl::testing::{Outcome, ScriptedNetmaster};
    use serde_json::{Value, json};

    const GLOBAL: &str = r#"{"key":"global","arpMode":"proxy","fwdMode":"routing","name":"global","networkInfraType":"default","pvtSubnet":"172.20.0.0/16","vlans":"1-4094","vxlans":"1-10000"}"#;

    fn netmaster() -> ScriptedNetmaster {
        ScriptedNetmaster::new()
            .get("/api/v1/tenants/default/", r#"{"tenantName":"default"}"#)
            .get("/api/v1/tenants/blue/", r#"{"tenantName":"blue"}"#)
            .get("/api/v1/globals/global/", GLOBAL)
            .get("/api/v1/globals/", &format!("[{GLOBAL}]"))
            .get(
                "/api/v1/appProfiles/default:shop/",
                r#"{"appProfileName":"shop","endpointGroups":["web","db"],"tenantName":"default"}"#,
            )
            .on(Get, "/api/v1/aciGws/aciGw/", 404, "aciGw not found")
            .fallback(200, "[]")
    }

    fn run(args: &str) -> Outcome {
        let args: Vec<&str> = args.split_whitespace().collect();
        let out = netmaster().run(&args);
        assert_eq!(out.exit, Exit::Success, "netctl {args:?}: {}", out.stderr);
        out
    }

    fn sent(out: &Outcome) -> Vec<(Method, String, Option<Value>)> {
        out.requests
            .iter()
            .map(|r| (r.method, r.path.clone(), r.body_json()))
            .collect()
    }

    /// One request without body.
    fn one(method: Method, path: &str) -> Vec<(Method, String, Option<Value>)> {
        vec![(method, path.to_owned(), None)]
    }

    #[test]
    fn inspect_commands_use_the_inspect_paths() {
        let cases = [
            (
                "net inspect -t blue web",
                "/api/v1/inspect/networks/blue:web/",
            ),
            (
                "group inspect db",
                "/api/v1/inspect/endpointGroups/default:db/",
            ),
            (
                "ep inspect 27eedc376ef4",
                "/api/v1/inspect/endpoints/27eedc376ef4/",
            ),
            ("endpoint inspect web.1", "/api/v1/inspect/endpoints/web.1/"),
            (
                "netprofile inspect gold",
                "/api/v1/inspect/netprofiles/default:gold/",
            ),
            ("tenant inspect blue", "/api/v1/inspect/tenants/blue/"),
            (
                "policy inspect -t blue p",
                "/api/v1/inspect/policys/blue:p/",
            ),
            ("global inspect", "/api/v1/inspect/globals/global/"),
            ("aci-gw inspect", "/api/v1/inspect/aciGws/aciGw/"),
            ("bgp inspect host1", "/api/v1/inspect/Bgps/host1/"),
            (
                "service inspect svc",
                "/api/v1/inspect/serviceLBs/default:svc/",
            ),
        ];
        for (cmd, path) in cases {
            assert_eq!(sent(&run(cmd)), one(Get, path), "netctl {cmd}");
        }
    }

    #[test]
    fn delete_commands_and_their_aliases() {
        let cases = [
            ("net rm web", "/api/v1/networks/default:web/"),
            ("network delete -t blue web", "/api/v1/networks/blue:web/"),
            ("group rm db", "/api/v1/endpointGroups/default:db/"),
            (
                "netprofile delete gold",
                "/api/v1/netprofiles/default:gold/",
            ),
            ("tenant rm blue", "/api/v1/tenants/blue/"),
            ("policy delete p", "/api/v1/policys/default:p/"),
            ("policy rule-rm -t blue p 7", "/api/v1/rules/blue:p:7/"),
            (
                "external-contracts rm -t blue ext",
                "/api/v1/extContractsGroups/blue:ext/",
            ),
            ("bgp delete host1", "/api/v1/Bgps/host1/"),
            ("app-profile rm shop", "/api/v1/appProfiles/default:shop/"),
            ("service delete svc", "/api/v1/serviceLBs/default:svc/"),
        ];
        for (cmd, path) in cases {
            assert_eq!(sent(&run(cmd)), one(Delete, path), "netctl {cmd}");
        }
    }

    #[test]
    fn tenant_scoped_listings_check_the_tenant_first() {
        let cases = [
            ("net list -a", "default", "/api/v1/networks/"),
            ("group ls -t blue", "blue", "/api/v1/endpointGroups/"),
            ("netprofile ls", "default", "/api/v1/netprofiles/"),
            ("policy list -a", "default", "/api/v1/policys/"),
            (
                "external-contracts ls",
                "default",
                "/api/v1/extContractsGroups/",
            ),
            ("app-profile ls -t blue", "blue", "/api/v1/appProfiles/"),
            ("service ls", "default", "/api/v1/serviceLBs/"),
        ];
        for (cmd, tenant, path) in cases {
            assert_eq!(
                sent(&run(cmd)),
                vec![
                    (Get, format!("/api/v1/tenants/{tenant}/"), None),
                    (Get, path.to_owned(), None)
                ],
                "netctl {cmd}"
            );
        }
        assert_eq!(sent(&run("bgp ls")), one(Get, "/api/v1/Bgps/"));
        assert_eq!(sent(&run("tenant list")), one(Get, "/api/v1/tenants/"));
        assert_eq!(sent(&run("global info")), one(Get, "/api/v1/globals/"));
        assert_eq!(sent(&run("aci-gw info")), one(Get, "/api/v1/aciGws/"));
    }

    fn post_body(cmd: &str) -> (String, Value) {
        let out = run(cmd);
        assert_eq!(out.requests.len(), 1, "netctl {cmd}: {:?}", out.requests);
        let r = &out.requests[0];
        assert_eq!(r.method, Post, "netctl {cmd}");
        (r.path.clone(), r.body_json().unwrap())
    }

    #[test]
    fn network_create_with_every_flag() {
        let (path, body) = post_body(
            "net create -t blue -n infra -e vlan -p 100 -s 10.1.1.10-10.1.1.20/24 -g 10.1.1.1 \
             -s6 2001::/100 -g6 2001::1 -tag blue-web web",
        );
        assert_eq!(path, "/api/v1/networks/blue:web/");
        assert_eq!(
            body,
            json!({
                "key": "blue:web", "cfgdTag": "blue-web", "encap": "vlan", "gateway": "10.1.1.1",
                "ipv6Gateway": "2001::1", "ipv6Subnet": "2001::/100", "networkName": "web",
                "nwType": "infra", "pktTag": 100, "subnet": "10.1.1.10-10.1.1.20/24",
                "tenantName": "blue"
            })
        );
    }

    #[test]
    fn group_create_with_every_flag() {
        let (path, body) = post_body(
            "group create -t blue -p a -p b -n gold -e ext1 -e ext2 -r 10.1.1.5-10.1.1.9 -tag g1 net1 db",
        );
        assert_eq!(path, "/api/v1/endpointGroups/blue:db/");
        assert_eq!(
            body,
            json!({
                "key": "blue:db", "cfgdTag": "g1", "extContractsGrps": ["ext1", "ext2"],
                "groupName": "db", "ipPool": "10.1.1.5-10.1.1.9", "netProfile": "gold",
                "networkName": "net1", "policies": ["a", "b"], "tenantName": "blue"
            })
        );
    }

    #[test]
    fn netprofile_rule_bgp_service_app_profile_contracts_bodies() {
        let (path, body) = post_body("netprofile create -b 100Mbps -d 6 -s 80 gold");
        assert_eq!(path, "/api/v1/netprofiles/default:gold/");
        assert_eq!(
            body,
            json!({"key": "default:gold", "DSCP": 6, "bandwidth": "100Mbps", "burst": 80,
                   "profileName": "gold", "tenantName": "default"})
        );

        let (path, body) =
            post_body("policy rule-add -d out -s 10.0.0.0/8 -l udp -P 53 -j deny -p 9 p 4");
        assert_eq!(path, "/api/v1/rules/default:p:4/");
        assert_eq!(
            body,
            json!({"key": "default:p:4", "action": "deny", "direction": "out", "policyName": "p",
                   "port": 53, "priority": 9, "protocol": "udp", "ruleId": "4",
                   "tenantName": "default", "toIpAddress": "10.0.0.0/8"})
        );

        let (path, body) = post_body(
            "bgp create host1 --router-ip=50.1.1.1/24 --as=65002 --neighbor-as=500 --neighbor=50.1.1.2",
        );
        assert_eq!(path, "/api/v1/Bgps/host1/");
        assert_eq!(
            body,
            json!({"key": "host1", "as": "65002", "hostname": "host1", "neighbor": "50.1.1.2",
                   "neighbor-as": "500", "routerip": "50.1.1.1/24"})
        );

        let (path, body) = post_body(
            "service create -s contiv-net -l app=web -l tier=fe -p 80:8080:TCP -ip 20.1.1.100 web-svc",
        );
        assert_eq!(path, "/api/v1/serviceLBs/default:web-svc/");
        assert_eq!(
            body,
            json!({"key": "default:web-svc", "ipAddress": "20.1.1.100", "networkName": "contiv-net",
                   "ports": ["80:8080:TCP"], "selectors": ["app=web", "tier=fe"],
                   "serviceName": "web-svc", "tenantName": "default"})
        );

        for verb in ["create", "update"] {
            let (path, body) = post_body(&format!("app-profile {verb} -g web,db shop"));
            assert_eq!(path, "/api/v1/appProfiles/default:shop/");
            assert_eq!(
                body,
                json!({"key": "default:shop", "appProfileName": "shop",
                       "endpointGroups": ["web", "db"], "tenantName": "default"})
            );
        }

        let (path, body) =
            post_body("external-contracts create -p -a uni/tn-common/brc-default -a uni/x ext");
        assert_eq!(path, "/api/v1/extContractsGroups/default:ext/");
        assert_eq!(
            body,
            json!({"key": "default:ext", "contracts": ["uni/tn-common/brc-default", "uni/x"],
                   "contractsGroupName": "ext", "contractsType": "provided",
                   "tenantName": "default"})
        );
    }

    #[test]
    fn global_set_overlays_only_the_given_flags() {
        // The current private subnet (172.20.0.0/16, not the original's flag
        // default 172.19.0.0/16) must be sent back unchanged: §9.2 item 14.
        let out = run("global set -b bridge -v 100-200");
        let current: Value = serde_json::from_str(GLOBAL).unwrap();
        let mut expected = current.clone();
        expected["fwdMode"] = json!("bridge");
        expected["vlans"] = json!("100-200");
        assert_eq!(
            sent(&out),
            vec![
                (Get, "/api/v1/globals/global/".to_owned(), None),
                (Post, "/api/v1/globals/global/".to_owned(), Some(expected)),
            ]
        );

        let out = run("global set --private-subnet=172.21.0.0/16 -a flood -x 1-500 -f aci");
        let body = out.requests[1].body_json().unwrap();
        assert_eq!(body["pvtSubnet"], "172.21.0.0/16");
        assert_eq!(body["arpMode"], "flood");
        assert_eq!(body["vxlans"], "1-500");
        assert_eq!(body["networkInfraType"], "aci");
        assert_eq!(body["fwdMode"], "routing");

        // No flag: the object goes back exactly as read.
        let out = run("global set");
        assert_eq!(out.requests[1].body_json().unwrap(), current);
    }

    #[test]
    fn aci_gw_set_creates_the_object_with_the_defaults() {
        let out = run("aci-gw set -p topology/pod-1/paths-101/pathep-[eth1/14] -d containerDom");
        assert_eq!(
            sent(&out),
            vec![
                (Get, "/api/v1/aciGws/aciGw/".to_owned(), None),
                (
                    Post,
                    "/api/v1/aciGws/aciGw/".to_owned(),
                    Some(json!({"key": "aciGw", "enforcePolicies": "yes",
                                "includeCommonTenant": "no", "name": "aciGw",
                                "pathBindings": "topology/pod-1/paths-101/pathep-[eth1/14]",
                                "physicalDomain": "containerDom"}))
                ),
            ]
        );
    }

    #[test]
    fn bgp_ls_quiet_prints_hostnames() {
        // §9.2 item 13: the original's `-q` never worked for bgp ls.
        let nm = ScriptedNetmaster::new().get(
            "/api/v1/Bgps/",
            r#"[{"hostname":"host1","routerip":"1.1.1.1/24"},{"hostname":"host2"}]"#,
        );
        let out = nm.run(&["bgp", "ls", "-q"]);
        assert_eq!(out.exit, Exit::Success);
        assert_eq!(out.stdout, "host1\nhost2\n");
        let table = nm.run(&["bgp", "ls"]).stdout;
        assert_eq!(
            table,
            "HostName   RouterIP    AS       Neighbor  NeighborAS\n\
             ---------  --------    -------  --------  -------\n\
             host1      1.1.1.1/24                     \n\
             host2                                     \n"
        );
    }

    #[test]
    fn listing_filters_by_tenant_and_prints_json_as_received() {
        let nets = r#"[{"key":"default:a","networkName":"a","tenantName":"default","zz":1},
                       {"key":"blue:b","networkName":"b","tenantName":"blue"}]"#;
        let nm = netmaster().get("/api/v1/networks/", nets).on(
            Get,
            "/api/v1/tenants/green/",
            404,
            "tenant green not found",
        );
        assert_eq!(nm.run(&["net", "ls", "-q"]).stdout, "a\n");
        assert_eq!(nm.run(&["net", "ls", "-q", "-t", "blue"]).stdout, "b\n");
        assert_eq!(nm.run(&["net", "ls", "-q", "-a"]).stdout, "a\nb\n");
        // -j keeps the server's member order and unknown members.
        assert_eq!(
            nm.run(&["net", "ls", "-j"]).stdout,
            "[\n  {\n    \"key\": \"default:a\",\n    \"networkName\": \"a\",\n    \"tenantName\": \"default\",\n    \"zz\": 1\n  }\n]\n"
        );
        // An unknown tenant is an error, as in the original.
        let out = nm.run(&["net", "ls", "-j", "-t", "green"]);
        assert_eq!(out.exit, Exit::Invalid);
        assert!(
            out.stderr.contains("msg=\"tenant green not found\""),
            "{}",
            out.stderr
        );
        assert_eq!(out.requests.len(), 1);
    }

    #[test]
    fn rule_ls_sorts_by_priority_and_splits_directions() {
        let rules = r#"[
            {"ruleId":"9","policyName":"p","tenantName":"default","direction":"out","priority":5,"action":"allow","toEndpointGroup":"db"},
            {"ruleId":"3","policyName":"p","tenantName":"default","direction":"in","priority":20,"action":"deny"},
            {"ruleId":"1","policyName":"p","tenantName":"default","direction":"in","priority":2,"action":"allow"},
            {"ruleId":"x","policyName":"other","tenantName":"default","direction":"in","priority":1}]"#;
        let nm = netmaster()
            .get("/api/v1/policys/default:p/", "{}")
            .get("/api/v1/rules/", rules);
        assert_eq!(
            nm.run(&["policy", "rule-ls", "-q", "p"]).stdout,
            "1\n9\n3\n"
        );
        let table = nm.run(&["policy", "rule-ls", "p"]).stdout;
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "Incoming Rules:");
        assert!(lines[3].starts_with("1     2 "), "{table}");
        assert!(lines[4].starts_with("3     20 "), "{table}");
        assert_eq!(lines[5], "Outgoing Rules:");
        assert!(lines[8].starts_with("9     5         db "), "{table}");
        assert_eq!(lines.len(), 9, "{table}");
    }

    #[test]
    fn app_profile_group_ls_prints_the_groups() {
        let out = run("app-profile group-ls shop");
        assert_eq!(out.stdout, "web,db\n");
        assert_eq!(sent(&out), one(Get, "/api/v1/appProfiles/default:shop/"));
    }
}
