"""Benchmark: the file store (the embedded default) reloading a large file under calls.

Run:  .venv/bin/python tests/benchmarks/bench_file_reload.py [--numbers 100000] [--cps 100]

A real `callflow serve` on a JSON rules file of ``--numbers`` numbers (plus 100 probes
with hang-up entries) while the simulator places ``--cps`` calls per second to the
probes. The file is then rewritten with every number changed (probes flip their hang-up
cause); the engine notices within its 2 s check and reloads it. Reported: file written ->
new version in force (``rules_version`` in /health), calls refused, call durations seen
by the simulator before / during / after, and the engine's own
``callflow_call_setup_seconds`` histogram over the reload. Same yardstick as the Redis
reload (issue "Redis"): no call refused or delayed by more than 50 ms.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from tests.benchmarks.bench_redis import CAUSES, PROBES, Load, ms, probes_config, summarise  # noqa: E402
from tests.benchmarks.bench_redis import Engine as RedisBenchEngine  # noqa: E402
from tests.benchmarks.bench_rules import generate  # noqa: E402
from tests.fsim.simulator import Simulator  # noqa: E402
from tests.helpers.engine_proc import EngineProcess  # noqa: E402


class Engine(EngineProcess):
    def __init__(self, tmp: Path, rules_text: str):
        tmp.mkdir(parents=True, exist_ok=True)
        super().__init__(tmp, rules_text, env={"CALLFLOW_LOG_LEVEL": "INFO",
                                               "CALLFLOW_MAX_CALLS": "2000"})

    setup_histogram = RedisBenchEngine.setup_histogram


def document(n: int, seed: int, cause: str, bump: int) -> str:
    data = generate(n, random.Random(seed))
    for cfg in data["numbers"].values():
        if "forwarding" in cfg:
            cfg["forwarding"][0]["ring_seconds"] += bump
    data["numbers"].update(probes_config({p: cause for p in PROBES}))
    return json.dumps(data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--numbers", type=int, default=100_000)
    ap.add_argument("--cps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--engine-log", type=Path, help="copy the engine's log there at the end "
                    "(see bench_redis.py for gevent's monitor thread)")
    args = ap.parse_args()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    v1 = document(args.numbers, args.seed, CAUSES[0], 0)
    v2 = document(args.numbers, args.seed, CAUSES[1], 1)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        t0 = time.perf_counter()
        engine = Engine(tmp / "engine", v1).start(timeout=300)
        start_s = time.perf_counter() - t0
        try:
            version = engine.health()["rules_version"]
            print(f"engine start with {args.numbers + len(PROBES)} numbers ({len(v1) / 1e6:.0f} MB "
                  f"of JSON): {start_s:.1f} s")
            sim = Simulator(port=engine.port, time_scale=0.01, targets={})
            load = Load(sim, args.cps).start()
            time.sleep(3.0)
            before_hist = engine.setup_histogram()
            written_at = time.perf_counter()
            tmp_file = engine.rules.with_suffix(".new")
            tmp_file.write_text(v2)
            os.replace(tmp_file, engine.rules)     # what an editor or a deploy does
            deadline = time.monotonic() + 600
            while True:
                assert time.monotonic() < deadline, "the engine never reloaded the file"
                try:
                    if engine.health()["rules_version"] != version:
                        break
                except OSError:
                    pass            # /health did not answer in 2 s: the engine is busy
                time.sleep(0.01)
            applied_at = time.perf_counter()
            time.sleep(2.0)
            after_hist = engine.setup_histogram()
            load.stop()
        finally:
            engine.stop()
            if args.engine_log:
                args.engine_log.write_bytes(engine.log_path.read_bytes())
        rows = load.results
        print(f"\nfile rewritten (every number changed) -> new version in force: "
              f"{applied_at - written_at:.2f} s (includes up to 2 s until the engine looks)")
        for name, lo, hi in (("before", written_at - 3.0, written_at),
                             ("reload", written_at, applied_at + 0.5),
                             ("after", applied_at + 0.5, applied_at + 2.0)):
            s = summarise(rows, lo, hi)
            print(f"   calls {name:<7} {s['calls']:>5}  refused {s['refused']}  duration p50 "
                  f"{ms(s['p50'])} p99 {ms(s['p99'])} max {ms(s['max'])}  >50 ms: "
                  f"{s['over_50ms']}  (load generator late by up to {ms(s['client_late_max'])})")
        hist = {le: after_hist[le] - before_hist.get(le, 0) for le in after_hist}
        total = hist.get(float("inf"), 0)
        print(f"   engine call set-up (accept -> first command) from the write to 2 s after: "
              f"{int(total)} calls, {int(total - hist.get(0.05, 0))} over 50 ms; buckets "
              + ", ".join(f"<={le:g}s: {int(c)}" for le, c in sorted(hist.items())
                          if le != float("inf")))
        flipped = all(r[4] == CAUSES[1] for r in rows if r[0] > applied_at + 0.05 and not r[3])
        print(f"   calls after the reload follow the new file: {flipped}")
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
