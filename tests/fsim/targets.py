"""Bridge targets (what the far end does) and dial-string parsing.

A bridge argument such as
``{originate_timeout=20,ignore_early_media=true}sofia/gateway/default/+5511999990000,sofia/external/ana@pbx.example.com``
is split into sequential groups (``|``), each a list of simultaneous endpoints (``,``), each
with its own ``[...]`` variables on top of the global ``{...}`` ones.

Each endpoint is matched to a configured :class:`Target` by its exact endpoint string (without
``[...]``), else by its last ``/`` component (``+5511999990000``, ``ana@pbx.example.com``).
An endpoint whose type (first ``/`` component) FreeSWITCH would not know fails at once with
``CHAN_NOT_IMPLEMENTED`` and creates no leg (transcript 06, ``nosuchendpoint/foo``). A known
type that matches no target behaves as :meth:`Target.unreachable` (``NO_ROUTE_DESTINATION``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Target", "Endpoint", "parse_dial_string", "KNOWN_ENDPOINT_TYPES", "Q850", "dialstatus"]

#: Endpoint modules a stock FreeSWITCH build registers (plus ``error/`` which fails on purpose).
KNOWN_ENDPOINT_TYPES = {"sofia", "loopback", "user", "group", "verto", "rtc", "freetdm",
                        "portaudio", "error", "null", "skinny", "gsmopen", "pickup"}

#: Hangup cause -> Q.850 code (variable_hangup_cause_q850; 16/17/27 seen in the transcripts).
Q850 = {
    "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2, "NO_ROUTE_DESTINATION": 3,
    "NORMAL_CLEARING": 16, "USER_BUSY": 17, "NO_USER_RESPONSE": 18, "NO_ANSWER": 19,
    "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21, "NUMBER_CHANGED": 22,
    "EXCHANGE_ROUTING_ERROR": 25, "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28,
    "FACILITY_REJECTED": 29, "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42,
    "SERVICE_UNAVAILABLE": 63, "CHAN_NOT_IMPLEMENTED": 66, "SERVICE_NOT_IMPLEMENTED": 79,
    "RECOVERY_ON_TIMER_EXPIRE": 102, "ORIGINATOR_CANCEL": 487, "LOSE_RACE": 502,
    "MANAGER_REQUEST": 503, "ALLOTTED_TIMEOUT": 602, "MEDIA_TIMEOUT": 604,
}


def dialstatus(cause: str) -> str:
    """``DIALSTATUS`` for a failed originate (README table: USER_BUSY->BUSY,
    NO_ANSWER->NOANSWER, ORIGINATOR_CANCEL->CANCEL, ALLOTTED_TIMEOUT and CHAN_NOT_IMPLEMENTED
    unchanged; everything else is the cause name, as switch_ivr_originate.c does)."""
    return {"USER_BUSY": "BUSY", "NO_ANSWER": "NOANSWER", "ORIGINATOR_CANCEL": "CANCEL",
            "INVALID_NUMBER_FORMAT": "INVALIDARGS"}.get(cause, cause)


@dataclass(frozen=True)
class Target:
    """What a bridged destination does. Build with the factory class methods.

    kind: ``answer`` | ``no_answer`` | ``fail``.
    ``after`` (sim seconds): when it answers / fails; ``talk``: conversation length after the
    answer, then the far end hangs up with ``NORMAL_CLEARING``; ``cause``: failure cause.
    ``rings``: whether the leg rings first (sets the A-leg's progress time, transcript 02).
    """
    kind: str
    after: float = 0.0
    talk: float = 0.0
    cause: str = "NORMAL_CLEARING"
    rings: bool = False

    @classmethod
    def answers(cls, after: float = 1.0, talk: float = 5.0) -> "Target":
        """Rings ``after`` seconds, answers, talks ``talk`` seconds, hangs up NORMAL_CLEARING."""
        return cls("answer", after=after, talk=talk, cause="NORMAL_CLEARING", rings=after > 0)

    @classmethod
    def no_answer(cls) -> "Target":
        """Rings until the leg_timeout (ALLOTTED_TIMEOUT) or originate_timeout (NO_ANSWER)."""
        return cls("no_answer", after=float("inf"), rings=True)

    @classmethod
    def busy(cls, after: float = 0.0) -> "Target":
        """Fails with USER_BUSY (DIALSTATUS=BUSY), like ``hangup USER_BUSY`` at the target."""
        return cls("fail", after=after, cause="USER_BUSY", rings=after > 0)

    @classmethod
    def unreachable(cls, cause: str = "NO_ROUTE_DESTINATION", after: float = 0.0) -> "Target":
        """Fails at once (or after ``after`` s) with ``cause``, without ringing."""
        return cls("fail", after=after, cause=cause)

    @classmethod
    def rejects(cls, cause: str = "CALL_REJECTED", after: float = 0.0) -> "Target":
        """The far end rejects the call with ``cause`` (rings first when ``after`` > 0)."""
        return cls("fail", after=after, cause=cause, rings=after > 0)


@dataclass
class Endpoint:
    """One endpoint of a dial string, with its effective variables (global + local)."""
    dial: str                      # endpoint without [..] vars, e.g. "sofia/gateway/gw/+5511..."
    variables: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.dial.split("/", 1)[0]

    @property
    def last(self) -> str:
        return self.dial.rstrip("/").rsplit("/", 1)[-1]

    @property
    def dest_number(self) -> str:
        """Other-Leg-Destination-Number: ``answer_tone`` for ``loopback/answer_tone/default``
        (transcript 02), else the user part of the last component."""
        parts = self.dial.split("/")
        if parts[0] == "loopback" and len(parts) >= 2:
            return parts[1]
        return self.last.split("@", 1)[0]

    @property
    def channel_name(self) -> str:
        """B-leg channel name: ``loopback/answer_tone-a`` for loopback (transcript 02
        ``bridge_channel``), else the dial string itself."""
        parts = self.dial.split("/")
        if parts[0] == "loopback" and len(parts) >= 2:
            return f"loopback/{parts[1]}-a"
        return self.dial


def _split_top(s: str, sep: str) -> list[str]:
    """Split on ``sep`` outside ``{}``/``[]``/quotes."""
    out, depth, cur, quote = [], 0, [], None
    for ch in s:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "{[<":
            depth += 1
        elif ch in "}]>":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    out.append("".join(cur))
    return out


def _parse_vars(body: str) -> dict:
    out = {}
    for item in _split_top(body, ","):
        if not item.strip():
            continue
        k, _, v = item.partition("=")
        v = v.strip()
        if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
            v = v[1:-1]
        out[k.strip()] = v
    return out


def parse_dial_string(arg: str) -> tuple[dict, list[list[Endpoint]]]:
    """Parse a bridge argument into (global vars, [[Endpoint, ...] per ``|`` group])."""
    arg = arg.strip()
    global_vars: dict = {}
    # several leading {..} / <..> blocks are allowed
    while arg[:1] in ("{", "<"):
        close = "}" if arg[0] == "{" else ">"
        end = arg.find(close)
        if end < 0:
            break
        global_vars.update(_parse_vars(arg[1:end]))
        arg = arg[end + 1:]
    groups = []
    for group in _split_top(arg, "|"):
        eps = []
        for item in _split_top(group, ","):
            item = item.strip()
            if not item:
                continue
            local = dict(global_vars)
            while item.startswith("["):
                end = item.find("]")
                local.update(_parse_vars(item[1:end]))
                item = item[end + 1:].strip()
            eps.append(Endpoint(item, local))
        if eps:
            groups.append(eps)
    return global_vars, groups
