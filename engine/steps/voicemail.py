"""Step: take a voicemail and hand it over for e-mail.

Answers, plays the greeting (if any) and a beep, then records up to max_seconds,
stopping on silence, into ``voicemail/{yyyy}/{mm}/{dd}/{uuid}.wav``. The recording is
handed over even when the caller hangs up mid-message (``SwitchCall.record_message``
finishes the file and reports the hang-up; on FreeSWITCH transcript 04 shows a complete,
valid WAV). The file is the truth for its length; the switch's figure is the fallback.
Messages shorter than min_seconds are dropped and logged.
"""
from __future__ import annotations

import wave

from engine import metrics
from engine.media import audio_seconds
from engine.outcomes import Outcome, StepResult
from engine.voicemail_handoff import VoicemailMessage
from rules.plan import VoicemailPlan


def _wav_seconds(path: str) -> float | None:
    try:
        with wave.open(path, "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (OSError, EOFError, wave.Error):
        return None


def run(ctx, vm: VoicemailPlan) -> StepResult:
    call, log = ctx.call, ctx.log
    call.answer()
    if vm.greeting:
        greeting = ctx.media_path(vm.greeting)
        call.play(greeting, audio_seconds(greeting))
    call.beep()
    path = str(ctx.dated_path(ctx.services.voicemail_dir))
    log.info("recording voicemail", fields={"path": path, "max_seconds": vm.max_seconds})
    recorded = call.record_message(path, vm.max_seconds, ctx.services.silence_threshold,
                                   ctx.services.silence_hits)
    return _hand_over(ctx, vm, path, recorded.switch_seconds)


def _hand_over(ctx, vm: VoicemailPlan, path: str, switch_seconds: float | None) -> StepResult:
    log = ctx.log
    seconds = _wav_seconds(path)
    if seconds is None:
        seconds = switch_seconds
    if seconds is None:
        log.error("voicemail file missing or unreadable", fields={"path": path})
        metrics.VOICEMAILS.labels("lost").inc()
        return StepResult(Outcome.VOICEMAIL_EMPTY)
    if seconds < vm.min_seconds:
        log.info("voicemail too short; dropped",
                 fields={"path": path, "seconds": round(seconds, 2), "min_seconds": vm.min_seconds})
        metrics.VOICEMAILS.labels("too_short").inc()
        return StepResult(Outcome.VOICEMAIL_EMPTY)
    plan = ctx.plan
    message = VoicemailMessage(
        uuid=ctx.record.uuid, number=plan.number, caller=plan.caller,
        caller_name=ctx.call.caller_name, email=vm.email, path=path,
        seconds=round(seconds, 2), local_time=plan.local_time.isoformat())
    ctx.services.voicemail_sink.submit(message)
    metrics.VOICEMAILS.labels("handed_over").inc()
    log.info("voicemail handed over", fields={"path": path, "seconds": round(seconds, 2),
                                              "email": list(vm.email)})
    return StepResult(Outcome.VOICEMAIL, voicemail=path)
