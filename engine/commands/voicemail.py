"""`callflow voicemail`: the voicemail e-mail spool, for people on call.

``callflow voicemail status [--json]`` lists pending and failed jobs (id, call, number,
age, attempts, next attempt, last error) and the sender's last connection error; exit 0.
``callflow voicemail retry [ID ...]`` moves failed jobs (all of them when no ID is given)
back to pending with a fresh age; a running engine picks them up within its poll period
(10 s). Exit 1 for an unknown ID or a missing spool.

Both read the spool folder only: ``--spool-dir``, else ``CALLFLOW_SPOOL_DIR``, else the
setting's default, as for ``callflow serve``. Imports nothing from gevent.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def register(subparsers) -> None:
    parser = subparsers.add_parser("voicemail", help="voicemail e-mail spool: status, retry",
                                   description="Inspect and requeue voicemail e-mail jobs.")
    actions = parser.add_subparsers(dest="voicemail_action", metavar="ACTION")
    actions.required = True
    status = actions.add_parser("status", help="list pending and failed jobs")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    _spool_flag(status)
    status.set_defaults(func=run_status)
    retry = actions.add_parser("retry", help="requeue failed jobs (all when no ID is given)")
    retry.add_argument("ids", nargs="*", metavar="ID", help="job id(s) from `status`")
    _spool_flag(retry)
    retry.set_defaults(func=run_retry)


def _spool_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spool-dir", default=None, dest="spool_dir",
                        help="durable voicemail e-mail jobs (env CALLFLOW_SPOOL_DIR)")


def _spool(args):
    from engine.mailer.spool import Spool
    from engine.settings import Settings

    root = args.spool_dir or os.environ.get("CALLFLOW_SPOOL_DIR") \
        or Settings.model_fields["spool_dir"].default
    spool = Spool(Path(root))
    if not spool.exists:
        print(f"callflow voicemail: no spool at {root} (set --spool-dir or CALLFLOW_SPOOL_DIR)",
              file=sys.stderr)
        return None
    return spool


def _row(job, now: float) -> dict:
    m = job.message
    return {
        "id": job.id, "call": m.get("uuid"), "number": m.get("number"),
        "caller": m.get("caller"), "to": job.to, "delivered_to": job.delivered_to,
        "path": m.get("path"), "created": _iso(job.created),
        "age_seconds": round(now - job.created), "attempts": job.attempts,
        "next_attempt": _iso(job.next_attempt) if job.failed_at is None else None,
        "failed_at": _iso(job.failed_at) if job.failed_at else None,
        "last_error": job.last_error,
    }


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def run_status(args: argparse.Namespace) -> int:
    from engine.mailer.spool import FAILED, PENDING

    spool = _spool(args)
    if spool is None:
        return 1
    now = time.time()
    out = {state: [_row(j, now) for j in spool.jobs(state)] for state in (PENDING, FAILED)}
    out["unreadable"] = [f"{s}/{n}" for s in (PENDING, FAILED) for n in spool.unreadable(s)]
    out["sender"] = spool.read_state()
    if args.json:
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    print(f"spool: {spool.root}")
    for state in (PENDING, FAILED):
        print(f"{state}: {len(out[state])}")
        for r in out[state]:
            when = f"next {r['next_attempt']}" if state == PENDING else f"failed {r['failed_at']}"
            print(f"  {r['id']}  {r['number']} from {r['caller']}  to {', '.join(r['to'])}  "
                  f"age {_age(r['age_seconds'])}  attempts {r['attempts']}  {when}")
            if r["last_error"]:
                print(f"      last error: {r['last_error']}")
    for name in out["unreadable"]:
        print(f"unreadable: {name}")
    sender = out["sender"] or {}
    if sender.get("last_error"):
        print(f"sender: {sender.get('server')} unreachable at {_iso(sender.get('last_error_at'))}: "
              f"{sender['last_error']}")
    return 0


def run_retry(args: argparse.Namespace) -> int:
    from rules.errors import SpoolError

    spool = _spool(args)
    if spool is None:
        return 1
    try:
        done = spool.retry(args.ids or None)
    except SpoolError as exc:
        print(f"callflow voicemail retry: {exc}", file=sys.stderr)
        return 1
    for name in done:
        print(f"requeued {name}")
    print(f"{len(done)} job{'s' if len(done) != 1 else ''} requeued")
    return 0


def _age(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
