"""engine.esl.connection against byte-exact FreeSWITCH frames over real loopback TCP.

No monkey patching: every socket here is a gevent.socket, the "FreeSWITCH" side is a
greenlet writing the bytes of tests/data/esl-transcripts/raw/*.raw.
"""
from __future__ import annotations

import re
import time

import gevent
import pytest
from greenswitch.esl import ESLEvent

from engine.esl import CommandRejected, Message
from rules.errors import CallerGone, CommandTimeout, ProtocolError
from tests.engine.esl.support import (GOODBYE, OK, ScriptedUUIDs, complete_frame, event_frame,
                                      expected_events, load_raw, replay, start_connected,
                                      wait_until)


# ------------------------------------------------------------------- transcript replay

OUTBOUND = ["01-answer-playback.raw", "01b-answer-playback-no-linger.raw",
            "02-bridge-failover-final-message.raw", "03-record-session-bridge.raw",
            "04-voicemail-record-caller-hangup.raw", "04b-caller-hangup-during-playback.raw",
            "05-caller-hangup-during-bridge.raw", "06-malformed-and-unknown.raw",
            "06b-bridge-busy-without-continue-on-fail.raw", "08-record-session-ringback.raw",
            "08b-record-session-bridge-req.raw"]


@pytest.mark.parametrize("name", OUTBOUND)
def test_replay_transcript(make_conn, name):
    conn, events, replies, sent, blocks = replay(make_conn, name)
    got = [(m.content_type, m.name if m.content_type == "text/event-plain"
            else m.get("Content-Disposition")) for m in events]
    assert got == expected_events(blocks)
    # every completion is found by its Application-UUID (an app that never completed,
    # e.g. 06's unknown application, raises CallerGone: the socket is closed)
    for app_uuid, app in sent:
        completed = any(b"\n\nEvent-Name: CHANNEL_EXECUTE_COMPLETE\n" in d
                        and f"\nApplication-UUID: {app_uuid}\n".encode() in d
                        for direction, d in blocks if direction == "<<<")
        if completed:
            msg = conn.wait_complete(app_uuid, 0.5, after_hangup=True)
            assert msg.get("Application-UUID") == app_uuid and msg.get("Application") == app
        else:
            with pytest.raises(CallerGone):
                conn.wait_complete(app_uuid, 0.5, after_hangup=True)
    assert conn.hungup and conn.closed
    # the last frame is the goodbye notice with its 67-byte body
    assert events[-1].get("Content-Disposition") == "disconnect" and events[-1].body == GOODBYE
    with pytest.raises(CallerGone):
        conn.command("myevents")


def test_replay_01_connect_reply_and_replies(make_conn):
    conn, events, replies, sent, _ = replay(make_conn, "01-answer-playback.raw")
    data = replies[0]
    assert data.content_type == "command/reply"
    assert data.get("Caller-Caller-ID-Number") == "+5511999990001"
    assert data.get("Caller-Callee-ID-Name") == "Outbound Call"
    assert data.get("FreeSWITCH-IPv6") == "fd00::2"
    assert data.get("variable_current_application_data") == "127.0.0.1:8084 async full"
    assert data.get("Reply-Text") == "+OK\n" and data.get("Socket-Mode") == "async"
    assert conn.uuid == "f181dc99-115f-4c34-b546-38f307a0521f" and conn.channel_data is data
    assert [r.get("Reply-Text") for r in replies[1:]] == [
        "+OK Events Enabled", "+OK will linger", "+OK bye"]
    assert conn.hangup_cause == "NORMAL_CLEARING" and conn.lingering
    linger = [m for m in events if m.get("Content-Disposition") == "linger"]
    assert len(linger) == 1 and linger[0].get("Linger-Time") == "-1" and linger[0].body == ""
    # CHANNEL_PARK arrived before answer's +OK, and did not eat it
    assert events[0].name == "CHANNEL_PARK"
    play = next(u for u, app in sent if app == "playback")
    msg = conn.wait_complete(play, 0.1)  # completed before the hang-up: returned as is
    assert msg.get("Application-Response") == "FILE PLAYED"
    assert msg.get("Application-Data") == "tone_stream://%(500,500,440);loops=2"  # decoded


