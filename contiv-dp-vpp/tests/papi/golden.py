#!/usr/bin/env python3
"""Golden vectors from the official VPP Python binding (vpp-papi, PyPI).

    golden.py <api-dir>  < messages.json  > packed.json

messages.json is a list of {"name": <message>, "args": {<field>: <value>}}
in vpp-papi's argument form (byte strings as {"__bytes__": "<hex>"}); the
output is a list of the same length whose items are {"hex": <pack() output>}
or {"error": <why papi refused>}. No VPP and no connection are involved:
VPPApiClient only loads the .api.json files and packs.
"""
import glob
import json
import os
import sys


def unhex(o):
    if isinstance(o, dict):
        if set(o) == {"__bytes__"}:
            return bytes.fromhex(o["__bytes__"])
        return {k: unhex(v) for k, v in o.items()}
    if isinstance(o, list):
        return [unhex(x) for x in o]
    return o


def main():
    api_dir = sys.argv[1]
    from vpp_papi import VPPApiClient

    files = sorted(glob.glob(os.path.join(api_dir, "*.api.json")))
    client = VPPApiClient(apifiles=files, use_socket=True, server_address="/nonexistent")
    out = []
    for m in json.load(sys.stdin):
        try:
            packed = client.messages[m["name"]].pack(unhex(m["args"]))
            out.append({"hex": packed.hex()})
        except Exception as e:  # report, do not stop: the test names the message
            out.append({"error": "%s: %r" % (type(e).__name__, e)})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
