"""``EXEC Dial`` in the AGI simulator (README, "Dial via EXEC", and its table).

``"<ep>&<ep>,<timeout>,<options>"``: every endpoint rings together (10); the first to
answer wins; the channel goes Up when it does (02); the conversation lasts the target's
``talk`` unless the caller hangs up first. Reply: ``-1`` when the caller left (05), ``0``
when the callee hung up with option ``g`` (02b), ``-1`` without it (02: the channel is
still up), ``0`` for every failure (04). ``DIALSTATUS``/``HANGUPCAUSE`` as in the table:
NOANSWER leaves HANGUPCAUSE as it was (04: stale 66), a failed Dial empties the
``DIALED*``/``ANSWERED*`` variables (``200 result=1 ()``).
"""
from __future__ import annotations

from .channel import FAILURES, UNAVAILABLE_CAUSE, DialRecord

_TIMES = ("DIALEDTIME", "ANSWEREDTIME", "DIALEDTIME_MS", "ANSWEREDTIME_MS",
          "DIALEDPEERNAME", "DIALEDPEERNUMBER")


def dial(ch, arg: str) -> bytes:
    parts = arg.split(",")
    endpoints = [e for e in parts[0].split("&") if e]
    timeout = float(parts[1]) if len(parts) > 1 and parts[1] else None
    options = parts[2] if len(parts) > 2 else ""
    rec = DialRecord(endpoints, timeout, options)
    ch.result.dials.append(rec)
    if ch.dead:
        rec.status = "CANCEL"
        return b"200 result=-1\n"                 # 05: at once on a dead channel
    targets = [(e, ch.target(e)) for e in endpoints]
    answering = sorted((t.after, e, t) for e, t in targets
                       if t is not None and t.kind == "answer"
                       and (timeout is None or t.after < timeout))
    started = ch.now()
    if answering:
        after, endpoint, target = answering[0]
        if ch.wait(after):
            return _cancel(ch, rec)
        return _bridge(ch, rec, endpoint, target, started)
    ringing = any(t is not None and t.kind in ("ring", "answer") for _, t in targets)
    if ringing:
        if ch.wait(timeout):
            return _cancel(ch, rec)
        return _failed(ch, rec, "NOANSWER", ch.vars.get("HANGUPCAUSE") or "0")
    kinds = [t.kind if t is not None else "missing" for _, t in targets]
    for kind in ("busy", "congestion"):
        if kind in kinds:
            return _failed(ch, rec, *FAILURES[kind])
    rejected = [t for _, t in targets if t is not None and t.kind == "reject"]
    cause = str(rejected[0].cause) if rejected else UNAVAILABLE_CAUSE
    return _failed(ch, rec, "CHANUNAVAIL", cause)


def _cancel(ch, rec) -> bytes:
    rec.status = ch.vars["DIALSTATUS"] = "CANCEL"
    ch.vars["HANGUPCAUSE"] = "16"
    return b"200 result=-1\n"


def _failed(ch, rec, status: str, cause: str) -> bytes:
    rec.status = ch.vars["DIALSTATUS"] = status
    ch.vars["HANGUPCAUSE"] = cause
    for name in _TIMES:
        ch.vars[name] = ""
    return b"200 result=0\n"


def _bridge(ch, rec, endpoint: str, target, started: float) -> bytes:
    if not ch.up:
        ch.up = ch.result.answered = True
    elif ch.result.engine_answered:
        ch.result.answered_before_dial_answer = True
    rec.answered_by = endpoint
    rec.status = ch.vars["DIALSTATUS"] = "ANSWER"
    talk_started = ch.now()
    gone = ch.wait(target.talk)
    talk = ch.now() - talk_started
    rec.talk_seconds = talk
    for mon in ch.monitors:
        if mon["b"]:
            mon["bridged"] += talk
    ch.vars.update({
        "HANGUPCAUSE": "16", "DIALEDTIME": str(int(ch.now() - started)),
        "ANSWEREDTIME": str(int(talk)), "DIALEDTIME_MS": str(int((ch.now() - started) * 1000)),
        "ANSWEREDTIME_MS": str(int(talk * 1000)),
        "DIALEDPEERNAME": f"{endpoint}-{ch.n + 1:08x};1",
        "DIALEDPEERNUMBER": endpoint.rsplit("/", 1)[-1]})
    if gone:
        return b"200 result=-1\n"
    return b"200 result=0\n" if "g" in rec.options else b"200 result=-1\n"
