"""Drives Easel and the baseline with wrk and reports requests/s, p50, p99, server CPU per
request and the ratio to the baseline. Run through bench/run.sh."""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "easel")
HELLO = os.path.join(ROOT, "target", "release", "easel-bench-hello")
LUA = os.path.join(ROOT, "bench", "lua")
OUT = os.path.join(ROOT, "bench", "out")
PASSWORD = "stable orbit cactus velvet"
DURATION = os.environ.get("BENCH_DURATION", "10s")
PAIRS = int(os.environ.get("BENCH_PAIRS", "5"))
# Each server (hello and Easel alike) runs in a session of its own, as a daemon does, rather
# than in the benchmark's: with the kernel's autogroup scheduling on (Debian's default), a
# session is a scheduling group, and in one group with wrk the servers' threads and wrk's
# compete thread by thread on these 2 cores. BENCH_SHARED_SESSION=1 puts them back in one.
SERVER_SESSIONS = os.environ.get("BENCH_SHARED_SESSION") != "1"
WARMUP = os.environ.get("BENCH_WARMUP", "2s")
PG = os.environ.get("EASEL_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
TICK = os.sysconf("SC_CLK_TCK")
# Rows 2-4 (and 2') compare Easel with hello, server against server. wrk -t1 keeps one of the
# two cores busy; a server with a worker per core (tokio's default) then runs three busy
# threads on two cores, and its p99 measures the scheduler's time slices (2-3 ms) rather than
# the server (docs/performance.md, round 7). So in those rows both servers run one worker
# (TOKIO_WORKER_THREADS; BENCH_PAIRED_THREADS, 0 for tokio's default) and wrk has the other
# core. Rows 2 and 3 are measured again with the default runtime, reported beside them
# (BENCH_DEFAULT_PAIRS pairs; 0 skips them). Rows 5-7 measure what the node does with the
# whole machine and run on the default runtime.
PAIRED_THREADS = os.environ.get("BENCH_PAIRED_THREADS", "1")
DEFAULT_PAIRS = int(os.environ.get("BENCH_DEFAULT_PAIRS", "3"))


def runtime_env(threads, **extra):
    """The environment of a server: tokio's worker count set to `threads`, or left to tokio."""
    env = {k: v for k, v in os.environ.items() if k != "TOKIO_WORKER_THREADS"}
    if threads and threads != "0":
        env["TOKIO_WORKER_THREADS"] = threads
    env.update(extra)
    return env


def wait_http(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except Exception:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def cpu_ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def to_ms(value):
    """wrk's latency ("512.00us", "1.20ms", "1.00s"); NaN if it printed none (no request
    finished, for instance), so one odd run does not lose the rest of the table."""
    match = re.match(r"([\d.]+)(us|ms|s|m)$", value)
    if not match:
        return float("nan")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(url, pid, env=None, script=None):
    """A warm-up, then the measured run; returns requests/s, p50, p99 (ms), CPU µs/request."""
    base = ["wrk", "-t1", "-c32", "--latency"]
    if script:
        base += ["-s", os.path.join(LUA, script)]
    full_env = dict(os.environ, **(env or {}))
    subprocess.run(base + ["-d", WARMUP, url], env=full_env, capture_output=True, timeout=120, check=True)
    before = cpu_ticks(pid)
    out = subprocess.run(base + ["-d", DURATION, url], env=full_env, capture_output=True, text=True,
                         timeout=120, check=True).stdout
    after = cpu_ticks(pid)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    # Anchored: "99%" also occurs inside wrk's thread statistics (say "81.99%").
    p50_match = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99_match = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not (p50_match and p99_match):
        with open(os.path.join(OUT, f"wrk-unparsed-{int(time.time())}.txt"), "w") as f:
            f.write(out)
    p50 = to_ms(p50_match.group(1)) if p50_match else float("nan")
    p99 = to_ms(p99_match.group(1)) if p99_match else float("nan")
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    cpu_us = (after - before) / TICK * 1e6 / max(total, 1)
    return {"rps": rps, "p50_ms": p50, "p99_ms": p99, "cpu_us_per_req": cpu_us, "requests": total,
            "non_2xx": int(errors.group(1)) if errors else 0}


def median_pair(runs):
    """`runs`: (measured, baseline) pairs of wrk results, run in turn. Returns the pair whose
    throughput ratio (measured over baseline) is the median, and every pair's ratio in run
    order: on these machines two runs 12 s apart differ by more than the margins judged."""
    ratios = [measured["rps"] / baseline["rps"] for measured, baseline in runs]
    measured, baseline = sorted(runs, key=lambda run: run[0]["rps"] / run[1]["rps"])[len(runs) // 2]
    return measured, baseline, ratios


def answer_header_names(url, headers):
    """The names of the headers a GET answers with, but those both servers' HTTP stack writes
    (date, length, and `connection`, as urllib closes each connection) and the rate limiter's
    (off in the benchmark)."""
    answer = urllib.request.urlopen(urllib.request.Request(url, headers=headers))
    return sorted({name.lower() for name in answer.headers.keys()}
                  - {"date", "content-length", "connection", "ratelimit", "ratelimit-policy"})


def metric(port, name):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
    return int(re.search(rf"^{name} (\d+)$", text, re.M).group(1))


def post(url, headers=None, body=None):
    request = urllib.request.Request(url, data=body.encode() if body else b"", headers=headers or {}, method="POST")
    return json.loads(urllib.request.urlopen(request).read())


def get(url, headers=None):
    return json.loads(urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})).read())


