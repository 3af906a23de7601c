#!/usr/bin/env python3
"""Independent check of the evidence ledger (standard library only, plus the openssl CLI).

Starts `nexus-forge serve` on 127.0.0.1 (port 0) in a temporary directory, records evidence
over HTTP, then verifies, with code that shares nothing with the server:
  - every inclusion proof (RFC 9162 section 2.1.3.2) against the signed head's root,
  - every consistency proof (RFC 9162 section 2.1.4.2) from each size to the head,
  - the leaf hashes (SHA-256(0x00 || data)) of the entries,
  - the head's Ed25519 signature, with `openssl pkeyutl -verify -rawin` and the published key,
  - and that a changed root or proof is rejected.
Exits non-zero on the first failure. Usage: ledger_independent_check.py PATH/TO/nexus-forge
"""
import base64
import hashlib
import json
import secrets
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf, index, size, path, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    if first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0 or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def check(cond, what):
    if not cond:
        print("FAIL: " + what, file=sys.stderr)
        sys.exit(1)


class Client:
    def __init__(self, port, key):
        self.base = "http://127.0.0.1:%d" % port
        self.key = key

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data, method=method)
        req.add_header("Authorization", "Bearer " + self.key)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        config = os.path.join(tmp, "nf.json")
        with open(config, "w") as f:
            # A platform admin key of our own: the server keeps only its SHA-256.
            key = "nfk_" + secrets.token_urlsafe(24)
            json.dump({"data_dir": os.path.join(tmp, "data"), "ledger": {"head_every_ms": 50},
                       "auth": {"platform_admin_key_sha256": hashlib.sha256(key.encode()).hexdigest()}}, f)
        server = subprocess.Popen([binary, "serve", "--config", config, "--listen", "127.0.0.1:0"],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            line = server.stdout.readline()
            check(line.startswith("listening on http://127.0.0.1:"), "server start: " + line)
            c = Client(int(line.rsplit(":", 1)[1]), key)
            recorded = []
            for i in range(21):
                body = {"kind": "python.check", "missionId": "mission-%d" % (i % 4)}
                if i % 2:
                    body["json"] = {"n": i, "note": "independent"}
                else:
                    body["data"] = base64.b64encode(os.urandom(i * 7 + 1)).decode()
                st, r = c.call("POST", "/ledger/record", body)
                check(st == 201, "record %d: %s %s" % (i, st, r))
                recorded.append(r)
            n = len(recorded)
            deadline = time.time() + 15
            while True:
                st, head = c.call("GET", "/ledger/tree-head")
                if st == 200 and head["tree_size"] >= n:
                    break
                check(time.time() < deadline, "no signed head over %d leaves: %s" % (n, head))
                time.sleep(0.05)
            check(head["tree_size"] == n, "head size %d, expected %d" % (head["tree_size"], n))
            root = bytes.fromhex(head["root_hash"])

            for i, r in enumerate(recorded):
                st, e = c.call("GET", "/ledger/entries/%d" % r["leaf_index"])
                check(st == 200, "entry %d" % i)
                lh = leaf_hash(base64.b64decode(e["data"]))
                check(lh.hex() == e["leaf_hash"] == r["leaf_hash"], "leaf hash of entry %d" % i)
                st, p = c.call("GET", "/ledger/proof/inclusion?leaf_hash=%s&tree_size=%d" % (lh.hex(), n))
                check(st == 200, "inclusion proof %d" % i)
                path = [bytes.fromhex(x) for x in p["audit_path"]]
                check(verify_inclusion(lh, p["leaf_index"], n, path, root), "inclusion proof of leaf %d" % i)
                wrong = bytearray(root)
                wrong[0] ^= 1
                check(not verify_inclusion(lh, p["leaf_index"], n, path, bytes(wrong)), "a changed root is refused")

            for first in range(1, n + 1):
                st, p = c.call("GET", "/ledger/proof/consistency?first=%d&second=%d" % (first, n))
                check(st == 200, "consistency %d" % first)
                proof = [bytes.fromhex(x) for x in p["consistency"]]
                first_root = bytes.fromhex(p["first_root"])
                check(p["second_root"] == head["root_hash"], "second root is the head's")
                check(verify_consistency(first, n, first_root, root, proof), "consistency %d -> %d" % (first, n))
                if proof:
                    bad = list(proof)
                    bad[-1] = hashlib.sha256(bad[-1]).digest()
                    check(not verify_consistency(first, n, first_root, root, bad), "a changed proof is refused")

            # The signature, with openssl and the published key, over the documented bytes.
            st, key = c.call("GET", "/ledger/public-key")
            check(st == 200 and key["algorithm"] == "Ed25519", "public key")
            pem = os.path.join(tmp, "pub.pem")
            with open(pem, "w") as f:
                f.write(key["public_key_pem"])
            msg = (b"nexus-forge tree head v1\n" + head["tree_size"].to_bytes(8, "big") + root +
                   head["timestamp"].to_bytes(8, "big"))
            for name, content in (("ok", msg), ("changed", msg[:-1] + bytes([msg[-1] ^ 1]))):
                mpath, spath = os.path.join(tmp, name + ".msg"), os.path.join(tmp, name + ".sig")
                with open(mpath, "wb") as f:
                    f.write(content)
                with open(spath, "wb") as f:
                    f.write(bytes.fromhex(head["signature"]))
                rc = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pem, "-rawin", "-in", mpath,
                                     "-sigfile", spath], capture_output=True).returncode
                check((rc == 0) == (name == "ok"), "openssl verdict on the %s head" % name)
            der = subprocess.run(["openssl", "pkey", "-pubin", "-in", pem, "-outform", "DER"], capture_output=True).stdout
            check(hashlib.sha256(der).hexdigest() == head["key_id"], "key id is SHA-256 of the DER public key")
            print("independent check: %d inclusion proofs, %d consistency proofs and the signed head verified" % (n, n))
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
