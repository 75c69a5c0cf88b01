#!/usr/bin/env python3
"""The official VPP Python client (vpp-papi) against a VPP API socket.

    client.py <api-dir> <socket>

Connects with VPPApiClient (socket transport: sockclnt_create, message
table, CRC-checked names), makes calls that create and read state, and
prints one JSON object with what it saw. Exits non-zero on any failure.
"""
import glob
import json
import os
import sys


def main():
    api_dir, sock = sys.argv[1], sys.argv[2]
    from vpp_papi import VPPApiClient

    files = sorted(glob.glob(os.path.join(api_dir, "*.api.json")))
    vpp = VPPApiClient(apifiles=files, use_socket=True, server_address=sock, read_timeout=5)
    assert vpp.connect("papi-check") == 0
    api = vpp.api
    out = {}
    out["ping"] = api.control_ping().retval
    r = api.bridge_domain_add_del_v2(bd_id=0xFFFFFFFF, flood=True, forward=True, learn=False,
                                     arp_term=True, bd_tag="papi-bd", is_add=True)
    out["bd"] = {"retval": r.retval, "bd_id": r.bd_id}
    r = api.bvi_create(mac="02:00:00:00:00:01", user_instance=0xFFFFFFFF)
    bvi = r.sw_if_index
    out["bvi"] = {"retval": r.retval, "sw_if_index": bvi}
    out["tag"] = api.sw_interface_tag_add_del(is_add=True, sw_if_index=bvi, tag="papi-bvi").retval
    out["table"] = api.ip_table_add_del(is_add=True, table={"table_id": 7, "is_ip6": False, "name": "t7"}).retval
    out["set_table"] = api.sw_interface_set_table(sw_if_index=bvi, is_ipv6=False, vrf_id=7).retval
    out["addr"] = api.sw_interface_add_del_address(sw_if_index=bvi, is_add=True,
                                                   prefix="10.9.0.1/24").retval
    out["bridge"] = api.sw_interface_set_l2_bridge(rx_sw_if_index=bvi, bd_id=out["bd"]["bd_id"],
                                                   port_type=1, enable=True).retval
    out["up"] = api.sw_interface_set_flags(sw_if_index=bvi, flags=1).retval
    rule = {"is_permit": 2, "src_prefix": "10.9.0.0/24", "dst_prefix": "0.0.0.0/0", "proto": 6,
            "srcport_or_icmptype_first": 0, "srcport_or_icmptype_last": 65535,
            "dstport_or_icmpcode_first": 80, "dstport_or_icmpcode_last": 80,
            "tcp_flags_mask": 0, "tcp_flags_value": 0}
    r = api.acl_add_replace(acl_index=0xFFFFFFFF, tag="papi-acl", count=2, r=[rule, dict(rule, is_permit=0)])
    out["acl"] = {"retval": r.retval, "acl_index": r.acl_index}
    out["acl_list"] = api.acl_interface_set_acl_list(sw_if_index=bvi, count=1, n_input=1,
                                                     acls=[r.acl_index]).retval
    # errors VPP documents: bad interface index, deleting an ACL in use
    out["bad_index"] = api.sw_interface_set_flags(sw_if_index=4242, flags=1).retval
    out["acl_in_use"] = api.acl_del(acl_index=r.acl_index).retval
    # the npol plugin (no dumps: the test reads the server's state)
    r = api.npol_ipset_create(type=0)  # NPOL_IP
    sid = r.set_id
    out["ipset"] = r.retval
    out["members"] = api.npol_ipset_add_del_members(
        set_id=sid, is_add=True, len=2,
        members=[{"val": {"address": "10.9.0.5"}}, {"val": {"address": "fd00::5"}}]).retval
    none = {"value": 0, "type": 0, "should_match": 0}
    rule = {"action": 1,  # NPOL_DENY
            "filters": [{"value": 6, "type": 3, "should_match": 1}, none, none],  # L4_PROTO = TCP
            "num_entries": 3,
            "matches": [
                {"is_src": True, "is_not": False, "type": 3, "data": {"set_id": {"set_id": sid}}},
                {"is_src": False, "is_not": False, "type": 0, "data": {"cidr": "10.9.0.0/24"}},
                {"is_src": False, "is_not": True, "type": 1,
                 "data": {"port_range": {"start": 80, "end": 88}}}]}
    r = api.npol_rule_create(rule=rule)
    out["rule"] = r.retval
    rid = r.rule_id
    bad = dict(rule, num_entries=1, matches=[dict(rule["matches"][0], data={"set_id": {"set_id": 4242}})])
    out["rule_bad_set"] = api.npol_rule_create(rule=bad).retval
    r = api.npol_policy_create(num_items=1, rules=[{"is_inbound": True, "rule_id": rid}])
    out["policy"] = r.retval
    pid = r.policy_id
    out["configure"] = api.npol_configure_policies(
        sw_if_index=bvi, num_rx_policies=1, num_tx_policies=0, total_ids=1, invert_rx_tx=0,
        policy_default_rx=1, policy_default_tx=0, profile_default_rx=0, profile_default_tx=2,
        policy_ids=[pid]).retval
    out["configure_bad_policy"] = api.npol_configure_policies(
        sw_if_index=bvi, num_rx_policies=1, num_tx_policies=0, total_ids=1, invert_rx_tx=0,
        policy_default_rx=0, policy_default_tx=0, profile_default_rx=0, profile_default_tx=0,
        policy_ids=[pid + 4242]).retval
    out["configure_bad_index"] = api.npol_configure_policies(
        sw_if_index=4242, num_rx_policies=1, num_tx_policies=0, total_ids=1, invert_rx_tx=0,
        policy_default_rx=0, policy_default_tx=0, profile_default_rx=0, profile_default_tx=0,
        policy_ids=[pid]).retval
    out["npol_ids"] = {"set": sid, "rule": rid, "policy": pid}
    # cnat: found by VIP, port and protocol; an update keeps the id; ids
    # are reused once freed
    def ep(addr, port):
        return {"addr": addr, "sw_if_index": 0xFFFFFFFF, "if_af": 0, "port": port}

    def tr(vip, port, proto, backends, id=0):
        paths = [{"dst_ep": ep(b, 8080), "src_ep": ep("10.9.0.1", 0), "flags": 0} for b in backends]
        return {"vip": ep(vip, port), "id": id, "ip_proto": proto, "is_real_ip": 0, "flags": 0,
                "lb_type": 0, "n_paths": len(paths), "flow_hash_config": 0, "paths": paths}

    cn = {}
    r = api.cnat_translation_update(translation=tr("10.96.0.1", 80, 6, ["10.9.0.5", "10.9.0.6"]))
    cn["a"] = [r.retval, r.id]
    r = api.cnat_translation_update(translation=tr("10.96.0.1", 80, 17, ["10.9.0.5"]))
    cn["b"] = [r.retval, r.id]
    r = api.cnat_translation_update(translation=tr("10.96.0.1", 80, 6, ["10.9.0.7"], id=77))
    cn["a_again"] = [r.retval, r.id]
    cn["dump"] = [[t.translation.id, str(t.translation.vip.addr), t.translation.vip.port,
                   int(t.translation.ip_proto), [str(p.dst_ep.addr) for p in t.translation.paths],
                   [str(p.src_ep.addr) for p in t.translation.paths]]
                  for t in api.cnat_translation_dump()]
    cn["del"] = api.cnat_translation_del(id=cn["a"][1]).retval
    cn["del_again"] = api.cnat_translation_del(id=cn["a"][1]).retval
    r = api.cnat_translation_update(translation=tr("10.96.0.2", 53, 17, ["10.9.0.5"]))
    cn["reused"] = [r.retval, r.id]
    out["cnat"] = cn
    # dumps (details ended by control_ping)
    ifs = api.sw_interface_dump()
    out["interfaces"] = sorted([i.interface_name, i.tag, int(i.flags)] for i in ifs)
    acls = api.acl_dump(acl_index=0xFFFFFFFF)
    out["acls"] = [[a.tag, len(a.r), int(a.r[0].is_permit), str(a.r[0].src_prefix)] for a in acls]
    bds = api.bridge_domain_dump(bd_id=0xFFFFFFFF, sw_if_index=0xFFFFFFFF)
    out["bds"] = [[b.bd_tag, b.bvi_sw_if_index, b.n_sw_ifs, bool(b.arp_term)] for b in bds]
    addrs = api.ip_address_dump(sw_if_index=bvi, is_ipv6=False)
    out["addrs"] = [str(a.prefix) for a in addrs]
    out["tables"] = sorted([t.table.table_id, t.table.is_ip6, t.table.name] for t in api.ip_table_dump())
    vpp.disconnect()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