def test_replay_02_bridge_outcomes_by_uuid(make_conn):
    conn, _, _, sent, _ = replay(make_conn, "02-bridge-failover-final-message.raw")
    bridges = [conn.wait_complete(u, 0.1, after_hangup=True) for u, app in sent if app == "bridge"]
    assert [b.get("variable_originate_disposition") for b in bridges] == [
        "ALLOTTED_TIMEOUT", "NO_ANSWER", "USER_BUSY", "SUCCESS"]
    assert bridges[3].get("variable_last_bridge_hangup_cause") == "NORMAL_CLEARING"


def test_replay_06_errors_and_api_bodies(make_conn):
    conn, _, replies, _, _ = replay(make_conn, "06-malformed-and-unknown.raw")
    texts = [r if isinstance(r, str) else r.get("Reply-Text") for r in replies]
    assert "-ERR command not found" in texts
    assert "-ERR no_such_command Command not found!\n" in texts   # api body, raw text
    assert "-ERR invalid session id [00000000-0000-0000-0000-000000000000]" in texts
    assert texts[-1] == "false"                                   # no trailing LF kept
    assert conn.hangup_cause == "DESTINATION_OUT_OF_ORDER"


def test_command_rejected_and_api_error(make_conn):
    conn, fs = start_connected(make_conn)
    g = gevent.spawn(conn.command, "event plain NO_SUCH_EVENT")
    fs.read_command()
    fs.write(b"Content-Type: command/reply\nReply-Text: -ERR no keywords supplied\n\n")
    with pytest.raises(CommandRejected) as exc:
        g.get(timeout=1)
    assert isinstance(exc.value, ProtocolError)
    assert exc.value.reply.get("Reply-Text") == "-ERR no keywords supplied"


def test_only_the_connect_reply_is_url_decoded(make_conn):
    conn, fs = start_connected(make_conn)
    g = gevent.spawn(conn.command, "foobar", check=False)
    fs.read_command()
    fs.write(b"Content-Type: command/reply\nReply-Text: -ERR bad [a%2Bb%0A]\n\n")
    assert g.get(timeout=1).get("Reply-Text") == "-ERR bad [a%2Bb%0A]"
    g = gevent.spawn(conn.api, "echo 100%25")
    fs.read_command()
    fs.write(b"Content-Type: api/response\nContent-Length: 8\n\n100%25\n\n")
    assert g.get(timeout=1) == "100%25\n\n"   # body: verbatim, Content-Length exact


def test_inbound_event_bodies_and_json(make_conn):
    """Transcript 07's BACKGROUND_JOB (inner Content-Length + body) and text/event-json."""
    frames = [b for d, b in load_raw("07-inbound-api-bgapi-events.raw") if d == "<<<"
              and (b"BACKGROUND_JOB" in b or b"text/event-json" in b.split(b"\n\n")[0])]
    conn, fs = make_conn()
    got = []
    conn.on_event(got.append)
    fs.write(b"".join(frames))
    wait_until(lambda: len(got) == len(frames))
    job = next(m for m in got if m.get("Job-UUID") == "11111111-2222-3333-4444-555555555555")
    assert job.name == "BACKGROUND_JOB"
    assert job.body == "FreeSWITCH Version 1.11.1-release~64bit ( 64bit)\n"
    failed = [m for m in got if m.content_type == "text/event-plain" and m.body == "-ERR USER_BUSY\n"]
    assert len(failed) == 1
    js = [m for m in got if m.content_type == "text/event-json"]
    assert js and js[0].name == "CHANNEL_CREATE" and js[0].get("FreeSWITCH-IPv6") == "fd00::2"
    assert not conn.closed


# ------------------------------------------------------------------ fault 1: forging


@pytest.mark.parametrize("evil", ["Evil%0AEvent-Name%3A%20CHANNEL_HANGUP",
                                  "Evil%0D%0AEvent-Name%3A%20CHANNEL_HANGUP",
                                  "Evil%E2%80%A8Event-Name%3A%20CHANNEL_HANGUP"])
