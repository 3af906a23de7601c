#!/usr/bin/env python3
"""Scale-out figures on librdkafka's mock cluster (figures of the mock, not of Kafka).

Starts `nexus-forge kafka-mock` on loopback and `serve` instances on it, then measures:
  1. POST /missions per second with 1 instance and with 3 (a new id per request, spread
     round-robin over the instances, 12 client threads); the ratio 3/1;
  2. latency of a write decided by its owner (POST /missions: command, owner's decision, outcome)
     against a write appended directly (POST /agents/lifecycle: append, read model), p50 and p99,
     one request at a time; the ratio of the p50s;
  3. failover: SIGKILL of the instance owning commands.evidence (the ledger writer) until a
     survivor owns every partition of the prompt owner's and the ledger writer's groups again.
Usage: bench/cluster_mock.py [nexus-forge binary] [seconds per throughput run]
Not part of the test run; figures go to docs/performance.md.
"""
import http.client, json, os, signal, subprocess, sys, tempfile, threading, time, uuid

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/apps/nexus-forge/nexus-forge"
SECS = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
KEY = "nfk_systemtestsplatformadminkey00001"
KEY_SHA = "507e4bdbfc45a668d67abe90d330f0a1c58200596acf031241e26a331de63b93"
HDRS = {"Authorization": "Bearer " + KEY, "Content-Type": "application/json"}


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p / 100.0 * len(xs)))]


