"""``AsteriskCall``: the switch seam (``engine.switch.SwitchCall``) for Asterisk, over one
FastAGI connection (``engine.agi``). Behaviour cites tests/data/agi-transcripts.

Identity (``start``): the ``agi_*`` block. ``uuid`` is a fresh uuid4 minted per call (the
runner only accepts canonical UUIDs; Asterisk's ``agi_uniqueid`` is ``1796196821.77``),
and ``switch_id`` is ``agi_uniqueid`` once checked to be ``[0-9.]`` only, after an
optional ``<systemname>-`` of ``[A-Za-z0-9_-]`` (asterisk.conf's systemname) (else
``ProtocolError``: the runner closes, and the dialplan's fallback runs, transcript 12).
``called`` is ``agi_extension`` (01), or ``agi_dnid`` when the extension is ``s``/empty.
``caller`` is ``agi_callerid``: ``unknown`` is a placeholder for none (09c, pres 67) and
gives None; a restricted presentation (``agi_callingpres & 0x60 == 0x20``, 09b: 33) gives
``anonymous`` and no name. Raw values, never decoded (09).

Commands: ``ANSWER`` only from ``answer()``, which steps call before media; a forward is
never answered by us (Dial answers our channel when the callee does, 02). ``play`` is
``STREAM FILE <path without extension> ""`` (01: ``lab/welcome`` for ``welcome.wav``);
``-1`` is a missing file unless ``HANGUP`` follows (13). ``record_message`` is ``RECORD
FILE <path without extension> wav "#" <ms> s=<silence seconds>`` (07, 07b, 07c);
``hangup`` is ``EXEC Hangup <Q.850 code>`` (08, 08c: AGI's own ``HANGUP`` sets no cause,
08b). ``close`` closes the socket at once: Asterisk tears the call down only then (08).

``hangup_cause``: the cause we hung up with, else, once the caller is gone, the name of
``HANGUPCAUSE`` (read once, on the dead channel, 05/13), else None.
"""
from __future__ import annotations

import logging
import re
import time
import uuid as uuidlib

from engine.agi.framing import Reply
from engine.asterisk import dial as dial_module
from engine.asterisk.causes import cause_code, cause_name
from engine.asterisk.dialstring import DialTemplates
from engine.switch import DialResult, PlayResult, RecordResult
from rules.errors import CallError, CallerGone, ProtocolError
from rules.plan import ANONYMOUS, ForwardAttempt

__all__ = ["AsteriskCall"]

_log = logging.getLogger("callflow.runner")

# Asterisk's uniqueid: <epoch>.<sequence>, prefixed with "<systemname>-" when
# asterisk.conf sets systemname (seen on 22.10.1: "pbx1-1796354094.1"; docs/asterisk.md).
_SWITCH_ID = re.compile(r"(?:[A-Za-z0-9][A-Za-z0-9_-]{0,39}-)?[0-9][0-9.]{0,63}", re.ASCII)
# Extensions Asterisk puts in agi_extension when the number is elsewhere.
_NO_EXTENSION = {"", "s"}
_PLACEHOLDER = "unknown"        # 09c: agi_callerid/agi_calleridname without a caller ID
# Sound file extensions Asterisk adds itself (it wants the name without one: 01, 07).
_MEDIA_SUFFIXES = (".wav", ".WAV", ".gsm", ".ulaw", ".alaw", ".sln", ".g722", ".g729")
BEEP = "beep"                   # Asterisk's core sound (RECORD FILE's BEEP plays it, 07)
SAMPLE_RATE = 8000              # endpos is in 8 kHz samples (01: 2 s -> 16000)
HANGUP_GRACE_SECONDS = dial_module.HANGUP_GRACE_SECONDS
# A reply after our own EXEC Hangup: -1, then HANGUP (08).
CAUSE_READ_SECONDS = 1.0


def strip_media_suffix(path: str) -> str:
    for suffix in _MEDIA_SUFFIXES:
        if path.endswith(suffix):
            return path[:-len(suffix)]
    return path


