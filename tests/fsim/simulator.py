"""The FreeSWITCH simulator's public entry point.

    sim = Simulator(port=engine_port, time_scale=0.01,
                    targets={"+5511999990000": Target.answers(after=3, talk=10)})
    result = sim.place_call(destination_number="+551140040000", caller_id_number="+5511999990001")
    assert result.answered and result.bridges[0].outcome == "SUCCESS"

``place_call`` dials the engine as FreeSWITCH's ``socket 127.0.0.1:<port> async full`` app
does, serves the engine's commands until the connection closes, and returns a CallResult.
"""
from __future__ import annotations

import itertools
import socket
import threading
import uuid as uuidlib

from .channel import Call, CallResult

__all__ = ["Simulator", "CallHandle"]


class CallHandle:
    """A call running in its own thread (``Simulator.place_call_async``)."""

    def __init__(self, call: Call | None, thread: threading.Thread | None, error=None):
        self._call = call
        self._thread = thread
        self._result: CallResult | None = None
        self._error = error

    @property
    def uuid(self) -> str | None:
        return self._call.uuid if self._call else None

    @property
    def call(self) -> Call | None:
        """The live Call (for peeking at state in tests)."""
        return self._call

    def done(self) -> bool:
        return self._thread is None or not self._thread.is_alive()

    def hangup(self, cause: str = "NORMAL_CLEARING"):
        """The caller hangs up now (like ``uuid_kill`` on the loopback A-leg, transcripts 04/05)."""
        if self._call:
            self._call.kill(cause)

    def send_raw(self, data: bytes) -> bool:
        """Write arbitrary bytes to the engine on this call's socket."""
        return bool(self._call and self._call.send_raw(data))

    def emit_event(self, name: str, pre=(), post=(), with_vars=True) -> None:
        """Send a hand-crafted event built from the channel's current state (always sent,
        whatever the subscription)."""
        from .wire import event_plain_frame
        self._call.send_raw(event_plain_frame(self._call.build_event(name, pre, post, with_vars)))

    def result(self, timeout: float | None = 30.0) -> CallResult:
        """Block until the connection is closed; on timeout close it and mark ``timed_out``."""
        if self._error is not None:
            raise self._error
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                self._call.result.timed_out = True
                self._call.kill("NORMAL_CLEARING")
                self._call._close()
                self._thread.join(5)
        return self._result if self._result is not None else self._call.result


class Simulator:
    """FreeSWITCH from the engine's side of the outbound event socket.

    Arguments:
      host, port: where the engine listens (``callflow serve``); per-call override possible.
      time_scale: real seconds per sim second (0.01: a 20 s ring takes 0.2 s).
      targets: {endpoint string or its last ``/`` component: Target} for bridges.
      connect_timeout: seconds to wait for the TCP connection.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, time_scale: float = 0.01,
                 targets: dict | None = None, connect_timeout: float = 5.0):
        self.host = host
        self.port = port
        self.time_scale = float(time_scale)
        self.targets = dict(targets or {})
        self.connect_timeout = connect_timeout
        self.core_uuid = str(uuidlib.uuid4())
        self._seq = itertools.count(1000)
        self._sid = itertools.count(1)
        self._lock = threading.Lock()
        self.calls: list[Call] = []

    def next_sequence(self) -> int:
        with self._lock:
            return next(self._seq)

    def next_session_id(self) -> int:
        with self._lock:
            return next(self._sid)

    def open_raw(self, host: str | None = None, port: int | None = None,
                 timeout: float | None = 5.0) -> socket.socket:
        """A plain TCP connection to the engine, for fully hand-driven tests."""
        s = socket.create_connection((host or self.host, port or self.port), timeout=self.connect_timeout)
        s.settimeout(timeout)
        return s

    def _make_call(self, *, host=None, port=None, destination_number="5000",
                   caller_id_number="+5511999990001", caller_id_name="Caller", variables=None,
                   uuid=None, caller_hangup_after=None, caller_hangup_during=None,
                   caller_speaks=3.0, targets=None, inject=None, channel_name=None) -> Call:
        host = host or self.host
        port = port or self.port
        if port is None:
            raise ValueError("no engine port given")
        sock = socket.create_connection((host, port), timeout=self.connect_timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(inject, dict):
            inject = [(k, b) for k, bs in inject.items() for b in (bs if isinstance(bs, list) else [bs])]
        call = Call(self, sock, destination_number=destination_number,
                    caller_id_number=caller_id_number, caller_id_name=caller_id_name,
                    variables=variables, uuid=uuid, caller_hangup_after=caller_hangup_after,
                    caller_hangup_during=caller_hangup_during, caller_speaks=caller_speaks,
                    targets=targets, inject=inject, socket_arg=f"{host}:{port} async full",
                    channel_name=channel_name)
        with self._lock:
            self.calls.append(call)
        return call

    def place_call(self, timeout: float = 30.0, **kw) -> CallResult:
        """Place one call and block until its connection closes (or ``timeout`` real seconds).

        Keyword arguments:
          destination_number (Caller-Destination-Number), caller_id_number (sent URL-encoded,
          e.g. %2B5511999990001), caller_id_name, variables (extra channel variables),
          uuid (default: fresh), caller_hangup_after (sim s after connect),
          caller_hangup_during=(app, sim s after that app starts) with app in
          playback|bridge|record|..., caller_speaks (sim s of speech during ``record``, default 3),
          targets (per-call additions to the simulator's targets), inject (list of
          (after_command_name | "on_connect", raw bytes) sent after that command's reply),
          host, port, channel_name.
        """
        return self.place_call_async(**kw).result(timeout)

    def place_call_async(self, **kw) -> CallHandle:
        """Like place_call but returns a CallHandle at once (one thread per call)."""
        call = self._make_call(**kw)
        handle = CallHandle(call, None)

        def runner():
            handle._result = call.run()
        t = threading.Thread(target=runner, name=f"fsim-call-{call.uuid[:8]}", daemon=True)
        handle._thread = t
        t.start()
        return handle
