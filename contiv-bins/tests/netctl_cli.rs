//! The command tree against reference/CONTIV.md §2: every command and
//! alias, every flag with its short form or Go alias, help text with an
//! example on every command, and the completion scripts.

#[cfg(test)]
mod netctl {
    use contiv_bins::netctl::cli;
    use contiv_bins::netctl::error::Exit;
    use contiv_bins::netctl::testing::ScriptedNetmaster;

    fn find<'a>(root: &'a clap::Command, path: &[&str]) -> &'a clap::Command {
        path.iter().fold(root, |cmd, name| {
            cmd.find_subcommand(name)
                .unwrap_or_else(|| panic!("no subcommand {name} in {path:?}"))
        })
    }

    #[test]
    fn command_tree_is_consistent() {
        cli::command().debug_assert();
    }

    #[test]
    fn every_command_and_alias_of_the_original_exists() {
        let root = cli::command();
        let paths: &[&[&str]] = &[
            &["version"],
            &["login"],
            &["completion"],
            &["network", "create"],
            &["net", "ls"],
            &["net", "list"],
            &["net", "inspect"],
            &["net", "rm"],
            &["net", "delete"],
            &["group", "create"],
            &["group", "ls"],
            &["group", "list"],
            &["group", "inspect"],
            &["group", "rm"],
            &["group", "delete"],
            &["endpoint", "inspect"],
            &["ep", "inspect"],
            &["netprofile", "create"],
            &["netprofile", "ls"],
            &["netprofile", "list"],
            &["netprofile", "inspect"],
            &["netprofile", "rm"],
            &["netprofile", "delete"],
            &["tenant", "create"],
            &["tenant", "ls"],
            &["tenant", "list"],
            &["tenant", "rm"],
            &["tenant", "delete"],
            &["tenant", "inspect"],
            &["policy", "create"],
            &["policy", "rm"],
            &["policy", "delete"],
            &["policy", "ls"],
            &["policy", "list"],
            &["policy", "inspect"],
            &["policy", "rule-add"],
            &["policy", "rule-rm"],
            &["policy", "rule-ls"],
            &["external-contracts", "create"],
            &["external-contracts", "ls"],
            &["external-contracts", "list"],
            &["external-contracts", "rm"],
            &["external-contracts", "delete"],
            &["global", "info"],
            &["global", "inspect"],
            &["global", "set"],
            &["aci-gw", "set"],
            &["aci-gw", "info"],
            &["aci-gw", "inspect"],
            &["bgp", "create"],
            &["bgp", "ls"],
            &["bgp", "list"],
            &["bgp", "rm"],
            &["bgp", "delete"],
            &["bgp", "inspect"],
            &["app-profile", "create"],
            &["app-profile", "update"],
            &["app-profile", "ls"],
            &["app-profile", "list"],
            &["app-profile", "rm"],
            &["app-profile", "delete"],
            &["app-profile", "group-ls"],
            &["app-profile", "group-list"],
            &["service", "create"],
            &["service", "ls"],
            &["service", "list"],
            &["service", "inspect"],
            &["service", "rm"],
            &["service", "delete"],
        ];
        for path in paths {
            find(&root, path);
        }
        let top: Vec<&str> = root.get_subcommands().map(|c| c.get_name()).collect();
        let mut sorted = top.clone();
        sorted.sort_unstable();
        assert_eq!(top, sorted, "top-level commands are listed by name");
    }

    /// `(command, long name, short form or Go alias)` from CONTIV.md §2.
    const FLAGS: &[(&[&str], &str, &str)] = &[
        (&["net", "create"], "tenant", "t"),
        (&["net", "create"], "nw-type", "n"),
        (&["net", "create"], "encap", "e"),
        (&["net", "create"], "pkt-tag", "p"),
        (&["net", "create"], "subnet", "s"),
        (&["net", "create"], "gateway", "g"),
        (&["net", "create"], "subnetv6", "s6"),
        (&["net", "create"], "gatewayv6", "g6"),
        (&["net", "create"], "nw-tag", "tag"),
        (&["net", "ls"], "tenant", "t"),
        (&["net", "ls"], "all", "a"),
        (&["net", "ls"], "json", "j"),
        (&["net", "ls"], "quiet", "q"),
        (&["group", "create"], "policy", "p"),
        (&["group", "create"], "networkprofile", "n"),
        (&["group", "create"], "external-contract", "e"),
        (&["group", "create"], "ip-pool", "r"),
        (&["group", "create"], "epg-tag", "tag"),
        (&["netprofile", "create"], "bandwidth", "b"),
        (&["netprofile", "create"], "dscp", "d"),
        (&["netprofile", "create"], "burst", "s"),
        (&["tenant", "ls"], "quiet", "q"),
        (&["tenant", "ls"], "json", "j"),
        (&["policy", "rule-add"], "priority", "p"),
        (&["policy", "rule-add"], "direction", "d"),
        (&["policy", "rule-add"], "from-group", "g"),
        (&["policy", "rule-add"], "to-group", "e"),
        (&["policy", "rule-add"], "from-network", "n"),
        (&["policy", "rule-add"], "to-network", "o"),
        (&["policy", "rule-add"], "from-ip-address", "i"),
        (&["policy", "rule-add"], "to-ip-address", "s"),
        (&["policy", "rule-add"], "protocol", "l"),
        (&["policy", "rule-add"], "port", "P"),
        (&["policy", "rule-add"], "action", "j"),
        (&["policy", "rule-ls"], "json", "j"),
        (&["policy", "rule-ls"], "quiet", "q"),
        (&["external-contracts", "create"], "consumed", "c"),
        (&["external-contracts", "create"], "provided", "p"),
        (&["external-contracts", "create"], "contract", "a"),
        (&["global", "info"], "json", "j"),
        (&["global", "set"], "fabric-mode", "f"),
        (&["global", "set"], "vlan-range", "v"),
        (&["global", "set"], "vxlan-range", "x"),
        (&["global", "set"], "fwd-mode", "b"),
        (&["global", "set"], "arp-mode", "a"),
        (&["global", "set"], "private-subnet", "s"),
        (&["aci-gw", "set"], "path-bindings", "p"),
        (&["aci-gw", "set"], "node-bindings", "n"),
        (&["aci-gw", "set"], "phys-dom", "d"),
        (&["aci-gw", "set"], "enforce-policies", "e"),
        (&["aci-gw", "set"], "include-common-tenant", "i"),
        (&["bgp", "ls"], "json", "j"),
        (&["bgp", "ls"], "quiet", "q"),
        (&["app-profile", "create"], "group", "g"),
        (&["service", "create"], "tenant", "t"),
        (&["service", "create"], "network", "s"),
        (&["service", "create"], "selector", "l"),
        (&["service", "create"], "port", "p"),
        (&["service", "create"], "preferred-ip", "ip"),
    ];

    #[test]
    fn every_flag_has_the_original_short_form_or_alias() {
        let root = cli::command();
        for (path, long, short) in FLAGS {
            let cmd = find(&root, path);
            let arg = cmd
                .get_arguments()
                .find(|a| a.get_long() == Some(long))
                .unwrap_or_else(|| panic!("{path:?} has no --{long}"));
            if short.chars().count() == 1 {
                assert_eq!(
                    arg.get_short().map(String::from).as_deref(),
                    Some(*short),
                    "{path:?} --{long}"
                );
            } else {
                let aliases = arg.get_all_aliases().unwrap_or_default();
                assert!(
                    aliases.contains(short),
                    "{path:?} --{long} lacks alias {short}"
                );
            }
        }
        let bgp = find(&root, &["bgp", "create"]);
        for long in ["router-ip", "as", "neighbor-as", "neighbor"] {
            assert!(
                bgp.get_arguments().any(|a| a.get_long() == Some(long)),
                "bgp create --{long}"
            );
        }
        for global in ["netmaster", "insecure", "token"] {
            let arg = root
                .get_arguments()
                .find(|a| a.get_long() == Some(global))
                .unwrap();
            assert!(arg.is_global_set(), "--{global} is global");
        }
    }

    #[test]
    fn every_command_explains_its_flags_and_shows_an_example() {
        fn walk(cmd: &clap::Command, path: &mut Vec<String>, leaves: &mut usize) {
            let subs: Vec<&clap::Command> = cmd.get_subcommands().collect();
            assert!(cmd.get_about().is_some(), "{path:?} has no description");
            for arg in cmd.get_arguments() {
                assert!(
                    arg.get_help().is_some(),
                    "{path:?} {:?} has no help",
                    arg.get_id()
                );
            }
            if subs.is_empty() {
                *leaves += 1;
                let after = cmd
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                assert!(after.contains("Example"), "{path:?} has no example");
                assert!(after.contains("netctl "), "{path:?} example has no command");
            }
            for sub in subs {
                path.push(sub.get_name().to_owned());
                walk(sub, path, leaves);
                path.pop();
            }
        }
        let root = cli::command();
        let mut leaves = 0;
        for sub in root.get_subcommands() {
            walk(sub, &mut vec![sub.get_name().to_owned()], &mut leaves);
        }
        assert!(leaves >= 45, "{leaves} leaf commands");
    }

    #[test]
    fn defaults_of_the_original() {
        let parse = |line: &str| {
            contiv_bins::netctl::parse(std::iter::once("netctl").chain(line.split_whitespace()))
                .unwrap()
        };
        let cli = parse("net ls");
        assert_eq!(cli.global.netmaster, "http://127.0.0.1:9999");
        assert!(!cli.global.insecure);
        let cli::TopCommand::Network(contiv_bins::netctl::cmd::network::NetworkCmd::Ls(opts)) =
            cli.command
        else {
            panic!("net ls");
        };
        assert_eq!(opts.tenant.tenant, "default");
        assert!(!opts.all && !opts.output.json && !opts.output.quiet);
    }

    #[test]
    fn completion_scripts_are_generated() {
        let nm = ScriptedNetmaster::new();
        for (shell, marker) in [
            ("bash", "complete"),
            ("zsh", "#compdef netctl"),
            ("fish", "complete -c netctl"),
        ] {
            let out = nm.run(&["completion", shell]);
            assert_eq!(out.exit, Exit::Success, "{shell}: {}", out.stderr);
            assert!(out.stdout.contains(marker), "{shell}");
            assert!(out.stdout.contains("rule-add"), "{shell}");
            assert!(out.requests.is_empty());
        }
        let out = nm.run(&["completion", "tcsh"]);
        assert_eq!(out.exit, Exit::Usage);
    }
}
