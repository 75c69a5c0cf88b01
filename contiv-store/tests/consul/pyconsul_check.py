"""Checks the Consul test server with an independent client: PyPI's
py-consul. Run by tests/consul_server_pyconsul.rs as

    python pyconsul_check.py HOST PORT ACL_PORT TOKEN

against a test server configured with session_ttl_min = 1s (PORT) and one
that requires the ACL token TOKEN (ACL_PORT). Every check asserts Consul's documented wire behaviour; the script
prints one "ok <check>" line per check and a final "N passed, 0 failed".
"""

import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.request

import consul
import consul.exceptions

HOST, PORT, ACL_PORT, TOKEN = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
c = consul.Consul(host=HOST, port=PORT)
BASE = f"http://{HOST}:{PORT}"
CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def kvget(*args, **kwargs):
    """kv.get with the index as a number (py-consul passes the header on)."""
    index, data = c.kv.get(*args, **kwargs)
    return int(index), data


def raw(method, path, body=None, token=None):
    """A request outside py-consul, for shapes it does not expose."""
    req = urllib.request.Request(BASE + path, method=method, data=body)
    if token:
        req.add_header("X-Consul-Token", token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@check
def kv_put_get_metadata():
    assert c.kv.put("t/kv/a", "one", flags=42) is True
    index, item = kvget("t/kv/a")
    assert item["Value"] == b"one", item
    assert item["Flags"] == 42
    assert item["CreateIndex"] == item["ModifyIndex"] >= 1
    assert index >= item["ModifyIndex"]
    c.kv.put("t/kv/a", "two")
    _, item2 = kvget("t/kv/a")
    assert item2["CreateIndex"] == item["CreateIndex"]
    assert item2["ModifyIndex"] > item["ModifyIndex"]
    index, missing = kvget("t/kv/missing")
    assert missing is None and index >= 1
    status, headers, _ = raw("GET", "/v1/kv/t/kv/missing")
    assert status == 404 and int(headers["X-Consul-Index"]) >= 1


@check
def kv_cas():
    assert c.kv.put("t/cas/k", "v1", cas=0) is True
    assert c.kv.put("t/cas/k", "again", cas=0) is False
    _, item = kvget("t/cas/k")
    assert c.kv.put("t/cas/k", "v2", cas=item["ModifyIndex"] + 1000) is False
    assert c.kv.put("t/cas/k", "v2", cas=item["ModifyIndex"]) is True
    assert kvget("t/cas/k")[1]["Value"] == b"v2"
    assert c.kv.delete("t/cas/k", cas=item["ModifyIndex"]) is False
    _, item = kvget("t/cas/k")
    assert c.kv.delete("t/cas/k", cas=item["ModifyIndex"]) is True
    assert kvget("t/cas/k")[1] is None


@check
def kv_recurse_keys_separator():
    for k in ["t/tree/a", "t/tree/b/1", "t/tree/b/2", "t/treeish"]:
        c.kv.put(k, k)
    _, items = kvget("t/tree/", recurse=True)
    assert [i["Key"] for i in items] == ["t/tree/a", "t/tree/b/1", "t/tree/b/2"]
    assert items[1]["Value"] == b"t/tree/b/1"
    _, keys = kvget("t/tree/", keys=True)
    assert keys == ["t/tree/a", "t/tree/b/1", "t/tree/b/2"], keys
    _, keys = kvget("t/tree/", keys=True, separator="/")
    assert keys == ["t/tree/a", "t/tree/b/"], keys
    _, none = kvget("t/nothing/", recurse=True)
    assert none is None
    assert c.kv.delete("t/tree/", recurse=True) is True
    assert kvget("t/tree/", recurse=True)[1] is None
    assert kvget("t/treeish")[1] is not None


@check
def kv_blocking_query():
    c.kv.put("t/block/k", "v1")
    index, _ = kvget("t/block/k")

    def later():
        time.sleep(0.3)
        c.kv.put("t/block/k", "v2")

    threading.Thread(target=later).start()
    started = time.time()
    new_index, item = kvget("t/block/k", index=index, wait="10s")
    assert time.time() - started < 5, "the blocking query did not wake on the write"
    assert new_index > index and item["Value"] == b"v2"
    # No change: returns after the wait with the same data.
    started = time.time()
    same_index, item = kvget("t/block/k", index=new_index, wait="1s")
    waited = time.time() - started
    assert 0.9 <= waited < 5, waited
    assert same_index == new_index and item["Value"] == b"v2"
    # A write elsewhere does not wake a query of this key.
    def elsewhere():
        time.sleep(0.2)
        c.kv.put("t/block/other", "x")

    threading.Thread(target=elsewhere).start()
    started = time.time()
    kvget("t/block/k", index=new_index, wait="1s")
    assert time.time() - started >= 0.9


@check
def kv_delete_wakes_recurse_query():
    c.kv.put("t/del/a", "x")
    index, _ = kvget("t/del/", recurse=True)

    def later():
        time.sleep(0.2)
        c.kv.delete("t/del/a")

    threading.Thread(target=later).start()
    new_index, items = kvget("t/del/", recurse=True, index=index, wait="10s")
    assert items is None and new_index > index


@check
def kv_value_limit_413():
    big = b"x" * (512 * 1024 + 1)
    try:
        c.kv.put("t/big", big)
    except consul.exceptions.ClientError as e:
        assert "413" in str(e) and "too large" in str(e), str(e)
    else:
        raise AssertionError("a value above 512 KiB was accepted")
    assert c.kv.put("t/big", b"x" * (512 * 1024)) is True


@check
def txn_success_results():
    b64 = lambda s: base64.b64encode(s.encode()).decode()
    c.kv.put("t/txn/old", "o")
    r = c.txn.put([
        {"KV": {"Verb": "set", "Key": "t/txn/a", "Value": b64("1"), "Flags": 7}},
        {"KV": {"Verb": "cas", "Key": "t/txn/b", "Value": b64("2"), "Index": 0}},
        {"KV": {"Verb": "get", "Key": "t/txn/old"}},
        {"KV": {"Verb": "delete", "Key": "t/txn/old"}},
        {"KV": {"Verb": "get-tree", "Key": "t/txn/"}},
    ])
    assert r["Errors"] is None
    res = r["Results"]
    # set, cas, get, (delete: no result), get-tree (a, b)
    assert [x["KV"]["Key"] for x in res] == ["t/txn/a", "t/txn/b", "t/txn/old", "t/txn/a", "t/txn/b"]
    assert res[0]["KV"]["Value"] is None and res[0]["KV"]["Flags"] == 7
    assert base64.b64decode(res[2]["KV"]["Value"]) == b"o"
    assert base64.b64decode(res[4]["KV"]["Value"]) == b"2"
    assert res[0]["KV"]["ModifyIndex"] == res[1]["KV"]["ModifyIndex"], "one txn, one index"
    assert kvget("t/txn/old")[1] is None


@check
def txn_rollback_409_errors_shape():
    b64 = lambda s: base64.b64encode(s.encode()).decode()
    c.kv.put("t/txr/k", "v")
    _, item = kvget("t/txr/k")
    ops = [
        {"KV": {"Verb": "set", "Key": "t/txr/new", "Value": b64("n")}},
        {"KV": {"Verb": "check-index", "Key": "t/txr/k", "Index": item["ModifyIndex"] + 5}},
        {"KV": {"Verb": "check-not-exists", "Key": "t/txr/k"}},
        {"KV": {"Verb": "get", "Key": "t/txr/none"}},
        {"KV": {"Verb": "bogus", "Key": "t/txr/k"}},
    ]
    try:
        c.txn.put(ops)
    except consul.exceptions.ClientError as e:
        assert str(e).startswith("409 "), str(e)
        body = json.loads(str(e)[4:])
    else:
        raise AssertionError("a failing txn was applied")
    assert body["Results"] is None
    errors = {e["OpIndex"]: e["What"] for e in body["Errors"]}
    assert errors == {
        1: f"current modify index {item['ModifyIndex']} != {item['ModifyIndex'] + 5}",
        2: 'key "t/txr/k" exists',
        3: 'key "t/txr/none" doesn\'t exist',
        4: 'unknown KV verb "bogus"',
    }, errors
    assert kvget("t/txr/new")[1] is None, "a rolled-back txn wrote"


@check
def txn_limits_413():
    b64 = base64.b64encode(b"v").decode()
    ops = [{"KV": {"Verb": "set", "Key": f"t/many/{i}", "Value": b64}} for i in range(129)]
    try:
        c.txn.put(ops)
    except consul.exceptions.ClientError as e:
        assert "413" in str(e) and "too many operations (129 > 128)" in str(e), str(e)
    else:
        raise AssertionError("129 operations were accepted")
    assert c.txn.put(ops[:128])["Errors"] is None
    huge = base64.b64encode(b"x" * (400 * 1024)).decode()
    try:
        c.txn.put([{"KV": {"Verb": "set", "Key": f"t/huge/{i}", "Value": huge}} for i in range(2)])
    except consul.exceptions.ClientError as e:
        assert "413" in str(e) and "Request body too large" in str(e), str(e)
    else:
        raise AssertionError("a txn body above 512 KiB was accepted")


@check
def sessions_lifecycle_and_locks():
    s1 = c.session.create(name="one", behavior="delete", lock_delay=0, ttl=10)
    s2 = c.session.create(name="two", lock_delay=0)
    _, info = c.session.info(s1)
    assert info["Name"] == "one" and info["Behavior"] == "delete" and info["TTL"] == "10s"
    assert info["LockDelay"] == 0 and info["NodeChecks"] == ["serfHealth"]
    _, listed = c.session.list()
    assert {s["ID"] for s in listed} >= {s1, s2}
    renewed = c.session.renew(s1)
    assert renewed["ID"] == s1
    assert c.kv.put("t/lock/k", "held", acquire=s1) is True
    assert c.kv.put("t/lock/k", "stolen", acquire=s2) is False
    _, item = kvget("t/lock/k")
    assert item["Session"] == s1 and item["LockIndex"] == 1
    assert c.kv.put("t/lock/k", "x", release=s2) is False
    assert c.kv.put("t/lock/held2", "y", acquire=s1) is True
    assert c.kv.put("t/lock/held2", "z", release=s1) is True
    assert "Session" not in kvget("t/lock/held2")[1]
    assert c.session.destroy(s1) is True
    assert kvget("t/lock/k")[1] is None, "behavior=delete deletes held keys"
    assert c.session.info(s1)[1] is None
    try:
        c.session.renew(s1)
    except consul.exceptions.NotFound:
        pass
    else:
        raise AssertionError("renewing a destroyed session succeeded")
    # Lock delay: s3 (15 s default) holds a key; after it is destroyed
    # another session cannot acquire it yet.
    s3 = c.session.create(name="three")
    assert c.kv.put("t/lock/d", "v", acquire=s3) is True
    c.session.destroy(s3)
    assert kvget("t/lock/d")[1].get("Session") is None, "release behaviour"
    assert c.kv.put("t/lock/d", "v", acquire=s2) is False, "lock delay"
    c.session.destroy(s2)


@check
def session_ttl_expiry_and_bounds():
    status, _, body = raw("PUT", "/v1/session/create", json.dumps({"TTL": "500ms"}).encode())
    assert status == 400 and b"Invalid Session TTL" in body, (status, body)
    status, _, body = raw("PUT", "/v1/session/create",
                          json.dumps({"TTL": "1s", "Behavior": "delete", "LockDelay": "0s"}).encode())
    assert status == 200, body
    sid = json.loads(body)["ID"]
    assert c.kv.put("t/ttl/k", "v", acquire=sid) is True
    started = time.time()
    while c.session.info(sid)[1] is not None:
        assert time.time() - started < 5, "a 1 s session outlived 5 s"
        time.sleep(0.05)
    # Consul invalidates a TTL session between TTL and 2 x TTL.
    assert time.time() - started >= 0.9, "invalidated before its TTL"
    assert kvget("t/ttl/k")[1] is None


@check
def one_global_index():
    c.kv.put("t/idx/a", "1")
    _, a = kvget("t/idx/a")
    sid = c.session.create(lock_delay=0)
    _, s = c.session.info(sid)
    c.kv.put("t/idx/b", "2")
    _, b = kvget("t/idx/b")
    assert a["ModifyIndex"] < s["CreateIndex"] < b["ModifyIndex"], (a, s, b)
    c.session.destroy(sid)


@check
def acl_token_required():
    good = consul.Consul(host=HOST, port=ACL_PORT, token=TOKEN)
    assert good.kv.put("t/acl", "x") is True
    assert good.kv.get("t/acl")[1]["Value"] == b"x"
    anonymous = consul.Consul(host=HOST, port=ACL_PORT)
    wrong = consul.Consul(host=HOST, port=ACL_PORT, token="wrong")
    for client, what in [(anonymous, "no token"), (wrong, "a wrong token")]:
        for call in [lambda: client.kv.get("t/acl"), lambda: client.kv.put("t/acl", "y"),
                     lambda: client.session.create()]:
            try:
                call()
            except consul.exceptions.ACLPermissionDenied:
                pass
            else:
                raise AssertionError(f"a request with {what} was served")
    # py-consul's txn.put sends no token: an ACL-enabled Consul refuses it.
    try:
        good.txn.put([{"KV": {"Verb": "get-tree", "Key": "t/"}}])
    except consul.exceptions.ACLPermissionDenied:
        pass
    else:
        raise AssertionError("a txn without a token was served")
    assert good.kv.get("t/acl")[1]["Value"] == b"x"


passed = 0
for fn in CHECKS:
    fn()
    print(f"ok {fn.__name__}", flush=True)
    passed += 1
print(f"{passed} passed, 0 failed")
