#!/usr/bin/env python3
"""Several gateway boxes on one PostgreSQL queue, against one box on SQLite, in one run.

Starts a PostgreSQL server of its own (Debian's package, a cluster under .build/, fsync on,
as a production server would run), then for each setup (sqlite x1, postgres x1, x2, x3):

  accepted  wrk POSTs /ocall/callreqHandler.jsp to every box at once for --seconds; the
            boxes have no calling line (and run the simulated card in real time, as a
            box on hardware would), so the figure is the durable accept path alone
  calls     --calls requests (to 200, answered; a short message) spread over the boxes,
            each box with 4 lines on the simulated card in virtual time: calls completed
            per second, first request to last outcome, as fast as the CPU allows (what a
            call costs the whole stack); then --paced-calls the same way in real time,
            where the lines, not the CPU, are the limit (what more boxes bring)
  claims    (PostgreSQL only) pgbench runs the queue's claim transaction (SELECT ... FOR
            UPDATE SKIP LOCKED, the attempt row, the status) from 1, 4 and 12 clients on
            a queue of waiting requests: claims per second under contention

and prints each figure with its ratio to the one-box SQLite run of the same script.
Machines here are shared and noisy (and have 2 cores: three boxes, the database and the load
generator share them): read the ratios.

  python3 Benchmarks/gateway/scaling.py [--gateway PATH] [--seconds 5] [--calls 120]
"""
import argparse, glob, json, os, re, shutil, socket, sqlite3, subprocess, sys, tempfile, time, urllib.parse, urllib.request

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close(); return port

