"""Fuzz: whatever bytes a peer sends and whatever document a writer stores, the answer is
frames or a ProtocolError, a RuleSet or a ConfigError; never another exception (which
would be a 500, a dead reader greenlet or a crash in a feed)."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.esl.framing import DEFAULT_LIMITS, FrameDecoder, Message
from rules.errors import ConfigError, ProtocolError
from rules.loader import compile_entry, load_mapping
from rules.models import Defaults

# Frames that look like FreeSWITCH's, then broken: real header names, odd values.
NAMES = st.sampled_from(["Content-Type", "Content-Length", "Reply-Text", "Event-Name",
                         "Content-Disposition", "Application-UUID", "X"])
VALUES = st.one_of(st.sampled_from(["text/event-plain", "command/reply", "api/response",
                                    "text/disconnect-notice", "text/event-json", "0", "-1",
                                    "99999999999", "+OK", "%0A", ""]),
                   st.text(max_size=20))
FRAME = st.builds(lambda hs, body: "".join(f"{k}: {v}\n" for k, v in hs).encode() + b"\n" + body,
                  st.lists(st.tuples(NAMES, VALUES), max_size=6), st.binary(max_size=64))


@settings(max_examples=400, deadline=None)
@given(st.lists(FRAME, max_size=6), st.integers(1, 64))
def test_the_esl_decoder_and_event_parser_never_raise_anything_else(frames, step):
    data = b"".join(frames)
    decoder = FrameDecoder(DEFAULT_LIMITS)
    try:
        for i in range(0, len(data), step):
            for headers, body in decoder.feed(data[i:i + step]):
                if headers["Content-Type"] == "text/event-plain":
                    msg = Message.from_event_plain(body or b"")
                    msg.get("Event-Name"), msg.headers
                elif headers["Content-Type"] == "text/event-json":
                    Message.from_event_json(body or b"")
    except ProtocolError:
        pass


JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10, 10**6), st.text(max_size=12),
              st.sampled_from(["+5511988880000", "sip:a@b.com", "mon-fri", "08:00-18:00",
                               "CALL_REJECTED", "welcome.wav", "a@b.com", "start"])),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["forwarding", "messages", "voicemail", "hangup", "to",
                                         "ring_seconds", "schedule", "days", "hours", "callers",
                                         "audio", "at", "email", "cause", "record", "timezone",
                                         "x"]), inner, max_size=4)),
    max_leaves=12)


@settings(max_examples=400, deadline=None)
@given(JSONISH)
def test_the_loader_gives_a_ruleset_or_a_config_error(entry):
    try:
        load_mapping({"defaults": {"region": "BR"}, "numbers": {"+551140040000": entry}})
    except ConfigError as err:
        assert err.lines(), "a ConfigError always says what is wrong"


@settings(max_examples=300, deadline=None)
@given(JSONISH)
def test_a_stored_entry_compiles_or_is_refused(entry):
    try:
        compile_entry("+551140040000", json.dumps(entry), Defaults(region="BR"))
    except ConfigError as err:
        assert err.lines()
