"""Benchmark of the Redis store with a running engine (not a test: prints figures).

Run:  .venv/bin/python tests/benchmarks/bench_redis.py [--pushes 200] [--numbers 100000]
      [--cps 100] [--skip-reload]

Starts its own redis-server (free port, temporary folder, no persistence) and a real
`callflow serve` on it (log level INFO), then measures:

1. Push -> plan latency (target p99 < 100 ms): ``RedisStore.push`` of one changed number
   (what `callflow rules push` does after validating its file), then ``/health`` is polled
   until ``rules_version`` reaches the pushed version. The engine sets that version right
   after swapping the RuleSet in, so from then on every new call plans with the change;
   every 10th push this is checked with a simulated call. The figure includes the Lua
   script, the publication, the engine's read of the number, its validation and swap, and
   the /health round trip (its own cost is printed). The CLI's start-up (Python, imports,
   validating the file) comes on top and is timed separately.
2. Full reload of ``--numbers`` numbers (all changed) while the simulator places ``--cps``
   calls per second (target: no call refused, none delayed more than 50 ms, reload under
   10 s). The new configuration is written by a separate process (so this process's
   load generator is not starved), as one push. Reported: the script's time, publish ->
   in force (``rules_version`` in /health; the engine swaps the numbers in deferred and
   compiles each on first use), publish -> every number compiled by the background
   warm-up (its ``rules compiled`` log line), call durations before, during the reload,
   during the warm-up and after, refusals, and the engine's own
   ``callflow_call_setup_seconds`` histogram (connection accepted -> first command) over
   the whole window (from 3 s before the push to 2 s after the warm-up), which is free
   of the load generator's noise.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from rules.redis_store import UPDATES, RedisStore  # noqa: E402
from rules.stored import StoredConfig  # noqa: E402
from tests.benchmarks.bench_rules import generate  # noqa: E402
from tests.fsim.simulator import Simulator  # noqa: E402
from tests.helpers.engine_proc import EngineProcess  # noqa: E402
from tests.helpers.redis_server import RedisServer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
PROBES = [f"+5511400400{i:02d}" for i in range(100)]
CAUSES = ("CALL_REJECTED", "USER_BUSY")


class Engine(EngineProcess):
    def __init__(self, tmp: Path, url: str):
        tmp.mkdir(parents=True, exist_ok=True)
        super().__init__(tmp, "numbers: {}\n", env={
            "CALLFLOW_RULES": url, "CALLFLOW_LOG_LEVEL": "INFO", "CALLFLOW_MAX_CALLS": "2000"})

    def health(self) -> dict:
        try:
            return super().health()
        except urllib.error.HTTPError as exc:
            return json.loads(exc.read())

    def wait(self, predicate, timeout: float, poll: float = 0.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            h = self.health()
            if predicate(h):
                return h
            if poll:
                time.sleep(poll)
        raise RuntimeError(f"engine never got there: {self.health()}")

    def wait_logged(self, msg: str, predicate, timeout: float) -> dict:
        # Reads only what was appended since the last look, and parses only lines that
        # carry the message: re-reading the whole log (every call's lines) each time
        # would starve this process's load generator and skew the call figures.
        deadline = time.monotonic() + timeout
        needle = json.dumps(msg).encode()
        with open(self.log_path, "rb") as f:
            partial = b""
            while time.monotonic() < deadline:
                chunk = f.read()
                lines = (partial + chunk).split(b"\n")
                partial = lines.pop()
                for raw in lines:
                    if needle in raw:
                        line = json.loads(raw)
                        if line.get("msg") == msg and predicate(line):
                            return line
                time.sleep(0.1)
        raise RuntimeError(f"the engine never logged {msg!r}")

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def setup_histogram(self) -> dict[float, float]:
        out = {}
        for line in self.metrics().splitlines():
            if line.startswith("callflow_call_setup_seconds_bucket"):
                le = line.split('le="')[1].split('"')[0]
                out[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
        return out


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ms(x: float) -> str:
    return f"{x * 1000:.1f} ms"


def probes_config(causes: dict[str, str]) -> dict:
    return {n: {"hangup": [{"cause": c}]} for n, c in causes.items()}


# -- 1. push -> plan latency -------------------------------------------------------------

def bench_latency(store: RedisStore, engine: Engine, sim: Simulator, pushes: int, url: str) -> dict:
    causes = {n: CAUSES[0] for n in PROBES}
    t0 = time.perf_counter()
    for _ in range(50):
        engine.health()
    health_rtt = (time.perf_counter() - t0) / 50
    latencies, checked = [], 0
    for i in range(pushes):
        number = PROBES[i % len(PROBES)]
        causes[number] = CAUSES[1] if causes[number] == CAUSES[0] else CAUSES[0]
        started = time.perf_counter()
        result = store.push({"numbers": {number: {"hangup": [{"cause": causes[number]}]}}})
        while engine.health()["rules_version"] < result.version:
            pass
        latencies.append(time.perf_counter() - started)
        if i % 10 == 0:
            r = sim.place_call(destination_number=number)
            assert r.apps == [("hangup", causes[number])], (r.apps, causes[number])
            checked += 1
    # the same through the command, as an operator runs it (Python start-up included)
    cli = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(10):
            number = PROBES[i]
            causes[number] = CAUSES[1] if causes[number] == CAUSES[0] else CAUSES[0]
            path = Path(d) / "one.yaml"
            path.write_text(json.dumps({"numbers": probes_config({number: causes[number]})}))
            version = engine.health()["rules_version"]
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "engine.cli", "rules", "push", str(path),
                            "--redis", url], cwd=REPO, check=True, capture_output=True)
            while engine.health()["rules_version"] <= version:
                pass
            cli.append(time.perf_counter() - started)
    return {"latencies": latencies, "health_rtt": health_rtt, "checked": checked, "cli": cli}


# -- 2. full reload under load -----------------------------------------------------------

PUSHER = r"""
import json, sys, time
from rules.models import Defaults
from rules.redis_store import RedisStore
from rules.stored import StoredConfig
data = json.load(open(sys.argv[2]))
config = StoredConfig(Defaults(**data["defaults"]), data["entries"], defaults_given=True)
store = RedisStore(sys.argv[1], socket_timeout=300)
t0 = time.perf_counter()
result = store.push(config)
print(json.dumps({"seconds": time.perf_counter() - t0, "version": result.version,
                  "changed": len(result.changed)}))
