"""`callflow plan [SOURCE] NUMBER [--caller C] [--at ISO8601]`: what a call would get.

SOURCE is a YAML/JSON file or a Redis URL (``redis://``, ``rediss://``); without it,
``--rules SOURCE``, else ``CALLFLOW_RULES``. A file is validated whole (every error, exit
1). From Redis only the called number is compiled (a second for 100,000 stored numbers,
not the ~15 s of compiling them all); if its entry fails validation it is left out with a
warning on stderr (as the engine does); Redis unavailable exits 1.

Prints ``Plan.to_json()`` (indent 2) on stdout. ``--at`` without an offset is local time
in the number's zone (for an unknown number, ``defaults.timezone``); a local time that
does not exist or happens twice (DST) is read with ``fold=0``, i.e. the offset in force
before the change. Default: now. No ``--caller`` means a withheld number. An unknown
number prints its refusal plan (exit 0) with a warning on stderr. A bad file exits 1
with every error on stderr; a bad ``--at`` exits 2. Imports nothing from gevent.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from rules.errors import ConfigError
from engine.commands import report


def register(subparsers) -> None:
    parser = subparsers.add_parser("plan", help="show the plan a call would get",
                                   description="Show the plan a call to NUMBER would get.")
    parser.add_argument("file", nargs="?", default=None, metavar="SOURCE",
                        help="configuration file (YAML or JSON) or redis:// URL "
                             "(default: --rules, else CALLFLOW_RULES)")
    parser.add_argument("number", metavar="NUMBER", help="the called number, in any notation")
    parser.add_argument("--rules", default=None, metavar="SOURCE",
                        help="configuration file or redis:// URL, when not given before NUMBER")
    parser.add_argument("--caller", default=None, help="the caller's number (default: withheld)")
    parser.add_argument("--at", default=None, metavar="ISO8601",
                        help="the instant, e.g. 2026-11-27T10:00 (local) or "
                             "2026-11-27T13:00Z (default: now)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rules.errors import StoreUnavailable
    from rules.planner import plan_call
    from rules.store import open_store

    if args.file is not None and args.rules is not None:
        print("callflow plan: give SOURCE either before NUMBER or as --rules, not both",
              file=sys.stderr)
        return 2
    args.file = args.file or args.rules or os.environ.get("CALLFLOW_RULES")
    if not args.file:
        print("callflow plan: no rules: give SOURCE NUMBER, --rules or CALLFLOW_RULES",
              file=sys.stderr)
        return 2

    at = None
    if args.at is not None:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            print(f"callflow plan: --at {args.at!r} is not an ISO 8601 date and time",
                  file=sys.stderr)
            return 2
    def invalid(number: str, errors: list[tuple[str, str]]) -> None:
        print(f"warning: {number} left out, its stored entry is invalid:", file=sys.stderr)
        for path, message in errors:
            print(f"  {path}: {message}", file=sys.stderr)

    try:
        store = open_store(args.file)
        ruleset = (store.load(on_invalid=invalid, lazy=True) if store.kind == "redis"
                   else store.load())
    except ConfigError as exc:
        return report.config_error(exc)
    except StoreUnavailable as exc:
        print(f"callflow plan: rules unavailable: {exc}", file=sys.stderr)
        return 1
    number = ruleset.find(args.number)
    if at is None:
        at = datetime.now(timezone.utc)
    elif at.tzinfo is None:
        zone = number.tz if number is not None else ZoneInfo(ruleset.defaults.timezone)
        at = at.replace(tzinfo=zone)
    plan = plan_call(ruleset, args.number, args.caller, at)
    if not plan.known:
        print(f"warning: {plan.number or args.number} is not configured", file=sys.stderr)
    print(json.dumps(plan.to_json(), indent=2, ensure_ascii=False))
    return 0
