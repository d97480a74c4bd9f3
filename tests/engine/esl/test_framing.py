"""engine.esl.framing, pure: the transcripts' bytes in, frames out; limits; malformed input.

No sockets here: a recv boundary is simulated by cutting the captured bytes wherever a
test likes (FreeSWITCH's TCP writes arrive cut anywhere).
"""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.esl.framing import (FrameDecoder, Limits, Message, encode_commands, parse_headers,
                                sendmsg)
from rules.errors import FrameTooLarge, ProtocolError
from tests.engine.esl.support import RAW, expected_events, load_raw, load_raw_stamped

TRANSCRIPTS = sorted(p.name for p in RAW.glob("*.raw"))


def stream(name: str) -> bytes:
    """Everything FreeSWITCH wrote in one transcript, in order."""
    return b"".join(data for direction, data in load_raw(name) if direction == "<<<")


def decode_in_pieces(data: bytes, cuts: list[int], limits: Limits = Limits()) -> list:
    decoder = FrameDecoder(limits)
    frames, prev = [], 0
    for cut in sorted(cuts) + [len(data)]:
        frames += decoder.feed(data[prev:cut])
        prev = cut
    assert not decoder.mid_frame, "a whole transcript leaves nothing buffered"
    return frames


def summary(frames) -> list[tuple[str, str | None]]:
    """(content type, Event-Name / Content-Disposition) per event or notice frame."""
    out = []
    for headers, body in frames:
        ctype = headers["Content-Type"]
        if ctype == "text/event-plain":
            out.append((ctype, Message.from_event_plain(body).name))
        elif ctype == "text/disconnect-notice":
            out.append((ctype, headers.get("Content-Disposition")))
    return out


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_every_transcript_decodes_to_the_frames_on_the_wire(name):
    frames = decode_in_pieces(stream(name), [])
    assert summary(frames) == expected_events(load_raw(name))
    for headers, body in frames:
        n = headers.get("Content-Length")
        assert (body is None) == (n is None) and (body is None or len(body) == int(n))


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_any_recv_boundaries_give_the_same_frames(name):
    data = stream(name)
    whole = decode_in_pieces(data, [])
    assert decode_in_pieces(data, list(range(1, len(data)))) == whole   # one byte per recv
    rng = random.Random(name)
    for _ in range(20):
        cuts = rng.sample(range(1, len(data)), k=min(len(data) - 1, rng.randint(1, 40)))
        assert decode_in_pieces(data, cuts) == whole


def test_a_cut_at_every_offset_of_a_call_gives_the_same_frames():
    data = stream("01-answer-playback.raw")
    whole = decode_in_pieces(data, [])
    for cut in range(1, len(data)):
        assert decode_in_pieces(data, [cut]) == whole, cut


def test_eof_in_the_middle_of_a_frame_is_visible():
    data = stream("01-answer-playback.raw")
    decoder = FrameDecoder()
    decoder.feed(data[:-7])
    assert decoder.mid_frame
    decoder.feed(data[-7:])
    assert not decoder.mid_frame


# ------------------------------------------------------------------------- limits

SMALL = Limits(max_header_block=1024, max_headers=8, max_header_line=200, max_body=4096)


def test_an_endless_header_block_is_refused_within_its_limit():
    decoder = FrameDecoder(SMALL)
    chunk = b"X-Padding: " + b"a" * 50 + b"\n"
    with pytest.raises(FrameTooLarge, match="header block exceeds 1024 bytes"):
        for _ in range(10_000):
            decoder.feed(chunk)
            assert len(decoder._buf) <= SMALL.max_header_block + len(chunk)


def test_a_body_over_the_limit_is_refused_before_it_is_read():
    decoder = FrameDecoder(SMALL)
    with pytest.raises(FrameTooLarge, match="Content-Length 104857600 exceeds 4096"):
        decoder.feed(b"Content-Type: text/event-plain\nContent-Length: 104857600\n\n")


def test_a_body_at_the_limit_is_read():
    body = b"x" * SMALL.max_body
    frames = FrameDecoder(SMALL).feed(b"Content-Type: api/response\nContent-Length: %d\n\n"
                                      % len(body) + body)
    assert frames == [({"Content-Type": "api/response", "Content-Length": "4096"}, body)]


