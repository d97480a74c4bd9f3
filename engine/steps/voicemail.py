"""Step: take a voicemail and hand it over for e-mail.

Answers, plays the greeting (if any) and a beep, then ``record``s up to max_seconds,
stopping on silence, into ``voicemail/{yyyy}/{mm}/{dd}/{uuid}.wav``. The recording is
handed over even when the caller hangs up mid-message: FreeSWITCH closes the file and
sends ``RECORD_STOP`` and then the record's ``EXECUTE_COMPLETE`` after
``CHANNEL_HANGUP`` (transcript 04, complete and valid WAV), which the lingering socket
still delivers. Messages shorter than min_seconds are dropped and logged.
"""
from __future__ import annotations

import wave

from engine import metrics
from engine.outcomes import Outcome
from engine.voicemail_handoff import VoicemailMessage
from rules.errors import CallerGone, CallError
from rules.plan import VoicemailPlan

BEEP = "tone_stream://%(500,0,800)"
# Time FreeSWITCH gets to finish a recording after the caller hung up (transcript 04:
# the completion arrives within milliseconds of CHANNEL_HANGUP).
FINISH_GRACE_SECONDS = 5.0


def _wav_seconds(path: str) -> float | None:
    try:
        with wave.open(path, "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (OSError, EOFError, wave.Error):
        return None


def run(ctx, vm: VoicemailPlan) -> Outcome:
    call, log = ctx.call, ctx.log
    call.answer()
    if vm.greeting:
        call.playback(ctx.media_path(vm.greeting))
    call.playback(BEEP)
    path = str(ctx.dated_path(ctx.services.voicemail_dir))
    log.info("recording voicemail", fields={"path": path, "max_seconds": vm.max_seconds})
    app_uuid = call.record_start(path, vm.max_seconds, ctx.services.silence_threshold,
                                 ctx.services.silence_hits)
    complete = None
    try:
        complete = call.record_wait(app_uuid, vm.max_seconds + call.command_timeout + 5)
    except CallerGone:
        log.info("caller hung up during voicemail; finishing the recording")
        try:
            complete = call.record_wait(app_uuid, FINISH_GRACE_SECONDS, after_hangup=True)
        except CallError:
            log.warning("no record completion after hangup; using the file as it is")
        return _hand_over(ctx, vm, path, complete)
    return _hand_over(ctx, vm, path, complete)


def _hand_over(ctx, vm: VoicemailPlan, path: str, complete) -> Outcome:
    log = ctx.log
    seconds = _wav_seconds(path)
    if seconds is None and complete is not None:
        ms = complete.get("variable_record_ms")
        seconds = int(ms) / 1000.0 if ms and ms.isdigit() else None
    if seconds is None:
        log.error("voicemail file missing or unreadable", fields={"path": path})
        metrics.VOICEMAILS.labels("lost").inc()
        return Outcome.VOICEMAIL_EMPTY
    if seconds < vm.min_seconds:
        log.info("voicemail too short; dropped",
                 fields={"path": path, "seconds": round(seconds, 2), "min_seconds": vm.min_seconds})
        metrics.VOICEMAILS.labels("too_short").inc()
        return Outcome.VOICEMAIL_EMPTY
    plan = ctx.plan
    message = VoicemailMessage(
        uuid=ctx.record.uuid, number=plan.number, caller=plan.caller,
        caller_name=ctx.call.caller_name, email=vm.email, path=path,
        seconds=round(seconds, 2), local_time=plan.local_time.isoformat())
    ctx.services.voicemail_sink.submit(message)
    ctx.record.voicemail = path
    metrics.VOICEMAILS.labels("handed_over").inc()
    log.info("voicemail handed over", fields={"path": path, "seconds": round(seconds, 2),
                                              "email": list(vm.email)})
    return Outcome.VOICEMAIL