def test_encoded_newline_in_a_value_forges_no_header(make_conn, evil):
    headers = [("Event-Name", "CHANNEL_ANSWER"), ("Unique-ID", "f181dc99-115f-4c34-b546-38f307a0521f"),
               ("Caller-Caller-ID-Name", evil), ("Hangup-Cause", "NONE")]
    body = event_frame(headers).split(b"\n\n", 1)[1]
    # greenswitch's own parser is fooled (this is the fault being fixed)...
    assert ESLEvent(body.decode()).headers["Event-Name"] == "CHANNEL_HANGUP"
    # ...ours is not, on the wire or through ESLEvent's parse_data entry point
    conn, fs = start_connected(make_conn)
    got = []
    conn.on_event(got.append)
    fs.write(event_frame(headers))
    wait_until(lambda: got)
    msg = got[0]
    assert msg.name == "CHANNEL_ANSWER" and len(msg.headers) == 4
    assert msg.get("Caller-Caller-ID-Name").startswith("Evil")
    assert msg.get("Caller-Caller-ID-Name").endswith("Event-Name: CHANNEL_HANGUP")
    assert not conn.hungup and conn.hangup_cause is None
    safe = Message({})
    safe.parse_data(body.decode())
    assert safe.name == "CHANNEL_ANSWER"


# -------------------------------------------------------------- fault 2: EOF / closes


def test_eof_without_notice_ends_every_wait_promptly(make_conn):
    conn, fs = start_connected(make_conn)
    app = gevent.spawn(conn.execute_async, "playback", "x.wav")
    fs.read_command()
    fs.write(OK)
    app_uuid = app.get(timeout=1)
    waits = [gevent.spawn(conn.wait_complete, app_uuid, 5),
             gevent.spawn(conn.wait_event, lambda m: False, 5, after_hangup=True),
             gevent.spawn(conn.command, "linger 5")]
    fs.read_command()  # the linger command, never answered
    gevent.sleep(0.01)
    t0 = time.perf_counter()
    fs.close()
    gevent.joinall(waits, timeout=1)
    assert time.perf_counter() - t0 < 0.2
    for g in waits:
        assert isinstance(g.exception, CallerGone), g.exception
    assert conn.closed and conn._reader.dead
    with pytest.raises(CallerGone):
        conn.execute_async("playback", "y.wav")


@pytest.mark.parametrize("cut", [10, 40, 2000])
def test_eof_in_the_middle_of_a_body(make_conn, cut):
    frame = next(b for d, b in load_raw("01-answer-playback.raw")
                 if d == "<<<" and b.startswith(b"Content-Length: 2642\n"))
    conn, fs = start_connected(make_conn)
    g = gevent.spawn(conn.command, "myevents")
    fs.read_command()
    fs.write(frame[:cut])
    gevent.sleep(0.01)
    assert not g.ready()
    fs.close()
    with pytest.raises(CallerGone):
        g.get(timeout=0.5)
    wait_until(lambda: conn._reader.dead, 0.5)


def test_disconnect_notice_ends_waits_even_if_socket_stays_open(make_conn):
    conn, fs = start_connected(make_conn)
    g = gevent.spawn(conn.wait_event, lambda m: False, 5, after_hangup=True)
    gevent.sleep(0)
    fs.write(b"Content-Type: text/disconnect-notice\nContent-Disposition: disconnect\n"
             b"Content-Length: 67\n\n" + GOODBYE.encode())
    with pytest.raises(CallerGone):
        g.get(timeout=0.5)
    assert conn.closed


def test_close_is_immediate_and_fails_waits(make_conn):
    conn, fs = start_connected(make_conn)
    g = gevent.spawn(conn.command, "myevents")
    fs.read_command()
    t0 = time.perf_counter()
    conn.close()
    assert time.perf_counter() - t0 < 0.05
    assert conn._reader.dead and conn.closed
    with pytest.raises(CallerGone):
        g.get(timeout=0.5)
    assert fs.sock.recv(10) == b""  # FreeSWITCH sees the socket closed
    conn.close()  # idempotent


# -------------------------------------------------- fault 4: Event-UUID, timeouts, FIFO


