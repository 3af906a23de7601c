#!/usr/bin/env python3
"""A man in the middle for the install test: forwards every request to the server and alters
one kind of answer on the way back, as a compromised mirror or network would.

usage: tamper_proxy.py SERVER_PORT MODE
  MODE file:   flips the first byte of every package file (GET .../files?path=...)
  MODE proof:  changes the first hash of every inclusion proof (GET /ledger/proof/inclusion)
  MODE digest: changes the package digest in every version document and resolution
  MODE link:   adds a symbolic link out of the package to every version document
Listens on 127.0.0.1 (a free port, printed on the first line); stops by itself after 120 s."""
import http.server
import json
import sys
import threading
import urllib.error
import urllib.request

target = int(sys.argv[1])
mode = sys.argv[2]


def alter(path, body):
    if mode == "file" and "/files?path=" in path and body:
        return bytes([body[0] ^ 0x01]) + body[1:]
    if mode == "proof" and path.startswith("/ledger/proof/inclusion"):
        doc = json.loads(body)
        if doc.get("audit_path"):
            h = doc["audit_path"][0]
            doc["audit_path"][0] = ("0" if h[0] != "0" else "1") + h[1:]
        else:
            h = doc["leaf_hash"]
            doc["root_hash"] = ("0" if h[0] != "0" else "1") + h[1:]
        return json.dumps(doc).encode()
    if mode == "link" and path.startswith("/marketplace/agents/") and "/files?" not in path:
        doc = json.loads(body)
        if isinstance(doc, dict) and "files" in doc:
            doc["files"].insert(0, {"path": "escape", "symlink": "../../../../../tmp", "sha256": "", "size": 0, "executable": False})
        return json.dumps(doc).encode()
    if mode == "digest" and path.startswith("/marketplace/") and not "/files?" in path:
        text = body.decode()
        try:
            doc = json.loads(text)
        except ValueError:
            return body
        if isinstance(doc, dict) and "digest" in doc:
            doc["digest"] = "0" * 64
        for p in doc.get("resolved", []) if isinstance(doc, dict) else []:
            p["sha256"] = "0" * 64
        return json.dumps(doc).encode()
    return body


class Handler(http.server.BaseHTTPRequestHandler):
    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (target, self.path), data=data, method=self.command)
        for k in ("Authorization", "Content-Type", "NF-Wait-For"):
            if self.headers.get(k):
                req.add_header(k, self.headers[k])
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, headers, body = r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            status, headers, body = e.code, e.headers, e.read()
        body = alter(self.path, body) if status == 200 else body
        self.send_response(status)
        for k in ("Content-Type", "NF-Position"):
            if headers.get(k):
                self.send_header(k, headers[k])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = forward

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
threading.Timer(120, server.shutdown).start()
server.serve_forever()