def test_too_many_headers_and_too_long_a_line_are_refused():
    many = "".join(f"H{i}: v\n" for i in range(20))
    with pytest.raises(FrameTooLarge, match="exceeds 8"):
        parse_headers(many, limits=SMALL)
    with pytest.raises(FrameTooLarge, match="header line of 300 bytes exceeds 200"):
        parse_headers("Reply-Text: " + "a" * 288, limits=SMALL)
    event = "".join(f"H{i}: v\n" for i in range(20)).encode()
    with pytest.raises(FrameTooLarge, match="event of 20 header lines exceeds 8"):
        Message.from_event_plain(event, SMALL)


@pytest.mark.parametrize("frame, error", [
    (b"Content-Type: command/reply\nContent-Length: -5\n\n", "Content-Length is not an integer"),
    (b"Content-Type: command/reply\nReply-Text: \xff\n\n", "not UTF-8"),
    # an Arabic-Indic 3 is a digit to str.isdigit(), not to the wire
    ("Content-Type: api/response\nContent-Length: \u0663\n\n".encode(),
     "Content-Length is not an integer"),
    (b"Reply-Text: +OK\n\n", "frame without Content-Type"),
    (b"Content-Type command/reply\n\n", "header line without ': '"),
])
def test_malformed_frames_name_what_is_wrong(frame, error):
    with pytest.raises(ProtocolError, match=error):
        FrameDecoder().feed(frame)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096), st.lists(st.integers(0, 4096), max_size=8))
def test_fuzz_any_bytes_give_frames_or_a_protocol_error_never_a_crash(data, cuts):
    decoder = FrameDecoder(SMALL)
    prev = 0
    try:
        for cut in sorted(c for c in cuts if c <= len(data)) + [len(data)]:
            for headers, body in decoder.feed(data[prev:cut]):
                assert "Content-Type" in headers
                assert body is None or len(body) <= SMALL.max_body
            prev = cut
            assert len(decoder._buf) <= SMALL.max_header_block + SMALL.max_body + len(data)
    except ProtocolError:
        pass


# ----------------------------------------------------------------------- commands


def test_commands_are_the_bytes_freeswitch_reads():
    sent = [d for direction, d in load_raw("01-answer-playback.raw") if direction == ">>>"]
    play = next(d for d in sent if b"execute-app-name: playback" in d).decode()
    app_uuid = play.split("Event-UUID: ")[1].split("\n")[0]
    arg = play.split("execute-app-arg: ")[1].split("\n")[0]
    assert encode_commands([sendmsg("playback", arg, app_uuid)]) == play.encode()
    assert encode_commands(["connect", "myevents"]) == b"connect\n\nmyevents\n\n"
    with pytest.raises(ValueError, match="application argument contains CR, LF or NUL"):
        sendmsg("playback", "a.wav\nexecute-app-name: system", app_uuid)


# ------------------------------------------------------ what transcripts 08/08b show


def _record_ms_and_bridge_seconds(name: str) -> tuple[int, float]:
    """RECORD_STOP's record_ms, and CHANNEL_BRIDGE -> CHANNEL_UNBRIDGE by the capture's
    clock, from one of the record_session captures."""
    from datetime import datetime

    times, record_ms = {}, None
    for direction, stamp, data in load_raw_stamped(name):
        if direction != "<<<":
            continue
        for headers, body in FrameDecoder().feed(data):
            if headers["Content-Type"] != "text/event-plain":
                continue
            msg = Message.from_event_plain(body)
            if msg.name in ("CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE"):
                times.setdefault(msg.name, datetime.fromisoformat(stamp))
            elif msg.name == "RECORD_STOP":
                record_ms = int(msg.get("variable_record_ms"))
    return record_ms, (times["CHANNEL_UNBRIDGE"] - times["CHANNEL_BRIDGE"]).total_seconds()


def test_record_session_records_the_ringback_unless_bridge_required():
    # Captured on FreeSWITCH 1.11.1 (tests/switch/freeswitch/capture.py): a pure forward,
    # record_session before a bridge to a phone that rings 2 s and talks 5 s. Without
    # RECORD_BRIDGE_REQ the file also holds the ringback; with it, only the conversation
    # (why engine/freeswitch/bridge.py sets it; the simulator models both, tests/fsim).
    ringback_ms, talked = _record_ms_and_bridge_seconds("08-record-session-ringback.raw")
    assert ringback_ms / 1000 > talked + 1.0
    bridged_ms, talked = _record_ms_and_bridge_seconds("08b-record-session-bridge-req.raw")
    assert abs(bridged_ms / 1000 - talked) < 0.1
