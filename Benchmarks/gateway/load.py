#!/usr/bin/env python3
"""Accepted call requests per second, with durable writes, under concurrent clients.

Starts linecard-gateway (simulated card, virtual time, its own data folder), then runs
three loads from the same script, each for the same number of requests:

  baseline-sqlite  one INSERT committed per request with Python's sqlite3, WAL and
                   synchronous=FULL on the same disk: what a naive durable queue costs
  health           GET /health on the gateway: the same HTTP stack, no write
  callreq          POST /ocall/callreqHandler.jsp as the reference client sends it:
                   parsed, validated, synced to the queue before the ReqId is returned

and prints requests per second, p50 and p99 latency for each, and the ratios
callreq/baseline-sqlite and callreq/health. Machines here are shared and noisy: read the
ratios, not the absolute figures.

  python3 Benchmarks/gateway/load.py [--gateway PATH] [--clients 16] [--requests 4000]
"""
import argparse, http.client, json, os, shutil, sqlite3, subprocess, sys, tempfile, threading, time, urllib.parse

def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else 0.0

def run_clients(clients, total, one_request):
    """Runs `total` requests spread over `clients` threads; returns (seconds, latencies)."""
    latencies, lock, errors = [], threading.Lock(), []
    per_client = total // clients
    def client(index):
        mine, state = [], {}
        for n in range(per_client):
            start = time.perf_counter()
            try:
                one_request(state, index, n)
            except Exception as e:  # a lost request is a failure of the benchmark
                errors.append(repr(e))
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for t in threads: t.start()
    for t in threads: t.join()
    elapsed = time.perf_counter() - start
    if errors:
        sys.exit(f"{len(errors)} requests failed, first: {errors[0]}")
    return elapsed, latencies

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default=".build/release/linecard-gateway")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    # On the disk the build is on, not /tmp (often tmpfs, where a sync costs nothing).
    os.makedirs(".build", exist_ok=True)
    folder = tempfile.mkdtemp(prefix="gateway-bench-", dir=".build")
    config = os.path.join(folder, "gateway.json")
    # One line only, so that calls placed meanwhile cost little CPU; requests pile up queued.
    json.dump({"port": 0, "dataDirectory": os.path.join(folder, "data"), "lines": [0],
               "card": {"clock": "paced"}}, open(config, "w"))
    gateway = subprocess.Popen([args.gateway, "--config", config, "--log-level", "error"],
                               stdout=subprocess.PIPE, text=True)
    try:
        line = gateway.stdout.readline()
        port = int(line.rsplit(":", 1)[1])
        results = {}

        # Baseline: one durable commit per request, same disk, same script.
        db_path = os.path.join(folder, "baseline.sqlite")
        setup = sqlite3.connect(db_path)
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE r(id INTEGER PRIMARY KEY, phoneno TEXT, txt TEXT)")
        setup.close()
        def insert(state, index, n):
            db = state.get("db")
            if db is None:
                db = state["db"] = sqlite3.connect(db_path, timeout=30, isolation_level=None)
                db.execute("PRAGMA synchronous=FULL")
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO r(phoneno, txt) VALUES(?, ?)", ("201", f"bench {index} {n}"))
            db.execute("COMMIT")
        results["baseline-sqlite"] = run_clients(args.clients, args.requests, insert)

        def connection(state):
            if "c" not in state:
                state["c"] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            return state["c"]
        def health(state, index, n):
            c = connection(state)
            c.request("GET", "/health")
            r = c.getresponse(); r.read()
            assert r.status == 200
        results["health"] = run_clients(args.clients, args.requests, health)

        ids = set()
        def callreq(state, index, n):
            c = connection(state)
            body = urllib.parse.urlencode({"info": "simple text call", "phoneno": "201", "firstocc": 10,
                                           "txt": f"bench {index} {n}", "selfdelete": 0})
            c.request("POST", "/ocall/callreqHandler.jsp", body, {"Content-Type": "application/x-www-form-urlencoded"})
            r = c.getresponse(); text = r.read().decode()
            assert r.status == 200 and "[ReqId=" in text, text
            ids.add(text.split("[ReqId=")[1].split("]")[0])
        results["callreq"] = run_clients(args.clients, args.requests, callreq)
        expected = args.clients * (args.requests // args.clients)
        if len(ids) != expected:
            sys.exit(f"lost requests: {len(ids)} distinct ReqIds for {expected} requests")
        stored = sqlite3.connect(os.path.join(folder, "data", "calls.sqlite")).execute("SELECT COUNT(*) FROM requests").fetchone()[0]
        if stored != expected:
            sys.exit(f"lost requests: {stored} stored for {expected} accepted")

        rates = {name: len(lat) / secs for name, (secs, lat) in results.items()}
        summary = {name: {"requests_per_second": round(rates[name]),
                          "p50_ms": round(percentile(lat, 0.50) * 1000, 2),
                          "p99_ms": round(percentile(lat, 0.99) * 1000, 2)} for name, (secs, lat) in results.items()}
        summary["ratio_callreq_to_baseline_sqlite"] = round(rates["callreq"] / rates["baseline-sqlite"], 2)
        summary["ratio_callreq_to_health"] = round(rates["callreq"] / rates["health"], 2)
        summary["clients"] = args.clients
        summary["accepted_and_stored"] = stored
        if args.json:
            print(json.dumps(summary))
        else:
            for name in ("baseline-sqlite", "health", "callreq"):
                s = summary[name]
                print(f"{name:16} {s['requests_per_second']:7d} req/s   p50 {s['p50_ms']:6.2f} ms   p99 {s['p99_ms']:6.2f} ms")
            print(f"callreq / baseline-sqlite = {summary['ratio_callreq_to_baseline_sqlite']:.2f}   "
                  f"callreq / health = {summary['ratio_callreq_to_health']:.2f}   "
                  f"({args.clients} clients, {stored} requests accepted and stored)")
    finally:
        gateway.terminate()
        gateway.wait(timeout=60)
        shutil.rmtree(folder, ignore_errors=True)

if __name__ == "__main__":
    main()