"""


class Load:
    """Places ``cps`` calls per second to the probe numbers from a thread pool."""

    def __init__(self, sim: Simulator, cps: int):
        self.sim, self.cps = sim, cps
        self.results: list[tuple[float, float, float, bool, str | None]] = []
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(64)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _call(self, scheduled: float, number: str):
        start = time.perf_counter()
        try:
            r = self.sim.place_call(destination_number=number, timeout=10)
            refused, cause = r.refused, (r.apps[-1][1] if r.apps else None)
        except Exception as exc:  # counted as refused: the engine did not take the call
            refused, cause = True, f"error: {exc}"
        self.results.append((scheduled, start, time.perf_counter(), refused, cause))

    def _run(self):
        t0 = time.perf_counter()
        i = 0
        while not self._stop.is_set():
            due = t0 + i / self.cps
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self._pool.submit(self._call, due, PROBES[i % len(PROBES)])
            i += 1

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)


def summarise(rows, since: float, until: float) -> dict:
    sel = [r for r in rows if since <= r[0] < until]
    durations = [end - start for _, start, end, refused, _ in sel if not refused]
    late = [start - sched for sched, start, *_ in sel]
    return {"calls": len(sel), "refused": sum(1 for r in sel if r[3]),
            "p50": pct(durations, 50) if durations else float("nan"),
            "p99": pct(durations, 99) if durations else float("nan"),
            "max": max(durations) if durations else float("nan"),
            "over_50ms": sum(1 for d in durations if d > 0.05),
            "client_late_max": max(late) if late else float("nan")}


def bench_reload(store: RedisStore, engine: Engine, sim: Simulator, url: str, n: int, cps: int,
                 seed: int, tmp: Path, subscriber) -> dict:
    rng = random.Random(seed)
    data = generate(n, rng)
    for probe in PROBES:
        data["numbers"].pop(probe, None)
    data["numbers"].update(probes_config({p: CAUSES[0] for p in PROBES}))
    t0 = time.perf_counter()
    v1 = StoredConfig.from_mapping(data)
    validate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    r1 = store.push(v1)
    engine.wait(lambda h: h["rules_version"] >= r1.version, 120, poll=0.01)
    idle_load_s = time.perf_counter() - t0
    rss_one = engine.rss_mb()

    # v2: every number changed (the first forward rings one second longer), probes flip
    for key, cfg in data["numbers"].items():
        if "forwarding" in cfg:
            cfg["forwarding"][0]["ring_seconds"] += 1
    data["numbers"].update(probes_config({p: CAUSES[1] for p in PROBES}))
    v2 = StoredConfig.from_mapping(data)
    assert all(v2.entries[k] != v1.entries[k] for k in v2.entries)
    payload = tmp / "v2.json"
    payload.write_text(json.dumps({"defaults": v2.defaults.model_dump(), "entries": v2.entries}))
    del v1, v2, data

    load = Load(sim, cps).start()
    time.sleep(3.0)                                # baseline under load
    before_hist = engine.setup_histogram()
    subscriber.clear()
    pushed_at = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PUSHER, url, str(payload)], cwd=REPO,
                          check=True, capture_output=True, text=True)
    push = json.loads(proc.stdout)
    published_at = subscriber.wait_message()
    h = engine.wait(lambda h: h["rules_version"] >= push["version"], 120, poll=0.005)
    applied_at = time.perf_counter()
    compiled = engine.wait_logged("rules compiled",
                                  lambda line: line.get("version", 0) >= push["version"], 300)
    compiled_at = time.perf_counter()
    time.sleep(2.0)                                # after the warm-up, still under load
    after_hist = engine.setup_histogram()
    load.stop()
    rows = load.results
    return {
        "numbers": h["numbers_loaded"], "validate_s": validate_s, "idle_load_s": idle_load_s,
        "rss_one": rss_one, "rss_after": engine.rss_mb(), "push": push,
        "script_s": push["seconds"], "publish_to_applied": applied_at - published_at,
        "push_to_applied": applied_at - pushed_at,
        "publish_to_compiled": compiled_at - published_at, "compiled": compiled,
        "baseline": summarise(rows, pushed_at - 3.0, pushed_at),
        "pushing": summarise(rows, pushed_at, published_at),
        "reload": summarise(rows, published_at, applied_at + 0.5),
        "warm-up": summarise(rows, applied_at + 0.5, compiled_at + 0.5),
        "after": summarise(rows, compiled_at + 0.5, compiled_at + 2.0),
        "all": summarise(rows, 0, float("inf")),
        "setup_hist": {le: after_hist[le] - before_hist.get(le, 0) for le in after_hist},
        "probes_flipped": all(r[4] == CAUSES[1] for r in rows if r[0] > applied_at + 0.05 and not r[3]),
    }


class Subscriber:
    def __init__(self, server: RedisServer):
        self.ps = server.client().pubsub(ignore_subscribe_messages=True)
        self.ps.subscribe(UPDATES)
        self._event = threading.Event()
        self._at = None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            for m in self.ps.listen():
                if m["type"] == "message":
                    self._at = time.perf_counter()
                    self._event.set()
        except Exception:
            pass  # the server is stopped at the end of the run

    def clear(self):
        self._event.clear()

    def wait_message(self, timeout=300) -> float:
        if not self._event.wait(timeout):
            raise RuntimeError("no update published")
        return self._at


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pushes", type=int, default=200)
    ap.add_argument("--numbers", type=int, default=100_000)
    ap.add_argument("--cps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--skip-reload", action="store_true")
    ap.add_argument("--engine-log", type=Path, help="copy the engine's log there at the end "
                    "(with GEVENT_MONITOR_THREAD_ENABLE=true GEVENT_MAX_BLOCKING_TIME=0.02 in "
                    "the environment it also names whatever held the event loop > 20 ms)")
    args = ap.parse_args()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs; "
          f"{subprocess.run(['redis-server', '--version'], capture_output=True, text=True).stdout.split()[2]}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        server = RedisServer(tmp / "redis").start()
        engine = None
        try:
            store = RedisStore(server.url, socket_timeout=300)
            store.push({"defaults": {"timezone": "America/Sao_Paulo", "region": "BR"},
                        "numbers": probes_config({p: CAUSES[0] for p in PROBES})})
            engine = Engine(tmp / "engine", server.url).start()
            engine.wait(lambda h: h["status"] == "ok", 30, poll=0.01)
            sim = Simulator(port=engine.port, time_scale=0.01, targets={})
            subscriber = Subscriber(server)

            lat = bench_latency(store, engine, sim, args.pushes, server.url)
            xs = lat["latencies"]
            print(f"\n1. push -> engine plans with it ({len(xs)} pushes of one number, "
                  f"{lat['checked']} checked with a call):")
            print(f"   p50 {ms(pct(xs, 50))}  p90 {ms(pct(xs, 90))}  p99 {ms(pct(xs, 99))}  "
                  f"max {ms(max(xs))}  mean {ms(statistics.mean(xs))}  (target p99 < 100 ms)")
            print(f"   of which one /health round trip: {ms(lat['health_rtt'])}")
            print(f"   through `callflow rules push` (process start-up included, 10 runs): "
                  f"p50 {ms(pct(lat['cli'], 50))}  max {ms(max(lat['cli']))}")

            if not args.skip_reload:
                rel = bench_reload(store, engine, sim, server.url, args.numbers, args.cps,
                                   args.seed, tmp, subscriber)
                print(f"\n2. full reload of {rel['numbers']} numbers, every one changed, under "
                      f"{args.cps} calls/s:")
                print(f"   validating {args.numbers} numbers into stored form (rules push's "
                      f"first step, no load): {rel['validate_s']:.1f} s")
                print(f"   first load by the idle engine (push + read + compile): "
                      f"{rel['idle_load_s']:.1f} s; engine RSS {rel['rss_one']:.0f} MB")
                print(f"   push script (one EVALSHA, {rel['push']['changed']} entries): "
                      f"{rel['script_s']:.2f} s")
                print(f"   publish -> applied by the engine: {rel['publish_to_applied']:.2f} s; "
                      f"push start -> applied: {rel['push_to_applied']:.2f} s (target < 10 s)")
                c = rel["compiled"]
                print(f"   publish -> every number compiled in the background: "
                      f"{rel['publish_to_compiled']:.2f} s (engine: {c.get('compiled')} compiled, "
                      f"{c.get('invalid')} refused, {c.get('seconds')} s)")
                print(f"   engine RSS after: {rel['rss_after']:.0f} MB")
                for name in ("baseline", "pushing", "reload", "warm-up", "after", "all"):
                    s = rel[name]
                    print(f"   calls {name:<9} {s['calls']:>5}  refused {s['refused']}  "
                          f"duration p50 {ms(s['p50'])} p99 {ms(s['p99'])} max {ms(s['max'])}  "
                          f">50 ms: {s['over_50ms']}  (load generator late by up to "
                          f"{ms(s['client_late_max'])})")
                hist = rel["setup_hist"]
                total = hist.get(float("inf"), 0)
                over = total - hist.get(0.05, 0)
                print(f"   engine call set-up (accept -> first command) from push to warm-up end: "
                      f"{int(total)} calls, {int(over)} over 50 ms; buckets "
                      + ", ".join(f"<={le:g}s: {int(c)}" for le, c in sorted(hist.items())
                                  if le != float('inf')))
                print(f"   calls after the swap follow the new configuration: {rel['probes_flipped']}")
                print("   ('pushing': the pushing process and Redis's script at work, the "
                      "engine not yet told; 'reload': publish until 0.5 s after the new version "
                      "is in force; 'warm-up': from then until the background compile is done)")
            print(f"\nload average at the end (other work on the machine): "
                  f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        finally:
            if engine is not None:
                engine.stop()
                if args.engine_log:
                    args.engine_log.write_bytes(engine.log_path.read_bytes())
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
