"""Benchmark of the rules package: load 100,000 numbers, then plan 200,000 calls.

Run:  .venv/bin/python tests/benchmarks/bench_rules.py [--numbers N] [--plans N] [--seed S]

Targets (issue "Rules"): plan p99 < 50 us; loading 100k numbers < 10 s and < 600 MB RSS.
Not collected by pytest (the file name does not start with test_).
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

from rules.loader import load_mapping, load_text  # noqa: E402
from rules.planner import plan_call  # noqa: E402

AREAS = ("11", "21", "31", "41", "51", "61", "71", "81", "85", "92")
ZONES = ("America/Sao_Paulo", "America/Manaus", "America/Fortaleza", "America/Recife",
         "America/Cuiaba", "America/Rio_Branco")
SUBDIVISIONS = ("SP", "RJ", "MG", "PR", "RS", "DF", "BA", "PE", "CE", "AM")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def mobile(rng: random.Random) -> str:
    return f"+55{rng.choice(AREAS)}9{rng.randint(6000_0000, 9999_9999)}"


def number_config(rng: random.Random) -> dict:
    """A varied configuration: every feature appears in a good share of numbers."""
    cfg: dict = {}
    if rng.random() < 0.3:
        cfg["timezone"] = rng.choice(ZONES)
    if rng.random() < 0.6:
        cfg["holidays"] = {"country": "BR", "subdivision": rng.choice(SUBDIVISIONS)}
        if rng.random() < 0.3:
            cfg["holidays"]["extra"] = ["2026-12-24", "2026-12-31"]
    business = {"days": "mon-fri", "hours": ["08:00-12:00", "13:00-18:00"]}
    closed = {"days": ["sat", "sun", "holiday"]} if "holidays" in cfg else {"days": ["sat", "sun"]}
    cfg["messages"] = [{"audio": "welcome.wav", "schedule": business},
                       {"audio": "closed.wav", "schedule": closed},
                       {"audio": "thanks.wav", "at": "end"}][: rng.randint(1, 3)]
    forwarding = [{"to": mobile(rng), "ring_seconds": rng.choice((15, 20, 30)),
                   "record": rng.random() < 0.3, "schedule": business}]
    if rng.random() < 0.5:
        forwarding.append({"to": [f"sip:user{rng.randint(1, 999)}@pbx{rng.randint(1, 50)}.example.com",
                                  mobile(rng)], "ring_seconds": 15})
    if rng.random() < 0.3:
        forwarding.append({"to": mobile(rng), "schedule": {"callers": ["+5521*", "+5511*"],
                                                          "except_callers": ["anonymous"]}})
    if rng.random() < 0.2:
        forwarding.append({"to": mobile(rng), "schedule": {"days": "fri", "hours": ["22:00-06:00"]}})
    cfg["forwarding"] = forwarding
    if rng.random() < 0.7:
        cfg["voicemail"] = [{"email": [f"ops{rng.randint(1, 9999)}@example.com"],
                             "greeting": "vm-greeting.wav", "schedule": closed},
                            {"email": "night@example.com", "max_seconds": 60}]
    if rng.random() < 0.3:
        cfg["hangup"] = [{"cause": "CALL_REJECTED", "schedule": {"days": "sun", "hours": ["00:00-06:00"]}}]
    return cfg


def generate(n: int, rng: random.Random) -> dict:
    numbers = {}
    while len(numbers) < n:
        area = rng.choice(AREAS)
        key = f"+55{area}{rng.choice('2345')}{rng.randint(0, 999_9999):07d}"
        numbers[key] = number_config(rng)
    return {"defaults": {"timezone": "America/Sao_Paulo", "region": "BR"}, "numbers": numbers}


def caller_pool(rng: random.Random, size: int) -> list:
    pool: list = [None, "anonymous", "Restricted", "", "garbage<>", "sip:alice@x"]
    for _ in range(size):
        m = mobile(rng)
        pool.append(rng.choice((m, m, m[3:], "0" + m[3:], f"({m[3:5]}) {m[5:10]}-{m[10:]}")))
    return pool


def cold_figures(rng: random.Random, n: int = 5000) -> None:
    """What a cache miss costs: caller IDs never seen before, normalised without the cache.

    The plan figures above include such misses (each pool caller's first call, every
    national-notation called number); this shows them on their own, for the notations
    the fast path reads and for one it leaves to phonenumbers (carrier code).
    """
    from rules.numbers import _normalise_live  # noqa: PLC0415 - benchmark only
    live = _normalise_live.__wrapped__
    forms = {
        "national digits 11988887777": lambda m: m[3:],
        "trunk prefix 011988887777": lambda m: "0" + m[3:],
        "formatted (11) 98888-7777": lambda m: f"({m[3:5]}) {m[5:10]}-{m[10:]}",
        "carrier code 0 21 11 98888-7777 (phonenumbers)": lambda m: f"0 21 {m[3:5]} {m[5:]}",
    }
    clock = time.perf_counter_ns
    for name, form in forms.items():
        texts = [form(mobile(rng)) for _ in range(n)]
        took = []
        for text in texts:
            t = clock()
            live(text, "BR")
            took.append(clock() - t)
        took.sort()
        print(f"cold caller normalisation, {name}: median {statistics.median(took) / 1000:.1f} us, "
              f"p99 {took[int(len(took) * 0.99)] / 1000:.1f} us")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--numbers", type=int, default=100_000)
    ap.add_argument("--plans", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=20261127)
    ap.add_argument("--text", action="store_true", help="also time load_text on the JSON")
    args = ap.parse_args()
    rng = random.Random(args.seed)

    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    rss_start = rss_mb()
    data = generate(args.numbers, rng)
    text = json.dumps(data)
    rss_data = rss_mb()
    print(f"generated {args.numbers} numbers ({len(text) / 1e6:.1f} MB of JSON); "
          f"RSS {rss_start:.0f} MB -> {rss_data:.0f} MB with the raw data")

    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    ruleset = load_mapping(data)
    load_s, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_loaded = rss_mb()
    # CPU time next to wall time: on a shared machine the difference is other processes.
    print(f"load_mapping: {len(ruleset)} numbers, {ruleset.entries} entries in {load_s:.2f} s "
          f"(CPU {load_cpu:.2f} s, {load_s / len(ruleset) * 1e6:.0f} us/number); "
          f"RSS {rss_loaded:.0f} MB (+{rss_loaded - rss_data:.0f} MB for the RuleSet)")

    if args.text:
        t0 = time.perf_counter()
        again = load_text(text)
        text_s = time.perf_counter() - t0
        print(f"load_text (JSON, caches warm): {len(again)} numbers in {text_s:.2f} s")
        del again
    del text, data
    gc.collect()
    rss_after = rss_mb()
    print(f"RSS with one RuleSet and no raw data: {rss_after:.0f} MB")

    keys = list(ruleset)
    callers = caller_pool(rng, 5000)
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    calls = []
    for _ in range(args.plans):
        called = rng.choice(keys)
        if rng.random() < 0.1:
            called = called[3:]  # national notation from the trunk
        elif rng.random() < 0.01:
            called = "+5511" + str(rng.randint(2000_0000, 5999_9999))  # unknown
        calls.append((called, rng.choice(callers),
                      base + timedelta(seconds=rng.randint(0, 365 * 86400))))

    for called, caller, at in calls[:2000]:  # warm holiday years and caches
        plan_call(ruleset, called, caller, at)
    gc.collect()
    gc.disable()  # measure the planner, not a collection that happens to land on a call
    times = []
    canonical = []  # trunk already sends E.164 (or nothing) for both numbers
    clock = time.perf_counter_ns
    for called, caller, at in calls:
        t = clock()
        plan_call(ruleset, called, caller, at)
        took = clock() - t
        times.append(took)
        if called.startswith("+") and (not caller or caller.startswith("+")):
            canonical.append(took)
    gc.enable()
    canonical.sort()
    print(f"plan_call, E.164/withheld only x {len(canonical)}: median "
          f"{statistics.median(canonical) / 1000:.1f} us, "
          f"p99 {canonical[int(len(canonical) * 0.99)] / 1000:.1f} us")
    times.sort()
    median = statistics.median(times) / 1000
    p99 = times[int(len(times) * 0.99)] / 1000
    p999 = times[int(len(times) * 0.999)] / 1000
    print(f"plan_call, all traffic x {len(times)}: median {median:.1f} us, p99 {p99:.1f} us, "
          f"p99.9 {p999:.1f} us, max {times[-1] / 1000:.0f} us")
    cold_figures(rng)
    ok = p99 < 50 and load_s < 10 and rss_loaded < 600
    print("targets (p99 < 50 us, load < 10 s, RSS < 600 MB):", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
