"""The simulator against the real captures: replay each outbound transcript's commands and
compare the simulator's frames with FreeSWITCH's, frame by frame.

Checked per frame: Content-Type; reply texts; api bodies; disconnect notices (headers and
body); for events: Event-Name, Application, the non-variable header names *in order*, the
variable names *in order*, and the values of the headers/variables that carry meaning
(states, causes, responses, outcome variables), with UUIDs and paths normalised.
CHANNEL_PARK is racy (README) and only checked for position (before the first EXECUTE).
Timing-dependent values (dates, durations, record_ms of a cut recording) are not compared.
"""
from __future__ import annotations

import re
import wave

import pytest

from . import Target
from .replay import UUID_RE, is_park, replay
from .wire import fs_urldecode

TARGETS = {
    # README "Dialplan": the three loopback targets
    "loopback/noanswer/default": Target.no_answer(),
    "loopback/busy/default": Target.busy(),
    "loopback/answer_tone/default": Target.answers(after=0, talk=2),
}
CALL_KW = {
    # 04: the caller "talks" (10 s tone) and is killed ~2.5 s into the record
    "04": dict(caller_hangup_during=("record", 2.5), caller_speaks=10),
    "04b": dict(caller_hangup_during=("playback", 1.5)),     # killed 1.5 s into playback
    "05": dict(caller_hangup_during=("bridge", 3.0)),        # killed while the target rings
}
OUTBOUND = ["01", "01b", "02", "03", "04", "04b", "05", "06", "06b"]

# headers whose values must match (after normalisation)
VALUE_HEADERS = {
    "Event-Name", "Channel-State", "Channel-Call-State", "Channel-State-Number", "Answer-State",
    "Hangup-Cause", "Application", "Application-Data", "Application-Response", "Application-UUID",
    "Unique-ID", "Channel-Name", "Caller-Caller-ID-Number", "Caller-Caller-ID-Name",
    "Caller-Destination-Number", "Bridge-A-Unique-ID", "Bridge-B-Unique-ID", "Other-Type",
    "Other-Leg-Unique-ID", "Other-Leg-Channel-Name", "Other-Leg-Destination-Number",
    "Record-File-Path", "Record-Completion-Cause", "Playback-File-Type", "Playback-File-Path",
    "Playback-Status", "Content-Type", "Reply-Text", "Socket-Mode", "Control",
}
VALUE_VARS = {
    "originate_disposition", "DIALSTATUS", "originate_failed_cause", "last_bridge_hangup_cause",
    "bridge_hangup_cause", "last_bridge_to", "bridge_uuid", "signal_bond", "originate_signal_bond",
    "bridge_channel", "originated_legs", "originate_causes", "endpoint_disposition",
    "current_application", "current_application_data", "current_application_response",
    "continue_on_fail", "hangup_after_bridge", "silence_hits_exhausted", "record_completion_cause",
    "hangup_cause", "hangup_cause_q850", "app_uuid", "last_app", "last_arg", "caller_id",
    "last_sent_callee_id_name", "last_sent_callee_id_number", "uuid", "call_uuid", "channel_name",
    "origination_caller_id_number", "DP_MATCH", "loopback_leg", "direction",
}
# Transcript 04/04b values that depend on exactly when the kill landed
TIMING_VARS = {"playback_ms", "playback_samples", "playback_seconds", "playback_last_offset_pos",
               "record_ms", "record_samples", "record_seconds", "record_file_size",
               "record_record_file_size"}


class Norm:
    """Maps UUIDs to U1, U2... by first appearance (scanning each message's headers sorted by
    name, so two streams with the same content map alike)."""

    def __init__(self):
        self.map = {}

    def scan(self, msg):
        pairs = sorted(msg.headers + (msg.event or []))
        for _k, v in pairs:
            for u in UUID_RE.findall(fs_urldecode(v)):
                self.map.setdefault(u, f"U{len(self.map) + 1}")

    def __call__(self, value: str) -> str:
        return UUID_RE.sub(lambda m: self.map.get(m.group(0), "U?"), value)