def test_sendmsg_format_and_uuid_matching_not_app_name(make_conn):
    conn, fs = start_connected(make_conn)
    uuids = []
    for arg in ("one.wav", "two.wav"):
        g = gevent.spawn(conn.execute_async, "playback", arg)
        cmd = fs.read_command().decode()
        fs.write(OK)
        uuids.append(g.get(timeout=1))
        assert cmd == ("sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
                       f"execute-app-arg: {arg}\nevent-lock: true\nEvent-UUID: {uuids[-1]}\n\n")
    assert uuids[0] != uuids[1]
    first, second = uuids
    waiter = gevent.spawn(conn.wait_complete, first, 2)
    gevent.sleep(0)
    # an unrelated playback (same app name, e.g. from the dialplan), then second, then first
    fs.write(complete_frame("playback", "00000000-1111-2222-3333-444444444444", "other.wav")
             + complete_frame("playback", second, "two.wav")
             + complete_frame("playback", first, "one.wav"))
    assert waiter.get(timeout=1).get("Application-Data") == "one.wav"
    assert conn.wait_complete(second, 0.1).get("Application-Data") == "two.wav"
    with pytest.raises(ValueError):   # consumed, and unknown uuids are not waited for
        conn.wait_complete(second, 0.1)
    with pytest.raises(ValueError):
        conn.wait_complete("00000000-1111-2222-3333-444444444444", 0.1)


def test_execute_without_arg(make_conn):
    conn, fs = start_connected(make_conn)
    g = gevent.spawn(conn.execute, "answer", timeout=1)
    cmd = fs.read_command().decode()
    app_uuid = cmd.rsplit("Event-UUID: ", 1)[1].strip()
    assert cmd == ("sendmsg\ncall-command: execute\nexecute-app-name: answer\n"
                   f"event-lock: true\nEvent-UUID: {app_uuid}\n\n")
    fs.write(OK + complete_frame("answer", app_uuid, **{"Application-Response": "_none_"}))
    assert g.get(timeout=1).get("Application-Response") == "_none_"


def test_timeouts_raise_command_timeout_and_keep_replies_aligned(make_conn):
    conn, fs = start_connected(make_conn)
    t0 = time.perf_counter()
    with pytest.raises(CommandTimeout):
        conn.command("myevents", timeout=0.05)
    assert time.perf_counter() - t0 < 0.5
    assert fs.read_command() == b"myevents\n\n"
    # the late reply to myevents must not be taken as linger's reply
    g = gevent.spawn(conn.command, "linger 5")
    assert fs.read_command() == b"linger 5\n\n"
    fs.write(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n"
             b"Content-Type: command/reply\nReply-Text: +OK will linger 5 seconds\n\n")
    assert g.get(timeout=1).get("Reply-Text") == "+OK will linger 5 seconds"
    # completion never comes
    app = gevent.spawn(conn.execute_async, "playback", "x.wav")
    fs.read_command()
    fs.write(OK)
    with pytest.raises(CommandTimeout):
        conn.wait_complete(app.get(timeout=1), 0.05)
    with pytest.raises(CommandTimeout):
        conn.wait_event(lambda m: m.name == "CHANNEL_ANSWER", 0.05)
    # default command_timeout applies when none is given
    conn.command_timeout = 0.05
    with pytest.raises(CommandTimeout):
        conn.api("uuid_exists x")
    assert not conn.closed


def test_events_between_command_and_reply(make_conn):
    """Transcript 01: CHANNEL_PARK arrives before the first sendmsg's +OK."""
    conn, fs = start_connected(make_conn)
    g = gevent.spawn(conn.execute_async, "answer")
    fs.read_command()
    fs.write(event_frame([("Event-Name", "CHANNEL_PARK")]) + OK)
    assert len(g.get(timeout=1)) == 36
    assert conn.wait_event(lambda m: m.name == "CHANNEL_PARK", 0.1).name == "CHANNEL_PARK"