class Postgres:
    def __init__(self, folder):
        self.bin = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        self.folder, self.port = folder, free_port()
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
        os.makedirs(folder)
        if os.getuid() == 0: shutil.chown(folder, "postgres", "postgres")
        self.cmd(self.run_as + [f"{self.bin}/initdb", "-D", f"{folder}/data", "-A", "trust", "-U", "linecard", "-E", "UTF8"])
        self.cmd(self.run_as + [f"{self.bin}/pg_ctl", "-D", f"{folder}/data", "-l", f"{folder}/log", "-w", "-o",
                                f"-p {self.port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=300", "start"])
    def cmd(self, args, **kw):
        return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd="/", **kw).stdout
    def database(self, name):
        self.cmd([f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "linecard", name])
        return f"postgres://linecard@127.0.0.1:{self.port}/{name}"
    def sql(self, name, query):
        return self.cmd(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "linecard", "-d", name, "-tAc", query]).strip()
    def stop(self):
        subprocess.run(self.run_as + [f"{self.bin}/pg_ctl", "-D", f"{self.folder}/data", "-m", "fast", "-w", "stop"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")

class Box:
    def __init__(self, gateway, folder, name, queue, lines, clock):
        os.makedirs(folder)
        config = os.path.join(folder, "gateway.json")
        settings = {"port": 0, "dataDirectory": os.path.join(folder, "data"), "gatewayId": name,
                    "card": {"clock": clock, "fxoPorts": 4}, "lines": list(range(lines)),
                    "retry": {"attempts": 1, "interval": 0}, "queue": queue}
        json.dump(settings, open(config, "w"))
        self.process = subprocess.Popen([gateway, "--config", config, "--log-level", "error"], stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if "listening on" not in line:
            sys.exit(f"box {name} did not start: {line}")
        self.port = int(line.rsplit(":", 1)[1])
        self.data = os.path.join(folder, "data")
    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=60)

def wrk(ports, seconds, folder):
    script = os.path.join(folder, "callreq.lua")
    with open(script, "w") as f:
        body = urllib.parse.urlencode({"info": "simple text call", "phoneno": "201", "firstocc": 10, "txt": "bench", "selfdelete": 0})
        f.write('wrk.method = "POST"\nwrk.body = "%s"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n' % body)
    runs = [subprocess.Popen(["wrk", "-t1", "-c16", f"-d{seconds}s", "-s", script, f"http://127.0.0.1:{p}/ocall/callreqHandler.jsp"],
                             stdout=subprocess.PIPE, text=True) for p in ports]
    total = 0.0
    for run in runs:
        out = run.communicate()[0]
        if "Non-2xx" in out or "Socket errors" in out:
            sys.exit("wrk saw errors:\n" + out)
        total += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return total

def post(port, form):
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/ocall/callreqHandler.jsp", data, timeout=30) as r:
        text = r.read().decode()
    assert "[ReqId=" in text, text
    return text.split("[ReqId=")[1].split("]")[0]

CLAIM = """
BEGIN;
SELECT id FROM requests WHERE status IN ('pending', 'retry') AND next_attempt <= now() ORDER BY next_attempt, id LIMIT 1 FOR UPDATE SKIP LOCKED \\gset
INSERT INTO attempts(request, number, line, dialled, started, outcome, gateway, lease_until)
    VALUES (:id, 1, :client_id, '200', now(), 'dialling', 'bench', now() + interval '30 seconds');
UPDATE requests SET status = 'calling' WHERE id = :id;
COMMIT;
"""

def calling(args, pg, folder, name, kind, count, n, clock, total):
    """Calls completed per second: `total` requests spread over `count` boxes of four lines."""
    db = f"calls{n}{clock}"
    queue = {"kind": "postgres", "url": pg.database(db)} if kind == "postgres" else {"kind": "sqlite"}
    boxes = [Box(args.gateway, os.path.join(folder, f"{name}-{clock}-calls-{i}"), f"box{i}", queue, 4, clock) for i in range(count)]
    start = time.perf_counter()
    ids = [post(boxes[i % count].port, {"phoneno": "200", "txt": "Hi.", "info": "bench"}) for i in range(total)]
    def finished():
        if kind == "postgres":
            return int(pg.sql(db, "SELECT COUNT(*) FROM requests WHERE status IN ('made', 'failed')"))
        return sqlite3.connect(os.path.join(boxes[0].data, "calls.sqlite")).execute(
            "SELECT COUNT(*) FROM requests WHERE status IN ('made', 'failed')").fetchone()[0]
    while finished() < len(ids):
        time.sleep(0.05)
    rate = len(ids) / (time.perf_counter() - start)
    for b in boxes: b.stop()
    return rate

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", default=".build/release/linecard-gateway")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=120)
    parser.add_argument("--paced-calls", type=int, default=24)
    args = parser.parse_args()
    os.makedirs(".build", exist_ok=True)
    folder = tempfile.mkdtemp(prefix="scaling-bench-", dir=os.path.abspath(".build"))
    os.chmod(folder, 0o755)
    pg = Postgres(os.path.join(folder, "pg"))
    results = {}
    try:
        setups = [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 3)]
        for n, (kind, count) in enumerate(setups):
            name = f"{kind}x{count}"
            # Accepting: boxes without calling lines.
            db = f"accept{n}"
            queue = {"kind": "postgres", "url": pg.database(db)} if kind == "postgres" else {"kind": "sqlite"}
            boxes = [Box(args.gateway, os.path.join(folder, f"{name}-accept-{i}"), f"box{i}", queue, 0, "paced") for i in range(count)]
            accepted = wrk([b.port for b in boxes], args.seconds, folder)
            if kind == "postgres":
                stored = int(pg.sql(db, "SELECT COUNT(*) FROM requests"))
            else:
                stored = sqlite3.connect(os.path.join(boxes[0].data, "calls.sqlite")).execute("SELECT COUNT(*) FROM requests").fetchone()[0]
            for b in boxes: b.stop()
            calls = calling(args, pg, folder, name, kind, count, n, "virtual", args.calls)
            paced = calling(args, pg, folder, name, kind, count, n, "paced", args.paced_calls)
            results[name] = {"accepted_per_second": round(accepted), "stored": stored, "calls_per_second": round(calls, 1),
                             "paced_calls_per_second": round(paced, 2)}

        # Claims under contention, on a queue of waiting requests made by the gateway's own schema.
        db = "claims"
        url = pg.database(db)
        box = Box(args.gateway, os.path.join(folder, "claims-box"), "box0", {"kind": "postgres", "url": url}, 0, "paced")
        box.stop()
        script = os.path.join(folder, "claim.sql")
        open(script, "w").write(CLAIM)
        claims = {}
        for clients in (1, 4, 12):
            pg.sql(db, "TRUNCATE attempts; DELETE FROM requests")
            pg.sql(db, "INSERT INTO requests(id, info, phoneno, numbers, message, self_delete, created, deadline, status, next_attempt, accepted_by) "
                       "SELECT g, '', '200', '[\"200\"]', '{\"text\":\"hi\"}', false, now(), now() + interval '1 hour', 'pending', now(), 'bench' "
                       "FROM generate_series(1, 200000) g")
            out = pg.cmd(["pgbench", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "linecard", "-n", "-c", str(clients), "-j", "2",
                          "-T", str(args.seconds), "-f", script, db])
            claims[clients] = float(re.search(r"tps = ([\d.]+)", out).group(1))
            duplicates = int(pg.sql(db, "SELECT COUNT(*) - COUNT(DISTINCT request) FROM attempts"))
            if duplicates:
                sys.exit(f"{duplicates} requests claimed twice")
        results["claims_per_second"] = {str(c): round(v) for c, v in claims.items()}
    finally:
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)

    base = results["sqlitex1"]
    print(f"{'setup':12} {'accepted/s':>11} {'ratio':>6} {'calls/s virtual':>16} {'ratio':>6} {'calls/s real time':>18} {'ratio':>6}")
    for name in ("sqlitex1", "postgresx1", "postgresx2", "postgresx3"):
        r = results[name]
        print(f"{name:12} {r['accepted_per_second']:11d} {r['accepted_per_second'] / base['accepted_per_second']:6.2f} "
              f"{r['calls_per_second']:16.1f} {r['calls_per_second'] / base['calls_per_second']:6.2f} "
              f"{r['paced_calls_per_second']:18.2f} {r['paced_calls_per_second'] / base['paced_calls_per_second']:6.2f}")
    c = results["claims_per_second"]
    print("claims/s on PostgreSQL under contention: " + ", ".join(f"{k} clients {v}" for k, v in c.items())
          + f" (12 clients / 1 = {int(c['12']) / max(1, int(c['1'])):.2f})")
    print(json.dumps(results))

if __name__ == "__main__":
    main()
