"""engine.agi.framing on the real bytes of the Asterisk 22.10.1 captures
(tests/data/agi-transcripts), its limits, malformed input and a fuzz."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from engine.agi.framing import (HANGUP, AgiDecoder, Environment, Limits, Reply,
                                encode_command, parse_reply_line, quote_arg)
from rules.errors import FrameTooLarge, ProtocolError
from tests.asim.channel import parse_args   # res_agi's word splitting, as the simulator reads it
from tests.asim.wire import all_prefixes, asterisk_bytes, exchanges

WIRE = [p for p in all_prefixes() if p != "11"]     # 11: nothing listened, no bytes


def decode(data: bytes, limits: Limits = Limits()) -> list:
    return AgiDecoder(limits).feed(data)


def summary(items: list) -> list:
    return [dict(i) if isinstance(i, Environment) else i for i in items]


@pytest.mark.parametrize("prefix", WIRE)
def test_every_transcript_decodes_one_environment_then_one_reply_per_command(prefix):
    items = decode(asterisk_bytes(prefix))
    assert isinstance(items[0], Environment)
    assert not any(isinstance(i, Environment) for i in items[1:])
    for command, lines in exchanges(prefix)[1:]:
        got = AgiDecoder()
        got._env = None                      # past the environment
        out = got.feed(b"".join(lines))
        replies = [i for i in out if isinstance(i, Reply)]
        # one reply per command, except where Asterisk closed first (05c: EOF)
        assert len(replies) <= 1, (command, out)
        assert all(i is HANGUP or isinstance(i, Reply) for i in out)


@pytest.mark.parametrize("prefix", WIRE)
def test_split_at_every_offset_gives_the_same_items(prefix):
    data = asterisk_bytes(prefix)
    whole = summary(decode(data))
    for cut in range(len(data) + 1):
        d = AgiDecoder()
        assert summary(d.feed(data[:cut]) + d.feed(data[cut:])) == whole, cut


def test_one_byte_at_a_time():
    data = asterisk_bytes("13")
    d = AgiDecoder()
    items = []
    for i in range(len(data)):
        items += d.feed(data[i:i + 1])
    assert summary(items) == summary(decode(data))


def test_environment_of_01():
    env = decode(asterisk_bytes("01"))[0]
    assert env["uniqueid"] == "1796196821.77"
    assert env["network_script"] == "callflow?did=%2B551140040001&tenant=lab%20one"  # not decoded
    assert env["extension"] == "+551140040001" and env["dnid"] == "unknown"
    assert env["accountcode"] == "" and env["arg_3"] == "" and env["arg_2"] == "second|x"
    assert env["callerid"] == "+5511999990001" and env["calleridname"] == "Caller"


def test_odd_and_withheld_caller_ids_09():
    assert decode(asterisk_bytes("09"))[0]["calleridname"] == "João O'Brien, Jr; x=1&y<z>"
    withheld = decode(asterisk_bytes("09b"))[0]
    assert (withheld["callerid"], withheld["callingpres"]) == ("anonymous", "33")
    none = decode(asterisk_bytes("09c"))[0]
    assert (none["callerid"], none["calleridname"], none["callingpres"]) == ("unknown", "unknown", "67")


@pytest.mark.parametrize("line,code,result,data,endpos", [
    ("200 result=0", 200, 0, None, None),
    ("200 result=0 endpos=16000", 200, 0, None, 16000),
    ("200 result=-1 endpos=0", 200, -1, None, 0),
    ("200 result=53 endpos=13600", 200, 53, None, 13600),
    ("200 result=1 (a b c)", 200, 1, "a b c", None),
    ("200 result=1 ()", 200, 1, "", None),
    ("200 result=1 (${CHANNEL})", 200, 1, "${CHANNEL}", None),
    ("200 result=1 (Local/5511900000001@targets-00000028;1)", 200, 1,
     "Local/5511900000001@targets-00000028;1", None),
    ("200 result=-1 (hangup) endpos=17920", 200, -1, "hangup", 17920),
    ("200 result=35 (dtmf) endpos=16320", 200, 35, "dtmf", 16320),
    ("200 result=0 (timeout) endpos=0", 200, 0, "timeout", 0),
    ("200 result=1 (x) endpos=5)", 200, 1, "x) endpos=5", None),   # a value, not an endpos
    ("200 result=-2", 200, -2, None, None),
    ("510 Invalid or unknown command", 510, None, None, None),
    ("511 Command Not Permitted on a dead channel or intercept routine", 511, None, None, None),
])
def test_reply_lines(line, code, result, data, endpos):
    r = parse_reply_line(line)
    assert (r.code, r.result, r.data, r.endpos) == (code, result, data, endpos)


def test_multi_line_520_reply_13():
    items = decode(asterisk_bytes("13"))
    usage = [i for i in items if isinstance(i, Reply) and i.code == 520]
    assert len(usage) == 1
    assert usage[0].lines[0].startswith("520-Invalid command syntax.")
    assert usage[0].lines[-1] == "520 End of proper usage."
    assert len(usage[0].lines) == 7


def test_hangup_notices_05c_come_as_two_items():
    items = decode(asterisk_bytes("05c"))
    assert items[-2:] == [HANGUP, HANGUP]


def test_crlf_is_tolerated():
    items = decode(b"agi_uniqueid: 1.2\r\n\r\n200 result=0\r\nHANGUP\r\n")
    assert items[0] == {"uniqueid": "1.2"} and items[1].result == 0 and items[2] is HANGUP


def test_invalid_utf8_is_replaced_not_fatal():
    env = decode(b"agi_calleridname: Jo\xe3o\n\n")[0]
    assert env["calleridname"] == "Jo\ufffdo"


# ------------------------------------------------------------------------- limits

def test_environment_byte_limit():
    limits = Limits(max_env_bytes=100)
    with pytest.raises(FrameTooLarge):
        decode(b"".join(b"agi_x%d: %s\n" % (i, b"v" * 20) for i in range(10)), limits)


def test_environment_line_limit():
    with pytest.raises(FrameTooLarge):
        decode(b"".join(b"agi_x%d: 1\n" % i for i in range(20)), Limits(max_env_lines=10))


def test_line_length_limit_without_newline():
    d = AgiDecoder(Limits(max_line=64))
    d.feed(b"\n")                          # an empty environment
    with pytest.raises(FrameTooLarge):
        d.feed(b"2" * 65)                  # never ends: refused before it is kept


def test_line_length_limit_with_newline():
    with pytest.raises(FrameTooLarge):
        decode(b"\n200 result=1 (" + b"x" * 100 + b")\n", Limits(max_line=64))


def test_multi_line_reply_limit():
    with pytest.raises(FrameTooLarge):
        decode(b"\n520-usage\n" + b"text\n" * 10, Limits(max_reply_lines=5))


# ----------------------------------------------------------------------- malformed

@pytest.mark.parametrize("data", [
    b"hello world\n",                      # an env line that is not agi_*
    b"agi_\n",
    b"agi_uniqueid 1.2\n",                 # no ": "
    b"\nOK\n",                             # a reply that is not NNN
    b"\n200 ok\n",                         # a 200 without result=
    b"\n200 result=x\n",
    b"\n200\n",
])
def test_malformed(data):
    with pytest.raises(ProtocolError):
        decode(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.integers(min_value=0, max_value=600))
def test_fuzz_only_protocol_errors(data, cut):
    d = AgiDecoder(Limits(max_env_bytes=256, max_env_lines=8, max_line=128, max_reply_lines=4))
    try:
        d.feed(data[:cut])
        d.feed(data[cut:])
    except ProtocolError:
        pass
    assert len(d._buf) <= 128 + 600


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([b"HANGUP\n", b"200 result=0\n", b"200 result=1 (a b)\n",
                                 b"510 Invalid or unknown command\n",
                                 b"520-x\nusage\n520 End.\n"]), max_size=20),
       st.integers(min_value=1, max_value=7))
def test_fuzz_chunking_of_valid_streams(parts, step):
    data = b"agi_a: 1\n\n" + b"".join(parts)
    d, items = AgiDecoder(), []
    for i in range(0, len(data), step):
        items += d.feed(data[i:i + step])
    assert summary(items) == summary(decode(data))
    assert len(items) == 1 + len(parts)


# ------------------------------------------------------------------------ commands

def test_commands_as_captured():
    assert encode_command("ANSWER") == b"ANSWER\n"
    assert encode_command("STREAM FILE", "lab/welcome", "") == b'STREAM FILE lab/welcome ""\n'
    assert encode_command("EXEC", "Dial", "Local/5511900000001@targets,20", quote=(False, True)) \
        == b'EXEC Dial "Local/5511900000001@targets,20"\n'
    assert encode_command("RECORD FILE", "/tmp/astlab/rec/vm-1", "wav", "#", "120000", "BEEP",
                          "s=3", quote=(False, False, True)) \
        == b'RECORD FILE /tmp/astlab/rec/vm-1 wav "#" 120000 BEEP s=3\n'
    assert encode_command("EXEC", "Hangup", "21") == b"EXEC Hangup 21\n"


@pytest.mark.parametrize("arg,wire", [
    ("a b", '"a b"'), ('say "hi"', '"say \\"hi\\""'), ("back\\slash", '"back\\\\slash"'),
    ("", '""'), ("tab\there", '"tab\there"'),
])
def test_quoting(arg, wire):
    assert quote_arg(arg) == wire


@pytest.mark.parametrize("bad", ["a\nHANGUP", "a\rb", "a\0b"])
def test_command_refuses_cr_lf_nul(bad):
    with pytest.raises(ValueError):
        encode_command("EXEC", "Playback", bad)


@pytest.mark.parametrize("words", ["", "answer", "EXEC\nHANGUP", "GET  VARIABLE", " ANSWER"])
def test_command_names_are_checked(words):
    with pytest.raises(ValueError):
        encode_command(words)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n\0",
                                               blacklist_categories=("Cs",))), max_size=6))
def test_quoted_arguments_round_trip_through_parse_args(args):
    line = encode_command("EXEC", *args).decode()[:-1]
    assert parse_args(line) == ["EXEC", *args]
