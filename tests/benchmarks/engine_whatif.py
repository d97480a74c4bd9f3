"""`callflow serve` with experimental patches: what-if runs of bench_engine.py only.

    CALLFLOW_WHATIF=multiset,noevcheck python tests/benchmarks/engine_whatif.py serve

Nothing here is part of the engine: each patch models one change proposed in
docs/bench_engine.md so that its gain can be measured before anyone writes it for real.
Patches (comma-separated in CALLFLOW_WHATIF):

  multiset   forward: one ``multiset`` (the 2 sets + 3 unsets, an empty value unsets in
             FreeSWITCH's ``set``) instead of 5 sendmsg round trips. Models the one-attempt
             flow of the benchmark (a real change repeats the unsets per attempt).
  noevcheck  esl.Message.from_event_plain without the whole-text ``count(": ")`` /
             ``count("\\n")`` / ``"\\n: " in`` scan (esl.py:274); a bad line is still
             rejected when ``.headers`` is built (_parse_lines).
  logflags   logging.logThreads/logProcesses/logMultiprocessing = False: no
             threading.current_thread() per record (a gevent _DummyThread per greenlet).
  record     CallRecord.to_json without dataclasses.asdict (deep copies).
  pipeline   Call.setup sends connect, myevents and linger in one write and then waits
             for the three replies (FIFO), instead of three round trips.
  gcfreeze   gc.freeze() once the service has started (imports and rules leave the
             collector's generations), so no full collection walks them again.
  gcstats    (measurement only) at exit, write the count and the longest pause of the
             collector per generation to $CALLFLOW_GCSTATS.
  nolog      callflow.call / callflow.record / callflow.runner at WARNING: an upper bound
             of what the INFO lines cost (not a proposal).
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from gevent import monkey

monkey.patch_all()

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

WHATIF = {w for w in os.environ.get("CALLFLOW_WHATIF", "").split(",") if w}


def apply() -> None:
    import logging

    if "logflags" in WHATIF:
        logging.logThreads = False
        logging.logProcesses = False
        logging.logMultiprocessing = False

    if "noevcheck" in WHATIF:
        from engine import esl

        def from_event_plain(cls, raw: bytes):
            head, _, rest = raw.partition(b"\n\n")
            try:
                text = head.decode("utf-8")
            except UnicodeDecodeError as e:
                raise esl.ProtocolError(f"event is not UTF-8: {e}") from None
            if not text.endswith("\n"):
                text += "\n"
            msg = cls(None, None, "text/event-plain", raw=text)
            n = esl._content_length(msg.get("Content-Length"), "event")
            if n is not None:
                if len(rest) < n:
                    raise esl.ProtocolError("event body shorter than its inner Content-Length")
                msg.body = rest[:n].decode("utf-8")
            return msg

        esl.Message.from_event_plain = classmethod(from_event_plain)

    if "multiset" in WHATIF:
        from engine.steps import forward

        forward.RESULT_VARIABLES = ()

        def prepare(ctx) -> None:
            ctx.call._execute("multiset", "continue_on_fail=true hangup_after_bridge=false "
                                          "originate_disposition= DIALSTATUS= bridge_hangup_cause=")

        forward.prepare = prepare

    if "record" in WHATIF:
        from engine.records import CallRecord

        def to_json(self) -> dict:
            return {"uuid": self.uuid, "number": self.number, "caller": self.caller,
                    "started_at": self.started_at.isoformat(),
                    "ended_at": self.ended_at.isoformat() if self.ended_at else None,
                    "outcome": self.outcome,
                    "attempts": [{"to": list(a.to), "result": a.result, "seconds": a.seconds}
                                 for a in self.attempts],
                    "recording": self.recording, "voicemail": self.voicemail,
                    "hangup_cause": self.hangup_cause, "trace": list(self.trace)}

        CallRecord.to_json = to_json

    if "pipeline" in WHATIF:
        from gevent.event import AsyncResult

        from engine.call import Call
        from engine.esl import CommandRejected

        def setup(self, linger_seconds: int) -> None:
            conn = self.conn
            cmds = (("connect", True), ("myevents", False), (f"linger {int(linger_seconds)}", False))
            results = []
            with conn._send_lock:
                conn._check_open()
                for data, decode in cmds:
                    r = AsyncResult()
                    conn._replies.append((r, decode, data))
                    results.append(r)
                conn.sock.sendall("".join(d + "\n\n" for d, _ in cmds).encode())
            replies = [conn._wait(r, conn.command_timeout, lambda: "no reply to set-up")
                       for r in results]
            for (data, _), reply in zip(cmds, replies):
                if not reply.get("Reply-Text", "").startswith("+OK"):
                    raise CommandRejected(f"{data!r} rejected", reply)
            conn.channel_data = replies[0]
            conn.uuid = replies[0].get("Unique-ID") or replies[0].get("variable_uuid")
            self.data = dict(replies[0].headers)

        Call.setup = setup

    if "gcfreeze" in WHATIF:
        import gc

        from engine.service import Service

        orig_start = Service.start

        def start(self) -> None:
            orig_start(self)
            gc.collect()
            gc.freeze()

        Service.start = start

    if "gcstats" in WHATIF:
        import atexit
        import gc
        import json
        import time

        stats = {g: {"n": 0, "max_ms": 0.0, "total_ms": 0.0} for g in (0, 1, 2)}
        t0 = [0.0]

        def cb(phase, info):
            if phase == "start":
                t0[0] = time.perf_counter()
            else:
                ms = 1000 * (time.perf_counter() - t0[0])
                st = stats[info["generation"]]
                st["n"] += 1
                st["total_ms"] += ms
                st["max_ms"] = max(st["max_ms"], ms)

        gc.callbacks.append(cb)

        def dump():
            path = os.environ.get("CALLFLOW_GCSTATS")
            if path:
                with open(path, "w") as f:
                    json.dump({"objects": len(gc.get_objects()), **stats}, f)

        atexit.register(dump)

    if "nolog" in WHATIF:
        _quiet = ("callflow.call", "callflow.record", "callflow.runner")
        from engine import logs

        orig_setup = logs.setup

        def setup(fmt="json", level="INFO"):
            orig_setup(fmt, level)
            for name in _quiet:
                logging.getLogger(name).setLevel("WARNING")

        logs.setup = setup


if __name__ == "__main__":
    apply()
    from engine.cli import main

    sys.exit(main(sys.argv[1:]))