class Easel:
    def __init__(self, store, work, port, metrics_port, share=None):
        self.work, self.port, self.metrics_port = work, port, metrics_port
        if share:  # a second node on another node's database
            self.url, self.dbname = share.url, share.dbname
        elif store == "sqlite":
            self.url = f"sqlite://{work}/easel.db"
        else:
            self.dbname = f"easel_bench_{os.getpid()}"
            subprocess.run(["psql", PG, "-qc", f"drop database if exists {self.dbname} with (force)"], check=True)
            subprocess.run(["psql", PG, "-qc", f"create database {self.dbname}"], check=True)
            self.url = PG.rsplit("/", 1)[0] + "/" + self.dbname
        self.store = store
        self.base = f"http://127.0.0.1:{port}"
        self.proc = None
        self.threads = None

    def start(self, threads=None):
        """Starts the node with `threads` tokio workers (None: tokio's default); returns the
        seconds until it answered."""
        started = time.time()
        self.threads = threads
        self.proc = subprocess.Popen(
            [BIN, "serve", "--listen", f"127.0.0.1:{self.port}", "--database-url", self.url,
             "--admin-email", "bench@easel.test", "--admin-password", PASSWORD, "--tenant-name", "bench",
             "--metrics-listen", f"127.0.0.1:{self.metrics_port}",
             # One address drives every row: per-address limits would measure the limiter.
             "--rate-limits", "off"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=runtime_env(threads, EASEL_LOG="warn"),
            start_new_session=SERVER_SESSIONS)
        wait_http(self.base + "/v1/health/ping")
        return time.time() - started

    def first_key(self):
        for _ in range(100):
            line = self.proc.stdout.readline()
            match = re.search(r"API key\s+(easel_\S+)", line)
            if match:
                return match.group(1)
        raise RuntimeError("no bootstrap key printed")

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
            self.proc = None

    def restart(self, threads=None):
        self.stop()
        return self.start(threads)

    def drop(self):
        if self.store == "postgres":
            subprocess.run(["psql", PG, "-qc", f"drop database if exists {self.dbname} with (force)"], check=False)

    def seed(self, keys, users=0, sample=10000, out=None):
        started = time.time()
        subprocess.run([BIN, "admin", "seed", "--database-url", self.url, "--keys", str(keys), "--users",
                        str(users), "--sample", str(sample)] + (["--keys-out", out] if out else []),
                       check=True, capture_output=True, timeout=600)
        return time.time() - started


class Hello:
    """One baseline server: its process, its address and its plain row (row 1)."""

    def __init__(self, port, threads):
        self.base = f"http://127.0.0.1:{port}"
        self.url = f"{self.base}/hello"
        self.threads = threads
        self.proc = subprocess.Popen([HELLO, f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL,
                                     env=runtime_env(threads), start_new_session=SERVER_SESSIONS)
        self.row = None

    def measure(self, name):
        wait_http(self.url)
        self.row = wrk(self.url, self.proc.pid)
        self.row.update(name=name, store="-", target="", note="", ratio=1.0, p99_ratio=1.0,
                        tokio_workers=self.threads or "default")
        print(f"  {'-':8} {name:42} {self.row['rps']:>10.0f} req/s  p50 "
              f"{self.row['p50_ms']:6.2f} ms  p99 {self.row['p99_ms']:6.2f} ms  "
              f"{self.row['cpu_us_per_req']:6.1f} µs CPU", flush=True)
        return self.row

    def measure_with_headers(self, name, pairs=PAIRS):
        """Row 1h: this baseline answering with the headers of an Easel JSON answer
        (`/hello-headers`), against its own plain `/hello`. Reported, never a baseline: it says
        how much of Easel's distance from the bare hello its response headers alone make.
        Measured as rows 2 and 3 are, in `pairs` alternating pairs (plain, then with headers),
        reporting the pair with the median ratio: a single run against row 1p, taken 12 s
        earlier, said 0.80 on round 19's host, where twelve alternating pairs said 0.95."""
        runs = []
        for _ in range(pairs):
            plain = wrk(self.url, self.proc.pid)
            runs.append((wrk(self.base + "/hello-headers", self.proc.pid), plain))
        row, plain, ratios = median_pair(runs)
        row.update(name=name, store="-", target="reported", ratio=row["rps"] / plain["rps"],
                   p99_ratio=row["p99_ms"] / plain["p99_ms"], tokio_workers=self.threads or "default",
                   baseline_same_script=plain, pair_ratios=ratios,
                   note="pairs: " + ", ".join(f"x{x:.2f}" for x in ratios))
        print(f"  {'-':8} {name:42} {row['rps']:>10.0f} req/s  p50 {row['p50_ms']:6.2f} ms  "
              f"p99 {row['p99_ms']:6.2f} ms  {row['cpu_us_per_req']:6.1f} µs CPU  x{row['ratio']:.2f} "
              f"(plain hello beside it: {plain['rps']:.0f} req/s) {row['note']}", flush=True)
        return row

    def header_names(self):
        """The names of the headers `/hello-headers` answers with."""
        return answer_header_names(self.base + "/hello-headers", {})

    def same_script(self, env):
        """The baseline driven by the very script and values of an Easel row (only the path
        differs), so that the ratio does not count wrk's own per-request Lua work as Easel's."""
        return wrk(self.url, self.proc.pid, dict(env, PATH_="/hello"), "header.lua")


def bench_store(store, hellos, scale):
    """`hellos`: the baseline on tokio's default runtime ("default") and on the paired rows'
    ("paired")."""
    work = tempfile.mkdtemp(prefix=f"easel-bench-{store}-")
    easel = Easel(store, work, 18181, 18182)
    rows = []
    try:
        easel.start(PAIRED_THREADS)
        admin_key = easel.first_key()
        keys_file = os.path.join(work, "keys.txt")
        easel.seed(10000, out=keys_file)
        keys = open(keys_file).read().split()
        tokens = [post(easel.base + "/v1/auth/authenticate?setCookie=false", {"ApiKey": k})["Authorization"]
                  for k in keys[:1000]]
        tokens_file = os.path.join(work, "tokens.txt")
        open(tokens_file, "w").write("\n".join(tokens) + "\n")
        unknown_file = os.path.join(work, "unknown.txt")
        open(unknown_file, "w").write(subprocess.run([BIN, "admin", "generate-keys", "--count", "1000"],
                                                     capture_output=True, text=True, check=True).stdout)
        bad_file = os.path.join(work, "bad.txt")
        open(bad_file, "w").write(keys[0][:-1] + ("a" if keys[0][-1] != "a" else "b") + "\n")
        url = easel.base + "/v1/users/info"
        easels = answer_header_names(url, {"ApiKey": admin_key})
        hellos_with_headers = hellos["paired"].header_names()
        if easels != hellos_with_headers:
            print(f"  WARNING: row 1h's headers {hellos_with_headers} are not Easel's {easels}: "
                  "update bench/hello", flush=True)

        def row(name, target, result, note="", baseline=None):
            """Prints and keeps a row. A paired row (2, 3, 2d, 3d, 2') carries its ratio to the
            plain hello measured beside each of its runs (`paired`); any other row is compared
            with the plain row of the baseline on the runtime Easel is on, measured at the
            start."""
            plain = hellos["paired" if easel.threads == PAIRED_THREADS else "default"].row
            result.update(name=name, store=store, target=target, note=note,
                          ratio_to_1p=result["rps"] / plain["rps"], tokio_workers=easel.threads or "default")
            if "pair_ratios" not in result:
                result.update(ratio=result["ratio_to_1p"], p99_ratio=result["p99_ms"] / plain["p99_ms"])
            paired = ""
            if baseline:
                result.update(baseline_same_script=baseline,
                              p99_ratio_same_script=result["p99_ms"] / baseline["p99_ms"])
                result.setdefault("ratio_same_script", result["rps"] / baseline["rps"])
                paired = (f"  (hello, same script: {baseline['rps']:.0f} req/s, p99 {baseline['p99_ms']:.2f} ms"
                          f" → x{result['ratio_same_script']:.2f}, p99 x{result['p99_ratio_same_script']:.2f})")
            if "pair_ratios" in result:
                paired = (f"  of the plain hello beside it ({result['baseline_plain']['rps']:.0f} req/s, "
                          f"p99 {result['baseline_plain']['p99_ms']:.2f} ms → p99 x{result['p99_ratio']:.2f});"
                          f" x{result['ratio_same_script']:.2f} of hello on the same script,"
                          f" x{result['ratio_to_1p']:.2f} of row 1p")
            rows.append(result)
            print(f"  {store:8} {name:42} {result['rps']:>10.0f} req/s  p50 {result['p50_ms']:6.2f} ms  "
                  f"p99 {result['p99_ms']:6.2f} ms  {result['cpu_us_per_req']:6.1f} µs CPU  "
                  f"x{result['ratio']:.2f}{paired} {note}", flush=True)

        def scripted(values_file, header, hello=None):
            env = {"VALUES_FILE": values_file, "HEADER": header}
            baseline = (hello or hellos["paired"]).same_script(env)
            return wrk(url, easel.proc.pid, env, "header.lua"), baseline

        def paired(values_file, header, pairs=PAIRS, hello=None):
            """Rows 2 and 3 decide a target on a ratio, and two runs 12 s apart on these
            machines differ by more than the margin (a whole run's hello by a fifth, round 22):
            `pairs` alternating rounds of the plain hello, the hello on Easel's very script and
            values, then Easel. The ratio judged is Easel's to the plain hello of its own round,
            the median over the rounds; the ratio to the hello on the same script (which does
            not count wrk's Lua against Easel) is reported beside it. The row shown is the
            round with the median ratio."""
            hello = hello or hellos["paired"]
            rounds = []
            for _ in range(pairs):
                plain = wrk(hello.url, hello.proc.pid)
                result, same = scripted(values_file, header, hello)
                rounds.append((result, same, plain))
            ratios = [r["rps"] / p["rps"] for r, _, p in rounds]
            same_ratios = [r["rps"] / s["rps"] for r, s, _ in rounds]
            median = lambda values: sorted(values)[len(values) // 2]
            result, baseline, plain = sorted(rounds, key=lambda r: r[0]["rps"] / r[2]["rps"])[len(rounds) // 2]
            result.update(ratio=median(ratios), pair_ratios=ratios, baseline_plain=plain,
                          ratio_same_script=median(same_ratios), pair_ratios_same_script=same_ratios,
                          p99_ratio=result["p99_ms"] / plain["p99_ms"])
            result["pair_p99_ratios"] = [r["p99_ms"] / p["p99_ms"] for r, _, p in rounds]
            # Reported beside the rule's figure (the median round's p99): one run's p99 moves
            # with a stall of the whole machine (both cores losing tens of ms at once, hello's
            # own runs included), so the median of the rounds' p99 ratios says more about the
            # server than any one round's.
            result["pair_p99_ratio_median"] = median(result["pair_p99_ratios"])
            note = "rounds: " + ", ".join(f"x{x:.2f}" for x in ratios) + " (same script " + ", ".join(
                f"x{x:.2f}" for x in same_ratios) + "; p99 " + ", ".join(
                f"x{x:.1f}" for x in result["pair_p99_ratios"]) + \
                f"; median x{result['pair_p99_ratio_median']:.1f})"
            return result, baseline, note

        result, baseline, note = paired(keys_file, "ApiKey")
        # Measured here, before the password rows: argon2id's 19 MiB per hash stays mapped.
        result["rss_mib"] = rss_mib(easel.proc.pid)
        row("2 users/info, ApiKey (10k keys)", "≥0.85× hello, p99 ≤3×", result, note, baseline)
        row2 = result
        result, baseline, note = paired(tokens_file, "Authorization")
        row("3 users/info, Authorization token", "≥0.85× hello, p99 ≤3×", result, note, baseline)
        lookups = metric(easel.metrics_port, "easel_auth_store_lookups_total")
        bad, baseline = scripted(bad_file, "ApiKey")
        bad_lookups = metric(easel.metrics_port, "easel_auth_store_lookups_total") - lookups
        row("4a bad checksum (401)", "no store access", bad, f"store lookups: {bad_lookups}", baseline)
        entries = metric(easel.metrics_port, "easel_auth_cache_entries")
        unknown, baseline = scripted(unknown_file, "ApiKey")
        grown = metric(easel.metrics_port, "easel_auth_cache_entries") - entries
        row("4b unknown well-formed key (401)", "not cached", unknown, f"cache entries added: {grown}", baseline)
        easel.restart()
        pid = easel.proc.pid
        if DEFAULT_PAIRS:
            default = hellos["default"]
            for name, values, header in (("2d ApiKey, default runtime", keys_file, "ApiKey"),
                                         ("3d token, default runtime", tokens_file, "Authorization")):
                result, baseline, note = paired(values, header, DEFAULT_PAIRS, default)
                row(name, "reported", result, note, baseline)
        row("5 POST /v1/auth/authenticate", "≥15,000 tokens/s",
            wrk(easel.base + "/v1/auth/authenticate?setCookie=false", pid,
                {"VALUES_FILE": keys_file, "HEADER": "ApiKey", "METHOD": "POST",
                 "PATH_": "/v1/auth/authenticate?setCookie=false"}, "header.lua"))
        first_page = easel.base + "/v1/apiKeys?limit=50"
        row("6a GET /v1/apiKeys first page (10k keys)", "deep = first, <5 ms p50",
            wrk(first_page, pid, {"VALUES_FILE": admin_file(work, admin_key), "HEADER": "ApiKey",
                                  "PATH_": "/v1/apiKeys?limit=50"}, "header.lua"))
        deep = get(easel.base + "/v1/apiKeys?limit=1&offset=9000", {"ApiKey": admin_key})["listmeta"]["continue"]
        deep_path = f"/v1/apiKeys?limit=50&continue={deep}"
        row("6b GET /v1/apiKeys page 9000 of 10k", "deep = first, <5 ms p50",
            wrk(easel.base + deep_path, pid, {"VALUES_FILE": admin_file(work, admin_key), "HEADER": "ApiKey",
                                                "PATH_": deep_path}, "header.lua"))
        login = wrk(easel.base + "/v1/auth/authenticate?setCookie=false", pid,
                    {"EMAIL": "bench@easel.test", "ORG": "bench", "PASSWORD": PASSWORD}, "login.lua")
        login["per_core"] = login["rps"] / os.cpu_count()
        row("7 password sign-in (argon2id 19 MiB, t=2)", "report per core", login,
            f"{login['per_core']:.0f} logins/s per core")
        if scale:
            rows.extend(scale_rows(easel, store, row2, keys_file, admin_key, work, row, paired))
    finally:
        easel.stop()
        easel.drop()
    return rows


def admin_file(work, key):
    path = os.path.join(work, "admin.txt")
    open(path, "w").write(key + "\n")
    return path


def scale_rows(easel, store, row2, keys_file, admin_key, work, row, paired):
    extra = []
    rss_small = row2["rss_mib"]
    easel.stop()
    seconds = easel.seed(990000, users=100000, sample=0)
    print(f"  {store:8} seeded 990,000 more keys and 100,000 users in {seconds:.1f} s", flush=True)
    startup = easel.start(PAIRED_THREADS)  # as row 2, which row 2' is compared with
    print(f"  {store:8} start-up with 1,000,000 keys: {startup:.2f} s", flush=True)
    url = easel.base + "/v1/users/info"
    pid = easel.proc.pid
    # As row 2 is measured: five pairs with the hello beside it, the median pair kept. Row 2
    # ran minutes earlier, before the seeding, and these hosts' speed drifts by more than the
    # 10 % judged between two such moments (a single run here said 0.82 and 0.87 of row 2 in
    # rounds 18 and 19); each row's ratio to the hello beside it drifts far less.
    # The target is judged on the ratio of those two ratios; the ratio of the two throughputs
    # is reported beside it.
    big, baseline, note = paired(keys_file, "ApiKey")
    big.update(rss_mib=rss_mib(pid), startup_s=startup, seed_s=seconds, ratio_to_row2=big["rps"] / row2["rps"],
               ratio_to_row2_paired=big["ratio"] / row2["ratio"],
               ratio_to_row2_same_script=big["ratio_same_script"] / row2["ratio_same_script"])
    row("2' users/info, ApiKey, 1M keys in the store", "≥0.9× of row 2", big,
        f"x{big['ratio_to_row2_paired']:.2f} of row 2, each against the plain hello beside it "
        f"(x{big['ratio_to_row2_same_script']:.2f} against the hello on the same script, "
        f"x{big['ratio_to_row2']:.2f} in req/s); RSS {big['rss_mib']:.0f} MiB (row 2: {rss_small:.0f} MiB), "
        f"start-up {startup:.2f} s, seed {seconds:.0f} s; {note}", baseline)
    easel.restart()
    pid = easel.proc.pid
    path = "/v1/apiKeys?limit=50"
    row("6a' first page, 1M keys", "<5 ms p50", wrk(easel.base + path, pid,
        {"VALUES_FILE": admin_file(work, admin_key), "HEADER": "ApiKey", "PATH_": path}, "header.lua"))
    deep = get(easel.base + "/v1/apiKeys?limit=1&offset=900000", {"ApiKey": admin_key})["listmeta"]["continue"]
    path = f"/v1/apiKeys?limit=50&continue={deep}"
    row("6b' page 900,000 of 1M", "<5 ms p50", wrk(easel.base + path, pid,
        {"VALUES_FILE": admin_file(work, admin_key), "HEADER": "ApiKey", "PATH_": path}, "header.lua"))
    return extra


def status_of(url, headers):
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5).status
    except urllib.error.HTTPError as e:
        return e.code


def put(url, headers, body):
    request = urllib.request.Request(url, data=body.encode(), method="PUT",
                                     headers=dict(headers, **{"Content-Type": "application/json"}))
    return urllib.request.urlopen(request, timeout=5).status


def cross_node(samples=100):
    """Two nodes on one PostgreSQL: a key revoked through node A, then polled on node B (which
    has it cached) until B refuses it. Reports the distribution of that delay."""
    a = Easel("postgres", tempfile.mkdtemp(prefix="easel-bench-a-"), 18183, 18184)
    b = Easel("postgres", a.work, 18185, 18186, share=a)
    try:
        a.start()
        admin = a.first_key()
        b.start()
        headers = {"ApiKey": admin, "Content-Type": "application/json"}
        expiry = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() + 7 * 86400))
        delays = []
        for n in range(samples):
            created = post(a.base + "/v1/apiKeys", headers,
                           json.dumps({"metadata": {"name": f"cross-{n}"}, "spec": {"expiry": expiry}}))
            key = {"ApiKey": created["apiKey"]}
            assert status_of(b.base + "/v1/users/info", key) == 200  # now cached on B
            assert status_of(b.base + "/v1/users/info", key) == 200
            assert put(f"{a.base}/v1/apiKeys/{created['uid']}/state", {"ApiKey": admin},
                       '{"isActive": false}') == 204
            revoked = time.perf_counter()
            while status_of(b.base + "/v1/users/info", key) == 200:
                if time.perf_counter() - revoked > 30:
                    raise RuntimeError("node B still accepts a key revoked 30 s ago")
            delays.append((time.perf_counter() - revoked) * 1000)
        delays.sort()
        pick = lambda q: delays[min(len(delays) - 1, int(q * len(delays)))]
        result = {"name": "8 revoked on node A, refused by node B", "store": "postgres", "target": "p99 ≤ 1 s",
                  "samples": samples, "p50_ms": pick(0.5), "p99_ms": pick(0.99), "max_ms": delays[-1]}
        print(f"  postgres 8 revoke on A → refused on B ({samples} keys): p50 {result['p50_ms']:.1f} ms, "
              f"p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms", flush=True)
        return [result]
    finally:
        b.stop()
        a.stop()
        a.drop()


def main():
    scale = "--scale" in sys.argv
    stores = [s for s in ("sqlite", "postgres") if f"--only-{s}" in sys.argv] or ["sqlite", "postgres"]
    os.makedirs(OUT, exist_ok=True)
    hellos = {"default": Hello(18090, None), "paired": Hello(18091, PAIRED_THREADS)}
    results = []
    try:
        results.append(hellos["default"].measure("1 baseline: axum hello"))
        results.append(hellos["paired"].measure(f"1p baseline, {PAIRED_THREADS} tokio worker(s)"))
        results.append(hellos["paired"].measure_with_headers("1h 1p with Easel's response headers"))
        for store in stores:
            results.extend(bench_store(store, hellos, scale))
        if "postgres" in stores:
            results.extend(cross_node())
    finally:
        for hello in hellos.values():
            hello.proc.terminate()
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"machine": {"cpus": os.cpu_count()}, "wrk": "-t1 -c32", "duration": DURATION,
                   "paired_rows_tokio_workers": PAIRED_THREADS,
                   "warmup": WARMUP, "rows": results}, f, indent=2)
    print(f"\nwritten to {os.path.join(OUT, 'results.json')}")


if __name__ == "__main__":
    main()