@pytest.mark.parametrize("call", [
    lambda c: c.execute_async("playback", "a.wav\nexecute-app-name: hangup"),
    lambda c: c.execute_async("playback", "a.wav\r"),
    lambda c: c.execute_async("play\nback", "a.wav"),
    lambda c: c.execute_async("playback", "a\0.wav"),
    lambda c: c.command("linger\n\nsendmsg"),
    lambda c: c.api("uuid_kill x\r\n"),
    lambda c: c.send("sendmsg\ncall-command: execute\n\nexit"),
    lambda c: c.send("sendmsg\ncall-command: execute\r\nexecute-app-name: hangup"),
])
def test_crlf_in_a_field_is_refused_before_sending(make_conn, call):
    conn, fs = start_connected(make_conn)
    with pytest.raises(ValueError):
        call(conn)
    assert fs.nothing_received()
    g = gevent.spawn(conn.command, "myevents")  # the stream is intact
    assert fs.read_command() == b"myevents\n\n"
    fs.write(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    assert g.get(timeout=1).get("Reply-Text") == "+OK Events Enabled"


# --------------------------------------------------------- hang-up and post-hangup use


def test_hangup_fails_waits_but_record_completion_still_arrives(make_conn):
    """Transcript 04: CHANNEL_HANGUP, then RECORD_STOP, then EXECUTE_COMPLETE record."""
    blocks = load_raw("04-voicemail-record-caller-hangup.raw")
    conn, fs = make_conn(cls=ScriptedUUIDs)
    script = iter(blocks)

    def fs_until(pred):
        """Play the transcript until the block for which pred(bytes) is true (excluded)."""
        for direction, data in script:
            if direction == ">>>":
                assert fs.read_command() == data
            elif pred(data):
                return data
            else:
                fs.write(data)
        return None

    def is_(name):
        return lambda d: f"\n\nEvent-Name: {name}\n".encode() in d

    fs_g = gevent.spawn(fs_until, is_("CHANNEL_HANGUP"))
    conn.connect()
    for cmd in ("myevents", "linger 5", "event plain RECORD_START RECORD_STOP PLAYBACK_START PLAYBACK_STOP"):
        conn.command(cmd)
    uuids = [re.search(rb"Event-UUID: (\S+)", d).group(1).decode()
             for direction, d in blocks if direction == ">>>" and d.startswith(b"sendmsg")]
    conn.next_uuids.extend(uuids)
    conn.execute("answer", timeout=1)
    conn.execute("playback", "tone_stream://%(300,0,1000)", timeout=1)
    record = conn.execute_async("record", "/var/vm-44e62d96-490d-4f46-85b6-a1fdc9c87904.wav 10 200 3")
    step = gevent.spawn(conn.wait_complete, record, 5)  # the voicemail step, waiting
    hangup_frame = fs_g.get(timeout=2)                   # FS stopped just before CHANNEL_HANGUP
    gevent.sleep(0.01)
    assert not step.ready()
    fs.write(hangup_frame)
    with pytest.raises(CallerGone):
        step.get(timeout=0.5)                            # at once, before RECORD_STOP
    assert conn.hungup and conn.hangup_cause == "NORMAL_CLEARING" and not conn.closed
    with pytest.raises(CallerGone):
        conn.execute_async("playback", "bye.wav")
    with pytest.raises(CallerGone):
        conn.wait_event(lambda m: m.name == "RECORD_STOP", 1)
    # cleanup (in `finally`): the completion after RECORD_STOP still arrives while lingering
    rest = gevent.spawn(fs_until, lambda d: False)
    done = conn.wait_complete(record, 2, after_hangup=True)
    assert done.get("Application") == "record" and done.get("Application-UUID") == record
    assert done.get("variable_record_ms") == "2480"
    stop = conn.wait_event(lambda m: m.name == "RECORD_STOP", 1, after_hangup=True)
    assert stop.get("Record-File-Path") == "/var/vm-44e62d96-490d-4f46-85b6-a1fdc9c87904.wav"
    rest.get(timeout=2)
    fs.close()
    wait_until(lambda: conn.closed)
    # stored completions/events stay readable after close; nothing new is waited for
    with pytest.raises(CallerGone):
        conn.wait_event(lambda m: m.name == "NO_SUCH", 1, after_hangup=True)


def test_commands_still_work_while_lingering(make_conn):
    conn, fs = start_connected(make_conn)
    fs.write(event_frame([("Event-Name", "CHANNEL_HANGUP"),
                          ("Unique-ID", "f181dc99-115f-4c34-b546-38f307a0521f"),
                          ("Hangup-Cause", "NORMAL_CLEARING")])
             + b"Content-Type: text/disconnect-notice\nContent-Disposition: linger\n"
               b"Linger-Time: 5\nContent-Length: 0\n\n")
    wait_until(lambda: conn.lingering)
    g = gevent.spawn(conn.api, "uuid_exists f181dc99-115f-4c34-b546-38f307a0521f")
    fs.read_command()
    fs.write(b"Content-Type: api/response\nContent-Length: 5\n\nfalse")
    assert g.get(timeout=1) == "false"
    assert conn.hangup_cause == "NORMAL_CLEARING" and not conn.closed


def test_linger_notice_alone_means_hung_up(make_conn):
    conn, fs = start_connected(make_conn)
    g = gevent.spawn(conn.wait_event, lambda m: False, 5)
    gevent.sleep(0)
    fs.write(b"Content-Type: text/disconnect-notice\nContent-Disposition: linger\n"
             b"Linger-Time: 5\nContent-Length: 0\n\n")
    with pytest.raises(CallerGone):
        g.get(timeout=0.5)
    assert conn.hungup and conn.hangup_cause == "UNKNOWN" and conn.lingering and not conn.closed


def test_hangup_of_another_channel_is_not_ours(make_conn):
    conn, fs = start_connected(make_conn)
    fs.write(event_frame([("Event-Name", "CHANNEL_HANGUP"), ("Unique-ID", "someone-else"),
                          ("Hangup-Cause", "NORMAL_CLEARING")]))
    conn.wait_event(lambda m: m.name == "CHANNEL_HANGUP", 1)
    assert not conn.hungup


def test_recent_events_are_bounded(make_conn):
    conn, fs = start_connected(make_conn, recent_events=4)
    fs.write(b"".join(event_frame([("Event-Name", "CUSTOM"), ("N", str(i))]) for i in range(50)))
    wait_until(lambda: len(conn._recent) == 4 and conn._recent[-1].get("N") == "49")
    assert [m.get("N") for m in conn._recent] == ["46", "47", "48", "49"]


def test_callback_errors_are_logged_not_raised(make_conn, caplog):
    conn, fs = start_connected(make_conn)
    seen = []

    def bad(msg):
        raise RuntimeError("boom")

    import functools
    conn.on_event(functools.partial(bad))   # greenswitch's own wrapper chokes on partials
    remove = conn.on_event(seen.append)
    fs.write(event_frame([("Event-Name", "CHANNEL_ANSWER")])
             + event_frame([("Event-Name", "CHANNEL_BRIDGE")]))
    wait_until(lambda: len(seen) == 2)
    assert [m.name for m in seen] == ["CHANNEL_ANSWER", "CHANNEL_BRIDGE"]
    assert "boom" in caplog.text and not conn.closed
    remove()
    fs.write(event_frame([("Event-Name", "CHANNEL_UNBRIDGE")]))
    conn.wait_event(lambda m: m.name == "CHANNEL_UNBRIDGE", 1)
    assert len(seen) == 2


def test_callbacks_cannot_deadlock_and_may_close(make_conn, caplog):
    conn, fs = start_connected(make_conn)
    conn.on_event(lambda m: conn.command("myevents"))        # would wait on its own reader
    conn.on_event(lambda m: conn.close() if m.name == "CHANNEL_HANGUP" else None)
    fs.write(event_frame([("Event-Name", "CHANNEL_ANSWER")]))
    wait_until(lambda: "cannot send on the connection from its own event callback" in caplog.text)
    assert fs.nothing_received() and not conn.closed
    fs.write(event_frame([("Event-Name", "CHANNEL_HANGUP"), ("Hangup-Cause", "NORMAL_CLEARING"),
                          ("Unique-ID", "f181dc99-115f-4c34-b546-38f307a0521f")]))
    wait_until(lambda: conn.closed and conn._reader.dead)
    assert fs.sock.recv(10) == b""


def test_waits_require_a_timeout(make_conn):
    conn, fs = start_connected(make_conn)
    with pytest.raises(TypeError):
        conn.wait_event(lambda m: True, None)


# ------------------------------------------------------------------ malformed frames


_ANSWER = event_frame([("Event-Name", "CHANNEL_ANSWER")])
MALFORMED = {
    "non-integer Content-Length": b"Content-Length: 12x\nContent-Type: text/event-plain\n\n",
    "negative Content-Length": b"Content-Length: -5\nContent-Type: api/response\n\n",
    "huge Content-Length": b"Content-Length: 99999999999\nContent-Type: api/response\n\n",
    "non-UTF-8 header": b"Content-Type: command/reply\nReply-Text: +OK \xff\xfe\n\n",
    "header line without colon": b"Content-Type: command/reply\nReply-Text +OK\n\n",
    "no Content-Type": b"Reply-Text: +OK\n\n",
    "non-UTF-8 event body": _ANSWER.replace(b"CHANNEL_ANSWER", b"CHANNEL_\xffNSWER"),
    "event line without colon": _ANSWER.replace(b"Event-Name: ", b"Event-Name__"),
}


@pytest.mark.parametrize("frame", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_frame_closes_only_its_connection(make_conn, frame):
    bad, bad_fs = start_connected(make_conn)
    good, good_fs = start_connected(make_conn)
    g_bad = gevent.spawn(bad.command, "myevents")
    g_good = gevent.spawn(good.command, "myevents")
    bad_fs.read_command()
    good_fs.read_command()
    bad_fs.write(frame)
    with pytest.raises(ProtocolError):
        g_bad.get(timeout=1)
    assert bad.closed and bad._reader.dead
    assert bad_fs.sock.recv(10) == b""        # its socket was closed
    with pytest.raises(ProtocolError):
        bad.command("linger")
    # the other call goes on untouched
    good_fs.write(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    assert g_good.get(timeout=1).get("Reply-Text") == "+OK Events Enabled"
    g = gevent.spawn(good.execute, "answer", timeout=1)
    cmd = good_fs.read_command().decode()
    good_fs.write(OK + complete_frame("answer", cmd.rsplit("Event-UUID: ", 1)[1].strip()))
    assert g.get(timeout=1).get("Application") == "answer"
    assert not good.closed


def test_unsolicited_reply_is_ignored(make_conn, caplog):
    conn, fs = start_connected(make_conn)
    fs.write(OK)
    wait_until(lambda: "unsolicited command/reply" in caplog.text)
    g = gevent.spawn(conn.command, "myevents")
    fs.read_command()
    fs.write(b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n")
    assert g.get(timeout=1).get("Reply-Text") == "+OK Events Enabled"


def test_session_setup_is_one_write_and_replies_stay_in_order(make_conn):
    """connect + myevents + linger leave in one write (mod_event_socket reads one command
    at a time, so they are still answered in order); a refused one raises."""
    conn, fs = make_conn()
    reply = next(b for d, b in load_raw("01-answer-playback.raw") if d == "<<<")
    g = gevent.spawn(conn.connect, then=("myevents", "linger 30"))
    with gevent.Timeout(2):
        while fs.buf.count(b"\n\n") < 3:
            fs.buf += fs.sock.recv(65536)
    assert fs.buf == b"connect\n\nmyevents\n\nlinger 30\n\n"
    fs.write(reply + b"Content-Type: command/reply\nReply-Text: +OK Events Enabled\n\n"
             + b"Content-Type: command/reply\nReply-Text: +OK will linger 30 seconds\n\n")
    assert g.get(timeout=1).get("Caller-Caller-ID-Number") == "+5511999990001"

    conn2, fs2 = make_conn()
    g2 = gevent.spawn(conn2.connect, then=("linger 30",))
    fs2.read_command(), fs2.read_command()
    fs2.write(reply + b"Content-Type: command/reply\nReply-Text: -ERR not controlling a session\n\n")
    with pytest.raises(CommandRejected):
        g2.get(timeout=1)