@pytest.fixture(scope="module")
def replays(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            tmp = str(tmp_path_factory.mktemp(f"rp{name}"))
            cache[name] = replay(name, tmp, targets=TARGETS, **CALL_KW.get(name, {}))
        return cache[name]
    return get


def _all_headers(m):
    return m.headers if m.event is None else m.event


def _names(m, variables):
    return [k for k, _ in _all_headers(m) if k.startswith("variable_") == variables]


def _label(m):
    if m.content_type == "text/event-plain":
        app = m.evd("Application")
        return f"{m.event_name}" + (f"({app})" if app else "")
    return f"{m.content_type}:{m.get('Reply-Text') or m.body[:30]!r}"


def compare(rp) -> list[str]:
    """All differences between the transcript and the simulator, as readable strings."""
    problems = []
    exp = [m for m in rp.expected if not is_park(m)]
    act = [m for m in rp.actual if not is_park(m)]
    el, al = [_label(m) for m in exp], [_label(m) for m in act]
    if el != al:
        return [f"frame sequence differs:\n  transcript: {el}\n  simulator:  {al}"]
    ne, na = Norm(), Norm()
    for i, (e, a) in enumerate(zip(exp, act)):
        ne.scan(e)
        na.scan(a)
        where = f"frame {i} {_label(e)}"
        for names_of_vars in (False, True):
            en, an = _names(e, names_of_vars), _names(a, names_of_vars)
            if en != an:
                kind = "variable" if names_of_vars else "header"
                problems.append(f"{where}: {kind} names differ\n  missing: {[x for x in en if x not in an]}"
                                f"\n  extra: {[x for x in an if x not in en]}\n  transcript: {en}\n  simulator:  {an}")
        ad = {}
        for k, v in _all_headers(a):
            v = fs_urldecode(v).replace(rp.tmpdir, "/var/").replace(f":{rp.port} ", ":8084 ")
            ad.setdefault(k, na(v))
        for k, v in _all_headers(e):
            name = k[len("variable_"):] if k.startswith("variable_") else None
            if name is not None and (name not in VALUE_VARS or name in TIMING_VARS):
                continue
            if name is None and k not in VALUE_HEADERS:
                continue
            ev = ne(fs_urldecode(v))
            if ad.get(k) != ev:
                problems.append(f"{where}: {k}: transcript {ev!r} simulator {ad.get(k)!r}")
        if e.content_type in ("api/response", "text/disconnect-notice"):
            if ne(e.body.decode()) != na(a.body.decode()):
                problems.append(f"{where}: body {e.body!r} vs {a.body!r}")
    return problems


@pytest.mark.parametrize("name", OUTBOUND)
def test_replay_matches_transcript(replays, name):
    rp = replays(name)
    problems = compare(rp)
    assert not problems, f"transcript {name}: {len(problems)} differences\n" + "\n".join(problems[:15])


@pytest.mark.parametrize("name", OUTBOUND)
def test_park_only_before_first_execute(replays, name):
    """CHANNEL_PARK is racy (README) but, when sent, precedes the first CHANNEL_EXECUTE."""
    labels = [_label(m) for m in replays(name).actual]
    parks = [i for i, lab in enumerate(labels) if lab == "CHANNEL_PARK"]
    first_exec = next(i for i, lab in enumerate(labels) if lab.startswith("CHANNEL_EXECUTE("))
    assert len(parks) <= 1 and all(i < first_exec for i in parks)


@pytest.mark.parametrize("name", OUTBOUND)
def test_framing_is_byte_exact(replays, name):
    """Outer framing as on the wire: events are 'Content-Length' then 'Content-Type', the
    length covers the body, and the body ends with a blank line; replies have no length."""
    for m in replays(name).actual:
        if m.content_type == "text/event-plain":
            assert [k for k, _ in m.headers] == ["Content-Length", "Content-Type"]
            assert m.body.endswith(b"\n\n") and int(m.get("Content-Length")) == len(m.body)
        elif m.content_type == "command/reply":
            assert m.get("Content-Length") is None and m.body == b""


def test_outcome_variables_02(replays):
    """README table: bridge outcomes, stale originate_failed_cause, accumulated ARRAY values."""
    rp = replays("02")
    done = [m for m in rp.actual if m.event_name == "CHANNEL_EXECUTE_COMPLETE" and m.evd("Application") == "bridge"]
    got = [(m.evd("variable_originate_disposition"), m.evd("variable_DIALSTATUS"),
            m.evd("variable_originate_failed_cause"), m.evd("variable_last_bridge_hangup_cause"),
            m.evd("variable_bridge_hangup_cause")) for m in done]
    assert got == [
        ("ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", "ALLOTTED_TIMEOUT", None),
        ("NO_ANSWER", "NOANSWER", "NO_ANSWER", "NO_ANSWER", None),
        ("USER_BUSY", "BUSY", "USER_BUSY", "USER_BUSY", None),
        ("SUCCESS", "SUCCESS", "USER_BUSY", "NORMAL_CLEARING", "NORMAL_CLEARING"),
    ]
    causes = done[-1].evd("variable_originate_causes")
    assert re.fullmatch(r"ARRAY::U?[0-9a-f-]{36};ALLOTTED_TIMEOUT\|:[0-9a-f-]{36};NO_ANSWER\|:"
                        r"[0-9a-f-]{36};USER_BUSY\|:[0-9a-f-]{36};NONE", causes), causes
    b_uuid = done[-1].evd("variable_bridge_uuid")
    assert done[-1].evd("variable_signal_bond") == b_uuid == done[-1].evd("variable_last_bridge_to")
    assert done[-1].evd("variable_bridge_channel") == "loopback/answer_tone-a"
    assert rp.result.bridges[-1].answered_by == "loopback/answer_tone/default"
    assert [b.outcome for b in rp.result.bridges] == ["ALLOTTED_TIMEOUT", "NO_ANSWER", "USER_BUSY", "SUCCESS"]


def test_linger_notices(replays):
    """Transcript 01: plain linger -> Linger-Time -1, socket stays open until exit;
    transcript 02: linger 5 -> second notice 'disconnect' with the 67-byte body, then EOF;
    transcript 01b: no linger -> disconnect notice at once."""
    n01 = [m for m in replays("01").actual if m.content_type == "text/disconnect-notice"]
    assert [m.get("Content-Disposition") for m in n01] == ["linger", "disconnect"]
    assert n01[0].get("Linger-Time") == "-1" and n01[0].get("Channel-Name") == "loopback/5001-b"
    n02 = [m for m in replays("02").actual if m.content_type == "text/disconnect-notice"]
    assert [m.get("Linger-Time") for m in n02] == ["5", None]
    assert len(n02[1].body) == 67
    n01b = [m for m in replays("01b").actual if m.content_type == "text/disconnect-notice"]
    assert [m.get("Content-Disposition") for m in n01b] == ["disconnect"]
    assert replays("01").result.closed_by == "fs"


def test_recordings_are_valid_wavs(replays):
    """Transcripts 03/04: 8000 Hz mono 16-bit WAVs; record_file_size = 44 + 2 * samples;
    the cut voicemail lasts as long as the caller talked (2.5 sim s here). The record_session
    file spans record_session..hangup, which includes the controller's round trips magnified by
    1/time_scale, so only its lower bound is tight."""
    for name, low, high in (("03", 1.95, 8.0), ("04", 2.3, 2.7)):
        rp = replays(name)
        assert len(rp.result.recordings) == 1
        with wave.open(rp.result.recordings[0]) as w:
            assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
            secs = w.getnframes() / 8000
        assert low <= secs < high, secs
    rp = replays("04")
    stop = next(m for m in rp.actual if m.event_name == "RECORD_STOP")
    ms = int(stop.evd("variable_record_ms"))
    assert int(stop.evd("variable_record_file_size")) == 44 + 2 * ms * 8


def test_detects_differences(replays):
    """The comparator is not vacuous: a tampered stream is reported."""
    import copy
    rp = copy.copy(replays("02"))
    rp.actual = [copy.copy(m) for m in rp.actual]
    for m in rp.actual:
        if m.event_name == "CHANNEL_EXECUTE_COMPLETE" and m.evd("Application") == "bridge":
            m.event = [(k, "NOANSWER" if k == "variable_DIALSTATUS" else v) for k, v in m.event]
            break
    assert any("DIALSTATUS" in p for p in compare(rp))
