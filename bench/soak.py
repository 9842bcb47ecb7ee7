"""The soak: Easel on SQLite under half its measured capacity for a long while (10 minutes by
default), with its memory sampled throughout. Passes when no request failed and the resident
memory at the end is within 10 % of what it was after the first minute. Run through
bench/soak.sh; SOAK_SECS sets the length."""

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import LUA, OUT, Easel, rss_mib, wrk  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECS", "600"))
CONNECTIONS = 32


def main():
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        easel = Easel("sqlite", work, 18181, 18182)
        keys_file = os.path.join(work, "keys.txt")
        easel.start()
        easel.first_key()
        easel.seed(10_000, users=1_000, sample=10_000, out=keys_file)
        pid = easel.proc.pid
        try:
            capacity = wrk(easel.base + "/v1/users/info", pid,
                           {"VALUES_FILE": keys_file, "DELAY_MS": "0"}, "mix.lua")["rps"]
            rate = capacity / 2
            delay_ms = max(1, int(CONNECTIONS * 1000 / rate))
            print(f"capacity {capacity:.0f} req/s with the soak's mix; pacing at ~{rate:.0f} req/s "
                  f"({delay_ms} ms per request per connection) for {SECONDS} s", flush=True)
            samples = []
            done = threading.Event()

            def sample():
                started = time.time()
                while not done.wait(10):
                    samples.append((round(time.time() - started), rss_mib(pid)))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            out = subprocess.run(
                ["wrk", "-t1", f"-c{CONNECTIONS}", "-d", f"{SECONDS}s", "--timeout", "5s", "--latency",
                 "-s", os.path.join(LUA, "mix.lua"), easel.base + "/v1/users/info"],
                env=dict(os.environ, VALUES_FILE=keys_file, DELAY_MS=str(delay_ms)),
                capture_output=True, text=True, timeout=SECONDS + 120, check=True).stdout
            done.set()
            sampler.join()
        finally:
            easel.stop()
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket.groups())) if socket else 0)
    after_warmup = next((rss for t, rss in samples if t >= 60), samples[0][1] if samples else 0.0)
    final = samples[-1][1] if samples else 0.0
    growth = (final - after_warmup) / after_warmup if after_warmup else float("nan")
    result = {
        "seconds": SECONDS, "capacity_rps": capacity, "paced_rps": total / SECONDS, "requests": total,
        "errors": errors, "rss_after_first_minute_mib": after_warmup, "rss_final_mib": final,
        "rss_growth": growth, "rss_samples": samples,
        "passed": errors == 0 and growth <= 0.10,
    }
    with open(os.path.join(OUT, "soak.json"), "w") as f:
        json.dump(result, f, indent=2)
    print(f"{total} requests ({total / SECONDS:.0f}/s), {errors} errors; RSS {after_warmup:.1f} MiB after "
          f"the first minute, {final:.1f} MiB at the end ({growth * 100:+.1f} %): "
          f"{'PASS' if result['passed'] else 'FAIL'}")
    sys.exit(0 if result["passed"] else 1)


if __name__ == "__main__":
    main()