class Cluster:
    def __init__(self, n):
        self.dir = tempfile.mkdtemp(prefix="nf-cluster-bench.")
        self.config = os.path.join(self.dir, "nf.json")
        with open(self.config, "w") as f:
            json.dump({"auth": {"platform_admin_key_sha256": KEY_SHA},
                       "ledger": {"head_every_ms": 200, "signing_key": os.path.join(self.dir, "tree-head.key")},
                       "bus": {"kafka": {"session_timeout_ms": 3000, "fetch_wait_ms": 10}}}, f)
        self.mock = subprocess.Popen([BIN, "kafka-mock", "--config", self.config], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        self.bootstrap = self.mock.stdout.readline().strip()
        self.servers = []
        for i in range(n):
            env = dict(os.environ, NF_BUS_KIND="kafka", NF_KAFKA_BOOTSTRAP=self.bootstrap,
                       NF_DATA_DIR=os.path.join(self.dir, "data-%d" % i), NF_LOG_LEVEL="warn")
            p = subprocess.Popen([BIN, "serve", "--config", self.config, "--listen", "127.0.0.1:0"], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            line = p.stdout.readline()
            port = int(line.rsplit(":", 1)[1])
            self.servers.append((p, port))
        for _, port in self.servers:
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    if request(port, "GET", "/readyz")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.2)

    def stop(self):
        for p, _ in self.servers:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in self.servers:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        self.mock.send_signal(signal.SIGINT)
        self.mock.wait(10)


_local = threading.local()


def request(port, method, path, body=None):
    conns = getattr(_local, "conns", None)
    if conns is None:
        conns = _local.conns = {}
    c = conns.get(port)
    if c is None:
        c = conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request(method, path, body=json.dumps(body) if body is not None else None, headers=HDRS)
        r = c.getresponse()
        return r.status, r.read()
    except (http.client.HTTPException, OSError):
        conns.pop(port, None)
        raise


def prompt():
    return {"id": str(uuid.uuid4()), "objective": "bench", "priority": "P1", "originatingSpec": "https://spec/bench"}


def warm_up(cluster):
    """Until every instance answers 10 prompts in a row fast: the groups have joined and settled."""
    deadline = time.time() + 90
    for _, port in cluster.servers:
        fast = 0
        while fast < 10 and time.time() < deadline:
            t0 = time.perf_counter()
            try:
                status = request(port, "POST", "/missions", prompt())[0]
            except OSError:
                status = 0
            fast = fast + 1 if status == 202 and time.perf_counter() - t0 < 0.2 else 0


def throughput(cluster, secs, threads=12):
    ports = [port for _, port in cluster.servers]
    done, errors = [0], [0]
    lock = threading.Lock()
    stop_at = time.time() + secs

    def worker(k):
        i = k
        while time.time() < stop_at:
            try:
                status, _ = request(ports[i % len(ports)], "POST", "/missions", prompt())
            except OSError:
                status = 0
            i += 1
            with lock:
                if status == 202:
                    done[0] += 1
                else:
                    errors[0] += 1

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    start = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return done[0] / (time.time() - start), errors[0]


def latencies(cluster, n=300):
    port = cluster.servers[0][1]
    owner, direct = [], []
    for i in range(n):
        t0 = time.perf_counter()
        assert request(port, "POST", "/missions", prompt())[0] == 202
        owner.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert request(port, "POST", "/agents/lifecycle",
                       {"agentId": "bench-%d" % i, "lifecycle": "spawned", "capabilityProfile": "coder", "energyBudget": 1})[0] == 202
        direct.append(time.perf_counter() - t0)
    return owner, direct


def owners(port):
    st, body = request(port, "GET", "/cluster")
    return json.loads(body) if st == 200 else None


def failover(cluster):
    # Warm the ledger writer, find it, kill it, wait until survivors own everything again.
    port0 = cluster.servers[0][1]
    st, _ = request(port0, "POST", "/missions", prompt())
    victim = None
    for idx, (p, port) in enumerate(cluster.servers):
        st, body = request(port, "GET", "/metrics")
        if b'nf_command_claims_total{owner="evidence"}' in body or victim is None and idx == len(cluster.servers) - 1:
            victim = idx
            break
    survivors = [port for i, (_, port) in enumerate(cluster.servers) if i != victim]
    p, _ = cluster.servers[victim]
    t0 = time.time()
    p.send_signal(signal.SIGKILL)
    p.wait()
    while time.time() - t0 < 60:
        c = owners(survivors[0])
        if c:
            live = {i["id"] for i in c["instances"] if i["live"]}
            groups = c["groups"]
            ok = True
            for group, expect in (("prompt_owner", 3), ("evidence", 1)):
                parts = [tp for member, tps in groups.get(group, {}).get("partitions", {}).items() if member in live for tp in tps]
                ok = ok and len(parts) == expect and len(groups.get(group, {}).get("members", [])) == len(survivors)
            if ok:
                # A write decided by the new owners answers.
                if request(survivors[0], "POST", "/missions", prompt())[0] == 202:
                    return time.time() - t0
        time.sleep(0.1)
    return float("nan")


def main():
    print("# nexus-forge on librdkafka's mock cluster (figures of the mock, not of Kafka); %s s per run" % SECS)
    one = Cluster(1)
    try:
        warm_up(one)
        rate1, err1 = throughput(one, SECS)
        owner, direct = latencies(one)
    finally:
        one.stop()
    three = Cluster(3)
    try:
        warm_up(three)
        rate3, err3 = throughput(three, SECS)
        fo = failover(three)
    finally:
        three.stop()
    ms = lambda s: s * 1000.0
    print("POST /missions per second, 1 instance:  %8.1f  (%d not 202)" % (rate1, err1))
    print("POST /missions per second, 3 instances: %8.1f  (%d not 202)   ratio 3/1: %.2f" % (rate3, err3, rate3 / rate1))
    print("decided by the owner (POST /missions):        p50 %6.2f ms  p99 %6.2f ms" % (ms(percentile(owner, 50)), ms(percentile(owner, 99))))
    print("appended directly (POST /agents/lifecycle):   p50 %6.2f ms  p99 %6.2f ms" % (ms(percentile(direct, 50)), ms(percentile(direct, 99))))
    print("added by the owner's decision: p50 %+.2f ms, p99 %+.2f ms; ratio of p50s %.2f" % (
        ms(percentile(owner, 50) - percentile(direct, 50)), ms(percentile(owner, 99) - percentile(direct, 99)),
        percentile(owner, 50) / percentile(direct, 50)))
    print("failover (SIGKILL of the ledger writer until survivors own every partition and answer): %.2f s "
          "(session timeout 3 s)" % fo)


if __name__ == "__main__":
    main()