class AsteriskCall:
    def __init__(self, conn, *, templates: DialTemplates, command_timeout: float,
                 max_call_seconds: float, max_message_seconds: float = 300.0):
        self.conn = conn
        self.log = _log          # the runner binds the call's logger once the uuid is known
        self.templates = templates
        self.command_timeout = command_timeout
        self.max_call_seconds = max_call_seconds
        self.max_message_seconds = max_message_seconds
        self.env: dict[str, str] = {}
        self.uuid = ""
        self.switch_id = ""
        self.called = ""
        self.caller: str | None = None
        self.caller_name: str | None = None
        self.answered = False
        self.accepted_at = time.monotonic()
        self.first_command_at: float | None = None
        self.caller_left = False     # a reply said so, before (or without) HANGUP
        self._our_cause: str | None = None
        self._read_cause: str | None = None
        self._cause_read = False

    # -- identity -------------------------------------------------------------------
    def start(self) -> None:
        env = self.conn.read_environment(self.command_timeout)
        switch_id = env.get("uniqueid", "")
        if not _SWITCH_ID.fullmatch(switch_id):
            raise ProtocolError(f"agi_uniqueid is not [systemname-][0-9.]: {switch_id[:80]!r}")
        self.env, self.switch_id = env, switch_id
        self.uuid = str(uuidlib.uuid4())
        extension = env.get("extension", "")
        dnid = env.get("dnid", "")
        self.called = dnid if extension in _NO_EXTENSION and dnid != _PLACEHOLDER else extension
        self.caller, self.caller_name = _caller(env)

    @property
    def gone(self) -> bool:
        return self.caller_left or self.conn.hungup or self.conn.closed

    @property
    def hangup_cause(self) -> str | None:
        if self._our_cause is not None:
            return self._our_cause
        if not self.gone:
            return None
        if not self._cause_read:
            self._cause_read = True
            if not self.conn.closed:
                try:
                    self._read_cause = cause_name(self.get_variable(
                        "HANGUPCAUSE", after_hangup=True, timeout=CAUSE_READ_SECONDS))
                except CallError:
                    pass
        return self._read_cause

    # -- commands -------------------------------------------------------------------
    def command(self, words: str, *args: str, timeout: float | None = None,
                quote: tuple[bool, ...] = (), after_hangup: bool = False,
                hangup_grace: float | None = None) -> Reply:
        if self.first_command_at is None:
            self.first_command_at = time.monotonic()
            self.log.info("asterisk call", fields={"switch_id": self.switch_id,
                                                   "channel": self.env.get("channel")})
        self.log.debug("agi %s %s", words, " ".join(args))
        return self.conn.command(words, *args, timeout=timeout or self.command_timeout,
                                 quote=quote, after_hangup=after_hangup,
                                 hangup_grace=hangup_grace)

    def exec_app(self, app: str, arg: str | None = None, *, timeout: float | None = None,
                 after_hangup: bool = False, quote: bool = True) -> Reply:
        """``EXEC App "arg"``: the whole argument quoted as one token (README: ``EXEC``
        passes only one; 02, 06 as captured). ``-2``: no such application (13)."""
        if arg is None:
            reply = self.command("EXEC", app, timeout=timeout, after_hangup=after_hangup)
        else:
            reply = self.command("EXEC", app, arg, timeout=timeout, quote=(False, quote),
                                 after_hangup=after_hangup)
        if reply.code != 200 or reply.result == -2:
            raise ProtocolError(f"EXEC {app} refused: {reply.text[:80]!r}")
        return reply

    def get_variable(self, name: str, *, after_hangup: bool = False,
                     timeout: float | None = None) -> str | None:
        """The value, or None when unset (``200 result=0``, README)."""
        reply = self.command("GET VARIABLE", name, after_hangup=after_hangup, timeout=timeout)
        if reply.code != 200:
            raise ProtocolError(f"GET VARIABLE {name}: {reply.text[:80]!r}")
        return reply.data if reply.result == 1 else None

    def answer(self) -> None:
        if not self.answered:
            # Up to 500 ms: Asterisk waits for the caller's first frame (01).
            self.command("ANSWER", timeout=self.command_timeout + 1.0)
            self.answered = True
            self.log.info("answered")

    def play(self, path: str, seconds: float | None = None) -> PlayResult:
        length = self.max_message_seconds if seconds is None else seconds
        reply = self.command("STREAM FILE", strip_media_suffix(path), "",
                             timeout=length + self.command_timeout + 1.0,
                             hangup_grace=HANGUP_GRACE_SECONDS)
        if reply.code != 200:
            return PlayResult(False, reply.text)
        if reply.result == -1:                       # and no HANGUP followed (13)
            return PlayResult(False, "STREAM FILE failed (file missing?)")
        return PlayResult(True, f"endpos={reply.endpos}")

    def beep(self) -> None:
        self.command("STREAM FILE", BEEP, "", timeout=self.command_timeout + 2.0,
                     hangup_grace=HANGUP_GRACE_SECONDS)

    def dial(self, attempt: ForwardAttempt, record_path: str | None = None) -> DialResult:
        return dial_module.dial(self, attempt, record_path)

    def record_message(self, path: str, max_seconds: int, silence_threshold: int,
                       silence_hits: int) -> RecordResult:
        """RECORD FILE; the file is kept and valid when the caller hangs up (07:
        ``200 result=-1 (hangup) endpos=17920`` and a 2.24 s WAV). ``silence_hits`` is
        the seconds of silence (``s=``, 07); ``silence_threshold`` has no AGI argument:
        Asterisk uses dsp.conf's ``silencethreshold``. A silent caller that sends no
        frames at all is cut only by ``max_seconds`` (07c)."""
        if self.gone:
            raise CallerGone("record: caller already gone")
        args = [strip_media_suffix(path), "wav", "#", str(int(max_seconds) * 1000)]
        if silence_hits > 0:
            args.append(f"s={int(silence_hits)}")
        try:
            reply = self.command("RECORD FILE", *args, quote=(False, False, True),
                                 timeout=max_seconds + self.command_timeout + 5.0)
        except CallerGone:
            self.log.info("connection lost during voicemail; using the file as it is")
            return RecordResult(caller_hung_up=True)
        hung_up = False
        if reply.result == -1:
            # 07: "(hangup)", then HANGUP 39 ms later; wait for it so that `gone` is true
            # before the runner decides what comes next (no HANGUP with AGISIGHUP=no).
            hung_up = self.conn.wait_hangup(HANGUP_GRACE_SECONDS) or reply.data == "hangup"
            self.caller_left = self.caller_left or hung_up
        if reply.code != 200 or (reply.result == -1 and not hung_up):
            self.log.warning("RECORD FILE failed", fields={"reply": reply.text[:80]})
        seconds = (reply.endpos / SAMPLE_RATE
                   if reply.endpos is not None and reply.endpos > 0 else None)
        return RecordResult(caller_hung_up=hung_up, switch_seconds=seconds)

    def hangup(self, cause: str) -> None:
        if self.gone:
            return
        code = cause_code(cause)
        self.log.info("hanging up", fields={"cause": cause, "q850": code})
        self._our_cause = cause
        try:
            self.exec_app("Hangup", str(code), quote=False)   # -1, then HANGUP (08)
        except CallerGone:
            pass

    def close(self) -> None:
        self.conn.close()


def _caller(env: dict[str, str]) -> tuple[str | None, str | None]:
    number = env.get("callerid", "")
    name = env.get("calleridname", "") or None
    pres = env.get("callingpres", "0")
    pres_bits = int(pres) & 0x60 if pres.isascii() and pres.isdigit() else 0
    if pres_bits == 0x20:                            # restricted (09b: 33)
        return ANONYMOUS, None
    if not number or number.lower() == _PLACEHOLDER or pres_bits == 0x40:  # 09c: 67
        return None, None if name is None or name.lower() == _PLACEHOLDER else name
    return number, name
