"""`callflow plan [SOURCE] NUMBER [--caller C] [--at ISO8601 | --week [--from DATE] [--json]]`:
what a call would get, at one instant or over a week.

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

``--week`` shows ``rules.week.week()`` instead: seven local days from the local midnight
of ``--from`` (``YYYY-MM-DD``, default today in the number's zone), as a table (day,
from-to, messages, destinations, voicemail, hang-up; ``24:00`` is the next midnight), or
with ``--json`` as ``Week.to_json()`` (indent 2). ``--from`` needs ``--week``, ``--week``
excludes ``--at``, and a bad ``--from`` exits 2.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import date, datetime, timezone
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
    parser.add_argument("--week", action="store_true",
                        help="show the plans over seven local days instead of one instant")
    parser.add_argument("--from", dest="from_date", default=None, metavar="YYYY-MM-DD",
                        help="with --week: the first day (default: today in the number's zone)")
    parser.add_argument("--json", action="store_true",
                        help="with --week: print JSON instead of a table")
    parser.set_defaults(func=run)


def _week_options(args: argparse.Namespace) -> tuple[int, date | None]:
    """(exit code, --from): a non-zero code means the options are refused."""
    if not args.week:
        if args.from_date is not None or args.json:
            print("callflow plan: --from and --json need --week", file=sys.stderr)
            return 2, None
        return 0, None
    if args.at is not None:
        print("callflow plan: give either --at or --week, not both", file=sys.stderr)
        return 2, None
    if args.from_date is None:
        return 0, None
    from rules.week import FIRST_DATE, LAST_DATE
    try:
        first = date.fromisoformat(args.from_date)
    except ValueError:
        first = None
    if first is None or len(args.from_date) != 10 or not FIRST_DATE <= first <= LAST_DATE:
        print(f"callflow plan: --from {args.from_date!r} is not a date YYYY-MM-DD "
              f"({FIRST_DATE} to {LAST_DATE})", file=sys.stderr)
        return 2, None
    return 0, first


def _cell(items: list[str]) -> str:
    return ", ".join(items) if items else "-"


def _row(r) -> list[str]:
    p = r.plan
    messages = p["start"] + [f"{name} (end)" for name in p["end"]]
    forward = [" & ".join(a["to"]) + f" ({a['ring_seconds']} s{', recorded' if a['record'] else ''})"
               for a in p["forward"]]
    voicemail = _cell(p["voicemail"]["email"]) if p["voicemail"] else "-"
    end = r.end.strftime("%H:%M")
    if r.end.date() != r.start.date() and end == "00:00":
        end = "24:00"
    return [r.start.strftime("%a %Y-%m-%d"), f"{r.start:%H:%M}-{end}", _cell(messages),
            " then ".join(forward) or "-", voicemail, p["hangup"] or "-"]


def week_table(w) -> str:
    """The readable form of a ``Week``: a header line and one row per range."""
    head = ["day", "from-to", "messages", "destinations", "voicemail", "hang-up"]
    rows = [head] + [_row(r) for r in w.ranges]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head) - 1)]
    caller = w.ranges[0].plan["caller"] if w.ranges else "-"
    lines = [f"{w.number}, week from {w.from_date} ({w.timezone}), caller {caller}"]
    for row in rows:
        lines.append("  ".join(c.ljust(n) for c, n in zip(row, widths)) + "  " + row[-1])
    return "\n".join(line.rstrip() for line in lines)


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

    code, first = _week_options(args)
    if code:
        return code
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
    if args.week:
        return _print_week(args, ruleset, number, first)
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


def _print_week(args: argparse.Namespace, ruleset, number, first: date | None) -> int:
    from rules.week import week

    if first is None:
        zone = number.tz if number is not None else ZoneInfo(ruleset.defaults.timezone)
        first = datetime.now(zone).date()
    w = week(ruleset, args.number, args.caller, first)
    if number is None:
        print(f"warning: {w.number or args.number} is not configured", file=sys.stderr)
    if args.json:
        print(json.dumps(w.to_json(), indent=2, ensure_ascii=False))
    else:
        print(week_table(w))
    return 0
