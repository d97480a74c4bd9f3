"""engine.asterisk pieces on their own: dial strings, causes, DIALSTATUS, identity from
the captured agi_* blocks (tests/data/agi-transcripts 01, 09, 09b, 09c)."""
from __future__ import annotations

import pytest

from engine.agi.framing import AgiDecoder
from engine.asterisk.call import AsteriskCall, _caller, strip_media_suffix
from engine.asterisk.causes import cause_code, cause_name
from engine.asterisk.dial import classify
from engine.asterisk.dialstring import DialTemplates, build
from engine.outcomes import Outcome
from rules.errors import ProtocolError
from rules.plan import ForwardAttempt
from tests.asim.wire import asterisk_bytes


def env_of(prefix: str) -> dict:
    return AgiDecoder().feed(asterisk_bytes(prefix))[0]


def test_build_joins_with_ampersand_and_sets_ring_time():
    t = DialTemplates("PJSIP/{digits}@trunk", "PJSIP/{uri}")
    attempt = ForwardAttempt(("+5511900000001", "sip:ana@pbx.example.com"), 15)
    assert build(attempt, t) == "PJSIP/5511900000001@trunk&PJSIP/ana@pbx.example.com,15,g"
    assert DialTemplates("Local/{e164}@targets").endpoint("+5511900000001") == \
        "Local/+5511900000001@targets"


@pytest.mark.parametrize("e164", [
    "PJSIP/{digits},60", "PJSIP/{digits}&PJSIP/666", "PJSIP/{digits.__class__}",
    "PJSIP/{digits!r}", "PJSIP/{digits:>20}", "PJSIP/{uri}", "PJSIP/trunk", "PJSIP/${X}{digits}",
    "PJSIP/{digits} x", "", "PJSIP/{0}",
])
def test_unsafe_templates_are_refused(e164):
    with pytest.raises(ValueError):
        DialTemplates(e164=e164)


@pytest.mark.parametrize("destination", ["+55119,00", "sip:a&b@h", "sip:a@h,1", "5511", "sip:a b@h"])
def test_unsafe_destinations_are_refused(destination):
    with pytest.raises(ValueError):
        DialTemplates().endpoint(destination)


@pytest.mark.parametrize("status,outcome", [
    ("ANSWER", Outcome.ANSWERED), ("NOANSWER", Outcome.NO_ANSWER), ("BUSY", Outcome.BUSY),
    ("CONGESTION", Outcome.FAILED), ("CHANUNAVAIL", Outcome.FAILED),
    ("CANCEL", Outcome.CALLER_GONE), (None, Outcome.FAILED), ("INVALIDARGS", Outcome.FAILED),
])
def test_dialstatus(status, outcome):
    assert classify(status) is outcome


def test_causes():
    assert cause_code("CALL_REJECTED") == 21 and cause_code("USER_BUSY") == 17
    assert cause_code("NORMAL_CLEARING") == 16 and cause_code("DECLINE") == 21
    assert cause_code("ORIGINATOR_CANCEL") == 16 and cause_code("nonsense") == 16
    assert cause_name("16") == "NORMAL_CLEARING" and cause_name("21") == "CALL_REJECTED"
    assert cause_name("0") is None and cause_name("") is None and cause_name("x") is None


def test_callers_from_the_captured_blocks():
    assert _caller(env_of("01")) == ("+5511999990001", "Caller")
    assert _caller(env_of("09")) == ("+5511999990009", "João O'Brien, Jr; x=1&y<z>")
    assert _caller(env_of("09b")) == ("anonymous", None)          # pres 33: withheld
    assert _caller(env_of("09c")) == (None, None)                 # "unknown": no caller ID


def test_media_suffix():
    assert strip_media_suffix("/srv/media/welcome.wav") == "/srv/media/welcome"
    assert strip_media_suffix("/srv/media/welcome") == "/srv/media/welcome"


class FakeConn:
    hungup = closed = False

    def __init__(self, env):
        self.env = env

    def read_environment(self, timeout):
        return self.env


def test_identity_from_01():
    call = AsteriskCall(FakeConn(env_of("01")), templates=DialTemplates(), command_timeout=1,
                        max_call_seconds=10)
    call.start()
    assert call.switch_id == "1796196821.77" and call.called == "+551140040001"
    assert len(call.uuid) == 36 and call.uuid != call.switch_id


@pytest.mark.parametrize("uniqueid", ["../../x", "1.2\n", "", "abc", "1" * 80, "pbx1-../x",
                                      "-1796354094.1", "pbx 1-1796354094.1", "pbx1-"])
def test_bad_uniqueid_is_refused(uniqueid):
    call = AsteriskCall(FakeConn({"uniqueid": uniqueid}), templates=DialTemplates(),
                        command_timeout=1, max_call_seconds=10)
    with pytest.raises(ProtocolError):
        call.start()


@pytest.mark.parametrize("uniqueid", ["1796354094.1", "pbx1-1796354094.1", "pbx_a-b-1796354094.12"])
def test_a_uniqueid_with_or_without_a_systemname_is_accepted(uniqueid):
    # asterisk.conf `systemname = pbx1` prefixes every uniqueid (seen on 22.10.1)
    call = AsteriskCall(FakeConn({"uniqueid": uniqueid, "extension": "+551140040001"}),
                        templates=DialTemplates(), command_timeout=1, max_call_seconds=10)
    call.start()
    assert call.switch_id == uniqueid


def test_called_from_dnid_when_extension_is_s():
    call = AsteriskCall(FakeConn({"uniqueid": "1.2", "extension": "s", "dnid": "+551140040001"}),
                        templates=DialTemplates(), command_timeout=1, max_call_seconds=10)
    call.start()
    assert call.called == "+551140040001"
